/*
 * daemon/stratad.c — stratad's event loop: it owns time, plans, queues and
 * hears back from the workers.
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
 * highest score first.
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

static const char *pname(const char *p)
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

static void damage_set(stratad *d, const char *table, const char *finding, int64_t since_us)
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
	damage_set(c->d, table, msg, since);
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

static dtable *table_get_or_add(stratad *d, const char *name, uint32_t id)
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

static int bucket_cmp(uint32_t pa, uint32_t ba, uint32_t pb, uint32_t bb)
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
		if (bucket_cmp(t->b[mid].part_id, t->b[mid].bucket, part_id, bucket) < 0)
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
static dbucket *bucket_get_or_add(dtable *t, uint32_t part_id, uint32_t bucket,
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

/* ---- jobs ----------------------------------------------------------------------------------- */

void d_job_set_state(dj *j, dj_state to)
{
	/* invariant 2: QUEUED -> RUNNING -> DONE, or QUEUED -> DONE */
	STRATA_ASSERT((j->state == DJ_QUEUED && (to == DJ_RUNNING || to == DJ_DONE)) ||
		      (j->state == DJ_RUNNING && to == DJ_DONE),
		      "job %llu of \"%s\": illegal state change %d -> %d (0 queued, 1 running, 2 done)",
		      (unsigned long long)j->id, j->table, (int)j->state, (int)to);
	j->state = to;
}

dj *d_job_new(stratad *d, dj_kind kind, const dtable *t, const strata_policy *pol)
{
	dj *j = strata_calloc(1, sizeof(*j));
	j->id = ++d->next_job_id;
	j->kind = kind;
	j->state = DJ_QUEUED;
	j->level = -1;
	j->d = d;
	snprintf(j->table, sizeof(j->table), "%s", t->name);
	j->table_id = t->id;
	j->part_id = j->bucket = D_TABLE_JOB;
	j->pol = *pol;
	j->claim_ttl_s = d->cfg->d.claim_ttl_s;
	j->queued_us = strata_now_us();
	return j;
}

static json_t *job_where_json(json_t *o, const char *table, const char *part, uint32_t part_id,
			      uint32_t bucket)
{
	json_object_set_new(o, "table", json_string(table));
	if (part_id != D_TABLE_JOB) {
		json_object_set_new(o, "partition", json_string(pname(part)));
		json_object_set_new(o, "bucket", json_integer(bucket));
	}
	return o;
}

json_t *d_job_json(const dj *j, int64_t now_us)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer((json_int_t)j->id));
	json_object_set_new(o, "kind", json_string(d_kind_name(j->kind)));
	job_where_json(o, j->table, j->part, j->part_id, j->bucket);
	json_object_set_new(o, "manual", json_boolean(j->is_manual));
	if (j->kind == DJ_MERGE && j->level >= 0)
		json_object_set_new(o, "level", json_integer(j->level));
	json_object_set_new(o, "score", json_real(j->score));
	json_object_set_new(o, "reason", json_string(j->reason));
	json_object_set_new(o, "queued_s", json_real((double)(now_us - j->queued_us) / 1e6));
	if (j->state == DJ_RUNNING) {
		json_object_set_new(o, "running_s", json_real((double)(now_us - j->started_us) / 1e6));
		json_object_set_new(o, "io_bytes", json_integer((json_int_t)atomic_load(&j->io_bytes)));
		json_object_set_new(o, "cancelling",
				    json_boolean(__atomic_load_n(&j->cancel, __ATOMIC_RELAXED) != 0));
	}
	return o;
}

json_t *d_summary_json(const dj_summary *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer((json_int_t)s->id));
	json_object_set_new(o, "kind", json_string(d_kind_name(s->kind)));
	job_where_json(o, s->table, s->part, s->bucket == D_TABLE_JOB ? D_TABLE_JOB : 0, s->bucket);
	json_object_set_new(o, "result", json_string(d_result_name(s->result)));
	json_object_set_new(o, "manual", json_boolean(s->is_manual));
	json_object_set_new(o, "started_us", json_integer(s->started_us));
	json_object_set_new(o, "finished_us", json_integer(s->finished_us));
	json_object_set_new(o, "seconds", json_real(s->seconds));
	json_object_set_new(o, "files_in", json_integer((json_int_t)s->files_in));
	json_object_set_new(o, "files_out", json_integer((json_int_t)s->files_out));
	json_object_set_new(o, "bytes_in", json_integer((json_int_t)s->bytes_in));
	json_object_set_new(o, "bytes_out", json_integer((json_int_t)s->bytes_out));
	json_object_set_new(o, "rows_in", json_integer((json_int_t)s->rows_in));
	json_object_set_new(o, "rows_out", json_integer((json_int_t)s->rows_out));
	if (s->version)
		json_object_set_new(o, "version", json_integer((json_int_t)s->version));
	json_object_set_new(o, "reason", json_string(s->reason));
	if (s->error[0])
		json_object_set_new(o, "error", json_string(s->error));
	return o;
}

static void emit_job(stratad *d, const char *state, json_t *job)
{
	json_t *ev = json_object();
	json_object_set_new(ev, "event", json_string("job"));
	json_object_set_new(ev, "state", json_string(state));
	json_object_set_new(ev, "ts_us", json_integer(strata_now_us()));
	json_object_update(ev, job);
	json_decref(job);
	d_emit(d, ev);
}

void d_job_enqueue(stratad *d, dtable *t, dbucket *b, dj *j)
{
	/* describe the job while it is still this thread's alone: once queued,
	 * a worker may take it and write its state (ThreadSanitizer saw it) */
	json_t *ev = d_job_json(j, strata_now_us());
	if (j->kind == DJ_CLEAN)
		t->clean_job = j;
	else if (j->kind == DJ_PURGE)
		t->purge_job = j;
	else if (b)
		b->job = j; /* invariant 1 */
	char where[200] = "";
	if (j->part_id != D_TABLE_JOB)
		snprintf(where, sizeof(where), " p=%s b=%u", pname(j->part), j->bucket);
	LOG_INFO("queued job %" PRIu64 ": %s of %s%s (score %.2f%s): %s", j->id, d_kind_name(j->kind),
		 j->table, where, j->score, j->is_manual ? ", asked for" : "", j->reason);
	pthread_mutex_lock(&d->mu);
	if (d->nqueue == d->capqueue) {
		d->capqueue = d->capqueue ? 2 * d->capqueue : 64;
		d->queue = strata_realloc(d->queue, d->capqueue * sizeof(dj *));
	}
	d->queue[d->nqueue++] = j;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	emit_job(d, "queued", ev);
}

/* Remove a queued job from the queue (caller holds mu); false if it is not
 * queued any more (a worker took it). */
static bool queue_remove_locked(stratad *d, dj *j)
{
	if (j->state != DJ_QUEUED)
		return false;
	for (size_t i = 0; i < d->nqueue; i++) {
		if (d->queue[i] == j) {
			memmove(&d->queue[i], &d->queue[i + 1], (d->nqueue - i - 1) * sizeof(dj *));
			d->nqueue--;
			return true;
		}
	}
	return false;
}

static void detach_job(stratad *d, dj *j)
{
	dtable *t = d_table_find(d, j->table);
	if (!t)
		return;
	if (t->clean_job == j)
		t->clean_job = NULL;
	if (t->purge_job == j)
		t->purge_job = NULL;
	if (j->part_id != D_TABLE_JOB) {
		dbucket *b = d_bucket_find(t, j->part_id, j->bucket);
		if (b && b->job == j)
			b->job = NULL;
	}
}

static void summary_push(stratad *d, const dj *j)
{
	dj_summary *s = &d->fin[d->fin_next];
	memset(s, 0, sizeof(*s));
	s->id = j->id;
	s->kind = j->kind;
	s->result = j->result;
	s->is_manual = j->is_manual;
	snprintf(s->table, sizeof(s->table), "%s", j->table);
	snprintf(s->part, sizeof(s->part), "%s", j->part);
	s->bucket = j->part_id == D_TABLE_JOB ? D_TABLE_JOB : j->bucket;
	s->queued_us = j->queued_us;
	s->started_us = j->started_us;
	s->finished_us = j->finished_us;
	s->seconds = j->seconds;
	if (j->kind == DJ_CLEAN || j->kind == DJ_PURGE) {
		s->files_in = j->cr.files_deleted + j->cr.files_unlinked;
		s->bytes_in = j->cr.bytes_deleted;
		s->bytes_out = j->cr.bytes_unlinked;
		s->version = j->cr.version;
		if (j->kind == DJ_PURGE)
			s->bytes_in += j->jr.bytes_in;
	} else {
		s->files_in = j->jr.files_in;
		s->files_out = j->jr.files_out;
		s->bytes_in = j->jr.bytes_in;
		s->bytes_out = j->jr.bytes_out;
		s->rows_in = j->jr.rows_in;
		s->rows_out = j->jr.rows_out;
		s->version = j->jr.version;
	}
	snprintf(s->reason, sizeof(s->reason), "%s", j->reason);
	snprintf(s->error, sizeof(s->error), "%s", j->error);
	d->fin_next = (d->fin_next + 1) % D_FINISHED_MAX;
	if (d->nfin < D_FINISHED_MAX)
		d->nfin++;
}

/* A job that never ran leaves: recorded as cancelled if someone asked for it
 * (or cancelled it), silently otherwise (it was no longer due). */
static void job_drop(stratad *d, dj *j, bool is_recorded, const char *why)
{
	detach_job(d, j);
	d_job_set_state(j, DJ_DONE);
	if (is_recorded) {
		j->result = DJR_CANCELED;
		j->finished_us = strata_now_us();
		snprintf(j->error, sizeof(j->error), "%s", why);
		summary_push(d, j);
		d->m.jobs[j->kind][DJR_CANCELED]++;
		LOG_INFO("job %" PRIu64 " (%s of %s) dropped from the queue: %s", j->id,
			 d_kind_name(j->kind), j->table, why);
	} else {
		LOG_DEBUG("job %" PRIu64 " (%s of %s) left the queue: %s", j->id, d_kind_name(j->kind),
			  j->table, why);
	}
	emit_job(d, "dropped", d_job_json(j, strata_now_us()));
	free(j);
}

bool d_job_cancel(stratad *d, uint64_t id, char *msg, size_t n)
{
	dj *queued = NULL, *running = NULL;
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->nqueue && !queued; i++)
		if (d->queue[i]->id == id)
			queued = d->queue[i];
	if (queued)
		queue_remove_locked(d, queued);
	for (size_t i = 0; i < d->nrunning && !running; i++)
		if (d->running[i]->id == id)
			running = d->running[i];
	if (running)
		__atomic_store_n(&running->cancel, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->mu);
	if (queued) {
		snprintf(msg, n, "job %" PRIu64 " (%s of %s) removed from the queue", id,
			 d_kind_name(queued->kind), queued->table);
		job_drop(d, queued, true, "cancelled by an admin");
		return true;
	}
	if (running) {
		snprintf(msg, n, "job %" PRIu64 " (%s of %s) stops at its next block%s", id,
			 d_kind_name(running->kind), running->table,
			 running->kind == DJ_CLEAN ? " (a clean finishes its current step)" : "");
		return true;
	}
	snprintf(msg, n, "no queued or running job %" PRIu64, id);
	return false;
}

/* ---- completions ------------------------------------------------------------------------------ */

/* The admin command that retries j at once, and its options. */
static const char *retry_cmd(const dj *j)
{
	switch (j->kind) {
	case DJ_SORT:
		return "sort";
	case DJ_MERGE:
		return "merge";
	case DJ_PARTIAL:
	case DJ_MAJOR:
		return "compact";
	case DJ_CLEAN:
		return "clean";
	default:
		return "purge";
	}
}

static const char *retry_args(const dj *j, char *buf, size_t n)
{
	if (j->part_id == D_TABLE_JOB)
		snprintf(buf, n, "%s", "");
	else
		snprintf(buf, n, "%s --bucket %u", j->kind == DJ_MAJOR ? " --major" : "", j->bucket);
	return buf;
}

static void job_finished(stratad *d, dj *j)
{
	int64_t now = strata_now_us();
	dtable *t = d_table_find(d, j->table);
	bool is_failure = j->result == DJR_CONFLICT || j->result == DJR_BUSY || j->result == DJR_FAILED;
	bool is_corrupt = j->result == DJR_FAILED && j->rc == STRATA_ECORRUPT;
	uint32_t failures = 0;
	int64_t wait_s = 0;
	if (t && t->id == j->table_id) {
		if (j->kind == DJ_CLEAN || j->kind == DJ_PURGE) {
			if (j->kind == DJ_CLEAN && j->result == DJR_OK) {
				t->last_clean_us = j->started_us;
				if (j->orphan_scan)
					t->last_orphan_us = j->started_us;
				t->trash_bytes = j->cr.trash_bytes;
				t->trash_files = j->cr.trash_files;
				/* invariant 4: pinned files make no progress */
				if (j->expect_eligible > 0 && j->cr.version == 0)
					is_failure = true;
			}
			if (is_failure) {
				t->clean_failures++;
				t->clean_failed_us = now;
			} else if (j->result == DJR_OK) {
				t->clean_failures = 0;
			}
			if (is_corrupt && t->clean_failures < D_CORRUPT_BACKOFF_FAILURES)
				t->clean_failures = D_CORRUPT_BACKOFF_FAILURES; /* invariant 4a */
			if (is_corrupt) /* the damage rule: it refused; so does every job now */
				damage_set(d, j->table, j->error, now);
			failures = t->clean_failures;
			wait_s = strata_pol_backoff_us(failures, &j->pol) / D_US;
		} else {
			dbucket *b = d_bucket_find(t, j->part_id, j->bucket);
			if (b && j->result == DJR_OK && j->kind <= DJ_PARTIAL)
				b->due_since_us[j->kind] = 0; /* it ran: its wait starts over */
			if (b && j->result == DJR_OK && j->kind == DJ_PARTIAL) {
				/* invariant 4b */
				if (j->jr.rows_out < j->jr.rows_in) {
					b->compact_bar_rows = 0;
				} else if (j->planned_garbage_rows > b->compact_bar_rows) {
					b->compact_bar_rows = j->planned_garbage_rows;
					LOG_INFO("job %" PRIu64 ": partial compaction of %s p=%s b=%u dropped "
						 "nothing (%" PRIu64 " records in, %" PRIu64 " out; planned on ~%"
						 PRIu64 " superseded): its next one waits until the estimate "
						 "passes %" PRIu64,
						 j->id, j->table, pname(j->part), j->bucket, j->jr.rows_in,
						 j->jr.rows_out, j->planned_garbage_rows, b->compact_bar_rows);
				}
			}
			if (b) {
				if (is_failure) { /* invariant 4 */
					b->failures++;
					b->failed_us = now;
				} else if (j->result == DJR_OK || j->result == DJR_NOOP) {
					b->failures = 0;
					b->is_corrupt = false;
				}
				if (is_corrupt) { /* invariant 4a */
					if (!b->is_corrupt)
						b->corrupt_since_us = now;
					b->is_corrupt = true;
					snprintf(b->corrupt_error, sizeof(b->corrupt_error), "%s", j->error);
				}
				failures = b->failures;
				wait_s = strata_pol_backoff_us(d_bucket_backoff_failures(b), &j->pol) / D_US;
			}
		}
		t->is_dirty = true;
	}
	detach_job(d, j);
	d_metrics_job_done(d, j);
	summary_push(d, j);
	char where[200], retry[64];
	if (j->part_id == D_TABLE_JOB)
		snprintf(where, sizeof(where), "%s", j->table);
	else
		snprintf(where, sizeof(where), "%s p=%s b=%u", j->table, pname(j->part), j->bucket);
	if (j->result == DJR_OK && (j->kind == DJ_CLEAN || j->kind == DJ_PURGE))
		LOG_INFO("job %" PRIu64 ": %s of %s done in %.3f s: %zu files deleted (%" PRIu64
			 " bytes), %zu unlinked from trash, kept %zu in grace, %zu leased, %zu tagged, "
			 "%zu in retention; %zu orphans%s",
			 j->id, d_kind_name(j->kind), where, j->seconds, j->cr.files_deleted,
			 j->cr.bytes_deleted, j->cr.files_unlinked, j->cr.kept_grace, j->cr.kept_lease,
			 j->cr.kept_tag, j->cr.kept_retention, j->cr.orphans,
			 is_failure ? "; nothing it expected could go: backing off" : "");
	else if (j->result == DJR_OK)
		LOG_INFO("job %" PRIu64 ": %s of %s done in %.3f s: %zu files, %" PRIu64 " bytes -> %zu "
			 "files, %" PRIu64 " bytes (version %" PRIu64 ")",
			 j->id, d_kind_name(j->kind), where, j->seconds, j->jr.files_in, j->jr.bytes_in,
			 j->jr.files_out, j->jr.bytes_out, j->jr.version);
	else if (j->result == DJR_NOOP || j->result == DJR_CANCELED)
		LOG_INFO("job %" PRIu64 ": %s of %s %s: %s", j->id, d_kind_name(j->kind), where,
			 j->result == DJR_NOOP ? "had nothing to do" : "cancelled",
			 j->error[0] ? j->error : "no inputs left");
	else if (is_corrupt)
		LOG_ERROR("job %" PRIu64 ": %s of %s met a damaged data file: %s; its jobs now wait "
			  "policy.backoff_max_s (%" PRId64 " s) between attempts (metric "
			  "strata_bucket_corrupt). Restore the file from a backup, then retry at once "
			  "with `strata admin %s %s%s` (docs/OPERATIONS.md, \"A damaged data file\")",
			  j->id, d_kind_name(j->kind), where, j->error, wait_s, retry_cmd(j), j->table,
			  retry_args(j, retry, sizeof(retry)));
	else
		LOG_WARN("job %" PRIu64 ": %s of %s %s after %.3f s: %s (%u in a row; next try in %" PRId64
			 " s or later)",
			 j->id, d_kind_name(j->kind), where, d_result_name(j->result), j->seconds, j->error,
			 failures, wait_s);
	json_t *ev = d_summary_json(&d->fin[(d->fin_next + D_FINISHED_MAX - 1) % D_FINISHED_MAX]);
	emit_job(d, "finished", ev);
	free(j);
	/* a finished job changes its table: look again soon (rate-limited) */
	int64_t soon = d->last_scan_end_us + D_SCAN_AFTER_JOB_MIN_US;
	int64_t mono = strata_mono_us();
	if (soon < mono)
		soon = mono;
	if (soon < d->next_scan_us)
		d->next_scan_us = soon;
}

static void notice_cb(evutil_socket_t fd, short what, void *arg)
{
	stratad *d = arg;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&d->mu);
	d_notice *ns = d->notices;
	size_t n = d->nnotices;
	d->notices = NULL;
	d->nnotices = d->capnotices = 0;
	/* a started job's worker may be finishing it now: describe it under mu */
	json_t **started = strata_calloc(n ? n : 1, sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		if (!ns[i].is_done)
			started[i] = d_job_json(ns[i].j, strata_now_us());
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < n; i++) {
		if (ns[i].is_done)
			job_finished(d, ns[i].j);
		else
			emit_job(d, "started", started[i]);
	}
	free(started);
	free(ns);
}

/* ---- planning ----------------------------------------------------------------------------------- */

typedef struct boundary {
	uint64_t b;
	int64_t ts_us;
	int64_t next_us;
} boundary;

/* The retention boundary for `hours`, never above the oldest tag (if given). */
static boundary boundary_at(strata_mf_snap *snap, const strata_table_def *td, int64_t hours,
			    int64_t now, uint64_t oldest_tag, strata_arena *a)
{
	boundary r = {0};
	strata_err tmp;
	bool is_capped = false;
	if (hours <= 0)
		r.b = td->version;
	else if (strata_mf_version_at_time(snap, td->id, now - hours * 3600 * D_US, &r.b, &tmp) != 0)
		r.b = 0;
	if (oldest_tag && oldest_tag < r.b) {
		r.b = oldest_tag;
		is_capped = true;
	}
	strata_version_rec vr;
	if (r.b && strata_mf_version_get(snap, td->id, r.b, a, &vr, &tmp) == 0)
		r.ts_us = vr.ts_us;
	if (!is_capped && hours > 0 && r.b < td->version) {
		if (strata_mf_version_get(snap, td->id, r.b + 1, a, &vr, &tmp) == 0)
			r.next_us = vr.ts_us + hours * 3600 * D_US;
		else
			r.next_us = now + 60 * D_US;
	}
	return r;
}

typedef struct floor_ts {
	uint64_t floor;
	int64_t ts;
} floor_ts;

/* Commit time of the oldest version above floor still in the log. */
static int64_t history_since(strata_mf_snap *snap, const strata_table_def *td, uint64_t floor,
			     floor_ts *cache, size_t *ncache, strata_arena *a)
{
	for (size_t i = 0; i < *ncache; i++)
		if (cache[i].floor == floor)
			return cache[i].ts;
	int64_t ts = 0;
	strata_version_rec vr;
	strata_err tmp;
	if (floor + 1 <= td->version) {
		if (strata_mf_version_get(snap, td->id, floor + 1, a, &vr, &tmp) == 0)
			ts = vr.ts_us;
		else if (strata_mf_version_get(snap, td->id, td->log_start, a, &vr, &tmp) == 0)
			ts = vr.ts_us; /* expired: older than this, so the age is a lower bound */
	}
	if (*ncache < 16)
		cache[(*ncache)++] = (floor_ts){floor, ts};
	return ts;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *a = *(const strata_file_entry *const *)pa;
	const strata_file_entry *b = *(const strata_file_entry *const *)pb;
	int c = bucket_cmp(a->part_id, a->bucket, b->part_id, b->bucket);
	if (c)
		return c;
	return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

static const char *part_name_by_id(const strata_partition *ps, size_t np, uint32_t id)
{
	for (size_t i = 0; i < np; i++)
		if (ps[i].id == id)
			return ps[i].name;
	return NULL;
}

static void bucket_decide(stratad *d, dtable *t, dbucket *b, const strata_pol_plan *plan,
			  const strata_policy *pol)
{
	bool may_queue = d->state == D_RUNNING && !d->is_paused && !t->is_paused && !t->purge_job;
	if (b->job) {
		dj *j = b->job;
		bool is_dropped = false;
		pthread_mutex_lock(&d->mu);
		if (j->state == DJ_QUEUED && !j->is_manual) {
			if (plan->best < 0 || !may_queue) {
				is_dropped = queue_remove_locked(d, j);
			} else {
				const strata_pol_check *c = &plan->checks[plan->best];
				j->kind = c->kind == STRATA_POL_SORT ? DJ_SORT :
					  c->kind == STRATA_POL_MERGE ? DJ_MERGE :
									DJ_PARTIAL;
				j->level = c->kind == STRATA_POL_MERGE ? c->level : -1;
				j->score = c->score;
				j->planned_garbage_rows = plan->st.garbage_rows;
				j->pol = *pol;
				snprintf(j->reason, sizeof(j->reason), "%s", c->why);
			}
		}
		pthread_mutex_unlock(&d->mu);
		if (is_dropped)
			job_drop(d, j, false, plan->best < 0 ? "no longer due" : "planning paused");
		return;
	}
	if (plan->best < 0 || !may_queue)
		return;
	const strata_pol_check *c = &plan->checks[plan->best];
	dj_kind kind = c->kind == STRATA_POL_SORT ? DJ_SORT : c->kind == STRATA_POL_MERGE ? DJ_MERGE :
											DJ_PARTIAL;
	dj *j = d_job_new(d, kind, t, pol);
	snprintf(j->part, sizeof(j->part), "%s", b->part_name);
	j->part_id = b->part_id;
	j->bucket = b->bucket;
	j->level = kind == DJ_MERGE ? c->level : -1;
	j->score = c->score;
	j->planned_garbage_rows = plan->st.garbage_rows;
	snprintf(j->reason, sizeof(j->reason), "%s", c->why);
	d_job_enqueue(d, t, b, j);
}

static void clean_decide(stratad *d, dtable *t, const strata_pol_clean *cp, const strata_policy *pol)
{
	bool may_queue = d->state == D_RUNNING && !d->is_paused && !t->is_paused && !t->purge_job;
	if (t->clean_job || !cp->check.is_due || cp->is_backing_off || !may_queue)
		return;
	dj *j = d_job_new(d, DJ_CLEAN, t, pol);
	j->score = cp->check.score;
	j->orphan_scan = cp->is_orphan_scan;
	j->expect_eligible = cp->eligible;
	snprintf(j->reason, sizeof(j->reason), "%s", cp->check.why);
	d_job_enqueue(d, t, NULL, j);
}

static json_t *checks_json(const strata_pol_check *c, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "kind", json_string(strata_pol_kind_name(c[i].kind)));
		json_object_set_new(o, "due", json_boolean(c[i].is_due));
		json_object_set_new(o, "score", json_real(c[i].score));
		if (c[i].kind == STRATA_POL_MERGE && c[i].is_due)
			json_object_set_new(o, "level", json_integer(c[i].level));
		json_object_set_new(o, "why", json_string(c[i].why));
		json_array_append_new(a, o);
	}
	return a;
}

int d_plan_table(stratad *d, const char *name, bool enqueue, json_t *report, bool all,
		 strata_err *err)
{
	if (d_degraded_refuse(d, name, err)) /* the damage rule */
		return err->code;
	int64_t now = strata_now_us();
	strata_mf *mf = strata_wh_mf(d->wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def td;
	strata_partition *ps = NULL;
	strata_file_entry *files = NULL;
	strata_tag *tags = NULL;
	strata_lease *leases = NULL;
	size_t np = 0, nfiles = 0, ntags = 0, nleases = 0;
	const strata_file_entry **ord = NULL;
	strata_pol_file *pf = NULL;
	strata_pol_gone *gone = NULL;
	int rc = strata_mf_snap_open(mf, &snap, err);
	if (rc == 0)
		rc = strata_mf_table_get(snap, name, &td, err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, td.id, a, &ps, &np, err);
	if (rc == 0)
		rc = strata_mf_table_files(snap, td.id, a, &files, &nfiles, err);
	if (rc == 0)
		rc = strata_mf_tags_list(snap, td.id, a, &tags, &ntags, err);
	if (rc == 0)
		rc = strata_mf_leases_list(mf, td.id, a, &leases, &nleases, err);
	if (rc)
		goto out;
	dtable *t = table_get_or_add(d, name, td.id);
	t->version = td.version;
	t->retain_hours = td.retain_hours;
	strata_policy pol;
	stratad_config_policy(d->cfg, name, td.retain_hours, &pol, NULL);
	int64_t retain_s = pol.retain_hours * 3600;
	/* pins: tags and leases */
	uint64_t oldest_tag = 0;
	t->pin_version = 0;
	t->pin_holder[0] = '\0';
	for (size_t i = 0; i < ntags; i++) {
		if (!oldest_tag || tags[i].version < oldest_tag)
			oldest_tag = tags[i].version;
		if (!t->pin_version || tags[i].version < t->pin_version) {
			t->pin_version = tags[i].version;
			snprintf(t->pin_holder, sizeof(t->pin_holder), "tag %s", tags[i].name);
		}
	}
	for (size_t i = 0; i < nleases; i++)
		if (!t->pin_version || leases[i].version < t->pin_version) {
			t->pin_version = leases[i].version;
			snprintf(t->pin_holder, sizeof(t->pin_holder), "lease %" PRIu64 " of pid %d",
				 leases[i].id, (int)leases[i].pid);
		}
	t->pin_ts_us = 0;
	if (t->pin_version) {
		strata_version_rec vr;
		strata_err tmp;
		if (strata_mf_version_get(snap, td.id, t->pin_version, a, &vr, &tmp) == 0)
			t->pin_ts_us = vr.ts_us;
	}
	boundary eff = boundary_at(snap, &td, pol.retain_hours, now, oldest_tag, a);
	/* clean's rule uses the table's own property, without the tag cap */
	boundary prop = boundary_at(snap, &td, td.retain_hours, now, 0, a);
	t->boundary = eff.b;
	/* group the entries by bucket */
	ord = strata_malloc((nfiles + 1) * sizeof(*ord));
	for (size_t i = 0; i < nfiles; i++)
		ord[i] = &files[i];
	qsort(ord, nfiles, sizeof(*ord), entry_cmp);
	pf = strata_malloc((nfiles + 1) * sizeof(*pf));
	gone = strata_malloc((nfiles + 1) * sizeof(*gone));
	size_t ngone = 0;
	floor_ts cache[16];
	size_t ncache = 0;
	memset(t->files_per_level, 0, sizeof(t->files_per_level));
	memset(t->bytes_per_level, 0, sizeof(t->bytes_per_level));
	t->files = 0;
	t->bytes = t->history_bytes = 0;
	t->l0_oldest_us = 0;
	t->due = t->backing_off = 0;
	t->bp_max_l0 = td.max_l0_files;
	t->bp_slow_l0 = td.slow_l0_files;
	t->bp_waiting = t->bp_slowed = 0;
	for (size_t k = 0; k < t->nb; k++) {
		t->b[k].files = t->b[k].l0_files = 0;
		t->b[k].has_merge_input = false;
	}
	int64_t next = INT64_MAX;
	json_t *jbuckets = report ? json_array() : NULL;
	for (size_t i = 0; i < nfiles;) {
		uint32_t part_id = ord[i]->part_id, bucket = ord[i]->bucket;
		size_t npf = 0;
		for (; i < nfiles && ord[i]->part_id == part_id && ord[i]->bucket == bucket; i++) {
			const strata_file_entry *f = ord[i];
			if (f->removed_version == 0) {
				pf[npf++] = (strata_pol_file){
					.level = f->level,
					.bytes = f->bytes,
					.rows = f->rows,
					.tombstones = f->tombstones,
					.seq_min = f->seq_min,
					.seq_max = f->seq_max,
					.added_us = f->added_us,
					.sketch = f->sketch,
					.is_compact = f->is_compact,
				};
			} else {
				gone[ngone++] = (strata_pol_gone){
					.bytes = f->bytes,
					.removed_version = f->removed_version,
					.removed_us = f->removed_us,
					.removed_kept_history = f->removed_kept_history,
					.is_deleted = f->is_deleted,
					.deleted_us = f->deleted_us,
				};
			}
		}
		if (npf == 0)
			continue;
		const char *pn = part_name_by_id(ps, np, part_id);
		if (!pn)
			continue; /* a partition newer than our list: next scan */
		strata_bucket_state bs;
		strata_err tmp;
		if (strata_mf_bucket_state_get(snap, td.id, part_id, bucket, &bs, &tmp) != 0)
			memset(&bs, 0, sizeof(bs));
		dbucket *b = bucket_get_or_add(t, part_id, bucket, pn);
		strata_pol_bucket in = {
			.files = pf,
			.nfiles = npf,
			.floor = bs.floor,
			.boundary = eff.b,
			.boundary_ts_us = eff.ts_us,
			.next_boundary_us = eff.next_us,
			.history_since_us = eff.b > bs.floor ?
						    history_since(snap, &td, bs.floor, cache, &ncache, a) :
						    0,
			.retain_s = retain_s,
			.failures = d_bucket_backoff_failures(b),
			.failed_us = b->failed_us,
			.compact_bar_rows = b->compact_bar_rows,
		};
		memcpy(in.due_since_us, b->due_since_us, sizeof(in.due_since_us));
		strata_pol_plan plan;
		strata_pol_plan_bucket(&in, &pol, now, &plan);
		if (enqueue) /* aging: how long each kind has waited (policies.c) */
			for (int k = 0; k < 3; k++)
				b->due_since_us[k] = !plan.checks[k].is_due ? 0 :
						     b->due_since_us[k] ? b->due_since_us[k] :
									  now;
		b->best = plan.best >= 0 ? (int)plan.checks[plan.best].kind : -1;
		b->is_backing_off = plan.is_backing_off;
		b->files = (uint32_t)plan.st.files;
		b->l0_files = (uint32_t)plan.st.files_per_level[0];
		/* writer back-pressure: commits to this bucket wait or slow */
		if (td.max_l0_files && b->l0_files >= td.max_l0_files)
			t->bp_waiting++;
		else if (td.slow_l0_files && b->l0_files >= td.slow_l0_files)
			t->bp_slowed++;
		for (int l = 1; l < STRATA_POL_LEVELS; l++)
			b->has_merge_input |= plan.st.files_per_level[l] >= 2;
		for (int l = 0; l < STRATA_POL_LEVELS; l++) {
			t->files_per_level[l] += plan.st.files_per_level[l];
			t->bytes_per_level[l] += plan.st.bytes_per_level[l];
		}
		t->files += plan.st.files;
		t->bytes += plan.st.bytes;
		t->history_bytes += plan.st.history_bytes;
		if (plan.st.l0_oldest_us && (!t->l0_oldest_us || plan.st.l0_oldest_us < t->l0_oldest_us))
			t->l0_oldest_us = plan.st.l0_oldest_us;
		t->due += plan.best >= 0;
		t->backing_off += plan.is_backing_off;
		if (plan.next_due_us < next)
			next = plan.next_due_us;
		LOG_DEBUG("plan %s p=%s b=%u: %s%s; sort: %s; merge: %s; compact: %s", name, pname(pn),
			   bucket,
			   plan.best >= 0 ? strata_pol_kind_name(plan.checks[plan.best].kind) : "nothing due",
			   plan.is_backing_off ? " (backing off)" : "", plan.checks[0].why,
			   plan.checks[1].why, plan.checks[2].why);
		if (enqueue)
			bucket_decide(d, t, b, &plan, &pol);
		if (jbuckets && (all || plan.best >= 0 || plan.is_backing_off)) {
			json_t *o = json_object();
			json_object_set_new(o, "partition", json_string(pname(pn)));
			json_object_set_new(o, "bucket", json_integer(bucket));
			json_object_set_new(o, "files", json_integer((json_int_t)plan.st.files));
			json_object_set_new(o, "bytes", json_integer((json_int_t)plan.st.bytes));
			json_object_set_new(o, "floor", json_integer((json_int_t)bs.floor));
			json_object_set_new(o, "best", plan.best >= 0 ?
					   json_string(strata_pol_kind_name(plan.checks[plan.best].kind)) :
					   json_null());
			if (plan.is_backing_off)
				json_object_set_new(o, "backing_off_s",
						    json_real((double)(plan.backoff_until_us - now) / 1e6));
			if (b->is_corrupt)
				json_object_set_new(o, "corrupt", json_string(b->corrupt_error));
			if (b->job)
				json_object_set_new(o, "job", json_integer((json_int_t)b->job->id));
			json_object_set_new(o, "checks", checks_json(plan.checks, 3));
			json_array_append_new(jbuckets, o);
		}
	}
	strata_pol_table tin = {
		.gone = gone,
		.ngone = ngone,
		.boundary = prop.b,
		.next_boundary_us = prop.next_us,
		.last_clean_us = t->last_clean_us,
		.last_orphan_scan_us = t->last_orphan_us,
		.failures = t->clean_failures,
		.failed_us = t->clean_failed_us,
	};
	strata_pol_clean cp;
	strata_pol_plan_clean(&tin, &pol, now, &cp);
	if (cp.next_due_us < next)
		next = cp.next_due_us;
	if (!t->last_clean_us) {
		t->trash_files = cp.trash_files;
		t->trash_bytes = cp.trash_bytes;
	}
	LOG_DEBUG("plan %s clean: %s%s", name, cp.check.is_due ? "due: " : "", cp.check.why);
	if (enqueue) {
		clean_decide(d, t, &cp, &pol);
		t->planned_version = td.version;
		t->planned_cfg_gen = d->cfg_gen;
		t->next_due_us = next;
		t->is_dirty = false;
	}
	if (report) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "version", json_integer((json_int_t)td.version));
		json_object_set_new(o, "retain_hours", json_integer(pol.retain_hours));
		json_object_set_new(o, "boundary", json_integer((json_int_t)eff.b));
		json_object_set_new(o, "paused", json_boolean(t->is_paused));
		json_object_set_new(o, "buckets", jbuckets);
		json_t *c = json_object();
		json_object_set_new(c, "due", json_boolean(cp.check.is_due));
		json_object_set_new(c, "score", json_real(cp.check.score));
		json_object_set_new(c, "orphan_scan", json_boolean(cp.is_orphan_scan));
		if (cp.is_backing_off)
			json_object_set_new(c, "backing_off_s",
					    json_real((double)(cp.backoff_until_us - now) / 1e6));
		json_object_set_new(c, "why", json_string(cp.check.why));
		json_object_set_new(o, "clean", c);
		json_object_set_new(o, "next_due_s", next == INT64_MAX ? json_null() :
						     json_real((double)(next - now) / 1e6));
		json_array_append_new(report, o);
	}
out:
	strata_mf_snap_close(snap);
	/* partition TTL (daemon/expire.c); it commits, so after the snapshot */
	if (rc == 0 && td.part_expire_s > 0)
		d_expire_table(d, name, enqueue,
			       report ? json_array_get(report, json_array_size(report) - 1) : NULL, now);
	free(ord);
	free(pf);
	free(gone);
	strata_arena_free(a);
	return rc;
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
	size_t due = 0, backing = 0, buckets = 0, files = 0;
	for (size_t i = 0; i < d->ntables; i++) {
		due += d->tables[i]->due;
		backing += d->tables[i]->backing_off;
		buckets += d->tables[i]->nb;
		files += d->tables[i]->files;
	}
	pthread_mutex_lock(&d->mu);
	size_t queued = d->nqueue, running = d->nrunning;
	pthread_mutex_unlock(&d->mu);
	LOG_INFO("scan: %zu tables (%zu planned, %zu unchanged) in %.1f ms; %zu buckets, %zu live "
		 "files; %zu buckets due, %zu backing off; %zu jobs running, %zu queued%s",
		 d->scan_n, d->scan_planned, d->scan_idle, d->m.last_scan_ms, buckets, files, due,
		 backing, running, queued, d->is_paused ? " (paused)" : "");
	snprintf(d->status_line, sizeof(d->status_line),
		 "%zu tables, %zu live files; %zu jobs running, %zu queued; %zu buckets backing off%s",
		 d->scan_n, files, running, queued, backing, d->is_paused ? "; paused" : "");
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
				 t->planned_cfg_gen != d->cfg_gen || now >= t->next_due_us;
		if (d_damage_find(d, e->name))
			is_needed = false; /* the damage rule: no jobs; said once when marked */
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
	if (d->nrunning > 0) {
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
			  d->cfg->d.warehouse, err.msg);
		d->wh = NULL;
		degraded_set(d, err.msg);
		return false;
	}
	LOG_WARN("reopened the manifest of %s after a commit whose outcome was uncertain; what that "
		 "commit may name stays for recovery",
		 d->cfg->d.warehouse);
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
		size_t running = d->nrunning, notices = d->nnotices;
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
	if (!d->in_scan && mono >= d->next_scan_us)
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
		d->is_paused = is_paused;
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
	pthread_mutex_lock(&d->mu);
	d->is_stopping = true;
	dj **q = d->queue;
	size_t nq = d->nqueue;
	d->queue = NULL;
	d->nqueue = d->capqueue = 0;
	for (size_t i = 0; i < d->nrunning; i++)
		__atomic_store_n(&d->running[i]->cancel, 1, __ATOMIC_RELAXED);
	size_t running = d->nrunning;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	LOG_INFO("stopping (%s): %zu running jobs stop at their next block, %zu queued jobs dropped; "
		 "waiting at most %lld s",
		 why, running, nq, (long long)d->cfg->d.shutdown_timeout_s);
	for (size_t i = 0; i < nq; i++)
		job_drop(d, q[i], q[i]->is_manual, "stratad is stopping");
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
	strata_log_set_level((strata_log_level)cfg->d.log_level);
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
	d->ev_notice = event_new(d->base, d->notice_fd[0], EV_READ | EV_PERSIST, notice_cb, d);
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
		 d->cfg->d.warehouse, d->socket_path, (long long)d->cfg->d.workers,
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
	d->is_stopping = true;
	for (size_t i = 0; i < d->nrunning; i++)
		__atomic_store_n(&d->running[i]->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	d_workers_join(d);
	for (size_t i = 0; i < d->nqueue; i++)
		free(d->queue[i]);
	for (size_t i = 0; i < d->nnotices; i++)
		if (d->notices[i].is_done)
			free(d->notices[i].j);
	free(d->queue);
	free(d->running);
	free(d->notices);
	d_http_stop(d);
	d_admin_close(d);
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
	strata_wh_close(d->wh);
	free(d->damaged);
	stratad_tbucket_free(d->tb);
	stratad_config_free(d->cfg);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
