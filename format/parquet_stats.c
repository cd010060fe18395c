/*
 * format/parquet_stats.c — Parquet statistics: what the writer records
 * about the values of each page and column chunk (null and NaN counts,
 * min and max) and the one typed comparison of encoded statistic values.
 *
 * Design.  The writer keeps one accumulator (pq_acc) per open page and one
 * per open column chunk.  Each value updates the page's, inline
 * (parquet_stats.h: native integers and doubles, byte strings with an
 * 8-byte big-endian prefix that settles most comparisons without memcmp);
 * a closed page is folded into its chunk (pq_acc_fold).  pq_acc_put
 * encodes an accumulator into the Statistics of a page header or of the
 * chunk's metadata, and the writer copies the page bounds into the column
 * index.  pq_stat_cmp orders two encoded bounds of one physical type; the
 * writer derives the column index's boundary order with it, and the reader
 * prunes row groups and pages with it when it seeks (comparing a bound with
 * the sought key's first column, encoded the same way).
 *
 * Invariants:
 *   1. bounds are computed over the values actually written, in Parquet's
 *      sort order for the physical type: signed integers, IEEE for floats
 *      without NaN (a NaN is counted, never a bound; a zero min is written
 *      -0.0 and a zero max +0.0, so either zero is inside them), false <
 *      true, unsigned bytes for BYTE_ARRAY, signed big-endian integers for
 *      FIXED_LEN_BYTE_ARRAY (strata writes only DECIMALs so) — the order pq_stat_cmp
 *      implements, so what the writer records and what the reader compares
 *      can never disagree;
 *   2. BYTE_ARRAY bounds longer than PQ_STATS_MAX_BYTES are truncated to a
 *      smaller min and a larger max (UTF-8 aware for STRING, so a STRING
 *      bound stays valid UTF-8) and flagged inexact; a max that cannot be
 *      made larger (all 0xff, or the largest code points) is not written;
 *   3. pq_stat_cmp answers only for values it can order (right length, no
 *      NaN, a boolean 0 or 1): a caller that gets false must treat the
 *      bound as unknown (the reader then does not skip; the writer calls
 *      the column index unordered).
 *
 * Pure functions over memory the caller owns; any thread.
 */
#include "format/parquet_stats.h"

#include <stdlib.h>

/* ---- the typed comparison ----------------------------------------------- */

#define PQ_CMP(x, y) (((x) > (y)) - ((x) < (y)))

bool pq_stat_cmp(int ptype, const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int *out)
{
	/* invariant 3 */
	switch (ptype) {
	case PQ_INT64: {
		int64_t x, y;
		if (an != 8 || bn != 8)
			return false;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		*out = PQ_CMP(x, y);
		return true;
	}
	case PQ_INT32: {
		int32_t x, y;
		if (an != 4 || bn != 4)
			return false;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		*out = PQ_CMP(x, y);
		return true;
	}
	case PQ_DOUBLE: {
		double x, y;
		if (an != 8 || bn != 8)
			return false;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (isnan(x) || isnan(y))
			return false;
		*out = PQ_CMP(x, y);
		return true;
	}
	case PQ_FLOAT: {
		float x, y;
		if (an != 4 || bn != 4)
			return false;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		if (isnan(x) || isnan(y))
			return false;
		*out = PQ_CMP(x, y);
		return true;
	}
	case PQ_BOOLEAN:
		if (an != 1 || bn != 1 || a[0] > 1 || b[0] > 1)
			return false;
		*out = (int)a[0] - (int)b[0];
		return true;
	case PQ_BYTE_ARRAY: {
		int c = pq_bytes_cmp(a, an, b, bn);
		*out = PQ_CMP(c, 0);
		return true;
	}
	case PQ_FIXED_LEN_BYTE_ARRAY: {
		/* strata writes only DECIMALs as FIXED_LEN_BYTE_ARRAY: big-endian
		 * two's complement, ordered as signed integers */
		if (an != bn || an == 0 || an > 16)
			return false;
		int c = (int)(a[0] ^ 0x80) - (int)(b[0] ^ 0x80);
		if (c == 0)
			c = memcmp(a + 1, b + 1, an - 1);
		*out = PQ_CMP(c, 0);
		return true;
	}
	default:
		return false;
	}
}

/* ---- accumulators --------------------------------------------------------- */

void pq_acc_reset(pq_acc *s)
{
	s->nulls = s->nans = s->nonnull = 0;
	s->has = false;
	strata_buf_reset(&s->bmin);
	strata_buf_reset(&s->bmax);
}

void pq_acc_free(pq_acc *s)
{
	strata_buf_free(&s->bmin);
	strata_buf_free(&s->bmax);
}

void pq_acc_fold(int ptype, pq_acc *dst, const pq_acc *src)
{
	dst->nulls += src->nulls;
	dst->nans += src->nans;
	dst->nonnull += src->nonnull;
	if (!src->has)
		return;
	switch (ptype) {
	case PQ_FLOAT:
	case PQ_DOUBLE:
		pq_acc_dbl(dst, src->dmin);
		pq_acc_dbl(dst, src->dmax);
		break;
	case PQ_BYTE_ARRAY:
	case PQ_FIXED_LEN_BYTE_ARRAY:
		pq_acc_bytes(dst, src->bmin.data, src->bmin.len);
		pq_acc_bytes(dst, src->bmax.data, src->bmax.len);
		break;
	default:
		pq_acc_int(dst, src->imin);
		pq_acc_int(dst, src->imax);
	}
}

/* ---- encoding ------------------------------------------------------------- */

/* UTF-8: length of the sequence starting with byte b (0 if not a lead). */
static int utf8_len(uint8_t b)
{
	return b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
}

/* Largest prefix of at most max bytes that ends on a character boundary. */
static size_t utf8_cut(const uint8_t *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t cut = max;
	while (cut > 0 && (p[cut] & 0xc0) == 0x80)
		cut--;
	return cut;
}

/* Replace out with the smallest UTF-8 string greater than every string that
 * starts with p[0..n): increment the last code point (skipping surrogates),
 * dropping characters that overflow.  False if impossible or p is not
 * valid UTF-8. */
static bool utf8_increment(const uint8_t *p, size_t n, strata_buf *out)
{
	/* split into code points */
	uint32_t cps[PQ_STATS_MAX_BYTES];
	size_t ncp = 0;
	for (size_t i = 0; i < n;) {
		int l = utf8_len(p[i]);
		if (l == 0 || i + (size_t)l > n)
			return false;
		uint32_t cp = l == 1 ? p[i] : (uint32_t)(p[i] & (0x7f >> l));
		for (int k = 1; k < l; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		cps[ncp++] = cp;
		i += (size_t)l;
	}
	while (ncp > 0) {
		uint32_t cp = cps[ncp - 1] + 1;
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xe000;
		if (cp <= 0x10ffff) {
			cps[ncp - 1] = cp;
			break;
		}
		ncp--;
	}
	if (ncp == 0)
		return false;
	strata_buf_reset(out);
	for (size_t i = 0; i < ncp; i++) {
		uint32_t cp = cps[i];
		uint8_t b[4];
		int l;
		if (cp < 0x80) {
			b[0] = (uint8_t)cp;
			l = 1;
		} else if (cp < 0x800) {
			b[0] = (uint8_t)(0xc0 | cp >> 6);
			b[1] = (uint8_t)(0x80 | (cp & 0x3f));
			l = 2;
		} else if (cp < 0x10000) {
			b[0] = (uint8_t)(0xe0 | cp >> 12);
			b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (uint8_t)(0x80 | (cp & 0x3f));
			l = 3;
		} else {
			b[0] = (uint8_t)(0xf0 | cp >> 18);
			b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			b[3] = (uint8_t)(0x80 | (cp & 0x3f));
			l = 4;
		}
		strata_buf_append(out, b, (size_t)l);
	}
	return true;
}

/* Encode the min and max of s for a column of types ptype/stype (PLAIN
 * without a length prefix).  Returns false when there is no min/max to
 * write (all null or NaN, or a BYTE_ARRAY max that cannot be truncated). */
static bool acc_encode(int ptype, strata_type stype, const pq_acc *s, strata_buf *min,
		       strata_buf *max, bool *min_exact, bool *max_exact)
{
	strata_buf_reset(min);
	strata_buf_reset(max);
	*min_exact = *max_exact = true;
	if (!s->has)
		return false;
	switch (ptype) {
	case PQ_INT64: {
		strata_buf_append(min, &s->imin, 8);
		strata_buf_append(max, &s->imax, 8);
		return true;
	}
	case PQ_INT32: {
		int32_t a = (int32_t)s->imin, b = (int32_t)s->imax;
		strata_buf_append(min, &a, 4);
		strata_buf_append(max, &b, 4);
		return true;
	}
	case PQ_BOOLEAN:
		strata_buf_putc(min, (uint8_t)s->imin);
		strata_buf_putc(max, (uint8_t)s->imax);
		return true;
	case PQ_DOUBLE: {
		double a = s->dmin == 0 ? -0.0 : s->dmin;
		double b = s->dmax == 0 ? 0.0 : s->dmax;
		strata_buf_append(min, &a, 8);
		strata_buf_append(max, &b, 8);
		return true;
	}
	case PQ_FLOAT: {
		float a = s->dmin == 0 ? -0.0f : (float)s->dmin;
		float b = s->dmax == 0 ? 0.0f : (float)s->dmax;
		strata_buf_append(min, &a, 4);
		strata_buf_append(max, &b, 4);
		return true;
	}
	case PQ_FIXED_LEN_BYTE_ARRAY:
		/* a wide DECIMAL, accumulated with the sign bit flipped (so that
		 * byte order is value order): flip it back */
		strata_buf_append(min, s->bmin.data, s->bmin.len);
		strata_buf_append(max, s->bmax.data, s->bmax.len);
		if (min->len)
			min->data[0] ^= 0x80;
		if (max->len)
			max->data[0] ^= 0x80;
		return true;
	default:
		break;
	}
	/* invariant 2: BYTE_ARRAY truncation */
	bool is_utf8 = stype == STRATA_T_STRING;
	const uint8_t *p = s->bmin.data;
	size_t n = s->bmin.len;
	if (n > PQ_STATS_MAX_BYTES) {
		n = is_utf8 ? utf8_cut(p, n, PQ_STATS_MAX_BYTES) : PQ_STATS_MAX_BYTES;
		*min_exact = false;
	}
	strata_buf_append(min, p, n);
	p = s->bmax.data;
	n = s->bmax.len;
	if (n <= PQ_STATS_MAX_BYTES) {
		strata_buf_append(max, p, n);
		return true;
	}
	*max_exact = false;
	if (is_utf8)
		return utf8_increment(p, utf8_cut(p, n, PQ_STATS_MAX_BYTES), max);
	n = PQ_STATS_MAX_BYTES;
	while (n > 0 && p[n - 1] == 0xff)
		n--;
	if (n == 0)
		return false;
	strata_buf_append(max, p, n);
	max->data[n - 1]++;
	return true;
}

void pq_acc_put(pq_stats *st, int ptype, strata_type stype, const pq_acc *s, strata_buf *min,
		strata_buf *max)
{
	memset(st, 0, sizeof(*st));
	st->has_null_count = true;
	st->null_count = s->nulls;
	if (ptype == PQ_FLOAT || ptype == PQ_DOUBLE) {
		st->has_nan_count = true;
		st->nan_count = s->nans;
	}
	bool min_exact, max_exact;
	if (acc_encode(ptype, stype, s, min, max, &min_exact, &max_exact)) {
		st->has_min = st->has_max = true;
		st->min.p = min->data;
		st->min.len = (uint32_t)min->len;
		st->max.p = max->data;
		st->max.len = (uint32_t)max->len;
		st->has_min_exact = st->has_max_exact = true;
		st->is_min_exact = min_exact;
		st->is_max_exact = max_exact;
	}
}
