/*
 * tests/test_duckdb.c — strata.duckdb_extension inside a real DuckDB.
 *
 * The suite links libduckdb.so of the npm package @duckdb/node-api (make
 * node-deps installs it into tests/.node) through duckdb.h (make
 * duckdb-headers), opens an in-memory DuckDB with unsigned extensions
 * allowed and LOADs $STRATA_BUILD/strata.duckdb_extension.  Without the
 * library, the headers or the extension it prints one "SKIPPED: <reason>"
 * line and exits 0.
 *
 * The model-based check: the oracle writes random transactions (with DDL)
 * and runs governance (sort, merge, partial and major compaction, clean);
 * the oracle checks the row API against its model at every retained version,
 * and this suite checks that DuckDB's strata_scan(..., as_of_version := V)
 * returns the same rows — all columns or a random projection, with 1 and 4
 * DuckDB threads — plus a WHERE on a non-key column, aggregates, and a join
 * of two strata tables.  Values are compared typed (DuckDB's vectors turned
 * into strata values and printed by strata_value_to_json on both sides).
 *
 * The warehouse is never open twice in this process at once (LMDB forbids
 * it): the test closes its own handle around every DuckDB query (the
 * extension opens and closes one per query).
 */
#include "tests/util/jobfix.h"
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include <stdio.h>
#include <unistd.h>

#ifndef HAVE_DUCKDB

int main(void)
{
	printf("SKIPPED: built without DuckDB (no headers in build/duckdb-1.4.4/include or no "
	       "libduckdb.so in tests/.node: run make duckdb-headers node-deps)\n");
	return 0;
}

#else

#include <duckdb.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

static duckdb_database db;
static duckdb_connection con;
static char ext_path[4096];

/* ---- DuckDB ------------------------------------------------------------------------------ */

static strata_type strata_type_of(duckdb_type t)
{
	switch (t) {
	case DUCKDB_TYPE_BIGINT: return STRATA_T_LONG;
	case DUCKDB_TYPE_INTEGER: return STRATA_T_INT;
	case DUCKDB_TYPE_DOUBLE: return STRATA_T_DOUBLE;
	case DUCKDB_TYPE_FLOAT: return STRATA_T_FLOAT;
	case DUCKDB_TYPE_BOOLEAN: return STRATA_T_BOOL;
	case DUCKDB_TYPE_BLOB: return STRATA_T_BYTES;
	case DUCKDB_TYPE_TIMESTAMP: return STRATA_T_TIMESTAMP;
	case DUCKDB_TYPE_VARCHAR: return STRATA_T_STRING;
	default: return (strata_type)0;
	}
}

/* Run sql; rows as "|col=json..." lines into out (if not NULL).  0, or -1
 * with DuckDB's error in errbuf. */
static int q(const char *sql, tu_lines *out, char *errbuf, size_t errlen)
{
	duckdb_result res;
	if (duckdb_query(con, sql, &res) == DuckDBError) {
		if (errbuf)
			snprintf(errbuf, errlen, "%s", duckdb_result_error(&res));
		else
			fprintf(stderr, "\nduckdb: %s\n  in %s\n", duckdb_result_error(&res), sql);
		duckdb_destroy_result(&res);
		return -1;
	}
	idx_t ncols = duckdb_column_count(&res);
	strata_buf b = {0};
	idx_t nchunks = duckdb_result_chunk_count(res);
	for (idx_t ci = 0; ci < nchunks && out; ci++) {
		duckdb_data_chunk ch = duckdb_result_get_chunk(res, ci);
		idx_t n = duckdb_data_chunk_get_size(ch);
		for (idx_t r = 0; r < n; r++) {
			strata_buf_reset(&b);
			for (idx_t c = 0; c < ncols; c++) {
				duckdb_vector vec = duckdb_data_chunk_get_vector(ch, c);
				void *data = duckdb_vector_get_data(vec);
				uint64_t *valid = duckdb_vector_get_validity(vec);
				strata_type t = strata_type_of(duckdb_column_type(&res, c));
				strata_value v;
				memset(&v, 0, sizeof(v));
				v.is_null = valid && !duckdb_validity_row_is_valid(valid, r);
				switch (t) {
				case STRATA_T_LONG:
				case STRATA_T_TIMESTAMP:
					v.v.i64 = ((int64_t *)data)[r];
					break;
				case STRATA_T_INT:
					v.v.i32 = ((int32_t *)data)[r];
					break;
				case STRATA_T_DOUBLE:
					v.v.f64 = ((double *)data)[r];
					break;
				case STRATA_T_FLOAT:
					v.v.f32 = ((float *)data)[r];
					break;
				case STRATA_T_BOOL:
					/* a NULL row's slot holds whatever DuckDB left
					 * there (255 was seen): never load it as a bool */
					v.v.b = !v.is_null && ((const uint8_t *)data)[r] != 0;
					break;
				case STRATA_T_STRING:
				case STRATA_T_BYTES: {
					duckdb_string_t *s = &((duckdb_string_t *)data)[r];
					v.v.s.len = duckdb_string_t_length(*s);
					v.v.s.ptr = (const uint8_t *)duckdb_string_t_data(s);
					break;
				}
				default:
					t = STRATA_T_STRING;
					v.is_null = true;
					break;
				}
				strata_buf_printf(&b, "|%s=", duckdb_column_name(&res, c));
				strata_value_to_json(t, &v, &b);
			}
			strata_buf_putc(&b, 0);
			tu_lines_push(out, (char *)b.data);
		}
		duckdb_destroy_data_chunk(&ch);
	}
	strata_buf_free(&b);
	duckdb_destroy_result(&res);
	return 0;
}

/* Open DuckDB and load the extension; false (with the reason) if absent. */
static bool duck_open(char *why, size_t n)
{
	const char *build = getenv("STRATA_BUILD");
	char cwd[2048];
	if (!build || !*build)
		build = "build";
	if (build[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(ext_path, sizeof(ext_path), "%s/%s/strata.duckdb_extension", cwd, build);
	else
		snprintf(ext_path, sizeof(ext_path), "%s/strata.duckdb_extension", build);
	if (access(ext_path, R_OK) != 0) {
		snprintf(why, n, "no extension at %s (build it with make: it needs the DuckDB headers)",
			 ext_path);
		return false;
	}
	duckdb_config cfg;
	char *err = NULL;
	duckdb_create_config(&cfg);
	duckdb_set_config(cfg, "allow_unsigned_extensions", "true");
	if (duckdb_open_ext(NULL, &db, cfg, &err) == DuckDBError) {
		snprintf(why, n, "duckdb_open_ext: %s", err ? err : "?");
		duckdb_free(err);
		duckdb_destroy_config(&cfg);
		return false;
	}
	duckdb_destroy_config(&cfg);
	if (duckdb_connect(db, &con) == DuckDBError) {
		snprintf(why, n, "duckdb_connect failed");
		return false;
	}
	char sql[4200], e[1024];
	snprintf(sql, sizeof(sql), "LOAD '%s'", ext_path);
	if (q(sql, NULL, e, sizeof(e))) {
		snprintf(why, n, "LOAD failed: %s", e);
		return false;
	}
	return true;
}

static void set_threads(int n)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "SET threads=%d", n);
	CU_ASSERT_EQUAL(q(sql, NULL, NULL, 0), 0);
}

/* ---- the row API side ---------------------------------------------------------------------- */

/* Rows of a read at v as lines of the columns names (NULL: every column of
 * the schema then the partition columns), keeping only rows whose column
 * not_null (if given) is not null. */
static int expect_lines(strata_wh *wh, const char *table, uint64_t v, const char *const *names,
			const char *not_null, tu_lines *out)
{
	strata_read_opts ro = {.as_of_version = v};
	strata_scan *s;
	strata_err err;
	int rc = strata_scan_open(wh, table, &ro, &s, &err);
	if (rc)
		return rc;
	const strata_schema *sc = strata_scan_schema(s);
	const strata_table_def *t = strata_scan_table(s);
	const char *all[64];
	if (!names) {
		size_t k = 0;
		for (uint32_t i = 0; i < sc->ncols && k < 60; i++)
			all[k++] = sc->cols[i].name;
		for (uint32_t i = 0; i < t->nparts; i++)
			all[k++] = t->part_cols[i];
		all[k] = NULL;
		names = all;
	}
	int nn = not_null ? strata_schema_find(sc, not_null) : -1;
	strata_buf b = {0};
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(s, &row, &pv, &err)) == 1) {
		if (nn >= 0 && row->vals[nn].is_null)
			continue;
		strata_buf_reset(&b);
		for (size_t j = 0; names[j]; j++) {
			strata_buf_printf(&b, "|%s=", names[j]);
			int idx = strata_schema_find(sc, names[j]);
			if (idx >= 0) {
				strata_value_to_json(sc->cols[idx].type, &row->vals[idx], &b);
			} else {
				for (uint32_t p = 0; p < t->nparts; p++)
					if (strcmp(t->part_cols[p], names[j]) == 0)
						strata_buf_printf(&b, "\"%s\"", pv[p]);
			}
		}
		strata_buf_putc(&b, 0);
		tu_lines_push(out, (char *)b.data);
	}
	strata_buf_free(&b);
	strata_scan_close(s);
	return rc < 0 ? rc : 0;
}

/* ---- the oracle ------------------------------------------------------------------------------ */

typedef struct vcheck {
	uint64_t v;
	char sql[1024];
	tu_lines exp;
	int threads;
} vcheck;

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

/* Plan the checks of every retained version of o's table with the warehouse
 * open: the expected lines and the SQL; then run them with it closed. */
static int oracle_duck_check(oracle *o, const char *dir, strata_wh **whp, uint64_t *nchecks)
{
	const char *table = oracle_table(o);
	uint64_t latest = oracle_version(o), readable = 1, inc = 0;
	strata_err err;
	if (strata_table_earliest(*whp, table, &readable, &inc, &err))
		return -1;
	size_t nv = latest - readable + 1, k = 0;
	vcheck *vc = strata_calloc(nv * 2 + 1, sizeof(vcheck));
	int failed = 0;
	for (uint64_t v = readable; v <= latest && !failed; v++) {
		if (oracle_check_scan(o, v, NULL)) { /* the row API equals the model */
			failed = 1;
			break;
		}
		strata_read_opts ro = {.as_of_version = v};
		strata_scan *s;
		if (strata_scan_open(*whp, table, &ro, &s, &err) != 0)
			continue; /* outside retention: the oracle accepted that */
		const strata_schema *sc = strata_scan_schema(s);
		/* a random projection (keys, a random subset, in random order) */
		const char *names[64];
		char namebuf[64][STRATA_NAME_MAX + 1];
		size_t nn = 0;
		for (uint32_t i = 0; i < sc->ncols && nn < 60; i++)
			if (i < 2 || oracle_rand(o) % 2)
				snprintf(namebuf[nn++], sizeof(namebuf[0]), "%s", sc->cols[i].name);
		if (strata_scan_table(s)->nparts && oracle_rand(o) % 2)
			snprintf(namebuf[nn++], sizeof(namebuf[0]), "%s",
				 strata_scan_table(s)->part_cols[0]);
		for (size_t i = nn; i > 1; i--) {
			size_t j = oracle_rand(o) % i;
			char t[STRATA_NAME_MAX + 1];
			memcpy(t, namebuf[i - 1], sizeof(t));
			memcpy(namebuf[i - 1], namebuf[j], sizeof(t));
			memcpy(namebuf[j], t, sizeof(t));
		}
		for (size_t i = 0; i < nn; i++)
			names[i] = namebuf[i];
		names[nn] = NULL;
		/* a WHERE on the last non-key column */
		const char *filt = sc->ncols > 2 ? sc->cols[sc->ncols - 1].name : NULL;
		char filt_name[STRATA_NAME_MAX + 1] = "";
		if (filt)
			snprintf(filt_name, sizeof(filt_name), "%s", filt);
		strata_scan_close(s);
		/* all columns */
		vc[k].v = v;
		vc[k].threads = v % 2 ? 1 : 4;
		snprintf(vc[k].sql, sizeof(vc[k].sql),
			 "SELECT * FROM strata_scan('%s', '%s', as_of_version := %" PRIu64 ")", dir,
			 table, v);
		if (expect_lines(*whp, table, v, NULL, NULL, &vc[k].exp))
			failed = 1;
		k++;
		/* projection (and WHERE) */
		vc[k].v = v;
		vc[k].threads = v % 2 ? 4 : 1;
		strata_buf sql = {0};
		strata_buf_printf(&sql, "SELECT ");
		for (size_t i = 0; i < nn; i++)
			strata_buf_printf(&sql, "%s%s", i ? ", " : "", names[i]);
		strata_buf_printf(&sql, " FROM strata_scan('%s', '%s', as_of_version := %" PRIu64 ")",
				  dir, table, v);
		if (filt && v % 3 == 0)
			strata_buf_printf(&sql, " WHERE %s IS NOT NULL", filt_name);
		strata_buf_putc(&sql, 0);
		snprintf(vc[k].sql, sizeof(vc[k].sql), "%s", (char *)sql.data);
		strata_buf_free(&sql);
		if (expect_lines(*whp, table, v, names, filt && v % 3 == 0 ? filt_name : NULL,
				 &vc[k].exp))
			failed = 1;
		k++;
	}
	/* the warehouse is closed while DuckDB reads it */
	strata_wh_close(*whp);
	*whp = NULL;
	for (size_t i = 0; i < k && !failed; i++) {
		set_threads(vc[i].threads);
		tu_lines act = {0};
		if (q(vc[i].sql, &act, NULL, 0)) {
			failed = 1;
		} else {
			char what[1200];
			snprintf(what, sizeof(what), "%s (threads %d, seed %" PRIu64 ")", vc[i].sql,
				 vc[i].threads, oracle_seed(o));
			failed = tu_lines_diff(what, &vc[i].exp, &act) != 0;
			(*nchecks)++;
		}
		tu_lines_free(&act);
	}
	for (size_t i = 0; i < k; i++)
		tu_lines_free(&vc[i].exp);
	free(vc);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, false, whp, &err), 0);
	oracle_set_wh(o, *whp);
	return failed ? -1 : 0;
}

static void test_duckdb_oracle(void)
{
	uint64_t seed = env_u64("ORACLE_SEED", (uint64_t)time(NULL));
	fprintf(stderr, "\nduckdb oracle: seed %" PRIu64 " (replay with ORACLE_SEED=%" PRIu64 ")\n",
		seed, seed);
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	uint64_t nchecks = 0;
	for (int table = 0; table < 2; table++) {
		oracle_cfg cfg;
		oracle_cfg_default(&cfg);
		cfg.seed = seed + (uint64_t)table;
		cfg.nparts = table == 1 ? 2 : 0;
		cfg.nkeys = 40;
		cfg.buckets = 2 + table;
		cfg.is_quiet = true;
		char name[32];
		snprintf(name, sizeof(name), "dk_%d", table);
		oracle *o = oracle_new(wh, name, &cfg);
		int failed = 0;
		for (int step = 0; step < 48 && !failed; step++) {
			failed = oracle_step(o) != 0;
			if (!failed && step % 4 == 3)
				failed = oracle_gov_step(o) != 0;
			if (!failed && step % 16 == 15)
				failed = oracle_duck_check(o, dir, &wh, &nchecks) != 0;
		}
		CU_ASSERT_EQUAL(failed, 0);
		oracle_free(o);
		if (failed)
			break;
	}
	fprintf(stderr, "duckdb oracle: %" PRIu64 " queries equal the model\n", nchecks);
	strata_wh_close(wh);
	tu_clock_real();
	set_threads(1);
}

/* ---- aggregates and a join of two strata tables --------------------------------------------- */

static void test_duckdb_join_aggregate(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING, n INT", 4, 24);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_table_create(f.wh, "u", "id BIGINT NOT NULL PRIMARY KEY, w DOUBLE",
						  NULL, NULL, NULL, 0, &err),
			      0);
	strata_buf a = {0}, b = {0};
	long long sum = 0, cnt_n = 0;
	for (int i = 0; i < 3000; i++) {
		strata_buf_printf(&a, "{\"pk\":%d,\"v\":\"v%d\"%s}\n", i, i % 7,
				  i % 5 ? ",\"n\":1" : "");
		sum += i;
		cnt_n += i % 5 != 0;
	}
	for (int i = 0; i < 6000; i += 2)
		strata_buf_printf(&b, "{\"id\":%d,\"w\":%d.5}\n", i, i);
	strata_buf_putc(&a, 0);
	strata_buf_putc(&b, 0);
	jf_put(&f, (char *)a.data);
	snprintf(f.table, sizeof(f.table), "u");
	jf_put(&f, (char *)b.data);
	snprintf(f.table, sizeof(f.table), "t");
	strata_buf_free(&a);
	strata_buf_free(&b);
	/* history and deletes to merge: delete pk 0..99, update 100..199 */
	strata_buf d = {0};
	for (int i = 0; i < 100; i++)
		strata_buf_printf(&d, "{\"_op\":\"delete\",\"pk\":%d}\n{\"pk\":%d,\"v\":\"new\",\"n\":2}\n",
				  i, i + 100);
	strata_buf_putc(&d, 0);
	jf_put(&f, (char *)d.data);
	strata_buf_free(&d);
	/* sort two buckets so the table mixes Parquet and Avro files */
	strata_job_result res;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_job(&f, 1, JF_MAJOR, NULL, NULL, &res, &err), 0);
	/* expected: 2900 rows, sum(pk) - 0..99, n: 100..199 -> 2 (counted once) */
	long long exp_sum = sum - 4950;
	long long exp_cnt_n = cnt_n - 80 + 20, exp_sum_n = 0;
	for (int i = 100; i < 3000; i++)
		exp_sum_n += i < 200 ? 2 : (i % 5 ? 1 : 0);
	jf_close_wh(&f);
	for (int threads = 1; threads <= 4; threads += 3) {
		set_threads(threads);
		char sql[1024];
		tu_lines act = {0};
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) AS c, sum(pk)::BIGINT AS s, count(n) AS cn, sum(n)::BIGINT AS sn, "
			 "count(DISTINCT v) AS dv FROM strata_scan('%s', 't')",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		char want[256];
		snprintf(want, sizeof(want), "|c=2900|s=%lld|cn=%lld|sn=%lld|dv=8", exp_sum, exp_cnt_n,
			 exp_sum_n);
		CU_ASSERT_EQUAL(act.n, 1);
		if (act.n == 1 && strcmp(act.v[0], want) != 0)
			fprintf(stderr, "\naggregate: expected %s, got %s\n", want, act.v[0]);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], want) == 0);
		tu_lines_free(&act);
		/* the join: even pk in 100..2999 */
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) AS c, sum(u.w) AS sw FROM strata_scan('%s', 't') t "
			 "JOIN strata_scan('%s', 'u') u ON t.pk = u.id",
			 f.dir, f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		double sw = 0;
		for (int i = 100; i < 3000; i += 2)
			sw += i + 0.5;
		snprintf(want, sizeof(want), "|c=1450|sw=%.1f", sw);
		if (act.n == 1 && strcmp(act.v[0], want) != 0)
			fprintf(stderr, "\njoin: expected %s, got %s\n", want, act.v[0]);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], want) == 0);
		tu_lines_free(&act);
		/* a WHERE on a non-key column above the scan */
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) AS c FROM strata_scan('%s', 't') WHERE v = 'new'", f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|c=100") == 0);
		tu_lines_free(&act);
	}
	set_threads(1);
	jf_open_wh(&f);
	jf_close(&f);
	tu_clock_real();
}

/* ---- types, keys, changes, metadata ------------------------------------------------------ */

static void test_duckdb_types_keys(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f,
		"id BIGINT NOT NULL PRIMARY KEY, i INT, d DOUBLE, fl FLOAT, b BOOLEAN, s STRING, "
		"bin BINARY, ts TIMESTAMP",
		3, 24);
	jf_put(&f, "{\"id\":1,\"i\":-7,\"d\":2.25,\"fl\":0.5,\"b\":true,\"s\":\"h\\u00e9\",\"bin\":\"AAEC\","
		   "\"ts\":\"2026-01-02 03:04:05.000006\"}\n{\"id\":2}\n{\"id\":3,\"s\":\"three\"}");
	jf_put(&f, "{\"_op\":\"delete\",\"id\":2}\n{\"id\":3,\"s\":\"THREE\",\"b\":false}");
	strata_err err;
	CU_ASSERT_EQUAL(strata_mf_tag_put(strata_wh_mf(f.wh), "t", "first", 2, &err), 0);
	CU_ASSERT_EQUAL(strata_table_create(f.wh, "empty", "k STRING NOT NULL PRIMARY KEY", NULL,
					    "pt STRING", NULL, 0, &err),
			0);
	jf_close_wh(&f);
	char sql[1024];
	tu_lines act = {0};
	/* time travel by tag and by time (the commit time of version 2) */
	snprintf(sql, sizeof(sql),
		 "SELECT s FROM strata_scan('%s', 't', as_of_tag := 'first') ORDER BY id", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 3 && strcmp(act.v[2], "|s=\"three\"") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT CAST(committed AS VARCHAR) AS t FROM strata_log('%s', 't') WHERE version = 2",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_FATAL(act.n == 1 && strlen(act.v[0]) > 6);
	char ts[64];
	snprintf(ts, sizeof(ts), "%.*s", (int)strlen(act.v[0]) - 5, act.v[0] + 4); /* |t="...": */
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) AS c FROM strata_scan('%s', 't', as_of_time := TIMESTAMP '%s')",
		 f.dir, ts);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|c=3") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) AS c FROM strata_scan('%s', 't', as_of_time := TIMESTAMP '%s' + "
		 "INTERVAL 1 SECOND)",
		 f.dir, ts);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|c=2") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT typeof(id) || typeof(i) || typeof(d) || typeof(fl) || typeof(b) || "
		 "typeof(s) || typeof(bin) || typeof(ts) AS t FROM strata_scan('%s', 't') LIMIT 1",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 &&
		  strcmp(act.v[0], "|t=\"BIGINTINTEGERDOUBLEFLOATBOOLEANVARCHARBLOBTIMESTAMP\"") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT id, i, d, fl, b, s, bin, CAST(ts AS VARCHAR) AS ts FROM strata_scan('%s', "
		 "'t') ORDER BY id",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_EQUAL(act.n, 2);
	if (act.n == 2) {
		CU_ASSERT_STRING_EQUAL(act.v[0], "|id=1|i=-7|d=2.25|fl=0.5|b=true|s=\"h\xc3\xa9\"|bin=\"AAEC\""
						 "|ts=\"2026-01-02 03:04:05.000006\"");
		CU_ASSERT_STRING_EQUAL(act.v[1], "|id=3|i=null|d=null|fl=null|b=false|s=\"THREE\"|"
						 "bin=null|ts=null");
	}
	tu_lines_free(&act);
	/* point lookups: key :=, at a version, a deleted key, a missing one */
	snprintf(sql, sizeof(sql), "SELECT s FROM strata_scan('%s', 't', key := 3)", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|s=\"THREE\"") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT s FROM strata_scan('%s', 't', key := 3, as_of_version := 2)", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|s=\"three\"") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql), "SELECT s FROM strata_scan('%s', 't', key := '{\"id\": 2}')",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_EQUAL(act.n, 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql), "SELECT s FROM strata_scan('%s', 't', key := 99)", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_EQUAL(act.n, 0);
	tu_lines_free(&act);
	/* changes with _seq and _op */
	snprintf(sql, sizeof(sql),
		 "SELECT id, s, _seq, _op FROM strata_changes('%s', 't', 2, 3) ORDER BY id", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_EQUAL(act.n, 2);
	if (act.n == 2) {
		CU_ASSERT_STRING_EQUAL(act.v[0], "|id=2|s=null|_seq=3|_op=\"delete\"");
		CU_ASSERT_STRING_EQUAL(act.v[1], "|id=3|s=\"THREE\"|_seq=3|_op=\"upsert\"");
	}
	tu_lines_free(&act);
	/* a table without data reads as empty, with its columns */
	snprintf(sql, sizeof(sql), "SELECT k, pt FROM strata_scan('%s', 'empty')", f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT_EQUAL(act.n, 0);
	tu_lines_free(&act);
	/* metadata */
	snprintf(sql, sizeof(sql), "SELECT name, version FROM strata_tables('%s') ORDER BY name",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 2 && strcmp(act.v[1], "|name=\"t\"|version=3") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql), "SELECT version, kind FROM strata_log('%s', 't') ORDER BY 1",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 3 && strcmp(act.v[2], "|version=3|kind=\"write\"") == 0);
	tu_lines_free(&act);
	snprintf(sql, sizeof(sql),
		 "SELECT sum(rows)::BIGINT AS r, count(*) AS n FROM strata_files('%s', 't') WHERE "
		 "removed_version IS NULL",
		 f.dir);
	CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
	CU_ASSERT(act.n == 1 && strstr(act.v[0], "|r=5|") != NULL);
	tu_lines_free(&act);
	jf_open_wh(&f);
	jf_close(&f);
	tu_clock_real();
}

/* DATE and DECIMAL columns (every DuckDB width: int16, int32, int64,
 * hugeint) through strata_scan, from row files and columnar files (merge
 * path and fast path), with a DECIMAL key looked up by key :=. */
static void test_duckdb_date_decimal(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f,
		"id DECIMAL(20,3) NOT NULL PRIMARY KEY, day DATE, p4 DECIMAL(4,1), "
		"p9 DECIMAL(9,2), p18 DECIMAL(18,4), p38 DECIMAL(38,10)",
		1, 24);
	jf_put(&f, "{\"id\":\"-99999999999999999.999\",\"day\":\"0001-01-01\",\"p4\":\"-999.9\","
		   "\"p9\":\"-9999999.99\",\"p18\":\"-99999999999999.9999\","
		   "\"p38\":\"-9999999999999999999999999999.9999999999\"}\n"
		   "{\"id\":\"0\",\"day\":\"1969-12-31\",\"p4\":\"0\",\"p9\":\"0.01\"}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	jf_put(&f, "{\"id\":\"12345678901234567.123\",\"day\":\"9999-12-31\",\"p4\":\"999.9\","
		   "\"p9\":\"9999999.99\",\"p18\":\"99999999999999.9999\","
		   "\"p38\":\"9999999999999999999999999999.9999999999\"}");
	jf_close_wh(&f);
	const char *want[] = {
		"|r=\"-99999999999999999.999 0001-01-01 -999.9 -9999999.99 -99999999999999.9999 "
		"-9999999999999999999999999999.9999999999\"",
		"|r=\"0.000 1969-12-31 0.0 0.01 N N\"",
		"|r=\"12345678901234567.123 9999-12-31 999.9 9999999.99 99999999999999.9999 "
		"9999999999999999999999999999.9999999999\"",
	};
	char sql[1024];
	for (int pass = 0; pass < 2; pass++) {
		tu_lines act = {0};
		snprintf(sql, sizeof(sql),
			 "SELECT typeof(id) || ' ' || typeof(day) || ' ' || typeof(p4) || ' ' || "
			 "typeof(p9) || ' ' || typeof(p18) || ' ' || typeof(p38) AS t FROM "
			 "strata_scan('%s', 't') LIMIT 1",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|t=\"DECIMAL(20,3) DATE DECIMAL(4,1) "
							 "DECIMAL(9,2) DECIMAL(18,4) DECIMAL(38,10)\"") == 0);
		tu_lines_free(&act);
		snprintf(sql, sizeof(sql),
			 "SELECT concat_ws(' ', id, day, p4, p9, coalesce(p18::VARCHAR, 'N'), "
			 "coalesce(p38::VARCHAR, 'N')) AS r FROM strata_scan('%s', 't') ORDER BY id",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		CU_ASSERT_EQUAL(act.n, 3);
		for (size_t i = 0; i < act.n && i < 3; i++) {
			if (strcmp(act.v[i], want[i]) != 0)
				fprintf(stderr, "\n got %s\nwant %s\n", act.v[i], want[i]);
			CU_ASSERT_STRING_EQUAL(act.v[i], want[i]);
		}
		tu_lines_free(&act);
		/* DuckDB compares the values as decimals and dates */
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) AS n FROM strata_scan('%s', 't') WHERE p38 < 0 OR "
			 "day > DATE '2000-01-01' OR p4 = 0.0",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|n=3") == 0);
		tu_lines_free(&act);
		snprintf(sql, sizeof(sql),
			 "SELECT day::VARCHAR AS d FROM strata_scan('%s', 't', key := "
			 "'{\"id\": \"-99999999999999999.999\"}')",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], "|d=\"0001-01-01\"") == 0);
		tu_lines_free(&act);
		if (pass == 0) {
			/* again from one compacted columnar file (the fast path) */
			jf_open_wh(&f);
			CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
			jf_close_wh(&f);
		}
	}
	jf_open_wh(&f);
	jf_close(&f);
	tu_clock_real();
}

/* ---- strings: long ones reach DuckDB's heap in runs --------------------------------------- */

/* Does row i's string s of len bytes end in "é!" (not ASCII)?  Only in
 * rows 2048..4095: the other batches' runs are all ASCII. */
static bool strings_is_accented(uint64_t i, size_t len)
{
	return len >= 16 && i % 11 == 0 && i / 2048 == 1;
}

/* The string of row i of column k (0: s, 1: bin) into buf; its length, or
 * -1 for NULL.  Lengths around the 12-byte inline limit, runs of long ASCII
 * strings that overflow one heap copy (1 MiB) per batch, non-ASCII strings
 * in some batches, empty strings, huge ones, and raw bytes in the BLOB. */
static long strings_value(uint64_t i, int k, uint8_t *buf)
{
	uint64_t m = i * 0x9e3779b97f4a7c15ull + (uint64_t)k;
	size_t len;
	switch ((i + (uint64_t)k) % 9) {
	case 0: return -1;
	case 1: len = 0; break;
	case 2: len = 12; break;
	case 3: len = 13; break;
	case 4: len = 5; break;
	default: len = 13 + (size_t)((m >> 20) % 6000); break;
	}
	if (i % 1000 == 999)
		len = (3u << 19) + (size_t)(i % 7); /* 1.5 MiB: larger than one heap copy */
	for (size_t j = 0; j < len; j++)
		buf[j] = k ? (uint8_t)(m >> (j % 8 * 8)) + (uint8_t)j : (uint8_t)('a' + (i + j) % 26);
	if (k == 0 && strings_is_accented(i, len))
		memcpy(buf + len - 3, "\xc3\xa9!", 3); /* é: not ASCII */
	return (long)len;
}

static void test_duckdb_strings(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "id BIGINT NOT NULL PRIMARY KEY, s STRING, bin BINARY", 1, 24);
	const uint64_t nrows = 6000;
	uint8_t *b0 = strata_malloc(2u << 20), *b1 = strata_malloc(2u << 20);
	strata_err err;
	strata_txn *t;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(f.wh, "t", &t, &err), 0);
	for (uint64_t i = 0; i < nrows; i++) {
		strata_value v[3];
		memset(v, 0, sizeof(v));
		v[0].v.i64 = (int64_t)i;
		long l0 = strings_value(i, 0, b0), l1 = strings_value(i, 1, b1);
		v[1].is_null = l0 < 0;
		v[1].v.s.ptr = b0;
		v[1].v.s.len = l0 < 0 ? 0 : (uint32_t)l0;
		v[2].is_null = l1 < 0;
		v[2].v.s.ptr = b1;
		v[2].v.s.len = l1 < 0 ? 0 : (uint32_t)l1;
		strata_row row = {.ncols = 3, .vals = v};
		CU_ASSERT_EQUAL_FATAL(strata_txn_put(t, NULL, &row, &err), 0);
	}
	uint64_t ver;
	CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &err), 0);
	free(b0);
	free(b1);
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't') ORDER BY id", f.dir);
	/* first the merge path (a row file), then the fast path (one
	 * compacted Parquet file); ORDER BY keeps every vector's strings past
	 * the scan calls that made them */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			strata_job_result res;
			CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
		}
		tu_lines exp = {0}, act = {0};
		CU_ASSERT_EQUAL_FATAL(expect_lines(f.wh, "t", jf_version(&f), NULL, NULL, &exp), 0);
		CU_ASSERT_EQUAL(exp.n, nrows);
		jf_close_wh(&f);
		for (int threads = 1; threads <= 2; threads++) {
			set_threads(threads);
			CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
			CU_ASSERT_EQUAL(tu_lines_diff(sql, &exp, &act), 0);
			tu_lines_free(&act);
		}
		/* an aggregate that keeps strings, and lengths summed */
		snprintf(sql + 512, 512,
			 "SELECT max(s) AS m, sum(length(s))::BIGINT AS l, sum(octet_length(bin))::BIGINT AS o "
			 "FROM strata_scan('%s', 't')",
			 f.dir);
		CU_ASSERT_EQUAL(q(sql + 512, &act, NULL, 0), 0);
		uint64_t ls = 0, lb = 0;
		uint8_t *buf = strata_malloc(2u << 20);
		for (uint64_t i = 0; i < nrows; i++) {
			long l0 = strings_value(i, 0, buf), l1 = strings_value(i, 1, buf);
			/* length() counts characters: é is one */
			if (l0 > 0)
				ls += (uint64_t)l0 - (strings_is_accented(i, (size_t)l0) ? 1 : 0);
			if (l1 > 0)
				lb += (uint64_t)l1;
		}
		free(buf);
		char want[256];
		snprintf(want, sizeof(want), "|l=%" PRIu64 "|o=%" PRIu64, ls, lb);
		CU_ASSERT(act.n == 1 && strstr(act.v[0], want) != NULL);
		if (act.n == 1 && !strstr(act.v[0], want))
			fprintf(stderr, "\n  got %.200s, want %s\n", act.v[0], want);
		tu_lines_free(&act);
		tu_lines_free(&exp);
		set_threads(1);
		jf_open_wh(&f);
	}
	jf_close(&f);
	tu_clock_real();
}

/* ---- errors carry strata's reason ------------------------------------------------------------ */

static void expect_error(const char *sql, const char *reason)
{
	char e[2048] = "";
	int rc = q(sql, NULL, e, sizeof(e));
	CU_ASSERT_EQUAL(rc, -1);
	if (rc == 0 || !strstr(e, reason))
		fprintf(stderr, "\n%s\n  expected an error with \"%s\", got: %s\n", sql, reason,
			rc ? e : "(success)");
	CU_ASSERT_PTR_NOT_NULL(strstr(e, reason));
}

static void test_duckdb_errors(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 0);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}");
	jf_put(&f, "{\"pk\":1,\"v\":\"b\"}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
	tu_clock_advance(10ll * 1000000);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = 0;
	co.trash_s = 0;
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(f.wh, "t", &co, &r, &err), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	size_t nl = jf_live(&f, 0, a, &live);
	CU_ASSERT_EQUAL_FATAL(nl, 1);
	char path[4096];
	jf_file_path(&f, &live[0], path, sizeof(path));
	strata_arena_free(a);
	jf_close_wh(&f);
	char sql[4200];
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s/nowhere', 't')", f.dir);
	expect_error(sql, "is not a strata warehouse");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 'missing')", f.dir);
	expect_error(sql, "unknown table \"missing\"");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', as_of_version := 2)", f.dir);
	expect_error(sql, "version 2 is outside the retention window of t");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', as_of_version := 50)", f.dir);
	expect_error(sql, "version 50 of t does not exist");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', as_of_tag := 'nope')", f.dir);
	expect_error(sql, "table \"t\" has no tag \"nope\"");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', bogus := 1)", f.dir);
	expect_error(sql, "bogus");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', key := 'x')", f.dir);
	expect_error(sql, "is not a BIGINT value for t.pk");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't', partition := 'a=b')", f.dir);
	expect_error(sql, "is not partitioned");
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_changes('%s', 't', 3, 1)", f.dir);
	expect_error(sql, "bad range");
	/* a corrupt file: the scan fails naming it */
	size_t len = 0;
	char *bytes = tu_read_file(path, &len);
	CU_ASSERT_FATAL(bytes != NULL && len > 64);
	memset(bytes + 4, 0x5a, len - 8);
	CU_ASSERT_EQUAL(tu_write_file(path, bytes, len), 0);
	free(bytes);
	snprintf(sql, sizeof(sql), "SELECT * FROM strata_scan('%s', 't')", f.dir);
	expect_error(sql, path);
	jf_open_wh(&f);
	jf_close(&f);
	tu_clock_real();
}

/* ---- with stratad governing the table ------------------------------------------------ */

static void cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cli(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *out = NULL;
	int rc = tu_run(cmd, &out);
	if (rc != 0)
		fprintf(stderr, "\n%s: exit %d: %s\n", cmd, rc, out ? out : "");
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	free(out);
}

/* Commit keys 0..199 with v = val through the CLI (another process). */
static void cli_write_all(const char *whp, int val)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s.rows", whp);
	strata_buf b = {0};
	for (int i = 0; i < 200; i++)
		strata_buf_printf(&b, "{\"pk\":%d,\"v\":%d}\n", i, val);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, b.data, b.len), 0);
	strata_buf_free(&b);
	cli("%s -W %s write t --file %s >/dev/null", tu_bin("strata"), whp, path);
}

/* Live row files of t (paths), read in-process. */
static size_t row_files(strata_wh *wh, char paths[][4096], size_t max, bool only_live)
{
	strata_mf_snap *snap;
	strata_table_def t;
	strata_file_entry *fs;
	size_t n, k = 0;
	strata_err err;
	strata_arena *a = strata_arena_new();
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, "t", &t, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_files(snap, t.id, a, &fs, &n, &err), 0);
	for (size_t i = 0; i < n && k < max; i++)
		if (fs[i].format == STRATA_FMT_AVRO && (!only_live || fs[i].removed_version == 0))
			strata_file_path(strata_wh_mf(wh), "t", "", &fs[i], paths[k++], 4096);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return k;
}

static bool all_sorted(strata_wh *wh)
{
	char p[1][4096];
	return row_files(wh, p, 1, true) == 0;
}

/* A real stratad sorts and cleans the table (retention 0, grace 0) while it
 * is read: an open columnar scan keeps the row files it planned on disk
 * until it closes (then clean deletes them), and DuckDB queries between
 * commits always see the latest committed data. */
static void test_duckdb_stratad(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[200];
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
	cli("%s -W %s init >/dev/null", tu_bin("strata"), whp);
	cli("%s -W %s create-table t --columns 'pk BIGINT NOT NULL PRIMARY KEY, v BIGINT' "
	    "--property write.bucket.num=2 --property acid.data.retain.hours=0 "
	    "--property write.inline.max-bytes=0 >/dev/null", /* files the lease keeps */
	    tu_bin("strata"), whp);
	cli_write_all(whp, 1);
	cli_write_all(whp, 2);
	/* a scan planned now holds the row files of versions 2 and 3 */
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, false, &wh, &err), 0);
	char paths[8][4096];
	size_t np = row_files(wh, paths, 8, true);
	CU_ASSERT_EQUAL_FATAL(np, 4);
	strata_colscan *cs;
	strata_colcursor *cur;
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(wh, "t", NULL, &cs, &err), 0);
	uint32_t cols[2] = {0, 1};
	CU_ASSERT_EQUAL_FATAL(strata_colcursor_open(cs, cols, 2, 10, &cur, &err), 0);
	const strata_colbatch *b;
	int64_t rows = 0, sum = 0;
	CU_ASSERT_EQUAL_FATAL(strata_colcursor_next(cur, &b, &err), 1);
	for (size_t i = 0; i < b->nrows; i++, rows++)
		sum += ((int64_t *)b->cols[1].data)[i];
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nlog_level = info\n"
		       "[policy]\nsort.min_files = 1\nsort.max_delay_s = 0\nclean.grace_s = 0\n"
		       "clean.trash_s = 0\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	double t0 = tud_now_s();
	while (!all_sorted(wh) && tud_now_s() - t0 < 60)
		tud_sleep_ms(100);
	CU_ASSERT_FATAL(all_sorted(wh));
	tud_sleep_ms(3000); /* several scans and cleans of stratad */
	for (size_t i = 0; i < np; i++)
		CU_ASSERT_EQUAL(access(paths[i], F_OK), 0); /* the lease keeps them */
	int rc;
	while ((rc = strata_colcursor_next(cur, &b, &err)) == 1)
		for (size_t i = 0; i < b->nrows; i++, rows++)
			sum += ((int64_t *)b->cols[1].data)[i];
	if (rc < 0)
		fprintf(stderr, "\nscan under stratad: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(rows, 200);
	CU_ASSERT_EQUAL(sum, 400);
	strata_colcursor_close(cur);
	strata_colscan_close(cs);
	/* without the lease, clean deletes them */
	t0 = tud_now_s();
	bool gone = false;
	while (!gone && tud_now_s() - t0 < 60) {
		gone = true;
		for (size_t i = 0; i < np; i++)
			gone &= access(paths[i], F_OK) != 0;
		if (!gone)
			tud_sleep_ms(200);
	}
	CU_ASSERT(gone);
	strata_wh_close(wh);
	/* DuckDB reads while stratad sorts and cleans behind each commit */
	set_threads(2);
	for (int k = 3; k <= 8; k++) {
		cli_write_all(whp, k);
		char sql[4200];
		tu_lines act = {0};
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) AS c, sum(v)::BIGINT AS s, min(v) AS lo FROM strata_scan('%s', "
			 "'t')",
			 whp);
		CU_ASSERT_EQUAL(q(sql, &act, NULL, 0), 0);
		char want[128];
		snprintf(want, sizeof(want), "|c=200|s=%d|lo=%d", 200 * k, k);
		CU_ASSERT(act.n == 1 && strcmp(act.v[0], want) == 0);
		if (act.n == 1 && strcmp(act.v[0], want) != 0)
			fprintf(stderr, "\nunder stratad: expected %s, got %s\n", want, act.v[0]);
		tu_lines_free(&act);
		tud_sleep_ms(300);
	}
	set_threads(1);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

static char skip_reason[4200];

static void register_duckdb(void)
{
	CU_pSuite s = CU_add_suite("duckdb", NULL, NULL);
	TU_ADD(s, test_duckdb_types_keys);
	TU_ADD(s, test_duckdb_date_decimal);
	TU_ADD(s, test_duckdb_errors);
	TU_ADD(s, test_duckdb_join_aggregate);
	TU_ADD(s, test_duckdb_oracle);
	TU_ADD(s, test_duckdb_strings);
	TU_ADD(s, test_duckdb_stratad);
}

int main(void)
{
	if (!duck_open(skip_reason, sizeof(skip_reason))) {
		printf("SKIPPED: %s\n", skip_reason);
		return 0;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	register_duckdb();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	int rc = tu_tally();
	CU_cleanup_registry();
	duckdb_disconnect(&con);
	duckdb_close(&db);
	return rc;
}

#endif
