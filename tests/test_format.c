/*
 * tests/test_format.c — the record model, JSON forms, the key encoding and
 * Avro row files.
 */
#include "tests/util/testutil.h"

#include <jansson.h>
#include <float.h>
#include <math.h>
#include <unistd.h>

#include "format/format.h"

static strata_schema *all_types_schema(void)
{
	strata_schema *s = strata_schema_new(1);
	const struct {
		const char *name;
		strata_type t;
		int key;
	} cols[] = {
		{"pk", STRATA_T_LONG, 0},    {"i", STRATA_T_INT, -1},
		{"d", STRATA_T_DOUBLE, -1},  {"f", STRATA_T_FLOAT, -1},
		{"b", STRATA_T_BOOL, -1},    {"s", STRATA_T_STRING, -1},
		{"bin", STRATA_T_BYTES, -1}, {"ts", STRATA_T_TIMESTAMP, -1},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cols); i++) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", cols[i].name);
		c.type = cols[i].t;
		c.id = (uint32_t)i + 1;
		c.key_pos = cols[i].key;
		c.is_nullable = cols[i].key < 0;
		strata_schema_add(s, &c, NULL);
	}
	return s;
}

static int row_from_text(const strata_schema *s, const char *text, strata_arena *a,
			 strata_row *row, strata_err *e)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	int rc = strata_row_from_json(s, j, a, row, e);
	json_decref(j);
	return rc;
}

static void test_schema_json(void)
{
	strata_schema *s = all_types_schema();
	strata_err e;
	CU_ASSERT_EQUAL(strata_schema_validate(s, &e), 0);
	char *j = strata_schema_to_json(s);
	strata_schema *t = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_schema_from_json(j, strlen(j), &t, &e), 0);
	CU_ASSERT_EQUAL(t->ncols, s->ncols);
	CU_ASSERT_EQUAL(t->nkeys, 1);
	CU_ASSERT_STRING_EQUAL(t->cols[7].name, "ts");
	CU_ASSERT_EQUAL(t->cols[7].type, STRATA_T_TIMESTAMP);
	free(j);
	strata_schema_free(t);
	CU_ASSERT_EQUAL(strata_schema_from_json("{\"version\":1}", 13, &t, &e), STRATA_ECORRUPT);
	CU_ASSERT_EQUAL(strata_schema_from_json("nonsense", 8, &t, &e), STRATA_ECORRUPT);
	strata_schema_free(s);
}

static void test_row_json_roundtrip(void)
{
	strata_schema *s = all_types_schema();
	strata_arena *a = strata_arena_new();
	strata_row r;
	strata_err e;
	const char *in = "{\"pk\":-5,\"i\":7,\"d\":1.5,\"f\":2.25,\"b\":true,\"s\":\"h\\u00e9\\n\","
			 "\"bin\":\"AAEC/w==\",\"ts\":\"2024-02-29 12:34:56.000123\"}";
	CU_ASSERT_EQUAL_FATAL(row_from_text(s, in, a, &r, &e), 0);
	CU_ASSERT_EQUAL(r.vals[0].v.i64, -5);
	CU_ASSERT_EQUAL(r.vals[6].v.s.len, 4);
	CU_ASSERT_EQUAL(r.vals[6].v.s.ptr[3], 0xff);
	strata_buf out = {0};
	strata_row_to_json(s, &r, false, &out);
	strata_buf_putc(&out, 0);
	CU_ASSERT_STRING_EQUAL((char *)out.data,
			       "{\"pk\":-5,\"i\":7,\"d\":1.5,\"f\":2.25,\"b\":true,\"s\":\"h\xc3\xa9\\n\","
			       "\"bin\":\"AAEC/w==\",\"ts\":\"2024-02-29 12:34:56.000123\"}");
	strata_buf_free(&out);
	strata_arena_free(a);
	strata_schema_free(s);
}

/* Print one row holding d and f as JSON, parse it back the way `strata
 * write` does; the values must come back bit for bit (NaN as a NaN). */
static bool floats_roundtrip(const strata_schema *s, double d, float f)
{
	strata_arena *a = strata_arena_new();
	strata_row r = {.ncols = s->ncols, .vals = strata_arena_alloc(a, sizeof(strata_value) * s->ncols)};
	memset(r.vals, 0, sizeof(strata_value) * s->ncols);
	for (uint32_t i = 0; i < s->ncols; i++)
		r.vals[i].is_null = i != 0 && i != 2 && i != 3;
	r.vals[2].v.f64 = d;
	r.vals[3].v.f32 = f;
	strata_buf out = {0};
	strata_row_to_json(s, &r, false, &out);
	json_t *j = NULL;
	strata_row back;
	strata_err e = {0};
	bool ok = strata_json_parse((const char *)out.data, out.len, &j, &e) == 0 &&
		  strata_row_from_json(s, j, a, &back, &e) == 0;
	if (ok && isnan(d))
		ok = isnan(back.vals[2].v.f64);
	else if (ok)
		ok = memcmp(&back.vals[2].v.f64, &d, sizeof(d)) == 0;
	if (ok && isnan(f))
		ok = isnan(back.vals[3].v.f32);
	else if (ok)
		ok = memcmp(&back.vals[3].v.f32, &f, sizeof(f)) == 0;
	if (!ok)
		fprintf(stderr, "\n%a / %a do not round-trip: %.*s (%s)\n", d, (double)f,
			(int)out.len, (char *)out.data, e.msg);
	json_decref(j);
	strata_buf_free(&out);
	strata_arena_free(a);
	return ok;
}

/* Every FLOAT and DOUBLE that scan prints, write takes back unchanged:
 * the extremes, denormals, -0.0, NaN and the infinities, and a sample of
 * random bit patterns. */
static void test_float_roundtrip(void)
{
	strata_schema *s = all_types_schema();
	static const float fs[] = {FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN,
				   -FLT_TRUE_MIN, 0x1.fffffcp-127f, -0x1.fffffcp-127f, -0.0f,
				   0.0f, 1.0f, 0.1f, 16777216.0f, 1e30f, 3.4028233e38f,
				   INFINITY, -INFINITY, NAN, 0x1.fffffep+126f, FLT_EPSILON};
	static const double ds[] = {DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN, DBL_TRUE_MIN,
				    -DBL_TRUE_MIN, 0x1.fffffffffffffp-1023, -0.0, 0.0, 1.0, 0.1,
				    9007199254740993.0, 1e15, 1e15 - 1, 1e17, 123456789012345678.0,
				    INFINITY, -INFINITY, NAN, DBL_EPSILON};
	int bad = 0;
	for (size_t i = 0; i < STRATA_ARRAY_LEN(fs); i++)
		bad += !floats_roundtrip(s, ds[i % STRATA_ARRAY_LEN(ds)], fs[i]);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ds); i++)
		bad += !floats_roundtrip(s, ds[i], fs[(i + 3) % STRATA_ARRAY_LEN(fs)]);
	/* every exponent with random mantissas, and random patterns */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 200000 && bad < 10; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t fb = (uint32_t)x;
		if (i % 2)
			fb = (fb & 0x807fffffu) | (uint32_t)(i / 2 % 256) << 23;
		float f;
		double d;
		memcpy(&f, &fb, sizeof(f));
		memcpy(&d, &x, sizeof(d));
		bad += !floats_roundtrip(s, d, f);
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* what scan printed for FLT_MAX before (%.9g) is FLT_MAX, not an error;
	 * what rounds to infinity still is an error */
	strata_arena *a = strata_arena_new();
	strata_row r;
	strata_err e;
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"f\":3.40282347e+38}", a, &r, &e), 0);
	CU_ASSERT(r.vals[3].v.f32 == FLT_MAX);
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"f\":-3.4028235677e+38}", a, &r, &e), 0);
	CU_ASSERT(r.vals[3].v.f32 == -FLT_MAX);
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"f\":3.4028235678e+38}", a, &r, &e),
			STRATA_EINVAL);
	CU_ASSERT(strstr(e.msg, "out of range for FLOAT") != NULL);
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"f\":1e39}", a, &r, &e), STRATA_EINVAL);
	strata_arena_free(a);
	strata_schema_free(s);
}

static void test_row_json_errors(void)
{
	strata_schema *s = all_types_schema();
	strata_arena *a = strata_arena_new();
	strata_row r;
	strata_err e;
	const struct {
		const char *json;
		const char *needle;
	} cases[] = {
		{"{\"i\":1}", "missing primary key column \"pk\""},
		{"{\"pk\":\"x\"}", "column \"pk\" is BIGINT, got a JSON string"},
		{"{\"pk\":1,\"nope\":2}", "unknown column \"nope\""},
		{"{\"pk\":1,\"i\":3000000000}", "out of range for INT"},
		{"{\"pk\":null}", "NOT NULL"},
		{"{\"pk\":1,\"bin\":\"@@@\"}", "base64"},
		{"{\"pk\":1,\"ts\":\"yesterday\"}", "TIMESTAMP"},
		{"{\"pk\":1,\"_seq\":3}", "_seq"},
		{"{\"pk\":1,\"_op\":\"merge\"}", "_op"},
		/* found by fuzz_jsonl: a finite number beyond FLOAT's range was
		 * converted with undefined behaviour (an infinity on x86) */
		{"{\"pk\":1,\"f\":1e300}", "column \"f\": 1e+300 is out of range for FLOAT"},
		{"{\"pk\":1,\"f\":-3.5e38}", "out of range for FLOAT"},
		/* found by fuzz_jsonl: a TIMESTAMP the string form cannot spell was
		 * taken, and what scan printed for it, write refused */
		{"{\"pk\":1,\"ts\":-9223372036854775808}",
		 "column \"ts\": TIMESTAMP -9223372036854775808 (microseconds) is outside the years "
		 "0001 to 9999"},
		{"{\"pk\":1,\"ts\":253402300800000000}", "outside the years 0001 to 9999"},
		{"{\"pk\":1,\"ts\":\"0000-12-31 23:59:59\"}", "(years 0001 to 9999)"},
		{"{\"pk\":1,\"ts\":\"9999-12-31 23:59:60\"}", "(years 0001 to 9999)"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		strata_err_clear(&e);
		CU_ASSERT(row_from_text(s, cases[i].json, a, &r, &e) < 0);
		if (!strstr(e.msg, cases[i].needle))
			fprintf(stderr, "case %zu: got \"%s\"\n", i, e.msg);
		CU_ASSERT(strstr(e.msg, cases[i].needle) != NULL);
	}
	/* the bounds of both ranges are taken and print as they were written */
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"f\":3.4028234e38,\"ts\":\"0001-01-01 00:00:00\"}",
				      a, &r, &e), 0);
	strata_buf b = {0};
	strata_value_to_json(STRATA_T_TIMESTAMP, &r.vals[7], &b);
	strata_buf_putc(&b, 0);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "\"0001-01-01 00:00:00.000000\"");
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"ts\":253402300799999999}", a, &r, &e), 0);
	strata_buf_reset(&b);
	strata_value_to_json(STRATA_T_TIMESTAMP, &r.vals[7], &b);
	strata_buf_putc(&b, 0);
	CU_ASSERT_STRING_EQUAL((char *)b.data, "\"9999-12-31 23:59:59.999999\"");
	strata_buf_free(&b);
	CU_ASSERT_EQUAL(row_from_text(s, "{\"pk\":1,\"_op\":\"delete\",\"s\":\"ignored\"}", a, &r, &e), 0);
	CU_ASSERT_EQUAL(r.op, STRATA_OP_DELETE);
	CU_ASSERT(r.vals[5].is_null);
	strata_arena_free(a);
	strata_schema_free(s);
}

/* memcmp order of encoded keys equals value order, for every key type. */
static void test_key_order(void)
{
	const strata_type types[] = {STRATA_T_LONG, STRATA_T_INT, STRATA_T_DOUBLE,
				     STRATA_T_FLOAT, STRATA_T_STRING, STRATA_T_BOOL};
	for (size_t t = 0; t < STRATA_ARRAY_LEN(types); t++) {
		strata_schema *s = strata_schema_new(1);
		strata_column c = {.type = types[t], .id = 1, .key_pos = 0};
		snprintf(c.name, sizeof(c.name), "k");
		strata_schema_add(s, &c, NULL);
		strata_column c2 = {.type = STRATA_T_LONG, .id = 2, .key_pos = 1};
		snprintf(c2.name, sizeof(c2.name), "k2");
		strata_schema_add(s, &c2, NULL);
		srand(42 + (unsigned)t);
		for (int iter = 0; iter < 2000; iter++) {
			strata_value va[2], vb[2];
			memset(va, 0, sizeof(va));
			memset(vb, 0, sizeof(vb));
			char sa[8], sb[8];
			int la = rand() % 4, lb = rand() % 4;
			for (int i = 0; i < la; i++)
				sa[i] = (char)(rand() % 3);
			for (int i = 0; i < lb; i++)
				sb[i] = (char)(rand() % 3);
			int64_t x = rand() % 7 - 3, y = rand() % 7 - 3;
			switch (types[t]) {
			case STRATA_T_LONG:
				va[0].v.i64 = x * 1000000000000LL;
				vb[0].v.i64 = y * 1000000000000LL;
				break;
			case STRATA_T_INT:
				va[0].v.i32 = (int32_t)x * 100000;
				vb[0].v.i32 = (int32_t)y * 100000;
				break;
			case STRATA_T_DOUBLE:
				va[0].v.f64 = (double)x / 3.0;
				vb[0].v.f64 = (double)y / 3.0;
				break;
			case STRATA_T_FLOAT:
				va[0].v.f32 = (float)x / 3.0f;
				vb[0].v.f32 = (float)y / 3.0f;
				break;
			case STRATA_T_BOOL:
				va[0].v.b = x > 0;
				vb[0].v.b = y > 0;
				break;
			default:
				va[0].v.s.ptr = (uint8_t *)sa;
				va[0].v.s.len = (uint32_t)la;
				vb[0].v.s.ptr = (uint8_t *)sb;
				vb[0].v.s.len = (uint32_t)lb;
			}
			va[1].v.i64 = rand() % 3 - 1;
			vb[1].v.i64 = rand() % 3 - 1;
			int expect;
			switch (types[t]) {
			case STRATA_T_LONG: expect = (va[0].v.i64 > vb[0].v.i64) - (va[0].v.i64 < vb[0].v.i64); break;
			case STRATA_T_INT: expect = (va[0].v.i32 > vb[0].v.i32) - (va[0].v.i32 < vb[0].v.i32); break;
			case STRATA_T_DOUBLE: expect = (va[0].v.f64 > vb[0].v.f64) - (va[0].v.f64 < vb[0].v.f64); break;
			case STRATA_T_FLOAT: expect = (va[0].v.f32 > vb[0].v.f32) - (va[0].v.f32 < vb[0].v.f32); break;
			case STRATA_T_BOOL: expect = (int)va[0].v.b - (int)vb[0].v.b; break;
			default: {
				int n = la < lb ? la : lb;
				expect = n ? memcmp(sa, sb, (size_t)n) : 0;
				if (!expect)
					expect = la - lb;
			}
			}
			if (expect == 0)
				expect = (va[1].v.i64 > vb[1].v.i64) - (va[1].v.i64 < vb[1].v.i64);
			strata_row ra = {.ncols = 2, .vals = va}, rb = {.ncols = 2, .vals = vb};
			strata_buf ka = {0}, kb = {0};
			CU_ASSERT_EQUAL(strata_key_encode(s, &ra, &ka, NULL), 0);
			CU_ASSERT_EQUAL(strata_key_encode(s, &rb, &kb, NULL), 0);
			int got = strata_key_cmp(ka.data, ka.len, kb.data, kb.len);
			got = (got > 0) - (got < 0);
			expect = (expect > 0) - (expect < 0);
			CU_ASSERT_EQUAL(got, expect);
			/* decode gives the values back */
			strata_value dv[2];
			strata_arena *ar = strata_arena_new();
			CU_ASSERT_EQUAL(strata_key_decode(s, ka.data, ka.len, dv, ar, NULL), 0);
			CU_ASSERT(strata_value_eq(types[t], &dv[0], &va[0]));
			CU_ASSERT(strata_value_eq(STRATA_T_LONG, &dv[1], &va[1]));
			strata_arena_free(ar);
			strata_buf_free(&ka);
			strata_buf_free(&kb);
		}
		strata_schema_free(s);
	}
}

static void test_sketch(void)
{
	uint8_t regs[STRATA_SKETCH_REGS] = {0};
	for (int i = 0; i < 100000; i++)
		strata_sketch_add(regs, (uint8_t *)&i, sizeof(i));
	double est = strata_sketch_estimate(regs);
	CU_ASSERT(est > 80000 && est < 120000);
	uint8_t small[STRATA_SKETCH_REGS] = {0};
	for (int i = 0; i < 50; i++)
		strata_sketch_add(small, (uint8_t *)&i, sizeof(i));
	est = strata_sketch_estimate(small);
	CU_ASSERT(est > 40 && est < 60);
}

/* Write an Avro row file with every type and read it back, by schema and
 * standalone; then damage it and expect a clear error naming the file. */
static void test_avro_roundtrip(void)
{
	strata_schema *s = all_types_schema();
	const char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/r.avro", dir);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_AVRO);
	for (int codec = 0; codec < 2; codec++) {
		unlink(path);
		o.codec = codec ? STRATA_CODEC_DEFLATE : STRATA_CODEC_NONE;
		strata_fwriter *w;
		strata_err e;
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
		strata_arena *a = strata_arena_new();
		for (int i = 0; i < 1000; i++) {
			char text[256];
			if (i % 10 == 3)
				snprintf(text, sizeof(text), "{\"pk\":%d,\"_op\":\"delete\"}", i);
			else
				snprintf(text, sizeof(text),
					 "{\"pk\":%d,\"i\":%d,\"d\":%d.5,\"s\":\"%s\",\"bin\":\"AA==\","
					 "\"ts\":%d,\"b\":%s}",
					 i, -i, i, i % 7 ? "str" : "", i * 1000, i % 2 ? "true" : "false");
			strata_row r;
			CU_ASSERT_EQUAL_FATAL(row_from_text(s, text, a, &r, &e), 0);
			CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &r, &e), 0);
		}
		/* out of order is refused */
		strata_row r;
		row_from_text(s, "{\"pk\":5}", a, &r, &e);
		CU_ASSERT_EQUAL(strata_fwriter_add(w, &r, &e), STRATA_EINVAL);
		strata_file_stats st;
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
		CU_ASSERT_EQUAL(st.rows, 1000);
		CU_ASSERT_EQUAL(st.tombstones, 100);
		CU_ASSERT_EQUAL(st.keys, 1000);
		CU_ASSERT(st.bytes > 0);
		strata_file_stats_free(&st);

		strata_run_opts ro = {.file_schema = s, .default_seq = 7};
		strata_run *run;
		CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
		const strata_row *row;
		int n = 0, rc;
		while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
			CU_ASSERT_EQUAL(row->vals[0].v.i64, n);
			CU_ASSERT_EQUAL(row->seq, 7);
			if (n % 10 == 3) {
				CU_ASSERT_EQUAL(row->op, STRATA_OP_DELETE);
				CU_ASSERT(row->vals[1].is_null);
			} else {
				CU_ASSERT_EQUAL(row->vals[1].v.i32, -n);
				CU_ASSERT_EQUAL(row->vals[5].v.s.len, n % 7 ? 3u : 0u);
				CU_ASSERT_EQUAL(row->vals[7].v.i64, n * 1000);
				CU_ASSERT(row->vals[3].is_null);
			}
			n++;
		}
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(n, 1000);
		/* seek */
		strata_run_close(run);
		CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
		strata_buf k = {0};
		strata_value kv = {.v.i64 = 500};
		strata_value vals[8];
		memset(vals, 0, sizeof(vals));
		vals[0] = kv;
		strata_row kr = {.ncols = 8, .vals = vals};
		strata_key_encode(s, &kr, &k, NULL);
		CU_ASSERT_EQUAL(strata_run_seek(run, k.data, k.len, &e), 0);
		CU_ASSERT_EQUAL(strata_run_next(run, &row, NULL, NULL, &e), 1);
		CU_ASSERT_EQUAL(row->vals[0].v.i64, 500);
		strata_buf_free(&k);
		strata_run_close(run);
		strata_arena_free(a);
	}
	/* standalone: schema from the file */
	strata_run_opts ro = {0};
	strata_run *run;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	CU_ASSERT_EQUAL(strata_run_file_schema(run)->ncols, 8);
	CU_ASSERT_EQUAL(strata_run_file_schema(run)->version, 1);
	strata_run_close(run);

	/* truncated */
	size_t len;
	char *data = tu_read_file(path, &len);
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/bad.avro", dir);
	for (size_t cut = 1; cut < len; cut += len / 37 + 1) {
		tu_write_file(bad, data, cut);
		strata_run_opts bo = {.file_schema = s};
		int rc = strata_run_open(bad, &bo, &run, &e);
		if (rc == 0) {
			const strata_row *row;
			while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1)
				;
			strata_run_close(run);
		}
		CU_ASSERT(rc < 0);
		if (rc < 0)
			CU_ASSERT(strstr(e.msg, "bad.avro") != NULL);
	}
	free(data);
	strata_schema_free(s);
}

/* Bug fix (found by stratad's tests under ASan): the Parquet writer copied a
 * column chunk's min/max statistics with one byte more than they hold, and
 * a string bound truncated to exactly 64 bytes sits in a 64-byte buffer:
 * strings of 64 bytes and more read past it (heap-buffer-overflow). */
static void test_parquet_long_string_stats(void)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "pk");
	c.type = STRATA_T_LONG;
	c.id = 1;
	c.key_pos = 0;
	strata_schema_add(s, &c, NULL);
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "v");
	c.type = STRATA_T_STRING;
	c.id = 2;
	c.key_pos = -1;
	c.is_nullable = true;
	strata_schema_add(s, &c, NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/long.parquet", tu_tmpdir());
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	strata_fwriter *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	strata_arena *a = strata_arena_new();
	for (int i = 0; i < 200; i++) {
		char v[128], text[256];
		int len = i % 2 ? 64 : 100;
		for (int k = 0; k < len; k++)
			v[k] = (char)('a' + (i * 7 + k) % 26);
		v[len] = '\0';
		snprintf(text, sizeof(text), "{\"pk\":%d,\"v\":\"%s\"}", i, v);
		strata_row r;
		CU_ASSERT_EQUAL_FATAL(row_from_text(s, text, a, &r, &e), 0);
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &r, &e), 0);
	}
	strata_file_stats st;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
	CU_ASSERT_EQUAL(st.rows, 200);
	strata_file_stats_free(&st);
	strata_run_opts ro = {.read_schema = s};
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	const strata_row *row;
	int n = 0;
	while (strata_run_next(run, &row, NULL, NULL, &e) == 1) {
		CU_ASSERT_EQUAL(row->vals[1].v.s.len, n % 2 ? 64u : 100u);
		n++;
	}
	CU_ASSERT_EQUAL(n, 200);
	strata_run_close(run);
	strata_arena_free(a);
	strata_schema_free(s);
}

static void test_not_a_data_file(void)
{
	const char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/x.bin", dir);
	tu_write_file(path, "hello world", 11);
	strata_run_opts ro = {0};
	strata_run *run;
	strata_err e;
	CU_ASSERT_EQUAL(strata_run_open(path, &ro, &run, &e), STRATA_ECORRUPT);
	CU_ASSERT(strstr(e.msg, "bad magic") != NULL);
}

static void register_format(void)
{
	CU_pSuite s = CU_add_suite("format", NULL, NULL);
	TU_ADD(s, test_schema_json);
	TU_ADD(s, test_row_json_roundtrip);
	TU_ADD(s, test_float_roundtrip);
	TU_ADD(s, test_row_json_errors);
	TU_ADD(s, test_key_order);
	TU_ADD(s, test_sketch);
	TU_ADD(s, test_avro_roundtrip);
	TU_ADD(s, test_not_a_data_file);
	TU_ADD(s, test_parquet_long_string_stats);
}

TU_MAIN(register_format)
