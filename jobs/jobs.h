/*
 * jobs/jobs.h — one entry point for a bucket job: load the bucket view,
 * plan by kind with the numbers of a policy, execute.
 *
 * stratad's workers (daemon/worker.c), the command line (`strata sort`,
 * `merge`, `compact`: cli/cmd_jobs.c) and purge (clean/clean.c) all run a
 * bucket job through strata_bucket_job_run(), so they plan the same inputs
 * for the same bucket and the same policy (tests/test_jobs.c
 * test_cli_and_daemon_plan_alike).  The numbers come from a strata_policy:
 * the daemon's effective one for the table, or strata_policy_default() — the
 * one table of defaults (policies/policies.c) — for the command line and
 * purge.
 *
 *   kind      planner                       numbers from the policy
 *   SORT      strata_sort_plan()            sort.max_bytes
 *   MERGE     strata_merge_plan()           merge.fanout, and the output
 *                                           size strata_pol_merge_target_bytes()
 *   PARTIAL   strata_compact_partial_plan() acid.data.retain.hours (-1: the
 *                                           table's property), through the
 *                                           view's retention boundary
 *   MAJOR     strata_compact_major_plan()   (drop_history from the job)
 *
 * Thread safety: like strata_job_execute(): any number of jobs on different
 * buckets in parallel; the view belongs to the calling thread.
 */
#ifndef STRATA_JOBS_H
#define STRATA_JOBS_H

#include "merge/merge.h"
#include "policies/policies.h"

typedef enum strata_bucket_job_kind {
	STRATA_BUCKET_JOB_SORT = 0,
	STRATA_BUCKET_JOB_MERGE,
	STRATA_BUCKET_JOB_PARTIAL,
	STRATA_BUCKET_JOB_MAJOR,
} strata_bucket_job_kind;

/* What to run on a bucket: the kind and its parameters. */
typedef struct strata_bucket_job {
	strata_bucket_job_kind kind;
	int level;                /* MERGE: input level, -1: the lowest level >= 1
				     with two files or more */
	int through;              /* MERGE, when > level: every file of levels
				     level..through (a paired merge); 0: level alone */
	bool drop_history;        /* MAJOR: free the replaced files at once */
	const strata_policy *pol; /* lent for the call; NULL: the defaults */
} strata_bucket_job;

/* A job of `kind` with the default policy (the command line's numbers). */
void strata_bucket_job_default(strata_bucket_job *job, strata_bucket_job_kind kind);

/* Plan job on the view v (pure; the plan's arrays live in v's arena):
 * plan->ninputs == 0 when the bucket has nothing for it.  Returns 0 or the
 * planner's error. */
int strata_bucket_job_plan(const strata_bucket_view *v, const strata_bucket_job *job,
			   strata_job_plan *plan);

typedef struct strata_bucket_job_out {
	bool is_noop;             /* nothing to do: nothing ran, nothing committed */
	const char *what;         /* "sort", "partial compaction", ... (static) */
	size_t ninputs;
	uint64_t new_floor;       /* the floor the job raised the bucket's to (0: none) */
	strata_job_result jr;     /* when it ran */
} strata_bucket_job_out;

/* Load the view of (table, partition, bucket) now, with the policy's
 * retention, plan job on it and, unless there is nothing to do, execute the
 * plan (strata_job_execute(): claim, intent, outputs, checked commit).
 * Returns 0 (out->is_noop when nothing ran), or the errors of
 * strata_bucket_view_load() and strata_job_execute(): STRATA_ECONFLICT,
 * STRATA_EBUSY, STRATA_ECANCELED, ... with err naming the bucket's problem. */
int strata_bucket_job_run(struct strata_wh *wh, const char *table, const char *partition,
			  uint32_t bucket, const strata_bucket_job *job, const strata_job_ctl *ctl,
			  strata_bucket_job_out *out, strata_err *err);

#endif
