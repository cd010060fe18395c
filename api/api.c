/*
 * api/api.c — libstrata's public API (api/strata.h, installed as
 * <strata/strata.h>): a thin layer over table/table.h that keeps the
 * internal types out of the caller's sight.
 *
 * Design: every public handle wraps one internal handle (strata_db wraps a
 * strata_wh, strata_db_txn a strata_txn, strata_db_cursor a strata_scan)
 * plus the little state the JSON boundary needs (the cursor's line
 * buffer).  Rows cross as JSON text through the same conversions the CLI
 * uses (strata_txn_put_json, strata_row_to_json), so `strata write` and
 * strata_db_txn_put accept exactly the same lines and `strata scan` and a
 * cursor produce the same objects.
 *
 * Invariants:
 *   1. the public error codes equal the internal ones (checked below at
 *      compile time), so codes pass through unchanged;
 *   2. a public function never leaves a partly built handle behind: *out is
 *      set only on success, and every failure goes through `out:`;
 *   3. only the functions declared in api/strata.h are exported from
 *      libstrata.so (api/libstrata.map); libstrata.a keeps every symbol.
 *
 * Threads: as api/strata.h says; this file adds no shared state.
 */
#include "api/strata.h"

#include <errno.h>
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
	*obj = NULL;
	if (!text)
		return strata_err_set(e, STRATA_EINVAL, "%s is NULL", what);
	/* strata_json_parse keeps DECIMAL numbers exact (format/record.c) */
	json_t *o = NULL;
	strata_err pe;
	strata_err_clear(&pe);
	if (strata_json_parse(text, strlen(text), &o, &pe) != 0)
		return strata_err_set(e, STRATA_EINVAL, "%s is not JSON: %s", what, pe.msg);
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
