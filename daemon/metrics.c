/*
 * daemon/metrics.c — stratad's metrics in the Prometheus text format
 * (version 0.0.4), for the `metrics` admin command and an optional HTTP
 * listener (metrics_listen, GET /metrics, off by default).
 *
 * Counters live in d->m and are bumped by the loop when a job's result comes
 * back (d_metrics_job_done); gauges are read from each table's last plan
 * (files and bytes per level, history bytes, oldest row file, trash, oldest
 * pin) and from the manifest (map size and use) at render time.  Rendering
 * reads no file entries, so a scrape costs nothing the scan has not paid.
 *
 * Invariants:
 *   1. every family has HELP and TYPE lines, and names end in the unit
 *      (_bytes, _seconds, _total for counters);
 *   2. label values are escaped (backslash, quote, newline);
 *   3. no HTTP connection outlives metrics_timeout_s, and at most
 *      D_HTTP_CONNS_MAX are open (the server at the end of this file).
 * Loop thread only.
 */
#include "daemon/daemon_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

void d_metrics_job_done(stratad *d, const dj *j)
{
	d_metrics *m = &d->m;
	m->jobs[j->kind][j->result]++;
	if (j->result == DJR_CONFLICT || j->result == DJR_BUSY)
		m->conflicts++;
	if (j->result == DJR_FAILED && j->rc == STRATA_ECORRUPT)
		m->corrupt++;
	if (j->kind == DJ_CLEAN || j->kind == DJ_PURGE) {
		m->clean_files_deleted += j->cr.files_deleted;
		m->clean_bytes_deleted += j->cr.bytes_deleted;
		m->clean_files_unlinked += j->cr.files_unlinked;
		m->orphans += j->cr.orphans;
	}
	m->bytes_read += j->jr.bytes_in;
	m->bytes_written += j->jr.bytes_out;
	if (j->result == DJR_OK || j->result == DJR_NOOP) {
		for (size_t i = 0; i < STRATA_ARRAY_LEN(d_duration_le); i++)
			if (j->seconds <= d_duration_le[i])
				m->dur_buckets[j->kind][i]++;
		m->dur_sum[j->kind] += j->seconds;
		m->dur_count[j->kind]++;
	}
}

static void esc(strata_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			strata_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			strata_buf_printf(b, "\\n");
		else
			strata_buf_putc(b, (uint8_t)*s);
	}
}

static void family(strata_buf *b, const char *name, const char *type, const char *help)
{
	strata_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void d_metrics_render(stratad *d, strata_buf *b)
{
	const d_metrics *m = &d->m;
	int64_t now = strata_now_us();
	family(b, "strata_jobs_total", "counter", "Jobs finished, by kind and result.");
	for (int k = 0; k < DJ_NKINDS; k++)
		for (int r = DJR_OK; r < DJR_NRESULTS; r++)
			strata_buf_printf(b, "strata_jobs_total{kind=\"%s\",result=\"%s\"} %" PRIu64 "\n",
					  d_kind_name((dj_kind)k), d_result_name((dj_result)r), m->jobs[k][r]);
	family(b, "strata_job_duration_seconds", "histogram",
	       "Duration of jobs that finished (ok or nothing to do), by kind.");
	for (int k = 0; k < DJ_NKINDS; k++) {
		for (size_t i = 0; i < STRATA_ARRAY_LEN(d_duration_le); i++)
			strata_buf_printf(b, "strata_job_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %" PRIu64
					     "\n",
					  d_kind_name((dj_kind)k), d_duration_le[i], m->dur_buckets[k][i]);
		strata_buf_printf(b, "strata_job_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
				  d_kind_name((dj_kind)k), m->dur_count[k]);
		strata_buf_printf(b, "strata_job_duration_seconds_sum{kind=\"%s\"} %.6f\n",
				  d_kind_name((dj_kind)k), m->dur_sum[k]);
		strata_buf_printf(b, "strata_job_duration_seconds_count{kind=\"%s\"} %" PRIu64 "\n",
				  d_kind_name((dj_kind)k), m->dur_count[k]);
	}
	family(b, "strata_job_read_bytes_total", "counter", "Bytes of input files read by jobs.");
	strata_buf_printf(b, "strata_job_read_bytes_total %" PRIu64 "\n", m->bytes_read);
	family(b, "strata_job_written_bytes_total", "counter", "Bytes of output files written by jobs.");
	strata_buf_printf(b, "strata_job_written_bytes_total %" PRIu64 "\n", m->bytes_written);
	family(b, "strata_job_conflicts_total", "counter",
	       "Jobs that conflicted (inputs gone, schema changed) or found their bucket claimed.");
	strata_buf_printf(b, "strata_job_conflicts_total %" PRIu64 "\n", m->conflicts);
	family(b, "strata_corrupt_jobs_total", "counter",
	       "Jobs that met a damaged data file (STRATA_ECORRUPT); see strata_bucket_corrupt.");
	strata_buf_printf(b, "strata_corrupt_jobs_total %" PRIu64 "\n", m->corrupt);
	family(b, "strata_clean_deleted_files_total", "counter", "Files clean moved to the trash.");
	strata_buf_printf(b, "strata_clean_deleted_files_total %" PRIu64 "\n", m->clean_files_deleted);
	family(b, "strata_clean_deleted_bytes_total", "counter", "Bytes clean moved to the trash.");
	strata_buf_printf(b, "strata_clean_deleted_bytes_total %" PRIu64 "\n", m->clean_bytes_deleted);
	family(b, "strata_clean_unlinked_files_total", "counter", "Trash files clean unlinked.");
	strata_buf_printf(b, "strata_clean_unlinked_files_total %" PRIu64 "\n", m->clean_files_unlinked);
	family(b, "strata_clean_orphans_total", "counter", "Orphan files clean moved to the trash.");
	strata_buf_printf(b, "strata_clean_orphans_total %" PRIu64 "\n", m->orphans);
	family(b, "strata_intents_recovered_total", "counter",
	       "Intents of crashed jobs recovered at start.");
	strata_buf_printf(b, "strata_intents_recovered_total %" PRIu64 "\n", m->intents_recovered);
	pthread_mutex_lock(&d->mu);
	size_t queued = d->nqueue, running = d->nrunning;
	pthread_mutex_unlock(&d->mu);
	family(b, "strata_jobs_queued", "gauge", "Jobs waiting for a worker.");
	strata_buf_printf(b, "strata_jobs_queued %zu\n", queued);
	family(b, "strata_jobs_running", "gauge", "Jobs running.");
	strata_buf_printf(b, "strata_jobs_running %zu\n", running);
	family(b, "strata_scans_total", "counter", "Scans completed.");
	strata_buf_printf(b, "strata_scans_total %" PRIu64 "\n", m->scans);
	family(b, "strata_tables_planned_total", "counter",
	       "Tables whose files a scan read (the rest were unchanged).");
	strata_buf_printf(b, "strata_tables_planned_total %" PRIu64 "\n", m->tables_planned);
	family(b, "strata_scan_duration_seconds", "gauge", "Duration of the last scan.");
	strata_buf_printf(b, "strata_scan_duration_seconds %.6f\n", m->last_scan_ms / 1e3);
	family(b, "strata_admin_commands_total", "counter", "Admin commands received.");
	strata_buf_printf(b, "strata_admin_commands_total %" PRIu64 "\n", m->admin_commands);
	family(b, "strata_admin_refused_total", "counter",
	       "Admin connections or commands refused (permissions, limits).");
	strata_buf_printf(b, "strata_admin_refused_total %" PRIu64 "\n", m->admin_refused);
	family(b, "strata_connections_timed_out_total", "counter",
	       "Connections closed by a timeout: admin (admin_idle_timeout_s) or metrics "
	       "(metrics_timeout_s, or refused past 64 open).");
	strata_buf_printf(b, "strata_connections_timed_out_total{listener=\"admin\"} %" PRIu64 "\n",
			  m->admin_idle_closed);
	strata_buf_printf(b, "strata_connections_timed_out_total{listener=\"metrics\"} %" PRIu64 "\n",
			  m->http_closed);
	family(b, "strata_accept_errors_total", "counter",
	       "accept() failures (e.g. out of file descriptors); each pauses the listener.");
	strata_buf_printf(b, "strata_accept_errors_total{listener=\"admin\"} %" PRIu64 "\n",
			  d->admin_guard.errors);
	strata_buf_printf(b, "strata_accept_errors_total{listener=\"metrics\"} %" PRIu64 "\n",
			  d->http_guard.errors);
	family(b, "strata_config_reloads_total", "counter", "Config reloads, by result.");
	strata_buf_printf(b, "strata_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", m->reloads);
	strata_buf_printf(b, "strata_config_reloads_total{result=\"rejected\"} %" PRIu64 "\n",
			  m->reload_failures);
	uint64_t map = 0, used = 0;
	if (d->wh)
		strata_mf_usage(strata_wh_mf(d->wh), &map, &used);
	family(b, "strata_degraded", "gauge",
	       "1 while stratad is degraded: its manifest cannot be opened or fails its structure "
	       "check; it runs no jobs and deletes nothing (see status).");
	strata_buf_printf(b, "strata_degraded %d\n", !d->wh || d->is_degraded ? 1 : 0);
	family(b, "strata_table_damaged", "gauge",
	       "1 for a table that fails the manifest's consistency check: no jobs run on it and "
	       "nothing of it is deleted (see `strata check TABLE`).");
	for (size_t i = 0; i < d->ndamaged; i++)
		strata_buf_printf(b, "strata_table_damaged{table=\"%s\"} 1\n", d->damaged[i].table);
	family(b, "strata_manifest_map_bytes", "gauge", "Size of the manifest's LMDB map.");
	strata_buf_printf(b, "strata_manifest_map_bytes %" PRIu64 "\n", map);
	family(b, "strata_manifest_used_bytes", "gauge", "Bytes of the manifest's map in use.");
	strata_buf_printf(b, "strata_manifest_used_bytes %" PRIu64 "\n", used);
	family(b, "strata_daemon_start_time_seconds", "gauge", "When this stratad started.");
	strata_buf_printf(b, "strata_daemon_start_time_seconds %.3f\n", (double)d->started_us / 1e6);
	/* per table, from the last plan (invariant 2: names are [a-z0-9_], holders escaped) */
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{"strata_table_version", "gauge", "Current version of the table."},
		{"strata_files", "gauge", "Live files, by table and level (0: row files)."},
		{"strata_bytes", "gauge", "Bytes of live files, by table and level."},
		{"strata_history_bytes", "gauge",
		 "Estimated bytes of superseded records (history) in live files."},
		{"strata_oldest_unsorted_seconds", "gauge",
		 "Age of the oldest row file waiting for a sort (0: none)."},
		{"strata_trash_bytes", "gauge", "Bytes in the table's .trash/ after the last clean."},
		{"strata_trash_files", "gauge", "Files in the table's .trash/ after the last clean."},
		{"strata_oldest_pin_version", "gauge",
		 "Oldest version a lease or tag pins (the clean horizon), with its holder."},
		{"strata_oldest_pin_age_seconds", "gauge", "Age of the oldest pinned version."},
		{"strata_buckets_backing_off", "gauge", "Buckets waiting after failed or conflicted jobs."},
		{"strata_table_paused", "gauge", "1 if planning is paused for the table."},
		{"strata_backpressure_buckets", "gauge",
		 "Buckets at a writer back-pressure limit: state=\"wait\" at "
		 "write.max-level0-files (commits wait), state=\"slow\" at "
		 "write.slow-level0-files (commits slow)."},
	};
	for (size_t f = 0; f < STRATA_ARRAY_LEN(fams); f++) {
		family(b, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i < d->ntables; i++) {
			const dtable *t = d->tables[i];
			switch (f) {
			case 0:
				strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", fams[f].name, t->name,
						  t->version);
				break;
			case 1:
			case 2:
				for (int l = 0; l < STRATA_POL_LEVELS; l++)
					if (t->files_per_level[l] || l == 0)
						strata_buf_printf(b, "%s{table=\"%s\",level=\"%d\"} %" PRIu64 "\n",
								  fams[f].name, t->name, l,
								  f == 1 ? (uint64_t)t->files_per_level[l] :
									   t->bytes_per_level[l]);
				break;
			case 3:
				strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", fams[f].name, t->name,
						  t->history_bytes);
				break;
			case 4:
				strata_buf_printf(b, "%s{table=\"%s\"} %.3f\n", fams[f].name, t->name,
						  t->l0_oldest_us ? (double)(now - t->l0_oldest_us) / 1e6 : 0);
				break;
			case 5:
				strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", fams[f].name, t->name,
						  t->trash_bytes);
				break;
			case 6:
				strata_buf_printf(b, "%s{table=\"%s\"} %zu\n", fams[f].name, t->name,
						  t->trash_files);
				break;
			case 7:
			case 8:
				if (!t->pin_version)
					break;
				strata_buf_printf(b, "%s{table=\"%s\",holder=\"", fams[f].name, t->name);
				esc(b, t->pin_holder);
				if (f == 7)
					strata_buf_printf(b, "\"} %" PRIu64 "\n", t->pin_version);
				else
					strata_buf_printf(b, "\"} %.3f\n",
							  t->pin_ts_us ? (double)(now - t->pin_ts_us) / 1e6 : 0);
				break;
			case 9:
				strata_buf_printf(b, "%s{table=\"%s\"} %zu\n", fams[f].name, t->name,
						  t->backing_off);
				break;
			case 10:
				strata_buf_printf(b, "%s{table=\"%s\"} %d\n", fams[f].name, t->name,
						  t->is_paused ? 1 : 0);
				break;
			default:
				if (!t->bp_max_l0 && !t->bp_slow_l0)
					break; /* off for this table */
				strata_buf_printf(b, "%s{table=\"%s\",state=\"wait\"} %zu\n",
						  fams[f].name, t->name, t->bp_waiting);
				strata_buf_printf(b, "%s{table=\"%s\",state=\"slow\"} %zu\n",
						  fams[f].name, t->name, t->bp_slowed);
			}
		}
	}
	/* per bucket, only the ones in trouble (invariant 2: partition names are
	 * escaped into [A-Za-z0-9._%=/-], and escaped again here) */
	family(b, "strata_bucket_corrupt", "gauge",
	       "1 for a bucket whose last job met a damaged data file: it backs off at "
	       "policy.backoff_max_s until a job on it succeeds (see the log and status).");
	for (size_t i = 0; i < d->ntables; i++)
		for (size_t k = 0; k < d->tables[i]->nb; k++) {
			const dbucket *bk = &d->tables[i]->b[k];
			if (!bk->is_corrupt)
				continue;
			strata_buf_printf(b, "strata_bucket_corrupt{table=\"%s\",partition=\"", d->tables[i]->name);
			esc(b, *bk->part_name ? bk->part_name : "_");
			strata_buf_printf(b, "\",bucket=\"%u\"} 1\n", bk->bucket);
		}
	family(b, "strata_bucket_failures", "gauge",
	       "Jobs that failed or conflicted in a row on a bucket (buckets with none are not listed).");
	for (size_t i = 0; i < d->ntables; i++)
		for (size_t k = 0; k < d->tables[i]->nb; k++) {
			const dbucket *bk = &d->tables[i]->b[k];
			if (!bk->failures)
				continue;
			strata_buf_printf(b, "strata_bucket_failures{table=\"%s\",partition=\"", d->tables[i]->name);
			esc(b, *bk->part_name ? bk->part_name : "_");
			strata_buf_printf(b, "\",bucket=\"%u\"} %u\n", bk->bucket, bk->failures);
		}
}

/* ---- HTTP ------------------------------------------------------------------------------------- */

/*
 * A deliberately small HTTP/1.1 server: GET /metrics, one request per
 * connection (the reply says Connection: close; Prometheus is fine with
 * that).  libevent's evhttp (2.1) has no request deadline and no connection
 * limit: idle connections there never timed out, and a client trickling its
 * headers could hold a descriptor forever.  Here:
 *   - a connection lives at most metrics_timeout_s from accept to the end of
 *     its reply (a timer; invariant 3), and at most D_HTTP_CONNS_MAX are open
 *     (more get 503 at once);
 *   - the request line and headers may take D_HTTP_REQUEST_MAX bytes (431);
 *   - accept() failures pause the listener (listen.c).
 */

static void http_free(dhttp *h)
{
	stratad *d = h->d;
	for (dhttp **p = &d->https; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	d->nhttp--;
	if (h->ev_deadline)
		event_free(h->ev_deadline);
	bufferevent_free(h->bev);
	free(h);
}

static void http_close_after_write(dhttp *h)
{
	h->is_closing = true;
	bufferevent_disable(h->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(h->bev)) == 0)
		http_free(h);
}

static void http_reply(dhttp *h, int code, const char *reason, const char *type, const void *body,
		       size_t len)
{
	struct evbuffer *out = bufferevent_get_output(h->bev);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n",
			    code, reason, type, len);
	evbuffer_add(out, body, len);
	http_close_after_write(h);
}

static void http_error(dhttp *h, int code, const char *reason, const char *text)
{
	char body[200];
	int n = snprintf(body, sizeof(body), "%d %s: %s\n", code, reason, text);
	http_reply(h, code, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

static void http_read_cb(struct bufferevent *bev, void *arg)
{
	dhttp *h = arg;
	if (h->is_closing)
		return;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > D_HTTP_REQUEST_MAX)
			http_error(h, 431, "Request Header Fields Too Large",
				   "a request is at most 8192 bytes of request line and headers");
		return;
	}
	if ((size_t)end.pos > D_HTTP_REQUEST_MAX) {
		http_error(h, 431, "Request Header Fields Too Large",
			   "a request is at most 8192 bytes of request line and headers");
		return;
	}
	char line[512];
	size_t n = 0;
	char *first = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	snprintf(line, sizeof(line), "%s", first ? first : "");
	free(first);
	char *sp1 = strchr(line, ' ');
	char *uri = sp1 ? sp1 + 1 : NULL;
	char *sp2 = uri ? strchr(uri, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		http_error(h, 400, "Bad Request", "expected \"GET /metrics HTTP/1.1\"");
		return;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	if (strcmp(line, "GET") != 0 ||
	    (strcmp(uri, "/metrics") != 0 && strncmp(uri, "/metrics?", 9) != 0)) {
		http_error(h, 404, "Not Found", "only GET /metrics is served here");
		return;
	}
	strata_buf b = {0};
	d_metrics_render(h->d, &b);
	http_reply(h, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	strata_buf_free(&b);
}

static void http_write_cb(struct bufferevent *bev, void *arg)
{
	dhttp *h = arg;
	if (h->is_closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		http_free(h);
}

static void http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	dhttp *h = arg;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && h->is_closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return; /* half-closed: the reply still goes out (or the deadline ends it) */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		http_free(h);
}

static void http_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	dhttp *h = arg;
	h->d->m.http_closed++;
	LOG_DEBUG("metrics listener: a connection still open after metrics_timeout_s (%lld s); closed",
		  (long long)h->d->cfg->d.metrics_timeout_s);
	http_free(h); /* invariant 3 */
}

static void http_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			   int salen, void *arg)
{
	d_guard *g = arg;
	stratad *d = g->d;
	d_guard_accepted(g);
	if (d->nhttp >= D_HTTP_CONNS_MAX) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n";
		ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
		close(fd);
		d->m.http_closed++;
		return;
	}
	evutil_make_socket_nonblocking(fd);
	dhttp *h = strata_calloc(1, sizeof(*h));
	h->d = d;
	h->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	h->ev_deadline = evtimer_new(d->base, http_deadline_cb, h);
	struct timeval tv = {(time_t)d->cfg->d.metrics_timeout_s, 0};
	event_add(h->ev_deadline, &tv);
	h->next = d->https;
	d->https = h;
	d->nhttp++;
	bufferevent_setcb(h->bev, http_read_cb, http_write_cb, http_event_cb, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
}

int d_http_start(stratad *d, strata_err *err)
{
	const char *addr = d->cfg->d.metrics_listen;
	char host[128];
	snprintf(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (!colon)
		return strata_err_set(err, STRATA_EINVAL, "metrics_listen \"%s\" is not HOST:PORT", addr);
	*colon = '\0';
	const char *port = colon + 1;
	char *h = host;
	if (h[0] == '[') { /* [::1]:9477 */
		h++;
		char *close_br = strchr(h, ']');
		if (close_br)
			*close_br = '\0';
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int grc = getaddrinfo(*h ? h : NULL, port, &hints, &ai);
	if (grc != 0)
		return strata_err_set(err, STRATA_EINVAL, "could not listen on metrics_listen %s: %s", addr,
				      gai_strerror(grc));
	struct evconnlistener *l = NULL;
	int e = 0;
	for (struct addrinfo *p = ai; p && !l; p = p->ai_next) {
		l = evconnlistener_new_bind(d->base, http_accept_cb, &d->http_guard,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						    LEV_OPT_REUSEABLE,
					    64, p->ai_addr, (int)p->ai_addrlen);
		if (!l)
			e = errno;
	}
	freeaddrinfo(ai);
	if (!l)
		return strata_err_set(err, STRATA_EINVAL, "could not listen on metrics_listen %s: %s", addr,
				      e ? strerror(e) : "bind failed");
	d_guard_init(d, &d->http_guard, "metrics listener", l);
	return 0;
}

void d_http_stop(stratad *d)
{
	while (d->https)
		http_free(d->https);
	d_guard_close(&d->http_guard);
}
