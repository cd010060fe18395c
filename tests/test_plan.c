/*
 * tests/test_plan.c — planning reads entries light (daemon/plan.c, "Entries
 * are read light"): a busy table holds thousands of removed entries (in
 * grace, in the trash, gone) for each live one, and a re-plan follows every
 * job, so planning visits briefs (strata_mf_table_visit()) instead of
 * decoding, copying and sorting whole entries.  What must not change is
 * what the policies see.
 *
 *   decode     the brief decoder agrees with the full decoder on every
 *              field it fills, for every kind of entry (live row file, live
 *              compact columnar file, removed keeping history, removed by a
 *              major compaction, deleted in the trash, deleted and gone,
 *              entries from before content hashes and before undelete), and
 *              on which values are damaged: every truncation and every byte
 *              changed to a few values
 *   visit      on a real table (real commits, sorts, a major compaction and
 *              two real cleans: live, removed, trashed and gone entries),
 *              the visit yields the entries strata_mf_table_files() lists,
 *              in its order, field for field; a bucket's visit is that
 *              bucket's slice
 *   inputs     d_plan_entries_load() gives the policies exactly what the old
 *              gather built from whole entries (sorted by bucket): the same
 *              live files per bucket and the same removed summaries; the
 *              verdicts of both (every bucket's checks, the clean) are the
 *              same, and the clean's trash count and bytes are those of the
 *              entries marked deleted
 *   stratad    the real daemon's `plan` of that table: the clean's "why"
 *              is the one computed here from whole entries, every bucket's
 *              files, bytes and merge verdict too
 *
 * Runs on a PostgreSQL catalog too (tests/pg/pg-plan).  Nothing asserts a
 * duration.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_wh.h"

#include "daemon/daemon_int.h"
#include "manifest/manifest_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decode ------------------------------------------------------------------------- */

static bool brief_agrees(const strata_file_entry *f, const strata_file_brief *b)
{
	return f->id == b->id && f->part_id == b->part_id && f->bucket == b->bucket &&
	       f->format == b->format && f->level == b->level && f->seq_min == b->seq_min &&
	       f->seq_max == b->seq_max && f->rows == b->rows && f->bytes == b->bytes &&
	       f->tombstones == b->tombstones && b->sketch &&
	       memcmp(f->sketch, b->sketch, STRATA_SKETCH_REGS) == 0 &&
	       f->added_version == b->added_version && f->added_us == b->added_us &&
	       f->removed_version == b->removed_version && f->removed_us == b->removed_us &&
	       f->is_compact == b->is_compact && f->removed_kept_history == b->removed_kept_history &&
	       f->is_deleted == b->is_deleted && f->is_gone == b->is_gone &&
	       f->deleted_us == b->deleted_us && f->trash_until_us == b->trash_until_us &&
	       f->is_inline == b->is_inline;
}

/* Both decoders on one value: the same verdict, the same fields. */
static int decoders_disagree(const uint8_t *p, size_t n, const char *what)
{
	MDB_val v = {.mv_size = n, .mv_data = (void *)p};
	strata_file_entry f;
	strata_file_brief b;
	int rf = mf_file_dec(&v, NULL, &f);
	int rb = mf_file_brief_dec(&v, &b);
	if (rf != rb) {
		fprintf(stderr, "\n%s (%zu bytes): full decode %d, brief %d\n", what, n, rf, rb);
		return 1;
	}
	if (rf == 0 && !brief_agrees(&f, &b)) {
		fprintf(stderr, "\n%s (%zu bytes): the brief differs from the entry\n", what, n);
		return 1;
	}
	return 0;
}

static void test_brief_decode_agrees(void)
{
	uint8_t kmin[3] = {1, 2, 3}, kmax[5] = {9, 8, 7, 6, 5};
	enum { NKINDS = 8 };
	strata_file_entry kinds[NKINDS];
	memset(kinds, 0, sizeof(kinds));
	for (int i = 0; i < NKINDS; i++) {
		strata_file_entry *f = &kinds[i];
		f->id = 1000 + (uint64_t)i;
		f->table_id = 7;
		f->part_id = (uint32_t)i % 3;
		f->bucket = 11 + (uint32_t)i;
		f->format = STRATA_FMT_AVRO;
		snprintf(f->name, sizeof(f->name), "w-%d.avro", i);
		f->schema_version = 2;
		f->seq_min = 5;
		f->seq_max = 40 + i;
		f->rows = 100 + (uint64_t)i;
		f->bytes = 4096 * (uint64_t)(i + 1);
		f->tombstones = (uint64_t)i;
		f->key_min = kmin;
		f->key_min_len = sizeof(kmin);
		f->key_max = kmax;
		f->key_max_len = sizeof(kmax);
		for (int r = 0; r < STRATA_SKETCH_REGS; r++)
			f->sketch[r] = (uint8_t)(r * 7 + i);
		f->added_version = 3 + (uint64_t)i;
		f->added_us = 1767225600000000LL + i;
		f->has_content_hash = true;
		f->content_hash = 0x1122334455667788ull + (uint64_t)i;
	}
	/* 0: a live row file; 1: a live compact columnar file with both hashes */
	kinds[1].format = STRATA_FMT_PARQUET;
	kinds[1].level = 3;
	kinds[1].is_compact = true;
	kinds[1].has_footer_hash = true;
	kinds[1].footer_hash = 99;
	kinds[1].key_min_len = kinds[1].key_max_len = 0; /* empty keys */
	/* 2: removed by a sort (history kept) */
	kinds[2].removed_version = 50;
	kinds[2].removed_us = 1767225700000000LL;
	kinds[2].removed_kept_history = true;
	/* 3: removed by a major compaction that dropped history */
	kinds[3].removed_version = 51;
	kinds[3].removed_us = 1767225800000000LL;
	kinds[3].level = 2;
	/* 4: deleted, its file in the trash until trash_until_us */
	kinds[4].removed_version = 52;
	kinds[4].removed_us = 1767225900000000LL;
	kinds[4].removed_kept_history = true;
	kinds[4].is_deleted = true;
	kinds[4].deleted_us = 1767226000000000LL;
	kinds[4].trash_until_us = 1767229600000000LL;
	/* 5: deleted and gone (a tombstone a floor raise keeps) */
	kinds[5] = kinds[4];
	kinds[5].id = 1005;
	kinds[5].is_gone = true;
	kinds[5].trash_until_us = 0;
	/* 6: a live inline row file (its bytes are in DB_INLINE, not here) */
	kinds[6].is_inline = true;
	kinds[6].bytes = 1234;
	/* 7: an inline row file removed by a sort and marked deleted */
	kinds[7] = kinds[4];
	kinds[7].id = 1007;
	kinds[7].is_inline = true;
	kinds[7].bytes = STRATA_INLINE_MAX_BYTES;
	int bad = 0;
	size_t nvalues = 0;
	for (int i = 0; i < NKINDS; i++) {
		strata_buf enc = {0};
		mf_file_enc(&kinds[i], &enc);
		/* the entry as written today, before inline row files (no flag
		 * byte), before undelete (no trash_until_us either) and before
		 * content hashes (neither); an inline entry only as today */
		size_t lens[4] = {enc.len, enc.len - 1, enc.len - 9, enc.len - 26};
		for (int l = 0; l < (kinds[i].is_inline ? 1 : 4); l++) {
			char what[64];
			snprintf(what, sizeof(what), "kind %d, layout %d", i, l);
			MDB_val v = {.mv_size = lens[l], .mv_data = enc.data};
			strata_file_brief b;
			CU_ASSERT_EQUAL(mf_file_brief_dec(&v, &b), 0);
			bad += decoders_disagree(enc.data, lens[l], what);
			nvalues++;
			/* every truncation */
			for (size_t n = 0; n < lens[l]; n++, nvalues++)
				bad += decoders_disagree(enc.data, n, what);
			/* every byte changed to a few values */
			uint8_t *m = malloc(lens[l]);
			static const uint8_t vals[] = {0, 1, 2, 0x3f, 0x40, 0xff};
			for (size_t at = 0; at < lens[l]; at++)
				for (size_t k = 0; k < sizeof(vals); k++, nvalues++) {
					memcpy(m, enc.data, lens[l]);
					m[at] = vals[k];
					bad += decoders_disagree(m, lens[l], what);
				}
			free(m);
		}
		strata_buf_free(&enc);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(nvalues > 10000);
	/* only a writer's small row file is ever inline: a columnar file, a
	 * level above 0 or a size past the limit with the flag is damage */
	strata_file_entry odd[3] = {kinds[1], kinds[6], kinds[6]};
	odd[0].is_inline = true;
	odd[1].level = 1;
	odd[2].bytes = STRATA_INLINE_MAX_BYTES + 1;
	for (int i = 0; i < 3; i++) {
		strata_buf enc = {0};
		mf_file_enc(&odd[i], &enc);
		MDB_val v = {.mv_size = enc.len, .mv_data = enc.data};
		strata_file_entry f;
		strata_file_brief b;
		CU_ASSERT_EQUAL(mf_file_dec(&v, NULL, &f), STRATA_ECORRUPT);
		CU_ASSERT_EQUAL(mf_file_brief_dec(&v, &b), STRATA_ECORRUPT);
		strata_buf_free(&enc);
	}
}

/* ---- a real table of tombstones -------------------------------------------------------- */

#define COLS "pk BIGINT NOT NULL PRIMARY KEY, v STRING"
#define NB 4

static void put_rows(jf *f, int from, int n, const char *tag)
{
	strata_buf b = {0};
	for (int k = from; k < from + n; k++)
		strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"%s-%d\"}\n", k, tag, k);
	strata_buf_putc(&b, 0);
	jf_put(f, (const char *)b.data);
	strata_buf_free(&b);
}

static void job_all(jf *f, jf_kind k)
{
	for (uint32_t b = 0; b < NB; b++) {
		strata_err err;
		int rc = jf_job(f, b, k, NULL, NULL, NULL, &err);
		if (rc < 0)
			fprintf(stderr, "\n%s of bucket %u: %s\n", jf_kind_name(k), b, err.msg);
		CU_ASSERT(rc >= 0);
	}
}

static void clean_now(jf *f, int64_t trash_s)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 300;
	o.trash_s = trash_s;
	o.orphan_age_s = -1;
	strata_clean_result r;
	strata_err err;
	int rc = strata_clean_table(f->wh, f->table, &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* A table of tombstones: removed-by-sort entries in the trash, removed
 * entries inside grace, live files at level 0 and above; with is_gone,
 * gone tombstones instead of trashed ones (the inputs of a partial
 * compaction, a floor raise's set, which a clean with no trash unlinked at
 * once: the next clean would trim the raise and forget them).  Built on a
 * manual clock that starts 4 hours before the real now and stays behind
 * it, so that a real stratad started afterwards sees every entry at most
 * hours old. */
static void build_tombstones(jf *f, bool is_gone)
{
	tu_clock_real();
	int64_t real_now = strata_now_us();
	tu_clock_manual(real_now - 4 * JF_HOUR_US);
	jf_open(f, COLS, NB, 1);
	for (int r = 0; r < 4; r++)
		put_rows(f, r * 10, 40, "a");
	job_all(f, JF_SORT);
	tu_clock_advance(2 * JF_HOUR_US);
	put_rows(f, 0, 40, "b"); /* the boundary moves past the sorts */
	job_all(f, JF_PARTIAL);  /* a floor raise: its inputs stay as tombstones */
	for (int r = 0; r < 3; r++)
		put_rows(f, 100 + r * 10, 40, "c");
	job_all(f, JF_SORT);
	tu_clock_advance(301 * 1000000LL);
	/* every removed entry deleted: unlinked at once (the partials' inputs
	 * kept, gone), or into the trash */
	clean_now(f, is_gone ? 0 : 86400);
	for (int r = 0; r < 3; r++)
		put_rows(f, 200 + r * 10, 40, "d");
	job_all(f, JF_SORT); /* removed, inside grace */
	for (int r = 0; r < 2; r++)
		put_rows(f, 300 + r * 10, 40, "e"); /* live row files */
	CU_ASSERT(strata_now_us() < real_now);
}

typedef struct collect {
	strata_file_brief *v;
	size_t n, cap;
} collect;

static int collect_one(void *arg, const strata_file_brief *b)
{
	collect *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = *b;
	return 0;
}

static int stop_at_three(void *arg, const strata_file_brief *b)
{
	size_t *n = arg;
	return ++*n == 3 ? 42 : 0;
}

static int ord_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *a = *(const strata_file_entry *const *)pa;
	const strata_file_entry *b = *(const strata_file_entry *const *)pb;
	if (a->part_id != b->part_id)
		return a->part_id < b->part_id ? -1 : 1;
	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

/* The policy inputs as the gather built them before briefs: whole entries,
 * pointers sorted by (partition, bucket, id), a strata_pol_file per live
 * entry and a strata_pol_gone per removed one. */
typedef struct ref_inputs {
	strata_pol_file *live;
	uint32_t (*at)[2];
	size_t nlive;
	strata_pol_gone *gone;
	size_t ngone;
	size_t ndeleted;
	uint64_t deleted_bytes;
	size_t nremoved, ngone_flag;
} ref_inputs;

static void ref_build(const strata_file_entry *fs, size_t n, ref_inputs *r)
{
	memset(r, 0, sizeof(*r));
	const strata_file_entry **ord = malloc((n + 1) * sizeof(*ord));
	for (size_t i = 0; i < n; i++)
		ord[i] = &fs[i];
	qsort(ord, n, sizeof(*ord), ord_cmp);
	r->live = calloc(n + 1, sizeof(*r->live));
	r->at = calloc(n + 1, sizeof(*r->at));
	r->gone = calloc(n + 1, sizeof(*r->gone));
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = ord[i];
		if (f->removed_version == 0) {
			r->at[r->nlive][0] = f->part_id;
			r->at[r->nlive][1] = f->bucket;
			r->live[r->nlive++] = (strata_pol_file){
				.level = f->level,
				.bytes = f->bytes,
				.rows = f->rows,
				.tombstones = f->tombstones,
				.seq_min = f->seq_min,
				.seq_max = f->seq_max,
				.added_us = f->added_us,
				.sketch = f->sketch,
				.is_compact = f->is_compact,
			};
			continue;
		}
		r->gone[r->ngone++] = (strata_pol_gone){
			.bytes = f->bytes,
			.removed_version = f->removed_version,
			.removed_us = f->removed_us,
			.removed_kept_history = f->removed_kept_history,
			.is_deleted = f->is_deleted,
			.deleted_us = f->deleted_us,
		};
		r->nremoved += !f->is_deleted;
		r->ngone_flag += f->is_gone;
		if (f->is_deleted) {
			r->ndeleted++;
			r->deleted_bytes += f->bytes;
		}
	}
	free(ord);
}

static void ref_free(ref_inputs *r)
{
	free(r->live);
	free(r->at);
	free(r->gone);
}

static bool pol_file_eq(const strata_pol_file *a, const strata_pol_file *b)
{
	return a->level == b->level && a->bytes == b->bytes && a->rows == b->rows &&
	       a->tombstones == b->tombstones && a->seq_min == b->seq_min &&
	       a->seq_max == b->seq_max && a->added_us == b->added_us &&
	       a->is_compact == b->is_compact && a->sketch && b->sketch &&
	       memcmp(a->sketch, b->sketch, STRATA_SKETCH_REGS) == 0;
}

static bool pol_gone_eq(const strata_pol_gone *a, const strata_pol_gone *b)
{
	return a->bytes == b->bytes && a->removed_version == b->removed_version &&
	       a->removed_us == b->removed_us && a->removed_kept_history == b->removed_kept_history &&
	       a->is_deleted == b->is_deleted && a->deleted_us == b->deleted_us;
}

/* The policies' verdicts on both inputs, bucket by bucket and for the
 * clean, at one now: the same due-ness, scores and texts. */
static void verdicts_agree(const ref_inputs *r, const d_plan_entries *e, const strata_policy *p,
			   int64_t now)
{
	size_t i = 0, nbuckets = 0;
	while (i < r->nlive) {
		size_t from = i;
		while (i < r->nlive && r->at[i][0] == r->at[from][0] && r->at[i][1] == r->at[from][1])
			i++;
		strata_pol_bucket in = {.files = &r->live[from], .nfiles = i - from, .retain_s = 0};
		strata_pol_bucket in2 = in;
		in2.files = &e->live[from];
		strata_pol_plan a, b;
		strata_pol_plan_bucket(&in, p, now, &a);
		strata_pol_plan_bucket(&in2, p, now, &b);
		CU_ASSERT_EQUAL(a.best, b.best);
		for (int k = 0; k < 3; k++) {
			CU_ASSERT_EQUAL(a.checks[k].is_due, b.checks[k].is_due);
			CU_ASSERT_DOUBLE_EQUAL(a.checks[k].score, b.checks[k].score, 1e-12);
			CU_ASSERT_STRING_EQUAL(a.checks[k].why, b.checks[k].why);
		}
		nbuckets++;
	}
	CU_ASSERT_EQUAL(nbuckets, NB);
	strata_pol_table ta = {.gone = r->gone, .ngone = r->ngone}, tb = ta;
	tb.gone = e->gone;
	tb.ngone = e->ngone;
	strata_pol_clean ca, cb;
	strata_pol_plan_clean(&ta, p, now, &ca);
	strata_pol_plan_clean(&tb, p, now, &cb);
	CU_ASSERT_EQUAL(ca.check.is_due, cb.check.is_due);
	CU_ASSERT_STRING_EQUAL(ca.check.why, cb.check.why);
	CU_ASSERT_EQUAL(cb.trash_files, r->ndeleted);
	CU_ASSERT_EQUAL(cb.trash_bytes, r->deleted_bytes);
	CU_ASSERT_EQUAL(cb.eligible + cb.in_grace + cb.in_retention, r->nremoved);
}

static void visit_and_inputs_agree(bool is_gone)
{
	jf f;
	build_tombstones(&f, is_gone);
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	strata_table_def td;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, f.table, &td, &err), 0);
	strata_file_entry *fs;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_files(snap, td.id, a, &fs, &n, &err), 0);
	/* visit: the listing's entries, in its order, field for field */
	collect c = {0};
	CU_ASSERT_EQUAL(strata_mf_table_visit(snap, td.id, collect_one, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, n);
	size_t kinds[5] = {0}; /* live, removed, trashed, gone, live above level 0 */
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT(brief_agrees(&fs[i], &c.v[i]));
		strata_file_entry whole; /* the whole entry from the brief */
		CU_ASSERT_EQUAL(strata_mf_brief_entry(&c.v[i], a, &whole), 0);
		CU_ASSERT(whole.id == fs[i].id && strcmp(whole.name, fs[i].name) == 0 &&
			  whole.key_max_len == fs[i].key_max_len &&
			  memcmp(whole.key_max, fs[i].key_max, fs[i].key_max_len) == 0 &&
			  whole.content_hash == fs[i].content_hash);
		kinds[fs[i].removed_version == 0 ? 0 : !fs[i].is_deleted ? 1 : fs[i].is_gone ? 3 : 2]++;
		kinds[4] += fs[i].removed_version == 0 && fs[i].level > 0;
		if (getenv("PLAN_DEBUG"))
			fprintf(stderr, "id %llu b %u l %u added %llu removed %llu kept %d del %d gone %d "
				"deleted_us %lld until %lld\n", (unsigned long long)fs[i].id, fs[i].bucket,
				fs[i].level, (unsigned long long)fs[i].added_version,
				(unsigned long long)fs[i].removed_version, fs[i].removed_kept_history,
				fs[i].is_deleted, fs[i].is_gone, (long long)fs[i].deleted_us,
				(long long)fs[i].trash_until_us);
	}
	fprintf(stderr, "\n%zu entries: %zu live (%zu above level 0), %zu removed, %zu trashed, "
		"%zu gone\n", n, kinds[0], kinds[4], kinds[1], kinds[2], kinds[3]);
	for (int k = 0; k < 5; k++)
		CU_ASSERT(kinds[k] > 0 || k == (is_gone ? 2 : 3));
	/* fn stops the visit with its own code */
	size_t seen = 0;
	CU_ASSERT_EQUAL(strata_mf_table_visit(snap, td.id, stop_at_three, &seen, &err), 42);
	CU_ASSERT_EQUAL(seen, 3);
	/* a bucket's visit is its slice of the table's, and its listing */
	uint32_t part = fs[0].part_id; /* unpartitioned: one partition */
	for (uint32_t b = 0; b < NB; b++) {
		collect cb = {0};
		CU_ASSERT_EQUAL(strata_mf_bucket_visit(snap, td.id, part, b, collect_one, &cb, &err), 0);
		strata_file_entry *bf;
		size_t bn;
		CU_ASSERT_EQUAL(strata_mf_bucket_files(snap, td.id, part, b, a, &bf, &bn, &err), 0);
		CU_ASSERT_EQUAL(cb.n, bn);
		for (size_t i = 0; i < bn && i < cb.n; i++)
			CU_ASSERT(brief_agrees(&bf[i], &cb.v[i]));
		free(cb.v);
	}
	/* inputs: what the policies get, the old way and the new */
	ref_inputs r;
	ref_build(fs, n, &r);
	d_plan_entries e;
	CU_ASSERT_EQUAL_FATAL(d_plan_entries_load(snap, td.id, NULL, true, &e, &err), 0);
	CU_ASSERT_EQUAL(e.nentries, n);
	CU_ASSERT_EQUAL_FATAL(e.nlive, r.nlive);
	CU_ASSERT_EQUAL_FATAL(e.ngone, r.ngone);
	for (size_t i = 0; i < r.nlive; i++) {
		CU_ASSERT(pol_file_eq(&r.live[i], &e.live[i]));
		CU_ASSERT(r.at[i][0] == e.live_at[i][0] && r.at[i][1] == e.live_at[i][1]);
	}
	for (size_t i = 0; i < r.ngone; i++)
		CU_ASSERT(pol_gone_eq(&r.gone[i], &e.gone[i]));
	/* the verdicts, with the defaults and with short windows (where removed
	 * files may go and the trash is due) */
	strata_policy p;
	strata_policy_default(&p);
	p.sort_min_files = 2;
	verdicts_agree(&r, &e, &p, strata_now_us());
	p.clean_grace_s = 0;
	p.clean_trash_s = 0;
	p.merge_fanout = 2;
	verdicts_agree(&r, &e, &p, strata_now_us() + 10 * 1000000LL);
	/* one bucket: its live files only, as the table's slice */
	uint32_t one[2] = {part, 2};
	d_plan_entries eb;
	CU_ASSERT_EQUAL(d_plan_entries_load(snap, td.id, one, false, &eb, &err), 0);
	CU_ASSERT_EQUAL(eb.ngone, 0);
	size_t from = 0;
	while (from < e.nlive && e.live_at[from][1] != 2)
		from++;
	for (size_t i = 0; i < eb.nlive; i++) {
		CU_ASSERT(from + i < e.nlive && e.live_at[from + i][1] == 2);
		CU_ASSERT(pol_file_eq(&eb.live[i], &e.live[from + i]));
	}
	CU_ASSERT(eb.nlive > 0);
	d_plan_entries_free(&eb);
	d_plan_entries_free(&e);
	ref_free(&r);
	free(c.v);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

static void test_visit_and_inputs_agree(void)
{
	visit_and_inputs_agree(false);
	visit_and_inputs_agree(true);
}

/* ---- the real stratad's plan ------------------------------------------------------------ */

/* `plan t` of a real stratad on the table of tombstones, with windows so
 * long that nothing is due (nothing runs meanwhile): the clean's "why" is
 * the one the policy gives the removed entries read whole, here; every
 * bucket has the files and bytes of its live entries and the merge verdict
 * they give. */
static void test_stratad_plan_of_tombstones(void)
{
	jf f;
	build_tombstones(&f, false);
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(tu_tmpdir(), whp, cfg, log, sock);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 3600\nworkers = 1\n"
		       "log_level = info\n[policy]\nsort.min_files = 1000\nsort.max_delay_s = 604800\n"
		       "merge.fanout = 64\ncompact.min_garbage_ratio = 1\ncompact.max_lag_s = 2592000\n"
		       "clean.grace_s = 2592000\nclean.trash_s = 2592000\nclean.orphan_scan_s = 0\n",
		       tu_wh_name(f.dir), sock);
	tu_clock_real(); /* the daemon's, and this process's from here */
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	json_t *rep = tud_admin(sock, "plan t");
	CU_ASSERT_PTR_NOT_NULL(rep);
	/* the reference, read whole after the plan (nothing was due: the
	 * version did not move) */
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	strata_table_def td;
	strata_file_entry *fs = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, f.table, &td, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_files(snap, td.id, a, &fs, &n, &err), 0);
	ref_inputs r;
	ref_build(fs, n, &r);
	strata_policy p;
	strata_policy_default(&p);
	p.sort_min_files = 1000;
	p.sort_max_delay_s = 604800;
	p.merge_fanout = 64;
	p.compact_min_garbage_ratio = 1;
	p.compact_max_lag_s = 2592000;
	p.clean_grace_s = p.clean_trash_s = 2592000;
	p.clean_orphan_scan_s = 0;
	strata_pol_table tin = {.gone = r.gone, .ngone = r.ngone};
	strata_pol_clean cp;
	strata_pol_plan_clean(&tin, &p, strata_now_us(), &cp);
	json_t *jt = json_array_get(json_object_get(rep, "tables"), 0);
	json_t *jc = json_object_get(jt, "clean");
	const char *why = json_string_value(json_object_get(jc, "why"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	if (strcmp(why, cp.check.why) != 0)
		fprintf(stderr, "\nstratad: %s\nhere:    %s\n", why, cp.check.why);
	CU_ASSERT_STRING_EQUAL(why, cp.check.why);
	CU_ASSERT(json_is_false(json_object_get(jc, "due")));
	char trashed[64];
	snprintf(trashed, sizeof(trashed), "0 of %zu trashed files", r.ndeleted);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, trashed));
	CU_ASSERT(r.ndeleted > 0);
	CU_ASSERT_EQUAL((uint64_t)json_integer_value(json_object_get(jt, "version")), td.version);
	/* every bucket: its live files, their bytes, the merge verdict */
	json_t *jb = json_object_get(jt, "buckets");
	CU_ASSERT_EQUAL(json_array_size(jb), NB);
	size_t i = 0, k = 0;
	while (i < r.nlive) {
		size_t from = i;
		uint64_t bytes = 0;
		for (; i < r.nlive && r.at[i][1] == r.at[from][1]; i++)
			bytes += r.live[i].bytes;
		json_t *o = json_array_get(jb, k++);
		CU_ASSERT_EQUAL((uint32_t)json_integer_value(json_object_get(o, "bucket")), r.at[from][1]);
		CU_ASSERT_EQUAL((size_t)json_integer_value(json_object_get(o, "files")), i - from);
		CU_ASSERT_EQUAL((uint64_t)json_integer_value(json_object_get(o, "bytes")), bytes);
		CU_ASSERT(json_is_null(json_object_get(o, "best")));
		strata_pol_bucket in = {.files = &r.live[from], .nfiles = i - from};
		strata_pol_plan pl;
		strata_pol_plan_bucket(&in, &p, strata_now_us(), &pl);
		json_t *merge = json_array_get(json_object_get(o, "checks"), 1);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(merge, "why")), pl.checks[1].why);
	}
	ref_free(&r);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	json_decref(rep);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	jf_close(&f);
	tu_clock_real();
}

static void register_plan(void)
{
	CU_pSuite s = CU_add_suite("plan", NULL, NULL);
	TU_ADD(s, test_brief_decode_agrees);
	TU_ADD(s, test_visit_and_inputs_agree);
	TU_ADD(s, test_stratad_plan_of_tombstones);
}

TU_MAIN(register_plan)
