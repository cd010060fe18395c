/*
 * merge/job.c — the executor every governance job runs through (sort,
 * leveled merge, partial and major compaction) and the bucket view planners
 * read.  The leveled-merge planner is merge/plan.c.
 *
 * A job, as a state machine (each arrow is one durable step):
 *
 *   planned --claim--> claimed --intent--> writing --outputs durable-->
 *   written --commit (checks inputs live, schema unchanged)--> committed
 *        \                \                  \                 \
 *         EBUSY            +------------------+--- failure ---> cleaned up
 *                                                (outputs unlinked, intent
 *                                                 and claim released; the
 *                                                 intent stays when an
 *                                                 output could not go)
 *   written --commit failed inside (STRATA_EUNCERTAIN)--> left as is: the
 *        outputs, the intent and the claim stay; recovery (a later process,
 *        with the manifest reopened) finds the intent only if the commit
 *        did not happen (a commit drops it), and only then removes them.
 *
 * Invariants:
 *   1. outputs are recorded as an intent (a file-name prefix in the bucket
 *      directory) before the first byte is written, so a crash at any point
 *      leaves nothing recovery cannot find;
 *   2. outputs are durable (fsync, rename, fsync dir) before the commit that
 *      names them; the commit checks every input is still live and the
 *      schema version unchanged, else STRATA_ECONFLICT and nothing changes;
 *   3. memory is bounded by the merge (one current record, i.e. one page
 *      per column, per input) plus the Parquet writer's page buffer (8 MiB;
 *      larger row groups spill to an unlinked temp file), independent of
 *      input sizes and of write.parquet.row-group.bytes;
 *   4. columns dropped after the bucket's floor (as it will be after the
 *      job) are kept in the outputs, so reads at versions before the drop
 *      still see their values;
 *   5. outputs are split only between keys, never inside one key's history.
 *   6. after an uncertain commit no output is unlinked and the intent stays:
 *      a committed version may name the outputs.
 *   7. a failed job drops its intent only once every output it wrote is
 *      deleted; otherwise the intent stays (its claim is released) and
 *      clean's intent recovery (clean/clean.c invariant 5) removes them.
 *      A job that committed never gets here: its outputs are named.
 *
 * Thread safety: one job per bucket (the claim); any number of jobs on
 * different buckets may run in parallel threads or processes.
 */
#include "merge/merge.h"
#include "table/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define JOB_CLAIM_TTL_US (600ll * 1000000)
#define JOB_CHECK_ROWS 4096
#define JOB_THROTTLE_BYTES (1u << 20)

/* ---- a missing input ------------------------------------------------------------- */

/* An input's file is gone (ENOENT).  If a fresh snapshot still lists it as
 * live, nothing may have removed it (clean deletes only removed files, and
 * the claim keeps other jobs off the bucket): that is damage, reported as
 * STRATA_ECORRUPT naming the file so the bucket is flagged, not retried as
 * an ordinary failure.  Otherwise the ENOENT stands (a race the commit's
 * liveness check would report as a conflict). */
static int input_missing(strata_mf *mf, const strata_file_entry *f, const char *path, int rc,
			 strata_err *err)
{
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_err e2;
	strata_file_entry *files = NULL;
	size_t n = 0;
	bool is_live = false;
	if (strata_mf_snap_open(mf, &snap, &e2) == 0 &&
	    strata_mf_bucket_files(snap, f->table_id, f->part_id, f->bucket, a, &files, &n, &e2) == 0)
		for (size_t i = 0; i < n; i++)
			if (files[i].id == f->id)
				is_live = files[i].removed_version == 0 && !files[i].is_deleted;
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	if (!is_live)
		return rc;
	return strata_err_set(err, STRATA_ECORRUPT,
			      "file \"%s\": missing (the manifest lists it as live since version "
			      "%llu)",
			      path, (unsigned long long)f->added_version);
}

/* ---- bucket view ------------------------------------------------------------------ */

static int file_seq_cmp(const void *a, const void *b)
{
	const strata_file_entry *x = a, *y = b;
	if (x->seq_min != y->seq_min)
		return x->seq_min < y->seq_min ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

int strata_bucket_view_load(struct strata_wh *wh, const char *table, const char *partition,
			    uint32_t bucket, int64_t now_us, strata_bucket_view *v,
			    strata_err *err)
{
	return strata_bucket_view_load_retain(wh, table, partition, bucket, now_us, -1, v, err);
}

int strata_bucket_view_load_retain(struct strata_wh *wh, const char *table,
				   const char *partition, uint32_t bucket, int64_t now_us,
				   int64_t retain_hours, strata_bucket_view *v, strata_err *err)
{
	memset(v, 0, sizeof(*v));
	v->arena = strata_arena_new();
	v->bucket = bucket;
	v->now_us = now_us;
	strata_mf *mf = strata_wh_mf(wh);
	strata_mf_snap *snap = NULL;
	int rc = strata_mf_snap_open(mf, &snap, err);
	if (rc)
		goto fail;
	rc = strata_mf_table_get(snap, table, &v->table, err);
	if (rc)
		goto fail;
	rc = strata_mf_partition_get(snap, v->table.id, partition ? partition : "", &v->part, err);
	if (rc == STRATA_ENOTFOUND) {
		rc = strata_err_set(err, rc, "table \"%s\" has no partition \"%s\"", table,
				    partition && *partition ? partition : "(unpartitioned)");
		goto fail;
	}
	if (rc)
		goto fail;
	if (bucket >= v->part.buckets) {
		rc = strata_err_set(err, STRATA_EINVAL, "partition has %u buckets; there is no bucket %u",
				    v->part.buckets, bucket);
		goto fail;
	}
	rc = strata_mf_schemas_list(snap, v->table.id, &v->schemas, &v->schema_since, &v->nschemas,
				    err);
	if (rc)
		goto fail;
	for (size_t i = 0; i < v->nschemas; i++)
		if (v->schemas[i]->version == v->table.schema_version)
			v->schema = strata_schema_dup(v->schemas[i]);
	if (!v->schema) {
		rc = strata_err_set(err, STRATA_ECORRUPT, "table \"%s\" lacks its current schema", table);
		goto fail;
	}
	rc = strata_mf_bucket_state_get(snap, v->table.id, v->part.id, bucket, &v->state, err);
	if (rc)
		goto fail;
	strata_file_entry *all;
	size_t n;
	rc = strata_mf_bucket_files(snap, v->table.id, v->part.id, bucket, v->arena, &all, &n, err);
	if (rc)
		goto fail;
	v->files = strata_arena_alloc(v->arena, (n + 1) * sizeof(strata_file_entry));
	v->removed = strata_arena_alloc(v->arena, (n + 1) * sizeof(strata_file_entry));
	for (size_t i = 0; i < n; i++) {
		if (all[i].removed_version == 0)
			v->files[v->nfiles++] = all[i];
		else if (!all[i].is_deleted)
			v->removed[v->nremoved++] = all[i];
	}
	qsort(v->files, v->nfiles, sizeof(strata_file_entry), file_seq_cmp);
	/* a job reads live files only: their inline bytes, from this snapshot */
	rc = strata_mf_inline_attach(snap, v->files, v->nfiles, v->arena, err);
	if (rc)
		goto fail;
	strata_retention ret;
	rc = strata_mf_retention(snap, &v->table, retain_hours, now_us, v->arena, &ret, err);
	if (rc)
		goto fail;
	v->retain_boundary = ret.boundary;
	v->oldest_tag = ret.oldest_tag;
	strata_mf_snap_close(snap);
	return 0;
fail:
	strata_mf_snap_close(snap);
	strata_bucket_view_free(v);
	return rc;
}

void strata_bucket_view_free(strata_bucket_view *v)
{
	if (!v)
		return;
	strata_schema_free(v->schema);
	for (size_t i = 0; i < v->nschemas; i++)
		strata_schema_free(v->schemas[i]);
	free(v->schemas);
	free(v->schema_since);
	strata_arena_free(v->arena);
	memset(v, 0, sizeof(*v));
}

/* ---- physical output schema (invariant 4) ------------------------------------------- */

static bool schema_has_id(const strata_schema *s, uint32_t id)
{
	return strata_schema_find_id(s, id) >= 0;
}

static strata_schema *output_schema(const strata_bucket_view *v, uint64_t floor_after)
{
	strata_schema *out = strata_schema_dup(v->schema);
	for (size_t i = 0; i < v->nschemas; i++) {
		const strata_schema *sv = v->schemas[i];
		for (uint32_t c = 0; c < sv->ncols; c++) {
			const strata_column *col = &sv->cols[c];
			if (schema_has_id(out, col->id))
				continue;
			/* dropped: find the version that dropped it */
			uint64_t dropped_at = 0;
			for (size_t j = i + 1; j < v->nschemas && !dropped_at; j++)
				if (!schema_has_id(v->schemas[j], col->id))
					dropped_at = v->schema_since[j];
			if (!dropped_at || dropped_at <= floor_after)
				continue;
			strata_column k = *col;
			k.key_pos = -1;
			k.is_nullable = true;
			if (strata_schema_find(out, k.name) >= 0)
				snprintf(k.name, sizeof(k.name), "%.40s_dropped_%u", col->name, col->id);
			/* a user column may have that name too: the physical name
			 * must be unique (readers match columns by id) */
			for (unsigned n = 2; strata_schema_find(out, k.name) >= 0; n++)
				snprintf(k.name, sizeof(k.name), "%.30s_dropped_%u_%u", col->name, col->id,
					 n);
			strata_schema_add(out, &k, NULL);
		}
	}
	return out;
}

/* ---- executor ------------------------------------------------------------------------- */

typedef struct job_out {
	char path[4096];
	char name[STRATA_FILE_NAME_MAX];
	strata_file_stats stats;
	bool is_written;
} job_out;

typedef struct job_state {
	struct strata_wh *wh;
	const strata_bucket_view *v;
	const strata_job_plan *plan;
	const strata_job_ctl *ctl;
	uint64_t job_id;
	bool has_claim, has_intent;
	char dir[4096];
	job_out *outs;
	size_t nouts, cap;
	strata_fwriter *w;
	strata_schema *schema;
	strata_merge *merge;
	int64_t last_renew_us;
	uint64_t throttled_bytes;
} job_state;

static int job_hook(job_state *j, const char *point, strata_err *err)
{
	if (j->ctl && j->ctl->hook && j->ctl->hook(j->ctl->hook_arg, point) != 0)
		return strata_err_set(err, STRATA_ECANCELED, "job stopped by a test hook at \"%s\"",
				      point);
	return 0;
}

static int job_open_output(job_state *j, strata_err *err)
{
	const strata_table_def *t = &j->v->table;
	if (j->nouts == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 4;
		j->outs = strata_realloc(j->outs, j->cap * sizeof(job_out));
	}
	job_out *o = &j->outs[j->nouts];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "j%llu-%zu.parquet", (unsigned long long)j->job_id,
		 j->nouts);
	snprintf(o->path, sizeof(o->path), "%s/%s", j->dir, o->name);
	strata_write_opts wo;
	strata_write_opts_default(&wo, STRATA_FMT_PARQUET);
	wo.codec = t->zstd_level > 0 ? STRATA_CODEC_ZSTD : STRATA_CODEC_NONE;
	wo.zstd_level = t->zstd_level > 0 ? t->zstd_level : 3;
	if (t->row_group_bytes)
		wo.row_group_bytes = t->row_group_bytes;
	if (t->page_bytes)
		wo.page_bytes = t->page_bytes;
	int rc = strata_fwriter_open(o->path, j->schema, &wo, &j->w, err);
	if (rc)
		return rc;
	j->nouts++;
	return 0;
}

static int job_close_output(job_state *j, strata_err *err)
{
	job_out *o = &j->outs[j->nouts - 1];
	int rc = strata_fwriter_finish(j->w, &o->stats, err);
	j->w = NULL;
	if (rc)
		return rc;
	o->is_written = true;
	return 0;
}

/* Renew the claim, honour cancellation and the I/O rate. */
static int job_checkpoint(job_state *j, uint64_t bytes_now, strata_err *err)
{
	const strata_job_ctl *ctl = j->ctl;
	if (ctl && ctl->cancel && __atomic_load_n(ctl->cancel, __ATOMIC_RELAXED))
		return strata_err_set(err, STRATA_ECANCELED, "%s of bucket %u cancelled",
				      j->plan->what, j->v->bucket);
	int64_t ttl = ctl && ctl->claim_ttl_us ? ctl->claim_ttl_us : JOB_CLAIM_TTL_US;
	int64_t now = strata_mono_us();
	if (now - j->last_renew_us > ttl / 3) {
		int rc = strata_mf_claim_renew(strata_wh_mf(j->wh), j->v->table.id, j->v->part.id,
					 j->v->bucket, ctl && ctl->owner ? ctl->owner : "strata",
					 j->job_id, ttl, err);
		if (rc)
			return rc;
		j->last_renew_us = now;
	}
	if (ctl && ctl->throttle && bytes_now > j->throttled_bytes + JOB_THROTTLE_BYTES) {
		ctl->throttle(ctl->throttle_arg, bytes_now - j->throttled_bytes);
		j->throttled_bytes = bytes_now;
	}
	return 0;
}

static const strata_schema *schema_version_of(const strata_bucket_view *v, uint32_t version)
{
	for (size_t i = 0; i < v->nschemas; i++)
		if (v->schemas[i]->version == version)
			return v->schemas[i];
	return NULL;
}

/* The failure path (invariant 7): the outputs go, then the intent, then
 * the claim.  An output that could not be deleted (the gateway stopped, an
 * unlink failed) keeps the intent, so that clean's intent recovery — once
 * the claim released here is gone, clean/clean.c invariant 5 — removes it
 * at its next run instead of the orphan scan a day later. */
static void job_cleanup(job_state *j)
{
	strata_fwriter_abort(j->w);
	j->w = NULL;
	size_t nleft = 0;
	strata_err tmp;
	for (size_t i = 0; i < j->nouts; i++) {
		if (!j->outs[i].is_written)
			continue;
		strata_err_clear(&tmp);
		if (strata_data_remove(j->outs[i].path, &tmp) < 0) {
			nleft++;
			LOG_WARN("job %llu: its failed run left \"%s\" (%s); its intent stays "
				 "for clean's intent recovery",
				 (unsigned long long)j->job_id, j->outs[i].path, tmp.msg);
		}
	}
	if (j->has_intent && nleft == 0)
		strata_mf_intent_del(strata_wh_mf(j->wh), j->job_id, &tmp);
	if (j->has_claim)
		strata_mf_claim_release(strata_wh_mf(j->wh), j->v->table.id, j->v->part.id,
					j->v->bucket, j->job_id, &tmp);
}

static int inputs_still_live(strata_mf *mf, const strata_bucket_view *v,
			     const strata_job_plan *plan, strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(mf, &snap, err);
	if (rc)
		return rc;
	strata_arena *a = strata_arena_new();
	strata_file_entry *files;
	size_t n;
	rc = strata_mf_bucket_files(snap, v->table.id, v->part.id, v->bucket, a, &files, &n, err);
	strata_mf_snap_close(snap);
	for (size_t i = 0; rc == 0 && i < plan->ninputs; i++) {
		const strata_file_entry *now = NULL;
		for (size_t k = 0; k < n && !now; k++)
			if (files[k].id == plan->inputs[i]->id)
				now = &files[k];
		if (!now)
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "input file %s is gone from the manifest (replaced and "
					    "cleaned after the job was planned)",
					    plan->inputs[i]->name);
		else if (now->removed_version)
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "input file %s was removed at version %llu, after the job "
					    "was planned",
					    now->name, (unsigned long long)now->removed_version);
	}
	strata_arena_free(a);
	return rc;
}

int strata_job_execute(struct strata_wh *wh, const strata_bucket_view *v,
		       const strata_job_plan *plan, const strata_job_ctl *ctl,
		       strata_job_result *res, strata_err *err)
{
	memset(res, 0, sizeof(*res));
	if (plan->ninputs == 0)
		return 0;
	int64_t t0 = strata_mono_us();
	strata_mf *mf = strata_wh_mf(wh);
	job_state j = {.wh = wh, .v = v, .plan = plan, .ctl = ctl};
	strata_mf_new_file *nf = NULL;
	uint64_t *ids = NULL;
	int64_t ttl = ctl && ctl->claim_ttl_us ? ctl->claim_ttl_us : JOB_CLAIM_TTL_US;
	int rc = strata_mf_claim_new(mf, v->table.id, v->part.id, v->bucket,
				     ctl && ctl->owner ? ctl->owner : "strata", ttl, &j.job_id, err);
	if (rc)
		return rc;
	j.has_claim = true;
	j.last_renew_us = strata_mono_us();
	res->job_id = j.job_id;
	/* The plan may be stale: another job could have replaced (and clean
	 * deleted) an input between planning and this claim.  Once claimed, no
	 * job can remove them, and clean never deletes a live file. */
	rc = inputs_still_live(mf, v, plan, err);
	if (rc)
		goto fail;
	strata_bucket_dir(mf, v->table.name, v->part.name, v->bucket, j.dir, sizeof(j.dir));
	/* invariant 1 */
	char prefix[4200];
	snprintf(prefix, sizeof(prefix), "%s/j%llu-", j.dir, (unsigned long long)j.job_id);
	char *paths[1] = {prefix};
	strata_intent in = {.job_id = j.job_id, .table_id = v->table.id, .part_id = v->part.id,
			    .bucket = v->bucket, .created_us = strata_now_us(), .npaths = 1,
			    .paths = paths};
	snprintf(in.owner, sizeof(in.owner), "%s", ctl && ctl->owner ? ctl->owner : "strata");
	rc = strata_mf_intent_put(mf, &in, err);
	if (rc)
		goto fail;
	j.has_intent = true;
	rc = strata_data_mkdirs(j.dir, err); /* nothing to make in an object store */
	if (rc < 0)
		goto fail;
	uint64_t floor_after = plan->new_floor > v->state.floor ? plan->new_floor : v->state.floor;
	j.schema = output_schema(v, floor_after);
	/* an object store fetches the inputs' first needs at once (an inline
	 * input has its bytes in its entry already) */
	char **ppaths = strata_calloc(plan->ninputs + 1, sizeof(char *));
	uint64_t *psizes = strata_calloc(plan->ninputs + 1, sizeof(uint64_t));
	size_t npre = 0;
	for (size_t i = 0; i < plan->ninputs; i++) {
		if (strata_file_is_inline(plan->inputs[i]))
			continue;
		char path[4096];
		strata_file_path(mf, v->table.name, v->part.name, plan->inputs[i], path, sizeof(path));
		ppaths[npre] = strata_strdup(path);
		psizes[npre++] = plan->inputs[i]->bytes;
	}
	strata_data_prefetch((const char *const *)ppaths, psizes, npre);
	for (size_t i = 0; i < npre; i++)
		free(ppaths[i]);
	free(ppaths);
	free(psizes);
	/* open every input as a sorted run */
	strata_run **runs = strata_calloc(plan->ninputs + 1, sizeof(strata_run *));
	size_t nruns = 0;
	uint64_t total_rows = 0;
	for (size_t i = 0; i < plan->ninputs; i++) {
		const strata_file_entry *f = plan->inputs[i];
		char path[4096];
		strata_file_path(mf, v->table.name, v->part.name, f, path, sizeof(path));
		/* inputs are read whole: rows, key range and content hash are
		 * checked, a mismatch stops the job before anything commits */
		strata_run_expect ex; /* copied by the run; f's keys outlive it */
		strata_file_expect(f, true, &ex);
		strata_run_opts ro = {
			.file_schema = f->format == STRATA_FMT_AVRO ?
					       schema_version_of(v, f->schema_version) : NULL,
			.read_schema = j.schema,
			.default_seq = f->seq_max,
			.expect = &ex,
			.mem = strata_file_run_mem(f),
		};
		rc = strata_run_open(path, &ro, &runs[nruns], err);
		if (rc == -ENOENT)
			rc = input_missing(mf, f, path, rc, err);
		if (rc)
			break;
		nruns++;
		res->bytes_in += f->bytes;
		total_rows += f->rows;
	}
	if (rc == 0)
		rc = strata_merge_new(runs, nruns, plan->rule, plan->boundary, plan->drop_deletes,
				      &j.merge, err);
	else
		for (size_t i = 0; i < nruns; i++)
			strata_run_close(runs[i]);
	free(runs);
	if (rc)
		goto fail;
	res->files_in = plan->ninputs;
	/* merge into outputs (invariants 3, 5) */
	const strata_row *row;
	const uint8_t *key;
	size_t key_len;
	uint64_t n = 0, out_bytes_done = 0;
	while ((rc = strata_merge_next(j.merge, &row, &key, &key_len, err)) == 1) {
		if (j.w && plan->target_bytes && strata_fwriter_bytes(j.w) >= plan->target_bytes) {
			const strata_buf *last = strata_fwriter_last_key(j.w);
			if (strata_key_cmp(last->data, last->len, key, key_len) != 0) {
				out_bytes_done += strata_fwriter_bytes(j.w);
				rc = job_close_output(&j, err);
				if (rc)
					goto fail;
			}
		}
		if (!j.w) {
			rc = job_open_output(&j, err);
			if (rc)
				goto fail;
		}
		rc = strata_fwriter_add(j.w, row, err);
		if (rc)
			goto fail;
		res->rows_out++;
		if (++n % JOB_CHECK_ROWS == 0) {
			/* bytes read so far, estimated from the share of input rows */
			uint64_t rows_in = strata_merge_rows_in(j.merge);
			uint64_t in_done = total_rows ? (uint64_t)((double)res->bytes_in *
								   (double)rows_in / (double)total_rows) :
							0;
			rc = job_checkpoint(&j, out_bytes_done + strata_fwriter_bytes(j.w) + in_done,
					    err);
			if (rc)
				goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	res->rows_in = strata_merge_rows_in(j.merge);
	strata_merge_free(j.merge);
	j.merge = NULL;
	if (j.w) {
		rc = job_close_output(&j, err);
		if (rc)
			goto fail;
	}
	rc = job_hook(&j, "outputs-written", err);
	if (rc)
		goto fail;
	/* invariant 2 */
	nf = strata_calloc(j.nouts + 1, sizeof(*nf));
	ids = strata_calloc(plan->ninputs + 1, sizeof(uint64_t));
	for (size_t i = 0; i < j.nouts; i++) {
		nf[i].partition = v->part.name;
		nf[i].part_buckets = v->part.buckets;
		nf[i].bucket = v->bucket;
		nf[i].format = STRATA_FMT_PARQUET;
		nf[i].level = plan->out_level;
		nf[i].name = j.outs[i].name;
		nf[i].schema_version = v->schema->version;
		nf[i].stats = &j.outs[i].stats;
		res->bytes_out += j.outs[i].stats.bytes;
	}
	for (size_t i = 0; i < plan->ninputs; i++)
		ids[i] = plan->inputs[i]->id;
	char note[160];
	snprintf(note, sizeof(note), "%s p=%s b=%u: %zu -> %zu files", plan->what,
		 *v->part.name ? v->part.name : "_", v->bucket, plan->ninputs, j.nouts);
	strata_mf_job mj = {
		.table_id = v->table.id,
		.part_id = v->part.id,
		.bucket = v->bucket,
		.kind = plan->kind,
		.schema_version = v->schema->version,
		.inputs = ids,
		.ninputs = plan->ninputs,
		.outputs = nf,
		.noutputs = j.nouts,
		.drops_retained_history = plan->drops_retained_history,
		.new_floor = plan->new_floor,
		.job_id = j.job_id,
		.note = note,
	};
	rc = strata_mf_commit_job(mf, &mj, &res->version, err);
	if (rc == STRATA_EUNCERTAIN) {
		/* invariant 6: leave outputs, intent and claim for recovery */
		for (size_t i = 0; i < j.nouts; i++)
			j.outs[i].is_written = false;
		j.has_claim = j.has_intent = false;
		LOG_ERROR("%s of %s p=%s b=%u: the commit's outcome is uncertain; its %zu outputs "
			  "stay for recovery: %s",
			  plan->what, v->table.name, *v->part.name ? v->part.name : "_", v->bucket,
			  j.nouts, err ? err->msg : "");
		goto fail;
	}
	if (rc)
		goto fail;
	j.has_claim = j.has_intent = false; /* released by the commit */
	res->files_out = j.nouts;
	res->seconds = (double)(strata_mono_us() - t0) / 1e6;
	LOG_INFO("%s of %s p=%s b=%u committed at version %llu: %zu files, %llu rows, %llu bytes "
		 "-> %zu files, %llu rows, %llu bytes in %.3f s",
		 plan->what, v->table.name, *v->part.name ? v->part.name : "_", v->bucket,
		 (unsigned long long)res->version, res->files_in, (unsigned long long)res->rows_in,
		 (unsigned long long)res->bytes_in, res->files_out, (unsigned long long)res->rows_out,
		 (unsigned long long)res->bytes_out, res->seconds);
	rc = job_hook(&j, "committed", err);
	goto out;
fail:
	strata_merge_free(j.merge);
	j.merge = NULL;
	job_cleanup(&j);
	res->version = 0;
	res->seconds = (double)(strata_mono_us() - t0) / 1e6;
out:
	for (size_t i = 0; i < j.nouts; i++)
		strata_file_stats_free(&j.outs[i].stats);
	free(j.outs);
	free(nf);
	free(ids);
	strata_schema_free(j.schema);
	return rc;
}
