/*
 * daemon/status.c — the status page: what a person opens in a browser to
 * see what stratad is doing, served by the metrics listener (metrics.c) at
 * GET / (HTML) and GET /status.json (the same data as JSON).
 *
 * The page is one document with no external assets — inline CSS, charts
 * drawn here as inline SVG, no script — so it works offline and behind any
 * proxy; the listener sends it with a Content-Security-Policy that forbids
 * loading anything else.  It refreshes itself (a meta refresh every
 * scan_interval_s, clamped to S_REFRESH_MIN_S..S_REFRESH_MAX_S).  It shows:
 *   - the daemon: warehouse, state (and why it is degraded), workers, the
 *     last scan;
 *   - per table: files and bytes per level, history bytes and the space
 *     amplification they imply, the backlog (row files waiting and the age
 *     of the oldest, buckets due and backing off, jobs queued and running,
 *     writer back-pressure), the oldest pin and who holds it, trash, and a
 *     grid of buckets by level (at most S_BUCKETS_MAX, the fullest first);
 *   - running, queued and recent jobs with their reasons (and errors);
 *   - charts of the last hour: live files, live bytes, space amplification
 *     and jobs finished per minute.
 *
 * The charts come from a ring of D_HIST_MAX samples in memory, taken at
 * the end of every scan (d_status_sample(), from stratad.c): a new sample at
 * most once a second — scans of a busy table come ten a second — and the
 * newest refreshed in place by the scans between, so the ring holds at
 * least the last hour (less
 * history after a restart: nothing is written to disk).  A chart draws at
 * most S_POINTS_MAX points of the hour (every k-th sample); the job rate
 * at a point counts the jobs that finished in the minute before it (in the
 * time since the start, per minute, while stratad is younger than that).
 *
 *   space amplification = live bytes / (live bytes - history bytes)
 *
 * history bytes being the planners' estimate of superseded records in
 * live files (strata_history_bytes): 1.00 means no history is kept.
 *
 * One model, two views: d_status_json() gathers everything into one JSON
 * object; d_status_html() renders that object, so the page and
 * /status.json cannot disagree.
 *
 * Invariants:
 *   1. every string that is not this file's own text (names, partitions,
 *      holders, reasons, errors, paths) is HTML-escaped (html_esc), in
 *      text and in attributes alike;
 *   2. rendering reads no file entries and opens no snapshot: only what the
 *      last plan left in the registry, the job lists and the ring, so a
 *      page costs what a scrape costs;
 *   3. the page is bounded: at most S_BUCKETS_MAX buckets per table,
 *      S_QUEUED_MAX queued and S_RECENT_MAX recent jobs, S_POINTS_MAX
 *      points per chart.
 * Loop thread only (job lists under d->mu).
 */
#include "daemon/daemon_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_POINTS_MAX 240   /* points per chart, and in /status.json */
#define S_BUCKETS_MAX 48   /* bucket rows per table */
#define S_QUEUED_MAX 50    /* queued jobs listed */
#define S_RECENT_MAX 20    /* finished jobs listed */
#define S_REFRESH_MIN_S 2
#define S_REFRESH_MAX_S 60

/* ---- samples ----------------------------------------------------------------------------- */

void d_status_sample(stratad *d, bool is_new)
{
	if (!d->hist)
		d->hist = strata_calloc(D_HIST_MAX, sizeof(d_sample));
	if (!is_new && d->nhist > 0) /* refresh the newest sample in place */
		d->hist_next = (d->hist_next + D_HIST_MAX - 1) % D_HIST_MAX;
	d_sample *s = &d->hist[d->hist_next];
	bool is_refresh = !is_new && d->nhist > 0;
	memset(s, 0, sizeof(*s));
	s->wall_us = strata_now_us();
	for (size_t i = 0; i < d->ntables; i++) {
		s->files += d->tables[i]->files;
		s->bytes += d->tables[i]->bytes;
		s->history_bytes += d->tables[i]->history_bytes;
	}
	for (int k = 0; k < DJ_NKINDS; k++)
		for (int r = DJR_OK; r < DJR_NRESULTS; r++)
			s->jobs_done += d->m.jobs[k][r];
	pthread_mutex_lock(&d->mu);
	s->queued = (uint32_t)d->jobs.nqueue;
	s->running = (uint32_t)d->jobs.nrunning;
	pthread_mutex_unlock(&d->mu);
	d->hist_next = (d->hist_next + 1) % D_HIST_MAX;
	if (d->nhist < D_HIST_MAX && !is_refresh)
		d->nhist++;
}

void d_status_free(stratad *d)
{
	free(d->hist);
	d->hist = NULL;
	d->nhist = d->hist_next = 0;
}

/* The i-th oldest sample (i < d->nhist). */
static const d_sample *sample_at(const stratad *d, size_t i)
{
	return &d->hist[(d->hist_next + D_HIST_MAX - d->nhist + i) % D_HIST_MAX];
}

static double amplification(uint64_t bytes, uint64_t history_bytes)
{
	return bytes > history_bytes ? (double)bytes / (double)(bytes - history_bytes) : 1.0;
}

/* ---- the model: /status.json ------------------------------------------------------------------ */

static json_t *history_json(const stratad *d, int64_t now)
{
	json_t *o = json_object(), *pts = json_array();
	json_object_set_new(o, "window_s", json_integer(D_HIST_WINDOW_US / D_US));
	json_object_set_new(o, "now_s", json_real((double)now / 1e6));
	size_t first = 0;
	while (first < d->nhist && sample_at(d, first)->wall_us < now - D_HIST_WINDOW_US)
		first++;
	size_t n = d->nhist - first;
	size_t stride = n > S_POINTS_MAX ? (n + S_POINTS_MAX - 1) / S_POINTS_MAX : 1;
	/* the job rate at a point: jobs finished in the minute before it (in
	 * the time since the start while that is shorter) */
	size_t base = 0; /* the newest sample at least a minute older than the point */
	/* invariant 3; the newest sample is always drawn */
	for (size_t i = first + (n ? (n - 1) % stride : 0); i < d->nhist; i += stride) {
		const d_sample *s = sample_at(d, i);
		while (base + 1 < i && sample_at(d, base + 1)->wall_us <= s->wall_us - 60 * D_US)
			base++;
		int64_t since_us = d->started_us;
		uint64_t done_then = 0;
		if (sample_at(d, base)->wall_us <= s->wall_us - 60 * D_US) {
			since_us = sample_at(d, base)->wall_us;
			done_then = sample_at(d, base)->jobs_done;
		}
		double dt_min = (double)(s->wall_us - since_us) / 60e6;
		json_t *p = json_object();
		json_object_set_new(p, "t_s", json_real((double)s->wall_us / 1e6));
		json_object_set_new(p, "files", json_integer((json_int_t)s->files));
		json_object_set_new(p, "bytes", json_integer((json_int_t)s->bytes));
		json_object_set_new(p, "history_bytes", json_integer((json_int_t)s->history_bytes));
		json_object_set_new(p, "amplification",
				    json_real(amplification(s->bytes, s->history_bytes)));
		json_object_set_new(p, "jobs_done", json_integer((json_int_t)s->jobs_done));
		json_object_set_new(p, "jobs_per_min",
				    json_real((double)(s->jobs_done - done_then) /
					      (dt_min > 1 ? dt_min : 1)));
		json_object_set_new(p, "queued", json_integer(s->queued));
		json_object_set_new(p, "running", json_integer(s->running));
		json_array_append_new(pts, p);
	}
	json_object_set_new(o, "samples", pts);
	return o;
}

static json_t *bucket_json(const dbucket *b)
{
	json_t *o = json_object();
	json_object_set_new(o, "partition", json_string(d_pname(b->part_name)));
	json_object_set_new(o, "bucket", json_integer(b->bucket));
	json_object_set_new(o, "files", json_integer(b->files));
	json_object_set_new(o, "bytes", json_integer((json_int_t)b->bytes));
	json_t *lv = json_array();
	for (int l = 0; l < D_BUCKET_LEVELS; l++)
		json_array_append_new(lv, json_integer(b->level_files[l]));
	json_object_set_new(o, "level_files", lv);
	/* the job's id and kind are fixed before it is queued (its state is not) */
	json_object_set_new(o, "job", b->job ? json_pack("{s:I,s:s}", "id", (json_int_t)b->job->id,
							 "kind", d_kind_name(b->job->kind)) :
					       json_null());
	json_object_set_new(o, "backing_off", json_boolean(b->is_backing_off));
	json_object_set_new(o, "failures", json_integer(b->failures));
	json_object_set_new(o, "corrupt", json_boolean(b->is_corrupt));
	return o;
}

static int bucket_fuller(const void *pa, const void *pb)
{
	const dbucket *a = *(const dbucket *const *)pa, *b = *(const dbucket *const *)pb;
	if (a->files != b->files)
		return a->files > b->files ? -1 : 1;
	return d_bucket_cmp(a->part_id, a->bucket, b->part_id, b->bucket);
}

/* Jobs of one table in the lists (caller holds d->mu). */
static void table_jobs_locked(const stratad *d, const char *name, size_t *queued, size_t *running)
{
	*queued = *running = 0;
	for (size_t i = 0; i < d->jobs.nqueue; i++)
		*queued += strcmp(d->jobs.queue[i]->table, name) == 0;
	for (size_t i = 0; i < d->jobs.nrunning; i++)
		*running += strcmp(d->jobs.running[i]->table, name) == 0;
}

static json_t *table_json(stratad *d, const dtable *t, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "version", json_integer((json_int_t)t->version));
	json_object_set_new(o, "paused", json_boolean(t->is_paused));
	const struct d_damage *dm = d_damage_find(d, t->name);
	json_object_set_new(o, "damaged", dm ? json_string(dm->finding) : json_null());
	json_object_set_new(o, "files", json_integer((json_int_t)t->files));
	json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes));
	json_object_set_new(o, "history_bytes", json_integer((json_int_t)t->history_bytes));
	json_object_set_new(o, "amplification", json_real(amplification(t->bytes, t->history_bytes)));
	json_t *lv = json_array();
	for (int l = 0; l < STRATA_POL_LEVELS; l++)
		if (t->files_per_level[l])
			json_array_append_new(lv, json_pack("{s:i,s:I,s:I}", "level", l, "files",
							    (json_int_t)t->files_per_level[l], "bytes",
							    (json_int_t)t->bytes_per_level[l]));
	json_object_set_new(o, "levels", lv);
	size_t queued, running;
	pthread_mutex_lock(&d->mu);
	table_jobs_locked(d, t->name, &queued, &running);
	pthread_mutex_unlock(&d->mu);
	json_t *bl = json_object();
	json_object_set_new(bl, "row_files_waiting", json_integer((json_int_t)t->files_per_level[0]));
	json_object_set_new(bl, "oldest_row_file_s",
			    json_real(t->l0_oldest_us ? (double)(now - t->l0_oldest_us) / 1e6 : 0));
	json_object_set_new(bl, "buckets_due", json_integer((json_int_t)t->due));
	json_object_set_new(bl, "buckets_backing_off", json_integer((json_int_t)t->backing_off));
	json_object_set_new(bl, "jobs_queued", json_integer((json_int_t)queued));
	json_object_set_new(bl, "jobs_running", json_integer((json_int_t)running));
	json_object_set_new(bl, "backpressure",
			    json_string(!t->bp_max_l0 && !t->bp_slow_l0 ? "off" :
					t->bp_waiting			   ? "waiting" :
					t->bp_slowed			   ? "slowing" :
									     "clear"));
	json_object_set_new(o, "backlog", bl);
	if (t->pin_version)
		json_object_set_new(o, "oldest_pin",
				    json_pack("{s:I,s:s,s:f}", "version", (json_int_t)t->pin_version,
					      "holder", t->pin_holder, "age_s",
					      t->pin_ts_us ? (double)(now - t->pin_ts_us) / 1e6 : 0.0));
	else
		json_object_set_new(o, "oldest_pin", json_null());
	json_object_set_new(o, "trash_files", json_integer((json_int_t)t->trash_files));
	json_object_set_new(o, "trash_bytes", json_integer((json_int_t)t->trash_bytes));
	/* invariant 3: the fullest S_BUCKETS_MAX, in (partition, bucket) order if all fit */
	const dbucket **bs = strata_malloc((t->nb + 1) * sizeof(*bs));
	for (size_t k = 0; k < t->nb; k++)
		bs[k] = &t->b[k];
	if (t->nb > S_BUCKETS_MAX)
		qsort(bs, t->nb, sizeof(*bs), bucket_fuller);
	json_t *ba = json_array();
	for (size_t k = 0; k < t->nb && k < S_BUCKETS_MAX; k++)
		json_array_append_new(ba, bucket_json(bs[k]));
	free(bs);
	json_object_set_new(o, "buckets_total", json_integer((json_int_t)t->nb));
	json_object_set_new(o, "buckets", ba);
	return o;
}

static const char *daemon_state(const stratad *d)
{
	return d->state == D_STOPPING	      ? "stopping" :
	       !d->wh || d->is_degraded ? "degraded" :
	       d->jobs.is_paused	      ? "paused" :
					"running";
}

static int64_t refresh_s(const stratad *d)
{
	int64_t s = d->cfg->d.scan_interval_s;
	return s < S_REFRESH_MIN_S ? S_REFRESH_MIN_S : s > S_REFRESH_MAX_S ? S_REFRESH_MAX_S : s;
}

json_t *d_status_json(stratad *d)
{
	int64_t now = strata_now_us();
	json_t *o = json_object(), *dm = json_object();
	json_object_set_new(dm, "pid", json_integer(getpid()));
	json_object_set_new(dm, "state", json_string(daemon_state(d)));
	json_object_set_new(dm, "degraded", !d->wh || d->is_degraded ? json_string(d->degraded_msg) :
								       json_null());
	json_object_set_new(dm, "warehouse", json_string(d->cfg->d.warehouse));
	json_object_set_new(dm, "uptime_s", json_real((double)(now - d->started_us) / 1e6));
	json_object_set_new(dm, "scan_interval_s", json_integer(d->cfg->d.scan_interval_s));
	json_object_set_new(dm, "last_scan_age_s",
			    json_real(d->last_scan_wall_us ? (double)(now - d->last_scan_wall_us) / 1e6 : -1));
	json_object_set_new(dm, "last_scan_ms", json_real(d->m.last_scan_ms));
	json_object_set_new(dm, "refresh_s", json_integer(refresh_s(d)));
	uint64_t map = 0, used = 0;
	if (d->wh)
		strata_mf_usage(strata_wh_mf(d->wh), &map, &used);
	json_object_set_new(dm, "manifest_map_bytes", json_integer((json_int_t)map));
	json_object_set_new(dm, "manifest_used_bytes", json_integer((json_int_t)used));
	json_t *run = json_array(), *q = json_array();
	pthread_mutex_lock(&d->mu);
	json_object_set_new(dm, "workers", json_integer(d->jobs.nworkers));
	json_object_set_new(dm, "jobs_running", json_integer((json_int_t)d->jobs.nrunning));
	json_object_set_new(dm, "jobs_queued", json_integer((json_int_t)d->jobs.nqueue));
	for (size_t i = 0; i < d->jobs.nrunning; i++)
		json_array_append_new(run, d_job_json(d->jobs.running[i], now));
	/* invariant 3: the best-scored first, as workers take them */
	dj **qs = strata_malloc((d->jobs.nqueue + 1) * sizeof(*qs));
	size_t nq = d->jobs.nqueue;
	if (nq) /* the queue is NULL until the first job */
		memcpy(qs, d->jobs.queue, nq * sizeof(*qs));
	for (size_t i = 0; i < nq && i < S_QUEUED_MAX; i++) {
		size_t best = i;
		for (size_t k = i + 1; k < nq; k++)
			if (qs[k]->score > qs[best]->score)
				best = k;
		dj *tmp = qs[i];
		qs[i] = qs[best];
		qs[best] = tmp;
		json_array_append_new(q, d_job_json(qs[i], now));
	}
	pthread_mutex_unlock(&d->mu);
	free(qs);
	json_object_set_new(o, "daemon", dm);
	json_t *tabs = json_array();
	for (size_t i = 0; i < d->ntables; i++)
		json_array_append_new(tabs, table_json(d, d->tables[i], now));
	json_object_set_new(o, "tables", tabs);
	json_t *jobs = json_object(), *recent = json_array();
	for (size_t k = 0; k < d->nfin && k < S_RECENT_MAX; k++)
		json_array_append_new(recent,
				      d_summary_json(&d->fin[(d->fin_next + D_FINISHED_MAX - 1 - k) %
							     D_FINISHED_MAX]));
	json_object_set_new(jobs, "running", run);
	json_object_set_new(jobs, "queued", q);
	json_object_set_new(jobs, "queued_total", json_integer((json_int_t)nq));
	json_object_set_new(jobs, "recent", recent);
	json_object_set_new(o, "jobs", jobs);
	json_object_set_new(o, "history", history_json(d, now));
	return o;
}

/* ---- the view: GET / ---------------------------------------------------------------------- */

/* invariant 1 */
static void html_esc(strata_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			strata_buf_printf(b, "&amp;");
			break;
		case '<':
			strata_buf_printf(b, "&lt;");
			break;
		case '>':
			strata_buf_printf(b, "&gt;");
			break;
		case '"':
			strata_buf_printf(b, "&quot;");
			break;
		case '\'':
			strata_buf_printf(b, "&#39;");
			break;
		default:
			strata_buf_putc(b, (uint8_t)*s);
		}
	}
}

static const char *js(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int64_t ji(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static double jr(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* "12.3 MiB" */
static const char *fmt_bytes(char *buf, size_t n, double v)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;
	while (v >= 1024 && u + 1 < STRATA_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

/* "42 s", "3.5 min", "2.0 h", "4.1 d" */
static const char *fmt_age(char *buf, size_t n, double s)
{
	if (s < 0)
		snprintf(buf, n, "never");
	else if (s < 120)
		snprintf(buf, n, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, n, "%.1f min", s / 60);
	else if (s < 172800)
		snprintf(buf, n, "%.1f h", s / 3600);
	else
		snprintf(buf, n, "%.1f d", s / 86400);
	return buf;
}

/* "orders p=_ b=3", or just the table for table-wide jobs */
static void html_where(strata_buf *b, const json_t *j)
{
	html_esc(b, js(j, "table"));
	if (json_object_get(j, "bucket")) {
		strata_buf_printf(b, " p=");
		html_esc(b, js(j, "partition"));
		strata_buf_printf(b, " b=%" PRId64, ji(j, "bucket"));
	}
}

static const char s_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222;background:#fafafa}"
	"h1{font-size:1.5em;margin:0}h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}"
	"h3{font-size:1.05em;margin:1em 0 .3em}code{font-size:.95em}"
	"table{border-collapse:collapse;margin:.3em 0;background:#fff}"
	"th,td{border:1px solid #ddd;padding:2px 7px;text-align:right;vertical-align:top}"
	"th{background:#eee}td.s,th.s{text-align:left}td.why{text-align:left;max-width:40em}"
	".charts{display:flex;flex-wrap:wrap;gap:12px}"
	".chart{background:#fff;border:1px solid #ddd}.chart text{font-size:11px;fill:#444}"
	".chart polyline{fill:none;stroke:#1f6fb2;stroke-width:1.5}.chart circle{fill:#1f6fb2}"
	".state-running{color:#17803d}.state-paused,.state-stopping{color:#b26b00}"
	".state-degraded,.bad{color:#b3261e;font-weight:bold}.warn{color:#b26b00}"
	".banner{background:#fde7e4;border:1px solid #b3261e;padding:.5em;margin:.6em 0}"
	".muted{color:#777}.z{color:#bbb}";

#define C_W 320
#define C_H 110
#define C_TOP 18
#define C_BOT 16
#define C_LEFT 4
#define C_RIGHT 4

/* One chart of the hour: key's values in the history's samples, on an
 * axis from lo (0, or 1 for amplification) to the hour's maximum; time
 * from the oldest sample of the hour (at least a minute back) to now. */
static void html_chart(strata_buf *b, const json_t *hist, const char *id, const char *title,
		       const char *key, int kind)
{
	const json_t *pts = json_object_get(hist, "samples");
	double now_s = jr(hist, "now_s"), win = (double)ji(hist, "window_s");
	/* the span drawn: the hour, or since the oldest sample (at least a
	 * minute) while stratad is younger than that */
	if (json_array_size(pts)) {
		double since = now_s - jr(json_array_get(pts, 0), "t_s");
		win = since < 60 ? 60 : since < win ? since : win;
	}
	char span[32];
	if (win < 120)
		snprintf(span, sizeof(span), "%.0f s", win);
	else
		snprintf(span, sizeof(span), "%.0f min", win / 60);
	double lo = kind == 2 ? 1.0 : 0.0, hi = lo;
	size_t i, n = json_array_size(pts);
	json_t *p;
	json_array_foreach(pts, i, p)
		if (jr(p, key) > hi)
			hi = jr(p, key);
	if (hi <= lo)
		hi = lo + (kind == 2 ? 0.1 : 1);
	char last[48] = "-", top[48];
	double lastv = n ? jr(json_array_get(pts, n - 1), key) : 0;
	switch (kind) {
	case 1: /* bytes */
		fmt_bytes(top, sizeof(top), hi);
		if (n)
			fmt_bytes(last, sizeof(last), lastv);
		break;
	case 2: /* amplification */
		snprintf(top, sizeof(top), "%.2f\u00d7", hi);
		if (n)
			snprintf(last, sizeof(last), "%.2f\u00d7", lastv);
		break;
	case 3: /* rate */
		snprintf(top, sizeof(top), "%.1f/min", hi);
		if (n)
			snprintf(last, sizeof(last), "%.1f/min", lastv);
		break;
	default:
		snprintf(top, sizeof(top), "%.0f", hi);
		if (n)
			snprintf(last, sizeof(last), "%.0f", lastv);
	}
	int ph = C_H - C_TOP - C_BOT, pw = C_W - C_LEFT - C_RIGHT;
	strata_buf_printf(b,
			  "<svg class=\"chart\" id=\"chart-%s\" width=\"%d\" height=\"%d\" "
			  "viewBox=\"0 0 %d %d\" role=\"img\"><title>%s, the last hour</title>"
			  "<text x=\"%d\" y=\"13\">%s: <tspan class=\"last\" font-weight=\"bold\">%s"
			  "</tspan></text><text x=\"%d\" y=\"13\" text-anchor=\"end\">max %s</text>"
			  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ccc\"/>",
			  id, C_W, C_H, C_W, C_H, title, C_LEFT, title, last, C_W - C_RIGHT, top, C_LEFT,
			  C_TOP + ph, C_W - C_RIGHT, C_TOP + ph);
	strata_buf_printf(b,
			  "<text x=\"%d\" y=\"%d\">%s ago</text><text x=\"%d\" y=\"%d\" "
			  "text-anchor=\"end\">now</text>",
			  C_LEFT, C_H - 3, span, C_W - C_RIGHT, C_H - 3);
	if (!n) {
		strata_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"muted\">"
				     "no scan yet</text></svg>",
				  C_W / 2, C_TOP + ph / 2);
		return;
	}
	strata_buf_printf(b, "<polyline data-points=\"%zu\" points=\"", n);
	double x = 0, y = 0;
	json_array_foreach(pts, i, p)
	{
		double f = (jr(p, "t_s") - (now_s - win)) / win;
		x = C_LEFT + (f < 0 ? 0 : f > 1 ? 1 : f) * pw;
		y = C_TOP + ph - (jr(p, key) - lo) / (hi - lo) * ph;
		strata_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", x, y);
	}
	strata_buf_printf(b, "\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/></svg>", x, y);
}

static void html_daemon(strata_buf *b, const json_t *dm)
{
	char t1[48], t2[48];
	strata_buf_printf(b, "<header><h1>stratad</h1><p id=\"daemon\">warehouse <code id=\"warehouse\">");
	html_esc(b, js(dm, "warehouse"));
	strata_buf_printf(b,
			  "</code> &middot; <b id=\"state\" class=\"state-%s\">%s</b> &middot; pid %" PRId64
			  " &middot; up %s &middot; %" PRId64 " workers, %" PRId64 " jobs running, %" PRId64
			  " queued &middot; last scan %s ago (%.1f ms), every %" PRId64 " s",
			  js(dm, "state"), js(dm, "state"), ji(dm, "pid"),
			  fmt_age(t1, sizeof(t1), jr(dm, "uptime_s")), ji(dm, "workers"),
			  ji(dm, "jobs_running"), ji(dm, "jobs_queued"),
			  fmt_age(t2, sizeof(t2), jr(dm, "last_scan_age_s")), jr(dm, "last_scan_ms"),
			  ji(dm, "scan_interval_s"));
	char m1[32], m2[32];
	strata_buf_printf(b,
			  " &middot; manifest %s of %s &middot; <span class=\"muted\">this page "
			  "refreshes every %" PRId64 " s</span></p>",
			  fmt_bytes(m1, sizeof(m1), (double)ji(dm, "manifest_used_bytes")),
			  fmt_bytes(m2, sizeof(m2), (double)ji(dm, "manifest_map_bytes")),
			  ji(dm, "refresh_s"));
	if (json_is_string(json_object_get(dm, "degraded"))) {
		strata_buf_printf(b, "<p class=\"banner\" id=\"degraded\">Degraded: no jobs run and "
				     "nothing is deleted. ");
		html_esc(b, js(dm, "degraded"));
		strata_buf_printf(b, "</p>");
	}
	strata_buf_printf(b, "</header>");
}

static void html_tables_summary(strata_buf *b, const json_t *tabs)
{
	strata_buf_printf(b, "<section id=\"tables\"><h2>Tables</h2>");
	if (!json_array_size(tabs)) {
		strata_buf_printf(b, "<p class=\"muted\">No tables (yet: a scan lists them).</p></section>");
		return;
	}
	strata_buf_printf(b, "<table id=\"tables-summary\"><tr><th class=\"s\">table</th><th>version</th>"
			     "<th>files</th><th>bytes</th><th>history</th><th>amplification</th>"
			     "<th>row files waiting</th><th>oldest</th><th>buckets due</th>"
			     "<th>backing off</th><th>jobs</th><th class=\"s\">oldest pin</th></tr>");
	size_t i;
	json_t *t;
	json_array_foreach(tabs, i, t)
	{
		const json_t *bl = json_object_get(t, "backlog"), *pin = json_object_get(t, "oldest_pin");
		char b1[32], b2[32], a1[32];
		strata_buf_printf(b, "<tr data-table=\"");
		html_esc(b, js(t, "name"));
		strata_buf_printf(b, "\"><td class=\"s\"><a href=\"#table-");
		html_esc(b, js(t, "name"));
		strata_buf_printf(b, "\">");
		html_esc(b, js(t, "name"));
		strata_buf_printf(b, "</a>%s%s</td>", json_is_true(json_object_get(t, "paused")) ?
							  " <span class=\"warn\">paused</span>" :
							  "",
				  json_is_string(json_object_get(t, "damaged")) ?
					  " <span class=\"bad\">damaged</span>" :
					  "");
		strata_buf_printf(b,
				  "<td>%" PRId64 "</td><td class=\"files\">%" PRId64 "</td><td>%s</td>"
				  "<td>%s</td><td>%.2f\u00d7</td><td class=\"l0\">%" PRId64 "</td>"
				  "<td>%s</td><td>%" PRId64 "</td><td>%" PRId64 "</td>"
				  "<td>%" PRId64 " running, %" PRId64 " queued</td><td class=\"s\">",
				  ji(t, "version"), ji(t, "files"),
				  fmt_bytes(b1, sizeof(b1), (double)ji(t, "bytes")),
				  fmt_bytes(b2, sizeof(b2), (double)ji(t, "history_bytes")),
				  jr(t, "amplification"), ji(bl, "row_files_waiting"),
				  ji(bl, "row_files_waiting") ?
					  fmt_age(a1, sizeof(a1), jr(bl, "oldest_row_file_s")) :
					  "-",
				  ji(bl, "buckets_due"), ji(bl, "buckets_backing_off"),
				  ji(bl, "jobs_running"), ji(bl, "jobs_queued"));
		if (json_is_object(pin)) {
			char age[32];
			strata_buf_printf(b, "version %" PRId64 " by <span class=\"holder\">",
					  ji(pin, "version"));
			html_esc(b, js(pin, "holder"));
			strata_buf_printf(b, "</span>, %s old", fmt_age(age, sizeof(age), jr(pin, "age_s")));
		} else {
			strata_buf_printf(b, "<span class=\"muted\">none</span>");
		}
		strata_buf_printf(b, "</td></tr>");
	}
	strata_buf_printf(b, "</table></section>");
}

static void html_table_detail(strata_buf *b, const json_t *t)
{
	const char *name = js(t, "name");
	const json_t *bl = json_object_get(t, "backlog"), *pin = json_object_get(t, "oldest_pin");
	char x1[32], x2[32];
	strata_buf_printf(b, "<section class=\"table-detail\" id=\"table-");
	html_esc(b, name);
	strata_buf_printf(b, "\" data-table=\"");
	html_esc(b, name);
	strata_buf_printf(b, "\"><h3>");
	html_esc(b, name);
	strata_buf_printf(b, " <span class=\"muted\">version %" PRId64 "</span></h3>", ji(t, "version"));
	if (json_is_string(json_object_get(t, "damaged"))) {
		strata_buf_printf(b, "<p class=\"banner\">Damaged: no jobs run on this table and nothing "
				     "of it is deleted. ");
		html_esc(b, js(t, "damaged"));
		strata_buf_printf(b, "</p>");
	}
	strata_buf_printf(b,
			  "<p class=\"backlog\">Backlog: %" PRId64 " row files waiting for a sort%s%s%s, "
			  "%" PRId64 " buckets due, %" PRId64 " backing off; %" PRId64 " jobs running, "
			  "%" PRId64 " queued; writer back-pressure %s.",
			  ji(bl, "row_files_waiting"), ji(bl, "row_files_waiting") ? " (oldest " : "",
			  ji(bl, "row_files_waiting") ?
				  fmt_age(x1, sizeof(x1), jr(bl, "oldest_row_file_s")) :
				  "",
			  ji(bl, "row_files_waiting") ? ")" : "", ji(bl, "buckets_due"),
			  ji(bl, "buckets_backing_off"), ji(bl, "jobs_running"), ji(bl, "jobs_queued"),
			  js(bl, "backpressure"));
	strata_buf_printf(b, " Trash: %" PRId64 " files, %s.</p><p class=\"pin\">Oldest pin: ",
			  ji(t, "trash_files"), fmt_bytes(x2, sizeof(x2), (double)ji(t, "trash_bytes")));
	if (json_is_object(pin)) {
		strata_buf_printf(b, "version %" PRId64 ", held by <b class=\"holder\">", ji(pin, "version"));
		html_esc(b, js(pin, "holder"));
		strata_buf_printf(b, "</b>, %s old.</p>", fmt_age(x1, sizeof(x1), jr(pin, "age_s")));
	} else {
		strata_buf_printf(b, "none.</p>");
	}
	/* files and bytes per level */
	const json_t *lv = json_object_get(t, "levels");
	strata_buf_printf(b, "<table class=\"levels\" id=\"levels-");
	html_esc(b, name);
	strata_buf_printf(b, "\"><tr><th>level</th><th>files</th><th>bytes</th></tr>");
	size_t i;
	json_t *l;
	json_array_foreach(lv, i, l)
		strata_buf_printf(b,
				  "<tr data-level=\"%" PRId64 "\"><td>%" PRId64 "%s</td><td class=\"files\">"
				  "%" PRId64 "</td><td>%s</td></tr>",
				  ji(l, "level"), ji(l, "level"), ji(l, "level") == 0 ? " (row files)" : "",
				  ji(l, "files"), fmt_bytes(x1, sizeof(x1), (double)ji(l, "bytes")));
	if (!json_array_size(lv))
		strata_buf_printf(b, "<tr><td colspan=\"3\" class=\"muted\">no live files</td></tr>");
	strata_buf_printf(b, "</table>");
	/* the buckets by level: columns up to the deepest level in use */
	int maxl = 0;
	json_array_foreach(lv, i, l)
		if (ji(l, "level") > maxl)
			maxl = (int)ji(l, "level");
	if (maxl > D_BUCKET_LEVELS - 1)
		maxl = D_BUCKET_LEVELS - 1;
	const json_t *ba = json_object_get(t, "buckets");
	if (!json_array_size(ba)) {
		strata_buf_printf(b, "</section>");
		return;
	}
	strata_buf_printf(b, "<table class=\"buckets\" id=\"buckets-");
	html_esc(b, name);
	strata_buf_printf(b, "\"><tr><th class=\"s\">partition</th><th>bucket</th>");
	for (int k = 0; k <= maxl; k++)
		strata_buf_printf(b, "<th>L%d%s</th>", k, k == D_BUCKET_LEVELS - 1 ? "+" : "");
	strata_buf_printf(b, "<th>files</th><th>bytes</th><th class=\"s\">job / state</th></tr>");
	json_t *bk;
	json_array_foreach(ba, i, bk)
	{
		strata_buf_printf(b, "<tr data-partition=\"");
		html_esc(b, js(bk, "partition"));
		strata_buf_printf(b, "\" data-bucket=\"%" PRId64 "\"><td class=\"s\">", ji(bk, "bucket"));
		html_esc(b, js(bk, "partition"));
		strata_buf_printf(b, "</td><td>%" PRId64 "</td>", ji(bk, "bucket"));
		const json_t *lf = json_object_get(bk, "level_files");
		for (int k = 0; k <= maxl; k++) {
			json_int_t v = json_integer_value(json_array_get(lf, (size_t)k));
			strata_buf_printf(b, "<td data-level=\"%d\"%s>%lld</td>", k, v ? "" : " class=\"z\"",
					  (long long)v);
		}
		strata_buf_printf(b, "<td class=\"files\">%" PRId64 "</td><td>%s</td><td class=\"s\">",
				  ji(bk, "files"), fmt_bytes(x1, sizeof(x1), (double)ji(bk, "bytes")));
		const json_t *job = json_object_get(bk, "job");
		if (json_is_object(job))
			strata_buf_printf(b, "<a href=\"#job-%" PRId64 "\">%s %" PRId64 "</a> ", ji(job, "id"),
					  js(job, "kind"), ji(job, "id"));
		if (json_is_true(json_object_get(bk, "corrupt")))
			strata_buf_printf(b, "<span class=\"bad\">corrupt</span> ");
		if (json_is_true(json_object_get(bk, "backing_off")))
			strata_buf_printf(b, "<span class=\"warn\">backing off (%" PRId64 " failures)</span>",
					  ji(bk, "failures"));
		strata_buf_printf(b, "</td></tr>");
	}
	strata_buf_printf(b, "</table>");
	if (ji(t, "buckets_total") > (int64_t)json_array_size(ba))
		strata_buf_printf(b, "<p class=\"muted\">The %zu fullest of %" PRId64 " buckets.</p>",
				  json_array_size(ba), ji(t, "buckets_total"));
	strata_buf_printf(b, "</section>");
}

/* which: 0 running, 1 queued, 2 recent */
static void html_jobs(strata_buf *b, const json_t *arr, int which, int64_t total)
{
	static const char *const ids[] = {"jobs-running", "jobs-queued", "jobs-recent"};
	static const char *const titles[] = {"Running", "Queued", "Recent"};
	strata_buf_printf(b, "<h3>%s (%" PRId64 ")</h3>", titles[which], total);
	if (!json_array_size(arr)) {
		strata_buf_printf(b, "<p class=\"muted\" id=\"%s\">none</p>", ids[which]);
		return;
	}
	strata_buf_printf(b, "<table id=\"%s\"><tr><th>job</th><th class=\"s\">kind</th>"
			     "<th class=\"s\">where</th>",
			  ids[which]);
	if (which == 0)
		strata_buf_printf(b, "<th>running</th><th>I/O</th>");
	else if (which == 1)
		strata_buf_printf(b, "<th>score</th><th>waiting</th>");
	else
		strata_buf_printf(b, "<th class=\"s\">result</th><th>seconds</th><th>files</th>"
				     "<th>bytes</th>");
	strata_buf_printf(b, "<th class=\"s\">reason</th></tr>");
	size_t i;
	json_t *j;
	json_array_foreach(arr, i, j)
	{
		char x1[32], x2[32];
		strata_buf_printf(b, "<tr id=\"job-%" PRId64 "\" data-job=\"%" PRId64 "\" data-kind=\"%s\">"
				     "<td>%" PRId64 "</td><td class=\"s\">%s%s</td><td class=\"s\">",
				  ji(j, "id"), ji(j, "id"), js(j, "kind"), ji(j, "id"), js(j, "kind"),
				  json_is_true(json_object_get(j, "manual")) ? " (asked for)" : "");
		html_where(b, j);
		strata_buf_printf(b, "</td>");
		if (which == 0)
			strata_buf_printf(b, "<td>%s%s</td><td>%s</td>",
					  fmt_age(x1, sizeof(x1), jr(j, "running_s")),
					  json_is_true(json_object_get(j, "cancelling")) ? ", cancelling" : "",
					  fmt_bytes(x2, sizeof(x2), (double)ji(j, "io_bytes")));
		else if (which == 1)
			strata_buf_printf(b, "<td>%.2f</td><td>%s</td>", jr(j, "score"),
					  fmt_age(x1, sizeof(x1), jr(j, "queued_s")));
		else
			strata_buf_printf(b,
					  "<td class=\"s result-%s\">%s</td><td>%.3f</td><td>%" PRId64
					  " &rarr; %" PRId64 "</td><td>%s &rarr; %s</td>",
					  js(j, "result"), js(j, "result"), jr(j, "seconds"), ji(j, "files_in"),
					  ji(j, "files_out"),
					  fmt_bytes(x1, sizeof(x1), (double)ji(j, "bytes_in")),
					  fmt_bytes(x2, sizeof(x2), (double)ji(j, "bytes_out")));
		strata_buf_printf(b, "<td class=\"why\">");
		html_esc(b, js(j, "reason"));
		if (json_object_get(j, "error")) {
			strata_buf_printf(b, "<br><span class=\"bad\">");
			html_esc(b, js(j, "error"));
			strata_buf_printf(b, "</span>");
		}
		strata_buf_printf(b, "</td></tr>");
	}
	strata_buf_printf(b, "</table>");
	if (total > (int64_t)json_array_size(arr))
		strata_buf_printf(b, "<p class=\"muted\">The first %zu of %" PRId64 ".</p>",
				  json_array_size(arr), total);
}

void d_status_html(stratad *d, strata_buf *b)
{
	json_t *o = d_status_json(d);
	const json_t *dm = json_object_get(o, "daemon"), *tabs = json_object_get(o, "tables"),
		     *jobs = json_object_get(o, "jobs"), *hist = json_object_get(o, "history");
	strata_buf_printf(b,
			  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			  "<meta http-equiv=\"refresh\" content=\"%" PRId64 "\">"
			  "<meta name=\"viewport\" content=\"width=device-width\"><title>stratad: ",
			  ji(dm, "refresh_s"));
	html_esc(b, js(dm, "warehouse"));
	strata_buf_printf(b, "</title><style>%s</style></head><body>", s_style);
	html_daemon(b, dm);
	strata_buf_printf(b, "<section id=\"charts\"><h2>The last hour</h2><div class=\"charts\">");
	html_chart(b, hist, "files", "live files", "files", 0);
	html_chart(b, hist, "bytes", "live bytes", "bytes", 1);
	html_chart(b, hist, "amplification", "space amplification", "amplification", 2);
	html_chart(b, hist, "jobs", "jobs finished", "jobs_per_min", 3);
	strata_buf_printf(b, "</div></section>");
	html_tables_summary(b, tabs);
	size_t i;
	json_t *t;
	json_array_foreach(tabs, i, t)
		html_table_detail(b, t);
	strata_buf_printf(b, "<section id=\"jobs\"><h2>Jobs</h2>");
	html_jobs(b, json_object_get(jobs, "running"), 0, ji(dm, "jobs_running"));
	html_jobs(b, json_object_get(jobs, "queued"), 1, ji(jobs, "queued_total"));
	html_jobs(b, json_object_get(jobs, "recent"), 2,
		  (int64_t)json_array_size(json_object_get(jobs, "recent")));
	strata_buf_printf(b, "</section><footer><p class=\"muted\">Read-only. The same data as JSON: "
			     "<a href=\"/status.json\">/status.json</a>; Prometheus metrics: "
			     "<a href=\"/metrics\">/metrics</a>.</p></footer></body></html>\n");
	json_decref(o);
}
