/*
 * format/avro.c — row files: Avro object container files through Apache
 * Avro C.
 *
 * Layout of a row file (see docs/FORMAT.md):
 *   record "row", namespace "strata.s<schema version>", fields in schema
 *   order after "_op" (int: 0 upsert, 1 delete):
 *     key columns        the plain Avro type (long, int, double, float,
 *                        boolean, string, bytes; TIMESTAMP is long with
 *                        logicalType timestamp-micros, DATE int with
 *                        logicalType date, DECIMAL(p,s) bytes with
 *                        logicalType decimal, precision p and scale s: the
 *                        unscaled value as the shortest big-endian two's
 *                        complement)
 *     other columns      ["null", type] — nullable in storage because a
 *                        delete carries only its key
 *   codec "null" or "deflate" (table property write.avro.codec), 64 KiB blocks.
 * Records carry no _seq: the version that committed the file is the _seq of
 * all of them (the manifest's file entry says which).
 *
 * The writer is Avro C's: it streams into a strata_wfile through a stdio
 * cookie, so the I/O vtable sees every byte and a failed write poisons the
 * file (and Avro C's writer is still freed: see avro_cookie_write).
 * Avro C drops every attribute it does not model when it renders a schema
 * (logicalType, precision, scale: checked with Avro C 1.11), so the cookie
 * holds back the header Avro C writes at create, and the writer puts out
 * the same header (magic, metadata, sync marker) with our own schema JSON
 * as avro.schema: the logical types reach the file (header_rewrite).
 *
 * The reader parses the container itself (header, metadata map, sync marker,
 * blocks) and decodes records with a hand-written, bounds-checked decoder;
 * Avro C parses the schema JSON of the header.  Parsing a schema costs more
 * than reading a small row file, so a file whose header schema text is byte-
 * identical to one already checked against the same table schema skips the
 * parse (a small process-wide cache keyed by both hashes).  A file's schema
 * must match the schema version its manifest entry names (names, types,
 * order); any mismatch or decoding failure is STRATA_ECORRUPT naming the file.
 *
 * Reader invariants:
 *   1. no read outside the current block buffer: every varint, length and
 *      fixed-size value is checked against the bytes left;
 *   2. a block's count, size and (inflated) length are bounded
 *      (AVRO_MAX_BLOCK_BYTES), and its trailing sync must equal the header's;
 *   3. the record count of a block is honoured exactly: leftover bytes or a
 *      short block are corruption;
 *   4. when the caller will verify the content hash (want_hash), every byte
 *      from the first to the last passes through one XXH3-64 in file order
 *      as the blocks are loaded (format.h, "Content hash").
 *
 * The writer's content hash is XXH3-64 of every byte the stdio cookie
 * appends to the wfile.
 *
 * Thread safety: one handle per thread.
 */
#include "format/format_int.h"

#include <avro.h>
#include <jansson.h>
#include <xxhash.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
	case STRATA_T_DATE:
		return "{\"type\":\"int\",\"logicalType\":\"date\"}";
	case STRATA_T_DECIMAL:
		return NULL; /* avro_type_json: it has the column's p and s */
	}
	return "\"null\"";
}

static void avro_type_json(const strata_column *c, strata_buf *b)
{
	if (c->type == STRATA_T_DECIMAL)
		strata_buf_printf(b,
				  "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":%u,"
				  "\"scale\":%u}",
				  c->precision, c->scale);
	else
		strata_buf_printf(b, "%s", avro_prim(c->type));
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
		strata_buf_printf(&b, ",{\"name\":\"%s\",\"type\":%s", c->name,
				  c->key_pos >= 0 ? "" : "[\"null\",");
		avro_type_json(c, &b);
		strata_buf_printf(&b, "%s}", c->key_pos >= 0 ? "" : "]");
	}
	strata_buf_printf(&b, "]}");
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

/* Avro C's write_header() renders the schema into a buffer of this size. */
#define AVRO_C_SCHEMA_BUF_BYTES (64 * 1024)

/* Avro C keeps its last error in one process-wide buffer (Debian's build
 * has no thread-local errors) and sets it on ordinary paths too (a full
 * block buffer inside avro_file_writer_append_value): writers on several
 * threads — a commit makes its files durable in parallel (table/txn.c) —
 * raced on it (ThreadSanitizer saw it).  Every call into Avro C's writer,
 * and every read of avro_strerror() after one, holds avro_c_mu; the file's
 * fsync and rename (strata_wfile, after avro_w_finish) stay parallel.
 * Recursive: a failed open frees its writer under the lock. */
static pthread_mutex_t avro_c_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

int strata_schema_check_writable(const strata_schema *s, strata_err *err)
{
	char *json = avro_schema_json(s);
	avro_schema_t as = NULL;
	int rc = 0;
	pthread_mutex_lock(&avro_c_mu);
	if (avro_schema_from_json_length(json, strlen(json), &as) != 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "Avro rejected the row-file schema: %s",
				    avro_strerror());
		goto out;
	}
	/* exactly what the writer will do, into a buffer of the same size */
	char *buf = strata_malloc(AVRO_C_SCHEMA_BUF_BYTES);
	avro_writer_t mw = avro_writer_memory(buf, AVRO_C_SCHEMA_BUF_BYTES);
	if (!mw || avro_schema_to_json(as, mw) != 0)
		rc = strata_err_set(err, STRATA_ELIMIT,
				    "the row-file schema of %u columns takes about %zu bytes; Avro C "
				    "writes at most %d (use fewer columns or shorter names)",
				    s->ncols, strlen(json), AVRO_C_SCHEMA_BUF_BYTES);
	if (mw)
		avro_writer_free(mw);
	free(buf);
out:
	if (as)
		avro_schema_decref(as);
	pthread_mutex_unlock(&avro_c_mu);
	free(json);
	return rc;
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
	return file == want || (file == STRATA_T_LONG && want == STRATA_T_TIMESTAMP) ||
	       (file == STRATA_T_INT && want == STRATA_T_DATE) ||
	       (file == STRATA_T_BYTES && want == STRATA_T_DECIMAL);
}

/* A file read without the manifest's schema: the logical types from the
 * header's JSON (Avro C's parse drops them) onto s, whose columns are the
 * fields after "_op" in order. */
static void avro_logical_types(const uint8_t *json, size_t len, strata_schema *s)
{
	json_t *root = json_loadb((const char *)json, len, 0, NULL);
	json_t *fields = root ? json_object_get(root, "fields") : NULL;
	for (uint32_t i = 0; json_is_array(fields) && i < s->ncols; i++) {
		json_t *t = json_object_get(json_array_get(fields, i + 1), "type");
		if (json_is_array(t))
			t = json_array_get(t, 1);
		const char *lt = json_string_value(json_object_get(t, "logicalType"));
		strata_column *c = &s->cols[i];
		if (!lt)
			continue;
		if (strcmp(lt, "timestamp-micros") == 0 && c->type == STRATA_T_LONG) {
			c->type = STRATA_T_TIMESTAMP;
		} else if (strcmp(lt, "date") == 0 && c->type == STRATA_T_INT) {
			c->type = STRATA_T_DATE;
		} else if (strcmp(lt, "decimal") == 0 && c->type == STRATA_T_BYTES) {
			json_int_t p = json_integer_value(json_object_get(t, "precision"));
			json_int_t sc = json_integer_value(json_object_get(t, "scale"));
			if (p >= 1 && p <= STRATA_DECIMAL_MAX_PRECISION && sc >= 0 && sc <= p) {
				c->type = STRATA_T_DECIMAL;
				c->precision = (uint8_t)p;
				c->scale = (uint8_t)sc;
			}
		}
	}
	json_decref(root);
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
	bool is_discarding; /* aborting: the stream drops what Avro C flushes */
	bool is_header;     /* Avro C is writing the header: held in header */
	strata_buf header;
	XXH3_state_t *hash; /* content hash of every byte appended */
} avro_w;

/* The stdio stream Avro C writes into: it appends to the wfile.  Avro C's
 * avro_file_writer_close() frees the writer only when its final flush
 * succeeds, so an abort after a failed write first switches the stream to
 * discarding; the wfile stays poisoned and reports the first failure. */
static ssize_t avro_cookie_write(void *cookie, const char *buf, size_t n)
{
	avro_w *w = cookie;
	if (w->is_discarding)
		return (ssize_t)n;
	if (w->is_header) {
		strata_buf_append(&w->header, buf, n);
		return (ssize_t)n;
	}
	if (strata_wfile_write(w->wf, buf, n, NULL) != 0) {
		errno = EIO;
		return -1;
	}
	XXH3_64bits_update(w->hash, buf, n);
	return (ssize_t)n;
}

static void avro_w_free(avro_w *w, bool commit_done)
{
	pthread_mutex_lock(&avro_c_mu);
	if (!commit_done)
		w->is_discarding = true;
	if (w->writer)
		avro_file_writer_close(w->writer);
	if (w->fp)
		fclose(w->fp);
	if (w->has_rec)
		avro_value_decref(&w->rec);
	if (w->iface)
		avro_value_iface_decref(w->iface);
	if (w->schema)
		avro_schema_decref(w->schema);
	if (!commit_done)
		strata_wfile_abort(w->wf);
	pthread_mutex_unlock(&avro_c_mu);
	strata_buf_free(&w->scratch);
	strata_buf_free(&w->header);
	XXH3_freeState(w->hash);
	free(w->path);
	free(w);
}

static void put_varint(strata_buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	do {
		uint8_t byte = (uint8_t)(z & 0x7f);
		z >>= 7;
		strata_buf_putc(b, z ? byte | 0x80 : byte);
	} while (z);
}

static int get_varint(const uint8_t *p, size_t n, size_t *off, int64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64 && *off < n; shift += 7) {
		uint8_t b = p[(*off)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return 0;
		}
	}
	return -1;
}

/* The header Avro C wrote (magic, metadata map, sync) with avro.schema
 * replaced by json, into out.  -1 if it is not the header we know. */
static int header_rewrite(const strata_buf *h, const char *json, strata_buf *out)
{
	const uint8_t *p = h->data;
	size_t n = h->len, off = 4;
	if (n < 4 + 1 + 16 || memcmp(p, "Obj\x01", 4) != 0)
		return -1;
	strata_buf_append(out, p, 4);
	for (;;) {
		int64_t count;
		if (get_varint(p, n, &off, &count))
			return -1;
		if (count == 0)
			break;
		if (count < 0) {
			int64_t bytes;
			if (get_varint(p, n, &off, &bytes) || count == INT64_MIN)
				return -1;
			count = -count;
		}
		put_varint(out, count);
		for (int64_t i = 0; i < count; i++) {
			int64_t kl, vl;
			if (get_varint(p, n, &off, &kl) || kl < 0 || (uint64_t)kl > n - off)
				return -1;
			const uint8_t *k = p + off;
			off += (size_t)kl;
			if (get_varint(p, n, &off, &vl) || vl < 0 || (uint64_t)vl > n - off)
				return -1;
			const uint8_t *v = p + off;
			off += (size_t)vl;
			put_varint(out, kl);
			strata_buf_append(out, k, (size_t)kl);
			if (kl == 11 && memcmp(k, "avro.schema", 11) == 0) {
				put_varint(out, (int64_t)strlen(json));
				strata_buf_append(out, json, strlen(json));
			} else {
				put_varint(out, vl);
				strata_buf_append(out, v, (size_t)vl);
			}
		}
	}
	put_varint(out, 0);
	if (n - off != 16)
		return -1;
	strata_buf_append(out, p + off, 16);
	return 0;
}

/* The parsed schema and value class of the last few row-file schemas
 * written (by their JSON), shared by every writer: a commit of 16 small
 * buckets opened 16 writers, and parsing the schema's JSON and building its
 * value class was 40 % of such a commit (perf; issue 16).  Entries hold a
 * reference each; a writer takes its own.  Under avro_c_mu. */
#define AVRO_WCACHE 8
static struct {
	char *json;
	avro_schema_t schema;
	avro_value_iface_t *iface;
} avro_wcache[AVRO_WCACHE];
static unsigned avro_wcache_next;

/* w->schema and w->iface for json, from the cache or parsed (and cached);
 * -1 when Avro C rejects it.  avro_c_mu held. */
static int avro_w_schema(avro_w *w, const char *json)
{
	for (unsigned i = 0; i < AVRO_WCACHE; i++) {
		if (avro_wcache[i].json && strcmp(avro_wcache[i].json, json) == 0) {
			w->schema = avro_schema_incref(avro_wcache[i].schema);
			w->iface = avro_value_iface_incref(avro_wcache[i].iface);
			return 0;
		}
	}
	if (avro_schema_from_json_length(json, strlen(json), &w->schema) != 0) {
		w->schema = NULL;
		return -1;
	}
	w->iface = avro_generic_class_from_schema(w->schema);
	if (!w->iface)
		return -1;
	unsigned at = avro_wcache_next++ % AVRO_WCACHE;
	if (avro_wcache[at].json) {
		free(avro_wcache[at].json);
		avro_value_iface_decref(avro_wcache[at].iface);
		avro_schema_decref(avro_wcache[at].schema);
	}
	avro_wcache[at].json = strata_strdup(json);
	avro_wcache[at].schema = avro_schema_incref(w->schema);
	avro_wcache[at].iface = avro_value_iface_incref(w->iface);
	return 0;
}

static int avro_w_open(const char *path, const strata_schema *schema,
		       const strata_write_opts *opts, void **state, strata_err *err)
{
	avro_w *w = strata_calloc(1, sizeof(*w));
	w->ss = schema;
	w->path = strata_strdup(path);
	int rc = opts->mem_out ? strata_wfile_open_mem(path, opts->mem_out, &w->wf) :
				 strata_wfile_open(path, &w->wf, err);
	if (rc) {
		free(w->path);
		free(w);
		return rc;
	}
	w->hash = strata_xxh3_new();
	pthread_mutex_lock(&avro_c_mu);
	char *json = avro_schema_json(schema);
	if (avro_w_schema(w, json) != 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "\"%s\": Avro rejected the schema: %s",
				    path, avro_strerror());
		goto fail;
	}
	if (avro_generic_value_new(w->iface, &w->rec) != 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "\"%s\": %s", path, avro_strerror());
		goto fail;
	}
	w->has_rec = true;
	cookie_io_functions_t fns = {.write = avro_cookie_write};
	w->fp = fopencookie(w, "w", fns);
	if (!w->fp) {
		rc = strata_err_set(err, -errno, "\"%s\": fopencookie failed", path);
		goto fail;
	}
	setvbuf(w->fp, NULL, _IOFBF, 64 * 1024);
	const char *codec = opts->codec == STRATA_CODEC_DEFLATE ? "deflate" : "null";
	/* Avro C needs one record to fit in its block buffer */
	size_t block = opts->avro_block_bytes > AVRO_BLOCK_BYTES ? (size_t)opts->avro_block_bytes :
								   AVRO_BLOCK_BYTES;
	w->is_header = true;
	if (avro_file_writer_create_with_codec_fp(w->fp, path, 0, w->schema, &w->writer,
						  codec, block) != 0 ||
	    fflush(w->fp) != 0) {
		w->writer = NULL;
		rc = strata_err_set(err, -EIO, "\"%s\": could not start the Avro file: %s",
				    path, avro_strerror());
		goto fail;
	}
	w->is_header = false;
	strata_buf hdr = {0};
	if (header_rewrite(&w->header, json, &hdr) != 0) {
		strata_buf_free(&hdr);
		rc = strata_err_set(err, STRATA_EINVAL,
				    "\"%s\": Avro C wrote a header strata does not know", path);
		goto fail;
	}
	rc = strata_wfile_write(w->wf, hdr.data, hdr.len, err);
	if (rc == 0)
		XXH3_64bits_update(w->hash, hdr.data, hdr.len);
	strata_buf_free(&hdr);
	if (rc)
		goto fail;
	pthread_mutex_unlock(&avro_c_mu);
	free(json);
	*state = w;
	return 0;
fail:
	free(json);
	avro_w_free(w, false);
	pthread_mutex_unlock(&avro_c_mu);
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
	case STRATA_T_DATE:
		return avro_value_set_int(&target, v->v.i32);
	case STRATA_T_DECIMAL: {
		/* the shortest big-endian two's complement of the unscaled value */
		uint8_t be[16];
		strata_i128 x = strata_dec_get(v);
		for (int i = 0; i < 16; i++)
			be[15 - i] = (uint8_t)(x >> (8 * i));
		int k = 0;
		while (k < 15 && ((be[k] == 0x00 && !(be[k + 1] & 0x80)) ||
				  (be[k] == 0xff && (be[k + 1] & 0x80))))
			k++;
		return avro_value_set_bytes(&target, be + k, (size_t)(16 - k));
	}
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

static int avro_w_add_locked(avro_w *w, const strata_row *row, strata_err *err)
{
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

static int avro_w_add(void *state, const strata_row *row, strata_err *err)
{
	avro_w *w = state;
	pthread_mutex_lock(&avro_c_mu);
	int rc = avro_w_add_locked(w, row, err);
	pthread_mutex_unlock(&avro_c_mu);
	return rc;
}

static uint64_t avro_w_bytes(void *state)
{
	avro_w *w = state;
	return strata_wfile_offset(w->wf);
}

static int avro_w_finish(void *state, const strata_file_stats *stats, strata_fw_done *done,
			 strata_err *err)
{
	avro_w *w = state;
	pthread_mutex_lock(&avro_c_mu);
	int rc = avro_file_writer_close(w->writer);
	if (rc) {
		/* the writer is still Avro C's to free: avro_w_free closes it again */
		rc = strata_err_set(err, rc > 0 ? -rc : -EIO,
				    "\"%s\": could not finish the Avro file: %s", w->path,
				    avro_strerror());
		avro_w_free(w, false);
		pthread_mutex_unlock(&avro_c_mu);
		return rc;
	}
	pthread_mutex_unlock(&avro_c_mu);
	w->writer = NULL;
	FILE *fp = w->fp;
	w->fp = NULL;
	if (fclose(fp) != 0) {
		/* a failed write poisoned the wfile, which says why */
		rc = strata_wfile_write(w->wf, "", 0, err);
		if (rc == 0)
			rc = strata_err_set(err, -EIO, "\"%s\": could not flush the Avro file",
					    w->path);
		avro_w_free(w, false);
		return rc;
	}
	done->file_bytes = strata_wfile_offset(w->wf);
	done->content_hash = XXH3_64bits_digest(w->hash);
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

/* ---- reader ----------------------------------------------------------------- */

#define AVRO_MAX_BLOCK_BYTES (64u << 20)
#define AVRO_MAX_HEADER_BYTES (1u << 20)

typedef struct avro_r {
	strata_rfile *rf;
	uint64_t pos;          /* file offset of the next block */
	uint64_t size;
	uint8_t sync[16];
	bool is_deflate;
	strata_schema *own_schema;
	const strata_schema *schema;
	const bool *need;
	bool *is_union;        /* per column: stored as ["null", T] */
	uint8_t *raw;          /* block bytes as stored */
	size_t raw_cap;
	uint8_t *buf;          /* decoded block */
	size_t buf_cap, buf_len, buf_off;
	uint64_t left;         /* records left in the current block */
	char *path;
	XXH3_state_t *hash;    /* content hash of the bytes consumed so far
				  (NULL: not wanted) */
	uint64_t header_len;
} avro_r;

/* ---- primitive decoding (invariant 1) -------------------------------------------- */

typedef struct cur {
	const uint8_t *p;
	size_t n, off;
} cur;

static inline int cur_long(cur *c, int64_t *out)
{
	if (c->n - c->off >= 10) {
		/* the longest varint fits: no bound check per byte */
		const uint8_t *p = c->p + c->off;
		uint64_t v = 0;
		for (int i = 0; i < 10; i++) {
			uint8_t b = p[i];
			v |= (uint64_t)(b & 0x7f) << (7 * i);
			if (!(b & 0x80)) {
				c->off += (size_t)i + 1;
				*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
				return 0;
			}
		}
		return -1;
	}
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (c->off >= c->n)
			return -1;
		uint8_t b = c->p[c->off++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return 0;
		}
	}
	return -1;
}

static int cur_bytes(cur *c, const uint8_t **p, size_t *len)
{
	int64_t n;
	if (cur_long(c, &n) || n < 0 || (uint64_t)n > c->n - c->off)
		return -1;
	*p = c->p + c->off;
	*len = (size_t)n;
	c->off += (size_t)n;
	return 0;
}

static int cur_fixed(cur *c, void *out, size_t n)
{
	if (c->n - c->off < n)
		return -1;
	memcpy(out, c->p + c->off, n);
	c->off += n;
	return 0;
}

/* ---- schema check cache ------------------------------------------------------------ */

typedef struct schema_ok {
	uint64_t expect_hash, header_hash;
} schema_ok;

static pthread_mutex_t schema_ok_mu = PTHREAD_MUTEX_INITIALIZER;
static schema_ok schema_ok_cache[128];
static unsigned schema_ok_next;

static bool schema_ok_lookup(uint64_t e, uint64_t h)
{
	bool hit = false;
	pthread_mutex_lock(&schema_ok_mu);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(schema_ok_cache) && !hit; i++)
		hit = schema_ok_cache[i].expect_hash == e && schema_ok_cache[i].header_hash == h;
	pthread_mutex_unlock(&schema_ok_mu);
	return hit;
}

static void schema_ok_add(uint64_t e, uint64_t h)
{
	pthread_mutex_lock(&schema_ok_mu);
	schema_ok_cache[schema_ok_next++ % STRATA_ARRAY_LEN(schema_ok_cache)] =
		(schema_ok){.expect_hash = e, .header_hash = h};
	pthread_mutex_unlock(&schema_ok_mu);
}

/* Identity of a schema for the cache: every field that shapes the storage. */
static uint64_t schema_identity(const strata_schema *s)
{
	strata_buf b = {0};
	strata_buf_append(&b, &s->version, sizeof(s->version));
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		int32_t f[5] = {(int32_t)c->id, (int32_t)c->type, c->is_nullable, c->key_pos,
				c->precision << 8 | c->scale};
		strata_buf_append(&b, f, sizeof(f));
		strata_buf_append(&b, c->name, strlen(c->name) + 1);
	}
	uint64_t h = strata_hash64(b.data, b.len);
	strata_buf_free(&b);
	return h;
}

/* ---- open ---------------------------------------------------------------------------- */

static void avro_r_close(void *state)
{
	avro_r *r = state;
	if (!r)
		return;
	strata_rfile_close(r->rf);
	XXH3_freeState(r->hash);
	strata_schema_free(r->own_schema);
	free(r->is_union);
	free(r->raw);
	free(r->buf);
	free(r->path);
	free(r);
}

static int bad(avro_r *r, strata_err *err, const char *what)
{
	return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": damaged Avro file: %s", r->path, what);
}

/* Read the header: magic, metadata (schema, codec), sync.  *schema_json and
 * its length point into *hdr (caller frees). */
static int read_header(avro_r *r, uint8_t **hdr, const uint8_t **schema_json,
		       size_t *schema_len, strata_err *err)
{
	size_t n = r->size < AVRO_MAX_HEADER_BYTES ? (size_t)r->size : AVRO_MAX_HEADER_BYTES;
	uint8_t *h = strata_malloc(n ? n : 1);
	*hdr = h;
	int rc = strata_rfile_read(r->rf, h, n, 0, err);
	if (rc)
		return rc;
	if (n < 4 || memcmp(h, "Obj\x01", 4) != 0)
		return bad(r, err, "bad magic");
	cur c = {.p = h, .n = n, .off = 4};
	const uint8_t *codec = NULL;
	size_t codec_len = 0;
	*schema_json = NULL;
	for (;;) {
		int64_t count;
		if (cur_long(&c, &count))
			return bad(r, err, "truncated metadata");
		if (count == 0)
			break;
		if (count < 0) {
			int64_t bytes;
			if (cur_long(&c, &bytes) || count == INT64_MIN)
				return bad(r, err, "truncated metadata");
			count = -count;
		}
		if (count > 1024)
			return bad(r, err, "too many metadata entries");
		for (int64_t i = 0; i < count; i++) {
			const uint8_t *k, *v;
			size_t kl, vl;
			if (cur_bytes(&c, &k, &kl) || cur_bytes(&c, &v, &vl))
				return bad(r, err, "truncated metadata");
			if (kl == 11 && memcmp(k, "avro.schema", 11) == 0) {
				*schema_json = v;
				*schema_len = vl;
			} else if (kl == 10 && memcmp(k, "avro.codec", 10) == 0) {
				codec = v;
				codec_len = vl;
			}
		}
	}
	if (cur_fixed(&c, r->sync, 16))
		return bad(r, err, "truncated header (no sync marker)");
	if (!*schema_json)
		return bad(r, err, "no avro.schema in the header");
	if (codec && !(codec_len == 4 && memcmp(codec, "null", 4) == 0)) {
		if (codec_len == 7 && memcmp(codec, "deflate", 7) == 0)
			r->is_deflate = true;
		else
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": unsupported Avro codec \"%.*s\" (strata reads "
					      "null and deflate)",
					      r->path, (int)(codec_len > 32 ? 32 : codec_len), codec);
	}
	r->pos = c.off;
	return 0;
}

/* Open path's bytes: the file, or mem (an inline row file) when mem->data
 * is not NULL. */
static int avro_r_open_src(const char *path, const strata_bytes *mem,
			   const strata_schema *file_schema, void **state, strata_err *err)
{
	avro_r *r = strata_calloc(1, sizeof(*r));
	r->path = strata_strdup(path);
	uint8_t *hdr = NULL;
	avro_schema_t as = NULL;
	int rc = mem && mem->data ? strata_rfile_open_mem(path, mem->data, mem->len, &r->rf) :
				    strata_rfile_open(path, &r->rf, err);
	if (rc)
		goto fail;
	r->size = strata_rfile_size(r->rf);
	const uint8_t *sj = NULL;
	size_t sl = 0;
	rc = read_header(r, &hdr, &sj, &sl, err);
	if (rc)
		goto fail;
	r->header_len = r->pos;
	uint64_t eh = 0, hh = strata_hash64(sj, sl);
	if (file_schema) {
		eh = schema_identity(file_schema);
		if (schema_ok_lookup(eh, hh)) {
			r->own_schema = strata_schema_dup(file_schema);
			goto schema_done;
		}
	}
	if (avro_schema_from_json_length((const char *)sj, sl, &as) != 0) {
		rc = strata_err_set(err, STRATA_ECORRUPT, "\"%s\": unreadable Avro schema: %s", path,
				    avro_strerror());
		goto fail;
	}
	rc = avro_schema_read(path, as, file_schema, &r->own_schema, err);
	if (rc)
		goto fail;
	if (!file_schema)
		avro_logical_types(sj, sl, r->own_schema);
	if (file_schema)
		schema_ok_add(eh, hh);
schema_done:
	r->schema = r->own_schema;
	/* storage layout: non-key columns are unions when the schema came from
	 * the manifest; from a standalone file, nullable means union */
	r->is_union = strata_calloc(r->schema->ncols + 1, sizeof(bool));
	for (uint32_t i = 0; i < r->schema->ncols; i++)
		r->is_union[i] = file_schema ? r->schema->cols[i].key_pos < 0 :
					       r->schema->cols[i].is_nullable;
	if (as)
		avro_schema_decref(as);
	free(hdr);
	*state = r;
	return 0;
fail:
	if (as)
		avro_schema_decref(as);
	free(hdr);
	avro_r_close(r);
	return rc;
}

static int avro_r_open(const char *path, const strata_schema *file_schema, void **state,
		       strata_err *err)
{
	return avro_r_open_src(path, NULL, file_schema, state, err);
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

/* ---- blocks (invariant 2) ------------------------------------------------------------------ */

static int inflate_block(avro_r *r, const uint8_t *in, size_t in_len, strata_err *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -15) != Z_OK)
		return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": cannot start inflate", r->path);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	size_t out = 0;
	int zrc;
	do {
		if (r->buf_cap - out < 65536) {
			size_t cap = r->buf_cap ? r->buf_cap * 2 : 262144;
			if (cap > AVRO_MAX_BLOCK_BYTES + 65536u) {
				inflateEnd(&zs);
				return bad(r, err, "deflated block inflates beyond 64 MiB");
			}
			r->buf = strata_realloc(r->buf, cap);
			r->buf_cap = cap;
		}
		zs.next_out = r->buf + out;
		zs.avail_out = (uInt)(r->buf_cap - out);
		zrc = inflate(&zs, Z_NO_FLUSH);
		out = r->buf_cap - zs.avail_out;
	} while (zrc == Z_OK);
	inflateEnd(&zs);
	if (zrc != Z_STREAM_END)
		return bad(r, err, "deflated block does not inflate");
	r->buf_len = out;
	return 0;
}

/* Load the next block; returns 1, 0 at the clean end of the file, or < 0. */
static int load_block(avro_r *r, strata_err *err)
{
	if (r->pos == r->size)
		return 0;
	uint8_t head[20];
	size_t hn = r->size - r->pos < sizeof(head) ? (size_t)(r->size - r->pos) : sizeof(head);
	int rc = strata_rfile_read(r->rf, head, hn, r->pos, err);
	if (rc)
		return rc;
	cur c = {.p = head, .n = hn};
	int64_t count, bytes;
	if (cur_long(&c, &count) || cur_long(&c, &bytes))
		return bad(r, err, "truncated block header");
	if (count < 0 || bytes < 0 || (uint64_t)bytes > AVRO_MAX_BLOCK_BYTES ||
	    (uint64_t)count > (uint64_t)bytes * 8 + 1)
		return bad(r, err, "block count or size out of range");
	uint64_t data_off = r->pos + c.off;
	if (data_off + (uint64_t)bytes + 16 > r->size)
		return bad(r, err, "block runs past the end of the file (truncated?)");
	size_t need = (size_t)bytes + 16;
	if (r->raw_cap < need) {
		r->raw = strata_realloc(r->raw, need);
		r->raw_cap = need;
	}
	rc = strata_rfile_read(r->rf, r->raw, need, data_off, err);
	if (rc)
		return rc;
	if (r->hash) {
		XXH3_64bits_update(r->hash, head, c.off);
		XXH3_64bits_update(r->hash, r->raw, need);
	}
	if (memcmp(r->raw + bytes, r->sync, 16) != 0)
		return bad(r, err, "block sync marker does not match the header");
	if (r->is_deflate) {
		rc = inflate_block(r, r->raw, (size_t)bytes, err);
		if (rc)
			return rc;
	} else {
		/* swap so values may point into buf */
		uint8_t *t = r->buf;
		size_t tc = r->buf_cap;
		r->buf = r->raw;
		r->buf_cap = r->raw_cap;
		r->raw = t;
		r->raw_cap = tc;
		r->buf_len = (size_t)bytes;
	}
	r->buf_off = 0;
	r->left = (uint64_t)count;
	r->pos = data_off + (uint64_t)bytes + 16;
	return 1;
}

/* ---- records --------------------------------------------------------------------------------- */

static int decode_value(cur *c, const strata_column *col, bool is_union, bool keep,
			strata_value *v)
{
	memset(v, 0, sizeof(*v));
	if (is_union) {
		int64_t branch;
		if (cur_long(c, &branch) || (branch != 0 && branch != 1))
			return -1;
		if (branch == 0) {
			v->is_null = true;
			return 0;
		}
	}
	switch (col->type) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return cur_long(c, &v->v.i64);
	case STRATA_T_INT:
	case STRATA_T_DATE: {
		int64_t x;
		if (cur_long(c, &x) || x < INT32_MIN || x > INT32_MAX)
			return -1;
		v->v.i32 = (int32_t)x;
		return 0;
	}
	case STRATA_T_DECIMAL: {
		const uint8_t *p;
		size_t n;
		if (cur_bytes(c, &p, &n) || n < 1 || n > 16)
			return -1;
		strata_i128 x = (p[0] & 0x80) ? -1 : 0;
		for (size_t i = 0; i < n; i++)
			x = (strata_i128)(((unsigned __int128)x << 8) | p[i]);
		strata_dec_set(v, x);
		return 0;
	}
	case STRATA_T_DOUBLE:
		return cur_fixed(c, &v->v.f64, 8);
	case STRATA_T_FLOAT:
		return cur_fixed(c, &v->v.f32, 4);
	case STRATA_T_BOOL: {
		uint8_t b;
		if (cur_fixed(c, &b, 1) || b > 1)
			return -1;
		v->v.b = b;
		return 0;
	}
	case STRATA_T_STRING:
	case STRATA_T_BYTES: {
		const uint8_t *p;
		size_t n;
		if (cur_bytes(c, &p, &n))
			return -1;
		v->v.s.ptr = p;
		v->v.s.len = (uint32_t)n;
		if (!keep)
			v->is_null = true;
		return 0;
	}
	}
	return -1;
}

static int avro_r_next(void *state, strata_row *row, strata_err *err)
{
	avro_r *r = state;
	while (r->left == 0) {
		/* invariant 3: a finished block must be consumed exactly */
		if (r->buf_off != r->buf_len)
			return bad(r, err, "block holds more bytes than its records");
		int rc = load_block(r, err);
		if (rc <= 0)
			return rc;
	}
	cur c = {.p = r->buf, .n = r->buf_len, .off = r->buf_off};
	int64_t op;
	if (cur_long(&c, &op) || (op != STRATA_OP_UPSERT && op != STRATA_OP_DELETE))
		return bad(r, err, "record with a bad _op");
	row->op = (uint8_t)op;
	for (uint32_t i = 0; i < r->schema->ncols; i++) {
		bool keep = !r->need || r->need[i];
		if (decode_value(&c, &r->schema->cols[i], r->is_union[i], keep, &row->vals[i]))
			return bad(r, err, "record does not decode (truncated or corrupt block)");
		if (!keep)
			row->vals[i].is_null = true;
	}
	r->buf_off = c.off;
	r->left--;
	return 1;
}

/* The reader consumed the file from its first byte to its last, in order
 * (load_block returns 0 only at r->pos == r->size). */
/* The content hash streams over the header, then every block as it is
 * loaded: blocks are read back to back, so one pass covers the file.  The
 * header was read at open: it is read again here (at most 1 MiB, usually
 * a few hundred bytes) so that reads that do not verify pay nothing. */
static void avro_r_want_hash(void *state)
{
	avro_r *r = state;
	if (r->hash || r->pos != r->header_len)
		return; /* already, or blocks were read: content_hash says 0 */
	r->hash = strata_xxh3_new();
	uint8_t *h = strata_malloc(r->header_len ? (size_t)r->header_len : 1);
	if (strata_rfile_read(r->rf, h, (size_t)r->header_len, 0, NULL) == 0) {
		XXH3_64bits_update(r->hash, h, (size_t)r->header_len);
	} else {
		XXH3_freeState(r->hash);
		r->hash = NULL;
	}
	free(h);
}

static int avro_r_content_hash(void *state, uint64_t *out, strata_err *err)
{
	avro_r *r = state;
	if (!r->hash || r->pos != r->size)
		return 0;
	*out = XXH3_64bits_digest(r->hash);
	return 1;
}

static int avro_r_hash_file(const char *path, uint64_t *out, strata_err *err)
{
	strata_rfile *f = NULL;
	int rc = strata_rfile_open(path, &f, err);
	if (rc)
		return rc;
	XXH3_state_t *h = strata_xxh3_new();
	uint64_t size = strata_rfile_size(f);
	size_t cap = 1u << 20;
	uint8_t *buf = strata_malloc(cap);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < cap ? (size_t)(size - off) : cap;
		rc = strata_rfile_read(f, buf, n, off, err);
		if (rc)
			goto out;
		XXH3_64bits_update(h, buf, n);
		off += n;
	}
	*out = XXH3_64bits_digest(h);
out:
	free(buf);
	XXH3_freeState(h);
	strata_rfile_close(f);
	return rc;
}

int strata_avro_describe(const char *path, FILE *out, strata_err *err)
{
	void *state = NULL;
	int rc = avro_r_open(path, NULL, &state, err);
	if (rc)
		return rc;
	avro_r *r = state;
	char *sj = strata_schema_to_json(r->schema);
	fprintf(out,
		"file: %s\nformat: avro (row file, level 0)\ncodec: %s\nbytes: %llu\n"
		"schema version: %u\ncolumns: %s\n",
		path, r->is_deflate ? "deflate" : "null", (unsigned long long)r->size,
		r->schema->version, sj);
	free(sj);
	bool *need_none = strata_calloc(r->schema->ncols + 1, sizeof(bool));
	r->need = need_none;
	strata_row row;
	row.vals = strata_calloc(r->schema->ncols + 1, sizeof(strata_value));
	row.ncols = r->schema->ncols;
	uint64_t n = 0, dels = 0, blocks = 0;
	uint64_t last_pos = r->pos;
	while ((rc = avro_r_next(r, &row, err)) == 1) {
		n++;
		if (row.op == STRATA_OP_DELETE)
			dels++;
		if (r->pos != last_pos) {
			blocks++;
			last_pos = r->pos;
		}
	}
	if (rc == 0)
		fprintf(out, "blocks: %llu\nrecords: %llu (deletes: %llu)\n",
			(unsigned long long)blocks, (unsigned long long)n, (unsigned long long)dels);
	free(row.vals);
	free(need_none);
	avro_r_close(r);
	return rc;
}

const strata_fr_backend strata_avro_reader = {
	.name = "avro",
	.open = avro_r_open,
	.open_mem = avro_r_open_src,
	.schema = avro_r_schema,
	.set_need = avro_r_set_need,
	.next = avro_r_next,
	.seek = NULL,
	.has_seq = avro_r_has_seq,
	.content_hash = avro_r_content_hash,
	.want_hash = avro_r_want_hash,
	.hash_file = avro_r_hash_file,
	.close = avro_r_close,
};
