/*
 * format/thrift.h — the Thrift compact protocol, just enough for Parquet's
 * footer, page headers and page indexes.  Internal to format/.
 *
 * Writing appends to a strata_buf and cannot fail (buffers abort on OOM).
 * Reading is a cursor over bytes in memory with a sticky failure: after the
 * first problem every read returns zero values and thrift_r_failed() is true,
 * so decoders check once per struct instead of after every call.  The reader
 * never reads outside [p, end), bounds nesting depth, and rejects list sizes
 * that cannot fit in the remaining bytes, so hostile input costs at most
 * O(input) time and memory.
 */
#ifndef STRATA_THRIFT_H
#define STRATA_THRIFT_H

#include "core/core.h"

/* Compact-protocol wire types (field headers). */
enum {
	THRIFT_STOP = 0,
	THRIFT_TRUE = 1, /* bool field with value true; also "bool" in lists */
	THRIFT_FALSE = 2,
	THRIFT_I8 = 3,
	THRIFT_I16 = 4,
	THRIFT_I32 = 5,
	THRIFT_I64 = 6,
	THRIFT_DOUBLE = 7,
	THRIFT_BINARY = 8,
	THRIFT_LIST = 9,
	THRIFT_SET = 10,
	THRIFT_MAP = 11,
	THRIFT_STRUCT = 12,
	THRIFT_UUID = 13,
};

/* Deepest struct/list nesting accepted (Parquet needs 6). */
#define THRIFT_MAX_DEPTH 32

/* ---- writer ----------------------------------------------------------- */

typedef struct thrift_w {
	strata_buf *out;
	int depth;
	int16_t last_id[THRIFT_MAX_DEPTH];
} thrift_w;

void thrift_w_init(thrift_w *w, strata_buf *out);
/* Begin the top-level struct (or a struct element of a list). */
void thrift_w_struct_begin(thrift_w *w);
/* Write the stop field and leave the struct. */
void thrift_w_struct_end(thrift_w *w);
/* Fields of the current struct; ids must increase within a struct. */
void thrift_w_field_struct(thrift_w *w, int16_t id); /* then fields, then _end */
void thrift_w_bool(thrift_w *w, int16_t id, bool v);
void thrift_w_i8(thrift_w *w, int16_t id, int8_t v);
void thrift_w_i16(thrift_w *w, int16_t id, int16_t v);
void thrift_w_i32(thrift_w *w, int16_t id, int32_t v);
void thrift_w_i64(thrift_w *w, int16_t id, int64_t v);
void thrift_w_binary(thrift_w *w, int16_t id, const void *p, size_t n);
void thrift_w_string(thrift_w *w, int16_t id, const char *s);
/* A list field header of n elements of wire type elem; then n elements. */
void thrift_w_field_list(thrift_w *w, int16_t id, uint8_t elem, uint32_t n);
/* List elements. */
void thrift_w_elem_bool(thrift_w *w, bool v);
void thrift_w_elem_i32(thrift_w *w, int32_t v);
void thrift_w_elem_i64(thrift_w *w, int64_t v);
void thrift_w_elem_binary(thrift_w *w, const void *p, size_t n);

/* Raw helpers shared with the Parquet encodings. */
void thrift_put_uvarint(strata_buf *b, uint64_t v);
static inline uint64_t thrift_zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t thrift_unzigzag64(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- reader ----------------------------------------------------------- */

typedef struct thrift_r {
	const uint8_t *start;
	const uint8_t *p;
	const uint8_t *end;
	int depth;
	int16_t last_id[THRIFT_MAX_DEPTH];
	bool is_failed;
	bool is_truncated; /* the first failure was running out of input */
	/* Budget for what a decoder builds from the input (0: none): decoders
	 * add their allocations to alloc_used and fail past alloc_limit, so a
	 * small hostile input cannot expand into a huge structure. */
	size_t alloc_limit;
	size_t alloc_used;
	char msg[160];
} thrift_r;

void thrift_r_init(thrift_r *r, const void *p, size_t n);
/* Record the first failure (later ones are ignored). */
void thrift_r_fail(thrift_r *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool thrift_r_failed(const thrift_r *r)
{
	return r->is_failed;
}
/* Bytes consumed so far. */
static inline size_t thrift_r_pos(const thrift_r *r)
{
	return (size_t)(r->p - r->start);
}

/* Enter a struct (the top level, a struct field or a struct list element). */
void thrift_r_struct_begin(thrift_r *r);
void thrift_r_struct_end(thrift_r *r);
/* Next field of the current struct: returns true with *type and *id, or
 * false at the stop field or after a failure (then leave the struct with
 * thrift_r_struct_end()). */
bool thrift_r_field(thrift_r *r, uint8_t *type, int16_t *id);
/* Field values; `type` is the wire type the header announced and `what`
 * names the field for the message when it is not the expected one. */
bool thrift_r_bool(thrift_r *r, uint8_t type, const char *what);
int32_t thrift_r_i32(thrift_r *r, uint8_t type, const char *what);
int64_t thrift_r_i64(thrift_r *r, uint8_t type, const char *what);
int8_t thrift_r_i8(thrift_r *r, uint8_t type, const char *what);
/* Binary/string: returns a pointer into the input (lent) and its length. */
const uint8_t *thrift_r_binary(thrift_r *r, uint8_t type, const char *what, uint32_t *len);
/* Check a struct field's type before thrift_r_struct_begin(). */
bool thrift_r_expect(thrift_r *r, uint8_t type, uint8_t want, const char *what);
/* A list field: checks the field type is LIST, reads the header, checks the
 * element type is want_elem and that n elements can fit; returns n (0 on
 * failure). */
uint32_t thrift_r_list(thrift_r *r, uint8_t type, uint8_t want_elem, const char *what);
/* List elements. */
bool thrift_r_elem_bool(thrift_r *r);
int32_t thrift_r_elem_i32(thrift_r *r);
int64_t thrift_r_elem_i64(thrift_r *r);
const uint8_t *thrift_r_elem_binary(thrift_r *r, uint32_t *len);
/* Skip a value of wire type `type` (unknown fields). */
void thrift_r_skip(thrift_r *r, uint8_t type);
/* Read an unsigned LEB128 varint of at most 10 bytes. */
uint64_t thrift_r_uvarint(thrift_r *r);

#endif
