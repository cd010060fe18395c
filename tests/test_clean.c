/*
 * tests/test_clean.c — auto-clean and purge: the grace period from logical
 * removal (manual clock), the two phases (marked deleted and moved to
 * .trash, unlinked after trash_s, then forgotten or kept as a tombstone
 * while a floor raise's file set includes it), leases and tags as a horizon,
 * retention of major compaction inputs, crash safety between the phases,
 * orphans (junk and stale temp files by mtime, intents and known files
 * untouched), version-log expiry (tagged versions survive), purge, and I/O
 * faults during a clean (the next clean finishes the job).
 *
 * The invariant checked throughout: the manifest never names a file that is
 * missing, and a version whose files are gone fails with the retention
 * error, never with a missing file half-way through a read.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COLS "pk BIGINT NOT NULL PRIMARY KEY, v STRING, n BIGINT"
#define SEC 1000000LL

/* ---- helpers ------------------------------------------------------------------ */

static int clean(jf *f, int64_t grace_s, int64_t trash_s, int64_t orphan_age_s,
		 strata_clean_result *r, strata_err *err)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = grace_s;
	o.trash_s = trash_s;
	o.orphan_age_s = orphan_age_s;
	strata_clean_result tmp;
	strata_err etmp;
	if (!err)
		err = &etmp;
	strata_err_clear(err);
	int rc = strata_clean_table(f->wh, f->table, &o, r ? r : &tmp, err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err->msg);
	return rc;
}

static void disk_ok(jf *f, uint32_t b)
{
	char why[512];
	int rc = jf_disk_check(f, b, why, sizeof(why));
	if (rc)
		fprintf(stderr, "\ndisk check: %s\n", why);
	CU_ASSERT_EQUAL(rc, 0);
}

static const strata_file_entry *find_entry(const strata_file_entry *es, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (es[i].id == id)
			return &es[i];
	return NULL;
}

/* Ids of the removed (not deleted) entries of bucket 0. */
static size_t removed_ids(jf *f, strata_arena *a, uint64_t **ids)
{
	strata_file_entry *es;
	size_t n = jf_entries(f, 0, a, &es), k = 0;
	*ids = strata_arena_alloc(a, (n + 1) * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		if (es[i].removed_version && !es[i].is_deleted)
			(*ids)[k++] = es[i].id;
	return k;
}

/* Whether a data file exists: a local file, or an object with data on
 * object storage (tests/s3/s3-clean). */
static bool exists(const char *p)
{
	strata_data_stat st;
	strata_err err;
	return strata_data_stat_path(p, &st, &err) == 0;
}

/* Each of ids[0..n) is marked deleted and its file is still in its bucket
 * (a clean committed its marks, and no move happened yet). */
static void expect_marked_in_place(jf *f, strata_arena *a, const uint64_t *ids, size_t n)
{
	strata_file_entry *es;
	size_t ne = jf_entries(f, 0, a, &es);
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *e = find_entry(es, ne, ids[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_TRUE(e->is_deleted);
		char p[PATH_MAX];
		jf_file_path(f, e, p, sizeof(p));
		CU_ASSERT_TRUE(exists(p));
	}
}

/* Whether the file of bucket 0 at p is still in its bucket: locally it
 * exists there; on object storage (no rename) its object exists and its
 * entry is not marked deleted (marked, the object is in the trash). */
static bool in_bucket(jf *f, const char *p)
{
	if (!tu_wh_is_s3())
		return exists(p);
	const char *base = strrchr(p, '/') + 1;
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t n = jf_entries(f, 0, a, &es);
	bool is_deleted = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(es[i].name, base) == 0)
			is_deleted = es[i].is_deleted;
	strata_arena_free(a);
	return exists(p) && !is_deleted;
}

/* Where entry e is while in the trash: <table>/.trash/<deleted_us>-<id>-
 * <name>, or, on object storage, its own object. */
static void trash_path_of(jf *f, const strata_file_entry *e, char *out, size_t n)
{
	if (tu_wh_is_s3()) {
		jf_file_path(f, e, out, n);
		return;
	}
	char t[PATH_MAX];
	jf_trash_dir(f, t, sizeof(t));
	snprintf(out, n, "%s/%lld-%llu-%s", t, (long long)e->deleted_us, (unsigned long long)e->id,
		 e->name);
}

static void expect_retention_error(jf *f, uint64_t v)
{
	strata_read_opts ro = {.as_of_version = v};
	int rc;
	strata_err err;
	char *d = jf_dump(f, &ro, &rc, &err);
	if (rc != STRATA_ERETENTION)
		fprintf(stderr, "\nread at %llu: rc %d (%s)\n", (unsigned long long)v, rc, d);
	CU_ASSERT_EQUAL(rc, STRATA_ERETENTION);
	CU_ASSERT(strstr(err.msg, "outside the retention window") != NULL);
	free(d);
}

/* Three commits of overlapping keys. */
static void write3(jf *f)
{
	jf_put(f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}\n{\"pk\":3,\"v\":\"c\"}");
	jf_put(f, "{\"pk\":1,\"v\":\"a2\"}\n{\"pk\":2,\"_op\":\"delete\"}");
	jf_put(f, "{\"pk\":3,\"v\":\"c3\"}\n{\"pk\":4,\"v\":\"d\"}");
}

static void job_ok(jf *f, jf_kind k, strata_job_result *res)
{
	strata_err err;
	strata_job_result tmp;
	int rc = jf_job(f, 0, k, NULL, NULL, res ? res : &tmp, &err);
	if (rc)
		fprintf(stderr, "\n%s: rc %d: %s\n", jf_kind_name(k), rc, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* ---- grace, trash, forget ------------------------------------------------------ */

static void test_grace_trash_forget(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *l0;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &l0), 3);
	job_ok(&f, JF_SORT, NULL); /* removes the three row files now */
	char paths[3][PATH_MAX];
	for (int i = 0; i < 3; i++)
		jf_file_path(&f, &l0[i], paths[i], sizeof(paths[i]));

	strata_clean_result r;
	/* inside grace: kept, nothing committed */
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_grace, 3);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	CU_ASSERT_EQUAL(r.version, 0);
	tu_clock_advance(299 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_grace, 3);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_TRUE(exists(paths[i]));
	/* grace over: marked deleted in one commit, moved to the trash */
	tu_clock_advance(1 * SEC);
	uint64_t v0 = jf_version(&f);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 3);
	CU_ASSERT_EQUAL(r.version, v0 + 1);
	CU_ASSERT_EQUAL(r.trash_files, 3);
	CU_ASSERT_EQUAL(r.files_unlinked, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 3);
	strata_file_entry *es;
	size_t n = jf_entries(&f, 0, a, &es);
	CU_ASSERT_EQUAL(n, 4);
	for (int i = 0; i < 3; i++) {
		const strata_file_entry *e = find_entry(es, n, l0[i].id);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_TRUE(e->is_deleted);
		CU_ASSERT_EQUAL(e->deleted_us, strata_now_us());
		char tp[PATH_MAX];
		trash_path_of(&f, e, tp, sizeof(tp));
		CU_ASSERT_FALSE(in_bucket(&f, paths[i]));
		CU_ASSERT_TRUE(exists(tp));
	}
	disk_ok(&f, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0); /* the sort kept all history */
	/* trash_s after the deletion: unlinked, then the entries are forgotten */
	tu_clock_advance(3599 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 3);
	tu_clock_advance(1 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, 3);
	CU_ASSERT_EQUAL(r.trash_files, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	n = jf_entries(&f, 0, a, &es);
	CU_ASSERT_EQUAL(n, 1); /* only the sorted file: the others are forgotten */
	CU_ASSERT_EQUAL(es[0].removed_version, 0);
	disk_ok(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Inputs of a floor raise stay as tombstones after their files are gone:
 * reads below the floor then fail with the retention error. */
static void test_tombstones_of_floor_raise(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);                                       /* 2..4 */
	job_ok(&f, JF_SORT, NULL);                        /* 5 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"a6\"}");            /* 6; boundary 5 */
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *before;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &before), 2);
	uint64_t sorted_id = before[0].id;
	strata_job_result res;
	job_ok(&f, JF_PARTIAL, &res);                     /* 7, floor 5 */
	strata_clean_result r;
	tu_clock_advance(301 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 4); /* the sort's 3 inputs and the partial's */
	CU_ASSERT_EQUAL(r.files_unlinked, 4);
	strata_file_entry *es;
	size_t n = jf_entries(&f, 0, a, &es);
	const strata_file_entry *t = find_entry(es, n, sorted_id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_TRUE(t->is_deleted); /* kept: the floor raise's set includes it */
	char p[PATH_MAX];
	jf_file_path(&f, t, p, sizeof(p));
	CU_ASSERT_FALSE(exists(p));
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	disk_ok(&f, 0);
	/* the sort's inputs were not in any floor raise's set: forgotten */
	CU_ASSERT_EQUAL(n, 3); /* partial output, row file 6, the tombstone */
	for (uint64_t v = 2; v < 5; v++)
		expect_retention_error(&f, v);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 5, 0), 0);
	/* that clean also expired the log below the retention boundary (5), so
	 * the raise's interval is unreadable anyway: the next clean trims the
	 * raise and forgets the tombstone, and versions 2..4 still fail cleanly */
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	n = jf_entries(&f, 0, a, &es);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_PTR_NULL(find_entry(es, n, sorted_id));
	for (uint64_t v = 2; v < 5; v++)
		expect_retention_error(&f, v);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 5, 0), 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- leases --------------------------------------------------------------------- */

/* One bucket, three row files (versions 2..4) sorted into one columnar file
 * (5), on the test clock; *t its table. */
static void three_sorted(jf *f, strata_table_def *t)
{
	tu_clock_manual(JF_T0_US);
	jf_open(f, COLS, 1, 1);
	write3(f);                /* 2..4 */
	job_ok(f, JF_SORT, NULL); /* 5 */
	jf_def(f, t);
}

static void test_leases(void)
{
	jf f;
	strata_table_def t;
	three_sorted(&f, &t);
	strata_mf *mf = strata_wh_mf(f.wh);
	strata_err err;
	uint64_t lease_old, lease_new, lease_short;
	/* a reader that resolved the set of version 3 (row files live) */
	CU_ASSERT_EQUAL_FATAL(strata_mf_lease_take(mf, t.id, 3, 3600 * SEC, &lease_old, &err), 0);
	/* one at version 5 needs only the sorted file */
	CU_ASSERT_EQUAL_FATAL(strata_mf_lease_take(mf, t.id, 5, 3600 * SEC, &lease_new, &err), 0);
	tu_clock_advance(600 * SEC);
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 1); /* the row file of 4 was not live at 3 */
	CU_ASSERT_EQUAL(r.kept_lease, 2);    /* those of versions 2 and 3 */
	CU_ASSERT_EQUAL(r.kept_grace, 0);
	strata_mf_lease_release(mf, lease_old);
	/* an expired lease is no lease */
	CU_ASSERT_EQUAL_FATAL(strata_mf_lease_take(mf, t.id, 2, 60 * SEC, &lease_short, &err), 0);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_lease, 1);
	CU_ASSERT_EQUAL(r.files_deleted, 1);
	tu_clock_advance(61 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_lease, 0);
	CU_ASSERT_EQUAL(r.files_deleted, 1);
	disk_ok(&f, 0);
	strata_mf_lease_release(mf, lease_new);
	strata_mf_lease_release(mf, lease_short);
	jf_close(&f);
	tu_clock_real();
}

/* A reader whose lease came between a clean's plan and its marking: the
 * marked files it covers stay in their bucket (marked_in_place), and the
 * next clean, once the lease is gone, moves them.  Before the fix nothing
 * told stratad, whose next clean came clean.trash_s later: files marked
 * deleted sat in their buckets (test_daemon's steady state saw 110). */
static strata_mf *during_mf;
static uint32_t during_table;
static uint64_t during_lease, during_version;

/* After the commit that made a new version (the marking: the claim's
 * commits make none), once. */
static void lease_after_marking(bool is_after, int rc)
{
	if (!is_after || rc || during_lease)
		return;
	strata_err e;
	strata_mf_snap *snap;
	strata_table_def t;
	if (strata_mf_snap_open(during_mf, &snap, &e) != 0)
		return;
	int grc = strata_mf_table_get(snap, "t", &t, &e);
	strata_mf_snap_close(snap);
	if (grc == 0 && t.version > during_version)
		CU_ASSERT_EQUAL(strata_mf_lease_take(during_mf, during_table, 3, 3600 * SEC,
						     &during_lease, &e),
				0);
}

static void test_lease_taken_during_clean(void)
{
	if (tu_wh_is_s3()) {
		tu_skip("objects are not moved: an object in the trash is its entry's state");
		return;
	}
	jf f;
	strata_table_def t;
	three_sorted(&f, &t);
	tu_clock_advance(600 * SEC);
	during_mf = strata_wh_mf(f.wh);
	during_table = t.id;
	during_version = t.version;
	during_lease = 0;
	strata_mf_commit_hook = lease_after_marking;
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	strata_mf_commit_hook = NULL;
	CU_ASSERT(r.version > 0);
	CU_ASSERT_EQUAL(r.kept_lease, 0);       /* no lease at the plan */
	CU_ASSERT_EQUAL(r.marked_in_place, 2);  /* the row files of 2 and 3 */
	CU_ASSERT_EQUAL(r.files_deleted, 1);    /* that of 4 was moved */
	CU_ASSERT_EQUAL(jf_trash_count(&f), 1);
	/* the reader is done: the next clean moves them */
	strata_mf_lease_release(during_mf, during_lease);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.marked_in_place, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 3);
	disk_ok(&f, 0);
	jf_close(&f);
	tu_clock_real();
}

/* A scan in progress holds its files through clean. */
static void test_scan_lease_holds(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);
	strata_read_opts ro = {.as_of_version = 3};
	char *want = jf_dump(&f, &ro, NULL, NULL);
	strata_scan *s;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(f.wh, f.table, &ro, &s, &err), 0);
	job_ok(&f, JF_MAJOR_DROP, NULL);
	tu_clock_advance(600 * SEC);
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 0, 0, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	CU_ASSERT(r.kept_lease > 0);
	/* the open scan still reads its files */
	strata_buf b = {0};
	const strata_schema *sc = strata_scan_schema(s);
	strata_buf_printf(&b, "columns:");
	for (uint32_t i = 0; i < sc->ncols; i++)
		strata_buf_printf(&b, " %s", sc->cols[i].name);
	strata_buf_putc(&b, '\n');
	const strata_row *row;
	int rc;
	while ((rc = strata_scan_next(s, &row, NULL, &err)) == 1) {
		strata_row_to_json(sc, row, true, &b);
		strata_buf_putc(&b, '\n');
	}
	CU_ASSERT_EQUAL(rc, 0);
	strata_buf_putc(&b, 0);
	CU_ASSERT_STRING_EQUAL((char *)b.data, want);
	strata_buf_free(&b);
	strata_scan_close(s);
	/* closed: the next clean takes the files */
	CU_ASSERT_EQUAL(clean(&f, 0, 0, -1, &r, NULL), 0);
	CU_ASSERT(r.files_deleted > 0);
	expect_retention_error(&f, 3);
	disk_ok(&f, 0);
	free(want);
	jf_close(&f);
	tu_clock_real();
}

/* ---- tags ----------------------------------------------------------------------- */

static void test_tags(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);                /* 2..4 */
	job_ok(&f, JF_SORT, NULL); /* 5 */
	jf_put(&f, "{\"pk\":4,\"_op\":\"delete\"}\n{\"pk\":5,\"v\":\"e\"}"); /* 6 */
	strata_mf *mf = strata_wh_mf(f.wh);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(mf, f.table, "snap", 3, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, f.table, "snap", 4, &err), STRATA_EEXIST);
	strata_read_opts by_tag = {.as_of_tag = "snap"};
	char *want = jf_dump_at(&f, 3, NULL);
	char *d = jf_dump(&f, &by_tag, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(d, want);
	free(d);

	/* partial compaction never goes above the oldest tag */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"a8\"}"); /* 7 */
	strata_bucket_view v;
	strata_job_plan plan;
	jf_plan(&f, 0, JF_PARTIAL, NULL, &v, &plan);
	CU_ASSERT_EQUAL(v.retain_boundary, 6);
	CU_ASSERT_EQUAL(v.oldest_tag, 3);
	CU_ASSERT_EQUAL(plan.boundary, 3);
	strata_bucket_view_free(&v);
	job_ok(&f, JF_PARTIAL, NULL);          /* floor 3 */
	/* major compaction dropping history: the tag keeps the files of 3 */
	job_ok(&f, JF_MAJOR_DROP, NULL);
	strata_clean_result r;
	tu_clock_advance(600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, &r, NULL), 0);
	CU_ASSERT(r.kept_tag > 0);
	d = jf_dump(&f, &by_tag, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(d, want);
	free(d);
	disk_ok(&f, 0);
	/* far beyond retention, after more writes and cleans, still readable */
	tu_clock_advance(48 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":9,\"v\":\"i\"}");
	job_ok(&f, JF_MAJOR_DROP, NULL);
	tu_clock_advance(600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 0, 0, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.orphans, 0);
	d = jf_dump(&f, &by_tag, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(d, want);
	free(d);
	/* the tagged version stays in the log; its neighbours went */
	strata_mf_snap *snap;
	strata_table_def t;
	strata_version_rec vr;
	strata_arena *a = strata_arena_new();
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, f.table, &t, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 3, a, &vr, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 4, a, &vr, &err), STRATA_ENOTFOUND);
	strata_mf_snap_close(snap);
	CU_ASSERT(t.log_start > 3);
	/* tag deleted: the next clean takes its files, the tag reads fail */
	CU_ASSERT_EQUAL(strata_mf_tag_del(mf, f.table, "snap", &err), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_del(mf, f.table, "snap", &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, &r, NULL), 0);
	CU_ASSERT(r.files_deleted > 0);
	CU_ASSERT_EQUAL(r.kept_tag, 0);
	int rc;
	d = jf_dump(&f, &by_tag, &rc, &err);
	CU_ASSERT_EQUAL(rc, STRATA_ENOTFOUND);
	free(d);
	expect_retention_error(&f, 3);
	disk_ok(&f, 0);
	free(want);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- retention ------------------------------------------------------------------ */

static void test_retention(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);                /* 2..4 */
	job_ok(&f, JF_SORT, NULL); /* 5: inputs go after grace */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":2,\"v\":\"b6\"}");               /* 6 */
	job_ok(&f, JF_PARTIAL, NULL);                        /* 7: boundary 5 */
	jf_put(&f, "{\"pk\":3,\"_op\":\"delete\"}");         /* 8 */
	strata_job_result mres;
	job_ok(&f, JF_MAJOR, &mres);                         /* 9: keeps history */
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t n = jf_entries(&f, 0, a, &es);
	size_t major_inputs = 0;
	for (size_t i = 0; i < n; i++)
		major_inputs += es[i].removed_version == mres.version;
	CU_ASSERT_EQUAL(major_inputs, 3); /* partial output, row files 6 and 8 */

	tu_clock_advance(301 * SEC);
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 4); /* sort and partial inputs */
	CU_ASSERT_EQUAL(r.kept_retention, 3);
	/* every version inside the window still reads the same */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 5, 0), 0);
	/* one second before the compaction's commit leaves the window: kept */
	strata_mf_snap *snap;
	strata_table_def t;
	strata_version_rec vr;
	strata_err verr;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &verr), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, f.table, &t, &verr), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_version_get(snap, t.id, mres.version, a, &vr, &verr), 0);
	strata_mf_snap_close(snap);
	tu_clock_manual(vr.ts_us + JF_HOUR_US - SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_retention, 3);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 8, 0), 0);
	/* the major compaction's version leaves the window: its inputs go */
	tu_clock_manual(vr.ts_us + JF_HOUR_US);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.kept_retention, 0);
	CU_ASSERT_EQUAL(r.files_deleted, 3);
	uint64_t er = 0, ei = 0;
	strata_err err;
	CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
	CU_ASSERT_EQUAL(er, mres.version); /* the retention boundary */
	for (uint64_t v = er; v <= h.n; v++) {
		char *d = jf_dump_at(&f, v, NULL);
		CU_ASSERT_STRING_EQUAL(d, h.d[v]);
		free(d);
	}
	for (uint64_t v = 2; v < er; v++)
		expect_retention_error(&f, v);
	disk_ok(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- two phases, crash safety ----------------------------------------------------- */

/* Sort inputs (forgettable) and a partial compaction's input (a tombstone
 * later), all past grace. */
static void two_phase_fixture(jf *f)
{
	tu_clock_manual(JF_T0_US);
	jf_open(f, COLS, 1, 1);
	write3(f);                                 /* 2..4 */
	job_ok(f, JF_SORT, NULL);                  /* 5 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(f, "{\"pk\":1,\"v\":\"a6\"}");      /* 6 */
	job_ok(f, JF_PARTIAL, NULL);               /* 7, floor 5 */
	tu_clock_advance(600 * SEC);
}

static void test_crash_between_mark_and_trash(void)
{
	jf f;
	two_phase_fixture(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	uint64_t *ids;
	size_t n = removed_ids(&f, a, &ids);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	strata_table_def t;
	jf_def(&f, &t);
	uint64_t ver = 0;
	size_t skipped = 9;
	strata_err err;
	/* phase 1 only, as if clean crashed right after its commit */
	CU_ASSERT_EQUAL_FATAL(strata_mf_commit_clean(strata_wh_mf(f.wh), t.id, ids, n, &ver, &skipped,
						     &err),
			      0);
	CU_ASSERT_EQUAL(ver, h.n + 1);
	CU_ASSERT_EQUAL(skipped, 0);
	/* the files are still there, but no read resolves to them any more */
	expect_marked_in_place(&f, a, ids, n);
	for (uint64_t v = 2; v < 5; v++)
		expect_retention_error(&f, v);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 5, 0), 0);
	/* marking again is a no-op */
	CU_ASSERT_EQUAL(strata_mf_commit_clean(strata_wh_mf(f.wh), t.id, ids, n, &ver, &skipped, &err),
			0);
	CU_ASSERT_EQUAL(ver, 0);
	CU_ASSERT_EQUAL(skipped, 4);
	/* the next clean finishes: the marked files move to the trash (on
	 * object storage the marking was the move: nothing is left to do) */
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.version, 0);
	CU_ASSERT_EQUAL(r.files_deleted, tu_wh_is_s3() ? 0 : 4);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 4);
	disk_ok(&f, 0);
	strata_file_entry *es;
	size_t ne = jf_entries(&f, 0, a, &es);
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *e = find_entry(es, ne, ids[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		char tp[PATH_MAX];
		trash_path_of(&f, e, tp, sizeof(tp));
		CU_ASSERT_TRUE(exists(tp));
	}
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 5, 0), 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

static void test_crash_between_unlink_and_forget(void)
{
	jf f;
	two_phase_fixture(&f);
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 4);
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	/* 3 row files and the sorted file (deleted), row file 6, the output */
	CU_ASSERT_EQUAL(jf_entries(&f, 0, a, &es), 6);
	/* the trash emptied, the process gone before it forgot the entries */
	char trash[PATH_MAX];
	jf_trash_dir(&f, trash, sizeof(trash));
	if (tu_wh_is_s3()) {
		/* on object storage the trash is the deleted entries' objects */
		size_t ne = jf_entries(&f, 0, a, &es);
		for (size_t i = 0; i < ne; i++) {
			char p[PATH_MAX];
			jf_file_path(&f, &es[i], p, sizeof(p));
			strata_err derr;
			if (es[i].is_deleted)
				CU_ASSERT_EQUAL(strata_data_remove(p, &derr), 0);
		}
	} else {
		tu_rmtree(trash);
	}
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	jf_hist h;
	jf_hist_take(&f, &h);
	/* a clean unlinks a trashed file only past its window, and asks
	 * nothing before (clean.c invariant 9: inside the window a file not
	 * in its bucket is in the trash): the crash it can leave is past the
	 * window (trash_s 0 here), where locally a stat finds the trash path
	 * empty, and on object storage the DELETE of the missing objects
	 * succeeds (and counts: no HEAD tells them apart) */
	bool is_s3 = tu_wh_is_s3();
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	CU_ASSERT_EQUAL(r.files_unlinked, is_s3 ? 4 : 0);
	/* every deleted entry forgotten: the sort's three inputs at once, the
	 * partial's input too, because its floor raise's interval lies below
	 * the log start the first clean set (nothing there is readable) */
	size_t n = jf_entries(&f, 0, a, &es);
	CU_ASSERT_EQUAL(n, 2);
	size_t tombstones = 0;
	for (size_t i = 0; i < n; i++)
		tombstones += es[i].is_deleted;
	CU_ASSERT_EQUAL(tombstones, 0);
	disk_ok(&f, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	for (uint64_t v = 2; v < 5; v++)
		expect_retention_error(&f, v);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- orphans ----------------------------------------------------------------------- */

static void touch(const char *path, int64_t mtime_s)
{
	/* a local file only: an object path would become a directory "s3:" */
	CU_ASSERT_FATAL(!strata_data_is_remote(path));
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, "junk", 4), 0);
	struct timespec ts[2] = {{.tv_sec = mtime_s}, {.tv_sec = mtime_s}};
	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void set_mtime(const char *path, int64_t mtime_s)
{
	struct timespec ts[2] = {{.tv_sec = mtime_s}, {.tv_sec = mtime_s}};
	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Orphans are made here as local files with chosen times: on object
 * storage (no times to choose) test_store covers the scan by listing. */
static bool skip_local_only(const char *what)
{
	if (!tu_wh_is_s3())
		return false;
	char why[256];
	snprintf(why, sizeof(why), "%s: local files only (object storage: test_store)", what);
	tu_skip(why);
	return true;
}

/* Step 3 fsyncs each directory files left once, not once per file: a
 * clean of 1,100 files made 1,100 journal commits that writers' fsyncs
 * queued behind (bench_daemon at twice its rate stalled for a second). */
static void test_trash_fsyncs_each_dir_once(void)
{
	if (skip_local_only("counts directory fsyncs"))
		return;
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);
	write3(&f);
	strata_arena *a = strata_arena_new();
	strata_file_entry *l0;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &l0), 6);
	char dir[PATH_MAX];
	jf_file_path(&f, &l0[0], dir, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	job_ok(&f, JF_SORT, NULL);
	tu_clock_advance(301 * SEC);
	strata_clean_result r;
	tu_fault_arm(TU_OP_FSYNC, 0, 0, false); /* count only */
	int rc = clean(&f, 300, 3600, -1, &r, NULL);
	int dir_fsyncs = tu_fault_fsync_count(dir);
	tu_fault_disarm();
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.files_deleted, 6);
	CU_ASSERT_EQUAL(dir_fsyncs, 1);
	jf_close(&f);
	strata_arena_free(a);
	tu_clock_real();
}

static void check_ok(jf *f); /* strata_mf_check() passes (below) */

/* Every stat() and opendir() path under one directory, through the I/O
 * vtable (tomb_io_arm .. tomb_io_disarm). */
static char tomb_under[PATH_MAX];
static char **tomb_stats, **tomb_lists;
static size_t tomb_nstats, tomb_nlists;

static void tomb_log(char ***v, size_t *n, const char *p)
{
	if (strncmp(p, tomb_under, strlen(tomb_under)) != 0)
		return;
	*v = strata_realloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = strata_strdup(p);
}

static int tomb_stat(const char *p, struct stat *st)
{
	tomb_log(&tomb_stats, &tomb_nstats, p);
	return strata_io_system.stat(p, st);
}

static DIR *tomb_opendir(const char *p, int *err)
{
	tomb_log(&tomb_lists, &tomb_nlists, p);
	return strata_io_system.opendir(p, err);
}

static void tomb_io_arm(const char *under)
{
	static strata_io_ops ops;
	ops = strata_io_system;
	ops.stat = tomb_stat;
	ops.opendir = tomb_opendir;
	snprintf(tomb_under, sizeof(tomb_under), "%s", under);
	strata_io_set(&ops);
}

static size_t tomb_count(char **v, size_t n, const char *p)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += strcmp(v[i], p) == 0;
	return k;
}

static void tomb_io_disarm(void)
{
	strata_io_set(NULL);
	for (size_t i = 0; i < tomb_nstats; i++)
		free(tomb_stats[i]);
	for (size_t i = 0; i < tomb_nlists; i++)
		free(tomb_lists[i]);
	free(tomb_stats);
	free(tomb_lists);
	tomb_stats = tomb_lists = NULL;
	tomb_nstats = tomb_nlists = 0;
}

/* Four sorts of three row files each: twelve removed entries. */
static void removed_batch(jf *f)
{
	for (int i = 0; i < 4; i++) {
		write3(f);
		job_ok(f, JF_SORT, NULL);
	}
}

/* A clean's cost must not grow with the trash: under sustained ingest a
 * table holds clean.trash_s worth of tombstones (a million at the
 * defaults), and every run stat()ed the bucket path and the trash path of
 * each (clean/clean.c, "Looking for a marked file").  Here a run over
 * tombstones inside their window looks at none of their paths and lists
 * the bucket once, and still: it forgets the tombstones past their window
 * (their files unlinked), moves into the trash the files left in their
 * bucket by an interrupted run (a failed rename) and by a hand, counts the
 * trash, and leaves a table that passes the check. */
static void test_tombstones_in_window_not_looked_at(void)
{
	if (skip_local_only("counts stat() calls of the local trash"))
		return;
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	strata_arena *a = strata_arena_new();
	strata_clean_result r;
	/* A: marked and trashed at tA, past the window at the counted run */
	removed_batch(&f);
	uint64_t *ids_a;
	size_t na = removed_ids(&f, a, &ids_a);
	CU_ASSERT_FATAL(na >= 12);
	tu_clock_advance(301 * SEC);
	CU_ASSERT_EQUAL_FATAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, na);
	/* B: marked and trashed 3,301 s later, inside the window then */
	tu_clock_advance(3000 * SEC);
	removed_batch(&f);
	uint64_t *ids_b;
	size_t nb = removed_ids(&f, a, &ids_b);
	CU_ASSERT_FATAL(nb >= 12);
	tu_clock_advance(301 * SEC);
	CU_ASSERT_EQUAL_FATAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, nb);
	/* C: marked by a clean whose step 3 fails at its first move: the
	 * files stay in their bucket, their entries marked deleted */
	write3(&f);
	job_ok(&f, JF_SORT, NULL);
	uint64_t *ids_c;
	size_t nc = removed_ids(&f, a, &ids_c);
	CU_ASSERT_FATAL(nc >= 3);
	tu_fault_arm(TU_OP_RENAME, 1, EIO, false);
	strata_err err;
	int rc = clean(&f, 0, 3600, -1, &r, &err);
	bool fired = tu_fault_fired();
	tu_fault_disarm();
	CU_ASSERT_TRUE(fired);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT(strstr(err.msg, "to the trash") != NULL);
	expect_marked_in_place(&f, a, ids_c, nc);
	strata_file_entry *es;
	size_t ne = jf_entries(&f, 0, a, &es);
	/* one of B back in its bucket by hand (as a crashed undelete leaves it) */
	const strata_file_entry *back = find_entry(es, ne, ids_b[0]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	char back_path[PATH_MAX], back_trash[PATH_MAX];
	jf_file_path(&f, back, back_path, sizeof(back_path));
	trash_path_of(&f, back, back_trash, sizeof(back_trash));
	CU_ASSERT_EQUAL_FATAL(rename(back_trash, back_path), 0);
	/* the counted run: A is 3,700 s old (past the window), B 399 s */
	tu_clock_advance(399 * SEC);
	char tdir[PATH_MAX], bdir[PATH_MAX];
	snprintf(tdir, sizeof(tdir), "%s/data/%s/", f.dir, f.table);
	jf_bucket_dir(&f, 0, bdir, sizeof(bdir));
	tomb_io_arm(tdir);
	rc = clean(&f, 300, 3600, -1, &r, &err);
	/* which paths of B's tombstones and of C's entries were stat()ed */
	size_t looked = 0, stats_a = 0;
	for (size_t i = 0; i < nb + nc; i++) {
		const strata_file_entry *e = find_entry(es, ne, i < nb ? ids_b[i] : ids_c[i - nb]);
		CU_ASSERT_PTR_NOT_NULL(e);
		if (!e)
			continue;
		char p[PATH_MAX], tp[PATH_MAX];
		jf_file_path(&f, e, p, sizeof(p));
		trash_path_of(&f, e, tp, sizeof(tp));
		size_t k = tomb_count(tomb_stats, tomb_nstats, p) +
			   tomb_count(tomb_stats, tomb_nstats, tp);
		if (k && looked == 0)
			fprintf(stderr, "\nstat() of a tombstone inside its window: %s\n", p);
		looked += k;
	}
	for (size_t i = 0; i < na; i++) {
		const strata_file_entry *e = find_entry(es, ne, ids_a[i]);
		CU_ASSERT_PTR_NOT_NULL(e); /* not fatal: the vtable is still armed */
		if (!e)
			continue;
		char tp[PATH_MAX];
		trash_path_of(&f, e, tp, sizeof(tp));
		stats_a += tomb_count(tomb_stats, tomb_nstats, tp);
	}
	size_t nstats = tomb_nstats, bucket_lists = tomb_count(tomb_lists, tomb_nlists, bdir);
	tomb_io_disarm();
	if (rc)
		fprintf(stderr, "\ncounted clean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(looked, 0);
	CU_ASSERT_EQUAL(bucket_lists, 1); /* one listing, for both passes */
	/* A's files: a stat each to unlink (step 0), one to find them gone */
	CU_ASSERT(stats_a <= 2 * na);
	CU_ASSERT(nstats < 2 * na + 16);
	/* A unlinked and forgotten; C and the hand-moved file in the trash */
	CU_ASSERT_EQUAL(r.files_unlinked, na);
	CU_ASSERT_EQUAL(r.files_deleted, nc + 1);
	CU_ASSERT_EQUAL(r.trash_files, nb + nc);
	CU_ASSERT_EQUAL(jf_trash_count(&f), (int)(nb + nc));
	ne = jf_entries(&f, 0, a, &es);
	for (size_t i = 0; i < na; i++)
		CU_ASSERT_PTR_NULL(find_entry(es, ne, ids_a[i]));
	for (size_t i = 0; i < nb + nc; i++) {
		const strata_file_entry *e = find_entry(es, ne, i < nb ? ids_b[i] : ids_c[i - nb]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_TRUE(e->is_deleted);
		char p[PATH_MAX], tp[PATH_MAX];
		jf_file_path(&f, e, p, sizeof(p));
		trash_path_of(&f, e, tp, sizeof(tp));
		CU_ASSERT_FALSE(exists(p));
		CU_ASSERT_TRUE(exists(tp));
	}
	disk_ok(&f, 0);
	check_ok(&f);
	/* and past B's window they go the same way */
	tu_clock_advance(3600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, nb + nc);
	CU_ASSERT_EQUAL(r.trash_files, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	ne = jf_entries(&f, 0, a, &es);
	for (size_t i = 0; i < ne; i++)
		CU_ASSERT_FALSE(es[i].is_deleted);
	disk_ok(&f, 0);
	check_ok(&f);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

static void test_orphans(void)
{
	if (skip_local_only("orphans made with chosen mtimes"))
		return;
	/* the manual clock runs at the wall clock, so file mtimes agree with it */
	int64_t now_s = (int64_t)time(NULL) + 10;
	tu_clock_manual(now_s * SEC);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);
	job_ok(&f, JF_SORT, NULL);
	strata_table_def t;
	jf_def(&f, &t);
	char b0[PATH_MAX], part[PATH_MAX], p[PATH_MAX + 64];
	jf_bucket_dir(&f, 0, b0, sizeof(b0));
	snprintf(part, sizeof(part), "%s/data/%s/_", f.dir, f.table);
	int64_t age = 86400, old = now_s - age - 100;
	/* orphans: junk, a stale temp file, a stray file one level up */
	snprintf(p, sizeof(p), "%s/junk.bin", b0);
	touch(p, old);
	snprintf(p, sizeof(p), "%s/w00ff00ff00ff00ff.avro.tmp.12345.0", b0);
	touch(p, old);
	snprintf(p, sizeof(p), "%s/stray.txt", part);
	touch(p, old);
	/* not orphans: a young file, a live job's outputs, known files */
	snprintf(p, sizeof(p), "%s/young.bin", b0);
	touch(p, now_s - age + 100);
	snprintf(p, sizeof(p), "%s/j999-0.parquet", b0);
	touch(p, old);
	snprintf(p, sizeof(p), "%s/j999-1.parquet.tmp.1.2", b0);
	touch(p, old);
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t ne = jf_entries(&f, 0, a, &es);
	for (size_t i = 0; i < ne; i++) {
		jf_file_path(&f, &es[i], p, sizeof(p));
		set_mtime(p, old);
	}
	strata_mf *mf = strata_wh_mf(f.wh);
	strata_err err;
	strata_mf_snap *snap;
	strata_partition pt;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_partition_get(snap, t.id, "", &pt, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(strata_mf_claim(mf, t.id, pt.id, 0, "stratad@elsewhere:77", 999,
					      48 * JF_HOUR_US, &err),
			      0);
	char prefix[PATH_MAX + 8];
	snprintf(prefix, sizeof(prefix), "%s/j999-", b0);
	char *paths[1] = {prefix};
	strata_intent in = {.job_id = 999, .table_id = t.id, .part_id = pt.id, .bucket = 0,
			    .created_us = strata_now_us(), .npaths = 1, .paths = paths};
	snprintf(in.owner, sizeof(in.owner), "stratad@elsewhere:77");
	CU_ASSERT_EQUAL_FATAL(strata_mf_intent_put(mf, &in, &err), 0);
	int files_before = tu_count_files(f.dir, NULL);

	/* dry run: counted, nothing moved */
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.dry_run = true;
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(f.wh, f.table, &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 3);
	CU_ASSERT_EQUAL(tu_count_files(f.dir, NULL), files_before);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	/* a real run moves exactly the three into the trash (grace keeps the
	 * sort's inputs) */
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, age, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 3);
	CU_ASSERT_EQUAL(r.orphan_bytes, 12);
	CU_ASSERT_EQUAL(r.intents_recovered, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 3);
	char trash[PATH_MAX];
	jf_trash_dir(&f, trash, sizeof(trash));
	snprintf(p, sizeof(p), "%s/%lld-orphan-junk.bin", trash, (long long)strata_now_us());
	CU_ASSERT_TRUE(exists(p));
	snprintf(p, sizeof(p), "%s/junk.bin", b0);
	CU_ASSERT_FALSE(exists(p));
	snprintf(p, sizeof(p), "%s/stray.txt", part);
	CU_ASSERT_FALSE(exists(p));
	snprintf(p, sizeof(p), "%s/young.bin", b0);
	CU_ASSERT_TRUE(exists(p));
	snprintf(p, sizeof(p), "%s/j999-0.parquet", b0);
	CU_ASSERT_TRUE(exists(p));
	snprintf(p, sizeof(p), "%s/j999-1.parquet.tmp.1.2", b0);
	CU_ASSERT_TRUE(exists(p));
	ne = jf_entries(&f, 0, a, &es);
	for (size_t i = 0; i < ne; i++) {
		jf_file_path(&f, &es[i], p, sizeof(p));
		CU_ASSERT_TRUE(exists(p)); /* known files are never orphans */
	}
	/* the trash empties after trash_s; meanwhile young.bin has grown old */
	tu_clock_advance(3600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, age, &r, &err), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, 3);
	CU_ASSERT_EQUAL(r.orphans, 1);
	snprintf(p, sizeof(p), "%s/young.bin", b0);
	CU_ASSERT_FALSE(exists(p));
	/* once the job's claim is gone, recovery removes its outputs */
	tu_clock_advance(48 * JF_HOUR_US);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, age, &r, &err), 0);
	CU_ASSERT_EQUAL(r.intents_recovered, 1);
	snprintf(p, sizeof(p), "%s/j999-0.parquet", b0);
	CU_ASSERT_FALSE(exists(p));
	snprintf(p, sizeof(p), "%s/j999-1.parquet.tmp.1.2", b0);
	CU_ASSERT_FALSE(exists(p));
	CU_ASSERT_EQUAL(r.orphans, 0);
	CU_ASSERT_EQUAL(jf_intents(&f), 0);
	disk_ok(&f, 0);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Orphans of the same name in two directories both land in the trash (an
 * operator can get either back within trash_s). */
static void test_orphans_same_name(void)
{
	if (skip_local_only("orphans made with chosen mtimes"))
		return;
	int64_t now_s = (int64_t)time(NULL) + 10;
	tu_clock_manual(now_s * SEC);
	jf f;
	jf_open(&f, COLS, 2, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}\n{\"pk\":3,\"v\":\"c\"}");
	char b0[PATH_MAX], b1[PATH_MAX], p[PATH_MAX + 64];
	jf_bucket_dir(&f, 0, b0, sizeof(b0));
	jf_bucket_dir(&f, 1, b1, sizeof(b1));
	CU_ASSERT_EQUAL_FATAL(strata_io_mkdirs(b0, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(strata_io_mkdirs(b1, 0755), 0);
	snprintf(p, sizeof(p), "%s/junk.bin", b0);
	touch(p, now_s - 2 * 86400);
	snprintf(p, sizeof(p), "%s/junk.bin", b1);
	touch(p, now_s - 2 * 86400);
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, 86400, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.orphans, 2);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 2);
	/* and they leave the trash after trash_s */
	tu_clock_advance(3600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, 86400, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, 2);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	disk_ok(&f, 0);
	disk_ok(&f, 1);
	jf_close(&f);
	tu_clock_real();
}

/* ---- version log ------------------------------------------------------------------- */

static void test_log_expiry(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);                                /* 2..4 */
	jf_put(&f, "{\"pk\":5,\"v\":\"e\"}");      /* 5 */
	strata_mf *mf = strata_wh_mf(f.wh);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(mf, f.table, "keep", 3, &err), 0);
	char *d3 = jf_dump_at(&f, 3, NULL);
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":6,\"v\":\"f\"}");      /* 6; boundary 5 */
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 300, 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.versions_expired, 3);    /* 1, 2 and 4; 3 is tagged */
	strata_mf_snap *snap;
	strata_table_def t;
	strata_arena *a = strata_arena_new();
	strata_version_rec vr, *vs;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, f.table, &t, &err), 0);
	CU_ASSERT_EQUAL(t.log_start, 5);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 2, a, &vr, &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 3, a, &vr, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 4, a, &vr, &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 5, a, &vr, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_versions_list(snap, t.id, 0, SIZE_MAX, a, &vs, &n, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(vs[0].version, 3);
	CU_ASSERT_EQUAL(vs[1].version, 5);
	CU_ASSERT_EQUAL(vs[2].version, 6);
	/* reads: outside the window by version and by time; the tag works */
	expect_retention_error(&f, 4);
	strata_read_opts by_time = {.has_as_of_time = true, .as_of_time_us = JF_T0_US + 3 * SEC + 500000};
	int rc;
	char *d = jf_dump(&f, &by_time, &rc, &err);
	CU_ASSERT_EQUAL(rc, STRATA_ERETENTION);
	free(d);
	strata_read_opts by_tag = {.as_of_tag = "keep"};
	d = jf_dump(&f, &by_tag, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(d, d3);
	free(d);
	/* tagging an expired version fails */
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, f.table, "late", 4, &err), STRATA_ERETENTION);
	/* `strata log` lists the log from log_start on */
	if (access(tu_bin("strata"), X_OK) == 0) {
		char cmd[2 * PATH_MAX], *out = NULL;
		snprintf(cmd, sizeof(cmd), "%s -W '%s' log %s", tu_bin("strata"), tu_wh_name(f.dir), f.table);
		CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
		CU_ASSERT(out && strstr(out, "(versions before 5 have left the retention window)"));
		CU_ASSERT(out && strstr(out, "\n3 ") && !strstr(out, "\n4 ") && strstr(out, "\n5 "));
		free(out);
	} else {
		fprintf(stderr, "\n  (%s not built: `strata log` not checked) ", tu_bin("strata"));
	}
	free(d3);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- purge ----------------------------------------------------------------------- */

static void test_purge(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 2, 24);
	strata_buf b = {0};
	for (int round = 0; round < 5; round++) {
		strata_buf_reset(&b);
		for (int k = 0; k < 12; k++)
			if ((k + round) % 4 == 0)
				strata_buf_printf(&b, "{\"pk\":%d,\"_op\":\"delete\"}\n", k);
			else
				strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"r%d\"}\n", k, round);
		strata_buf_putc(&b, 0);
		jf_put(&f, (char *)b.data); /* 2..6 */
		if (round == 2)
			job_ok(&f, JF_SORT, NULL); /* 5 */
	}
	strata_buf_free(&b);
	strata_mf *mf = strata_wh_mf(f.wh);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(mf, f.table, "t1", 3, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(mf, f.table, "t2", 6, &err), 0);
	strata_table_def t;
	jf_def(&f, &t);
	uint64_t lease;
	CU_ASSERT_EQUAL_FATAL(strata_mf_lease_take(mf, t.id, 2, 3600 * SEC, &lease, &err), 0);
	strata_arena *a = strata_arena_new();
	/* the files live at the leased version */
	strata_file_entry *es;
	char leased[2][8][PATH_MAX];
	int nleased[2] = {0, 0};
	for (uint32_t bk = 0; bk < 2; bk++) {
		size_t n = jf_entries(&f, bk, a, &es);
		for (size_t i = 0; i < n && nleased[bk] < 8; i++)
			if (strata_file_live_at(&es[i], 2))
				jf_file_path(&f, &es[i], leased[bk][nleased[bk]++], PATH_MAX);
	}
	CU_ASSERT_EQUAL(nleased[0] + nleased[1], 2);
	char *latest = jf_dump(&f, NULL, NULL, NULL);

	strata_clean_result r;
	strata_buf dropped = {0};
	strata_job_ctl ctl = {.owner = f.owner};
	int rc = strata_purge_table(f.wh, f.table, &ctl, &r, &dropped, &err);
	if (rc)
		fprintf(stderr, "\npurge: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_buf_putc(&dropped, 0);
	CU_ASSERT_STRING_EQUAL((char *)dropped.data, "t1,t2");
	strata_buf_free(&dropped);
	uint64_t cur = jf_version(&f);
	char *now = jf_dump(&f, NULL, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(now, latest);
	free(now);
	for (uint64_t v = 1; v < cur; v++)
		expect_retention_error(&f, v);
	uint64_t er = 0, ei = 0;
	CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
	CU_ASSERT_EQUAL(er, cur);
	strata_read_opts by_tag = {.as_of_tag = "t1"};
	char *d = jf_dump(&f, &by_tag, &rc, &err);
	CU_ASSERT_EQUAL(rc, STRATA_ENOTFOUND);
	free(d);
	strata_mf_snap *snap;
	strata_tag *tags;
	size_t ntags = 9;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_tags_list(snap, t.id, a, &tags, &ntags, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL(ntags, 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	CU_ASSERT_EQUAL(r.trash_files, 0);
	/* the lease kept its files; nothing else of the history is left */
	for (uint32_t bk = 0; bk < 2; bk++) {
		for (int i = 0; i < nleased[bk]; i++)
			CU_ASSERT_TRUE(exists(leased[bk][i]));
		disk_ok(&f, bk);
		size_t n = jf_entries(&f, bk, a, &es), live = 0, kept = 0;
		for (size_t i = 0; i < n; i++) {
			live += es[i].removed_version == 0;
			kept += es[i].removed_version != 0 && !es[i].is_deleted;
		}
		CU_ASSERT_EQUAL(live, 1);
		CU_ASSERT_EQUAL(kept, (size_t)nleased[bk]);
	}
	/* released: the next purge takes them too */
	strata_mf_lease_release(mf, lease);
	CU_ASSERT_EQUAL(strata_purge_table(f.wh, f.table, &ctl, &r, NULL, &err), 0);
	for (uint32_t bk = 0; bk < 2; bk++) {
		for (int i = 0; i < nleased[bk]; i++)
			CU_ASSERT_FALSE(exists(leased[bk][i]));
		disk_ok(&f, bk);
	}
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	now = jf_dump(&f, NULL, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(now, latest);
	free(now);
	free(latest);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- I/O faults during a clean ------------------------------------------------------ */

/* A table where one clean run does every step: files to mark and move to
 * the trash, trash to empty (trash_s 0), entries to forget and a tombstone
 * to keep, versions to expire, a crashed job's outputs, an orphan. */
static void fault_fixture(jf *f)
{
	int64_t now_s = (int64_t)time(NULL) + 10;
	tu_clock_manual(now_s * SEC);
	jf_open(f, COLS, 1, 1);
	write3(f);
	job_ok(f, JF_SORT, NULL);
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(f, "{\"pk\":1,\"v\":\"a6\"}");
	job_ok(f, JF_PARTIAL, NULL);
	jf_put(f, "{\"pk\":2,\"v\":\"b8\"}");
	tu_clock_advance(600 * SEC);
	char b0[PATH_MAX], p[PATH_MAX + 64];
	jf_bucket_dir(f, 0, b0, sizeof(b0));
	/* an orphan, old by mtime */
	snprintf(p, sizeof(p), "%s/junk.bin", b0);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(p, "junk", 4), 0);
	set_mtime(p, (int64_t)time(NULL) - 3 * 86400);
	/* a crashed job: an intent without a claim, and its output */
	strata_table_def t;
	jf_def(f, &t);
	snprintf(p, sizeof(p), "%s/j777-0.parquet", b0);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(p, "PAR1", 4), 0);
	char prefix[PATH_MAX + 8];
	snprintf(prefix, sizeof(prefix), "%s/j777-", b0);
	char *paths[1] = {prefix};
	strata_intent in = {.job_id = 777, .table_id = t.id, .part_id = 1, .bucket = 0,
			    .created_us = strata_now_us(), .npaths = 1, .paths = paths};
	snprintf(in.owner, sizeof(in.owner), "stratad@elsewhere:1");
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_intent_put(strata_wh_mf(f->wh), &in, &err), 0);
}

static void list_dir(const char *dir, strata_buf *out)
{
	char cmd[PATH_MAX + 64], *txt = NULL;
	snprintf(cmd, sizeof(cmd), "cd '%s' 2>/dev/null && find . -type f | sort", dir);
	tu_run(cmd, &txt);
	strata_buf_printf(out, "%s", txt ? txt : "");
	free(txt);
}

/* Everything a clean decides, as text. */
static char *clean_state(jf *f)
{
	strata_buf b = {0};
	strata_table_def t;
	jf_def(f, &t);
	strata_buf_printf(&b, "version %llu log_start %llu intents %zu\n",
			  (unsigned long long)t.version, (unsigned long long)t.log_start, jf_intents(f));
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t n = jf_entries(f, 0, a, &es);
	for (size_t i = 0; i < n; i++)
		strata_buf_printf(&b, "entry %llu %s removed %llu deleted %d at %lld\n",
				  (unsigned long long)es[i].id, es[i].name,
				  (unsigned long long)es[i].removed_version, es[i].is_deleted,
				  (long long)es[i].deleted_us);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/data", f->dir);
	list_dir(dir, &b);
	strata_buf_putc(&b, 0);
	strata_arena_free(a);
	return (char *)b.data;
}

static int clean_fault_opts(jf *f, strata_clean_result *r, strata_err *err)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 300;
	o.trash_s = 0;
	o.orphan_age_s = 86400;
	strata_err_clear(err);
	return strata_clean_table(f->wh, f->table, &o, r, err);
}

static void converge(jf *f)
{
	strata_clean_result r;
	strata_err err;
	for (int i = 0; i < 3; i++) {
		int rc = clean_fault_opts(f, &r, &err);
		if (rc)
			fprintf(stderr, "\nclean after the fault: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
	}
}

/* No entry the manifest does not mark deleted is missing on disk. */
static int named_files_present(jf *f, char *why, size_t n)
{
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t ne = jf_entries(f, 0, a, &es);
	int rc = 0;
	for (size_t i = 0; i < ne; i++) {
		if (es[i].is_deleted)
			continue;
		char p[PATH_MAX];
		jf_file_path(f, &es[i], p, sizeof(p));
		if (!exists(p)) {
			snprintf(why, n, "%s is named by the manifest but missing", p);
			rc = -1;
		}
	}
	strata_arena_free(a);
	return rc;
}

static void test_clean_faults(void)
{
	if (skip_local_only("faults through the POSIX I/O vtable"))
		return;
	static const tu_op ops[] = {TU_OP_RENAME, TU_OP_UNLINK, TU_OP_OPENDIR, TU_OP_FSYNC,
				    TU_OP_STAT,   TU_OP_OPEN,   TU_OP_MKDIR,   TU_OP_CLOSE};
	static const int errs[] = {EIO, ENOSPC, EDQUOT};
	jf f;
	fault_fixture(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	jf_tmpl tmpl;
	jf_tmpl_save(&f, &tmpl);
	converge(&f);
	char *want = clean_state(&f);
	/* the reference run did every step */
	CU_ASSERT(strstr(want, "intents 0") != NULL);
	CU_ASSERT(strstr(want, "junk.bin") == NULL);
	CU_ASSERT(strstr(want, "j777-0") == NULL);
	int injected = 0, failed = 0;
	for (size_t oi = 0; oi < STRATA_ARRAY_LEN(ops); oi++) {
		for (size_t ei = 0; ei < STRATA_ARRAY_LEN(errs); ei++) {
			for (int at = 1; at < 500; at++) {
				jf_tmpl_restore(&f, &tmpl);
				strata_clean_result r;
				strata_err err;
				tu_fault_arm(ops[oi], at, errs[ei], false);
				int rc = clean_fault_opts(&f, &r, &err);
				bool fired = tu_fault_fired();
				tu_fault_disarm();
				if (!fired)
					break;
				injected++;
				char what[80];
				snprintf(what, sizeof(what), "clean: %s #%d %s", tu_op_name(ops[oi]), at,
					 strerror(errs[ei]));
				if (rc) {
					failed++;
					if (!strstr(err.msg, f.dir)) {
						fprintf(stderr, "\n%s: message names no file: \"%s\"\n", what,
							err.msg);
						CU_FAIL("clean error without a path");
					}
				}
				char why[600];
				if (named_files_present(&f, why, sizeof(why))) {
					fprintf(stderr, "\n%s: %s\n", what, why);
					CU_FAIL("the manifest names a missing file");
				}
				/* every version reads as before or fails with the retention error */
				for (uint64_t v = 1; v <= h.n; v++) {
					int drc;
					char *d = jf_dump_at(&f, v, &drc);
					if (drc != STRATA_ERETENTION && strcmp(d, h.d[v]) != 0) {
						fprintf(stderr, "\n%s: version %llu reads %s\n", what,
							(unsigned long long)v, d);
						CU_FAIL("a read changed after a failed clean");
					}
					free(d);
				}
				/* the next cleans finish the job */
				converge(&f);
				char *got = clean_state(&f);
				if (strcmp(got, want) != 0) {
					fprintf(stderr, "\n%s (rc %d: %s): after recovery\n%s--- expected\n%s\n",
						what, rc, err.msg, got, want);
					CU_FAIL("clean did not converge after a fault");
				}
				free(got);
			}
		}
	}
	fprintf(stderr, "\n  clean: %d faults injected, %d failed the run ", injected, failed);
	CU_ASSERT(failed > 0);
	free(want);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* Purge under faults: a failed purge leaves every named file in place and a
 * second purge keeps the promise (latest intact, nothing older readable,
 * no tags, empty trash, no stray files). */
static void test_purge_faults(void)
{
	if (skip_local_only("faults through the POSIX I/O vtable"))
		return;
	static const tu_op ops[] = {TU_OP_OPEN, TU_OP_FSYNC, TU_OP_RENAME, TU_OP_UNLINK,
				    TU_OP_OPENDIR, TU_OP_STAT};
	jf f;
	fault_fixture(&f);
	/* purge does not collect orphans: drop the fixture's */
	char b0[PATH_MAX], junk[PATH_MAX + 16];
	jf_bucket_dir(&f, 0, b0, sizeof(b0));
	snprintf(junk, sizeof(junk), "%s/junk.bin", b0);
	CU_ASSERT_EQUAL_FATAL(unlink(junk), 0);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(strata_wh_mf(f.wh), f.table, "pin", 3, &err), 0);
	char *latest = jf_dump(&f, NULL, NULL, NULL);
	jf_tmpl tmpl;
	jf_tmpl_save(&f, &tmpl);
	int injected = 0, failed = 0;
	for (size_t oi = 0; oi < STRATA_ARRAY_LEN(ops); oi++) {
		for (int at = 1; at < 500; at++) {
			jf_tmpl_restore(&f, &tmpl);
			strata_clean_result r;
			strata_job_ctl ctl = {.owner = f.owner};
			tu_fault_arm(ops[oi], at, EIO, false);
			int rc = strata_purge_table(f.wh, f.table, &ctl, &r, NULL, &err);
			bool fired = tu_fault_fired();
			tu_fault_disarm();
			if (!fired)
				break;
			injected++;
			char what[80];
			snprintf(what, sizeof(what), "purge: %s #%d", tu_op_name(ops[oi]), at);
			char why[600];
			if (rc) {
				failed++;
				if (!strstr(err.msg, f.dir)) {
					fprintf(stderr, "\n%s: message names no file: \"%s\"\n", what, err.msg);
					CU_FAIL("purge error without a path");
				}
			}
			if (named_files_present(&f, why, sizeof(why))) {
				fprintf(stderr, "\n%s: %s\n", what, why);
				CU_FAIL("the manifest names a missing file");
			}
			char *d = jf_dump(&f, NULL, NULL, NULL);
			CU_ASSERT_STRING_EQUAL(d, latest);
			free(d);
			/* again without faults */
			rc = strata_purge_table(f.wh, f.table, &ctl, &r, NULL, &err);
			if (rc)
				fprintf(stderr, "\n%s: purge again: %s\n", what, err.msg);
			CU_ASSERT_EQUAL(rc, 0);
			uint64_t cur = jf_version(&f), er = 0, ei = 0;
			CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
			CU_ASSERT_EQUAL(er, cur);
			d = jf_dump(&f, NULL, NULL, NULL);
			CU_ASSERT_STRING_EQUAL(d, latest);
			free(d);
			int drc;
			d = jf_dump_at(&f, cur - 1, &drc);
			CU_ASSERT_EQUAL(drc, STRATA_ERETENTION);
			free(d);
			CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
			CU_ASSERT_EQUAL(jf_intents(&f), 0);
			if (jf_disk_check(&f, 0, why, sizeof(why))) {
				fprintf(stderr, "\n%s: after the second purge: %s\n", what, why);
				CU_FAIL("stray or missing files after purge");
			}
		}
	}
	fprintf(stderr, "\n  purge: %d faults injected, %d failed the run ", injected, failed);
	CU_ASSERT(failed > 0);
	free(latest);
	jf_close(&f);
	tu_clock_real();
}

/* ---- tags and the bounded floor log ---------------------------------------------------- */

/* A tag pins its version beyond retention.  A bucket's floor log holds at most
 * STRATA_FLOOR_LOG_MAX raises, and a tagged interval is never dropped from it:
 * once the log is full of intervals tags need, history-dropping jobs on the
 * bucket are refused with a clear error (this test failed before: the 257th
 * raise dropped the tag's interval and its reads). */
static void test_tag_survives_many_floor_raises(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}");
	jf_put(&f, "{\"pk\":1,\"v\":\"b\"}");
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(strata_wh_mf(f.wh), f.table, "old", 2, &err), 0);
	strata_read_opts ro = {.as_of_tag = "old"};
	char *want = jf_dump(&f, &ro, NULL, NULL);
	int broke_at = 0, refused_at = 0;
	for (int i = 1; i <= STRATA_FLOOR_LOG_MAX + 4 && !broke_at; i++) {
		strata_job_result res;
		strata_err_clear(&err);
		int rc = jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err);
		if (rc == STRATA_ELIMIT && !refused_at) {
			refused_at = i;
			CU_ASSERT(strstr(err.msg, "needed by tags") != NULL);
		} else if (rc && rc != STRATA_ELIMIT) {
			fprintf(stderr, "\n  major compaction %d failed: %s ", i, err.msg);
			CU_FAIL("unexpected job failure");
			break;
		}
		if (i % 64 == 0) {
			tu_clock_advance(600 * SEC);
			CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, NULL, NULL), 0);
		}
		char *d = jf_dump(&f, &ro, NULL, NULL);
		if (strcmp(d, want) != 0)
			broke_at = i;
		free(d);
	}
	if (broke_at)
		fprintf(stderr, "\n  tag unreadable after %d floor raises ", broke_at);
	CU_ASSERT_EQUAL(broke_at, 0);
	CU_ASSERT(refused_at > 0);
	/* without the tag, compaction works again */
	CU_ASSERT_EQUAL(strata_mf_tag_del(strata_wh_mf(f.wh), f.table, "old", &err), 0);
	tu_clock_advance(600 * SEC);
	CU_ASSERT_EQUAL(clean(&f, 300, 0, -1, NULL, NULL), 0);
	strata_job_result res;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
	free(want);
	jf_close(&f);
	tu_clock_real();
}

/* ---- registration ------------------------------------------------------------------ */

/* ---- undelete ------------------------------------------------------------------- */

static int undelete(jf *f, uint64_t clean_version, bool is_all, bool dry_run,
		    strata_undelete_result *r, strata_err *err)
{
	strata_undelete_opts o = {.clean_version = clean_version, .is_all = is_all,
				  .dry_run = dry_run};
	strata_undelete_result tmp;
	strata_err etmp;
	if (!err)
		err = &etmp;
	strata_err_clear(err);
	int rc = strata_undelete_table(f->wh, f->table, &o, r ? r : &tmp, err);
	if (!r)
		strata_undelete_result_free(&tmp);
	return rc;
}

static void check_ok(jf *f)
{
	strata_err err;
	size_t n = 0;
	int rc = strata_mf_check(strata_wh_mf(f->wh), f->table, NULL, NULL, &n, &err);
	if (rc)
		fprintf(stderr, "\ncheck: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

static uint64_t log_start_of(jf *f)
{
	strata_table_def t;
	jf_def(f, &t);
	return t.log_start;
}

static size_t kept_cleans(jf *f)
{
	strata_mf_snap *snap;
	strata_err err;
	strata_table_def t;
	jf_def(f, &t);
	strata_arena *a = strata_arena_new();
	strata_trash_unit *us;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_trash_list(snap, t.id, a, &us, &n, &err), 0);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return n;
}

/* Versions 2..8, a sort and a partial compaction (floor 5); the clock
 * then 4 h on, so that a clean with grace 0 and 1 h of retention deletes
 * the sort's inputs and the compaction's (holes below the floor) and
 * expires the log below 7: versions 1..6 become unreadable. */
static void undel_fixture(jf *f, jf_hist *h)
{
	tu_clock_manual(JF_T0_US);
	jf_open(f, COLS, 1, 1);
	write3(f);                                 /* 2..4 */
	job_ok(f, JF_SORT, NULL);                  /* 5 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(f, "{\"pk\":1,\"v\":\"a6\"}\n{\"pk\":7,\"v\":\"g\"}"); /* 6 */
	job_ok(f, JF_PARTIAL, NULL);               /* 7, floor 5 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(f, "{\"pk\":3,\"_op\":\"delete\"}\n{\"pk\":8,\"v\":\"h\"}"); /* 8 */
	jf_hist_take(f, h);
	CU_ASSERT_EQUAL_FATAL(h->n, 8);
}

/* Clean with grace 0 of undel_fixture: returns the clean version. */
static uint64_t undel_clean(jf *f, int64_t trash_s)
{
	strata_clean_result r;
	CU_ASSERT_EQUAL_FATAL(clean(f, 0, trash_s, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 4);      /* 3 row files, the sorted file */
	CU_ASSERT_EQUAL(r.version, 9);
	CU_ASSERT_EQUAL(r.versions_expired, 6);   /* 1..6 */
	CU_ASSERT_EQUAL(log_start_of(f), 7);
	for (uint64_t v = 1; v < 7; v++)
		expect_retention_error(f, v);
	return r.version;
}

/* Undelete brings back every version a clean took, reading exactly as
 * before it (AS OF each version, by time, and the changes between); a dry
 * run before changes nothing. */
static void test_undelete(void)
{
	jf f;
	jf_hist h;
	undel_fixture(&f, &h);
	char *all0 = jf_changes(&f, 1, 8, NULL);
	strata_read_opts by_time = {.has_as_of_time = true, .as_of_time_us = JF_T0_US + 3 * SEC + 500000};
	int rc;
	strata_err err;
	char *t0 = jf_dump(&f, &by_time, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	uint64_t cv = undel_clean(&f, 3600);
	free(jf_dump(&f, &by_time, &rc, &err));
	CU_ASSERT_EQUAL(rc, STRATA_ERETENTION);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 7, 0), 0);
	CU_ASSERT_EQUAL(kept_cleans(&f), 1);
	int trash0 = jf_trash_count(&f);
	CU_ASSERT_EQUAL(trash0, 4);
	/* a dry run says what would come back and changes nothing */
	strata_undelete_result r;
	CU_ASSERT_EQUAL(undelete(&f, cv, false, true, &r, &err), 0);
	CU_ASSERT_EQUAL(r.ncleans, 1);
	CU_ASSERT_EQUAL(r.clean_versions[0], cv);
	CU_ASSERT_EQUAL(r.files_restored, 4);
	CU_ASSERT_EQUAL(r.files_moved, tu_wh_is_s3() ? 0 : 4);
	CU_ASSERT_EQUAL(r.versions_restored, 6);
	CU_ASSERT_EQUAL(r.earliest_before, 7);
	CU_ASSERT_EQUAL(r.earliest_after, 7);
	strata_undelete_result_free(&r);
	CU_ASSERT_EQUAL(jf_trash_count(&f), trash0);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	CU_ASSERT_EQUAL(kept_cleans(&f), 1);
	expect_retention_error(&f, 3);
	/* an unknown clean version: refused, naming the ones there are */
	CU_ASSERT_EQUAL(undelete(&f, cv - 1, false, false, NULL, &err), STRATA_ENOTFOUND);
	CU_ASSERT(strstr(err.msg, "no clean at version 8") != NULL);
	CU_ASSERT(strstr(err.msg, "can be undone: 9") != NULL);
	/* the undelete */
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, &r, &err), 0);
	if (err.code)
		fprintf(stderr, "\nundelete: %s\n", err.msg);
	CU_ASSERT_EQUAL(r.ncleans, 1);
	CU_ASSERT_EQUAL(r.files_restored, 4);
	CU_ASSERT_EQUAL(r.versions_restored, 6);
	CU_ASSERT_EQUAL(r.earliest_before, 7);
	CU_ASSERT_EQUAL(r.earliest_after, 1);
	strata_undelete_result_free(&r);
	CU_ASSERT_EQUAL(log_start_of(&f), 1);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	CU_ASSERT_EQUAL(kept_cleans(&f), 0);
	/* every version reads as before the clean, the changes too */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	char *all1 = jf_changes(&f, 1, 8, NULL);
	CU_ASSERT_STRING_EQUAL(all1, all0);
	char *d = jf_dump(&f, &by_time, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(d, t0);
	free(d);
	free(t0);
	disk_ok(&f, 0);
	check_ok(&f);
	/* the entries are removed-not-deleted again */
	strata_arena *a = strata_arena_new();
	uint64_t *ids;
	CU_ASSERT_EQUAL(removed_ids(&f, a, &ids), 4);
	strata_arena_free(a);
	/* undoing it again: nothing left to undo */
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(undelete(&f, 0, true, false, NULL, &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	free(all0);
	free(all1);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* A job that raises the floor between the clean and the undelete trims
 * the floor log only of what cannot come back (manifest/commit.c invariant
 * 9): the versions the clean took still read as before once undone, and
 * the ones the job made read as they did after it. */
static void test_undelete_after_a_job(void)
{
	jf f;
	jf_hist h;
	undel_fixture(&f, &h);
	uint64_t cv = undel_clean(&f, 3600);
	jf_put(&f, "{\"pk\":1,\"v\":\"a10\"}");   /* 10 */
	job_ok(&f, JF_MAJOR, NULL);                /* 11: the floor rises to 11 */
	jf_hist h2;
	jf_hist_take(&f, &h2);
	CU_ASSERT_EQUAL_FATAL(h2.n, 11);
	strata_undelete_result r;
	strata_err err;
	int rc = undelete(&f, cv, false, false, &r, &err);
	if (rc)
		fprintf(stderr, "\nundelete: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.earliest_after, 1);
	strata_undelete_result_free(&r);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h2, 7, 0), 0);
	disk_ok(&f, 0);
	check_ok(&f);
	jf_hist_free(&h2);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* After the trash window undelete refuses and changes nothing; the next
 * clean drops what it kept for good. */
static void test_undelete_after_window(void)
{
	jf f;
	jf_hist h;
	undel_fixture(&f, &h);
	uint64_t cv = undel_clean(&f, 60);
	tu_clock_advance(61 * SEC);
	strata_err err;
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_ERETENTION);
	CU_ASSERT(strstr(err.msg, "clean version 9 of table \"t\" left its trash window") != NULL);
	CU_ASSERT(strstr(err.msg, "nothing was restored") != NULL);
	CU_ASSERT_EQUAL(undelete(&f, 0, true, false, NULL, &err), STRATA_ENOTFOUND);
	/* clean.trash_s raised since (the files are still there): inside */
	strata_undelete_opts wide = {.clean_version = cv, .dry_run = true, .trash_s = 120};
	strata_undelete_result u;
	CU_ASSERT_EQUAL(strata_undelete_table(f.wh, f.table, &wide, &u, &err), 0);
	CU_ASSERT_EQUAL(u.ncleans, 1);
	CU_ASSERT_EQUAL(u.files_restored, 4);
	strata_undelete_result_free(&u);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 4);
	CU_ASSERT_EQUAL(kept_cleans(&f), 1);
	for (uint64_t v = 1; v < 7; v++)
		expect_retention_error(&f, v);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 7, 0), 0);
	/* the next clean drops the kept records and empties the trash */
	strata_clean_result r;
	CU_ASSERT_EQUAL(clean(&f, 0, 60, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.cleans_dropped, 1);
	CU_ASSERT_EQUAL(r.files_unlinked, 4);
	CU_ASSERT_EQUAL(kept_cleans(&f), 0);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_ENOTFOUND);
	check_ok(&f);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 7, 0), 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* A file that left the trash early (unlinked by hand here): undelete
 * refuses naming the table, the clean version and the file, and moves
 * nothing back. */
static void test_undelete_missing_file(void)
{
	jf f;
	jf_hist h;
	undel_fixture(&f, &h);
	uint64_t cv = undel_clean(&f, 3600);
	strata_arena *a = strata_arena_new();
	strata_file_entry *es;
	size_t n = jf_entries(&f, 0, a, &es);
	const strata_file_entry *gone = NULL;
	for (size_t i = 0; i < n && !gone; i++)
		if (es[i].is_deleted)
			gone = &es[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(gone);
	char tp[PATH_MAX];
	trash_path_of(&f, gone, tp, sizeof(tp));
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_data_remove(tp, &err), 0);
	int trash0 = jf_trash_count(&f);
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_ERETENTION);
	CU_ASSERT(strstr(err.msg, "clean version 9 of table \"t\"") != NULL);
	CU_ASSERT(strstr(err.msg, gone->name) != NULL);
	CU_ASSERT(strstr(err.msg, "has already left the trash") != NULL);
	CU_ASSERT_EQUAL(jf_trash_count(&f), trash0);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	for (uint64_t v = 1; v < 7; v++)
		expect_retention_error(&f, v);
	disk_ok(&f, 0);
	check_ok(&f);
	strata_arena_free(a);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* Undelete waits for no clean: a running one (its claim) refuses it with a
 * clear error; a damaged manifest refuses it like clean, nothing restored. */
static void test_undelete_refusals(void)
{
	jf f;
	jf_hist h;
	undel_fixture(&f, &h);
	uint64_t cv = undel_clean(&f, 3600);
	strata_table_def t;
	jf_def(&f, &t);
	strata_mf *mf = strata_wh_mf(f.wh);
	char owner[128];
	strata_owner_string("clean", owner, sizeof(owner));
	uint64_t job = 0;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_mf_claim_new(mf, t.id, UINT32_MAX, UINT32_MAX, owner,
						  600 * SEC, &job, &err),
			      0);
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_EBUSY);
	CU_ASSERT(strstr(err.msg, "being cleaned or undeleted by another process") != NULL);
	CU_ASSERT_EQUAL(strata_mf_claim_release(mf, t.id, UINT32_MAX, UINT32_MAX, job, &err), 0);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	/* damage: a live file gone (local only: moved away and back) */
	if (!tu_wh_is_s3()) {
		strata_arena *a = strata_arena_new();
		strata_file_entry *live;
		CU_ASSERT_FATAL(jf_live(&f, 0, a, &live) > 0);
		char p[PATH_MAX], away[PATH_MAX + 8];
		jf_file_path(&f, &live[0], p, sizeof(p));
		snprintf(away, sizeof(away), "%s.away", p);
		CU_ASSERT_EQUAL_FATAL(rename(p, away), 0);
		int trash0 = jf_trash_count(&f);
		CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), STRATA_ECORRUPT);
		CU_ASSERT(strstr(err.msg, "undelete of table \"t\" refused, nothing was restored") != NULL);
		CU_ASSERT_EQUAL(jf_trash_count(&f), trash0);
		CU_ASSERT_EQUAL(log_start_of(&f), 7);
		CU_ASSERT_EQUAL_FATAL(rename(away, p), 0);
		strata_arena_free(a);
	}
	CU_ASSERT_EQUAL(undelete(&f, cv, false, false, NULL, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	check_ok(&f);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* Two cleans: the older one cannot be undone alone (the newer expired the
 * versions after the ones it kept); --all reverts both in one commit. */
static void test_undelete_two_cleans(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);                                /* 2..4 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":5,\"v\":\"e\"}");      /* 5 */
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_clean_result r;
	/* a trash window of 6 h: both cleans are still in it at the end */
	CU_ASSERT_EQUAL_FATAL(clean(&f, 0, 6 * 3600, -1, &r, NULL), 0);
	CU_ASSERT_EQUAL(r.version, 0);            /* nothing to delete ... */
	CU_ASSERT_EQUAL(r.versions_expired, 3);   /* ... but 1..3 expired */
	uint64_t cv1 = 5;                          /* kept under the table's version */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":6,\"v\":\"f\"}");      /* 6 */
	job_ok(&f, JF_SORT, NULL);                 /* 7: the row files removed */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":7,\"v\":\"g\"}");      /* 8 */
	CU_ASSERT_EQUAL_FATAL(clean(&f, 0, 6 * 3600, -1, &r, NULL), 0);
	uint64_t cv2 = r.version;
	CU_ASSERT_EQUAL(cv2, 9);
	CU_ASSERT(r.files_deleted > 0);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	CU_ASSERT_EQUAL(kept_cleans(&f), 2);
	strata_err err;
	CU_ASSERT_EQUAL(undelete(&f, cv1, false, false, NULL, &err), STRATA_ECONFLICT);
	CU_ASSERT(strstr(err.msg, "undelete it first") != NULL);
	CU_ASSERT_EQUAL(log_start_of(&f), 7);
	strata_undelete_result u;
	CU_ASSERT_EQUAL(undelete(&f, 0, true, false, &u, &err), 0);
	CU_ASSERT_EQUAL(u.ncleans, 2);
	CU_ASSERT_EQUAL(u.clean_versions[0], cv1);
	CU_ASSERT_EQUAL(u.clean_versions[1], cv2);
	CU_ASSERT_EQUAL(u.versions_restored, 6);
	CU_ASSERT_EQUAL(u.earliest_after, 1);
	strata_undelete_result_free(&u);
	CU_ASSERT_EQUAL(log_start_of(&f), 1);
	CU_ASSERT_EQUAL(kept_cleans(&f), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	disk_ok(&f, 0);
	check_ok(&f);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* kill -9 inside an undelete: after the first file moved back, and just
 * before its commit.  The manifest passes its check, the versions are
 * still unreadable (not half-restored), and a retried undelete finishes. */
static int undel_renames, undel_kill_at;
static int undel_rename_kill(const char *from, const char *to)
{
	if (strstr(from, "/.trash/") && ++undel_renames == undel_kill_at)
		kill(getpid(), SIGKILL);
	return strata_io_system.rename(from, to);
}
static int undel_commits;
static void undel_commit_kill(bool is_after, int rc)
{
	(void)rc;
	/* the claim is the first commit, the undelete the second */
	if (!is_after && ++undel_commits == 2)
		kill(getpid(), SIGKILL);
}

static void test_undelete_crash(void)
{
	for (int point = 0; point < 2; point++) {
		if (point == 0 && tu_wh_is_s3())
			continue; /* nothing moves on object storage */
		jf f;
		jf_hist h;
		undel_fixture(&f, &h);
		uint64_t cv = undel_clean(&f, 3600);
		jf_close_wh(&f);
		fflush(NULL);
		pid_t pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			static strata_io_ops ops;
			if (point == 0) {
				ops = strata_io_system;
				ops.rename = undel_rename_kill;
				undel_kill_at = 2;
				strata_io_set(&ops);
			} else {
				strata_mf_commit_hook = undel_commit_kill;
			}
			jf_open_wh(&f);
			undelete(&f, cv, false, false, NULL, NULL);
			_exit(0); /* not reached */
		}
		int status = 0;
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		jf_open_wh(&f);
		check_ok(&f);
		CU_ASSERT_EQUAL(log_start_of(&f), 7);
		for (uint64_t v = 1; v < 7; v++)
			expect_retention_error(&f, v);
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 7, 0), 0);
		/* the claim of the dead process is taken over; the retry finishes */
		strata_undelete_result r;
		strata_err err;
		int rc = undelete(&f, cv, false, false, &r, &err);
		if (rc)
			fprintf(stderr, "\nretried undelete: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(r.files_restored, 4);
		strata_undelete_result_free(&r);
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
		CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
		disk_ok(&f, 0);
		check_ok(&f);
		jf_hist_free(&h);
		jf_close(&f);
		tu_clock_real();
	}
}

/* A job whose failed clean-up could not delete its output (the unlink
 * fails): the intent stays, the claim is released, and the next clean's
 * intent recovery removes the output and then the intent (merge/job.c
 * invariant 7).  Every version reads the same throughout. */
static int fail_after_outputs_hook(void *arg, const char *point)
{
	(void)arg;
	if (strcmp(point, "outputs-written") != 0)
		return 0;
	tu_fault_arm(TU_OP_UNLINK, 1, EIO, false); /* the clean-up's first unlink */
	return 1;
}

static void test_failed_job_cleanup_keeps_intent(void)
{
	if (skip_local_only("faults through the POSIX I/O vtable"))
		return;
	jf f;
	jf_open(&f, COLS, 1, 1);
	write3(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_job_ctl ctl = {.owner = f.owner, .hook = fail_after_outputs_hook};
	strata_job_result res;
	strata_err err;
	int rc = jf_job(&f, 0, JF_SORT, NULL, &ctl, &res, &err);
	bool fired = tu_fault_fired();
	tu_fault_disarm();
	CU_ASSERT_EQUAL(rc, STRATA_ECANCELED);
	CU_ASSERT(fired);
	CU_ASSERT_NOT_EQUAL_FATAL(res.job_id, 0);
	char dir[PATH_MAX], out[PATH_MAX + 64];
	jf_bucket_dir(&f, 0, dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/j%llu-0.parquet", dir, (unsigned long long)res.job_id);
	/* the output is left, known to its intent; the claim is gone */
	CU_ASSERT(exists(out));
	CU_ASSERT_EQUAL(jf_intents(&f), 1);
	CU_ASSERT(!jf_claimed(&f, 0));
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	/* the next clean recovers the intent: output, then intent */
	strata_clean_result r;
	rc = clean_fault_opts(&f, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.intents_recovered, 1);
	CU_ASSERT(!exists(out));
	CU_ASSERT_EQUAL(jf_intents(&f), 0);
	disk_ok(&f, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	/* and the bucket takes jobs again */
	job_ok(&f, JF_SORT, NULL);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	jf_close(&f);
}

static void register_clean(void)
{
	CU_pSuite s = CU_add_suite("clean", NULL, NULL);
	TU_ADD(s, test_grace_trash_forget);
	TU_ADD(s, test_trash_fsyncs_each_dir_once);
	TU_ADD(s, test_tombstones_in_window_not_looked_at);
	TU_ADD(s, test_tombstones_of_floor_raise);
	TU_ADD(s, test_leases);
	TU_ADD(s, test_lease_taken_during_clean);
	TU_ADD(s, test_scan_lease_holds);
	TU_ADD(s, test_tags);
	TU_ADD(s, test_retention);
	TU_ADD(s, test_crash_between_mark_and_trash);
	TU_ADD(s, test_crash_between_unlink_and_forget);
	TU_ADD(s, test_orphans);
	TU_ADD(s, test_orphans_same_name);
	TU_ADD(s, test_log_expiry);
	TU_ADD(s, test_purge);
	TU_ADD(s, test_clean_faults);
	TU_ADD(s, test_purge_faults);
	TU_ADD(s, test_tag_survives_many_floor_raises);
	TU_ADD(s, test_undelete);
	TU_ADD(s, test_undelete_after_a_job);
	TU_ADD(s, test_undelete_after_window);
	TU_ADD(s, test_undelete_missing_file);
	TU_ADD(s, test_undelete_refusals);
	TU_ADD(s, test_undelete_two_cleans);
	TU_ADD(s, test_undelete_crash);
	TU_ADD(s, test_failed_job_cleanup_keeps_intent);
}

TU_MAIN(register_clean)
