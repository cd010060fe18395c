/*
 * tests/util/oracle.c — see oracle.h.
 *
 * Model: keys[part][pk] holds every record of that key in version order; a
 * record stores the canonical JSON text of each column value by column id
 * (NULL: null or absent).  Canonical text comes from strata_value_to_json on
 * both sides, so the comparison is exact for every type.
 *
 * Table: pk BIGINT + kk STRING (composite key; kk = "k<pk % 3>"), data
 * columns c1.. of random types, partition column "pt" (p0, p1, ...).
 */
#include "tests/util/oracle.h"
#include "tests/util/predgen.h"
#include "tests/util/testutil.h"

#include "clean/clean.h"
#include "compact/compact.h"
#include "sort/sort.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 24
#define MAX_VERSIONS_CAP (1u << 22)

typedef struct mcol {
	uint32_t id;
	char name[32];
	strata_type type;
} mcol;

typedef struct mschema {
	uint64_t since;
	uint32_t n;
	mcol cols[MAX_COLS];
} mschema;

typedef struct mrec {
	uint64_t version;
	bool is_delete;
	char **vals; /* by column id, [0, nvals) */
	uint32_t nvals;
} mrec;

typedef struct mkey {
	mrec *r;
	size_t n, cap;
} mkey;

struct oracle {
	strata_wh *wh;
	char name[64];
	oracle_cfg cfg;
	uint64_t rng;
	mschema *schemas;
	size_t nschemas;
	mkey *keys;
	int nparts_eff;
	uint64_t version;
	int64_t *ts; /* by version */
	size_t ts_cap;
	uint64_t earliest_readable, earliest_incremental;
	uint32_t next_col_id;
	int name_counter;
	char dropped[16][32];
	int ndropped;
	uint64_t steps;
	strata_arena *arena;
	/* governance */
	uint64_t last_drop; /* history dropped on purpose up to here */
	struct {
		char name[16];
		uint64_t version;
	} tags[4];
	int ntags;
	int tag_counter;
	oracle_gov_stats gs;
};

/* ---- random ----------------------------------------------------------------------- */

uint64_t oracle_rand(oracle *o)
{
	/* splitmix64 */
	uint64_t z = (o->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The lowest level >= 1 holding a live file of the bucket, -1 if none. */
static int lowest_level(const strata_bucket_view *v)
{
	int lo = -1;
	for (size_t i = 0; i < v->nfiles; i++)
		if (v->files[i].level >= 1 && (lo < 0 || v->files[i].level < lo))
			lo = v->files[i].level;
	return lo;
}

static uint64_t rnd(oracle *o, uint64_t n)
{
	return n ? oracle_rand(o) % n : 0;
}

void oracle_cfg_default(oracle_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->nparts = 3;
	c->nkeys = 300;
	c->buckets = 2;
	c->max_txn_rows = 1000;
	c->ddl_permille = 15;
	c->check_every = 10;
	c->retain_hours = 24;
	c->inline_max_bytes = -1;
}

/* ---- model helpers ---------------------------------------------------------------- */

static const mschema *schema_at(const oracle *o, uint64_t v)
{
	const mschema *s = &o->schemas[0];
	for (size_t i = 0; i < o->nschemas; i++)
		if (o->schemas[i].since <= v)
			s = &o->schemas[i];
	return s;
}

static mkey *key_at(oracle *o, int part, int pk)
{
	return &o->keys[(size_t)part * (size_t)o->cfg.nkeys + (size_t)pk];
}

static const mrec *latest_le(const mkey *k, uint64_t v)
{
	const mrec *best = NULL;
	for (size_t i = 0; i < k->n; i++)
		if (k->r[i].version <= v)
			best = &k->r[i];
	return best;
}

static void part_name(const oracle *o, int part, char *out, size_t n)
{
	if (o->cfg.nparts == 0)
		snprintf(out, n, "%s", "");
	else
		snprintf(out, n, "p%d", part);
}

static char *value_text(oracle *o, strata_type t, const strata_value *v)
{
	strata_buf b = {0};
	strata_value_to_json(t, v, &b);
	strata_buf_putc(&b, 0);
	char *s = strata_arena_strdup(o->arena, (char *)b.data);
	strata_buf_free(&b);
	return s;
}

static char *random_value(oracle *o, strata_type t)
{
	strata_value v;
	memset(&v, 0, sizeof(v));
	uint8_t buf[64];
	switch (t) {
	case STRATA_T_LONG:
		v.v.i64 = (int64_t)oracle_rand(o) >> rnd(o, 64);
		break;
	case STRATA_T_INT:
		v.v.i32 = (int32_t)oracle_rand(o) >> rnd(o, 32);
		break;
	case STRATA_T_DOUBLE:
		v.v.f64 = rnd(o, 10) == 0 ? (double)(int64_t)rnd(o, 1000) :
					     ((double)(int64_t)oracle_rand(o)) / 1e9;
		break;
	case STRATA_T_FLOAT:
		v.v.f32 = (float)((int)rnd(o, 20000) - 10000) / 8.0f;
		break;
	case STRATA_T_BOOL:
		v.v.b = rnd(o, 2);
		break;
	case STRATA_T_TIMESTAMP:
		v.v.i64 = 1700000000000000LL + (int64_t)rnd(o, 100000000000000ull);
		break;
	case STRATA_T_DATE:
		v.v.i32 = (int32_t)rnd(o, 40000) - 20000;
		break;
	case STRATA_T_DECIMAL: /* value_text prints it at scale 0 */
		strata_dec_set(&v, (strata_i128)((int64_t)oracle_rand(o) >> rnd(o, 64)));
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES: {
		static const char *const pieces[] = {"a", "b", "Z", " ", "\"", "\\", "\n", "\xc3\xa9",
						     "\xe2\x82\xac", "x1", "\x01", ",", "|"};
		size_t len = 0, want = rnd(o, 5) == 0 ? 0 : rnd(o, 12);
		for (size_t i = 0; i < want; i++) {
			if (t == STRATA_T_BYTES) {
				buf[len++] = (uint8_t)oracle_rand(o);
			} else {
				const char *p = pieces[rnd(o, STRATA_ARRAY_LEN(pieces))];
				size_t pl = strlen(p);
				if (len + pl >= sizeof(buf))
					break;
				memcpy(buf + len, p, pl);
				len += pl;
			}
		}
		v.v.s.ptr = buf;
		v.v.s.len = (uint32_t)len;
		break;
	}
	}
	return value_text(o, t, &v);
}

static void key_push(oracle *o, mkey *k, uint64_t version, bool is_delete, char **vals,
		     uint32_t nvals)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 4;
		k->r = strata_realloc(k->r, k->cap * sizeof(mrec));
	}
	mrec *r = &k->r[k->n++];
	r->version = version;
	r->is_delete = is_delete;
	r->nvals = nvals;
	r->vals = strata_arena_alloc(o->arena, sizeof(char *) * (nvals ? nvals : 1));
	memcpy(r->vals, vals, sizeof(char *) * nvals);
}

static void ts_set(oracle *o, uint64_t v, int64_t ts)
{
	if (v >= o->ts_cap) {
		size_t cap = o->ts_cap ? o->ts_cap : 64;
		while (cap <= v)
			cap *= 2;
		o->ts = strata_realloc(o->ts, cap * sizeof(int64_t));
		memset(o->ts + o->ts_cap, 0, (cap - o->ts_cap) * sizeof(int64_t));
		o->ts_cap = cap;
	}
	o->ts[v] = ts;
}

static int read_version_ts(oracle *o, uint64_t v, int64_t *ts)
{
	strata_mf_snap *snap;
	strata_err err;
	strata_table_def t;
	strata_version_rec r;
	strata_arena *a = strata_arena_new();
	int rc = strata_mf_snap_open(strata_wh_mf(o->wh), &snap, &err);
	if (rc == 0) {
		rc = strata_mf_table_get(snap, o->name, &t, &err);
		if (rc == 0)
			rc = strata_mf_version_get(snap, t.id, v, a, &r, &err);
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	if (rc)
		return -1; /* already expired from the log (purge): time unknown */
	*ts = r.ts_us;
	return 0;
}

void oracle_note_version(oracle *o, uint64_t version)
{
	/* versions between the last one seen and this one were data-neutral
	 * commits (jobs, clean) of other threads or hooks */
	for (uint64_t v = o->version + 1; v <= version; v++) {
		int64_t ts = 0;
		if (v < o->ts_cap && o->ts[v])
			continue;
		read_version_ts(o, v, &ts);
		ts_set(o, v, ts);
	}
	if (version > o->version)
		o->version = version;
}

/* ---- creation ---------------------------------------------------------------------- */

oracle *oracle_new(strata_wh *wh, const char *name, const oracle_cfg *cfg)
{
	oracle *o = strata_calloc(1, sizeof(*o));
	o->wh = wh;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->cfg = *cfg;
	o->rng = cfg->seed * 0x2545f4914f6cdd1dull + 12345;
	o->arena = strata_arena_new();
	o->nparts_eff = cfg->nparts ? cfg->nparts : 1;
	o->keys = strata_calloc((size_t)o->nparts_eff * (size_t)cfg->nkeys, sizeof(mkey));
	o->earliest_readable = 1;
	char props[3][64];
	snprintf(props[0], sizeof(props[0]), "write.bucket.num=%d", cfg->buckets);
	snprintf(props[1], sizeof(props[1]), "acid.data.retain.hours=%d", cfg->retain_hours);
	snprintf(props[2], sizeof(props[2]), "write.inline.max-bytes=%d", cfg->inline_max_bytes);
	const char *pp[3] = {props[0], props[1], props[2]};
	strata_err err;
	tu_clock_advance(1000000);
	int rc = strata_table_create(wh, name, "pk BIGINT, kk STRING, c1 STRING, c2 DOUBLE",
				     "pk,kk", cfg->nparts ? "pt STRING" : NULL, pp,
				     cfg->inline_max_bytes >= 0 ? 3 : 2, &err);
	if (rc) {
		fprintf(stderr, "oracle: create table failed: %s\n", err.msg);
		abort();
	}
	o->nschemas = 1;
	o->schemas = strata_calloc(1, sizeof(mschema));
	mschema *s = &o->schemas[0];
	s->since = 1;
	const struct {
		const char *n;
		strata_type t;
	} init[] = {{"pk", STRATA_T_LONG}, {"kk", STRATA_T_STRING},
		    {"c1", STRATA_T_STRING}, {"c2", STRATA_T_DOUBLE}};
	for (uint32_t i = 0; i < 4; i++) {
		s->cols[i].id = i + 1;
		snprintf(s->cols[i].name, sizeof(s->cols[i].name), "%s", init[i].n);
		s->cols[i].type = init[i].t;
	}
	s->n = 4;
	o->next_col_id = 5;
	o->name_counter = 3;
	oracle_note_version(o, 1);
	return o;
}

void oracle_free(oracle *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < (size_t)o->nparts_eff * (size_t)o->cfg.nkeys; i++)
		free(o->keys[i].r);
	free(o->keys);
	free(o->schemas);
	free(o->ts);
	strata_arena_free(o->arena);
	free(o);
}

uint64_t oracle_version(const oracle *o)
{
	return o->version;
}

uint64_t oracle_steps(const oracle *o)
{
	return o->steps;
}

uint64_t oracle_seed(const oracle *o)
{
	return o->cfg.seed;
}

const char *oracle_table(const oracle *o)
{
	return o->name;
}

void oracle_set_earliest(oracle *o, uint64_t readable, uint64_t incremental)
{
	o->earliest_readable = readable;
	o->earliest_incremental = incremental;
}

/* ---- comparison ------------------------------------------------------------------------ */

typedef struct linevec {
	char **v;
	size_t n, cap;
} linevec;

static void lines_push(linevec *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = strata_realloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = strata_strdup(s);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(linevec *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int lines_compare(oracle *o, const char *what, linevec *exp, linevec *act)
{
	if (exp->n > 1) /* never qsort(NULL, 0): an empty scan is UB to UBSan */
		qsort(exp->v, exp->n, sizeof(char *), str_cmp);
	if (act->n > 1)
		qsort(act->v, act->n, sizeof(char *), str_cmp);
	size_t i = 0, j = 0;
	int shown = 0;
	while ((i < exp->n || j < act->n) && shown < 6) {
		int c = i >= exp->n ? 1 : j >= act->n ? -1 : strcmp(exp->v[i], act->v[j]);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (shown++ == 0)
			fprintf(stderr,
				"\noracle MISMATCH in %s (table %s, seed %" PRIu64 ", step %" PRIu64
				", version %" PRIu64 "): %zu expected vs %zu actual rows\n",
				what, o->name, o->cfg.seed, o->steps, o->version, exp->n, act->n);
		if (c < 0)
			fprintf(stderr, "  missing:    %s\n", exp->v[i++]);
		else
			fprintf(stderr, "  unexpected: %s\n", act->v[j++]);
	}
	return shown ? -1 : 0;
}

/* A row as "part|col=val|col=val..." under schema s (model side). */
static void model_line(const oracle *o, int part, const mschema *s, const mrec *r,
		       bool with_meta, strata_buf *b)
{
	char pn[16];
	part_name(o, part, pn, sizeof(pn));
	strata_buf_reset(b);
	strata_buf_printf(b, "%s", pn);
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t id = s->cols[i].id;
		const char *v = id < r->nvals && r->vals[id] ? r->vals[id] : "null";
		bool is_key = id <= 2;
		if (r->is_delete && !is_key)
			v = "null";
		strata_buf_printf(b, "|%s=%s", s->cols[i].name, v);
	}
	if (with_meta)
		strata_buf_printf(b, "|_seq=%" PRIu64 "|_op=%s", r->version,
				  r->is_delete ? "delete" : "upsert");
	strata_buf_putc(b, 0);
}

static void actual_line(const strata_schema *s, const strata_row *row, const char *part,
			bool with_meta, strata_buf *b)
{
	strata_buf_reset(b);
	strata_buf_printf(b, "%s", part);
	for (uint32_t i = 0; i < s->ncols; i++) {
		strata_buf_printf(b, "|%s=", s->cols[i].name);
		strata_value_to_json(s->cols[i].type, &row->vals[i], b);
	}
	if (with_meta)
		strata_buf_printf(b, "|_seq=%lld|_op=%s", (long long)row->seq,
				  row->op == STRATA_OP_DELETE ? "delete" : "upsert");
	strata_buf_putc(b, 0);
}

/* Below the earliest readable version a read may fail with the retention
 * error (never another error) or, where the file sets it needs survive,
 * return correct data; at or above it, it must return correct data. */
static void refresh_earliest(oracle *o)
{
	/* other threads may have compacted and cleaned since the last look;
	 * the values only grow, and the promise check bounds them */
	uint64_t r = 0, inc = 0;
	strata_err err;
	if (strata_table_earliest(o->wh, o->name, &r, &inc, &err) == 0) {
		if (r > o->earliest_readable)
			o->earliest_readable = r;
		if (inc > o->earliest_incremental)
			o->earliest_incremental = inc;
	}
}

static bool is_retention_ok(oracle *o, uint64_t v, int rc, const strata_err *err)
{
	if (rc != STRATA_ERETENTION || !strstr(err->msg, "outside the retention window"))
		return false;
	if (v >= o->earliest_readable)
		refresh_earliest(o);
	return v < o->earliest_readable;
}

static int expect_retention(oracle *o, const char *what, int rc, const strata_err *err)
{
	if (rc == STRATA_ERETENTION && strstr(err->msg, "outside the retention window"))
		return 0;
	fprintf(stderr,
		"\noracle: %s should fail with the retention error (table %s, seed %" PRIu64
		", step %" PRIu64 "), got rc %d: %s\n",
		what, o->name, o->cfg.seed, o->steps, rc, rc ? err->msg : "(success)");
	return -1;
}

/* Scan with ro (which means version v) and compare with the model; a
 * retention error is accepted below the earliest readable version unless
 * must_succeed (tags). */
static int scan_compare(oracle *o, const strata_read_opts *ro, uint64_t v, const char *partition,
			bool must_succeed)
{
	strata_scan *s;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_scan_open(o->wh, o->name, ro, &s, &err);
	char what[96];
	snprintf(what, sizeof(what), "scan at %s %" PRIu64 "%s%s",
		 ro->as_of_tag ? "tagged version" : "version", v, partition ? " of " : "",
		 partition ? partition : "");
	if (rc && !must_succeed && is_retention_ok(o, v, rc, &err))
		return 0;
	if (rc) {
		fprintf(stderr, "\noracle: %s failed (seed %" PRIu64 ", step %" PRIu64
				", earliest readable %" PRIu64 "): %s\n",
			what, o->cfg.seed, o->steps, o->earliest_readable, err.msg);
		return -1;
	}
	linevec act = {0}, exp = {0};
	strata_buf b = {0};
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(s, &row, &pv, &err)) == 1) {
		actual_line(strata_scan_schema(s), row, o->cfg.nparts ? pv[0] : "", false, &b);
		lines_push(&act, (char *)b.data);
	}
	strata_scan_close(s);
	if (rc < 0) {
		fprintf(stderr, "\noracle: %s failed while reading (seed %" PRIu64 "): %s\n", what,
			o->cfg.seed, err.msg);
		lines_free(&act);
		strata_buf_free(&b);
		return -1;
	}
	const mschema *ms = schema_at(o, v);
	for (int p = 0; p < o->nparts_eff; p++) {
		char pn[16];
		part_name(o, p, pn, sizeof(pn));
		if (partition && strcmp(partition + 3, pn) != 0)
			continue;
		for (int k = 0; k < o->cfg.nkeys; k++) {
			const mrec *r = latest_le(key_at(o, p, k), v);
			if (!r || r->is_delete)
				continue;
			model_line(o, p, ms, r, false, &b);
			lines_push(&exp, (char *)b.data);
		}
	}
	rc = lines_compare(o, what, &exp, &act);
	lines_free(&act);
	lines_free(&exp);
	strata_buf_free(&b);
	return rc;
}

int oracle_check_scan(oracle *o, uint64_t v, const char *partition)
{
	strata_read_opts ro = {.as_of_version = v == o->version ? 0 : v, .partition = partition};
	return scan_compare(o, &ro, v, partition, false);
}

static int check_changes(oracle *o, uint64_t v1, uint64_t v2)
{
	strata_scan *s;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_changes_open(o->wh, o->name, v1, v2, NULL, &s, &err);
	char what[96];
	snprintf(what, sizeof(what), "changes (%" PRIu64 ", %" PRIu64 "]", v1, v2);
	/* below the earliest incremental start: the retention error, or correct
	 * data where no bucket that matters has compacted past v1 */
	if (rc == STRATA_ERETENTION && v1 >= o->earliest_incremental)
		refresh_earliest(o);
	if (rc && v1 < o->earliest_incremental)
		return expect_retention(o, what, rc, &err);
	if (rc) {
		fprintf(stderr, "\noracle: %s failed (seed %" PRIu64 ", step %" PRIu64 "): %s\n", what,
			o->cfg.seed, o->steps, err.msg);
		return -1;
	}
	linevec act = {0}, exp = {0};
	strata_buf b = {0};
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(s, &row, &pv, &err)) == 1) {
		actual_line(strata_scan_schema(s), row, o->cfg.nparts ? pv[0] : "", true, &b);
		lines_push(&act, (char *)b.data);
	}
	strata_scan_close(s);
	if (rc < 0) {
		fprintf(stderr, "\noracle: %s failed while reading: %s\n", what, err.msg);
		lines_free(&act);
		strata_buf_free(&b);
		return -1;
	}
	const mschema *ms = schema_at(o, v2);
	for (int p = 0; p < o->nparts_eff; p++)
		for (int k = 0; k < o->cfg.nkeys; k++) {
			const mkey *mk = key_at(o, p, k);
			for (size_t i = 0; i < mk->n; i++) {
				if (mk->r[i].version <= v1 || mk->r[i].version > v2)
					continue;
				model_line(o, p, ms, &mk->r[i], true, &b);
				lines_push(&exp, (char *)b.data);
			}
		}
	rc = lines_compare(o, what, &exp, &act);
	lines_free(&act);
	lines_free(&exp);
	strata_buf_free(&b);
	return rc;
}

static int check_get(oracle *o, int part, int pk, uint64_t v)
{
	char pn[16];
	part_name(o, part, pn, sizeof(pn));
	json_t *key = json_pack("{s:I,s:s}", "pk", (json_int_t)pk, "kk",
				pk % 3 == 0 ? "k0" : pk % 3 == 1 ? "k1" : "k2");
	if (o->cfg.nparts)
		json_object_set_new(key, "pt", json_string(pn));
	strata_read_opts ro = {.as_of_version = v};
	strata_arena *a = strata_arena_new();
	strata_row row;
	strata_schema *s = NULL;
	strata_err err;
	strata_err_clear(&err);
	int found = strata_get_json(o->wh, o->name, key, &ro, a, &row, &s, NULL, &err);
	json_decref(key);
	int rc = 0;
	char what[96];
	snprintf(what, sizeof(what), "get %s/%d at version %" PRIu64, pn, pk, v);
	if (found < 0 && is_retention_ok(o, v, found, &err))
		goto out;
	if (found < 0) {
		fprintf(stderr, "\noracle: %s failed (seed %" PRIu64 "): %s\n", what, o->cfg.seed, err.msg);
		rc = -1;
		goto out;
	}
	const mrec *r = latest_le(key_at(o, part, pk), v);
	bool exp_found = r && !r->is_delete;
	if (exp_found != (found == 1)) {
		fprintf(stderr, "\noracle MISMATCH: %s: expected %s, got %s (seed %" PRIu64
				", step %" PRIu64 ")\n",
			what, exp_found ? "a row" : "nothing", found ? "a row" : "nothing", o->cfg.seed,
			o->steps);
		rc = -1;
		goto out;
	}
	if (exp_found) {
		strata_buf e = {0}, g = {0};
		model_line(o, part, schema_at(o, v), r, false, &e);
		actual_line(s, &row, pn, false, &g);
		if (strcmp((char *)e.data, (char *)g.data) != 0) {
			fprintf(stderr, "\noracle MISMATCH: %s (seed %" PRIu64 ", step %" PRIu64
					")\n  expected: %s\n  actual:   %s\n",
				what, o->cfg.seed, o->steps, (char *)e.data, (char *)g.data);
			rc = -1;
		}
		strata_buf_free(&e);
		strata_buf_free(&g);
	}
out:
	strata_schema_free(s);
	strata_arena_free(a);
	return rc;
}

static int check_time_travel(oracle *o, uint64_t v)
{
	if (v < 1 || v > o->version || o->ts[v] == 0 || (v < o->version && o->ts[v + 1] == 0))
		return 0; /* times of versions expired before the oracle saw them */
	int64_t lo = o->ts[v];
	/* past the newest version the oracle knows, other threads may have
	 * committed (jobs): only its own timestamp is certain */
	int64_t hi = v < o->version ? o->ts[v + 1] - 1 : lo;
	int64_t t = lo + (int64_t)rnd(o, (uint64_t)(hi - lo + 1));
	strata_read_opts ro = {.has_as_of_time = true, .as_of_time_us = t};
	uint64_t got = 0;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_read_version(o->wh, o->name, &ro, &got, &err);
	if (v < o->earliest_readable && (rc == STRATA_ERETENTION || rc == 0))
		return 0; /* outside the window: the log may no longer know it */
	if (rc || got != v) {
		fprintf(stderr,
			"\noracle MISMATCH: AS OF time %" PRId64 " should be version %" PRIu64
			", got %" PRIu64 " (rc %d %s; seed %" PRIu64 ", step %" PRIu64 ")\n",
			t, v, got, rc, rc ? err.msg : "", o->cfg.seed, o->steps);
		return -1;
	}
	return 0;
}

int oracle_check_random_reads(oracle *o, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t lo = o->earliest_readable > 1 ? o->earliest_readable - 1 : 1;
		if (rnd(o, 8) == 0)
			lo = 1; /* sometimes probe below the window */
		uint64_t v = lo + rnd(o, o->version - lo + 1);
		if (check_get(o, (int)rnd(o, (uint64_t)o->nparts_eff), (int)rnd(o, (uint64_t)o->cfg.nkeys),
			      v))
			return -1;
		if (check_time_travel(o, v))
			return -1;
		if (rnd(o, 4) == 0) {
			uint64_t a = rnd(o, o->version + 1), b = rnd(o, o->version + 1);
			if (a > b) {
				uint64_t t = a;
				a = b;
				b = t;
			}
			if (check_changes(o, a, b))
				return -1;
		}
		if (rnd(o, 4) == 0) {
			char spec[32];
			const char *p = NULL;
			if (o->cfg.nparts) {
				snprintf(spec, sizeof(spec), "pt=p%d", (int)rnd(o, (uint64_t)o->cfg.nparts));
				p = spec;
			}
			if (oracle_check_scan(o, v, p))
				return -1;
		}
	}
	return 0;
}

int oracle_check_all_versions(oracle *o)
{
	for (uint64_t v = 1; v <= o->version; v++)
		if (oracle_check_scan(o, v, NULL))
			return -1;
	return 0;
}

/* ---- workload ------------------------------------------------------------------------- */

static int step_ddl(oracle *o)
{
	mschema cur = o->schemas[o->nschemas - 1];
	uint32_t ndata = cur.n - 2;
	strata_err err;
	strata_err_clear(&err);
	uint64_t v = 0;
	int rc;
	bool is_add = ndata <= 1 || (cur.n < MAX_COLS - 1 && rnd(o, 3) != 0);
	mschema next = cur;
	if (is_add) {
		static const strata_type types[] = {STRATA_T_LONG, STRATA_T_INT, STRATA_T_DOUBLE,
						    STRATA_T_FLOAT, STRATA_T_BOOL, STRATA_T_STRING,
						    STRATA_T_BYTES, STRATA_T_TIMESTAMP};
		mcol c;
		c.type = types[rnd(o, STRATA_ARRAY_LEN(types))];
		if (o->ndropped && rnd(o, 3) == 0)
			snprintf(c.name, sizeof(c.name), "%s", o->dropped[rnd(o, (uint64_t)o->ndropped)]);
		else
			snprintf(c.name, sizeof(c.name), "c%d", o->name_counter++);
		for (uint32_t i = 0; i < cur.n; i++)
			if (strcmp(cur.cols[i].name, c.name) == 0)
				return 0; /* re-added name is live again: skip */
		char def[64];
		snprintf(def, sizeof(def), "%s %s", c.name, strata_type_name(c.type));
		rc = strata_table_add_columns(o->wh, o->name, def, &v, &err);
		c.id = o->next_col_id++;
		next.cols[next.n++] = c;
	} else {
		uint32_t victim = 2 + (uint32_t)rnd(o, ndata);
		rc = strata_table_drop_column(o->wh, o->name, cur.cols[victim].name, &v, &err);
		if (o->ndropped < 16)
			snprintf(o->dropped[o->ndropped++], sizeof(o->dropped[0]), "%s",
				 cur.cols[victim].name);
		memmove(&next.cols[victim], &next.cols[victim + 1],
			sizeof(mcol) * (next.n - victim - 1));
		next.n--;
	}
	if (rc) {
		fprintf(stderr, "\noracle: DDL failed (seed %" PRIu64 ", step %" PRIu64 "): %s\n",
			o->cfg.seed, o->steps, err.msg);
		return -1;
	}
	next.since = v;
	o->schemas = strata_realloc(o->schemas, (o->nschemas + 1) * sizeof(mschema));
	o->schemas[o->nschemas++] = next;
	oracle_note_version(o, v);
	return 0;
}

static int txn_size(oracle *o)
{
	uint64_t r = rnd(o, 100);
	int max = o->cfg.max_txn_rows;
	if (r < 70)
		return 1 + (int)rnd(o, 10 < max ? 10 : (uint64_t)max);
	if (r < 95)
		return 1 + (int)rnd(o, 100 < max ? 100 : (uint64_t)max);
	return 1 + (int)rnd(o, (uint64_t)max);
}

/* A generated transaction: JSON lines plus what each row does to the model. */
typedef struct staged {
	int part, pk;
	bool is_delete;
	char **vals;
} staged;

struct oracle_txn {
	strata_buf lines; /* JSON lines, '\n'-terminated */
	staged *st;
	int n;
	uint32_t nvals;
	char token[48];
};

oracle_txn *oracle_txn_gen(oracle *o)
{
	const mschema *s = &o->schemas[o->nschemas - 1];
	oracle_txn *t = strata_calloc(1, sizeof(*t));
	t->n = txn_size(o);
	t->st = strata_calloc((size_t)t->n, sizeof(staged));
	t->nvals = o->next_col_id;
	snprintf(t->token, sizeof(t->token), "tok-%" PRIu64 "-%" PRIu64 "-%" PRIu64, o->cfg.seed,
		 o->steps, oracle_rand(o) % 1000000);
	for (int i = 0; i < t->n; i++) {
		staged *x = &t->st[i];
		x->part = (int)rnd(o, (uint64_t)o->nparts_eff);
		x->pk = (int)rnd(o, (uint64_t)o->cfg.nkeys);
		x->is_delete = rnd(o, 100) < 15;
		x->vals = strata_arena_alloc(o->arena, sizeof(char *) * t->nvals);
		memset(x->vals, 0, sizeof(char *) * t->nvals);
		char pn[16];
		part_name(o, x->part, pn, sizeof(pn));
		const char *kk = x->pk % 3 == 0 ? "k0" : x->pk % 3 == 1 ? "k1" : "k2";
		char num[32];
		snprintf(num, sizeof(num), "%d", x->pk);
		x->vals[1] = strata_arena_strdup(o->arena, num);
		char kq[8];
		snprintf(kq, sizeof(kq), "\"%s\"", kk);
		x->vals[2] = strata_arena_strdup(o->arena, kq);
		strata_buf *line = &t->lines;
		strata_buf_printf(line, "{\"pk\":%d,\"kk\":\"%s\"", x->pk, kk);
		if (o->cfg.nparts)
			strata_buf_printf(line, ",\"pt\":\"%s\"", pn);
		if (x->is_delete) {
			strata_buf_printf(line, ",\"_op\":\"delete\"");
		} else {
			for (uint32_t c = 2; c < s->n; c++) {
				uint64_t r = rnd(o, 10);
				if (r == 0)
					continue; /* absent: null */
				if (r == 1) {
					strata_buf_printf(line, ",\"%s\":null", s->cols[c].name);
					continue;
				}
				char *v = random_value(o, s->cols[c].type);
				x->vals[s->cols[c].id] = v;
				strata_buf_printf(line, ",\"%s\":%s", s->cols[c].name, v);
			}
		}
		strata_buf_append(line, "}\n", 2);
	}
	strata_buf_putc(&t->lines, 0);
	t->lines.len--;
	return t;
}

const char *oracle_txn_lines(const oracle_txn *t)
{
	return (const char *)t->lines.data;
}

const char *oracle_txn_token(const oracle_txn *t)
{
	return t->token;
}

void oracle_txn_free(oracle_txn *t)
{
	if (!t)
		return;
	strata_buf_free(&t->lines);
	free(t->st);
	free(t);
}

void oracle_txn_apply(oracle *o, const oracle_txn *t, uint64_t v)
{
	/* the last put per key wins */
	for (int i = t->n - 1; i >= 0; i--) {
		bool seen = false;
		for (int j = i + 1; j < t->n && !seen; j++)
			seen = t->st[j].part == t->st[i].part && t->st[j].pk == t->st[i].pk;
		if (seen)
			continue;
		key_push(o, key_at(o, t->st[i].part, t->st[i].pk), v, t->st[i].is_delete,
			 t->st[i].vals, t->nvals);
	}
	oracle_note_version(o, v);
}

int oracle_txn_commit(strata_wh *wh, const char *table, const char *lines, const char *token,
		      uint64_t expect_version, uint64_t *v, bool *is_repeat, strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, table, &t, err);
	if (rc)
		return rc;
	const char *p = lines;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_error_t je;
		json_t *obj = json_loadb(p, len, 0, &je);
		if (!obj) {
			strata_txn_abort(t);
			return strata_err_set(err, STRATA_EINVAL, "bad generated line: %s", je.text);
		}
		rc = strata_txn_put_json(t, obj, err);
		json_decref(obj);
		if (rc) {
			strata_txn_abort(t);
			return rc;
		}
		p = nl ? nl + 1 : p + len;
	}
	/* the batch time: now (every retry here is seconds after its first
	 * attempt, well inside the token horizon, and found by its token) */
	strata_commit_opts co = {.token = token, .token_us = token ? strata_now_us() : 0,
				 .expect_version = expect_version};
	return strata_txn_commit(t, &co, v, is_repeat, err);
}

static int step_write(oracle *o)
{
	oracle_txn *t = oracle_txn_gen(o);
	tu_clock_advance(1 + (int64_t)rnd(o, 3000000));
	bool use_token = rnd(o, 20) == 0;
	bool use_expect = rnd(o, 20) == 0;
	uint64_t v;
	bool is_repeat;
	strata_err err;
	strata_err_clear(&err);
	int rc = oracle_txn_commit(o->wh, o->name, oracle_txn_lines(t), use_token ? t->token : NULL,
				   use_expect ? o->version : 0, &v, &is_repeat, &err);
	if (rc || is_repeat || v <= o->version) {
		fprintf(stderr,
			"\noracle: commit failed (seed %" PRIu64 ", step %" PRIu64 "): rc %d v %" PRIu64
			" repeat %d: %s\n",
			o->cfg.seed, o->steps, rc, v, is_repeat, err.msg);
		oracle_txn_free(t);
		return -1;
	}
	oracle_txn_apply(o, t, v);
	if (use_token) {
		/* a retry with the same token commits nothing */
		uint64_t v2;
		rc = oracle_txn_commit(o->wh, o->name, "{\"pk\":0,\"kk\":\"k0\",\"pt\":\"p0\"}",
				       t->token, 0, &v2, &is_repeat, &err);
		if (o->cfg.nparts == 0)
			rc = oracle_txn_commit(o->wh, o->name, "{\"pk\":0,\"kk\":\"k0\"}", t->token, 0,
					       &v2, &is_repeat, &err);
		if (rc || !is_repeat || v2 != v) {
			fprintf(stderr, "\noracle: token retry should return %" PRIu64
					" without committing (got rc %d v %" PRIu64 " repeat %d)\n",
				v, rc, v2, is_repeat);
			oracle_txn_free(t);
			return -1;
		}
	}
	if (use_expect && rnd(o, 2) == 0) {
		/* a stale expected version conflicts and commits nothing */
		uint64_t v3;
		const char *line = o->cfg.nparts ? "{\"pk\":1,\"kk\":\"k1\",\"pt\":\"p0\"}" :
						   "{\"pk\":1,\"kk\":\"k1\"}";
		rc = oracle_txn_commit(o->wh, o->name, line, NULL, v - 1, &v3, &is_repeat, &err);
		if (rc != STRATA_ECONFLICT) {
			fprintf(stderr, "\noracle: stale --expect-version should conflict (rc %d)\n", rc);
			oracle_txn_free(t);
			return -1;
		}
	}
	oracle_txn_free(t);
	return 0;
}


/* ---- lifecycle: rollback and partition drops ------------------------------------------- */

static const char *mval(const mrec *r, uint32_t id)
{
	return id < r->nvals && r->vals[id] ? r->vals[id] : "null";
}

static bool mvisible(const mrec *r)
{
	return r && !r->is_delete;
}

/* The current table version as the manifest says it (for "nothing was
 * committed" checks). */
static uint64_t table_version(oracle *o);

/* A rollback to a random readable version (or a tag) below the latest: the
 * model gets, at the new version R, V's row for every key whose row at L
 * differs under V's schema (or is missing), a delete for every key visible
 * at L but not at V, and V's schema — exactly what table/lifecycle.c
 * writes, so `changes` across R is checked too.  V's row is what a read at
 * V shows: the values of V's columns only, never those a pre-drop write
 * still holds for a column dropped before V. */
static int step_rollback(oracle *o)
{
	uint64_t l = o->version;
	uint64_t lo = o->earliest_readable > 1 ? o->earliest_readable : 1;
	if (l <= lo)
		return 0;
	uint64_t v = lo + rnd(o, l - lo);
	const char *tag = NULL;
	if (o->ntags && rnd(o, 4) == 0) {
		int i = (int)rnd(o, (uint64_t)o->ntags);
		if (o->tags[i].version < l) {
			tag = o->tags[i].name;
			v = o->tags[i].version;
		}
	}
	tu_clock_advance(1 + (int64_t)rnd(o, 3000000));
	strata_err err;
	strata_err_clear(&err);
	uint64_t r = 0;
	strata_rollback_stats st;
	int rc = strata_table_rollback(o->wh, o->name, tag ? 0 : v, tag, &r, &st, &err);
	if (rc && !tag && is_retention_ok(o, v, rc, &err)) {
		if (table_version(o) != l) {
			fprintf(stderr, "\noracle: a refused rollback committed (seed %" PRIu64 ")\n",
				o->cfg.seed);
			return -1;
		}
		return 0;
	}
	if (rc || st.is_noop || r != l + 1) {
		fprintf(stderr, "\noracle: rollback to %" PRIu64 "%s%s failed (seed %" PRIu64
				", step %" PRIu64 "): rc %d v %" PRIu64 ": %s\n",
			v, tag ? " tag " : "", tag ? tag : "", o->cfg.seed, o->steps, rc, r,
			rc ? err.msg : "");
		return -1;
	}
	const mschema *ms_v = schema_at(o, v), *ms_l = schema_at(o, l);
	uint64_t ups = 0, dels = 0;
	for (int p = 0; p < o->nparts_eff; p++) {
		for (int k = 0; k < o->cfg.nkeys; k++) {
			mkey *mk = key_at(o, p, k);
			const mrec *rv = latest_le(mk, v), *rl = latest_le(mk, l);
			if (mvisible(rv)) {
				bool is_equal = mvisible(rl);
				for (uint32_t c = 0; is_equal && c < ms_v->n; c++) {
					const mcol *col = &ms_v->cols[c];
					bool in_l = false;
					for (uint32_t d = 0; d < ms_l->n; d++)
						in_l |= ms_l->cols[d].id == col->id &&
							ms_l->cols[d].type == col->type;
					is_equal = in_l && strcmp(mval(rv, col->id), mval(rl, col->id)) == 0;
				}
				if (!is_equal) {
					/* V's row as a read at V shows it: the columns of
					 * V's schema only.  rv may hold values of columns
					 * dropped before V (its write predates the drop);
					 * R's row file has no such column, so a later
					 * schema that brings the column id back (only
					 * another rollback can) reads null there, as for
					 * any record written while the column was gone. */
					char **vals = strata_arena_alloc(o->arena,
									 sizeof(char *) * rv->nvals);
					memset(vals, 0, sizeof(char *) * rv->nvals);
					for (uint32_t c = 0; c < ms_v->n; c++) {
						uint32_t id = ms_v->cols[c].id;
						if (id < rv->nvals)
							vals[id] = rv->vals[id];
					}
					key_push(o, mk, r, false, vals, rv->nvals);
					ups++;
				}
			} else if (mvisible(rl)) {
				char *kv[3] = {NULL, rl->vals[1], rl->vals[2]};
				key_push(o, mk, r, true, kv, 3);
				dels++;
			}
		}
	}
	if (ups != st.upserts || dels != st.deletes) {
		fprintf(stderr, "\noracle MISMATCH: rollback to %" PRIu64 " wrote %" PRIu64
				" upserts and %" PRIu64 " deletes, the model %" PRIu64 " and %" PRIu64
				" (seed %" PRIu64 ", step %" PRIu64 ")\n",
			v, st.upserts, st.deletes, ups, dels, o->cfg.seed, o->steps);
		return -1;
	}
	mschema next = *ms_v;
	next.since = r;
	o->schemas = strata_realloc(o->schemas, (o->nschemas + 1) * sizeof(mschema));
	o->schemas[o->nschemas++] = next;
	o->gs.rollbacks++;
	oracle_note_version(o, r);
	return 0;
}

/* Drop a random partition: the model deletes every visible key of it at
 * the drop's version.  Refusals must match the model (never written: not
 * found; nothing visible and no live file: no data) and commit nothing. */
static int step_drop(oracle *o)
{
	if (o->cfg.nparts == 0)
		return 0;
	int p = (int)rnd(o, (uint64_t)o->cfg.nparts);
	char spec[32];
	snprintf(spec, sizeof(spec), "pt=p%d", p);
	uint64_t l = o->version;
	bool is_ever = false;
	size_t nvis = 0;
	for (int k = 0; k < o->cfg.nkeys; k++) {
		mkey *mk = key_at(o, p, k);
		is_ever |= mk->n > 0;
		nvis += mvisible(latest_le(mk, l));
	}
	tu_clock_advance(1 + (int64_t)rnd(o, 3000000));
	strata_err err;
	strata_err_clear(&err);
	uint64_t d = 0;
	size_t nf = 0;
	int rc = strata_table_drop_partition(o->wh, o->name, spec, &d, &nf, &err);
	if (rc) {
		bool is_ok = (rc == STRATA_ENOTFOUND && !is_ever) ||
			     (rc == STRATA_EINVAL && nvis == 0 && strstr(err.msg, "holds no data"));
		if (!is_ok || table_version(o) != l) {
			fprintf(stderr, "\noracle: drop of %s failed (seed %" PRIu64 ", step %" PRIu64
					", %zu visible keys): rc %d: %s\n",
				spec, o->cfg.seed, o->steps, nvis, rc, err.msg);
			return -1;
		}
		o->gs.drops_refused++;
		return 0;
	}
	if (d != l + 1 || nf == 0) {
		fprintf(stderr, "\noracle: drop of %s committed version %" PRIu64 " (%zu files), "
				"expected %" PRIu64 " (seed %" PRIu64 ")\n",
			spec, d, nf, l + 1, o->cfg.seed);
		return -1;
	}
	for (int k = 0; k < o->cfg.nkeys; k++) {
		mkey *mk = key_at(o, p, k);
		const mrec *rl = latest_le(mk, l);
		if (!mvisible(rl))
			continue;
		char *kv[3] = {NULL, rl->vals[1], rl->vals[2]};
		key_push(o, mk, d, true, kv, 3);
	}
	o->gs.drops++;
	oracle_note_version(o, d);
	return 0;
}

/* A delete --where with a random predicate over the current schema's
 * columns and the partition column: the model picks the keys with
 * tests/util/predgen.c's evaluator over its own visible records (converted
 * to rows through the JSON input, as a writer would send them), and
 * deletes them at the new version.  A fifth are dry runs: the count, and
 * nothing committed. */
static int step_pred_delete(oracle *o)
{
	uint64_t l = o->version;
	const mschema *ms = schema_at(o, l);
	strata_err err;
	strata_err_clear(&err);
	strata_schema *s = strata_schema_new(1);
	for (uint32_t i = 0; i < ms->n; i++) {
		strata_column c = {.type = ms->cols[i].type, .id = ms->cols[i].id,
				   .is_nullable = ms->cols[i].id > 2,
				   .key_pos = ms->cols[i].id <= 2 ? (int)ms->cols[i].id - 1 : -1};
		snprintf(c.name, sizeof(c.name), "%s", ms->cols[i].name);
		strata_schema_add(s, &c, NULL);
	}
	strata_table_def def;
	memset(&def, 0, sizeof(def));
	if (o->cfg.nparts) {
		def.nparts = 1;
		snprintf(def.part_cols[0], sizeof(def.part_cols[0]), "pt");
	}
	size_t cap = (size_t)o->nparts_eff * (size_t)o->cfg.nkeys, n = 0;
	strata_row *rows = strata_calloc(cap + 1, sizeof(strata_row));
	const char *const **pvs = strata_calloc(cap + 1, sizeof(*pvs));
	mkey **keys = strata_calloc(cap + 1, sizeof(mkey *));
	const mrec **recs = strata_calloc(cap + 1, sizeof(mrec *));
	strata_arena *a = strata_arena_new();
	int rc = 0;
	for (int p = 0; p < o->nparts_eff && rc == 0; p++) {
		const char **pv = strata_arena_alloc(a, 2 * sizeof(char *));
		char pn[16];
		part_name(o, p, pn, sizeof(pn));
		pv[0] = o->cfg.nparts ? strata_arena_strdup(a, pn) : NULL;
		pv[1] = NULL;
		for (int k = 0; k < o->cfg.nkeys && rc == 0; k++) {
			mkey *mk = key_at(o, p, k);
			const mrec *r = latest_le(mk, l);
			if (!mvisible(r))
				continue;
			strata_buf b = {0};
			strata_buf_putc(&b, '{');
			for (uint32_t i = 0; i < ms->n; i++)
				strata_buf_printf(&b, "%s\"%s\":%s", i ? "," : "", ms->cols[i].name,
						  mval(r, ms->cols[i].id));
			strata_buf_putc(&b, '}');
			json_t *obj = json_loadb((const char *)b.data, b.len, 0, NULL);
			strata_buf_free(&b);
			rc = obj ? strata_row_from_json(s, obj, a, &rows[n], &err) : -1;
			json_decref(obj);
			pvs[n] = (const char *const *)pv;
			keys[n] = mk;
			recs[n++] = r;
		}
	}
	pg_node *pred = NULL;
	strata_buf text = {0};
	if (rc) {
		fprintf(stderr, "\noracle: model row does not convert: %s\n", err.msg);
		goto out;
	}
	if (n == 0)
		goto out;
	pg_ctx c = {.rng = oracle_rand(o), .s = s, .def = o->cfg.nparts ? &def : NULL,
		    .rows = rows, .pvs = pvs, .nrows = n, .a = a};
	pred = pg_gen(&c, 2);
	pg_text(pred, &text);
	strata_buf_putc(&text, 0);
	bool *is_hit = strata_calloc(n + 1, sizeof(bool));
	uint64_t hits = 0;
	for (size_t i = 0; i < n; i++)
		hits += is_hit[i] = pg_match(pred, &rows[i], pvs[i]);
	bool is_dry = rnd(o, 5) == 0;
	tu_clock_advance(1 + (int64_t)rnd(o, 3000000));
	strata_delete_stats st;
	rc = strata_table_delete_where(o->wh, o->name, (const char *)text.data, NULL, is_dry, NULL,
				       &st, &err);
	bool is_committed = !is_dry && hits > 0;
	if (rc || st.deleted != hits || st.scan_version != l ||
	    (is_committed ? st.version != l + 1 : table_version(o) != l)) {
		fprintf(stderr, "\noracle MISMATCH: delete%s --where %s (seed %" PRIu64 ", step %" PRIu64
				"): rc %d (%s), %" PRIu64 " keys deleted at version %" PRIu64
				", the model %" PRIu64 " at %" PRIu64 "\n",
			is_dry ? " --dry-run" : "", (const char *)text.data, o->cfg.seed, o->steps, rc,
			rc ? err.msg : "", st.deleted, st.version, hits, is_committed ? l + 1 : l);
		rc = -1;
		free(is_hit);
		goto out;
	}
	o->gs.pdeletes++;
	o->gs.pdelete_dry_runs += is_dry;
	if (is_committed) {
		for (size_t i = 0; i < n; i++) {
			if (!is_hit[i])
				continue;
			char *kv[3] = {NULL, recs[i]->vals[1], recs[i]->vals[2]};
			key_push(o, keys[i], st.version, true, kv, 3);
		}
		o->gs.pdeleted_keys += hits;
		oracle_note_version(o, st.version);
	}
	free(is_hit);
out:
	pg_free(pred);
	strata_buf_free(&text);
	free(rows);
	free(pvs);
	free(keys);
	free(recs);
	strata_arena_free(a);
	strata_schema_free(s);
	return rc ? -1 : 0;
}

int oracle_step(oracle *o)
{
	o->steps++;
	int pick = (int)rnd(o, 1000), rc;
	if (pick < o->cfg.ddl_permille)
		rc = step_ddl(o);
	else if (pick < o->cfg.ddl_permille + o->cfg.rollback_permille)
		rc = step_rollback(o);
	else if (pick < o->cfg.ddl_permille + o->cfg.rollback_permille + o->cfg.drop_permille)
		rc = step_drop(o);
	else if (pick < o->cfg.ddl_permille + o->cfg.rollback_permille + o->cfg.drop_permille +
				o->cfg.pdelete_permille)
		rc = step_pred_delete(o);
	else
		rc = step_write(o);
	if (rc)
		return rc;
	/* the latest version of one partition after every step; everything now and then */
	char spec[32];
	const char *p = NULL;
	if (o->cfg.nparts && o->steps % (uint64_t)o->cfg.check_every != 0) {
		snprintf(spec, sizeof(spec), "pt=p%d", (int)rnd(o, (uint64_t)o->cfg.nparts));
		p = spec;
	}
	if (oracle_check_scan(o, o->version, p))
		return -1;
	return oracle_check_random_reads(o, 1);
}

/* ---- governance ---------------------------------------------------------------------- */

const oracle_gov_stats *oracle_gov_get_stats(const oracle *o)
{
	return &o->gs;
}

static uint64_t model_retain_boundary(const oracle *o)
{
	if (o->cfg.retain_hours == 0)
		return o->version;
	int64_t at = strata_now_us() - (int64_t)o->cfg.retain_hours * 3600 * 1000000;
	uint64_t b = 0;
	for (uint64_t v = 1; v <= o->version; v++)
		if (o->ts[v] && o->ts[v] <= at)
			b = v;
	return b;
}

typedef enum { G_SORT, G_MERGE, G_PARTIAL, G_MAJOR } gov_job;

/* Run one job kind over every bucket (major: one random bucket). */
static int gov_jobs(oracle *o, gov_job kind, bool drop_history)
{
	strata_mf_snap *snap;
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_partition *ps;
	size_t np = 0;
	int rc = strata_mf_snap_open(strata_wh_mf(o->wh), &snap, &err);
	if (rc == 0) {
		rc = strata_mf_table_get(snap, o->name, &t, &err);
		if (rc == 0)
			rc = strata_mf_partitions(snap, t.id, a, &ps, &np, &err);
		strata_mf_snap_close(snap);
	}
	if (rc) {
		fprintf(stderr, "\noracle: governance planning failed: %s\n", err.msg);
		strata_arena_free(a);
		return -1;
	}
	size_t only_p = np ? (size_t)rnd(o, np) : 0;
	uint32_t only_b = np ? (uint32_t)rnd(o, ps[only_p].buckets) : 0;
	strata_job_ctl ctl = {.owner = "oracle@test:0"};
	for (size_t p = 0; p < np && rc == 0; p++) {
		for (uint32_t b = 0; b < ps[p].buckets && rc == 0; b++) {
			if (kind == G_MAJOR && (p != only_p || b != only_b))
				continue;
			strata_bucket_view v;
			rc = strata_bucket_view_load(o->wh, o->name, ps[p].name, b, strata_now_us(), &v,
						     &err);
			if (rc)
				break;
			strata_job_plan plan;
			switch (kind) {
			case G_SORT:
				strata_sort_plan(&v, rnd(o, 2) ? 0 : 2000, &plan);
				break;
			case G_MERGE: {
				/* now and then a paired merge: the lowest level with a
				 * file and the one or two levels above it */
				int lo = rnd(o, 3) == 0 ? lowest_level(&v) : -1;
				strata_merge_plan(&v, lo, lo > 0 ? lo + 1 + (int)rnd(o, 2) : 0,
						  2 + rnd(o, 7), rnd(o, 2) ? 0 : 1500, &plan);
				break;
			}
			case G_PARTIAL:
				strata_compact_partial_plan(&v, &plan);
				break;
			case G_MAJOR:
				strata_compact_major_plan(&v, drop_history, &plan);
				break;
			}
			if (plan.ninputs == 0)
				o->gs.jobs_empty++;
			strata_job_result jr;
			rc = strata_job_execute(o->wh, &v, &plan, &ctl, &jr, &err);
			strata_bucket_view_free(&v);
		}
	}
	strata_arena_free(a);
	if (rc) {
		fprintf(stderr, "\noracle: governance job failed (seed %" PRIu64 ", step %" PRIu64
				"): %s\n",
			o->cfg.seed, o->steps, err.msg);
		return -1;
	}
	return 0;
}

static uint64_t table_version(oracle *o)
{
	strata_read_opts ro = {0};
	uint64_t v = 0;
	strata_err err;
	strata_read_version(o->wh, o->name, &ro, &v, &err);
	return v;
}

static int gov_clean(oracle *o)
{
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.grace_s = (int64_t)rnd(o, 4);
	co.trash_s = (int64_t)rnd(o, 30);
	co.orphan_age_s = 0; /* single-threaded: nothing is in flight */
	strata_clean_result r;
	strata_err err;
	strata_err_clear(&err);
	if (strata_clean_table(o->wh, o->name, &co, &r, &err)) {
		fprintf(stderr, "\noracle: clean failed (seed %" PRIu64 ", step %" PRIu64 "): %s\n",
			o->cfg.seed, o->steps, err.msg);
		return -1;
	}
	o->gs.files_deleted += r.files_deleted;
	o->gs.versions_expired += r.versions_expired;
	if (r.orphans) {
		fprintf(stderr, "\noracle: clean found %zu orphans in a single-threaded run "
				"(seed %" PRIu64 ", step %" PRIu64 ")\n",
			r.orphans, o->cfg.seed, o->steps);
		return -1;
	}
	return oracle_check_files(o);
}

static int gov_tag(oracle *o)
{
	strata_err err;
	strata_err_clear(&err);
	if (o->ntags > 0 && (o->ntags == 4 || rnd(o, 3) == 0)) {
		int i = (int)rnd(o, (uint64_t)o->ntags);
		if (strata_mf_tag_del(strata_wh_mf(o->wh), o->name, o->tags[i].name, &err)) {
			fprintf(stderr, "\noracle: tag delete failed: %s\n", err.msg);
			return -1;
		}
		o->tags[i] = o->tags[--o->ntags];
		o->gs.tags_dropped++;
		return 0;
	}
	uint64_t lo = o->earliest_readable > 1 ? o->earliest_readable : 1;
	uint64_t v = lo + rnd(o, o->version - lo + 1);
	char name[16];
	snprintf(name, sizeof(name), "t%d", o->tag_counter++);
	int rc = strata_mf_tag_put(strata_wh_mf(o->wh), o->name, name, v, &err);
	if (rc) {
		fprintf(stderr, "\noracle: tag of readable version %" PRIu64 " failed (seed %" PRIu64
				", step %" PRIu64 "): %s\n",
			v, o->cfg.seed, o->steps, err.msg);
		return -1;
	}
	snprintf(o->tags[o->ntags].name, sizeof(o->tags[0].name), "%s", name);
	o->tags[o->ntags++].version = v;
	o->gs.tags_made++;
	return 0;
}

int oracle_check_tags(oracle *o)
{
	/* a tag pins its version beyond retention: its reads must always work */
	for (int i = 0; i < o->ntags; i++) {
		strata_read_opts ro = {.as_of_tag = o->tags[i].name};
		if (scan_compare(o, &ro, o->tags[i].version, NULL, true))
			return -1;
	}
	return 0;
}

int oracle_check_promise(oracle *o)
{
	uint64_t readable = 0, inc = 0;
	strata_err err;
	strata_err_clear(&err);
	if (strata_table_earliest(o->wh, o->name, &readable, &inc, &err)) {
		fprintf(stderr, "\noracle: earliest failed: %s\n", err.msg);
		return -1;
	}
	uint64_t b = model_retain_boundary(o);
	uint64_t allowed = b > o->last_drop ? b : o->last_drop;
	if (allowed < 1)
		allowed = 1;
	if (readable > allowed) {
		fprintf(stderr,
			"\noracle PROMISE BROKEN: earliest readable version %" PRIu64
			" is inside the retention window (boundary %" PRIu64 ", history dropped on "
			"purpose up to %" PRIu64 "; seed %" PRIu64 ", step %" PRIu64 ")\n",
			readable, b, o->last_drop, o->cfg.seed, o->steps);
		return -1;
	}
	oracle_set_earliest(o, readable, inc);
	return 0;
}

int oracle_gov_step(oracle *o)
{
	o->steps++;
	uint64_t r = rnd(o, 1000);
	int rc = 0;
	if (r < 250) {
		o->gs.sorts++;
		rc = gov_jobs(o, G_SORT, false);
	} else if (r < 400) {
		o->gs.merges++;
		rc = gov_jobs(o, G_MERGE, false);
	} else if (r < 550) {
		o->gs.partials++;
		rc = gov_jobs(o, G_PARTIAL, false);
	} else if (r < 640) {
		bool drop = rnd(o, 5) == 0;
		o->gs.majors++;
		o->gs.drop_history += drop;
		rc = gov_jobs(o, G_MAJOR, drop);
		if (rc == 0 && drop)
			o->last_drop = table_version(o);
	} else if (r < 850) {
		o->gs.cleans++;
		rc = gov_clean(o);
	} else if (r < 930) {
		o->gs.clock_jumps++;
		tu_clock_advance((int64_t)(600 + rnd(o, 3 * 3600)) * 1000000);
	} else if (r < 990) {
		rc = gov_tag(o);
	} else {
		o->gs.purges++;
		strata_clean_result cr;
		strata_err err;
		strata_err_clear(&err);
		strata_job_ctl ctl = {.owner = "oracle@test:0"};
		strata_buf dropped = {0};
		rc = strata_purge_table(o->wh, o->name, &ctl, &cr, &dropped, &err);
		strata_buf_free(&dropped);
		if (rc) {
			fprintf(stderr, "\noracle: purge failed: %s\n", err.msg);
			return -1;
		}
		o->ntags = 0;
		o->last_drop = table_version(o);
	}
	if (rc)
		return rc;
	oracle_note_version(o, table_version(o));
	if (oracle_check_promise(o) || oracle_check_tags(o))
		return -1;
	if (oracle_check_scan(o, o->version, NULL))
		return -1;
	return oracle_check_random_reads(o, 2);
}

/* Counts the data files outside the trash (strata_data_list): not under
 * .trash/, and with data on object storage (where the trash is the state
 * of an entry marked deleted, its object left in place) not an object of
 * such an entry. */
typedef struct oracle_count_ctx {
	int n;
	const strata_file_entry *files;
	size_t nfiles;    /* the entries */
	bool is_remote;   /* an object of a marked entry is in the trash: not counted */
	char extra[4][300]; /* a few names on disk no undeleted entry knows, and why */
	int nextra;
} oracle_count_ctx;

static int oracle_count_file(void *ctx, const char *name, const strata_data_stat *st)
{
	oracle_count_ctx *c = ctx;
	(void)st;
	if (strncmp(name, ".trash/", 7) == 0)
		return 0;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const strata_file_entry *known = NULL;
	for (size_t i = 0; i < c->nfiles && !known; i++)
		if (strcmp(c->files[i].name, base) == 0)
			known = &c->files[i];
	if (c->is_remote && known && known->is_deleted)
		return 0;
	c->n++;
	if ((!known || known->is_deleted) && c->nextra < 4)
		snprintf(c->extra[c->nextra++], sizeof(c->extra[0]), "%s (%s)", name,
			 !known ? "known to no entry" :
			 known->is_gone ? "its entry is marked deleted and gone" :
					  "its entry is marked deleted");
	return 0;
}

int oracle_check_files(oracle *o)
{
	strata_mf_snap *snap;
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_file_entry *files;
	strata_partition *ps;
	size_t n = 0, np = 0;
	int rc = strata_mf_snap_open(strata_wh_mf(o->wh), &snap, &err);
	if (rc == 0) {
		rc = strata_mf_table_get(snap, o->name, &t, &err);
		if (rc == 0)
			rc = strata_mf_table_files(snap, t.id, a, &files, &n, &err);
		/* the bytes of every inline entry: a test's table is small */
		if (rc == 0)
			rc = strata_mf_inline_attach(snap, files, n, a, &err);
		if (rc == 0)
			rc = strata_mf_partitions(snap, t.id, a, &ps, &np, &err);
		strata_mf_snap_close(snap);
	}
	if (rc) {
		strata_arena_free(a);
		return -1;
	}
	/* every known, undeleted entry is on disk (an inline one has no file:
	 * its bytes must be its hash's) */
	int expect = 0;
	for (size_t i = 0; i < n; i++) {
		if (files[i].is_deleted)
			continue;
		if (strata_file_is_inline(&files[i])) {
			if (!files[i].has_content_hash || files[i].inline_data == NULL ||
			    strata_hash64(files[i].inline_data, files[i].inline_len) !=
				    files[i].content_hash) {
				fprintf(stderr, "\noracle: inline entry %s does not match its hash "
						"(seed %" PRIu64 ", step %" PRIu64 ")\n",
					files[i].name, o->cfg.seed, o->steps);
				strata_arena_free(a);
				return -1;
			}
			continue;
		}
		expect++;
		const char *pn = "";
		for (size_t j = 0; j < np; j++)
			if (ps[j].id == files[i].part_id)
				pn = ps[j].name;
		char path[4096];
		strata_file_path(strata_wh_mf(o->wh), o->name, pn, &files[i], path, sizeof(path));
		strata_data_stat st;
		if (strata_data_stat_path(path, &st, &err) != 0) {
			fprintf(stderr, "\noracle: manifest entry %s is missing on disk (seed %" PRIu64
					", step %" PRIu64 ")\n",
				path, o->cfg.seed, o->steps);
			strata_arena_free(a);
			return -1;
		}
	}
	/* and nothing else is (the trash aside) */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", strata_mf_data_dir(strata_wh_mf(o->wh)), o->name);
	oracle_count_ctx cc = {.files = files, .nfiles = n, .is_remote = strata_data_is_remote(dir)};
	if (strata_data_list(dir, oracle_count_file, &cc, &err) != 0) {
		fprintf(stderr, "\noracle: %s\n", err.msg);
		strata_arena_free(a);
		return -1;
	}
	int on_disk = cc.n; /* locally or in the object store */
	strata_arena_free(a);
	if (on_disk != expect) {
		fprintf(stderr, "\noracle: %d files on disk but the manifest knows %d (seed %" PRIu64
				", step %" PRIu64 ")\n",
			on_disk, expect, o->cfg.seed, o->steps);
		for (int i = 0; i < cc.nextra; i++)
			fprintf(stderr, "oracle:   for example %s\n", cc.extra[i]);
		return -1;
	}
	return 0;
}

/* ---- helpers for crash tests ------------------------------------------------------------ */

void oracle_set_wh(oracle *o, strata_wh *wh)
{
	o->wh = wh;
}

void oracle_note_history_dropped(oracle *o, uint64_t version)
{
	if (version > o->last_drop)
		o->last_drop = version;
}

void oracle_sync_tags(oracle *o)
{
	for (int i = 0; i < o->ntags;) {
		strata_mf_snap *snap;
		strata_err err;
		strata_table_def t;
		strata_tag tag;
		bool has = false;
		if (strata_mf_snap_open(strata_wh_mf(o->wh), &snap, &err) == 0) {
			has = strata_mf_table_get(snap, o->name, &t, &err) == 0 &&
			      strata_mf_tag_get(snap, t.id, o->tags[i].name, &tag, &err) == 0;
			strata_mf_snap_close(snap);
		}
		if (has)
			i++;
		else
			o->tags[i] = o->tags[--o->ntags];
	}
}
