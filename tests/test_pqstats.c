/*
 * tests/test_pqstats.c — the Parquet statistics unit (format/parquet_stats.c),
 * white-box through format/parquet_stats.h: the one typed comparison of
 * encoded bounds (invariant 3: it orders only what it can), and that the
 * bounds the accumulators write bound every value in that same order
 * (invariants 1 and 2), truncated BYTE_ARRAY bounds included.
 */
#include "tests/util/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/parquet_stats.h"

static bool cmp_try(int ptype, const void *a, size_t an, const void *b, size_t bn, int *c)
{
	return pq_stat_cmp(ptype, a, an, b, bn, c);
}

static int cmp_of(int ptype, const void *a, size_t an, const void *b, size_t bn)
{
	int c = 99;
	CU_ASSERT_FATAL(pq_stat_cmp(ptype, a, an, b, bn, &c));
	return c;
}

static void test_stat_cmp_order(void)
{
	int64_t l1 = -5, l2 = 3;
	CU_ASSERT_EQUAL(cmp_of(PQ_INT64, &l1, 8, &l2, 8), -1);
	CU_ASSERT_EQUAL(cmp_of(PQ_INT64, &l2, 8, &l1, 8), 1);
	CU_ASSERT_EQUAL(cmp_of(PQ_INT64, &l1, 8, &l1, 8), 0);
	int32_t i1 = INT32_MIN, i2 = -1;
	CU_ASSERT_EQUAL(cmp_of(PQ_INT32, &i1, 4, &i2, 4), -1); /* signed */
	double d1 = -0.0, d2 = 0.0, d3 = -1e300;
	CU_ASSERT_EQUAL(cmp_of(PQ_DOUBLE, &d1, 8, &d2, 8), 0); /* IEEE: -0 == +0 */
	CU_ASSERT_EQUAL(cmp_of(PQ_DOUBLE, &d3, 8, &d1, 8), -1);
	float f1 = 1.5f, f2 = -INFINITY;
	CU_ASSERT_EQUAL(cmp_of(PQ_FLOAT, &f1, 4, &f2, 4), 1);
	uint8_t b0 = 0, b1 = 1;
	CU_ASSERT_EQUAL(cmp_of(PQ_BOOLEAN, &b0, 1, &b1, 1), -1);
	/* unsigned bytes, then length */
	CU_ASSERT_EQUAL(cmp_of(PQ_BYTE_ARRAY, "ab", 2, "abc", 3), -1);
	CU_ASSERT_EQUAL(cmp_of(PQ_BYTE_ARRAY, "\xff", 1, "\x01\x02", 2), 1);
	CU_ASSERT_EQUAL(cmp_of(PQ_BYTE_ARRAY, "", 0, "", 0), 0);
	CU_ASSERT_EQUAL(cmp_of(PQ_BYTE_ARRAY, "zz", 2, "za", 2), 1);
}

/* invariant 3: what cannot be ordered is refused and *out left alone */
static void test_stat_cmp_refuses(void)
{
	int c = 42;
	int64_t l = 1;
	int32_t i = 1;
	double dn = NAN, d = 1;
	float fn = NAN, f = 1;
	uint8_t two = 2, one = 1;
	CU_ASSERT_FALSE(cmp_try(PQ_INT64, &l, 8, &i, 4, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_INT32, &l, 8, &l, 8, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_DOUBLE, &dn, 8, &d, 8, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_DOUBLE, &d, 8, &dn, 8, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_FLOAT, &fn, 4, &f, 4, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_BOOLEAN, &two, 1, &one, 1, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_BOOLEAN, &one, 1, &one, 0, &c));
	CU_ASSERT_FALSE(cmp_try(PQ_INT96, "123456789012", 12, "123456789012", 12, &c));
	CU_ASSERT_EQUAL(c, 42);
}

/* Feed n values to an accumulator, encode its bounds, and check with the
 * comparison that min <= v <= max for every value (invariants 1, 2). */
static void check_bounds(int ptype, strata_type stype, const void *vals, size_t width,
			 const uint8_t *const *bs, const size_t *blen, size_t n, int want_exact)
{
	pq_acc s = {0};
	pq_acc_reset(&s);
	pq_acc page = {0};
	pq_acc_reset(&page);
	for (size_t i = 0; i < n; i++) {
		/* half the values through a page folded into the chunk */
		pq_acc *dst = i < n / 2 ? &page : &s;
		switch (ptype) {
		case PQ_INT64:
			pq_acc_int(dst, ((const int64_t *)vals)[i]);
			break;
		case PQ_DOUBLE:
			pq_acc_dbl(dst, ((const double *)vals)[i]);
			break;
		default:
			pq_acc_bytes(dst, bs[i], blen[i]);
		}
	}
	pq_acc_fold(ptype, &s, &page);
	strata_buf min = {0}, max = {0};
	pq_stats st;
	pq_acc_put(&st, ptype, stype, &s, &min, &max);
	CU_ASSERT_FATAL(st.has_min && st.has_max);
	if (want_exact >= 0) /* -1: either */
		CU_ASSERT_EQUAL(st.is_min_exact && st.is_max_exact, want_exact);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = ptype == PQ_BYTE_ARRAY ? bs[i] : (const uint8_t *)vals + i * width;
		size_t len = ptype == PQ_BYTE_ARRAY ? blen[i] : width;
		int c;
		if (ptype == PQ_DOUBLE && isnan(((const double *)vals)[i]))
			continue;
		CU_ASSERT_FATAL(pq_stat_cmp(ptype, st.min.p, st.min.len, p, len, &c));
		CU_ASSERT(c <= 0);
		CU_ASSERT_FATAL(pq_stat_cmp(ptype, st.max.p, st.max.len, p, len, &c));
		CU_ASSERT(c >= 0);
	}
	strata_buf_free(&min);
	strata_buf_free(&max);
	pq_acc_free(&s);
	pq_acc_free(&page);
}

static void test_acc_bounds_agree(void)
{
	enum { N = 500 };
	srand(7);
	int64_t longs[N];
	double dbls[N];
	for (size_t i = 0; i < N; i++) {
		longs[i] = (int64_t)(((uint64_t)rand() << 33) ^ (uint64_t)rand());
		dbls[i] = i % 50 == 0 ? NAN : (double)(rand() - RAND_MAX / 2) / 7.0;
	}
	dbls[3] = 0.0;
	dbls[4] = -0.0;
	check_bounds(PQ_INT64, STRATA_T_LONG, longs, 8, NULL, NULL, N, 1);
	check_bounds(PQ_DOUBLE, STRATA_T_DOUBLE, dbls, 8, NULL, NULL, N, 1);

	/* byte strings, some longer than PQ_STATS_MAX_BYTES (truncated,
	 * inexact), with 0xff bytes and shared prefixes */
	static uint8_t store[N][100];
	const uint8_t *bs[N];
	size_t blen[N];
	for (size_t i = 0; i < N; i++) {
		blen[i] = (size_t)(rand() % 100);
		for (size_t k = 0; k < blen[i]; k++)
			store[i][k] = k < 8 ? 'k' : (uint8_t)rand();
		bs[i] = store[i];
	}
	check_bounds(PQ_BYTE_ARRAY, STRATA_T_BYTES, NULL, 0, bs, blen, N, -1);
	/* one value longer than the limit: both bounds truncated, inexact */
	blen[0] = 99;
	check_bounds(PQ_BYTE_ARRAY, STRATA_T_BYTES, NULL, 0, bs, blen, 1, 0);
	/* UTF-8 strings: a STRING max is incremented by code point */
	static uint8_t ustore[N][100];
	for (size_t i = 0; i < N; i++) {
		size_t len = 0;
		int chars = rand() % 40;
		for (int k = 0; k < chars; k++) {
			if (rand() % 2) {
				ustore[i][len++] = (uint8_t)('a' + rand() % 26);
			} else { /* U+00E9 or U+4E2D */
				if (rand() % 2) {
					ustore[i][len++] = 0xc3;
					ustore[i][len++] = 0xa9;
				} else {
					ustore[i][len++] = 0xe4;
					ustore[i][len++] = 0xb8;
					ustore[i][len++] = 0xad;
				}
			}
		}
		bs[i] = ustore[i];
		blen[i] = len;
	}
	check_bounds(PQ_BYTE_ARRAY, STRATA_T_STRING, NULL, 0, bs, blen, N, -1);
}

static void register_pqstats(void)
{
	CU_pSuite s = CU_add_suite("pqstats", NULL, NULL);
	TU_ADD(s, test_stat_cmp_order);
	TU_ADD(s, test_stat_cmp_refuses);
	TU_ADD(s, test_acc_bounds_agree);
}

TU_MAIN(register_pqstats)
