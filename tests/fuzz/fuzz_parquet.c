/*
 * tests/fuzz/fuzz_parquet.c — libFuzzer target for the Parquet reader.
 *
 * Each input is written to a scratch file and driven through everything a
 * reader exposes: describe, open without a schema, a full read (bounded), a
 * projected read, seeks to keys seen in the file, and the whole-file batch
 * decoder (format/parquet_batch.c) over the same columns.  Any outcome is fine
 * except a crash, a sanitizer report, a hang or a huge allocation; errors
 * must carry a message naming the file.
 *
 * The same harness runs in tests/test_parquet.c (STRATA_FUZZ_NO_MAIN) over
 * the seed corpus and every crash the fuzzer ever found, so a fixed bug
 * stays fixed in `make test`.
 *
 *   make fuzz        build build-fuzz/fuzz_parquet (clang, ASan+UBSan)
 *   make fuzz-ci     run it for 60 s on tests/fuzz/corpus/parquet
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "format/format.h"

/* Rows read per input: enough to cross pages and row groups of the seeds,
 * small enough that a hostile "2^31 equal values" page cannot time out. */
#define FUZZ_MAX_ROWS 20000

/* Run the whole harness on one input, using dir for the scratch file. */
static int strata_fuzz_parquet_one(const uint8_t *data, size_t size, const char *dir)
{
	/* Avro row files go to Avro C, which is not what this target tests (and
	 * which aborts on some hostile inputs of its own) */
	if (size >= 4 && memcmp(data, "Obj\x01", 4) == 0)
		return 0;
	char path[PATH_MAX];
	fuzz_file_from_input(dir, "parquet", data, size, path, sizeof(path));

	strata_err e;
	memset(&e, 0, sizeof(e));
	int rc;
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run = NULL;
	strata_buf first = {0}, last = {0};
	uint64_t h;
	rc = strata_file_hash(path, &h, &e);
	fuzz_check_err(rc, &e, path);
	rc = strata_run_open(path, &ro, &run, &e);
	fuzz_check_err(rc, &e, path);
	if (rc == 0) {
		const strata_schema *fs = strata_run_file_schema(run);
		fuzz_read_run(run, fs, FUZZ_MAX_ROWS, &first, &last, path);
		if (fs->nkeys > 0) {
			const strata_buf *keys[2] = {&first, &last};
			for (int k = 0; k < 2; k++) {
				if (keys[k]->len == 0)
					continue;
				rc = strata_run_seek(run, keys[k]->data, keys[k]->len, &e);
				fuzz_check_err(rc, &e, path);
				if (rc == 0)
					fuzz_read_run(run, fs, 3, NULL, NULL, path);
			}
		}
		/* a projection: only the key columns (or the first column) */
		if (fs->ncols > 0) {
			strata_schema *ps = NULL;
			if (strata_schema_project(fs, fs->cols[fs->ncols - 1].name, &ps, NULL) == 0) {
				strata_run *run2 = NULL;
				strata_run_opts po = ro;
				po.read_schema = ps;
				rc = strata_run_open(path, &po, &run2, &e);
				fuzz_check_err(rc, &e, path);
				if (rc == 0) {
					fuzz_read_run(run2, ps, FUZZ_MAX_ROWS, NULL, NULL, path);
					strata_run_close(run2);
				}
				/* as a listed file: its content hash verified at the end
				 * from streamed and unread chunks (against an entry the
				 * input cannot match) */
				strata_run_expect ex = {.rows = 1, .has_hash = true, .hash = 1,
							.is_verify_hash = true};
				po.expect = &ex;
				rc = strata_run_open(path, &po, &run2, &e);
				fuzz_check_err(rc, &e, path);
				if (rc == 0) {
					fuzz_read_run(run2, ps, FUZZ_MAX_ROWS, NULL, NULL, path);
					strata_run_close(run2);
				}
				strata_schema_free(ps);
			}
		}
		/* the whole-file batch decoder (a scan's fast path), in batches of
		 * 1000 rows into typed arrays */
		strata_pqbatch *pb = NULL;
		rc = strata_pqbatch_open(path, NULL, fs, NULL, &pb, &e);
		fuzz_check_err(rc, &e, path);
		if (rc == 0) {
			void *cols[STRATA_MAX_COLS + 1];
			uint8_t *nulls[STRATA_MAX_COLS + 1];
			for (uint32_t i = 0; i < fs->ncols; i++) {
				cols[i] = malloc(1000 * strata_pqbatch_width(fs->cols[i].type));
				nulls[i] = malloc(1000);
			}
			size_t got = 0, total = 0;
			while ((rc = strata_pqbatch_read(pb, 1000, cols, nulls, &got, &e)) == 0 && got &&
			       total < FUZZ_MAX_ROWS) {
				total += got;
				strata_pqbatch_release(pb);
			}
			fuzz_check_err(rc, &e, path);
			for (uint32_t i = 0; i < fs->ncols; i++) {
				free(cols[i]);
				free(nulls[i]);
			}
			strata_pqbatch_close(pb);
		}
		strata_run_close(run);
	}
	strata_buf_free(&first);
	strata_buf_free(&last);
	unlink(path);
	return 0;
}

#ifndef STRATA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return strata_fuzz_parquet_one(data, size, fuzz_scratch_dir());
}
#endif
