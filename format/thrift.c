/*
 * format/thrift.c — the Thrift compact protocol (see thrift.h).
 *
 * Wire format, from the Thrift compact-protocol specification:
 *   - integers: i16/i32/i64 zigzag then ULEB128; i8 one byte;
 *   - binary/string: ULEB128 length, then the bytes;
 *   - field header: (delta << 4 | type) when the id grows by 1..15 from the
 *     previous field of the same struct, else (type) then the id as zigzag
 *     varint; a bool field carries its value in the type (1 true, 2 false);
 *   - struct: fields, then a stop byte 0;
 *   - list/set: (n << 4 | elem) for n < 15, else (0xf0 | elem) then n as
 *     varint; bool elements are one byte (1 true; 0 or 2 false).
 *
 * Invariants of the reader:
 *   1. no read outside [start, end): every length and count is checked
 *      against the bytes left before it is used;
 *   2. nesting deeper than THRIFT_MAX_DEPTH fails instead of recursing;
 *   3. failures are sticky: after the first one every call returns a zero
 *      value, thrift_r_field() returns false and loops end, so a decoder
 *      checks thrift_r_failed() once when it is done;
 *   4. a list of n elements needs at least n bytes left (every element takes
 *      one byte or more), so a count can never drive a huge allocation.
 * One thread per cursor; no global state.
 */
#include "format/thrift.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer ------------------------------------------------------------- */

void thrift_put_uvarint(strata_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	int n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	strata_buf_append(b, tmp, (size_t)n);
}

void thrift_w_init(thrift_w *w, strata_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->depth = -1;
}

void thrift_w_struct_begin(thrift_w *w)
{
	w->depth++;
	if (w->depth >= THRIFT_MAX_DEPTH)
		abort(); /* programming error: our own structures are shallow */
	w->last_id[w->depth] = 0;
}

void thrift_w_struct_end(thrift_w *w)
{
	strata_buf_putc(w->out, THRIFT_STOP);
	w->depth--;
}

static void w_field(thrift_w *w, int16_t id, uint8_t type)
{
	int16_t last = w->last_id[w->depth];
	if (id > last && id - last <= 15) {
		strata_buf_putc(w->out, (uint8_t)((id - last) << 4 | type));
	} else {
		strata_buf_putc(w->out, type);
		thrift_put_uvarint(w->out, thrift_zigzag64(id));
	}
	w->last_id[w->depth] = id;
}

void thrift_w_field_struct(thrift_w *w, int16_t id)
{
	w_field(w, id, THRIFT_STRUCT);
	thrift_w_struct_begin(w);
}

void thrift_w_bool(thrift_w *w, int16_t id, bool v)
{
	w_field(w, id, v ? THRIFT_TRUE : THRIFT_FALSE);
}

void thrift_w_i8(thrift_w *w, int16_t id, int8_t v)
{
	w_field(w, id, THRIFT_I8);
	strata_buf_putc(w->out, (uint8_t)v);
}

void thrift_w_i16(thrift_w *w, int16_t id, int16_t v)
{
	w_field(w, id, THRIFT_I16);
	thrift_put_uvarint(w->out, thrift_zigzag64(v));
}

void thrift_w_i32(thrift_w *w, int16_t id, int32_t v)
{
	w_field(w, id, THRIFT_I32);
	thrift_put_uvarint(w->out, thrift_zigzag64(v));
}

void thrift_w_i64(thrift_w *w, int16_t id, int64_t v)
{
	w_field(w, id, THRIFT_I64);
	thrift_put_uvarint(w->out, thrift_zigzag64(v));
}

void thrift_w_binary(thrift_w *w, int16_t id, const void *p, size_t n)
{
	w_field(w, id, THRIFT_BINARY);
	thrift_w_elem_binary(w, p, n);
}

void thrift_w_string(thrift_w *w, int16_t id, const char *s)
{
	thrift_w_binary(w, id, s, strlen(s));
}

void thrift_w_field_list(thrift_w *w, int16_t id, uint8_t elem, uint32_t n)
{
	w_field(w, id, THRIFT_LIST);
	if (n < 15) {
		strata_buf_putc(w->out, (uint8_t)(n << 4 | elem));
	} else {
		strata_buf_putc(w->out, (uint8_t)(0xf0 | elem));
		thrift_put_uvarint(w->out, n);
	}
}

void thrift_w_elem_bool(thrift_w *w, bool v)
{
	strata_buf_putc(w->out, v ? 1 : 2);
}

void thrift_w_elem_i32(thrift_w *w, int32_t v)
{
	thrift_put_uvarint(w->out, thrift_zigzag64(v));
}

void thrift_w_elem_i64(thrift_w *w, int64_t v)
{
	thrift_put_uvarint(w->out, thrift_zigzag64(v));
}

void thrift_w_elem_binary(thrift_w *w, const void *p, size_t n)
{
	thrift_put_uvarint(w->out, n);
	if (n)
		strata_buf_append(w->out, p, n);
}

/* ---- reader ------------------------------------------------------------- */

void thrift_r_init(thrift_r *r, const void *p, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->start = r->p = p;
	r->end = r->p + n;
	r->depth = -1;
}

void thrift_r_fail(thrift_r *r, const char *fmt, ...)
{
	if (r->is_failed)
		return;
	r->is_failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->p = r->end; /* invariant 3: nothing more is read */
}

/* A failure caused by the input ending early (a longer window may parse). */
#define r_fail_trunc(r, ...)                                   \
	do {                                                   \
		if (!(r)->is_failed)                           \
			(r)->is_truncated = true;              \
		thrift_r_fail((r), __VA_ARGS__);               \
	} while (0)

static uint8_t r_byte(thrift_r *r)
{
	if (r->p >= r->end) {
		r_fail_trunc(r, "truncated at byte %zu", thrift_r_pos(r));
		return 0;
	}
	return *r->p++;
}

uint64_t thrift_r_uvarint(thrift_r *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (r->p >= r->end) {
			r_fail_trunc(r, "truncated varint at byte %zu", thrift_r_pos(r));
			return 0;
		}
		uint8_t b = *r->p++;
		if (shift == 63 && b > 1) {
			thrift_r_fail(r, "varint overflows 64 bits at byte %zu", thrift_r_pos(r));
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	thrift_r_fail(r, "varint longer than 10 bytes at byte %zu", thrift_r_pos(r));
	return 0;
}

void thrift_r_struct_begin(thrift_r *r)
{
	/* invariant 2 */
	if (r->depth + 1 >= THRIFT_MAX_DEPTH) {
		thrift_r_fail(r, "structures nested deeper than %d", THRIFT_MAX_DEPTH);
		return;
	}
	r->depth++;
	r->last_id[r->depth] = 0;
}

void thrift_r_struct_end(thrift_r *r)
{
	if (r->depth >= 0)
		r->depth--;
}

bool thrift_r_field(thrift_r *r, uint8_t *type, int16_t *id)
{
	if (r->is_failed || r->depth < 0)
		return false;
	uint8_t b = r_byte(r);
	if (r->is_failed || b == THRIFT_STOP)
		return false;
	uint8_t t = b & 0x0f;
	int delta = b >> 4;
	int64_t fid;
	if (delta) {
		fid = (int64_t)r->last_id[r->depth] + delta;
	} else {
		fid = thrift_unzigzag64(thrift_r_uvarint(r));
	}
	if (r->is_failed)
		return false;
	if (t == THRIFT_STOP || t > THRIFT_UUID) {
		thrift_r_fail(r, "unknown field type %u at byte %zu", t, thrift_r_pos(r));
		return false;
	}
	if (fid < INT16_MIN || fid > INT16_MAX) {
		thrift_r_fail(r, "field id %lld out of range at byte %zu", (long long)fid,
			      thrift_r_pos(r));
		return false;
	}
	r->last_id[r->depth] = (int16_t)fid;
	*type = t;
	*id = (int16_t)fid;
	return true;
}

bool thrift_r_expect(thrift_r *r, uint8_t type, uint8_t want, const char *what)
{
	if (r->is_failed)
		return false;
	bool ok = type == want ||
		  ((want == THRIFT_TRUE || want == THRIFT_FALSE) &&
		   (type == THRIFT_TRUE || type == THRIFT_FALSE));
	if (!ok) {
		thrift_r_fail(r, "%s has wire type %u, expected %u", what, type, want);
		return false;
	}
	return true;
}

bool thrift_r_bool(thrift_r *r, uint8_t type, const char *what)
{
	if (!thrift_r_expect(r, type, THRIFT_TRUE, what))
		return false;
	return type == THRIFT_TRUE;
}

int8_t thrift_r_i8(thrift_r *r, uint8_t type, const char *what)
{
	if (!thrift_r_expect(r, type, THRIFT_I8, what))
		return 0;
	return (int8_t)r_byte(r);
}

static int64_t r_zigzag(thrift_r *r, int bits, const char *what)
{
	int64_t v = thrift_unzigzag64(thrift_r_uvarint(r));
	if (bits == 32 && (v < INT32_MIN || v > INT32_MAX)) {
		thrift_r_fail(r, "%s: value %lld does not fit in 32 bits", what, (long long)v);
		return 0;
	}
	return v;
}

int32_t thrift_r_i32(thrift_r *r, uint8_t type, const char *what)
{
	/* i16 and i8 widen losslessly; accept them as writers differ */
	if (type == THRIFT_I16) {
		int64_t v = r_zigzag(r, 32, what);
		if (v < INT16_MIN || v > INT16_MAX) {
			thrift_r_fail(r, "%s: i16 value %lld out of range", what, (long long)v);
			return 0;
		}
		return (int32_t)v;
	}
	if (type == THRIFT_I8)
		return thrift_r_i8(r, type, what);
	if (!thrift_r_expect(r, type, THRIFT_I32, what))
		return 0;
	return (int32_t)r_zigzag(r, 32, what);
}

int64_t thrift_r_i64(thrift_r *r, uint8_t type, const char *what)
{
	if (type == THRIFT_I32 || type == THRIFT_I16 || type == THRIFT_I8)
		return thrift_r_i32(r, type, what);
	if (!thrift_r_expect(r, type, THRIFT_I64, what))
		return 0;
	return r_zigzag(r, 64, what);
}

const uint8_t *thrift_r_elem_binary(thrift_r *r, uint32_t *len)
{
	*len = 0;
	uint64_t n = thrift_r_uvarint(r);
	if (r->is_failed)
		return NULL;
	/* invariant 1 */
	if (n > (uint64_t)(r->end - r->p)) {
		r_fail_trunc(r, "binary of %llu bytes at byte %zu runs past the end (%zu left)",
			      (unsigned long long)n, thrift_r_pos(r), (size_t)(r->end - r->p));
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	*len = (uint32_t)n;
	return p;
}

const uint8_t *thrift_r_binary(thrift_r *r, uint8_t type, const char *what, uint32_t *len)
{
	*len = 0;
	if (!thrift_r_expect(r, type, THRIFT_BINARY, what))
		return NULL;
	return thrift_r_elem_binary(r, len);
}

static uint32_t r_list_header(thrift_r *r, uint8_t *elem)
{
	uint8_t b = r_byte(r);
	uint64_t n = b >> 4;
	*elem = b & 0x0f;
	if (n == 15)
		n = thrift_r_uvarint(r);
	if (r->is_failed)
		return 0;
	/* invariant 4 */
	if (n > (uint64_t)(r->end - r->p) || n > INT32_MAX) {
		r_fail_trunc(r, "list of %llu elements at byte %zu cannot fit in %zu bytes",
			      (unsigned long long)n, thrift_r_pos(r), (size_t)(r->end - r->p));
		return 0;
	}
	return (uint32_t)n;
}

uint32_t thrift_r_list(thrift_r *r, uint8_t type, uint8_t want_elem, const char *what)
{
	if (!thrift_r_expect(r, type, THRIFT_LIST, what))
		return 0;
	uint8_t elem;
	uint32_t n = r_list_header(r, &elem);
	if (r->is_failed)
		return 0;
	bool ok = elem == want_elem ||
		  (want_elem == THRIFT_TRUE && elem == THRIFT_FALSE) ||
		  (want_elem == THRIFT_I64 && (elem == THRIFT_I32 || elem == THRIFT_I16)) ||
		  (want_elem == THRIFT_I32 && elem == THRIFT_I16);
	if (n > 0 && !ok) {
		thrift_r_fail(r, "%s: list elements have wire type %u, expected %u", what, elem,
			      want_elem);
		return 0;
	}
	return n;
}

bool thrift_r_elem_bool(thrift_r *r)
{
	uint8_t b = r_byte(r);
	if (b > 2)
		thrift_r_fail(r, "bool list element %u at byte %zu", b, thrift_r_pos(r));
	return b == 1;
}

int32_t thrift_r_elem_i32(thrift_r *r)
{
	return (int32_t)r_zigzag(r, 32, "list element");
}

int64_t thrift_r_elem_i64(thrift_r *r)
{
	return r_zigzag(r, 64, "list element");
}

static void r_skip_depth(thrift_r *r, uint8_t type, int depth)
{
	if (r->is_failed)
		return;
	if (depth >= THRIFT_MAX_DEPTH) {
		thrift_r_fail(r, "values nested deeper than %d", THRIFT_MAX_DEPTH);
		return;
	}
	switch (type) {
	case THRIFT_TRUE:
	case THRIFT_FALSE:
		return; /* field bools carry their value in the header */
	case THRIFT_I8:
		r_byte(r);
		return;
	case THRIFT_I16:
	case THRIFT_I32:
	case THRIFT_I64:
		thrift_r_uvarint(r);
		return;
	case THRIFT_DOUBLE:
	case THRIFT_UUID: {
		size_t n = type == THRIFT_DOUBLE ? 8 : 16;
		if ((size_t)(r->end - r->p) < n) {
			r_fail_trunc(r, "truncated at byte %zu", thrift_r_pos(r));
			return;
		}
		r->p += n;
		return;
	}
	case THRIFT_BINARY: {
		uint32_t len;
		thrift_r_elem_binary(r, &len);
		return;
	}
	case THRIFT_LIST:
	case THRIFT_SET: {
		uint8_t elem;
		uint32_t n = r_list_header(r, &elem);
		if (n && (elem == THRIFT_STOP || elem > THRIFT_UUID)) {
			thrift_r_fail(r, "unknown list element type %u", elem);
			return;
		}
		for (uint32_t i = 0; i < n && !r->is_failed; i++) {
			if (elem == THRIFT_TRUE || elem == THRIFT_FALSE)
				thrift_r_elem_bool(r);
			else
				r_skip_depth(r, elem, depth + 1);
		}
		return;
	}
	case THRIFT_MAP: {
		uint64_t n = thrift_r_uvarint(r);
		if (n == 0 || r->is_failed)
			return;
		uint8_t kv = r_byte(r);
		uint8_t kt = kv >> 4, vt = kv & 0x0f;
		if (n > (uint64_t)(r->end - r->p) / 2 || kt == 0 || vt == 0 || kt > THRIFT_UUID ||
		    vt > THRIFT_UUID) {
			thrift_r_fail(r, "malformed map of %llu entries", (unsigned long long)n);
			return;
		}
		for (uint64_t i = 0; i < n && !r->is_failed; i++) {
			for (int k = 0; k < 2; k++) {
				uint8_t t = k ? vt : kt;
				if (t == THRIFT_TRUE || t == THRIFT_FALSE)
					thrift_r_elem_bool(r);
				else
					r_skip_depth(r, t, depth + 1);
			}
		}
		return;
	}
	case THRIFT_STRUCT: {
		/* a nested struct has its own field-id context */
		thrift_r_struct_begin(r);
		uint8_t t;
		int16_t id;
		while (thrift_r_field(r, &t, &id))
			r_skip_depth(r, t, depth + 1);
		thrift_r_struct_end(r);
		return;
	}
	default:
		thrift_r_fail(r, "unknown wire type %u", type);
	}
}

void thrift_r_skip(thrift_r *r, uint8_t type)
{
	r_skip_depth(r, type, r->depth < 0 ? 0 : r->depth);
}
