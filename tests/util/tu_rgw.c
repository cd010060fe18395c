/*
 * tests/util/tu_rgw.c — see tu_rgw.h.
 *
 * The start, step by step (each step's output goes to DIR/cmd.log, each
 * daemon's log to DIR/log/NAME.log):
 *   1. write DIR/ceph.conf (fsid, the monitor's port, auth none, pools of
 *      size 1 with 8 PGs, memstore, every run/log/socket path inside DIR);
 *   2. monmaptool --create, ceph-mon --mkfs, then ceph-mon -f;
 *   3. `ceph osd new UUID 0` (the monitor allocates osd.0), ceph-osd --mkfs,
 *      then ceph-osd -f.  Its first start right after `osd new` sometimes
 *      exits with "wrong fsid" (it raced the monitor's map): an OSD that
 *      exits during the start is started again a second later (5 times);
 *   4. radosgw -f on a free port; it blocks until the OSD serves its pools;
 *   5. ready when GET / on the gateway answers HTTP; then radosgw-admin
 *      creates the user with the known keys.
 * Every step is bounded in time (a hung command is killed), and the whole
 * start within START_TIMEOUT_S.
 *
 * Invariants:
 *   1. at most one cluster per process, started by the first
 *      tu_rgw_start(); a failed start is remembered and not retried;
 *   2. a daemon is only ever signalled by the PID its fork() returned, after
 *      checking that /proc/PID/cmdline still names our ceph.conf (a
 *      recycled PID is never signalled);
 *   3. only the process that started the cluster stops it (a test's forked
 *      child that calls exit() leaves it running);
 *   4. from before the first daemon is forked until the cluster is
 *      stopped, a watcher (tests/util/tu_server.h) exists that knows every
 *      daemon's PID (told before the suite waits on anything else) and
 *      stops them if this process dies without saying so.
 */
#include "tests/util/tu_rgw.h"

#include "tests/util/testutil.h"
#include "tests/util/tu_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_S 120
#define CMD_TIMEOUT_S 60
#define STOP_GRACE_MS 3000

static const char *const daemon_names[TU_RGW_NDAEMONS] = {"ceph-mon", "ceph-osd", "radosgw"};

static struct {
	bool is_tried, is_running;
	char why[512];
	char dir[PATH_MAX];  /* scratch: ceph.conf, mon.a/, osd.0/, run/, log/ */
	char conf[PATH_MAX]; /* dir/ceph.conf: in every daemon's command line */
	int mon_port, port;
	pid_t pid[TU_RGW_NDAEMONS];
	pid_t owner; /* the process that started it: only it stops it */
	tu_watch watch; /* invariant 4 */
	char endpoint[64];
} rgw = {.watch = {.fd = -1}};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rgw.why, sizeof(rgw.why), fmt, ap);
	va_end(ap);
	snprintf(why, n, "%s", rgw.why);
	return false;
}

bool tu_rgw_is_gone(pid_t pid)
{
	return tu_proc_is_gone(pid);
}

/* SIGTERM (with SIGCONT: a test may have stopped one), then SIGKILL. */
static const tu_stop_plan rgw_stop = {2, {SIGTERM, SIGKILL}, {STOP_GRACE_MS, STOP_GRACE_MS}};

void tu_rgw_stop(void)
{
	/* a child forked by a test that calls exit() runs this too: the
	 * daemons are its parent's (invariant 3) */
	if (rgw.owner != getpid())
		return;
	tu_procs_stop(rgw.pid, TU_RGW_NDAEMONS, rgw.conf, &rgw_stop); /* invariant 2 */
	memset(rgw.pid, 0, sizeof(rgw.pid));
	rgw.is_running = false;
	tu_watch_done(&rgw.watch);
}

/* Fork and exec argv with stdin from /dev/null and stdout and stderr
 * appended to log; the child's PID, or -1. */
static pid_t spawn(char *const argv[], const char *log)
{
	fflush(NULL);
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
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Run argv to its end, killed after CMD_TIMEOUT_S; its exit status, or -1. */
static int run_cmd(char *const argv[], const char *log)
{
	pid_t pid = spawn(argv, log);
	if (pid < 0)
		return -1;
	int st;
	for (int t = 0; t < CMD_TIMEOUT_S * 50; t++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -1;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Start daemon d (argv) and tell the watcher first (invariant 4). */
static bool start_daemon(tu_rgw_daemon d, char *const argv[])
{
	char log[PATH_MAX + 32];
	snprintf(log, sizeof(log), "%s/log/%s.out", rgw.dir, daemon_names[d]);
	rgw.pid[d] = spawn(argv, log);
	if (rgw.pid[d] > 0)
		tu_watch_pid(&rgw.watch, rgw.pid[d]);
	return rgw.pid[d] > 0;
}

/* Whether the gateway answers an HTTP request on its port. */
static bool gateway_answers(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)rgw.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		const char *req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
		char buf[16] = "";
		if (write(fd, req, strlen(req)) == (ssize_t)strlen(req) &&
		    read(fd, buf, sizeof(buf) - 1) >= 12)
			ok = strncmp(buf, "HTTP/1.1 ", 9) == 0;
	}
	close(fd);
	return ok;
}

/* The OSD's memory-backed capacity: 1 GiB, or TU_RGW_MEMSTORE_BYTES (for
 * bench_store's 1 GiB merge, whose inputs and outputs are three times
 * that). */
static unsigned long long memstore_bytes(void)
{
	const char *v = getenv("TU_RGW_MEMSTORE_BYTES");
	unsigned long long n = v ? strtoull(v, NULL, 10) : 0;
	return n >= (1ull << 30) ? n : 1ull << 30;
}

static bool write_conf(const char *fsid)
{
	const char *d = rgw.dir;
	char text[8192];
	int len = snprintf(
		text, sizeof(text),
		"[global]\n"
		"fsid = %s\n"
		"mon host = v1:127.0.0.1:%d\n"
		"public network = 127.0.0.0/8\n"
		"ms bind msgr2 = false\n"
		"auth cluster required = none\n"
		"auth service required = none\n"
		"auth client required = none\n"
		"auth allow insecure global id reclaim = true\n"
		"osd pool default size = 1\n"
		"osd pool default min size = 1\n"
		"osd pool default pg num = 8\n"
		"osd pool default pgp num = 8\n"
		"osd pool default pg autoscale mode = off\n"
		"mon max pg per osd = 1000\n"
		"mon allow pool size one = true\n"
		"osd objectstore = memstore\n"
		"memstore device bytes = %llu\n"
		"run dir = %s/run\n"
		"log file = %s/log/$name.log\n"
		"admin socket = %s/run/$name.asok\n"
		"pid file = %s/run/$name.pid\n"
		"keyring = %s/keyring\n"
		"[mon.a]\n"
		"mon data = %s/mon.a\n"
		"[osd.0]\n"
		"osd data = %s/osd.0\n"
		"[client.rgw.a]\n"
		"rgw frontends = beast endpoint=127.0.0.1:%d\n"
		"rgw thread pool size = 64\n"
		"rgw enable usage log = false\n"
		/* virtual-hosted requests: BUCKET.localhost (libcurl resolves
		 * *.localhost to loopback itself); requests to 127.0.0.1 stay
		 * path-style */
		"rgw dns name = localhost\n",
		fsid, rgw.mon_port, memstore_bytes(), d, d, d, d, d, d, d, rgw.port);
	if (len <= 0 || (size_t)len >= sizeof(text))
		return false;
	char keyring[PATH_MAX + 16];
	snprintf(keyring, sizeof(keyring), "%s/keyring", d);
	return tu_write_file(rgw.conf, text, (size_t)len) == 0 && tu_write_file(keyring, "", 0) == 0;
}

static void new_uuid(char *out, size_t n)
{
	char *u = tu_read_file("/proc/sys/kernel/random/uuid", NULL);
	snprintf(out, n, "%.36s", u ? u : "");
	free(u);
}

static bool have_bin(const char *name)
{
	const char *dirs[] = {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(dirs); i++) {
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

static bool start(char *why, size_t n)
{
	const char *bins[] = {"ceph-mon", "ceph-osd", "radosgw", "monmaptool", "ceph",
			      "radosgw-admin"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bins); i++)
		if (!have_bin(bins[i]))
			return fail(why, n, "Ceph is not installed (no %s; `make deps` installs "
					    "Debian's ceph-mon ceph-osd radosgw)",
				    bins[i]);
	double t0 = now_s();
	snprintf(rgw.dir, sizeof(rgw.dir), "%s", tu_tmpdir());
	snprintf(rgw.conf, sizeof(rgw.conf), "%s/ceph.conf", rgw.dir);
	const char *subs[] = {"mon.a", "osd.0", "run", "log"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(subs); i++) {
		char p[PATH_MAX + 16];
		snprintf(p, sizeof(p), "%s/%s", rgw.dir, subs[i]);
		if (mkdir(p, 0755) < 0)
			return fail(why, n, "could not create \"%s\": %s", p, strerror(errno));
	}
	char fsid[40], osd_uuid[40], log[PATH_MAX + 16], tail[400];
	new_uuid(fsid, sizeof(fsid));
	new_uuid(osd_uuid, sizeof(osd_uuid));
	snprintf(log, sizeof(log), "%s/cmd.log", rgw.dir);
	rgw.mon_port = tu_free_port();
	rgw.port = tu_free_port();
	if (rgw.mon_port <= 0 || rgw.port <= 0 || rgw.port == rgw.mon_port)
		return fail(why, n, "could not find two free loopback ports");
	if (!write_conf(fsid))
		return fail(why, n, "could not write %s", rgw.conf);
	char *conf = rgw.conf;
	char monmap[PATH_MAX + 16], monaddr[64];
	snprintf(monmap, sizeof(monmap), "%s/monmap", rgw.dir);
	snprintf(monaddr, sizeof(monaddr), "v1:127.0.0.1:%d", rgw.mon_port);
	char *mm[] = {"monmaptool", "--create", "--add", "a", monaddr, "--fsid", fsid, monmap,
		      NULL};
	char *mkmon[] = {"ceph-mon", "-c", conf, "--mkfs", "-i", "a", "--monmap", monmap, NULL};
	if (run_cmd(mm, log) != 0 || run_cmd(mkmon, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		return fail(why, n, "could not make the monitor: %s", tail);
	}
	rgw.owner = getpid();
	atexit(tu_rgw_stop);
	if (!tu_watch_start(&rgw.watch, "tu_rgw", rgw.conf, rgw.dir, &rgw_stop))
		return fail(why, n, "could not fork the watcher: %s", strerror(errno));
	rgw.is_running = true; /* from here on tu_rgw_stop() has work to do */
	char *mon[] = {"ceph-mon", "-f", "-c", conf, "-i", "a", NULL};
	if (!start_daemon(TU_RGW_MON, mon))
		goto failed;
	char *osdnew[] = {"ceph", "-c", conf, "--connect-timeout", "30", "osd", "new",
			  osd_uuid, "0", NULL};
	char *mkosd[] = {"ceph-osd", "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid,
			 NULL};
	/* a monitor still starting (a loaded machine) answers "osd new" with
	 * EPERM ("problem getting command descriptions from mon"): ask again */
	int orc = -1;
	for (int attempt = 0; attempt < 15 && orc != 0; attempt++) {
		if (attempt > 0)
			usleep(1000 * 1000);
		orc = run_cmd(osdnew, log);
	}
	if (orc != 0 || run_cmd(mkosd, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		fail(why, n, "could not make the OSD: %s", tail);
		goto failed;
	}
	char *osd[] = {"ceph-osd", "-f", "-c", conf, "-i", "0", NULL};
	char *gw[] = {"radosgw", "-f", "-c", conf, "-n", "client.rgw.a", NULL};
	if (!start_daemon(TU_RGW_OSD, osd) || !start_daemon(TU_RGW_GW, gw))
		goto failed;
	int osd_starts = 1;
	bool is_ready = false;
	while (!is_ready && now_s() - t0 < START_TIMEOUT_S) {
		sleep_ms(200);
		if (tu_rgw_is_gone(rgw.pid[TU_RGW_MON]) || tu_rgw_is_gone(rgw.pid[TU_RGW_GW])) {
			char dlog[PATH_MAX + 32];
			int d = tu_rgw_is_gone(rgw.pid[TU_RGW_MON]) ? TU_RGW_MON : TU_RGW_GW;
			snprintf(dlog, sizeof(dlog), "%s/log/%s.out", rgw.dir, daemon_names[d]);
			tu_log_tail(dlog, tail, sizeof(tail));
			fail(why, n, "%s exited during the start: %s", daemon_names[d], tail);
			goto failed;
		}
		if (tu_rgw_is_gone(rgw.pid[TU_RGW_OSD])) {
			/* "wrong fsid": it raced the monitor's new map; again */
			if (osd_starts++ >= 5) {
				tu_log_tail(log, tail, sizeof(tail));
				fail(why, n, "ceph-osd exited 5 times during the start (see "
					     "%s/log/)",
				     rgw.dir);
				goto failed;
			}
			sleep_ms(1000);
			if (!start_daemon(TU_RGW_OSD, osd))
				goto failed;
			continue;
		}
		is_ready = gateway_answers();
	}
	if (!is_ready) {
		fail(why, n, "radosgw did not answer on port %d within %d s (see %s/log/)",
		     rgw.port, START_TIMEOUT_S, rgw.dir);
		goto failed;
	}
	char *user[] = {"radosgw-admin", "-c", conf, "user", "create", "--uid=strata",
			"--display-name=strata", "--access-key=" TU_RGW_ACCESS_KEY,
			"--secret-key=" TU_RGW_SECRET_KEY, NULL};
	if (run_cmd(user, log) != 0) {
		tu_log_tail(log, tail, sizeof(tail));
		fail(why, n, "radosgw-admin could not create the user: %s", tail);
		goto failed;
	}
	snprintf(rgw.endpoint, sizeof(rgw.endpoint), "http://127.0.0.1:%d", rgw.port);
	fprintf(stderr, "tu_rgw: radosgw on %s, ready in %.1f s (scratch %s)\n", rgw.endpoint,
		now_s() - t0, rgw.dir);
	return true;
failed:
	if (!rgw.why[0])
		fail(why, n, "could not start a Ceph daemon: %s", strerror(errno));
	tu_rgw_stop();
	snprintf(why, n, "%s", rgw.why);
	return false;
}

const char *tu_rgw_start(char *why, size_t n)
{
	if (!rgw.is_tried) {
		rgw.is_tried = true;
		if (!start(why, n))
			return NULL;
	}
	if (!rgw.is_running) {
		snprintf(why, n, "%s", rgw.why[0] ? rgw.why : "the Ceph cluster was stopped");
		return NULL;
	}
	return rgw.endpoint;
}

const char *tu_rgw_start_or_skip(void)
{
	char why[512];
	const char *ep = tu_rgw_start(why, sizeof(why));
	if (!ep)
		tu_server_skip_suite(why);
	return ep;
}

int tu_rgw_port(void)
{
	return rgw.is_running ? rgw.port : 0;
}

const char *tu_rgw_dir(void)
{
	return rgw.is_running ? rgw.dir : NULL;
}

pid_t tu_rgw_daemon_pid(tu_rgw_daemon d)
{
	return rgw.is_running && d >= 0 && d < TU_RGW_NDAEMONS ? rgw.pid[d] : 0;
}
