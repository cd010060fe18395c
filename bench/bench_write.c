/*
 * bench/bench_write.c — writer commits: throughput and latency.
 *
 * What it measures, all in one run, in one scratch warehouse under $TMPDIR
 * (removed at exit):
 *
 *   1. throughput of writer transactions of 1,000 and 100,000 rows through
 *      strata_txn_begin / strata_txn_put / strata_txn_commit, on a table
 *      shaped like MEASURED.md's (pk BIGINT, a BIGINT, b INT, c DOUBLE,
 *      d STRING ~10 B, e STRING ~8 B, f BOOLEAN, g DOUBLE, h STRING 32 B),
 *      16 buckets (the default) and 1 bucket.  Reported as rows/s and as
 *      MB/s of two byte counts, both named in the output:
 *        - "row-file MB/s": bytes of the Avro row files the commit made
 *          durable (what the disk wrote, from the manifest's file entries);
 *        - "JSON MB/s": bytes of the same rows as JSON lines (what
 *          `strata write` would have read), counted outside the timing;
 *      plus one run through strata_txn_put_json to show the JSON parse cost.
 *   2. commit latency (begin + 10 puts + commit, p50/p99) of a 10-row
 *      transaction, next to, on the same file system in the same run:
 *        - a bare pwrite + fsync of the same number of bytes,
 *        - pwrite + fsync + rename + directory fsync of those bytes,
 *        - that durable-file sequence repeated once per file the 10-row
 *          commit wrote (the floor for "one row file per bucket"),
 *        - that sequence for all of those files at once, one thread and one
 *          directory each: the floor of the parallel commit (table/txn.c
 *          writes a commit's files on up to 16 threads),
 *      and prints the ratios, the 16-bucket vs 1-bucket one with its goal
 *      (at most 2x, issue 16).  File-system calls made through strata's I/O
 *      vtable are counted per commit (LMDB's own two syncs per commit are
 *      not visible there and are added in the printout).
 *
 * Nothing here asserts: benchmarks are never tests.  Runs in well under two
 * minutes on the project machines.  Environment: BENCH_SCALE (default 1.0)
 * scales every iteration count.
 */
#include "table/table.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define NCOLS 9

static double scale = 1.0;
static char wh_dir[PATH_MAX];

/* ---- scratch directory ------------------------------------------------------ */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (wh_dir[0])
		nftw(wh_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_write: %s: %s\n", what, err ? err->msg : strerror(errno));
	cleanup();
	exit(1);
}

/* ---- counting I/O vtable ------------------------------------------------------ */

static atomic_uint n_open, n_pwrite, n_fsync, n_rename;

static int c_open(const char *p, int fl, mode_t m)
{
	n_open++;
	return strata_io_system.open(p, fl, m);
}
static ssize_t c_pwrite(int fd, const void *b, size_t n, off_t o)
{
	n_pwrite++;
	return strata_io_system.pwrite(fd, b, n, o);
}
static int c_fsync(int fd)
{
	n_fsync++;
	return strata_io_system.fsync(fd);
}
static int c_rename(const char *a, const char *b)
{
	n_rename++;
	return strata_io_system.rename(a, b);
}

static strata_io_ops counting;

static void counters_reset(void)
{
	n_open = n_pwrite = n_fsync = n_rename = 0;
}

/* ---- data ------------------------------------------------------------------------ */

static uint64_t rng = 0x5eed;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

typedef struct gen_row {
	strata_value vals[NCOLS];
	char d[16], e[16], h[40];
	strata_row row;
} gen_row;

/* Row number pk, values pseudo-random; d ~10 B (8..12), e ~8 B (6..10),
 * h exactly 32 B. */
static void gen(gen_row *g, int64_t pk)
{
	memset(g->vals, 0, sizeof(g->vals));
	size_t dl = 8 + rnd() % 5, el = 6 + rnd() % 5;
	for (size_t i = 0; i < dl; i++)
		g->d[i] = alnum[rnd() % 36];
	for (size_t i = 0; i < el; i++)
		g->e[i] = alnum[rnd() % 36];
	for (size_t i = 0; i < 32; i++)
		g->h[i] = alnum[rnd() % 16];
	g->vals[0].v.i64 = pk;
	g->vals[1].v.i64 = (int64_t)(rnd() % 1000000000);
	g->vals[2].v.i32 = (int32_t)(rnd() % 100000);
	g->vals[3].v.f64 = (double)(rnd() % 1000000) / 100.0;
	g->vals[4].v.s.ptr = (const uint8_t *)g->d;
	g->vals[4].v.s.len = (uint32_t)dl;
	g->vals[5].v.s.ptr = (const uint8_t *)g->e;
	g->vals[5].v.s.len = (uint32_t)el;
	g->vals[6].v.b = rnd() & 1;
	g->vals[7].v.f64 = (double)(rnd() % 1000000) / 7.0;
	g->vals[8].v.s.ptr = (const uint8_t *)g->h;
	g->vals[8].v.s.len = 32;
	g->row.seq = 0;
	g->row.op = STRATA_OP_UPSERT;
	g->row.ncols = NCOLS;
	g->row.vals = g->vals;
}

static const char *const COLUMNS =
	"pk BIGINT PRIMARY KEY, a BIGINT, b INT, c DOUBLE, d STRING, e STRING, "
	"f BOOLEAN, g DOUBLE, h STRING";

/* JSON-lines bytes of a row, for the JSON MB/s figure (outside timing). */
static size_t json_bytes(const strata_schema *s, const strata_row *r, strata_buf *tmp)
{
	strata_buf_reset(tmp);
	strata_row_to_json(s, r, false, tmp);
	return tmp->len + 1; /* newline */
}

/* Sum of bytes of the file entries added at version v. */
static uint64_t version_bytes(strata_wh *wh, const char *table, uint64_t v, uint64_t *nfiles,
			      uint64_t *ninline)
{
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_file_entry *fs;
	size_t n;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) ||
	    strata_mf_table_get(snap, table, &t, &err) ||
	    strata_mf_table_files(snap, t.id, a, &fs, &n, &err))
		die("reading the manifest", &err);
	uint64_t bytes = 0, files = 0, inlined = 0;
	for (size_t i = 0; i < n; i++)
		if (fs[i].added_version == v) {
			bytes += fs[i].bytes;
			files++;
			inlined += strata_file_is_inline(&fs[i]);
		}
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	if (nfiles)
		*nfiles = files;
	if (ninline)
		*ninline = inlined;
	return bytes;
}

/* is_files: write.inline.max-bytes=0, every row file a file (else the
 * default: a commit's small row files live in the manifest) */
static void make_table(strata_wh *wh, const char *name, int buckets, bool is_files)
{
	strata_err err;
	char prop[64];
	snprintf(prop, sizeof(prop), "write.bucket.num=%d", buckets);
	const char *props[] = {prop, "write.inline.max-bytes=0"};
	if (strata_table_create(wh, name, COLUMNS, NULL, NULL, props, is_files ? 2 : 1, &err))
		die("create table", &err);
}

/* ---- 1. throughput ---------------------------------------------------------------- */

static int64_t next_pk = 1;

static void throughput(strata_wh *wh, const char *table, int rows_per_txn, int ntxn,
		       bool use_json)
{
	strata_err err;
	gen_row g;
	strata_buf tmp = {0};
	int64_t put_us = 0, commit_us = 0, parse_us = 0;
	uint64_t file_bytes = 0, jbytes = 0, nfiles_total = 0;
	for (int t = 0; t < ntxn; t++) {
		strata_txn *txn;
		int64_t t0 = strata_mono_us();
		if (strata_txn_begin(wh, table, &txn, &err))
			die("txn begin", &err);
		const strata_schema *s = strata_txn_schema(txn);
		int64_t gen_us = 0;
		for (int i = 0; i < rows_per_txn; i++) {
			/* generating the row and its JSON text is not timed */
			int64_t g0 = strata_mono_us();
			gen(&g, next_pk++);
			jbytes += json_bytes(s, &g.row, &tmp);
			gen_us += strata_mono_us() - g0;
			int rc;
			if (use_json) {
				/* timed: what `strata write` does per line */
				json_error_t je;
				int64_t p0 = strata_mono_us();
				json_t *obj = json_loadb((const char *)tmp.data, tmp.len, 0, &je);
				parse_us += strata_mono_us() - p0;
				if (!obj)
					die("json_loadb", NULL);
				rc = strata_txn_put_json(txn, obj, &err);
				json_decref(obj);
			} else {
				rc = strata_txn_put(txn, NULL, &g.row, &err);
			}
			if (rc)
				die("txn put", &err);
		}
		int64_t t1 = strata_mono_us();
		uint64_t v;
		if (strata_txn_commit(txn, NULL, &v, NULL, &err))
			die("txn commit", &err);
		int64_t t2 = strata_mono_us();
		put_us += t1 - t0 - gen_us;
		commit_us += t2 - t1;
		uint64_t nf;
		file_bytes += version_bytes(wh, table, v, &nf, NULL);
		nfiles_total += nf;
	}
	strata_buf_free(&tmp);
	double rows = (double)rows_per_txn * ntxn;
	double total_s = (double)(put_us + commit_us) / 1e6;
	char split[64] = "";
	if (use_json)
		snprintf(split, sizeof(split), "json_loadb %.0f%%, ",
			 100.0 * (double)parse_us / (double)(put_us + commit_us));
	printf("  %-4s x %3d txns %-6s %8.0f rows/s %6.1f row-file MB/s %6.1f JSON MB/s"
	       "  (%sput %.0f%%, commit %.0f%%; %.1f files/txn, %.0f B/row in files)\n",
	       rows_per_txn >= 100000 ? "100k" : "1k", ntxn, use_json ? "json" : "struct",
	       rows / total_s, (double)file_bytes / 1e6 / total_s, (double)jbytes / 1e6 / total_s,
	       split, 100.0 * (double)(put_us - parse_us) / (double)(put_us + commit_us),
	       100.0 * (double)commit_us / (double)(put_us + commit_us),
	       (double)nfiles_total / ntxn, (double)file_bytes / rows);
}

/* ---- 2. latency --------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

typedef struct lat {
	double p50_ms, p99_ms, mean_ms;
} lat;

static lat summarize(int64_t *us, int n)
{
	qsort(us, (size_t)n, sizeof(int64_t), cmp_i64);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)us[i];
	lat l = {.p50_ms = (double)us[n / 2] / 1e3,
		 .p99_ms = (double)us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3,
		 .mean_ms = sum / n / 1e3};
	return l;
}

/* Per-table accumulators of the 10-row commits. */
typedef struct commit_acc {
	const char *table;
	int64_t *us;
	int n;
	uint64_t bytes, files, inlined;
	unsigned fsyncs, renames;
} commit_acc;

/* One 10-row transaction (begin + 10 puts + commit), timed; the vtable
 * counts its file-system calls. */
static void commit_once(strata_wh *wh, commit_acc *c)
{
	strata_err err;
	gen_row g;
	const strata_io_ops *prev = strata_io_set(&counting);
	counters_reset();
	int64_t t0 = strata_mono_us();
	strata_txn *txn;
	if (strata_txn_begin(wh, c->table, &txn, &err))
		die("txn begin", &err);
	for (int r = 0; r < 10; r++) {
		gen(&g, next_pk++);
		if (strata_txn_put(txn, NULL, &g.row, &err))
			die("txn put", &err);
	}
	uint64_t v;
	if (strata_txn_commit(txn, NULL, &v, NULL, &err))
		die("txn commit", &err);
	c->us[c->n++] = strata_mono_us() - t0;
	strata_io_set(prev);
	c->fsyncs += n_fsync;
	c->renames += n_rename;
	uint64_t nf, ni;
	c->bytes += version_bytes(wh, c->table, v, &nf, &ni);
	c->files += nf;
	c->inlined += ni;
}

/* Reference: write `bytes` bytes to `nfiles` new files with pwrite + fsync;
 * with is_durable under a temp name, then rename + directory fsync, as
 * strata_wfile_commit does.  Returns the microseconds taken. */
static int64_t bare_once(const uint8_t *buf, size_t bytes, int nfiles, bool is_durable)
{
	static unsigned seq;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/bare", wh_dir);
	mkdir(dir, 0755);
	int64_t t0 = strata_mono_us();
	for (int f = 0; f < nfiles; f++) {
		char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
		snprintf(path, sizeof(path), "%s/f%u", dir, seq++);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		int fd = open(is_durable ? tmp : path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			die("open", NULL);
		if (pwrite(fd, buf, bytes, 0) != (ssize_t)bytes || fsync(fd) != 0)
			die("pwrite/fsync", NULL);
		close(fd);
		if (is_durable) {
			if (rename(tmp, path) != 0)
				die("rename", NULL);
			int dfd = open(dir, O_RDONLY | O_DIRECTORY);
			if (dfd < 0 || fsync(dfd) != 0)
				die("dir fsync", NULL);
			close(dfd);
		}
	}
	return strata_mono_us() - t0;
}

/* The durable sequence for nfiles files at once, one thread and one
 * directory each (what a parallel commit does, without Avro or LMDB): the
 * floor of the parallel commit on this file system. */
typedef struct par_arg {
	const uint8_t *buf;
	size_t bytes;
	int k;
	unsigned seq;
} par_arg;

static void *par_main(void *p)
{
	par_arg *a = p;
	char dir[PATH_MAX], path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	snprintf(dir, sizeof(dir), "%s/par%d", wh_dir, a->k);
	snprintf(path, sizeof(path), "%s/f%u", dir, a->seq);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || pwrite(fd, a->buf, a->bytes, 0) != (ssize_t)a->bytes || fsync(fd) != 0)
		die("parallel pwrite/fsync", NULL);
	close(fd);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (rename(tmp, path) != 0 || dfd < 0 || fsync(dfd) != 0)
		die("parallel rename/dir fsync", NULL);
	close(dfd);
	return NULL;
}

static int64_t par_once(const uint8_t *buf, size_t bytes, int nfiles)
{
	static unsigned seq;
	enum { PAR_MAX = 16 };
	pthread_t th[PAR_MAX];
	par_arg a[PAR_MAX];
	nfiles = nfiles > PAR_MAX ? PAR_MAX : nfiles;
	for (int k = 0; k < nfiles; k++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/par%d", wh_dir, k);
		mkdir(dir, 0755);
		a[k] = (par_arg){.buf = buf, .bytes = bytes, .k = k, .seq = seq};
	}
	seq++;
	int64_t t0 = strata_mono_us();
	for (int k = 1; k < nfiles; k++)
		if (pthread_create(&th[k], NULL, par_main, &a[k]) != 0)
			die("pthread_create", NULL);
	par_main(&a[0]);
	for (int k = 1; k < nfiles; k++)
		pthread_join(th[k], NULL);
	return strata_mono_us() - t0;
}

/* ---- machine ------------------------------------------------------------------------- */

static void print_machine(void)
{
	struct stat st;
	char dev[64] = "?", fstype[32] = "?", src[256] = "?";
	if (stat(wh_dir, &st) == 0) {
		snprintf(dev, sizeof(dev), "%u:%u", major(st.st_dev), minor(st.st_dev));
		FILE *f = fopen("/proc/self/mountinfo", "r");
		char line[4096];
		while (f && fgets(line, sizeof(line), f)) {
			char mm[64], fs[32], sr[256];
			/* id parent maj:min root mountpoint opts... - fstype source */
			if (sscanf(line, "%*s %*s %63s", mm) != 1 || strcmp(mm, dev) != 0)
				continue;
			char *dash = strstr(line, " - ");
			if (dash && sscanf(dash + 3, "%31s %255s", fs, sr) == 2) {
				snprintf(fstype, sizeof(fstype), "%s", fs);
				snprintf(src, sizeof(src), "%s", sr);
			}
		}
		if (f)
			fclose(f);
	}
	char rot[8] = "?";
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%s/queue/rotational", dev);
	FILE *r = fopen(path, "r");
	if (!r) {
		snprintf(path, sizeof(path), "/sys/dev/block/%s/../queue/rotational", dev);
		r = fopen(path, "r");
	}
	if (r) {
		if (fgets(rot, sizeof(rot), r))
			rot[strcspn(rot, "\n")] = '\0';
		fclose(r);
	}
	time_t now = time(NULL);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	printf("machine: %ld cores, scratch %s on %s (%s, rotational=%s), %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), wh_dir, src, fstype, rot, date);
}

/* ---- main ------------------------------------------------------------------------------- */

static int scaled(int n)
{
	int v = (int)(n * scale);
	return v < 1 ? 1 : v;
}

int main(void)
{
	const char *sc = getenv("BENCH_SCALE");
	if (sc && *sc && atof(sc) > 0)
		scale = atof(sc);
	const char *base = getenv("TMPDIR");
	snprintf(wh_dir, sizeof(wh_dir), "%s/strata-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(wh_dir)) {
		wh_dir[0] = '\0';
		die("mkdtemp", NULL);
	}
	atexit(cleanup);
	counting = strata_io_system;
	counting.open = c_open;
	counting.pwrite = c_pwrite;
	counting.fsync = c_fsync;
	counting.rename = c_rename;
	int64_t start = strata_mono_us();
	print_machine();

	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(wh_dir, true, &wh, &err))
		die("open warehouse", &err);
	make_table(wh, "w16", 16, false);
	make_table(wh, "w1", 1, false);
	make_table(wh, "w16f", 16, true);
	make_table(wh, "w1f", 1, true);

	printf("\nwriter transactions (strata_txn_put of row structs unless \"json\"; "
	       "MB = 10^6 bytes)\n");
	printf(" table w16 (write.bucket.num=16, the default):\n");
	throughput(wh, "w16", 1000, scaled(50), false);
	throughput(wh, "w16", 100000, scaled(5), false);
	throughput(wh, "w16", 1000, scaled(20), true);
	printf(" table w1 (write.bucket.num=1):\n");
	throughput(wh, "w1", 1000, scaled(50), false);
	throughput(wh, "w1", 100000, scaled(5), false);

	/* Latency: warm up to learn the bytes and files of a 10-row commit,
	 * then interleave commits and reference writes round-robin so that
	 * all of them see the same disk conditions. */
	int n = scaled(300), warm = 20;
	commit_acc c16 = {.table = "w16", .us = calloc((size_t)(n + warm), sizeof(int64_t))};
	commit_acc c1 = {.table = "w1", .us = calloc((size_t)(n + warm), sizeof(int64_t))};
	commit_acc c16f = {.table = "w16f", .us = calloc((size_t)(n + warm), sizeof(int64_t))};
	commit_acc c1f = {.table = "w1f", .us = calloc((size_t)(n + warm), sizeof(int64_t))};
	for (int i = 0; i < warm; i++) {
		commit_once(wh, &c16);
		commit_once(wh, &c1);
		commit_once(wh, &c16f);
		commit_once(wh, &c1f);
	}
	size_t files16 = (size_t)((double)c16f.files / warm + 0.5);
	size_t bytes16 = (size_t)((double)c16f.bytes / warm + 0.5);
	size_t bytes1 = (size_t)((double)c1f.bytes / warm + 0.5);
	c16 = (commit_acc){.table = "w16", .us = c16.us};
	c1 = (commit_acc){.table = "w1", .us = c1.us};
	c16f = (commit_acc){.table = "w16f", .us = c16f.us};
	c1f = (commit_acc){.table = "w1f", .us = c1f.us};
	uint8_t *buf = malloc(bytes16 + 1);
	for (size_t i = 0; i < bytes16; i++)
		buf[i] = (uint8_t)rnd();
	enum { PW16, PD16, PF16, PP16, PW1, PD1, NREF };
	int64_t *ref[NREF];
	for (int k = 0; k < NREF; k++)
		ref[k] = calloc((size_t)n, sizeof(int64_t));
	for (int i = 0; i < n; i++) {
		commit_once(wh, &c16);
		commit_once(wh, &c1);
		commit_once(wh, &c16f);
		commit_once(wh, &c1f);
		ref[PW16][i] = bare_once(buf, bytes16, 1, false);
		ref[PD16][i] = bare_once(buf, bytes16, 1, true);
		ref[PF16][i] = bare_once(buf, bytes16 / files16, (int)files16, true);
		ref[PP16][i] = par_once(buf, bytes16 / files16, (int)files16);
		ref[PW1][i] = bare_once(buf, bytes1, 1, false);
		ref[PD1][i] = bare_once(buf, bytes1, 1, true);
	}
	free(buf);
	printf("\ncommit latency of a 10-row transaction (begin + 10 puts + commit), %d each,\n"
	       "interleaved with reference writes of the same bytes in the same directory tree:\n",
	       n);
	lat l16 = summarize(c16.us, c16.n), l1 = summarize(c1.us, c1.n);
	lat l16f = summarize(c16f.us, c16f.n), l1f = summarize(c1f.us, c1f.n);
	lat pw16 = summarize(ref[PW16], n), pd16 = summarize(ref[PD16], n);
	lat pf16 = summarize(ref[PF16], n), pw1 = summarize(ref[PW1], n);
	lat pp16 = summarize(ref[PP16], n);
	lat pd1 = summarize(ref[PD1], n);
	printf("  %-62s %8s %8s %8s\n", "", "p50 ms", "p99 ms", "mean ms");
#define ROW(label, l) printf("  %-62s %8.3f %8.3f %8.3f\n", label, (l).p50_ms, (l).p99_ms, (l).mean_ms)
	char label[160];
	snprintf(label, sizeof(label), "w16 commit: %.1f row files inline (%.1f), %.0f B; %.1f fsync",
		 (double)c16.files / n, (double)c16.inlined / n, (double)c16.bytes / n,
		 (double)c16.fsyncs / n);
	ROW(label, l16);
	snprintf(label, sizeof(label), "w1 commit:  %.1f row file inline (%.1f), %.0f B; %.1f fsync",
		 (double)c1.files / n, (double)c1.inlined / n, (double)c1.bytes / n,
		 (double)c1.fsyncs / n);
	ROW(label, l1);
	printf("  with write.inline.max-bytes=0 (every row file a file):\n");
	snprintf(label, sizeof(label), "w16f commit: %.1f files, %.0f B; %.1f fsync, %.1f rename",
		 (double)c16f.files / n, (double)c16f.bytes / n, (double)c16f.fsyncs / n,
		 (double)c16f.renames / n);
	ROW(label, l16f);
	snprintf(label, sizeof(label), "  bare pwrite+fsync, 1 file of %zu B", bytes16);
	ROW(label, pw16);
	snprintf(label, sizeof(label), "  pwrite+fsync+rename+dir fsync, 1 file of %zu B", bytes16);
	ROW(label, pd16);
	snprintf(label, sizeof(label), "  pwrite+fsync+rename+dir fsync, %zu files of %zu B", files16,
		 bytes16 / files16);
	ROW(label, pf16);
	snprintf(label, sizeof(label), "  the same, %zu threads at once, a directory each", files16);
	ROW(label, pp16);
	snprintf(label, sizeof(label), "w1f commit:  %.1f file, %.0f B; %.1f fsync, %.1f rename",
		 (double)c1f.files / n, (double)c1f.bytes / n, (double)c1f.fsyncs / n,
		 (double)c1f.renames / n);
	ROW(label, l1f);
	snprintf(label, sizeof(label), "  bare pwrite+fsync, 1 file of %zu B", bytes1);
	ROW(label, pw1);
	snprintf(label, sizeof(label), "  pwrite+fsync+rename+dir fsync, 1 file of %zu B", bytes1);
	ROW(label, pd1);
	printf("  (every commit also makes LMDB's two syncs)\n");
	printf("\nratios (p50):\n");
	printf("  w16 commit / w1 commit (inline, the default)     %6.1fx   goal <= 2.0x\n",
	       l16.p50_ms / l1.p50_ms);
	printf("  w1  commit / w1f commit (inline / a file)        %6.1fx\n", l1.p50_ms / l1f.p50_ms);
	printf("  w16 commit / w16f commit (inline / files)        %6.1fx\n", l16.p50_ms / l16f.p50_ms);
	printf("  with files (write.inline.max-bytes=0):\n");
	printf("  w16f commit / w1f commit                         %6.1fx\n", l16f.p50_ms / l1f.p50_ms);
	printf("  w16f commit / bare pwrite+fsync                  %6.1fx\n", l16f.p50_ms / pw16.p50_ms);
	printf("  w16f commit / the same for each of its files     %6.1fx\n", l16f.p50_ms / pf16.p50_ms);
	printf("  w16f commit / the same, its files at once        %6.1fx\n", l16f.p50_ms / pp16.p50_ms);
	printf("  w1f  commit / pwrite+fsync+rename+dir fsync      %6.1fx\n", l1f.p50_ms / pd1.p50_ms);
	printf("  (floor) files at once / durable, 1 file of w1f's %6.1fx   what the file system "
	       "allows\n",
	       pp16.p50_ms / pd1.p50_ms);
	for (int k = 0; k < NREF; k++)
		free(ref[k]);
	free(c16.us);
	free(c1.us);
	free(c16f.us);
	free(c1f.us);
	strata_wh_close(wh);
	printf("\nbench_write took %.1f s\n", (double)(strata_mono_us() - start) / 1e6);
	return 0;
}
