/*
 * tests/test_regress.c — one test per bug fixed outside a module's own
 * suite, each failing before its fix:
 *   - a row larger than Avro C's 64 KiB block could not be written;
 *   - an empty write with a token committed an empty version;
 *   - partition specs could not hold '/' or ',' in values;
 *   - doubles printed with 17 digits (99.99 came back as 99.989999...);
 *   - expired reader leases were never deleted;
 *   - new directories were not made durable (parent not fsynced), nor
 *     existing ones a crashed process may have left undurable;
 *   - a job whose plan went stale (input replaced and cleaned) failed with
 *     ENOENT instead of reporting a conflict;
 *   - listing tables or intents failed on LMDB's empty-key rule;
 *   - clean with trash_s 0 left the files it had just marked in the trash;
 *   - two concurrent property changes could lose one (read-modify-write
 *     outside the transaction);
 *   - a reader planning while clean ran could have its files deleted between
 *     its snapshot and its lease (now: a planning lease, and clean re-reads
 *     the leases after marking);
 *   - an orphan scan of a table without file entries sorted a NULL array
 *     (undefined behaviour; UBSan stops the sanitizer build there).
 */
#include "tests/util/testutil.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "clean/clean.h"
#include "compact/compact.h"
#include "sort/sort.h"
#include "table/table.h"

/* Row files as files (write.inline.max-bytes=0): the tests that count
 * what clean moves and unlinks (inline row files: test_inline). */
#define FILES "write.inline.max-bytes=0"

static strata_wh *open_wh(void)
{
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_FATAL(strata_wh_open(tu_tmpdir(), true, &wh, &err) == 0);
	return wh;
}

static int write_json(strata_wh *wh, const char *table, const char *line, uint64_t *v,
		      strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, table, &t, err);
	if (rc)
		return rc;
	json_error_t je;
	json_t *o = json_loads(line, 0, &je);
	rc = strata_txn_put_json(t, o, err);
	json_decref(o);
	if (rc) {
		strata_txn_abort(t);
		return rc;
	}
	bool rep;
	return strata_txn_commit(t, NULL, v, &rep, err);
}

static void test_big_row(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "big", "id BIGINT PRIMARY KEY, s STRING",
						  NULL, NULL, NULL, 0, &err), 0);
	size_t n = 3 << 20;
	char *line = malloc(n + 64);
	int off = sprintf(line, "{\"id\":1,\"s\":\"");
	memset(line + off, 'x', n);
	strcpy(line + off + n, "\"}");
	uint64_t v;
	CU_ASSERT_EQUAL(write_json(wh, "big", line, &v, &err), 0);
	free(line);
	strata_scan *s;
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "big", NULL, &s, &err), 0);
	const strata_row *row;
	CU_ASSERT_EQUAL(strata_scan_next(s, &row, NULL, &err), 1);
	CU_ASSERT_EQUAL(row->vals[1].v.s.len, n);
	strata_scan_close(s);
	strata_wh_close(wh);
}

static void test_empty_write_with_token(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "id BIGINT PRIMARY KEY", NULL, NULL,
						  NULL, 0, &err), 0);
	strata_txn *t;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, "t", &t, &err), 0);
	strata_commit_opts co = {.token = "tok", .token_us = strata_now_us()};
	uint64_t v = 0;
	bool rep;
	CU_ASSERT_EQUAL(strata_txn_commit(t, &co, &v, &rep, &err), 0);
	CU_ASSERT_EQUAL(v, 1); /* still the create version: nothing committed */
	uint64_t now;
	strata_read_opts ro = {0};
	CU_ASSERT_EQUAL(strata_read_version(wh, "t", &ro, &now, &err), 0);
	CU_ASSERT_EQUAL(now, 1);
	strata_wh_close(wh);
}

static void test_partition_spec_separators(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "logs", "id BIGINT PRIMARY KEY", NULL,
						  "dt STRING, src STRING", NULL, 0, &err), 0);
	uint64_t v;
	CU_ASSERT_EQUAL(write_json(wh, "logs", "{\"id\":1,\"dt\":\"d1\",\"src\":\"web/app,1\"}", &v,
				   &err), 0);
	const char *specs[] = {"dt=d1/src=web/app,1", "src=web/app,1,dt=d1", "src=web/app,1/dt=d1"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(specs); i++) {
		strata_read_opts ro = {.partition = specs[i]};
		strata_scan *s;
		CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "logs", &ro, &s, &err), 0);
		const strata_row *row;
		const char *const *pv;
		CU_ASSERT_EQUAL(strata_scan_next(s, &row, &pv, &err), 1);
		CU_ASSERT_STRING_EQUAL(pv[1], "web/app,1");
		strata_scan_close(s);
	}
	strata_read_opts bad = {.partition = "nope=1"};
	strata_scan *s;
	CU_ASSERT_EQUAL(strata_scan_open(wh, "logs", &bad, &s, &err), STRATA_EINVAL);
	strata_wh_close(wh);
}

static void test_double_shortest(void)
{
	const double cases[] = {99.99, 0.1, 1e-7, 123456789.125, 1.0 / 3.0, -2.5e300};
	const char *want[] = {"99.99", "0.1", "1e-07", "123456789.125", "0.3333333333333333",
			      "-2.5e+300"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		strata_value v = {.v.f64 = cases[i]};
		strata_buf b = {0};
		strata_value_to_json(STRATA_T_DOUBLE, &v, &b);
		strata_buf_putc(&b, 0);
		CU_ASSERT_STRING_EQUAL((char *)b.data, want[i]);
		CU_ASSERT_EQUAL(strtod((char *)b.data, NULL), cases[i]);
		strata_buf_free(&b);
	}
}

static void test_expired_leases_deleted(void)
{
	strata_wh *wh = open_wh();
	strata_mf *mf = strata_wh_mf(wh);
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	uint64_t id;
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 1, 5, 1000000, &id, &err), 0);
	tu_clock_advance(2000000);
	CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 1, 6, 1000000, &id, &err), 0);
	/* the ten expired ones were deleted: the environment holds one lease */
	char path[4096];
	snprintf(path, sizeof(path), "%s/manifest/leases", strata_wh_path(wh));
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 2);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, path, MDB_RDONLY, 0644), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "leases", 0, &dbi), 0);
	mdb_stat(txn, dbi, &st);
	CU_ASSERT_EQUAL(st.ms_entries, 2); /* the id counter and one lease */
	mdb_txn_abort(txn);
	mdb_env_close(env);
	tu_clock_real();
	strata_wh_close(wh);
}

static void test_mkdirs_fsyncs_parents(void)
{
	const char *dir = tu_tmpdir();
	char path[4096];
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	tu_fault_arm(TU_OP_FSYNC, 0, 0, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), 0);
	int fsyncs = tu_fault_calls(TU_OP_FSYNC);
	tu_fault_disarm();
	/* one parent per directory created, plus existing ancestors this
	 * process had not made durable yet */
	CU_ASSERT(fsyncs >= 3);
	tu_fault_arm(TU_OP_FSYNC, 0, 0, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), 0);
	CU_ASSERT_EQUAL(tu_fault_calls(TU_OP_FSYNC), 0); /* nothing new */
	tu_fault_disarm();
	/* and a failed fsync is reported */
	snprintf(path, sizeof(path), "%s/x/y", dir);
	tu_fault_arm(TU_OP_FSYNC, 1, EIO, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), -EIO);
	tu_fault_disarm();
	/* a directory someone else made (maybe without fsyncing its parent):
	 * its parent is fsynced too, and a real I/O error there counts */
	char made[4096];
	snprintf(made, sizeof(made), "%s/e", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(made, 0755), 0);
	tu_fault_arm(TU_OP_FSYNC, 1, EIO, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(made, 0755), -EIO);
	tu_fault_disarm();
	/* but an existing ancestor that cannot be opened (not ours) is fine,
	 * while a parent of a directory we created must be fsynced */
	snprintf(made, sizeof(made), "%s/g", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(made, 0755), 0);
	snprintf(path, sizeof(path), "%s/g/h", dir);
	tu_fault_arm(TU_OP_OPEN, 1, EACCES, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), 0);
	tu_fault_disarm();
	snprintf(path, sizeof(path), "%s/g/h/i", dir);
	tu_fault_arm(TU_OP_OPEN, 1, EACCES, false);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), -EACCES);
	tu_fault_disarm();
}

static void test_stale_plan_conflicts(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "id BIGINT PRIMARY KEY, v STRING", NULL,
						  NULL, (const char *[]){"write.bucket.num=1", FILES}, 2,
						  &err),
			      0);
	uint64_t v;
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":1,\"v\":\"a\"}", &v, &err), 0);
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":2,\"v\":\"b\"}", &v, &err), 0);
	strata_bucket_view stale, fresh;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load(wh, "t", "", 0, strata_now_us(), &stale, &err), 0);
	strata_job_plan ps, pf;
	strata_sort_plan(&stale, 0, &ps);
	CU_ASSERT_EQUAL(ps.ninputs, 2);
	/* another job replaces the inputs, and clean deletes them */
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load(wh, "t", "", 0, strata_now_us(), &fresh, &err), 0);
	strata_sort_plan(&fresh, 0, &pf);
	strata_job_result jr;
	strata_job_ctl ctl = {.owner = "test@x:1"};
	CU_ASSERT_EQUAL(strata_job_execute(wh, &fresh, &pf, &ctl, &jr, &err), 0);
	strata_bucket_view_free(&fresh);
	tu_clock_advance(10 * 1000000);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = 0;
	co.trash_s = 0;
	strata_clean_result cr;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &co, &cr, &err), 0);
	CU_ASSERT(cr.files_unlinked >= 2);
	int rc = strata_job_execute(wh, &stale, &ps, &ctl, &jr, &err);
	CU_ASSERT_EQUAL(rc, STRATA_ECONFLICT);
	strata_bucket_view_free(&stale);
	tu_clock_real();
	strata_wh_close(wh);
}

static void test_list_tables_and_intents(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "a", "id BIGINT PRIMARY KEY", NULL, NULL,
						  NULL, 0, &err), 0);
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_table_def *ts;
	strata_intent *in;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_tables_list(snap, a, &ts, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(strata_mf_intents_list(snap, a, &in, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 0);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_wh_close(wh);
}

static void test_clean_trash_zero_unlinks_now(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "id BIGINT PRIMARY KEY", NULL, NULL,
						  (const char *[]){"write.bucket.num=1", FILES}, 2, &err), 0);
	uint64_t v;
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":1}", &v, &err), 0);
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":2}", &v, &err), 0);
	strata_bucket_view bv;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load(wh, "t", "", 0, strata_now_us(), &bv, &err), 0);
	strata_job_plan plan;
	strata_sort_plan(&bv, 0, &plan);
	strata_job_result jr;
	strata_job_ctl ctl = {.owner = "test@x:1"};
	CU_ASSERT_EQUAL(strata_job_execute(wh, &bv, &plan, &ctl, &jr, &err), 0);
	strata_bucket_view_free(&bv);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = 0;
	co.trash_s = 0;
	strata_clean_result cr;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &co, &cr, &err), 0);
	CU_ASSERT_EQUAL(cr.files_deleted, 2);
	CU_ASSERT_EQUAL(cr.files_unlinked, 2);
	CU_ASSERT_EQUAL(cr.trash_files, 0);
	strata_wh_close(wh);
}

static void test_set_props_compare_and_set(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "id BIGINT PRIMARY KEY", NULL, NULL,
						  NULL, 0, &err), 0);
	strata_mf_snap *snap;
	strata_table_def base;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "t", &base, &err), 0);
	strata_mf_snap_close(snap);
	/* someone else changes retention after we read */
	CU_ASSERT_EQUAL(strata_table_set_props(wh, "t", (const char *[]){"acid.data.retain.hours=5"},
					       1, &err), 0);
	strata_table_def mine = base;
	mine.zstd_level = 9;
	CU_ASSERT_EQUAL(strata_mf_table_set_props(strata_wh_mf(wh), &base, &mine, &err),
			STRATA_ECONFLICT);
	/* through the table layer, both changes survive */
	CU_ASSERT_EQUAL(strata_table_set_props(wh, "t", (const char *[]){"write.parquet.zstd.level=9"},
					       1, &err), 0);
	strata_table_def now;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "t", &now, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL(now.retain_hours, 5);
	CU_ASSERT_EQUAL(now.zstd_level, 9);
	strata_wh_close(wh);
}

static void test_clean_waits_for_planning_lease(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "id BIGINT PRIMARY KEY", NULL, NULL,
						  (const char *[]){"write.bucket.num=1", FILES}, 2, &err), 0);
	uint64_t v;
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":1}", &v, &err), 0);
	CU_ASSERT_EQUAL(write_json(wh, "t", "{\"id\":2}", &v, &err), 0);
	strata_bucket_view bv;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load(wh, "t", "", 0, strata_now_us(), &bv, &err), 0);
	strata_job_plan plan;
	strata_sort_plan(&bv, 0, &plan);
	strata_job_result jr;
	strata_job_ctl ctl = {.owner = "test@x:1"};
	CU_ASSERT_EQUAL(strata_job_execute(wh, &bv, &plan, &ctl, &jr, &err), 0);
	uint32_t table_id = bv.table.id;
	strata_bucket_view_free(&bv);
	/* a reader is planning: it holds the whole-table lease */
	uint64_t lease;
	CU_ASSERT_EQUAL(strata_mf_lease_take(strata_wh_mf(wh), table_id, STRATA_LEASE_ALL,
					     60000000, &lease, &err), 0);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = 0;
	co.trash_s = 0;
	strata_clean_result cr;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &co, &cr, &err), 0);
	CU_ASSERT_EQUAL(cr.files_deleted, 0);
	CU_ASSERT_EQUAL(cr.kept_lease, 2);
	/* marked by a clean that planned before the lease: the move waits */
	CU_ASSERT_EQUAL(strata_mf_lease_take(strata_wh_mf(wh), table_id, 0, 1, &v, &err), 0);
	strata_mf_lease_release(strata_wh_mf(wh), lease);
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_table_files(snap, table_id, a, &fs, &n, &err), 0);
	strata_mf_snap_close(snap);
	uint64_t ids[8];
	size_t nids = 0;
	for (size_t i = 0; i < n; i++)
		if (fs[i].removed_version)
			ids[nids++] = fs[i].id;
	CU_ASSERT_EQUAL(nids, 2);
	CU_ASSERT_EQUAL(strata_mf_commit_clean(strata_wh_mf(wh), table_id, ids, nids, &v, NULL, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_lease_take(strata_wh_mf(wh), table_id, STRATA_LEASE_ALL, 60000000,
					     &lease, &err), 0);
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &co, &cr, &err), 0);
	CU_ASSERT_EQUAL(cr.files_deleted, 0); /* still in their bucket directory */
	strata_mf_lease_release(strata_wh_mf(wh), lease);
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &co, &cr, &err), 0);
	CU_ASSERT_EQUAL(cr.files_deleted, 2);
	CU_ASSERT_EQUAL(cr.files_unlinked, 2);
	strata_arena_free(a);
	strata_wh_close(wh);
}

/* The per-process cache of durable directories must not skip the mkdir: a
 * directory removed since (trash emptied by an operator, a test) comes back. */
static void test_mkdirs_recreates_removed_dir(void)
{
	const char *dir = tu_tmpdir();
	char path[4096];
	snprintf(path, sizeof(path), "%s/t/.trash", dir);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), 0);
	CU_ASSERT_EQUAL(rmdir(path), 0);
	CU_ASSERT_EQUAL(strata_io_mkdirs(path, 0755), 0);
	struct stat st;
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT(S_ISDIR(st.st_mode));
}

static void test_orphan_scan_of_empty_table(void)
{
	strata_wh *wh = open_wh();
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "empty", "id BIGINT PRIMARY KEY", NULL, NULL,
						  NULL, 0, &err), 0);
	/* a file no entry knows: what a writer killed before its commit leaves */
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/data/empty/_/b0000", strata_wh_path(wh));
	CU_ASSERT_EQUAL_FATAL(strata_io_mkdirs(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/w0000000000000001.avro", dir);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, "x", 1), 0);
	tu_clock_manual(((int64_t)time(NULL) + 3600) * 1000000);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.orphan_age_s = 0;
	co.orphan_max_fraction = 1; /* the stray is all of the table's bytes */
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "empty", &co, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 1);
	tu_clock_real();
	strata_wh_close(wh);
}

static void register_regress(void)
{
	CU_pSuite s = CU_add_suite("regress", NULL, NULL);
	TU_ADD(s, test_big_row);
	TU_ADD(s, test_empty_write_with_token);
	TU_ADD(s, test_partition_spec_separators);
	TU_ADD(s, test_double_shortest);
	TU_ADD(s, test_expired_leases_deleted);
	TU_ADD(s, test_mkdirs_fsyncs_parents);
	TU_ADD(s, test_orphan_scan_of_empty_table);
	TU_ADD(s, test_mkdirs_recreates_removed_dir);
	TU_ADD(s, test_stale_plan_conflicts);
	TU_ADD(s, test_list_tables_and_intents);
	TU_ADD(s, test_clean_trash_zero_unlinks_now);
	TU_ADD(s, test_set_props_compare_and_set);
	TU_ADD(s, test_clean_waits_for_planning_lease);
}

TU_MAIN(register_regress)
