/*
 * manifest/retention.c — the retention boundary: the one rule that decides
 * which history a job may drop and which removed files clean may delete.
 *
 * DESIGN.md: the boundary B of a table is "the last version committed at or
 * before now - retain_hours"; tags pin.  Every caller — the bucket view the
 * job planners read (merge/job.c), clean (clean/clean.c), stratad's planner
 * (daemon/plan.c) and so the CLI and the daemon's workers — asks this file,
 * in the snapshot it plans in, with the hours it was told:
 *
 *   B       = the current version                     when retain_hours = 0
 *             version_at_time(now - retain_hours)     else (0: the log holds
 *                                                      no version that old)
 *   pinned  = min(B, oldest tag)                      (B when no tag)
 *   next    = commit time of B + 1 + retain_hours     when B moves next
 *             (0 when retain_hours = 0 or B is current; now + 60 s when
 *              B + 1's record is gone, so the caller looks again)
 *
 * Which hours: a table's own property (acid.data.retain.hours) unless the
 * caller passes an override (stratad's [table.NAME] acid.data.retain.hours
 * for partial compactions); retain_hours < 0 means the property *of the
 * table record read in the same snapshot*.  A job must never use hours read
 * at another time than its view: a property raised after planning would
 * otherwise be undone by a job planned before (tests/test_admin.c
 * test_retention_raised_while_queued).
 *
 * Invariants:
 *   1. one snapshot: B, the tags and the table record are read in the
 *      caller's snapshot, never in a second one;
 *   2. pinned <= B and pinned <= every tag, so a history-dropping job at
 *      pinned keeps the newest record per key of every version inside the
 *      window and of every tagged version;
 *   3. a failed lookup never raises B: "no version that old" is 0 (nothing
 *      may be dropped), any other error is returned.
 *
 * Thread safety: as the snapshot's (one thread at a time).
 */
#include "manifest/manifest.h"

#include <string.h>

#define RETENTION_US_PER_HOUR (3600ll * 1000000)
#define RETENTION_RECHECK_US (60ll * 1000000)

int strata_mf_retention(strata_mf_snap *s, const strata_table_def *t, int64_t retain_hours,
			int64_t now_us, strata_arena *a, strata_retention *out, strata_err *err)
{
	memset(out, 0, sizeof(*out));
	int64_t hours = retain_hours < 0 ? (int64_t)t->retain_hours : retain_hours;
	out->retain_hours = hours;
	int rc = 0;
	if (hours == 0) {
		out->boundary = t->version;
	} else {
		strata_err e;
		rc = strata_mf_version_at_time(s, t->id, now_us - hours * RETENTION_US_PER_HOUR,
					       &out->boundary, &e);
		if (rc == STRATA_ENOTFOUND) { /* invariant 3 */
			out->boundary = 0;
			rc = 0;
		} else if (rc) {
			rc = strata_err_set(err, rc, "retention boundary of table \"%s\": %s", t->name,
					    e.msg);
			goto out;
		}
	}
	strata_tag *tags = NULL;
	size_t ntags = 0;
	rc = strata_mf_tags_list(s, t->id, a, &tags, &ntags, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < ntags; i++)
		if (out->oldest_tag == 0 || tags[i].version < out->oldest_tag)
			out->oldest_tag = tags[i].version;
	bool is_pinned = out->oldest_tag && out->oldest_tag < out->boundary;
	out->pinned = is_pinned ? out->oldest_tag : out->boundary; /* invariant 2 */
	strata_version_rec vr;
	strata_err tmp;
	if (out->pinned && strata_mf_version_get(s, t->id, out->pinned, a, &vr, &tmp) == 0)
		out->pinned_ts_us = vr.ts_us;
	if (hours > 0 && out->boundary < t->version) {
		if (strata_mf_version_get(s, t->id, out->boundary + 1, a, &vr, &tmp) == 0)
			out->next_us = vr.ts_us + hours * RETENTION_US_PER_HOUR;
		else
			out->next_us = now_us + RETENTION_RECHECK_US;
	}
	out->pinned_next_us = is_pinned ? 0 : out->next_us;
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}
