/*
 * tests/test_backpressure.c — writer back-pressure (issue 16, item 2):
 * write.slow-level0-files and write.max-level0-files against a real
 * warehouse and a real stratad.
 *
 *   - off by default: many row files in one bucket never slow a commit;
 *   - it engages at the limits: below the soft limit a commit goes at once,
 *     at it the commit is slowed, at the hard limit it waits; stratad's
 *     status and metrics show the bucket waiting; a sort stratad runs (on
 *     `sort T`, its own thresholds set out of reach) wakes the waiting
 *     writer, whose commit then lands, and status clears;
 *   - with no daemon the wait times out with an error naming the bucket,
 *     its count and the limit, nothing is committed, and the same batch
 *     commits once the limit is raised (nothing lost);
 *   - `strata write` says why it waits, on stderr.
 *
 * No timing assertions: waits poll until generous deadlines.  The daemon
 * listens on a Unix socket in the scratch directory and is stopped by PID
 * (and SIGKILLed at exit by tu_daemon if a test fails first).
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include "table/table.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct stall_log {
	atomic_int slow, wait, released;
	char last_why[512];
	int64_t last_limit;
} stall_log;

static void stall_cb(void *arg, const strata_stall *st)
{
	stall_log *l = arg;
	snprintf(l->last_why, sizeof(l->last_why), "%s", st->why);
	l->last_limit = st->limit;
	if (st->kind == STRATA_STALL_SLOW)
		atomic_fetch_add(&l->slow, 1);
	else if (st->kind == STRATA_STALL_WAIT)
		atomic_fetch_add(&l->wait, 1);
	else
		atomic_fetch_add(&l->released, 1);
}

static int put_one(strata_wh *wh, const char *table, int key, stall_log *l, uint64_t *version,
		   strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, table, &t, err);
	if (rc)
		return rc;
	char line[96];
	snprintf(line, sizeof(line), "{\"k\":%d,\"v\":\"row %d\"}", key, key);
	json_error_t je;
	json_t *o = json_loads(line, 0, &je);
	rc = strata_txn_put_json(t, o, err);
	json_decref(o);
	if (rc) {
		strata_txn_abort(t);
		return rc;
	}
	strata_commit_opts co = {.on_stall = l ? stall_cb : NULL, .stall_arg = l};
	uint64_t v = 0;
	rc = strata_txn_commit(t, &co, &v, NULL, err);
	if (version)
		*version = v;
	return rc;
}

static int count_rows(strata_wh *wh, const char *table)
{
	strata_scan *sc;
	strata_err err;
	strata_read_opts ro = {0};
	if (strata_scan_open(wh, table, &ro, &sc, &err) != 0)
		return -1;
	const strata_row *row;
	const char *const *pv;
	int n = 0, rc;
	while ((rc = strata_scan_next(sc, &row, &pv, &err)) == 1)
		n++;
	strata_scan_close(sc);
	return rc < 0 ? -1 : n;
}

static uint64_t table_version(strata_wh *wh, const char *table)
{
	uint64_t v = 0;
	strata_err err;
	strata_read_opts ro = {0};
	return strata_read_version(wh, table, &ro, &v, &err) == 0 ? v : 0;
}

static int make_table(strata_wh *wh, const char *name, const char *const *props, size_t nprops,
		      strata_err *err)
{
	return strata_table_create(wh, name, "k BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL,
				   props, nprops, err);
}

/* ---- off by default ----------------------------------------------------------------------- */

static void test_off_by_default(void)
{
	char whp[PATH_MAX];
	snprintf(whp, sizeof(whp), "%s/wh", tu_tmpdir());
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", (const char *const[]){"write.bucket.num=1"}, 1, &e),
			      0);
	stall_log l = {0};
	for (int i = 0; i < 12; i++)
		CU_ASSERT_EQUAL(put_one(wh, "t", i, &l, NULL, &e), 0);
	CU_ASSERT_EQUAL(atomic_load(&l.slow) + atomic_load(&l.wait), 0);
	CU_ASSERT_EQUAL(count_rows(wh, "t"), 12);
	strata_wh_close(wh);
}

/* ---- engages at the limits, released by a sort the daemon runs ---------------------------- */

typedef struct writer_arg {
	strata_wh *wh;
	stall_log log;
	int rc;
	uint64_t version;
	strata_err err;
	atomic_bool is_done;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *w = p;
	w->rc = put_one(w->wh, "t", 1000, &w->log, &w->version, &w->err);
	atomic_store(&w->is_done, true);
	return NULL;
}

/* The backpressure object of table t in a status reply (borrowed). */
static json_t *status_bp(json_t *status)
{
	json_t *tabs = json_object_get(status, "tables");
	for (size_t i = 0; i < json_array_size(tabs); i++) {
		json_t *t = json_array_get(tabs, i);
		if (strcmp(json_string_value(json_object_get(t, "name")), "t") == 0)
			return json_object_get(t, "backpressure");
	}
	return NULL;
}

/* Wait (bounded) for status to show state for t. */
static bool wait_bp_state(const char *sock, const char *state, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	do {
		json_t *r = tud_admin(sock, "status");
		json_t *bp = r ? status_bp(r) : NULL;
		bool is_it = bp && strcmp(json_string_value(json_object_get(bp, "state")), state) == 0;
		json_decref(r);
		if (is_it)
			return true;
		tud_sleep_ms(100);
	} while (tud_now_s() < end);
	return false;
}

static void test_engages_and_daemon_sort_releases(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	const char *props[] = {"write.bucket.num=1", "write.slow-level0-files=2",
			       "write.max-level0-files=4", "write.stall-timeout-s=600"};
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", props, 4, &e), 0);
	/* below the soft limit: at once; at it and above: slowed */
	stall_log l = {0};
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(put_one(wh, "t", i, &l, NULL, &e), 0);
	CU_ASSERT_EQUAL(atomic_load(&l.slow) + atomic_load(&l.wait), 0);
	for (int i = 2; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(put_one(wh, "t", i, &l, NULL, &e), 0);
	CU_ASSERT_EQUAL(atomic_load(&l.slow), 2);
	CU_ASSERT_EQUAL(atomic_load(&l.wait), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(l.last_why, "write.slow-level0-files 2"));
	uint64_t v_full = table_version(wh, "t");
	/* at the hard limit: the next commit waits */
	writer_arg w = {.wh = wh};
	atomic_init(&w.is_done, false);
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, writer_main, &w), 0);
	double end = tud_now_s() + 60;
	while (atomic_load(&w.log.wait) == 0 && !atomic_load(&w.is_done) && tud_now_s() < end)
		tud_sleep_ms(10);
	CU_ASSERT_EQUAL(atomic_load(&w.log.wait), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(w.log.last_why, "holds 4 row files >= write.max-level0-files 4"));
	CU_ASSERT_FALSE(atomic_load(&w.is_done)); /* no sort has run: it cannot have gone on */
	CU_ASSERT_EQUAL(table_version(wh, "t"), v_full);
	/* a daemon whose own thresholds never sort: status and metrics show
	 * the bucket waiting */
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nlog_level = info\n"
		       "[policy]\nsort.min_files = 1000\nsort.max_delay_s = 86400\n"
		       "merge.fanout = 64\nclean.grace_s = 100000\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	CU_ASSERT(wait_bp_state(sock, "waiting", 30));
	json_t *r = tud_admin(sock, "status");
	json_t *bp = r ? status_bp(r) : NULL;
	CU_ASSERT_PTR_NOT_NULL(bp);
	if (bp) {
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(bp, "max_level0_files")), 4);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(bp, "buckets_waiting")), 1);
	}
	json_decref(r);
	char *m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_backpressure_buckets{table=\"t\",state=\"wait\"}") == 1);
	free(m);
	/* and `strata admin status` says so in words */
	char cmd[PATH_MAX * 3], outp[PATH_MAX];
	snprintf(outp, sizeof(outp), "%s/status.txt", dir);
	snprintf(cmd, sizeof(cmd), "'%s' admin --socket '%s' --text status > '%s' 2>&1", tu_bin("strata"),
		 sock, outp);
	CU_ASSERT_EQUAL(system(cmd), 0);
	size_t len = 0;
	char *txt = tu_read_file(outp, &len);
	CU_ASSERT(txt && strstr(txt, "back-pressure: waiting; writers wait in 1 buckets (at "
				     "write.max-level0-files 4)"));
	if (txt && !strstr(txt, "back-pressure: waiting"))
		fprintf(stderr, "\n  strata admin status said:\n%s\n", txt);
	free(txt);
	CU_ASSERT_FALSE(atomic_load(&w.is_done));
	/* the daemon sorts: the writer wakes and commits */
	CU_ASSERT(tud_admin_ok(sock, "sort t"));
	end = tud_now_s() + 120;
	while (!atomic_load(&w.is_done) && tud_now_s() < end)
		tud_sleep_ms(20);
	CU_ASSERT_TRUE(atomic_load(&w.is_done));
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.rc, 0);
	if (w.rc)
		fprintf(stderr, "\n  the waiting writer: %s\n", w.err.msg);
	CU_ASSERT_EQUAL(atomic_load(&w.log.released), 1);
	CU_ASSERT(w.version > v_full);
	CU_ASSERT_EQUAL(count_rows(wh, "t"), 5);
	/* the daemon catches up: status clears */
	CU_ASSERT(wait_bp_state(sock, "clear", 30));
	m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_backpressure_buckets{table=\"t\",state=\"wait\"}") == 0);
	free(m);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

/* ---- no daemon: a clear timeout, nothing lost ---------------------------------------------- */

static void test_times_out_without_daemon(void)
{
	char whp[PATH_MAX];
	snprintf(whp, sizeof(whp), "%s/wh", tu_tmpdir());
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	/* files: no file of a refused batch may be left behind */
	const char *props[] = {"write.bucket.num=1", "write.max-level0-files=2",
			       "write.stall-timeout-s=1", "write.inline.max-bytes=0"};
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", props, 4, &e), 0);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(put_one(wh, "t", i, NULL, NULL, &e), 0);
	uint64_t v = table_version(wh, "t");
	stall_log l = {0};
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(put_one(wh, "t", 2, &l, NULL, &e), STRATA_EBUSY);
	CU_ASSERT_EQUAL(atomic_load(&l.wait), 1);
	CU_ASSERT_EQUAL(atomic_load(&l.released), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "bucket 0 of \"t\" holds 2 row files >= "
					     "write.max-level0-files 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "write.stall-timeout-s 1 s"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "nothing was committed"));
	CU_ASSERT_EQUAL(table_version(wh, "t"), v);
	CU_ASSERT_EQUAL(count_rows(wh, "t"), 2);
	/* no file of the refused batch was left behind */
	char bdir[PATH_MAX];
	strata_bucket_dir(strata_wh_mf(wh), "t", "", 0, bdir, sizeof(bdir));
	CU_ASSERT_EQUAL(tu_count_files(bdir, NULL), 2);
	/* the limit raised, the same batch commits: nothing lost */
	const char *raise[] = {"write.max-level0-files=3"};
	CU_ASSERT_EQUAL_FATAL(strata_table_set_props(wh, "t", raise, 1, &e), 0);
	CU_ASSERT_EQUAL(put_one(wh, "t", 2, NULL, NULL, &e), 0);
	CU_ASSERT_EQUAL(count_rows(wh, "t"), 3);
	strata_wh_close(wh);
}

/* ---- `strata write` says why it waits ------------------------------------------------------- */

static void test_cli_reports_wait(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], in[PATH_MAX], errp[PATH_MAX], cmd[PATH_MAX * 4];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(in, sizeof(in), "%s/rows.jsonl", dir);
	snprintf(errp, sizeof(errp), "%s/stderr", dir);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	const char *props[] = {"write.bucket.num=1", "write.max-level0-files=1",
			       "write.stall-timeout-s=1"};
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", props, 3, &e), 0);
	CU_ASSERT_EQUAL_FATAL(put_one(wh, "t", 0, NULL, NULL, &e), 0);
	strata_wh_close(wh);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(in, "{\"k\":1,\"v\":\"x\"}\n", 17), 0);
	snprintf(cmd, sizeof(cmd), "'%s' -W '%s' write t < '%s' > /dev/null 2> '%s'",
		 tu_bin("strata"), whp, in, errp);
	int st = system(cmd);
	CU_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
	size_t len = 0;
	char *out = tu_read_file(errp, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "back-pressure: waiting for a sort (up to 1 s): bucket 0 "
					   "of \"t\" holds 1 row files >= write.max-level0-files 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "is stratad running?"));
	if (!strstr(out, "is stratad running?"))
		fprintf(stderr, "\n  strata write said:\n%s\n", out);
	free(out);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("backpressure", NULL, NULL);
	TU_ADD(s, test_off_by_default);
	TU_ADD(s, test_engages_and_daemon_sort_releases);
	TU_ADD(s, test_times_out_without_daemon);
	TU_ADD(s, test_cli_reports_wait);
}

TU_MAIN(register_tests)
