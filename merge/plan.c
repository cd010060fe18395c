/*
 * merge/plan.c — the leveled-merge planner.
 *
 * Files of level >= 1 are Parquet files written by sort (level 1) and by
 * earlier merges.  A leveled merge takes the oldest files of one level —
 * at most max_files of them, adjacent in _seq among that level since the
 * view lists files by seq_min — and rewrites them with the KEEP_ALL rule
 * into files one level up, split at target_bytes: every record is kept with
 * its _seq, so a read at any version returns what it returned before.
 * Which level: the caller's, or (-1) the lowest level >= 1 holding at least
 * two files.  A paired merge (through > level) takes the files of levels
 * level..through into through + 1: the policy asks for one when the bucket
 * is crowded with one file on each level, so no level holds two to merge
 * (policies/policies.c, the crowded rule).  Whether a merge is due at all is
 * the policy's decision (policies/); this picks the files.
 *
 * Invariants:
 *   1. the inputs are of one level (or of one range of levels) and the
 *      oldest of it, so the files left there stay adjacent in _seq to the
 *      next merge's;
 *   2. a plan has at least two inputs or none (ninputs == 0: nothing to do).
 *
 * Pure: reads only the bucket view (its arena holds the input list).  Any
 * thread.
 */
#include "merge/merge.h"

#include <string.h>

int strata_merge_plan(const strata_bucket_view *v, int level, int through, size_t max_files,
		      uint64_t target_bytes, strata_job_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->kind = STRATA_V_MERGE;
	plan->what = "merge";
	plan->rule = STRATA_MERGE_KEEP_ALL;
	if (max_files < 2)
		max_files = 2;
	if (level < 0) {
		for (int l = 1; l < 64 && level < 0; l++) {
			size_t c = 0;
			for (size_t i = 0; i < v->nfiles; i++)
				c += v->files[i].level == l;
			if (c >= 2)
				level = l;
		}
		if (level < 0)
			return 0;
	}
	if (through < level)
		through = level;
	const strata_file_entry **in = strata_arena_alloc(v->arena, (v->nfiles + 1) * sizeof(void *));
	size_t n = 0;
	/* files are ordered by seq_min: the first max_files of the level are the
	 * oldest and adjacent in _seq among that level */
	for (size_t i = 0; i < v->nfiles && n < max_files; i++)
		if (v->files[i].level >= level && v->files[i].level <= through)
			in[n++] = &v->files[i];
	if (n < 2)
		return 0;
	plan->inputs = in;
	plan->ninputs = n;
	plan->out_level = (uint8_t)(through + 1);
	plan->target_bytes = target_bytes;
	return 0;
}
