/*
 * tests/test_fuzz_regress.c — the libFuzzer harnesses of tests/fuzz/, run in
 * `make test` over their corpora: the seeds and every input a fuzzer ever
 * crashed on, timed out on or leaked with (crash-*, timeout-*, leak-*,
 * oom-* files in tests/fuzz/corpus/<target>/).  A fixed finding stays fixed.
 *
 *   avro    format/avro.c (tests/fuzz/fuzz_avro.c)
 *   config  daemon/config.c (tests/fuzz/fuzz_config.c)
 *   admin   daemon/admin.c's tokenizer and dispatcher (tests/fuzz/fuzz_admin.c)
 *   jsonl   the `strata write` path (tests/fuzz/fuzz_jsonl.c)
 * (Parquet's corpus replays in tests/test_parquet.c.)
 *
 * The Avro seeds are written by this suite:
 *   STRATA_FUZZ_WRITE_SEEDS=tests/fuzz/corpus build/tests/test_fuzz_regress
 * the text seeds (config, admin, jsonl) are files in the repository.
 *
 * Each finding also has a unit test in its module's suite that says what
 * was wrong (tests/test_format.c, test_config.c, test_admin.c, ...).
 */
#include "tests/util/testutil.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <unistd.h>

#define STRATA_FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_admin.c"
#include "tests/fuzz/fuzz_avro.c"
#include "tests/fuzz/fuzz_config.c"
#include "tests/fuzz/fuzz_jsonl.c"

/* ---- replaying a corpus ---------------------------------------------------------------------- */

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t size, const char *dir);

/* Run every file of tests/fuzz/corpus/<target> through one; returns how
 * many (findings counted separately in *findings). */
static int replay(const char *target, fuzz_one_fn one, int *findings)
{
	char corpus[PATH_MAX];
	snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", target);
	DIR *d = opendir(corpus);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	const char *dir = tu_tmpdir();
	struct dirent *de;
	int n = 0;
	*findings = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", corpus, de->d_name);
		size_t len;
		char *data = tu_read_file(p, &len);
		if (!data)
			continue;
		one((const uint8_t *)data, len, dir);
		free(data);
		n++;
		if (strncmp(de->d_name, "seed-", 5) != 0)
			(*findings)++;
	}
	closedir(d);
	return n;
}

/* ---- Avro ------------------------------------------------------------------------------------- */

/* Rows in key order for fuzz_avro_schema(which): row i of n. */
static void avro_seed_row(int which, int i, strata_arena *a, strata_row *r)
{
	uint32_t nc = which == 0 ? 8 : 4;
	r->ncols = nc;
	r->seq = 0;
	r->op = i % 9 == 4 ? STRATA_OP_DELETE : STRATA_OP_UPSERT;
	r->vals = strata_arena_alloc(a, nc * sizeof(strata_value));
	memset(r->vals, 0, nc * sizeof(strata_value));
	for (uint32_t c = 0; c < nc; c++)
		r->vals[c].is_null = true;
	char *buf = strata_arena_alloc(a, 160);
	switch (which) {
	case 0: /* pk, i, d, f, b, s, bin, ts */
		r->vals[0] = (strata_value){.v.i64 = (int64_t)i * 37 - 500};
		if (r->op == STRATA_OP_DELETE)
			break;
		if (i % 5)
			r->vals[1] = (strata_value){.v.i32 = -i * 1000};
		r->vals[2] = (strata_value){.v.f64 = i % 7 == 0 ? -0.0 : i / 3.0};
		if (i % 3)
			r->vals[3] = (strata_value){.v.f32 = (float)i * 0.25f};
		r->vals[4] = (strata_value){.v.b = i % 2};
		snprintf(buf, 160, "%s%d", i % 4 ? "caf\xc3\xa9-" : "", i);
		r->vals[5] = (strata_value){.v.s = {(const uint8_t *)buf, (uint32_t)strlen(buf)}};
		if (i % 6 == 1) {
			buf[100] = 0;
			buf[101] = (char)0xff;
			r->vals[6] = (strata_value){.v.s = {(const uint8_t *)buf + 100, 2}};
		}
		r->vals[7] = (strata_value){.v.i64 = 1700000000000000ll + i};
		break;
	case 1: { /* region (a string with a NUL byte), n, amount, blob */
		int len = 0;
		if (i / 8 > 0)
			len = snprintf(buf + 128, 32, "r%c%05d", 0, i / 8);
		r->vals[0] = (strata_value){.v.s = {(const uint8_t *)buf + 128, (uint32_t)len}};
		r->vals[1] = (strata_value){.v.i32 = i % 8 - 4};
		if (r->op == STRATA_OP_DELETE)
			break;
		r->vals[2] = (strata_value){.v.f64 = i * 1.5};
		memset(buf, 'x' + i % 3, 120);
		r->vals[3] = (strata_value){.v.s = {(const uint8_t *)buf, (uint32_t)(i % 4 ? 120 : 0)}};
		break;
	}
	default: /* id (bytes), w (float), at, ok */
		buf[0] = (char)(i / 4);
		buf[1] = (char)0;
		r->vals[0] = (strata_value){.v.s = {(const uint8_t *)buf, (uint32_t)(i % 4 ? 2 : 1)}};
		r->vals[1] = (strata_value){.v.f32 = (float)(i % 4) - 1.5f};
		if (r->op == STRATA_OP_DELETE)
			break;
		if (i % 2)
			r->vals[2] = (strata_value){.v.i64 = -1000000ll * i};
		r->vals[3] = (strata_value){.v.b = i % 3 == 0};
		break;
	}
}

static void write_avro_seed(const char *dir, const char *name, int which, int nrows,
			    strata_codec codec)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/avro/%s", dir, name);
	unlink(p);
	strata_schema *s = fuzz_avro_schema(which);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_AVRO);
	o.codec = codec;
	strata_fwriter *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(p, s, &o, &w, &e), 0);
	strata_arena *a = strata_arena_new();
	for (int i = 0; i < nrows; i++) {
		strata_row r;
		avro_seed_row(which, i, a, &r);
		int rc = strata_fwriter_add(w, &r, &e);
		if (rc)
			fprintf(stderr, "\nseed %s row %d: %s\n", name, i, e.msg);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
	}
	strata_file_stats st;
	CU_ASSERT_EQUAL(strata_fwriter_finish(w, &st, &e), 0);
	strata_file_stats_free(&st);
	strata_arena_free(a);
	strata_schema_free(s);
}

static void write_avro_seeds(const char *dir)
{
	write_avro_seed(dir, "seed-all-types.avro", 0, 40, STRATA_CODEC_NONE);
	write_avro_seed(dir, "seed-all-types-deflate.avro", 0, 40, STRATA_CODEC_DEFLATE);
	write_avro_seed(dir, "seed-composite.avro", 1, 32, STRATA_CODEC_NONE);
	write_avro_seed(dir, "seed-bytes-float-key.avro", 2, 24, STRATA_CODEC_NONE);
	write_avro_seed(dir, "seed-empty.avro", 0, 0, STRATA_CODEC_NONE);
	/* more than one 64 KiB block, small once deflated */
	write_avro_seed(dir, "seed-two-blocks-deflate.avro", 1, 32 * 20, STRATA_CODEC_DEFLATE);
}

/* The seeds read back in full with their schemas (so the corpus is real). */
static void test_avro_seeds_are_valid(void)
{
	static const struct {
		const char *name;
		int which, rows;
	} seeds[] = {
		{"seed-all-types.avro", 0, 40},	      {"seed-all-types-deflate.avro", 0, 40},
		{"seed-composite.avro", 1, 32},	      {"seed-bytes-float-key.avro", 2, 24},
		{"seed-empty.avro", 0, 0},	      {"seed-two-blocks-deflate.avro", 1, 640},
	};
	const char *w = getenv("STRATA_FUZZ_WRITE_SEEDS");
	if (w)
		write_avro_seeds(w);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(seeds); i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "tests/fuzz/corpus/avro/%s", seeds[i].name);
		strata_schema *s = fuzz_avro_schema(seeds[i].which);
		strata_run_opts ro = {.file_schema = s, .default_seq = 1};
		strata_run *run;
		strata_err e;
		int rc = strata_run_open(p, &ro, &run, &e);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc == 0) {
			const strata_row *row;
			int n = 0;
			while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1)
				n++;
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(n, seeds[i].rows);
			strata_run_close(run);
		}
		strata_schema_free(s);
	}
}

static void test_avro_corpus_replay(void)
{
	int findings;
	int n = replay("avro", strata_fuzz_avro_one, &findings);
	CU_ASSERT(n >= 6);
	fprintf(stderr, "\navro corpus: %d inputs (%d findings) replayed\n", n, findings);
}

/* ---- text targets ------------------------------------------------------------------------------- */

static void test_config_corpus_replay(void)
{
	int findings;
	int n = replay("config", strata_fuzz_config_one, &findings);
	CU_ASSERT(n >= 5);
	fprintf(stderr, "\nconfig corpus: %d inputs (%d findings) replayed\n", n, findings);
}

static void test_admin_corpus_replay(void)
{
	int findings;
	int n = replay("admin", strata_fuzz_admin_one, &findings);
	CU_ASSERT(n >= 4);
	fprintf(stderr, "\nadmin corpus: %d inputs (%d findings) replayed\n", n, findings);
}

static void test_jsonl_corpus_replay(void)
{
	int findings;
	int n = replay("jsonl", strata_fuzz_jsonl_one, &findings);
	CU_ASSERT(n >= 2);
	fprintf(stderr, "\njsonl corpus: %d inputs (%d findings) replayed\n", n, findings);
}

static void register_fuzz_regress(void)
{
	CU_pSuite s = CU_add_suite("fuzz_regress", NULL, NULL);
	TU_ADD(s, test_avro_seeds_are_valid);
	TU_ADD(s, test_avro_corpus_replay);
	TU_ADD(s, test_config_corpus_replay);
	TU_ADD(s, test_admin_corpus_replay);
	TU_ADD(s, test_jsonl_corpus_replay);
}

TU_MAIN(register_fuzz_regress)
