/*
 * tests/test_store.c — the data-store seam (core/core.h "Data stores") and
 * the S3 data store (store/data.c) with a table's data files on a real Ceph
 * RADOS Gateway on loopback (tests/util/tu_rgw.h, one per suite).
 *
 * Covered: the local store's strata_data_* (recursive listing, a missing
 * file removed, a missing directory listed) and a scheme without a store
 * refused, never created as a local directory; `init --data s3://...` for a
 * directory warehouse (recorded in <warehouse>/DATA, used on every open,
 * another data path refused, a local warehouse refusing one afterwards);
 * writes, a sort and a major compaction that leave objects and no local
 * data file (the sort's inputs prefetched: one GET each), and reads (scan,
 * get) that see every row; the tail cache (a
 * second read of the same files opens them without a HEAD and reads their
 * footers without a GET); injected 503s retried to success; slow answers
 * (a job slower, not wrong); a commit and a job whose every PUT fails, that
 * meet a gateway stopped with SIGSTOP, or revoked credentials: each fails
 * cleanly, with nothing committed, no version naming a missing object, and
 * the same rows readable after SIGCONT, when the work done again succeeds;
 * a clean that meets a stopped gateway or refused DELETEs (marked entries
 * stay marked, their objects stay, the next clean finishes); `strata file
 * cat|meta` on an s3:// URI; a missing object is -ENOENT and a finding of
 * the manifest check; clean on object storage (the trash as the entry's state:
 * the object stays until clean.trash_s, then goes and the entry is
 * forgotten; an orphan deleted only after orphan_age_s + trash_s; the
 * multipart upload of a writer killed half-way aborted by the orphan scan
 * once orphan_age_s old).
 *
 * Faults in the middle (issue 14, "How it is checked"): the gateway stopped
 * with SIGSTOP from the fault hook at the N-th request of a writer commit
 * touching 4 buckets, of a sort writing 3 outputs and of a clean (trash
 * deletes, orphans, a stale upload), with short client timeouts — never
 * continued in time (a clean failure) and continued after 2.2 s (a retried
 * success); an N-th-request sweep (503 or a refused connection at request
 * N = 1, 2, ... until the operation runs untouched) of a writer commit, a
 * sort, a major compaction and a clean.  After each: every version reads
 * as before (or, after a clean, is expired), the manifest check and
 * `strata check` pass, no claim is left (an intent only when the failed
 * job could not delete its outputs: merge/job.c invariant 7), and the work
 * done again succeeds, after which a clean leaves exactly the objects the
 * manifest names and no intent.  Answers lost after the gateway acted (a PUT, a multipart create,
 * part and completion, a DELETE, a whole commit): the write succeeds
 * exactly once; a completion answered 200 with an error body is retried.
 * A failed LIST names its prefix.  `strata undelete --all`
 * undoes a clean with the data on RGW.  A job whose output DELETEs answer
 * 503 keeps its intent, recovered by the next clean; rounds of write,
 * major compaction dropping history and clean: the HEADs per clean stay
 * bounded (none), each trashed object deleted once.
 *
 * Without Ceph the RGW tests print "SKIPPED: <reason>" and exit 0.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_rgw.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clean/clean.h"
#include "jobs/jobs.h"
#include "manifest/manifest.h"
#include "store/store.h"
#include "table/table.h"
#include "tests/util/jobfix.h"

#define BUCKET "store-test"

static const char *endpoint;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The suite's gateway, the bucket, and the data store's client with short
 * timeouts (a stopped gateway fails an operation in seconds). */
static void rgw(void)
{
	if (endpoint)
		return;
	endpoint = tu_rgw_start_or_skip();
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY,
				.max_attempts = 3, .backoff_base_ms = 5, .backoff_max_ms = 50,
				.idle_timeout_s = 2, .connect_timeout_ms = 1000,
				.request_timeout_ms = 5000};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	CU_ASSERT_FATAL(strata_s3_bucket_create(c, BUCKET, &err) == 0);
	strata_s3_close(c);
	strata_store_s3_configure(&cfg);
	strata_store_s3_register();
}

/* Objects under s3://BUCKET/prefix/ (counted by the S3 client itself). */
static int count_one(void *ctx, const strata_s3_obj *o)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static int objects_under(const char *prefix)
{
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	char p[512];
	snprintf(p, sizeof(p), "%s/", prefix);
	int n = 0;
	CU_ASSERT(strata_s3_list(c, BUCKET, p, 0, count_one, &n, &err) == 0);
	strata_s3_close(c);
	return n;
}

/* A directory warehouse whose data live at s3://BUCKET/<prefix>, with a
 * table t (pk BIGINT, val STRING), one bucket. */
static strata_wh *make_wh(const char *prefix, char *whdir, size_t n)
{
	snprintf(whdir, n, "%s/wh", tu_tmpdir());
	char data[256];
	snprintf(data, sizeof(data), "s3://" BUCKET "/%s", prefix);
	strata_wh *wh = NULL;
	strata_err err = {0};
	int rc = strata_wh_create(whdir, data, &wh, &err);
	if (rc)
		fprintf(stderr, "\ncreate: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	/* files: this suite is about objects (inline row files make none) */
	const char *props[] = {"write.bucket.num=1", "write.inline.max-bytes=0"};
	rc = strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, val STRING", NULL, NULL,
				 props, 2, &err);
	if (rc)
		fprintf(stderr, "\ncreate table: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	return wh;
}

/* Upsert pk in [from, to) with val "<tag>-<pk>"; returns the commit's rc. */
static int write_rows(strata_wh *wh, int from, int to, const char *tag, strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, "t", &t, err);
	if (rc)
		return rc;
	for (int i = from; i < to && rc == 0; i++) {
		char v[64];
		snprintf(v, sizeof(v), "%s-%d", tag, i);
		json_t *o = json_pack("{s:I,s:s}", "pk", (json_int_t)i, "val", v);
		rc = strata_txn_put_json(t, o, err);
		json_decref(o);
	}
	if (rc) {
		strata_txn_abort(t);
		return rc;
	}
	uint64_t version;
	return strata_txn_commit(t, NULL, &version, NULL, err);
}

/* Rows of the latest version: count, and how many have val "<tag>-<pk>". */
static int scan_rows(strata_wh *wh, const char *tag, int *n_tagged)
{
	strata_scan *s;
	strata_err err = {0};
	int rc = strata_scan_open(wh, "t", NULL, &s, &err);
	if (rc) {
		fprintf(stderr, "\nscan: %s\n", err.msg);
		return -1;
	}
	int n = 0, tagged = 0;
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(s, &row, &pv, &err)) == 1) {
		n++;
		char v[64];
		snprintf(v, sizeof(v), "%s-%lld", tag, (long long)row->vals[0].v.i64);
		if (!row->vals[1].is_null && row->vals[1].v.s.len == strlen(v) &&
		    memcmp(row->vals[1].v.s.ptr, v, strlen(v)) == 0)
			tagged++;
	}
	strata_scan_close(s);
	if (rc < 0) {
		fprintf(stderr, "\nscan: %s\n", err.msg);
		return -1;
	}
	if (n_tagged)
		*n_tagged = tagged;
	return n;
}

/* Every non-deleted entry of every version still readable names an object
 * that exists, and the check of the manifest finds nothing. */
static void check_consistent(strata_wh *wh)
{
	strata_err err = {0};
	size_t nfind = 99;
	int rc = strata_mf_check(strata_wh_mf(wh), "t", NULL, NULL, &nfind, &err);
	if (rc || nfind)
		fprintf(stderr, "\ncheck: rc %d, %zu findings: %s\n", rc, nfind, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(nfind, 0);
}

static int run_job(strata_wh *wh, strata_bucket_job_kind kind, strata_err *err)
{
	strata_bucket_job job;
	strata_bucket_job_default(&job, kind);
	strata_bucket_job_out out;
	return strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, err);
}

/* ---- the local store -------------------------------------------------------------------- */

static int list_collect(void *ctx, const char *name, const strata_data_stat *st)
{
	strata_buf *b = ctx;
	strata_buf_printf(b, "%s:%llu;", name, (unsigned long long)st->size);
	return 0;
}

static void test_local_seam(void)
{
	const char *d = tu_tmpdir();
	char p[512], sub[512];
	snprintf(sub, sizeof(sub), "%s/t/_/b0000", d);
	strata_err err = {0};
	CU_ASSERT_EQUAL(strata_data_mkdirs(sub, &err), 0);
	snprintf(p, sizeof(p), "%s/f1", sub);
	CU_ASSERT_EQUAL(tu_write_file(p, "abc", 3), 0);
	strata_data_stat st;
	CU_ASSERT_EQUAL(strata_data_stat_path(p, &st, &err), 0);
	CU_ASSERT_EQUAL(st.size, 3);
	strata_buf b = {0};
	snprintf(sub, sizeof(sub), "%s/t", d);
	CU_ASSERT_EQUAL(strata_data_list(sub, list_collect, &b, &err), 0);
	strata_buf_putc(&b, 0);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "_/b0000/f1:3;");
	strata_buf_free(&b);
	CU_ASSERT_EQUAL(strata_data_remove(p, &err), 0);
	CU_ASSERT_EQUAL(strata_data_remove(p, &err), 0); /* missing: fine */
	CU_ASSERT_EQUAL(strata_data_stat_path(p, &st, &err), -ENOENT);
	snprintf(sub, sizeof(sub), "%s/nope", d);
	CU_ASSERT_EQUAL(strata_data_list(sub, list_collect, &b, &err), 0);
	/* a scheme no store serves is refused, not made a directory "gs:" */
	CU_ASSERT_FALSE(strata_store_for("gs://b/x") != NULL);
	CU_ASSERT_TRUE(strata_data_is_remote("gs://b/x"));
	CU_ASSERT_EQUAL(strata_data_mkdirs("gs://b/x", &err), STRATA_EUNSUPPORTED);
	strata_wfile *w = NULL;
	CU_ASSERT_EQUAL(strata_wfile_open("gs://b/x/f", &w, &err), STRATA_EUNSUPPORTED);
	CU_ASSERT_PTR_NULL(w);
	struct stat sb;
	CU_ASSERT_NOT_EQUAL(stat("gs:", &sb), 0);
}

/* ---- init --data ---------------------------------------------------------------------- */

/* A directory warehouse whose data live in another directory. */
static void test_init_data_dir(void)
{
	char whdir[512], data[512];
	snprintf(whdir, sizeof(whdir), "%s/wh", tu_tmpdir());
	snprintf(data, sizeof(data), "%s/elsewhere/data", tu_tmpdir());
	strata_wh *wh;
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(strata_wh_create(whdir, data, &wh, &err), 0);
	CU_ASSERT_STRING_EQUAL(strata_mf_data_dir(strata_wh_mf(wh)), data);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, val STRING",
						  NULL, NULL,
						  (const char *const[]){"write.inline.max-bytes=0"}, 1,
						  &err),
			      0);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 20, "d", &err), 0);
	strata_wh_close(wh);
	CU_ASSERT(tu_count_files(data, NULL) >= 1);
	char p[600];
	snprintf(p, sizeof(p), "%s/data", whdir);
	CU_ASSERT_EQUAL(tu_count_files(p, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whdir, false, &wh, &err), 0);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "d", &tagged), 20);
	CU_ASSERT_EQUAL(tagged, 20);
	strata_wh_close(wh);
}

static void test_init_data_s3(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("init1", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_STRING_EQUAL(strata_mf_data_dir(strata_wh_mf(wh)), "s3://" BUCKET "/init1");
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	strata_wh_close(wh);
	/* recorded beside the manifest */
	char p[600];
	snprintf(p, sizeof(p), "%s/DATA", whdir);
	char *rec = tu_read_file(p, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
	CU_ASSERT_STRING_EQUAL(rec, "s3://" BUCKET "/init1\n");
	free(rec);
	/* the row file is an object, not a local file */
	CU_ASSERT_EQUAL(objects_under("init1/t"), 1);
	snprintf(p, sizeof(p), "%s/data", whdir);
	CU_ASSERT_EQUAL(tu_count_files(p, NULL), 0);
	/* every open uses it */
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whdir, false, &wh, &err), 0);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "a", &tagged), 100);
	CU_ASSERT_EQUAL(tagged, 100);
	strata_wh_close(wh);
	/* another data path for it is refused; the same one is fine */
	CU_ASSERT_EQUAL(strata_wh_create(whdir, "s3://" BUCKET "/other", &wh, &err), STRATA_EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3://" BUCKET "/init1"));
	CU_ASSERT_EQUAL(strata_wh_create(whdir, "s3://" BUCKET "/init1", &wh, &err), 0);
	strata_wh_close(wh);
	/* a local warehouse cannot take one afterwards */
	char local[512];
	snprintf(local, sizeof(local), "%s/local", tu_tmpdir());
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(local, true, &wh, &err), 0);
	strata_wh_close(wh);
	CU_ASSERT_EQUAL(strata_wh_create(local, "s3://" BUCKET "/late", &wh, &err), STRATA_EINVAL);
	/* nor is a relative directory a data path */
	snprintf(local, sizeof(local), "%s/rel", tu_tmpdir());
	CU_ASSERT_EQUAL(strata_wh_create(local, "rel/data", &wh, &err), STRATA_EINVAL);
}

static void test_cli_init_data(void)
{
	rgw();
	char whdir[512], cmd[2048];
	snprintf(whdir, sizeof(whdir), "%s/cliwh", tu_tmpdir());
	/* the CLI finds the gateway the AWS way */
	setenv("AWS_ENDPOINT_URL", endpoint, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", TU_RGW_ACCESS_KEY, 1);
	setenv("AWS_SECRET_ACCESS_KEY", TU_RGW_SECRET_KEY, 1);
	snprintf(cmd, sizeof(cmd),
		 "%s -W '%s' init --data s3://" BUCKET "/cli1 && "
		 "%s -W '%s' create-table t --columns 'pk BIGINT NOT NULL PRIMARY KEY, val STRING' "
		 "--property write.bucket.num=1 --property write.inline.max-bytes=0",
		 tu_bin("strata"), whdir, tu_bin("strata"), whdir);
	char *out = NULL;
	int rc = tu_run(cmd, &out);
	if (rc)
		fprintf(stderr, "\n%s\n", out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "data files in s3://" BUCKET "/cli1"));
	free(out);
	strata_wh *wh;
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whdir, false, &wh, &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "c", &err), 0);
	strata_wh_close(wh);
	CU_ASSERT_EQUAL(objects_under("cli1/t"), 1);
	/* `strata file cat|meta` take the object's URI */
	strata_buf names = {0};
	CU_ASSERT_EQUAL(strata_data_list("s3://" BUCKET "/cli1/t", list_collect, &names, &err), 0);
	strata_buf_putc(&names, 0);
	char *colon = strchr((char *)names.data, ':');
	CU_ASSERT_PTR_NOT_NULL_FATAL(colon);
	*colon = '\0';
	snprintf(cmd, sizeof(cmd), "%s -W '%s' file cat s3://" BUCKET "/cli1/t/%s", tu_bin("strata"),
		 whdir, (char *)names.data);
	rc = tu_run(cmd, &out);
	if (rc)
		fprintf(stderr, "\n%s\n", out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "\"val\":\"c-7\""));
	free(out);
	snprintf(cmd, sizeof(cmd), "%s file meta s3://" BUCKET "/cli1/t/%s", tu_bin("strata"),
		 (char *)names.data);
	rc = tu_run(cmd, &out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "records: 10 "));
	free(out);
	strata_buf_free(&names);
}

/* ---- jobs and reads ---------------------------------------------------------------------- */

/* Which threads send the GETs. */
typedef struct get_threads {
	pthread_t main;
	atomic_int n_main, n_other;
} get_threads;

static void get_thread_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	get_threads *g = ctx;
	(void)out;
	if (strcmp(req->op, "GET") != 0)
		return;
	if (pthread_equal(pthread_self(), g->main))
		atomic_fetch_add(&g->n_main, 1);
	else
		atomic_fetch_add(&g->n_other, 1);
}

/* Deterministic bytes: byte i of stream seed. */
static void fill_bytes(uint8_t *p, size_t n, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed;
		p[i] = (uint8_t)(x >> 29 ^ x >> 13);
	}
}

/* A reader's window and a large read that starts in it (a Parquet page's
 * header, then its body): the overlap comes from the window, never GET
 * again (store/data.c invariant 4). */
static void test_window_overlap_not_fetched_twice(void)
{
	rgw();
	const size_t size = 2u << 20;
	uint8_t *data = malloc(size), *got = malloc(size);
	fill_bytes(data, size, 0, 11);
	const char *path = "s3://" BUCKET "/window1/obj";
	strata_wfile *w = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_wfile_open(path, &w, &err) == 0);
	CU_ASSERT_FATAL(strata_wfile_write(w, data, size, &err) == 0);
	CU_ASSERT_FATAL(strata_wfile_commit(w, &err) == 0);
	strata_store_s3_cache_clear();
	strata_rfile *rf = NULL;
	CU_ASSERT_FATAL(strata_rfile_open(path, &rf, &err) == 0);
	strata_s3_stats_reset();
	/* a small read: one window (256 KiB) */
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got, 100, 0, &err), 0);
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	CU_ASSERT_EQUAL(st.gets, 1);
	uint64_t window = st.bytes_received;
	CU_ASSERT(window >= 100 && window <= (256u << 10));
	/* then 1 MiB from where it ended: only what the window lacks */
	const size_t n = 1u << 20;
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got + 100, n, 100, &err), 0);
	strata_s3_stats_get(&st);
	CU_ASSERT_EQUAL(st.gets, 2);
	CU_ASSERT_EQUAL(st.bytes_received, 100 + n);
	if (st.bytes_received != 100 + n)
		fprintf(stderr, "\n%llu bytes received for %zu read\n",
			(unsigned long long)st.bytes_received, 100 + n);
	CU_ASSERT(memcmp(got, data, 100 + n) == 0);
	/* a window further on, and a read from inside it into the tail */
	const uint64_t at = 3u << 19; /* 1.5 MiB */
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got, 10, at, &err), 0);
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got, 300000, at + 10, &err), 0);
	CU_ASSERT(memcmp(got, data + at + 10, 300000) == 0);
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got, size - at, at, &err), 0);
	CU_ASSERT(memcmp(got, data + at, size - at) == 0);
	strata_rfile_close(rf);
	free(data);
	free(got);
}

/* A scan reading an object from start to end keeps its pages out of the
 * process's tail cache (store/data.c invariant 2): only the tail fetched
 * when it was opened stays there, however near the end the reads go. */
static void test_sequential_reads_not_cached(void)
{
	rgw();
	const size_t size = 3u << 20, step = 100000;
	uint8_t *data = malloc(size), *got = malloc(step);
	fill_bytes(data, size, 0, 12);
	const char *path = "s3://" BUCKET "/seq1/obj";
	strata_wfile *w = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_wfile_open(path, &w, &err) == 0);
	CU_ASSERT_FATAL(strata_wfile_write(w, data, size, &err) == 0);
	CU_ASSERT_FATAL(strata_wfile_commit(w, &err) == 0);
	strata_store_s3_cache_clear();
	strata_rfile *rf = NULL;
	CU_ASSERT_FATAL(strata_rfile_open(path, &rf, &err) == 0);
	strata_store_cache_stats cs;
	strata_store_s3_cache_stats(&cs);
	uint64_t opened = cs.bytes;
	CU_ASSERT(opened > 0 && opened <= (64u << 10));
	bool is_same = true;
	for (size_t off = 0; off < size; off += step) {
		size_t n = STRATA_MIN(step, size - off);
		CU_ASSERT_EQUAL_FATAL(strata_rfile_read(rf, got, n, off, &err), 0);
		is_same = is_same && memcmp(got, data + off, n) == 0;
	}
	CU_ASSERT(is_same);
	strata_store_s3_cache_stats(&cs);
	if (cs.bytes != opened)
		fprintf(stderr, "\nthe cache holds %llu bytes after the scan (%llu after the open)\n",
			(unsigned long long)cs.bytes, (unsigned long long)opened);
	CU_ASSERT_EQUAL(cs.bytes, opened);
	/* a read near the end that continues nothing is still a tail read */
	CU_ASSERT_EQUAL(strata_rfile_read(rf, got, 1000, size - 300000, &err), 0);
	CU_ASSERT(memcmp(got, data + size - 300000, 1000) == 0);
	strata_store_s3_cache_stats(&cs);
	CU_ASSERT_EQUAL(cs.bytes, 300000);
	strata_rfile_close(rf);
	free(data);
	free(got);
}

/* Counts of a job's requests by kind, for its output's objects. */
typedef struct op_counts {
	atomic_int puts, creates, parts, completes, aborts;
} op_counts;

static void count_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	op_counts *c = ctx;
	(void)out;
	if (strcmp(req->op, "PUT") == 0)
		atomic_fetch_add(&c->puts, 1);
	else if (strcmp(req->op, "CREATE_MPU") == 0)
		atomic_fetch_add(&c->creates, 1);
	else if (strcmp(req->op, "UPLOAD_PART") == 0)
		atomic_fetch_add(&c->parts, 1);
	else if (strcmp(req->op, "COMPLETE_MPU") == 0)
		atomic_fetch_add(&c->completes, 1);
	else if (strcmp(req->op, "ABORT_MPU") == 0)
		atomic_fetch_add(&c->aborts, 1);
}

/* A job whose output is larger than a part streams it as a multipart
 * upload, part by part (the writer holds one part: store.h), never one
 * PUT of the whole file; the rows read back whole. */
static void test_job_output_streams_in_parts(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("parts1", whdir, sizeof(whdir));
	strata_err err = {0};
	/* ~18 MiB of text zstd cannot shrink much: over two 8 MiB parts */
	static const char abc[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	uint64_t x = 0x2545f4914f6cdd1dull;
	char v[1001];
	for (int c = 0; c < 3; c++) {
		strata_txn *t;
		CU_ASSERT_FATAL(strata_txn_begin(wh, "t", &t, &err) == 0);
		for (int i = 0; i < 8000; i++) {
			for (int k = 0; k < 1000; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				v[k] = abc[x & 63];
			}
			v[1000] = '\0';
			json_t *o = json_pack("{s:I,s:s}", "pk", (json_int_t)(i * 3 + c), "val", v);
			CU_ASSERT_FATAL(strata_txn_put_json(t, o, &err) == 0);
			json_decref(o);
		}
		uint64_t version;
		CU_ASSERT_FATAL(strata_txn_commit(t, NULL, &version, NULL, &err) == 0);
	}
	op_counts n = {0};
	strata_s3_fault_set(count_hook, &n);
	strata_bucket_job job;
	strata_bucket_job_default(&job, STRATA_BUCKET_JOB_SORT);
	strata_bucket_job_out out;
	int rc = strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err);
	strata_s3_fault_set(NULL, NULL);
	if (rc)
		fprintf(stderr, "\nsort: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(out.jr.files_out, 1);
	uint64_t parts_want = (out.jr.bytes_out + STRATA_S3_DEFAULT_PART_BYTES - 1) /
			      STRATA_S3_DEFAULT_PART_BYTES;
	CU_ASSERT(out.jr.bytes_out > 2ull * STRATA_S3_DEFAULT_PART_BYTES);
	CU_ASSERT_EQUAL(atomic_load(&n.puts), 0);
	CU_ASSERT_EQUAL(atomic_load(&n.creates), 1);
	CU_ASSERT_EQUAL((uint64_t)atomic_load(&n.parts), parts_want);
	CU_ASSERT_EQUAL(atomic_load(&n.completes), 1);
	CU_ASSERT_EQUAL(atomic_load(&n.aborts), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "none", NULL), 24000);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* A line of the log holding both a and b. */
static bool log_line_has(const char *log, const char *a, const char *b)
{
	size_t len = 0;
	char *text = tu_read_file(log, &len);
	bool found = false;
	for (char *line = text ? strtok(text, "\n") : NULL; line && !found; line = strtok(NULL, "\n"))
		found = strstr(line, a) && strstr(line, b);
	free(text);
	return found;
}

/* The endpoint from configuration alone, with real processes on the
 * gateway: stratad given only its [daemon] s3.endpoint and s3.region (its
 * environment has the keys and nothing else: no AWS_ENDPOINT_URL, no
 * region, no config file) sorts a table whose data are objects; then the
 * CLI, given only ~/.aws/config's endpoint_url for its profile and the
 * profile's keys in ~/.aws/credentials (HOME of its own, no AWS_*
 * variable but AWS_PROFILE), reads every row back. */
static void test_endpoint_from_config_only(void)
{
	rgw();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	char whdir[PATH_MAX];
	strata_wh *wh = make_wh("cfgonly", whdir, sizeof(whdir));
	*strrchr(whdir, '/') = '\0'; /* the scratch dir make_wh made */
	tud_paths(whdir, whp, cfg, log, sock);
	strata_err err = {0};
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(write_rows(wh, i * 10, i * 10 + 10, "c", &err), 0);
	strata_wh_close(wh);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\n"
		       "s3.endpoint = %s\ns3.region = us-east-1\n"
		       "[policy]\nsort.min_files = 2\n",
		       whp, sock, endpoint);
	const char *env[] = {"AWS_ENDPOINT_URL", "", "AWS_ENDPOINT_URL_S3", "", "AWS_REGION", "",
			     "AWS_DEFAULT_REGION", "", "AWS_PROFILE", "", "AWS_CONFIG_FILE",
			     "/nonexistent/aws-config", "AWS_ACCESS_KEY_ID", TU_RGW_ACCESS_KEY,
			     "AWS_SECRET_ACCESS_KEY", TU_RGW_SECRET_KEY, NULL};
	pid_t pid = tud_spawn(cfg, log, env);
	CU_ASSERT_FATAL(pid > 0);
	char want[PATH_MAX + 300];
	snprintf(want, sizeof(want), "data store s3://: endpoint %s ([daemon] s3.* in %s)", endpoint,
		 cfg);
	CU_ASSERT(tud_wait_log(log, want, 60));
	bool is_sorted = false;
	for (double end = tud_now_s() + 120; !is_sorted && tud_now_s() < end; tud_sleep_ms(200))
		is_sorted = log_line_has(log, ": sort of t", " done in ");
	if (!is_sorted) {
		char *text = tu_read_file(log, &(size_t){0});
		fprintf(stderr, "\nstratad's log:\n%s\n", text ? text : "");
		free(text);
	}
	CU_ASSERT(is_sorted);
	CU_ASSERT(!tud_log_has(log, "secret") && !tud_log_has(log, TU_RGW_SECRET_KEY));
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 60), 0);

	/* the CLI: ~/.aws/config and ~/.aws/credentials of a HOME of its own */
	char home[PATH_MAX], path[PATH_MAX + 64], cmd[4 * PATH_MAX];
	snprintf(home, sizeof(home), "%s/home", tu_tmpdir());
	snprintf(path, sizeof(path), "%s/.aws", home);
	CU_ASSERT_FATAL(mkdir(home, 0700) == 0 && mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.aws/config", home);
	tud_write_file(path, "[profile lab]\nendpoint_url = %s\nregion = us-east-1\n", endpoint);
	snprintf(path, sizeof(path), "%s/.aws/credentials", home);
	tud_write_file(path, "[lab]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		       TU_RGW_ACCESS_KEY, TU_RGW_SECRET_KEY);
	snprintf(cmd, sizeof(cmd),
		 "env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u AWS_REGION -u AWS_DEFAULT_REGION "
		 "-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "
		 "-u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE HOME='%s' AWS_PROFILE=lab "
		 "%s -W '%s' scan t --format jsonl",
		 home, tu_bin("strata"), whp);
	char *out = NULL;
	int rc = tu_run(cmd, &out);
	if (rc)
		fprintf(stderr, "\n%s\n", out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	int lines = 0;
	for (const char *p = out; p && (p = strchr(p, '\n')); p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 30);
	CU_ASSERT(out && strstr(out, "\"c-29\""));
	free(out);
}

static void test_jobs_and_reads(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("jobs1", whdir, sizeof(whdir));
	strata_err err = {0};
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(write_rows(wh, k * 50, k * 50 + 100, k % 2 ? "b" : "a", &err), 0);
	CU_ASSERT_EQUAL(objects_under("jobs1/t"), 4);
	/* the sort's inputs are prefetched, small ones whole: one GET each,
	 * no HEAD, and nothing more to fetch while merging */
	strata_store_s3_cache_clear();
	strata_s3_stats_reset();
	get_threads gt = {.main = pthread_self()};
	strata_s3_fault_set(get_thread_hook, &gt);
	int rc = run_job(wh, STRATA_BUCKET_JOB_SORT, &err);
	strata_s3_fault_set(NULL, NULL);
	if (rc)
		fprintf(stderr, "\nsort: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	CU_ASSERT_EQUAL(st.gets, 4);
	CU_ASSERT_EQUAL(st.heads, 0);
	CU_ASSERT_EQUAL(st.puts, 1);
	/* by the prefetch's threads, not one after another by the job's */
	CU_ASSERT_EQUAL(atomic_load(&gt.n_main), 0);
	CU_ASSERT_EQUAL(atomic_load(&gt.n_other), 4);
	rc = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err);
	if (rc)
		fprintf(stderr, "\nmajor: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "b", &tagged), 250);
	CU_ASSERT_EQUAL(tagged, 150); /* rows 50..99 and 150..249 were last written with "b" */
	/* a point lookup */
	json_t *key = json_pack("{s:I}", "pk", (json_int_t)120);
	strata_arena *a = strata_arena_new();
	strata_row row;
	rc = strata_get_json(wh, "t", key, NULL, a, &row, NULL, NULL, &err);
	CU_ASSERT_EQUAL(rc, 1);
	if (rc == 1)
		CU_ASSERT_NSTRING_EQUAL(row.vals[1].v.s.ptr, "a-120", 5);
	json_decref(key);
	strata_arena_free(a);
	/* no local data file anywhere */
	char p[600];
	snprintf(p, sizeof(p), "%s/data", whdir);
	CU_ASSERT_EQUAL(tu_count_files(p, NULL), 0);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* strata_s3_get_tail: the last n bytes and the size in one request. */
static void test_get_tail(void)
{
	rgw();
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	size_t big = 100000;
	uint8_t *src = malloc(big), *buf = malloc(65536);
	for (size_t i = 0; i < big; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	CU_ASSERT_EQUAL_FATAL(strata_s3_put(c, BUCKET, "tail/big", src, big, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_s3_put(c, BUCKET, "tail/small", src, 10, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_s3_put(c, BUCKET, "tail/empty", src, 0, &err), 0);
	size_t got = 0;
	uint64_t size = 0;
	strata_s3_stats_reset();
	CU_ASSERT_EQUAL(strata_s3_get_tail(c, BUCKET, "tail/big", 65536, buf, &got, &size, &err), 0);
	CU_ASSERT_EQUAL(got, 65536);
	CU_ASSERT_EQUAL(size, big);
	CU_ASSERT(memcmp(buf, src + big - 65536, 65536) == 0);
	strata_s3_stats st;
	strata_s3_stats_get(&st);
	CU_ASSERT_EQUAL(st.gets, 1);
	CU_ASSERT_EQUAL(st.heads, 0);
	CU_ASSERT_EQUAL(strata_s3_get_tail(c, BUCKET, "tail/small", 65536, buf, &got, &size, &err), 0);
	CU_ASSERT_EQUAL(got, 10);
	CU_ASSERT_EQUAL(size, 10);
	CU_ASSERT(memcmp(buf, src, 10) == 0);
	CU_ASSERT_EQUAL(strata_s3_get_tail(c, BUCKET, "tail/empty", 65536, buf, &got, &size, &err), 0);
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT_EQUAL(size, 0);
	CU_ASSERT_EQUAL(strata_s3_get_tail(c, BUCKET, "tail/none", 65536, buf, &got, &size, &err),
			STRATA_ENOTFOUND);
	free(src);
	free(buf);
	strata_s3_close(c);
}

static void test_tail_cache(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("cache1", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 300, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 100, 200, "b", &err), 0);
	CU_ASSERT_EQUAL(run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err), 0);
	strata_store_s3_cache_clear();
	strata_s3_stats_reset();
	CU_ASSERT_EQUAL(scan_rows(wh, "a", NULL), 300);
	strata_s3_stats cold;
	strata_s3_stats_get(&cold);
	strata_store_cache_stats cs1;
	strata_store_s3_cache_stats(&cs1);
	/* cold: one suffix-range GET per file gives its size and tail, no HEAD */
	CU_ASSERT_EQUAL(cold.heads, 0);
	CU_ASSERT(cold.gets >= 1);
	CU_ASSERT(cs1.tail_fetches >= 1);
	strata_s3_stats_reset();
	CU_ASSERT_EQUAL(scan_rows(wh, "a", NULL), 300);
	strata_s3_stats warm;
	strata_s3_stats_get(&warm);
	strata_store_cache_stats cs2;
	strata_store_s3_cache_stats(&cs2);
	/* warm: no HEAD, no new tail fetch (the footer came from the cache) */
	CU_ASSERT_EQUAL(warm.heads, 0);
	CU_ASSERT_EQUAL(cs2.tail_fetches, cs1.tail_fetches);
	CU_ASSERT(cs2.tail_hits > cs1.tail_hits);
	CU_ASSERT_EQUAL(warm.gets, 0);
	fprintf(stderr, "\ncold scan: %llu GET %llu HEAD; warm: %llu GET %llu HEAD\n",
		(unsigned long long)cold.gets, (unsigned long long)cold.heads,
		(unsigned long long)warm.gets, (unsigned long long)warm.heads);
	strata_wh_close(wh);
}

/* ---- faults ---------------------------------------------------------------------------- */

typedef struct fault_plan {
	const char *op;   /* "PUT", "GET", ... or NULL: every kind */
	int first_only;   /* fail only attempt 1 (a retry succeeds) */
	int n_fired;
} fault_plan;

static void fault_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	fault_plan *p = ctx;
	if (p->op && strcmp(p->op, req->op) != 0)
		return;
	if (p->first_only && req->attempt > 1)
		return;
	out->status = 503;
	snprintf(out->code, sizeof(out->code), "SlowDown");
	p->n_fired++;
}

static void test_fault_5xx_retried(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("f5xx", whdir, sizeof(whdir));
	strata_err err = {0};
	fault_plan p = {.first_only = 1};
	strata_s3_fault_set(fault_hook, &p);
	int rc1 = write_rows(wh, 0, 100, "a", &err);
	int rc2 = write_rows(wh, 50, 150, "b", &err);
	int rc3 = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err);
	strata_store_s3_cache_clear();
	int n = scan_rows(wh, "b", NULL);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc1, 0);
	CU_ASSERT_EQUAL(rc2, 0);
	CU_ASSERT_EQUAL(rc3, 0);
	CU_ASSERT_EQUAL(n, 150);
	CU_ASSERT(p.n_fired >= 4);
	check_consistent(wh);
	strata_wh_close(wh);
}

static void test_fault_put_fails(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("fput", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	fault_plan p = {.op = "PUT"};
	strata_s3_fault_set(fault_hook, &p);
	int rc_w = write_rows(wh, 0, 10, "c", &err);
	int rc_j = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc_w, -EIO);
	CU_ASSERT_EQUAL(rc_j, -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3://" BUCKET "/fput/t/"));
	/* nothing committed, nothing lost, no version naming a missing object */
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "b", &tagged), 150);
	CU_ASSERT_EQUAL(tagged, 100);
	check_consistent(wh);
	CU_ASSERT_EQUAL(objects_under("fput/t"), 2);
	/* and the work done again succeeds */
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "c", &err), 0);
	CU_ASSERT_EQUAL(run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "c", &tagged), 150);
	CU_ASSERT_EQUAL(tagged, 10);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* Whether every thread of pid is stopped (kill() returns before they are). */
static bool all_threads_stopped(pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	for (int t = 0; t < 500; t++) {
		DIR *d = opendir(dir);
		if (!d)
			return false;
		bool is_all = true;
		struct dirent *e;
		while (is_all && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[128];
			snprintf(path, sizeof(path), "%s/%s/stat", dir, e->d_name);
			char *st = tu_read_file(path, NULL);
			const char *rp = st ? strrchr(st, ')') : NULL;
			is_all = !rp || (rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't'));
			free(st);
		}
		closedir(d);
		if (is_all)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void test_fault_gateway_stopped(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("fstop", whdir, sizeof(whdir));
	strata_err err = {0}, jerr = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	strata_store_s3_cache_clear(); /* the job must reach the gateway */
	pid_t gw = tu_rgw_daemon_pid(TU_RGW_GW);
	CU_ASSERT_FATAL(gw > 0);
	CU_ASSERT_FATAL(kill(gw, SIGSTOP) == 0);
	bool is_stopped = all_threads_stopped(gw);
	int rc_w = write_rows(wh, 0, 10, "c", &err);
	int rc_j = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &jerr);
	kill(gw, SIGCONT); /* before any assertion can stop the test */
	CU_ASSERT(is_stopped);
	CU_ASSERT_EQUAL(rc_w, -ETIMEDOUT);
	CU_ASSERT(rc_j == -ETIMEDOUT);
	fprintf(stderr, "\nstopped gateway: commit: %s\njob: %s\n", err.msg, jerr.msg);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "b", &tagged), 150);
	CU_ASSERT_EQUAL(tagged, 100);
	check_consistent(wh);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "c", &err), 0);
	CU_ASSERT_EQUAL(run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "c", &tagged), 150);
	CU_ASSERT_EQUAL(tagged, 10);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* Slow answers (every GET and PUT delayed) make a job slower, not wrong. */
static void delay_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	int *n = ctx;
	if (strcmp(req->op, "GET") == 0 || strcmp(req->op, "PUT") == 0) {
		out->delay_ms = 150;
		(*n)++;
	}
}

static void test_fault_slow_answers(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("fslow", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	strata_store_s3_cache_clear();
	int n = 0;
	strata_s3_fault_set(delay_hook, &n);
	int rc = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err);
	int rows = scan_rows(wh, "b", NULL);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(rows, 150);
	CU_ASSERT(n >= 2);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* Credentials revoked (a wrong secret): a commit fails with -EACCES naming
 * the object and never the secret; nothing is lost, and with the right
 * keys again the commit succeeds. */
static void test_fault_credentials_revoked(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("fcreds", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	strata_s3_config bad = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = "revoked-Secret-99",
				.max_attempts = 2, .backoff_base_ms = 5, .backoff_max_ms = 50};
	strata_store_s3_configure(&bad);
	strata_store_s3_cache_clear();
	int rc_w = write_rows(wh, 0, 10, "c", &err);
	char msg[STRATA_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", err.msg);
	int rc_j = run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err);
	endpoint = NULL; /* rgw() configures the right keys again */
	rgw();
	CU_ASSERT_EQUAL(rc_w, -EACCES);
	CU_ASSERT_EQUAL(rc_j, -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "s3://" BUCKET "/fcreds/t/"));
	CU_ASSERT_PTR_NULL(strstr(msg, "revoked-Secret-99"));
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "a", &tagged), 100);
	CU_ASSERT_EQUAL(tagged, 100);
	check_consistent(wh);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "c", &err), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "c", &tagged), 100);
	CU_ASSERT_EQUAL(tagged, 10);
	strata_wh_close(wh);
}

/* ---- clean ------------------------------------------------------------------------------ */

static void test_clean_trash_state(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("clean1", whdir, sizeof(whdir));
	strata_err err = {0};
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	strata_bucket_job job;
	strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
	job.drop_history = true;
	strata_bucket_job_out out;
	CU_ASSERT_EQUAL(strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err), 0);
	CU_ASSERT_EQUAL(objects_under("clean1/t"), 3);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 3600;
	o.orphan_age_s = -1;
	strata_clean_result r;
	tu_clock_advance(10 * 1000000LL);
	int rc = strata_clean_table(wh, "t", &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	/* marked deleted, in the trash: the objects stay */
	CU_ASSERT_EQUAL(r.files_deleted, 2);
	CU_ASSERT_EQUAL(r.trash_files, 2);
	CU_ASSERT_EQUAL(r.files_unlinked, 0);
	CU_ASSERT_EQUAL(objects_under("clean1/t"), 3);
	check_consistent(wh);
	/* after clean.trash_s they go, and the entries are forgotten */
	tu_clock_advance(3601 * 1000000LL);
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.files_unlinked, 2);
	CU_ASSERT_EQUAL(objects_under("clean1/t"), 1);
	check_consistent(wh);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	/* an orphan: counted after orphan_age_s, deleted after + trash_s */
	char orphan[300];
	snprintf(orphan, sizeof(orphan), "s3://" BUCKET "/clean1/t/_/b0000/orphan.avro");
	strata_wfile *w;
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(orphan, &w, &err), 0);
	CU_ASSERT_EQUAL(strata_wfile_write(w, "junk", 4, &err), 0);
	CU_ASSERT_EQUAL(strata_wfile_commit(w, &err), 0);
	o.orphan_age_s = 0;
	o.orphan_max_fraction = 1.0;
	o.trash_s = 0;
	tu_clock_real(); /* the object's time is the gateway's */
	sleep_ms(1100);
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 1);
	CU_ASSERT_EQUAL(objects_under("clean1/t"), 1);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	strata_wh_close(wh);
}

/* The gateway stopped during a clean: the clean fails (-ETIMEDOUT), what
 * it marked stays marked and nothing a version needs is gone; after
 * SIGCONT the next clean finishes the work. */
static void test_clean_gateway_stopped(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("cstop", whdir, sizeof(whdir));
	strata_err err = {0};
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	strata_bucket_job job;
	strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
	job.drop_history = true;
	strata_bucket_job_out out;
	CU_ASSERT_EQUAL(strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err), 0);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 0;
	o.orphan_age_s = -1;
	strata_clean_result r;
	tu_clock_advance(10 * 1000000LL);
	pid_t gw = tu_rgw_daemon_pid(TU_RGW_GW);
	CU_ASSERT_FATAL(gw > 0);
	CU_ASSERT_FATAL(kill(gw, SIGSTOP) == 0);
	bool is_stopped = all_threads_stopped(gw);
	int rc = strata_clean_table(wh, "t", &o, &r, &err);
	kill(gw, SIGCONT);
	CU_ASSERT(is_stopped);
	CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
	fprintf(stderr, "\nstopped gateway: clean: %s\n", err.msg);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	check_consistent(wh);
	/* every DELETE refused: the marking commits, the objects stay */
	fault_plan p = {.op = "DELETE"};
	strata_s3_fault_set(fault_hook, &p);
	rc = strata_clean_table(wh, "t", &o, &r, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT(p.n_fired >= 1);
	CU_ASSERT_EQUAL(objects_under("cstop/t"), 3);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	check_consistent(wh);
	rc = strata_clean_table(wh, "t", &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(objects_under("cstop/t"), 1);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	check_consistent(wh);
	tu_clock_real();
	strata_wh_close(wh);
}

static int count_upload(void *ctx, const strata_s3_upload *up)
{
	(void)up;
	(*(int *)ctx)++;
	return 0;
}

static int uploads_under(const char *prefix)
{
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	int n = 0;
	CU_ASSERT(strata_s3_uploads_list(c, BUCKET, prefix, count_upload, &n, &err) == 0);
	strata_s3_close(c);
	return n;
}

/* A writer killed half-way through a multipart upload leaves it behind;
 * clean's orphan scan aborts it once it is orphan_age_s old. */
static void test_clean_aborts_stale_uploads(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("stale1", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "a", &err), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
					.access_key = TU_RGW_ACCESS_KEY,
					.secret_key = TU_RGW_SECRET_KEY,
					.part_bytes = STRATA_S3_MIN_PART_BYTES};
		strata_s3 *c = NULL;
		strata_s3_writer *w = NULL;
		strata_err cerr;
		size_t n = STRATA_S3_MIN_PART_BYTES + 1;
		char *buf = calloc(1, n);
		if (strata_s3_open(&cfg, &c, &cerr) != 0 ||
		    strata_s3_writer_open(c, BUCKET, "stale1/t/_/b0000/j99-0.parquet", &w, &cerr) != 0 ||
		    strata_s3_writer_write(w, buf, n, &cerr) != 0)
			_exit(1);
		_exit(0); /* killed half-way: the first part is up, nothing completes */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(uploads_under("stale1/"), 1);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.orphan_age_s = 3600;
	strata_clean_result r;
	/* younger than orphan_age_s: kept (it may be a running writer's) */
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.uploads_aborted, 0);
	CU_ASSERT_EQUAL(uploads_under("stale1/"), 1);
	o.orphan_age_s = 0;
	int rc = strata_clean_table(wh, "t", &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.uploads_aborted, 1);
	CU_ASSERT_EQUAL(uploads_under("stale1/"), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "a", NULL), 10);
	strata_wh_close(wh);
}

/* The manifest check lists the table's prefix: an object gone from under a
 * live entry is a finding, and clean then deletes nothing. */
static int first_name(void *ctx, const char *name, const strata_data_stat *st)
{
	(void)st;
	snprintf(ctx, 256, "%s", name);
	return 1;
}

static void test_check_finds_missing_object(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("check1", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 10, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 10, 20, "a", &err), 0);
	check_consistent(wh);
	char name[256] = "", path[512];
	CU_ASSERT_EQUAL(strata_data_list("s3://" BUCKET "/check1/t", first_name, name, &err), 1);
	snprintf(path, sizeof(path), "s3://" BUCKET "/check1/t/%s", name);
	CU_ASSERT_EQUAL_FATAL(strata_data_remove(path, &err), 0);
	/* a missing object is -ENOENT, as a missing file is */
	strata_rfile *rf = NULL;
	strata_data_stat dst;
	CU_ASSERT_EQUAL(strata_rfile_open(path, &rf, &err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "404"));
	CU_ASSERT_EQUAL(strata_data_stat_path(path, &dst, &err), -ENOENT);
	size_t nfind = 0;
	int rc = strata_mf_check(strata_wh_mf(wh), "t", NULL, NULL, &nfind, &err);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT_EQUAL(nfind, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is missing"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &o, &r, &err), STRATA_ECORRUPT);
	CU_ASSERT_EQUAL(objects_under("check1/t"), 1);
	strata_wh_close(wh);
}

/* ---- retries, and what a failure names ------------------------------------------------- */

/* A warehouse at s3://BUCKET/<prefix> with table t (pk BIGINT, val STRING)
 * of `buckets` buckets and more properties, and a jobfix handle on it. */
static strata_wh *make_wh_props(const char *prefix, int buckets, const char *const *more,
				size_t nmore, char *whdir, size_t n, jf *f)
{
	snprintf(whdir, n, "%s/wh-%s", tu_tmpdir(), prefix);
	char data[256], nb[64];
	snprintf(data, sizeof(data), "s3://" BUCKET "/%s", prefix);
	snprintf(nb, sizeof(nb), "write.bucket.num=%d", buckets);
	strata_wh *wh = NULL;
	strata_err err = {0};
	int rc = strata_wh_create(whdir, data, &wh, &err);
	if (rc)
		fprintf(stderr, "\ncreate: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	const char *props[8] = {nb, "write.inline.max-bytes=0"}; /* files: objects */
	size_t np = 2;
	for (size_t i = 0; i < nmore && np < 8; i++)
		props[np++] = more[i];
	rc = strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, val STRING", NULL, NULL,
				 props, np, &err);
	if (rc)
		fprintf(stderr, "\ncreate table: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	memset(f, 0, sizeof(*f));
	f->dir = whdir;
	f->wh = wh;
	snprintf(f->table, sizeof(f->table), "t");
	strata_owner_string("test_store", f->owner, sizeof(f->owner));
	return wh;
}

/* Entries of table t not marked deleted, over every bucket: the objects
 * the manifest names. */
static int named_objects(jf *f)
{
	strata_table_def t;
	jf_def(f, &t);
	int n = 0;
	strata_arena *a = strata_arena_new();
	for (uint32_t b = 0; b < t.buckets; b++) {
		strata_file_entry *es;
		size_t ne = jf_entries(f, b, a, &es);
		for (size_t i = 0; i < ne; i++)
			n += !es[i].is_deleted;
	}
	strata_arena_free(a);
	return n;
}

/* Upsert pk in [0, n) with val "<tag>-<pk>" as one commit. */
static int write_tagged(jf *f, int n, const char *tag, strata_err *err)
{
	return write_rows(f->wh, 0, n, tag, err);
}

/* ---- retries after an answer lost ---------------------------------------------------------- */

/* The first attempt of every request of one op is sent and acted on by the
 * gateway, and its answer dropped (strata_s3_fault.is_answer_lost). */
typedef struct lose_plan {
	const char *op;
	atomic_int sent, lost;
} lose_plan;

static void lose_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	lose_plan *p = ctx;
	if (strcmp(p->op, req->op) != 0)
		return;
	atomic_fetch_add(&p->sent, 1);
	if (req->attempt == 1) {
		out->is_answer_lost = true;
		atomic_fetch_add(&p->lost, 1);
	}
}

/* Whether the object at key holds exactly buf. */
static bool object_is(strata_s3 *c, const char *key, const uint8_t *buf, size_t n)
{
	strata_s3_obj o;
	strata_err err = {0};
	if (strata_s3_head(c, BUCKET, key, &o, &err) != 0 || o.size != n)
		return false;
	uint8_t *back = malloc(n ? n : 1);
	size_t got = 0;
	bool is_same = strata_s3_get_range(c, BUCKET, key, 0, n, back, &got, &err) == 0 &&
		       got == n && memcmp(back, buf, n) == 0;
	free(back);
	return is_same;
}

/* Every request kind a write makes, its first answer lost after the gateway
 * acted on it: the write still succeeds, exactly once (one object, our
 * bytes, no upload left).  A PUT's retry meets its own object (412, told
 * by its size and MD5); a completion's retry meets a completed upload;
 * CreateMultipartUpload's retry makes a second upload, which the writer
 * aborts (that one failed before the writer looked for spares). */
static void test_lost_answers(void)
{
	rgw();
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY,
				.part_bytes = STRATA_S3_MIN_PART_BYTES, .backoff_base_ms = 5,
				.backoff_max_ms = 20};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	size_t big = STRATA_S3_MIN_PART_BYTES + 4321;
	uint8_t *buf = malloc(big);
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)(i * 13 + i / 509);
	static const char *ops[] = {"PUT", "CREATE_MPU", "UPLOAD_PART", "COMPLETE_MPU"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ops); i++) {
		char key[64];
		snprintf(key, sizeof(key), "lost/%s", ops[i]);
		size_t n = strcmp(ops[i], "PUT") == 0 ? 1000 : big;
		lose_plan p = {.op = ops[i]};
		strata_s3_fault_set(lose_hook, &p);
		strata_s3_stats_reset();
		int rc = strata_s3_put(c, BUCKET, key, buf, n, &err);
		strata_s3_fault_set(NULL, NULL);
		if (rc)
			fprintf(stderr, "\n%s lost: %s\n", ops[i], err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(atomic_load(&p.lost) >= 1);
		CU_ASSERT(atomic_load(&p.sent) >= 2); /* it was retried */
		CU_ASSERT(object_is(c, key, buf, n));
		CU_ASSERT_EQUAL(objects_under("lost"), (int)i + 1);
		int ups = uploads_under(key);
		if (ups)
			fprintf(stderr, "\n%s lost: %d uploads left\n", ops[i], ups);
		CU_ASSERT_EQUAL(ups, 0);
		strata_s3_stats st;
		strata_s3_stats_get(&st);
		CU_ASSERT_EQUAL(st.failures, 0);
	}
	/* a DELETE whose answer is lost: the retry deletes nothing, succeeds */
	lose_plan p = {.op = "DELETE"};
	strata_s3_fault_set(lose_hook, &p);
	int rc = strata_s3_delete(c, BUCKET, "lost/PUT", &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(atomic_load(&p.sent), 2);
	strata_s3_obj o;
	CU_ASSERT_EQUAL(strata_s3_head(c, BUCKET, "lost/PUT", &o, &err), STRATA_ENOTFOUND);
	free(buf);
	strata_s3_close(c);
}

/* A writer commit whose every PUT answer is lost once: it commits, each
 * file once (no object beyond those the manifest names). */
static void test_lost_answers_commit(void)
{
	rgw();
	char whdir[512];
	jf f;
	strata_wh *wh = make_wh_props("lostw", 4, NULL, 0, whdir, sizeof(whdir), &f);
	strata_err err = {0};
	lose_plan p = {.op = "PUT"};
	strata_s3_fault_set(lose_hook, &p);
	int rc = write_tagged(&f, 40, "a", &err);
	strata_s3_fault_set(NULL, NULL);
	if (rc)
		fprintf(stderr, "\ncommit: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(atomic_load(&p.lost), 4);
	CU_ASSERT_EQUAL(objects_under("lostw/t"), 4);
	CU_ASSERT_EQUAL(named_objects(&f), 4);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "a", &tagged), 40);
	CU_ASSERT_EQUAL(tagged, 40);
	check_consistent(wh);
	strata_wh_close(wh);
}

/* ---- small ------------------------------------------------------------------------------- */

/* A LIST that gives up names its prefix, not only the bucket. */
static void test_list_failure_names_prefix(void)
{
	rgw();
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY,
				.max_attempts = 2, .backoff_base_ms = 5, .backoff_max_ms = 20};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	fault_plan p = {.op = "LIST"};
	strata_s3_fault_set(fault_hook, &p);
	int n = 0;
	int rc = strata_s3_list(c, BUCKET, "some/prefix/", 0, count_one, &n, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3 LIST s3://" BUCKET "/some/prefix/: HTTP 503"));
	p = (fault_plan){.op = "LIST_MPU"};
	strata_s3_fault_set(fault_hook, &p);
	rc = strata_s3_uploads_list(c, BUCKET, "other/prefix/", count_upload, &n, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3 LIST_MPU s3://" BUCKET "/other/prefix/: HTTP 503"));
	strata_s3_close(c);
}

/* ---- faults in the middle of an operation, and at every request --------------------------- */

/* The helpers below drive a writer commit, a job and a clean through a
 * fault at their N-th store request, and check the promises every fault
 * must keep (issue 14, "How it is checked"): the operation fails cleanly
 * or succeeds after retrying; every version reads as before (jobfix's
 * history: each version dumped, and the changes between them); no
 * version names a missing object (the manifest check, in process and
 * `strata check`); no claim is left (an intent only when the failed job
 * could not delete its outputs); and the work done again succeeds, after
 * which clean leaves exactly the objects the manifest names and no
 * intent. */

/* The data store's client with short timeouts: a stopped gateway fails an
 * attempt in 1 s (an idle GET, HEAD, DELETE or LIST) or 1.5 s (a PUT,
 * whose body keeps the idle timer quiet). */
static void store_short_timeouts(int max_attempts)
{
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY,
				.max_attempts = max_attempts, .backoff_base_ms = 5,
				.backoff_max_ms = 20, .idle_timeout_s = 1,
				.connect_timeout_ms = 500, .request_timeout_ms = 1500};
	strata_store_s3_configure(&cfg);
}

static void store_suite_timeouts(void)
{
	endpoint = NULL; /* rgw() configures the suite's client again */
	rgw();
}

/* Which faults: the nth request (first attempts counted, of one op or of
 * every op) fails every attempt with 503 SlowDown or a refused connection
 * (so it gives up), or stops the gateway (SIGSTOP of radosgw) just before
 * it is sent — continued by a thread after cont_ms, or by nth_done(). */
typedef enum { NTH_503, NTH_CONN, NTH_STOP } nth_how;

typedef struct nth_plan {
	int at;
	const char *op;
	nth_how how;
	int cont_ms;
	atomic_int n;        /* requests counted */
	atomic_bool fired;
	bool is_stopped;     /* every thread of radosgw was seen stopped */
	char what[1100];     /* "OP key" of the request faulted */
	pthread_t cont;
	bool has_cont;
} nth_plan;

/* This thread's current request is the one faulted (its retries fail too). */
static _Thread_local bool nth_in_target;

static void *nth_cont_main(void *arg)
{
	nth_plan *p = arg;
	sleep_ms(p->cont_ms);
	kill(tu_rgw_daemon_pid(TU_RGW_GW), SIGCONT);
	return NULL;
}

static void nth_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	nth_plan *p = ctx;
	if (req->attempt == 1) {
		nth_in_target = false;
		if (p->op && strcmp(p->op, req->op) != 0)
			return;
		if (atomic_fetch_add(&p->n, 1) + 1 != p->at)
			return;
		nth_in_target = true;
		snprintf(p->what, sizeof(p->what), "%s %s", req->op, req->key);
		atomic_store(&p->fired, true);
		if (p->how == NTH_STOP) {
			pid_t gw = tu_rgw_daemon_pid(TU_RGW_GW);
			p->is_stopped = kill(gw, SIGSTOP) == 0 && all_threads_stopped(gw);
			if (p->cont_ms > 0)
				p->has_cont = pthread_create(&p->cont, NULL, nth_cont_main, p) == 0;
		}
	}
	if (!nth_in_target || p->how == NTH_STOP)
		return;
	if (p->how == NTH_503) {
		out->status = 503;
		snprintf(out->code, sizeof(out->code), "SlowDown");
	} else {
		out->is_conn_error = true;
	}
}

static void nth_arm(nth_plan *p)
{
	nth_in_target = false;
	strata_s3_fault_set(nth_hook, p);
}

/* After the operation: no hook, the gateway running. */
static void nth_done(nth_plan *p)
{
	strata_s3_fault_set(NULL, NULL);
	nth_in_target = false;
	if (p->has_cont)
		pthread_join(p->cont, NULL);
	p->has_cont = false;
	if (p->how == NTH_STOP && atomic_load(&p->fired))
		kill(tu_rgw_daemon_pid(TU_RGW_GW), SIGCONT);
}

/* Every version of h reads as it did; with is_clean, one that a clean
 * expired may fail with the retention error instead (never the latest). */
static int versions_read_alike(jf *f, const jf_hist *h, bool is_clean, const char *what)
{
	if (!is_clean)
		return jf_hist_diff(f, h, 1, 0);
	int bad = 0;
	for (uint64_t v = 1; v <= h->n; v++) {
		int drc = 0;
		char *d = jf_dump_at(f, v, &drc);
		bool is_expired = drc == STRATA_ERETENTION && v < h->n;
		if (!is_expired && strcmp(d, h->d[v]) != 0) {
			fprintf(stderr, "\n%s: version %llu reads\n%s--- instead of\n%s\n", what,
				(unsigned long long)v, d, h->d[v]);
			bad++;
		}
		free(d);
	}
	return bad;
}

/* The promises after a fault (see above): 0, or how many were broken, each
 * printed under what.  Versions after h->n are not looked at. */
static int promises_kept(jf *f, const jf_hist *h, bool is_clean, const char *what)
{
	int bad = 0;
	if (versions_read_alike(f, h, is_clean, what) != 0) {
		fprintf(stderr, "\n%s: a version reads differently\n", what);
		bad++;
	}
	strata_err err = {0};
	size_t nfind = 0;
	int rc = strata_mf_check(strata_wh_mf(f->wh), "t", NULL, NULL, &nfind, &err);
	if (rc || nfind) {
		fprintf(stderr, "\n%s: check: rc %d, %zu findings: %s\n", what, rc, nfind, err.msg);
		bad++;
	}
	/* an intent may stay, its claim released, when a failed job could not
	 * delete its outputs (merge/job.c invariant 7): the next clean's
	 * recovery removes them (finish_with_clean checks) */
	if (jf_claimed(f, 0)) {
		fprintf(stderr, "\n%s: %zu intents, claim left\n", what, jf_intents(f));
		bad++;
	}
	return bad;
}

/* The AWS environment of the CLI: the suite's gateway. */
static void cli_env(void)
{
	setenv("AWS_ENDPOINT_URL", endpoint, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", TU_RGW_ACCESS_KEY, 1);
	setenv("AWS_SECRET_ACCESS_KEY", TU_RGW_SECRET_KEY, 1);
}

/* `strata check t` on the warehouse: its exit status (output printed when
 * it fails). */
static int cli_check(const char *whdir)
{
	cli_env();
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s -W '%s' check t 2>&1", tu_bin("strata"), whdir);
	char *out = NULL;
	int rc = tu_run(cmd, &out);
	if (rc)
		fprintf(stderr, "\nstrata check: exit %d\n%s\n", rc, out ? out : "");
	free(out);
	return rc;
}

/* clean with grace 0, trash 0 and orphans of any age (real clock). */
static int clean_now(jf *f, strata_clean_result *r, strata_err *err)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 0;
	o.orphan_age_s = 0;
	o.orphan_max_fraction = 1.0;
	return strata_clean_table(f->wh, "t", &o, r, err);
}

/* Finish what a fault left: a clean that must succeed, after which the
 * objects under the table's prefix are exactly those the manifest names
 * and no multipart upload is left.  Returns the broken promises. */
static int finish_with_clean(jf *f, const char *prefix, const char *what)
{
	strata_clean_result r;
	strata_err err = {0};
	int bad = 0;
	int rc = clean_now(f, &r, &err);
	if (rc) {
		fprintf(stderr, "\n%s: the clean after it: %s\n", what, err.msg);
		bad++;
	}
	char p[300];
	snprintf(p, sizeof(p), "%s/t", prefix);
	int have = objects_under(p), want = named_objects(f);
	snprintf(p, sizeof(p), "%s/", prefix);
	int ups = uploads_under(p);
	size_t ni = jf_intents(f);
	if (have != want || ups != 0 || ni != 0) {
		fprintf(stderr, "\n%s: after a clean %d objects (the manifest names %d), %d uploads, "
			"%zu intents\n", what, have, want, ups, ni);
		bad++;
	}
	return bad;
}

/* A multipart upload of key begun and never finished: a child creates it
 * and exits as its first part would go (nothing but the create is sent). */
static void exit_on_part(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	(void)ctx;
	(void)out;
	if (strcmp(req->op, "UPLOAD_PART") == 0)
		_exit(0);
}

static void stale_upload(const char *key)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		strata_s3_fault_set(exit_on_part, NULL);
		strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
					.access_key = TU_RGW_ACCESS_KEY,
					.secret_key = TU_RGW_SECRET_KEY,
					.part_bytes = STRATA_S3_MIN_PART_BYTES};
		strata_s3 *c = NULL;
		strata_s3_writer *w = NULL;
		strata_err cerr;
		size_t n = STRATA_S3_MIN_PART_BYTES + 1;
		char *buf = calloc(1, n);
		if (strata_s3_open(&cfg, &c, &cerr) == 0 &&
		    strata_s3_writer_open(c, BUCKET, key, &w, &cerr) == 0)
			strata_s3_writer_write(w, buf, n, &cerr);
		_exit(1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* An object no entry knows, under bucket 0 of the table. */
static void put_orphan(const char *prefix, int k)
{
	char path[300];
	snprintf(path, sizeof(path), "s3://" BUCKET "/%s/t/_/b0000/orphan%d.avro", prefix, k);
	strata_wfile *w;
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(path, &w, &err), 0);
	CU_ASSERT_EQUAL(strata_wfile_write(w, "junk", 4, &err), 0);
	CU_ASSERT_EQUAL(strata_wfile_commit(w, &err), 0);
}

/* Bucket 0's job of kind k, its outputs split at target_bytes. */
static int job_split(jf *f, jf_kind k, strata_job_result *res, strata_err *err)
{
	jf_job_opts o = {.merge_level = -1, .target_bytes = 1500};
	strata_job_ctl ctl = {.owner = f->owner};
	return jf_job(f, 0, k, &o, &ctl, res, err);
}

/* ---- the gateway stopped in the middle ------------------------------------------------------ */

/* A writer commit of rows in 4 buckets (4 objects): the gateway stops just
 * before the 3rd PUT, so two objects are up.  Never continued within the
 * client's timeouts: the commit fails (-ETIMEDOUT), nothing is committed;
 * continued after 2.2 s (a retry's window): the commit succeeds.  Both
 * times the promises hold, and a clean leaves only named objects (the
 * failed commit's objects, and the PUT the gateway took in while stopped,
 * become orphans). */
static void test_stop_mid_commit(void)
{
	rgw();
	char whdir[512];
	jf f;
	strata_wh *wh = make_wh_props("mstopw", 4, NULL, 0, whdir, sizeof(whdir), &f);
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_tagged(&f, 40, "a", &err), 0);
	CU_ASSERT_EQUAL(objects_under("mstopw/t"), 4);
	for (int cont = 0; cont < 2; cont++) {
		const char *tag = cont ? "c" : "b";
		store_short_timeouts(cont ? 6 : 2);
		jf_hist h;
		jf_hist_take(&f, &h);
		uint64_t v0 = jf_version(&f);
		nth_plan p = {.at = 3, .op = "PUT", .how = NTH_STOP, .cont_ms = cont ? 2200 : 0};
		nth_arm(&p);
		int64_t t0 = strata_mono_us();
		int rc = write_tagged(&f, 40, tag, &err);
		double secs = (double)(strata_mono_us() - t0) / 1e6;
		nth_done(&p);
		fprintf(stderr, "\n  stopped at %s (continued: %s): rc %d in %.1f s%s%s", p.what,
			cont ? "after 2.2 s" : "after the commit", rc, secs, rc ? ": " : "",
			rc ? err.msg : "");
		CU_ASSERT(atomic_load(&p.fired));
		CU_ASSERT(p.is_stopped);
		store_suite_timeouts();
		char what[64];
		snprintf(what, sizeof(what), "commit stopped at PUT 3 (cont %d)", cont);
		if (cont) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(jf_version(&f), v0 + 1);
		} else {
			CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3://" BUCKET "/mstopw/t/"));
			CU_ASSERT_EQUAL(jf_version(&f), v0);
			int tagged = 0;
			CU_ASSERT_EQUAL(scan_rows(wh, "a", &tagged), 40);
			CU_ASSERT_EQUAL(tagged, 40);
		}
		CU_ASSERT_EQUAL(promises_kept(&f, &h, false, what), 0);
		CU_ASSERT_EQUAL(cli_check(whdir), 0);
		if (!cont) /* the work done again */
			CU_ASSERT_EQUAL(write_tagged(&f, 40, tag, &err), 0);
		int tagged = 0;
		CU_ASSERT_EQUAL(scan_rows(wh, tag, &tagged), 40);
		CU_ASSERT_EQUAL(tagged, 40);
		CU_ASSERT_EQUAL(promises_kept(&f, &h, false, what), 0);
		CU_ASSERT_EQUAL(finish_with_clean(&f, "mstopw", what), 0);
		jf_hist_free(&h);
	}
	CU_ASSERT_EQUAL(cli_check(whdir), 0);
	strata_wh_close(wh);
}

/* A sort of 4 row files into outputs split at 1500 bytes: the gateway
 * stops just before the job's 2nd PUT (one output is up).  As for the
 * commit: never continued in time, the job fails and commits nothing, and
 * the job run again succeeds; continued after 2.2 s, the job succeeds.
 * The sorted version reads as the version before it. */
static void test_stop_mid_job(void)
{
	rgw();
	char whdir[512];
	jf f;
	strata_wh *wh = make_wh_props("mstopj", 1, NULL, 0, whdir, sizeof(whdir), &f);
	strata_err err = {0};
	for (int cont = 0; cont < 2; cont++) {
		for (int k = 0; k < 4; k++)
			CU_ASSERT_EQUAL(write_rows(wh, k * 30, k * 30 + 60, cont ? "d" : "c", &err), 0);
		strata_store_s3_cache_clear(); /* the job must reach the gateway */
		store_short_timeouts(cont ? 6 : 2);
		jf_hist h;
		jf_hist_take(&f, &h);
		uint64_t v0 = jf_version(&f);
		nth_plan p = {.at = 2, .op = "PUT", .how = NTH_STOP, .cont_ms = cont ? 2200 : 0};
		strata_job_result res;
		nth_arm(&p);
		int64_t t0 = strata_mono_us();
		int rc = job_split(&f, JF_SORT, &res, &err);
		double secs = (double)(strata_mono_us() - t0) / 1e6;
		nth_done(&p);
		fprintf(stderr, "\n  stopped at %s (continued: %s): rc %d in %.1f s%s%s", p.what,
			cont ? "after 2.2 s" : "after the job", rc, secs, rc ? ": " : "",
			rc ? err.msg : "");
		CU_ASSERT(atomic_load(&p.fired));
		CU_ASSERT(p.is_stopped);
		store_suite_timeouts();
		char what[64];
		snprintf(what, sizeof(what), "sort stopped at PUT 2 (cont %d)", cont);
		if (cont) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT(res.files_out >= 2);
		} else {
			CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3://" BUCKET "/mstopj/t/"));
			CU_ASSERT_EQUAL(jf_version(&f), v0);
			/* its output's DELETE met the stopped gateway too: the
			 * intent stays for the clean (merge/job.c invariant 7) */
			CU_ASSERT_EQUAL(jf_intents(&f), 1);
		}
		CU_ASSERT_EQUAL(promises_kept(&f, &h, false, what), 0);
		CU_ASSERT_EQUAL(cli_check(whdir), 0);
		if (!cont) {
			rc = job_split(&f, JF_SORT, &res, &err);
			if (rc)
				fprintf(stderr, "\nsort again: %s\n", err.msg);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT(res.files_out >= 2);
		}
		CU_ASSERT_EQUAL(jf_version(&f), v0 + 1);
		char *now = jf_dump_at(&f, v0 + 1, NULL);
		CU_ASSERT_STRING_EQUAL(now, h.d[v0]);
		free(now);
		CU_ASSERT_EQUAL(promises_kept(&f, &h, false, what), 0);
		CU_ASSERT_EQUAL(finish_with_clean(&f, "mstopj", what), 0);
		jf_hist_free(&h);
	}
	CU_ASSERT_EQUAL(cli_check(whdir), 0);
	strata_wh_close(wh);
}

/* A clean with 4 objects in the trash (a major compaction's inputs, freed
 * at once), 2 orphans and a stale multipart upload: the gateway stops just
 * before its 2nd DELETE (one object is gone).  Never continued in time:
 * the clean fails (-ETIMEDOUT) and the next one finishes; continued after
 * 2.2 s: it succeeds.  Either way only named objects stay. */
static void test_stop_mid_clean(void)
{
	rgw();
	char whdir[512];
	jf f;
	strata_wh *wh = make_wh_props("mstopc", 1, NULL, 0, whdir, sizeof(whdir), &f);
	strata_err err = {0};
	for (int cont = 0; cont < 2; cont++) {
		for (int k = 0; k < 4; k++)
			CU_ASSERT_EQUAL(write_rows(wh, k * 30, k * 30 + 60, cont ? "d" : "c", &err), 0);
		strata_bucket_job job;
		strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
		job.drop_history = true;
		strata_bucket_job_out out;
		CU_ASSERT_EQUAL(strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err), 0);
		put_orphan("mstopc", 2 * cont);
		put_orphan("mstopc", 2 * cont + 1);
		stale_upload(cont ? "mstopc/t/_/b0000/j99-1.parquet" : "mstopc/t/_/b0000/j99-0.parquet");
		store_short_timeouts(cont ? 6 : 2);
		jf_hist h;
		jf_hist_take(&f, &h);
		nth_plan p = {.at = 2, .op = "DELETE", .how = NTH_STOP, .cont_ms = cont ? 2200 : 0};
		strata_clean_result r;
		nth_arm(&p);
		int64_t t0 = strata_mono_us();
		int rc = clean_now(&f, &r, &err);
		double secs = (double)(strata_mono_us() - t0) / 1e6;
		nth_done(&p);
		fprintf(stderr, "\n  stopped at %s (continued: %s): rc %d in %.1f s%s%s", p.what,
			cont ? "after 2.2 s" : "after the clean", rc, secs, rc ? ": " : "",
			rc ? err.msg : "");
		CU_ASSERT(atomic_load(&p.fired));
		CU_ASSERT(p.is_stopped);
		store_suite_timeouts();
		char what[64];
		snprintf(what, sizeof(what), "clean stopped at DELETE 2 (cont %d)", cont);
		if (cont) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(r.orphans, 2);
			CU_ASSERT_EQUAL(r.uploads_aborted, 1);
		} else {
			CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "s3://" BUCKET "/mstopc/t/"));
		}
		CU_ASSERT_EQUAL(promises_kept(&f, &h, true, what), 0);
		CU_ASSERT_EQUAL(cli_check(whdir), 0);
		int tagged = 0;
		CU_ASSERT_EQUAL(scan_rows(wh, cont ? "d" : "c", &tagged), 150);
		CU_ASSERT_EQUAL(tagged, 150);
		CU_ASSERT_EQUAL(finish_with_clean(&f, "mstopc", what), 0);
		CU_ASSERT_EQUAL(objects_under("mstopc/t"), 1);
		jf_hist_free(&h);
	}
	strata_wh_close(wh);
}

/* ---- a fault at every request ------------------------------------------------------------ */

/* The store's counterpart of the POSIX sweeps of test_jobs and test_clean:
 * fail the N-th request (every attempt of it, so it gives up: 503 SlowDown
 * for odd N, a refused connection for even N) of an operation, N = 1, 2,
 * ... until the operation runs without meeting the fault.  Each round
 * prepares the same work again (the commit rewrites the same rows, the
 * sort gets 3 new row files, the major compaction 1, the clean a trash of
 * a major compaction's inputs, an orphan and a stale upload), and after a
 * fault checks: a failure names an object or prefix of the table and
 * commits nothing (a job or a commit; a clean may have committed its
 * marking), the promises hold, and the operation done again without
 * faults succeeds and keeps them too.  Every request is faulted (step 1):
 * a round is a few requests on loopback, the sweep about ten rounds. */
typedef enum { SW_COMMIT, SW_SORT, SW_MAJOR, SW_CLEAN } sw_kind;

static const char *sw_name(sw_kind k)
{
	static const char *names[] = {"writer commit", "sort", "major compaction", "clean"};
	return names[k];
}

static void sw_prepare(jf *f, sw_kind k, const char *prefix, int round)
{
	strata_err err = {0};
	char tag[16];
	snprintf(tag, sizeof(tag), "r%d", round);
	switch (k) {
	case SW_COMMIT:
		break;
	case SW_SORT:
		for (int i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(write_rows(f->wh, i * 20, i * 20 + 40, tag, &err), 0);
		break;
	case SW_MAJOR:
		CU_ASSERT_EQUAL(write_rows(f->wh, 20, 60, tag, &err), 0);
		break;
	case SW_CLEAN: {
		for (int i = 0; i < 2; i++)
			CU_ASSERT_EQUAL(write_rows(f->wh, i * 20, i * 20 + 40, tag, &err), 0);
		strata_bucket_job job;
		strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
		job.drop_history = true;
		strata_bucket_job_out out;
		CU_ASSERT_EQUAL(strata_bucket_job_run(f->wh, "t", "", 0, &job, NULL, &out, &err), 0);
		put_orphan(prefix, round);
		char key[300];
		snprintf(key, sizeof(key), "%s/t/_/b0000/j9999%d-0.parquet", prefix, round);
		stale_upload(key);
		break;
	}
	}
}

static int sw_run(jf *f, sw_kind k, int round, strata_err *err)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "w%d", round);
	strata_job_result res;
	strata_clean_result r;
	switch (k) {
	case SW_COMMIT:
		return write_tagged(f, 40, tag, err);
	case SW_SORT:
		return job_split(f, JF_SORT, &res, err);
	case SW_MAJOR:
		return job_split(f, JF_MAJOR, &res, err);
	case SW_CLEAN:
		return clean_now(f, &r, err);
	}
	return -EINVAL;
}

/* After a successful run: what it must have done. */
static int sw_did_it(jf *f, sw_kind k, const char *prefix, int round, const jf_hist *h,
		     uint64_t v0, const char *what)
{
	int bad = 0;
	if (k == SW_COMMIT) {
		char tag[16];
		int tagged = 0;
		snprintf(tag, sizeof(tag), "w%d", round);
		if (scan_rows(f->wh, tag, &tagged) != 40 || tagged != 40) {
			fprintf(stderr, "\n%s: the commit's rows do not read back\n", what);
			bad++;
		}
	} else if (k == SW_SORT || k == SW_MAJOR) {
		char *now = jf_dump_at(f, v0 + 1, NULL);
		if (jf_version(f) != v0 + 1 || strcmp(now, h->d[v0]) != 0) {
			fprintf(stderr, "\n%s: the job's version does not read as the one before\n",
				what);
			bad++;
		}
		free(now);
	} else {
		bad += finish_with_clean(f, prefix, what);
	}
	return bad;
}

static void sweep(sw_kind k, const char *base)
{
	rgw();
	int failed = 0, harmless = 0, at;
	bool is_done = false;
	for (at = 1; at < 100 && !is_done; at++) {
		/* a warehouse of its own per round: every round meets the
		 * same requests in the same order */
		char prefix[64], whdir[512], where[300];
		snprintf(prefix, sizeof(prefix), "%s%d", base, at);
		snprintf(where, sizeof(where), "s3://" BUCKET "/%s/", prefix);
		jf f;
		strata_wh *wh = make_wh_props(prefix, k == SW_COMMIT ? 4 : 1, NULL, 0, whdir,
					      sizeof(whdir), &f);
		strata_err err = {0};
		CU_ASSERT_EQUAL(write_rows(wh, 0, 40, "first", &err), 0);
		sw_prepare(&f, k, prefix, at);
		jf_hist h;
		jf_hist_take(&f, &h);
		uint64_t v0 = jf_version(&f);
		nth_plan p = {.at = at, .how = at % 2 ? NTH_503 : NTH_CONN};
		strata_err_clear(&err);
		strata_store_s3_cache_clear(); /* the operation's reads reach the gateway */
		nth_arm(&p);
		int rc = sw_run(&f, k, at, &err);
		nth_done(&p);
		char what[1300];
		snprintf(what, sizeof(what), "%s: request %d (%s) %s", sw_name(k), at, p.what,
			 at % 2 ? "503" : "refused");
		if (getenv("STORE_SWEEP_DEBUG"))
			fprintf(stderr, "\n%s: rc %d %s", what, rc, rc ? err.msg : "");
		if (!atomic_load(&p.fired)) {
			/* past the last request: the operation ran untouched */
			if (rc)
				fprintf(stderr, "\n%s (not fired): %s\n", what, err.msg);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(sw_did_it(&f, k, prefix, at, &h, v0, what), 0);
			CU_ASSERT_EQUAL(cli_check(whdir), 0);
			is_done = true;
		} else if (rc == 0) {
			/* the fault met something the operation may survive */
			harmless++;
			CU_ASSERT_EQUAL(promises_kept(&f, &h, k == SW_CLEAN, what), 0);
			CU_ASSERT_EQUAL(sw_did_it(&f, k, prefix, at, &h, v0, what), 0);
		} else {
			failed++;
			if (!strstr(err.msg, where)) {
				fprintf(stderr, "\n%s: the message names nothing under %s: \"%s\"\n", what,
					where, err.msg);
				CU_FAIL("a store failure without the object or prefix");
			}
			if (k != SW_CLEAN && jf_version(&f) != v0) {
				fprintf(stderr, "\n%s: version %llu committed\n", what,
					(unsigned long long)jf_version(&f));
				CU_FAIL("a failed operation committed");
			}
			CU_ASSERT_EQUAL(promises_kept(&f, &h, k == SW_CLEAN, what), 0);
			/* the work done again */
			uint64_t v1 = jf_version(&f);
			rc = sw_run(&f, k, at, &err);
			if (rc)
				fprintf(stderr, "\n%s: done again: %s\n", what, err.msg);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(promises_kept(&f, &h, k == SW_CLEAN, what), 0);
			CU_ASSERT_EQUAL(sw_did_it(&f, k, prefix, at, &h, v1, what), 0);
		}
		jf_hist_free(&h);
		strata_wh_close(wh);
	}
	CU_ASSERT(is_done);
	CU_ASSERT(failed > 0);
	fprintf(stderr, "\n  %s: %d requests faulted, %d failed cleanly, %d survived ", sw_name(k),
		at - 2, failed, harmless);
}

static void test_sweep_commit(void)
{
	sweep(SW_COMMIT, "swpw");
}

static void test_sweep_sort(void)
{
	sweep(SW_SORT, "swps");
}

static void test_sweep_major(void)
{
	sweep(SW_MAJOR, "swpm");
}

static void test_sweep_clean(void)
{
	sweep(SW_CLEAN, "swpc");
}

/* ---- undelete on object storage --------------------------------------------------------- */

/* `strata undelete t --all` (the CLI) with the data on RGW: a clean that
 * took 3 row files (versions 2..4, sorted at 5) and expired the versions
 * before 5 is undone; every version reads
 * as before the clean, and the objects never moved. */
static void test_cli_undelete_s3(void)
{
	rgw();
	char whdir[512];
	jf f;
	const char *props[] = {"acid.data.retain.hours=1"};
	/* a manual clock 5 h back, so that the clean's trash window (6 h)
	 * still runs for the CLI on the real clock */
	int64_t hour = 3600LL * 1000000;
	tu_clock_manual(strata_now_us() - 5 * hour);
	strata_wh *wh = make_wh_props("undel1", 1, props, 1, whdir, sizeof(whdir), &f);
	strata_err err = {0};
	for (int k = 0; k < 3; k++) {
		tu_clock_advance(1000000);
		CU_ASSERT_EQUAL(write_rows(wh, k * 10, k * 10 + 20, k ? "b" : "a", &err), 0);
	}
	tu_clock_advance(1000000);
	CU_ASSERT_EQUAL(run_job(wh, STRATA_BUCKET_JOB_SORT, &err), 0); /* 5 */
	tu_clock_advance(2 * hour);
	CU_ASSERT_EQUAL(write_rows(wh, 5, 8, "c", &err), 0);           /* 6 */
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(h.n, 6);
	int before = objects_under("undel1/t");
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 6 * 3600;
	o.orphan_age_s = -1;
	strata_clean_result r;
	int rc = strata_clean_table(wh, "t", &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.files_deleted, 3);
	CU_ASSERT(r.versions_expired >= 3);
	tu_clock_real();
	int drc = 0;
	char *d = jf_dump_at(&f, 2, &drc);
	CU_ASSERT_EQUAL(drc, STRATA_ERETENTION);
	free(d);
	CU_ASSERT_EQUAL(objects_under("undel1/t"), before); /* in the trash: still there */
	strata_wh_close(wh);
	cli_env();
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s -W '%s' undelete t --all 2>&1", tu_bin("strata"), whdir);
	char *out = NULL;
	rc = tu_run(cmd, &out);
	if (rc)
		fprintf(stderr, "\nundelete: exit %d\n%s\n", rc, out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "3 files"));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "0 moved back"));
	free(out);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whdir, false, &wh, &err), 0);
	f.wh = wh;
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	check_consistent(wh);
	CU_ASSERT_EQUAL(objects_under("undel1/t"), before);
	CU_ASSERT_EQUAL(cli_check(whdir), 0);
	jf_hist_free(&h);
	strata_wh_close(wh);
}

/* ---- a completion answered 200 with an error ------------------------------------------------ */

/* The completion of a multipart upload answered 200 with an <Error> body
 * (S3 starts the answer before the work ends): a transient failure,
 * retried (it failed the write at once before); when every attempt is
 * answered so, the write fails with -EIO naming the object and the code,
 * and the upload is aborted. */
typedef struct err200_plan {
	int fail_attempts;
	atomic_int seen;
} err200_plan;

static void err200_hook(void *ctx, const strata_s3_req_info *req, strata_s3_fault *out)
{
	err200_plan *p = ctx;
	if (strcmp(req->op, "COMPLETE_MPU") != 0)
		return;
	atomic_fetch_add(&p->seen, 1);
	if (req->attempt <= p->fail_attempts) {
		out->status = 200;
		snprintf(out->code, sizeof(out->code), "InternalError");
	}
}

static void test_completion_error_in_200(void)
{
	rgw();
	strata_s3_config cfg = {.endpoint = endpoint, .region = "us-east-1",
				.access_key = TU_RGW_ACCESS_KEY, .secret_key = TU_RGW_SECRET_KEY,
				.part_bytes = STRATA_S3_MIN_PART_BYTES, .max_attempts = 3,
				.backoff_base_ms = 5, .backoff_max_ms = 20};
	strata_s3 *c = NULL;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_s3_open(&cfg, &c, &err) == 0);
	size_t big = STRATA_S3_MIN_PART_BYTES + 99;
	uint8_t *buf = malloc(big);
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)(i * 31 + i / 1021);
	err200_plan p = {.fail_attempts = 1};
	strata_s3_fault_set(err200_hook, &p);
	int rc = strata_s3_put(c, BUCKET, "err200/once", buf, big, &err);
	strata_s3_fault_set(NULL, NULL);
	if (rc)
		fprintf(stderr, "\ncompletion: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(atomic_load(&p.seen), 2);
	CU_ASSERT(object_is(c, "err200/once", buf, big));
	CU_ASSERT_EQUAL(uploads_under("err200/"), 0);
	p = (err200_plan){.fail_attempts = 99};
	strata_s3_fault_set(err200_hook, &p);
	rc = strata_s3_put(c, BUCKET, "err200/never", buf, big, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT_EQUAL(atomic_load(&p.seen), 3);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(err.msg, "s3 COMPLETE_MPU s3://" BUCKET "/err200/never: HTTP 200 InternalError"));
	strata_s3_obj o;
	CU_ASSERT_EQUAL(strata_s3_head(c, BUCKET, "err200/never", &o, &err), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(uploads_under("err200/"), 0);
	free(buf);
	strata_s3_close(c);
}

/* ---- clean14: a failed job's intent, a clean's HEADs ------------------------------------ */

static size_t intents_of(strata_wh *wh)
{
	strata_mf_snap *snap;
	strata_err err = {0};
	CU_ASSERT_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0);
	strata_arena *a = strata_arena_new();
	strata_intent *in;
	size_t n = 0;
	CU_ASSERT(strata_mf_intents_list(snap, a, &in, &n, &err) == 0);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return n;
}

/* At "outputs-written": every DELETE from here on answers 503, and the
 * job stops (it fails, and its clean-up cannot delete its output). */
static int delete_refused_hook(void *arg, const char *point)
{
	if (strcmp(point, "outputs-written") != 0)
		return 0;
	strata_s3_fault_set(fault_hook, arg);
	return 1;
}

/* merge/job.c invariant 7 on RGW: the failed job's output stays under its
 * intent (claim released); the next clean's intent recovery deletes the
 * output and the intent, and the rows read the same throughout. */
static void test_failed_job_delete_keeps_intent(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("jdel", whdir, sizeof(whdir));
	strata_err err = {0};
	CU_ASSERT_EQUAL(write_rows(wh, 0, 100, "a", &err), 0);
	CU_ASSERT_EQUAL(write_rows(wh, 50, 150, "b", &err), 0);
	CU_ASSERT_EQUAL(objects_under("jdel/t"), 2);
	fault_plan p = {.op = "DELETE"};
	strata_job_ctl ctl = {.owner = "clean14-test", .hook = delete_refused_hook, .hook_arg = &p};
	strata_bucket_job job;
	strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
	strata_bucket_job_out out;
	int rc = strata_bucket_job_run(wh, "t", "", 0, &job, &ctl, &out, &err);
	strata_s3_fault_set(NULL, NULL);
	CU_ASSERT_EQUAL(rc, STRATA_ECANCELED);
	CU_ASSERT(p.n_fired >= 1);
	CU_ASSERT_EQUAL(objects_under("jdel/t"), 3); /* the output is left */
	CU_ASSERT_EQUAL(intents_of(wh), 1);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	check_consistent(wh);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.orphan_age_s = -1; /* not the orphan scan: the intent's recovery */
	strata_clean_result r;
	rc = strata_clean_table(wh, "t", &o, &r, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.intents_recovered, 1);
	CU_ASSERT_EQUAL(intents_of(wh), 0);
	CU_ASSERT_EQUAL(objects_under("jdel/t"), 2);
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, "b", &tagged), 150);
	CU_ASSERT_EQUAL(tagged, 100);
	check_consistent(wh);
	/* the bucket takes jobs again */
	CU_ASSERT_EQUAL(run_job(wh, STRATA_BUCKET_JOB_MAJOR, &err), 0);
	CU_ASSERT_EQUAL(scan_rows(wh, "b", NULL), 150);
	strata_wh_close(wh);
}

/* Rounds of write + major compaction dropping history + clean, the trash
 * window spanning a few rounds: the HEADs a clean sends stay bounded (they
 * do not grow with the rounds; clean/clean.c invariant 9), every marked
 * entry's object is deleted once, and the table stays whole. */
static void test_clean_heads_bounded(void)
{
	rgw();
	char whdir[512];
	strata_wh *wh = make_wh("cheads", whdir, sizeof(whdir));
	strata_err err = {0};
	tu_clock_manual(1767225600000000LL);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.trash_s = 900;
	o.orphan_age_s = -1;
	enum { ROUNDS = 12 };
	uint64_t heads[ROUNDS], deletes = 0, unlinked = 0;
	char tag[16] = "";
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(tag, sizeof(tag), "r%d", i);
		CU_ASSERT_EQUAL(write_rows(wh, 0, 40, tag, &err), 0);
		strata_bucket_job job;
		strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
		job.drop_history = true;
		strata_bucket_job_out out;
		int rc = strata_bucket_job_run(wh, "t", "", 0, &job, NULL, &out, &err);
		if (rc)
			fprintf(stderr, "\nmajor: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		tu_clock_advance(300 * 1000000LL);
		strata_clean_result r;
		strata_s3_stats_reset();
		rc = strata_clean_table(wh, "t", &o, &r, &err);
		strata_s3_stats st;
		strata_s3_stats_get(&st);
		if (rc)
			fprintf(stderr, "\nclean: %s\n", err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		heads[i] = st.heads;
		deletes += st.deletes;
		unlinked += r.files_unlinked;
	}
	fprintf(stderr, "\n  HEADs per clean:");
	for (int i = 0; i < ROUNDS; i++)
		fprintf(stderr, " %llu", (unsigned long long)heads[i]);
	fprintf(stderr, "; %llu DELETEs for %llu objects ", (unsigned long long)deletes,
		(unsigned long long)unlinked);
	for (int i = 0; i < ROUNDS; i++)
		CU_ASSERT(heads[i] <= 2);
	CU_ASSERT(unlinked > 0);
	CU_ASSERT_EQUAL(deletes, unlinked); /* each object deleted once */
	int tagged = 0;
	CU_ASSERT_EQUAL(scan_rows(wh, tag, &tagged), 40);
	CU_ASSERT_EQUAL(tagged, 40);
	check_consistent(wh);
	/* past every window: the objects left are exactly the live files */
	tu_clock_advance(1000 * 1000000LL);
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "t", &o, &r, &err), 0);
	strata_mf_snap *snap;
	CU_ASSERT_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0);
	strata_table_def t;
	CU_ASSERT_FATAL(strata_mf_table_get(snap, "t", &t, &err) == 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *files;
	size_t n = 0, nlive = 0, ngone = 0;
	CU_ASSERT(strata_mf_table_files(snap, t.id, a, &files, &n, &err) == 0);
	strata_mf_snap_close(snap);
	for (size_t i = 0; i < n; i++) {
		nlive += !files[i].is_deleted;
		ngone += files[i].is_gone;
		CU_ASSERT(!files[i].is_gone || files[i].is_deleted);
	}
	fprintf(stderr, "(%zu entries: %zu live, %zu tombstones known gone) ", n, nlive, ngone);
	CU_ASSERT_EQUAL(objects_under("cheads/t"), (int)nlive);
	strata_arena_free(a);
	CU_ASSERT_EQUAL(scan_rows(wh, tag, NULL), 40);
	check_consistent(wh);
	tu_clock_real();
	strata_wh_close(wh);
}

static void register_store(void)
{
	CU_pSuite s = CU_add_suite("store", NULL, NULL);
	TU_ADD(s, test_local_seam);
	TU_ADD(s, test_init_data_dir);
	TU_ADD(s, test_init_data_s3);
	TU_ADD(s, test_cli_init_data);
	TU_ADD(s, test_endpoint_from_config_only);
	TU_ADD(s, test_jobs_and_reads);
	TU_ADD(s, test_get_tail);
	TU_ADD(s, test_window_overlap_not_fetched_twice);
	TU_ADD(s, test_sequential_reads_not_cached);
	TU_ADD(s, test_job_output_streams_in_parts);
	TU_ADD(s, test_tail_cache);
	TU_ADD(s, test_fault_5xx_retried);
	TU_ADD(s, test_fault_put_fails);
	TU_ADD(s, test_fault_gateway_stopped);
	TU_ADD(s, test_fault_slow_answers);
	TU_ADD(s, test_fault_credentials_revoked);
	TU_ADD(s, test_clean_trash_state);
	TU_ADD(s, test_clean_gateway_stopped);
	TU_ADD(s, test_clean_aborts_stale_uploads);
	TU_ADD(s, test_check_finds_missing_object);
	TU_ADD(s, test_stop_mid_commit);
	TU_ADD(s, test_stop_mid_job);
	TU_ADD(s, test_stop_mid_clean);
	TU_ADD(s, test_sweep_commit);
	TU_ADD(s, test_sweep_sort);
	TU_ADD(s, test_sweep_major);
	TU_ADD(s, test_sweep_clean);
	TU_ADD(s, test_lost_answers);
	TU_ADD(s, test_lost_answers_commit);
	TU_ADD(s, test_list_failure_names_prefix);
	TU_ADD(s, test_cli_undelete_s3);
	TU_ADD(s, test_completion_error_in_200);
	TU_ADD(s, test_failed_job_delete_keeps_intent);
	TU_ADD(s, test_clean_heads_bounded);
}

TU_MAIN(register_store)
