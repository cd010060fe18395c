/*
 * tests/util/tu_pg.h — a throw-away PostgreSQL on loopback for one test
 * suite (started once per process, not per test).
 *
 * tu_pg_start() finds the newest /usr/lib/postgresql/<N>/bin, runs initdb
 * into a scratch directory of its own (tu_tmpdir(), so strata-test-*),
 * starts the server with pg_ctl -w on 127.0.0.1 and a free port, the Unix
 * socket inside the scratch directory, fsync=on, and creates database
 * "strata" and a role with a password ("tu_pw", see TU_PG_PW_*) that must
 * authenticate with it (scram-sha-256 on loopback; every other role is
 * trusted on loopback).  initdb and the server refuse to run as root: when
 * the suite runs as root they run as the postgres user (runuser -u postgres
 * --) and the scratch directory is made reachable by that user.
 *
 * The server is stopped by the postmaster's PID (read from postmaster.pid),
 * never by name:
 *   - at exit (atexit), with a fast shutdown, then immediate, then SIGKILL;
 *   - if the suite dies without running atexit (abort, a crash, kill -9), by
 *     a watcher process forked at start that holds the read end of a pipe
 *     only the suite holds the write end of: at EOF it stops the postmaster
 *     (immediate shutdown, then SIGKILL) and removes the scratch directory.
 *
 * Failure to find or start PostgreSQL is not a test failure here: the call
 * returns NULL with the reason, and the suite prints "SKIPPED: <reason>" and
 * exits 0 (tu_pg_start_or_skip() does that).
 *
 * The tests' own SQL (create a database, run a statement, read one number)
 * goes through tu_pg_create_db / tu_pg_exec / tu_pg_int on a connection from
 * tu_pg_connect, so every suite reports a failed statement the same way.
 */
#ifndef STRATA_TU_PG_H
#define STRATA_TU_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* The role with a password, for the password tests. */
#define TU_PG_PW_USER "tu_pw"
#define TU_PG_PW_PASSWORD "tu-Secret-7731"

/* Start the server (first call) and return the URI of database strata as
 * the superuser, "postgresql://postgres@127.0.0.1:PORT/strata" (lent until
 * exit); later calls return the same URI.  NULL if PostgreSQL is not
 * installed or does not start; why (size n) says why. */
const char *tu_pg_start(char *why, size_t n);
/* tu_pg_start(), or print "SKIPPED: <reason>" on a line of its own and
 * exit(0). */
const char *tu_pg_start_or_skip(void);
/* The running server's port, scratch directory and postmaster PID (0 / NULL
 * before a successful start). */
int tu_pg_port(void);
const char *tu_pg_dir(void);
pid_t tu_pg_postmaster_pid(void);
/* A URI of database db as user (user:password@ when password is not NULL),
 * into out. */
void tu_pg_uri(const char *user, const char *password, const char *db, char *out, size_t n);
/* Whether pid has exited (or is a zombie waiting for its reaper). */
bool tu_pg_is_gone(pid_t pid);
/* Stop the server now (also done at exit); safe to call twice. */
void tu_pg_stop(void);

/* ---- SQL on the server, for the tests' own checks ------------------------------ */

/* A connection to database db of tu_pg_start()'s server as the superuser;
 * the caller checks PQstatus and PQfinishes it. */
PGconn *tu_pg_connect(const char *db);
/* Run sql on c: true when it gave a command's result or rows; else false,
 * with sql and the server's message on stderr. */
bool tu_pg_exec(PGconn *c, const char *sql);
/* The first field of the first row sql gives on c, as an integer; -1 when
 * there is no row or it is NULL, or on an error (then sql and the server's
 * message go to stderr). */
long long tu_pg_int(PGconn *c, const char *sql);
/* CREATE DATABASE name (OWNER owner when owner is not NULL), as the
 * superuser; false, with the reason on stderr, when that fails. */
bool tu_pg_create_db(const char *name, const char *owner);

/* ---- a primary and a synchronous standby (the failover tests) ----------------
 *
 * tu_pg_pair_start() starts, in a scratch directory of its own (apart from
 * tu_pg_start()'s server), a primary (initdb, pg_ctl on a free loopback
 * port), creates database db there, makes a standby of it (pg_basebackup
 * -R -X stream) started on another free port, then makes that standby
 * synchronous (synchronous_standby_names = '*' set on the primary with
 * ALTER SYSTEM after the base backup, so the standby once promoted waits
 * for nobody; synchronous_commit = on) and waits until
 * pg_stat_replication says "sync".  Returns the multi-host URI of db as
 * the superuser,
 *   postgresql://postgres@127.0.0.1:P0,127.0.0.1:P1/db?target_session_attrs=read-write
 * (lent until exit), or NULL with the reason.  Both postmasters are
 * stopped by PID at exit (and by a watcher if the suite dies), like
 * tu_pg_start()'s.  One pair per process. */
const char *tu_pg_pair_start(const char *db, char *why, size_t n);
/* Port of node 0 (the primary) or 1 (the standby). */
int tu_pg_pair_port(int node);
/* The pair's scratch directory (logs: primary.log, standby.log, cmd.log). */
const char *tu_pg_pair_dir(void);
/* SIGKILL the primary's postmaster and every child of it (backends, WAL
 * sender...), as when its machine goes; returns once the postmaster is
 * gone. */
bool tu_pg_pair_kill_primary(char *why, size_t n);
/* pg_ctl promote -w of the standby: it takes writes on return. */
bool tu_pg_pair_promote(char *why, size_t n);
/* Stop both servers now (also done at exit); safe to call twice. */
void tu_pg_pair_stop(void);

#endif
