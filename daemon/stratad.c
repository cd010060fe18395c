/*
 * daemon/stratad.c — stratad's event loop: it owns time, runs the scans,
 * keeps the table and bucket registry and the damage state, and hears back
 * from the workers.  Planning one table is daemon/plan.c's (gather, decide,
 * report); a job's record, the queue and completions are daemon/jobs.c's;
 * the invariants below hold across the three files.
 *
 * One libevent loop on the main thread holds every timer and every socket:
 *   - the cron timer (every D_CRON_MS) pings the systemd watchdog, runs the
 *     scan in slices of at most D_SCAN_BUDGET_US, polls commits for `watch`
 *     and watches the shutdown deadline — Redis's serverCron with budgets;
 *   - SIGHUP, SIGTERM and SIGINT arrive as libevent signal events: the
 *     handlers only call d_reload() / d_begin_stop() on the loop thread;
 *   - workers report "started" and "done" through a notice list and one
 *     byte on a pipe; all bookkeeping happens here, on the loop thread.
 *
 * A scan visits every table.  A table that has not changed since it was last
 * planned (same version, same config generation, no job finished on it) and
 * has nothing coming due (next_due_us, from the policies) is skipped without
 * reading a single file entry: an idle warehouse of any size costs one table
 * list per scan.  Planning a table reads its file entries in one snapshot,
 * gives each bucket's statistics to policies/, and keeps at most one job per
 * bucket in the queue (plus one clean per table); a job that is no longer due
 * leaves the queue, one that is queued is re-scored.  Workers take the
 * highest score first.  Scans come every scan_interval_s, sooner after a
 * finished job and while a table is being written (d_scan_after_job_at():
 * a cron tick, or 10 times the last scan's duration if that is longer), and
 * a finished job's bucket is planned at once from its own entries
 * (d_plan_bucket(): job chaining).
 *
 * Shutdown: d_begin_stop() stops planning, drops the queue, sets every running
 * job's cancel flag (the library checks it at its next block) and arms a
 * deadline of shutdown_timeout_s; the loop ends when the last job has
 * reported back, or at the deadline (then the process exits at once and the
 * next start recovers the intents the jobs left).
 *
 * Damage (the "damage rule" cited below): a damaged manifest is never acted
 * on, and never a crash loop.  At start stratad runs the consistency check
 * (strata_mf_check()); a manifest that cannot be opened (missing, truncated,
 * a damaged page) or fails its structure check puts the whole daemon in the
 * degraded state: no jobs, no intent recovery, no deletions — but the admin
 * socket and metrics keep serving, `status` says why, and the gauge
 * strata_degraded is 1.  A table that fails the check is damaged: no job is
 * planned or accepted for it (strata_table_damaged{table}).  A clean or
 * purge that meets damage (each runs the check first, before every orphan
 * scan too) marks its table damaged.  While anything is damaged, each scan
 * reopens and re-checks; what passes again is cleared.
 *
 * Invariants:
 *   1. at most one queued or running job per bucket, and per table at most
 *      one clean and one purge; a purge runs alone on its table;
 *   2. only the loop thread creates, re-scores, drops and frees jobs; a job's
 *      state changes only through d_job_set_state(), under d->mu;
 *   3. no work in signal handlers (libevent turns signals into events);
 *   4. a failed or conflicted job makes its bucket back off (policies/); a
 *      cancelled one does not; a clean that was expected to delete files and
 *      deleted none backs off too (a lease or a tag pins them);
 *   4a. a job that meets a damaged data file (STRATA_ECORRUPT) marks its
 *      bucket corrupt: an error log line naming the file, the
 *      strata_bucket_corrupt metric, `status`, and back-off at
 *      policy.backoff_max_s straight away — retrying sooner cannot help and
 *      would flood the log.  Every other bucket goes on as usual; the mark
 *      goes when a job on the bucket succeeds (after the file is restored, a
 *      manual `strata admin sort TABLE --bucket N` retries at once);
 *   4b. a partial compaction that dropped nothing (as many records out as in)
 *      raises its bucket's bar to the garbage estimate it was queued on, so
 *      the same files never queue it again, whatever compact.max_lag_s says;
 *      one that dropped something lowers the bar to 0 (policies.c, issue 11);
 *   5. a reload is all-or-nothing: the running config is replaced only by a
 *      complete, valid one;
 *   5a. and never by a file that sets no key at all (empty, or only comments
 *      and headers): that would reset every policy to its default without a
 *      word, and is far more often a truncated file than an intent.
 *   6. a manifest commit whose outcome is uncertain closes the manifest
 *      handle (manifest/env.c invariant 6): every job fails fast with the
 *      reason until no job runs; then the loop reopens the warehouse (under
 *      d->mu, so no worker starts meanwhile) and logs it.  The uncertain
 *      job's outputs and intent stay; a later recovery (clean runs it)
 *      judges them knowing the outcome.  If reopening fails, stratad is
 *      degraded (the damage rule: no crash loop) and tries again every
 *      scan.
 */
#include "daemon/daemon_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>

const double d_duration_le[9] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800};

/* A bucket job's kind indexes the policies' checks (due_since_us). */
_Static_assert(DJ_SORT == (int)STRATA_POL_SORT && DJ_MERGE == (int)STRATA_POL_MERGE &&
		       DJ_PARTIAL == (int)STRATA_POL_COMPACT,
	       "dj_kind and strata_pol_kind must agree for sort, merge and compact");

const char *d_kind_name(dj_kind k)
{
	static const char *const names[] = {"sort",  "merge", "partial-compaction",
					    "major-compaction", "clean", "purge"};
	return (unsigned)k < DJ_NKINDS ? names[k] : "?";
}

const char *d_result_name(dj_result r)
{
	static const char *const names[] = {"none",  "ok",	 "noop",  "conflict",
					    "busy", "canceled", "failed"};
	return (unsigned)r < DJR_NRESULTS ? names[r] : "?";
}

const char *d_pname(const char *p)
{
	return p && *p ? p : "_";
}

/* ---- tables and buckets ----------------------------------------------------------------- */

/* ---- degraded state (the damage rule) ---------------------------------------------- */

const struct d_damage *d_damage_find(const stratad *d, const char *table)
{
	for (size_t i = 0; i < d->ndamaged; i++)
		if (strcmp(d->damaged[i].table, table) == 0)
			return &d->damaged[i];
	return NULL;
}

int d_degraded_refuse(const stratad *d, const char *table, strata_err *err)
{
	if (!d->wh || d->is_degraded)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "stratad is degraded and runs no jobs: %s (docs/OPERATIONS.md, "
				      "\"A damaged manifest\")",
				      d->degraded_msg);
	const struct d_damage *dm = table ? d_damage_find(d, table) : NULL;
	if (dm)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "stratad runs no jobs on table \"%s\": it failed the manifest's "
				      "consistency check (%s); see `strata check %s` (docs/OPERATIONS.md, "
				      "\"A damaged manifest\")",
				      table, dm->finding, table);
	return 0;
}

void d_damage_set(stratad *d, const char *table, const char *finding, int64_t since_us)
{
	struct d_damage *dm = (struct d_damage *)d_damage_find(d, table);
	if (!dm) {
		d->damaged = strata_realloc(d->damaged, (d->ndamaged + 1) * sizeof(*d->damaged));
		dm = &d->damaged[d->ndamaged++];
		memset(dm, 0, sizeof(*dm));
		snprintf(dm->table, sizeof(dm->table), "%s", table);
		snprintf(dm->finding, sizeof(dm->finding), "%s", finding);
		dm->since_us = since_us;
		LOG_ERROR("table %s is damaged: %s; stratad runs no jobs on it and deletes nothing of it "
			  "until `strata check %s` passes",
			  table, finding, table);
	}
	dm->findings++;
}

static void degraded_set(stratad *d, const char *msg)
{
	if (!d->is_degraded) {
		d->degraded_since_us = strata_now_us();
		LOG_ERROR("stratad is degraded: %s; it runs no jobs and deletes nothing until the "
			  "manifest is restored (it keeps serving its admin socket and metrics)",
			  msg);
	}
	d->is_degraded = true;
	snprintf(d->degraded_msg, sizeof(d->degraded_msg), "%s", msg);
}

typedef struct check_collect {
	stratad *d;
	struct d_damage *old;
	size_t nold;
} check_collect;

static void check_finding(void *arg, const char *table, const char *msg)
{
	check_collect *c = arg;
	if (!table) {
		degraded_set(c->d, msg);
		return;
	}
	int64_t since = strata_now_us();
	for (size_t i = 0; i < c->nold; i++)
		if (strcmp(c->old[i].table, table) == 0)
			since = c->old[i].since_us;
	d_damage_set(c->d, table, msg, since);
}

/* Run the consistency check over the whole warehouse and rebuild the
 * damage records from its findings (what passes again is cleared). */
static void d_check_run(stratad *d)
{
	d->last_check_us = strata_mono_us();
	check_collect c = {.d = d, .old = d->damaged, .nold = d->ndamaged};
	d->damaged = NULL;
	d->ndamaged = 0;
	bool was_degraded = d->is_degraded;
	d->is_degraded = false;
	strata_err err;
	strata_err_clear(&err);
	size_t n = 0;
	int rc = strata_mf_check(strata_wh_mf(d->wh), NULL, check_finding, &c, &n, &err);
	if (rc && rc != STRATA_ECORRUPT)
		degraded_set(d, err.msg); /* could not check: act as if damaged */
	for (size_t i = 0; i < c.nold; i++)
		if (!d_damage_find(d, c.old[i].table))
			LOG_WARN("table %s passes the consistency check again: its jobs resume",
				 c.old[i].table);
	if (was_degraded && !d->is_degraded)
		LOG_WARN("the manifest passes the consistency check again: stratad leaves its degraded "
			 "state");
	if (rc == 0 && !was_degraded && c.nold == 0)
		LOG_INFO("consistency check: the manifest is consistent");
	free(c.old);
}

/* Degraded without a manifest: try to open it again (the damage rule). */
static void d_reopen(stratad *d)
{
	strata_err err;
	strata_err_clear(&err);
	strata_wh *wh = NULL;
	if (strata_wh_open(d->cfg->d.warehouse, false, &wh, &err) != 0) {
		degraded_set(d, err.msg);
		return;
	}
	d->wh = wh;
	d_check_run(d);
}

dtable *d_table_find(stratad *d, const char *name)
{
	for (size_t i = 0; i < d->ntables; i++)
		if (strcmp(d->tables[i]->name, name) == 0)
			return d->tables[i];
	return NULL;
}

dtable *d_table_get_or_add(stratad *d, const char *name, uint32_t id)
{
	dtable *t = d_table_find(d, name);
	if (t && t->id != id) {
		/* dropped and re-created under the same name: start afresh */
		t->id = id;
		t->nb = 0;
		t->planned_version = 0;
		t->watch_seen = 0;
	}
	if (t)
		return t;
	t = strata_calloc(1, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->id = id;
	t->names = strata_arena_new();
	d->tables = strata_realloc(d->tables, (d->ntables + 1) * sizeof(dtable *));
	d->tables[d->ntables++] = t;
	return t;
}

static void table_free(dtable *t)
{
	if (!t)
		return;
	free(t->b);
	strata_arena_free(t->names);
	free(t);
}

int d_bucket_cmp(uint32_t pa, uint32_t ba, uint32_t pb, uint32_t bb)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return ba < bb ? -1 : ba > bb ? 1 : 0;
}

/* Index of the first bucket not below (part_id, bucket). */
static size_t bucket_lower(const dtable *t, uint32_t part_id, uint32_t bucket)
{
	size_t lo = 0, hi = t->nb;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d_bucket_cmp(t->b[mid].part_id, t->b[mid].bucket, part_id, bucket) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

dbucket *d_bucket_find(dtable *t, uint32_t part_id, uint32_t bucket)
{
	size_t i = bucket_lower(t, part_id, bucket);
	if (i < t->nb && t->b[i].part_id == part_id && t->b[i].bucket == bucket)
		return &t->b[i];
	return NULL;
}

/* The bucket's state (created on first sight); valid until the next add. */
dbucket *d_bucket_get_or_add(dtable *t, uint32_t part_id, uint32_t bucket,
				  const char *part_name)
{
	size_t i = bucket_lower(t, part_id, bucket);
	if (i < t->nb && t->b[i].part_id == part_id && t->b[i].bucket == bucket)
		return &t->b[i];
	if (t->nb == t->capb) {
		t->capb = t->capb ? 2 * t->capb : 16;
		t->b = strata_realloc(t->b, t->capb * sizeof(dbucket));
	}
	memmove(&t->b[i + 1], &t->b[i], (t->nb - i) * sizeof(dbucket));
	t->nb++;
	dbucket *b = &t->b[i];
	memset(b, 0, sizeof(*b));
	b->part_id = part_id;
	b->bucket = bucket;
	b->part_name = strata_arena_strdup(t->names, part_name);
	b->best = -1;
	return b;
}

uint32_t d_bucket_backoff_failures(const dbucket *b)
{
	return b->is_corrupt && b->failures < D_CORRUPT_BACKOFF_FAILURES ? D_CORRUPT_BACKOFF_FAILURES :
									    b->failures;
}

/* ---- scans ---------------------------------------------------------------------------------------- */

static void scan_free_list(stratad *d)
{
	free(d->scan_list);
	d->scan_list = NULL;
	d->scan_n = d->scan_i = 0;
}

static void scan_begin(stratad *d)
{
	strata_err err;
	strata_err_clear(&err);
	/* the damage rule: while degraded or damaged, look again every scan */
	if (!d->wh)
		d_reopen(d);
	else if (d->is_degraded || d->ndamaged)
		d_check_run(d);
	if (!d->wh || d->is_degraded) {
		d->next_scan_us = strata_mono_us() + d->cfg->d.scan_interval_s * D_US;
		snprintf(d->status_line, sizeof(d->status_line), "degraded: %.200s", d->degraded_msg);
		return;
	}
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_table_def *defs = NULL;
	size_t n = 0;
	int rc = strata_mf_snap_open(strata_wh_mf(d->wh), &snap, &err);
	if (rc == 0)
		rc = strata_mf_tables_list(snap, a, &defs, &n, &err);
	strata_mf_snap_close(snap);
	if (rc) {
		LOG_ERROR("scan: could not list the tables: %s", err.msg);
		d->next_scan_us = strata_mono_us() + d->cfg->d.scan_interval_s * D_US;
		strata_arena_free(a);
		return;
	}
	scan_free_list(d);
	d_share_beat(d, true); /* who shares the work this scan */
	/* one allocation: names packed as scan_entry records */
	scan_entry *list = strata_calloc(n + 1, sizeof(scan_entry));
	for (size_t i = 0; i < d->ntables; i++)
		d->tables[i]->is_seen = false;
	for (size_t i = 0; i < n; i++) {
		snprintf(list[i].name, sizeof(list[i].name), "%s", defs[i].name);
		list[i].version = defs[i].version;
		list[i].id = defs[i].id;
		dtable *t = d_table_find(d, defs[i].name);
		if (t)
			t->is_seen = true;
	}
	/* forget dropped tables once nothing of theirs runs */
	for (size_t i = 0; i < d->ntables;) {
		dtable *t = d->tables[i];
		bool has_job = t->clean_job || t->purge_job;
		for (size_t k = 0; k < t->nb && !has_job; k++)
			has_job = t->b[k].job != NULL;
		if (!t->is_seen && !has_job) {
			LOG_INFO("table %s is gone from the warehouse; forgetting it", t->name);
			table_free(t);
			d->tables[i] = d->tables[--d->ntables];
			continue;
		}
		i++;
	}
	d->scan_list = list;
	d->scan_n = n;
	d->scan_i = 0;
	d->in_scan = true;
	d->scan_started_mono_us = strata_mono_us();
	d->scan_planned = d->scan_idle = 0;
	strata_arena_free(a);
}

static void scan_end(stratad *d)
{
	d->in_scan = false;
	int64_t mono = strata_mono_us();
	d->m.scans++;
	d->m.last_scan_ms = (double)(mono - d->scan_started_mono_us) / 1e3;
	d->last_scan_end_us = mono;
	d->last_scan_wall_us = strata_now_us();
	d->next_scan_us = mono + d->cfg->d.scan_interval_s * D_US;
	/* a table being written (a scan met new commits within the last
	 * scan_interval_s) is looked at again soon, at the cadence of a finished
	 * job (d_scan_after_job_at): row files arrive between scans, and with no
	 * job finishing meanwhile they waited scan_interval_s */
	if (d->commit_seen_us && mono - d->commit_seen_us < d->cfg->d.scan_interval_s * D_US) {
		int64_t soon = d_scan_after_job_at(mono, d->m.last_scan_ms, mono);
		if (soon < d->next_scan_us)
			d->next_scan_us = soon;
	}
	size_t due = 0, backing = 0, buckets = 0, files = 0;
	d->share_mine = d->share_total = 0;
	for (size_t i = 0; i < d->ntables; i++) {
		d->share_mine += d->tables[i]->share_mine;
		d->share_total += d->tables[i]->share_total;
		due += d->tables[i]->due;
		backing += d->tables[i]->backing_off;
		buckets += d->tables[i]->nb;
		files += d->tables[i]->files;
	}
	pthread_mutex_lock(&d->mu);
	size_t queued = d->jobs.nqueue, running = d->jobs.nrunning;
	pthread_mutex_unlock(&d->mu);
	/* scans after jobs come up to ten a second: one info line a second */
	bool is_logged = mono - d->scan_logged_us >= D_SCAN_LOG_MIN_US;
	if (is_logged)
		d->scan_logged_us = mono;
	STRATA_LOG(is_logged ? STRATA_LOG_INFO : STRATA_LOG_DEBUG,
		 "scan: %zu tables (%zu planned, %zu unchanged) in %.1f ms; %zu buckets, %zu live "
		 "files; %zu buckets due, %zu backing off; %zu jobs running, %zu queued%s",
		 d->scan_n, d->scan_planned, d->scan_idle, d->m.last_scan_ms, buckets, files, due,
		 backing, running, queued, d->jobs.is_paused ? " (paused)" : "");
	snprintf(d->status_line, sizeof(d->status_line),
		 "%zu tables, %zu live files; %zu jobs running, %zu queued; %zu buckets backing off%s",
		 d->scan_n, files, running, queued, backing, d->jobs.is_paused ? "; paused" : "");
	/* the status page's charts: a new sample a second, the newest refreshed */
	bool is_new_sample = mono - d->sampled_us >= D_US;
	if (is_new_sample)
		d->sampled_us = mono;
	d_status_sample(d, is_new_sample);
	char msg[300];
	snprintf(msg, sizeof(msg), "STATUS=%s", d->status_line);
	stratad_notify(msg);
}

static void scan_step(stratad *d)
{
	int64_t t0 = strata_mono_us();
	int64_t now = strata_now_us();
	scan_entry *list = d->scan_list;
	while (d->scan_i < d->scan_n) {
		scan_entry *e = &list[d->scan_i++];
		dtable *t = d_table_find(d, e->name);
		bool is_needed = !t || t->id != e->id || t->is_dirty || t->planned_version != e->version ||
				 t->planned_cfg_gen != d->cfg_gen || now >= t->next_due_us ||
				 t->planned_share_gen != d->share_gen;
		if (d_damage_find(d, e->name))
			is_needed = false; /* the damage rule: no jobs; said once when marked */
		if (is_needed && t && t->id == e->id && t->planned_version != e->version)
			d->commit_seen_us = strata_mono_us();
		if (is_needed) {
			strata_err err;
			strata_err_clear(&err);
			if (d_plan_table(d, e->name, true, NULL, false, &err) != 0 &&
			    err.code != STRATA_ENOTFOUND)
				LOG_WARN("scan: planning table %s failed: %s", e->name, err.msg);
			d->scan_planned++;
			d->m.tables_planned++;
		} else {
			d->scan_idle++;
		}
		if (strata_mono_us() - t0 > D_SCAN_BUDGET_US)
			return; /* the rest on the next tick */
	}
	scan_end(d);
}

/* ---- watch: commits ------------------------------------------------------------------------------ */

static void watch_poll(stratad *d)
{
	if (!d->wh || d->is_degraded)
		return; /* the damage rule: no reads of a damaged manifest */
	strata_err err;
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_table_def *defs = NULL;
	size_t n = 0;
	if (strata_mf_snap_open(strata_wh_mf(d->wh), &snap, &err) != 0 ||
	    strata_mf_tables_list(snap, a, &defs, &n, &err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		dtable *t = d_table_find(d, defs[i].name);
		if (!t)
			continue;
		if (t->watch_seen == 0 || t->watch_seen > defs[i].version) {
			t->watch_seen = defs[i].version;
			continue;
		}
		if (defs[i].version == t->watch_seen)
			continue;
		strata_version_rec *vs = NULL;
		size_t nv = 0;
		if (strata_mf_versions_list(snap, defs[i].id, t->watch_seen + 1, 256, a, &vs, &nv, &err) != 0)
			continue;
		for (size_t k = 0; k < nv; k++) {
			json_t *ev = json_object();
			json_object_set_new(ev, "event", json_string("commit"));
			json_object_set_new(ev, "table", json_string(defs[i].name));
			json_object_set_new(ev, "version", json_integer((json_int_t)vs[k].version));
			json_object_set_new(ev, "kind", json_string(strata_vkind_name(vs[k].kind)));
			json_object_set_new(ev, "ts_us", json_integer(vs[k].ts_us));
			json_object_set_new(ev, "files_added", json_integer(vs[k].nadded));
			json_object_set_new(ev, "files_removed", json_integer(vs[k].nremoved));
			json_object_set_new(ev, "note", json_string(vs[k].note));
			d_emit(d, ev);
			t->watch_seen = vs[k].version;
		}
		if (nv == 0)
			t->watch_seen = defs[i].version;
	}
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
}

/* ---- cron ---------------------------------------------------------------------------------------- */

/* Invariant 6.  Whether the manifest handle can be used now. */
static bool manifest_usable(stratad *d)
{
	/* no handle at all: degraded, and scan_begin() tries to open it */
	if (!d->wh || !strata_mf_is_broken(strata_wh_mf(d->wh)))
		return true;
	pthread_mutex_lock(&d->mu);
	if (d->jobs.nrunning > 0) {
		pthread_mutex_unlock(&d->mu);
		return false; /* they fail fast on the closed handle */
	}
	strata_err err;
	strata_err_clear(&err);
	strata_wh_close(d->wh); /* LMDB: never two handles on one file in a process */
	d->wh = NULL;
	int rc = strata_wh_open(d->cfg->d.warehouse, false, &d->wh, &err);
	pthread_mutex_unlock(&d->mu);
	if (rc) {
		/* the damage rule: degraded, not a crash loop; scan_begin()
		 * tries again every scan */
		LOG_ERROR("could not reopen the manifest of %s after an uncertain commit: %s",
			  d->wh_name, err.msg);
		d->wh = NULL;
		degraded_set(d, err.msg);
		return false;
	}
	LOG_WARN("reopened the manifest of %s after a commit whose outcome was uncertain; what that "
		 "commit may name stays for recovery",
		 d->wh_name);
	d->next_scan_us = strata_mono_us();
	return true;
}

static void cron_cb(evutil_socket_t fd, short what, void *arg)
{
	stratad *d = arg;
	int64_t mono = strata_mono_us();
	if (d->watchdog_usec && mono - d->last_watchdog_us >= d->watchdog_usec / 2) {
		stratad_notify("WATCHDOG=1");
		d->last_watchdog_us = mono;
	}
	if (d->state == D_STOPPING) {
		pthread_mutex_lock(&d->mu);
		size_t running = d->jobs.nrunning, notices = d->jobs.nnotices;
		pthread_mutex_unlock(&d->mu);
		if (running == 0 && notices == 0) {
			event_base_loopbreak(d->base);
		} else if (mono >= d->stop_deadline_us) {
			LOG_WARN("%zu jobs did not stop within shutdown_timeout_s (%lld s); exiting without "
				 "them (the next start recovers what they left)",
				 running, (long long)d->cfg->d.shutdown_timeout_s);
			d->is_abandoned = true;
			event_base_loopbreak(d->base);
		}
		return;
	}
	if (!manifest_usable(d))
		return;
	d_share_beat(d, false);
	if (!d->in_scan && d_scan_is_due(mono, d->next_scan_us))
		scan_begin(d);
	if (d->in_scan)
		scan_step(d);
	if (d->nwatchers && mono >= d->next_watch_poll_us) {
		watch_poll(d);
		d->next_watch_poll_us = mono + D_WATCH_POLL_US;
	}
}

/* ---- pause, reload, stop ---------------------------------------------------------------------------- */

void d_pause(stratad *d, dtable *t, bool is_paused)
{
	if (t) {
		t->is_paused = is_paused;
		t->is_dirty = true;
	} else {
		pthread_mutex_lock(&d->mu);
		d->jobs.is_paused = is_paused;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		for (size_t i = 0; i < d->ntables; i++)
			d->tables[i]->is_dirty = true;
	}
	d->next_scan_us = strata_mono_us();
	LOG_INFO("%s %s%s", is_paused ? "paused" : "resumed", t ? "table " : "all planning",
		 t ? t->name : "");
}

/* Copy the restart-only [daemon] values of from into to. */
static void keep_restart_values(stratad_config *to, const stratad_config *from)
{
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope != STRATAD_SCOPE_DAEMON || row->is_reloadable)
			continue;
		bool is_text = row->type == STRATAD_CFG_STRING || row->type == STRATAD_CFG_ADDR ||
			       row->type == STRATAD_CFG_GROUP;
		size_t size = is_text ? (size_t)row->max + 1 : 8; /* text fields are max + 1 bytes */
		memcpy((char *)&to->d + row->offset, (const char *)&from->d + row->offset, size);
	}
}

int d_reload(stratad *d, char *note, size_t n, strata_err *err)
{
	stratad_notify("RELOADING=1");
	strata_buf all = {0};
	stratad_config *nc = NULL;
	int rc = stratad_config_load(d->cfg->path, &nc, &all, err);
	if (rc == 0 && nc->nkeys_set == 0) {
		/* invariant 5a: a file emptied by a failed copy or a stray `>`
		 * would otherwise reset every policy to its default, silently */
		rc = strata_err_set(err, STRATA_EINVAL,
				    "%s: the file sets no key (it is empty or holds only comments); "
				    "reload refused, the running configuration stays. To go back to "
				    "the defaults, set at least one key (e.g. [daemon] warehouse)",
				    d->cfg->path);
		strata_buf_printf(&all, "%s\n", err->msg);
		stratad_config_free(nc);
		nc = NULL;
	}
	if (rc) { /* invariant 5 */
		d->m.reload_failures++;
		strata_buf_putc(&all, 0);
		LOG_ERROR("reload of %s failed; keeping the running configuration:\n%s", d->cfg->path,
			  (char *)all.data);
		strata_buf_free(&all);
		stratad_notify("READY=1");
		return rc;
	}
	strata_buf_free(&all);
	char diff[512];
	stratad_config_restart_diff(d->cfg, nc, diff, sizeof(diff));
	keep_restart_values(nc, d->cfg);
	stratad_config *old = d->cfg;
	d->cfg = nc;
	d->cfg_gen++;
	stratad_config_free(old);
	strata_log_set_level((strata_log_level)nc->d.log_level);
	stratad_tbucket_set_rate(d->tb, nc->d.io_max_mb_s, strata_mono_us());
	d_workers_resize(d, (int)nc->d.workers);
	d_admin_chmod(d);
	d->next_scan_us = strata_mono_us();
	d->m.reloads++;
	snprintf(note, n, "applied %s (%zu table section%s)%s%s", nc->path, nc->ntables,
		 nc->ntables == 1 ? "" : "s",
		 diff[0] ? "; changed keys that need a restart keep their running values: " : "", diff);
	LOG_INFO("reload: %s", note);
	stratad_notify("READY=1");
	return 0;
}

void d_begin_stop(stratad *d, const char *why)
{
	if (d->state == D_STOPPING)
		return;
	d->state = D_STOPPING;
	stratad_notify("STOPPING=1");
	d->stop_deadline_us = strata_mono_us() + d->cfg->d.shutdown_timeout_s * D_US;
	d_share_leave(d); /* the others take this daemon's share at once */
	pthread_mutex_lock(&d->mu);
	d->jobs.is_stopping = true;
	dj **q = d->jobs.queue;
	size_t nq = d->jobs.nqueue;
	d->jobs.queue = NULL;
	d->jobs.nqueue = d->jobs.capqueue = 0;
	for (size_t i = 0; i < d->jobs.nrunning; i++)
		__atomic_store_n(&d->jobs.running[i]->cancel, 1, __ATOMIC_RELAXED);
	size_t running = d->jobs.nrunning;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	LOG_INFO("stopping (%s): %zu running jobs stop at their next block, %zu queued jobs dropped; "
		 "waiting at most %lld s",
		 why, running, nq, (long long)d->cfg->d.shutdown_timeout_s);
	for (size_t i = 0; i < nq; i++)
		d_job_drop(d, q[i], q[i]->is_manual, "stratad is stopping");
	free(q);
	d->in_scan = false;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	stratad *d = arg;
	/* invariant 3: this runs on the loop thread, not in the signal handler */
	if (sig == SIGHUP) {
		char note[800];
		strata_err err;
		strata_err_clear(&err);
		LOG_INFO("SIGHUP: reloading %s", d->cfg->path);
		d_reload(d, note, sizeof(note), &err);
	} else {
		d_begin_stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
}

/* ---- open, run, close ------------------------------------------------------------------------------ */

/* libevent's own warnings go through the one log macro. */
static void libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		LOG_ERROR("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		LOG_WARN("libevent: %s", msg);
	else
		LOG_DEBUG("libevent: %s", msg);
}

int stratad_open(stratad_config *cfg, stratad **out, strata_err *err)
{
	*out = NULL;
	stratad *d = strata_calloc(1, sizeof(*d));
	d->cfg = cfg;
	d->notice_fd[0] = d->notice_fd[1] = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->uid = geteuid();
	d->started_us = strata_now_us();
	strata_owner_string("stratad", d->owner, sizeof(d->owner));
	strata_warehouse_display(cfg->d.warehouse, d->wh_name, sizeof(d->wh_name));
	strata_log_set_level((strata_log_level)cfg->d.log_level);
	stratad_config_s3_apply(cfg); /* before the first data file is touched */
	int rc = strata_wh_open(cfg->d.warehouse, false, &d->wh, err);
	/* the damage rule: a damaged manifest is a degraded daemon, not a crash loop */
	if (rc == STRATA_ECORRUPT || (rc == STRATA_ENOTFOUND && strstr(err->msg, "data.mdb"))) {
		d->wh = NULL;
		degraded_set(d, err->msg);
		strata_err_clear(err);
		rc = 0;
	} else if (rc) {
		strata_err_wrap(err, rc, "warehouse (%s: [daemon] warehouse)", cfg->path);
		goto fail;
	} else {
		d_check_run(d);
	}
	size_t recovered = 0;
	if (d->wh && !d->is_degraded && d->ndamaged == 0) /* no deletions while damaged */
		rc = strata_recover_intents(d->wh, NULL, &recovered, err);
	if (rc) {
		strata_err_wrap(err, rc, "recovering the intents of crashed jobs");
		goto fail;
	}
	d->m.intents_recovered = recovered;
	if (recovered)
		LOG_INFO("recovered %zu intents of jobs that did not finish (their outputs are removed)",
			 recovered);
	d->tb = stratad_tbucket_new(cfg->d.io_max_mb_s, strata_mono_us());
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);
	d->base = event_base_new();
	if (!d->base) {
		rc = strata_err_set(err, STRATA_EINVAL, "could not create the event loop");
		goto fail;
	}
	d->ev_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	d->ev_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->ev_int = evsignal_new(d->base, SIGINT, signal_cb, d);
	event_add(d->ev_hup, NULL);
	event_add(d->ev_term, NULL);
	event_add(d->ev_int, NULL);
	if (pipe2(d->notice_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
		rc = strata_err_set(err, -errno, "could not create a pipe: %s", strerror(errno));
		goto fail;
	}
	d->ev_notice = event_new(d->base, d->notice_fd[0], EV_READ | EV_PERSIST, d_notice_cb, d);
	event_add(d->ev_notice, NULL);
	rc = d_admin_listen(d, err);
	if (rc)
		goto fail;
	if (cfg->d.metrics_listen[0]) {
		rc = d_http_start(d, err);
		if (rc)
			goto fail;
	}
	d->ev_cron = event_new(d->base, -1, EV_PERSIST, cron_cb, d);
	struct timeval tv = {0, D_CRON_MS * 1000};
	event_add(d->ev_cron, &tv);
	d->watchdog_usec = stratad_watchdog_usec();
	d->last_watchdog_us = strata_mono_us();
	d->next_scan_us = strata_mono_us();
	d_workers_resize(d, (int)cfg->d.workers);
	*out = d;
	return 0;
fail:
	stratad_close(d);
	return rc;
}

int stratad_run(stratad *d)
{
	LOG_INFO("stratad ready: warehouse %s, socket %s, %lld workers, scan every %lld s%s%s",
		 d->wh_name, d->socket_path, (long long)d->cfg->d.workers,
		 (long long)d->cfg->d.scan_interval_s, d->http_guard.l ? ", metrics on " : "",
		 d->http_guard.l ? d->cfg->d.metrics_listen : "");
	stratad_notify("READY=1\nSTATUS=ready; first scan running");
	event_base_dispatch(d->base);
	if (d->is_abandoned) {
		d_admin_close(d);
		LOG_INFO("stratad exits now, leaving its running jobs behind");
		_exit(0);
	}
	LOG_INFO("stratad stopped");
	return 0;
}

void stratad_close(stratad *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->jobs.is_stopping = true;
	for (size_t i = 0; i < d->jobs.nrunning; i++)
		__atomic_store_n(&d->jobs.running[i]->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	d_workers_join(d);
	for (size_t i = 0; i < d->jobs.nqueue; i++)
		free(d->jobs.queue[i]);
	for (size_t i = 0; i < d->jobs.nnotices; i++)
		if (d->jobs.notices[i].is_done)
			free(d->jobs.notices[i].j);
	free(d->jobs.queue);
	free(d->jobs.running);
	free(d->jobs.notices);
	d_http_stop(d);
	d_admin_close(d);
	d_status_free(d);
	if (d->ev_cron)
		event_free(d->ev_cron);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_notice)
		event_free(d->ev_notice);
	if (d->base)
		event_base_free(d->base);
	if (d->notice_fd[0] >= 0)
		close(d->notice_fd[0]);
	if (d->notice_fd[1] >= 0)
		close(d->notice_fd[1]);
	for (size_t i = 0; i < d->ntables; i++)
		table_free(d->tables[i]);
	free(d->tables);
	scan_free_list(d);
	d_share_free(d);
	strata_wh_close(d->wh);
	free(d->damaged);
	stratad_tbucket_free(d->tb);
	stratad_config_free(d->cfg);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
