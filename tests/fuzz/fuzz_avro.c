/*
 * tests/fuzz/fuzz_avro.c — libFuzzer target for the Avro row-file reader
 * (format/avro.c: the container parser, the block loader, the inflater, the
 * record decoder, and Avro C's schema parser behind it).
 *
 * Each input is written to a scratch file and read every way a reader can:
 *   - describe (the schema comes from the file itself);
 *   - open without a manifest schema (standalone: columns from the file, no
 *     keys) and read it to the end (bounded);
 *   - open with each of the manifest schemas the seeds were written with
 *     (fuzz_avro_schema(i)): the header must match it, the records are
 *     decoded with their key columns, checked for order, and the run is
 *     sought to the first and last keys seen; then again with a projection
 *     (only the key columns and the last column decoded) and a _seq filter.
 * Any outcome is fine except a crash, a sanitizer report, a hang or a huge
 * allocation; every error must carry a message, and a damaged-file error
 * must name the file.
 *
 * The same harness runs in tests/test_fuzz_regress.c (STRATA_FUZZ_NO_MAIN)
 * over the seed corpus and every input the fuzzer ever crashed on, so a
 * fixed bug stays fixed in `make test`.
 *
 *   make fuzz        build build-fuzz/fuzz_avro (clang, ASan+UBSan)
 *   make fuzz-ci     run it FUZZ_SECONDS on tests/fuzz/corpus/avro
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "format/format.h"

#define FUZZ_AVRO_MAX_ROWS 20000
#define FUZZ_AVRO_NSCHEMAS 3

typedef struct fuzz_col {
	const char *name;
	strata_type type;
	int key_pos;
} fuzz_col;

/* The manifest schemas of the seed corpus: every type, a composite string
 * key, and a bytes + float key.  Seeds are written with these (see
 * tests/test_fuzz_regress.c, STRATA_FUZZ_WRITE_SEEDS). */
static strata_schema *fuzz_avro_schema(int which)
{
	static const fuzz_col all[] = {
		{"pk", STRATA_T_LONG, 0},    {"i", STRATA_T_INT, -1},
		{"d", STRATA_T_DOUBLE, -1},  {"f", STRATA_T_FLOAT, -1},
		{"b", STRATA_T_BOOL, -1},    {"s", STRATA_T_STRING, -1},
		{"bin", STRATA_T_BYTES, -1}, {"ts", STRATA_T_TIMESTAMP, -1},
	};
	static const fuzz_col comp[] = {
		{"region", STRATA_T_STRING, 0},
		{"n", STRATA_T_INT, 1},
		{"amount", STRATA_T_DOUBLE, -1},
		{"blob", STRATA_T_BYTES, -1},
	};
	static const fuzz_col odd[] = {
		{"id", STRATA_T_BYTES, 0},
		{"w", STRATA_T_FLOAT, 1},
		{"at", STRATA_T_TIMESTAMP, -1},
		{"ok", STRATA_T_BOOL, -1},
	};
	const fuzz_col *cols = which == 0 ? all : which == 1 ? comp : odd;
	size_t n = which == 0 ? STRATA_ARRAY_LEN(all) :
		   which == 1 ? STRATA_ARRAY_LEN(comp) :
				STRATA_ARRAY_LEN(odd);
	strata_schema *s = strata_schema_new((uint32_t)which + 1);
	for (size_t i = 0; i < n; i++) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", cols[i].name);
		c.type = cols[i].type;
		c.id = (uint32_t)i + 1;
		c.key_pos = cols[i].key_pos;
		c.is_nullable = cols[i].key_pos < 0;
		strata_schema_add(s, &c, NULL);
	}
	return s;
}

/* Open with opts and read it all; then seek to the keys seen. */
static void fuzz_avro_pass(const char *path, const strata_run_opts *ro, bool do_seek)
{
	strata_err e;
	memset(&e, 0, sizeof(e));
	strata_run *run = NULL;
	int rc = strata_run_open(path, ro, &run, &e);
	fuzz_check_err(rc, &e, path);
	if (rc)
		return;
	const strata_schema *rs = ro->read_schema ? ro->read_schema : strata_run_file_schema(run);
	strata_buf first = {0}, last = {0};
	fuzz_read_run(run, rs, FUZZ_AVRO_MAX_ROWS, &first, &last, path);
	strata_run_close(run);
	if (!do_seek)
		goto out;
	const strata_buf *keys[2] = {&first, &last};
	for (int k = 0; k < 2; k++) {
		if (keys[k]->len == 0)
			continue;
		rc = strata_run_open(path, ro, &run, &e);
		fuzz_check_err(rc, &e, path);
		if (rc)
			continue;
		rs = ro->read_schema ? ro->read_schema : strata_run_file_schema(run);
		rc = strata_run_seek(run, keys[k]->data, keys[k]->len, &e);
		fuzz_check_err(rc, &e, path);
		if (rc == 0)
			fuzz_read_run(run, rs, 3, NULL, NULL, path);
		strata_run_close(run);
	}
out:
	strata_buf_free(&first);
	strata_buf_free(&last);
}

/* Run the whole harness on one input, using dir for the scratch file. */
static int strata_fuzz_avro_one(const uint8_t *data, size_t size, const char *dir)
{
	/* Parquet files are fuzz_parquet's */
	if (size >= 4 && memcmp(data, "PAR1", 4) == 0)
		return 0;
	char path[PATH_MAX];
	fuzz_file_from_input(dir, "avro", data, size, path, sizeof(path));

	/* standalone: the schema from the file, no keys */
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	fuzz_avro_pass(path, &ro, false);
	/* its content hash, read once */
	uint64_t h;
	strata_err he;
	memset(&he, 0, sizeof(he));
	int hrc = strata_file_hash(path, &h, &he);
	fuzz_check_err(hrc, &he, path);

	/* with each manifest schema: keys, order, seek, projection, filter */
	for (int i = 0; i < FUZZ_AVRO_NSCHEMAS; i++) {
		strata_schema *s = fuzz_avro_schema(i);
		memset(&ro, 0, sizeof(ro));
		ro.file_schema = s;
		ro.default_seq = 5;
		fuzz_avro_pass(path, &ro, true);
		strata_schema *ps = NULL;
		if (strata_schema_project(s, s->cols[s->ncols - 1].name, &ps, NULL) == 0) {
			ro.read_schema = ps;
			ro.seq_min = 4;
			ro.seq_max = 5;
			fuzz_avro_pass(path, &ro, false);
			/* as a listed file: checked against an entry (content hash,
			 * rows, key range) that the input cannot match */
			static const uint8_t kmin[1] = {0x00}, kmax[1] = {0x7f};
			strata_run_expect ex = {.rows = 3, .has_keys = true, .key_min = kmin,
						.key_min_len = 1, .key_max = kmax, .key_max_len = 1,
						.has_hash = true, .hash = 1, .is_verify_hash = true};
			ro.expect = &ex;
			fuzz_avro_pass(path, &ro, true);
			ro.expect = NULL;
			strata_schema_free(ps);
		}
		strata_schema_free(s);
	}
	unlink(path);
	return 0;
}

#ifndef STRATA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return strata_fuzz_avro_one(data, size, fuzz_scratch_dir());
}
#endif
