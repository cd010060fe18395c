/*
 * daemon/worker.c — the worker pool, and how one job runs.
 *
 * `workers` pthreads wait on d->cv for the queue.  A worker takes the queued
 * job with the highest score (the oldest among equals) that may start now —
 * not while planning is paused; a purge only when nothing else of its table
 * runs, and nothing else of a table while its purge is queued or running —
 * marks it RUNNING, tells the loop ("started"), and runs it without holding
 * any lock.  Running a job is only library calls:
 *   sort, merge, partial, major: strata_bucket_job_run() (jobs/jobs.h:
 *       load the view, the planner of the kind with the job's policy numbers
 *       — the policy decided the kind; the planner picks the files —,
 *       execute), the same entry point `strata sort` and the others use;
 *   clean: strata_clean_table(); purge: strata_purge_table().
 * The job's strata_job_ctl carries the daemon's owner string (claims), the
 * claim TTL, the job's cancel flag (checked by the library at each block)
 * and the throttle, which charges the shared token bucket and sleeps in
 * slices so a cancel is not held up by the rate limit.  The result goes
 * back to the loop as a "done" notice; the loop does all bookkeeping.
 *
 * A [table.NAME] acid.data.retain.hours is the retention the view's
 * boundary is computed with, in the view's own snapshot
 * (strata_bucket_view_load_retain(), manifest/retention.c).
 *
 * Invariants:
 *   1. a worker holds d->mu only to take a job and to post a notice, never
 *      while a job runs;
 *   2. the pool shrinks only by idle workers leaving; a running job is never
 *      interrupted by a resize;
 *   3. every job a worker takes comes back to the loop exactly once.
 */
#include "daemon/daemon_int.h"


#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THROTTLE_SLICE_US 50000

static void sleep_us(int64_t us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void job_throttle(void *arg, uint64_t bytes)
{
	dj *j = arg;
	atomic_fetch_add(&j->io_bytes, bytes);
	int64_t wait = stratad_tbucket_take(j->d->tb, bytes, strata_mono_us());
	while (wait > 0 && !__atomic_load_n(&j->cancel, __ATOMIC_RELAXED)) {
		int64_t s = wait < THROTTLE_SLICE_US ? wait : THROTTLE_SLICE_US;
		sleep_us(s);
		wait -= s;
	}
}

void d_job_spec(const dj *j, strata_bucket_job *out)
{
	strata_bucket_job_kind k = j->kind == DJ_SORT    ? STRATA_BUCKET_JOB_SORT :
				   j->kind == DJ_MERGE   ? STRATA_BUCKET_JOB_MERGE :
				   j->kind == DJ_PARTIAL ? STRATA_BUCKET_JOB_PARTIAL :
							   STRATA_BUCKET_JOB_MAJOR;
	strata_bucket_job_default(out, k);
	out->level = j->kind == DJ_MERGE ? j->level : -1;
	out->through = j->kind == DJ_MERGE ? j->through : 0;
	out->drop_history = j->drop_history;
	out->pol = &j->pol;
}

static dj_result result_of(int rc)
{
	switch (rc) {
	case 0:
		return DJR_OK;
	case STRATA_ECONFLICT:
		return DJR_CONFLICT;
	case STRATA_EBUSY:
		return DJR_BUSY;
	case STRATA_ECANCELED:
		return DJR_CANCELED;
	default:
		return DJR_FAILED;
	}
}

static void job_run(stratad *d, dj *j)
{
	strata_err err;
	strata_err_clear(&err);
	strata_job_ctl ctl = {
		.owner = d->owner,
		.claim_ttl_us = j->claim_ttl_s * D_US,
		.cancel = &j->cancel,
		.throttle = job_throttle,
		.throttle_arg = j,
	};
	int rc = 0;
	bool is_noop = false;
	if (j->kind == DJ_CLEAN) {
		strata_clean_opts o;
		strata_clean_opts_default(&o);
		o.grace_s = j->pol.clean_grace_s;
		o.trash_s = j->pol.clean_trash_s;
		o.orphan_age_s = j->orphan_scan ? j->pol.clean_orphan_age_s : -1;
		o.orphan_max_fraction = j->pol.clean_orphan_max_fraction;
		o.throttle = job_throttle;
		o.throttle_arg = j;
		rc = strata_clean_table(d->wh, j->table, &o, &j->cr, &err);
	} else if (j->kind == DJ_PURGE) {
		strata_buf tags = {0};
		rc = strata_purge_table(d->wh, j->table, &ctl, &j->cr, &tags, &err);
		if (rc == 0 && tags.len)
			LOG_INFO("purge of %s dropped tags %.*s", j->table, (int)tags.len, (char *)tags.data);
		strata_buf_free(&tags);
	} else {
		strata_bucket_job job;
		d_job_spec(j, &job);
		strata_bucket_job_out out;
		rc = strata_bucket_job_run(d->wh, j->table, j->part, j->bucket, &job, &ctl, &out, &err);
		j->jr = out.jr;
		is_noop = rc == 0 && out.is_noop;
	}
	j->rc = rc;
	j->result = is_noop ? DJR_NOOP : result_of(rc);
	if (rc)
		snprintf(j->error, sizeof(j->error), "%s", err.msg[0] ? err.msg : strata_strerror(rc));
}

/* The queued job to start now, or NULL (caller holds mu). */
static dj *pick_locked(stratad *d)
{
	if (d->jobs.is_paused || d->jobs.is_stopping)
		return NULL;
	dj *best = NULL;
	size_t best_i = 0;
	for (size_t i = 0; i < d->jobs.nqueue; i++) {
		dj *j = d->jobs.queue[i];
		bool is_blocked = false;
		for (size_t r = 0; r < d->jobs.nrunning && !is_blocked; r++) {
			dj *o = d->jobs.running[r];
			if (o->table_id != j->table_id)
				continue;
			is_blocked = j->kind == DJ_PURGE || o->kind == DJ_PURGE ||
				     (o->part_id == j->part_id && o->bucket == j->bucket);
		}
		for (size_t q = 0; q < d->jobs.nqueue && !is_blocked; q++)
			is_blocked = d->jobs.queue[q]->kind == DJ_PURGE && j->kind != DJ_PURGE &&
				     d->jobs.queue[q]->table_id == j->table_id;
		if (is_blocked)
			continue;
		if (!best || j->score > best->score || (j->score == best->score && j->id < best->id)) {
			best = j;
			best_i = i;
		}
	}
	if (best) {
		memmove(&d->jobs.queue[best_i], &d->jobs.queue[best_i + 1], (d->jobs.nqueue - best_i - 1) * sizeof(dj *));
		d->jobs.nqueue--;
	}
	return best;
}

static void notice_locked(stratad *d, dj *j, bool is_done)
{
	if (d->jobs.nnotices == d->jobs.capnotices) {
		d->jobs.capnotices = d->jobs.capnotices ? 2 * d->jobs.capnotices : 16;
		d->jobs.notices = strata_realloc(d->jobs.notices, d->jobs.capnotices * sizeof(d_notice));
	}
	d->jobs.notices[d->jobs.nnotices++] = (d_notice){j, is_done};
	char c = 1;
	ssize_t w = write(d->notice_fd[1], &c, 1);
	(void)w; /* a full pipe already has a wake-up in it */
}

static void *worker_main(void *arg)
{
	stratad *d = arg;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		dj *j = NULL;
		while (!d->jobs.is_stopping && d->jobs.nworkers <= d->jobs.want_workers && !(j = pick_locked(d)))
			pthread_cond_wait(&d->cv, &d->mu);
		if (!j)
			break; /* stopping, or the pool shrank (invariant 2) */
		d_job_set_state(j, DJ_RUNNING);
		j->started_us = strata_now_us();
		j->started_mono_us = strata_mono_us();
		if (d->jobs.nrunning == d->jobs.caprunning) {
			d->jobs.caprunning = d->jobs.caprunning ? 2 * d->jobs.caprunning : 16;
			d->jobs.running = strata_realloc(d->jobs.running, d->jobs.caprunning * sizeof(dj *));
		}
		d->jobs.running[d->jobs.nrunning++] = j;
		notice_locked(d, j, false);
		pthread_mutex_unlock(&d->mu); /* invariant 1 */
		job_run(d, j);
		pthread_mutex_lock(&d->mu);
		j->finished_us = strata_now_us();
		j->seconds = (double)(strata_mono_us() - j->started_mono_us) / 1e6;
		for (size_t i = 0; i < d->jobs.nrunning; i++)
			if (d->jobs.running[i] == j) {
				d->jobs.running[i] = d->jobs.running[--d->jobs.nrunning];
				break;
			}
		d_job_set_state(j, DJ_DONE);
		notice_locked(d, j, true); /* invariant 3 */
		pthread_cond_broadcast(&d->cv);
	}
	d->jobs.nworkers--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

void d_workers_resize(stratad *d, int n)
{
	pthread_mutex_lock(&d->mu);
	d->jobs.want_workers = n;
	while (d->jobs.nworkers < n) {
		pthread_t th;
		int prc = pthread_create(&th, NULL, worker_main, d);
		if (prc != 0) { /* pthread_create returns its error; errno is not set */
			LOG_ERROR("could not start worker thread %d of %d: %s; running with %d",
				  d->jobs.nworkers + 1, n, strerror(prc), d->jobs.nworkers);
			break;
		}
		d->jobs.threads = strata_realloc(d->jobs.threads, (d->jobs.nthreads + 1) * sizeof(pthread_t));
		d->jobs.threads[d->jobs.nthreads++] = th;
		d->jobs.nworkers++;
	}
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void d_workers_join(stratad *d)
{
	pthread_mutex_lock(&d->mu);
	d->jobs.is_stopping = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < d->jobs.nthreads; i++)
		pthread_join(d->jobs.threads[i], NULL);
	free(d->jobs.threads);
	d->jobs.threads = NULL;
	d->jobs.nthreads = 0;
}
