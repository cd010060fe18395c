/*
 * tests/test_parquet.c — Parquet columnar files: the Thrift and value
 * encodings (white-box, through format/parquet_int.h), round trips through
 * strata_fwriter/strata_run for every type and shape, projection and schema
 * evolution, seeks with page-index pruning, DuckDB interop both ways,
 * damaged and hostile files (truncation, bit flips, fuzz replays) and I/O
 * faults in the writer.
 */
#include "tests/util/testutil.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <unistd.h>

#include "format/format.h"
#include "format/parquet_int.h"

#define STRATA_FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_parquet.c"

/* The writer's page row cap (parquet_write.c PW_PAGE_MAX_ROWS). */
#define PAGE_ROWS 20000

/* ---- helpers ---------------------------------------------------------------- */

static char *duck_one(const char *sql);
typedef struct gen gen;
static void duck_check_rows(const char *file, const strata_schema *s, uint64_t n,
			    void (*fn)(uint64_t, gen *, strata_row *), gen *g);

/* A DuckDB query of every type DuckDB writes flat; %d is the row count. */
#define DUCK_SELECT                                                                           \
	"SELECT i::BIGINT AS pk, ((i * 7) %% 1000)::INT AS a, "                                 \
	"CASE WHEN i %% 5 = 0 THEN NULL ELSE i * 0.5 END::DOUBLE AS d, "                       \
	"(i %% 3 = 0) AS f, CASE WHEN i %% 7 = 0 THEN NULL ELSE 'v' || (i %% 100) END AS s, "   \
	"'unique-' || i AS u, CASE WHEN i %% 11 = 0 THEN NULL ELSE (i / 7)::FLOAT END AS fl, " \
	"CASE WHEN i %% 13 = 0 THEN NULL WHEN i %% 17 = 0 THEN '' ELSE 'x' || (i %% 3) END AS e, " \
	"(i * 1000003)::BIGINT AS big, CASE WHEN i %% 2 = 0 THEN NULL ELSE i %% 2 = 1 END AS nb " \
	"FROM range(%d) t(i)"


typedef struct col_def {
	const char *name;
	strata_type t;
	int key;
} col_def;

static strata_schema *mk_schema(uint32_t version, const col_def *defs, size_t n)
{
	strata_schema *s = strata_schema_new(version);
	for (size_t i = 0; i < n; i++) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", defs[i].name);
		c.type = defs[i].t;
		c.id = (uint32_t)i + 1;
		c.key_pos = defs[i].key;
		c.is_nullable = defs[i].key < 0;
		strata_schema_add(s, &c, NULL);
	}
	return s;
}

static const col_def all_cols[] = {
	{"pk", STRATA_T_LONG, 0},   {"i", STRATA_T_INT, -1},    {"d", STRATA_T_DOUBLE, -1},
	{"f", STRATA_T_FLOAT, -1},  {"b", STRATA_T_BOOL, -1},   {"s", STRATA_T_STRING, -1},
	{"bin", STRATA_T_BYTES, -1}, {"ts", STRATA_T_TIMESTAMP, -1},
};

static strata_schema *all_types_schema(void)
{
	return mk_schema(3, all_cols, STRATA_ARRAY_LEN(all_cols));
}

struct gen {
	strata_value vals[16];
	uint8_t sbuf[64];
	uint8_t bbuf[64];
	uint8_t *big;     /* for large binaries */
	size_t big_len;
	int big_every;    /* every n-th row carries big (0: never) */
	bool has_deletes;
};

/* Row i of the all-types table: every type, nulls, empty strings, NaN, -0.0,
 * infinities, extreme integers, bytes with 0x00, UTF-8. */
static void gen_all(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 8);
	v[0].v.i64 = (int64_t)i * 3 - 1000;
	v[1].is_null = i % 7 == 3;
	v[1].v.i32 = i % 101 == 0 ? INT32_MIN : i % 103 == 0 ? INT32_MAX : (int32_t)(i * 2654435761u);
	v[2].is_null = i % 11 == 5;
	switch (i % 97) {
	case 1: v[2].v.f64 = NAN; break;
	case 2: v[2].v.f64 = -0.0; break;
	case 3: v[2].v.f64 = INFINITY; break;
	case 4: v[2].v.f64 = -INFINITY; break;
	default: v[2].v.f64 = ((double)i - 5000.0) * 0.37;
	}
	v[3].is_null = i % 13 == 0;
	v[3].v.f32 = i % 89 == 7 ? NAN : (float)i / 3.0f;
	v[4].is_null = i % 5 == 4;
	v[4].v.b = i % 3 == 0;
	v[5].is_null = i % 17 == 8;
	if (i % 19 == 0) {
		v[5].v.s.ptr = g->sbuf;
		v[5].v.s.len = 0;
	} else if (i % 23 == 5) {
		memcpy(g->sbuf, "a\0b", 3);
		v[5].v.s.ptr = g->sbuf;
		v[5].v.s.len = 3;
	} else {
		int n = snprintf((char *)g->sbuf, sizeof(g->sbuf), "s%llu%s",
				 (unsigned long long)(i % 1000), i % 29 == 1 ? "\xc3\xa9\xe2\x82\xac" : "");
		v[5].v.s.ptr = g->sbuf;
		v[5].v.s.len = (uint32_t)n;
	}
	v[6].is_null = i % 4 == 1;
	if (g->big && g->big_every && i % (uint64_t)g->big_every == 0) {
		v[6].is_null = false;
		g->big[0] = (uint8_t)i;
		v[6].v.s.ptr = g->big;
		v[6].v.s.len = (uint32_t)g->big_len;
	} else {
		uint32_t n = (uint32_t)(i % 40);
		for (uint32_t j = 0; j < n; j++)
			g->bbuf[j] = (uint8_t)(i * (j + 1));
		v[6].v.s.ptr = g->bbuf;
		v[6].v.s.len = n;
	}
	v[7].is_null = i % 9 == 2;
	v[7].v.i64 = i % 31 == 4 ? -86400000000LL * 365 : 1700000000000000LL + (int64_t)i * 1000003;
	r->ncols = 8;
	r->vals = v;
	r->seq = (int64_t)(i % 50) + 1;
	r->op = STRATA_OP_UPSERT;
	if (g->has_deletes && i % 31 == 0) {
		r->op = STRATA_OP_DELETE;
		for (int c = 1; c < 8; c++)
			v[c].is_null = true;
	}
}

typedef void (*gen_fn)(uint64_t i, gen *g, strata_row *r);

static int write_file(const char *path, const strata_schema *s, const strata_write_opts *o,
		      uint64_t n, gen_fn fn, gen *g, strata_file_stats *st_out, strata_err *e)
{
	strata_fwriter *w = NULL;
	int rc = strata_fwriter_open(path, s, o, &w, e);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		strata_row r;
		fn(i, g, &r);
		rc = strata_fwriter_add(w, &r, e);
		if (rc) {
			strata_fwriter_abort(w);
			return rc;
		}
	}
	strata_file_stats st;
	rc = strata_fwriter_finish(w, &st, e);
	if (rc == 0) {
		if (st_out)
			*st_out = st;
		else
			strata_file_stats_free(&st);
	}
	return rc;
}

static bool rows_equal(const strata_schema *s, const strata_row *a, const strata_row *b)
{
	if (a->seq != b->seq || a->op != b->op)
		return false;
	for (uint32_t i = 0; i < s->ncols; i++)
		if (!strata_value_eq(s->cols[i].type, &a->vals[i], &b->vals[i]))
			return false;
	return true;
}

/* Read the whole file and compare with the generator; returns rows read. */
static uint64_t check_file(const char *path, const strata_schema *s, const strata_schema *fs,
			   uint64_t n, gen_fn fn, gen *g)
{
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.file_schema = fs;
	strata_run *run;
	strata_err e;
	int rc = strata_run_open(path, &ro, &run, &e);
	if (rc)
		fprintf(stderr, "open: %s\n", e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(strata_run_format(run), STRATA_FMT_PARQUET);
	const strata_row *row;
	uint64_t got = 0;
	int bad = 0;
	while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
		strata_row want;
		fn(got, g, &want);
		if (!rows_equal(s, row, &want) && bad++ < 5) {
			strata_buf a = {0}, b = {0};
			strata_row_to_json(s, row, true, &a);
			strata_row_to_json(s, &want, true, &b);
			fprintf(stderr, "row %llu differs:\n got  %.*s\n want %.*s\n",
				(unsigned long long)got, (int)a.len, (char *)a.data, (int)b.len,
				(char *)b.data);
			strata_buf_free(&a);
			strata_buf_free(&b);
		}
		got++;
	}
	if (rc)
		fprintf(stderr, "next: %s\n", e.msg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(got, n);
	strata_run_close(run);
	return got;
}

static void opts_small(strata_write_opts *o)
{
	strata_write_opts_default(o, STRATA_FMT_PARQUET);
	o->page_bytes = 2048;
	o->row_group_bytes = 64 << 10;
}

/* The decoded footer of a file (white-box checks); free with meta_free. */
typedef struct meta {
	uint8_t *data;
	strata_arena *a;
	pq_file_meta fm;
} meta;

static int meta_read(const char *path, meta *m)
{
	size_t len;
	memset(m, 0, sizeof(*m));
	m->data = (uint8_t *)tu_read_file(path, &len);
	if (!m->data || len < 12)
		return -1;
	uint32_t flen;
	memcpy(&flen, m->data + len - 8, 4);
	m->a = strata_arena_new();
	return pq_file_meta_read(m->data + len - 8 - flen, flen, m->a, &m->fm, path, NULL);
}

static void meta_free(meta *m)
{
	free(m->data);
	strata_arena_free(m->a);
}

/* ---- Thrift and encodings (white-box) ---------------------------------------- */

static void test_thrift_roundtrip(void)
{
	strata_buf b = {0};
	thrift_w w;
	thrift_w_init(&w, &b);
	thrift_w_struct_begin(&w);
	thrift_w_i32(&w, 1, -5);
	thrift_w_i64(&w, 3, INT64_MIN);
	thrift_w_bool(&w, 4, true);
	thrift_w_bool(&w, 5, false);
	thrift_w_binary(&w, 40, "hello", 5); /* long-form field id */
	thrift_w_field_list(&w, 41, THRIFT_I64, 20);
	for (int i = 0; i < 20; i++)
		thrift_w_elem_i64(&w, (int64_t)i * -1000000007LL);
	thrift_w_field_list(&w, 42, THRIFT_TRUE, 3);
	thrift_w_elem_bool(&w, true);
	thrift_w_elem_bool(&w, false);
	thrift_w_elem_bool(&w, true);
	thrift_w_field_struct(&w, 43);
	thrift_w_i16(&w, 1, -300);
	thrift_w_struct_end(&w);
	thrift_w_i32(&w, 44, INT32_MAX);
	thrift_w_struct_end(&w);

	thrift_r r;
	thrift_r_init(&r, b.data, b.len);
	thrift_r_struct_begin(&r);
	uint8_t t;
	int16_t id;
	int seen = 0;
	while (thrift_r_field(&r, &t, &id)) {
		seen++;
		switch (id) {
		case 1: CU_ASSERT_EQUAL(thrift_r_i32(&r, t, "a"), -5); break;
		case 3: CU_ASSERT_EQUAL(thrift_r_i64(&r, t, "b"), INT64_MIN); break;
		case 4: CU_ASSERT(thrift_r_bool(&r, t, "c")); break;
		case 5: CU_ASSERT(!thrift_r_bool(&r, t, "d")); break;
		case 40: {
			uint32_t n;
			const uint8_t *p = thrift_r_binary(&r, t, "e", &n);
			CU_ASSERT(n == 5 && memcmp(p, "hello", 5) == 0);
			break;
		}
		case 41: {
			uint32_t n = thrift_r_list(&r, t, THRIFT_I64, "f");
			CU_ASSERT_EQUAL(n, 20);
			for (uint32_t i = 0; i < n; i++)
				CU_ASSERT_EQUAL(thrift_r_elem_i64(&r), (int64_t)i * -1000000007LL);
			break;
		}
		case 42: {
			uint32_t n = thrift_r_list(&r, t, THRIFT_TRUE, "g");
			CU_ASSERT_EQUAL(n, 3);
			CU_ASSERT(thrift_r_elem_bool(&r));
			CU_ASSERT(!thrift_r_elem_bool(&r));
			CU_ASSERT(thrift_r_elem_bool(&r));
			break;
		}
		case 43:
			thrift_r_skip(&r, t); /* unknown struct: skipped */
			break;
		case 44: CU_ASSERT_EQUAL(thrift_r_i32(&r, t, "h"), INT32_MAX); break;
		default: CU_FAIL("unexpected field");
		}
	}
	thrift_r_struct_end(&r);
	CU_ASSERT(!thrift_r_failed(&r));
	CU_ASSERT_EQUAL(seen, 9);
	CU_ASSERT_EQUAL(thrift_r_pos(&r), b.len);

	/* every truncation fails cleanly, with is_truncated */
	for (size_t cut = 0; cut < b.len; cut++) {
		thrift_r_init(&r, b.data, cut);
		thrift_r_struct_begin(&r);
		while (thrift_r_field(&r, &t, &id))
			thrift_r_skip(&r, t);
		CU_ASSERT(thrift_r_failed(&r));
		CU_ASSERT(r.is_truncated);
	}
	/* a wrong wire type for a known field is reported */
	thrift_r_init(&r, b.data, b.len);
	thrift_r_struct_begin(&r);
	CU_ASSERT(thrift_r_field(&r, &t, &id));
	thrift_r_binary(&r, t, "SchemaElement.name", &(uint32_t){0});
	CU_ASSERT(thrift_r_failed(&r));
	CU_ASSERT(strstr(r.msg, "SchemaElement.name") != NULL);
	/* deep nesting is refused, not recursed */
	strata_buf deep = {0};
	for (int i = 0; i < 1000; i++)
		strata_buf_putc(&deep, 0x1c); /* field 1, struct */
	thrift_r_init(&r, deep.data, deep.len);
	thrift_r_struct_begin(&r);
	while (thrift_r_field(&r, &t, &id))
		thrift_r_skip(&r, t);
	CU_ASSERT(thrift_r_failed(&r));
	CU_ASSERT(strstr(r.msg, "deeper") != NULL);
	/* a list longer than the input is refused before any allocation */
	const uint8_t huge[] = {0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07};
	thrift_r_init(&r, huge, sizeof(huge));
	thrift_r_struct_begin(&r);
	CU_ASSERT(thrift_r_field(&r, &t, &id));
	CU_ASSERT_EQUAL(thrift_r_list(&r, t, THRIFT_STRUCT, "x"), 0);
	CU_ASSERT(thrift_r_failed(&r));
	strata_buf_free(&deep);
	strata_buf_free(&b);
}

static void test_rle_roundtrip(void)
{
	srand(7);
	uint32_t *v = malloc(sizeof(uint32_t) * 5000);
	uint32_t *out = malloc(sizeof(uint32_t) * 5000);
	for (int width = 0; width <= 32; width++) {
		for (int iter = 0; iter < 6; iter++) {
			size_t n = (size_t)(rand() % 5000);
			uint64_t maxv = width == 32 ? 0xffffffffull : (1ull << width) - 1;
			for (size_t i = 0; i < n; i++) {
				if (i > 0 && rand() % 3 != 0)
					v[i] = v[i - 1]; /* runs */
				else
					v[i] = (uint32_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) & maxv);
			}
			strata_buf b = {0};
			pq_rle_encode(&b, v, n, width);
			pq_rle_dec d;
			CU_ASSERT_EQUAL(pq_rle_init(&d, b.data, b.len, width), 0);
			size_t half = n / 2;
			CU_ASSERT_EQUAL(pq_rle_get(&d, out, half), 0);
			CU_ASSERT(memcmp(out, v, half * sizeof(uint32_t)) == 0);
			/* skip a few, counting one value, then the rest */
			size_t sk = (n - half) / 3;
			uint64_t cnt = 0, want = 0;
			for (size_t i = half; i < half + sk; i++)
				want += v[i] == v[half];
			CU_ASSERT_EQUAL(pq_rle_skip(&d, sk, n ? v[half] : 0, &cnt), 0);
			CU_ASSERT_EQUAL(cnt, want);
			size_t rest = n - half - sk;
			CU_ASSERT_EQUAL(pq_rle_get(&d, out, rest), 0);
			CU_ASSERT(memcmp(out, v + half + sk, rest * sizeof(uint32_t)) == 0);
			/* reading past the data fails (padding aside) */
			CU_ASSERT(pq_rle_get(&d, out, 9) != 0);
			strata_buf_free(&b);
		}
	}
	/* hostile: a run of 2^31-1 from two bytes is skipped in O(1) */
	const uint8_t run[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0x01};
	pq_rle_dec d;
	pq_rle_init(&d, run, sizeof(run), 1);
	uint64_t ones = 0;
	CU_ASSERT_EQUAL(pq_rle_skip(&d, 0x7fffffffu, 1, &ones), 0);
	CU_ASSERT_EQUAL(ones, 0x7fffffffu);
	/* an RLE value wider than the bit width is malformed */
	const uint8_t wide[] = {0x02, 0x05};
	pq_rle_init(&d, wide, sizeof(wide), 2);
	CU_ASSERT(pq_rle_get(&d, out, 1) != 0);
	/* width above 32 is refused */
	CU_ASSERT(pq_rle_init(&d, wide, sizeof(wide), 33) != 0);
	/* definition-level helper: runs of every length, long enough that
	 * bit-packed runs sit between RLE runs everywhere */
	uint8_t *bits = malloc(5000);
	for (int pattern = 0; pattern < 3; pattern++) {
		for (int i = 0; i < 5000; i++)
			bits[i] = pattern == 0 ? (uint8_t)((i / 7) % 2) :
				  pattern == 1 ? (uint8_t)(rand() % 2) :
						 (uint8_t)((i % 37) < 13 || (i % 101) == 3);
		strata_buf b = {0};
		pq_rle_encode_bits(&b, bits, 5000);
		pq_rle_init(&d, b.data, b.len, 1);
		CU_ASSERT_EQUAL(pq_rle_get(&d, out, 5000), 0);
		bool same = true;
		for (int i = 0; i < 5000; i++)
			same = same && out[i] == bits[i];
		CU_ASSERT(same);
		strata_buf_free(&b);
	}
	free(bits);
	free(v);
	free(out);
}

static void test_delta_roundtrip(void)
{
	const size_t sizes[] = {0, 1, 2, 31, 32, 33, 127, 128, 129, 130, 257, 1000, 5000};
	int64_t *v = malloc(sizeof(int64_t) * 5000);
	int32_t *v32 = malloc(sizeof(int32_t) * 5000);
	uint64_t *out = malloc(sizeof(uint64_t) * 5000);
	srand(11);
	for (size_t si = 0; si < STRATA_ARRAY_LEN(sizes); si++) {
		for (int kind = 0; kind < 4; kind++) {
			size_t n = sizes[si];
			for (size_t i = 0; i < n; i++) {
				switch (kind) {
				case 0: v[i] = (int64_t)i * 2 + 7; break;               /* sorted */
				case 1: v[i] = (int64_t)rand() - RAND_MAX / 2; break;   /* random */
				case 2: v[i] = i % 2 ? INT64_MIN : INT64_MAX; break;    /* wraps */
				default: v[i] = 42; break;                              /* constant */
				}
				v32[i] = kind == 2 ? (i % 2 ? INT32_MIN : INT32_MAX) : (int32_t)v[i];
			}
			strata_buf b = {0};
			pq_delta_encode_i64(&b, v, n);
			pq_delta_dec d;
			CU_ASSERT_EQUAL_FATAL(pq_delta_init(&d, b.data, b.len), 0);
			CU_ASSERT_EQUAL(d.total, n);
			size_t sk = n / 3;
			CU_ASSERT_EQUAL(pq_delta_skip(&d, sk), 0);
			CU_ASSERT_EQUAL(pq_delta_get(&d, out, n - sk), 0);
			bool ok = true;
			for (size_t i = sk; i < n; i++)
				ok = ok && (int64_t)out[i - sk] == v[i];
			CU_ASSERT(ok);
			CU_ASSERT(pq_delta_end(&d) == b.data + b.len);
			CU_ASSERT(pq_delta_get(&d, out, 1) != 0);
			strata_buf_reset(&b);
			pq_delta_encode_i32(&b, v32, n);
			CU_ASSERT_EQUAL_FATAL(pq_delta_init(&d, b.data, b.len), 0);
			CU_ASSERT_EQUAL(pq_delta_get(&d, out, n), 0);
			ok = true;
			for (size_t i = 0; i < n; i++)
				ok = ok && (int32_t)(uint32_t)out[i] == v32[i];
			CU_ASSERT(ok);
			CU_ASSERT(pq_delta_end(&d) == b.data + b.len);
			/* INT32 data never needs more than 32 bits per value */
			for (size_t p = 0; p < b.len; p++)
				(void)p;
			strata_buf_free(&b);
		}
	}
	/* hostile headers */
	const uint8_t bad1[] = {0x40, 0x04, 0x05, 0x02}; /* block 64: not a multiple of 128 */
	pq_delta_dec d;
	CU_ASSERT(pq_delta_init(&d, bad1, sizeof(bad1)) != 0);
	const uint8_t bad2[] = {0x80, 0x01, 0x03, 0x05, 0x02}; /* 128/3 not whole */
	CU_ASSERT(pq_delta_init(&d, bad2, sizeof(bad2)) != 0);
	const uint8_t bad3[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x00, 65, 0, 0, 0}; /* width 65 */
	CU_ASSERT_EQUAL(pq_delta_init(&d, bad3, sizeof(bad3)), 0);
	CU_ASSERT(pq_delta_get(&d, out, 3) != 0);
	free(v);
	free(v32);
	free(out);
}

/* ---- round trips ------------------------------------------------------------------ */

static void roundtrip_all(uint64_t n, const strata_write_opts *o, bool deletes, const char *tag)
{
	strata_schema *s = all_types_schema();
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.parquet", dir, tag);
	gen g;
	memset(&g, 0, sizeof(g));
	g.has_deletes = deletes;
	strata_file_stats st;
	strata_err e;
	int rc = write_file(path, s, o, n, gen_all, &g, &st, &e);
	if (rc)
		fprintf(stderr, "%s: %s\n", tag, e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(st.rows, n);
	CU_ASSERT(st.bytes > 0);
	strata_file_stats_free(&st);
	/* with the manifest's schema, and standalone from strata.schema */
	check_file(path, s, s, n, gen_all, &g);
	check_file(path, s, NULL, n, gen_all, &g);
	strata_schema_free(s);
}

static void test_roundtrip_types(void)
{
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	roundtrip_all(5000, &o, false, "zstd");
	o.codec = STRATA_CODEC_NONE;
	roundtrip_all(5000, &o, false, "none");
	opts_small(&o);
	roundtrip_all(30000, &o, true, "small-pages");
	o.codec = STRATA_CODEC_NONE;
	roundtrip_all(30000, &o, true, "small-pages-none");
}

static void test_roundtrip_edges(void)
{
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	roundtrip_all(0, &o, false, "zero");
	roundtrip_all(1, &o, false, "one");
	/* a file with zero rows still carries its schema */
	strata_schema *s = all_types_schema();
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/empty.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 0, gen_all, &g, NULL, &e), 0);
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	CU_ASSERT_EQUAL(strata_run_file_schema(run)->ncols, 8);
	CU_ASSERT_EQUAL(strata_run_file_schema(run)->version, 3);
	strata_buf k = {0};
	strata_value kv[8];
	memset(kv, 0, sizeof(kv));
	strata_row kr = {.ncols = 8, .vals = kv};
	strata_key_encode(s, &kr, &k, NULL);
	CU_ASSERT_EQUAL(strata_run_seek(run, k.data, k.len, &e), 0);
	const strata_row *row;
	CU_ASSERT_EQUAL(strata_run_next(run, &row, NULL, NULL, &e), 0);
	strata_buf_free(&k);
	strata_run_close(run);
	strata_schema_free(s);
}

static void test_large_binary(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	gen g;
	memset(&g, 0, sizeof(g));
	g.big_len = 3u << 20;
	g.big = malloc(g.big_len);
	for (size_t i = 0; i < g.big_len; i++)
		g.big[i] = (uint8_t)(i * 7 + i / 4096);
	g.big_every = 500;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/big.parquet", dir);
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 2000, gen_all, &g, NULL, &e), 0);
	check_file(path, s, s, 2000, gen_all, &g);
	/* the stats bounds of the binary column are truncated, flagged inexact */
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	bool saw_bound = false;
	for (uint32_t gi = 0; gi < m.fm.nrow_groups; gi++) {
		const pq_stats *st = &m.fm.row_groups[gi].cols[6].meta.stats;
		CU_ASSERT(!st->has_max || st->max.len <= 64);
		if (st->has_max_exact && !st->is_max_exact)
			saw_bound = true;
	}
	CU_ASSERT(saw_bound);
	meta_free(&m);
	free(g.big);
	strata_schema_free(s);
}

/* Low-cardinality strings: dictionary; then, past dict_max_bytes, the rest of
 * the chunk falls back to PLAIN. */
static void gen_dict(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	v[0].v.i64 = (int64_t)i;
	/* first 3000 rows: 20 distinct values; then all distinct */
	int n = i < 3000 ? snprintf((char *)g->sbuf, sizeof(g->sbuf), "low-%llu", (unsigned long long)(i % 20)) :
			   snprintf((char *)g->sbuf, sizeof(g->sbuf), "unique-%08llu", (unsigned long long)i);
	v[1].v.s.ptr = g->sbuf;
	v[1].v.s.len = (uint32_t)n;
	v[2].v.i64 = i < 3000 ? (int64_t)(i % 5) : (int64_t)(i * 7919);
	r->ncols = 3;
	r->vals = v;
	r->seq = 1;
	r->op = 0;
}

/* Incompressible data: random doubles and random bytes (pages of these get
 * raw zstd frames after the first few). */
static void gen_random(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	uint64_t x = i * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	v[0].v.i64 = (int64_t)i;
	memcpy(&v[1].v.f64, &x, 8);
	if (isnan(v[1].v.f64))
		v[1].v.f64 = 1.0;
	for (int k = 0; k < 24; k++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		g->bbuf[k] = (uint8_t)(x >> 56);
	}
	v[2].v.s.ptr = g->bbuf;
	v[2].v.s.len = 24;
	v[1].is_null = i % 10 == 0;
	r->ncols = 3;
	r->vals = v;
	r->seq = 1;
	r->op = 0;
}

static const col_def random_cols[] = {
	{"pk", STRATA_T_LONG, 0}, {"x", STRATA_T_DOUBLE, -1}, {"b", STRATA_T_BYTES, -1}};

static const col_def dict_cols[] = {
	{"pk", STRATA_T_LONG, 0}, {"s", STRATA_T_STRING, -1}, {"n", STRATA_T_LONG, -1}};

/* Short strings are dictionary keys by their bytes (held in the hash slot),
 * longer ones by hash: values of every length 0..14 that differ in one byte
 * anywhere, or only in length, or hold 0x00 bytes, must each keep their own
 * dictionary entry. */
static void gen_short(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	v[0].v.i64 = (int64_t)i;
	uint32_t n = (uint32_t)(i % 15);            /* 0..14 bytes */
	uint32_t pos = n ? (uint32_t)(i / 15) % n : 0; /* the byte that differs */
	uint8_t mark = (uint8_t)((i / 15 / 16) % 3); /* 0x00, 'b' or 0xff */
	memset(g->sbuf, 'a', n);
	if (n)
		g->sbuf[pos] = mark == 0 ? 0 : mark == 1 ? 'b' : 0xff;
	v[1].v.s.ptr = g->sbuf;
	v[1].v.s.len = n;
	v[2].v.i64 = (int64_t)(n * 1000 + pos * 10 + mark);
	r->ncols = 3;
	r->vals = v;
	r->seq = 1;
	r->op = 0;
}

static void test_dict_short_strings(void)
{
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/short.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	/* ~500 distinct values, each repeated: the column keeps its dictionary */
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 40000, gen_short, &g, NULL, &e), 0);
	check_file(path, s, s, 40000, gen_short, &g);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	const pq_column_meta *cm = &m.fm.row_groups[0].cols[1].meta;
	bool is_dict = false;
	for (uint32_t k = 0; k < cm->nenc_stats; k++)
		is_dict |= cm->enc_stats[k].page_type == PQ_DATA_PAGE &&
			   cm->enc_stats[k].encoding == PQ_RLE_DICTIONARY;
	CU_ASSERT(is_dict);
	meta_free(&m);
	strata_schema_free(s);
}

/* Incompressible pages are stored as raw zstd frames; they decode. */
static void test_raw_zstd_frames(void)
{
	strata_schema *s = mk_schema(1, random_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.page_bytes = 16 << 10;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/random.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 30000, gen_random, &g, NULL, &e), 0);
	check_file(path, s, s, 30000, gen_random, &g);
	/* find raw frames: magic, single-segment header, first block raw */
	size_t len;
	uint8_t *data = (uint8_t *)tu_read_file(path, &len);
	int raw = 0;
	for (size_t i = 0; i + 12 < len; i++)
		if (memcmp(data + i, "\x28\xb5\x2f\xfd\xa0", 5) == 0 && ((data[i + 9] >> 1) & 3) == 0)
			raw++;
	CU_ASSERT(raw > 10);
	free(data);
	if (tu_duckdb_available())
		duck_check_rows(path, s, 30000, gen_random, &g);
	strata_schema_free(s);
}

static void test_dict_fallback(void)
{
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.page_bytes = 8192;
	o.dict_max_bytes = 4096;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dict.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 20000, gen_dict, &g, NULL, &e), 0);
	check_file(path, s, s, 20000, gen_dict, &g);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	CU_ASSERT_EQUAL(m.fm.nrow_groups, 1);
	for (int col = 1; col <= 2; col++) {
		const pq_column_meta *cm = &m.fm.row_groups[0].cols[col].meta;
		int dict_pages = 0, plain_pages = 0;
		for (uint32_t k = 0; k < cm->nenc_stats; k++) {
			if (cm->enc_stats[k].page_type != PQ_DATA_PAGE)
				continue;
			if (cm->enc_stats[k].encoding == PQ_RLE_DICTIONARY)
				dict_pages += cm->enc_stats[k].count;
			/* strings fall back to DELTA_LENGTH_BYTE_ARRAY, integers to
			 * DELTA_BINARY_PACKED */
			if (cm->enc_stats[k].encoding ==
			    (col == 1 ? PQ_DELTA_LENGTH_BYTE_ARRAY : PQ_DELTA_BINARY_PACKED))
				plain_pages += cm->enc_stats[k].count;
		}
		CU_ASSERT(cm->has_dict_page_offset);
		CU_ASSERT(dict_pages >= 1);
		CU_ASSERT(plain_pages >= 1);
	}
	/* the key column is delta-encoded */
	const pq_column_meta *pk = &m.fm.row_groups[0].cols[0].meta;
	bool delta = false;
	for (uint32_t k = 0; k < pk->nencodings; k++)
		delta = delta || pk->encodings[k] == PQ_DELTA_BINARY_PACKED;
	CU_ASSERT(delta);
	meta_free(&m);
	/* dict_max_bytes 0: no dictionary at all */
	o.dict_max_bytes = 0;
	snprintf(path, sizeof(path), "%s/nodict.parquet", dir);
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 5000, gen_dict, &g, NULL, &e), 0);
	check_file(path, s, s, 5000, gen_dict, &g);
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	CU_ASSERT(!m.fm.row_groups[0].cols[1].meta.has_dict_page_offset);
	meta_free(&m);
	strata_schema_free(s);
}

/* Many _seq per key, deletes among them. */
static void gen_history(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	uint64_t key = i / 7, k = i % 7;
	v[0].v.i64 = (int64_t)key;
	r->seq = (int64_t)(100 - k * 3);
	r->op = (k == 2 || key % 11 == 0) ? STRATA_OP_DELETE : STRATA_OP_UPSERT;
	v[1].is_null = r->op == STRATA_OP_DELETE;
	int n = snprintf((char *)g->sbuf, sizeof(g->sbuf), "v%llu.%llu", (unsigned long long)key,
			 (unsigned long long)k);
	v[1].v.s.ptr = g->sbuf;
	v[1].v.s.len = (uint32_t)n;
	v[2].is_null = r->op == STRATA_OP_DELETE;
	v[2].v.i64 = (int64_t)k;
	r->ncols = 3;
	r->vals = v;
}

static void test_history_and_deletes(void)
{
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	opts_small(&o);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/hist.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_file_stats st;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 7000, gen_history, &g, &st, &e), 0);
	CU_ASSERT_EQUAL(st.seq_min, 82);
	CU_ASSERT_EQUAL(st.seq_max, 100);
	CU_ASSERT(st.tombstones > 1000);
	CU_ASSERT_EQUAL(st.keys, 1000); /* 7 records a key */
	strata_file_stats_free(&st);
	check_file(path, s, s, 7000, gen_history, &g);
	/* seq filtering by the generic layer: only _seq in (90, 100] */
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.seq_min = 90;
	ro.seq_max = 100;
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	const strata_row *row;
	int n = 0, rc;
	while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
		CU_ASSERT(row->seq > 90 && row->seq <= 100);
		n++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(n, 4000); /* k = 0..3 */
	/* metadata carries the _seq range and key columns */
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	int found = 0;
	for (uint32_t i = 0; i < m.fm.nkv; i++) {
		const pq_kv *kv = &m.fm.kv[i];
		if (strcmp(kv->key, STRATA_META_SEQ_MIN) == 0)
			found += kv->value.len == 2 && memcmp(kv->value.p, "82", 2) == 0;
		if (strcmp(kv->key, STRATA_META_SEQ_MAX) == 0)
			found += kv->value.len == 3 && memcmp(kv->value.p, "100", 3) == 0;
		if (strcmp(kv->key, STRATA_META_KEY_COLUMNS) == 0)
			found += kv->value.len == 2 && memcmp(kv->value.p, "pk", 2) == 0;
		if (strcmp(kv->key, STRATA_META_SCHEMA_VERSION) == 0)
			found += kv->value.len == 1 && kv->value.p[0] == '1';
	}
	CU_ASSERT_EQUAL(found, 4);
	/* sorting columns: key ascending, then _seq descending */
	const pq_row_group *rg = &m.fm.row_groups[0];
	CU_ASSERT_EQUAL(rg->nsorting, 2);
	CU_ASSERT(rg->sorting[0].column_idx == 0 && !rg->sorting[0].is_descending);
	CU_ASSERT(rg->sorting[1].column_idx == 3 && rg->sorting[1].is_descending);
	meta_free(&m);
	strata_run_close(run);
	strata_schema_free(s);
}

/* ---- projection and schema evolution --------------------------------------------- */

static void test_projection_evolution(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/proj.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const uint64_t n = 20000;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, n, gen_all, &g, NULL, &e), 0);

	/* read schema v4: "d" dropped, "extra" (new id 9) added */
	strata_schema *rs = strata_schema_new(4);
	for (uint32_t i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, "d") != 0)
			strata_schema_add(rs, &s->cols[i], NULL);
	strata_column extra;
	memset(&extra, 0, sizeof(extra));
	snprintf(extra.name, sizeof(extra.name), "extra");
	extra.type = STRATA_T_STRING;
	extra.id = 9;
	extra.is_nullable = true;
	extra.key_pos = -1;
	strata_schema_add(rs, &extra, NULL);

	/* damage every page of column "d": a projection without it must not care */
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	size_t len;
	uint8_t *data = (uint8_t *)tu_read_file(path, &len);
	for (uint32_t gi = 0; gi < m.fm.nrow_groups; gi++) {
		const pq_column_meta *cm = &m.fm.row_groups[gi].cols[2].meta;
		int64_t start = cm->has_dict_page_offset ? cm->dict_page_offset : cm->data_page_offset;
		memset(data + start, 0xee, (size_t)cm->total_compressed_size);
	}
	char bad[PATH_MAX];
	snprintf(bad, sizeof(bad), "%s/proj-bad.parquet", dir);
	tu_write_file(bad, data, len);
	free(data);
	meta_free(&m);

	for (int pass = 0; pass < 2; pass++) {
		strata_run_opts ro;
		memset(&ro, 0, sizeof(ro));
		ro.file_schema = s;
		ro.read_schema = rs;
		strata_run *run;
		CU_ASSERT_EQUAL_FATAL(strata_run_open(pass ? bad : path, &ro, &run, &e), 0);
		const strata_row *row;
		uint64_t got = 0;
		int rc, bad_rows = 0;
		while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
			strata_row want;
			gen_all(got, &g, &want);
			CU_ASSERT_EQUAL(row->ncols, rs->ncols);
			/* rs: pk i f b s bin ts extra */
			static const int from[] = {0, 1, 3, 4, 5, 6, 7};
			for (int c = 0; c < 7; c++)
				if (!strata_value_eq(rs->cols[c].type, &row->vals[c], &want.vals[from[c]]))
					bad_rows++;
			if (!row->vals[7].is_null)
				bad_rows++;
			got++;
		}
		if (rc)
			fprintf(stderr, "projection: %s\n", e.msg);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(bad_rows, 0);
		CU_ASSERT_EQUAL(got, n);
		strata_run_close(run);
	}
	/* reading the damaged column fails cleanly, naming the file and column */
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(bad, &ro, &run, &e), 0);
	const strata_row *row;
	int rc;
	while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1)
		;
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT(strstr(e.msg, "proj-bad.parquet") != NULL);
	CU_ASSERT(strstr(e.msg, "\"d\"") != NULL);
	strata_run_close(run);
	/* a manifest schema that does not match the file is refused */
	strata_schema *wrong = strata_schema_dup(s);
	wrong->cols[1].type = STRATA_T_LONG;
	ro.file_schema = wrong;
	CU_ASSERT_EQUAL(strata_run_open(path, &ro, &run, &e), STRATA_ECORRUPT);
	CU_ASSERT(strstr(e.msg, "\"i\"") != NULL);
	wrong->cols[1].type = STRATA_T_INT;
	wrong->cols[1].id = 77;
	CU_ASSERT_EQUAL(strata_run_open(path, &ro, &run, &e), STRATA_ECORRUPT);
	strata_schema_free(wrong);
	strata_schema_free(rs);
	strata_schema_free(s);
}

/* ---- seeks ------------------------------------------------------------------------ */

static void gen_seek(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	v[0].v.i64 = (int64_t)i * 2; /* odd keys are missing */
	int n = snprintf((char *)g->sbuf, sizeof(g->sbuf), "value-%llu", (unsigned long long)(i % 977));
	v[1].v.s.ptr = g->sbuf;
	v[1].v.s.len = (uint32_t)n;
	v[2].v.i64 = (int64_t)(i * 31 % 1000003);
	r->ncols = 3;
	r->vals = v;
	r->seq = 9;
	r->op = 0;
}

static void key_of_long(const strata_schema *s, int64_t k, strata_buf *out)
{
	strata_value v[3];
	memset(v, 0, sizeof(v));
	v[0].v.i64 = k;
	strata_row r = {.ncols = s->ncols, .vals = v};
	strata_buf_reset(out);
	strata_key_encode(s, &r, out, NULL);
}

/* Seek to key k and return the first record's key (or INT64_MIN at the end)
 * and the records decoded for it. */
static int64_t seek_long(strata_run *run, const strata_schema *s, int64_t k, uint64_t *decoded)
{
	strata_buf key = {0};
	key_of_long(s, k, &key);
	strata_err e;
	int rc = strata_run_seek(run, key.data, key.len, &e);
	if (rc)
		fprintf(stderr, "seek: %s\n", e.msg);
	CU_ASSERT_EQUAL(rc, 0);
	uint64_t before = strata_run_rows_decoded(run);
	const strata_row *row;
	rc = strata_run_next(run, &row, NULL, NULL, &e);
	*decoded = strata_run_rows_decoded(run) - before;
	strata_buf_free(&key);
	CU_ASSERT(rc >= 0);
	return rc == 1 ? row->vals[0].v.i64 : INT64_MIN;
}

static void test_seek_point_lookups(void)
{
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.row_group_bytes = 4 << 20; /* several row groups of many pages */
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/seek.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const int64_t n = 1000000;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, (uint64_t)n, gen_seek, &g, NULL, &e), 0);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	CU_ASSERT(m.fm.nrow_groups >= 3);
	meta_free(&m);

	struct {
		int64_t key, want;
	} cases[] = {
		{0, 0},                   /* first */
		{-5, 0},                  /* before the first */
		{n, n},                   /* middle */
		{2 * (n - 1), 2 * (n - 1)}, /* last */
		{2 * n, INT64_MIN},       /* past the end */
		{777777, 777778},         /* missing: the next key */
		{39999, 40000},           /* missing, near a page boundary */
		{123456, 123456},
		{2 * 333333 + 1, 2 * 333334},
	};
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		/* fresh runs and one run seeking back and forth */
		for (int fresh = 0; fresh < 2; fresh++) {
			strata_run *r = run;
			if (fresh)
				CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &e), 0);
			uint64_t dec;
			int64_t got = seek_long(r, s, cases[i].key, &dec);
			CU_ASSERT_EQUAL(got, cases[i].want);
			/* the key column alone is searched inside the page: the
			 * record found is the only one decoded */
			if (dec > 1)
				fprintf(stderr, "seek %lld decoded %llu rows\n", (long long)cases[i].key,
					(unsigned long long)dec);
			CU_ASSERT(dec <= 1);
			if (fresh)
				strata_run_close(r);
		}
	}
	/* after a seek the run continues in order across pages and row groups */
	uint64_t dec;
	CU_ASSERT_EQUAL(seek_long(run, s, 2 * (n - 50000), &dec), 2 * (n - 50000));
	const strata_row *row;
	int64_t expect = 2 * (n - 50000) + 2, cnt = 1;
	int rc;
	while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1) {
		if (row->vals[0].v.i64 != expect)
			break;
		expect += 2;
		cnt++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(cnt, 50000);
	strata_run_close(run);
	/* a projected lookup (key + one column) decodes the same page */
	strata_schema *ps;
	CU_ASSERT_EQUAL_FATAL(strata_schema_project(s, "n", &ps, &e), 0);
	ro.read_schema = ps;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	CU_ASSERT_EQUAL(seek_long(run, s, 1500000, &dec), 1500000);
	CU_ASSERT(dec <= 1);
	strata_run_close(run);
	strata_schema_free(ps);
	strata_schema_free(s);
}

/* Composite keys (STRING, BIGINT), with history. */
static void gen_composite(uint64_t i, gen *g, strata_row *r)
{
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 3);
	uint64_t group = i / 40, sub = (i % 40) / 2, ver = i % 2;
	int n = snprintf((char *)g->sbuf, sizeof(g->sbuf), "key-%06llu", (unsigned long long)group);
	v[0].v.s.ptr = g->sbuf;
	v[0].v.s.len = (uint32_t)n;
	v[1].v.i64 = (int64_t)sub * 10 - 50;
	v[2].v.i64 = (int64_t)i;
	r->ncols = 3;
	r->vals = v;
	r->seq = (int64_t)(20 - ver * 5);
	r->op = 0;
}

static const col_def comp_cols[] = {
	{"k", STRATA_T_STRING, 0}, {"n", STRATA_T_LONG, 1}, {"x", STRATA_T_LONG, -1}};

static void test_seek_composite(void)
{
	strata_schema *s = mk_schema(1, comp_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.row_group_bytes = 2 << 20;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/comp.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const uint64_t n = 400000;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, n, gen_composite, &g, NULL, &e), 0);
	check_file(path, s, s, n, gen_composite, &g);
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	struct {
		const char *k;
		int64_t n;
		int64_t want_x; /* -1: end */
	} cases[] = {
		{"key-000000", -50, 0},
		{"key-000000", -49, 2},     /* missing n: the next one */
		{"key-004321", 40, 4321 * 40 + 18},
		{"key-004321", 1000, 4322 * 40},
		{"key-009999", 140, 9999 * 40 + 38},
		{"key-009999", 141, -1},
		{"key-0", 0, 0},
		{"key-00500", 0, 5000 * 40}, /* a prefix: sorts before "key-005000" */
		{"zzz", 0, -1},
		{"", 0, 0},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		strata_value kv[3];
		memset(kv, 0, sizeof(kv));
		kv[0].v.s.ptr = (const uint8_t *)cases[i].k;
		kv[0].v.s.len = (uint32_t)strlen(cases[i].k);
		kv[1].v.i64 = cases[i].n;
		strata_row kr = {.ncols = 3, .vals = kv};
		strata_buf key = {0};
		strata_key_encode(s, &kr, &key, NULL);
		CU_ASSERT_EQUAL(strata_run_seek(run, key.data, key.len, &e), 0);
		uint64_t before = strata_run_rows_decoded(run);
		const strata_row *row;
		int rc = strata_run_next(run, &row, NULL, NULL, &e);
		uint64_t dec = strata_run_rows_decoded(run) - before;
		if (cases[i].want_x < 0) {
			CU_ASSERT_EQUAL(rc, 0);
		} else {
			CU_ASSERT_EQUAL_FATAL(rc, 1);
			if (row->vals[2].v.i64 != cases[i].want_x)
				fprintf(stderr, "composite seek %zu: got x=%lld want %lld\n", i,
					(long long)row->vals[2].v.i64, (long long)cases[i].want_x);
			CU_ASSERT_EQUAL(row->vals[2].v.i64, cases[i].want_x);
			CU_ASSERT_EQUAL(row->seq, 20); /* newest version first */
		}
		/* only the records sharing the first key column (40 a group),
		 * then the one found, are decoded */
		if (dec > 41)
			fprintf(stderr, "composite seek %zu decoded %llu rows\n", i,
				(unsigned long long)dec);
		CU_ASSERT(dec <= 41);
		strata_buf_free(&key);
	}
	strata_run_close(run);
	strata_schema_free(s);
}

/* A DOUBLE key with NaN, infinities and both zeros: seeks stay correct (the
 * reader never trusts float bounds that could miss a NaN). */
static void gen_float_key(uint64_t i, gen *g, strata_row *r)
{
	static const double pre[] = {-NAN, -INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 3.25};
	strata_value *v = g->vals;
	memset(v, 0, sizeof(strata_value) * 2);
	if (i < 8)
		v[0].v.f64 = pre[i];
	else if (i < 60000)
		v[0].v.f64 = 4.0 + (double)i;
	else if (i == 60000)
		v[0].v.f64 = INFINITY;
	else
		v[0].v.f64 = NAN; /* positive NaNs sort last */
	if (i > 60000) {
		uint64_t bits;
		memcpy(&bits, &v[0].v.f64, 8);
		bits += i - 60000;
		memcpy(&v[0].v.f64, &bits, 8);
	}
	v[1].v.i64 = (int64_t)i;
	r->ncols = 2;
	r->vals = v;
	r->seq = 1;
	r->op = 0;
}

static void test_seek_float_key(void)
{
	const col_def cols[] = {{"k", STRATA_T_DOUBLE, 0}, {"i", STRATA_T_LONG, -1}};
	strata_schema *s = mk_schema(1, cols, 2);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.row_group_bytes = 256 << 10;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/float.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const uint64_t n = 60100;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, n, gen_float_key, &g, NULL, &e), 0);
	check_file(path, s, s, n, gen_float_key, &g);
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &run, &e), 0);
	/* every row's key, and the key between rows, seeks to the right row */
	for (uint64_t i = 0; i < n; i += (i < 16 || i > 59990) ? 1 : 997) {
		strata_row r;
		gen_float_key(i, &g, &r);
		strata_buf key = {0};
		strata_key_encode(s, &r, &key, NULL);
		CU_ASSERT_EQUAL(strata_run_seek(run, key.data, key.len, &e), 0);
		const strata_row *row;
		CU_ASSERT_EQUAL_FATAL(strata_run_next(run, &row, NULL, NULL, &e), 1);
		if (row->vals[1].v.i64 != (int64_t)i)
			fprintf(stderr, "float seek %llu found %lld\n", (unsigned long long)i,
				(long long)row->vals[1].v.i64);
		CU_ASSERT_EQUAL(row->vals[1].v.i64, (int64_t)i);
		strata_buf_free(&key);
	}
	strata_run_close(run);
	strata_schema_free(s);
}

/* ---- damaged files --------------------------------------------------------------- */

/* Drive the fuzz harness on bytes (any outcome but a crash is fine); and
 * separately insist that a full read either succeeds with the right row
 * count or fails with a clean error naming the file. */
static int read_all_code(const char *path, uint64_t *rows, strata_err *e)
{
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	*rows = 0;
	int rc = strata_run_open(path, &ro, &run, e);
	if (rc)
		return rc;
	const strata_row *row;
	while ((rc = strata_run_next(run, &row, NULL, NULL, e)) == 1)
		(*rows)++;
	strata_run_close(run);
	return rc;
}

static bool clean_code(int rc)
{
	return rc == 0 || rc == STRATA_ECORRUPT || rc == STRATA_EUNSUPPORTED;
}

static void test_truncation_and_bitflips(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	o.page_bytes = 512;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX], bad[PATH_MAX];
	snprintf(path, sizeof(path), "%s/small.parquet", dir);
	snprintf(bad, sizeof(bad), "%s/damaged.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	g.has_deletes = true;
	strata_err e;
	const uint64_t n = 300;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, n, gen_all, &g, NULL, &e), 0);
	size_t len;
	uint8_t *data = (uint8_t *)tu_read_file(path, &len);
	uint8_t *copy = malloc(len);
	int unclean = 0;
	/* every truncation: a clean error (the footer is gone) */
	for (size_t cut = 0; cut < len; cut += (len > 4000 && cut > 64 && cut < len - 600) ? 7 : 1) {
		tu_write_file(bad, data, cut);
		uint64_t rows;
		int rc = read_all_code(bad, &rows, &e);
		if (rc != STRATA_ECORRUPT || !strstr(e.msg, "damaged.parquet"))
			unclean++;
		strata_fuzz_parquet_one(data, cut, dir);
	}
	CU_ASSERT_EQUAL(unclean, 0);
	/* bit flips everywhere: a clean error or the right number of rows */
	srand(3);
	int flips = 0, errors = 0;
	for (size_t pos = 0; pos < len; pos += 1 + (size_t)(rand() % 3)) {
		memcpy(copy, data, len);
		copy[pos] ^= (uint8_t)(1u << (rand() % 8));
		tu_write_file(bad, copy, len);
		uint64_t rows = 0;
		int rc = read_all_code(bad, &rows, &e);
		flips++;
		if (rc < 0)
			errors++;
		if (!clean_code(rc) || (rc < 0 && !strstr(e.msg, "damaged.parquet"))) {
			fprintf(stderr, "flip at %zu: rc %d: %s\n", pos, rc, e.msg);
			unclean++;
		}
		strata_fuzz_parquet_one(copy, len, dir);
	}
	/* random byte values in the footer, where most damage lands */
	for (int i = 0; i < 3000; i++) {
		memcpy(copy, data, len);
		size_t pos = len - 1 - (size_t)(rand() % (len < 2000 ? len : 2000));
		copy[pos] = (uint8_t)rand();
		tu_write_file(bad, copy, len);
		uint64_t rows = 0;
		int rc = read_all_code(bad, &rows, &e);
		if (!clean_code(rc))
			unclean++;
		strata_fuzz_parquet_one(copy, len, dir);
	}
	CU_ASSERT_EQUAL(unclean, 0);
	CU_ASSERT(flips > 100);
	CU_ASSERT(errors > 10);
	free(copy);
	free(data);
	strata_schema_free(s);
}

/* The seed corpus (tests/fuzz/corpus/parquet/seed-*): small files of every
 * shape we write and DuckDB writes.  Regenerate with
 *   STRATA_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/parquet build/tests/test_parquet */
static void write_seeds(const char *dir)
{
	char p[PATH_MAX];
	strata_err e;
	gen g;
	memset(&g, 0, sizeof(g));
	strata_write_opts o;
	strata_schema *s = all_types_schema();
	opts_small(&o);
	o.page_bytes = 400;
	o.row_group_bytes = 6000;
	g.has_deletes = true;
	snprintf(p, sizeof(p), "%s/seed-all-types.parquet", dir);
	unlink(p);
	CU_ASSERT_EQUAL(write_file(p, s, &o, 150, gen_all, &g, NULL, &e), 0);
	o.codec = STRATA_CODEC_NONE;
	snprintf(p, sizeof(p), "%s/seed-uncompressed.parquet", dir);
	unlink(p);
	CU_ASSERT_EQUAL(write_file(p, s, &o, 60, gen_all, &g, NULL, &e), 0);
	snprintf(p, sizeof(p), "%s/seed-empty.parquet", dir);
	unlink(p);
	CU_ASSERT_EQUAL(write_file(p, s, &o, 0, gen_all, &g, NULL, &e), 0);
	strata_schema_free(s);
	s = mk_schema(1, dict_cols, 3);
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.page_bytes = 1024;
	o.dict_max_bytes = 300;
	snprintf(p, sizeof(p), "%s/seed-dict-fallback.parquet", dir);
	unlink(p);
	CU_ASSERT_EQUAL(write_file(p, s, &o, 3300, gen_dict, &g, NULL, &e), 0);
	snprintf(p, sizeof(p), "%s/seed-history.parquet", dir);
	unlink(p);
	o.dict_max_bytes = 1 << 20;
	CU_ASSERT_EQUAL(write_file(p, s, &o, 500, gen_history, &g, NULL, &e), 0);
	strata_schema_free(s);
	s = mk_schema(1, comp_cols, 3);
	snprintf(p, sizeof(p), "%s/seed-composite.parquet", dir);
	unlink(p);
	o.row_group_bytes = 4000;
	CU_ASSERT_EQUAL(write_file(p, s, &o, 400, gen_composite, &g, NULL, &e), 0);
	strata_schema_free(s);
	const col_def fcols[] = {{"k", STRATA_T_DOUBLE, 0}, {"i", STRATA_T_LONG, -1}};
	s = mk_schema(1, fcols, 2);
	snprintf(p, sizeof(p), "%s/seed-float-key.parquet", dir);
	unlink(p);
	CU_ASSERT_EQUAL(write_file(p, s, &o, 20, gen_float_key, &g, NULL, &e), 0);
	strata_schema_free(s);
	if (!tu_duckdb_available())
		return;
	struct {
		const char *name, *opts;
	} duck[] = {
		{"seed-duckdb-v1.parquet", "COMPRESSION zstd, ROW_GROUP_SIZE 100"},
		{"seed-duckdb-v2.parquet", "COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 150"},
		{"seed-duckdb-none.parquet", "COMPRESSION uncompressed"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(duck); i++) {
		char sel[2048], sql[4096];
		snprintf(sel, sizeof(sel), DUCK_SELECT, 300);
		snprintf(p, sizeof(p), "%s/%s", dir, duck[i].name);
		snprintf(sql, sizeof(sql), "COPY (%s) TO '%s' (FORMAT parquet, %s);\n", sel, p,
			 duck[i].opts);
		char *out = duck_one(sql);
		CU_ASSERT_PTR_NOT_NULL(out);
		free(out);
	}
}

/* Every input the fuzzer ever crashed on, and the seeds, through the harness. */
static void test_fuzz_corpus_replay(void)
{
	const char *corpus = "tests/fuzz/corpus/parquet";
	const char *seeds = getenv("STRATA_FUZZ_WRITE_SEEDS");
	if (seeds)
		write_seeds(seeds);
	DIR *d = opendir(corpus);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	const char *dir = tu_tmpdir();
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", corpus, de->d_name);
		size_t len;
		char *data = tu_read_file(p, &len);
		if (!data)
			continue;
		strata_fuzz_parquet_one((const uint8_t *)data, len, dir);
		/* the crash-* inputs must give a clean error or clean data */
		if (strncmp(de->d_name, "crash-", 6) == 0 || strncmp(de->d_name, "timeout-", 8) == 0) {
			char f[PATH_MAX];
			snprintf(f, sizeof(f), "%s/replay.parquet", dir);
			tu_write_file(f, data, len);
			uint64_t rows;
			strata_err e;
			CU_ASSERT(clean_code(read_all_code(f, &rows, &e)));
		}
		free(data);
		n++;
	}
	closedir(d);
	CU_ASSERT(n >= 4);
}

/* Hand-made hostile files: each must fail with a precise message. */
static void test_hostile_files(void)
{
	const char *dir = tu_tmpdir();
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/h.parquet", dir);
	strata_err e;
	uint64_t rows;
	struct {
		const char *bytes;
		size_t len;
		const char *needle;
	} cases[] = {
		{"PAR1PAR1", 8, "too short"},
		{"PAR1\0\0\0\0PAR1", 12, "footer length 0"},
		{"PAR1\xff\xff\xff\x7fPAR1", 12, "footer length"},
		{"PAR1xxxxxxxx\x04\0\0\0PARE", 20, "encrypted"},
		{"PAR1\x15\x04\x00\x01\0\0\0PAR1", 15, "damaged Parquet footer"},
		{"XXXX\x15\x04\x00\x03\0\0\0PAR1", 15, "bad magic"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		tu_write_file(p, cases[i].bytes, cases[i].len);
		int rc = read_all_code(p, &rows, &e);
		CU_ASSERT(rc == STRATA_ECORRUPT || rc == STRATA_EUNSUPPORTED);
		if (!strstr(e.msg, cases[i].needle))
			fprintf(stderr, "hostile %zu: %s\n", i, e.msg);
		CU_ASSERT(strstr(e.msg, cases[i].needle) != NULL);
		CU_ASSERT(strstr(e.msg, "h.parquet") != NULL);
	}
	/* footers that parse but would expand: empty column chunks, and a
	 * swarm of one-letter schema elements */
	for (int kind = 0; kind < 2; kind++) {
		strata_buf f = {0};
		thrift_w w;
		strata_buf_append(&f, "PAR1", 4);
		size_t start = f.len;
		thrift_w_init(&w, &f);
		thrift_w_struct_begin(&w);
		thrift_w_i32(&w, 1, 2);
		uint32_t nel = kind ? 200000 : 1;
		thrift_w_field_list(&w, 2, THRIFT_STRUCT, nel);
		for (uint32_t i = 0; i < nel; i++) {
			thrift_w_struct_begin(&w);
			thrift_w_string(&w, 4, "x");
			thrift_w_struct_end(&w);
		}
		thrift_w_i64(&w, 3, 0);
		thrift_w_field_list(&w, 4, THRIFT_STRUCT, 1);
		thrift_w_struct_begin(&w);
		uint32_t ncc = kind ? 0 : 1000;
		thrift_w_field_list(&w, 1, THRIFT_STRUCT, ncc);
		for (uint32_t i = 0; i < ncc; i++) {
			thrift_w_struct_begin(&w);
			thrift_w_struct_end(&w);
		}
		thrift_w_i64(&w, 2, 0);
		thrift_w_i64(&w, 3, 0);
		thrift_w_struct_end(&w);
		thrift_w_struct_end(&w);
		uint32_t flen = (uint32_t)(f.len - start);
		strata_buf_append(&f, &flen, 4);
		strata_buf_append(&f, "PAR1", 4);
		tu_write_file(p, f.data, f.len);
		int rc = read_all_code(p, &rows, &e);
		CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
		const char *want = kind ? "decodes to more than" : "ColumnChunk lacks meta_data";
		if (!strstr(e.msg, want))
			fprintf(stderr, "expansion %d: %s\n", kind, e.msg);
		CU_ASSERT(strstr(e.msg, want) != NULL);
		strata_buf_free(&f);
	}
	/* a footer claiming a huge row count with a tiny column chunk */
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	gen g;
	memset(&g, 0, sizeof(g));
	CU_ASSERT_EQUAL_FATAL(write_file(p, s, &o, 100, gen_dict, &g, NULL, &e), 0);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(p, &m), 0);
	m.fm.num_rows = 1ll << 40;
	m.fm.row_groups[0].num_rows = 1ll << 40;
	for (uint32_t l = 0; l < m.fm.row_groups[0].ncols; l++)
		m.fm.row_groups[0].cols[l].meta.num_values = 1ll << 40;
	strata_buf out = {0};
	size_t len;
	char *data = tu_read_file(p, &len);
	uint32_t flen;
	memcpy(&flen, data + len - 8, 4);
	strata_buf_append(&out, data, len - 8 - flen);
	pq_file_meta_write(&out, &m.fm);
	uint32_t nflen = (uint32_t)(out.len - (len - 8 - flen));
	strata_buf_append(&out, &nflen, 4);
	strata_buf_append(&out, "PAR1", 4);
	snprintf(p, sizeof(p), "%s/huge.parquet", dir);
	tu_write_file(p, out.data, out.len);
	int rc = read_all_code(p, &rows, &e);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT(strstr(e.msg, "ends before its row group") != NULL);
	CU_ASSERT_EQUAL(rows, 100);
	free(data);
	strata_buf_free(&out);
	meta_free(&m);
	strata_schema_free(s);
}

/* ---- describe -------------------------------------------------------------------- */

static void test_describe(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX], out[PATH_MAX];
	snprintf(path, sizeof(path), "%s/d.parquet", dir);
	snprintf(out, sizeof(out), "%s/d.txt", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 10000, gen_all, &g, NULL, &e), 0);
	FILE *f = fopen(out, "w");
	CU_ASSERT_EQUAL(strata_file_describe(path, f, &e), 0);
	fclose(f);
	char *text = tu_read_file(out, NULL);
	const char *needles[] = {
		"format: parquet", "created by: strata", "rows: 10000",
		"pk: INT64 REQUIRED field_id=1", "s: BYTE_ARRAY OPTIONAL STRING (UTF8) field_id=6",
		"ts: INT64 OPTIONAL TIMESTAMP(MICROS, UTC) (TIMESTAMP_MICROS) field_id=8",
		"_seq: INT64 REQUIRED", "strata.key_columns = pk", "sorted by pk ASC, _seq DESC",
		"column pk: INT64, ZSTD, encodings DELTA_BINARY_PACKED", "RLE_DICTIONARY",
		"stats: min -1000 max", "nulls", "NaNs", "page index: column index yes, offset index yes",
		"+ dictionary", "data pages", "stats: min -inf max inf",
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(needles); i++) {
		if (!strstr(text, needles[i]))
			fprintf(stderr, "describe lacks \"%s\"\n", needles[i]);
		CU_ASSERT(strstr(text, needles[i]) != NULL);
	}
	free(text);
	strata_schema_free(s);
}

/* ---- I/O faults -------------------------------------------------------------------- */

/* Row groups bigger than the writer's page buffer spill to an unlinked
 * temporary file and come back in order: the file is byte for byte the one
 * written without spilling, nothing is left in the directory, and every
 * failed open, write or read-back of the spill fails the file cleanly. */
static void test_spill(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	o.row_group_bytes = 1 << 20; /* several spills per row group */
	const char *dir = tu_tmpdir();
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s/kept.parquet", dir);
	snprintf(b, sizeof(b), "%s/spilled.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const uint64_t n = 30000;
	CU_ASSERT_EQUAL_FATAL(write_file(a, s, &o, n, gen_all, &g, NULL, &e), 0);
	o.buffer_bytes = 16 << 10;
	tu_fault_arm(TU_OP_PWRITE, 0, 0, false);
	CU_ASSERT_EQUAL_FATAL(write_file(b, s, &o, n, gen_all, &g, NULL, &e), 0);
	int writes = tu_fault_calls(TU_OP_PWRITE), reads = tu_fault_calls(TU_OP_PREAD);
	tu_fault_disarm();
	CU_ASSERT(reads > 0); /* it did spill */
	size_t la, lb;
	char *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);
	CU_ASSERT_FATAL(da && db);
	CU_ASSERT(la == lb && memcmp(da, db, la) == 0);
	free(da);
	free(db);
	check_file(b, s, s, n, gen_all, &g);
	CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 2);
	unlink(a);
	unlink(b);
	struct {
		tu_op op;
		int at;
	} cases[] = {
		{TU_OP_OPEN, 2}, /* the spill file */
		{TU_OP_PREAD, 1},
		{TU_OP_PREAD, reads},
		{TU_OP_PWRITE, 1},
		{TU_OP_PWRITE, writes / 3},
		{TU_OP_PWRITE, writes / 2},
		{TU_OP_PWRITE, writes - 1},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		tu_fault_arm(cases[i].op, cases[i].at, EIO, false);
		int rc = write_file(b, s, &o, n, gen_all, &g, NULL, &e);
		bool fired = tu_fault_fired();
		tu_fault_disarm();
		CU_ASSERT(fired);
		if (rc == 0)
			fprintf(stderr, "spill fault %zu (%s #%d) did not fail the write\n", i,
				tu_op_name(cases[i].op), cases[i].at);
		CU_ASSERT(rc < 0);
		CU_ASSERT(e.msg[0] != '\0');
		CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 0);
	}
	strata_schema_free(s);
}

static void test_io_faults(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	opts_small(&o);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/fault.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	/* count the writes of a clean run first */
	tu_fault_arm(TU_OP_PWRITE, 0, 0, false);
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 40000, gen_all, &g, NULL, &e), 0);
	int writes = tu_fault_calls(TU_OP_PWRITE);
	tu_fault_disarm();
	unlink(path);
	CU_ASSERT(writes >= 2);
	struct {
		tu_op op;
		int at;
		int err;
		bool is_short;
	} cases[] = {
		{TU_OP_PWRITE, 1, ENOSPC, false},
		{TU_OP_PWRITE, writes, ENOSPC, false},
		{TU_OP_PWRITE, writes / 2 + 1, EIO, false},
		{TU_OP_PWRITE, 1, 0, true},
		{TU_OP_FSYNC, 1, EIO, false},
		{TU_OP_FSYNC, 2, EIO, false}, /* the directory */
		{TU_OP_RENAME, 1, EXDEV, false},
		{TU_OP_OPEN, 1, EACCES, false},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		tu_fault_arm(cases[i].op, cases[i].at, cases[i].err, cases[i].is_short);
		int rc = write_file(path, s, &o, 40000, gen_all, &g, NULL, &e);
		bool fired = tu_fault_fired();
		tu_fault_disarm();
		CU_ASSERT(fired);
		if (cases[i].is_short) {
			/* a short write is completed by the retry loop */
			CU_ASSERT_EQUAL(rc, 0);
			check_file(path, s, s, 40000, gen_all, &g);
			unlink(path);
			continue;
		}
		if (rc == 0)
			fprintf(stderr, "fault %zu (%s #%d) did not fail the write\n", i,
				tu_op_name(cases[i].op), cases[i].at);
		CU_ASSERT(rc < 0);
		CU_ASSERT(e.msg[0] != '\0');
		/* nothing left behind: no temp file, no final file */
		CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 0);
	}
	/* a poisoned writer refuses further rows */
	tu_fault_arm(TU_OP_PWRITE, 1, ENOSPC, false);
	strata_fwriter *w;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	int rc = 0;
	uint64_t i;
	for (i = 0; i < 100000 && rc == 0; i++) {
		strata_row r;
		gen_all(i, &g, &r);
		rc = strata_fwriter_add(w, &r, &e);
	}
	tu_fault_disarm();
	CU_ASSERT(rc < 0);
	strata_row r;
	gen_all(i, &g, &r);
	CU_ASSERT_EQUAL(strata_fwriter_add(w, &r, &e), STRATA_EPOISONED);
	strata_file_stats st;
	CU_ASSERT(strata_fwriter_finish(w, &st, &e) < 0);
	CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 0);
	/* bad options */
	o.codec = STRATA_CODEC_DEFLATE;
	CU_ASSERT_EQUAL(strata_fwriter_open(path, s, &o, &w, &e), STRATA_EINVAL);
	CU_ASSERT(strstr(e.msg, "zstd") != NULL);
	strata_schema_free(s);
}

static void test_bytes_estimate(void)
{
	strata_schema *s = all_types_schema();
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/est.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	strata_fwriter *w;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	uint64_t half = 0, end = 0;
	for (uint64_t i = 0; i < 100000; i++) {
		strata_row r;
		gen_all(i, &g, &r);
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &r, &e), 0);
		if (i == 49999)
			half = strata_fwriter_bytes(w);
	}
	end = strata_fwriter_bytes(w);
	CU_ASSERT(half > 0 && end > half);
	strata_file_stats st;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
	/* the estimate is within a factor of two of the real size */
	if (!(end > st.bytes / 2 && end < st.bytes * 2))
		fprintf(stderr, "estimate %llu, file %llu\n", (unsigned long long)end,
			(unsigned long long)st.bytes);
	CU_ASSERT(end > st.bytes / 2 && end < st.bytes * 2);
	strata_file_stats_free(&st);
	strata_schema_free(s);
}

/* ---- DuckDB interop ---------------------------------------------------------------- */

/* A DuckDB SQL expression giving the canonical text of column `name` of type t
 * (the same text canon_value() builds). */
static void canon_sql(strata_buf *b, const char *name, strata_type t)
{
	switch (t) {
	case STRATA_T_DOUBLE:
		strata_buf_printf(b, "coalesce(printf('%%.17g', \"%s\"), 'N')", name);
		break;
	case STRATA_T_FLOAT:
		strata_buf_printf(b, "coalesce(printf('%%.17g', \"%s\"::DOUBLE), 'N')", name);
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		strata_buf_printf(b, "coalesce(hex(\"%s\"), 'N')", name);
		break;
	case STRATA_T_TIMESTAMP:
		strata_buf_printf(b, "coalesce(epoch_us(\"%s\")::VARCHAR, 'N')", name);
		break;
	default:
		strata_buf_printf(b, "coalesce(\"%s\"::VARCHAR, 'N')", name);
	}
}

static void canon_value(strata_buf *b, strata_type t, const strata_value *v)
{
	if (v->is_null) {
		strata_buf_putc(b, 'N');
		return;
	}
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		strata_buf_printf(b, "%lld", (long long)v->v.i64);
		break;
	case STRATA_T_INT:
	case STRATA_T_DATE:
		strata_buf_printf(b, "%d", v->v.i32);
		break;
	case STRATA_T_DECIMAL: /* not in all_types_schema: tests/test_types.c */
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
}

/* SELECT of one canonical line per row of the file. */
static char *canon_query(const char *file, const strata_schema *s, bool with_meta)
{
	strata_buf b = {0};
	strata_buf_printf(&b, "SELECT concat_ws('|'");
	for (uint32_t i = 0; i < s->ncols; i++) {
		strata_buf_putc(&b, ',');
		canon_sql(&b, s->cols[i].name, s->cols[i].type);
	}
	if (with_meta)
		strata_buf_printf(&b, ", _seq::VARCHAR, _op::VARCHAR");
	strata_buf_printf(&b, ") AS r FROM read_parquet('%s');\n", file);
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

static void canon_row(strata_buf *b, const strata_schema *s, const strata_row *r, bool with_meta)
{
	strata_buf_printf(b, "{\"r\":\"");
	for (uint32_t i = 0; i < s->ncols; i++) {
		if (i)
			strata_buf_putc(b, '|');
		canon_value(b, s->cols[i].type, &r->vals[i]);
	}
	if (with_meta)
		strata_buf_printf(b, "|%lld|%d", (long long)r->seq, r->op);
	strata_buf_printf(b, "\"}\n");
}

/* Compare DuckDB's view of `file` with the generator's rows. */
static void duck_check_rows(const char *file, const strata_schema *s, uint64_t n, gen_fn fn,
			    gen *g)
{
	char *sql = canon_query(file, s, true);
	char *out = NULL;
	int rc = tu_duckdb(sql, &out);
	if (rc)
		fprintf(stderr, "duckdb: %s\n", out ? out : "?");
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_buf want = {0};
	for (uint64_t i = 0; i < n; i++) {
		strata_row r;
		fn(i, g, &r);
		canon_row(&want, s, &r, true);
	}
	strata_buf_putc(&want, 0);
	bool same = strcmp(out, (char *)want.data) == 0;
	if (!same) {
		/* show the first differing line */
		const char *a = out, *b = (char *)want.data;
		size_t line = 0;
		while (*a && *a == *b) {
			if (*a == '\n')
				line++;
			a++;
			b++;
		}
		fprintf(stderr, "DuckDB differs at line %zu:\n duckdb: %.200s\n ours:   %.200s\n", line,
			a, b);
	}
	CU_ASSERT(same);
	strata_buf_free(&want);
	free(out);
	free(sql);
}

/* Run SQL expecting one JSON line; return it (caller frees) or NULL. */
static char *duck_one(const char *sql)
{
	char *out = NULL;
	int rc = tu_duckdb(sql, &out);
	if (rc) {
		fprintf(stderr, "duckdb failed: %s\nSQL: %s\n", out ? out : "?", sql);
		free(out);
		return NULL;
	}
	return out;
}

static void test_duckdb_reads_ours(void)
{
	if (!tu_duckdb_available())
		return;
	strata_schema *s = all_types_schema();
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	struct {
		const char *tag;
		uint64_t n;
		bool is_small, has_deletes, is_none;
		uint64_t dict_max;
	} cases[] = {
		{"one", 1, false, false, false, 1 << 20},
		{"zero", 0, false, false, false, 1 << 20},
		{"all", 20000, false, true, false, 1 << 20},
		{"groups", 30000, true, true, false, 1 << 20},
		{"fallback", 20000, false, false, false, 2048},
		{"uncompressed", 3000, true, false, true, 1 << 20},
	};
	for (size_t c = 0; c < STRATA_ARRAY_LEN(cases); c++) {
		strata_write_opts o;
		if (cases[c].is_small)
			opts_small(&o);
		else
			strata_write_opts_default(&o, STRATA_FMT_PARQUET);
		o.dict_max_bytes = cases[c].dict_max;
		if (cases[c].is_none)
			o.codec = STRATA_CODEC_NONE;
		g.has_deletes = cases[c].has_deletes;
		snprintf(path, sizeof(path), "%s/%s.parquet", dir, cases[c].tag);
		CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, cases[c].n, gen_all, &g, NULL, &e), 0);
		duck_check_rows(path, s, cases[c].n, gen_all, &g);
	}
	/* large binaries */
	g.has_deletes = false;
	g.big_len = 3u << 20;
	g.big = malloc(g.big_len);
	for (size_t i = 0; i < g.big_len; i++)
		g.big[i] = (uint8_t)(i * 13);
	g.big_every = 100;
	strata_write_opts o;
	opts_small(&o);
	snprintf(path, sizeof(path), "%s/big.parquet", dir);
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 300, gen_all, &g, NULL, &e), 0);
	char sql[4096];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) AS n, sum(octet_length(bin)) AS bytes, "
		 "count(*) FILTER (WHERE octet_length(bin) = %zu) AS big "
		 "FROM read_parquet('%s');\n",
		 g.big_len, path);
	char *out = duck_one(sql);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	uint64_t want_bytes = 0;
	for (uint64_t i = 0; i < 300; i++) {
		strata_row r;
		gen_all(i, &g, &r);
		if (!r.vals[6].is_null)
			want_bytes += r.vals[6].v.s.len;
	}
	char want[256];
	snprintf(want, sizeof(want), "{\"n\":\"300\",\"bytes\":\"%llu\",\"big\":\"3\"",
		 (unsigned long long)want_bytes);
	if (strncmp(out, want, strlen(want)) != 0)
		fprintf(stderr, "big: %s\nwant %s\n", out, want);
	CU_ASSERT(strncmp(out, want, strlen(want)) == 0);
	free(out);
	free(g.big);
	g.big = NULL;
	strata_schema_free(s);
}


/* DuckDB's statistics, encodings, codec and schema view of our file. */
static void test_duckdb_metadata(void)
{
	if (!tu_duckdb_available())
		return;
	strata_schema *s = all_types_schema();
	const char *dir = tu_tmpdir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/meta.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	g.has_deletes = true;
	strata_write_opts o;
	opts_small(&o);
	o.row_group_bytes = 256 << 10;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, 40000, gen_all, &g, NULL, &e), 0);
	/* per row group and column: stats equal the data of that row group */
	strata_buf b = {0};
	strata_buf_printf(&b,
			  "WITH rg AS (SELECT row_group_id g, any_value(row_group_num_rows) n "
			  "FROM parquet_metadata('%s') GROUP BY g), "
			  "rr AS (SELECT g, sum(n) OVER (ORDER BY g) - n AS lo, sum(n) OVER (ORDER BY g) AS hi FROM rg), "
			  "d AS (SELECT *, file_row_number AS rn FROM read_parquet('%s', file_row_number=true)), "
			  "agg AS (SELECT rr.g",
			  path, path);
	for (uint32_t i = 0; i < s->ncols; i++) {
		const char *nm = s->cols[i].name;
		strata_type t = s->cols[i].type;
		if (t == STRATA_T_DOUBLE || t == STRATA_T_FLOAT)
			strata_buf_printf(&b, ", min(\"%s\") FILTER (WHERE NOT isnan(\"%s\")) AS mn_%s, "
					      "max(\"%s\") FILTER (WHERE NOT isnan(\"%s\")) AS mx_%s",
					  nm, nm, nm, nm, nm, nm);
		else
			strata_buf_printf(&b, ", min(\"%s\") AS mn_%s, max(\"%s\") AS mx_%s", nm, nm, nm, nm);
		strata_buf_printf(&b, ", count(*) - count(\"%s\") AS nc_%s", nm, nm);
	}
	strata_buf_printf(&b, " FROM rr JOIN d ON d.rn >= rr.lo AND d.rn < rr.hi GROUP BY rr.g), "
			      "m AS (SELECT row_group_id g, path_in_schema p, stats_min_value mn, "
			      "stats_max_value mx, stats_null_count nc FROM parquet_metadata('%s')) "
			      "SELECT count(*) AS checked, count(*) FILTER (WHERE NOT ok) AS bad, "
			      "string_agg(c || '@' || g, ' ') FILTER (WHERE NOT ok) AS which FROM (",
			  path);
	for (uint32_t i = 0; i < s->ncols; i++) {
		const char *nm = s->cols[i].name;
		strata_type t = s->cols[i].type;
		const char *cast = t == STRATA_T_DOUBLE ? "DOUBLE" : t == STRATA_T_FLOAT ? "FLOAT" :
				   t == STRATA_T_LONG || t == STRATA_T_INT ? "BIGINT" :
				   t == STRATA_T_BOOL ? "BOOLEAN" :
				   t == STRATA_T_TIMESTAMP ? "TIMESTAMPTZ" : NULL;
		if (i)
			strata_buf_printf(&b, " UNION ALL ");
		if (t == STRATA_T_DOUBLE || t == STRATA_T_FLOAT)
			/* DuckDB shows no bounds when one is infinite (ours are
			 * written, see test_describe) */
			strata_buf_printf(&b,
					  "SELECT coalesce(m.mn::%s = agg.mn_%s AND m.mx::%s = agg.mx_%s, "
					  "m.mn IS NULL AND (agg.mn_%s IS NULL OR isinf(agg.mn_%s) OR "
					  "isinf(agg.mx_%s))) AND m.nc = agg.nc_%s AS ok, '%s' AS c, m.g "
					  "FROM m JOIN agg ON m.g = agg.g WHERE m.p = '%s'",
					  cast, nm, cast, nm, nm, nm, nm, nm, nm, nm);
		else if (cast)
			strata_buf_printf(&b,
					  "SELECT coalesce(m.mn::%s = agg.mn_%s AND m.mx::%s = agg.mx_%s, "
					  "m.mn IS NULL AND agg.mn_%s IS NULL) AND m.nc = agg.nc_%s AS ok, '%s' AS c, m.g "
					  "FROM m JOIN agg ON m.g = agg.g WHERE m.p = '%s'",
					  cast, nm, cast, nm, nm, nm, nm, nm);
		else if (t == STRATA_T_STRING)
			strata_buf_printf(&b,
					  "SELECT coalesce(m.mn = agg.mn_%s AND m.mx = agg.mx_%s, "
					  "m.mn IS NULL AND agg.mn_%s IS NULL) AND m.nc = agg.nc_%s AS ok, '%s' AS c, m.g "
					  "FROM m JOIN agg ON m.g = agg.g WHERE m.p = '%s'",
					  nm, nm, nm, nm, nm, nm);
		else /* BLOB: compare through the text form DuckDB uses for both */
			strata_buf_printf(&b,
					  "SELECT coalesce(m.mn = agg.mn_%s::VARCHAR AND m.mx = agg.mx_%s::VARCHAR, "
					  "m.mn IS NULL AND agg.mn_%s IS NULL) AND m.nc = agg.nc_%s AS ok, '%s' AS c, m.g "
					  "FROM m JOIN agg ON m.g = agg.g WHERE m.p = '%s'",
					  nm, nm, nm, nm, nm, nm);
	}
	strata_buf_printf(&b, ");\n");
	strata_buf_putc(&b, 0);
	char *out = duck_one((char *)b.data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	char want[128];
	snprintf(want, sizeof(want), "{\"checked\":\"%u\",\"bad\":\"0\",\"which\":null}\n",
		 m.fm.nrow_groups * s->ncols);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "stats check: %s (want %s)", out, want);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT(m.fm.nrow_groups >= 2);
	meta_free(&m);
	free(out);
	strata_buf_free(&b);

	/* encodings and codec */
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "SELECT path_in_schema AS p, any_value(encodings) AS e, any_value(compression) AS c "
		 "FROM parquet_metadata('%s') WHERE row_group_id = 0 GROUP BY p ORDER BY p;\n",
		 path);
	out = duck_one(sql);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	const char *needles[] = {
		"{\"p\":\"_seq\",\"e\":\"DELTA_BINARY_PACKED\",\"c\":\"ZSTD\"}",
		"{\"p\":\"pk\",\"e\":\"DELTA_BINARY_PACKED\",\"c\":\"ZSTD\"}",
		"{\"p\":\"s\",\"e\":\"PLAIN, RLE, RLE_DICTIONARY\",\"c\":\"ZSTD\"}",
		"{\"p\":\"_op\",\"e\":\"PLAIN, RLE_DICTIONARY\",\"c\":\"ZSTD\"}",
		"{\"p\":\"b\",\"e\":\"PLAIN, RLE\",\"c\":\"ZSTD\"}",
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(needles); i++) {
		if (!strstr(out, needles[i]))
			fprintf(stderr, "encodings lack %s in:\n%s", needles[i], out);
		CU_ASSERT(strstr(out, needles[i]) != NULL);
	}
	free(out);
	/* schema: types, logical types, repetition, field ids */
	snprintf(sql, sizeof(sql),
		 "SELECT name, type, repetition_type AS rep, converted_type AS ct, logical_type AS lt, "
		 "field_id AS id, duckdb_type AS dt FROM parquet_schema('%s');\n",
		 path);
	out = duck_one(sql);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	const char *schema_needles[] = {
		"\"name\":\"pk\",\"type\":\"INT64\",\"rep\":\"REQUIRED\",\"ct\":null,\"lt\":null,\"id\":\"1\",\"dt\":\"BIGINT\"",
		"\"name\":\"i\",\"type\":\"INT32\",\"rep\":\"OPTIONAL\",\"ct\":null,\"lt\":null,\"id\":\"2\",\"dt\":\"INTEGER\"",
		"\"name\":\"d\",\"type\":\"DOUBLE\",\"rep\":\"OPTIONAL\"",
		"\"name\":\"f\",\"type\":\"FLOAT\",\"rep\":\"OPTIONAL\"",
		"\"name\":\"b\",\"type\":\"BOOLEAN\",\"rep\":\"OPTIONAL\"",
		"\"name\":\"s\",\"type\":\"BYTE_ARRAY\",\"rep\":\"OPTIONAL\",\"ct\":\"UTF8\",\"lt\":\"StringType()\",\"id\":\"6\",\"dt\":\"VARCHAR\"",
		"\"name\":\"bin\",\"type\":\"BYTE_ARRAY\",\"rep\":\"OPTIONAL\",\"ct\":null,\"lt\":null,\"id\":\"7\",\"dt\":\"BLOB\"",
		"\"name\":\"ts\",\"type\":\"INT64\",\"rep\":\"OPTIONAL\",\"ct\":\"TIMESTAMP_MICROS\"",
		"\"dt\":\"TIMESTAMP WITH TIME ZONE\"",
		"\"name\":\"_seq\",\"type\":\"INT64\",\"rep\":\"REQUIRED\"",
		"\"name\":\"_op\",\"type\":\"INT32\",\"rep\":\"REQUIRED\"",
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(schema_needles); i++) {
		if (!strstr(out, schema_needles[i]))
			fprintf(stderr, "schema lacks %s in:\n%s", schema_needles[i], out);
		CU_ASSERT(strstr(out, schema_needles[i]) != NULL);
	}
	CU_ASSERT(strstr(out, "isAdjustedToUTC=1") != NULL || strstr(out, "isAdjustedToUTC=true") != NULL);
	CU_ASSERT(strstr(out, "MICROS") != NULL);
	free(out);
	/* the key-value metadata */
	snprintf(sql, sizeof(sql),
		 "SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('%s') "
		 "WHERE decode(key) LIKE 'strata.%%' ORDER BY k;\n",
		 path);
	out = duck_one(sql);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT(strstr(out, "{\"k\":\"strata.key_columns\",\"v\":\"pk\"}") != NULL);
	CU_ASSERT(strstr(out, "{\"k\":\"strata.schema_version\",\"v\":\"3\"}") != NULL);
	CU_ASSERT(strstr(out, "{\"k\":\"strata.seq_max\",\"v\":\"50\"}") != NULL);
	free(out);
	strata_schema_free(s);
}

/* DuckDB prunes row groups with our statistics: damage every row group but
 * the last; a lookup of a key in the last one still works in DuckDB (and in
 * our reader), a full scan does not. */
static void test_duckdb_pruning(void)
{
	if (!tu_duckdb_available())
		return;
	strata_schema *s = mk_schema(1, dict_cols, 3);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_PARQUET);
	o.row_group_bytes = 1 << 20;
	const char *dir = tu_tmpdir();
	char path[PATH_MAX], bad[PATH_MAX];
	snprintf(path, sizeof(path), "%s/prune.parquet", dir);
	snprintf(bad, sizeof(bad), "%s/prune-bad.parquet", dir);
	gen g;
	memset(&g, 0, sizeof(g));
	strata_err e;
	const uint64_t n = 200000;
	CU_ASSERT_EQUAL_FATAL(write_file(path, s, &o, n, gen_seek, &g, NULL, &e), 0);
	meta m;
	CU_ASSERT_EQUAL_FATAL(meta_read(path, &m), 0);
	uint32_t nrg = m.fm.nrow_groups;
	CU_ASSERT_FATAL(nrg >= 3);
	size_t len;
	uint8_t *data = (uint8_t *)tu_read_file(path, &len);
	for (uint32_t gi = 0; gi + 1 < nrg; gi++)
		for (uint32_t l = 0; l < m.fm.row_groups[gi].ncols; l++) {
			const pq_column_meta *cm = &m.fm.row_groups[gi].cols[l].meta;
			int64_t start = cm->has_dict_page_offset ? cm->dict_page_offset : cm->data_page_offset;
			memset(data + start, 0xee, (size_t)cm->total_compressed_size);
		}
	tu_write_file(bad, data, len);
	free(data);
	meta_free(&m);
	int64_t last_key = 2 * (int64_t)(n - 10);
	char sql[1024];
	snprintf(sql, sizeof(sql),
		 "SELECT pk, n FROM read_parquet('%s') WHERE pk = %lld;\n", bad, (long long)last_key);
	char *out = duck_one(sql);
	CU_ASSERT_PTR_NOT_NULL(out);
	if (out) {
		char want[128];
		snprintf(want, sizeof(want), "{\"pk\":\"%lld\",\"n\":\"%lld\"}\n", (long long)last_key,
			 (long long)((n - 10) * 31 % 1000003));
		CU_ASSERT_STRING_EQUAL(out, want);
	}
	free(out);
	snprintf(sql, sizeof(sql), "SELECT sum(n) AS c FROM read_parquet('%s');\n", bad);
	out = NULL;
	CU_ASSERT(tu_duckdb(sql, &out) != 0); /* the damage is real */
	free(out);
	/* our reader prunes the same way */
	strata_run_opts ro;
	memset(&ro, 0, sizeof(ro));
	strata_run *run;
	CU_ASSERT_EQUAL_FATAL(strata_run_open(bad, &ro, &run, &e), 0);
	uint64_t dec;
	CU_ASSERT_EQUAL(seek_long(run, s, last_key, &dec), last_key);
	strata_run_close(run);
	strata_schema_free(s);
}

/* Files DuckDB writes, read back by us exactly as DuckDB reads them. */
static void test_duckdb_writes_we_read(void)
{
	if (!tu_duckdb_available())
		return;
	const char *dir = tu_tmpdir();
	struct {
		const char *tag, *opts;
		int rows;
	} cases[] = {
		{"zstd", "COMPRESSION zstd, ROW_GROUP_SIZE 10000", 25000},
		{"none", "COMPRESSION uncompressed", 5000},
		{"v2", "COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 8000", 20000},
		{"v2-none", "COMPRESSION uncompressed, PARQUET_VERSION V2", 3000},
		{"plain", "COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1", 4000},
		{"empty", "COMPRESSION zstd", 0},
	};
	for (size_t c = 0; c < STRATA_ARRAY_LEN(cases); c++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/duck-%s.parquet", dir, cases[c].tag);
		char sel[2048], sql[4096];
		snprintf(sel, sizeof(sel), DUCK_SELECT, cases[c].rows);
		snprintf(sql, sizeof(sql), "COPY (%s) TO '%s' (FORMAT parquet, %s);\n", sel, path,
			 cases[c].opts);
		char *out = duck_one(sql);
		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		free(out);
		/* our reader: schema derived from the Parquet schema */
		strata_run_opts ro;
		memset(&ro, 0, sizeof(ro));
		strata_run *run;
		strata_err e;
		int rc = strata_run_open(path, &ro, &run, &e);
		if (rc)
			fprintf(stderr, "%s: %s\n", cases[c].tag, e.msg);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		const strata_schema *fs = strata_run_file_schema(run);
		CU_ASSERT_EQUAL(fs->ncols, 10);
		CU_ASSERT_EQUAL(fs->nkeys, 0);
		CU_ASSERT_EQUAL(fs->cols[0].type, STRATA_T_LONG);
		CU_ASSERT_EQUAL(fs->cols[1].type, STRATA_T_INT);
		CU_ASSERT_EQUAL(fs->cols[4].type, STRATA_T_STRING);
		CU_ASSERT_EQUAL(fs->cols[6].type, STRATA_T_FLOAT);
		CU_ASSERT(fs->cols[0].is_nullable);
		strata_buf ours = {0};
		const strata_row *row;
		while ((rc = strata_run_next(run, &row, NULL, NULL, &e)) == 1)
			canon_row(&ours, fs, row, false);
		if (rc)
			fprintf(stderr, "%s: %s\n", cases[c].tag, e.msg);
		CU_ASSERT_EQUAL(rc, 0);
		strata_buf_putc(&ours, 0);
		char *q = canon_query(path, fs, false);
		out = duck_one(q);
		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		if (strcmp(out, (char *)ours.data) != 0)
			fprintf(stderr, "%s: rows differ (ours %zu bytes, duckdb %zu)\n", cases[c].tag,
				strlen((char *)ours.data), strlen(out));
		CU_ASSERT_STRING_EQUAL(out, (char *)ours.data);
		free(out);
		free(q);
		strata_buf_free(&ours);
		strata_run_close(run);
		/* and describe works on foreign files */
		FILE *null = fopen("/dev/null", "w");
		CU_ASSERT_EQUAL(strata_file_describe(path, null, &e), 0);
		fclose(null);
	}
}

/* Outside the subset: refused with a clear error naming file and column. */
static void test_duckdb_unsupported(void)
{
	if (!tu_duckdb_available())
		return;
	const char *dir = tu_tmpdir();
	struct {
		const char *tag, *query, *opts, *needle;
	} cases[] = {
		{"snappy", "SELECT range AS a, 'x' || range AS b FROM range(100)", "COMPRESSION snappy",
		 "unsupported compression SNAPPY in column \"a\""},
		{"list", "SELECT range AS a, [range, range + 1] AS l FROM range(100)", "COMPRESSION zstd",
		 "unsupported nested column \"l\""},
		{"struct", "SELECT {'x': range} AS st FROM range(10)", "COMPRESSION zstd",
		 "unsupported nested column \"st\""},
		/* DECIMAL and DATE are read (tests/test_types.c); these are not */
		{"time", "SELECT TIME '12:00:00' AS tm FROM range(10)", "COMPRESSION zstd",
		 "unsupported type TIME in column \"tm\""},
		{"uint", "SELECT range::UINTEGER AS u FROM range(10)", "COMPRESSION zstd",
		 "unsupported type UINT32 in column \"u\""},
		{"gzip", "SELECT range AS a FROM range(10)", "COMPRESSION gzip",
		 "unsupported compression GZIP"},
	};
	for (size_t c = 0; c < STRATA_ARRAY_LEN(cases); c++) {
		char path[PATH_MAX], sql[1024];
		snprintf(path, sizeof(path), "%s/duck-%s.parquet", dir, cases[c].tag);
		snprintf(sql, sizeof(sql), "COPY (%s) TO '%s' (FORMAT parquet, %s);\n", cases[c].query,
			 path, cases[c].opts);
		char *out = duck_one(sql);
		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		free(out);
		uint64_t rows;
		strata_err e;
		int rc = read_all_code(path, &rows, &e);
		CU_ASSERT_EQUAL(rc, STRATA_EUNSUPPORTED);
		if (!strstr(e.msg, cases[c].needle))
			fprintf(stderr, "%s: got \"%s\"\n", cases[c].tag, e.msg);
		CU_ASSERT(strstr(e.msg, cases[c].needle) != NULL);
		CU_ASSERT(strstr(e.msg, path) != NULL);
		/* describe still shows what the file is */
		FILE *null = fopen("/dev/null", "w");
		CU_ASSERT_EQUAL(strata_file_describe(path, null, &e), 0);
		fclose(null);
	}
}

static void register_parquet(void)
{
	CU_pSuite s = CU_add_suite("parquet", NULL, NULL);
	TU_ADD(s, test_thrift_roundtrip);
	TU_ADD(s, test_rle_roundtrip);
	TU_ADD(s, test_delta_roundtrip);
	TU_ADD(s, test_roundtrip_types);
	TU_ADD(s, test_roundtrip_edges);
	TU_ADD(s, test_large_binary);
	TU_ADD(s, test_dict_fallback);
	TU_ADD(s, test_dict_short_strings);
	TU_ADD(s, test_raw_zstd_frames);
	TU_ADD(s, test_history_and_deletes);
	TU_ADD(s, test_projection_evolution);
	TU_ADD(s, test_seek_point_lookups);
	TU_ADD(s, test_seek_composite);
	TU_ADD(s, test_seek_float_key);
	TU_ADD(s, test_truncation_and_bitflips);
	TU_ADD(s, test_fuzz_corpus_replay);
	TU_ADD(s, test_hostile_files);
	TU_ADD(s, test_describe);
	TU_ADD(s, test_io_faults);
	TU_ADD(s, test_spill);
	TU_ADD(s, test_bytes_estimate);
	TU_ADD(s, test_duckdb_reads_ours);
	TU_ADD(s, test_duckdb_metadata);
	TU_ADD(s, test_duckdb_pruning);
	TU_ADD(s, test_duckdb_writes_we_read);
	TU_ADD(s, test_duckdb_unsupported);
}

TU_MAIN(register_parquet)
