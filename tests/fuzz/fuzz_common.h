/*
 * tests/fuzz/fuzz_common.h — what the libFuzzer targets of tests/fuzz/
 * share: the rule that an error is a clean one, reading a run to the end
 * (every value touched), and the scratch directory of a fuzzing process.  Static functions only: the targets are also compiled
 * together, #included into tests/test_fuzz_regress.c and tests/test_parquet.c.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "format/format.h"

/* A clean error has a message, and a damaged or unsupported file is named
 * in it; anything else aborts (a finding). */
static inline void fuzz_check_err(int rc, const strata_err *e, const char *path)
{
	if (rc >= 0)
		return;
	if (e->msg[0] == '\0') {
		fprintf(stderr, "error %d without a message\n", rc);
		abort();
	}
	if ((rc == STRATA_ECORRUPT || rc == STRATA_EUNSUPPORTED) && !strstr(e->msg, path)) {
		fprintf(stderr, "error without the file name: %s\n", e->msg);
		abort();
	}
}

/* Read up to max records of run, touching every value so the sanitizers
 * see a bad pointer or length; remember the first and last keys (either may
 * be NULL).  Returns the last strata_run_next() result, checked clean. */
static inline int fuzz_read_run(strata_run *run, const strata_schema *rs, int max,
				strata_buf *first, strata_buf *last, const char *path)
{
	const strata_row *row;
	const uint8_t *key;
	size_t klen;
	strata_err e;
	memset(&e, 0, sizeof(e));
	int rc = 0;
	for (int n = 0; n < max; n++) {
		rc = strata_run_next(run, &row, &key, &klen, &e);
		if (rc <= 0)
			break;
		volatile uint64_t sink = (uint64_t)row->seq + row->op;
		for (uint32_t i = 0; i < row->ncols; i++) {
			const strata_value *v = &row->vals[i];
			strata_type t = rs->cols[i].type;
			if (v->is_null)
				continue;
			if (t == STRATA_T_STRING || t == STRATA_T_BYTES) {
				if (v->v.s.len > 0)
					sink += v->v.s.ptr[0] + v->v.s.ptr[v->v.s.len - 1];
			} else {
				sink += (uint64_t)v->v.i64;
			}
		}
		(void)sink;
		if (klen && first && first->len == 0)
			strata_buf_append(first, key, klen);
		if (klen && last) {
			strata_buf_reset(last);
			strata_buf_append(last, key, klen);
		}
	}
	fuzz_check_err(rc, &e, path);
	return rc;
}

/* Write the input to dir/fuzz-PID.ext (path, n) and run describe on it, the
 * first thing every file target drives. */
static inline void fuzz_file_from_input(const char *dir, const char *ext, const uint8_t *data,
					size_t size, char *path, size_t n)
{
	snprintf(path, n, "%s/fuzz-%ld.%s", dir, (long)getpid(), ext);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	strata_err e;
	memset(&e, 0, sizeof(e));
	FILE *null = fopen("/dev/null", "w");
	int rc = strata_file_describe(path, null, &e);
	fclose(null);
	fuzz_check_err(rc, &e, path);
}

static inline char *fuzz_dir_buf(void)
{
	static char dir[PATH_MAX];
	return dir;
}

static inline void fuzz_rmdir(void)
{
	rmdir(fuzz_dir_buf()); /* only if the target left it empty */
}

/* The process's scratch directory, $TMPDIR/strata-fuzz-XXXXXX, made on the
 * first call (logging is then set to errors only) and removed at exit when
 * empty. */
static inline const char *fuzz_scratch_dir(void)
{
	char *dir = fuzz_dir_buf();
	if (!dir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(dir, PATH_MAX, "%s/strata-fuzz-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(fuzz_rmdir);
		strata_log_set_level(STRATA_LOG_ERROR);
	}
	return dir;
}

#endif
