/*
 * bench/bench_catalog.c — the two manifest backends side by side, in one
 * run: the embedded LMDB manifest and a PostgreSQL catalog (issue 13).  A
 * benchmark, not a test: it prints figures, ratios and the goals next to
 * them, and asserts nothing.
 *
 * The PostgreSQL server is a throw-away one started for the run
 * (tests/util/tu_pg.h: initdb into a scratch directory under $TMPDIR,
 * pg_ctl on a free loopback port, fsync on, synchronous_commit on, stopped
 * by its PID at exit), so its data directory, the LMDB warehouses and the
 * fsync probe all live on the same disk.  Without PostgreSQL the run says
 * "catalog: skipped (...)" and exits 0.
 *
 * Part 1, commit latency: BENCH_COMMITS (300, after 10 of warm-up) commits
 * of a 10-row writer transaction (strata_txn_commit: one row file written
 * and fsynced, then the manifest commit) into a one-bucket table, on each
 * backend, interleaved commit by commit with one bare fsync of a small
 * file (pwrite 128 bytes + fsync) — p50 and p99 of each.  Also the
 * manifest commit alone (strata_mf_commit_write of one file entry, no data
 * file), which is what the backend adds.  Goal: PostgreSQL's p50 within 3x
 * of LMDB's.
 *
 * Part 2, 100,000 file entries (BENCH_ENTRIES): committed straight into
 * the manifest, 1,000 a commit, as row files of a 1,024-bucket table whose
 * files exist but are empty (stratad's consistency check wants them) and
 * where no job is due (sort.min_files 1000, sort.max_delay_s 7 days).
 * Planning time: a snapshot plus strata_mf_table_files() of the table,
 * best and median of 5.  stratad idle: one stratad (scan_interval_s 10,
 * the default) after its first scan, utime + stime from /proc over
 * BENCH_IDLE_S (60) seconds; for the catalog, the CPU of the PostgreSQL
 * server's processes over the same window too.  Goal: stratad under 1% of
 * a core.
 *
 * Part 3, jobs per second on one catalog: a table of BENCH_JOB_BUCKETS
 * (1,024) buckets, each holding 4 row files of BENCH_JOB_ROWS (250) rows
 * (4 commits), so every bucket is due one sort (sort.min_files 4); 1, then
 * 2, then 3 stratad (each its own owner, as on three hosts; one worker
 * each, scan_interval_s 1, peer_ttl_s 3) on a fresh copy; the time from
 * starting them until no row file is left, and the sorted files per
 * second.  The machine's cores bound the scaling (2 here, shared with the
 * server and the benchmark): the figure shows that the catalog does not
 * serialize the daemons, not the speed-up of more hosts.
 *
 * Environment: BENCH_COMMITS, BENCH_ENTRIES, BENCH_IDLE_S,
 * BENCH_JOB_BUCKETS, BENCH_JOB_ROWS; BENCH_SKIP_LATENCY, BENCH_SKIP_ENTRIES,
 * BENCH_SKIP_JOBS (=1) skip a part; STRATA_KEEP_TMP keeps the scratch
 * directories.
 */
#include "bench/bench_util.h"
#include "table/table.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small utilities --------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v = s && *s ? strtoull(s, NULL, 10) : def;
	return v ? v : 1;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Quantile q of v[0..n) (sorts v). */
static double quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), dbl_cmp);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_catalog: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static const char *pg_port_uri; /* database strata as the superuser */

/* Run sql on the server (database strata, as the superuser). */
static void pg_sql(const char *sql)
{
	PGconn *c = tu_pg_connect("strata");
	if (!tu_pg_exec(c, sql)) /* it says why on stderr */
		exit(1);
	PQfinish(c);
}

/* A fresh database name's catalog URI (created empty), into out. */
static void pg_db(const char *name, char *out, size_t n)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pg_sql(sql);
	tu_pg_uri("postgres", NULL, name, out, n);
}

/* A warehouse: a catalog (name a database to create, data files under
 * dir/name-data) or a directory dir/name. */
static strata_wh *wh_new(bool is_pg, const char *dir, const char *name, char *path, size_t n)
{
	strata_wh *wh;
	strata_err err;
	if (is_pg) {
		char data[4096];
		pg_db(name, path, n);
		snprintf(data, sizeof(data), "%s/%s-data", dir, name);
		if (strata_wh_create(path, data, &wh, &err))
			die("init the catalog", &err);
	} else {
		snprintf(path, n, "%s/%s", dir, name);
		if (strata_wh_open(path, true, &wh, &err))
			die("init the warehouse", &err);
	}
	return wh;
}

/* ---- stratad -------------------------------------------------------------------------- */

/* CPU of the PostgreSQL server: its postmaster and every child of it. */
static double pg_cpu_s(void)
{
	pid_t pm = tu_pg_postmaster_pid();
	double sum = bench_cpu_s(pm);
	FILE *p = popen("ps -e -o pid=,ppid=", "r");
	int pid, ppid;
	while (p && fscanf(p, "%d %d", &pid, &ppid) == 2)
		if (ppid == pm)
			sum += bench_cpu_s(pid);
	if (p)
		pclose(p);
	return sum;
}

static void write_text(const char *path, const char *text)
{
	if (tu_write_file(path, text, strlen(text)) != 0)
		die(path, NULL);
}

/* ---- part 1: commit latency ------------------------------------------------------------------ */

/* One transaction into table: n rows {k: first + i * step, v: value}. */
static void commit_kv(strata_wh *wh, const char *table, int64_t first, int64_t step, int64_t n,
		      const char *value)
{
	strata_err err;
	strata_txn *t;
	if (strata_txn_begin(wh, table, &t, &err))
		die("begin", &err);
	for (int64_t i = 0; i < n; i++) {
		json_t *j = json_pack("{s:I, s:s}", "k", (json_int_t)(first + i * step), "v", value);
		if (strata_txn_put_json(t, j, &err))
			die("put", &err);
		json_decref(j);
	}
	uint64_t v;
	if (strata_txn_commit(t, NULL, &v, NULL, &err))
		die("commit", &err);
}

static void commit_rows(strata_wh *wh, int64_t first)
{
	commit_kv(wh, "t", first, 1, 10, "a value of some thirty bytes..");
}

static void commit_entry(strata_wh *wh, int i)
{
	strata_err err;
	strata_file_stats st;
	strata_file_stats_init(&st);
	st.rows = 10;
	st.bytes = 1000;
	uint8_t key[8] = {0};
	strata_buf_append(&st.key_min, key, 8);
	strata_buf_append(&st.key_max, key, 8);
	char name[32];
	snprintf(name, sizeof(name), "m%07d.avro", i);
	strata_mf_new_file nf = {.partition = "", .part_buckets = 1, .bucket = 0,
				 .format = STRATA_FMT_AVRO, .name = name, .schema_version = 1,
				 .stats = &st};
	strata_mf_write w = {.table = "m", .schema_version = 1, .files = &nf, .nfiles = 1};
	uint64_t v;
	bool rep;
	if (strata_mf_commit_write(strata_wh_mf(wh), &w, &v, &rep, &err))
		die("manifest commit", &err);
	strata_file_stats_free(&st);
}

static void fsync_once(int fd)
{
	char buf[128];
	memset(buf, 'x', sizeof(buf));
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || fsync(fd) != 0)
		die("fsync probe", NULL);
}

typedef struct lat {
	const char *what;
	double *ms;
} lat;

static void lat_print(const char *label, double *v, size_t n, double *p50, double *p99)
{
	*p50 = quantile(v, n, 0.5);
	*p99 = quantile(v, n, 0.99);
	printf("latency: %-46s p50 %7.3f ms  p99 %7.3f ms\n", label, *p50, *p99);
}

static void bench_latency(const char *dir)
{
	size_t n = env_u64("BENCH_COMMITS", 300), warm = 10;
	char pth[2][4096];
	strata_wh *wh[2];
	strata_err err;
	const char *props[] = {"write.bucket.num=1"};
	for (int b = 0; b < 2; b++) {
		wh[b] = wh_new(b == 1, dir, b ? "lat_pg" : "lat_lmdb", pth[b], sizeof(pth[b]));
		if (strata_table_create(wh[b], "t", "k BIGINT PRIMARY KEY, v STRING", NULL, NULL, props,
					1, &err) ||
		    strata_table_create(wh[b], "m", "k BIGINT PRIMARY KEY, v STRING", NULL, NULL, props,
					1, &err))
			die("create table", &err);
	}
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/fsync-probe", dir);
	int fd = open(probe, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die(probe, NULL);
	double *v[5];
	for (int k = 0; k < 5; k++)
		v[k] = calloc(n, sizeof(double));
	for (size_t i = 0; i < n + warm; i++) {
		double t[6];
		t[0] = bench_now_s();
		commit_rows(wh[0], (int64_t)i * 10);
		t[1] = bench_now_s();
		commit_rows(wh[1], (int64_t)i * 10);
		t[2] = bench_now_s();
		fsync_once(fd);
		t[3] = bench_now_s();
		commit_entry(wh[0], (int)i);
		t[4] = bench_now_s();
		commit_entry(wh[1], (int)i);
		t[5] = bench_now_s();
		if (i < warm)
			continue;
		for (int k = 0; k < 5; k++)
			v[k][i - warm] = (t[k + 1] - t[k]) * 1e3;
	}
	close(fd);
	double p50[5], p99[5];
	printf("latency: %zu commits each, interleaved; the catalog, the LMDB warehouse and the "
	       "probe on one disk (%s)\n",
	       n, dir);
	lat_print("10-row transaction, LMDB", v[0], n, &p50[0], &p99[0]);
	lat_print("10-row transaction, PostgreSQL", v[1], n, &p50[1], &p99[1]);
	lat_print("one bare fsync of a small file", v[2], n, &p50[2], &p99[2]);
	lat_print("manifest commit alone (1 entry), LMDB", v[3], n, &p50[3], &p99[3]);
	lat_print("manifest commit alone (1 entry), PostgreSQL", v[4], n, &p50[4], &p99[4]);
	printf("latency: PostgreSQL / LMDB, 10-row transaction p50: %.2fx (goal: at most 3x: %s); "
	       "p99 %.2fx\n",
	       p50[1] / p50[0], p50[1] <= 3 * p50[0] ? "met" : "MISSED", p99[1] / p99[0]);
	printf("latency: in fsyncs: LMDB %.1f, PostgreSQL %.1f (p50 / p50 of one fsync); manifest "
	       "alone: PostgreSQL / LMDB %.2fx\n",
	       p50[0] / p50[2], p50[1] / p50[2], p50[4] / p50[3]);
	for (int k = 0; k < 5; k++)
		free(v[k]);
	strata_wh_close(wh[0]);
	strata_wh_close(wh[1]);
}

/* ---- part 2: 100,000 entries: planning and idle ----------------------------------------------- */

#define IDLE_BUCKETS 1024

typedef struct entries_res {
	double fill_s, plan_best_ms, plan_med_ms, idle_pct, first_scan_ms, server_pct;
} entries_res;

static void bench_entries_one(bool is_pg, const char *dir, size_t entries, double idle_s,
			      entries_res *res)
{
	const char *name = is_pg ? "ent_pg" : "ent_lmdb";
	char whp[4096];
	strata_err err;
	strata_wh *wh = wh_new(is_pg, dir, name, whp, sizeof(whp));
	const char *props[] = {"write.bucket.num=1024"};
	if (strata_table_create(wh, "idle", "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL,
				props, 1, &err))
		die("create table", &err);
	if (bench_fill_entries(wh, "idle", IDLE_BUCKETS, entries, STRATA_FMT_AVRO, &res->fill_s))
		die("fill the table with entries", NULL);
	/* planning: a snapshot and every entry of the table */
	double ms[5];
	size_t nfiles = 0;
	for (int r = 0; r < 5; r++) {
		double t0 = bench_now_s();
		strata_mf_snap *s;
		strata_table_def td;
		strata_arena *a = strata_arena_new();
		strata_file_entry *f;
		if (strata_mf_snap_open(strata_wh_mf(wh), &s, &err) ||
		    strata_mf_table_get(s, "idle", &td, &err) ||
		    strata_mf_table_files(s, td.id, a, &f, &nfiles, &err))
			die("plan", &err);
		strata_mf_snap_close(s);
		strata_arena_free(a);
		ms[r] = (bench_now_s() - t0) * 1e3;
	}
	res->plan_best_ms = quantile(ms, 5, 0);
	res->plan_med_ms = quantile(ms, 5, 0.5);
	strata_wh_close(wh);
	printf("entries: %-10s %zu entries committed in %.1f s of commits; planning (snapshot + "
	       "%zu entries): best %.0f ms, median %.0f ms\n",
	       is_pg ? "PostgreSQL" : "LMDB", entries, res->fill_s, nfiles, res->plan_best_ms,
	       res->plan_med_ms);
	/* stratad idle over them */
	char cfg[4200], log[4200], sock[200], text[8192];
	snprintf(cfg, sizeof(cfg), "%s/%s.ini", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	snprintf(text, sizeof(text),
		 "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 10\nlog_level = warn\n"
		 "[policy]\nsort.min_files = 1000\nsort.max_delay_s = 604800\nsort.max_bytes = 16GiB\n"
		 "clean.orphan_scan_s = 0\n",
		 whp, sock);
	write_text(cfg, text);
	pid_t pid = bench_spawn_stratad(cfg, log);
	if (!bench_wait_ready(sock, 1200)) {
		fprintf(stderr, "bench_catalog: stratad did not start (see %s)\n", log);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	while (bench_status_num(sock, "last_scan_age_s") < 0)
		bench_sleep_s(0.1);
	res->first_scan_ms = bench_status_num(sock, "last_scan_ms");
	bench_sleep_s(1);
	double c0 = bench_cpu_s(pid), s0 = is_pg ? pg_cpu_s() : 0, w0 = bench_now_s();
	bench_sleep_s(idle_s);
	double c1 = bench_cpu_s(pid), s1 = is_pg ? pg_cpu_s() : 0, w1 = bench_now_s();
	res->idle_pct = 100 * (c1 - c0) / (w1 - w0);
	res->server_pct = 100 * (s1 - s0) / (w1 - w0);
	printf("entries: %-10s stratad idle: %.3f s of CPU in %.0f s = %.3f%% of a core (goal: under "
	       "1%%: %s); first scan %.0f ms",
	       is_pg ? "PostgreSQL" : "LMDB", c1 - c0, w1 - w0, res->idle_pct,
	       res->idle_pct < 1 ? "met" : "MISSED", res->first_scan_ms);
	if (is_pg)
		printf("; the PostgreSQL server meanwhile: %.3f%% of a core", res->server_pct);
	printf("\n");
	bench_stop(pid);
}

static void bench_entries(const char *dir)
{
	size_t entries = env_u64("BENCH_ENTRIES", 100000);
	double idle_s = (double)env_u64("BENCH_IDLE_S", 60);
	entries_res r[2] = {{0}};
	bench_entries_one(false, dir, entries, idle_s, &r[0]);
	bench_entries_one(true, dir, entries, idle_s, &r[1]);
	printf("entries: PostgreSQL / LMDB: filling %.1fx, planning %.1fx (best), stratad idle CPU "
	       "%.3f%% vs %.3f%% of a core\n",
	       r[1].fill_s / r[0].fill_s, r[1].plan_best_ms / r[0].plan_best_ms, r[1].idle_pct,
	       r[0].idle_pct);
}

/* ---- part 3: jobs per second with 1, 2 and 3 stratad ---------------------------------------------- */

/* Live row files of table j (and live columnar ones into *columnar, if
 * not NULL). */
static size_t row_files(strata_wh *wh, size_t *columnar)
{
	strata_err err;
	strata_mf_snap *s;
	strata_table_def td;
	strata_arena *a = strata_arena_new();
	strata_file_entry *f;
	size_t n = 0, live = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &s, &err) ||
	    strata_mf_table_get(s, "j", &td, &err) ||
	    strata_mf_table_files(s, td.id, a, &f, &n, &err))
		die("count row files", &err);
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		live += f[i].format == STRATA_FMT_AVRO && f[i].removed_version == 0;
		col += f[i].format == STRATA_FMT_PARQUET && f[i].removed_version == 0;
	}
	if (columnar)
		*columnar = col;
	strata_mf_snap_close(s);
	strata_arena_free(a);
	return live;
}

static double bench_jobs_n(const char *dir, int ndaemons, uint32_t buckets, uint32_t rows)
{
	char name[32], whp[4096], props0[64];
	snprintf(name, sizeof(name), "jobs_%d", ndaemons);
	strata_err err;
	strata_wh *wh = wh_new(true, dir, name, whp, sizeof(whp));
	snprintf(props0, sizeof(props0), "write.bucket.num=%u", buckets);
	const char *props[] = {props0};
	if (strata_table_create(wh, "j", "k BIGINT PRIMARY KEY, v STRING", NULL, NULL, props, 1,
				&err))
		die("create table", &err);
	for (int c = 0; c < 4; c++)
		commit_kv(wh, "j", c * 3, 7, (int64_t)buckets * rows, "some value of a row in a bucket");
	size_t due = row_files(wh, NULL);
	pid_t pids[3];
	char sock[3][200];
	double t0 = bench_now_s();
	for (int d = 0; d < ndaemons; d++) {
		char cfg[4200], log[4200], text[8192];
		snprintf(cfg, sizeof(cfg), "%s/%s-%d.ini", dir, name, d);
		snprintf(log, sizeof(log), "%s/%s-%d.log", dir, name, d);
		snprintf(sock[d], sizeof(sock[d]), "%s/%s-%d.sock", dir, name, d);
		snprintf(text, sizeof(text),
			 "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nlog_level = warn\n"
			 "workers = 1\npeer_ttl_s = 3\n[policy]\nsort.min_files = 4\n"
			 "clean.orphan_scan_s = 0\n",
			 whp, sock[d]);
		write_text(cfg, text);
		pids[d] = bench_spawn_stratad(cfg, log);
	}
	double deadline = t0 + 600;
	size_t left = due;
	size_t sorted = 0;
	while ((left = row_files(wh, &sorted)) > 0 && bench_now_s() < deadline)
		bench_sleep_s(0.05);
	double dt = bench_now_s() - t0;
	for (int d = 0; d < ndaemons; d++)
		bench_stop(pids[d]);
	strata_wh_close(wh);
	if (left) {
		printf("jobs: %d stratad: %zu row files still left after 600 s (see %s/%s-*.log)\n",
		       ndaemons, left, dir, name);
		return 0;
	}
	double per_s = (double)sorted / dt;
	printf("jobs: %d stratad on one catalog: %zu sorts (%zu row files into %zu sorted files) in "
	       "%.2f s = %.1f jobs/s\n",
	       ndaemons, sorted, due, sorted, dt, per_s);
	return per_s;
}

static void bench_jobs(const char *dir)
{
	uint32_t buckets = (uint32_t)env_u64("BENCH_JOB_BUCKETS", 1024);
	uint32_t rows = (uint32_t)env_u64("BENCH_JOB_ROWS", 250);
	double r[3];
	for (int n = 1; n <= 3; n++)
		r[n - 1] = bench_jobs_n(dir, n, buckets, rows);
	if (r[0] > 0)
		printf("jobs: 2 stratad / 1: %.2fx, 3 stratad / 1: %.2fx (%ld cores here)\n", r[1] / r[0],
		       r[2] / r[0], sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	strata_log_set_level(STRATA_LOG_ERROR);
	char why[512];
	pg_port_uri = tu_pg_start(why, sizeof(why));
	if (!pg_port_uri) {
		printf("catalog: skipped (no PostgreSQL: %s)\n", why);
		return 0;
	}
	const char *dir = tu_tmpdir();
	printf("catalog: PostgreSQL on 127.0.0.1:%d (data in %s), scratch %s\n", tu_pg_port(),
	       tu_pg_dir(), dir);
	if (!bench_env_flag("BENCH_SKIP_LATENCY"))
		bench_latency(dir);
	else
		printf("latency: skipped (BENCH_SKIP_LATENCY is set)\n");
	if (!bench_env_flag("BENCH_SKIP_ENTRIES"))
		bench_entries(dir);
	else
		printf("entries: skipped (BENCH_SKIP_ENTRIES is set)\n");
	if (!bench_env_flag("BENCH_SKIP_JOBS"))
		bench_jobs(dir);
	else
		printf("jobs: skipped (BENCH_SKIP_JOBS is set)\n");
	return 0;
}
