/*
 * table/read.c — snapshot reads, time travel, incremental reads, point gets.
 *
 * Planning happens in one manifest snapshot: resolve the version (AS OF
 * version, timestamp or tag), the schema in force at it, and for every
 * bucket of every selected partition the file set that answers it
 * (strata_mf_resolve: the live files when V >= the bucket's history floor,
 * else the files live just before the floor rose above V).  A read that
 * cannot be answered fails here, before any row is returned, with
 * "version V is outside the retention window of NAME (oldest readable: W)".
 * The plan is then protected by a lease (one per distinct file-set version)
 * and the snapshot closed; buckets are streamed one at a time through a k-way
 * merge with the LATEST rule (deletes hidden) or, for incremental reads,
 * KEEP_ALL over (V1, V2].
 *
 * Invariants:
 *   1. a snapshot read at V returns, per key, the newest record with
 *      _seq <= V unless it is a delete;
 *   2. an incremental read of (V1, V2] returns each record with
 *      V1 < _seq <= V2 exactly once, and fails if V1 is below a bucket's
 *      floor (records it needs may have been compacted away);
 *   3. row files are read with the schema version their entry names; job
 *      outputs (Parquet) carry their own physical schema, which may keep
 *      columns dropped after the versions they hold;
 *   4. no file of a plan can be deleted before the plan is leased: a
 *      planning lease (STRATA_LEASE_ALL) is taken before the snapshot opens
 *      and released only after the resolved versions are leased; clean
 *      re-reads the leases after marking and before moving any file away.
 *      Point gets at the latest version take no lease (live files are never
 *      deleted, and a get is far shorter than clean.grace_s).
 *   5. a predicate (opts->where) only ever removes rows it is false or
 *      unknown for: partitions whose values, buckets the key cannot hash
 *      to and files whose key range misses the predicate's are not read
 *      (nothing in them can be selected); a columnar file whose statistics
 *      exclude every row is left out only when every other file of the
 *      bucket that overlaps its key range is entirely newer (so none of
 *      its keys has an older record elsewhere that leaving it out would
 *      bring back); otherwise its excluded row ranges are masked (read
 *      as deletes: format.h, strata_run_set_mask), and every row that
 *      comes out of the merge is tested.
 */
#include "table/table_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_TTL_US (3600ll * 1000000)
#define PLAN_LEASE_TTL_US (60ll * 1000000)

/* The planning lease (invariant 4): pins the whole table from before the
 * snapshot opens until the resolved versions are leased.  Needs the table id,
 * so it is taken from a first, short snapshot. */
static int plan_lease_take(strata_wh *wh, const char *table, uint64_t *id, strata_err *err)
{
	strata_mf_snap *snap;
	strata_table_def t;
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	rc = strata_mf_table_get(snap, table, &t, err);
	strata_mf_snap_close(snap);
	if (rc)
		return rc;
	return strata_mf_lease_take(wh->mf, t.id, STRATA_LEASE_ALL, PLAN_LEASE_TTL_US, id, err);
}

/* What a bucket's masks test (invariant 5). */
typedef struct scan_mask {
	const strata_pred *pred;
	const char *const *pv;
} scan_mask;

typedef struct scan_bucket {
	uint32_t part; /* index into parts */
	uint32_t bucket;
	size_t nfiles;
	strata_file_entry *files;
	scan_mask mask;
} scan_bucket;

typedef struct scan_part {
	strata_partition p;
	char **values; /* NULL-terminated, unescaped */
} scan_part;

typedef struct schema_ent {
	uint32_t version;
	strata_schema *s;
} schema_ent;

struct strata_scan {
	strata_wh *wh;
	strata_table_def def;
	uint64_t version;
	bool is_changes;
	uint64_t v1;
	strata_schema *schema;      /* output (possibly projected) */
	bool is_projected;          /* a projection reads files in part: their
				       content hash is not verified */
	schema_ent *schemas;        /* file schemas by version (row files) */
	size_t nschemas;
	scan_part *parts;
	size_t nparts;
	scan_bucket *buckets;
	size_t nbuckets, cur;
	strata_merge *merge;
	uint64_t leases[8];
	uint64_t lease_versions[8]; /* the version each lease is at */
	size_t nleases;
	uint64_t decoded;
	strata_arena *arena;
	/* opts->where (invariant 5) */
	strata_pred *pred;
	strata_schema *rschema;     /* the read layout when a projection lacks
				       columns the predicate reads, else NULL */
	uint32_t *omap;             /* output column -> rschema column */
	strata_row orow;
	strata_buf lo, hi;          /* the predicate's key range */
	bool has_lo, has_hi;
	strata_scan_prune *prune;   /* heap: written through a const scan */
};

/* ---- planning helpers ---------------------------------------------------------- */

static int schema_cached(strata_scan *s, strata_mf_snap *snap, uint32_t version,
			 const strata_schema **out, strata_err *err)
{
	for (size_t i = 0; i < s->nschemas; i++)
		if (s->schemas[i].version == version) {
			*out = s->schemas[i].s;
			return 0;
		}
	strata_schema *sc;
	int rc = strata_mf_schema_get(snap, s->def.id, version, &sc, err);
	if (rc)
		return rc;
	s->schemas = strata_realloc(s->schemas, (s->nschemas + 1) * sizeof(schema_ent));
	s->schemas[s->nschemas].version = version;
	s->schemas[s->nschemas].s = sc;
	s->nschemas++;
	*out = sc;
	return 0;
}

/* Table-wide earliest readable / incremental version within a snapshot. */
static int earliest_in_snap(strata_mf_snap *snap, const strata_table_def *t, uint64_t *readable,
			    uint64_t *incremental, strata_err *err)
{
	strata_arena *a = strata_arena_new();
	strata_partition *ps;
	size_t np;
	uint64_t r = t->log_start > 1 ? t->log_start : 1, inc = 0;
	int rc = strata_mf_partitions(snap, t->id, a, &ps, &np, err);
	for (size_t i = 0; rc == 0 && i < np; i++) {
		for (uint32_t b = 0; rc == 0 && b < ps[i].buckets; b++) {
			strata_bucket_state bs;
			strata_file_entry *files;
			size_t nf;
			rc = strata_mf_bucket_state_get(snap, t->id, ps[i].id, b, &bs, err);
			if (rc == 0)
				rc = strata_mf_bucket_files(snap, t->id, ps[i].id, b, a, &files, &nf,
							    err);
			if (rc)
				break;
			uint64_t e = strata_mf_earliest_readable(&bs, files, nf, t->version);
			if (e > r)
				r = e;
			uint64_t f = strata_mf_earliest_incremental(&bs);
			if (f > inc)
				inc = f;
		}
	}
	strata_arena_free(a);
	if (rc == 0) {
		*readable = r;
		*incremental = inc;
	}
	return rc;
}

static int retention_error(strata_mf_snap *snap, const strata_table_def *t, uint64_t v,
			   strata_err *err)
{
	uint64_t r = 0, inc = 0;
	strata_err tmp;
	earliest_in_snap(snap, t, &r, &inc, &tmp);
	return strata_err_set(err, STRATA_ERETENTION,
			      "version %llu is outside the retention window of %s (oldest "
			      "readable: %llu)",
			      (unsigned long long)v, t->name, (unsigned long long)r);
}

/* Resolve opts to a version inside snap (*is_tag set for tags). */
static int resolve_version(strata_mf_snap *snap, const strata_table_def *t,
			   const strata_read_opts *opts, uint64_t *v, bool *is_tag,
			   strata_err *err)
{
	*is_tag = false;
	*v = t->version;
	if (!opts)
		return 0;
	int nsel = (opts->as_of_version != 0) + opts->has_as_of_time + (opts->as_of_tag != NULL);
	if (nsel > 1)
		return strata_err_set(err, STRATA_EINVAL,
				      "give at most one of AS OF version, time or tag");
	if (opts->as_of_tag) {
		strata_tag tag;
		int rc = strata_mf_tag_get(snap, t->id, opts->as_of_tag, &tag, err);
		if (rc == STRATA_ENOTFOUND)
			return strata_err_set(err, rc, "table \"%s\" has no tag \"%.80s\"", t->name,
					      opts->as_of_tag);
		if (rc)
			return rc;
		*v = tag.version;
		*is_tag = true;
		return 0;
	}
	if (opts->has_as_of_time) {
		if (opts->as_of_time_us < t->created_us)
			return strata_err_set(err, STRATA_ENOTFOUND,
					      "table \"%s\" did not exist yet at that time", t->name);
		int rc = strata_mf_version_at_time(snap, t->id, opts->as_of_time_us, v, err);
		if (rc == STRATA_ENOTFOUND)
			return retention_error(snap, t, t->log_start > 1 ? t->log_start - 1 : 1, err);
		return rc;
	}
	if (opts->as_of_version) {
		if (opts->as_of_version > t->version)
			return strata_err_set(err, STRATA_ENOTFOUND,
					      "version %llu of %s does not exist (latest: %llu)",
					      (unsigned long long)opts->as_of_version, t->name,
					      (unsigned long long)t->version);
		*v = opts->as_of_version;
	}
	return 0;
}

/* Parse "a=x/b=y" into the canonical escaped partition name. */
static int partition_filter(const strata_table_def *t, const char *spec, strata_arena *a,
			    char *out, size_t n, strata_err *err);

int strata_partition_spec(const strata_table_def *t, const char *spec, char *out, size_t n,
			  strata_err *err)
{
	strata_arena *a = strata_arena_new();
	int rc = partition_filter(t, spec, a, out, n, err);
	strata_arena_free(a);
	return rc;
}

/* A spec is "col=value" items joined by '/' or ','.  An item starts only at
 * the beginning or right after a separator followed by a known partition
 * column and '=', so values may themselves contain '/' and ','. */
static const char *spec_item_start(const strata_table_def *t, const char *p, int *col)
{
	for (uint32_t i = 0; i < t->nparts; i++) {
		size_t l = strlen(t->part_cols[i]);
		if (strncmp(p, t->part_cols[i], l) == 0 && p[l] == '=') {
			*col = (int)i;
			return p + l + 1;
		}
	}
	return NULL;
}

static int partition_filter(const strata_table_def *t, const char *spec, strata_arena *a,
			    char *out, size_t n, strata_err *err)
{
	if (t->nparts == 0)
		return strata_err_set(err, STRATA_EINVAL, "table \"%s\" is not partitioned", t->name);
	const char *values[STRATA_MAX_PART_COLS] = {0};
	const char *p = spec;
	while (*p) {
		int col;
		const char *v = spec_item_start(t, p, &col);
		if (!v)
			return strata_err_set(err, STRATA_EINVAL,
					      "partition spec \"%.100s\" must be col=value[/col=value] "
					      "with columns of %s",
					      spec, t->name);
		const char *end = v;
		int next;
		while (*end && !((*end == '/' || *end == ',') && spec_item_start(t, end + 1, &next)))
			end++;
		values[col] = strata_arena_dup(a, v, (size_t)(end - v) + 1);
		((char *)values[col])[end - v] = '\0';
		p = *end ? end + 1 : end;
	}
	for (uint32_t i = 0; i < t->nparts; i++)
		if (!values[i])
			return strata_err_set(err, STRATA_EINVAL,
					      "partition spec \"%.100s\" lacks column \"%s\"", spec,
					      t->part_cols[i]);
	return strata_partition_name(t, values, out, n, err);
}

static void scan_free(strata_scan *s)
{
	strata_merge_free(s->merge);
	for (size_t i = 0; i < s->nleases; i++)
		strata_mf_lease_release(s->wh->mf, s->leases[i]);
	for (size_t i = 0; i < s->nschemas; i++)
		strata_schema_free(s->schemas[i].s);
	free(s->schemas);
	strata_schema_free(s->schema);
	strata_pred_free(s->pred);
	strata_schema_free(s->rschema);
	free(s->omap);
	free(s->orow.vals);
	strata_buf_free(&s->lo);
	strata_buf_free(&s->hi);
	free(s->prune);
	strata_arena_free(s->arena);
	free(s);
}

/* The predicate of opts->where over the full schema at the version: the
 * read layout (a projection keeps the columns it reads) and the key range
 * (invariant 5). */
static int scan_where(strata_scan *s, const strata_schema *full, const char *where,
		      const char *columns, strata_err *err)
{
	int rc = strata_pred_parse(where, full, &s->def, &s->pred, err);
	if (rc)
		return rc;
	if (columns && *columns) {
		strata_buf names = {0};
		strata_buf_printf(&names, "%s,%s", columns, strata_pred_columns(s->pred));
		strata_buf_putc(&names, 0);
		rc = strata_schema_project(full, (const char *)names.data, &s->rschema, err);
		strata_buf_free(&names);
		if (rc)
			return rc;
		if (s->rschema->ncols == s->schema->ncols) {
			strata_schema_free(s->rschema);
			s->rschema = NULL;
		} else {
			s->omap = strata_calloc(s->schema->ncols + 1, sizeof(uint32_t));
			for (uint32_t i = 0; i < s->schema->ncols; i++)
				s->omap[i] = (uint32_t)strata_schema_find_id(s->rschema,
									     s->schema->cols[i].id);
			s->orow.ncols = s->schema->ncols;
			s->orow.vals = strata_calloc(s->schema->ncols + 1, sizeof(strata_value));
		}
	}
	rc = strata_pred_bind(s->pred, s->rschema ? s->rschema : s->schema, err);
	if (rc == 0)
		rc = strata_pred_key_range(s->pred, &s->lo, &s->hi, &s->has_lo, &s->has_hi);
	return rc;
}

static int add_lease(strata_scan *s, uint64_t l, strata_err *err)
{
	for (size_t i = 0; i < s->nleases; i++)
		if (s->leases[i] == l)
			return 0;
	if (s->nleases == STRATA_ARRAY_LEN(s->leases))
		return 0; /* beyond eight distinct sets the grace period covers it */
	uint64_t id;
	int rc = strata_mf_lease_take(s->wh->mf, s->def.id, l, LEASE_TTL_US, &id, err);
	if (rc)
		return rc;
	s->lease_versions[s->nleases] = l;
	s->leases[s->nleases++] = id;
	return 0;
}

/* Plan a scan: snapshot (v1 == 0 && !is_changes) or changes (v1, v]. */
static int scan_plan(strata_wh *wh, const char *table, const strata_read_opts *opts,
		     bool is_changes, uint64_t v1, uint64_t v2, strata_scan **out,
		     strata_err *err)
{
	*out = NULL;
	strata_scan *s = strata_calloc(1, sizeof(*s));
	s->wh = wh;
	s->arena = strata_arena_new();
	s->is_changes = is_changes;
	strata_mf_snap *snap = NULL;
	uint64_t lease_versions[64];
	size_t nlv = 0;
	uint64_t plan_lease = 0;
	int rc = plan_lease_take(wh, table, &plan_lease, err);
	if (rc)
		goto fail;
	rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		goto fail;
	rc = strata_mf_table_get(snap, table, &s->def, err);
	if (rc)
		goto fail;
	bool is_tag = false;
	if (is_changes) {
		if (v1 > v2 || v2 > s->def.version) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "bad range (%llu, %llu]: need v1 <= v2 <= %llu (latest)",
					    (unsigned long long)v1, (unsigned long long)v2,
					    (unsigned long long)s->def.version);
			goto fail;
		}
		s->version = v2;
		s->v1 = v1;
	} else {
		rc = resolve_version(snap, &s->def, opts, &s->version, &is_tag, err);
		if (rc)
			goto fail;
		if (!is_tag && s->version < s->def.log_start) {
			rc = retention_error(snap, &s->def, s->version, err);
			goto fail;
		}
	}
	strata_schema *full;
	rc = strata_mf_schema_at(snap, &s->def, s->version ? s->version : 1, &full, err);
	if (rc)
		goto fail;
	s->prune = strata_calloc(1, sizeof(*s->prune));
	bool has_where = opts && opts->where;
	if (has_where && is_changes) {
		strata_schema_free(full);
		rc = strata_err_set(err, STRATA_EINVAL, "a predicate filters snapshot scans only");
		goto fail;
	}
	if (opts && opts->columns && *opts->columns) {
		rc = strata_schema_project(full, opts->columns, &s->schema, err);
		s->is_projected = true;
	} else {
		s->schema = strata_schema_dup(full);
	}
	if (rc == 0 && has_where)
		rc = scan_where(s, full, opts->where, opts->columns, err);
	strata_schema_free(full);
	if (rc)
		goto fail;
	strata_buf point = {0};
	bool has_point = s->pred && strata_pred_key_point(s->pred, &point);
	uint64_t point_hash = has_point ? strata_hash64(point.data, point.len) : 0;
	strata_buf_free(&point);
	char want[STRATA_PART_NAME_MAX] = "";
	bool has_filter = opts && opts->partition && *opts->partition;
	if (has_filter) {
		rc = partition_filter(&s->def, opts->partition, s->arena, want, sizeof(want), err);
		if (rc)
			goto fail;
	}
	strata_partition *ps;
	size_t np;
	rc = strata_mf_partitions(snap, s->def.id, s->arena, &ps, &np, err);
	if (rc)
		goto fail;
	s->parts = strata_arena_alloc(s->arena, (np + 1) * sizeof(scan_part));
	size_t total_buckets = 0;
	for (size_t i = 0; i < np; i++)
		total_buckets += ps[i].buckets;
	s->buckets = strata_arena_alloc(s->arena, (total_buckets + 1) * sizeof(scan_bucket));
	for (size_t i = 0; i < np; i++) {
		if (has_filter && strcmp(ps[i].name, want) != 0)
			continue;
		if (ps[i].created_version > s->version)
			continue;
		scan_part *sp = &s->parts[s->nparts];
		sp->p = ps[i];
		sp->values = strata_arena_alloc(s->arena, (STRATA_MAX_PART_COLS + 1) * sizeof(char *));
		memset(sp->values, 0, (STRATA_MAX_PART_COLS + 1) * sizeof(char *));
		rc = strata_partition_values(&s->def, ps[i].name, s->arena, sp->values, err);
		if (rc)
			goto fail;
		/* invariant 5: the partition's values alone may exclude it */
		bool is_part_out = s->pred && !strata_pred_may_match(s->pred, NULL, 0,
								      (const char *const *)sp->values);
		for (uint32_t b = 0; b < ps[i].buckets; b++) {
			strata_bucket_state bs;
			strata_file_entry *files;
			size_t nf;
			rc = strata_mf_bucket_state_get(snap, s->def.id, ps[i].id, b, &bs, err);
			if (rc == 0)
				rc = strata_mf_bucket_files(snap, s->def.id, ps[i].id, b, s->arena, &files,
							    &nf, err);
			if (rc)
				goto fail;
			uint64_t l;
			if (is_changes) {
				/* invariant 2 */
				if (v1 < strata_mf_earliest_incremental(&bs)) {
					uint64_t r = 0, inc = 0;
					strata_err tmp;
					earliest_in_snap(snap, &s->def, &r, &inc, &tmp);
					rc = strata_err_set(err, STRATA_ERETENTION,
							    "changes after version %llu are outside the "
							    "retention window of %s (oldest start: %llu)",
							    (unsigned long long)v1, s->def.name,
							    (unsigned long long)inc);
					goto fail;
				}
				l = s->def.version;
			} else if (strata_mf_resolve(&bs, files, nf, s->def.version, s->version, is_tag,
						     &l) != 0) {
				rc = retention_error(snap, &s->def, s->version, err);
				goto fail;
			}
			scan_bucket *sb = &s->buckets[s->nbuckets];
			sb->part = (uint32_t)s->nparts;
			sb->bucket = b;
			sb->files = strata_arena_alloc(s->arena, (nf + 1) * sizeof(strata_file_entry));
			sb->nfiles = 0;
			for (size_t k = 0; k < nf; k++) {
				const strata_file_entry *f = &files[k];
				if (!strata_file_live_at(f, l) || f->seq_min > (int64_t)s->version)
					continue;
				if (is_changes && f->seq_max <= (int64_t)v1)
					continue;
				if (s->pred) { /* invariant 5 */
					s->prune->files++;
					if (is_part_out) {
						s->prune->files_by_partition++;
						continue;
					}
					if (has_point && point_hash % ps[i].buckets != b) {
						s->prune->files_by_bucket++;
						continue;
					}
					if ((s->has_lo && strata_key_cmp(f->key_max, f->key_max_len,
									 s->lo.data, s->lo.len) < 0) ||
					    (s->has_hi && strata_key_cmp(f->key_min, f->key_min_len,
									 s->hi.data, s->hi.len) > 0)) {
						s->prune->files_by_key++;
						continue;
					}
				}
				sb->files[sb->nfiles++] = *f;
				if (f->format == STRATA_FMT_AVRO) {
					const strata_schema *fs;
					rc = schema_cached(s, snap, f->schema_version, &fs, err);
					if (rc)
						goto fail;
				}
			}
			if (sb->nfiles == 0)
				continue;
			/* the bytes of its inline row files, from this snapshot */
			rc = strata_mf_inline_attach(snap, sb->files, sb->nfiles, s->arena, err);
			if (rc)
				goto fail;
			sb->mask.pred = s->pred;
			sb->mask.pv = (const char *const *)sp->values;
			s->nbuckets++;
			bool seen = false;
			for (size_t k = 0; k < nlv; k++)
				seen |= lease_versions[k] == l;
			if (!seen && nlv < STRATA_ARRAY_LEN(lease_versions))
				lease_versions[nlv++] = l;
		}
		s->nparts++;
	}
	strata_mf_snap_close(snap);
	snap = NULL;
	for (size_t i = 0; i < nlv; i++) {
		rc = add_lease(s, lease_versions[i], err);
		if (rc)
			goto fail;
	}
	strata_mf_lease_release(wh->mf, plan_lease); /* invariant 4 */
	*out = s;
	return 0;
fail:
	strata_mf_snap_close(snap);
	strata_mf_lease_release(wh->mf, plan_lease);
	scan_free(s);
	return rc;
}

static const strata_schema *file_schema_for(const strata_scan *s, const strata_file_entry *f)
{
	if (f->format != STRATA_FMT_AVRO)
		return NULL; /* invariant 3: Parquet files carry their schema */
	for (size_t i = 0; i < s->nschemas; i++)
		if (s->schemas[i].version == f->schema_version)
			return s->schemas[i].s;
	return NULL;
}

static bool mask_test(void *arg, const strata_colstat *cols, uint64_t rows)
{
	const scan_mask *m = arg;
	return strata_pred_may_match(m->pred, cols, rows, m->pv);
}

/* Invariant 5 over the runs of one bucket: leave out the columnar files
 * whose statistics exclude every row and whose overlapping files are all
 * newer, mask the rest.  Returns the runs kept (closed ones removed). */
static size_t bucket_prune(const strata_scan *s, const scan_bucket *sb, const strata_schema *rs,
			   strata_run **runs, const strata_file_entry **fe, size_t n)
{
	bool *is_out = strata_calloc(n + 1, sizeof(bool));
	strata_colstat *cols = strata_calloc(rs->ncols + 1, sizeof(strata_colstat));
	for (size_t k = 0; k < n; k++) {
		uint64_t rows = 0;
		if (strata_run_colstats(runs[k], cols, &rows) == 1 &&
		    !strata_pred_may_match(sb->mask.pred, cols, rows, sb->mask.pv))
			is_out[k] = true;
	}
	for (bool is_changed = true; is_changed;) {
		is_changed = false;
		for (size_t k = 0; k < n; k++) {
			if (!is_out[k])
				continue;
			for (size_t j = 0; j < n && is_out[k]; j++) {
				if (is_out[j])
					continue;
				bool is_overlap =
					strata_key_cmp(fe[j]->key_max, fe[j]->key_max_len, fe[k]->key_min,
						       fe[k]->key_min_len) >= 0 &&
					strata_key_cmp(fe[j]->key_min, fe[j]->key_min_len, fe[k]->key_max,
						       fe[k]->key_max_len) <= 0;
				if (is_overlap && fe[j]->seq_min <= fe[k]->seq_max) {
					is_out[k] = false;
					is_changed = true;
				}
			}
		}
	}
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		if (is_out[k]) {
			strata_run_close(runs[k]);
			s->prune->files_by_stats++;
			continue;
		}
		strata_run_set_mask(runs[k], mask_test, (void *)&sb->mask, &s->prune->pages_skipped);
		s->prune->files_read++;
		fe[m] = fe[k];
		runs[m++] = runs[k];
	}
	free(cols);
	free(is_out);
	return m;
}

/* Open a merge over bucket i of the plan with read schema rs, skipping files
 * whose key range misses [lo, hi] (NULL: unbounded), every run positioned at
 * lo.  Reads only the plan,
 * so threads may open merges over different buckets at once. */
int strata_scan_bucket_merge(const strata_scan *s, size_t i, const strata_schema *rs,
			     const uint8_t *lo, size_t lo_len, const uint8_t *hi, size_t hi_len,
			     strata_merge **out, strata_err *err)
{
	const scan_bucket *sb = &s->buckets[i];
	const scan_part *sp = &s->parts[sb->part];
	strata_run **runs = strata_calloc(sb->nfiles + 1, sizeof(strata_run *));
	const strata_file_entry **fe = strata_calloc(sb->nfiles + 1, sizeof(*fe));
	int rc = 0;
	size_t n = 0;
	*out = NULL;
	for (size_t k = 0; k < sb->nfiles; k++) {
		const strata_file_entry *f = &sb->files[k];
		if (lo && strata_key_cmp(f->key_max, f->key_max_len, lo, lo_len) < 0)
			continue;
		if (hi && strata_key_cmp(f->key_min, f->key_min_len, hi, hi_len) > 0)
			continue;
		char path[4096];
		strata_file_path(s->wh->mf, s->def.name, sp->p.name, f, path, sizeof(path));
		/* a full scan reads every file whole: rows, key range and (without
		 * a projection or a predicate's masks) content hash are checked
		 * against the entry */
		strata_run_expect ex;
		strata_file_expect(f, !s->is_projected && !sb->mask.pred, &ex);
		strata_run_opts ro = {
			.file_schema = file_schema_for(s, f),
			.read_schema = rs ? rs : s->schema,
			.default_seq = f->seq_max,
			.seq_min = s->is_changes ? (int64_t)s->v1 : 0,
			.seq_max = (int64_t)s->version,
			.expect = &ex,
			.mem = strata_file_run_mem(f),
		};
		rc = strata_run_open(path, &ro, &runs[n], err);
		if (rc)
			break;
		fe[n++] = f;
	}
	/* invariant 5: before any run reads or seeks */
	if (rc == 0 && sb->mask.pred && !s->is_changes)
		n = bucket_prune(s, sb, rs ? rs : s->schema, runs, fe, n);
	/* before the merge reads a record: a run that cannot seek backwards
	 * skips forward from where it stands */
	for (size_t k = 0; rc == 0 && lo && k < n; k++)
		rc = strata_run_seek(runs[k], lo, lo_len, err);
	if (rc == 0) {
		rc = strata_merge_new(runs, n, s->is_changes ? STRATA_MERGE_KEEP_ALL :
							      STRATA_MERGE_LATEST,
				      0, true, out, err);
		n = 0; /* the merge owns (and on failure closed) them */
	}
	for (size_t k = 0; k < n; k++)
		strata_run_close(runs[k]);
	free(runs);
	free(fe);
	return rc;
}

/* Open the merge over the current bucket. */
static int scan_open_bucket(strata_scan *s, strata_err *err)
{
	/* the runs seek to lo, which must then be a whole key: with a key of
	 * several columns lo is only its first column's prefix, and the plan
	 * has already left out the files outside the range */
	bool is_whole = s->schema->nkeys == 1;
	return strata_scan_bucket_merge(s, s->cur, s->rschema,
					s->has_lo && is_whole ? s->lo.data : NULL, s->lo.len,
					s->has_hi && is_whole ? s->hi.data : NULL, s->hi.len,
					&s->merge, err);
}

size_t strata_scan_nbuckets(const strata_scan *s)
{
	return s->nbuckets;
}

void strata_scan_bucket_info(const strata_scan *s, size_t i, strata_scan_bucket *out)
{
	const scan_bucket *sb = &s->buckets[i];
	const scan_part *sp = &s->parts[sb->part];
	out->part_values = (const char *const *)sp->values;
	out->partition = sp->p.name;
	out->bucket = sb->bucket;
	out->part_buckets = sp->p.buckets;
	out->rows = 0;
	for (size_t k = 0; k < sb->nfiles; k++)
		out->rows += sb->files[k].rows;
}

void strata_scan_bucket_files(const strata_scan *s, size_t i, const strata_file_entry **files,
			      size_t *n)
{
	*files = s->buckets[i].files;
	*n = s->buckets[i].nfiles;
}

void strata_scan_file_path(const strata_scan *s, size_t i, const strata_file_entry *f,
			   char *path, size_t n)
{
	strata_file_path(s->wh->mf, s->def.name, s->parts[s->buckets[i].part].p.name, f, path, n);
}

int strata_scan_leases_renew(strata_scan *s, strata_err *err)
{
	for (size_t i = 0; i < s->nleases; i++) {
		uint64_t id;
		int rc = strata_mf_lease_take(s->wh->mf, s->def.id, s->lease_versions[i], LEASE_TTL_US,
					      &id, err);
		if (rc)
			return rc;
		strata_mf_lease_release(s->wh->mf, s->leases[i]);
		s->leases[i] = id;
	}
	return 0;
}

int strata_scan_open(strata_wh *wh, const char *table, const strata_read_opts *opts,
		     strata_scan **out, strata_err *err)
{
	return scan_plan(wh, table, opts, false, 0, 0, out, err);
}

int strata_changes_open(strata_wh *wh, const char *table, uint64_t v1, uint64_t v2,
			const char *partition, strata_scan **out, strata_err *err)
{
	strata_read_opts o = {.partition = partition};
	return scan_plan(wh, table, &o, true, v1, v2, out, err);
}

int strata_scan_next(strata_scan *s, const strata_row **row, const char *const **part_values,
		     strata_err *err)
{
	while (s->cur < s->nbuckets) {
		if (!s->merge) {
			int rc = scan_open_bucket(s, err);
			if (rc)
				return rc;
		}
		int rc = strata_merge_next(s->merge, row, NULL, NULL, err);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			const char *const *pv =
				(const char *const *)s->parts[s->buckets[s->cur].part].values;
			if (s->pred) { /* invariant 5 */
				s->prune->rows_tested++;
				if (!strata_pred_match(s->pred, *row, pv))
					continue;
				s->prune->rows_matched++;
				if (s->rschema) {
					for (uint32_t c = 0; c < s->orow.ncols; c++)
						s->orow.vals[c] = (*row)->vals[s->omap[c]];
					s->orow.seq = (*row)->seq;
					s->orow.op = (*row)->op;
					*row = &s->orow;
				}
			}
			if (part_values)
				*part_values = pv;
			return 1;
		}
		s->decoded += strata_merge_rows_decoded(s->merge);
		strata_merge_free(s->merge);
		s->merge = NULL;
		s->cur++;
	}
	return 0;
}

const strata_schema *strata_scan_schema(const strata_scan *s)
{
	return s->schema;
}

const strata_table_def *strata_scan_table(const strata_scan *s)
{
	return &s->def;
}

uint64_t strata_scan_version(const strata_scan *s)
{
	return s->version;
}

uint64_t strata_scan_rows_decoded(const strata_scan *s)
{
	return s->decoded + (s->merge ? strata_merge_rows_decoded(s->merge) : 0);
}

void strata_scan_prune_get(const strata_scan *s, strata_scan_prune *out)
{
	*out = *s->prune;
}

void strata_scan_close(strata_scan *s)
{
	if (s)
		scan_free(s);
}

int strata_read_version(strata_wh *wh, const char *table, const strata_read_opts *opts,
			uint64_t *version, strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	strata_table_def t;
	bool is_tag;
	rc = strata_mf_table_get(snap, table, &t, err);
	if (rc == 0)
		rc = resolve_version(snap, &t, opts, version, &is_tag, err);
	strata_mf_snap_close(snap);
	return rc;
}

int strata_table_earliest(strata_wh *wh, const char *table, uint64_t *readable,
			  uint64_t *incremental, strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	strata_table_def t;
	rc = strata_mf_table_get(snap, table, &t, err);
	if (rc == 0)
		rc = earliest_in_snap(snap, &t, readable, incremental, err);
	strata_mf_snap_close(snap);
	return rc;
}

/* ---- point gets ------------------------------------------------------------------------- */

typedef struct get_cand {
	const strata_file_entry *f;
} get_cand;

static int cand_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *a = ((const get_cand *)pa)->f, *b = ((const get_cand *)pb)->f;
	return a->seq_max > b->seq_max ? -1 : a->seq_max < b->seq_max ? 1 : 0;
}

int strata_get_json(strata_wh *wh, const char *table, json_t *key, const strata_read_opts *opts,
		    strata_arena *a, strata_row *row, strata_schema **schema_out,
		    uint64_t *rows_decoded, strata_err *err)
{
	if (schema_out)
		*schema_out = NULL;
	if (rows_decoded)
		*rows_decoded = 0;
	if (!json_is_object(key))
		return strata_err_set(err, STRATA_EINVAL, "the key must be a JSON object");
	strata_mf_snap *snap = NULL;
	strata_schema *schema = NULL;
	strata_arena *tmp = strata_arena_new();
	json_t *copy = json_copy(key);
	strata_table_def t;
	int found = 0;
	strata_buf kbuf = {0};
	schema_ent *schemas = NULL;
	size_t nschemas = 0;
	uint64_t plan_lease = 0;
	bool is_historical = opts && (opts->as_of_version || opts->has_as_of_time || opts->as_of_tag);
	int rc = is_historical ? plan_lease_take(wh, table, &plan_lease, err) : 0;
	if (rc)
		goto out;
	rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		goto out;
	rc = strata_mf_table_get(snap, table, &t, err);
	if (rc)
		goto out;
	uint64_t v;
	bool is_tag;
	rc = resolve_version(snap, &t, opts, &v, &is_tag, err);
	if (rc)
		goto out;
	if (!is_tag && v < t.log_start) {
		rc = retention_error(snap, &t, v, err);
		goto out;
	}
	rc = strata_mf_schema_at(snap, &t, v, &schema, err);
	if (rc)
		goto out;
	const char *values[STRATA_MAX_PART_COLS];
	for (uint32_t i = 0; i < t.nparts; i++) {
		json_t *pv = json_object_get(copy, t.part_cols[i]);
		if (!json_is_string(pv)) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "the key needs partition column \"%s\" as a string",
					    t.part_cols[i]);
			goto out;
		}
		values[i] = strata_arena_strdup(tmp, json_string_value(pv));
		json_object_del(copy, t.part_cols[i]);
	}
	const char *k;
	json_t *jv;
	json_object_foreach(copy, k, jv) {
		int idx = strata_schema_find(schema, k);
		if (idx < 0 || schema->cols[idx].key_pos < 0) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "\"%.80s\" is not a primary key column of %s", k, t.name);
			goto out;
		}
	}
	json_object_set_new(copy, "_op", json_string("delete"));
	strata_row krow;
	rc = strata_row_from_json(schema, copy, tmp, &krow, err);
	if (rc)
		goto out;
	rc = strata_key_encode(schema, &krow, &kbuf, err);
	if (rc)
		goto out;
	char pname[STRATA_PART_NAME_MAX];
	rc = strata_partition_name(&t, values, pname, sizeof(pname), err);
	if (rc)
		goto out;
	strata_partition p;
	rc = strata_mf_partition_get(snap, t.id, pname, &p, NULL);
	if (rc == STRATA_ENOTFOUND || (rc == 0 && p.created_version > v)) {
		rc = 0;
		goto out; /* no such partition: not found */
	}
	if (rc)
		goto out;
	uint32_t b = (uint32_t)(strata_hash64(kbuf.data, kbuf.len) % p.buckets);
	strata_bucket_state bs;
	strata_file_entry *files;
	size_t nf;
	rc = strata_mf_bucket_state_get(snap, t.id, p.id, b, &bs, err);
	if (rc == 0)
		rc = strata_mf_bucket_files(snap, t.id, p.id, b, tmp, &files, &nf, err);
	if (rc)
		goto out;
	uint64_t l;
	if (strata_mf_resolve(&bs, files, nf, t.version, v, is_tag, &l) != 0) {
		rc = retention_error(snap, &t, v, err);
		goto out;
	}
	get_cand *cands = strata_arena_alloc(tmp, (nf + 1) * sizeof(get_cand));
	size_t nc = 0;
	for (size_t i = 0; i < nf; i++) {
		const strata_file_entry *f = &files[i];
		if (!strata_file_live_at(f, l) || f->seq_min > (int64_t)v)
			continue;
		if (strata_key_cmp(kbuf.data, kbuf.len, f->key_min, f->key_min_len) < 0 ||
		    strata_key_cmp(kbuf.data, kbuf.len, f->key_max, f->key_max_len) > 0)
			continue;
		cands[nc++].f = f;
		rc = strata_mf_inline_attach(snap, &files[i], 1, tmp, err); /* its bytes, if inline */
		if (rc)
			goto out;
		if (f->format == STRATA_FMT_AVRO) {
			bool have = false;
			for (size_t j = 0; j < nschemas; j++)
				have |= schemas[j].version == f->schema_version;
			if (!have) {
				schemas = strata_realloc(schemas, (nschemas + 1) * sizeof(schema_ent));
				schemas[nschemas].version = f->schema_version;
				rc = strata_mf_schema_get(snap, t.id, f->schema_version,
							  &schemas[nschemas].s, err);
				if (rc)
					goto out;
				nschemas++;
			}
		}
	}
	qsort(cands, nc, sizeof(get_cand), cand_cmp);
	/* Newest candidate first; a file's first record for the key is its newest
	 * <= v, and once the best _seq found beats every remaining file's
	 * seq_max, no older file can hold a newer record. */
	int64_t best_seq = -1;
	for (size_t i = 0; i < nc; i++) {
		const strata_file_entry *f = cands[i].f;
		if (best_seq >= 0 && f->seq_max <= best_seq)
			break;
		char path[4096];
		strata_file_path(wh->mf, t.name, p.name, f, path, sizeof(path));
		const strata_schema *fs = NULL;
		for (size_t j = 0; j < nschemas && f->format == STRATA_FMT_AVRO; j++)
			if (schemas[j].version == f->schema_version)
				fs = schemas[j].s;
		/* a point lookup in a columnar file reads single pages: page CRCs
		 * and the key range protect it.  A row file has no pages and is
		 * read from its start anyway: it is read to its end, so its
		 * content hash is verified (row files are small: level 0) */
		bool is_row_file = f->format == STRATA_FMT_AVRO;
		strata_run_expect ex;
		strata_file_expect(f, is_row_file, &ex);
		strata_run_opts ro = {.file_schema = fs, .read_schema = schema,
				      .default_seq = f->seq_max, .seq_max = (int64_t)v,
				      .expect = &ex, .mem = strata_file_run_mem(f)};
		strata_run *run;
		rc = strata_run_open(path, &ro, &run, err);
		if (rc)
			goto out;
		rc = strata_run_seek(run, kbuf.data, kbuf.len, err);
		const strata_row *r;
		const uint8_t *rk;
		size_t rkl;
		if (rc == 0)
			rc = strata_run_next(run, &r, &rk, &rkl, err);
		if (rc == 1) {
			rc = 0;
			if (rkl == kbuf.len && memcmp(rk, kbuf.data, rkl) == 0 && r->seq > best_seq) {
				best_seq = r->seq;
				strata_row_copy(a, schema, r, row);
			}
			/* the rest of a row file, for its content hash */
			while (is_row_file && (rc = strata_run_next(run, &r, NULL, NULL, err)) == 1)
				;
		}
		if (rows_decoded)
			*rows_decoded += strata_run_rows_decoded(run);
		strata_run_close(run);
		if (rc)
			goto out;
	}
	/* invariant 1: a delete hides the key */
	found = best_seq >= 0 && row->op == STRATA_OP_UPSERT;
out:
	strata_mf_snap_close(snap);
	strata_mf_lease_release(wh->mf, plan_lease);
	for (size_t j = 0; j < nschemas; j++)
		strata_schema_free(schemas[j].s);
	free(schemas);
	strata_buf_free(&kbuf);
	json_decref(copy);
	strata_arena_free(tmp);
	if (rc == 0 && schema_out) {
		*schema_out = schema;
		schema = NULL;
	}
	strata_schema_free(schema);
	return rc ? rc : found;
}
