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
#include <dirent.h>
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

static pid_t read_postmaster_pid(const char *data)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/postmaster.pid", data);
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
	pg.pid = read_postmaster_pid(pg.data);
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

/* ---- SQL on the server, for the tests' own checks ---------------------------------- */

PGconn *tu_pg_connect(const char *db)
{
	char conninfo[300];
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=postgres dbname=%s",
		 tu_pg_port(), db);
	return PQconnectdb(conninfo);
}

bool tu_pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

long long tu_pg_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = atoll(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return v;
}

bool tu_pg_create_db(const char *name, const char *owner)
{
	char sql[300];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s%s%s", name, owner ? " OWNER " : "",
		 owner ? owner : "");
	PGconn *c = tu_pg_connect("strata");
	bool ok = PQstatus(c) == CONNECTION_OK;
	if (!ok)
		fprintf(stderr, "%s: could not connect: %s", sql, PQerrorMessage(c));
	else
		ok = tu_pg_exec(c, sql);
	PQfinish(c);
	return ok;
}

/* ---- a primary and a synchronous standby ------------------------------------------ */

/* Invariants 2-4 hold for the pair as for the single server: its
 * postmasters are signalled only by the PIDs in their postmaster.pid files
 * while their command lines name the pair's scratch directory, only the
 * process that started them stops them, and the pair's own watcher stops
 * them if this process dies first. */
static struct {
	bool is_tried, is_started;
	bool is_running[2];
	char why[512];
	char bin[PATH_MAX];
	char dir[PATH_MAX];        /* scratch: primary/, standby/, logs, sockets */
	char data[2][PATH_MAX];
	int port[2];
	pid_t pid[2];
	pid_t owner;
	tu_watch watch;
	char uri[512];
} pair = {.watch = {.fd = -1}};

static bool pair_fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool pair_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pair.why, sizeof(pair.why), fmt, ap);
	va_end(ap);
	snprintf(why, n, "%s", pair.why);
	return false;
}

void tu_pg_pair_stop(void)
{
	if (pair.owner != getpid())
		return;
	pid_t live[2];
	int k = 0;
	for (int i = 0; i < 2; i++)
		if (pair.is_running[i])
			live[k++] = pair.pid[i];
	if (k)
		tu_procs_stop(live, k, pair.dir, &pg_stop);
	pair.is_running[0] = pair.is_running[1] = false;
	tu_watch_done(&pair.watch);
}

/* pg_ctl start of node i (0 primary, 1 standby) on a free port (three
 * tries), then its PID to the watcher. */
static bool pair_node_start(int i, const char *extra, char *why, size_t n)
{
	const char *name = i == 0 ? "primary" : "standby";
	char log[PATH_MAX + 32], slog[PATH_MAX + 32], tail[400], pg_ctl[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/cmd.log", pair.dir);
	snprintf(slog, sizeof(slog), "%s/%s.log", pair.dir, name);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pair.bin);
	int rc = -1;
	for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
		pair.port[i] = tu_free_port();
		char opts[PATH_MAX + 600];
		snprintf(opts, sizeof(opts),
			 "-h 127.0.0.1 -p %d -k %s -c fsync=on -c synchronous_commit=on "
			 "-c shared_buffers=16MB -c max_connections=40 -c wal_level=replica "
			 "-c max_wal_senders=4 %s",
			 pair.port[i], pair.dir, extra);
		char *cargv[] = {pg_ctl, "-D", pair.data[i], "-w", "-t", "60", "-l", slog, "-o",
				 opts, "start", NULL};
		rc = run_as_server_user(cargv, log);
	}
	if (rc != 0) {
		tu_log_tail(slog, tail, sizeof(tail));
		return pair_fail(why, n, "pg_ctl start of the %s failed: %s", name, tail);
	}
	pair.pid[i] = read_postmaster_pid(pair.data[i]);
	if (pair.pid[i] <= 0)
		return pair_fail(why, n, "no PID in %s/postmaster.pid", pair.data[i]);
	pair.is_running[i] = true;
	tu_watch_pid(&pair.watch, pair.pid[i]);
	return true;
}

/* Run sql on node i's database postgres as the superuser; the first field
 * of its first row into out (may be NULL). */
static bool pair_sql(int i, const char *sql, char *out, size_t n, char *msg, size_t mn)
{
	char conninfo[256];
	snprintf(conninfo, sizeof(conninfo),
		 "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=10",
		 pair.port[i]);
	PGconn *c = PQconnectdb(conninfo);
	bool ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		PGresult *r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
		if (ok && out)
			snprintf(out, n, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
		PQclear(r);
	}
	if (!ok)
		snprintf(msg, mn, "%s: %s", sql, PQerrorMessage(c));
	PQfinish(c);
	return ok;
}

static bool pair_start(const char *db, char *why, size_t n)
{
	if (!find_bin(pair.bin, sizeof(pair.bin)))
		return pair_fail(why, n, "PostgreSQL is not installed (no /usr/lib/postgresql/*/"
					 "bin/initdb; `make deps` installs Debian's postgresql)");
	char basebackup[PATH_MAX + 16];
	snprintf(basebackup, sizeof(basebackup), "%s/pg_basebackup", pair.bin);
	if (access(basebackup, X_OK) != 0)
		return pair_fail(why, n, "%s is missing", basebackup);
	struct passwd *pw = NULL;
	if (geteuid() == 0 && !(pw = getpwnam("postgres")))
		return pair_fail(why, n, "running as root and there is no postgres user to run "
					 "initdb and the servers as");
	snprintf(pair.dir, sizeof(pair.dir), "%s", tu_tmpdir());
	snprintf(pair.data[0], sizeof(pair.data[0]), "%s/primary", pair.dir);
	snprintf(pair.data[1], sizeof(pair.data[1]), "%s/standby", pair.dir);
	if (pw && (chown(pair.dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(pair.dir, 0700) < 0))
		return pair_fail(why, n, "could not give \"%s\" to the postgres user: %s", pair.dir,
				 strerror(errno));
	if (pw && !reachable_by(pw, pair.dir))
		return pair_fail(why, n, "the postgres user cannot reach the scratch directory "
					 "\"%s\" (set TMPDIR to a directory every user can search)",
				 pair.dir);
	char log[PATH_MAX + 16], tail[400], msg[512];
	snprintf(log, sizeof(log), "%s/cmd.log", pair.dir);
	char initdb[PATH_MAX + 16];
	snprintf(initdb, sizeof(initdb), "%s/initdb", pair.bin);
	char *iargv[] = {initdb, "-D", pair.data[0], "-A", "trust", "-U", "postgres", "-E", "UTF8",
			 "--locale=C", "-N", NULL};
	if (run_as_server_user(iargv, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		return pair_fail(why, n, "initdb of the primary failed: %s", tail);
	}
	char hba[PATH_MAX + 16];
	snprintf(hba, sizeof(hba), "%s/pg_hba.conf", pair.data[0]);
	const char *hba_text = "local all all trust\n"
			       "host all all 127.0.0.1/32 trust\n"
			       "host replication all 127.0.0.1/32 trust\n";
	if (tu_write_file(hba, hba_text, strlen(hba_text)) != 0)
		return pair_fail(why, n, "could not write %s", hba);
	pair.owner = getpid();
	atexit(tu_pg_pair_stop);
	if (!tu_watch_start(&pair.watch, "tu_pg_pair", pair.dir, pair.dir, &pg_stop_dead))
		return pair_fail(why, n, "could not fork the watcher: %s", strerror(errno));
	if (!pair_node_start(0, "", why, n))
		return false;
	char sql[200];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (!pair_sql(0, sql, NULL, 0, msg, sizeof(msg)))
		return pair_fail(why, n, "could not create database %s: %s", db, msg);
	/* the standby: a base backup with its recovery settings (-R), streaming */
	char port[16];
	snprintf(port, sizeof(port), "%d", pair.port[0]);
	char *bargv[] = {basebackup, "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-D",
			 pair.data[1], "-R", "-X", "stream", "-c", "fast", NULL};
	if (run_as_server_user(bargv, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		return pair_fail(why, n, "pg_basebackup failed: %s", tail);
	}
	if (!pair_node_start(1, "-c hot_standby=on", why, n))
		return false;
	/* synchronous from now on (ALTER SYSTEM: after the base backup, so
	 * the standby, once promoted, waits for nobody) */
	if (!pair_sql(0, "ALTER SYSTEM SET synchronous_standby_names = '*'", NULL, 0, msg,
		      sizeof(msg)) ||
	    !pair_sql(0, "SELECT pg_reload_conf()", NULL, 0, msg, sizeof(msg)))
		return pair_fail(why, n, "%s", msg);
	char state[32] = "";
	for (int i = 0; i < 600 && strcmp(state, "sync") != 0; i++) {
		if (i)
			usleep(100 * 1000);
		if (!pair_sql(0, "SELECT sync_state FROM pg_stat_replication", state,
			      sizeof(state), msg, sizeof(msg)))
			return pair_fail(why, n, "%s", msg);
	}
	if (strcmp(state, "sync") != 0)
		return pair_fail(why, n, "the standby did not become synchronous in 60 s "
					 "(pg_stat_replication.sync_state \"%s\"; see %s/standby.log)",
				 state, pair.dir);
	snprintf(pair.uri, sizeof(pair.uri),
		 "postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?target_session_attrs=read-write",
		 pair.port[0], pair.port[1], db);
	return true;
}

const char *tu_pg_pair_start(const char *db, char *why, size_t n)
{
	if (!pair.is_tried) {
		pair.is_tried = true;
		pair.is_started = pair_start(db, why, n);
		if (!pair.is_started) {
			tu_pg_pair_stop();
			return NULL;
		}
	}
	if (!pair.is_started) {
		snprintf(why, n, "%s", pair.why);
		return NULL;
	}
	return pair.uri;
}

int tu_pg_pair_port(int node)
{
	return node == 0 || node == 1 ? pair.port[node] : 0;
}

const char *tu_pg_pair_dir(void)
{
	return pair.is_started ? pair.dir : NULL;
}

/* The children of pid, from /proc (at most max), into out; how many. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	int k = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && k < max) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end || p <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%ld/stat", p);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		const char *rp = strrchr(buf, ')');
		char state;
		long ppid;
		if (rp && sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid)
			out[k++] = (pid_t)p;
	}
	if (d)
		closedir(d);
	return k;
}

bool tu_pg_pair_kill_primary(char *why, size_t n)
{
	pid_t pid = pair.pid[0];
	if (!pair.is_running[0] || tu_proc_is_gone(pid) || !tu_proc_is_ours(pid, pair.data[0]))
		return pair_fail(why, n, "the primary (PID %d) is not running", (int)pid);
	/* the postmaster and its children (backends, WAL sender, writer...)
	 * all at once, as when the machine goes: each child runs in a session
	 * of its own, so they are found by their parent — stopped first, so
	 * it forks no new one and restarts nothing meanwhile */
	kill(pid, SIGSTOP);
	pid_t kids[256];
	int nkids = children_of(pid, kids, 256);
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	kill(pid, SIGKILL);
	pair.is_running[0] = false;
	for (int i = 0; i < 1000 && !tu_proc_is_gone(pid); i++)
		usleep(10 * 1000);
	if (!tu_proc_is_gone(pid))
		return pair_fail(why, n, "the primary (PID %d) outlived SIGKILL for 10 s", (int)pid);
	return true;
}

bool tu_pg_pair_promote(char *why, size_t n)
{
	if (!pair.is_running[1])
		return pair_fail(why, n, "the standby is not running");
	char log[PATH_MAX + 16], tail[400], pg_ctl[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/cmd.log", pair.dir);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pair.bin);
	char *argv[] = {pg_ctl, "-D", pair.data[1], "-w", "-t", "60", "promote", NULL};
	if (run_as_server_user(argv, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		return pair_fail(why, n, "pg_ctl promote failed: %s", tail);
	}
	return true;
}
