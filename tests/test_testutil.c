/*
 * tests/test_testutil.c — the harness itself counts honestly.
 *
 * A test that could not run what it checks (DuckDB absent) is skipped, not
 * passed: tu_skip() marks it, the suite's "tally:" line counts it, and
 * tests/run-tests adds the tallies up into its final line
 * "N passed, N failed, N skipped", where a suite that crashed or exited
 * non-zero without a failed test counts one failed test.
 */
#include "tests/util/testutil.h"

#include <unistd.h>

static void inner_pass(void)
{
	CU_ASSERT(1);
}

static void inner_fail(void)
{
	CU_ASSERT(0);
}

static void inner_skip(void)
{
	tu_skip("nothing to check against");
	tu_skip("a second call counts once");
}

static void inner_skip_then_fail(void)
{
	tu_skip("half of it ran");
	CU_ASSERT(0);
}

static void inner_duckdb(void)
{
	/* the child runs in an empty directory: no tests/.node there */
	if (!tu_duckdb_available())
		return;
	CU_ASSERT(0);
}

/* The inner suite, when this binary runs as "test_testutil --inner" (a
 * registry of its own: CUnit cannot start one inside a running test). */
static int run_inner_suite(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 98;
	CU_pSuite s = CU_add_suite("inner", NULL, NULL);
	TU_ADD(s, inner_pass);
	TU_ADD(s, inner_fail);
	TU_ADD(s, inner_skip);
	TU_ADD(s, inner_skip_then_fail);
	TU_ADD(s, inner_duckdb);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	int rc = tu_tally();
	CU_cleanup_registry();
	return rc;
}

/* Run the inner suite in a child, in an empty scratch directory; its exit
 * status, and its stdout and stderr in *out. */
static int run_inner(char **out)
{
	const char *dir = tu_tmpdir();
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CU_ASSERT_FATAL(n > 0);
	self[n] = '\0';
	strata_buf cmd = {0};
	strata_buf_printf(&cmd, "cd '%s' && '%s' --inner 2>&1", dir, self);
	strata_buf_putc(&cmd, 0);
	*out = NULL;
	int rc = tu_run((char *)cmd.data, out);
	strata_buf_free(&cmd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*out);
	return rc;
}

static void test_skip_tally(void)
{
	char *out;
	int rc = run_inner(&out);
	if (!strstr(out, "tally: 1 passed, 2 failed, 2 skipped\n"))
		fprintf(stderr, "\ninner suite said:\n%s\n", out);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(strstr(out, "tally: 1 passed, 2 failed, 2 skipped\n") != NULL);
	CU_ASSERT(strstr(out, "SKIPPED: inner/inner_skip: nothing to check against\n") != NULL);
	CU_ASSERT(strstr(out, "a second call") == NULL);
	CU_ASSERT(strstr(out, "SKIPPED: inner/inner_duckdb: DuckDB") != NULL);
	free(out);
}

/* tests/run-tests on stand-in suites (scripts): a clean one with a skip, a
 * failing one, one that dies before its tally, one with no tally, and one
 * that skipped as a whole (no server, no DuckDB: "SKIPPED:" and exit 0
 * before any test ran), which counts as one skipped test, not a pass. */
static void test_run_tests_final_line(void)
{
	const char *dir = tu_tmpdir();
	const struct {
		const char *name, *body;
	} suites[] = {
		{"test_a", "echo 'SKIPPED: a/t2: no DuckDB'; echo 'tally: 3 passed, 0 failed, 1 skipped'"},
		{"test_b", "echo 'tally: 2 passed, 1 failed, 0 skipped'; exit 1"},
		{"test_c", "echo 'half way'; kill -ABRT $$"},
		{"smoke", "echo 'smoke: 1 passed, 0 failed'"}, /* not CUnit: one test */
		{"test_d", "echo 'SKIPPED: PostgreSQL could not start'"},
	};
	strata_buf cmd = {0};
	strata_buf_printf(&cmd, "STRATA_BUILD='%s' TEST_JOBS=2 tests/run-tests", dir);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(suites); i++) {
		char path[PATH_MAX], body[512];
		snprintf(path, sizeof(path), "%s/%s", dir, suites[i].name);
		snprintf(body, sizeof(body), "#!/bin/sh\n%s\n", suites[i].body);
		CU_ASSERT_EQUAL_FATAL(tu_write_file(path, body, strlen(body)), 0);
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0755), 0);
		strata_buf_printf(&cmd, " '%s'", path);
	}
	strata_buf_printf(&cmd, " 2>&1");
	strata_buf_putc(&cmd, 0);
	char *out = NULL;
	int rc = tu_run((char *)cmd.data, &out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	size_t n = strlen(out);
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	const char *last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	if (strcmp(last, "6 passed, 2 failed, 2 skipped") != 0)
		fprintf(stderr, "\nrun-tests said:\n%s\n", out);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(last, "6 passed, 2 failed, 2 skipped");
	CU_ASSERT(strstr(out, "SKIPPED: a/t2: no DuckDB\n") != NULL);
	CU_ASSERT(strstr(out, "SKIPPED: PostgreSQL could not start\n") != NULL);
	CU_ASSERT(strstr(out, "FAILED suites: test_b test_c ") != NULL);
	free(out);
	strata_buf_free(&cmd);
}

static void register_testutil(void)
{
	CU_pSuite s = CU_add_suite("testutil", NULL, NULL);
	TU_ADD(s, test_skip_tally);
	TU_ADD(s, test_run_tests_final_line);
}

static int run_suite(void)
{
	TU_MAIN_BODY(register_testutil);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--inner") == 0)
		return run_inner_suite();
	return run_suite();
}
