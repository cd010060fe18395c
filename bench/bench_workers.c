/*
 * bench/bench_workers.c — do two job workers scale?  (issue 16, item 4)
 *
 * stratad runs jobs on a pool of workers (daemon.workers), one job per
 * bucket at a time.  This bench measures, in one run, the same work done
 * by one worker and by two: a table of two buckets with equal work in each
 * (rows routed by key hash; the split is printed), and
 *   1. sort: each bucket holds C row files (commits of R rows) -> one
 *      Parquet file per bucket;
 *   2. major compaction: each bucket holds C overlapping Parquet runs
 *      (~10 % deletes) -> one file per bucket.
 * One worker runs bucket 0's job then bucket 1's on one thread; two
 * workers run both at once on two threads sharing one strata_wh, as
 * stratad's workers do (view load, plan, strata_job_execute: claim,
 * intent, outputs, fsync, manifest commit).  Each rep starts from a fresh
 * copy of a template warehouse, the order of the two variants alternates,
 * and the scaling is wall(1 worker) / wall(2 workers): 2.0 is perfect, the
 * goal is >= 1.7.  Wall and CPU seconds are both printed, with the load
 * average: on a shared machine the second core may be busy with others'
 * work, and CPU time tells that apart from contention inside strata.
 * Between reps a pure CPU loop (no I/O, no locks) measures the machine's
 * own 2-thread ceiling at that moment, so a low figure can be told apart:
 * near the ceiling it is the machine, well below it strata's contention.
 * The I/O throttle (io.max_mb_s) is not involved: it is off by default.
 *
 * Benchmarks print; they assert nothing.  Environment: BENCH_SCALE (1.0:
 * C = 8 commits of R = 100,000 rows per table; 0.1 for a quick run),
 * STRATA_BENCH_REPEAT (3), STRATA_BENCH_DIR / TMPDIR (scratch parent).
 */
#include "bench/bench_rows.h"
#include "compact/compact.h"
#include "merge/merge.h"
#include "sort/sort.h"
#include "table/table.h"

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXREPS 16
#define COMMITS 8

static const char *const COLUMNS =
	"pk BIGINT PRIMARY KEY, a BIGINT, b INT, c DOUBLE, d STRING, e STRING, "
	"f BOOLEAN, g DOUBLE, h STRING";

static double scale = 1.0;
static int reps = 3;
static char scratch[PATH_MAX];

/* ---- plumbing --------------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (scratch[0])
		rm_tree(scratch);
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_workers: %s: %s\n", what, err ? err->msg : "failed");
	cleanup();
	exit(1);
}

static void tree_copy(const char *src, const char *dst)
{
	rm_tree(dst);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", src, dst);
	if (system(cmd) != 0)
		die("cp -a", NULL);
}

static strata_wh *wh_open(const char *dir, bool create)
{
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(dir, create, &wh, &err))
		die("open warehouse", &err);
	return wh;
}

/* One commit: keys [0, space) kept with probability 1/every (all when
 * every is 1), deletes for del_permille of them after the first commit. */
static void commit_rows(strata_wh *wh, int64_t space, int every, uint64_t salt,
			unsigned del_permille)
{
	strata_err err;
	strata_txn *txn;
	if (strata_txn_begin(wh, "t", &txn, &err))
		die("txn begin", &err);
	gen_row g;
	for (int64_t k = 0; k < space; k++) {
		if (every > 1 && mix64((uint64_t)k * 31 + salt * 0x1234567) % (uint64_t)every != 0)
			continue;
		bool is_del = del_permille && mix64((uint64_t)k ^ (salt << 40) ^ 0xde1) % 1000 <
						      del_permille;
		gen(&g, k, salt, is_del);
		if (strata_txn_put(txn, NULL, &g.row, &err))
			die("txn put", &err);
	}
	uint64_t v;
	if (strata_txn_commit(txn, NULL, &v, NULL, &err))
		die("txn commit", &err);
}

typedef enum { JOB_SORT, JOB_MAJOR } job_kind;

typedef struct job_arg {
	strata_wh *wh;
	uint32_t bucket;
	job_kind kind;
	uint64_t rows_in, bytes_in;
} job_arg;

/* Load bucket b's view, plan, run: what a stratad worker does. */
static void *job_main(void *p)
{
	job_arg *a = p;
	strata_err err;
	strata_bucket_view v;
	if (strata_bucket_view_load(a->wh, "t", "", a->bucket, strata_now_us(), &v, &err))
		die("bucket view", &err);
	strata_job_plan plan;
	int rc = a->kind == JOB_SORT ? strata_sort_plan(&v, 1ull << 60, &plan) :
				       strata_compact_major_plan(&v, false, &plan);
	if (rc || plan.ninputs == 0)
		die("plan", NULL);
	for (size_t i = 0; i < plan.ninputs; i++) {
		a->rows_in += plan.inputs[i]->rows;
		a->bytes_in += plan.inputs[i]->bytes;
	}
	strata_job_ctl ctl = {.owner = "bench_workers"};
	strata_job_result res;
	if (strata_job_execute(a->wh, &v, &plan, &ctl, &res, &err))
		die(plan.what, &err);
	strata_bucket_view_free(&v);
	return NULL;
}

/* Both buckets' jobs on 1 or 2 threads; wall and CPU seconds. */
static void run_jobs(const char *dir, job_kind kind, int workers, double *wall, double *cpu,
		     uint64_t rows[2])
{
	strata_wh *wh = wh_open(dir, false);
	job_arg a[2] = {{.wh = wh, .bucket = 0, .kind = kind}, {.wh = wh, .bucket = 1, .kind = kind}};
	double t0 = now_s(), c0 = cpu_s();
	if (workers == 1) {
		job_main(&a[0]);
		job_main(&a[1]);
	} else {
		pthread_t th;
		if (pthread_create(&th, NULL, job_main, &a[1]) != 0)
			die("pthread_create", NULL);
		job_main(&a[0]);
		pthread_join(th, NULL);
	}
	*wall = now_s() - t0;
	*cpu = cpu_s() - c0;
	rows[0] = a[0].rows_in;
	rows[1] = a[1].rows_in;
	strata_wh_close(wh);
}

/* The machine's own ceiling right now: a pure CPU loop (no I/O, no locks,
 * no allocation) run twice on one thread vs once on each of two. */
static volatile uint64_t spin_sink;

static void *spin_main(void *p)
{
	uint64_t z = (uint64_t)(uintptr_t)p, n = (uint64_t)(40000000 * scale) + 1000000;
	for (uint64_t i = 0; i < n; i++)
		z = mix64(z);
	spin_sink = z;
	return NULL;
}

static double spin_ratio(void)
{
	double t0 = now_s();
	spin_main((void *)1);
	spin_main((void *)2);
	double one = now_s() - t0;
	t0 = now_s();
	pthread_t th;
	if (pthread_create(&th, NULL, spin_main, (void *)3) != 0)
		die("pthread_create", NULL);
	spin_main((void *)4);
	pthread_join(th, NULL);
	return one / (now_s() - t0);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench(const char *title, const char *tmpl, job_kind kind)
{
	char dir[PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s.run", tmpl);
	double w1[MAXREPS], w2[MAXREPS], c1[MAXREPS], c2[MAXREPS], ratio[MAXREPS], spin[MAXREPS];
	uint64_t rows[2] = {0, 0};
	for (int r = 0; r < reps; r++) {
		/* alternate which variant goes first: both see the same disk */
		for (int k = 0; k < 2; k++) {
			int workers = (k + r) % 2 ? 2 : 1;
			tree_copy(tmpl, dir);
			double w, c;
			run_jobs(dir, kind, workers, &w, &c, rows);
			if (workers == 1) {
				w1[r] = w;
				c1[r] = c;
			} else {
				w2[r] = w;
				c2[r] = c;
			}
		}
		ratio[r] = w1[r] / w2[r];
		spin[r] = spin_ratio();
	}
	rm_tree(dir);
	double lo = ratio[0], hi = ratio[0];
	for (int r = 1; r < reps; r++) {
		lo = ratio[r] < lo ? ratio[r] : lo;
		hi = ratio[r] > hi ? ratio[r] : hi;
	}
	double mw1 = median(w1, reps), mw2 = median(w2, reps);
	double mc1 = median(c1, reps), mc2 = median(c2, reps);
	printf("\n%s: input records per bucket %llu / %llu\n", title, (unsigned long long)rows[0],
	       (unsigned long long)rows[1]);
	printf("  1 worker  (bucket 0 then 1):  wall %7.3f s  CPU %7.3f s  (median of %d)\n", mw1,
	       mc1, reps);
	printf("  2 workers (both at once):     wall %7.3f s  CPU %7.3f s\n", mw2, mc2);
	printf("  scaling, wall(1) / wall(2):   %5.2fx median (range %.2f-%.2f)  goal >= 1.7x\n",
	       median(ratio, reps), lo, hi);
	printf("  CPU(2) / CPU(1):              %5.2f (1.0: no extra work from running together)\n",
	       mc2 / mc1);
	printf("  the machine's ceiling: a pure CPU loop on 2 threads vs 1, between reps: %.2fx "
	       "median\n",
	       median(spin, reps));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	strata_log_set_level(STRATA_LOG_WARN);
	if (getenv("BENCH_SCALE") && atof(getenv("BENCH_SCALE")) > 0)
		scale = atof(getenv("BENCH_SCALE"));
	if (getenv("STRATA_BENCH_REPEAT"))
		reps = atoi(getenv("STRATA_BENCH_REPEAT"));
	reps = reps < 1 ? 1 : reps > MAXREPS ? MAXREPS : reps;
	const char *base = getenv("STRATA_BENCH_DIR");
	if (!base)
		base = getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/strata-bench-workers-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(scratch)) {
		scratch[0] = '\0';
		die("mkdtemp", NULL);
	}
	double load[3] = {0, 0, 0};
	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	int64_t rows = (int64_t)(100000 * scale);
	if (rows < 2000)
		rows = 2000;
	printf("two workers vs one: 2 buckets of equal work, %ld cores online, load average "
	       "%.2f at start, best of %d reps (median shown)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), load[0], reps);
	double t0 = now_s();
	/* sort template: C commits of `rows` rows over both buckets */
	char sort_t[PATH_MAX], major_t[PATH_MAX];
	snprintf(sort_t, sizeof(sort_t), "%s/sort", scratch);
	snprintf(major_t, sizeof(major_t), "%s/major", scratch);
	strata_wh *wh = wh_open(sort_t, true);
	strata_err err;
	const char *props[] = {"write.bucket.num=2"};
	if (strata_table_create(wh, "t", COLUMNS, NULL, NULL, props, 1, &err))
		die("create table", &err);
	for (int c = 0; c < COMMITS; c++)
		commit_rows(wh, rows * COMMITS, COMMITS, (uint64_t)c + 1, 0);
	strata_wh_close(wh);
	/* major template: C overlapping runs (each key with p = 0.2), each sorted */
	wh = wh_open(major_t, true);
	if (strata_table_create(wh, "t", COLUMNS, NULL, NULL, props, 1, &err))
		die("create table", &err);
	for (int c = 0; c < COMMITS; c++) {
		commit_rows(wh, rows * 5 / 4 * 2, 5, (uint64_t)c + 100, c == 0 ? 0 : 100);
		for (uint32_t b = 0; b < 2; b++) {
			job_arg a = {.wh = wh, .bucket = b, .kind = JOB_SORT};
			job_main(&a);
		}
	}
	strata_wh_close(wh);
	printf("set-up %.1f s\n", now_s() - t0);
	bench("1. sort (8 row files -> 1 Parquet file per bucket)", sort_t, JOB_SORT);
	bench("2. major compaction (8 Parquet runs -> 1 file per bucket)", major_t, JOB_MAJOR);
	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("\nload average %.2f at the end; bench_workers took %.1f s\n", load[0], now_s() - t0);
	cleanup();
	return 0;
}
