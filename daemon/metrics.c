/*
 * daemon/metrics.c — stratad's metrics in the Prometheus text format
 * (version 0.0.4), for the `metrics` admin command and an optional HTTP
 * listener (metrics_listen, GET /metrics, off by default), which also
 * serves the status page (GET /, GET /status.json: daemon/status.c).
 *
 * Counters live in d->m and are bumped by the loop when a job's result comes
 * back (d_metrics_job_done); gauges are read from each table's last plan
 * (files and bytes per level, history bytes, oldest row file, trash, oldest
 * pin) and from the manifest (map size and use) at render time.  Rendering
 * reads no file entries, so a scrape costs nothing the scan has not paid.
 *
 * Like the config and command tables, one static table (m_families) lists
 * every family — name, type, help, scope (daemon, per table, per bucket)
 * and the function that writes its samples; d_metrics_render() walks it,
 * writing HELP and TYPE for each row.  A new metric is a row (and, unless
 * it is a plain counter of d_metrics, a small sample function).
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
#include <stddef.h>
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

/* ---- the families ----------------------------------------------------------------------- */

/* What every row's renderer sees: the daemon and the numbers read once per
 * scrape. */
typedef struct m_ctx {
	stratad *d;
	const d_metrics *m;
	int64_t now_us;
	size_t queued, running;   /* read under d->mu */
	uint64_t map, used;       /* the manifest's map (0 while degraded) */
} m_ctx;

typedef enum m_scope { M_DAEMON, M_TABLE, M_BUCKET } m_scope;

typedef struct m_family m_family;
/* One family, like a row of the config and command tables: its name, type
 * and help (invariant 1), where its samples come from, and how they print.
 *   M_DAEMON  sample() writes every sample line (u64_at: one unlabelled
 *             uint64_t of d_metrics at `off`);
 *   M_TABLE   table() writes the samples of one table, for each table;
 *   M_BUCKET  bucket() writes the samples of one bucket (nothing for a
 *             bucket that is fine), for each bucket of each table. */
struct m_family {
	const char *name, *type, *help;
	m_scope scope;
	void (*sample)(strata_buf *b, const m_family *f, const m_ctx *x);
	void (*table)(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x);
	void (*bucket)(strata_buf *b, const m_family *f, const dtable *t, const dbucket *bk);
	size_t off;
};

static void u64_at(strata_buf *b, const m_family *f, const m_ctx *x)
{
	uint64_t v;
	memcpy(&v, (const char *)x->m + f->off, sizeof(v));
	strata_buf_printf(b, "%s %" PRIu64 "\n", f->name, v);
}

static void jobs_total(strata_buf *b, const m_family *f, const m_ctx *x)
{
	for (int k = 0; k < DJ_NKINDS; k++)
		for (int r = DJR_OK; r < DJR_NRESULTS; r++)
			strata_buf_printf(b, "%s{kind=\"%s\",result=\"%s\"} %" PRIu64 "\n", f->name,
					  d_kind_name((dj_kind)k), d_result_name((dj_result)r),
					  x->m->jobs[k][r]);
}

static void job_duration(strata_buf *b, const m_family *f, const m_ctx *x)
{
	const d_metrics *m = x->m;
	for (int k = 0; k < DJ_NKINDS; k++) {
		const char *kn = d_kind_name((dj_kind)k);
		for (size_t i = 0; i < STRATA_ARRAY_LEN(d_duration_le); i++)
			strata_buf_printf(b, "%s_bucket{kind=\"%s\",le=\"%g\"} %" PRIu64 "\n", f->name, kn,
					  d_duration_le[i], m->dur_buckets[k][i]);
		strata_buf_printf(b, "%s_bucket{kind=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", f->name, kn,
				  m->dur_count[k]);
		strata_buf_printf(b, "%s_sum{kind=\"%s\"} %.6f\n", f->name, kn, m->dur_sum[k]);
		strata_buf_printf(b, "%s_count{kind=\"%s\"} %" PRIu64 "\n", f->name, kn, m->dur_count[k]);
	}
}

static void jobs_queued(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %zu\n", f->name, x->queued);
}

static void jobs_running(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %zu\n", f->name, x->running);
}

static void scan_duration(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %.6f\n", f->name, x->m->last_scan_ms / 1e3);
}

static void timed_out(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s{listener=\"admin\"} %" PRIu64 "\n", f->name, x->m->admin_idle_closed);
	strata_buf_printf(b, "%s{listener=\"metrics\"} %" PRIu64 "\n", f->name, x->m->http_closed);
}

static void accept_errors(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s{listener=\"admin\"} %" PRIu64 "\n", f->name, x->d->admin_guard.errors);
	strata_buf_printf(b, "%s{listener=\"metrics\"} %" PRIu64 "\n", f->name,
			  x->d->http_guard.errors);
}

static void reloads(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s{result=\"ok\"} %" PRIu64 "\n", f->name, x->m->reloads);
	strata_buf_printf(b, "%s{result=\"rejected\"} %" PRIu64 "\n", f->name, x->m->reload_failures);
}

static void degraded(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %d\n", f->name, !x->d->wh || x->d->is_degraded ? 1 : 0);
}

static void tables_damaged(strata_buf *b, const m_family *f, const m_ctx *x)
{
	for (size_t i = 0; i < x->d->ndamaged; i++)
		strata_buf_printf(b, "%s{table=\"%s\"} 1\n", f->name, x->d->damaged[i].table);
}

static void map_bytes(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %" PRIu64 "\n", f->name, x->map);
}

static void used_bytes(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %" PRIu64 "\n", f->name, x->used);
}

static void start_time(strata_buf *b, const m_family *f, const m_ctx *x)
{
	strata_buf_printf(b, "%s %.3f\n", f->name, (double)x->d->started_us / 1e6);
}

/* per table, from the last plan (invariant 2: names are [a-z0-9_], holders escaped) */

static void t_version(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", f->name, t->name, t->version);
}

static void t_per_level(strata_buf *b, const m_family *f, const dtable *t, bool is_files)
{
	for (int l = 0; l < STRATA_POL_LEVELS; l++)
		if (t->files_per_level[l] || l == 0)
			strata_buf_printf(b, "%s{table=\"%s\",level=\"%d\"} %" PRIu64 "\n", f->name, t->name,
					  l, is_files ? (uint64_t)t->files_per_level[l] :
							t->bytes_per_level[l]);
}

static void t_files(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	t_per_level(b, f, t, true);
}

static void t_bytes(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	t_per_level(b, f, t, false);
}

static void t_history(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", f->name, t->name, t->history_bytes);
}

static void t_unsorted(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %.3f\n", f->name, t->name,
			  t->l0_oldest_us ? (double)(x->now_us - t->l0_oldest_us) / 1e6 : 0);
}

static void t_trash_bytes(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %" PRIu64 "\n", f->name, t->name, t->trash_bytes);
}

static void t_trash_files(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %zu\n", f->name, t->name, t->trash_files);
}

static void t_pin_holder(strata_buf *b, const m_family *f, const dtable *t)
{
	strata_buf_printf(b, "%s{table=\"%s\",holder=\"", f->name, t->name);
	esc(b, t->pin_holder);
}

static void t_pin_version(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	if (!t->pin_version)
		return;
	t_pin_holder(b, f, t);
	strata_buf_printf(b, "\"} %" PRIu64 "\n", t->pin_version);
}

static void t_pin_age(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	if (!t->pin_version)
		return;
	t_pin_holder(b, f, t);
	strata_buf_printf(b, "\"} %.3f\n", t->pin_ts_us ? (double)(x->now_us - t->pin_ts_us) / 1e6 : 0);
}

static void t_backing_off(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %zu\n", f->name, t->name, t->backing_off);
}

static void t_paused(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	strata_buf_printf(b, "%s{table=\"%s\"} %d\n", f->name, t->name, t->is_paused ? 1 : 0);
}

/* listed only for tables that set a back-pressure limit */
static void t_backpressure(strata_buf *b, const m_family *f, const dtable *t, const m_ctx *x)
{
	if (!t->bp_max_l0 && !t->bp_slow_l0)
		return;
	strata_buf_printf(b, "%s{table=\"%s\",state=\"wait\"} %zu\n", f->name, t->name,
			  t->bp_waiting);
	strata_buf_printf(b, "%s{table=\"%s\",state=\"slow\"} %zu\n", f->name, t->name,
			  t->bp_slowed);
}

/* per bucket, only the ones in trouble (invariant 2: partition names are
 * escaped into [A-Za-z0-9._%=/-], and escaped again here) */

static void b_labels(strata_buf *b, const m_family *f, const dtable *t, const dbucket *bk)
{
	strata_buf_printf(b, "%s{table=\"%s\",partition=\"", f->name, t->name);
	esc(b, *bk->part_name ? bk->part_name : "_");
	strata_buf_printf(b, "\",bucket=\"%u\"}", bk->bucket);
}

static void b_corrupt(strata_buf *b, const m_family *f, const dtable *t, const dbucket *bk)
{
	if (!bk->is_corrupt)
		return;
	b_labels(b, f, t, bk);
	strata_buf_printf(b, " 1\n");
}

static void b_failures(strata_buf *b, const m_family *f, const dtable *t, const dbucket *bk)
{
	if (!bk->failures)
		return;
	b_labels(b, f, t, bk);
	strata_buf_printf(b, " %u\n", bk->failures);
}

#define M_U64(name, type, help, field) \
	{name, type, help, M_DAEMON, u64_at, NULL, NULL, offsetof(d_metrics, field)}
#define M_FN(name, type, help, fn) {name, type, help, M_DAEMON, fn, NULL, NULL, 0}
#define M_TBL(name, help, fn) {name, "gauge", help, M_TABLE, NULL, fn, NULL, 0}
#define M_BKT(name, help, fn) {name, "gauge", help, M_BUCKET, NULL, NULL, fn, 0}

/* Every family, in the order a scrape lists them. */
static const m_family m_families[] = {
	M_FN("strata_jobs_total", "counter", "Jobs finished, by kind and result.", jobs_total),
	M_FN("strata_job_duration_seconds", "histogram",
	     "Duration of jobs that finished (ok or nothing to do), by kind.", job_duration),
	M_U64("strata_job_read_bytes_total", "counter", "Bytes of input files read by jobs.",
	      bytes_read),
	M_U64("strata_job_written_bytes_total", "counter", "Bytes of output files written by jobs.",
	      bytes_written),
	M_U64("strata_job_conflicts_total", "counter",
	      "Jobs that conflicted (inputs gone, schema changed) or found their bucket claimed.",
	      conflicts),
	M_U64("strata_corrupt_jobs_total", "counter",
	      "Jobs that met a damaged data file (STRATA_ECORRUPT); see strata_bucket_corrupt.",
	      corrupt),
	M_U64("strata_clean_deleted_files_total", "counter", "Files clean moved to the trash.",
	      clean_files_deleted),
	M_U64("strata_clean_deleted_bytes_total", "counter", "Bytes clean moved to the trash.",
	      clean_bytes_deleted),
	M_U64("strata_clean_unlinked_files_total", "counter", "Trash files clean unlinked.",
	      clean_files_unlinked),
	M_U64("strata_clean_orphans_total", "counter", "Orphan files clean moved to the trash.",
	      orphans),
	M_U64("strata_intents_recovered_total", "counter",
	      "Intents of crashed jobs recovered at start.", intents_recovered),
	M_FN("strata_jobs_queued", "gauge", "Jobs waiting for a worker.", jobs_queued),
	M_FN("strata_jobs_running", "gauge", "Jobs running.", jobs_running),
	M_U64("strata_scans_total", "counter", "Scans completed.", scans),
	M_U64("strata_tables_planned_total", "counter",
	      "Tables whose files a scan read (the rest were unchanged).", tables_planned),
	M_U64("strata_jobs_chained_total", "counter",
	      "Jobs queued the moment the bucket's previous job finished, planned from the "
	      "bucket's own files (job chaining) rather than by a scan.",
	      chained_jobs),
	M_FN("strata_scan_duration_seconds", "gauge", "Duration of the last scan.", scan_duration),
	M_U64("strata_admin_commands_total", "counter", "Admin commands received.", admin_commands),
	M_U64("strata_admin_refused_total", "counter",
	      "Admin connections or commands refused (permissions, limits).", admin_refused),
	M_FN("strata_connections_timed_out_total", "counter",
	     "Connections closed by a timeout: admin (admin_idle_timeout_s) or metrics "
	     "(metrics_timeout_s, or refused past 64 open).",
	     timed_out),
	M_FN("strata_accept_errors_total", "counter",
	     "accept() failures (e.g. out of file descriptors); each pauses the listener.",
	     accept_errors),
	M_FN("strata_config_reloads_total", "counter", "Config reloads, by result.", reloads),
	M_FN("strata_degraded", "gauge",
	     "1 while stratad is degraded: its manifest cannot be opened or fails its structure "
	     "check; it runs no jobs and deletes nothing (see status).",
	     degraded),
	M_FN("strata_table_damaged", "gauge",
	     "1 for a table that fails the manifest's consistency check: no jobs run on it and "
	     "nothing of it is deleted (see `strata check TABLE`).",
	     tables_damaged),
	M_FN("strata_manifest_map_bytes", "gauge", "Size of the manifest's LMDB map.", map_bytes),
	M_FN("strata_manifest_used_bytes", "gauge", "Bytes of the manifest's map in use.",
	     used_bytes),
	M_FN("strata_daemon_start_time_seconds", "gauge", "When this stratad started.", start_time),
	M_TBL("strata_table_version", "Current version of the table.", t_version),
	M_TBL("strata_files", "Live files, by table and level (0: row files).", t_files),
	M_TBL("strata_bytes", "Bytes of live files, by table and level.", t_bytes),
	M_TBL("strata_history_bytes", "Estimated bytes of superseded records (history) in live files.",
	      t_history),
	M_TBL("strata_oldest_unsorted_seconds",
	      "Age of the oldest row file waiting for a sort (0: none).", t_unsorted),
	M_TBL("strata_trash_bytes", "Bytes in the table's .trash/ after the last clean.",
	      t_trash_bytes),
	M_TBL("strata_trash_files", "Files in the table's .trash/ after the last clean.",
	      t_trash_files),
	M_TBL("strata_oldest_pin_version",
	      "Oldest version a lease or tag pins (the clean horizon), with its holder.",
	      t_pin_version),
	M_TBL("strata_oldest_pin_age_seconds", "Age of the oldest pinned version.", t_pin_age),
	M_TBL("strata_buckets_backing_off", "Buckets waiting after failed or conflicted jobs.",
	      t_backing_off),
	M_TBL("strata_table_paused", "1 if planning is paused for the table.", t_paused),
	M_TBL("strata_backpressure_buckets",
	      "Buckets at a writer back-pressure limit: state=\"wait\" at "
	      "write.max-level0-files (commits wait), state=\"slow\" at "
	      "write.slow-level0-files (commits slow).",
	      t_backpressure),
	M_BKT("strata_bucket_corrupt",
	      "1 for a bucket whose last job met a damaged data file: it backs off at "
	      "policy.backoff_max_s until a job on it succeeds (see the log and status).",
	      b_corrupt),
	M_BKT("strata_bucket_failures",
	      "Jobs that failed or conflicted in a row on a bucket (buckets with none are not "
	      "listed).",
	      b_failures),
};

void d_metrics_render(stratad *d, strata_buf *b)
{
	m_ctx x = {.d = d, .m = &d->m, .now_us = strata_now_us()};
	pthread_mutex_lock(&d->mu);
	x.queued = d->jobs.nqueue;
	x.running = d->jobs.nrunning;
	pthread_mutex_unlock(&d->mu);
	if (d->wh)
		strata_mf_usage(strata_wh_mf(d->wh), &x.map, &x.used);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(m_families); i++) {
		const m_family *f = &m_families[i];
		/* invariant 1 */
		strata_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		switch (f->scope) {
		case M_DAEMON:
			f->sample(b, f, &x);
			break;
		case M_TABLE:
			for (size_t t = 0; t < d->ntables; t++)
				f->table(b, f, d->tables[t], &x);
			break;
		case M_BUCKET:
			for (size_t t = 0; t < d->ntables; t++)
				for (size_t k = 0; k < d->tables[t]->nb; k++)
					f->bucket(b, f, d->tables[t], &d->tables[t]->b[k]);
			break;
		}
	}
}

/* ---- HTTP ------------------------------------------------------------------------------------- */

/*
 * A deliberately small HTTP/1.1 server: GET /metrics, the status page
 * (GET / and /status.json, status.c), one request per connection (the
 * reply says Connection: close; Prometheus and browsers are fine with
 * that); a query string is ignored.  Read-only: any other method is 404.  libevent's evhttp (2.1) has no request deadline and no connection
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

/* Every reply: nothing cached, nothing sniffed, and (for the status page)
 * nothing loaded from anywhere but the page itself. */
#define HTTP_HEADERS                                                                              \
	"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"                          \
	"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "              \
	"img-src data:\r\n"

static void http_reply(dhttp *h, int code, const char *reason, const char *type, const void *body,
		       size_t len)
{
	struct evbuffer *out = bufferevent_get_output(h->bev);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    HTTP_HEADERS "Connection: close\r\n\r\n",
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
	char *query = strchr(uri, '?');
	if (query)
		*query = '\0'; /* ignored */
	strata_buf b = {0};
	if (strcmp(line, "GET") != 0) {
		http_error(h, 404, "Not Found", "only GET /, /status.json and /metrics are served here");
	} else if (strcmp(uri, "/metrics") == 0) {
		d_metrics_render(h->d, &b);
		http_reply(h, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	} else if (strcmp(uri, "/") == 0) { /* the status page (status.c) */
		d_status_html(h->d, &b);
		http_reply(h, 200, "OK", "text/html; charset=utf-8", b.data, b.len);
	} else if (strcmp(uri, "/status.json") == 0) {
		json_t *o = d_status_json(h->d);
		char *text = json_dumps(o, JSON_COMPACT);
		http_reply(h, 200, "OK", "application/json", text, strlen(text));
		free(text);
		json_decref(o);
	} else {
		http_error(h, 404, "Not Found", "only GET /, /status.json and /metrics are served here");
	}
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
