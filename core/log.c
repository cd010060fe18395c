/*
 * core/log.c — the log sink behind STRATA_LOG().
 *
 * The macro checks the level before any formatting; this file formats one
 * line "YYYY-mm-ddTHH:MM:SS.uuuZ LEVEL [file:line] message\n" into a stack
 * buffer and writes it with a single write(2), so lines from several threads
 * never interleave.  Lines longer than the buffer are truncated with "...".
 * A failed STRATA_ASSERT reports here too: on stderr and, when the log goes
 * elsewhere, in the log, then aborts.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int strata_log_level_cur = STRATA_LOG_WARN;
static int strata_log_fd = 2;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void strata_log_set_level(strata_log_level lvl)
{
	strata_log_level_cur = (int)lvl;
}

void strata_log_set_fd(int fd)
{
	strata_log_fd = fd;
}

const char *strata_log_level_name(strata_log_level lvl)
{
	if ((unsigned)lvl < STRATA_ARRAY_LEN(level_names))
		return level_names[lvl];
	return "?";
}

int strata_log_level_parse(const char *s, strata_log_level *out)
{
	for (unsigned i = 0; i < STRATA_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (strata_log_level)i;
			return 0;
		}
	}
	return STRATA_EINVAL;
}

void strata_log_write(strata_log_level lvl, const char *file, int line,
		      const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	int n = snprintf(buf, sizeof(buf),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s:%d] ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 strata_log_level_name(lvl), base, line);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len;
	if (m < 0) {
		len = (size_t)n;
	} else if ((size_t)m >= sizeof(buf) - (size_t)n - 1) {
		len = sizeof(buf) - 2;
		memcpy(buf + len - 3, "...", 3);
	} else {
		len = (size_t)n + (size_t)m;
	}
	buf[len++] = '\n';
	ssize_t w = write(strata_log_fd, buf, len);
	(void)w; /* nowhere left to report a failed log write */
}

void strata_assert_fail(const char *cond, const char *file, int line, const char *func,
			const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	char buf[2048];
	int len = snprintf(buf, sizeof(buf), "strata: assertion failed: %s (%s:%d, %s): %s\n", cond,
			   file, line, func, msg);
	if (len < 0)
		abort();
	if ((size_t)len >= sizeof(buf))
		len = (int)sizeof(buf) - 1;
	ssize_t w = write(2, buf, (size_t)len);
	(void)w;
	if (strata_log_fd != 2)
		strata_log_write(STRATA_LOG_ERROR, file, line, "assertion failed: %s (%s): %s", cond,
				 func, msg);
	abort();
}
