/*
 * sort/sort.c — the auto-sort planner.
 *
 * Row files are level 0; each holds one commit's rows for the bucket, sorted
 * by key.  Sorting merges the oldest of them (by the version that added them,
 * which is their _seq) into one Parquet file at level 1 with the KEEP_ALL
 * rule: every record, with its _seq, so a read at any version returns what it
 * returned before.  Taking the oldest first keeps the remaining row files
 * adjacent in _seq to the next sort.
 *
 * Pure: reads only the bucket view.
 */
#include "sort/sort.h"
#include "policies/policies.h"

#include <stdlib.h>
#include <string.h>

static int added_cmp(const void *a, const void *b)
{
	const strata_file_entry *x = *(const strata_file_entry *const *)a;
	const strata_file_entry *y = *(const strata_file_entry *const *)b;
	if (x->added_version != y->added_version)
		return x->added_version < y->added_version ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

int strata_sort_plan(const strata_bucket_view *v, uint64_t max_bytes, strata_job_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->kind = STRATA_V_SORT;
	plan->what = "sort";
	plan->rule = STRATA_MERGE_KEEP_ALL;
	plan->out_level = 1;
	if (max_bytes == 0) {
		strata_policy p;
		strata_policy_default(&p); /* the one table of defaults */
		max_bytes = p.sort_max_bytes;
	}
	const strata_file_entry **l0 = strata_arena_alloc(v->arena, (v->nfiles + 1) * sizeof(void *));
	size_t n = 0;
	for (size_t i = 0; i < v->nfiles; i++)
		if (v->files[i].level == 0)
			l0[n++] = &v->files[i];
	qsort(l0, n, sizeof(*l0), added_cmp);
	uint64_t bytes = 0;
	size_t take = 0;
	while (take < n && (take == 0 || bytes + l0[take]->bytes <= max_bytes)) {
		bytes += l0[take]->bytes;
		take++;
	}
	plan->inputs = l0;
	plan->ninputs = take;
	return 0;
}
