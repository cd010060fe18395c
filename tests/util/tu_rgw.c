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
 *      stopped, a watcher process exists that knows every daemon's PID (the
 *      suite writes it down the pipe before it waits on anything else) and
 *      stops them if this process dies without saying so: the suite holds
 *      the only write end of the pipe (close-on-exec, so the daemons never
 *      inherit it), and a clean stop writes 's' before closing it.
 */
#include "tests/util/tu_rgw.h"

#include "tests/util/testutil.h"

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

/* one message to the watcher: 'p' + a daemon's PID, or 's' (clean stop) */
struct watch_msg {
	char tag;
	int32_t pid;
};

static struct {
	bool is_tried, is_running;
	char why[512];
	char dir[PATH_MAX];  /* scratch: ceph.conf, mon.a/, osd.0/, run/, log/ */
	char conf[PATH_MAX]; /* dir/ceph.conf: in every daemon's command line */
	int mon_port, port;
	pid_t pid[TU_RGW_NDAEMONS];
	pid_t watcher;
	pid_t owner; /* the process that started it: only it stops it */
	int watch_fd;
	char endpoint[64];
} rgw = {.watch_fd = -1};

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

/* A port nobody listens on now (a race with another process remains). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* The last lines of a file, flattened into one line, for a reason. */
static void log_tail(const char *path, char *out, size_t n)
{
	size_t len = 0;
	char *text = tu_read_file(path, &len);
	out[0] = '\0';
	if (!text)
		return;
	const char *p = len > 300 ? text + len - 300 : text;
	size_t k = 0;
	for (; *p && k + 1 < n; p++)
		out[k++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
	out[k] = '\0';
	free(text);
}

/* Invariant 2: pid is still one of our daemons. */
static bool is_ours(pid_t pid)
{
	char path[64], cmd[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, rgw.conf) != NULL;
}

bool tu_rgw_is_gone(pid_t pid)
{
	if (pid <= 0)
		return true;
	/* our child: reap it if it has exited */
	int st;
	if (waitpid(pid, &st, WNOHANG) == pid)
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* not our child: it may linger as a zombie until init reaps it */
	char path[64], stat_text[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, stat_text, sizeof(stat_text) - 1);
	close(fd);
	if (n <= 0)
		return true;
	stat_text[n] = '\0';
	const char *rp = strrchr(stat_text, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* SIGTERM every listed daemon (SIGCONT too: a test may have stopped one),
 * wait up to STOP_GRACE_MS for all, then SIGKILL the rest and wait. */
static void stop_pids(const pid_t *pids, int n)
{
	bool live[64] = {false};
	for (int i = 0; i < n && i < 64; i++) {
		live[i] = pids[i] > 0 && !tu_rgw_is_gone(pids[i]) && is_ours(pids[i]);
		if (live[i]) {
			kill(pids[i], SIGTERM);
			kill(pids[i], SIGCONT);
		}
	}
	for (int round = 0; round < 2; round++) {
		for (int t = 0; t < STOP_GRACE_MS; t += 20) {
			bool any = false;
			for (int i = 0; i < n && i < 64; i++) {
				if (live[i] && tu_rgw_is_gone(pids[i]))
					live[i] = false;
				any = any || live[i];
			}
			if (!any)
				return;
			sleep_ms(20);
		}
		for (int i = 0; i < n && i < 64; i++)
			if (live[i] && is_ours(pids[i]))
				kill(pids[i], SIGKILL);
	}
}

/* Invariant 4: the watcher.  Runs in the forked child; never returns. */
static void watcher_main(int rfd)
{
	/* out of the suite's process group: a ^C to the suite must not take
	 * the watcher with it before it has stopped the daemons */
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	pid_t pids[64];
	int npids = 0;
	bool is_clean = false;
	for (;;) {
		struct watch_msg m;
		ssize_t n = read(rfd, &m, sizeof(m));
		if (n == (ssize_t)sizeof(m) && m.tag == 's')
			is_clean = true;
		else if (n == (ssize_t)sizeof(m) && m.tag == 'p' && npids < 64)
			pids[npids++] = m.pid;
		else if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	if (!is_clean) {
		fprintf(stderr, "tu_rgw: the suite died without stopping Ceph: stopping its %d "
				"daemons by PID\n",
			npids);
		stop_pids(pids, npids);
		if (!getenv("STRATA_KEEP_TMP"))
			tu_rmtree(rgw.dir);
	}
	_exit(0);
}

static bool start_watcher(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	fflush(NULL);
	pid_t w = fork();
	if (w < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (w == 0) {
		close(p[1]);
		watcher_main(p[0]);
	}
	close(p[0]);
	rgw.watcher = w;
	rgw.watch_fd = p[1];
	return true;
}

static void watch_send(char tag, pid_t pid)
{
	struct watch_msg m = {.tag = tag, .pid = (int32_t)pid};
	if (rgw.watch_fd >= 0) {
		ssize_t w = write(rgw.watch_fd, &m, sizeof(m));
		(void)w;
	}
}

void tu_rgw_stop(void)
{
	/* a child forked by a test that calls exit() runs this too: the
	 * daemons are its parent's (invariant 3) */
	if (rgw.owner != getpid())
		return;
	stop_pids(rgw.pid, TU_RGW_NDAEMONS);
	memset(rgw.pid, 0, sizeof(rgw.pid));
	rgw.is_running = false;
	if (rgw.watch_fd >= 0) {
		watch_send('s', 0);
		close(rgw.watch_fd);
		rgw.watch_fd = -1;
		waitpid(rgw.watcher, NULL, 0);
	}
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
		watch_send('p', rgw.pid[d]);
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
		"memstore device bytes = 1073741824\n"
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
		"rgw enable usage log = false\n",
		fsid, rgw.mon_port, d, d, d, d, d, d, d, rgw.port);
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
	rgw.mon_port = free_port();
	rgw.port = free_port();
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
		log_tail(log, tail, sizeof(tail));
		return fail(why, n, "could not make the monitor: %s", tail);
	}
	rgw.owner = getpid();
	atexit(tu_rgw_stop);
	if (!start_watcher())
		return fail(why, n, "could not fork the watcher: %s", strerror(errno));
	rgw.is_running = true; /* from here on tu_rgw_stop() has work to do */
	char *mon[] = {"ceph-mon", "-f", "-c", conf, "-i", "a", NULL};
	if (!start_daemon(TU_RGW_MON, mon))
		goto failed;
	char *osdnew[] = {"ceph", "-c", conf, "--connect-timeout", "30", "osd", "new",
			  osd_uuid, "0", NULL};
	char *mkosd[] = {"ceph-osd", "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid,
			 NULL};
	if (run_cmd(osdnew, log) != 0 || run_cmd(mkosd, log) != 0) {
		log_tail(log, tail, sizeof(tail));
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
			log_tail(dlog, tail, sizeof(tail));
			fail(why, n, "%s exited during the start: %s", daemon_names[d], tail);
			goto failed;
		}
		if (tu_rgw_is_gone(rgw.pid[TU_RGW_OSD])) {
			/* "wrong fsid": it raced the monitor's new map; again */
			if (osd_starts++ >= 5) {
				log_tail(log, tail, sizeof(tail));
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
		log_tail(log, tail, sizeof(tail));
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
	if (!ep) {
		printf("\nSKIPPED: %s\n", why);
		fflush(stdout);
		exit(0);
	}
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
