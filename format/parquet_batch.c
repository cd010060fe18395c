/*
 * format/parquet_batch.c — whole-file, column-at-a-time reads of a Parquet
 * file straight into typed column arrays: the fast path of columnar scans
 * (table/colscan.c) over a bucket that needs no merge.
 *
 * Why a second decoder.  The sorted-run reader (parquet_read.c) serves
 * merges: it hands out one record at a time as strata_values, and the
 * generic layer encodes every record's key to check the order and to feed
 * the merge.  A bucket whose answer is one compacted file (or several with
 * disjoint key ranges, each holding every key once and no delete) needs
 * none of that: its rows are the file's rows.  Here each wanted column
 * decodes a run of values of one page at a time into the caller's array —
 * PLAIN fixed-width values are one memcpy, DELTA_BINARY_PACKED integers are
 * unpacked in place, dictionary indexes are gathered from a typed
 * dictionary — with nulls spread by the definition levels.  _seq and _op
 * are never read (a compacted file's records are all upserts at or below
 * the version read), and no key is encoded.
 *
 * Design.  Open reads and checks the footer and maps the read schema's
 * columns onto the file's leaves by column id (the file's own schema, from
 * its strata.schema metadata unless given); columns the file lacks read as
 * null.  read() fills up to n rows of every wanted column, row group after
 * row group, each column streaming its chunk page by page through one
 * function, pb_page_fetch (the place every page's bytes pass: header,
 * compressed body, its CRC when the header has one).  Strings point into
 * the decompressed page or dictionary they came from; such a buffer, once
 * its column moves on, is retired instead of reused until the caller calls
 * strata_pqbatch_release(), so strings stay valid across the pages a batch
 * spans.
 *
 * Invariants:
 *   1. every offset, length and count from the file is checked against the
 *      file, its column chunk and PB_PAGE_MAX before use; damage is
 *      STRATA_ECORRUPT naming the file, the column and what is wrong;
 *   2. all wanted columns advance in lock step, row group by row group; a
 *      column whose pages hold more or fewer values than its row group's
 *      rows is damage;
 *   3. a string handed out stays valid until strata_pqbatch_release() or
 *      close: buffers strings may point into are retired, not overwritten;
 *   4. every page is fetched through pb_page_fetch, which checks the page's
 *      CRC when its header carries one;
 *   5. with strata_pqbatch_want_hash, each wanted column chunk, read from
 *      its first byte to its last in order, streams through its own XXH3-64
 *      as its pages arrive, and strata_pqbatch_content_hash() combines those
 *      with a raw read of everything else into the file's content hash
 *      (format.h), exactly as the sorted-run reader does: a whole read is
 *      verified without reading a decoded page twice.
 *
 * What it reads: what parquet_read.c reads (flat REQUIRED and OPTIONAL
 * columns; pages V1 and V2; PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY, RLE
 * booleans, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; UNCOMPRESSED and ZSTD).  A file without strata's
 * schema metadata is STRATA_EUNSUPPORTED at open (the caller then merges),
 * and so is a file with a column whose type was widened between the file
 * and the read, either way (the sorted-run reader converts those).  A
 * DECIMAL (INT32, INT64 or FIXED_LEN_BYTE_ARRAY in the file) comes out as
 * strata_i128, widened in place after decoding (values_get).
 *
 * One thread per handle; handles on different threads share nothing.
 */
#include "format/parquet_int.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define PB_PAGE_MAX (256u << 20)
#define PB_FOOTER_MAX (64u << 20)
#define PB_HEADER_WINDOW (64u << 10)
#define PB_HEADER_MAX (64u << 20)
#define PB_CHUNK 1024 /* values decoded per step through scratch arrays */

typedef struct pb_col {
	int leaf; /* -1: the file lacks the column (reads as null) */
	const char *name;
	int ptype;
	strata_type stype;
	int flba_len; /* FIXED_LEN_BYTE_ARRAY (a DECIMAL): its type_length */
	bool is_optional;
	bool is_wanted;
	/* chunk */
	int codec;
	uint64_t chunk_start, chunk_end, pos;
	int64_t chunk_rows, rows_seen;
	bool seen_data_page;
	/* dictionary: fixed-width entries read in place, strings as refs */
	bool has_dict;
	uint32_t dict_n;
	strata_buf *dict;
	strata_strref *dict_refs;
	uint32_t dict_cap;
	/* page */
	strata_buf *page;
	strata_buf levels;
	int32_t page_left;
	int enc;
	bool has_defs;
	pq_rle_dec defs;
	const uint8_t *vp, *vend;
	bool is_values_ready;
	uint64_t bool_bit;
	pq_rle_dec idx;
	pq_delta_dec delta;
	const uint8_t *dl_data, *dl_end;
	uint64_t bss_n, bss_i;
	/* invariant 5: the chunk's bytes hashed so far, [chunk_start, hash_pos) */
	XXH3_state_t *xs;
	uint64_t hash_pos;
	bool is_hashing;
} pb_col;

struct strata_pqbatch {
	strata_rfile *rf;
	char *path;
	uint64_t size;
	strata_arena *arena;
	uint8_t *footer;
	pq_file_meta fm;
	uint32_t nleaves;
	strata_schema *own_schema;
	pb_col *cols; /* one per read-schema column */
	uint32_t ncols;
	uint32_t rg;
	int64_t rg_row;
	bool is_rg_open;
	ZSTD_DCtx *zd;
	strata_buf raw; /* the page being fetched, as stored */
	/* buffers strings may point into (invariant 3) */
	strata_buf **spare, **retired;
	size_t nspare, nretired, cap_spare, cap_retired;
	uint32_t u32[PB_CHUNK];
	uint64_t u64[PB_CHUNK];
	uint32_t lv[PB_CHUNK];
	/* invariant 5: per row group and leaf, a chunk's hash streamed whole */
	uint64_t *chunk_hash;
	bool *is_chunk_hashed;
};

static int col_corrupt(strata_pqbatch *b, const pb_col *c, strata_err *err, const char *what)
{
	return strata_err_set(err, STRATA_ECORRUPT,
			      "\"%s\": damaged column \"%s\" in row group %u (offset %llu): %s",
			      b->path, c->name, b->rg, (unsigned long long)c->pos, what);
}

/* ---- buffers (invariant 3) ---------------------------------------------------- */

static strata_buf *buf_get(strata_pqbatch *b)
{
	if (b->nspare)
		return b->spare[--b->nspare];
	return strata_calloc(1, sizeof(strata_buf));
}

static void buf_push(strata_buf ***v, size_t *n, size_t *cap, strata_buf *x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		*v = strata_realloc(*v, *cap * sizeof(strata_buf *));
	}
	(*v)[(*n)++] = x;
}

/* A string column's buffer is retired (it may hold strings handed out);
 * another column's is simply reused. */
static strata_buf *buf_renew(strata_pqbatch *b, pb_col *c, strata_buf *old)
{
	if (!old)
		return buf_get(b);
	if (c->ptype != PQ_BYTE_ARRAY)
		return old;
	buf_push(&b->retired, &b->nretired, &b->cap_retired, old);
	return buf_get(b);
}

void strata_pqbatch_release(strata_pqbatch *b)
{
	while (b->nretired)
		buf_push(&b->spare, &b->nspare, &b->cap_spare, b->retired[--b->nretired]);
}

/* ---- types ---------------------------------------------------------------------- */


/* Bytes of one value of c in the file (PLAIN), 0 for BOOLEAN and
 * BYTE_ARRAY. */
static size_t file_width(const pb_col *c)
{
	int ptype = c->ptype;
	return ptype == PQ_INT32 || ptype == PQ_FLOAT ? 4 :
	       ptype == PQ_INT64 || ptype == PQ_DOUBLE ? 8 :
	       ptype == PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)c->flba_len : 0;
}

size_t strata_pqbatch_width(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
	case STRATA_T_DOUBLE:
		return 8;
	case STRATA_T_INT:
	case STRATA_T_DATE:
	case STRATA_T_FLOAT:
		return 4;
	case STRATA_T_BOOL:
		return 1;
	case STRATA_T_DECIMAL:
		return sizeof(strata_i128);
	default:
		return sizeof(strata_strref);
	}
}

/* ---- open ------------------------------------------------------------------------ */

void strata_pqbatch_close(strata_pqbatch *b)
{
	if (!b)
		return;
	strata_rfile_close(b->rf);
	for (uint32_t i = 0; b->cols && i < b->ncols; i++) {
		pb_col *c = &b->cols[i];
		if (c->dict) {
			strata_buf_free(c->dict);
			free(c->dict);
		}
		if (c->page) {
			strata_buf_free(c->page);
			free(c->page);
		}
		strata_buf_free(&c->levels);
		free(c->dict_refs);
		if (c->xs)
			XXH3_freeState(c->xs);
	}
	free(b->chunk_hash);
	free(b->is_chunk_hashed);
	strata_pqbatch_release(b);
	for (size_t i = 0; i < b->nspare; i++) {
		strata_buf_free(b->spare[i]);
		free(b->spare[i]);
	}
	free(b->spare);
	free(b->retired);
	free(b->cols);
	strata_buf_free(&b->raw);
	ZSTD_freeDCtx(b->zd);
	strata_schema_free(b->own_schema);
	free(b->footer);
	strata_arena_free(b->arena);
	free(b->path);
	free(b);
}

static int footer_read(strata_pqbatch *b, strata_err *err)
{
	uint8_t tail[8], head[4];
	if (b->size < 12)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\" is too short to be a Parquet file (%llu bytes)", b->path,
				      (unsigned long long)b->size);
	int rc = strata_rfile_read(b->rf, head, 4, 0, err);
	if (rc == 0)
		rc = strata_rfile_read(b->rf, tail, 8, b->size - 8, err);
	if (rc)
		return rc;
	if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
		return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": no Parquet magic", b->path);
	uint32_t flen;
	memcpy(&flen, tail, 4);
	if (flen == 0 || (uint64_t)flen > b->size - 12 || flen > PB_FOOTER_MAX)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": footer length %u does not fit in a %llu-byte file",
				      b->path, flen, (unsigned long long)b->size);
	b->footer = strata_malloc(flen);
	rc = strata_rfile_read(b->rf, b->footer, flen, b->size - 8 - flen, err);
	if (rc)
		return rc;
	return pq_file_meta_read(b->footer, flen, b->arena, &b->fm, b->path, err);
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
		c->name = rc->name;
		c->stype = rc->type;
		c->is_wanted = !want || want[i];
		c->leaf = -1;
		int j = strata_schema_find_id(fs, rc->id);
		if (j < 0)
			continue; /* added after the file was written: null */
		const strata_column *fc = &fs->cols[j];
		bool is_same = fc->type == rc->type && fc->precision == rc->precision &&
			       fc->scale == rc->scale;
		if (!is_same && (strata_column_type_widens(fc, rc) || strata_column_type_widens(rc, fc)))
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": column \"%s\" was widened (%s in the file): "
					      "read it as a run",
					      b->path, rc->name, strata_type_name(fs->cols[j].type));
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
			if (c->leaf >= 0)
				return strata_err_set(err, STRATA_ECORRUPT,
						      "\"%s\": two columns have field id %u", b->path,
						      rc->id);
			c->leaf = (int)l;
		}
		if (c->leaf < 0)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" (field id %u) is missing from the "
					      "file",
					      b->path, rc->name, rc->id);
		const pq_schema_elem *e = &m->schema[c->leaf + 1];
		if (e->type != pq_ptype_of(rc->type, rc->precision))
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" is %s in the file but %s in the "
					      "table",
					      b->path, rc->name, pq_type_name(e->type),
					      strata_type_name(rc->type));
		if (e->type == PQ_FIXED_LEN_BYTE_ARRAY &&
		    e->type_length != pq_decimal_bytes(rc->precision))
			return strata_err_set(err, STRATA_ECORRUPT,
					      "\"%s\": column \"%s\" is FIXED_LEN_BYTE_ARRAY(%d), not the "
					      "%d bytes of DECIMAL(%u,%u)",
					      b->path, rc->name, e->type_length,
					      pq_decimal_bytes(rc->precision), rc->precision, rc->scale);
		c->ptype = e->type;
		c->flba_len = e->type == PQ_FIXED_LEN_BYTE_ARRAY ? e->type_length : 0;
		c->is_optional = e->repetition == PQ_OPTIONAL;
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
			if (c->leaf < 0 || !c->is_wanted)
				continue;
			const pq_column_chunk *cc = &rg->cols[c->leaf];
			if (cc->is_encrypted || cc->has_file_path || !cc->has_meta)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": column \"%s\" in row group %u is encrypted, "
						      "elsewhere or without metadata",
						      b->path, c->name, g);
			const pq_column_meta *cm = &cc->meta;
			if (cm->type != c->ptype || cm->num_values != rg->num_rows)
				return strata_err_set(err, STRATA_ECORRUPT,
						      "\"%s\": column \"%s\" in row group %u has %lld "
						      "values of type %s for %lld rows",
						      b->path, c->name, g, (long long)cm->num_values,
						      pq_type_name(cm->type), (long long)rg->num_rows);
			if (cm->codec != PQ_UNCOMPRESSED && cm->codec != PQ_ZSTD)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": unsupported compression %s in column "
						      "\"%s\"",
						      b->path, pq_codec_name(cm->codec), c->name);
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
	int rc = strata_rfile_open(path, &b->rf, err);
	if (rc)
		goto out;
	b->size = strata_rfile_size(b->rf);
	rc = footer_read(b, err);
	if (rc)
		goto out;
	if (b->fm.is_encrypted) {
		rc = strata_err_set(err, STRATA_EUNSUPPORTED, "\"%s\": encrypted Parquet file", path);
		goto out;
	}
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

/* ---- pages ------------------------------------------------------------------------- */

/* invariant 4: every page's bytes (header and stored body) come through
 * here, into b->raw; a page whose header carries a CRC is checked. */
static int pb_page_fetch(strata_pqbatch *b, pb_col *c, pq_page_header *h, size_t *hdr_len,
			 strata_err *err)
{
	uint64_t left = c->chunk_end - c->pos;
	size_t win = left < PB_HEADER_WINDOW ? (size_t)left : PB_HEADER_WINDOW;
	int rc;
	for (;;) {
		strata_buf_reset(&b->raw);
		strata_buf_reserve(&b->raw, win);
		rc = strata_rfile_read(b->rf, b->raw.data, win, c->pos, err);
		if (rc)
			return rc;
		b->raw.len = win;
		bool is_truncated = false;
		strata_err herr;
		rc = pq_page_header_read(b->raw.data, win, h, hdr_len, &is_truncated, b->path, &herr);
		if (rc == 0)
			break;
		if (is_truncated && win < left && win < PB_HEADER_MAX) {
			win = (size_t)STRATA_MIN((uint64_t)win * 8, STRATA_MIN(left, PB_HEADER_MAX));
			continue;
		}
		return col_corrupt(b, c, err, herr.msg);
	}
	if (h->compressed_size < 0 || h->uncompressed_size < 0 ||
	    (uint32_t)h->compressed_size > PB_PAGE_MAX || (uint32_t)h->uncompressed_size > PB_PAGE_MAX)
		return col_corrupt(b, c, err, "page size out of range");
	uint64_t need = *hdr_len + (uint64_t)h->compressed_size;
	if (need > left)
		return col_corrupt(b, c, err, "page runs past the end of its column chunk");
	if (need > b->raw.len) {
		strata_buf_reserve(&b->raw, need - b->raw.len);
		rc = strata_rfile_read(b->rf, b->raw.data + b->raw.len, need - b->raw.len,
				       c->pos + b->raw.len, err);
		if (rc)
			return rc;
		b->raw.len = need;
	}
	if (c->is_hashing) { /* invariant 5 */
		if (c->pos == c->hash_pos) {
			XXH3_64bits_update(c->xs, b->raw.data, (size_t)need);
			c->hash_pos += need;
		} else {
			c->is_hashing = false;
		}
	}
	if (h->has_crc) {
		uint32_t got = (uint32_t)crc32(0, b->raw.data + *hdr_len, (uInt)h->compressed_size);
		if (got != (uint32_t)h->crc) {
			char what[96];
			snprintf(what, sizeof(what), "page checksum mismatch (expected %08x, got %08x)",
				 (uint32_t)h->crc, got);
			return col_corrupt(b, c, err, what);
		}
	}
	return 0;
}

static int page_inflate(strata_pqbatch *b, pb_col *c, const uint8_t *src, size_t src_len,
			size_t n, bool is_compressed, strata_buf *dst, strata_err *err)
{
	strata_buf_reset(dst);
	strata_buf_reserve(dst, n + 8);
	if (!is_compressed || c->codec == PQ_UNCOMPRESSED || (n == 0 && src_len == 0)) {
		if (src_len != n)
			return col_corrupt(b, c, err, "uncompressed page size mismatch");
		if (n)
			memcpy(dst->data, src, n);
		dst->len = n;
		return 0;
	}
	unsigned long long fcs = ZSTD_getFrameContentSize(src, src_len);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return col_corrupt(b, c, err, "page is not a valid zstd frame");
	if (!b->zd) {
		b->zd = ZSTD_createDCtx();
		if (!b->zd)
			abort();
	}
	size_t got = ZSTD_decompressDCtx(b->zd, dst->data, n, src, src_len);
	if (ZSTD_isError(got)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "zstd: %s", ZSTD_getErrorName(got));
		return col_corrupt(b, c, err, msg);
	}
	if (got != n)
		return col_corrupt(b, c, err, "page decompressed to the wrong size");
	dst->len = n;
	return 0;
}

static int dict_load(strata_pqbatch *b, pb_col *c, const pq_page_header *h, size_t hdr_len,
		     strata_err *err)
{
	if (c->has_dict || c->seen_data_page)
		return col_corrupt(b, c, err, "a dictionary page after the first page");
	if (!h->has_dict)
		return col_corrupt(b, c, err, "dictionary page without its header");
	if (h->dict.encoding != PQ_PLAIN && h->dict.encoding != PQ_PLAIN_DICTIONARY)
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "\"%s\": unsupported encoding %s in column \"%s\" (dictionary)",
				      b->path, pq_encoding_name(h->dict.encoding), c->name);
	c->dict = buf_renew(b, c, c->dict);
	int rc = page_inflate(b, c, b->raw.data + hdr_len, (size_t)h->compressed_size,
			      (size_t)h->uncompressed_size, true, c->dict, err);
	if (rc)
		return rc;
	int32_t n = h->dict.num_values;
	size_t w = file_width(c);
	uint64_t min_bytes = c->ptype == PQ_BOOLEAN ? ((uint64_t)n + 7) / 8 :
			     w ? (uint64_t)n * w : (uint64_t)n * 4;
	if (n < 0 || min_bytes > c->dict->len)
		return col_corrupt(b, c, err, "dictionary holds fewer bytes than its entries need");
	if (c->ptype == PQ_BYTE_ARRAY) {
		if ((uint32_t)n + 1 > c->dict_cap) {
			c->dict_cap = (uint32_t)n + 1;
			free(c->dict_refs);
			c->dict_refs = strata_malloc(sizeof(strata_strref) * c->dict_cap);
		}
		const uint8_t *p = c->dict->data, *end = p + c->dict->len;
		for (int32_t i = 0; i < n; i++) {
			uint32_t len;
			if (end - p < 4)
				return col_corrupt(b, c, err, "dictionary entry runs past the page");
			memcpy(&len, p, 4);
			p += 4;
			if ((uint64_t)len > (uint64_t)(end - p))
				return col_corrupt(b, c, err, "dictionary entry runs past the page");
			c->dict_refs[i].ptr = p;
			c->dict_refs[i].len = len;
			p += len;
		}
	}
	c->dict_n = (uint32_t)n;
	c->has_dict = true;
	return 0;
}

/* Load c's next data page (applying a dictionary page first if one comes). */
static int page_next(strata_pqbatch *b, pb_col *c, strata_err *err)
{
	for (;;) {
		if (c->pos >= c->chunk_end)
			return col_corrupt(b, c, err, "column chunk ends before its row group");
		pq_page_header h;
		size_t hdr_len = 0;
		int rc = pb_page_fetch(b, c, &h, &hdr_len, err);
		if (rc)
			return rc;
		uint64_t next_pos = c->pos + hdr_len + (uint64_t)h.compressed_size;
		if (h.type == PQ_DICTIONARY_PAGE) {
			rc = dict_load(b, c, &h, hdr_len, err);
			if (rc)
				return rc;
			c->pos = next_pos;
			continue;
		}
		if (h.type != PQ_DATA_PAGE && h.type != PQ_DATA_PAGE_V2) {
			c->pos = next_pos;
			continue; /* index pages and unknown kinds carry no values */
		}
		const uint8_t *body = b->raw.data + hdr_len;
		size_t blen = (size_t)h.compressed_size;
		int32_t nvals;
		int enc;
		const uint8_t *lv = NULL;
		size_t lv_len = 0;
		c->page = buf_renew(b, c, c->page);
		if (h.type == PQ_DATA_PAGE) {
			if (!h.has_data || h.data.num_values < 0)
				return col_corrupt(b, c, err, "data page without a valid header");
			nvals = h.data.num_values;
			enc = h.data.encoding;
			rc = page_inflate(b, c, body, blen, (size_t)h.uncompressed_size, true, c->page,
					  err);
			if (rc)
				return rc;
			const uint8_t *p = c->page->data, *end = p + c->page->len;
			if (c->is_optional) {
				if (h.data.def_encoding != PQ_RLE)
					return strata_err_set(err, STRATA_EUNSUPPORTED,
							      "\"%s\": unsupported definition level "
							      "encoding in column \"%s\"",
							      b->path, c->name);
				uint32_t n;
				if (end - p < 4)
					return col_corrupt(b, c, err, "definition levels truncated");
				memcpy(&n, p, 4);
				if ((uint64_t)n > (uint64_t)(end - p - 4))
					return col_corrupt(b, c, err, "definition levels run past the page");
				lv = p + 4;
				lv_len = n;
				p += 4 + (size_t)n;
			}
			c->vp = p;
			c->vend = end;
		} else {
			if (!h.has_data_v2)
				return col_corrupt(b, c, err, "data page v2 without its header");
			nvals = h.v2.num_values;
			enc = h.v2.encoding;
			if (nvals < 0 || h.v2.num_rows != nvals || h.v2.num_nulls < 0 ||
			    h.v2.num_nulls > nvals || h.v2.rep_len != 0)
				return col_corrupt(b, c, err, "inconsistent value, row or null counts");
			if (h.v2.def_len < 0 || (size_t)h.v2.def_len > blen ||
			    h.v2.def_len > h.uncompressed_size)
				return col_corrupt(b, c, err, "definition levels larger than the page");
			if (!c->is_optional && h.v2.num_nulls > 0)
				return col_corrupt(b, c, err, "nulls in a REQUIRED column");
			strata_buf_reset(&c->levels);
			strata_buf_append(&c->levels, body, (size_t)h.v2.def_len);
			lv_len = (size_t)h.v2.def_len;
			lv = lv_len ? c->levels.data : body;
			rc = page_inflate(b, c, body + lv_len, blen - lv_len,
					  (size_t)h.uncompressed_size - lv_len, h.v2.is_compressed,
					  c->page, err);
			if (rc)
				return rc;
			c->vp = c->page->data;
			c->vend = c->page->data + c->page->len;
		}
		/* invariant 2 */
		if ((int64_t)nvals > c->chunk_rows - c->rows_seen)
			return col_corrupt(b, c, err, "page holds more values than its row group has rows");
		c->rows_seen += nvals;
		c->seen_data_page = true;
		c->has_defs = c->is_optional;
		if (c->has_defs && pq_rle_init(&c->defs, lv, lv_len, 1) != 0)
			return col_corrupt(b, c, err, "bad definition levels");
		bool ok;
		switch (enc) {
		case PQ_PLAIN:
			ok = true;
			break;
		case PQ_PLAIN_DICTIONARY:
		case PQ_RLE_DICTIONARY:
			if (!c->has_dict)
				return col_corrupt(b, c, err, "dictionary-encoded page without a dictionary");
			ok = true;
			break;
		case PQ_RLE:
			ok = c->ptype == PQ_BOOLEAN;
			break;
		case PQ_DELTA_BINARY_PACKED:
			ok = c->ptype == PQ_INT32 || c->ptype == PQ_INT64;
			break;
		case PQ_DELTA_LENGTH_BYTE_ARRAY:
			ok = c->ptype == PQ_BYTE_ARRAY;
			break;
		case PQ_BYTE_STREAM_SPLIT:
			ok = file_width(c) != 0;
			break;
		default:
			ok = false;
		}
		if (!ok)
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": unsupported encoding %s in column \"%s\" (%s)",
					      b->path, pq_encoding_name(enc), c->name,
					      pq_type_name(c->ptype));
		c->enc = enc;
		c->page_left = nvals;
		c->is_values_ready = false;
		c->bool_bit = 0;
		c->pos = next_pos;
		if (nvals > 0)
			return 0;
	}
}

/* Set up the current page's value decoder (lazily: an all-null page may
 * omit its values section). */
static int values_ready(strata_pqbatch *b, pb_col *c, strata_err *err)
{
	const uint8_t *p = c->vp, *end = c->vend;
	switch (c->enc) {
	case PQ_PLAIN_DICTIONARY:
	case PQ_RLE_DICTIONARY: {
		if (p >= end)
			return col_corrupt(b, c, err, "dictionary indexes missing");
		int bw = *p++;
		if (bw > 32 || pq_rle_init(&c->idx, p, (size_t)(end - p), bw) != 0)
			return col_corrupt(b, c, err, "dictionary index bit width out of range");
		break;
	}
	case PQ_RLE: {
		uint32_t n;
		if (end - p < 4)
			return col_corrupt(b, c, err, "boolean run data truncated");
		memcpy(&n, p, 4);
		if ((uint64_t)n > (uint64_t)(end - p - 4))
			return col_corrupt(b, c, err, "boolean run data runs past the page");
		pq_rle_init(&c->idx, p + 4, n, 1);
		break;
	}
	case PQ_DELTA_BINARY_PACKED:
		if (pq_delta_init(&c->delta, p, (size_t)(end - p)) != 0)
			return col_corrupt(b, c, err, "bad DELTA_BINARY_PACKED header");
		break;
	case PQ_DELTA_LENGTH_BYTE_ARRAY: {
		if (pq_delta_init(&c->delta, p, (size_t)(end - p)) != 0)
			return col_corrupt(b, c, err, "bad DELTA_LENGTH_BYTE_ARRAY lengths");
		pq_delta_dec probe = c->delta;
		if (pq_delta_skip(&probe, probe.total) != 0)
			return col_corrupt(b, c, err, "bad DELTA_LENGTH_BYTE_ARRAY lengths");
		c->dl_data = pq_delta_end(&probe);
		c->dl_end = end;
		break;
	}
	case PQ_BYTE_STREAM_SPLIT: {
		size_t w = file_width(c);
		if ((size_t)(end - p) % w != 0)
			return col_corrupt(b, c, err, "BYTE_STREAM_SPLIT data is not whole values");
		c->bss_n = (uint64_t)(end - p) / w;
		c->bss_i = 0;
		break;
	}
	default:
		break;
	}
	c->is_values_ready = true;
	return 0;
}

static int values_get_file(strata_pqbatch *b, pb_col *c, void *dst, uint32_t n,
			   strata_err *err);

/* Decode n (<= PB_CHUNK) non-null values into dst (the output type).  A
 * DECIMAL is decoded in its file width to the front of dst, then widened in
 * place to strata_i128 from the last value down (value i moves from i * w
 * to i * 16 >= i * w: nothing unread is overwritten). */
static int values_get(strata_pqbatch *b, pb_col *c, void *dst, uint32_t n, strata_err *err)
{
	int rc = values_get_file(b, c, dst, n, err);
	if (rc || c->stype != STRATA_T_DECIMAL)
		return rc;
	size_t w = file_width(c);
	uint8_t *p = dst;
	for (uint32_t i = n; i-- > 0;) {
		strata_i128 x;
		if (c->ptype == PQ_INT32) {
			int32_t v;
			memcpy(&v, p + (size_t)i * 4, 4);
			x = v;
		} else if (c->ptype == PQ_INT64) {
			int64_t v;
			memcpy(&v, p + (size_t)i * 8, 8);
			x = v;
		} else {
			uint8_t be[16];
			memcpy(be, p + (size_t)i * w, w);
			x = pq_dec_from_be(be, (int)w);
		}
		memcpy(p + (size_t)i * sizeof(x), &x, sizeof(x));
	}
	return 0;
}

static int values_get_file(strata_pqbatch *b, pb_col *c, void *dst, uint32_t n,
			   strata_err *err)
{
	if (n == 0)
		return 0;
	if (!c->is_values_ready) {
		int rc = values_ready(b, c, err);
		if (rc)
			return rc;
	}
	size_t w = file_width(c);
	switch (c->enc) {
	case PQ_PLAIN:
		if (c->ptype == PQ_BYTE_ARRAY) {
			strata_strref *out = dst;
			const uint8_t *p = c->vp, *end = c->vend;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t len;
				if (end - p < 4)
					return col_corrupt(b, c, err, "value runs past the page");
				memcpy(&len, p, 4);
				p += 4;
				if ((uint64_t)len > (uint64_t)(end - p))
					return col_corrupt(b, c, err, "value runs past the page");
				out[i].ptr = p;
				out[i].len = len;
				p += len;
			}
			c->vp = p;
		} else if (c->ptype == PQ_BOOLEAN) {
			uint8_t *out = dst;
			if (c->bool_bit + n > (uint64_t)(c->vend - c->vp) * 8)
				return col_corrupt(b, c, err, "booleans run past the page");
			for (uint32_t i = 0; i < n; i++) {
				uint64_t bit = c->bool_bit + i;
				out[i] = (c->vp[bit >> 3] >> (bit & 7)) & 1;
			}
			c->bool_bit += n;
		} else {
			if ((uint64_t)(c->vend - c->vp) < (uint64_t)n * w)
				return col_corrupt(b, c, err, "values run past the page");
			memcpy(dst, c->vp, (size_t)n * w);
			c->vp += (size_t)n * w;
		}
		return 0;
	case PQ_PLAIN_DICTIONARY:
	case PQ_RLE_DICTIONARY: {
		if (pq_rle_get(&c->idx, b->u32, n) != 0)
			return col_corrupt(b, c, err, "dictionary indexes truncated or malformed");
		uint32_t bad = 0;
		for (uint32_t i = 0; i < n; i++)
			bad |= b->u32[i] >= c->dict_n;
		if (bad)
			return col_corrupt(b, c, err, "dictionary index out of range");
		const uint8_t *d = c->dict->data;
		switch (c->ptype) {
		case PQ_BYTE_ARRAY: {
			strata_strref *out = dst;
			for (uint32_t i = 0; i < n; i++)
				out[i] = c->dict_refs[b->u32[i]];
			break;
		}
		case PQ_BOOLEAN: {
			uint8_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				out[i] = (d[b->u32[i] >> 3] >> (b->u32[i] & 7)) & 1;
			break;
		}
		case PQ_INT64:
		case PQ_DOUBLE: {
			uint64_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(&out[i], d + (size_t)b->u32[i] * 8, 8);
			break;
		}
		case PQ_FIXED_LEN_BYTE_ARRAY: {
			uint8_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(out + (size_t)i * w, d + (size_t)b->u32[i] * w, w);
			break;
		}
		default: {
			uint32_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(&out[i], d + (size_t)b->u32[i] * 4, 4);
			break;
		}
		}
		return 0;
	}
	case PQ_RLE: {
		uint8_t *out = dst;
		if (pq_rle_get(&c->idx, b->u32, n) != 0)
			return col_corrupt(b, c, err, "boolean runs truncated or malformed");
		for (uint32_t i = 0; i < n; i++)
			out[i] = b->u32[i] != 0;
		return 0;
	}
	case PQ_DELTA_BINARY_PACKED:
		if (c->ptype == PQ_INT64) {
			if (pq_delta_get(&c->delta, dst, n) != 0)
				return col_corrupt(b, c, err,
						   "DELTA_BINARY_PACKED data truncated or malformed");
		} else {
			int32_t *out = dst;
			if (pq_delta_get(&c->delta, b->u64, n) != 0)
				return col_corrupt(b, c, err,
						   "DELTA_BINARY_PACKED data truncated or malformed");
			for (uint32_t i = 0; i < n; i++)
				out[i] = (int32_t)(uint32_t)b->u64[i];
		}
		return 0;
	case PQ_DELTA_LENGTH_BYTE_ARRAY: {
		strata_strref *out = dst;
		if (pq_delta_get(&c->delta, b->u64, n) != 0)
			return col_corrupt(b, c, err, "DELTA_LENGTH_BYTE_ARRAY lengths malformed");
		for (uint32_t i = 0; i < n; i++) {
			uint64_t len = b->u64[i];
			if (len > (uint64_t)(c->dl_end - c->dl_data))
				return col_corrupt(b, c, err,
						   "DELTA_LENGTH_BYTE_ARRAY value runs past the page");
			out[i].ptr = c->dl_data;
			out[i].len = (uint32_t)len;
			c->dl_data += len;
		}
		return 0;
	}
	case PQ_BYTE_STREAM_SPLIT: {
		uint8_t *out = dst;
		if (c->bss_i + n > c->bss_n)
			return col_corrupt(b, c, err, "BYTE_STREAM_SPLIT values run past the page");
		for (uint32_t i = 0; i < n; i++)
			for (size_t k = 0; k < w; k++)
				out[i * w + k] = c->vp[k * c->bss_n + c->bss_i + i];
		c->bss_i += n;
		return 0;
	}
	}
	return col_corrupt(b, c, err, "unknown encoding");
}

/* Decode k rows of the current page (k <= page_left, k <= PB_CHUNK) into
 * dst and nulls: values first, packed, then spread over the rows from the
 * end (value j only ever moves to a row i >= j). */
static int page_rows(strata_pqbatch *b, pb_col *c, uint8_t *dst, uint8_t *nulls, uint32_t k,
		     strata_err *err)
{
	size_t ow = strata_pqbatch_width(c->stype);
	if (!c->has_defs) {
		memset(nulls, 0, k);
		return values_get(b, c, dst, k, err);
	}
	uint32_t have = 0; /* levels already in b->lv */
	if (c->defs.rle_left == 0 && c->defs.bp_left == 0) {
		/* start the next run by reading its first level */
		if (pq_rle_get(&c->defs, b->lv, 1) != 0)
			return col_corrupt(b, c, err, "definition levels truncated or malformed");
		have = 1;
	}
	if (c->defs.rle_left >= k - have && c->defs.rle_value <= 1 &&
	    (!have || b->lv[0] == c->defs.rle_value)) {
		/* one run of levels covers the rows: all present, or all null */
		c->defs.rle_left -= k - have;
		if (c->defs.rle_value) {
			memset(nulls, 0, k);
			return values_get(b, c, dst, k, err);
		}
		memset(nulls, 1, k);
		memset(dst, 0, (size_t)k * ow);
		return 0;
	}
	if (pq_rle_get(&c->defs, b->lv + have, k - have) != 0)
		return col_corrupt(b, c, err, "definition levels truncated or malformed");
	uint32_t nn = 0, bad = 0;
	for (uint32_t i = 0; i < k; i++) {
		bad |= b->lv[i];
		nn += b->lv[i] & 1;
		nulls[i] = !b->lv[i];
	}
	if (bad > 1)
		return col_corrupt(b, c, err, "definition level out of range");
	int rc = values_get(b, c, dst, nn, err);
	if (rc || nn == k)
		return rc;
	int64_t j = (int64_t)nn - 1;
	for (int64_t i = (int64_t)k - 1; i >= 0; i--) {
		if (b->lv[i])
			memmove(dst + (size_t)i * ow, dst + (size_t)j-- * ow, ow);
		else
			memset(dst + (size_t)i * ow, 0, ow);
	}
	return 0;
}

/* Decode the next k rows of column c (its chunk open) into dst, nulls. */
static int col_rows(strata_pqbatch *b, pb_col *c, uint8_t *dst, uint8_t *nulls, size_t k,
		    strata_err *err)
{
	size_t ow = strata_pqbatch_width(c->stype);
	while (k > 0) {
		if (c->page_left == 0) {
			int rc = page_next(b, c, err);
			if (rc)
				return rc;
		}
		uint32_t m = (uint32_t)STRATA_MIN(k, (size_t)PB_CHUNK);
		if ((int64_t)m > c->page_left)
			m = (uint32_t)c->page_left;
		int rc = page_rows(b, c, dst, nulls, m, err);
		if (rc)
			return rc;
		c->page_left -= (int32_t)m;
		dst += (size_t)m * ow;
		nulls += m;
		k -= m;
	}
	return 0;
}

static int col_open(strata_pqbatch *b, pb_col *c, uint32_t g, strata_err *err)
{
	const pq_column_meta *cm = &b->fm.row_groups[g].cols[c->leaf].meta;
	int64_t s = cm->data_page_offset;
	if (cm->has_dict_page_offset && cm->dict_page_offset > 0 && cm->dict_page_offset < s)
		s = cm->dict_page_offset;
	int64_t len = cm->total_compressed_size;
	uint64_t limit = b->size - 8;
	if (s < 4 || len < 0 || (uint64_t)s > limit || (uint64_t)len > limit - (uint64_t)s)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": column \"%s\" in row group %u claims bytes [%lld, "
				      "+%lld) outside the %llu-byte file",
				      b->path, c->name, g, (long long)s, (long long)len,
				      (unsigned long long)b->size);
	c->chunk_start = (uint64_t)s;
	c->chunk_end = (uint64_t)s + (uint64_t)len;
	c->pos = c->chunk_start;
	c->codec = cm->codec;
	c->chunk_rows = b->fm.row_groups[g].num_rows;
	c->rows_seen = 0;
	c->seen_data_page = false;
	c->has_dict = false;
	c->dict_n = 0;
	c->page_left = 0;
	c->is_values_ready = false;
	if (b->chunk_hash) { /* invariant 5 */
		if (!c->xs)
			c->xs = strata_xxh3_new();
		XXH3_64bits_reset(c->xs);
		c->hash_pos = c->chunk_start;
		c->is_hashing = true;
	}
	return 0;
}

/* Read [off, off + n) of the file through h in pieces. */
static int hash_range(strata_pqbatch *b, XXH3_state_t *h, uint64_t off, uint64_t n,
		      strata_err *err)
{
	if (n == 0)
		return 0;
	size_t cap = (size_t)STRATA_MIN(n, (uint64_t)(1u << 20));
	uint8_t *buf = strata_malloc(cap);
	int rc = 0;
	while (n > 0 && rc == 0) {
		size_t k = (size_t)STRATA_MIN(n, (uint64_t)cap);
		rc = strata_rfile_read(b->rf, buf, k, off, err);
		if (rc == 0) {
			XXH3_64bits_update(h, buf, k);
			off += k;
			n -= k;
		}
	}
	free(buf);
	return rc;
}

/* A chunk's row group ended: finish its hash (any bytes after its last
 * data page are read raw). */
static int chunk_hash_finish(strata_pqbatch *b, pb_col *c, strata_err *err)
{
	if (!c->is_hashing)
		return 0;
	c->is_hashing = false;
	if (c->hash_pos > c->chunk_end)
		return 0;
	int rc = hash_range(b, c->xs, c->hash_pos, c->chunk_end - c->hash_pos, err);
	if (rc)
		return rc;
	size_t k = (size_t)b->rg * b->nleaves + (size_t)c->leaf;
	b->chunk_hash[k] = XXH3_64bits_digest(c->xs);
	b->is_chunk_hashed[k] = true;
	return 0;
}

void strata_pqbatch_want_hash(strata_pqbatch *b)
{
	if (b->chunk_hash || b->rg > 0 || b->is_rg_open)
		return; /* only from the start: a chunk begun is not whole */
	size_t n = (size_t)b->fm.nrow_groups * b->nleaves;
	b->chunk_hash = strata_calloc(n + 1, sizeof(uint64_t));
	b->is_chunk_hashed = strata_calloc(n + 1, sizeof(bool));
}

typedef struct pb_seg {
	uint64_t start, end;
	size_t k;
} pb_seg;

static int seg_cmp(const void *x, const void *y)
{
	const pb_seg *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start ? 1 : 0;
}

static void seg_put(XXH3_state_t *all, uint64_t h)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(h >> (8 * i));
	XXH3_64bits_update(all, le, 8);
}

static int seg_raw(strata_pqbatch *b, XXH3_state_t *all, XXH3_state_t *one, uint64_t start,
		   uint64_t end, strata_err *err)
{
	if (end <= start)
		return 0;
	XXH3_64bits_reset(one);
	int rc = hash_range(b, one, start, end - start, err);
	if (rc == 0)
		seg_put(all, XXH3_64bits_digest(one));
	return rc;
}

int strata_pqbatch_content_hash(strata_pqbatch *b, uint64_t *out, strata_err *err)
{
	if (b->rg < b->fm.nrow_groups)
		return 0; /* not read to the end */
	size_t n = (size_t)b->fm.nrow_groups * b->nleaves;
	pb_seg *segs = strata_calloc(n + 1, sizeof(pb_seg));
	XXH3_state_t *all = strata_xxh3_new(), *one = strata_xxh3_new();
	uint64_t limit = b->size - 8;
	int rc = 0;
	for (uint32_t g = 0; g < b->fm.nrow_groups; g++)
		for (uint32_t l = 0; l < b->nleaves; l++) {
			const pq_column_meta *cm = &b->fm.row_groups[g].cols[l].meta;
			int64_t st = cm->data_page_offset;
			if (cm->has_dict_page_offset && cm->dict_page_offset > 0 &&
			    cm->dict_page_offset < st)
				st = cm->dict_page_offset;
			int64_t len = cm->total_compressed_size;
			if (!b->fm.row_groups[g].cols[l].has_meta || st < 4 || len < 0 ||
			    (uint64_t)st > limit || (uint64_t)len > limit - (uint64_t)st) {
				rc = strata_err_set(err, STRATA_ECORRUPT,
						    "\"%s\": column chunk %u of row group %u lies outside "
						    "the file",
						    b->path, l, g);
				goto out;
			}
			pb_seg *sg = &segs[(size_t)g * b->nleaves + l];
			sg->start = (uint64_t)st;
			sg->end = (uint64_t)st + (uint64_t)len;
			sg->k = (size_t)g * b->nleaves + l;
		}
	qsort(segs, n, sizeof(pb_seg), seg_cmp);
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		pb_seg *sg = &segs[i];
		if (sg->start < pos) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "\"%s\": column chunks overlap at offset %llu", b->path,
					    (unsigned long long)sg->start);
			goto out;
		}
		rc = seg_raw(b, all, one, pos, sg->start, err);
		if (rc)
			goto out;
		if (sg->end > sg->start) {
			if (b->is_chunk_hashed && b->is_chunk_hashed[sg->k])
				seg_put(all, b->chunk_hash[sg->k]);
			else if ((rc = seg_raw(b, all, one, sg->start, sg->end, err)) != 0)
				goto out;
		}
		pos = sg->end;
	}
	rc = seg_raw(b, all, one, pos, b->size, err);
	if (rc == 0)
		*out = XXH3_64bits_digest(all);
out:
	XXH3_freeState(all);
	XXH3_freeState(one);
	free(segs);
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
				if (b->cols[i].leaf >= 0 && b->cols[i].is_wanted)
					rc = col_open(b, &b->cols[i], b->rg, err);
			if (rc)
				break;
			b->rg_row = 0;
			b->is_rg_open = true;
		}
		int64_t left = rg->num_rows - b->rg_row;
		if (left == 0) {
			/* invariant 2: every column used exactly its rows */
			for (uint32_t i = 0; i < b->ncols; i++) {
				pb_col *c = &b->cols[i];
				if (c->leaf >= 0 && c->is_wanted &&
				    (c->page_left != 0 || c->rows_seen != c->chunk_rows)) {
					rc = col_corrupt(b, c, err, "values and rows disagree");
					break;
				}
			}
			for (uint32_t i = 0; i < b->ncols && rc == 0; i++)
				if (b->cols[i].leaf >= 0 && b->cols[i].is_wanted)
					rc = chunk_hash_finish(b, &b->cols[i], err);
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
			if (c->leaf < 0) {
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
