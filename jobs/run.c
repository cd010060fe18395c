/*
 * jobs/run.c — "load the bucket view, plan by kind, execute", written once
 * (the contract and the table of kinds are in jobs/jobs.h).
 *
 * Invariants:
 *   1. every number a planner takes comes from the job's policy, and a job
 *      without one takes strata_policy_default(): no caller keeps its own
 *      copy of a default or of the merge-target formula;
 *   2. the view, its retention boundary and the plan come from one snapshot
 *      (strata_bucket_view_load_retain(), manifest/retention.c);
 *   3. a plan with no inputs runs nothing: no claim, no intent, no commit.
 */
#include "jobs/jobs.h"

#include "compact/compact.h"
#include "sort/sort.h"

#include <string.h>

void strata_bucket_job_default(strata_bucket_job *job, strata_bucket_job_kind kind)
{
	memset(job, 0, sizeof(*job));
	job->kind = kind;
	job->level = -1;
}

static const strata_policy *policy_of(const strata_bucket_job *job, strata_policy *buf)
{
	if (job->pol)
		return job->pol;
	strata_policy_default(buf); /* invariant 1 */
	return buf;
}

int strata_bucket_job_plan(const strata_bucket_view *v, const strata_bucket_job *job,
			   strata_job_plan *plan)
{
	strata_policy buf;
	const strata_policy *pol = policy_of(job, &buf);
	int rc = 0;
	switch (job->kind) {
	case STRATA_BUCKET_JOB_SORT:
		rc = strata_sort_plan(v, pol->sort_max_bytes, plan);
		break;
	case STRATA_BUCKET_JOB_MERGE:
		rc = strata_merge_plan(v, job->level, job->through, (size_t)pol->merge_fanout, 0,
				       plan);
		if (rc == 0 && plan->ninputs)
			plan->target_bytes = strata_pol_merge_target_bytes(pol, plan->out_level);
		break;
	case STRATA_BUCKET_JOB_PARTIAL:
		rc = strata_compact_partial_plan(v, plan);
		break;
	case STRATA_BUCKET_JOB_MAJOR:
	default:
		rc = strata_compact_major_plan(v, job->drop_history, plan);
		break;
	}
	return rc;
}

int strata_bucket_job_run(struct strata_wh *wh, const char *table, const char *partition,
			  uint32_t bucket, const strata_bucket_job *job, const strata_job_ctl *ctl,
			  strata_bucket_job_out *out, strata_err *err)
{
	memset(out, 0, sizeof(*out));
	strata_policy buf;
	const strata_policy *pol = policy_of(job, &buf);
	strata_bucket_view v;
	/* invariant 2 */
	int rc = strata_bucket_view_load_retain(wh, table, partition, bucket, strata_now_us(),
						pol->retain_hours, &v, err);
	if (rc)
		return rc;
	strata_job_plan plan;
	rc = strata_bucket_job_plan(&v, job, &plan);
	if (rc)
		goto out;
	out->what = plan.what;
	out->ninputs = plan.ninputs;
	if (plan.ninputs == 0) { /* invariant 3 */
		out->is_noop = true;
		goto out;
	}
	rc = strata_job_execute(wh, &v, &plan, ctl, &out->jr, err);
	if (rc == 0)
		out->new_floor = plan.new_floor;
out:
	strata_bucket_view_free(&v);
	return rc;
}
