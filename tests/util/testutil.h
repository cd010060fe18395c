/*
 * tests/util/testutil.h — shared helpers for the CUnit suites.
 *
 * Every test binary is one suite file tests/test_<module>.c ending in
 * TU_MAIN(register_fn).  Helpers here: scratch directories that are removed
 * at exit, an I/O vtable that fails a chosen call (fault injection), a
 * settable clock, running the built binaries, and the DuckDB oracle.
 */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "core/core.h"

/* A fresh empty directory under $TMPDIR; removed at exit unless
 * STRATA_KEEP_TMP is set.  Returned string is owned by the helper. */
const char *tu_tmpdir(void);
/* rm -rf, of a path under a tu_tmpdir() directory only (aborts otherwise) */
void tu_rmtree(const char *path);
/* Read a whole file into a NUL-terminated malloc'd buffer (NULL on error). */
char *tu_read_file(const char *path, size_t *len);
int tu_write_file(const char *path, const void *data, size_t len);
/* Count regular files under dir (recursive), skipping names containing skip
 * (NULL: none). */
int tu_count_files(const char *dir, const char *skip);
/* Count regular files under dir/sub (0 if it does not exist). */
int tu_count_files_under(const char *dir, const char *sub);

/* ---- fault injection ---------------------------------------------------- */

typedef enum {
	TU_OP_OPEN, TU_OP_PREAD, TU_OP_PWRITE, TU_OP_FSYNC, TU_OP_CLOSE,
	TU_OP_RENAME, TU_OP_UNLINK, TU_OP_MKDIR, TU_OP_OPENDIR, TU_OP_STAT,
	TU_OP_COUNT
} tu_op;

/* Install the counting table.  When fail_op's call number fail_at (1-based)
 * comes, it fails with -fail_errno; if short_write is set and the op is
 * pwrite, it writes half the bytes instead.  fail_at 0 only counts. */
void tu_fault_arm(tu_op fail_op, int fail_at, int fail_errno, bool short_write);
/* Calls of op seen since the last arm. */
int tu_fault_calls(tu_op op);
/* Whether the armed fault fired. */
bool tu_fault_fired(void);
/* Restore the system table. */
void tu_fault_disarm(void);
/* fsync calls since the last arm, by the path their fd was opened with:
 * the path of call n (1-based; NULL if unknown), and how many calls were
 * made on fds opened with path (a failed fsync must never be retried on
 * the same file). */
const char *tu_fault_fsync_path(int n);
int tu_fault_fsync_count(const char *path);
/* fsync calls after call n on the file call n was made on (a retry). */
int tu_fault_fsync_after(int n);
const char *tu_op_name(tu_op op);

/* ---- clock --------------------------------------------------------------- */

/* Install a manual clock starting at start_us; tu_clock_advance moves it. */
void tu_clock_manual(int64_t start_us);
void tu_clock_advance(int64_t delta_us);
void tu_clock_real(void);

/* ---- processes ----------------------------------------------------------- */

/* Path of a built binary ("strata", "stratad") in $STRATA_BUILD (default
 * build). */
const char *tu_bin(const char *name);
/* Run a shell command; capture stdout (malloc'd, may be NULL) and return the
 * exit status (or -1). */
int tu_run(const char *cmd, char **out);

/* ---- DuckDB oracle ------------------------------------------------------- */

/* Whether the DuckDB node package is installed.  When it is not, the
 * running test is marked skipped (tu_skip: its DuckDB checks did not run)
 * and a loud explanation is printed once. */
bool tu_duckdb_available(void);
/* Run SQL in DuckDB (1 thread); returns rows as JSON lines in *out
 * (malloc'd).  0 on success, else the exit status, with stderr in *out. */
int tu_duckdb(const char *sql, char **out);

/* ---- skips and registration ------------------------------------------------ */

/* CUnit has no skip.  Mark the running test skipped (a test that returns
 * early because what it checks against is absent): prints
 * "SKIPPED: SUITE/TEST: why" and the suite's tally counts it as skipped,
 * not passed (a skipped test that also failed an assert counts as failed).
 * Call it from the test's own (main) thread. */
void tu_skip(const char *why);

/* After CU_basic_run_tests: print the suite's tally line
 *   tally: N passed, N failed, N skipped
 * (tests; tests/run-tests adds them up) and return the exit status. */
int tu_tally(void);

/* A multiset of text rows (each "col=value|..."), for comparing two reads
 * regardless of row order.  Strings are copies the list owns. */
typedef struct tu_lines {
	char **v;
	size_t n, cap;
} tu_lines;

void tu_lines_push(tu_lines *l, const char *s);
void tu_lines_free(tu_lines *l);
/* Sort the rows (strcmp order). */
void tu_lines_sort(tu_lines *l);
/* 0 if exp and act hold the same rows (both are sorted in place); else -1
 * after printing, under what, the first row that differs and the counts. */
int tu_lines_diff(const char *what, tu_lines *exp, tu_lines *act);

#define TU_ADD(suite, fn) CU_add_test((suite), #fn, (fn))

#define TU_MAIN_BODY(register_fn)                                             \
	do {                                                                  \
		if (CU_initialize_registry() != CUE_SUCCESS)                  \
			return 2;                                             \
		register_fn();                                                \
		CU_basic_set_mode(CU_BRM_VERBOSE);                            \
		CU_basic_run_tests();                                         \
		int tu_rc_ = tu_tally();                                      \
		CU_cleanup_registry();                                        \
		return tu_rc_;                                                \
	} while (0)

#define TU_MAIN(register_fn)                                                  \
	int main(void)                                                        \
	{                                                                     \
		TU_MAIN_BODY(register_fn);                                    \
	}

#endif
