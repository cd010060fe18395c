/*
 * format/parquet_int.h — what the Parquet writer and reader share: the
 * parquet.thrift enums, in-memory forms of the footer, page headers and page
 * indexes with their Thrift encoders and validating decoders
 * (parquet_meta.c), and the value encodings (parquet_enc.c).  Internal to
 * format/ (tests/test_parquet.c includes it for white-box tests of the
 * encodings).
 *
 * Decoded structures live in a strata_arena the caller owns; binary fields
 * (statistics, key-value values) point into the decoded input, which must
 * outlive them.
 */
#ifndef STRATA_PARQUET_INT_H
#define STRATA_PARQUET_INT_H

#include "format/format_int.h"
#include "format/thrift.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet code assumes a little-endian host (PLAIN values are little-endian)"
#endif

/* ---- parquet.thrift enums ------------------------------------------------ */

enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3, PQ_FLOAT = 4,
       PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6, PQ_FIXED_LEN_BYTE_ARRAY = 7 };

enum { PQ_CT_UTF8 = 0, PQ_CT_MAP = 1, PQ_CT_MAP_KEY_VALUE = 2, PQ_CT_LIST = 3,
       PQ_CT_ENUM = 4, PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIME_MILLIS = 7,
       PQ_CT_TIME_MICROS = 8, PQ_CT_TIMESTAMP_MILLIS = 9, PQ_CT_TIMESTAMP_MICROS = 10,
       PQ_CT_UINT_8 = 11, PQ_CT_UINT_16 = 12, PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14,
       PQ_CT_INT_8 = 15, PQ_CT_INT_16 = 16, PQ_CT_INT_32 = 17, PQ_CT_INT_64 = 18,
       PQ_CT_JSON = 19, PQ_CT_BSON = 20, PQ_CT_INTERVAL = 21 };

enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

enum { PQ_PLAIN = 0, PQ_PLAIN_DICTIONARY = 2, PQ_RLE = 3, PQ_BIT_PACKED = 4,
       PQ_DELTA_BINARY_PACKED = 5, PQ_DELTA_LENGTH_BYTE_ARRAY = 6,
       PQ_DELTA_BYTE_ARRAY = 7, PQ_RLE_DICTIONARY = 8, PQ_BYTE_STREAM_SPLIT = 9 };

enum { PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_LZO = 3, PQ_BROTLI = 4,
       PQ_LZ4 = 5, PQ_ZSTD = 6, PQ_LZ4_RAW = 7 };

enum { PQ_DATA_PAGE = 0, PQ_INDEX_PAGE = 1, PQ_DICTIONARY_PAGE = 2, PQ_DATA_PAGE_V2 = 3 };

enum { PQ_UNORDERED = 0, PQ_ASCENDING = 1, PQ_DESCENDING = 2 };

/* LogicalType union members (field ids). */
enum { PQ_LT_NONE = 0, PQ_LT_STRING = 1, PQ_LT_MAP = 2, PQ_LT_LIST = 3, PQ_LT_ENUM = 4,
       PQ_LT_DECIMAL = 5, PQ_LT_DATE = 6, PQ_LT_TIME = 7, PQ_LT_TIMESTAMP = 8,
       PQ_LT_INTEGER = 10, PQ_LT_UNKNOWN = 11, PQ_LT_JSON = 12, PQ_LT_BSON = 13,
       PQ_LT_UUID = 14, PQ_LT_FLOAT16 = 15, PQ_LT_OTHER = 99 };
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

/* Names for messages and describe ("INT64", "RLE_DICTIONARY", "ZSTD", ...);
 * unknown values give "UNKNOWN(n)" in a static per-call-site-safe form. */
const char *pq_type_name(int t);
const char *pq_encoding_name(int e);
const char *pq_codec_name(int c);
const char *pq_page_type_name(int t);
const char *pq_converted_name(int c);
const char *pq_repetition_name(int r);

/* ---- metadata structures ------------------------------------------------- */

typedef struct pq_bytes {
	const uint8_t *p;
	uint32_t len;
} pq_bytes;

typedef struct pq_stats {
	bool has_null_count, has_nan_count, has_distinct_count;
	bool has_min, has_max;         /* min_value / max_value */
	bool has_min_old, has_max_old; /* deprecated min / max (signed order) */
	bool has_min_exact, has_max_exact;
	bool is_min_exact, is_max_exact;
	int64_t null_count, nan_count, distinct_count;
	pq_bytes min, max, min_old, max_old;
} pq_stats;

typedef struct pq_logical {
	int kind; /* PQ_LT_* */
	bool is_utc;
	int unit; /* PQ_UNIT_* for TIME/TIMESTAMP */
	int bit_width;
	bool is_signed;
	int32_t scale, precision;
} pq_logical;

typedef struct pq_schema_elem {
	const char *name; /* NUL-terminated copy in the arena */
	int32_t type;     /* -1: absent (a group) */
	int32_t type_length;
	int32_t repetition; /* -1: absent */
	int32_t num_children; /* -1: absent (a leaf) */
	int32_t converted;  /* -1: absent */
	int32_t scale, precision;
	bool has_field_id;
	int32_t field_id;
	pq_logical logical;
} pq_schema_elem;

typedef struct pq_enc_stats {
	int32_t page_type, encoding, count;
} pq_enc_stats;

typedef struct pq_column_meta {
	int32_t type;
	uint32_t nencodings;
	int32_t *encodings;
	uint32_t npath;
	const char **path;
	int32_t codec;
	int64_t num_values;
	int64_t total_uncompressed_size;
	int64_t total_compressed_size;
	int64_t data_page_offset;
	bool has_index_page_offset, has_dict_page_offset, has_stats;
	int64_t index_page_offset, dict_page_offset;
	pq_stats stats;
	uint32_t nenc_stats;
	pq_enc_stats *enc_stats;
} pq_column_meta;

typedef struct pq_column_chunk {
	bool has_file_path;
	bool has_meta;
	bool is_encrypted;
	bool has_offset_index, has_column_index;
	int64_t file_offset;
	pq_column_meta meta;
	int64_t offset_index_offset;
	int32_t offset_index_length;
	int64_t column_index_offset;
	int32_t column_index_length;
} pq_column_chunk;

typedef struct pq_sorting_col {
	int32_t column_idx;
	bool is_descending, is_nulls_first;
} pq_sorting_col;

typedef struct pq_row_group {
	uint32_t ncols;
	pq_column_chunk *cols;
	int64_t total_byte_size;
	int64_t num_rows;
	uint32_t nsorting;
	pq_sorting_col *sorting;
	bool has_file_offset, has_total_compressed_size, has_ordinal;
	int64_t file_offset, total_compressed_size;
	int32_t ordinal;
} pq_row_group;

typedef struct pq_kv {
	const char *key; /* NUL-terminated copy */
	bool has_value;
	pq_bytes value;
} pq_kv;

typedef struct pq_file_meta {
	int32_t version;
	uint32_t nschema;
	pq_schema_elem *schema;
	int64_t num_rows;
	uint32_t nrow_groups;
	pq_row_group *row_groups;
	uint32_t nkv;
	pq_kv *kv;
	const char *created_by; /* NULL if absent */
	uint32_t ncolumn_orders;
	int32_t *column_orders; /* ColumnOrder union member id (1 TYPE_ORDER) */
	bool is_encrypted;
} pq_file_meta;

typedef struct pq_page_header {
	int32_t type;
	int32_t uncompressed_size;
	int32_t compressed_size;
	bool has_crc;
	int32_t crc;
	bool has_data, has_dict, has_data_v2;
	struct {
		int32_t num_values, encoding, def_encoding, rep_encoding;
		bool has_stats;
		pq_stats stats;
	} data;
	struct {
		int32_t num_values, encoding;
		bool has_is_sorted, is_sorted;
	} dict;
	struct {
		int32_t num_values, num_nulls, num_rows, encoding, def_len, rep_len;
		bool is_compressed;
		bool has_stats;
		pq_stats stats;
	} v2;
} pq_page_header;

typedef struct pq_column_index {
	uint32_t npages;
	bool *null_pages;
	pq_bytes *mins;
	pq_bytes *maxs;
	int32_t boundary_order;
	bool has_null_counts, has_nan_counts;
	int64_t *null_counts;
	int64_t *nan_counts;
} pq_column_index;

typedef struct pq_page_location {
	int64_t offset;
	int32_t compressed_size; /* header included */
	int64_t first_row;
} pq_page_location;

typedef struct pq_offset_index {
	uint32_t npages;
	pq_page_location *pages;
} pq_offset_index;

/* ---- Thrift encoding of the structures (parquet_meta.c) ------------------ */

void pq_file_meta_write(strata_buf *out, const pq_file_meta *m);
void pq_page_header_write(strata_buf *out, const pq_page_header *h);
void pq_column_index_write(strata_buf *out, const pq_column_index *ci);
void pq_offset_index_write(strata_buf *out, const pq_offset_index *oi);

/* Decoders.  Each checks wire types, required fields, list sizes and
 * nesting; semantic checks against the file (offsets, sizes) are the
 * reader's.  Return 0 or STRATA_ECORRUPT with "\"<path>\": damaged <what>:
 * <detail>" in err.  *is_truncated (may be NULL) tells whether the input
 * ended early, so a caller that read a window can retry with more bytes. */
int pq_file_meta_read(const uint8_t *p, size_t n, strata_arena *a, pq_file_meta *out,
		      const char *path, strata_err *err);
int pq_page_header_read(const uint8_t *p, size_t n, pq_page_header *out, size_t *hdr_len,
			bool *is_truncated, const char *path, strata_err *err);
int pq_column_index_read(const uint8_t *p, size_t n, strata_arena *a, pq_column_index *out,
			 const char *path, strata_err *err);
int pq_offset_index_read(const uint8_t *p, size_t n, strata_arena *a, pq_offset_index *out,
			 const char *path, strata_err *err);

/* ---- the reader's checked footer, for describe (parquet_read.c) ----------- */

/* Largest ColumnIndex or OffsetIndex blob the reader accepts. */
#define PQ_INDEX_MAX (64u << 20)

struct pr; /* the reader (parquet_read.c) */

/* Open path and read its footer, checked as far as metadata allows (the
 * reader's own open: magic, footer bounds, Thrift, no encryption); every
 * schema element after the root counts as a leaf.  0, STRATA_ECORRUPT or
 * STRATA_EUNSUPPORTED naming the file, or -errno.  Close with
 * pr_meta_close. */
int pr_meta_open(const char *path, struct pr **out, strata_err *err);
/* The decoded footer, lent until pr_meta_close. */
const pq_file_meta *pr_meta_footer(const struct pr *r);
/* The file's size in bytes. */
uint64_t pr_meta_size(const struct pr *r);
/* n bytes at off into buf (err may be NULL). */
int pr_meta_read(struct pr *r, void *buf, size_t n, uint64_t off, strata_err *err);
/* Pages of leaf's chunk in row group g, by walking the page headers (for
 * files without an offset index); STRATA_ECORRUPT names the damage. */
int pr_meta_count_pages(struct pr *r, uint32_t g, int leaf, uint32_t *data_pages,
			uint32_t *dict_pages, strata_err *err);
/* NULL is a no-op. */
void pr_meta_close(struct pr *r);

/* ---- value encodings (parquet_enc.c) ------------------------------------- */

/* Bits needed for v (0 for 0). */
static inline int pq_bit_width(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/* RLE/bit-packed hybrid (no length prefix) of n values of `width` bits (0..32). */
void pq_rle_encode(strata_buf *out, const uint32_t *vals, size_t n, int width);
/* Same for 0/1 bytes (definition levels, booleans), width 1. */
void pq_rle_encode_bits(strata_buf *out, const uint8_t *vals, size_t n);
/* LSB-first bit packing of n (multiple of 8, or padded) values. */
void pq_bitpack64(uint8_t *dst, const uint64_t *vals, size_t n, int width);
/* DELTA_BINARY_PACKED of n values (block 128, 4 miniblocks of 32). */
void pq_delta_encode_i64(strata_buf *out, const int64_t *vals, size_t n);
void pq_delta_encode_i32(strata_buf *out, const int32_t *vals, size_t n);

/* RLE/bit-packed hybrid decoder over [p, end).  Lenient about a last
 * bit-packed run shorter than its header claims, as long as the values
 * actually read are there. */
typedef struct pq_rle_dec {
	const uint8_t *p, *end;
	int width;
	uint32_t rle_left;
	uint32_t rle_value;
	uint32_t bp_left;       /* values left in the bit-packed run */
	const uint8_t *bp;      /* start of the run's data */
	uint64_t bp_bit;        /* next bit */
	uint64_t bp_bits_avail; /* bits of the run actually present */
} pq_rle_dec;

/* width 0..32; returns 0 or STRATA_ECORRUPT (width out of range).  The
 * decoders below return 0 or STRATA_ECORRUPT without a message: callers
 * know the file and column and say what was damaged. */
int pq_rle_init(pq_rle_dec *d, const uint8_t *p, size_t n, int width);
/* Next n values into out; STRATA_ECORRUPT if the data ends or is malformed. */
int pq_rle_get(pq_rle_dec *d, uint32_t *out, size_t n);
/* Skip n values; *count_eq gets how many equal `value` (pass NULL if not
 * needed). */
int pq_rle_skip(pq_rle_dec *d, size_t n, uint32_t value, uint64_t *count_eq);

/* DELTA_BINARY_PACKED decoder (values as wrapping uint64; INT32 columns
 * truncate).  Limits: block size a multiple of 128 up to 65536 values,
 * miniblocks of a multiple of 32 values, bit widths up to 64. */
typedef struct pq_delta_dec {
	const uint8_t *p, *end;
	uint64_t block_size, mini_count, per_mini;
	uint64_t total;     /* values in the stream */
	uint64_t left;      /* values not yet returned */
	uint64_t last;
	bool is_first;
	uint64_t min_delta;
	uint8_t widths[2048];
	uint32_t mini_idx;   /* next miniblock within the block */
	uint64_t mini_left;  /* values left in the current miniblock */
	const uint8_t *mini; /* current miniblock data */
	uint64_t mini_bit;
	uint64_t mini_bits_avail;
	int width;
} pq_delta_dec;

/* Parse the header; returns 0 or STRATA_ECORRUPT. */
int pq_delta_init(pq_delta_dec *d, const uint8_t *p, size_t n);
int pq_delta_get(pq_delta_dec *d, uint64_t *out, size_t n);
int pq_delta_skip(pq_delta_dec *d, size_t n);
/* After every value was consumed: the first byte past the stream. */
const uint8_t *pq_delta_end(const pq_delta_dec *d);

/* Read a ULEB128 varint from [*p, end); STRATA_ECORRUPT if malformed. */
int pq_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* ---- one page decoder for both readers (parquet_page.c) ------------------ */

/* Limits on what a file may claim (invariant 1 of parquet_page.c). */
#define PQ_PAGE_MAX (256u << 20)       /* a page, compressed or not */
#define PQ_FOOTER_MAX (64u << 20)
#define PQ_HEADER_WINDOW (64u << 10)   /* first read of a page header */
#define PQ_HEADER_MAX (64u << 20)
#define PQ_ROWS_MAX 1024               /* rows per pq_page_rows call */

/* A file being read: what the pages of all its columns share.  The caller
 * sets rf, path and size (pq_file_open) and owns rf; the rest belongs here
 * and pq_file_free releases it. */
typedef struct pq_file {
	strata_rfile *rf;
	const char *path;
	uint64_t size;
	/* the page being fetched, as stored: one for all columns, since a page
	 * is decompressed (or copied) into its column's own buffer before any
	 * other page is fetched */
	strata_buf raw;
	struct ZSTD_DCtx_s *zd;
	/* is_lending: strings handed out outlive their page (the batch reader):
	 * a string column's buffer, once its column moves on, is retired
	 * instead of overwritten until pq_file_release() */
	bool is_lending;
	strata_buf **spare, **retired;
	size_t nspare, nretired, cap_spare, cap_retired;
	/* content hash: per row group and leaf, a chunk's XXH3-64 when it was
	 * streamed whole (pq_file_want_hash) */
	uint32_t nleaves;
	uint64_t *chunk_hash;
	bool *is_chunk_hashed;
	/* scratch */
	uint32_t u32[PQ_ROWS_MAX];
	uint64_t u64[PQ_ROWS_MAX];
	uint32_t lv[PQ_ROWS_MAX];
} pq_file;

/* One column chunk streamed page by page.  name, leaf, ptype and
 * is_optional are set by the caller; pq_col_open sets up the rest. */
typedef struct pq_col {
	const char *name;
	int leaf;
	int ptype;
	bool is_optional;
	/* chunk */
	uint32_t rg;
	int codec;
	uint64_t chunk_start, chunk_end, pos;
	int64_t chunk_rows; /* rows in the row group */
	int64_t rows_seen;  /* rows covered by the data pages loaded so far */
	bool seen_data_page;
	/* dictionary: the decompressed page; fixed-width and boolean entries
	 * read in place, BYTE_ARRAY entries as refs into it */
	bool has_dict;
	uint32_t dict_n;
	strata_buf *dict;
	strata_strref *dict_refs;
	uint32_t dict_cap;
	/* page */
	strata_buf *page;  /* decompressed body (values point into it) */
	strata_buf levels; /* a V2 page's definition levels, copied out of raw */
	int32_t page_left, page_values;
	int enc;
	bool has_defs;
	pq_rle_dec defs;
	const uint8_t *vp, *vend; /* values section */
	bool is_values_ready;     /* lazy set-up done */
	uint64_t bool_bit;
	pq_rle_dec idx;
	pq_delta_dec delta;
	const uint8_t *dl_data, *dl_end;
	uint64_t bss_n, bss_i;
	/* the chunk's bytes hashed so far, [chunk_start, hash_pos) */
	XXH3_state_t *xs;
	uint64_t hash_pos;
	bool is_hashing;
} pq_col;

/* Open path and read its footer into fm (decoded into a; the footer's
 * bytes, which fm points into, in *footer for the caller to free): magic
 * at both ends, the footer's length, no encryption.  0, STRATA_ECORRUPT,
 * STRATA_EUNSUPPORTED (encrypted) or -errno; the caller closes f->rf with
 * pq_file_free either way. */
int pq_file_open(pq_file *f, const char *path, strata_arena *a, pq_file_meta *fm,
		 uint8_t **footer, size_t *footer_len, strata_err *err);
/* Give back every retired buffer (the strings in them are no longer used). */
void pq_file_release(pq_file *f);
/* Free what f owns, rf included (f itself is the caller's). */
void pq_file_free(pq_file *f);
/* Stream every column chunk opened from now on through its own hash. */
void pq_file_want_hash(pq_file *f, const pq_file_meta *fm, uint32_t nleaves);
/* The file's content hash (format.h): chunks streamed whole from
 * f->chunk_hash, everything else read here.  0, STRATA_ECORRUPT (chunks
 * outside the file or overlapping) or -errno. */
int pq_file_content_hash(pq_file *f, const pq_file_meta *fm, uint32_t nleaves, uint64_t *out,
			 strata_err *err);

/* The byte range of column chunk (g, leaf), checked against the file. */
int pq_chunk_range(const pq_file *f, const pq_file_meta *fm, uint32_t g, int leaf,
		   const char *name, uint64_t *start, uint64_t *end, strata_err *err);
/* STRATA_ECORRUPT naming the file, c, its row group, offset and what. */
int pq_col_corrupt(const pq_file *f, const pq_col *c, strata_err *err, const char *what);
/* Open c's chunk in row group g at its first page (hashing it when f wants
 * hashes). */
int pq_col_open(pq_file *f, const pq_file_meta *fm, pq_col *c, uint32_t g, strata_err *err);
/* Free c's buffers (c itself is the caller's). */
void pq_col_free(pq_col *c);
/* Fetch the page at c->pos into f->raw: its header in *h, its length in
 * *hdr_len; the page's CRC checked when its header has one.  Does not move
 * c->pos. */
int pq_page_fetch(pq_file *f, pq_col *c, pq_page_header *h, size_t *hdr_len, strata_err *err);
/* Load the dictionary page just fetched (h, hdr_len) into c. */
int pq_dict_load(pq_file *f, pq_col *c, const pq_page_header *h, size_t hdr_len,
		 strata_err *err);
/* Load c's next data page (applying a dictionary page first if one comes);
 * STRATA_ECORRUPT if the chunk ends before its rows. */
int pq_page_next(pq_file *f, pq_col *c, strata_err *err);
/* The physical type strata stores type t as (-1 for none). */
int pq_ptype_of(strata_type t);
/* Bytes of one decoded value of a physical type in pq_page_rows' arrays:
 * 8 (INT64, DOUBLE), 4 (INT32, FLOAT), 1 (BOOLEAN, 0/1), strata_strref. */
size_t pq_value_width(int ptype);
/* Decode the next k rows of c's current page (k <= c->page_left,
 * k <= PQ_ROWS_MAX) into dst (pq_value_width each) and nulls (1: null, its
 * value zeroed).  Strings point into the page or the dictionary. */
int pq_page_rows(pq_file *f, pq_col *c, uint8_t *dst, uint8_t *nulls, uint32_t k,
		 strata_err *err);
/* Skip n rows of c's current page (n <= c->page_left) without decoding. */
int pq_page_skip(pq_file *f, pq_col *c, uint64_t n, strata_err *err);
/* c's row group ended: finish its chunk's hash (bytes after the last page
 * read raw) into f->chunk_hash. */
int pq_chunk_hash_finish(pq_file *f, pq_col *c, strata_err *err);

#endif
