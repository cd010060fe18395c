/*
 * table/lifecycle.c — rollback to an older version and partition drops.
 *
 * Rollback.  `strata rollback NAME --to-version V` commits one new version R
 * whose reads equal the reads at V, data and schema.  It never rewrites the
 * log and never resurrects a file: R is a writer commit (kind rollback) of
 * row files holding the difference between the reads at V and at the
 * current version L — for each key, V's row as an upsert where L shows
 * something else, a delete where V had no row — plus V's schema recorded
 * as a new schema version in the same transaction.  Why this shape
 * (docs/ARCHITECTURE.md, "Rollback and partition drops", says it at
 * length):
 *   - history floors, leases, clean and tags are untouched: R only adds
 *     files, like any write, so every read at or below L resolves exactly
 *     as before and time travel into (V, L] works until retention;
 *   - `changes` across R reports each undone record as what it became (an
 *     upsert with V's values, or a delete), with _seq = R;
 *   - jobs planned before R and committing after it conflict: R raises the
 *     schema version (invariant 2 of manifest/commit.c);
 *   - writers racing it: R commits with expect_version = L, so a write or
 *     DDL between the two reads and the commit makes it fail with
 *     STRATA_ECONFLICT (nothing committed; run it again).
 *
 * The difference is a streaming merge-join: both reads come out partition
 * by partition (id order), bucket by bucket, key order within a bucket
 * (table.h), so they are walked side by side in (partition id, bucket,
 * encoded key) order; memory holds only the difference, buffered by the
 * writer transaction.  A row of L is equal to V's row when every column of
 * V's schema is in L's schema (same id and type) with an equal value;
 * otherwise (a column dropped or added between them) V's row is written
 * again — never wrong, at worst an upsert that changes nothing.
 *
 * Invariants:
 *   1. nothing is committed unless V is readable (inside retention, or
 *      tagged), 1 <= V < L, and the table is still at L's data version and
 *      schema at commit time;
 *   2. after the commit, a read at R equals the read at V, row for row;
 *   3. R's schema is V's (names, columns, ids) except that a column widened
 *      after V keeps its wider type (docs/CLI.md, alter-column): the files
 *      written since hold it, readers only ever widen, and every value of
 *      V reads the same in the wider type.
 *
 * Partition drop: strata_mf_drop_partition() does it all in one manifest
 * commit; this file only turns the user's spec into the escaped name.
 *
 * Thread safety: as a writer transaction (one thread per call).
 */
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

/* One side of the merge-join: a scan and its current row, copied. */
typedef struct rb_side {
	strata_scan *scan;
	const strata_schema *schema;
	strata_arena *arena;
	bool is_done;
	strata_row row;
	const char *values[STRATA_MAX_PART_COLS + 1];
	uint32_t part_id;
	uint32_t bucket;
	strata_buf key;
} rb_side;

typedef struct rb_parts {
	strata_partition *p;
	size_t n;
} rb_parts;

static int rb_part_of(const strata_table_def *def, const rb_parts *ps,
		      const char *const *values, uint32_t *id, uint32_t *buckets, strata_err *err)
{
	static const char *none[1] = {NULL};
	char name[STRATA_PART_NAME_MAX];
	int rc = strata_partition_name(def, values ? values : none, name, sizeof(name), err);
	if (rc)
		return rc;
	for (size_t i = 0; i < ps->n; i++) {
		if (strcmp(ps->p[i].name, name) == 0) {
			*id = ps->p[i].id;
			*buckets = ps->p[i].buckets;
			return 0;
		}
	}
	return strata_err_set(err, STRATA_ECORRUPT,
			      "a read of \"%s\" returned a row of unknown partition \"%s\"",
			      def->name, name);
}

/* Advance a side to its next row (copied into its arena). */
static int rb_next(rb_side *s, const strata_table_def *def, const rb_parts *ps, strata_err *err)
{
	const strata_row *row;
	const char *const *pv;
	int rc = strata_scan_next(s->scan, &row, &pv, err);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		s->is_done = true;
		return 0;
	}
	strata_arena_reset(s->arena);
	strata_row_copy(s->arena, s->schema, row, &s->row);
	memset(s->values, 0, sizeof(s->values));
	for (uint32_t i = 0; pv && i < def->nparts && pv[i]; i++)
		s->values[i] = strata_arena_strdup(s->arena, pv[i]);
	uint32_t buckets = 1;
	rc = rb_part_of(def, ps, s->values, &s->part_id, &buckets, err);
	if (rc)
		return rc;
	strata_buf_reset(&s->key);
	rc = strata_key_encode(s->schema, &s->row, &s->key, err);
	if (rc)
		return rc;
	s->bucket = (uint32_t)(strata_hash64(s->key.data, s->key.len) % buckets);
	return 0;
}

static int rb_cmp(const rb_side *a, const rb_side *b)
{
	if (a->part_id != b->part_id)
		return a->part_id < b->part_id ? -1 : 1;
	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	return strata_key_cmp(a->key.data, a->key.len, b->key.data, b->key.len);
}

/* Whether L's row shows exactly what V's row shows under V's schema. */
static bool rb_rows_equal(const strata_schema *vs, const strata_row *vr, const strata_schema *ls,
			  const strata_row *lr)
{
	for (uint32_t i = 0; i < vs->ncols; i++) {
		int j = strata_schema_find_id(ls, vs->cols[i].id);
		if (j < 0 || ls->cols[j].type != vs->cols[i].type)
			return false;
		if (!strata_value_eq(vs->cols[i].type, &vr->vals[i], &lr->vals[j]))
			return false;
	}
	return true;
}

/* V's row (layout of vs) in the types of rs, in place: a column widened
 * after V (rs keeps the wider type, see strata_table_rollback) converts. */
static void rb_widen_row(const strata_schema *vs, const strata_schema *rs, strata_row *row)
{
	for (uint32_t i = 0; i < vs->ncols && i < rs->ncols; i++) {
		strata_value *v = &row->vals[i];
		if (v->is_null || vs->cols[i].type == rs->cols[i].type)
			continue;
		if (vs->cols[i].type == STRATA_T_INT && rs->cols[i].type == STRATA_T_LONG)
			v->v.i64 = v->v.i32;
		else if (vs->cols[i].type == STRATA_T_FLOAT && rs->cols[i].type == STRATA_T_DOUBLE)
			v->v.f64 = (double)v->v.f32;
	}
}

/* A delete of L's row in the layout of schema rs (key columns by id). */
static int rb_put_delete(strata_txn *t, const strata_schema *rs, const rb_side *l,
			 strata_arena *a, strata_err *err)
{
	strata_row d;
	d.seq = 0;
	d.op = STRATA_OP_DELETE;
	d.ncols = rs->ncols;
	d.vals = strata_arena_alloc(a, (rs->ncols + 1) * sizeof(strata_value));
	for (uint32_t i = 0; i < rs->ncols; i++) {
		d.vals[i].is_null = true;
		if (rs->cols[i].key_pos < 0)
			continue;
		int j = strata_schema_find_id(l->schema, rs->cols[i].id);
		if (j < 0)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "key column \"%s\" is missing from the current schema",
					      rs->cols[i].name);
		d.vals[i] = l->row.vals[j];
	}
	return strata_txn_put(t, l->values, &d, err);
}

int strata_table_rollback(strata_wh *wh, const char *table, uint64_t to_version,
			  const char *to_tag, uint64_t *version, strata_rollback_stats *st,
			  strata_err *err)
{
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_schema *vs = NULL, *ls = NULL, *rs = NULL;
	strata_txn *txn = NULL;
	rb_side sv = {0}, sl = {0};
	rb_parts ps = {0};
	strata_table_def def;
	strata_rollback_stats stats = {0};
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		goto out;
	rc = strata_mf_table_get(snap, table, &def, err);
	if (rc)
		goto out;
	uint64_t l = def.version, v = to_version;
	if (to_tag) {
		strata_tag tag;
		rc = strata_mf_tag_get(snap, def.id, to_tag, &tag, err);
		if (rc == STRATA_ENOTFOUND)
			rc = strata_err_set(err, STRATA_ENOTFOUND,
					    "table \"%s\" has no tag \"%s\" (strata tags %s lists them); "
					    "nothing was committed",
					    table, to_tag, table);
		if (rc)
			goto out;
		v = tag.version;
	}
	stats.to_version = v;
	stats.from_version = l;
	if (v == 0 || v > l) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "cannot roll back \"%s\" to version %llu: the table is at version %llu "
				    "(a rollback goes to an earlier version); nothing was committed",
				    table, (unsigned long long)v, (unsigned long long)l);
		goto out;
	}
	if (v == l) {
		*version = l; /* already there: nothing to commit */
		stats.is_noop = true;
		goto out;
	}
	rc = strata_mf_schema_at(snap, &def, v, &vs, err);
	if (rc == 0)
		rc = strata_mf_schema_get(snap, def.id, def.schema_version, &ls, err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, def.id, a, &ps.p, &ps.n, err);
	strata_mf_snap_close(snap);
	snap = NULL;
	if (rc)
		goto out;
	/* invariant 1: V readable (the scan checks retention and tags) */
	strata_read_opts ro = {.as_of_version = to_tag ? 0 : v, .as_of_tag = to_tag};
	rc = strata_scan_open(wh, table, &ro, &sv.scan, err);
	if (rc == STRATA_ERETENTION) {
		char msg[STRATA_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		rc = strata_err_set(err, STRATA_ERETENTION,
				    "cannot roll back \"%s\" to version %llu: %s; nothing was committed",
				    table, (unsigned long long)v, msg);
	}
	if (rc)
		goto out;
	strata_read_opts lo = {.as_of_version = l};
	rc = strata_scan_open(wh, table, &lo, &sl.scan, err);
	if (rc)
		goto out;
	sv.schema = vs;
	sl.schema = ls;
	sv.arena = strata_arena_new();
	sl.arena = strata_arena_new();
	rs = strata_schema_dup(vs);
	rs->version = def.schema_version + 1;
	/* a column widened after V keeps its wider type (invariant 3): files
	 * written since hold values of it, and a type never narrows */
	for (uint32_t i = 0; i < rs->ncols; i++) {
		int j = strata_schema_find_id(ls, rs->cols[i].id);
		if (j >= 0 && strata_column_type_widens(&rs->cols[i], &ls->cols[j])) {
			rs->cols[i].type = ls->cols[j].type;
			rs->cols[i].precision = ls->cols[j].precision;
			rs->cols[i].scale = ls->cols[j].scale;
		}
	}
	rc = strata_txn_begin(wh, table, &txn, err);
	if (rc)
		goto out;
	char note[160];
	snprintf(note, sizeof(note), "rollback to %llu", (unsigned long long)v);
	strata_txn_set_rollback(txn, rs, note);
	rc = rb_next(&sv, &def, &ps, err);
	if (rc == 0)
		rc = rb_next(&sl, &def, &ps, err);
	strata_arena *tmp = strata_arena_new();
	while (rc == 0 && !(sv.is_done && sl.is_done)) {
		int c = sv.is_done ? 1 : sl.is_done ? -1 : rb_cmp(&sv, &sl);
		strata_arena_reset(tmp);
		if (c < 0) { /* only at V: bring it back */
			rb_widen_row(vs, rs, &sv.row);
			rc = strata_txn_put(txn, sv.values, &sv.row, err);
			stats.upserts++;
			if (rc == 0)
				rc = rb_next(&sv, &def, &ps, err);
		} else if (c > 0) { /* only at L: delete it */
			rc = rb_put_delete(txn, rs, &sl, tmp, err);
			stats.deletes++;
			if (rc == 0)
				rc = rb_next(&sl, &def, &ps, err);
		} else {
			if (!rb_rows_equal(vs, &sv.row, ls, &sl.row)) {
				rb_widen_row(vs, rs, &sv.row);
				rc = strata_txn_put(txn, sv.values, &sv.row, err);
				stats.upserts++;
			}
			if (rc == 0)
				rc = rb_next(&sv, &def, &ps, err);
			if (rc == 0)
				rc = rb_next(&sl, &def, &ps, err);
		}
	}
	strata_arena_free(tmp);
	if (rc)
		goto out;
	/* invariant 1: still at L when it commits */
	strata_commit_opts co = {.expect_version = l};
	strata_txn *t = txn;
	txn = NULL; /* commit frees it */
	rc = strata_txn_commit(t, &co, version, NULL, err);
	if (rc == STRATA_ECONFLICT) {
		char msg[STRATA_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "the rollback of \"%s\" to version %llu lost a race (%s); nothing "
				    "was committed, run it again",
				    table, (unsigned long long)v, msg);
	}
out:
	if (st)
		*st = stats;
	strata_txn_abort(txn);
	strata_scan_close(sv.scan);
	strata_scan_close(sl.scan);
	strata_arena_free(sv.arena);
	strata_arena_free(sl.arena);
	strata_buf_free(&sv.key);
	strata_buf_free(&sl.key);
	strata_schema_free(vs);
	strata_schema_free(ls);
	strata_schema_free(rs);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return rc;
}

int strata_table_drop_partition(strata_wh *wh, const char *table, const char *spec,
				uint64_t *version, size_t *nfiles, strata_err *err)
{
	strata_mf_snap *snap = NULL;
	strata_table_def def;
	char name[STRATA_PART_NAME_MAX];
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	rc = strata_mf_table_get(snap, table, &def, err);
	strata_mf_snap_close(snap);
	if (rc)
		return rc;
	if (def.nparts == 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "table \"%s\" is not partitioned: there is no partition to drop",
				      table);
	rc = strata_partition_spec(&def, spec, name, sizeof(name), err);
	if (rc)
		return rc;
	return strata_mf_drop_partition(wh->mf, table, name, version, nfiles, err);
}
