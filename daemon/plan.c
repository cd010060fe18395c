/*
 * daemon/plan.c — planning one table: gather its file entries in one
 * snapshot, hand each bucket's statistics to policies/, decide what to
 * queue, and report the verdicts (`strata admin plan`).
 *
 * d_plan_table() is called by the scan (daemon/stratad.c) with enqueue set,
 * and by the admin commands plan and sort/merge/compact (fresh buckets)
 * without it.  It runs in three steps:
 *   gather   plan_gather_load(): in one snapshot, the table, its partitions
 *            and file entries grouped by bucket (d_plan_entries_load()), tags,
 *            leases, the effective policy and both retention boundaries
 *            (manifest/retention.c: the policy's hours, pinned by tags, for
 *            partial compaction; the table's own property for clean);
 *            table_pins() for status;
 *   decide   per bucket, its statistics to strata_pol_plan_bucket(), the
 *            gauges (bucket_gauges()) and, with enqueue, bucket_decide():
 *            queue, re-score or drop its job; then the table's clean
 *            (strata_pol_plan_clean(), clean_decide());
 *   report   with a report array, bucket_report() and table_report() — the
 *            JSON `strata admin plan` prints, every number compared.
 *
 * d_plan_bucket() is the same for one bucket, reading only its entries: the
 * loop calls it when a job on the bucket finished (job chaining), so a busy
 * bucket's next job — the merge after a sort, the sort of the row files that
 * came meanwhile — is queued at once instead of at the next scan.  Under
 * sustained ingest a bucket needs several jobs a second, and a whole-table
 * scan per job would cost the loop far more (docs/BENCHMARKS.md, "Sustained
 * ingest").  Table-wide things (gauges, clean, pins) stay the scan's.
 *
 * Entries are read light.  A busy table holds far more removed entries
 * than live ones — replaced files wait clean.grace_s, then their
 * tombstones clean.trash_s: at 320 files replaced a second and the
 * defaults, about a million entries for a few hundred live — and a re-plan
 * follows every job.  So the gather visits the entries as briefs
 * (strata_mf_table_visit(): a few field reads each, nothing copied, the
 * sketch lent from the snapshot) and keeps, per entry, only what the
 * policies read: a strata_pol_file for a live one, a strata_pol_gone for a
 * removed one.  The manifest's key order ([table][partition][bucket][file
 * id]) already groups them by bucket, on both backends, so nothing is
 * sorted; an entry out of that order is an error, never a bucket planned
 * twice (docs/BENCHMARKS.md, "Planning a table of tombstones").
 *
 * The numbered invariants cited here are daemon/stratad.c's (1: one job per
 * bucket; 2: state changes only through d_job_set_state()).
 *
 * Loop thread only.
 */
#include "daemon/daemon_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- planning ----------------------------------------------------------------------------------- */

typedef struct floor_ts {
	uint64_t floor;
	int64_t ts;
} floor_ts;

/* Commit time of the oldest version above floor still in the log. */
static int64_t history_since(strata_mf_snap *snap, const strata_table_def *td, uint64_t floor,
			     floor_ts *cache, size_t *ncache, strata_arena *a)
{
	for (size_t i = 0; i < *ncache; i++)
		if (cache[i].floor == floor)
			return cache[i].ts;
	int64_t ts = 0;
	strata_version_rec vr;
	strata_err tmp;
	if (floor + 1 <= td->version) {
		if (strata_mf_version_get(snap, td->id, floor + 1, a, &vr, &tmp) == 0)
			ts = vr.ts_us;
		else if (strata_mf_version_get(snap, td->id, td->log_start, a, &vr, &tmp) == 0)
			ts = vr.ts_us; /* expired: older than this, so the age is a lower bound */
	}
	if (*ncache < 16)
		cache[(*ncache)++] = (floor_ts){floor, ts};
	return ts;
}

static const char *part_name_by_id(const strata_partition *ps, size_t np, uint32_t id)
{
	for (size_t i = 0; i < np; i++)
		if (ps[i].id == id)
			return ps[i].name;
	return NULL;
}

/* Queue, re-score or drop bucket b's job by its verdict; true when it
 * queued a new one. */
static bool bucket_decide(stratad *d, dtable *t, dbucket *b, const strata_pol_plan *plan,
			  const strata_policy *pol)
{
	bool may_queue = d->state == D_RUNNING && !d->jobs.is_paused && !t->is_paused && !t->purge_job;
	if (b->job) {
		dj *j = b->job;
		bool is_dropped = false;
		pthread_mutex_lock(&d->mu);
		if (j->state == DJ_QUEUED && !j->is_manual) {
			if (plan->best < 0 || !may_queue) {
				is_dropped = d_queue_remove_locked(d, j);
			} else {
				const strata_pol_check *c = &plan->checks[plan->best];
				j->kind = c->kind == STRATA_POL_SORT ? DJ_SORT :
					  c->kind == STRATA_POL_MERGE ? DJ_MERGE :
									DJ_PARTIAL;
				j->level = c->kind == STRATA_POL_MERGE ? c->level : -1;
				j->through = c->kind == STRATA_POL_MERGE ? c->through : 0;
				j->score = c->score;
				j->planned_garbage_rows = plan->st.garbage_rows;
				j->pol = *pol;
				j->pol.retain_hours = d_job_retain_hours(d, t->name);
				snprintf(j->reason, sizeof(j->reason), "%s", c->why);
			}
		}
		pthread_mutex_unlock(&d->mu);
		if (is_dropped)
			d_job_drop(d, j, false, plan->best < 0 ? "no longer due" : "planning paused");
		return false;
	}
	if (plan->best < 0 || !may_queue)
		return false;
	const strata_pol_check *c = &plan->checks[plan->best];
	dj_kind kind = c->kind == STRATA_POL_SORT ? DJ_SORT : c->kind == STRATA_POL_MERGE ? DJ_MERGE :
											DJ_PARTIAL;
	dj *j = d_job_new(d, kind, t, pol);
	snprintf(j->part, sizeof(j->part), "%s", b->part_name);
	j->part_id = b->part_id;
	j->bucket = b->bucket;
	j->level = kind == DJ_MERGE ? c->level : -1;
	j->through = kind == DJ_MERGE ? c->through : 0;
	j->score = c->score;
	j->planned_garbage_rows = plan->st.garbage_rows;
	snprintf(j->reason, sizeof(j->reason), "%s", c->why);
	d_job_enqueue(d, t, b, j);
	return true;
}

static void clean_decide(stratad *d, dtable *t, const strata_pol_clean *cp, const strata_policy *pol)
{
	bool may_queue = d->state == D_RUNNING && !d->jobs.is_paused && !t->is_paused && !t->purge_job;
	if (t->clean_job || !cp->check.is_due || cp->is_backing_off || !may_queue)
		return;
	dj *j = d_job_new(d, DJ_CLEAN, t, pol);
	j->score = cp->check.score;
	j->orphan_scan = cp->is_orphan_scan;
	j->expect_eligible = cp->eligible;
	snprintf(j->reason, sizeof(j->reason), "%s", cp->check.why);
	d_job_enqueue(d, t, NULL, j);
}

static json_t *checks_json(const strata_pol_check *c, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "kind", json_string(strata_pol_kind_name(c[i].kind)));
		json_object_set_new(o, "due", json_boolean(c[i].is_due));
		json_object_set_new(o, "score", json_real(c[i].score));
		if (c[i].kind == STRATA_POL_MERGE && c[i].is_due)
			json_object_set_new(o, "level", json_integer(c[i].level));
		if (c[i].kind == STRATA_POL_MERGE && c[i].is_due && c[i].through > c[i].level)
			json_object_set_new(o, "through", json_integer(c[i].through));
		json_object_set_new(o, "why", json_string(c[i].why));
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- gather: one snapshot of the table --------------------------------------------- */

/* The per-entry part of the gather: strata_mf_table_visit()'s callback. */
static int plan_entry(void *arg, const strata_file_brief *b)
{
	d_plan_entries *e = arg;
	e->nentries++;
	if (b->removed_version != 0) {
		if (!e->is_gone_wanted)
			return 0;
		if (e->ngone == e->cap_gone) {
			e->cap_gone = e->cap_gone ? e->cap_gone * 2 : 64;
			e->gone = strata_realloc(e->gone, e->cap_gone * sizeof(*e->gone));
		}
		e->gone[e->ngone++] = (strata_pol_gone){
			.bytes = b->bytes,
			.removed_version = b->removed_version,
			.removed_us = b->removed_us,
			.removed_kept_history = b->removed_kept_history,
			.is_deleted = b->is_deleted,
			.deleted_us = b->deleted_us,
		};
		return 0;
	}
	/* grouped by bucket: the key order, never undone */
	if (e->nlive && d_bucket_cmp(b->part_id, b->bucket, e->live_at[e->nlive - 1][0],
				     e->live_at[e->nlive - 1][1]) < 0) {
		e->is_unordered = true;
		return STRATA_ECORRUPT;
	}
	if (e->nlive == e->cap_live) {
		e->cap_live = e->cap_live ? e->cap_live * 2 : 64;
		e->live = strata_realloc(e->live, e->cap_live * sizeof(*e->live));
		e->live_at = strata_realloc(e->live_at, e->cap_live * sizeof(*e->live_at));
	}
	e->live_at[e->nlive][0] = b->part_id;
	e->live_at[e->nlive][1] = b->bucket;
	e->live[e->nlive++] = (strata_pol_file){
		.level = b->level,
		.bytes = b->bytes,
		.rows = b->rows,
		.tombstones = b->tombstones,
		.seq_min = b->seq_min,
		.seq_max = b->seq_max,
		.added_us = b->added_us,
		.sketch = b->sketch, /* lent until the snapshot closes */
		.is_compact = b->is_compact,
	};
	return 0;
}

int d_plan_entries_load(strata_mf_snap *snap, uint32_t table_id, const uint32_t *one,
			bool with_gone, d_plan_entries *e, strata_err *err)
{
	memset(e, 0, sizeof(*e));
	e->is_gone_wanted = with_gone;
	int rc = one ? strata_mf_bucket_visit(snap, table_id, one[0], one[1], plan_entry, e, err) :
		       strata_mf_table_visit(snap, table_id, plan_entry, e, err);
	if (e->is_unordered)
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "the file entries of table %u came out of key order (a bucket "
				    "before partition %u bucket %u came after it): not planned",
				    table_id, e->live_at[e->nlive - 1][0], e->live_at[e->nlive - 1][1]);
	return rc;
}

void d_plan_entries_free(d_plan_entries *e)
{
	free(e->live);
	free(e->live_at);
	free(e->gone);
	memset(e, 0, sizeof(*e));
}

/* Everything planning a table reads from the manifest, in one snapshot
 * (open until plan_gather_free(), for per-bucket states, history and the
 * sketches the entries lend). */
typedef struct plan_gather {
	strata_arena *a;
	strata_mf_snap *snap;
	strata_table_def td;
	strata_partition *ps;
	size_t np;
	d_plan_entries e;
	strata_tag *tags;
	size_t ntags;
	strata_lease *leases;
	size_t nleases;
	strata_policy pol;             /* the table's effective policy */
	strata_retention eff;          /* partial compaction: the policy's hours, tags pin */
	strata_retention prop;         /* clean: the table's own property */
	floor_ts cache[16];            /* history_since() */
	size_t ncache;
} plan_gather;

static void plan_gather_free(plan_gather *g)
{
	d_plan_entries_free(&g->e);
	strata_mf_snap_close(g->snap);
	strata_arena_free(g->a);
	memset(g, 0, sizeof(*g));
}

/* With one (>= 0: part_id, bucket), only that bucket's entries are read
 * (d_plan_bucket()), and no removed one; otherwise every entry of the
 * table. */
static int plan_gather_load(stratad *d, const char *name, int64_t now, const uint32_t *one,
			    plan_gather *g, strata_err *err)
{
	memset(g, 0, sizeof(*g));
	g->a = strata_arena_new();
	strata_mf *mf = strata_wh_mf(d->wh);
	int rc = strata_mf_snap_open(mf, &g->snap, err);
	if (rc == 0)
		rc = strata_mf_table_get(g->snap, name, &g->td, err);
	if (rc == 0)
		rc = strata_mf_partitions(g->snap, g->td.id, g->a, &g->ps, &g->np, err);
	if (rc == 0)
		rc = d_plan_entries_load(g->snap, g->td.id, one, !one, &g->e, err);
	if (rc == 0)
		rc = strata_mf_tags_list(g->snap, g->td.id, g->a, &g->tags, &g->ntags, err);
	if (rc == 0)
		rc = strata_mf_leases_list(mf, g->td.id, g->a, &g->leases, &g->nleases, err);
	if (rc)
		return rc;
	stratad_config_policy(d->cfg, name, g->td.retain_hours, &g->pol, NULL);
	/* one rule (manifest/retention.c): partial compaction with the policy's
	 * hours, pinned by tags; clean with the table's own property (tags are
	 * clean's own check) */
	rc = strata_mf_retention(g->snap, &g->td, g->pol.retain_hours, now, g->a, &g->eff, err);
	if (rc == 0)
		rc = strata_mf_retention(g->snap, &g->td, -1, now, g->a, &g->prop, err);
	return rc;
}

/* The oldest pin of the table (tags and leases), for status and metrics. */
static void table_pins(dtable *t, plan_gather *g)
{
	t->pin_version = 0;
	t->pin_holder[0] = '\0';
	for (size_t i = 0; i < g->ntags; i++) {
		if (!t->pin_version || g->tags[i].version < t->pin_version) {
			t->pin_version = g->tags[i].version;
			snprintf(t->pin_holder, sizeof(t->pin_holder), "tag %s", g->tags[i].name);
		}
	}
	for (size_t i = 0; i < g->nleases; i++)
		if (!t->pin_version || g->leases[i].version < t->pin_version) {
			t->pin_version = g->leases[i].version;
			snprintf(t->pin_holder, sizeof(t->pin_holder), "lease %" PRIu64 " of pid %d",
				 g->leases[i].id, (int)g->leases[i].pid);
		}
	t->pin_ts_us = 0;
	if (t->pin_version) {
		strata_version_rec vr;
		strata_err tmp;
		if (strata_mf_version_get(g->snap, g->td.id, t->pin_version, g->a, &vr, &tmp) == 0)
			t->pin_ts_us = vr.ts_us;
	}
}

/* ---- decide: gauges of one bucket's verdict ------------------------------------------ */

static void table_gauges_reset(dtable *t)
{
	memset(t->files_per_level, 0, sizeof(t->files_per_level));
	memset(t->bytes_per_level, 0, sizeof(t->bytes_per_level));
	t->files = 0;
	t->bytes = t->history_bytes = 0;
	t->l0_oldest_us = 0;
	t->due = t->backing_off = 0;
	for (size_t k = 0; k < t->nb; k++) {
		t->b[k].files = t->b[k].l0_files = 0;
		t->b[k].bytes = 0;
		memset(t->b[k].level_files, 0, sizeof(t->b[k].level_files));
		t->b[k].has_merge_input = false;
	}
}

static void bucket_gauges(dtable *t, dbucket *b, const strata_pol_plan *plan, bool enqueue,
			  int64_t now)
{
	if (enqueue) /* aging: how long each kind has waited (policies.c) */
		for (int k = 0; k < 3; k++)
			b->due_since_us[k] = !plan->checks[k].is_due ? 0 :
					     b->due_since_us[k] ? b->due_since_us[k] :
								  now;
	b->best = plan->best >= 0 ? (int)plan->checks[plan->best].kind : -1;
	b->is_backing_off = plan->is_backing_off;
	b->files = (uint32_t)plan->st.files;
	b->l0_files = (uint32_t)plan->st.files_per_level[0];
	b->bytes = plan->st.bytes;
	for (int l = 0; l < STRATA_POL_LEVELS; l++) /* the status page's grid */
		b->level_files[STRATA_MIN(l, D_BUCKET_LEVELS - 1)] += (uint32_t)plan->st.files_per_level[l];
	/* writer back-pressure: commits to this bucket wait or slow */
	if (t->bp_max_l0 && b->l0_files >= t->bp_max_l0)
		t->bp_waiting++;
	else if (t->bp_slow_l0 && b->l0_files >= t->bp_slow_l0)
		t->bp_slowed++;
	for (int l = 1; l < STRATA_POL_LEVELS; l++)
		b->has_merge_input |= plan->st.files_per_level[l] >= 2;
	for (int l = 0; l < STRATA_POL_LEVELS; l++) {
		t->files_per_level[l] += plan->st.files_per_level[l];
		t->bytes_per_level[l] += plan->st.bytes_per_level[l];
	}
	t->files += plan->st.files;
	t->bytes += plan->st.bytes;
	t->history_bytes += plan->st.history_bytes;
	if (plan->st.l0_oldest_us &&
	    (!t->l0_oldest_us || plan->st.l0_oldest_us < t->l0_oldest_us))
		t->l0_oldest_us = plan->st.l0_oldest_us;
	t->due += plan->best >= 0;
	t->backing_off += plan->is_backing_off;
}

/* ---- report: `strata admin plan` ------------------------------------------------------ */

static json_t *bucket_report(const dbucket *b, const char *pn, uint32_t bucket,
			     const strata_bucket_state *bs, const strata_pol_plan *plan, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "partition", json_string(d_pname(pn)));
	json_object_set_new(o, "bucket", json_integer(bucket));
	json_object_set_new(o, "files", json_integer((json_int_t)plan->st.files));
	json_object_set_new(o, "bytes", json_integer((json_int_t)plan->st.bytes));
	json_object_set_new(o, "floor", json_integer((json_int_t)bs->floor));
	json_object_set_new(o, "best", plan->best >= 0 ?
			   json_string(strata_pol_kind_name(plan->checks[plan->best].kind)) :
			   json_null());
	if (plan->is_backing_off)
		json_object_set_new(o, "backing_off_s",
				    json_real((double)(plan->backoff_until_us - now) / 1e6));
	if (b->is_corrupt)
		json_object_set_new(o, "corrupt", json_string(b->corrupt_error));
	if (b->job)
		json_object_set_new(o, "job", json_integer((json_int_t)b->job->id));
	json_object_set_new(o, "checks", checks_json(plan->checks, 3));
	return o;
}

static json_t *table_report(const dtable *t, const plan_gather *g, json_t *jbuckets,
			    const strata_pol_clean *cp, int64_t next, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(g->td.name));
	json_object_set_new(o, "version", json_integer((json_int_t)g->td.version));
	json_object_set_new(o, "retain_hours", json_integer(g->pol.retain_hours));
	json_object_set_new(o, "boundary", json_integer((json_int_t)g->eff.pinned));
	json_object_set_new(o, "paused", json_boolean(t->is_paused));
	json_object_set_new(o, "buckets", jbuckets);
	json_t *c = json_object();
	json_object_set_new(c, "due", json_boolean(cp->check.is_due));
	json_object_set_new(c, "score", json_real(cp->check.score));
	json_object_set_new(c, "orphan_scan", json_boolean(cp->is_orphan_scan));
	if (cp->is_backing_off)
		json_object_set_new(c, "backing_off_s",
				    json_real((double)(cp->backoff_until_us - now) / 1e6));
	json_object_set_new(c, "why", json_string(cp->check.why));
	json_object_set_new(o, "clean", c);
	json_object_set_new(o, "next_due_s", next == INT64_MAX ? json_null() :
					     json_real((double)(next - now) / 1e6));
	return o;
}

/* The policies' verdict on bucket b from its live files pf[0..npf) (the
 * snapshot's), and its state bs. */
static void bucket_plan(plan_gather *g, dbucket *b, const strata_pol_file *pf, size_t npf,
			int64_t now, strata_bucket_state *bs, strata_pol_plan *plan)
{
	const strata_table_def *td = &g->td;
	strata_err tmp;
	if (strata_mf_bucket_state_get(g->snap, td->id, b->part_id, b->bucket, bs, &tmp) != 0)
		memset(bs, 0, sizeof(*bs));
	strata_pol_bucket in = {
		.files = pf,
		.nfiles = npf,
		.floor = bs->floor,
		.boundary = g->eff.pinned,
		.boundary_ts_us = g->eff.pinned_ts_us,
		.next_boundary_us = g->eff.pinned_next_us,
		.history_since_us = g->eff.pinned > bs->floor ?
					    history_since(g->snap, td, bs->floor, g->cache, &g->ncache,
							  g->a) :
					    0,
		.retain_s = g->pol.retain_hours * 3600,
		.failures = d_bucket_backoff_failures(b),
		.failed_us = b->failed_us,
		.compact_bar_rows = b->compact_bar_rows,
	};
	memcpy(in.due_since_us, b->due_since_us, sizeof(in.due_since_us));
	strata_pol_plan_bucket(&in, &g->pol, now, plan);
}

/* The live entries of the bucket at g->e.live[*i], as the policies' files:
 * g->e.live[*i..) up to the next bucket.  Advances *i; returns the count. */
static size_t bucket_files(const plan_gather *g, size_t *i)
{
	const d_plan_entries *e = &g->e;
	uint32_t part_id = e->live_at[*i][0], bucket = e->live_at[*i][1];
	size_t from = *i;
	while (*i < e->nlive && e->live_at[*i][0] == part_id && e->live_at[*i][1] == bucket)
		(*i)++;
	return *i - from;
}

/* ---- one table: gather, then per bucket plan / decide / report, then clean ------------- */

int d_plan_table(stratad *d, const char *name, bool enqueue, json_t *report, bool all,
		 strata_err *err)
{
	if (d_degraded_refuse(d, name, err)) /* the damage rule */
		return err->code;
	int64_t now = strata_now_us();
	bool is_table_mine = true;
	plan_gather g;
	int rc = plan_gather_load(d, name, now, NULL, &g, err);
	if (rc)
		goto out;
	const strata_table_def *td = &g.td;
	const strata_policy *pol = &g.pol;
	dtable *t = d_table_get_or_add(d, name, td->id);
	t->version = td->version;
	t->retain_hours = td->retain_hours;
	table_pins(t, &g);
	t->boundary = g.eff.pinned;
	table_gauges_reset(t);
	t->bp_max_l0 = td->max_l0_files;
	t->bp_slow_l0 = td->slow_l0_files;
	t->bp_waiting = t->bp_slowed = 0;
	int64_t next = INT64_MAX;
	size_t share_mine = 0, share_total = 0;
	json_t *jbuckets = report ? json_array() : NULL;
	for (size_t i = 0; i < g.e.nlive;) {
		/* buckets with no live entry are not planned (nothing to run) */
		uint32_t part_id = g.e.live_at[i][0], bucket = g.e.live_at[i][1];
		const strata_pol_file *pf = &g.e.live[i];
		size_t npf = bucket_files(&g, &i);
		share_total++;
		/* another daemon's share (daemon/share.c): it plans and runs it */
		if (enqueue && !d_share_mine(d, td->id, part_id, bucket))
			continue;
		share_mine++;
		const char *pn = part_name_by_id(g.ps, g.np, part_id);
		if (!pn)
			continue; /* a partition newer than our list: next scan */
		dbucket *b = d_bucket_get_or_add(t, part_id, bucket, pn);
		strata_bucket_state bs;
		strata_pol_plan plan;
		bucket_plan(&g, b, pf, npf, now, &bs, &plan);
		bucket_gauges(t, b, &plan, enqueue, now);
		if (plan.next_due_us < next)
			next = plan.next_due_us;
		LOG_DEBUG("plan %s p=%s b=%u: %s%s; sort: %s; merge: %s; compact: %s", name, d_pname(pn),
			   bucket,
			   plan.best >= 0 ? strata_pol_kind_name(plan.checks[plan.best].kind) : "nothing due",
			   plan.is_backing_off ? " (backing off)" : "", plan.checks[0].why,
			   plan.checks[1].why, plan.checks[2].why);
		if (enqueue)
			bucket_decide(d, t, b, &plan, pol);
		if (jbuckets && (all || plan.best >= 0 || plan.is_backing_off))
			json_array_append_new(jbuckets, bucket_report(b, pn, bucket, &bs, &plan, now));
	}
	strata_pol_table tin = {
		.gone = g.e.gone,
		.ngone = g.e.ngone,
		.boundary = g.prop.boundary,
		.next_boundary_us = g.prop.next_us,
		.last_clean_us = t->last_clean_us,
		.last_clean_cost_us = t->last_clean_cost_us,
		.marked_in_place = t->marked_in_place,
		.last_orphan_scan_us = t->last_orphan_us,
		.failures = t->clean_failures,
		.failed_us = t->clean_failed_us,
	};
	strata_pol_clean cp;
	strata_pol_plan_clean(&tin, pol, now, &cp);
	if (cp.next_due_us < next)
		next = cp.next_due_us;
	if (!t->last_clean_us) {
		t->trash_files = cp.trash_files;
		t->trash_bytes = cp.trash_bytes;
	}
	LOG_DEBUG("plan %s clean: %s%s", name, cp.check.is_due ? "due: " : "", cp.check.why);
	is_table_mine = d_share_mine(d, td->id, D_SHARE_TABLE, D_SHARE_TABLE);
	if (enqueue) {
		if (is_table_mine)
			clean_decide(d, t, &cp, pol);
		t->planned_version = td->version;
		t->planned_cfg_gen = d->cfg_gen;
		t->planned_share_gen = d->share_gen;
		t->share_mine = share_mine;
		t->share_total = share_total;
		t->next_due_us = next;
		t->is_dirty = false;
	}
	if (report)
		json_array_append_new(report, table_report(t, &g, jbuckets, &cp, next, now));
out:;
	int64_t part_expire_s = rc == 0 ? (int64_t)g.td.part_expire_s : 0;
	plan_gather_free(&g);
	/* partition TTL (daemon/expire.c); it commits, so after the snapshot */
	if (rc == 0 && part_expire_s > 0 && (!enqueue || is_table_mine))
		d_expire_table(d, name, enqueue,
			       report ? json_array_get(report, json_array_size(report) - 1) : NULL, now);
	return rc;
}

/* ---- one bucket, after its job: job chaining --------------------------------------------- */

int d_plan_bucket(stratad *d, const char *name, uint32_t part_id, uint32_t bucket,
		  strata_err *err)
{
	dtable *t = d_table_find(d, name);
	dbucket *b = t ? d_bucket_find(t, part_id, bucket) : NULL;
	if (!b || b->job || d_degraded_refuse(d, name, err))
		return 0; /* unknown, busy, or the damage rule: the scan decides */
	if (!d_share_mine(d, t->id, part_id, bucket))
		return 0;
	int64_t now = strata_now_us();
	uint32_t one[2] = {part_id, bucket};
	plan_gather g;
	int rc = plan_gather_load(d, name, now, one, &g, err);
	if (rc)
		goto out;
	if (g.td.id != t->id)
		goto out; /* dropped and re-created: the scan's business */
	size_t i = 0, npf = g.e.nlive ? bucket_files(&g, &i) : 0;
	const strata_pol_file *pf = g.e.live;
	if (npf == 0)
		goto out;
	strata_bucket_state bs;
	strata_pol_plan plan;
	bucket_plan(&g, b, pf, npf, now, &bs, &plan);
	for (int k = 0; k < 3; k++) /* aging, as bucket_gauges() keeps it */
		b->due_since_us[k] = !plan.checks[k].is_due ? 0 :
				     b->due_since_us[k] ? b->due_since_us[k] :
							  now;
	LOG_DEBUG("plan %s p=%s b=%u after its job: %s; sort: %s; merge: %s; compact: %s", name,
		  d_pname(b->part_name), bucket,
		  plan.best >= 0 ? strata_pol_kind_name(plan.checks[plan.best].kind) : "nothing due",
		  plan.checks[0].why, plan.checks[1].why, plan.checks[2].why);
	if (bucket_decide(d, t, b, &plan, &g.pol))
		d->m.chained_jobs++;
out:
	plan_gather_free(&g);
	return rc;
}
