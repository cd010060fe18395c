/*
 * tests/util/tu_rgw.h — a throw-away Ceph RADOS Gateway (an S3 server) on
 * loopback for one test suite (started once per process, not per test).
 *
 * tu_rgw_start() builds a one-node Ceph cluster in a scratch directory of
 * its own (tu_tmpdir(), so strata-test-*): one monitor, one OSD with the
 * memstore object store (the data lives in the OSD's memory), one radosgw
 * with the beast front end, all with `auth none`, the monitor and the
 * gateway on free loopback ports.  The gateway's DNS name is localhost, so
 * virtual-hosted requests reach it as http://BUCKET.localhost:PORT/KEY
 * (libcurl resolves *.localhost to loopback itself).  The OSD holds 1 GiB,
 * or TU_RGW_MEMSTORE_BYTES from the environment (bench_store's big merge).  Then radosgw-admin creates a user with
 * the known keys TU_RGW_ACCESS_KEY / TU_RGW_SECRET_KEY.  Ready in about
 * 12 s on our machines; about 210 MiB RSS for the three daemons once a
 * suite has written some tens of MiB (the memstore OSD holds them).
 *
 * The three daemons run in the foreground (-f) as children of the suite,
 * so their PIDs are known from fork(), never read from a file.  They are
 * stopped by PID, never by name:
 *   - at exit (atexit): SIGTERM, then SIGKILL after a grace period;
 *   - if the suite dies without running atexit (abort, a crash, kill -9, or
 *     killed half-way through the start), by a watcher process forked
 *     before the first daemon: the suite sends it each daemon's PID as it
 *     starts, through a pipe only the suite holds the write end of; at EOF
 *     without the clean-stop mark it kills them and removes the scratch
 *     directory.
 *
 * Failure to find or start Ceph is not a test failure here: the call
 * returns NULL with the reason, and tu_rgw_start_or_skip() prints
 * "SKIPPED: <reason>" on a line of its own and exits 0.
 */
#ifndef STRATA_TU_RGW_H
#define STRATA_TU_RGW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The keys of the gateway's user (uid "strata"). */
#define TU_RGW_ACCESS_KEY "STRATATESTACCESSKEY1"
#define TU_RGW_SECRET_KEY "strata-Test-Secret/4711+rgw"

/* The daemons, for tu_rgw_daemon_pid(). */
typedef enum { TU_RGW_MON = 0, TU_RGW_OSD = 1, TU_RGW_GW = 2, TU_RGW_NDAEMONS = 3 } tu_rgw_daemon;

/* Start the cluster (first call) and return the gateway's endpoint,
 * "http://127.0.0.1:PORT" (lent until exit); later calls return the same.
 * NULL if Ceph is not installed or does not start; why (size n) says why
 * (a failed start is not retried). */
const char *tu_rgw_start(char *why, size_t n);
/* tu_rgw_start(), or print "SKIPPED: <reason>" on its own line and exit(0). */
const char *tu_rgw_start_or_skip(void);
/* The gateway's port, the scratch directory, a daemon's PID (0 / NULL
 * before a successful start or after the stop). */
int tu_rgw_port(void);
const char *tu_rgw_dir(void);
pid_t tu_rgw_daemon_pid(tu_rgw_daemon d);
/* Whether pid has exited (or is a zombie waiting for its reaper). */
bool tu_rgw_is_gone(pid_t pid);
/* Stop the cluster now (also done at exit); safe to call twice. */
void tu_rgw_stop(void);

#endif
