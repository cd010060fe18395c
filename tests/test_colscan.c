/*
 * tests/test_colscan.c — the columnar read API (table/colscan.c).
 *
 * The model-based check: the oracle writes random transactions (with DDL)
 * and runs governance (sort, merge, partial and major compaction, clean)
 * between them; at every retained version the oracle checks strata_scan
 * against its model, and this suite checks that the columnar scan returns
 * exactly the same rows — with all columns and with random projections,
 * from one cursor and from three cursors on three threads — so the columnar
 * rows equal the model.  Point keys are checked against strata_get_json and
 * incremental reads against strata_changes_open.  A lease test shows a
 * columnar scan keeps its files alive through a history-dropping compaction
 * and clean, and that clean deletes them once the scan is closed.
 *
 * Both read paths are checked: a bucket whose answer needs no merge is read
 * by the fast path (Parquet pages decoded straight into the vectors), every
 * other by the merge; each comparison also checks that exactly the buckets
 * the fast path's rule admits (worked out here from the plan's entries)
 * took it, and the suite that both paths were taken.
 *
 * ORACLE_SEED replays a run.
 */
#include "table/table_int.h" /* white box: the plan's file entries */
#include "tests/util/jobfix.h"
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

/* ---- both sides as "col=json|col=json..." lines ------------------------------------ */

/* The row API: the columns named in names (NULL-terminated), partition
 * columns by name too, _seq/_op for changes. */
static int row_lines(strata_scan *s, const char *const *names, tu_lines *out, strata_err *err)
{
	const strata_schema *sc = strata_scan_schema(s);
	const strata_table_def *t = strata_scan_table(s);
	strata_buf b = {0};
	const strata_row *row;
	const char *const *pv;
	int rc;
	while ((rc = strata_scan_next(s, &row, &pv, err)) == 1) {
		strata_buf_reset(&b);
		for (size_t j = 0; names[j]; j++) {
			strata_buf_printf(&b, "|%s=", names[j]);
			int idx = strata_schema_find(sc, names[j]);
			if (idx >= 0) {
				strata_value_to_json(sc->cols[idx].type, &row->vals[idx], &b);
			} else if (strcmp(names[j], "_seq") == 0) {
				strata_buf_printf(&b, "%lld", (long long)row->seq);
			} else if (strcmp(names[j], "_op") == 0) {
				strata_buf_printf(&b, "\"%s\"", row->op ? "delete" : "upsert");
			} else {
				for (uint32_t p = 0; p < t->nparts; p++)
					if (strcmp(t->part_cols[p], names[j]) == 0)
						strata_buf_printf(&b, "\"%s\"", pv[p]);
			}
		}
		strata_buf_putc(&b, 0);
		tu_lines_push(out, (const char *)b.data);
	}
	strata_buf_free(&b);
	return rc;
}

static void colvec_json(const strata_colvec *v, size_t r, strata_buf *b)
{
	strata_value val;
	memset(&val, 0, sizeof(val));
	val.is_null = v->nulls[r];
	switch (v->type) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		val.v.i64 = ((const int64_t *)v->data)[r];
		break;
	case STRATA_T_INT:
		val.v.i32 = ((const int32_t *)v->data)[r];
		break;
	case STRATA_T_DOUBLE:
		val.v.f64 = ((const double *)v->data)[r];
		break;
	case STRATA_T_FLOAT:
		val.v.f32 = ((const float *)v->data)[r];
		break;
	case STRATA_T_BOOL:
		val.v.b = ((const uint8_t *)v->data)[r];
		break;
	default:
		val.v.s.ptr = ((const strata_colstr *)v->data)[r].ptr;
		val.v.s.len = ((const strata_colstr *)v->data)[r].len;
		break;
	}
	strata_value_to_json(v->type, &val, b);
}

typedef struct pull_arg {
	strata_colscan *cs;
	const uint32_t *cols;
	size_t ncols;
	const char *const *names;
	tu_lines out;
	int rc;
	strata_err err;
	size_t batches;
} pull_arg;

static void *pull(void *p)
{
	pull_arg *a = p;
	strata_colcursor *c;
	a->rc = strata_colcursor_open(a->cs, a->cols, a->ncols, 7, &c, &a->err);
	if (a->rc)
		return NULL;
	strata_buf b = {0};
	const strata_colbatch *batch;
	/* every other cursor has its fixed-width values written into arrays of
	 * its own (strata_colcursor_next_into), as an engine's vectors */
	void *into[64] = {0};
	bool is_into = a->ncols > 0 && a->cols[0] % 2 == 0, is_misplaced = false;
	for (size_t j = 0; is_into && j < a->ncols && j < 64; j++)
		into[j] = strata_calloc(7, 8);
	while ((a->rc = strata_colcursor_next_into(c, is_into ? into : NULL, &batch, &a->err)) == 1) {
		a->batches++;
		for (size_t j = 0; is_into && j < a->ncols; j++) {
			strata_type t = batch->cols[j].type;
			bool is_fixed = t != STRATA_T_STRING && t != STRATA_T_BYTES;
			is_misplaced |= (batch->cols[j].data == into[j]) != is_fixed;
		}
		for (size_t r = 0; r < batch->nrows; r++) {
			strata_buf_reset(&b);
			for (size_t j = 0; j < a->ncols; j++) {
				strata_buf_printf(&b, "|%s=", a->names[j]);
				colvec_json(&batch->cols[j], r, &b);
			}
			strata_buf_putc(&b, 0);
			tu_lines_push(&a->out, (const char *)b.data);
		}
	}
	if (is_misplaced && a->rc == 0)
		a->rc = strata_err_set(&a->err, STRATA_EINVAL,
				       "next_into: a fixed-width column not in its given array");
	strata_buf_free(&b);
	strata_colcursor_close(c);
	for (size_t j = 0; j < 64; j++)
		free(into[j]);
	return NULL;
}

/* Read cs with nthreads cursors into out (names[] filled from cols). */
static int col_lines(strata_colscan *cs, const uint32_t *cols, size_t ncols, int nthreads,
		     tu_lines *out, strata_err *err)
{
	const char *names[64];
	for (size_t j = 0; j < ncols; j++)
		names[j] = strata_colscan_col(cs, cols[j])->name;
	names[ncols] = NULL;
	pull_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < nthreads; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i] = (pull_arg){.cs = cs, .cols = cols, .ncols = ncols, .names = names};
		if (nthreads == 1)
			pull(&args[i]);
		else
			CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, pull, &args[i]), 0);
	}
	int rc = 0;
	for (int i = 0; i < nthreads; i++) {
		if (nthreads > 1)
			pthread_join(th[i], NULL);
		if (args[i].rc < 0 && rc == 0) {
			rc = args[i].rc;
			*err = args[i].err;
		}
		for (size_t k = 0; k < args[i].out.n; k++) {
			strata_buf b = {0};
			strata_buf_append(&b, args[i].out.v[k], strlen(args[i].out.v[k]) + 1);
			tu_lines_push(out, (const char *)b.data);
			strata_buf_free(&b);
		}
		tu_lines_free(&args[i].out);
	}
	return rc;
}

/* Buckets each path read, over the whole suite. */
static uint64_t g_fast, g_merged;

/* The buckets of a plan whose answer needs no merge: a snapshot read with
 * no key, every file columnar, is_compact, nothing newer than the version,
 * key ranges pairwise disjoint (written here independently of colscan.c). */
static uint64_t fast_expected(const strata_scan *s, const strata_colscan_opts *opts)
{
	if (opts->is_changes || opts->key_json || opts->key_lo_json || opts->key_hi_json)
		return 0;
	uint64_t n = 0;
	int64_t v = (int64_t)strata_scan_version(s);
	for (size_t i = 0; i < strata_scan_nbuckets(s); i++) {
		const strata_file_entry *f;
		size_t nf;
		strata_scan_bucket_files(s, i, &f, &nf);
		bool ok = nf > 0;
		for (size_t a = 0; a < nf && ok; a++) {
			ok = f[a].format == STRATA_FMT_PARQUET && f[a].is_compact &&
			     f[a].tombstones == 0 && f[a].seq_max <= v;
			for (size_t b = 0; b < nf && ok; b++)
				ok = a == b ||
				     strata_key_cmp(f[a].key_max, f[a].key_max_len, f[b].key_min,
						    f[b].key_min_len) < 0 ||
				     strata_key_cmp(f[b].key_max, f[b].key_max_len, f[a].key_min,
						    f[a].key_min_len) < 0;
		}
		n += ok;
	}
	return n;
}

/* Compare the columnar scan of opts (columns cols, nthreads cursors) with the
 * row scan of the same options.  0 equal; -1 differ or failed; 1 both refused
 * with the same code (e.g. outside retention). */
static int compare_scan(strata_wh *wh, const char *table, const strata_colscan_opts *opts,
			const uint32_t *cols, size_t ncols, int nthreads, const char *what)
{
	strata_err err, err2;
	strata_err_clear(&err);
	strata_err_clear(&err2);
	strata_colscan *cs = NULL;
	strata_scan *s = NULL;
	int rc1 = strata_colscan_open(wh, table, opts, &cs, &err);
	int rc2 = opts->is_changes ?
			  strata_changes_open(wh, table, opts->v1, opts->v2, opts->read.partition, &s,
					      &err2) :
			  strata_scan_open(wh, table, &opts->read, &s, &err2);
	if (rc1 || rc2) {
		strata_colscan_close(cs);
		strata_scan_close(s);
		if (rc1 == rc2)
			return 1;
		fprintf(stderr, "\n%s: columnar open %d (%s), row open %d (%s)\n", what, rc1,
			rc1 ? err.msg : "", rc2, rc2 ? err2.msg : "");
		return -1;
	}
	tu_lines exp = {0}, act = {0};
	const char *names[64];
	for (size_t j = 0; j < ncols; j++)
		names[j] = strata_colscan_col(cs, cols[j])->name;
	names[ncols] = NULL;
	int rc = row_lines(s, names, &exp, &err2);
	if (rc < 0)
		fprintf(stderr, "\n%s: row scan failed: %s\n", what, err2.msg);
	if (rc == 0) {
		rc = col_lines(cs, cols, ncols, nthreads, &act, &err);
		if (rc < 0)
			fprintf(stderr, "\n%s: columnar scan failed: %s\n", what, err.msg);
	}
	if (rc == 0)
		rc = tu_lines_diff(what, &exp, &act);
	if (rc == 0) {
		uint64_t fast, merged, want = fast_expected(s, opts);
		strata_colscan_paths(cs, &fast, &merged);
		if (fast != want || fast + merged != strata_colscan_nbuckets(cs)) {
			fprintf(stderr, "\n%s: %" PRIu64 " buckets read by the fast path and %" PRIu64
				" merged; expected %" PRIu64 " of %zu fast\n",
				what, fast, merged, want, strata_colscan_nbuckets(cs));
			rc = -1;
		}
		g_fast += fast;
		g_merged += merged;
	}
	tu_lines_free(&exp);
	tu_lines_free(&act);
	strata_colscan_close(cs);
	strata_scan_close(s);
	return rc;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

/* All columns, or a random subset in random order (at least one). */
static size_t pick_cols(oracle *o, strata_wh *wh, const char *table, uint64_t v, bool is_all,
			uint32_t *cols)
{
	strata_colscan_opts co = {.read.as_of_version = v};
	strata_colscan *cs;
	strata_err err;
	if (strata_colscan_open(wh, table, &co, &cs, &err))
		return 0;
	size_t n = strata_colscan_ncols(cs), k = 0;
	strata_colscan_close(cs);
	for (size_t i = 0; i < n && k < 60; i++)
		if (is_all || oracle_rand(o) % 2)
			cols[k++] = (uint32_t)i;
	if (k == 0)
		cols[k++] = (uint32_t)(oracle_rand(o) % n);
	for (size_t i = k; i > 1 && !is_all; i--) {
		size_t j = oracle_rand(o) % i;
		uint32_t t = cols[i - 1];
		cols[i - 1] = cols[j];
		cols[j] = t;
	}
	return k;
}

/* Columnar reads of every version from the earliest readable one. */
static int check_versions(oracle *o, strata_wh *wh)
{
	const char *table = oracle_table(o);
	uint64_t latest = oracle_version(o), readable = 1, inc = 0;
	strata_err err;
	if (strata_table_earliest(wh, table, &readable, &inc, &err))
		return -1;
	for (uint64_t v = readable; v <= latest; v++) {
		if (oracle_check_scan(o, v, NULL)) /* the row scan equals the model */
			return -1;
		uint32_t cols[64];
		size_t n = pick_cols(o, wh, table, v, v % 2 == 0, cols);
		if (n == 0)
			continue;
		strata_colscan_opts co = {.read.as_of_version = v};
		char what[128];
		for (int threads = 1; threads <= 3; threads += 2) {
			snprintf(what, sizeof(what), "%s at version %" PRIu64 ", %d cursor(s), seed %" PRIu64,
				 table, v, threads, oracle_seed(o));
			if (compare_scan(wh, table, &co, cols, n, threads, what) < 0)
				return -1;
		}
		/* incremental (v-1, v] with _seq and _op */
		if (v > 1 && v - 1 >= inc) {
			strata_colscan_opts cc = {.is_changes = true, .v1 = v - 1, .v2 = v};
			strata_colscan *cs;
			if (strata_colscan_open(wh, table, &cc, &cs, &err) == 0) {
				uint32_t all[64];
				size_t na = strata_colscan_ncols(cs);
				for (size_t i = 0; i < na && i < 64; i++)
					all[i] = (uint32_t)i;
				strata_colscan_close(cs);
				snprintf(what, sizeof(what), "%s changes (%" PRIu64 ", %" PRIu64 "]", table,
					 v - 1, v);
				if (compare_scan(wh, table, &cc, all, na, 1, what) < 0)
					return -1;
			}
		}
	}
	return 0;
}

/* Point keys: the columnar scan with key_json against strata_get_json. */
static int check_keys(oracle *o, strata_wh *wh, int nparts)
{
	const char *table = oracle_table(o);
	for (int i = 0; i < 20; i++) {
		long long pk = (long long)(oracle_rand(o) % 40);
		char key[160];
		/* the oracle's keys: pk and kk = "k<pk % 3>" */
		if (nparts)
			snprintf(key, sizeof(key), "{\"pk\":%lld,\"kk\":\"k%lld\",\"pt\":\"p%d\"}", pk,
				 pk % 3, (int)(oracle_rand(o) % (uint64_t)nparts));
		else
			snprintf(key, sizeof(key), "{\"pk\":%lld,\"kk\":\"k%lld\"}", pk, pk % 3);
		json_t *jk = json_loads(key, 0, NULL);
		strata_arena *a = strata_arena_new();
		strata_row row;
		strata_schema *sc = NULL;
		strata_err err;
		int found = strata_get_json(wh, table, jk, NULL, a, &row, &sc, NULL, &err);
		json_decref(jk);
		strata_colscan_opts co = {.key_json = key};
		strata_colscan *cs;
		int rc = strata_colscan_open(wh, table, &co, &cs, &err);
		if (rc || found < 0) {
			fprintf(stderr, "\nkey %s: open %d, get %d: %s\n", key, rc, found, err.msg);
			strata_schema_free(sc);
			strata_arena_free(a);
			return -1;
		}
		uint32_t cols[64];
		size_t n = strata_colscan_ncols(cs);
		for (size_t j = 0; j < n; j++)
			cols[j] = (uint32_t)j;
		tu_lines act = {0};
		rc = col_lines(cs, cols, n, 1, &act, &err);
		int bad = rc != 0 || act.n != (size_t)found;
		if (!bad && found) {
			/* the same values as the get, column by column */
			strata_buf b = {0};
			for (uint32_t j = 0; j < sc->ncols; j++) {
				strata_buf_printf(&b, "|%s=", sc->cols[j].name);
				strata_value_to_json(sc->cols[j].type, &row.vals[j], &b);
			}
			strata_buf_putc(&b, 0);
			bad = strncmp(act.v[0], (char *)b.data, b.len - 1) != 0;
			if (bad)
				fprintf(stderr, "\nkey %s: get %s, columnar %s\n", key, (char *)b.data,
					act.v[0]);
			strata_buf_free(&b);
		} else if (bad) {
			fprintf(stderr, "\nkey %s: get found %d, columnar read %zu rows (rc %d)\n", key,
				found, act.n, rc);
		}
		tu_lines_free(&act);
		strata_colscan_close(cs);
		strata_schema_free(sc);
		strata_arena_free(a);
		if (bad)
			return -1;
	}
	return 0;
}

static void test_colscan_oracle(void)
{
	uint64_t seed = env_u64("ORACLE_SEED", (uint64_t)time(NULL));
	fprintf(stderr, "\ncolscan oracle: seed %" PRIu64 " (replay with ORACLE_SEED=%" PRIu64 ")\n",
		seed, seed);
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	for (int table = 0; table < 3; table++) {
		oracle_cfg cfg;
		oracle_cfg_default(&cfg);
		cfg.seed = seed + (uint64_t)table;
		cfg.nparts = table == 1 ? 2 : 0;
		cfg.nkeys = 40;
		cfg.buckets = 1 + 2 * table;
		cfg.is_quiet = true;
		char name[32];
		snprintf(name, sizeof(name), "cs_%d", table);
		oracle *o = oracle_new(wh, name, &cfg);
		int failed = 0;
		for (int step = 0; step < 60 && !failed; step++) {
			failed = oracle_step(o) != 0;
			if (!failed && step % 4 == 3)
				failed = oracle_gov_step(o) != 0;
			if (!failed && step % 15 == 14)
				failed = check_versions(o, wh) != 0 || check_keys(o, wh, cfg.nparts) != 0;
		}
		CU_ASSERT_EQUAL(failed, 0);
		oracle_free(o);
		if (failed)
			break;
	}
	strata_wh_close(wh);
	tu_clock_real();
	/* both read paths were compared with the model */
	fprintf(stderr, "colscan oracle: %" PRIu64 " buckets read by the fast path, %" PRIu64
		" merged\n", g_fast, g_merged);
	CU_ASSERT(g_fast > 0);
	CU_ASSERT(g_merged > 0);
}

/* The fast path on its own: a bucket major-compacted into several Parquet
 * files with disjoint key ranges (small target size, small pages, so
 * batches span pages, files and buckets), every type with NULLs, long and
 * short strings, projections without the key, a column asked twice,
 * columns added after the files were written, a partition column; then a
 * version older than the files' newest record and a row file on top, both
 * merged. */
static void test_colscan_fast_path(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	const char *props[] = {"write.parquet.page.bytes=4096"};
	jf_open_props(&f,
		      "pk BIGINT NOT NULL PRIMARY KEY, i INT, d DOUBLE, fl FLOAT, b BOOLEAN, "
		      "s STRING, bin BINARY, ts TIMESTAMP, cat STRING, late INT",
		      2, 24, props, 1);
	strata_buf rows = {0};
	for (int i = 0; i < 6000; i++) {
		if (i % 7 == 3)
			strata_buf_printf(&rows, "{\"pk\":%d}\n", i * 3 - 9000);
		else
			strata_buf_printf(&rows,
					  "{\"pk\":%d,\"i\":%d,\"d\":%d.25,\"fl\":%d.5,\"b\":%s,"
					  "\"s\":\"%s%d\",\"bin\":\"AAE=\",\"ts\":%d,\"cat\":\"c%d\"%s}\n",
					  i * 3 - 9000, -i, i, i % 100, i % 3 ? "true" : "false",
					  i % 5 ? "a string longer than twelve bytes " : "", i,
					  i * 1000, i % 13, i >= 4000 ? ",\"late\":7" : "");
	}
	strata_buf_putc(&rows, 0);
	uint64_t v1 = jf_put(&f, (char *)rows.data);
	strata_buf_free(&rows);
	jf_put(&f, "{\"pk\":3,\"s\":\"updated\"}\n{\"pk\":6,\"_op\":\"delete\"}");
	strata_err err;
	strata_job_result res;
	jf_job_opts jo = {.merge_level = -1, .target_bytes = 24 << 10};
	for (uint32_t b = 0; b < 2; b++)
		CU_ASSERT_EQUAL_FATAL(jf_job(&f, b, JF_MAJOR, &jo, NULL, &res, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	CU_ASSERT(jf_live(&f, 0, a, &live) >= 2); /* several files in the bucket */
	strata_arena_free(a);
	uint64_t v = jf_version(&f);
	uint64_t add;
	CU_ASSERT_EQUAL_FATAL(strata_table_add_columns(f.wh, "t", "extra STRING", &add, &err), 0);
	struct {
		uint64_t version;
		size_t n;
		uint32_t cols[11]; /* indexes of the scan's columns */
		uint64_t fast;     /* buckets read by the fast path */
	} cases[] = {
		{add, 11, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2},
		{add, 3, {5, 5, 1}, 2},  /* a column twice, no key */
		{add, 2, {10, 8}, 2},    /* added after the files: null */
		{add, 1, {9}, 2},        /* long runs of nulls, then of values */
		{add, 0, {0}, 2},        /* no column: row counts only */
		{v, 2, {2, 0}, 2},
		{v1, 2, {0, 5}, 0},      /* before the update: merged */
	};
	for (size_t k = 0; k < STRATA_ARRAY_LEN(cases); k++) {
		const uint32_t *cols = cases[k].cols;
		size_t n = cases[k].n;
		strata_colscan_opts co = {.read.as_of_version = cases[k].version};
		char what[64];
		snprintf(what, sizeof(what), "case %zu", k);
		uint64_t before = g_fast;
		for (int threads = 1; threads <= 3; threads += 2)
			CU_ASSERT_EQUAL(compare_scan(f.wh, "t", &co, cols, n, threads, what), 0);
		CU_ASSERT_EQUAL(g_fast - before, 2 * cases[k].fast);
	}
	/* damage in a file the fast path decodes: a clean error naming the
	 * file, never a crash or wrong rows (bytes flipped at 24 places of
	 * bucket 0's first file, restored after each) */
	a = strata_arena_new();
	size_t nlive = jf_live(&f, 0, a, &live);
	CU_ASSERT_FATAL(nlive >= 1);
	char path[4096];
	jf_file_path(&f, &live[0], path, sizeof(path));
	size_t len;
	char *orig = tu_read_file(path, &len);
	CU_ASSERT_FATAL(orig != NULL && len > 64);
	char *bad = strata_memdup(orig, len);
	int nerr = 0;
	for (int k = 0; k < 24; k++) {
		size_t at = 4 + (size_t)k * (len - 16) / 24;
		memcpy(bad, orig, len);
		for (size_t j = at; j < at + 8 && j < len; j++)
			bad[j] ^= 0x5a;
		CU_ASSERT_FATAL(tu_write_file(path, bad, len) == 0);
		strata_colscan *cs;
		CU_ASSERT_FATAL(strata_colscan_open(f.wh, "t", NULL, &cs, &err) == 0);
		tu_lines act = {0};
		uint32_t all[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
		int rc = col_lines(cs, all, 11, 1, &act, &err);
		uint64_t fast, merged;
		strata_colscan_paths(cs, &fast, &merged);
		CU_ASSERT(fast >= 1 || rc < 0); /* the damaged bucket took the fast path */
		if (rc < 0) {
			nerr++;
			CU_ASSERT(rc == STRATA_ECORRUPT || rc == STRATA_EUNSUPPORTED || rc == STRATA_EINVAL);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, live[0].name));
			if (!strstr(err.msg, live[0].name))
				fprintf(stderr, "\ndamage at %zu: %s\n", at, err.msg);
		}
		tu_lines_free(&act);
		strata_colscan_close(cs);
	}
	/* the entry's content hash catches every flip, even where nothing is
	 * decoded (_seq, _op, page indexes) or a stored page decodes to wrong
	 * values */
	CU_ASSERT_EQUAL(nerr, 24);
	CU_ASSERT_FATAL(tu_write_file(path, orig, len) == 0);
	free(bad);
	free(orig);
	strata_arena_free(a);
	/* a row file on top of bucket 0 (key 1 hashes somewhere: both buckets
	 * checked by the rule in compare_scan) */
	jf_put(&f, "{\"pk\":1,\"s\":\"new\"}\n{\"pk\":2,\"s\":\"new\"}");
	uint32_t all[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	strata_colscan_opts co = {0};
	uint64_t before = g_merged;
	CU_ASSERT_EQUAL(compare_scan(f.wh, "t", &co, all, 11, 1, "row file on top"), 0);
	CU_ASSERT(g_merged > before);
	jf_close(&f);
	tu_clock_real();
}

/* A key range reads exactly the keys inside it; bad keys are clear errors. */
static void test_colscan_keys(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 4, 24);
	strata_buf rows = {0};
	for (int i = 0; i < 100; i++)
		strata_buf_printf(&rows, "{\"pk\":%d,\"v\":\"x%d\"}\n", i, i);
	strata_buf_putc(&rows, 0);
	jf_put(&f, (char *)rows.data);
	jf_put(&f, "{\"_op\":\"delete\",\"pk\":30}\n{\"pk\":31,\"v\":\"new\"}");
	strata_buf_free(&rows);
	strata_colscan_opts co = {.key_lo_json = "{\"pk\":25}", .key_hi_json = "{\"pk\":34}"};
	strata_colscan *cs;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), 0);
	uint32_t cols[2] = {1, 0};
	tu_lines act = {0};
	CU_ASSERT_EQUAL(col_lines(cs, cols, 2, 2, &act, &err), 0);
	strata_colscan_close(cs);
	CU_ASSERT_EQUAL(act.n, 9); /* 25..34 without 30 */
	if (act.n == 9) {
		tu_lines_sort(&act);
		CU_ASSERT_STRING_EQUAL(act.v[0], "|v=\"new\"|pk=31");
		CU_ASSERT_STRING_EQUAL(act.v[8], "|v=\"x34\"|pk=34");
	}
	tu_lines_free(&act);
	/* a deleted key reads nothing, a live one its row */
	co = (strata_colscan_opts){.key_json = "{\"pk\":30}"};
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), 0);
	CU_ASSERT_EQUAL(strata_colscan_nbuckets(cs), 1);
	CU_ASSERT_EQUAL(col_lines(cs, cols, 2, 1, &act, &err), 0);
	CU_ASSERT_EQUAL(act.n, 0);
	strata_colscan_close(cs);
	tu_lines_free(&act);
	co = (strata_colscan_opts){.key_json = "{\"pk\":30}", .read.as_of_version = 2};
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), 0);
	CU_ASSERT_EQUAL(col_lines(cs, cols, 2, 1, &act, &err), 0);
	CU_ASSERT_EQUAL(act.n, 1);
	strata_colscan_close(cs);
	tu_lines_free(&act);
	/* errors */
	co = (strata_colscan_opts){.key_json = "{\"v\":\"x\"}"};
	CU_ASSERT_EQUAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "\"v\" is not a key column of t"));
	co = (strata_colscan_opts){.key_json = "17"};
	CU_ASSERT_EQUAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "must be a JSON object"));
	co = (strata_colscan_opts){.read.as_of_version = 9};
	CU_ASSERT_EQUAL(strata_colscan_open(f.wh, "t", &co, &cs, &err), STRATA_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "version 9 of t does not exist"));
	CU_ASSERT_EQUAL(strata_colscan_open(f.wh, "nope", NULL, &cs, &err), STRATA_ENOTFOUND);
	jf_close(&f);
	tu_clock_real();
}

/* An open columnar scan keeps its files through a major compaction that drops
 * history and a clean, also past the lease TTL (an hour) while its cursor
 * pulls; once closed, clean deletes them. */
static void test_colscan_lease(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 0);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}");
	jf_put(&f, "{\"pk\":2,\"v\":\"c\"}\n{\"pk\":3,\"v\":\"d\"}");
	strata_colscan *cs;
	strata_colcursor *cur;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f.wh, "t", NULL, &cs, &err), 0);
	uint32_t cols[2] = {0, 1};
	CU_ASSERT_EQUAL_FATAL(strata_colcursor_open(cs, cols, 2, 1, &cur, &err), 0);
	const strata_colbatch *b;
	CU_ASSERT_EQUAL(strata_colcursor_next(cur, &b, &err), 1);
	tu_clock_advance(30ll * 60 * 1000000);
	CU_ASSERT_EQUAL(strata_colcursor_next(cur, &b, &err), 1); /* renews */
	tu_clock_advance(45ll * 60 * 1000000); /* past the first leases' hour */
	strata_job_result res;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
	tu_clock_advance(10ll * 1000000);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = 0;
	co.trash_s = 0;
	strata_clean_result r;
	CU_ASSERT_EQUAL_FATAL(strata_clean_table(f.wh, "t", &co, &r, &err), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 0);
	CU_ASSERT(r.kept_lease >= 2);
	CU_ASSERT_EQUAL(strata_colcursor_next(cur, &b, &err), 1);
	if (b)
		CU_ASSERT_EQUAL(((int64_t *)b->cols[0].data)[0], 3);
	CU_ASSERT_EQUAL(strata_colcursor_next(cur, &b, &err), 0);
	strata_colcursor_close(cur);
	strata_colscan_close(cs);
	CU_ASSERT_EQUAL_FATAL(strata_clean_table(f.wh, "t", &co, &r, &err), 0);
	CU_ASSERT_EQUAL(r.files_deleted, 2);
	jf_close(&f);
	tu_clock_real();
}

static void register_colscan(void)
{
	CU_pSuite s = CU_add_suite("colscan", NULL, NULL);
	TU_ADD(s, test_colscan_keys);
	TU_ADD(s, test_colscan_lease);
	TU_ADD(s, test_colscan_fast_path);
	TU_ADD(s, test_colscan_oracle);
}

TU_MAIN(register_colscan)
