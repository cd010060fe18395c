/*
 * tests/fuzz/fuzz_common.h — what the libFuzzer targets of tests/fuzz/
 * share: the rule that an error is a clean one, and the scratch directory of
 * a fuzzing process.  Static functions only: the targets are also compiled
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
