/*
 * duckdb/strata_ext.c — strata.duckdb_extension: DuckDB reads strata tables.
 *
 * Built against DuckDB's stable C extension API (C_STRUCT ABI, minimum C API
 * v1.2.0), so one binary loads into DuckDB 1.2 and later.  The extension is
 * a thin binding of the columnar read API (table/colscan.c): every row it
 * returns comes from strata_colcursor_next(), so merge-on-read, time travel
 * and retention errors are strata's own.
 *
 * Table functions:
 *   strata_scan(warehouse, table [, as_of_version := V | as_of_time := TS |
 *               as_of_tag := 'name'] [, partition := 'k=v/...'] [, key := K])
 *   strata_changes(warehouse, table, v1, v2 [, partition := ...])
 *   strata_tables(warehouse), strata_log(warehouse, table),
 *   strata_files(warehouse, table)
 *
 * Life of a scan: bind opens the warehouse and a columnar scan to resolve
 * the version, learn the columns and estimate the cardinality, then closes
 * both, keeping only the options with the resolved version pinned (a read
 * "now" stays at the version bind saw).  Global init opens the warehouse and
 * the scan again (taking the reader leases) and tells DuckDB it may use one
 * thread per planned bucket; each thread opens its own cursor on its first
 * scan call (local init cannot see the global state) and copies one batch
 * per call into DuckDB's vectors.
 * DuckDB destroys the global state after the query: the cursors, the scan
 * (releasing the leases) and the warehouse are closed then.
 *
 * Invariants:
 *   1. the extension writes nothing but leases (it opens the warehouse
 *      without create, and uses only read and lease calls);
 *   2. every strata error becomes a DuckDB error carrying strata's message
 *      (bind, init and scan errors alike); nothing aborts the process;
 *   3. no strata handle outlives the query that opened it; the warehouse is
 *      never opened twice at once by one query (bind closes before init);
 *   4. every string a vector holds lives in that vector's own heap (or
 *      inside its duckdb_string_t), never in strata's buffers: DuckDB may
 *      keep a vector's strings past the next scan call.
 *
 * Filter pushdown: the stable C API has none, so WHERE clauses are applied
 * by DuckDB above the scan; key := is the point-lookup path.
 */
#define DUCKDB_EXTENSION_NAME strata
#include "duckdb_extension.h"
DUCKDB_EXTENSION_EXTERN

#include "table/table.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum fn_kind { FN_SCAN = 1, FN_CHANGES, FN_TABLES, FN_LOG, FN_FILES } fn_kind;

/* ---- helpers ---------------------------------------------------------------------- */

static duckdb_logical_type type_of(const strata_colinfo *c)
{
	duckdb_type d;
	if (c->type == STRATA_T_DECIMAL)
		return duckdb_create_decimal_type(c->precision, c->scale);
	switch (c->type) {
	case STRATA_T_LONG: d = DUCKDB_TYPE_BIGINT; break;
	case STRATA_T_INT: d = DUCKDB_TYPE_INTEGER; break;
	case STRATA_T_DOUBLE: d = DUCKDB_TYPE_DOUBLE; break;
	case STRATA_T_FLOAT: d = DUCKDB_TYPE_FLOAT; break;
	case STRATA_T_BOOL: d = DUCKDB_TYPE_BOOLEAN; break;
	case STRATA_T_BYTES: d = DUCKDB_TYPE_BLOB; break;
	case STRATA_T_TIMESTAMP: d = DUCKDB_TYPE_TIMESTAMP; break;
	case STRATA_T_DATE: d = DUCKDB_TYPE_DATE; break;
	case STRATA_T_STRING:
	default: d = DUCKDB_TYPE_VARCHAR; break;
	}
	return duckdb_create_logical_type(d);
}

static void add_column(duckdb_bind_info info, const char *name, duckdb_type t)
{
	duckdb_logical_type lt = duckdb_create_logical_type(t);
	duckdb_bind_add_result_column(info, name, lt);
	duckdb_destroy_logical_type(&lt);
}

/* A parameter as text (caller frees with free()), NULL if absent or NULL. */
static char *param_text(duckdb_value v)
{
	if (!v || duckdb_is_null_value(v))
		return NULL;
	char *s = duckdb_get_varchar(v);
	char *copy = s ? strdup(s) : NULL;
	duckdb_free(s);
	return copy;
}

static char *named_text(duckdb_bind_info info, const char *name, bool *is_given)
{
	duckdb_value v = duckdb_bind_get_named_parameter(info, name);
	char *s = param_text(v);
	if (is_given)
		*is_given = v && !duckdb_is_null_value(v);
	if (v)
		duckdb_destroy_value(&v);
	return s;
}

/* ---- strata_scan and strata_changes ------------------------------------------------ */

typedef struct scan_bind {
	fn_kind kind;
	char *warehouse, *table;
	char *tag, *partition, *key_json;
	strata_colscan_opts opts; /* strings point into the fields above */
} scan_bind;

typedef struct scan_global {
	strata_wh *wh;
	strata_colscan *cs;
	uint32_t *cols;
	size_t ncols;
	bool *is_rowid; /* DuckDB asked for a column the scan does not have */
} scan_global;

typedef struct scan_local {
	strata_colcursor *cur;
	void **into;     /* per cursor column: DuckDB's vector data */
	uint8_t *stage;  /* long strings gathered for one heap copy */
	size_t stage_cap;
} scan_local;

static void scan_bind_free(void *p)
{
	scan_bind *b = p;
	if (!b)
		return;
	free(b->warehouse);
	free(b->table);
	free(b->tag);
	free(b->partition);
	free(b->key_json);
	free(b);
}

/* Turn key := K into a JSON object of the key columns: a JSON object text is
 * taken as it is; any other value is the one key column's value. */
static int key_to_json(const strata_colscan *cs, duckdb_value v, char **out, strata_err *err)
{
	*out = NULL;
	char *text = param_text(v);
	if (!text)
		return strata_err_set(err, STRATA_EINVAL, "key := must not be NULL");
	const char *p = text;
	while (*p == ' ')
		p++;
	if (*p == '{') {
		*out = text;
		return 0;
	}
	const strata_colinfo *key = NULL;
	int nkeys = 0;
	for (size_t i = 0; i < strata_colscan_ncols(cs); i++) {
		const strata_colinfo *c = strata_colscan_col(cs, i);
		if (c->key_pos >= 0) {
			nkeys++;
			key = c;
		}
	}
	int rc = 0;
	if (nkeys != 1 || !key) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "table %s has a %d-column primary key: give key := as a JSON "
				    "object such as '{\"a\": 1, \"b\": \"x\"}'",
				    strata_colscan_table(cs)->name, nkeys);
		free(text);
		return rc;
	}
	json_t *jv = NULL;
	char *end = NULL;
	switch (key->type) {
	case STRATA_T_LONG:
	case STRATA_T_INT: {
		long long x = strtoll(text, &end, 10);
		if (end != text && *end == '\0')
			jv = json_integer(x);
		break;
	}
	case STRATA_T_DOUBLE:
	case STRATA_T_FLOAT: {
		double x = strtod(text, &end);
		if (end != text && *end == '\0')
			jv = json_real(x);
		break;
	}
	case STRATA_T_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
			jv = json_boolean(text[0] == 't');
		break;
	default:
		jv = json_string(text);
		break;
	}
	if (!jv) {
		rc = strata_err_set(err, STRATA_EINVAL, "key := \"%.80s\" is not a %s value for %s.%s",
				    text, strata_type_name(key->type), strata_colscan_table(cs)->name,
				    key->name);
	} else {
		json_t *obj = json_object();
		json_object_set_new(obj, key->name, jv);
		*out = json_dumps(obj, JSON_COMPACT);
		json_decref(obj);
	}
	free(text);
	return rc;
}

static void scan_bind_fn(duckdb_bind_info info)
{
	fn_kind kind = (fn_kind)(intptr_t)duckdb_bind_get_extra_info(info);
	scan_bind *b = calloc(1, sizeof(*b));
	strata_err err;
	strata_err_clear(&err);
	strata_wh *wh = NULL;
	strata_colscan *cs = NULL;
	duckdb_value key = NULL;
	int rc = 0;
	b->kind = kind;
	duckdb_value p0 = duckdb_bind_get_parameter(info, 0);
	duckdb_value p1 = duckdb_bind_get_parameter(info, 1);
	b->warehouse = param_text(p0);
	b->table = param_text(p1);
	duckdb_destroy_value(&p0);
	duckdb_destroy_value(&p1);
	if (!b->warehouse || !b->table) {
		rc = strata_err_set(&err, STRATA_EINVAL, "the warehouse and the table must not be NULL");
		goto out;
	}
	b->partition = named_text(info, "partition", NULL);
	b->opts.read.partition = b->partition;
	if (kind == FN_CHANGES) {
		duckdb_value v1 = duckdb_bind_get_parameter(info, 2);
		duckdb_value v2 = duckdb_bind_get_parameter(info, 3);
		bool is_null = duckdb_is_null_value(v1) || duckdb_is_null_value(v2);
		int64_t a = is_null ? 0 : duckdb_get_int64(v1), c = is_null ? 0 : duckdb_get_int64(v2);
		duckdb_destroy_value(&v1);
		duckdb_destroy_value(&v2);
		if (is_null || a < 0 || c < 0) {
			rc = strata_err_set(&err, STRATA_EINVAL,
					    "strata_changes: v1 and v2 must be versions (0 <= v1 <= v2)");
			goto out;
		}
		b->opts.is_changes = true;
		b->opts.v1 = (uint64_t)a;
		b->opts.v2 = (uint64_t)c;
	} else {
		duckdb_value v = duckdb_bind_get_named_parameter(info, "as_of_version");
		if (v && !duckdb_is_null_value(v)) {
			int64_t x = duckdb_get_int64(v);
			if (x <= 0) {
				duckdb_destroy_value(&v);
				rc = strata_err_set(&err, STRATA_EINVAL,
						    "as_of_version must be a version >= 1 (got %lld)",
						    (long long)x);
				goto out;
			}
			b->opts.read.as_of_version = (uint64_t)x;
		}
		if (v)
			duckdb_destroy_value(&v);
		v = duckdb_bind_get_named_parameter(info, "as_of_time");
		if (v && !duckdb_is_null_value(v)) {
			b->opts.read.has_as_of_time = true;
			b->opts.read.as_of_time_us = duckdb_get_timestamp(v).micros;
		}
		if (v)
			duckdb_destroy_value(&v);
		b->tag = named_text(info, "as_of_tag", NULL);
		b->opts.read.as_of_tag = b->tag;
		key = duckdb_bind_get_named_parameter(info, "key");
	}
	rc = strata_wh_open(b->warehouse, false, &wh, &err);
	if (rc)
		goto out;
	rc = strata_colscan_open(wh, b->table, &b->opts, &cs, &err);
	if (rc)
		goto out;
	if (key && !duckdb_is_null_value(key)) {
		rc = key_to_json(cs, key, &b->key_json, &err);
		if (rc)
			goto out;
		b->opts.key_json = b->key_json;
		/* plan again with the key to check it and to estimate */
		strata_colscan_close(cs);
		cs = NULL;
		rc = strata_colscan_open(wh, b->table, &b->opts, &cs, &err);
		if (rc)
			goto out;
	}
	/* a read "now" stays at the version bind saw (invariant 3's reopen) */
	if (kind == FN_SCAN && !b->opts.read.as_of_tag && !b->opts.read.has_as_of_time)
		b->opts.read.as_of_version = strata_colscan_version(cs);
	for (size_t i = 0; i < strata_colscan_ncols(cs); i++) {
		const strata_colinfo *c = strata_colscan_col(cs, i);
		duckdb_logical_type lt = type_of(c);
		duckdb_bind_add_result_column(info, c->name, lt);
		duckdb_destroy_logical_type(&lt);
	}
	duckdb_bind_set_cardinality(info, strata_colscan_rows_estimate(cs), false);
out:
	if (key)
		duckdb_destroy_value(&key);
	strata_colscan_close(cs);
	strata_wh_close(wh);
	if (rc) {
		duckdb_bind_set_error(info, err.msg); /* invariant 2 */
		scan_bind_free(b);
		return;
	}
	duckdb_bind_set_bind_data(info, b, scan_bind_free);
}

static void scan_global_free(void *p)
{
	scan_global *g = p;
	if (!g)
		return;
	strata_colscan_close(g->cs);
	strata_wh_close(g->wh);
	free(g->cols);
	free(g->is_rowid);
	free(g);
}

static void scan_init_fn(duckdb_init_info info)
{
	scan_bind *b = duckdb_init_get_bind_data(info);
	scan_global *g = calloc(1, sizeof(*g));
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_wh_open(b->warehouse, false, &g->wh, &err);
	if (rc == 0)
		rc = strata_colscan_open(g->wh, b->table, &b->opts, &g->cs, &err);
	if (rc) {
		duckdb_init_set_error(info, err.msg);
		scan_global_free(g);
		return;
	}
	/* projection pushdown: DuckDB names the columns it needs */
	g->ncols = duckdb_init_get_column_count(info);
	g->cols = calloc(g->ncols + 1, sizeof(uint32_t));
	g->is_rowid = calloc(g->ncols + 1, sizeof(bool));
	size_t n = 0;
	for (size_t i = 0; i < g->ncols; i++) {
		idx_t c = duckdb_init_get_column_index(info, i);
		if (c >= strata_colscan_ncols(g->cs))
			g->is_rowid[i] = true;
		else
			g->cols[n++] = (uint32_t)c;
	}
	size_t nb = strata_colscan_nbuckets(g->cs);
	duckdb_init_set_max_threads(info, nb ? nb : 1);
	duckdb_init_set_init_data(info, g, scan_global_free);
}

static void scan_local_free(void *p)
{
	scan_local *l = p;
	if (!l)
		return;
	strata_colcursor_close(l->cur);
	free(l->into);
	free(l->stage);
	free(l);
}

static size_t projected_count(const scan_global *g)
{
	size_t n = 0;
	for (size_t i = 0; i < g->ncols; i++)
		n += !g->is_rowid[i];
	return n;
}

/* The C API gives local init no access to the global state: the cursor is
 * opened by the thread's first scan call. */
static void scan_local_init_fn(duckdb_init_info info)
{
	scan_local *l = calloc(1, sizeof(*l));
	duckdb_init_set_init_data(info, l, scan_local_free);
}

/* DuckDB stores a DECIMAL(p,s) as int16 up to 4 digits, int32 up to 9,
 * int64 up to 18, else a hugeint (lower 64 bits unsigned, then the upper
 * signed: the layout of a little-endian 128-bit integer). */
static void decimal_fill(void *data, const strata_colvec *cv, int precision, size_t n)
{
	const strata_i128 *x = cv->data;
	if (precision <= 4) {
		int16_t *d = data;
		for (size_t i = 0; i < n; i++)
			d[i] = (int16_t)x[i];
	} else if (precision <= 9) {
		int32_t *d = data;
		for (size_t i = 0; i < n; i++)
			d[i] = (int32_t)x[i];
	} else if (precision <= 18) {
		int64_t *d = data;
		for (size_t i = 0; i < n; i++)
			d[i] = (int64_t)x[i];
	} else {
		duckdb_hugeint *d = data;
		for (size_t i = 0; i < n; i++) {
			d[i].lower = (uint64_t)x[i];
			d[i].upper = (int64_t)(x[i] >> 64);
		}
	}
}

/* Strings longer than 12 bytes are copied into the vector's own heap, one
 * copy per run of them instead of one per string (invariant 4).  The stable
 * C API has one way into that heap, duckdb_vector_assign_string_element_len,
 * which allocates (and, for VARCHAR, checks the UTF-8 of) one string at a
 * time: a third of the extension's CPU time in a full scan of a table with
 * one 32-byte string column (bench/bench_duckdb.c).  So the
 * run's bytes are gathered into `stage`, assigned once to the run's first
 * row (the "host"), and every row of the run then points into the host's
 * copy: duckdb_string_t's published layout (length, 4-byte prefix,
 * pointer), memory the vector owns for as long as any of its strings live.
 * The host's own entry is then rewritten with its own length like the
 * others.  VARCHAR bytes must be valid UTF-8 one string at a time; a run
 * that is all ASCII is, so only such runs are gathered, and any other run
 * goes string by string through DuckDB's check. */
#define STAGE_MAX ((size_t)1 << 20) /* bytes gathered into one heap copy */
#define INLINE_MAX 12                /* bytes a duckdb_string_t holds inline */
_Static_assert(sizeof(((duckdb_string_t *)0)->value.inlined.inlined) == INLINE_MAX,
	       "duckdb_string_t inlines 12 bytes");

/* Is row k's string one a run gathers (not NULL, not inline, not huge)? */
static inline bool is_in_run(const strata_colstr *s, const uint8_t *nulls, size_t k)
{
	return !nulls[k] && s[k].len > INLINE_MAX && s[k].len <= STAGE_MAX;
}

static void strings_fill(scan_local *l, duckdb_vector vec, const strata_colstr *s,
			 const uint8_t *nulls, size_t n, bool is_varchar)
{
	duckdb_string_t *d = duckdb_vector_get_data(vec);
	size_t i = 0;
	while (i < n) {
		/* a run [i, j) of long strings totalling at most STAGE_MAX bytes;
		 * short ones inside it are inlined as they come */
		size_t j = i, total = 0;
		uint64_t high = 0; /* OR of the run's bytes: any 0x80 bit, not ASCII */
		for (; j < n; j++) {
			if (nulls[j])
				continue;
			uint32_t len = s[j].len;
			if (len <= INLINE_MAX) {
				memset(&d[j], 0, sizeof(d[j]));
				d[j].value.inlined.length = len;
				if (len)
					memcpy(d[j].value.inlined.inlined, s[j].ptr, len);
				continue;
			}
			if (total && total + len > STAGE_MAX)
				break;
			if (len > STAGE_MAX) { /* a huge string alone */
				duckdb_vector_assign_string_element_len(vec, j, (const char *)s[j].ptr,
									len);
				continue;
			}
			if (total + len > l->stage_cap) {
				l->stage_cap = STAGE_MAX;
				l->stage = strata_realloc(l->stage, l->stage_cap);
			}
			memcpy(l->stage + total, s[j].ptr, len);
			total += len;
		}
		if (total == 0) {
			i = j;
			continue;
		}
		if (is_varchar) {
			uint64_t w;
			size_t k = 0;
			for (; k + 8 <= total; k += 8) {
				memcpy(&w, l->stage + k, 8);
				high |= w;
			}
			for (; k < total; k++)
				high |= l->stage[k];
		}
		size_t host = i;
		while (!is_in_run(s, nulls, host))
			host++;
		if (high & 0x8080808080808080ull) {
			/* not all ASCII: DuckDB checks each string's UTF-8 */
			for (size_t k = host; k < j; k++)
				if (is_in_run(s, nulls, k))
					duckdb_vector_assign_string_element_len(
						vec, k, (const char *)s[k].ptr, s[k].len);
			i = j;
			continue;
		}
		duckdb_vector_assign_string_element_len(vec, host, (const char *)l->stage, total);
		char *base = d[host].value.pointer.ptr;
		size_t off = 0;
		for (size_t k = host; k < j; k++) {
			if (!is_in_run(s, nulls, k))
				continue;
			uint32_t len = s[k].len;
			d[k].value.pointer.length = len;
			memcpy(d[k].value.pointer.prefix, base + off, 4);
			d[k].value.pointer.ptr = base + off;
			off += len;
		}
		i = j;
	}
}

static void vector_fill(scan_local *l, duckdb_vector vec, const strata_colinfo *ci,
			const strata_colvec *cv, size_t n)
{
	void *data = duckdb_vector_get_data(vec);
	if (data == cv->data)
		goto validity; /* decoded in place (strata_colcursor_next_into) */
	switch (cv->type) {
	case STRATA_T_DECIMAL:
		decimal_fill(data, cv, ci->precision, n);
		break;
	case STRATA_T_DATE:
		memcpy(data, cv->data, n * sizeof(int32_t));
		break;
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		memcpy(data, cv->data, n * sizeof(int64_t));
		break;
	case STRATA_T_INT:
		memcpy(data, cv->data, n * sizeof(int32_t));
		break;
	case STRATA_T_DOUBLE:
		memcpy(data, cv->data, n * sizeof(double));
		break;
	case STRATA_T_FLOAT:
		memcpy(data, cv->data, n * sizeof(float));
		break;
	case STRATA_T_BOOL:
		memcpy(data, cv->data, n);
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
	default:
		strings_fill(l, vec, cv->data, cv->nulls, n, cv->type != STRATA_T_BYTES);
		break;
	}
validity:
	/* most columns of most batches hold no null: one memchr decides */
	if (!memchr(cv->nulls, 1, n))
		return;
	uint64_t *validity = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!cv->nulls[i])
			continue;
		if (!validity) {
			duckdb_vector_ensure_validity_writable(vec);
			validity = duckdb_vector_get_validity(vec);
		}
		duckdb_validity_set_row_invalid(validity, i);
	}
}

static void scan_fn(duckdb_function_info info, duckdb_data_chunk output)
{
	scan_global *g = duckdb_function_get_init_data(info);
	scan_local *l = duckdb_function_get_local_init_data(info);
	strata_err err;
	strata_err_clear(&err);
	const strata_colbatch *batch;
	int rc = 0;
	if (!l->cur) {
		rc = strata_colcursor_open(g->cs, g->cols, projected_count(g), duckdb_vector_size(),
					   &l->cur, &err);
		l->into = calloc(g->ncols + 1, sizeof(void *));
	}
	if (rc == 0) {
		/* fixed-width values are decoded straight into DuckDB's vectors */
		size_t k = 0;
		for (size_t i = 0; i < g->ncols; i++)
			if (!g->is_rowid[i])
				l->into[k++] = duckdb_vector_get_data(duckdb_data_chunk_get_vector(output, i));
		rc = strata_colcursor_next_into(l->cur, l->into, &batch, &err);
	}
	if (rc < 0) {
		duckdb_function_set_error(info, err.msg); /* invariant 2 */
		return;
	}
	if (rc == 0) {
		duckdb_data_chunk_set_size(output, 0);
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < g->ncols; i++) {
		duckdb_vector vec = duckdb_data_chunk_get_vector(output, i);
		if (g->is_rowid[i]) {
			int64_t *d = duckdb_vector_get_data(vec);
			for (size_t r = 0; r < batch->nrows; r++)
				d[r] = (int64_t)r;
			continue;
		}
		vector_fill(l, vec, strata_colscan_col(g->cs, g->cols[k]), &batch->cols[k],
			    batch->nrows);
		k++;
	}
	duckdb_data_chunk_set_size(output, batch->nrows);
}

/* ---- metadata: strata_tables, strata_log, strata_files ---------------------------- */

/* Metadata results are small: bind reads them whole into a row-major table
 * of values (as strata_colvec-like columns), the function emits them. */
typedef struct meta_col {
	const char *name;
	duckdb_type type;
} meta_col;

typedef struct meta_cell {
	bool is_null;
	int64_t i;
	char *s;
} meta_cell;

typedef struct meta_data {
	size_t ncols, nrows, cap, pos;
	const meta_col *cols;
	meta_cell *cells; /* nrows * ncols */
} meta_data;

static void meta_free(void *p)
{
	meta_data *m = p;
	if (!m)
		return;
	for (size_t i = 0; i < m->nrows * m->ncols; i++)
		free(m->cells[i].s);
	free(m->cells);
	free(m);
}

static meta_cell *meta_row(meta_data *m)
{
	if (m->nrows == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->cells = realloc(m->cells, m->cap * m->ncols * sizeof(meta_cell));
	}
	meta_cell *r = &m->cells[m->nrows++ * m->ncols];
	memset(r, 0, m->ncols * sizeof(meta_cell));
	return r;
}

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

static const meta_col tables_cols[] = {
	{"name", DUCKDB_TYPE_VARCHAR},         {"version", DUCKDB_TYPE_BIGINT},
	{"schema_version", DUCKDB_TYPE_BIGINT}, {"columns", DUCKDB_TYPE_VARCHAR},
	{"partitioned_by", DUCKDB_TYPE_VARCHAR}, {"buckets", DUCKDB_TYPE_BIGINT},
	{"retain_hours", DUCKDB_TYPE_BIGINT},   {"created", DUCKDB_TYPE_TIMESTAMP},
};
static const meta_col log_cols[] = {
	{"version", DUCKDB_TYPE_BIGINT},       {"committed", DUCKDB_TYPE_TIMESTAMP},
	{"kind", DUCKDB_TYPE_VARCHAR},         {"schema_version", DUCKDB_TYPE_BIGINT},
	{"files_added", DUCKDB_TYPE_BIGINT},   {"files_removed", DUCKDB_TYPE_BIGINT},
	{"note", DUCKDB_TYPE_VARCHAR},
};
static const meta_col files_cols[] = {
	{"id", DUCKDB_TYPE_BIGINT},            {"partition", DUCKDB_TYPE_VARCHAR},
	{"bucket", DUCKDB_TYPE_BIGINT},        {"format", DUCKDB_TYPE_VARCHAR},
	{"level", DUCKDB_TYPE_BIGINT},         {"seq_min", DUCKDB_TYPE_BIGINT},
	{"seq_max", DUCKDB_TYPE_BIGINT},       {"rows", DUCKDB_TYPE_BIGINT},
	{"tombstones", DUCKDB_TYPE_BIGINT},    {"bytes", DUCKDB_TYPE_BIGINT},
	{"added_version", DUCKDB_TYPE_BIGINT}, {"removed_version", DUCKDB_TYPE_BIGINT},
	{"is_deleted", DUCKDB_TYPE_BOOLEAN},   {"path", DUCKDB_TYPE_VARCHAR},
};

static char *columns_text(const strata_schema *s)
{
	strata_buf b = {0};
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		char ty[32];
		strata_buf_printf(&b, "%s%s %s%s", i ? ", " : "", c->name,
				  strata_column_type_str(c, ty, sizeof(ty)), c->key_pos >= 0 ? " KEY" : "");
	}
	strata_buf_putc(&b, 0);
	char *r = strdup((char *)b.data);
	strata_buf_free(&b);
	return r;
}

static int meta_tables(strata_mf_snap *snap, meta_data *m, strata_arena *a, strata_err *err)
{
	strata_table_def *ts;
	size_t n;
	int rc = strata_mf_tables_list(snap, a, &ts, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		strata_schema *s;
		rc = strata_mf_schema_at(snap, &ts[i], ts[i].version, &s, err);
		if (rc)
			break;
		meta_cell *r = meta_row(m);
		r[0].s = dup_str(ts[i].name);
		r[1].i = (int64_t)ts[i].version;
		r[2].i = ts[i].schema_version;
		r[3].s = columns_text(s);
		strata_buf pb = {0};
		for (uint32_t k = 0; k < ts[i].nparts; k++)
			strata_buf_printf(&pb, "%s%s", k ? ", " : "", ts[i].part_cols[k]);
		strata_buf_putc(&pb, 0);
		r[4].s = dup_str((char *)pb.data);
		r[4].is_null = ts[i].nparts == 0;
		strata_buf_free(&pb);
		r[5].i = ts[i].buckets;
		r[6].i = ts[i].retain_hours;
		r[7].i = ts[i].created_us;
		strata_schema_free(s);
	}
	return rc;
}

static int meta_log(strata_mf_snap *snap, const char *table, meta_data *m, strata_arena *a,
		    strata_err *err)
{
	strata_table_def t;
	int rc = strata_mf_table_get(snap, table, &t, err);
	uint64_t from = t.log_start ? t.log_start : 1;
	while (rc == 0) {
		strata_version_rec *vs;
		size_t n;
		rc = strata_mf_versions_list(snap, t.id, from, 1024, a, &vs, &n, err);
		if (rc || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			meta_cell *r = meta_row(m);
			r[0].i = (int64_t)vs[i].version;
			r[1].i = vs[i].ts_us;
			r[2].s = dup_str(strata_vkind_name(vs[i].kind));
			r[3].i = vs[i].schema_version;
			r[4].i = vs[i].nadded;
			r[5].i = vs[i].nremoved;
			r[6].s = dup_str(vs[i].note);
		}
		from = vs[n - 1].version + 1;
		if (n < 1024)
			break;
	}
	return rc;
}

static int meta_files(strata_wh *wh, strata_mf_snap *snap, const char *table, meta_data *m,
		      strata_arena *a, strata_err *err)
{
	strata_table_def t;
	int rc = strata_mf_table_get(snap, table, &t, err);
	strata_partition *ps = NULL;
	size_t np = 0;
	if (rc == 0)
		rc = strata_mf_partitions(snap, t.id, a, &ps, &np, err);
	for (size_t p = 0; rc == 0 && p < np; p++) {
		for (uint32_t bk = 0; rc == 0 && bk < ps[p].buckets; bk++) {
			strata_file_entry *fs;
			size_t nf;
			rc = strata_mf_bucket_files(snap, t.id, ps[p].id, bk, a, &fs, &nf, err);
			for (size_t i = 0; rc == 0 && i < nf; i++) {
				const strata_file_entry *f = &fs[i];
				meta_cell *r = meta_row(m);
				char path[4096];
				strata_file_path(strata_wh_mf(wh), t.name, ps[p].name, f, path,
						 sizeof(path));
				r[0].i = (int64_t)f->id;
				r[1].s = dup_str(ps[p].name);
				r[1].is_null = t.nparts == 0;
				r[2].i = f->bucket;
				r[3].s = dup_str(strata_format_name(f->format));
				r[4].i = f->level;
				r[5].i = f->seq_min;
				r[6].i = f->seq_max;
				r[7].i = (int64_t)f->rows;
				r[8].i = (int64_t)f->tombstones;
				r[9].i = (int64_t)f->bytes;
				r[10].i = (int64_t)f->added_version;
				r[11].i = (int64_t)f->removed_version;
				r[11].is_null = f->removed_version == 0;
				r[12].i = f->is_deleted;
				r[13].s = dup_str(path);
				r[13].is_null = strata_file_is_inline(f); /* no file */
			}
		}
	}
	return rc;
}

static void meta_bind_fn(duckdb_bind_info info)
{
	fn_kind kind = (fn_kind)(intptr_t)duckdb_bind_get_extra_info(info);
	meta_data *m = calloc(1, sizeof(*m));
	strata_err err;
	strata_err_clear(&err);
	strata_wh *wh = NULL;
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	char *table = NULL;
	duckdb_value p0 = duckdb_bind_get_parameter(info, 0);
	char *warehouse = param_text(p0);
	duckdb_destroy_value(&p0);
	if (kind != FN_TABLES) {
		duckdb_value p1 = duckdb_bind_get_parameter(info, 1);
		table = param_text(p1);
		duckdb_destroy_value(&p1);
	}
	m->cols = kind == FN_TABLES ? tables_cols : kind == FN_LOG ? log_cols : files_cols;
	m->ncols = kind == FN_TABLES ? STRATA_ARRAY_LEN(tables_cols) :
		   kind == FN_LOG    ? STRATA_ARRAY_LEN(log_cols) :
				       STRATA_ARRAY_LEN(files_cols);
	int rc = 0;
	if (!warehouse || (kind != FN_TABLES && !table)) {
		rc = strata_err_set(&err, STRATA_EINVAL, "the warehouse and the table must not be NULL");
		goto out;
	}
	rc = strata_wh_open(warehouse, false, &wh, &err);
	if (rc == 0)
		rc = strata_mf_snap_open(strata_wh_mf(wh), &snap, &err);
	if (rc)
		goto out;
	if (kind == FN_TABLES)
		rc = meta_tables(snap, m, a, &err);
	else if (kind == FN_LOG)
		rc = meta_log(snap, table, m, a, &err);
	else
		rc = meta_files(wh, snap, table, m, a, &err);
	if (rc)
		goto out;
	for (size_t i = 0; i < m->ncols; i++)
		add_column(info, m->cols[i].name, m->cols[i].type);
	duckdb_bind_set_cardinality(info, m->nrows, true);
out:
	strata_mf_snap_close(snap);
	strata_wh_close(wh);
	strata_arena_free(a);
	free(warehouse);
	free(table);
	if (rc) {
		duckdb_bind_set_error(info, err.msg); /* invariant 2 */
		meta_free(m);
		return;
	}
	duckdb_bind_set_bind_data(info, m, meta_free);
}

typedef struct meta_pos {
	size_t pos;
} meta_pos;

static void meta_init_fn(duckdb_init_info info)
{
	meta_pos *p = calloc(1, sizeof(*p));
	duckdb_init_set_init_data(info, p, free);
}

static void meta_fn(duckdb_function_info info, duckdb_data_chunk output)
{
	meta_data *m = duckdb_function_get_bind_data(info);
	meta_pos *p = duckdb_function_get_init_data(info);
	size_t n = m->nrows - p->pos;
	if (n > duckdb_vector_size())
		n = duckdb_vector_size();
	for (size_t c = 0; c < m->ncols; c++) {
		duckdb_vector vec = duckdb_data_chunk_get_vector(output, c);
		void *data = duckdb_vector_get_data(vec);
		for (size_t r = 0; r < n; r++) {
			const meta_cell *cell = &m->cells[(p->pos + r) * m->ncols + c];
			if (cell->is_null) {
				duckdb_vector_ensure_validity_writable(vec);
				duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vec), r);
				continue;
			}
			switch (m->cols[c].type) {
			case DUCKDB_TYPE_VARCHAR:
				duckdb_vector_assign_string_element(vec, r, cell->s);
				break;
			case DUCKDB_TYPE_BOOLEAN:
				((bool *)data)[r] = cell->i != 0;
				break;
			default: /* BIGINT, TIMESTAMP */
				((int64_t *)data)[r] = cell->i;
				break;
			}
		}
	}
	p->pos += n;
	duckdb_data_chunk_set_size(output, n);
}

/* ---- registration --------------------------------------------------------------------- */

static bool register_fn(duckdb_connection conn, const char *name, fn_kind kind, int nvarchar,
			int nbigint)
{
	duckdb_table_function f = duckdb_create_table_function();
	duckdb_table_function_set_name(f, name);
	duckdb_logical_type vc = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
	duckdb_logical_type bi = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
	duckdb_logical_type ts = duckdb_create_logical_type(DUCKDB_TYPE_TIMESTAMP);
	duckdb_logical_type any = duckdb_create_logical_type(DUCKDB_TYPE_ANY);
	for (int i = 0; i < nvarchar; i++)
		duckdb_table_function_add_parameter(f, vc);
	for (int i = 0; i < nbigint; i++)
		duckdb_table_function_add_parameter(f, bi);
	duckdb_table_function_set_extra_info(f, (void *)(intptr_t)kind, NULL);
	if (kind == FN_SCAN || kind == FN_CHANGES) {
		duckdb_table_function_add_named_parameter(f, "partition", vc);
		if (kind == FN_SCAN) {
			duckdb_table_function_add_named_parameter(f, "as_of_version", bi);
			duckdb_table_function_add_named_parameter(f, "as_of_time", ts);
			duckdb_table_function_add_named_parameter(f, "as_of_tag", vc);
			duckdb_table_function_add_named_parameter(f, "key", any);
		}
		duckdb_table_function_set_bind(f, scan_bind_fn);
		duckdb_table_function_set_init(f, scan_init_fn);
		duckdb_table_function_set_local_init(f, scan_local_init_fn);
		duckdb_table_function_set_function(f, scan_fn);
		duckdb_table_function_supports_projection_pushdown(f, true);
	} else {
		duckdb_table_function_set_bind(f, meta_bind_fn);
		duckdb_table_function_set_init(f, meta_init_fn);
		duckdb_table_function_set_function(f, meta_fn);
	}
	duckdb_state st = duckdb_register_table_function(conn, f);
	duckdb_destroy_logical_type(&vc);
	duckdb_destroy_logical_type(&bi);
	duckdb_destroy_logical_type(&ts);
	duckdb_destroy_logical_type(&any);
	duckdb_destroy_table_function(&f);
	return st == DuckDBSuccess;
}

/* The entry point DuckDB looks up (defined by the macro below). */
DUCKDB_CAPI_ENTRY_VISIBILITY DUCKDB_EXTENSION_API bool
strata_init_c_api(duckdb_extension_info info, struct duckdb_extension_access *access);

DUCKDB_EXTENSION_ENTRYPOINT(duckdb_connection conn, duckdb_extension_info info,
			    struct duckdb_extension_access *access)
{
	if (!register_fn(conn, "strata_scan", FN_SCAN, 2, 0) ||
	    !register_fn(conn, "strata_changes", FN_CHANGES, 2, 2) ||
	    !register_fn(conn, "strata_tables", FN_TABLES, 1, 0) ||
	    !register_fn(conn, "strata_log", FN_LOG, 2, 0) ||
	    !register_fn(conn, "strata_files", FN_FILES, 2, 0)) {
		access->set_error(info, "strata: could not register the table functions");
		return false;
	}
	return true;
}
