/*
 * tests/util/tu_daemon.c — see tu_daemon.h.
 */
#include "tests/util/tu_daemon.h"

#include "tests/util/testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t tud_children[32];
static int tud_nchildren;

static void tud_kill_children(void)
{
	for (int i = 0; i < tud_nchildren; i++)
		if (tud_children[i] > 0)
			kill(tud_children[i], SIGKILL);
}

double tud_now_s(void)
{
	return (double)strata_mono_us() / 1e6;
}

void tud_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

pid_t tud_spawn(const char *cfg, const char *log, const char *const *env)
{
	return tud_spawn_host(cfg, log, env, NULL);
}

/* Enter a UTS namespace of our own named host (child side). */
static bool tud_become_host(const char *host)
{
	return unshare(CLONE_NEWUTS) == 0 && sethostname(host, strlen(host)) == 0;
}

bool tud_can_fake_host(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(tud_become_host("tud-probe") ? 0 : 1);
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

pid_t tud_spawn_host(const char *cfg, const char *log, const char *const *env,
		     const char *host)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (host && !tud_become_host(host))
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		for (int i = 0; env && env[i]; i += 2)
			setenv(env[i], env[i + 1], 1);
		execl(tu_bin("stratad"), "stratad", "--config", cfg, (char *)NULL);
		_exit(127);
	}
	if (tud_nchildren == 0)
		atexit(tud_kill_children);
	if (tud_nchildren < 32)
		tud_children[tud_nchildren++] = pid;
	return pid;
}

int tud_wait_exit(pid_t pid, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	do {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			for (int i = 0; i < tud_nchildren; i++)
				if (tud_children[i] == pid)
					tud_children[i] = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		tud_sleep_ms(20);
	} while (tud_now_s() < end);
	return -1;
}

void tud_paths(const char *dir, char whp[PATH_MAX], char cfg[PATH_MAX], char log[PATH_MAX],
	       char sock[TUD_SOCK_MAX])
{
	snprintf(whp, PATH_MAX, "%s/wh", dir);
	snprintf(cfg, PATH_MAX, "%s/stratad.ini", dir);
	snprintf(log, PATH_MAX, "%s/stratad.log", dir);
	snprintf(sock, TUD_SOCK_MAX, "%s/run/admin.sock", dir);
}

void tud_write_file(const char *path, const char *fmt, ...)
{
	char text[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, text, strlen(text)), 0);
}

bool tud_log_has(const char *log, const char *phrase)
{
	char *s = tu_read_file(log, NULL);
	bool has = s && strstr(s, phrase) != NULL;
	free(s);
	return has;
}

bool tud_wait_log(const char *log, const char *phrase, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	while (tud_now_s() < end) {
		if (tud_log_has(log, phrase))
			return true;
		tud_sleep_ms(50);
	}
	fprintf(stderr, "\nwaited %.0f s for \"%s\" in %s\n", timeout_s, phrase, log);
	return false;
}

int tud_connect(const char *sock)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

char *tud_read_line(int fd, double timeout_s)
{
	strata_buf b = {0};
	double end = tud_now_s() + timeout_s;
	char chunk[1];
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)((end - tud_now_s()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t r = read(fd, chunk, 1);
		if (r <= 0)
			break;
		if (chunk[0] == '\n') {
			strata_buf_putc(&b, 0);
			return (char *)b.data;
		}
		strata_buf_putc(&b, (uint8_t)chunk[0]);
	}
	strata_buf_free(&b);
	return NULL;
}

json_t *tud_admin(const char *sock, const char *line)
{
	int fd = tud_connect(sock);
	if (fd < 0)
		return NULL;
	strata_buf b = {0};
	strata_buf_printf(&b, "%s\n", line);
	ssize_t w = send(fd, b.data, b.len, MSG_NOSIGNAL);
	(void)w;
	strata_buf_free(&b);
	char *reply = tud_read_line(fd, 30);
	close(fd);
	if (!reply)
		return NULL;
	json_t *r = json_loads(reply, 0, NULL);
	free(reply);
	return r;
}

bool tud_admin_ok(const char *sock, const char *line)
{
	json_t *r = tud_admin(sock, line);
	bool ok = r && json_is_true(json_object_get(r, "ok"));
	if (!ok)
		fprintf(stderr, "\nadmin \"%s\": %s\n", line,
			r ? json_string_value(json_object_get(r, "error")) : "no reply");
	json_decref(r);
	return ok;
}

bool tud_wait_ready(const char *sock, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	while (tud_now_s() < end) {
		json_t *r = tud_admin(sock, "status");
		bool ok = r && json_is_true(json_object_get(r, "ok"));
		json_decref(r);
		if (ok)
			return true;
		tud_sleep_ms(50);
	}
	fprintf(stderr, "\nstratad did not answer on %s within %.0f s\n", sock, timeout_s);
	return false;
}

char *tud_metrics(const char *sock)
{
	json_t *r = tud_admin(sock, "metrics");
	const char *t = json_string_value(json_object_get(r, "text"));
	char *out = t ? strdup(t) : NULL;
	json_decref(r);
	return out;
}

double tud_metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}
