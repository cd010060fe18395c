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
	const char *props[] = {"write.bucket.num=1"};
	rc = strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, val STRING", NULL, NULL,
				 props, 1, &err);
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
						  NULL, NULL, NULL, 0, &err),
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
		 "--property write.bucket.num=1",
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
}

TU_MAIN(register_store)
