/*
 * tests/util/tu_server.h — what the harnesses of real servers share
 * (tests/util/tu_pg.c: PostgreSQL; tests/util/tu_rgw.c: a Ceph RADOS
 * Gateway): a free loopback port, a log's tail for a reason, whether a
 * process is gone, stopping processes by PID only while they are still ours,
 * and the watcher that stops a suite's servers when the suite dies without
 * doing so.
 *
 * "Ours" is judged by a mark, a string that only our server's command line
 * holds (its data directory, its config file): a PID the kernel recycled is
 * never signalled.
 *
 * The watcher is a forked process, out of the suite's process group, that
 * holds the read end of a pipe whose only write end is the suite's
 * (close-on-exec: no server inherits it).  The suite tells it each PID to
 * stop (tu_watch_pid) and, when it stopped them itself, says so
 * (tu_watch_done).  If the pipe closes without that — the suite aborted,
 * crashed or was killed with -9 — the watcher stops every PID it was told
 * with the watch's signals and removes the scratch directory (unless
 * STRATA_KEEP_TMP is set).
 */
#ifndef STRATA_TU_SERVER_H
#define STRATA_TU_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A loopback TCP port nobody listens on now (a race with another process
 * remains: starts retry on another port), or -1. */
int tu_free_port(void);

/* The last 300 bytes of a log flattened into one line (into out). */
void tu_log_tail(const char *path, char *out, size_t n);

/* Whether pid has exited: reaped if it is our child, gone, or a zombie
 * waiting for its parent (not ours) to reap it. */
bool tu_proc_is_gone(pid_t pid);

/* Whether pid's command line holds mark. */
bool tu_proc_is_ours(pid_t pid, const char *mark);

/* How to stop a server: signals in order, each followed by a wait of up to
 * wait_ms for every process to go; SIGCONT goes with the first (a test may
 * have stopped one). */
typedef struct tu_stop_plan {
	int nsig;
	int sig[3];
	int wait_ms[3];
} tu_stop_plan;

/* Stop the processes of pids that are still ours (mark), by plan. */
void tu_procs_stop(const pid_t *pids, int n, const char *mark, const tu_stop_plan *plan);

/* The suite cannot run without its server: print "SKIPPED: why" on its
 * own line (tests/run-tests counts the suite as skipped) and exit 0. */
void tu_server_skip_suite(const char *why) __attribute__((noreturn));

#define TU_WATCH_MAX 16

typedef struct tu_watch {
	pid_t pid; /* the watcher */
	int fd;    /* write end of its pipe; -1 when none */
} tu_watch;

/* Fork the watcher (name prefixes its message).  mark, dir and plan are
 * copied into it as they are now.  False if it could not be forked. */
bool tu_watch_start(tu_watch *w, const char *name, const char *mark, const char *dir,
		    const tu_stop_plan *plan);
/* One more PID for the watcher to stop if the suite dies. */
void tu_watch_pid(tu_watch *w, pid_t pid);
/* The suite stopped its servers itself: the watcher exits, and is reaped. */
void tu_watch_done(tu_watch *w);

#endif
