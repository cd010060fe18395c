/*
 * tests/test_jobs.c — the governance jobs through strata_job_execute: sort,
 * leveled merge (max_files, splitting at target_bytes only between keys),
 * partial compaction (the boundary from retention on a manual clock, which
 * records survive, the floor, earliest readable) and major compaction (with
 * and without dropping history), on small hand-made data; the file entries
 * each job leaves; schema evolution through jobs (dropped columns kept while
 * versions before the drop are readable); conflicts (inputs replaced, schema
 * changed, bucket claimed); crash recovery in a forked child stopped at the
 * executor's hook points; I/O fault injection at every call of every job
 * kind; and DuckDB reading every Parquet file a job writes.
 *
 * The promise checked throughout: a job never changes what a read at any
 * version returns (inside the window it keeps), and a failed job leaves the
 * table, the reads and the bucket directory exactly as they were.
 */
#include "cli/cli.h"
#include "daemon/daemon_int.h"
#include "jobs/jobs.h"
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#define COLS "pk BIGINT NOT NULL PRIMARY KEY, v STRING, n BIGINT"

/* ---- helpers ------------------------------------------------------------------ */

/* Every record of a job output (Parquet: it carries its schema), as JSON
 * lines with _seq and _op; *nrows receives the count. */
static char *file_records(jf *f, const strata_file_entry *e, size_t *nrows)
{
	char path[PATH_MAX];
	jf_file_path(f, e, path, sizeof(path));
	strata_run_opts ro = {0};
	strata_run *r;
	strata_err err;
	strata_buf b = {0};
	size_t n = 0;
	int rc = strata_run_open(path, &ro, &r, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		const strata_schema *s = strata_run_file_schema(r);
		const strata_row *row;
		while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
			strata_row_to_json(s, row, true, &b);
			strata_buf_putc(&b, '\n');
			n++;
		}
		CU_ASSERT_EQUAL(rc, 0);
		strata_run_close(r);
	}
	strata_buf_putc(&b, 0);
	if (nrows)
		*nrows = n;
	return (char *)b.data;
}

/* Number of lines of text containing needle. */
static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len);
		n += strstr(line, needle) != NULL;
		free(line);
		p += len;
		if (*p)
			p++;
	}
	return n;
}

static void check_clean_state(jf *f, uint32_t b)
{
	char why[512];
	int rc = jf_disk_check(f, b, why, sizeof(why));
	if (rc)
		fprintf(stderr, "\ndisk check: %s\n", why);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jf_intents(f), 0);
	CU_ASSERT_FALSE(jf_claimed(f, b));
}

static int run_clean(jf *f, int64_t grace_s, strata_clean_result *r)
{
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = grace_s;
	o.orphan_age_s = -1;
	strata_err err;
	strata_err_clear(&err);
	strata_clean_result tmp;
	int rc = strata_clean_table(f->wh, f->table, &o, r ? r : &tmp, &err);
	if (rc)
		fprintf(stderr, "\nclean: %s\n", err.msg);
	return rc;
}

/* Four commits over overlapping keys with upserts and deletes. */
static void write_history(jf *f)
{
	jf_put(f, "{\"pk\":1,\"v\":\"a1\",\"n\":1}\n{\"pk\":2,\"v\":\"b1\"}\n{\"pk\":3,\"v\":\"c1\",\"n\":3}\n"
		  "{\"pk\":4,\"v\":\"d1\"}\n{\"pk\":5,\"v\":\"e1\",\"n\":5}");
	jf_put(f, "{\"pk\":2,\"v\":\"b2\",\"n\":22}\n{\"pk\":3,\"v\":\"c2\"}\n{\"pk\":4,\"_op\":\"delete\"}");
	jf_put(f, "{\"pk\":4,\"v\":\"d3\"}\n{\"pk\":1,\"_op\":\"delete\"}");
	jf_put(f, "{\"pk\":2,\"v\":\"b4\",\"n\":24}\n{\"pk\":6,\"v\":\"f4\"}");
}

/* ---- sort ----------------------------------------------------------------------- */

static void test_sort_history_kept(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write_history(&f); /* versions 2..5 */
	CU_ASSERT_EQUAL(jf_version(&f), 5);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *before;
	CU_ASSERT_EQUAL(jf_live(&f, 0, a, &before), 4);
	char *changes = jf_changes(&f, 1, 5, NULL);
	CU_ASSERT_EQUAL(count_lines_with(changes, "\"_seq\":"), 12);

	strata_job_result res;
	strata_err err;
	strata_err_clear(&err);
	int rc = jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\nsort: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(res.version, 6);
	CU_ASSERT_EQUAL(res.files_in, 4);
	CU_ASSERT_EQUAL(res.files_out, 1);
	CU_ASSERT_EQUAL(res.rows_in, 12);
	CU_ASSERT_EQUAL(res.rows_out, 12);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 5), 0);
	char *d5 = jf_dump_at(&f, 5, NULL), *d6 = jf_dump_at(&f, 6, NULL);
	CU_ASSERT_STRING_EQUAL(d5, d6);
	/* the sort's records are not new data: changes read the same */
	char *changes_after = jf_changes(&f, 1, 6, NULL);
	CU_ASSERT_STRING_EQUAL(changes_after, changes);
	free(changes_after);
	free(changes);
	free(d5);
	free(d6);

	strata_file_entry *live;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_EQUAL(live[0].level, 1);
	CU_ASSERT_EQUAL(live[0].format, STRATA_FMT_PARQUET);
	CU_ASSERT_EQUAL(live[0].seq_min, 2);
	CU_ASSERT_EQUAL(live[0].seq_max, 5);
	CU_ASSERT_EQUAL(live[0].rows, 12);
	CU_ASSERT_EQUAL(live[0].tombstones, 2);
	CU_ASSERT_EQUAL(live[0].added_version, 6);
	CU_ASSERT_EQUAL(live[0].job_id, res.job_id);
	strata_file_entry *all;
	size_t n = jf_entries(&f, 0, a, &all);
	CU_ASSERT_EQUAL(n, 5);
	for (size_t i = 0; i < n; i++) {
		if (all[i].id == live[0].id)
			continue;
		CU_ASSERT_EQUAL(all[i].level, 0);
		CU_ASSERT_EQUAL(all[i].removed_version, 6);
		CU_ASSERT_TRUE(all[i].removed_kept_history);
		CU_ASSERT_FALSE(all[i].is_deleted);
	}
	/* the records: key ascending, _seq descending, every one kept */
	size_t nrec;
	char *recs = file_records(&f, &live[0], &nrec);
	CU_ASSERT_EQUAL(nrec, 12);
	const char *want =
		"{\"pk\":1,\"v\":null,\"n\":null,\"_seq\":4,\"_op\":\"delete\"}\n"
		"{\"pk\":1,\"v\":\"a1\",\"n\":1,\"_seq\":2,\"_op\":\"upsert\"}\n"
		"{\"pk\":2,\"v\":\"b4\",\"n\":24,\"_seq\":5,\"_op\":\"upsert\"}\n";
	if (strncmp(recs, want, strlen(want)) != 0)
		fprintf(stderr, "\nsorted records:\n%s", recs);
	CU_ASSERT(strncmp(recs, want, strlen(want)) == 0);
	CU_ASSERT_EQUAL(count_lines_with(recs, "\"pk\":4,"), 3);
	free(recs);
	strata_bucket_state bs;
	jf_bucket_state(&f, 0, &bs);
	CU_ASSERT_EQUAL(bs.floor, 0);
	check_clean_state(&f, 0);
	/* nothing left to sort */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 1);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* sort.max_bytes bounds the inputs, oldest first (at least one file). */
static void test_sort_max_bytes(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write_history(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_job_result res;
	strata_err err;
	jf_job_opts o = {.merge_level = -1, .sort_max_bytes = 1};
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, &o, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.files_in, 1);
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	size_t n = jf_live(&f, 0, a, &live);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(live[0].level, 1); /* the oldest commit, now sorted */
	CU_ASSERT_EQUAL(live[0].seq_min, 2);
	CU_ASSERT_EQUAL(live[0].seq_max, 2);
	for (size_t i = 1; i < n; i++)
		CU_ASSERT_EQUAL(live[i].level, 0);
	/* the rest in one go */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.files_in, 3);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 5), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- merge ---------------------------------------------------------------------- */

static void test_merge_levels(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	strata_job_result res;
	strata_err err;
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}"); /* 2 */
	jf_put(&f, "{\"pk\":2,\"v\":\"b3\"}\n{\"pk\":3,\"v\":\"c\"}");  /* 3 */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 4 */
	jf_put(&f, "{\"pk\":1,\"_op\":\"delete\"}\n{\"pk\":4,\"v\":\"d\"}");  /* 5 */
	jf_put(&f, "{\"pk\":2,\"v\":\"b6\"}\n{\"pk\":3,\"_op\":\"delete\"}"); /* 6 */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 7 */
	jf_put(&f, "{\"pk\":1,\"v\":\"a8\"}");                                 /* 8 */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 9 */
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 3);
	uint64_t id_a = live[0].id, id_b = live[1].id, id_c = live[2].id;

	/* two oldest level-1 files -> level 2 */
	jf_job_opts o = {.merge_level = -1, .merge_max_files = 2};
	int rc = jf_job(&f, 0, JF_MERGE, &o, NULL, &res, &err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(res.files_in, 2);
	CU_ASSERT_EQUAL(res.files_out, 1);
	CU_ASSERT_EQUAL(res.rows_out, 8);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	size_t n = jf_live(&f, 0, a, &live);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(live[0].level, 2);
	CU_ASSERT_EQUAL(live[0].seq_min, 2);
	CU_ASSERT_EQUAL(live[0].seq_max, 6);
	CU_ASSERT_EQUAL(live[0].rows, 8);
	CU_ASSERT_EQUAL(live[0].tombstones, 2);
	CU_ASSERT_EQUAL(live[1].id, id_c);
	CU_ASSERT_EQUAL(live[1].level, 1);
	strata_file_entry *all;
	size_t na = jf_entries(&f, 0, a, &all);
	for (size_t i = 0; i < na; i++)
		if (all[i].id == id_a || all[i].id == id_b) {
			CU_ASSERT_EQUAL(all[i].removed_version, res.version);
			CU_ASSERT_TRUE(all[i].removed_kept_history);
		}
	/* one file per level left: nothing to merge */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MERGE, NULL, NULL, &res, &err), 1);
	/* an explicit level with one file: nothing either */
	o.merge_level = 1;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MERGE, &o, NULL, &res, &err), 1);
	/* a paired merge: the file of level 1 and the one of level 2 -> level 3,
	 * every record kept, every version reading as before */
	o.merge_through = 2;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MERGE, &o, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.files_in, 2);
	CU_ASSERT_EQUAL(res.files_out, 1);
	CU_ASSERT_EQUAL(res.rows_out, 9);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	n = jf_live(&f, 0, a, &live);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(live[0].level, 3);
	CU_ASSERT_EQUAL(live[0].seq_min, 2);
	CU_ASSERT_EQUAL(live[0].seq_max, 8);
	/* a range with one file in it: nothing */
	o.merge_level = 1;
	o.merge_through = 3;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MERGE, &o, NULL, &res, &err), 1);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Deterministic filler: hex digits from a 64-bit LCG (barely compressible). */
static void hex_fill(uint64_t *state, char *out, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		*state = *state * 6364136223846793005ull + 1442695040888963407ull;
		out[i] = hx[(*state >> 59) & 15];
	}
	out[n] = '\0';
}

/* Outputs split at target_bytes, never inside one key's history. */
static void test_merge_split_between_keys(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	uint64_t st = 42;
	char val[401];
	strata_buf b = {0};
	strata_job_result res;
	strata_err err;
	int versions_of_20 = 0;
	for (int round = 0; round < 2; round++) {
		strata_buf_reset(&b);
		for (int k = 0; k < 40; k++) {
			hex_fill(&st, val, 300);
			strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"%s\",\"n\":%d}\n", k, val, round);
		}
		strata_buf_putc(&b, 0);
		jf_put(&f, (char *)b.data);
		versions_of_20++;
		for (int i = 0; i < 15; i++) {
			strata_buf_reset(&b);
			hex_fill(&st, val, 400);
			strata_buf_printf(&b, "{\"pk\":20,\"v\":\"%s\",\"n\":%d}\n", val, i);
			strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"x\"}\n", (i * 7) % 40 == 20 ? 21 : (i * 7) % 40);
			if (i % 4 == 3)
				strata_buf_printf(&b, "{\"pk\":%d,\"_op\":\"delete\"}\n", 30 + i % 10);
			strata_buf_putc(&b, 0);
			jf_put(&f, (char *)b.data);
			versions_of_20++;
		}
		CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	}
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *in;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &in), 2);
	uint64_t rows_in = in[0].rows + in[1].rows;

	jf_job_opts o = {.merge_level = 1, .merge_max_files = 8, .target_bytes = 3000};
	int rc = jf_job(&f, 0, JF_MERGE, &o, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\nmerge: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(res.files_out >= 3);
	CU_ASSERT_EQUAL(res.rows_out, rows_in);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_file_entry *out;
	size_t n = jf_outputs(&f, 0, res.job_id, a, &out);
	CU_ASSERT_EQUAL_FATAL(n, res.files_out);
	uint64_t rows = 0;
	int files_with_20 = 0;
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(out[i].level, 2);
		rows += out[i].rows;
		/* no key in two outputs: key ranges strictly ordered */
		if (i > 0)
			CU_ASSERT(strata_key_cmp(out[i - 1].key_max, out[i - 1].key_max_len,
						 out[i].key_min, out[i].key_min_len) < 0);
		size_t nrec;
		char *recs = file_records(&f, &out[i], &nrec);
		CU_ASSERT_EQUAL(nrec, out[i].rows);
		int c = count_lines_with(recs, "{\"pk\":20,");
		if (c) {
			files_with_20++;
			CU_ASSERT_EQUAL(c, versions_of_20);
		}
		free(recs);
	}
	CU_ASSERT_EQUAL(rows, rows_in);
	CU_ASSERT_EQUAL(files_with_20, 1);
	check_clean_state(&f, 0);
	strata_buf_free(&b);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- partial compaction ------------------------------------------------------------ */

static void test_partial_compaction(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a1\"}\n{\"pk\":2,\"v\":\"b1\"}\n{\"pk\":3,\"v\":\"c1\"}\n"
		   "{\"pk\":4,\"v\":\"d1\"}\n{\"pk\":5,\"v\":\"e1\"}");                  /* 2 */
	jf_put(&f, "{\"pk\":1,\"v\":\"a2\"}\n{\"pk\":2,\"_op\":\"delete\"}\n{\"pk\":3,\"v\":\"c2\"}\n"
		   "{\"pk\":5,\"_op\":\"delete\"}");                                          /* 3 */
	jf_put(&f, "{\"pk\":1,\"v\":\"a3\"}\n{\"pk\":3,\"_op\":\"delete\"}");          /* 4 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"a4\"}\n{\"pk\":3,\"v\":\"c5\"}\n{\"pk\":4,\"v\":\"d5\"}"); /* 5 */
	jf_put(&f, "{\"pk\":2,\"v\":\"b6\"}");                                          /* 6 */
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);      /* 7 */
	jf_hist h;
	jf_hist_take(&f, &h);

	strata_bucket_view v;
	strata_job_plan plan;
	CU_ASSERT_EQUAL(jf_plan(&f, 0, JF_PARTIAL, NULL, &v, &plan), 1);
	CU_ASSERT_EQUAL(v.retain_boundary, 4);
	CU_ASSERT_EQUAL(strata_compact_boundary(&v), 4);
	CU_ASSERT_EQUAL(plan.boundary, 4);
	CU_ASSERT_EQUAL(plan.new_floor, 4);
	strata_bucket_view_free(&v);

	int rc = jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\npartial: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(res.version, 8);
	/* before clean the replaced file still answers the old versions */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_bucket_state bs;
	jf_bucket_state(&f, 0, &bs);
	CU_ASSERT_EQUAL(bs.floor, 4);
	CU_ASSERT_EQUAL_FATAL(bs.nlog, 1);
	CU_ASSERT_EQUAL(bs.log[0].commit_version, 8);
	CU_ASSERT_EQUAL(bs.log[0].boundary, 4);
	uint64_t er = 0, ei = 0;
	CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
	CU_ASSERT_EQUAL(er, 1);
	CU_ASSERT_EQUAL(ei, 4);

	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_EQUAL(live[0].level, 1);
	CU_ASSERT_EQUAL(live[0].rows, 6);
	CU_ASSERT_EQUAL(live[0].tombstones, 0);
	CU_ASSERT_EQUAL(live[0].seq_min, 2);
	CU_ASSERT_EQUAL(live[0].seq_max, 6);
	size_t nrec;
	char *recs = file_records(&f, &live[0], &nrec);
	const char *want =
		/* > B kept, newest <= B kept, older dropped */
		"{\"pk\":1,\"v\":\"a4\",\"n\":null,\"_seq\":5,\"_op\":\"upsert\"}\n"
		"{\"pk\":1,\"v\":\"a3\",\"n\":null,\"_seq\":4,\"_op\":\"upsert\"}\n"
		/* newest <= B a delete: dropped with everything older */
		"{\"pk\":2,\"v\":\"b6\",\"n\":null,\"_seq\":6,\"_op\":\"upsert\"}\n"
		"{\"pk\":3,\"v\":\"c5\",\"n\":null,\"_seq\":5,\"_op\":\"upsert\"}\n"
		"{\"pk\":4,\"v\":\"d5\",\"n\":null,\"_seq\":5,\"_op\":\"upsert\"}\n"
		"{\"pk\":4,\"v\":\"d1\",\"n\":null,\"_seq\":2,\"_op\":\"upsert\"}\n";
	if (strcmp(recs, want) != 0)
		fprintf(stderr, "\npartial output:\n%s", recs);
	CU_ASSERT_STRING_EQUAL(recs, want);
	free(recs);
	check_clean_state(&f, 0);

	/* once clean has taken the replaced file, versions < B are gone and every
	 * version >= B still reads the same */
	tu_clock_advance(600 * 1000000LL);
	strata_clean_result cr;
	CU_ASSERT_EQUAL(run_clean(&f, 300, &cr), 0);
	CU_ASSERT_EQUAL(cr.files_deleted, 6); /* the sort's 5 row files and the partial's input */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 4, 0), 0);
	for (uint64_t ver = 1; ver < 4; ver++) {
		int drc;
		strata_read_opts ro = {.as_of_version = ver};
		char *d = jf_dump(&f, &ro, &drc, &err);
		CU_ASSERT_EQUAL(drc, STRATA_ERETENTION);
		CU_ASSERT(strstr(err.msg, "outside the retention window") != NULL);
		free(d);
	}
	CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
	CU_ASSERT_EQUAL(er, 4);
	CU_ASSERT_EQUAL(ei, 4);
	/* the floor is at the boundary: nothing more to compact */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err), 1);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Without any version older than the retention window there is nothing to
 * compact. */
static void test_partial_nothing_old(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write_history(&f);
	strata_job_result res;
	strata_err err;
	/* the table itself (version 1) is older than an hour; its data is not */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err), 1);
	tu_clock_advance(JF_HOUR_US - 10 * 1000000LL);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err), 1);
	jf_close(&f);
	tu_clock_real();
}

/* ---- major compaction ----------------------------------------------------------------- */

static void major_case(bool drop_history)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	write_history(&f);                                                /* 2..5 */
	jf_put(&f, "{\"pk\":7,\"v\":\"g\"}\n{\"pk\":5,\"_op\":\"delete\"}"); /* 6 */
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 7 */
	jf_put(&f, "{\"pk\":3,\"v\":\"c8\"}");                               /* 8 */
	jf_hist h;
	jf_hist_take(&f, &h);
	tu_clock_advance(600 * 1000000LL);
	int rc = jf_job(&f, 0, drop_history ? JF_MAJOR_DROP : JF_MAJOR, NULL, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\nmajor: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(res.version, 9);
	CU_ASSERT_EQUAL(res.files_in, 2);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_bucket_state bs;
	jf_bucket_state(&f, 0, &bs);
	CU_ASSERT_EQUAL(bs.floor, 8); /* the planning version */
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_EQUAL(live[0].level, 1);
	CU_ASSERT_EQUAL(live[0].tombstones, 0);
	CU_ASSERT_EQUAL(live[0].rows, 5); /* keys 2, 3, 4, 6, 7 */
	size_t nrec;
	char *recs = file_records(&f, &live[0], &nrec);
	const char *want = "{\"pk\":2,\"v\":\"b4\",\"n\":24,\"_seq\":5,\"_op\":\"upsert\"}\n"
			   "{\"pk\":3,\"v\":\"c8\",\"n\":null,\"_seq\":8,\"_op\":\"upsert\"}\n"
			   "{\"pk\":4,\"v\":\"d3\",\"n\":null,\"_seq\":4,\"_op\":\"upsert\"}\n"
			   "{\"pk\":6,\"v\":\"f4\",\"n\":null,\"_seq\":5,\"_op\":\"upsert\"}\n"
			   "{\"pk\":7,\"v\":\"g\",\"n\":null,\"_seq\":6,\"_op\":\"upsert\"}\n";
	if (strcmp(recs, want) != 0)
		fprintf(stderr, "\nmajor output:\n%s", recs);
	CU_ASSERT_STRING_EQUAL(recs, want);
	free(recs);
	strata_file_entry *all;
	size_t na = jf_entries(&f, 0, a, &all);
	for (size_t i = 0; i < na; i++)
		if (all[i].removed_version == 9)
			CU_ASSERT_EQUAL(all[i].removed_kept_history, drop_history);
	check_clean_state(&f, 0);

	/* clean after the grace period */
	tu_clock_advance(600 * 1000000LL);
	strata_clean_result cr;
	CU_ASSERT_EQUAL(run_clean(&f, 300, &cr), 0);
	CU_ASSERT_EQUAL(cr.version, 10);
	/* the sort's five row files go after grace in both cases */
	if (drop_history) {
		CU_ASSERT_EQUAL(cr.files_deleted, 5 + 2);
		/* (version 1 holds no record, so no deleted file is missing for it) */
		for (uint64_t ver = 2; ver < 8; ver++) {
			int drc;
			strata_read_opts ro = {.as_of_version = ver};
			char *d = jf_dump(&f, &ro, &drc, &err);
			CU_ASSERT_EQUAL(drc, STRATA_ERETENTION);
			CU_ASSERT(strstr(err.msg, "outside the retention window") != NULL);
			free(d);
		}
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 8, 0), 0);
	} else {
		/* inside retention: the replaced files stay and time travel works */
		CU_ASSERT_EQUAL(cr.files_deleted, 5);
		CU_ASSERT_EQUAL(cr.kept_retention, 2);
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
		/* once the major compaction's version leaves the window, they go */
		tu_clock_advance(2 * JF_HOUR_US);
		jf_put(&f, "{\"pk\":9,\"v\":\"i\"}");
		CU_ASSERT_EQUAL(run_clean(&f, 300, &cr), 0);
		CU_ASSERT_EQUAL(cr.files_deleted, 2);
		/* the window now starts at the first clean's commit (version 10) */
		char *d10 = jf_dump_at(&f, 10, NULL);
		CU_ASSERT_STRING_EQUAL(d10, h.d[8]);
		free(d10);
		for (uint64_t ver = 2; ver < 10; ver++) {
			int drc;
			char *d = jf_dump_at(&f, ver, &drc);
			CU_ASSERT_EQUAL(drc, STRATA_ERETENTION);
			free(d);
		}
	}
	uint64_t er = 0, ei = 0;
	CU_ASSERT_EQUAL(strata_table_earliest(f.wh, f.table, &er, &ei, &err), 0);
	CU_ASSERT_EQUAL(er, drop_history ? 8 : 10);
	CU_ASSERT_EQUAL(ei, 8);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

static void test_major_keep_history(void)
{
	major_case(false);
}

static void test_major_drop_history(void)
{
	major_case(true);
}

/* A bucket that is one columnar file with every key once and no delete has
 * nothing a major compaction could drop: the plan is empty and nothing is
 * committed.  A repeated key or a delete makes a file not compact; with
 * --drop-history the job still runs. */
static void test_major_of_compact_bucket(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	strata_job_result res;
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	/* one row file: compact, but level 0, so a major still makes it columnar */
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}");
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_TRUE(live[0].is_compact);
	CU_ASSERT_EQUAL(live[0].level, 0);
	/* a second commit repeats key 1: the sort's output holds it twice */
	jf_put(&f, "{\"pk\":1,\"v\":\"c\"}\n{\"pk\":3,\"v\":\"d\"}");
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_FALSE(live[0].is_compact);
	CU_ASSERT_EQUAL(live[0].rows, 4);
	/* the major compaction keeps one record a key: its output is compact */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.rows_out, 3);
	CU_ASSERT_EQUAL_FATAL(jf_live(&f, 0, a, &live), 1);
	CU_ASSERT_TRUE(live[0].is_compact);
	/* so a second one has nothing to do and commits nothing */
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 1);
	CU_ASSERT_EQUAL(jf_version(&f), version);
	/* dropping history still runs */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_version(&f), version + 1);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, version, 0), 0);
	/* a delete: that row file is not compact, and the bucket has work again */
	jf_put(&f, "{\"pk\":2,\"_op\":\"delete\"}");
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.rows_out, 2);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 1);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* A major compaction of a bucket whose keys are all deleted writes nothing. */
static void test_major_all_deleted(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}");
	jf_put(&f, "{\"pk\":1,\"_op\":\"delete\"}\n{\"pk\":2,\"_op\":\"delete\"}");
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR_DROP, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.files_out, 0);
	CU_ASSERT_EQUAL(res.rows_out, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *live;
	CU_ASSERT_EQUAL(jf_live(&f, 0, a, &live), 0);
	check_clean_state(&f, 0);
	/* nothing left to compact */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 1);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Two buckets: a job on one leaves the other alone. */
static void test_two_buckets(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 2, 1);
	strata_buf b = {0};
	for (int round = 0; round < 3; round++) {
		strata_buf_reset(&b);
		for (int k = 0; k < 20; k++)
			if ((k + round) % 3 == 0)
				strata_buf_printf(&b, "{\"pk\":%d,\"_op\":\"delete\"}\n", k);
			else
				strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"r%d\",\"n\":%d}\n", k, round, k);
		strata_buf_putc(&b, 0);
		jf_put(&f, (char *)b.data);
	}
	strata_buf_free(&b);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_arena *a = strata_arena_new();
	strata_file_entry *l1;
	size_t n1 = jf_live(&f, 1, a, &l1);
	CU_ASSERT_EQUAL(n1, 3);
	strata_job_result res;
	strata_err err;
	for (jf_kind k = JF_SORT; k <= JF_MAJOR; k++) {
		if (k == JF_MERGE || k == JF_PARTIAL)
			continue;
		CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, k, NULL, NULL, &res, &err), 0);
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	}
	strata_file_entry *l1b;
	CU_ASSERT_EQUAL(jf_live(&f, 1, a, &l1b), 3);
	for (size_t i = 0; i < n1; i++)
		CU_ASSERT_EQUAL(l1[i].id, l1b[i].id);
	strata_bucket_state bs;
	jf_bucket_state(&f, 1, &bs);
	CU_ASSERT_EQUAL(bs.floor, 0);
	jf_bucket_state(&f, 0, &bs);
	CU_ASSERT_EQUAL(bs.floor, 5);
	check_clean_state(&f, 0);
	check_clean_state(&f, 1);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Regression: a job output whose first page of its first column has an
 * empty string as its minimum (the Parquet writer copied one byte from a
 * never-allocated statistics buffer and crashed). */
static void test_empty_string_first_column(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "s STRING NOT NULL PRIMARY KEY, b BINARY, n INT", 1, 1);
	jf_put(&f, "{\"s\":\"\",\"b\":\"\",\"n\":1}\n{\"s\":\"a\",\"n\":2}");
	jf_put(&f, "{\"s\":\"\",\"_op\":\"delete\"}\n{\"s\":\"b\",\"b\":\"\"}");
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(res.rows_out, 4);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *out;
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	size_t nrec;
	char *recs = file_records(&f, &out[0], &nrec);
	CU_ASSERT_STRING_EQUAL(recs, "{\"s\":\"\",\"b\":null,\"n\":null,\"_seq\":3,\"_op\":\"delete\"}\n"
				     "{\"s\":\"\",\"b\":\"\",\"n\":1,\"_seq\":2,\"_op\":\"upsert\"}\n"
				     "{\"s\":\"a\",\"b\":null,\"n\":2,\"_seq\":2,\"_op\":\"upsert\"}\n"
				     "{\"s\":\"b\",\"b\":\"\",\"n\":null,\"_seq\":3,\"_op\":\"upsert\"}\n");
	free(recs);
	/* and a point lookup of the empty key through the page index */
	json_t *key = json_pack("{s:s}", "s", "");
	strata_row row;
	strata_read_opts ro = {.as_of_version = 2};
	CU_ASSERT_EQUAL(strata_get_json(f.wh, f.table, key, &ro, a, &row, NULL, NULL, &err), 1);
	CU_ASSERT_EQUAL(strata_get_json(f.wh, f.table, key, NULL, a, &row, NULL, NULL, &err), 0);
	json_decref(key);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* Cancellation stops a job at a block boundary: nothing committed, nothing
 * left behind. */
static void test_cancel(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	strata_buf b = {0};
	for (int k = 0; k < 5000; k++)
		strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"v%d\"}\n", k, k);
	strata_buf_putc(&b, 0);
	jf_put(&f, (char *)b.data);
	jf_put(&f, "{\"pk\":1,\"_op\":\"delete\"}");
	strata_buf_free(&b);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	volatile int cancel = 1;
	strata_job_ctl ctl = {.owner = f.owner, .cancel = &cancel};
	for (jf_kind k = JF_SORT; k <= JF_MAJOR_DROP; k++) {
		if (k == JF_MERGE || k == JF_PARTIAL)
			continue;
		strata_job_result res;
		strata_err err;
		int rc = jf_job(&f, 0, k, NULL, &ctl, &res, &err);
		CU_ASSERT_EQUAL(rc, STRATA_ECANCELED);
		CU_ASSERT(strstr(err.msg, "cancelled") != NULL);
		CU_ASSERT_EQUAL(jf_version(&f), version);
		CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
		check_clean_state(&f, 0);
	}
	cancel = 0;
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, &ctl, &res, &err), 0);
	CU_ASSERT_EQUAL(res.rows_out, 5001);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* ---- schema evolution ------------------------------------------------------------------ */

/* Whether the physical schema of a job output has column id `id` (and its
 * name, if name is not NULL). */
static bool output_has_col(jf *f, const strata_file_entry *e, uint32_t id, char *name, size_t n)
{
	char path[PATH_MAX];
	jf_file_path(f, e, path, sizeof(path));
	strata_run_opts ro = {0};
	strata_run *r;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &err), 0);
	const strata_schema *s = strata_run_file_schema(r);
	int i = strata_schema_find_id(s, id);
	if (i >= 0 && name)
		snprintf(name, n, "%s", s->cols[i].name);
	strata_run_close(r);
	return i >= 0;
}

static void ddl(jf *f, const char *add, const char *drop)
{
	strata_err err;
	strata_err_clear(&err);
	uint64_t v;
	int rc = add ? strata_table_add_columns(f->wh, f->table, add, &v, &err) :
		       strata_table_drop_column(f->wh, f->table, drop, &v, &err);
	if (rc)
		fprintf(stderr, "\nddl: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	tu_clock_advance(1000000);
}

/* Add a column, write it, drop it, add another of the same name; jobs keep
 * the dropped column while a version before the drop stays readable through
 * their outputs, and major compaction (floor above the drop) leaves it out. */
static void test_schema_evolution(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}\n{\"pk\":3,\"v\":\"c\"}"); /* 2 */
	ddl(&f, "c INT", NULL);                                                            /* 3 */
	jf_put(&f, "{\"pk\":1,\"c\":10}\n{\"pk\":2,\"v\":\"b4\",\"c\":20}\n{\"pk\":4,\"c\":40}");  /* 4 */
	tu_clock_advance(2 * JF_HOUR_US);
	ddl(&f, NULL, "c");                                                                /* 5 */
	jf_put(&f, "{\"pk\":1,\"v\":\"x\"}\n{\"pk\":3,\"_op\":\"delete\"}");           /* 6 */
	ddl(&f, "c BIGINT", NULL);                                                         /* 7 */
	jf_put(&f, "{\"pk\":2,\"c\":222}");                                             /* 8 */
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT(strstr(h.d[4], "{\"pk\":1,\"v\":null,\"c\":10,") != NULL);
	CU_ASSERT(strstr(h.d[8], "{\"pk\":2,\"v\":null,\"c\":222,") != NULL);

	strata_job_result res;
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_file_entry *out;
	char name[80];
	/* sort: the dropped column (id 3) is kept, renamed beside the new "c" */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 9 */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	CU_ASSERT_TRUE(output_has_col(&f, &out[0], 3, name, sizeof(name)));
	CU_ASSERT(strcmp(name, "c") != 0);
	CU_ASSERT_TRUE(output_has_col(&f, &out[0], 4, name, sizeof(name)));
	CU_ASSERT_STRING_EQUAL(name, "c");

	/* merge with a second level-1 file */
	jf_put(&f, "{\"pk\":5,\"v\":\"e\",\"c\":5}"); /* 10 */
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0); /* 11 */
	jf_hist_free(&h);
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MERGE, NULL, NULL, &res, &err), 0); /* 12 */
	CU_ASSERT_EQUAL(res.files_in, 2);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	CU_ASSERT_TRUE(output_has_col(&f, &out[0], 3, NULL, 0));

	/* partial compaction with the boundary before the drop (version 4) */
	strata_bucket_view v;
	strata_job_plan plan;
	jf_plan(&f, 0, JF_PARTIAL, NULL, &v, &plan);
	CU_ASSERT_EQUAL(plan.boundary, 4);
	strata_bucket_view_free(&v);
	jf_hist_free(&h);
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err), 0); /* 13 */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	CU_ASSERT_TRUE(output_has_col(&f, &out[0], 3, NULL, 0));
	/* after clean the partial output alone answers version 4: c is there */
	tu_clock_advance(600 * 1000000LL);
	CU_ASSERT_EQUAL(run_clean(&f, 300, NULL), 0);
	char *d4 = jf_dump_at(&f, 4, NULL);
	CU_ASSERT_STRING_EQUAL(d4, h.d[4]);
	CU_ASSERT(strstr(d4, "\"c\":20") != NULL);
	free(d4);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 4, 0), 0);

	/* major compaction: the floor passes the drop, the column goes */
	jf_hist_free(&h);
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 4, 0), 0);
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	CU_ASSERT_FALSE(output_has_col(&f, &out[0], 3, NULL, 0));
	CU_ASSERT_TRUE(output_has_col(&f, &out[0], 4, name, sizeof(name)));
	CU_ASSERT_STRING_EQUAL(name, "c");
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* A kept dropped column is renamed when a current column has its name; the
 * new name must be free too, or no job could write the bucket again. */
static void test_dropped_column_rename_taken(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 1);
	ddl(&f, "c INT", NULL);                                    /* 2; id 3 */
	jf_put(&f, "{\"pk\":1,\"v\":\"a\",\"c\":7}");          /* 3 */
	ddl(&f, NULL, "c");                                        /* 4 */
	ddl(&f, "c STRING, c_dropped_3 BIGINT", NULL);             /* 5; ids 4, 5 */
	jf_put(&f, "{\"pk\":2,\"c\":\"x\",\"c_dropped_3\":9}"); /* 6 */
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT(strstr(h.d[3], "\"c\":7") != NULL);
	strata_job_result res;
	strata_err err;
	strata_err_clear(&err);
	int rc = jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\nsort: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *out;
	CU_ASSERT_EQUAL_FATAL(jf_outputs(&f, 0, res.job_id, a, &out), 1);
	for (uint32_t id = 3; id <= 5; id++)
		CU_ASSERT_TRUE(output_has_col(&f, &out[0], id, NULL, 0));
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	strata_arena_free(a);
	jf_close(&f);
	tu_clock_real();
}

/* ---- conflicts ---------------------------------------------------------------------------- */

/* Level-1 files from two sorts, history older than retention, a fresh row
 * file: every job kind has something to do. */
static void conflict_fixture(jf *f)
{
	tu_clock_manual(JF_T0_US);
	jf_open(f, COLS, 1, 1);
	strata_job_result res;
	strata_err err;
	jf_put(f, "{\"pk\":1,\"v\":\"a\"}\n{\"pk\":2,\"v\":\"b\"}");
	jf_put(f, "{\"pk\":2,\"_op\":\"delete\"}\n{\"pk\":3,\"v\":\"c\"}");
	CU_ASSERT_EQUAL_FATAL(jf_job(f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	jf_put(f, "{\"pk\":1,\"v\":\"a5\"}\n{\"pk\":4,\"v\":\"d\"}");
	jf_put(f, "{\"pk\":3,\"_op\":\"delete\"}");
	CU_ASSERT_EQUAL_FATAL(jf_job(f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(f, "{\"pk\":2,\"v\":\"b9\"}"); /* 8; the retention boundary is 7 */
}

/* After a failed job: version, reads and directory as before, no intent,
 * no claim. */
static void check_unchanged(jf *f, uint64_t version, const jf_hist *h)
{
	CU_ASSERT_EQUAL(jf_version(f), version);
	CU_ASSERT_EQUAL(jf_hist_diff(f, h, 1, 0), 0);
	check_clean_state(f, 0);
}

/* Plan `a`, let `b` commit on the same bucket, then execute a's plan. */
static void conflict_case(jf_kind a, jf_kind b)
{
	jf f;
	conflict_fixture(&f);
	strata_bucket_view va;
	strata_job_plan pa;
	CU_ASSERT_FATAL(jf_plan(&f, 0, a, NULL, &va, &pa) > 0);
	strata_job_result res;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, b, NULL, NULL, &res, &err), 0);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	strata_job_ctl ctl = {.owner = f.owner};
	int rc = strata_job_execute(f.wh, &va, &pa, &ctl, &res, &err);
	if (rc != STRATA_ECONFLICT)
		fprintf(stderr, "\n%s after %s: rc %d: %s\n", jf_kind_name(a), jf_kind_name(b), rc,
			err.msg);
	CU_ASSERT_EQUAL(rc, STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(res.version, 0);
	CU_ASSERT(strstr(err.msg, "removed at version") != NULL);
	CU_ASSERT(res.job_id != 0);
	check_unchanged(&f, version, &h);
	strata_bucket_view_free(&va);
	/* replanned, it runs */
	rc = jf_job(&f, 0, a, NULL, NULL, &res, &err);
	CU_ASSERT(rc == 0 || rc == 1);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, a == JF_PARTIAL ? 7 : 1, 0), 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

static void test_conflict_inputs_replaced(void)
{
	conflict_case(JF_SORT, JF_SORT);
	conflict_case(JF_MERGE, JF_MERGE);
	conflict_case(JF_PARTIAL, JF_MAJOR);
	conflict_case(JF_MAJOR, JF_SORT);
	conflict_case(JF_MERGE, JF_PARTIAL);
}

static void test_conflict_schema_changed(void)
{
	for (jf_kind k = JF_SORT; k <= JF_MAJOR_DROP; k++) {
		jf f;
		conflict_fixture(&f);
		strata_bucket_view va;
		strata_job_plan pa;
		CU_ASSERT_FATAL(jf_plan(&f, 0, k, NULL, &va, &pa) > 0);
		ddl(&f, "extra STRING", NULL);
		uint64_t version = jf_version(&f);
		jf_hist h;
		jf_hist_take(&f, &h);
		strata_job_result res;
		strata_err err;
		strata_job_ctl ctl = {.owner = f.owner};
		int rc = strata_job_execute(f.wh, &va, &pa, &ctl, &res, &err);
		CU_ASSERT_EQUAL(rc, STRATA_ECONFLICT);
		CU_ASSERT(strstr(err.msg, "schema") != NULL);
		check_unchanged(&f, version, &h);
		strata_bucket_view_free(&va);
		jf_hist_free(&h);
		jf_close(&f);
		tu_clock_real();
	}
}

static void test_busy_claim(void)
{
	jf f;
	conflict_fixture(&f);
	strata_table_def t;
	jf_def(&f, &t);
	strata_err err;
	strata_err_clear(&err);
	/* partition ids start at 1 */
	strata_mf_snap *snap;
	strata_partition p;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_partition_get(snap, t.id, "", &p, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(strata_mf_claim(strata_wh_mf(f.wh), t.id, p.id, 0,
					      "stratad@elsewhere:4242", 999999, 60 * 1000000LL, &err),
			      0);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	for (jf_kind k = JF_SORT; k <= JF_MAJOR_DROP; k++) {
		strata_job_result res;
		int rc = jf_job(&f, 0, k, NULL, NULL, &res, &err);
		CU_ASSERT_EQUAL(rc, STRATA_EBUSY);
		CU_ASSERT(strstr(err.msg, "stratad@elsewhere:4242") != NULL);
		CU_ASSERT_EQUAL(jf_version(&f), version);
		CU_ASSERT_EQUAL(jf_intents(&f), 0);
		char why[512];
		CU_ASSERT_EQUAL(jf_disk_check(&f, 0, why, sizeof(why)), 0);
	}
	/* the other job's claim is untouched */
	strata_claim cl;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &err), 0);
	CU_ASSERT_EQUAL(strata_mf_claim_get(snap, t.id, p.id, 0, &cl, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL(cl.job_id, 999999);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	/* one second before it expires: still busy; after: the job runs */
	tu_clock_advance(59 * 1000000LL);
	strata_job_result res;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), STRATA_EBUSY);
	tu_clock_advance(1000000LL);
	int rc = jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err);
	if (rc)
		fprintf(stderr, "\nafter expiry: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* A job too slow for its claim: another process's recovery takes its intent
 * (and outputs) between "outputs-written" and the commit, which must then
 * conflict instead of naming files that are gone. */
typedef struct slow_arg {
	jf *f;
	int64_t advance_us;
	size_t recovered;
	int rc;
} slow_arg;

static int slow_hook(void *arg, const char *point)
{
	slow_arg *s = arg;
	if (strcmp(point, "outputs-written") != 0)
		return 0;
	tu_clock_advance(s->advance_us);
	strata_err err;
	s->rc = strata_recover_intents(s->f->wh, s->f->table, &s->recovered, &err);
	return 0;
}

static void test_conflict_intent_recovered(void)
{
	jf f;
	conflict_fixture(&f);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	slow_arg sa = {.f = &f, .advance_us = 5 * 1000000LL};
	strata_job_ctl ctl = {.owner = f.owner, .claim_ttl_us = 2 * 1000000LL, .hook = slow_hook,
			      .hook_arg = &sa};
	strata_job_result res;
	strata_err err;
	int rc = jf_job(&f, 0, JF_SORT, NULL, &ctl, &res, &err);
	CU_ASSERT_EQUAL(sa.rc, 0);
	CU_ASSERT_EQUAL(sa.recovered, 1);
	CU_ASSERT_EQUAL(rc, STRATA_ECONFLICT);
	check_unchanged(&f, version, &h);
	/* with a live claim the recovery leaves the job alone */
	sa.advance_us = 0;
	sa.recovered = 0;
	ctl.claim_ttl_us = 0;
	rc = jf_job(&f, 0, JF_SORT, NULL, &ctl, &res, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(sa.recovered, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* ---- crash recovery --------------------------------------------------------------------------- */

static const char *crash_point;

static int crash_hook(void *arg, const char *point)
{
	(void)arg;
	if (strcmp(point, crash_point) == 0)
		_exit(0); /* a crash: no cleanup, no atexit */
	return 0;
}

/* Run job kind k in a child process that dies at `point`; returns the
 * child's exit status (0: it died at the hook as planned). */
static int crash_child(jf *f, jf_kind k, const char *point)
{
	jf_close_wh(f); /* an LMDB environment must not cross fork() */
	crash_point = point;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		strata_err err;
		strata_wh *wh;
		if (strata_wh_open(tu_wh_name(f->dir), false, &wh, &err) != 0)
			_exit(2);
		f->wh = wh;
		char owner[128];
		strata_owner_string("crashtest", owner, sizeof(owner));
		strata_job_ctl ctl = {.owner = owner, .hook = crash_hook};
		strata_job_result res;
		jf_job(f, 0, k, NULL, &ctl, &res, &err);
		_exit(3); /* the hook did not fire */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	jf_open_wh(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_data_one(void *ctx, const char *name, const strata_data_stat *st)
{
	(void)name;
	(void)st;
	(*(int *)ctx)++;
	return 0;
}

/* Data files under dir, locally or in the object store. */
static int count_data(const char *dir)
{
	int n = 0;
	strata_err err;
	CU_ASSERT_EQUAL(strata_data_list(dir, count_data_one, &n, &err), 0);
	return n;
}

static void crash_case(jf_kind k)
{
	jf f;
	conflict_fixture(&f);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	char dir[PATH_MAX];
	jf_bucket_dir(&f, 0, dir, sizeof(dir));
	int files_before = count_data(dir);

	/* died after its outputs were durable, before the commit */
	CU_ASSERT_EQUAL_FATAL(crash_child(&f, k, "outputs-written"), 0);
	CU_ASSERT_EQUAL(jf_version(&f), version);
	CU_ASSERT_EQUAL(jf_intents(&f), 1);
	CU_ASSERT_TRUE(jf_claimed(&f, 0));
	CU_ASSERT(count_data(dir) > files_before); /* its outputs */
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	size_t recovered = 0;
	strata_err err;
	CU_ASSERT_EQUAL(strata_recover_intents(f.wh, NULL, &recovered, &err), 0);
	CU_ASSERT_EQUAL(recovered, 1);
	CU_ASSERT_EQUAL(count_data(dir), files_before);
	check_unchanged(&f, version, &h);
	/* recovery is idempotent */
	CU_ASSERT_EQUAL(strata_recover_intents(f.wh, NULL, &recovered, &err), 0);
	CU_ASSERT_EQUAL(recovered, 0);
	/* and the bucket is free for the next job */
	strata_job_result res;
	CU_ASSERT_EQUAL(jf_job(&f, 0, k, NULL, NULL, &res, &err), 0);
	uint64_t jobs_version = jf_version(&f);
	CU_ASSERT_EQUAL(jobs_version, version + 1);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, k == JF_MAJOR_DROP || k == JF_PARTIAL ? 7 : 1, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();

	/* died right after its commit: nothing to recover, the data is right */
	conflict_fixture(&f);
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(crash_child(&f, k, "committed"), 0);
	CU_ASSERT_EQUAL(jf_version(&f), version + 1);
	CU_ASSERT_EQUAL(jf_intents(&f), 0);
	CU_ASSERT_FALSE(jf_claimed(&f, 0));
	CU_ASSERT_EQUAL(strata_recover_intents(f.wh, NULL, &recovered, &err), 0);
	CU_ASSERT_EQUAL(recovered, 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, k == JF_MAJOR_DROP || k == JF_PARTIAL ? 7 : 1, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

static void test_crash_recovery(void)
{
	for (jf_kind k = JF_SORT; k <= JF_MAJOR_DROP; k++)
		crash_case(k);
}

/* Clean also recovers crashed jobs (their owner is a dead process). */
static void test_crash_recovered_by_clean(void)
{
	jf f;
	conflict_fixture(&f);
	uint64_t version = jf_version(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(crash_child(&f, JF_MERGE, "outputs-written"), 0);
	strata_clean_result cr;
	CU_ASSERT_EQUAL(run_clean(&f, 300, &cr), 0);
	CU_ASSERT_EQUAL(cr.intents_recovered, 1);
	/* (the clean also took the sorts' inputs and the log below the boundary, version 7) */
	CU_ASSERT_EQUAL(jf_version(&f), version + (cr.version ? 1 : 0));
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 7, 0), 0);
	check_clean_state(&f, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* ---- I/O fault injection ------------------------------------------------------------------- */

/* Enough data that every job kind writes two or three outputs at a small
 * target size: two sorted files, two row files, deletes, history older than
 * retention. */
static void fault_fixture(jf *f)
{
	tu_clock_manual(JF_T0_US);
	jf_open(f, COLS, 1, 1);
	strata_job_result res;
	strata_err err;
	strata_buf b = {0};
	uint64_t st = 7;
	char val[121];
	for (int round = 0; round < 6; round++) {
		strata_buf_reset(&b);
		for (int k = round % 3; k < 24; k += 1 + round % 3) {
			hex_fill(&st, val, 120);
			if ((k + round) % 7 == 0)
				strata_buf_printf(&b, "{\"pk\":%d,\"_op\":\"delete\"}\n", k);
			else
				strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"%s\",\"n\":%d}\n", k, val,
						  round);
		}
		strata_buf_putc(&b, 0);
		jf_put(f, (char *)b.data);
		if (round == 1 || round == 3)
			CU_ASSERT_EQUAL_FATAL(jf_job(f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
		if (round == 3)
			tu_clock_advance(2 * JF_HOUR_US);
	}
	strata_buf_free(&b);
}

#define FAULT_RETAIN_BOUNDARY 7 /* the second sort */
#define FAULT_TARGET_BYTES 2200

typedef struct fault_mode {
	int err;
	bool is_short;
} fault_mode;

/* Inject every fault at every call of one job kind: EIO and ENOSPC for
 * every operation, EDQUOT for the ones that allocate space (open, pwrite,
 * fsync, close, mkdir), short writes for pwrite. */
static void fault_sweep(jf_kind k)
{
	if (tu_wh_is_s3()) {
		/* the S3 store's faults (5xx, a stopped gateway) are test_store's */
		tu_skip("injects faults through the POSIX I/O vtable; the data files are objects");
		return;
	}
	static const tu_op ops[] = {TU_OP_OPEN,   TU_OP_PREAD,  TU_OP_PWRITE,
				    TU_OP_FSYNC,  TU_OP_CLOSE,  TU_OP_RENAME,
				    TU_OP_UNLINK, TU_OP_MKDIR,  TU_OP_OPENDIR,
				    TU_OP_STAT};
	static const fault_mode modes[] = {{EIO, false}, {ENOSPC, false}, {EDQUOT, false},
					   {0, true}};
	jf_job_opts o = {.merge_level = -1, .target_bytes = FAULT_TARGET_BYTES};
	jf f;
	jf_tmpl tmpl;
	fault_fixture(&f);
	jf_hist h;
	jf_hist_take(&f, &h);
	uint64_t version = jf_version(&f);
	jf_tmpl_save(&f, &tmpl);
	bool is_dirty = false;
	int injected = 0, failed = 0, harmless = 0;
	size_t max_outputs = 0;
	uint64_t check_from = k == JF_PARTIAL || k == JF_MAJOR_DROP ? FAULT_RETAIN_BOUNDARY : 1;
	for (size_t oi = 0; oi < STRATA_ARRAY_LEN(ops); oi++) {
		for (size_t mi = 0; mi < STRATA_ARRAY_LEN(modes); mi++) {
			if (modes[mi].is_short && ops[oi] != TU_OP_PWRITE)
				continue;
			if (modes[mi].err == EDQUOT && ops[oi] != TU_OP_OPEN &&
			    ops[oi] != TU_OP_PWRITE && ops[oi] != TU_OP_FSYNC &&
			    ops[oi] != TU_OP_CLOSE && ops[oi] != TU_OP_MKDIR)
				continue;
			for (int at = 1; at < 1000; at++) {
				if (is_dirty) {
					jf_tmpl_restore(&f, &tmpl);
					is_dirty = false;
				}
				strata_bucket_view v;
				strata_job_plan plan;
				CU_ASSERT_FATAL(jf_plan(&f, 0, k, &o, &v, &plan) > 0);
				strata_job_ctl ctl = {.owner = f.owner};
				strata_job_result res;
				strata_err err;
				strata_err_clear(&err);
				tu_fault_arm(ops[oi], at, modes[mi].is_short ? EIO : modes[mi].err,
					     modes[mi].is_short);
				int rc = strata_job_execute(f.wh, &v, &plan, &ctl, &res, &err);
				bool fired = tu_fault_fired();
				bool is_fsync = ops[oi] == TU_OP_FSYNC;
				const char *fpath = is_fsync ? tu_fault_fsync_path(at) : NULL;
				int retries = is_fsync ? tu_fault_fsync_after(at) : 0;
				int ncalls = tu_fault_calls(ops[oi]);
				tu_fault_disarm();
				strata_bucket_view_free(&v);
				char what[96];
				snprintf(what, sizeof(what), "%s: %s #%d %s", jf_kind_name(k),
					 tu_op_name(ops[oi]), at,
					 modes[mi].is_short ? "short write" : strerror(modes[mi].err));
				if (!fired) {
					/* past the last call: the job ran clean */
					if (getenv("JOBS_FAULT_DEBUG"))
						fprintf(stderr, "\n%s: %d calls", what, ncalls);
					if (rc)
						fprintf(stderr, "\n%s (not fired): rc %d: %s\n", what, rc, err.msg);
					CU_ASSERT_EQUAL(rc, 0);
					if (res.files_out > max_outputs)
						max_outputs = res.files_out;
					is_dirty = true;
					break;
				}
				injected++;
				if (rc == 0) {
					/* the fault hit something harmless */
					harmless++;
					is_dirty = true;
					CU_ASSERT_EQUAL(jf_version(&f), version + 1);
					if (jf_hist_diff(&f, &h, check_from, 0) != 0) {
						fprintf(stderr, "\n%s: harmless fault changed reads\n", what);
						CU_FAIL("reads changed by a job");
					}
					char why[512];
					if (jf_disk_check(&f, 0, why, sizeof(why)) != 0) {
						fprintf(stderr, "\n%s (succeeded): %s\n", what, why);
						CU_FAIL("disk differs from the manifest after a job");
					}
					CU_ASSERT_EQUAL(jf_intents(&f), 0);
					CU_ASSERT_FALSE(jf_claimed(&f, 0));
					continue;
				}
				failed++;
				/* a clean failure naming a file of the warehouse */
				if (!strstr(err.msg, f.dir)) {
					fprintf(stderr, "\n%s: message names no file: rc %d \"%s\"\n", what, rc,
						err.msg);
					CU_FAIL("error message without a path");
				}
				CU_ASSERT_EQUAL(res.version, 0);
				if (jf_version(&f) != version) {
					fprintf(stderr, "\n%s: version moved\n", what);
					CU_FAIL("a failed job committed");
					is_dirty = true;
				}
				if (jf_hist_diff(&f, &h, 1, 0) != 0) {
					fprintf(stderr, "\n%s: reads changed\n", what);
					CU_FAIL("a failed job changed reads");
					is_dirty = true;
				}
				char why[512];
				if (jf_disk_check(&f, 0, why, sizeof(why)) != 0) {
					fprintf(stderr, "\n%s: %s\n", what, why);
					CU_FAIL("a failed job left files behind");
					is_dirty = true;
				}
				if (jf_intents(&f) != 0 || jf_claimed(&f, 0)) {
					fprintf(stderr, "\n%s: intent %zu claim %d left\n", what, jf_intents(&f),
						jf_claimed(&f, 0));
					CU_FAIL("a failed job left its intent or claim");
					is_dirty = true;
				}
				/* a failed fsync is never retried on the same file */
				if (retries) {
					fprintf(stderr, "\n%s: %d more fsync calls on %s after it failed\n", what,
						retries, fpath ? fpath : "?");
					CU_FAIL("fsync retried after it failed");
				}
			}
		}
	}
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
	fprintf(stderr, "\n  %s: %d faults injected: %d failed cleanly, %d harmless (%zu outputs) ",
		jf_kind_name(k), injected, failed, harmless, max_outputs);
	CU_ASSERT(failed > 0);
	CU_ASSERT(max_outputs >= 2);
}

static void test_faults_sort(void)
{
	fault_sweep(JF_SORT);
}

static void test_faults_merge(void)
{
	fault_sweep(JF_MERGE);
}

static void test_faults_partial(void)
{
	fault_sweep(JF_PARTIAL);
}

static void test_faults_major(void)
{
	fault_sweep(JF_MAJOR);
	fault_sweep(JF_MAJOR_DROP);
}

/* ---- DuckDB interop ------------------------------------------------------------------------- */

/* A canonical JSON line per record, built the same way from our reader and
 * from DuckDB: every value a string (integers in decimal, floats as %.17g
 * of the double, booleans true/false, strings and binaries as upper-case
 * hex of their bytes, timestamps as epoch microseconds), nulls as null. */
static void canon_value(strata_type t, const strata_value *v, strata_buf *b)
{
	if (v->is_null) {
		strata_buf_printf(b, "null");
		return;
	}
	strata_buf_putc(b, '"');
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		strata_buf_printf(b, "%lld", (long long)v->v.i64);
		break;
	case STRATA_T_INT:
		strata_buf_printf(b, "%d", v->v.i32);
		break;
	case STRATA_T_DATE: /* DATE and DECIMAL are checked in tests/test_types.c */
		strata_date_format(v->v.i32, b);
		break;
	case STRATA_T_DECIMAL:
		strata_dec_format(strata_dec_get(v), 0, b);
		break;
	case STRATA_T_DOUBLE:
		strata_buf_printf(b, "%.17g", v->v.f64);
		break;
	case STRATA_T_FLOAT:
		strata_buf_printf(b, "%.17g", (double)v->v.f32);
		break;
	case STRATA_T_BOOL:
		strata_buf_printf(b, "%s", v->v.b ? "true" : "false");
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		for (uint32_t i = 0; i < v->v.s.len; i++)
			strata_buf_printf(b, "%02X", v->v.s.ptr[i]);
		break;
	}
	strata_buf_putc(b, '"');
}

static void duck_expr(strata_type t, const char *col, strata_buf *sql)
{
	switch (t) {
	case STRATA_T_DOUBLE:
	case STRATA_T_FLOAT:
		strata_buf_printf(sql, "printf('%%.17g', CAST(\"%s\" AS DOUBLE))", col);
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		strata_buf_printf(sql, "upper(hex(\"%s\"))", col);
		break;
	case STRATA_T_TIMESTAMP:
		strata_buf_printf(sql, "CAST(epoch_us(\"%s\") AS VARCHAR)", col);
		break;
	default:
		strata_buf_printf(sql, "CAST(\"%s\" AS VARCHAR)", col);
		break;
	}
}

static const char *duck_type(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
		return "BIGINT";
	case STRATA_T_INT:
		return "INTEGER";
	case STRATA_T_DOUBLE:
		return "DOUBLE";
	case STRATA_T_FLOAT:
		return "FLOAT";
	case STRATA_T_BOOL:
		return "BOOLEAN";
	case STRATA_T_STRING:
		return "VARCHAR";
	case STRATA_T_BYTES:
		return "BLOB";
	case STRATA_T_TIMESTAMP:
		return "TIMESTAMP WITH TIME ZONE";
	case STRATA_T_DATE:
		return "DATE";
	case STRATA_T_DECIMAL:
		return "DECIMAL";
	}
	return "?";
}

/* A SQL literal for v (integers and strings; false for other types). */
static bool duck_literal(strata_type t, const strata_value *v, strata_buf *out)
{
	switch (t) {
	case STRATA_T_LONG:
		strata_buf_printf(out, "%lld::BIGINT", (long long)v->v.i64);
		return true;
	case STRATA_T_INT:
		strata_buf_printf(out, "%d::INTEGER", v->v.i32);
		return true;
	case STRATA_T_STRING:
		strata_buf_printf(out, "decode(from_hex('");
		for (uint32_t i = 0; i < v->v.s.len; i++)
			strata_buf_printf(out, "%02X", v->v.s.ptr[i]);
		strata_buf_printf(out, "'))");
		return true;
	default:
		return false;
	}
}

static int value_cmp(strata_type t, const strata_value *a, const strata_value *b)
{
	if (t == STRATA_T_LONG)
		return a->v.i64 < b->v.i64 ? -1 : a->v.i64 > b->v.i64;
	if (t == STRATA_T_INT)
		return a->v.i32 < b->v.i32 ? -1 : a->v.i32 > b->v.i32;
	uint32_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
	int c = n ? memcmp(a->v.s.ptr, b->v.s.ptr, n) : 0;
	if (c)
		return c;
	return a->v.s.len < b->v.s.len ? -1 : a->v.s.len > b->v.s.len;
}

/* For each integer or string column: equality on the values of the first,
 * middle and last record, and the range between the first two; the counts
 * our reader finds are appended to want, the queries to sql. */
static void duck_filters(const char *path, const strata_schema *s, size_t nrows, strata_buf *sql,
			 strata_buf *want)
{
	if (nrows == 0)
		return;
	size_t picks[3] = {0, nrows / 2, nrows - 1};
	for (uint32_t c = 0; c < s->ncols; c++) {
		strata_type t = s->cols[c].type;
		if (t != STRATA_T_LONG && t != STRATA_T_INT && t != STRATA_T_STRING)
			continue;
		/* the pick values, copied */
		strata_arena *a = strata_arena_new();
		strata_value vals[3];
		bool has[3] = {false, false, false};
		strata_run_opts ro = {0};
		strata_run *r;
		strata_err err;
		CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &err), 0);
		const strata_row *row;
		for (size_t i = 0; strata_run_next(r, &row, NULL, NULL, &err) == 1; i++)
			for (int k = 0; k < 3; k++)
				if (i == picks[k] && !row->vals[c].is_null) {
					vals[k] = row->vals[c];
					if (t == STRATA_T_STRING)
						vals[k].v.s.ptr = strata_arena_dup(a, vals[k].v.s.ptr, vals[k].v.s.len);
					has[k] = true;
				}
		strata_run_close(r);
		for (int k = 0; k < 4; k++) {
			/* k < 3: equality with pick k; k == 3: between picks 0 and 1 */
			if (k < 3 ? !has[k] : !(has[0] && has[1]))
				continue;
			strata_buf pred = {0};
			const strata_value *lo = &vals[0], *hi = &vals[1];
			if (k == 3 && value_cmp(t, lo, hi) > 0) {
				lo = &vals[1];
				hi = &vals[0];
			}
			strata_buf_printf(&pred, "\"%s\" %s ", s->cols[c].name, k < 3 ? "=" : "BETWEEN");
			duck_literal(t, k < 3 ? &vals[k] : lo, &pred);
			if (k == 3) {
				strata_buf_printf(&pred, " AND ");
				duck_literal(t, hi, &pred);
			}
			strata_buf_putc(&pred, 0);
			size_t n = 0;
			CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &err), 0);
			while (strata_run_next(r, &row, NULL, NULL, &err) == 1) {
				const strata_value *v = &row->vals[c];
				if (v->is_null)
					continue;
				n += k < 3 ? value_cmp(t, v, &vals[k]) == 0 :
					     value_cmp(t, v, lo) >= 0 && value_cmp(t, v, hi) <= 0;
			}
			strata_run_close(r);
			strata_buf_printf(sql, "SELECT CAST(count(*) AS VARCHAR) AS n FROM read_parquet('%s') WHERE %s;\n",
					  path, (char *)pred.data);
			strata_buf_printf(want, "{\"n\":\"%zu\"}\n", n);
			strata_buf_free(&pred);
		}
		strata_arena_free(a);
	}
}

/* Our reader's records of one file in canonical form; the DuckDB query for
 * the same file and its column types appended to sql. */
static char *canon_ours(const char *path, strata_buf *sql, int idx, size_t *nrows)
{
	strata_run_opts ro = {0};
	strata_run *r;
	strata_err err;
	strata_buf b = {0};
	*nrows = 0;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &err), 0);
	const strata_schema *s = strata_run_file_schema(r);
	const strata_row *row;
	int rc;
	while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
		strata_buf_putc(&b, '{');
		for (uint32_t c = 0; c < s->ncols; c++) {
			strata_buf_printf(&b, "\"%s\":", s->cols[c].name);
			canon_value(s->cols[c].type, &row->vals[c], &b);
			strata_buf_putc(&b, ',');
		}
		strata_buf_printf(&b, "\"_seq\":\"%lld\",\"_op\":\"%d\"}\n", (long long)row->seq, row->op);
		(*nrows)++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	/* the query: a marker, the column types, then the rows in file order */
	strata_buf_printf(sql, "SELECT '#%d' AS m;\n", idx);
	strata_buf_printf(sql, "SELECT column_name AS c, column_type AS t FROM (DESCRIBE SELECT * FROM "
			       "read_parquet('%s'));\n",
			  path);
	strata_buf_printf(sql, "SELECT ");
	for (uint32_t c = 0; c < s->ncols; c++) {
		duck_expr(s->cols[c].type, s->cols[c].name, sql);
		strata_buf_printf(sql, " AS \"%s\", ", s->cols[c].name);
	}
	strata_buf_printf(sql, "CAST(_seq AS VARCHAR) AS _seq, CAST(_op AS VARCHAR) AS _op FROM "
			       "read_parquet('%s');\n",
			  path);
	/* what DESCRIBE must say */
	strata_buf types = {0};
	for (uint32_t c = 0; c < s->ncols; c++)
		strata_buf_printf(&types, "{\"c\":\"%s\",\"t\":\"%s\"}\n", s->cols[c].name,
				  duck_type(s->cols[c].type));
	strata_buf_printf(&types, "{\"c\":\"_seq\",\"t\":\"BIGINT\"}\n{\"c\":\"_op\",\"t\":\"INTEGER\"}\n");
	strata_buf_append(&types, b.data, b.len);
	/* filtered counts: DuckDB prunes row groups and pages by our statistics,
	 * so a wrong min or max would lose rows here (s is lent by the run) */
	duck_filters(path, s, *nrows, sql, &types);
	strata_run_close(r);
	strata_buf_putc(&types, 0);
	strata_buf_free(&b);
	return (char *)types.data;
}

/* DuckDB reads every output of job `job_id` exactly as our reader does. */
static int duck_check_job(jf *f, uint64_t job_id, const char *what)
{
	strata_arena *a = strata_arena_new();
	strata_file_entry *out;
	size_t n = jf_outputs(f, 0, job_id, a, &out);
	strata_buf sql = {0}, want = {0};
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		jf_file_path(f, &out[i], path, sizeof(path));
		size_t nrows;
		char *ours = canon_ours(path, &sql, (int)i, &nrows);
		CU_ASSERT_EQUAL(nrows, out[i].rows);
		total += nrows;
		strata_buf_printf(&want, "{\"m\":\"#%zu\"}\n%s", i, ours);
		free(ours);
	}
	strata_buf_putc(&sql, 0);
	strata_buf_putc(&want, 0);
	int bad = 0;
	if (n) {
		char *got = NULL;
		int rc = tu_duckdb((char *)sql.data, &got);
		if (rc != 0 || strcmp(got, (char *)want.data) != 0) {
			bad = 1;
			/* show the first differing line */
			const char *g = got ? got : "", *w = (char *)want.data;
			int line = 1;
			while (*g && *g == *w) {
				line += *g == '\n';
				g++;
				w++;
			}
			const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
			fprintf(stderr, "\nDuckDB differs on %s (rc %d), line %d:\n  duckdb: %.*s\n  ours:   %.*s\n",
				what, rc, line, ge ? (int)(ge - g) : (int)strlen(g), g,
				we ? (int)(we - w) : (int)strlen(w), w);
		}
		free(got);
	}
	fprintf(stderr, "\n  %s: %zu Parquet files, %zu records read by DuckDB ", what, n, total);
	strata_buf_free(&sql);
	strata_buf_free(&want);
	strata_arena_free(a);
	return bad;
}

/* Random rows of every type, nulls included, many versions per key. */
static void duck_write(jf *f, uint64_t *st, int nrows, int nkeys)
{
	static const char *const strs[] = {"", "x", "h\\u00e9llo", "tab\\tnl\\n", "\\u65e5\\u672c",
					   "long-ish string value with spaces"};
	static const char *const bins[] = {"", "AA==", "AAEC/w==", "3q2+7w==", "////"};
	strata_buf b = {0};
	for (int i = 0; i < nrows; i++) {
		*st = *st * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t r = *st >> 11;
		int pk = (int)(r % (uint64_t)nkeys) - nkeys / 3; /* negative keys too */
		if ((r >> 20) % 100 < 15) {
			strata_buf_printf(&b, "{\"pk\":%d,\"_op\":\"delete\"}\n", pk);
			continue;
		}
		strata_buf_printf(&b, "{\"pk\":%d", pk);
		uint64_t nulls = r >> 30;
		if ((nulls >> 0) % 5)
			strata_buf_printf(&b, ",\"i\":%lld", (long long)(r % 200001) - 100000 - (long long)(r % 3) * 1000000000);
		if ((nulls >> 3) % 5)
			strata_buf_printf(&b, ",\"d\":%.17g", ((double)(r % 1000003) - 500000.5) * (r % 7 == 0 ? 1e280 : 1e-3));
		if ((nulls >> 6) % 5)
			strata_buf_printf(&b, ",\"f\":%.9g", (double)(float)(((double)(r % 99991) - 5000) / 64.0));
		if ((nulls >> 9) % 5)
			strata_buf_printf(&b, ",\"b\":%s", r % 2 ? "true" : "false");
		if ((nulls >> 12) % 5)
			strata_buf_printf(&b, ",\"s\":\"%s\"", strs[r % STRATA_ARRAY_LEN(strs)]);
		if ((nulls >> 15) % 5)
			strata_buf_printf(&b, ",\"bin\":\"%s\"", bins[(r >> 5) % STRATA_ARRAY_LEN(bins)]);
		if ((nulls >> 18) % 5)
			strata_buf_printf(&b, ",\"ts\":\"20%02d-0%d-1%d 0%d:3%d:5%d.%06d\"", (int)(r % 60),
					  1 + (int)(r % 9), (int)(r % 9), (int)(r % 10), (int)(r % 10),
					  (int)(r % 10), (int)(r % 1000000));
		strata_buf_printf(&b, "}\n");
	}
	strata_buf_putc(&b, 0);
	jf_put(f, (char *)b.data);
	strata_buf_free(&b);
}

static void duckdb_interop_case(bool small_pages)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	const char *props[] = {"write.parquet.page.bytes=4096"};
	jf_open_props(&f, "pk BIGINT NOT NULL PRIMARY KEY, i INT, d DOUBLE, f FLOAT, b BOOLEAN, "
			  "s STRING, bin BINARY, ts TIMESTAMP",
		      1, 1, props, small_pages ? 1 : 0);
	int rows = small_pages ? 600 : 60, keys = small_pages ? 1500 : 50;
	uint64_t st = 99;
	strata_job_result res;
	strata_err err;
	int bad = 0;
	jf_hist h;
	for (int i = 0; i < 4; i++)
		duck_write(&f, &st, rows, keys);
	jf_job_opts small = {.merge_level = -1, .target_bytes = 4000};
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, &small, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "sort");
	for (int i = 0; i < 4; i++)
		duck_write(&f, &st, rows, keys);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "sort");
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MERGE, &small, NULL, &res, &err), 0);
	CU_ASSERT(res.files_out >= 2);
	bad += duck_check_job(&f, res.job_id, "merge");
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	tu_clock_advance(2 * JF_HOUR_US);
	for (int i = 0; i < 3; i++)
		duck_write(&f, &st, rows, keys);
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_PARTIAL, NULL, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "partial compaction");
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "major compaction");
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL(bad, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

static void test_duckdb_interop(void)
{
	if (tu_wh_is_s3()) {
		/* DuckDB reads the job's Parquet files by local path */
		tu_skip("the DuckDB oracle reads local files; the data files are objects");
		return;
	}
	if (!tu_duckdb_available())
		return;
	duckdb_interop_case(false);
	/* several pages per column chunk */
	duckdb_interop_case(true);
}

/* A composite key of a string and an int (string key columns, dictionary
 * pages, an int key that is not the first). */
static void test_duckdb_composite_key(void)
{
	if (tu_wh_is_s3()) {
		/* DuckDB reads the job's Parquet files by local path */
		tu_skip("the DuckDB oracle reads local files; the data files are objects");
		return;
	}
	if (!tu_duckdb_available())
		return;
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, "region STRING NOT NULL PRIMARY KEY, id INT NOT NULL PRIMARY KEY, val DOUBLE, "
		    "note STRING",
		1, 1);
	static const char *const regions[] = {"", "ap", "eu", "eu-west", "us", "\u00fcber"};
	uint64_t st = 5;
	strata_buf b = {0};
	strata_job_result res;
	strata_err err;
	int bad = 0;
	for (int c = 0; c < 8; c++) {
		strata_buf_reset(&b);
		for (int i = 0; i < 40; i++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			uint64_t r = st >> 13;
			const char *reg = regions[r % STRATA_ARRAY_LEN(regions)];
			int id = (int)((r >> 8) % 9) - 4;
			if ((r >> 20) % 6 == 0)
				strata_buf_printf(&b, "{\"region\":\"%s\",\"id\":%d,\"_op\":\"delete\"}\n",
						  reg, id);
			else
				strata_buf_printf(&b, "{\"region\":\"%s\",\"id\":%d,\"val\":%d.25,\"note\":%s}\n",
						  reg, id, (int)(r % 1000), (r >> 3) % 4 ? "\"n\"" : "null");
		}
		strata_buf_putc(&b, 0);
		jf_put(&f, (char *)b.data);
		if (c == 3 || c == 7) {
			CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
			bad += duck_check_job(&f, res.job_id, "sort (composite key)");
		}
	}
	strata_buf_free(&b);
	jf_hist h;
	jf_hist_take(&f, &h);
	jf_job_opts small = {.merge_level = -1, .target_bytes = 1500};
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MERGE, &small, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "merge (composite key)");
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	bad += duck_check_job(&f, res.job_id, "major compaction (composite key)");
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL(bad, 0);
	jf_hist_free(&h);
	jf_close(&f);
	tu_clock_real();
}

/* ---- registration ------------------------------------------------------------------- */

/* manifest/retention.c, case by case on a manual clock: versions 1 (create,
 * T0), 2 (T0 + 1 s), 3 (T0 + 2 s), 4 (T0 + 2 h + 2 s), 5 (+1 s). */
static void test_retention_boundary(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	jf_put(&f, "{\"pk\":1,\"v\":\"a\",\"n\":1}");                 /* 2 */
	jf_put(&f, "{\"pk\":1,\"v\":\"b\",\"n\":2}");                 /* 3 */
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"c\",\"n\":3}");                 /* 4 */
	jf_put(&f, "{\"pk\":1,\"v\":\"d\",\"n\":4}");                 /* 5 */
	strata_err err;
	strata_mf *mf = strata_wh_mf(f.wh);
	static const struct {
		int64_t hours;          /* -1: the table's property (1) */
		uint64_t tag;           /* 0: none */
		uint64_t boundary, pinned;
		bool has_next;
	} cases[] = {
		{-1, 0, 3, 3, true},   /* 1 h: version 3 (T0 + 2 s) is the last that old */
		{1, 0, 3, 3, true},
		{0, 0, 5, 5, false},   /* 0 h: the current version, never moves by time */
		{2, 0, 3, 3, true},    /* now - 2 h = T0 + 4 s: still version 3 */
		{3, 0, 0, 0, true},    /* nothing that old: 0, nothing may be dropped */
		{-1, 2, 3, 2, false},  /* a tag below B pins it (and B no longer moves it) */
		{0, 4, 5, 2, false},   /* the tags stay: the oldest (2) pins */
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		if (cases[i].tag) {
			char name[16];
			snprintf(name, sizeof(name), "t%zu", i);
			CU_ASSERT_EQUAL_FATAL(strata_mf_tag_put(mf, f.table, name, cases[i].tag, &err), 0);
		}
		strata_arena *a = strata_arena_new();
		strata_mf_snap *snap;
		strata_table_def td;
		CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &err), 0);
		CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, f.table, &td, &err), 0);
		strata_retention r;
		CU_ASSERT_EQUAL(strata_mf_retention(snap, &td, cases[i].hours, strata_now_us(), a, &r, &err),
				0);
		if (r.boundary != cases[i].boundary || r.pinned != cases[i].pinned)
			fprintf(stderr, "\ncase %zu: boundary %llu pinned %llu\n", i,
				(unsigned long long)r.boundary, (unsigned long long)r.pinned);
		CU_ASSERT_EQUAL(r.retain_hours, cases[i].hours < 0 ? 1 : cases[i].hours);
		CU_ASSERT_EQUAL(r.boundary, cases[i].boundary);
		CU_ASSERT_EQUAL(r.pinned, cases[i].pinned);
		CU_ASSERT_EQUAL(r.pinned_next_us != 0, cases[i].has_next);
		if (cases[i].boundary == 3 && r.next_us) /* version 4's time + the hours */
			CU_ASSERT_EQUAL(r.next_us, JF_T0_US + 2 * JF_HOUR_US + 3 * 1000000 +
							   (cases[i].hours < 0 ? 1 : cases[i].hours) * JF_HOUR_US);
		CU_ASSERT_EQUAL(r.oldest_tag, cases[i].tag ? (cases[i].tag < 4 ? cases[i].tag : 2) : 0);
		strata_mf_snap_close(snap);
		strata_arena_free(a);
	}
	jf_close(&f);
	tu_clock_real();
}

/* What a bucket job would read: its plan on a view loaded as
 * strata_bucket_job_run() loads it. */
static size_t job_inputs(jf *f, const strata_bucket_job *job, strata_arena *a, uint64_t **ids,
			 strata_job_plan *plan)
{
	strata_err err;
	strata_bucket_view v;
	int64_t hours = job->pol ? job->pol->retain_hours : -1;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load_retain(f->wh, f->table, "", 0, strata_now_us(),
							     hours, &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_bucket_job_plan(&v, job, plan), 0);
	*ids = strata_arena_alloc(a, (plan->ninputs + 1) * sizeof(uint64_t));
	for (size_t i = 0; i < plan->ninputs; i++)
		(*ids)[i] = plan->inputs[i]->id;
	plan->inputs = NULL; /* they lived in the view */
	strata_bucket_view_free(&v);
	return plan->ninputs;
}

/* Issue 12: the command line and stratad (default config) run a bucket job
 * through one entry point with the same numbers, so they plan the same
 * inputs, output size, boundary and floor for the same bucket — for every
 * kind. */
static void test_cli_and_daemon_plan_alike(void)
{
	tu_clock_manual(JF_T0_US);
	jf f;
	jf_open(&f, COLS, 1, 1);
	strata_job_result res;
	strata_err err;
	jf_put(&f, "{\"pk\":1,\"v\":\"a\",\"n\":1}\n{\"pk\":2,\"v\":\"b\",\"n\":1}");
	jf_put(&f, "{\"pk\":1,\"v\":\"a2\",\"n\":2}\n{\"pk\":3,\"v\":\"c\",\"n\":2}");
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	jf_put(&f, "{\"pk\":2,\"_op\":\"delete\"}\n{\"pk\":1,\"v\":\"a3\",\"n\":3}");
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	tu_clock_advance(2 * JF_HOUR_US);
	jf_put(&f, "{\"pk\":1,\"v\":\"a4\",\"n\":4}");
	jf_put(&f, "{\"pk\":4,\"v\":\"d\",\"n\":5}");
	/* stratad's job policy with an empty config file */
	char cfg[4096];
	snprintf(cfg, sizeof(cfg), "%s/empty.ini", tu_tmpdir());
	CU_ASSERT_EQUAL_FATAL(tu_write_file(cfg, "", 0), 0);
	stratad_config *c = NULL;
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(cfg, &c, NULL, &err), 0);
	static const struct {
		strata_bucket_job_kind cli;
		dj_kind daemon;
		bool drop_history;
		size_t want_inputs;
	} kinds[] = {
		{STRATA_BUCKET_JOB_SORT, DJ_SORT, false, 2},
		{STRATA_BUCKET_JOB_MERGE, DJ_MERGE, false, 2},
		{STRATA_BUCKET_JOB_PARTIAL, DJ_PARTIAL, false, 2},
		{STRATA_BUCKET_JOB_MAJOR, DJ_MAJOR, false, 4},
		{STRATA_BUCKET_JOB_MAJOR, DJ_MAJOR, true, 4},
	};
	strata_arena *a = strata_arena_new();
	for (size_t k = 0; k < STRATA_ARRAY_LEN(kinds); k++) {
		strata_bucket_job cj, dj_spec;
		cli_job_spec(kinds[k].cli, kinds[k].drop_history, &cj);
		dj j;
		memset(&j, 0, sizeof(j));
		j.kind = kinds[k].daemon;
		j.level = -1; /* as `strata admin merge` queues it */
		j.drop_history = kinds[k].drop_history;
		stratad_config_job_policy(c, f.table, &j.pol);
		d_job_spec(&j, &dj_spec);
		uint64_t *ci, *di;
		strata_job_plan cp, dp;
		size_t cn = job_inputs(&f, &cj, a, &ci, &cp);
		size_t dn = job_inputs(&f, &dj_spec, a, &di, &dp);
		CU_ASSERT_EQUAL(cn, kinds[k].want_inputs);
		CU_ASSERT_EQUAL(cn, dn);
		for (size_t i = 0; i < cn && i < dn; i++)
			CU_ASSERT_EQUAL(ci[i], di[i]);
		CU_ASSERT_EQUAL(cp.target_bytes, dp.target_bytes);
		CU_ASSERT_EQUAL(cp.boundary, dp.boundary);
		CU_ASSERT_EQUAL(cp.new_floor, dp.new_floor);
		CU_ASSERT_EQUAL(cp.out_level, dp.out_level);
		CU_ASSERT_EQUAL(cp.rule, dp.rule);
		CU_ASSERT_EQUAL(cp.drop_deletes, dp.drop_deletes);
		CU_ASSERT_EQUAL(cp.drops_retained_history, dp.drops_retained_history);
		CU_ASSERT_STRING_EQUAL(cp.what, dp.what);
		if (kinds[k].cli == STRATA_BUCKET_JOB_MERGE) {
			strata_policy def;
			strata_policy_default(&def);
			CU_ASSERT_EQUAL(cp.target_bytes, strata_pol_merge_target_bytes(&def, cp.out_level));
		}
	}
	/* and the one that runs plans as it said */
	strata_bucket_job cj;
	cli_job_spec(STRATA_BUCKET_JOB_SORT, false, &cj);
	strata_bucket_job_out out;
	CU_ASSERT_EQUAL(strata_bucket_job_run(f.wh, f.table, "", 0, &cj, NULL, &out, &err), 0);
	CU_ASSERT_FALSE(out.is_noop);
	CU_ASSERT_EQUAL(out.ninputs, 2);
	CU_ASSERT_EQUAL(out.jr.files_in, 2);
	CU_ASSERT_EQUAL(strata_bucket_job_run(f.wh, f.table, "", 0, &cj, NULL, &out, &err), 0);
	CU_ASSERT_TRUE(out.is_noop);
	strata_arena_free(a);
	stratad_config_free(c);
	jf_close(&f);
	tu_clock_real();
}

static void register_jobs(void)
{
	CU_pSuite s = CU_add_suite("jobs", NULL, NULL);
	TU_ADD(s, test_sort_history_kept);
	TU_ADD(s, test_sort_max_bytes);
	TU_ADD(s, test_merge_levels);
	TU_ADD(s, test_merge_split_between_keys);
	TU_ADD(s, test_partial_compaction);
	TU_ADD(s, test_partial_nothing_old);
	TU_ADD(s, test_major_keep_history);
	TU_ADD(s, test_major_drop_history);
	TU_ADD(s, test_major_all_deleted);
	TU_ADD(s, test_major_of_compact_bucket);
	TU_ADD(s, test_two_buckets);
	TU_ADD(s, test_empty_string_first_column);
	TU_ADD(s, test_cancel);
	TU_ADD(s, test_schema_evolution);
	TU_ADD(s, test_dropped_column_rename_taken);
	TU_ADD(s, test_conflict_inputs_replaced);
	TU_ADD(s, test_conflict_schema_changed);
	TU_ADD(s, test_busy_claim);
	TU_ADD(s, test_conflict_intent_recovered);
	TU_ADD(s, test_crash_recovery);
	TU_ADD(s, test_crash_recovered_by_clean);
	TU_ADD(s, test_duckdb_interop);
	TU_ADD(s, test_duckdb_composite_key);
	TU_ADD(s, test_faults_sort);
	TU_ADD(s, test_faults_merge);
	TU_ADD(s, test_faults_partial);
	TU_ADD(s, test_faults_major);
	TU_ADD(s, test_retention_boundary);
	TU_ADD(s, test_cli_and_daemon_plan_alike);
}

TU_MAIN(register_jobs)
