/*
 * manifest/pg_int.h — the PostgreSQL catalog layer, shared by the files of
 * manifest/ only (and its tests): a libpq connection to a catalog named by a
 * postgresql:// URI, its transactions and prepared statements, the catalog
 * schema and its migrations, and the first catalog statements (the table
 * row lock, claims judged by the database's clock).
 *
 * This is groundwork for issue 13: the backend seam that makes
 * strata_mf_open() accept a URI and dispatch every manifest call to LMDB or
 * PostgreSQL is not built yet, so nothing outside manifest/ calls this.
 *
 * Errors: every message names the catalog by its URI rendered without the
 * password (mf_pg_uri_redact()), and a server error adds the server's
 * message and its SQLSTATE.  Codes:
 *   STRATA_ECONFLICT   serialization failure (40001), deadlock (40P01), a
 *                      lock not available (55P03): nothing was done, the
 *                      caller may retry;
 *   STRATA_EUNCERTAIN   the connection was lost during COMMIT: the
 *                      transaction may or may not have committed;
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
 * time (libpq's rule).
 */
#ifndef STRATA_MANIFEST_PG_INT_H
#define STRATA_MANIFEST_PG_INT_H

#include <libpq-fe.h>

#include "manifest/manifest_int.h"


/* The catalog schema version this code writes and reads. */
#define MF_PG_SCHEMA_VERSION 1

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
/* The server process serving this connection (for tests and logs). */
int mf_pg_backend_pid(const mf_pg *pg);

/* ---- transactions -------------------------------------------------------------- */

typedef enum mf_pg_txn_mode {
	/* READ COMMITTED, read-write: a commit, serialized per table by
	 * mf_pg_table_lock() (each statement then sees every commit before it) */
	MF_PG_TXN_COMMIT,
	/* REPEATABLE READ, READ ONLY: one consistent snapshot for planning */
	MF_PG_TXN_SNAPSHOT,
} mf_pg_txn_mode;

/* Begin a transaction; reconnects first if the connection was lost (every
 * statement is prepared again on the new one).  STRATA_EINVAL if one is
 * already open. */
int mf_pg_begin(mf_pg *pg, mf_pg_txn_mode mode, strata_err *err);
/* Commit.  0 only when the server acknowledged COMMIT.  A server answer
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
 * (slot, below 64, tracks that); its results come in binary format. */
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

/* ---- catalog statements ----------------------------------------------------------- */

/* Inside a MF_PG_TXN_COMMIT transaction: lock the row of table table_id
 * (FOR NO KEY UPDATE: commits to one table are serialized, other tables'
 * commits and claim takes do not wait) and read its version into *version
 * (may be NULL).  wait_ms < 0 waits as long as it takes, 0 does not wait
 * (STRATA_ECONFLICT if another commit holds it), > 0 waits at most that
 * long (STRATA_ECONFLICT after).  STRATA_ENOTFOUND if there is no such
 * table. */
int mf_pg_table_lock(mf_pg *pg, uint32_t table_id, int wait_ms, uint64_t *version,
		     strata_err *err);
/* Take or extend the claim of a bucket for job_id, expiring ttl_us after the
 * catalog's clock (clock_timestamp()), never a host's: STRATA_EBUSY (naming
 * the holder and the time left by the catalog's clock) if another job holds
 * an unexpired claim. */
int mf_pg_claim_take(mf_pg *pg, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		     const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err);
/* Fencing, inside the job's commit transaction: lock the claim row and
 * check it is still job_id's and unexpired by the catalog's clock;
 * STRATA_ECONFLICT (saying whether it expired, was taken or is gone)
 * otherwise.  The row stays locked until the commit, so no other job can
 * take it in between. */
int mf_pg_claim_held(mf_pg *pg, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		     uint64_t job_id, strata_err *err);

#endif
