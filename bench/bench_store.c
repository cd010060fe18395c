/*
 * bench/bench_store.c — data files on object storage (issue 14) against
 * the same work on the local disk, in one run.
 *
 * The object store is a Ceph RADOS Gateway: STRATA_BENCH_S3=s3://BUCKET/
 * PREFIX with the AWS environment (AWS_ENDPOINT_URL, keys) names one;
 * otherwise the tests' throw-away RGW on loopback is started
 * (tests/util/tu_rgw: a memstore OSD, so "object storage" here is a local
 * process behind HTTP — the figures measure strata's requests and their
 * round trips, not a disk or a WAN).
 *
 *   1. sort: 10 commits of 20,000 rows (keys interleaved) -> one Parquet
 *      file; wall seconds local vs RGW and their ratio; the RGW run's
 *      requests (GET, PUT, HEAD, POST) and bytes.
 *   2. major compaction of that bucket after 10 more overlapping commits
 *      and a second sort; the same figures.
 *   3. point lookups after it: p50 latency and GETs + HEADs per lookup
 *      with a cold tail cache (emptied before each lookup) and a warm one.
 *   4. orphan scan: a clean's orphan scan of a table prefix holding
 *      BENCH_ORPHAN_OBJECTS (default 10,000) objects (a listing, 1000 a
 *      page): wall seconds and LIST requests.
 *
 * BENCH_SCALE (default 1) scales the row counts.  Benchmarks print; they
 * assert nothing.
 */
#include "clean/clean.h"
#include "jobs/jobs.h"
#include "manifest/manifest.h"
#include "store/store.h"
#include "table/table.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_rgw.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double scale = 1.0;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static strata_wh *make_wh(const char *dir, const char *data)
{
	strata_wh *wh;
	strata_err err = {0};
	if (strata_wh_create(dir, data, &wh, &err) != 0)
		die("create warehouse", &err);
	const char *props[] = {"write.bucket.num=1"};
	if (strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, a BIGINT, s STRING", NULL,
				NULL, props, 1, &err) != 0)
		die("create table", &err);
	return wh;
}

/* Commit c of n: rows pk = i * ncommits + c (interleaved keys). */
static void commit_rows(strata_wh *wh, int c, int ncommits, int nrows)
{
	strata_txn *t;
	strata_err err = {0};
	if (strata_txn_begin(wh, "t", &t, &err) != 0)
		die("begin", &err);
	for (int i = 0; i < nrows; i++) {
		char s[48];
		snprintf(s, sizeof(s), "value-%d-%d", i, c);
		json_t *o = json_pack("{s:I,s:I,s:s}", "pk", (json_int_t)i * ncommits + c, "a",
				      (json_int_t)(i ^ c), "s", s);
		if (strata_txn_put_json(t, o, &err) != 0)
			die("put", &err);
		json_decref(o);
	}
	uint64_t v;
	if (strata_txn_commit(t, NULL, &v, NULL, &err) != 0)
		die("commit", &err);
}

static double run_job(strata_wh *wh, strata_bucket_job_kind kind)
{
	strata_bucket_job job;
	strata_bucket_job_default(&job, kind);
	strata_bucket_job_out out;
	strata_err err = {0};
	double t0 = now_s();
	if (strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err) != 0)
		die("job", &err);
	return now_s() - t0;
}

static void print_requests(const char *what)
{
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	printf("%s: requests: %llu GET, %llu PUT, %llu HEAD, %llu POST, %llu DELETE, %llu LIST; "
	       "%.1f MB sent, %.1f MB received\n",
	       what, (unsigned long long)st.gets, (unsigned long long)st.puts,
	       (unsigned long long)st.heads, (unsigned long long)st.posts,
	       (unsigned long long)st.deletes, (unsigned long long)st.lists,
	       (double)st.bytes_sent / 1e6, (double)st.bytes_received / 1e6);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void lookups(strata_wh *wh, int nkeys, bool is_cold)
{
	int n = 200;
	double *lat = calloc((size_t)n, sizeof(double));
	strata_s3_stats_reset();
	strata_arena *a = strata_arena_new();
	unsigned seed = 7;
	for (int i = 0; i < n; i++) {
		if (is_cold)
			strata_store_s3_cache_clear();
		json_t *key = json_pack("{s:I}", "pk", (json_int_t)(rand_r(&seed) % nkeys));
		strata_row row;
		strata_err err = {0};
		double t0 = now_s();
		if (strata_get_json(wh, "t", key, NULL, a, &row, NULL, NULL, &err) < 0)
			die("get", &err);
		lat[i] = now_s() - t0;
		json_decref(key);
		strata_arena_reset(a);
	}
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	printf("lookups (%s cache): p50 %.2f ms, p99 %.2f ms; %.2f GET + %.2f HEAD per lookup\n",
	       is_cold ? "cold" : "warm", lat[n / 2] * 1e3, lat[n * 99 / 100] * 1e3,
	       (double)st.gets / n, (double)st.heads / n);
	strata_arena_free(a);
	free(lat);
}

int main(void)
{
	if (getenv("BENCH_SCALE") && atof(getenv("BENCH_SCALE")) > 0)
		scale = atof(getenv("BENCH_SCALE"));
	int nrows = (int)(20000 * scale), ncommits = 10;
	char data[512];
	const char *given = getenv("STRATA_BENCH_S3");
	if (given && *given) {
		snprintf(data, sizeof(data), "%s/%ld", given, (long)time(NULL));
	} else {
		char why[256];
		const char *ep = tu_rgw_start(why, sizeof(why));
		if (!ep) {
			printf("bench_store: skipped (no S3 endpoint: %s)\n", why);
			return 0;
		}
		setenv("AWS_ENDPOINT_URL", ep, 1);
		setenv("AWS_REGION", "us-east-1", 1);
		setenv("AWS_ACCESS_KEY_ID", TU_RGW_ACCESS_KEY, 1);
		setenv("AWS_SECRET_ACCESS_KEY", TU_RGW_SECRET_KEY, 1);
		strata_s3 *c;
		strata_err err = {0};
		if (strata_s3_open(NULL, &c, &err) != 0 ||
		    strata_s3_bucket_create(c, "bench", &err) != 0)
			die("bucket", &err);
		strata_s3_close(c);
		snprintf(data, sizeof(data), "s3://bench/run");
	}
	char local_dir[600], s3_dir[600];
	snprintf(local_dir, sizeof(local_dir), "%s/local", tu_tmpdir());
	snprintf(s3_dir, sizeof(s3_dir), "%s/s3", tu_tmpdir());
	strata_wh *wl = make_wh(local_dir, NULL);
	strata_wh *ws = make_wh(s3_dir, data);
	printf("bench_store: data on %s (rows per commit %d)\n", data, nrows);

	/* 1. sort */
	for (int c = 0; c < ncommits; c++) {
		commit_rows(wl, c, ncommits, nrows);
		commit_rows(ws, c, ncommits, nrows);
	}
	double tl = run_job(wl, STRATA_BUCKET_JOB_SORT);
	strata_s3_stats_reset();
	strata_store_s3_cache_clear();
	double ts = run_job(ws, STRATA_BUCKET_JOB_SORT);
	printf("sort of %d rows: local %.2f s, RGW %.2f s, ratio %.2f\n", nrows * ncommits, tl, ts,
	       ts / tl);
	print_requests("sort on RGW");

	/* 2. major compaction */
	for (int c = 0; c < ncommits; c++) {
		commit_rows(wl, c, ncommits, nrows / 2);
		commit_rows(ws, c, ncommits, nrows / 2);
	}
	run_job(wl, STRATA_BUCKET_JOB_SORT);
	run_job(ws, STRATA_BUCKET_JOB_SORT);
	tl = run_job(wl, STRATA_BUCKET_JOB_MAJOR);
	strata_s3_stats_reset();
	strata_store_s3_cache_clear();
	ts = run_job(ws, STRATA_BUCKET_JOB_MAJOR);
	printf("major compaction: local %.2f s, RGW %.2f s, ratio %.2f\n", tl, ts, ts / tl);
	print_requests("major compaction on RGW");

	/* 3. point lookups */
	lookups(ws, nrows * ncommits, true);
	lookups(ws, nrows * ncommits, false);

	/* 4. orphan scan: objects no entry knows, too young to touch */
	int norphans = getenv("BENCH_ORPHAN_OBJECTS") ? atoi(getenv("BENCH_ORPHAN_OBJECTS")) : 10000;
	double t0 = now_s();
	for (int i = 0; i < norphans; i++) {
		char p[700];
		snprintf(p, sizeof(p), "%s/t/_/b0000/zz-orphan-%06d", data, i);
		strata_wfile *w;
		strata_err err = {0};
		if (strata_wfile_open(p, &w, &err) != 0 || strata_wfile_write(w, "x", 1, &err) != 0 ||
		    strata_wfile_commit(w, &err) != 0)
			die("orphan object", &err);
	}
	printf("orphan scan: %d objects made in %.1f s\n", norphans, now_s() - t0);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.orphan_age_s = 86400; /* counted by the listing, none old enough */
	strata_clean_result r;
	strata_err err = {0};
	strata_s3_stats_reset();
	t0 = now_s();
	if (strata_clean_table(ws, "t", &o, &r, &err) != 0)
		die("clean", &err);
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	printf("orphan scan of %d + objects: clean %.2f s, %llu LIST requests\n", norphans,
	       now_s() - t0, (unsigned long long)st.lists);
	strata_wh_close(wl);
	strata_wh_close(ws);
	return 0;
}
