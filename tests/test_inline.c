/*
 * tests/test_inline.c — inline row files (write.inline.max-bytes, issue 16
 * item 3): a writer's row file this small lives in its manifest entry, and
 * no file exists for it anywhere.
 *
 *   - a small commit on 16 buckets writes no file at all, its entries say
 *     inline, and every read (scan, AS OF, changes, point lookup) returns
 *     what was written; `strata check` passes;
 *   - the limit: 0 turns it off (files, as before); a commit over the
 *     limit writes files; a row file whose rows looked small enough but
 *     whose encoding is over the limit becomes a file after all;
 *   - the daemon's work goes on: a sort reads inline inputs into a columnar
 *     file; clean marks them deleted, undelete brings them back (every
 *     version reads as before), and a clean past the trash window forgets
 *     them — and none of it ever looked for a file;
 *   - damage: inline bytes that do not match their entry's content hash
 *     fail a read naming the file and the reason, `strata check` reports
 *     them, and clean refuses the table;
 *   - the manifest refuses what may never be inline (a job's output, bytes
 *     that do not match the entry's size);
 *   - a writer killed with -9 in the middle of inline commits leaves every
 *     acknowledged version readable and the manifest consistent.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"

#include "manifest/manifest.h"
#include "table/table.h"

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------- */

/* The test's warehouse: a directory, or a catalog and/or data on object
 * storage when the suite runs under tests/on-catalog or tests/on-s3. */
static strata_wh *open_wh(char *whp, size_t n)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/wh", tu_tmpdir());
	snprintf(whp, n, "%s", tu_wh_name(dir));
	strata_wh *wh = NULL;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	return wh;
}

static int make_table(strata_wh *wh, const char *name, const char *const *props, size_t n)
{
	strata_err e;
	int rc = strata_table_create(wh, name, "k BIGINT NOT NULL PRIMARY KEY, v STRING", NULL, NULL,
				     props, n, &e);
	if (rc)
		fprintf(stderr, "\n  create: %s\n", e.msg);
	return rc;
}

/* Commit rows k in [from, to) with value "<tag><k>"; returns the version. */
static uint64_t put_rows(strata_wh *wh, const char *table, int from, int to, const char *tag)
{
	strata_txn *t;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, table, &t, &e), 0);
	for (int k = from; k < to; k++) {
		json_t *o = json_pack("{s:i, s:s+}", "k", k, "v", tag, "");
		char v[64];
		snprintf(v, sizeof(v), "%s%d", tag, k);
		json_object_set_new(o, "v", json_string(v));
		CU_ASSERT_EQUAL_FATAL(strata_txn_put_json(t, o, &e), 0);
		json_decref(o);
	}
	uint64_t ver = 0;
	int rc = strata_txn_commit(t, NULL, &ver, NULL, &e);
	if (rc)
		fprintf(stderr, "\n  commit: %s\n", e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return ver;
}

/* Every row at version v (0: latest) as JSON lines, in scan order; NULL
 * with *err set when the read fails. */
static char *dump(strata_wh *wh, const char *table, uint64_t v, strata_err *err)
{
	strata_read_opts ro = {.as_of_version = v};
	strata_scan *sc;
	if (strata_scan_open(wh, table, &ro, &sc, err) != 0)
		return NULL;
	strata_buf out = {0};
	const strata_row *row;
	const char *const *pv;
	int rc;
	while ((rc = strata_scan_next(sc, &row, &pv, err)) == 1) {
		strata_row_to_json(strata_scan_schema(sc), row, false, &out);
		strata_buf_putc(&out, '\n');
	}
	strata_scan_close(sc);
	if (rc < 0) {
		free(out.data);
		return NULL;
	}
	strata_buf_putc(&out, 0);
	return (char *)out.data;
}

typedef struct entry_count {
	int total, live, is_inline, deleted;
} entry_count;

static entry_count count_entries(strata_wh *wh, const char *table)
{
	entry_count c = {0};
	strata_mf_snap *snap;
	strata_err e;
	strata_arena *a = strata_arena_new();
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &e), 0);
	strata_table_def t;
	strata_file_entry *fs = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, table, &t, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_files(snap, t.id, a, &fs, &n, &e), 0);
	strata_mf_snap_close(snap);
	for (size_t i = 0; i < n; i++) {
		c.total++;
		c.live += fs[i].removed_version == 0;
		c.is_inline += strata_file_is_inline(&fs[i]);
		c.deleted += fs[i].is_deleted;
	}
	strata_arena_free(a);
	return c;
}

static int count_file(void *ctx, const char *name, const strata_data_stat *st)
{
	(void)name;
	(void)st;
	(*(int *)ctx)++;
	return 0;
}

/* Data files of table, the trash included: in its directory, or objects
 * under its prefix. */
static int files_of(strata_wh *wh, const char *table)
{
	char dir[PATH_MAX + 64];
	snprintf(dir, sizeof(dir), "%s/%s", strata_mf_data_dir(strata_wh_mf(wh)), table);
	int n = 0;
	strata_err e;
	CU_ASSERT_EQUAL(strata_data_list(dir, count_file, &n, &e), 0);
	return n;
}

static size_t check_findings(strata_wh *wh, const char *table)
{
	size_t n = 99;
	strata_err e;
	int rc = strata_mf_check(strata_wh_mf(wh), table, NULL, NULL, &n, &e);
	if (rc && n == 0)
		fprintf(stderr, "\n  check: %s\n", e.msg);
	return rc && n == 0 ? 99 : n; /* findings fail the check: their count */
}

/* Run `strata -W whp ARGS`, its output (stderr too) into *out; a failure
 * when is_ok is true is printed. */
static int cli(const char *whp, const char *args, char **out, bool is_ok)
{
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "'%s' -W '%s' %s 2>&1", tu_bin("strata"), whp, args);
	int rc = tu_run(cmd, out);
	if (rc && is_ok)
		fprintf(stderr, "\n  strata %s: exit %d: %s\n", args, rc, *out ? *out : "");
	return rc;
}

/* ---- a small commit is inline -------------------------------------------------------------- */

static void test_small_commit_is_inline(void)
{
	char whp[PATH_MAX];
	strata_wh *wh = open_wh(whp, sizeof(whp));
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", NULL, 0), 0); /* defaults: 16 buckets */
	uint64_t v1 = put_rows(wh, "t", 0, 10, "a");
	uint64_t v2 = put_rows(wh, "t", 5, 15, "b");
	entry_count c = count_entries(wh, "t");
	CU_ASSERT(c.total >= 10); /* 10 rows over 16 buckets, twice */
	CU_ASSERT_EQUAL(c.is_inline, c.total);
	CU_ASSERT_EQUAL(files_of(wh, "t"), 0);
	/* every read */
	strata_err e;
	char *now = dump(wh, "t", 0, &e);
	char *at1 = dump(wh, "t", v1, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(now);
	CU_ASSERT_PTR_NOT_NULL_FATAL(at1);
	int n = 0, nb = 0;
	for (const char *p = now; (p = strchr(p, '\n')); p++)
		n++;
	for (const char *p = now; (p = strstr(p, "\"b")); p++)
		nb++;
	CU_ASSERT_EQUAL(n, 15);
	CU_ASSERT_EQUAL(nb, 10);
	CU_ASSERT_PTR_NULL(strstr(at1, "\"b"));
	free(now);
	free(at1);
	strata_scan *sc;
	CU_ASSERT_EQUAL_FATAL(strata_changes_open(wh, "t", v1, v2, NULL, &sc, &e), 0);
	const strata_row *row;
	const char *const *pv;
	int nch = 0;
	while (strata_scan_next(sc, &row, &pv, &e) == 1)
		nch++;
	strata_scan_close(sc);
	CU_ASSERT_EQUAL(nch, 10);
	strata_arena *a = strata_arena_new();
	json_t *key = json_pack("{s:i}", "k", 7);
	strata_row r;
	CU_ASSERT_EQUAL(strata_get_json(wh, "t", key, NULL, a, &r, NULL, NULL, &e), 1);
	strata_buf rb = {0};
	CU_ASSERT_EQUAL(r.vals[1].v.s.len, 2);
	CU_ASSERT_EQUAL(memcmp(r.vals[1].v.s.ptr, "b7", 2), 0);
	strata_buf_free(&rb);
	json_decref(key);
	strata_arena_free(a);
	CU_ASSERT_EQUAL(check_findings(wh, "t"), 0);
	/* the CLI says where the bytes are */
	char *out = NULL;
	CU_ASSERT_EQUAL(cli(whp, "files t", &out, true), 0);
	CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "(inline: in the manifest)") : NULL);
	free(out);
	strata_wh_close(wh);
}

/* ---- the limit ----------------------------------------------------------------------------- */

static void test_limit(void)
{
	char whp[PATH_MAX];
	strata_wh *wh = open_wh(whp, sizeof(whp));
	/* off: files, as before */
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "off",
					 (const char *const[]){"write.bucket.num=1",
							       "write.inline.max-bytes=0"},
					 2),
			      0);
	put_rows(wh, "off", 0, 3, "x");
	entry_count c = count_entries(wh, "off");
	CU_ASSERT_EQUAL(c.total, 1);
	CU_ASSERT_EQUAL(c.is_inline, 0);
	CU_ASSERT_EQUAL(files_of(wh, "off"), 1);
	/* over the limit: a file */
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "big", (const char *const[]){"write.bucket.num=1"}, 1),
			      0);
	put_rows(wh, "big", 0, 500, "a-longer-value-to-pass-the-limit-");
	c = count_entries(wh, "big");
	CU_ASSERT_EQUAL(c.total, 1);
	CU_ASSERT_EQUAL(c.is_inline, 0);
	CU_ASSERT_EQUAL(files_of(wh, "big"), 1);
	/* rows that look small (about 22 bytes) but encode with the Avro
	 * header to a few hundred: the bytes become a file after all */
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "spill",
					 (const char *const[]){"write.bucket.num=1",
							       "write.inline.max-bytes=100"},
					 2),
			      0);
	put_rows(wh, "spill", 0, 1, "s");
	c = count_entries(wh, "spill");
	CU_ASSERT_EQUAL(c.total, 1);
	CU_ASSERT_EQUAL(c.is_inline, 0);
	CU_ASSERT_EQUAL(files_of(wh, "spill"), 1);
	strata_err e;
	char *d = dump(wh, "spill", 0, &e);
	CU_ASSERT_PTR_NOT_NULL(d ? strstr(d, "\"s0\"") : NULL);
	free(d);
	CU_ASSERT_EQUAL(check_findings(wh, NULL), 0);
	/* the property's range */
	strata_table_def def;
	strata_table_def_defaults(&def);
	CU_ASSERT_EQUAL(def.inline_max_bytes, STRATA_INLINE_DEFAULT_BYTES);
	CU_ASSERT_EQUAL(strata_table_prop_apply(&def, "write.inline.max-bytes=65537", &e),
			STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "write.inline.max-bytes"));
	CU_ASSERT_EQUAL(strata_table_prop_apply(&def, "write.inline.max-bytes=65536", &e), 0);
	strata_wh_close(wh);
}

/* ---- sort, clean, undelete, forget ---------------------------------------------------------- */

static void test_sort_clean_undelete(void)
{
	char whp[PATH_MAX];
	strata_wh *wh = open_wh(whp, sizeof(whp));
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t",
					 (const char *const[]){"write.bucket.num=2",
							       "acid.data.retain.hours=0"},
					 2),
			      0);
	uint64_t vs[4];
	char *want[4];
	strata_err e;
	for (int i = 0; i < 4; i++) {
		vs[i] = put_rows(wh, "t", i * 3, i * 3 + 5, i % 2 ? "odd" : "even");
		want[i] = dump(wh, "t", vs[i], &e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(want[i]);
	}
	entry_count c = count_entries(wh, "t");
	CU_ASSERT_EQUAL(c.is_inline, c.total);
	char *out = NULL;
	CU_ASSERT_EQUAL_FATAL(cli(whp, "sort t", &out, true), 0);
	free(out);
	c = count_entries(wh, "t");
	CU_ASSERT_EQUAL(c.live, 2); /* a columnar file per bucket */
	CU_ASSERT_EQUAL(files_of(wh, "t"), 2);
	for (int i = 0; i < 4; i++) {
		char *got = dump(wh, "t", vs[i], &e);
		CU_ASSERT_PTR_NOT_NULL(got);
		CU_ASSERT_STRING_EQUAL(got ? got : "", want[i]);
		free(got);
	}
	/* clean takes them (retention 0, no grace): marked deleted, nothing
	 * on disk moves but the columnar files stay */
	CU_ASSERT_EQUAL(cli(whp, "clean t --grace-s 0 --trash-s 3600", &out, true), 0);
	free(out);
	c = count_entries(wh, "t");
	CU_ASSERT(c.deleted >= 4);
	CU_ASSERT_EQUAL(files_of(wh, "t"), 2);
	CU_ASSERT_PTR_NULL(dump(wh, "t", vs[0], &e));
	CU_ASSERT_EQUAL(e.code, STRATA_ERETENTION);
	/* undelete: every version reads as before */
	CU_ASSERT_EQUAL(cli(whp, "undelete t --all", &out, true), 0);
	free(out);
	for (int i = 0; i < 4; i++) {
		char *got = dump(wh, "t", vs[i], &e);
		CU_ASSERT_PTR_NOT_NULL(got);
		if (!got)
			fprintf(stderr, "\n  version %llu: %s\n", (unsigned long long)vs[i], e.msg);
		CU_ASSERT_STRING_EQUAL(got ? got : "", want[i]);
		free(got);
	}
	CU_ASSERT_EQUAL(check_findings(wh, "t"), 0);
	/* a clean with no trash window forgets them: only the columnar
	 * entries are left */
	CU_ASSERT_EQUAL(cli(whp, "clean t --grace-s 0 --trash-s 0", &out, true), 0);
	free(out);
	c = count_entries(wh, "t");
	CU_ASSERT_EQUAL(c.total, 2);
	CU_ASSERT_EQUAL(c.is_inline, 0);
	char *got = dump(wh, "t", 0, &e);
	CU_ASSERT_STRING_EQUAL(got ? got : "", want[3]);
	free(got);
	CU_ASSERT_EQUAL(check_findings(wh, "t"), 0);
	for (int i = 0; i < 4; i++)
		free(want[i]);
	strata_wh_close(wh);
}

/* ---- damage ------------------------------------------------------------------------------------- */

/* Commit one inline row file of rows k = 1, 2 whose bytes have one byte
 * changed after the content hash was taken (what damage to the manifest
 * record would look like). */
static void commit_damaged(strata_wh *wh, const char *table)
{
	strata_mf_snap *snap;
	strata_err e;
	strata_table_def t;
	strata_arena *a = strata_arena_new();
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, table, &t, &e), 0);
	strata_schema *s = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_mf_schema_get(snap, t.id, t.schema_version, &s, &e), 0);
	strata_mf_snap_close(snap);
	strata_buf mem = {0};
	strata_write_opts wo;
	strata_write_opts_default(&wo, STRATA_FMT_AVRO);
	wo.mem_out = &mem;
	strata_fwriter *w;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open("damaged.avro", s, &wo, &w, &e), 0);
	for (int k = 1; k <= 2; k++) {
		strata_value vals[2] = {{.v.i64 = k}, {.v.s = {.ptr = (const uint8_t *)"vv", .len = 2}}};
		strata_row row = {.vals = vals, .ncols = 2, .op = STRATA_OP_UPSERT};
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &row, &e), 0);
	}
	strata_file_stats st;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
	CU_ASSERT_EQUAL_FATAL(st.bytes, mem.len);
	CU_ASSERT(st.has_content_hash);
	mem.data[mem.len - 3] ^= 0x20; /* inside the last block's records */
	strata_mf_new_file nf = {.partition = "", .part_buckets = 1, .bucket = 0,
				 .format = STRATA_FMT_AVRO, .name = "damaged.avro",
				 .schema_version = t.schema_version, .stats = &st,
				 .inline_file = {.data = mem.data, .len = mem.len}};
	strata_mf_write mw = {.table = table, .schema_version = t.schema_version, .files = &nf,
			      .nfiles = 1};
	uint64_t v;
	CU_ASSERT_EQUAL(strata_mf_commit_write(strata_wh_mf(wh), &mw, &v, NULL, &e), 0);
	/* the manifest refuses bytes that do not match the size ... */
	nf.inline_file.len = mem.len - 1;
	CU_ASSERT_EQUAL(strata_mf_commit_write(strata_wh_mf(wh), &mw, &v, NULL, &e), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "inline"));
	/* ... and a columnar file kept inline */
	nf.inline_file.len = mem.len;
	nf.format = STRATA_FMT_PARQUET;
	CU_ASSERT_EQUAL(strata_mf_commit_write(strata_wh_mf(wh), &mw, &v, NULL, &e), STRATA_EINVAL);
	strata_file_stats_free(&st);
	free(mem.data);
	strata_schema_free(s);
	strata_arena_free(a);
}

static void test_damaged_inline_bytes(void)
{
	char whp[PATH_MAX];
	strata_wh *wh = open_wh(whp, sizeof(whp));
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", (const char *const[]){"write.bucket.num=1"}, 1),
			      0);
	put_rows(wh, "t", 0, 3, "ok");
	commit_damaged(wh, "t");
	strata_err e;
	char *d = dump(wh, "t", 0, &e);
	CU_ASSERT_PTR_NULL(d);
	free(d);
	CU_ASSERT_EQUAL(e.code, STRATA_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "damaged.avro"));
	if (!strstr(e.msg, "damaged.avro"))
		fprintf(stderr, "\n  read said: %s\n", e.msg);
	CU_ASSERT_EQUAL(check_findings(wh, "t"), 1);
	char *out = NULL;
	CU_ASSERT_NOT_EQUAL(cli(whp, "check", &out, false), 0);
	CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "do not match its content hash") : NULL);
	free(out);
	CU_ASSERT_NOT_EQUAL(cli(whp, "clean t --grace-s 0", &out, false), 0);
	free(out);
	strata_wh_close(wh);
}

/* ---- kill -9 in the middle of inline commits ----------------------------------------------- */

static void test_kill_during_inline_commits(void)
{
	char whp[PATH_MAX];
	strata_wh *wh = open_wh(whp, sizeof(whp));
	CU_ASSERT_EQUAL_FATAL(make_table(wh, "t", NULL, 0), 0);
	strata_wh_close(wh);
	char ack[PATH_MAX];
	snprintf(ack, sizeof(ack), "%s/acked", tu_tmpdir());
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		strata_wh *cw;
		strata_err ce;
		if (strata_wh_open(whp, false, &cw, &ce) != 0)
			_exit(3);
		FILE *f = fopen(ack, "w");
		for (int i = 0;; i++) {
			strata_txn *t;
			if (strata_txn_begin(cw, "t", &t, &ce) != 0)
				_exit(4);
			for (int k = 0; k < 10; k++) {
				json_t *o = json_pack("{s:i, s:i}", "k", i * 10 + k, "v", i);
				json_object_set_new(o, "v", json_sprintf("r%d", i));
				if (strata_txn_put_json(t, o, &ce) != 0)
					_exit(5);
				json_decref(o);
			}
			uint64_t v;
			if (strata_txn_commit(t, NULL, &v, NULL, &ce) != 0)
				_exit(6);
			fprintf(f, "%llu %d\n", (unsigned long long)v, i);
			fflush(f);
		}
	}
	usleep(400 * 1000);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	CU_ASSERT(WIFSIGNALED(st));
	wh = NULL;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, false, &wh, &e), 0);
	CU_ASSERT_EQUAL(check_findings(wh, "t"), 0);
	/* every acknowledged batch reads at its version, whole */
	size_t len = 0;
	char *acked = tu_read_file(ack, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(acked);
	int nacked = 0;
	for (char *p = acked; *p;) {
		unsigned long long v;
		int i, used;
		if (sscanf(p, "%llu %d\n%n", &v, &i, &used) != 2)
			break; /* a torn last line: not acknowledged */
		p += used;
		nacked++;
		if (nacked % 7 != 1)
			continue; /* a sample: every read costs the whole table */
		char *d = dump(wh, "t", v, &e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		char want[32];
		snprintf(want, sizeof(want), "\"r%d\"", i);
		int n = 0;
		for (const char *q = d; (q = strstr(q, want)); q++)
			n++;
		CU_ASSERT_EQUAL(n, 10);
		free(d);
	}
	CU_ASSERT(nacked > 0);
	free(acked);
	entry_count c = count_entries(wh, "t");
	CU_ASSERT_EQUAL(c.is_inline, c.total);
	CU_ASSERT_EQUAL(files_of(wh, "t"), 0);
	strata_wh_close(wh);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("inline", NULL, NULL);
	TU_ADD(s, test_small_commit_is_inline);
	TU_ADD(s, test_limit);
	TU_ADD(s, test_sort_clean_undelete);
	TU_ADD(s, test_damaged_inline_bytes);
	TU_ADD(s, test_kill_during_inline_commits);
}

TU_MAIN(register_tests)
