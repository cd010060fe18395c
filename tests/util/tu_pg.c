/*
 * tests/util/tu_pg.c — see tu_pg.h.
 *
 * Invariants:
 *   1. at most one server per process, started by the first tu_pg_start();
 *      a failed start is remembered and not retried (every later call gives
 *      the same reason);
 *   2. the server is only ever signalled by the PID in its postmaster.pid,
 *      after checking that /proc/PID/cmdline still names our data
 *      directory (a recycled PID is never signalled);
 *   3. only the process that started the server stops it (a test's forked
 *      child that calls exit() leaves it running);
 *   4. from the moment the postmaster runs until it is stopped, a watcher
 *      (tests/util/tu_server.h) knows its PID and stops it if this process
 *      dies without saying so.
 */
#include "tests/util/tu_pg.h"

#include "tests/util/testutil.h"
#include "tests/util/tu_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static struct {
	bool is_tried, is_running;
	char why[512];
	char bin[PATH_MAX];  /* /usr/lib/postgresql/N/bin */
	char dir[PATH_MAX];  /* scratch: data/, log, socket */
	char data[PATH_MAX]; /* dir/data */
	int port;
	pid_t pid;           /* the postmaster */
	pid_t owner;         /* the process that started it: only it stops it */
	tu_watch watch;      /* invariant 4 */
	char uri[256];
} pg = {.watch = {.fd = -1}};

/* The newest installed server: the highest N of /usr/lib/postgresql/N/bin
 * holding initdb and pg_ctl. */
static bool find_bin(char *out, size_t n)
{
	glob_t g;
	if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
		return false;
	long best = -1;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
		long v = strtol(p, NULL, 10);
		char initdb[PATH_MAX];
		snprintf(initdb, sizeof(initdb), "/usr/lib/postgresql/%ld/bin/initdb", v);
		if (v > best && access(initdb, X_OK) == 0) {
			best = v;
			snprintf(out, n, "/usr/lib/postgresql/%ld/bin", v);
		}
	}
	globfree(&g);
	return best >= 0;
}

/* Run argv (as the postgres user when root) with stdin from /dev/null and
 * stdout and stderr appended to log; its exit status, or -1. */
static int run_as_server_user(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		if (geteuid() == 0) {
			char *rargv[32] = {"runuser", "-u", "postgres", "--"};
			int k = 4;
			for (int i = 0; argv[i] && k < 31; i++)
				rargv[k++] = argv[i];
			rargv[k] = NULL;
			execv("/usr/sbin/runuser", rargv);
			execv("/sbin/runuser", rargv);
			execvp("runuser", rargv);
		} else {
			execv(argv[0], argv);
		}
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool tu_pg_is_gone(pid_t pid)
{
	return tu_proc_is_gone(pid);
}

/* How the suite stops its server (SIGINT: fast shutdown — roll back
 * sessions, checkpoint, exit; then immediate; then kill), and how the
 * watcher does when the suite died (no time for a checkpoint). */
static const tu_stop_plan pg_stop = {3, {SIGINT, SIGQUIT, SIGKILL}, {20000, 5000, 5000}};
static const tu_stop_plan pg_stop_dead = {2, {SIGQUIT, SIGKILL}, {5000, 5000}};

void tu_pg_stop(void)
{
	/* a child forked by a test that calls exit() runs this too: the
	 * server is its parent's */
	if (pg.owner != getpid())
		return;
	if (pg.is_running) {
		tu_procs_stop(&pg.pid, 1, pg.data, &pg_stop); /* invariant 2 */
		pg.is_running = false;
	}
	tu_watch_done(&pg.watch);
}

/* Whether the server's user can write dir (every ancestor searchable): a
 * child takes that user's ids and asks access(2). */
static bool reachable_by(const struct passwd *pw, const char *dir)
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(2);
		_exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pg.why, sizeof(pg.why), fmt, ap);
	va_end(ap);
	snprintf(why, n, "%s", pg.why);
	return false;
}

static bool pg_write_hba(void)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/pg_hba.conf", pg.data);
	/* the password role must authenticate on loopback; others are trusted */
	const char *hba = "local all all trust\n"
			  "host all " TU_PG_PW_USER " 127.0.0.1/32 scram-sha-256\n"
			  "host all all 127.0.0.1/32 trust\n";
	int fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return false;
	bool ok = write(fd, hba, strlen(hba)) == (ssize_t)strlen(hba);
	return close(fd) == 0 && ok;
}

static pid_t read_postmaster_pid(void)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/postmaster.pid", pg.data);
	char *text = tu_read_file(path, NULL);
	pid_t pid = text ? (pid_t)strtol(text, NULL, 10) : 0;
	free(text);
	return pid;
}

/* Database strata and the password role, as the superuser. */
static bool pg_setup(char *msg, size_t n)
{
	char conninfo[256];
	snprintf(conninfo, sizeof(conninfo),
		 "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=10",
		 pg.port);
	PGconn *c = PQconnectdb(conninfo);
	bool ok = PQstatus(c) == CONNECTION_OK;
	const char *sql[] = {
		"CREATE DATABASE strata",
		"CREATE ROLE " TU_PG_PW_USER " LOGIN PASSWORD '" TU_PG_PW_PASSWORD "'",
	};
	for (size_t i = 0; ok && i < STRATA_ARRAY_LEN(sql); i++) {
		PGresult *r = PQexec(c, sql[i]);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok)
		snprintf(msg, n, "%s", PQerrorMessage(c));
	PQfinish(c);
	return ok;
}

static bool start(char *why, size_t n)
{
	if (!find_bin(pg.bin, sizeof(pg.bin)))
		return fail(why, n, "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/"
				    "initdb; `make deps` installs Debian's postgresql)");
	struct passwd *pw = NULL;
	if (geteuid() == 0 && !(pw = getpwnam("postgres")))
		return fail(why, n, "running as root and there is no postgres user to run "
				    "initdb and the server as");
	snprintf(pg.dir, sizeof(pg.dir), "%s", tu_tmpdir());
	snprintf(pg.data, sizeof(pg.data), "%s/data", pg.dir);
	if (pw && (chown(pg.dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(pg.dir, 0700) < 0))
		return fail(why, n, "could not give \"%s\" to the postgres user: %s", pg.dir,
			    strerror(errno));
	if (pw && !reachable_by(pw, pg.dir))
		return fail(why, n, "the postgres user cannot reach the scratch directory \"%s\" "
				    "(set TMPDIR to a directory every user can search, e.g. /tmp)",
			    pg.dir);
	/* cmd.log: what initdb and pg_ctl print (opened by this process);
	 * server.log: the server's own (written by the server's user) */
	char log[PATH_MAX + 16], slog[PATH_MAX + 16], tail[400];
	snprintf(log, sizeof(log), "%s/cmd.log", pg.dir);
	snprintf(slog, sizeof(slog), "%s/server.log", pg.dir);
	char initdb[PATH_MAX + 16];
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg.bin);
	char *iargv[] = {initdb, "-D", pg.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
			 "--locale=C", "-N", NULL};
	if (run_as_server_user(iargv, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		return fail(why, n, "initdb failed (is the scratch directory reachable by the "
				    "postgres user?): %s",
			    tail);
	}
	if (!pg_write_hba())
		return fail(why, n, "could not write %s/pg_hba.conf", pg.data);
	char pg_ctl[PATH_MAX + 16];
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg.bin);
	int rc = -1;
	for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
		pg.port = tu_free_port();
		char opts[PATH_MAX + 512];
		/* the model-based suites check logic, not the server's
		 * durability: STRATA_TEST_PG_NOSYNC lets them skip its fsyncs */
		const char *ns = getenv("STRATA_TEST_PG_NOSYNC");
		bool is_nosync = ns && *ns && strcmp(ns, "0") != 0;
		snprintf(opts, sizeof(opts),
			 "-h 127.0.0.1 -p %d -k %s -c fsync=%s -c synchronous_commit=%s "
			 "-c full_page_writes=%s -c shared_buffers=16MB -c max_connections=100 "
			 "-c password_encryption=scram-sha-256",
			 pg.port, pg.dir, is_nosync ? "off" : "on", is_nosync ? "off" : "on",
			 is_nosync ? "off" : "on");
		char *cargv[] = {pg_ctl, "-D", pg.data, "-w", "-t", "60", "-l", slog, "-o",
				 opts, "start", NULL};
		rc = run_as_server_user(cargv, log);
	}
	if (rc != 0) {
		tu_log_tail(slog, tail, sizeof(tail));
		if (!tail[0])
			tu_log_tail(log, tail, sizeof(tail));
		return fail(why, n, "pg_ctl start failed: %s", tail);
	}
	pg.pid = read_postmaster_pid();
	if (pg.pid <= 0)
		return fail(why, n, "no PID in %s/postmaster.pid", pg.data);
	pg.is_running = true;
	pg.owner = getpid();
	atexit(tu_pg_stop);
	if (!tu_watch_start(&pg.watch, "tu_pg", pg.data, pg.dir, &pg_stop_dead)) {
		tu_pg_stop();
		return fail(why, n, "could not fork the watcher: %s", strerror(errno));
	}
	tu_watch_pid(&pg.watch, pg.pid);
	char msg[512];
	if (!pg_setup(msg, sizeof(msg))) {
		tu_pg_stop();
		return fail(why, n, "could not create database strata: %s", msg);
	}
	tu_pg_uri("postgres", NULL, "strata", pg.uri, sizeof(pg.uri));
	return true;
}

const char *tu_pg_start(char *why, size_t n)
{
	if (!pg.is_tried) {
		pg.is_tried = true;
		if (!start(why, n))
			return NULL;
	}
	if (!pg.is_running) {
		snprintf(why, n, "%s", pg.why[0] ? pg.why : "PostgreSQL was stopped");
		return NULL;
	}
	return pg.uri;
}

const char *tu_pg_start_or_skip(void)
{
	char why[512];
	const char *uri = tu_pg_start(why, sizeof(why));
	if (!uri)
		tu_server_skip_suite(why);
	return uri;
}

int tu_pg_port(void)
{
	return pg.is_running ? pg.port : 0;
}

const char *tu_pg_dir(void)
{
	return pg.is_running ? pg.dir : NULL;
}

pid_t tu_pg_postmaster_pid(void)
{
	return pg.is_running ? pg.pid : 0;
}

void tu_pg_uri(const char *user, const char *password, const char *db, char *out, size_t n)
{
	snprintf(out, n, "postgresql://%s%s%s@127.0.0.1:%d/%s", user, password ? ":" : "",
		 password ? password : "", pg.port, db);
}
