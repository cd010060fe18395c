/*
 * bench/bench_parquet.c — Parquet write and read throughput, side by side
 * with DuckDB (SET threads=1) and plain libzstd level 3 on the same data.
 *
 * The table (as in /work/shared/MEASURED.md): pk BIGINT (sorted, unique),
 * a BIGINT, b INT, c DOUBLE, d STRING ~10 B, e STRING 8 B, f BOOLEAN,
 * g DOUBLE, h STRING 32 B, plus _seq.  Rows are generated once into
 * columnar arrays (not timed); our writer is timed through the public
 * strata_fwriter API (key encoding, order checks and the sketch included),
 * our reader through strata_run_next over every column, checked against
 * the file's stats as a scan checks a manifest entry (content hash, rows,
 * key range; docs/FORMAT.md "Checksums").  DuckDB loads the
 * same rows from a CSV we write (not timed), then is timed on COPY ... TO
 * parquet (ZSTD) from its in-memory table, and on a scan aggregating every
 * column of its file and of ours.  "MB" is MiB of uncompressed column data
 * (the PLAIN encoding of the values, 4-byte length prefixes included).
 *
 * Environment:
 *   STRATA_BENCH_ROWS   row counts, space-separated (default "1000000 10000000")
 *   BENCH_SCALE         multiplies the row counts (default 1.0; 0.1 for a
 *                       quick run), as for the other benchmarks
 *   STRATA_BENCH_DIR    scratch directory (default $TMPDIR or /tmp)
 *   STRATA_BENCH_NODUCK set to skip DuckDB
 *   STRATA_BENCH_REPEAT runs per figure, the best is printed (default 3)
 *   STRATA_BENCH_CODEC  "none" to write uncompressed (default zstd)
 *   STRATA_BENCH_ZSTD_LEVEL  our writer's zstd level (default 3)
 *
 * Benchmarks print; they assert nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "format/format.h"

#define NCOLS 9

typedef struct table {
	uint64_t n;
	int64_t *pk, *a, *seq;
	int32_t *b;
	double *c, *g;
	uint8_t *f;
	char *d, *e, *h; /* fixed slots: d 12, e 8, h 32 */
	uint8_t *dlen;
	uint64_t raw_bytes;
} table;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: unlike wall time, not inflated when other
 * work shares the machine (the project machines are shared). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* splitmix64: deterministic, fast */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void table_gen(table *t, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->pk = malloc(n * 8);
	t->a = malloc(n * 8);
	t->seq = malloc(n * 8);
	t->b = malloc(n * 4);
	t->c = malloc(n * 8);
	t->g = malloc(n * 8);
	t->f = malloc(n);
	t->d = malloc(n * 12);
	t->dlen = malloc(n);
	t->e = malloc(n * 8);
	t->h = malloc(n * 32);
	rng_state = 0x9e3779b97f4a7c15ull;
	static const char hex[] = "0123456789abcdef";
	for (uint64_t i = 0; i < n; i++) {
		t->pk[i] = (int64_t)i;
		t->a[i] = (int64_t)(rng() % 1000000);
		t->b[i] = (int32_t)(rng() % 1000);
		t->c[i] = (double)(rng() >> 11) / 9007199254740992.0 * 1000.0;
		/* d: ~10 bytes, 50 000 distinct */
		int dl = snprintf(t->d + i * 12, 12, "cust%llu", (unsigned long long)(rng() % 50000));
		t->dlen[i] = (uint8_t)dl;
		/* e: 8 bytes, 200 categories */
		char tmp[16];
		snprintf(tmp, sizeof(tmp), "cat%05llu", (unsigned long long)(rng() % 200));
		memcpy(t->e + i * 8, tmp, 8);
		t->f[i] = (uint8_t)(rng() & 1);
		t->g[i] = (double)(rng() % 100000) / 100.0;
		uint64_t h1 = rng(), h2 = rng();
		for (int k = 0; k < 16; k++) {
			t->h[i * 32 + (size_t)k] = hex[(h1 >> (4 * k)) & 15];
			t->h[i * 32 + 16 + (size_t)k] = hex[(h2 >> (4 * k)) & 15];
		}
		t->seq[i] = 1 + (int64_t)(rng() % 1000);
		t->raw_bytes += 8 + 8 + 4 + 8 + (4 + (uint64_t)dl) + (4 + 8) + 1 + 8 + (4 + 32) + 8;
	}
}

static void table_free(table *t)
{
	free(t->pk);
	free(t->a);
	free(t->seq);
	free(t->b);
	free(t->c);
	free(t->g);
	free(t->f);
	free(t->d);
	free(t->dlen);
	free(t->e);
	free(t->h);
}

static strata_schema *bench_schema(void)
{
	static const struct {
		const char *name;
		strata_type t;
	} cols[NCOLS] = {
		{"pk", STRATA_T_LONG},   {"a", STRATA_T_LONG},   {"b", STRATA_T_INT},
		{"c", STRATA_T_DOUBLE},  {"d", STRATA_T_STRING}, {"e", STRATA_T_STRING},
		{"f", STRATA_T_BOOL},    {"g", STRATA_T_DOUBLE}, {"h", STRATA_T_STRING},
	};
	strata_schema *s = strata_schema_new(1);
	for (int i = 0; i < NCOLS; i++) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", cols[i].name);
		c.type = cols[i].t;
		c.id = (uint32_t)i + 1;
		c.key_pos = i == 0 ? 0 : -1;
		c.is_nullable = i != 0;
		strata_schema_add(s, &c, NULL);
	}
	return s;
}

static void row_of(const table *t, uint64_t i, strata_value *v, strata_row *r)
{
	memset(v, 0, sizeof(strata_value) * NCOLS);
	v[0].v.i64 = t->pk[i];
	v[1].v.i64 = t->a[i];
	v[2].v.i32 = t->b[i];
	v[3].v.f64 = t->c[i];
	v[4].v.s.ptr = (const uint8_t *)t->d + i * 12;
	v[4].v.s.len = t->dlen[i];
	v[5].v.s.ptr = (const uint8_t *)t->e + i * 8;
	v[5].v.s.len = 8;
	v[6].v.b = t->f[i];
	v[7].v.f64 = t->g[i];
	v[8].v.s.ptr = (const uint8_t *)t->h + i * 32;
	v[8].v.s.len = 32;
	r->ncols = NCOLS;
	r->vals = v;
	r->seq = t->seq[i];
	r->op = STRATA_OP_UPSERT;
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The same bytes as the raw column data, for libzstd level 3. */
static void bench_zstd(const table *t, double *c_mbs, double *d_mbs, double *ratio)
{
	size_t chunk = 1 << 20;
	uint8_t *raw = malloc(t->raw_bytes + 64);
	size_t o = 0;
#define PUT(p, n) (memcpy(raw + o, (p), (n)), o += (n))
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->pk[i], 8);
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->a[i], 8);
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->b[i], 4);
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->c[i], 8);
	for (uint64_t i = 0; i < t->n; i++) {
		uint32_t l = t->dlen[i];
		PUT(&l, 4);
		PUT(t->d + i * 12, l);
	}
	for (uint64_t i = 0; i < t->n; i++) {
		uint32_t l = 8;
		PUT(&l, 4);
		PUT(t->e + i * 8, 8);
	}
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->f[i], 1);
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->g[i], 8);
	for (uint64_t i = 0; i < t->n; i++) {
		uint32_t l = 32;
		PUT(&l, 4);
		PUT(t->h + i * 32, 32);
	}
	for (uint64_t i = 0; i < t->n; i++) PUT(&t->seq[i], 8);
#undef PUT
	size_t bound = ZSTD_compressBound(chunk);
	uint8_t *dst = malloc(bound * (o / chunk + 1));
	size_t *clen = malloc(sizeof(size_t) * (o / chunk + 1));
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	double t0 = cpu_s();
	size_t total = 0, nch = 0;
	for (size_t p = 0; p < o; p += chunk, nch++) {
		size_t n = o - p < chunk ? o - p : chunk;
		clen[nch] = ZSTD_compressCCtx(cc, dst + nch * bound, bound, raw + p, n, 3);
		total += clen[nch];
	}
	double t1 = cpu_s();
	uint8_t *back = malloc(chunk);
	for (size_t k = 0; k < nch; k++)
		ZSTD_decompressDCtx(dc, back, chunk, dst + k * bound, clen[k]);
	double t2 = cpu_s();
	*c_mbs = (double)o / (1 << 20) / (t1 - t0);
	*d_mbs = (double)o / (1 << 20) / (t2 - t1);
	*ratio = (double)o / (double)total;
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
	free(back);
	free(clen);
	free(dst);
	free(raw);
}

static int write_csv(const table *t, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	fprintf(f, "pk,a,b,c,d,e,f,g,h,_seq\n");
	for (uint64_t i = 0; i < t->n; i++)
		fprintf(f, "%lld,%lld,%d,%.17g,%.*s,%.8s,%s,%.17g,%.32s,%lld\n", (long long)t->pk[i],
			(long long)t->a[i], t->b[i], t->c[i], t->dlen[i], t->d + i * 12, t->e + i * 8,
			t->f[i] ? "true" : "false", t->g[i], t->h + i * 32, (long long)t->seq[i]);
	return fclose(f);
}

/* Pull "name":{..."field":X out of the helper's JSON output. */
static double json_num(const char *out, const char *name, const char *field)
{
	char key[128];
	snprintf(key, sizeof(key), "\"%s\":{", name);
	const char *p = strstr(out, key);
	if (!p)
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", field);
	p = strstr(p, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = 0;
	if (pclose(p) != 0) {
		fprintf(stderr, "%s\n", buf);
		free(buf);
		return NULL;
	}
	return buf;
}

static void bench_rows(uint64_t n, const char *dir, bool has_duck, int reps)
{
	printf("\n--- %llu rows ---\n", (unsigned long long)n);
	table t;
	table_gen(&t, n);
	double raw_mb = (double)t.raw_bytes / (1 << 20);
	printf("uncompressed column data: %.1f MiB (%.1f B/row)\n", raw_mb,
	       (double)t.raw_bytes / (double)n);
	strata_schema *s = bench_schema();
	char ours[PATH_MAX], duck[PATH_MAX], csv[PATH_MAX], spec[PATH_MAX];
	snprintf(ours, sizeof(ours), "%s/ours-%llu.parquet", dir, (unsigned long long)n);
	snprintf(duck, sizeof(duck), "%s/duck-%llu.parquet", dir, (unsigned long long)n);
	snprintf(csv, sizeof(csv), "%s/rows-%llu.csv", dir, (unsigned long long)n);
	snprintf(spec, sizeof(spec), "%s/spec-%llu.json", dir, (unsigned long long)n);
	unlink(ours);

	/* our writer, best of `reps` (the machines are shared: the best run is
	 * the one least disturbed) */
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	if (getenv("STRATA_BENCH_CODEC") && strcmp(getenv("STRATA_BENCH_CODEC"), "none") == 0)
		o.codec = STRATA_CODEC_NONE;
	if (getenv("STRATA_BENCH_ZSTD_LEVEL"))
		o.zstd_level = atoi(getenv("STRATA_BENCH_ZSTD_LEVEL"));
	strata_err e;
	double w_s = 1e30, r_s = 1e30, w_c = 1e30, r_c = 1e30;
	strata_file_stats written;
	strata_file_stats_init(&written);
	strata_value v[NCOLS];
	strata_row r;
	for (int rep = 0; rep < reps; rep++) {
		unlink(ours);
		strata_fwriter *w;
		double t0 = now_s(), c0 = cpu_s();
		if (strata_fwriter_open(ours, s, &o, &w, &e) != 0) {
			fprintf(stderr, "%s\n", e.msg);
			exit(1);
		}
		for (uint64_t i = 0; i < n; i++) {
			row_of(&t, i, v, &r);
			if (strata_fwriter_add(w, &r, &e) != 0) {
				fprintf(stderr, "%s\n", e.msg);
				exit(1);
			}
		}
		strata_file_stats st;
		if (strata_fwriter_finish(w, &st, &e) != 0) {
			fprintf(stderr, "%s\n", e.msg);
			exit(1);
		}
		w_s = STRATA_MIN(w_s, now_s() - t0);
		w_c = STRATA_MIN(w_c, cpu_s() - c0);
		strata_file_stats_free(&written);
		written = st;
	}
	uint64_t ours_bytes = file_size(ours);

	/* our reader: every column, checked against the file's entry as a scan
	 * does (content hash, rows, key range), best of reps */
	strata_run_expect ex = {.rows = written.rows, .has_keys = true,
				.key_min = written.key_min.data, .key_min_len = written.key_min.len,
				.key_max = written.key_max.data, .key_max_len = written.key_max.len,
				.has_hash = written.has_content_hash, .hash = written.content_hash,
				.is_verify_hash = true};
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.expect = &ex;
	strata_run *run;
	const strata_row *row;
	uint64_t sum = 0;
	for (int rep = 0; rep < reps; rep++) {
		double t0 = now_s(), c0 = cpu_s();
		if (strata_run_open(ours, &ro, &run, &e) != 0) {
			fprintf(stderr, "%s\n", e.msg);
			exit(1);
		}
		uint64_t got = 0;
		int rc;
		while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
			sum += (uint64_t)row->vals[1].v.i64 + row->vals[8].v.s.len;
			got++;
		}
		r_s = STRATA_MIN(r_s, now_s() - t0);
		r_c = STRATA_MIN(r_c, cpu_s() - c0);
		bool is_verified = strata_run_is_verified(run);
		strata_run_close(run);
		if (rc != 0 || got != n || !is_verified) {
			fprintf(stderr, "read failed: %s\n", e.msg);
			exit(1);
		}
	}

	strata_file_stats_free(&written);
	ro.expect = NULL;

	/* point lookups: open, seek, next */
	int lookups = 200;
	double t0 = now_s();
	uint64_t decoded = 0;
	(void)sum;
	for (int k = 0; k < lookups; k++) {
		int64_t key = (int64_t)(rng() % n);
		strata_value kv[NCOLS];
		memset(kv, 0, sizeof(kv));
		kv[0].v.i64 = key;
		strata_row kr = {.ncols = NCOLS, .vals = kv};
		strata_buf kb = {0};
		strata_key_encode(s, &kr, &kb, NULL);
		strata_run_open(ours, &ro, &run, &e);
		strata_run_seek(run, kb.data, kb.len, &e);
		if (strata_run_next(run, &row, NULL, NULL, &e) != 1 || row->vals[0].v.i64 != key)
			fprintf(stderr, "lookup of %lld failed\n", (long long)key);
		decoded += strata_run_rows_decoded(run);
		strata_run_close(run);
		strata_buf_free(&kb);
	}
	double lk_ms = (now_s() - t0) * 1000 / lookups;

	double zc, zd, zr;
	bench_zstd(&t, &zc, &zd, &zr);

	printf("%-32s %9s %7s %9s %8s %8s %11s\n", "", "rows/s", "MB/s", "rows/s", "wall s",
	       "cpu s", "file bytes");
	printf("%-32s %9s %7s %9s\n", "", "(wall)", "(wall)", "(cpu)");
	char wlabel[64];
	if (o.codec == STRATA_CODEC_NONE)
		snprintf(wlabel, sizeof(wlabel), "strata write (uncompressed)");
	else
		snprintf(wlabel, sizeof(wlabel), "strata write (zstd %d)", o.zstd_level);
	printf("%-32s %8.2fM %7.0f %8.2fM %8.3f %8.3f %11llu\n", wlabel,
	       n / w_s / 1e6, raw_mb / w_s, n / w_c / 1e6, w_s, w_c, (unsigned long long)ours_bytes);
	printf("%-32s %8.2fM %7.0f %8.2fM %8.3f %8.3f\n", "strata read (all columns)",
	       n / r_s / 1e6, raw_mb / r_s, n / r_c / 1e6, r_s, r_c);
	printf("%-32s %.3f ms per lookup (open, seek, next), %.0f rows decoded on average\n",
	       "strata point lookup", lk_ms, (double)decoded / lookups);
	printf("%-32s %.0f MB/s compress, %.0f MB/s decompress (cpu), ratio %.2f\n",
	       "libzstd -3, same bytes, 1 MiB", zc, zd, zr);

	if (has_duck) {
		if (write_csv(&t, csv) != 0) {
			fprintf(stderr, "cannot write %s\n", csv);
			exit(1);
		}
		FILE *f = fopen(spec, "w");
		fprintf(f,
			"[{\"name\":\"load\",\"sql\":\"CREATE TABLE t AS SELECT * FROM read_csv('%s', "
			"header=true, columns={'pk':'BIGINT','a':'BIGINT','b':'INTEGER','c':'DOUBLE',"
			"'d':'VARCHAR','e':'VARCHAR','f':'BOOLEAN','g':'DOUBLE','h':'VARCHAR','_seq':'BIGINT'})\"}",
			csv);
		const char *agg = "SELECT sum(pk), sum(a), sum(b), sum(c), sum(length(d)), sum(length(e)), "
				  "count(*) FILTER (WHERE f), sum(g), sum(length(h)), sum(_seq) FROM ";
		for (int rep = 0; rep < reps; rep++) {
			fprintf(f, ",{\"name\":\"write%d\",\"sql\":\"COPY t TO '%s' (FORMAT parquet, "
				   "COMPRESSION zstd)\"}",
				rep, duck);
			fprintf(f, ",{\"name\":\"read_duck%d\",\"sql\":\"%sread_parquet('%s')\"}", rep,
				agg, duck);
			fprintf(f, ",{\"name\":\"read_ours%d\",\"sql\":\"%sread_parquet('%s')\"}", rep,
				agg, ours);
			fprintf(f, ",{\"name\":\"lookup_duck%d\",\"sql\":\"SELECT * FROM read_parquet('%s') "
				   "WHERE pk = %llu\"}",
				rep, duck, (unsigned long long)(n * 2 / 3 + (uint64_t)rep));
			fprintf(f, ",{\"name\":\"lookup_ours%d\",\"sql\":\"SELECT * FROM read_parquet('%s') "
				   "WHERE pk = %llu\"}",
				rep, ours, (unsigned long long)(n * 2 / 3 + (uint64_t)rep));
		}
		fprintf(f, "]\n");
		fclose(f);
		char cmd[PATH_MAX * 2];
		snprintf(cmd, sizeof(cmd),
			 "NODE_PATH=tests/.node/node_modules node bench/duckdb_bench.cjs '%s'", spec);
		char *out = run_capture(cmd);
		if (!out) {
			printf("DuckDB run failed\n");
		} else {
			double dw = 1e30, drd = 1e30, dro = 1e30, dld = 1e30, dlo = 1e30;
			double dwc = 1e30, drdc = 1e30, droc = 1e30;
			for (int rep = 0; rep < reps; rep++) {
				char k[32];
				snprintf(k, sizeof(k), "write%d", rep);
				dw = STRATA_MIN(dw, json_num(out, k, "s"));
				dwc = STRATA_MIN(dwc, json_num(out, k, "cpu"));
				snprintf(k, sizeof(k), "read_duck%d", rep);
				drd = STRATA_MIN(drd, json_num(out, k, "s"));
				drdc = STRATA_MIN(drdc, json_num(out, k, "cpu"));
				snprintf(k, sizeof(k), "read_ours%d", rep);
				dro = STRATA_MIN(dro, json_num(out, k, "s"));
				droc = STRATA_MIN(droc, json_num(out, k, "cpu"));
				snprintf(k, sizeof(k), "lookup_duck%d", rep);
				dld = STRATA_MIN(dld, json_num(out, k, "s"));
				snprintf(k, sizeof(k), "lookup_ours%d", rep);
				dlo = STRATA_MIN(dlo, json_num(out, k, "s"));
			}
			uint64_t duck_bytes = file_size(duck);
			printf("%-32s %8.2fM %7.0f %8.2fM %8.3f %8.3f %11llu\n",
			       "DuckDB write (threads=1, zstd)", n / dw / 1e6, raw_mb / dw, n / dwc / 1e6, dw,
			       dwc, (unsigned long long)duck_bytes);
			printf("%-32s %8.2fM %7.0f %8.2fM %8.3f %8.3f\n", "DuckDB scan of its file",
			       n / drd / 1e6, raw_mb / drd, n / drdc / 1e6, drd, drdc);
			printf("%-32s %8.2fM %7.0f %8.2fM %8.3f %8.3f\n", "DuckDB scan of our file",
			       n / dro / 1e6, raw_mb / dro, n / droc / 1e6, dro, droc);
			printf("%-32s %.1f ms (its file), %.1f ms (our file)\n", "DuckDB lookup pk = x",
			       dld * 1000, dlo * 1000);
			printf("ours/DuckDB: write speed %.2fx wall, %.2fx cpu; read speed %.2fx wall, "
			       "%.2fx cpu (vs its scan of its file); file size %.3f\n",
			       dw / w_s, dwc / w_c, drd / r_s, drdc / r_c,
			       (double)ours_bytes / (double)duck_bytes);
			free(out);
		}
		unlink(csv);
		unlink(spec);
		unlink(duck);
	}
	unlink(ours);
	strata_schema_free(s);
	table_free(&t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *rows = getenv("STRATA_BENCH_ROWS");
	if (!rows)
		rows = "1000000 10000000";
	const char *base = getenv("STRATA_BENCH_DIR");
	if (!base)
		base = getenv("TMPDIR");
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/strata-bench-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	struct stat st;
	bool has_duck = !getenv("STRATA_BENCH_NODUCK") &&
			stat("tests/.node/node_modules/@duckdb/node-api", &st) == 0;
	if (!has_duck)
		printf("DuckDB not installed (make node-deps): strata and libzstd figures only\n");
	printf("Parquet benchmark: 10-column table, one thread, ZSTD level 3\n");
	int reps = getenv("STRATA_BENCH_REPEAT") ? atoi(getenv("STRATA_BENCH_REPEAT")) : 3;
	if (reps < 1)
		reps = 1;
	printf("each figure is the best of %d runs (STRATA_BENCH_REPEAT)\n", reps);
	double scale = getenv("BENCH_SCALE") ? atof(getenv("BENCH_SCALE")) : 1.0;
	if (scale <= 0)
		scale = 1.0;
	char *copy = strdup(rows);
	for (char *tok = strtok(copy, " ,"); tok; tok = strtok(NULL, " ,")) {
		uint64_t n = (uint64_t)((double)strtoull(tok, NULL, 10) * scale);
		bench_rows(n < 1000 ? 1000 : n, dir, has_duck, reps);
	}
	free(copy);
	rmdir(dir);
	return 0;
}
