/*
 * tests/test_pgfailover.c — an acknowledged commit survives losing the
 * catalog's primary (issue 13, "Failover").
 *
 * A PostgreSQL primary and a synchronous standby on loopback
 * (tests/util/tu_pg.h, tu_pg_pair_*: pg_basebackup -R, synchronous_commit
 * on, synchronous_standby_names '*'), both in the suite's scratch
 * directory and stopped by PID at the end.  Writer threads, each with a
 * warehouse handle of its own on the multi-host URI
 *   postgresql://postgres@127.0.0.1:P0,127.0.0.1:P1/strata_failover
 *     ?target_session_attrs=read-write
 * commit batches of rows through the strata_* API, each batch with an
 * idempotency token and its batch time.  Mid-run the primary's postmaster
 * and backends are killed with SIGKILL (as when its machine goes), the
 * standby is promoted (pg_ctl promote), and the writers go on: a commit
 * that failed — uncertain (the connection was lost in COMMIT), a lost
 * connection, a catalog it could not reach, a poisoned handle — is retried
 * with the same token and batch time on a new handle until it is
 * acknowledged (a first commit, or "already committed with this token").
 *
 * The kill is made to land inside a commit (the first writer to reach its
 * manifest commit after the test asks kills the primary from
 * strata_mf_commit_hook, before its COMMIT goes out), so one commit at
 * least is uncertain; the others' fall where they fall (a COMMIT the
 * standby received before the kill is committed without an answer: its
 * retry is answered "already committed").
 *
 * Checked at the end, on the promoted standby: every acknowledged batch is
 * in the table exactly once — every row of it present, with the version
 * its acknowledgement named as its _seq (zero acknowledged rows lost), and
 * the version log holds exactly one write per batch (none applied twice) —
 * and the failover was exercised (some commit failed while the primary
 * was gone).
 *
 * Before that, on the same pair: a COMMIT whose wait for the synchronous
 * standby is cancelled (pg_cancel_backend while the standby is not
 * synchronous) is committed on the primary alone — PostgreSQL answers
 * COMMIT with a warning — and must be uncertain, not acknowledged; and its
 * retry with the same token must not be answered "already committed"
 * until the standby holds the commit (both were acknowledged at once
 * before: a loss of the primary then lost them).
 *
 * Without PostgreSQL (or pg_basebackup) the tests are skipped.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <libpq-fe.h>

#include "manifest/manifest.h"
#include "table/table.h"

#define WRITERS 3
#define ROWS 8             /* rows per batch */
#define MAX_BATCHES 4000
#define ACKS_BEFORE 3      /* batches each writer has acknowledged before the kill */
#define ACKS_AFTER 3       /* ... and after the promotion */
#define RETRY_FOR_S 120    /* a batch not acknowledged by then fails the test */
#define GAP_MS 500         /* primary gone, standby not promoted yet */

static const char *uri;

enum { PH_PRIMARY, PH_GONE, PH_PROMOTED, PH_STOP };
static atomic_int phase;

/* The kill lands inside a commit: the first writer to reach the manifest
 * commit after the test asks for it kills the primary just before its
 * COMMIT goes out (strata_mf_commit_hook), so at least that commit is
 * uncertain; the other writers are wherever they are. */
static atomic_int kill_asked, kill_done; /* kill_done: 1 killed, -1 failed */
static char kill_why[600];

static void kill_in_commit(bool is_after, int rc)
{
	if (is_after || !atomic_exchange(&kill_asked, 0))
		return;
	bool ok = tu_pg_pair_kill_primary(kill_why, sizeof(kill_why));
	atomic_store(&kill_done, ok ? 1 : -1);
}

typedef struct writer {
	int id;
	pthread_t th;
	atomic_int nacked;        /* batches acknowledged */
	atomic_int nacked_after;  /* of them, started after the promotion */
	uint64_t version[MAX_BATCHES];
	int nerrors, nuncertain, nrepeats;
	char last_err[STRATA_ERR_MSG_MAX];
	char fail[STRATA_ERR_MSG_MAX + 64]; /* why it gave up; "" if it did not */
} writer;

static writer writers[WRITERS];

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int64_t key_of(int w, int b, int i)
{
	return (int64_t)w * 10000000 + (int64_t)b * ROWS + i;
}

/* One attempt at batch b of writer w. */
static int commit_batch(strata_wh *wh, int w, int b, const char *token, int64_t token_us,
			uint64_t *version, bool *is_repeat, strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, "t", &t, err);
	if (rc)
		return rc;
	for (int i = 0; i < ROWS && rc == 0; i++) {
		json_t *j = json_pack("{s:I, s:i, s:i}", "k", (json_int_t)key_of(w, b, i), "w", w,
				      "b", b);
		rc = strata_txn_put_json(t, j, err);
		json_decref(j);
	}
	if (rc) {
		strata_txn_abort(t);
		return rc;
	}
	strata_commit_opts o = {.token = token, .token_us = token_us};
	return strata_txn_commit(t, &o, version, is_repeat, err);
}

static void *writer_main(void *arg)
{
	writer *w = arg;
	strata_wh *wh = NULL;
	strata_err err = {0};
	for (int b = 0; b < MAX_BATCHES && atomic_load(&phase) != PH_STOP; b++) {
		bool is_after = atomic_load(&phase) == PH_PROMOTED;
		char token[64];
		snprintf(token, sizeof(token), "w%d-b%d", w->id, b);
		int64_t token_us = strata_now_us(); /* the batch's time, on every retry */
		int64_t give_up_us = strata_mono_us() + (int64_t)RETRY_FOR_S * 1000000;
		for (;;) {
			int rc = wh ? 0 : strata_wh_open(uri, false, &wh, &err);
			uint64_t v = 0;
			bool is_repeat = false;
			if (rc == 0)
				rc = commit_batch(wh, w->id, b, token, token_us, &v, &is_repeat, &err);
			if (rc == 0) {
				w->version[b] = v;
				w->nrepeats += is_repeat;
				atomic_fetch_add(&w->nacked, 1);
				if (is_after)
					atomic_fetch_add(&w->nacked_after, 1);
				break;
			}
			/* not acknowledged: the same token and batch time, on a new
			 * handle (an uncertain commit poisons this one) */
			w->nerrors++;
			w->nuncertain += rc == STRATA_EUNCERTAIN;
			snprintf(w->last_err, sizeof(w->last_err), "%s", err.msg);
			strata_wh_close(wh);
			wh = NULL;
			if (strata_mono_us() > give_up_us) {
				snprintf(w->fail, sizeof(w->fail), "batch %d not acknowledged in %d s: %s",
					 b, RETRY_FOR_S, err.msg);
				goto out;
			}
			sleep_ms(20);
		}
	}
out:
	strata_wh_close(wh);
	return NULL;
}

/* Until every writer has n acknowledgements (after the promotion when
 * is_after), or deadline_s; false on the deadline or a writer that gave
 * up. */
static bool wait_acks(int n, bool is_after, int deadline_s)
{
	int64_t end = strata_mono_us() + (int64_t)deadline_s * 1000000;
	for (;;) {
		bool is_done = true;
		for (int i = 0; i < WRITERS; i++) {
			int k = is_after ? atomic_load(&writers[i].nacked_after) :
					   atomic_load(&writers[i].nacked);
			if (writers[i].fail[0])
				return false;
			if (k < n)
				is_done = false;
		}
		if (is_done)
			return true;
		if (strata_mono_us() > end)
			return false;
		sleep_ms(20);
	}
}

static void stop_writers(void)
{
	atomic_store(&phase, PH_STOP);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(writers[i].th, NULL);
}

/* The checks at the end, on the promoted standby. */
static void check_every_ack_once(void)
{
	strata_wh *wh = NULL;
	strata_err err = {0};
	int rc = strata_wh_open(uri, false, &wh, &err);
	if (rc)
		fprintf(stderr, "open after the failover: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	int total = 0;
	for (int i = 0; i < WRITERS; i++)
		total += atomic_load(&writers[i].nacked);

	/* none applied twice: one write version per batch */
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	strata_table_def td;
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, "t", &td, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_version_rec *vr;
	size_t nv;
	CU_ASSERT_EQUAL_FATAL(strata_mf_versions_list(snap, td.id, 1, 0, a, &vr, &nv, &err), 0);
	int nwrites = 0;
	for (size_t i = 0; i < nv; i++)
		nwrites += vr[i].kind == STRATA_V_WRITE;
	if (nwrites != total)
		fprintf(stderr, "the version log holds %d writes for %d acknowledged batches\n",
			nwrites, total);
	CU_ASSERT_EQUAL(nwrites, total);
	strata_arena_free(a);
	strata_mf_snap_close(snap);

	/* zero acknowledged rows lost: each row of each batch, at the version
	 * its acknowledgement named */
	uint8_t *seen[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		seen[i] = calloc((size_t)MAX_BATCHES * ROWS, 1);
	strata_scan *s = NULL;
	strata_read_opts o = {0};
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "t", &o, &s, &err), 0);
	const strata_row *row;
	const char *const *pv;
	int nrows = 0, nbad = 0, ndup = 0;
	while ((rc = strata_scan_next(s, &row, &pv, &err)) == 1) {
		nrows++;
		int64_t k = row->vals[0].v.i64;
		int w = row->vals[1].v.i32, b = row->vals[2].v.i32;
		int64_t i = k - key_of(w, b, 0);
		if (w < 0 || w >= WRITERS || b < 0 || b >= atomic_load(&writers[w].nacked) || i < 0 ||
		    i >= ROWS || (uint64_t)row->seq != writers[w].version[b]) {
			if (nbad++ < 5)
				fprintf(stderr, "row k=%lld w=%d b=%d at version %lld: not an "
						"acknowledged batch's row at its version\n",
					(long long)k, w, b, (long long)row->seq);
			continue;
		}
		if (seen[w][(size_t)b * ROWS + (size_t)i]++)
			ndup++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	strata_scan_close(s);
	int nmissing = 0;
	for (int w = 0; w < WRITERS; w++) {
		for (int b = 0; b < atomic_load(&writers[w].nacked); b++)
			for (int i = 0; i < ROWS; i++)
				if (!seen[w][(size_t)b * ROWS + (size_t)i] && nmissing++ < 5)
					fprintf(stderr, "acknowledged row w=%d b=%d i=%d (version %llu) "
							"is lost\n",
						w, b, i, (unsigned long long)writers[w].version[b]);
		free(seen[w]);
	}
	printf("\n  %d batches of %d rows acknowledged by %d writers; %d rows read\n", total,
	       ROWS, WRITERS, nrows);
	CU_ASSERT_EQUAL(nmissing, 0);
	CU_ASSERT_EQUAL(nbad, 0);
	CU_ASSERT_EQUAL(ndup, 0);
	CU_ASSERT_EQUAL(nrows, total * ROWS);
	strata_wh_close(wh);
}

static void test_failover_loses_no_acknowledged_write(void)
{
	char why[600];
	uri = tu_pg_pair_start("strata_failover", why, sizeof(why));
	if (!uri) {
		char msg[700];
		snprintf(msg, sizeof(msg), "no primary and standby: %s", why);
		tu_skip(msg);
		return;
	}
	char data[4096];
	snprintf(data, sizeof(data), "%s/data", tu_tmpdir());
	strata_wh *wh = NULL;
	strata_err err = {0};
	int rc = strata_wh_create(uri, data, &wh, &err);
	if (rc)
		fprintf(stderr, "init: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	const char *props[] = {"write.bucket.num=2"};
	rc = strata_table_create(wh, "t", "k BIGINT PRIMARY KEY, w INT, b INT", NULL, NULL, props,
				 1, &err);
	if (rc)
		fprintf(stderr, "create-table: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_wh_close(wh);

	atomic_store(&phase, PH_PRIMARY);
	strata_mf_commit_hook = kill_in_commit; /* a no-op until kill_asked */
	for (int i = 0; i < WRITERS; i++) {
		writers[i].id = i;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&writers[i].th, NULL, writer_main, &writers[i]), 0);
	}
	bool ok = wait_acks(ACKS_BEFORE, false, 60);
	CU_ASSERT(ok);
	if (ok) {
		atomic_store(&kill_asked, 1);
		for (int i = 0; i < 3000 && !atomic_load(&kill_done); i++)
			sleep_ms(10);
		ok = atomic_load(&kill_done) == 1;
		if (!ok)
			fprintf(stderr, "kill the primary: %s\n",
				kill_done ? kill_why : "no writer reached a commit in 30 s");
		CU_ASSERT(ok);
	}
	int acked_at_kill = 0;
	for (int i = 0; i < WRITERS; i++)
		acked_at_kill += atomic_load(&writers[i].nacked);
	atomic_store(&phase, PH_GONE);
	sleep_ms(GAP_MS);
	if (ok) {
		ok = tu_pg_pair_promote(why, sizeof(why));
		if (!ok)
			fprintf(stderr, "promote the standby: %s\n", why);
		CU_ASSERT(ok);
	}
	atomic_store(&phase, PH_PROMOTED);
	if (ok) {
		ok = wait_acks(ACKS_AFTER, true, RETRY_FOR_S);
		CU_ASSERT(ok);
	}
	stop_writers();
	strata_mf_commit_hook = NULL;
	int nerrors = 0, nuncertain = 0, nrepeats = 0;
	for (int i = 0; i < WRITERS; i++) {
		if (writers[i].fail[0])
			fprintf(stderr, "writer %d: %s\n", i, writers[i].fail);
		CU_ASSERT_STRING_EQUAL(writers[i].fail, "");
		nerrors += writers[i].nerrors;
		nuncertain += writers[i].nuncertain;
		nrepeats += writers[i].nrepeats;
	}
	printf("\n  %d acknowledged before the kill; %d failed attempts (%d uncertain), %d "
	       "retries answered \"already committed\"",
	       acked_at_kill, nerrors, nuncertain, nrepeats);
	for (int i = 0; i < WRITERS && nerrors; i++)
		if (writers[i].last_err[0])
			printf("\n  writer %d's last error: %.300s", i, writers[i].last_err);
	/* the writers met the failover: one commit at least was uncertain
	 * (the kill went in before its COMMIT) */
	CU_ASSERT(nuncertain > 0);
	CU_ASSERT(nerrors >= nuncertain);
	if (ok)
		check_every_ack_once();
}

/* ---- a cancelled wait for the standby ------------------------------------------- */

/* A raw connection to node's database db as the superuser. */
static PGconn *node_conn(int node, const char *db)
{
	char conninfo[200];
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=postgres dbname=%s",
		 tu_pg_pair_port(node), db);
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		fprintf(stderr, "connect to node %d: %s", node, PQerrorMessage(c));
	return c;
}

static bool node_sql(int node, const char *sql, char *out, size_t n)
{
	PGconn *c = node_conn(node, "postgres");
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	if (ok && out)
		snprintf(out, n, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* synchronous_standby_names on the primary ("strata_nobody": no standby
 * is synchronous, every commit waits) */
static bool sync_names(const char *v)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "ALTER SYSTEM SET synchronous_standby_names = '%s'", v);
	return node_sql(0, sql, NULL, 0) && node_sql(0, "SELECT pg_reload_conf()", NULL, 0);
}

typedef struct bg_commit {
	strata_wh *wh; /* opened before the standby went away: opening a
			  catalog waits for the standby too */
	int64_t token_us;
	pthread_t th;
	atomic_int is_done;
	int rc;
	bool is_repeat;
	uint64_t version;
	char msg[STRATA_ERR_MSG_MAX];
} bg_commit;

/* One attempt at batch 0 of "writer" 9 with token "sync-1", on b->wh. */
static void *bg_commit_main(void *arg)
{
	bg_commit *b = arg;
	strata_err err = {0};
	b->rc = commit_batch(b->wh, 9, 0, "sync-1", b->token_us, &b->version, &b->is_repeat, &err);
	snprintf(b->msg, sizeof(b->msg), "%s", err.msg);
	atomic_store(&b->is_done, 1);
	return NULL;
}

static bool wait_done(bg_commit *b, int seconds)
{
	for (int i = 0; i < seconds * 100 && !atomic_load(&b->is_done); i++)
		sleep_ms(10);
	return atomic_load(&b->is_done);
}

/* The backend of the primary waiting for the synchronous standby; 0 if none
 * (within 30 s). */
static int syncrep_waiter(void)
{
	char pid[32] = "";
	for (int i = 0; i < 3000 && !pid[0]; i++) {
		if (i)
			sleep_ms(10);
		if (!node_sql(0, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' LIMIT 1",
			      pid, sizeof(pid)))
			return 0;
	}
	return atoi(pid);
}

/* A COMMIT whose wait for the synchronous standby is cancelled is
 * committed on the primary alone (the server answers COMMIT with a
 * warning): it is uncertain, never acknowledged; and the retry with its
 * token is answered only once the standby has the commit (before, the
 * commit was acknowledged at once, and so was the retry: both could be lost
 * with the primary). */
static void test_cancelled_standby_wait_is_uncertain(void)
{
	char why[600];
	if (!tu_pg_pair_start("strata_failover", why, sizeof(why))) {
		char msg[700];
		snprintf(msg, sizeof(msg), "no primary and standby: %s", why);
		tu_skip(msg);
		return;
	}
	CU_ASSERT_FATAL(node_sql(0, "CREATE DATABASE strata_syncrep", NULL, 0));
	char suri[300], data[4096];
	snprintf(suri, sizeof(suri),
		 "postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/strata_syncrep"
		 "?target_session_attrs=read-write",
		 tu_pg_pair_port(0), tu_pg_pair_port(1));
	snprintf(data, sizeof(data), "%s/syncrep-data", tu_tmpdir());
	strata_wh *wh = NULL;
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(strata_wh_create(suri, data, &wh, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "k BIGINT PRIMARY KEY, w INT, b INT",
						  NULL, NULL, NULL, 0, &err),
			      0);
	strata_wh_close(wh);
	/* the first attempt's handle, and the retry's (a new one: an uncertain
	 * commit closes its handle) */
	strata_wh *wa = NULL, *wb = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(suri, false, &wa, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(suri, false, &wb, &err), 0);

	CU_ASSERT_FATAL(sync_names("strata_nobody"));
	bg_commit a = {.wh = wa, .token_us = strata_now_us()};
	CU_ASSERT_EQUAL_FATAL(pthread_create(&a.th, NULL, bg_commit_main, &a), 0);
	int pid = syncrep_waiter();
	CU_ASSERT(pid > 0);
	char sql[100];
	snprintf(sql, sizeof(sql), "SELECT pg_cancel_backend(%d)", pid);
	CU_ASSERT(pid > 0 && node_sql(0, sql, NULL, 0));
	CU_ASSERT(wait_done(&a, 30));
	pthread_join(a.th, NULL);
	if (a.rc != STRATA_EUNCERTAIN)
		fprintf(stderr, "\na commit whose standby wait was cancelled: rc %d (%s)\n", a.rc,
			a.msg);
	CU_ASSERT_EQUAL(a.rc, STRATA_EUNCERTAIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.msg, "synchronous"));

	/* the retry, with the same token and time: committed on the primary,
	 * so "already committed" — but not before the standby has it */
	bg_commit b = {.wh = wb, .token_us = a.token_us};
	CU_ASSERT_EQUAL_FATAL(pthread_create(&b.th, NULL, bg_commit_main, &b), 0);
	sleep_ms(1500);
	bool is_early = atomic_load(&b.is_done);
	if (is_early)
		fprintf(stderr, "\nthe retry was answered (rc %d, repeat %d) while no standby had "
				"the commit\n",
			b.rc, b.is_repeat);
	CU_ASSERT_FALSE(is_early);
	CU_ASSERT(sync_names("*"));
	CU_ASSERT(wait_done(&b, 60));
	pthread_join(b.th, NULL);
	if (b.rc)
		fprintf(stderr, "\nthe retry: %s\n", b.msg);
	CU_ASSERT_EQUAL(b.rc, 0);
	CU_ASSERT(b.is_repeat);
	strata_wh_close(wa);
	strata_wh_close(wb);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("pgfailover", NULL, NULL);
	/* the second kills the primary */
	TU_ADD(s, test_cancelled_standby_wait_is_uncertain);
	TU_ADD(s, test_failover_loses_no_acknowledged_write);
}

TU_MAIN(register_tests)
