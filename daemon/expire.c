/*
 * daemon/expire.c — the partition TTL policy kind ("expire") in stratad.
 *
 * A table with partition.expiration-time E > 0 has each partition's value of
 * partition.expiration-column read as a date or a time T
 * (strata_pol_part_time); the pure planner strata_pol_plan_expiry() says
 * which have expired (T + E <= now, and the partition still holds a live
 * file).  Planning with enqueue drops each expired partition at once with
 * strata_mf_drop_partition(): one manifest commit, no data I/O, so it is
 * not queued as a job; the usual clean deletes the files once the versions
 * they serve leave retention.  `strata admin plan` shows every verdict with
 * its numbers under "expire"; `admin watch` sees the drop as a commit of
 * kind drop (the commit poller), like any other commit.
 *
 * Wiring (the only call from the rest of the daemon): d_plan_table() calls
 * d_expire_table() once per table, after its manifest snapshot is closed
 * (this function commits).
 *
 * Invariants:
 *   1. a partition is dropped only when the planner said so in this very
 *      call, from the manifest as it is now (drop-partition refuses, and
 *      commits nothing, if the partition has no data left);
 *   2. at most D_EXPIRE_MAX_PER_SCAN drops per table per scan (the loop
 *      thread does them), the rest at the next scan;
 *   3. nothing is dropped while the daemon stops or the table or the daemon
 *      is paused; an uncertain commit leaves the handle to the cron's
 *      reopen, and the next scan decides again (a drop is idempotent: a
 *      dropped partition holds no data, so it is never due twice).
 *
 * Thread: the event loop's (main) thread only.
 */
#include "daemon/daemon_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define D_EXPIRE_MAX_PER_SCAN 16

/* Which partitions hold a live file: has[i] for ps[i] (ps in id order, as
 * strata_mf_partitions() lists them), from the entries' briefs — a table
 * of tombstones costs a few field reads per entry (daemon/plan.c, "Entries
 * are read light"). */
typedef struct expire_live {
	const strata_partition *ps;
	size_t np;
	bool *has;
} expire_live;

static int expire_live_entry(void *arg, const strata_file_brief *b)
{
	expire_live *x = arg;
	if (b->removed_version != 0)
		return 0;
	size_t lo = 0, hi = x->np;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->ps[mid].id < b->part_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->np && x->ps[lo].id == b->part_id)
		x->has[lo] = true;
	return 0;
}

void d_expire_table(stratad *d, const char *name, bool enqueue, json_t *report_table,
		    int64_t now_us)
{
	strata_mf *mf = strata_wh_mf(d->wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def td;
	strata_partition *ps = NULL;
	bool *has = NULL;
	size_t np = 0, ndue = 0;
	strata_pol_part *pp = NULL;
	strata_pol_expiry *ex = NULL;
	int64_t next = INT64_MAX;
	strata_err err;
	strata_err_clear(&err);
	json_t *jo = report_table ? json_object() : NULL;
	int rc = strata_mf_snap_open(mf, &snap, &err);
	if (rc == 0)
		rc = strata_mf_table_get(snap, name, &td, &err);
	if (rc == 0 && td.part_expire_s <= 0)
		goto out; /* off: nothing to say */
	int ci = rc == 0 ? strata_table_expiry_column(&td, &err) : rc;
	if (ci < 0) {
		if (jo)
			json_object_set_new(jo, "why", json_string(err.msg));
		LOG_WARN("expire %s: %s", name, err.msg);
		goto out;
	}
	rc = strata_mf_partitions(snap, td.id, a, &ps, &np, &err);
	if (rc == 0) {
		has = strata_calloc(np + 1, sizeof(*has));
		expire_live x = {.ps = ps, .np = np, .has = has};
		rc = strata_mf_table_visit(snap, td.id, expire_live_entry, &x, &err);
	}
	strata_mf_snap_close(snap);
	snap = NULL;
	if (rc) {
		LOG_WARN("expire %s: %s", name, err.msg);
		goto out;
	}
	pp = strata_calloc(np + 1, sizeof(*pp));
	ex = strata_calloc(np + 1, sizeof(*ex));
	for (size_t i = 0; i < np; i++) {
		char *vals[STRATA_MAX_PART_COLS + 1] = {0};
		pp[i].name = ps[i].name;
		pp[i].value = strata_partition_values(&td, ps[i].name, a, vals, &err) == 0 &&
					      vals[ci] ?
				      vals[ci] :
				      "";
		pp[i].has_data = has[i];
	}
	strata_pol_plan_expiry(pp, np, td.part_expire_s, now_us, ex, &ndue, &next);
	bool may_drop = enqueue && d->state == D_RUNNING && !d->jobs.is_paused;
	dtable *t = d_table_find(d, name);
	may_drop &= !(t && t->is_paused);
	json_t *jparts = jo ? json_array() : NULL;
	size_t ndropped = 0;
	for (size_t i = 0; i < np; i++) {
		LOG_DEBUG("expire %s: %s", name, ex[i].why);
		if (jparts && (ex[i].is_due || pp[i].has_data)) {
			json_t *o = json_object();
			json_object_set_new(o, "partition", json_string(ps[i].name));
			json_object_set_new(o, "due", json_boolean(ex[i].is_due));
			json_object_set_new(o, "why", json_string(ex[i].why));
			json_array_append_new(jparts, o);
		}
		if (!ex[i].is_due || !may_drop || ndropped >= D_EXPIRE_MAX_PER_SCAN)
			continue; /* invariants 2 and 3 */
		/* invariant 1: the planner's verdict, from the manifest now */
		uint64_t v = 0;
		size_t nf = 0;
		strata_err de;
		strata_err_clear(&de);
		rc = strata_mf_drop_partition(mf, name, ps[i].name, &v, &nf, &de);
		if (rc) {
			LOG_WARN("expire %s: could not drop partition %s: %s", name, ps[i].name, de.msg);
			if (rc == STRATA_EUNCERTAIN || rc == STRATA_EPOISONED)
				break; /* invariant 3 */
			continue;
		}
		ndropped++;
		LOG_INFO("expire %s: dropped partition %s at version %" PRIu64 " (%zu files): %s", name,
			 ps[i].name, v, nf, ex[i].why);
	}
	if (t && enqueue && next < t->next_due_us)
		t->next_due_us = next; /* wake up when the next one expires */
	if (jo) {
		int64_t es = td.part_expire_s;
		const char *unit = es % 86400 == 0 ? "d" : es % 3600 == 0 ? "h" : es % 60 == 0 ? "m" : "s";
		int64_t div = *unit == 'd' ? 86400 : *unit == 'h' ? 3600 : *unit == 'm' ? 60 : 1;
		char why[160];
		snprintf(why, sizeof(why),
			 "%zu of %zu partitions expired (partition.expiration-time=%lld%s, column %s)", ndue,
			 np, (long long)(es / div), unit, td.part_cols[ci]);
		json_object_set_new(jo, "due", json_boolean(ndue > 0));
		json_object_set_new(jo, "why", json_string(why));
		json_object_set_new(jo, "partitions", jparts);
	}
out:
	if (jo) {
		if (json_object_size(jo))
			json_object_set_new(report_table, "expire", jo);
		else
			json_decref(jo);
	}
	strata_mf_snap_close(snap);
	free(pp);
	free(ex);
	free(has);
	strata_arena_free(a);
}
