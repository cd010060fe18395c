/*
 * tests/test_multidaemon.c — three stratad on one PostgreSQL catalog and one
 * data directory, as three hosts would run them, with a writer committing
 * throughout (issue 13, "stratad on several hosts").  As root each daemon
 * runs in a UTS namespace of its own with its own host name
 * (tud_spawn_host()), so its owner string names another host and nobody
 * can judge it dead by its pid: only heartbeats (peer_ttl_s) and claims
 * (claim_ttl_s) move work, as between real hosts.  Otherwise they are
 * three processes of this host whose owner strings differ by pid (and the
 * claims of the one killed are taken over at once).
 *
 * One PostgreSQL for the suite (tests/util/tu_pg.h), a database of its own
 * for the test.  The daemons run with scan_interval_s 1, peer_ttl_s 3 and
 * claim_ttl_s 10 (its minimum), io.max_mb_s 0.5: jobs under 1 MiB of I/O
 * never wait for the token bucket, so the small table's jobs are quick while
 * the sort of the big table's one 3 MB row file takes seconds.
 *
 *   shares      every daemon's `status` sees three daemons, and the
 *               buckets each owns add up to all buckets;
 *   kill -9     the daemon with the largest share dies: within peer_ttl_s
 *               and a few scans the other two own everything, and every
 *               bucket it had sorted is sorted again by them;
 *   SIGSTOP     a bulk write to the big table (one bucket) starts a slow
 *               sort on whichever survivor owns it; that daemon is stopped
 *               past claim_ttl_s and continued: its job must not commit (its
 *               `jobs` entry and log say the claim expired or was lost), its
 *               intent and outputs are gone afterwards, and meanwhile the
 *               other daemon owns everything;
 *   the end     everything stopped, every retained version of both tables
 *               reads as the writer's model says (strata_scan AS OF each
 *               version), and `strata check` passes.
 *
 * Throughout, a sampler reads the catalog's intents and the claims of their
 * buckets in one snapshot every few milliseconds.  A job whose intent is
 * seen while its bucket's claim is gone, another job's, or expired by the
 * catalog's clock is fenced (manifest/commit.c invariant 8): at most one
 * unfenced job per bucket may ever be seen, and no fenced job may ever have
 * committed a file (no file entry names its job id; retention keeps every
 * entry of the test's lifetime).
 *
 * A second test stops a writer inside its commit (after its statements,
 * before COMMIT: its row locks held) and commits to the same table from
 * another: that commit must go through within the catalog's idle timeout
 * for write transactions (manifest/pg_kv.c invariant 7), and the stopped
 * writer, continued, must get its batch in once through its token.
 *
 * Nothing asserts a duration: every wait polls until a deadline (the bounds
 * below, generous for a loaded machine) and says what it waited for.  The
 * daemons are stopped by PID (tud_* kills them at exit if a test fails) and
 * the server by tu_pg.
 *
 * Without PostgreSQL the suite prints "SKIPPED: <reason>" and exits 0.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_pg.h"

#include "manifest/pg_int.h"
#include "table/table.h"

#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MD_DAEMONS 3
#define MD_BUCKETS 8        /* table "small" */
#define MD_KEYS 400         /* its key space */
#define MD_OPS 20           /* rows per writer commit */
#define MD_BIG_ROWS 30000   /* table "big": one bucket, one bulk commit */
#define MD_BIG_VALUE 100    /* bytes of each big value */
#define MD_SCAN_S 1
#define MD_PEER_TTL_S 3
#define MD_CLAIM_TTL_S 10
/* Deadlines (bounds, not expectations): a share moves within peer_ttl_s
 * plus a scan or two; the slack is for a machine shared with other
 * builds. */
#define MD_SHARE_MOVE_S (MD_PEER_TTL_S + 2 * MD_SCAN_S + 10)
#define MD_WAIT_S 30
/* How long a writer may wait for another that was stopped inside its
 * commit: the catalog's idle-in-transaction timeout for strata's write
 * transactions, plus slack. */
#define MD_TXN_IDLE_BOUND_S (MF_PG_WRITE_IDLE_TIMEOUT_S + 15)

/* ---- the writer's model ----------------------------------------------------------------- */

/* One committed write: its version and its rows (val -1: a delete). */
typedef struct md_op {
	int32_t key, val;
} md_op;

typedef struct md_commit {
	uint64_t version;
	size_t nops;
	md_op *ops;
} md_commit;

typedef struct md_model {
	pthread_mutex_t mu;
	md_commit *c;
	size_t n, cap;
	int32_t keys;  /* key space */
	bool is_big;   /* values from md_value_big() */
} md_model;

static void model_push(md_model *m, uint64_t version, const md_op *ops, size_t n)
{
	pthread_mutex_lock(&m->mu);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->c = strata_realloc(m->c, m->cap * sizeof(*m->c));
	}
	md_commit *c = &m->c[m->n++];
	c->version = version;
	c->nops = n;
	c->ops = strata_malloc(n * sizeof(*ops) + 1);
	memcpy(c->ops, ops, n * sizeof(*ops));
	pthread_mutex_unlock(&m->mu);
}

static void model_free(md_model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->c[i].ops);
	free(m->c);
	pthread_mutex_destroy(&m->mu);
}

/* The value text of key in commit val: "c<val>-k<key>" for the small table,
 * MD_BIG_VALUE letters drawn from the key for the big one. */
static void md_value(const md_model *m, int32_t key, int32_t val, char *out, size_t n)
{
	if (!m->is_big) {
		snprintf(out, n, "c%d-k%d", val, key);
		return;
	}
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(key + 1);
	size_t len = MD_BIG_VALUE < n - 1 ? MD_BIG_VALUE : n - 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (char)('a' + x % 26);
	}
	out[len] = '\0';
}

/* One writer transaction of ops with an idempotency token. */
static int md_commit_ops(strata_wh *wh, const char *table, const md_model *m, const md_op *ops,
			 size_t n, const char *token, int64_t token_us, uint64_t *version,
			 bool *is_repeat, strata_err *err)
{
	strata_txn *t;
	int rc = strata_txn_begin(wh, table, &t, err);
	if (rc)
		return rc;
	char val[MD_BIG_VALUE + 32];
	for (size_t i = 0; i < n; i++) {
		json_t *o;
		if (ops[i].val < 0) {
			o = json_pack("{s:i,s:s}", "pk", ops[i].key, "_op", "delete");
		} else {
			md_value(m, ops[i].key, ops[i].val, val, sizeof(val));
			o = json_pack("{s:i,s:s}", "pk", ops[i].key, "v", val);
		}
		rc = strata_txn_put_json(t, o, err);
		json_decref(o);
		if (rc) {
			strata_txn_abort(t);
			return rc;
		}
	}
	strata_commit_opts co = {.token = token, .token_us = token_us};
	return strata_txn_commit(t, &co, version, is_repeat, err);
}

/* Commit ops under token, retrying (the same token and batch time) on any
 * failure, on a new handle after an uncertain one, until it commits or
 * `attempts` have failed; the version goes to the model.  0 or the last
 * error. */
static int md_commit_retrying(const char *uri, strata_wh **wh, const char *table, md_model *m,
			      const md_op *ops, size_t n, const char *token, int attempts,
			      int *retries, strata_err *err)
{
	int64_t token_us = strata_now_us();
	int rc = -1;
	for (int a = 0; a < attempts; a++) {
		if (!*wh && (rc = strata_wh_open(uri, false, wh, err)) != 0) {
			*wh = NULL;
		} else {
			uint64_t v = 0;
			bool rep = false;
			rc = md_commit_ops(*wh, table, m, ops, n, token, token_us, &v, &rep, err);
			if (rc == 0) {
				model_push(m, v, ops, n);
				return 0;
			}
			if (rc == STRATA_EUNCERTAIN || strata_mf_is_broken(strata_wh_mf(*wh))) {
				strata_wh_close(*wh);
				*wh = NULL;
			}
		}
		(*retries)++;
		tud_sleep_ms(100);
	}
	return rc;
}

typedef struct md_writer {
	const char *uri;
	md_model *m;
	atomic_int stop;
	int commits, retries, errors;
	char what[512];
} md_writer;

static void *writer_main(void *arg)
{
	md_writer *w = arg;
	strata_wh *wh = NULL;
	unsigned seed = 13;
	md_op ops[MD_OPS];
	for (int i = 1; !atomic_load(&w->stop); i++) {
		for (int k = 0; k < MD_OPS; k++) {
			ops[k].key = (int32_t)(rand_r(&seed) % MD_KEYS);
			ops[k].val = rand_r(&seed) % 10 == 0 ? -1 : i;
		}
		char token[32];
		snprintf(token, sizeof(token), "w%d", i);
		strata_err err;
		strata_err_clear(&err);
		if (md_commit_retrying(w->uri, &wh, "small", w->m, ops, MD_OPS, token, 100,
				       &w->retries, &err) != 0) {
			w->errors++;
			snprintf(w->what, sizeof(w->what), "commit %s: %s", token, err.msg);
			break;
		}
		w->commits++;
		tud_sleep_ms(100);
	}
	strata_wh_close(wh);
	return NULL;
}

/* ---- the sampler -------------------------------------------------------------------------- */

typedef struct md_fenced {
	uint64_t job_id;
	char owner[96];
	char *prefix; /* the intent's first path: the job's output prefix */
} md_fenced;

typedef struct md_sampler {
	const char *uri;
	atomic_int stop;
	pthread_mutex_t mu;
	int samples, violations, max_intents, errors;
	char what[512];
	md_fenced *fenced;
	size_t nfenced, cap;
	uint64_t *committed; /* job ids named by file entries, ever seen */
	size_t ncommitted, ccap;
} md_sampler;

static bool committed_has(const md_sampler *s, uint64_t job_id)
{
	for (size_t i = 0; i < s->ncommitted; i++)
		if (s->committed[i] == job_id)
			return true;
	return false;
}

/* Note the job id of every file entry of every table (clean forgets
 * entries, so this runs often enough to see each job's outputs while they
 * are live: they live at least clean.grace_s). */
static void committed_scan(md_sampler *s, strata_wh *wh)
{
	strata_err err;
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_table_def *t;
	size_t nt = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_tables_list(snap, a, &t, &nt, &err) != 0) {
		s->errors++;
		goto out;
	}
	for (size_t i = 0; i < nt; i++) {
		strata_file_entry *f;
		size_t n = 0;
		if (strata_mf_table_files(snap, t[i].id, a, &f, &n, &err) != 0) {
			s->errors++;
			break;
		}
		pthread_mutex_lock(&s->mu);
		for (size_t k = 0; k < n; k++) {
			if (!f[k].job_id || committed_has(s, f[k].job_id))
				continue;
			if (s->ncommitted == s->ccap) {
				s->ccap = s->ccap ? s->ccap * 2 : 256;
				s->committed = strata_realloc(s->committed, s->ccap * sizeof(uint64_t));
			}
			s->committed[s->ncommitted++] = f[k].job_id;
		}
		pthread_mutex_unlock(&s->mu);
	}
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
}

static bool fenced_has(md_sampler *s, uint64_t job_id)
{
	for (size_t i = 0; i < s->nfenced; i++)
		if (s->fenced[i].job_id == job_id)
			return true;
	return false;
}

static void fenced_add(md_sampler *s, const strata_intent *in)
{
	pthread_mutex_lock(&s->mu);
	if (!fenced_has(s, in->job_id)) {
		if (s->nfenced == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 16;
			s->fenced = strata_realloc(s->fenced, s->cap * sizeof(*s->fenced));
		}
		md_fenced *f = &s->fenced[s->nfenced++];
		f->job_id = in->job_id;
		snprintf(f->owner, sizeof(f->owner), "%s", in->owner);
		f->prefix = strdup(in->npaths ? in->paths[0] : "");
	}
	pthread_mutex_unlock(&s->mu);
}

/* One snapshot: every intent, and the claim of its bucket.  A job whose
 * claim is gone, another job's, or expired before the snapshot began (the
 * catalog's clock is this host's) can never commit: it is fenced.  Two
 * unfenced jobs on one bucket are a violation. */
static void sample_once(md_sampler *s, strata_wh *wh)
{
	strata_err err;
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_intent *in = NULL;
	size_t n = 0;
	int64_t before_us = strata_now_us();
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_intents_list(snap, a, &in, &n, &err) != 0) {
		s->errors++;
		goto out;
	}
	bool *is_live = strata_calloc(n + 1, sizeof(bool));
	for (size_t i = 0; i < n; i++) {
		strata_claim cl;
		int rc = strata_mf_claim_get(snap, in[i].table_id, in[i].part_id, in[i].bucket, &cl,
					     &err);
		if (rc != 0 && rc != STRATA_ENOTFOUND) {
			s->errors++;
			free(is_live);
			goto out;
		}
		/* expired more than 100 ms before the snapshot began: expired in it */
		is_live[i] = rc == 0 && cl.job_id == in[i].job_id &&
			     cl.expires_us > before_us - 100000;
		if (!is_live[i])
			fenced_add(s, &in[i]);
	}
	s->samples++;
	if ((int)n > s->max_intents)
		s->max_intents = (int)n;
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (is_live[i] && is_live[k] && in[i].table_id == in[k].table_id &&
			    in[i].part_id == in[k].part_id && in[i].bucket == in[k].bucket) {
				s->violations++;
				snprintf(s->what, sizeof(s->what),
					 "jobs %" PRIu64 " (%s) and %" PRIu64 " (%s) on bucket %u of "
					 "table %u at once",
					 in[i].job_id, in[i].owner, in[k].job_id, in[k].owner,
					 in[i].bucket, in[i].table_id);
			}
	free(is_live);
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
}

static void *sampler_main(void *arg)
{
	md_sampler *s = arg;
	strata_wh *wh = NULL;
	strata_err err;
	for (int i = 0; !atomic_load(&s->stop); i++) {
		if (!wh && strata_wh_open(s->uri, false, &wh, &err) != 0) {
			wh = NULL;
			s->errors++;
		} else {
			sample_once(s, wh);
			if (i % 10 == 0)
				committed_scan(s, wh);
		}
		tud_sleep_ms(10);
	}
	if (wh)
		committed_scan(s, wh);
	strata_wh_close(wh);
	return NULL;
}

/* ---- the daemons ---------------------------------------------------------------------------- */

typedef struct md_daemon {
	char cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	char owner[128];
	pid_t pid;
	bool is_dead;
} md_daemon;

/* The share as `status` shows it (daemon/share.c). */
typedef struct md_share {
	size_t ndaemons;
	long long mine, total;
} md_share;

static bool md_status(md_daemon *d, md_share *sh)
{
	json_t *r = tud_admin(d->sock, "status");
	if (!r)
		return false;
	json_t *s = json_object_get(r, "share");
	json_t *ds = json_object_get(s, "daemons");
	sh->ndaemons = json_array_size(ds);
	sh->mine = json_integer_value(json_object_get(s, "buckets_mine"));
	sh->total = json_integer_value(json_object_get(s, "buckets_total"));
	size_t i;
	json_t *p;
	json_array_foreach(ds, i, p)
		if (json_is_true(json_object_get(p, "is_self")))
			snprintf(d->owner, sizeof(d->owner), "%s",
				 json_string_value(json_object_get(p, "owner")));
	json_decref(r);
	return true;
}

/* Whether every daemon in ds[] (those not dead) sees exactly the live ones
 * and their shares add up to one total, total_min or more, all agreeing. */
static bool md_shares_settled(md_daemon *ds, int n, long long total_min, md_share *out)
{
	size_t live = 0;
	for (int i = 0; i < n; i++)
		live += !ds[i].is_dead;
	long long sum = 0, total = -1;
	for (int i = 0; i < n; i++) {
		if (ds[i].is_dead)
			continue;
		if (!md_status(&ds[i], &out[i]) || out[i].ndaemons != live)
			return false;
		if (total >= 0 && out[i].total != total)
			return false;
		total = out[i].total;
		sum += out[i].mine;
	}
	return total >= total_min && sum == total;
}

static bool md_wait_shares(md_daemon *ds, int n, long long total_min, double timeout_s,
			   double *took_s)
{
	md_share sh[MD_DAEMONS];
	double t0 = tud_now_s();
	while (tud_now_s() - t0 < timeout_s) {
		if (md_shares_settled(ds, n, total_min, sh)) {
			*took_s = tud_now_s() - t0;
			return true;
		}
		tud_sleep_ms(100);
	}
	fprintf(stderr, "\nshares did not settle within %.0f s:", timeout_s);
	for (int i = 0; i < n; i++)
		if (!ds[i].is_dead)
			fprintf(stderr, " [%s: %zu daemons, %lld of %lld]", ds[i].owner,
				sh[i].ndaemons, sh[i].mine, sh[i].total);
	fprintf(stderr, "\n");
	return false;
}

/* The buckets of table whose jobs finished ok on d (a bitmap). */
static unsigned md_ok_buckets(md_daemon *d, const char *table)
{
	unsigned bits = 0;
	json_t *r = tud_admin(d->sock, "jobs");
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "finished"), i, j)
	{
		const char *t = json_string_value(json_object_get(j, "table"));
		const char *res = json_string_value(json_object_get(j, "result"));
		json_t *b = json_object_get(j, "bucket");
		if (t && res && b && strcmp(t, table) == 0 && strcmp(res, "ok") == 0)
			bits |= 1u << json_integer_value(b);
	}
	json_decref(r);
	return bits;
}

/* The id of a job of table running on d (-1: none). */
static long long md_running_job(md_daemon *d, const char *table)
{
	long long id = -1;
	json_t *r = tud_admin(d->sock, "jobs");
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "running"), i, j)
	{
		const char *t = json_string_value(json_object_get(j, "table"));
		if (t && strcmp(t, table) == 0)
			id = json_integer_value(json_object_get(j, "id"));
	}
	json_decref(r);
	return id;
}

/* Job id's result and error once it finished on d ("" while it has not). */
static void md_job_result(md_daemon *d, long long id, char *result, size_t rn, char *error,
			  size_t en)
{
	result[0] = error[0] = '\0';
	json_t *r = tud_admin(d->sock, "jobs");
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "finished"), i, j)
	{
		if (json_integer_value(json_object_get(j, "id")) != id)
			continue;
		const char *res = json_string_value(json_object_get(j, "result"));
		const char *e = json_string_value(json_object_get(j, "error"));
		snprintf(result, rn, "%s", res ? res : "?");
		snprintf(error, en, "%s", e ? e : "");
	}
	json_decref(r);
}

/* ---- the catalog as the test sees it ------------------------------------------------------- */

static void db_new(const char *name, char *uri, size_t n)
{
	CU_ASSERT_FATAL(tu_pg_create_db(name, NULL));
	tu_pg_uri("postgres", NULL, name, uri, n);
}

static strata_table_def md_table(strata_wh *wh, const char *name)
{
	strata_table_def t = {0};
	strata_err err;
	strata_mf_snap *snap;
	CU_ASSERT_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0);
	CU_ASSERT(strata_mf_table_get(snap, name, &t, &err) == 0);
	strata_mf_snap_close(snap);
	return t;
}

/* The intent of a job of table_id owned by one of the daemons (index into
 * ds, or -1), copied into *out with its prefix in prefix. */
static int md_find_intent(strata_wh *wh, uint32_t table_id, md_daemon *ds, int n,
			  strata_intent *out, char *prefix, size_t pn)
{
	int who = -1;
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_intent *in;
	size_t ni = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0) {
		if (strata_mf_intents_list(snap, a, &in, &ni, &err) == 0)
			for (size_t i = 0; i < ni && who < 0; i++)
				for (int k = 0; k < n && in[i].table_id == table_id; k++)
					if (!ds[k].is_dead && strcmp(in[i].owner, ds[k].owner) == 0) {
						who = k;
						*out = in[i];
						out->paths = NULL;
						snprintf(prefix, pn, "%s",
							 in[i].npaths ? in[i].paths[0] : "");
					}
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	return who;
}

static bool md_intent_exists(strata_wh *wh, uint64_t job_id)
{
	bool has = false;
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_intent *in;
	size_t ni = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0) {
		if (strata_mf_intents_list(snap, a, &in, &ni, &err) == 0)
			for (size_t i = 0; i < ni; i++)
				has |= in[i].job_id == job_id;
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	return has;
}

/* Files whose path starts with prefix (an intent's output prefix). */
static size_t md_files_with_prefix(const char *prefix)
{
	if (!prefix[0])
		return 0;
	char pat[PATH_MAX + 8];
	snprintf(pat, sizeof(pat), "%s*", prefix);
	glob_t g;
	size_t n = 0;
	if (glob(pat, 0, NULL, &g) == 0)
		n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* Whether a sort of bucket b of table_id committed after version `after`. */
static unsigned md_sorted_since(strata_wh *wh, uint32_t table_id, uint64_t after)
{
	unsigned bits = 0;
	strata_err err;
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_version_rec *vr;
	size_t n = 0;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0) {
		if (strata_mf_versions_list(snap, table_id, after + 1, 100000, a, &vr, &n, &err) == 0)
			for (size_t i = 0; i < n; i++) {
				const char *b = strstr(vr[i].note, " b=");
				if (vr[i].kind == STRATA_V_SORT && b)
					bits |= 1u << atoi(b + 3);
			}
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	return bits;
}

/* Every version of table from 1 to its current one, read AS OF it, against
 * the model: the rows of the last write at or before it.  The number of
 * versions that differ (the first is printed); *nversions the versions
 * read. */
static int md_verify(strata_wh *wh, const char *table, md_model *m, uint64_t *nversions)
{
	strata_table_def t = md_table(wh, table);
	int32_t *state = strata_malloc((size_t)m->keys * sizeof(int32_t));
	for (int32_t k = 0; k < m->keys; k++)
		state[k] = -1;
	long present = 0;
	size_t ci = 0;
	int bad = 0;
	char want[MD_BIG_VALUE + 32];
	*nversions = 0;
	for (uint64_t v = 1; v <= t.version; v++) {
		for (; ci < m->n && m->c[ci].version <= v; ci++)
			for (size_t i = 0; i < m->c[ci].nops; i++) {
				const md_op *op = &m->c[ci].ops[i];
				present += (op->val >= 0) - (state[op->key] >= 0);
				state[op->key] = op->val;
			}
		strata_err err;
		strata_scan *sc;
		strata_read_opts ro = {.as_of_version = v};
		int rc = strata_scan_open(wh, table, &ro, &sc, &err);
		if (rc) {
			if (!bad++)
				fprintf(stderr, "\n%s AS OF %" PRIu64 ": %s\n", table, v, err.msg);
			continue;
		}
		const strata_row *row;
		const char *const *pv;
		size_t rows = 0;
		bool is_bad = false;
		while ((rc = strata_scan_next(sc, &row, &pv, &err)) == 1) {
			rows++;
			int64_t k = row->vals[0].v.i64;
			if (k < 0 || k >= m->keys || state[k] < 0) {
				if (!is_bad && !bad)
					fprintf(stderr, "\n%s AS OF %" PRIu64 ": key %" PRId64
							" should not be there\n",
						table, v, k);
				is_bad = true;
				continue;
			}
			md_value(m, (int32_t)k, state[k], want, sizeof(want));
			const strata_value *val = &row->vals[1];
			if (val->is_null || val->v.s.len != strlen(want) ||
			    memcmp(val->v.s.ptr, want, val->v.s.len) != 0) {
				if (!is_bad && !bad)
					fprintf(stderr, "\n%s AS OF %" PRIu64 ": key %" PRId64
							" reads \"%.*s\", the model says \"%s\"\n",
						table, v, k, val->is_null ? 4 : (int)val->v.s.len,
						val->is_null ? "null" : (const char *)val->v.s.ptr, want);
				is_bad = true;
			}
		}
		if (rc < 0) {
			if (!is_bad && !bad)
				fprintf(stderr, "\n%s AS OF %" PRIu64 ": %s\n", table, v, err.msg);
			is_bad = true;
		}
		strata_scan_close(sc);
		if ((long)rows != present) {
			if (!is_bad && !bad)
				fprintf(stderr, "\n%s AS OF %" PRIu64 ": %zu rows, the model has %ld\n",
					table, v, rows, present);
			is_bad = true;
		}
		bad += is_bad;
		(*nversions)++;
	}
	free(state);
	return bad;
}

/* ---- the test --------------------------------------------------------------------------------- */

static void md_write_cfg(md_daemon *d, const char *dir, int i, const char *uri)
{
	snprintf(d->cfg, sizeof(d->cfg), "%s/d%d.ini", dir, i);
	snprintf(d->log, sizeof(d->log), "%s/d%d.log", dir, i);
	snprintf(d->sock, sizeof(d->sock), "%s/run%d/admin.sock", dir, i);
	tud_write_file(d->cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = %d\nworkers = 2\n"
		       "log_level = info\npeer_ttl_s = %d\nclaim_ttl_s = %d\nio.max_mb_s = 0.5\n"
		       "[policy]\nsort.min_files = 2\nsort.max_delay_s = 1\nmerge.fanout = 4\n"
		       "clean.grace_s = 1\nclean.trash_s = 1\nclean.orphan_scan_s = 0\n"
		       "policy.backoff_s = 1\npolicy.backoff_max_s = 2\n",
		       uri, d->sock, MD_SCAN_S, MD_PEER_TTL_S, MD_CLAIM_TTL_S);
}

static void test_three_daemons_one_catalog(void)
{
	/* what the threads share is static: a failed fatal assert leaves
	 * the test while they still run (they stop at exit) */
	static char uri[256];
	static md_model small, big;
	static md_sampler sm;
	static md_writer wr;
	const char *dir = tu_tmpdir();
	char data[PATH_MAX];
	db_new("md_three", uri, sizeof(uri));
	snprintf(data, sizeof(data), "%s/data", dir);
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_create(uri, data, &wh, &err), 0);
	char props[64];
	snprintf(props, sizeof(props), "write.bucket.num=%d", MD_BUCKETS);
	const char *p1[] = {props}, *p2[] = {"write.bucket.num=1"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "small", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, p1, 1, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "big", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, p2, 1, &err), 0);
	uint32_t small_id = md_table(wh, "small").id, big_id = md_table(wh, "big").id;
	small = (md_model){.keys = MD_KEYS};
	big = (md_model){.keys = MD_BIG_ROWS, .is_big = true};
	pthread_mutex_init(&small.mu, NULL);
	pthread_mutex_init(&big.mu, NULL);

	/* three hosts: a UTS namespace and host name each (root), so no daemon
	 * can tell another is dead by its pid and only the heartbeat and claim
	 * TTLs move work; else three processes of this host */
	bool is_hosts = tud_can_fake_host();
	if (!is_hosts)
		fprintf(stderr, "\n(no UTS namespaces here, they need root: the three daemons run "
				"on this host, so the claims of the one killed are taken over at once, "
				"not after claim_ttl_s)");
	md_daemon ds[MD_DAEMONS] = {0};
	for (int i = 0; i < MD_DAEMONS; i++) {
		char host[32];
		snprintf(host, sizeof(host), "md-host-%d", i);
		md_write_cfg(&ds[i], dir, i, uri);
		ds[i].pid = tud_spawn_host(ds[i].cfg, ds[i].log, NULL, is_hosts ? host : NULL);
	}
	for (int i = 0; i < MD_DAEMONS; i++)
		CU_ASSERT_FATAL(tud_wait_ready(ds[i].sock, 30));
	sm = (md_sampler){.uri = uri};
	pthread_mutex_init(&sm.mu, NULL);
	wr = (md_writer){.uri = uri, .m = &small};
	pthread_t sth, wth;
	pthread_create(&sth, NULL, sampler_main, &sm);
	pthread_create(&wth, NULL, writer_main, &wr);
	double t_start = tud_now_s();

	/* 1. three daemons see each other and split the buckets */
	double took;
	md_share sh[MD_DAEMONS];
	CU_ASSERT_FATAL(md_wait_shares(ds, MD_DAEMONS, MD_BUCKETS, MD_WAIT_S, &took));
	md_shares_settled(ds, MD_DAEMONS, MD_BUCKETS, sh);
	for (int i = 0; i < MD_DAEMONS; i++)
		CU_ASSERT(ds[i].owner[0] != '\0');
	CU_ASSERT(strcmp(ds[0].owner, ds[1].owner) != 0 && strcmp(ds[1].owner, ds[2].owner) != 0 &&
		  strcmp(ds[0].owner, ds[2].owner) != 0);
	fprintf(stderr, "\nthree daemons: shares %lld + %lld + %lld of %lld buckets (settled in %.1f s)\n",
		sh[0].mine, sh[1].mine, sh[2].mine, sh[0].total, took);
	/* the one with the largest share dies next: once it has sorted some */
	int A = 0;
	for (int i = 1; i < MD_DAEMONS; i++)
		if (sh[i].mine > sh[A].mine)
			A = i;
	unsigned a_buckets = 0;
	for (double end = tud_now_s() + MD_WAIT_S; !a_buckets && tud_now_s() < end;)
		if (!(a_buckets = md_ok_buckets(&ds[A], "small")))
			tud_sleep_ms(200);
	CU_ASSERT_FATAL(a_buckets != 0);

	/* 2. kill -9 it: the other two take its share and sort its buckets */
	CU_ASSERT_EQUAL(kill(ds[A].pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(tud_wait_exit(ds[A].pid, 10), 128 + SIGKILL);
	ds[A].is_dead = true;
	uint64_t v_kill = md_table(wh, "small").version; /* nothing of its after this */
	CU_ASSERT_FATAL(md_wait_shares(ds, MD_DAEMONS, MD_BUCKETS, MD_SHARE_MOVE_S, &took));
	md_shares_settled(ds, MD_DAEMONS, MD_BUCKETS, sh);
	fprintf(stderr, "kill -9 %s: the other two own its share %.1f s later", ds[A].owner, took);
	for (int i = 0; i < MD_DAEMONS; i++)
		if (i != A)
			fprintf(stderr, " (%lld)", sh[i].mine);
	unsigned resorted = 0;
	double t0 = tud_now_s();
	while (tud_now_s() - t0 < MD_WAIT_S &&
	       ((resorted = md_sorted_since(wh, small_id, v_kill)) & a_buckets) != a_buckets)
		tud_sleep_ms(200);
	fprintf(stderr, "; its buckets (0x%x) sorted again within %.1f s\n", a_buckets,
		tud_now_s() - t0);
	CU_ASSERT_EQUAL(resorted & a_buckets, a_buckets);

	/* 3. a slow sort of the big table; SIGSTOP its daemon past claim_ttl_s */
	{
		md_op *ops = strata_malloc(MD_BIG_ROWS * sizeof(*ops));
		for (int k = 0; k < MD_BIG_ROWS; k++)
			ops[k] = (md_op){k, 0};
		int retries = 0;
		strata_wh *bw = NULL;
		CU_ASSERT_EQUAL_FATAL(md_commit_retrying(uri, &bw, "big", &big, ops, MD_BIG_ROWS,
							 "bulk", 5, &retries, &err), 0);
		strata_wh_close(bw);
		free(ops);
	}
	strata_intent vin = {0};
	char vprefix[PATH_MAX];
	int V = -1;
	for (double end = tud_now_s() + MD_WAIT_S; V < 0 && tud_now_s() < end;)
		if ((V = md_find_intent(wh, big_id, ds, MD_DAEMONS, &vin, vprefix, sizeof(vprefix))) < 0)
			tud_sleep_ms(20);
	CU_ASSERT_FATAL(V >= 0);
	int W = 3 - A - V;
	long long vjob = md_running_job(&ds[V], "big");
	CU_ASSERT_FATAL(vjob >= 0);
	CU_ASSERT_EQUAL(kill(ds[V].pid, SIGSTOP), 0);
	double t_stop = tud_now_s();
	fprintf(stderr, "SIGSTOP %s while its job %lld (catalog job %" PRIu64 ") sorts the big table\n",
		ds[V].owner, vjob, vin.job_id);
	/* the other one leaves the big table alone, so that nobody takes the
	 * stopped job's claim: only its expiry by the catalog's clock fences it */
	CU_ASSERT(tud_admin_ok(ds[W].sock, "pause big"));
	/* meanwhile the other one owns everything */
	{
		md_share w;
		bool is_alone = false;
		while (!is_alone && tud_now_s() - t_stop < MD_SHARE_MOVE_S) {
			is_alone = md_status(&ds[W], &w) && w.ndaemons == 1 && w.mine == w.total &&
				   w.total == MD_BUCKETS + 1;
			if (!is_alone)
				tud_sleep_ms(100);
		}
		fprintf(stderr, "%s owns all %lld buckets %.1f s after the SIGSTOP\n", ds[W].owner,
			w.total, tud_now_s() - t_stop);
		CU_ASSERT(is_alone);
	}
	while (tud_now_s() - t_stop < MD_CLAIM_TTL_S + 3)
		tud_sleep_ms(100);
	{ /* the precondition: the stopped job still has its claim, expired */
		strata_mf_snap *snap;
		strata_claim cl = {0};
		CU_ASSERT_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0);
		int rc = strata_mf_claim_get(snap, big_id, vin.part_id, vin.bucket, &cl, &err);
		strata_mf_snap_close(snap);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(cl.job_id, vin.job_id);
		CU_ASSERT(cl.expires_us < strata_now_us());
	}
	CU_ASSERT_EQUAL(kill(ds[V].pid, SIGCONT), 0);
	double t_cont = tud_now_s();
	char result[32] = "", error[512] = "";
	while (!result[0] && tud_now_s() - t_cont < MD_WAIT_S) {
		md_job_result(&ds[V], vjob, result, sizeof(result), error, sizeof(error));
		if (!result[0])
			tud_sleep_ms(100);
	}
	fprintf(stderr, "SIGCONT after %.1f s: job %lld ended \"%s\" %.1f s later: %s\n",
		t_cont - t_stop, vjob, result, tud_now_s() - t_cont, error);
	CU_ASSERT(result[0] && strcmp(result, "ok") != 0);
	/* Usually the stop lands between the daemon's catalog transactions:
	 * the job's next renewal finds its claim expired.  When it lands inside
	 * one of the daemon's write transactions (any thread's), the catalog
	 * ends that transaction after 10 s of silence (manifest/pg_kv.c
	 * invariant 7); continued, the daemon finds that commit uncertain,
	 * closes its catalog handle, its jobs fail, and it opens the catalog
	 * again; the job's intent then waits for recovery (below). */
	bool is_expired = strstr(error, "claim") != NULL && strstr(error, "expired") != NULL;
	bool is_uncertain = strstr(error, "uncertain") != NULL;
	CU_ASSERT(is_expired || is_uncertain);
	CU_ASSERT(tud_wait_log(ds[V].log, is_expired ? "claim of bucket" : "reopened the manifest",
			       MD_WAIT_S));
	CU_ASSERT(tud_admin_ok(ds[W].sock, "resume big"));
	if (is_expired) {
		/* its intent and outputs are gone: it cleaned up after itself */
		for (double end = tud_now_s() + MD_WAIT_S;
		     md_intent_exists(wh, vin.job_id) && tud_now_s() < end;)
			tud_sleep_ms(100);
		CU_ASSERT(!md_intent_exists(wh, vin.job_id));
		CU_ASSERT_EQUAL(md_files_with_prefix(vprefix), 0);
	}
	/* and the two share the work again */
	CU_ASSERT(md_wait_shares(ds, MD_DAEMONS, MD_BUCKETS + 1, MD_SHARE_MOVE_S, &took));

	/* 4. stop everything; every retained version reads as the model */
	atomic_store(&wr.stop, 1);
	pthread_join(wth, NULL);
	tud_sleep_ms(1500); /* a last sort or two under the sampler */
	atomic_store(&sm.stop, 1);
	pthread_join(sth, NULL);
	for (int i = 0; i < MD_DAEMONS; i++) {
		if (ds[i].is_dead)
			continue;
		CU_ASSERT_EQUAL(kill(ds[i].pid, SIGTERM), 0);
		int code = tud_wait_exit(ds[i].pid, 40);
		if (code != 0)
			fprintf(stderr, "%s exited with %d after SIGTERM (its log: %s)\n", ds[i].owner,
				code, ds[i].log);
		CU_ASSERT_EQUAL(code, 0);
	}
	fprintf(stderr,
		"writer: %d commits (%d retries) in %.0f s; sampler: %d samples (at most %d intents "
		"at once), %zu fenced jobs seen, %zu jobs committed, %d on one bucket at once\n",
		wr.commits, wr.retries, tud_now_s() - t_start, sm.samples, sm.max_intents,
		sm.nfenced, sm.ncommitted, sm.violations);
	if (wr.errors)
		fprintf(stderr, "writer: %s\n", wr.what);
	if (sm.violations)
		fprintf(stderr, "sampler: %s\n", sm.what);
	CU_ASSERT_EQUAL(wr.errors, 0);
	CU_ASSERT(wr.commits > 50);
	CU_ASSERT_EQUAL(sm.violations, 0);
	CU_ASSERT(sm.samples > 100);
	CU_ASSERT(fenced_has(&sm, vin.job_id)); /* the sampler saw the stopped job fenced */
	CU_ASSERT_EQUAL(sm.errors, 0);
	CU_ASSERT(sm.ncommitted > 10);
	/* no fenced job ever committed a file */
	for (size_t i = 0; i < sm.nfenced; i++)
		if (committed_has(&sm, sm.fenced[i].job_id)) {
			fprintf(stderr, "fenced job %" PRIu64 " of %s committed\n", sm.fenced[i].job_id,
				sm.fenced[i].owner);
			CU_FAIL("a fenced job committed");
		}
	/* recovery (a clean) takes what the killed daemon's job left; then no
	 * intent is left and no fenced job has a file */
	char cmd[PATH_MAX + 512], *out = NULL;
	for (int t = 0; t < 2; t++) {
		snprintf(cmd, sizeof(cmd), "%s -W '%s' clean %s 2>&1", tu_bin("strata"), uri,
			 t ? "big" : "small");
		int rc = tu_run(cmd, &out);
		if (rc != 0)
			fprintf(stderr, "strata clean: %s\n", out ? out : "");
		CU_ASSERT_EQUAL(rc, 0);
		free(out);
		out = NULL;
	}
	{
		strata_mf_snap *snap;
		strata_arena *a = strata_arena_new();
		strata_intent *in;
		size_t n = 0;
		CU_ASSERT_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) == 0);
		CU_ASSERT(strata_mf_intents_list(snap, a, &in, &n, &err) == 0);
		strata_mf_snap_close(snap);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "intent of job %" PRIu64 " (%s) left\n", in[i].job_id,
				in[i].owner);
		CU_ASSERT_EQUAL(n, 0);
		strata_arena_free(a);
	}
	for (size_t i = 0; i < sm.nfenced; i++) {
		size_t left = md_files_with_prefix(sm.fenced[i].prefix);
		if (left)
			fprintf(stderr, "fenced job %" PRIu64 " of %s left %zu files at %s*\n",
				sm.fenced[i].job_id, sm.fenced[i].owner, left, sm.fenced[i].prefix);
		CU_ASSERT_EQUAL(left, 0);
	}
	uint64_t nv_small = 0, nv_big = 0;
	double tv = tud_now_s();
	CU_ASSERT_EQUAL(md_verify(wh, "small", &small, &nv_small), 0);
	CU_ASSERT_EQUAL(md_verify(wh, "big", &big, &nv_big), 0);
	fprintf(stderr, "read %" PRIu64 " + %" PRIu64 " versions as of each in %.1f s: as the model\n",
		nv_small, nv_big, tud_now_s() - tv);
	CU_ASSERT(nv_small > (uint64_t)wr.commits);
	strata_wh_close(wh);
	snprintf(cmd, sizeof(cmd), "%s -W '%s' check 2>&1", tu_bin("strata"), uri);
	int rc = tu_run(cmd, &out);
	if (rc != 0)
		fprintf(stderr, "strata check: %s\n", out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "check passed"));
	free(out);
	for (size_t i = 0; i < sm.nfenced; i++)
		free(sm.fenced[i].prefix);
	free(sm.fenced);
	free(sm.committed);
	pthread_mutex_destroy(&sm.mu);
	model_free(&small);
	model_free(&big);
}

/* ---- a process stopped inside its commit -------------------------------------------------- */

/* A fresh catalog database dbname (its URI into uri) with a warehouse whose
 * data files go under a scratch directory, and a one-bucket table t in it;
 * the warehouse stays open for the caller. */
static strata_wh *md_one_bucket_wh(const char *dbname, char *uri, size_t n)
{
	char data[PATH_MAX];
	db_new(dbname, uri, n);
	snprintf(data, sizeof(data), "%s/data", tu_tmpdir());
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_create(uri, data, &wh, &err), 0);
	const char *props[] = {"write.bucket.num=1"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 1, &err), 0);
	return wh;
}

/* Whether child stopped itself (SIGSTOP) within MD_WAIT_S; false at once if
 * it exited instead. */
static bool md_wait_stopped(pid_t child)
{
	int st = 0;
	bool is_stopped = false;
	for (double end = tud_now_s() + MD_WAIT_S; !is_stopped && tud_now_s() < end;) {
		pid_t r = waitpid(child, &st, WUNTRACED | WNOHANG);
		is_stopped = r == child && WIFSTOPPED(st);
		if (r == child && !is_stopped)
			break; /* it exited */
		if (!is_stopped)
			tud_sleep_ms(20);
	}
	return is_stopped;
}

/* Wait until *done is set, for at most MD_TXN_IDLE_BOUND_S from t0; whether
 * it was. */
static bool md_wait_done(atomic_int *done, double t0)
{
	while (!atomic_load(done) && tud_now_s() - t0 < MD_TXN_IDLE_BOUND_S)
		tud_sleep_ms(50);
	return atomic_load(done);
}

static volatile sig_atomic_t stop_armed;

/* strata_mf_commit_hook: stop this process once, after the commit's
 * statements ran and before its COMMIT (its row locks held). */
static void stop_before_commit(bool is_after, int rc)
{
	(void)rc;
	if (!is_after && stop_armed) {
		stop_armed = 0;
		raise(SIGSTOP);
	}
}

typedef struct md_bg_commit {
	const char *uri;
	md_model *m;
	atomic_int done;
	int rc;
	char msg[512];
} md_bg_commit;

static void *bg_commit_main(void *arg)
{
	md_bg_commit *c = arg;
	strata_wh *wh = NULL;
	strata_err err;
	strata_err_clear(&err);
	md_op op = {1, 1};
	int retries = 0;
	c->rc = md_commit_retrying(c->uri, &wh, "t", c->m, &op, 1, "parent", 3, &retries, &err);
	snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
	strata_wh_close(wh);
	atomic_store(&c->done, 1);
	return NULL;
}

/* A writer (think: a host that lost its network, a process in a long GC
 * pause) stopped after its commit's statements and before its COMMIT holds
 * the row locks of that commit.  Another writer of the same table must not
 * wait for it without bound: the catalog ends the stopped session
 * (idle_in_transaction_session_timeout), the other commit goes on, and the
 * stopped writer, continued, finds its commit uncertain and retries with
 * its token. */
static void test_writer_stopped_inside_its_commit(void)
{
	char uri[256];
	strata_wh *wh = md_one_bucket_wh("md_stopped", uri, sizeof(uri));
	strata_err err;
	strata_wh_close(wh);
	md_model m = {.mu = PTHREAD_MUTEX_INITIALIZER, .keys = 4};
	pid_t child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		/* exit 0: committed on the first attempt; 3: the first attempt
		 * failed (its session was ended) and the token's retry
		 * committed; 1: failed */
		strata_wh *cw = NULL;
		strata_err cerr;
		strata_mf_commit_hook = stop_before_commit;
		stop_armed = 1;
		md_op op = {0, 0};
		int64_t token_us = strata_now_us();
		uint64_t v;
		bool rep;
		int first = strata_wh_open(uri, false, &cw, &cerr) == 0 ?
				    md_commit_ops(cw, "t", &m, &op, 1, "child", token_us, &v, &rep, &cerr) :
				    -1;
		fprintf(stderr, "stopped writer, continued: %s\n", first ? cerr.msg : "committed");
		strata_wh_close(cw);
		if (first == 0)
			_exit(0);
		int rc = strata_wh_open(uri, false, &cw, &cerr) == 0 ?
				 md_commit_ops(cw, "t", &m, &op, 1, "child", token_us, &v, &rep, &cerr) :
				 -1;
		strata_wh_close(cw);
		_exit(rc == 0 ? 3 : 1);
	}
	/* the child stops inside its commit */
	CU_ASSERT_FATAL(md_wait_stopped(child));
	/* another writer of the table */
	md_bg_commit bg = {.uri = uri, .m = &m};
	pthread_t th;
	pthread_create(&th, NULL, bg_commit_main, &bg);
	double t0 = tud_now_s();
	bool is_done = md_wait_done(&bg.done, t0);
	fprintf(stderr, "\nanother writer of the table, while one is stopped inside its commit: %s "
			"after %.1f s\n",
		is_done ? "committed" : "still waiting", tud_now_s() - t0);
	CU_ASSERT(is_done);
	if (!is_done)
		kill(child, SIGKILL); /* let the waiting one go */
	else
		kill(child, SIGCONT);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(bg.rc, 0);
	int code = tud_wait_exit(child, MD_WAIT_S);
	if (is_done) {
		/* its session was ended: its commit failed, its token's retry
		 * committed */
		CU_ASSERT_EQUAL(code, 3);
		md_op op = {0, 0};
		model_push(&m, 0, &op, 1);
	}
	/* both rows, once each, and a consistent catalog */
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(uri, false, &wh, &err), 0);
	strata_scan *sc;
	CU_ASSERT_EQUAL_FATAL(strata_scan_open(wh, "t", &(strata_read_opts){0}, &sc, &err), 0);
	const strata_row *row;
	const char *const *pv;
	size_t rows = 0;
	while (strata_scan_next(sc, &row, &pv, &err) == 1)
		rows++;
	strata_scan_close(sc);
	CU_ASSERT_EQUAL(rows, is_done ? 2u : 1u);
	strata_wh_close(wh);
	model_free(&m);
}

/* ---- a reader stopped inside its lease ------------------------------------------------------ */

typedef struct md_bg_lease {
	strata_mf *mf;
	uint32_t table_id;
	atomic_int done;
	uint64_t lease_id;
	int rc;
} md_bg_lease;

static void *bg_lease_main(void *arg)
{
	md_bg_lease *l = arg;
	strata_err err;
	l->rc = strata_mf_lease_take(l->mf, l->table_id, STRATA_LEASE_ALL, 60ll * 1000000,
				     &l->lease_id, &err);
	atomic_store(&l->done, 1);
	return NULL;
}

/* Every lease taken deletes the expired ones (manifest/lease.c).  A reader
 * stopped inside that transaction holds the row locks of what it deleted,
 * and every other reader's lease (every scan takes one) would wait on them
 * without bound: the catalog ends the stopped session within its idle
 * timeout (manifest/pg_kv.c invariant 7), and the others go on. */
static void test_reader_stopped_inside_its_lease(void)
{
	char uri[256];
	strata_wh *wh = md_one_bucket_wh("md_lease", uri, sizeof(uri));
	strata_err err;
	uint32_t table_id = md_table(wh, "t").id;
	/* a lease that has expired: the next take deletes it */
	uint64_t expired = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_lease_take(strata_wh_mf(wh), table_id, 1, 1, &expired, &err), 0);
	CU_ASSERT_FATAL(expired != 0);
	tud_sleep_ms(10);
	pid_t child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		/* a lease transaction that deleted the expired lease, then stops;
		 * exit 0 if its commit went through when continued, 3 if not */
		strata_wh *cw = NULL;
		strata_err cerr;
		mf_tx *tx = NULL;
		if (strata_wh_open(uri, false, &cw, &cerr) != 0 ||
		    mf_tx_begin(strata_wh_mf(cw), MF_TX_LEASE, &tx, &cerr) != 0)
			_exit(1);
		mf_key k = {.n = 0};
		mf_key_u64(&k, expired);
		MDB_val key = mf_val(&k);
		if (mf_del(tx, DB_LEASES, &key) != 0)
			_exit(1);
		raise(SIGSTOP);
		int rc = mf_tx_commit(tx, &cerr);
		_exit(rc == 0 ? 0 : 3);
	}
	CU_ASSERT_FATAL(md_wait_stopped(child));
	/* another reader takes a lease */
	md_bg_lease bg = {.mf = strata_wh_mf(wh), .table_id = table_id};
	pthread_t th;
	pthread_create(&th, NULL, bg_lease_main, &bg);
	double t0 = tud_now_s();
	bool is_done = md_wait_done(&bg.done, t0);
	fprintf(stderr, "\nanother reader's lease, while one is stopped inside its own: %s after "
			"%.1f s\n",
		is_done ? "taken" : "still waiting", tud_now_s() - t0);
	CU_ASSERT(is_done);
	kill(child, is_done ? SIGCONT : SIGKILL);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(bg.rc, 0);
	CU_ASSERT(bg.lease_id != 0);
	int code = tud_wait_exit(child, MD_WAIT_S);
	if (is_done)
		CU_ASSERT_EQUAL(code, 3); /* its session was ended */
	strata_mf_lease_release(strata_wh_mf(wh), bg.lease_id);
	strata_wh_close(wh);
}

static void register_multidaemon(void)
{
	tu_pg_start_or_skip();
	CU_pSuite s = CU_add_suite("multidaemon", NULL, NULL);
	TU_ADD(s, test_three_daemons_one_catalog);
	TU_ADD(s, test_writer_stopped_inside_its_commit);
	TU_ADD(s, test_reader_stopped_inside_its_lease);
}

TU_MAIN(register_multidaemon)
