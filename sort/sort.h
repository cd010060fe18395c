/*
 * sort/sort.h — auto-sort: level-0 row files (Avro) of one bucket become one
 * columnar file (Parquet, zstd) at level 1, all history kept.
 */
#ifndef STRATA_SORT_H
#define STRATA_SORT_H

#include "merge/merge.h"

/* Plan a sort of the oldest level-0 files of the bucket, adding files (oldest
 * first) while their bytes stay within max_bytes (at least one file).
 * plan->ninputs == 0 when the bucket has no row files.  max_bytes 0: the
 * default sort.max_bytes (strata_policy_default()). */
int strata_sort_plan(const strata_bucket_view *v, uint64_t max_bytes, strata_job_plan *plan);

#endif
