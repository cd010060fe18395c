/*
 * merge/merge.h — the job layer: the bucket view every planner reads, the
 * job plan, and the executor every governance job runs through
 * (strata_job_execute: claim, intent, outputs, checked commit; merge/job.c),
 * plus the leveled-merge planner (merge/plan.c).  The planners of sort/ and
 * compact/ build the same plan.
 *
 * The k-way merge iterator the executor streams records through (history
 * rules KEEP_ALL, BOUNDARY(B), LATEST) is in the format layer: format.h,
 * format/merge.c; reads use it from table/ without this layer.
 *
 * Layering: merge/ sits on table/ (the warehouse handle), manifest/ and
 * format/; nothing below it includes it (tests/layer-check).
 */
#ifndef STRATA_MERGE_H
#define STRATA_MERGE_H

#include "format/format.h"
#include "manifest/manifest.h"
#include "table/table.h"

/* ------------------------------------------------------------------------ */
/* Jobs: the shared executor of sort, leveled merge and compaction          */
/* ------------------------------------------------------------------------ */

/* Everything a planner needs about one bucket, read in one snapshot. */
typedef struct strata_bucket_view {
	strata_table_def table;
	strata_partition part;
	uint32_t bucket;
	strata_schema *schema;         /* current schema (owned) */
	strata_schema **schemas;       /* every schema version (owned) */
	uint64_t *schema_since;
	size_t nschemas;
	strata_bucket_state state;
	strata_file_entry *files;      /* live files, ordered by seq_min */
	size_t nfiles;
	strata_file_entry *removed;    /* removed, not yet deleted */
	size_t nremoved;
	uint64_t retain_boundary;      /* last version at or before now - retention
					  (0: none that old), read in the view's
					  snapshot by strata_mf_retention() */
	uint64_t oldest_tag;           /* 0: no tags */
	int64_t now_us;
	strata_arena *arena;
} strata_bucket_view;

/* Load the view of one bucket (partition: escaped name, "" if none). */
int strata_bucket_view_load(struct strata_wh *wh, const char *table, const char *partition,
			    uint32_t bucket, int64_t now_us, strata_bucket_view *out,
			    strata_err *err);
/* The same with the retention boundary for retain_hours instead of the
 * table's property (< 0: the property), computed in the view's one
 * snapshot (stratad's [table.NAME] acid.data.retain.hours). */
int strata_bucket_view_load_retain(struct strata_wh *wh, const char *table,
				   const char *partition, uint32_t bucket, int64_t now_us,
				   int64_t retain_hours, strata_bucket_view *out,
				   strata_err *err);
void strata_bucket_view_free(strata_bucket_view *v);

/* What a job does; built by a planner (sort, merge, compact), run by
 * strata_job_execute(). */
typedef struct strata_job_plan {
	strata_vkind kind;              /* SORT, MERGE or COMPACT */
	const char *what;               /* "sort", "merge", "partial compaction", ... */
	strata_merge_rule rule;
	int64_t boundary;               /* BOUNDARY rule */
	bool drop_deletes;
	uint8_t out_level;
	uint64_t target_bytes;          /* split outputs at about this size (0: one) */
	uint64_t new_floor;             /* raise the bucket floor to this (0: no) */
	bool drops_retained_history;    /* inputs wait for retention before clean */
	const strata_file_entry **inputs; /* into the view */
	size_t ninputs;
} strata_job_plan;

/* Control from the caller: cancellation, I/O throttling, claim owner. */
typedef struct strata_job_ctl {
	const char *owner;              /* claim owner shown to others */
	int64_t claim_ttl_us;           /* default 10 minutes; renewed as it runs */
	volatile int *cancel;           /* non-zero: stop at the next block (set and read with __atomic_*) */
	/* Called with bytes read and written since the last call (about every
	 * MiB); may sleep to enforce a rate. */
	void (*throttle)(void *arg, uint64_t bytes);
	void *throttle_arg;
	/* Test hook: called at named points ("outputs-written" before the
	 * commit, "committed" after it); a non-zero return fails the job there. */
	int (*hook)(void *arg, const char *point);
	void *hook_arg;
} strata_job_ctl;

typedef struct strata_job_result {
	uint64_t job_id;
	uint64_t version;               /* committed version, 0 if none */
	size_t files_in, files_out;
	uint64_t rows_in, rows_out;
	uint64_t bytes_in, bytes_out;
	double seconds;
} strata_job_result;

/* Run a plan: claim the bucket, record the intent, merge the inputs into new
 * Parquet files (temp name, fsync, rename, fsync dir), and commit in one
 * manifest transaction that checks every input is still live and the schema
 * unchanged.  Returns 0, STRATA_ECONFLICT (nothing committed, outputs
 * deleted), STRATA_EBUSY (another job holds the bucket), STRATA_ECANCELED,
 * or another error (outputs deleted, intent and claim released). */
int strata_job_execute(struct strata_wh *wh, const strata_bucket_view *view,
		       const strata_job_plan *plan, const strata_job_ctl *ctl,
		       strata_job_result *res, strata_err *err);

/* Leveled merge planner: files of `level` (-1: the lowest level >= 1 with at
 * least two files) -> level + 1, at most max_files of them adjacent in _seq
 * (oldest first); with through > level (a paired merge), the files of levels
 * level..through -> through + 1, at most max_files of them (oldest first).
 * plan->ninputs == 0 when there is nothing to merge. */
int strata_merge_plan(const strata_bucket_view *v, int level, int through, size_t max_files,
		      uint64_t target_bytes, strata_job_plan *plan);

#endif
