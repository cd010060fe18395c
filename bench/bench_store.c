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
 *   5. the memory of a big merge on object storage (issue 14: "a job
 *      merging 1 GiB stays under 64 MiB RSS"): 8 Parquet files at level 1
 *      holding BENCH_MERGE_MB (default 256; 1024 for the figure)
 *      MiB in all, keys interleaved across them (each file one sort of a
 *      round of commits of ~1 KiB rows of random text, which zstd cannot
 *      shrink much), merged into level 2 by a process that does only that:
 *      this program again (/proc/self/exe --merge-job WAREHOUSE), so the
 *      set-up's memory is not counted.  Its peak RSS (the child's own
 *      VmHWM: getrusage's ru_maxrss would include what fork() shared with
 *      it, Linux keeping the high-water mark across exec) against the
 *      64 MiB goal, its wall time, requests and bytes.  The gateway's
 *      memstore is sized for it (TU_RGW_MEMSTORE_BYTES).
 *      BENCH_MERGE_WRAP runs the merge process under a tool, e.g.
 *      "valgrind --tool=massif" to see what holds its memory.
 *
 * BENCH_SCALE (default 1) scales the row counts of 1-3.  BENCH_STORE_ONLY=
 * merge runs only 5.  Benchmarks print; they assert nothing.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- 5. the memory of a big merge ----------------------------------------------- */

#define MERGE_INPUTS 8
#define MERGE_GOAL_MIB 64
#define MERGE_STR_BYTES 1000

/* Commit rows pk = i * MERGE_INPUTS + round for i in [from, to), each with
 * MERGE_STR_BYTES of random text from a 64-letter alphabet. */
static void commit_big(strata_wh *wh, int round, int from, int to, uint64_t *rng)
{
	static const char abc[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	char s[MERGE_STR_BYTES + 1];
	strata_txn *t;
	strata_err err = {0};
	if (strata_txn_begin(wh, "t", &t, &err) != 0)
		die("begin", &err);
	for (int i = from; i < to; i++) {
		for (int k = 0; k < MERGE_STR_BYTES; k++) {
			uint64_t x = *rng;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			*rng = x;
			s[k] = abc[x & 63];
		}
		s[MERGE_STR_BYTES] = '\0';
		json_t *o = json_pack("{s:I,s:I,s:s}", "pk", (json_int_t)i * MERGE_INPUTS + round,
				      "a", (json_int_t)i, "s", s);
		if (strata_txn_put_json(t, o, &err) != 0)
			die("put", &err);
		json_decref(o);
	}
	uint64_t v;
	if (strata_txn_commit(t, NULL, &v, NULL, &err) != 0)
		die("commit", &err);
}

/* The peak resident set of this process (VmHWM), KiB; 0 if unknown. */
static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* The child: one merge of level 1 into level 2, and its figures on one
 * line for the parent. */
static int merge_child(const char *whdir)
{
	strata_wh *wh;
	strata_err err = {0};
	if (strata_wh_open(whdir, false, &wh, &err) != 0)
		die("open warehouse", &err);
	strata_bucket_job job;
	strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MERGE);
	job.level = 1;
	strata_bucket_job_out out;
	strata_s3_stats_reset();
	double t0 = now_s();
	if (strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err) != 0)
		die("merge", &err);
	double secs = now_s() - t0;
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	strata_wh_close(wh);
	printf("merge-child %zu %llu %zu %llu %.3f %llu %llu %llu %llu %llu %llu %llu %ld\n",
	       out.jr.files_in, (unsigned long long)out.jr.bytes_in, out.jr.files_out,
	       (unsigned long long)out.jr.bytes_out, secs, (unsigned long long)st.gets,
	       (unsigned long long)st.puts, (unsigned long long)st.heads,
	       (unsigned long long)st.posts, (unsigned long long)st.retries,
	       (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
	       vm_hwm_kib());
	return 0;
}

static void merge_memory(const char *data_base)
{
	int mib = getenv("BENCH_MERGE_MB") ? atoi(getenv("BENCH_MERGE_MB")) : 256;
	if (mib <= 0) {
		printf("big merge: skipped (BENCH_MERGE_MB=0)\n");
		return;
	}
	char dir[600], data[700];
	snprintf(dir, sizeof(dir), "%s/merge", tu_tmpdir());
	snprintf(data, sizeof(data), "%s-merge", data_base);
	strata_wh *wh = make_wh(dir, data);
	/* ~760 bytes of Parquet per row (1000 letters of 6 bits, zstd) */
	int per_input = (int)((double)mib * 1048576.0 / MERGE_INPUTS / 760.0);
	int per_commit = 20000;
	strata_policy pol;
	strata_policy_default(&pol);
	pol.sort_max_bytes = 64ull << 30; /* one sort per round: one file per round */
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	double t0 = now_s();
	for (int r = 0; r < MERGE_INPUTS; r++) {
		for (int from = 0; from < per_input; from += per_commit)
			commit_big(wh, r, from, STRATA_MIN(from + per_commit, per_input), &rng);
		strata_bucket_job job;
		strata_bucket_job_default(&job, STRATA_BUCKET_JOB_SORT);
		job.pol = &pol;
		strata_bucket_job_out out;
		strata_err err = {0};
		if (strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err) != 0)
			die("sort", &err);
	}
	strata_wh_close(wh);
	printf("big merge: set-up (%d rows in %d level-1 files) took %.1f s\n",
	       per_input * MERGE_INPUTS, MERGE_INPUTS, now_s() - t0);
	fflush(stdout);
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		const char *wrap = getenv("BENCH_MERGE_WRAP"); /* e.g. a heap profiler */
		if (wrap && *wrap) {
			char cmd[2048], self[1024];
			ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
			self[n > 0 ? n : 0] = '\0';
			snprintf(cmd, sizeof(cmd), "%s %s --merge-job %s", wrap, self, dir);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		}
		execl("/proc/self/exe", "bench_store", "--merge-job", dir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char line[1024] = "";
	FILE *f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof(line), f) && strncmp(line, "merge-child ", 12) != 0)
		fputs(line, stdout);
	if (f)
		fclose(f);
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("big merge: the merge process failed (status %d)\n", status);
		return;
	}
	size_t fin = 0, fout = 0;
	unsigned long long bin = 0, bout = 0, gets = 0, puts = 0, heads = 0, posts = 0, retries = 0,
			   sent = 0, recvd = 0;
	double secs = 0;
	long hwm = 0;
	if (sscanf(line, "merge-child %zu %llu %zu %llu %lf %llu %llu %llu %llu %llu %llu %llu %ld",
		   &fin, &bin, &fout, &bout, &secs, &gets, &puts, &heads, &posts, &retries, &sent,
		   &recvd, &hwm) != 13) {
		printf("big merge: no figures from the merge process\n");
		return;
	}
	/* VmHWM, not the parent's getrusage(RUSAGE_CHILDREN): Linux carries
	 * a child's high-water mark across exec, so ru_maxrss would count the
	 * set-up's memory that fork() shared with it */
	double rss_mib = (double)hwm / 1024.0;
	printf("big merge of %zu files, %.1f MiB -> %zu files, %.1f MiB on RGW: %.1f s (%.1f MiB/s)\n",
	       fin, (double)bin / 1048576.0, fout, (double)bout / 1048576.0, secs,
	       (double)bin / 1048576.0 / secs);
	printf("big merge: peak RSS of the merge process (VmHWM) %.1f MiB; goal < %d MiB: %s\n",
	       rss_mib, MERGE_GOAL_MIB, rss_mib < MERGE_GOAL_MIB ? "met" : "NOT met");
	printf("big merge: requests: %llu GET, %llu PUT, %llu HEAD, %llu POST (%llu retries); "
	       "%.1f MiB sent, %.1f MiB received\n",
	       gets, puts, heads, posts, retries, (double)sent / 1048576.0,
	       (double)recvd / 1048576.0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--merge-job") == 0)
		return merge_child(argv[2]);

	if (getenv("BENCH_SCALE") && atof(getenv("BENCH_SCALE")) > 0)
		scale = atof(getenv("BENCH_SCALE"));
	int nrows = (int)(20000 * scale), ncommits = 10;
	char data[512];
	const char *given = getenv("STRATA_BENCH_S3");
	if (given && *given) {
		snprintf(data, sizeof(data), "%s/%ld", given, (long)time(NULL));
	} else {
		char why[256];
		/* the big merge's inputs, outputs and the row files before them */
		int mmib = getenv("BENCH_MERGE_MB") ? atoi(getenv("BENCH_MERGE_MB")) : 256;
		char mem[32];
		snprintf(mem, sizeof(mem), "%llu", (unsigned long long)STRATA_MAX(mmib, 256) * 5 << 20);
		setenv("TU_RGW_MEMSTORE_BYTES", mem, 0);
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
	const char *only = getenv("BENCH_STORE_ONLY");
	if (only && strcmp(only, "merge") == 0) {
		merge_memory(data);
		return 0;
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

	/* 5. the memory of a big merge */
	merge_memory(data);
	return 0;
}
