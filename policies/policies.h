/*
 * policies/policies.h — the contract of the pure planners: given one bucket's
 * file statistics (plain data, no handles) and the effective policy, which
 * kind of job should run there now, with which parameters, how urgently, and
 * the numbers behind that decision.
 *
 * The formulas are written out atop policies/policies.c.  Nothing here does
 * I/O or reads a clock: `now_us` is a parameter, so a table of cases tests
 * every branch (tests/test_policies.c).  The job planners in sort/, merge/
 * and compact/ still choose the actual input files; a policy decides only
 * *whether* and *which kind*, and with what parameters (the merge level and
 * output size, whether a clean also scans for orphans).
 *
 * Thread safety: every function is reentrant; inputs are only read.
 */
#ifndef STRATA_POLICIES_H
#define STRATA_POLICIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/format.h"

/* ------------------------------------------------------------------------ */
/* The policy: every number is a config key (daemon/config.c) of this name  */
/* ------------------------------------------------------------------------ */

typedef struct strata_policy {
	int64_t sort_min_files;           /* sort.min_files            4 */
	int64_t sort_max_delay_s;         /* sort.max_delay_s          300 */
	uint64_t sort_max_bytes;          /* sort.max_bytes            64 MiB */
	int64_t merge_fanout;             /* merge.fanout              4 */
	uint64_t merge_small_bytes;       /* merge.small_bytes         0 (off) */
	uint64_t merge_target_bytes;      /* merge.target_bytes        16 MiB */
	double compact_min_garbage_ratio; /* compact.min_garbage_ratio 0.15 */
	int64_t compact_max_lag_s;        /* compact.max_lag_s         3600 */
	int64_t clean_grace_s;            /* clean.grace_s             300 */
	int64_t clean_trash_s;            /* clean.trash_s             3600 */
	int64_t clean_orphan_scan_s;      /* clean.orphan_scan_s       3600 (0: never) */
	int64_t clean_orphan_age_s;       /* clean.orphan_age_s        86400 */
	double clean_orphan_max_fraction; /* clean.orphan_max_fraction 0.1 */
	int64_t backoff_s;                /* policy.backoff_s          5 */
	int64_t backoff_max_s;            /* policy.backoff_max_s      600 */
	int64_t retain_hours;             /* acid.data.retain.hours   -1: the table's */
} strata_policy;

/* Fill p with the defaults above. */
void strata_policy_default(strata_policy *p);

/* Output file size of a merge into out_level (>= 2):
 * merge.target_bytes x merge.fanout^(out_level - 1), capped at 1 TiB — the
 * same rule `strata merge` uses. */
uint64_t strata_pol_merge_target_bytes(const strata_policy *p, int out_level);

/* Wait after `failures` consecutive failed or conflicted jobs (0: none):
 * 2^(failures-1) x policy.backoff_s, capped at policy.backoff_max_s. */
int64_t strata_pol_backoff_us(uint32_t failures, const strata_policy *p);

/* ------------------------------------------------------------------------ */
/* Bucket planning: sort, merge, partial compaction                         */
/* ------------------------------------------------------------------------ */

#define STRATA_POL_LEVELS 32 /* levels >= 31 are counted in the last slot */

/* One live file of the bucket. */
typedef struct strata_pol_file {
	uint8_t level;
	uint64_t bytes, rows, tombstones;
	int64_t seq_min, seq_max;
	int64_t added_us;       /* commit time of the version that added it */
	const uint8_t *sketch;  /* STRATA_SKETCH_REGS registers, lent; NULL: none */
	bool is_compact;        /* every key once and no delete (the manifest's
				   is_compact): its distinct count is rows, exactly */
} strata_pol_file;

typedef struct strata_pol_bucket {
	const strata_pol_file *files; /* live files, any order */
	size_t nfiles;
	uint64_t floor;               /* the bucket's history floor */
	uint64_t boundary;            /* retention boundary B: last version at or
					 before now - retention (0: none that old);
					 never above the oldest tag */
	int64_t boundary_ts_us;       /* commit time of B (0: none) */
	int64_t next_boundary_us;     /* when B moves next: commit time of B+1 plus
					 the retention (0: B is the latest version) */
	int64_t history_since_us;     /* commit time of the oldest version above the
					 floor still in the log (0: unknown) */
	int64_t retain_s;             /* effective retention in seconds */
	uint32_t failures;            /* consecutive failed or conflicted jobs */
	int64_t failed_us;            /* when the last of them ended */
	int64_t due_since_us[3];      /* since when sort, merge, compact have been
					 due without running (0: not due before) */
	uint64_t compact_bar_rows;    /* a partial compaction is due only when its
					 estimated superseded records exceed this
					 (0: any); raised by the daemon after a
					 compaction that dropped nothing */
} strata_pol_bucket;

typedef enum strata_pol_kind {
	STRATA_POL_SORT = 0,
	STRATA_POL_MERGE,
	STRATA_POL_COMPACT,
	STRATA_POL_CLEAN,
	STRATA_POL_EXPIRE, /* partition TTL (partition.expiration-time) */
	STRATA_POL_NKINDS
} strata_pol_kind;

/* "sort", "merge", "compact", "clean", "expire" */
const char *strata_pol_kind_name(strata_pol_kind k);

/* One kind's verdict: whether it is due, its score, and the comparison that
 * decided it ("5 row files >= sort.min_files 4"). */
typedef struct strata_pol_check {
	strata_pol_kind kind;
	bool is_due;
	double score;          /* > 0 only when due; higher runs first */
	int level;             /* merge: the input level (output: level + 1) */
	int through;           /* merge, when > level: a paired merge of levels level..through
				  (output: through + 1); 0: level alone */
	char why[320];
} strata_pol_check;

/* The numbers a bucket decision compared (also exported as metrics). */
typedef struct strata_pol_stats {
	size_t files_per_level[STRATA_POL_LEVELS];
	uint64_t bytes_per_level[STRATA_POL_LEVELS];
	size_t small_per_level[STRATA_POL_LEVELS]; /* < merge.small_bytes */
	size_t files;
	uint64_t bytes, rows;
	int64_t l0_oldest_us;      /* 0: no row files */
	double distinct_keys;      /* sketch estimate over every live file */
	uint64_t history_bytes;    /* estimated bytes of superseded records */
	uint64_t garbage_rows;     /* superseded records at or below B (estimate) */
	uint64_t garbage_bytes;
	double garbage_ratio;      /* garbage_bytes / bytes */
	int64_t history_lag_s;     /* how much older than the retention window the
				      oldest uncompacted history is (< 0: inside) */
} strata_pol_stats;

typedef struct strata_pol_plan {
	strata_pol_stats st;
	strata_pol_check checks[3];  /* [0] sort, [1] merge, [2] compact */
	int best;                    /* index into checks, -1: nothing to run */
	bool is_backing_off;         /* something is due but the bucket waits */
	int64_t backoff_until_us;    /* 0 unless backing off */
	uint64_t merge_target_bytes; /* output size if best is the merge */
	int64_t next_due_us;         /* when the verdict can change without a new
					commit or job (INT64_MAX: never) */
} strata_pol_plan;

/* Plan one bucket.  Always fills every check (for `strata admin plan` and the
 * debug log), picks the highest score as best unless backing off. */
void strata_pol_plan_bucket(const strata_pol_bucket *in, const strata_policy *p,
			    int64_t now_us, strata_pol_plan *out);

/* ------------------------------------------------------------------------ */
/* Table planning: clean                                                    */
/* ------------------------------------------------------------------------ */

/* One removed file entry of the table (live files are not cleaned). */
typedef struct strata_pol_gone {
	uint64_t bytes;
	uint64_t removed_version;
	int64_t removed_us;
	bool removed_kept_history; /* false: a major compaction replaced it */
	bool is_deleted;           /* marked deleted: its file is in the trash */
	int64_t deleted_us;
} strata_pol_gone;

typedef struct strata_pol_table {
	const strata_pol_gone *gone;
	size_t ngone;
	uint64_t boundary;            /* retention boundary of the table's own
					 property (clean's rule for files a major
					 compaction replaced) */
	int64_t next_boundary_us;     /* when that boundary moves next (0: never) */
	int64_t last_clean_us;        /* start of the last finished clean (0: none) */
	int64_t last_clean_cost_us;   /* how long it took (0: not known) */
	size_t marked_in_place;       /* files it marked deleted but left in
					 their bucket for a reader's lease */
	int64_t last_orphan_scan_us;  /* start of the last orphan scan (0: none) */
	uint32_t failures;
	int64_t failed_us;
} strata_pol_table;

typedef struct strata_pol_clean {
	strata_pol_check check;
	size_t eligible;            /* removed files clean may delete now */
	uint64_t eligible_bytes;
	size_t in_grace, in_retention;
	size_t trash_due;           /* trashed files whose clean.trash_s has passed */
	size_t trash_files;         /* entries marked deleted (their files in trash) */
	uint64_t trash_bytes;
	bool is_orphan_scan;        /* this clean also scans for orphans */
	bool is_backing_off;
	int64_t backoff_until_us;
	int64_t next_due_us;
} strata_pol_clean;

/* Plan the clean of one table. */
void strata_pol_plan_clean(const strata_pol_table *in, const strata_policy *p, int64_t now_us,
			   strata_pol_clean *out);

/* ------------------------------------------------------------------------ */
/* Table planning: partition expiry (TTL)                                   */
/* ------------------------------------------------------------------------ */

/* The time a partition value names, in µs since the epoch (UTC): the start
 * of the day or hour it names, or the instant.  Accepted: YYYY-MM-DD,
 * YYYYMMDD, YYYY-MM-DD HH (also YYYY-MM-DDTHH, YYYY-MM-DD-HH), YYYYMMDDHH,
 * YYYY-MM-DD HH:MM[:SS[.ffffff]] (T instead of the space and a trailing Z
 * accepted).  STRATA_EINVAL for anything else. */
int strata_pol_part_time(const char *value, int64_t *out_us);

/* One partition of a table with partition.expiration-time set. */
typedef struct strata_pol_part {
	const char *name;  /* escaped partition name (lent) */
	const char *value; /* its value of the expiration column (lent) */
	bool has_data;     /* holds a live file */
} strata_pol_part;

typedef struct strata_pol_expiry {
	bool is_due;       /* drop it now */
	int64_t time_us;   /* the time its value names (0: none) */
	char why[240];     /* "dt=2026-11-01: 2026-11-01 00:00:00 + 30d <= now ..." */
} strata_pol_expiry;

/* Which partitions have expired: a partition with data whose value of the
 * expiration column names time T expires when T + expire_s <= now.  out
 * gets one verdict per partition (same order); *ndue the number due;
 * *next_due_us the earliest time a partition with data not yet due will be
 * (INT64_MAX: none).  expire_s <= 0: nothing is ever due. */
void strata_pol_plan_expiry(const strata_pol_part *parts, size_t nparts, int64_t expire_s,
			    int64_t now_us, strata_pol_expiry *out, size_t *ndue,
			    int64_t *next_due_us);

#endif
