/*
 * table/colscan.c — columnar reads: a snapshot (or incremental) scan handed
 * out as batches of typed column vectors, bucket by bucket, to any number of
 * threads.  This is the API engine bindings (the DuckDB extension in
 * duckdb/) sit on; it knows nothing about any engine.
 *
 * Design: a columnar scan is a thin layer over the row scan of read.c.
 * strata_colscan_open() plans with strata_scan_open() (or
 * strata_changes_open()) and so inherits its version resolution, retention
 * check and leases unchanged; a cursor then opens, per bucket it claims, the
 * same k-way merge with the LATEST (or KEEP_ALL) rule that strata_scan_next()
 * walks (strata_scan_bucket_merge), and copies each record's selected
 * values into its column arrays.  There is no second merge-on-read.
 *
 * Work sharing: buckets are claimed with an atomic counter over the plan's
 * bucket list, so each bucket is read by exactly one cursor and N cursors on
 * N threads read disjoint buckets.  A batch may span buckets.
 *
 * Keys: a single key is encoded once (the order-preserving encoding of
 * format.h), only the bucket its hash selects in each partition is planned
 * for reading, files whose key range misses it are not opened, and every
 * run is positioned at the key before the merge starts (Parquet runs seek by
 * their page index).  A key range seeks to its low end in every bucket and stops past
 * its high end.
 *
 * Invariants:
 *   1. the rows of all cursors together are exactly the rows
 *      strata_scan_next() returns for the same options (one merge per bucket,
 *      the same rule, the same plan); a key or key range only removes rows
 *      outside it;
 *   2. every planned bucket is read by at most one cursor (the claim counter
 *      only grows) and by exactly one if cursors run until they return 0;
 *   3. the plan's files stay leased until strata_colscan_close(); leases are
 *      renewed (taken afresh, then the old ones released) every
 *      LEASE_RENEW_US while cursors pull, under the scan's mutex;
 *   4. values handed out in a batch stay valid until the cursor's next call:
 *      strings are copied into the cursor's arena, reset per batch.
 *
 * Threads: open and close on one thread; strata_colscan_* getters and
 * cursors (one per thread) concurrently.
 */
#include "table/table_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The read leases of read.c live an hour; renew well before. */
#define LEASE_RENEW_US (20ll * 60 * 1000000)

struct strata_colscan {
	strata_scan *scan;
	const strata_schema *schema; /* full schema at the version (lent by scan) */
	strata_colinfo *cols;
	size_t ncols;
	bool is_changes;
	size_t *buckets; /* plan bucket indexes to read */
	size_t nbuckets;
	atomic_size_t next; /* invariant 2 */
	uint64_t rows_estimate;
	strata_buf lo, hi;
	bool has_lo, has_hi;
	pthread_mutex_t lease_mu;
	int64_t renewed_us;
};

struct strata_colcursor {
	strata_colscan *cs;
	strata_schema *rs;     /* read schema: the selected schema columns + keys */
	uint32_t *src;         /* per output column: index into rs, or the kind's slot */
	strata_colkind *kind;
	strata_colbatch batch;
	size_t max_rows;
	strata_merge *merge;
	size_t bucket;         /* plan bucket index of merge */
	const char *const *part_values;
	strata_arena *strings; /* invariant 4 */
};

/* ---- keys ----------------------------------------------------------------------- */

/* Encode a JSON object of key columns (plus, if parts is not NULL, partition
 * columns, whose values go to parts[]) into out. */
static int key_from_json(const strata_colscan *cs, const char *what, const char *text,
			 const char **parts, strata_arena *a, strata_buf *out, strata_err *err)
{
	const strata_table_def *t = strata_scan_table(cs->scan);
	json_error_t je;
	json_t *obj = json_loads(text, 0, &je);
	int rc = 0;
	if (!json_is_object(obj)) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "%s \"%.100s\" must be a JSON object of the key columns of %s",
				    what, text, t->name);
		goto out;
	}
	for (uint32_t i = 0; i < t->nparts; i++) {
		json_t *pv = json_object_get(obj, t->part_cols[i]);
		if (!pv)
			continue;
		if (!parts || !json_is_string(pv)) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "%s: partition column \"%s\" %s", what, t->part_cols[i],
					    parts ? "must be a string" : "is not allowed here");
			goto out;
		}
		parts[i] = strata_arena_strdup(a, json_string_value(pv));
		json_object_del(obj, t->part_cols[i]);
	}
	const char *k;
	json_t *jv;
	json_object_foreach(obj, k, jv) {
		int idx = strata_schema_find(cs->schema, k);
		if (idx < 0 || cs->schema->cols[idx].key_pos < 0) {
			rc = strata_err_set(err, STRATA_EINVAL, "%s: \"%.80s\" is not a key column of %s",
					    what, k, t->name);
			goto out;
		}
	}
	json_object_set_new(obj, "_op", json_string("delete"));
	strata_row row;
	rc = strata_row_from_json(cs->schema, obj, a, &row, err);
	if (rc == 0)
		rc = strata_key_encode(cs->schema, &row, out, err);
out:
	json_decref(obj);
	return rc;
}

/* Plan which buckets to read: all of the plan, or for a single key the one
 * its hash picks in each (matching) partition. */
static int buckets_choose(strata_colscan *cs, const strata_colscan_opts *opts, strata_err *err)
{
	const strata_table_def *t = strata_scan_table(cs->scan);
	size_t nb = strata_scan_nbuckets(cs->scan);
	cs->buckets = strata_calloc(nb + 1, sizeof(size_t));
	strata_arena *a = strata_arena_new();
	const char *parts[STRATA_MAX_PART_COLS] = {0};
	bool has_key = opts && opts->key_json;
	bool has_part = false;
	char pname[STRATA_PART_NAME_MAX] = "";
	uint64_t h = 0;
	int rc = 0;
	if (has_key) {
		rc = key_from_json(cs, "key", opts->key_json, parts, a, &cs->lo, err);
		if (rc)
			goto out;
		strata_buf_append(&cs->hi, cs->lo.data, cs->lo.len);
		cs->has_lo = cs->has_hi = true;
		h = strata_hash64(cs->lo.data, cs->lo.len);
		size_t given = 0;
		for (uint32_t i = 0; i < t->nparts; i++)
			given += parts[i] != NULL;
		if (given && given != t->nparts) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "key: give every partition column of %s or none",
					    t->name);
			goto out;
		}
		if (given) {
			rc = strata_partition_name(t, parts, pname, sizeof(pname), err);
			if (rc)
				goto out;
			has_part = true;
		}
	} else {
		if (opts && opts->key_lo_json) {
			rc = key_from_json(cs, "key_from", opts->key_lo_json, NULL, a, &cs->lo, err);
			if (rc)
				goto out;
			cs->has_lo = true;
		}
		if (opts && opts->key_hi_json) {
			rc = key_from_json(cs, "key_to", opts->key_hi_json, NULL, a, &cs->hi, err);
			if (rc)
				goto out;
			cs->has_hi = true;
		}
	}
	for (size_t i = 0; i < nb; i++) {
		strata_scan_bucket b;
		strata_scan_bucket_info(cs->scan, i, &b);
		if (has_key) {
			if (b.bucket != (uint32_t)(h % b.part_buckets))
				continue;
			if (has_part && strcmp(b.partition, pname) != 0)
				continue;
		}
		cs->buckets[cs->nbuckets++] = i;
		cs->rows_estimate += b.rows;
	}
	if (has_key && cs->rows_estimate > cs->nbuckets)
		cs->rows_estimate = cs->nbuckets; /* one row per partition at most */
out:
	strata_arena_free(a);
	return rc;
}

/* ---- the scan ------------------------------------------------------------------- */

int strata_colscan_open(strata_wh *wh, const char *table, const strata_colscan_opts *opts,
			strata_colscan **out, strata_err *err)
{
	*out = NULL;
	strata_colscan *cs = strata_calloc(1, sizeof(*cs));
	pthread_mutex_init(&cs->lease_mu, NULL);
	cs->is_changes = opts && opts->is_changes;
	int rc;
	if (cs->is_changes) {
		rc = strata_changes_open(wh, table, opts->v1, opts->v2, opts->read.partition,
					 &cs->scan, err);
	} else {
		strata_read_opts ro = {0};
		if (opts)
			ro = opts->read;
		ro.columns = NULL; /* cursors project */
		rc = strata_scan_open(wh, table, &ro, &cs->scan, err);
	}
	if (rc)
		goto out;
	cs->renewed_us = strata_now_us();
	cs->schema = strata_scan_schema(cs->scan);
	const strata_table_def *t = strata_scan_table(cs->scan);
	cs->ncols = cs->schema->ncols + t->nparts + (cs->is_changes ? 2 : 0);
	cs->cols = strata_calloc(cs->ncols + 1, sizeof(strata_colinfo));
	size_t n = 0;
	for (uint32_t i = 0; i < cs->schema->ncols; i++) {
		const strata_column *c = &cs->schema->cols[i];
		cs->cols[n++] = (strata_colinfo){.name = c->name, .type = c->type,
						  .kind = STRATA_COL_DATA,
						  .is_nullable = c->is_nullable, .key_pos = c->key_pos};
	}
	for (uint32_t i = 0; i < t->nparts; i++)
		cs->cols[n++] = (strata_colinfo){.name = t->part_cols[i], .type = STRATA_T_STRING,
						  .kind = STRATA_COL_PARTITION, .key_pos = -1};
	if (cs->is_changes) {
		cs->cols[n++] = (strata_colinfo){.name = "_seq", .type = STRATA_T_LONG,
						  .kind = STRATA_COL_SEQ, .key_pos = -1};
		cs->cols[n++] = (strata_colinfo){.name = "_op", .type = STRATA_T_STRING,
						  .kind = STRATA_COL_OP, .key_pos = -1};
	}
	rc = buckets_choose(cs, opts, err);
out:
	if (rc)
		strata_colscan_close(cs);
	else
		*out = cs;
	return rc;
}

void strata_colscan_close(strata_colscan *cs)
{
	if (!cs)
		return;
	strata_scan_close(cs->scan); /* invariant 3: releases the leases */
	free(cs->cols);
	free(cs->buckets);
	strata_buf_free(&cs->lo);
	strata_buf_free(&cs->hi);
	pthread_mutex_destroy(&cs->lease_mu);
	free(cs);
}

size_t strata_colscan_ncols(const strata_colscan *cs)
{
	return cs->ncols;
}

const strata_colinfo *strata_colscan_col(const strata_colscan *cs, size_t i)
{
	return i < cs->ncols ? &cs->cols[i] : NULL;
}

uint64_t strata_colscan_version(const strata_colscan *cs)
{
	return strata_scan_version(cs->scan);
}

size_t strata_colscan_nbuckets(const strata_colscan *cs)
{
	return cs->nbuckets;
}

uint64_t strata_colscan_rows_estimate(const strata_colscan *cs)
{
	return cs->rows_estimate;
}

const strata_table_def *strata_colscan_table(const strata_colscan *cs)
{
	return strata_scan_table(cs->scan);
}

/* invariant 3 */
static int leases_maybe_renew(strata_colscan *cs, strata_err *err)
{
	int64_t now = strata_now_us();
	int rc = 0;
	pthread_mutex_lock(&cs->lease_mu);
	if (now - cs->renewed_us >= LEASE_RENEW_US) {
		rc = strata_scan_leases_renew(cs->scan, err);
		if (rc == 0)
			cs->renewed_us = now;
	}
	pthread_mutex_unlock(&cs->lease_mu);
	return rc;
}

/* ---- cursors -------------------------------------------------------------------- */

static size_t type_width(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return sizeof(int64_t);
	case STRATA_T_INT:
		return sizeof(int32_t);
	case STRATA_T_DOUBLE:
		return sizeof(double);
	case STRATA_T_FLOAT:
		return sizeof(float);
	case STRATA_T_BOOL:
		return 1;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
	default:
		return sizeof(strata_colstr);
	}
}

int strata_colcursor_open(strata_colscan *cs, const uint32_t *cols, size_t ncols,
			  size_t max_rows, strata_colcursor **out, strata_err *err)
{
	*out = NULL;
	if (max_rows == 0)
		max_rows = 2048;
	strata_buf names = {0};
	for (size_t j = 0; j < ncols; j++) {
		if (cols[j] >= cs->ncols) {
			strata_buf_free(&names);
			return strata_err_set(err, STRATA_EINVAL,
					      "column index %u is past the %zu columns of the scan",
					      cols[j], cs->ncols);
		}
		if (cs->cols[cols[j]].kind == STRATA_COL_DATA)
			strata_buf_printf(&names, "%s%s", names.len ? "," : "", cs->cols[cols[j]].name);
	}
	strata_buf_putc(&names, 0);
	strata_colcursor *c = strata_calloc(1, sizeof(*c));
	c->cs = cs;
	c->max_rows = max_rows;
	c->strings = strata_arena_new();
	int rc = strata_schema_project(cs->schema, (const char *)names.data, &c->rs, err);
	strata_buf_free(&names);
	if (rc) {
		strata_colcursor_close(c);
		return rc;
	}
	c->src = strata_calloc(ncols + 1, sizeof(uint32_t));
	c->kind = strata_calloc(ncols + 1, sizeof(strata_colkind));
	c->batch.ncols = ncols;
	c->batch.cols = strata_calloc(ncols + 1, sizeof(strata_colvec));
	for (size_t j = 0; j < ncols; j++) {
		const strata_colinfo *ci = &cs->cols[cols[j]];
		c->kind[j] = ci->kind;
		if (ci->kind == STRATA_COL_DATA)
			c->src[j] = (uint32_t)strata_schema_find(c->rs, ci->name);
		else if (ci->kind == STRATA_COL_PARTITION)
			c->src[j] = cols[j] - cs->schema->ncols;
		c->batch.cols[j].type = ci->type;
		c->batch.cols[j].data = strata_calloc(max_rows, type_width(ci->type));
		c->batch.cols[j].nulls = strata_calloc(max_rows, 1);
	}
	*out = c;
	return 0;
}

void strata_colcursor_close(strata_colcursor *c)
{
	if (!c)
		return;
	strata_merge_free(c->merge);
	for (size_t j = 0; j < c->batch.ncols && c->batch.cols; j++) {
		free(c->batch.cols[j].data);
		free(c->batch.cols[j].nulls);
	}
	free(c->batch.cols);
	free(c->src);
	free(c->kind);
	strata_schema_free(c->rs);
	strata_arena_free(c->strings);
	free(c);
}

static void put_str(strata_colcursor *c, strata_colvec *v, size_t r, const void *p, size_t len,
		    bool is_copy)
{
	strata_colstr *s = &((strata_colstr *)v->data)[r];
	s->len = (uint32_t)len;
	s->ptr = is_copy && len ? strata_arena_dup(c->strings, p, len) : (const uint8_t *)p;
}

/* Copy one record into row r of the batch. */
static void row_put(strata_colcursor *c, const strata_row *row, size_t r)
{
	for (size_t j = 0; j < c->batch.ncols; j++) {
		strata_colvec *v = &c->batch.cols[j];
		const strata_value *val = NULL;
		strata_value tmp;
		switch (c->kind[j]) {
		case STRATA_COL_DATA:
			val = &row->vals[c->src[j]];
			break;
		case STRATA_COL_PARTITION: {
			const char *pv = c->part_values ? c->part_values[c->src[j]] : NULL;
			v->nulls[r] = pv == NULL;
			put_str(c, v, r, pv ? pv : "", pv ? strlen(pv) : 0, false);
			continue;
		}
		case STRATA_COL_SEQ:
			tmp.is_null = false;
			tmp.v.i64 = row->seq;
			val = &tmp;
			break;
		case STRATA_COL_OP: {
			const char *op = row->op == STRATA_OP_DELETE ? "delete" : "upsert";
			v->nulls[r] = 0;
			put_str(c, v, r, op, strlen(op), false);
			continue;
		}
		}
		v->nulls[r] = val->is_null;
		switch (v->type) {
		case STRATA_T_LONG:
		case STRATA_T_TIMESTAMP:
			((int64_t *)v->data)[r] = val->is_null ? 0 : val->v.i64;
			break;
		case STRATA_T_INT:
			((int32_t *)v->data)[r] = val->is_null ? 0 : val->v.i32;
			break;
		case STRATA_T_DOUBLE:
			((double *)v->data)[r] = val->is_null ? 0 : val->v.f64;
			break;
		case STRATA_T_FLOAT:
			((float *)v->data)[r] = val->is_null ? 0 : val->v.f32;
			break;
		case STRATA_T_BOOL:
			((uint8_t *)v->data)[r] = !val->is_null && val->v.b;
			break;
		case STRATA_T_STRING:
		case STRATA_T_BYTES:
		default:
			if (val->is_null)
				put_str(c, v, r, NULL, 0, false);
			else
				put_str(c, v, r, val->v.s.ptr, val->v.s.len, true);
			break;
		}
	}
}

/* Claim the next bucket (invariant 2) and open its merge; 0 with c->merge
 * NULL when none is left. */
static int bucket_next(strata_colcursor *c, strata_err *err)
{
	strata_colscan *cs = c->cs;
	size_t i = atomic_fetch_add(&cs->next, 1);
	if (i >= cs->nbuckets)
		return 0;
	c->bucket = cs->buckets[i];
	strata_scan_bucket b;
	strata_scan_bucket_info(cs->scan, c->bucket, &b);
	c->part_values = b.part_values;
	return strata_scan_bucket_merge(cs->scan, c->bucket, c->rs,
				      cs->has_lo ? cs->lo.data : NULL, cs->lo.len,
				      cs->has_hi ? cs->hi.data : NULL, cs->hi.len, &c->merge, err);
}

int strata_colcursor_next(strata_colcursor *c, const strata_colbatch **batch, strata_err *err)
{
	strata_arena_reset(c->strings); /* invariant 4: the last batch is given back */
	strata_colscan *cs = c->cs;
	size_t n = 0;
	int rc = leases_maybe_renew(cs, err);
	if (rc)
		return rc;
	while (n < c->max_rows) {
		if (!c->merge) {
			rc = bucket_next(c, err);
			if (rc || !c->merge)
				break;
		}
		const strata_row *row;
		const uint8_t *key;
		size_t key_len;
		rc = strata_merge_next(c->merge, &row, &key, &key_len, err);
		if (rc == 1 && cs->has_hi && strata_key_cmp(key, key_len, cs->hi.data, cs->hi.len) > 0)
			rc = 0; /* past the high key: the bucket is done */
		if (rc < 0)
			break;
		if (rc == 0) {
			strata_merge_free(c->merge);
			c->merge = NULL;
			continue;
		}
		rc = 0;
		row_put(c, row, n++);
	}
	if (rc < 0)
		return rc;
	c->batch.nrows = n;
	*batch = &c->batch;
	return n > 0;
}
