/*
 * tests/test_hostile.c — hostile input and hostile access.
 *
 *   names          table, column, partition-column and tag names that try
 *                  path traversal or odd bytes ("../x", "a/b", ".", "..",
 *                  "", 64 characters, unicode, control bytes) are refused
 *                  with a message naming what was wrong, and create nothing;
 *   partitions     partition values ("..", "../../etc", "a/b", "%2F", "",
 *                  unicode, control bytes, NUL-bearing keys through the C API)
 *                  are escaped into one directory name each: every file stays
 *                  under data/<table>/, and the values read back unchanged;
 *                  values whose directory name would pass NAME_MAX are refused;
 *   damaged files  a row file or a columnar file replaced by garbage (random
 *                  bytes, zeros, truncated, empty, another table's file) makes
 *                  scans, point gets and jobs fail with STRATA_ECORRUPT naming
 *                  the file; a job leaves nothing behind;
 *   stratad        (a real process) a damaged file in one bucket: that bucket
 *                  backs off to policy.backoff_max_s with an error log line and
 *                  the strata_bucket_corrupt metric, every other bucket is
 *                  governed as usual, and a repaired bucket recovers;
 *   admin socket   (a real process) an over-long line is refused and the
 *                  connection closed; connections past max_clients are
 *                  refused; clients that leave mid-reply (a watcher, a large
 *                  pipelined reply, a half-closed socket) leave it serving;
 *                  a client that pipelines commands without reading stops
 *                  being read (its replies are bounded); root gets in past
 *                  max_clients (the reserved slot, never for watch); idle
 *                  clients are closed after admin_idle_timeout_s, watchers
 *                  are not;
 *   metrics HTTP   idle and slowloris connections are closed after
 *                  metrics_timeout_s;
 *   fd exhaustion  with stratad's RLIMIT_NOFILE lowered (prlimit), accept()
 *                  failures log one line per listener per 10 s and both
 *                  listeners serve again once fds are free;
 *   compaction     with compact.max_lag_s = 0 an idle retention-0 bucket is
 *                  partially compacted once, not at every scan.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- names ------------------------------------------------------------------------------------ */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_hostile_names(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], data[PATH_MAX];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(data, sizeof(data), "%s/data", whp);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	char long_name[80];
	memset(long_name, 'x', 64);
	long_name[64] = '\0';
	static const char *const bad[] = {
		"../x", "a/b", ".", "..", "", "/etc", "x/../../y", "a\\b", "T", "1abc", "_seq",
		"caf\xc3\xa9", "\xe6\x97\xa5", "a b", "a\nb", "a\x01", "a;b", "a.b", "a-b", "a%2fb",
	};
	for (size_t i = 0; i <= STRATA_ARRAY_LEN(bad); i++) {
		const char *name = i < STRATA_ARRAY_LEN(bad) ? bad[i] : long_name;
		strata_err_clear(&e);
		int rc = strata_table_create(wh, name, "k BIGINT NOT NULL PRIMARY KEY", NULL, NULL, NULL,
					     0, &e);
		if (rc != STRATA_EINVAL || !strstr(e.msg, "table name"))
			fprintf(stderr, "\ntable name \"%s\": rc %d: %s\n", name, rc, e.msg);
		CU_ASSERT_EQUAL(rc, STRATA_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "table name"));
		/* as a column, a partition column */
		char cols[256];
		snprintf(cols, sizeof(cols), "k BIGINT NOT NULL PRIMARY KEY, %s STRING", name);
		rc = strata_table_create(wh, "ok", cols, NULL, NULL, NULL, 0, &e);
		CU_ASSERT_NOT_EQUAL(rc, 0);
		snprintf(cols, sizeof(cols), "%s STRING", name);
		rc = strata_table_create(wh, "ok", "k BIGINT NOT NULL PRIMARY KEY", NULL, cols, NULL, 0,
					 &e);
		CU_ASSERT_NOT_EQUAL(rc, 0);
	}
	/* nothing was created for any of them */
	CU_ASSERT_EQUAL(count_entries(data), 0);
	/* 63 characters is the longest name */
	long_name[63] = '\0';
	CU_ASSERT_EQUAL(strata_table_create(wh, long_name, "k BIGINT NOT NULL PRIMARY KEY", NULL, NULL,
					    NULL, 0, &e),
			0);
	/* tags: the same rule */
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "k BIGINT NOT NULL PRIMARY KEY", NULL, NULL,
						  NULL, 0, &e),
			      0);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		int rc = strata_mf_tag_put(strata_wh_mf(wh), "t", bad[i], 1, &e);
		CU_ASSERT_EQUAL(rc, STRATA_EINVAL);
	}
	/* a lookup by a hostile name is a plain "not found", never a path */
	strata_txn *t = NULL;
	CU_ASSERT_NOT_EQUAL(strata_txn_begin(wh, "../t", &t, &e), 0);
	CU_ASSERT_PTR_NULL(t);
	strata_wh_close(wh);
}

/* ---- partition values --------------------------------------------------------------------------- */

/* Every regular file under dir, relative paths appended to out (one per
 * line); returns -1 if any entry is a symlink or leaves dir. */
static int walk(const char *root, const char *rel, strata_buf *out)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) && rc == 0) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX], full[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		struct stat st;
		if (lstat(full, &st) != 0 || S_ISLNK(st.st_mode))
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = walk(root, sub, out);
		else
			strata_buf_printf(out, "%s\n", sub);
	}
	closedir(d);
	return rc;
}

static void test_partition_values_stay_inside(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], data[PATH_MAX], tdir[PATH_MAX];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(data, sizeof(data), "%s/data", whp);
	snprintf(tdir, sizeof(tdir), "%s/t", data);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	/* files: their paths are what is checked */
	const char *props[] = {"write.bucket.num=2", "write.inline.max-bytes=0"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "k STRING NOT NULL PRIMARY KEY, v BIGINT",
						  NULL, "pt STRING, dt STRING", props, 2, &e),
			      0);
	char pct[100];
	memset(pct, '%', 80); /* 80 x 3 bytes escaped: still one name */
	pct[80] = '\0';
	static const char *const vals[] = {
		"..", ".", "../../../etc", "/etc/passwd", "a/b", "a/../..", "%2F", "%2e%2e", "",
		"\\..\\x", "\xe6\x97\xa5\xe6\x9c\xac", "\x01\x7f\xff", "b0000", ".trash", "_", "dt=x",
		"pt=y/dt=z", "CON", " ", "a\nb",
	};
	const size_t nv = STRATA_ARRAY_LEN(vals) + 1;
	strata_txn *t;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, "t", &t, &e), 0);
	const strata_schema *s = strata_txn_schema(t);
	for (size_t i = 0; i < nv; i++) {
		const char *pv[2] = {i < nv - 1 ? vals[i] : pct, i % 2 ? "../.." : "x"};
		/* a key with NUL bytes inside, through the C API */
		char key[16];
		int klen = snprintf(key, sizeof(key), "k%c%02zu", 0, i);
		strata_value v[2] = {{.v.s = {(const uint8_t *)key, (uint32_t)klen}}, {.v.i64 = (int64_t)i}};
		strata_row r = {.op = STRATA_OP_UPSERT, .ncols = s->ncols, .vals = v};
		int rc = strata_txn_put(t, pv, &r, &e);
		if (rc)
			fprintf(stderr, "\nput %zu: %s\n", i, e.msg);
		CU_ASSERT_EQUAL(rc, 0);
	}
	/* a value whose directory name passes NAME_MAX is refused, with why */
	char huge[200];
	memset(huge, '/', 90);
	huge[90] = '\0';
	const char *hv[2] = {huge, "x"};
	strata_value v2[2] = {{.v.s = {(const uint8_t *)"z", 1}}, {.is_null = true}};
	strata_row r2 = {.op = STRATA_OP_UPSERT, .ncols = s->ncols, .vals = v2};
	CU_ASSERT_EQUAL(strata_txn_put(t, hv, &r2, &e), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "partition value of \"pt\" is too long"));
	uint64_t ver;
	CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &e), 0);
	/* on disk: data/ holds only t; under t, "pt=…/dt=…/bNNNN/file" */
	CU_ASSERT_EQUAL(count_entries(data), 1);
	strata_buf files = {0};
	CU_ASSERT_EQUAL(walk(tdir, "", &files), 0);
	strata_buf_putc(&files, 0);
	int nfiles = 0, bad = 0;
	char real_t[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(tdir, real_t));
	for (char *line = (char *)files.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		nfiles++;
		char *c1 = strchr(line, '/'), *c2 = c1 ? strchr(c1 + 1, '/') : NULL;
		char *c3 = c2 ? strchr(c2 + 1, '/') : NULL;
		bool is_shaped = strncmp(line, "pt=", 3) == 0 && c1 && strncmp(c1 + 1, "dt=", 3) == 0 &&
				 c2 && c2[1] == 'b' && c3 && !strchr(c3 + 1, '/');
		char full[PATH_MAX], real[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", tdir, line);
		bool is_inside = realpath(full, real) && strncmp(real, real_t, strlen(real_t)) == 0 &&
				 real[strlen(real_t)] == '/';
		if (!is_shaped || !is_inside) {
			fprintf(stderr, "\nfile outside its place: %s\n", line);
			bad++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(nfiles >= (int)nv / 2);
	strata_buf_free(&files);
	/* every value reads back as written */
	strata_scan *sc;
	strata_read_opts ro = {0};
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "t", &ro, &sc, &e), 0);
	const strata_row *row;
	const char *const *pv;
	int n = 0, rc;
	while ((rc = strata_scan_next(sc, &row, &pv, &e)) == 1) {
		size_t i = (size_t)row->vals[1].v.i64;
		const char *want = i < nv - 1 ? vals[i] : pct;
		bool same = i < nv && strcmp(pv[0], want) == 0 &&
			    strcmp(pv[1], i % 2 ? "../.." : "x") == 0 && row->vals[0].v.s.len == 4 &&
			    row->vals[0].v.s.ptr[1] == 0;
		if (!same)
			fprintf(stderr, "\nrow %zu came back as pt=\"%s\" dt=\"%s\"\n", i, pv[0], pv[1]);
		CU_ASSERT(same);
		n++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(n, (int)nv);
	strata_scan_close(sc);
	/* a read of one hostile partition finds exactly it */
	ro.partition = "pt=/etc/passwd/dt=../.."; /* vals[3], with the odd dt */
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "t", &ro, &sc, &e), 0);
	n = 0;
	while ((rc = strata_scan_next(sc, &row, &pv, &e)) == 1) {
		CU_ASSERT_EQUAL(row->vals[1].v.i64, 3);
		n++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(n, 1);
	strata_scan_close(sc);
	strata_wh_close(wh);
}

/* ---- damaged data files --------------------------------------------------------------------------- */

typedef enum { DMG_RANDOM, DMG_ZEROS, DMG_TRUNCATED, DMG_EMPTY, DMG_OTHER, DMG_NKINDS } dmg_kind;

static const char *const dmg_names[] = {"random bytes", "zeros", "truncated", "empty",
					"another table's file"};

/* Replace path by damage of kind k (other: the contents of other_path). */
static void damage(const char *path, dmg_kind k, const char *other_path)
{
	size_t len = 0;
	char *data = tu_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	switch (k) {
	case DMG_RANDOM:
		srand(7);
		for (size_t i = 0; i < len; i++)
			data[i] = (char)rand();
		break;
	case DMG_ZEROS:
		memset(data, 0, len);
		break;
	case DMG_TRUNCATED:
		len /= 2;
		break;
	case DMG_EMPTY:
		len = 0;
		break;
	default: {
		free(data);
		data = tu_read_file(other_path, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	}
	}
	CU_ASSERT_EQUAL(tu_write_file(path, data, len), 0);
	free(data);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* A full scan: its code, the error in e. */
static int scan_all(jf *f, strata_err *e)
{
	strata_read_opts ro = {0};
	strata_scan *sc;
	int rc = strata_scan_open(f->wh, f->table, &ro, &sc, e);
	if (rc)
		return rc;
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(sc, &row, &pv, e)) == 1)
		;
	strata_scan_close(sc);
	return rc;
}

static int get_key(jf *f, int64_t pk, strata_err *e)
{
	json_t *k = json_pack("{s:I}", "pk", (json_int_t)pk);
	strata_arena *a = strata_arena_new();
	strata_row row;
	strata_read_opts ro = {0};
	int rc = strata_get_json(f->wh, f->table, k, &ro, a, &row, NULL, NULL, e);
	strata_arena_free(a);
	json_decref(k);
	return rc;
}

/* One damaged file of bucket b, kind k: every read that touches it fails
 * with a clear error naming it; a job on the bucket too, leaving nothing. */
static void check_damaged(jf *f, uint32_t b, int64_t key_in_b, const char *path, dmg_kind k,
			  jf_kind job)
{
	strata_err e;
	strata_err_clear(&e);
	int rc = scan_all(f, &e);
	bool ok = rc == STRATA_ECORRUPT && strstr(e.msg, base_name(path));
	if (!ok)
		fprintf(stderr, "\n%s (%s): scan gave %d: %s\n", base_name(path), dmg_names[k], rc, e.msg);
	CU_ASSERT(ok);
	strata_err_clear(&e);
	rc = get_key(f, key_in_b, &e);
	ok = rc == STRATA_ECORRUPT && strstr(e.msg, base_name(path));
	if (!ok)
		fprintf(stderr, "\n%s (%s): get gave %d: %s\n", base_name(path), dmg_names[k], rc, e.msg);
	CU_ASSERT(ok);
	strata_job_result res;
	strata_err_clear(&e);
	uint64_t before = jf_version(f);
	rc = jf_job(f, b, job, NULL, NULL, &res, &e);
	ok = rc == STRATA_ECORRUPT && strstr(e.msg, base_name(path));
	if (!ok)
		fprintf(stderr, "\n%s (%s): %s gave %d: %s\n", base_name(path), dmg_names[k],
			jf_kind_name(job), rc, e.msg);
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(jf_version(f), before);
	CU_ASSERT_EQUAL(jf_intents(f), 0);
	CU_ASSERT(!jf_claimed(f, b));
	/* no outputs left behind: the bucket holds its live files only */
	char bdir[PATH_MAX];
	jf_bucket_dir(f, b, bdir, sizeof(bdir));
	strata_arena *a = strata_arena_new();
	strata_file_entry *ents;
	size_t n = jf_entries(f, b, a, &ents), on_disk = 0;
	for (size_t i = 0; i < n; i++)
		on_disk += !ents[i].is_deleted;
	CU_ASSERT_EQUAL(count_entries(bdir), (int)on_disk);
	strata_arena_free(a);
}

static void test_damaged_files(void)
{
	for (int fmt = 0; fmt < 2; fmt++) {
		for (int k = 0; k < DMG_NKINDS; k++) {
			jf f;
			jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 24);
			strata_buf rows = {0};
			for (int v = 0; v < 3; v++) {
				strata_buf_reset(&rows);
				for (int pk = 0; pk < 40; pk++)
					strata_buf_printf(&rows, "{\"pk\":%d,\"v\":\"v%d-%d\"}\n", pk, v, pk);
				strata_buf_putc(&rows, 0);
				jf_put(&f, (char *)rows.data);
			}
			strata_buf_free(&rows);
			uint32_t b = jf_bucket_of(7, 2);
			strata_job_result res;
			strata_err e;
			if (fmt == 1) /* columnar: sort the bucket first */
				CU_ASSERT_EQUAL_FATAL(jf_job(&f, b, JF_SORT, NULL, NULL, &res, &e), 0);
			strata_arena *a = strata_arena_new();
			strata_file_entry *live;
			size_t n = jf_live(&f, b, a, &live);
			CU_ASSERT_FATAL(n >= 1);
			char path[PATH_MAX], other[PATH_MAX];
			/* the newest: a point get reads it first */
			jf_file_path(&f, &live[n - 1], path, sizeof(path));
			/* another table's file: the other bucket's, of another schema */
			strata_file_entry *o;
			size_t no = jf_live(&f, 1 - b, a, &o);
			CU_ASSERT_FATAL(no >= 1);
			jf_file_path(&f, &o[0], other, sizeof(other));
			if (k == DMG_OTHER) {
				/* a file of the same kind written for another schema */
				snprintf(other, sizeof(other), "%s/other.%s", tu_tmpdir(),
					 fmt ? "parquet" : "avro");
				strata_schema *s = strata_schema_new(1);
				strata_column c = {.name = "x", .type = STRATA_T_INT, .id = 1, .key_pos = 0};
				strata_schema_add(s, &c, NULL);
				strata_write_opts wo;
				strata_write_opts_default(&wo, fmt ? STRATA_FMT_PARQUET : STRATA_FMT_AVRO);
				strata_fwriter *w;
				CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(other, s, &wo, &w, &e), 0);
				strata_value val = {.v.i32 = 1};
				strata_row r = {.seq = 1, .ncols = 1, .vals = &val};
				CU_ASSERT_EQUAL(strata_fwriter_add(w, &r, &e), 0);
				strata_file_stats st;
				CU_ASSERT_EQUAL(strata_fwriter_finish(w, &st, &e), 0);
				strata_file_stats_free(&st);
				strata_schema_free(s);
			}
			damage(path, (dmg_kind)k, other);
			/* a key of bucket b */
			int64_t key = 0;
			while (jf_bucket_of(key, 2) != b)
				key++;
			check_damaged(&f, b, key, path, (dmg_kind)k, fmt ? JF_MAJOR : JF_SORT);
			strata_arena_free(a);
			jf_close(&f);
		}
	}
}

/* ---- stratad and a damaged file ------------------------------------------------------------------ */

/* Live level-0 files of each bucket of unpartitioned table `table` (nb
 * buckets); the newest one's path of bucket `want` into path. */
static void l0_files(strata_wh *wh, const char *table, uint32_t nb, int *counts, uint32_t want,
		     char *path, size_t n)
{
	memset(counts, 0, nb * sizeof(int));
	strata_err e;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_table_def td;
	strata_file_entry *f;
	size_t nf = 0;
	uint64_t newest = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &e) != 0)
		goto out;
	if (strata_mf_table_get(snap, table, &td, &e) == 0 &&
	    strata_mf_table_files(snap, td.id, a, &f, &nf, &e) == 0)
		for (size_t i = 0; i < nf; i++) {
			if (f[i].removed_version || f[i].level != 0 || f[i].bucket >= nb)
				continue;
			counts[f[i].bucket]++;
			if (path && f[i].bucket == want && f[i].added_version > newest) {
				newest = f[i].added_version;
				strata_file_path(strata_wh_mf(wh), table, "", &f[i], path, n);
			}
		}
	strata_mf_snap_close(snap);
out:
	strata_arena_free(a);
}

static void test_daemon_damaged_bucket(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[200], path[PATH_MAX];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/admin.sock", dir);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	const uint32_t nb = 4;
	const char *props[] = {"write.bucket.num=4", "write.inline.max-bytes=0"}; /* files to damage */
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "c", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 2, &e),
			      0);
	for (int v = 0; v < 3; v++) {
		strata_txn *t;
		CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, "c", &t, &e), 0);
		for (int pk = 0; pk < 40; pk++) {
			json_t *o = json_pack("{s:i,s:s}", "pk", pk, "v", "x");
			CU_ASSERT_EQUAL(strata_txn_put_json(t, o, &e), 0);
			json_decref(o);
		}
		uint64_t ver;
		CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &e), 0);
	}
	uint32_t bad_b = jf_bucket_of(7, nb);
	int counts[4];
	l0_files(wh, "c", nb, counts, bad_b, path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(counts[bad_b], 3);
	size_t good_len;
	char *good = tu_read_file(path, &good_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(good);
	damage(path, DMG_RANDOM, NULL);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 2\n"
		       "log_level = info\n[policy]\nsort.min_files = 2\nsort.max_delay_s = 1\n"
		       "clean.grace_s = 100000\npolicy.backoff_s = 1\npolicy.backoff_max_s = 3600\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	/* every other bucket is sorted; the damaged one raises the alert */
	char series[160];
	snprintf(series, sizeof(series), "strata_bucket_corrupt{table=\"c\",partition=\"_\",bucket=\"%u\"}",
		 bad_b);
	double end = tud_now_s() + 60;
	bool is_done = false;
	while (!is_done && tud_now_s() < end) {
		l0_files(wh, "c", nb, counts, bad_b, NULL, 0);
		int others = 0;
		for (uint32_t b = 0; b < nb; b++)
			others += b != bad_b ? counts[b] : 0;
		char *m = tud_metrics(sock);
		is_done = others == 0 && m && tud_metric(m, series) == 1;
		free(m);
		if (!is_done)
			tud_sleep_ms(100);
	}
	CU_ASSERT(is_done);
	CU_ASSERT_EQUAL(counts[bad_b], 3);
	/* an error line naming the file, and how to retry */
	CU_ASSERT(tud_wait_log(log, "met a damaged data file", 10));
	CU_ASSERT(tud_log_has(log, base_name(path)));
	CU_ASSERT(tud_log_has(log, " error "));
	char retry[64];
	snprintf(retry, sizeof(retry), "strata admin sort c --bucket %u", bad_b);
	CU_ASSERT(tud_log_has(log, retry));
	/* backing off at the maximum, shown by plan and status */
	json_t *r = tud_admin(sock, "plan c");
	bool has_backoff = false;
	size_t i;
	json_t *bk;
	json_array_foreach(json_object_get(json_array_get(json_object_get(r, "tables"), 0), "buckets"), i,
			   bk)
		if (json_integer_value(json_object_get(bk, "bucket")) == bad_b)
			has_backoff = json_real_value(json_object_get(bk, "backing_off_s")) > 3000 &&
				      strstr(json_string_value(json_object_get(bk, "corrupt")), base_name(path));
	CU_ASSERT(has_backoff);
	json_decref(r);
	r = tud_admin(sock, "status");
	json_t *cb = json_object_get(json_array_get(json_object_get(r, "tables"), 0), "corrupt_buckets");
	CU_ASSERT_EQUAL(json_array_size(cb), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(cb, 0), "bucket")), bad_b);
	json_decref(r);
	char *m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_corrupt_jobs_total") == 1);
	free(m);
	/* reads of the other buckets are fine; of this one, a clear error */
	for (int pk = 0; pk < 8; pk++) {
		json_t *k = json_pack("{s:i}", "pk", pk);
		strata_arena *a = strata_arena_new();
		strata_row row;
		strata_read_opts ro = {0};
		int rc = strata_get_json(wh, "c", k, &ro, a, &row, NULL, NULL, &e);
		if (jf_bucket_of(pk, nb) == bad_b) {
			CU_ASSERT(rc == STRATA_ECORRUPT && strstr(e.msg, base_name(path)));
		} else {
			CU_ASSERT_EQUAL(rc, 1);
		}
		strata_arena_free(a);
		json_decref(k);
	}
	/* repaired: a manual sort runs at once, and the alert goes */
	CU_ASSERT_EQUAL(tu_write_file(path, good, good_len), 0);
	free(good);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "sort c --bucket %u", bad_b);
	CU_ASSERT(tud_admin_ok(sock, cmd));
	end = tud_now_s() + 30;
	is_done = false;
	while (!is_done && tud_now_s() < end) {
		l0_files(wh, "c", nb, counts, bad_b, NULL, 0);
		m = tud_metrics(sock);
		is_done = counts[bad_b] == 0 && m && tud_metric(m, series) == -1;
		free(m);
		if (!is_done)
			tud_sleep_ms(100);
	}
	CU_ASSERT(is_done);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

/* ---- partial compaction only with garbage ------------------------------------------------------------ */

/* Estimate of the distinct-key sketch over BIGINT keys [0, n), as a writer
 * builds it. */
static double sketch_of_range(int n)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c = {.type = STRATA_T_LONG, .id = 1, .key_pos = 0};
	snprintf(c.name, sizeof(c.name), "pk");
	strata_schema_add(s, &c, NULL);
	uint8_t regs[STRATA_SKETCH_REGS];
	memset(regs, 0, sizeof(regs));
	for (int pk = 0; pk < n; pk++) {
		strata_value val = {.v.i64 = pk};
		strata_row row = {.ncols = 1, .vals = &val};
		strata_buf kb = {0};
		strata_key_encode(s, &row, &kb, NULL);
		strata_sketch_add(regs, kb.data, kb.len);
		strata_buf_free(&kb);
	}
	strata_schema_free(s);
	return strata_sketch_estimate(regs);
}

/* Issue 11: with compact.max_lag_s = 0 (legal, documented) an idle
 * retention-0 bucket was partially compacted at every scan, each rewrite
 * dropping nothing: the sketch's estimate of its one-record-per-key file fell
 * short of its rows, and each compaction's own commit moved the boundary
 * above the new floor.  A real stratad compacts it once, for the history the
 * writes left, and never again. */
static void test_daemon_compacts_once(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	/* keys whose sketch underestimates their count: noise looks like garbage */
	int n = 0;
	for (int k = 200; k < 5000 && !n; k += 13)
		if (sketch_of_range(k) < k - 3)
			n = k;
	CU_ASSERT_FATAL(n > 0);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	const char *props[] = {"write.bucket.num=1", "acid.data.retain.hours=0"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "g", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 2, &e),
			      0);
	for (int v = 0; v < 2; v++) { /* every key twice: real history to drop once */
		strata_txn *t;
		CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, "g", &t, &e), 0);
		for (int pk = 0; pk < n; pk++) {
			json_t *o = json_pack("{s:i,s:s}", "pk", pk, "v", v ? "new" : "old");
			CU_ASSERT_EQUAL(strata_txn_put_json(t, o, &e), 0);
			json_decref(o);
		}
		uint64_t ver;
		CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &e), 0);
	}
	strata_wh_close(wh);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 1\n"
		       "log_level = info\n[policy]\nsort.min_files = 1\nsort.max_delay_s = 0\n"
		       "compact.max_lag_s = 0\nclean.orphan_scan_s = 0\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	const char *series = "strata_jobs_total{kind=\"partial-compaction\",result=\"ok\"}";
	double compactions = 0, scans = 0;
	for (double end = tud_now_s() + 60; compactions < 1 && tud_now_s() < end;) {
		char *m = tud_metrics(sock);
		compactions = m ? tud_metric(m, series) : 0;
		scans = m ? tud_metric(m, "strata_scans_total") : 0;
		free(m);
		if (compactions < 1)
			tud_sleep_ms(100);
	}
	CU_ASSERT_EQUAL_FATAL(compactions, 1);
	/* five more scans (one a second): nothing more to compact */
	double first_scans = scans;
	for (double end = tud_now_s() + 60; scans < first_scans + 5 && tud_now_s() < end;) {
		tud_sleep_ms(200);
		char *m = tud_metrics(sock);
		compactions = m ? tud_metric(m, series) : compactions;
		scans = m ? tud_metric(m, "strata_scans_total") : scans;
		free(m);
	}
	CU_ASSERT(scans >= first_scans + 5);
	if (compactions != 1)
		fprintf(stderr, "\n%d keys: %.0f partial compactions in %.0f scans after the first\n", n,
			compactions, scans - first_scans);
	CU_ASSERT_EQUAL(compactions, 1);
	json_t *r = tud_admin(sock, "plan g");
	json_t *bk = json_array_get(json_object_get(json_array_get(json_object_get(r, "tables"), 0),
						    "buckets"),
				    0);
	json_t *checks = json_object_get(bk, "checks");
	const char *why = json_string_value(json_object_get(json_array_get(checks, 2), "why"));
	CU_ASSERT(why && strstr(why, "~0 superseded records"));
	json_decref(r);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

/* ---- the admin socket ------------------------------------------------------------------------------ */

/* Send all of buf (blocking); false on error. */
static bool send_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

/* Connect and send buf whole; retried for up to 10 s while stratad refuses
 * the connection (max_clients: the slots of clients that just left are
 * freed when its loop sees them go, which a loaded machine delays).
 * Returns the fd, or -1. */
static int connect_send(const char *sock, const char *buf, size_t n)
{
	double end = tud_now_s() + 10;
	do {
		int fd = tud_connect(sock);
		if (fd >= 0 && send_all(fd, buf, n))
			return fd;
		if (fd >= 0)
			close(fd);
		tud_sleep_ms(50);
	} while (tud_now_s() < end);
	return -1;
}

/* The connection is closed by the other end (EOF) within timeout_s. */
static bool sees_eof(int fd, double timeout_s)
{
	double end = tud_now_s() + timeout_s;
	char buf[4096];
	while (tud_now_s() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return true;
	}
	return false;
}

static void test_admin_socket_limits(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY", NULL, NULL,
						  NULL, 0, &e),
			      0);
	strata_wh_close(wh);
	tud_write_file(cfg, "[daemon]\nwarehouse = %s\nsocket = %s\nmax_clients = 3\nlog_level = info\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));

	/* a line longer than 4096 bytes, with or without its newline: one refusal, then EOF */
	for (int with_nl = 0; with_nl < 2; with_nl++) {
		int fd = tud_connect(sock);
		CU_ASSERT_FATAL(fd >= 0);
		size_t n = 5000;
		char *big = malloc(n + 1);
		memset(big, 'a', n);
		big[n] = '\n';
		CU_ASSERT(send_all(fd, big, n + (size_t)with_nl));
		free(big);
		char *l = tud_read_line(fd, 10);
		CU_ASSERT(l && strstr(l, "command line longer than 4096 bytes; closing"));
		free(l);
		CU_ASSERT(sees_eof(fd, 10));
		close(fd);
	}
	/* exactly 4096 bytes is a line like any other */
	int fd = tud_connect(sock);
	char line[4097];
	memset(line, ' ', 4096);
	memcpy(line, "help", 4);
	line[4096] = '\n';
	CU_ASSERT(send_all(fd, line, sizeof(line)));
	char *l = tud_read_line(fd, 10);
	CU_ASSERT(l && strncmp(l, "{\"ok\":true", 10) == 0);
	free(l);
	close(fd);

	/* max_clients: the fourth is refused with a message; a slot frees on close */
	int held[3];
	for (int i = 0; i < 3; i++) {
		held[i] = tud_connect(sock);
		CU_ASSERT(send_all(held[i], "tables\n", 7));
		l = tud_read_line(held[i], 10); /* accepted, counted */
		CU_ASSERT(l && strncmp(l, "{\"ok\":true", 10) == 0);
		free(l);
	}
	/* root (this test) still gets in: the reserved slot, for commands, not watch */
	int root_fd = tud_connect(sock);
	CU_ASSERT(send_all(root_fd, "status\n", 7));
	l = tud_read_line(root_fd, 10);
	CU_ASSERT(l && strncmp(l, "{\"ok\":true", 10) == 0);
	free(l);
	CU_ASSERT(send_all(root_fd, "watch\n", 6));
	l = tud_read_line(root_fd, 10);
	CU_ASSERT(l && strstr(l, "watch cannot run on the connection reserved for root"));
	free(l);
	fd = tud_connect(sock);
	l = tud_read_line(fd, 10);
	CU_ASSERT(l && strstr(l, "too many admin connections (max_clients 3, and the one reserved for "
				 "root and stratad's user is taken); try again later"));
	free(l);
	CU_ASSERT(sees_eof(fd, 10));
	close(fd);
	close(root_fd);
	close(held[0]);
	CU_ASSERT(tud_wait_ready(sock, 10));
	close(held[1]);
	close(held[2]);

	/* clients that leave mid-reply */
	for (int i = 0; i < 20; i++) { /* a watcher, at once */
		fd = connect_send(sock, "watch\n", 6);
		CU_ASSERT(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	const char *cmds[] = {"help\n", "metrics\n", "plan t\n", "jobs\n"};
	for (int i = 0; i < 4; i++) { /* a large pipelined reply, unread */
		strata_buf b = {0};
		for (int k = 0; k < 500; k++)
			strata_buf_printf(&b, "%s", cmds[i]);
		fd = connect_send(sock, (char *)b.data, b.len);
		CU_ASSERT_FATAL(fd >= 0);
		strata_buf_free(&b);
		char some[100];
		ssize_t r = read(fd, some, sizeof(some)); /* a little of it */
		CU_ASSERT(r > 0);
		close(fd);
	}
	CU_ASSERT(tud_wait_ready(sock, 10));
	/* a client that half-closes after its command still gets all of the reply */
	for (int i = 0; i < 4; i++) {
		for (int attempt = 0;; attempt++) {
			fd = connect_send(sock, cmds[i], strlen(cmds[i]));
			CU_ASSERT_FATAL(fd >= 0);
			shutdown(fd, SHUT_WR);
			l = tud_read_line(fd, 10);
			/* refused while the slots of the clients above are freed */
			if (attempt < 100 && l && strstr(l, "too many admin connections")) {
				free(l);
				close(fd);
				tud_sleep_ms(50);
				continue;
			}
			break;
		}
		json_t *r = l ? json_loads(l, 0, NULL) : NULL;
		if (!r)
			fprintf(stderr, "\nhalf-closed \"%.*s\": %s\n", (int)strlen(cmds[i]) - 1, cmds[i],
				l ? "a partial reply" : "no reply");
		CU_ASSERT(r && json_is_true(json_object_get(r, "ok")));
		json_decref(r);
		free(l);
		close(fd);
	}
	/* a client that pipelines commands and never reads stops being read: its
	 * replies wait in a bounded buffer, not in the daemon's memory */
	fd = tud_connect(sock);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	char cmdline[4000];
	memset(cmdline, ' ', sizeof(cmdline));
	memcpy(cmdline, "help", 4);
	cmdline[sizeof(cmdline) - 1] = '\n';
	size_t sent = 0, limit = 256u << 20;
	bool is_blocked = false;
	while (sent < limit && !is_blocked) {
		ssize_t w = send(fd, cmdline, sizeof(cmdline), MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			if ((size_t)w < sizeof(cmdline)) /* finish the line */
				is_blocked = true;
			continue;
		}
		struct pollfd p = {fd, POLLOUT, 0};
		is_blocked = poll(&p, 1, 3000) == 0; /* the daemon stopped reading */
	}
	fprintf(stderr, "\nan unread client could send %zu KiB of commands\n", sent >> 10);
	CU_ASSERT(is_blocked);
	close(fd);
	CU_ASSERT(tud_wait_ready(sock, 10));

	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	CU_ASSERT(tud_log_has(log, "sent a line longer than 4096 bytes; disconnected"));
	CU_ASSERT(tud_log_has(log, "too many admin connections"));
}

/* ---- hostile clients: idle connections, the reserved slot, fd exhaustion ------------------------------ */

/* A connection to the admin socket made by a child running as uid/gid (its
 * SO_PEERCRED), handed back to us over SCM_RIGHTS; -1 on failure. */
static int connect_as(const char *sock, uid_t uid, gid_t gid)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		int fd = -1;
		if (setgroups(0, NULL) == 0 && setgid(gid) == 0 && setuid(uid) == 0)
			fd = tud_connect(sock);
		char byte = fd >= 0 ? 'y' : 'n';
		struct iovec iov = {&byte, 1};
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		if (fd >= 0) {
			msg.msg_control = u.buf;
			msg.msg_controllen = sizeof(u.buf);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
		}
		_exit(sendmsg(sp[1], &msg, 0) == 1 ? 0 : 1);
	}
	close(sp[1]);
	int fd = -1;
	if (pid > 0) {
		char byte = 0;
		struct iovec iov = {&byte, 1};
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf)};
		if (recvmsg(sp[0], &msg, 0) == 1 && byte == 'y') {
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			if (c && c->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
		}
		int st;
		waitpid(pid, &st, 0);
	}
	close(sp[0]);
	return fd;
}

/* Nothing to read and no EOF right now. */
static bool is_open_and_quiet(int fd)
{
	char b;
	ssize_t r = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Issue 11: sixteen idle or `watch` clients locked everyone out of the admin
 * socket, root included.  Now idle clients are closed after
 * admin_idle_timeout_s, and root (or stratad's user) always finds the
 * reserved slot. */
static void test_admin_idle_and_reserved(void)
{
	struct group *ng = getgrnam("nogroup");
	if (!ng || geteuid() != 0) {
		fprintf(stderr, "\nskipped: needs root and a group \"nogroup\"\n");
		return;
	}
	gid_t gid = ng->gr_gid;
	const char *dir = tu_tmpdir();
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0711), 0); /* a reader (nobody) reaches run/ */
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	strata_wh_close(wh);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nmax_clients = 2\nadmin_idle_timeout_s = 2\n"
		       "admin_group = nogroup\nlog_level = info\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	/* two readers watch: both slots taken, and watchers are never idle */
	int w[2];
	for (int i = 0; i < 2; i++) {
		w[i] = connect_as(sock, 65534, gid);
		CU_ASSERT_FATAL(w[i] >= 0);
		CU_ASSERT(send_all(w[i], "watch\n", 6));
		char *l = tud_read_line(w[i], 10);
		CU_ASSERT(l && strstr(l, "\"watching\":true"));
		free(l);
	}
	/* a third reader is refused */
	int fd = connect_as(sock, 65534, gid);
	char *l = tud_read_line(fd, 10);
	CU_ASSERT(l && strstr(l, "too many admin connections (max_clients 2); try again later"));
	free(l);
	close(fd);
	/* root gets in, runs a command, and is closed when it then idles */
	int root_fd = tud_connect(sock);
	CU_ASSERT(send_all(root_fd, "status\n", 7));
	l = tud_read_line(root_fd, 10);
	if (!l || strncmp(l, "{\"ok\":true", 10) != 0)
		fprintf(stderr, "\nroot with every slot taken: %s\n", l ? l : "(no reply)");
	CU_ASSERT(l && strncmp(l, "{\"ok\":true", 10) == 0);
	free(l);
	l = tud_read_line(root_fd, 15);
	CU_ASSERT(l && strstr(l, "idle for 2 s (admin_idle_timeout_s); closing"));
	free(l);
	CU_ASSERT(sees_eof(root_fd, 10));
	close(root_fd);
	/* the watchers, connected before root, are still there */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT(is_open_and_quiet(w[i]));
		close(w[i]);
	}
	/* an idle reader goes too, freeing its slot */
	fd = connect_as(sock, 65534, gid);
	l = tud_read_line(fd, 15);
	CU_ASSERT(l && strstr(l, "idle for 2 s"));
	free(l);
	close(fd);
	char *m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_connections_timed_out_total{listener=\"admin\"}") >= 2);
	free(m);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	CU_ASSERT(tud_log_has(log, "in the slot reserved for root and stratad's user"));
	CU_ASSERT(tud_log_has(log, "sent no command for 2 s (admin_idle_timeout_s); disconnected"));
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* GET /metrics on a fresh connection: the whole response, or NULL. */
static char *http_get_metrics(int port)
{
	int fd = tcp_connect(port);
	if (fd < 0)
		return NULL;
	const char *req = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
	if (!send_all(fd, req, strlen(req))) {
		close(fd);
		return NULL;
	}
	strata_buf b = {0};
	char chunk[4096];
	ssize_t r;
	struct pollfd p = {fd, POLLIN, 0};
	while (poll(&p, 1, 10000) > 0 && (r = read(fd, chunk, sizeof(chunk))) > 0)
		strata_buf_append(&b, chunk, (size_t)r);
	strata_buf_putc(&b, 0);
	close(fd);
	return (char *)b.data;
}

/* Issue 11: idle HTTP connections to the metrics listener never timed out,
 * nor did a client trickling its headers (slowloris). */
static void test_http_timeouts(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	strata_wh_close(wh);
	int port = tu_free_port(); /* free now, not one from the pid */
	CU_ASSERT_FATAL(port > 0);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nmetrics_listen = 127.0.0.1:%d\n"
		       "metrics_timeout_s = 2\nlog_level = info\n",
		       whp, sock, port);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	/* idle: closed */
	int idle = tcp_connect(port);
	CU_ASSERT_FATAL(idle >= 0);
	CU_ASSERT(sees_eof(idle, 15));
	close(idle);
	/* slowloris: a header line every half second, never the end of them */
	int slow = tcp_connect(port);
	CU_ASSERT_FATAL(slow >= 0);
	const char *start = "GET /metrics HTTP/1.1\r\n";
	CU_ASSERT(send_all(slow, start, strlen(start)));
	bool is_dropped = false;
	for (double end = tud_now_s() + 15; !is_dropped && tud_now_s() < end;) {
		tud_sleep_ms(500);
		char b[64];
		ssize_t r = recv(slow, b, sizeof(b), MSG_DONTWAIT);
		is_dropped = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
			     send(slow, "X-a: b\r\n", 8, MSG_NOSIGNAL) < 0;
	}
	CU_ASSERT(is_dropped);
	close(slow);
	/* a real scrape is served, and so are the odd ones */
	char *body = http_get_metrics(port);
	CU_ASSERT(body && strstr(body, "HTTP/1.1 200 OK") &&
		  strstr(body, "strata_connections_timed_out_total{listener=\"metrics\"} 2"));
	if (body && !strstr(body, "strata_connections_timed_out_total{listener=\"metrics\"} 2"))
		fprintf(stderr, "\nGET /metrics: %.300s\n", body);
	free(body);
	int fd = tcp_connect(port);
	const char *bad = "POST /metrics HTTP/1.1\r\n\r\n";
	CU_ASSERT(send_all(fd, bad, strlen(bad)));
	char *l = tud_read_line(fd, 10);
	CU_ASSERT(l && strstr(l, "404"));
	free(l);
	close(fd);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return count_entries(path);
}

static int count_lines_with(const char *path, const char *phrase)
{
	char *text = tu_read_file(path, NULL);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, phrase)); p++)
		n++;
	free(text);
	return n;
}

/* Issue 11: at fd exhaustion stratad logged 4.4 million accept() errors
 * (463 MB) in two minutes.  With its RLIMIT_NOFILE lowered to just above
 * what it holds, connections past it fail in accept(): the log gets a line
 * per listener per 10 s, and both listeners serve again once fds are free. */
static void test_accept_at_fd_exhaustion(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	strata_wh_close(wh);
	int port = tu_free_port();
	CU_ASSERT_FATAL(port > 0);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nmetrics_listen = 127.0.0.1:%d\n"
		       "max_clients = 1000\nadmin_idle_timeout_s = 600\nscan_interval_s = 1\n"
		       "log_level = info\n",
		       whp, sock, port);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	int held = count_fds(pid);
	CU_ASSERT_FATAL(held > 0);
	struct rlimit rl = {(rlim_t)held + 3, (rlim_t)held + 3};
	struct rlimit old;
	CU_ASSERT_EQUAL_FATAL(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
	rl.rlim_max = old.rlim_max;
	CU_ASSERT_EQUAL_FATAL(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0);
	int fds[40];
	int nfds = 0;
	for (int i = 0; i < 30; i++) /* the backlog holds what cannot be accepted */
		if ((fds[nfds] = tud_connect(sock)) >= 0)
			nfds++;
	for (int i = 0; i < 10; i++)
		if ((fds[nfds] = tcp_connect(port)) >= 0)
			nfds++;
	CU_ASSERT(nfds >= 30);
	tud_sleep_ms(3000); /* long enough for millions of lines */
	int lines = count_lines_with(log, "accept() failed");
	struct stat st;
	CU_ASSERT_EQUAL(stat(log, &st), 0);
	if (lines > 4 || lines < 1) {
		char *text = tu_read_file(log, NULL);
		fprintf(stderr, "\n%d log lines about accept() in 3 s (log: %lld bytes):\n%.3000s\n", lines,
			(long long)st.st_size, text ? text : "");
		free(text);
	}
	CU_ASSERT(lines >= 1 && lines <= 4);
	CU_ASSERT(st.st_size < (1 << 20));
	CU_ASSERT(tud_log_has(log, "admin socket: accept() failed"));
	CU_ASSERT(tud_log_has(log, "out of file descriptors"));
	/* free the descriptors (the limit stays): both listeners serve again */
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	CU_ASSERT(tud_wait_ready(sock, 30));
	char *body = NULL;
	for (double end = tud_now_s() + 30; tud_now_s() < end;) {
		free(body);
		body = http_get_metrics(port);
		if (body && strstr(body, " 200 OK"))
			break;
		tud_sleep_ms(200);
	}
	CU_ASSERT(body && strstr(body, " 200 OK"));
	CU_ASSERT(body && strstr(body, "strata_accept_errors_total{listener=\"admin\"} ") &&
		  !strstr(body, "strata_accept_errors_total{listener=\"admin\"} 0\n"));
	free(body);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

/* ---- registration --------------------------------------------------------------------------------- */

static int suite_init(void)
{
	strata_log_set_level(STRATA_LOG_ERROR);
	return 0;
}

static void register_hostile(void)
{
	CU_pSuite s = CU_add_suite("hostile", suite_init, NULL);
	TU_ADD(s, test_hostile_names);
	TU_ADD(s, test_partition_values_stay_inside);
	TU_ADD(s, test_damaged_files);
	TU_ADD(s, test_daemon_damaged_bucket);
	TU_ADD(s, test_admin_socket_limits);
	TU_ADD(s, test_daemon_compacts_once);
	TU_ADD(s, test_admin_idle_and_reserved);
	TU_ADD(s, test_http_timeouts);
	TU_ADD(s, test_accept_at_fd_exhaustion);
}

TU_MAIN(register_hostile)
