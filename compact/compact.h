/*
 * compact/compact.h — partial compaction (history older than the retention
 * window is dropped) and major compaction (latest record per key only).
 *
 * Partial, with boundary B = the last version committed at or before
 * now - retention (never above the oldest tag): per key keep every record
 * with _seq > B and the newest with _seq <= B; that newest is dropped too if
 * it is a delete, because the inputs are every live file of the bucket with
 * records <= B.  The bucket's history floor rises to B.
 *
 * Major: all live files of the bucket -> the latest record per key, deletes
 * dropped; the floor rises to the version the job planned at.  The replaced
 * files stay until they leave the retention window (time travel keeps
 * working inside it) unless drop_history frees them at once.  A bucket that
 * is one columnar file holding every key once and no delete
 * (strata_file_entry is_compact, level >= 1) has nothing to compact: without
 * drop_history the plan is empty.
 */
#ifndef STRATA_COMPACT_H
#define STRATA_COMPACT_H

#include "merge/merge.h"

/* The boundary a partial compaction of this bucket would use (0: none). */
uint64_t strata_compact_boundary(const strata_bucket_view *v);

/* plan->ninputs == 0 when there is nothing to compact. */
int strata_compact_partial_plan(const strata_bucket_view *v, strata_job_plan *plan);
int strata_compact_major_plan(const strata_bucket_view *v, bool drop_history,
			      strata_job_plan *plan);

#endif
