/*
 * format/record.c — records, their JSON form, and the key encoding.
 *
 * JSON form of a value (input and output):
 *   BIGINT, INT       JSON integer (INT range-checked)
 *   DOUBLE, FLOAT     JSON number; "NaN", "Infinity", "-Infinity" as strings
 *   BOOLEAN           true / false
 *   STRING            JSON string
 *   BINARY            base64 string (RFC 4648, with padding)
 *   TIMESTAMP         "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC; 'T' and a final
 *                     'Z' accepted) or an integer of microseconds since the
 *                     epoch; output always as the string with 6 digits.
 *                     Input is limited to the years 0001 to 9999, which the
 *                     string form can spell: what a scan prints, a write
 *                     takes back.
 *   DATE              "YYYY-MM-DD" (years 0001 to 9999) or an integer of
 *                     days since 1970-01-01; output always the string.
 *   DECIMAL(p,s)      a JSON string ("-12.34", "1e3") or a JSON number, read
 *                     from its digits as written, never through a double
 *                     (strata_json_parse keeps the text of every top-level
 *                     number jansson would turn into a double or refuse:
 *                     see "Exact numbers" below); more fraction digits
 *                     than s are an error unless they are zeros, more than
 *                     p digits in all are out of range.  Output: a JSON
 *                     string with exactly s fraction digits ("-12.30").
 *   FLOAT input must round to a finite FLOAT (a larger finite number is an
 *   error, not a silent infinity; 3.4028235e+38, what FLT_MAX prints as, is
 *   FLT_MAX).  NaN reads back as the one quiet NaN (its sign and payload
 *   are not kept); -0.0 prints as "-0.0" so it stays negative.
 *
 * Invariants:
 *   1. a JSON object with a key given twice is refused, naming the key
 *      (strata_json_parse), never read last-wins;
 *   2. JSON output has no raw control character: C0, DEL, the C1 controls
 *      and the bidi overrides (U+202A..E, U+2066..9) are \u escapes;
 *   3. every FLOAT and DOUBLE but NaN's payload round-trips: what
 *      strata_value_to_json prints (the shortest decimal that reads back
 *      through strtod, then to float for FLOAT), value_from_json reads back
 *      bit for bit.
 *
 * Exact numbers.  jansson reads a number with a fraction or an exponent
 * into a double and refuses an integer beyond 64 bits, so before parsing,
 * strata_json_parse rewrites each such number that is a member value of the
 * top-level object (a row's columns: rows are flat) into the object
 * {"$exact":"<its text>"}; value_from_json reads that as the number it
 * stands for: DECIMAL from the digits, DOUBLE and FLOAT through strtod as
 * jansson would have, integers as out of range.  Only texts that need it
 * are rewritten, and a parse error is reported against the original text.
 *
 * Key encoding (FoundationDB tuple-layer style, without type codes since the
 * schema fixes the types): see strata_key_encode() in format.h.  Invariant:
 * for keys a, b of one schema, memcmp order of enc(a), enc(b) equals the
 * lexicographic order of the key columns (integers numerically, floats by
 * IEEE total order, strings and bytes bytewise).
 */
#include "format/format.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static bool type_is_bytes(strata_type t)
{
	return t == STRATA_T_STRING || t == STRATA_T_BYTES;
}

/* ---- rows --------------------------------------------------------------- */

void strata_row_copy(strata_arena *a, const strata_schema *s,
		     const strata_row *src, strata_row *dst)
{
	dst->seq = src->seq;
	dst->op = src->op;
	dst->ncols = src->ncols;
	dst->vals = strata_arena_alloc(a, sizeof(strata_value) * (src->ncols ? src->ncols : 1));
	memcpy(dst->vals, src->vals, sizeof(strata_value) * src->ncols);
	for (uint32_t i = 0; i < src->ncols && i < s->ncols; i++) {
		strata_value *v = &dst->vals[i];
		if (!v->is_null && type_is_bytes(s->cols[i].type))
			v->v.s.ptr = strata_arena_dup(a, v->v.s.ptr, v->v.s.len);
	}
}

bool strata_value_eq(strata_type t, const strata_value *a, const strata_value *b)
{
	if (a->is_null || b->is_null)
		return a->is_null == b->is_null;
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return a->v.i64 == b->v.i64;
	case STRATA_T_INT:
	case STRATA_T_DATE:
		return a->v.i32 == b->v.i32;
	case STRATA_T_DECIMAL:
		return a->v.dec.lo == b->v.dec.lo && a->v.dec.hi == b->v.dec.hi;
	case STRATA_T_DOUBLE:
		return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
	case STRATA_T_FLOAT:
		return memcmp(&a->v.f32, &b->v.f32, sizeof(float)) == 0;
	case STRATA_T_BOOL:
		return a->v.b == b->v.b;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		return a->v.s.len == b->v.s.len &&
		       (a->v.s.len == 0 || memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0);
	}
	return false;
}

/* ---- base64 -------------------------------------------------------------- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const uint8_t *p, size_t n, strata_buf *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		strata_buf_putc(out, (uint8_t)b64chars[(v >> 18) & 63]);
		strata_buf_putc(out, (uint8_t)b64chars[(v >> 12) & 63]);
		strata_buf_putc(out, i + 1 < n ? (uint8_t)b64chars[(v >> 6) & 63] : '=');
		strata_buf_putc(out, i + 2 < n ? (uint8_t)b64chars[v & 63] : '=');
	}
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode base64 into arena memory; returns 0 or -1 if malformed. */
static int b64_decode(const char *s, size_t n, strata_arena *a, const uint8_t **out,
		      uint32_t *out_len)
{
	if (n % 4 != 0)
		return -1;
	uint8_t *buf = strata_arena_alloc(a, n / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = s[i + j];
			if (c == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
			} else {
				if (pad)
					return -1;
				v[j] = b64_val(c);
				if (v[j] < 0)
					return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		buf[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			buf[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			buf[o++] = (uint8_t)w;
	}
	*out = buf;
	*out_len = (uint32_t)o;
	return 0;
}

/* ---- timestamps ---------------------------------------------------------- */

/* Parse "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z]" as UTC; 0 or -1. */
/* The TIMESTAMP values the string form can spell: 0001-01-01 00:00:00 to
 * 9999-12-31 23:59:59.999999. */
#define TS_MIN_US (-62135596800000000LL)
#define TS_MAX_US (253402300799999999LL)

static int ts_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	const char *p = s + n;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			if (digits < 6) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (digits == 0)
			return -1;
		while (digits++ < 6)
			frac *= 10;
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -1;
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || y > 9999 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
		return -1;
	/* timegm would silently turn 2024-02-30 into 2024-03-01 */
	bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap))
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	*out = (int64_t)t * 1000000 + frac;
	return *out >= TS_MIN_US && *out <= TS_MAX_US ? 0 : -1; /* 9999-12-31 23:59:60 */
}

int strata_timestamp_parse(const char *s, int64_t *out_us)
{
	return ts_parse(s, out_us) == 0 ? 0 : STRATA_EINVAL;
}

void strata_timestamp_format(int64_t us, strata_buf *out)
{
	int64_t sec = us / 1000000;
	int64_t frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		sec -= 1;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	strata_buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900,
			  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			  (long long)frac);
}

/* ---- dates ----------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's civil-from-days algorithms: exact for every year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* The DATE values the string form can spell: 0001-01-01 to 9999-12-31. */
#define DATE_MIN_DAYS (-719162)
#define DATE_MAX_DAYS (2932896)

int strata_date_parse(const char *s, int32_t *out_days)
{
	int y, mo, d, n = 0;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 ||
	    s[4] != '-' || s[7] != '-')
		return STRATA_EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return STRATA_EINVAL;
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap))
		return STRATA_EINVAL;
	*out_days = (int32_t)days_from_civil(y, mo, d);
	return 0;
}

void strata_date_format(int32_t days, strata_buf *out)
{
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	strata_buf_printf(out, "%04lld-%02d-%02d", (long long)y, m, d);
}

/* ---- decimals -------------------------------------------------------------- */

strata_i128 strata_dec_pow10(int p)
{
	strata_i128 x = 1;
	for (int i = 0; i < p; i++)
		x *= 10;
	return x;
}

int strata_dec_parse(const strata_column *c, const char *text, size_t len, strata_i128 *out,
		     strata_err *err)
{
	const char *p = text, *end = text + len;
	bool is_neg = false;
	char digits[STRATA_DECIMAL_MAX_PRECISION + 1];
	int nd = 0;      /* significant digits kept (leading zeros dropped) */
	int ndrop = 0;   /* digits beyond what a DECIMAL could hold, all zero so far */
	bool dropped_nonzero = false;
	long nfrac = 0;  /* digits after the point */
	bool has_digit = false;
	if (p < end && (*p == '-' || *p == '+'))
		is_neg = *p++ == '-';
	for (int part = 0; part < 2; part++) {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			has_digit = true;
			if (part)
				nfrac++;
			if (nd == 0 && *p == '0')
				continue;
			if (nd < STRATA_DECIMAL_MAX_PRECISION && ndrop == 0) {
				digits[nd++] = *p;
			} else {
				ndrop++;
				dropped_nonzero |= *p != '0';
			}
		}
		if (part == 0 && p < end && *p == '.')
			p++;
		else
			break;
	}
	long exp = 0;
	if (has_digit && p < end && (*p == 'e' || *p == 'E')) {
		p++;
		bool eneg = false;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end || *p < '0' || *p > '9')
			goto malformed;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (exp < 100000)
				exp = exp * 10 + (*p - '0');
		if (eneg)
			exp = -exp;
	}
	if (!has_digit || p != end)
		goto malformed;
	/* value = digits[0..nd) * 10^(ndrop + exp - nfrac); unscaled: * 10^scale */
	long shift = ndrop + exp - nfrac + c->scale;
	int keep = nd;
	if (dropped_nonzero && shift < ndrop)
		goto too_fine_or_big;
	if (shift < 0) {
		/* trailing digits below the scale must all be zero */
		for (long i = 0; i < -shift; i++) {
			if (keep == 0)
				break;
			if (digits[keep - 1] != '0')
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": \"%.60s\" has more than %u fraction "
						      "digits for DECIMAL(%u,%u)",
						      c->name, text, c->scale, c->precision, c->scale);
			keep--;
		}
		shift = 0;
	}
	if (keep == 0) {
		*out = 0;
		return 0;
	}
	if ((long)keep + shift > c->precision)
		goto too_fine_or_big;
	strata_i128 x = 0;
	for (int i = 0; i < keep; i++)
		x = x * 10 + (digits[i] - '0');
	x *= strata_dec_pow10((int)shift);
	*out = is_neg ? -x : x;
	return 0;
too_fine_or_big:
	return strata_err_set(err, STRATA_EINVAL,
			      "column \"%s\": \"%.60s\" is out of range for DECIMAL(%u,%u) (at most "
			      "%u digits, %u after the point)",
			      c->name, text, c->precision, c->scale, c->precision, c->scale);
malformed:
	return strata_err_set(err, STRATA_EINVAL,
			      "column \"%s\": \"%.60s\" is not a decimal number (DECIMAL(%u,%u) wants "
			      "digits with an optional sign, point and exponent)",
			      c->name, text, c->precision, c->scale);
}

void strata_dec_format(strata_i128 x, int scale, strata_buf *out)
{
	char tmp[48];
	int n = 0;
	unsigned __int128 u = x < 0 ? -(unsigned __int128)x : (unsigned __int128)x;
	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	while (n <= scale)
		tmp[n++] = '0';
	if (x < 0)
		strata_buf_putc(out, '-');
	for (int i = n - 1; i >= 0; i--) {
		strata_buf_putc(out, (uint8_t)tmp[i]);
		if (i == scale && scale > 0)
			strata_buf_putc(out, '.');
	}
}

/* ---- JSON ---------------------------------------------------------------- */

/* The text of an exact number (see "Exact numbers" above), or NULL. */
static const char *exact_text(json_t *j)
{
	if (!json_is_object(j) || json_object_size(j) != 1)
		return NULL;
	json_t *t = json_object_get(j, "$exact");
	return json_is_string(t) ? json_string_value(t) : NULL;
}

/* 2^128 - 2^103: the midpoint between FLT_MAX and 2^128; a double from here
 * up rounds to infinity as a float (to even), one below it to FLT_MAX at
 * most. */
#define FLOAT_ROUNDS_TO_INF 0x1.ffffffp+127

static int value_from_json(const strata_column *c, json_t *j, strata_arena *a,
			   strata_value *v, strata_err *err)
{
	memset(v, 0, sizeof(*v));
	if (json_is_null(j)) {
		v->is_null = true;
		return 0;
	}
	const char *exact = exact_text(j);
	switch (c->type) {
	case STRATA_T_LONG:
		if (!json_is_integer(j))
			goto wrong;
		v->v.i64 = (int64_t)json_integer_value(j);
		return 0;
	case STRATA_T_DATE:
		if (json_is_integer(j)) {
			json_int_t x = json_integer_value(j);
			if (x < DATE_MIN_DAYS || x > DATE_MAX_DAYS)
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": DATE %lld (days) is outside the "
						      "years 0001 to 9999",
						      c->name, (long long)x);
			v->v.i32 = (int32_t)x;
			return 0;
		}
		if (json_is_string(j) && strata_date_parse(json_string_value(j), &v->v.i32) == 0)
			return 0;
		if (json_is_string(j))
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\": DATE wants \"YYYY-MM-DD\" (years 0001 to "
					      "9999) or days since 1970-01-01, got \"%.40s\"",
					      c->name, json_string_value(j));
		goto wrong;
	case STRATA_T_DECIMAL: {
		const char *text = exact ? exact : json_is_string(j) ? json_string_value(j) : NULL;
		char ibuf[32];
		if (!text && json_is_integer(j)) {
			snprintf(ibuf, sizeof(ibuf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
			text = ibuf;
		}
		if (!text) {
			if (json_is_real(j))
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": DECIMAL values with a fraction "
						      "must come as JSON text strata parses itself "
						      "(give it as a string, e.g. \"%.17g\")",
						      c->name, json_real_value(j));
			goto wrong;
		}
		strata_i128 x;
		int rc = strata_dec_parse(c, text, strlen(text), &x, err);
		if (rc)
			return rc;
		strata_dec_set(v, x);
		return 0;
	}
	case STRATA_T_INT: {
		if (!json_is_integer(j))
			goto wrong;
		json_int_t x = json_integer_value(j);
		if (x < INT32_MIN || x > INT32_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\": %lld is out of range for INT",
					      c->name, (long long)x);
		v->v.i32 = (int32_t)x;
		return 0;
	}
	case STRATA_T_DOUBLE:
	case STRATA_T_FLOAT: {
		double d;
		if (exact) {
			/* as jansson reads a real: an overflow is an error */
			errno = 0;
			d = strtod(exact, NULL);
			if (isinf(d) && errno == ERANGE)
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": %.60s is out of range for %s", c->name,
						      exact, strata_type_name(c->type));
		} else if (json_is_number(j)) {
			d = json_number_value(j);
		} else if (json_is_string(j)) {
			const char *s = json_string_value(j);
			if (strcmp(s, "NaN") == 0)
				d = NAN;
			else if (strcmp(s, "Infinity") == 0)
				d = INFINITY;
			else if (strcmp(s, "-Infinity") == 0)
				d = -INFINITY;
			else
				goto wrong;
		} else {
			goto wrong;
		}
		if (c->type == STRATA_T_DOUBLE) {
			v->v.f64 = d;
		} else {
			/* invariant 3: what rounds to FLT_MAX is FLT_MAX (the printed
			 * 3.40282347e+38 is above it); only what would round to
			 * infinity, from FLOAT_ROUNDS_TO_INF up, is refused (and
			 * converting it would be undefined) */
			if (isfinite(d) && fabs(d) >= FLOAT_ROUNDS_TO_INF)
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": %g is out of range for FLOAT "
						      "(largest 3.4028235e+38)",
						      c->name, d);
			v->v.f32 = (float)d;
		}
		return 0;
	}
	case STRATA_T_BOOL:
		if (!json_is_boolean(j))
			goto wrong;
		v->v.b = json_is_true(j);
		return 0;
	case STRATA_T_STRING: {
		if (!json_is_string(j))
			goto wrong;
		size_t n = json_string_length(j);
		if (n > STRATA_MAX_VALUE_BYTES)
			return strata_err_set(err, STRATA_ELIMIT,
					      "column \"%s\": value of %zu bytes exceeds %u",
					      c->name, n, STRATA_MAX_VALUE_BYTES);
		v->v.s.ptr = strata_arena_dup(a, json_string_value(j), n);
		v->v.s.len = (uint32_t)n;
		return 0;
	}
	case STRATA_T_BYTES: {
		if (!json_is_string(j))
			goto wrong;
		size_t n = json_string_length(j);
		if (n > STRATA_MAX_VALUE_BYTES / 3 * 4)
			return strata_err_set(err, STRATA_ELIMIT,
					      "column \"%s\": value exceeds %u bytes", c->name,
					      STRATA_MAX_VALUE_BYTES);
		if (b64_decode(json_string_value(j), n, a, &v->v.s.ptr, &v->v.s.len) != 0)
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\": BINARY values are base64 strings",
					      c->name);
		return 0;
	}
	case STRATA_T_TIMESTAMP:
		if (json_is_integer(j)) {
			v->v.i64 = (int64_t)json_integer_value(j);
			if (v->v.i64 < TS_MIN_US || v->v.i64 > TS_MAX_US)
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\": TIMESTAMP %lld (microseconds) is "
						      "outside the years 0001 to 9999",
						      c->name, (long long)v->v.i64);
			return 0;
		}
		if (json_is_string(j) && ts_parse(json_string_value(j), &v->v.i64) == 0)
			return 0;
		return strata_err_set(err, STRATA_EINVAL,
				      "column \"%s\": TIMESTAMP wants \"YYYY-MM-DD HH:MM:SS[.ffffff]\" "
				      "(years 0001 to 9999) or microseconds since the epoch",
				      c->name);
	}
wrong:
	if (exact && (c->type == STRATA_T_LONG || c->type == STRATA_T_INT) &&
	    !strpbrk(exact, ".eE"))
		return strata_err_set(err, STRATA_EINVAL, "column \"%s\": %.60s is out of range for %s",
				      c->name, exact, strata_type_name(c->type));
	return strata_err_set(err, STRATA_EINVAL, "column \"%s\" is %s, got a JSON %s",
			      c->name, strata_type_name(c->type),
			      exact ? "number" :
			      json_is_string(j) ? "string" :
			      json_is_integer(j) ? "integer" :
			      json_is_real(j) ? "number" :
			      json_is_boolean(j) ? "boolean" :
			      json_is_array(j) ? "array" : "object");
}

int strata_row_from_json(const strata_schema *s, json_t *obj, strata_arena *a,
			 strata_row *out, strata_err *err)
{
	if (!json_is_object(obj))
		return strata_err_set(err, STRATA_EINVAL, "a row must be a JSON object");
	out->seq = 0;
	out->op = STRATA_OP_UPSERT;
	out->ncols = s->ncols;
	out->vals = strata_arena_alloc(a, sizeof(strata_value) * (s->ncols ? s->ncols : 1));
	json_t *op = json_object_get(obj, "_op");
	if (op) {
		const char *o = json_is_string(op) ? json_string_value(op) : "";
		if (strcmp(o, "delete") == 0)
			out->op = STRATA_OP_DELETE;
		else if (strcmp(o, "upsert") != 0)
			return strata_err_set(err, STRATA_EINVAL,
					      "\"_op\" must be \"upsert\" or \"delete\"");
	}
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		if (strcmp(k, "_op") == 0)
			continue;
		if (strcmp(k, "_seq") == 0)
			return strata_err_set(err, STRATA_EINVAL,
					      "\"_seq\" is assigned by the commit and cannot be written");
		if (strata_schema_find(s, k) < 0)
			return strata_err_set(err, STRATA_EINVAL, "unknown column \"%.80s\"", k);
	}
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		json_t *j = json_object_get(obj, c->name);
		bool is_key = c->key_pos >= 0;
		if (out->op == STRATA_OP_DELETE && !is_key) {
			out->vals[i].is_null = true;
			continue;
		}
		if (!j) {
			if (is_key)
				return strata_err_set(err, STRATA_EINVAL,
						      "missing primary key column \"%s\"", c->name);
			if (!c->is_nullable)
				return strata_err_set(err, STRATA_EINVAL,
						      "missing NOT NULL column \"%s\"", c->name);
			out->vals[i].is_null = true;
			continue;
		}
		int rc = value_from_json(c, j, a, &out->vals[i], err);
		if (rc)
			return rc;
		if (out->vals[i].is_null && (is_key || !c->is_nullable))
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\" is NOT NULL, got null", c->name);
	}
	return 0;
}

/* Whether p[0..n) is one JSON number (RFC 8259: -?(0|[1-9][0-9]*)
 * (.[0-9]+)?([eE][+-]?[0-9]+)?): only those are rewritten, so malformed
 * JSON stays malformed for jansson to report. */
static bool json_number_ok(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0') {
		i++;
	} else if (i < n && p[i] >= '1' && p[i] <= '9') {
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && p[i] == '.') {
		size_t d = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

/* "Exact numbers": rewrite the top-level object's member values that are
 * numbers jansson would read as a double (a fraction or an exponent) or
 * refuse (an integer of more than 18 digits) into {"$exact":"text"}.
 * Returns false, leaving out alone, when there is none. */
static bool exact_rewrite(const char *text, size_t len, strata_buf *out)
{
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == len || text[i] != '{')
		return false;
	int depth = 0;
	bool is_str = false, changed = false;
	size_t copied = 0;
	for (; i < len; i++) {
		char ch = text[i];
		if (is_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				is_str = false;
			continue;
		}
		if (ch == '"') {
			is_str = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (depth == 1 && (ch == '-' || (ch >= '0' && ch <= '9'))) {
			size_t b = i;
			bool is_real = false;
			int ndig = 0;
			while (i < len && text[i] && strchr("+-0123456789.eE", text[i])) {
				is_real |= text[i] == '.' || text[i] == 'e' || text[i] == 'E';
				ndig += text[i] >= '0' && text[i] <= '9';
				i++;
			}
			if ((is_real || ndig > 18) && json_number_ok(text + b, i - b)) {
				strata_buf_append(out, text + copied, b - copied);
				strata_buf_printf(out, "{\"$exact\":\"%.*s\"}", (int)(i - b), text + b);
				copied = i;
				changed = true;
			}
			i--;
		}
	}
	if (changed)
		strata_buf_append(out, text + copied, len - copied);
	return changed;
}

int strata_json_parse(const char *text, size_t len, json_t **out, strata_err *err)
{
	json_error_t jerr;
	*out = NULL;
	strata_buf ex = {0};
	json_t *j = NULL;
	if (exact_rewrite(text, len, &ex))
		j = json_loadb((const char *)ex.data, ex.len, JSON_REJECT_DUPLICATES, &jerr);
	strata_buf_free(&ex);
	/* invariant 1: a key given twice is refused, never last-wins (the
	 * original text again on an error: its columns are the user's) */
	if (!j)
		j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		/* jansson says: duplicate object key near '"KEY"' */
		const char *near = strstr(jerr.text, "near '");
		const char *end = near ? strrchr(jerr.text, '\'') : NULL;
		if (json_error_code(&jerr) == json_error_duplicate_key && near && end > near + 6)
			return strata_err_set(err, STRATA_EINVAL,
					      "duplicate key %.*s at column %d: each column may "
					      "appear once in an object",
					      (int)(end - (near + 6)) > 200 ? 200 : (int)(end - (near + 6)),
					      near + 6, jerr.column);
		return strata_err_set(err, STRATA_EINVAL, "malformed JSON at column %d: %s",
				      jerr.column, jerr.text);
	}
	*out = j;
	return 0;
}

static void json_escape(const uint8_t *p, size_t n, strata_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	strata_buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		switch (c) {
		case '"': strata_buf_append(out, "\\\"", 2); break;
		case '\\': strata_buf_append(out, "\\\\", 2); break;
		case '\n': strata_buf_append(out, "\\n", 2); break;
		case '\r': strata_buf_append(out, "\\r", 2); break;
		case '\t': strata_buf_append(out, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				strata_buf_append(out, u, 6);
			} else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
				/* invariant 2: a C1 control (U+0080..U+009F) */
				char u[6] = {'\\', 'u', '0', '0', hex[p[i + 1] >> 4], hex[p[i + 1] & 15]};
				strata_buf_append(out, u, 6);
				i++;
			} else if (c == 0xe2 && i + 2 < n &&
				   ((p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae) ||
				    (p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9))) {
				/* invariant 2: a bidi override (U+202A..E, U+2066..9) */
				strata_buf_printf(out, "\\u20%x%x", p[i + 1] == 0x80 ? 2 : 6,
						  p[i + 2] & 15);
				i += 2;
			} else {
				strata_buf_putc(out, c);
			}
		}
	}
	strata_buf_putc(out, '"');
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double. */
static void double_shortest(double d, strata_buf *out)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (prec == 17 || strtod(tmp, NULL) == d)
			break;
	}
	strata_buf_append(out, tmp, strlen(tmp));
}

/* invariant 3: the shortest of %.6g .. %.9g that reads back, the way
 * value_from_json reads it (strtod, then to float), as the same float. */
static void float_shortest(float f, strata_buf *out)
{
	char tmp[40];
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)f);
		if (prec == 9 || (float)strtod(tmp, NULL) == f)
			break;
	}
	strata_buf_append(out, tmp, strlen(tmp));
}

static void double_to_json(double d, strata_buf *out)
{
	if (isnan(d))
		strata_buf_append(out, "\"NaN\"", 5);
	else if (isinf(d))
		strata_buf_printf(out, "\"%sInfinity\"", d < 0 ? "-" : "");
	else if (d == floor(d) && fabs(d) < 1e15)
		strata_buf_printf(out, "%.1f", d);
	else
		double_shortest(d, out);
}

void strata_value_to_json(strata_type t, const strata_value *v, strata_buf *out)
{
	if (v->is_null) {
		strata_buf_append(out, "null", 4);
		return;
	}
	switch (t) {
	case STRATA_T_LONG:
		strata_buf_printf(out, "%lld", (long long)v->v.i64);
		break;
	case STRATA_T_INT:
		strata_buf_printf(out, "%d", v->v.i32);
		break;
	case STRATA_T_DOUBLE:
		double_to_json(v->v.f64, out);
		break;
	case STRATA_T_FLOAT:
		if (isnan(v->v.f32) || isinf(v->v.f32))
			double_to_json(v->v.f32, out);
		else if (v->v.f32 == 0 && signbit(v->v.f32))
			strata_buf_append(out, "-0.0", 4); /* "-0" would read back as 0 */
		else
			float_shortest(v->v.f32, out);
		break;
	case STRATA_T_BOOL:
		strata_buf_printf(out, "%s", v->v.b ? "true" : "false");
		break;
	case STRATA_T_STRING:
		json_escape(v->v.s.ptr, v->v.s.len, out);
		break;
	case STRATA_T_BYTES:
		strata_buf_putc(out, '"');
		b64_encode(v->v.s.ptr, v->v.s.len, out);
		strata_buf_putc(out, '"');
		break;
	case STRATA_T_TIMESTAMP:
		strata_buf_putc(out, '"');
		strata_timestamp_format(v->v.i64, out);
		strata_buf_putc(out, '"');
		break;
	case STRATA_T_DATE:
		strata_buf_putc(out, '"');
		strata_date_format(v->v.i32, out);
		strata_buf_putc(out, '"');
		break;
	case STRATA_T_DECIMAL:
		/* the scale is the column's: strata_column_value_to_json */
		strata_buf_putc(out, '"');
		strata_dec_format(strata_dec_get(v), 0, out);
		strata_buf_putc(out, '"');
		break;
	}
}

void strata_value_to_text(strata_type t, const strata_value *v, strata_buf *out)
{
	if (v->is_null)
		return;
	switch (t) {
	case STRATA_T_STRING:
		strata_buf_append(out, v->v.s.ptr, v->v.s.len);
		break;
	case STRATA_T_BYTES:
		b64_encode(v->v.s.ptr, v->v.s.len, out);
		break;
	case STRATA_T_TIMESTAMP:
		strata_timestamp_format(v->v.i64, out);
		break;
	case STRATA_T_DATE:
		strata_date_format(v->v.i32, out);
		break;
	case STRATA_T_DECIMAL:
		strata_dec_format(strata_dec_get(v), 0, out);
		break;
	case STRATA_T_DOUBLE:
	case STRATA_T_FLOAT: {
		double d = t == STRATA_T_DOUBLE ? v->v.f64 : (double)v->v.f32;
		if (isnan(d))
			strata_buf_printf(out, "NaN");
		else if (isinf(d))
			strata_buf_printf(out, "%sInfinity", d < 0 ? "-" : "");
		else if (t == STRATA_T_DOUBLE)
			double_shortest(d, out);
		else
			float_shortest(v->v.f32, out);
		break;
	}
	default:
		strata_value_to_json(t, v, out);
	}
}

void strata_column_value_to_json(const strata_column *c, const strata_value *v,
				 strata_buf *out)
{
	if (c->type != STRATA_T_DECIMAL || v->is_null) {
		strata_value_to_json(c->type, v, out);
		return;
	}
	strata_buf_putc(out, '"');
	strata_dec_format(strata_dec_get(v), c->scale, out);
	strata_buf_putc(out, '"');
}

void strata_column_value_to_text(const strata_column *c, const strata_value *v,
				 strata_buf *out)
{
	if (v->is_null)
		return;
	if (c->type == STRATA_T_DECIMAL)
		strata_dec_format(strata_dec_get(v), c->scale, out);
	else if (c->type == STRATA_T_DATE)
		strata_date_format(v->v.i32, out);
	else
		strata_value_to_text(c->type, v, out);
}

void strata_row_to_json(const strata_schema *s, const strata_row *row,
			bool with_meta, strata_buf *out)
{
	strata_buf_putc(out, '{');
	for (uint32_t i = 0; i < s->ncols; i++) {
		if (i)
			strata_buf_putc(out, ',');
		json_escape((const uint8_t *)s->cols[i].name, strlen(s->cols[i].name), out);
		strata_buf_putc(out, ':');
		strata_column_value_to_json(&s->cols[i], &row->vals[i], out);
	}
	if (with_meta)
		strata_buf_printf(out, "%s\"_seq\":%lld,\"_op\":\"%s\"", s->ncols ? "," : "",
				  (long long)row->seq,
				  row->op == STRATA_OP_DELETE ? "delete" : "upsert");
	strata_buf_putc(out, '}');
}

/* ---- key encoding -------------------------------------------------------- */

static void put_be(strata_buf *out, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	strata_buf_append(out, b, (size_t)bytes);
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

int strata_key_encode(const strata_schema *s, const strata_row *row,
		      strata_buf *out, strata_err *err)
{
	size_t start = out->len;
	for (uint32_t k = 0; k < s->nkeys; k++) {
		const strata_column *c = &s->cols[s->key_cols[k]];
		const strata_value *v = &row->vals[s->key_cols[k]];
		if (v->is_null)
			return strata_err_set(err, STRATA_EINVAL,
					      "primary key column \"%s\" is null", c->name);
		switch (c->type) {
		case STRATA_T_LONG:
		case STRATA_T_TIMESTAMP:
			put_be(out, (uint64_t)v->v.i64 ^ (1ull << 63), 8);
			break;
		case STRATA_T_INT:
		case STRATA_T_DATE:
			put_be(out, (uint32_t)v->v.i32 ^ (1u << 31), 4);
			break;
		case STRATA_T_DECIMAL:
			put_be(out, (uint64_t)v->v.dec.hi ^ (1ull << 63), 8);
			put_be(out, v->v.dec.lo, 8);
			break;
		case STRATA_T_DOUBLE: {
			uint64_t b;
			memcpy(&b, &v->v.f64, 8);
			b = (b >> 63) ? ~b : b ^ (1ull << 63);
			put_be(out, b, 8);
			break;
		}
		case STRATA_T_FLOAT: {
			uint32_t b;
			memcpy(&b, &v->v.f32, 4);
			b = (b >> 31) ? ~b : b ^ (1u << 31);
			put_be(out, b, 4);
			break;
		}
		case STRATA_T_BOOL:
			strata_buf_putc(out, v->v.b ? 1 : 0);
			break;
		case STRATA_T_STRING:
		case STRATA_T_BYTES: {
			/* runs without 0x00 at once; each 0x00 becomes 0x00 0xff */
			const uint8_t *p = v->v.s.ptr, *end = p + v->v.s.len;
			while (p < end) {
				const uint8_t *z = memchr(p, 0, (size_t)(end - p));
				size_t run = (size_t)((z ? z : end) - p);
				strata_buf_append(out, p, run);
				p += run;
				if (z) {
					strata_buf_append(out, "\0\xff", 2);
					p++;
				}
			}
			strata_buf_putc(out, 0);
			break;
		}
		}
		if (out->len - start > STRATA_MAX_KEY_BYTES)
			return strata_err_set(err, STRATA_ELIMIT,
					      "primary key is longer than %d bytes encoded",
					      STRATA_MAX_KEY_BYTES);
	}
	return 0;
}

int strata_key_decode(const strata_schema *s, const uint8_t *key, size_t len,
		      strata_value *vals, strata_arena *a, strata_err *err)
{
	size_t off = 0;
	for (uint32_t k = 0; k < s->nkeys; k++) {
		const strata_column *c = &s->cols[s->key_cols[k]];
		strata_value *v = &vals[k];
		memset(v, 0, sizeof(*v));
		int need = 0;
		switch (c->type) {
		case STRATA_T_DECIMAL:
			need = 16;
			break;
		case STRATA_T_LONG:
		case STRATA_T_TIMESTAMP:
		case STRATA_T_DOUBLE:
			need = 8;
			break;
		case STRATA_T_INT:
		case STRATA_T_DATE:
		case STRATA_T_FLOAT:
			need = 4;
			break;
		case STRATA_T_BOOL:
			need = 1;
			break;
		default:
			break;
		}
		if (need && len - off < (size_t)need)
			goto bad;
		switch (c->type) {
		case STRATA_T_LONG:
		case STRATA_T_TIMESTAMP:
			v->v.i64 = (int64_t)(get_be(key + off, 8) ^ (1ull << 63));
			break;
		case STRATA_T_INT:
		case STRATA_T_DATE:
			v->v.i32 = (int32_t)((uint32_t)get_be(key + off, 4) ^ (1u << 31));
			break;
		case STRATA_T_DECIMAL:
			v->v.dec.hi = (int64_t)(get_be(key + off, 8) ^ (1ull << 63));
			v->v.dec.lo = get_be(key + off + 8, 8);
			break;
		case STRATA_T_DOUBLE: {
			uint64_t b = get_be(key + off, 8);
			b = (b >> 63) ? b ^ (1ull << 63) : ~b;
			memcpy(&v->v.f64, &b, 8);
			break;
		}
		case STRATA_T_FLOAT: {
			uint32_t b = (uint32_t)get_be(key + off, 4);
			b = (b >> 31) ? b ^ (1u << 31) : ~b;
			memcpy(&v->v.f32, &b, 4);
			break;
		}
		case STRATA_T_BOOL:
			if (key[off] > 1)
				goto bad;
			v->v.b = key[off] == 1;
			break;
		case STRATA_T_STRING:
		case STRATA_T_BYTES: {
			size_t i = off;
			bool has_escape = false;
			for (;;) {
				if (i >= len)
					goto bad;
				if (key[i] == 0) {
					if (i + 1 < len && key[i + 1] == 0xff) {
						has_escape = true;
						i += 2;
						continue;
					}
					break;
				}
				i++;
			}
			v->v.s.ptr = key + off;
			v->v.s.len = (uint32_t)(i - off);
			if (has_escape) {
				if (!a)
					return strata_err_set(err, STRATA_EUNSUPPORTED,
							      "key holds a 0x00 byte");
				uint8_t *u = strata_arena_alloc(a, i - off);
				size_t n = 0;
				for (size_t j = off; j < i; j++) {
					u[n++] = key[j];
					if (key[j] == 0)
						j++; /* skip the 0xff escape */
				}
				v->v.s.ptr = u;
				v->v.s.len = (uint32_t)n;
			}
			need = (int)(i - off + 1);
			break;
		}
		}
		off += (size_t)need;
	}
	if (off != len)
		goto bad;
	return 0;
bad:
	return strata_err_set(err, STRATA_ECORRUPT, "key bytes do not decode for this schema");
}

void strata_key_to_json(const strata_schema *s, const uint8_t *key, size_t len,
			strata_buf *out)
{
	strata_value vals[STRATA_MAX_KEY_COLS];
	strata_arena *a = strata_arena_new();
	if (strata_key_decode(s, key, len, vals, a, NULL) != 0) {
		static const char hex[] = "0123456789abcdef";
		strata_buf_append(out, "\"0x", 3);
		for (size_t i = 0; i < len; i++) {
			strata_buf_putc(out, (uint8_t)hex[key[i] >> 4]);
			strata_buf_putc(out, (uint8_t)hex[key[i] & 15]);
		}
		strata_buf_putc(out, '"');
		strata_arena_free(a);
		return;
	}
	strata_buf_putc(out, '{');
	for (uint32_t k = 0; k < s->nkeys; k++) {
		const strata_column *c = &s->cols[s->key_cols[k]];
		if (k)
			strata_buf_putc(out, ',');
		json_escape((const uint8_t *)c->name, strlen(c->name), out);
		strata_buf_putc(out, ':');
		strata_column_value_to_json(c, &vals[k], out);
	}
	strata_buf_putc(out, '}');
	strata_arena_free(a);
}

int strata_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* ---- sketch -------------------------------------------------------------- */

void strata_sketch_add(uint8_t *regs, const uint8_t *key, size_t len)
{
	uint64_t h = XXH3_64bits_withSeed(key, len, 0x5eed5eedull);
	unsigned idx = (unsigned)(h >> 56);
	uint64_t rest = h << 8;
	uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : 57;
	if (rank > regs[idx])
		regs[idx] = rank;
}

void strata_sketch_merge(uint8_t *dst, const uint8_t *src)
{
	for (int i = 0; i < STRATA_SKETCH_REGS; i++)
		if (src[i] > dst[i])
			dst[i] = src[i];
}

double strata_sketch_estimate(const uint8_t *regs)
{
	const double m = STRATA_SKETCH_REGS;
	double sum = 0;
	int zeros = 0;
	for (int i = 0; i < STRATA_SKETCH_REGS; i++) {
		sum += ldexp(1.0, -regs[i]);
		if (regs[i] == 0)
			zeros++;
	}
	double alpha = 0.7213 / (1.0 + 1.079 / m);
	double e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros); /* linear counting for small sets */
	return e;
}

void strata_file_stats_init(strata_file_stats *st)
{
	memset(st, 0, sizeof(*st));
}

void strata_file_stats_free(strata_file_stats *st)
{
	strata_buf_free(&st->key_min);
	strata_buf_free(&st->key_max);
}
