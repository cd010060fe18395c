/*
 * daemon/listen.c — what stratad does when accept() fails on one of its
 * listeners (the admin socket, the HTTP metrics listener).
 *
 * At file-descriptor exhaustion (EMFILE, ENFILE) the pending connection stays
 * in the kernel's backlog, so a level-triggered listener is readable again at
 * once and accept() fails again: a stratad once logged 4.4 million such
 * failures (463 MB) in two minutes, one line each, while doing nothing else.
 * So a failure that libevent does not retry by itself (it retries EINTR,
 * EAGAIN, ECONNABORTED) does two things here:
 *
 *   pause   the listener is disabled and a timer enables it again after
 *           pause_ms, which starts at D_ACCEPT_PAUSE_MIN_MS and doubles while
 *           accept() keeps failing, up to D_ACCEPT_PAUSE_MAX_MS; the first
 *           successful accept() resets it.  Connections wait in the backlog
 *           meanwhile (or are refused by the kernel once it is full); once
 *           descriptors free up, the next resume serves them;
 *   count   failures are counted (strata_accept_errors_total{listener=...})
 *           and logged at most once per D_ACCEPT_LOG_INTERVAL_US, the line
 *           saying how many happened since the previous one, the last
 *           error, and the current pause.
 *
 * Invariants:
 *   1. a failing accept() costs at most one call per pause, never a busy loop;
 *   2. at most one log line per listener per D_ACCEPT_LOG_INTERVAL_US, and
 *      every failure is counted (the next line or the metric says so);
 *   3. a paused listener is always resumed by its timer (until _close).
 * Loop thread only.
 */
#include "daemon/daemon_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <event2/listener.h>

static void guard_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	d_guard *g = arg;
	g->is_paused = false;
	if (g->l)
		evconnlistener_enable(g->l); /* invariant 3 */
}

static void guard_error_cb(struct evconnlistener *l, void *arg)
{
	d_guard *g = arg;
	int e = EVUTIL_SOCKET_ERROR();
	int64_t now = strata_mono_us();
	g->errors++;
	g->errors_unlogged++;
	g->last_errno = e;
	/* invariant 1: the pause doubles while the failures go on */
	if (g->pause_ms == 0)
		g->pause_ms = D_ACCEPT_PAUSE_MIN_MS;
	else if (g->has_failed_since_accept)
		g->pause_ms = STRATA_MIN(g->pause_ms * 2, D_ACCEPT_PAUSE_MAX_MS);
	g->has_failed_since_accept = true;
	evconnlistener_disable(l);
	g->is_paused = true;
	struct timeval tv = {(time_t)(g->pause_ms / 1000), (suseconds_t)(g->pause_ms % 1000) * 1000};
	event_add(g->ev_resume, &tv);
	if (g->last_log_us == 0 || now - g->last_log_us >= D_ACCEPT_LOG_INTERVAL_US) { /* invariant 2 */
		bool is_fds = e == EMFILE || e == ENFILE;
		LOG_WARN("%s: accept() failed %" PRIu64 " time%s since the last such line (last: %s)%s; "
			 "not accepting for %" PRId64 " ms, then trying again (at most one such line "
			 "every %d s; strata_accept_errors_total counts them all)",
			 g->what, g->errors_unlogged, g->errors_unlogged == 1 ? "" : "s", strerror(e),
			 is_fds ? ": out of file descriptors — raise LimitNOFILE= or find who holds "
				  "them (ls /proc/PID/fd)" :
				  "",
			 g->pause_ms, (int)(D_ACCEPT_LOG_INTERVAL_US / D_US));
		g->errors_unlogged = 0;
		g->last_log_us = now;
	}
}

void d_guard_init(stratad *d, d_guard *g, const char *what, struct evconnlistener *l)
{
	g->d = d;
	g->what = what;
	g->l = l;
	g->ev_resume = evtimer_new(d->base, guard_resume_cb, g);
	evconnlistener_set_error_cb(l, guard_error_cb);
}

void d_guard_accepted(d_guard *g)
{
	if (g->has_failed_since_accept) {
		g->has_failed_since_accept = false;
		g->pause_ms = 0;
		LOG_DEBUG("%s: accepting connections again", g->what);
	}
}

void d_guard_close(d_guard *g)
{
	if (g->ev_resume) {
		event_free(g->ev_resume);
		g->ev_resume = NULL;
	}
	if (g->l) {
		evconnlistener_free(g->l);
		g->l = NULL;
	}
	g->is_paused = false;
}
