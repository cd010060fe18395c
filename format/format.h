/*
 * format/format.h — the contract of the format layer: the record model and
 * schema, the order-preserving key encoding, file statistics, and the two
 * data-file kinds behind one writer and one reader interface:
 *   - row files: Avro object container files (Apache Avro C), level 0,
 *     written by writers; their records carry no _seq (it is the version
 *     that committed the file);
 *   - columnar files: Parquet (hand-written, zstd), level >= 1, written by
 *     jobs; they store _seq and _op per record.
 *
 * Every data file is a sorted run: primary key ascending (memcmp order of
 * the encoded key), then _seq descending.  The writer interface checks this,
 * and the k-way merge iterator (format/merge.c) combines any number of runs
 * into one stream under a history rule: reads (table/) and jobs (merge/)
 * both stream through it.  strata_file_describe (format/describe.c) is the
 * text of `strata file meta`.
 *
 * Ownership: rows handed out by readers are lent until the next call on the
 * same reader; rows given to writers are copied before the call returns.
 * Thread safety: a handle is used by one thread at a time.
 */
#ifndef STRATA_FORMAT_H
#define STRATA_FORMAT_H

#include "core/core.h"

/* ------------------------------------------------------------------------ */
/* Types, columns, schemas                                                  */
/* ------------------------------------------------------------------------ */

typedef enum strata_type {
	STRATA_T_LONG = 1,  /* BIGINT: int64 */
	STRATA_T_INT,       /* INT: int32 */
	STRATA_T_DOUBLE,    /* DOUBLE */
	STRATA_T_FLOAT,     /* FLOAT */
	STRATA_T_BOOL,      /* BOOLEAN */
	STRATA_T_STRING,    /* STRING: UTF-8 bytes */
	STRATA_T_BYTES,     /* BINARY */
	STRATA_T_TIMESTAMP, /* TIMESTAMP: int64 microseconds since the epoch, UTC */
	STRATA_T_DATE,      /* DATE: int32 days since 1970-01-01 */
	STRATA_T_DECIMAL,   /* DECIMAL(p,s): 128-bit unscaled integer, 1 <= p <= 38,
			       0 <= s <= p; the column carries p and s */
} strata_type;

#define STRATA_T_LAST STRATA_T_DECIMAL
#define STRATA_DECIMAL_MAX_PRECISION 38

#define STRATA_MAX_COLS 1024
#define STRATA_MAX_KEY_COLS 8
#define STRATA_MAX_KEY_BYTES 4096
#define STRATA_MAX_VALUE_BYTES (64u * 1024 * 1024)

/* The SQL name of a type ("BIGINT", ...); parse accepts those names case-
 * insensitively (plus LONG, INTEGER, BYTES, BOOL, VARCHAR aliases).  For
 * DECIMAL the name is "DECIMAL" without its precision and scale; parse
 * takes a bare "DECIMAL" only (strata_column_type_parse takes the rest). */
const char *strata_type_name(strata_type t);
int strata_type_parse(const char *s, strata_type *out);

typedef struct strata_column {
	char name[STRATA_NAME_MAX + 1];
	strata_type type;
	uint32_t id;      /* stable within the table, never reused */
	bool is_nullable; /* key columns are never nullable */
	int key_pos;      /* position in the primary key, or -1 */
	uint8_t precision; /* DECIMAL only (1..38), else 0 */
	uint8_t scale;     /* DECIMAL only (0..precision), else 0 */
} strata_column;

/* Parse a column type as DDL spells it ("BIGINT", "decimal(18, 2)",
 * "DECIMAL(10)" = DECIMAL(10,0), "DATE") into c->type, c->precision and
 * c->scale.  STRATA_EINVAL naming the column and the rule (precision 1 to
 * 38, scale 0 to precision) when it is not a type. */
int strata_column_type_parse(const char *text, strata_column *c, strata_err *err);
/* Append the column's type as DDL spells it ("DECIMAL(18,2)", "BIGINT"). */
void strata_column_type_format(const strata_column *c, strata_buf *out);
/* The same into a caller's buffer (at least 16 bytes); returns it. */
const char *strata_column_type_str(const strata_column *c, char *buf, size_t n);
/* Whether a file written with column type `from` reads as `to` (type
 * widening, docs/CLI.md "alter-table"): equal types; INT -> BIGINT;
 * FLOAT -> DOUBLE; DECIMAL(p,s) -> DECIMAL(p',s) with p' >= p. */
bool strata_column_type_widens(const strata_column *from, const strata_column *to);

/* One schema version of a table.  Partition columns are not part of it (they
 * live in the table definition and are not stored in data files). */
typedef struct strata_schema {
	uint32_t version;
	uint32_t ncols;
	strata_column *cols; /* owned */
	uint32_t nkeys;
	uint32_t key_cols[STRATA_MAX_KEY_COLS]; /* indexes into cols, key order */
} strata_schema;

strata_schema *strata_schema_new(uint32_t version);
strata_schema *strata_schema_dup(const strata_schema *s);
void strata_schema_free(strata_schema *s);
/* Append a column (copied); recomputes key_cols from key_pos. */
int strata_schema_add(strata_schema *s, const strata_column *c, strata_err *err);
/* Index of the column named name / with id, or -1. */
int strata_schema_find(const strata_schema *s, const char *name);
int strata_schema_find_id(const strata_schema *s, uint32_t id);
/* Check names, key positions (0..nkeys-1, each once, not nullable), ids. */
int strata_schema_validate(const strata_schema *s, strata_err *err);
/* Serialize as JSON text (caller frees) / parse it back. */
char *strata_schema_to_json(const strata_schema *s);
int strata_schema_from_json(const char *json, size_t len, strata_schema **out,
			    strata_err *err);
/* A copy holding only the named columns plus every key column (in schema
 * order).  names: comma-separated; unknown names are STRATA_ENOTFOUND. */
int strata_schema_project(const strata_schema *s, const char *names,
			  strata_schema **out, strata_err *err);
/* Whether row files can be written with s: Avro C serialises the schema into
 * a 64 KiB header buffer, so a wide table with long column names may not
 * fit.  0, or STRATA_ELIMIT with the size and the fix.  For DDL, before a
 * schema is committed. */
int strata_schema_check_writable(const strata_schema *s, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Values and rows                                                          */
/* ------------------------------------------------------------------------ */

typedef struct strata_value {
	bool is_null;
	union {
		int64_t i64; /* LONG, TIMESTAMP */
		int32_t i32; /* INT */
		double f64;
		float f32;
		bool b;
		struct {
			const uint8_t *ptr;
			uint32_t len;
		} s; /* STRING, BYTES */
		struct {
			uint64_t lo;
			int64_t hi;
		} dec; /* DECIMAL: the unscaled value, two's complement */
	} v;
} strata_value;
/* DATE values use v.i32 (days since 1970-01-01). */

/* A DECIMAL's unscaled value as one 128-bit integer (GCC/Clang __int128:
 * the value keeps two 64-bit halves so that strata_value stays 8-aligned). */
typedef __int128 strata_i128;
static inline strata_i128 strata_dec_get(const strata_value *v)
{
	return (strata_i128)(((unsigned __int128)(uint64_t)v->v.dec.hi << 64) | v->v.dec.lo);
}
static inline void strata_dec_set(strata_value *v, strata_i128 x)
{
	v->v.dec.lo = (uint64_t)x;
	v->v.dec.hi = (int64_t)(x >> 64);
}
/* 10^p for p in 0..38. */
strata_i128 strata_dec_pow10(int p);
/* Parse decimal text ("-12.340", "1e3", "+.5") exactly as DECIMAL(p,s) of
 * column c: the digits are never taken through a double.  Fewer fraction
 * digits than s are padded with zeros; more are an error unless they are
 * zeros, as is a value needing more than p digits.  STRATA_EINVAL naming
 * the column and the reason. */
int strata_dec_parse(const strata_column *c, const char *text, size_t len, strata_i128 *out,
		     strata_err *err);
/* Append x at scale s as text: "-12.340" (no exponent, s fraction digits). */
void strata_dec_format(strata_i128 x, int scale, strata_buf *out);
/* DATE: "YYYY-MM-DD" (years 0001..9999) <-> days since 1970-01-01. */
int strata_date_parse(const char *s, int32_t *out_days);
void strata_date_format(int32_t days, strata_buf *out);

enum { STRATA_OP_UPSERT = 0, STRATA_OP_DELETE = 1 };

/* A record: the user columns (laid out like a schema's cols) plus _seq and
 * _op.  A delete carries its key columns; the others are null. */
typedef struct strata_row {
	int64_t seq;
	uint8_t op;
	uint32_t ncols;
	strata_value *vals;
} strata_row;

/* Deep copy of row (laid out like s) into arena memory. */
void strata_row_copy(strata_arena *a, const strata_schema *s,
		     const strata_row *src, strata_row *dst);
/* Equality of two values of type t (NaN equals NaN bitwise). */
bool strata_value_eq(strata_type t, const strata_value *a, const strata_value *b);

/* JSON conversion (jansson objects as text).  from_json: obj is a JSON
 * object; unknown fields, wrong types, missing key columns and nulls in NOT
 * NULL columns are STRATA_EINVAL naming the column.  "_op":"delete" makes a
 * delete (only key columns may be given then).  Strings go into arena. */
struct json_t;
int strata_row_from_json(const strata_schema *s, struct json_t *obj,
			 strata_arena *a, strata_row *out, strata_err *err);
/* Parse text[0..len) as one JSON value (a row, a --key) into *out (a new
 * reference the caller decrefs).  A key given twice in any object is
 * STRATA_EINVAL naming the key and its column ("duplicate key \"id\" at
 * column 24"), never last-wins; malformed JSON is STRATA_EINVAL "malformed
 * JSON at column N: " and jansson's reason.  Whether it is an object is the
 * caller's check. */
int strata_json_parse(const char *text, size_t len, struct json_t **out, strata_err *err);
/* Append row as a JSON object to out.  with_meta adds "_seq" and "_op". */
void strata_row_to_json(const strata_schema *s, const strata_row *row,
			bool with_meta, strata_buf *out);
/* Append one value as JSON.  A DECIMAL prints at scale 0 here (the
 * unscaled integer): strata_column_value_to_json knows the column's scale. */
void strata_value_to_json(strata_type t, const strata_value *v, strata_buf *out);
/* Append one value of column c as JSON / as text (DECIMAL at c's scale). */
void strata_column_value_to_json(const strata_column *c, const strata_value *v,
				 strata_buf *out);
void strata_column_value_to_text(const strata_column *c, const strata_value *v,
				 strata_buf *out);
/* Parse "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC, 'T' and 'Z' accepted) into
 * microseconds since the epoch; STRATA_EINVAL if malformed. */
int strata_timestamp_parse(const char *s, int64_t *out_us);
/* Append a timestamp as "YYYY-MM-DD HH:MM:SS.ffffff". */
void strata_timestamp_format(int64_t us, strata_buf *out);
/* Append one value as text for CSV/table output (NULL as empty / "NULL"). */
void strata_value_to_text(strata_type t, const strata_value *v, strata_buf *out);

/* ------------------------------------------------------------------------ */
/* Key encoding                                                             */
/* ------------------------------------------------------------------------ */

/* Append the order-preserving encoding of row's key columns to out:
 *   LONG/TIMESTAMP: 8 bytes big-endian, sign bit flipped;
 *   INT/DATE: 4 bytes big-endian, sign bit flipped;
 *   DECIMAL: the unscaled value as 16 bytes big-endian two's complement,
 *     sign bit flipped (the scale is the column's, so equal for all keys);
 *   DOUBLE/FLOAT: IEEE bits big-endian; negative: all bits flipped,
 *     otherwise the sign bit flipped (-0.0 and 0.0 encode differently);
 *   BOOL: one byte 0 or 1;
 *   STRING/BYTES: the bytes with 0x00 escaped as 0x00 0xFF, then 0x00.
 * memcmp on two encodings orders keys like the key columns in order.
 * Fails with STRATA_EINVAL on a null key column and STRATA_ELIMIT past
 * STRATA_MAX_KEY_BYTES. */
int strata_key_encode(const strata_schema *s, const strata_row *row,
		      strata_buf *out, strata_err *err);
/* Decode key bytes into vals[0..nkeys) (key order).  Strings point into key,
 * or into arena a when they hold escaped 0x00 bytes (without an arena such
 * keys are STRATA_EUNSUPPORTED).  STRATA_ECORRUPT if the bytes are not a
 * valid encoding for s. */
int strata_key_decode(const strata_schema *s, const uint8_t *key, size_t len,
		      strata_value *vals, strata_arena *a, strata_err *err);
/* Append the decoded key as a JSON object {"a":1,"b":"x"} (or a hex string
 * if it does not decode). */
void strata_key_to_json(const strata_schema *s, const uint8_t *key, size_t len,
			strata_buf *out);
/* memcmp order with length tie-break. */
int strata_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* The same, inline, deciding on the first 8 bytes as one big-endian word
 * when both keys have them (most keys differ there: a BIGINT key is exactly
 * 8 bytes): for the per-record compares of merges, readers and writers. */
static inline int strata_key_cmp_inline(const uint8_t *a, size_t alen, const uint8_t *b,
					size_t blen)
{
	if (alen >= 8 && blen >= 8) {
		uint64_t x, y;
		__builtin_memcpy(&x, a, 8);
		__builtin_memcpy(&y, b, 8);
		if (x != y)
			return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
		if (alen == 8 && blen == 8)
			return 0;
	}
	return strata_key_cmp(a, alen, b, blen);
}

/* ------------------------------------------------------------------------ */
/* File statistics and the distinct-key sketch                             */
/* ------------------------------------------------------------------------ */

/* A HyperLogLog of 256 one-byte registers over XXH3(key, seed 0x5eed5eed). */
#define STRATA_SKETCH_REGS 256
void strata_sketch_add(uint8_t *regs, const uint8_t *key, size_t len);
void strata_sketch_merge(uint8_t *dst, const uint8_t *src);
double strata_sketch_estimate(const uint8_t *regs);

typedef struct strata_file_stats {
	uint64_t rows;
	uint64_t tombstones; /* deletes */
	uint64_t keys;       /* distinct keys (records come in key order) */
	uint64_t bytes;      /* file size */
	int64_t seq_min, seq_max;
	strata_buf key_min, key_max; /* encoded keys; owned */
	uint8_t sketch[STRATA_SKETCH_REGS];
	/* The file's content hash (see "Content hash" below), computed from
	 * the bytes as the writer wrote them: no read pass. */
	uint64_t content_hash;
	bool has_content_hash;
	/* Columnar files: XXH3-64 of the footer (FileMetaData) bytes, which
	 * every read, point lookups too, checks before trusting the footer's
	 * statistics and offsets. */
	uint64_t footer_hash;
	bool has_footer_hash;
} strata_file_stats;

void strata_file_stats_init(strata_file_stats *st);
void strata_file_stats_free(strata_file_stats *st);

/* ------------------------------------------------------------------------ */
/* Content hash                                                             */
/* ------------------------------------------------------------------------ */

/* Every data file strata writes has a 64-bit content hash, kept in its
 * manifest entry and checked whenever the file is read whole:
 *   - row files (Avro): XXH3-64 (seed 0) of the file's bytes, as
 *     `xxhsum -H3` prints it;
 *   - columnar files (Parquet): the file is cut into segments at every
 *     column chunk's first and past-the-end offset (so: the leading magic,
 *     each column chunk, then the page indexes, footer and trailing magic;
 *     any gap is a segment of its own); the hash is XXH3-64 (seed 0) of
 *     the segments' XXH3-64 values, each as 8 bytes little-endian, in file
 *     order.  Readers stream each column chunk they decode through its own
 *     hash, so a full read verifies the file without a second pass.
 * The segment boundaries come from the footer, which lies inside the last
 * segment: damage to it changes the hash as surely as damage to a page. */

/* The content hash of the file at path, reading it once (for tools and
 * tests; readers verify while they read).  STRATA_ECORRUPT if a Parquet
 * footer does not parse. */
int strata_file_hash(const char *path, uint64_t *out, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Writing data files                                                       */
/* ------------------------------------------------------------------------ */

typedef enum strata_format {
	STRATA_FMT_AVRO = 1,
	STRATA_FMT_PARQUET = 2,
} strata_format;

const char *strata_format_name(strata_format f); /* "avro" / "parquet" */

typedef enum strata_codec {
	STRATA_CODEC_NONE = 0, /* Avro "null" / Parquet UNCOMPRESSED */
	STRATA_CODEC_DEFLATE,  /* Avro only */
	STRATA_CODEC_ZSTD,     /* Parquet only */
} strata_codec;

typedef struct strata_write_opts {
	strata_format format;
	strata_codec codec;
	int zstd_level;            /* Parquet, default 3 */
	uint64_t row_group_bytes;  /* Parquet, default 64 MiB */
	uint64_t page_bytes;       /* Parquet, default 1 MiB */
	uint64_t dict_max_bytes;   /* Parquet dictionary fallback, default 1 MiB */
	uint64_t buffer_bytes;     /* Parquet: compressed pages of the open row
				      group kept in memory; beyond it they wait
				      in an unlinked temp file next to the
				      output (0: 8 MiB) */
	uint64_t avro_block_bytes; /* Avro block buffer; must hold the largest
				      record (0: 64 KiB) */
	/* Avro only: not NULL writes the file's bytes into *mem_out (emptied
	 * first) and makes no file: finish leaves them there, durable nowhere
	 * (an inline row file, kept in its manifest entry; table/txn.c). */
	strata_buf *mem_out;
} strata_write_opts;

void strata_write_opts_default(strata_write_opts *o, strata_format f);

typedef struct strata_fwriter strata_fwriter;

/* Start a data file at path (written to a temp name; see strata_wfile).
 * schema is lent for the writer's lifetime.  For Avro files the rows' seq is
 * not stored (the commit version is the _seq of every record). */
int strata_fwriter_open(const char *path, const strata_schema *schema,
			const strata_write_opts *opts, strata_fwriter **out,
			strata_err *err);
/* Append a record; rows must come in (key asc, _seq desc) order, with no
 * repeated (key, _seq) — else STRATA_EINVAL.  row is copied. */
int strata_fwriter_add(strata_fwriter *w, const strata_row *row, strata_err *err);
/* Encoded key of the last added row (lent until the next add). */
const strata_buf *strata_fwriter_last_key(const strata_fwriter *w);
/* Estimated bytes of the file so far (for splitting outputs). */
uint64_t strata_fwriter_bytes(const strata_fwriter *w);
uint64_t strata_fwriter_rows(const strata_fwriter *w);
/* Finish: write footers, fsync, rename, fsync the directory; fill *stats
 * (caller frees with strata_file_stats_free).  Frees w, on failure too (the
 * temp file is then removed). */
int strata_fwriter_finish(strata_fwriter *w, strata_file_stats *stats,
			  strata_err *err);
/* Abandon: remove the temp file and free.  NULL is a no-op. */
void strata_fwriter_abort(strata_fwriter *w);

/* ------------------------------------------------------------------------ */
/* Reading data files as sorted runs                                        */
/* ------------------------------------------------------------------------ */

/* Bytes lent by their owner (an inline row file's, in its manifest entry). */
typedef struct strata_bytes {
	const uint8_t *data;
	size_t len;
} strata_bytes;

typedef struct strata_run_opts {
	/* Schema the file was written with (from the manifest).  NULL: take it
	 * from the file itself (Parquet's strata.schema metadata; an Avro file's
	 * schema, where key columns are then unknown). */
	const strata_schema *file_schema;
	/* Rows come out in this layout, matched by column id; columns the file
	 * lacks read as null.  NULL: the file schema.  Only columns present in
	 * read_schema are decoded (projection); key columns always are. */
	const strata_schema *read_schema;
	/* _seq of records in files that store none (Avro row files). */
	int64_t default_seq;
	/* Only records with seq_min < _seq <= seq_max (0 and 0: no filter). */
	int64_t seq_min;
	int64_t seq_max;
	/* What the manifest entry says the file holds, or NULL (a file with no
	 * entry: nothing is checked).  See strata_run_expect. */
	const struct strata_run_expect *expect;
	/* An inline row file (its manifest entry holds the bytes, no file
	 * exists): data not NULL reads these bytes, lent for the run's
	 * lifetime, as the file path names (path is then only for messages). */
	strata_bytes mem;
} strata_run_opts;

/* The manifest's word on a file, checked by the reader (any difference is
 * STRATA_ECORRUPT naming the file and the reason):
 *   - a columnar file's footer has the footer hash (when has_footer_hash),
 *     checked at open, before its statistics and offsets are used;
 *   - every record's key lies in [key_min, key_max] (when has_keys);
 *   - a read that reaches the end without a seek (a whole read) saw
 *     exactly `rows` records, the first at key_min and the last at
 *     key_max, and, when has_hash and is_verify_hash, the file's content
 *     hash equals `hash` ("checksum mismatch (expected ..., got ...)").
 * An entry written before content hashes existed has has_hash false: its
 * hash is not known and not checked.  The struct is copied at open; the
 * key pointers are lent for the run's lifetime. */
typedef struct strata_run_expect {
	uint64_t rows;
	bool has_keys;
	const uint8_t *key_min, *key_max;
	size_t key_min_len, key_max_len;
	bool has_hash;
	uint64_t hash;
	/* A columnar file's footer hash, checked at open by every read (a
	 * mismatch: "footer checksum mismatch"). */
	bool has_footer_hash;
	uint64_t footer_hash;
	/* Compare the content hash at the end of a whole read.  A Parquet
	 * reader that decoded only some columns then reads the others' chunks
	 * (raw, not decoded) to finish the hash. */
	bool is_verify_hash;
} strata_run_expect;

typedef struct strata_run strata_run;

/* Open path (format detected by magic bytes) as a sorted run. */
int strata_run_open(const char *path, const strata_run_opts *opts,
		    strata_run **out, strata_err *err);
/* Next record: returns 1 with *row (and *key, *key_len when not NULL) lent
 * until the next call, 0 at the end, or a negative code (STRATA_ECORRUPT
 * names the file and what is wrong). */
int strata_run_next(strata_run *r, const strata_row **row, const uint8_t **key,
		    size_t *key_len, strata_err *err);
/* Position so that next() returns the first record with key >= key.  Uses
 * statistics and page indexes where the format has them. */
int strata_run_seek(strata_run *r, const uint8_t *key, size_t key_len,
		    strata_err *err);
/* Schema of the file (lent for the run's lifetime). */
const strata_schema *strata_run_file_schema(const strata_run *r);
strata_format strata_run_format(const strata_run *r);
/* Whether the run reached its end with the content hash verified against
 * opts->expect (false when there was nothing to verify). */
bool strata_run_is_verified(const strata_run *r);
/* Records decoded so far (including ones filtered out), for pruning tests. */
uint64_t strata_run_rows_decoded(const strata_run *r);
void strata_run_close(strata_run *r);

/* ---- Statistics of units of rows, for predicate pruning ----------------
 * A unit is a whole file or a range of rows inside a columnar file's row
 * group.  For one column over a unit: has_bounds says every value that is
 * neither null nor NaN lies in [min, max] (bounds, not necessarily values
 * of the unit: a long string bound may be truncated); has_null_count says
 * null_count is the exact number of nulls; may_have_nan (FLOAT, DOUBLE)
 * that NaNs may be there, outside the bounds.  What is unknown is said
 * unknown, never guessed (parquet_read.c invariant 4). */
typedef struct strata_colstat {
	bool has_bounds;
	strata_value min, max;
	bool has_null_count;
	uint64_t null_count;
	bool may_have_nan;
} strata_colstat;

/* Whether some row of a unit of `rows` rows, whose columns (in the read
 * schema's layout) have the statistics cols, may be wanted: false proves
 * that none is.  Called on the reading thread; must not keep cols. */
typedef bool (*strata_unit_fn)(void *arg, const strata_colstat *cols, uint64_t rows);

/* Whole-file statistics of r's columns, in the read schema's layout
 * (cols[0..read_schema->ncols); a column the file lacks is all null), and
 * the file's rows.  Strings are lent for the run's lifetime.  1 with them
 * filled, 0 when the file keeps none (row files). */
int strata_run_colstats(strata_run *r, strata_colstat *cols, uint64_t *rows);

/* Masking (before the first next or seek): every range of rows of a
 * columnar file whose page statistics make fn return false comes out as
 * deletes carrying only the key columns and _seq; the pages of the other
 * columns there are never read, and *pages_skipped (lent for the run's
 * lifetime, may be NULL) grows by their number.  Only for reads with the
 * LATEST rule that keep rows fn could want: a record that cannot be
 * wanted hides its key's older records exactly as the unwanted newest
 * record would have.  A masked read is not a whole read for the content
 * hash (not verified); row counts and key ranges still are.  A no-op on
 * row files and on files without key columns or page indexes. */
void strata_run_set_mask(strata_run *r, strata_unit_fn fn, void *arg, uint64_t *pages_skipped);

/* ------------------------------------------------------------------------ */
/* The k-way merge of sorted runs (format/merge.c)                          */
/* ------------------------------------------------------------------------ */

/* The merge iterator combines any number of runs of any file kind into one
 * stream in the same order (key asc, _seq desc) and applies one rule per key:
 *   KEEP_ALL      every record (sort and leveled merge; incremental reads);
 *   BOUNDARY(B)   every record with _seq > B plus the newest with _seq <= B;
 *                 that newest one is dropped too if it is a delete and
 *                 drop_deletes is set (partial compaction, when the inputs
 *                 hold every live file of the bucket with records <= B);
 *   LATEST        only the newest record; a delete is dropped if
 *                 drop_deletes is set (snapshot reads, major compaction).
 * Records repeated in several runs with the same (key, _seq) come out once.
 *
 * Memory: one current record per run (each run holds about one block or page
 * per column), independent of file sizes.  Thread safety: one thread. */
typedef enum strata_merge_rule {
	STRATA_MERGE_KEEP_ALL = 0,
	STRATA_MERGE_BOUNDARY,
	STRATA_MERGE_LATEST,
} strata_merge_rule;

typedef struct strata_merge strata_merge;

/* Start a merge over runs[0..n) (ownership of the runs passes to the merge;
 * they must share one read schema).  boundary is used by BOUNDARY only. */
int strata_merge_new(strata_run **runs, size_t n, strata_merge_rule rule, int64_t boundary,
		     bool drop_deletes, strata_merge **out, strata_err *err);
/* Next record: 1 with *row and *key lent until the next call, 0 at the end,
 * < 0 on error (from a run: the file is named). */
int strata_merge_next(strata_merge *m, const strata_row **row, const uint8_t **key,
		      size_t *key_len, strata_err *err);
/* Position the merge so that next() returns the first record with key >= key
 * (point lookups, key ranges).  Forward only: key must lie past every key
 * next() has returned or passed and not before the previous seek's key, since
 * row files cannot seek backwards; otherwise STRATA_EINVAL and the merge is
 * unchanged.  Errors from the runs' seeks name the file. */
int strata_merge_seek(strata_merge *m, const uint8_t *key, size_t key_len, strata_err *err);
/* Records read from all runs so far, and records emitted. */
uint64_t strata_merge_rows_in(const strata_merge *m);
uint64_t strata_merge_rows_out(const strata_merge *m);
/* Records decoded by the runs (includes those the runs filtered). */
uint64_t strata_merge_rows_decoded(const strata_merge *m);
/* Close every run and free.  NULL is a no-op. */
void strata_merge_free(strata_merge *m);

/* Detect a data file's format from its magic bytes. */
int strata_format_detect(const char *path, strata_format *out, strata_err *err);

/* Print a human description of a data file (format, schema, blocks or row
 * groups, pages, encodings, statistics, sizes) to out. */
int strata_file_describe(const char *path, FILE *out, strata_err *err);


/* ------------------------------------------------------------------------ */
/* Whole-file columnar reads of Parquet files (format/parquet_batch.c)      */
/* ------------------------------------------------------------------------ */

/* For a file whose rows need no merge (a scan's fast path): its rows in
 * file order, column by column, straight into typed arrays.  No _seq, _op
 * or key is read or checked: the caller knows from the manifest that the
 * file holds every key once, no delete, nothing newer than it reads. */
typedef struct strata_pqbatch strata_pqbatch;

/* A string or binary value: bytes lent by the reader (see read). */
typedef struct strata_strref {
	const uint8_t *ptr;
	uint32_t len;
} strata_strref;

/* Open path to read it in the layout of read_schema (NULL: the file's),
 * columns matched by id, those the file lacks read as null.  file_schema:
 * as in strata_run_opts (NULL: the file's strata.schema metadata).  want[i]
 * (NULL: all) says which read columns are decoded.  STRATA_EUNSUPPORTED if
 * the file cannot be read this way (not a strata file, an encoding or
 * layout strata does not read: read it as a run instead); STRATA_ECORRUPT
 * naming the file and the damage; -errno. */
int strata_pqbatch_open(const char *path, const strata_schema *file_schema,
			const strata_schema *read_schema, const bool *want, strata_pqbatch **out,
			strata_err *err);
/* Rows in the file (its footer's count). */
uint64_t strata_pqbatch_rows(const strata_pqbatch *b);
/* Bytes of one value of type t in the arrays read fills: int64_t (BIGINT,
 * TIMESTAMP), int32_t (INT, DATE), double, float, uint8_t 0/1 (BOOLEAN),
 * strata_strref (STRING, BINARY), strata_i128 (DECIMAL, the unscaled
 * value, 16-byte aligned arrays). */
size_t strata_pqbatch_width(strata_type t);
/* The next up to n rows: for every wanted column i, data[i][0..*got) and
 * nulls[i][0..*got) (1: null, its value zeroed); data and nulls of columns
 * not wanted are not touched (may be NULL).  *got < n only at the end of
 * the file.  Strings stay valid until strata_pqbatch_release() or close.
 * 0 or a negative code (STRATA_ECORRUPT names the file, column and damage;
 * rows already filled are then unspecified). */
int strata_pqbatch_read(strata_pqbatch *b, size_t n, void *const *data, uint8_t *const *nulls,
			size_t *got, strata_err *err);
/* Verify while reading (call right after open): each decoded column chunk
 * streams through its own hash, so that after a read to the end
 * strata_pqbatch_content_hash costs only a raw read of what was not decoded. */
void strata_pqbatch_want_hash(strata_pqbatch *b);
/* After every row was read: 1 with the file's content hash (see "Content
 * hash" above) in *out, 0 if the file was not read to its end, or < 0
 * (STRATA_ECORRUPT naming the file, -errno). */
int strata_pqbatch_content_hash(strata_pqbatch *b, uint64_t *out, strata_err *err);
/* Give back every string handed out so far (their memory is reused). */
void strata_pqbatch_release(strata_pqbatch *b);
/* NULL is a no-op. */
void strata_pqbatch_close(strata_pqbatch *b);

#endif
