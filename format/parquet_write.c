/*
 * format/parquet_write.c — the columnar-file writer: standard Parquet with
 * ZSTD pages, statistics and a page index, written by strata's jobs.
 *
 * File layout (docs/FORMAT.md, "Columnar files (Parquet)", has the full description):
 *
 *   "PAR1"
 *   row group 0: column chunk 0 .. n+1      (chunk: [dictionary page] data pages)
 *   row group 1: ...
 *   column indexes  (every row group, every column; none for a float chunk
 *                    holding an all-NaN page)
 *   offset indexes  (every row group, every column)
 *   FileMetaData (Thrift compact), its length (4 bytes LE), "PAR1"
 *
 * Columns are the table's user columns in schema order (field_id = strata
 * column id; key columns REQUIRED, the rest OPTIONAL because a delete
 * carries only its key), then _seq INT64 and _op INT32, both REQUIRED.
 * Data pages are V1 (DuckDB 1.x, Arrow, parquet-mr and Spark all read them;
 * flat columns make num_values the row count).
 *
 * Encoding choice per column chunk:
 *   - _seq and integer key columns: DELTA_BINARY_PACKED, or PLAIN for a page
 *     where delta would be larger (an unsorted second key column);
 *   - BOOLEAN: PLAIN (bit-packed);
 *   - DECIMAL beyond 18 digits (FIXED_LEN_BYTE_ARRAY, pq_ptype_of): PLAIN,
 *     big-endian two's complement; DATE and narrower DECIMALs are INT32 /
 *     INT64 like any integer;
 *   - everything else starts with RLE_DICTIONARY.  A column whose first
 *     PW_DICT_EARLY values are (nearly) all distinct gives it up at once;
 *     otherwise, once PW_DICT_PROBE values are in, it must pay for itself (dictionary + indexes <
 *     plain bytes), else the open page is re-encoded without it and the
 *     chunk falls back; later, when the dictionary would pass
 *     dict_max_bytes, the open page is closed and the rest of the chunk
 *     falls back (parquet-mr's behaviour).  The fallback is
 *     DELTA_BINARY_PACKED (or PLAIN where smaller, per page) for integers,
 *     DELTA_LENGTH_BYTE_ARRAY for BYTE_ARRAY, PLAIN for the rest.
 *
 * Memory: the compressed pages of the open row group (column chunks must
 * be contiguous, so a row group's pages wait until it ends) up to
 * buffer_bytes (default PW_BUFFER_BYTES) in memory, the rest in a spill
 * file (below); one open page of typed values per column, the dictionaries
 * (<= dict_max_bytes each), and the page index of the whole file (a few
 * dozen bytes per page).  So the writer's memory does not grow with
 * row_group_bytes: a 64 MiB row group of a 10-column table holds ~22 MiB of
 * compressed pages, which alone was a third of an 8-way merge job's RSS.
 *
 * Spill: the compressed pages of every column go into one page buffer, each
 * column keeping the list of its segments.  When a page would take the
 * buffer past buffer_bytes, the whole buffer is appended to an unlinked
 * temporary file in the output's directory (O_TMPFILE, else a named file
 * unlinked at once, whose name starts with the output's, so a job's intent
 * covers it even then) and starts again empty; at the end of the row group
 * each column's segments are copied, in order, from memory or from that
 * file into the output.  The buffer is allocated once (it never churns the
 * allocator); the spill file is reused from offset 0 by every row group,
 * never fsynced, and vanishes with the writer: its bytes live in the page
 * cache (reclaimable by writeback), not in the process.  A file whose row
 * groups fit in buffer_bytes never creates it.
 * A row group closes when its uncompressed estimate reaches
 * row_group_bytes; a page when its plain-encoded size reaches page_bytes or
 * it holds PW_PAGE_MAX_ROWS rows (small pages keep point lookups cheap: a
 * lookup decodes at most one page per column).
 *
 * Invariants:
 *   1. statistics (chunk, page header, column index) are computed over the
 *      values actually written, each value counted in the page that holds
 *      it, by the statistics unit (format/parquet_stats.c, invariants 1-2:
 *      Parquet's sort order per physical type, NaN never a bound, long
 *      BYTE_ARRAY bounds truncated and flagged inexact); the column
 *      index's boundary order uses its one typed comparison;
 *   2. a page holds values of one encoding only: every switch (dictionary
 *      fallback) closes the open page first;
 *   3. all output goes through one strata_wfile; the first failed write
 *      poisons the writer (every later call fails with STRATA_EPOISONED),
 *      and abort/finish failure removes the temp file;
 *   4. a row is either added to every column or to none: value sizes are
 *      checked before anything is appended;
 *   5. the content hash (format.h) is computed from the bytes as they pass
 *      to the wfile, a segment ending at each column chunk's first byte and
 *      past the last chunk — no read-back;
 *   6. every page header (data and dictionary) carries the standard crc
 *      field: CRC-32 (zlib's) of the page's bytes as stored after the header;
 *   7. the footer's XXH3-64 goes to the manifest entry (format.h), and the
 *      footer holds the XXH3-64 of every page index blob, so a point lookup
 *      can trust the statistics and offsets it prunes and jumps with.
 *
 * One thread per writer.
 */
#include "format/parquet_int.h"
#include "format/parquet_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define PW_PAGE_MAX_ROWS 20000
#define PW_DICT_PROBE 4096 /* values seen before judging a dictionary */
#define PW_DICT_EARLY 1024 /* ... unless nearly all of these were distinct */
#define PW_PREFETCH_SLOTS 16384 /* dictionaries this large get prefetched */
#define PW_PAGE_BYTES_MIN 64
#define PW_PAGE_BYTES_MAX (128ull << 20)
#define PW_DICT_BYTES_MAX (64ull << 20)
#define PW_CREATED_BY "strata version 0.1.0"
#define PW_ZSTD_BLOCK (128 << 10) /* zstd's largest block */
#define PW_RAW_MAX (8u << 20)     /* raw frames only for pages up to this */
#define PW_RAW_PROBE 16           /* compress every n-th page anyway */
#define PW_RAW_SAVING 8           /* percent a page must shrink by */
#define PW_BUFFER_BYTES (8ull << 20) /* compressed pages held in memory */
#define PW_COPY_BYTES (1u << 20)  /* spill -> output copies, at a time */

typedef enum { PW_DICT, PW_PLAIN, PW_DELTA } pw_mode;

/* A dictionary hash slot: one cache line holds four, and a lookup touches
 * one slot (fixed-width values: the value itself is the key; BYTE_ARRAY
 * values of at most PW_INLINE_BYTES: their bytes are in the slot) or one
 * slot and the entry's bytes (longer BYTE_ARRAY values).  Keeping short
 * strings in the slot spares a second, dependent cache miss per value: with
 * 50,000 distinct 9-byte strings it was a third of the writer's time in
 * pw_add (the slots are prefetched; the entries could not be). */
typedef struct pw_slot {
	uint64_t key;  /* fixed: the value's bits; BYTE_ARRAY: inline bytes
			  (pw_bkey.k8) or the XXH3 hash */
	uint32_t idx1; /* entry + 1 (low PW_IDX_BITS); 0: empty.  BYTE_ARRAY:
			  the top bits hold the inline tag (length + 1, 0 for a
			  hashed value) */
	uint32_t off;  /* BYTE_ARRAY: inline bytes (pw_bkey.k4), or the offset
			  of a hashed value's entry in dict_data */
} pw_slot;

#define PW_INLINE_BYTES 12
#define PW_IDX_BITS 24 /* entries: dict_max_bytes <= 64 MiB of >= 5 bytes */
#define PW_IDX_MASK ((1u << PW_IDX_BITS) - 1)

/* A BYTE_ARRAY value as a dictionary key: up to PW_INLINE_BYTES bytes as
 * (k8, k4) — overlapping windows that together cover every byte, so for a
 * given length they are equal exactly when the values are — and tag =
 * length + 1; longer values as their XXH3 hash, tag 0.  h places the slot. */
typedef struct pw_bkey {
	uint64_t k8, h;
	uint32_t k4, tag;
} pw_bkey;

/* A run of a column chunk's bytes, in the page buffer or the spill file. */
typedef struct pw_seg {
	uint64_t off, len;
	bool is_spilled;
} pw_seg;

typedef struct pw_page_rec {
	uint64_t offset; /* from the start of the chunk's data pages */
	uint32_t size;   /* header + body */
	uint64_t first_row;
	bool is_null_page;
	int64_t null_count, nan_count;
	pq_bytes min, max; /* encoded, in the writer's arena */
} pw_page_rec;

typedef struct pw_col {
	const char *name;
	int ptype;
	strata_type stype;
	int flba_len; /* FIXED_LEN_BYTE_ARRAY (wide DECIMAL): bytes per value */
	bool is_optional;
	bool is_delta_key; /* integer key column or _seq: delta per page */
	bool is_seq;
	pw_mode mode0; /* mode at the start of a chunk */
	pw_mode mode;
	bool is_dict_checked;
	uint64_t dict_vals;        /* values dictionary-encoded in this chunk */
	uint64_t dict_plain_bytes; /* their PLAIN size */
	/* dictionary */
	uint32_t dict_n;
	uint32_t dict_cap;
	uint64_t *dvals; /* fixed-width values (bits) */
	uint32_t *doff;  /* BYTE_ARRAY: offset of the length prefix in dict_data */
	strata_buf dict_data; /* PLAIN encoding of the entries = the dictionary page */
	pw_slot *slots;  /* open addressing, linear probing */
	bool has_hash;   /* key of the value being added, computed early */
	pw_bkey bkey;
	uint32_t nslots; /* power of two, at least twice dict_n */
	/* open page */
	uint32_t page_rows, page_vals;
	uint64_t page_first_row;
	uint64_t page_raw_bytes;
	uint8_t *defs;
	uint32_t *idx;
	int64_t *ivals;
	strata_buf plain;
	pq_acc ps; /* page */
	pq_acc cs; /* chunk */
	/* chunk: its data pages, as segments of the page buffer or the spill */
	uint64_t chunk_bytes; /* data-page bytes of the chunk so far */
	pw_seg *segs;
	uint32_t nsegs, segs_cap;
	pw_page_rec *pages;
	uint32_t npages, pages_cap;
	uint64_t chunk_rows;
	uint64_t chunk_uncompressed; /* headers + uncompressed bodies */
	bool has_dict_pages;
	uint32_t enc_pages[PQ_BYTE_STREAM_SPLIT + 1];
	bool is_ci_ok;
	/* compression */
	uint32_t incompressible; /* pages in a row that did not compress */
	uint32_t raw_pages;
} pw_col;

typedef struct pw_chunk_index {
	bool has_ci;
	pq_column_index ci;
	pq_offset_index oi;
} pw_chunk_index;

typedef struct pw {
	strata_wfile *wf;
	char *path;
	const strata_schema *schema;
	uint32_t nuser;
	uint32_t nleaf;
	pw_col *cols;
	uint64_t page_bytes, row_group_bytes, dict_max_bytes;
	int codec;
	int zstd_level;
	ZSTD_CCtx *zc;
	uint64_t rg_rows;
	uint64_t rg_raw_bytes;
	uint64_t total_rows;
	uint64_t raw_done, comp_done; /* for the size estimate */
	uint64_t buffer_bytes;        /* memory budget of the chunks */
	strata_buf pages;             /* the row group's pages not yet spilled */
	int spill_fd;                 /* -1 until the first spill */
	uint64_t spill_len;           /* bytes of this row group in the spill */
	strata_buf body, comp, hdr, tmp, smin, smax;
	strata_arena *arena;
	pq_row_group *rgs;
	pw_chunk_index **idx; /* per row group, nleaf entries */
	uint32_t nrgs, rgs_cap;
	bool is_poisoned;
	int poison_code;
	/* content hash (format.h): the segment being written, and the XXH3-64
	 * of each finished one, little-endian, in file order */
	XXH3_state_t *seg;
	uint64_t seg_bytes;
	strata_buf seg_hashes;
} pw;

/* Append to a buffer: the common case (room left) without a call. */
static inline void buf_put(strata_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n)
		strata_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* ---- dictionary ------------------------------------------------------------ */

/* Equality of two n-byte strings without a libc call for short ones: two
 * overlapping loads cover 4..16 bytes, reading only inside [p, p + n). */
static inline bool bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t x0, y0, x1, y1;
		memcpy(&x0, a, 8);
		memcpy(&y0, b, 8);
		memcpy(&x1, a + n - 8, 8);
		memcpy(&y1, b + n - 8, 8);
		return x0 == y0 && x1 == y1;
	}
	if (n >= 4 && n < 8) {
		uint32_t x0, y0, x1, y1;
		memcpy(&x0, a, 4);
		memcpy(&y0, b, 4);
		memcpy(&x1, a + n - 4, 4);
		memcpy(&y1, b + n - 4, 4);
		return x0 == y0 && x1 == y1;
	}
	return n == 0 || memcmp(a, b, n) == 0;
}

static inline uint64_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return v * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t inline_hash(uint64_t k8, uint32_t k4, uint32_t tag)
{
	return hash_u64(k8 ^ hash_u64((uint64_t)k4 << 8 | tag));
}

static inline void bkey_of(const uint8_t *p, uint32_t n, pw_bkey *k)
{
	if (n > PW_INLINE_BYTES) {
		k->h = k->k8 = XXH3_64bits(p, n);
		k->k4 = k->tag = 0;
		return;
	}
	uint64_t a = 0;
	uint32_t b = 0;
	if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + n - 4, 4);
	} else if (n >= 4) {
		uint32_t x, y;
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		a = x | (uint64_t)y << 32;
	} else if (n > 0) {
		a = p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
	}
	k->k8 = a;
	k->k4 = b;
	k->tag = n + 1;
	k->h = inline_hash(a, b, k->tag);
}

static void dict_reset(pw_col *c)
{
	c->dict_n = 0;
	strata_buf_reset(&c->dict_data);
	if (c->slots)
		memset(c->slots, 0, sizeof(pw_slot) * c->nslots);
}

static void dict_grow_entries(pw_col *c)
{
	if (c->dict_n < c->dict_cap)
		return;
	c->dict_cap = c->dict_cap ? c->dict_cap * 2 : 1024;
	if (c->ptype == PQ_BYTE_ARRAY)
		c->doff = strata_realloc(c->doff, sizeof(uint32_t) * c->dict_cap);
	else
		c->dvals = strata_realloc(c->dvals, sizeof(uint64_t) * c->dict_cap);
}

static inline uint32_t slot_of(const pw_col *c, const pw_slot *sl)
{
	if (c->ptype != PQ_BYTE_ARRAY)
		return (uint32_t)hash_u64(sl->key);
	uint32_t tag = sl->idx1 >> PW_IDX_BITS;
	return (uint32_t)(tag ? inline_hash(sl->key, sl->off, tag) : sl->key);
}

static void dict_rehash(pw_col *c)
{
	uint32_t n = c->nslots ? c->nslots * 2 : 2048;
	pw_slot *old = c->slots;
	uint32_t nold = c->nslots;
	c->slots = strata_calloc(n, sizeof(pw_slot));
	c->nslots = n;
	for (uint32_t i = 0; i < nold; i++) {
		if (!old[i].idx1)
			continue;
		uint32_t s = slot_of(c, &old[i]) & (n - 1);
		while (c->slots[s].idx1)
			s = (s + 1) & (n - 1);
		c->slots[s] = old[i];
	}
	free(old);
}

/* Look a fixed-width value up (bits), inserting it if new.  Returns false,
 * without inserting, if the dictionary would pass its byte budget. */
static inline bool dict_fixed(pw *w, pw_col *c, uint64_t bits, int width, uint32_t *out)
{
	if (c->dict_n * 2 >= c->nslots)
		dict_rehash(c);
	uint32_t mask = c->nslots - 1;
	uint32_t s = (uint32_t)hash_u64(bits) & mask;
	for (;;) {
		const pw_slot *sl = &c->slots[s];
		if (!sl->idx1)
			break;
		if (sl->key == bits) {
			*out = sl->idx1 - 1;
			return true;
		}
		s = (s + 1) & mask;
	}
	if (c->dict_data.len + (uint64_t)width > w->dict_max_bytes)
		return false;
	dict_grow_entries(c);
	c->dvals[c->dict_n] = bits;
	strata_buf_append(&c->dict_data, &bits, (size_t)width);
	c->slots[s].key = bits;
	c->slots[s].idx1 = ++c->dict_n;
	*out = c->dict_n - 1;
	return true;
}

static inline bool dict_bytes(pw *w, pw_col *c, const uint8_t *p, uint32_t n, uint32_t *out)
{
	if (c->dict_n * 2 >= c->nslots)
		dict_rehash(c);
	pw_bkey k;
	if (c->has_hash)
		k = c->bkey;
	else
		bkey_of(p, n, &k);
	c->has_hash = false;
	uint32_t mask = c->nslots - 1;
	uint32_t s = (uint32_t)k.h & mask;
	for (;;) {
		const pw_slot *sl = &c->slots[s];
		if (!sl->idx1)
			break;
		if (sl->key == k.k8 && sl->idx1 >> PW_IDX_BITS == k.tag) {
			bool is_eq;
			if (k.tag) {
				is_eq = sl->off == k.k4;
			} else {
				const uint8_t *d = c->dict_data.data + sl->off;
				uint32_t dl;
				memcpy(&dl, d, 4);
				is_eq = dl == n && bytes_eq(d + 4, p, n);
			}
			if (is_eq) {
				*out = (sl->idx1 & PW_IDX_MASK) - 1;
				return true;
			}
		}
		s = (s + 1) & mask;
	}
	if (c->dict_data.len + 4 + (uint64_t)n > w->dict_max_bytes ||
	    c->dict_n + 1 >= PW_IDX_MASK)
		return false;
	dict_grow_entries(c);
	uint32_t off = (uint32_t)c->dict_data.len;
	c->doff[c->dict_n] = off;
	strata_buf_append(&c->dict_data, &n, 4);
	strata_buf_append(&c->dict_data, p, n);
	c->slots[s].key = k.k8;
	c->slots[s].off = k.tag ? k.k4 : off;
	c->slots[s].idx1 = ++c->dict_n | k.tag << PW_IDX_BITS;
	*out = c->dict_n - 1;
	return true;
}

/* Append dictionary entry e to buf in PLAIN encoding. */
static void dict_entry_plain(const pw_col *c, uint32_t e, strata_buf *buf)
{
	switch (c->ptype) {
	case PQ_BYTE_ARRAY: {
		const uint8_t *d = c->dict_data.data + c->doff[e];
		uint32_t dl;
		memcpy(&dl, d, 4);
		strata_buf_append(buf, d, 4 + (size_t)dl);
		break;
	}
	case PQ_INT32:
	case PQ_FLOAT: {
		uint32_t v = (uint32_t)c->dvals[e];
		strata_buf_append(buf, &v, 4);
		break;
	}
	default:
		strata_buf_append(buf, &c->dvals[e], 8);
	}
}

/* ---- pages ------------------------------------------------------------------ */

/* Copy n bytes (possibly 0, p possibly NULL) into the arena. */
static const uint8_t *arena_copy(strata_arena *a, const uint8_t *p, size_t n)
{
	uint8_t *d = strata_arena_alloc(a, n ? n : 1);
	if (n)
		memcpy(d, p, n);
	return d;
}

static int poison(pw *w, int code)
{
	w->is_poisoned = true;
	w->poison_code = code;
	return code;
}

static void compress_into(pw *w, const strata_buf *src, strata_buf *dst)
{
	strata_buf_reset(dst);
	if (w->codec == PQ_UNCOMPRESSED) {
		strata_buf_append(dst, src->data, src->len);
		return;
	}
	size_t bound = ZSTD_compressBound(src->len);
	strata_buf_reserve(dst, bound);
	size_t n = ZSTD_compress2(w->zc, dst->data, bound, src->data, src->len);
	if (ZSTD_isError(n)) {
		/* only on misuse (allocation is checked by zstd); there is no
		 * way to store the page under this chunk's codec */
		LOG_ERROR("zstd failed on a %zu-byte page: %s", src->len, ZSTD_getErrorName(n));
		abort();
	}
	dst->len = n;
}

/* A zstd frame of raw blocks (RFC 8878, 3.1.1): what zstd itself emits for
 * data it cannot compress, written without running the compressor.  Magic,
 * a frame header with a 4-byte content size and the single-segment flag,
 * then blocks of at most 128 KiB, each with a 3-byte header (last flag,
 * type 0 = raw, size). */
static void zstd_raw_frame(const strata_buf *src, strata_buf *dst)
{
	strata_buf_reset(dst);
	uint8_t hdr[9] = {0x28, 0xb5, 0x2f, 0xfd, 0xa0};
	uint32_t fcs = (uint32_t)src->len;
	memcpy(hdr + 5, &fcs, 4);
	strata_buf_reserve(dst, src->len + 9 + 3 * (src->len / PW_ZSTD_BLOCK + 1));
	strata_buf_append(dst, hdr, 9);
	size_t off = 0;
	do {
		size_t k = STRATA_MIN(src->len - off, (size_t)PW_ZSTD_BLOCK);
		uint32_t bh = (uint32_t)k << 3 | (off + k == src->len ? 1u : 0u);
		uint8_t b3[3] = {(uint8_t)bh, (uint8_t)(bh >> 8), (uint8_t)(bh >> 16)};
		strata_buf_append(dst, b3, 3);
		if (k)
			strata_buf_append(dst, src->data + off, k);
		off += k;
	} while (off < src->len);
}

/* Compress a data page of c.  Columns whose pages keep coming out
 * incompressible (random doubles, dictionary indexes) get raw zstd frames,
 * with a real compression every PW_RAW_PROBE pages to notice a change. */
static void compress_page(pw *w, pw_col *c, const strata_buf *src, strata_buf *dst)
{
	if (w->codec == PQ_ZSTD && c->incompressible >= 2 && src->len <= PW_RAW_MAX &&
	    ++c->raw_pages % PW_RAW_PROBE != 0) {
		zstd_raw_frame(src, dst);
		return;
	}
	compress_into(w, src, dst);
	if (w->codec == PQ_ZSTD) {
		/* saved less than PW_RAW_SAVING percent: not worth the CPU */
		if (dst->len * 100 > src->len * (100 - PW_RAW_SAVING))
			c->incompressible++;
		else
			c->incompressible = 0;
	}
}

/* What a column falls back to from a dictionary: integers to
 * DELTA_BINARY_PACKED (or PLAIN where that is smaller, decided per page),
 * everything else to PLAIN. */
static pw_mode fallback_mode(pw_col *c)
{
	if (c->ptype != PQ_INT32 && c->ptype != PQ_INT64)
		return PW_PLAIN;
	if (!c->ivals)
		c->ivals = strata_malloc(sizeof(int64_t) * PW_PAGE_MAX_ROWS);
	return PW_DELTA;
}

/* Re-encode the open page's dictionary indexes in the fallback mode. */
static void page_dict_to_fallback(pw_col *c)
{
	pw_mode m = fallback_mode(c);
	strata_buf_reset(&c->plain);
	for (uint32_t i = 0; i < c->page_vals; i++) {
		if (m == PW_DELTA)
			c->ivals[i] = c->ptype == PQ_INT64 ? (int64_t)c->dvals[c->idx[i]] :
							     (int64_t)(int32_t)(uint32_t)c->dvals[c->idx[i]];
		else
			dict_entry_plain(c, c->idx[i], &c->plain);
	}
	c->mode = m;
}

/* Close the open page of c: encode, compress, append to the chunk buffer.
 * Works in memory only; cannot fail. */
/* Stop using the dictionary for the rest of the chunk: re-encode the open
 * page without it; drop it unless an earlier page needs it. */
static void dict_give_up(pw_col *c)
{
	c->is_dict_checked = true;
	page_dict_to_fallback(c);
	if (!c->has_dict_pages)
		dict_reset(c); /* no page needs it: no dictionary page */
}

/* An early look: when at most two of the first PW_DICT_EARLY values
 * repeated an earlier one, the column is (close to) unique — keys, hashes,
 * measurements — and the dictionary only costs hashing: give up at once
 * instead of at the probe.  A column with some ten thousand distinct values
 * already repeats about 50 times in 1024 and keeps its dictionary. */
static void dict_early_check(pw_col *c)
{
	if (!c->is_dict_checked && (uint64_t)c->dict_n + 2 >= c->dict_vals)
		dict_give_up(c);
}

/* The directory of path, for the spill file. */
static void dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

static int spill_open(pw *w)
{
	static unsigned counter;
	char dir[4096];
	dir_of(w->path, dir, sizeof(dir));
	if (strata_data_is_remote(w->path)) {
		/* an object's writer spills to local scratch space */
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s", tmp && *tmp ? tmp : "/tmp");
	}
	int fd = strata_io()->open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL) {
		/* no O_TMPFILE here: a named file, gone from the directory at once */
		char name[4200];
		snprintf(name, sizeof(name), "%s%s.spill.%d.%u",
			 strata_data_is_remote(w->path) ? dir : w->path,
			 strata_data_is_remote(w->path) ? "/strata" : "", (int)getpid(),
			 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
		fd = strata_io()->open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) {
			int rc = strata_io()->unlink(name);
			if (rc < 0) {
				strata_io()->close(fd);
				return poison(w, rc);
			}
		}
	}
	if (fd < 0)
		return poison(w, fd);
	w->spill_fd = fd;
	return 0;
}

/* Append n bytes at the spill file's end (invariant 3: a failure poisons
 * the writer).  Returns their offset. */
static uint64_t spill_write(pw *w, const void *p, size_t n)
{
	uint64_t off = w->spill_len;
	if (w->is_poisoned || (w->spill_fd < 0 && spill_open(w) != 0))
		return off;
	int rc = strata_io_pwrite_all(w->spill_fd, p, n, (off_t)off);
	if (rc) {
		poison(w, rc);
		return off;
	}
	w->spill_len += n;
	return off;
}

/* Move the page buffer to the spill file: every segment still in memory
 * now lies at the same place plus `base` in the file. */
static void pages_spill(pw *w)
{
	uint64_t base = spill_write(w, w->pages.data, w->pages.len);
	for (uint32_t i = 0; i < w->nleaf; i++) {
		pw_col *c = &w->cols[i];
		for (uint32_t k = 0; k < c->nsegs; k++)
			if (!c->segs[k].is_spilled) {
				c->segs[k].off += base;
				c->segs[k].is_spilled = true;
			}
	}
	w->pages.len = 0;
}

static void seg_add(pw_col *c, uint64_t off, uint64_t len, bool is_spilled)
{
	pw_seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
	if (last && last->is_spilled == is_spilled && last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (c->nsegs == c->segs_cap) {
		c->segs_cap = c->segs_cap ? c->segs_cap * 2 : 16;
		c->segs = strata_realloc(c->segs, sizeof(pw_seg) * c->segs_cap);
	}
	c->segs[c->nsegs++] = (pw_seg){off, len, is_spilled};
}

/* Append a page (header and body) to c's chunk, in the page buffer; a full
 * buffer spills first, and a page larger than the whole budget goes to the
 * spill file directly. */
static void chunk_put(pw *w, pw_col *c, const strata_buf *hdr, const strata_buf *body)
{
	uint64_t n = hdr->len + body->len;
	c->chunk_bytes += n;
	if (w->pages.len > 0 && w->pages.len + n > w->buffer_bytes)
		pages_spill(w);
	if (n > w->buffer_bytes) {
		uint64_t off = spill_write(w, hdr->data, hdr->len);
		spill_write(w, body->data, body->len);
		seg_add(c, off, n, true);
		return;
	}
	seg_add(c, w->pages.len, n, false);
	buf_put(&w->pages, hdr->data, hdr->len);
	buf_put(&w->pages, body->data, body->len);
}

static void page_flush(pw *w, pw_col *c, bool is_chunk_end)
{
	if (c->page_rows == 0)
		return;
	/* the dictionary must pay for itself, judged once PW_DICT_PROBE values
	 * are in (or at the end of a smaller chunk) */
	if (c->mode == PW_DICT && !c->is_dict_checked &&
	    (c->dict_vals >= PW_DICT_PROBE || is_chunk_end)) {
		c->is_dict_checked = true;
		int bw = pq_bit_width(c->dict_n ? c->dict_n - 1 : 0);
		uint64_t with_dict = c->dict_data.len + (c->dict_vals * (uint64_t)bw + 7) / 8;
		if (with_dict >= c->dict_plain_bytes)
			dict_give_up(c);
	}
	strata_buf *body = &w->body;
	strata_buf_reset(body);
	if (c->is_optional) {
		strata_buf_reserve(body, 4);
		body->len = 4;
		pq_rle_encode_bits(body, c->defs, c->page_rows);
		uint32_t n = (uint32_t)(body->len - 4);
		memcpy(body->data, &n, 4);
	}
	int enc = PQ_PLAIN;
	switch (c->mode) {
	case PW_DICT: {
		int bw = pq_bit_width(c->dict_n ? c->dict_n - 1 : 0);
		if (bw == 0)
			bw = 1;
		strata_buf_putc(body, (uint8_t)bw);
		pq_rle_encode(body, c->idx, c->page_vals, bw);
		enc = PQ_RLE_DICTIONARY;
		c->has_dict_pages = true;
		break;
	}
	case PW_DELTA: {
		strata_buf *t = &w->tmp;
		strata_buf_reset(t);
		size_t width = c->ptype == PQ_INT64 ? 8 : 4;
		if (c->ptype == PQ_INT64) {
			pq_delta_encode_i64(t, c->ivals, c->page_vals);
		} else {
			/* reuse the idx array as int32 scratch */
			int32_t *v32 = (int32_t *)c->idx;
			for (uint32_t i = 0; i < c->page_vals; i++)
				v32[i] = (int32_t)c->ivals[i];
			pq_delta_encode_i32(t, v32, c->page_vals);
		}
		if (c->is_seq || t->len < (size_t)c->page_vals * width) {
			strata_buf_append(body, t->data, t->len);
			enc = PQ_DELTA_BINARY_PACKED;
		} else if (c->ptype == PQ_INT64) {
			strata_buf_append(body, c->ivals, (size_t)c->page_vals * 8);
		} else {
			strata_buf_append(body, c->idx, (size_t)c->page_vals * 4);
		}
		break;
	}
	case PW_PLAIN:
		if (c->ptype == PQ_BOOLEAN) {
			size_t nbytes = (c->page_vals + 7) / 8;
			strata_buf_reserve(body, nbytes);
			uint8_t *dst = body->data + body->len;
			memset(dst, 0, nbytes);
			for (uint32_t i = 0; i < c->page_vals; i++)
				dst[i >> 3] |= (uint8_t)(c->plain.data[i] << (i & 7));
			body->len += nbytes;
		} else if (c->ptype == PQ_BYTE_ARRAY) {
			/* DELTA_LENGTH_BYTE_ARRAY: the lengths delta-packed, then the
			 * bytes back to back.  zstd runs ~30% faster on the bytes
			 * without the interleaved 4-byte lengths, and compresses
			 * them better; the spec prefers it to PLAIN */
			int32_t *lens = (int32_t *)c->idx; /* free in this mode */
			const uint8_t *p = c->plain.data;
			for (uint32_t i = 0; i < c->page_vals; i++) {
				uint32_t n;
				memcpy(&n, p, 4);
				lens[i] = (int32_t)n;
				p += 4 + (size_t)n;
			}
			pq_delta_encode_i32(body, lens, c->page_vals);
			strata_buf_reserve(body, c->plain.len);
			p = c->plain.data;
			for (uint32_t i = 0; i < c->page_vals; i++) {
				memcpy(body->data + body->len, p + 4, (size_t)lens[i]);
				body->len += (size_t)lens[i];
				p += 4 + (size_t)lens[i];
			}
			enc = PQ_DELTA_LENGTH_BYTE_ARRAY;
		} else {
			strata_buf_append(body, c->plain.data, c->plain.len);
		}
		break;
	}
	compress_page(w, c, body, &w->comp);

	pq_page_header h;
	memset(&h, 0, sizeof(h));
	h.type = PQ_DATA_PAGE;
	h.uncompressed_size = (int32_t)body->len;
	h.compressed_size = (int32_t)w->comp.len;
	h.has_data = true;
	h.data.num_values = (int32_t)c->page_rows;
	h.data.encoding = enc;
	h.data.def_encoding = PQ_RLE;
	h.data.rep_encoding = PQ_RLE;
	h.data.has_stats = true;
	h.has_crc = true; /* invariant 6 */
	h.crc = (int32_t)crc32(0, w->comp.data, (uInt)w->comp.len);
	c->ps.nulls = c->page_rows - c->page_vals;
	c->ps.nonnull = c->page_vals;
	pq_acc_put(&h.data.stats, c->ptype, c->stype, &c->ps, &w->smin, &w->smax);
	strata_buf_reset(&w->hdr);
	pq_page_header_write(&w->hdr, &h);

	/* page index entry */
	if (c->npages == c->pages_cap) {
		c->pages_cap = c->pages_cap ? c->pages_cap * 2 : 16;
		c->pages = strata_realloc(c->pages, sizeof(pw_page_rec) * c->pages_cap);
	}
	pw_page_rec *pr = &c->pages[c->npages++];
	memset(pr, 0, sizeof(*pr));
	pr->offset = c->chunk_bytes;
	pr->size = (uint32_t)(w->hdr.len + w->comp.len);
	pr->first_row = c->page_first_row;
	pr->null_count = c->ps.nulls;
	pr->nan_count = c->ps.nans;
	pr->is_null_page = c->page_vals == 0;
	if (h.data.stats.has_min) {
		pr->min.p = arena_copy(w->arena, w->smin.data, w->smin.len);
		pr->min.len = (uint32_t)w->smin.len;
		pr->max.p = arena_copy(w->arena, w->smax.data, w->smax.len);
		pr->max.len = (uint32_t)w->smax.len;
	} else if (c->page_vals > 0) {
		/* non-null values but no bounds (all NaN, or untruncatable bytes):
		 * the spec forbids a column index for this chunk */
		c->is_ci_ok = false;
	}

	chunk_put(w, c, &w->hdr, &w->comp);
	c->chunk_uncompressed += w->hdr.len + body->len;
	c->enc_pages[enc]++;
	w->raw_done += c->page_raw_bytes;
	w->comp_done += w->hdr.len + w->comp.len;

	pq_acc_fold(c->ptype, &c->cs, &c->ps);
	pq_acc_reset(&c->ps);
	c->chunk_rows += c->page_rows;
	c->page_first_row += c->page_rows;
	c->page_rows = c->page_vals = 0;
	c->page_raw_bytes = 0;
	strata_buf_reset(&c->plain);
}

/* ---- adding values ------------------------------------------------------ */

static inline void page_check(pw *w, pw_col *c)
{
	if (__builtin_expect(c->page_rows >= PW_PAGE_MAX_ROWS || c->page_raw_bytes >= w->page_bytes,
			     0))
		page_flush(w, c, false);
}

/* Dictionary full: close the page and continue PLAIN (invariant 2). */
static void dict_fallback(pw *w, pw_col *c)
{
	page_flush(w, c, false);
	c->mode = fallback_mode(c);
}

static void add_null(pw *w, pw_col *c)
{
	c->defs[c->page_rows++] = 0;
	c->ps.nulls++;
	page_check(w, c);
}

/* Statistics of a fixed-width value, after any page switch so the value
 * counts in the page that holds it. */
static inline void stats_fixed(pw_col *c, uint64_t bits)
{
	switch (c->ptype) {
	case PQ_INT64:
		pq_acc_int(&c->ps, (int64_t)bits);
		break;
	case PQ_INT32:
		pq_acc_int(&c->ps, (int32_t)(uint32_t)bits);
		break;
	case PQ_DOUBLE: {
		double d;
		memcpy(&d, &bits, 8);
		pq_acc_dbl(&c->ps, d);
		break;
	}
	default: {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, 4);
		pq_acc_dbl(&c->ps, f);
	}
	}
}

static inline __attribute__((always_inline)) void add_fixed(pw *w, pw_col *c, uint64_t bits,
							      int width)
{
	if (c->mode == PW_DICT && c->dict_vals == PW_DICT_EARLY)
		dict_early_check(c);
	if (c->mode == PW_DICT) {
		uint32_t e;
		if (dict_fixed(w, c, bits, width, &e)) {
			c->idx[c->page_vals] = e;
			c->dict_vals++;
			c->dict_plain_bytes += (uint64_t)width;
		} else {
			dict_fallback(w, c);
		}
	}
	if (c->mode == PW_PLAIN)
		buf_put(&c->plain, &bits, (size_t)width);
	else if (c->mode == PW_DELTA)
		c->ivals[c->page_vals] = width == 8 ? (int64_t)bits : (int64_t)(int32_t)(uint32_t)bits;
	stats_fixed(c, bits);
	if (c->is_optional)
		c->defs[c->page_rows] = 1;
	c->page_rows++;
	c->page_vals++;
	c->page_raw_bytes += (uint64_t)width;
	w->rg_raw_bytes += (uint64_t)width;
	page_check(w, c);
}

static void add_i64(pw *w, pw_col *c, int64_t v)
{
	add_fixed(w, c, (uint64_t)v, 8);
}

static void add_i32(pw *w, pw_col *c, int32_t v)
{
	add_fixed(w, c, (uint32_t)v, 4);
}

static void add_bytes(pw *w, pw_col *c, const uint8_t *p, uint32_t n)
{
	if (c->mode == PW_DICT && c->dict_vals == PW_DICT_EARLY)
		dict_early_check(c);
	if (c->mode == PW_DICT) {
		uint32_t e;
		if (dict_bytes(w, c, p, n, &e)) {
			c->idx[c->page_vals] = e;
			c->dict_vals++;
			c->dict_plain_bytes += 4 + (uint64_t)n;
		} else {
			dict_fallback(w, c);
		}
	}
	if (c->mode == PW_PLAIN) {
		buf_put(&c->plain, &n, 4);
		buf_put(&c->plain, p, n);
	}
	pq_acc_bytes(&c->ps, p, n);
	if (c->is_optional)
		c->defs[c->page_rows] = 1;
	c->page_rows++;
	c->page_vals++;
	c->page_raw_bytes += 4 + (uint64_t)n;
	w->rg_raw_bytes += 4 + (uint64_t)n;
	page_check(w, c);
}

static void add_bool(pw *w, pw_col *c, bool b)
{
	pq_acc_int(&c->ps, b ? 1 : 0);
	buf_put(&c->plain, &(uint8_t){b ? 1 : 0}, 1);
	if (c->is_optional)
		c->defs[c->page_rows] = 1;
	c->page_rows++;
	c->page_vals++;
	c->page_raw_bytes += 1;
	w->rg_raw_bytes += 1;
	page_check(w, c);
}

/* A wide DECIMAL: flba_len big-endian two's complement bytes, PLAIN.  Its
 * statistics run over the bytes with the sign bit flipped, whose unsigned
 * order is the values' signed order (parquet_stats.c flips it back). */
static void add_flba_dec(pw *w, pw_col *c, strata_i128 x)
{
	uint8_t be[16];
	pq_dec_to_be(x, be, c->flba_len);
	buf_put(&c->plain, be, (size_t)c->flba_len);
	be[0] ^= 0x80;
	pq_acc_bytes(&c->ps, be, (size_t)c->flba_len);
	if (c->is_optional)
		c->defs[c->page_rows] = 1;
	c->page_rows++;
	c->page_vals++;
	c->page_raw_bytes += (uint64_t)c->flba_len;
	w->rg_raw_bytes += (uint64_t)c->flba_len;
	page_check(w, c);
}

static void add_value(pw *w, pw_col *c, const strata_value *v)
{
	if (v->is_null) {
		add_null(w, c);
		return;
	}
	switch (c->stype) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		add_i64(w, c, v->v.i64);
		break;
	case STRATA_T_INT:
	case STRATA_T_DATE:
		add_i32(w, c, v->v.i32);
		break;
	case STRATA_T_DECIMAL: {
		strata_i128 x = strata_dec_get(v);
		if (c->ptype == PQ_INT32)
			add_i32(w, c, (int32_t)x);
		else if (c->ptype == PQ_INT64)
			add_i64(w, c, (int64_t)x);
		else
			add_flba_dec(w, c, x);
		break;
	}
	case STRATA_T_DOUBLE: {
		double d = v->v.f64;
		uint64_t bits;
		memcpy(&bits, &d, 8);
		add_fixed(w, c, bits, 8);
		break;
	}
	case STRATA_T_FLOAT: {
		float f = v->v.f32;
		uint32_t bits;
		memcpy(&bits, &f, 4);
		add_fixed(w, c, bits, 4);
		break;
	}
	case STRATA_T_BOOL:
		add_bool(w, c, v->v.b);
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		add_bytes(w, c, v->v.s.len ? v->v.s.ptr : (const uint8_t *)"", v->v.s.len);
		break;
	}
}

/* ---- row groups ------------------------------------------------------------ */

/* invariant 5: every byte of the file passes here, in order */
static int wf_write(pw *w, const void *p, size_t n, strata_err *err)
{
	int rc = strata_wfile_write(w->wf, p, n, err);
	if (rc) {
		poison(w, rc);
		return rc;
	}
	XXH3_64bits_update(w->seg, p, n);
	w->seg_bytes += n;
	return 0;
}

/* End the content hash's current segment (at a column chunk's first byte,
 * and past the last chunk); an empty segment is none. */
static void seg_break(pw *w)
{
	if (w->seg_bytes == 0)
		return;
	uint64_t h = XXH3_64bits_digest(w->seg);
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(h >> (8 * i));
	strata_buf_append(&w->seg_hashes, le, 8);
	XXH3_64bits_reset(w->seg);
	w->seg_bytes = 0;
}

static void col_chunk_reset(pw_col *c)
{
	dict_reset(c);
	c->mode = c->mode0;
	c->is_dict_checked = false;
	c->dict_vals = c->dict_plain_bytes = 0;
	c->chunk_bytes = 0;
	c->nsegs = 0;
	c->npages = 0;
	c->chunk_rows = 0;
	c->chunk_uncompressed = 0;
	c->has_dict_pages = false;
	memset(c->enc_pages, 0, sizeof(c->enc_pages));
	c->is_ci_ok = true;
	c->page_first_row = 0;
	pq_acc_reset(&c->cs);
}

/* Build the page index of c's chunk whose data pages start at data_off. */
static void chunk_index(pw *w, const pw_col *c, uint64_t data_off, pw_chunk_index *ix)
{
	strata_arena *a = w->arena;
	uint32_t n = c->npages;
	ix->oi.npages = n;
	ix->oi.pages = strata_arena_alloc(a, sizeof(pq_page_location) * (n ? n : 1));
	for (uint32_t i = 0; i < n; i++) {
		ix->oi.pages[i].offset = (int64_t)(data_off + c->pages[i].offset);
		ix->oi.pages[i].compressed_size = (int32_t)c->pages[i].size;
		ix->oi.pages[i].first_row = (int64_t)c->pages[i].first_row;
	}
	ix->has_ci = c->is_ci_ok;
	if (!ix->has_ci)
		return;
	pq_column_index *ci = &ix->ci;
	ci->npages = n;
	ci->null_pages = strata_arena_alloc(a, sizeof(bool) * (n ? n : 1));
	ci->mins = strata_arena_alloc(a, sizeof(pq_bytes) * (n ? n : 1));
	ci->maxs = strata_arena_alloc(a, sizeof(pq_bytes) * (n ? n : 1));
	ci->null_counts = strata_arena_alloc(a, sizeof(int64_t) * (n ? n : 1));
	ci->has_null_counts = true;
	bool is_float = c->ptype == PQ_FLOAT || c->ptype == PQ_DOUBLE;
	if (is_float) {
		ci->nan_counts = strata_arena_alloc(a, sizeof(int64_t) * (n ? n : 1));
		ci->has_nan_counts = true;
	}
	for (uint32_t i = 0; i < n; i++) {
		const pw_page_rec *pr = &c->pages[i];
		ci->null_pages[i] = pr->is_null_page;
		ci->mins[i] = pr->min;
		ci->maxs[i] = pr->max;
		if (pr->is_null_page)
			ci->mins[i].len = ci->maxs[i].len = 0;
		ci->null_counts[i] = pr->null_count;
		if (is_float)
			ci->nan_counts[i] = pr->nan_count;
	}
	/* boundary order from the pages that have bounds */
	bool asc = true, desc = true;
	const pw_page_rec *prev = NULL;
	for (uint32_t i = 0; i < n; i++) {
		const pw_page_rec *pr = &c->pages[i];
		if (pr->is_null_page)
			continue;
		if (prev) {
			int cmin, cmax;
			/* parquet_stats.c invariant 3: a pair it cannot order (never
			 * one of ours) makes the index unordered */
			if (!pq_stat_cmp(c->ptype, prev->min.p, prev->min.len, pr->min.p, pr->min.len,
					 &cmin) ||
			    !pq_stat_cmp(c->ptype, prev->max.p, prev->max.len, pr->max.p, pr->max.len,
					 &cmax)) {
				asc = desc = false;
				break;
			}
			if (cmin > 0 || cmax > 0)
				asc = false;
			if (cmin < 0 || cmax < 0)
				desc = false;
		}
		prev = pr;
	}
	ci->boundary_order = asc ? PQ_ASCENDING : desc ? PQ_DESCENDING : PQ_UNORDERED;
}

/* Write c's chunk (dictionary page, then the buffered data pages) and fill
 * its metadata. */
static int chunk_write(pw *w, pw_col *c, pq_column_chunk *cc, pw_chunk_index *ix,
		       uint64_t *uncompressed, strata_err *err)
{
	int rc;
	uint64_t start = strata_wfile_offset(w->wf);
	uint64_t total_uncompressed = c->chunk_uncompressed;
	seg_break(w); /* invariant 5: a chunk is a segment of the content hash */
	bool has_dict = c->has_dict_pages;
	if (has_dict) {
		compress_into(w, &c->dict_data, &w->comp);
		pq_page_header h;
		memset(&h, 0, sizeof(h));
		h.type = PQ_DICTIONARY_PAGE;
		h.uncompressed_size = (int32_t)c->dict_data.len;
		h.compressed_size = (int32_t)w->comp.len;
		h.has_dict = true;
		h.dict.num_values = (int32_t)c->dict_n;
		h.dict.encoding = PQ_PLAIN;
		h.has_crc = true; /* invariant 6 */
		h.crc = (int32_t)crc32(0, w->comp.data, (uInt)w->comp.len);
		strata_buf_reset(&w->hdr);
		pq_page_header_write(&w->hdr, &h);
		total_uncompressed += w->hdr.len + c->dict_data.len;
		rc = wf_write(w, w->hdr.data, w->hdr.len, err);
		if (rc == 0)
			rc = wf_write(w, w->comp.data, w->comp.len, err);
		if (rc)
			return rc;
	}
	uint64_t data_off = strata_wfile_offset(w->wf);
	for (uint32_t k = 0; k < c->nsegs; k++) {
		if (!c->segs[k].is_spilled) {
			rc = wf_write(w, w->pages.data + c->segs[k].off, (size_t)c->segs[k].len, err);
			if (rc)
				return rc;
			continue;
		}
		/* spilled pages, back from the page cache in PW_COPY_BYTES pieces */
		for (uint64_t done = 0; done < c->segs[k].len;) {
			size_t n = (size_t)STRATA_MIN(c->segs[k].len - done, (uint64_t)PW_COPY_BYTES);
			strata_buf_reset(&w->tmp);
			strata_buf_reserve(&w->tmp, n);
			rc = strata_io_pread_all(w->spill_fd, w->tmp.data, n,
						 (off_t)(c->segs[k].off + done));
			if (rc) {
				poison(w, rc);
				return strata_err_set(err, rc, "\"%s\": could not read back its spill "
							       "file: %s",
						      w->path, strata_strerror(rc));
			}
			rc = wf_write(w, w->tmp.data, n, err);
			if (rc)
				return rc;
			done += n;
		}
	}
	if (strata_wfile_offset(w->wf) - data_off != c->chunk_bytes) {
		poison(w, -EIO);
		return strata_err_set(err, STRATA_EINVAL, "\"%s\": column \"%s\" wrote %llu bytes "
							  "of pages, not %llu",
				      w->path, c->name,
				      (unsigned long long)(strata_wfile_offset(w->wf) - data_off),
				      (unsigned long long)c->chunk_bytes);
	}

	memset(cc, 0, sizeof(*cc));
	cc->file_offset = (int64_t)start;
	cc->has_meta = true;
	pq_column_meta *m = &cc->meta;
	m->type = c->ptype;
	int32_t encs[8];
	uint32_t ne = 0;
	if (c->enc_pages[PQ_PLAIN] || has_dict)
		encs[ne++] = PQ_PLAIN;
	if (c->is_optional)
		encs[ne++] = PQ_RLE;
	if (c->enc_pages[PQ_DELTA_BINARY_PACKED])
		encs[ne++] = PQ_DELTA_BINARY_PACKED;
	if (c->enc_pages[PQ_DELTA_LENGTH_BYTE_ARRAY])
		encs[ne++] = PQ_DELTA_LENGTH_BYTE_ARRAY;
	if (c->enc_pages[PQ_RLE_DICTIONARY])
		encs[ne++] = PQ_RLE_DICTIONARY;
	m->nencodings = ne;
	m->encodings = strata_arena_dup(w->arena, encs, sizeof(int32_t) * (ne ? ne : 1));
	m->npath = 1;
	m->path = strata_arena_alloc(w->arena, sizeof(char *));
	m->path[0] = c->name;
	m->codec = w->codec;
	m->num_values = (int64_t)c->chunk_rows;
	m->total_uncompressed_size = (int64_t)total_uncompressed;
	m->total_compressed_size = (int64_t)(strata_wfile_offset(w->wf) - start);
	m->data_page_offset = (int64_t)data_off;
	if (has_dict) {
		m->has_dict_page_offset = true;
		m->dict_page_offset = (int64_t)start;
	}
	m->has_stats = true;
	pq_acc_put(&m->stats, c->ptype, c->stype, &c->cs, &w->smin, &w->smax);
	/* the footer outlives these scratch buffers (copy len bytes: a bound
	 * truncated to PQ_STATS_MAX_BYTES may fill its buffer exactly) */
	if (m->stats.has_min) {
		m->stats.min.p = arena_copy(w->arena, m->stats.min.p, m->stats.min.len);
		m->stats.max.p = arena_copy(w->arena, m->stats.max.p, m->stats.max.len);
	}
	pq_enc_stats es[5];
	uint32_t nes = 0;
	if (has_dict)
		es[nes++] = (pq_enc_stats){PQ_DICTIONARY_PAGE, PQ_PLAIN, 1};
	static const int data_encs[] = {PQ_PLAIN, PQ_DELTA_BINARY_PACKED,
					PQ_DELTA_LENGTH_BYTE_ARRAY, PQ_RLE_DICTIONARY};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(data_encs); i++)
		if (c->enc_pages[data_encs[i]])
			es[nes++] = (pq_enc_stats){PQ_DATA_PAGE, data_encs[i],
						   (int32_t)c->enc_pages[data_encs[i]]};
	m->nenc_stats = nes;
	m->enc_stats = strata_arena_dup(w->arena, es, sizeof(pq_enc_stats) * (nes ? nes : 1));
	chunk_index(w, c, data_off, ix);
	*uncompressed = total_uncompressed;
	return 0;
}

static int rg_flush(pw *w, strata_err *err)
{
	if (w->rg_rows == 0)
		return 0;
	if (w->nrgs == w->rgs_cap) {
		w->rgs_cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
		w->rgs = strata_realloc(w->rgs, sizeof(pq_row_group) * w->rgs_cap);
		w->idx = strata_realloc(w->idx, sizeof(pw_chunk_index *) * w->rgs_cap);
	}
	pq_row_group *g = &w->rgs[w->nrgs];
	memset(g, 0, sizeof(*g));
	pw_chunk_index *ix = strata_arena_alloc(w->arena, sizeof(pw_chunk_index) * w->nleaf);
	memset(ix, 0, sizeof(pw_chunk_index) * w->nleaf);
	w->idx[w->nrgs] = ix;
	g->ncols = w->nleaf;
	g->cols = strata_arena_alloc(w->arena, sizeof(pq_column_chunk) * w->nleaf);
	uint64_t start = strata_wfile_offset(w->wf);
	uint64_t total_uncompressed = 0;
	for (uint32_t i = 0; i < w->nleaf; i++) {
		pw_col *c = &w->cols[i];
		page_flush(w, c, true);
		uint64_t u = 0;
		int rc = chunk_write(w, c, &g->cols[i], &ix[i], &u, err);
		if (rc)
			return rc;
		total_uncompressed += u;
		col_chunk_reset(c);
	}
	w->pages.len = 0;
	w->spill_len = 0; /* the next row group reuses the spill file */
	g->total_byte_size = (int64_t)total_uncompressed;
	g->num_rows = (int64_t)w->rg_rows;
	const strata_schema *s = w->schema;
	g->nsorting = s->nkeys + 1;
	g->sorting = strata_arena_alloc(w->arena, sizeof(pq_sorting_col) * g->nsorting);
	for (uint32_t k = 0; k < s->nkeys; k++)
		g->sorting[k] = (pq_sorting_col){(int32_t)s->key_cols[k], false, false};
	g->sorting[s->nkeys] = (pq_sorting_col){(int32_t)w->nuser, true, false};
	g->has_file_offset = true;
	g->file_offset = (int64_t)start;
	g->has_total_compressed_size = true;
	g->total_compressed_size = (int64_t)(strata_wfile_offset(w->wf) - start);
	if (w->nrgs <= INT16_MAX) {
		g->has_ordinal = true;
		g->ordinal = (int32_t)w->nrgs;
	}
	w->nrgs++;
	w->rg_rows = 0;
	w->rg_raw_bytes = 0;
	return 0;
}

/* ---- backend ------------------------------------------------------------- */

static void pw_free(pw *w)
{
	if (!w)
		return;
	strata_wfile_abort(w->wf);
	for (uint32_t i = 0; i < w->nleaf && w->cols; i++) {
		pw_col *c = &w->cols[i];
		free(c->dvals);
		free(c->doff);
		strata_buf_free(&c->dict_data);
		free(c->slots);
		free(c->defs);
		free(c->idx);
		free(c->ivals);
		strata_buf_free(&c->plain);
		pq_acc_free(&c->ps);
		pq_acc_free(&c->cs);
		free(c->segs);
		free(c->pages);
	}
	free(w->cols);
	if (w->spill_fd >= 0)
		strata_io()->close(w->spill_fd);
	strata_buf_free(&w->pages);
	ZSTD_freeCCtx(w->zc);
	strata_buf_free(&w->body);
	strata_buf_free(&w->comp);
	strata_buf_free(&w->hdr);
	strata_buf_free(&w->tmp);
	strata_buf_free(&w->smin);
	strata_buf_free(&w->smax);
	strata_arena_free(w->arena);
	free(w->rgs);
	free(w->idx);
	XXH3_freeState(w->seg);
	strata_buf_free(&w->seg_hashes);
	free(w->path);
	free(w);
}


static void col_init(pw_col *c, const char *name, strata_type t, int precision,
		     bool is_optional, bool is_key, bool is_seq)
{
	c->name = name;
	c->stype = t;
	c->ptype = pq_ptype_of(t, precision);
	if (c->ptype == PQ_FIXED_LEN_BYTE_ARRAY)
		c->flba_len = pq_decimal_bytes(precision);
	c->is_optional = is_optional;
	c->is_seq = is_seq;
	bool is_int = c->ptype == PQ_INT64 || c->ptype == PQ_INT32;
	c->is_delta_key = is_seq || (is_key && is_int);
	/* FIXED_LEN_BYTE_ARRAY (wide DECIMAL): always PLAIN */
	c->mode0 = c->is_delta_key ? PW_DELTA :
		   c->ptype == PQ_BOOLEAN || c->ptype == PQ_FIXED_LEN_BYTE_ARRAY ? PW_PLAIN :
										     PW_DICT;
	c->defs = strata_malloc(PW_PAGE_MAX_ROWS);
	c->idx = strata_malloc(sizeof(uint32_t) * PW_PAGE_MAX_ROWS);
	if (c->is_delta_key)
		c->ivals = strata_malloc(sizeof(int64_t) * PW_PAGE_MAX_ROWS);
	col_chunk_reset(c);
}

static int pw_open(const char *path, const strata_schema *schema,
		   const strata_write_opts *opts, void **state, strata_err *err)
{
	*state = NULL;
	int rc = strata_schema_validate(schema, err);
	if (rc)
		return strata_err_wrap(err, rc, "\"%s\"", path);
	for (uint32_t i = 0; i < schema->ncols; i++)
		if (schema->cols[i].id > INT32_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "\"%s\": column \"%s\" has id %u, beyond Parquet's "
					      "32-bit field ids",
					      path, schema->cols[i].name, schema->cols[i].id);
	if (opts->mem_out)
		return strata_err_set(err, STRATA_EINVAL,
				      "\"%s\": only row files are kept inline, not Parquet", path);
	if (opts->codec != STRATA_CODEC_NONE && opts->codec != STRATA_CODEC_ZSTD)
		return strata_err_set(err, STRATA_EINVAL,
				      "\"%s\": Parquet files are written uncompressed or with "
				      "zstd (codec %d given)",
				      path, (int)opts->codec);
	pw *w = strata_calloc(1, sizeof(*w));
	w->spill_fd = -1;
	w->seg = XXH3_createState(); /* this file's inlined XXH3 (XXH_INLINE_ALL) */
	if (!w->seg) {
		free(w);
		return strata_err_set(err, -ENOMEM, "\"%s\": out of memory", path);
	}
	XXH3_64bits_reset(w->seg);
	w->path = strata_strdup(path);
	w->schema = schema;
	w->nuser = schema->ncols;
	w->nleaf = schema->ncols + 2;
	w->codec = opts->codec == STRATA_CODEC_ZSTD ? PQ_ZSTD : PQ_UNCOMPRESSED;
	w->page_bytes = opts->page_bytes ? opts->page_bytes : 1ull << 20;
	w->page_bytes = STRATA_MAX(w->page_bytes, PW_PAGE_BYTES_MIN);
	w->page_bytes = STRATA_MIN(w->page_bytes, PW_PAGE_BYTES_MAX);
	w->row_group_bytes = opts->row_group_bytes ? opts->row_group_bytes : 64ull << 20;
	w->buffer_bytes = opts->buffer_bytes ? opts->buffer_bytes : PW_BUFFER_BYTES;
	/* 0 disables dictionaries */
	w->dict_max_bytes = STRATA_MIN(opts->dict_max_bytes, PW_DICT_BYTES_MAX);
	w->zstd_level = opts->zstd_level ? opts->zstd_level : 3;
	w->zstd_level = STRATA_MAX(w->zstd_level, ZSTD_minCLevel());
	w->zstd_level = STRATA_MIN(w->zstd_level, ZSTD_maxCLevel());
	w->arena = strata_arena_new();
	if (w->codec == PQ_ZSTD) {
		w->zc = ZSTD_createCCtx();
		if (!w->zc)
			abort(); /* out of memory */
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->zstd_level);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_contentSizeFlag, 1);
	}
	w->cols = strata_calloc(w->nleaf, sizeof(pw_col));
	for (uint32_t i = 0; i < schema->ncols; i++) {
		const strata_column *sc = &schema->cols[i];
		col_init(&w->cols[i], sc->name, sc->type, sc->precision, sc->key_pos < 0,
			 sc->key_pos >= 0, false);
	}
	col_init(&w->cols[w->nuser], STRATA_COL_SEQ, STRATA_T_LONG, 0, false, false, true);
	col_init(&w->cols[w->nuser + 1], STRATA_COL_OP, STRATA_T_INT, 0, false, false, false);
	if (w->dict_max_bytes == 0)
		for (uint32_t i = 0; i < w->nleaf; i++)
			if (w->cols[i].mode0 == PW_DICT)
				w->cols[i].mode0 = w->cols[i].mode = PW_PLAIN;
	rc = strata_wfile_open(path, &w->wf, err);
	if (rc)
		goto fail;
	rc = wf_write(w, "PAR1", 4, err);
	if (rc)
		goto fail;
	*state = w;
	return 0;
fail:
	pw_free(w);
	return rc;
}

static int pw_add(void *state, const strata_row *row, strata_err *err)
{
	pw *w = state;
	if (w->is_poisoned)
		return strata_err_set(err, STRATA_EPOISONED,
				      "\"%s\" is unusable after an earlier failure: %s", w->path,
				      strata_strerror(w->poison_code));
	const strata_schema *s = w->schema;
	if (row->ncols < s->ncols)
		return strata_err_set(err, STRATA_EINVAL, "\"%s\": row has %u columns, schema %u",
				      w->path, row->ncols, s->ncols);
	/* invariant 4: check before appending anything */
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_value *v = &row->vals[i];
		const strata_column *c = &s->cols[i];
		if (v->is_null) {
			if (c->key_pos >= 0)
				return strata_err_set(err, STRATA_EINVAL,
						      "\"%s\": key column \"%s\" is null", w->path,
						      c->name);
			continue;
		}
		if ((c->type == STRATA_T_STRING || c->type == STRATA_T_BYTES) &&
		    v->v.s.len > STRATA_MAX_VALUE_BYTES)
			return strata_err_set(err, STRATA_ELIMIT,
					      "\"%s\": value of column \"%s\" is %u bytes, over the "
					      "%u-byte limit",
					      w->path, c->name, v->v.s.len, STRATA_MAX_VALUE_BYTES);
	}
	if (row->op != STRATA_OP_UPSERT && row->op != STRATA_OP_DELETE)
		return strata_err_set(err, STRATA_EINVAL, "\"%s\": record with _op %d", w->path,
				      row->op);
	/* Large dictionaries miss the cache on every lookup: hash the strings
	 * of this row first and prefetch their slots, so the misses overlap
	 * the work on the other columns instead of following one another. */
	for (uint32_t i = 0; i < s->ncols; i++) {
		pw_col *c = &w->cols[i];
		const strata_value *v = &row->vals[i];
		if (c->mode == PW_DICT && c->ptype == PQ_BYTE_ARRAY && c->nslots >= PW_PREFETCH_SLOTS &&
		    !v->is_null) {
			bkey_of(v->v.s.len ? v->v.s.ptr : (const uint8_t *)"", v->v.s.len, &c->bkey);
			c->has_hash = true;
			__builtin_prefetch(&c->slots[(uint32_t)c->bkey.h & (c->nslots - 1)]);
		}
	}
	for (uint32_t i = 0; i < s->ncols; i++)
		add_value(w, &w->cols[i], &row->vals[i]);
	add_i64(w, &w->cols[w->nuser], row->seq);
	add_i32(w, &w->cols[w->nuser + 1], row->op);
	w->rg_rows++;
	w->total_rows++;
	if (w->rg_raw_bytes >= w->row_group_bytes && !w->is_poisoned)
		return rg_flush(w, err);
	if (w->is_poisoned) /* a page could not spill */
		return strata_err_set(err, w->poison_code, "\"%s\": could not spill pages: %s",
				      w->path, strata_strerror(w->poison_code));
	return 0;
}

static uint64_t pw_bytes(void *state)
{
	pw *w = state;
	double ratio = w->raw_done ? (double)w->comp_done / (double)w->raw_done : 0.5;
	uint64_t est = strata_wfile_offset(w->wf);
	for (uint32_t i = 0; i < w->nleaf; i++) {
		const pw_col *c = &w->cols[i];
		est += c->chunk_bytes;
		est += (uint64_t)((double)(c->page_raw_bytes + c->dict_data.len) * ratio);
		est += 64 * (uint64_t)c->npages; /* page index */
	}
	return est + 256 + 64 * (uint64_t)w->nleaf * (w->nrgs + 1);
}

static void fill_schema_elem(pq_schema_elem *e, const char *name, strata_type t, int precision,
			     int scale, bool is_optional, bool has_id, uint32_t id)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->type = pq_ptype_of(t, precision);
	if (e->type == PQ_FIXED_LEN_BYTE_ARRAY)
		e->type_length = pq_decimal_bytes(precision);
	e->repetition = is_optional ? PQ_OPTIONAL : PQ_REQUIRED;
	e->num_children = -1;
	e->converted = -1;
	e->has_field_id = has_id;
	e->field_id = (int32_t)id;
	if (t == STRATA_T_STRING) {
		e->converted = PQ_CT_UTF8;
		e->logical.kind = PQ_LT_STRING;
	} else if (t == STRATA_T_TIMESTAMP) {
		e->converted = PQ_CT_TIMESTAMP_MICROS;
		e->logical.kind = PQ_LT_TIMESTAMP;
		e->logical.is_utc = true;
		e->logical.unit = PQ_UNIT_MICROS;
	} else if (t == STRATA_T_DATE) {
		e->converted = PQ_CT_DATE;
		e->logical.kind = PQ_LT_DATE;
	} else if (t == STRATA_T_DECIMAL) {
		e->converted = PQ_CT_DECIMAL;
		e->precision = e->logical.precision = precision;
		e->scale = e->logical.scale = scale;
		e->logical.kind = PQ_LT_DECIMAL;
	}
}

static int pw_finish(void *state, const strata_file_stats *stats, strata_fw_done *done,
		     strata_err *err)
{
	pw *w = state;
	int rc = 0;
	strata_buf footer = {0};
	char *schema_json = NULL;
	char *index_hex = NULL;
	if (w->is_poisoned) {
		rc = strata_err_set(err, STRATA_EPOISONED,
				    "\"%s\" is unusable after an earlier failure: %s", w->path,
				    strata_strerror(w->poison_code));
		goto out;
	}
	rc = rg_flush(w, err);
	if (rc)
		goto out;
	if (w->nrgs > 0)
		seg_break(w); /* invariant 5: the tail follows the last chunk */
	/* page indexes: all column indexes, then all offset indexes; each
	 * blob's hash goes to the footer (invariant 7) */
	strata_buf *b = &w->tmp;
	size_t nblobs = (size_t)w->nrgs * w->nleaf * 2;
	index_hex = strata_calloc(nblobs * 16 + 1, 1);
	memset(index_hex, '0', nblobs * 16);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t g = 0; g < w->nrgs; g++) {
			for (uint32_t i = 0; i < w->nleaf; i++) {
				pw_chunk_index *ix = &w->idx[g][i];
				pq_column_chunk *cc = &w->rgs[g].cols[i];
				if (pass == 0 && !ix->has_ci)
					continue;
				strata_buf_reset(b);
				if (pass == 0)
					pq_column_index_write(b, &ix->ci);
				else
					pq_offset_index_write(b, &ix->oi);
				uint64_t off = strata_wfile_offset(w->wf);
				rc = wf_write(w, b->data, b->len, err);
				if (rc)
					goto out;
				char hx[17];
				snprintf(hx, sizeof(hx), "%016llx",
					 (unsigned long long)XXH3_64bits(b->data, b->len));
				memcpy(index_hex + (((size_t)g * w->nleaf + i) * 2 + (size_t)pass) * 16,
				       hx, 16);
				if (pass == 0) {
					cc->has_column_index = true;
					cc->column_index_offset = (int64_t)off;
					cc->column_index_length = (int32_t)b->len;
				} else {
					cc->has_offset_index = true;
					cc->offset_index_offset = (int64_t)off;
					cc->offset_index_length = (int32_t)b->len;
				}
			}
		}
	}
	/* the footer */
	const strata_schema *s = w->schema;
	pq_file_meta m;
	memset(&m, 0, sizeof(m));
	m.version = 2;
	m.nschema = w->nleaf + 1;
	m.schema = strata_arena_alloc(w->arena, sizeof(pq_schema_elem) * m.nschema);
	memset(&m.schema[0], 0, sizeof(pq_schema_elem));
	m.schema[0].name = "schema";
	m.schema[0].type = m.schema[0].repetition = m.schema[0].converted = -1;
	m.schema[0].num_children = (int32_t)w->nleaf;
	for (uint32_t i = 0; i < s->ncols; i++)
		fill_schema_elem(&m.schema[i + 1], s->cols[i].name, s->cols[i].type,
				 s->cols[i].precision, s->cols[i].scale, s->cols[i].key_pos < 0, true,
				 s->cols[i].id);
	fill_schema_elem(&m.schema[s->ncols + 1], STRATA_COL_SEQ, STRATA_T_LONG, 0, 0, false, false,
			 0);
	fill_schema_elem(&m.schema[s->ncols + 2], STRATA_COL_OP, STRATA_T_INT, 0, 0, false, false,
			 0);
	m.num_rows = (int64_t)w->total_rows;
	m.nrow_groups = w->nrgs;
	m.row_groups = w->rgs;
	schema_json = strata_schema_to_json(s);
	char version[16], seq_min[24], seq_max[24];
	snprintf(version, sizeof(version), "%u", s->version);
	snprintf(seq_min, sizeof(seq_min), "%lld", (long long)(stats ? stats->seq_min : 0));
	snprintf(seq_max, sizeof(seq_max), "%lld", (long long)(stats ? stats->seq_max : 0));
	strata_buf keys = {0};
	for (uint32_t k = 0; k < s->nkeys; k++)
		strata_buf_printf(&keys, "%s%s", k ? "," : "", s->cols[s->key_cols[k]].name);
	pq_kv kv[6] = {
		{STRATA_META_SCHEMA, true, {(const uint8_t *)schema_json, (uint32_t)strlen(schema_json)}},
		{STRATA_META_SCHEMA_VERSION, true, {(const uint8_t *)version, (uint32_t)strlen(version)}},
		{STRATA_META_KEY_COLUMNS, true, {keys.data, (uint32_t)keys.len}},
		{STRATA_META_SEQ_MIN, true, {(const uint8_t *)seq_min, (uint32_t)strlen(seq_min)}},
		{STRATA_META_SEQ_MAX, true, {(const uint8_t *)seq_max, (uint32_t)strlen(seq_max)}},
		{STRATA_META_INDEX_HASHES, true,
		 {(const uint8_t *)index_hex, (uint32_t)strlen(index_hex)}},
	};
	m.nkv = 6;
	m.kv = kv;
	m.created_by = PW_CREATED_BY;
	m.ncolumn_orders = w->nleaf;
	m.column_orders = strata_arena_alloc(w->arena, sizeof(int32_t) * w->nleaf);
	for (uint32_t i = 0; i < w->nleaf; i++)
		m.column_orders[i] = 1; /* TYPE_ORDER */
	pq_file_meta_write(&footer, &m);
	strata_buf_free(&keys);
	done->footer_hash = XXH3_64bits(footer.data, footer.len); /* invariant 7 */
	done->has_footer_hash = true;
	uint32_t flen = (uint32_t)footer.len;
	strata_buf_append(&footer, &flen, 4);
	strata_buf_append(&footer, "PAR1", 4);
	rc = wf_write(w, footer.data, footer.len, err);
	if (rc)
		goto out;
	seg_break(w);
	done->file_bytes = strata_wfile_offset(w->wf);
	done->content_hash = XXH3_64bits(w->seg_hashes.data, w->seg_hashes.len);
	rc = strata_wfile_commit(w->wf, err);
	w->wf = NULL; /* commit frees the handle, on failure too */
out:
	free(schema_json);
	free(index_hex);
	strata_buf_free(&footer);
	pw_free(w);
	return rc;
}

static void pw_abort(void *state)
{
	pw_free(state);
}

const strata_fw_backend strata_parquet_writer = {
	.name = "parquet",
	.open = pw_open,
	.add = pw_add,
	.bytes = pw_bytes,
	.finish = pw_finish,
	.abort = pw_abort,
};
