/*
 * manifest/pg_kv.c — the PostgreSQL side of the backend seam
 * (manifest_int.h): a pool of connections to one catalog, transactions,
 * and LMDB's primitives (get, put, del, cursors) on the catalog's
 * key-value tables (pg_schema.c: strata.<mf_db_names[db]>, k bytea PRIMARY
 * KEY, v bytea).
 *
 * Design.  A strata_mf on a catalog holds one pool; every transaction
 * takes a connection of its own from it (or connects a new one: the pool
 * grows on demand and has no cap of its own; the server's max_connections
 * is the limit) and gives it back at its end.  A transaction's kind
 * chooses its isolation:
 *
 *   MF_TX_WRITE  SERIALIZABLE: the whole commit (its checks and writes) is
 *                one serializable transaction; when PostgreSQL cannot
 *                serialize it (SQLSTATE 40001) or picks it as a deadlock
 *                victim (40P01), nothing is committed, mf_pg_tx_is_retry()
 *                says so, and the caller runs it again from the start; the
 *                server ends it if its client goes quiet inside it for
 *                MF_PG_WRITE_IDLE_TIMEOUT_S (invariant 7);
 *   MF_TX_READ   REPEATABLE READ READ ONLY: one snapshot, taken at the
 *                first statement;
 *   MF_TX_LEASE  READ COMMITTED with synchronous_commit off: leases and
 *                daemon heartbeats, cheap and not durable (their tables
 *                are UNLOGGED anyway); the same idle limit as MF_TX_WRITE
 *                (a lease take deletes the expired leases of others).
 *
 * Round trips.  Nothing goes to the server alone that can go with the
 * next message that needs an answer: BEGIN rides in one libpq pipeline
 * with the transaction's first statement; puts (an upsert needs no answer)
 * are held back and go in the pipeline of the next get, delete, cursor
 * read, counter or clock, or with COMMIT (mf_pg_query_many(),
 * mf_pg_commit_many()).  So a transaction costs one round trip per read
 * plus one for COMMIT and its puts, and one that ran nothing costs none.
 * Statements are prepared once per connection, inside the same pipeline
 * (7 per table, slots KV_SLOT0 and up), and answer in binary.  A held-back
 * put that fails (a serialization failure, a read-only snapshot) fails
 * the transaction at the statement or COMMIT it travelled with: mf_pg_put()
 * itself returned 0.
 *
 * Cursors read in batches: ORDER BY k (DESC going backwards) LIMIT n, n
 * starting at KV_BATCH_FIRST and doubling up to KV_BATCH_MAX while the
 * cursor keeps going one way; the next batch starts after the current key
 * (k > cur, or k < cur).  A write transaction sees its own writes: a
 * mutation in a table marks every open cursor of that table whose batch
 * may show it (the key lies inside the range the batch covers): a key of
 * the batch becomes a dirty row (stepping onto it fetches again), any other
 * key in the range makes the whole batch stale.  A mutation of the key a
 * cursor is on changes nothing for the steps away from it, so a loop that
 * rewrites each record it visits reads each batch once.
 *
 * Errors.  A primitive that fails returns MF_RC_PG and leaves this
 * thread's error (code and message, naming the catalog by its redacted
 * URI) for mf_pg_last_err().  A failed statement fails the transaction:
 * PostgreSQL refuses every later statement in it, so this file refuses
 * them first, with the first failure, and the commit reports it (LMDB's
 * rule for a transaction after a failed write).
 *
 * Invariants:
 *   1. a transaction runs on one connection from its first statement to
 *      its end; a connection found lost by the first round trip of a
 *      transaction (an idle pooled connection the server closed) is
 *      replaced and the round trip sent again on the new one, once:
 *      nothing of that transaction can have committed, because the first
 *      round trip on a pooled connection never carries COMMIT;
 *   2. values lent by mf_pg_get() and mf_pg_cur_get() stay valid until the
 *      transaction ends: gets are copied into the transaction's arena,
 *      batches are PGresults kept in the transaction and cleared at its end;
 *   3. a cursor serves a record from its batch only if no mutation of this
 *      transaction since the batch was read may have changed what the
 *      batch shows there (see Cursors above); otherwise it reads again
 *      from its current key;
 *   4. after the first failed statement a transaction runs nothing more;
 *      its commit fails with that statement's code, retryable (is_retry)
 *      exactly when its SQLSTATE was 40001 or 40P01 (the commit's own
 *      40001 is STRATA_ECONFLICT too);
 *   5. a connection goes back to the pool only outside a transaction and
 *      not lost; any other is closed (the next transaction connects anew);
 *   6. no message holds the catalog's password: every message names the
 *      URI as mf_pg_uri_redact() renders it (pg_conn.c scrubs the server's).
 *   7. a write or lease transaction's row locks are released within
 *      MF_PG_WRITE_IDLE_TIMEOUT_S of its client going quiet inside it (a
 *      process stopped by SIGSTOP or a long pause, a host cut off, whose
 *      TCP connection the server would otherwise keep for hours): the
 *      server ends the session (idle_in_transaction_session_timeout, set
 *      for that transaction only, unless the server, database or role sets
 *      its own), so the other writers of its table (or the other lease
 *      takers) wait that long at most; the client, when it goes on, finds
 *      the connection lost (a clean failure, or STRATA_EUNCERTAIN at its
 *      COMMIT: a writer retries with its token, a job leaves its outputs to
 *      recovery; a lease is skipped, as on a full disk).  Nothing strata
 *      does inside these transactions takes that long: their statements
 *      follow each other with no I/O in between.  Snapshots (MF_TX_READ)
 *      lock nothing others wait for, and may stay open across file I/O
 *      (strata check), so they have no such limit;
 *   8. puts held back are sent, in order, before anything else of the
 *      transaction (so every read sees them, and the server applies them
 *      in the caller's order), and never after an abort; at most
 *      KV_PEND_MAX of them, or KV_PEND_BYTES, wait at a time;
 *   9. mf_pg_tx_barrier() makes a transaction that changed nothing write
 *      WAL (a KEY SHARE lock on the catalog_meta row: it conflicts with no
 *      commit, only with a migration's FOR UPDATE), so its COMMIT waits for
 *      the synchronous standby like any other: PostgreSQL lets a
 *      transaction that wrote no WAL commit without waiting, even with a
 *      transaction id.
 *
 * Cursor moves (LMDB's where they matter to manifest/): MDB_NEXT on an
 * unpositioned cursor is MDB_FIRST, MDB_PREV is MDB_LAST; a move that finds
 * nothing returns MDB_NOTFOUND and leaves the cursor where it was; after
 * mf_pg_cur_del() the cursor stays on the deleted key, so MDB_NEXT gives
 * the record after it and MDB_PREV the one before.
 *
 * Threads: the pool is shared (a mutex guards its idle list); a
 * transaction and its cursors belong to one thread at a time.
 */
#include "manifest/pg_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define KV_BATCH_FIRST 64
#define KV_BATCH_MAX 1024
/* puts held back (invariant 8) before they go out on their own */
#define KV_PEND_MAX 128
#define KV_PEND_BYTES (1u << 20)
/* prepared-statement slots: 0-7 pg_schema.c's, 8-15 the singles below,
 * then KV_NOPS per table */
#define KV_SLOT_COUNTER 8 /* 8 to 11 */
#define KV_SLOT_CLOCK 12
#define KV_SLOT0 16

enum kv_op { KV_GET, KV_PUT, KV_DEL, KV_GE, KV_GT, KV_LT, KV_LAST, KV_NOPS };

_Static_assert(KV_SLOT0 + DB_ALL * KV_NOPS <= MF_PG_SLOTS, "prepared-statement slots");

/* ---- the statements ------------------------------------------------------------ */

typedef struct kv_stmt {
	mf_pg_stmt st;
	char name[64], what[64], sql[200];
} kv_stmt;

static kv_stmt kv_stmts[DB_ALL][KV_NOPS];
static pthread_once_t kv_once = PTHREAD_ONCE_INIT;

static void kv_stmts_init(void)
{
	/* the SQL is head + table name + tail */
	static const struct {
		const char *tag, *verb, *head, *tail;
		int nparams;
	} ops[KV_NOPS] = {
		[KV_GET] = {"get", "get from", "SELECT v FROM strata.", " WHERE k = $1", 1},
		[KV_PUT] = {"put", "put into", "INSERT INTO strata.",
			    " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
			    2},
		[KV_DEL] = {"del", "delete from", "DELETE FROM strata.", " WHERE k = $1", 1},
		[KV_GE] = {"ge", "scan", "SELECT k, v FROM strata.",
			   " WHERE k >= $1 ORDER BY k LIMIT $2", 2},
		[KV_GT] = {"gt", "scan", "SELECT k, v FROM strata.",
			   " WHERE k > $1 ORDER BY k LIMIT $2", 2},
		[KV_LT] = {"lt", "scan backwards", "SELECT k, v FROM strata.",
			   " WHERE k < $1 ORDER BY k DESC LIMIT $2", 2},
		[KV_LAST] = {"last", "scan backwards", "SELECT k, v FROM strata.",
			     " ORDER BY k DESC LIMIT $1", 1},
	};
	for (int db = 0; db < DB_ALL; db++)
		for (int op = 0; op < KV_NOPS; op++) {
			kv_stmt *k = &kv_stmts[db][op];
			snprintf(k->name, sizeof(k->name), "strata_kv_%s_%s", ops[op].tag,
				 mf_db_names[db]);
			snprintf(k->what, sizeof(k->what), "%s strata.%s", ops[op].verb,
				 mf_db_names[db]);
			snprintf(k->sql, sizeof(k->sql), "%s%s%s", ops[op].head, mf_db_names[db],
				 ops[op].tail);
			k->st = (mf_pg_stmt){.slot = (unsigned)(KV_SLOT0 + db * KV_NOPS + op),
					     .name = k->name,
					     .nparams = ops[op].nparams,
					     .sql = k->sql,
					     .what = k->what};
		}
}

static const mf_pg_stmt *kv_st(enum mf_db db, enum kv_op op)
{
	pthread_once(&kv_once, kv_stmts_init);
	return &kv_stmts[db][op].st;
}

static const mf_pg_stmt st_counters[] = {
	{.slot = KV_SLOT_COUNTER, .name = "strata_next_file_id", .nparams = 0,
	 .what = "take the next file id", .sql = "SELECT nextval('strata.next_file_id')"},
	{.slot = KV_SLOT_COUNTER + 1, .name = "strata_next_table_id", .nparams = 0,
	 .what = "take the next table id", .sql = "SELECT nextval('strata.next_table_id')"},
	{.slot = KV_SLOT_COUNTER + 2, .name = "strata_next_job_id", .nparams = 0,
	 .what = "take the next job id", .sql = "SELECT nextval('strata.next_job_id')"},
	{.slot = KV_SLOT_COUNTER + 3, .name = "strata_next_lease_id", .nparams = 0,
	 .what = "take the next lease id", .sql = "SELECT nextval('strata.next_lease_id')"},
};
static const mf_pg_stmt st_barrier = {.slot = KV_SLOT_CLOCK + 1, .name = "strata_barrier",
				      .nparams = 0, .what = "lock the catalog_meta row (KEY SHARE)",
				      .sql = "SELECT 1 FROM strata.catalog_meta FOR KEY SHARE"};
static const mf_pg_stmt st_clock = {.slot = KV_SLOT_CLOCK, .name = "strata_clock",
				    .nparams = 0, .what = "read the catalog's clock",
				    .sql = "SELECT clock_timestamp()"};

#define KV_STR_(x) #x
#define KV_STR(x) KV_STR_(x)
/* Invariant 7: unless the server, database or role sets its own
 * idle_in_transaction_session_timeout. */
#define PG_IDLE_TX_SQL                                                                   \
	"SELECT set_config('idle_in_transaction_session_timeout', '" KV_STR(               \
		MF_PG_WRITE_IDLE_TIMEOUT_S) "s', true) WHERE "                             \
	"current_setting('idle_in_transaction_session_timeout') = '0'"

static const char *const pre_write[] = {"BEGIN ISOLATION LEVEL SERIALIZABLE", PG_IDLE_TX_SQL,
					NULL};
static const char *const pre_read[] = {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
				       NULL};
static const char *const pre_lease[] = {"BEGIN ISOLATION LEVEL READ COMMITTED",
					"SET LOCAL synchronous_commit = off", PG_IDLE_TX_SQL,
					NULL};

/* ---- this thread's last error ------------------------------------------------------ */

static _Thread_local struct {
	int code;
	char uri[512];
	char detail[STRATA_ERR_MSG_MAX]; /* without "catalog <uri>: " */
} kv_last;

/* Remember e (a message "catalog <uri>: ...") as this thread's error. */
static void last_set(const char *uri_safe, const strata_err *e)
{
	kv_last.code = e->code ? e->code : STRATA_EMANIFEST;
	snprintf(kv_last.uri, sizeof(kv_last.uri), "%s", uri_safe);
	const char *m = e->msg;
	size_t ul = strlen(uri_safe);
	if (strncmp(m, "catalog ", 8) == 0 && strncmp(m + 8, uri_safe, ul) == 0 &&
	    strncmp(m + 8 + ul, ": ", 2) == 0)
		m += 8 + ul + 2;
	snprintf(kv_last.detail, sizeof(kv_last.detail), "%s", m);
}

int mf_pg_last_err(strata_err *err, const char *what)
{
	if (!kv_last.code)
		return strata_err_set(err, STRATA_EMANIFEST,
				      "catalog: %s failed (no catalog error was recorded)",
				      what ? what : "a manifest step");
	if (what)
		return strata_err_set(err, kv_last.code, "catalog %s: %s failed: %s", kv_last.uri,
				      what, kv_last.detail);
	return strata_err_set(err, kv_last.code, "catalog %s: %s", kv_last.uri,
			      kv_last.detail);
}

/* ---- the pool --------------------------------------------------------------------- */

struct mf_pg_pool {
	pthread_mutex_t mu;
	char *uri; /* may hold the password: connecting only (invariant 6) */
	char uri_safe[512];
	mf_pg **idle;
	size_t nidle, cap;
	size_t nout; /* connections lent to transactions */
};

static void pool_push(mf_pg_pool *p, mf_pg *pg)
{
	pthread_mutex_lock(&p->mu);
	p->nout--;
	if (p->nidle == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->idle = strata_realloc(p->idle, p->cap * sizeof(*p->idle));
	}
	p->idle[p->nidle++] = pg;
	pthread_mutex_unlock(&p->mu);
}

/* An idle connection (*is_pooled) or a new one. */
static int pool_take(mf_pg_pool *p, mf_pg **out, bool *is_pooled, strata_err *err)
{
	*out = NULL;
	pthread_mutex_lock(&p->mu);
	p->nout++;
	if (p->nidle)
		*out = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->mu);
	*is_pooled = *out != NULL;
	if (*out)
		return 0;
	int rc = mf_pg_connect(p->uri, out, err);
	if (rc) {
		pthread_mutex_lock(&p->mu);
		p->nout--;
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

/* Invariant 5. */
static void pool_give(mf_pg_pool *p, mf_pg *pg)
{
	if (!pg)
		return;
	mf_pg_rollback(pg); /* a no-op outside a transaction */
	if (!mf_pg_is_lost(pg)) {
		pool_push(p, pg);
		return;
	}
	mf_pg_close(pg);
	pthread_mutex_lock(&p->mu);
	p->nout--;
	pthread_mutex_unlock(&p->mu);
}

int mf_pg_pool_open(const char *uri, strata_mf_mode mode, const char *data_path,
		    mf_pg_pool **out, char *data_out, size_t data_n, strata_err *err)
{
	*out = NULL;
	mf_pg *pg = NULL;
	uint32_t version = 0;
	int rc = mf_pg_connect(uri, &pg, err);
	if (rc)
		goto out;
	if (mode == STRATA_MF_CREATE) {
		rc = mf_pg_catalog_init(pg, data_path, err);
		version = MF_PG_SCHEMA_VERSION;
	} else {
		rc = mf_pg_catalog_open(pg, &version, err);
	}
	if (rc)
		goto out;
	rc = mf_pg_catalog_data_path(pg, data_out, data_n, err);
	if (rc)
		goto out;
	mf_pg_pool *p = strata_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->uri = strata_strdup(uri);
	snprintf(p->uri_safe, sizeof(p->uri_safe), "%s", mf_pg_uri_safe(pg));
	p->nout = 1;
	pool_push(p, pg);
	pg = NULL;
	LOG_DEBUG("catalog %s: open (catalog version %u, data in \"%s\")", p->uri_safe, version,
		  data_out);
	*out = p;
out:
	mf_pg_close(pg);
	return rc;
}

void mf_pg_pool_close(mf_pg_pool *p)
{
	if (!p)
		return;
	if (p->nout)
		LOG_ERROR("catalog %s: closing the pool with %zu transactions still open (a "
			  "bug: they are rolled back by the server)",
			  p->uri_safe, p->nout);
	for (size_t i = 0; i < p->nidle; i++)
		mf_pg_close(p->idle[i]);
	free(p->idle);
	pthread_mutex_destroy(&p->mu);
	memset(p->uri, 0, strlen(p->uri));
	free(p->uri);
	free(p);
}

const char *mf_pg_pool_uri_safe(const mf_pg_pool *p)
{
	return p->uri_safe;
}

/* ---- transactions ----------------------------------------------------------------- */

struct mf_pg_cur {
	mf_pg_tx *t;
	enum mf_db db;
	mf_pg_cur *prev, *next; /* t's open cursors */
	/* the current record (lent: invariant 2), when is_set */
	bool is_set;
	MDB_val key, val;
	/* the batch: rows in the order read (k ascending when is_fwd, else
	 * descending); row is the current record's index in it, or -1 when
	 * the batch starts after it */
	const PGresult *batch;
	int nrows, row, limit;
	bool is_fwd;
	bool is_end;   /* the batch reaches the end of the table its way */
	bool is_stale; /* invariant 3: read again before serving from it */
	uint64_t dirty[KV_BATCH_MAX / 64];
	/* the key range the batch shows: [lo, hi], unbounded where !has_ */
	bool has_lo, has_hi;
	MDB_val lo, hi;
};

struct mf_pg_tx {
	mf_pg_pool *pool;
	mf_pg *pg;
	mf_tx_kind kind;
	bool is_pooled;  /* pg came from the idle list (invariant 1) */
	bool is_begun;   /* a statement was sent: BEGIN went with it */
	bool is_retry;
	int fail_code;   /* invariant 4 */
	char fail_msg[STRATA_ERR_MSG_MAX];
	PGresult **res;  /* batches (invariant 2) */
	size_t nres, capres;
	strata_arena *arena;
	bool has_clock;
	int64_t clock_us;
	mf_pg_cur *curs;
	/* invariant 8: puts not sent yet (key and value in arena), and the
	 * statement list of the next pipeline */
	struct kv_put {
		enum mf_db db;
		MDB_val k, v;
	} *pend;
	int npend, cappend;
	size_t pend_bytes;
	const mf_pg_stmt **bs;
	mf_pg_params *bp;
};

int mf_pg_tx_begin(mf_pg_pool *p, mf_tx_kind kind, mf_pg_tx **out, strata_err *err)
{
	*out = NULL;
	mf_pg *pg = NULL;
	bool is_pooled = false;
	int rc = pool_take(p, &pg, &is_pooled, err);
	if (rc)
		return rc;
	mf_pg_tx *t = strata_calloc(1, sizeof(*t));
	t->pool = p;
	t->pg = pg;
	t->kind = kind;
	t->is_pooled = is_pooled;
	*out = t;
	return 0;
}

static void tx_keep(mf_pg_tx *t, PGresult *r)
{
	if (t->nres == t->capres) {
		t->capres = t->capres ? t->capres * 2 : 16;
		t->res = strata_realloc(t->res, t->capres * sizeof(*t->res));
	}
	t->res[t->nres++] = r;
}

static void tx_free(mf_pg_tx *t)
{
	pool_give(t->pool, t->pg);
	for (size_t i = 0; i < t->nres; i++)
		PQclear(t->res[i]);
	free(t->res);
	strata_arena_free(t->arena);
	free(t->pend);
	free(t->bs);
	free(t->bp);
	/* cursors left open: their memory goes, they are the caller's bug */
	while (t->curs) {
		mf_pg_cur *c = t->curs;
		t->curs = c->next;
		free(c);
	}
	free(t);
}

static bool is_retry_state(const char *state)
{
	return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

/* The transaction failed with e (invariant 4): remember it, and make it
 * this thread's error. */
static int tx_fail(mf_pg_tx *t, const strata_err *e, const char *state)
{
	if (!t->fail_code) {
		t->fail_code = e->code ? e->code : STRATA_EMANIFEST;
		snprintf(t->fail_msg, sizeof(t->fail_msg), "%s", e->msg);
		t->is_retry = state && is_retry_state(state);
	}
	last_set(t->pool->uri_safe, e);
	return MF_RC_PG;
}

/* A failure of this file's own (not a statement's): this thread's error,
 * the transaction goes on. */
static int kv_err(mf_pg_tx *t, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int kv_err(mf_pg_tx *t, int code, const char *fmt, ...)
{
	strata_err e = {.code = code};
	char m[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	strata_err_set(&e, code, "catalog %s: %s", t->pool->uri_safe, m);
	last_set(t->pool->uri_safe, &e);
	return MF_RC_PG;
}

static const char *const *tx_pre(const mf_pg_tx *t)
{
	if (t->is_begun)
		return NULL;
	return t->kind == MF_TX_WRITE ? pre_write : t->kind == MF_TX_READ ? pre_read : pre_lease;
}

/* The statements of the next pipeline: the held-back puts, then s (if not
 * NULL) with p; their count. */
static int tx_batch(mf_pg_tx *t, const mf_pg_stmt *s, const mf_pg_params *p)
{
	int n = t->npend + (s ? 1 : 0);
	t->bs = strata_realloc(t->bs, (size_t)(n ? n : 1) * sizeof(*t->bs));
	t->bp = strata_realloc(t->bp, (size_t)(n ? n : 1) * sizeof(*t->bp));
	for (int i = 0; i < t->npend; i++) {
		const struct kv_put *u = &t->pend[i];
		t->bs[i] = kv_st(u->db, KV_PUT);
		t->bp[i] = (mf_pg_params){0};
		mf_pg_param_bytes(&t->bp[i], u->k.mv_data, u->k.mv_size);
		mf_pg_param_bytes(&t->bp[i], u->v.mv_data, u->v.mv_size);
	}
	if (s) {
		static const mf_pg_params none;
		t->bs[t->npend] = s;
		t->bp[t->npend] = p ? *p : none;
	}
	return n;
}

/* Run the held-back puts and s (NULL: the puts only) in t, in one round
 * trip, opening t with its BEGIN on the first; *out (may be NULL) receives
 * s's rows (the caller keeps or clears them).  0 or MF_RC_PG. */
static int kv_run(mf_pg_tx *t, const mf_pg_stmt *s, const mf_pg_params *p, PGresult **out)
{
	if (out)
		*out = NULL;
	strata_err e = {0};
	char state[6] = "";
	if (t->fail_code) {
		/* invariant 4 */
		strata_err_set(&e, t->fail_code, "%s", t->fail_msg);
		last_set(t->pool->uri_safe, &e);
		return MF_RC_PG;
	}
	int n = tx_batch(t, s, p);
	if (n == 0)
		return 0;
	const char *const *pre = tx_pre(t);
	int rc = mf_pg_query_many(t->pg, pre, t->bs, t->bp, n, s ? out : NULL, state, &e);
	if (rc && pre && t->is_pooled && mf_pg_is_lost(t->pg)) {
		/* invariant 1: an idle connection the server closed; no COMMIT
		 * was in that pipeline, so nothing of it can have committed */
		LOG_DEBUG("catalog %s: an idle connection was lost; connecting again",
			  t->pool->uri_safe);
		mf_pg_close(t->pg);
		t->pg = NULL;
		t->is_pooled = false;
		rc = mf_pg_connect(t->pool->uri, &t->pg, &e);
		if (rc) {
			pthread_mutex_lock(&t->pool->mu);
			t->pool->nout--;
			pthread_mutex_unlock(&t->pool->mu);
		} else {
			rc = mf_pg_query_many(t->pg, pre, t->bs, t->bp, n, s ? out : NULL, state,
					      &e);
		}
	}
	t->is_begun = true;
	t->is_pooled = false;
	t->npend = 0;
	t->pend_bytes = 0;
	if (rc)
		return tx_fail(t, &e, state);
	return 0;
}

int mf_pg_tx_commit(mf_pg_tx *t, strata_err *err)
{
	int rc = 0;
	strata_err e = {0};
	char state[6] = "";
	if (!t->fail_code && !t->is_begun && t->npend && t->is_pooled)
		/* the first round trip on a pooled connection carries no COMMIT
		 * (invariant 1: a stale connection is replaced, not uncertain) */
		kv_run(t, NULL, NULL, NULL);
	if (t->fail_code) {
		/* invariant 4 */
		rc = strata_err_set(err, t->fail_code, "%s", t->fail_msg);
	} else if (t->is_begun || t->npend) {
		/* invariant 8: the held-back puts and COMMIT, one round trip */
		int n = tx_batch(t, NULL, NULL);
		rc = mf_pg_commit_many(t->pg, tx_pre(t), t->bs, t->bp, n, state, &e);
		t->npend = 0;
		if (rc) {
			t->is_retry = is_retry_state(state);
			last_set(t->pool->uri_safe, &e);
			if (err)
				*err = e;
		}
	}
	tx_free(t);
	return rc;
}

void mf_pg_tx_abort(mf_pg_tx *t)
{
	if (t)
		tx_free(t);
}

bool mf_pg_tx_is_retry(const mf_pg_tx *t)
{
	return t->is_retry;
}

/* ---- keys ----------------------------------------------------------------------- */

static int key_cmp(const MDB_val *a, const MDB_val *b)
{
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
	if (c)
		return c;
	return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size ? 1 : 0;
}

static MDB_val field(const PGresult *r, int row, int col)
{
	size_t n;
	const uint8_t *p = mf_pg_get_bytes(r, row, col, &n);
	MDB_val v = {.mv_size = n, .mv_data = (void *)(p ? p : (const uint8_t *)"")};
	return v;
}

static MDB_val tx_dup(mf_pg_tx *t, const MDB_val *v)
{
	if (!t->arena)
		t->arena = strata_arena_new();
	MDB_val c = {.mv_size = v->mv_size,
		     .mv_data = strata_arena_dup(t->arena, v->mv_data, v->mv_size)};
	return c;
}

/* Invariant 3: db's key k is being written by t. */
static void kv_touched(mf_pg_tx *t, enum mf_db db, const MDB_val *k)
{
	for (mf_pg_cur *c = t->curs; c; c = c->next) {
		if (c->db != db || !c->batch || c->is_stale)
			continue;
		if ((c->has_lo && key_cmp(k, &c->lo) < 0) || (c->has_hi && key_cmp(k, &c->hi) > 0))
			continue;
		if (c->is_set && key_cmp(k, &c->key) == 0) {
			/* the record the cursor is on: its steps away are unchanged */
			if (c->row >= 0)
				c->dirty[c->row / 64] |= 1ull << (c->row % 64);
			continue;
		}
		/* a row of the batch? (binary search in the batch's order) */
		int lo = 0, hi = c->nrows - 1, at = -1;
		while (lo <= hi) {
			int mid = lo + (hi - lo) / 2;
			MDB_val m = field(c->batch, mid, 0);
			int cmp = key_cmp(k, &m);
			if (!c->is_fwd)
				cmp = -cmp;
			if (cmp == 0) {
				at = mid;
				break;
			}
			if (cmp < 0)
				hi = mid - 1;
			else
				lo = mid + 1;
		}
		if (at >= 0)
			c->dirty[at / 64] |= 1ull << (at % 64);
		else
			c->is_stale = true; /* a new key, or a gone one, inside the range */
	}
}

/* ---- primitives ------------------------------------------------------------------ */

int mf_pg_get(mf_pg_tx *t, enum mf_db db, const MDB_val *key, MDB_val *val)
{
	mf_pg_params p = {0};
	mf_pg_param_bytes(&p, key->mv_data, key->mv_size);
	PGresult *r = NULL;
	int rc = kv_run(t, kv_st(db, KV_GET), &p, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 0) {
		rc = MDB_NOTFOUND;
	} else {
		MDB_val v = field(r, 0, 0);
		*val = tx_dup(t, &v); /* invariant 2 */
	}
	PQclear(r);
	return rc;
}

int mf_pg_put(mf_pg_tx *t, enum mf_db db, const MDB_val *key, const MDB_val *val)
{
	if (t->fail_code)
		return kv_run(t, NULL, NULL, NULL); /* invariant 4: the first failure */
	/* invariant 8: held back until the next statement or the commit */
	if (t->npend == t->cappend) {
		t->cappend = t->cappend ? t->cappend * 2 : 16;
		t->pend = strata_realloc(t->pend, (size_t)t->cappend * sizeof(*t->pend));
	}
	t->pend[t->npend++] = (struct kv_put){.db = db, .k = tx_dup(t, key), .v = tx_dup(t, val)};
	t->pend_bytes += key->mv_size + val->mv_size;
	kv_touched(t, db, key);
	if (t->npend >= KV_PEND_MAX || t->pend_bytes >= KV_PEND_BYTES)
		return kv_run(t, NULL, NULL, NULL);
	return 0;
}

int mf_pg_del(mf_pg_tx *t, enum mf_db db, const MDB_val *key)
{
	mf_pg_params p = {0};
	mf_pg_param_bytes(&p, key->mv_data, key->mv_size);
	PGresult *r = NULL;
	int rc = kv_run(t, kv_st(db, KV_DEL), &p, &r);
	if (rc == 0 && strcmp(PQcmdTuples(r), "0") == 0)
		rc = MDB_NOTFOUND;
	PQclear(r);
	if (rc == 0)
		kv_touched(t, db, key);
	return rc;
}

int mf_pg_counter_next(mf_pg_tx *t, const char *name, uint64_t *out, strata_err *err)
{
	static const char *const names[] = {"next_file_id", "next_table_id", "next_job_id",
					    "next_lease_id"};
	_Static_assert(STRATA_ARRAY_LEN(names) == STRATA_ARRAY_LEN(st_counters), "counters");
	const mf_pg_stmt *s = NULL;
	for (size_t i = 0; i < STRATA_ARRAY_LEN(names); i++)
		if (strcmp(name, names[i]) == 0)
			s = &st_counters[i];
	int rc;
	if (!s) {
		rc = kv_err(t, STRATA_EINVAL,
			    "no counter named \"%.60s\" (next_file_id, next_table_id, "
			    "next_job_id, next_lease_id)",
			    name);
	} else {
		PGresult *r = NULL;
		rc = kv_run(t, s, NULL, &r);
		if (rc == 0 && PQntuples(r) == 1)
			*out = (uint64_t)mf_pg_get_i64(r, 0, 0);
		else if (rc == 0)
			rc = kv_err(t, STRATA_EMANIFEST, "%s gave no value", s->what);
		PQclear(r);
	}
	return rc ? mf_pg_last_err(err, NULL) : 0;
}

int mf_pg_tx_barrier(mf_pg_tx *t)
{
	/* invariant 9 */
	PGresult *r = NULL;
	int rc = kv_run(t, &st_barrier, NULL, &r);
	PQclear(r);
	return rc;
}

int64_t mf_pg_clock_us(mf_pg_tx *t)
{
	if (t->has_clock)
		return t->clock_us;
	PGresult *r = NULL;
	int64_t now = 0;
	if (kv_run(t, &st_clock, NULL, &r) == 0 && PQntuples(r) == 1)
		now = mf_pg_get_time_us(r, 0, 0);
	else
		/* the transaction failed (its commit will say so): any time will
		 * do, the host's */
		now = strata_now_us();
	PQclear(r);
	t->clock_us = now;
	t->has_clock = true;
	return now;
}

/* ---- cursors ----------------------------------------------------------------------- */

int mf_pg_cur_open(mf_pg_tx *t, enum mf_db db, mf_pg_cur **out)
{
	mf_pg_cur *c = strata_calloc(1, sizeof(*c));
	c->t = t;
	c->db = db;
	c->row = -1;
	c->limit = KV_BATCH_FIRST;
	c->next = t->curs;
	if (t->curs)
		t->curs->prev = c;
	t->curs = c;
	*out = c;
	return 0;
}

void mf_pg_cur_close(mf_pg_cur *c)
{
	if (!c)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->t->curs = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* Read a batch: op KV_GE / KV_GT / KV_LT from bound, or KV_LAST (bound
 * NULL; KV_GE from the empty key is MDB_FIRST).  The cursor moves onto
 * its first row; no row: MDB_NOTFOUND, the cursor stays where it was. */
static int cur_fetch(mf_pg_cur *c, enum kv_op op, const MDB_val *bound, bool is_first)
{
	mf_pg_tx *t = c->t;
	mf_pg_params p = {0};
	if (op != KV_LAST)
		mf_pg_param_bytes(&p, bound->mv_data, bound->mv_size);
	mf_pg_param_i64(&p, c->limit);
	PGresult *r = NULL;
	int rc = kv_run(t, kv_st(c->db, op), &p, &r);
	if (rc)
		return rc;
	tx_keep(t, r); /* invariant 2 */
	bool is_fwd = op != KV_LT && op != KV_LAST;
	c->batch = r;
	c->nrows = PQntuples(r);
	c->is_fwd = is_fwd;
	c->is_end = c->nrows < c->limit;
	c->is_stale = false;
	memset(c->dirty, 0, sizeof(c->dirty));
	/* the range the batch shows (invariant 3) */
	bool has_bound = op != KV_LAST && !(op == KV_GE && is_first);
	MDB_val b = has_bound ? tx_dup(t, bound) : (MDB_val){0};
	MDB_val far = c->nrows ? field(r, c->nrows - 1, 0) : (MDB_val){0};
	if (is_fwd) {
		c->has_lo = has_bound;
		c->lo = b;
		c->has_hi = !c->is_end;
		c->hi = far;
	} else {
		c->has_hi = has_bound;
		c->hi = b;
		c->has_lo = !c->is_end;
		c->lo = far;
	}
	if (c->nrows == 0) {
		c->row = -1;
		/* from the current key, an empty batch says where the end is;
		 * from elsewhere it says nothing about the current key's
		 * neighbours: forget it */
		if (op != KV_GT && op != KV_LT)
			c->batch = NULL;
		return MDB_NOTFOUND;
	}
	c->row = 0;
	c->is_set = true;
	c->key = field(r, 0, 0);
	c->val = field(r, 0, 1);
	return 0;
}

static bool is_dirty(const mf_pg_cur *c, int row)
{
	return c->dirty[row / 64] & (1ull << (row % 64));
}

/* One step forwards (is_fwd) or backwards from the current record. */
static int cur_step(mf_pg_cur *c, bool is_fwd)
{
	if (c->batch && !c->is_stale) {
		int to = c->is_fwd == is_fwd ? c->row + 1 : c->row - 1;
		if (to >= 0 && to < c->nrows && !is_dirty(c, to)) {
			c->row = to;
			c->key = field(c->batch, to, 0);
			c->val = field(c->batch, to, 1);
			return 0;
		}
		if (c->is_fwd == is_fwd && to >= c->nrows && c->is_end)
			return MDB_NOTFOUND;
	}
	/* read on from the current key: a longer batch when going on the same
	 * way from the batch's end, a first-size one otherwise */
	bool is_more = c->batch && !c->is_stale && c->is_fwd == is_fwd && c->row + 1 >= c->nrows;
	c->limit = is_more ? (c->limit * 2 > KV_BATCH_MAX ? KV_BATCH_MAX : c->limit * 2) :
			     KV_BATCH_FIRST;
	MDB_val from = c->key;
	return cur_fetch(c, is_fwd ? KV_GT : KV_LT, &from, false);
}

int mf_pg_cur_get(mf_pg_cur *c, MDB_val *key, MDB_val *val, MDB_cursor_op op)
{
	static const MDB_val empty = {.mv_size = 0, .mv_data = (void *)""};
	int rc;
	switch (op) {
	case MDB_FIRST:
		c->limit = KV_BATCH_FIRST;
		rc = cur_fetch(c, KV_GE, &empty, true);
		break;
	case MDB_LAST:
		c->limit = KV_BATCH_FIRST;
		rc = cur_fetch(c, KV_LAST, NULL, true);
		break;
	case MDB_SET_RANGE:
		c->limit = KV_BATCH_FIRST;
		rc = cur_fetch(c, KV_GE, key, false);
		break;
	case MDB_NEXT:
		if (!c->is_set) {
			c->limit = KV_BATCH_FIRST;
			rc = cur_fetch(c, KV_GE, &empty, true);
		} else {
			rc = cur_step(c, true);
		}
		break;
	case MDB_PREV:
		if (!c->is_set) {
			c->limit = KV_BATCH_FIRST;
			rc = cur_fetch(c, KV_LAST, NULL, true);
		} else {
			rc = cur_step(c, false);
		}
		break;
	default:
		return kv_err(c->t, STRATA_EINVAL,
			      "cursor on strata.%s: operation %d is not supported (only "
			      "MDB_FIRST, MDB_LAST, MDB_NEXT, MDB_PREV, MDB_SET_RANGE)",
			      mf_db_names[c->db], (int)op);
	}
	if (rc == 0) {
		if (key)
			*key = c->key;
		if (val)
			*val = c->val;
	}
	return rc;
}

int mf_pg_cur_del(mf_pg_cur *c)
{
	if (!c->is_set)
		return kv_err(c->t, STRATA_EINVAL,
			      "cursor delete on strata.%s: the cursor is on no record",
			      mf_db_names[c->db]);
	/* the cursor stays on the deleted key (see the essay) */
	return mf_pg_del(c->t, c->db, &c->key);
}
