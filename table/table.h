/*
 * table/table.h — the contract of the table layer: warehouses and tables,
 * writer transactions, snapshot reads, time travel, point gets and
 * incremental reads.  The CLI, the daemon, the jobs and the tests all go
 * through these functions.
 *
 * A read at version V returns, per key, the record with the largest
 * _seq <= V unless it is a delete.  Rows come out partition by partition
 * (partition id order), bucket by bucket, in key order within a bucket.
 *
 * Ownership: rows handed out are lent until the next call on the same
 * iterator.  Thread safety: a strata_wh is shared by threads; a transaction
 * or an iterator belongs to one thread.
 */
#ifndef STRATA_TABLE_H
#define STRATA_TABLE_H

#include "core/core.h"
#include "format/format.h"
#include "manifest/manifest.h"

struct json_t;

/* ------------------------------------------------------------------------ */
/* Warehouse and tables                                                     */
/* ------------------------------------------------------------------------ */

typedef struct strata_wh strata_wh;

/* Open (or with create, initialise) the warehouse at path. */
int strata_wh_open(const char *path, bool create, strata_wh **out, strata_err *err);
/* Create a warehouse: a directory (data_path NULL), or a catalog at a
 * postgresql:// URI whose data files live at data_path (required there). */
int strata_wh_create(const char *path, const char *data_path, strata_wh **out,
		     strata_err *err);
/* The same with a manifest open mode (manifest.h): read commands use
 * STRATA_MF_READ, which never writes (nor creates) the manifest. */
int strata_wh_open_mode(const char *path, strata_mf_mode mode, strata_wh **out,
			strata_err *err);
void strata_wh_close(strata_wh *wh);
strata_mf *strata_wh_mf(strata_wh *wh);
const char *strata_wh_path(const strata_wh *wh);

/* Table properties (MaxCompute names), with defaults and ranges:
 *   write.bucket.num                 16     (0, 4096]
 *   acid.data.retain.hours           24     [0, 168]
 *   write.avro.codec                 null   null | deflate
 *   write.parquet.zstd.level         3      [0, 22] (0: uncompressed)
 *   write.parquet.row-group.bytes    64 MiB [1 MiB, 1 GiB]
 *   write.parquet.page.bytes         1 MiB  [4 KiB, 64 MiB]
 *   partition.expiration-time        0      off, or N{s,m,h,d} up to 36500d
 *   partition.expiration-column      ""     a partition column ("": first)
 *   write.max-level0-files           0      [0, 100000] (0: off) a commit
 *                                           adding a row file to a bucket
 *                                           holding this many waits
 *   write.slow-level0-files          0      [0, 100000] (0: off) ... slows
 *   write.stall-timeout-s            60     [1, 3600] longest wait
 *   write.inline.max-bytes           4096   [0, 65536] (0: off) a commit's
 *                                           row file of at most this many
 *                                           bytes lives in its manifest
 *                                           entry, not in a file
 * Apply "key=value" to def; STRATA_EINVAL names the property and range. */
#define STRATA_L0_FILES_MAX 100000
#define STRATA_STALL_TIMEOUT_S_DEFAULT 60
#define STRATA_STALL_TIMEOUT_S_MAX 3600
int strata_table_prop_apply(strata_table_def *def, const char *kv, strata_err *err);
void strata_table_def_defaults(strata_table_def *def);
/* Append "key=value" lines of every property to out. */
void strata_table_props_format(const strata_table_def *def, strata_buf *out);
/* Partition TTL (docs/GOVERNANCE.md, "Partition expiry"):
 *   partition.expiration-time    0 (off) | N{s,m,h,d}, at most 36500d
 *   partition.expiration-column  a partition column (default: the first)
 * The index of the expiration column in def->part_cols; -1 when
 * partition.expiration-time is off; STRATA_EINVAL (< -1) naming the
 * problem for an unpartitioned table or a column that is not a partition
 * column. */
int strata_table_expiry_column(const strata_table_def *def, strata_err *err);

/* Create a table.  columns: "pk BIGINT NOT NULL PRIMARY KEY, val STRING";
 * primary_key: "a,b" or NULL; partitioned_by: "pt STRING, dt STRING" or
 * NULL; props: "key=value" strings. */
int strata_table_create(strata_wh *wh, const char *name, const char *columns,
			const char *primary_key, const char *partitioned_by,
			const char *const *props, size_t nprops, strata_err *err);
/* Add nullable columns ("c2 STRING, c3 INT") / drop a non-key column. */
int strata_table_add_columns(strata_wh *wh, const char *name, const char *columns,
			     uint64_t *version, strata_err *err);
int strata_table_drop_column(strata_wh *wh, const char *name, const char *column,
			     uint64_t *version, strata_err *err);
/* Rename a column (key columns too): a new schema version in which the
 * column keeps its id, so reads at older versions keep the old name.
 * STRATA_ENOTFOUND for an unknown column, STRATA_EEXIST when new_name is
 * taken, STRATA_EINVAL for a bad name or a partition column's name. */
int strata_table_rename_column(strata_wh *wh, const char *name, const char *column,
			       const char *new_name, uint64_t *version, strata_err *err);
/* Widen a non-key column's type (type as DDL spells it): INT -> BIGINT,
 * FLOAT -> DOUBLE, DECIMAL(p,s) -> DECIMAL(p',s) with p' > p.  Files
 * written before read as the new type; merges and compactions rewrite them
 * in it.  Anything else is STRATA_EINVAL naming both types; nothing is
 * committed then. */
int strata_table_alter_column_type(strata_wh *wh, const char *name, const char *column,
				   const char *type, uint64_t *version, strata_err *err);
/* Change properties of an existing table (bucket count applies to
 * partitions created afterwards; retention at once). */
int strata_table_set_props(strata_wh *wh, const char *name, const char *const *props,
			   size_t nprops, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Lifecycle (table/lifecycle.c): rollback and partition drops              */
/* ------------------------------------------------------------------------ */

typedef struct strata_rollback_stats {
	uint64_t from_version, to_version;
	uint64_t upserts, deletes; /* rows the rollback wrote */
	bool is_noop;              /* already at to_version: nothing committed */
} strata_rollback_stats;

/* Commit one new version (kind rollback) whose reads equal the reads at
 * to_version, or at the tag to_tag when not NULL (data and schema).  The
 * version must be readable (inside retention, or tagged) and earlier than
 * the current one: else STRATA_ERETENTION / STRATA_EINVAL and nothing is
 * committed; STRATA_ENOTFOUND for an unknown table or tag;
 * STRATA_ECONFLICT if a write or DDL committed during it (nothing
 * committed).  Rolling back to the current version commits nothing
 * (st->is_noop).  *version receives the new version; st (may be NULL) what
 * it did.  History after to_version stays readable by time travel. */
int strata_table_rollback(strata_wh *wh, const char *table, uint64_t to_version,
			  const char *to_tag, uint64_t *version, strata_rollback_stats *st,
			  strata_err *err);
/* Drop the partition given by spec ("pt=x/dt=y", unescaped values, every
 * partition column) in one commit (strata_mf_drop_partition in
 * manifest.h): reads at older versions still see it inside retention, the
 * daemon cleans its files after that.  STRATA_ENOTFOUND names a partition
 * that does not exist, STRATA_EINVAL an unpartitioned table or a bad
 * spec; nothing is committed then. */
int strata_table_drop_partition(strata_wh *wh, const char *table, const char *spec,
				uint64_t *version, size_t *nfiles, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Predicates (table/pred.c): the language of scan --where, delete --where  */
/* ------------------------------------------------------------------------ */

/* A parsed predicate (grammar and semantics: table/pred.c, docs/CLI.md
 * "Predicates"): comparisons, IS [NOT] NULL, [NOT] IN, AND, OR, NOT,
 * parentheses, literals of every column type as the JSON input spells
 * them.  SQL's three-valued logic: a row is selected when the predicate
 * is true (a comparison with a null is unknown).  Immutable once bound;
 * threads may share it. */
typedef struct strata_pred strata_pred;

/* Parse text against the columns of schema s and the partition columns of
 * def (STRING; def may be NULL).  *out (caller frees with strata_pred_free)
 * reads rows laid out like s until strata_pred_bind.  STRATA_EINVAL names
 * the problem, the column and the 1-based position ("unknown column \"x\"
 * ... at position 7", "expected a number for column \"a\" (BIGINT), got
 * \"'x'\" at position 12"); STRATA_ELIMIT past 1 MiB of text. */
int strata_pred_parse(const char *text, const strata_schema *s, const strata_table_def *def,
		      strata_pred **out, strata_err *err);
void strata_pred_free(strata_pred *p);
/* The schema columns the predicate reads, "a,b" ("" for none; partition
 * columns are not listed), lent until free: what a projection must keep. */
const char *strata_pred_columns(const strata_pred *p);
/* Read rows laid out like rs (a projection of the parse schema holding
 * every column strata_pred_columns names; matched by id).  STRATA_EINVAL
 * if one is missing. */
int strata_pred_bind(strata_pred *p, const strata_schema *rs, strata_err *err);
/* Whether the predicate is true for row (bound layout) in the partition
 * with values pv (NULL-terminated; NULL for an unpartitioned table). */
bool strata_pred_match(const strata_pred *p, const strata_row *row, const char *const *pv);
/* False only when no row of a unit of `rows` rows can match: cols are the
 * statistics of the bound layout's columns (format.h; NULL: all unknown),
 * pv the unit's partition values (NULL: unknown). */
bool strata_pred_may_match(const strata_pred *p, const strata_colstat *cols, uint64_t rows,
			   const char *const *pv);
/* The range of encoded keys the predicate can select, from the first key
 * column's comparisons and IN lists under AND and OR: *has_lo with lo (a
 * selected key is >= lo), *has_hi with hi (a selected key is <= hi).
 * Floating-point key columns give no range. */
int strata_pred_key_range(const strata_pred *p, strata_buf *lo, strata_buf *hi, bool *has_lo,
			  bool *has_hi);
/* Whether "=" on every key column in the top-level AND chain fixes one
 * key; true with its encoding in key. */
bool strata_pred_key_point(const strata_pred *p, strata_buf *key);

/* ------------------------------------------------------------------------ */
/* Writer transactions                                                      */
/* ------------------------------------------------------------------------ */

typedef struct strata_txn strata_txn;

int strata_txn_begin(strata_wh *wh, const char *table, strata_txn **out, strata_err *err);
/* Buffer one row given as a JSON object (partition columns included, as
 * strings; "_op":"delete" deletes).  Errors name the column and reason. */
int strata_txn_put_json(strata_txn *t, struct json_t *obj, strata_err *err);
/* Buffer one row in the current schema's layout (copied). */
int strata_txn_put(strata_txn *t, const char *const *part_values, const strata_row *row,
		   strata_err *err);
size_t strata_txn_rows(const strata_txn *t);
const strata_schema *strata_txn_schema(const strata_txn *t);

/* Writer back-pressure (write.max-level0-files): what a commit reports when
 * it starts to slow down or to wait, and when the wait ends. */
typedef enum strata_stall_kind {
	STRATA_STALL_SLOW = 1, /* one delay of delay_ms, then the commit goes on */
	STRATA_STALL_WAIT,     /* waiting for a sort, up to write.stall-timeout-s */
	STRATA_STALL_RELEASED, /* the wait ended: a sort took files (waited_ms) */
} strata_stall_kind;

typedef struct strata_stall {
	strata_stall_kind kind;
	const char *table;
	const char *partition;   /* escaped name, "" if none */
	uint32_t bucket;         /* the fullest bucket the commit adds to */
	uint32_t level0_files;   /* its live row files */
	uint32_t limit;          /* the limit it met (slow or max) */
	int64_t delay_ms;        /* SLOW: the delay; WAIT: the timeout */
	int64_t waited_ms;       /* RELEASED */
	const char *why;         /* one line, e.g. "bucket 3 of \"t\" holds 12 row
				    files >= write.max-level0-files 12" */
} strata_stall;

typedef void (*strata_stall_fn)(void *arg, const strata_stall *st);

/* Process-wide totals of back-pressure (for benches and verbose output):
 * commits slowed, commits that waited, microseconds spent in both. */
void strata_txn_stall_totals(uint64_t *slowed, uint64_t *waited, uint64_t *stall_us);

typedef struct strata_commit_opts {
	const char *token;       /* idempotency token or NULL (never "") */
	int64_t token_us;        /* with a token, required: when the batch was
				    first attempted (µs), the same on every
				    retry; see strata_mf_commit_write() */
	uint64_t expect_version; /* 0: none */
	strata_stall_fn on_stall; /* back-pressure reports (lent; NULL: none) */
	void *stall_arg;
} strata_commit_opts;

/* Sort each bucket's rows, keep the last row per key, write one row file per
 * bucket (temp name, fsync, rename, fsync dir), then commit all of them in
 * one manifest transaction.  On any failure nothing is committed and every
 * file written is removed.  STRATA_ECONFLICT for a token/version/schema
 * mismatch.  Frees t (on failure too).  An empty transaction commits
 * nothing and returns the current version (with a token already used: that
 * commit's version, *is_repeat set).  STRATA_EUNCERTAIN: the manifest
 * commit failed inside and may have happened; the files stay (a committed
 * version may name them) and the warehouse must be reopened: retrying with
 * the same token and batch time answers whether it committed.
 * STRATA_ERETENTION: the token's batch is older than the table's token
 * horizon (nothing committed).
 *
 * Back-pressure, before any file is written: when a bucket the commit adds
 * to holds write.slow-level0-files live row files or more, the commit
 * sleeps once, 10 ms x (files - slow + 1), at most 1 s; at
 * write.max-level0-files or more it waits, re-reading the manifest with
 * growing pauses (50 ms to 500 ms), until a sort brings every such bucket
 * below the limit (or the limit is raised), for at most
 * write.stall-timeout-s: then STRATA_EBUSY naming the bucket, its count
 * and the limit, and nothing is committed.  opts->on_stall hears of each. */
int strata_txn_commit(strata_txn *t, const strata_commit_opts *opts, uint64_t *version,
		      bool *is_repeat, strata_err *err);
void strata_txn_abort(strata_txn *t);

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct strata_read_opts {
	uint64_t as_of_version;  /* 0: latest */
	bool has_as_of_time;
	int64_t as_of_time_us;   /* last version committed at or before it */
	const char *as_of_tag;   /* NULL: none */
	const char *partition;   /* "pt=x/dt=y" (unescaped values) or NULL */
	const char *columns;     /* projection "a,b" or NULL (keys always) */
	const char *where;       /* a predicate (strata_pred_parse) or NULL:
				    snapshot scans only */
} strata_read_opts;

/* What a scan with a predicate skipped, and why (strata_scan_prune_get):
 * files of the planned partitions and buckets, then how many of them were
 * never opened because their partition's values, the key's bucket, their
 * key range or (columnar files) their statistics exclude every row, the
 * data pages of masked row ranges never read (format.h,
 * strata_run_set_mask), and rows. */
typedef struct strata_scan_prune {
	uint64_t files;
	uint64_t files_by_partition, files_by_bucket, files_by_key, files_by_stats;
	uint64_t files_read;
	uint64_t pages_skipped;
	uint64_t rows_tested, rows_matched;
} strata_scan_prune;

typedef struct strata_scan strata_scan;

/* Snapshot read.  Versions outside the retention window fail here, at
 * planning, with STRATA_ERETENTION: "version V is outside the retention
 * window of NAME (oldest readable: W)". */
int strata_scan_open(strata_wh *wh, const char *table, const strata_read_opts *opts,
		     strata_scan **out, strata_err *err);
/* Incremental read of (v1, v2]: every record with v1 < _seq <= v2. */
int strata_changes_open(strata_wh *wh, const char *table, uint64_t v1, uint64_t v2,
			const char *partition, strata_scan **out, strata_err *err);
/* 1 with *row (and partition values, NULL-terminated) lent, 0 at the end. */
int strata_scan_next(strata_scan *s, const strata_row **row, const char *const **part_values,
		     strata_err *err);
const strata_schema *strata_scan_schema(const strata_scan *s);
const strata_table_def *strata_scan_table(const strata_scan *s);
uint64_t strata_scan_version(const strata_scan *s);
uint64_t strata_scan_rows_decoded(const strata_scan *s);
/* What a scan opened with opts->where skipped so far (zeros without). */
void strata_scan_prune_get(const strata_scan *s, strata_scan_prune *out);
void strata_scan_close(strata_scan *s);

/* Point lookup by a key given as JSON (key columns, plus partition columns
 * for a partitioned table).  Returns 1 and the row copied into arena a, 0 if
 * not found (or deleted).  *schema_out (if not NULL) receives the schema of
 * the row (caller frees).  Reads one page per candidate file. */
int strata_get_json(strata_wh *wh, const char *table, struct json_t *key,
		    const strata_read_opts *opts, strata_arena *a, strata_row *row,
		    strata_schema **schema_out, uint64_t *rows_decoded, strata_err *err);

/* Turn a partition spec "pt=x/dt=y" (unescaped values) into the escaped
 * partition name of table t. */
int strata_partition_spec(const strata_table_def *t, const char *spec, char *out, size_t n,
			  strata_err *err);

/* Resolve the version a read with opts means (for status and errors). */
int strata_read_version(strata_wh *wh, const char *table, const strata_read_opts *opts,
			uint64_t *version, strata_err *err);

/* Readability of a table: the oldest version a snapshot read can use and the
 * oldest V1 an incremental read can start from, over all buckets. */
int strata_table_earliest(strata_wh *wh, const char *table, uint64_t *readable,
			  uint64_t *incremental, strata_err *err);

/* What strata_table_delete_where did. */
typedef struct strata_delete_stats {
	uint64_t scan_version; /* the version whose rows were tested */
	uint64_t deleted;      /* keys the predicate selected (deleted, or
				  would be by a dry run) */
	uint64_t version;      /* the commit (a dry run: scan_version) */
	bool is_repeat;        /* the token was used: nothing committed */
	strata_scan_prune prune;
} strata_delete_stats;

/* Delete every live key of table that the predicate where selects (in the
 * partition given by spec "pt=x", or all) in one writer transaction
 * (table/delete.c).  The commit expects no write or DDL after the version
 * scanned (or opts->expect_version, if older): else STRATA_ECONFLICT and
 * nothing is committed.  opts (may be NULL): token, batch time, stall
 * reports as strata_txn_commit.  is_dry_run counts and commits nothing.
 * Predicate errors are strata_pred_parse's (nothing committed). */
int strata_table_delete_where(strata_wh *wh, const char *table, const char *where,
			      const char *partition, bool is_dry_run,
			      const strata_commit_opts *opts, strata_delete_stats *st,
			      strata_err *err);

/* ------------------------------------------------------------------------ */
/* Columnar reads (table/colscan.c): the API engine bindings use            */
/* ------------------------------------------------------------------------ */

/* A columnar scan answers exactly what strata_scan_open (or, with
 * is_changes, strata_changes_open) answers, as batches of typed column
 * vectors instead of rows.  Open plans it once (version resolution, the
 * retention check, leases); cursors then pull whole buckets, each bucket
 * claimed by exactly one cursor, so N threads with a cursor each read
 * disjoint buckets of one plan.  Output columns, by index: the schema's
 * columns at the version (schema order), then the partition columns
 * (STRING), then for changes _seq (BIGINT) and _op (STRING "upsert" or
 * "delete").  The scan holds its reader leases until it is closed and
 * renews them while cursors pull (a scan may outlive the lease TTL).
 *
 * Thread safety: strata_colscan_* calls other than open/close and every
 * cursor call may run on several threads at once; one cursor belongs to one
 * thread.  Close every cursor before the scan. */

typedef struct strata_colscan_opts {
	strata_read_opts read;   /* AS OF version / time / tag and partition;
				    read.columns is ignored (cursors project),
				    and so is read.where */
	bool is_changes;         /* incremental read of (v1, v2] */
	uint64_t v1, v2;
	/* A single key, or an inclusive key range (either end may be NULL),
	 * each a JSON object of every key column ({"pk":1}); a single key may
	 * also name partition columns to select its partition. */
	const char *key_json;
	const char *key_lo_json, *key_hi_json;
} strata_colscan_opts;

typedef enum strata_colkind {
	STRATA_COL_DATA = 0,  /* a schema column */
	STRATA_COL_PARTITION, /* a partition column (STRING) */
	STRATA_COL_SEQ,       /* _seq (changes) */
	STRATA_COL_OP,        /* _op (changes) */
} strata_colkind;

typedef struct strata_colinfo {
	const char *name;
	strata_type type;
	strata_colkind kind;
	bool is_nullable;
	int key_pos; /* position in the primary key, or -1 */
	uint8_t precision, scale; /* DECIMAL(precision, scale); else 0 */
} strata_colinfo;

typedef struct strata_colstr {
	const uint8_t *ptr;
	uint32_t len;
} strata_colstr;

/* One column of a batch: nrows entries of data (int64_t for BIGINT and
 * TIMESTAMP, int32_t for INT and DATE (days since 1970-01-01), double,
 * float, uint8_t 0/1 for BOOLEAN, strata_colstr for STRING and BINARY,
 * strata_i128 for DECIMAL: the unscaled value at the column's scale) and
 * nulls[i] = 1 where the value is null (data[i] is then zero). */
typedef struct strata_colvec {
	strata_type type;
	void *data;
	uint8_t *nulls;
} strata_colvec;

typedef struct strata_colbatch {
	size_t nrows;
	size_t ncols;         /* the cursor's columns, in its order */
	strata_colvec *cols;
} strata_colbatch;

typedef struct strata_colscan strata_colscan;
typedef struct strata_colcursor strata_colcursor;

/* Plan a columnar scan of table in wh (lent until close).  Errors are those
 * of strata_scan_open / strata_changes_open (STRATA_ERETENTION, unknown
 * table, bad partition spec), plus STRATA_EINVAL for a key that is not a
 * JSON object of the key columns. */
int strata_colscan_open(strata_wh *wh, const char *table, const strata_colscan_opts *opts,
			strata_colscan **out, strata_err *err);
void strata_colscan_close(strata_colscan *cs);
/* Output columns (lent until close). */
size_t strata_colscan_ncols(const strata_colscan *cs);
const strata_colinfo *strata_colscan_col(const strata_colscan *cs, size_t i);
/* The version read (changes: v2), the planned buckets, and an upper bound on
 * the rows (records in the planned files; 1 for a single key). */
uint64_t strata_colscan_version(const strata_colscan *cs);
size_t strata_colscan_nbuckets(const strata_colscan *cs);
uint64_t strata_colscan_rows_estimate(const strata_colscan *cs);
/* Buckets read so far without a merge (the fast path: colscan.c) and with
 * one, by all cursors (for tests and benchmarks). */
void strata_colscan_paths(const strata_colscan *cs, uint64_t *fast, uint64_t *merged);
const strata_table_def *strata_colscan_table(const strata_colscan *cs);

/* A cursor over columns cols[0..ncols) (indexes of strata_colscan_col; ncols
 * 0 reads no column, only row counts) in batches of at most max_rows. */
int strata_colcursor_open(strata_colscan *cs, const uint32_t *cols, size_t ncols,
			  size_t max_rows, strata_colcursor **out, strata_err *err);
/* 1 with *batch (nrows >= 1) lent until the next call or close, 0 when no
 * unclaimed bucket is left, or a negative code (a corrupt or missing file is
 * named). */
int strata_colcursor_next(strata_colcursor *c, const strata_colbatch **batch, strata_err *err);
/* The same, with the values of fixed-width column j (every type but STRING,
 * BINARY and DECIMAL) written into into[j] when it is not NULL (an array of
 * max_rows values of the column's type, lent for the call), which the
 * batch's data then points to: an engine's own vectors, saving a copy.
 * into may be NULL. */
int strata_colcursor_next_into(strata_colcursor *c, void *const *into,
			       const strata_colbatch **batch, strata_err *err);
void strata_colcursor_close(strata_colcursor *c);

#endif
