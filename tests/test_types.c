/*
 * tests/test_types.c — DATE and DECIMAL(p,s) end to end, and schema
 * evolution by rename and type widening (issue 17, item 4).
 *
 * Values: the text forms (dates 0001-01-01 to 9999-12-31, before 1970 and
 * far ahead; decimals negative, zero, at precision 38, at the boundaries of
 * each physical width), exact JSON input (a number with more digits than a
 * double holds comes through strata_json_parse unchanged), the key encoding
 * (memcmp order equals numeric order for random and boundary values), and
 * bad literals (errors name the column).
 *
 * Files: a table with DATE and DECIMAL key and value columns goes through
 * write (Avro row files, whose header keeps the logical types), sort,
 * merge and major compaction (Parquet): every version reads the same
 * before and after each job, and the values are exactly the ones written.
 * DuckDB (the real one, tests/duckdb_query.cjs) reads our Parquet files
 * with the same values and logical types, and we read DuckDB's.
 *
 * Evolution: rename-column keeps older versions' names; INT -> BIGINT,
 * FLOAT -> DOUBLE and DECIMAL(p,s) -> DECIMAL(p',s) read old files (row and
 * columnar, through the merge and the columnar paths) as the new type, and
 * a major compaction rewrites them in it; anything else is a clear error
 * and commits nothing.
 */
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "api/strata.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>

/* ---- text forms -------------------------------------------------------------------- */

static void test_date_text(void)
{
	struct {
		const char *s;
		int32_t days;
	} ok[] = {
		{"0001-01-01", -719162}, {"1969-12-31", -1},        {"1970-01-01", 0},
		{"2000-02-29", 11016},   {"2026-12-05", 20792},     {"9999-12-31", 2932896},
		{"1600-03-01", -135080}, {"1899-12-31", -25568},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ok); i++) {
		int32_t d = 12345;
		CU_ASSERT_EQUAL(strata_date_parse(ok[i].s, &d), 0);
		CU_ASSERT_EQUAL(d, ok[i].days);
		strata_buf b = {0};
		strata_date_format(ok[i].days, &b);
		strata_buf_putc(&b, 0);
		CU_ASSERT_STRING_EQUAL((char *)b.data, ok[i].s);
		strata_buf_free(&b);
	}
	const char *bad[] = {"0000-12-31", "1900-02-29", "2026-13-01", "2026-00-10", "2026-1-01",
			     "2026-01-32", "20260-01-01", "2026-01-01 ", "2026/01/01", "", "x"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		int32_t d;
		CU_ASSERT_EQUAL(strata_date_parse(bad[i], &d), STRATA_EINVAL);
	}
	/* every 7th day of the whole range reads back, in order */
	int32_t prev = INT32_MIN;
	for (int32_t d = -719162; d <= 2932896; d += 7) {
		strata_buf b = {0};
		strata_date_format(d, &b);
		strata_buf_putc(&b, 0);
		int32_t back;
		if (strata_date_parse((char *)b.data, &back) != 0 || back != d || back <= prev) {
			CU_FAIL("date does not round-trip");
			fprintf(stderr, "day %d -> %s\n", d, (char *)b.data);
			strata_buf_free(&b);
			break;
		}
		prev = back;
		strata_buf_free(&b);
	}
}

static strata_column dec_col(const char *name, int p, int s)
{
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.type = STRATA_T_DECIMAL;
	c.precision = (uint8_t)p;
	c.scale = (uint8_t)s;
	c.key_pos = -1;
	c.id = 1;
	return c;
}

/* Parse text at (p,s), print it back; NULL with the error in err. */
static char *dec_roundtrip(int p, int s, const char *text, strata_err *err)
{
	strata_column c = dec_col("amount", p, s);
	strata_i128 x;
	if (strata_dec_parse(&c, text, strlen(text), &x, err) != 0)
		return NULL;
	strata_buf b = {0};
	strata_dec_format(x, s, &b);
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

static void test_decimal_text(void)
{
	struct {
		int p, s;
		const char *in, *out;
	} ok[] = {
		{10, 2, "-12.3", "-12.30"},
		{10, 2, "0", "0.00"},
		{10, 2, "-0", "0.00"},
		{10, 2, "+.5", "0.50"},
		{10, 2, "1.2300", "1.23"},
		{10, 2, "1e3", "1000.00"},
		{10, 2, "1234E-3", "1.23" /* 1.234: refused below */},
		{10, 2, "-99999999.99", "-99999999.99"},
		{38, 0, "99999999999999999999999999999999999999", "99999999999999999999999999999999999999"},
		{38, 0, "-99999999999999999999999999999999999999",
		 "-99999999999999999999999999999999999999"},
		{38, 38, "-0.99999999999999999999999999999999999999",
		 "-0.99999999999999999999999999999999999999"},
		{38, 10, "1234567890123456789012345678.0123456789",
		 "1234567890123456789012345678.0123456789"},
		{38, 10, "0000000000000000000000000000000000000000001.5", "1.5000000000"},
		{1, 0, "-9", "-9"},
		{19, 4, "-922337203685477.5808", "-922337203685477.5808"},
		{18, 4, "-92233720368547.7580", "-92233720368547.7580"},
		{19, 0, "9223372036854775808", "9223372036854775808"},
		{9, 0, "-2147483649", "-2147483649" /* past INT32 but 10 digits: refused */},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ok); i++) {
		strata_err e;
		strata_err_clear(&e);
		char *got = dec_roundtrip(ok[i].p, ok[i].s, ok[i].in, &e);
		bool is_refusal = strcmp(ok[i].in, "1234E-3") == 0 || strcmp(ok[i].in, "-2147483649") == 0;
		if (is_refusal) {
			CU_ASSERT_PTR_NULL(got);
			CU_ASSERT(strstr(e.msg, "\"amount\"") != NULL);
		} else {
			if (!got || strcmp(got, ok[i].out) != 0)
				fprintf(stderr, "DECIMAL(%d,%d) %s -> %s (%s)\n", ok[i].p, ok[i].s, ok[i].in,
					got ? got : "error", e.msg);
			CU_ASSERT_PTR_NOT_NULL(got);
			if (got)
				CU_ASSERT_STRING_EQUAL(got, ok[i].out);
		}
		free(got);
	}
	struct {
		int p, s;
		const char *in, *why;
	} bad[] = {
		{10, 2, "1.234", "more than 2 fraction digits"},
		{10, 2, "123456789.0", "out of range for DECIMAL(10,2)"},
		{38, 0, "999999999999999999999999999999999999999", "out of range"},
		{38, 0, "1e38", "out of range"},
		{5, 5, "1", "out of range"},
		{10, 2, "", "not a decimal number"},
		{10, 2, "-", "not a decimal number"},
		{10, 2, "1.2.3", "not a decimal number"},
		{10, 2, "1e", "not a decimal number"},
		{10, 2, "12a", "not a decimal number"},
		{10, 2, "NaN", "not a decimal number"},
		{10, 2, " 1", "not a decimal number"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		strata_err e;
		strata_err_clear(&e);
		char *got = dec_roundtrip(bad[i].p, bad[i].s, bad[i].in, &e);
		CU_ASSERT_PTR_NULL(got);
		CU_ASSERT_EQUAL(e.code, STRATA_EINVAL);
		if (!strstr(e.msg, bad[i].why) || !strstr(e.msg, "column \"amount\""))
			fprintf(stderr, "\"%s\": %s\n", bad[i].in, e.msg);
		CU_ASSERT(strstr(e.msg, bad[i].why) != NULL);
		CU_ASSERT(strstr(e.msg, "column \"amount\"") != NULL);
		free(got);
	}
	/* the type itself */
	strata_column c = dec_col("m", 1, 0);
	strata_err e;
	CU_ASSERT_EQUAL(strata_column_type_parse("decimal( 20 , 3 )", &c, &e), 0);
	CU_ASSERT(c.type == STRATA_T_DECIMAL && c.precision == 20 && c.scale == 3);
	CU_ASSERT_EQUAL(strata_column_type_parse("DECIMAL(7)", &c, &e), 0);
	CU_ASSERT(c.precision == 7 && c.scale == 0);
	CU_ASSERT_EQUAL(strata_column_type_parse("DATE", &c, &e), 0);
	CU_ASSERT(c.type == STRATA_T_DATE && c.precision == 0);
	const char *badt[] = {"DECIMAL(39,0)", "DECIMAL(0,0)", "DECIMAL(5,6)", "DECIMAL(5,",
			      "DECIMAL(a,b)", "INT(3)", "DECIMAL(5,2)x"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(badt); i++) {
		CU_ASSERT_EQUAL(strata_column_type_parse(badt[i], &c, &e), STRATA_EINVAL);
		CU_ASSERT(strstr(e.msg, "column \"m\"") != NULL);
	}
}

/* ---- JSON: exact numbers and errors naming the column ---------------------------- */

static strata_schema *json_schema(void)
{
	strata_schema *s = strata_schema_new(1);
	const char *defs[][2] = {{"id", "BIGINT"},      {"c", "DECIMAL(38,9)"}, {"n", "DECIMAL(38,0)"},
				 {"d", "DOUBLE"},       {"day", "DATE"},        {"f", "FLOAT"},
				 {"small", "DECIMAL(4,1)"}};
	for (uint32_t i = 0; i < STRATA_ARRAY_LEN(defs); i++) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", defs[i][0]);
		CU_ASSERT_EQUAL(strata_column_type_parse(defs[i][1], &c, NULL), 0);
		c.id = i + 1;
		c.key_pos = i == 0 ? 0 : -1;
		c.is_nullable = i != 0;
		strata_schema_add(s, &c, NULL);
	}
	CU_ASSERT_EQUAL(strata_schema_validate(s, NULL), 0);
	return s;
}

/* Parse one JSON row and print it back; NULL with the error in err. */
static char *json_roundtrip(const strata_schema *s, const char *text, strata_err *err)
{
	json_t *j = NULL;
	strata_arena *a = strata_arena_new();
	char *out = NULL;
	strata_row row;
	if (strata_json_parse(text, strlen(text), &j, err) == 0 &&
	    strata_row_from_json(s, j, a, &row, err) == 0) {
		strata_buf b = {0};
		strata_row_to_json(s, &row, false, &b);
		strata_buf_putc(&b, 0);
		out = (char *)b.data;
	}
	json_decref(j);
	strata_arena_free(a);
	return out;
}

static void test_json_exact(void)
{
	strata_schema *s = json_schema();
	strata_err e;
	strata_err_clear(&e);
	/* numbers with more digits than a double holds arrive exactly */
	char *got = json_roundtrip(s,
				   "{\"id\":1,\"c\":12345678901234567890.123456789,"
				   "\"n\":-99999999999999999999999999999999999999,\"d\":0.1,"
				   "\"day\":\"1969-07-20\",\"f\":2.5e0,\"small\":-999.9}",
				   &e);
	if (!got)
		fprintf(stderr, "%s\n", e.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, "{\"id\":1,\"c\":\"12345678901234567890.123456789\","
				    "\"n\":\"-99999999999999999999999999999999999999\",\"d\":0.1,"
				    "\"day\":\"1969-07-20\",\"f\":2.5,\"small\":\"-999.9\"}");
	free(got);
	/* strings, integers and days since 1970 */
	got = json_roundtrip(s, "{\"id\":2,\"c\":\"-0.000000001\",\"n\":7,\"day\":-1}", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, "{\"id\":2,\"c\":\"-0.000000001\",\"n\":\"7\",\"d\":null,"
				    "\"day\":\"1969-12-31\",\"f\":null,\"small\":null}");
	free(got);
	/* what printed comes back the same */
	got = json_roundtrip(s, "{\"id\":3,\"c\":\"1.000000000\",\"day\":\"0001-01-01\"}", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	char *again = json_roundtrip(s, got, &e);
	CU_ASSERT_PTR_NOT_NULL(again);
	if (again)
		CU_ASSERT_STRING_EQUAL(again, got);
	free(again);
	free(got);
	/* bad literals: clear errors naming the column */
	struct {
		const char *row, *why;
	} bad[] = {
		{"{\"id\":1,\"c\":\"12.3456789012\"}", "column \"c\": \"12.3456789012\" has more than 9"},
		{"{\"id\":1,\"small\":1000}", "column \"small\": \"1000\" is out of range for DECIMAL(4,1)"},
		{"{\"id\":1,\"small\":\"ten\"}", "column \"small\": \"ten\" is not a decimal number"},
		{"{\"id\":1,\"small\":true}", "column \"small\" is DECIMAL, got a JSON boolean"},
		{"{\"id\":1,\"day\":\"2026-02-30\"}", "column \"day\": DATE wants \"YYYY-MM-DD\""},
		{"{\"id\":1,\"day\":3000000}", "column \"day\": DATE 3000000 (days) is outside"},
		{"{\"id\":1,\"day\":1.5}", "column \"day\" is DATE, got a JSON number"},
		{"{\"id\":1.5}", "column \"id\" is BIGINT, got a JSON number"},
		{"{\"id\":99999999999999999999}", "column \"id\": 99999999999999999999 is out of range "
						  "for BIGINT"},
		{"{\"id\":1,\"d\":1.5e400}", "column \"d\": 1.5e400 is out of range for DOUBLE"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		strata_err_clear(&e);
		got = json_roundtrip(s, bad[i].row, &e);
		CU_ASSERT_PTR_NULL(got);
		if (!strstr(e.msg, bad[i].why))
			fprintf(stderr, "%s: %s\n", bad[i].row, e.msg);
		CU_ASSERT(strstr(e.msg, bad[i].why) != NULL);
		free(got);
	}
	/* malformed numbers stay malformed JSON (never rewritten) */
	const char *malformed[] = {"{\"id\":1,\"c\":-}", "{\"id\":1,\"c\":1.}",
				   "{\"id\":1,\"c\":01.5}", "{\"id\":1,\"c\":1e}",
				   "{\"id\":1,\"c\":1.5.5}", "{\"id\":1,\"c\":--1.5}",
				   "{\"id\":1,\"c\":+1.5}"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(malformed); i++) {
		strata_err_clear(&e);
		CU_ASSERT_PTR_NULL(json_roundtrip(s, malformed[i], &e));
		if (!strstr(e.msg, "malformed JSON"))
			fprintf(stderr, "%s: %s\n", malformed[i], e.msg);
		CU_ASSERT(strstr(e.msg, "malformed JSON at column") != NULL);
	}
	/* a parse error is reported against the text as given */
	strata_err_clear(&e);
	CU_ASSERT_PTR_NULL(json_roundtrip(s, "{\"id\":1,\"c\":1.5,}", &e));
	CU_ASSERT(strstr(e.msg, "malformed JSON at column 17") != NULL);
	strata_schema_free(s);
}

/* ---- key encoding ----------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random unscaled value of at most 38 digits, biased to small and edge values. */
static strata_i128 rnd_dec(void)
{
	static const char *const edges[] = {"0",
					    "1",
					    "-1",
					    "2147483647",
					    "-2147483648",
					    "9223372036854775807",
					    "-9223372036854775808",
					    "18446744073709551616",
					    "99999999999999999999999999999999999999",
					    "-99999999999999999999999999999999999999"};
	strata_i128 x;
	switch (rnd64() % 4) {
	case 0: {
		strata_column c = dec_col("k", 38, 0);
		const char *t = edges[rnd64() % STRATA_ARRAY_LEN(edges)];
		CU_ASSERT_EQUAL(strata_dec_parse(&c, t, strlen(t), &x, NULL), 0);
		return x;
	}
	case 1:
		return (strata_i128)(int64_t)rnd64() >> (rnd64() % 64);
	default:
		x = (strata_i128)(((unsigned __int128)rnd64() << 64) | rnd64());
		x %= strata_dec_pow10(38);
		return x;
	}
}

static void test_key_order(void)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c = dec_col("amount", 38, 10);
	c.key_pos = 0;
	c.id = 1;
	strata_schema_add(s, &c, NULL);
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "day");
	c.type = STRATA_T_DATE;
	c.key_pos = 1;
	c.id = 2;
	strata_schema_add(s, &c, NULL);
	CU_ASSERT_EQUAL_FATAL(strata_schema_validate(s, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		strata_value va[2], vb[2];
		memset(va, 0, sizeof(va));
		memset(vb, 0, sizeof(vb));
		strata_i128 x = rnd_dec(), y = i % 5 == 0 ? x : rnd_dec();
		strata_dec_set(&va[0], x);
		strata_dec_set(&vb[0], y);
		va[1].v.i32 = (int32_t)(rnd64() % 3652059) - 719162;
		vb[1].v.i32 = i % 3 == 0 ? va[1].v.i32 : (int32_t)(rnd64() % 3652059) - 719162;
		strata_row ra = {.ncols = 2, .vals = va}, rb = {.ncols = 2, .vals = vb};
		strata_buf ka = {0}, kb = {0};
		CU_ASSERT_EQUAL_FATAL(strata_key_encode(s, &ra, &ka, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(strata_key_encode(s, &rb, &kb, NULL), 0);
		int want = x != y ? (x < y ? -1 : 1) :
			   (va[1].v.i32 > vb[1].v.i32) - (va[1].v.i32 < vb[1].v.i32);
		int got = strata_key_cmp(ka.data, ka.len, kb.data, kb.len);
		got = (got > 0) - (got < 0);
		if (got != want) {
			CU_FAIL("key order differs from value order");
			break;
		}
		CU_ASSERT_EQUAL(strata_key_cmp_inline(ka.data, ka.len, kb.data, kb.len) < 0, want < 0);
		strata_value dec[2];
		CU_ASSERT_EQUAL_FATAL(strata_key_decode(s, ka.data, ka.len, dec, NULL, NULL), 0);
		CU_ASSERT(strata_dec_get(&dec[0]) == x && dec[1].v.i32 == va[1].v.i32);
		strata_buf_free(&ka);
		strata_buf_free(&kb);
	}
	strata_schema_free(s);
}

/* ---- through write, sort, merge and compaction -------------------------------------- */

#define TYPES_COLS                                                                         \
	"id DECIMAL(38,10) NOT NULL PRIMARY KEY, day DATE NOT NULL PRIMARY KEY, d DATE, "  \
	"a DECIMAL(9,2), "                                                                 \
	"b DECIMAL(18,4), c DECIMAL(38,0), e DECIMAL(20,3), ts TIMESTAMP"

/* Rows with every boundary: ids negative, zero, positive at full precision;
 * a DECIMAL at each physical width (INT32, INT64, FIXED_LEN_BYTE_ARRAY) at
 * its extremes; dates before 1970 and far ahead. */
static const char *const types_rows[] = {
	"{\"id\":\"-9999999999999999999999999999.9999999999\",\"day\":\"0001-01-01\","
	"\"d\":\"0001-01-01\",\"a\":\"-9999999.99\",\"b\":\"-99999999999999.9999\","
	"\"c\":\"-99999999999999999999999999999999999999\",\"e\":\"-99999999999999999.999\","
	"\"ts\":\"0001-01-01 00:00:00.000000\"}",
	"{\"id\":\"-1.0000000000\",\"day\":\"1969-12-31\",\"d\":\"1969-12-31\",\"a\":\"-0.01\","
	"\"b\":\"-0.0001\",\"c\":\"-1\",\"e\":\"-0.001\",\"ts\":\"1969-12-31 23:59:59.999999\"}",
	"{\"id\":\"0.0000000000\",\"day\":\"1970-01-01\",\"d\":\"1970-01-01\",\"a\":\"0.00\","
	"\"b\":\"0.0000\",\"c\":\"0\",\"e\":\"0.000\",\"ts\":\"1970-01-01 00:00:00.000000\"}",
	"{\"id\":\"0.0000000001\",\"day\":\"1970-01-01\",\"d\":null,\"a\":null,\"b\":null,"
	"\"c\":null,\"e\":null,\"ts\":null}",
	"{\"id\":\"0.0000000001\",\"day\":\"2026-12-05\",\"d\":\"2026-12-05\",\"a\":\"2147483.47\","
	"\"b\":\"92233720368547.7580\",\"c\":\"18446744073709551616\","
	"\"e\":\"9223372036854775.808\",\"ts\":\"2026-12-05 09:00:00.000000\"}",
	"{\"id\":\"9999999999999999999999999999.9999999999\",\"day\":\"9999-12-31\","
	"\"d\":\"9999-12-31\",\"a\":\"9999999.99\",\"b\":\"99999999999999.9999\","
	"\"c\":\"99999999999999999999999999999999999999\",\"e\":\"99999999999999999.999\","
	"\"ts\":\"9999-12-31 23:59:59.999999\"}",
};

/* The scan lines the rows above give (in key order: they are listed so),
 * each with _seq s and upsert. */
static char *types_expect(uint64_t seq, const char *skip_id)
{
	strata_buf b = {0};
	strata_buf_printf(&b, "columns: id day d a b c e ts\n");
	for (size_t i = 0; i < STRATA_ARRAY_LEN(types_rows); i++) {
		const char *r = types_rows[i];
		if (skip_id && strstr(r, skip_id))
			continue;
		strata_buf_append(&b, r, strlen(r) - 1);
		strata_buf_printf(&b, ",\"_seq\":%llu,\"_op\":\"upsert\"}\n", (unsigned long long)seq);
	}
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

static char *jsonl_of_rows(void)
{
	strata_buf b = {0};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(types_rows); i++)
		strata_buf_printf(&b, "%s\n", types_rows[i]);
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

/* The one live Parquet file of bucket 0 (path into out); false if none. */
static bool live_parquet(jf *f, char *out, size_t n)
{
	strata_arena *a = strata_arena_new();
	strata_file_entry *fe;
	size_t nf = jf_live(f, 0, a, &fe);
	bool found = false;
	for (size_t i = 0; i < nf; i++)
		if (fe[i].format == STRATA_FMT_PARQUET) {
			jf_file_path(f, &fe[i], out, n);
			found = true;
		}
	strata_arena_free(a);
	return found;
}

/* Row r of a columnar batch's vector v (of column ci) as JSON, appended to
 * out; a type these tests do not read (FLOAT, STRING, ...) prints null. */
static void colvec_value_to_json(const strata_colinfo *ci, const strata_colvec *v, size_t r,
				 strata_buf *out)
{
	strata_value val;
	memset(&val, 0, sizeof(val));
	val.is_null = v->nulls[r];
	switch (v->type) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		val.v.i64 = ((const int64_t *)v->data)[r];
		break;
	case STRATA_T_DOUBLE:
		val.v.f64 = ((const double *)v->data)[r];
		break;
	case STRATA_T_DECIMAL:
		strata_dec_set(&val, ((const strata_i128 *)v->data)[r]);
		break;
	case STRATA_T_DATE:
	case STRATA_T_INT:
		val.v.i32 = ((const int32_t *)v->data)[r];
		break;
	default:
		val.is_null = true;
	}
	strata_column c;
	memset(&c, 0, sizeof(c));
	c.type = v->type;
	c.precision = ci->precision;
	c.scale = ci->scale;
	strata_column_value_to_json(&c, &val, out);
}

/* Every data column of a columnar scan at the current version as JSON rows
 * (in the scan's order), and how many buckets took the fast path. */
static char *colscan_rows(jf *f, uint64_t *fast)
{
	strata_colscan_opts o;
	memset(&o, 0, sizeof(o));
	strata_colscan *cs;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f->wh, f->table, &o, &cs, &err), 0);
	uint32_t idx[64];
	size_t n = 0;
	for (size_t i = 0; i < strata_colscan_ncols(cs) && n < 64; i++)
		if (strata_colscan_col(cs, i)->kind == STRATA_COL_DATA)
			idx[n++] = (uint32_t)i;
	strata_colcursor *cur;
	CU_ASSERT_EQUAL_FATAL(strata_colcursor_open(cs, idx, n, 3, &cur, &err), 0);
	strata_buf out = {0};
	const strata_colbatch *b;
	int rc;
	while ((rc = strata_colcursor_next(cur, &b, &err)) == 1) {
		for (size_t r = 0; r < b->nrows; r++) {
			strata_buf_putc(&out, '{');
			for (size_t k = 0; k < n; k++) {
				const strata_colinfo *ci = strata_colscan_col(cs, idx[k]);
				strata_buf_printf(&out, "%s\"%s\":", k ? "," : "", ci->name);
				colvec_value_to_json(ci, &b->cols[k], r, &out);
			}
			strata_buf_printf(&out, "}\n");
		}
	}
	CU_ASSERT_EQUAL(rc, 0);
	uint64_t merged;
	strata_colscan_paths(cs, fast, &merged);
	strata_colcursor_close(cur);
	strata_colscan_close(cs);
	strata_buf_putc(&out, 0);
	return (char *)out.data;
}

static void test_roundtrip_jobs(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	const char *props[] = {"write.bucket.num=1"};
	jf_open_props(&f, TYPES_COLS, 1, 24, props, 1);
	/* a composite key: (id, day) */
	strata_table_def def;
	jf_def(&f, &def);
	char *rows = jsonl_of_rows();
	uint64_t v1 = jf_put(&f, rows);
	free(rows);
	char *want = types_expect(v1, NULL);
	int rc;
	char *got = jf_dump_at(&f, v1, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n--- want\n%s--- got\n%s", want, got);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	/* the row file's header keeps the logical types (Avro C alone drops them) */
	strata_arena *a = strata_arena_new();
	strata_file_entry *fe;
	size_t nf = jf_live(&f, 0, a, &fe);
	CU_ASSERT_EQUAL_FATAL(nf, 1);
	char path[PATH_MAX];
	jf_file_path(&f, &fe[0], path, sizeof(path));
	size_t len;
	char *bytes = tu_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	const char *needles[] = {
		"{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}}",
		"{\"name\":\"a\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
		"\"precision\":9,\"scale\":2}]}",
		"\"logicalType\":\"decimal\",\"precision\":38,\"scale\":10}",
		"[\"null\",{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}]",
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(needles); i++) {
		bool has = memmem(bytes, len, needles[i], strlen(needles[i])) != NULL;
		if (!has)
			fprintf(stderr, "row file header lacks %s\n", needles[i]);
		CU_ASSERT(has);
	}
	free(bytes);
	/* read alone (no manifest), it names the logical types too */
	strata_run_opts ro = {.default_seq = 1};
	strata_run *run;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &err), 0);
	const strata_schema *fs = strata_run_file_schema(run);
	CU_ASSERT(fs->cols[1].type == STRATA_T_DATE && fs->cols[0].type == STRATA_T_DECIMAL &&
		  fs->cols[0].precision == 38 && fs->cols[0].scale == 10 &&
		  fs->cols[7].type == STRATA_T_TIMESTAMP);
	strata_run_close(run);
	strata_arena_free(a);

	/* updates, a delete, then sort, merge and major compaction: every
	 * version reads the same before and after each job */
	uint64_t v2 = jf_put(&f, "{\"id\":\"0\",\"day\":\"1970-01-01\",\"a\":\"1.5\"}\n"
				 "{\"_op\":\"delete\",\"id\":\"-1\",\"day\":\"1969-12-31\"}");
	CU_ASSERT_EQUAL(v2, v1 + 1);
	strata_job_result res;
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	rows = jsonl_of_rows();
	uint64_t v4 = jf_put(&f, rows);
	free(rows);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	jf_hist_take(&f, &h);
	jf_job_opts mo = {.merge_level = -1};
	rc = jf_job(&f, 0, JF_MERGE, &mo, NULL, &res, &err);
	CU_ASSERT(rc == 0 || rc == 1);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	/* the last write restored every row exactly */
	want = (free(want), types_expect(v4, NULL));
	got = jf_dump_at(&f, v4, &rc);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n--- want\n%s--- got\n%s", want, got);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	free(want);
	/* the columnar read API's fast path (one compacted file) decodes
	 * every DATE and DECIMAL width the same */
	uint64_t fast = 0;
	got = colscan_rows(&f, &fast);
	CU_ASSERT_EQUAL(fast, 1);
	strata_buf cw = {0};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(types_rows); i++)
		strata_buf_printf(&cw, "%s\n", types_rows[i]);
	strata_buf_putc(&cw, 0);
	if (strcmp(got, (char *)cw.data) != 0)
		fprintf(stderr, "\n--- want\n%s--- colscan\n%s", (char *)cw.data, got);
	CU_ASSERT_STRING_EQUAL(got, (char *)cw.data);
	strata_buf_free(&cw);
	free(got);

	/* DuckDB reads the compacted Parquet file with the same values and types */
	CU_ASSERT_FATAL(live_parquet(&f, path, sizeof(path)));
	if (tu_duckdb_available()) {
		char sql[2048];
		snprintf(sql, sizeof(sql),
			 "SELECT typeof(id) || ' ' || typeof(day) || ' ' || typeof(a) || ' ' || "
			 "typeof(b) || ' ' || typeof(c) || ' ' || typeof(e) AS t FROM read_parquet('%s') "
			 "LIMIT 1;\n"
			 "SELECT id::VARCHAR AS id, day::VARCHAR AS day, d::VARCHAR AS d, a::VARCHAR AS a, "
			 "b::VARCHAR AS b, c::VARCHAR AS c, e::VARCHAR AS e FROM read_parquet('%s') t "
			 "ORDER BY t.id, t.day;\n"
			 "SELECT count(*) AS n FROM read_parquet('%s') WHERE c < 0 AND e < -1;\n"
			 "SELECT (SELECT stats_min_value FROM parquet_metadata('%s') WHERE "
			 "path_in_schema = 'c') AS cmin, (SELECT stats_max_value FROM "
			 "parquet_metadata('%s') WHERE path_in_schema = 'e') AS emax;\n",
			 path, path, path, path, path);
		char *out = NULL;
		rc = tu_duckdb(sql, &out);
		if (rc)
			fprintf(stderr, "duckdb: %s\n", out ? out : "?");
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		/* the expected lines, from the rows as written */
		strata_buf exp = {0};
		strata_buf_printf(&exp, "{\"t\":\"DECIMAL(38,10) DATE DECIMAL(9,2) DECIMAL(18,4) "
					"DECIMAL(38,0) DECIMAL(20,3)\"}\n");
		for (size_t i = 0; i < STRATA_ARRAY_LEN(types_rows); i++) {
			json_t *j = json_loads(types_rows[i], 0, NULL);
			const char *cols[] = {"id", "day", "d", "a", "b", "c", "e"};
			strata_buf_putc(&exp, '{');
			for (size_t k = 0; k < STRATA_ARRAY_LEN(cols); k++) {
				json_t *v = json_object_get(j, cols[k]);
				if (json_is_string(v))
					strata_buf_printf(&exp, "%s\"%s\":\"%s\"", k ? "," : "", cols[k],
							  json_string_value(v));
				else
					strata_buf_printf(&exp, "%s\"%s\":null", k ? "," : "", cols[k]);
			}
			strata_buf_printf(&exp, "}\n");
			json_decref(j);
		}
		strata_buf_printf(&exp, "{\"n\":\"1\"}\n");
		strata_buf_printf(&exp, "{\"cmin\":\"-99999999999999999999999999999999999999\","
					"\"emax\":\"99999999999999999.999\"}\n");
		strata_buf_putc(&exp, 0);
		if (strcmp(out, (char *)exp.data) != 0)
			fprintf(stderr, "\n--- want\n%s--- duckdb\n%s", (char *)exp.data, out);
		CU_ASSERT_STRING_EQUAL(out, (char *)exp.data);
		strata_buf_free(&exp);
		free(out);
	}
	jf_close(&f);
	tu_clock_real();
}

/* Point lookups on a DECIMAL key of each Parquet width (INT32, INT64,
 * FIXED_LEN_BYTE_ARRAY) and on a DATE key: present keys are found, absent
 * ones are not, and the page index keeps the decoding to a few pages. */
static void test_point_lookups(void)
{
	const char *keys[] = {"k DECIMAL(7,2)", "k DECIMAL(15,2)", "k DECIMAL(30,2)", "k DATE"};
	for (size_t t = 0; t < STRATA_ARRAY_LEN(keys); t++) {
		bool is_date = strstr(keys[t], "DATE") != NULL;
		jf f;
		tu_clock_manual(JF_T0_US);
		char cols[128];
		snprintf(cols, sizeof(cols), "%s NOT NULL PRIMARY KEY, v BIGINT", keys[t]);
		const char *props[] = {"write.parquet.page.bytes=4096"};
		jf_open_props(&f, cols, 1, 24, props, 1);
		strata_buf rows = {0};
		/* keys -4000.00, -3997.00, ... (every third cent-free value) */
		for (int i = 0; i < 3000; i++) {
			int x = -4000 + 3 * i;
			if (is_date)
				strata_buf_printf(&rows, "{\"k\":%d,\"v\":%d}\n", x * 3, i);
			else
				strata_buf_printf(&rows, "{\"k\":\"%d.%02d\",\"v\":%d}\n", x, i % 100, i);
		}
		strata_buf_putc(&rows, 0);
		jf_put(&f, (char *)rows.data);
		strata_buf_free(&rows);
		strata_job_result res;
		strata_err err;
		CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
		for (int probe = 0; probe < 60; probe++) {
			int i = (probe * 211) % 3000;
			int x = -4000 + 3 * i;
			bool is_absent = probe % 3 == 2;
			char key[128];
			if (is_date)
				snprintf(key, sizeof(key), "{\"k\":%d}", x * 3 + (is_absent ? 1 : 0));
			else
				snprintf(key, sizeof(key), "{\"k\":\"%d.%02d\"}", x + (is_absent ? 1 : 0),
					 i % 100);
			json_t *k = json_loads(key, 0, NULL);
			strata_arena *a = strata_arena_new();
			strata_row row;
			strata_schema *s = NULL;
			uint64_t decoded = 0;
			int rc = strata_get_json(f.wh, "t", k, NULL, a, &row, &s, &decoded, &err);
			CU_ASSERT_EQUAL(rc, is_absent ? 0 : 1);
			if (rc == 1)
				CU_ASSERT_EQUAL(row.vals[1].v.i64, i);
			if (rc != (is_absent ? 0 : 1))
				fprintf(stderr, "%s: key %s -> %d (%s)\n", keys[t], key, rc, err.msg);
			/* one page (at most a few hundred rows), never the file */
			CU_ASSERT(decoded < 1500);
			json_decref(k);
			strata_schema_free(s);
			strata_arena_free(a);
		}
		jf_close(&f);
		tu_clock_real();
	}
}

/* DuckDB's DATE and DECIMAL files (INT32, INT64 and FIXED_LEN_BYTE_ARRAY
 * decimals, dictionary-encoded) read with the same values. */
static void test_read_duckdb_files(void)
{
	if (!tu_duckdb_available())
		return;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX], sql[2048];
	snprintf(path, sizeof(path), "%s/duck-types.parquet", dir);
	snprintf(sql, sizeof(sql),
		 "COPY (SELECT ((range - 50)::DECIMAL(4,1) / 10)::DECIMAL(4,1) AS p4, "
		 "((range - 50) * 12345)::DECIMAL(9,2) AS p9, "
		 "((range - 50) * 12345678901234)::DECIMAL(18,3) AS p18, "
		 "((range - 50)::HUGEINT * 1234567890123456789012345::HUGEINT)::DECIMAL(38,5) AS p38, "
		 "DATE '1900-01-01' + (range * 997)::INT AS dt, "
		 "CASE WHEN range %% 7 = 0 THEN NULL ELSE (range %% 3)::DECIMAL(20,2) END AS rep "
		 "FROM range(100)) TO '%s' (FORMAT parquet, COMPRESSION zstd);\n"
		 "SELECT p4::VARCHAR AS p4, p9::VARCHAR AS p9, p18::VARCHAR AS p18, p38::VARCHAR AS p38, "
		 "dt::VARCHAR AS dt, rep::VARCHAR AS rep FROM read_parquet('%s');\n",
		 path, path);
	char *out = NULL;
	int rc = tu_duckdb(sql, &out);
	if (rc)
		fprintf(stderr, "duckdb: %s\n", out ? out : "?");
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_run_opts ro = {0};
	strata_run *run;
	strata_err err;
	rc = strata_run_open(path, &ro, &run, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	const strata_schema *s = strata_run_file_schema(run);
	CU_ASSERT_EQUAL_FATAL(s->ncols, 6);
	CU_ASSERT(s->cols[0].type == STRATA_T_DECIMAL && s->cols[0].precision == 4 &&
		  s->cols[0].scale == 1);
	CU_ASSERT(s->cols[3].type == STRATA_T_DECIMAL && s->cols[3].precision == 38);
	CU_ASSERT(s->cols[4].type == STRATA_T_DATE);
	strata_buf ours = {0};
	const strata_row *row;
	while ((rc = strata_run_next(run, &row, NULL, NULL, &err)) == 1) {
		strata_buf_putc(&ours, '{');
		for (uint32_t i = 0; i < s->ncols; i++) {
			strata_buf_printf(&ours, "%s\"%s\":", i ? "," : "", s->cols[i].name);
			strata_column_value_to_json(&s->cols[i], &row->vals[i], &ours);
		}
		strata_buf_printf(&ours, "}\n");
	}
	CU_ASSERT_EQUAL(rc, 0);
	strata_buf_putc(&ours, 0);
	const char *dl = strchr(out, '\n'); /* the COPY's count line */
	CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
	if (strcmp(dl + 1, (char *)ours.data) != 0)
		fprintf(stderr, "\n--- duckdb\n%.600s--- ours\n%.600s", dl + 1, (char *)ours.data);
	CU_ASSERT_STRING_EQUAL(dl + 1, (char *)ours.data);
	strata_buf_free(&ours);
	strata_run_close(run);
	free(out);
}

/* ---- rename and widening -------------------------------------------------------------- */

static void test_rename_column(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "id INT NOT NULL PRIMARY KEY, w STRING, amount DECIMAL(10,2)", 1, 24);
	uint64_t v1 = jf_put(&f, "{\"id\":1,\"w\":\"one\",\"amount\":\"1.10\"}\n"
				 "{\"id\":2,\"w\":\"two\"}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	uint64_t v;
	CU_ASSERT_EQUAL_FATAL(strata_table_rename_column(f.wh, "t", "w", "word", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_rename_column(f.wh, "t", "id", "key_id", &v, &err), 0);
	uint64_t v3 = jf_put(&f, "{\"key_id\":3,\"word\":\"three\",\"amount\":\"-3\"}");
	int rc;
	char *old = jf_dump_at(&f, v1, &rc);
	char want[512];
	snprintf(want, sizeof(want),
		 "columns: id w amount\n"
		 "{\"id\":1,\"w\":\"one\",\"amount\":\"1.10\",\"_seq\":%llu,\"_op\":\"upsert\"}\n"
		 "{\"id\":2,\"w\":\"two\",\"amount\":null,\"_seq\":%llu,\"_op\":\"upsert\"}\n",
		 (unsigned long long)v1, (unsigned long long)v1);
	CU_ASSERT_STRING_EQUAL(old, want);
	free(old);
	char *now = jf_dump_at(&f, v3, &rc);
	CU_ASSERT(strstr(now, "columns: key_id word amount\n") == now);
	CU_ASSERT(strstr(now, "{\"key_id\":1,\"word\":\"one\",\"amount\":\"1.10\"") != NULL);
	CU_ASSERT(strstr(now, "{\"key_id\":3,\"word\":\"three\",\"amount\":\"-3.00\"") != NULL);
	free(now);
	/* a point lookup by the new key name */
	json_t *k = json_pack("{s:i}", "key_id", 2);
	strata_arena *a = strata_arena_new();
	strata_row row;
	strata_schema *s = NULL;
	CU_ASSERT_EQUAL(strata_get_json(f.wh, "t", k, NULL, a, &row, &s, NULL, &err), 1);
	json_decref(k);
	strata_schema_free(s);
	strata_arena_free(a);
	/* jobs after the rename write the new names; older versions still read */
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	/* refusals commit nothing */
	uint64_t before = jf_version(&f);
	struct {
		const char *from, *to, *why;
		int code;
	} bad[] = {
		{"word", "amount", "already has a column \"amount\"", STRATA_EEXIST},
		{"nope", "x", "has no column \"nope\"", STRATA_ENOTFOUND},
		{"word", "_x", "must start with a lowercase letter", STRATA_EINVAL},
		{"word", "9x", "column name", STRATA_EINVAL},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		strata_err_clear(&err);
		rc = strata_table_rename_column(f.wh, "t", bad[i].from, bad[i].to, &v, &err);
		CU_ASSERT_EQUAL(rc, bad[i].code);
		if (!strstr(err.msg, bad[i].why))
			fprintf(stderr, "rename %s %s: %s\n", bad[i].from, bad[i].to, err.msg);
		CU_ASSERT(strstr(err.msg, bad[i].why) != NULL);
	}
	CU_ASSERT_EQUAL(jf_version(&f), before);
	jf_close(&f);
	tu_clock_real();
}

/* Column x of every row of a columnar scan at the current version, as JSON
 * lines (the columnar path: fast or merged). */
static char *colscan_text(jf *f, const char *col)
{
	strata_colscan_opts o;
	memset(&o, 0, sizeof(o));
	strata_colscan *cs;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_colscan_open(f->wh, "t", &o, &cs, &err), 0);
	uint32_t idx = 0;
	for (size_t i = 0; i < strata_colscan_ncols(cs); i++)
		if (strcmp(strata_colscan_col(cs, i)->name, col) == 0)
			idx = (uint32_t)i;
	const strata_colinfo *ci = strata_colscan_col(cs, idx);
	strata_colcursor *cur;
	CU_ASSERT_EQUAL_FATAL(strata_colcursor_open(cs, &idx, 1, 7, &cur, &err), 0);
	tu_lines l = {0};
	const strata_colbatch *b;
	int rc;
	while ((rc = strata_colcursor_next(cur, &b, &err)) == 1) {
		const strata_colvec *v = &b->cols[0];
		for (size_t r = 0; r < b->nrows; r++) {
			strata_buf t = {0};
			colvec_value_to_json(ci, v, r, &t);
			strata_buf_putc(&t, 0);
			tu_lines_push(&l, (char *)t.data);
			strata_buf_free(&t);
		}
	}
	CU_ASSERT_EQUAL(rc, 0);
	strata_colcursor_close(cur);
	strata_colscan_close(cs);
	tu_lines_sort(&l);
	strata_buf out = {0};
	for (size_t i = 0; i < l.n; i++)
		strata_buf_printf(&out, "%s\n", l.v[i]);
	strata_buf_putc(&out, 0);
	tu_lines_free(&l);
	return (char *)out.data;
}

static void test_widen_column(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "id INT NOT NULL PRIMARY KEY, x INT, fl FLOAT, m DECIMAL(9,2), day DATE", 1, 24);
	/* v1: a columnar file after the sort; v2: a row file, both old types */
	uint64_t v1 = jf_put(&f, "{\"id\":1,\"x\":2147483647,\"fl\":1.5,\"m\":\"-9999999.99\","
				 "\"day\":\"1999-12-31\"}\n{\"id\":2,\"x\":-2147483648,\"fl\":-0.25}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	uint64_t v2 = jf_put(&f, "{\"id\":3,\"x\":7,\"fl\":3.25,\"m\":\"0.01\"}");
	char *at_v2 = jf_dump_at(&f, v2, NULL);
	/* refusals first: nothing committed */
	uint64_t before = jf_version(&f);
	struct {
		const char *col, *type, *why;
	} bad[] = {
		{"id", "BIGINT", "\"id\" is a primary key column: its type cannot change"},
		{"x", "INT", "column \"x\" is already INT"},
		{"x", "DOUBLE", "cannot change from INT to DOUBLE"},
		{"fl", "INT", "cannot change from FLOAT to INT"},
		{"m", "DECIMAL(9,3)", "cannot change from DECIMAL(9,2) to DECIMAL(9,3)"},
		{"m", "DECIMAL(8,2)", "cannot change from DECIMAL(9,2) to DECIMAL(8,2)"},
		{"m", "BIGINT", "cannot change from DECIMAL(9,2) to BIGINT"},
		{"day", "TIMESTAMP", "cannot change from DATE to TIMESTAMP"},
		{"m", "DECIMAL(40,2)", "DECIMAL(40,2) is out of range"},
		{"nope", "BIGINT", "has no column \"nope\""},
	};
	uint64_t v;
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		strata_err_clear(&err);
		int rc = strata_table_alter_column_type(f.wh, "t", bad[i].col, bad[i].type, &v, &err);
		CU_ASSERT(rc < 0);
		if (!strstr(err.msg, bad[i].why))
			fprintf(stderr, "alter %s %s: %s\n", bad[i].col, bad[i].type, err.msg);
		CU_ASSERT(strstr(err.msg, bad[i].why) != NULL);
	}
	CU_ASSERT_EQUAL(jf_version(&f), before);
	/* widen all three */
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "x", "BIGINT", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "fl", "DOUBLE", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "m", "decimal(30, 2)", &v,
							     &err),
			      0);
	/* older versions read as before; the current one reads old files as
	 * the new types */
	char *again = jf_dump_at(&f, v2, NULL);
	CU_ASSERT_STRING_EQUAL(again, at_v2);
	free(again);
	uint64_t v6 = jf_put(&f, "{\"id\":4,\"x\":9007199254740993,\"fl\":0.1,"
				 "\"m\":\"-1234567890123456789012345678.99\"}");
	char want[1024];
	snprintf(want, sizeof(want),
		 "columns: id x fl m day\n"
		 "{\"id\":1,\"x\":2147483647,\"fl\":1.5,\"m\":\"-9999999.99\",\"day\":\"1999-12-31\","
		 "\"_seq\":%llu,\"_op\":\"upsert\"}\n"
		 "{\"id\":2,\"x\":-2147483648,\"fl\":-0.25,\"m\":null,\"day\":null,\"_seq\":%llu,"
		 "\"_op\":\"upsert\"}\n"
		 "{\"id\":3,\"x\":7,\"fl\":3.25,\"m\":\"0.01\",\"day\":null,\"_seq\":%llu,"
		 "\"_op\":\"upsert\"}\n"
		 "{\"id\":4,\"x\":9007199254740993,\"fl\":0.1,"
		 "\"m\":\"-1234567890123456789012345678.99\",\"day\":null,\"_seq\":%llu,"
		 "\"_op\":\"upsert\"}\n",
		 (unsigned long long)v1, (unsigned long long)v1, (unsigned long long)v2,
		 (unsigned long long)v6);
	/* a sort after the widening writes the pre-widening records in the new
	 * types; a read at a version before the widening still reads them */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	again = jf_dump_at(&f, v2, NULL);
	if (strcmp(again, at_v2) != 0)
		fprintf(stderr, "\n--- at v2 before\n%s--- after the sort\n%s", at_v2, again);
	CU_ASSERT_STRING_EQUAL(again, at_v2);
	free(again);
	char *now = jf_dump_at(&f, v6, NULL);
	if (strcmp(now, want) != 0)
		fprintf(stderr, "\n--- want\n%s--- got\n%s", want, now);
	CU_ASSERT_STRING_EQUAL(now, want);
	free(now);
	/* the columnar read API too (merge path: files of the old types) */
	char *xs = colscan_text(&f, "x");
	CU_ASSERT_STRING_EQUAL(xs, "-2147483648\n2147483647\n7\n9007199254740993\n");
	free(xs);
	char *ms = colscan_text(&f, "m");
	CU_ASSERT_STRING_EQUAL(ms, "\"-1234567890123456789012345678.99\"\n\"-9999999.99\"\n"
				   "\"0.01\"\nnull\n");
	free(ms);
	/* a major compaction rewrites everything in the new types; every
	 * version still reads the same */
	jf_hist h;
	jf_hist_take(&f, &h);
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	CU_ASSERT_EQUAL(jf_hist_diff(&f, &h, 1, 0), 0);
	jf_hist_free(&h);
	char path[PATH_MAX];
	CU_ASSERT_FATAL(live_parquet(&f, path, sizeof(path)));
	strata_run_opts ro = {0};
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &err), 0);
	const strata_schema *fs = strata_run_file_schema(run);
	CU_ASSERT(fs->cols[1].type == STRATA_T_LONG && fs->cols[2].type == STRATA_T_DOUBLE &&
		  fs->cols[3].type == STRATA_T_DECIMAL && fs->cols[3].precision == 30);
	strata_run_close(run);
	/* the fast columnar path over the rewritten file */
	xs = colscan_text(&f, "x");
	CU_ASSERT_STRING_EQUAL(xs, "-2147483648\n2147483647\n7\n9007199254740993\n");
	free(xs);
	free(at_v2);
	jf_close(&f);
	tu_clock_real();
}

/* The rows of a read at v as JSON lines without _seq/_op, column names first. */
static char *rows_at(jf *f, uint64_t v)
{
	strata_read_opts ro = {.as_of_version = v};
	strata_scan *sc;
	strata_err err;
	strata_buf b = {0};
	if (strata_scan_open(f->wh, f->table, &ro, &sc, &err) != 0) {
		strata_buf_printf(&b, "error %s", err.msg);
	} else {
		const strata_schema *s = strata_scan_schema(sc);
		for (uint32_t i = 0; i < s->ncols; i++) {
			char t[32];
			strata_buf_printf(&b, "%s %s,", s->cols[i].name,
					  strata_column_type_str(&s->cols[i], t, sizeof(t)));
		}
		strata_buf_putc(&b, '\n');
		const strata_row *row;
		int rc;
		while ((rc = strata_scan_next(sc, &row, NULL, &err)) == 1) {
			strata_row_to_json(s, row, false, &b);
			strata_buf_putc(&b, '\n');
		}
		if (rc < 0)
			strata_buf_printf(&b, "error %s", err.msg);
		strata_scan_close(sc);
	}
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

/* A rollback to before a rename and a widening: the old names come back,
 * the widened types stay (files written since hold them), every value of
 * the old version reads the same. */
static void test_rollback_across_evolution(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f, "id INT NOT NULL PRIMARY KEY, x INT, fl FLOAT, m DECIMAL(9,2), note STRING", 1,
		24);
	uint64_t v1 = jf_put(&f, "{\"id\":1,\"x\":5,\"fl\":0.5,\"m\":\"1.25\",\"note\":\"a\"}\n"
				 "{\"id\":3,\"x\":-7,\"m\":\"-9999999.99\"}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	uint64_t v;
	CU_ASSERT_EQUAL_FATAL(strata_table_rename_column(f.wh, "t", "note", "remark", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "x", "BIGINT", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "fl", "DOUBLE", &v, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "m", "DECIMAL(20,2)", &v,
							     &err),
			      0);
	jf_put(&f, "{\"id\":1,\"x\":1099511627776,\"fl\":0.1,\"m\":\"123456789012.34\","
		   "\"remark\":\"b\"}\n{\"id\":2,\"x\":2}");
	char *want = rows_at(&f, v1);
	CU_ASSERT(strstr(want, "x INT,") != NULL && strstr(want, "note STRING,") != NULL);
	uint64_t r;
	strata_rollback_stats st;
	int rc = strata_table_rollback(f.wh, "t", v1, NULL, &r, &st, &err);
	if (rc)
		fprintf(stderr, "rollback: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char *got = rows_at(&f, r);
	/* the same rows and names; x, fl and m keep their wider types */
	const char *want_now = "id INT,x BIGINT,fl DOUBLE,m DECIMAL(20,2),note STRING,\n"
			       "{\"id\":1,\"x\":5,\"fl\":0.5,\"m\":\"1.25\",\"note\":\"a\"}\n"
			       "{\"id\":3,\"x\":-7,\"fl\":null,\"m\":\"-9999999.99\",\"note\":null}\n";
	if (strcmp(got, want_now) != 0)
		fprintf(stderr, "\n--- at v1\n%s--- after the rollback\n%s", want, got);
	CU_ASSERT_STRING_EQUAL(got, want_now);
	free(got);
	/* and after a major compaction rewrote it all */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &err), 0);
	got = rows_at(&f, r);
	CU_ASSERT_STRING_EQUAL(got, want_now);
	free(got);
	got = rows_at(&f, v1);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	free(want);
	jf_close(&f);
	tu_clock_real();
}

/* The rows a scan with a predicate returns, as JSON lines; prune (may be
 * NULL) what it skipped. */
static char *where_rows(jf *f, uint64_t v, const char *where, strata_scan_prune *prune,
			strata_err *err)
{
	strata_read_opts ro = {.as_of_version = v, .where = where};
	strata_scan *sc;
	if (strata_scan_open(f->wh, f->table, &ro, &sc, err) != 0)
		return NULL;
	strata_buf b = {0};
	const strata_row *row;
	int rc;
	while ((rc = strata_scan_next(sc, &row, NULL, err)) == 1) {
		strata_row_to_json(strata_scan_schema(sc), row, false, &b);
		strata_buf_putc(&b, '\n');
	}
	if (prune)
		strata_scan_prune_get(sc, prune);
	strata_scan_close(sc);
	strata_buf_putc(&b, 0);
	if (rc < 0) {
		strata_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

/* Predicates over DATE and DECIMAL: exact literals, statistics that skip
 * files (each DECIMAL width), bad literals naming the column, and a
 * widened column's statistics at the current version and before it. */
static void test_predicates(void)
{
	jf f;
	tu_clock_manual(JF_T0_US);
	jf_open(&f,
		"id INT NOT NULL PRIMARY KEY, day DATE, p4 DECIMAL(4,1), p18 DECIMAL(18,2), "
		"p38 DECIMAL(38,10), x INT",
		1, 24);
	/* two columnar files with disjoint value ranges, one row file */
	jf_put(&f, "{\"id\":1,\"day\":\"1969-07-20\",\"p4\":\"-99.9\",\"p18\":\"-0.01\","
		   "\"p38\":\"-12345678901234567890.0000000001\",\"x\":-5}\n"
		   "{\"id\":2,\"day\":\"1970-01-01\",\"p4\":\"0\",\"p18\":\"0\",\"p38\":\"0\",\"x\":0}");
	strata_job_result res;
	strata_err err;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	jf_put(&f, "{\"id\":3,\"day\":\"2026-12-05\",\"p4\":\"99.9\",\"p18\":\"1234567890123456.78\","
		   "\"p38\":\"12345678901234567890.0000000001\",\"x\":2147483647}");
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	uint64_t v = jf_put(&f, "{\"id\":4,\"day\":\"9999-12-31\",\"p4\":\"1.5\",\"x\":7}");
	struct {
		const char *where;
		const char *ids; /* the ids selected, in order */
		bool is_skip;   /* a columnar file is skipped by its statistics */
	} cases[] = {
		{"day < '1970-01-01'", "1", true},
		{"day >= '2026-12-05'", "3,4", true},
		{"day = -1 OR day = 0", "2", true},
		{"p4 = 1.50", "4", false},
		{"p4 > 0.0 AND p4 < 99.9", "4", true},
		{"p4 IN ('-99.9', 99.9)", "1,3", false},
		{"p18 > 1234567890123456.77", "3", true},
		{"p18 < 0", "1", true},
		{"p38 > 12345678901234567890", "3", true},
		{"p38 = 12345678901234567890.0000000001", "3", true},
		{"p38 < -1e19", "1", true},
		{"p38 IS NULL", "4", false},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		strata_scan_prune pr;
		strata_err_clear(&err);
		char *got = where_rows(&f, v, cases[i].where, &pr, &err);
		if (!got)
			fprintf(stderr, "%s: %s\n", cases[i].where, err.msg);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		strata_buf ids = {0};
		for (const char *p = strstr(got, "{\"id\":"); p; p = strstr(p + 1, "{\"id\":"))
			strata_buf_printf(&ids, "%s%d", ids.len ? "," : "", atoi(p + 6));
		strata_buf_putc(&ids, 0);
		if (strcmp((char *)ids.data, cases[i].ids) != 0 ||
		    (cases[i].is_skip && pr.files_by_stats == 0))
			fprintf(stderr, "%s: ids %s (want %s), %llu files skipped by statistics\n",
				cases[i].where, (char *)ids.data, cases[i].ids,
				(unsigned long long)pr.files_by_stats);
		CU_ASSERT_STRING_EQUAL((char *)ids.data, cases[i].ids);
		if (cases[i].is_skip)
			CU_ASSERT(pr.files_by_stats > 0);
		strata_buf_free(&ids);
		free(got);
	}
	/* bad literals name the column and the position */
	struct {
		const char *where, *why;
	} bad[] = {
		{"p4 = 1.25", "column \"p4\""},
		{"p4 = 1000", "out of range for DECIMAL(4,1)"},
		{"day = '2026-02-30'", "expected a date such as '2026-12-05'"},
		{"day > 1.5", "column \"day\" (DATE)"},
		{"p18 = 'abc'", "not a decimal number"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		strata_err_clear(&err);
		char *got = where_rows(&f, v, bad[i].where, NULL, &err);
		CU_ASSERT_PTR_NULL(got);
		free(got);
		if (!strstr(err.msg, bad[i].why) || !strstr(err.msg, "at position"))
			fprintf(stderr, "%s: %s\n", bad[i].where, err.msg);
		CU_ASSERT(strstr(err.msg, bad[i].why) != NULL);
		CU_ASSERT(strstr(err.msg, "at position") != NULL);
	}
	/* widen x: the files' INT statistics serve BIGINT literals; a read
	 * before the widening over a file a sort rewrote in BIGINT does not
	 * trust that file's bounds */
	uint64_t vw;
	CU_ASSERT_EQUAL_FATAL(strata_table_alter_column_type(f.wh, "t", "x", "BIGINT", &vw, &err), 0);
	uint64_t v2 = jf_put(&f, "{\"id\":5,\"x\":4294967297}");
	char *got = where_rows(&f, v2, "x > 2147483646", NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT(strstr(got, "\"id\":3") && strstr(got, "\"id\":5") && !strstr(got, "\"id\":1,"));
	free(got);
	/* the sort writes id 4 (x 7, before the widening) and id 5 (x 2^32 + 1)
	 * into one BIGINT file: its bounds [7, 2^32 + 1] mean nothing as INTs */
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &err), 0);
	const struct {
		uint64_t at;
		const char *where, *id;
	} after[] = {
		{0, "x = 7", "\"id\":4,"},           {0, "x = 4294967297", "\"id\":5,"},
		{0, "x > 2147483646", "\"id\":3,"}, {0, "x < 0", "\"id\":1,"},
		{1, "x = 7", "\"id\":4,"},           {1, "x < 0", "\"id\":1,"},
		{1, "x = 2147483647", "\"id\":3,"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(after); i++) {
		got = where_rows(&f, after[i].at ? v : v2, after[i].where, NULL, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		if (!strstr(got, after[i].id))
			fprintf(stderr, "at %s, %s: got %s\n", after[i].at ? "v" : "v2", after[i].where,
				got);
		CU_ASSERT(strstr(got, after[i].id) != NULL);
		free(got);
	}
	jf_close(&f);
	tu_clock_real();
}

/* The public library (api/strata.h): a row put with exact JSON numbers
 * comes back from the columnar API as STRATA_DB_T_DATE and
 * STRATA_DB_T_DECIMAL with the column's precision and scale. */
static void test_public_api(void)
{
	const char *dir = tu_tmpdir();
	char wh[PATH_MAX];
	snprintf(wh, sizeof(wh), "%s/wh", dir);
	strata_db *db = NULL;
	strata_db_error err;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(wh, STRATA_DB_CREATE, &db, &err), 0);
	strata_db_table_spec spec = {
		.columns = "k DECIMAL(30,4) NOT NULL PRIMARY KEY, day DATE, m DECIMAL(9,2)"};
	CU_ASSERT_EQUAL_FATAL(strata_db_create_table(db, "t", &spec, &err), 0);
	strata_db_txn *t = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "t", &t, &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":-12345678901234567890123456.7891,"
					     "\"day\":\"1969-12-31\",\"m\":-0.01}",
					  &err),
			0);
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_commit(t, NULL, NULL, &err), 0);
	strata_db_colscan *cs = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_colscan_open(db, "t", NULL, &cs, &err), 0);
	const strata_db_column *k = strata_db_colscan_column(cs, 0);
	const strata_db_column *d = strata_db_colscan_column(cs, 1);
	const strata_db_column *m = strata_db_colscan_column(cs, 2);
	CU_ASSERT(k->type == STRATA_DB_T_DECIMAL && k->precision == 30 && k->scale == 4);
	CU_ASSERT(d->type == STRATA_DB_T_DATE && d->precision == 0);
	CU_ASSERT(m->type == STRATA_DB_T_DECIMAL && m->precision == 9 && m->scale == 2);
	strata_db_colcursor *c = NULL;
	const strata_db_batch *b = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_colcursor_open(cs, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_db_colcursor_next(c, &b, &err), 1);
	CU_ASSERT_EQUAL_FATAL(b->nrows, 1);
	const strata_db_decimal *kv = b->values[0];
	strata_i128 x = (strata_i128)(((unsigned __int128)(uint64_t)kv[0].hi << 64) | kv[0].lo);
	strata_buf txt = {0};
	strata_dec_format(x, k->scale, &txt);
	strata_buf_putc(&txt, 0);
	CU_ASSERT_STRING_EQUAL((char *)txt.data, "-12345678901234567890123456.7891");
	strata_buf_free(&txt);
	CU_ASSERT_EQUAL(((const int32_t *)b->values[1])[0], -1);
	const strata_db_decimal *mv = b->values[2];
	CU_ASSERT(mv[0].hi == -1 && mv[0].lo == UINT64_MAX); /* -1 cent */
	CU_ASSERT_EQUAL(strata_db_colcursor_next(c, &b, &err), 0);
	strata_db_colcursor_close(c);
	strata_db_colscan_close(cs);
	strata_db_close(db);
}

/* DDL text: DECIMAL(p, s) with its comma inside a column list. */
static void test_ddl_text(void)
{
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	CU_ASSERT_EQUAL(strata_table_create(wh, "m",
					    "id DECIMAL(18, 2) NOT NULL PRIMARY KEY, d DATE, "
					    "x DECIMAL (38,38), y numeric(5)",
					    NULL, NULL, NULL, 0, &err),
			0);
	uint64_t v;
	CU_ASSERT_EQUAL(strata_table_add_columns(wh, "m", "z DECIMAL(3, 1), w DATE", &v, &err), 0);
	strata_err_clear(&err);
	CU_ASSERT_EQUAL(strata_table_create(wh, "n", "id DECIMAL(39,1) NOT NULL PRIMARY KEY", NULL,
					    NULL, NULL, 0, &err),
			STRATA_EINVAL);
	CU_ASSERT(strstr(err.msg, "column \"id\": DECIMAL(39,1) is out of range") != NULL);
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err), 0);
	strata_table_def def;
	strata_schema *s = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, "m", &def, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_schema_get(snap, def.id, def.schema_version, &s, &err), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(s->ncols, 6);
	const char *types[] = {"DECIMAL(18,2)", "DATE", "DECIMAL(38,38)", "DECIMAL(5,0)",
			       "DECIMAL(3,1)", "DATE"};
	for (uint32_t i = 0; i < s->ncols; i++) {
		char b[32];
		CU_ASSERT_STRING_EQUAL(strata_column_type_str(&s->cols[i], b, sizeof(b)), types[i]);
	}
	strata_schema_free(s);
	strata_wh_close(wh);
}

/* The CLI: DDL text, exact JSON numbers in `write`, scan output, describe,
 * rename-column and alter-column with their errors and exit codes. */
static void test_cli(void)
{
	const char *dir = tu_tmpdir();
	char wh[PATH_MAX], rows[PATH_MAX], cmd[4096];
	snprintf(wh, sizeof(wh), "%s/wh", dir);
	snprintf(rows, sizeof(rows), "%s/rows.json", dir);
	const char *text = "{\"id\":-2.5,\"day\":\"1969-07-20\",\"amount\":1234567890123456789.12345678}\n"
			   "{\"id\":10,\"day\":\"2999-01-31\",\"amount\":-0.00000001}\n";
	CU_ASSERT_EQUAL_FATAL(tu_write_file(rows, text, strlen(text)), 0);
	const char *S = tu_bin("strata");
	char *out = NULL;
	snprintf(cmd, sizeof(cmd),
		 "%s -W %s init >/dev/null && %s -W %s create-table m --columns 'id DECIMAL(5, 1) "
		 "PRIMARY KEY, day DATE, amount DECIMAL(30,8), n INT' >/dev/null && "
		 "%s -W %s write m --file %s >/dev/null && %s -W %s scan m 2>&1",
		 S, wh, S, wh, S, wh, rows, S, wh);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_STRING_EQUAL(out ? out : "",
			       "{\"id\":\"-2.5\",\"day\":\"1969-07-20\",\"amount\":"
			       "\"1234567890123456789.12345678\",\"n\":null}\n"
			       "{\"id\":\"10.0\",\"day\":\"2999-01-31\",\"amount\":\"-0.00000001\","
			       "\"n\":null}\n");
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "%s -W %s alter-table m rename-column amount total && "
		 "%s -W %s alter-table m alter-column n BIGINT && "
		 "%s -W %s alter-table m alter-column total 'DECIMAL(38, 8)' && "
		 "%s -W %s describe m | grep -E '^  (id|day|total|n) ' && "
		 "%s -W %s scan m --as-of-version 2 --format csv 2>&1",
		 S, wh, S, wh, S, wh, S, wh, S, wh);
	out = NULL;
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT(out && strstr(out, "altered table m at version 3\n"));
	CU_ASSERT(out && strstr(out, "  total                DECIMAL(38,8)\n"));
	CU_ASSERT(out && strstr(out, "  n                    BIGINT   \n"));
	CU_ASSERT(out && strstr(out, "  id                   DECIMAL(5,1) NOT NULL PRIMARY KEY\n"));
	CU_ASSERT(out && strstr(out, "id,day,amount,n\n-2.5,1969-07-20,1234567890123456789.12345678,\n"));
	if (out && !strstr(out, "id,day,amount,n\n"))
		fprintf(stderr, "%s\n", out);
	free(out);
	struct {
		const char *args, *why;
		int code;
	} bad[] = {
		{"alter-table m alter-column total 'DECIMAL(38,2)'", "cannot change from DECIMAL(38,8)", 1},
		{"alter-table m alter-column id 'DECIMAL(6,1)'", "primary key column", 1},
		{"alter-table m rename-column nope x", "has no column \"nope\"", 1},
		{"alter-table m rename-column day", "rename-column takes OLD NEW", 2},
		{"alter-table m widen n BIGINT", "unknown action \"widen\"", 2},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		snprintf(cmd, sizeof(cmd), "%s -W %s %s 2>&1", S, wh, bad[i].args);
		out = NULL;
		int rc = tu_run(cmd, &out);
		CU_ASSERT_EQUAL(rc, bad[i].code);
		CU_ASSERT(out && strstr(out, bad[i].why));
		if (!out || !strstr(out, bad[i].why))
			fprintf(stderr, "%s -> %d %s\n", bad[i].args, rc, out ? out : "");
		free(out);
	}
	/* a bad literal names the column and the line; nothing is committed */
	const char *badrow = "{\"id\":1,\"day\":\"2026-02-30\"}\n";
	CU_ASSERT_EQUAL_FATAL(tu_write_file(rows, badrow, strlen(badrow)), 0);
	snprintf(cmd, sizeof(cmd), "%s -W %s write m --file %s 2>&1", S, wh, rows);
	out = NULL;
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	CU_ASSERT(out && strstr(out, "line 1: column \"day\": DATE wants \"YYYY-MM-DD\""));
	free(out);
}

static void register_types(void)
{
	CU_pSuite s = CU_add_suite("types", NULL, NULL);
	TU_ADD(s, test_date_text);
	TU_ADD(s, test_decimal_text);
	TU_ADD(s, test_json_exact);
	TU_ADD(s, test_key_order);
	TU_ADD(s, test_ddl_text);
	TU_ADD(s, test_roundtrip_jobs);
	TU_ADD(s, test_point_lookups);
	TU_ADD(s, test_predicates);
	TU_ADD(s, test_read_duckdb_files);
	TU_ADD(s, test_rename_column);
	TU_ADD(s, test_widen_column);
	TU_ADD(s, test_rollback_across_evolution);
	TU_ADD(s, test_cli);
	TU_ADD(s, test_public_api);
}

TU_MAIN(register_types)
