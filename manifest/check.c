/*
 * manifest/check.c — the consistency check: does the manifest add up, and
 * does it agree with the files on disk?
 *
 * A damaged manifest must never be acted on: clean, purge and the orphan
 * scan delete what the manifest does not name, so a manifest that lost
 * entries would have them delete live data.  Every deleting path runs this
 * check first (clean/clean.c) and refuses when it finds anything; stratad
 * runs it at start and before every orphan scan and enters its degraded
 * state on findings; `strata check` runs it on demand.
 *
 * What is checked, per table (in this order; a step that cannot decode
 * stops that table's check, since later steps would read garbage):
 *   1. the page structure of data.mdb (strata_mf_verify(), whole warehouse);
 *   2. the table record: version >= 1, log_start <= version, data_version
 *      <= version, a bucket count in 1..4096, its current schema present;
 *   3. partitions, bucket states and file entries decode; each entry's
 *      partition exists and its bucket is below that partition's count,
 *      added <= version, removed (if any) in (added, version], deleted only
 *      if removed, _seq range ordered, a plain file name;
 *   4. the version log: every version from log_start to the table's
 *      version is present, decodes, carries its own number and a commit
 *      time after the one before; a record's added files that still have an
 *      entry were added at that version, and the files a job removed were
 *      removed at it; an entry added (removed by a job) inside the log is
 *      named by that version's record;
 *   5. every live or retained (removed, not yet deleted) entry's file is
 *      in its bucket directory (with data on object storage: among the
 *      objects one listing of the table's prefix returns, not a HEAD each);
 *      an inline entry has no file: a live one's bytes must be in the
 *      manifest and match its content hash.
 *
 * The check only reads: a snapshot of the manifest and stat() of files.
 * Each finding is one line naming the table and the object.
 */
#include "manifest/manifest_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct check_ctx {
	strata_mf *mf;
	strata_mf_finding_fn fn;
	void *arg;
	size_t nfindings;
	char first[400];
	const char *table;
} check_ctx;

static void finding(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void finding(check_ctx *c, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->nfindings++ == 0)
		snprintf(c->first, sizeof(c->first), "%s: %s", c->table ? c->table : "warehouse",
			 msg);
	if (c->fn)
		c->fn(c->arg, c->table, msg);
}

static int entry_cmp(const void *a, const void *b)
{
	uint64_t x = (*(const strata_file_entry *const *)a)->id;
	uint64_t y = (*(const strata_file_entry *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* byid: the entries sorted by id */
static const strata_file_entry *entry_find(const strata_file_entry **byid, size_t n,
					   uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (byid[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && byid[lo]->id == id ? byid[lo] : NULL;
}

static bool ids_have(const uint64_t *ids, uint32_t n, uint64_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The objects listed under a table's prefix (relative names, in the
 * arena), for step 5 on object storage. */
typedef struct check_names {
	strata_arena *a;
	char **v;
	size_t n, cap;
} check_names;

static int check_name_add(void *ctx, const char *name, const strata_data_stat *st)
{
	check_names *l = ctx;
	(void)st;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = strata_realloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = strata_arena_strdup(l->a, name);
	return 0;
}

static int check_name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *entry_state(const strata_file_entry *f)
{
	return f->is_deleted ? "deleted" : f->removed_version ? "retained" : "live";
}

static int check_table(check_ctx *c, strata_mf_snap *snap, const strata_table_def *t,
		       strata_arena *a, strata_err *err)
{
	strata_err e;
	/* step 2 */
	if (t->version < 1 || t->log_start > t->version || t->data_version > t->version ||
	    t->buckets < 1 || t->buckets > 4096 || t->schema_version < 1) {
		finding(c, "the table record does not add up (version %llu, log start %llu, data "
			   "version %llu, buckets %u, schema %u)",
			(unsigned long long)t->version, (unsigned long long)t->log_start,
			(unsigned long long)t->data_version, t->buckets, t->schema_version);
		return 0;
	}
	strata_schema *sc = NULL;
	if (strata_mf_schema_get(snap, t->id, t->schema_version, &sc, &e) != 0) {
		finding(c, "its current schema cannot be read: %s", e.msg);
		return 0;
	}
	strata_schema_free(sc);
	/* step 3 */
	strata_partition *parts;
	size_t nparts;
	if (strata_mf_partitions(snap, t->id, a, &parts, &nparts, &e) != 0) {
		finding(c, "%s", e.msg);
		return 0;
	}
	for (size_t p = 0; p < nparts; p++) {
		if (parts[p].buckets < 1 || parts[p].buckets > 4096) {
			finding(c, "partition %u has an impossible bucket count %u", parts[p].id,
				parts[p].buckets);
			return 0;
		}
		for (uint32_t b = 0; b < parts[p].buckets; b++) {
			strata_bucket_state bs;
			if (strata_mf_bucket_state_get(snap, t->id, parts[p].id, b, &bs, &e) != 0) {
				finding(c, "%s", e.msg);
				return 0;
			}
		}
	}
	strata_file_entry *files;
	size_t n;
	if (strata_mf_table_files(snap, t->id, a, &files, &n, &e) != 0) {
		finding(c, "%s", e.msg);
		return 0;
	}
	/* step 5 on object storage: one listing of the table's prefix (a page
	 * per 1000 objects) instead of a HEAD per file */
	check_names listed = {0};
	char tdir[4096];
	snprintf(tdir, sizeof(tdir), "%s/%s", strata_mf_data_dir(c->mf), t->name);
	bool is_remote = strata_data_is_remote(tdir);
	if (is_remote) {
		listed.a = a;
		int lrc = strata_data_list(tdir, check_name_add, &listed, &e);
		if (lrc < 0) {
			free(listed.v);
			return strata_err_set(err, lrc, "%s", e.msg);
		}
		if (listed.n > 1)
			qsort(listed.v, listed.n, sizeof(char *), check_name_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = &files[i];
		const strata_partition *part = NULL;
		for (size_t p = 0; p < nparts; p++)
			if (parts[p].id == f->part_id)
				part = &parts[p];
		bool ok = f->table_id == t->id && part && f->bucket < part->buckets &&
			  f->added_version >= 1 && f->added_version <= t->version &&
			  (f->removed_version == 0 ||
			   (f->removed_version > f->added_version && f->removed_version <= t->version)) &&
			  (!f->is_deleted || f->removed_version) && f->seq_min <= f->seq_max &&
			  f->name[0] && !strchr(f->name, '/') && strcmp(f->name, "..") != 0;
		if (!ok) {
			finding(c, "file entry %llu (\"%s\") does not add up (partition %u, bucket %u, "
				   "added %llu, removed %llu, table version %llu)",
				(unsigned long long)f->id, f->name, f->part_id, f->bucket,
				(unsigned long long)f->added_version,
				(unsigned long long)f->removed_version, (unsigned long long)t->version);
			continue;
		}
		/* step 5 */
		if (f->is_deleted)
			continue;
		if (strata_file_is_inline(f)) {
			/* no file: a live entry's bytes are read and hashed as a
			 * file's (a retained one's when a read needs them: there
			 * may be a retention window of them, and no clean can
			 * delete anything by them) */
			if (f->removed_version)
				continue;
			strata_file_entry one = *f;
			if (strata_mf_inline_attach(snap, &one, 1, a, &e) != 0)
				finding(c, "%s", e.msg);
			else if (one.has_content_hash &&
				 strata_hash64(one.inline_data, one.inline_len) != one.content_hash)
				finding(c, "the inline bytes of %s entry %llu (\"%s\") do not match "
					   "its content hash",
					entry_state(f), (unsigned long long)f->id, f->name);
			continue;
		}
		char path[4096];
		strata_file_path(c->mf, t->name, part->name, f, path, sizeof(path));
		strata_data_stat st;
		strata_err serr;
		int src;
		if (is_remote) {
			const char *rel = path + strlen(tdir) + 1;
			src = listed.n && bsearch(&rel, listed.v, listed.n, sizeof(char *),
						  check_name_cmp) ? 0 : -ENOENT;
		} else {
			src = strata_data_stat_path(path, &st, &serr);
		}
		if (src == -ENOENT)
			finding(c, "the file of %s entry %llu is missing: \"%s\"", entry_state(f),
				(unsigned long long)f->id, path);
		else if (src < 0) {
			free(listed.v);
			return strata_err_set(err, src, "%s", serr.msg);
		}
	}
	free(listed.v);
	/* step 4 */
	const strata_file_entry **byid = strata_arena_alloc(a, (n + 1) * sizeof(*byid));
	for (size_t i = 0; i < n; i++)
		byid[i] = &files[i];
	if (n > 1)
		qsort(byid, n, sizeof(*byid), entry_cmp);
	uint64_t want = t->version - t->log_start + 1;
	strata_version_rec *recs;
	size_t nrecs;
	if (strata_mf_versions_list(snap, t->id, t->log_start, (size_t)want + 1, a, &recs, &nrecs,
				    &e) != 0) {
		finding(c, "%s", e.msg);
		return 0;
	}
	int64_t prev_ts = INT64_MIN;
	for (size_t i = 0; i < nrecs; i++) {
		const strata_version_rec *r = &recs[i];
		uint64_t v = t->log_start + i;
		if (r->version != v) {
			finding(c, "the version log has a hole: version %llu is missing (found %llu)",
				(unsigned long long)v, (unsigned long long)r->version);
			return 0;
		}
		if (r->ts_us <= prev_ts)
			finding(c, "version %llu was committed before version %llu",
				(unsigned long long)v, (unsigned long long)(v - 1));
		prev_ts = r->ts_us;
		bool is_job = r->kind == STRATA_V_SORT || r->kind == STRATA_V_MERGE ||
			      r->kind == STRATA_V_COMPACT || r->kind == STRATA_V_DROP;
		for (uint32_t k = 0; k < r->nadded; k++) {
			const strata_file_entry *f = entry_find(byid, n, r->added[k]);
			if (f && f->added_version != v)
				finding(c, "version %llu adds file %llu, whose entry says it was added at "
					   "%llu",
					(unsigned long long)v, (unsigned long long)f->id,
					(unsigned long long)f->added_version);
		}
		for (uint32_t k = 0; is_job && k < r->nremoved; k++) {
			const strata_file_entry *f = entry_find(byid, n, r->removed[k]);
			if (f && f->removed_version != v)
				finding(c, "version %llu removes file %llu, whose entry says it was removed "
					   "at %llu",
					(unsigned long long)v, (unsigned long long)f->id,
					(unsigned long long)f->removed_version);
		}
	}
	if (nrecs != want) {
		finding(c, "the version log holds %zu records from version %llu, %llu expected "
			   "(up to version %llu)",
			nrecs, (unsigned long long)t->log_start, (unsigned long long)want,
			(unsigned long long)t->version);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = &files[i];
		if (f->added_version >= t->log_start && f->added_version <= t->version) {
			const strata_version_rec *r = &recs[f->added_version - t->log_start];
			if (!ids_have(r->added, r->nadded, f->id))
				finding(c, "file %llu says it was added at version %llu, which does not "
					   "name it",
					(unsigned long long)f->id, (unsigned long long)f->added_version);
		}
		if (f->removed_version >= t->log_start && f->removed_version <= t->version) {
			const strata_version_rec *r = &recs[f->removed_version - t->log_start];
			bool is_job = r->kind == STRATA_V_SORT || r->kind == STRATA_V_MERGE ||
				      r->kind == STRATA_V_COMPACT || r->kind == STRATA_V_DROP;
			if (!is_job || !ids_have(r->removed, r->nremoved, f->id))
				finding(c, "file %llu says it was removed at version %llu, which does not "
					   "name it",
					(unsigned long long)f->id, (unsigned long long)f->removed_version);
		}
	}
	return 0;
}

int strata_mf_check(strata_mf *mf, const char *table, strata_mf_finding_fn fn, void *arg,
		    size_t *nfindings, strata_err *err)
{
	check_ctx c = {.mf = mf, .fn = fn, .arg = arg};
	strata_arena *a = strata_arena_new(), *ta = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_err e;
	int rc = 0;
	if (nfindings)
		*nfindings = 0;
	/* step 1 */
	if (strata_mf_verify(mf, &e) != 0) {
		if (e.code != STRATA_ECORRUPT && e.code != STRATA_ENOTFOUND) {
			rc = strata_err_set(err, e.code, "%s", e.msg);
			goto out;
		}
		finding(&c, "%s", e.msg);
		goto out;
	}
	rc = strata_mf_snap_open(mf, &snap, err);
	if (rc)
		goto out;
	strata_table_def *tables = NULL, one;
	size_t nt = 0;
	if (table) {
		rc = strata_mf_table_get(snap, table, &one, &e);
		if (rc == STRATA_ENOTFOUND) {
			rc = strata_err_set(err, rc, "%s", e.msg);
			goto out;
		}
		if (rc) {
			rc = 0;
			c.table = table;
			finding(&c, "%s", e.msg);
			goto out;
		}
		tables = &one;
		nt = 1;
	} else if (strata_mf_tables_list(snap, ta, &tables, &nt, &e) != 0) {
		finding(&c, "%s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < nt && rc == 0; i++) {
		c.table = tables[i].name;
		rc = check_table(&c, snap, &tables[i], a, err);
		strata_arena_reset(a);
	}
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_arena_free(ta);
	if (nfindings)
		*nfindings = c.nfindings;
	if (rc == 0 && c.nfindings)
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "the manifest failed its consistency check (%zu finding%s; first: "
				    "%s): nothing is deleted until it passes (see `strata check`)",
				    c.nfindings, c.nfindings == 1 ? "" : "s", c.first);
	return rc;
}
