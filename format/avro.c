/*
 * format/avro.c — row files: Avro object container files through Apache
 * Avro C.
 *
 * Layout of a row file (see docs/FORMAT.md):
 *   record "row", namespace "strata.s<schema version>", fields in schema
 *   order after "_op" (int: 0 upsert, 1 delete):
 *     key columns        the plain Avro type (long, int, double, float,
 *                        boolean, string, bytes; TIMESTAMP is long with
 *                        logicalType timestamp-micros)
 *     other columns      ["null", type] — nullable in storage because a
 *                        delete carries only its key
 *   codec "null" or "deflate" (table property write.avro.codec), 64 KiB blocks.
 * Records carry no _seq: the version that committed the file is the _seq of
 * all of them (the manifest's file entry says which).
 *
 * The writer streams into a strata_wfile through a stdio cookie, so the I/O
 * vtable sees every byte and a failed write poisons the file.  The reader
 * reads through a cookie over strata_rfile and checks the file's Avro schema
 * against the schema version the manifest names (same names, types, order);
 * any mismatch or decoding failure is STRATA_ECORRUPT naming the file.
 *
 * Thread safety: one handle per thread.
 */
#include "format/format_int.h"

#include <avro.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define AVRO_BLOCK_BYTES (64 * 1024)

/* ---- schema translation -------------------------------------------------- */

static const char *avro_prim(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
		return "\"long\"";
	case STRATA_T_TIMESTAMP:
		return "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}";
	case STRATA_T_INT:
		return "\"int\"";
	case STRATA_T_DOUBLE:
		return "\"double\"";
	case STRATA_T_FLOAT:
		return "\"float\"";
	case STRATA_T_BOOL:
		return "\"boolean\"";
	case STRATA_T_STRING:
		return "\"string\"";
	case STRATA_T_BYTES:
		return "\"bytes\"";
	}
	return "\"null\"";
}

static char *avro_schema_json(const strata_schema *s)
{
	strata_buf b = {0};
	strata_buf_printf(&b,
			  "{\"type\":\"record\",\"name\":\"row\",\"namespace\":\"strata.s%u\","
			  "\"fields\":[{\"name\":\"_op\",\"type\":\"int\"}",
			  s->version);
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		if (c->key_pos >= 0)
			strata_buf_printf(&b, ",{\"name\":\"%s\",\"type\":%s}", c->name,
					  avro_prim(c->type));
		else
			strata_buf_printf(&b, ",{\"name\":\"%s\",\"type\":[\"null\",%s]}", c->name,
					  avro_prim(c->type));
	}
	strata_buf_printf(&b, "]}");
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

static int avro_type_to_strata(avro_type_t t, strata_type *out)
{
	switch (t) {
	case AVRO_INT64:
		*out = STRATA_T_LONG;
		return 0;
	case AVRO_INT32:
		*out = STRATA_T_INT;
		return 0;
	case AVRO_DOUBLE:
		*out = STRATA_T_DOUBLE;
		return 0;
	case AVRO_FLOAT:
		*out = STRATA_T_FLOAT;
		return 0;
	case AVRO_BOOLEAN:
		*out = STRATA_T_BOOL;
		return 0;
	case AVRO_STRING:
		*out = STRATA_T_STRING;
		return 0;
	case AVRO_BYTES:
		*out = STRATA_T_BYTES;
		return 0;
	default:
		return -1;
	}
}

static bool strata_types_compatible(strata_type file, strata_type want)
{
	return file == want || (file == STRATA_T_LONG && want == STRATA_T_TIMESTAMP);
}

/* Build a strata schema from the file's Avro schema (ids 1..n, no keys), or
 * check it against `expect`.  Returns 0 or STRATA_ECORRUPT. */
static int avro_schema_read(const char *path, avro_schema_t as, const strata_schema *expect,
			    strata_schema **out, strata_err *err)
{
	*out = NULL;
	if (!is_avro_record(as))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": Avro schema is not a record", path);
	size_t n = avro_schema_record_size(as);
	if (n < 1 || n - 1 > STRATA_MAX_COLS ||
	    strcmp(avro_schema_record_field_name(as, 0), "_op") != 0)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": not a strata row file (no leading \"_op\" field)",
				      path);
	if (expect && expect->ncols != n - 1)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": file has %zu columns, schema version %u has %u",
				      path, n - 1, expect->version, expect->ncols);
	uint32_t version = 0;
	const char *ns = avro_schema_namespace(as);
	if (ns && strncmp(ns, "strata.s", 8) == 0)
		version = (uint32_t)strtoul(ns + 8, NULL, 10);
	if (expect && version != expect->version)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": file was written with schema version %u, the "
				      "manifest says %u",
				      path, version, expect->version);
	strata_schema *s = strata_schema_new(version);
	for (size_t i = 1; i < n; i++) {
		avro_schema_t fs = avro_schema_record_field_get_by_index(as, (int)i);
		const char *name = avro_schema_record_field_name(as, (int)i);
		strata_column c;
		memset(&c, 0, sizeof(c));
		c.key_pos = -1;
		c.id = (uint32_t)i;
		if (is_avro_union(fs)) {
			avro_schema_t b0 = avro_schema_union_branch(fs, 0);
			avro_schema_t b1 = avro_schema_union_branch(fs, 1);
			if (avro_schema_union_size(fs) != 2 || !is_avro_null(b0) || !b1)
				goto bad;
			fs = b1;
			c.is_nullable = true;
		}
		if (avro_type_to_strata(avro_typeof(fs), &c.type) != 0)
			goto bad;
		snprintf(c.name, sizeof(c.name), "%s", name);
		if (expect) {
			const strata_column *e = &expect->cols[i - 1];
			if (strcmp(e->name, c.name) != 0 || !strata_types_compatible(c.type, e->type) ||
			    (c.is_nullable != (e->key_pos < 0)))
				goto bad;
			c = *e;
		}
		strata_schema_add(s, &c, NULL);
		continue;
bad:
		strata_schema_free(s);
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": Avro field \"%s\" does not match the table schema",
				      path, name ? name : "?");
	}
	*out = s;
	return 0;
}

/* ---- writer -------------------------------------------------------------- */

typedef struct avro_w {
	strata_wfile *wf;
	FILE *fp;
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t rec;
	bool has_rec;
	avro_file_writer_t writer;
	const strata_schema *ss;
	strata_buf scratch;
	char *path;
} avro_w;

static void avro_w_free(avro_w *w, bool commit_done)
{
	if (w->writer) {
		/* flushes into the stdio cookie; harmless when aborting */
		avro_file_writer_close(w->writer);
	}
	if (w->has_rec)
		avro_value_decref(&w->rec);
	if (w->iface)
		avro_value_iface_decref(w->iface);
	if (w->schema)
		avro_schema_decref(w->schema);
	if (!commit_done)
		strata_wfile_abort(w->wf);
	strata_buf_free(&w->scratch);
	free(w->path);
	free(w);
}

static int avro_w_open(const char *path, const strata_schema *schema,
		       const strata_write_opts *opts, void **state, strata_err *err)
{
	avro_w *w = strata_calloc(1, sizeof(*w));
	w->ss = schema;
	w->path = strata_strdup(path);
	int rc = strata_wfile_open(path, &w->wf, err);
	if (rc) {
		free(w->path);
		free(w);
		return rc;
	}
	char *json = avro_schema_json(schema);
	if (avro_schema_from_json_length(json, strlen(json), &w->schema) != 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "\"%s\": Avro rejected the schema: %s",
				    path, avro_strerror());
		free(json);
		goto fail;
	}
	free(json);
	w->iface = avro_generic_class_from_schema(w->schema);
	if (!w->iface || avro_generic_value_new(w->iface, &w->rec) != 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "\"%s\": %s", path, avro_strerror());
		goto fail;
	}
	w->has_rec = true;
	w->fp = strata_wfile_stdio(w->wf);
	if (!w->fp) {
		rc = strata_err_set(err, -errno, "\"%s\": fopencookie failed", path);
		goto fail;
	}
	const char *codec = opts->codec == STRATA_CODEC_DEFLATE ? "deflate" : "null";
	if (avro_file_writer_create_with_codec_fp(w->fp, path, 0, w->schema, &w->writer,
						  codec, AVRO_BLOCK_BYTES) != 0) {
		w->writer = NULL;
		rc = strata_err_set(err, -EIO, "\"%s\": could not start the Avro file: %s",
				    path, avro_strerror());
		goto fail;
	}
	*state = w;
	return 0;
fail:
	avro_w_free(w, false);
	return rc;
}

static int avro_set(avro_w *w, avro_value_t *field, const strata_column *c,
		    const strata_value *v)
{
	avro_value_t target = *field;
	int rc;
	if (c->key_pos < 0) {
		if (v->is_null)
			return avro_value_set_branch(field, 0, &target) ||
			       avro_value_set_null(&target);
		rc = avro_value_set_branch(field, 1, &target);
		if (rc)
			return rc;
	}
	switch (c->type) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return avro_value_set_long(&target, v->v.i64);
	case STRATA_T_INT:
		return avro_value_set_int(&target, v->v.i32);
	case STRATA_T_DOUBLE:
		return avro_value_set_double(&target, v->v.f64);
	case STRATA_T_FLOAT:
		return avro_value_set_float(&target, v->v.f32);
	case STRATA_T_BOOL:
		return avro_value_set_boolean(&target, v->v.b);
	case STRATA_T_STRING:
		/* Avro C wants the terminating NUL counted in the size */
		strata_buf_reset(&w->scratch);
		strata_buf_append(&w->scratch, v->v.s.ptr, v->v.s.len);
		strata_buf_putc(&w->scratch, 0);
		return avro_value_set_string_len(&target, (char *)w->scratch.data,
						 w->scratch.len);
	case STRATA_T_BYTES:
		return avro_value_set_bytes(&target, (void *)(v->v.s.len ? v->v.s.ptr :
							      (const uint8_t *)""),
					    v->v.s.len);
	}
	return EINVAL;
}

static int avro_w_add(void *state, const strata_row *row, strata_err *err)
{
	avro_w *w = state;
	avro_value_t f;
	int rc = avro_value_get_by_index(&w->rec, 0, &f, NULL);
	if (rc == 0)
		rc = avro_value_set_int(&f, row->op);
	for (uint32_t i = 0; rc == 0 && i < w->ss->ncols; i++) {
		rc = avro_value_get_by_index(&w->rec, i + 1, &f, NULL);
		if (rc == 0)
			rc = avro_set(w, &f, &w->ss->cols[i], &row->vals[i]);
	}
	if (rc)
		return strata_err_set(err, STRATA_EINVAL, "\"%s\": could not encode a record: %s",
				      w->path, avro_strerror());
	rc = avro_file_writer_append_value(w->writer, &w->rec);
	if (rc) {
		int code = rc > 0 ? -rc : -EIO;
		return strata_err_set(err, code, "\"%s\": could not append a record: %s",
				      w->path, avro_strerror());
	}
	return 0;
}

static uint64_t avro_w_bytes(void *state)
{
	avro_w *w = state;
	return strata_wfile_offset(w->wf);
}

static int avro_w_finish(void *state, const strata_file_stats *stats,
			 uint64_t *file_bytes, strata_err *err)
{
	avro_w *w = state;
	int rc = avro_file_writer_close(w->writer);
	w->writer = NULL;
	if (rc) {
		rc = strata_err_set(err, rc > 0 ? -rc : -EIO,
				    "\"%s\": could not finish the Avro file: %s", w->path,
				    avro_strerror());
		avro_w_free(w, false);
		return rc;
	}
	*file_bytes = strata_wfile_offset(w->wf);
	rc = strata_wfile_commit(w->wf, err);
	w->wf = NULL;
	avro_w_free(w, true);
	return rc;
}

static void avro_w_abort(void *state)
{
	avro_w_free(state, false);
}

const strata_fw_backend strata_avro_writer = {
	.name = "avro",
	.open = avro_w_open,
	.add = avro_w_add,
	.bytes = avro_w_bytes,
	.finish = avro_w_finish,
	.abort = avro_w_abort,
};

/* ---- reader -------------------------------------------------------------- */

typedef struct avro_r {
	strata_rfile *rf;
	uint64_t pos;
	FILE *fp;
	avro_file_reader_t reader;
	avro_schema_t wschema;
	avro_value_iface_t *iface;
	avro_value_t rec;
	bool has_rec;
	strata_schema *own_schema;
	const strata_schema *schema;
	const bool *need;
	bool *is_union; /* per column: stored as ["null", T] */
	int io_error;
	char *path;
} avro_r;

static ssize_t avro_r_cookie_read(void *cookie, char *buf, size_t n)
{
	avro_r *r = cookie;
	uint64_t size = strata_rfile_size(r->rf);
	if (r->pos >= size)
		return 0;
	if (n > size - r->pos)
		n = (size_t)(size - r->pos);
	ssize_t got = strata_io()->pread(strata_rfile_fd(r->rf), buf, n, (off_t)r->pos);
	if (got < 0) {
		r->io_error = (int)got;
		errno = (int)-got;
		return -1;
	}
	r->pos += (uint64_t)got;
	return got;
}

static int avro_r_cookie_seek(void *cookie, off64_t *off, int whence)
{
	avro_r *r = cookie;
	int64_t base = whence == SEEK_SET ? 0 :
		       whence == SEEK_CUR ? (int64_t)r->pos :
					    (int64_t)strata_rfile_size(r->rf);
	int64_t to = base + *off;
	if (to < 0) {
		errno = EINVAL;
		return -1;
	}
	r->pos = (uint64_t)to;
	*off = to;
	return 0;
}

static int avro_r_cookie_close(void *cookie)
{
	(void)cookie;
	return 0;
}

static void avro_r_close(void *state)
{
	avro_r *r = state;
	if (!r)
		return;
	if (r->has_rec)
		avro_value_decref(&r->rec);
	if (r->iface)
		avro_value_iface_decref(r->iface);
	if (r->wschema)
		avro_schema_decref(r->wschema);
	if (r->reader)
		avro_file_reader_close(r->reader);
	if (r->fp)
		fclose(r->fp); /* opened with should_close = 0: ours to close */
	strata_rfile_close(r->rf);
	strata_schema_free(r->own_schema);
	free(r->is_union);
	free(r->path);
	free(r);
}

static int avro_r_open(const char *path, const strata_schema *file_schema, void **state,
		       strata_err *err)
{
	avro_r *r = strata_calloc(1, sizeof(*r));
	r->path = strata_strdup(path);
	int rc = strata_rfile_open(path, &r->rf, err);
	if (rc)
		goto fail;
	cookie_io_functions_t fns = {
		.read = avro_r_cookie_read,
		.write = NULL,
		.seek = avro_r_cookie_seek,
		.close = avro_r_cookie_close,
	};
	r->fp = fopencookie(r, "r", fns);
	if (!r->fp) {
		rc = strata_err_set(err, -errno, "\"%s\": fopencookie failed", path);
		goto fail;
	}
	if (avro_file_reader_fp(r->fp, path, 0, &r->reader) != 0) {
		r->reader = NULL;
		rc = strata_err_set(err, r->io_error ? r->io_error : STRATA_ECORRUPT,
				    "\"%s\": not a readable Avro file: %s", path,
				    r->io_error ? strata_strerror(r->io_error) : avro_strerror());
		goto fail;
	}
	r->wschema = avro_file_reader_get_writer_schema(r->reader);
	rc = avro_schema_read(path, r->wschema, file_schema, &r->own_schema, err);
	if (rc)
		goto fail;
	r->schema = r->own_schema;
	r->is_union = strata_calloc(r->schema->ncols + 1, sizeof(bool));
	for (uint32_t i = 0; i < r->schema->ncols; i++)
		r->is_union[i] = is_avro_union(
			avro_schema_record_field_get_by_index(r->wschema, (int)i + 1));
	r->iface = avro_generic_class_from_schema(r->wschema);
	if (!r->iface || avro_generic_value_new(r->iface, &r->rec) != 0) {
		rc = strata_err_set(err, STRATA_ECORRUPT, "\"%s\": %s", path, avro_strerror());
		goto fail;
	}
	r->has_rec = true;
	*state = r;
	return 0;
fail:
	avro_r_close(r);
	return rc;
}

static const strata_schema *avro_r_schema(void *state)
{
	return ((avro_r *)state)->schema;
}

static void avro_r_set_need(void *state, const bool *need)
{
	((avro_r *)state)->need = need;
}

static bool avro_r_has_seq(void *state)
{
	return false;
}

static int avro_get(avro_value_t *field, const strata_column *c, bool is_union,
		    strata_value *v)
{
	avro_value_t target = *field;
	int rc;
	memset(v, 0, sizeof(*v));
	if (is_union) {
		int disc = 0;
		rc = avro_value_get_discriminant(field, &disc);
		if (rc)
			return rc;
		if (disc == 0) {
			v->is_null = true;
			return 0;
		}
		rc = avro_value_get_current_branch(field, &target);
		if (rc)
			return rc;
	}
	switch (c->type) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return avro_value_get_long(&target, &v->v.i64);
	case STRATA_T_INT:
		return avro_value_get_int(&target, &v->v.i32);
	case STRATA_T_DOUBLE:
		return avro_value_get_double(&target, &v->v.f64);
	case STRATA_T_FLOAT:
		return avro_value_get_float(&target, &v->v.f32);
	case STRATA_T_BOOL: {
		int b = 0;
		rc = avro_value_get_boolean(&target, &b);
		v->v.b = b != 0;
		return rc;
	}
	case STRATA_T_STRING: {
		const char *s = NULL;
		size_t n = 0;
		rc = avro_value_get_string(&target, &s, &n);
		if (rc)
			return rc;
		v->v.s.ptr = (const uint8_t *)s;
		v->v.s.len = n ? (uint32_t)(n - 1) : 0; /* Avro C counts the NUL */
		return 0;
	}
	case STRATA_T_BYTES: {
		const void *p = NULL;
		size_t n = 0;
		rc = avro_value_get_bytes(&target, &p, &n);
		v->v.s.ptr = p;
		v->v.s.len = (uint32_t)n;
		return rc;
	}
	}
	return EINVAL;
}

static int avro_r_next(void *state, strata_row *row, strata_err *err)
{
	avro_r *r = state;
	avro_value_reset(&r->rec);
	int rc = avro_file_reader_read_value(r->reader, &r->rec);
	if (rc == EOF)
		return 0;
	if (rc) {
		if (r->io_error)
			return strata_err_set(err, r->io_error, "could not read \"%s\": %s",
					      r->path, strata_strerror(r->io_error));
		return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": damaged Avro block: %s",
				      r->path, avro_strerror());
	}
	avro_value_t f;
	int32_t op = 0;
	rc = avro_value_get_by_index(&r->rec, 0, &f, NULL);
	if (rc == 0)
		rc = avro_value_get_int(&f, &op);
	if (rc == 0 && op != STRATA_OP_UPSERT && op != STRATA_OP_DELETE)
		rc = EINVAL;
	row->op = (uint8_t)op;
	for (uint32_t i = 0; rc == 0 && i < r->schema->ncols; i++) {
		if (r->need && !r->need[i]) {
			row->vals[i].is_null = true;
			continue;
		}
		rc = avro_value_get_by_index(&r->rec, i + 1, &f, NULL);
		if (rc == 0)
			rc = avro_get(&f, &r->schema->cols[i], r->is_union[i], &row->vals[i]);
	}
	if (rc)
		return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": damaged record: %s",
				      r->path, avro_strerror());
	return 1;
}

static int avro_r_describe(const char *path, FILE *out, strata_err *err)
{
	void *state = NULL;
	int rc = avro_r_open(path, NULL, &state, err);
	if (rc)
		return rc;
	avro_r *r = state;
	char *sj = strata_schema_to_json(r->schema);
	fprintf(out, "file: %s\nformat: avro (row file, level 0)\nbytes: %llu\n"
		     "schema version: %u\ncolumns: %s\n",
		path, (unsigned long long)strata_rfile_size(r->rf), r->schema->version, sj);
	free(sj);
	bool need_none[STRATA_MAX_COLS + 1];
	memset(need_none, 0, sizeof(need_none));
	r->need = need_none;
	strata_row row;
	strata_value vals[STRATA_MAX_COLS + 1];
	row.vals = vals;
	row.ncols = r->schema->ncols;
	uint64_t n = 0, dels = 0;
	while ((rc = avro_r_next(r, &row, err)) == 1) {
		n++;
		if (row.op == STRATA_OP_DELETE)
			dels++;
	}
	if (rc == 0)
		fprintf(out, "records: %llu (deletes: %llu)\n", (unsigned long long)n,
			(unsigned long long)dels);
	avro_r_close(r);
	return rc;
}

const strata_fr_backend strata_avro_reader = {
	.name = "avro",
	.open = avro_r_open,
	.schema = avro_r_schema,
	.set_need = avro_r_set_need,
	.next = avro_r_next,
	.seek = NULL,
	.has_seq = avro_r_has_seq,
	.describe = avro_r_describe,
	.close = avro_r_close,
};
