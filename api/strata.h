/*
 * strata/strata.h — the public, stable C API of libstrata.
 *
 * This is the one header a program outside the strata tree includes
 * (installed as <strata/strata.h>; `pkg-config --cflags --libs strata`
 * finds it and the library).  It wraps the table layer: open a warehouse,
 * create tables, write transactions, snapshot and incremental scans and
 * point lookups.  Rows cross the API as JSON text, so no internal type
 * (schemas, rows, arenas, the manifest) leaks through it, and the handles
 * are opaque.
 *
 * Rules every function follows:
 *   1. It returns 0 (or, where said, 1) on success and a negative code on
 *      failure: -errno for a system error, or one of STRATA_DB_E* below.
 *   2. The detail goes into *err when err is not NULL: the code again and a
 *      message naming the object and the reason, e.g.
 *        table "orders" does not exist
 *   3. Pointers the library hands out say who owns them: "lent until X"
 *      (do not free; valid until X) or "caller frees with strata_db_free()".
 *   4. _close()/_abort() of NULL is a no-op.
 *
 * Threads: a strata_db may be shared by threads; a transaction or a cursor
 * belongs to one thread at a time.  Several processes (writers, `strata`,
 * `stratad`) may open one warehouse at once.
 *
 * Stability: within one major version, functions are only added, and a
 * struct a program passes in (the option structs, strata_db_table_spec)
 * never changes size or layout once released: a program built against an
 * older header passes a struct exactly as large as the library reads.  A
 * later version that needs a new option adds a new struct and a new
 * function beside the old ones (the old keep working, with the option
 * unset).  Zero-initialise the structs, e.g. `strata_db_read_opts o = {0};`:
 * zero is "not set" for every field.  The shared library's soname carries
 * the major version (libstrata.so.MAJOR).  (0.2.0's header promised that
 * structs would grow at their end and be read as "not set" past what an
 * older program knew: a library cannot know how large the caller's struct
 * is, so that promise could not hold; tests/test_lib.c holds the sizes.)
 *
 * History: 0.1.0 the first public API; 0.2.0 added the columnar reads
 * (strata_db_colscan_*, strata_db_colcursor_*, version node STRATA_0.2).
 */
#ifndef STRATA_PUBLIC_STRATA_H
#define STRATA_PUBLIC_STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported functions: the library is compiled with
 * -fvisibility=hidden, so only these are visible outside libstrata.so. */
#if defined(__GNUC__)
#define STRATA_DB_API __attribute__((visibility("default")))
#else
#define STRATA_DB_API
#endif

/* ---- version -------------------------------------------------------------
 * The version of the headers compiled against; strata_db_version() gives
 * the library's at run time (they differ after a library upgrade). */
#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 2
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons */
#define STRATA_VERSION_NUMBER \
	(STRATA_VERSION_MAJOR * 10000 + STRATA_VERSION_MINOR * 100 + STRATA_VERSION_PATCH)

/* The library's version as "MAJOR.MINOR.PATCH"; each pointer argument, if
 * not NULL, receives one part.  The string is static. */
STRATA_DB_API const char *strata_db_version(int *major, int *minor, int *patch);

/* ---- errors -------------------------------------------------------------- */

enum {
	STRATA_DB_EINVAL = -10001,       /* bad input: a value, a name, a type */
	STRATA_DB_ECORRUPT = -10002,     /* a file or manifest record is damaged */
	STRATA_DB_ECONFLICT = -10003,    /* optimistic check failed, nothing done */
	STRATA_DB_ENOTFOUND = -10004,    /* a named object does not exist */
	STRATA_DB_EEXIST = -10005,       /* a named object already exists */
	STRATA_DB_ERETENTION = -10006,   /* version outside the retention window */
	STRATA_DB_EUNSUPPORTED = -10007, /* valid but outside what strata handles */
	STRATA_DB_EPOISONED = -10008,    /* handle refused after a failed durable op */
	STRATA_DB_EMAPFULL = -10009,     /* the manifest's map is full */
	STRATA_DB_EBUSY = -10010,        /* bucket claimed by another job, or a
					    commit's back-pressure wait timed out */
	STRATA_DB_ECANCELED = -10011,    /* cancelled */
	STRATA_DB_EMANIFEST = -10012,    /* other manifest (LMDB) failure */
	STRATA_DB_ELIMIT = -10013,       /* a size limit was exceeded */
	STRATA_DB_EUNCERTAIN = -10014,   /* a commit failed inside: it may have
					    happened (retry with the same token) */
};

#define STRATA_DB_ERRMSG_MAX 512

typedef struct strata_db_error {
	int code;                       /* 0, -errno or STRATA_DB_E* */
	char msg[STRATA_DB_ERRMSG_MAX]; /* "" or the detail */
} strata_db_error;

/* Static text for a code (-errno or STRATA_DB_E*); never NULL. */
STRATA_DB_API const char *strata_db_strerror(int code);

/* Free what a function documented as "caller frees with strata_db_free()"
 * returned.  NULL is a no-op. */
STRATA_DB_API void strata_db_free(void *p);

/* ---- warehouses and tables ---------------------------------------------- */

typedef struct strata_db strata_db;

/* flags for strata_db_open() */
#define STRATA_DB_CREATE 0x1u /* initialise the warehouse if it does not exist */

/* Open the warehouse at path (a directory `strata init` or STRATA_DB_CREATE
 * made).  On success *out is a handle the caller closes with
 * strata_db_close().  Errors: -ENOENT (no warehouse, no CREATE),
 * STRATA_DB_ECORRUPT, STRATA_DB_EMANIFEST, -errno. */
STRATA_DB_API int strata_db_open(const char *path, unsigned flags, strata_db **out, strata_db_error *err);

/* Close a warehouse.  Every transaction and cursor of it must be finished
 * first.  NULL: no-op. */
STRATA_DB_API void strata_db_close(strata_db *db);

/* What a new table looks like.  Zero-initialise, then set columns. */
typedef struct strata_db_table_spec {
	/* "pk BIGINT NOT NULL PRIMARY KEY, val STRING"; types BIGINT INT
	 * DOUBLE FLOAT BOOLEAN STRING BINARY TIMESTAMP.  Required. */
	const char *columns;
	/* "a,b" for a composite key, or NULL (the PRIMARY KEY column) */
	const char *primary_key;
	/* "pt STRING, dt STRING" or NULL (unpartitioned) */
	const char *partitioned_by;
	/* "key=value" table properties (write.bucket.num,
	 * acid.data.retain.hours, ...: docs/CLI.md), nproperties of them */
	const char *const *properties;
	size_t nproperties;
} strata_db_table_spec;

/* Create table name.  Errors: STRATA_DB_EEXIST, STRATA_DB_EINVAL (naming the
 * column, type or property and the allowed values), -errno. */
STRATA_DB_API int strata_db_create_table(strata_db *db, const char *name, const strata_db_table_spec *spec,
			   strata_db_error *err);

/* The latest version of table into *version.  STRATA_DB_ENOTFOUND if there
 * is no such table. */
STRATA_DB_API int strata_db_table_version(strata_db *db, const char *table, uint64_t *version,
			    strata_db_error *err);

/* ---- write transactions --------------------------------------------------- */

typedef struct strata_db_txn strata_db_txn;

/* Start a transaction on table.  Rows are buffered in memory until
 * strata_db_txn_commit(); nothing is visible before it. */
STRATA_DB_API int strata_db_txn_begin(strata_db *db, const char *table, strata_db_txn **out,
			strata_db_error *err);

/* Upsert one row given as a JSON object: every key column, any other
 * columns (missing ones are NULL), partition columns as strings.
 * {"_op":"delete", <key columns>} deletes instead.  STRATA_DB_EINVAL names
 * the column and the reason.  The transaction stays usable after an
 * STRATA_DB_EINVAL (the row is not buffered). */
STRATA_DB_API int strata_db_txn_put(strata_db_txn *t, const char *row_json, strata_db_error *err);

/* Delete the row with this key (a JSON object of the key columns, plus the
 * partition columns of a partitioned table). */
STRATA_DB_API int strata_db_txn_delete(strata_db_txn *t, const char *key_json, strata_db_error *err);

/* Rows buffered so far. */
STRATA_DB_API size_t strata_db_txn_rows(const strata_db_txn *t);

typedef struct strata_db_commit_opts {
	const char *token;       /* idempotency token, or NULL */
	uint64_t expect_version; /* fail with STRATA_DB_ECONFLICT if the table
				    changed after this version; 0: no check */
} strata_db_commit_opts;

/* Make the buffered rows durable and visible as one new version, written
 * into *version (if not NULL).  opts may be NULL.  The transaction is freed
 * whatever happens.  An empty transaction commits nothing and gives the
 * current version; a repeated token commits nothing and gives the first
 * commit's version.  Errors: STRATA_DB_ECONFLICT (token, expected version or
 * schema changed), -ENOSPC and other -errno, STRATA_DB_EMAPFULL; on any of
 * these nothing was committed.  STRATA_DB_EUNCERTAIN: the commit failed
 * at a point where it may have happened; commit the same rows again with
 * the same token to learn which (a repeat commits nothing). */
STRATA_DB_API int strata_db_txn_commit(strata_db_txn *t, const strata_db_commit_opts *opts, uint64_t *version,
			 strata_db_error *err);

/* Drop a transaction without committing.  NULL: no-op. */
STRATA_DB_API void strata_db_txn_abort(strata_db_txn *t);

/* ---- reads ----------------------------------------------------------------- */

/* Which version and which rows a read wants.  Zero-initialised: the latest
 * version, every partition, every column. */
typedef struct strata_db_read_opts {
	uint64_t as_of_version;  /* 0: latest */
	int has_as_of_time;      /* non-zero: use as_of_time_us */
	int64_t as_of_time_us;   /* the last version committed at or before it
				    (microseconds since the epoch, UTC) */
	const char *as_of_tag;   /* a tag's version, or NULL */
	const char *partition;   /* "pt=x/dt=y", or NULL for all */
	const char *columns;     /* projection "a,b" (key columns always come),
				    or NULL for all */
} strata_db_read_opts;

typedef struct strata_db_cursor strata_db_cursor;

/* A snapshot read of table (opts may be NULL).  A version outside the
 * retention window fails here with STRATA_DB_ERETENTION.  Rows come
 * partition by partition, bucket by bucket, in key order within a bucket. */
STRATA_DB_API int strata_db_scan(strata_db *db, const char *table, const strata_db_read_opts *opts,
		   strata_db_cursor **out, strata_db_error *err);

/* An incremental read: every record committed in versions (v1, v2], each
 * with "_seq" (its version) and "_op" ("upsert" or "delete").  partition
 * may be NULL. */
STRATA_DB_API int strata_db_changes(strata_db *db, const char *table, uint64_t v1, uint64_t v2,
		      const char *partition, strata_db_cursor **out, strata_db_error *err);

/* The next row as a JSON object (partition columns included) in *row_json,
 * lent until the next call on c or its close; *len (if not NULL) is its
 * length.  Returns 1 with a row, 0 at the end, or a negative code. */
STRATA_DB_API int strata_db_cursor_next(strata_db_cursor *c, const char **row_json, size_t *len,
			  strata_db_error *err);

/* The version the cursor reads (for changes: v2). */
STRATA_DB_API uint64_t strata_db_cursor_version(const strata_db_cursor *c);

/* Close a cursor (and release the files it held).  NULL: no-op. */
STRATA_DB_API void strata_db_cursor_close(strata_db_cursor *c);

/* Look up one key (a JSON object of the key columns, plus the partition
 * columns of a partitioned table) at the version opts say (NULL: latest).
 * Returns 1 with the row's columns as a JSON object in *row_json (caller
 * frees with strata_db_free()), 0 if the key does not exist (or was
 * deleted) at that version, or a negative code. */
STRATA_DB_API int strata_db_get(strata_db *db, const char *table, const char *key_json,
		  const strata_db_read_opts *opts, char **row_json, strata_db_error *err);

/* ---- columnar reads -----------------------------------------------------------
 * The same snapshot reads as strata_db_scan(), handed out as batches of
 * typed column vectors instead of JSON rows: what a query engine or a
 * numeric program binds to.  A columnar scan is planned once (the version,
 * the retention check, the files, held by reader leases until it is
 * closed and renewed while it is read); any number of cursors, one per
 * thread, then pull from it.  The plan is split into buckets (each
 * partition's hash buckets): every bucket is claimed by exactly one cursor,
 * so the cursors of one scan read disjoint rows and together read every
 * row once.  Together they return exactly the rows strata_db_scan() (and
 * `strata scan`) returns with the same options, merge-on-read included; the
 * order of rows across buckets and cursors is not defined (within one
 * bucket, rows come in key order).
 *
 *   strata_db_colscan_open()     plan (table, version, partition, keys,
 *                                columns)
 *   strata_db_colscan_ncols(), _column(), _version(), _nbuckets(),
 *   _rows_estimate()             what it will read
 *   strata_db_colcursor_open()   one per thread
 *   strata_db_colcursor_next()   a batch: nrows, and per column values[j]
 *                                and nulls[j]
 *   strata_db_colcursor_close(), strata_db_colscan_close()
 *
 * Threads: open and close a scan on one thread; its getters and its
 * cursors may then be used from several threads at once, each cursor by one
 * thread at a time.  Close every cursor before its scan, and every scan
 * before its strata_db. */

/* The type of a column, and so the C type of its values in a batch.  The
 * values are explicit and never reused; new types take the next free
 * values, so a program must treat a type it does not know as one it cannot
 * read (skip the column), never guess its width. */
typedef enum strata_db_type {
	STRATA_DB_T_BIGINT = 1,    /* int64_t */
	STRATA_DB_T_INT = 2,       /* int32_t */
	STRATA_DB_T_DOUBLE = 3,    /* double */
	STRATA_DB_T_FLOAT = 4,     /* float */
	STRATA_DB_T_BOOLEAN = 5,   /* uint8_t, 0 or 1 */
	STRATA_DB_T_STRING = 6,    /* strata_db_bytes, UTF-8, not NUL-terminated */
	STRATA_DB_T_BINARY = 7,    /* strata_db_bytes */
	STRATA_DB_T_TIMESTAMP = 8, /* int64_t, microseconds since the epoch, UTC */
	STRATA_DB_T_DATE = 9,      /* int32_t, days since 1970-01-01 */
	STRATA_DB_T_DECIMAL = 10,  /* strata_db_decimal: the unscaled value at the
				      column's scale (strata_db_column) */
	STRATA_DB_T_FORCE_INT_ = 0x7fffffff /* not a type: keeps the enum int-sized */
} strata_db_type;

/* A DECIMAL(precision, scale) value: the unscaled integer, 128-bit two's
 * complement in two halves, hi * 2^64 + lo (on a compiler with __int128:
 * (__int128)hi << 64 | lo); the number is that over 10^scale.  At most
 * 38 digits.  16 bytes, as a little-endian __int128. */
typedef struct strata_db_decimal {
	uint64_t lo;
	int64_t hi;
} strata_db_decimal;

/* A STRING or BINARY value: len bytes at ptr (lent like the batch). */
typedef struct strata_db_bytes {
	const uint8_t *ptr;
	uint32_t len;
} strata_db_bytes;

/* One column a scan hands out, lent until the scan is closed.  Only the
 * library makes these: the struct may grow at its end. */
typedef struct strata_db_column {
	const char *name;
	strata_db_type type;
	int is_partition; /* a partition column (its value, as a STRING) */
	int is_nullable;
	int key_pos;      /* position in the primary key (0-based), or -1 */
	int precision;    /* DECIMAL(precision, scale): 1..38 and 0..precision; */
	int scale;        /* 0 for every other type */
} strata_db_column;

/* Which version, which rows and which columns a columnar scan reads.
 * Zero-initialised: the latest version, every partition, every row, every
 * column, batches of 2048 rows. */
typedef struct strata_db_colscan_opts {
	uint64_t as_of_version;  /* 0: latest */
	int has_as_of_time;      /* non-zero: use as_of_time_us */
	int64_t as_of_time_us;   /* the last version committed at or before it
				    (microseconds since the epoch, UTC) */
	const char *as_of_tag;   /* a tag's version, or NULL */
	const char *partition;   /* "pt=x/dt=y", or NULL for all */
	/* The columns, in the order the batches carry them: "a,b" (schema and
	 * partition columns by name; a name may repeat), "" for none (batches
	 * then only count rows), or NULL for every column: the schema's
	 * columns in schema order, then the partition columns.  Key columns
	 * are not added: a batch has exactly the columns asked for. */
	const char *columns;
	/* One key, or an inclusive key range (either end may be NULL): JSON
	 * objects of every key column, e.g. {"id":7}.  A single key may also
	 * give every partition column to pick its partition.  NULL: all. */
	const char *key_json;
	const char *key_from_json;
	const char *key_to_json;
	size_t batch_rows;       /* most rows per batch; 0: 2048 */
} strata_db_colscan_opts;

typedef struct strata_db_colscan strata_db_colscan;
typedef struct strata_db_colcursor strata_db_colcursor;

/* Plan a columnar scan of table (opts may be NULL).  On success *out is a
 * scan the caller closes with strata_db_colscan_close(), after its cursors
 * and before db.  Errors: STRATA_DB_ENOTFOUND (no such table or tag),
 * STRATA_DB_ERETENTION (a version outside the retention window),
 * STRATA_DB_EINVAL (a column the table does not have, with the columns it
 * has; a partition spec or a key that is not a JSON object of the key
 * columns), STRATA_DB_EUNSUPPORTED (a column of a type this library does
 * not hand out in batches), -errno.  *out is set only on success. */
STRATA_DB_API int strata_db_colscan_open(strata_db *db, const char *table,
			   const strata_db_colscan_opts *opts, strata_db_colscan **out,
			   strata_db_error *err);

/* Close a scan (and release its leases).  Its cursors must be closed
 * first.  NULL: no-op. */
STRATA_DB_API void strata_db_colscan_close(strata_db_colscan *cs);

/* The columns a batch carries: how many, and column j (NULL past the end),
 * lent until the scan is closed.  Column j's values are batch->values[j]. */
STRATA_DB_API size_t strata_db_colscan_ncols(const strata_db_colscan *cs);
STRATA_DB_API const strata_db_column *strata_db_colscan_column(const strata_db_colscan *cs,
							  size_t j);

/* The version the scan reads. */
STRATA_DB_API uint64_t strata_db_colscan_version(const strata_db_colscan *cs);

/* The buckets the plan splits into: more cursors than this find nothing
 * to read.  A single key plans one bucket per partition. */
STRATA_DB_API size_t strata_db_colscan_nbuckets(const strata_db_colscan *cs);

/* An upper bound on the rows the scan returns (the records in its files,
 * before merge-on-read removes history and deletes): for sizing. */
STRATA_DB_API uint64_t strata_db_colscan_rows_estimate(const strata_db_colscan *cs);

/* A batch: nrows rows (1 to batch_rows) of ncols columns, lent until the
 * next call on its cursor or the cursor's close.  Only the library makes
 * these: the struct may grow at its end. */
typedef struct strata_db_batch {
	size_t nrows;
	size_t ncols; /* strata_db_colscan_ncols() */
	/* values[j]: nrows values of the C type of column j's type (see
	 * strata_db_type), e.g. ((const int64_t *)b->values[j])[i]; a null's
	 * value is zero (empty for STRING and BINARY) */
	const void *const *values;
	/* nulls[j]: nrows bytes, nulls[j][i] = 1 where row i's value is null,
	 * 0 where it is not */
	const uint8_t *const *nulls;
} strata_db_batch;

/* A cursor on scan cs, for one thread; caller closes it with
 * strata_db_colcursor_close() before the scan.  Errors: -errno,
 * STRATA_DB_EINVAL. */
STRATA_DB_API int strata_db_colcursor_open(strata_db_colscan *cs, strata_db_colcursor **out,
			     strata_db_error *err);

/* The next batch in *batch (lent until the next call on c or its close).
 * Returns 1 with a batch, 0 when no bucket is left to claim (the other
 * cursors may still be reading theirs), or a negative code: a damaged or
 * missing file is STRATA_DB_ECORRUPT or -ENOENT naming the file.  A batch
 * may hold rows of several buckets. */
STRATA_DB_API int strata_db_colcursor_next(strata_db_colcursor *c, const strata_db_batch **batch,
			     strata_db_error *err);

/* Close a cursor.  NULL: no-op. */
STRATA_DB_API void strata_db_colcursor_close(strata_db_colcursor *c);

#ifdef __cplusplus
}
#endif

#endif
