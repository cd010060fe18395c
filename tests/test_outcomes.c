/*
 * tests/test_outcomes.c — commits whose outcome is uncertain, idempotency
 * tokens that outlive their versions, and clean on a full disk (issue 11).
 *
 *   uncertain    the manifest commit fails inside mdb_txn_commit, through
 *                the test seam strata_mf_commit_fault: once after LMDB
 *                really committed, once before it did.  Either way the
 *                caller gets STRATA_EUNCERTAIN, the handle refuses every
 *                later call (STRATA_EPOISONED, saying why) until reopened,
 *                and nobody deletes the new files: a writer's row files and
 *                a job's outputs stay.  Reopened, every entry the manifest
 *                names exists and every version reads; a writer retrying
 *                with its token gets the first version (committed) or
 *                commits once (not committed); recovery removes a job's
 *                outputs only when the commit did not happen.
 *   tokens       a retry after clean expired the token's version, and after
 *                purge, repeats instead of committing again; a retry past
 *                write.token.retain.hours (the token forgotten) is refused
 *                with STRATA_ERETENTION and commits nothing, also after the
 *                horizon is raised again; an empty token, a token without a
 *                batch time and one from the future are errors (library
 *                and CLI).
 *   full disk    (root only: two size-limited tmpfs mounted in the test's
 *                scratch directory, one under data/ and one under
 *                manifest/; skipped loudly otherwise) both full: clean
 *                unlinks the expired trash first, then reports the failed
 *                commit with what it freed.
 *   stratad      (root only: a tmpfs under manifest/, full, a reader
 *                pinning its free pages) a real stratad's sort commit fails:
 *                stratad reopens the warehouse once no job runs, stays up,
 *                and sorts the bucket once there is space again.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOUR_US JF_HOUR_US

/* ---- the seam ------------------------------------------------------------------------- */

static int fault_after_n = -1, fault_before_n = -1; /* commits to let through first */

static int fault_fn(bool is_after)
{
	int *n = is_after ? &fault_after_n : &fault_before_n;
	if (*n < 0)
		return 0;
	if ((*n)-- == 0) {
		*n = -1;
		return EIO;
	}
	return 0;
}

/* Fail manifest commit number skip + 1 from now. */
static void fault_arm(bool is_after, int skip)
{
	fault_after_n = fault_before_n = -1;
	if (is_after)
		fault_after_n = skip;
	else
		fault_before_n = skip;
	strata_mf_commit_fault = fault_fn;
}

static void fault_disarm(void)
{
	strata_mf_commit_fault = NULL;
	fault_after_n = fault_before_n = -1;
}

/* ---- helpers ----------------------------------------------------------------------------- */

/* Every entry not marked deleted names a file that exists; every version
 * from the earliest readable one reads.  Returns the number of problems. */
static int manifest_files_exist(jf *f, uint32_t nb)
{
	int bad = 0;
	for (uint32_t b = 0; b < nb; b++) {
		strata_arena *a = strata_arena_new();
		strata_file_entry *es;
		size_t n = jf_entries(f, b, a, &es);
		for (size_t i = 0; i < n; i++) {
			if (es[i].is_deleted)
				continue;
			char p[PATH_MAX];
			jf_file_path(f, &es[i], p, sizeof(p));
			struct stat st;
			if (stat(p, &st) != 0) {
				fprintf(stderr, "\nthe manifest names \"%s\", which is missing\n", p);
				bad++;
			}
		}
		strata_arena_free(a);
	}
	uint64_t latest = jf_version(f);
	for (uint64_t v = 1; v <= latest; v++) {
		int rc;
		char *d = jf_dump_at(f, v, &rc);
		if (rc && rc != STRATA_ERETENTION) {
			fprintf(stderr, "\nversion %llu does not read: %s\n", (unsigned long long)v, d);
			bad++;
		}
		free(d);
	}
	return bad;
}

/* Files under the table's data directory, trash excluded. */
static int data_files(jf *f)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/data/%s", f->dir, f->table);
	return tu_count_files(dir, ".trash");
}

/* One writer transaction of jsonl rows with an optional token. */
static int put_tok(jf *f, const char *jsonl, const char *token, int64_t token_us, uint64_t *v,
		   bool *rep, strata_err *e)
{
	strata_txn *t;
	int rc = strata_txn_begin(f->wh, f->table, &t, e);
	if (rc)
		return rc;
	const char *p = jsonl;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_error_t je;
		json_t *o = json_loadb(p, len, 0, &je);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		rc = strata_txn_put_json(t, o, e);
		json_decref(o);
		if (rc) {
			strata_txn_abort(t);
			return rc;
		}
		p = nl ? nl + 1 : p + len;
	}
	strata_commit_opts co = {.token = token, .token_us = token_us};
	*rep = false;
	return strata_txn_commit(t, &co, v, rep, e);
}

static char *scan_now(jf *f)
{
	strata_read_opts ro = {0};
	int rc;
	return jf_dump(f, &ro, &rc, NULL);
}

/* ---- uncertain commits: writers ------------------------------------------------------------ */

static void writer_uncertain(bool is_after)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 4, 24);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}");
	uint64_t v0 = jf_version(&f);
	int files0 = data_files(&f);
	int64_t batch_us = strata_now_us();
	const char *rows = "{\"pk\":1,\"v\":\"new\"}\n{\"pk\":3,\"v\":\"c\"}\n{\"pk\":4,\"v\":\"d\"}";
	strata_err e;
	strata_err_clear(&e);
	uint64_t v = 0;
	bool rep;
	fault_arm(is_after, 0); /* the writer's one commit */
	int rc = put_tok(&f, rows, "batch-7", batch_us, &v, &rep, &e);
	fault_disarm();
	CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "uncertain"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "same token"));
	/* the new row files stay: a committed version may name them */
	int files1 = data_files(&f);
	CU_ASSERT(files1 > files0);
	/* the handle refuses everything until reopened, saying why */
	CU_ASSERT_TRUE(strata_mf_is_broken(strata_wh_mf(f.wh)));
	strata_txn *t = NULL;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_txn_begin(f.wh, f.table, &t, &e), STRATA_EPOISONED);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "uncertain"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "reopen"));
	strata_mf_snap *snap = NULL;
	CU_ASSERT_EQUAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &e), STRATA_EPOISONED);
	CU_ASSERT_EQUAL(strata_mf_tag_put(strata_wh_mf(f.wh), "t", "x", 1, &e), STRATA_EPOISONED);
	/* reopened: the version is there or not, and nothing it names is missing */
	jf_close_wh(&f);
	jf_open_wh(&f);
	CU_ASSERT_EQUAL(jf_version(&f), is_after ? v0 + 1 : v0);
	CU_ASSERT_EQUAL(manifest_files_exist(&f, 4), 0);
	/* the retry with the same token decides */
	tu_clock_advance(60 * 1000000);
	rc = put_tok(&f, rows, "batch-7", batch_us, &v, &rep, &e);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(v, v0 + 1);
	CU_ASSERT_EQUAL(rep, is_after);
	rc = put_tok(&f, rows, "batch-7", batch_us, &v, &rep, &e);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(v, v0 + 1);
	CU_ASSERT_EQUAL(jf_version(&f), v0 + 1);
	char *d = scan_now(&f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"new\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"d\""));
	free(d);
	CU_ASSERT_EQUAL(manifest_files_exist(&f, 4), 0);
	jf_close(&f);
	tu_clock_real();
}

static void test_writer_uncertain_committed(void)
{
	writer_uncertain(true);
}

static void test_writer_uncertain_not_committed(void)
{
	writer_uncertain(false);
}

/* ---- uncertain commits: jobs ------------------------------------------------------------------- */

static void job_uncertain(bool is_after)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 24);
	for (int i = 0; i < 4; i++) {
		char row[64];
		snprintf(row, sizeof(row), "{\"pk\":%d,\"v\":\"r%d\"}", i, i);
		jf_put(&f, row);
	}
	uint64_t v0 = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_err e;
	strata_err_clear(&e);
	strata_job_result res;
	fault_arm(is_after, 2); /* claim, intent, then the job's commit */
	int rc = jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &e);
	fault_disarm();
	CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
	/* the output stays, so does the intent */
	char dir[PATH_MAX];
	jf_bucket_dir(&f, 0, dir, sizeof(dir));
	int on_disk = tu_count_files(dir, NULL);
	CU_ASSERT_EQUAL(on_disk, 5); /* 4 row files + 1 columnar output */
	jf_close_wh(&f);
	jf_open_wh(&f);
	CU_ASSERT_EQUAL(jf_version(&f), is_after ? v0 + 1 : v0);
	CU_ASSERT_EQUAL(jf_intents(&f), is_after ? 0u : 1u);
	CU_ASSERT_EQUAL(manifest_files_exist(&f, 1), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	/* recovery, once the job's claim expired, removes the outputs only if
	 * the commit did not happen */
	tu_clock_advance(2 * HOUR_US);
	size_t recovered = 0;
	CU_ASSERT_EQUAL(strata_recover_intents(f.wh, NULL, &recovered, &e), 0);
	CU_ASSERT_EQUAL(recovered, is_after ? 0u : 1u);
	CU_ASSERT_EQUAL(jf_intents(&f), 0u);
	char why[300];
	CU_ASSERT_EQUAL(jf_disk_check(&f, 0, why, sizeof(why)), 0);
	if (why[0])
		fprintf(stderr, "\n%s\n", why);
	CU_ASSERT_EQUAL(manifest_files_exist(&f, 1), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

static void test_job_uncertain_committed(void)
{
	job_uncertain(true);
}

static void test_job_uncertain_not_committed(void)
{
	job_uncertain(false);
}

/* ---- tokens ------------------------------------------------------------------------------------- */

static void clean_now(jf *f, strata_clean_result *r)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 0;
	o.orphan_age_s = -1;
	strata_err e;
	strata_err_clear(&e);
	int rc = strata_clean_table(f->wh, f->table, &o, r, &e);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", e.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

static bool version_kept(jf *f, uint64_t v)
{
	strata_mf_snap *snap;
	strata_err e;
	strata_table_def t;
	strata_version_rec r;
	strata_arena *a = strata_arena_new();
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f->wh), &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, f->table, &t, &e), 0);
	bool is_kept = strata_mf_version_get(snap, t.id, v, a, &r, &e) == 0;
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return is_kept;
}

/* A retry after clean expired the token's version repeats (it used to
 * commit again, overwriting the newer value of pk 1). */
static void test_token_outlives_version_expiry(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 1);
	int64_t batch_us = strata_now_us();
	uint64_t v1, v;
	bool rep;
	strata_err e;
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v1, &rep, &e), 0);
	tu_clock_advance(3 * HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"newer\"}");
	tu_clock_advance(3 * HOUR_US);
	jf_put(&f, "{\"pk\":2,\"v\":\"x\"}");
	strata_clean_result r;
	clean_now(&f, &r);
	CU_ASSERT(r.versions_expired > 0);
	CU_ASSERT_FALSE(version_kept(&f, v1));
	uint64_t before = jf_version(&f);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v, &rep, &e), 0);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(v, v1);
	CU_ASSERT_EQUAL(jf_version(&f), before);
	char *d = scan_now(&f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"newer\""));
	CU_ASSERT_PTR_NULL(strstr(d, "\"old\""));
	free(d);
	jf_close(&f);
	tu_clock_real();
}

static void test_token_outlives_purge(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 24);
	int64_t batch_us = strata_now_us();
	uint64_t v1, v;
	bool rep;
	strata_err e;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v1, &rep, &e), 0);
	jf_put(&f, "{\"pk\":1,\"v\":\"newer\"}");
	strata_job_ctl ctl = {.owner = f.owner};
	strata_clean_result r;
	int rc = strata_purge_table(f.wh, f.table, &ctl, &r, NULL, &e);
	if (rc)
		fprintf(stderr, "\npurge: %s\n", e.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FALSE(version_kept(&f, v1));
	uint64_t before = jf_version(&f);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v, &rep, &e), 0);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(v, v1);
	CU_ASSERT_EQUAL(jf_version(&f), before);
	char *d = scan_now(&f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"newer\""));
	free(d);
	jf_close(&f);
	tu_clock_real();
}

static void set_prop(jf *f, const char *kv)
{
	strata_err e;
	const char *props[] = {kv};
	int rc = strata_table_set_props(f->wh, f->table, props, 1, &e);
	if (rc)
		fprintf(stderr, "\nset %s: %s\n", kv, e.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

/* Past the horizon the token is forgotten: the retry is refused, never
 * committed a second time. */
static void test_token_past_horizon(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	const char *props[] = {"write.token.retain.hours=2"};
	jf_open_props(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 1, props, 1);
	int64_t batch_us = strata_now_us();
	uint64_t v1, v;
	bool rep;
	strata_err e;
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v1, &rep, &e), 0);
	/* inside the horizon, clean keeps it */
	tu_clock_advance(1 * HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"newer\"}");
	strata_clean_result r;
	clean_now(&f, &r);
	CU_ASSERT_EQUAL(r.tokens_forgotten, 0u);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v, &rep, &e), 0);
	CU_ASSERT_TRUE(rep);
	/* past it, clean forgets the token */
	tu_clock_advance(3 * HOUR_US);
	clean_now(&f, &r);
	CU_ASSERT_EQUAL(r.tokens_forgotten, 1u);
	uint64_t before = jf_version(&f);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v, &rep, &e),
			STRATA_ERETENTION);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token \"load-1\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token horizon"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "write.token.retain.hours=2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "nothing was committed"));
	CU_ASSERT_EQUAL(jf_version(&f), before);
	/* a longer horizon now does not bring the forgotten token back: the
	 * floor the prune left still refuses that batch */
	set_prop(&f, "write.token.retain.hours=8760");
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"old\"}", "load-1", batch_us, &v, &rep, &e),
			STRATA_ERETENTION);
	CU_ASSERT_EQUAL(jf_version(&f), before);
	char *d = scan_now(&f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"newer\""));
	CU_ASSERT_PTR_NULL(strstr(d, "\"old\""));
	free(d);
	/* a fresh batch commits, with or without a token */
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":5,\"v\":\"y\"}", "load-2", strata_now_us(), &v, &rep, &e),
			0);
	CU_ASSERT_FALSE(rep);
	CU_ASSERT_EQUAL(v, before + 1);
	jf_close(&f);
	tu_clock_real();
}

static void test_token_errors(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 24);
	uint64_t before = jf_version(&f), v;
	bool rep;
	strata_err e;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"a\"}", "", strata_now_us(), &v, &rep, &e),
			STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token is empty"));
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"a\"}", "b", 0, &v, &rep, &e), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no batch time"));
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"a\"}", "b", strata_now_us() + HOUR_US, &v, &rep,
				&e),
			STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "in the future"));
	/* a batch from before the horizon (720 h by default) is refused even
	 * if its token was never seen: it cannot be told from a forgotten one */
	CU_ASSERT_EQUAL(put_tok(&f, "{\"pk\":1,\"v\":\"a\"}", "b",
				strata_now_us() - 721 * HOUR_US, &v, &rep, &e),
			STRATA_ERETENTION);
	CU_ASSERT_EQUAL(jf_version(&f), before);
	CU_ASSERT_EQUAL(data_files(&f), 0);
	/* bad horizons */
	strata_table_def d;
	strata_table_def_defaults(&d);
	CU_ASSERT_EQUAL(d.token_retain_hours, 720u);
	CU_ASSERT_EQUAL(strata_table_prop_apply(&d, "write.token.retain.hours=0", &e), STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_table_prop_apply(&d, "write.token.retain.hours=8761", &e),
			STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_table_prop_apply(&d, "write.token.retain.hours=48", &e), 0);
	CU_ASSERT_EQUAL(d.token_retain_hours, 48u);
	jf_close(&f);
	tu_clock_real();
}

/* The CLI: --token '' and --token without --token-time are usage errors
 * (exit 2) and commit nothing; a relative --token-time is refused. */
static void test_token_cli(void)
{
	const char *dir = tu_tmpdir();
	char cmd[PATH_MAX + 512];
	char *out = NULL;
	snprintf(cmd, sizeof(cmd), "'%s' -W '%s' init && '%s' -W '%s' create-table t --columns "
		 "'pk BIGINT NOT NULL PRIMARY KEY, v STRING' >/dev/null",
		 tu_bin("strata"), dir, tu_bin("strata"), dir);
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, &out), 0);
	free(out);
	static const struct {
		const char *args, *want;
		int status;
	} cases[] = {
		{"--token ''", "--token wants a non-empty token", 2},
		{"--token b1", "--token needs --token-time", 2},
		{"--token b1 --token-time -60", "--token-time wants a time", 2},
		{"--token-time 1767225600", "--token-time goes with --token", 2},
		{"--token b1 --token-time 2000-01-01T00:00:00Z", "older than the token horizon", 1},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		snprintf(cmd, sizeof(cmd), "echo '{\"pk\":1,\"v\":\"a\"}' | '%s' -W '%s' write t %s 2>&1",
			 tu_bin("strata"), dir, cases[i].args);
		int st = tu_run(cmd, &out);
		if (st != cases[i].status || !out || !strstr(out, cases[i].want))
			fprintf(stderr, "\n%s: status %d: %s\n", cases[i].args, st, out ? out : "");
		CU_ASSERT_EQUAL(st, cases[i].status);
		CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, cases[i].want) : NULL);
		free(out);
	}
	/* nothing was committed; a proper token write commits once */
	snprintf(cmd, sizeof(cmd),
		 "for i in 1 2; do echo '{\"pk\":1,\"v\":\"a\"}' | '%s' -W '%s' write t --token b1 "
		 "--token-time $(($(date +%%s) - 60)); done",
		 tu_bin("strata"), dir);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "committed version 2 (1 row)") : NULL);
	CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "version 2 already committed with token") : NULL);
	free(out);
}

/* ---- clean on a full disk ------------------------------------------------------------------------- */

/* Mounts this process made, detached at exit even if a test stopped half-way
 * (before the scratch directories are removed: atexit runs in reverse). */
static char mounts[4][PATH_MAX];
static int nmounts;

static void mounts_release(void)
{
	for (int i = 0; i < nmounts; i++)
		if (mounts[i][0])
			umount2(mounts[i], MNT_DETACH);
}

static int mount_small(const char *path, const char *size_opt)
{
	if (geteuid() != 0 || nmounts == (int)STRATA_ARRAY_LEN(mounts))
		return -EPERM;
	if (mount("tmpfs", path, "tmpfs", 0, size_opt) != 0)
		return -errno;
	if (nmounts == 0)
		atexit(mounts_release);
	snprintf(mounts[nmounts++], PATH_MAX, "%s", path);
	return 0;
}

static int unmount_small(const char *path)
{
	for (int i = 0; i < nmounts; i++)
		if (strcmp(mounts[i], path) == 0)
			mounts[i][0] = '\0';
	return umount(path);
}

static int fill(const char *path)
{
	FILE *fp = fopen(path, "w");
	if (!fp)
		return -1;
	static char chunk[4096];
	while (fwrite(chunk, 1, sizeof(chunk), fp) == sizeof(chunk))
		;
	fclose(fp);
	return 0;
}

static uint64_t free_bytes(const char *path)
{
	struct statvfs sv;
	return statvfs(path, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
}

static void test_clean_full_disk(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], data[PATH_MAX], mfd[PATH_MAX], ballast[PATH_MAX + 16];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(data, sizeof(data), "%s/data", whp);
	snprintf(mfd, sizeof(mfd), "%s/manifest", whp);
	mkdir(whp, 0755);
	mkdir(data, 0755);
	mkdir(mfd, 0755);
	int mrc = mount_small(data, "size=4m");
	if (mrc) {
		fprintf(stderr, "\nSKIPPED: the full-disk clean test needs root to mount a small "
				"tmpfs (%s)\n", strerror(-mrc));
		return;
	}
	if ((mrc = mount_small(mfd, "size=4m")) != 0) {
		fprintf(stderr, "\nSKIPPED: could not mount a second tmpfs (%s)\n", strerror(-mrc));
		unmount_small(data);
		return;
	}
	tu_clock_manual(JF_T0_US);
	jf f;
	memset(&f, 0, sizeof(f));
	f.dir = whp;
	snprintf(f.table, sizeof(f.table), "t");
	strata_owner_string("jobtest", f.owner, sizeof(f.owner));
	jf_open_wh(&f);
	strata_err e;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(f.wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, "
						  "v STRING", NULL, NULL,
						  (const char *const[]){"write.inline.max-bytes=0"}, 1,
						  &e),
			      0);
	/* row files, sorted into one columnar file: the row files are replaced */
	char row[200];
	for (int i = 0; i < 6; i++) {
		snprintf(row, sizeof(row), "{\"pk\":%d,\"v\":\"%0120d\"}", i, i);
		jf_put(&f, row);
	}
	for (uint32_t b = 0; b < 16; b++) {
		int rc = jf_job(&f, b, JF_SORT, NULL, NULL, NULL, &e);
		CU_ASSERT(rc == 0 || rc == 1);
	}
	/* clean moves them into the trash, where they wait trash_s (1 h) */
	tu_clock_advance(600 * 1000000ll);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.orphan_age_s = -1;
	strata_clean_result r;
	CU_ASSERT_EQUAL_FATAL(strata_clean_table(f.wh, "t", &o, &r, &e), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 6u);
	int in_trash = jf_trash_count(&f);
	CU_ASSERT_EQUAL(in_trash, 6);
	/* a reader in another process pins the pages later commits free, so
	 * that once the manifest's file system is full every commit needs new
	 * space (LMDB would reuse freed pages otherwise) */
	int pin[2], hold[2];
	CU_ASSERT_EQUAL_FATAL(pipe(pin), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(hold), 0);
	pid_t reader = fork();
	CU_ASSERT_FATAL(reader >= 0);
	if (reader == 0) {
		strata_wh *cwh;
		strata_mf_snap *snap;
		char c = 0;
		close(hold[1]);
		close(pin[0]);
		if (strata_wh_open(whp, false, &cwh, &e) == 0 &&
		    strata_mf_snap_open(strata_wh_mf(cwh), &snap, &e) == 0 && write(pin[1], "x", 1) == 1)
			(void)read(hold[0], &c, 1); /* until the parent closes it */
		_exit(0);
	}
	close(pin[1]);
	close(hold[0]);
	char c;
	CU_ASSERT_EQUAL(read(pin[0], &c, 1), 1);
	close(pin[0]);
	/* both file systems full; manifest commits until one fails */
	snprintf(ballast, sizeof(ballast), "%s/ballast", data);
	CU_ASSERT_EQUAL_FATAL(fill(ballast), 0);
	snprintf(ballast, sizeof(ballast), "%s/ballast", mfd);
	CU_ASSERT_EQUAL_FATAL(fill(ballast), 0);
	int fails_in_row = 0, tags = 0;
	for (int i = 0; i < 5000 && fails_in_row < 2; i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "tag%d", i);
		int rc = strata_mf_tag_put(strata_wh_mf(f.wh), "t", tag, 2, &e);
		if (rc == 0) {
			fails_in_row = 0;
			tags++;
			continue;
		}
		CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
		fails_in_row++;
		jf_close_wh(&f);
		jf_open_wh(&f);
	}
	CU_ASSERT_EQUAL(fails_in_row, 2);
	fprintf(stderr, "\nmanifest full after %d tags; data has %llu KiB free\n", tags,
		(unsigned long long)(free_bytes(data) >> 10));
	/* an hour later the trash has expired: clean frees it first, then
	 * reports the commit it could not make */
	tu_clock_advance(2 * HOUR_US);
	uint64_t free0 = free_bytes(data);
	strata_err_clear(&e);
	int rc = strata_clean_table(f.wh, "t", &o, &r, &e);
	fprintf(stderr, "clean on a full disk: rc %d: %s\n", rc, e.msg);
	CU_ASSERT_EQUAL(r.files_unlinked, 6u);
	CU_ASSERT_EQUAL(jf_trash_count(&f), 0);
	CU_ASSERT(free_bytes(data) > free0);
	CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unlinked 6 expired trash files of \"t\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "KiB free"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "could not claim"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "uncertain"));
	close(hold[1]);
	int st;
	CU_ASSERT_EQUAL(waitpid(reader, &st, 0), reader);
	/* space again: reopened and once the failed clean's claim expired,
	 * clean goes on and every version reads */
	tu_clock_advance(HOUR_US);
	unlink(ballast);
	snprintf(ballast, sizeof(ballast), "%s/ballast", data);
	unlink(ballast);
	jf_close_wh(&f);
	jf_open_wh(&f);
	rc = strata_clean_table(f.wh, "t", &o, &r, &e);
	if (rc)
		fprintf(stderr, "clean with space again: %s\n", e.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(manifest_files_exist(&f, 16), 0);
	jf_close_wh(&f);
	tu_clock_real();
	CU_ASSERT_EQUAL(unmount_small(mfd), 0);
	CU_ASSERT_EQUAL(unmount_small(data), 0);
}

/* ---- stratad after an uncertain commit ------------------------------------------------------------- */

/* A child process holding a read snapshot of the warehouse (so LMDB cannot
 * reuse pages freed after it): its pid; *hold is the pipe end whose closing
 * releases it. */
static pid_t pin_reader(const char *whp, int *hold_w)
{
	int pin[2], hold[2];
	if (pipe(pin) != 0 || pipe(hold) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(hold[1]);
		close(pin[0]);
		strata_wh *cwh;
		strata_mf_snap *snap;
		strata_err e;
		char c = 0;
		if (strata_wh_open(whp, false, &cwh, &e) == 0 &&
		    strata_mf_snap_open(strata_wh_mf(cwh), &snap, &e) == 0 && write(pin[1], "x", 1) == 1)
			(void)read(hold[0], &c, 1);
		_exit(0);
	}
	close(pin[1]);
	close(hold[0]);
	char c;
	if (pid < 0 || read(pin[0], &c, 1) != 1) {
		close(pin[0]);
		close(hold[1]);
		return -1;
	}
	close(pin[0]);
	*hold_w = hold[1];
	return pid;
}

static void test_daemon_reopens_after_uncertain_commit(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], mfd[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[PATH_MAX],
		ballast[PATH_MAX + 16];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(mfd, sizeof(mfd), "%s/manifest", whp);
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
	snprintf(ballast, sizeof(ballast), "%s/ballast", mfd);
	mkdir(whp, 0755);
	mkdir(mfd, 0755);
	int mrc = mount_small(mfd, "size=2m");
	if (mrc) {
		fprintf(stderr, "\nSKIPPED: the stratad reopen test needs root to mount a small tmpfs "
				"(%s)\n", strerror(-mrc));
		return;
	}
	jf f;
	memset(&f, 0, sizeof(f));
	f.dir = whp;
	snprintf(f.table, sizeof(f.table), "t");
	strata_owner_string("jobtest", f.owner, sizeof(f.owner));
	jf_open_wh(&f);
	strata_err e;
	strata_err_clear(&e);
	const char *props[] = {"write.bucket.num=1"};
	CU_ASSERT_EQUAL(strata_table_create(f.wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL,
					    NULL, props, 1, &e),
			0);
	tud_write_file(cfg, "[daemon]\nwarehouse = %s\nsocket = %s\nworkers = 1\n"
		       "scan_interval_s = 1\n[policy]\nsort.min_files = 3\n", whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	pid_t reader = -1;
	int hold = -1;
	CU_ASSERT_TRUE(tud_wait_ready(sock, 60));
	/* stratad asleep: three row files (a sort is due), then a full
	 * manifest file system whose freed pages a reader pins */
	kill(pid, SIGSTOP);
	uint64_t v;
	bool rep;
	for (int i = 0; i < 3; i++) {
		char row[64];
		snprintf(row, sizeof(row), "{\"pk\":%d,\"v\":\"r\"}", i);
		CU_ASSERT_EQUAL(put_tok(&f, row, NULL, 0, &v, &rep, &e), 0);
	}
	reader = pin_reader(whp, &hold);
	CU_ASSERT(reader > 0);
	CU_ASSERT_EQUAL(fill(ballast), 0);
	int rc = 0;
	for (int i = 0; i < 5000 && rc == 0; i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "tag%d", i);
		rc = strata_mf_tag_put(strata_wh_mf(f.wh), "t", tag, 2, &e);
	}
	CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
	jf_close_wh(&f);
	/* awake: its sort cannot commit; it reopens and stays up */
	kill(pid, SIGCONT);
	CU_ASSERT_TRUE(tud_wait_log(log, "sort of t p=_ b=0 failed", 60));
	CU_ASSERT_TRUE(tud_wait_log(log, "reopened the manifest of", 60));
	CU_ASSERT_EQUAL(kill(pid, 0), 0);
	CU_ASSERT_TRUE(tud_wait_ready(sock, 30));
	/* space again: the bucket is sorted */
	unlink(ballast);
	if (hold >= 0)
		close(hold);
	if (reader > 0)
		waitpid(reader, NULL, 0);
	CU_ASSERT_TRUE(tud_wait_log(log, "sort of t p=_ b=0 committed at version", 120));
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 60), 0);
	CU_ASSERT_EQUAL(unmount_small(mfd), 0);
}

/* ---- registration ------------------------------------------------------------------------------------ */

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("outcomes", NULL, NULL);
	TU_ADD(s, test_writer_uncertain_committed);
	TU_ADD(s, test_writer_uncertain_not_committed);
	TU_ADD(s, test_job_uncertain_committed);
	TU_ADD(s, test_job_uncertain_not_committed);
	TU_ADD(s, test_token_outlives_version_expiry);
	TU_ADD(s, test_token_outlives_purge);
	TU_ADD(s, test_token_past_horizon);
	TU_ADD(s, test_token_errors);
	TU_ADD(s, test_token_cli);
	TU_ADD(s, test_clean_full_disk);
	TU_ADD(s, test_daemon_reopens_after_uncertain_commit);
}

TU_MAIN(register_tests)
