/*
 * format/file.c — the generic data-file writer and sorted-run reader.
 *
 * Both file kinds sit behind one writer and one reader (format_int.h holds
 * the backend tables).  This layer owns what the kinds share:
 *
 * Writer invariants:
 *   1. records reach the backend in (key asc, _seq desc) order with no
 *      repeated (key, _seq); row files (no _seq) hold each key once;
 *   2. the statistics (rows, tombstones, distinct keys, _seq range, key range, sketch)
 *      describe exactly the records written.
 * Reader invariants:
 *   3. records come out in (key asc, _seq desc) order or the read fails with
 *      STRATA_ECORRUPT naming the file — a damaged file can never feed a
 *      merge with unsorted input;
 *   4. rows are mapped from the file's schema to the read schema by column id:
 *      columns the file lacks read as null, others are not decoded; a column
 *      whose type was widened since the file was written (INT -> BIGINT,
 *      FLOAT -> DOUBLE, DECIMAL(p,s) -> DECIMAL(p',s)) reads as the new
 *      type (DECIMALs share one in-memory form: only INT and FLOAT convert);
 *      and the other way round, a file a job wrote after a widening read at
 *      a version before it (time travel) narrows back: every record such a
 *      read lets through (_seq <= its version) was written under the
 *      narrower type, so it fits.  Any other difference is damage.
 *   5. (writer) the content hash in the stats is the backend's, computed
 *      from the bytes as they were written, never from a read-back;
 *   6. (reader) with an expectation from the manifest, a columnar file's
 *      footer matches its hash before a record is read, every key lies in the
 *      entry's [key_min, key_max], and a whole read (from the start, no
 *      seek, to the end) has the entry's row count, first and last key and
 *      content hash — or fails with STRATA_ECORRUPT naming the file, so a
 *      damaged file never yields a silently different set of rows;
 *   7. (reader) masking (strata_run_set_mask) hands the backend a test in
 *      the file's layout that sees the read schema's (columns the file
 *      lacks are all null, invariant 4); a masked read still checks row
 *      count and key range, but not the content hash (pages were skipped).
 */
#include "format/format_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *strata_format_name(strata_format f)
{
	switch (f) {
	case STRATA_FMT_AVRO:
		return "avro";
	case STRATA_FMT_PARQUET:
		return "parquet";
	}
	return "unknown";
}

void strata_write_opts_default(strata_write_opts *o, strata_format f)
{
	memset(o, 0, sizeof(*o));
	o->format = f;
	o->codec = f == STRATA_FMT_PARQUET ? STRATA_CODEC_ZSTD : STRATA_CODEC_NONE;
	o->zstd_level = 3;
	o->row_group_bytes = 64ull << 20;
	o->page_bytes = 1ull << 20;
	o->dict_max_bytes = 1ull << 20;
}

static const strata_fw_backend *writer_backend(strata_format f)
{
	return f == STRATA_FMT_AVRO ? &strata_avro_writer :
	       f == STRATA_FMT_PARQUET ? &strata_parquet_writer : NULL;
}

static const strata_fr_backend *reader_backend(strata_format f)
{
	return f == STRATA_FMT_AVRO ? &strata_avro_reader :
	       f == STRATA_FMT_PARQUET ? &strata_parquet_reader : NULL;
}

/* ---- writer -------------------------------------------------------------- */

struct strata_fwriter {
	const strata_fw_backend *be;
	void *state;
	const strata_schema *schema;
	bool has_seq;
	strata_file_stats st;
	strata_buf key_prev;
	strata_buf key_cur;
	int64_t seq_prev;
	char *path;
};

int strata_fwriter_open(const char *path, const strata_schema *schema,
			const strata_write_opts *opts, strata_fwriter **out,
			strata_err *err)
{
	*out = NULL;
	const strata_fw_backend *be = writer_backend(opts->format);
	if (!be)
		return strata_err_set(err, STRATA_EINVAL, "unknown data file format %d",
				      (int)opts->format);
	void *state = NULL;
	int rc = be->open(path, schema, opts, &state, err);
	if (rc)
		return rc;
	strata_fwriter *w = strata_calloc(1, sizeof(*w));
	w->be = be;
	w->state = state;
	w->schema = schema;
	w->has_seq = opts->format != STRATA_FMT_AVRO;
	w->path = strata_strdup(path);
	strata_file_stats_init(&w->st);
	*out = w;
	return 0;
}

int strata_fwriter_add(strata_fwriter *w, const strata_row *row, strata_err *err)
{
	strata_buf_reset(&w->key_cur);
	int rc = strata_key_encode(w->schema, row, &w->key_cur, err);
	if (rc)
		return rc;
	/* invariant 1 */
	if (w->st.rows > 0) {
		int c = strata_key_cmp_inline(w->key_prev.data, w->key_prev.len, w->key_cur.data,
					      w->key_cur.len);
		if (c > 0 || (c == 0 && (!w->has_seq || row->seq >= w->seq_prev))) {
			return strata_err_set(err, STRATA_EINVAL,
					      "\"%s\": records out of order (%s)", w->path,
					      c > 0 ? "key decreases" :
					      w->has_seq ? "_seq not decreasing within a key" :
							   "key repeated in a row file");
		}
	}
	rc = w->be->add(w->state, row, err);
	if (rc)
		return rc;
	/* invariant 2 */
	strata_file_stats *st = &w->st;
	if (st->rows == 0) {
		strata_buf_append(&st->key_min, w->key_cur.data, w->key_cur.len);
		st->seq_min = st->seq_max = row->seq;
	}
	if (row->seq < st->seq_min)
		st->seq_min = row->seq;
	if (row->seq > st->seq_max)
		st->seq_max = row->seq;
	st->rows++;
	if (row->op == STRATA_OP_DELETE)
		st->tombstones++;
	if (st->rows == 1 || w->key_prev.len != w->key_cur.len ||
	    memcmp(w->key_prev.data, w->key_cur.data, w->key_cur.len) != 0) {
		st->keys++;
		strata_sketch_add(st->sketch, w->key_cur.data, w->key_cur.len);
	}
	w->seq_prev = row->seq;
	strata_buf tmp = w->key_prev;
	w->key_prev = w->key_cur;
	w->key_cur = tmp;
	return 0;
}

const strata_buf *strata_fwriter_last_key(const strata_fwriter *w)
{
	return &w->key_prev;
}

uint64_t strata_fwriter_bytes(const strata_fwriter *w)
{
	return w->be->bytes(w->state);
}

uint64_t strata_fwriter_rows(const strata_fwriter *w)
{
	return w->st.rows;
}

static void fwriter_free(strata_fwriter *w)
{
	strata_buf_free(&w->key_prev);
	strata_buf_free(&w->key_cur);
	strata_file_stats_free(&w->st);
	free(w->path);
	free(w);
}

int strata_fwriter_finish(strata_fwriter *w, strata_file_stats *stats, strata_err *err)
{
	if (w->st.rows > 0) {
		strata_buf_reset(&w->st.key_max);
		strata_buf_append(&w->st.key_max, w->key_prev.data, w->key_prev.len);
	}
	strata_fw_done done = {0};
	int rc = w->be->finish(w->state, &w->st, &done, err);
	w->state = NULL;
	if (rc == 0) {
		w->st.bytes = done.file_bytes;
		/* invariant 5 */
		w->st.content_hash = done.content_hash;
		w->st.has_content_hash = true;
		w->st.footer_hash = done.footer_hash;
		w->st.has_footer_hash = done.has_footer_hash;
		*stats = w->st;
		memset(&w->st, 0, sizeof(w->st)); /* ownership moved to stats */
	}
	fwriter_free(w);
	return rc;
}

void strata_fwriter_abort(strata_fwriter *w)
{
	if (!w)
		return;
	if (w->state)
		w->be->abort(w->state);
	fwriter_free(w);
}

/* ---- reader -------------------------------------------------------------- */

struct strata_run {
	const strata_fr_backend *be;
	void *state;
	strata_format fmt;
	const strata_schema *fs; /* file schema, lent by opts or the backend */
	const strata_schema *rs; /* read schema */
	int *map;                /* read column -> file column or -1 */
	uint8_t *conv;           /* read column: RUN_CONV_* (invariant 4) */
	bool *need;              /* per file column */
	strata_row frow;
	strata_row orow;
	strata_buf key;
	strata_buf key_prev;
	int64_t seq_prev;
	bool has_prev;
	bool has_seq;
	int64_t default_seq, seq_min, seq_max;
	strata_buf seek_key;
	bool is_seeking;
	bool has_seeked;         /* not a whole read any more */
	bool is_at_end;
	bool is_verified;
	uint64_t decoded;
	strata_run_expect expect;
	bool has_expect;
	char *path;
	/* masking (strata_run_set_mask): the caller's test, in the read
	 * schema's layout, and the statistics translated for it */
	strata_unit_fn mask_fn;
	void *mask_arg;
	strata_colstat *mask_cols;
	bool is_masked;
};

enum { RUN_CONV_NONE = 0, RUN_CONV_INT_LONG, RUN_CONV_FLOAT_DOUBLE, RUN_CONV_LONG_INT,
       RUN_CONV_DOUBLE_FLOAT };

int strata_format_detect(const char *path, strata_format *out, strata_err *err)
{
	strata_rfile *f = NULL;
	int rc = strata_rfile_open(path, &f, err);
	if (rc)
		return rc;
	uint8_t magic[4];
	uint64_t size = strata_rfile_size(f);
	if (size < 4) {
		strata_rfile_close(f);
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\" is too short to be a data file (%llu bytes)", path,
				      (unsigned long long)size);
	}
	rc = strata_rfile_read(f, magic, 4, 0, err);
	strata_rfile_close(f);
	if (rc)
		return rc;
	if (memcmp(magic, "Obj\x01", 4) == 0)
		*out = STRATA_FMT_AVRO;
	else if (memcmp(magic, "PAR1", 4) == 0)
		*out = STRATA_FMT_PARQUET;
	else
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\" is neither an Avro nor a Parquet file (bad magic)",
				      path);
	return 0;
}

static int run_corrupt(strata_run *r, strata_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* invariant 6: a file the manifest lists was written by strata, so a
 * feature it "does not support" can only come from damage. */
static int as_damage(int rc, strata_err *err)
{
	if (rc != STRATA_EUNSUPPORTED)
		return rc;
	if (err)
		err->code = STRATA_ECORRUPT;
	return STRATA_ECORRUPT;
}

int strata_run_open(const char *path, const strata_run_opts *opts, strata_run **out,
		    strata_err *err)
{
	*out = NULL;
	strata_format fmt;
	int rc;
	if (opts->mem.len && !opts->mem.data)
		return strata_err_set(err, STRATA_EINVAL,
				      "\"%s\" is an inline row file whose bytes were not read from "
				      "the manifest",
				      path);
	if (opts->mem.data) {
		/* an inline row file: only Avro is ever kept inline */
		if (opts->mem.len < 4 || memcmp(opts->mem.data, "Obj\x01", 4) != 0)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": the manifest's inline bytes are not a row "
					      "file (%zu bytes, bad magic)",
					      path, opts->mem.len);
		fmt = STRATA_FMT_AVRO;
	} else {
		rc = strata_format_detect(path, &fmt, err);
		if (rc)
			return rc;
	}
	const strata_fr_backend *be = reader_backend(fmt);
	void *state = NULL;
	rc = opts->mem.data ? be->open_mem(path, &opts->mem, opts->file_schema, &state, err) :
			      be->open(path, opts->file_schema, &state, err);
	if (rc)
		return opts->expect ? as_damage(rc, err) : rc;
	strata_run *r = strata_calloc(1, sizeof(*r));
	r->be = be;
	r->state = state;
	r->fmt = fmt;
	r->path = strata_strdup(path);
	r->fs = be->schema(state);
	r->rs = opts->read_schema ? opts->read_schema : r->fs;
	r->has_seq = be->has_seq(state);
	r->default_seq = opts->default_seq;
	r->seq_min = opts->seq_min;
	r->seq_max = opts->seq_max;
	if (opts->expect) {
		r->expect = *opts->expect;
		r->has_expect = true;
		if (r->expect.has_hash && r->expect.is_verify_hash)
			be->want_hash(state);
		/* invariant 6: the footer before anything trusts it */
		if (r->expect.has_footer_hash && be->check_footer) {
			rc = be->check_footer(state, r->expect.footer_hash, err);
			if (rc) {
				strata_run_close(r);
				return rc;
			}
		}
	}
	r->map = strata_calloc(r->rs->ncols + 1, sizeof(int));
	r->conv = strata_calloc(r->rs->ncols + 1, 1);
	r->need = strata_calloc(r->fs->ncols + 1, sizeof(bool));
	for (uint32_t i = 0; i < r->rs->ncols; i++) {
		int j = r->rs == r->fs ? (int)i : strata_schema_find_id(r->fs, r->rs->cols[i].id);
		r->map[i] = j;
		if (j >= 0) {
			const strata_column *fc = &r->fs->cols[j], *tc = &r->rs->cols[i];
			/* invariant 4: widening */
			if (fc->type == STRATA_T_INT && tc->type == STRATA_T_LONG)
				r->conv[i] = RUN_CONV_INT_LONG;
			else if (fc->type == STRATA_T_FLOAT && tc->type == STRATA_T_DOUBLE)
				r->conv[i] = RUN_CONV_FLOAT_DOUBLE;
			else if (fc->type == STRATA_T_LONG && tc->type == STRATA_T_INT)
				r->conv[i] = RUN_CONV_LONG_INT;
			else if (fc->type == STRATA_T_DOUBLE && tc->type == STRATA_T_FLOAT)
				r->conv[i] = RUN_CONV_DOUBLE_FLOAT;
			if (!strata_column_type_widens(fc, tc) && !strata_column_type_widens(tc, fc)) {
				char ft[32], tt[32];
				rc = strata_err_set(err, STRATA_ECORRUPT,
						    "\"%s\": column \"%s\" is %s in the file but %s "
						    "in the table",
						    path, tc->name, strata_column_type_str(fc, ft, sizeof(ft)),
						    strata_column_type_str(tc, tt, sizeof(tt)));
				strata_run_close(r);
				return rc;
			}
			r->need[j] = true;
		}
	}
	/* invariant 6: a listed file keys its records like its table */
	bool is_keyed_alike = r->fs->nkeys == r->rs->nkeys;
	for (uint32_t k = 0; is_keyed_alike && k < r->fs->nkeys; k++)
		is_keyed_alike = r->fs->cols[r->fs->key_cols[k]].id ==
				 r->rs->cols[r->rs->key_cols[k]].id;
	if (r->has_expect && !is_keyed_alike) {
		rc = run_corrupt(r, err, "its key columns differ from the table's");
		strata_run_close(r);
		return rc;
	}
	for (uint32_t k = 0; k < r->fs->nkeys; k++)
		r->need[r->fs->key_cols[k]] = true;
	be->set_need(state, r->need);
	r->frow.ncols = r->fs->ncols;
	r->frow.vals = strata_calloc(r->fs->ncols + 1, sizeof(strata_value));
	r->orow.ncols = r->rs->ncols;
	r->orow.vals = strata_calloc(r->rs->ncols + 1, sizeof(strata_value));
	*out = r;
	return 0;
}

static int run_corrupt(strata_run *r, strata_err *err, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return strata_err_set(err, STRATA_ECORRUPT, "file \"%s\": %s", r->path, why);
}

/* invariant 6: a key outside the entry's range is damage (the range was
 * taken from the records as they were written). */
static int run_check_range(strata_run *r, strata_err *err)
{
	const strata_run_expect *e = &r->expect;
	if (strata_key_cmp(r->key.data, r->key.len, e->key_min, e->key_min_len) < 0 ||
	    strata_key_cmp(r->key.data, r->key.len, e->key_max, e->key_max_len) > 0)
		return run_corrupt(r, err,
				   "record %llu has a key outside the manifest's key range",
				   (unsigned long long)r->decoded - 1);
	if (r->decoded == 1 && !r->has_seeked &&
	    strata_key_cmp(r->key.data, r->key.len, e->key_min, e->key_min_len) != 0)
		return run_corrupt(r, err, "the first key differs from the manifest's key_min");
	return 0;
}

/* The backend says the end: check a whole read against the entry. */
static int run_at_end(strata_run *r, strata_err *err)
{
	r->is_at_end = true;
	if (!r->has_expect || r->has_seeked)
		return 0;
	const strata_run_expect *e = &r->expect;
	/* invariant 6: the hash first, the most direct diagnosis */
	if (e->has_hash && e->is_verify_hash && !r->is_masked && r->be->content_hash) {
		uint64_t got = 0;
		int rc = r->be->content_hash(r->state, &got, err);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (got != e->hash)
				return run_corrupt(r, err,
						   "checksum mismatch (expected %016llx, got %016llx)",
						   (unsigned long long)e->hash,
						   (unsigned long long)got);
			r->is_verified = true;
		}
	}
	if (r->decoded != e->rows)
		return run_corrupt(r, err, "row count mismatch (the manifest says %llu, the file "
					   "holds %llu)",
				   (unsigned long long)e->rows, (unsigned long long)r->decoded);
	if (e->has_keys && r->decoded > 0 && r->fs->nkeys > 0 &&
	    strata_key_cmp(r->key.data, r->key.len, e->key_max, e->key_max_len) != 0)
		return run_corrupt(r, err, "the last key differs from the manifest's key_max");
	return 0;
}

int strata_run_next(strata_run *r, const strata_row **row, const uint8_t **key,
		    size_t *key_len, strata_err *err)
{
	for (;;) {
		r->frow.seq = r->default_seq;
		r->frow.op = STRATA_OP_UPSERT;
		if (r->is_at_end)
			return 0;
		int rc = r->be->next(r->state, &r->frow, err);
		if (rc < 0)
			return r->has_expect ? as_damage(rc, err) : rc;
		if (rc == 0)
			return run_at_end(r, err);
		r->decoded++;
		if (!r->has_seq)
			r->frow.seq = r->default_seq;
		if (r->frow.op != STRATA_OP_UPSERT && r->frow.op != STRATA_OP_DELETE)
			return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": record with _op %d",
					      r->path, r->frow.op);
		/* the last record's key becomes key_prev by a swap, not a copy
		 * (the key lent by the last call is not used after this one) */
		if (r->has_prev) {
			strata_buf t = r->key_prev;
			r->key_prev = r->key;
			r->key = t;
		}
		strata_buf_reset(&r->key);
		if (r->fs->nkeys > 0) {
			strata_err kerr;
			rc = strata_key_encode(r->fs, &r->frow, &r->key, &kerr);
			if (rc)
				return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": %s", r->path,
						      kerr.msg);
			/* invariant 3 */
			if (r->has_prev) {
				int c = strata_key_cmp_inline(r->key_prev.data, r->key_prev.len,
							      r->key.data, r->key.len);
				if (c > 0 || (c == 0 && r->frow.seq >= r->seq_prev))
					return strata_err_set(err, STRATA_ECORRUPT,
							      "\"%s\": records out of order after "
							      "record %llu",
							      r->path,
							      (unsigned long long)r->decoded - 1);
			}
			r->seq_prev = r->frow.seq;
			r->has_prev = true;
			/* invariant 6 */
			if (r->has_expect && r->expect.has_keys) {
				rc = run_check_range(r, err);
				if (rc)
					return rc;
			}
			if (r->is_seeking) {
				if (strata_key_cmp(r->key.data, r->key.len, r->seek_key.data,
						   r->seek_key.len) < 0)
					continue;
				r->is_seeking = false;
			}
		}
		if (r->seq_max && r->frow.seq > r->seq_max)
			continue;
		if (r->frow.seq <= r->seq_min && r->seq_min)
			continue;
		/* invariant 4 */
		for (uint32_t i = 0; i < r->rs->ncols; i++) {
			int j = r->map[i];
			if (j >= 0) {
				r->orow.vals[i] = r->frow.vals[j];
				if (__builtin_expect(r->conv[i] != RUN_CONV_NONE, 0) &&
				    !r->orow.vals[i].is_null) {
					strata_value *v = &r->orow.vals[i];
					switch (r->conv[i]) {
					case RUN_CONV_INT_LONG:
						v->v.i64 = v->v.i32;
						break;
					case RUN_CONV_FLOAT_DOUBLE:
						v->v.f64 = (double)v->v.f32;
						break;
					case RUN_CONV_LONG_INT:
						v->v.i32 = (int32_t)v->v.i64;
						break;
					default:
						v->v.f32 = (float)v->v.f64;
						break;
					}
				}
			} else {
				memset(&r->orow.vals[i], 0, sizeof(strata_value));
				r->orow.vals[i].is_null = true;
			}
		}
		r->orow.seq = r->frow.seq;
		r->orow.op = r->frow.op;
		*row = &r->orow;
		if (key)
			*key = r->key.data;
		if (key_len)
			*key_len = r->key.len;
		return 1;
	}
}

int strata_run_seek(strata_run *r, const uint8_t *key, size_t key_len, strata_err *err)
{
	if (r->fs->nkeys == 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "\"%s\": cannot seek without key columns", r->path);
	/* a backend without seek reads from the start anyway: still whole */
	r->has_seeked |= r->be->seek != NULL;
	r->is_at_end = false; /* a seek back may find records again */
	if (r->be->seek) {
		int rc = r->be->seek(r->state, key, key_len, err);
		if (rc)
			return r->has_expect ? as_damage(rc, err) : rc;
		r->has_prev = false;
	}
	strata_buf_reset(&r->seek_key);
	strata_buf_append(&r->seek_key, key, key_len);
	r->is_seeking = true;
	return 0;
}

const strata_schema *strata_run_file_schema(const strata_run *r)
{
	return r->fs;
}

strata_format strata_run_format(const strata_run *r)
{
	return r->fmt;
}

bool strata_run_is_verified(const strata_run *r)
{
	return r->is_verified;
}

uint64_t strata_run_rows_decoded(const strata_run *r)
{
	return r->decoded;
}

void strata_run_close(strata_run *r)
{
	if (!r)
		return;
	if (r->state)
		r->be->close(r->state);
	free(r->map);
	free(r->conv);
	free(r->need);
	free(r->mask_cols);
	free(r->frow.vals);
	free(r->orow.vals);
	strata_buf_free(&r->key);
	strata_buf_free(&r->key_prev);
	strata_buf_free(&r->seek_key);
	free(r->path);
	free(r);
}

/* Statistics of the file's columns, as the read schema lays them out
 * (invariant 4: a column the file lacks is all null). */
static void stats_to_read(const strata_run *r, const strata_colstat *fcols, uint64_t rows,
			  strata_colstat *out)
{
	for (uint32_t i = 0; i < r->rs->ncols; i++) {
		int j = r->map[i];
		if (j >= 0) {
			out[i] = fcols[j];
			/* invariant 4: a widened column's bounds widen exactly; a
			 * narrowed one's (time travel over a file written after the
			 * widening) may hold values the narrow type cannot: none */
			if (r->conv[i] == RUN_CONV_INT_LONG && out[i].has_bounds) {
				out[i].min.v.i64 = out[i].min.v.i32;
				out[i].max.v.i64 = out[i].max.v.i32;
			} else if (r->conv[i] == RUN_CONV_FLOAT_DOUBLE && out[i].has_bounds) {
				out[i].min.v.f64 = (double)out[i].min.v.f32;
				out[i].max.v.f64 = (double)out[i].max.v.f32;
			} else if (r->conv[i] != RUN_CONV_NONE) {
				out[i].has_bounds = false;
			}
		} else {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].has_null_count = true;
			out[i].null_count = rows;
		}
	}
}

int strata_run_colstats(strata_run *r, strata_colstat *cols, uint64_t *rows)
{
	*rows = 0;
	if (!r->be->colstats)
		return 0;
	strata_colstat *f = strata_calloc(r->fs->ncols + 1, sizeof(*f));
	int rc = r->be->colstats(r->state, f, rows);
	if (rc == 1)
		stats_to_read(r, f, *rows, cols);
	free(f);
	return rc == 1;
}

static bool run_mask_adapt(void *arg, const strata_colstat *fcols, uint64_t rows)
{
	strata_run *r = arg;
	stats_to_read(r, fcols, rows, r->mask_cols);
	return r->mask_fn(r->mask_arg, r->mask_cols, rows);
}

void strata_run_set_mask(strata_run *r, strata_unit_fn fn, void *arg, uint64_t *pages_skipped)
{
	if (!r->be->set_mask || r->fs->nkeys == 0 || !fn)
		return;
	r->mask_fn = fn;
	r->mask_arg = arg;
	if (!r->mask_cols)
		r->mask_cols = strata_calloc(r->rs->ncols + 1, sizeof(strata_colstat));
	r->is_masked = true;
	r->be->set_mask(r->state, run_mask_adapt, r, pages_skipped);
}

int strata_file_hash(const char *path, uint64_t *out, strata_err *err)
{
	strata_format fmt;
	int rc = strata_format_detect(path, &fmt, err);
	if (rc)
		return rc;
	return reader_backend(fmt)->hash_file(path, out, err);
}
