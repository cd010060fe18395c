/*
 * manifest/pg_int.h — the PostgreSQL catalog layer, shared by the files of
 * manifest/ only (and its tests): a libpq connection to a catalog named by a
 * postgresql:// URI, its transactions and prepared statements
 * (pg_conn.c), the catalog schema and its migrations (pg_schema.c), and the
 * PostgreSQL side of the backend seam of manifest_int.h (pg_kv.c): a pool of
 * connections, transactions and the key-value primitives.
 *
 * Errors: every message names the catalog by its URI rendered without the
 * password (mf_pg_uri_redact()), and a server error adds the server's
 * message and its SQLSTATE.  Codes:
 *   STRATA_ECONFLICT   serialization failure (40001), deadlock (40P01), a
 *                      lock not available (55P03): nothing was done, the
 *                      caller may retry;
 *   STRATA_EUNCERTAIN   the connection was lost during COMMIT: the
 *                      transaction may or may not have committed; or COMMIT
 *                      was answered with a warning (a cancelled wait for
 *                      the synchronous standby: committed on the primary,
 *                      perhaps not on the standby);
 *   STRATA_EEXIST      unique violation (23505), `init` on a catalog;
 *   STRATA_EINVAL      a URI libpq cannot parse;
 *   STRATA_EUNSUPPORTED a catalog of a newer schema version, a server older
 *                      than PostgreSQL 10;
 *   STRATA_ENOTFOUND   no catalog in the database;
 *   STRATA_EMANIFEST   anything else (could not connect, connection lost
 *                      outside COMMIT, other server errors): a clean failure,
 *                      nothing was committed.
 *
 * Thread safety: an mf_pg is one connection and belongs to one thread at a
 * time (libpq's rule); an mf_pg_pool is shared by the threads of a process,
 * and each mf_pg_tx (with its cursors) belongs to one thread at a time.
 */
#ifndef STRATA_MANIFEST_PG_INT_H
#define STRATA_MANIFEST_PG_INT_H

#include <libpq-fe.h>

#include "manifest/manifest_int.h"


/* The catalog schema version this code writes and reads. */
#define MF_PG_SCHEMA_VERSION 3

/* A write or lease transaction whose client sends nothing for this long
 * (stopped, paused, cut off) is ended by the server and its row locks
 * released (pg_kv.c invariant 7). */
#define MF_PG_WRITE_IDLE_TIMEOUT_S 10

typedef struct mf_pg mf_pg;

/* ---- URIs -------------------------------------------------------------------- */

/* Whether s names a PostgreSQL catalog: it starts with "postgresql://" or
 * "postgres://" (a warehouse is otherwise a directory). */
bool mf_pg_is_uri(const char *s);
/* The URI without its password, for every log line and message: the
 * password of the user-info part ("user:pw@") and the query parameters
 * password= and sslpassword= are left out; the rest is kept as given.  A
 * string without "://" is rendered as "(a catalog URI)" when it holds an
 * '@' (it may hold a password), else kept. */
void mf_pg_uri_redact(const char *uri, char *out, size_t n);

/* ---- connections ------------------------------------------------------------- */

/* Connect to the catalog uri (libpq conventions: PGPASSWORD, ~/.pgpass,
 * PGSSLMODE or sslmode=, PGCONNECT_TIMEOUT; connect_timeout defaults to 10 s
 * when neither the URI nor the environment sets it).  *out is owned by the
 * caller and ends with mf_pg_close().  Errors: STRATA_EINVAL (not a
 * postgresql:// URI, or one libpq cannot parse), STRATA_EMANIFEST (could not
 * connect: unreachable, refused, authentication), STRATA_EUNSUPPORTED
 * (server older than PostgreSQL 10). */
int mf_pg_connect(const char *uri, mf_pg **out, strata_err *err);
/* Close the connection (a transaction still open is rolled back by the
 * server).  NULL is a no-op. */
void mf_pg_close(mf_pg *pg);
/* The URI without its password (lent until mf_pg_close()). */
const char *mf_pg_uri_safe(const mf_pg *pg);
/* Whether the connection is gone (or out of step): close it and connect
 * anew rather than use it. */
bool mf_pg_is_lost(const mf_pg *pg);
/* The server process serving this connection (for tests and logs). */
int mf_pg_backend_pid(const mf_pg *pg);

/* ---- transactions -------------------------------------------------------------- */

typedef enum mf_pg_txn_mode {
	/* READ COMMITTED, read-write: `init` and migrations (the seam's
	 * transactions are pg_kv.c's, begun by mf_pg_query_many()) */
	MF_PG_TXN_COMMIT,
	/* REPEATABLE READ, READ ONLY: one consistent snapshot for planning */
	MF_PG_TXN_SNAPSHOT,
} mf_pg_txn_mode;

/* Begin a transaction; reconnects first if the connection was lost (every
 * statement is prepared again on the new one).  STRATA_EINVAL if one is
 * already open. */
int mf_pg_begin(mf_pg *pg, mf_pg_txn_mode mode, strata_err *err);
/* Commit.  0 only when the server acknowledged COMMIT (without a warning:
 * a COMMIT answered with one — its wait for a synchronous standby was
 * cancelled, so it is committed on this server alone — is
 * STRATA_EUNCERTAIN, as below).  A server answer
 * other than COMMIT is a clean failure with the server's code (e.g.
 * STRATA_ECONFLICT for a serialization failure, STRATA_EEXIST for a
 * deferred unique violation; nothing committed).  A connection lost before
 * the answer is STRATA_EUNCERTAIN: the outcome is unknown, and this layer
 * never retries it (writers resolve it with their idempotency token; jobs
 * treat it as a conflict and leave their outputs to recovery). */
int mf_pg_commit(mf_pg *pg, strata_err *err);
/* Roll back the open transaction (if any); never fails (a lost connection
 * has rolled it back already). */
void mf_pg_rollback(mf_pg *pg);

/* ---- statements ------------------------------------------------------------------- */

/* Run sql (one or more statements, no parameters) as a simple query;
 * results are discarded.  what names the step in errors. */
int mf_pg_exec(mf_pg *pg, const char *sql, const char *what, strata_err *err);

/* A prepared statement: prepared on a connection at its first use there
 * (slot, below MF_PG_SLOTS, tracks that; 0-7 are pg_schema.c's, 8 and up
 * pg_kv.c's); its results come in binary format. */
#define MF_PG_SLOTS 256
typedef struct mf_pg_stmt {
	unsigned slot;
	const char *name; /* server-side name, "strata_<what>" */
	int nparams;
	const char *sql;
	const char *what; /* for errors: "lock table row" */
} mf_pg_stmt;

#define MF_PG_PARAMS_MAX 12

/* Parameters: integers and strings in text format, bytes in binary.
 * Strings and bytes are lent until the query returns. */
typedef struct mf_pg_params {
	int n;
	const char *val[MF_PG_PARAMS_MAX];
	int len[MF_PG_PARAMS_MAX];
	int fmt[MF_PG_PARAMS_MAX];
	char text[MF_PG_PARAMS_MAX][24];
} mf_pg_params;

void mf_pg_param_i64(mf_pg_params *p, int64_t v);
void mf_pg_param_str(mf_pg_params *p, const char *s);
void mf_pg_param_bytes(mf_pg_params *p, const void *b, size_t n);

/* Run a prepared statement; *out (the caller PQclear()s it) holds its rows.
 * Errors are classified as the header says. */
int mf_pg_query(mf_pg *pg, const mf_pg_stmt *s, const mf_pg_params *p, PGresult **out,
		strata_err *err);
/* Run n statements s[i] with parameters p[i] (n >= 1) in one pipeline,
 * one round trip, after pre when pre is not NULL (NULL-terminated, at most
 * MF_PG_PRE_MAX statements without parameters, "BEGIN ..." first: the
 * transaction is open afterwards if they all ran, even when a statement
 * failed).  Each statement is prepared in the same pipeline at its first
 * use on this connection.  *out (may be NULL) receives the last
 * statement's rows.  The first statement that fails decides the error;
 * the server runs none after it.  state (size 6, may be NULL) receives
 * its SQLSTATE ("" for none, e.g. a lost connection). */
#define MF_PG_PRE_MAX 3
int mf_pg_query_many(mf_pg *pg, const char *const *pre, const mf_pg_stmt *const *s,
		     const mf_pg_params *p, int n, PGresult **out, char *state, strata_err *err);
/* Run pre (when the transaction is not open yet), the n statements (n may
 * be 0) and COMMIT in one pipeline, one round trip, with mf_pg_commit()'s
 * outcomes: 0 only for an acknowledged COMMIT; a statement or COMMIT that
 * failed is a clean failure with its code (a failed statement leaves the
 * transaction open and aborted: mf_pg_rollback() ends it); a connection
 * lost after COMMIT was sent, with no failure answered, is
 * STRATA_EUNCERTAIN. */
int mf_pg_commit_many(mf_pg *pg, const char *const *pre, const mf_pg_stmt *const *s,
		      const mf_pg_params *p, int n, char *state, strata_err *err);

/* Binary result fields.  Integers of 2, 4 or 8 bytes; timestamps as Unix
 * microseconds; bytes lent until PQclear(); NULL fields read as 0 / NULL. */
int64_t mf_pg_get_i64(const PGresult *r, int row, int col);
bool mf_pg_get_bool(const PGresult *r, int row, int col);
int64_t mf_pg_get_time_us(const PGresult *r, int row, int col);
const uint8_t *mf_pg_get_bytes(const PGresult *r, int row, int col, size_t *n);

/* Fill err from a failed result (or from the connection when res is NULL):
 * "catalog <uri>: <what> failed: <server message> (SQLSTATE <code>)", the
 * code classified as the header says; returns the code. */
int mf_pg_result_err(mf_pg *pg, const PGresult *res, const char *what, strata_err *err);

/* ---- the catalog schema ------------------------------------------------------------ */

/* One migration: the SQL that takes a catalog from version - 1 to version
 * (simple-query text, run inside the migrating transaction). */
typedef struct mf_pg_migration {
	uint32_t version;
	const char *what;
	const char *sql;
} mf_pg_migration;

/* Create the catalog (schema strata, every table, catalog_meta at
 * MF_PG_SCHEMA_VERSION) in one transaction, recording data_path as where
 * the data files live.  STRATA_EEXIST ("already holds a strata catalog") if
 * the database has a schema strata. */
int mf_pg_catalog_init(mf_pg *pg, const char *data_path, strata_err *err);
/* Check the catalog before use: STRATA_ENOTFOUND without one (run `strata
 * init`), STRATA_EUNSUPPORTED for a newer schema version than this code's;
 * an older one is migrated (all steps in one transaction).  *version (may be
 * NULL) receives the version in force afterwards. */
int mf_pg_catalog_open(mf_pg *pg, uint32_t *version, strata_err *err);
/* The migration runner behind both, with the list given (tests pass their
 * own): applies every step above the catalog's version up to the last of
 * list, in one transaction that also records each in strata.migrations;
 * a failing step leaves the catalog as it was. */
int mf_pg_catalog_migrate(mf_pg *pg, const mf_pg_migration *list, size_t n,
			  uint32_t *version, strata_err *err);
/* Where the data files live (catalog_meta.data_path), into out. */
int mf_pg_catalog_data_path(mf_pg *pg, char *out, size_t n, strata_err *err);

/* ---- the backend: the seam's primitives on a catalog (manifest/pg_kv.c) ------- */

/* Every sub-database of enum mf_db is a table strata.<mf_db_names[db]>
 * (k bytea PRIMARY KEY, v bytea NOT NULL): bytea compares like memcmp, so
 * LMDB's key order is the table's index order.  DB_LEASES and DB_DAEMONS
 * are UNLOGGED.  The counters of mf_tx_counter_next() are sequences
 * (strata.<name>): never rolled back, so ids may have gaps, and no two
 * tables' commits wait for one counter row. */

/* A pool of connections to one catalog, for one strata_mf (thread-safe:
 * each transaction takes a connection of its own and gives it back). */
typedef struct mf_pg_pool mf_pg_pool;

/* Open the catalog at uri: connect, check (and migrate) the schema.  mode
 * STRATA_MF_CREATE creates the catalog recording data_path (STRATA_EEXIST
 * when one exists: `init` on an existing catalog is an error); otherwise
 * data_path is ignored and a database without a catalog is
 * STRATA_ENOTFOUND.  The catalog's data path goes to data_out. */
int mf_pg_pool_open(const char *uri, strata_mf_mode mode, const char *data_path,
		    mf_pg_pool **out, char *data_out, size_t data_n, strata_err *err);
void mf_pg_pool_close(mf_pg_pool *p);
const char *mf_pg_pool_uri_safe(const mf_pg_pool *p);

/* A transaction: MF_TX_WRITE is SERIALIZABLE, MF_TX_READ REPEATABLE READ
 * READ ONLY, MF_TX_LEASE READ COMMITTED with synchronous_commit off. */
typedef struct mf_pg_tx mf_pg_tx;
int mf_pg_tx_begin(mf_pg_pool *p, mf_tx_kind kind, mf_pg_tx **out, strata_err *err);
/* Commit and free t: 0; STRATA_ECONFLICT (a serialization failure or
 * deadlock: nothing committed, mf_pg_tx_is_retry() was true); STRATA_EUNCERTAIN
 * (the connection was lost during COMMIT); another code otherwise. */
int mf_pg_tx_commit(mf_pg_tx *t, strata_err *err);
/* Make t, a write transaction that changed nothing, write WAL (a KEY SHARE
 * lock on the catalog_meta row), so that its COMMIT waits for the
 * synchronous standby to hold everything t read: PostgreSQL commits a
 * transaction that wrote no WAL without waiting.  0 or MF_RC_PG (this
 * thread's error, mf_pg_last_err()). */
int mf_pg_tx_barrier(mf_pg_tx *t);
/* Roll back and free t (NULL: no-op). */
void mf_pg_tx_abort(mf_pg_tx *t);
/* Whether a statement of t failed with a serialization failure or a
 * deadlock (SQLSTATE 40001, 40P01): the caller aborts and runs the whole
 * transaction again. */
bool mf_pg_tx_is_retry(const mf_pg_tx *t);

/* The primitives (return codes as manifest_int.h's seam says; a failure
 * sets this thread's error, mf_pg_last_err()).  mf_pg_put() holds the
 * write back and returns 0: it goes to the server with the transaction's
 * next other statement or its commit, and if it fails there, that
 * statement (or the commit) reports its error. */
int mf_pg_get(mf_pg_tx *t, enum mf_db db, const MDB_val *key, MDB_val *val);
int mf_pg_put(mf_pg_tx *t, enum mf_db db, const MDB_val *key, const MDB_val *val);
int mf_pg_del(mf_pg_tx *t, enum mf_db db, const MDB_val *key);
typedef struct mf_pg_cur mf_pg_cur;
int mf_pg_cur_open(mf_pg_tx *t, enum mf_db db, mf_pg_cur **out);
int mf_pg_cur_get(mf_pg_cur *c, MDB_val *key, MDB_val *val, MDB_cursor_op op);
int mf_pg_cur_del(mf_pg_cur *c);
void mf_pg_cur_close(mf_pg_cur *c);
/* The next value of counter name ("next_file_id", "next_table_id",
 * "next_job_id", "next_lease_id"): nextval of the sequence strata.<name>,
 * so never rolled back (ids may have gaps).  Errors: STRATA_EINVAL for
 * another name; a failed statement fails the transaction. */
int mf_pg_counter_next(mf_pg_tx *t, const char *name, uint64_t *out, strata_err *err);
/* The catalog's clock (clock_timestamp(), µs since the epoch), asked once
 * per transaction at its first call. */
int64_t mf_pg_clock_us(mf_pg_tx *t);
/* The last MF_RC_PG error of this thread: its strata code, and its message
 * into err ("catalog <uri without password>: <what> failed: ..."). */
int mf_pg_last_err(strata_err *err, const char *what);

#endif
