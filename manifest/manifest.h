/*
 * manifest/manifest.h — the contract of the manifest: one LMDB environment
 * per warehouse holding tables, schema versions, partitions, file entries,
 * the version log, idempotency tokens, intents, bucket claims, bucket state,
 * tags and the trash (what cleans took, kept for undelete); leases live in a second, no-sync environment so that taking one
 * never costs a durable write.
 *
 * Every commit is one LMDB write transaction with sync on: when a commit call
 * returns 0 it is durable; when it fails nothing of it is visible — except
 * STRATA_EUNCERTAIN: mdb_txn_commit itself failed, the commit may or may not
 * have happened, and the handle refuses every later call (STRATA_EPOISONED)
 * until it is closed and opened again.  After STRATA_EUNCERTAIN no caller
 * deletes a file the commit may name: a writer retries with its token (a
 * new handle), a job's outputs stay for recovery (its intent) and clean
 * stops.  Write
 * transactions are serialized by LMDB (across processes too); readers never
 * block and see a consistent snapshot.
 *
 * Ownership: entries returned in lists are allocated in a caller-supplied
 * arena.  Thread safety: strata_mf is shared by all threads; a read snapshot
 * (strata_mf_snap) belongs to one thread at a time.
 */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include "core/core.h"
#include "format/format.h"

#include <stdatomic.h>

typedef struct strata_mf strata_mf;

#define STRATA_MAX_PART_COLS 4
#define STRATA_MAX_PART_VALUE 256
#define STRATA_PART_NAME_MAX 1100 /* escaped "a=v/b=w..." */
#define STRATA_FILE_NAME_MAX 64
#define STRATA_TOKEN_MAX 200
/* Idempotency tokens are kept write.token.retain.hours after their commit,
 * whatever happens to their version (clean, purge): 720 h (30 days) by
 * default, from 1 h to 8760 h (a year).  A token commit states its batch
 * time (when the batch was first attempted; the same on every retry), at
 * most STRATA_TOKEN_SKEW_US ahead of the committer's clock; a batch whose
 * token may have been forgotten is refused (see strata_mf_commit_write). */
#define STRATA_TOKEN_RETAIN_HOURS_DEFAULT 720
#define STRATA_TOKEN_RETAIN_HOURS_MAX 8760
#define STRATA_TOKEN_SKEW_US (300ll * 1000000)
#define STRATA_FLOOR_LOG_MAX 256

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct strata_table_def {
	uint32_t id;
	char name[STRATA_NAME_MAX + 1];
	uint64_t version;        /* current table version (1 = created) */
	uint64_t data_version;   /* last write or DDL version */
	uint64_t log_start;      /* oldest version still in the version log */
	uint32_t schema_version;
	uint32_t next_col_id;
	uint32_t next_part_id;
	uint32_t buckets;        /* write.bucket.num, for partitions created next */
	uint32_t retain_hours;   /* acid.data.retain.hours */
	uint32_t nparts;
	char part_cols[STRATA_MAX_PART_COLS][STRATA_NAME_MAX + 1];
	strata_codec avro_codec; /* write.avro.codec */
	int zstd_level;          /* write.parquet.zstd.level */
	uint64_t row_group_bytes;
	uint64_t page_bytes;
	int64_t created_us;
	uint32_t token_retain_hours; /* write.token.retain.hours */
	int64_t token_floor_us;      /* batches older than this are refused: a
					token committed before it may be
					forgotten (0: none forgotten yet) */
	int64_t tokens_pruned_us;    /* last strata_mf_tokens_prune() */
	int64_t part_expire_s;       /* partition.expiration-time (0: off) */
	char part_expire_col[STRATA_NAME_MAX + 1]; /* partition.expiration-column
						      ("": the first partition
						      column) */
	/* writer back-pressure (table/txn.c; 0: off) */
	uint32_t max_l0_files;       /* write.max-level0-files: commits wait */
	uint32_t slow_l0_files;      /* write.slow-level0-files: commits slow */
	uint32_t stall_timeout_s;    /* write.stall-timeout-s: longest wait */
	/* write.inline.max-bytes: a writer's row file of at most this many
	 * bytes is kept in its manifest entry, not written as a file (0: off;
	 * tables from before it: STRATA_INLINE_DEFAULT_BYTES) */
	uint32_t inline_max_bytes;
} strata_table_def;

typedef struct strata_partition {
	uint32_t id;
	uint32_t buckets;
	uint64_t created_version;
	char name[STRATA_PART_NAME_MAX]; /* escaped, "" when unpartitioned */
} strata_partition;

typedef struct strata_file_entry {
	uint64_t id;
	uint32_t table_id, part_id, bucket;
	strata_format format;
	uint8_t level;
	char name[STRATA_FILE_NAME_MAX]; /* inside the bucket directory */
	uint32_t schema_version;
	int64_t seq_min, seq_max;
	uint64_t rows, bytes, tombstones;
	const uint8_t *key_min, *key_max; /* arena memory */
	uint32_t key_min_len, key_max_len;
	uint8_t sketch[STRATA_SKETCH_REGS];
	uint64_t job_id;           /* job that wrote it, 0 for writers */
	uint64_t added_version;
	int64_t added_us;
	uint64_t removed_version;  /* 0 while live */
	int64_t removed_us;
	bool is_compact;           /* every key once and no delete: a major
				      compaction would rewrite it unchanged
				      (false when not known) */
	bool removed_kept_history; /* false: removed by a job that dropped
				      history still inside retention */
	bool is_deleted;           /* clean has taken the file away */
	int64_t deleted_us;
	int64_t trash_until_us;    /* deleted: undelete may bring it back
				      until then (0: never; entries from
				      before undelete) */
	bool is_gone;              /* deleted, and its file is known gone:
				      a tombstone clean kept (forget_deleted)
				      after the file went; no clean looks
				      for the file again (false: not known,
				      entries from before the flag) */
	bool has_content_hash;     /* false: written before content hashes
				      (not known, not checked) */
	uint64_t content_hash;     /* format.h "Content hash" */
	bool has_footer_hash;      /* columnar files */
	uint64_t footer_hash;
	/* An inline row file (write.inline.max-bytes): its bytes live in the
	 * manifest, beside the entry (in their own sub-database, so listing
	 * and planning never carry them), and no file exists anywhere — not
	 * in the bucket directory, not in the data store, not in .trash/.
	 * Everything that touches files passes such an entry by
	 * (strata_file_is_inline); a reader fetches the bytes of the entries
	 * it reads (strata_mf_inline_attach) and opens them
	 * (strata_file_run_mem).  inline_data: NULL until attached, then
	 * arena memory; inline_len is the entry's size. */
	bool is_inline;
	const uint8_t *inline_data;
	uint32_t inline_len;
} strata_file_entry;

/* The largest inline row file an entry may hold (write.inline.max-bytes
 * is at most this): small enough that a commit of 16 of them stays a small
 * manifest transaction. */
#define STRATA_INLINE_MAX_BYTES 65536u
#define STRATA_INLINE_DEFAULT_BYTES 4096u

/* Whether f's bytes live in its entry: no file to open, stat, move,
 * delete or list for it. */
static inline bool strata_file_is_inline(const strata_file_entry *f)
{
	return f->is_inline;
}

/* What strata_run_open() needs to read f's bytes from the manifest: for an
 * inline entry its attached bytes (strata_mf_inline_attach; not attached,
 * the open fails rather than look for a file), for every other entry
 * nothing (its file is read). */
static inline strata_bytes strata_file_run_mem(const strata_file_entry *f)
{
	return f->is_inline ? (strata_bytes){.data = f->inline_data, .len = f->inline_len} :
			      (strata_bytes){0};
}

/* What a reader checks a data file against (format.h strata_run_expect):
 * its row count, key range and, when known, its content hash, compared at
 * the end of a whole read when is_verify_hash.  e lends f's key memory. */
static inline void strata_file_expect(const strata_file_entry *f, bool is_verify_hash,
				      strata_run_expect *e)
{
	*e = (strata_run_expect){
		.rows = f->rows,
		.has_keys = f->rows > 0,
		.key_min = f->key_min,
		.key_min_len = f->key_min_len,
		.key_max = f->key_max,
		.key_max_len = f->key_max_len,
		.has_hash = f->has_content_hash,
		.hash = f->content_hash,
		.has_footer_hash = f->has_footer_hash,
		.footer_hash = f->footer_hash,
		.is_verify_hash = is_verify_hash,
	};
}

/* Live at version v: added at or before v and not removed by then. */
static inline bool strata_file_live_at(const strata_file_entry *f, uint64_t v)
{
	return f->added_version <= v && (f->removed_version == 0 || f->removed_version > v);
}

typedef enum strata_vkind {
	STRATA_V_WRITE = 1,
	STRATA_V_SORT,
	STRATA_V_MERGE,
	STRATA_V_COMPACT,
	STRATA_V_CLEAN,
	STRATA_V_DDL,
	STRATA_V_ROLLBACK, /* a write that restores an older version (and its schema) */
	STRATA_V_DROP,     /* drop-partition: every live file of a partition removed */
} strata_vkind;

const char *strata_vkind_name(strata_vkind k);

typedef struct strata_version_rec {
	uint64_t version;
	int64_t ts_us;
	strata_vkind kind;
	uint32_t schema_version;
	uint32_t nadded, nremoved;
	uint64_t *added, *removed; /* file ids, arena memory */
	char note[160];            /* e.g. "sort p=_ b=3" or "add column c" */
} strata_version_rec;

/* Per bucket: the history floor and how it got there.  For a read at V:
 *   V >= floor          the live files answer (filter _seq <= V);
 *   V <  floor          the files live at L answer, where L = J - 1 for the
 *                       first floor raise (J, b) with b > V, if none of them
 *                       holding a record <= V has been deleted (entries of
 *                       deleted files stay in the manifest as long as a
 *                       floor raise's file set includes them);
 *   V < resolvable_from never: the floor raises below it were trimmed. */
typedef struct strata_bucket_state {
	uint64_t floor;
	uint64_t resolvable_from;
	uint32_t nlog;
	struct {
		uint64_t commit_version; /* J */
		uint64_t boundary;       /* b */
	} log[STRATA_FLOOR_LOG_MAX];
} strata_bucket_state;

typedef struct strata_claim {
	char owner[96];
	uint64_t job_id;
	int64_t expires_us;
} strata_claim;

typedef struct strata_intent {
	uint64_t job_id;
	uint32_t table_id, part_id, bucket;
	int64_t created_us;
	char owner[96];
	uint32_t npaths;
	char **paths; /* arena memory: files the job may create */
} strata_intent;

typedef struct strata_tag {
	char name[STRATA_NAME_MAX + 1];
	uint64_t version;
	int64_t created_us;
} strata_tag;

/* ------------------------------------------------------------------------ */
/* Environment                                                              */
/* ------------------------------------------------------------------------ */

/* Open the manifest of warehouse (a directory).  With create, make the
 * directory layout and the environments if missing (an existing warehouse is
 * fine); without it, a missing warehouse is STRATA_ENOTFOUND with a hint to
 * run `strata init`. */
int strata_mf_open(const char *warehouse, bool create, strata_mf **out, strata_err *err);

/* How a warehouse is opened.  READ: the manifest is never written (LMDB
 * read-only, without its lock file when that may not be written), works on
 * a read-only mount and for a user without write permission; leases are
 * taken when the lease environment can be written, else skipped (said once
 * on stderr).  WRITE: an existing warehouse.  CREATE: make it if missing.
 * Every mode but CREATE fails with STRATA_ENOTFOUND naming
 * manifest/data.mdb when it is missing, and with STRATA_ECORRUPT naming it
 * when it is truncated or its page structure is damaged: LMDB never maps a
 * file it could not safely follow. */
typedef enum strata_mf_mode {
	STRATA_MF_READ,
	STRATA_MF_WRITE,
	STRATA_MF_CREATE,
} strata_mf_mode;
int strata_mf_open_mode(const char *warehouse, strata_mf_mode mode, strata_mf **out,
			strata_err *err);
/* Open a warehouse whose data files live at data_path (an absolute
 * directory or s3://BUCKET/PREFIX): only when creating one.  A catalog
 * (a postgresql:// URI) records it in catalog_meta, a directory warehouse
 * in the file <warehouse>/DATA; NULL: a directory warehouse's data live in
 * its data/.  An existing warehouse with another data path is
 * STRATA_EEXIST.  An s3:// data path registers the S3 data store. */
int strata_mf_open_data(const char *warehouse, strata_mf_mode mode, const char *data_path,
			strata_mf **out, strata_err *err);
/* A warehouse name fit for messages and logs: a directory as given, a
 * catalog URI without its password. */
void strata_warehouse_display(const char *warehouse, char *out, size_t n);
/* Where the data files live: <warehouse>/data, or the catalog's data path. */
const char *strata_mf_data_dir(const strata_mf *mf);
/* Whether the warehouse is a PostgreSQL catalog (a postgresql:// URI). */
bool strata_mf_is_catalog(const strata_mf *mf);
/* Whether mf was opened with STRATA_MF_READ. */
bool strata_mf_is_readonly(const strata_mf *mf);
/* Walk the whole page structure of manifest/data.mdb (every page reachable
 * from the current meta, with pread, never through the map) under a read
 * transaction: 0, or STRATA_ECORRUPT with a message naming the file and the
 * damage. */
int strata_mf_verify(strata_mf *mf, strata_err *err);

/* The consistency check (manifest/check.c): the page structure, then for
 * table (NULL: every table) its record, partitions, bucket states and
 * entries (do they decode and add up), its version log (dense from
 * log_start, each record naming the files its entries say it added or
 * removed) and the files on disk (every live or retained entry's file
 * present).  fn (may be NULL) gets one line a finding; table is NULL for
 * the warehouse as a whole.  Returns 0 when nothing was found,
 * STRATA_ECORRUPT with a summary naming the first finding otherwise,
 * STRATA_ENOTFOUND for an unknown table, or an I/O error.  Only reads. */
typedef void (*strata_mf_finding_fn)(void *arg, const char *table, const char *msg);
int strata_mf_check(strata_mf *mf, const char *table, strata_mf_finding_fn fn, void *arg,
		    size_t *nfindings, strata_err *err);
/* Test seam: when set, strata_mf_open() calls it after opening the LMDB
 * environments and before its first transaction (a test grows the map from
 * another process there).  NULL outside tests. */
extern void (*strata_mf_open_hook)(const char *warehouse);
/* Test seam: how many times this process read one bucket's entries whole
 * (strata_mf_bucket_files and the commit paths' own reads).  A test
 * counts the reads a call makes; nothing else looks at it. */
extern atomic_ullong strata_mf_bucket_reads;
void strata_mf_close(strata_mf *mf);
const char *strata_mf_warehouse(const strata_mf *mf);
/* Current map size and bytes in use (for status and metrics). */
void strata_mf_usage(strata_mf *mf, uint64_t *map_bytes, uint64_t *used_bytes);

/* ------------------------------------------------------------------------ */
/* Read snapshots                                                           */
/* ------------------------------------------------------------------------ */

/* A consistent read-only view of the whole manifest. */
typedef struct strata_mf_snap strata_mf_snap;
int strata_mf_snap_open(strata_mf *mf, strata_mf_snap **out, strata_err *err);
void strata_mf_snap_close(strata_mf_snap *s);

/* Table by name; STRATA_ENOTFOUND ("unknown table \"x\"") if absent. */
int strata_mf_table_get(strata_mf_snap *s, const char *name, strata_table_def *out,
			strata_err *err);
/* All tables, in name order (arena memory). */
int strata_mf_tables_list(strata_mf_snap *s, strata_arena *a, strata_table_def **out,
			  size_t *n, strata_err *err);
/* Schema in force at table version v (caller frees). */
int strata_mf_schema_at(strata_mf_snap *s, const strata_table_def *t, uint64_t v,
			strata_schema **out, strata_err *err);
/* Schema by schema version (caller frees). */
int strata_mf_schema_get(strata_mf_snap *s, uint32_t table_id, uint32_t schema_version,
			 strata_schema **out, strata_err *err);
/* Every schema version of a table in version order, with the table version
 * each took effect at (since[i]).  Schemas: caller frees each and the
 * arrays (plain malloc). */
int strata_mf_schemas_list(strata_mf_snap *s, uint32_t table_id, strata_schema ***out,
			   uint64_t **since, size_t *n, strata_err *err);
/* Partitions of a table in id order (arena memory). */
int strata_mf_partitions(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			 strata_partition **out, size_t *n, strata_err *err);
/* Partition by escaped name; STRATA_ENOTFOUND if absent. */
int strata_mf_partition_get(strata_mf_snap *s, uint32_t table_id, const char *name,
			    strata_partition *out, strata_err *err);
/* Every entry of one bucket (live, removed, deleted), in file-id order. */
int strata_mf_bucket_files(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			   uint32_t bucket, strata_arena *a, strata_file_entry **out,
			   size_t *n, strata_err *err);
/* Every entry of a table. */
int strata_mf_table_files(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			  strata_file_entry **out, size_t *n, strata_err *err);

/* A file entry without its name, schema version, key range, job and
 * hashes: what planning and the whole-table summaries read of every entry
 * (strata_mf_table_visit()).  Decoding one copies nothing: sketch lends the
 * entry's registers from the snapshot.  Every field has the meaning of
 * strata_file_entry's field of the same name. */
typedef struct strata_file_brief {
	uint64_t id;
	uint32_t part_id, bucket;
	strata_format format;
	uint8_t level;
	int64_t seq_min, seq_max;
	uint64_t rows, bytes, tombstones;
	const uint8_t *sketch;     /* STRATA_SKETCH_REGS registers, lent until
				      the snapshot closes */
	uint64_t added_version;
	int64_t added_us;
	uint64_t removed_version;  /* 0 while live */
	int64_t removed_us;
	bool is_compact;
	bool removed_kept_history;
	bool is_deleted;
	bool is_gone;
	bool is_inline;            /* no file: strata_file_entry.is_inline */
	int64_t deleted_us;
	int64_t trash_until_us;
	const void *rec;           /* the entry's record, lent until the snapshot
				      closes: strata_mf_brief_entry() */
	size_t rec_len;
} strata_file_brief;

/* The whole entry of brief b, decoded from its record (the snapshot that
 * visited it still open): keys copied into arena a, or lent from the
 * snapshot when a is NULL.  For a visit that wants some entries whole (the
 * live ones of a listing): the others cost no more than their brief.
 * STRATA_ECORRUPT if the record is damaged (never for a brief a visit
 * gave: both decoders check the same). */
int strata_mf_brief_entry(const strata_file_brief *b, strata_arena *a, strata_file_entry *out);

/* Fetch the bytes of every inline entry of fs[0..n) that has none yet
 * into arena a (one read each, in the snapshot that listed them: an
 * entry's bytes are written and forgotten in the same commits as the
 * entry).  Readers call it for the entries they will open, never for a
 * whole table's history.  STRATA_ECORRUPT naming the entry when its bytes
 * are missing or not its size. */
int strata_mf_inline_attach(strata_mf_snap *s, strata_file_entry *fs, size_t n, strata_arena *a,
			    strata_err *err);

/* Called once per entry by the visits below: b is lent until it returns
 * (b->sketch until the snapshot closes).  0 goes on; anything else stops
 * the visit, which returns it. */
typedef int (*strata_mf_brief_fn)(void *arg, const strata_file_brief *b);

/* Visit every entry of a table (live, removed, deleted) as a brief, in key
 * order: by partition id, then bucket, then file id, so each bucket's
 * entries come together, partitions and buckets ascending.  Allocates
 * nothing: what fn keeps it copies.  Costs a few field reads per entry
 * where strata_mf_table_files() decodes, copies and sorts whole entries
 * (a busy table holds thousands of removed entries a live one: clean.grace_s
 * and clean.trash_s keep them; docs/BENCHMARKS.md, "Planning a table of
 * tombstones").  Errors: fn's return; STRATA_ECORRUPT naming the table and
 * the file id of a damaged entry; the backend's read errors. */
int strata_mf_table_visit(strata_mf_snap *s, uint32_t table_id, strata_mf_brief_fn fn,
			  void *arg, strata_err *err);
/* The same for the entries of one bucket, in file-id order. */
int strata_mf_bucket_visit(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			   uint32_t bucket, strata_mf_brief_fn fn, void *arg, strata_err *err);
int strata_mf_bucket_state_get(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			       uint32_t bucket, strata_bucket_state *out, strata_err *err);
/* Version record v; STRATA_ENOTFOUND if expired or never committed. */
int strata_mf_version_get(strata_mf_snap *s, uint32_t table_id, uint64_t v,
			  strata_arena *a, strata_version_rec *out, strata_err *err);
/* Last version committed at or before ts_us; STRATA_ENOTFOUND if none is
 * left in the log. */
int strata_mf_version_at_time(strata_mf_snap *s, uint32_t table_id, int64_t ts_us,
			      uint64_t *out, strata_err *err);
/* The retention boundary of table t in snapshot s (manifest/retention.c is
 * the one place it is computed): DESIGN.md's "last version committed at or
 * before now - retain_hours", tags pinning.  retain_hours < 0: t's own
 * property (t must come from s).  Version records and tags go into arena a.
 * Returns 0 (a table with no version that old has boundary 0), or an error
 * reading the manifest (*out zeroed). */
typedef struct strata_retention {
	int64_t retain_hours;    /* the hours used */
	uint64_t boundary;       /* B: last version at or before now - hours; the
				    current version when hours is 0; 0: none
				    that old left in the log */
	int64_t next_us;         /* when B moves next: commit time of B + 1 plus
				    the hours (0: B is the current version or
				    hours is 0) */
	uint64_t oldest_tag;     /* 0: no tags */
	uint64_t pinned;         /* min(B, oldest tag): what a job that drops
				    history may use */
	int64_t pinned_ts_us;    /* commit time of pinned (0: none, or expired) */
	int64_t pinned_next_us;  /* when pinned moves next (0: never by time
				    alone, e.g. a tag holds it) */
} strata_retention;
int strata_mf_retention(strata_mf_snap *s, const strata_table_def *t, int64_t retain_hours,
			int64_t now_us, strata_arena *a, strata_retention *out, strata_err *err);
/* Version records from v_from (inclusive), ascending, at most max. */
int strata_mf_versions_list(strata_mf_snap *s, uint32_t table_id, uint64_t v_from,
			    size_t max, strata_arena *a, strata_version_rec **out,
			    size_t *n, strata_err *err);
int strata_mf_tags_list(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			strata_tag **out, size_t *n, strata_err *err);
int strata_mf_tag_get(strata_mf_snap *s, uint32_t table_id, const char *tag,
		      strata_tag *out, strata_err *err);
int strata_mf_intents_list(strata_mf_snap *s, strata_arena *a, strata_intent **out,
			   size_t *n, strata_err *err);
int strata_mf_claim_get(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			uint32_t bucket, strata_claim *out, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Resolving what a read at version V needs                                */
/* ------------------------------------------------------------------------ */

/* Which version's file set answers a read at v in this bucket: *l = the
 * latest version when v >= floor, else J-1 of the first floor raise above v.
 * Fails with STRATA_ERETENTION if that file set is no longer complete for v
 * (a file holding records <= v was deleted) or v < resolvable_from.  is_tag
 * is accepted for symmetry; tagged sets are never incomplete. */
int strata_mf_resolve(const strata_bucket_state *bs, const strata_file_entry *files,
		      size_t nfiles, uint64_t latest, uint64_t v, bool is_tag, uint64_t *l);

/* The oldest version readable in this bucket (every version from it up to
 * latest resolves), and the oldest V1 an incremental read may start from. */
uint64_t strata_mf_earliest_readable(const strata_bucket_state *bs,
				     const strata_file_entry *files, size_t nfiles,
				     uint64_t latest);
uint64_t strata_mf_earliest_incremental(const strata_bucket_state *bs);

/* ------------------------------------------------------------------------ */
/* Commits                                                                  */
/* ------------------------------------------------------------------------ */

/* Create a table at version 1 (kind ddl).  def->name, buckets, retain_hours,
 * part cols and write properties are taken; ids, versions and created_us are
 * assigned and written back into *def.  STRATA_EEXIST if the name is taken. */
int strata_mf_table_create(strata_mf *mf, strata_table_def *def, const strata_schema *schema,
			   strata_err *err);

/* A new file for a commit: where it lives and what it holds. */
typedef struct strata_mf_new_file {
	const char *partition; /* escaped name, "" when unpartitioned */
	uint32_t part_buckets; /* bucket count the writer routed with */
	uint32_t bucket;
	strata_format format;
	uint8_t level;
	const char *name;
	uint32_t schema_version;
	const strata_file_stats *stats;
	uint64_t *id_out;      /* if not NULL, receives the assigned file id */
	/* data not NULL: an inline row file, these are its bytes (copied into
	 * the entry; no file was written); Avro, level 0 only */
	strata_bytes inline_file;
} strata_mf_new_file;

typedef struct strata_mf_write {
	const char *table;
	uint64_t expect_version; /* 0: none; else fail with STRATA_ECONFLICT if a
				    write or DDL committed after it */
	const char *token;       /* NULL: none; never "" (STRATA_EINVAL) */
	int64_t token_us;        /* with a token, required: the batch's time
				    (µs), the same on every retry of it */
	uint32_t schema_version; /* the files' schema: must still be current */
	const strata_mf_new_file *files;
	size_t nfiles;
	/* Rollback (table/lifecycle.c): when not NULL, the commit is of kind
	 * rollback: it records this schema as schema version
	 * schema_version + 1 (new_schema->version must be that) in the same
	 * transaction, the files are written with it, and it commits even
	 * with no file.  note (may be NULL) goes to the version log. */
	const strata_schema *new_schema;
	const char *note;
} strata_mf_write;

/* Commit a writer transaction atomically: check the expected version, the
 * token (a repeat returns the first version with *is_repeat set and commits
 * nothing), the schema version and each partition's bucket count; create
 * partitions on first use; assign the next version; add the entries (their
 * _seq range is set to the version).  *version receives the version.  A
 * write of no files commits nothing: *version is the current version (or the
 * first one, for a repeated token).
 *
 * Tokens: an empty token, or one without token_us, is STRATA_EINVAL; a
 * token_us more than STRATA_TOKEN_SKEW_US ahead of now is STRATA_EINVAL.  A
 * token not found whose batch is older than the table's token horizon —
 * token_us < max(token_floor_us, now - write.token.retain.hours +
 * STRATA_TOKEN_SKEW_US) — is STRATA_ERETENTION and nothing is committed:
 * the token may have been committed and forgotten, so committing again
 * could apply the batch twice.  Why this is exact: a token is forgotten
 * only when its commit time C < prune time - retain hours, and its batch
 * time B <= C + skew (checked at that commit), so B lies below the bound
 * that prune raised token_floor_us to. */
int strata_mf_commit_write(strata_mf *mf, const strata_mf_write *w, uint64_t *version,
			   bool *is_repeat, strata_err *err);

/* Drop a partition (escaped name) of a table in one commit of kind drop:
 * every live file of its buckets is removed (removed_kept_history false, so
 * clean keeps it until the versions it serves leave retention), and each
 * bucket's history floor rises to the new version, so that reads at older
 * versions resolve to the files live before the drop and an incremental
 * read starting before it fails with STRATA_ERETENTION (as after a major
 * compaction).  The partition record stays; a later write recreates data
 * in it.  STRATA_ENOTFOUND for an unknown table or partition, STRATA_EINVAL
 * when the partition holds no live file (already dropped or empty).
 * *version receives the new version, *nfiles (may be NULL) how many files
 * were removed.  Jobs in flight on the partition conflict (their inputs are
 * gone). */
int strata_mf_drop_partition(strata_mf *mf, const char *table, const char *partition,
			     uint64_t *version, size_t *nfiles, strata_err *err);

/* Schema change (add/drop column): checks the table is at schema_version
 * `expect` and records `schema` (its version must be expect + 1). */
int strata_mf_commit_ddl(strata_mf *mf, const char *table, uint32_t expect,
			 const strata_schema *schema, const char *note, uint64_t *version,
			 strata_err *err);

/* Change table properties (write.bucket.num, retention, write options) to
 * those of def; with expect, only if the current ones still equal expect's
 * (else STRATA_ECONFLICT), so read-modify-write callers lose no update. */
int strata_mf_table_set_props(strata_mf *mf, const strata_table_def *expect,
			      const strata_table_def *def, strata_err *err);

typedef struct strata_mf_job {
	uint32_t table_id;
	uint32_t part_id, bucket;
	strata_vkind kind;            /* SORT, MERGE or COMPACT */
	uint32_t schema_version;      /* must be unchanged */
	const uint64_t *inputs;       /* must all still be live */
	size_t ninputs;
	const strata_mf_new_file *outputs;
	size_t noutputs;
	bool drops_retained_history;  /* major compaction: inputs wait for
					 retention before clean may delete them */
	uint64_t new_floor;           /* raise the bucket's floor to this (0: no) */
	uint64_t job_id;              /* its intent must still exist (else
					 STRATA_ECONFLICT: recovery took it);
					 intent and claim are released */
	const char *note;
} strata_mf_job;

/* Commit a job: STRATA_ECONFLICT (nothing done) if an input is no longer
 * live or the schema changed.  *version receives the new version. */
int strata_mf_commit_job(strata_mf *mf, const strata_mf_job *job, uint64_t *version,
			 strata_err *err);

/* Clean, phase 1: mark entries deleted in one commit (kind clean).  Each id
 * must be removed and not yet deleted (others are skipped and counted in
 * *skipped).  Bumps bucket states; *version is 0 if nothing changed. */
int strata_mf_commit_clean(strata_mf *mf, uint32_t table_id, const uint64_t *ids, size_t n,
			   uint64_t *version, size_t *skipped, strata_err *err);
/* The trash of the manifest (manifest/commit.c, "The trash of the
 * manifest"): what a clean took, kept clean.trash_s after it for `strata
 * undelete`.  A kept clean is keyed by its clean version: the version of
 * its marking commit, or — for a clean that marked nothing and only
 * expired version records — the table's version when it expired them
 * (two such cleans at one table version share one). */
typedef struct strata_trash_unit {
	uint64_t clean_version;
	int64_t created_us;
	int64_t expires_us;   /* the trash window ends (kept while now < it) */
	uint32_t nids;
	uint64_t *ids;        /* entries it marked deleted (arena memory) */
	uint64_t log_from;    /* it raised log_start from log_from to log_to */
	uint64_t log_to;      /* (both 0: it expired nothing) */
	uint32_t nversions;   /* version records kept (tagged ones stayed) */
} strata_trash_unit;

/* The end of u's trash window when clean.trash_s is now trash_us: the end
 * it was kept with, or created_us + trash_us when that is later (a window
 * raised since the clean keeps it longer, as it keeps its files). */
static inline int64_t strata_trash_unit_end(const strata_trash_unit *u, int64_t trash_us)
{
	int64_t end = u->created_us + (trash_us > 0 ? trash_us : 0);
	return end > u->expires_us ? end : u->expires_us;
}

/* strata_mf_commit_clean() that also keeps the clean in the trash for
 * trash_us (> 0; 0: keep nothing): the marked entries get trash_until_us
 * = their deleted_us + trash_us, and the kept clean records their ids. */
int strata_mf_commit_clean_kept(strata_mf *mf, uint32_t table_id, const uint64_t *ids,
				size_t n, int64_t trash_us, uint64_t *version, size_t *skipped,
				strata_err *err);
/* strata_mf_expire_versions() that moves the expired records into the
 * trash instead of dropping them: into the kept clean clean_version (0:
 * the table's current version), created if missing, its window extended
 * to now + trash_us (> 0; 0: keep nothing). */
int strata_mf_expire_versions_kept(strata_mf *mf, uint32_t table_id, uint64_t below,
				   uint64_t clean_version, int64_t trash_us, size_t *expired,
				   strata_err *err);
/* The kept cleans of a table, ascending by clean version (arena memory),
 * whatever their window (a clean drops the ones past it). */
int strata_mf_trash_list(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			 strata_trash_unit **out, size_t *n, strata_err *err);
/* Drop the kept cleans whose window has passed (strata_trash_unit_end()
 * with trash_us; is_all: every one, for purge) with their kept records, in
 * one commit (none when there is nothing to drop).  *dropped (may be NULL)
 * receives how many. */
int strata_mf_trash_drop(strata_mf *mf, uint32_t table_id, bool is_all, int64_t trash_us,
			 size_t *dropped, strata_err *err);
/* Undelete: revert the kept cleans clean_versions[0..n) of a table in one
 * commit, newest first: their version records go back into the log (and
 * log_start down to the oldest of them), the entries they marked become
 * removed-not-deleted again, and the kept cleans are dropped.  The caller
 * has put every file back first (invariant 1 of clean/clean.c, in
 * reverse).  Refused, nothing changed: STRATA_ENOTFOUND for a clean not
 * (or no longer) kept, STRATA_ERETENTION for one past its window
 * (strata_trash_unit_end() with trash_us), STRATA_ECONFLICT when a later
 * clean expired the versions right after the ones it kept (it must be
 * reverted too) or an entry is gone from the manifest or no longer marked
 * deleted.  *nfiles and *nversions (may be NULL) receive what came back. */
int strata_mf_undelete(strata_mf *mf, uint32_t table_id, const uint64_t *clean_versions,
		       size_t n, int64_t trash_us, size_t *nfiles, size_t *nversions,
		       strata_err *err);
/* Clean, last phase: forget deleted entries whose files are gone (the
 * caller has seen or made them gone), except those still part of a floor
 * raise's file set (they keep telling reads that the set has a hole): those
 * are kept with is_gone set, in the same commit, so later cleans need not
 * ask the store about them again.  No new version. */
int strata_mf_forget_deleted(strata_mf *mf, uint32_t table_id, const uint64_t *ids, size_t n,
			     strata_err *err);
/* Forget the idempotency tokens of a table committed more than
 * write.token.retain.hours ago, and raise its token_floor_us to that bound
 * plus STRATA_TOKEN_SKEW_US (see strata_mf_commit_write).  Scans the
 * table's tokens at most once an hour (commits nothing otherwise).
 * *pruned (if not NULL) receives how many were forgotten. */
int strata_mf_tokens_prune(strata_mf *mf, uint32_t table_id, size_t *pruned, strata_err *err);
/* Drop version records below `below` (never tagged ones); updates log_start.
 * Tokens outlive their version records (strata_mf_tokens_prune forgets
 * them). */
int strata_mf_expire_versions(strata_mf *mf, uint32_t table_id, uint64_t below,
			      size_t *expired, strata_err *err);

/* Claims: one job per bucket.  Take (or extend) the claim for job_id:
 * STRATA_EBUSY if another unexpired claim exists (its owner is in the
 * message); the claim of a dead process of this host is taken over. */
int strata_mf_claim(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		    const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err);
/* Extend a claim job_id still holds; STRATA_ECONFLICT if it lost it (taken
 * over, or its intent recovered as crashed) — a lost claim is never taken
 * back by its job. */
int strata_mf_claim_renew(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
			  const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err);
/* Allocate a job id and claim the bucket for it in one transaction. */
int strata_mf_claim_new(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
			const char *owner, int64_t ttl_us, uint64_t *job_id, strata_err *err);
int strata_mf_claim_release(strata_mf *mf, uint32_t table_id, uint32_t part_id,
			    uint32_t bucket, uint64_t job_id, strata_err *err);

/* Intents: a job's output paths recorded durably before it writes them. */
int strata_mf_job_id_next(strata_mf *mf, uint64_t *job_id, strata_err *err);
int strata_mf_intent_put(strata_mf *mf, const strata_intent *in, strata_err *err);
int strata_mf_intent_del(strata_mf *mf, uint64_t job_id, strata_err *err);
/* Recovery of a crashed job, first step: in one transaction, if the intent
 * of job_id exists and the job is not alive — its claim is gone, expired or
 * another job's, or its owner is a dead process of this host — release its
 * claim, so it can never commit (a job commits and renews only while it
 * holds its claim), and set *is_abandoned.  The intent stays until the
 * caller has removed the files under its paths and called
 * strata_mf_intent_del(), so a crash in between is recovered again. */
int strata_mf_intent_abandon(strata_mf *mf, uint64_t job_id, bool *is_abandoned,
			     strata_err *err);

/* Tags pin a version beyond retention.  Put fails with STRATA_ERETENTION if
 * the version is no longer readable, STRATA_EEXIST if the tag exists. */
int strata_mf_tag_put(strata_mf *mf, const char *table, const char *tag, uint64_t version,
		      strata_err *err);
int strata_mf_tag_del(strata_mf *mf, const char *table, const char *tag, strata_err *err);

/* Test hook, NULL unless a crash test sets it: called by the committing
 * thread just before each durable manifest commit (is_after false, rc 0) and
 * just after it returns (is_after true, LMDB's result), so a test can kill
 * the process inside mdb_txn_commit.  Never set it in production code. */
extern void (*strata_mf_commit_hook)(bool is_after, int rc);
/* Test seam, NULL unless a test sets it: called just before each durable
 * manifest commit (is_after false) and just after one LMDB committed (is_after
 * true).  A non-zero return (an errno value such as EIO) makes the commit
 * fail with it: before, LMDB never commits; after, it has committed.  Either
 * way the caller sees STRATA_EUNCERTAIN and the handle breaks. */
extern int (*strata_mf_commit_fault)(bool is_after);
/* Whether a failed commit (or a failed remap) closed this handle: every
 * call on it fails with STRATA_EPOISONED until it is reopened. */
bool strata_mf_is_broken(strata_mf *mf);

/* ------------------------------------------------------------------------ */
/* Leases (no-sync environment)                                             */
/* ------------------------------------------------------------------------ */

/* A lease at this version pins every file of its table: readers take one
 * before they open the snapshot they plan in and trade it for leases on the
 * versions they resolved, so clean can never delete a file between a
 * reader's planning and its lease. */
#define STRATA_LEASE_ALL UINT64_MAX

/* Whether a lease at version l may need file f. */
static inline bool strata_lease_covers(uint64_t l, const strata_file_entry *f)
{
	return l == STRATA_LEASE_ALL || strata_file_live_at(f, l);
}

typedef struct strata_lease {
	uint64_t id;
	uint32_t table_id;
	uint64_t version; /* the version whose file set the reader resolved, or
			     STRATA_LEASE_ALL while it plans */
	int64_t expires_us;
	int32_t pid;      /* the holder: process, host name and boot id */
	char host[64];
	char boot_id[40];
} strata_lease;

/* Take a lease; *lease_id 0 means none could be written (read-only handle,
 * full file system): the read goes on under clean.grace_s alone and the
 * first such lease of a handle says so on stderr (one warning line). */
int strata_mf_lease_take(strata_mf *mf, uint32_t table_id, uint64_t version, int64_t ttl_us,
			 uint64_t *lease_id, strata_err *err);
/* Whether the lease's holder is gone: a process of this host that no longer
 * exists, or one from before this host's last boot.  Such leases are left
 * out of strata_mf_leases_list() (clean and the horizon ignore them). */
bool strata_lease_is_dead(const strata_lease *l);
void strata_mf_lease_release(strata_mf *mf, uint64_t lease_id);
/* Unexpired leases of a table whose holder is not dead (arena memory). */
int strata_mf_leases_list(strata_mf *mf, uint32_t table_id, strata_arena *a,
			  strata_lease **out, size_t *n, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Daemons (the lease store: heartbeats are not durable)                     */
/* ------------------------------------------------------------------------ */

/* One stratad of the warehouse, by its owner name (the claims' owner). */
typedef struct strata_daemon_rec {
	char owner[128];
	char host[64];
	int32_t pid;
	int64_t started_us;
	int64_t beat_us;    /* its last heartbeat, by the store's clock */
	int64_t expires_us; /* beat_us + its ttl: gone after */
	char info[128];     /* free text (e.g. its share) */
} strata_daemon_rec;

/* Record self's heartbeat, alive until ttl_us after now by the store's
 * clock (the catalog's on PostgreSQL); *now_us (may be NULL) receives that
 * now.  STRATA_EINVAL on a read-only handle. */
int strata_mf_daemon_beat(strata_mf *mf, const strata_daemon_rec *self, int64_t ttl_us,
			  int64_t *now_us, strata_err *err);
/* Remove owner's heartbeat (a daemon that stops hands its share on at
 * once). */
int strata_mf_daemon_leave(strata_mf *mf, const char *owner, strata_err *err);
/* The live daemons (unexpired heartbeats), in owner order (arena memory). */
int strata_mf_daemons_list(strata_mf *mf, strata_arena *a, strata_daemon_rec **out,
			   size_t *n, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* Escape partition values into the canonical partition name
 * "c1=v1/c2=v2" (bytes outside [A-Za-z0-9._-] as %XX).  Values longer than
 * STRATA_MAX_PART_VALUE, or whose "c=escaped" directory name exceeds
 * NAME_MAX (255) bytes, are STRATA_EINVAL. */
int strata_partition_name(const strata_table_def *t, const char *const *values,
			  char *out, size_t n, strata_err *err);
/* Split an escaped partition name back into values (arena memory). */
int strata_partition_values(const strata_table_def *t, const char *name, strata_arena *a,
			    char **values, strata_err *err);
/* Directory of a bucket: <warehouse>/data/<table>/<partition or "_">/b<NNNN>. */
void strata_bucket_dir(const strata_mf *mf, const char *table, const char *partition,
		       uint32_t bucket, char *out, size_t n);
/* Full path of a file entry's file. */
void strata_file_path(const strata_mf *mf, const char *table, const char *partition,
		      const strata_file_entry *f, char *out, size_t n);
/* <warehouse>/data/<table>/.trash */
void strata_trash_dir(const strata_mf *mf, const char *table, char *out, size_t n);

#endif
