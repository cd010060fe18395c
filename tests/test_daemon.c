/*
 * tests/test_daemon.c — stratad as a real process: the built binary
 * (tu_bin("stratad"), so `make asan` runs the sanitized one), a real admin
 * socket, real time, small thresholds, every wait bounded by a deadline.
 *
 *   steady state   the oracle writes and reads in this process while stratad
 *                  sorts, merges and cleans the same warehouse; every read at
 *                  every version must equal the model, before and after the
 *                  daemon reaches a steady state (no row files, no level at
 *                  its fanout); a watcher leaves mid-stream; /metrics serves
 *   reload         SIGHUP with a bad file keeps the old values (and says why
 *                  with file:line), a good one applies; sd_notify datagrams
 *   peers          another uid is refused (and the refusal logged); a member
 *                  of admin_group may read but not purge (root only: setpriv)
 *   stop & crash   SIGTERM mid-job exits 0 and leaves nothing; SIGKILL
 *                  mid-job leaves an intent that the next start recovers
 *   two daemons    one warehouse: sampling the manifest's intents never
 *                  shows two jobs on one bucket; both do work; data intact
 *   cadence        the scan a finished job asks for (d_scan_after_job_at, a
 *                  pure function: a table of cases, no clock)
 *   chaining       a sort that leaves its bucket's level at merge.fanout
 *                  queues the merge as it finishes, with no scan due
 *
 * Nothing asserts a duration: waits poll with a deadline and fail saying
 * what they waited for.  Daemons left by a failing test are killed at exit.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_server.h"

#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "table/table.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *policy_value(const char *sock, const char *table, const char *key)
{
	static char v[64];
	char line[128];
	snprintf(line, sizeof(line), "policy %s", table);
	json_t *r = tud_admin(sock, line);
	v[0] = '\0';
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(r, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "key")), key) == 0)
			snprintf(v, sizeof(v), "%s", json_string_value(json_object_get(k, "value")));
	json_decref(r);
	return v;
}

/* Jobs: counts of finished ones by kind and result; running and queued. */
typedef struct jobstats {
	int ok[8], other[8], failed, busy, conflict, canceled;
	size_t running, queued, finished;
	uint64_t max_running_io;
} jobstats;

static const char *const kinds[] = {"sort",	"merge", "partial-compaction", "major-compaction",
				    "clean", "purge"};

static int kind_index(const char *k)
{
	for (int i = 0; i < 6; i++)
		if (strcmp(kinds[i], k) == 0)
			return i;
	return 7;
}

static bool job_stats(const char *sock, jobstats *js)
{
	memset(js, 0, sizeof(*js));
	json_t *r = tud_admin(sock, "jobs");
	if (!r)
		return false;
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "finished"), i, j)
	{
		const char *res = json_string_value(json_object_get(j, "result"));
		int k = kind_index(json_string_value(json_object_get(j, "kind")));
		if (strcmp(res, "ok") == 0)
			js->ok[k]++;
		else
			js->other[k]++;
		js->failed += strcmp(res, "failed") == 0;
		js->busy += strcmp(res, "busy") == 0;
		js->conflict += strcmp(res, "conflict") == 0;
		js->canceled += strcmp(res, "canceled") == 0;
		if (strcmp(res, "failed") == 0)
			fprintf(stderr, "\nfailed job: %s\n", json_string_value(json_object_get(j, "error")));
	}
	js->finished = json_array_size(json_object_get(r, "finished"));
	js->running = json_array_size(json_object_get(r, "running"));
	js->queued = json_array_size(json_object_get(r, "queued"));
	json_array_foreach(json_object_get(r, "running"), i, j)
	{
		uint64_t io = (uint64_t)json_integer_value(json_object_get(j, "io_bytes"));
		if (io > js->max_running_io)
			js->max_running_io = io;
	}
	json_decref(r);
	return true;
}

/* ---- the warehouse as the test sees it -------------------------------------------------------- */

typedef struct shape {
	size_t files, l0, buckets;
	size_t max_per_level;     /* most files on one level >= 1 of one bucket */
	size_t max_small_per_level;
	size_t intents;
} shape;

static shape table_shape(strata_wh *wh, const char *table, uint64_t small_bytes)
{
	shape s = {0};
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_file_entry *f;
	strata_intent *in;
	size_t n = 0, ni = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0)
		goto out;
	if (strata_mf_table_get(snap, table, &t, &err) == 0 &&
	    strata_mf_table_files(snap, t.id, a, &f, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (f[i].removed_version)
				continue;
			s.files++;
			s.l0 += f[i].level == 0;
			size_t same = 0, small = 0;
			for (size_t k = 0; k < n; k++) {
				if (f[k].removed_version || f[k].part_id != f[i].part_id ||
				    f[k].bucket != f[i].bucket || f[k].level != f[i].level || f[i].level == 0)
					continue;
				same++;
				small += f[k].bytes < small_bytes;
			}
			s.max_per_level = STRATA_MAX(s.max_per_level, same);
			s.max_small_per_level = STRATA_MAX(s.max_small_per_level, small);
		}
	}
	if (strata_mf_intents_list(snap, a, &in, &ni, &err) == 0)
		s.intents = ni;
	strata_mf_snap_close(snap);
out:
	strata_arena_free(a);
	return s;
}

/* The rows a snapshot read of table returns. */
static size_t count_rows(strata_wh *wh, const char *table)
{
	strata_scan *sc;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, table, &(strata_read_opts){0}, &sc, &err), 0);
	const strata_row *row;
	const char *const *pv;
	size_t rows = 0;
	while (strata_scan_next(sc, &row, &pv, &err) == 1)
		rows++;
	strata_scan_close(sc);
	return rows;
}

/* A warehouse in the test's scratch directory with a one-bucket table, and
 * the paths of a stratad for it. */
typedef struct one_bucket {
	char whp[4096], cfg[4096], log[4096], sock[200];
	const char *whn; /* the warehouse's name: whp, or a catalog's (tu_wh_name) */
	strata_wh *wh;
} one_bucket;

static void one_bucket_open(one_bucket *o, const char *table)
{
	const char *dir = tu_tmpdir();
	snprintf(o->whp, sizeof(o->whp), "%s/wh", dir);
	o->whn = tu_wh_name(o->whp);
	snprintf(o->cfg, sizeof(o->cfg), "%s/stratad.ini", dir);
	snprintf(o->log, sizeof(o->log), "%s/stratad.log", dir);
	snprintf(o->sock, sizeof(o->sock), "%s/run/admin.sock", dir);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(o->whn, true, &o->wh, &err), 0);
	const char *props[] = {"write.bucket.num=1"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(o->wh, table,
						  "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL,
						  props, 1, &err), 0);
}

static void write_cfg(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* stratad on o's warehouse, one worker, row files left alone (sorts only by
 * hand), no orphan scan; ready when this returns its PID. */
static pid_t one_bucket_spawn(one_bucket *o, int scan_interval_s, int merge_fanout)
{
	write_cfg(o->cfg,
		  "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = %d\nworkers = 1\n"
		  "log_level = info\n[policy]\nsort.min_files = 100\nsort.max_delay_s = 3600\n"
		  "merge.fanout = %d\nclean.orphan_scan_s = 0\n",
		  o->whn, o->sock, scan_interval_s, merge_fanout);
	pid_t pid = tud_spawn(o->cfg, o->log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(o->sock, 20));
	return pid;
}

static void chmod_path_for_others(const char *dir)
{
	chmod(dir, 0755);
}

static void write_cfg(const char *path, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, text, strlen(text)), 0);
}

/* One transaction of nrows random upserts; keys written are marked in seen
 * (a bitmap over key_space) if given. */
static int commit_rows(strata_wh *wh, const char *table, int nrows, int key_space, int value_len,
		       unsigned *seed, uint64_t *version, uint8_t *seen)
{
	strata_err err;
	strata_txn *t;
	if (strata_txn_begin(wh, table, &t, &err) != 0)
		return -1;
	char *val = malloc((size_t)value_len + 1);
	for (int i = 0; i < nrows; i++) {
		int k = (int)(rand_r(seed) % (unsigned)key_space);
		if (seen)
			seen[k / 8] |= (uint8_t)(1u << (k % 8));
		for (int c = 0; c < value_len; c++)
			val[c] = (char)('a' + rand_r(seed) % 26);
		val[value_len] = '\0';
		json_t *o = json_pack("{s:i,s:s}", "pk", k, "v", val);
		int rc = strata_txn_put_json(t, o, &err);
		json_decref(o);
		if (rc) {
			free(val);
			strata_txn_abort(t);
			return -1;
		}
	}
	free(val);
	bool rep;
	return strata_txn_commit(t, NULL, version, &rep, &err);
}

/* ---- steady state with the oracle ------------------------------------------------------------- */

typedef struct watcher {
	int fd;
	atomic_int commits, jobs, lines;
	int leave_after;
} watcher;

static void *watch_main(void *arg)
{
	watcher *w = arg;
	char *first = tud_read_line(w->fd, 20);
	free(first);
	for (;;) {
		char *l = tud_read_line(w->fd, 30);
		if (!l)
			break;
		if (strstr(l, "\"event\":\"commit\""))
			atomic_fetch_add(&w->commits, 1);
		if (strstr(l, "\"event\":\"job\""))
			atomic_fetch_add(&w->jobs, 1);
		free(l);
		/* leave mid-stream (just close) once both kinds were seen: job
		 * events come in runs (a finished job chains the next), and under
		 * ASan 150 of them passed before a commit poll once; a stream
		 * with no commit at all ends with the writers (the read times
		 * out) and the test fails */
		int n = atomic_fetch_add(&w->lines, 1) + 1;
		if (n >= w->leave_after &&
		    ((atomic_load(&w->commits) > 0 && atomic_load(&w->jobs) > 0) ||
		     n >= 20 * w->leave_after))
			break;
	}
	close(w->fd);
	return NULL;
}

static int http_get(int port, const char *path, char **out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	char req[256];
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	ssize_t w = write(fd, req, strlen(req));
	(void)w;
	strata_buf b = {0};
	char chunk[4096];
	ssize_t r;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		strata_buf_append(&b, chunk, (size_t)r);
	strata_buf_putc(&b, 0);
	close(fd);
	*out = (char *)b.data;
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

static void test_steady_state_with_oracle(void)
{
	uint64_t seed = env_u64("ORACLE_SEED", (uint64_t)time(NULL));
	double write_s = (double)env_u64("DAEMON_WRITE_S", 15);
	fprintf(stderr, "\nsteady state: seed %" PRIu64 ", writing for %.0f s\n", seed, write_s);
	const char *dir = tu_tmpdir();
	char whp[4096], cfg[4096], log[4096], sock[200];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	const char *whn = tu_wh_name(whp); /* a directory, or a catalog */
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/admin.sock", dir);
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whn, true, &wh, &err), 0);
	oracle_cfg oc;
	oracle_cfg_default(&oc);
	oc.seed = seed;
	oc.nparts = 2;
	oc.buckets = 2;
	oc.nkeys = 200;
	oc.max_txn_rows = 60;
	oc.ddl_permille = 10;
	oc.retain_hours = 1; /* real time: every version stays inside the window */
	oracle *o = oracle_new(wh, "orc", &oc);
	/* a free port (one from the pid collided with a PostgreSQL the
	 * suites had started: "Address already in use", stratad never ready) */
	int port = tu_free_port();
	CU_ASSERT_FATAL(port > 0);
	write_cfg(cfg,
		  "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 2\n"
		  "log_level = info\nmetrics_listen = 127.0.0.1:%d\n"
		  "[policy]\nsort.min_files = 3\nsort.max_delay_s = 2\nmerge.fanout = 3\n"
		  "merge.small_bytes = 4194304\nclean.grace_s = 1\nclean.trash_s = 2\nclean.orphan_scan_s = 0\n"
		  "policy.backoff_s = 1\npolicy.backoff_max_s = 4\n",
		  whn, sock, port);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 20));
	/* a watcher that leaves after some events, mid-stream: enough of them
	 * to span a commit poll (D_WATCH_POLL_US), as job events come at once
	 * and scans follow jobs within a cron tick */
	watcher w = {.fd = tud_connect(sock), .leave_after = 150};
	CU_ASSERT_FATAL(w.fd >= 0);
	ssize_t wr = write(w.fd, "watch\n", 6);
	(void)wr;
	pthread_t wt;
	pthread_create(&wt, NULL, watch_main, &w);
	/* writers and readers while the daemon governs */
	double end = tud_now_s() + write_s;
	int failed = 0;
	uint64_t steps = 0;
	while (tud_now_s() < end && !failed) {
		failed = oracle_step(o) != 0;
		steps++;
		if (!failed && steps % 50 == 0)
			failed = oracle_check_random_reads(o, 10) != 0;
		if (!failed && steps % 200 == 0)
			failed = oracle_check_all_versions(o) != 0;
	}
	CU_ASSERT_EQUAL(failed, 0);
	fprintf(stderr, "steady state: %" PRIu64 " oracle steps, version %" PRIu64 "\n", steps,
		oracle_version(o));
	pthread_join(wt, NULL);
	CU_ASSERT(atomic_load(&w.commits) > 0);
	CU_ASSERT(atomic_load(&w.jobs) > 0);
	/* steady state: no row files, no level at its fanout, at most one small file a
	 * level (the config sets merge.small_bytes: by default that rule is off, and two
	 * small files on a level below its fanout are a steady state; CI under TSan
	 * once ended on such a pair) */
	double t0 = tud_now_s();
	shape s = {0};
	jobstats js;
	bool is_steady = false;
	while (tud_now_s() - t0 < 40 && !is_steady) {
		s = table_shape(wh, "orc", 4 << 20);
		is_steady = s.l0 == 0 && s.max_per_level < 3 && s.max_small_per_level < 2 &&
			    job_stats(sock, &js) && js.running == 0 && js.queued == 0;
		if (!is_steady)
			tud_sleep_ms(200);
	}
	fprintf(stderr, "steady state: reached %.1f s after the last write: %zu live files in %s\n",
		tud_now_s() - t0, s.files, "orc");
	if (!is_steady)
		fprintf(stderr, "steady state NOT reached: %zu row files, %zu files on one level, %zu small "
				"on one level\n",
			s.l0, s.max_per_level, s.max_small_per_level);
	CU_ASSERT(is_steady);
	/* the daemon is still serving after the watcher left mid-stream */
	CU_ASSERT(tud_wait_ready(sock, 5));
	/* metrics over HTTP; the file gauges are as of stratad's last scan
	 * (every second here), which may predate the last sort's commit */
	char *body = NULL;
	bool has_metrics = false;
	for (double t1 = tud_now_s(); !has_metrics && tud_now_s() - t1 < 10;) {
		free(body);
		body = NULL;
		CU_ASSERT_EQUAL(http_get(port, "/metrics", &body), 0);
		has_metrics = body && strstr(body, " 200 OK") &&
			      strstr(body, "strata_jobs_total{kind=\"sort\",result=\"ok\"}") &&
			      strstr(body, "strata_files{table=\"orc\",level=\"0\"} 0\n");
		if (!has_metrics)
			tud_sleep_ms(200);
	}
	if (!has_metrics) {
		const char *l0 = body ? strstr(body, "strata_files{") : NULL;
		fprintf(stderr, "\nGET /metrics returned:\n%.600s\n...\n%.600s\n",
			body ? body : "(nothing)", l0 ? l0 : "(no strata_files)");
	}
	CU_ASSERT(has_metrics);
	free(body);
	body = NULL;
	CU_ASSERT_EQUAL(http_get(port, "/nope", &body), 0);
	CU_ASSERT(body && strstr(body, "404"));
	free(body);
	/* quiesce, then the files on disk are exactly what the manifest knows */
	json_t *r = tud_admin(sock, "pause");
	CU_ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	double qend = tud_now_s() + 20;
	while (tud_now_s() < qend && job_stats(sock, &js) && js.running)
		tud_sleep_ms(100);
	CU_ASSERT(job_stats(sock, &js));
	fprintf(stderr, "steady state: jobs ok: %d sorts, %d merges, %d cleans; %d conflicts, %d busy, "
			"%d failed\n",
		js.ok[0], js.ok[1], js.ok[4], js.conflict, js.busy, js.failed);
	CU_ASSERT(js.ok[0] > 0 && js.ok[1] > 0 && js.ok[4] > 0);
	CU_ASSERT_EQUAL(js.failed, 0);
	strata_mf_snap *snap;
	strata_table_def td;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0) {
		if (strata_mf_table_get(snap, "orc", &td, &err) == 0)
			oracle_note_version(o, td.version);
		strata_mf_snap_close(snap);
	}
	/* every version reads as it always did */
	if (!failed) {
		CU_ASSERT_EQUAL(oracle_check_all_versions(o), 0);
		CU_ASSERT_EQUAL(oracle_check_random_reads(o, 50), 0);
		CU_ASSERT_EQUAL(oracle_check_files(o), 0);
	}
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	CU_ASSERT(tud_log_has(log, "stratad stopped"));
	CU_ASSERT(!tud_log_has(log, "ERROR") && !tud_log_has(log, " error "));
	oracle_free(o);
	strata_wh_close(wh);
}

/* ---- reload and sd_notify ---------------------------------------------------------------------- */

typedef struct notify_rx {
	int fd;
	strata_buf got;
} notify_rx;

static bool notify_wait(notify_rx *n, const char *want, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	for (;;) {
		strata_buf_putc(&n->got, 0);
		n->got.len--;
		if (strstr((char *)n->got.data, want))
			return true;
		int left = (int)((end - tud_now_s()) * 1000);
		if (left <= 0)
			break;
		struct pollfd p = {n->fd, POLLIN, 0};
		if (poll(&p, 1, left) > 0) {
			char buf[1024];
			ssize_t r = recv(n->fd, buf, sizeof(buf), 0);
			if (r > 0) {
				strata_buf_append(&n->got, buf, (size_t)r);
				strata_buf_putc(&n->got, '|');
			}
		}
	}
	fprintf(stderr, "\nno \"%s\" from sd_notify within %.0f s (got: %.*s)\n", want, timeout_s,
		(int)n->got.len, (char *)n->got.data);
	return false;
}

static void test_reload_and_notify(void)
{
	const char *dir = tu_tmpdir();
	char whp[4096], cfg[4096], log[4096], sock[200], nsock[200];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	const char *whn = tu_wh_name(whp); /* a directory, or a catalog */
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/admin.sock", dir);
	snprintf(nsock, sizeof(nsock), "%s/notify.sock", dir);
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whn, true, &wh, &err), 0);
	const char *props[] = {"write.bucket.num=2"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "r", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 1, &err), 0);
	unsigned seed = 7;
	uint64_t v;
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(commit_rows(wh, "r", 100, 1000, 10, &seed, &v, NULL), 0);
	notify_rx n = {.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", nsock);
	CU_ASSERT_EQUAL_FATAL(bind(n.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
#define RELOAD_CFG                                                                          \
	"[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nlog_level = info\n"         \
	"[policy]\nsort.min_files = %s\nsort.max_delay_s = 100000\n"
	write_cfg(cfg, RELOAD_CFG, whn, sock, "1000");
	const char *env[] = {"NOTIFY_SOCKET", nsock, "WATCHDOG_USEC", "400000", NULL};
	pid_t pid = tud_spawn(cfg, log, env);
	CU_ASSERT_FATAL(notify_wait(&n, "READY=1", 20));
	/* READY means the socket answers */
	json_t *r = tud_admin(sock, "status");
	CU_ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	CU_ASSERT(notify_wait(&n, "WATCHDOG=1", 5));
	CU_ASSERT(notify_wait(&n, "STATUS=1 tables", 5));
	CU_ASSERT_STRING_EQUAL(policy_value(sock, "r", "sort.min_files"), "1000");
	/* a bad file: kept running with the old values, the reason with file:line */
	write_cfg(cfg, RELOAD_CFG, whn, sock, "banana");
	kill(pid, SIGHUP);
	char want[4400];
	snprintf(want, sizeof(want), "%s:7: sort.min_files must be an integer from 1 to 1000 (got \"banana\")",
		 cfg);
	CU_ASSERT(tud_wait_log(log, "failed; keeping the running configuration", 10));
	CU_ASSERT(tud_wait_log(log, want, 5));
	CU_ASSERT_EQUAL(kill(pid, 0), 0);
	CU_ASSERT_STRING_EQUAL(policy_value(sock, "r", "sort.min_files"), "1000");
	r = tud_admin(sock, "reload");
	CU_ASSERT(r && json_is_false(json_object_get(r, "ok")) &&
		  strstr(json_string_value(json_object_get(r, "error")), ":7: sort.min_files must be"));
	json_decref(r);
	tud_sleep_ms(2500); /* two scans: the old policy still holds, nothing sorted */
	CU_ASSERT_EQUAL(table_shape(wh, "r", 1).l0, 6);
	/* a good file applies */
	write_cfg(cfg, RELOAD_CFG, whn, sock, "2");
	kill(pid, SIGHUP);
	double end = tud_now_s() + 10;
	while (tud_now_s() < end && strcmp(policy_value(sock, "r", "sort.min_files"), "2") != 0)
		tud_sleep_ms(50);
	CU_ASSERT_STRING_EQUAL(policy_value(sock, "r", "sort.min_files"), "2");
	CU_ASSERT(notify_wait(&n, "RELOADING=1", 5));
	end = tud_now_s() + 20;
	while (tud_now_s() < end && table_shape(wh, "r", 1).l0 != 0)
		tud_sleep_ms(100);
	CU_ASSERT_EQUAL(table_shape(wh, "r", 1).l0, 0);
	kill(pid, SIGTERM);
	CU_ASSERT(notify_wait(&n, "STOPPING=1", 10));
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	close(n.fd);
	strata_buf_free(&n.got);
	strata_wh_close(wh);
}

/* ---- peers ---------------------------------------------------------------------------------------- */

static void test_unauthorized_peer(void)
{
	struct group *ag = getgrgid(1);
	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 || !ag) {
		fprintf(stderr, "\nSKIPPED: the peer test needs root, setpriv and a group with gid 1 "
				"(it runs the client as uid 65534)\n");
		return;
	}
	char group[64];
	snprintf(group, sizeof(group), "%s", ag->gr_name);
	const char *dir = tu_tmpdir();
	chmod_path_for_others(dir);
	char whp[4096], cfg[4096], log[4096], sock[200], run[200], cmd[8192];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	const char *whn = tu_wh_name(whp); /* a directory, or a catalog */
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(sock, sizeof(sock), "%s/admin.sock", run);
	mkdir(run, 0755); /* reachable by others, so the daemon itself must refuse */
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whn, true, &wh, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "p", "pk BIGINT NOT NULL PRIMARY KEY", NULL, NULL,
						  NULL, 0, &err), 0);
	strata_wh_close(wh);
	/* admin_group is gid 1, which uid 65534 (nobody) is not a member of */
	write_cfg(cfg, "[daemon]\nwarehouse = %s\nsocket = %s\nsocket_mode = 0666\nadmin_group = %s\n",
		  whn, sock, group);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 20));
	char *out = NULL;
	/* uid 65534 outside admin_group: refused at once */
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid=65534 --regid=65534 --clear-groups %s admin --socket %s status 2>&1",
		 tu_bin("strata"), sock);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "permission denied: uid 65534 is not root"));
	free(out);
	CU_ASSERT(tud_wait_log(log, "admin: uid 65534 pid ", 5));
	CU_ASSERT(tud_log_has(log, "refused: permission denied: uid 65534 is not root"));
	/* a peer whose group is admin_group reads, but may not purge */
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid=65534 --regid=1 --clear-groups %s admin --socket %s --json status",
		 tu_bin("strata"), sock);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"ok\":true"));
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid=65534 --regid=1 --clear-groups %s admin --socket %s purge p 2>&1",
		 tu_bin("strata"), sock);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "permission denied: purge (destructive) needs root"));
	free(out);
	CU_ASSERT(tud_wait_log(log, "\"purge p\" refused", 5));
	/* root may */
	snprintf(cmd, sizeof(cmd), "%s admin --socket %s --json pause p", tu_bin("strata"), sock);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	free(out);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

/* ---- stop mid-job, crash mid-job ------------------------------------------------------------------- */

static bool wait_running_io(const char *sock, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	jobstats js;
	while (tud_now_s() < end) {
		if (job_stats(sock, &js) && js.running && js.max_running_io > 0)
			return true;
		tud_sleep_ms(50);
	}
	fprintf(stderr, "\nno job was running (with I/O) on %s within %.0f s\n", sock, timeout_s);
	return false;
}

static int count_job_file(void *ctx, const char *name, const strata_data_stat *st)
{
	(void)st;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(name, ".trash/", 7) != 0 && base[0] == 'j')
		(*(size_t *)ctx)++;
	return 0;
}

/* Job outputs of table big outside the trash, locally or in the object
 * store (tests/s3/s3-daemon). */
static size_t bucket_job_files(strata_wh *wh)
{
	char dir[4400];
	snprintf(dir, sizeof(dir), "%s/big", strata_mf_data_dir(strata_wh_mf(wh)));
	size_t n = 0;
	strata_err err;
	CU_ASSERT_EQUAL(strata_data_list(dir, count_job_file, &n, &err), 0);
	return n;
}

static void test_stop_and_crash_mid_job(void)
{
	const char *dir = tu_tmpdir();
	char whp[4096], cfg[4096], log[4096], sock[200];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	const char *whn = tu_wh_name(whp); /* a directory, or a catalog */
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/admin.sock", dir);
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whn, true, &wh, &err), 0);
	const char *props[] = {"write.bucket.num=1"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "big", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 1, &err), 0);
	unsigned seed = 11;
	uint64_t v;
	uint8_t *seen = calloc(1000000 / 8 + 1, 1);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(commit_rows(wh, "big", 20000, 1000000, 100, &seed, &v, seen), 0);
	size_t keys = 0;
	for (int k = 0; k < 1000000; k++)
		keys += (seen[k / 8] >> (k % 8)) & 1;
	free(seen);
#define STOP_CFG                                                                            \
	"[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 1\n"              \
	"io.max_mb_s = %s\nshutdown_timeout_s = 20\nlog_level = info\n"                          \
	"[policy]\nsort.min_files = 2\nclean.orphan_scan_s = 0\n"
	write_cfg(cfg, STOP_CFG, whn, sock, "0.5");
	/* SIGTERM while the sort runs: exit 0, the job cancelled, nothing left */
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 20));
	CU_ASSERT_FATAL(wait_running_io(sock, 20));
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 25), 0);
	CU_ASSERT(tud_log_has(log, "stopping (SIGTERM): 1 running jobs stop at their next block"));
	CU_ASSERT(tud_log_has(log, "sort of big p=_ b=0 cancelled"));
	shape s = table_shape(wh, "big", 1);
	CU_ASSERT_EQUAL(s.intents, 0);
	CU_ASSERT_EQUAL(s.l0, 4);
	CU_ASSERT_EQUAL(bucket_job_files(wh), 0);
	/* SIGKILL while it runs: an intent stays behind ... */
	pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 20));
	CU_ASSERT_FATAL(wait_running_io(sock, 20));
	kill(pid, SIGKILL);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 10), 128 + SIGKILL);
	s = table_shape(wh, "big", 1);
	CU_ASSERT_EQUAL(s.intents, 1);
	/* ... and the next start recovers it, then finishes the work */
	write_cfg(cfg, STOP_CFG, whn, sock, "0");
	pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT(tud_wait_log(log, "recovered 1 intents of jobs that did not finish", 20));
	CU_ASSERT_FATAL(tud_wait_ready(sock, 20));
	double end = tud_now_s() + 30;
	while (tud_now_s() < end && (table_shape(wh, "big", 1).l0 != 0 || table_shape(wh, "big", 1).intents))
		tud_sleep_ms(100);
	s = table_shape(wh, "big", 1);
	CU_ASSERT_EQUAL(s.l0, 0);
	CU_ASSERT_EQUAL(s.intents, 0);
	CU_ASSERT_EQUAL(bucket_job_files(wh), 1); /* the one committed output */
	/* the data read the same: count the keys */
	size_t rows = count_rows(wh, "big");
	if (rows != keys)
		fprintf(stderr, "\nscan after recovery: %zu rows, %zu keys written\n", rows, keys);
	CU_ASSERT_EQUAL(rows, keys);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

/* ---- two daemons, one warehouse ----------------------------------------------------------------- */

typedef struct sampler {
	strata_wh *wh;
	atomic_int stop;
	int samples, violations, max_intents;
	char what[256];
} sampler;

static void *sample_main(void *arg)
{
	sampler *s = arg;
	while (!atomic_load(&s->stop)) {
		strata_err err;
		strata_mf_snap *snap;
		strata_arena *a = strata_arena_new();
		strata_intent *in;
		size_t n = 0;
		if (strata_mf_snap_open(strata_wh_mf(s->wh), &snap, &err) == 0) {
			if (strata_mf_intents_list(snap, a, &in, &n, &err) == 0) {
				s->samples++;
				if ((int)n > s->max_intents)
					s->max_intents = (int)n;
				for (size_t i = 0; i < n; i++)
					for (size_t k = i + 1; k < n; k++)
						if (in[i].table_id == in[k].table_id &&
						    in[i].part_id == in[k].part_id && in[i].bucket == in[k].bucket) {
							s->violations++;
							snprintf(s->what, sizeof(s->what),
								 "jobs %" PRIu64 " (%s) and %" PRIu64
								 " (%s) on bucket %u at once",
								 in[i].job_id, in[i].owner, in[k].job_id,
								 in[k].owner, in[i].bucket);
						}
			}
			strata_mf_snap_close(snap);
		}
		strata_arena_free(a);
		tud_sleep_ms(2);
	}
	return NULL;
}

/* The share of a daemon (daemon/share.c) from `status`: how many daemons
 * it sees and how many of the buckets it planned last are its own. */
static bool share_stats(const char *sock, size_t *ndaemons, long long *mine, long long *total)
{
	json_t *r = tud_admin(sock, "status");
	if (!r)
		return false;
	json_t *sh = json_object_get(r, "share");
	*ndaemons = json_array_size(json_object_get(sh, "daemons"));
	*mine = json_integer_value(json_object_get(sh, "buckets_mine"));
	*total = json_integer_value(json_object_get(sh, "buckets_total"));
	json_decref(r);
	return true;
}

static void test_two_daemons_one_warehouse(void)
{
	const char *dir = tu_tmpdir();
	char whp[4096], cfg[2][4096], log[2][4096], sock[2][200];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	const char *whn = tu_wh_name(whp); /* a directory, or a catalog */
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whn, true, &wh, &err), 0);
	const char *props[] = {"write.bucket.num=3"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "two", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 1, &err), 0);
	pid_t pid[2];
	for (int i = 0; i < 2; i++) {
		snprintf(cfg[i], sizeof(cfg[i]), "%s/d%d.ini", dir, i);
		snprintf(log[i], sizeof(log[i]), "%s/d%d.log", dir, i);
		snprintf(sock[i], sizeof(sock[i]), "%s/run%d/admin.sock", dir, i);
		write_cfg(cfg[i],
			  "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 2\n"
			  "log_level = info\n[policy]\nsort.min_files = 2\nsort.max_delay_s = 1\n"
			  "merge.fanout = 2\nclean.grace_s = 1\nclean.trash_s = 1\nclean.orphan_scan_s = 0\n"
			  "policy.backoff_s = 1\npolicy.backoff_max_s = 2\n",
			  whn, sock[i]);
		pid[i] = tud_spawn(cfg[i], log[i], NULL);
	}
	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(tud_wait_ready(sock[i], 20));
	sampler sm = {.wh = wh};
	pthread_t th;
	pthread_create(&th, NULL, sample_main, &sm);
	unsigned seed = 5;
	uint64_t v;
	int commits = 0;
	uint8_t seen[400 / 8 + 1] = {0};
	double end = tud_now_s() + (double)env_u64("DAEMON_WRITE_S", 15);
	while (tud_now_s() < end) {
		CU_ASSERT_EQUAL(commit_rows(wh, "two", 40, 400, 20, &seed, &v, seen), 0);
		commits++;
		tud_sleep_ms(20);
	}
	/* let both settle */
	double t0 = tud_now_s();
	jobstats js[2];
	while (tud_now_s() - t0 < 30) {
		bool idle = table_shape(wh, "two", 1).l0 == 0;
		for (int i = 0; i < 2; i++)
			idle = job_stats(sock[i], &js[i]) && idle && js[i].running == 0 && js[i].queued == 0;
		if (idle)
			break;
		tud_sleep_ms(200);
	}
	atomic_store(&sm.stop, 1);
	pthread_join(th, NULL);
	for (int i = 0; i < 2; i++)
		CU_ASSERT(job_stats(sock[i], &js[i]));
	fprintf(stderr,
		"\ntwo daemons: %d commits; %d intent samples (at most %d at once), %d on one bucket; "
		"ok jobs %d + %d, busy %d + %d, conflicts %d + %d\n",
		commits, sm.samples, sm.max_intents, sm.violations,
		js[0].ok[0] + js[0].ok[1] + js[0].ok[4], js[1].ok[0] + js[1].ok[1] + js[1].ok[4], js[0].busy,
		js[1].busy, js[0].conflict, js[1].conflict);
	if (sm.violations)
		fprintf(stderr, "two daemons: %s\n", sm.what);
	CU_ASSERT_EQUAL(sm.violations, 0);
	CU_ASSERT(sm.samples > 100);
	/* the share: both see each other, each owns part of the buckets and
	 * together all, and whoever owns buckets ran jobs on them */
	size_t nd[2];
	long long mine[2], total[2];
	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(share_stats(sock[i], &nd[i], &mine[i], &total[i]));
	fprintf(stderr, "two daemons: shares %lld and %lld of %lld buckets\n", mine[0], mine[1],
		total[0]);
	CU_ASSERT(nd[0] == 2 && nd[1] == 2);
	CU_ASSERT(total[0] == 3 && total[1] == 3);
	CU_ASSERT_EQUAL(mine[0] + mine[1], 3);
	for (int i = 0; i < 2; i++)
		CU_ASSERT(mine[i] == 0 || js[i].ok[0] + js[i].ok[1] > 0);
	/* (busy claims stay possible: until both have seen each other's
	 * heartbeat, each plans everything, and the claims keep them apart) */
	CU_ASSERT_EQUAL(js[0].failed + js[1].failed, 0);
	CU_ASSERT_EQUAL(table_shape(wh, "two", 1).l0, 0);
	/* the data: every key once */
	size_t rows = count_rows(wh, "two");
	size_t keys = 0;
	for (int k = 0; k < 400; k++)
		keys += (seen[k / 8] >> (k % 8)) & 1;
	CU_ASSERT_EQUAL(rows, keys);
	for (int i = 0; i < 2; i++) {
		kill(pid[i], SIGTERM);
		CU_ASSERT_EQUAL(tud_wait_exit(pid[i], 30), 0);
	}
	strata_wh_close(wh);
}

/* A finished job's scan comes one cron tick after the last scan when scans
 * are cheap (it was a whole second: a busy bucket ran one job a second), and
 * D_SCAN_COST_FACTOR times the last scan's duration when they are not;
 * never in the past. */
static void test_scan_after_job_cadence(void)
{
	static const struct {
		int64_t end_us;
		double scan_ms;
		int64_t now_us, want_us;
	} cases[] = {
		{10000000, 4.0, 10000000, 10000000 + D_SCAN_AFTER_JOB_MIN_US}, /* cheap: a tick */
		{10000000, 0.0, 10000000, 10000000 + D_SCAN_AFTER_JOB_MIN_US},
		{10000000, 100.0, 10000000, 10000000 + 100000 * D_SCAN_COST_FACTOR}, /* costly */
		{10000000, 4.0, 50000000, 50000000},  /* long since the last scan: now */
		{10000000, 100.0, 10500000, 11000000}, /* 1 s after a 100 ms scan */
	};
	CU_ASSERT(D_SCAN_AFTER_JOB_MIN_US < D_US); /* the old 1 s gap is gone */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t at = d_scan_after_job_at(cases[i].end_us, cases[i].scan_ms, cases[i].now_us);
		if (at != cases[i].want_us)
			fprintf(stderr, "\ncase %zu: %" PRId64 " != %" PRId64 "\n", i, at, cases[i].want_us);
		CU_ASSERT_EQUAL(at, cases[i].want_us);
	}
	/* the ticks: a 2.5 ms scan at a tick asks for the next 100 ms after it
	 * ended; the tick 100 ms (give or take its jitter) after that one
	 * starts it, not the tick after (the cadence was 200 ms) */
	int64_t tick = 10000000, end = tick + 2500;
	int64_t next = d_scan_after_job_at(end, 2.5, end);
	CU_ASSERT(d_scan_is_due(tick + D_CRON_MS * 1000 + 300, next));
	CU_ASSERT(d_scan_is_due(tick + D_CRON_MS * 1000 - 300, next));
	CU_ASSERT(!d_scan_is_due(tick + 40000, next)); /* not a tick early */
	CU_ASSERT(d_scan_is_due(next, next));
	CU_ASSERT(!d_scan_is_due(tick, tick + D_US)); /* scan_interval_s 1: not yet */
}

/* Job chaining (issue 16): with scans an hour apart, a manual sort that
 * brings level 1 to merge.fanout has the merge queued the moment the sort
 * finishes, from the bucket's own files (strata_jobs_chained_total), and
 * the merge runs. */
static void test_job_chaining(void)
{
	one_bucket o;
	one_bucket_open(&o, "chain");
	strata_wh *wh = o.wh;
	const char *sock = o.sock;
	pid_t pid = one_bucket_spawn(&o, 3600, 2);
	unsigned seed = 9;
	uint64_t v;
	jobstats js = {0};
	for (int round = 0; round < 2; round++) {
		for (int c = 0; c < 2; c++)
			CU_ASSERT_EQUAL(commit_rows(wh, "chain", 20, 100, 8, &seed, &v, NULL), 0);
		CU_ASSERT(tud_admin_ok(sock, "sort chain"));
		double end = tud_now_s() + 20;
		while (tud_now_s() < end && job_stats(sock, &js) && js.ok[0] < round + 1)
			tud_sleep_ms(50);
		CU_ASSERT_EQUAL(js.ok[0], round + 1);
	}
	/* the second sort made two files at level 1: the merge follows it */
	double end = tud_now_s() + 20;
	while (tud_now_s() < end && job_stats(sock, &js) && js.ok[1] < 1)
		tud_sleep_ms(50);
	CU_ASSERT_EQUAL(js.ok[1], 1);
	char *m = tud_metrics(sock);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(tud_metric(m, "strata_jobs_chained_total") >= 1);
	free(m);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

/* ---- the paired merge --------------------------------------------------------------------------- */

/* One library job on bucket 0 of table "pair"; level >= 1: a merge of it. */
static void pair_job(strata_wh *wh, strata_bucket_job_kind kind, int level)
{
	strata_bucket_job job;
	strata_bucket_job_default(&job, kind);
	job.level = level;
	strata_job_ctl ctl = {.owner = "test@pair:0"};
	strata_bucket_job_out out;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_job_run(wh, "pair", "", 0, &job, &ctl, &out, &err), 0);
	CU_ASSERT_FALSE(out.is_noop);
}

/* A crowded bucket with one file on each level (1, 2, 3 at merge.fanout 3):
 * no level holds two, and stratad merges the two cheapest levels next to
 * each other into the level above (before, it queued nothing until a sort
 * put a second file on level 1).  `admin plan` and the job say which, and
 * the table reads the same. */
static void test_paired_merge(void)
{
	one_bucket o;
	one_bucket_open(&o, "pair");
	strata_wh *wh = o.wh;
	const char *sock = o.sock;
	unsigned seed = 5;
	uint64_t v;
	/* seven sorted files, merged by hand into level 3 (4), 2 (2) and 1 (1) */
	for (int i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL_FATAL(commit_rows(wh, "pair", 30, 1000, 8, &seed, &v, NULL), 0);
		pair_job(wh, STRATA_BUCKET_JOB_SORT, -1);
		if (i == 1 || i == 3 || i == 5)
			pair_job(wh, STRATA_BUCKET_JOB_MERGE, 1);
		if (i == 3)
			pair_job(wh, STRATA_BUCKET_JOB_MERGE, 2);
	}
	shape s = table_shape(wh, "pair", 1);
	CU_ASSERT_EQUAL_FATAL(s.files, 3);
	CU_ASSERT_EQUAL_FATAL(s.max_per_level, 1);
	size_t rows = count_rows(wh, "pair");
	pid_t pid = one_bucket_spawn(&o, 1, 3);
	jobstats js = {0};
	double end = tud_now_s() + 20;
	while (tud_now_s() < end && job_stats(sock, &js) && js.ok[1] < 1)
		tud_sleep_ms(50);
	CU_ASSERT_EQUAL(js.ok[1], 1);
	json_t *r = tud_admin(sock, "jobs");
	json_t *fins = json_object_get(r, "finished"), *fin = NULL;
	for (size_t i = 0; i < json_array_size(fins); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(fins, i), "kind")),
			   "merge") == 0)
			fin = json_array_get(fins, i);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fin);
	const char *why = json_string_value(json_object_get(fin, "reason"));
	CU_ASSERT_PTR_NOT_NULL(why);
	CU_ASSERT_PTR_NOT_NULL(why ? strstr(why, "no level holds two: levels 1 and 2 into level 3") :
				     NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(fin, "files_in")), 2);
	json_decref(r);
	/* levels 1 and 2 became one file at level 3, beside the one there */
	s = table_shape(wh, "pair", 1);
	CU_ASSERT_EQUAL(s.files, 2);
	CU_ASSERT_EQUAL(s.max_per_level, 2);
	CU_ASSERT_EQUAL(count_rows(wh, "pair"), rows);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

static void register_daemon(void)
{
	CU_pSuite s = CU_add_suite("daemon", NULL, NULL);
	TU_ADD(s, test_steady_state_with_oracle);
	TU_ADD(s, test_reload_and_notify);
	TU_ADD(s, test_unauthorized_peer);
	TU_ADD(s, test_stop_and_crash_mid_job);
	TU_ADD(s, test_two_daemons_one_warehouse);
	TU_ADD(s, test_scan_after_job_cadence);
	TU_ADD(s, test_job_chaining);
	TU_ADD(s, test_paired_merge);
}

TU_MAIN(register_daemon)
