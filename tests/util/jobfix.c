/*
 * tests/util/jobfix.c — see jobfix.h.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void jf_open_wh(jf *f)
{
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_wh_open(tu_wh_name(f->dir), true, &f->wh, &err);
	if (rc)
		fprintf(stderr, "jf: open %s: %s\n", f->dir, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

void jf_close_wh(jf *f)
{
	strata_wh_close(f->wh);
	f->wh = NULL;
}

void jf_open_props(jf *f, const char *columns, int buckets, int retain_hours,
		   const char *const *more, size_t nmore)
{
	memset(f, 0, sizeof(*f));
	f->dir = tu_tmpdir();
	snprintf(f->table, sizeof(f->table), "t");
	strata_owner_string("jobtest", f->owner, sizeof(f->owner));
	jf_open_wh(f);
	char p1[64], p2[64];
	snprintf(p1, sizeof(p1), "write.bucket.num=%d", buckets);
	snprintf(p2, sizeof(p2), "acid.data.retain.hours=%d", retain_hours);
	/* the job suites count files and bytes on disk, in the trash and
	 * deleted: their row files are files (inline row files are
	 * test_inline's, and the oracle suites run with the default) */
	const char *props[16] = {p1, p2, "write.inline.max-bytes=0"};
	size_t n = 3;
	for (size_t i = 0; i < nmore && n < 16; i++)
		props[n++] = more[i];
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_table_create(f->wh, f->table, columns, NULL, NULL, props, n, &err);
	if (rc)
		fprintf(stderr, "jf: create table: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

void jf_open(jf *f, const char *columns, int buckets, int retain_hours)
{
	jf_open_props(f, columns, buckets, retain_hours, NULL, 0);
}

void jf_close(jf *f)
{
	jf_close_wh(f);
}

uint64_t jf_put(jf *f, const char *jsonl)
{
	strata_err err;
	strata_err_clear(&err);
	strata_txn *t;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(f->wh, f->table, &t, &err), 0);
	const char *p = jsonl;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0) {
			json_error_t je;
			json_t *obj = json_loadb(p, len, 0, &je);
			if (!obj)
				fprintf(stderr, "jf: bad JSON %.*s: %s\n", (int)len, p, je.text);
			CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
			int rc = strata_txn_put_json(t, obj, &err);
			if (rc)
				fprintf(stderr, "jf: put %.*s: %s\n", (int)len, p, err.msg);
			json_decref(obj);
			CU_ASSERT_EQUAL_FATAL(rc, 0);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	tu_clock_advance(1000000);
	uint64_t v = 0;
	bool is_repeat = false;
	int rc = strata_txn_commit(t, NULL, &v, &is_repeat, &err);
	if (rc)
		fprintf(stderr, "jf: commit: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return v;
}

void jf_def(jf *f, strata_table_def *out)
{
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	int rc = strata_mf_table_get(snap, f->table, out, &err);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

uint64_t jf_version(jf *f)
{
	strata_table_def t;
	jf_def(f, &t);
	return t.version;
}

/* ---- reads ------------------------------------------------------------------ */

char *jf_dump(jf *f, const strata_read_opts *ro, int *rc_out, strata_err *err_out)
{
	strata_err err;
	strata_err_clear(&err);
	strata_scan *s = NULL;
	strata_buf b = {0};
	int rc = strata_scan_open(f->wh, f->table, ro, &s, &err);
	if (rc == 0) {
		const strata_schema *sc = strata_scan_schema(s);
		strata_buf_printf(&b, "columns:");
		for (uint32_t i = 0; i < sc->ncols; i++)
			strata_buf_printf(&b, " %s", sc->cols[i].name);
		strata_buf_putc(&b, '\n');
		const strata_row *row;
		while ((rc = strata_scan_next(s, &row, NULL, &err)) == 1) {
			strata_row_to_json(sc, row, true, &b);
			strata_buf_putc(&b, '\n');
		}
		strata_scan_close(s);
	}
	if (rc < 0) {
		strata_buf_reset(&b);
		strata_buf_printf(&b, "error %d", rc);
	} else {
		rc = 0;
	}
	strata_buf_putc(&b, 0);
	if (rc_out)
		*rc_out = rc;
	if (err_out)
		*err_out = err;
	return (char *)b.data;
}

char *jf_changes(jf *f, uint64_t v1, uint64_t v2, int *rc_out)
{
	strata_err err;
	strata_scan *s = NULL;
	strata_buf b = {0};
	int rc = strata_changes_open(f->wh, f->table, v1, v2, NULL, &s, &err);
	if (rc == 0) {
		const strata_schema *sc = strata_scan_schema(s);
		const strata_row *row;
		while ((rc = strata_scan_next(s, &row, NULL, &err)) == 1) {
			strata_row_to_json(sc, row, true, &b);
			strata_buf_putc(&b, '\n');
		}
		strata_scan_close(s);
	}
	if (rc < 0) {
		strata_buf_reset(&b);
		strata_buf_printf(&b, "error %d", rc);
	} else {
		rc = 0;
	}
	strata_buf_putc(&b, 0);
	if (rc_out)
		*rc_out = rc;
	return (char *)b.data;
}

char *jf_dump_at(jf *f, uint64_t v, int *rc)
{
	strata_read_opts ro = {.as_of_version = v};
	return jf_dump(f, &ro, rc, NULL);
}

void jf_hist_take(jf *f, jf_hist *h)
{
	h->n = jf_version(f);
	h->d = strata_calloc(h->n + 1, sizeof(char *));
	h->c = strata_calloc(h->n + 1, sizeof(char *));
	for (uint64_t v = 1; v <= h->n; v++) {
		h->d[v] = jf_dump_at(f, v, NULL);
		if (v >= 2)
			h->c[v] = jf_changes(f, v - 1, v, NULL);
	}
}

int jf_hist_diff(jf *f, const jf_hist *h, uint64_t from, uint64_t to)
{
	if (to == 0 || to > h->n)
		to = h->n;
	if (from < 1)
		from = 1;
	int bad = 0;
	for (uint64_t v = from; v <= to; v++) {
		char *now = jf_dump_at(f, v, NULL);
		if (strcmp(now, h->d[v]) != 0) {
			if (bad < 3)
				fprintf(stderr, "\nversion %llu read differently:\n--- before\n%s--- now\n%s\n",
					(unsigned long long)v, h->d[v], now);
			bad++;
		}
		free(now);
	}
	/* incremental reads from the earliest incremental version on */
	uint64_t er = 0, ei = 0;
	strata_err err;
	if (strata_table_earliest(f->wh, f->table, &er, &ei, &err) == 0) {
		uint64_t lo = from > ei ? from : ei;
		for (uint64_t v = lo + 1 > 2 ? lo + 1 : 2; v <= to; v++) {
			char *now = jf_changes(f, v - 1, v, NULL);
			if (strcmp(now, h->c[v]) != 0) {
				if (bad < 3)
					fprintf(stderr, "\nchanges (%llu, %llu] read differently:\n--- before\n%s--- now\n%s\n",
						(unsigned long long)v - 1, (unsigned long long)v, h->c[v], now);
				bad++;
			}
			free(now);
		}
	}
	return bad;
}

int jf_hist_diff_changes(jf *f, const jf_hist *h, uint64_t from_v1)
{
	int bad = 0;
	for (uint64_t v = from_v1 + 1 > 2 ? from_v1 + 1 : 2; v <= h->n; v++) {
		char *now = jf_changes(f, v - 1, v, NULL);
		if (strcmp(now, h->c[v]) != 0) {
			if (bad < 3)
				fprintf(stderr, "\nchanges (%llu, %llu] read differently:\n--- before\n%s--- now\n%s\n",
					(unsigned long long)v - 1, (unsigned long long)v, h->c[v], now);
			bad++;
		}
		free(now);
	}
	return bad;
}

void jf_hist_free(jf_hist *h)
{
	for (uint64_t v = 1; v <= h->n; v++) {
		free(h->d[v]);
		if (h->c)
			free(h->c[v]);
	}
	free(h->c);
	free(h->d);
	memset(h, 0, sizeof(*h));
}

/* ---- entries ---------------------------------------------------------------- */

static void part_of(jf *f, strata_mf_snap *snap, strata_table_def *t, strata_partition *p)
{
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, f->table, t, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_partition_get(snap, t->id, "", p, &err), 0);
}

size_t jf_entries(jf *f, uint32_t b, strata_arena *a, strata_file_entry **out)
{
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	strata_table_def t;
	strata_mf_table_get(snap, f->table, &t, &err);
	strata_partition p;
	size_t n = 0;
	*out = NULL;
	if (strata_mf_partition_get(snap, t.id, "", &p, &err) == 0)
		CU_ASSERT_EQUAL(strata_mf_bucket_files(snap, t.id, p.id, b, a, out, &n, &err), 0);
	strata_mf_snap_close(snap);
	return n;
}

static int seq_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *x = pa, *y = pb;
	if (x->seq_min != y->seq_min)
		return x->seq_min < y->seq_min ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

size_t jf_live(jf *f, uint32_t b, strata_arena *a, strata_file_entry **out)
{
	strata_file_entry *all;
	size_t n = jf_entries(f, b, a, &all), k = 0;
	*out = strata_arena_alloc(a, (n + 1) * sizeof(strata_file_entry));
	for (size_t i = 0; i < n; i++)
		if (all[i].removed_version == 0)
			(*out)[k++] = all[i];
	qsort(*out, k, sizeof(strata_file_entry), seq_cmp);
	return k;
}

size_t jf_outputs(jf *f, uint32_t b, uint64_t job_id, strata_arena *a, strata_file_entry **out)
{
	strata_file_entry *all;
	size_t n = jf_entries(f, b, a, &all), k = 0;
	*out = strata_arena_alloc(a, (n + 1) * sizeof(strata_file_entry));
	for (size_t i = 0; i < n; i++)
		if (all[i].job_id == job_id)
			(*out)[k++] = all[i];
	return k;
}

void jf_bucket_state(jf *f, uint32_t b, strata_bucket_state *out)
{
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	strata_table_def t;
	strata_partition p;
	part_of(f, snap, &t, &p);
	CU_ASSERT_EQUAL(strata_mf_bucket_state_get(snap, t.id, p.id, b, out, &err), 0);
	strata_mf_snap_close(snap);
}

void jf_bucket_dir(jf *f, uint32_t b, char *out, size_t n)
{
	strata_bucket_dir(strata_wh_mf(f->wh), f->table, "", b, out, n);
}

void jf_file_path(jf *f, const strata_file_entry *e, char *out, size_t n)
{
	strata_file_path(strata_wh_mf(f->wh), f->table, "", e, out, n);
}

void jf_trash_dir(jf *f, char *out, size_t n)
{
	strata_trash_dir(strata_wh_mf(f->wh), f->table, out, n);
}

/* ---- jobs ------------------------------------------------------------------- */

const char *jf_kind_name(jf_kind k)
{
	static const char *const names[] = {"sort", "merge", "partial", "major", "major-drop"};
	return k <= JF_MAJOR_DROP ? names[k] : "?";
}

size_t jf_plan(jf *f, uint32_t b, jf_kind k, const jf_job_opts *o, strata_bucket_view *v,
	       strata_job_plan *plan)
{
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_bucket_view_load(f->wh, f->table, "", b, strata_now_us(), v, &err);
	if (rc)
		fprintf(stderr, "jf: view: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	jf_job_opts def = {.merge_level = -1};
	if (!o)
		o = &def;
	switch (k) {
	case JF_SORT:
		rc = strata_sort_plan(v, o->sort_max_bytes, plan);
		break;
	case JF_MERGE:
		rc = strata_merge_plan(v, o->merge_level, o->merge_through,
				       o->merge_max_files ? o->merge_max_files : 8, o->target_bytes, plan);
		break;
	case JF_PARTIAL:
		rc = strata_compact_partial_plan(v, plan);
		break;
	case JF_MAJOR:
	case JF_MAJOR_DROP:
		rc = strata_compact_major_plan(v, k == JF_MAJOR_DROP, plan);
		break;
	}
	CU_ASSERT_EQUAL(rc, 0);
	if (o->target_bytes)
		plan->target_bytes = o->target_bytes; /* the executor splits any job */
	return plan->ninputs;
}

int jf_job(jf *f, uint32_t b, jf_kind k, const jf_job_opts *o, const strata_job_ctl *ctl,
	   strata_job_result *res, strata_err *err)
{
	strata_bucket_view v;
	strata_job_plan plan;
	strata_job_ctl def = {.owner = f->owner};
	strata_job_result r;
	if (!res)
		res = &r;
	memset(res, 0, sizeof(*res));
	if (jf_plan(f, b, k, o, &v, &plan) == 0) {
		strata_bucket_view_free(&v);
		return 1;
	}
	int rc = strata_job_execute(f->wh, &v, &plan, ctl ? ctl : &def, res, err);
	strata_bucket_view_free(&v);
	return rc;
}

/* ---- disk ------------------------------------------------------------------- */

typedef struct jf_disk_ctx {
	const strata_file_entry *es;
	size_t ne;
	const char *dir;
	bool is_remote;
	size_t have;
	char *why;
	size_t n;
	int rc;
} jf_disk_ctx;

static int jf_disk_one(void *ctx, const char *name, const strata_data_stat *st)
{
	jf_disk_ctx *d = ctx;
	(void)st;
	if (strchr(name, '/'))
		return 0; /* not in the bucket directory itself */
	bool known = false, is_trashed = false;
	for (size_t i = 0; i < d->ne && !known; i++) {
		if (strcmp(d->es[i].name, name) != 0)
			continue;
		known = !d->es[i].is_deleted;
		/* on object storage a deleted entry's object is its trash */
		is_trashed = d->is_remote && d->es[i].is_deleted;
	}
	if (is_trashed)
		return 0;
	if (!known) {
		snprintf(d->why, d->n, "%s/%s is on disk but the manifest does not name it", d->dir,
			 name);
		d->rc = -1;
	}
	d->have++;
	return 0;
}

int jf_disk_check(jf *f, uint32_t b, char *why, size_t n)
{
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t ne = jf_entries(f, b, a, &es);
	char dir[PATH_MAX];
	jf_bucket_dir(f, b, dir, sizeof(dir));
	int rc = 0;
	why[0] = '\0';
	size_t want = 0;
	for (size_t i = 0; i < ne; i++) {
		if (es[i].is_deleted || strata_file_is_inline(&es[i]))
			continue; /* an inline row file has no file */
		want++;
		char p[PATH_MAX];
		jf_file_path(f, &es[i], p, sizeof(p));
		strata_data_stat st;
		strata_err err;
		if (strata_data_stat_path(p, &st, &err) != 0) {
			snprintf(why, n, "entry %s is missing on disk (%s)", p, err.msg);
			rc = -1;
		} else if (st.size != es[i].bytes) {
			snprintf(why, n, "entry %s says %llu bytes, the file has %llu", p,
				 (unsigned long long)es[i].bytes, (unsigned long long)st.size);
			rc = -1;
		}
	}
	/* the bucket directory (locally) or prefix (object storage) */
	jf_disk_ctx d = {.es = es, .ne = ne, .dir = dir, .is_remote = strata_data_is_remote(dir),
			 .why = why, .n = n};
	strata_err err;
	if (strata_data_list(dir, jf_disk_one, &d, &err) != 0) {
		snprintf(why, n, "%s", err.msg);
		rc = -1;
	}
	if (d.rc)
		rc = d.rc;
	if (rc == 0 && d.have != want) {
		snprintf(why, n, "%zu files on disk, %zu entries", d.have, want);
		rc = -1;
	}
	strata_arena_free(a);
	return rc;
}

size_t jf_intents(jf *f)
{
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_intent *in;
	size_t n = 0;
	CU_ASSERT_EQUAL(strata_mf_intents_list(snap, a, &in, &n, &err), 0);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return n;
}

bool jf_claimed(jf *f, uint32_t b)
{
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	strata_table_def t;
	strata_partition p;
	part_of(f, snap, &t, &p);
	strata_claim cl;
	bool has = strata_mf_claim_get(snap, t.id, p.id, b, &cl, &err) == 0;
	strata_mf_snap_close(snap);
	return has;
}

int jf_trash_count(jf *f)
{
	char dir[PATH_MAX];
	jf_trash_dir(f, dir, sizeof(dir));
	if (!strata_data_is_remote(dir))
		return tu_count_files(dir, NULL);
	/* object storage: the trash is the deleted entries whose objects stay */
	strata_table_def t;
	jf_def(f, &t);
	strata_arena *a = strata_arena_new();
	int n = 0;
	for (uint32_t b = 0; b < t.buckets; b++) {
		strata_file_entry *es;
		size_t ne = jf_entries(f, b, a, &es);
		for (size_t i = 0; i < ne; i++) {
			if (!es[i].is_deleted)
				continue;
			char p[PATH_MAX];
			jf_file_path(f, &es[i], p, sizeof(p));
			strata_data_stat st;
			strata_err err;
			n += strata_data_stat_path(p, &st, &err) == 0;
		}
	}
	strata_arena_free(a);
	return n;
}

void jf_tmpl_save(jf *f, jf_tmpl *t)
{
	t->dir = tu_tmpdir();
	t->clock_us = strata_now_us();
	jf_close_wh(f);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", f->dir, t->dir);
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL), 0);
	tu_wh_clone(f->dir, t->dir);
	jf_open_wh(f);
}

void jf_tmpl_restore(jf *f, const jf_tmpl *t)
{
	jf_close_wh(f);
	tu_rmtree(f->dir);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", t->dir, f->dir);
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL), 0);
	tu_wh_clone(t->dir, f->dir);
	tu_clock_manual(t->clock_us);
	jf_open_wh(f);
}

uint32_t jf_bucket_of(int64_t pk, uint32_t nb)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c = {.type = STRATA_T_LONG, .id = 1, .key_pos = 0};
	snprintf(c.name, sizeof(c.name), "pk");
	strata_schema_add(s, &c, NULL);
	strata_value val = {.v.i64 = pk};
	strata_row row = {.ncols = 1, .vals = &val};
	strata_buf kb = {0};
	strata_key_encode(s, &row, &kb, NULL);
	uint32_t b = (uint32_t)(strata_hash64(kb.data, kb.len) % nb);
	strata_buf_free(&kb);
	strata_schema_free(s);
	return b;
}
