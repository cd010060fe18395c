/*
 * bench/bench_duckdb.c — strata.duckdb_extension against DuckDB's own
 * Parquet reader over the same files, in one DuckDB, in one run.
 *
 * The table has MEASURED.md's shape: pk BIGINT (key), a BIGINT, b INT,
 * c DOUBLE, d STRING (~6 B, 50,000 distinct), e STRING (6 B, 200
 * categories), f BOOLEAN, g DOUBLE, h STRING (32 hex digits); 4 buckets,
 * written in commits of 1 M rows, then every bucket sorted and
 * major-compacted into one Parquet file (defaults: zstd 3, 64 MiB row
 * groups).  Values are a fixed function of pk.
 *
 *   1. full scan: SELECT count(*), sum(pk), sum(a), sum(b), sum(c), max(d),
 *      max(e), count_if(f), sum(g), max(h) over strata_scan(W, 't') and over
 *      read_parquet([the 4 live files]); threads=1 and threads=2, each the
 *      best of STRATA_BENCH_REPEAT (3) runs, interleaved; ratio =
 *      read_parquet time / strata_scan time (above 1: strata is faster).
 *   2. point lookups: SELECT * FROM strata_scan(W, 't', key := x) vs
 *      SELECT * FROM read_parquet([...]) WHERE pk = x; p50 over
 *      STRATA_BENCH_LOOKUPS (50) random keys, threads=1.  (The extension's
 *      time includes opening the warehouse twice: bind and init.)
 *   3. merge cost: half the keys (every other one) updated in row files
 *      (not sorted), then the full scan of step 1 again at threads=1 and 2:
 *      merge-on-read over one Parquet file and the row files per bucket.
 *
 * Environment: BENCH_DUCKDB_ROWS (default 10,000,000); STRATA_BENCH_REPEAT;
 * STRATA_BENCH_DIR (scratch parent, else $TMPDIR, else /tmp);
 * STRATA_BENCH_KEEP=1 keeps the warehouse.  Prints; asserts nothing.
 */
#include "compact/compact.h"
#include "merge/merge.h"
#include "sort/sort.h"
#include "table/table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef HAVE_DUCKDB

int main(void)
{
	printf("SKIPPED: built without DuckDB (no headers in build/duckdb-1.4.4/include or no "
	       "libduckdb.so in tests/.node: run make duckdb-headers node-deps)\n");
	return 0;
}

#else

#include <duckdb.h>

static duckdb_database db;
static duckdb_connection con;

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_duckdb: %s failed%s%s\n", what, err ? ": " : "",
		err ? err->msg : "");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

/* Run sql; seconds taken (the whole result materialised). */
static double run(const char *sql)
{
	duckdb_result res;
	double t0 = now_s();
	if (duckdb_query(con, sql, &res) == DuckDBError) {
		fprintf(stderr, "bench_duckdb: %s\n  in %.300s\n", duckdb_result_error(&res), sql);
		exit(1);
	}
	double t = now_s() - t0;
	duckdb_destroy_result(&res);
	return t;
}

static void exec(const char *sql)
{
	run(sql);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void write_rows(strata_wh *wh, uint64_t from, uint64_t to, uint64_t step, int salt)
{
	const size_t chunk = 1000000;
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_value vals[9];
	strata_row row = {.ncols = 9, .vals = vals};
	for (uint64_t start = from; start < to; start += chunk * step) {
		strata_txn *t;
		if (strata_txn_begin(wh, "t", &t, &err))
			die("txn begin", &err);
		for (uint64_t i = start; i < to && i < start + chunk * step; i += step) {
			char d[16], e[16], h[40];
			uint64_t m = mix64(i + (uint64_t)salt);
			memset(vals, 0, sizeof(vals));
			vals[0].v.i64 = (int64_t)i;
			vals[1].v.i64 = (int64_t)(m >> 20) + salt;
			vals[2].v.i32 = (int32_t)(m % 100000);
			vals[3].v.f64 = (double)(m % 1000000) / 100.0;
			snprintf(d, sizeof(d), "d%05u", (unsigned)(m % 50000));
			snprintf(e, sizeof(e), "cat%03u", (unsigned)(i % 200));
			snprintf(h, sizeof(h), "%016" PRIx64 "%016" PRIx64, m, mix64(m));
			vals[4].v.s.ptr = (const uint8_t *)d;
			vals[4].v.s.len = (uint32_t)strlen(d);
			vals[5].v.s.ptr = (const uint8_t *)e;
			vals[5].v.s.len = (uint32_t)strlen(e);
			vals[6].v.b = m & 1;
			vals[7].v.f64 = (double)i / 3.0;
			vals[8].v.s.ptr = (const uint8_t *)h;
			vals[8].v.s.len = 32;
			if (strata_txn_put(t, NULL, &row, &err))
				die("txn put", &err);
		}
		uint64_t v;
		if (strata_txn_commit(t, NULL, &v, NULL, &err))
			die("txn commit", &err);
	}
	strata_arena_free(a);
}

static void job(strata_wh *wh, uint32_t b, bool is_sort)
{
	strata_err err;
	strata_bucket_view v;
	if (strata_bucket_view_load(wh, "t", "", b, strata_now_us(), &v, &err))
		die("bucket view", &err);
	strata_job_plan plan;
	if (is_sort)
		strata_sort_plan(&v, 0, &plan);
	else
		strata_compact_major_plan(&v, true, &plan);
	strata_job_ctl ctl = {.owner = "bench_duckdb"};
	strata_job_result res;
	if (plan.ninputs && strata_job_execute(wh, &v, &plan, &ctl, &res, &err))
		die("job", &err);
	strata_bucket_view_free(&v);
}

/* "['f1', 'f2', ...]" of the live files */
static char *live_files(strata_wh *wh)
{
	strata_err err;
	strata_mf_snap *snap;
	strata_table_def t;
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) ||
	    strata_mf_table_get(snap, "t", &t, &err) ||
	    strata_mf_table_files(snap, t.id, a, &fs, &n, &err))
		die("file list", &err);
	strata_buf b = {0};
	strata_buf_printf(&b, "[");
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		if (fs[i].removed_version || fs[i].is_deleted)
			continue;
		char path[4096];
		strata_file_path(strata_wh_mf(wh), "t", "", &fs[i], path, sizeof(path));
		strata_buf_printf(&b, "%s'%s'", k++ ? ", " : "", path);
	}
	strata_buf_printf(&b, "]");
	strata_buf_putc(&b, 0);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return (char *)b.data;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define AGG "count(*), sum(pk), sum(a), sum(b), sum(c), max(d), max(e), count_if(f), sum(g), max(h)"

static void full_scans(const char *wh_dir, const char *files, int reps, bool with_parquet,
		       const char *label, double base[2])
{
	char sql_s[512], *sql_p = malloc(strlen(files) + 512);
	snprintf(sql_s, sizeof(sql_s), "SELECT " AGG " FROM strata_scan('%s', 't')", wh_dir);
	sprintf(sql_p, "SELECT " AGG " FROM read_parquet(%s)", files);
	for (int threads = 1; threads <= 2; threads++) {
		char set[32];
		snprintf(set, sizeof(set), "SET threads=%d", threads);
		exec(set);
		double bs = 1e9, bp = 1e9;
		for (int r = 0; r < reps; r++) {
			double ts = run(sql_s);
			bs = ts < bs ? ts : bs;
			if (with_parquet) {
				double tp = run(sql_p);
				bp = tp < bp ? tp : bp;
			}
		}
		if (with_parquet) {
			printf("  %-28s threads=%d  strata_scan %.3f s   read_parquet %.3f s   "
			       "ratio %.2fx of read_parquet's speed\n",
			       label, threads, bs, bp, bp / bs);
		} else {
			printf("  %-28s threads=%d  strata_scan %.3f s   (%.2fx the compacted "
			       "table's time)\n",
			       label, threads, bs, base ? bs / base[threads - 1] : 0);
		}
		if (with_parquet && base)
			base[threads - 1] = bs;
	}
	free(sql_p);
}

int main(void)
{
	uint64_t rows = env_u64("BENCH_DUCKDB_ROWS", 10000000);
	int reps = (int)env_u64("STRATA_BENCH_REPEAT", 3);
	int nlook = (int)env_u64("STRATA_BENCH_LOOKUPS", 50);
	const char *build = getenv("STRATA_BUILD");
	char ext[4096], cwd[2048];
	if (!build || !*build)
		build = "build";
	if (build[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(ext, sizeof(ext), "%s/%s/strata.duckdb_extension", cwd, build);
	else
		snprintf(ext, sizeof(ext), "%s/strata.duckdb_extension", build);
	if (access(ext, R_OK) != 0) {
		printf("SKIPPED: no extension at %s\n", ext);
		return 0;
	}
	const char *base = getenv("STRATA_BENCH_DIR");
	if (!base || !*base)
		base = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/strata-bench-duckdb-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	strata_err err;
	strata_wh *wh;
	if (strata_wh_open(dir, true, &wh, &err))
		die("warehouse", &err);
	const char *props[] = {"write.bucket.num=4"};
	if (strata_table_create(wh, "t",
				"pk BIGINT NOT NULL PRIMARY KEY, a BIGINT, b INT, c DOUBLE, d STRING, "
				"e STRING, f BOOLEAN, g DOUBLE, h STRING",
				NULL, NULL, props, 1, &err))
		die("create table", &err);
	printf("bench_duckdb: %" PRIu64 " rows, 4 buckets, %s\n", rows, dir);
	double t0 = now_s();
	write_rows(wh, 0, rows, 1, 0);
	double tw = now_s() - t0;
	t0 = now_s();
	for (uint32_t b = 0; b < 4; b++) {
		job(wh, b, true);
		job(wh, b, false);
	}
	printf("  set-up: write %.1f s, sort + major compaction %.1f s\n", tw, now_s() - t0);
	char *files = live_files(wh);
	strata_wh_close(wh); /* never open twice in one process (LMDB) */

	duckdb_config cfg;
	char *oerr = NULL;
	duckdb_create_config(&cfg);
	duckdb_set_config(cfg, "allow_unsigned_extensions", "true");
	if (duckdb_open_ext(NULL, &db, cfg, &oerr) == DuckDBError || duckdb_connect(db, &con))
		die("duckdb open", NULL);
	duckdb_destroy_config(&cfg);
	char sql[8192];
	snprintf(sql, sizeof(sql), "LOAD '%s'", ext);
	exec(sql);
	printf("1. full scan, major-compacted (4 Parquet files), best of %d:\n", reps);
	double compacted[2] = {0, 0};
	full_scans(dir, files, reps, true, "compacted", compacted);

	printf("2. point lookups, threads=1, p50 of %d random keys:\n", nlook);
	exec("SET threads=1");
	double *ls = calloc((size_t)nlook, sizeof(double)), *lp = calloc((size_t)nlook, sizeof(double));
	char *sql_p = malloc(strlen(files) + 512);
	for (int i = 0; i < nlook; i++) {
		uint64_t k = mix64((uint64_t)i * 7919) % rows;
		snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', key := %" PRIu64 ")",
			 dir, k);
		ls[i] = run(sql);
		sprintf(sql_p, "SELECT * FROM read_parquet(%s) WHERE pk = %" PRIu64, files, k);
		lp[i] = run(sql_p);
	}
	qsort(ls, (size_t)nlook, sizeof(double), dbl_cmp);
	qsort(lp, (size_t)nlook, sizeof(double), dbl_cmp);
	printf("  strata_scan key := x   p50 %.2f ms\n", ls[nlook / 2] * 1e3);
	printf("  read_parquet pk = x    p50 %.2f ms\n", lp[nlook / 2] * 1e3);
	printf("  ratio %.2fx of read_parquet's time\n", ls[nlook / 2] / lp[nlook / 2]);
	free(ls);
	free(lp);
	free(sql_p);

	duckdb_disconnect(&con);
	duckdb_close(&db);
	if (strata_wh_open(dir, false, &wh, &err))
		die("warehouse", &err);
	t0 = now_s();
	write_rows(wh, 0, rows, 2, 1);
	printf("3. merge cost: %" PRIu64 " keys updated in row files (%.1f s), full scan again:\n",
	       (rows + 1) / 2, now_s() - t0);
	strata_wh_close(wh);
	duckdb_create_config(&cfg);
	duckdb_set_config(cfg, "allow_unsigned_extensions", "true");
	if (duckdb_open_ext(NULL, &db, cfg, &oerr) == DuckDBError || duckdb_connect(db, &con))
		die("duckdb open", NULL);
	duckdb_destroy_config(&cfg);
	snprintf(sql, sizeof(sql), "LOAD '%s'", ext);
	exec(sql);
	full_scans(dir, files, reps, false, "half in row files", compacted);
	duckdb_disconnect(&con);
	duckdb_close(&db);
	free(files);
	if (!getenv("STRATA_BENCH_KEEP")) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_duckdb: could not remove %s\n", dir);
	}
	return 0;
}

#endif
