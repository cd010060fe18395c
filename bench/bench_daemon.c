/*
 * bench/bench_daemon.c — stratad's own costs and what it does to a table
 * under sustained ingest.  A benchmark, not a test: it prints figures and
 * asserts nothing.
 *
 * Part 1, idle: a warehouse with 100,000 file entries (BENCH_IDLE_ENTRIES;
 * committed straight into the manifest as row files, 1,024 buckets, about
 * 98 per bucket) where no job is due (sort.min_files 1000, sort.max_delay_s
 * 7 days, sort.max_bytes 16 GiB: the entries' files do not exist).  stratad runs with scan_interval_s 10 (the default) and then
 * 1; its CPU time over BENCH_IDLE_S (60) seconds comes from /proc/PID/stat.
 * Also: the wall time of one forced plan of the whole table (a reload makes
 * the next scan re-read every entry) and of `plan TABLE`.
 *
 * Part 2, sustained ingest: two writer threads commit 4 transactions a
 * second each (400 rows, keys uniform over 100,000, 10% deletes) for
 * BENCH_INGEST_S (300) seconds into a 16-bucket table while stratad governs
 * it (defaults, except scan_interval_s 2, clean.grace_s 10, clean.trash_s 30
 * and [table.ingest] acid.data.retain.hours = 0 so partial compaction drops
 * superseded history within the run).  Every 5 s it samples, from the
 * manifest: live files per bucket (mean, max), row files waiting, live
 * bytes, bytes of replaced files not yet deleted, bytes written by writers
 * and by jobs (from the version log).  Afterwards a major compaction gives
 * the bytes per row of a fully compacted table, from which
 *   space amplification = live bytes / (live keys x compacted bytes per row)
 *   (and with replaced files not yet cleaned, "on disk"; and with only
 *   those past clean.grace_s, which clean may take: its backlog)
 *   write amplification = (writer bytes + job bytes) / writer bytes.
 * BENCH_GRACE_S sets clean.grace_s (10), BENCH_TRASH_S clean.trash_s (30).
 * BENCH_RATE multiplies the commit rate (default 1; `make bench-daemon` runs
 * 1 then 2).  Runs: a level-0 row file is one sorted run; at level >= 1 the
 * files one job wrote at one level (same added_version) are one run, split
 * between keys.  For the second half of the ingest (steady state) it prints
 * each figure of issue 16 item 1 with its goal beside it: runs per bucket
 * (mean, max; goal at most 8), runs at one level >= 1 of one bucket (max;
 * goal at most merge.fanout), space amplification (goal 1.3; with replaced
 * files not yet cleaned, goal 2.0) and write amplification (goal 3).  A
 * bucket over 8 runs in a steady-state sample is printed as it is found,
 * with its row files and its runs on each level.
 * Back-pressure stays off (the table sets no write.*-level0-files): the run
 * measures whether the daemon keeps up on its own, and a stalled writer
 * would hide that; the waits are printed to show they are zero.
 * Results: build/bench/daemon-ingest.csv and docs/daemon-ingest.png (at
 * BENCH_RATE 2: daemon-ingest-2x.csv and .png; gnuplot, `make bench-daemon`
 * installs gnuplot-nox if missing).  BENCH_SCALE=0.1 shortens the durations
 * (not the number of entries); BENCH_INGEST_S sets the ingest alone.
 *
 * Part 3, a clean over tombstones (clean/clean.c, "Looking for a marked
 * file"): for each N of BENCH_TOMBSTONES (comma-separated, default
 * 20000,100000), a 16-bucket table of N row-file entries committed straight
 * into the manifest (empty files under their names), all removed by one job
 * commit per bucket, then marked deleted and moved into .trash/ by one
 * clean (clean.trash_s 3600).  Timed, in this process (no daemon): three
 * cleans over the N tombstones inside their trash window (median, with the
 * stat() calls each made through the I/O vtable), then, once a clean with
 * trash_s 0 has unlinked the files and forgotten the entries, three cleans
 * of the same table with no tombstone (median): the ratio of the two is
 * what the tombstones cost a clean.  The machine's load average is printed
 * beside each figure.  Run it on the code before a change and after, and
 * compare.  BENCH_SKIP_CLEAN=1 skips the part.
 */
#include "bench/bench_util.h"
#include "clean/clean.h"
#include "daemon/daemon.h"
#include "table/table.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A duration: the variable if set, else def scaled by $BENCH_SCALE (at
 * least 1). */
static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	if (s && *s)
		return strtoull(s, NULL, 10);
	const char *scale = getenv("BENCH_SCALE");
	double f = scale && *scale ? strtod(scale, NULL) : 1.0;
	uint64_t v = (uint64_t)((double)def * (f > 0 ? f : 1.0));
	return v ? v : 1;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- part 1: idle over many entries ------------------------------------------------------ */

static void bench_idle(const char *dir)
{
	const char *ent = getenv("BENCH_IDLE_ENTRIES"); /* not scaled: 100k is the point */
	size_t entries = ent && *ent ? strtoull(ent, NULL, 10) : 100000;
	double idle_s = (double)env_u64("BENCH_IDLE_S", 60);
	char whp[4096], cfg[4096], log[4096], sock[200];
	snprintf(whp, sizeof(whp), "%s/idle-wh", dir);
	snprintf(cfg, sizeof(cfg), "%s/idle.ini", dir);
	snprintf(log, sizeof(log), "%s/idle.log", dir);
	snprintf(sock, sizeof(sock), "%s/idle.sock", dir);
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(whp, true, &wh, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	const char *props[] = {"write.bucket.num=1024"};
	strata_table_create(wh, "idle", "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL, props, 1,
			    &err);
	double t0 = bench_now_s();
	if (bench_fill_entries(wh, "idle", 1024, entries, STRATA_FMT_PARQUET, NULL) != 0)
		return;
	strata_wh_close(wh);
	printf("idle: %zu file entries committed in %.1f s (1024 buckets, ~%zu per bucket)\n", entries,
	       bench_now_s() - t0, entries / 1024);
	for (int pass = 0; pass < 2; pass++) {
		int interval = pass == 0 ? 10 : 1;
		char text[2048];
		snprintf(text, sizeof(text),
			 "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = %d\nlog_level = warn\n"
			 "[policy]\nsort.min_files = 1000\nsort.max_delay_s = 604800\nsort.max_bytes = 16GiB\n"
			 "clean.orphan_scan_s = 0\n",
			 whp, sock, interval);
		write_file(cfg, text);
		pid_t pid = bench_spawn_stratad(cfg, log);
		if (!bench_wait_ready(sock, 600)) {
			fprintf(stderr, "bench: stratad did not start (see %s)\n", log);
			kill(pid, SIGKILL);
			return;
		}
		/* the first scan reads every entry; wait for it */
		while (bench_status_num(sock, "last_scan_age_s") < 0)
			bench_sleep_s(0.1);
		double first_ms = bench_status_num(sock, "last_scan_ms");
		bench_sleep_s(1);
		double c0 = bench_cpu_s(pid), w0 = bench_now_s();
		bench_sleep_s(idle_s);
		double c1 = bench_cpu_s(pid), w1 = bench_now_s();
		printf("idle: scan_interval_s %2d: stratad used %.3f s of CPU in %.0f s = %.3f%% of one "
		       "core (first scan, reading all %zu entries: %.0f ms; RSS %ld KiB)\n",
		       interval, c1 - c0, w1 - w0, 100 * (c1 - c0) / (w1 - w0), entries, first_ms,
		       rss_kib(pid));
		if (pass == 0) {
			/* a forced re-plan of every entry, three times */
			for (int k = 0; k < 3; k++) {
				json_t *r = bench_admin(sock, "reload"); /* the next scan re-reads everything */
				json_decref(r);
				bench_sleep_s(1.5);
				double scans = bench_status_num(sock, "last_scan_ms");
				printf("idle: forced re-plan of all %zu entries: %.0f ms\n", entries, scans);
			}
			double p0 = bench_now_s();
			json_t *r = bench_admin(sock, "plan idle");
			json_t *tabs = json_object_get(r, "tables");
			printf("idle: `strata admin plan idle`: %.0f ms for %zu buckets\n",
			       (bench_now_s() - p0) * 1e3,
			       json_array_size(json_object_get(json_array_get(tabs, 0), "buckets")));
			json_decref(r);
		}
		bench_stop(pid);
	}
}

/* ---- part 2: sustained ingest ---------------------------------------------------------- */

#define KEYS 100000

typedef struct ingest {
	strata_wh *wh;
	atomic_int stop;
	pthread_mutex_t mu;
	uint8_t live[KEYS / 8 + 1];
	size_t live_keys;
	atomic_ulong commits, rows;
	int64_t grace_us; /* clean.grace_s: replaced files younger than it are kept for readers */
	FILE *over_log;   /* set: sample_take() prints each bucket over 8 runs there */
} ingest;

typedef struct writer_arg {
	ingest *g;
	unsigned seed;
	double period_s; /* between commits: 0.25 s / BENCH_RATE */
} writer_arg;

static void *writer_main(void *arg)
{
	writer_arg *wa = arg;
	ingest *g = wa->g;
	double next = bench_now_s();
	while (!atomic_load(&g->stop)) {
		strata_err err;
		strata_txn *t;
		if (strata_txn_begin(g->wh, "ingest", &t, &err) != 0)
			break;
		int keys[400];
		bool del[400];
		for (int i = 0; i < 400; i++) {
			keys[i] = (int)(rand_r(&wa->seed) % KEYS);
			del[i] = rand_r(&wa->seed) % 10 == 0;
			json_t *o;
			if (del[i])
				o = json_pack("{s:i,s:s}", "pk", keys[i], "_op", "delete");
			else
				o = json_pack("{s:i,s:s,s:f}", "pk", keys[i], "v", "abcdefghijklmnopqrstuvwx",
					      "x", (double)rand_r(&wa->seed) / 1000.0);
			strata_txn_put_json(t, o, &err);
			json_decref(o);
		}
		uint64_t v;
		bool rep;
		/* the lock keeps the model in commit order with the other writer */
		pthread_mutex_lock(&g->mu);
		int rc = strata_txn_commit(t, NULL, &v, &rep, &err);
		if (rc == 0) {
			for (int i = 0; i < 400; i++) {
				/* the last put of a key in a transaction wins */
				bool is_last = true;
				for (int k = i + 1; k < 400 && is_last; k++)
					is_last = keys[k] != keys[i];
				if (!is_last)
					continue;
				bool was = (g->live[keys[i] / 8] >> (keys[i] % 8)) & 1;
				bool is = !del[i];
				if (is && !was) {
					g->live[keys[i] / 8] |= (uint8_t)(1u << (keys[i] % 8));
					g->live_keys++;
				} else if (!is && was) {
					g->live[keys[i] / 8] &= (uint8_t) ~(1u << (keys[i] % 8));
					g->live_keys--;
				}
			}
			atomic_fetch_add(&g->commits, 1);
			atomic_fetch_add(&g->rows, 400);
		}
		pthread_mutex_unlock(&g->mu);
		if (rc)
			fprintf(stderr, "bench: commit failed: %s\n", err.msg);
		next += wa->period_s;
		double d = next - bench_now_s();
		if (d > 0)
			bench_sleep_s(d);
	}
	return NULL;
}

typedef struct sample {
	double t;
	uint64_t version;
	size_t files, l0, max_bucket;
	size_t runs, max_runs;   /* sorted runs: all buckets, the fullest bucket */
	size_t max_level_runs;   /* runs at one level >= 1 of one bucket, the most */
	size_t max_l0;           /* row files of one bucket, the most */
	uint64_t live_bytes, removed_bytes;
	uint64_t due_bytes;      /* of removed_bytes: past clean.grace_s, clean may take them */
	uint64_t writer_bytes, job_bytes;
	size_t live_keys;
} sample;

typedef struct run_key {
	uint32_t bucket, level;
	uint64_t id; /* level 0: the file; above: the version that added it */
} run_key;

typedef struct id_bytes {
	uint64_t id, bytes;
} id_bytes;

static int id_bytes_cmp(const void *pa, const void *pb)
{
	const id_bytes *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int run_key_cmp(const void *pa, const void *pb)
{
	const run_key *a = pa, *b = pb;
	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

/* Bytes added by write versions and by job versions since *from (updates
 * it), using the file entries (still known: clean forgets them only after
 * the trash period). */
static void sample_take(ingest *g, uint64_t *from, sample *s)
{
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	if (strata_mf_snap_open(strata_wh_mf(g->wh), &snap, &err) != 0)
		return;
	strata_table_def t;
	strata_file_entry *f;
	size_t n;
	int64_t now_us = strata_now_us();
	if (strata_mf_table_get(snap, "ingest", &t, &err) == 0 &&
	    strata_mf_table_files(snap, t.id, a, &f, &n, &err) == 0) {
		s->version = t.version;
		size_t per[64] = {0}, runs[64] = {0}, lvl[64][64];
		memset(lvl, 0, sizeof(lvl));
		/* a run: a row file, or the live files one job wrote at one level */
		run_key *rk = calloc(n + 1, sizeof(*rk));
		size_t nrk = 0;
		for (size_t i = 0; i < n; i++) {
			if (f[i].removed_version == 0) {
				s->files++;
				s->live_bytes += f[i].bytes;
				s->l0 += f[i].level == 0;
				if (f[i].bucket >= 64)
					continue;
				per[f[i].bucket]++;
				rk[nrk++] = (run_key){f[i].bucket, f[i].level < 64 ? f[i].level : 63,
						      f[i].level ? f[i].added_version : f[i].id};
			} else if (!f[i].is_deleted) {
				s->removed_bytes += f[i].bytes;
				if (now_us - f[i].removed_us >= g->grace_us)
					s->due_bytes += f[i].bytes;
			}
		}
		qsort(rk, nrk, sizeof(*rk), run_key_cmp);
		for (size_t i = 0; i < nrk; i++)
			if (i == 0 || run_key_cmp(&rk[i], &rk[i - 1]) != 0) {
				runs[rk[i].bucket]++;
				lvl[rk[i].bucket][rk[i].level]++;
			}
		free(rk);
		for (int b = 0; b < 64; b++) {
			if (runs[b] > 8 && g->over_log) {
				/* which runs: the row files, then the runs at each level */
				fprintf(g->over_log,
					"ingest: %.0f s, bucket %d: %zu runs (%zu row files", s->t,
					b, runs[b],
					lvl[b][0]);
				for (int l = 1; l < 64; l++)
					if (lvl[b][l])
						fprintf(g->over_log, ", %zu at level %d", lvl[b][l], l);
				fprintf(g->over_log, ") at version %" PRIu64 "\n", t.version);
			}
			if (per[b] > s->max_bucket)
				s->max_bucket = per[b];
			s->runs += runs[b];
			if (runs[b] > s->max_runs)
				s->max_runs = runs[b];
			if (lvl[b][0] > s->max_l0)
				s->max_l0 = lvl[b][0];
			for (int l = 1; l < 64; l++)
				if (lvl[b][l] > s->max_level_runs)
					s->max_level_runs = lvl[b][l];
		}
		/* the files' bytes by id: a version's added files are looked up,
		 * not searched for (a scan of every entry per added file was
		 * O(versions x files x entries) in the writers' process) */
		id_bytes *ib = calloc(n + 1, sizeof(*ib));
		for (size_t i = 0; i < n; i++)
			ib[i] = (id_bytes){f[i].id, f[i].bytes};
		qsort(ib, n, sizeof(*ib), id_bytes_cmp);
		strata_version_rec *vs;
		size_t nv;
		while (*from <= t.version &&
		       strata_mf_versions_list(snap, t.id, *from, 512, a, &vs, &nv, &err) == 0 && nv) {
			for (size_t k = 0; k < nv; k++) {
				uint64_t bytes = 0;
				for (uint32_t x = 0; x < vs[k].nadded; x++) {
					id_bytes key = {vs[k].added[x], 0};
					const id_bytes *hit = bsearch(&key, ib, n, sizeof(*ib), id_bytes_cmp);
					if (hit)
						bytes += hit->bytes;
				}
				if (vs[k].kind == STRATA_V_WRITE)
					s->writer_bytes += bytes;
				else if (vs[k].kind != STRATA_V_CLEAN && vs[k].kind != STRATA_V_DDL)
					s->job_bytes += bytes;
				*from = vs[k].version + 1;
			}
		}
		free(ib);
	}
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	pthread_mutex_lock(&g->mu);
	s->live_keys = g->live_keys;
	pthread_mutex_unlock(&g->mu);
}

static double metric(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);
	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return 0;
}

static void bench_ingest(const char *dir)
{
	double secs = (double)env_u64("BENCH_INGEST_S", 300);
	char whp[4096], cfg[4096], log[4096], sock[200], csv[4096];
	snprintf(whp, sizeof(whp), "%s/ingest-wh", dir);
	snprintf(cfg, sizeof(cfg), "%s/ingest.ini", dir);
	snprintf(log, sizeof(log), "%s/ingest.log", dir);
	snprintf(sock, sizeof(sock), "%s/ingest.sock", dir);
	const char *rs = getenv("BENCH_RATE");
	double rate = rs && *rs ? strtod(rs, NULL) : 1.0;
	if (!(rate > 0))
		rate = 1.0;
	char sfx[32] = "";
	if (rate != 1.0)
		snprintf(sfx, sizeof(sfx), "-%gx", rate);
	const char *b = getenv("STRATA_BUILD");
	snprintf(csv, sizeof(csv), "%s/bench/daemon-ingest%s.csv", b ? b : "build", sfx);
	strata_policy defpol;
	strata_policy_default(&defpol); /* the bench sets no merge.fanout: the default's */
	ingest *g = calloc(1, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	strata_err err;
	if (strata_wh_open(whp, true, &g->wh, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	/* BENCH_TABLE_PROP (one key=value) and BENCH_POLICY (lines for
	 * [policy], ';' between them) are for trying a setting without a rebuild */
	const char *extra_prop = getenv("BENCH_TABLE_PROP");
	const char *props[] = {"write.bucket.num=16", "acid.data.retain.hours=1",
			       extra_prop && *extra_prop ? extra_prop : NULL};
	strata_table_create(g->wh, "ingest", "pk BIGINT NOT NULL PRIMARY KEY, v STRING, x DOUBLE", NULL,
			    NULL, props, props[2] ? 3 : 2, &err);
	char extra_pol[1024] = "";
	const char *ep = getenv("BENCH_POLICY");
	for (size_t i = 0; ep && ep[i] && i + 1 < sizeof(extra_pol); i++)
		extra_pol[i] = ep[i] == ';' ? '\n' : ep[i];
	/* BENCH_GRACE_S: clean.grace_s (10); BENCH_TRASH_S: clean.trash_s (30) */
	const char *gs = getenv("BENCH_GRACE_S"), *ts = getenv("BENCH_TRASH_S");
	int grace_s = gs && *gs ? atoi(gs) : 10;
	g->grace_us = (int64_t)grace_s * 1000000;
	int trash_s = ts && *ts ? atoi(ts) : 30;
	char text[4096];
	snprintf(text, sizeof(text),
		 "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 2\nlog_level = info\n"
		 "[policy]\nclean.grace_s = %d\nclean.trash_s = %d\n%s\n"
		 "[table.ingest]\nacid.data.retain.hours = 0\n",
		 whp, sock, grace_s, trash_s, extra_pol);
	write_file(cfg, text);
	pid_t pid = bench_spawn_stratad(cfg, log);
	if (!bench_wait_ready(sock, 600)) {
		fprintf(stderr, "bench: stratad did not start (see %s)\n", log);
		kill(pid, SIGKILL);
		return;
	}
	double cpu0 = bench_cpu_s(pid);
	writer_arg wa[2] = {{g, 1, 0.25 / rate}, {g, 2, 0.25 / rate}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, writer_main, &wa[i]);
	sample *ss = calloc((size_t)(secs / 5) + 64, sizeof(sample));
	size_t ns = 0;
	uint64_t from = 1, wb = 0, jb = 0;
	double t0 = bench_now_s(), take_max_s = 0;
	while (bench_now_s() - t0 < secs + 30) {
		if (bench_now_s() - t0 >= secs && !atomic_load(&g->stop)) {
			atomic_store(&g->stop, 1);
			for (int i = 0; i < 2; i++)
				pthread_join(th[i], NULL);
		}
		bench_sleep_s(5);
		sample s = {.t = bench_now_s() - t0};
		g->over_log = s.t >= secs / 2 && s.t <= secs ? stdout : NULL; /* the steady state */
		double took = bench_now_s();
		sample_take(g, &from, &s);
		took = bench_now_s() - took;
		if (took > take_max_s)
			take_max_s = took;
		wb += s.writer_bytes;
		jb += s.job_bytes;
		s.writer_bytes = wb;
		s.job_bytes = jb;
		ss[ns++] = s;
	}
	double cpu1 = bench_cpu_s(pid);
	json_t *m = bench_admin(sock, "metrics");
	const char *mtext = m ? json_string_value(json_object_get(m, "text")) : NULL;
	char *mt = strdup(mtext ? mtext : "");
	json_decref(m);
	/* compacted bytes per row: a major compaction of every bucket */
	json_t *r = bench_admin(sock, "compact ingest --major");
	json_decref(r);
	for (int i = 0; i < 600; i++) {
		json_t *j = bench_admin(sock, "jobs");
		bool busy = j && (json_array_size(json_object_get(j, "running")) ||
				  json_array_size(json_object_get(j, "queued")));
		json_decref(j);
		if (!busy)
			break;
		bench_sleep_s(0.2);
	}
	sample fin = {0};
	uint64_t f2 = 1u << 30;
	g->over_log = NULL;
	sample_take(g, &f2, &fin);
	double bpr = fin.live_keys ? (double)fin.live_bytes / (double)fin.live_keys : 1;
	bench_stop(pid);
	FILE *out = fopen(csv, "w");
	if (out)
		fprintf(out, "# t_s version files l0 files_per_bucket max_bucket live_bytes removed_bytes "
			     "writer_bytes job_bytes live_keys space_amp disk_amp write_amp runs_per_bucket "
			     "max_runs max_level_runs max_l0 due_bytes\n");
	for (size_t i = 0; i < ns && out; i++) {
		sample *s = &ss[i];
		double logical = (double)s->live_keys * bpr;
		fprintf(out, "%.1f %" PRIu64 " %zu %zu %.2f %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			     " %zu %.3f %.3f %.3f %.2f %zu %zu %zu %" PRIu64 "\n",
			s->t, s->version, s->files, s->l0, (double)s->files / 16.0, s->max_bucket,
			s->live_bytes, s->removed_bytes, s->writer_bytes, s->job_bytes, s->live_keys,
			logical > 0 ? (double)s->live_bytes / logical : 0,
			logical > 0 ? (double)(s->live_bytes + s->removed_bytes) / logical : 0,
			s->writer_bytes ? (double)(s->writer_bytes + s->job_bytes) / (double)s->writer_bytes :
					  1,
			(double)s->runs / 16.0, s->max_runs, s->max_level_runs, s->max_l0, s->due_bytes);
	}
	if (out)
		fclose(out);
	/* summary over the second half of the ingest (steady state) */
	double fpb = 0, sa = 0, da = 0, dd = 0, maxb = 0, rpb = 0, maxr = 0, maxlr = 0, maxl0 = 0;
	const sample *first = NULL, *lastss = NULL;
	int k = 0;
	for (size_t i = 0; i < ns; i++) {
		if (ss[i].t < secs / 2 || ss[i].t > secs)
			continue;
		double logical = (double)ss[i].live_keys * bpr;
		fpb += (double)ss[i].files / 16.0;
		rpb += (double)ss[i].runs / 16.0;
		maxb = ss[i].max_bucket > maxb ? (double)ss[i].max_bucket : maxb;
		maxr = ss[i].max_runs > maxr ? (double)ss[i].max_runs : maxr;
		maxlr = ss[i].max_level_runs > maxlr ? (double)ss[i].max_level_runs : maxlr;
		maxl0 = ss[i].max_l0 > maxl0 ? (double)ss[i].max_l0 : maxl0;
		sa += (double)ss[i].live_bytes / logical;
		da += (double)(ss[i].live_bytes + ss[i].removed_bytes) / logical;
		dd += (double)(ss[i].live_bytes + ss[i].due_bytes) / logical;
		if (!first)
			first = &ss[i];
		lastss = &ss[i];
		k++;
	}
	sample *last = ns ? &ss[ns - 1] : &fin;
	double wa_end = last->writer_bytes ? (double)(last->writer_bytes + last->job_bytes) /
						     (double)last->writer_bytes :
					     1;
	/* write amplification of the steady state: the bytes of its samples */
	double wa_ss = first && lastss->writer_bytes > first->writer_bytes ?
			       (double)(lastss->writer_bytes - first->writer_bytes + lastss->job_bytes -
					first->job_bytes) /
				       (double)(lastss->writer_bytes - first->writer_bytes) :
			       0;
	printf("ingest: %lu commits (%lu rows) in %.0f s by 2 writers at %g x 4 commits/s into 16 "
	       "buckets; %zu live keys at the end, %.1f compacted bytes per row\n",
	       (unsigned long)atomic_load(&g->commits), (unsigned long)atomic_load(&g->rows), secs, rate,
	       fin.live_keys, bpr);
#define GOAL(x, max) ((x) <= (max) ? "met" : "NOT met")
	if (k) {
		printf("ingest: steady state (second half, %d samples), each with its goal (issue 16):\n", k);
		printf("ingest:   runs per bucket             %5.1f mean, %3.0f max   goal max <= 8: %s\n",
		       rpb / k, maxr, GOAL(maxr, 8));
		printf("ingest:   runs at one level >= 1      %5.0f max              goal <= merge.fanout "
		       "%lld: %s\n",
		       maxlr, (long long)defpol.merge_fanout, GOAL(maxlr, (double)defpol.merge_fanout));
		printf("ingest:   row files in one bucket     %5.0f max (level 0)\n", maxl0);
		printf("ingest:   live files per bucket       %5.1f mean, %3.0f max\n", fpb / k, maxb);
		printf("ingest:   space amplification         %5.2f                  goal <= 1.3: %s\n",
		       sa / k, GOAL(sa / k, 1.3));
		printf("ingest:   ... with files not yet cleaned %5.2f               goal <= 2.0: %s\n",
		       da / k, GOAL(da / k, 2.0));
		/* what clean.grace_s alone adds: every replaced byte waits at least
		 * that long, so the second figure is at least the first plus
		 * (bytes replaced a second) x grace / compacted size */
		double dt = lastss->t - first->t;
		double replaced = (double)(lastss->writer_bytes - first->writer_bytes) +
				  (double)(lastss->job_bytes - first->job_bytes) -
				  ((double)lastss->live_bytes - (double)first->live_bytes);
		double logical_mid = (double)lastss->live_keys * bpr;
		if (dt > 0 && logical_mid > 0)
			printf("ingest:   (%.0f KiB replaced a second; clean.grace_s %d alone adds at least "
			       "%.2f to it)\n",
			       replaced / dt / 1024.0, grace_s, replaced / dt * grace_s / logical_mid);
		/* the same without the grace window: what clean could have taken
		 * and has not yet — whether clean keeps up */
		printf("ingest:   ... with files past clean.grace_s not yet cleaned %5.2f  goal <= 2.0: "
		       "%s\n",
		       dd / k, GOAL(dd / k, 2.0));
		printf("ingest:   write amplification         %5.2f                  goal <= 3: %s\n",
		       wa_ss, GOAL(wa_ss, 3.0));
	}
#undef GOAL
	printf("ingest: whole run: write amplification %.2f (%.1f MiB by writers, %.1f MiB by jobs); "
	       "stratad CPU %.1f s = %.1f%% of one core\n",
	       wa_end, (double)last->writer_bytes / 1048576.0, (double)last->job_bytes / 1048576.0,
	       cpu1 - cpu0, 100 * (cpu1 - cpu0) / (secs + 30));
	printf("ingest: a sample took at most %.0f ms (this process, beside the writers)\n",
	       take_max_s * 1e3);
	uint64_t bp_slowed = 0, bp_waited = 0, bp_us = 0;
	strata_txn_stall_totals(&bp_slowed, &bp_waited, &bp_us);
	printf("ingest: back-pressure: %llu commits slowed, %llu waited for a sort, %.1f s in all "
	       "(write.slow-level0-files / write.max-level0-files: off unless the table sets them)\n",
	       (unsigned long long)bp_slowed, (unsigned long long)bp_waited, (double)bp_us / 1e6);
	static const char *const kinds[] = {"sort", "merge", "partial-compaction", "clean"};
	for (size_t i = 0; i < 4; i++) {
		char name[128];
		snprintf(name, sizeof(name), "strata_jobs_total{kind=\"%s\",result=\"ok\"}", kinds[i]);
		double jobs = metric(mt, name);
		snprintf(name, sizeof(name), "strata_job_duration_seconds_sum{kind=\"%s\"}", kinds[i]);
		double sum = metric(mt, name);
		snprintf(name, sizeof(name), "strata_job_duration_seconds_count{kind=\"%s\"}", kinds[i]);
		double cnt = metric(mt, name);
		printf("ingest: %-18s %5.0f ok, mean %.1f ms\n", kinds[i], jobs,
		       cnt > 0 ? 1e3 * sum / cnt : 0);
	}
	printf("ingest: job bytes read %.1f MiB, written %.1f MiB; %.0f conflicts\n",
	       metric(mt, "strata_job_read_bytes_total") / 1048576.0,
	       metric(mt, "strata_job_written_bytes_total") / 1048576.0,
	       metric(mt, "strata_job_conflicts_total"));
	free(mt);
	/* the plot */
	char plot[8192];
	snprintf(plot, sizeof(plot),
		 "set terminal png size 1000,1000\n"
		 "set output 'docs/daemon-ingest%s.png'\n"
		 "set multiplot layout 3,1 title 'stratad under sustained ingest: 2 writers x %g commits/s "
		 "x 400 rows, 16 buckets, retention 0 h'\n"
		 "set grid\nset key top left\nset xlabel 'seconds'\n"
		 "set arrow from %.0f, graph 0 to %.0f, graph 1 nohead dt 2\n"
		 "set ylabel 'sorted runs'\n"
		 "plot '%s' using 1:15 with lines lw 2 title 'runs per bucket (mean)', "
		 "'' using 1:16 with lines title 'runs in the fullest bucket', "
		 "'' using 1:17 with lines title 'runs at one level >= 1 (most)', "
		 "'' using 1:($4/16) with lines title 'row files waiting per bucket', "
		 "8 with lines dt 3 title 'goal: 8 runs'\n"
		 "set ylabel 'space amplification'\nset yrange [0:*]\n"
		 "plot '%s' using 1:12 with lines lw 2 title 'live bytes / compacted size', "
		 "'' using 1:13 with lines title 'with replaced files not yet cleaned', "
		 "1.3 with lines dt 3 title 'goal 1.3', 2.0 with lines dt 3 title 'goal 2.0'\n"
		 "set ylabel 'write amplification'\n"
		 "plot '%s' using 1:14 with lines lw 2 title '(writer + job bytes) / writer bytes', "
		 "3 with lines dt 3 title 'goal 3'\n"
		 "unset multiplot\n",
		 sfx, 4 * rate, secs, secs, csv, csv, csv);
	char gp[4200];
	snprintf(gp, sizeof(gp), "%s/plot.gp", dir);
	write_file(gp, plot);
	char cmd[8400];
	snprintf(cmd, sizeof(cmd), "gnuplot %s", gp);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0)
		printf("ingest: gnuplot not found: no plot (`make bench-daemon` installs gnuplot-nox); data "
		       "in %s\n",
		       csv);
	else if (system(cmd) == 0)
		printf("ingest: plot written to docs/daemon-ingest%s.png (data: %s)\n", sfx, csv);
	strata_wh_close(g->wh);
	free(ss);
	free(g);
}

/* ---- part 3: a clean over tombstones ------------------------------------------------- */

static atomic_int clean_stats; /* stat() calls through the I/O vtable */

static int counting_stat(const char *p, struct stat *st)
{
	atomic_fetch_add(&clean_stats, 1);
	return strata_io_system.stat(p, st);
}

/* One clean of table (grace 0, trash_s, no orphan scan) with its stat()
 * calls counted into *nstats: its wall time in ms, or -1 (said on stderr). */
static double clean_ms(strata_wh *wh, const char *table, int64_t trash_s, int *nstats,
		       strata_clean_result *r)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = trash_s;
	o.orphan_age_s = -1;
	static strata_io_ops ops;
	ops = strata_io_system;
	ops.stat = counting_stat;
	atomic_store(&clean_stats, 0);
	strata_io_set(&ops);
	strata_err err;
	double t0 = bench_now_s();
	int rc = strata_clean_table(wh, table, &o, r, &err);
	double ms = (bench_now_s() - t0) * 1e3;
	strata_io_set(NULL);
	*nstats = atomic_load(&clean_stats);
	if (rc) {
		fprintf(stderr, "bench: clean of %s failed: %s\n", table, err.msg);
		return -1;
	}
	return ms;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of three cleans (trash_s 3600); the stat() calls of the last. */
static double clean_median_ms(strata_wh *wh, const char *table, int *nstats)
{
	double v[3];
	strata_clean_result r;
	for (int i = 0; i < 3; i++)
		if ((v[i] = clean_ms(wh, table, 3600, nstats, &r)) < 0)
			return -1;
	qsort(v, 3, sizeof(double), dbl_cmp);
	return v[1];
}

static double load1(void)
{
	double l[1] = {0};
	return getloadavg(l, 1) == 1 ? l[0] : 0;
}

/* Remove every entry of table: one job commit per bucket, no outputs. */
static int remove_all(strata_wh *wh, const char *table)
{
	strata_mf *mf = strata_wh_mf(wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def t;
	strata_partition *ps;
	strata_file_entry *fs;
	size_t np = 0, n = 0;
	strata_err err;
	int rc = strata_mf_snap_open(mf, &snap, &err);
	if (rc == 0)
		rc = strata_mf_table_get(snap, table, &t, &err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, t.id, a, &ps, &np, &err);
	if (rc == 0)
		rc = strata_mf_table_files(snap, t.id, a, &fs, &n, &err);
	strata_mf_snap_close(snap);
	uint64_t *ids = calloc(n + 1, sizeof(uint64_t));
	for (uint32_t b = 0; rc == 0 && np == 1 && b < ps[0].buckets; b++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (fs[i].bucket == b && fs[i].removed_version == 0)
				ids[k++] = fs[i].id;
		strata_mf_job j = {.table_id = t.id, .part_id = ps[0].id, .bucket = b,
				   .kind = STRATA_V_SORT, .schema_version = t.schema_version,
				   .inputs = ids, .ninputs = k, .note = "bench: remove all"};
		uint64_t v;
		rc = k ? strata_mf_commit_job(mf, &j, &v, &err) : 0;
	}
	if (rc)
		fprintf(stderr, "bench: could not remove the entries of %s: %s\n", table, err.msg);
	free(ids);
	strata_arena_free(a);
	return rc;
}

static void bench_tombstones_one(const char *dir, size_t n)
{
	char whp[4096];
	snprintf(whp, sizeof(whp), "%s/tomb-%zu-wh", dir, n);
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(whp, true, &wh, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	const char *props[] = {"write.bucket.num=16"};
	if (strata_table_create(wh, "tomb", "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL,
				props, 1, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		strata_wh_close(wh);
		return;
	}
	double t0 = bench_now_s();
	if (bench_fill_entries(wh, "tomb", 16, n, STRATA_FMT_AVRO, NULL) != 0 ||
	    remove_all(wh, "tomb") != 0) {
		strata_wh_close(wh);
		return;
	}
	double fill_s = bench_now_s() - t0;
	int nstats = 0;
	strata_clean_result r;
	double first_ms = clean_ms(wh, "tomb", 3600, &nstats, &r);
	if (first_ms < 0 || r.files_deleted != n) {
		fprintf(stderr, "bench: the first clean moved %zu of %zu files\n", r.files_deleted, n);
		strata_wh_close(wh);
		return;
	}
	double l0 = load1();
	int in_stats = 0, none_stats = 0;
	double in_ms = clean_median_ms(wh, "tomb", &in_stats);
	double l1 = load1();
	/* forget them all: unlinked (trash_s 0) and forgotten in one run */
	double gone_ms = clean_ms(wh, "tomb", 0, &nstats, &r);
	size_t unlinked = r.files_unlinked;
	double none_ms = gone_ms < 0 ? -1 : clean_median_ms(wh, "tomb", &none_stats);
	double l2 = load1();
	strata_wh_close(wh);
	if (in_ms < 0 || none_ms < 0)
		return;
	printf("clean: %zu tombstones (16 buckets; entries made and removed in %.1f s, marked and "
	       "trashed by one clean in %.0f ms)\n",
	       n, fill_s, first_ms);
	printf("clean: %zu tombstones inside their trash window: %.1f ms a clean (median of 3; "
	       "%d stat() calls; %.2f us a tombstone; load %.2f-%.2f)\n",
	       n, in_ms, in_stats, in_ms * 1e3 / (double)n, l0, l1);
	printf("clean: the same table with none left (%zu unlinked and forgotten by one clean in "
	       "%.0f ms): %.1f ms a clean (median of 3; %d stat() calls; load %.2f)\n",
	       unlinked, gone_ms, none_ms, none_stats, l2);
	printf("clean: ratio, a clean over %zu tombstones / over none: %.1f\n", n,
	       none_ms > 0 ? in_ms / none_ms : 0);
}

static void bench_tombstones(const char *dir)
{
	const char *s = getenv("BENCH_TOMBSTONES");
	char list[256];
	snprintf(list, sizeof(list), "%s", s && *s ? s : "20000,100000");
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = strtoull(tok, NULL, 10);
		if (n)
			bench_tombstones_one(dir, n);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	strata_log_set_level(STRATA_LOG_ERROR);
	char tmpl[4096];
	const char *base = getenv("TMPDIR");
	snprintf(tmpl, sizeof(tmpl), "%s/strata-bench-daemon-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	if (!bench_env_flag("BENCH_SKIP_IDLE"))
		bench_idle(tmpl);
	else
		printf("idle: skipped (BENCH_SKIP_IDLE is set)\n");
	if (!bench_env_flag("BENCH_SKIP_INGEST"))
		bench_ingest(tmpl);
	else
		printf("ingest: skipped (BENCH_SKIP_INGEST is set)\n");
	if (!bench_env_flag("BENCH_SKIP_CLEAN"))
		bench_tombstones(tmpl);
	else
		printf("clean: skipped (BENCH_SKIP_CLEAN is set)\n");
	if (!getenv("STRATA_KEEP_TMP")) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", tmpl);
	}
	return 0;
}
