/*
 * tests/test_policies.c — the pure planners, case by case.
 *
 * Each row of a table is one bucket (or table) and the verdict it must get:
 * which kind is due, which wins, the merge level, a phrase of the reason,
 * whether the bucket backs off and when the verdict may change next.  Rows
 * sit on both sides of every threshold (counts, ages, bytes, ratios, the
 * retention boundary and the floor, the back-off and its cap), so every
 * branch of policies/policies.c is taken.  Time is the parameter NOW; files
 * carry ages relative to it.  Key sets for the distinct-key sketches are
 * integer ranges, so overlapping ranges make superseded history.
 */
#include "tests/util/testutil.h"

#include "policies/policies.h"

#include <inttypes.h>

#define NOW (1767225600ll * 1000000)
#define S 1000000ll
#define MiB (1ull << 20)
#define NEVER INT64_MAX
#define DUE_NOW INT64_MIN
#define ANY (INT64_MIN + 1)

typedef struct fspec {
	uint8_t level;
	uint64_t bytes, rows;
	int64_t seq_min, seq_max;
	int64_t age_s;          /* added this long before NOW */
	int keys_from, keys_n;  /* sketch over keys [from, from + n); n 0: as many as rows */
} fspec;

typedef struct bcase {
	const char *name;
	fspec f[12];
	int nf;
	uint64_t floor, boundary;
	int64_t history_age_s;  /* history_since = NOW - this (0: unknown) */
	int64_t next_boundary_in_s; /* 0: none */
	int64_t retain_s;
	uint32_t failures;
	int64_t failed_ago_s;
	int64_t due_for_s[3];   /* due_since = NOW - this (0: not due before) */
	/* policy tweaks (0: default) */
	int64_t min_files, max_delay_s;
	double min_ratio;
	int64_t max_delay_zero; /* 1: sort.max_delay_s = 0 */
	int64_t fanout;         /* merge.fanout */
	int small_zero;         /* 1: merge.small_bytes = 0 */
	uint64_t small;         /* merge.small_bytes */
	/* expectations */
	int best;               /* -1 none, 0 sort, 1 merge, 2 compact */
	int due[3];             /* 1 due, 0 not */
	int level;              /* merge level when due */
	int through;            /* a paired merge's upper level (0: none) */
	uint64_t target;        /* merge target (0: do not check) */
	int why_check;          /* which check's why to search */
	const char *why;
	bool backoff;
	int64_t next_in_s;      /* NEVER, DUE_NOW, ANY or seconds after NOW */
} bcase;

static uint8_t sketches[16][STRATA_SKETCH_REGS];

static void make_sketch(uint8_t *regs, int from, int n)
{
	memset(regs, 0, STRATA_SKETCH_REGS);
	for (int k = from; k < from + n; k++) {
		uint8_t key[8];
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)((uint64_t)k >> (56 - 8 * i));
		strata_sketch_add(regs, key, sizeof(key));
	}
}

#define L0(age) {0, 1000, 10, 1, 1, (age), 0, 0}
#define LV(l, bytes) {(l), (bytes), 100, 1, 1, 1000, 0, 0}

/* Rows without a policy tweak take strata_policy_default(); rows written
 * for the defaults before issue 16 (merge.fanout 8, merge.small_bytes 4 MiB,
 * compact.min_garbage_ratio 0.3) set them. */
static const bcase bucket_cases[] = {
	{.name = "empty bucket", .nf = 0, .best = -1, .why_check = 0, .why = "no row files",
	 .next_in_s = NEVER},
	{.name = "sort: row files reach sort.min_files", .f = {L0(10), L0(9), L0(8), L0(7)}, .nf = 4,
	 .best = 0, .due = {1, 0, 0}, .why_check = 0, .why = "4 row files >= sort.min_files 4",
	 .next_in_s = DUE_NOW},
	{.name = "sort: one file short, young: waits for the delay", .f = {L0(10), L0(9), L0(8)},
	 .nf = 3, .best = -1, .why_check = 0, .why = "3 row files < sort.min_files 4, oldest 10 s <",
	 .next_in_s = 290},
	{.name = "sort: oldest row file past sort.max_delay_s", .f = {L0(300)}, .nf = 1, .best = 0,
	 .due = {1, 0, 0}, .why_check = 0, .why = "oldest 300 s >= sort.max_delay_s 300",
	 .next_in_s = DUE_NOW},
	{.name = "sort: one second before the delay", .f = {L0(299)}, .nf = 1, .best = -1,
	 .why_check = 0, .why = "oldest 299 s < sort.max_delay_s", .next_in_s = 1},
	{.name = "sort: bytes reach sort.max_bytes", .f = {{0, 64 * MiB, 10, 1, 1, 1, 0, 0}}, .nf = 1,
	 .best = 0, .due = {1, 0, 0}, .why_check = 0, .why = "67108864 bytes >= sort.max_bytes",
	 .next_in_s = DUE_NOW},
	{.name = "sort: a byte short of sort.max_bytes", .f = {{0, 64 * MiB - 1, 10, 1, 1, 1, 0, 0}},
	 .nf = 1, .best = -1, .why_check = 0, .why = "67108863 bytes < sort.max_bytes",
	 .next_in_s = 299},
	{.name = "sort: sort.max_delay_s 0 sorts every row file at once", .f = {L0(0)}, .nf = 1,
	 .max_delay_zero = 1, .best = 0, .due = {1, 0, 0}, .next_in_s = DUE_NOW},
	{.name = "sort: sort.min_files 1", .f = {L0(0)}, .nf = 1, .min_files = 1, .best = 0,
	 .due = {1, 0, 0}, .why = "1 row files >= sort.min_files 1", .next_in_s = DUE_NOW},
	{.name = "merge: level 1 reaches merge.fanout", .fanout = 8, .small = 4 * MiB,
	 .f = {LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB),
	       LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB)},
	 .nf = 8, .best = 1, .due = {0, 1, 0}, .level = 1, .target = 128 * MiB, .why_check = 1,
	 .why = "level 1: 8 files >= merge.fanout 8, 0 smaller", .next_in_s = DUE_NOW},
	{.name = "merge: one file short of the fanout", .fanout = 8, .small = 4 * MiB,
	 .f = {LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB),
	       LV(1, 8 * MiB), LV(1, 8 * MiB)},
	 .nf = 7, .best = -1, .why_check = 1,
	 .why = "no level due: fullest is level 1 with 7 files < merge.fanout 8, 0 smaller",
	 .next_in_s = NEVER},
	{.name = "merge: two small files", .fanout = 8, .small = 4 * MiB, .f = {LV(1, MiB), LV(1, 4 * MiB - 1)}, .nf = 2, .best = 1,
	 .due = {0, 1, 0}, .level = 1, .why_check = 1,
	 .why = "2 smaller than merge.small_bytes 4194304 >= 2", .next_in_s = DUE_NOW},
	{.name = "merge: a file of exactly merge.small_bytes is not small", .fanout = 8, .small = 4 * MiB,
	 .f = {LV(1, MiB), LV(1, 4 * MiB)}, .nf = 2, .best = -1, .why_check = 1,
	 .why = "1 smaller than merge.small_bytes 4194304 (< 2)", .next_in_s = NEVER},
	{.name = "merge: the level under more pressure wins", .fanout = 8, .small = 4 * MiB,
	 .f = {LV(1, MiB), LV(1, MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB),
	       LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB),
	       LV(2, 8 * MiB)},
	 .nf = 12, .best = 1, .due = {0, 1, 0}, .level = 2, .target = 1024 * MiB, .why_check = 1,
	 .why = "level 2: 10 files >= merge.fanout 8", .next_in_s = DUE_NOW},
	{.name = "merge: equal pressure, the lower level", .fanout = 8, .small = 4 * MiB,
	 .f = {LV(2, MiB), LV(2, MiB), LV(1, MiB), LV(1, MiB)}, .nf = 4, .best = 1, .due = {0, 1, 0},
	 .level = 1, .target = 128 * MiB, .next_in_s = DUE_NOW},
	/* the crowded bucket (issue 16): merge.fanout bounds the runs above
	 * level 0 of the whole bucket, not only of one level */
	{.name = "merge: a crowded bucket merges a level of two",
	 .f = {LV(1, 8 * MiB), LV(1, 8 * MiB), LV(2, 8 * MiB), LV(3, 8 * MiB)}, .nf = 4, .fanout = 4,
	 .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 1, .why_check = 1,
	 .why = "level 1: 2 files < merge.fanout 4, 0 smaller than merge.small_bytes 0 < 2, 4 files "
		"above level 0 >= merge.fanout",
	 .next_in_s = DUE_NOW},
	{.name = "merge: one run short of crowded",
	 .f = {LV(1, 8 * MiB), LV(1, 8 * MiB), LV(2, 8 * MiB)}, .nf = 3, .fanout = 4, .small_zero = 1,
	 .best = -1, .why_check = 1, .why = "3 files above level 0 < merge.fanout", .next_in_s = NEVER},
	{.name = "merge: crowded, the level of the fewest bytes",
	 .f = {LV(1, 8 * MiB), LV(1, 8 * MiB), LV(2, MiB), LV(2, MiB), LV(3, 64 * MiB)}, .nf = 5,
	 .fanout = 4, .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 2,
	 .why = "level 2: 2 files < merge.fanout 4", .why_check = 1, .next_in_s = DUE_NOW},
	{.name = "merge: crowded, equal bytes: the lowest level",
	 .f = {LV(1, MiB), LV(1, MiB), LV(2, MiB), LV(2, MiB)}, .nf = 4, .fanout = 4,
	 .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 1, .next_in_s = DUE_NOW},
	{.name = "merge: a level at its fanout goes before the cheapest crowded one",
	 .f = {LV(1, MiB), LV(1, MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB), LV(2, 8 * MiB)},
	 .nf = 6, .fanout = 4, .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 2,
	 .next_in_s = DUE_NOW},
	/* one file on each level: a paired merge.  It used to wait for the
	 * next sort, and a bucket held sort.min_files + fanout + 1 runs (9) */
	{.name = "merge: crowded, no level holds two: a paired merge of the lowest",
	 .f = {LV(1, 8 * MiB), LV(2, 8 * MiB), LV(3, 8 * MiB), LV(4, 8 * MiB)}, .nf = 4, .fanout = 4,
	 .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 1, .through = 2,
	 .why_check = 1,
	 .why = "4 files above level 0 >= merge.fanout 4, no level holds two: levels 1 and 2 into "
		"level 3",
	 .next_in_s = DUE_NOW},
	{.name = "merge: a paired merge takes the cheapest two levels next to each other",
	 .f = {LV(1, 8 * MiB), LV(2, MiB), LV(4, MiB), LV(6, 64 * MiB)}, .nf = 4, .fanout = 4,
	 .small_zero = 1, .best = 1, .due = {0, 1, 0}, .level = 2, .through = 4, .why_check = 1,
	 .why = "levels 2 and 4 into level 5", .next_in_s = DUE_NOW},
	{.name = "merge: one file on each level, one short of crowded",
	 .f = {LV(1, 8 * MiB), LV(2, 8 * MiB), LV(3, 8 * MiB)}, .nf = 3, .fanout = 4,
	 .small_zero = 1, .best = -1, .why_check = 1,
	 .why = "3 files above level 0 < merge.fanout", .next_in_s = NEVER},
	{.name = "merge: level 0 is the sort's business", .f = {L0(1), L0(1)}, .nf = 2, .best = -1,
	 .why_check = 1, .why = "no files above level 0", .next_in_s = 299},
	{.name = "sort outranks merge at equal pressure", .fanout = 8, .small = 4 * MiB,
	 .f = {L0(1), L0(1), L0(1), L0(1), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB),
	       LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB), LV(1, 8 * MiB)},
	 .nf = 12, .best = 0, .due = {1, 1, 0}, .level = 1, .next_in_s = DUE_NOW},
	{.name = "compact: no version older than the window",
	 .f = {{1, MiB, 2000, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 0, .retain_s = 3600,
	 .best = -1, .why_check = 2, .why = "no version is older than the retention window (3600 s)",
	 .next_in_s = NEVER},
	{.name = "compact: boundary moving later is looked at again (at least a minute on)",
	 .f = {{1, MiB, 2000, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 0, .retain_s = 3600,
	 .next_boundary_in_s = 5, .best = -1, .next_in_s = 60},
	{.name = "compact: boundary not above the floor",
	 .f = {{1, MiB, 2000, 1, 100, 10, 0, 1000}}, .nf = 1, .floor = 50, .boundary = 50,
	 .retain_s = 3600, .best = -1, .why_check = 2,
	 .why = "retention boundary 50 is not above the history floor 50", .next_in_s = NEVER},
	{.name = "compact: no live file reaches down to the boundary",
	 .f = {{1, MiB, 2000, 60, 100, 10, 0, 1000}}, .nf = 1, .floor = 10, .boundary = 50,
	 .retain_s = 3600, .best = -1, .why_check = 2,
	 .why = "no live file holds records at or below boundary 50", .next_in_s = NEVER},
	{.name = "compact: most records superseded below the boundary", .min_ratio = 0.3,
	 .f = {{1, MiB, 10000, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .best = 2, .due = {0, 0, 1}, .why_check = 2, .why = "compact.min_garbage_ratio 0.300",
	 .next_in_s = DUE_NOW},
	{.name = "compact: same garbage under a ratio of 0.95 waits",
	 .f = {{1, MiB, 10000, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .min_ratio = 0.95, .best = -1, .why_check = 2, .why = "<= compact.min_garbage_ratio 0.950",
	 .next_in_s = NEVER},
	{.name = "compact: unique keys are not garbage",
	 .f = {{1, MiB, 1000, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .best = -1, .why_check = 2, .why = "age unknown", .next_in_s = NEVER},
	{.name = "compact: records above the boundary are not counted (interpolation)",
	 .f = {{1, MiB, 2000, 1, 200, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .best = -1, .due = {0, 0, 0}, .next_in_s = NEVER},
	{.name = "compact: records below the floor count once per key",
	 .f = {{1, MiB, 2000, 1, 200, 10, 0, 1000}}, .nf = 1, .floor = 100, .boundary = 110,
	 .retain_s = 3600, .best = -1, .due = {0, 0, 0}, .next_in_s = NEVER},
	{.name = "compact: a little garbage, history past retention + compact.max_lag_s", .min_ratio = 0.3,
	 .f = {{1, MiB, 1300, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .history_age_s = 3600 + 3600 + 10, .best = 2, .due = {0, 0, 1}, .why_check = 2,
	 .why = "is 3610 s past retention >= compact.max_lag_s 3600", .next_in_s = DUE_NOW},
	{.name = "compact: the same, ten seconds before the lag", .min_ratio = 0.3,
	 .f = {{1, MiB, 1300, 1, 100, 10, 0, 1000}}, .nf = 1, .boundary = 100, .retain_s = 3600,
	 .history_age_s = 3600 + 3600 - 10, .best = -1, .why_check = 2,
	 .why = "is 3590 s past retention < compact.max_lag_s 3600", .next_in_s = 10},
	{.name = "back-off: first failure waits policy.backoff_s", .f = {L0(400)}, .nf = 1,
	 .failures = 1, .failed_ago_s = 2, .best = -1, .due = {1, 0, 0}, .backoff = true,
	 .next_in_s = 3},
	{.name = "back-off: over", .f = {L0(400)}, .nf = 1, .failures = 1, .failed_ago_s = 5,
	 .best = 0, .due = {1, 0, 0}, .next_in_s = DUE_NOW},
	{.name = "back-off: doubles per failure", .f = {L0(400)}, .nf = 1, .failures = 3,
	 .failed_ago_s = 15, .best = -1, .due = {1, 0, 0}, .backoff = true, .next_in_s = 5},
	{.name = "back-off: capped at policy.backoff_max_s", .f = {L0(400)}, .nf = 1,
	 .failures = 30, .failed_ago_s = 599, .best = -1, .due = {1, 0, 0}, .backoff = true,
	 .next_in_s = 1},
	{.name = "back-off: nothing due, nothing to wait for", .f = {L0(10)}, .nf = 1,
	 .failures = 3, .failed_ago_s = 1, .best = -1, .backoff = false, .next_in_s = 290},
	{.name = "aging: a fresh compaction waits behind a sort",
	 .f = {L0(1), L0(1), L0(1), L0(1), {1, MiB, 10000, 1, 5, 10, 0, 1000}}, .nf = 5, .boundary = 5,
	 .retain_s = 3600, .min_ratio = 0.5, .best = 0, .due = {1, 0, 1}, .next_in_s = DUE_NOW},
	{.name = "aging: a compaction due for two minutes outranks a fresh sort",
	 .f = {L0(1), L0(1), L0(1), L0(1), {1, MiB, 10000, 1, 5, 10, 0, 1000}}, .nf = 5, .boundary = 5,
	 .retain_s = 3600, .min_ratio = 0.5, .due_for_s = {0, 0, 120}, .best = 2, .due = {1, 0, 1},
	 .why_check = 2,
	 .why = "; due for 120 s: score x3.00", .next_in_s = DUE_NOW},
	{.name = "aging: capped at x11",
	 .f = {L0(1), L0(1), L0(1), L0(1)}, .nf = 4, .due_for_s = {100000, 0, 0}, .best = 0,
	 .due = {1, 0, 0}, .why_check = 0, .why = "score x11.00", .next_in_s = DUE_NOW},
	{.name = "levels past the last slot are counted, never merged",
	 .f = {LV(40, MiB), LV(40, MiB), LV(200, MiB)}, .nf = 3, .best = -1, .next_in_s = NEVER},
};

static void fill_files(const bcase *c, strata_pol_file *files)
{
	for (int i = 0; i < c->nf; i++) {
		const fspec *f = &c->f[i];
		files[i] = (strata_pol_file){
			.level = f->level,
			.bytes = f->bytes,
			.rows = f->rows,
			.seq_min = f->seq_min,
			.seq_max = f->seq_max,
			.added_us = NOW - f->age_s * S,
		};
		make_sketch(sketches[i], f->keys_from, f->keys_n ? f->keys_n : (int)f->rows);
		files[i].sketch = sketches[i];
	}
}

static void test_bucket_table(void)
{
	for (size_t k = 0; k < STRATA_ARRAY_LEN(bucket_cases); k++) {
		const bcase *c = &bucket_cases[k];
		strata_policy p;
		strata_policy_default(&p);
		/* the cases were written for sort.min_files 4 and merge.fanout 4
		 * (the defaults until the end of issue 16); a case may set its own */
		p.sort_min_files = 4;
		p.merge_fanout = 4;
		if (c->min_files)
			p.sort_min_files = c->min_files;
		if (c->max_delay_zero)
			p.sort_max_delay_s = 0;
		if (c->min_ratio > 0)
			p.compact_min_garbage_ratio = c->min_ratio;
		if (c->fanout)
			p.merge_fanout = c->fanout;
		if (c->small_zero)
			p.merge_small_bytes = 0;
		if (c->small)
			p.merge_small_bytes = c->small;
		strata_pol_file files[16];
		fill_files(c, files);
		strata_pol_bucket in = {
			.files = files,
			.nfiles = (size_t)c->nf,
			.floor = c->floor,
			.boundary = c->boundary,
			.boundary_ts_us = c->boundary ? NOW - c->retain_s * S : 0,
			.next_boundary_us = c->next_boundary_in_s ? NOW + c->next_boundary_in_s * S : 0,
			.history_since_us = c->history_age_s ? NOW - c->history_age_s * S : 0,
			.retain_s = c->retain_s,
			.failures = c->failures,
			.failed_us = NOW - c->failed_ago_s * S,
		};
		for (int i = 0; i < 3; i++)
			in.due_since_us[i] = c->due_for_s[i] ? NOW - c->due_for_s[i] * S : 0;
		strata_pol_plan out;
		strata_pol_plan_bucket(&in, &p, NOW, &out);
		bool ok = out.best == c->best && out.is_backing_off == c->backoff;
		for (int i = 0; i < 3; i++)
			if (c->due[i] != (int)out.checks[i].is_due)
				ok = false;
		if (c->best == 1 && (out.checks[1].level != c->level ||
				     out.checks[1].through != c->through))
			ok = false;
		if (c->best == 1 && c->target && out.merge_target_bytes != c->target)
			ok = false;
		if (c->why && !strstr(out.checks[c->why_check].why, c->why))
			ok = false;
		int64_t want = c->next_in_s == NEVER ? NEVER :
			       c->next_in_s == DUE_NOW ? NOW :
			       NOW + c->next_in_s * S;
		if (c->next_in_s != ANY && out.next_due_us != want)
			ok = false;
		for (int i = 0; i < 3; i++)
			if (out.checks[i].is_due != (out.checks[i].score > 0))
				ok = false; /* a score exactly when due */
		if (!ok) {
			fprintf(stderr, "\ncase \"%s\": best %d (want %d), backoff %d (want %d), next %+.3f s\n",
				c->name, out.best, c->best, out.is_backing_off, c->backoff,
				out.next_due_us == NEVER ? 1e18 : (double)(out.next_due_us - NOW) / 1e6);
			for (int i = 0; i < 3; i++)
				fprintf(stderr, "  %-7s due %d score %.2f level %d: %s\n",
					strata_pol_kind_name(out.checks[i].kind), out.checks[i].is_due,
					out.checks[i].score, out.checks[i].level, out.checks[i].why);
		}
		CU_ASSERT(ok);
	}
}

/* Issue 11: a partial compaction is never scheduled on the sketch's noise
 * alone.  With compact.max_lag_s = 0, an idle retention-0 bucket was
 * rewritten at every scan, dropping nothing. */
static void test_compact_only_with_garbage(void)
{
	/* a key count whose sketch estimate falls short of it: noise looks like
	 * superseded records */
	static uint8_t regs[STRATA_SKETCH_REGS], regs2[STRATA_SKETCH_REGS];
	int n = 0;
	for (int k = 100; k < 20000 && !n; k += 7) {
		make_sketch(regs, 0, k);
		if (strata_sketch_estimate(regs) < k - 3)
			n = k;
	}
	CU_ASSERT_FATAL(n > 0);
	strata_policy p;
	strata_policy_default(&p);
	p.compact_max_lag_s = 0;
	strata_pol_file f[2] = {{.level = 1, .bytes = MiB, .rows = (uint64_t)n, .seq_min = 1,
				 .seq_max = 50, .added_us = NOW - 100 * S, .sketch = regs}};
	strata_pol_bucket in = {.files = f, .nfiles = 1, .floor = 0, .boundary = 50,
				.boundary_ts_us = NOW, .history_since_us = NOW - 10 * S, .retain_s = 0};
	strata_pol_plan out;
	/* (a) a file not known to hold every key once: the estimate is all there is */
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	uint64_t noise = out.st.garbage_rows;
	CU_ASSERT(noise > 0);
	CU_ASSERT(out.checks[2].is_due);
	/* (b) the same file known to hold every key once: exactly no garbage */
	f[0].is_compact = true;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	CU_ASSERT_EQUAL(out.st.garbage_rows, 0);
	CU_ASSERT(!out.checks[2].is_due);
	CU_ASSERT_EQUAL(out.best, -1);
	/* (c) the idle bucket compacted once: every record is at or below the
	 * floor (one per key), the boundary is the compaction's own version */
	f[0].is_compact = false;
	in.floor = 50;
	in.boundary = 51;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	if (out.checks[2].is_due)
		fprintf(stderr, "\nidle bucket compacted once: %s\n", out.checks[2].why);
	CU_ASSERT_EQUAL(out.st.garbage_rows, 0);
	CU_ASSERT(!out.checks[2].is_due);
	CU_ASSERT_EQUAL(out.next_due_us, NEVER);
	/* (d) a compaction that dropped nothing raises the bar to what it was
	 * planned on: the same files never schedule it again */
	in.floor = 0;
	in.boundary = 50;
	in.compact_bar_rows = noise;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	CU_ASSERT(!out.checks[2].is_due);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.checks[2].why, "dropped nothing: due only above"));
	in.compact_bar_rows = noise - 1;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	CU_ASSERT(out.checks[2].is_due);
	/* (e) real garbage above the floor still counts: half the keys written
	 * again after the compaction */
	in.compact_bar_rows = 0;
	in.floor = 50;
	in.boundary = 60;
	f[0].is_compact = true;
	make_sketch(regs2, 0, n / 2);
	f[1] = (strata_pol_file){.level = 0, .bytes = MiB / 2, .rows = (uint64_t)(n / 2), .seq_min = 60,
				 .seq_max = 60, .added_us = NOW - 20 * S, .sketch = regs2,
				 .is_compact = true};
	in.nfiles = 2;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	CU_ASSERT_EQUAL(out.st.garbage_rows, (uint64_t)(n / 2));
	CU_ASSERT(out.checks[2].is_due);
}

static void test_bucket_stats(void)
{
	/* 3 files: 2 row files and a level-2 file holding keys 0..999 twice over */
	bcase c = {.f = {{0, 100, 10, 5, 5, 30, 0, 10}, {0, 300, 10, 6, 6, 20, 0, 10},
			 {2, 20000, 2000, 1, 4, 100, 0, 1000}},
		   .nf = 3};
	strata_pol_file files[3];
	fill_files(&c, files);
	strata_policy p;
	strata_policy_default(&p);
	p.merge_small_bytes = 4 * MiB; /* the default is 0: nothing is small */
	strata_pol_bucket in = {.files = files, .nfiles = 3};
	strata_pol_plan out;
	strata_pol_plan_bucket(&in, &p, NOW, &out);
	CU_ASSERT_EQUAL(out.st.files, 3);
	CU_ASSERT_EQUAL(out.st.files_per_level[0], 2);
	CU_ASSERT_EQUAL(out.st.files_per_level[2], 1);
	CU_ASSERT_EQUAL(out.st.bytes_per_level[0], 400);
	CU_ASSERT_EQUAL(out.st.bytes, 20400);
	CU_ASSERT_EQUAL(out.st.rows, 2020);
	CU_ASSERT_EQUAL(out.st.small_per_level[2], 1);
	CU_ASSERT_EQUAL(out.st.l0_oldest_us, NOW - 30 * S);
	/* about 1000 distinct keys: about half the rows are history */
	CU_ASSERT(out.st.distinct_keys > 900 && out.st.distinct_keys < 1100);
	CU_ASSERT(out.st.history_bytes > 8000 && out.st.history_bytes < 12000);
}

static void test_backoff_and_targets(void)
{
	strata_policy p;
	strata_policy_default(&p);
	static const struct {
		uint32_t failures;
		int64_t base_s, max_s, want_s;
	} rows[] = {
		{0, 5, 600, 0},   {1, 5, 600, 5},   {2, 5, 600, 10},  {3, 5, 600, 20},
		{7, 5, 600, 320}, {8, 5, 600, 600}, {100, 5, 600, 600}, {1, 7, 10, 7},
		{2, 7, 10, 10},   {1, 20, 10, 10},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(rows); i++) {
		p.backoff_s = rows[i].base_s;
		p.backoff_max_s = rows[i].max_s;
		int64_t got = strata_pol_backoff_us(rows[i].failures, &p);
		if (got != rows[i].want_s * S)
			fprintf(stderr, "\nbackoff(%u, %lld, %lld) = %lld us, want %lld s\n",
				rows[i].failures, (long long)rows[i].base_s, (long long)rows[i].max_s,
				(long long)got, (long long)rows[i].want_s);
		CU_ASSERT_EQUAL(got, rows[i].want_s * S);
	}
	strata_policy_default(&p);
	/* the defaults: sort.min_files + merge.fanout = 8 runs a bucket */
	CU_ASSERT_EQUAL(p.sort_min_files, 3);
	CU_ASSERT_EQUAL(p.merge_fanout, 5);
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 1), 16 * MiB);
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 2), 80 * MiB);
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 3), 400 * MiB);
	p.merge_fanout = 8;
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 2), 128 * MiB);
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 3), 1024 * MiB);
	CU_ASSERT_EQUAL(strata_pol_merge_target_bytes(&p, 30), 1ull << 40);
	CU_ASSERT_STRING_EQUAL(strata_pol_kind_name(STRATA_POL_COMPACT), "compact");
	CU_ASSERT_STRING_EQUAL(strata_pol_kind_name(STRATA_POL_NKINDS), "?");
}

/* ---- clean ------------------------------------------------------------------------------ */

typedef struct gspec {
	uint64_t removed_version;
	int64_t removed_ago_s;
	bool kept_history, is_deleted;
	int64_t deleted_ago_s;
} gspec;

typedef struct ccase {
	const char *name;
	gspec g[4];
	int ng;
	uint64_t boundary;
	int64_t next_boundary_in_s;
	int64_t last_clean_ago_s;   /* 0: never */
	int64_t last_clean_cost_ms; /* its duration (0: not known) */
	int64_t last_orphan_ago_s;  /* 0: never */
	int64_t orphan_scan_s;      /* -1: 0 (off); 0: default */
	uint32_t failures;
	int64_t failed_ago_s;
	size_t marked_in_place;     /* left in their bucket by the last clean */
	bool due, orphan, backoff;
	size_t eligible, in_grace, in_retention, trash_due;
	const char *why;
	int64_t next_in_s;
} ccase;

static const ccase clean_cases[] = {
	{.name = "nothing removed, orphan scans off", .orphan_scan_s = -1, .due = false,
	 .why = "orphan scans off", .next_in_s = NEVER},
	{.name = "first scan: orphans are due", .due = true, .orphan = true,
	 .why = "orphan scan due (clean.orphan_scan_s 3600)", .next_in_s = DUE_NOW},
	{.name = "orphan scan an hour after the last", .last_orphan_ago_s = 3600, .due = true,
	 .orphan = true, .next_in_s = DUE_NOW},
	{.name = "orphan scan not yet", .last_orphan_ago_s = 100, .due = false,
	 .why = "next orphan scan in 3500 s", .next_in_s = 3500},
	{.name = "removed past clean.grace_s", .g = {{10, 300, true, false, 0}}, .ng = 1,
	 .orphan_scan_s = -1, .due = true, .eligible = 1,
	 .why = "1 removed files (1000 bytes) may go", .next_in_s = DUE_NOW},
	/* spacing (issue 16): a clean holds eligible files back for 10 times
	 * its duration after it started, at least 1 s, at most grace / 4 = 75 s */
	{.name = "removed past clean.grace_s, a 20 s clean 30 s ago", .g = {{10, 300, true, false, 0}},
	 .ng = 1, .last_clean_ago_s = 30, .last_clean_cost_ms = 20000, .orphan_scan_s = -1,
	 .due = false, .eligible = 1,
	 .why = "the removed files wait 45 s more (cleans are spaced by 10 x the last one's 20.0 s, "
		"between 1 s and clean.grace_s / 4)",
	 .next_in_s = 45},
	{.name = "removed past clean.grace_s, a 20 s clean 75 s ago", .g = {{10, 300, true, false, 0}},
	 .ng = 1, .last_clean_ago_s = 75, .last_clean_cost_ms = 20000, .orphan_scan_s = -1,
	 .due = true, .eligible = 1, .next_in_s = DUE_NOW},
	{.name = "removed past clean.grace_s, a 2 s clean 5 s ago", .g = {{10, 300, true, false, 0}},
	 .ng = 1, .last_clean_ago_s = 5, .last_clean_cost_ms = 2000, .orphan_scan_s = -1,
	 .due = false, .eligible = 1, .why = "the removed files wait 15 s more", .next_in_s = 15},
	{.name = "removed past clean.grace_s, a 50 ms clean 1 s ago", .g = {{10, 300, true, false, 0}},
	 .ng = 1, .last_clean_ago_s = 1, .last_clean_cost_ms = 50, .orphan_scan_s = -1,
	 .due = true, .eligible = 1, .next_in_s = DUE_NOW},
	{.name = "removed inside clean.grace_s", .g = {{10, 100, true, false, 0}}, .ng = 1,
	 .orphan_scan_s = -1, .due = false, .in_grace = 1, .why = "1 inside clean.grace_s 300",
	 .next_in_s = 200},
	{.name = "replaced by a major compaction, inside retention",
	 .g = {{50, 400, false, false, 0}}, .ng = 1, .boundary = 40, .next_boundary_in_s = 120,
	 .orphan_scan_s = -1, .due = false, .in_retention = 1,
	 .why = "1 serve versions inside retention", .next_in_s = 120},
	{.name = "replaced by a major compaction, at the boundary",
	 .g = {{40, 400, false, false, 0}}, .ng = 1, .boundary = 40, .orphan_scan_s = -1,
	 .due = true, .eligible = 1, .next_in_s = DUE_NOW},
	{.name = "trash past clean.trash_s", .g = {{10, 5000, true, true, 3600}}, .ng = 1,
	 .orphan_scan_s = -1, .due = true, .trash_due = 1,
	 .why = "1 of 1 trashed files past clean.trash_s 3600", .next_in_s = DUE_NOW},
	{.name = "trash already handled by the last clean",
	 .g = {{10, 5000, true, true, 3700}}, .ng = 1, .last_clean_ago_s = 10,
	 .orphan_scan_s = -1, .due = false, .next_in_s = NEVER},
	{.name = "trash not yet", .g = {{10, 5000, true, true, 100}}, .ng = 1, .orphan_scan_s = -1,
	 .due = false, .why = "0 of 1 trashed files", .next_in_s = 3500},
	/* files the last clean marked but left in their bucket for a lease
	 * taken during it: the next clean, spaced as above, not trash_s on */
	{.name = "marked files left for a lease, 50 ms clean 2 s ago",
	 .g = {{10, 5000, true, true, 2}}, .ng = 1, .last_clean_ago_s = 2,
	 .last_clean_cost_ms = 50, .marked_in_place = 1, .orphan_scan_s = -1, .due = true,
	 .why = "1 files the last clean marked wait in their bucket for a reader's lease",
	 .next_in_s = DUE_NOW},
	{.name = "marked files left for a lease, a 2 s clean 5 s ago",
	 .g = {{10, 5000, true, true, 5}}, .ng = 1, .last_clean_ago_s = 5,
	 .last_clean_cost_ms = 2000, .marked_in_place = 3, .orphan_scan_s = -1, .due = false,
	 .next_in_s = 15},
	{.name = "back-off after failed cleans", .g = {{10, 300, true, false, 0}}, .ng = 1,
	 .orphan_scan_s = -1, .failures = 2, .failed_ago_s = 1, .due = true, .eligible = 1,
	 .backoff = true, .next_in_s = 9},
};

static void test_clean_table(void)
{
	for (size_t k = 0; k < STRATA_ARRAY_LEN(clean_cases); k++) {
		const ccase *c = &clean_cases[k];
		strata_policy p;
		strata_policy_default(&p);
		if (c->orphan_scan_s < 0)
			p.clean_orphan_scan_s = 0;
		strata_pol_gone g[4];
		for (int i = 0; i < c->ng; i++)
			g[i] = (strata_pol_gone){
				.bytes = 1000,
				.removed_version = c->g[i].removed_version,
				.removed_us = NOW - c->g[i].removed_ago_s * S,
				.removed_kept_history = c->g[i].kept_history,
				.is_deleted = c->g[i].is_deleted,
				.deleted_us = c->g[i].is_deleted ? NOW - c->g[i].deleted_ago_s * S : 0,
			};
		strata_pol_table in = {
			.gone = g,
			.ngone = (size_t)c->ng,
			.boundary = c->boundary,
			.next_boundary_us = c->next_boundary_in_s ? NOW + c->next_boundary_in_s * S : 0,
			.last_clean_us = c->last_clean_ago_s ? NOW - c->last_clean_ago_s * S : 0,
			.last_clean_cost_us = c->last_clean_cost_ms * 1000,
			.marked_in_place = c->marked_in_place,
			.last_orphan_scan_us = c->last_orphan_ago_s ? NOW - c->last_orphan_ago_s * S : 0,
			.failures = c->failures,
			.failed_us = NOW - c->failed_ago_s * S,
		};
		strata_pol_clean out;
		strata_pol_plan_clean(&in, &p, NOW, &out);
		int64_t want = c->next_in_s == NEVER ? NEVER :
			       c->next_in_s == DUE_NOW ? NOW :
			       NOW + c->next_in_s * S;
		/* a boundary moving sooner than a minute is looked at a minute on */
		if (c->next_boundary_in_s && c->next_boundary_in_s < 60 && c->next_in_s > 0)
			want = NOW + 60 * S;
		bool ok = out.check.is_due == c->due && out.is_orphan_scan == c->orphan &&
			  out.is_backing_off == c->backoff && out.eligible == c->eligible &&
			  out.in_grace == c->in_grace && out.in_retention == c->in_retention &&
			  out.trash_due == c->trash_due && out.next_due_us == want &&
			  (!c->why || strstr(out.check.why, c->why)) &&
			  (out.check.score > 0) == c->due;
		if (!ok)
			fprintf(stderr, "\nclean case \"%s\": due %d orphan %d backoff %d next %+.3f s: %s\n",
				c->name, out.check.is_due, out.is_orphan_scan, out.is_backing_off,
				out.next_due_us == NEVER ? 1e18 : (double)(out.next_due_us - NOW) / 1e6,
				out.check.why);
		CU_ASSERT(ok);
	}
}

/* Partition expiry (partition.expiration-time): the time a value names, and
 * the verdict T + E <= now for every branch — due, kept, at the edge, no
 * data, not a date, off. */
static void test_partition_expiry(void)
{
	static const struct {
		const char *value;
		int rc;
		int64_t s; /* seconds since the epoch when rc == 0 */
	} times[] = {
		{"2026-11-01", 0, 1793491200},
		{"20261101", 0, 1793491200},
		{"2026-11-01 07", 0, 1793491200 + 7 * 3600},
		{"2026-11-01T07", 0, 1793491200 + 7 * 3600},
		{"2026-11-01-07", 0, 1793491200 + 7 * 3600},
		{"2026110107", 0, 1793491200 + 7 * 3600},
		{"2026-11-01 07:30:15", 0, 1793491200 + 7 * 3600 + 30 * 60 + 15},
		{"2026-11-01T07:30:15Z", 0, 1793491200 + 7 * 3600 + 30 * 60 + 15},
		{"1970-01-01", 0, 0},
		{"1969-12-31", 0, -86400},
		{"2024-02-29", 0, 1709164800},
		{"2026-02-29", STRATA_EINVAL, 0},
		{"2026-13-01", STRATA_EINVAL, 0},
		{"2026-04-31", STRATA_EINVAL, 0},
		{"2026-11-01 24", STRATA_EINVAL, 0},
		{"2026-11-1", STRATA_EINVAL, 0},
		{"2026-11-01x", STRATA_EINVAL, 0},
		{"p0", STRATA_EINVAL, 0},
		{"", STRATA_EINVAL, 0},
		{"202611", STRATA_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t us = -1;
		int rc = strata_pol_part_time(times[i].value, &us);
		if (rc != times[i].rc || (rc == 0 && us != times[i].s * 1000000))
			fprintf(stderr, "\npart time \"%s\": rc %d us %lld\n", times[i].value, rc,
				(long long)us);
		CU_ASSERT_EQUAL(rc, times[i].rc);
		if (rc == 0)
			CU_ASSERT_EQUAL(us, times[i].s * 1000000);
	}
	const int64_t day_s = 86400;
	const int64_t now = (1793491200 + 30 * day_s) * 1000000; /* 2026-12-01 */
	const strata_pol_part parts[] = {
		{"dt=2026-10-01", "2026-10-01", true},  /* 61 days old: due */
		{"dt=2026-11-01", "2026-11-01", true},  /* exactly 30 days: due (<=) */
		{"dt=2026-11-02", "2026-11-02", true},  /* 29 days: kept, next due */
		{"dt=2026-11-20", "2026-11-20", true},  /* kept */
		{"dt=2026-09-01", "2026-09-01", false}, /* old but no data: not due */
		{"dt=junk", "junk", true},              /* never expires */
	};
	const size_t n = sizeof(parts) / sizeof(parts[0]);
	strata_pol_expiry ex[6];
	size_t ndue = 99;
	int64_t next = 0;
	strata_pol_plan_expiry(parts, n, 30 * day_s, now, ex, &ndue, &next);
	CU_ASSERT_EQUAL(ndue, 2);
	CU_ASSERT(ex[0].is_due);
	CU_ASSERT(ex[1].is_due);
	CU_ASSERT_FALSE(ex[2].is_due);
	CU_ASSERT_FALSE(ex[3].is_due);
	CU_ASSERT_FALSE(ex[4].is_due);
	CU_ASSERT_FALSE(ex[5].is_due);
	CU_ASSERT_EQUAL(next, (1793491200 + 31 * day_s) * 1000000);
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[0].why, "2026-10-01 00:00:00 + 30d = 2026-10-31 00:00:00 <= now"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[0].why, "expired"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[2].why, "> now 2026-12-01 00:00:00: kept"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[4].why, "no data"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[5].why, "names no date or time: never expires"));
	/* one microsecond earlier, the edge partition is kept */
	strata_pol_plan_expiry(parts, n, 30 * day_s, now - 1, ex, &ndue, &next);
	CU_ASSERT_EQUAL(ndue, 1);
	CU_ASSERT_FALSE(ex[1].is_due);
	CU_ASSERT_EQUAL(next, now);
	/* off: nothing due, ever */
	strata_pol_plan_expiry(parts, n, 0, now, ex, &ndue, &next);
	CU_ASSERT_EQUAL(ndue, 0);
	CU_ASSERT_EQUAL(next, INT64_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[0].why, "off"));
	/* hours */
	const strata_pol_part hp[] = {{"h=2026-12-01 00", "2026-12-01 00", true},
				      {"h=2026-11-30 23", "2026-11-30 23", true}};
	strata_pol_plan_expiry(hp, 2, 3600, now, ex, &ndue, &next);
	CU_ASSERT_EQUAL(ndue, 1);
	CU_ASSERT_FALSE(ex[0].is_due);
	CU_ASSERT(ex[1].is_due);
	CU_ASSERT_PTR_NOT_NULL(strstr(ex[1].why, "+ 1h ="));
	CU_ASSERT_STRING_EQUAL(strata_pol_kind_name(STRATA_POL_EXPIRE), "expire");
}

static void register_policies(void)
{
	CU_pSuite s = CU_add_suite("policies", NULL, NULL);
	TU_ADD(s, test_bucket_table);
	TU_ADD(s, test_bucket_stats);
	TU_ADD(s, test_compact_only_with_garbage);
	TU_ADD(s, test_backoff_and_targets);
	TU_ADD(s, test_clean_table);
	TU_ADD(s, test_partition_expiry);
}

TU_MAIN(register_policies)
