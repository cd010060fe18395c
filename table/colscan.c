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
 * The fast path: a bucket whose answer needs no merge is read without one.
 * That is a snapshot read (not changes, no key or key range) of a bucket
 * whose planned files are all columnar, each holding every key once and no
 * delete (the manifest's is_compact) with nothing newer than the version
 * read (seq_max <= V), and with pairwise disjoint key ranges: its rows are
 * then exactly the files' rows, in key order file after file.  Each file is
 * decoded a page at a time straight into the cursor's column arrays
 * (strata_pqbatch, format/parquet_batch.c): only the columns asked for, no
 * _seq or _op, no key encoding, strings lent by the decoder instead of
 * copied.  A file the decoder cannot read (STRATA_EUNSUPPORTED at open)
 * sends its bucket down the merge path.  Per-scan counters tell how many
 * buckets each path read (strata_colscan_paths).
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
 *      strings are copied into the cursor's arena, rewound per batch, or (fast
 *      path) lent by decoders released, and closed, only at the next call;
 *   5. the fast path reads a bucket only when no merge could change its
 *      rows (the conditions above, all checked on the plan's entries), and
 *      checks each file's row count and (when the entry has one) content
 *      hash against its entry, as a whole read by the merge path does.
 *
 * Threads: open and close on one thread; strata_colscan_* getters and
 * cursors (one per thread) concurrently.  A cursor decodes without any
 * lock: the plan is read-only once open, each cursor owns its merge or
 * decoders and their buffers (reused from batch to batch), and the only
 * shared writes are the claim counter, the path counters (atomics) and a
 * lease renewal every LEASE_RENEW_US (a mutex, tried only when due).
 */
#include "table/table_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
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
	_Atomic int64_t renewed_us;
	atomic_uint_fast64_t fast_buckets, merged_buckets;
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
	/* the fast path (invariant 5): the bucket's files in key order */
	strata_pqbatch **pq;
	const strata_file_entry **pqf;
	size_t npq, ipq;
	uint64_t pq_rows;        /* rows read from pq[ipq] */
	strata_pqbatch **spent;  /* finished decoders: closed at the next call */
	size_t nspent, cap_spent;
	bool *want;              /* per rs column: an output column reads it */
	int *first_out;          /* per rs column: the first output column, or -1 */
	void **pdata;            /* per rs column: where a read writes */
	uint8_t **pnulls;
	void **own;              /* per output column: the cursor's own array */
};

_Static_assert(sizeof(strata_colstr) == sizeof(strata_strref) &&
		       offsetof(strata_colstr, ptr) == offsetof(strata_strref, ptr) &&
		       offsetof(strata_colstr, len) == offsetof(strata_strref, len),
	       "the fast path writes strata_strref into strata_colstr arrays");

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
		ro.where = NULL;   /* engines filter batches themselves */
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

void strata_colscan_paths(const strata_colscan *cs, uint64_t *fast, uint64_t *merged)
{
	*fast = atomic_load(&cs->fast_buckets);
	*merged = atomic_load(&cs->merged_buckets);
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
	if (now - atomic_load(&cs->renewed_us) < LEASE_RENEW_US)
		return 0; /* not due: no lock taken */
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

static void fast_retire(strata_colcursor *c);
static void spent_close(strata_colcursor *c);

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
	c->own = strata_calloc(ncols + 1, sizeof(void *));
	for (size_t j = 0; j < ncols; j++) {
		const strata_colinfo *ci = &cs->cols[cols[j]];
		c->kind[j] = ci->kind;
		if (ci->kind == STRATA_COL_DATA)
			c->src[j] = (uint32_t)strata_schema_find(c->rs, ci->name);
		else if (ci->kind == STRATA_COL_PARTITION)
			c->src[j] = cols[j] - cs->schema->ncols;
		c->batch.cols[j].type = ci->type;
		c->batch.cols[j].data = strata_calloc(max_rows, type_width(ci->type));
		c->own[j] = c->batch.cols[j].data;
		c->batch.cols[j].nulls = strata_calloc(max_rows, 1);
	}
	c->want = strata_calloc(c->rs->ncols + 1, sizeof(bool));
	c->first_out = strata_calloc(c->rs->ncols + 1, sizeof(int));
	c->pdata = strata_calloc(c->rs->ncols + 1, sizeof(void *));
	c->pnulls = strata_calloc(c->rs->ncols + 1, sizeof(uint8_t *));
	for (uint32_t i = 0; i < c->rs->ncols; i++)
		c->first_out[i] = -1;
	for (size_t j = 0; j < ncols; j++) {
		if (c->kind[j] != STRATA_COL_DATA || c->first_out[c->src[j]] >= 0)
			continue;
		c->first_out[c->src[j]] = (int)j;
		c->want[c->src[j]] = true;
	}
	*out = c;
	return 0;
}

void strata_colcursor_close(strata_colcursor *c)
{
	if (!c)
		return;
	strata_merge_free(c->merge);
	fast_retire(c);
	spent_close(c);
	free(c->spent);
	free(c->want);
	free(c->first_out);
	free(c->pdata);
	free(c->pnulls);
	for (size_t j = 0; j < c->batch.ncols && c->batch.cols; j++) {
		free(c->own[j]);
		free(c->batch.cols[j].nulls);
	}
	free(c->batch.cols);
	free(c->own);
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

/* ---- the fast path ---------------------------------------------------------------- */

/* Close the decoders given back at the last call (invariant 4). */
static void spent_close(strata_colcursor *c)
{
	for (size_t i = 0; i < c->nspent; i++)
		strata_pqbatch_close(c->spent[i]);
	c->nspent = 0;
}

/* The bucket's decoders are done: they close at the next call (their
 * strings may be in the batch being handed out). */
static void fast_retire(strata_colcursor *c)
{
	for (size_t i = 0; i < c->npq; i++) {
		if (!c->pq[i])
			continue;
		if (c->nspent == c->cap_spent) {
			c->cap_spent = c->cap_spent ? 2 * c->cap_spent : 8;
			c->spent = strata_realloc(c->spent, c->cap_spent * sizeof(strata_pqbatch *));
		}
		c->spent[c->nspent++] = c->pq[i];
	}
	free(c->pq);
	free(c->pqf);
	c->pq = NULL;
	c->pqf = NULL;
	c->npq = c->ipq = 0;
}

static int entry_key_min_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *a = *(const strata_file_entry *const *)pa;
	const strata_file_entry *b = *(const strata_file_entry *const *)pb;
	return strata_key_cmp(a->key_min, a->key_min_len, b->key_min, b->key_min_len);
}

/* Invariant 5: open decoders over bucket i's files when its answer needs no
 * merge.  0 with c->npq > 0 when the fast path reads it; 0 with c->npq 0
 * when it must be merged (not eligible, or a file the decoder does not
 * read); < 0 on an error. */
static int fast_open(strata_colcursor *c, size_t i, strata_err *err)
{
	strata_colscan *cs = c->cs;
	if (cs->is_changes || cs->has_lo || cs->has_hi)
		return 0;
	const strata_file_entry *files;
	size_t n;
	strata_scan_bucket_files(cs->scan, i, &files, &n);
	int64_t v = (int64_t)strata_scan_version(cs->scan);
	for (size_t k = 0; k < n; k++)
		if (files[k].format != STRATA_FMT_PARQUET || !files[k].is_compact ||
		    files[k].seq_max > v || files[k].tombstones > 0)
			return 0;
	c->pqf = strata_calloc(n + 1, sizeof(*c->pqf));
	c->pq = strata_calloc(n + 1, sizeof(*c->pq));
	for (size_t k = 0; k < n; k++)
		c->pqf[k] = &files[k];
	qsort(c->pqf, n, sizeof(*c->pqf), entry_key_min_cmp);
	c->npq = n;
	c->ipq = 0;
	c->pq_rows = 0;
	for (size_t k = 0; k + 1 < n; k++) {
		const strata_file_entry *a = c->pqf[k], *b = c->pqf[k + 1];
		if (strata_key_cmp(a->key_max, a->key_max_len, b->key_min, b->key_min_len) >= 0) {
			fast_retire(c); /* overlapping key ranges: a key may be in both */
			return 0;
		}
	}
	int rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		char path[4096];
		strata_scan_file_path(cs->scan, i, c->pqf[k], path, sizeof(path));
		rc = strata_pqbatch_open(path, NULL, c->rs, c->want, &c->pq[k], err);
		if (rc == 0 && c->pqf[k]->has_content_hash)
			strata_pqbatch_want_hash(c->pq[k]); /* a whole read: verified */
	}
	if (rc) {
		fast_retire(c);
		spent_close(c); /* nothing of theirs was handed out */
		return rc == STRATA_EUNSUPPORTED ? 0 : rc;
	}
	return 0;
}

/* Read rows from the bucket's files into the batch from row *n on. */
static int fast_fill(strata_colcursor *c, size_t *n, strata_err *err)
{
	size_t at = *n, room = c->max_rows - at;
	for (uint32_t i = 0; i < c->rs->ncols; i++) {
		int j = c->first_out[i];
		if (j < 0)
			continue;
		strata_colvec *v = &c->batch.cols[j];
		c->pdata[i] = (uint8_t *)v->data + at * type_width(v->type);
		c->pnulls[i] = v->nulls + at;
	}
	size_t got = 0;
	int rc = strata_pqbatch_read(c->pq[c->ipq], room, c->pdata, c->pnulls, &got, err);
	if (rc)
		return rc;
	for (size_t j = 0; j < c->batch.ncols && got; j++) {
		strata_colvec *v = &c->batch.cols[j];
		if (c->kind[j] == STRATA_COL_PARTITION) {
			const char *pv = c->part_values ? c->part_values[c->src[j]] : NULL;
			for (size_t r = at; r < at + got; r++) {
				v->nulls[r] = pv == NULL;
				put_str(c, v, r, pv ? pv : "", pv ? strlen(pv) : 0, false);
			}
		} else if (c->kind[j] == STRATA_COL_DATA && c->first_out[c->src[j]] != (int)j) {
			const strata_colvec *f = &c->batch.cols[c->first_out[c->src[j]]];
			size_t w = type_width(v->type);
			memcpy((uint8_t *)v->data + at * w, (const uint8_t *)f->data + at * w, got * w);
			memcpy(v->nulls + at, f->nulls + at, got);
		}
	}
	*n += got;
	c->pq_rows += got;
	if (got == room)
		return 0;
	/* the file ended: invariant 5, its rows are its entry's */
	const strata_file_entry *f = c->pqf[c->ipq];
	if (c->pq_rows != f->rows) {
		char path[4096];
		strata_scan_file_path(c->cs->scan, c->bucket, f, path, sizeof(path));
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": %llu rows read, its manifest entry says %llu", path,
				      (unsigned long long)c->pq_rows, (unsigned long long)f->rows);
	}
	/* ... and its content hash is its entry's (the whole file was read) */
	if (f->has_content_hash) {
		uint64_t h = 0;
		int rc2 = strata_pqbatch_content_hash(c->pq[c->ipq], &h, err);
		if (rc2 < 0)
			return rc2;
		if (rc2 == 1 && h != f->content_hash) {
			char path[4096];
			strata_scan_file_path(c->cs->scan, c->bucket, f, path, sizeof(path));
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": checksum mismatch (expected %016llx, got %016llx)",
					      path, (unsigned long long)f->content_hash,
					      (unsigned long long)h);
		}
	}
	c->pq_rows = 0;
	if (++c->ipq == c->npq)
		fast_retire(c);
	return 0;
}

/* Claim the next bucket (invariant 2) and open its decoders (fast path) or
 * its merge; 0 with neither when none is left. */
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
	int rc = fast_open(c, c->bucket, err);
	if (rc || c->npq) {
		if (rc == 0)
			atomic_fetch_add(&cs->fast_buckets, 1);
		return rc;
	}
	atomic_fetch_add(&cs->merged_buckets, 1);
	return strata_scan_bucket_merge(cs->scan, c->bucket, c->rs,
				      cs->has_lo ? cs->lo.data : NULL, cs->lo.len,
				      cs->has_hi ? cs->hi.data : NULL, cs->hi.len, &c->merge, err);
}

int strata_colcursor_next(strata_colcursor *c, const strata_colbatch **batch, strata_err *err)
{
	return strata_colcursor_next_into(c, NULL, batch, err);
}

static bool is_fixed_width(strata_type t)
{
	return t != STRATA_T_STRING && t != STRATA_T_BYTES;
}

int strata_colcursor_next_into(strata_colcursor *c, void *const *into,
			       const strata_colbatch **batch, strata_err *err)
{
	for (size_t j = 0; j < c->batch.ncols; j++)
		c->batch.cols[j].data = into && into[j] && is_fixed_width(c->batch.cols[j].type) ?
						into[j] :
						c->own[j];
	/* invariant 4: the last batch is given back */
	strata_arena_rewind(c->strings); /* its chunks are reused: no churn */
	spent_close(c);
	for (size_t i = 0; i < c->npq; i++) {
		if (i < c->ipq) {
			strata_pqbatch_close(c->pq[i]); /* its file was read to the end */
			c->pq[i] = NULL;
		} else {
			strata_pqbatch_release(c->pq[i]);
		}
	}
	strata_colscan *cs = c->cs;
	size_t n = 0;
	int rc = leases_maybe_renew(cs, err);
	if (rc)
		return rc;
	while (n < c->max_rows) {
		if (!c->merge && !c->npq) {
			rc = bucket_next(c, err);
			if (rc || (!c->merge && !c->npq))
				break;
		}
		if (c->npq) {
			rc = fast_fill(c, &n, err);
			if (rc)
				break;
			continue;
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
