/*
 * daemon/jobs.c — job bookkeeping: a job's record from creation to its
 * summary, on the loop thread.
 *
 * A job is created by the planner (daemon/plan.c) or an admin command
 * (daemon/admin.c) with d_job_new(), queued with d_job_enqueue(), taken by
 * a worker (daemon/worker.c), and comes back as a "done" notice that
 * d_notice_cb() hands to job_finished(): the back-off and corrupt marks of
 * its bucket, the metrics, the watch events, the finished-jobs ring
 * (summary_push) and the log line with the numbers.  A job that never ran
 * (cancel, replan, shutdown) leaves through d_job_drop().  The state
 * diagram is in daemon/daemon_int.h; every change goes through
 * d_job_set_state().
 *
 * The numbered invariants cited here are daemon/stratad.c's (1, 2, 4, 4a,
 * 4b: one job per bucket, state changes under d->mu, back-off, corrupt
 * buckets, the compaction bar).
 *
 * Threads: the loop thread only, except d_job_set_state() (also a worker,
 * under d->mu) and d_job_json() (under d->mu for jobs a worker may hold).
 */
#include "daemon/daemon_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A job's retention: [table.NAME]'s override, else -1 — the table's
 * property read in the job's own snapshot, never the one it was planned
 * with (manifest/retention.c). */
int64_t d_job_retain_hours(const stratad *d, const char *table)
{
	strata_policy jp;
	stratad_config_job_policy(d->cfg, table, &jp);
	return jp.retain_hours;
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
	j->pol.retain_hours = d_job_retain_hours(d, t->name);
	j->claim_ttl_s = d->cfg->d.claim_ttl_s;
	j->queued_us = strata_now_us();
	return j;
}

static json_t *job_where_json(json_t *o, const char *table, const char *part, uint32_t part_id,
			      uint32_t bucket)
{
	json_object_set_new(o, "table", json_string(table));
	if (part_id != D_TABLE_JOB) {
		json_object_set_new(o, "partition", json_string(d_pname(part)));
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
	if (j->kind == DJ_MERGE && j->through > j->level)
		json_object_set_new(o, "through", json_integer(j->through));
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
		snprintf(where, sizeof(where), " p=%s b=%u", d_pname(j->part), j->bucket);
	LOG_INFO("queued job %" PRIu64 ": %s of %s%s (score %.2f%s): %s", j->id, d_kind_name(j->kind),
		 j->table, where, j->score, j->is_manual ? ", asked for" : "", j->reason);
	pthread_mutex_lock(&d->mu);
	if (d->jobs.nqueue == d->jobs.capqueue) {
		d->jobs.capqueue = d->jobs.capqueue ? 2 * d->jobs.capqueue : 64;
		d->jobs.queue = strata_realloc(d->jobs.queue, d->jobs.capqueue * sizeof(dj *));
	}
	d->jobs.queue[d->jobs.nqueue++] = j;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	emit_job(d, "queued", ev);
}

/* Remove a queued job from the queue (caller holds mu); false if it is not
 * queued any more (a worker took it). */
bool d_queue_remove_locked(stratad *d, dj *j)
{
	if (j->state != DJ_QUEUED)
		return false;
	for (size_t i = 0; i < d->jobs.nqueue; i++) {
		if (d->jobs.queue[i] == j) {
			memmove(&d->jobs.queue[i], &d->jobs.queue[i + 1], (d->jobs.nqueue - i - 1) * sizeof(dj *));
			d->jobs.nqueue--;
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
void d_job_drop(stratad *d, dj *j, bool is_recorded, const char *why)
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
	for (size_t i = 0; i < d->jobs.nqueue && !queued; i++)
		if (d->jobs.queue[i]->id == id)
			queued = d->jobs.queue[i];
	if (queued)
		d_queue_remove_locked(d, queued);
	for (size_t i = 0; i < d->jobs.nrunning && !running; i++)
		if (d->jobs.running[i]->id == id)
			running = d->jobs.running[i];
	if (running)
		__atomic_store_n(&running->cancel, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->mu);
	if (queued) {
		snprintf(msg, n, "job %" PRIu64 " (%s of %s) removed from the queue", id,
			 d_kind_name(queued->kind), queued->table);
		d_job_drop(d, queued, true, "cancelled by an admin");
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
				t->last_clean_cost_us = (int64_t)(j->seconds * 1e6);
				t->marked_in_place = j->cr.marked_in_place;
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
				d_damage_set(d, j->table, j->error, now);
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
						 j->id, j->table, d_pname(j->part), j->bucket, j->jr.rows_in,
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
		snprintf(where, sizeof(where), "%s p=%s b=%u", j->table, d_pname(j->part), j->bucket);
	if (j->result == DJR_OK && (j->kind == DJ_CLEAN || j->kind == DJ_PURGE))
		LOG_INFO("job %" PRIu64 ": %s of %s done in %.3f s: %zu files deleted (%" PRIu64
			 " bytes), %zu unlinked from trash, kept %zu in grace, %zu leased, %zu tagged, "
			 "%zu in retention; %zu orphans; consistency check %.0f ms%s",
			 j->id, d_kind_name(j->kind), where, j->seconds, j->cr.files_deleted,
			 j->cr.bytes_deleted, j->cr.files_unlinked, j->cr.kept_grace, j->cr.kept_lease,
			 j->cr.kept_tag, j->cr.kept_retention, j->cr.orphans, j->cr.check_ms,
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
	/* job chaining: a bucket whose job did its work is planned again now,
	 * from its own entries, so its next job (the merge after a sort, the
	 * sort of the row files that came meanwhile) need not wait for a scan */
	bool is_chained = t && t->id == j->table_id && j->part_id != D_TABLE_JOB &&
			  j->result == DJR_OK && j->kind <= DJ_PARTIAL && d->state == D_RUNNING;
	if (is_chained) {
		strata_err perr;
		strata_err_clear(&perr);
		if (d_plan_bucket(d, j->table, j->part_id, j->bucket, &perr) != 0)
			LOG_WARN("planning %s p=%s b=%u after job %" PRIu64 " failed: %s (the next scan "
				 "plans it)",
				 j->table, d_pname(j->part), j->bucket, j->id, perr.msg);
	}
	free(j);
	/* a finished job changes its table: look again soon (rate-limited) */
	int64_t soon = d_scan_after_job_at(d->last_scan_end_us, d->m.last_scan_ms, strata_mono_us());
	if (soon < d->next_scan_us)
		d->next_scan_us = soon;
}

/* The cadence of a busy table.  A bucket holds one job at a time; its next
 * one comes from job chaining (d_plan_bucket()) or from a scan.  A finished
 * job, and a scan that met new commits, ask for the next scan after this
 * gap: with 1 s after a job (as it was) and scan_interval_s otherwise, under
 * sustained ingest a bucket ran one job a second however short the jobs
 * were, and row files piled up between scans when no job finished
 * (docs/BENCHMARKS.md, "Sustained ingest").  The gap is one cron tick at
 * least, and at least D_SCAN_COST_FACTOR times what the last scan took, so
 * scans after jobs cost at most about 1/D_SCAN_COST_FACTOR of the loop
 * thread whatever the warehouse's size (a 100,000-entry table plans in about
 * 100 ms: a scan a second).  With 20, at twice the bench's rate a table
 * whose replaced files wait in grace (thousands of entries, a 25 ms plan)
 * was planned only every 0.5 s and its buckets' row files piled up. */
int64_t d_scan_after_job_at(int64_t last_scan_end_us, double last_scan_ms, int64_t now_us)
{
	int64_t gap = (int64_t)(last_scan_ms * 1000.0 * D_SCAN_COST_FACTOR);
	if (gap < D_SCAN_AFTER_JOB_MIN_US)
		gap = D_SCAN_AFTER_JOB_MIN_US;
	int64_t at = last_scan_end_us + gap;
	return at > now_us ? at : now_us;
}

/* Scans start on cron ticks (D_CRON_MS).  A scan due 100 ms after the last
 * one ended is due a few ms after the tick 100 ms after that one started:
 * compared exactly, it waited for the tick after, and every "100 ms"
 * cadence was 200 ms (at twice the bench's rate, sorts met 6 row files
 * instead of 4, and a bucket held 9 runs).  A scan due within half a tick
 * runs at this one. */
bool d_scan_is_due(int64_t mono_us, int64_t next_scan_us)
{
	return mono_us >= next_scan_us - D_CRON_MS * 1000 / 2;
}

void d_notice_cb(evutil_socket_t fd, short what, void *arg)
{
	stratad *d = arg;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&d->mu);
	d_notice *ns = d->jobs.notices;
	size_t n = d->jobs.nnotices;
	d->jobs.notices = NULL;
	d->jobs.nnotices = d->jobs.capnotices = 0;
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
