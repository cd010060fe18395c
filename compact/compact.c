/*
 * compact/compact.c — the partial and major compaction planners (rules in
 * compact.h; the merge and commit are merge/job.c's).
 *
 * Invariants:
 *   1. a partial compaction's boundary never exceeds the retention boundary
 *      nor the oldest tag, so every version inside the window (and every
 *      tagged one) keeps its newest record per key in the live files;
 *   2. partial inputs are every live file holding a record <= B, which is
 *      what makes dropping a delete (and all older records) safe;
 *   3. major compaction takes every live file of the bucket — or none when
 *      the bucket is one columnar file with every key once and no delete,
 *      which it would only rewrite unchanged (unless history is to be
 *      dropped; a row file still becomes columnar).
 * Pure: reads only the bucket view.
 */
#include "compact/compact.h"

#include <string.h>

uint64_t strata_compact_boundary(const strata_bucket_view *v)
{
	uint64_t b = v->retain_boundary;
	if (v->oldest_tag && v->oldest_tag < b)
		b = v->oldest_tag; /* invariant 1 */
	return b;
}

static uint8_t max_level(const strata_file_entry *const *in, size_t n)
{
	uint8_t l = 1;
	for (size_t i = 0; i < n; i++)
		if (in[i]->level > l)
			l = in[i]->level;
	return l;
}

int strata_compact_partial_plan(const strata_bucket_view *v, strata_job_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->kind = STRATA_V_COMPACT;
	plan->what = "partial compaction";
	plan->rule = STRATA_MERGE_BOUNDARY;
	plan->drop_deletes = true;
	uint64_t b = strata_compact_boundary(v);
	if (b == 0 || b <= v->state.floor)
		return 0;
	const strata_file_entry **in = strata_arena_alloc(v->arena, (v->nfiles + 1) * sizeof(void *));
	size_t n = 0;
	for (size_t i = 0; i < v->nfiles; i++)
		if (v->files[i].seq_min <= (int64_t)b)
			in[n++] = &v->files[i]; /* invariant 2 */
	if (n == 0)
		return 0;
	plan->boundary = (int64_t)b;
	plan->new_floor = b;
	plan->inputs = in;
	plan->ninputs = n;
	plan->out_level = max_level(in, n);
	return 0;
}

int strata_compact_major_plan(const strata_bucket_view *v, bool drop_history,
			      strata_job_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->kind = STRATA_V_COMPACT;
	plan->what = drop_history ? "major compaction (drop history)" : "major compaction";
	plan->rule = STRATA_MERGE_LATEST;
	plan->drop_deletes = true;
	if (v->nfiles == 0 ||
	    (v->nfiles == 1 && v->files[0].is_compact && v->files[0].level >= 1 && !drop_history))
		return 0; /* invariant 3 */
	const strata_file_entry **in = strata_arena_alloc(v->arena, (v->nfiles + 1) * sizeof(void *));
	for (size_t i = 0; i < v->nfiles; i++)
		in[i] = &v->files[i]; /* invariant 3 */
	plan->inputs = in;
	plan->ninputs = v->nfiles;
	plan->new_floor = v->table.version;
	plan->drops_retained_history = !drop_history;
	plan->out_level = max_level(in, v->nfiles);
	return 0;
}
