/*
 * merge/merge.h — the k-way merge of sorted runs with strata's history rules,
 * and (later) the leveled merge job.
 *
 * Every data file is a sorted run (key asc, _seq desc).  The merge iterator
 * combines any number of runs of any file kind into one stream in the same
 * order and applies one rule per key:
 *   KEEP_ALL      every record (sort and leveled merge; incremental reads);
 *   BOUNDARY(B)   every record with _seq > B plus the newest with _seq <= B;
 *                 that newest one is dropped too if it is a delete and
 *                 drop_deletes is set (partial compaction, when the inputs
 *                 hold every live file of the bucket with records <= B);
 *   LATEST        only the newest record; a delete is dropped if
 *                 drop_deletes is set (snapshot reads, major compaction).
 * Records repeated in several runs with the same (key, _seq) come out once.
 *
 * Memory: one current record per run (each run holds about one block or page
 * per column), independent of file sizes.  Thread safety: one thread.
 */
#ifndef STRATA_MERGE_H
#define STRATA_MERGE_H

#include "format/format.h"

typedef enum strata_merge_rule {
	STRATA_MERGE_KEEP_ALL = 0,
	STRATA_MERGE_BOUNDARY,
	STRATA_MERGE_LATEST,
} strata_merge_rule;

typedef struct strata_merge strata_merge;

/* Start a merge over runs[0..n) (ownership of the runs passes to the merge;
 * they must share one read schema).  boundary is used by BOUNDARY only. */
int strata_merge_new(strata_run **runs, size_t n, strata_merge_rule rule, int64_t boundary,
		     bool drop_deletes, strata_merge **out, strata_err *err);
/* Next record: 1 with *row and *key lent until the next call, 0 at the end,
 * < 0 on error (from a run: the file is named). */
int strata_merge_next(strata_merge *m, const strata_row **row, const uint8_t **key,
		      size_t *key_len, strata_err *err);
/* Position every run at the first record with key >= key (point lookups). */
int strata_merge_seek(strata_merge *m, const uint8_t *key, size_t key_len, strata_err *err);
/* Records read from all runs so far, and records emitted. */
uint64_t strata_merge_rows_in(const strata_merge *m);
uint64_t strata_merge_rows_out(const strata_merge *m);
/* Records decoded by the runs (includes those the runs filtered). */
uint64_t strata_merge_rows_decoded(const strata_merge *m);
/* Close every run and free.  NULL is a no-op. */
void strata_merge_free(strata_merge *m);

#endif
