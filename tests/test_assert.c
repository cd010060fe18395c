/*
 * tests/test_assert.c — STRATA_ASSERT fires: a broken invariant kills the
 * process with a message naming the condition, the place and the detail.
 *
 * Each case runs in a forked child whose stderr goes to a scratch file;
 * the child must die of SIGABRT having said "strata: assertion failed: ...".
 * The cases: the macro itself, and the job state machine of stratad
 * (d_job_set_state, invariant 2 of daemon/stratad.c) refusing DONE ->
 * RUNNING and RUNNING -> QUEUED.  The merge's output order (merge/iter.c
 * invariant 1) and the floor's rise (manifest/commit.c invariant 6) cannot
 * be broken from outside: the runs check their own order and the commit
 * only raises a floor that is lower, so their asserts guard against bugs
 * in those files themselves.
 */
#include "tests/util/testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon_int.h"

/* Run fn(arg) in a child with stderr into a file; the child's wait status,
 * its stderr in *err (malloc'd). */
static int run_child(void (*fn)(void *), void *arg, char **err)
{
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(90);
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0); /* the assert did not fire */
	}
	int st = 0;
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	*err = tu_read_file(path, NULL);
	if (!*err)
		*err = strdup("");
	return st;
}

static void expect_abort(int st, const char *err, const char *want)
{
	bool ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(err, want) != NULL;
	if (!ok)
		fprintf(stderr, "\nchild: status %#x, stderr:\n%s\nwant SIGABRT and: %s\n", st, err,
			want);
	CU_ASSERT(WIFSIGNALED(st));
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CU_ASSERT(strstr(err, want) != NULL);
}

static void broken(void *arg)
{
	int x = *(int *)arg;
	STRATA_ASSERT(x == 2, "x is %d, the invariant wants 2", x);
}

static void held(void *arg)
{
	int x = *(int *)arg;
	STRATA_ASSERT(x == 2, "x is %d", x);
}

static void test_macro_fires(void)
{
	CU_ASSERT_EQUAL(STRATA_ASSERTS, 1); /* on in test and ASan builds */
	char *err;
	int x = 3;
	int st = run_child(broken, &x, &err);
	expect_abort(st, err, "strata: assertion failed: x == 2 (tests/test_assert.c:");
	CU_ASSERT(strstr(err, ", broken): x is 3, the invariant wants 2\n") != NULL);
	free(err);
	/* a condition that holds does nothing */
	x = 2;
	st = run_child(held, &x, &err);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	free(err);
}

typedef struct jobcase {
	dj_state from, to;
} jobcase;

static void job_transition(void *arg)
{
	const jobcase *c = arg;
	dj j;
	memset(&j, 0, sizeof(j));
	j.id = 42;
	snprintf(j.table, sizeof(j.table), "%s", "events");
	j.state = c->from;
	d_job_set_state(&j, c->to);
}

static void test_job_state_machine(void)
{
	/* the legal ones pass */
	const jobcase legal[] = {{DJ_QUEUED, DJ_RUNNING}, {DJ_QUEUED, DJ_DONE}, {DJ_RUNNING, DJ_DONE}};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(legal); i++) {
		char *err;
		int st = run_child(job_transition, (void *)&legal[i], &err);
		CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		free(err);
	}
	const jobcase illegal[] = {{DJ_DONE, DJ_RUNNING}, {DJ_RUNNING, DJ_QUEUED},
				   {DJ_DONE, DJ_DONE}, {DJ_RUNNING, DJ_RUNNING}};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(illegal); i++) {
		char *err;
		int st = run_child(job_transition, (void *)&illegal[i], &err);
		char want[128];
		snprintf(want, sizeof(want), "job 42 of \"events\": illegal state change %d -> %d",
			 (int)illegal[i].from, (int)illegal[i].to);
		expect_abort(st, err, want);
		CU_ASSERT(strstr(err, "strata: assertion failed: ") != NULL);
		free(err);
	}
}

static void register_assert(void)
{
	CU_pSuite s = CU_add_suite("assert", NULL, NULL);
	TU_ADD(s, test_macro_fires);
	TU_ADD(s, test_job_state_machine);
}

TU_MAIN(register_assert)
