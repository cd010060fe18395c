/*
 * tests/test_merge.c — the k-way merge iterator (merge/iter.c) on real
 * files: an Avro row file (which reads forward only) and a Parquet file
 * (which seeks by its page index) merged with the LATEST rule, sought right
 * after the merge starts, in the middle of it, and backwards (refused).
 */
#include "tests/util/testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "merge/merge.h"

static strata_schema *kv_schema(void)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "pk");
	c.type = STRATA_T_LONG;
	c.id = 1;
	c.key_pos = 0;
	strata_schema_add(s, &c, NULL);
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "v");
	c.type = STRATA_T_LONG;
	c.id = 2;
	c.key_pos = -1;
	c.is_nullable = true;
	strata_schema_add(s, &c, NULL);
	return s;
}

/* Keys lo..hi (step 1) with v = pk * 10 + tag, as one file of format f. */
static void write_file(const char *path, const strata_schema *s, strata_format f, int64_t lo,
		       int64_t hi, int64_t seq, int64_t tag)
{
	strata_write_opts o;
	strata_write_opts_default(&o, f);
	o.page_bytes = 4096; /* several pages: the Parquet seek uses its index */
	strata_fwriter *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	for (int64_t k = lo; k <= hi; k++) {
		strata_value vals[2] = {{.v.i64 = k}, {.v.i64 = k * 10 + tag}};
		strata_row r = {.seq = seq, .op = STRATA_OP_UPSERT, .ncols = 2, .vals = vals};
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &r, &e), 0);
	}
	strata_file_stats st;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
	strata_file_stats_free(&st);
}

static void key_of(const strata_schema *s, int64_t k, strata_buf *out)
{
	strata_value vals[2] = {{.v.i64 = k}, {.is_null = true}};
	strata_row r = {.ncols = 2, .vals = vals};
	strata_buf_reset(out);
	strata_key_encode(s, &r, out, NULL);
}

/* Row file: keys 1..2000 at _seq 9 (v = 10k + 1); columnar file: keys
 * 1000..3000 at _seq 4 (v = 10k + 2).  LATEST: the row file wins where both
 * hold a key. */
static strata_merge *merge_open(const char *dir, const strata_schema *s)
{
	char avro[512], pq[512];
	snprintf(avro, sizeof(avro), "%s/rows.avro", dir);
	snprintf(pq, sizeof(pq), "%s/cols.parquet", dir);
	if (access(avro, F_OK) != 0) {
		write_file(avro, s, STRATA_FMT_AVRO, 1, 2000, 9, 1);
		write_file(pq, s, STRATA_FMT_PARQUET, 1000, 3000, 4, 2);
	}
	strata_err e;
	strata_run *runs[2];
	strata_run_opts ro = {.file_schema = s, .read_schema = s, .default_seq = 9};
	CU_ASSERT_EQUAL_FATAL(strata_run_open(avro, &ro, &runs[0], &e), 0);
	strata_run_opts po = {.read_schema = s};
	CU_ASSERT_EQUAL_FATAL(strata_run_open(pq, &po, &runs[1], &e), 0);
	strata_merge *m;
	CU_ASSERT_EQUAL_FATAL(strata_merge_new(runs, 2, STRATA_MERGE_LATEST, 0, true, &m, &e), 0);
	return m;
}

/* next() must give key k with the value of the newest file holding it. */
static void expect_next(strata_merge *m, int64_t k)
{
	const strata_row *row;
	strata_err e;
	int rc = strata_merge_next(m, &row, NULL, NULL, &e);
	CU_ASSERT_EQUAL(rc, 1);
	if (rc != 1)
		return;
	CU_ASSERT_EQUAL(row->vals[0].v.i64, k);
	CU_ASSERT_EQUAL(row->vals[1].v.i64, k * 10 + (k <= 2000 ? 1 : 2));
	if (row->vals[0].v.i64 != k)
		fprintf(stderr, "\nexpected key %lld, got %lld\n", (long long)k,
			(long long)row->vals[0].v.i64);
}

/* A seek right after the merge started (each run's first record already
 * read): the row file's first record is the sought key and must not be
 * skipped. */
static void test_merge_seek_at_start(void)
{
	const char *dir = tu_tmpdir();
	strata_schema *s = kv_schema();
	strata_buf k = {0};
	strata_err e;
	int64_t keys[] = {1, 2, 1000, 1500, 2500};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(keys); i++) {
		strata_merge *m = merge_open(dir, s);
		key_of(s, keys[i], &k);
		CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
		expect_next(m, keys[i]);
		expect_next(m, keys[i] + 1);
		strata_merge_free(m);
	}
	strata_buf_free(&k);
	strata_schema_free(s);
}

/* Seeks in the middle of a merge, forward only, each one to the key just
 * after the last one read or further; then to the end. */
static void test_merge_seek_forward(void)
{
	const char *dir = tu_tmpdir();
	strata_schema *s = kv_schema();
	strata_buf k = {0};
	strata_err e;
	strata_merge *m = merge_open(dir, s);
	expect_next(m, 1);
	expect_next(m, 2);
	expect_next(m, 3);
	key_of(s, 4, &k); /* the row file's head: already read, not yet taken */
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	expect_next(m, 4);
	key_of(s, 999, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	expect_next(m, 999);
	expect_next(m, 1000); /* both files: the row file's record */
	key_of(s, 1000, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), STRATA_EINVAL);
	CU_ASSERT(strstr(e.msg, "forward") != NULL);
	expect_next(m, 1001); /* a refused seek leaves the merge as it was */
	key_of(s, 2000, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	expect_next(m, 2000);
	expect_next(m, 2001); /* the row file ended: the columnar file goes on */
	key_of(s, 2999, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	expect_next(m, 2999);
	expect_next(m, 3000);
	const strata_row *row;
	CU_ASSERT_EQUAL(strata_merge_next(m, &row, NULL, NULL, &e), 0);
	strata_merge_free(m);
	/* a seek before the previous seek's key (nothing read since) is
	 * refused too: the runs already stand past the keys between them */
	m = merge_open(dir, s);
	key_of(s, 1500, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	key_of(s, 1200, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), STRATA_EINVAL);
	key_of(s, 1500, &k);
	CU_ASSERT_EQUAL(strata_merge_seek(m, k.data, k.len, &e), 0);
	expect_next(m, 1500);
	strata_merge_free(m);
	strata_buf_free(&k);
	strata_schema_free(s);
}

static void register_merge(void)
{
	CU_pSuite s = CU_add_suite("merge", NULL, NULL);
	TU_ADD(s, test_merge_seek_at_start);
	TU_ADD(s, test_merge_seek_forward);
}

TU_MAIN(register_merge)
