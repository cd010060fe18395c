/*
 * format/describe.c — `strata file meta`: what a data file is, as text for
 * a person (format.h, strata_file_describe).  The CLI owns this file's
 * output (cli/cmd_info.c is its caller; docs/FORMAT.md, "strata file meta",
 * documents it); the readers own the bytes.
 *
 * Design.  A columnar file is described from its footer alone, lent by the
 * Parquet reader already checked as far as metadata allows (pr_meta_* in
 * parquet_int.h): schema, key-value metadata, and per row group and column
 * chunk the type, codec, encodings, sizes, page counts (from the offset
 * index, else by walking the page headers) and statistics, printed by
 * physical and logical type.  A row file is described by the Avro reader
 * itself (strata_avro_describe in format_int.h), since counting its blocks
 * and records is a walk of its own reader state.
 *
 * Invariants:
 *   1. describe validates no more than it needs: a damaged page index or
 *      page is shown as such on its line and the rest is still printed;
 *      only a file whose footer cannot be read fails (the reader's error,
 *      naming the file);
 *   2. every byte string printed is escaped and cut at 64 bytes, so any
 *      file prints as plain text.
 *
 * Any thread; one call at a time per FILE.
 */
#include "format/parquet_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Parquet ------------------------------------------------------------------ */

static void print_escaped(FILE *out, const uint8_t *p, size_t n, bool is_text)
{
	size_t max = 64;
	if (!is_text) {
		fputs("0x", out);
		for (size_t i = 0; i < n && i < max; i++)
			fprintf(out, "%02x", p[i]);
	} else {
		fputc('"', out);
		for (size_t i = 0; i < n && i < max; i++) {
			if (p[i] == '"' || p[i] == '\\')
				fprintf(out, "\\%c", p[i]);
			else if (p[i] < 0x20 || p[i] == 0x7f)
				fprintf(out, "\\x%02x", p[i]);
			else
				fputc(p[i], out);
		}
		fputc('"', out);
	}
	if (n > max)
		fprintf(out, "...(%zu bytes)", n);
}

/* A statistics value, readably, by physical and logical type. */
static void print_stat(FILE *out, const pq_schema_elem *e, const pq_bytes *b)
{
	bool is_ts = e->logical.kind == PQ_LT_TIMESTAMP || e->converted == PQ_CT_TIMESTAMP_MICROS ||
		     e->converted == PQ_CT_TIMESTAMP_MILLIS;
	bool is_dec = e->logical.kind == PQ_LT_DECIMAL || e->converted == PQ_CT_DECIMAL;
	int scale = e->logical.kind == PQ_LT_DECIMAL ? e->logical.scale : e->scale;
	if (is_dec && scale >= 0 && scale <= 38 &&
	    ((e->type == PQ_INT32 && b->len == 4) || (e->type == PQ_INT64 && b->len == 8) ||
	     (e->type == PQ_FIXED_LEN_BYTE_ARRAY && b->len >= 1 && b->len <= 16))) {
		strata_i128 x;
		if (e->type == PQ_INT32) {
			int32_t v;
			memcpy(&v, b->p, 4);
			x = v;
		} else if (e->type == PQ_INT64) {
			int64_t v;
			memcpy(&v, b->p, 8);
			x = v;
		} else {
			x = pq_dec_from_be(b->p, (int)b->len);
		}
		strata_buf db = {0};
		strata_dec_format(x, scale, &db);
		fprintf(out, "%.*s", (int)db.len, (const char *)db.data);
		strata_buf_free(&db);
		return;
	}
	if ((e->logical.kind == PQ_LT_DATE || e->converted == PQ_CT_DATE) && e->type == PQ_INT32 &&
	    b->len == 4) {
		int32_t v;
		memcpy(&v, b->p, 4);
		strata_buf db = {0};
		strata_date_format(v, &db);
		fprintf(out, "%.*s", (int)db.len, (const char *)db.data);
		strata_buf_free(&db);
		return;
	}
	switch (e->type) {
	case PQ_INT64:
		if (b->len == 8) {
			int64_t v;
			memcpy(&v, b->p, 8);
			if (is_ts && (e->logical.kind != PQ_LT_TIMESTAMP ||
				      e->logical.unit == PQ_UNIT_MICROS) &&
			    e->converted != PQ_CT_TIMESTAMP_MILLIS) {
				strata_buf tb = {0};
				strata_timestamp_format(v, &tb);
				fprintf(out, "%.*s", (int)tb.len, (const char *)tb.data);
				strata_buf_free(&tb);
			} else {
				fprintf(out, "%" PRId64, v);
			}
			return;
		}
		break;
	case PQ_INT32:
		if (b->len == 4) {
			int32_t v;
			memcpy(&v, b->p, 4);
			fprintf(out, "%" PRId32, v);
			return;
		}
		break;
	case PQ_DOUBLE:
		if (b->len == 8) {
			double v;
			memcpy(&v, b->p, 8);
			fprintf(out, "%.17g", v);
			return;
		}
		break;
	case PQ_FLOAT:
		if (b->len == 4) {
			float v;
			memcpy(&v, b->p, 4);
			fprintf(out, "%.9g", (double)v);
			return;
		}
		break;
	case PQ_BOOLEAN:
		if (b->len == 1) {
			fputs(b->p[0] ? "true" : "false", out);
			return;
		}
		break;
	case PQ_BYTE_ARRAY: {
		bool is_text = e->logical.kind == PQ_LT_STRING || e->converted == PQ_CT_UTF8 ||
			       e->logical.kind == PQ_LT_JSON || e->logical.kind == PQ_LT_ENUM;
		print_escaped(out, b->p, b->len, is_text);
		return;
	}
	default:
		break;
	}
	print_escaped(out, b->p, b->len, false);
}

static void print_logical(FILE *out, const pq_schema_elem *e)
{
	static const char *const lt[] = {NULL,   "STRING", "MAP",  "LIST", "ENUM",    "DECIMAL",
					 "DATE", "TIME",   "TIMESTAMP", NULL, "INTEGER", "UNKNOWN",
					 "JSON", "BSON",   "UUID", "FLOAT16"};
	int k = e->logical.kind;
	if (k == PQ_LT_NONE)
		return;
	const char *name = k > 0 && (size_t)k < STRATA_ARRAY_LEN(lt) && lt[k] ? lt[k] : "OTHER";
	fprintf(out, " %s", name);
	if (k == PQ_LT_TIMESTAMP || k == PQ_LT_TIME)
		fprintf(out, "(%s, %s)",
			e->logical.unit == PQ_UNIT_MILLIS ? "MILLIS" :
			e->logical.unit == PQ_UNIT_MICROS ? "MICROS" : "NANOS",
			e->logical.is_utc ? "UTC" : "local");
	else if (k == PQ_LT_INTEGER)
		fprintf(out, "(%d, %s)", e->logical.bit_width,
			e->logical.is_signed ? "signed" : "unsigned");
	else if (k == PQ_LT_DECIMAL)
		fprintf(out, "(%d, %d)", e->logical.precision, e->logical.scale);
}

static int describe_parquet(const char *path, FILE *out, strata_err *err)
{
	struct pr *r = NULL;
	int rc = pr_meta_open(path, &r, err);
	if (rc)
		return rc;
	const pq_file_meta *m = pr_meta_footer(r);
	strata_arena *a = strata_arena_new(); /* index blobs, per row group */
	fprintf(out, "file: %s\nformat: parquet (columnar file)\nbytes: %llu\n", path,
		(unsigned long long)pr_meta_size(r));
	fprintf(out, "created by: %s\nformat version: %d\nrows: %lld\nrow groups: %u\n",
		m->created_by ? m->created_by : "(not recorded)", m->version,
		(long long)m->num_rows, m->nrow_groups);
	fprintf(out, "schema:\n");
	for (uint32_t i = 0; i < m->nschema; i++) {
		const pq_schema_elem *e = &m->schema[i];
		if (e->num_children >= 0 && e->type < 0) {
			fprintf(out, "  %s: group of %d%s\n", e->name, e->num_children,
				i == 0 ? " (root)" : "");
			continue;
		}
		fprintf(out, "  %s: %s %s", e->name, pq_type_name(e->type),
			pq_repetition_name(e->repetition));
		print_logical(out, e);
		if (e->converted >= 0)
			fprintf(out, " (%s)", pq_converted_name(e->converted));
		if (e->has_field_id)
			fprintf(out, " field_id=%d", e->field_id);
		fputc('\n', out);
	}
	if (m->nkv) {
		fprintf(out, "key-value metadata:\n");
		for (uint32_t i = 0; i < m->nkv; i++) {
			fprintf(out, "  %s = ", m->kv[i].key);
			if (m->kv[i].has_value)
				fprintf(out, "%.*s", (int)STRATA_MIN(m->kv[i].value.len, 4096u),
					(const char *)m->kv[i].value.p);
			fputc('\n', out);
		}
	}
	uint32_t nleaves = m->nschema > 0 ? m->nschema - 1 : 0;
	/* the leaves as pr_meta_open lays them out: every element after the root */
	const pq_schema_elem **leaves = strata_calloc(nleaves + 1, sizeof(void *));
	for (uint32_t i = 0; i < nleaves; i++)
		leaves[i] = &m->schema[i + 1];
	uint32_t nci = 0, noi = 0, nchunks = 0;
	for (uint32_t g = 0; g < m->nrow_groups; g++) {
		const pq_row_group *rg = &m->row_groups[g];
		fprintf(out, "row group %u: rows %lld, bytes %lld uncompressed", g,
			(long long)rg->num_rows, (long long)rg->total_byte_size);
		if (rg->has_total_compressed_size)
			fprintf(out, " / %lld compressed", (long long)rg->total_compressed_size);
		if (rg->nsorting) {
			fprintf(out, ", sorted by");
			for (uint32_t k = 0; k < rg->nsorting; k++) {
				int ci = rg->sorting[k].column_idx;
				fprintf(out, "%s %s %s", k ? "," : "",
					ci >= 0 && (uint32_t)ci < nleaves ? leaves[ci]->name : "?",
					rg->sorting[k].is_descending ? "DESC" : "ASC");
			}
		}
		fputc('\n', out);
		for (uint32_t l = 0; l < rg->ncols; l++) {
			const pq_column_chunk *cc = &rg->cols[l];
			nchunks++;
			nci += cc->has_column_index;
			noi += cc->has_offset_index;
			if (!cc->has_meta) {
				fprintf(out, "  column %u: (no metadata)\n", l);
				continue;
			}
			const pq_column_meta *cm = &cc->meta;
			const pq_schema_elem *e = l < nleaves ? leaves[l] : NULL;
			fprintf(out, "  column %s: %s, %s, encodings",
				cm->npath ? cm->path[cm->npath - 1] : "?", pq_type_name(cm->type),
				pq_codec_name(cm->codec));
			for (uint32_t k = 0; k < cm->nencodings; k++)
				fprintf(out, "%s%s", k ? "," : " ", pq_encoding_name(cm->encodings[k]));
			fprintf(out, ", values %lld, bytes %lld compressed / %lld uncompressed",
				(long long)cm->num_values, (long long)cm->total_compressed_size,
				(long long)cm->total_uncompressed_size);
			if (cc->has_offset_index) {
				pq_offset_index oi;
				bool shown = false;
				if (cc->offset_index_length > 0 &&
				    (uint64_t)cc->offset_index_length <= PQ_INDEX_MAX &&
				    cc->offset_index_offset >= 0 &&
				    (uint64_t)cc->offset_index_offset + (uint64_t)cc->offset_index_length <=
					    pr_meta_size(r)) {
					uint8_t *buf = strata_arena_alloc(a,
									  (size_t)cc->offset_index_length);
					if (pr_meta_read(r, buf, (size_t)cc->offset_index_length,
							 (uint64_t)cc->offset_index_offset, NULL) == 0 &&
					    pq_offset_index_read(buf, (size_t)cc->offset_index_length,
								 a, &oi, path, NULL) == 0) {
						fprintf(out, ", data pages %u", oi.npages);
						shown = true;
					}
				}
				if (!shown)
					fprintf(out, ", data pages ? (damaged offset index)");
			} else if (e && l < nleaves) {
				uint32_t dp, dip;
				strata_err perr;
				if (pr_meta_count_pages(r, g, (int)l, &dp, &dip, &perr) == 0)
					fprintf(out, ", data pages %u", dp);
				else
					fprintf(out, ", pages unreadable (%s)", perr.msg);
			}
			if (cm->has_dict_page_offset)
				fprintf(out, " + dictionary");
			fputc('\n', out);
			if (cm->has_stats) {
				const pq_stats *st = &cm->stats;
				fprintf(out, "    stats:");
				if (st->has_min && e) {
					fprintf(out, " min ");
					print_stat(out, e, &st->min);
					if (st->has_min_exact && !st->is_min_exact)
						fprintf(out, " (bound)");
				}
				if (st->has_max && e) {
					fprintf(out, " max ");
					print_stat(out, e, &st->max);
					if (st->has_max_exact && !st->is_max_exact)
						fprintf(out, " (bound)");
				}
				if (st->has_null_count)
					fprintf(out, " nulls %lld", (long long)st->null_count);
				if (st->has_nan_count)
					fprintf(out, " NaNs %lld", (long long)st->nan_count);
				if (st->has_distinct_count)
					fprintf(out, " distinct %lld", (long long)st->distinct_count);
				fprintf(out, "\n");
			}
			fprintf(out, "    page index: column index %s, offset index %s\n",
				cc->has_column_index ? "yes" : "no", cc->has_offset_index ? "yes" : "no");
		}
		strata_arena_reset(a);
	}
	fprintf(out, "page index: column index on %u of %u column chunks, offset index on %u\n",
		nci, nchunks, noi);
	free(leaves);
	strata_arena_free(a);
	pr_meta_close(r);
	return 0;
}

int strata_file_describe(const char *path, FILE *out, strata_err *err)
{
	strata_format fmt;
	int rc = strata_format_detect(path, &fmt, err);
	if (rc)
		return rc;
	if (fmt == STRATA_FMT_PARQUET)
		return describe_parquet(path, out, err);
	return strata_avro_describe(path, out, err);
}
