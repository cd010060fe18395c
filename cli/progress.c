/*
 * cli/progress.c — a progress line for the long one-shot commands (sort,
 * merge, compact, clean, purge, large writes), on a terminal only.
 *
 * Design: one line on stderr, rewritten in place ("\r", the text, then
 * "\033[K" to erase what a longer line left), at most every
 * CLI_PROGRESS_EVERY_MS so a fast loop does not flood the terminal.  When
 * stderr is not a terminal (a pipe, a file, cron's mail) the line is never
 * written: logs and scripts see only the results.  Before the command
 * prints a result line on stdout it clears the progress line
 * (cli_progress_clear), so the two never share a row of the screen, and
 * cli_progress_done() erases it at the end.
 *
 * Invariants:
 *   1. nothing at all is written unless stderr is a terminal (isatty(2));
 *   2. after cli_progress_done() the cursor stands at the start of an empty
 *      line: no progress text is left on the screen.
 *
 * Main thread of `strata` only.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* Updates closer together than this are dropped (unless forced). */
#define CLI_PROGRESS_EVERY_MS 100
/* The line is cut to this many bytes, so it fits one row of a terminal. */
#define CLI_PROGRESS_MAX_COLS 78

void cli_progress_init(cli_progress *p, const char *what)
{
	p->is_on = isatty(STDERR_FILENO) == 1; /* invariant 1 */
	p->is_shown = false;
	p->last_us = 0;
	p->t0_us = strata_mono_us();
	snprintf(p->what, sizeof(p->what), "%s", what);
}

void cli_progress_show(cli_progress *p, bool force, const char *fmt, ...)
{
	if (!p->is_on)
		return;
	int64_t now = strata_mono_us();
	if (!force && p->is_shown && now - p->last_us < CLI_PROGRESS_EVERY_MS * 1000)
		return;
	char line[256];
	int n = snprintf(line, sizeof(line), "%s: ", p->what);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	char secs[32];
	snprintf(secs, sizeof(secs), " (%.1f s)", (double)(now - p->t0_us) / 1e6);
	if (len + strlen(secs) < sizeof(line))
		strcat(line, secs);
	fprintf(stderr, "\r%.*s\033[K", CLI_PROGRESS_MAX_COLS, line);
	fflush(stderr);
	p->is_shown = true;
	p->last_us = now;
}

void cli_progress_clear(cli_progress *p)
{
	if (!p->is_on || !p->is_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->is_shown = false;
	p->last_us = 0;
}

void cli_progress_done(cli_progress *p)
{
	cli_progress_clear(p); /* invariant 2 */
}
