/*
 * policies/policies.c — the pure planners behind stratad's decisions.
 *
 * Each scan hands every bucket's statistics to strata_pol_plan_bucket() and
 * every table's removed files to strata_pol_plan_clean().  Each kind of job
 * has a trigger written as a formula over plain numbers; a triggered kind gets
 * a score (its weight times how far past its threshold the bucket is), the
 * highest score runs first, one job per bucket.  Like autovacuum, the formula
 * comes first and the code follows it; like autovacuum, every verdict carries
 * the numbers it compared, for the log and for `strata admin plan`.
 *
 * Notation: n0, b0 = level-0 (row) files and their bytes, t0 = the oldest
 * one's commit time; c_l, s_l = files at level l and how many of them are
 * smaller than merge.small_bytes; B = the retention boundary (last version at
 * or before now - retention, never above the oldest tag); F = the bucket's
 * history floor; T = every live byte of the bucket.
 *
 *   sort     due when n0 >= 1 and
 *              n0 >= sort.min_files  or  now - t0 >= sort.max_delay_s
 *              or  b0 >= sort.max_bytes
 *            pressure = max(n0 / min_files, (now - t0) / max_delay, b0 / max_bytes)
 *   merge    A = sum of c_l over the levels >= 1 that merge (the bucket's
 *            sorted runs above level 0, a file counted as a run); the bucket
 *            is crowded when A >= merge.fanout.  Level l >= 1 is due when
 *              c_l >= merge.fanout  or  s_l >= 2  or  (crowded and c_l >= 2)
 *            the level due by its own counts with the largest
 *            max(c_l / fanout, s_l / 2) (ties: the lowest) merges into l + 1;
 *            if none is, but the bucket is crowded, the level of two files or
 *            more holding the fewest bytes (ties: the lowest) — the cheapest
 *            merge, which leaves the bucket's big files (a compaction's
 *            output, at the highest level) to compaction; the pressure is
 *            that level's, or A / fanout when crowded and larger; outputs of about
 *            merge.target_bytes x fanout^l bytes (strata_pol_merge_target_bytes).
 *            If the bucket is crowded and no level holds two files (one
 *            file on each of A levels), a paired merge: of the levels that
 *            hold a file, the two next to each other with the fewest bytes
 *            together (ties: the lowest), l and m, merge into m + 1
 *            (pressure A / fanout).
 *            The crowded rule bounds a bucket, not only a level: A reaches
 *            fanout only until the merge it makes due has run, so with row
 *            files sorted at sort.min_files a bucket holds at most
 *            sort.min_files - 1 + fanout - 1 runs while nothing is due, and
 *            about sort.min_files + fanout - 1 (7 by default; Paimon's
 *            num-sorted-run.stop-trigger is 8) while its sort waits to run.
 *            Per level alone, a bucket under sustained ingest held
 *            fanout - 1 runs on every level; without the paired merge, one
 *            file on each of fanout levels stayed until the next sort, and
 *            with the row files of two commits arriving together a bucket
 *            held 9 runs (docs/BENCHMARKS.md, "Sustained ingest")
 *   compact  (partial) only when B > F; C = live files with _seq_min <= B;
 *              rows<=B(f)  = rows(f) if seq_max <= B, else
 *                            base + (rows(f) - base) x (B - lo) / (seq_max - lo)
 *                            where base = min(rows(f), distinct(f)) if the file
 *                            reaches below F (records <= F are one per key
 *                            once a compaction has set F) else 0, and
 *                            lo = max(seq_min - 1, F)
 *              rows<=F(f)  = rows(f) if seq_max <= F, 0 if seq_min > F, else base
 *              mid(f)      = rows<=B(f) - rows<=F(f): records in (F, B]
 *              D           = max(distinct(merged sketches of C), sum rows<=F,
 *                                rows(f) of any f in C that is_compact with
 *                                seq_max <= B)
 *              garbage rows  G = min(max(0, sum rows<=B - D), sum mid)
 *              garbage bytes g = G x bytes(C) / rows(C)
 *            due when G > bar (the bucket's compact_bar_rows, 0 unless a
 *            compaction there dropped nothing) and either g / T >
 *            compact.min_garbage_ratio, or the oldest history above F (commit
 *            time of version F+1) is at least retention + compact.max_lag_s
 *            older than now
 *            pressure = max(ratio / min_ratio, lag / max_lag)
 *   clean    (per table) due when a removed file may go (removed for at least
 *            clean.grace_s and, if a major compaction replaced it, removed at
 *            or below the table's retention boundary), or a trashed file's
 *            clean.trash_s passed after the last clean started, or the last
 *            clean marked files it had to leave in their bucket for a
 *            reader's lease (taken between its plan and its marking), or an
 *            orphan scan is due (clean.orphan_scan_s since the last one; 0:
 *            never);
 *            files that may go wait, in addition, until the spacing has
 *            passed after the last clean started: POL_CLEAN_COST_FACTOR
 *            times that clean's duration, at least POL_CLEAN_MIN_GAP_US and
 *            at most clean.grace_s / POL_CLEAN_SPACING (which wins).  Under sustained
 *            churn (files coming out of grace all the time) clean then
 *            takes at most about a tenth of a worker instead of running back
 *            to back (issue 16: 45 % of a worker at twice the bench's rate),
 *            and a cheap clean comes soon, so replaced files do not wait a
 *            quarter of the grace on top of it (a file waits at most
 *            1.25 x grace)
 *            pressure = 1 + eligible / 100, at most 10
 *   expire   (per partition, tables with partition.expiration-time E > 0)
 *            due when the partition holds a live file and the time T its
 *            value of partition.expiration-column names (strata_pol_part_time:
 *            the start of the day or hour, or the instant) satisfies
 *              T + E <= now
 *            a value that names no time never expires (said in the verdict);
 *            a due partition is dropped in one commit (drop-partition), not
 *            queued: it costs one manifest write, no data I/O
 *
 *   score    = weight x min(pressure, 100) x aging, weights sort 3, merge 2,
 *              compact 1, clean 1: sorting row files is cheap and speeds every
 *              read; merging bounds files per bucket; compaction saves space.
 *   aging    = 1 + min(waited / 60 s, 10), waited = how long the kind has been
 *              due on this bucket without running (due_since_us).  One job
 *              runs per bucket, so under sustained ingest a sort is due at
 *              nearly every scan; without aging a due compaction would never
 *              win the bucket (measured: space amplification 7.6 after five
 *              minutes, docs/BENCHMARKS.md).
 *   back-off = after n >= 1 consecutive failed or conflicted jobs the bucket
 *              (or the table's clean) waits 2^(n-1) x policy.backoff_s,
 *              capped at policy.backoff_max_s.
 *
 * Garbage only where there can be some (issue 11).  The distinct-key sketch
 * is a 256-register HyperLogLog (standard error about 6.5%), so
 * sum rows<=B - distinct is noise of that order even for a bucket without a
 * single update, and the lag rule fired on that noise: with max_lag_s = 0 a
 * retention-0 bucket was rewritten, dropping nothing, at every scan (each
 * compaction commits a version, which moves B above the new F), and once per
 * max_lag_s by default.  Three facts bound G exactly where they apply:
 *   - records <= F are one per key across the bucket (the compaction that set
 *     F kept only the newest per key, and every job since keeps history), so
 *     they are distinct among themselves and only a record in (F, B] can
 *     supersede anything: G <= sum mid, which is exactly 0 for a bucket whose
 *     files all end at or below F — the idle bucket compacted once;
 *   - a file that holds every key once (is_compact, which a compaction's
 *     output is when it kept no history) has an exact distinct count, rows;
 *   - the records <= F count as distinct keys of C.
 * What stays an estimate (files spanning F, overlapping writer files) is kept
 * from looping by the bar: a compaction that dropped nothing raises the
 * bucket's compact_bar_rows to the G it was planned on, so the same files
 * never schedule it again; any real change of the files moves G past it.
 * Deletes that are the newest record <= B are dropped too; G does not count
 * them.
 *
 * Invariants:
 *   1. pure: no I/O, no clock, no globals; inputs are only read;
 *   2. every check states its comparison in `why`, due or not;
 *   3. a backing-off bucket never gets a best job, and its next_due_us is no
 *      later than the end of its back-off;
 *   4. next_due_us is INT64_MAX only when nothing can change with time alone.
 */
#include "policies/policies.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define US ((int64_t)1000000)
#define POL_PRESSURE_MAX 100.0
#define POL_WEIGHT_SORT 3.0
#define POL_WEIGHT_MERGE 2.0
#define POL_WEIGHT_COMPACT 1.0
#define POL_WEIGHT_CLEAN 1.0
/* A moving retention boundary is re-examined at most this often. */
#define POL_BOUNDARY_RECHECK_MIN_US (60 * US)
#define POL_TARGET_MAX_BYTES (1ull << 40)
/* Aging: a kind due without running gains this much score multiplier per
 * POL_AGING_US, up to POL_AGING_MAX. */
#define POL_AGING_US (60 * US)
#define POL_AGING_MAX 10.0
/* Clean: files that may go wait until clean.grace_s / this after the last
 * clean started. */
#define POL_CLEAN_SPACING 4
#define POL_CLEAN_COST_FACTOR 10
#define POL_CLEAN_MIN_GAP_US (1 * US)

void strata_policy_default(strata_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->sort_min_files = 3;  /* with merge.fanout: at most about 8 runs a bucket */
	p->sort_max_delay_s = 300;
	p->sort_max_bytes = 64ull << 20;
	p->merge_fanout = 5;   /* was 4 (and sort.min_files 4): the same 8 runs, with
				  40 % fewer merges, write amplification 2.9 instead of
				  3.2 (issue 16, docs/BENCHMARKS.md) */
	p->merge_small_bytes = 0; /* was 4 MiB: in small buckets every level merged at two
				     files, and each level's merge fed the next (issue 16) */
	p->merge_target_bytes = 16ull << 20;
	p->compact_min_garbage_ratio = 0.15; /* space amplification about 1.2 (was 0.3: 1.4) */
	p->compact_max_lag_s = 3600;
	p->clean_grace_s = 300;
	p->clean_trash_s = 3600;
	p->clean_orphan_scan_s = 3600;
	p->clean_orphan_age_s = 86400;
	p->clean_orphan_max_fraction = 0.1;
	p->backoff_s = 5;
	p->backoff_max_s = 600;
	p->retain_hours = -1;
}

const char *strata_pol_kind_name(strata_pol_kind k)
{
	static const char *const names[] = {"sort", "merge", "compact", "clean", "expire"};
	return (unsigned)k < STRATA_POL_NKINDS ? names[k] : "?";
}

uint64_t strata_pol_merge_target_bytes(const strata_policy *p, int out_level)
{
	uint64_t t = p->merge_target_bytes;
	uint64_t f = p->merge_fanout > 1 ? (uint64_t)p->merge_fanout : 2;
	for (int l = 1; l < out_level && t < POL_TARGET_MAX_BYTES; l++)
		t *= f;
	return t < POL_TARGET_MAX_BYTES ? t : POL_TARGET_MAX_BYTES;
}

int64_t strata_pol_backoff_us(uint32_t failures, const strata_policy *p)
{
	if (failures == 0)
		return 0;
	int64_t max_us = p->backoff_max_s * US;
	int64_t w = p->backoff_s * US;
	for (uint32_t i = 1; i < failures && w < max_us; i++)
		w *= 2;
	return w < max_us ? w : max_us;
}

static double clamp_pressure(double x)
{
	if (!(x > 0))
		return 0;
	return x < POL_PRESSURE_MAX ? x : POL_PRESSURE_MAX;
}

static void due_at(int64_t *next, int64_t t)
{
	if (t > 0 && t < *next)
		*next = t;
}

/* A moving boundary is looked at again, but not more often than the minimum. */
static void due_boundary(int64_t *next, int64_t t, int64_t now_us)
{
	if (t <= 0)
		return;
	if (t < now_us + POL_BOUNDARY_RECHECK_MIN_US)
		t = now_us + POL_BOUNDARY_RECHECK_MIN_US;
	due_at(next, t);
}

static const char *ge(bool b)
{
	return b ? ">=" : "<";
}

/* ---- sort ---------------------------------------------------------------------------- */

static void check_sort(const strata_pol_stats *st, const strata_policy *p, int64_t now_us,
		       strata_pol_check *c, int64_t *next)
{
	size_t n0 = st->files_per_level[0];
	uint64_t b0 = st->bytes_per_level[0];
	c->kind = STRATA_POL_SORT;
	if (n0 == 0) {
		snprintf(c->why, sizeof(c->why), "no row files");
		return;
	}
	int64_t age_us = now_us - st->l0_oldest_us;
	if (age_us < 0)
		age_us = 0;
	bool by_count = (int64_t)n0 >= p->sort_min_files;
	bool by_age = age_us >= p->sort_max_delay_s * US;
	bool by_bytes = b0 >= p->sort_max_bytes;
	double pr = (double)n0 / (double)(p->sort_min_files > 0 ? p->sort_min_files : 1);
	double pa = p->sort_max_delay_s > 0 ? (double)age_us / (double)(p->sort_max_delay_s * US) :
					      POL_PRESSURE_MAX;
	double pb = (double)b0 / (double)(p->sort_max_bytes ? p->sort_max_bytes : 1);
	c->is_due = by_count || by_age || by_bytes;
	if (c->is_due)
		c->score = POL_WEIGHT_SORT * clamp_pressure(fmax(pr, fmax(pa, pb)));
	else
		due_at(next, st->l0_oldest_us + p->sort_max_delay_s * US);
	snprintf(c->why, sizeof(c->why),
		 "%zu row files %s sort.min_files %" PRId64 ", oldest %" PRId64
		 " s %s sort.max_delay_s %" PRId64 ", %" PRIu64 " bytes %s sort.max_bytes %" PRIu64,
		 n0, ge(by_count), p->sort_min_files, age_us / US, ge(by_age), p->sort_max_delay_s, b0,
		 ge(by_bytes), p->sort_max_bytes);
}

/* ---- merge ----------------------------------------------------------------------------- */

/* Of the levels >= 1 that hold a file and merge (the last slot,
 * STRATA_POL_LEVELS - 1, never does), the two next to each other holding
 * the fewest bytes together (ties: the lowest): false when fewer than two
 * levels hold a file. */
static bool pair_levels(const strata_pol_stats *st, int *lo, int *hi)
{
	int prev = -1;
	uint64_t best = UINT64_MAX;
	*lo = *hi = -1;
	for (int l = 1; l < STRATA_POL_LEVELS - 1; l++) {
		if (!st->files_per_level[l])
			continue;
		if (prev > 0 && st->bytes_per_level[prev] + st->bytes_per_level[l] < best) {
			best = st->bytes_per_level[prev] + st->bytes_per_level[l];
			*lo = prev;
			*hi = l;
		}
		prev = l;
	}
	return *hi > 0;
}

static void check_merge(const strata_pol_stats *st, const strata_policy *p, strata_pol_check *c,
			uint64_t *target)
{
	c->kind = STRATA_POL_MERGE;
	int best = -1, busiest = -1, cheapest = -1;
	double best_p = 0;
	size_t above = 0; /* A: runs above level 0 on the levels that merge */
	for (int l = 1; l < STRATA_POL_LEVELS - 1; l++)
		above += st->files_per_level[l];
	bool is_crowded = (int64_t)above >= p->merge_fanout;
	for (int l = 1; l < STRATA_POL_LEVELS - 1; l++) {
		size_t cnt = st->files_per_level[l], small = st->small_per_level[l];
		if (cnt == 0)
			continue;
		if (busiest < 0 || cnt > st->files_per_level[busiest])
			busiest = l;
		bool is_due = (int64_t)cnt >= p->merge_fanout || small >= 2;
		if (!is_due) {
			/* crowded: the level whose merge costs least */
			if (is_crowded && cnt >= 2 &&
			    (cheapest < 0 || st->bytes_per_level[l] < st->bytes_per_level[cheapest]))
				cheapest = l;
			continue;
		}
		double pr = fmax((double)cnt / (double)p->merge_fanout,
				 small >= 2 ? (double)small / 2.0 : 0);
		if (best < 0 || pr > best_p) {
			best = l;
			best_p = pr;
		}
	}
	if (best < 0 && cheapest >= 0) {
		best = cheapest;
		best_p = (double)st->files_per_level[cheapest] / (double)p->merge_fanout;
	}
	int lo, hi;
	if (best < 0 && is_crowded && pair_levels(st, &lo, &hi)) {
		/* crowded, one file on each level: the cheapest two, paired */
		best = lo;
		c->through = hi;
		c->is_due = true;
		c->level = best;
		c->score = POL_WEIGHT_MERGE * clamp_pressure((double)above / (double)p->merge_fanout);
		*target = strata_pol_merge_target_bytes(p, c->through + 1);
		snprintf(c->why, sizeof(c->why),
			 "%zu files above level 0 %s merge.fanout %" PRId64 ", no level holds two: "
			 "levels %d and %d into level %d, outputs of about %" PRIu64 " bytes",
			 above, ge(true), p->merge_fanout, best, c->through, c->through + 1, *target);
		return;
	}
	if (best < 0) {
		if (busiest < 0)
			snprintf(c->why, sizeof(c->why), "no files above level 0");
		else
			snprintf(c->why, sizeof(c->why),
				 "no level due: fullest is level %d with %zu files < merge.fanout %" PRId64
				 ", %zu smaller than merge.small_bytes %" PRIu64 " (< 2); %zu files above "
				 "level 0 %s merge.fanout%s",
				 busiest, st->files_per_level[busiest], p->merge_fanout,
				 st->small_per_level[busiest], p->merge_small_bytes, above,
				 ge(is_crowded), is_crowded ? " but no level holds two" : "");
		return;
	}
	size_t cnt = st->files_per_level[best], small = st->small_per_level[best];
	c->is_due = true;
	c->level = best;
	if (is_crowded)
		best_p = fmax(best_p, (double)above / (double)p->merge_fanout);
	c->score = POL_WEIGHT_MERGE * clamp_pressure(best_p);
	*target = strata_pol_merge_target_bytes(p, best + 1);
	snprintf(c->why, sizeof(c->why),
		 "level %d: %zu files %s merge.fanout %" PRId64 ", %zu smaller than merge.small_bytes %"
		 PRIu64 " %s 2, %zu files above level 0 %s merge.fanout; into level %d, outputs of "
		 "about %" PRIu64 " bytes",
		 best, cnt, ge((int64_t)cnt >= p->merge_fanout), p->merge_fanout, small,
		 p->merge_small_bytes, ge(small >= 2), above, ge(is_crowded), best + 1, *target);
}

/* ---- partial compaction ------------------------------------------------------------------ */

static double file_distinct(const strata_pol_file *f)
{
	double d = f->sketch ? strata_sketch_estimate(f->sketch) : (double)f->rows;
	return d < (double)f->rows ? d : (double)f->rows;
}

/* Estimated records of f with _seq <= b (formula atop the file). */
static double rows_at_or_below(const strata_pol_file *f, uint64_t b, uint64_t floor)
{
	if (f->seq_max <= (int64_t)b)
		return (double)f->rows;
	if (f->seq_min > (int64_t)b)
		return 0;
	double base = f->seq_min <= (int64_t)floor ? file_distinct(f) : 0;
	int64_t lo = f->seq_min - 1 > (int64_t)floor ? f->seq_min - 1 : (int64_t)floor;
	if (f->seq_max <= lo)
		return base;
	double span = (double)(f->seq_max - lo);
	double part = (double)((int64_t)b - lo);
	if (part < 0)
		part = 0;
	return base + ((double)f->rows - base) * part / span;
}

static void check_compact(const strata_pol_bucket *in, strata_pol_stats *st, const strata_policy *p,
			  int64_t now_us, strata_pol_check *c, int64_t *next)
{
	c->kind = STRATA_POL_COMPACT;
	uint64_t b = in->boundary;
	if (b == 0) {
		snprintf(c->why, sizeof(c->why),
			 "no version is older than the retention window (%" PRId64 " s)", in->retain_s);
		due_boundary(next, in->next_boundary_us, now_us);
		return;
	}
	if (b <= in->floor) {
		snprintf(c->why, sizeof(c->why),
			 "retention boundary %" PRIu64 " is not above the history floor %" PRIu64
			 ": nothing to drop",
			 b, in->floor);
		due_boundary(next, in->next_boundary_us, now_us);
		return;
	}
	uint8_t regs[STRATA_SKETCH_REGS];
	memset(regs, 0, sizeof(regs));
	double rows_le = 0, rows_mid = 0, rows_floor = 0, exact_distinct = 0;
	uint64_t cand_rows = 0, cand_bytes = 0;
	size_t ncand = 0;
	for (size_t i = 0; i < in->nfiles; i++) {
		const strata_pol_file *f = &in->files[i];
		if (f->seq_min > (int64_t)b)
			continue;
		ncand++;
		cand_rows += f->rows;
		cand_bytes += f->bytes;
		double le = rows_at_or_below(f, b, in->floor);
		double below = rows_at_or_below(f, in->floor, in->floor);
		rows_le += le;
		rows_floor += below;
		rows_mid += le > below ? le - below : 0;
		if (f->is_compact && f->seq_max <= (int64_t)b && (double)f->rows > exact_distinct)
			exact_distinct = (double)f->rows;
		if (f->sketch)
			strata_sketch_merge(regs, f->sketch);
	}
	if (ncand == 0) {
		snprintf(c->why, sizeof(c->why), "no live file holds records at or below boundary %" PRIu64,
			 b);
		due_boundary(next, in->next_boundary_us, now_us);
		return;
	}
	double distinct = strata_sketch_estimate(regs);
	distinct = fmax(distinct, fmax(rows_floor, exact_distinct));
	if (distinct > (double)cand_rows)
		distinct = (double)cand_rows;
	double g = fmin(rows_le - distinct, rows_mid); /* the bounds atop the file */
	st->garbage_rows = g > 0 ? (uint64_t)llround(g) : 0;
	st->garbage_bytes = cand_rows ? (uint64_t)((double)st->garbage_rows * (double)cand_bytes /
						  (double)cand_rows) :
					0;
	st->garbage_ratio = st->bytes ? (double)st->garbage_bytes / (double)st->bytes : 0;
	bool has_age = in->history_since_us > 0;
	int64_t lag_us = has_age ? now_us - in->history_since_us - in->retain_s * US : 0;
	st->history_lag_s = lag_us / US;
	bool over_bar = st->garbage_rows > in->compact_bar_rows;
	bool is_over_ratio = st->garbage_ratio > p->compact_min_garbage_ratio;
	bool is_lagging = has_age && lag_us >= p->compact_max_lag_s * US;
	bool by_ratio = over_bar && is_over_ratio;
	bool by_lag = over_bar && is_lagging;
	c->is_due = by_ratio || by_lag;
	double pr = p->compact_min_garbage_ratio > 0 ? st->garbage_ratio / p->compact_min_garbage_ratio :
						      POL_PRESSURE_MAX;
	double pl = !by_lag ? 0 :
		    p->compact_max_lag_s > 0 ? (double)lag_us / (double)(p->compact_max_lag_s * US) :
					      1;
	if (c->is_due) {
		c->score = POL_WEIGHT_COMPACT * clamp_pressure(fmax(fmax(pr, pl), 1.0));
	} else {
		if (over_bar && has_age)
			due_at(next, in->history_since_us + (in->retain_s + p->compact_max_lag_s) * US);
		due_boundary(next, in->next_boundary_us, now_us);
	}
	char age[96];
	if (has_age)
		snprintf(age, sizeof(age), "%" PRId64 " s past retention %s compact.max_lag_s %" PRId64,
			 lag_us / US, ge(is_lagging), p->compact_max_lag_s);
	else
		snprintf(age, sizeof(age), "age unknown");
	snprintf(c->why, sizeof(c->why),
		 "~%" PRIu64 " superseded records (%" PRIu64 " bytes) at or below boundary %" PRIu64
		 " in %zu files: %.3f of %" PRIu64 " bytes %s compact.min_garbage_ratio %.3f; oldest "
		 "history above floor %" PRIu64 " is %s",
		 st->garbage_rows, st->garbage_bytes, b, ncand, st->garbage_ratio, st->bytes,
		 is_over_ratio ? ">" : "<=", p->compact_min_garbage_ratio, in->floor, age);
	if (in->compact_bar_rows) {
		size_t len = strlen(c->why);
		snprintf(c->why + len, sizeof(c->why) - len,
			 "; a compaction here dropped nothing: due only above %" PRIu64 " records",
			 in->compact_bar_rows);
	}
}

/* ---- bucket ---------------------------------------------------------------------------------- */

void strata_pol_plan_bucket(const strata_pol_bucket *in, const strata_policy *p, int64_t now_us,
			    strata_pol_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->best = -1;
	out->next_due_us = INT64_MAX;
	strata_pol_stats *st = &out->st;
	uint8_t regs[STRATA_SKETCH_REGS];
	memset(regs, 0, sizeof(regs));
	for (size_t i = 0; i < in->nfiles; i++) {
		const strata_pol_file *f = &in->files[i];
		int l = f->level < STRATA_POL_LEVELS ? f->level : STRATA_POL_LEVELS - 1;
		st->files_per_level[l]++;
		st->bytes_per_level[l] += f->bytes;
		if (f->bytes < p->merge_small_bytes)
			st->small_per_level[l]++;
		st->files++;
		st->bytes += f->bytes;
		st->rows += f->rows;
		if (l == 0 && (st->l0_oldest_us == 0 || f->added_us < st->l0_oldest_us))
			st->l0_oldest_us = f->added_us;
		if (f->sketch)
			strata_sketch_merge(regs, f->sketch);
	}
	if (in->nfiles) {
		st->distinct_keys = strata_sketch_estimate(regs);
		if (st->distinct_keys > (double)st->rows)
			st->distinct_keys = (double)st->rows;
		double h = (double)st->rows - st->distinct_keys;
		if (h > 0 && st->rows)
			st->history_bytes = (uint64_t)(h * (double)st->bytes / (double)st->rows);
	}
	int64_t next = INT64_MAX;
	check_sort(st, p, now_us, &out->checks[0], &next);
	check_merge(st, p, &out->checks[1], &out->merge_target_bytes);
	check_compact(in, st, p, now_us, &out->checks[2], &next);
	for (int i = 0; i < 3; i++) {
		strata_pol_check *c = &out->checks[i];
		int64_t since = in->due_since_us[i];
		if (!c->is_due || since <= 0 || since >= now_us)
			continue;
		double waited = (double)(now_us - since) / (double)POL_AGING_US;
		double f = 1.0 + (waited < POL_AGING_MAX ? waited : POL_AGING_MAX);
		c->score *= f;
		size_t len = strlen(c->why);
		snprintf(c->why + len, sizeof(c->why) - len, "; due for %" PRId64 " s: score x%.2f",
			 (now_us - since) / US, f);
	}
	for (int i = 0; i < 3; i++)
		if (out->checks[i].is_due && (out->best < 0 || out->checks[i].score > out->checks[out->best].score))
			out->best = i;
	if (out->best >= 0 && in->failures > 0) {
		int64_t until = in->failed_us + strata_pol_backoff_us(in->failures, p);
		if (now_us < until) { /* invariant 3 */
			out->best = -1;
			out->is_backing_off = true;
			out->backoff_until_us = until;
			due_at(&next, until);
		}
	}
	if (out->best >= 0)
		next = now_us;
	out->next_due_us = next;
}

/* ---- clean ------------------------------------------------------------------------------------- */

void strata_pol_plan_clean(const strata_pol_table *in, const strata_policy *p, int64_t now_us,
			   strata_pol_clean *out)
{
	memset(out, 0, sizeof(*out));
	out->check.kind = STRATA_POL_CLEAN;
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < in->ngone; i++) {
		const strata_pol_gone *g = &in->gone[i];
		if (g->is_deleted) {
			out->trash_files++;
			out->trash_bytes += g->bytes;
			int64_t due = g->deleted_us + p->clean_trash_s * US;
			if (due > now_us)
				due_at(&next, due);
			else if (due > in->last_clean_us)
				out->trash_due++;
			continue;
		}
		if (now_us - g->removed_us < p->clean_grace_s * US) {
			out->in_grace++;
			due_at(&next, g->removed_us + p->clean_grace_s * US);
		} else if (!g->removed_kept_history && g->removed_version > in->boundary) {
			out->in_retention++;
			due_boundary(&next, in->next_boundary_us, now_us);
		} else {
			out->eligible++;
			out->eligible_bytes += g->bytes;
		}
	}
	if (p->clean_orphan_scan_s > 0) {
		int64_t due = in->last_orphan_scan_us + p->clean_orphan_scan_s * US;
		if (in->last_orphan_scan_us == 0 || due <= now_us)
			out->is_orphan_scan = true;
		else
			due_at(&next, due);
	}
	/* spacing: eligible files alone wait, after the last clean started,
	 * for POL_CLEAN_COST_FACTOR times its duration, between
	 * POL_CLEAN_MIN_GAP_US and grace / POL_CLEAN_SPACING */
	int64_t gap_us = in->last_clean_cost_us * POL_CLEAN_COST_FACTOR;
	int64_t max_gap_us = p->clean_grace_s * US / POL_CLEAN_SPACING;
	if (gap_us < POL_CLEAN_MIN_GAP_US)
		gap_us = POL_CLEAN_MIN_GAP_US;
	if (gap_us > max_gap_us) /* a grace under 4 s: a quarter of it */
		gap_us = max_gap_us;
	int64_t spaced_us = in->last_clean_us ? in->last_clean_us + gap_us : 0;
	bool is_spaced = spaced_us <= now_us;
	/* files the last clean marked but left in their bucket for a lease
	 * (one taken between its plan and its marking) move at the next
	 * clean: spaced like eligible files, not clean.trash_s later */
	bool is_in_place = in->marked_in_place > 0;
	if ((out->eligible > 0 || is_in_place) && !is_spaced)
		due_at(&next, spaced_us);
	strata_pol_check *c = &out->check;
	c->is_due = ((out->eligible > 0 || is_in_place) && is_spaced) || out->trash_due > 0 ||
		    out->is_orphan_scan;
	char orphan[512];
	if (p->clean_orphan_scan_s <= 0)
		snprintf(orphan, sizeof(orphan), "orphan scans off (clean.orphan_scan_s 0)");
	else if (out->is_orphan_scan)
		snprintf(orphan, sizeof(orphan), "orphan scan due (clean.orphan_scan_s %" PRId64 ")",
			 p->clean_orphan_scan_s);
	else
		snprintf(orphan, sizeof(orphan), "next orphan scan in %" PRId64 " s",
			 (in->last_orphan_scan_us + p->clean_orphan_scan_s * US - now_us) / US);
	if (out->eligible > 0 && !is_spaced)
		snprintf(orphan + strlen(orphan), sizeof(orphan) - strlen(orphan),
			 "; the removed files wait %" PRId64 " s more (cleans are spaced by %d x the "
			 "last one's %.1f s, between 1 s and clean.grace_s / %d)",
			 (spaced_us - now_us + US - 1) / US, POL_CLEAN_COST_FACTOR,
			 (double)in->last_clean_cost_us / US, POL_CLEAN_SPACING);
	if (is_in_place)
		snprintf(orphan + strlen(orphan), sizeof(orphan) - strlen(orphan),
			 "; %zu files the last clean marked wait in their bucket for a reader's lease",
			 in->marked_in_place);
	snprintf(c->why, sizeof(c->why),
		 "%zu removed files (%" PRIu64 " bytes) may go; %zu inside clean.grace_s %" PRId64
		 ", %zu serve versions inside retention; %zu of %zu trashed files past clean.trash_s %"
		 PRId64 "; %s",
		 out->eligible, out->eligible_bytes, out->in_grace, p->clean_grace_s, out->in_retention,
		 out->trash_due, out->trash_files, p->clean_trash_s, orphan);
	if (c->is_due) {
		double pr = 1.0 + (double)out->eligible / 100.0;
		c->score = POL_WEIGHT_CLEAN * (pr < 10 ? pr : 10);
		if (in->failures > 0) {
			int64_t until = in->failed_us + strata_pol_backoff_us(in->failures, p);
			if (now_us < until) { /* invariant 3 */
				out->is_backing_off = true;
				out->backoff_until_us = until;
				due_at(&next, until);
			}
		}
		if (!out->is_backing_off)
			next = now_us;
	}
	out->next_due_us = next;
}

/* ---- partition expiry ------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t pol_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool pol_digits(const char *s, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

int strata_pol_part_time(const char *value, int64_t *out_us)
{
	unsigned y, mo, d, h = 0;
	const char *p = value;
	size_t len = strlen(value);
	if (len >= 10 && p[4] == '-' && p[7] == '-' && pol_digits(p, 4, &y) &&
	    pol_digits(p + 5, 2, &mo) && pol_digits(p + 8, 2, &d)) {
		p += 10;
		if (*p && len > 13 && p[3] == ':') { /* an instant: the timestamp parser */
			if (strata_timestamp_parse(value, out_us) != 0)
				return STRATA_EINVAL;
			return 0;
		}
		if (*p) {
			if ((*p != ' ' && *p != 'T' && *p != '-') || !pol_digits(p + 1, 2, &h) || p[3])
				return STRATA_EINVAL;
		}
	} else if ((len == 8 || len == 10) && pol_digits(p, 4, &y) && pol_digits(p + 4, 2, &mo) &&
		   pol_digits(p + 6, 2, &d)) {
		if (len == 10 && !pol_digits(p + 8, 2, &h))
			return STRATA_EINVAL;
	} else {
		return STRATA_EINVAL;
	}
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23)
		return STRATA_EINVAL;
	bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !is_leap)
		return STRATA_EINVAL;
	*out_us = (pol_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600) * 1000000;
	return 0;
}

/* "30d", "12h", "90m", "45s": the largest unit that divides s. */
static void pol_duration_text(int64_t s, char *out, size_t n)
{
	if (s % 86400 == 0)
		snprintf(out, n, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(out, n, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(out, n, "%lldm", (long long)(s / 60));
	else
		snprintf(out, n, "%llds", (long long)s);
}

static void pol_time_text(int64_t us, char *out, size_t n)
{
	strata_buf b = {0};
	strata_timestamp_format(us, &b);
	snprintf(out, n, "%.19s", b.data ? (char *)b.data : "");
	strata_buf_free(&b);
}

void strata_pol_plan_expiry(const strata_pol_part *parts, size_t nparts, int64_t expire_s,
			    int64_t now_us, strata_pol_expiry *out, size_t *ndue,
			    int64_t *next_due_us)
{
	*ndue = 0;
	*next_due_us = INT64_MAX;
	char dur[32], tt[32], et[32], nt[32];
	pol_duration_text(expire_s > 0 ? expire_s : 0, dur, sizeof(dur));
	pol_time_text(now_us, nt, sizeof(nt));
	for (size_t i = 0; i < nparts; i++) {
		strata_pol_expiry *e = &out[i];
		memset(e, 0, sizeof(*e));
		const strata_pol_part *pp = &parts[i];
		if (expire_s <= 0) {
			snprintf(e->why, sizeof(e->why), "%.80s: partition.expiration-time is off",
				 pp->name);
			continue;
		}
		int64_t t;
		if (strata_pol_part_time(pp->value, &t) != 0) {
			snprintf(e->why, sizeof(e->why),
				 "%.80s: value \"%.40s\" names no date or time: never expires",
				 pp->name, pp->value);
			continue;
		}
		e->time_us = t;
		int64_t at = t + expire_s * 1000000;
		pol_time_text(t, tt, sizeof(tt));
		pol_time_text(at, et, sizeof(et));
		if (!pp->has_data) {
			snprintf(e->why, sizeof(e->why), "%.80s: holds no data (dropped or empty)",
				 pp->name);
			continue;
		}
		if (at <= now_us) {
			e->is_due = true;
			(*ndue)++;
			snprintf(e->why, sizeof(e->why), "%.80s: %s + %s = %s <= now %s: expired",
				 pp->name, tt, dur, et, nt);
		} else {
			if (at < *next_due_us)
				*next_due_us = at;
			snprintf(e->why, sizeof(e->why), "%.80s: %s + %s = %s > now %s: kept",
				 pp->name, tt, dur, et, nt);
		}
	}
}
