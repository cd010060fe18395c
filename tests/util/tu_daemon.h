/*
 * tests/util/tu_daemon.h — driving a real stratad from a test: spawning the
 * built binary (tu_bin("stratad"), so `make asan` runs the sanitized one and
 * `make valgrind` the one under valgrind), its admin socket, its log, and
 * bounded waits.  Used by tests/test_hostile.c, tests/test_mapfull.c and the
 * soak (tests/soak.c).
 *
 * Nothing here asserts a duration: waits poll until a deadline and say what
 * they waited for when it passes.  Every daemon spawned is SIGKILLed at exit
 * if the test did not stop it.
 */
#ifndef STRATA_TU_DAEMON_H
#define STRATA_TU_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

double tud_now_s(void); /* monotonic */
void tud_sleep_ms(int ms);

/* Start stratad --config cfg with stdout and stderr appended to log, and
 * env (NULL, or name, value, ..., NULL) set in the child. */
pid_t tud_spawn(const char *cfg, const char *log, const char *const *env);
/* tud_spawn() as if on another host: the child enters a UTS namespace of
 * its own and takes host as its host name, so owner strings
 * ("stratad@host:pid") name a host this process is not on (and no process
 * of this host judges it dead by its pid).  Needs root
 * (CAP_SYS_ADMIN): the child exits 126 if it cannot; tud_can_fake_host()
 * tells beforehand. */
pid_t tud_spawn_host(const char *cfg, const char *log, const char *const *env,
		     const char *host);
bool tud_can_fake_host(void);
/* Wait for pid to exit: its exit status (128 + signal if killed), or -1 if
 * it still runs at the deadline. */
int tud_wait_exit(pid_t pid, double timeout_s);
/* Write a file from a format (asserts). */
void tud_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The usual places of a daemon test in its scratch directory dir: the
 * warehouse dir/wh, the config dir/stratad.ini, the log dir/stratad.log and
 * the admin socket dir/run/admin.sock. */
#define TUD_SOCK_MAX 200
void tud_paths(const char *dir, char whp[PATH_MAX], char cfg[PATH_MAX], char log[PATH_MAX],
	       char sock[TUD_SOCK_MAX]);

/* The log holds phrase (now / within timeout_s). */
bool tud_log_has(const char *log, const char *phrase);
bool tud_wait_log(const char *log, const char *phrase, double timeout_s);

/* A connected admin socket fd, or -1. */
int tud_connect(const char *sock);
/* Read one line (malloc'd, without its newline) within timeout_s; NULL on
 * EOF, error or timeout. */
char *tud_read_line(int fd, double timeout_s);
/* One command on a fresh connection: the reply object (caller decrefs) or
 * NULL. */
json_t *tud_admin(const char *sock, const char *line);
/* Whether the reply is {"ok":true,...}; decrefs it. */
bool tud_admin_ok(const char *sock, const char *line);
/* `status` answers within timeout_s. */
bool tud_wait_ready(const char *sock, double timeout_s);
/* The text of the `metrics` reply (malloc'd) or NULL. */
char *tud_metrics(const char *sock);
/* The value of one metric line "name{labels} value" (the exact text before
 * the value, e.g. "strata_jobs_queued" or
 * "strata_jobs_total{kind=\"sort\",result=\"ok\"}"); -1 if absent. */
double tud_metric(const char *metrics_text, const char *series);

#endif
