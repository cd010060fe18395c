/*
 * manifest/manifest_int.h — shared by the files of manifest/ only: the
 * environment handle, the sub-database handles, key builders and the binary
 * record codec.
 *
 * Keys are big-endian so LMDB's memcmp order is numeric order; records are a
 * versioned sequence of fixed-width integers and length-prefixed byte
 * strings.  Decoding checks every length against the value size: a damaged
 * record is STRATA_ECORRUPT, never a read past the value.
 */
#ifndef STRATA_MANIFEST_INT_H
#define STRATA_MANIFEST_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "manifest/manifest.h"

enum mf_db {
	DB_META,
	DB_TABLES,     /* name -> table record */
	DB_TABLE_IDS,  /* u32 id -> name */
	DB_SCHEMAS,    /* [table][schema ver] -> {since version, json} */
	DB_PARTS,      /* [table][part id] -> partition record */
	DB_PARTNAMES,  /* [table][escaped name] -> part id */
	DB_FILES,      /* [table][part][bucket][file id] -> file entry */
	DB_FILEIDS,    /* [file id] -> [table][part][bucket] */
	DB_VERSIONS,   /* [table][version] -> version record */
	DB_VTIMES,     /* [table][ts] -> version */
	DB_TOKENS,     /* [table][token] -> version */
	DB_BUCKETS,    /* [table][part][bucket] -> bucket state */
	DB_CLAIMS,     /* [table][part][bucket] -> claim */
	DB_INTENTS,    /* [job id] -> intent */
	DB_TAGS,       /* [table][tag] -> tag */
	DB_TRASH,      /* what cleans took, kept for undelete (commit.c,
			  "The trash of the manifest"): [table][0][clean
			  version] -> kept clean; [table][1][clean version]
			  [version] -> an expired version record */
	DB_INLINE,     /* [file id] -> the bytes of an inline row file (its
			  entry says is_inline); put with the entry, deleted
			  when it is forgotten.  Keyed by the id alone (ids
			  are global and grow): a commit's bytes fill the
			  last pages instead of dirtying one page per bucket */
	DB_COUNT,
	/* the lease store (MF_TX_LEASE transactions only): not durable */
	DB_LEASES = DB_COUNT, /* [lease id] -> lease; "\0" -> the id counter */
	DB_DAEMONS,           /* [owner] -> daemon heartbeat */
	DB_ALL
};

/* The sub-database names: LMDB's database names, PostgreSQL's table names
 * in schema strata. */
extern const char *const mf_db_names[DB_ALL];

/* ---- the backend seam ---------------------------------------------------------- */

/* Everything in manifest/ above this seam (commit.c, env.c's reads,
 * lease.c, check.c) runs on transactions over the sub-databases of enum
 * mf_db, with LMDB's semantics: keys are byte strings in memcmp order,
 * a write transaction sees its own writes and commits all or nothing, a
 * read transaction is one consistent snapshot.  Two backends implement it:
 *   MF_LMDB  manifest/lmdb.c: the embedded environment of a directory
 *            warehouse (write transactions serialized by LMDB);
 *   MF_PG    manifest/pg_kv.c: a PostgreSQL catalog named by a URI (write
 *            transactions SERIALIZABLE, retried whole on a serialization
 *            failure; snapshots REPEATABLE READ READ ONLY).
 * Values returned by mf_get() and mf_cur_get() are lent until the
 * transaction ends.  Return codes of the primitives: 0, MDB_NOTFOUND, or
 * an error for mf_kv_err() (an LMDB code, or MF_RC_PG: the PostgreSQL
 * error of this thread, mf_pg_last_err()). */
typedef enum mf_backend_kind {
	MF_LMDB,
	MF_PG,
} mf_backend_kind;

typedef enum mf_tx_kind {
	MF_TX_READ,  /* a snapshot */
	MF_TX_WRITE, /* a durable commit */
	MF_TX_LEASE, /* read-write on DB_LEASES and DB_DAEMONS only, not durable */
} mf_tx_kind;

struct mf_pg_pool;
struct mf_pg_tx;

typedef struct mf_tx {
	strata_mf *mf;
	mf_tx_kind kind;
	MDB_txn *lmdb;        /* MF_LMDB */
	struct mf_pg_tx *pg;  /* MF_PG */
} mf_tx;

typedef struct mf_cur mf_cur;

/* A PostgreSQL error of this thread (MF_RC_PG): its strata code and message. */
#define MF_RC_PG (-30400)

int mf_get(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val);
int mf_put(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val);
/* MDB_NOTFOUND when there was no such key. */
int mf_del(mf_tx *tx, enum mf_db db, MDB_val *key);
int mf_cur_open(mf_tx *tx, enum mf_db db, mf_cur **out);
/* op: MDB_FIRST, MDB_LAST, MDB_NEXT, MDB_PREV, MDB_SET_RANGE (key in: the
 * first key >= it).  key and val receive the record (lent). */
int mf_cur_get(mf_cur *c, MDB_val *key, MDB_val *val, MDB_cursor_op op);
/* Delete the record the cursor is on. */
int mf_cur_del(mf_cur *c);
void mf_cur_close(mf_cur *c);
/* The time of this transaction's decisions that more than one host must
 * agree on (claim expiry, lease expiry, daemon heartbeats, version
 * timestamps): the catalog's clock for MF_PG (unless a test installed its
 * own clock), this host's for MF_LMDB; never goes backwards within a
 * transaction. */
int64_t mf_tx_now(mf_tx *tx);
/* Read (MF_TX_READ) and lease (MF_TX_LEASE) transactions; write
 * transactions run through mf_write().  mf_tx_commit() and mf_tx_abort()
 * end and free the transaction. */
int mf_tx_begin(strata_mf *mf, mf_tx_kind kind, mf_tx **out, strata_err *err);
int mf_tx_commit(mf_tx *tx, strata_err *err);
void mf_tx_abort(mf_tx *tx);

/* The LMDB backend (manifest/lmdb.c), called through the seam only. */
int mf_lmdb_open(strata_mf *mf, strata_mf_mode mode, strata_err *err);
void mf_lmdb_close(strata_mf *mf);
int mf_lmdb_verify(strata_mf *mf, strata_err *err);
void mf_lmdb_usage(strata_mf *mf, uint64_t *map_bytes, uint64_t *used_bytes);
int mf_lmdb_tx_begin(strata_mf *mf, mf_tx_kind kind, mf_tx **out, strata_err *err);
int mf_lmdb_tx_commit(mf_tx *tx, strata_err *err);
void mf_lmdb_tx_abort(mf_tx *tx);
int mf_lmdb_get(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val);
int mf_lmdb_put(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val);
int mf_lmdb_del(mf_tx *tx, enum mf_db db, MDB_val *key);
int mf_lmdb_cur_open(mf_tx *tx, enum mf_db db, MDB_cursor **out);


struct strata_mf {
	char *warehouse;
	char *data_dir;              /* where data files live: <warehouse>/data,
					or the catalog's data_path */
	mf_backend_kind backend;
	struct mf_pg_pool *pg;       /* MF_PG */
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	MDB_env *lease_env;
	MDB_dbi lease_dbi;
	MDB_dbi daemon_dbi;
	/* Growing the map needs no transaction active in this process: every
	 * transaction holds this lock shared, a grow takes it exclusive. */
	pthread_rwlock_t grow_lock;
	uint64_t map_bytes;
	/* A grow whose remap failed leaves LMDB with no map at all, and a
	 * commit that failed inside mdb_txn_commit has an uncertain outcome:
	 * from then on every transaction is refused with this message (set
	 * once, under grow_lock held shared or exclusively; the message is
	 * written before the flag). */
	atomic_bool is_broken;
	char broken_msg[400];
	/* opened with STRATA_MF_READ: no write transaction on env (env.c
	 * invariant 8) */
	bool is_readonly;
	/* lease_env NULL: why leases are off (read-only or full storage); the
	 * first lease refused says so once on stderr (lease_said) */
	char lease_off_reason[300];
	bool lease_said;
	/* LMDB, read-only: a sub-database newer than the manifest (DB_TRASH,
	 * DB_INLINE) is absent (a read-only handle cannot create it): read as
	 * empty */
	bool is_absent[DB_COUNT];
};

struct strata_mf_snap {
	strata_mf *mf;
	mf_tx *txn;
};

/* The map's ceiling: 1 TiB, or $STRATA_MF_MAP_MAX_BYTES (at least 1 MiB),
 * read at every grow. */
#define MF_MAP_MAX_BYTES (1ull << 40)

/* LMDB error to a strata code + message naming what was being done. */
int mf_kv_err(strata_err *err, int rc, const char *what);

/* Run fn inside one write transaction and commit it durably; grows the map
 * and retries on MDB_MAP_FULL; fn returning non-zero aborts (a positive
 * return — fn wrote nothing — is returned as is; on PostgreSQL that
 * transaction commits, so the answer waits for the standby: env.c
 * invariant 5). */
/* Walk data.mdb at path (manifest/verify.c) without mapping it: with
 * is_full false only the meta pages and the file's length, else every page
 * reachable from the meta of transaction txnid (0: the newer meta).
 * STRATA_ECORRUPT / STRATA_ENOTFOUND naming the file; STRATA_ECONFLICT if
 * neither meta is txnid's any more (the caller retries). */
int mf_verify_file(const char *path, uint64_t txnid, bool is_full, strata_err *err);

/* Free the reader slots of dead processes (logs how many); LMDB's code. */
int mf_readers_clear(MDB_env *env, const char *what);
typedef int (*mf_write_fn)(strata_mf *mf, mf_tx *txn, void *ctx, strata_err *err);
int mf_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err);
int mf_lmdb_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err);
/* A backend's durable commit inside the test seams strata_mf_commit_hook
 * and strata_mf_commit_fault: commit(arg), or abort_fn(arg) when a fault is
 * injected before it; returns commit's result, or the injected errno (a
 * positive value, before or after a commit that happened). */
int mf_commit_seams(int (*commit)(void *), void (*abort_fn)(void *), void *arg);
/* A commit whose outcome is uncertain (either backend): mark mf broken
 * (the first failure's message stays: "<name> is closed after a commit
 * whose outcome is uncertain (<why>): reopen it ...") and return
 * STRATA_EUNCERTAIN with "<lead>: it may or may not have been committed
 * ...". */
int mf_uncertain(strata_mf *mf, const char *name, const char *why, const char *lead,
		 strata_err *err);

/* ---- keys ------------------------------------------------------------------ */

typedef struct mf_key {
	uint8_t b[512];
	size_t n;
} mf_key;

void mf_key_u32(mf_key *k, uint32_t v);
void mf_key_u64(mf_key *k, uint64_t v);
void mf_key_bytes(mf_key *k, const void *p, size_t n);
static inline MDB_val mf_val(const mf_key *k)
{
	MDB_val v = {.mv_size = k->n, .mv_data = (void *)k->b};
	return v;
}
uint32_t mf_get_u32(const uint8_t *p);
uint64_t mf_get_u64(const uint8_t *p);

/* ---- record codec ---------------------------------------------------------- */

void mf_put_u8(strata_buf *b, uint8_t v);
void mf_put_u32(strata_buf *b, uint32_t v);
void mf_put_u64(strata_buf *b, uint64_t v);
void mf_put_bytes(strata_buf *b, const void *p, size_t n);
void mf_put_str(strata_buf *b, const char *s);

typedef struct mf_dec {
	const uint8_t *p;
	size_t n, off;
	bool is_bad;
} mf_dec;

void mf_dec_init(mf_dec *d, const MDB_val *v);
uint8_t mf_get8(mf_dec *d);
uint32_t mf_get32(mf_dec *d);
uint64_t mf_get64(mf_dec *d);
/* Lends a pointer into the value (valid for the transaction). */
const uint8_t *mf_getbytes(mf_dec *d, uint32_t *len);
/* Copies into out (size n, NUL-terminated); too long marks the record bad. */
void mf_getstr(mf_dec *d, char *out, size_t n);

/* ---- records ---------------------------------------------------------------- */

void mf_table_enc(const strata_table_def *t, strata_buf *b);
int mf_table_dec(const MDB_val *v, strata_table_def *t);
void mf_part_enc(const strata_partition *p, strata_buf *b);
int mf_part_dec(const MDB_val *v, strata_partition *p);
void mf_file_enc(const strata_file_entry *f, strata_buf *b);
int mf_file_dec(const MDB_val *v, strata_arena *a, strata_file_entry *f);
/* The brief of a file entry (manifest.h strata_file_brief), lending the
 * sketch from v: the same checks as mf_file_dec(), so a value is damaged
 * for one exactly when it is for the other, and the same value in every
 * field both fill; copies nothing. */
int mf_file_brief_dec(const MDB_val *v, strata_file_brief *b);
void mf_version_enc(const strata_version_rec *r, const char *token, strata_buf *b);
int mf_version_dec(const MDB_val *v, strata_arena *a, strata_version_rec *r, char *token,
		   size_t token_n);
void mf_bucket_enc(const strata_bucket_state *s, strata_buf *b);
int mf_bucket_dec(const MDB_val *v, strata_bucket_state *s);
void mf_claim_enc(const strata_claim *c, strata_buf *b);
int mf_claim_dec(const MDB_val *v, strata_claim *c);
void mf_intent_enc(const strata_intent *in, strata_buf *b);
int mf_intent_dec(const MDB_val *v, strata_arena *a, strata_intent *in);
void mf_tag_enc(const strata_tag *t, strata_buf *b);
int mf_tag_dec(const MDB_val *v, strata_tag *t);
/* A kept clean (DB_TRASH); the clean version comes from the key (set
 * u->clean_version before decoding); ids go into arena a (required). */
void mf_trash_enc(const strata_trash_unit *u, strata_buf *b);
int mf_trash_dec(const MDB_val *v, strata_arena *a, strata_trash_unit *u);

/* ---- shared lookups inside a transaction -------------------------------------- */

int mf_txn_table_get(strata_mf *mf, mf_tx *txn, const char *name, strata_table_def *t,
		     strata_err *err);
int mf_txn_table_put(strata_mf *mf, mf_tx *txn, const strata_table_def *t,
		     strata_err *err);
int mf_txn_bucket_get(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
		      uint32_t bucket, strata_bucket_state *s, strata_err *err);
int mf_txn_bucket_put(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
		      uint32_t bucket, const strata_bucket_state *s, strata_err *err);
int mf_txn_bucket_files(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
			uint32_t bucket, strata_arena *a, strata_file_entry **out, size_t *n,
			strata_err *err);
int mf_txn_put(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *k,
	       const void *data, size_t n, strata_err *err);
int mf_txn_del(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *k,
	       strata_err *err);
int mf_txn_partition_get(strata_mf *mf, mf_tx *txn, uint32_t table_id, const char *name,
			 strata_partition *out, strata_err *err);
int mf_txn_tags(strata_mf *mf, mf_tx *txn, uint32_t table, strata_arena *a,
		strata_tag **out, size_t *n, strata_err *err);
/* Iterate the keys of db with a prefix in key order; calls fn for each
 * (a non-zero return stops and is returned).  Values are lent. */
typedef int (*mf_iter_fn)(const MDB_val *key, const MDB_val *val, void *ctx);
int mf_iter_prefix(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *prefix,
		   mf_iter_fn fn, void *ctx, strata_err *err);
/* The kept cleans of a table (commit.c), ascending (arena memory). */
int mf_txn_trash_units(strata_mf *mf, mf_tx *txn, uint32_t table, strata_arena *a,
		       strata_trash_unit **out, size_t *n, strata_err *err);
/* Allocate the next value of a u64 counter stored under meta key name. */
int mf_txn_counter_next(strata_mf *mf, mf_tx *txn, const char *name, uint64_t *out,
			strata_err *err);

#endif
