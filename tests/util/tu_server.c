/*
 * tests/util/tu_server.c — see tu_server.h.
 *
 * Invariants:
 *   1. a process is signalled only while its command line holds the mark
 *      (tu_procs_stop checks before every signal);
 *   2. the watcher never returns into the suite's code: it reads its pipe
 *      until 'd' (done) or end of file, acts, and _exits;
 *   3. the watcher ignores SIGINT, SIGHUP and SIGTERM and leaves the suite's
 *      process group, so what kills the suite does not kill it first.
 */
#include "tests/util/tu_server.h"

#include "tests/util/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int tu_free_port(void)
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

void tu_log_tail(const char *path, char *out, size_t n)
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

void tu_server_skip_suite(const char *why)
{
	printf("\nSKIPPED: %s\n", why);
	fflush(stdout);
	exit(0);
}

bool tu_proc_is_gone(pid_t pid)
{
	if (pid <= 0)
		return true;
	int st;
	if (waitpid(pid, &st, WNOHANG) == pid) /* our child, exited: reaped */
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* not our child: it may linger as a zombie until its parent reaps it */
	char path[64], text[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return true;
	text[n] = '\0';
	const char *rp = strrchr(text, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

bool tu_proc_is_ours(pid_t pid, const char *mark)
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
	return strstr(cmd, mark) != NULL;
}

void tu_procs_stop(const pid_t *pids, int n, const char *mark, const tu_stop_plan *plan)
{
	bool live[TU_WATCH_MAX] = {false};
	if (n > TU_WATCH_MAX)
		n = TU_WATCH_MAX;
	for (int i = 0; i < n; i++)
		live[i] = !tu_proc_is_gone(pids[i]) && tu_proc_is_ours(pids[i], mark);
	for (int s = 0; s < plan->nsig; s++) {
		for (int i = 0; i < n; i++) {
			if (!live[i] || !tu_proc_is_ours(pids[i], mark)) /* invariant 1 */
				continue;
			kill(pids[i], plan->sig[s]);
			if (s == 0)
				kill(pids[i], SIGCONT);
		}
		for (int t = 0; t < plan->wait_ms[s]; t += 20) {
			bool any = false;
			for (int i = 0; i < n; i++) {
				if (live[i] && tu_proc_is_gone(pids[i]))
					live[i] = false;
				any = any || live[i];
			}
			if (!any)
				return;
			sleep_ms(20);
		}
	}
}

/* Invariants 2 and 3.  Runs in the forked child. */
static void watcher_main(int rfd, const char *name, const char *mark, const char *dir,
			 const tu_stop_plan *plan)
{
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	pid_t pids[TU_WATCH_MAX];
	int npids = 0;
	bool is_done = false;
	for (;;) {
		struct {
			char tag;
			int32_t pid;
		} m;
		ssize_t got = read(rfd, &m, sizeof(m));
		if (got == (ssize_t)sizeof(m) && m.tag == 'd')
			is_done = true;
		else if (got == (ssize_t)sizeof(m) && m.tag == 'p' && npids < TU_WATCH_MAX)
			pids[npids++] = m.pid;
		else if (got == 0 || (got < 0 && errno != EINTR))
			break;
	}
	if (!is_done) {
		fprintf(stderr, "%s: the suite died without stopping its server: stopping %d "
				"process%s by PID\n",
			name, npids, npids == 1 ? "" : "es");
		tu_procs_stop(pids, npids, mark, plan);
		if (!getenv("STRATA_KEEP_TMP"))
			tu_rmtree(dir);
	}
	_exit(0);
}

static void watch_send(tu_watch *w, char tag, pid_t pid)
{
	struct {
		char tag;
		int32_t pid;
	} m;
	memset(&m, 0, sizeof(m));
	m.tag = tag;
	m.pid = (int32_t)pid;
	if (w->fd >= 0) {
		ssize_t n = write(w->fd, &m, sizeof(m));
		(void)n;
	}
}

bool tu_watch_start(tu_watch *w, const char *name, const char *mark, const char *dir,
		    const tu_stop_plan *plan)
{
	w->pid = 0;
	w->fd = -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[1]);
		watcher_main(p[0], name, mark, dir, plan);
	}
	close(p[0]);
	w->pid = pid;
	w->fd = p[1];
	return true;
}

void tu_watch_pid(tu_watch *w, pid_t pid)
{
	watch_send(w, 'p', pid);
}

void tu_watch_done(tu_watch *w)
{
	if (w->fd < 0)
		return;
	watch_send(w, 'd', 0);
	close(w->fd);
	w->fd = -1;
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}
