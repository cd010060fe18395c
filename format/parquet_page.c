/*
 * format/parquet_page.c — the one Parquet page decoder: a column chunk
 * streamed page by page, its values decoded into typed arrays.  Both
 * readers sit on it: the sorted-run reader (parquet_read.c, records one at
 * a time for merges and lookups) and the batch reader (parquet_batch.c,
 * whole files column by column for columnar scans).  What differs between
 * them — which columns, how far, into what (strata_values or the caller's
 * arrays), seeks by page index — stays in their files.
 *
 * Design.  A pq_file holds what the columns of one file share: the file,
 * one buffer for the page being fetched (decompressed into its column's
 * own buffer before any other page is fetched), the zstd context, scratch
 * arrays, and, for a verified whole read, each chunk's hash.  A pq_col is
 * one column chunk: its byte range, dictionary, current page and value
 * decoder.  pq_page_next loads a data page (a dictionary page first if one
 * comes), pq_page_rows decodes up to PQ_ROWS_MAX of its rows into an array
 * of pq_value_width(ptype) values and a null array — PLAIN fixed-width
 * values are one memcpy, DELTA_BINARY_PACKED integers unpack in place,
 * dictionary indexes gather from the dictionary, strings are refs into the
 * page or dictionary — and spreads the nulls by the definition levels
 * (a run of levels that covers the rows costs nothing).
 *
 * Strings outliving their page.  The run reader hands out a batch from one
 * page at a time and reuses its buffers.  The batch reader lends strings
 * across pages until its caller is done: with f->is_lending, a string
 * column's page or dictionary buffer is retired instead of overwritten when
 * its column moves on, and comes back at pq_file_release().
 *
 * Invariants:
 *   1. every offset, length and count from the file is checked against the
 *      file, its column chunk and the PQ_* limits before use; damage is
 *      STRATA_ECORRUPT naming the file, the column, the row group, the
 *      offset and what is wrong — never a crash, a hang or an allocation
 *      beyond PQ_PAGE_MAX (a dictionary's refs included);
 *   2. a column's pages hold exactly its row group's rows: a page with more
 *      values than the rows left is damage here, fewer is the caller's
 *      check at the end of the row group;
 *   3. every page's bytes pass through pq_page_fetch, which checks the
 *      page's CRC-32 when its header carries one, before anything of the
 *      page is decoded (see "Page CRCs and the content hash" below);
 *   4. with pq_file_want_hash, a chunk read from its first byte to its last
 *      in order streams through its own XXH3-64 as its pages arrive, and
 *      pq_file_content_hash combines those with a raw read of everything
 *      else into the file's content hash (format.h): a whole read is
 *      verified without reading a page twice;
 *   5. with f->is_lending, no buffer a string may point into is written
 *      until pq_file_release().
 *
 * Page CRCs and the content hash.  A whole read that verifies the content
 * hash covers every byte the CRCs cover, so the CRCs might look redundant
 * there (they cost about 5 % of a full scan).  They are kept: the content
 * hash is known only after the file's last page, while the rows of its
 * first pages have long been handed out — to a DuckDB query with a LIMIT
 * that never reaches the end, or to any caller that stops early.  The CRC
 * rejects a damaged page before one of its values leaves the decoder; the
 * hash then adds what no page CRC covers (the footer, the page headers,
 * the page indexes) and pages written without a CRC.
 *
 * Supported: INT32, INT64, FLOAT, DOUBLE, BOOLEAN, BYTE_ARRAY, and
 * FIXED_LEN_BYTE_ARRAY DECIMALs (up to 16 bytes; a DECIMAL of any
 * physical type comes out as strata_i128: values_get); flat
 * REQUIRED and OPTIONAL columns; data pages V1 and V2; PLAIN,
 * PLAIN_DICTIONARY, RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT; UNCOMPRESSED and ZSTD.
 * Anything else is STRATA_EUNSUPPORTED naming the file and the column.
 *
 * One thread per pq_file (and its columns).
 */
#include "format/parquet_int.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

int pq_col_corrupt(const pq_file *f, const pq_col *c, strata_err *err, const char *what)
{
	return strata_err_set(err, STRATA_ECORRUPT,
			      "\"%s\": damaged column \"%s\" in row group %u (offset %llu): %s",
			      f->path, c->name, c->rg, (unsigned long long)c->pos, what);
}

/* ---- the file ------------------------------------------------------------------ */

int pq_file_open(pq_file *f, const char *path, strata_arena *a, pq_file_meta *fm,
		 uint8_t **footer, size_t *footer_len, strata_err *err)
{
	*footer = NULL;
	*footer_len = 0;
	f->path = path;
	int rc = strata_rfile_open(path, &f->rf, err);
	if (rc)
		return rc;
	f->size = strata_rfile_size(f->rf);
	if (f->size < 12)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\" is too short to be a Parquet file (%llu bytes)", path,
				      (unsigned long long)f->size);
	uint8_t head[4], tail[8];
	rc = strata_rfile_read(f->rf, head, 4, 0, err);
	if (rc == 0)
		rc = strata_rfile_read(f->rf, tail, 8, f->size - 8, err);
	if (rc)
		return rc;
	if (memcmp(head, "PAR1", 4) != 0)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\" does not start with the Parquet magic", path);
	if (memcmp(tail + 4, "PAR1", 4) != 0) {
		if (memcmp(tail + 4, "PARE", 4) == 0)
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": encrypted Parquet files are not supported",
					      path);
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": no Parquet magic at the end (truncated file?)", path);
	}
	uint32_t flen;
	memcpy(&flen, tail, 4);
	if (flen == 0 || (uint64_t)flen > f->size - 12 || flen > PQ_FOOTER_MAX)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": footer length %u does not fit in a %llu-byte file",
				      path, flen, (unsigned long long)f->size);
	*footer = strata_malloc(flen);
	*footer_len = flen;
	rc = strata_rfile_read(f->rf, *footer, flen, f->size - 8 - flen, err);
	if (rc == 0)
		rc = pq_file_meta_read(*footer, flen, a, fm, path, err);
	if (rc == 0 && fm->is_encrypted)
		rc = strata_err_set(err, STRATA_EUNSUPPORTED,
				    "\"%s\": encrypted Parquet files are not supported", path);
	return rc;
}

static strata_buf *buf_get(pq_file *f)
{
	if (f->nspare)
		return f->spare[--f->nspare];
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

static void buf_drop(strata_buf *b)
{
	if (b) {
		strata_buf_free(b);
		free(b);
	}
}

/* The buffer c's next page or dictionary goes into (invariant 5: a string
 * column's old one is retired while strings are lent, else reused). */
static strata_buf *buf_renew(pq_file *f, const pq_col *c, strata_buf *old)
{
	if (!old)
		return buf_get(f);
	if (!f->is_lending || c->ptype != PQ_BYTE_ARRAY)
		return old;
	buf_push(&f->retired, &f->nretired, &f->cap_retired, old);
	return buf_get(f);
}

void pq_file_release(pq_file *f)
{
	while (f->nretired)
		buf_push(&f->spare, &f->nspare, &f->cap_spare, f->retired[--f->nretired]);
}

void pq_file_free(pq_file *f)
{
	strata_rfile_close(f->rf);
	f->rf = NULL;
	pq_file_release(f);
	for (size_t i = 0; i < f->nspare; i++)
		buf_drop(f->spare[i]);
	free(f->spare);
	free(f->retired);
	strata_buf_free(&f->raw);
	ZSTD_freeDCtx(f->zd);
	free(f->chunk_hash);
	free(f->is_chunk_hashed);
}

void pq_col_free(pq_col *c)
{
	buf_drop(c->dict);
	buf_drop(c->page);
	c->dict = c->page = NULL;
	strata_buf_free(&c->levels);
	free(c->dict_refs);
	c->dict_refs = NULL;
	if (c->xs)
		XXH3_freeState(c->xs);
	c->xs = NULL;
}

/* ---- chunks ------------------------------------------------------------------------ */

int pq_chunk_range(const pq_file *f, const pq_file_meta *fm, uint32_t g, int leaf,
		   const char *name, uint64_t *start, uint64_t *end, strata_err *err)
{
	const pq_column_chunk *cc = &fm->row_groups[g].cols[leaf];
	const pq_column_meta *cm = &cc->meta;
	int64_t s = cm->data_page_offset;
	if (cm->has_dict_page_offset && cm->dict_page_offset > 0 && cm->dict_page_offset < s)
		s = cm->dict_page_offset;
	int64_t len = cm->total_compressed_size;
	uint64_t limit = f->size - 8; /* the footer length and magic */
	if (!cc->has_meta || s < 4 || len < 0 || (uint64_t)s > limit ||
	    (uint64_t)len > limit - (uint64_t)s || cm->data_page_offset < s ||
	    (uint64_t)cm->data_page_offset > (uint64_t)s + (uint64_t)len)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": column \"%s\" in row group %u claims bytes [%lld, "
				      "+%lld) outside the %llu-byte file",
				      f->path, name, g, (long long)s, (long long)len,
				      (unsigned long long)f->size);
	*start = (uint64_t)s;
	*end = (uint64_t)s + (uint64_t)len;
	return 0;
}

int pq_col_open(pq_file *f, const pq_file_meta *fm, pq_col *c, uint32_t g, strata_err *err)
{
	int rc = pq_chunk_range(f, fm, g, c->leaf, c->name, &c->chunk_start, &c->chunk_end, err);
	if (rc)
		return rc;
	c->rg = g;
	c->codec = fm->row_groups[g].cols[c->leaf].meta.codec;
	c->pos = c->chunk_start;
	c->chunk_rows = fm->row_groups[g].num_rows;
	c->rows_seen = 0;
	c->seen_data_page = false;
	c->has_dict = false;
	c->dict_n = 0;
	c->page_left = 0;
	c->page_values = 0;
	c->is_values_ready = false;
	if (f->chunk_hash) { /* invariant 4 */
		if (!c->xs)
			c->xs = strata_xxh3_new();
		XXH3_64bits_reset(c->xs);
		c->hash_pos = c->chunk_start;
		c->is_hashing = true;
	}
	return 0;
}

/* ---- pages ------------------------------------------------------------------------- */

/* invariant 3: every page's bytes (header and stored body) come through
 * here, into f->raw */
int pq_page_fetch(pq_file *f, pq_col *c, pq_page_header *h, size_t *hdr_len, strata_err *err)
{
	uint64_t left = c->chunk_end - c->pos;
	size_t win = left < PQ_HEADER_WINDOW ? (size_t)left : PQ_HEADER_WINDOW;
	int rc;
	for (;;) {
		strata_buf_reset(&f->raw);
		strata_buf_reserve(&f->raw, win);
		rc = strata_rfile_read(f->rf, f->raw.data, win, c->pos, err);
		if (rc)
			return rc;
		f->raw.len = win;
		bool is_truncated = false;
		strata_err herr;
		rc = pq_page_header_read(f->raw.data, win, h, hdr_len, &is_truncated, f->path, &herr);
		if (rc == 0)
			break;
		if (is_truncated && win < left && win < PQ_HEADER_MAX) {
			win = (size_t)STRATA_MIN((uint64_t)win * 8, STRATA_MIN(left, PQ_HEADER_MAX));
			continue;
		}
		return pq_col_corrupt(f, c, err, herr.msg);
	}
	if (h->compressed_size < 0 || h->uncompressed_size < 0 ||
	    (uint32_t)h->compressed_size > PQ_PAGE_MAX || (uint32_t)h->uncompressed_size > PQ_PAGE_MAX)
		return pq_col_corrupt(f, c, err, "page size out of range");
	uint64_t need = *hdr_len + (uint64_t)h->compressed_size;
	if (need > left)
		return pq_col_corrupt(f, c, err, "page runs past the end of its column chunk");
	if (need > f->raw.len) {
		strata_buf_reserve(&f->raw, need - f->raw.len);
		rc = strata_rfile_read(f->rf, f->raw.data + f->raw.len, need - f->raw.len,
				       c->pos + f->raw.len, err);
		if (rc)
			return rc;
		f->raw.len = need;
	}
	if (c->is_hashing) { /* invariant 4 */
		if (c->pos == c->hash_pos) {
			XXH3_64bits_update(c->xs, f->raw.data, (size_t)need);
			c->hash_pos += need;
		} else {
			c->is_hashing = false; /* a jump: the chunk is read raw at the end */
		}
	}
	if (h->has_crc) {
		uint32_t got = (uint32_t)crc32(0, f->raw.data + *hdr_len, (uInt)h->compressed_size);
		if (got != (uint32_t)h->crc) {
			char what[96];
			snprintf(what, sizeof(what), "page checksum mismatch (expected %08x, got %08x)",
				 (uint32_t)h->crc, got);
			return pq_col_corrupt(f, c, err, what);
		}
	}
	return 0;
}

/* Decompress (or copy) src into dst: exactly n bytes. */
static int page_inflate(pq_file *f, pq_col *c, const uint8_t *src, size_t src_len, size_t n,
			bool is_compressed, strata_buf *dst, strata_err *err)
{
	strata_buf_reset(dst);
	bool is_zstd = is_compressed && c->codec == PQ_ZSTD && !(n == 0 && src_len == 0);
	if (is_zstd) {
		/* invariant 1: the frames' own sizes must agree before anything
		 * is allocated for them */
		unsigned long long fcs = ZSTD_getFrameContentSize(src, src_len);
		if (fcs == ZSTD_CONTENTSIZE_ERROR)
			return pq_col_corrupt(f, c, err, "page is not a valid zstd frame");
		/* one frame (what writers emit): its size must be the page's */
		size_t flen = ZSTD_findFrameCompressedSize(src, src_len);
		if (!ZSTD_isError(flen) && flen == src_len && fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
		    fcs != n)
			return pq_col_corrupt(f, c, err,
					      "zstd frame size disagrees with the page header");
	}
	strata_buf_reserve(dst, n + 8);
	if (!is_zstd) {
		if (src_len != n)
			return pq_col_corrupt(f, c, err, "uncompressed page size mismatch");
		if (n)
			memcpy(dst->data, src, n);
		dst->len = n;
		return 0;
	}
	if (!f->zd) {
		f->zd = ZSTD_createDCtx();
		if (!f->zd)
			abort();
	}
	size_t got = ZSTD_decompressDCtx(f->zd, dst->data, n, src, src_len);
	if (ZSTD_isError(got)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "zstd: %s", ZSTD_getErrorName(got));
		return pq_col_corrupt(f, c, err, msg);
	}
	if (got != n)
		return pq_col_corrupt(f, c, err, "page decompressed to the wrong size");
	dst->len = n;
	return 0;
}

/* PLAIN BYTE_ARRAY: the length before the value at *p (4 bytes, little
 * endian) into *len, and *p moved past it onto the value's bytes; -1 (and
 * *p as it was) when the length or the value would run past end. */
static inline int plain_len_next(const uint8_t **p, const uint8_t *end, uint32_t *len)
{
	if (end - *p < 4)
		return -1;
	memcpy(len, *p, 4);
	if ((uint64_t)*len > (uint64_t)(end - *p - 4))
		return -1;
	*p += 4;
	return 0;
}

/* Bytes of one value of c as stored (PLAIN): fixed-width types and a
 * FIXED_LEN_BYTE_ARRAY's type_length; 0 for BOOLEAN and BYTE_ARRAY. */
static size_t file_width(const pq_col *c)
{
	int ptype = c->ptype;
	return ptype == PQ_INT32 || ptype == PQ_FLOAT ? 4 :
	       ptype == PQ_INT64 || ptype == PQ_DOUBLE ? 8 :
	       ptype == PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)c->flba_len : 0;
}

size_t pq_col_width(const pq_col *c)
{
	return c->is_decimal ? sizeof(strata_i128) : pq_value_width(c->ptype);
}

size_t pq_value_width(int ptype)
{
	switch (ptype) {
	case PQ_INT64:
	case PQ_DOUBLE:
		return 8;
	case PQ_INT32:
	case PQ_FLOAT:
		return 4;
	case PQ_BOOLEAN:
		return 1;
	default:
		return sizeof(strata_strref);
	}
}

int pq_dict_load(pq_file *f, pq_col *c, const pq_page_header *h, size_t hdr_len,
		 strata_err *err)
{
	if (c->has_dict || c->seen_data_page)
		return pq_col_corrupt(f, c, err, "a dictionary page after the first page");
	if (!h->has_dict)
		return pq_col_corrupt(f, c, err, "dictionary page without its header");
	if (h->dict.encoding != PQ_PLAIN && h->dict.encoding != PQ_PLAIN_DICTIONARY)
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "\"%s\": unsupported encoding %s in column \"%s\" "
				      "(dictionary page)",
				      f->path, pq_encoding_name(h->dict.encoding), c->name);
	c->dict = buf_renew(f, c, c->dict);
	int rc = page_inflate(f, c, f->raw.data + hdr_len, (size_t)h->compressed_size,
			      (size_t)h->uncompressed_size, true, c->dict, err);
	if (rc)
		return rc;
	int32_t n = h->dict.num_values;
	size_t w = file_width(c);
	/* invariant 1: the count must fit in the bytes, and the refs in the
	 * page limit, before anything is allocated */
	uint64_t min_bytes = c->ptype == PQ_BOOLEAN ? ((uint64_t)n + 7) / 8 :
			     w ? (uint64_t)n * w : (uint64_t)n * 4;
	if (n < 0 || min_bytes > c->dict->len)
		return pq_col_corrupt(f, c, err, "dictionary holds fewer bytes than its entries need");
	if (c->ptype == PQ_BYTE_ARRAY) {
		if ((uint64_t)n * sizeof(strata_strref) > PQ_PAGE_MAX)
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": dictionary of column \"%s\" has %d entries, "
					      "more than strata reads (%zu)",
					      f->path, c->name, n, PQ_PAGE_MAX / sizeof(strata_strref));
		if ((uint32_t)n + 1 > c->dict_cap) {
			c->dict_cap = (uint32_t)n + 1;
			free(c->dict_refs);
			c->dict_refs = strata_malloc(sizeof(strata_strref) * c->dict_cap);
		}
		const uint8_t *p = c->dict->data, *end = p + c->dict->len;
		for (int32_t i = 0; i < n; i++) {
			uint32_t len;
			if (plain_len_next(&p, end, &len) != 0)
				return pq_col_corrupt(f, c, err, "dictionary entry runs past the page");
			c->dict_refs[i].ptr = p;
			c->dict_refs[i].len = len;
			p += len;
		}
	}
	c->dict_n = (uint32_t)n;
	c->has_dict = true;
	return 0;
}

int pq_page_next(pq_file *f, pq_col *c, strata_err *err)
{
	for (;;) {
		if (c->pos >= c->chunk_end)
			return pq_col_corrupt(f, c, err, "column chunk ends before its row group");
		pq_page_header h;
		size_t hdr_len = 0;
		int rc = pq_page_fetch(f, c, &h, &hdr_len, err);
		if (rc)
			return rc;
		uint64_t next_pos = c->pos + hdr_len + (uint64_t)h.compressed_size;
		if (h.type == PQ_DICTIONARY_PAGE) {
			rc = pq_dict_load(f, c, &h, hdr_len, err);
			if (rc)
				return rc;
			c->pos = next_pos;
			continue;
		}
		if (h.type != PQ_DATA_PAGE && h.type != PQ_DATA_PAGE_V2) {
			c->pos = next_pos;
			continue; /* index pages and unknown kinds carry no values */
		}
		const uint8_t *body = f->raw.data + hdr_len;
		size_t blen = (size_t)h.compressed_size;
		int32_t nvals;
		int enc;
		const uint8_t *lv = NULL; /* definition levels */
		size_t lv_len = 0;
		c->page = buf_renew(f, c, c->page);
		if (h.type == PQ_DATA_PAGE) {
			if (!h.has_data)
				return pq_col_corrupt(f, c, err, "data page without its header");
			nvals = h.data.num_values;
			enc = h.data.encoding;
			if (nvals < 0)
				return pq_col_corrupt(f, c, err, "negative value count");
			rc = page_inflate(f, c, body, blen, (size_t)h.uncompressed_size, true, c->page,
					  err);
			if (rc)
				return rc;
			const uint8_t *p = c->page->data, *end = p + c->page->len;
			if (c->is_optional) {
				if (h.data.def_encoding == PQ_BIT_PACKED)
					return strata_err_set(err, STRATA_EUNSUPPORTED,
							      "\"%s\": unsupported encoding BIT_PACKED "
							      "(definition levels) in column \"%s\"",
							      f->path, c->name);
				if (h.data.def_encoding != PQ_RLE)
					return pq_col_corrupt(f, c, err,
							      "unknown definition level encoding");
				uint32_t n;
				if (end - p < 4)
					return pq_col_corrupt(f, c, err, "definition levels truncated");
				memcpy(&n, p, 4);
				if ((uint64_t)n > (uint64_t)(end - p - 4))
					return pq_col_corrupt(f, c, err,
							      "definition levels run past the page");
				lv = p + 4;
				lv_len = n;
				p += 4 + (size_t)n;
			}
			c->vp = p;
			c->vend = end;
		} else {
			if (!h.has_data_v2)
				return pq_col_corrupt(f, c, err, "data page v2 without its header");
			nvals = h.v2.num_values;
			enc = h.v2.encoding;
			if (nvals < 0 || h.v2.num_rows != nvals || h.v2.num_nulls < 0 ||
			    h.v2.num_nulls > nvals)
				return pq_col_corrupt(f, c, err, "inconsistent value, row or null counts");
			if (h.v2.rep_len != 0)
				return pq_col_corrupt(f, c, err, "repetition levels in a flat column");
			if (h.v2.def_len < 0 || (size_t)h.v2.def_len > blen ||
			    h.v2.def_len > h.uncompressed_size)
				return pq_col_corrupt(f, c, err, "definition levels larger than the page");
			if (!c->is_optional && h.v2.num_nulls > 0)
				return pq_col_corrupt(f, c, err, "nulls in a REQUIRED column");
			/* the levels must outlive f->raw's next page */
			strata_buf_reset(&c->levels);
			strata_buf_append(&c->levels, body, (size_t)h.v2.def_len);
			lv_len = (size_t)h.v2.def_len;
			lv = lv_len ? c->levels.data : body;
			rc = page_inflate(f, c, body + lv_len, blen - lv_len,
					  (size_t)h.uncompressed_size - lv_len, h.v2.is_compressed,
					  c->page, err);
			if (rc)
				return rc;
			c->vp = c->page->data;
			c->vend = c->page->data + c->page->len;
		}
		/* invariant 2 */
		if ((int64_t)nvals > c->chunk_rows - c->rows_seen)
			return pq_col_corrupt(f, c, err,
					      "page holds more values than its row group has rows");
		c->rows_seen += nvals;
		c->seen_data_page = true;
		c->has_defs = c->is_optional;
		if (c->has_defs && pq_rle_init(&c->defs, lv, lv_len, 1) != 0)
			return pq_col_corrupt(f, c, err, "bad definition levels");
		bool ok;
		switch (enc) {
		case PQ_PLAIN:
			ok = true;
			break;
		case PQ_PLAIN_DICTIONARY:
		case PQ_RLE_DICTIONARY:
			if (!c->has_dict)
				return pq_col_corrupt(f, c, err,
						      "dictionary-encoded page without a dictionary");
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
					      f->path, pq_encoding_name(enc), c->name,
					      pq_type_name(c->ptype));
		c->enc = enc;
		c->page_values = nvals;
		c->page_left = nvals;
		c->is_values_ready = false;
		c->bool_bit = 0;
		c->pos = next_pos;
		if (nvals > 0)
			return 0;
	}
}

/* ---- values ------------------------------------------------------------------------ */

/* Set up the current page's value decoder (lazily, on the first non-null
 * value: an all-null page may omit its values section). */
static int values_ready(pq_file *f, pq_col *c, strata_err *err)
{
	if (c->is_values_ready)
		return 0;
	const uint8_t *p = c->vp, *end = c->vend;
	switch (c->enc) {
	case PQ_PLAIN_DICTIONARY:
	case PQ_RLE_DICTIONARY: {
		if (p >= end)
			return pq_col_corrupt(f, c, err, "dictionary indexes missing");
		int bw = *p++;
		if (bw > 32 || pq_rle_init(&c->idx, p, (size_t)(end - p), bw) != 0)
			return pq_col_corrupt(f, c, err, "dictionary index bit width out of range");
		break;
	}
	case PQ_RLE: {
		uint32_t n;
		if (end - p < 4)
			return pq_col_corrupt(f, c, err, "boolean run data truncated");
		memcpy(&n, p, 4);
		if ((uint64_t)n > (uint64_t)(end - p - 4))
			return pq_col_corrupt(f, c, err, "boolean run data runs past the page");
		pq_rle_init(&c->idx, p + 4, n, 1);
		break;
	}
	case PQ_DELTA_BINARY_PACKED:
		if (pq_delta_init(&c->delta, p, (size_t)(end - p)) != 0)
			return pq_col_corrupt(f, c, err, "bad DELTA_BINARY_PACKED header");
		break;
	case PQ_DELTA_LENGTH_BYTE_ARRAY: {
		/* find where the lengths end: skip them all on a copy */
		if (pq_delta_init(&c->delta, p, (size_t)(end - p)) != 0)
			return pq_col_corrupt(f, c, err, "bad DELTA_LENGTH_BYTE_ARRAY lengths");
		pq_delta_dec probe = c->delta;
		if (pq_delta_skip(&probe, probe.total) != 0)
			return pq_col_corrupt(f, c, err, "bad DELTA_LENGTH_BYTE_ARRAY lengths");
		c->dl_data = pq_delta_end(&probe);
		c->dl_end = end;
		break;
	}
	case PQ_BYTE_STREAM_SPLIT: {
		size_t w = file_width(c);
		if ((size_t)(end - p) % w != 0)
			return pq_col_corrupt(f, c, err, "BYTE_STREAM_SPLIT data is not whole values");
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

static int values_get_file(pq_file *f, pq_col *c, void *dst, uint32_t n, strata_err *err);

/* Decode n (<= PQ_ROWS_MAX) non-null values into dst (pq_col_width each).
 * A DECIMAL is decoded in its stored width to the front of dst, then
 * widened in place to strata_i128 from the last value down (value i moves
 * from i * w to i * 16 >= i * w: nothing unread is overwritten). */
static int values_get(pq_file *f, pq_col *c, void *dst, uint32_t n, strata_err *err)
{
	int rc = values_get_file(f, c, dst, n, err);
	if (rc || !c->is_decimal)
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

/* The same in the stored width (file_width; pq_value_width for the rest). */
static int values_get_file(pq_file *f, pq_col *c, void *dst, uint32_t n, strata_err *err)
{
	if (n == 0)
		return 0;
	int rc = values_ready(f, c, err);
	if (rc)
		return rc;
	size_t w = file_width(c);
	switch (c->enc) {
	case PQ_PLAIN:
		if (c->ptype == PQ_BYTE_ARRAY) {
			strata_strref *out = dst;
			const uint8_t *p = c->vp, *end = c->vend;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t len;
				if (plain_len_next(&p, end, &len) != 0)
					return pq_col_corrupt(f, c, err, "value runs past the page");
				out[i].ptr = p;
				out[i].len = len;
				p += len;
			}
			c->vp = p;
		} else if (c->ptype == PQ_BOOLEAN) {
			uint8_t *out = dst;
			if (c->bool_bit + n > (uint64_t)(c->vend - c->vp) * 8)
				return pq_col_corrupt(f, c, err, "booleans run past the page");
			for (uint32_t i = 0; i < n; i++) {
				uint64_t bit = c->bool_bit + i;
				out[i] = (c->vp[bit >> 3] >> (bit & 7)) & 1;
			}
			c->bool_bit += n;
		} else {
			if ((uint64_t)(c->vend - c->vp) < (uint64_t)n * w)
				return pq_col_corrupt(f, c, err, "values run past the page");
			memcpy(dst, c->vp, (size_t)n * w);
			c->vp += (size_t)n * w;
		}
		return 0;
	case PQ_PLAIN_DICTIONARY:
	case PQ_RLE_DICTIONARY: {
		if (pq_rle_get(&c->idx, f->u32, n) != 0)
			return pq_col_corrupt(f, c, err, "dictionary indexes truncated or malformed");
		uint32_t bad = 0;
		for (uint32_t i = 0; i < n; i++)
			bad |= f->u32[i] >= c->dict_n;
		if (bad)
			return pq_col_corrupt(f, c, err, "dictionary index out of range");
		const uint8_t *d = c->dict->data;
		switch (c->ptype) {
		case PQ_BYTE_ARRAY: {
			strata_strref *out = dst;
			for (uint32_t i = 0; i < n; i++)
				out[i] = c->dict_refs[f->u32[i]];
			break;
		}
		case PQ_BOOLEAN: {
			uint8_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				out[i] = (d[f->u32[i] >> 3] >> (f->u32[i] & 7)) & 1;
			break;
		}
		case PQ_INT64:
		case PQ_DOUBLE: {
			uint64_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(&out[i], d + (size_t)f->u32[i] * 8, 8);
			break;
		}
		case PQ_FIXED_LEN_BYTE_ARRAY: {
			uint8_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(out + (size_t)i * w, d + (size_t)f->u32[i] * w, w);
			break;
		}
		default: {
			uint32_t *out = dst;
			for (uint32_t i = 0; i < n; i++)
				memcpy(&out[i], d + (size_t)f->u32[i] * 4, 4);
			break;
		}
		}
		return 0;
	}
	case PQ_RLE: {
		uint8_t *out = dst;
		if (pq_rle_get(&c->idx, f->u32, n) != 0)
			return pq_col_corrupt(f, c, err, "boolean runs truncated or malformed");
		for (uint32_t i = 0; i < n; i++)
			out[i] = f->u32[i] != 0;
		return 0;
	}
	case PQ_DELTA_BINARY_PACKED:
		if (c->ptype == PQ_INT64) {
			if (pq_delta_get(&c->delta, dst, n) != 0)
				return pq_col_corrupt(f, c, err,
						      "DELTA_BINARY_PACKED data truncated or malformed");
		} else {
			int32_t *out = dst;
			if (pq_delta_get(&c->delta, f->u64, n) != 0)
				return pq_col_corrupt(f, c, err,
						      "DELTA_BINARY_PACKED data truncated or malformed");
			for (uint32_t i = 0; i < n; i++)
				out[i] = (int32_t)(uint32_t)f->u64[i];
		}
		return 0;
	case PQ_DELTA_LENGTH_BYTE_ARRAY: {
		strata_strref *out = dst;
		if (pq_delta_get(&c->delta, f->u64, n) != 0)
			return pq_col_corrupt(f, c, err, "DELTA_LENGTH_BYTE_ARRAY lengths malformed");
		for (uint32_t i = 0; i < n; i++) {
			uint64_t len = f->u64[i];
			if (len > (uint64_t)(c->dl_end - c->dl_data))
				return pq_col_corrupt(f, c, err,
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
			return pq_col_corrupt(f, c, err, "BYTE_STREAM_SPLIT values run past the page");
		for (uint32_t i = 0; i < n; i++)
			for (size_t k = 0; k < w; k++)
				out[i * w + k] = c->vp[k * c->bss_n + c->bss_i + i];
		c->bss_i += n;
		return 0;
	}
	}
	return pq_col_corrupt(f, c, err, "unknown encoding");
}

/* Values first, packed, then spread over the rows from the end (value j
 * only ever moves to a row i >= j). */
int pq_page_rows(pq_file *f, pq_col *c, uint8_t *dst, uint8_t *nulls, uint32_t k,
		 strata_err *err)
{
	size_t ow = pq_col_width(c);
	int rc;
	if (!c->has_defs) {
		memset(nulls, 0, k);
		rc = values_get(f, c, dst, k, err);
		goto out;
	}
	uint32_t have = 0; /* levels already in f->lv */
	if (c->defs.rle_left == 0 && c->defs.bp_left == 0) {
		/* start the next run by reading its first level */
		if (pq_rle_get(&c->defs, f->lv, 1) != 0)
			return pq_col_corrupt(f, c, err, "definition levels truncated or malformed");
		have = 1;
	}
	if (c->defs.rle_left >= k - have && c->defs.rle_value <= 1 &&
	    (!have || f->lv[0] == c->defs.rle_value)) {
		/* one run of levels covers the rows: all present, or all null */
		c->defs.rle_left -= k - have;
		if (c->defs.rle_value) {
			memset(nulls, 0, k);
			rc = values_get(f, c, dst, k, err);
			goto out;
		}
		memset(nulls, 1, k);
		memset(dst, 0, (size_t)k * ow);
		rc = 0;
		goto out;
	}
	if (pq_rle_get(&c->defs, f->lv + have, k - have) != 0)
		return pq_col_corrupt(f, c, err, "definition levels truncated or malformed");
	uint32_t nn = 0, bad = 0;
	for (uint32_t i = 0; i < k; i++) {
		bad |= f->lv[i];
		nn += f->lv[i] & 1;
		nulls[i] = !f->lv[i];
	}
	if (bad > 1)
		return pq_col_corrupt(f, c, err, "definition level out of range");
	rc = values_get(f, c, dst, nn, err);
	if (rc == 0 && nn < k) {
		int64_t j = (int64_t)nn - 1;
		for (int64_t i = (int64_t)k - 1; i >= 0; i--) {
			if (f->lv[i])
				memmove(dst + (size_t)i * ow, dst + (size_t)j-- * ow, ow);
			else
				memset(dst + (size_t)i * ow, 0, ow);
		}
	}
out:
	if (rc == 0)
		c->page_left -= (int32_t)k;
	return rc;
}

/* Skip n non-null values. */
static int values_skip(pq_file *f, pq_col *c, uint64_t n, strata_err *err)
{
	if (n == 0)
		return 0;
	int rc = values_ready(f, c, err);
	if (rc)
		return rc;
	size_t w = file_width(c);
	switch (c->enc) {
	case PQ_PLAIN:
		if (c->ptype == PQ_BYTE_ARRAY) {
			for (uint64_t i = 0; i < n; i++) {
				const uint8_t *p = c->vp;
				uint32_t len;
				if (plain_len_next(&p, c->vend, &len) != 0)
					return pq_col_corrupt(f, c, err, "value runs past the page");
				c->vp = p + len;
			}
		} else if (c->ptype == PQ_BOOLEAN) {
			if (c->bool_bit + n > (uint64_t)(c->vend - c->vp) * 8)
				return pq_col_corrupt(f, c, err, "booleans run past the page");
			c->bool_bit += n;
		} else {
			if ((uint64_t)(c->vend - c->vp) < n * w)
				return pq_col_corrupt(f, c, err, "values run past the page");
			c->vp += n * w;
		}
		return 0;
	case PQ_PLAIN_DICTIONARY:
	case PQ_RLE_DICTIONARY:
	case PQ_RLE:
		if (pq_rle_skip(&c->idx, n, 0, NULL) != 0)
			return pq_col_corrupt(f, c, err, "runs truncated or malformed");
		return 0;
	case PQ_DELTA_BINARY_PACKED:
		if (pq_delta_skip(&c->delta, n) != 0)
			return pq_col_corrupt(f, c, err,
					      "DELTA_BINARY_PACKED data truncated or malformed");
		return 0;
	case PQ_DELTA_LENGTH_BYTE_ARRAY:
		while (n > 0) {
			uint32_t k = n < PQ_ROWS_MAX ? (uint32_t)n : PQ_ROWS_MAX;
			if (pq_delta_get(&c->delta, f->u64, k) != 0)
				return pq_col_corrupt(f, c, err,
						      "DELTA_LENGTH_BYTE_ARRAY lengths malformed");
			for (uint32_t i = 0; i < k; i++) {
				if (f->u64[i] > (uint64_t)(c->dl_end - c->dl_data))
					return pq_col_corrupt(
						f, c, err,
						"DELTA_LENGTH_BYTE_ARRAY value runs past the page");
				c->dl_data += f->u64[i];
			}
			n -= k;
		}
		return 0;
	case PQ_BYTE_STREAM_SPLIT:
		if (c->bss_i + n > c->bss_n)
			return pq_col_corrupt(f, c, err, "BYTE_STREAM_SPLIT values run past the page");
		c->bss_i += n;
		return 0;
	}
	return pq_col_corrupt(f, c, err, "unknown encoding");
}

int pq_page_skip(pq_file *f, pq_col *c, uint64_t n, strata_err *err)
{
	uint64_t nn = n;
	if (c->has_defs) {
		nn = 0;
		if (pq_rle_skip(&c->defs, n, 1, &nn) != 0)
			return pq_col_corrupt(f, c, err, "definition levels truncated or malformed");
	}
	int rc = values_skip(f, c, nn, err);
	if (rc)
		return rc;
	c->page_left -= (int32_t)n;
	return 0;
}

/* ---- the content hash (invariant 4) ------------------------------------------------ */

void pq_file_want_hash(pq_file *f, const pq_file_meta *fm, uint32_t nleaves)
{
	if (f->chunk_hash)
		return;
	size_t n = (size_t)fm->nrow_groups * nleaves;
	f->nleaves = nleaves;
	f->chunk_hash = strata_calloc(n + 1, sizeof(uint64_t));
	f->is_chunk_hashed = strata_calloc(n + 1, sizeof(bool));
}

/* Read [off, off + n) of the file through h in pieces. */
static int hash_range(pq_file *f, XXH3_state_t *h, uint64_t off, uint64_t n, strata_err *err)
{
	if (n == 0)
		return 0;
	size_t cap = (size_t)STRATA_MIN(n, (uint64_t)(1u << 20));
	uint8_t *buf = strata_malloc(cap);
	int rc = 0;
	while (n > 0 && rc == 0) {
		size_t k = (size_t)STRATA_MIN(n, (uint64_t)cap);
		rc = strata_rfile_read(f->rf, buf, k, off, err);
		if (rc == 0) {
			XXH3_64bits_update(h, buf, k);
			off += k;
			n -= k;
		}
	}
	free(buf);
	return rc;
}

int pq_chunk_hash_finish(pq_file *f, pq_col *c, strata_err *err)
{
	if (!c->is_hashing)
		return 0;
	c->is_hashing = false;
	if (c->hash_pos > c->chunk_end)
		return 0;
	int rc = hash_range(f, c->xs, c->hash_pos, c->chunk_end - c->hash_pos, err);
	if (rc)
		return rc;
	size_t k = (size_t)c->rg * f->nleaves + (size_t)c->leaf;
	f->chunk_hash[k] = XXH3_64bits_digest(c->xs);
	f->is_chunk_hashed[k] = true;
	return 0;
}

typedef struct pq_seg {
	uint64_t start, end;
	size_t k; /* row group * leaves + leaf */
} pq_seg;

static int seg_cmp(const void *a, const void *b)
{
	const pq_seg *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Fold one segment's hash into the content hash's input. */
static void seg_put(XXH3_state_t *all, uint64_t h)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(h >> (8 * i));
	XXH3_64bits_update(all, le, 8);
}

/* Hash [start, end) as one segment (empty: none). */
static int seg_raw(pq_file *f, XXH3_state_t *all, XXH3_state_t *one, uint64_t start,
		   uint64_t end, strata_err *err)
{
	if (end <= start)
		return 0;
	XXH3_64bits_reset(one);
	int rc = hash_range(f, one, start, end - start, err);
	if (rc == 0)
		seg_put(all, XXH3_64bits_digest(one));
	return rc;
}

/* Segments cut at every chunk's start and end; a chunk streamed whole is
 * taken from f->chunk_hash, the rest is read here. */
int pq_file_content_hash(pq_file *f, const pq_file_meta *fm, uint32_t nleaves, uint64_t *out,
			 strata_err *err)
{
	size_t n = (size_t)fm->nrow_groups * nleaves;
	pq_seg *segs = strata_calloc(n + 1, sizeof(pq_seg));
	XXH3_state_t *all = strata_xxh3_new(), *one = strata_xxh3_new();
	bool has_streamed = f->chunk_hash && f->nleaves == nleaves;
	int rc = 0;
	for (uint32_t g = 0; g < fm->nrow_groups; g++)
		for (uint32_t l = 0; l < nleaves; l++) {
			pq_seg *sg = &segs[(size_t)g * nleaves + l];
			const char *name = l + 1 < fm->nschema ? fm->schema[l + 1].name : "?";
			rc = pq_chunk_range(f, fm, g, (int)l, name, &sg->start, &sg->end, err);
			if (rc)
				goto out;
			sg->k = (size_t)g * nleaves + l;
		}
	qsort(segs, n, sizeof(pq_seg), seg_cmp);
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		pq_seg *sg = &segs[i];
		if (sg->start < pos) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "\"%s\": column chunks overlap at offset %llu", f->path,
					    (unsigned long long)sg->start);
			goto out;
		}
		rc = seg_raw(f, all, one, pos, sg->start, err);
		if (rc)
			goto out;
		if (sg->end > sg->start) {
			if (has_streamed && f->is_chunk_hashed[sg->k])
				seg_put(all, f->chunk_hash[sg->k]);
			else if ((rc = seg_raw(f, all, one, sg->start, sg->end, err)) != 0)
				goto out;
		}
		pos = sg->end;
	}
	rc = seg_raw(f, all, one, pos, f->size, err);
	if (rc == 0)
		*out = XXH3_64bits_digest(all);
out:
	XXH3_freeState(all);
	XXH3_freeState(one);
	free(segs);
	return rc;
}
