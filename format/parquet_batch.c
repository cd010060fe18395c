/*
 * format/parquet_batch.c — whole-file, column-at-a-time reads of a Parquet
 * file straight into typed column arrays: the fast path of columnar scans
 * (table/colscan.c) over a bucket that needs no merge.
 *
 * Why a second reader.  The sorted-run reader (parquet_read.c) serves
 * merges: it hands out one record at a time as strata_values, and the
 * generic layer encodes every record's key to check the order and to feed
 * the merge.  A bucket whose answer is one compacted file (or several with
 * disjoint key ranges, each holding every key once and no delete) needs
 * none of that: its rows are the file's rows.  Here each wanted column
 * decodes runs of rows of one page at a time straight into the caller's
 * array.  _seq and _op are never read (a compacted file's records are all
 * upserts at or below the version read), and no key is encoded.  The pages
 * themselves are decoded by the one page decoder both readers share
 * (parquet_page.c: fetching, CRCs, decompression, dictionaries, every
 * encoding, nulls by definition levels, the content hash); this file only
 * maps columns, walks row groups and lends strings.
 *
 * Design.  Open reads and checks the footer and maps the read schema's
 * columns onto the file's leaves by column id (the file's own schema, from
 * its strata.schema metadata unless given); columns the file lacks read as
 * null.  read() fills up to n rows of every wanted column, row group after
 * row group, each column streaming its chunk page by page.  Strings point
 * into the decompressed page or dictionary they came from; the page
 * decoder lends them (pq_file.is_lending): such a buffer, once its column
 * moves on, is retired instead of reused until the caller calls
 * strata_pqbatch_release(), so strings stay valid across the pages a batch
 * spans.
 *
 * Invariants:
 *   1. every offset, length and count from the file is checked against the
 *      file, its column chunk and the page decoder's limits before use;
 *      damage is STRATA_ECORRUPT naming the file, the column and what is
 *      wrong;
 *   2. all wanted columns advance in lock step, row group by row group; a
 *      column whose pages hold more or fewer values than its row group's
 *      rows is damage;
 *   3. a string handed out stays valid until strata_pqbatch_release() or
 *      close: buffers strings may point into are retired, not overwritten;
 *   4. every page passes the page decoder's fetch, which checks the page's
 *      CRC when its header carries one (parquet_page.c says why a verified
 *      whole read keeps them);
 *   5. with strata_pqbatch_want_hash, each wanted column chunk, read from
 *      its first byte to its last in order, streams through its own XXH3-64
 *      as its pages arrive, and strata_pqbatch_content_hash() combines those
 *      with a raw read of everything else into the file's content hash
 *      (format.h), exactly as the sorted-run reader does: a whole read is
 *      verified without reading a decoded page twice.
 *
 * What it reads: what the page decoder reads (flat REQUIRED and OPTIONAL
 * columns; pages V1 and V2; PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY, RLE
 * booleans, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; UNCOMPRESSED and ZSTD).  A file without strata's
 * schema metadata is STRATA_EUNSUPPORTED at open (the caller then merges).
 *
 * One thread per handle; handles on different threads share nothing.
 */
#include "format/parquet_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct pb_col {
	pq_col pc; /* pc.leaf -1: the file lacks the column (reads as null) */
	strata_type stype;
	bool is_wanted;
} pb_col;

struct strata_pqbatch {
	pq_file f;
	char *path;
	strata_arena *arena;
	uint8_t *footer;
	size_t footer_len;
	pq_file_meta fm;
	uint32_t nleaves;
	strata_schema *own_schema;
	pb_col *cols; /* one per read-schema column */
	uint32_t ncols;
	uint32_t rg;
	int64_t rg_row;
	bool is_rg_open;
};

void strata_pqbatch_release(strata_pqbatch *b)
{
	pq_file_release(&b->f); /* invariant 3 */
}

/* ---- types ---------------------------------------------------------------------- */

size_t strata_pqbatch_width(strata_type t)
{
	return pq_value_width(pq_ptype_of(t));
}

/* ---- open ------------------------------------------------------------------------ */

void strata_pqbatch_close(strata_pqbatch *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; b->cols && i < b->ncols; i++)
		pq_col_free(&b->cols[i].pc);
	pq_file_free(&b->f);
	free(b->cols);
	strata_schema_free(b->own_schema);
	free(b->footer);
	strata_arena_free(b->arena);
	free(b->path);
	free(b);
}

/* Map the read schema onto the leaves by column id (through the file
 * schema fs) and check what every later step relies on. */
static int columns_map(strata_pqbatch *b, const strata_schema *fs, const strata_schema *rs,
		       const bool *want, strata_err *err)
{
	const pq_file_meta *m = &b->fm;
	if (m->nschema < 1 || m->schema[0].num_children < 0 ||
	    (uint32_t)m->schema[0].num_children != m->nschema - 1)
		return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": damaged Parquet schema",
				      b->path);
	b->nleaves = m->nschema - 1;
	for (uint32_t l = 0; l < b->nleaves; l++) {
		const pq_schema_elem *e = &m->schema[l + 1];
		if (e->num_children > 0 || e->type < 0 || e->repetition == PQ_REPEATED ||
		    (e->repetition != PQ_REQUIRED && e->repetition != PQ_OPTIONAL))
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": column \"%s\" is not a flat column", b->path,
					      e->name);
	}
	b->ncols = rs->ncols;
	b->cols = strata_calloc(rs->ncols + 1, sizeof(pb_col));
	for (uint32_t i = 0; i < rs->ncols; i++) {
		const strata_column *rc = &rs->cols[i];
		pb_col *c = &b->cols[i];
		c->pc.name = rc->name;
		c->stype = rc->type;
		c->is_wanted = !want || want[i];
		c->pc.leaf = -1;
		int j = strata_schema_find_id(fs, rc->id);
		if (j < 0)
			continue; /* added after the file was written: null */
		if (fs->cols[j].type != rc->type)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" is %s in the file but %s in the "
					      "table",
					      b->path, rc->name, strata_type_name(fs->cols[j].type),
					      strata_type_name(rc->type));
		for (uint32_t l = 0; l < b->nleaves; l++) {
			const pq_schema_elem *e = &m->schema[l + 1];
			if (!e->has_field_id || e->field_id != (int32_t)rc->id ||
			    strcmp(e->name, STRATA_COL_SEQ) == 0 || strcmp(e->name, STRATA_COL_OP) == 0)
				continue;
			if (c->pc.leaf >= 0)
				return strata_err_set(err, STRATA_ECORRUPT,
						      "\"%s\": two columns have field id %u", b->path,
						      rc->id);
			c->pc.leaf = (int)l;
		}
		if (c->pc.leaf < 0)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" (field id %u) is missing from the "
					      "file",
					      b->path, rc->name, rc->id);
		const pq_schema_elem *e = &m->schema[c->pc.leaf + 1];
		if (e->type != pq_ptype_of(rc->type))
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" is %s in the file but %s in the "
					      "table",
					      b->path, rc->name, pq_type_name(e->type),
					      strata_type_name(rc->type));
		c->pc.ptype = e->type;
		c->pc.is_optional = e->repetition == PQ_OPTIONAL;
	}
	int64_t total = 0;
	for (uint32_t g = 0; g < m->nrow_groups; g++) {
		const pq_row_group *rg = &m->row_groups[g];
		if (rg->num_rows < 0 || rg->num_rows > INT64_MAX / 4 || rg->ncols != b->nleaves)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": row group %u is damaged (%lld rows, %u column "
					      "chunks for %u columns)",
					      b->path, g, (long long)rg->num_rows, rg->ncols, b->nleaves);
		total += rg->num_rows;
		if (total > INT64_MAX / 4)
			return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": too many rows", b->path);
		for (uint32_t i = 0; i < b->ncols; i++) {
			const pb_col *c = &b->cols[i];
			if (c->pc.leaf < 0 || !c->is_wanted)
				continue;
			const pq_column_chunk *cc = &rg->cols[c->pc.leaf];
			if (cc->is_encrypted || cc->has_file_path || !cc->has_meta)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": column \"%s\" in row group %u is encrypted, "
						      "elsewhere or without metadata",
						      b->path, c->pc.name, g);
			const pq_column_meta *cm = &cc->meta;
			if (cm->type != c->pc.ptype || cm->num_values != rg->num_rows)
				return strata_err_set(err, STRATA_ECORRUPT,
						      "\"%s\": column \"%s\" in row group %u has %lld "
						      "values of type %s for %lld rows",
						      b->path, c->pc.name, g, (long long)cm->num_values,
						      pq_type_name(cm->type), (long long)rg->num_rows);
			if (cm->codec != PQ_UNCOMPRESSED && cm->codec != PQ_ZSTD)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": unsupported compression %s in column "
						      "\"%s\"",
						      b->path, pq_codec_name(cm->codec), c->pc.name);
		}
	}
	if (total != m->num_rows)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": row groups hold %lld rows, the footer says %lld",
				      b->path, (long long)total, (long long)m->num_rows);
	return 0;
}

int strata_pqbatch_open(const char *path, const strata_schema *file_schema,
			const strata_schema *read_schema, const bool *want, strata_pqbatch **out,
			strata_err *err)
{
	*out = NULL;
	strata_pqbatch *b = strata_calloc(1, sizeof(*b));
	b->path = strata_strdup(path);
	b->arena = strata_arena_new();
	b->f.is_lending = true; /* invariant 3 */
	int rc = pq_file_open(&b->f, b->path, b->arena, &b->fm, &b->footer, &b->footer_len, err);
	if (rc)
		goto out;
	const strata_schema *fs = file_schema;
	if (!fs) {
		const pq_kv *kv = NULL;
		for (uint32_t i = 0; i < b->fm.nkv && !kv; i++)
			if (strcmp(b->fm.kv[i].key, STRATA_META_SCHEMA) == 0 && b->fm.kv[i].has_value)
				kv = &b->fm.kv[i];
		if (!kv) {
			rc = strata_err_set(err, STRATA_EUNSUPPORTED,
					    "\"%s\": no %s metadata (not a strata file)", path,
					    STRATA_META_SCHEMA);
			goto out;
		}
		strata_err jerr;
		rc = strata_schema_from_json((const char *)kv->value.p, kv->value.len, &b->own_schema,
					     &jerr);
		if (rc) {
			rc = strata_err_set(err, STRATA_ECORRUPT, "\"%s\": metadata %s is damaged: %s",
					    path, STRATA_META_SCHEMA, jerr.msg);
			goto out;
		}
		fs = b->own_schema;
	}
	rc = columns_map(b, fs, read_schema ? read_schema : fs, want, err);
out:
	if (rc)
		strata_pqbatch_close(b);
	else
		*out = b;
	return rc;
}

uint64_t strata_pqbatch_rows(const strata_pqbatch *b)
{
	return (uint64_t)b->fm.num_rows;
}

/* ---- reading --------------------------------------------------------------------- */

/* Decode the next k rows of column c (its chunk open) into dst, nulls:
 * page by page, at most PQ_ROWS_MAX rows at a time. */
static int col_rows(strata_pqbatch *b, pb_col *c, uint8_t *dst, uint8_t *nulls, size_t k,
		    strata_err *err)
{
	size_t ow = pq_value_width(c->pc.ptype);
	while (k > 0) {
		if (c->pc.page_left == 0) {
			int rc = pq_page_next(&b->f, &c->pc, err);
			if (rc)
				return rc;
		}
		uint32_t m = (uint32_t)STRATA_MIN(k, (size_t)PQ_ROWS_MAX);
		if ((int64_t)m > c->pc.page_left)
			m = (uint32_t)c->pc.page_left;
		int rc = pq_page_rows(&b->f, &c->pc, dst, nulls, m, err);
		if (rc)
			return rc;
		dst += (size_t)m * ow;
		nulls += m;
		k -= m;
	}
	return 0;
}

void strata_pqbatch_want_hash(strata_pqbatch *b)
{
	if (b->f.chunk_hash || b->rg > 0 || b->is_rg_open)
		return; /* only from the start: a chunk begun is not whole */
	pq_file_want_hash(&b->f, &b->fm, b->nleaves); /* invariant 5 */
}

int strata_pqbatch_content_hash(strata_pqbatch *b, uint64_t *out, strata_err *err)
{
	if (b->rg < b->fm.nrow_groups)
		return 0; /* not read to the end */
	int rc = pq_file_content_hash(&b->f, &b->fm, b->nleaves, out, err);
	return rc ? rc : 1;
}

int strata_pqbatch_read(strata_pqbatch *b, size_t n, void *const *data, uint8_t *const *nulls,
			size_t *got, strata_err *err)
{
	size_t done = 0;
	int rc = 0;
	while (done < n && b->rg < b->fm.nrow_groups) {
		const pq_row_group *rg = &b->fm.row_groups[b->rg];
		if (!b->is_rg_open) {
			for (uint32_t i = 0; i < b->ncols && rc == 0; i++)
				if (b->cols[i].pc.leaf >= 0 && b->cols[i].is_wanted)
					rc = pq_col_open(&b->f, &b->fm, &b->cols[i].pc, b->rg, err);
			if (rc)
				break;
			b->rg_row = 0;
			b->is_rg_open = true;
		}
		int64_t left = rg->num_rows - b->rg_row;
		if (left == 0) {
			/* invariant 2: every column used exactly its rows */
			for (uint32_t i = 0; i < b->ncols; i++) {
				pq_col *c = &b->cols[i].pc;
				if (c->leaf >= 0 && b->cols[i].is_wanted &&
				    (c->page_left != 0 || c->rows_seen != c->chunk_rows)) {
					rc = pq_col_corrupt(&b->f, c, err, "values and rows disagree");
					break;
				}
			}
			for (uint32_t i = 0; i < b->ncols && rc == 0; i++)
				if (b->cols[i].pc.leaf >= 0 && b->cols[i].is_wanted)
					rc = pq_chunk_hash_finish(&b->f, &b->cols[i].pc, err);
			if (rc)
				break;
			b->rg++;
			b->is_rg_open = false;
			continue;
		}
		size_t k = STRATA_MIN(n - done, (size_t)left);
		for (uint32_t i = 0; i < b->ncols && rc == 0; i++) {
			pb_col *c = &b->cols[i];
			if (!c->is_wanted)
				continue;
			size_t ow = strata_pqbatch_width(c->stype);
			uint8_t *dst = (uint8_t *)data[i] + done * ow;
			if (c->pc.leaf < 0) {
				memset(dst, 0, k * ow);
				memset(nulls[i] + done, 1, k);
				continue;
			}
			rc = col_rows(b, c, dst, nulls[i] + done, k, err);
		}
		if (rc)
			break;
		b->rg_row += (int64_t)k;
		done += k;
	}
	*got = done;
	return rc;
}
