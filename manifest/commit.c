/*
 * manifest/commit.c — the commit protocol: every change to the manifest.
 *
 * Each public function here runs exactly one LMDB write transaction through
 * mf_write(): it checks its preconditions inside the transaction, makes its
 * changes, and commits durably — or fails and leaves nothing.
 *
 * Invariants:
 *   1. versions of a table are 1, 2, 3, ... with strictly increasing commit
 *      timestamps (ts = max(now, previous ts + 1)), so "AS OF timestamp" is
 *      well defined even when the clock steps back;
 *   2. a job commits only if every input is still live and the schema version
 *      is unchanged; otherwise STRATA_ECONFLICT and nothing changes;
 *   3. a writer commit never conflicts with a job: it only adds entries
 *      (a rollback is a writer commit that also records a schema version,
 *      so jobs planned before it conflict by invariant 2);
 *   4. a repeated idempotency token commits nothing and returns the version
 *      of the first commit; a token is kept write.token.retain.hours after
 *      its commit (through version-log expiry and purge), and a token batch
 *      older than what the table may have forgotten is refused, never
 *      committed a second time (strata_mf_commit_write in manifest.h);
 *   5. an entry is marked deleted only after it was removed, and forgotten
 *      only after it was marked deleted and only once no floor raise's file
 *      set includes it, so no read can resolve to a file set that silently
 *      lacks it;
 *   6. the floor of a bucket only rises;
 *   7. a bucket claim binds until it expires or its owner, a process of this
 *      host, is gone; a claim of a dead owner is taken over at once;
 *   8. a job commits, and renews its claim, only while it holds its claim,
 *      unexpired by the transaction's clock (mf_tx_now(): the catalog's on
 *      PostgreSQL), checked inside the commit's own transaction — a process
 *      paused past its claim's expiry (SIGSTOP, a lost network) never
 *      commits or renews, even when nobody took the claim meanwhile;
 *      recovery takes the claim of a job it judges crashed in the same
 *      transaction that judges it (never from an older snapshot), before it
 *      deletes the job's outputs — so a job judged crashed can never commit
 *      outputs that recovery deletes;
 *   9. what a clean takes stays recoverable for its trash window (see "The
 *      trash of the manifest" below): the kept clean commits in the same
 *      transaction as the marking (or the expiry) it records, and until it
 *      is dropped no floor-log trim counts its deletions or its expired
 *      versions as unreadable — so undelete finds every bucket state as
 *      the clean left it;
 *  10. an inline row file's bytes (DB_INLINE, under its file id) are
 *      put in the commit that adds the entry and deleted in the one that
 *      forgets it, never otherwise: a snapshot that lists an inline entry
 *      holds its bytes (strata_mf_inline_attach), and only a writer's
 *      small row file is ever inline (a job's output never is).
 *
 * The trash of the manifest (DB_TRASH).  A clean takes two things from the
 * manifest: it marks removed entries deleted (strata_mf_commit_clean) and
 * it expires the version log below the retention boundary
 * (strata_mf_expire_versions).  With a trash window (the _kept variants,
 * which clean/ calls with clean.trash_s) neither is lost for that long:
 *
 *   [table][0][clean version]            the kept clean: created, window
 *                                        end, the ids it marked, the log
 *                                        range [log_from, log_to) it
 *                                        expired
 *   [table][1][clean version][version]   an expired version record, as it
 *                                        was in DB_VERSIONS
 *
 * The marked entries carry trash_until_us (the window's end): floor_log_trim
 * does not count them as holes before it, nor versions from the lowest
 * kept log_from on as below the log start.  strata_mf_undelete() reverts
 * kept cleans newest first in one transaction (records and their time
 * index back, log_start down, entries removed-not-deleted again);
 * strata_mf_trash_drop() drops the ones past their window (a clean's step
 * 1b), and a forget of an entry whose file is gone inside the window drops
 * the kept clean that deleted it (it can no longer be undone).  Bucket
 * states are never saved: by invariant 9 no trim touched them.
 */
#include "manifest/manifest_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *strata_vkind_name(strata_vkind k)
{
	switch (k) {
	case STRATA_V_WRITE:
		return "write";
	case STRATA_V_SORT:
		return "sort";
	case STRATA_V_MERGE:
		return "merge";
	case STRATA_V_COMPACT:
		return "compact";
	case STRATA_V_CLEAN:
		return "clean";
	case STRATA_V_DDL:
		return "ddl";
	case STRATA_V_ROLLBACK:
		return "rollback";
	case STRATA_V_DROP:
		return "drop";
	}
	return "?";
}

/* sentinel returned by a write body to abort without an error */
#define MF_ABORT_OK 1

/* ---- helpers --------------------------------------------------------------------- */

static int table_by_id(strata_mf *mf, mf_tx *txn, uint32_t id, strata_table_def *t,
		       strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, id);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_TABLE_IDS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "table id %u does not exist", id);
	if (rc)
		return mf_kv_err(err, rc, "read table id");
	char name[STRATA_NAME_MAX + 1];
	if (val.mv_size > STRATA_NAME_MAX)
		return strata_err_set(err, STRATA_ECORRUPT, "table id record %u is damaged", id);
	memcpy(name, val.mv_data, val.mv_size);
	name[val.mv_size] = '\0';
	return mf_txn_table_get(mf, txn, name, t, err);
}

static int last_ts(strata_mf *mf, mf_tx *txn, const strata_table_def *t, int64_t *ts,
		   strata_err *err)
{
	*ts = 0;
	mf_key k = {.n = 0};
	mf_key_u32(&k, t->id);
	mf_key_u64(&k, t->version);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_VERSIONS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mf_kv_err(err, rc, "read version");
	strata_version_rec r;
	if (mf_version_dec(&val, NULL, &r, NULL, 0))
		return strata_err_set(err, STRATA_ECORRUPT, "version record %llu of \"%s\" is damaged",
				      (unsigned long long)t->version, t->name);
	*ts = r.ts_us;
	return 0;
}

/* Append version t->version + 1 to the log (invariant 1); updates t->version
 * and returns the timestamp.  The caller writes the table record. */
static int version_append(strata_mf *mf, mf_tx *txn, strata_table_def *t,
			  strata_version_rec *r, const char *token, strata_err *err)
{
	int64_t prev;
	int rc = last_ts(mf, txn, t, &prev, err);
	if (rc)
		return rc;
	int64_t now = mf_tx_now(txn);
	r->ts_us = now > prev ? now : prev + 1;
	r->version = t->version + 1;
	t->version = r->version;
	strata_buf b = {0};
	mf_version_enc(r, token, &b);
	mf_key k = {.n = 0};
	mf_key_u32(&k, t->id);
	mf_key_u64(&k, r->version);
	rc = mf_txn_put(mf, txn, DB_VERSIONS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	if (rc)
		return rc;
	mf_key tk = {.n = 0};
	mf_key_u32(&tk, t->id);
	mf_key_u64(&tk, (uint64_t)r->ts_us ^ (1ull << 63));
	mf_key vv = {.n = 0};
	mf_key_u64(&vv, r->version);
	rc = mf_txn_put(mf, txn, DB_VTIMES, &tk, vv.b, vv.n, err);
	if (rc == 0 && token && *token) {
		/* token record: version, commit time (for the horizon) */
		mf_key ok = {.n = 0};
		mf_key_u32(&ok, t->id);
		mf_key_bytes(&ok, token, strlen(token));
		mf_key tv = {.n = 0};
		mf_key_u64(&tv, r->version);
		mf_key_u64(&tv, (uint64_t)r->ts_us);
		rc = mf_txn_put(mf, txn, DB_TOKENS, &ok, tv.b, tv.n, err);
	}
	return rc;
}

static void file_key(mf_key *k, const strata_file_entry *f)
{
	k->n = 0;
	mf_key_u32(k, f->table_id);
	mf_key_u32(k, f->part_id);
	mf_key_u32(k, f->bucket);
	mf_key_u64(k, f->id);
}

static int file_put(strata_mf *mf, mf_tx *txn, const strata_file_entry *f, strata_err *err)
{
	strata_buf b = {0};
	mf_file_enc(f, &b);
	mf_key k;
	file_key(&k, f);
	int rc = mf_txn_put(mf, txn, DB_FILES, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

/* New entry: assign an id and index it. */
static int file_add(strata_mf *mf, mf_tx *txn, strata_file_entry *f, strata_err *err)
{
	int rc = mf_txn_counter_next(mf, txn, "next_file_id", &f->id, err);
	if (rc)
		return rc;
	rc = file_put(mf, txn, f, err);
	if (rc)
		return rc;
	if (f->is_inline) { /* its bytes, under its id */
		mf_key k = {.n = 0};
		mf_key_u64(&k, f->id);
		rc = mf_txn_put(mf, txn, DB_INLINE, &k, f->inline_data, f->inline_len, err);
		if (rc)
			return rc;
	}
	mf_key ik = {.n = 0};
	mf_key_u64(&ik, f->id);
	mf_key loc = {.n = 0};
	mf_key_u32(&loc, f->table_id);
	mf_key_u32(&loc, f->part_id);
	mf_key_u32(&loc, f->bucket);
	return mf_txn_put(mf, txn, DB_FILEIDS, &ik, loc.b, loc.n, err);
}

/* Look an entry up by id (memory of key_min/max lent by the txn). */
static int file_get(strata_mf *mf, mf_tx *txn, uint64_t id, strata_file_entry *f,
		    strata_err *err)
{
	mf_key ik = {.n = 0};
	mf_key_u64(&ik, id);
	MDB_val key = mf_val(&ik), val;
	int rc = mf_get(txn, DB_FILEIDS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "file %llu is not in the manifest",
				      (unsigned long long)id);
	if (rc)
		return mf_kv_err(err, rc, "read file index");
	if (val.mv_size != 12)
		return strata_err_set(err, STRATA_ECORRUPT, "file index of %llu is damaged",
				      (unsigned long long)id);
	mf_key k = {.n = 0};
	mf_key_bytes(&k, val.mv_data, 12);
	mf_key_u64(&k, id);
	key = mf_val(&k);
	rc = mf_get(txn, DB_FILES, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ECORRUPT, "file index of %llu points nowhere",
				      (unsigned long long)id);
	if (rc)
		return mf_kv_err(err, rc, "read file");
	if (mf_file_dec(&val, NULL, f))
		return strata_err_set(err, STRATA_ECORRUPT, "file entry %llu is damaged",
				      (unsigned long long)id);
	return 0;
}

static int file_forget(strata_mf *mf, mf_tx *txn, const strata_file_entry *f,
		       strata_err *err)
{
	mf_key k;
	file_key(&k, f);
	int rc = mf_txn_del(mf, txn, DB_FILES, &k, err);
	if (rc)
		return rc;
	mf_key ik = {.n = 0};
	mf_key_u64(&ik, f->id);
	if (f->is_inline) {
		rc = mf_txn_del(mf, txn, DB_INLINE, &ik, err);
		if (rc)
			return rc;
	}
	return mf_txn_del(mf, txn, DB_FILEIDS, &ik, err);
}

/* ---- the trash of the manifest: keys and kept cleans ----------------------------------- */

static void trash_key_unit(mf_key *k, uint32_t table, uint64_t clean_version)
{
	k->n = 0;
	mf_key_u32(k, table);
	mf_key_bytes(k, "\0", 1);
	mf_key_u64(k, clean_version);
}

/* [table][1][clean version]: the prefix of its kept version records. */
static void trash_key_versions(mf_key *k, uint32_t table, uint64_t clean_version)
{
	k->n = 0;
	mf_key_u32(k, table);
	mf_key_bytes(k, "\1", 1);
	mf_key_u64(k, clean_version);
}

static void trash_key_version(mf_key *k, uint32_t table, uint64_t clean_version, uint64_t v)
{
	trash_key_versions(k, table, clean_version);
	mf_key_u64(k, v);
}

static int trash_unit_put(strata_mf *mf, mf_tx *txn, uint32_t table,
			  const strata_trash_unit *u, strata_err *err)
{
	strata_buf b = {0};
	mf_trash_enc(u, &b);
	mf_key k;
	trash_key_unit(&k, table, u->clean_version);
	int rc = mf_txn_put(mf, txn, DB_TRASH, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

/* The kept clean clean_version of table: 0, STRATA_ENOTFOUND, or an error. */
static int trash_unit_get(strata_mf *mf, mf_tx *txn, uint32_t table, uint64_t clean_version,
			  strata_arena *a, strata_trash_unit *u, strata_err *err)
{
	(void)mf;
	mf_key k;
	trash_key_unit(&k, table, clean_version);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_TRASH, &key, &val);
	if (rc == MDB_NOTFOUND)
		return STRATA_ENOTFOUND;
	if (rc)
		return mf_kv_err(err, rc, "read the trash");
	u->clean_version = clean_version;
	if (mf_trash_dec(&val, a, u))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "the kept clean %llu of table id %u is damaged",
				      (unsigned long long)clean_version, table);
	return 0;
}

typedef struct trash_list {
	strata_arena *a;
	strata_trash_unit *v;
	size_t n, cap;
} trash_list;

static int trash_list_push(const MDB_val *key, const MDB_val *val, void *ctx)
{
	trash_list *l = ctx;
	if (key->mv_size != 13)
		return STRATA_ECORRUPT;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		strata_trash_unit *nv = strata_arena_alloc(l->a, l->cap * sizeof(*nv));
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	strata_trash_unit *u = &l->v[l->n];
	u->clean_version = mf_get_u64((const uint8_t *)key->mv_data + 5);
	if (mf_trash_dec(val, l->a, u))
		return STRATA_ECORRUPT;
	l->n++;
	return 0;
}

int mf_txn_trash_units(strata_mf *mf, mf_tx *txn, uint32_t table, strata_arena *a,
		       strata_trash_unit **out, size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table);
	mf_key_bytes(&k, "\0", 1);
	trash_list l = {.a = a};
	int rc = mf_iter_prefix(mf, txn, DB_TRASH, &k, trash_list_push, &l, err);
	if (rc == STRATA_ECORRUPT)
		rc = strata_err_set(err, rc, "a kept clean of table id %u is damaged", table);
	*out = l.v;
	*n = rc ? 0 : l.n;
	return rc;
}

/* The lowest log_start an undelete may still bring back: t's, or the
 * log_from of a kept clean inside its window (floor_log_trim must not
 * count those versions as unreadable: invariant 9). */
static int trash_log_floor(strata_mf *mf, mf_tx *txn, const strata_table_def *t, int64_t now,
			   uint64_t *out, strata_err *err)
{
	strata_arena *a = strata_arena_new();
	strata_trash_unit *us;
	size_t n;
	*out = t->log_start;
	int rc = mf_txn_trash_units(mf, txn, t->id, a, &us, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (us[i].expires_us > now && us[i].log_to && us[i].log_from < *out)
			*out = us[i].log_from;
	strata_arena_free(a);
	return rc;
}

static void entry_from_new(strata_file_entry *e, uint32_t table_id, uint32_t part_id,
			   const strata_mf_new_file *nf)
{
	memset(e, 0, sizeof(*e));
	e->table_id = table_id;
	e->part_id = part_id;
	e->bucket = nf->bucket;
	e->format = nf->format;
	e->level = nf->level;
	snprintf(e->name, sizeof(e->name), "%s", nf->name);
	e->schema_version = nf->schema_version;
	e->rows = nf->stats->rows;
	e->bytes = nf->stats->bytes;
	e->tombstones = nf->stats->tombstones;
	e->seq_min = nf->stats->seq_min;
	e->seq_max = nf->stats->seq_max;
	e->key_min = nf->stats->key_min.data;
	e->key_min_len = (uint32_t)nf->stats->key_min.len;
	e->key_max = nf->stats->key_max.data;
	e->key_max_len = (uint32_t)nf->stats->key_max.len;
	memcpy(e->sketch, nf->stats->sketch, STRATA_SKETCH_REGS);
	e->has_content_hash = nf->stats->has_content_hash;
	e->content_hash = nf->stats->content_hash;
	e->has_footer_hash = nf->stats->has_footer_hash;
	e->footer_hash = nf->stats->footer_hash;
	if (nf->inline_file.data) {
		e->is_inline = true;
		e->inline_data = nf->inline_file.data;
		e->inline_len = (uint32_t)nf->inline_file.len;
	}
	e->is_compact = nf->stats->rows > 0 && nf->stats->keys == nf->stats->rows &&
			nf->stats->tombstones == 0;
}

/* Partition by name; created with the table's bucket count if absent. */
static int partition_ensure(strata_mf *mf, mf_tx *txn, strata_table_def *t,
			    const char *name, strata_partition *p, strata_err *err)
{
	int rc = mf_txn_partition_get(mf, txn, t->id, name, p, err);
	if (rc != STRATA_ENOTFOUND)
		return rc;
	if (strlen(name) >= sizeof(p->name))
		return strata_err_set(err, STRATA_EINVAL, "partition name is too long");
	memset(p, 0, sizeof(*p));
	p->id = t->next_part_id++;
	p->buckets = t->buckets;
	p->created_version = t->version + 1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	strata_buf b = {0};
	mf_part_enc(p, &b);
	mf_key k = {.n = 0};
	mf_key_u32(&k, t->id);
	mf_key_u32(&k, p->id);
	rc = mf_txn_put(mf, txn, DB_PARTS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	if (rc)
		return rc;
	mf_key nk = {.n = 0};
	mf_key_u32(&nk, t->id);
	mf_key_bytes(&nk, name, strlen(name));
	mf_key idv = {.n = 0};
	mf_key_u32(&idv, p->id);
	return mf_txn_put(mf, txn, DB_PARTNAMES, &nk, idv.b, idv.n, err);
}

static int schema_put(strata_mf *mf, mf_tx *txn, uint32_t table_id, const strata_schema *s,
		      uint64_t since, strata_err *err)
{
	char *json = strata_schema_to_json(s);
	strata_buf b = {0};
	mf_put_u64(&b, since);
	strata_buf_append(&b, json, strlen(json));
	free(json);
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u32(&k, s->version);
	int rc = mf_txn_put(mf, txn, DB_SCHEMAS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

/* ---- tables ------------------------------------------------------------------------ */

typedef struct create_ctx {
	strata_table_def *def;
	const strata_schema *schema;
} create_ctx;

static int create_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	create_ctx *c = vctx;
	strata_table_def *t = c->def;
	strata_table_def old;
	int rc = mf_txn_table_get(mf, txn, t->name, &old, NULL);
	if (rc == 0)
		return strata_err_set(err, STRATA_EEXIST, "table \"%s\" already exists", t->name);
	uint64_t id;
	rc = mf_txn_counter_next(mf, txn, "next_table_id", &id, err);
	if (rc)
		return rc;
	t->id = (uint32_t)id;
	t->version = 0;
	t->schema_version = c->schema->version;
	t->next_col_id = 1;
	for (uint32_t i = 0; i < c->schema->ncols; i++)
		if (c->schema->cols[i].id >= t->next_col_id)
			t->next_col_id = c->schema->cols[i].id + 1;
	t->next_part_id = 1;
	t->log_start = 1;
	if (t->token_retain_hours == 0)
		t->token_retain_hours = STRATA_TOKEN_RETAIN_HOURS_DEFAULT;
	t->token_floor_us = t->tokens_pruned_us = 0;
	strata_version_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = STRATA_V_DDL;
	r.schema_version = c->schema->version;
	snprintf(r.note, sizeof(r.note), "create table");
	rc = version_append(mf, txn, t, &r, NULL, err);
	if (rc)
		return rc;
	t->created_us = r.ts_us;
	t->data_version = t->version;
	rc = schema_put(mf, txn, t->id, c->schema, t->version, err);
	if (rc)
		return rc;
	rc = mf_txn_table_put(mf, txn, t, err);
	if (rc)
		return rc;
	mf_key k = {.n = 0};
	mf_key_u32(&k, t->id);
	return mf_txn_put(mf, txn, DB_TABLE_IDS, &k, t->name, strlen(t->name), err);
}

int strata_mf_table_create(strata_mf *mf, strata_table_def *def, const strata_schema *schema,
			   strata_err *err)
{
	create_ctx c = {.def = def, .schema = schema};
	return mf_write(mf, create_body, &c, err);
}

typedef struct props_ctx {
	const strata_table_def *expect, *next;
} props_ctx;

static bool props_equal(const strata_table_def *a, const strata_table_def *b)
{
	return a->buckets == b->buckets && a->retain_hours == b->retain_hours &&
	       a->avro_codec == b->avro_codec && a->zstd_level == b->zstd_level &&
	       a->row_group_bytes == b->row_group_bytes && a->page_bytes == b->page_bytes &&
	       a->token_retain_hours == b->token_retain_hours &&
	       a->part_expire_s == b->part_expire_s &&
	       strcmp(a->part_expire_col, b->part_expire_col) == 0 &&
	       a->max_l0_files == b->max_l0_files && a->slow_l0_files == b->slow_l0_files &&
	       a->stall_timeout_s == b->stall_timeout_s &&
	       a->inline_max_bytes == b->inline_max_bytes;
}

static int props_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	props_ctx *c = vctx;
	const strata_table_def *nt = c->next;
	strata_table_def t;
	int rc = mf_txn_table_get(mf, txn, nt->name, &t, err);
	if (rc)
		return rc;
	if (c->expect && !props_equal(&t, c->expect))
		return strata_err_set(err, STRATA_ECONFLICT,
				      "the properties of \"%s\" changed concurrently", t.name);
	t.buckets = nt->buckets;
	t.retain_hours = nt->retain_hours;
	t.avro_codec = nt->avro_codec;
	t.zstd_level = nt->zstd_level;
	t.row_group_bytes = nt->row_group_bytes;
	t.page_bytes = nt->page_bytes;
	if (nt->token_retain_hours)
		t.token_retain_hours = nt->token_retain_hours;
	t.part_expire_s = nt->part_expire_s;
	memcpy(t.part_expire_col, nt->part_expire_col, sizeof(t.part_expire_col));
	t.max_l0_files = nt->max_l0_files;
	t.inline_max_bytes = nt->inline_max_bytes;
	t.slow_l0_files = nt->slow_l0_files;
	t.stall_timeout_s = nt->stall_timeout_s;
	return mf_txn_table_put(mf, txn, &t, err);
}

int strata_mf_table_set_props(strata_mf *mf, const strata_table_def *expect,
			      const strata_table_def *def, strata_err *err)
{
	props_ctx c = {.expect = expect, .next = def};
	return mf_write(mf, props_body, &c, err);
}

typedef struct ddl_ctx {
	const char *table;
	uint32_t expect;
	const strata_schema *schema;
	const char *note;
	uint64_t version;
} ddl_ctx;

static int ddl_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	ddl_ctx *c = vctx;
	strata_table_def t;
	int rc = mf_txn_table_get(mf, txn, c->table, &t, err);
	if (rc)
		return rc;
	if (t.schema_version != c->expect || c->schema->version != c->expect + 1)
		return strata_err_set(err, STRATA_ECONFLICT,
				      "the schema of \"%s\" changed concurrently (now version %u)",
				      c->table, t.schema_version);
	strata_version_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = STRATA_V_DDL;
	r.schema_version = c->schema->version;
	snprintf(r.note, sizeof(r.note), "%s", c->note ? c->note : "alter table");
	rc = version_append(mf, txn, &t, &r, NULL, err);
	if (rc)
		return rc;
	rc = schema_put(mf, txn, t.id, c->schema, t.version, err);
	if (rc)
		return rc;
	t.schema_version = c->schema->version;
	for (uint32_t i = 0; i < c->schema->ncols; i++)
		if (c->schema->cols[i].id >= t.next_col_id)
			t.next_col_id = c->schema->cols[i].id + 1;
	t.data_version = t.version;
	c->version = t.version;
	return mf_txn_table_put(mf, txn, &t, err);
}

int strata_mf_commit_ddl(strata_mf *mf, const char *table, uint32_t expect,
			 const strata_schema *schema, const char *note, uint64_t *version,
			 strata_err *err)
{
	ddl_ctx c = {.table = table, .expect = expect, .schema = schema, .note = note};
	int rc = mf_write(mf, ddl_body, &c, err);
	if (rc == 0 && version)
		*version = c.version;
	return rc;
}

/* ---- writer commits ------------------------------------------------------------------ */

/* A time for messages: "2026-12-05T04:57:32.000000Z". */
static void ts_text(int64_t us, char *out, size_t n)
{
	strata_buf b = {0};
	strata_timestamp_format(us, &b);
	snprintf(out, n, "%.*s", (int)b.len, b.data ? (char *)b.data : "");
	strata_buf_free(&b);
}

typedef struct write_ctx {
	const strata_mf_write *w;
	uint64_t version;
	bool is_repeat;
} write_ctx;

static int write_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	write_ctx *c = vctx;
	const strata_mf_write *w = c->w;
	strata_table_def t;
	int rc = mf_txn_table_get(mf, txn, w->table, &t, err);
	if (rc)
		return rc;
	/* invariant 4 */
	if (w->token) {
		mf_key k = {.n = 0};
		mf_key_u32(&k, t.id);
		mf_key_bytes(&k, w->token, strlen(w->token));
		MDB_val key = mf_val(&k), val;
		rc = mf_get(txn, DB_TOKENS, &key, &val);
		if (rc == 0 && val.mv_size >= 8) {
			c->version = mf_get_u64(val.mv_data);
			c->is_repeat = true;
			return MF_ABORT_OK;
		}
		if (rc && rc != MDB_NOTFOUND)
			return mf_kv_err(err, rc, "read token");
		/* not found: new, or forgotten — only a batch younger than
		 * anything forgotten can tell (the proof is in manifest.h) */
		int64_t now = mf_tx_now(txn);
		int64_t floor = now - (int64_t)t.token_retain_hours * 3600 * 1000000 +
				STRATA_TOKEN_SKEW_US;
		if (t.token_floor_us > floor)
			floor = t.token_floor_us;
		if (w->nfiles && w->token_us < floor) {
			char bt[40], ft[40];
			ts_text(w->token_us, bt, sizeof(bt));
			ts_text(floor, ft, sizeof(ft));
			return strata_err_set(err, STRATA_ERETENTION,
					      "token \"%.100s\" is for a batch from %s, older than the "
					      "token horizon of table \"%s\" (%s; "
					      "write.token.retain.hours=%u): its token may have been "
					      "committed and forgotten, so whether this batch is already "
					      "in the table cannot be known; nothing was committed. Check "
					      "the table (`strata log`, `strata get`) and write the batch "
					      "again with a new token and batch time only if it is missing",
					      w->token, bt, t.name, ft, t.token_retain_hours);
		}
	}
	if (w->nfiles == 0 && !w->new_schema) {
		/* nothing to commit: no version, no token (an empty version would
		 * count as a write and fail every --expect-version after it) */
		c->version = t.version;
		return MF_ABORT_OK;
	}
	if (w->expect_version &&
	    (t.data_version > w->expect_version || w->expect_version > t.version))
		return strata_err_set(err, STRATA_ECONFLICT,
				      "table \"%s\" is at version %llu (last write or DDL at %llu), "
				      "expected %llu",
				      t.name, (unsigned long long)t.version,
				      (unsigned long long)t.data_version,
				      (unsigned long long)w->expect_version);
	if (w->schema_version != t.schema_version)
		return strata_err_set(err, STRATA_ECONFLICT,
				      "the schema of \"%s\" changed during the write (version %u, "
				      "now %u); write again",
				      t.name, w->schema_version, t.schema_version);
	if (w->new_schema && w->new_schema->version != t.schema_version + 1)
		return strata_err_set(err, STRATA_ECONFLICT,
				      "the schema of \"%s\" changed during the rollback (now version "
				      "%u); roll back again",
				      t.name, t.schema_version);
	uint64_t v = t.version + 1;
	uint64_t *ids = strata_calloc(w->nfiles + 1, sizeof(uint64_t));
	strata_version_rec r;
	memset(&r, 0, sizeof(r));
	if (w->new_schema) {
		/* the rollback's schema takes effect at its own version */
		rc = schema_put(mf, txn, t.id, w->new_schema, v, err);
		if (rc)
			goto out;
		t.schema_version = w->new_schema->version;
		for (uint32_t i = 0; i < w->new_schema->ncols; i++)
			if (w->new_schema->cols[i].id >= t.next_col_id)
				t.next_col_id = w->new_schema->cols[i].id + 1;
	}
	strata_partition p;
	for (size_t i = 0; i < w->nfiles; i++) {
		const strata_mf_new_file *nf = &w->files[i];
		/* a writer's files come grouped by partition: look each up once
		 * (on a catalog every lookup is two round trips) */
		if (i == 0 || strcmp(nf->partition, w->files[i - 1].partition) != 0) {
			rc = partition_ensure(mf, txn, &t, nf->partition, &p, err);
			if (rc)
				goto out;
		}
		if (p.buckets != nf->part_buckets || nf->bucket >= p.buckets) {
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "partition \"%s\" of \"%s\" has %u buckets, the writer "
					    "routed rows for %u; write again",
					    nf->partition, t.name, p.buckets, nf->part_buckets);
			goto out;
		}
		if (nf->inline_file.data &&
		    (nf->format != STRATA_FMT_AVRO || nf->level != 0 ||
		     nf->inline_file.len != nf->stats->bytes ||
		     nf->inline_file.len > STRATA_INLINE_MAX_BYTES)) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "\"%s\" of \"%s\": an inline file must be a row file "
					    "of at most %u bytes whose bytes match its size",
					    nf->name, t.name, STRATA_INLINE_MAX_BYTES);
			goto out;
		}
		strata_file_entry e;
		entry_from_new(&e, t.id, p.id, nf);
		e.seq_min = e.seq_max = (int64_t)v; /* row files: _seq is the version */
		e.level = 0;
		e.added_version = v;
		e.added_us = mf_tx_now(txn);
		rc = file_add(mf, txn, &e, err);
		if (rc)
			goto out;
		ids[i] = e.id;
		if (nf->id_out)
			*nf->id_out = e.id;
	}
	r.kind = w->new_schema ? STRATA_V_ROLLBACK : STRATA_V_WRITE;
	r.schema_version = t.schema_version;
	r.nadded = (uint32_t)w->nfiles;
	r.added = ids;
	if (w->note)
		snprintf(r.note, sizeof(r.note), "%s", w->note);
	else
		snprintf(r.note, sizeof(r.note), "%zu file%s", w->nfiles, w->nfiles == 1 ? "" : "s");
	rc = version_append(mf, txn, &t, &r, w->token, err);
	if (rc)
		goto out;
	t.data_version = t.version;
	c->version = t.version;
	rc = mf_txn_table_put(mf, txn, &t, err);
out:
	free(ids);
	return rc;
}

int strata_mf_commit_write(strata_mf *mf, const strata_mf_write *w, uint64_t *version,
			   bool *is_repeat, strata_err *err)
{
	if (w->token && strlen(w->token) > STRATA_TOKEN_MAX)
		return strata_err_set(err, STRATA_EINVAL, "token is longer than %d bytes",
				      STRATA_TOKEN_MAX);
	if (w->token && !*w->token)
		return strata_err_set(err, STRATA_EINVAL,
				      "the token is empty: give a non-empty token, or none");
	if (w->token && w->token_us <= 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "token \"%.100s\" has no batch time: a token needs the time "
				      "its batch was first attempted, the same on every retry "
				      "(strata write --token-time)",
				      w->token);
	if (w->token && w->token_us > strata_now_us() + STRATA_TOKEN_SKEW_US) {
		char bt[40];
		ts_text(w->token_us, bt, sizeof(bt));
		return strata_err_set(err, STRATA_EINVAL,
				      "the batch time of token \"%.100s\" (%s) is in the future: it "
				      "must be when the batch was first attempted (at most %lld s ahead "
				      "of this clock)",
				      w->token, bt, (long long)(STRATA_TOKEN_SKEW_US / 1000000));
	}
	write_ctx c = {.w = w};
	int rc = mf_write(mf, write_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	if (rc == 0) {
		*version = c.version;
		if (is_repeat)
			*is_repeat = c.is_repeat;
	}
	return rc;
}

/* ---- job commits ------------------------------------------------------------------------ */

/* Whether f belongs to the file set of any floor raise (J-1) of bs. */
static bool in_floor_sets(const strata_bucket_state *bs, const strata_file_entry *f)
{
	for (uint32_t i = 0; i < bs->nlog; i++)
		if (strata_file_live_at(f, bs->log[i].commit_version - 1))
			return true;
	return false;
}

/* Keep the floor log within bounds.  Only the oldest entry is ever dropped
 * (dropping a middle one would send its versions to the wrong file set), and
 * dropping it makes every version below its boundary unresolvable.  It goes
 * when no version of its interval can be answered any more (a file holding
 * records at or below the interval's start — or the table's log start,
 * below which nothing is readable — was deleted), or when the log is full;
 * never while a tag falls in it (a raise that finds the log full of tagged
 * intervals is refused instead, with STRATA_ELIMIT). */
static void floor_log_trim(strata_bucket_state *bs, const strata_file_entry *files, size_t n,
			   const strata_tag *tags, size_t ntags, uint64_t log_start, int64_t now)
{
	while (bs->nlog > 0) {
		/* versions below the table's log start are unreadable anyway */
		uint64_t lo = bs->resolvable_from > log_start ? bs->resolvable_from : log_start;
		uint64_t hi = bs->log[0].boundary;
		uint64_t l = bs->log[0].commit_version - 1;
		bool is_full = bs->nlog >= STRATA_FLOOR_LOG_MAX;
		bool is_dead = false;
		/* invariant 9: a deletion undelete may still revert is no hole */
		for (size_t i = 0; i < n && !is_dead; i++)
			is_dead = files[i].is_deleted && files[i].trash_until_us <= now &&
				  strata_file_live_at(&files[i], l) &&
				  (uint64_t)files[i].seq_min <= lo;
		bool is_tagged = false;
		for (size_t i = 0; i < ntags; i++)
			if (tags[i].version >= bs->resolvable_from && tags[i].version < hi)
				is_tagged = true;
		if (is_tagged || (!is_full && !is_dead))
			break; /* a tagged interval is never dropped, even from a full log */
		if (bs->log[0].boundary > bs->resolvable_from)
			bs->resolvable_from = bs->log[0].boundary;
		memmove(&bs->log[0], &bs->log[1], sizeof(bs->log[0]) * (bs->nlog - 1));
		bs->nlog--;
	}
}

/* Raise the floor of a bucket to new_floor by the commit of version v
 * (nothing when it is not above the floor): trims the floor log first and
 * records the raise (J = v, b = new_floor).  STRATA_ELIMIT when the log is
 * full of raises tags still need. */
static int bucket_floor_raise(strata_mf *mf, mf_tx *txn, const strata_table_def *t,
			      uint32_t part_id, uint32_t bucket, uint64_t v, uint64_t new_floor,
			      strata_err *err)
{
	strata_bucket_state bs;
	int rc = mf_txn_bucket_get(mf, txn, t->id, part_id, bucket, &bs, err);
	if (rc == 0 && new_floor > bs.floor) {
		/* invariant 6 */
		strata_arena *ta = strata_arena_new();
		strata_tag *tags = NULL;
		strata_file_entry *bf = NULL;
		size_t ntags = 0, nbf = 0;
		uint64_t log_floor = t->log_start;
		int64_t now = mf_tx_now(txn);
		rc = mf_txn_tags(mf, txn, t->id, ta, &tags, &ntags, err);
		if (rc == 0)
			rc = mf_txn_bucket_files(mf, txn, t->id, part_id, bucket, ta, &bf, &nbf,
						 err);
		if (rc == 0)
			rc = trash_log_floor(mf, txn, t, now, &log_floor, err);
		floor_log_trim(&bs, bf, nbf, tags, ntags, log_floor, now);
		strata_arena_free(ta);
		if (rc == 0 && bs.nlog >= STRATA_FLOOR_LOG_MAX)
			rc = strata_err_set(err, STRATA_ELIMIT,
					    "bucket %u of partition %u of \"%s\" has %d history floor raises "
					    "still needed by tags; delete old tags (strata tags %s) before "
					    "compacting it again",
					    bucket, part_id, t->name, STRATA_FLOOR_LOG_MAX, t->name);
		if (rc == 0) {
			bs.log[bs.nlog].commit_version = v;
			bs.log[bs.nlog].boundary = new_floor;
			bs.nlog++;
			STRATA_ASSERT(new_floor > bs.floor, "invariant 6: floor %lld would fall to %lld", (long long)bs.floor, (long long)new_floor);
			bs.floor = new_floor;
			rc = mf_txn_bucket_put(mf, txn, t->id, part_id, bucket, &bs, err);
		}
	}
	return rc;
}

typedef struct job_ctx {
	const strata_mf_job *job;
	uint64_t version;
} job_ctx;

static int job_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	job_ctx *c = vctx;
	const strata_mf_job *j = c->job;
	strata_table_def t;
	int rc = table_by_id(mf, txn, j->table_id, &t, err);
	if (rc)
		return rc;
	/* invariant 2 */
	if (t.schema_version != j->schema_version)
		return strata_err_set(err, STRATA_ECONFLICT,
				      "the schema of \"%s\" changed (version %u, job planned at %u)",
				      t.name, t.schema_version, j->schema_version);
	if (j->job_id) {
		mf_key ik = {.n = 0};
		mf_key_u64(&ik, j->job_id);
		MDB_val key = mf_val(&ik), val;
		int grc = mf_get(txn, DB_INTENTS, &key, &val);
		if (grc == MDB_NOTFOUND)
			return strata_err_set(err, STRATA_ECONFLICT,
					      "job %llu lost its intent (recovered as crashed by another "
					      "process); its outputs are gone",
					      (unsigned long long)j->job_id);
		if (grc)
			return mf_kv_err(err, grc, "read intent");
	}
	uint64_t v = t.version + 1;
	int64_t now = mf_tx_now(txn);
	for (size_t i = 0; i < j->ninputs; i++) {
		strata_file_entry f;
		rc = file_get(mf, txn, j->inputs[i], &f, err);
		if (rc == STRATA_ENOTFOUND)
			return strata_err_set(err, STRATA_ECONFLICT,
					      "input file %llu is gone from the manifest",
					      (unsigned long long)j->inputs[i]);
		if (rc)
			return rc;
		if (f.table_id != j->table_id || f.part_id != j->part_id || f.bucket != j->bucket)
			return strata_err_set(err, STRATA_EINVAL,
					      "input file %llu is not in the job's bucket",
					      (unsigned long long)f.id);
		if (f.removed_version != 0)
			return strata_err_set(err, STRATA_ECONFLICT,
					      "input file %s was removed at version %llu by another "
					      "commit",
					      f.name, (unsigned long long)f.removed_version);
		f.removed_version = v;
		f.removed_us = now;
		f.removed_kept_history = !j->drops_retained_history;
		rc = file_put(mf, txn, &f, err);
		if (rc)
			return rc;
	}
	uint64_t *ids = strata_calloc(j->noutputs + 1, sizeof(uint64_t));
	for (size_t i = 0; i < j->noutputs; i++) {
		const strata_mf_new_file *nf = &j->outputs[i];
		if (nf->inline_file.data) {
			free(ids);
			return strata_err_set(err, STRATA_EINVAL,
					      "output %s of job %llu: a job's outputs are files, "
					      "never inline",
					      nf->name, (unsigned long long)j->job_id);
		}
		strata_file_entry e;
		entry_from_new(&e, t.id, j->part_id, nf);
		e.bucket = j->bucket;
		e.job_id = j->job_id;
		e.added_version = v;
		e.added_us = now;
		rc = file_add(mf, txn, &e, err);
		if (rc) {
			free(ids);
			return rc;
		}
		ids[i] = e.id;
		if (nf->id_out)
			*nf->id_out = e.id;
	}
	if (rc == 0)
		rc = bucket_floor_raise(mf, txn, &t, j->part_id, j->bucket, v, j->new_floor, err);
	if (rc == 0 && j->job_id) {
		mf_key ck = {.n = 0};
		mf_key_u32(&ck, t.id);
		mf_key_u32(&ck, j->part_id);
		mf_key_u32(&ck, j->bucket);
		MDB_val key = mf_val(&ck), val;
		strata_claim cl;
		/* invariant 8 */
		if (mf_get(txn, DB_CLAIMS, &key, &val) != 0 || mf_claim_dec(&val, &cl) != 0 ||
		    cl.job_id != j->job_id)
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "job %llu lost its claim of bucket %u (taken over or "
					    "recovered as crashed); its outputs are deleted",
					    (unsigned long long)j->job_id, j->bucket);
		else if (cl.expires_us <= now) /* invariant 8: fenced by the store's clock */
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "job %llu's claim of bucket %u expired %.1f s before its "
					    "commit (the process was stopped or too slow to renew it "
					    "within claim_ttl_s); nothing committed, its outputs are "
					    "deleted",
					    (unsigned long long)j->job_id, j->bucket,
					    (double)(now - cl.expires_us) / 1e6);
		else
			rc = mf_txn_del(mf, txn, DB_CLAIMS, &ck, err);
		mf_key ik = {.n = 0};
		mf_key_u64(&ik, j->job_id);
		if (rc == 0)
			rc = mf_txn_del(mf, txn, DB_INTENTS, &ik, err);
	}
	if (rc == 0) {
		strata_version_rec r;
		memset(&r, 0, sizeof(r));
		r.kind = j->kind;
		r.schema_version = t.schema_version;
		r.nadded = (uint32_t)j->noutputs;
		r.added = ids;
		r.nremoved = (uint32_t)j->ninputs;
		r.removed = (uint64_t *)j->inputs;
		snprintf(r.note, sizeof(r.note), "%s", j->note ? j->note : "");
		rc = version_append(mf, txn, &t, &r, NULL, err);
	}
	free(ids);
	if (rc == 0) {
		c->version = t.version;
		rc = mf_txn_table_put(mf, txn, &t, err);
	}
	return rc;
}

int strata_mf_commit_job(strata_mf *mf, const strata_mf_job *job, uint64_t *version,
			 strata_err *err)
{
	job_ctx c = {.job = job};
	int rc = mf_write(mf, job_body, &c, err);
	if (rc == 0 && version)
		*version = c.version;
	return rc;
}

/* ---- partition drops ------------------------------------------------------------------ */

typedef struct drop_ctx {
	const char *table, *partition;
	uint64_t version;
	size_t nfiles;
} drop_ctx;

static int drop_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	drop_ctx *c = vctx;
	strata_table_def t;
	strata_partition p;
	strata_arena *a = strata_arena_new();
	uint64_t *ids = NULL;
	size_t nids = 0, cap = 0;
	int rc = mf_txn_table_get(mf, txn, c->table, &t, err);
	if (rc)
		goto out;
	if (t.nparts == 0) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "table \"%s\" is not partitioned: there is no partition to drop",
				    t.name);
		goto out;
	}
	rc = mf_txn_partition_get(mf, txn, t.id, c->partition, &p, err);
	if (rc == STRATA_ENOTFOUND) {
		rc = strata_err_set(err, STRATA_ENOTFOUND,
				    "table \"%s\" has no partition \"%s\" (strata describe %s lists "
				    "them); nothing was committed",
				    t.name, c->partition, t.name);
		goto out;
	}
	if (rc)
		goto out;
	uint64_t v = t.version + 1;
	int64_t now = mf_tx_now(txn);
	for (uint32_t b = 0; b < p.buckets; b++) {
		strata_file_entry *fs;
		size_t n;
		rc = mf_txn_bucket_files(mf, txn, t.id, p.id, b, a, &fs, &n, err);
		if (rc)
			goto out;
		bool has_live = false;
		for (size_t i = 0; i < n; i++) {
			strata_file_entry f = fs[i];
			if (f.removed_version != 0)
				continue;
			has_live = true;
			f.removed_version = v;
			f.removed_us = now;
			f.removed_kept_history = false; /* clean waits for retention */
			rc = file_put(mf, txn, &f, err);
			if (rc)
				goto out;
			if (nids == cap) {
				cap = cap ? 2 * cap : 64;
				ids = strata_realloc(ids, cap * sizeof(uint64_t));
			}
			ids[nids++] = f.id;
		}
		/* reads below v resolve to the files live at v - 1 (manifest.h) */
		if (has_live)
			rc = bucket_floor_raise(mf, txn, &t, p.id, b, v, v, err);
		if (rc)
			goto out;
	}
	if (nids == 0) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "partition \"%s\" of \"%s\" holds no data (empty or already "
				    "dropped); nothing was committed",
				    c->partition, t.name);
		goto out;
	}
	strata_version_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = STRATA_V_DROP;
	r.schema_version = t.schema_version;
	r.nremoved = (uint32_t)nids;
	r.removed = ids;
	snprintf(r.note, sizeof(r.note), "drop partition %.120s", c->partition);
	rc = version_append(mf, txn, &t, &r, NULL, err);
	if (rc)
		goto out;
	t.data_version = t.version;
	c->version = t.version;
	c->nfiles = nids;
	rc = mf_txn_table_put(mf, txn, &t, err);
out:
	free(ids);
	strata_arena_free(a);
	return rc;
}

int strata_mf_drop_partition(strata_mf *mf, const char *table, const char *partition,
			     uint64_t *version, size_t *nfiles, strata_err *err)
{
	drop_ctx c = {.table = table, .partition = partition};
	int rc = mf_write(mf, drop_body, &c, err);
	if (rc == 0) {
		*version = c.version;
		if (nfiles)
			*nfiles = c.nfiles;
	}
	return rc;
}

/* ---- clean ---------------------------------------------------------------------------------- */

typedef struct clean_ctx {
	uint32_t table_id;
	const uint64_t *ids;
	size_t n;
	int64_t trash_us; /* > 0: keep the clean in the trash that long */
	uint64_t version;
	size_t skipped;
} clean_ctx;

static int clean_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	clean_ctx *c = vctx;
	strata_table_def t;
	int rc = table_by_id(mf, txn, c->table_id, &t, err);
	if (rc)
		return rc;
	int64_t now = mf_tx_now(txn);
	uint64_t *done = strata_calloc(c->n + 1, sizeof(uint64_t));
	uint32_t ndone = 0;
	c->skipped = 0;
	for (size_t i = 0; i < c->n; i++) {
		strata_file_entry f;
		rc = file_get(mf, txn, c->ids[i], &f, err);
		if (rc == STRATA_ENOTFOUND) {
			c->skipped++;
			rc = 0;
			continue;
		}
		if (rc)
			goto out;
		/* invariant 5 */
		if (f.table_id != c->table_id || f.removed_version == 0 || f.is_deleted) {
			c->skipped++;
			continue;
		}
		f.is_deleted = true;
		f.deleted_us = now;
		f.trash_until_us = c->trash_us > 0 ? now + c->trash_us : 0;
		rc = file_put(mf, txn, &f, err);
		if (rc)
			goto out;
		done[ndone++] = f.id;
	}
	if (ndone == 0) {
		c->version = 0;
		rc = MF_ABORT_OK;
		goto out;
	}
	strata_version_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = STRATA_V_CLEAN;
	r.schema_version = t.schema_version;
	r.nremoved = ndone;
	r.removed = done;
	snprintf(r.note, sizeof(r.note), "%u file%s deleted", ndone, ndone == 1 ? "" : "s");
	rc = version_append(mf, txn, &t, &r, NULL, err);
	if (rc == 0 && c->trash_us > 0) {
		/* invariant 9: the kept clean commits with its marking */
		strata_trash_unit u = {.clean_version = t.version, .created_us = now,
				       .expires_us = now + c->trash_us, .nids = ndone,
				       .ids = done};
		rc = trash_unit_put(mf, txn, t.id, &u, err);
	}
	if (rc == 0) {
		c->version = t.version;
		rc = mf_txn_table_put(mf, txn, &t, err);
	}
out:
	free(done);
	return rc;
}

int strata_mf_commit_clean(strata_mf *mf, uint32_t table_id, const uint64_t *ids, size_t n,
			   uint64_t *version, size_t *skipped, strata_err *err)
{
	return strata_mf_commit_clean_kept(mf, table_id, ids, n, 0, version, skipped, err);
}

int strata_mf_commit_clean_kept(strata_mf *mf, uint32_t table_id, const uint64_t *ids,
				size_t n, int64_t trash_us, uint64_t *version, size_t *skipped,
				strata_err *err)
{
	clean_ctx c = {.table_id = table_id, .ids = ids, .n = n, .trash_us = trash_us};
	int rc = mf_write(mf, clean_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	if (version)
		*version = rc == 0 ? c.version : 0;
	if (skipped)
		*skipped = c.skipped;
	return rc;
}

typedef struct forget_ctx {
	uint32_t table_id;
	const uint64_t *ids;
	size_t n;
	/* the bucket whose floor log this transaction trimmed last: ids come
	 * by bucket (a clean lists them so), and a bucket is read and trimmed
	 * once, not once per id — per id, forgetting 100,000 tombstones read
	 * their bucket's 100,000 entries each time (25 s).  Once is enough:
	 * the trim is idempotent, and what the loop forgets (no floor set
	 * holds it) or marks is_gone never makes a raise dead or alive */
	bool has_trimmed;
	uint32_t trimmed_part, trimmed_bucket;
} forget_ctx;

static int forget_one(strata_mf *mf, mf_tx *txn, forget_ctx *c, uint64_t id,
		      const strata_tag *tags, size_t ntags, uint64_t log_start, int64_t now,
		      strata_err *err)
{
	strata_file_entry f;
	int rc = file_get(mf, txn, id, &f, err);
	if (rc == STRATA_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (f.table_id != c->table_id || !f.is_deleted)
		return 0; /* invariant 5 */
	strata_bucket_state bs;
	rc = mf_txn_bucket_get(mf, txn, f.table_id, f.part_id, f.bucket, &bs, err);
	if (rc)
		return rc;
	/* trim what this bucket's deletions have made unanswerable first
	 * (once a transaction: forget_ctx) */
	if (!c->has_trimmed || c->trimmed_part != f.part_id || c->trimmed_bucket != f.bucket) {
		strata_arena *a = strata_arena_new();
		strata_file_entry *bf = NULL;
		size_t nbf = 0;
		rc = mf_txn_bucket_files(mf, txn, f.table_id, f.part_id, f.bucket, a, &bf, &nbf, err);
		if (rc == 0) {
			uint32_t before = bs.nlog;
			floor_log_trim(&bs, bf, nbf, tags, ntags, log_start, now);
			if (bs.nlog != before)
				rc = mf_txn_bucket_put(mf, txn, f.table_id, f.part_id, f.bucket, &bs,
						       err);
		}
		strata_arena_free(a);
		if (rc)
			return rc;
		c->has_trimmed = true;
		c->trimmed_part = f.part_id;
		c->trimmed_bucket = f.bucket;
	}
	if (in_floor_sets(&bs, &f)) {
		/* invariant 5: the tombstone still marks a hole; its file is
		 * gone (the caller's word), recorded so no clean asks again */
		if (f.is_gone)
			return 0;
		f.is_gone = true;
		return file_put(mf, txn, &f, err);
	}
	return file_forget(mf, txn, &f, err);
}

static int trash_unit_del(strata_mf *mf, mf_tx *txn, uint32_t table, uint64_t cv,
			  strata_arena *a, strata_err *err);

/* Entries about to be forgotten have lost their files: a kept clean that
 * deleted one of them can no longer be undone, so it is dropped, and the
 * other entries it deleted stop counting as restorable (floor_log_trim,
 * invariant 9). */
static int trash_break(strata_mf *mf, mf_tx *txn, const strata_table_def *t,
		       const uint64_t *ids, size_t n, int64_t now, strata_err *err)
{
	strata_arena *a = strata_arena_new();
	strata_trash_unit *us = NULL;
	size_t nus = 0;
	bool *is_broken = NULL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		strata_file_entry f;
		rc = file_get(mf, txn, ids[i], &f, err);
		if (rc == STRATA_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc || !f.is_deleted || f.trash_until_us <= now)
			continue;
		if (!is_broken) {
			rc = mf_txn_trash_units(mf, txn, t->id, a, &us, &nus, err);
			is_broken = strata_arena_alloc(a, (nus + 1) * sizeof(bool));
			memset(is_broken, 0, (nus + 1) * sizeof(bool));
		}
		for (size_t u = 0; rc == 0 && u < nus; u++)
			for (uint32_t k = 0; k < us[u].nids && !is_broken[u]; k++)
				is_broken[u] = us[u].ids[k] == f.id;
	}
	for (size_t u = 0; rc == 0 && u < nus; u++) {
		if (!is_broken[u])
			continue;
		for (uint32_t k = 0; rc == 0 && k < us[u].nids; k++) {
			strata_file_entry f;
			rc = file_get(mf, txn, us[u].ids[k], &f, err);
			if (rc == STRATA_ENOTFOUND) {
				rc = 0;
				continue;
			}
			if (rc == 0 && f.is_deleted && f.trash_until_us) {
				f.trash_until_us = 0;
				rc = file_put(mf, txn, &f, err);
			}
		}
		if (rc == 0)
			rc = trash_unit_del(mf, txn, t->id, us[u].clean_version, a, err);
	}
	strata_arena_free(a);
	return rc;
}

static int forget_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	forget_ctx *c = vctx;
	strata_table_def t;
	int trc = table_by_id(mf, txn, c->table_id, &t, err);
	if (trc)
		return trc;
	strata_arena *ta = strata_arena_new();
	strata_tag *tags = NULL;
	size_t ntags = 0;
	trc = mf_txn_tags(mf, txn, c->table_id, ta, &tags, &ntags, err);
	if (trc) {
		strata_arena_free(ta);
		return trc;
	}
	int64_t now = mf_tx_now(txn);
	c->has_trimmed = false; /* a retried transaction starts over */
	int rc = trash_break(mf, txn, &t, c->ids, c->n, now, err);
	uint64_t log_floor = t.log_start;
	if (rc == 0)
		rc = trash_log_floor(mf, txn, &t, now, &log_floor, err);
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		rc = forget_one(mf, txn, c, c->ids[i], tags, ntags, log_floor, now, err);
	strata_arena_free(ta);
	return rc;
}

int strata_mf_forget_deleted(strata_mf *mf, uint32_t table_id, const uint64_t *ids, size_t n,
			     strata_err *err)
{
	forget_ctx c = {.table_id = table_id, .ids = ids, .n = n};
	return mf_write(mf, forget_body, &c, err);
}

typedef struct expire_ctx {
	uint32_t table_id;
	uint64_t below;
	uint64_t clean_version; /* the kept clean (0: the table's version) */
	int64_t trash_us;       /* > 0: keep the records in the trash */
	size_t expired;
} expire_ctx;

static int expire_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	expire_ctx *c = vctx;
	strata_table_def t;
	int rc = table_by_id(mf, txn, c->table_id, &t, err);
	if (rc)
		return rc;
	if (c->below > t.version)
		c->below = t.version; /* the current version is never expired */
	if (c->below <= t.log_start)
		return MF_ABORT_OK;
	strata_arena *a = strata_arena_new();
	strata_tag *tags;
	size_t ntags;
	uint64_t cv = c->clean_version ? c->clean_version : t.version;
	uint32_t nkept = 0;
	rc = mf_txn_tags(mf, txn, t.id, a, &tags, &ntags, err);
	for (uint64_t v = t.log_start; rc == 0 && v < c->below; v++) {
		bool is_tagged = false;
		for (size_t i = 0; i < ntags; i++)
			if (tags[i].version == v)
				is_tagged = true;
		if (is_tagged)
			continue;
		mf_key k = {.n = 0};
		mf_key_u32(&k, t.id);
		mf_key_u64(&k, v);
		MDB_val key = mf_val(&k), val;
		int grc = mf_get(txn, DB_VERSIONS, &key, &val);
		if (grc == MDB_NOTFOUND)
			continue;
		if (grc) {
			rc = mf_kv_err(err, grc, "read version");
			break;
		}
		strata_version_rec r;
		char token[STRATA_TOKEN_MAX + 1];
		if (mf_version_dec(&val, NULL, &r, token, sizeof(token))) {
			rc = strata_err_set(err, STRATA_ECORRUPT, "version record %llu is damaged",
					    (unsigned long long)v);
			break;
		}
		if (c->trash_us > 0) {
			/* invariant 9: moved into the trash, not dropped */
			mf_key xk;
			trash_key_version(&xk, t.id, cv, v);
			void *copy = strata_arena_dup(a, val.mv_data, val.mv_size);
			rc = mf_txn_put(mf, txn, DB_TRASH, &xk, copy, val.mv_size, err);
			if (rc)
				break;
			nkept++;
		}
		mf_key tk = {.n = 0};
		mf_key_u32(&tk, t.id);
		mf_key_u64(&tk, (uint64_t)r.ts_us ^ (1ull << 63));
		rc = mf_txn_del(mf, txn, DB_VTIMES, &tk, err);
		/* invariant 4: the token stays (strata_mf_tokens_prune) */
		if (rc == 0)
			rc = mf_txn_del(mf, txn, DB_VERSIONS, &k, err);
		c->expired++;
	}
	if (rc == 0 && c->trash_us > 0) {
		/* the kept clean: made by the marking commit, or here */
		int64_t now = mf_tx_now(txn);
		strata_trash_unit u;
		rc = trash_unit_get(mf, txn, t.id, cv, a, &u, err);
		if (rc == STRATA_ENOTFOUND) {
			memset(&u, 0, sizeof(u));
			u.clean_version = cv;
			u.created_us = now;
			rc = 0;
		}
		if (rc == 0) {
			if (u.log_to == 0)
				u.log_from = t.log_start;
			u.log_to = c->below;
			u.nversions += nkept;
			if (u.expires_us < now + c->trash_us)
				u.expires_us = now + c->trash_us;
			rc = trash_unit_put(mf, txn, t.id, &u, err);
		}
	}
	strata_arena_free(a);
	if (rc)
		return rc;
	t.log_start = c->below;
	return mf_txn_table_put(mf, txn, &t, err);
}

int strata_mf_expire_versions(strata_mf *mf, uint32_t table_id, uint64_t below,
			      size_t *expired, strata_err *err)
{
	return strata_mf_expire_versions_kept(mf, table_id, below, 0, 0, expired, err);
}

int strata_mf_expire_versions_kept(strata_mf *mf, uint32_t table_id, uint64_t below,
				   uint64_t clean_version, int64_t trash_us, size_t *expired,
				   strata_err *err)
{
	expire_ctx c = {.table_id = table_id, .below = below, .clean_version = clean_version,
			.trash_us = trash_us};
	int rc = mf_write(mf, expire_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	if (expired)
		*expired = rc == 0 ? c.expired : 0;
	return rc;
}

/* ---- the trash: dropping kept cleans, undelete ------------------------------------------ */

typedef struct key_list {
	strata_arena *a;
	MDB_val *v;
	size_t n, cap;
} key_list;

static int key_list_push(const MDB_val *key, const MDB_val *val, void *ctx)
{
	(void)val;
	key_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		MDB_val *nv = strata_arena_alloc(l->a, l->cap * sizeof(*nv));
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	l->v[l->n].mv_size = key->mv_size;
	l->v[l->n].mv_data = strata_arena_dup(l->a, key->mv_data, key->mv_size);
	l->n++;
	return 0;
}

/* Delete the kept clean cv of table and its kept version records. */
static int trash_unit_del(strata_mf *mf, mf_tx *txn, uint32_t table, uint64_t cv,
			  strata_arena *a, strata_err *err)
{
	mf_key k;
	trash_key_versions(&k, table, cv);
	key_list l = {.a = a};
	int rc = mf_iter_prefix(mf, txn, DB_TRASH, &k, key_list_push, &l, err);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		mf_key dk = {.n = 0};
		mf_key_bytes(&dk, l.v[i].mv_data, l.v[i].mv_size);
		rc = mf_txn_del(mf, txn, DB_TRASH, &dk, err);
	}
	if (rc == 0) {
		trash_key_unit(&k, table, cv);
		rc = mf_txn_del(mf, txn, DB_TRASH, &k, err);
	}
	return rc;
}

typedef struct trash_drop_ctx {
	uint32_t table_id;
	bool is_all;
	int64_t trash_us;
	size_t dropped;
} trash_drop_ctx;

static int trash_drop_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	trash_drop_ctx *c = vctx;
	c->dropped = 0;
	int64_t now = mf_tx_now(txn);
	strata_arena *a = strata_arena_new();
	strata_trash_unit *us;
	size_t n;
	int rc = mf_txn_trash_units(mf, txn, c->table_id, a, &us, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!c->is_all && strata_trash_unit_end(&us[i], c->trash_us) > now)
			continue;
		rc = trash_unit_del(mf, txn, c->table_id, us[i].clean_version, a, err);
		c->dropped++;
	}
	strata_arena_free(a);
	if (rc == 0 && c->dropped == 0)
		rc = MF_ABORT_OK; /* nothing to commit */
	return rc;
}

int strata_mf_trash_drop(strata_mf *mf, uint32_t table_id, bool is_all, int64_t trash_us,
			 size_t *dropped, strata_err *err)
{
	trash_drop_ctx c = {.table_id = table_id, .is_all = is_all, .trash_us = trash_us};
	int rc = mf_write(mf, trash_drop_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	if (dropped)
		*dropped = rc == 0 ? c.dropped : 0;
	return rc;
}

typedef struct undelete_ctx {
	uint32_t table_id;
	int64_t trash_us;
	uint64_t *cvs; /* descending */
	size_t n;
	size_t nfiles, nversions;
} undelete_ctx;

typedef struct restore_ctx {
	strata_mf *mf;
	mf_tx *txn;
	uint32_t table;
	strata_err *err;
	size_t n;
} restore_ctx;

/* One kept version record back into the log (and its time index). */
static int restore_version(const MDB_val *key, const MDB_val *val, void *ctx)
{
	restore_ctx *r = ctx;
	if (key->mv_size != 21)
		return strata_err_set(r->err, STRATA_ECORRUPT, "a kept version record is damaged");
	uint64_t v = mf_get_u64((const uint8_t *)key->mv_data + 13);
	strata_version_rec rec;
	if (mf_version_dec(val, NULL, &rec, NULL, 0) || rec.version != v)
		return strata_err_set(r->err, STRATA_ECORRUPT, "kept version record %llu is damaged",
				      (unsigned long long)v);
	mf_key k = {.n = 0};
	mf_key_u32(&k, r->table);
	mf_key_u64(&k, v);
	MDB_val vk = mf_val(&k), old;
	int grc = mf_get(r->txn, DB_VERSIONS, &vk, &old);
	if (grc == 0)
		return 0; /* never expired after all (a tagged version) */
	if (grc != MDB_NOTFOUND)
		return mf_kv_err(r->err, grc, "read version");
	/* copy: the value is lent by the trash, written into another db */
	void *copy = strata_malloc(val->mv_size);
	memcpy(copy, val->mv_data, val->mv_size);
	int rc = mf_txn_put(r->mf, r->txn, DB_VERSIONS, &k, copy, val->mv_size, r->err);
	free(copy);
	if (rc)
		return rc;
	mf_key tk = {.n = 0};
	mf_key_u32(&tk, r->table);
	mf_key_u64(&tk, (uint64_t)rec.ts_us ^ (1ull << 63));
	mf_key vv = {.n = 0};
	mf_key_u64(&vv, v);
	rc = mf_txn_put(r->mf, r->txn, DB_VTIMES, &tk, vv.b, vv.n, r->err);
	if (rc == 0)
		r->n++;
	return rc;
}

static int undelete_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	undelete_ctx *c = vctx;
	c->nfiles = c->nversions = 0;
	strata_table_def t;
	int rc = table_by_id(mf, txn, c->table_id, &t, err);
	if (rc)
		return rc;
	int64_t now = mf_tx_now(txn);
	strata_arena *a = strata_arena_new();
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		uint64_t cv = c->cvs[i];
		strata_trash_unit u;
		rc = trash_unit_get(mf, txn, t.id, cv, a, &u, err);
		if (rc == STRATA_ENOTFOUND) {
			rc = strata_err_set(err, rc,
					    "table \"%s\" has no clean at version %llu in its trash "
					    "(undone already, dropped after its trash window, or not a "
					    "clean): nothing was restored",
					    t.name, (unsigned long long)cv);
			break;
		}
		if (rc)
			break;
		int64_t end = strata_trash_unit_end(&u, c->trash_us);
		if (end <= now) {
			rc = strata_err_set(err, STRATA_ERETENTION,
					    "clean version %llu of table \"%s\" left its trash window "
					    "%.0f s ago (clean.trash_s): nothing was restored",
					    (unsigned long long)cv, t.name, (double)(now - end) / 1e6);
			break;
		}
		if (u.log_to) {
			if (t.log_start != u.log_to) {
				rc = strata_err_set(err, STRATA_ECONFLICT,
						    "clean version %llu of table \"%s\" expired versions "
						    "%llu to %llu, but the log now starts at %llu: a later "
						    "clean expired the versions in between; undelete it "
						    "first (or use --all): nothing was restored",
						    (unsigned long long)cv, t.name,
						    (unsigned long long)u.log_from,
						    (unsigned long long)(u.log_to - 1),
						    (unsigned long long)t.log_start);
				break;
			}
			mf_key pk;
			trash_key_versions(&pk, t.id, cv);
			restore_ctx r = {.mf = mf, .txn = txn, .table = t.id, .err = err};
			rc = mf_iter_prefix(mf, txn, DB_TRASH, &pk, restore_version, &r, err);
			if (rc)
				break;
			c->nversions += r.n;
			t.log_start = u.log_from;
		}
		for (uint32_t k = 0; rc == 0 && k < u.nids; k++) {
			strata_file_entry f;
			rc = file_get(mf, txn, u.ids[k], &f, err);
			if (rc == STRATA_ENOTFOUND) {
				rc = strata_err_set(err, STRATA_ECONFLICT,
						    "file %llu that clean version %llu of table \"%s\" "
						    "deleted is no longer in the manifest (its file left "
						    "the trash): nothing was restored",
						    (unsigned long long)u.ids[k], (unsigned long long)cv,
						    t.name);
				break;
			}
			if (rc)
				break;
			if (!f.is_deleted) {
				rc = strata_err_set(err, STRATA_ECONFLICT,
						    "file %s (%llu) that clean version %llu of table "
						    "\"%s\" deleted is no longer marked deleted: nothing "
						    "was restored",
						    f.name, (unsigned long long)f.id,
						    (unsigned long long)cv, t.name);
				break;
			}
			/* invariant 5, reverted: removed, not deleted */
			f.is_deleted = false;
			f.deleted_us = 0;
			f.trash_until_us = 0;
			f.is_gone = false; /* never set here: its file was seen */
			rc = file_put(mf, txn, &f, err);
			if (rc == 0)
				c->nfiles++;
		}
		if (rc == 0)
			rc = trash_unit_del(mf, txn, t.id, cv, a, err);
	}
	strata_arena_free(a);
	if (rc == 0)
		rc = mf_txn_table_put(mf, txn, &t, err);
	return rc;
}

static int u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x > y ? -1 : x < y;
}

int strata_mf_undelete(strata_mf *mf, uint32_t table_id, const uint64_t *clean_versions,
		       size_t n, int64_t trash_us, size_t *nfiles, size_t *nversions,
		       strata_err *err)
{
	undelete_ctx c = {.table_id = table_id, .n = n, .trash_us = trash_us};
	c.cvs = strata_calloc(n + 1, sizeof(uint64_t));
	if (n)
		memcpy(c.cvs, clean_versions, n * sizeof(uint64_t));
	if (n > 1)
		qsort(c.cvs, n, sizeof(uint64_t), u64_desc);
	int rc = mf_write(mf, undelete_body, &c, err);
	free(c.cvs);
	if (nfiles)
		*nfiles = rc == 0 ? c.nfiles : 0;
	if (nversions)
		*nversions = rc == 0 ? c.nversions : 0;
	return rc;
}

/* ---- token horizon ------------------------------------------------------------------------- */

#define TOKENS_PRUNE_EVERY_US (3600ll * 1000000)

typedef struct prune_ctx {
	uint32_t table_id;
	size_t pruned;
} prune_ctx;

static int prune_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	prune_ctx *c = vctx;
	strata_table_def t;
	int rc = table_by_id(mf, txn, c->table_id, &t, err);
	if (rc)
		return rc;
	int64_t now = mf_tx_now(txn);
	if (t.tokens_pruned_us && now - t.tokens_pruned_us < TOKENS_PRUNE_EVERY_US &&
	    now >= t.tokens_pruned_us)
		return MF_ABORT_OK;
	int64_t cutoff = now - (int64_t)t.token_retain_hours * 3600 * 1000000;
	mf_cur *cur;
	rc = mf_cur_open(txn, DB_TOKENS, &cur);
	if (rc)
		return mf_kv_err(err, rc, "open a token cursor");
	mf_key k = {.n = 0};
	mf_key_u32(&k, t.id);
	MDB_val key = mf_val(&k), val;
	int grc = mf_cur_get(cur, &key, &val, MDB_SET_RANGE);
	while (grc == 0 && key.mv_size >= 4 && mf_get_u32(key.mv_data) == t.id) {
		int64_t ts_us;
		if (val.mv_size >= 16) {
			ts_us = (int64_t)mf_get_u64((const uint8_t *)val.mv_data + 8);
		} else {
			/* a record from before the horizon: its version's time, or
			 * keep it (its version is still in the log: expiry used to
			 * drop the token with it) */
			ts_us = now;
			mf_key vk = {.n = 0};
			mf_key_u32(&vk, t.id);
			mf_key_u64(&vk, val.mv_size == 8 ? mf_get_u64(val.mv_data) : 0);
			MDB_val vkey = mf_val(&vk), vval;
			strata_version_rec r;
			if (mf_get(txn, DB_VERSIONS, &vkey, &vval) == 0 &&
			    mf_version_dec(&vval, NULL, &r, NULL, 0) == 0)
				ts_us = r.ts_us;
		}
		if (ts_us < cutoff) {
			rc = mf_cur_del(cur);
			if (rc) {
				rc = mf_kv_err(err, rc, "forget a token");
				break;
			}
			c->pruned++;
		}
		grc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	mf_cur_close(cur);
	if (rc)
		return rc;
	if (grc && grc != MDB_NOTFOUND)
		return mf_kv_err(err, grc, "read tokens");
	/* the refusal bound covers every batch whose token this (or an
	 * earlier) prune may have forgotten; it only rises */
	if (c->pruned && cutoff + STRATA_TOKEN_SKEW_US > t.token_floor_us)
		t.token_floor_us = cutoff + STRATA_TOKEN_SKEW_US;
	t.tokens_pruned_us = now;
	return mf_txn_table_put(mf, txn, &t, err);
}

int strata_mf_tokens_prune(strata_mf *mf, uint32_t table_id, size_t *pruned, strata_err *err)
{
	prune_ctx c = {.table_id = table_id};
	int rc = mf_write(mf, prune_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	if (pruned)
		*pruned = rc == 0 ? c.pruned : 0;
	return rc;
}

/* ---- claims, intents, job ids ----------------------------------------------------------- */

typedef struct claim_ctx {
	uint32_t table, part, bucket;
	const char *owner;
	uint64_t job_id;
	int64_t ttl_us;
	bool is_release;
	bool is_new;   /* allocate job_id first */
	bool is_renew; /* only extend a claim the job still holds */
} claim_ctx;

static int claim_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	claim_ctx *c = vctx;
	if (c->is_new) {
		int jrc = mf_txn_counter_next(mf, txn, "next_job_id", &c->job_id, err);
		if (jrc)
			return jrc;
	}
	mf_key k = {.n = 0};
	mf_key_u32(&k, c->table);
	mf_key_u32(&k, c->part);
	mf_key_u32(&k, c->bucket);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_CLAIMS, &key, &val);
	int64_t now = mf_tx_now(txn);
	strata_claim cl;
	bool has = false;
	if (rc == 0) {
		if (mf_claim_dec(&val, &cl))
			return strata_err_set(err, STRATA_ECORRUPT, "claim record is damaged");
		has = true;
	} else if (rc != MDB_NOTFOUND) {
		return mf_kv_err(err, rc, "read claim");
	}
	if (c->is_release) {
		if (has && cl.job_id == c->job_id)
			return mf_txn_del(mf, txn, DB_CLAIMS, &k, err);
		return MF_ABORT_OK;
	}
	if (c->is_renew && (!has || cl.job_id != c->job_id))
		/* invariant 8: a claim lost is never renewed back */
		return strata_err_set(err, STRATA_ECONFLICT,
				      "job %llu lost its claim of bucket %u of partition %u (taken "
				      "over or recovered as crashed)",
				      (unsigned long long)c->job_id, c->bucket, c->part);
	if (c->is_renew && cl.expires_us <= now)
		/* invariant 8: an expired claim is lost too, even when nobody took
		 * it yet (a process resumed after SIGSTOP must not go on) */
		return strata_err_set(err, STRATA_ECONFLICT,
				      "job %llu's claim of bucket %u of partition %u expired %.1f s ago "
				      "(the process was stopped or too slow to renew it)",
				      (unsigned long long)c->job_id, c->bucket, c->part,
				      (double)(now - cl.expires_us) / 1e6);
	/* invariant 7: a claim of a process of this host that died (kill -9,
	 * power cut) is free, not held until it expires */
	bool is_dead = has && cl.job_id != c->job_id && cl.expires_us > now &&
		       strata_owner_is_dead(cl.owner);
	if (is_dead)
		LOG_WARN("claim of bucket %u of partition %u by %s (job %llu) taken over: its "
			 "process is gone",
			 c->bucket, c->part, cl.owner, (unsigned long long)cl.job_id);
	if (has && cl.job_id != c->job_id && cl.expires_us > now && !is_dead)
		return strata_err_set(err, STRATA_EBUSY,
				      "bucket %u of partition %u is claimed by %s (job %llu) for "
				      "another %.1f s",
				      c->bucket, c->part, cl.owner, (unsigned long long)cl.job_id,
				      (double)(cl.expires_us - now) / 1e6);
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.owner, sizeof(cl.owner), "%s", c->owner);
	cl.job_id = c->job_id;
	cl.expires_us = now + c->ttl_us;
	strata_buf b = {0};
	mf_claim_enc(&cl, &b);
	rc = mf_txn_put(mf, txn, DB_CLAIMS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

int strata_mf_claim(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		    const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err)
{
	claim_ctx c = {.table = table_id, .part = part_id, .bucket = bucket, .owner = owner,
		       .job_id = job_id, .ttl_us = ttl_us};
	return mf_write(mf, claim_body, &c, err);
}

int strata_mf_claim_renew(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
			  const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err)
{
	claim_ctx c = {.table = table_id, .part = part_id, .bucket = bucket, .owner = owner,
		       .job_id = job_id, .ttl_us = ttl_us, .is_renew = true};
	return mf_write(mf, claim_body, &c, err);
}

int strata_mf_claim_new(strata_mf *mf, uint32_t table_id, uint32_t part_id, uint32_t bucket,
			const char *owner, int64_t ttl_us, uint64_t *job_id, strata_err *err)
{
	claim_ctx c = {.table = table_id, .part = part_id, .bucket = bucket, .owner = owner,
		       .ttl_us = ttl_us, .is_new = true};
	int rc = mf_write(mf, claim_body, &c, err);
	if (rc == 0)
		*job_id = c.job_id;
	return rc;
}

int strata_mf_claim_release(strata_mf *mf, uint32_t table_id, uint32_t part_id,
			    uint32_t bucket, uint64_t job_id, strata_err *err)
{
	claim_ctx c = {.table = table_id, .part = part_id, .bucket = bucket, .job_id = job_id,
		       .is_release = true};
	int rc = mf_write(mf, claim_body, &c, err);
	return rc == MF_ABORT_OK ? 0 : rc;
}

typedef struct jobid_ctx {
	uint64_t id;
} jobid_ctx;

static int jobid_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	jobid_ctx *c = vctx;
	return mf_txn_counter_next(mf, txn, "next_job_id", &c->id, err);
}

int strata_mf_job_id_next(strata_mf *mf, uint64_t *job_id, strata_err *err)
{
	jobid_ctx c = {0};
	int rc = mf_write(mf, jobid_body, &c, err);
	if (rc == 0)
		*job_id = c.id;
	return rc;
}

static int intent_put_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	const strata_intent *in = vctx;
	strata_buf b = {0};
	mf_intent_enc(in, &b);
	mf_key k = {.n = 0};
	mf_key_u64(&k, in->job_id);
	int rc = mf_txn_put(mf, txn, DB_INTENTS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

int strata_mf_intent_put(strata_mf *mf, const strata_intent *in, strata_err *err)
{
	return mf_write(mf, intent_put_body, (void *)in, err);
}

static int intent_del_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u64(&k, *(uint64_t *)vctx);
	return mf_txn_del(mf, txn, DB_INTENTS, &k, err);
}

int strata_mf_intent_del(strata_mf *mf, uint64_t job_id, strata_err *err)
{
	return mf_write(mf, intent_del_body, &job_id, err);
}

typedef struct abandon_ctx {
	uint64_t job_id;
	bool is_abandoned;
} abandon_ctx;

static int abandon_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	abandon_ctx *c = vctx;
	c->is_abandoned = false;
	mf_key ik = {.n = 0};
	mf_key_u64(&ik, c->job_id);
	MDB_val key = mf_val(&ik), val;
	int rc = mf_get(txn, DB_INTENTS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return MF_ABORT_OK; /* committed or recovered meanwhile */
	if (rc)
		return mf_kv_err(err, rc, "read intent");
	strata_arena *a = strata_arena_new();
	strata_intent in;
	if (mf_intent_dec(&val, a, &in)) {
		strata_arena_free(a);
		return strata_err_set(err, STRATA_ECORRUPT, "intent of job %llu is damaged",
				      (unsigned long long)c->job_id);
	}
	bool is_own_dead = strata_owner_is_dead(in.owner);
	mf_key ck = {.n = 0};
	mf_key_u32(&ck, in.table_id);
	mf_key_u32(&ck, in.part_id);
	mf_key_u32(&ck, in.bucket);
	strata_arena_free(a);
	key = mf_val(&ck);
	rc = mf_get(txn, DB_CLAIMS, &key, &val);
	strata_claim cl;
	bool has = rc == 0 && mf_claim_dec(&val, &cl) == 0 && cl.job_id == c->job_id;
	if (rc && rc != MDB_NOTFOUND)
		return mf_kv_err(err, rc, "read claim");
	if (has && cl.expires_us > mf_tx_now(txn) && !is_own_dead)
		return MF_ABORT_OK; /* alive */
	c->is_abandoned = true;
	if (!has)
		return MF_ABORT_OK; /* nothing to change: it can no longer commit */
	return mf_txn_del(mf, txn, DB_CLAIMS, &ck, err); /* invariant 8 */
}

int strata_mf_intent_abandon(strata_mf *mf, uint64_t job_id, bool *is_abandoned,
			     strata_err *err)
{
	abandon_ctx c = {.job_id = job_id};
	int rc = mf_write(mf, abandon_body, &c, err);
	if (rc == MF_ABORT_OK)
		rc = 0;
	*is_abandoned = rc == 0 && c.is_abandoned;
	return rc;
}

/* ---- tags ------------------------------------------------------------------------------------- */

typedef struct tag_ctx {
	const char *table;
	const char *tag;
	uint64_t version;
	bool is_delete;
} tag_ctx;

/* Every bucket of the table must resolve v today. */
static int check_readable(strata_mf *mf, mf_tx *txn, const strata_table_def *t, uint64_t v,
			  strata_err *err)
{
	mf_key pk = {.n = 0};
	mf_key_u32(&pk, t->id);
	mf_cur *cur;
	int rc = mf_cur_open(txn, DB_PARTS, &cur);
	if (rc)
		return mf_kv_err(err, rc, "open cursor");
	MDB_val key = mf_val(&pk), val;
	int crc = mf_cur_get(cur, &key, &val, MDB_SET_RANGE);
	rc = 0;
	strata_arena *a = strata_arena_new();
	while (crc == 0 && rc == 0 && key.mv_size == 8 && mf_get_u32(key.mv_data) == t->id) {
		strata_partition p;
		if (mf_part_dec(&val, &p)) {
			rc = strata_err_set(err, STRATA_ECORRUPT, "partition record is damaged");
			break;
		}
		for (uint32_t b = 0; rc == 0 && b < p.buckets; b++) {
			strata_bucket_state bs;
			strata_file_entry *files;
			size_t n;
			rc = mf_txn_bucket_get(mf, txn, t->id, p.id, b, &bs, err);
			if (rc == 0)
				rc = mf_txn_bucket_files(mf, txn, t->id, p.id, b, a, &files, &n, err);
			uint64_t l;
			if (rc == 0 && strata_mf_resolve(&bs, files, n, t->version, v, false, &l))
				rc = strata_err_set(err, STRATA_ERETENTION,
						    "version %llu of \"%s\" is outside the retention "
						    "window",
						    (unsigned long long)v, t->name);
			strata_arena_reset(a);
		}
		crc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	strata_arena_free(a);
	mf_cur_close(cur);
	return rc;
}

static int tag_body(strata_mf *mf, mf_tx *txn, void *vctx, strata_err *err)
{
	tag_ctx *c = vctx;
	strata_table_def t;
	int rc = mf_txn_table_get(mf, txn, c->table, &t, err);
	if (rc)
		return rc;
	mf_key k = {.n = 0};
	mf_key_u32(&k, t.id);
	mf_key_bytes(&k, c->tag, strlen(c->tag));
	MDB_val key = mf_val(&k), val;
	rc = mf_get(txn, DB_TAGS, &key, &val);
	if (c->is_delete) {
		if (rc == MDB_NOTFOUND)
			return strata_err_set(err, STRATA_ENOTFOUND, "table \"%s\" has no tag \"%s\"",
					      t.name, c->tag);
		return mf_txn_del(mf, txn, DB_TAGS, &k, err);
	}
	if (rc == 0)
		return strata_err_set(err, STRATA_EEXIST, "tag \"%s\" of \"%s\" already exists",
				      c->tag, t.name);
	if (c->version == 0)
		c->version = t.version;
	if (c->version > t.version)
		return strata_err_set(err, STRATA_EINVAL,
				      "version %llu of \"%s\" does not exist yet (latest %llu)",
				      (unsigned long long)c->version, t.name,
				      (unsigned long long)t.version);
	if (c->version < t.log_start)
		return strata_err_set(err, STRATA_ERETENTION,
				      "version %llu of \"%s\" is outside the retention window "
				      "(oldest in the log: %llu)",
				      (unsigned long long)c->version, t.name,
				      (unsigned long long)t.log_start);
	rc = check_readable(mf, txn, &t, c->version, err);
	if (rc)
		return rc;
	strata_tag tag;
	memset(&tag, 0, sizeof(tag));
	snprintf(tag.name, sizeof(tag.name), "%s", c->tag);
	tag.version = c->version;
	tag.created_us = mf_tx_now(txn);
	strata_buf b = {0};
	mf_tag_enc(&tag, &b);
	rc = mf_txn_put(mf, txn, DB_TAGS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

int strata_mf_tag_put(strata_mf *mf, const char *table, const char *tag, uint64_t version,
		      strata_err *err)
{
	int rc = strata_name_check(tag, "tag name", err);
	if (rc)
		return rc;
	tag_ctx c = {.table = table, .tag = tag, .version = version};
	return mf_write(mf, tag_body, &c, err);
}

int strata_mf_tag_del(strata_mf *mf, const char *table, const char *tag, strata_err *err)
{
	tag_ctx c = {.table = table, .tag = tag, .is_delete = true};
	return mf_write(mf, tag_body, &c, err);
}
