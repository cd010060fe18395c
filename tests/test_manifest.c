/*
 * tests/test_manifest.c — the LMDB manifest on its own: read-set resolution
 * (a table of hand-built bucket states and file entries), table creation,
 * writer commits (entries, version records, strictly increasing timestamps,
 * tokens, expected versions, schema and bucket-count conflicts), job commits,
 * clean and forget, version-log expiry, claims, intents, tags, leases,
 * version-at-time, partition name escaping, map growth from a tiny map, and
 * a second process committing to the same warehouse at the same time.
 *
 * Data files are never written here: the manifest only records them.
 */
#include "tests/util/testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/wait.h>
#include <unistd.h>
#include <limits.h>
#include <lmdb.h>

#include "manifest/manifest.h"
#include "manifest/manifest_int.h"
#include "table/table.h"

#define T0_US 1767225600000000LL /* 2026-01-01 00:00:00 UTC */

/* ---- helpers ---------------------------------------------------------------- */

static strata_mf *mf_fresh(void)
{
	strata_mf *mf = NULL;
	strata_err e;
	int rc = strata_mf_open(tu_tmpdir(), true, &mf, &e);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return mf;
}

/* pk BIGINT key, val STRING nullable; schema version v. */
static strata_schema *schema_pk_val(uint32_t v)
{
	strata_schema *s = strata_schema_new(v);
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "pk");
	c.type = STRATA_T_LONG;
	c.id = 1;
	c.key_pos = 0;
	strata_schema_add(s, &c, NULL);
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "val");
	c.type = STRATA_T_STRING;
	c.id = 2;
	c.key_pos = -1;
	c.is_nullable = true;
	strata_schema_add(s, &c, NULL);
	return s;
}

static strata_table_def mk_table(strata_mf *mf, const char *name, uint32_t buckets,
				 const char *part_col)
{
	strata_table_def def;
	memset(&def, 0, sizeof(def));
	snprintf(def.name, sizeof(def.name), "%s", name);
	strata_table_def_defaults(&def);
	def.buckets = buckets;
	if (part_col) {
		def.nparts = 1;
		snprintf(def.part_cols[0], sizeof(def.part_cols[0]), "%s", part_col);
	}
	strata_schema *s = schema_pk_val(1);
	strata_err e;
	int rc = strata_mf_table_create(mf, &def, s, &e);
	strata_schema_free(s);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return def;
}

static strata_table_def table_get(strata_mf *mf, const char *name)
{
	strata_table_def t;
	memset(&t, 0, sizeof(t));
	strata_mf_snap *snap;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, name, &t, &e), 0);
	strata_mf_snap_close(snap);
	return t;
}

/* Encoded BIGINT key (sign bit flipped, big-endian), as the format does. */
static void key_of(int64_t k, strata_buf *out)
{
	uint64_t u = (uint64_t)k ^ (1ull << 63);
	for (int i = 7; i >= 0; i--)
		strata_buf_putc(out, (uint8_t)(u >> (8 * i)));
}

static void mk_stats(strata_file_stats *st, int64_t kmin, int64_t kmax, uint64_t rows)
{
	strata_file_stats_init(st);
	st->rows = rows;
	st->bytes = 100 * rows;
	key_of(kmin, &st->key_min);
	key_of(kmax, &st->key_max);
}

/* One writer commit of n files in partition part (bucket numbers in
 * buckets[]); file names are generated.  Returns the rc. */
static int commit_files(strata_mf *mf, const char *table, uint32_t schema_version,
			const char *part, uint32_t part_buckets, const uint32_t *buckets,
			size_t n, const char *token, uint64_t expect, uint64_t *version,
			bool *is_repeat, uint64_t *ids, strata_err *e)
{
	static unsigned counter;
	strata_file_stats *st = calloc(n + 1, sizeof(*st));
	strata_mf_new_file *nf = calloc(n + 1, sizeof(*nf));
	char (*names)[32] = calloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		mk_stats(&st[i], (int64_t)i, (int64_t)i + 10, 3);
		snprintf(names[i], sizeof(names[i]), "w%08u.avro", counter++);
		nf[i].partition = part;
		nf[i].part_buckets = part_buckets;
		nf[i].bucket = buckets[i];
		nf[i].format = STRATA_FMT_AVRO;
		nf[i].name = names[i];
		nf[i].schema_version = schema_version;
		nf[i].stats = &st[i];
		nf[i].id_out = ids ? &ids[i] : NULL;
	}
	strata_mf_write w = {.table = table, .expect_version = expect, .token = token,
			     .token_us = token ? strata_now_us() : 0,
			     .schema_version = schema_version, .files = nf, .nfiles = n};
	uint64_t v = 0;
	bool rep = false;
	int rc = strata_mf_commit_write(mf, &w, &v, &rep, e);
	if (version)
		*version = v;
	if (is_repeat)
		*is_repeat = rep;
	for (size_t i = 0; i < n; i++)
		strata_file_stats_free(&st[i]);
	free(st);
	free(nf);
	free(names);
	return rc;
}

/* Single-file commit to bucket b of the unpartitioned table. */
static uint64_t write1(strata_mf *mf, const char *table, uint32_t buckets, uint32_t b,
		       uint64_t *id)
{
	strata_err e;
	uint64_t v = 0;
	int rc = commit_files(mf, table, 1, "", buckets, &b, 1, NULL, 0, &v, NULL, id, &e);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "write1: %s\n", e.msg);
	return v;
}

static size_t bucket_files(strata_mf *mf, uint32_t table_id, uint32_t part, uint32_t b,
			   strata_arena *a, strata_file_entry **out)
{
	strata_mf_snap *snap;
	strata_err e;
	size_t n = 0;
	*out = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_bucket_files(snap, table_id, part, b, a, out, &n, &e), 0);
	strata_mf_snap_close(snap);
	return n;
}

static const strata_file_entry *find_file(strata_file_entry *fs, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (fs[i].id == id)
			return &fs[i];
	return NULL;
}

static strata_bucket_state bucket_state(strata_mf *mf, uint32_t table, uint32_t part,
					uint32_t b)
{
	strata_bucket_state bs;
	strata_mf_snap *snap;
	strata_err e;
	memset(&bs, 0, sizeof(bs));
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_bucket_state_get(snap, table, part, b, &bs, &e), 0);
	strata_mf_snap_close(snap);
	return bs;
}

static int version_rec(strata_mf *mf, uint32_t table, uint64_t v, strata_arena *a,
		       strata_version_rec *r)
{
	strata_mf_snap *snap;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	int rc = strata_mf_version_get(snap, table, v, a, r, &e);
	strata_mf_snap_close(snap);
	return rc;
}

/* A job over inputs of one bucket with one output at level 1. */
static int commit_job(strata_mf *mf, uint32_t table, uint32_t part, uint32_t b,
		      uint32_t schema_version, const uint64_t *in, size_t nin,
		      uint64_t new_floor, uint64_t job_id, bool drops, uint64_t *out_id,
		      uint64_t *version, strata_err *e)
{
	strata_file_stats st;
	mk_stats(&st, 0, 100, 10);
	st.seq_min = 1;
	st.seq_max = 5;
	st.keys = st.rows; /* every key once, no delete: a compact file */
	static unsigned counter;
	char name[32];
	snprintf(name, sizeof(name), "j%08u.parquet", counter++);
	strata_mf_new_file nf = {.partition = "", .part_buckets = 0, .bucket = b,
				 .format = STRATA_FMT_PARQUET, .level = 1, .name = name,
				 .schema_version = schema_version, .stats = &st,
				 .id_out = out_id};
	if (job_id) {
		/* a job commits only while its intent exists */
		char prefix[] = "/nonexistent/j-";
		char *paths[1] = {prefix};
		strata_intent it = {.job_id = job_id, .table_id = table, .part_id = part, .bucket = b,
				    .npaths = 1, .paths = paths};
		snprintf(it.owner, sizeof(it.owner), "tester");
		int irc = strata_mf_intent_put(mf, &it, e);
		if (irc)
			return irc;
	}
	strata_mf_job j = {.table_id = table, .part_id = part, .bucket = b,
			   .kind = new_floor ? STRATA_V_COMPACT : STRATA_V_SORT,
			   .schema_version = schema_version, .inputs = in, .ninputs = nin,
			   .outputs = &nf, .noutputs = 1, .drops_retained_history = drops,
			   .new_floor = new_floor, .job_id = job_id, .note = "test job"};
	int rc = strata_mf_commit_job(mf, &j, version, e);
	strata_file_stats_free(&st);
	return rc;
}

/* ---- resolution: a table of cases ---------------------------------------------- */

typedef struct fspec {
	uint64_t added, removed;
	bool is_deleted;
} fspec;

typedef struct rcase {
	const char *what;
	uint64_t floor, resolvable_from;
	uint32_t nlog;
	uint64_t log[4][2]; /* (J, b) */
	size_t nfiles;
	fspec files[6];
	uint64_t latest;
	uint64_t v;
	bool is_tag;
	int want_rc;
	uint64_t want_l;
} rcase;

/* Two floor raises: job A commits at 5 with boundary 3 (inputs f1 f2 added at
 * 1 and 2, output f3), job B commits at 8 with boundary 6 (input f3 and f4
 * added at 6, output f5).  Latest is 9. */
#define TWO_RAISES_FILES                                                                  \
	{{1, 5, false}, {2, 5, false}, {5, 8, false}, {6, 8, false}, {8, 0, false}}
#define TWO_RAISES_FILES_DEL(i)                                                           \
	{{1, 5, (i) == 0}, {2, 5, (i) == 1}, {5, 8, (i) == 2}, {6, 8, (i) == 3}, {8, 0, false}}

static const rcase rcases[] = {
	{"floor 0: latest answers v=1", 0, 0, 0, {{0}}, 1, {{1, 0, false}}, 4, 1, false, 0, 4},
	{"floor 0: latest answers v=latest", 0, 0, 0, {{0}}, 1, {{1, 0, false}}, 4, 4, false, 0, 4},
	{"floor 0: v=0", 0, 0, 0, {{0}}, 0, {{0}}, 1, 0, false, 0, 1},
	/* one raise (J=5, b=3) */
	{"one raise: v above floor", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, false}, {2, 5, false}, {5, 0, false}}, 6, 4, false, 0, 6},
	{"one raise: v at floor", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, false}, {2, 5, false}, {5, 0, false}}, 6, 3, false, 0, 6},
	{"one raise: v below floor", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, false}, {2, 5, false}, {5, 0, false}}, 6, 2, false, 0, 4},
	{"one raise: v=1", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, false}, {2, 5, false}, {5, 0, false}}, 6, 1, false, 0, 4},
	{"one raise: needed file deleted", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, true}, {2, 5, false}, {5, 0, false}}, 6, 2, false, STRATA_ERETENTION, 0},
	{"one raise: deleted file, tag too", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, true}, {2, 5, false}, {5, 0, false}}, 6, 2, true, STRATA_ERETENTION, 0},
	{"one raise: deleted file does not matter above floor", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, true}, {2, 5, false}, {5, 0, false}}, 6, 3, false, 0, 6},
	/* two raises (5,3) and (8,6) */
	{"two raises: v above", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 7, false, 0, 9},
	{"two raises: v at floor", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 6, false, 0, 9},
	{"two raises: v between", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 5, false, 0, 7},
	{"two raises: v at first boundary", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 3,
	 false, 0, 7},
	{"two raises: v below both", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 2, false,
	 0, 4},
	{"two raises: input of A deleted, v=2", 6, 0, 2, {{5, 3}, {8, 6}}, 5,
	 TWO_RAISES_FILES_DEL(0), 9, 2, false, STRATA_ERETENTION, 0},
	{"two raises: input of A deleted, v=4", 6, 0, 2, {{5, 3}, {8, 6}}, 5,
	 TWO_RAISES_FILES_DEL(0), 9, 4, false, 0, 7},
	{"two raises: output of A deleted, v=4", 6, 0, 2, {{5, 3}, {8, 6}}, 5,
	 TWO_RAISES_FILES_DEL(2), 9, 4, false, STRATA_ERETENTION, 0},
	{"two raises: output of A deleted, v=2 still whole", 6, 0, 2, {{5, 3}, {8, 6}}, 5,
	 TWO_RAISES_FILES_DEL(2), 9, 2, false, 0, 4},
	{"two raises: first trimmed, v below resolvable_from", 6, 3, 1, {{8, 6}}, 5,
	 TWO_RAISES_FILES, 9, 2, false, STRATA_ERETENTION, 0},
	{"two raises: first trimmed, tag below resolvable_from", 6, 3, 1, {{8, 6}}, 5,
	 TWO_RAISES_FILES, 9, 2, true, STRATA_ERETENTION, 0},
	{"two raises: first trimmed, v at resolvable_from", 6, 3, 1, {{8, 6}}, 5,
	 TWO_RAISES_FILES, 9, 3, false, 0, 7},
};

typedef struct ecase {
	const char *what;
	uint64_t floor, resolvable_from;
	uint32_t nlog;
	uint64_t log[4][2];
	size_t nfiles;
	fspec files[6];
	uint64_t latest;
	uint64_t want_readable, want_incremental;
} ecase;

static const ecase ecases[] = {
	{"floor 0", 0, 0, 0, {{0}}, 1, {{1, 0, false}}, 4, 1, 0},
	{"one raise, all kept", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, false}, {2, 5, false}, {5, 0, false}}, 6, 1, 3},
	{"one raise, input deleted", 3, 0, 1, {{5, 3}}, 3,
	 {{1, 5, true}, {2, 5, false}, {5, 0, false}}, 6, 3, 3},
	{"two raises, all kept", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES, 9, 1, 6},
	{"two raises, input of A deleted", 6, 0, 2, {{5, 3}, {8, 6}}, 5, TWO_RAISES_FILES_DEL(0),
	 9, 3, 6},
	{"two raises, output of A deleted", 6, 0, 2, {{5, 3}, {8, 6}}, 5,
	 TWO_RAISES_FILES_DEL(2), 9, 6, 6},
	{"two raises, first trimmed", 6, 3, 1, {{8, 6}}, 5, TWO_RAISES_FILES, 9, 3, 6},
	{"everything trimmed", 6, 6, 0, {{0}}, 1, {{8, 0, false}}, 9, 6, 6},
};

static void build_case(uint64_t floor, uint64_t resf, uint32_t nlog,
		       const uint64_t (*log)[2], size_t nfiles, const fspec *fsp,
		       strata_bucket_state *bs, strata_file_entry *files)
{
	memset(bs, 0, sizeof(*bs));
	bs->floor = floor;
	bs->resolvable_from = resf;
	bs->nlog = nlog;
	for (uint32_t i = 0; i < nlog; i++) {
		bs->log[i].commit_version = log[i][0];
		bs->log[i].boundary = log[i][1];
	}
	for (size_t i = 0; i < nfiles; i++) {
		memset(&files[i], 0, sizeof(files[i]));
		files[i].id = i + 1;
		files[i].added_version = fsp[i].added;
		files[i].removed_version = fsp[i].removed;
		files[i].is_deleted = fsp[i].is_deleted;
	}
}

static void test_resolve_cases(void)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(rcases); i++) {
		const rcase *c = &rcases[i];
		strata_bucket_state bs;
		strata_file_entry files[6];
		build_case(c->floor, c->resolvable_from, c->nlog, c->log, c->nfiles,
			   c->files, &bs, files);
		uint64_t l = 12345;
		int rc = strata_mf_resolve(&bs, files, c->nfiles, c->latest, c->v, c->is_tag, &l);
		if (rc != c->want_rc || (rc == 0 && l != c->want_l))
			fprintf(stderr, "\nresolve case \"%s\": rc %d l %" PRIu64 ", want rc %d l %" PRIu64
					"\n",
				c->what, rc, l, c->want_rc, c->want_l);
		CU_ASSERT_EQUAL(rc, c->want_rc);
		if (rc == 0)
			CU_ASSERT_EQUAL(l, c->want_l);
	}
}

static void test_earliest_cases(void)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ecases); i++) {
		const ecase *c = &ecases[i];
		strata_bucket_state bs;
		strata_file_entry files[6];
		build_case(c->floor, c->resolvable_from, c->nlog, c->log, c->nfiles,
			   c->files, &bs, files);
		uint64_t r = strata_mf_earliest_readable(&bs, files, c->nfiles, c->latest);
		uint64_t inc = strata_mf_earliest_incremental(&bs);
		if (r != c->want_readable || inc != c->want_incremental)
			fprintf(stderr, "\nearliest case \"%s\": %" PRIu64 "/%" PRIu64 ", want %" PRIu64
					"/%" PRIu64 "\n",
				c->what, r, inc, c->want_readable, c->want_incremental);
		CU_ASSERT_EQUAL(r, c->want_readable);
		CU_ASSERT_EQUAL(inc, c->want_incremental);
		/* invariant 2 of resolve.c: every version from it up to latest resolves,
		 * and the one below it (if any) does not */
		for (uint64_t v = r; v <= c->latest; v++) {
			uint64_t l;
			int rc = strata_mf_resolve(&bs, files, c->nfiles, c->latest, v, false, &l);
			if (rc)
				fprintf(stderr, "\nearliest case \"%s\": v %" PRIu64 " does not resolve\n",
					c->what, v);
			CU_ASSERT_EQUAL(rc, 0);
		}
		if (r > 1) {
			uint64_t l;
			CU_ASSERT_EQUAL(strata_mf_resolve(&bs, files, c->nfiles, c->latest, r - 1, false,
							  &l),
					STRATA_ERETENTION);
		}
	}
}

/* ---- tables -------------------------------------------------------------------- */

static void test_table_create(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def a = mk_table(mf, "alpha", 4, NULL);
	CU_ASSERT(a.id > 0);
	CU_ASSERT_EQUAL(a.version, 1);
	CU_ASSERT_EQUAL(a.data_version, 1);
	CU_ASSERT_EQUAL(a.log_start, 1);
	CU_ASSERT_EQUAL(a.schema_version, 1);
	CU_ASSERT_EQUAL(a.created_us, T0_US);
	CU_ASSERT_EQUAL(a.next_col_id, 3);
	/* the name is taken: nothing changes */
	strata_table_def again;
	memset(&again, 0, sizeof(again));
	snprintf(again.name, sizeof(again.name), "alpha");
	strata_table_def_defaults(&again);
	strata_schema *s = schema_pk_val(1);
	strata_err e;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_table_create(mf, &again, s, &e), STRATA_EEXIST);
	CU_ASSERT(strstr(e.msg, "alpha") != NULL);
	strata_schema_free(s);
	strata_table_def now = table_get(mf, "alpha");
	CU_ASSERT_EQUAL(now.version, 1);
	CU_ASSERT_EQUAL(now.id, a.id);
	CU_ASSERT_EQUAL(now.buckets, 4);
	strata_table_def b = mk_table(mf, "beta", 16, "pt");
	CU_ASSERT_NOT_EQUAL(b.id, a.id);
	/* listed in name order; unknown names are ENOTFOUND naming the table */
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_arena *ar = strata_arena_new();
	strata_table_def *ts;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_tables_list(snap, ar, &ts, &n, &e), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(ts[0].name, "alpha");
	CU_ASSERT_STRING_EQUAL(ts[1].name, "beta");
	CU_ASSERT_EQUAL(ts[1].nparts, 1);
	strata_table_def x;
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "gamma", &x, &e), STRATA_ENOTFOUND);
	CU_ASSERT(strstr(e.msg, "gamma") != NULL);
	strata_version_rec r;
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, a.id, 1, ar, &r, &e), 0);
	CU_ASSERT_EQUAL(r.kind, STRATA_V_DDL);
	CU_ASSERT_EQUAL(r.ts_us, T0_US);
	strata_schema *sc = NULL;
	CU_ASSERT_EQUAL(strata_mf_schema_at(snap, &a, 1, &sc, &e), 0);
	CU_ASSERT_PTR_NOT_NULL(sc);
	if (sc)
		CU_ASSERT_EQUAL(sc->ncols, 2);
	strata_schema_free(sc);
	strata_mf_snap_close(snap);
	strata_arena_free(ar);
	strata_mf_close(mf);
	tu_clock_real();
}

/* ---- writer commits -------------------------------------------------------------- */

static void test_commit_write_entries(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "w", 4, "pt");
	strata_err e;
	uint64_t ids[3] = {0};
	uint64_t v = 0;
	uint32_t ba[2] = {0, 2};
	/* two partitions in one commit is two writes here; do pt=a with two buckets */
	tu_clock_advance(1000000);
	CU_ASSERT_EQUAL_FATAL(commit_files(mf, "w", 1, "pt=a", 4, ba, 2, NULL, 0, &v, NULL, ids,
					   &e),
			      0);
	CU_ASSERT_EQUAL(v, 2);
	uint32_t bb = 1;
	tu_clock_advance(1000000);
	uint64_t v2 = 0;
	CU_ASSERT_EQUAL_FATAL(commit_files(mf, "w", 1, "pt=b", 4, &bb, 1, NULL, 0, &v2, NULL,
					   &ids[2], &e),
			      0);
	CU_ASSERT_EQUAL(v2, 3);
	CU_ASSERT(ids[0] && ids[1] && ids[2]);
	CU_ASSERT(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);

	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_partition *ps;
	size_t np;
	CU_ASSERT_EQUAL(strata_mf_partitions(snap, t.id, a, &ps, &np, &e), 0);
	CU_ASSERT_EQUAL_FATAL(np, 2);
	CU_ASSERT_STRING_EQUAL(ps[0].name, "pt=a");
	CU_ASSERT_EQUAL(ps[0].buckets, 4);
	CU_ASSERT_EQUAL(ps[0].created_version, 2);
	CU_ASSERT_STRING_EQUAL(ps[1].name, "pt=b");
	CU_ASSERT_EQUAL(ps[1].created_version, 3);
	strata_partition p;
	CU_ASSERT_EQUAL(strata_mf_partition_get(snap, t.id, "pt=b", &p, &e), 0);
	CU_ASSERT_EQUAL(p.id, ps[1].id);
	CU_ASSERT_EQUAL(strata_mf_partition_get(snap, t.id, "pt=c", &p, &e), STRATA_ENOTFOUND);

	strata_file_entry *fs;
	size_t nf;
	CU_ASSERT_EQUAL(strata_mf_table_files(snap, t.id, a, &fs, &nf, &e), 0);
	CU_ASSERT_EQUAL_FATAL(nf, 3);
	const strata_file_entry *f0 = find_file(fs, nf, ids[0]);
	const strata_file_entry *f1 = find_file(fs, nf, ids[1]);
	const strata_file_entry *f2 = find_file(fs, nf, ids[2]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f2);
	CU_ASSERT_EQUAL(f0->part_id, ps[0].id);
	CU_ASSERT_EQUAL(f0->bucket, 0);
	CU_ASSERT_EQUAL(f1->bucket, 2);
	CU_ASSERT_EQUAL(f2->part_id, ps[1].id);
	CU_ASSERT_EQUAL(f2->bucket, 1);
	CU_ASSERT_EQUAL(f0->seq_min, 2);
	CU_ASSERT_EQUAL(f0->seq_max, 2);
	CU_ASSERT_EQUAL(f2->seq_min, 3);
	CU_ASSERT_EQUAL(f0->added_version, 2);
	CU_ASSERT_EQUAL(f2->added_version, 3);
	CU_ASSERT_EQUAL(f0->removed_version, 0);
	CU_ASSERT_EQUAL(f0->level, 0);
	CU_ASSERT_EQUAL(f0->format, STRATA_FMT_AVRO);
	CU_ASSERT_EQUAL(f0->rows, 3);
	CU_ASSERT_EQUAL(f0->key_min_len, 8);
	CU_ASSERT_EQUAL(f0->schema_version, 1);
	CU_ASSERT_EQUAL(f0->job_id, 0);
	strata_buf k = {0};
	key_of(1, &k);
	CU_ASSERT(f1->key_min_len == 8 && memcmp(f1->key_min, k.data, 8) == 0);
	strata_buf_free(&k);

	/* the version records */
	strata_version_rec r;
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 2, a, &r, &e), 0);
	CU_ASSERT_EQUAL(r.kind, STRATA_V_WRITE);
	CU_ASSERT_EQUAL_FATAL(r.nadded, 2);
	CU_ASSERT(r.added[0] == ids[0] && r.added[1] == ids[1]);
	CU_ASSERT_EQUAL(r.nremoved, 0);
	CU_ASSERT_EQUAL(r.ts_us, T0_US + 1000000);
	CU_ASSERT_EQUAL(strata_mf_version_get(snap, t.id, 4, a, &r, &e), STRATA_ENOTFOUND);
	strata_table_def now;
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "w", &now, &e), 0);
	CU_ASSERT_EQUAL(now.version, 3);
	CU_ASSERT_EQUAL(now.data_version, 3);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

/* Invariant 1 of commit.c: timestamps strictly increase even when the clock
 * stands still or steps back. */
static void test_commit_timestamps_monotonic(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "ts", 2, NULL);
	int64_t steps[] = {0, 0, -5000000, 1, -1, -3600000000LL, 2000000, 0};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(steps); i++) {
		tu_clock_advance(steps[i]);
		write1(mf, "ts", 2, (uint32_t)(i % 2), NULL);
	}
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_version_rec *vs;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_versions_list(snap, t.id, 0, SIZE_MAX, a, &vs, &n, &e), 0);
	CU_ASSERT_EQUAL_FATAL(n, STRATA_ARRAY_LEN(steps) + 1);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(vs[i].version, i + 1);
		if (i)
			CU_ASSERT(vs[i].ts_us > vs[i - 1].ts_us);
	}
	/* and version_at_time finds each one by its own timestamp */
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;
		CU_ASSERT_EQUAL(strata_mf_version_at_time(snap, t.id, vs[i].ts_us, &v, &e), 0);
		CU_ASSERT_EQUAL(v, vs[i].version);
	}
	/* versions_list honours from and max */
	CU_ASSERT_EQUAL(strata_mf_versions_list(snap, t.id, 3, 2, a, &vs, &n, &e), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(vs[0].version, 3);
	CU_ASSERT_EQUAL(vs[1].version, 4);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_commit_token(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "tok", 4, NULL);
	strata_err e;
	uint32_t b[2] = {0, 3};
	uint64_t v1 = 0, v2 = 0, ids[2];
	bool rep = true;
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 2, "load-1", 0, &v1, &rep, ids, &e), 0);
	CU_ASSERT_EQUAL(v1, 2);
	CU_ASSERT_FALSE(rep);
	/* a repeat returns the first version and commits nothing, even with a
	 * different file list and a stale expected version */
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, "load-1", 1, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, v1);
	CU_ASSERT_TRUE(rep);
	strata_table_def now = table_get(mf, "tok");
	CU_ASSERT_EQUAL(now.version, 2);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n0 = bucket_files(mf, t.id, 1, 0, a, &fs);
	size_t n3 = bucket_files(mf, t.id, 1, 3, a, &fs);
	CU_ASSERT_EQUAL(n0 + n3, 2);
	/* another token commits */
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, "load-2", 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, 3);
	CU_ASSERT_FALSE(rep);
	/* a write of no files commits nothing, with or without a token; a
	 * repeated token still answers with its first version */
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 0, NULL, 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, 3);
	CU_ASSERT_FALSE(rep);
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 0, "empty-1", 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, 3);
	CU_ASSERT_FALSE(rep);
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 0, "load-1", 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, 2);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(table_get(mf, "tok").version, 3);
	CU_ASSERT_EQUAL(table_get(mf, "tok").data_version, 3);
	/* the empty write did not record its token */
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, "empty-1", 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v2, 4);
	CU_ASSERT_FALSE(rep);
	/* tokens are per table */
	mk_table(mf, "tok2", 4, NULL);
	CU_ASSERT_EQUAL(commit_files(mf, "tok2", 1, "", 4, b, 1, "load-1", 0, &v2, &rep, NULL, &e),
			0);
	CU_ASSERT_EQUAL(v2, 2);
	CU_ASSERT_FALSE(rep);
	/* the longest token is fine, one more byte is not */
	char longtok[STRATA_TOKEN_MAX + 2];
	memset(longtok, 'x', sizeof(longtok));
	longtok[STRATA_TOKEN_MAX] = '\0';
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, longtok, 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, longtok, 0, &v2, &rep, NULL, &e), 0);
	CU_ASSERT_TRUE(rep);
	longtok[STRATA_TOKEN_MAX] = 'x';
	longtok[STRATA_TOKEN_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(commit_files(mf, "tok", 1, "", 4, b, 1, longtok, 0, &v2, &rep, NULL, &e),
			STRATA_EINVAL);
	CU_ASSERT_EQUAL(table_get(mf, "tok").version, 5);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_commit_expect_version(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "cas", 2, NULL);
	strata_err e;
	uint32_t b = 0;
	uint64_t v = 0, id1 = 0;
	CU_ASSERT_EQUAL(commit_files(mf, "cas", 1, "", 2, &b, 1, NULL, 1, &v, NULL, &id1, &e), 0);
	CU_ASSERT_EQUAL(v, 2);
	/* stale: a write committed after 1 */
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(commit_files(mf, "cas", 1, "", 2, &b, 1, NULL, 1, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "cas") != NULL);
	CU_ASSERT_EQUAL(table_get(mf, "cas").version, 2);
	/* from the future */
	CU_ASSERT_EQUAL(commit_files(mf, "cas", 1, "", 2, &b, 1, NULL, 9, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(table_get(mf, "cas").version, 2);
	/* a job commit is not a write: expecting the last data version or the
	 * job's version both still succeed */
	uint64_t jv = 0;
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, &id1, 1, 0, 0, false, NULL, &jv, &e), 0);
	CU_ASSERT_EQUAL(jv, 3);
	CU_ASSERT_EQUAL(commit_files(mf, "cas", 1, "", 2, &b, 1, NULL, 2, &v, NULL, NULL, &e), 0);
	CU_ASSERT_EQUAL(v, 4);
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, NULL, 0, 0, 0, false, NULL, &jv, &e), 0);
	CU_ASSERT_EQUAL(jv, 5);
	CU_ASSERT_EQUAL(commit_files(mf, "cas", 1, "", 2, &b, 1, NULL, 5, &v, NULL, NULL, &e), 0);
	CU_ASSERT_EQUAL(v, 6);
	/* unknown table */
	CU_ASSERT_EQUAL(commit_files(mf, "nope", 1, "", 2, &b, 1, NULL, 0, &v, NULL, NULL, &e),
			STRATA_ENOTFOUND);
	strata_mf_close(mf);
}

static void test_commit_schema_conflict(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "sch", 2, NULL);
	strata_err e;
	uint32_t b = 1;
	uint64_t v = 0;
	/* DDL: the next schema must be expect + 1 */
	strata_schema *s2 = schema_pk_val(2);
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "extra");
	c.type = STRATA_T_INT;
	c.id = 3;
	c.key_pos = -1;
	c.is_nullable = true;
	strata_schema_add(s2, &c, NULL);
	CU_ASSERT_EQUAL(strata_mf_commit_ddl(mf, "sch", 2, s2, "add extra", &v, &e),
			STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(strata_mf_commit_ddl(mf, "sch", 1, s2, "add extra", &v, &e), 0);
	CU_ASSERT_EQUAL(v, 2);
	/* the same DDL again conflicts (the table is at schema 2 now) */
	CU_ASSERT_EQUAL(strata_mf_commit_ddl(mf, "sch", 1, s2, "add extra", &v, &e),
			STRATA_ECONFLICT);
	strata_table_def now = table_get(mf, "sch");
	CU_ASSERT_EQUAL(now.schema_version, 2);
	CU_ASSERT_EQUAL(now.next_col_id, 4);
	CU_ASSERT_EQUAL(now.version, 2);
	CU_ASSERT_EQUAL(now.data_version, 2);
	/* a writer that routed with schema 1 conflicts, with schema 2 commits */
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(commit_files(mf, "sch", 1, "", 2, &b, 1, NULL, 0, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "schema") != NULL);
	CU_ASSERT_EQUAL(table_get(mf, "sch").version, 2);
	CU_ASSERT_EQUAL(commit_files(mf, "sch", 2, "", 2, &b, 1, NULL, 0, &v, NULL, NULL, &e), 0);
	CU_ASSERT_EQUAL(v, 3);
	/* schema_at: version 1 has the old schema, 2 and later the new one */
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_schema *s = NULL;
	CU_ASSERT_EQUAL(strata_mf_schema_at(snap, &t, 1, &s, &e), 0);
	CU_ASSERT(s && s->ncols == 2 && s->version == 1);
	strata_schema_free(s);
	s = NULL;
	CU_ASSERT_EQUAL(strata_mf_schema_at(snap, &t, 3, &s, &e), 0);
	CU_ASSERT(s && s->ncols == 3 && s->version == 2);
	strata_schema_free(s);
	strata_mf_snap_close(snap);
	/* a job planned at schema 1 conflicts */
	uint64_t jv;
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, NULL, 0, 0, 0, false, NULL, &jv, &e),
			STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(table_get(mf, "sch").version, 3);
	strata_schema_free(s2);
	strata_mf_close(mf);
}

static void test_commit_bucket_conflict(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "bk", 4, "pt");
	strata_err e;
	uint32_t b = 3;
	uint64_t v = 0;
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=a", 4, &b, 1, NULL, 0, &v, NULL, NULL, &e), 0);
	/* the table's bucket count changes; pt=a keeps 4, new partitions get 8 */
	strata_table_def d = table_get(mf, "bk");
	d.buckets = 8;
	CU_ASSERT_EQUAL(strata_mf_table_set_props(mf, NULL, &d, &e), 0);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=a", 8, &b, 1, NULL, 0, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "pt=a") != NULL);
	/* a bucket beyond the count */
	uint32_t b9 = 4;
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=a", 4, &b9, 1, NULL, 0, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	/* routed with the old count for a partition created now */
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=b", 4, &b, 1, NULL, 0, &v, NULL, NULL, &e),
			STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(table_get(mf, "bk").version, 2);
	/* the failed commit created no partition */
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_partition *ps;
	size_t np;
	CU_ASSERT_EQUAL(strata_mf_partitions(snap, t.id, a, &ps, &np, &e), 0);
	CU_ASSERT_EQUAL(np, 1);
	strata_mf_snap_close(snap);
	/* with the right counts both commit */
	uint32_t b7 = 7;
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=a", 4, &b, 1, NULL, 0, &v, NULL, NULL, &e), 0);
	CU_ASSERT_EQUAL(commit_files(mf, "bk", 1, "pt=b", 8, &b7, 1, NULL, 0, &v, NULL, NULL, &e),
			0);
	CU_ASSERT_EQUAL(v, 4);
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_partition p;
	CU_ASSERT_EQUAL(strata_mf_partition_get(snap, t.id, "pt=b", &p, &e), 0);
	CU_ASSERT_EQUAL(p.buckets, 8);
	CU_ASSERT_EQUAL(p.created_version, 4);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_mf_close(mf);
}

/* ---- jobs ------------------------------------------------------------------------ */

static void test_commit_job(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "job", 2, NULL);
	strata_err e;
	uint64_t f1, f2, f3;
	write1(mf, "job", 2, 0, &f1);             /* v2 */
	uint64_t v3 = write1(mf, "job", 2, 0, &f2); /* v3 */
	write1(mf, "job", 2, 1, &f3);             /* v4, other bucket */
	CU_ASSERT_EQUAL(v3, 3);
	uint64_t job_id = 0, job2 = 0;
	CU_ASSERT_EQUAL(strata_mf_job_id_next(mf, &job_id, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_job_id_next(mf, &job2, &e), 0);
	CU_ASSERT(job2 > job_id);
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "tester", job_id, 60000000, &e), 0);
	char *paths[1] = {"data/job/_/b0000/out.parquet"};
	strata_intent in = {.job_id = job_id, .table_id = t.id, .part_id = 1, .bucket = 0,
			    .created_us = T0_US, .npaths = 1, .paths = paths};
	snprintf(in.owner, sizeof(in.owner), "tester");
	CU_ASSERT_EQUAL(strata_mf_intent_put(mf, &in, &e), 0);

	uint64_t inputs[2] = {f1, f2};
	uint64_t out = 0, v = 0;
	tu_clock_advance(1000000);
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, inputs, 2, 3, job_id, false, &out, &v,
					 &e),
			      0);
	CU_ASSERT_EQUAL(v, 5);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_EQUAL(n, 3);
	const strata_file_entry *e1 = find_file(fs, n, f1), *e2 = find_file(fs, n, f2),
				*eo = find_file(fs, n, out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eo);
	CU_ASSERT_EQUAL(e1->removed_version, 5);
	CU_ASSERT_EQUAL(e2->removed_version, 5);
	CU_ASSERT_EQUAL(e1->removed_us, T0_US + 1000000);
	CU_ASSERT_TRUE(e1->removed_kept_history);
	CU_ASSERT_FALSE(e1->is_deleted);
	CU_ASSERT_FALSE(e1->is_compact); /* its stats counted no keys */
	CU_ASSERT_TRUE(eo->is_compact);  /* keys == rows, no tombstones, through the codec */
	CU_ASSERT_EQUAL(eo->added_version, 5);
	CU_ASSERT_EQUAL(eo->removed_version, 0);
	CU_ASSERT_EQUAL(eo->level, 1);
	CU_ASSERT_EQUAL(eo->format, STRATA_FMT_PARQUET);
	CU_ASSERT_EQUAL(eo->job_id, job_id);
	CU_ASSERT_EQUAL(eo->seq_min, 1);
	CU_ASSERT_EQUAL(eo->seq_max, 5);
	/* the floor rose and was logged */
	strata_bucket_state bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.floor, 3);
	CU_ASSERT_EQUAL_FATAL(bs.nlog, 1);
	CU_ASSERT_EQUAL(bs.log[0].commit_version, 5);
	CU_ASSERT_EQUAL(bs.log[0].boundary, 3);
	CU_ASSERT_EQUAL(bucket_state(mf, t.id, 1, 1).floor, 0);
	/* the version record */
	strata_version_rec r;
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 5, a, &r), 0);
	CU_ASSERT_EQUAL(r.kind, STRATA_V_COMPACT);
	CU_ASSERT_EQUAL_FATAL(r.nremoved, 2);
	CU_ASSERT(r.removed[0] == f1 && r.removed[1] == f2);
	CU_ASSERT_EQUAL_FATAL(r.nadded, 1);
	CU_ASSERT_EQUAL(r.added[0], out);
	CU_ASSERT_STRING_EQUAL(r.note, "test job");
	/* claim and intent released; a job is not a data change */
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_claim cl;
	CU_ASSERT_EQUAL(strata_mf_claim_get(snap, t.id, 1, 0, &cl, &e), STRATA_ENOTFOUND);
	strata_intent *ins;
	size_t nin;
	CU_ASSERT_EQUAL(strata_mf_intents_list(snap, a, &ins, &nin, &e), 0);
	CU_ASSERT_EQUAL(nin, 0);
	strata_table_def now;
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "job", &now, &e), 0);
	CU_ASSERT_EQUAL(now.version, 5);
	CU_ASSERT_EQUAL(now.data_version, 4);
	strata_mf_snap_close(snap);

	/* an input that is already removed: conflict, nothing changes (the claim
	 * taken for this job stays, no output, no floor change) */
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "tester", job2, 60000000, &e), 0);
	uint64_t inputs2[2] = {out, f1};
	uint64_t out2 = 0;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, inputs2, 2, 4, job2, false, &out2, &v, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "removed") != NULL);
	strata_arena_reset(a);
	n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_EQUAL(n, 3);
	eo = find_file(fs, n, out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eo);
	CU_ASSERT_EQUAL(eo->removed_version, 0); /* not half-removed */
	CU_ASSERT_EQUAL(bucket_state(mf, t.id, 1, 0).floor, 3);
	CU_ASSERT_EQUAL(table_get(mf, "job").version, 5);
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_claim_get(snap, t.id, 1, 0, &cl, &e), 0);
	CU_ASSERT_EQUAL(cl.job_id, job2);
	strata_mf_snap_close(snap);
	/* an unknown input conflicts too; an input of another bucket is invalid */
	uint64_t ghost = 999999;
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, &ghost, 1, 0, job2, false, NULL, &v, &e),
			STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, &f3, 1, 0, job2, false, NULL, &v, &e),
			STRATA_EINVAL);
	CU_ASSERT_EQUAL(table_get(mf, "job").version, 5);
	/* invariant 6: a lower floor does not lower it; drops_retained_history
	 * marks the inputs */
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, &out, 1, 2, job2, true, &out2, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 6);
	bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.floor, 3);
	CU_ASSERT_EQUAL(bs.nlog, 1);
	strata_arena_reset(a);
	n = bucket_files(mf, t.id, 1, 0, a, &fs);
	eo = find_file(fs, n, out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eo);
	CU_ASSERT_EQUAL(eo->removed_version, 6);
	CU_ASSERT_FALSE(eo->removed_kept_history);
	/* a second raise is logged after the first */
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, &out2, 1, 6, 0, false, NULL, &v, &e), 0);
	bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.floor, 6);
	CU_ASSERT_EQUAL_FATAL(bs.nlog, 2);
	CU_ASSERT_EQUAL(bs.log[1].commit_version, 7);
	CU_ASSERT_EQUAL(bs.log[1].boundary, 6);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

/* The floor log stays bounded: when full, the oldest raise goes and the
 * versions below its boundary become unresolvable (resolvable_from). */
static void test_floor_log_full(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "fl", 1, NULL);
	strata_err e;
	enum { RAISES = STRATA_FLOOR_LOG_MAX + 4 };
	for (uint64_t i = 1; i <= RAISES; i++) {
		uint64_t v = 0;
		int rc = commit_job(mf, t.id, 1, 0, 1, NULL, 0, i, 0, false, NULL, &v, &e);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_EQUAL(v, i + 1); /* the raise to i commits at i + 1 */
	}
	strata_bucket_state bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.floor, RAISES);
	CU_ASSERT_EQUAL(bs.nlog, STRATA_FLOOR_LOG_MAX);
	CU_ASSERT_EQUAL(bs.resolvable_from, 4);
	CU_ASSERT_EQUAL(bs.log[0].boundary, 5);
	CU_ASSERT_EQUAL(bs.log[bs.nlog - 1].boundary, RAISES);
	uint64_t l = 0;
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, NULL, 0, RAISES + 1, 3, false, &l), STRATA_ERETENTION);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, NULL, 0, RAISES + 1, 4, false, &l), 0);
	CU_ASSERT_EQUAL(l, 5);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, NULL, 0, RAISES + 1, 100, false, &l), 0);
	CU_ASSERT_EQUAL(l, 101);
	CU_ASSERT_EQUAL(strata_mf_earliest_readable(&bs, NULL, 0, RAISES + 1), 4);
	strata_mf_close(mf);
}

/* Bug fix (found by the clean bench, issue 16): a forget read the whole
 * bucket's entries again for every id it forgot — 100,000 tombstones took
 * 25 s.  Now each bucket is read once per forget commit. */
static void test_forget_reads_each_bucket_once(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "fo", 2, NULL);
	strata_err e;
	enum { PER_BUCKET = 40 };
	uint64_t ids[2 * PER_BUCKET], v = 0;
	size_t n = 0;
	for (uint32_t b = 0; b < 2; b++)
		for (int i = 0; i < PER_BUCKET; i++) {
			uint64_t id, out;
			write1(mf, "fo", 2, b, &id);
			CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, b, 1, &id, 1, 0, 0, false, &out, &v,
							 &e), 0);
			ids[n++] = id; /* replaced: removed, not yet deleted */
		}
	CU_ASSERT_EQUAL_FATAL(strata_mf_commit_clean(mf, t.id, ids, n, &v, NULL, &e), 0);
	unsigned long long before = atomic_load(&strata_mf_bucket_reads);
	CU_ASSERT_EQUAL(strata_mf_forget_deleted(mf, t.id, ids, n, &e), 0);
	unsigned long long reads = atomic_load(&strata_mf_bucket_reads) - before;
	if (reads != 2)
		fprintf(stderr, "\nforgetting %zu entries of 2 buckets read a bucket %llu times\n", n,
			reads);
	CU_ASSERT_EQUAL(reads, 2);
	/* every one forgotten (no floor set holds them), the outputs stay */
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	for (uint32_t b = 0; b < 2; b++) {
		size_t nb = bucket_files(mf, t.id, 1, b, a, &fs);
		CU_ASSERT_EQUAL(nb, PER_BUCKET);
		for (size_t i = 0; i < nb; i++)
			CU_ASSERT_FALSE(fs[i].is_deleted);
	}
	strata_arena_free(a);
	strata_mf_close(mf);
}

/* A deleted file of a floor raise's set stays as a tombstone (it tells reads
 * of those versions that the set has a hole); a raise is trimmed once no
 * version of its interval can be read (hole at or below the table's log
 * start) unless a tag falls in it, and then its tombstones can be forgotten. */
static void test_floor_log_trim_tags(void)
{
	strata_mf *mf = mf_fresh();
	strata_table_def t = mk_table(mf, "ft", 1, NULL);
	strata_err e;
	uint64_t f1, f2, f3, oa, ob, v;
	write1(mf, "ft", 1, 0, &f1); /* 2 */
	write1(mf, "ft", 1, 0, &f2); /* 3 */
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, &f1, 1, 3, 0, false, &oa, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 4);
	write1(mf, "ft", 1, 0, &f3); /* 5 */
	uint64_t inb[3] = {oa, f2, f3};
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, inb, 3, 5, 0, false, &ob, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 6);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "ft", "t2", 2, &e), 0);
	/* delete and forget f1 (live in the first raise's set, J-1 = 3): it stays
	 * as a tombstone, the raise stays, version 2 has a hole */
	CU_ASSERT_EQUAL(strata_mf_commit_clean(mf, t.id, &f1, 1, &v, NULL, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_forget_deleted(mf, t.id, &f1, 1, &e), 0);
	strata_bucket_state bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.nlog, 2);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_PTR_NOT_NULL(find_file(fs, n, f1)); /* tombstone */
	/* kept with its file known gone (clean/clean.c invariant 9); the
	 * others were never marked */
	CU_ASSERT(find_file(fs, n, f1) && find_file(fs, n, f1)->is_gone);
	CU_ASSERT(find_file(fs, n, f2) && !find_file(fs, n, f2)->is_gone);
	uint64_t l = 0;
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, v, 2, false, &l), STRATA_ERETENTION);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, v, 3, false, &l), 0);
	CU_ASSERT_EQUAL(l, 5);
	/* expire the log below 3: the first raise is dead, but the tag at 2
	 * keeps it (its version stays in the log too) */
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 3, NULL, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_forget_deleted(mf, t.id, &f1, 1, &e), 0);
	bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.nlog, 2);
	/* without the tag the next forget trims the dead raise and the tombstone */
	CU_ASSERT_EQUAL(strata_mf_tag_del(mf, "ft", "t2", &e), 0);
	CU_ASSERT_EQUAL(strata_mf_forget_deleted(mf, t.id, &f1, 1, &e), 0);
	bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(bs.nlog, 1);
	CU_ASSERT_EQUAL(bs.resolvable_from, 3);
	CU_ASSERT_EQUAL(bs.floor, 5);
	strata_arena_reset(a);
	n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_PTR_NULL(find_file(fs, n, f1));
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, v, 2, false, &l), STRATA_ERETENTION);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, v, 4, false, &l), 0);
	CU_ASSERT_EQUAL(l, 5);
	CU_ASSERT_EQUAL(strata_mf_earliest_readable(&bs, fs, n, v), 3);
	CU_ASSERT_EQUAL(strata_mf_earliest_incremental(&bs), 5);
	strata_arena_free(a);
	strata_mf_close(mf);
}

/* ---- clean, forget, expire -------------------------------------------------------- */

static void test_clean_and_forget(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "cl", 1, NULL);
	strata_err e;
	uint64_t f1, f2, out = 0, v = 0;
	write1(mf, "cl", 1, 0, &f1); /* 2 */
	write1(mf, "cl", 1, 0, &f2); /* 3 */
	uint64_t in[2] = {f1, f2};
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, in, 2, 3, 0, false, &out, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 4);
	/* before clean: version 2 resolves through the pre-job file set */
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = bucket_files(mf, t.id, 1, 0, a, &fs);
	strata_bucket_state bs = bucket_state(mf, t.id, 1, 0);
	uint64_t l = 0;
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, 4, 2, false, &l), 0);
	CU_ASSERT_EQUAL(l, 3);
	CU_ASSERT_EQUAL(strata_mf_earliest_readable(&bs, fs, n, 4), 1);

	/* mark f1 deleted; a live file and an unknown id are skipped */
	uint64_t ids[3] = {f1, out, 424242};
	size_t skipped = 99;
	tu_clock_advance(5000000);
	CU_ASSERT_EQUAL(strata_mf_commit_clean(mf, t.id, ids, 3, &v, &skipped, &e), 0);
	CU_ASSERT_EQUAL(v, 5);
	CU_ASSERT_EQUAL(skipped, 2);
	strata_arena_reset(a);
	n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_EQUAL(n, 3);
	const strata_file_entry *e1 = find_file(fs, n, f1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
	CU_ASSERT_TRUE(e1->is_deleted);
	CU_ASSERT_EQUAL(e1->deleted_us, T0_US + 5000000);
	CU_ASSERT_FALSE(find_file(fs, n, out)->is_deleted);
	strata_version_rec r;
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 5, a, &r), 0);
	CU_ASSERT_EQUAL(r.kind, STRATA_V_CLEAN);
	CU_ASSERT_EQUAL(r.nremoved, 1);
	/* the old file set is incomplete now */
	bs = bucket_state(mf, t.id, 1, 0);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, 5, 2, false, &l), STRATA_ERETENTION);
	CU_ASSERT_EQUAL(strata_mf_earliest_readable(&bs, fs, n, 5), 3);
	/* cleaning it again changes nothing and makes no version */
	CU_ASSERT_EQUAL(strata_mf_commit_clean(mf, t.id, &f1, 1, &v, &skipped, &e), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(skipped, 1);
	CU_ASSERT_EQUAL(table_get(mf, "cl").version, 5);

	/* forget: only deleted entries may go, and f1 stays as a tombstone while
	 * the raise's file set (at 3) includes it */
	uint64_t fids[2] = {f1, f2};
	CU_ASSERT_EQUAL(strata_mf_forget_deleted(mf, t.id, fids, 2, &e), 0);
	strata_arena_reset(a);
	n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_PTR_NOT_NULL(find_file(fs, n, f1));
	CU_ASSERT_PTR_NOT_NULL(find_file(fs, n, f2));
	bs = bucket_state(mf, t.id, 1, 0);
	/* the file set at 3 still lacks it */
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, 5, 2, false, &l), STRATA_ERETENTION);
	CU_ASSERT_EQUAL(strata_mf_resolve(&bs, fs, n, 5, 3, false, &l), 0);
	CU_ASSERT_EQUAL(strata_mf_earliest_readable(&bs, fs, n, 5), 3);
	/* no new version */
	CU_ASSERT_EQUAL(table_get(mf, "cl").version, 5);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_expire_versions(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "ex", 2, NULL);
	strata_err e;
	uint32_t b = 0;
	uint64_t v;
	bool rep;
	/* versions 2..7, tokens on 2, 4 and 6 */
	for (int i = 2; i <= 7; i++) {
		char tok[16];
		snprintf(tok, sizeof(tok), "t%d", i);
		tu_clock_advance(1000000);
		CU_ASSERT_EQUAL(commit_files(mf, "ex", 1, "", 2, &b, 1, i % 2 ? NULL : tok, 0, &v, &rep,
					     NULL, &e),
				0);
		CU_ASSERT_EQUAL(v, (uint64_t)i);
	}
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "ex", "keep", 3, &e), 0);
	size_t expired = 99;
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 5, &expired, &e), 0);
	CU_ASSERT_EQUAL(expired, 3); /* 1, 2, 4 */
	strata_table_def now = table_get(mf, "ex");
	CU_ASSERT_EQUAL(now.log_start, 5);
	CU_ASSERT_EQUAL(now.version, 7); /* expiry makes no version */
	strata_arena *a = strata_arena_new();
	strata_version_rec r;
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 1, a, &r), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 2, a, &r), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 3, a, &r), 0); /* tagged */
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 4, a, &r), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 5, a, &r), 0);
	/* the token of an expired version is kept (write.token.retain.hours):
	 * a retry still repeats and commits nothing (it used to commit again) */
	CU_ASSERT_EQUAL(commit_files(mf, "ex", 1, "", 2, &b, 1, "t2", 0, &v, &rep, NULL, &e), 0);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(commit_files(mf, "ex", 1, "", 2, &b, 1, NULL, 0, &v, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v, 8);
	/* a kept one still repeats */
	CU_ASSERT_EQUAL(commit_files(mf, "ex", 1, "", 2, &b, 1, "t6", 0, &v, &rep, NULL, &e), 0);
	CU_ASSERT_TRUE(rep);
	CU_ASSERT_EQUAL(v, 6);
	/* below the start: nothing to do; past the latest: clamped, the current
	 * version record stays */
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 3, &expired, &e), 0);
	CU_ASSERT_EQUAL(expired, 0);
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 100, &expired, &e), 0);
	CU_ASSERT_EQUAL(expired, 3); /* 5, 6, 7 */
	now = table_get(mf, "ex");
	CU_ASSERT_EQUAL(now.log_start, 8);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 8, a, &r), 0);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 3, a, &r), 0);
	/* a commit after expiring everything still gets the next version and a
	 * later timestamp */
	int64_t ts8 = r.ts_us;
	(void)ts8;
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 8, a, &r), 0);
	ts8 = r.ts_us;
	tu_clock_advance(-10000000);
	CU_ASSERT_EQUAL(commit_files(mf, "ex", 1, "", 2, &b, 1, NULL, 0, &v, &rep, NULL, &e), 0);
	CU_ASSERT_EQUAL(v, 9);
	CU_ASSERT_EQUAL(version_rec(mf, t.id, 9, a, &r), 0);
	CU_ASSERT(r.ts_us > ts8);
	/* unknown table id */
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, 4242, 3, &expired, &e), STRATA_ENOTFOUND);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

/* AS OF a time at which an expired version was current must not resolve to
 * an older (tagged) version that happens to be kept. */
static void test_version_at_time_after_expiry(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "vat", 1, NULL);
	strata_err e;
	int64_t ts[8] = {0};
	ts[1] = T0_US;
	for (int i = 2; i <= 7; i++) {
		tu_clock_advance(1000000);
		ts[i] = T0_US + (int64_t)(i - 1) * 1000000;
		CU_ASSERT_EQUAL(write1(mf, "vat", 1, 0, NULL), (uint64_t)i);
	}
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "vat", "pin", 3, &e), 0);
	size_t expired;
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 6, &expired, &e), 0);
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	uint64_t v = 0;
	/* at the tagged version's own time: the tag, or (since the time of its
	 * expired successor is lost) not found -- never another version */
	int rc3 = strata_mf_version_at_time(snap, t.id, ts[3], &v, &e);
	CU_ASSERT(rc3 == STRATA_ENOTFOUND || (rc3 == 0 && v == 3));
	/* before everything left in the log */
	CU_ASSERT_EQUAL(strata_mf_version_at_time(snap, t.id, ts[2], &v, &e), STRATA_ENOTFOUND);
	/* at the time of version 4 (expired), version 3 was not current */
	v = 0;
	int rc = strata_mf_version_at_time(snap, t.id, ts[4] + 10, &v, &e);
	if (rc == 0)
		fprintf(stderr, "\nversion_at_time(ts of expired v4) gave %" PRIu64 "\n", v);
	CU_ASSERT_EQUAL(rc, STRATA_ENOTFOUND);
	/* the oldest kept contiguous version */
	CU_ASSERT_EQUAL(strata_mf_version_at_time(snap, t.id, ts[6], &v, &e), 0);
	CU_ASSERT_EQUAL(v, 6);
	CU_ASSERT_EQUAL(strata_mf_version_at_time(snap, t.id, ts[7] + 99999999, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 7);
	strata_mf_snap_close(snap);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_version_at_time(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def a = mk_table(mf, "ta", 1, NULL); /* v1 at T0 */
	tu_clock_advance(10);
	strata_table_def b = mk_table(mf, "tb", 1, NULL); /* v1 at T0+10 */
	tu_clock_advance(10);
	write1(mf, "ta", 1, 0, NULL); /* ta v2 at T0+20 */
	tu_clock_advance(10);
	write1(mf, "tb", 1, 0, NULL); /* tb v2 at T0+30 */
	tu_clock_advance(10);
	write1(mf, "ta", 1, 0, NULL); /* ta v3 at T0+40 */
	strata_mf_snap *snap;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	const struct {
		uint32_t table;
		int64_t ts;
		int rc;
		uint64_t v;
	} cases[] = {
		{a.id, T0_US - 1, STRATA_ENOTFOUND, 0},
		{a.id, T0_US, 0, 1},
		{a.id, T0_US + 19, 0, 1},
		{a.id, T0_US + 20, 0, 2},
		{a.id, T0_US + 39, 0, 2},
		{a.id, T0_US + 40, 0, 3},
		{a.id, INT64_MAX, 0, 3},
		{b.id, T0_US + 9, STRATA_ENOTFOUND, 0},
		{b.id, T0_US + 10, 0, 1},
		{b.id, T0_US + 29, 0, 1},
		{b.id, T0_US + 30, 0, 2},
		{b.id, INT64_MAX, 0, 2},
		{b.id + 1, INT64_MAX, STRATA_ENOTFOUND, 0},
		{a.id, INT64_MIN, STRATA_ENOTFOUND, 0},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		uint64_t v = 0;
		int rc = strata_mf_version_at_time(snap, cases[i].table, cases[i].ts, &v, &e);
		if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
			fprintf(stderr, "\nversion_at_time case %zu: rc %d v %" PRIu64 "\n", i, rc, v);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc == 0)
			CU_ASSERT_EQUAL(v, cases[i].v);
	}
	strata_mf_snap_close(snap);
	strata_mf_close(mf);
	tu_clock_real();
}

/* ---- claims, intents, tags, leases ---------------------------------------------- */

/* A job whose claim expired (its process was stopped past the claim's TTL)
 * neither renews nor commits, even when nobody took the claim meanwhile:
 * the commit's own transaction checks the expiry (issue 13: fenced
 * claims). */
static void test_claim_expired_fences_commit(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "fence", 1, NULL);
	strata_err e;
	uint64_t f1, f2;
	write1(mf, "fence", 1, 0, &f1);
	write1(mf, "fence", 1, 0, &f2);
	uint64_t job_id = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_claim_new(mf, t.id, 1, 0, "tester", 10000000, &job_id, &e), 0);
	char *paths[1] = {"data/fence/_/b0000/out.parquet"};
	strata_intent in = {.job_id = job_id, .table_id = t.id, .part_id = 1, .bucket = 0,
			    .created_us = T0_US, .npaths = 1, .paths = paths};
	snprintf(in.owner, sizeof(in.owner), "tester");
	CU_ASSERT_EQUAL_FATAL(strata_mf_intent_put(mf, &in, &e), 0);
	/* paused for 11 s: the 10 s claim expired, nobody took it */
	tu_clock_advance(11000000);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_claim_renew(mf, t.id, 1, 0, "tester", job_id, 10000000, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "expired") != NULL);
	uint64_t inputs[2] = {f1, f2}, out = 0, v = 0;
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(commit_job(mf, t.id, 1, 0, 1, inputs, 2, 0, job_id, false, &out, &v, &e),
			STRATA_ECONFLICT);
	CU_ASSERT(strstr(e.msg, "expired") != NULL);
	CU_ASSERT_EQUAL(table_get(mf, "fence").version, 3); /* nothing committed */
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = bucket_files(mf, t.id, 1, 0, a, &fs);
	CU_ASSERT_EQUAL(n, 2);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(fs[i].removed_version, 0);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_claims(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "cl", 2, NULL);
	strata_err e;
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-a:1", 11, 10000000, &e), 0);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-b:2", 22, 10000000, &e), STRATA_EBUSY);
	CU_ASSERT(strstr(e.msg, "host-a:1") != NULL);
	/* other buckets are free */
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 1, "host-b:2", 22, 10000000, &e), 0);
	/* the owner renews */
	tu_clock_advance(8000000);
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-a:1", 11, 10000000, &e), 0);
	tu_clock_advance(8000000); /* 16 s after the first claim, 8 after renewal */
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-b:2", 22, 10000000, &e), STRATA_EBUSY);
	tu_clock_advance(2000001); /* renewal expired */
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-b:2", 22, 10000000, &e), 0);
	strata_mf_snap *snap;
	strata_claim cl;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_claim_get(snap, t.id, 1, 0, &cl, &e), 0);
	CU_ASSERT_EQUAL(cl.job_id, 22);
	CU_ASSERT_STRING_EQUAL(cl.owner, "host-b:2");
	CU_ASSERT_EQUAL(cl.expires_us, T0_US + 18000001 + 10000000);
	strata_mf_snap_close(snap);
	/* releasing someone else's claim does nothing */
	CU_ASSERT_EQUAL(strata_mf_claim_release(mf, t.id, 1, 0, 11, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-a:1", 11, 10000000, &e), STRATA_EBUSY);
	CU_ASSERT_EQUAL(strata_mf_claim_release(mf, t.id, 1, 0, 22, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_claim_get(snap, t.id, 1, 0, &cl, &e), STRATA_ENOTFOUND);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL(strata_mf_claim(mf, t.id, 1, 0, "host-a:1", 11, 10000000, &e), 0);
	/* releasing a bucket nobody claimed is fine */
	CU_ASSERT_EQUAL(strata_mf_claim_release(mf, t.id, 7, 7, 11, &e), 0);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_intents(void)
{
	strata_mf *mf = mf_fresh();
	strata_err e;
	uint64_t j1, j2;
	CU_ASSERT_EQUAL(strata_mf_job_id_next(mf, &j1, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_job_id_next(mf, &j2, &e), 0);
	CU_ASSERT_EQUAL(j2, j1 + 1);
	char *p1[2] = {"/w/data/t/_/b0000/a.parquet", "/w/data/t/_/b0000/b.parquet"};
	char *p2[1] = {"/w/data/t/pt=x/b0003/c.parquet"};
	strata_intent i1 = {.job_id = j1, .table_id = 1, .part_id = 1, .bucket = 0,
			    .created_us = 123, .npaths = 2, .paths = p1};
	snprintf(i1.owner, sizeof(i1.owner), "a");
	strata_intent i2 = {.job_id = j2, .table_id = 1, .part_id = 2, .bucket = 3,
			    .created_us = 456, .npaths = 1, .paths = p2};
	snprintf(i2.owner, sizeof(i2.owner), "b");
	CU_ASSERT_EQUAL(strata_mf_intent_put(mf, &i1, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_intent_put(mf, &i2, &e), 0);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	strata_intent *ins;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_intents_list(snap, a, &ins, &n, &e), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(ins[0].job_id, j1);
	CU_ASSERT_EQUAL(ins[0].npaths, 2);
	CU_ASSERT_STRING_EQUAL(ins[0].paths[1], p1[1]);
	CU_ASSERT_STRING_EQUAL(ins[0].owner, "a");
	CU_ASSERT_EQUAL(ins[1].bucket, 3);
	CU_ASSERT_EQUAL(ins[1].created_us, 456);
	CU_ASSERT_STRING_EQUAL(ins[1].paths[0], p2[0]);
	CU_ASSERT_EQUAL(strata_mf_intent_del(mf, j1, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_intent_del(mf, j1, &e), 0); /* idempotent */
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_intents_list(snap, a, &ins, &n, &e), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(ins[0].job_id, j2);
	strata_arena_free(a);
	strata_mf_close(mf);
}

static void test_tags(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_table_def t = mk_table(mf, "tg", 1, NULL);
	strata_err e;
	uint64_t f1, f2, out, v;
	write1(mf, "tg", 1, 0, &f1); /* 2 */
	write1(mf, "tg", 1, 0, &f2); /* 3 */
	write1(mf, "tg", 1, 0, NULL); /* 4 */
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "now", 0, &e), 0); /* current = 4 */
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "old", 2, &e), 0);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "old", 3, &e), STRATA_EEXIST);
	CU_ASSERT(strstr(e.msg, "old") != NULL);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "future", 5, &e), STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "Bad-Name", 2, &e), STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "nope", "x", 2, &e), STRATA_ENOTFOUND);
	strata_mf_snap *snap;
	strata_tag tag;
	strata_arena *a = strata_arena_new();
	strata_tag *tags;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_get(snap, t.id, "now", &tag, &e), 0);
	CU_ASSERT_EQUAL(tag.version, 4);
	CU_ASSERT_EQUAL(tag.created_us, T0_US);
	CU_ASSERT_EQUAL(strata_mf_tag_get(snap, t.id, "old", &tag, &e), 0);
	CU_ASSERT_EQUAL(tag.version, 2);
	CU_ASSERT_EQUAL(strata_mf_tag_get(snap, t.id, "zzz", &tag, &e), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL(strata_mf_tags_list(snap, t.id, a, &tags, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 2);
	strata_mf_snap_close(snap);

	/* make version 2 unreadable: compact f1 f2 with boundary 3, clean and
	 * forget f1 */
	uint64_t in[2] = {f1, f2};
	CU_ASSERT_EQUAL_FATAL(commit_job(mf, t.id, 1, 0, 1, in, 2, 3, 0, false, &out, &v, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "before_clean", 2, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_commit_clean(mf, t.id, &f1, 1, &v, NULL, &e), 0);
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "too_late", 2, &e), STRATA_ERETENTION);
	CU_ASSERT(strstr(e.msg, "retention") != NULL);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "fine", 3, &e), 0);
	/* below log_start */
	size_t expired;
	CU_ASSERT_EQUAL(strata_mf_expire_versions(mf, t.id, 3, &expired, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_put(mf, "tg", "gone", 1, &e), STRATA_ERETENTION);
	/* delete */
	CU_ASSERT_EQUAL(strata_mf_tag_del(mf, "tg", "old", &e), 0);
	CU_ASSERT_EQUAL(strata_mf_tag_del(mf, "tg", "old", &e), STRATA_ENOTFOUND);
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_tags_list(snap, t.id, a, &tags, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 3); /* now, before_clean, fine */
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

static void test_leases(void)
{
	strata_mf *mf = mf_fresh();
	tu_clock_manual(T0_US);
	strata_err e;
	uint64_t l1 = 0, l2 = 0, l3 = 0;
	CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 1, 5, 10000000, &l1, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 1, 7, 20000000, &l2, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 2, 3, 20000000, &l3, &e), 0);
	CU_ASSERT(l1 && l2 && l3 && l1 != l2 && l2 != l3 && l1 != l3);
	strata_arena *a = strata_arena_new();
	strata_lease *ls;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_leases_list(mf, 1, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(ls[0].id, l1);
	CU_ASSERT_EQUAL(ls[0].version, 5);
	CU_ASSERT_EQUAL(ls[0].expires_us, T0_US + 10000000);
	CU_ASSERT_EQUAL(ls[0].pid, getpid());
	CU_ASSERT_EQUAL(ls[1].version, 7);
	/* expired leases are not listed */
	tu_clock_advance(10000000);
	CU_ASSERT_EQUAL(strata_mf_leases_list(mf, 1, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(ls[0].id, l2);
	/* release */
	strata_mf_lease_release(mf, l2);
	strata_mf_lease_release(mf, l2); /* twice is harmless */
	strata_mf_lease_release(mf, 0);
	CU_ASSERT_EQUAL(strata_mf_leases_list(mf, 1, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(strata_mf_leases_list(mf, 2, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 1);
	/* ids keep growing after releases */
	uint64_t l4 = 0;
	CU_ASSERT_EQUAL(strata_mf_lease_take(mf, 1, 9, 1000000, &l4, &e), 0);
	CU_ASSERT(l4 > l3);
	strata_arena_free(a);
	strata_mf_close(mf);
	tu_clock_real();
}

/* ---- partition names ------------------------------------------------------------ */

static void test_partition_names(void)
{
	strata_table_def t;
	memset(&t, 0, sizeof(t));
	t.nparts = 2;
	snprintf(t.part_cols[0], sizeof(t.part_cols[0]), "a");
	snprintf(t.part_cols[1], sizeof(t.part_cols[1]), "b");
	/* "a=" + 253 plain bytes is a 255-byte directory name; 84 slashes
	 * escape to 252 bytes */
	char plain253[254], plain254[255], slash84[85], slash85[86];
	memset(plain253, 'z', 253);
	plain253[253] = '\0';
	memset(plain254, 'z', 254);
	plain254[254] = '\0';
	memset(slash84, '/', 84);
	slash84[84] = '\0';
	memset(slash85, '/', 85);
	slash85[85] = '\0';
	char v256[STRATA_MAX_PART_VALUE + 1], v257[STRATA_MAX_PART_VALUE + 2];
	memset(v256, 'z', STRATA_MAX_PART_VALUE);
	v256[STRATA_MAX_PART_VALUE] = '\0';
	memset(v257, 'z', STRATA_MAX_PART_VALUE + 1);
	v257[STRATA_MAX_PART_VALUE + 1] = '\0';
	const struct {
		const char *a, *b, *want;
		int rc;
	} cases[] = {
		{"x", "y", "a=x/b=y", 0},
		{"x/y", "z", "a=x%2Fy/b=z", 0},
		{"50%", "%2F", "a=50%25/b=%252F", 0},
		{"..", ".", "a=../b=.", 0},
		{"../../etc", "x", "a=..%2F..%2Fetc/b=x", 0},
		{"caf\xc3\xa9", "\xe2\x82\xac", "a=caf%C3%A9/b=%E2%82%AC", 0},
		{"", "", "a=/b=", 0},
		{"a b=c", "UP-low_1.2", "a=a%20b%3Dc/b=UP-low_1.2", 0},
		{plain253, "q", NULL, 0},
		{"q", slash84, NULL, 0},
		{plain254, "q", NULL, STRATA_EINVAL},
		{"q", slash85, NULL, STRATA_EINVAL},
		{v256, "q", NULL, STRATA_EINVAL},
		{v257, "q", NULL, STRATA_EINVAL},
	};
	strata_arena *ar = strata_arena_new();
	strata_err e;
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		const char *vals[2] = {cases[i].a, cases[i].b};
		char name[STRATA_PART_NAME_MAX];
		strata_err_clear(&e);
		int rc = strata_partition_name(&t, vals, name, sizeof(name), &e);
		if (rc != cases[i].rc)
			fprintf(stderr, "\npartition case %zu: rc %d %s\n", i, rc, e.msg);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc) {
			CU_ASSERT(strstr(e.msg, cases[i].a == plain254 || cases[i].a == v256 ||
							cases[i].a == v257 ?
						"\"a\"" :
						"\"b\"") != NULL);
			continue;
		}
		if (cases[i].want)
			CU_ASSERT_STRING_EQUAL(name, cases[i].want);
		/* exactly one '/' separator, each directory name fits NAME_MAX */
		size_t slashes = 0;
		for (const char *p = name; *p; p++)
			slashes += *p == '/';
		CU_ASSERT_EQUAL(slashes, 1);
		CU_ASSERT(strncmp(name, "a=", 2) == 0);
		CU_ASSERT(strchr(name, '/') - name <= 255);
		CU_ASSERT(strlen(strchr(name, '/') + 1) <= 255);
		char *out[3] = {0};
		CU_ASSERT_EQUAL_FATAL(strata_partition_values(&t, name, ar, out, &e), 0);
		CU_ASSERT_STRING_EQUAL(out[0], cases[i].a);
		CU_ASSERT_STRING_EQUAL(out[1], cases[i].b);
	}
	char name[STRATA_PART_NAME_MAX];
	/* a small output buffer is a clean error, never an overflow */
	const char *vals2[2] = {"x", "y"};
	char small[6];
	CU_ASSERT_EQUAL(strata_partition_name(&t, vals2, small, sizeof(small), &e), STRATA_EINVAL);
	/* malformed names */
	const char *bad[] = {"a=x", "b=1/a=2", "a=%ZZ/b=1", "a=1/b=2/c=3", "a=%2/b=1", "x=1/b=2", ""};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad); i++) {
		char *out[3] = {0};
		int rc = strata_partition_values(&t, bad[i], ar, out, &e);
		if (rc != STRATA_EINVAL)
			fprintf(stderr, "\nmalformed partition \"%s\" accepted\n", bad[i]);
		CU_ASSERT_EQUAL(rc, STRATA_EINVAL);
	}
	/* unpartitioned: the empty name */
	strata_table_def u;
	memset(&u, 0, sizeof(u));
	CU_ASSERT_EQUAL(strata_partition_name(&u, NULL, name, sizeof(name), &e), 0);
	CU_ASSERT_STRING_EQUAL(name, "");
	CU_ASSERT_EQUAL(strata_partition_values(&u, "", ar, NULL, &e), 0);
	CU_ASSERT_EQUAL(strata_partition_values(&u, "a=1", ar, NULL, &e), STRATA_EINVAL);
	strata_arena_free(ar);
}

static void test_paths(void)
{
	strata_mf *mf = mf_fresh();
	const char *wh = strata_mf_warehouse(mf);
	char out[4096], want[4096];
	strata_bucket_dir(mf, "t", "", 7, out, sizeof(out));
	snprintf(want, sizeof(want), "%s/data/t/_/b0007", wh);
	CU_ASSERT_STRING_EQUAL(out, want);
	strata_bucket_dir(mf, "t", "pt=a", 4095, out, sizeof(out));
	snprintf(want, sizeof(want), "%s/data/t/pt=a/b4095", wh);
	CU_ASSERT_STRING_EQUAL(out, want);
	strata_file_entry f;
	memset(&f, 0, sizeof(f));
	f.bucket = 2;
	snprintf(f.name, sizeof(f.name), "w1.avro");
	strata_file_path(mf, "t", "pt=a", &f, out, sizeof(out));
	snprintf(want, sizeof(want), "%s/data/t/pt=a/b0002/w1.avro", wh);
	CU_ASSERT_STRING_EQUAL(out, want);
	strata_trash_dir(mf, "t", out, sizeof(out));
	snprintf(want, sizeof(want), "%s/data/t/.trash", wh);
	CU_ASSERT_STRING_EQUAL(out, want);
	strata_mf_close(mf);
	/* opening a missing warehouse without create says how to make one */
	strata_err e;
	strata_mf *m2 = NULL;
	char missing[4096];
	snprintf(missing, sizeof(missing), "%s/none", tu_tmpdir());
	strata_err_clear(&e);
	CU_ASSERT_EQUAL(strata_mf_open(missing, false, &m2, &e), STRATA_ENOTFOUND);
	CU_ASSERT_PTR_NULL(m2);
	CU_ASSERT(strstr(e.msg, "strata init") != NULL);
}

/* Creating a warehouse under I/O faults: it fails with the errno, leaves no
 * marker (so it does not pass for a warehouse), and a retry succeeds. */
static void test_create_faults(void)
{
	const tu_op ops[] = {TU_OP_MKDIR, TU_OP_STAT, TU_OP_OPEN, TU_OP_PWRITE, TU_OP_FSYNC,
			     TU_OP_RENAME, TU_OP_CLOSE};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ops); i++) {
		int n, failures = 0;
		for (n = 1; n < 100; n++) {
			char dir[4096], marker[4200];
			snprintf(dir, sizeof(dir), "%s/wh", tu_tmpdir());
			snprintf(marker, sizeof(marker), "%s/STRATA", dir);
			strata_mf *mf = NULL;
			strata_err e;
			strata_err_clear(&e);
			tu_fault_arm(ops[i], n, EIO, false);
			int rc = strata_mf_open(dir, true, &mf, &e);
			bool fired = tu_fault_fired();
			tu_fault_disarm();
			if (rc == 0) {
				CU_ASSERT_EQUAL(access(marker, F_OK), 0);
				strata_mf_close(mf);
				if (!fired)
					break;
				continue;
			}
			failures++;
			CU_ASSERT_TRUE(fired);
			CU_ASSERT_PTR_NULL(mf);
			CU_ASSERT(rc == -EIO || rc == STRATA_EPOISONED);
			CU_ASSERT(strstr(e.msg, dir) != NULL);
			/* no marker, no temp file beside it */
			CU_ASSERT_NOT_EQUAL(access(marker, F_OK), 0);
			CU_ASSERT_EQUAL(tu_count_files(dir, ".tmp."), tu_count_files(dir, NULL));
			CU_ASSERT_EQUAL(strata_mf_open(dir, false, &mf, &e), STRATA_ENOTFOUND);
			CU_ASSERT_EQUAL(strata_mf_open(dir, true, &mf, &e), 0);
			strata_mf_close(mf);
		}
		CU_ASSERT(n < 100);
		if (ops[i] != TU_OP_CLOSE)
			CU_ASSERT(failures > 0);
	}
}

/* ---- map growth ------------------------------------------------------------------ */

static void test_map_growth(void)
{
	setenv("STRATA_MF_MAP_BYTES", "1048576", 1);
	strata_mf *mf = mf_fresh();
	unsetenv("STRATA_MF_MAP_BYTES");
	uint64_t map0 = 0, used0 = 0;
	strata_mf_usage(mf, &map0, &used0);
	CU_ASSERT(map0 <= 2u << 20);
	strata_table_def t = mk_table(mf, "big", 64, NULL);
	strata_err e;
	enum { COMMITS = 60, PER = 64 };
	uint32_t b[PER];
	for (int i = 0; i < PER; i++)
		b[i] = (uint32_t)i;
	uint64_t ids[COMMITS][PER];
	for (int c = 0; c < COMMITS; c++) {
		uint64_t v = 0;
		int rc = commit_files(mf, "big", 1, "", 64, b, PER, NULL, 0, &v, NULL, ids[c], &e);
		if (rc)
			fprintf(stderr, "\ncommit %d: %s\n", c, e.msg);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_EQUAL(v, (uint64_t)c + 2);
	}
	uint64_t map1 = 0, used1 = 0;
	strata_mf_usage(mf, &map1, &used1);
	CU_ASSERT(map1 > map0); /* it grew */
	CU_ASSERT(used1 > map0);
	/* everything is there */
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_file_entry *fs;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_table_files(snap, t.id, a, &fs, &n, &e), 0);
	CU_ASSERT_EQUAL(n, COMMITS * PER);
	size_t found = 0;
	for (int c = 0; c < COMMITS; c++)
		for (int i = 0; i < PER; i++) {
			const strata_file_entry *f = find_file(fs, n, ids[c][i]);
			if (f && f->bucket == (uint32_t)i && f->added_version == (uint64_t)c + 2)
				found++;
		}
	CU_ASSERT_EQUAL(found, COMMITS * PER);
	strata_version_rec *vs;
	CU_ASSERT_EQUAL(strata_mf_versions_list(snap, t.id, 1, SIZE_MAX, a, &vs, &n, &e), 0);
	CU_ASSERT_EQUAL(n, COMMITS + 1);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	/* a second handle on the same warehouse adopts the grown map */
	strata_mf *mf2 = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_mf_open(strata_mf_warehouse(mf), false, &mf2, &e), 0);
	strata_table_def t2;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf2, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "big", &t2, &e), 0);
	CU_ASSERT_EQUAL(t2.version, COMMITS + 1);
	strata_mf_snap_close(snap);
	strata_mf_close(mf2);
	strata_mf_close(mf);
}

/* ---- two processes ----------------------------------------------------------------- */

/* n commits of per files each (buckets 0..per-1 of 64) with tokens who-i;
 * returns the number that failed. */
static int commit_loop(strata_mf *mf, const char *who, int n, size_t per)
{
	uint32_t b[64];
	for (size_t i = 0; i < per; i++)
		b[i] = (uint32_t)i;
	int bad = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v = 0;
		char tok[32];
		strata_err e;
		snprintf(tok, sizeof(tok), "%s-%d", who, i);
		if (commit_files(mf, "conc", 1, "", 64, b, per, tok, 0, &v, NULL, NULL, &e) != 0) {
			fprintf(stderr, "\n%s commit %d: %s\n", who, i, e.msg);
			bad++;
		}
	}
	return bad;
}

static void two_processes(size_t per, bool is_small_map)
{
	const char *dir = tu_tmpdir();
	strata_mf *mf = NULL;
	strata_err e;
	if (is_small_map)
		setenv("STRATA_MF_MAP_BYTES", "1048576", 1);
	CU_ASSERT_EQUAL_FATAL(strata_mf_open(dir, true, &mf, &e), 0);
	strata_table_def t = mk_table(mf, "conc", 64, NULL);
	strata_mf_close(mf);
	enum { N = 60 };
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		strata_mf *cmf = NULL;
		if (strata_mf_open(dir, false, &cmf, &e) != 0)
			_exit(10);
		int bad = commit_loop(cmf, "child", N, per);
		strata_mf_close(cmf);
		_exit(bad ? 11 : 0);
	}
	CU_ASSERT_EQUAL_FATAL(strata_mf_open(dir, false, &mf, &e), 0);
	unsetenv("STRATA_MF_MAP_BYTES");
	int failed = commit_loop(mf, "parent", N, per);
	int st = 0;
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(failed, 0);
	/* versions 1..2N+1, dense, unique, each write with its own file */
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	strata_version_rec *vs;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_versions_list(snap, t.id, 0, SIZE_MAX, a, &vs, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 2 * N + 1);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(vs[i].version, i + 1);
		if (i) {
			CU_ASSERT(vs[i].ts_us > vs[i - 1].ts_us);
			CU_ASSERT_EQUAL(vs[i].nadded, per);
		}
	}
	strata_file_entry *fs;
	size_t nf;
	CU_ASSERT_EQUAL(strata_mf_table_files(snap, t.id, a, &fs, &nf, &e), 0);
	CU_ASSERT_EQUAL(nf, 2 * N * per);
	/* each version added exactly per files, one per bucket */
	size_t *seen = calloc(2 * N + 2, sizeof(size_t));
	size_t bad = 0;
	for (size_t i = 0; i < nf; i++) {
		uint64_t av = fs[i].added_version;
		if (av < 2 || av > 2 * N + 1)
			bad++;
		else
			seen[av]++;
	}
	for (size_t v = 2; v <= 2 * N + 1; v++)
		bad += seen[v] != per;
	CU_ASSERT_EQUAL(bad, 0);
	free(seen);
	strata_table_def now;
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "conc", &now, &e), 0);
	CU_ASSERT_EQUAL(now.version, 2 * N + 1);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_mf_close(mf);
}

/* A manifest from before the trash sub-database opens: read-only it reads
 * no kept clean (its handle cannot create the sub-database), read-write it
 * gains it; a file entry from before trash_until_us decodes as not
 * restorable. */
static void test_old_manifest_without_trash(void)
{
	const char *wh = tu_tmpdir();
	strata_mf *mf;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_mf_open(wh, true, &mf, &e), 0);
	strata_mf_close(mf);
	/* make it old: no "trash" sub-database */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/manifest", wh);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	mdb_env_set_mapsize(env, 64ull << 20);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "trash", 0, &dbi), 0);
	CU_ASSERT_EQUAL(mdb_drop(txn, dbi, 1), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, "trash", 0, &dbi), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	/* read-only: opens, and the trash reads as empty */
	int rc = strata_mf_open_mode(wh, STRATA_MF_READ, &mf, &e);
	if (rc)
		fprintf(stderr, "\nopen read-only: %s\n", e.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_trash_unit *us = NULL;
	size_t n = 9;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(mf, &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_trash_list(snap, 1, a, &us, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	strata_mf_snap_close(snap);
	strata_mf_close(mf);
	/* read-write: the sub-database is created */
	CU_ASSERT_EQUAL_FATAL(strata_mf_open_mode(wh, STRATA_MF_WRITE, &mf, &e), 0);
	strata_mf_close(mf);
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	mdb_env_set_mapsize(env, 64ull << 20);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, "trash", 0, &dbi), 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	/* an entry without the appended field: decodes, not restorable */
	strata_file_entry f;
	memset(&f, 0, sizeof(f));
	f.id = 7;
	f.format = STRATA_FMT_AVRO;
	snprintf(f.name, sizeof(f.name), "w1.avro");
	f.is_deleted = true;
	f.deleted_us = 5;
	f.trash_until_us = 99;
	strata_buf b = {0};
	mf_file_enc(&f, &b);
	strata_file_entry g;
	MDB_val v = {.mv_size = b.len, .mv_data = b.data};
	CU_ASSERT_EQUAL(mf_file_dec(&v, a, &g), 0);
	CU_ASSERT_EQUAL(g.trash_until_us, 99);
	v.mv_size = b.len - 8;
	CU_ASSERT_EQUAL(mf_file_dec(&v, a, &g), 0);
	CU_ASSERT_EQUAL(g.trash_until_us, 0);
	CU_ASSERT_TRUE(g.is_deleted);
	CU_ASSERT_EQUAL(g.id, 7);
	strata_buf_free(&b);
	strata_arena_free(a);
}

static void test_two_processes(void)
{
	two_processes(1, false);
}

/* Both processes grow a tiny map while the other commits. */
static void test_two_processes_growing_map(void)
{
	two_processes(48, true);
}

static void register_manifest(void)
{
	CU_pSuite s = CU_add_suite("manifest", NULL, NULL);
	TU_ADD(s, test_resolve_cases);
	TU_ADD(s, test_earliest_cases);
	TU_ADD(s, test_table_create);
	TU_ADD(s, test_commit_write_entries);
	TU_ADD(s, test_commit_timestamps_monotonic);
	TU_ADD(s, test_commit_token);
	TU_ADD(s, test_commit_expect_version);
	TU_ADD(s, test_commit_schema_conflict);
	TU_ADD(s, test_commit_bucket_conflict);
	TU_ADD(s, test_commit_job);
	TU_ADD(s, test_floor_log_full);
	TU_ADD(s, test_floor_log_trim_tags);
	TU_ADD(s, test_forget_reads_each_bucket_once);
	TU_ADD(s, test_clean_and_forget);
	TU_ADD(s, test_expire_versions);
	TU_ADD(s, test_version_at_time);
	TU_ADD(s, test_version_at_time_after_expiry);
	TU_ADD(s, test_claims);
	TU_ADD(s, test_claim_expired_fences_commit);
	TU_ADD(s, test_intents);
	TU_ADD(s, test_tags);
	TU_ADD(s, test_leases);
	TU_ADD(s, test_partition_names);
	TU_ADD(s, test_paths);
	TU_ADD(s, test_create_faults);
	TU_ADD(s, test_map_growth);
	TU_ADD(s, test_old_manifest_without_trash);
	TU_ADD(s, test_two_processes);
	TU_ADD(s, test_two_processes_growing_map);
}

TU_MAIN(register_manifest)
