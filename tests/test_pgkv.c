/*
 * tests/test_pgkv.c — the PostgreSQL side of the backend seam
 * (manifest/pg_kv.c) against a real PostgreSQL on loopback
 * (tests/util/tu_pg.h), one server for the suite, one database per test.
 *
 * Covered: every primitive and cursor operation against an in-memory model
 * over random keys (empty values, keys that are prefixes of others, 0x00
 * and 0xff bytes, several cursors moving while the transaction writes
 * under them, values lent until the transaction ends, commits and aborts);
 * a write transaction reads its own writes; a snapshot does not see a later
 * commit, a lease transaction does; two SERIALIZABLE writers of one key:
 * one is told to retry and commits nothing (and threads that retry all
 * land); counters (sequences: gaps, no reuse); the catalog's clock, once
 * per transaction; idle pooled connections the server closed are replaced,
 * a connection lost inside a transaction fails it cleanly and one lost
 * during COMMIT is uncertain; the password of the URI in no error; `init`
 * twice, an empty database, a newer catalog refused by the pool.
 *
 * Without PostgreSQL the suite prints "SKIPPED: <reason>" and exits 0.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"

#include <pthread.h>
#include <time.h>

#include <libpq-fe.h>

#include "manifest/pg_int.h"

/* ---- helpers ------------------------------------------------------------------- */

/* A fresh database name (owned by owner, NULL: postgres); its URI as user
 * (with password when not NULL) into uri. */
static void db_new(const char *name, const char *owner, const char *user, const char *password,
		   char *uri, size_t n)
{
	CU_ASSERT_FATAL(tu_pg_create_db(name, owner));
	tu_pg_uri(user ? user : "postgres", password, name, uri, n);
}

static PGconn *raw(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	CU_ASSERT_FATAL(PQstatus(c) == CONNECTION_OK);
	return c;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A fresh database with a catalog, and a pool on it. */
static mf_pg_pool *pool_new(const char *name, char *uri, size_t n)
{
	db_new(name, NULL, NULL, NULL, uri, n);
	mf_pg_pool *p = NULL;
	strata_err err = {0};
	char data[256];
	int rc = mf_pg_pool_open(uri, STRATA_MF_CREATE, "/srv/data", &p, data, sizeof(data),
				 &err);
	if (rc)
		fprintf(stderr, "pool open: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_STRING_EQUAL(data, "/srv/data");
	return p;
}

static mf_pg_tx *tx_new(mf_pg_pool *p, mf_tx_kind kind)
{
	mf_pg_tx *t = NULL;
	strata_err err = {0};
	int rc = mf_pg_tx_begin(p, kind, &t, &err);
	if (rc)
		fprintf(stderr, "begin: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	return t;
}

static int tx_end(mf_pg_tx *t)
{
	strata_err err = {0};
	int rc = mf_pg_tx_commit(t, &err);
	if (rc)
		fprintf(stderr, "commit: %s\n", err.msg);
	return rc;
}

static MDB_val sv(const char *s)
{
	MDB_val v = {.mv_size = strlen(s), .mv_data = (void *)s};
	return v;
}

static int put_s(mf_pg_tx *t, enum mf_db db, const char *k, const char *v)
{
	MDB_val key = sv(k), val = sv(v);
	return mf_pg_put(t, db, &key, &val);
}

/* The value of k as a string ("" and MDB_NOTFOUND when absent). */
static int get_s(mf_pg_tx *t, enum mf_db db, const char *k, char *out, size_t n)
{
	MDB_val key = sv(k), val;
	out[0] = '\0';
	int rc = mf_pg_get(t, db, &key, &val);
	if (rc == 0)
		snprintf(out, n, "%.*s", (int)val.mv_size, (const char *)val.mv_data);
	return rc;
}

static void last_err(strata_err *err)
{
	mf_pg_last_err(err, NULL);
}

/* ---- the model ------------------------------------------------------------------- */

#define M_KEY_MAX 4
#define M_VAL_MAX 24
#define M_MAX 400
#define M_CURS 3

typedef struct m_ent {
	uint8_t k[M_KEY_MAX], v[M_VAL_MAX];
	size_t kn, vn;
} m_ent;

typedef struct m_cur {
	bool is_set;
	uint8_t k[M_KEY_MAX];
	size_t kn;
} m_cur;

static int m_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

/* The first index whose key is >= k. */
static size_t m_lower(const m_ent *m, size_t n, const uint8_t *k, size_t kn)
{
	size_t i = 0;
	while (i < n && m_cmp(m[i].k, m[i].kn, k, kn) < 0)
		i++;
	return i;
}

static bool m_has(const m_ent *m, size_t n, size_t i, const uint8_t *k, size_t kn)
{
	return i < n && m_cmp(m[i].k, m[i].kn, k, kn) == 0;
}

static void rnd_key(unsigned *seed, uint8_t *k, size_t *kn)
{
	/* few byte values, short keys: many keys are prefixes of others */
	static const uint8_t alphabet[] = {0x00, 0x01, 0x80, 0xff};
	*kn = 1 + (size_t)(rand_r(seed) % M_KEY_MAX);
	for (size_t i = 0; i < *kn; i++)
		k[i] = alphabet[rand_r(seed) % 4];
}

/* A value lent by the backend, and what it must still hold at the end. */
typedef struct lent {
	const void *p;
	size_t n;
	uint8_t copy[M_VAL_MAX + M_KEY_MAX];
} lent;

#define LENT_MAX 4000

static void check_rec(const MDB_val *key, const MDB_val *val, const m_ent *e, lent *ls,
		      size_t *nls)
{
	CU_ASSERT_EQUAL(m_cmp(key->mv_data, key->mv_size, e->k, e->kn), 0);
	CU_ASSERT_EQUAL(val->mv_size, e->vn);
	if (val->mv_size == e->vn)
		CU_ASSERT(e->vn == 0 || memcmp(val->mv_data, e->v, e->vn) == 0);
	if (*nls < LENT_MAX && val->mv_size <= sizeof(ls[0].copy)) {
		lent *l = &ls[(*nls)++];
		l->p = val->mv_data;
		l->n = val->mv_size;
		memcpy(l->copy, val->mv_data, val->mv_size);
	}
}

static void test_model_random(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_model", uri, sizeof(uri));
	static m_ent m[M_MAX], saved[M_MAX];
	static lent ls[LENT_MAX];
	size_t n = 0, nsaved = 0, nls = 0;
	unsigned seed = 20261205;
	const enum mf_db db = DB_FILES;
	long fails = 0;

	for (int round = 0; round < 12; round++) {
		mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
		mf_pg_cur *cur[M_CURS];
		m_cur mc[M_CURS] = {0};
		for (int i = 0; i < M_CURS; i++)
			CU_ASSERT_FATAL(mf_pg_cur_open(t, db, &cur[i]) == 0);
		nls = 0;
		for (int step = 0; step < 400; step++) {
			uint8_t k[M_KEY_MAX];
			size_t kn;
			rnd_key(&seed, k, &kn);
			MDB_val key = {.mv_size = kn, .mv_data = k}, val;
			int ci = rand_r(&seed) % M_CURS;
			int what = rand_r(&seed) % 100;
			int rc;
			const m_ent *want = NULL;
			if (what < 25) { /* put */
				uint8_t v[M_VAL_MAX];
				size_t vn = (size_t)(rand_r(&seed) % 4 == 0 ? 0 : rand_r(&seed) % M_VAL_MAX);
				for (size_t i = 0; i < vn; i++)
					v[i] = (uint8_t)rand_r(&seed);
				MDB_val vv = {.mv_size = vn, .mv_data = v};
				CU_ASSERT_EQUAL(mf_pg_put(t, db, &key, &vv), 0);
				size_t i = m_lower(m, n, k, kn);
				if (!m_has(m, n, i, k, kn)) {
					memmove(&m[i + 1], &m[i], (n - i) * sizeof(m[0]));
					n++;
					memcpy(m[i].k, k, kn);
					m[i].kn = kn;
				}
				memcpy(m[i].v, v, vn);
				m[i].vn = vn;
			} else if (what < 35) { /* get */
				size_t i = m_lower(m, n, k, kn);
				rc = mf_pg_get(t, db, &key, &val);
				if (m_has(m, n, i, k, kn)) {
					CU_ASSERT_EQUAL(rc, 0);
					if (rc == 0)
						check_rec(&key, &val, &m[i], ls, &nls);
				} else {
					CU_ASSERT_EQUAL(rc, MDB_NOTFOUND);
				}
			} else if (what < 45) { /* del */
				size_t i = m_lower(m, n, k, kn);
				rc = mf_pg_del(t, db, &key);
				if (m_has(m, n, i, k, kn)) {
					CU_ASSERT_EQUAL(rc, 0);
					memmove(&m[i], &m[i + 1], (n - i - 1) * sizeof(m[0]));
					n--;
				} else {
					CU_ASSERT_EQUAL(rc, MDB_NOTFOUND);
				}
			} else if (what < 50) { /* cursor delete */
				rc = mf_pg_cur_del(cur[ci]);
				if (!mc[ci].is_set) {
					CU_ASSERT_EQUAL(rc, MF_RC_PG);
				} else {
					size_t i = m_lower(m, n, mc[ci].k, mc[ci].kn);
					if (m_has(m, n, i, mc[ci].k, mc[ci].kn)) {
						CU_ASSERT_EQUAL(rc, 0);
						memmove(&m[i], &m[i + 1], (n - i - 1) * sizeof(m[0]));
						n--;
					} else {
						CU_ASSERT_EQUAL(rc, MDB_NOTFOUND);
					}
				}
			} else { /* a cursor move */
				static const MDB_cursor_op ops[] = {MDB_FIRST, MDB_LAST, MDB_SET_RANGE,
								    MDB_NEXT, MDB_NEXT, MDB_NEXT,
								    MDB_PREV, MDB_PREV};
				MDB_cursor_op op = ops[rand_r(&seed) % STRATA_ARRAY_LEN(ops)];
				size_t i = 0;
				bool is_found = false;
				m_cur *c = &mc[ci];
				switch (op) {
				case MDB_FIRST:
					is_found = n > 0;
					i = 0;
					break;
				case MDB_LAST:
					is_found = n > 0;
					i = n - 1;
					break;
				case MDB_SET_RANGE:
					i = m_lower(m, n, k, kn);
					is_found = i < n;
					break;
				case MDB_NEXT:
					if (!c->is_set) {
						is_found = n > 0;
						i = 0;
						break;
					}
					i = m_lower(m, n, c->k, c->kn);
					if (m_has(m, n, i, c->k, c->kn))
						i++;
					is_found = i < n;
					break;
				default: /* MDB_PREV */
					if (!c->is_set) {
						is_found = n > 0;
						i = n - 1;
						break;
					}
					i = m_lower(m, n, c->k, c->kn);
					is_found = i > 0;
					i--;
					break;
				}
				MDB_val ck = key, cv;
				rc = mf_pg_cur_get(cur[ci], &ck, &cv, op);
				if (is_found) {
					want = &m[i];
					CU_ASSERT_EQUAL(rc, 0);
					if (rc == 0)
						check_rec(&ck, &cv, want, ls, &nls);
					c->is_set = true;
					memcpy(c->k, want->k, want->kn);
					c->kn = want->kn;
				} else {
					CU_ASSERT_EQUAL(rc, MDB_NOTFOUND);
				}
				if ((is_found && rc != 0) || (!is_found && rc != MDB_NOTFOUND))
					fprintf(stderr, "round %d step %d: cursor %d op %d: rc %d\n",
						round, step, ci, (int)op, rc);
			}
			if (CU_get_number_of_failures() > 0 && ++fails > 20)
				break;
		}
		/* invariant 2 of pg_kv.c: everything lent is still there */
		for (size_t i = 0; i < nls; i++)
			CU_ASSERT(ls[i].n == 0 || memcmp(ls[i].p, ls[i].copy, ls[i].n) == 0);
		/* a full scan both ways matches */
		mf_pg_cur *s;
		CU_ASSERT_FATAL(mf_pg_cur_open(t, db, &s) == 0);
		MDB_val k2, v2;
		size_t seen = 0;
		for (int rc = mf_pg_cur_get(s, &k2, &v2, MDB_FIRST); rc == 0;
		     rc = mf_pg_cur_get(s, &k2, &v2, MDB_NEXT))
			if (seen < n)
				check_rec(&k2, &v2, &m[seen++], ls, &nls);
		CU_ASSERT_EQUAL(seen, n);
		seen = 0;
		for (int rc = mf_pg_cur_get(s, &k2, &v2, MDB_LAST); rc == 0;
		     rc = mf_pg_cur_get(s, &k2, &v2, MDB_PREV))
			if (seen < n)
				check_rec(&k2, &v2, &m[n - 1 - seen++], ls, &nls);
		CU_ASSERT_EQUAL(seen, n);
		mf_pg_cur_close(s);
		for (int i = 0; i < M_CURS; i++)
			mf_pg_cur_close(cur[i]);
		if (round % 4 == 3) {
			/* abort: the committed state comes back */
			mf_pg_tx_abort(t);
			memcpy(m, saved, nsaved * sizeof(m[0]));
			n = nsaved;
		} else {
			CU_ASSERT_EQUAL_FATAL(tx_end(t), 0);
			memcpy(saved, m, n * sizeof(m[0]));
			nsaved = n;
		}
		/* a snapshot reads what was committed */
		mf_pg_tx *r = tx_new(p, MF_TX_READ);
		CU_ASSERT_FATAL(mf_pg_cur_open(r, db, &s) == 0);
		seen = 0;
		for (int rc = mf_pg_cur_get(s, &k2, &v2, MDB_NEXT); rc == 0;
		     rc = mf_pg_cur_get(s, &k2, &v2, MDB_NEXT))
			if (seen < n)
				check_rec(&k2, &v2, &m[seen++], ls, &nls);
		CU_ASSERT_EQUAL(seen, n);
		mf_pg_cur_close(s);
		CU_ASSERT_EQUAL(tx_end(r), 0);
		if (fails > 20)
			break;
	}
	/* the other tables were not touched */
	mf_pg_tx *t = tx_new(p, MF_TX_READ);
	mf_pg_cur *c;
	CU_ASSERT_FATAL(mf_pg_cur_open(t, DB_META, &c) == 0);
	MDB_val k, v;
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &k, &v, MDB_FIRST), MDB_NOTFOUND);
	mf_pg_cur_close(c);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	mf_pg_pool_close(p);
}

/* Long scans (several batches, growing) while the transaction rewrites,
 * inserts ahead of, and deletes behind the cursor. */
static void test_cursor_writes_under_a_scan(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_scanwrite", uri, sizeof(uri));
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	enum { N = 3000 };
	char k[16], v[16];
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "k%05d", i * 2);
		CU_ASSERT_EQUAL_FATAL(put_s(t, DB_VERSIONS, k, "old"), 0);
	}
	CU_ASSERT_EQUAL_FATAL(tx_end(t), 0);

	t = tx_new(p, MF_TX_WRITE);
	mf_pg_cur *c;
	CU_ASSERT_FATAL(mf_pg_cur_open(t, DB_VERSIONS, &c) == 0);
	MDB_val key, val;
	int seen = 0, rc;
	for (rc = mf_pg_cur_get(c, &key, &val, MDB_FIRST); rc == 0;
	     rc = mf_pg_cur_get(c, &key, &val, MDB_NEXT)) {
		int i = atoi((const char *)key.mv_data + 1);
		CU_ASSERT_EQUAL(i, seen * 2);
		CU_ASSERT(val.mv_size == 3 && memcmp(val.mv_data, "old", 3) == 0);
		if (i != seen * 2)
			break;
		/* rewrite the current record, insert the odd key after it (not
		 * seen by this scan's model: it is deleted again below), and
		 * delete the record before */
		snprintf(k, sizeof(k), "k%05d", i);
		CU_ASSERT_EQUAL(put_s(t, DB_VERSIONS, k, "new"), 0);
		if (seen % 3 == 0) {
			snprintf(v, sizeof(v), "k%05d", i + 1);
			CU_ASSERT_EQUAL(put_s(t, DB_VERSIONS, v, "odd"), 0);
			/* the scan now meets it next: step over and delete it */
			MDB_val k2, v2;
			CU_ASSERT_EQUAL(mf_pg_cur_get(c, &k2, &v2, MDB_NEXT), 0);
			CU_ASSERT(k2.mv_size == 6 && memcmp(k2.mv_data, v, 6) == 0);
			CU_ASSERT(v2.mv_size == 3 && memcmp(v2.mv_data, "odd", 3) == 0);
			CU_ASSERT_EQUAL(mf_pg_cur_del(c), 0);
		}
		if (i >= 2) {
			snprintf(k, sizeof(k), "k%05d", i - 2);
			MDB_val kb = sv(k);
			CU_ASSERT_EQUAL(mf_pg_del(t, DB_VERSIONS, &kb), 0);
		}
		seen++;
	}
	CU_ASSERT_EQUAL(rc, MDB_NOTFOUND);
	CU_ASSERT_EQUAL(seen, N);
	/* only the last remains, rewritten; backwards agrees */
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_LAST), 0);
	CU_ASSERT(val.mv_size == 3 && memcmp(val.mv_data, "new", 3) == 0);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_PREV), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_FIRST), 0);
	snprintf(k, sizeof(k), "k%05d", (N - 1) * 2);
	CU_ASSERT(key.mv_size == 6 && memcmp(key.mv_data, k, 6) == 0);
	/* cursor delete of the last record: NEXT then finds nothing, PREV too */
	CU_ASSERT_EQUAL(mf_pg_cur_del(c), 0);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_NEXT), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_PREV), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_FIRST), MDB_NOTFOUND);
	mf_pg_cur_close(c);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	mf_pg_pool_close(p);
}

/* ---- isolation ---------------------------------------------------------------------- */

static void test_read_your_writes_and_snapshots(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_iso", uri, sizeof(uri));
	char v[64];

	mf_pg_tx *w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(get_s(w, DB_TABLES, "a", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(put_s(w, DB_TABLES, "a", "1"), 0);
	CU_ASSERT_EQUAL(get_s(w, DB_TABLES, "a", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "1");
	/* not visible to others before the commit */
	mf_pg_tx *r0 = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r0, DB_TABLES, "a", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(tx_end(r0), 0);
	CU_ASSERT_EQUAL(tx_end(w), 0);

	/* a snapshot taken (at its first read) before a commit does not see it */
	mf_pg_tx *r = tx_new(p, MF_TX_READ);
	mf_pg_tx *l = tx_new(p, MF_TX_LEASE);
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "a", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "1");
	CU_ASSERT_EQUAL(get_s(l, DB_TABLES, "a", v, sizeof(v)), 0);
	w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w, DB_TABLES, "a", "2"), 0);
	CU_ASSERT_EQUAL(put_s(w, DB_TABLES, "b", "2"), 0);
	CU_ASSERT_EQUAL(tx_end(w), 0);
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "a", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "1");
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "b", v, sizeof(v)), MDB_NOTFOUND);
	mf_pg_cur *c;
	MDB_val key, val;
	CU_ASSERT_FATAL(mf_pg_cur_open(r, DB_TABLES, &c) == 0);
	CU_ASSERT_EQUAL(mf_pg_cur_get(c, &key, &val, MDB_LAST), 0);
	CU_ASSERT(key.mv_size == 1 && ((char *)key.mv_data)[0] == 'a');
	mf_pg_cur_close(c);
	/* a snapshot is read-only: a put (held back) fails at the next
	 * statement, which reports it */
	CU_ASSERT_EQUAL(put_s(r, DB_TABLES, "c", "x"), 0);
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "a", v, sizeof(v)), MF_RC_PG);
	strata_err err = {0};
	last_err(&err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "25006"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "put into strata.tables"));
	CU_ASSERT_FALSE(mf_pg_tx_is_retry(r));
	/* and refuses everything after a failed statement, with that failure */
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "a", v, sizeof(v)), MF_RC_PG);
	last_err(&err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "25006"));
	CU_ASSERT_NOT_EQUAL(mf_pg_tx_commit(r, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "25006"));

	/* a lease transaction reads committed: it sees the later commit */
	CU_ASSERT_EQUAL(get_s(l, DB_TABLES, "b", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "2");
	CU_ASSERT_EQUAL(put_s(l, DB_LEASES, "\x01", "lease"), 0);
	CU_ASSERT_EQUAL(tx_end(l), 0);
	r = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r, DB_LEASES, "\x01", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "lease");
	CU_ASSERT_EQUAL(tx_end(r), 0);
	/* an aborted write leaves nothing */
	w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w, DB_TABLES, "z", "gone"), 0);
	mf_pg_tx_abort(w);
	r = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r, DB_TABLES, "z", v, sizeof(v)), MDB_NOTFOUND);
	/* a transaction that ran nothing commits without a round trip */
	CU_ASSERT_EQUAL(tx_end(r), 0);
	CU_ASSERT_EQUAL(tx_end(tx_new(p, MF_TX_WRITE)), 0);
	mf_pg_pool_close(p);
}

static void test_serializable_writers_one_retries(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_serial", uri, sizeof(uri));
	char v[64];
	strata_err err = {0};
	mf_pg_tx *w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w, DB_BUCKETS, "k", "0"), 0);
	CU_ASSERT_EQUAL(tx_end(w), 0);

	/* both read k, the first writes and commits, the second's write fails */
	mf_pg_tx *a = tx_new(p, MF_TX_WRITE), *b = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(get_s(a, DB_BUCKETS, "k", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(get_s(b, DB_BUCKETS, "k", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(put_s(a, DB_BUCKETS, "k", "a"), 0);
	CU_ASSERT_EQUAL(put_s(b, DB_BUCKETS, "other", "b"), 0);
	CU_ASSERT_EQUAL(tx_end(a), 0);
	CU_ASSERT_FALSE(mf_pg_tx_is_retry(b));
	/* the put is held back: its failure comes with the next statement */
	CU_ASSERT_EQUAL(put_s(b, DB_BUCKETS, "k", "b"), 0);
	CU_ASSERT_EQUAL(get_s(b, DB_BUCKETS, "other", v, sizeof(v)), MF_RC_PG);
	CU_ASSERT_TRUE(mf_pg_tx_is_retry(b));
	CU_ASSERT_EQUAL(mf_pg_last_err(&err, "commit to bucket k"), STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "40001"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "commit to bucket k failed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));
	CU_ASSERT_EQUAL(mf_pg_tx_commit(b, &err), STRATA_ECONFLICT);
	/* nothing of b committed */
	mf_pg_tx *r = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r, DB_BUCKETS, "k", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "a");
	CU_ASSERT_EQUAL(get_s(r, DB_BUCKETS, "other", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(tx_end(r), 0);

	/* both insert a key neither saw */
	a = tx_new(p, MF_TX_WRITE);
	b = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(get_s(a, DB_BUCKETS, "new", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(get_s(b, DB_BUCKETS, "new", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(put_s(a, DB_BUCKETS, "new", "a"), 0);
	CU_ASSERT_EQUAL(tx_end(a), 0);
	/* held back, so it fails with the COMMIT it travels with */
	CU_ASSERT_EQUAL(put_s(b, DB_BUCKETS, "new", "b"), 0);
	CU_ASSERT_EQUAL(mf_pg_tx_commit(b, &err), STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "40001"));
	r = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r, DB_BUCKETS, "new", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "a");
	CU_ASSERT_EQUAL(tx_end(r), 0);

	/* write skew: each reads what the other writes; one commit fails (at
	 * its write or its COMMIT), as a conflict */
	a = tx_new(p, MF_TX_WRITE);
	b = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(get_s(a, DB_BUCKETS, "x", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(get_s(b, DB_BUCKETS, "y", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(put_s(a, DB_BUCKETS, "y", "a"), 0);
	CU_ASSERT_EQUAL(put_s(b, DB_BUCKETS, "x", "b"), 0);
	CU_ASSERT_EQUAL(tx_end(a), 0);
	int crc = mf_pg_tx_commit(b, &err);
	CU_ASSERT_EQUAL(crc, STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "40001"));
	r = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(r, DB_BUCKETS, "x", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(tx_end(r), 0);
	mf_pg_pool_close(p);
}

/* Threads each add 1 to one shared key N times, retrying a transaction
 * whole when told to: every increment lands once. */
typedef struct incr_arg {
	mf_pg_pool *p;
	int n, retries, fails;
} incr_arg;

static void *incr_thread(void *arg)
{
	incr_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		for (int attempt = 0;; attempt++) {
			mf_pg_tx *t = NULL;
			strata_err err = {0};
			if (mf_pg_tx_begin(a->p, MF_TX_WRITE, &t, &err)) {
				a->fails++;
				break;
			}
			char v[32];
			int rc = get_s(t, DB_TAGS, "n", v, sizeof(v));
			if (rc == 0) {
				char nv[32];
				snprintf(nv, sizeof(nv), "%d", atoi(v) + 1);
				rc = put_s(t, DB_TAGS, "n", nv);
			}
			if (rc) {
				bool is_retry = mf_pg_tx_is_retry(t);
				mf_pg_tx_abort(t);
				if (!is_retry) {
					a->fails++;
					break;
				}
				a->retries++;
				continue;
			}
			rc = mf_pg_tx_commit(t, &err);
			if (rc == STRATA_ECONFLICT) {
				a->retries++;
				continue;
			}
			if (rc)
				a->fails++;
			break;
		}
	}
	return NULL;
}

static void test_concurrent_writers_with_retries(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_incr", uri, sizeof(uri));
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(t, DB_TAGS, "n", "0"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	enum { THREADS = 4, EACH = 25 };
	incr_arg args[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (incr_arg){.p = p, .n = EACH};
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, incr_thread, &args[i]) == 0);
	}
	int retries = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(args[i].fails, 0);
		retries += args[i].retries;
	}
	char v[32];
	t = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(t, DB_TAGS, "n", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(atoi(v), THREADS * EACH);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	printf("(%d retries) ", retries);
	mf_pg_pool_close(p);
}

/* What each kind of transaction runs as, seen by a trigger on the server. */
static void test_transaction_settings(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_settings", uri, sizeof(uri));
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "CREATE TABLE public.seen (tbl text, iso text, ro text, sc text, "
				"idle text)"));
	CU_ASSERT(tu_pg_exec(c,
			     "CREATE FUNCTION public.seen() RETURNS trigger LANGUAGE plpgsql AS $$ "
			     "BEGIN INSERT INTO public.seen VALUES (TG_TABLE_NAME, "
			     "current_setting('transaction_isolation'), "
			     "current_setting('transaction_read_only'), "
			     "current_setting('synchronous_commit'), "
			     "current_setting('idle_in_transaction_session_timeout')); "
			     "RETURN NEW; END $$"));
	CU_ASSERT(tu_pg_exec(c, "CREATE TRIGGER seen AFTER INSERT ON strata.meta FOR EACH ROW "
				"EXECUTE FUNCTION public.seen()"));
	CU_ASSERT(tu_pg_exec(c, "CREATE TRIGGER seen AFTER INSERT ON strata.leases FOR EACH ROW "
				"EXECUTE FUNCTION public.seen()"));
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(t, DB_META, "w", "1"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	t = tx_new(p, MF_TX_LEASE);
	CU_ASSERT_EQUAL(put_s(t, DB_LEASES, "l", "1"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	PGresult *r = PQexec(c, "SELECT tbl, iso, ro, sc, idle FROM public.seen ORDER BY tbl");
	CU_ASSERT_EQUAL_FATAL(PQntuples(r), 2);
	static const char *const want[2][5] = {
		{"leases", "read committed", "off", "off", "10s"},
		{"meta", "serializable", "off", "on", "10s"},
	};
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 5; j++) {
			if (strcmp(PQgetvalue(r, i, j), want[i][j]) != 0)
				fprintf(stderr, "%s: column %d is %s, not %s\n", want[i][0], j,
					PQgetvalue(r, i, j), want[i][j]);
			CU_ASSERT_STRING_EQUAL(PQgetvalue(r, i, j), want[i][j]);
		}
	PQclear(r);
	PQfinish(c);
	mf_pg_pool_close(p);
}

/* Values of every size round-trip; puts held back past KV_PEND_BYTES go
 * out on their own, in order. */
static void test_large_values(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_large", uri, sizeof(uri));
	enum { N = 5, BIG = 700 * 1024 };
	uint8_t *big = malloc(BIG);
	CU_ASSERT_FATAL(big != NULL);
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	for (int i = 0; i < N; i++) {
		for (size_t j = 0; j < BIG; j++)
			big[j] = (uint8_t)(j * 31 + (size_t)i);
		uint8_t k = (uint8_t)i;
		MDB_val key = {.mv_size = 1, .mv_data = &k}, val = {.mv_size = BIG, .mv_data = big};
		CU_ASSERT_EQUAL(mf_pg_put(t, DB_INTENTS, &key, &val), 0);
		/* the same key again: the later value wins */
		big[0] ^= 0xff;
		CU_ASSERT_EQUAL(mf_pg_put(t, DB_INTENTS, &key, &val), 0);
	}
	CU_ASSERT_EQUAL(tx_end(t), 0);
	t = tx_new(p, MF_TX_READ);
	mf_pg_cur *c;
	CU_ASSERT_FATAL(mf_pg_cur_open(t, DB_INTENTS, &c) == 0);
	MDB_val key, val;
	int i = 0;
	for (int rc = mf_pg_cur_get(c, &key, &val, MDB_FIRST); rc == 0;
	     rc = mf_pg_cur_get(c, &key, &val, MDB_NEXT), i++) {
		for (size_t j = 0; j < BIG; j++)
			big[j] = (uint8_t)(j * 31 + (size_t)i);
		big[0] ^= 0xff;
		CU_ASSERT(key.mv_size == 1 && ((uint8_t *)key.mv_data)[0] == i);
		CU_ASSERT(val.mv_size == BIG && memcmp(val.mv_data, big, BIG) == 0);
	}
	CU_ASSERT_EQUAL(i, N);
	mf_pg_cur_close(c);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	free(big);
	mf_pg_pool_close(p);
}

/* ---- counters and the clock ---------------------------------------------------------- */

static void test_counters(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_counters", uri, sizeof(uri));
	strata_err err = {0};
	uint64_t v = 0;
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	for (uint64_t want = 1; want <= 3; want++) {
		CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_file_id", &v, &err), 0);
		CU_ASSERT_EQUAL(v, want);
	}
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_table_id", &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_job_id", &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_lease_id", &v, &err), 0);
	CU_ASSERT_EQUAL(v, 1);
	/* an unknown counter is a clear error and does not fail the transaction */
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_banana_id", &v, &err), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "next_banana_id"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));
	mf_pg_tx_abort(t);
	/* an aborted transaction's ids are not handed out again */
	t = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_file_id", &v, &err), 0);
	CU_ASSERT_EQUAL(v, 4);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	/* concurrent transactions never share an id */
	mf_pg_tx *a = tx_new(p, MF_TX_WRITE), *b = tx_new(p, MF_TX_WRITE);
	uint64_t va = 0, vb = 0;
	CU_ASSERT_EQUAL(mf_pg_counter_next(a, "next_job_id", &va, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_counter_next(b, "next_job_id", &vb, &err), 0);
	CU_ASSERT_NOT_EQUAL(va, vb);
	CU_ASSERT_EQUAL(tx_end(b), 0);
	CU_ASSERT_EQUAL(tx_end(a), 0);
	mf_pg_pool_close(p);
}

static void test_clock_is_the_catalogs_once_per_tx(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_clock", uri, sizeof(uri));
	PGconn *c = raw(uri);
	const char *now_sql = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
	long long before = tu_pg_int(c, now_sql);
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	int64_t t1 = mf_pg_clock_us(t);
	long long after = tu_pg_int(c, now_sql);
	CU_ASSERT(t1 >= before && t1 <= after);
	/* the same value for the whole transaction */
	sleep_ms(5);
	CU_ASSERT_EQUAL(mf_pg_clock_us(t), t1);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	/* the next transaction asks again */
	t = tx_new(p, MF_TX_READ);
	int64_t t2 = mf_pg_clock_us(t);
	CU_ASSERT(t2 > t1);
	CU_ASSERT(t2 <= tu_pg_int(c, now_sql));
	CU_ASSERT_EQUAL(tx_end(t), 0);
	PQfinish(c);
	mf_pg_pool_close(p);
}

/* ---- connections ----------------------------------------------------------------------- */

/* Terminate every backend of the database but c's own; wait until gone. */
static void kill_others(PGconn *c)
{
	CU_ASSERT(tu_pg_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
				"datname = current_database() AND pid <> pg_backend_pid()"));
	const char *sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = "
			  "current_database() AND pid <> pg_backend_pid()";
	for (int i = 0; i < 1000 && tu_pg_int(c, sql) != 0; i++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(tu_pg_int(c, sql), 0);
}

typedef struct commit_arg {
	mf_pg_tx *t;
	int rc;
	strata_err err;
} commit_arg;

static void *commit_thread(void *arg)
{
	commit_arg *ca = arg;
	ca->rc = mf_pg_tx_commit(ca->t, &ca->err);
	return NULL;
}

static void test_lost_connections(void)
{
	char uri[256];
	mf_pg_pool *p = pool_new("t_lost", uri, sizeof(uri));
	PGconn *c = raw(uri);
	char v[32];
	strata_err err = {0};
	/* three idle connections in the pool */
	mf_pg_tx *t[3];
	for (int i = 0; i < 3; i++) {
		t[i] = tx_new(p, MF_TX_WRITE);
		CU_ASSERT_EQUAL(get_s(t[i], DB_META, "x", v, sizeof(v)), MDB_NOTFOUND);
	}
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(tx_end(t[i]), 0);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
				     "current_database() AND pid <> pg_backend_pid()"),
			3);

	/* the server closes them all (a restart, a failover): the next
	 * transactions reconnect without an error */
	kill_others(c);
	for (int i = 0; i < 4; i++) {
		mf_pg_tx *w = tx_new(p, MF_TX_WRITE);
		CU_ASSERT_EQUAL(put_s(w, DB_META, "x", "1"), 0);
		CU_ASSERT_EQUAL(tx_end(w), 0);
	}

	/* lost inside a transaction (the put went out with the get): a clean
	 * failure, nothing committed, and the connection is not reused */
	mf_pg_tx *w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w, DB_META, "y", "1"), 0);
	CU_ASSERT_EQUAL(get_s(w, DB_META, "y", v, sizeof(v)), 0);
	kill_others(c);
	CU_ASSERT_EQUAL(put_s(w, DB_META, "z", "1"), 0);
	CU_ASSERT_EQUAL(get_s(w, DB_META, "z", v, sizeof(v)), MF_RC_PG);
	CU_ASSERT_FALSE(mf_pg_tx_is_retry(w));
	CU_ASSERT_EQUAL(mf_pg_last_err(&err, NULL), STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing was committed"));
	CU_ASSERT_EQUAL(mf_pg_tx_commit(w, &err), STRATA_EMANIFEST);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.meta WHERE k = 'y'"), 0);

	/* ended by the server before its COMMIT ran (the COMMIT went out, the
	 * server had already said it was ending the session): a clean failure */
	w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(get_s(w, DB_META, "u", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(put_s(w, DB_META, "u", "1"), 0);
	kill_others(c);
	CU_ASSERT_EQUAL(mf_pg_tx_commit(w, &err), STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing was committed"));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.meta WHERE k = 'u'"), 0);

	/* lost while COMMIT runs (a deferred trigger keeps it busy): uncertain,
	 * never a clean failure */
	CU_ASSERT(tu_pg_exec(c, "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS "
				"$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"));
	CU_ASSERT(tu_pg_exec(c, "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON strata.meta "
				"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.k = 'slow') "
				"EXECUTE FUNCTION public.slow()"));
	commit_arg ca = {.t = tx_new(p, MF_TX_WRITE)};
	CU_ASSERT_EQUAL(get_s(ca.t, DB_META, "slow", v, sizeof(v)), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(put_s(ca.t, DB_META, "slow", "1"), 0);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, commit_thread, &ca) == 0);
	const char *busy = "SELECT count(*) FROM pg_stat_activity WHERE datname = "
			   "current_database() AND wait_event = 'PgSleep'";
	for (int i = 0; i < 2000 && tu_pg_int(c, busy) != 1; i++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(tu_pg_int(c, busy), 1);
	kill_others(c);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(ca.rc, STRATA_EUNCERTAIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(ca.err.msg, "may or may not have committed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ca.err.msg, uri));
	CU_ASSERT(tu_pg_exec(c, "DROP TRIGGER slow ON strata.meta"));
	/* a transaction that has not talked to the server yet is not hurt by
	 * a lost pooled connection: its first round trip goes out again on a
	 * new one (and never with its COMMIT in it) */
	w = tx_new(p, MF_TX_READ); /* leaves an idle connection in the pool */
	CU_ASSERT_EQUAL(get_s(w, DB_META, "x", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(tx_end(w), 0);
	w = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w, DB_META, "p", "1"), 0);
	kill_others(c);
	CU_ASSERT_EQUAL(tx_end(w), 0);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.meta WHERE k = 'p'"), 1);
	/* and the pool goes on */
	w = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(w, DB_META, "x", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(tx_end(w), 0);
	PQfinish(c);
	mf_pg_pool_close(p);
}

/* A writer whose client stopped mid-transaction is ended by the server
 * (idle_in_transaction_session_timeout: the database's own setting wins
 * over pg_kv.c's default), so its row locks go. */
static void test_an_idle_writer_is_ended(void)
{
	char uri[256];
	db_new("t_idle", NULL, NULL, NULL, uri, sizeof(uri));
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "ALTER DATABASE t_idle SET idle_in_transaction_session_timeout = "
				"'300ms'"));
	mf_pg_pool *p = NULL;
	strata_err err = {0};
	char data[64];
	CU_ASSERT_FATAL(mf_pg_pool_open(uri, STRATA_MF_CREATE, "/d", &p, data, sizeof(data),
					&err) == 0);
	mf_pg_tx *w = tx_new(p, MF_TX_WRITE);
	char v[16];
	CU_ASSERT_EQUAL(put_s(w, DB_BUCKETS, "k", "stuck"), 0);
	CU_ASSERT_EQUAL(get_s(w, DB_BUCKETS, "k", v, sizeof(v)), 0);
	/* the client stops here; the server ends the transaction (bounded
	 * wait, no duration asserted) */
	const char *sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = "
			  "current_database() AND pid <> pg_backend_pid()";
	for (int i = 0; i < 2000 && tu_pg_int(c, sql) != 0; i++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(tu_pg_int(c, sql), 0);
	/* the lock is gone: another writer commits the key */
	mf_pg_tx *w2 = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(w2, DB_BUCKETS, "k", "next"), 0);
	CU_ASSERT_EQUAL(tx_end(w2), 0);
	/* and the stopped one fails cleanly when it wakes */
	CU_ASSERT_EQUAL(put_s(w, DB_BUCKETS, "j", "late"), 0);
	CU_ASSERT_EQUAL(get_s(w, DB_BUCKETS, "j", v, sizeof(v)), MF_RC_PG);
	CU_ASSERT_NOT_EQUAL(mf_pg_tx_commit(w, &err), 0);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.buckets WHERE v = 'stuck' OR "
				     "v = 'late'"),
			0);
	PQfinish(c);
	mf_pg_pool_close(p);
}

/* ---- errors and the catalog ------------------------------------------------------------- */

static void no_password(const char *msg)
{
	if (strstr(msg, TU_PG_PW_PASSWORD))
		fprintf(stderr, "message \"%s\" holds the password\n", msg);
	CU_ASSERT_PTR_NULL(strstr(msg, TU_PG_PW_PASSWORD));
}

static void test_password_never_in_errors(void)
{
	char uri[256], shown[256], data[256];
	db_new("t_pw", TU_PG_PW_USER, TU_PG_PW_USER, TU_PG_PW_PASSWORD, uri, sizeof(uri));
	tu_pg_uri(TU_PG_PW_USER, NULL, "t_pw", shown, sizeof(shown));
	strata_err err = {0};
	mf_pg_pool *p = NULL;

	/* no catalog yet */
	CU_ASSERT_EQUAL(mf_pg_pool_open(uri, STRATA_MF_WRITE, NULL, &p, data, sizeof(data), &err),
			STRATA_ENOTFOUND);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, shown));
	no_password(err.msg);
	CU_ASSERT_EQUAL_FATAL(
		mf_pg_pool_open(uri, STRATA_MF_CREATE, "/d", &p, data, sizeof(data), &err), 0);
	CU_ASSERT_STRING_EQUAL(mf_pg_pool_uri_safe(p), shown);

	/* a server error inside a transaction (a table gone) */
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "ALTER TABLE strata.tags RENAME TO tags_gone"));
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	char v[16];
	CU_ASSERT_EQUAL(get_s(t, DB_TAGS, "a", v, sizeof(v)), MF_RC_PG);
	CU_ASSERT_EQUAL(mf_pg_last_err(&err, "read tag a"), STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, shown));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "42P01"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "read tag a failed"));
	no_password(err.msg);
	CU_ASSERT_EQUAL(mf_pg_tx_commit(t, &err), STRATA_EMANIFEST);
	no_password(err.msg);
	CU_ASSERT(tu_pg_exec(c, "ALTER TABLE strata.tags_gone RENAME TO tags"));
	/* this file's own errors */
	t = tx_new(p, MF_TX_WRITE);
	mf_pg_cur *cur;
	CU_ASSERT_FATAL(mf_pg_cur_open(t, DB_TAGS, &cur) == 0);
	MDB_val k, val;
	CU_ASSERT_EQUAL(mf_pg_cur_get(cur, &k, &val, MDB_GET_BOTH), MF_RC_PG);
	CU_ASSERT_EQUAL(mf_pg_last_err(&err, NULL), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not supported"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, shown));
	no_password(err.msg);
	CU_ASSERT_EQUAL(mf_pg_cur_del(cur), MF_RC_PG);
	CU_ASSERT_EQUAL(mf_pg_last_err(&err, NULL), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "on no record"));
	mf_pg_cur_close(cur);
	/* neither failed the transaction */
	CU_ASSERT_EQUAL(put_s(t, DB_TAGS, "a", "1"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	mf_pg_pool_close(p);

	/* a wrong password */
	char bad[256];
	tu_pg_uri(TU_PG_PW_USER, "Not-" TU_PG_PW_PASSWORD, "t_pw", bad, sizeof(bad));
	CU_ASSERT_EQUAL(mf_pg_pool_open(bad, STRATA_MF_WRITE, NULL, &p, data, sizeof(data), &err),
			STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, shown));
	no_password(err.msg);
	PQfinish(c);
}

static void test_catalog_open_and_init(void)
{
	char uri[256], data[256];
	strata_err err = {0};
	mf_pg_pool *p = NULL;
	db_new("t_open", NULL, NULL, NULL, uri, sizeof(uri));
	/* an empty database: no catalog */
	CU_ASSERT_EQUAL(mf_pg_pool_open(uri, STRATA_MF_READ, NULL, &p, data, sizeof(data), &err),
			STRATA_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "init --data"));
	CU_ASSERT_PTR_NULL(p);
	/* init, then open */
	CU_ASSERT_EQUAL_FATAL(
		mf_pg_pool_open(uri, STRATA_MF_CREATE, "/mnt/wh", &p, data, sizeof(data), &err), 0);
	CU_ASSERT_STRING_EQUAL(data, "/mnt/wh");
	mf_pg_pool_close(p);
	p = NULL;
	data[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(
		mf_pg_pool_open(uri, STRATA_MF_WRITE, NULL, &p, data, sizeof(data), &err), 0);
	CU_ASSERT_STRING_EQUAL(data, "/mnt/wh");
	mf_pg_pool_close(p);
	p = NULL;
	/* init twice */
	CU_ASSERT_EQUAL(mf_pg_pool_open(uri, STRATA_MF_CREATE, "/other", &p, data, sizeof(data),
					&err),
			STRATA_EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already holds a strata catalog"));
	CU_ASSERT_PTR_NULL(p);
	/* a newer catalog */
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c,
			     "UPDATE strata.catalog_meta SET schema_version = schema_version + 1"));
	CU_ASSERT_EQUAL(mf_pg_pool_open(uri, STRATA_MF_WRITE, NULL, &p, data, sizeof(data), &err),
			STRATA_EUNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "upgrade strata"));
	CU_ASSERT_PTR_NULL(p);
	/* every sub-database has its table (pg_schema.c invariant 4), and only
	 * leases and daemons are unlogged */
	for (int db = 0; db < DB_ALL; db++) {
		char sql[200];
		snprintf(sql, sizeof(sql),
			 "SELECT relpersistence = 'u' FROM pg_class WHERE oid = "
			 "to_regclass('strata.%s')",
			 mf_db_names[db]);
		PGresult *r = PQexec(c, sql);
		CU_ASSERT_EQUAL(PQntuples(r), 1);
		if (PQntuples(r) == 1) {
			CU_ASSERT_EQUAL(PQgetvalue(r, 0, 0)[0] == 't',
					db == DB_LEASES || db == DB_DAEMONS);
		} else {
			fprintf(stderr, "no table strata.%s\n", mf_db_names[db]);
		}
		PQclear(r);
	}
	PQfinish(c);
}

/* A role that may only read (SELECT grants) opens the catalog and reads:
 * opening takes no lock and writes nothing.  A writer needs DML on the
 * tables and USAGE on the sequences, nothing more. */
static void test_a_reader_role_opens_the_catalog(void)
{
	char uri[256], data[256], ruri[256];
	mf_pg_pool *p = pool_new("t_reader", uri, sizeof(uri));
	mf_pg_tx *t = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(t, DB_TABLES, "a", "1"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	mf_pg_pool_close(p);
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
				"'tu_reader') THEN CREATE ROLE tu_reader LOGIN; END IF; END $$"));
	CU_ASSERT(tu_pg_exec(c, "GRANT USAGE ON SCHEMA strata TO tu_reader; "
				"GRANT SELECT ON ALL TABLES IN SCHEMA strata TO tu_reader"));
	PQfinish(c);
	tu_pg_uri("tu_reader", NULL, "t_reader", ruri, sizeof(ruri));
	strata_err err = {0};
	p = NULL;
	int rc = mf_pg_pool_open(ruri, STRATA_MF_READ, NULL, &p, data, sizeof(data), &err);
	if (rc)
		fprintf(stderr, "reader open: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char v[16];
	t = tx_new(p, MF_TX_READ);
	CU_ASSERT_EQUAL(get_s(t, DB_TABLES, "a", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "1");
	CU_ASSERT_EQUAL(tx_end(t), 0);
	/* and may not write */
	t = tx_new(p, MF_TX_WRITE);
	CU_ASSERT_EQUAL(put_s(t, DB_TABLES, "b", "1"), 0);
	CU_ASSERT_EQUAL(mf_pg_tx_commit(t, &err), STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "42501"));
	mf_pg_pool_close(p);

	/* what a writer needs: rows, and the sequences' nextval */
	c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
				"'tu_writer') THEN CREATE ROLE tu_writer LOGIN; END IF; END $$"));
	CU_ASSERT(tu_pg_exec(c,
			     "GRANT USAGE ON SCHEMA strata TO tu_writer; "
			     "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strata "
			     "TO tu_writer; GRANT USAGE ON ALL SEQUENCES IN SCHEMA strata TO "
			     "tu_writer"));
	PQfinish(c);
	tu_pg_uri("tu_writer", NULL, "t_reader", ruri, sizeof(ruri));
	p = NULL;
	CU_ASSERT_EQUAL_FATAL(
		mf_pg_pool_open(ruri, STRATA_MF_WRITE, NULL, &p, data, sizeof(data), &err), 0);
	t = tx_new(p, MF_TX_WRITE);
	uint64_t id = 0;
	CU_ASSERT_EQUAL(mf_pg_counter_next(t, "next_file_id", &id, &err), 0);
	CU_ASSERT_EQUAL(put_s(t, DB_TABLES, "b", "1"), 0);
	MDB_val ka = sv("a");
	CU_ASSERT_EQUAL(mf_pg_del(t, DB_TABLES, &ka), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	t = tx_new(p, MF_TX_LEASE);
	CU_ASSERT_EQUAL(put_s(t, DB_LEASES, "l", "1"), 0);
	CU_ASSERT_EQUAL(tx_end(t), 0);
	mf_pg_pool_close(p);
}

static void register_tests(void)
{
	tu_pg_start_or_skip();
	CU_pSuite s = CU_add_suite("pgkv", NULL, NULL);
	TU_ADD(s, test_model_random);
	TU_ADD(s, test_cursor_writes_under_a_scan);
	TU_ADD(s, test_read_your_writes_and_snapshots);
	TU_ADD(s, test_serializable_writers_one_retries);
	TU_ADD(s, test_concurrent_writers_with_retries);
	TU_ADD(s, test_transaction_settings);
	TU_ADD(s, test_large_values);
	TU_ADD(s, test_counters);
	TU_ADD(s, test_clock_is_the_catalogs_once_per_tx);
	TU_ADD(s, test_lost_connections);
	TU_ADD(s, test_an_idle_writer_is_ended);
	TU_ADD(s, test_password_never_in_errors);
	TU_ADD(s, test_catalog_open_and_init);
	TU_ADD(s, test_a_reader_role_opens_the_catalog);
}

TU_MAIN(register_tests)
