/*
 * api/api.c — libstrata's public API (api/strata.h, installed as
 * <strata/strata.h>): a thin layer over table/table.h that keeps the
 * internal types out of the caller's sight.
 *
 * Design: every public handle wraps one internal handle (strata_db wraps a
 * strata_wh, strata_db_txn a strata_txn, strata_db_cursor a strata_scan,
 * strata_db_colscan a strata_colscan, strata_db_colcursor a
 * strata_colcursor) plus the little state the boundary needs (the cursor's
 * line buffer; the columnar scan's chosen columns; the columnar cursor's
 * arrays of value and null pointers).  Rows cross as JSON text through the
 * same conversions the CLI uses (strata_txn_put_json, strata_row_to_json),
 * so `strata write` and strata_db_txn_put accept exactly the same lines and
 * `strata scan` and a cursor produce the same objects.  Column batches
 * cross as the internal cursor's own arrays, lent without a copy: the
 * public value types are laid out like the internal ones (asserted below).
 *
 * Invariants:
 *   1. the public error codes equal the internal ones (checked below at
 *      compile time), so codes pass through unchanged;
 *   2. a public function never leaves a partly built handle behind: *out is
 *      set only on success, and every failure goes through `out:`;
 *   3. only the functions declared in api/strata.h are exported from
 *      libstrata.so (api/libstrata.map); libstrata.a keeps every symbol;
 *   4. a public column type is never an internal type by number: every
 *      internal type is mapped by name in type_public() (a switch with no
 *      default, so -Wswitch flags a new internal type), and one without a
 *      public twin is refused at strata_db_colscan_open, never handed out.
 *
 * Threads: as api/strata.h says; this file adds no shared state.
 */
#include "api/strata.h"

#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "table/table.h"

/* invariant 1 */
_Static_assert((int)STRATA_DB_EINVAL == (int)STRATA_EINVAL, "error codes");
_Static_assert((int)STRATA_DB_ECORRUPT == (int)STRATA_ECORRUPT, "error codes");
_Static_assert((int)STRATA_DB_ECONFLICT == (int)STRATA_ECONFLICT, "error codes");
_Static_assert((int)STRATA_DB_ENOTFOUND == (int)STRATA_ENOTFOUND, "error codes");
_Static_assert((int)STRATA_DB_EEXIST == (int)STRATA_EEXIST, "error codes");
_Static_assert((int)STRATA_DB_ERETENTION == (int)STRATA_ERETENTION, "error codes");
_Static_assert((int)STRATA_DB_EUNSUPPORTED == (int)STRATA_EUNSUPPORTED, "error codes");
_Static_assert((int)STRATA_DB_EPOISONED == (int)STRATA_EPOISONED, "error codes");
_Static_assert((int)STRATA_DB_EMAPFULL == (int)STRATA_EMAPFULL, "error codes");
_Static_assert((int)STRATA_DB_EBUSY == (int)STRATA_EBUSY, "error codes");
_Static_assert((int)STRATA_DB_ECANCELED == (int)STRATA_ECANCELED, "error codes");
_Static_assert((int)STRATA_DB_EMANIFEST == (int)STRATA_EMANIFEST, "error codes");
_Static_assert((int)STRATA_DB_ELIMIT == (int)STRATA_ELIMIT, "error codes");
_Static_assert((int)STRATA_DB_EUNCERTAIN == (int)STRATA_EUNCERTAIN, "error codes");
_Static_assert((int)STRATA_ELAST == (int)STRATA_DB_EUNCERTAIN - 1, "a new internal code needs a public one");
_Static_assert(STRATA_DB_ERRMSG_MAX == STRATA_ERR_MSG_MAX, "message size");
/* column batches lend the internal arrays as they are */
_Static_assert(sizeof(strata_db_bytes) == sizeof(strata_colstr) &&
		       offsetof(strata_db_bytes, ptr) == offsetof(strata_colstr, ptr) &&
		       offsetof(strata_db_bytes, len) == offsetof(strata_colstr, len),
	       "STRING and BINARY values");
_Static_assert(sizeof(strata_db_type) == sizeof(int), "the type enum is int-sized");

struct strata_db {
	strata_wh *wh;
};

struct strata_db_txn {
	strata_txn *txn;
};

struct strata_db_cursor {
	strata_scan *scan;
	bool is_changes; /* rows carry _seq and _op */
	strata_buf line; /* the lent row */
};

struct strata_db_colscan {
	strata_colscan *cs;
	const char *table;      /* lent by cs */
	strata_db_column *cols; /* the chosen columns, in batch order */
	uint32_t *idx;          /* per chosen column: its index in cs */
	size_t ncols;
	size_t batch_rows;
};

struct strata_db_colcursor {
	strata_colcursor *cur;
	strata_db_batch batch;  /* the lent batch: points into cur's */
	const void **values;
	const uint8_t **nulls;
};

/* Copy an internal error out (err may be NULL) and return its code. */
static int put_err(strata_db_error *out, const strata_err *e, int rc)
{
	if (out) {
		out->code = rc;
		snprintf(out->msg, sizeof(out->msg), "%s", e->msg[0] ? e->msg : strata_strerror(rc));
	}
	return rc;
}

static void clear_err(strata_db_error *out)
{
	if (out) {
		out->code = 0;
		out->msg[0] = '\0';
	}
}

const char *strata_db_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = STRATA_VERSION_MAJOR;
	if (minor)
		*minor = STRATA_VERSION_MINOR;
	if (patch)
		*patch = STRATA_VERSION_PATCH;
	return STRATA_VERSION_STRING;
}

const char *strata_db_strerror(int code)
{
	return strata_strerror(code);
}

void strata_db_free(void *p)
{
	free(p);
}

/* ---- warehouses and tables --------------------------------------------------------------- */

int strata_db_open(const char *path, unsigned flags, strata_db **out, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_wh *wh = NULL;
	int rc;
	if (!path || !out) {
		rc = strata_err_set(&e, STRATA_EINVAL, "strata_db_open wants a path and an out pointer");
		goto out;
	}
	rc = strata_wh_open(path, (flags & STRATA_DB_CREATE) != 0, &wh, &e);
	if (rc != 0)
		goto out;
	strata_db *db = strata_calloc(1, sizeof(*db));
	db->wh = wh;
	*out = db; /* invariant 2 */
out:
	return rc ? put_err(err, &e, rc) : 0;
}

void strata_db_close(strata_db *db)
{
	if (!db)
		return;
	strata_wh_close(db->wh);
	free(db);
}

int strata_db_create_table(strata_db *db, const char *name, const strata_db_table_spec *spec,
			   strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	int rc;
	if (!spec || !spec->columns) {
		rc = strata_err_set(&e, STRATA_EINVAL, "table \"%s\": the spec names no columns",
				    name ? name : "");
		goto out;
	}
	rc = strata_table_create(db->wh, name, spec->columns, spec->primary_key,
				 spec->partitioned_by, spec->properties, spec->nproperties, &e);
out:
	return rc ? put_err(err, &e, rc) : 0;
}

int strata_db_table_version(strata_db *db, const char *table, uint64_t *version,
			    strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_read_opts ro = {0};
	int rc = strata_read_version(db->wh, table, &ro, version, &e);
	return rc ? put_err(err, &e, rc) : 0;
}

/* ---- write transactions -------------------------------------------------------------------- */

int strata_db_txn_begin(strata_db *db, const char *table, strata_db_txn **out,
			strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_txn *t = NULL;
	int rc = strata_txn_begin(db->wh, table, &t, &e);
	if (rc != 0)
		goto out;
	strata_db_txn *pt = strata_calloc(1, sizeof(*pt));
	pt->txn = t;
	*out = pt; /* invariant 2 */
out:
	return rc ? put_err(err, &e, rc) : 0;
}

/* Parse text as one JSON object into *obj (caller decrefs). */
static int parse_object(const char *text, const char *what, json_t **obj, strata_err *e)
{
	json_error_t je;
	*obj = NULL;
	if (!text)
		return strata_err_set(e, STRATA_EINVAL, "%s is NULL", what);
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return strata_err_set(e, STRATA_EINVAL, "%s is not JSON: %s (column %d)", what,
				      je.text, je.column);
	if (!json_is_object(o)) {
		json_decref(o);
		return strata_err_set(e, STRATA_EINVAL, "%s must be a JSON object", what);
	}
	*obj = o;
	return 0;
}

int strata_db_txn_put(strata_db_txn *t, const char *row_json, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	json_t *o = NULL;
	int rc = parse_object(row_json, "the row", &o, &e);
	if (rc != 0)
		goto out;
	rc = strata_txn_put_json(t->txn, o, &e);
out:
	json_decref(o);
	return rc ? put_err(err, &e, rc) : 0;
}

int strata_db_txn_delete(strata_db_txn *t, const char *key_json, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	json_t *o = NULL;
	int rc = parse_object(key_json, "the key", &o, &e);
	if (rc != 0)
		goto out;
	json_object_set_new(o, "_op", json_string("delete"));
	rc = strata_txn_put_json(t->txn, o, &e);
out:
	json_decref(o);
	return rc ? put_err(err, &e, rc) : 0;
}

size_t strata_db_txn_rows(const strata_db_txn *t)
{
	return strata_txn_rows(t->txn);
}

int strata_db_txn_commit(strata_db_txn *t, const strata_db_commit_opts *opts, uint64_t *version,
			 strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_commit_opts co = {0};
	if (opts) {
		co.token = opts->token;
		co.expect_version = opts->expect_version;
	}
	uint64_t v = 0;
	bool is_repeat = false;
	int rc = strata_txn_commit(t->txn, &co, &v, &is_repeat, &e); /* frees t->txn */
	free(t);
	if (rc == 0 && version)
		*version = v;
	return rc ? put_err(err, &e, rc) : 0;
}

void strata_db_txn_abort(strata_db_txn *t)
{
	if (!t)
		return;
	strata_txn_abort(t->txn);
	free(t);
}

/* ---- reads ------------------------------------------------------------------------------- */

static void read_opts(const strata_db_read_opts *in, strata_read_opts *out)
{
	memset(out, 0, sizeof(*out));
	if (!in)
		return;
	out->as_of_version = in->as_of_version;
	out->has_as_of_time = in->has_as_of_time != 0;
	out->as_of_time_us = in->as_of_time_us;
	out->as_of_tag = in->as_of_tag;
	out->partition = in->partition;
	out->columns = in->columns;
}

static strata_db_cursor *cursor_new(strata_scan *s, bool is_changes)
{
	strata_db_cursor *c = strata_calloc(1, sizeof(*c));
	c->scan = s;
	c->is_changes = is_changes;
	return c;
}

int strata_db_scan(strata_db *db, const char *table, const strata_db_read_opts *opts,
		   strata_db_cursor **out, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_read_opts ro;
	read_opts(opts, &ro);
	strata_scan *s = NULL;
	int rc = strata_scan_open(db->wh, table, &ro, &s, &e);
	if (rc == 0)
		*out = cursor_new(s, false); /* invariant 2 */
	return rc ? put_err(err, &e, rc) : 0;
}

int strata_db_changes(strata_db *db, const char *table, uint64_t v1, uint64_t v2,
		      const char *partition, strata_db_cursor **out, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_scan *s = NULL;
	int rc = strata_changes_open(db->wh, table, v1, v2, partition, &s, &e);
	if (rc == 0)
		*out = cursor_new(s, true); /* invariant 2 */
	return rc ? put_err(err, &e, rc) : 0;
}

int strata_db_cursor_next(strata_db_cursor *c, const char **row_json, size_t *len,
			  strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	const strata_row *row;
	const char *const *pv;
	int rc = strata_scan_next(c->scan, &row, &pv, &e);
	if (rc != 1)
		return rc < 0 ? put_err(err, &e, rc) : 0;
	const strata_schema *s = strata_scan_schema(c->scan);
	const strata_table_def *t = strata_scan_table(c->scan);
	strata_buf *b = &c->line;
	strata_buf_reset(b);
	strata_row_to_json(s, row, c->is_changes, b);
	b->len--; /* reopen the object to add the partition columns */
	bool has_field = b->len > 1;
	for (uint32_t i = 0; i < t->nparts; i++) {
		strata_value v = {.v.s = {(const uint8_t *)pv[i], (uint32_t)strlen(pv[i])}};
		strata_buf_printf(b, "%s\"%s\":", has_field ? "," : "", t->part_cols[i]);
		strata_value_to_json(STRATA_T_STRING, &v, b);
		has_field = true;
	}
	strata_buf_append(b, "}", 2); /* with the NUL */
	b->len--;
	*row_json = (const char *)b->data;
	if (len)
		*len = b->len;
	return 1;
}

uint64_t strata_db_cursor_version(const strata_db_cursor *c)
{
	return strata_scan_version(c->scan);
}

void strata_db_cursor_close(strata_db_cursor *c)
{
	if (!c)
		return;
	strata_scan_close(c->scan);
	strata_buf_free(&c->line);
	free(c);
}

int strata_db_get(strata_db *db, const char *table, const char *key_json,
		  const strata_db_read_opts *opts, char **row_json, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	json_t *key = NULL;
	strata_arena *a = strata_arena_new();
	strata_schema *schema = NULL;
	strata_buf b = {0};
	strata_read_opts ro;
	read_opts(opts, &ro);
	strata_row row;
	*row_json = NULL;
	int rc = parse_object(key_json, "the key", &key, &e);
	if (rc != 0)
		goto out;
	rc = strata_get_json(db->wh, table, key, &ro, a, &row, &schema, NULL, &e);
	if (rc != 1)
		goto out;
	strata_row_to_json(schema, &row, false, &b);
	strata_buf_putc(&b, '\0');
	*row_json = (char *)b.data; /* the caller frees it with strata_db_free() */
	b.data = NULL;
out:
	json_decref(key);
	strata_schema_free(schema);
	strata_arena_free(a);
	strata_buf_free(&b);
	return rc < 0 ? put_err(err, &e, rc) : rc;
}

/* ---- columnar reads ------------------------------------------------------------------------ */

/* Invariant 4: the public type of an internal one, or 0 when the columnar
 * API does not hand that type out (yet).  No default: a new internal type
 * is a -Wswitch warning here (an error under CI=true) until it is mapped. */
static strata_db_type type_public(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
		return STRATA_DB_T_BIGINT;
	case STRATA_T_INT:
		return STRATA_DB_T_INT;
	case STRATA_T_DOUBLE:
		return STRATA_DB_T_DOUBLE;
	case STRATA_T_FLOAT:
		return STRATA_DB_T_FLOAT;
	case STRATA_T_BOOL:
		return STRATA_DB_T_BOOLEAN;
	case STRATA_T_STRING:
		return STRATA_DB_T_STRING;
	case STRATA_T_BYTES:
		return STRATA_DB_T_BINARY;
	case STRATA_T_TIMESTAMP:
		return STRATA_DB_T_TIMESTAMP;
	}
	return (strata_db_type)0;
}

/* Append internal column i of cs to s's chosen columns, refusing a type
 * without a public twin (invariant 4). */
static int col_choose(strata_db_colscan *s, size_t i, strata_err *e)
{
	const strata_colinfo *ci = strata_colscan_col(s->cs, i);
	strata_db_type t = type_public(ci->type);
	if (t == 0)
		return strata_err_set(e, STRATA_EUNSUPPORTED,
				      "column \"%s\" of table \"%s\" is %s, a type libstrata %s does "
				      "not hand out in column batches yet: leave it out of the "
				      "columns",
				      ci->name, s->table, strata_type_name(ci->type),
				      STRATA_VERSION_STRING);
	size_t j = s->ncols++;
	s->idx[j] = (uint32_t)i;
	s->cols[j] = (strata_db_column){
		.name = ci->name,
		.type = t,
		.is_partition = ci->kind == STRATA_COL_PARTITION,
		.is_nullable = ci->is_nullable || ci->kind == STRATA_COL_PARTITION,
		.key_pos = ci->key_pos,
	};
	return 0;
}

/* Choose the columns list names ("a, b"; NULL: all) from the scan's. */
static int cols_choose(strata_db_colscan *s, const char *list, strata_err *e)
{
	size_t n = strata_colscan_ncols(s->cs);
	int rc = 0;
	if (!list) {
		s->cols = strata_calloc(n + 1, sizeof(*s->cols));
		s->idx = strata_calloc(n + 1, sizeof(*s->idx));
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = col_choose(s, i, e);
		return rc;
	}
	size_t want = 1;
	for (const char *p = list; *p; p++)
		want += *p == ',';
	s->cols = strata_calloc(want + 1, sizeof(*s->cols));
	s->idx = strata_calloc(want + 1, sizeof(*s->idx));
	const char *p = list;
	while (rc == 0 && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ",");
		size_t tl = len;
		while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
			tl--;
		size_t i = 0;
		for (; i < n; i++) {
			const char *name = strata_colscan_col(s->cs, i)->name;
			if (strlen(name) == tl && memcmp(name, p, tl) == 0)
				break;
		}
		if (i == n) {
			strata_buf has = {0};
			for (size_t k = 0; k < n; k++)
				strata_buf_printf(&has, "%s%s", k ? ", " : "",
						  strata_colscan_col(s->cs, k)->name);
			strata_buf_putc(&has, '\0');
			rc = strata_err_set(e, STRATA_EINVAL,
					    "table \"%s\" has no column \"%.*s\" (its columns: %s)",
					    s->table, (int)(tl > 100 ? 100 : tl), p,
					    (const char *)has.data);
			strata_buf_free(&has);
			break;
		}
		rc = col_choose(s, i, e);
		p += len;
		if (rc == 0 && *p == ',' && !*++p)
			rc = strata_err_set(e, STRATA_EINVAL,
					    "table \"%s\": the column list \"%.100s\" ends with a comma",
					    s->table, list);
	}
	return rc;
}

int strata_db_colscan_open(strata_db *db, const char *table, const strata_db_colscan_opts *opts,
			   strata_db_colscan **out, strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_db_colscan *s = NULL;
	int rc;
	if (!db || !table || !out) {
		rc = strata_err_set(&e, STRATA_EINVAL,
				    "strata_db_colscan_open wants a warehouse, a table and an out "
				    "pointer");
		goto out;
	}
	strata_colscan_opts co = {0};
	if (opts) {
		co.read.as_of_version = opts->as_of_version;
		co.read.has_as_of_time = opts->has_as_of_time != 0;
		co.read.as_of_time_us = opts->as_of_time_us;
		co.read.as_of_tag = opts->as_of_tag;
		co.read.partition = opts->partition;
		co.key_json = opts->key_json;
		co.key_lo_json = opts->key_from_json;
		co.key_hi_json = opts->key_to_json;
	}
	s = strata_calloc(1, sizeof(*s));
	s->batch_rows = opts && opts->batch_rows ? opts->batch_rows : 2048;
	rc = strata_colscan_open(db->wh, table, &co, &s->cs, &e);
	if (rc != 0)
		goto out;
	s->table = strata_colscan_table(s->cs)->name;
	rc = cols_choose(s, opts ? opts->columns : NULL, &e);
out:
	if (rc != 0) {
		strata_db_colscan_close(s);
		return put_err(err, &e, rc);
	}
	*out = s; /* invariant 2 */
	return 0;
}

void strata_db_colscan_close(strata_db_colscan *cs)
{
	if (!cs)
		return;
	strata_colscan_close(cs->cs); /* releases the leases */
	free(cs->cols);
	free(cs->idx);
	free(cs);
}

size_t strata_db_colscan_ncols(const strata_db_colscan *cs)
{
	return cs->ncols;
}

const strata_db_column *strata_db_colscan_column(const strata_db_colscan *cs, size_t j)
{
	return j < cs->ncols ? &cs->cols[j] : NULL;
}

uint64_t strata_db_colscan_version(const strata_db_colscan *cs)
{
	return strata_colscan_version(cs->cs);
}

size_t strata_db_colscan_nbuckets(const strata_db_colscan *cs)
{
	return strata_colscan_nbuckets(cs->cs);
}

uint64_t strata_db_colscan_rows_estimate(const strata_db_colscan *cs)
{
	return strata_colscan_rows_estimate(cs->cs);
}

int strata_db_colcursor_open(strata_db_colscan *cs, strata_db_colcursor **out,
			     strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	strata_colcursor *cur = NULL;
	int rc;
	if (!cs || !out) {
		rc = strata_err_set(&e, STRATA_EINVAL,
				    "strata_db_colcursor_open wants a scan and an out pointer");
		goto out;
	}
	rc = strata_colcursor_open(cs->cs, cs->idx, cs->ncols, cs->batch_rows, &cur, &e);
	if (rc != 0)
		goto out;
	strata_db_colcursor *c = strata_calloc(1, sizeof(*c));
	c->cur = cur;
	c->values = strata_calloc(cs->ncols + 1, sizeof(*c->values));
	c->nulls = strata_calloc(cs->ncols + 1, sizeof(*c->nulls));
	c->batch.ncols = cs->ncols;
	c->batch.values = c->values;
	c->batch.nulls = c->nulls;
	*out = c; /* invariant 2 */
out:
	return rc ? put_err(err, &e, rc) : 0;
}

int strata_db_colcursor_next(strata_db_colcursor *c, const strata_db_batch **batch,
			     strata_db_error *err)
{
	strata_err e;
	strata_err_clear(&e);
	clear_err(err);
	const strata_colbatch *b = NULL;
	int rc = strata_colcursor_next(c->cur, &b, &e);
	if (rc != 1)
		return rc < 0 ? put_err(err, &e, rc) : 0;
	/* the cursor's arrays, lent as they are until its next call */
	for (size_t j = 0; j < b->ncols; j++) {
		c->values[j] = b->cols[j].data;
		c->nulls[j] = b->cols[j].nulls;
	}
	c->batch.nrows = b->nrows;
	*batch = &c->batch;
	return 1;
}

void strata_db_colcursor_close(strata_db_colcursor *c)
{
	if (!c)
		return;
	strata_colcursor_close(c->cur);
	free(c->values);
	free(c->nulls);
	free(c);
}
