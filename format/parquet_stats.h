/*
 * format/parquet_stats.h — Parquet statistics: the running min/max the
 * writer keeps per page and per column chunk, their encoding into the
 * Statistics of page headers, chunk metadata and column indexes, and the one
 * typed comparison of encoded statistic values that the writer (boundary
 * order) and the reader (seek pruning) both use.  Internal to format/; the
 * code and its invariant are in format/parquet_stats.c.
 *
 * The per-value updates are inline here because the writer calls one per
 * value it adds (a call per value cost the writer measurably); everything
 * else, once per page or chunk, is in the .c file.
 */
#ifndef STRATA_PARQUET_STATS_H
#define STRATA_PARQUET_STATS_H

#include "format/parquet_int.h"

#include <math.h>
#include <string.h>

/* BYTE_ARRAY bounds longer than this are truncated (parquet_stats.c
 * invariant 2). */
#define PQ_STATS_MAX_BYTES 64

/* Statistics of the values of one page or chunk, as they are added. */
typedef struct pq_acc {
	int64_t nulls, nans, nonnull;
	bool has; /* min/max hold a value (some non-null, non-NaN value seen) */
	int64_t imin, imax;
	double dmin, dmax;
	strata_buf bmin, bmax;
	uint64_t pmin, pmax; /* first 8 bytes of bmin/bmax, big-endian */
} pq_acc;

/* ---- the typed comparison ----------------------------------------------- */

/* Unsigned lexicographic order of two byte strings (Parquet's order for
 * BYTE_ARRAY): <0, 0, >0. */
static inline int pq_bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* Compare two statistic values a and b, each PLAIN-encoded without a length
 * prefix, in Parquet's sort order for the physical type ptype (PQ_*):
 * signed integers, IEEE floats, false < true, unsigned bytes.  *out gets
 * -1, 0 or 1.  Returns false, leaving *out alone, when either value cannot
 * be ordered: a length that does not fit the type, a NaN, a boolean other
 * than 0 or 1, or a physical type strata does not compare. */
bool pq_stat_cmp(int ptype, const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int *out);

/* ---- running min/max (hot: one call per value) ------------------------- */

static inline void pq_acc_int(pq_acc *s, int64_t v)
{
	if (!s->has) {
		s->imin = s->imax = v;
		s->has = true;
	} else if (v < s->imin) {
		s->imin = v;
	} else if (v > s->imax) {
		s->imax = v;
	}
}

/* invariant 1: a NaN is counted, never a bound */
static inline void pq_acc_dbl(pq_acc *s, double v)
{
	if (isnan(v)) {
		s->nans++;
		return;
	}
	if (!s->has) {
		s->dmin = s->dmax = v;
		s->has = true;
	} else if (v < s->dmin) {
		s->dmin = v;
	} else if (v > s->dmax) {
		s->dmax = v;
	}
}

/* The first 8 bytes of a byte string as a big-endian integer (zero
 * padded): comparing two of these orders the strings by those bytes. */
static inline uint64_t pq_bytes_prefix(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	if (n)
		memcpy(&v, p, n < 8 ? n : 8);
	return __builtin_bswap64(v);
}

/* Replace the contents of b by p[0..n) (the common case without a call). */
static inline void pq_acc_set(strata_buf *b, const uint8_t *p, size_t n)
{
	b->len = 0;
	if (b->cap < n)
		strata_buf_reserve(b, n);
	if (n)
		memcpy(b->data, p, n);
	b->len = n;
}

static inline void pq_acc_bytes(pq_acc *s, const uint8_t *p, size_t n)
{
	uint64_t pf = pq_bytes_prefix(p, n);
	if (!s->has) {
		pq_acc_set(&s->bmin, p, n);
		pq_acc_set(&s->bmax, p, n);
		s->pmin = s->pmax = pf;
		s->has = true;
		return;
	}
	/* most values differ from the bounds in their first 8 bytes */
	if (pf < s->pmin || (pf == s->pmin && pq_bytes_cmp(p, n, s->bmin.data, s->bmin.len) < 0)) {
		pq_acc_set(&s->bmin, p, n);
		s->pmin = pf;
	} else if (pf > s->pmax ||
		   (pf == s->pmax && pq_bytes_cmp(p, n, s->bmax.data, s->bmax.len) > 0)) {
		pq_acc_set(&s->bmax, p, n);
		s->pmax = pf;
	}
}

/* ---- once per page or chunk (parquet_stats.c) --------------------------- */

/* Forget every value (buffers kept for reuse). */
void pq_acc_reset(pq_acc *s);
/* Free the buffers. */
void pq_acc_free(pq_acc *s);
/* Fold src (a page) into dst (its chunk); ptype is the column's PQ_* type. */
void pq_acc_fold(int ptype, pq_acc *dst, const pq_acc *src);
/* Fill st (a page header's, or a chunk's Statistics) from s for a column of
 * physical type ptype and strata type stype: null count, NaN count for
 * floats, and min/max encoded into the caller's scratch buffers min and max
 * (st points into them until they are next used).  No min/max when s holds
 * none (all null or NaN) or a BYTE_ARRAY max cannot be truncated. */
void pq_acc_put(pq_stats *st, int ptype, strata_type stype, const pq_acc *s, strata_buf *min,
		strata_buf *max);

#endif
