/*
 * manifest/env.c — opening a warehouse on its backend, the seam every other
 * file of manifest/ runs on, the write-transaction runner and every read of
 * a snapshot.
 *
 * A warehouse is named by a directory (the embedded LMDB manifest,
 * manifest/lmdb.c, with data files under <warehouse>/data) or by a
 * PostgreSQL URI postgresql://... (a shared catalog, manifest/pg_kv.c, whose
 * catalog_meta names the directory of the data files).  A directory
 * warehouse created with a data path (`strata init --data DIR|s3://B/P`)
 * records it in the file <warehouse>/DATA, written durably before the
 * STRATA marker (a half-created warehouse has no marker) and never changed
 * after.  A data path "s3://..." registers the S3 data store
 * (store/store.h) with core's data-store seam; the manifest itself still
 * only names files.  Above the seam
 * nothing knows which: commits, reads, leases and checks run on mf_tx
 * transactions over the sub-databases of enum mf_db.
 *
 * Invariants:
 *   1. a write transaction either commits (mf_write() returns 0 only when
 *      the backend acknowledged a durable commit) or leaves nothing, except
 *      an uncertain commit: STRATA_EUNCERTAIN, and the handle is broken
 *      (is_broken) until it is reopened, so that nobody acts on a guess;
 *   2. a write transaction that lost a serialization race on PostgreSQL
 *      (nothing was committed) is run again whole, fn included, with a
 *      jittered backoff: fn never keeps state across attempts but what it
 *      recomputes;
 *   3. a read-mode handle (STRATA_MF_READ) never writes the manifest
 *      (mf_write() refuses), and leases are off when the lease store cannot
 *      be written (lease_off_reason says why);
 *   4. times that several hosts must agree on come from mf_tx_now(): the
 *      catalog's clock on PostgreSQL;
 *   5. on PostgreSQL, a write body that ends without writing (a positive
 *      sentinel: a token already committed, nothing to do) still commits,
 *      after mf_pg_tx_barrier(), so that the answer is given only once the
 *      synchronous standby holds everything the body read: a commit whose
 *      standby wait was cancelled is visible on the primary before the
 *      standby has it, and its token retry must not acknowledge it there.
 */
#include "manifest/manifest_int.h"
#include "manifest/pg_int.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

const char *const mf_db_names[DB_ALL] = {
	"meta", "tables", "table_ids", "schemas", "parts", "partnames", "files",
	"fileids", "versions", "vtimes", "tokens", "buckets", "claims", "intents", "tags",
	"trash", "inline_files", "leases", "daemons",
};

void (*strata_mf_open_hook)(const char *warehouse);
atomic_ullong strata_mf_bucket_reads;
void (*strata_mf_commit_hook)(bool is_after, int rc);
int (*strata_mf_commit_fault)(bool is_after);

static void mf_free(strata_mf *mf)
{
	if (mf->backend == MF_PG)
		mf_pg_pool_close(mf->pg);
	else
		mf_lmdb_close(mf);
	pthread_rwlock_destroy(&mf->grow_lock);
	free(mf->warehouse);
	free(mf->data_dir);
	free(mf);
}

int strata_mf_open(const char *warehouse, bool create, strata_mf **out, strata_err *err)
{
	return strata_mf_open_mode(warehouse, create ? STRATA_MF_CREATE : STRATA_MF_WRITE, out,
				   err);
}

int strata_mf_open_mode(const char *warehouse, strata_mf_mode mode, strata_mf **out,
			strata_err *err)
{
	return strata_mf_open_data(warehouse, mode, NULL, out, err);
}

/* Whether a warehouse that is not a catalog URI looks like a URI anyway —
 * a scheme and ":/" ("postgresq://", "postgresql:/"), or "postgres..."
 * with "//" or '@' — most likely a mistyped catalog URI: refused, so that
 * no directory warehouse is made of it (nor its password printed as a
 * directory name). */
static bool looks_like_uri(const char *w)
{
	size_t n = 0;
	if ((w[0] >= 'A' && w[0] <= 'Z') || (w[0] >= 'a' && w[0] <= 'z'))
		n = strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-");
	if (n > 0 && w[n] == ':' && w[n + 1] == '/')
		return true;
	return strncasecmp(w, "postgres", 8) == 0 && (strstr(w, "//") || strchr(w, '@'));
}

/* The data path of directory warehouse wh, from <wh>/DATA, into out ("" when
 * the warehouse keeps its data in <wh>/data).  Creating with a data path
 * records it there first (before the STRATA marker, so a warehouse that has
 * a marker has its final DATA); an existing warehouse keeps its own and
 * refuses another. */
static int mf_data_file(const char *wh, strata_mf_mode mode, const char *data_path, char *out,
			size_t n, strata_err *err)
{
	char path[4200], marker[4200];
	snprintf(path, sizeof(path), "%s/DATA", wh);
	snprintf(marker, sizeof(marker), "%s/STRATA", wh);
	struct stat st;
	bool has_marker = strata_io()->stat(marker, &st) == 0;
	out[0] = '\0';
	int rc = 0;
	strata_rfile *f = NULL;
	strata_wfile *w = NULL;
	if (strata_io()->stat(path, &st) == 0 && (has_marker || !(data_path && *data_path))) {
		rc = strata_rfile_open(path, &f, err);
		uint64_t size = rc == 0 ? strata_rfile_size(f) : 0;
		if (rc == 0 && (size == 0 || size >= n))
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "\"%s\" is damaged: %llu bytes is no data path", path,
					    (unsigned long long)size);
		if (rc == 0)
			rc = strata_rfile_read(f, out, (size_t)size, 0, err);
		if (rc < 0)
			goto out;
		out[size] = '\0';
		out[strcspn(out, "\n")] = '\0';
		if (data_path && *data_path && strcmp(out, data_path) != 0)
			rc = strata_err_set(err, STRATA_EEXIST,
					    "warehouse \"%s\" exists with its data files in %s, not %s",
					    wh, out, data_path);
		goto out;
	}
	if (!(data_path && *data_path))
		goto out;
	if (mode != STRATA_MF_CREATE || has_marker) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "warehouse \"%s\" %s: its data path is chosen when it is "
				    "created (strata init --data)",
				    wh, has_marker ? "exists with its data files in its data/" : "does not exist");
		goto out;
	}
	if (data_path[0] != '/' && !strata_data_is_remote(data_path)) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "data path \"%s\" must be an absolute directory or "
				    "s3://BUCKET/PREFIX", data_path);
		goto out;
	}
	if (strlen(data_path) >= n - 200) {
		rc = strata_err_set(err, STRATA_ELIMIT, "data path \"%s\" is too long", data_path);
		goto out;
	}
	if ((rc = strata_io_mkdirs(wh, 0755)) < 0) {
		rc = strata_err_set(err, rc, "could not create warehouse \"%s\": %s", wh,
				    strata_strerror(rc));
		goto out;
	}
	rc = strata_wfile_open(path, &w, err);
	if (rc == -EEXIST) /* left by an init that died before its marker */
		rc = 0;
	if (rc == 0 && w)
		rc = strata_wfile_write(w, data_path, strlen(data_path), err);
	if (rc == 0 && w)
		rc = strata_wfile_write(w, "\n", 1, err);
	if (rc == 0 && w) {
		rc = strata_wfile_commit(w, err);
		w = NULL;
	}
	if (rc == 0)
		snprintf(out, n, "%s", data_path);
out:
	strata_rfile_close(f);
	strata_wfile_abort(w);
	return rc;
}

int strata_mf_open_data(const char *warehouse, strata_mf_mode mode, const char *data_path,
			strata_mf **out, strata_err *err)
{
	*out = NULL;
	if (strlen(warehouse) > 3000)
		return strata_err_set(err, STRATA_EINVAL, "warehouse path is too long");
	bool is_pg = mf_pg_is_uri(warehouse);
	if (!is_pg && looks_like_uri(warehouse)) {
		char shown[512];
		mf_pg_uri_redact(warehouse, shown, sizeof(shown));
		return strata_err_set(err, STRATA_EINVAL,
				      "warehouse \"%s\" is neither a directory nor a PostgreSQL "
				      "catalog URI: a catalog URI starts with postgresql:// or "
				      "postgres:// (a directory whose name looks like a URI can be "
				      "given as ./NAME); nothing was opened or created",
				      shown);
	}
	if (data_path && *data_path && strata_data_is_remote(data_path) &&
	    strncmp(data_path, "s3://", 5) != 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "data path \"%s\": the data files live in a directory or at "
				      "s3://BUCKET/PREFIX",
				      data_path);
	if (data_path && strncmp(data_path, "s3://", 5) == 0)
		strata_store_s3_register();
	char recorded[4096] = "";
	if (!is_pg) {
		int drc = mf_data_file(warehouse, mode, data_path, recorded, sizeof(recorded), err);
		if (drc < 0)
			return drc;
	}
	/* a catalog is created only with its data path (`strata init --data`);
	 * without one, "create if missing" opens an existing catalog */
	if (is_pg && mode == STRATA_MF_CREATE && !(data_path && *data_path))
		mode = STRATA_MF_WRITE;
	strata_mf *mf = strata_calloc(1, sizeof(*mf));
	pthread_rwlock_init(&mf->grow_lock, NULL);
	mf->warehouse = strata_strdup(warehouse);
	mf->is_readonly = mode == STRATA_MF_READ;
	int rc;
	if (is_pg) {
		char data[4096];
		mf->backend = MF_PG;
		rc = mf_pg_pool_open(warehouse, mode, data_path, &mf->pg, data, sizeof(data), err);
		if (rc == 0 && strncmp(data, "s3://", 5) == 0)
			strata_store_s3_register();
		if (rc == 0 && mode == STRATA_MF_CREATE)
			rc = strata_data_mkdirs(data, err);
		/* a read-mode handle still takes leases: they live in an
		 * UNLOGGED table, not in the manifest (a role that may not
		 * write it reads without one, said once) */
		if (rc == 0)
			mf->data_dir = strata_strdup(data);
	} else {
		char data[4096];
		if (recorded[0])
			snprintf(data, sizeof(data), "%s", recorded);
		else
			snprintf(data, sizeof(data), "%s/data", warehouse);
		if (strncmp(data, "s3://", 5) == 0)
			strata_store_s3_register();
		else if (recorded[0] && mode == STRATA_MF_CREATE &&
			 (rc = strata_data_mkdirs(data, err)) < 0)
			return rc;
		mf->data_dir = strata_strdup(data);
		mf->backend = MF_LMDB;
		rc = mf_lmdb_open(mf, mode, err);
	}
	if (rc) {
		mf_free(mf);
		return rc;
	}
	*out = mf;
	return 0;
}

void strata_mf_close(strata_mf *mf)
{
	if (mf)
		mf_free(mf);
}

const char *strata_mf_warehouse(const strata_mf *mf)
{
	return mf->warehouse;
}

void strata_warehouse_display(const char *warehouse, char *out, size_t n)
{
	if (mf_pg_is_uri(warehouse) || looks_like_uri(warehouse))
		mf_pg_uri_redact(warehouse, out, n);
	else
		snprintf(out, n, "%s", warehouse);
}

const char *strata_mf_data_dir(const strata_mf *mf)
{
	return mf->data_dir;
}

bool strata_mf_is_catalog(const strata_mf *mf)
{
	return mf->backend == MF_PG;
}

bool strata_mf_is_readonly(const strata_mf *mf)
{
	return mf->is_readonly;
}

bool strata_mf_is_broken(strata_mf *mf)
{
	return atomic_load(&mf->is_broken);
}

int strata_mf_verify(strata_mf *mf, strata_err *err)
{
	/* a catalog's pages are the database server's to check */
	return mf->backend == MF_PG ? 0 : mf_lmdb_verify(mf, err);
}

void strata_mf_usage(strata_mf *mf, uint64_t *map_bytes, uint64_t *used_bytes)
{
	*map_bytes = *used_bytes = 0;
	if (mf->backend == MF_LMDB)
		mf_lmdb_usage(mf, map_bytes, used_bytes);
}

int mf_uncertain(strata_mf *mf, const char *name, const char *why, const char *lead,
		 strata_err *err)
{
	static pthread_mutex_t msg_mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&msg_mu);
	if (!atomic_load(&mf->is_broken)) {
		snprintf(mf->broken_msg, sizeof(mf->broken_msg),
			 "%s is closed after a commit whose outcome is uncertain (%.200s): reopen "
			 "it (run the command again, restart stratad) to go on",
			 name, why);
		atomic_store(&mf->is_broken, true);
		LOG_ERROR("%s", mf->broken_msg);
	}
	pthread_mutex_unlock(&msg_mu);
	return strata_err_set(err, STRATA_EUNCERTAIN,
			      "%s: it may or may not have been committed (uncertain); this "
			      "manifest handle is closed until reopened and nothing the commit may "
			      "name was deleted; a writer retries with the same token (docs/CLI.md, "
			      "\"Idempotent writes\")",
			      lead);
}

/* Invariant 1 on PostgreSQL: the connection was lost during COMMIT. */
static int pg_uncertain(strata_mf *mf, strata_err *err)
{
	char name[200], why[300];
	snprintf(name, sizeof(name), "the catalog %.150s", mf_pg_pool_uri_safe(mf->pg));
	snprintf(why, sizeof(why), "%s", err->msg);
	return mf_uncertain(mf, name, why, why, err);
}

int mf_commit_seams(int (*commit)(void *), void (*abort_fn)(void *), void *arg)
{
	if (strata_mf_commit_hook)
		strata_mf_commit_hook(false, 0);
	/* a commit that fails before the backend commits */
	int rc = strata_mf_commit_fault ? strata_mf_commit_fault(false) : 0;
	if (rc)
		abort_fn(arg);
	else
		rc = commit(arg);
	if (strata_mf_commit_hook)
		strata_mf_commit_hook(true, rc);
	/* one that fails after the backend committed */
	if (rc == 0 && strata_mf_commit_fault)
		rc = strata_mf_commit_fault(true);
	return rc;
}

typedef struct pg_commit_ctx {
	mf_pg_tx *tx;
	strata_err *err;
} pg_commit_ctx;

static int pg_commit(void *arg)
{
	pg_commit_ctx *c = arg;
	return mf_pg_tx_commit(c->tx, c->err);
}

static void pg_abort(void *arg)
{
	mf_pg_tx_abort(((pg_commit_ctx *)arg)->tx);
}

/* Invariant 2: serialization failures are retried this many times. */
#define PG_WRITE_ATTEMPTS 40

static int pg_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err)
{
	unsigned seed = (unsigned)(strata_mono_us() ^ (uint64_t)getpid());
	int64_t backoff_us = 500;
	for (int attempt = 0; attempt < PG_WRITE_ATTEMPTS; attempt++) {
		if (attempt > 0) {
			int64_t us = backoff_us / 2 + rand_r(&seed) % (backoff_us / 2 + 1);
			struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};
			nanosleep(&ts, NULL);
			if (backoff_us < 100000)
				backoff_us *= 2;
		}
		mf_pg_tx *pt;
		int rc = mf_pg_tx_begin(mf->pg, MF_TX_WRITE, &pt, err);
		if (rc)
			return rc;
		mf_tx tx = {.mf = mf, .kind = MF_TX_WRITE, .pg = pt};
		rc = fn(mf, &tx, ctx, err);
		if (rc > 0) {
			/* invariant 5: nothing written; the COMMIT waits for the
			 * standby to hold what was read */
			int answer = rc;
			if (mf_pg_tx_barrier(pt) != 0) {
				bool is_retry = mf_pg_tx_is_retry(pt);
				mf_pg_tx_abort(pt);
				if (is_retry)
					continue;
				return mf_pg_last_err(err, "wait for the standby");
			}
			rc = mf_pg_tx_commit(pt, err);
			if (rc == 0)
				return answer;
			if (rc == STRATA_ECONFLICT)
				continue;
			if (rc == STRATA_EUNCERTAIN)
				return pg_uncertain(mf, err);
			return rc;
		}
		if (rc) {
			bool is_retry = mf_pg_tx_is_retry(pt);
			mf_pg_tx_abort(pt);
			if (is_retry)
				continue;
			return rc;
		}
		pg_commit_ctx cc = {.tx = pt, .err = err};
		rc = mf_commit_seams(pg_commit, pg_abort, &cc);
		if (rc > 0) { /* an injected fault: before or after the commit */
			strata_err_set(err, STRATA_EMANIFEST, "commit failed: %s (injected)",
				       strerror(rc));
			rc = STRATA_EUNCERTAIN;
		}
		if (rc == STRATA_ECONFLICT)
			continue; /* a serialization failure at COMMIT: nothing committed */
		if (rc == STRATA_EUNCERTAIN)
			return pg_uncertain(mf, err);
		return rc;
	}
	return strata_err_set(err, STRATA_ECONFLICT,
			      "catalog %s: a commit lost %d serialization races in a row; nothing was "
			      "committed; retry",
			      mf_pg_pool_uri_safe(mf->pg), PG_WRITE_ATTEMPTS);
}

int mf_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err)
{
	if (mf->is_readonly) /* invariant 3 */
		return strata_err_set(err, STRATA_EINVAL,
				      "the manifest of \"%.200s\" is open read-only: this command "
				      "only reads",
				      mf->backend == MF_PG ? mf_pg_pool_uri_safe(mf->pg) : mf->warehouse);
	if (atomic_load(&mf->is_broken))
		return strata_err_set(err, STRATA_EPOISONED, "%s", mf->broken_msg);
	return mf->backend == MF_PG ? pg_write(mf, fn, ctx, err) : mf_lmdb_write(mf, fn, ctx, err);
}

/* ---- the seam's primitives -------------------------------------------------------- */

struct mf_cur {
	MDB_cursor *lmdb;
	mf_pg_cur *pg;
};

int mf_tx_begin(strata_mf *mf, mf_tx_kind kind, mf_tx **out, strata_err *err)
{
	*out = NULL;
	if (mf->backend == MF_LMDB)
		return mf_lmdb_tx_begin(mf, kind, out, err);
	if (atomic_load(&mf->is_broken))
		return strata_err_set(err, STRATA_EPOISONED, "%s", mf->broken_msg);
	mf_pg_tx *pt;
	int rc = mf_pg_tx_begin(mf->pg, kind, &pt, err);
	if (rc)
		return rc;
	mf_tx *tx = strata_calloc(1, sizeof(*tx));
	*tx = (mf_tx){.mf = mf, .kind = kind, .pg = pt};
	*out = tx;
	return 0;
}

int mf_tx_commit(mf_tx *tx, strata_err *err)
{
	if (!tx->pg)
		return mf_lmdb_tx_commit(tx, err);
	int rc = mf_pg_tx_commit(tx->pg, err);
	free(tx);
	return rc;
}

void mf_tx_abort(mf_tx *tx)
{
	if (!tx)
		return;
	if (!tx->pg) {
		mf_lmdb_tx_abort(tx);
		return;
	}
	mf_pg_tx_abort(tx->pg);
	free(tx);
}

int mf_get(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val)
{
	return tx->pg ? mf_pg_get(tx->pg, db, key, val) : mf_lmdb_get(tx, db, key, val);
}

int mf_put(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val)
{
	return tx->pg ? mf_pg_put(tx->pg, db, key, val) : mf_lmdb_put(tx, db, key, val);
}

int mf_del(mf_tx *tx, enum mf_db db, MDB_val *key)
{
	return tx->pg ? mf_pg_del(tx->pg, db, key) : mf_lmdb_del(tx, db, key);
}

int mf_cur_open(mf_tx *tx, enum mf_db db, mf_cur **out)
{
	mf_cur *c = strata_calloc(1, sizeof(*c));
	int rc = tx->pg ? mf_pg_cur_open(tx->pg, db, &c->pg) : mf_lmdb_cur_open(tx, db, &c->lmdb);
	if (rc) {
		free(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

int mf_cur_get(mf_cur *c, MDB_val *key, MDB_val *val, MDB_cursor_op op)
{
	return c->pg ? mf_pg_cur_get(c->pg, key, val, op) : mdb_cursor_get(c->lmdb, key, val, op);
}

int mf_cur_del(mf_cur *c)
{
	return c->pg ? mf_pg_cur_del(c->pg) : mdb_cursor_del(c->lmdb, 0);
}

void mf_cur_close(mf_cur *c)
{
	if (!c)
		return;
	if (c->pg)
		mf_pg_cur_close(c->pg);
	else
		mdb_cursor_close(c->lmdb);
	free(c);
}

int64_t mf_tx_now(mf_tx *tx)
{
	/* a test's own clock wins, so that tests drive time on both backends */
	if (!tx->pg || strata_clock_is_set())
		return strata_now_us();
	return mf_pg_clock_us(tx->pg);
}

int mf_kv_err(strata_err *err, int rc, const char *what)
{
	if (rc == MF_RC_PG)
		return mf_pg_last_err(err, what);
	int code = rc == MDB_MAP_FULL ? STRATA_EMAPFULL :
		   rc > 0 ? -rc : STRATA_EMANIFEST;
	return strata_err_set(err, code, "manifest: %s failed: %s", what, mdb_strerror(rc));
}
/* ---- transaction helpers -------------------------------------------------------- */

int mf_txn_put(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *k,
	       const void *data, size_t n, strata_err *err)
{
	MDB_val key = mf_val(k);
	MDB_val val = {.mv_size = n, .mv_data = (void *)data};
	int rc = mf_put(txn, db, &key, &val);
	if (rc)
		return mf_kv_err(err, rc, "write");
	return 0;
}

int mf_txn_del(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *k,
	       strata_err *err)
{
	MDB_val key = mf_val(k);
	int rc = mf_del(txn, db, &key);
	if (rc && rc != MDB_NOTFOUND)
		return mf_kv_err(err, rc, "delete");
	return 0;
}

int mf_txn_counter_next(strata_mf *mf, mf_tx *txn, const char *name, uint64_t *out,
			strata_err *err)
{
	if (txn->pg)
		return mf_pg_counter_next(txn->pg, name, out, err);
	enum mf_db db = DB_META;
	mf_key k = {.n = 0};
	if (txn->kind == MF_TX_LEASE) {
		/* the lease store's one counter, under the key "\0" */
		db = DB_LEASES;
		mf_key_bytes(&k, "", 1);
		goto read;
	}
	mf_key_bytes(&k, name, strlen(name));
read:;
	MDB_val key = mf_val(&k), val;
	uint64_t next = 1;
	int rc = mf_get(txn, db, &key, &val);
	if (rc == 0 && val.mv_size == 8)
		next = mf_get_u64(val.mv_data);
	else if (rc != MDB_NOTFOUND && rc != 0)
		return mf_kv_err(err, rc, "read counter");
	*out = next;
	mf_key v = {.n = 0};
	mf_key_u64(&v, next + 1);
	return mf_txn_put(mf, txn, db, &k, v.b, v.n, err);
}

int mf_txn_table_get(strata_mf *mf, mf_tx *txn, const char *name, strata_table_def *t,
		     strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_bytes(&k, name, strlen(name));
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_TABLES, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown table \"%.80s\"", name);
	if (rc)
		return mf_kv_err(err, rc, "read table");
	if (mf_table_dec(&val, t))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "manifest record of table \"%.80s\" is damaged", name);
	return 0;
}

int mf_txn_table_put(strata_mf *mf, mf_tx *txn, const strata_table_def *t,
		     strata_err *err)
{
	strata_buf b = {0};
	mf_table_enc(t, &b);
	mf_key k = {.n = 0};
	mf_key_bytes(&k, t->name, strlen(t->name));
	int rc = mf_txn_put(mf, txn, DB_TABLES, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

static void bucket_key(mf_key *k, uint32_t table, uint32_t part, uint32_t bucket)
{
	k->n = 0;
	mf_key_u32(k, table);
	mf_key_u32(k, part);
	mf_key_u32(k, bucket);
}

int mf_txn_bucket_get(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
		      uint32_t bucket, strata_bucket_state *s, strata_err *err)
{
	mf_key k;
	bucket_key(&k, table, part, bucket);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_BUCKETS, &key, &val);
	if (rc == MDB_NOTFOUND) {
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if (rc)
		return mf_kv_err(err, rc, "read bucket state");
	if (mf_bucket_dec(&val, s))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "manifest bucket state %u/%u/%u is damaged", table, part,
				      bucket);
	return 0;
}

int mf_txn_bucket_put(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
		      uint32_t bucket, const strata_bucket_state *s, strata_err *err)
{
	mf_key k;
	bucket_key(&k, table, part, bucket);
	strata_buf b = {0};
	mf_bucket_enc(s, &b);
	int rc = mf_txn_put(mf, txn, DB_BUCKETS, &k, b.data, b.len, err);
	strata_buf_free(&b);
	return rc;
}

int mf_iter_prefix(strata_mf *mf, mf_tx *txn, enum mf_db db, const mf_key *prefix,
		   mf_iter_fn fn, void *ctx, strata_err *err)
{
	mf_cur *cur;
	int rc = mf_cur_open(txn, db, &cur);
	if (rc == MDB_NOTFOUND)
		return 0; /* an absent sub-database (lmdb.c: the trash, read-only) */
	if (rc)
		return mf_kv_err(err, rc, "open cursor");
	MDB_val key = mf_val(prefix), val;
	/* LMDB rejects a zero-length key (MDB_BAD_VALSIZE): an empty prefix
	 * means the whole database, from its first key */
	rc = mf_cur_get(cur, &key, &val, prefix->n ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (key.mv_size < prefix->n || memcmp(key.mv_data, prefix->b, prefix->n) != 0)
			break;
		int frc = fn(&key, &val, ctx);
		if (frc) {
			mf_cur_close(cur);
			return frc;
		}
		rc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	mf_cur_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return mf_kv_err(err, rc, "cursor");
	return 0;
}

/* Listing records: decode each value under a prefix and push it onto an
 * array in the caller's arena (doubling; the old array stays in the arena
 * until it is freed whole).  dec decodes one value into dst, non-zero if
 * the record is damaged (the listing then fails with STRATA_ECORRUPT and
 * the caller names what was damaged). */
typedef int (*mf_dec_fn)(const MDB_val *val, strata_arena *a, void *dst);

typedef struct mf_list {
	strata_arena *a;
	mf_dec_fn dec;
	size_t size; /* of one element */
	size_t max;  /* stop after this many (0: no limit) */
	void *v;
	size_t n, cap;
} mf_list;

#define MF_LIST(arena, decoder, type) \
	{ .a = (arena), .dec = (decoder), .size = sizeof(type) }

static int mf_list_push(const MDB_val *key, const MDB_val *val, void *ctx)
{
	mf_list *l = ctx;
	if (l->max && l->n >= l->max)
		return 1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *nv = strata_arena_alloc(l->a, cap * l->size);
		if (l->n)
			memcpy(nv, l->v, l->n * l->size);
		l->v = nv;
		l->cap = cap;
	}
	if (l->dec(val, l->a, (char *)l->v + l->n * l->size))
		return STRATA_ECORRUPT;
	l->n++;
	return 0;
}

static int dec_file(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_file_dec(v, a, dst);
}

static int dec_tag(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_tag_dec(v, dst);
}

static int dec_table(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_table_dec(v, dst);
}

static int dec_part(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_part_dec(v, dst);
}

static int dec_version(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_version_dec(v, a, dst, NULL, 0);
}

static int dec_intent(const MDB_val *v, strata_arena *a, void *dst)
{
	return mf_intent_dec(v, a, dst);
}

int mf_txn_bucket_files(strata_mf *mf, mf_tx *txn, uint32_t table, uint32_t part,
			uint32_t bucket, strata_arena *a, strata_file_entry **out, size_t *n,
			strata_err *err)
{
	mf_key k;
	bucket_key(&k, table, part, bucket);
	atomic_fetch_add_explicit(&strata_mf_bucket_reads, 1, memory_order_relaxed);
	mf_list c = MF_LIST(a, dec_file, strata_file_entry);
	int rc = mf_iter_prefix(mf, txn, DB_FILES, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "manifest file entry in bucket %u/%u/%u is damaged",
				      table, part, bucket);
	*out = c.v;
	*n = c.n;
	return rc;
}

int mf_txn_tags(strata_mf *mf, mf_tx *txn, uint32_t table, strata_arena *a,
		strata_tag **out, size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table);
	mf_list c = MF_LIST(a, dec_tag, strata_tag);
	int rc = mf_iter_prefix(mf, txn, DB_TAGS, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "manifest tag record is damaged");
	*out = c.v;
	*n = c.n;
	return rc;
}

/* ---- snapshots ------------------------------------------------------------------ */

int strata_mf_snap_open(strata_mf *mf, strata_mf_snap **out, strata_err *err)
{
	*out = NULL;
	mf_tx *tx;
	int rc = mf_tx_begin(mf, MF_TX_READ, &tx, err);
	if (rc)
		return rc;
	strata_mf_snap *s = strata_calloc(1, sizeof(*s));
	s->mf = mf;
	s->txn = tx;
	*out = s;
	return 0;
}

void strata_mf_snap_close(strata_mf_snap *s)
{
	if (!s)
		return;
	mf_tx_abort(s->txn);
	free(s);
}

int strata_mf_table_get(strata_mf_snap *s, const char *name, strata_table_def *out,
			strata_err *err)
{
	return mf_txn_table_get(s->mf, s->txn, name, out, err);
}

int strata_mf_tables_list(strata_mf_snap *s, strata_arena *a, strata_table_def **out,
			  size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_list c = MF_LIST(a, dec_table, strata_table_def);
	int rc = mf_iter_prefix(s->mf, s->txn, DB_TABLES, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "a manifest table record is damaged");
	*out = c.v;
	*n = c.n;
	return rc;
}

int strata_mf_schema_get(strata_mf_snap *s, uint32_t table_id, uint32_t schema_version,
			 strata_schema **out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u32(&k, schema_version);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(s->txn, DB_SCHEMAS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "schema version %u of table %u is missing",
				      schema_version, table_id);
	if (rc)
		return mf_kv_err(err, rc, "read schema");
	if (val.mv_size < 8)
		return strata_err_set(err, STRATA_ECORRUPT, "schema record is damaged");
	/* record: [u64 since version][schema JSON] */
	return strata_schema_from_json((const char *)val.mv_data + 8, val.mv_size - 8, out, err);
}

typedef struct schema_at_ctx {
	uint64_t v;
	uint32_t best;
	bool found;
} schema_at_ctx;

static int schema_at_cb(const MDB_val *key, const MDB_val *val, void *ctx)
{
	schema_at_ctx *c = ctx;
	if (key->mv_size != 8 || val->mv_size < 8)
		return STRATA_ECORRUPT;
	uint32_t ver = mf_get_u32((const uint8_t *)key->mv_data + 4);
	uint64_t since = mf_get_u64(val->mv_data);
	if (since <= c->v && (!c->found || ver > c->best)) {
		c->best = ver;
		c->found = true;
	}
	return 0;
}

int strata_mf_schema_at(strata_mf_snap *s, const strata_table_def *t, uint64_t v,
			strata_schema **out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, t->id);
	schema_at_ctx c = {.v = v};
	int rc = mf_iter_prefix(s->mf, s->txn, DB_SCHEMAS, &k, schema_at_cb, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "a schema record of table \"%s\" is damaged", t->name);
	if (rc)
		return rc;
	if (!c.found)
		return strata_err_set(err, STRATA_ENOTFOUND, "table \"%s\" has no schema at version %llu",
				      t->name, (unsigned long long)v);
	return strata_mf_schema_get(s, t->id, c.best, out, err);
}

typedef struct schemas_ctx {
	strata_schema **v;
	uint64_t *since;
	size_t n;
	strata_err *err;
} schemas_ctx;

static int schemas_cb(const MDB_val *key, const MDB_val *val, void *ctx)
{
	schemas_ctx *c = ctx;
	if (val->mv_size < 8)
		return STRATA_ECORRUPT;
	strata_schema *sc;
	if (strata_schema_from_json((const char *)val->mv_data + 8, val->mv_size - 8, &sc, c->err))
		return STRATA_ECORRUPT;
	c->v = strata_realloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->since = strata_realloc(c->since, (c->n + 1) * sizeof(*c->since));
	c->v[c->n] = sc;
	c->since[c->n] = mf_get_u64(val->mv_data);
	c->n++;
	return 0;
}

int strata_mf_schemas_list(strata_mf_snap *s, uint32_t table_id, strata_schema ***out,
			   uint64_t **since, size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	schemas_ctx c = {.err = err};
	int rc = mf_iter_prefix(s->mf, s->txn, DB_SCHEMAS, &k, schemas_cb, &c, err);
	if (rc) {
		for (size_t i = 0; i < c.n; i++)
			strata_schema_free(c.v[i]);
		free(c.v);
		free(c.since);
		return rc == STRATA_ECORRUPT ?
			       strata_err_set(err, rc, "a schema record of table %u is damaged",
					      table_id) :
			       rc;
	}
	*out = c.v;
	*since = c.since;
	*n = c.n;
	return 0;
}

int strata_mf_partitions(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			 strata_partition **out, size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_list c = MF_LIST(a, dec_part, strata_partition);
	int rc = mf_iter_prefix(s->mf, s->txn, DB_PARTS, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "a partition record is damaged");
	*out = c.v;
	*n = c.n;
	return rc;
}

int mf_txn_partition_get(strata_mf *mf, mf_tx *txn, uint32_t table_id, const char *name,
			 strata_partition *out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_bytes(&k, name, strlen(name));
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(txn, DB_PARTNAMES, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown partition \"%.200s\"", name);
	if (rc)
		return mf_kv_err(err, rc, "read partition");
	if (val.mv_size != 4)
		return strata_err_set(err, STRATA_ECORRUPT, "partition index is damaged");
	mf_key pk = {.n = 0};
	mf_key_u32(&pk, table_id);
	mf_key_u32(&pk, mf_get_u32(val.mv_data));
	key = mf_val(&pk);
	rc = mf_get(txn, DB_PARTS, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ?
			       strata_err_set(err, STRATA_ECORRUPT, "partition index points nowhere") :
			       mf_kv_err(err, rc, "read partition");
	if (mf_part_dec(&val, out))
		return strata_err_set(err, STRATA_ECORRUPT, "partition record is damaged");
	return 0;
}

int strata_mf_partition_get(strata_mf_snap *s, uint32_t table_id, const char *name,
			    strata_partition *out, strata_err *err)
{
	return mf_txn_partition_get(s->mf, s->txn, table_id, name, out, err);
}

int strata_mf_bucket_files(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			   uint32_t bucket, strata_arena *a, strata_file_entry **out,
			   size_t *n, strata_err *err)
{
	return mf_txn_bucket_files(s->mf, s->txn, table_id, part_id, bucket, a, out, n, err);
}

int strata_mf_table_files(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			  strata_file_entry **out, size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_list c = MF_LIST(a, dec_file, strata_file_entry);
	int rc = mf_iter_prefix(s->mf, s->txn, DB_FILES, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "a manifest file entry is damaged");
	*out = c.v;
	*n = c.n;
	return rc;
}

/* strata_mf_table_visit(): each value decoded as a brief on the stack and
 * handed to the caller's fn; a damaged one stops the visit, its file id
 * (from the key: [table][part][bucket][file id]) kept for the message. */
typedef struct mf_visit {
	strata_mf_brief_fn fn;
	void *arg;
	bool is_bad;
	uint64_t bad_id;
} mf_visit;

static int mf_visit_one(const MDB_val *key, const MDB_val *val, void *ctx)
{
	mf_visit *v = ctx;
	strata_file_brief b;
	if (mf_file_brief_dec(val, &b)) {
		v->is_bad = true;
		v->bad_id = key->mv_size == 20 ? mf_get_u64((const uint8_t *)key->mv_data + 12) : 0;
		return STRATA_ECORRUPT;
	}
	return v->fn(v->arg, &b);
}

static int mf_visit_prefix(strata_mf_snap *s, uint32_t table_id, const mf_key *k,
			   strata_mf_brief_fn fn, void *arg, strata_err *err)
{
	mf_visit v = {.fn = fn, .arg = arg};
	int rc = mf_iter_prefix(s->mf, s->txn, DB_FILES, k, mf_visit_one, &v, err);
	if (v.is_bad)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "manifest file entry %llu of table %u is damaged",
				      (unsigned long long)v.bad_id, table_id);
	return rc;
}

int strata_mf_table_visit(strata_mf_snap *s, uint32_t table_id, strata_mf_brief_fn fn,
			  void *arg, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	return mf_visit_prefix(s, table_id, &k, fn, arg, err);
}

int strata_mf_bucket_visit(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			   uint32_t bucket, strata_mf_brief_fn fn, void *arg, strata_err *err)
{
	mf_key k;
	bucket_key(&k, table_id, part_id, bucket);
	return mf_visit_prefix(s, table_id, &k, fn, arg, err);
}

int strata_mf_inline_attach(strata_mf_snap *s, strata_file_entry *fs, size_t n, strata_arena *a,
			    strata_err *err)
{
	for (size_t i = 0; i < n; i++) {
		strata_file_entry *f = &fs[i];
		if (!f->is_inline || f->inline_data)
			continue;
		mf_key k = {.n = 0};
		mf_key_u64(&k, f->id);
		MDB_val key = mf_val(&k), val;
		int rc = mf_get(s->txn, DB_INLINE, &key, &val);
		if (rc && rc != MDB_NOTFOUND)
			return mf_kv_err(err, rc, "read an inline row file");
		if (rc == MDB_NOTFOUND || val.mv_size != f->bytes)
			return strata_err_set(err, STRATA_ECORRUPT,
					      "the bytes of inline row file %s (entry %llu) are %s",
					      f->name, (unsigned long long)f->id,
					      rc == MDB_NOTFOUND ? "missing from the manifest" :
								   "not its size");
		f->inline_data = strata_arena_dup(a, val.mv_data, val.mv_size);
		f->inline_len = (uint32_t)val.mv_size;
	}
	return 0;
}

int strata_mf_brief_entry(const strata_file_brief *b, strata_arena *a, strata_file_entry *out)
{
	MDB_val v = {.mv_size = b->rec_len, .mv_data = (void *)b->rec};
	if (!b->rec)
		return STRATA_ECORRUPT;
	return mf_file_dec(&v, a, out);
}

int strata_mf_bucket_state_get(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			       uint32_t bucket, strata_bucket_state *out, strata_err *err)
{
	return mf_txn_bucket_get(s->mf, s->txn, table_id, part_id, bucket, out, err);
}

int strata_mf_version_get(strata_mf_snap *s, uint32_t table_id, uint64_t v,
			  strata_arena *a, strata_version_rec *out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u64(&k, v);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(s->txn, DB_VERSIONS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "version %llu is not in the log",
				      (unsigned long long)v);
	if (rc)
		return mf_kv_err(err, rc, "read version");
	if (mf_version_dec(&val, a, out, NULL, 0))
		return strata_err_set(err, STRATA_ECORRUPT, "version record %llu is damaged",
				      (unsigned long long)v);
	return 0;
}

static uint64_t ts_key(int64_t ts)
{
	return (uint64_t)ts ^ (1ull << 63);
}

int strata_mf_version_at_time(strata_mf_snap *s, uint32_t table_id, int64_t ts_us,
			      uint64_t *out, strata_err *err)
{
	mf_cur *cur;
	int rc = mf_cur_open(s->txn, DB_VTIMES, &cur);
	if (rc)
		return mf_kv_err(err, rc, "open cursor");
	/* position at the first entry after ts, then step back once */
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u64(&k, ts_us == INT64_MAX ? UINT64_MAX : ts_key(ts_us + 1));
	MDB_val key = mf_val(&k), val;
	rc = mf_cur_get(cur, &key, &val, MDB_SET_RANGE);
	/* the first version committed after ts, if the log still has one */
	uint64_t next = 0;
	if (rc == 0 && key.mv_size == 12 && mf_get_u32(key.mv_data) == table_id &&
	    val.mv_size == 8)
		next = mf_get_u64(val.mv_data);
	if (rc == 0)
		rc = mf_cur_get(cur, &key, &val, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mf_cur_get(cur, &key, &val, MDB_LAST);
	int ret = 0;
	/* Versions are dense, so the answer is v only if v + 1 (when there is a
	 * later version) is the next one in the index.  Otherwise the versions
	 * between them were expired and one of them was current at ts: v may be
	 * an older version kept only because it is tagged. */
	if (rc == 0 && key.mv_size == 12 && mf_get_u32(key.mv_data) == table_id &&
	    val.mv_size == 8 && (next == 0 || next == mf_get_u64(val.mv_data) + 1)) {
		*out = mf_get_u64(val.mv_data);
	} else if (rc == 0 || rc == MDB_NOTFOUND) {
		ret = strata_err_set(err, STRATA_ENOTFOUND,
				     "no version of the table was committed at or before that time");
	} else {
		ret = mf_kv_err(err, rc, "cursor");
	}
	mf_cur_close(cur);
	return ret;
}

int strata_mf_versions_list(strata_mf_snap *s, uint32_t table_id, uint64_t v_from,
			    size_t max, strata_arena *a, strata_version_rec **out,
			    size_t *n, strata_err *err)
{
	mf_cur *cur;
	int rc = mf_cur_open(s->txn, DB_VERSIONS, &cur);
	if (rc)
		return mf_kv_err(err, rc, "open cursor");
	mf_list c = MF_LIST(a, dec_version, strata_version_rec);
	c.max = max;
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u64(&k, v_from);
	MDB_val key = mf_val(&k), val;
	rc = mf_cur_get(cur, &key, &val, MDB_SET_RANGE);
	int ret = 0;
	while (rc == 0 && key.mv_size == 12 && mf_get_u32(key.mv_data) == table_id) {
		int frc = mf_list_push(&key, &val, &c);
		if (frc == 1)
			break;
		if (frc) {
			ret = strata_err_set(err, frc, "a version record is damaged");
			break;
		}
		rc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	if (!ret && rc && rc != MDB_NOTFOUND)
		ret = mf_kv_err(err, rc, "cursor");
	mf_cur_close(cur);
	*out = c.v;
	*n = c.n;
	return ret;
}

int strata_mf_tags_list(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			strata_tag **out, size_t *n, strata_err *err)
{
	return mf_txn_tags(s->mf, s->txn, table_id, a, out, n, err);
}

int strata_mf_tag_get(strata_mf_snap *s, uint32_t table_id, const char *tag,
		      strata_tag *out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_bytes(&k, tag, strlen(tag));
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(s->txn, DB_TAGS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown tag \"%.80s\"", tag);
	if (rc)
		return mf_kv_err(err, rc, "read tag");
	if (mf_tag_dec(&val, out))
		return strata_err_set(err, STRATA_ECORRUPT, "tag record \"%.80s\" is damaged", tag);
	return 0;
}

int strata_mf_intents_list(strata_mf_snap *s, strata_arena *a, strata_intent **out,
			   size_t *n, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_list c = MF_LIST(a, dec_intent, strata_intent);
	int rc = mf_iter_prefix(s->mf, s->txn, DB_INTENTS, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "an intent record is damaged");
	*out = c.v;
	*n = c.n;
	return rc;
}

int strata_mf_claim_get(strata_mf_snap *s, uint32_t table_id, uint32_t part_id,
			uint32_t bucket, strata_claim *out, strata_err *err)
{
	mf_key k;
	bucket_key(&k, table_id, part_id, bucket);
	MDB_val key = mf_val(&k), val;
	int rc = mf_get(s->txn, DB_CLAIMS, &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "no claim");
	if (rc)
		return mf_kv_err(err, rc, "read claim");
	if (mf_claim_dec(&val, out))
		return strata_err_set(err, STRATA_ECORRUPT, "claim record is damaged");
	return 0;
}

int strata_mf_trash_list(strata_mf_snap *s, uint32_t table_id, strata_arena *a,
			 strata_trash_unit **out, size_t *n, strata_err *err)
{
	return mf_txn_trash_units(s->mf, s->txn, table_id, a, out, n, err);
}
