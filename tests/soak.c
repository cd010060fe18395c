/*
 * tests/soak.c — `make soak`: a long mixed run on one warehouse, checked at
 * the end against the oracle.  Not part of `make test`.
 *
 * For SOAK_SECONDS (600) of writing:
 *   - a real stratad with small thresholds governs the warehouse (sorts,
 *     merges, cleans; scan every second, two workers);
 *   - SOAK_WRITERS (3) writer threads, each owning one oracle table
 *     (soak0, soak1, ...): random transactions and DDL, each checked by the
 *     oracle's model — point gets, time travel by version and timestamp,
 *     incremental reads, partition scans — and every version re-read now
 *     and then (oracle_step, oracle_check_random_reads,
 *     oracle_check_all_versions);
 *   - one writer process: a shell loop of `strata write` on table "side",
 *     one transaction per process, each with an idempotency token, with a
 *     model simple enough to check from the count of commits;
 *   - SOAK_READERS (2) reader threads doing unchecked time travel, scans,
 *     point gets and incremental reads on every table while clean runs
 *     (leases against clean: any error is an anomaly);
 *   - a monitor thread: admin commands (status, jobs, plan, metrics), a
 *     watcher that leaves and comes back, and a manual major compaction of
 *     "side" now and then.
 * Then the writers stop, stratad reaches a steady state and is stopped with
 * SIGTERM (it must exit 0), and the checks run: every version of every
 * oracle table equals the model, "side" equals its model, a clean with no
 * grace leaves no file the manifest does not know (oracle_check_files).
 *
 * The report: operations (commits, DDL, checked reads, unchecked reads,
 * admin commands), jobs by kind and result, conflicts, and anomalies —
 * which must be 0 (exit status 1 otherwise).  SOAK_SEED, SOAK_SECONDS,
 * SOAK_WRITERS, SOAK_READERS and TMPDIR (where the warehouse lives) change
 * the run; the seed is printed for replay.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include "clean/clean.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SOAK_MAX_WRITERS 8
#define SOAK_SIDE_KEYS 500

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

typedef struct soak {
	strata_wh *wh;
	char whp[4096], sock[200], log[4096], dir[4096];
	double end_s;
	atomic_bool stop;
	uint64_t seed;
	int nwriters, nreaders;
	oracle *o[SOAK_MAX_WRITERS];
	pthread_mutex_t omu[SOAK_MAX_WRITERS]; /* an oracle is used by one thread at a time */
	/* counts */
	atomic_uint_fast64_t steps, checks_all, checks_random, reads, read_rows, admin_cmds,
		majors, watch_lines;
	atomic_int anomalies;
	char first_anomaly[512];
	pthread_mutex_t amu;
} soak;

static void anomaly(soak *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void anomaly(soak *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsoak ANOMALY: %s\n", msg);
	pthread_mutex_lock(&s->amu);
	if (atomic_fetch_add(&s->anomalies, 1) == 0)
		snprintf(s->first_anomaly, sizeof(s->first_anomaly), "%s", msg);
	pthread_mutex_unlock(&s->amu);
}

static bool running(soak *s)
{
	return !atomic_load(&s->stop) && tud_now_s() < s->end_s;
}

/* ---- oracle writers ---------------------------------------------------------------------------- */

typedef struct writer_arg {
	soak *s;
	int i;
} writer_arg;

static void *writer_main(void *arg)
{
	writer_arg *w = arg;
	soak *s = w->s;
	oracle *o = s->o[w->i];
	double next_all = tud_now_s() + 60;
	uint64_t n = 0;
	while (running(s) && atomic_load(&s->anomalies) == 0) {
		pthread_mutex_lock(&s->omu[w->i]);
		int rc = oracle_step(o);
		n++;
		if (rc == 0 && n % 40 == 0) {
			rc = oracle_check_random_reads(o, 10);
			atomic_fetch_add(&s->checks_random, 10);
		}
		if (rc == 0 && tud_now_s() > next_all) {
			rc = oracle_check_all_versions(o);
			atomic_fetch_add(&s->checks_all, 1);
			next_all = tud_now_s() + 60;
		}
		pthread_mutex_unlock(&s->omu[w->i]);
		atomic_fetch_add(&s->steps, 1);
		if (rc)
			anomaly(s, "oracle table %s failed at step %" PRIu64 " (seed %" PRIu64 ")",
				oracle_table(o), oracle_steps(o), oracle_seed(o));
	}
	return NULL;
}

/* ---- unchecked readers -------------------------------------------------------------------------- */

static void *reader_main(void *arg)
{
	soak *s = arg;
	unsigned seed = (unsigned)s->seed ^ (unsigned)(uintptr_t)pthread_self();
	while (running(s)) {
		int t = (int)(rand_r(&seed) % (unsigned)(s->nwriters + 1));
		char table[32];
		if (t == s->nwriters)
			snprintf(table, sizeof(table), "side");
		else
			snprintf(table, sizeof(table), "soak%d", t);
		strata_err e;
		strata_err_clear(&e);
		uint64_t latest = 0, readable = 0, incremental = 0;
		strata_read_opts lo = {0};
		if (strata_read_version(s->wh, table, &lo, &latest, &e) != 0 || latest == 0) {
			tud_sleep_ms(10);
			continue;
		}
		if (strata_table_earliest(s->wh, table, &readable, &incremental, &e) != 0) {
			anomaly(s, "earliest of %s: %s", table, e.msg);
			continue;
		}
		strata_scan *sc = NULL;
		int what = (int)(rand_r(&seed) % 3), rc;
		uint64_t v = readable + rand_r(&seed) % (latest - readable + 1);
		if (what == 0) {
			strata_read_opts ro = {.as_of_version = v};
			rc = strata_scan_open(s->wh, table, &ro, &sc, &e);
		} else if (what == 1) {
			uint64_t v1 = incremental + rand_r(&seed) % (latest - incremental + 1);
			rc = strata_changes_open(s->wh, table, v1, latest, NULL, &sc, &e);
		} else {
			json_t *k = t == s->nwriters ?
					    json_pack("{s:i}", "k", (int)(rand_r(&seed) % SOAK_SIDE_KEYS)) :
					    json_pack("{s:i,s:s,s:s}", "pk", (int)(rand_r(&seed) % 200),
						      "kk", "k1", "pt", "p0");
			strata_arena *a = strata_arena_new();
			strata_row row;
			strata_read_opts ro = {.as_of_version = v};
			rc = strata_get_json(s->wh, table, k, &ro, a, &row, NULL, NULL, &e);
			strata_arena_free(a);
			json_decref(k);
			rc = rc < 0 ? rc : 0;
		}
		const strata_row *row;
		const char *const *pv;
		while (rc == 0 && sc && (rc = strata_scan_next(sc, &row, &pv, &e)) == 1)
			atomic_fetch_add(&s->read_rows, 1);
		strata_scan_close(sc);
		atomic_fetch_add(&s->reads, 1);
		/* the floor may have risen since earliest() (a major compaction):
		 * only that retention error is allowed */
		if (rc < 0 && rc != STRATA_ERETENTION)
			anomaly(s, "%s read of %s at %" PRIu64 ": %s", what == 0 ? "snapshot" :
				what == 1 ? "incremental" : "point", table, v, e.msg);
	}
	return NULL;
}

/* ---- the monitor: admin commands, a watcher, major compactions ---------------------------------- */

static void *monitor_main(void *arg)
{
	soak *s = arg;
	static const char *const cmds[] = {"status", "jobs", "plan", "metrics", "tables", "plan side"};
	int i = 0, watch_fd = -1;
	double next_major = tud_now_s() + 45;
	while (running(s)) {
		json_t *r = tud_admin(s->sock, cmds[i++ % (int)STRATA_ARRAY_LEN(cmds)]);
		atomic_fetch_add(&s->admin_cmds, 1);
		if (!r || !json_is_true(json_object_get(r, "ok")))
			anomaly(s, "admin \"%s\" failed: %s", cmds[(i - 1) % (int)STRATA_ARRAY_LEN(cmds)],
				r ? json_string_value(json_object_get(r, "error")) : "no reply");
		json_decref(r);
		/* a watcher that reads a while, leaves, and comes back */
		if (watch_fd < 0) {
			watch_fd = tud_connect(s->sock);
			if (watch_fd >= 0 && write(watch_fd, "watch\n", 6) != 6) {
				close(watch_fd);
				watch_fd = -1;
			}
		} else {
			char *l = tud_read_line(watch_fd, 0.5);
			if (l)
				atomic_fetch_add(&s->watch_lines, 1);
			free(l);
			if (atomic_load(&s->watch_lines) % 50 == 49) {
				close(watch_fd);
				watch_fd = -1;
			}
		}
		if (tud_now_s() > next_major) {
			r = tud_admin(s->sock, "compact side --major");
			atomic_fetch_add(&s->majors, 1);
			json_decref(r);
			next_major = tud_now_s() + 45;
		}
		tud_sleep_ms(200);
	}
	if (watch_fd >= 0)
		close(watch_fd);
	return NULL;
}

/* ---- the writer process --------------------------------------------------------------------------- */

static pid_t side_writer_start(soak *s)
{
	/* one `strata write` process per transaction; commit i upserts key
	 * i % KEYS with v = i and, every 5th, deletes key (i * 7) % KEYS after it */
	char script[4200];
	snprintf(script, sizeof(script), "%s/side.sh", s->dir);
	tud_write_file(script,
		       "#!/bin/sh\n"
		       "i=0\n"
		       "while [ ! -f '%s/stop' ]; do\n"
		       "  i=$((i + 1))\n"
		       "  {\n"
		       "    printf '{\"k\":%%d,\"v\":%%d}\\n' $((i %% %d)) $i\n"
		       "    if [ $((i %% 5)) = 0 ]; then\n"
		       "      printf '{\"k\":%%d,\"_op\":\"delete\"}\\n' $(((i * 7) %% %d))\n"
		       "    fi\n"
		       "  } | '%s' -W '%s' write side --token side-$i --token-time $(date +%%s) >/dev/null ||\n"
		       "    { echo $i > '%s/side.failed'; exit 1; }\n"
		       "  echo $i > '%s/side.count'\n"
		       "done\n",
		       s->dir, SOAK_SIDE_KEYS, SOAK_SIDE_KEYS, tu_bin("strata"), s->whp, s->dir, s->dir);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", script, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Check "side" against the writes 1..n: key k holds the last i <= n with
 * i % KEYS == k, unless a later delete (every 5th commit deletes (i*7) %
 * KEYS, after its upsert in the same transaction) removed it. */
static int side_check(soak *s, uint64_t n)
{
	int64_t want[SOAK_SIDE_KEYS];
	for (int k = 0; k < SOAK_SIDE_KEYS; k++)
		want[k] = -1;
	for (uint64_t i = 1; i <= n; i++) {
		want[i % SOAK_SIDE_KEYS] = (int64_t)i;
		if (i % 5 == 0)
			want[(i * 7) % SOAK_SIDE_KEYS] = -1;
	}
	int64_t got[SOAK_SIDE_KEYS];
	for (int k = 0; k < SOAK_SIDE_KEYS; k++)
		got[k] = -1;
	strata_read_opts ro = {0};
	strata_scan *sc;
	strata_err e;
	if (strata_scan_open(s->wh, "side", &ro, &sc, &e) != 0) {
		anomaly(s, "scan of side: %s", e.msg);
		return -1;
	}
	const strata_row *row;
	const char *const *pv;
	int rc;
	while ((rc = strata_scan_next(sc, &row, &pv, &e)) == 1) {
		int64_t k = row->vals[0].v.i64;
		if (k >= 0 && k < SOAK_SIDE_KEYS)
			got[k] = row->vals[1].v.i64;
	}
	strata_scan_close(sc);
	if (rc) {
		anomaly(s, "scan of side: %s", e.msg);
		return -1;
	}
	for (int k = 0; k < SOAK_SIDE_KEYS; k++)
		if (got[k] != want[k]) {
			anomaly(s, "side: key %d holds %lld, the model says %lld (after %" PRIu64
				   " commits)",
				k, (long long)got[k], (long long)want[k], n);
			return -1;
		}
	return 0;
}

/* ---- the run ---------------------------------------------------------------------------------------- */

static void metrics_report(const char *m)
{
	static const char *const kinds[] = {"sort", "merge", "partial-compaction", "major-compaction",
					    "clean", "purge"};
	static const char *const results[] = {"ok", "noop", "conflict", "busy", "canceled", "failed"};
	fprintf(stderr, "soak: jobs by kind (ok / noop / conflict / busy / canceled / failed):\n");
	for (size_t k = 0; k < STRATA_ARRAY_LEN(kinds); k++) {
		fprintf(stderr, "  %-20s", kinds[k]);
		for (size_t r = 0; r < STRATA_ARRAY_LEN(results); r++) {
			char series[128];
			snprintf(series, sizeof(series), "strata_jobs_total{kind=\"%s\",result=\"%s\"}",
				 kinds[k], results[r]);
			fprintf(stderr, " %6.0f", tud_metric(m, series));
		}
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "soak: conflicts %.0f, bytes read by jobs %.0f, written %.0f, files cleaned "
			"%.0f, manifest %.0f of %.0f bytes\n",
		tud_metric(m, "strata_job_conflicts_total"), tud_metric(m, "strata_job_read_bytes_total"),
		tud_metric(m, "strata_job_written_bytes_total"),
		tud_metric(m, "strata_clean_deleted_files_total"),
		tud_metric(m, "strata_manifest_used_bytes"), tud_metric(m, "strata_manifest_map_bytes"));
}

static void test_soak(void)
{
	static soak s;
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.amu, NULL);
	s.seed = env_u64("SOAK_SEED", (uint64_t)time(NULL));
	uint64_t secs = env_u64("SOAK_SECONDS", 600);
	s.nwriters = (int)env_u64("SOAK_WRITERS", 3);
	s.nreaders = (int)env_u64("SOAK_READERS", 2);
	if (s.nwriters < 1 || s.nwriters > SOAK_MAX_WRITERS)
		s.nwriters = 3;
	snprintf(s.dir, sizeof(s.dir), "%s", tu_tmpdir());
	snprintf(s.whp, sizeof(s.whp), "%s/wh", s.dir);
	snprintf(s.log, sizeof(s.log), "%s/stratad.log", s.dir);
	snprintf(s.sock, sizeof(s.sock), "%s/run/admin.sock", s.dir);
	fprintf(stderr, "\nsoak: seed %" PRIu64 ", %" PRIu64 " s of writing, %d oracle writers, %d "
			"readers, warehouse %s\n",
		s.seed, secs, s.nwriters, s.nreaders, s.whp);
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(s.whp, true, &s.wh, &e), 0);
	for (int i = 0; i < s.nwriters; i++) {
		oracle_cfg oc;
		oracle_cfg_default(&oc);
		oc.seed = s.seed + (uint64_t)i;
		oc.nparts = 2;
		oc.buckets = 2 + i;
		oc.nkeys = 200;
		oc.max_txn_rows = 40;
		oc.ddl_permille = 5;
		oc.retain_hours = 1; /* real time: every version stays readable */
		oc.is_quiet = true;
		char name[32];
		snprintf(name, sizeof(name), "soak%d", i);
		s.o[i] = oracle_new(s.wh, name, &oc);
		pthread_mutex_init(&s.omu[i], NULL);
	}
	const char *props[] = {"write.bucket.num=3", "acid.data.retain.hours=1"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(s.wh, "side", "k BIGINT NOT NULL PRIMARY KEY, v BIGINT",
						  NULL, NULL, props, 2, &e),
			      0);
	char cfg[4200];
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", s.dir);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 2\n"
		       "log_level = info\n"
		       "[policy]\nsort.min_files = 3\nsort.max_delay_s = 2\nmerge.fanout = 3\n"
		       "clean.grace_s = 2\nclean.trash_s = 5\nclean.orphan_scan_s = 30\n"
		       "policy.backoff_s = 1\npolicy.backoff_max_s = 8\n",
		       s.whp, s.sock);
	pid_t pid = tud_spawn(cfg, s.log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(s.sock, 30));
	double t0 = tud_now_s();
	s.end_s = t0 + (double)secs;
	pid_t side = side_writer_start(&s);
	pthread_t wt[SOAK_MAX_WRITERS], rt[16], mt;
	writer_arg wa[SOAK_MAX_WRITERS];
	for (int i = 0; i < s.nwriters; i++) {
		wa[i] = (writer_arg){.s = &s, .i = i};
		pthread_create(&wt[i], NULL, writer_main, &wa[i]);
	}
	for (int i = 0; i < s.nreaders && i < 16; i++)
		pthread_create(&rt[i], NULL, reader_main, &s);
	pthread_create(&mt, NULL, monitor_main, &s);
	/* progress every minute */
	while (running(&s) && atomic_load(&s.anomalies) == 0) {
		tud_sleep_ms(1000);
		long el = (long)(tud_now_s() - t0);
		if (el % 60 == 0)
			fprintf(stderr, "soak: %ld s: %" PRIu64 " oracle steps, %" PRIu64 " reads\n", el,
				(uint64_t)atomic_load(&s.steps), (uint64_t)atomic_load(&s.reads));
	}
	atomic_store(&s.stop, true);
	for (int i = 0; i < s.nwriters; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < s.nreaders && i < 16; i++)
		pthread_join(rt[i], NULL);
	pthread_join(mt, NULL);
	char stop[4200];
	snprintf(stop, sizeof(stop), "%s/stop", s.dir);
	tu_write_file(stop, "", 0);
	int st;
	waitpid(side, &st, 0);
	char cpath[4200];
	snprintf(cpath, sizeof(cpath), "%s/side.failed", s.dir);
	if (access(cpath, F_OK) == 0)
		anomaly(&s, "the side writer process failed a commit (see its count in %s)", cpath);
	snprintf(cpath, sizeof(cpath), "%s/side.count", s.dir);
	char *cnt = tu_read_file(cpath, NULL);
	uint64_t side_n = cnt ? strtoull(cnt, NULL, 10) : 0;
	free(cnt);
	double write_end = tud_now_s();
	/* steady state: nothing running or queued, no row files left */
	bool is_steady = false;
	while (!is_steady && tud_now_s() - write_end < 120) {
		json_t *r = tud_admin(s.sock, "jobs");
		is_steady = r && json_array_size(json_object_get(r, "running")) == 0 &&
			    json_array_size(json_object_get(r, "queued")) == 0;
		json_decref(r);
		r = tud_admin(s.sock, "status");
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(r, "tables"), i, t)
			is_steady = is_steady &&
				    json_integer_value(json_object_get(t, "row_files_waiting")) == 0;
		json_decref(r);
		if (!is_steady)
			tud_sleep_ms(500);
	}
	fprintf(stderr, "soak: steady state %s %.0f s after the writers stopped\n",
		is_steady ? "reached" : "NOT reached", tud_now_s() - write_end);
	if (!is_steady)
		anomaly(&s, "no steady state within 120 s of the last write");
	char *m = tud_metrics(s.sock);
	if (m)
		metrics_report(m);
	double failed = 0;
	static const char *const kinds[] = {"sort", "merge", "partial-compaction", "major-compaction",
					    "clean", "purge"};
	for (size_t k = 0; m && k < STRATA_ARRAY_LEN(kinds); k++) {
		char series[128];
		snprintf(series, sizeof(series), "strata_jobs_total{kind=\"%s\",result=\"failed\"}",
			 kinds[k]);
		failed += tud_metric(m, series);
	}
	if (failed > 0)
		anomaly(&s, "%.0f jobs failed", failed);
	free(m);
	kill(pid, SIGTERM);
	int xrc = tud_wait_exit(pid, 60);
	if (xrc != 0)
		anomaly(&s, "stratad exited with %d after SIGTERM", xrc);
	if (tud_log_has(s.log, " error ["))
		anomaly(&s, "stratad logged errors (%s)", s.log);
	/* the checks */
	for (int i = 0; i < s.nwriters; i++) {
		oracle *o = s.o[i];
		strata_read_opts ro = {0};
		uint64_t v = 0;
		if (strata_read_version(s.wh, oracle_table(o), &ro, &v, &e) == 0)
			oracle_note_version(o, v);
		if (oracle_check_all_versions(o) != 0 || oracle_check_random_reads(o, 200) != 0)
			anomaly(&s, "final check of %s failed (seed %" PRIu64 ")", oracle_table(o),
				oracle_seed(o));
		/* a clean with no grace: then no file the manifest does not know */
		strata_clean_opts co;
		strata_clean_opts_default(&co);
		co.grace_s = 0;
		co.trash_s = 0;
		co.orphan_age_s = 0;
		strata_clean_result cr;
		if (strata_clean_table(s.wh, oracle_table(o), &co, &cr, &e) != 0)
			anomaly(&s, "final clean of %s: %s", oracle_table(o), e.msg);
		if (strata_read_version(s.wh, oracle_table(o), &ro, &v, &e) == 0)
			oracle_note_version(o, v);
		if (oracle_check_files(o) != 0)
			anomaly(&s, "unknown or missing files in %s after a clean", oracle_table(o));
		if (oracle_check_all_versions(o) != 0)
			anomaly(&s, "%s reads differently after the final clean", oracle_table(o));
		atomic_fetch_add(&s.checks_all, 2);
	}
	side_check(&s, side_n);
	uint64_t versions = 0;
	for (int i = 0; i < s.nwriters; i++)
		versions += oracle_version(s.o[i]);
	fprintf(stderr,
		"soak: operations: %" PRIu64 " oracle steps (%" PRIu64 " versions over %d tables), "
		"%" PRIu64 " side commits by `strata write` processes, %" PRIu64 " checked random "
		"reads, %" PRIu64 " all-version checks, %" PRIu64 " unchecked reads (%" PRIu64
		" rows), %" PRIu64 " admin commands, %" PRIu64 " watch lines, %" PRIu64
		" major compactions asked for\n",
		(uint64_t)s.steps, versions, s.nwriters, side_n, (uint64_t)s.checks_random,
		(uint64_t)s.checks_all, (uint64_t)s.reads, (uint64_t)s.read_rows, (uint64_t)s.admin_cmds,
		(uint64_t)s.watch_lines, (uint64_t)s.majors);
	fprintf(stderr, "soak: anomalies: %d%s%s\n", atomic_load(&s.anomalies),
		atomic_load(&s.anomalies) ? " — first: " : "", s.first_anomaly);
	CU_ASSERT_EQUAL(atomic_load(&s.anomalies), 0);
	for (int i = 0; i < s.nwriters; i++)
		oracle_free(s.o[i]);
	strata_wh_close(s.wh);
}

static void register_soak(void)
{
	CU_pSuite s = CU_add_suite("soak", NULL, NULL);
	TU_ADD(s, test_soak);
}

TU_MAIN(register_soak)
