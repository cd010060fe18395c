/*
 * format/format_int.h — the backend interface between the generic writer and
 * reader (format/file.c) and the file kinds (format/avro.c,
 * format/parquet*.c).  Only format/ includes this header.
 *
 * The generic layer owns everything the kinds share: the key encoding, the
 * order check, statistics and the sketch, mapping file columns to the read
 * schema by id, _seq filtering, and skipping records below a sought key.  A
 * backend only encodes and decodes records in the file's own column layout.
 */
#ifndef STRATA_FORMAT_INT_H
#define STRATA_FORMAT_INT_H

#include "format/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

/* A fresh XXH3-64 streaming state (seed 0); aborts when out of memory, as
 * strata_malloc does.  Free with XXH3_freeState. */
static inline XXH3_state_t *strata_xxh3_new(void)
{
	XXH3_state_t *s = XXH3_createState();
	if (!s) {
		fputs("strata: out of memory (hash state)\n", stderr);
		abort();
	}
	XXH3_64bits_reset(s);
	return s;
}

/* What a finished file is: its size and hashes (format.h). */
typedef struct strata_fw_done {
	uint64_t file_bytes;
	uint64_t content_hash;
	bool has_footer_hash;
	uint64_t footer_hash;
} strata_fw_done;

typedef struct strata_fw_backend {
	const char *name;
	/* Begin writing path (via strata_wfile).  schema lent for the lifetime. */
	int (*open)(const char *path, const strata_schema *schema,
		    const strata_write_opts *opts, void **state, strata_err *err);
	/* One record in schema layout, in sorted order (already checked). */
	int (*add)(void *state, const strata_row *row, strata_err *err);
	/* Estimated file bytes so far. */
	uint64_t (*bytes)(void *state);
	/* Write footers (stats carries rows, seq and key ranges for metadata),
	 * make durable, free state.  Fills *done.  Frees on failure too. */
	int (*finish)(void *state, const strata_file_stats *stats, struct strata_fw_done *done,
		      strata_err *err);
	void (*abort)(void *state);
} strata_fw_backend;

typedef struct strata_fr_backend {
	const char *name;
	/* Open path.  file_schema may be NULL (derive from the file).  need[i]
	 * tells whether column i of the file schema must be decoded (set after
	 * open through set_need, since the schema may come from the file). */
	int (*open)(const char *path, const strata_schema *file_schema,
		    void **state, strata_err *err);
	/* Optional (NULL: the format is never inline): open the bytes in mem
	 * (lent for the state's lifetime) as the file path names. */
	int (*open_mem)(const char *path, const strata_bytes *mem,
			const strata_schema *file_schema, void **state, strata_err *err);
	/* The file's schema (lent). */
	const strata_schema *(*schema)(void *state);
	/* Which file columns to decode; the array is lent for the lifetime and
	 * has schema()->ncols entries. */
	void (*set_need)(void *state, const bool *need);
	/* Next record in file layout: fills row->vals[0..ncols), row->op and,
	 * if the file stores it, row->seq (else leaves it).  Returns 1, 0 at
	 * end, or < 0.  Values stay valid until the next call. */
	int (*next)(void *state, strata_row *row, strata_err *err);
	/* Optional (NULL: the generic layer scans from the start): position at
	 * or before the first record whose key >= key. */
	int (*seek)(void *state, const uint8_t *key, size_t len, strata_err *err);
	/* Whether records carry their own _seq. */
	bool (*has_seq)(void *state);
	/* After next() returned 0 with no seek: the content hash of the file
	 * (format.h), from the bytes streamed while reading plus a raw read of
	 * any part not decoded.  Returns 1 with *out set, 0 if the file was not
	 * read in a way that allows it (seeked), or < 0. */
	int (*content_hash)(void *state, uint64_t *out, strata_err *err);
	/* Optional: check the footer against its hash (right after open). */
	int (*check_footer)(void *state, uint64_t want, strata_err *err);
	/* Start streaming the content hash (called right after open, only when
	 * the caller will verify it: reads that will not pay nothing). */
	void (*want_hash)(void *state);
	/* Optional: whole-file statistics in the file's layout
	 * (format.h, strata_run_colstats); 1, or 0 when there are none. */
	int (*colstats)(void *state, strata_colstat *cols, uint64_t *rows);
	/* Optional: mask rows by page statistics (format.h,
	 * strata_run_set_mask); fn gets statistics in the file's layout. */
	void (*set_mask)(void *state, strata_unit_fn fn, void *arg, uint64_t *pages_skipped);
	/* The content hash with one read pass over the file (no decoding). */
	int (*hash_file)(const char *path, uint64_t *out, strata_err *err);
	void (*close)(void *state);
} strata_fr_backend;

extern const strata_fw_backend strata_avro_writer;
extern const strata_fr_backend strata_avro_reader;
extern const strata_fw_backend strata_parquet_writer;
extern const strata_fr_backend strata_parquet_reader;

/* `strata file meta` of a row file (format/describe.c dispatches here): its
 * codec, size, schema, blocks and records, read with the Avro reader's own
 * state.  0, or the reader's error naming the file. */
int strata_avro_describe(const char *path, FILE *out, strata_err *err);

/* File key-value metadata keys shared by both kinds. */
#define STRATA_META_SCHEMA "strata.schema"          /* schema JSON */
#define STRATA_META_SCHEMA_VERSION "strata.schema_version"
#define STRATA_META_KEY_COLUMNS "strata.key_columns" /* "a,b" */
#define STRATA_META_SEQ_MIN "strata.seq_min"
#define STRATA_META_SEQ_MAX "strata.seq_max"
/* Columnar files: XXH3-64 of every column index and offset index blob, as
 * 16 lowercase hex digits each, row group by row group, column by column,
 * column index then offset index (16 zeros where a chunk has no column
 * index).  Trusted once the footer matches its hash. */
#define STRATA_META_INDEX_HASHES "strata.index_hashes"

/* Names of the hidden columns as stored in files. */
#define STRATA_COL_SEQ "_seq"
#define STRATA_COL_OP "_op"

#endif
