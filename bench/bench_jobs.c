/*
 * bench/bench_jobs.c — governance jobs: sort, major compaction, point
 * lookups after a major compaction, and the memory of a large merge, each
 * side by side with a reference measured in the same run.
 *
 * The table has MEASURED.md's shape: pk BIGINT (key), a BIGINT, b INT,
 * c DOUBLE, d STRING (~9 B, 50,000 distinct), e STRING (8 B, 200
 * categories), f BOOLEAN, g DOUBLE, h STRING (32 hex digits); one bucket,
 * defaults otherwise (zstd level 3, 64 MiB row groups).  Values are a fixed
 * function of (pk, commit), so every run writes the same bytes.  "Decoded
 * bytes" are the PLAIN encoding of the values (4-byte length prefixes for
 * strings, nulls absent) plus 8 bytes of _seq per record, as in
 * bench_parquet.c; MB = 10^6 bytes.
 *
 *   1. sort: 10 commits of 100,000 rows (keys interleaved across commits:
 *      a true 10-way merge) -> one Parquet file.  Timed: bucket view load +
 *      strata_sort_plan + strata_job_execute (outputs fsynced, manifest
 *      commit).  Side by side, interleaved rep by rep: DuckDB (threads=1)
 *      COPY of the same rows (loaded from a CSV of the row files, untimed)
 *      to Parquet ZSTD, as loaded and ORDER BY pk, _seq DESC; and libzstd
 *      level 3, one thread, compressing the decoded bytes of the sort's
 *      output in 1 MiB chunks (the "compression floor").  Also the row-file
 *      reader alone: strata_run over the 10 row files (every column) vs
 *      Avro C's avro_file_reader + generic value API over the same files.
 *   2. major compaction of one bucket holding 10 overlapping runs (each a
 *      Parquet file made by a sort; keys drawn from a common key space,
 *      _seq rising, ~10 % deletes) vs DuckDB's dedup rewrite of the same
 *      files: COPY (SELECT * FROM read_parquet([...]) QUALIFY
 *      row_number() OVER (PARTITION BY pk ORDER BY _seq DESC) = 1 AND
 *      _op = 0) TO ... (FORMAT parquet, COMPRESSION zstd).
 *   4. peak RSS of a leveled merge of 8 level-1 files (>= 1 GiB of decoded
 *      input, keys interleaved) in a fresh child process started through
 *      /bin/sh (so it inherits no high-water mark): getrusage ru_maxrss
 *      after the job minus before it, and the process's VmHWM.
 *   3. that merged table, major-compacted (10.4 M rows), then point lookups
 *      through strata_get_json: rows decoded per lookup (its out-param) and
 *      latency p50/p99 over 1,000 random keys after 100 of warm-up; next to
 *      DuckDB's SELECT * FROM read_parquet(<the same files>) WHERE pk = x.
 *
 * Every figure is the best of STRATA_BENCH_REPEAT runs (default 3) with
 * the median and the worst next to it; ratios compare runs made side by
 * side and their range over the reps is printed.  Wall and CPU seconds are
 * both given (the machines are shared; CPU time is much less disturbed).
 *
 * Environment: BENCH_SCALE (default 1; 0.1 for a quick run) scales every
 * row count; STRATA_BENCH_REPEAT; STRATA_BENCH_DIR (scratch parent, else
 * $TMPDIR, else /tmp); STRATA_BENCH_NODUCK skips DuckDB;
 * STRATA_BENCH_PARTS ("1234" by default) picks the parts;
 * STRATA_BENCH_LOOKUPS (1000) and STRATA_BENCH_DUCK_LOOKUPS (200);
 * STRATA_BENCH_KEEP=1 leaves the scratch directory (the sort and
 * major-compaction templates, the merged big table) for profiling.
 *
 * Benchmarks print; they assert nothing.  About 3-4 minutes at scale 1.
 */
#include "bench/bench_rows.h"
#include "compact/compact.h"
#include "merge/merge.h"
#include "policies/policies.h"
#include "sort/sort.h"
#include "table/table.h"

#include <avro.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define MAXREPS 32

static const char *const COLUMNS =
	"pk BIGINT PRIMARY KEY, a BIGINT, b INT, c DOUBLE, d STRING, e STRING, "
	"f BOOLEAN, g DOUBLE, h STRING";

static double scale = 1.0;
static int reps = 3;
static bool has_duck;
static char scratch[PATH_MAX];
static char self_exe[PATH_MAX];
static bool is_keep; /* STRATA_BENCH_KEEP: leave the scratch directory */

/* ---- small utilities --------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_tree(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (scratch[0] && !is_keep)
		rm_tree(scratch);
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_jobs: %s: %s\n", what, err ? err->msg : strerror(errno));
	cleanup();
	exit(1);
}

/* Copy a closed warehouse (the template of a measurement) over dst. */
static void tree_copy(const char *src, const char *dst)
{
	rm_tree(dst);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", src, dst);
	if (system(cmd) != 0)
		die("cp -a", NULL);
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Best, median and worst of up to MAXREPS samples. */
typedef struct samp {
	double v[MAXREPS];
	int n;
} samp;

static void samp_add(samp *s, double x)
{
	if (s->n < MAXREPS)
		s->v[s->n++] = x;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double samp_q(const samp *s, double q)
{
	if (s->n == 0)
		return 0;
	double t[MAXREPS];
	memcpy(t, s->v, sizeof(double) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(double), dbl_cmp);
	return t[(int)(q * (s->n - 1) + 0.5)];
}

static double samp_min(const samp *s)
{
	return samp_q(s, 0);
}

static double samp_max(const samp *s)
{
	return samp_q(s, 1);
}

/* "best (median, worst)" of a time sample as a rate: amount / seconds. */
static void print_rate(const char *label, const samp *t, double amount, const char *unit,
		       double amount2, const char *unit2)
{
	printf("  %-44s %8.3f s  (median %.3f, worst %.3f)", label, samp_min(t), samp_q(t, 0.5),
	       samp_max(t));
	if (amount > 0)
		printf("  %7.2f %s", amount / samp_min(t), unit);
	if (amount2 > 0)
		printf("  %7.1f %s", amount2 / samp_min(t), unit2);
	printf("\n");
}

/* ratio of bests, and the range of the per-rep ratios a[i] / b[i] */
static void print_ratio(const char *label, const samp *num, const samp *den)
{
	samp r = {0};
	for (int i = 0; i < num->n && i < den->n; i++)
		samp_add(&r, num->v[i] / den->v[i]);
	printf("  %-60s %6.2fx  (per-rep %.2f - %.2f)\n", label, samp_min(num) / samp_min(den),
	       samp_min(&r), samp_max(&r));
}

/* ---- data ---------------------------------------------------------------------------- */

/* Decoded bytes of a record (see the top of the file). */
static uint64_t decoded_bytes(const strata_schema *s, const strata_row *r)
{
	uint64_t n = 8; /* _seq */
	for (uint32_t i = 0; i < s->ncols && i < r->ncols; i++) {
		const strata_value *v = &r->vals[i];
		if (v->is_null)
			continue;
		switch (s->cols[i].type) {
		case STRATA_T_INT:
		case STRATA_T_FLOAT:
			n += 4;
			break;
		case STRATA_T_BOOL:
			n += 1;
			break;
		case STRATA_T_STRING:
		case STRATA_T_BYTES:
			n += 4 + v->v.s.len;
			break;
		default:
			n += 8;
		}
	}
	return n;
}

/* ---- warehouse helpers ----------------------------------------------------------------- */

static strata_wh *wh_open(const char *dir, bool create)
{
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(dir, create, &wh, &err))
		die("open warehouse", &err);
	return wh;
}

static void table_make(strata_wh *wh, const char *name)
{
	strata_err err;
	const char *props[] = {"write.bucket.num=1"};
	if (strata_table_create(wh, name, COLUMNS, NULL, NULL, props, 1, &err))
		die("create table", &err);
}

/* Commit keys[0..n) (rows of commit `salt`); a key is a delete when
 * del_permille of them, chosen by hash, are.  Returns the version. */
static uint64_t commit_keys(strata_wh *wh, const char *table, const int64_t *keys, size_t n,
			    uint64_t salt, unsigned del_permille)
{
	strata_err err;
	strata_txn *txn;
	if (strata_txn_begin(wh, table, &txn, &err))
		die("txn begin", &err);
	gen_row g;
	for (size_t i = 0; i < n; i++) {
		bool is_del = del_permille && mix64((uint64_t)keys[i] ^ (salt << 40) ^ 0xde1) % 1000 <
						      del_permille;
		gen(&g, keys[i], salt, is_del);
		if (strata_txn_put(txn, NULL, &g.row, &err))
			die("txn put", &err);
	}
	uint64_t v;
	if (strata_txn_commit(txn, NULL, &v, NULL, &err))
		die("txn commit", &err);
	return v;
}

typedef enum { JOB_SORT, JOB_MERGE, JOB_MAJOR } job_kind;

/* stratad's output size for a merge into `level` with the default policy */
static uint64_t merge_target(int level)
{
	strata_policy pol;
	strata_policy_default(&pol);
	return strata_pol_merge_target_bytes(&pol, level);
}

/* Load the view of bucket 0, plan `k` and run it. */
static void job_run(strata_wh *wh, const char *table, job_kind k, strata_job_result *res)
{
	strata_err err;
	strata_bucket_view v;
	if (strata_bucket_view_load(wh, table, "", 0, strata_now_us(), &v, &err))
		die("bucket view", &err);
	strata_job_plan plan;
	int rc;
	if (k == JOB_SORT) {
		rc = strata_sort_plan(&v, 1ull << 60, &plan);
	} else if (k == JOB_MERGE) {
		/* what stratad does: fanout 8, target size of the output level */
		strata_policy pol;
		strata_policy_default(&pol);
		rc = strata_merge_plan(&v, 1, 0, (size_t)pol.merge_fanout, 0, &plan);
		if (rc == 0 && plan.ninputs)
			plan.target_bytes = strata_pol_merge_target_bytes(&pol, plan.out_level);
	} else {
		rc = strata_compact_major_plan(&v, false, &plan);
	}
	if (rc)
		die("plan", NULL);
	strata_job_ctl ctl = {.owner = "bench_jobs"};
	if (strata_job_execute(wh, &v, &plan, &ctl, res, &err))
		die(plan.what, &err);
	strata_bucket_view_free(&v);
}

/* Live files of bucket 0: paths (malloc'd array of malloc'd strings) and
 * entries (arena a), ordered by seq_min. */
static size_t live_files(strata_wh *wh, const char *table, strata_arena *a,
			 strata_file_entry **entries, char ***paths, strata_schema **schema)
{
	strata_err err;
	strata_bucket_view v;
	if (strata_bucket_view_load(wh, table, "", 0, strata_now_us(), &v, &err))
		die("bucket view", &err);
	*entries = strata_arena_alloc(a, (v.nfiles + 1) * sizeof(strata_file_entry));
	*paths = calloc(v.nfiles + 1, sizeof(char *));
	for (size_t i = 0; i < v.nfiles; i++) {
		(*entries)[i] = v.files[i];
		char p[PATH_MAX];
		strata_file_path(strata_wh_mf(wh), v.table.name, v.part.name, &v.files[i], p,
				 sizeof(p));
		(*paths)[i] = strdup(p);
	}
	if (schema)
		*schema = strata_schema_dup(v.schema);
	size_t n = v.nfiles;
	strata_bucket_view_free(&v);
	return n;
}

static void paths_free(char **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

/* ---- DuckDB, one session per part -------------------------------------------------------- */

typedef struct duck {
	pid_t pid;
	FILE *to, *from;
} duck;

static bool duck_start(duck *d)
{
	memset(d, 0, sizeof(*d));
	if (!has_duck)
		return false;
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return false;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		setenv("NODE_PATH", "tests/.node/node_modules", 1);
		execlp("node", "node", "bench/duckdb_session.cjs", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	d->pid = pid;
	d->to = fdopen(in[1], "w");
	d->from = fdopen(out[0], "r");
	return true;
}

/* Run one step; returns the reply (caller json_decref's) or NULL. */
static json_t *duck_step(duck *d, const char *name, const char *sql, bool want_rows)
{
	if (!d->pid)
		return NULL;
	json_t *req = json_pack("{s:s, s:s, s:b}", "name", name, "sql", sql, "rows", want_rows);
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	fprintf(d->to, "%s\n", line);
	fflush(d->to);
	free(line);
	char *buf = NULL;
	size_t cap = 0;
	if (getline(&buf, &cap, d->from) < 0) {
		free(buf);
		fprintf(stderr, "DuckDB session ended unexpectedly\n");
		return NULL;
	}
	json_error_t je;
	json_t *rep = json_loads(buf, 0, &je);
	free(buf);
	if (rep && json_object_get(rep, "error")) {
		fprintf(stderr, "DuckDB step %s failed: %s\n", name,
			json_string_value(json_object_get(rep, "error")));
		json_decref(rep);
		return NULL;
	}
	return rep;
}

/* Seconds (wall and CPU) of a step, -1 on failure. */
static double duck_time(duck *d, const char *name, const char *sql, double *cpu)
{
	json_t *r = duck_step(d, name, sql, false);
	if (!r)
		return -1;
	double s = json_real_value(json_object_get(r, "s"));
	if (cpu)
		*cpu = json_real_value(json_object_get(r, "cpu"));
	json_decref(r);
	return s;
}

/* First column of the first row of a step's result, as a number. */
static double duck_scalar(duck *d, const char *sql)
{
	json_t *r = duck_step(d, "q", sql, true);
	if (!r)
		return -1;
	double x = -1;
	json_t *rows = json_object_get(r, "rows");
	json_t *row0 = json_array_get(rows, 0);
	const char *k;
	json_t *v;
	json_object_foreach(row0, k, v) {
		if (json_is_number(v))
			x = json_number_value(v);
		else if (json_is_string(v))
			x = atof(json_string_value(v));
		break;
	}
	json_decref(r);
	return x;
}

static void duck_stop(duck *d)
{
	if (!d->pid)
		return;
	fclose(d->to);
	fclose(d->from);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

/* "['a','b',...]" */
static void sql_list(strata_buf *b, char **paths, size_t n)
{
	strata_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++)
		strata_buf_printf(b, "%s'%s'", i ? ", " : "", paths[i]);
	strata_buf_putc(b, ']');
	strata_buf_putc(b, 0);
}

/* ---- reading helpers ---------------------------------------------------------------------- */

static strata_run *run_open(const char *path, const strata_file_entry *f, const strata_schema *s)
{
	strata_err err;
	strata_run_opts ro = {.file_schema = f->format == STRATA_FMT_AVRO ? s : NULL,
			      .read_schema = s, .default_seq = f->seq_max};
	strata_run *r;
	if (strata_run_open(path, &ro, &r, &err))
		die("run open", &err);
	return r;
}

/* Write the records of the files as CSV (pk,...,h,_seq,_op); deletes have
 * empty fields. */
static void csv_write(const char *csv, char **paths, const strata_file_entry *fs, size_t n,
		      const strata_schema *s)
{
	FILE *f = fopen(csv, "w");
	if (!f)
		die(csv, NULL);
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	fprintf(f, "pk,a,b,c,d,e,f,g,h,_seq,_op\n");
	strata_err err;
	for (size_t i = 0; i < n; i++) {
		strata_run *r = run_open(paths[i], &fs[i], s);
		const strata_row *row;
		int rc;
		while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
			const strata_value *v = row->vals;
			if (row->op == STRATA_OP_DELETE) {
				fprintf(f, "%lld,,,,,,,,,%lld,1\n", (long long)v[0].v.i64,
					(long long)row->seq);
				continue;
			}
			fprintf(f, "%lld,%lld,%d,%.17g,%.*s,%.*s,%s,%.17g,%.*s,%lld,0\n",
				(long long)v[0].v.i64, (long long)v[1].v.i64, v[2].v.i32, v[3].v.f64,
				(int)v[4].v.s.len, (const char *)v[4].v.s.ptr, (int)v[5].v.s.len,
				(const char *)v[5].v.s.ptr, v[6].v.b ? "true" : "false", v[7].v.f64,
				(int)v[8].v.s.len, (const char *)v[8].v.s.ptr, (long long)row->seq);
		}
		if (rc < 0)
			die("csv", &err);
		strata_run_close(r);
	}
	if (fclose(f))
		die(csv, NULL);
}

static const char *CSV_COLUMNS =
	"columns={'pk':'BIGINT','a':'BIGINT','b':'INTEGER','c':'DOUBLE','d':'VARCHAR',"
	"'e':'VARCHAR','f':'BOOLEAN','g':'DOUBLE','h':'VARCHAR','_seq':'BIGINT','_op':'INTEGER'}";

/* The decoded bytes of a file laid out column by column (PLAIN), as the
 * compression floor's input; returns its length in *len. */
static uint8_t *columnar_bytes(const char *path, const strata_file_entry *fe,
			       const strata_schema *s, size_t *len, uint64_t *rows)
{
	strata_buf col[NCOLS + 1];
	memset(col, 0, sizeof(col));
	strata_run *r = run_open(path, fe, s);
	const strata_row *row;
	strata_err err;
	int rc;
	*rows = 0;
	while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
		for (uint32_t i = 0; i < NCOLS; i++) {
			const strata_value *v = &row->vals[i];
			if (v->is_null)
				continue;
			switch (s->cols[i].type) {
			case STRATA_T_INT:
				strata_buf_append(&col[i], &v->v.i32, 4);
				break;
			case STRATA_T_BOOL: {
				uint8_t b = v->v.b;
				strata_buf_append(&col[i], &b, 1);
				break;
			}
			case STRATA_T_STRING: {
				uint32_t l = v->v.s.len;
				strata_buf_append(&col[i], &l, 4);
				strata_buf_append(&col[i], v->v.s.ptr, l);
				break;
			}
			default:
				strata_buf_append(&col[i], &v->v.i64, 8);
			}
		}
		strata_buf_append(&col[NCOLS], &row->seq, 8);
		(*rows)++;
	}
	if (rc < 0)
		die("columnar bytes", &err);
	strata_run_close(r);
	size_t n = 0;
	for (int i = 0; i <= NCOLS; i++)
		n += col[i].len;
	uint8_t *out = malloc(n + 1);
	size_t o = 0;
	for (int i = 0; i <= NCOLS; i++) {
		memcpy(out + o, col[i].data, col[i].len);
		o += col[i].len;
		strata_buf_free(&col[i]);
	}
	*len = n;
	return out;
}

/* libzstd level 3, one thread, 1 MiB chunks: CPU seconds; *ratio set. */
static double zstd_floor(const uint8_t *raw, size_t n, double *ratio)
{
	size_t chunk = 1 << 20, bound = ZSTD_compressBound(chunk);
	uint8_t *dst = malloc(bound);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t total = 0;
	double c0 = cpu_s();
	for (size_t p = 0; p < n; p += chunk) {
		size_t k = n - p < chunk ? n - p : chunk;
		size_t z = ZSTD_compressCCtx(cc, dst, bound, raw + p, k, 3);
		if (ZSTD_isError(z))
			die("zstd", NULL);
		total += z;
	}
	double s = cpu_s() - c0;
	ZSTD_freeCCtx(cc);
	free(dst);
	*ratio = (double)n / (double)total;
	return s;
}

/* strata_run over row files, every column: rows read. */
static uint64_t read_ours(char **paths, const strata_file_entry *fs, size_t n,
			  const strata_schema *s, uint64_t *check)
{
	uint64_t rows = 0;
	strata_err err;
	for (size_t i = 0; i < n; i++) {
		strata_run *r = run_open(paths[i], &fs[i], s);
		const strata_row *row;
		int rc;
		while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
			*check += (uint64_t)row->vals[1].v.i64 + row->vals[8].v.s.len +
				  (uint64_t)row->vals[2].v.i32;
			rows++;
		}
		if (rc < 0)
			die("read", &err);
		strata_run_close(r);
	}
	return rows;
}

/* Avro C's reader and generic value API over the same files, every field. */
static uint64_t read_avro_c(char **paths, size_t n, uint64_t *check)
{
	uint64_t rows = 0;
	for (size_t i = 0; i < n; i++) {
		avro_file_reader_t rd;
		if (avro_file_reader(paths[i], &rd))
			die(avro_strerror(), NULL);
		avro_schema_t ws = avro_file_reader_get_writer_schema(rd);
		avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
		avro_value_t rec;
		avro_generic_value_new(iface, &rec);
		size_t nf = 0;
		avro_value_get_size(&rec, &nf);
		while (avro_file_reader_read_value(rd, &rec) == 0) {
			for (size_t k = 0; k < nf; k++) {
				avro_value_t f, br;
				avro_value_get_by_index(&rec, k, &f, NULL);
				if (avro_value_get_type(&f) == AVRO_UNION) {
					avro_value_get_current_branch(&f, &br);
					f = br;
				}
				switch (avro_value_get_type(&f)) {
				case AVRO_INT64: {
					int64_t x;
					avro_value_get_long(&f, &x);
					*check += (uint64_t)x;
					break;
				}
				case AVRO_INT32: {
					int32_t x;
					avro_value_get_int(&f, &x);
					*check += (uint64_t)x;
					break;
				}
				case AVRO_DOUBLE: {
					double x;
					avro_value_get_double(&f, &x);
					*check += (uint64_t)(x > 0);
					break;
				}
				case AVRO_BOOLEAN: {
					int x;
					avro_value_get_boolean(&f, &x);
					*check += (uint64_t)x;
					break;
				}
				case AVRO_STRING: {
					const char *p;
					size_t l;
					avro_value_get_string(&f, &p, &l);
					*check += l;
					break;
				}
				default:
					break;
				}
			}
			rows++;
		}
		avro_value_decref(&rec);
		avro_value_iface_decref(iface);
		avro_file_reader_close(rd);
	}
	return rows;
}

/* ---- 1. sort ---------------------------------------------------------------------------- */

static void bench_sort(void)
{
	const int commits = 10;
	size_t per = (size_t)(100000 * scale);
	if (per < 1000)
		per = 1000;
	printf("\n=== 1. sort: %d row files (commits) x %zu rows -> one Parquet file\n", commits, per);
	char wh_dir[PATH_MAX], tmpl[PATH_MAX], csv[PATH_MAX + 16], duck_out[PATH_MAX + 32];
	snprintf(wh_dir, sizeof(wh_dir), "%s/sort", scratch);
	snprintf(tmpl, sizeof(tmpl), "%s/sort-tmpl", scratch);
	snprintf(csv, sizeof(csv), "%s/sort.csv", scratch);
	snprintf(duck_out, sizeof(duck_out), "%s/duck-sort.parquet", scratch);

	strata_wh *wh = wh_open(tmpl, true);
	table_make(wh, "t");
	int64_t *keys = malloc(per * sizeof(int64_t));
	for (int c = 0; c < commits; c++) {
		for (size_t i = 0; i < per; i++)
			keys[i] = (int64_t)i * commits + c; /* interleaved across commits */
		commit_keys(wh, "t", keys, per, (uint64_t)c + 1, 0);
	}
	free(keys);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	char **paths;
	strata_schema *s;
	size_t nf = live_files(wh, "t", a, &fs, &paths, &s);
	uint64_t in_bytes = 0, in_rows = 0;
	for (size_t i = 0; i < nf; i++) {
		in_bytes += fs[i].bytes;
		in_rows += fs[i].rows;
	}
	strata_wh_close(wh);
	printf("input: %zu row files, %llu rows, %.1f MB of Avro (codec null)\n", nf,
	       (unsigned long long)in_rows, (double)in_bytes / 1e6);

	/* the reader alone: ours vs Avro C, same files, every column */
	samp r_ours = {0}, r_ours_c = {0}, r_avro = {0}, r_avro_c = {0};
	uint64_t ck1 = 0, ck2 = 0, n1 = 0, n2 = 0;
	for (int rep = 0; rep < reps; rep++) {
		double t0 = now_s(), c0 = cpu_s();
		n1 = read_ours(paths, fs, nf, s, &ck1);
		samp_add(&r_ours, now_s() - t0);
		samp_add(&r_ours_c, cpu_s() - c0);
		t0 = now_s();
		c0 = cpu_s();
		n2 = read_avro_c(paths, nf, &ck2);
		samp_add(&r_avro, now_s() - t0);
		samp_add(&r_avro_c, cpu_s() - c0);
	}

	/* DuckDB: the same rows from a CSV (untimed load) */
	duck d;
	bool is_duck = duck_start(&d);
	if (is_duck) {
		csv_write(csv, paths, fs, nf, s);
		char sql[2 * PATH_MAX];
		snprintf(sql, sizeof(sql), "CREATE TABLE t AS SELECT * FROM read_csv('%s', header=true, %s)",
			 csv, CSV_COLUMNS);
		if (duck_time(&d, "load", sql, NULL) < 0)
			is_duck = false;
		unlink(csv);
	}

	samp job_w = {0}, job_c = {0}, z_c = {0}, dk_w = {0}, dk_c = {0}, dks_w = {0}, dks_c = {0};
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	uint64_t raw_rows = 0, out_bytes = 0;
	double zratio = 0;
	strata_job_result res;
	for (int rep = 0; rep < reps; rep++) {
		tree_copy(tmpl, wh_dir);
		wh = wh_open(wh_dir, false);
		double t0 = now_s(), c0 = cpu_s();
		job_run(wh, "t", JOB_SORT, &res);
		samp_add(&job_w, now_s() - t0);
		samp_add(&job_c, cpu_s() - c0);
		out_bytes = res.bytes_out;
		if (!raw) {
			strata_arena *a2 = strata_arena_new();
			strata_file_entry *of;
			char **op;
			size_t no = live_files(wh, "t", a2, &of, &op, NULL);
			raw = columnar_bytes(op[0], &of[0], s, &raw_len, &raw_rows);
			paths_free(op, no);
			strata_arena_free(a2);
		}
		strata_wh_close(wh);
		samp_add(&z_c, zstd_floor(raw, raw_len, &zratio));
		if (is_duck) {
			char sql[2 * PATH_MAX], name[32];
			double cpu;
			snprintf(name, sizeof(name), "copy%d", rep);
			snprintf(sql, sizeof(sql),
				 "COPY t TO '%s' (FORMAT parquet, COMPRESSION zstd)", duck_out);
			samp_add(&dk_w, duck_time(&d, name, sql, &cpu));
			samp_add(&dk_c, cpu);
			snprintf(sql, sizeof(sql),
				 "COPY (SELECT * FROM t ORDER BY pk, _seq DESC) TO '%s' (FORMAT parquet, "
				 "COMPRESSION zstd)",
				 duck_out);
			samp_add(&dks_w, duck_time(&d, name, sql, &cpu));
			samp_add(&dks_c, cpu);
		}
	}
	uint64_t duck_bytes = file_size(duck_out);
	duck_stop(&d);
	unlink(duck_out);
	rm_tree(wh_dir);
	if (!is_keep)
		rm_tree(tmpl);

	double dec_mb = (double)raw_len / 1e6;
	printf("output: %llu rows, %.1f MB Parquet; decoded bytes %.1f MB (%.1f B/row)%s\n",
	       (unsigned long long)res.rows_out, (double)out_bytes / 1e6, dec_mb,
	       (double)raw_len / (double)raw_rows,
	       raw_rows == in_rows ? "" : "  ** row count differs **");
	printf("best of %d (median, worst); rates from the best; MB/s of decoded bytes, then "
	       "of input file bytes where given\n",
	       reps);
	print_rate("strata sort job, wall", &job_w, (double)in_rows / 1e6, "M rows/s", dec_mb,
		   "MB/s");
	print_rate("strata sort job, CPU", &job_c, (double)in_rows / 1e6, "M rows/s", dec_mb,
		   "MB/s");
	printf("  %-44s %.1f MB/s of Avro input (wall)\n", "", (double)in_bytes / 1e6 / samp_min(&job_w));
	print_rate("libzstd -3, decoded bytes, 1 MiB chunks, CPU", &z_c, (double)raw_rows / 1e6,
		   "M rows/s", dec_mb, "MB/s");
	printf("  %-44s ratio %.2f\n", "", zratio);
	if (is_duck) {
		print_rate("DuckDB COPY t TO parquet zstd, wall", &dk_w, (double)in_rows / 1e6,
			   "M rows/s", dec_mb, "MB/s");
		print_rate("DuckDB COPY t TO parquet zstd, CPU", &dk_c, (double)in_rows / 1e6,
			   "M rows/s", dec_mb, "MB/s");
		print_rate("DuckDB COPY (... ORDER BY pk, _seq DESC), wall", &dks_w,
			   (double)in_rows / 1e6, "M rows/s", dec_mb, "MB/s");
		print_rate("DuckDB COPY (... ORDER BY pk, _seq DESC), CPU", &dks_c,
			   (double)in_rows / 1e6, "M rows/s", dec_mb, "MB/s");
		printf("  file bytes: strata %llu, DuckDB (ordered) %llu (%.3f)\n",
		       (unsigned long long)out_bytes, (unsigned long long)duck_bytes,
		       (double)out_bytes / (double)duck_bytes);
	}
	printf(" speed ratios (> 1: strata faster):\n");
	if (is_duck) {
		print_ratio("sort job vs DuckDB COPY, wall (goal >= 1.0)", &dk_w, &job_w);
		print_ratio("sort job vs DuckDB COPY, CPU", &dk_c, &job_c);
		print_ratio("sort job vs DuckDB COPY ORDER BY, wall", &dks_w, &job_w);
		print_ratio("sort job vs DuckDB COPY ORDER BY, CPU", &dks_c, &job_c);
	}
	print_ratio("sort job (CPU) vs libzstd -3 (CPU) (goal >= 0.5)", &z_c, &job_c);
	print_ratio("sort job (wall) vs libzstd -3 (CPU)", &z_c, &job_w);

	printf(" row-file reader alone, %llu rows, every column (checksums %s):\n",
	       (unsigned long long)n1, n1 == n2 ? "rows agree" : "** rows differ **");
	print_rate("strata_run (hand-written decoder), wall", &r_ours, (double)n1 / 1e6, "M rows/s",
		   (double)in_bytes / 1e6, "MB/s of Avro");
	print_rate("strata_run, CPU", &r_ours_c, (double)n1 / 1e6, "M rows/s", 0, NULL);
	print_rate("Avro C avro_file_reader + value API, wall", &r_avro, (double)n2 / 1e6,
		   "M rows/s", (double)in_bytes / 1e6, "MB/s of Avro");
	print_rate("Avro C, CPU", &r_avro_c, (double)n2 / 1e6, "M rows/s", 0, NULL);
	print_ratio("strata_run vs Avro C, CPU", &r_avro_c, &r_ours_c);
	(void)ck1;
	(void)ck2;
	free(raw);
	paths_free(paths, nf);
	strata_schema_free(s);
	strata_arena_free(a);
}

/* ---- 2. major compaction -------------------------------------------------------------------- */

static void bench_major(void)
{
	const int runs = 10;
	int64_t space = (int64_t)(1000000 * scale);
	if (space < 10000)
		space = 10000;
	printf("\n=== 2. major compaction: one bucket, %d overlapping Parquet runs over %lld keys "
	       "(each key in a run with p = 0.2, ~10%% deletes)\n",
	       runs, (long long)space);
	char wh_dir[PATH_MAX], tmpl[PATH_MAX], duck_out[PATH_MAX + 32];
	snprintf(wh_dir, sizeof(wh_dir), "%s/major", scratch);
	snprintf(tmpl, sizeof(tmpl), "%s/major-tmpl", scratch);
	snprintf(duck_out, sizeof(duck_out), "%s/duck-major.parquet", scratch);
	strata_wh *wh = wh_open(tmpl, true);
	table_make(wh, "t");
	int64_t *keys = malloc((size_t)space * sizeof(int64_t));
	strata_job_result res;
	for (int r = 0; r < runs; r++) {
		size_t n = 0;
		for (int64_t k = 0; k < space; k++)
			if (mix64((uint64_t)k * 31 + (uint64_t)r * 0x1234567) % 5 == 0)
				keys[n++] = k;
		commit_keys(wh, "t", keys, n, (uint64_t)r + 100, r == 0 ? 0 : 100);
		job_run(wh, "t", JOB_SORT, &res); /* the run becomes a Parquet file */
	}
	free(keys);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	char **paths;
	strata_schema *s;
	size_t nf = live_files(wh, "t", a, &fs, &paths, &s);
	uint64_t in_rows = 0, in_bytes = 0, tomb = 0;
	for (size_t i = 0; i < nf; i++) {
		in_rows += fs[i].rows;
		in_bytes += fs[i].bytes;
		tomb += fs[i].tombstones;
	}
	strata_wh_close(wh);
	printf("input: %zu Parquet files (levels 1), %llu records (%llu deletes), %.1f MB\n", nf,
	       (unsigned long long)in_rows, (unsigned long long)tomb, (double)in_bytes / 1e6);

	duck d;
	bool is_duck = duck_start(&d);
	strata_buf list = {0};
	sql_list(&list, paths, nf);
	samp job_w = {0}, job_c = {0}, dk_w = {0}, dk_c = {0}, dko_w = {0}, dko_c = {0};
	double duck_rows = -1;
	for (int rep = 0; rep < reps; rep++) {
		tree_copy(tmpl, wh_dir);
		wh = wh_open(wh_dir, false);
		double t0 = now_s(), c0 = cpu_s();
		job_run(wh, "t", JOB_MAJOR, &res);
		samp_add(&job_w, now_s() - t0);
		samp_add(&job_c, cpu_s() - c0);
		strata_wh_close(wh);
		if (is_duck) {
			/* the template's copies of the inputs: the same bytes */
			char *sql = malloc(list.len + 2 * PATH_MAX);
			double cpu;
			sprintf(sql,
				"COPY (SELECT * FROM read_parquet(%s) QUALIFY row_number() OVER "
				"(PARTITION BY pk ORDER BY _seq DESC) = 1 AND _op = 0) TO '%s' "
				"(FORMAT parquet, COMPRESSION zstd)",
				(const char *)list.data, duck_out);
			samp_add(&dk_w, duck_time(&d, "major", sql, &cpu));
			samp_add(&dk_c, cpu);
			if (duck_rows < 0) {
				char q[PATH_MAX + 64];
				snprintf(q, sizeof(q), "SELECT count(*) FROM read_parquet('%s')", duck_out);
				duck_rows = duck_scalar(&d, q);
			}
			sprintf(sql,
				"COPY (SELECT * FROM read_parquet(%s) QUALIFY row_number() OVER "
				"(PARTITION BY pk ORDER BY _seq DESC) = 1 AND _op = 0 ORDER BY pk) TO "
				"'%s' (FORMAT parquet, COMPRESSION zstd)",
				(const char *)list.data, duck_out);
			samp_add(&dko_w, duck_time(&d, "major_ordered", sql, &cpu));
			samp_add(&dko_c, cpu);
			free(sql);
		}
	}
	uint64_t duck_bytes = file_size(duck_out);
	duck_stop(&d);
	unlink(duck_out);
	strata_buf_free(&list);
	printf("output: strata %llu rows, %.1f MB; DuckDB %.0f rows, %.1f MB (ordered variant)%s\n",
	       (unsigned long long)res.rows_out, (double)res.bytes_out / 1e6, duck_rows,
	       (double)duck_bytes / 1e6,
	       !is_duck || duck_rows == (double)res.rows_out ? "" : "  ** row counts differ **");
	printf("best of %d (median, worst); M rows/s of input records, MB/s of input file bytes\n",
	       reps);
	double mr = (double)in_rows / 1e6, mb = (double)in_bytes / 1e6;
	print_rate("strata major compaction, wall", &job_w, mr, "M rows/s", mb, "MB/s");
	print_rate("strata major compaction, CPU", &job_c, mr, "M rows/s", mb, "MB/s");
	if (is_duck) {
		print_rate("DuckDB QUALIFY rewrite, wall", &dk_w, mr, "M rows/s", mb, "MB/s");
		print_rate("DuckDB QUALIFY rewrite, CPU", &dk_c, mr, "M rows/s", mb, "MB/s");
		print_rate("DuckDB QUALIFY ... ORDER BY pk, wall", &dko_w, mr, "M rows/s", mb, "MB/s");
		print_rate("DuckDB QUALIFY ... ORDER BY pk, CPU", &dko_c, mr, "M rows/s", mb, "MB/s");
		printf(" speed ratios (> 1: strata faster):\n");
		print_ratio("major compaction vs DuckDB QUALIFY, wall", &dk_w, &job_w);
		print_ratio("major compaction vs DuckDB QUALIFY, CPU", &dk_c, &job_c);
		print_ratio("major compaction vs DuckDB QUALIFY ORDER BY, wall", &dko_w, &job_w);
		print_ratio("major compaction vs DuckDB QUALIFY ORDER BY, CPU", &dko_c, &job_c);
	}
	rm_tree(wh_dir);
	if (!is_keep)
		rm_tree(tmpl);
	paths_free(paths, nf);
	strata_schema_free(s);
	strata_arena_free(a);
}

/* ---- 4. memory of a large merge, in a fresh child -------------------------------------------- */

static long vm_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

static long maxrss_kib(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

/* The child: merge level 1 -> 2 of table "big" as stratad would. */
static int rss_child(const char *dir)
{
	strata_wh *wh = wh_open(dir, false);
	long m0 = maxrss_kib(), h0 = vm_kib("VmHWM"), r0 = vm_kib("VmRSS");
	strata_job_result res;
	double t0 = now_s(), c0 = cpu_s();
	job_run(wh, "big", JOB_MERGE, &res);
	double w = now_s() - t0, c = cpu_s() - c0;
	long m1 = maxrss_kib(), h1 = vm_kib("VmHWM");
	strata_wh_close(wh);
	printf("maxrss0=%ld maxrss1=%ld hwm0=%ld hwm1=%ld rss0=%ld files_in=%zu files_out=%zu "
	       "rows_in=%llu rows_out=%llu bytes_in=%llu bytes_out=%llu wall=%.3f cpu=%.3f\n",
	       m0, m1, h0, h1, r0, res.files_in, res.files_out, (unsigned long long)res.rows_in,
	       (unsigned long long)res.rows_out, (unsigned long long)res.bytes_in,
	       (unsigned long long)res.bytes_out, w, c);
	return 0;
}

static double kv_num(const char *s, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "%s=", key);
	const char *p = strstr(s, k);
	return p ? atof(p + strlen(k)) : -1;
}

/* ---- 3 and 4: the big table ----------------------------------------------------------------- */

static int64_t lat_cmp(const void *a, const void *b)
{
	return *(const int64_t *)a - *(const int64_t *)b;
}

static int lat_cmp_int(const void *a, const void *b)
{
	int64_t d = lat_cmp(a, b);
	return (d > 0) - (d < 0);
}

static void bench_big(bool do_rss, bool do_lookup)
{
	const int files = 8;
	size_t per = (size_t)(1300000 * scale), txn_rows = 100000;
	if (per < 2000)
		per = 2000;
	if (txn_rows > per)
		txn_rows = per;
	uint64_t total = per * (uint64_t)files;
	printf("\n=== 4. a leveled merge of %d level-1 files (%zu rows each, keys interleaved) in a "
	       "fresh process; then 3. lookups after a major compaction\n",
	       files, per);
	char wh_dir[PATH_MAX];
	snprintf(wh_dir, sizeof(wh_dir), "%s/big", scratch);
	double tb = now_s();
	strata_wh *wh = wh_open(wh_dir, true);
	table_make(wh, "big");
	int64_t *keys = malloc(txn_rows * sizeof(int64_t));
	uint64_t decoded = 0;
	strata_schema *s = NULL;
	{
		strata_err err;
		strata_txn *txn;
		if (strata_txn_begin(wh, "big", &txn, &err))
			die("txn", &err);
		s = strata_schema_dup(strata_txn_schema(txn));
		strata_txn_abort(txn);
	}
	strata_job_result res;
	for (int f = 0; f < files; f++) {
		for (size_t done = 0; done < per; done += txn_rows) {
			size_t n = per - done < txn_rows ? per - done : txn_rows;
			gen_row g;
			for (size_t i = 0; i < n; i++) {
				keys[i] = (int64_t)(done + i) * files + f;
				gen(&g, keys[i], (uint64_t)f + 1000, false);
				decoded += decoded_bytes(s, &g.row);
			}
			commit_keys(wh, "big", keys, n, (uint64_t)f + 1000, 0);
		}
		job_run(wh, "big", JOB_SORT, &res);
	}
	free(keys);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	char **paths;
	size_t nf = live_files(wh, "big", a, &fs, &paths, NULL);
	uint64_t in_bytes = 0;
	for (size_t i = 0; i < nf; i++)
		in_bytes += fs[i].bytes;
	paths_free(paths, nf);
	strata_arena_free(a);
	strata_wh_close(wh);
	printf("built in %.0f s: %zu level-1 files, %llu rows, %.1f MiB of Parquet, %.1f MiB "
	       "decoded (%.2f GiB)\n",
	       now_s() - tb, nf, (unsigned long long)total, (double)in_bytes / 1048576.0,
	       (double)decoded / 1048576.0, (double)decoded / 1073741824.0);

	if (is_keep) {
		char tmpl[PATH_MAX + 8];
		snprintf(tmpl, sizeof(tmpl), "%s-tmpl", wh_dir);
		tree_copy(wh_dir, tmpl);
	}
	if (do_rss) {
		char cmd[2 * PATH_MAX + 64];
		/* through /bin/sh, and not as its last command, so that the child
		 * is forked from a small shell: a process exec'd straight from
		 * this one would inherit its high-water mark in ru_maxrss */
		snprintf(cmd, sizeof(cmd), "'%s' --rss-child '%s'; exit $?", self_exe, wh_dir);
		FILE *p = popen(cmd, "r");
		char line[1024] = "";
		if (!p || !fgets(line, sizeof(line), p))
			die("merge child", NULL);
		if (pclose(p) != 0)
			die("merge child failed", NULL);
		double m0 = kv_num(line, "maxrss0"), m1 = kv_num(line, "maxrss1");
		double h1 = kv_num(line, "hwm1"), r0 = kv_num(line, "rss0");
		double w = kv_num(line, "wall"), c = kv_num(line, "cpu");
		double rin = kv_num(line, "rows_in");
		printf("merge job (level 1 -> 2, target %llu MiB per output): %.0f files in, %.0f out, "
		       "%.0f rows, %.1f MiB in, %.1f MiB out; %.1f s wall, %.1f s CPU (%.2f M rows/s "
		       "CPU)\n",
		       (unsigned long long)(merge_target(2) >> 20),
		       kv_num(line, "files_in"), kv_num(line, "files_out"), rin,
		       kv_num(line, "bytes_in") / 1048576.0, kv_num(line, "bytes_out") / 1048576.0, w,
		       c, rin / c / 1e6);
		printf("peak RSS of the merge: ru_maxrss %.1f MiB -> %.1f MiB = +%.1f MiB during the "
		       "job (goal <= 64 MiB); VmHWM %.1f MiB (RSS before the job %.1f MiB)\n",
		       m0 / 1024, m1 / 1024, (m1 - m0) / 1024, h1 / 1024, r0 / 1024);
	} else {
		wh = wh_open(wh_dir, false);
		job_run(wh, "big", JOB_MERGE, &res);
		strata_wh_close(wh);
	}
	if (!do_lookup) {
		if (!is_keep)
			rm_tree(wh_dir);
		strata_schema_free(s);
		return;
	}

	/* major compaction of the merged bucket */
	wh = wh_open(wh_dir, false);
	double t0 = now_s(), c0 = cpu_s();
	job_run(wh, "big", JOB_MAJOR, &res);
	double mw = now_s() - t0, mc = cpu_s() - c0;
	printf("major compaction: %zu files, %llu rows -> %zu file(s), %.1f MiB in %.1f s wall, "
	       "%.1f s CPU (%.2f M rows/s CPU)\n",
	       res.files_in, (unsigned long long)res.rows_in, res.files_out,
	       (double)res.bytes_out / 1048576.0, mw, mc, (double)res.rows_in / mc / 1e6);
	a = strata_arena_new();
	nf = live_files(wh, "big", a, &fs, &paths, NULL);

	int nl = getenv("STRATA_BENCH_LOOKUPS") ? atoi(getenv("STRATA_BENCH_LOOKUPS")) : 1000;
	int nd = getenv("STRATA_BENCH_DUCK_LOOKUPS") ? atoi(getenv("STRATA_BENCH_DUCK_LOOKUPS")) :
						       200;
	if (nl < 1)
		nl = 1;
	const int warm = 100;
	int64_t *lat = calloc((size_t)nl, sizeof(int64_t));
	uint64_t dec_sum = 0, dec_max = 0, found = 0;
	uint64_t st = 0x5eed;
	strata_arena *ra = strata_arena_new();
	for (int i = -warm; i < nl; i++) {
		int64_t k = (int64_t)(mix64(st++) % total);
		json_t *key = json_pack("{s:I}", "pk", (json_int_t)k);
		strata_row row;
		uint64_t dec = 0;
		strata_err err;
		int64_t l0 = strata_mono_us();
		int rc = strata_get_json(wh, "big", key, NULL, ra, &row, NULL, &dec, &err);
		int64_t l1 = strata_mono_us();
		json_decref(key);
		strata_arena_reset(ra);
		if (rc < 0)
			die("get", &err);
		if (i < 0)
			continue;
		lat[i] = l1 - l0;
		dec_sum += dec;
		dec_max = dec > dec_max ? dec : dec_max;
		found += rc == 1;
	}
	strata_arena_free(ra);
	strata_wh_close(wh);
	qsort(lat, (size_t)nl, sizeof(int64_t), lat_cmp_int);
	double mean = 0;
	for (int i = 0; i < nl; i++)
		mean += (double)lat[i];
	mean /= nl;
	printf("point lookups, strata_get_json, %d random keys after %d of warm-up (%llu found):\n",
	       nl, warm, (unsigned long long)found);
	printf("  latency p50 %.3f ms, p99 %.3f ms, mean %.3f ms, max %.3f ms\n",
	       (double)lat[nl / 2] / 1000, (double)lat[(nl * 99) / 100] / 1000, mean / 1000,
	       (double)lat[nl - 1] / 1000);
	printf("  rows decoded per lookup: mean %.1f, max %llu = 1/%.0f of the table (goal <= "
	       "1/10,000)\n",
	       (double)dec_sum / nl, (unsigned long long)dec_max,
	       dec_max ? (double)total / (double)dec_max : 0.0);
	duck d;
	if (duck_start(&d) && nd > 0) {
		strata_buf list = {0};
		sql_list(&list, paths, nf);
		double *dl = calloc((size_t)nd, sizeof(double));
		int ok = 0;
		char *sql = malloc(list.len + 128);
		for (int i = -10; i < nd; i++) {
			int64_t k = (int64_t)(mix64(st++) % total);
			sprintf(sql, "SELECT * FROM read_parquet(%s) WHERE pk = %lld",
				(const char *)list.data, (long long)k);
			double x = duck_time(&d, "lookup", sql, NULL);
			if (i >= 0 && x >= 0)
				dl[ok++] = x;
		}
		free(sql);
		duck_stop(&d);
		qsort(dl, (size_t)ok, sizeof(double), dbl_cmp);
		if (ok) {
			printf("DuckDB SELECT * FROM read_parquet(<the same %zu file(s)>) WHERE pk = x, %d "
			       "random keys after 10 of warm-up:\n",
			       nf, ok);
			printf("  latency p50 %.3f ms, p99 %.3f ms\n", dl[ok / 2] * 1000,
			       dl[(ok * 99) / 100] * 1000);
			printf(" ratio of p50 latencies, DuckDB / strata: %.1fx\n",
			       dl[ok / 2] * 1000 / ((double)lat[nl / 2] / 1000));
		}
		free(dl);
		strata_buf_free(&list);
	}
	free(lat);
	paths_free(paths, nf);
	strata_arena_free(a);
	strata_schema_free(s);
	if (!is_keep)
		rm_tree(wh_dir);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	strata_log_set_level(STRATA_LOG_WARN);
	if (argc == 3 && strcmp(argv[1], "--rss-child") == 0)
		return rss_child(argv[2]);
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		die("readlink /proc/self/exe", NULL);
	self_exe[n] = 0;
	if (getenv("BENCH_SCALE") && atof(getenv("BENCH_SCALE")) > 0)
		scale = atof(getenv("BENCH_SCALE"));
	if (getenv("STRATA_BENCH_REPEAT"))
		reps = atoi(getenv("STRATA_BENCH_REPEAT"));
	if (reps < 1)
		reps = 1;
	if (reps > MAXREPS)
		reps = MAXREPS;
	is_keep = getenv("STRATA_BENCH_KEEP") != NULL;
	const char *parts = getenv("STRATA_BENCH_PARTS") ? getenv("STRATA_BENCH_PARTS") : "1234";
	const char *base = getenv("STRATA_BENCH_DIR");
	if (!base)
		base = getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/strata-bench-jobs-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(scratch))
		die("mkdtemp", NULL);
	struct stat st;
	has_duck = !getenv("STRATA_BENCH_NODUCK") &&
		   stat("tests/.node/node_modules/@duckdb/node-api", &st) == 0;
	signal(SIGPIPE, SIG_IGN);
	printf("governance jobs benchmark: scale %.2f, best of %d, scratch %s%s\n", scale, reps,
	       scratch, has_duck ? "" : " (DuckDB not installed: make node-deps)");
	double t0 = now_s();
	if (strchr(parts, '1'))
		bench_sort();
	if (strchr(parts, '2'))
		bench_major();
	if (strchr(parts, '3') || strchr(parts, '4'))
		bench_big(strchr(parts, '4') != NULL, strchr(parts, '3') != NULL);
	printf("\ntotal %.0f s\n", now_s() - t0);
	cleanup();
	return 0;
}
