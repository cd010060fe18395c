/*
 * tests/util/testutil.c — see testutil.h.
 */
#include "tests/util/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- directories ---------------------------------------------------------- */

static char **tmpdirs;
static int ntmpdirs;

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Only trees under a directory tu_tmpdir() made: a test bug that computes
 * a wrong path (an ancestor, the checkout) stops the suite loudly instead
 * of deleting what is not the test's. */
void tu_rmtree(const char *path)
{
	const char *mark = strstr(path, "/strata-test-");
	if (!mark || strstr(path, "/..")) {
		fprintf(stderr, "tu_rmtree: refusing to remove \"%s\": not under a test's scratch "
				"directory (strata-test-*)\n", path);
		abort();
	}
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmpdirs_cleanup(void)
{
	if (getenv("STRATA_KEEP_TMP"))
		return;
	for (int i = 0; i < ntmpdirs; i++) {
		tu_rmtree(tmpdirs[i]);
		free(tmpdirs[i]);
	}
	free(tmpdirs);
}

const char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	snprintf(tmpl, sizeof(tmpl), "%s/strata-test-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		abort();
	}
	if (ntmpdirs == 0)
		atexit(tmpdirs_cleanup);
	tmpdirs = realloc(tmpdirs, sizeof(char *) * (size_t)(ntmpdirs + 1));
	tmpdirs[ntmpdirs] = strdup(tmpl);
	return tmpdirs[ntmpdirs++];
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	strata_buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strata_buf_append(&b, chunk, n);
	fclose(f);
	strata_buf_putc(&b, 0);
	if (len)
		*len = b.len - 1;
	return (char *)b.data;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(data, 1, len, f);
	fclose(f);
	return w == len ? 0 : -1;
}

static int count_files_rec(const char *dir, const char *skip)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (skip && strstr(e->d_name, skip))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_files_rec(p, skip);
		else if (S_ISREG(st.st_mode))
			n++;
	}
	closedir(d);
	return n;
}

int tu_count_files(const char *dir, const char *skip)
{
	return count_files_rec(dir, skip);
}

int tu_count_files_under(const char *dir, const char *sub)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	return count_files_rec(p, NULL);
}

/* ---- fault injection ------------------------------------------------------ */

static const char *const op_names[TU_OP_COUNT] = {
	"open", "pread", "pwrite", "fsync", "close", "rename", "unlink", "mkdir",
	"opendir", "stat",
};

const char *tu_op_name(tu_op op)
{
	return op < TU_OP_COUNT ? op_names[op] : "?";
}

static atomic_int fault_calls[TU_OP_COUNT];
static tu_op fault_op;
static int fault_at;
static int fault_errno;
static bool fault_short;
static atomic_bool fault_fired;

/* Returns the injected error (negative), 1 for "short write", or 0. */
static int fault_hit(tu_op op)
{
	int n = atomic_fetch_add(&fault_calls[op], 1) + 1;
	if (fault_at > 0 && op == fault_op && n == fault_at) {
		atomic_store(&fault_fired, true);
		if (fault_short && op == TU_OP_PWRITE)
			return 1;
		return -fault_errno;
	}
	return 0;
}

/* fd -> path of the open that made it, and the log of fsync calls */
#define TU_MAX_FDS 4096
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static char *fd_paths[TU_MAX_FDS];
static char **fsync_log;
static int nfsync_log, capfsync_log;

static void fd_path_set(int fd, const char *path)
{
	if (fd < 0 || fd >= TU_MAX_FDS)
		return;
	pthread_mutex_lock(&fd_lock);
	free(fd_paths[fd]);
	fd_paths[fd] = path ? strdup(path) : NULL;
	pthread_mutex_unlock(&fd_lock);
}

static void fsync_log_add(int fd)
{
	pthread_mutex_lock(&fd_lock);
	if (nfsync_log == capfsync_log) {
		capfsync_log = capfsync_log ? 2 * capfsync_log : 64;
		fsync_log = realloc(fsync_log, sizeof(char *) * (size_t)capfsync_log);
	}
	const char *p = fd >= 0 && fd < TU_MAX_FDS ? fd_paths[fd] : NULL;
	fsync_log[nfsync_log++] = p ? strdup(p) : NULL;
	pthread_mutex_unlock(&fd_lock);
}

static void fsync_log_reset(void)
{
	pthread_mutex_lock(&fd_lock);
	for (int i = 0; i < nfsync_log; i++)
		free(fsync_log[i]);
	nfsync_log = 0;
	pthread_mutex_unlock(&fd_lock);
}

const char *tu_fault_fsync_path(int n)
{
	return n >= 1 && n <= nfsync_log ? fsync_log[n - 1] : NULL;
}

int tu_fault_fsync_count(const char *path)
{
	int c = 0;
	for (int i = 0; i < nfsync_log; i++)
		c += fsync_log[i] && strcmp(fsync_log[i], path) == 0;
	return c;
}

int tu_fault_fsync_after(int n)
{
	const char *p = tu_fault_fsync_path(n);
	int c = 0;
	for (int i = n; p && i < nfsync_log; i++)
		c += fsync_log[i] && strcmp(fsync_log[i], p) == 0;
	return c;
}

static int f_open(const char *path, int flags, mode_t mode)
{
	int rc = fault_hit(TU_OP_OPEN);
	if (rc < 0)
		return rc;
	int fd = strata_io_system.open(path, flags, mode);
	fd_path_set(fd, path);
	return fd;
}

static ssize_t f_pread(int fd, void *buf, size_t n, off_t off)
{
	int rc = fault_hit(TU_OP_PREAD);
	return rc < 0 ? rc : strata_io_system.pread(fd, buf, n, off);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int rc = fault_hit(TU_OP_PWRITE);
	if (rc < 0)
		return rc;
	if (rc == 1 && n > 1)
		n /= 2;
	return strata_io_system.pwrite(fd, buf, n, off);
}

static int f_fsync(int fd)
{
	int rc = fault_hit(TU_OP_FSYNC);
	fsync_log_add(fd);
	return rc < 0 ? rc : strata_io_system.fsync(fd);
}

static int f_close(int fd)
{
	int rc = fault_hit(TU_OP_CLOSE);
	fd_path_set(fd, NULL);
	int rc2 = strata_io_system.close(fd); /* the fd is released either way */
	return rc < 0 ? rc : rc2;
}

static int f_rename(const char *a, const char *b)
{
	int rc = fault_hit(TU_OP_RENAME);
	return rc < 0 ? rc : strata_io_system.rename(a, b);
}

static int f_unlink(const char *p)
{
	int rc = fault_hit(TU_OP_UNLINK);
	return rc < 0 ? rc : strata_io_system.unlink(p);
}

static int f_mkdir(const char *p, mode_t m)
{
	int rc = fault_hit(TU_OP_MKDIR);
	return rc < 0 ? rc : strata_io_system.mkdir(p, m);
}

static DIR *f_opendir(const char *p, int *err)
{
	int rc = fault_hit(TU_OP_OPENDIR);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	return strata_io_system.opendir(p, err);
}

static int f_stat(const char *p, struct stat *st)
{
	int rc = fault_hit(TU_OP_STAT);
	return rc < 0 ? rc : strata_io_system.stat(p, st);
}

static strata_io_ops fault_ops;

void tu_fault_arm(tu_op op, int at, int err, bool short_write)
{
	fault_ops = strata_io_system;
	fault_ops.open = f_open;
	fault_ops.pread = f_pread;
	fault_ops.pwrite = f_pwrite;
	fault_ops.fsync = f_fsync;
	fault_ops.close = f_close;
	fault_ops.rename = f_rename;
	fault_ops.unlink = f_unlink;
	fault_ops.mkdir = f_mkdir;
	fault_ops.opendir = f_opendir;
	fault_ops.stat = f_stat;
	for (int i = 0; i < TU_OP_COUNT; i++)
		atomic_store(&fault_calls[i], 0);
	fault_op = op;
	fault_at = at;
	fault_errno = err;
	fault_short = short_write;
	atomic_store(&fault_fired, false);
	fsync_log_reset();
	strata_io_set(&fault_ops);
}

int tu_fault_calls(tu_op op)
{
	return atomic_load(&fault_calls[op]);
}

bool tu_fault_fired(void)
{
	return atomic_load(&fault_fired);
}

void tu_fault_disarm(void)
{
	strata_io_set(NULL);
}

/* ---- clock ---------------------------------------------------------------- */

static _Atomic int64_t manual_now;

static int64_t manual_clock(void *arg)
{
	(void)arg;
	return atomic_load(&manual_now);
}

void tu_clock_manual(int64_t start_us)
{
	atomic_store(&manual_now, start_us);
	strata_clock_set(manual_clock, NULL);
}

void tu_clock_advance(int64_t delta_us)
{
	atomic_fetch_add(&manual_now, delta_us);
}

void tu_clock_real(void)
{
	strata_clock_set(NULL, NULL);
}

/* ---- processes ------------------------------------------------------------ */

const char *tu_bin(const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	const char *build = getenv("STRATA_BUILD");
	char *p = paths[next++ % 4];
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), ".");
	snprintf(p, PATH_MAX, "%s/%s/%s", cwd, build ? build : "build", name);
	return p;
}

int tu_run(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	strata_buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		strata_buf_append(&b, chunk, n);
	strata_buf_putc(&b, 0);
	int st = pclose(p);
	if (out)
		*out = (char *)b.data;
	else
		strata_buf_free(&b);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- DuckDB ----------------------------------------------------------------- */

bool tu_duckdb_available(void)
{
	static int state; /* 0 unknown, 1 yes, 2 no */
	if (state == 0) {
		struct stat st;
		state = stat("tests/.node/node_modules/@duckdb/node-api", &st) == 0 ? 1 : 2;
		if (state == 2)
			fprintf(stderr,
				"\n*** DuckDB (@duckdb/node-api) is not installed in "
				"tests/.node; `make test` installs it with npm. Interop checks "
				"did NOT run: their tests count as skipped. ***\n\n");
	}
	if (state == 2)
		tu_skip("DuckDB (@duckdb/node-api) is not installed");
	return state == 1;
}

/* ---- skips and the tally ------------------------------------------------------ */

static const CU_Test **skipped;
static size_t nskipped;

void tu_skip(const char *why)
{
	CU_pTest t = CU_get_current_test();
	CU_pSuite s = CU_get_current_suite();
	if (!t)
		return;
	for (size_t i = 0; i < nskipped; i++)
		if (skipped[i] == t)
			return; /* once per test */
	skipped = realloc(skipped, (nskipped + 1) * sizeof(*skipped));
	if (!skipped)
		abort();
	skipped[nskipped++] = t;
	fprintf(stderr, "\nSKIPPED: %s/%s: %s\n", s && s->pName ? s->pName : "?",
		t->pName ? t->pName : "?", why);
	fflush(stderr);
}

int tu_tally(void)
{
	unsigned run = CU_get_number_of_tests_run();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned skip = 0;
	for (size_t i = 0; i < nskipped; i++) {
		bool has_failed = false;
		for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
			if (f->pTest == skipped[i])
				has_failed = true;
		skip += !has_failed;
	}
	/* a failure outside any test (a suite's init or cleanup) fails the run */
	unsigned other = CU_get_number_of_failures() > 0 && failed == 0 ? 1 : 0;
	unsigned passed = run > failed + skip ? run - failed - skip : 0;
	printf("\ntally: %u passed, %u failed, %u skipped\n", passed, failed + other, skip);
	fflush(stdout);
	free(skipped);
	skipped = NULL;
	nskipped = 0;
	return failed + other ? 1 : 0;
}

int tu_duckdb(const char *sql, char **out)
{
	const char *dir = tu_tmpdir();
	char sqlpath[PATH_MAX];
	snprintf(sqlpath, sizeof(sqlpath), "%s/q.sql", dir);
	if (tu_write_file(sqlpath, sql, strlen(sql)) != 0)
		return -1;
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd),
		 "NODE_PATH=tests/.node/node_modules node tests/duckdb_query.cjs '%s' 2>&1",
		 sqlpath);
	int rc = tu_run(cmd, out);
	tu_rmtree(dir);
	return rc;
}

/* ---- multisets of rows -------------------------------------------------------------- */

void tu_lines_push(tu_lines *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = strata_realloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = strata_strdup(s);
}

void tu_lines_free(tu_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int lines_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tu_lines_sort(tu_lines *l)
{
	if (l->n) /* qsort of a NULL array is undefined, even of 0 elements */
		qsort(l->v, l->n, sizeof(char *), lines_str_cmp);
}

int tu_lines_diff(const char *what, tu_lines *exp, tu_lines *act)
{
	tu_lines_sort(exp);
	tu_lines_sort(act);
	int bad = exp->n != act->n;
	for (size_t i = 0; i < exp->n && i < act->n; i++)
		if (strcmp(exp->v[i], act->v[i]) != 0) {
			fprintf(stderr, "\n%s: row %zu differs:\n  expected %s\n  got      %s\n", what,
				i, exp->v[i], act->v[i]);
			bad = 1;
			break;
		}
	if (bad && exp->n != act->n)
		fprintf(stderr, "\n%s: %zu rows expected, %zu read\n", what, exp->n, act->n);
	return bad ? -1 : 0;
}
