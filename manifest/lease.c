/*
 * manifest/lease.c — reader leases in a separate no-sync LMDB environment.
 *
 * A reader that resolved a file list takes a lease naming the version whose
 * file set it uses and an expiry; clean never deletes a file live at a leased
 * version.  Leases must not cost the read path a durable write, so they live
 * in their own environment opened with MDB_NOSYNC: a crash may lose a lease,
 * which is harmless because a crash also ends the reader that held it.
 * Point lookups take no lease: they finish far inside clean.grace_s.
 *
 * Invariant: lease ids are unique per environment (a counter in the same
 * database); an expired lease is ignored, and deleted by the next take.
 */
#include "manifest/manifest_int.h"

#include <string.h>
#include <unistd.h>

static void lease_enc(const strata_lease *l, strata_buf *b)
{
	mf_put_u8(b, 1);
	mf_put_u32(b, l->table_id);
	mf_put_u64(b, l->version);
	mf_put_u64(b, (uint64_t)l->expires_us);
	mf_put_u32(b, (uint32_t)l->pid);
}

static int lease_dec(const MDB_val *v, strata_lease *l)
{
	mf_dec d;
	mf_dec_init(&d, v);
	if (mf_get8(&d) != 1)
		return STRATA_ECORRUPT;
	l->table_id = mf_get32(&d);
	l->version = mf_get64(&d);
	l->expires_us = (int64_t)mf_get64(&d);
	l->pid = (int32_t)mf_get32(&d);
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* Delete expired leases (a crashed reader's), every take: the table is small. */
static int leases_prune(strata_mf *mf, MDB_txn *txn)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, mf->lease_dbi, &cur);
	if (rc)
		return rc;
	int64_t now = strata_now_us();
	MDB_val key, val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		strata_lease l;
		if (key.mv_size == 8 && lease_dec(&val, &l) == 0 && l.expires_us <= now) {
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int strata_mf_lease_take(strata_mf *mf, uint32_t table_id, uint64_t version, int64_t ttl_us,
			 uint64_t *lease_id, strata_err *err)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(mf->lease_env, NULL, 0, &txn);
	if (rc)
		return mf_lmdb_err(err, rc, "lease transaction");
	/* id counter under the empty key; leases under 8-byte ids */
	MDB_val ck = {.mv_size = 1, .mv_data = "\0"}, cv;
	uint64_t id = 1;
	rc = mdb_get(txn, mf->lease_dbi, &ck, &cv);
	if (rc == 0 && cv.mv_size == 8)
		id = mf_get_u64(cv.mv_data);
	mf_key nv = {.n = 0};
	mf_key_u64(&nv, id + 1);
	cv.mv_size = nv.n;
	cv.mv_data = nv.b;
	rc = mdb_put(txn, mf->lease_dbi, &ck, &cv, 0);
	if (rc == 0)
		rc = leases_prune(mf, txn);
	if (rc == 0) {
		strata_lease l = {.id = id, .table_id = table_id, .version = version,
				  .expires_us = strata_now_us() + ttl_us, .pid = getpid()};
		strata_buf b = {0};
		lease_enc(&l, &b);
		mf_key k = {.n = 0};
		mf_key_u64(&k, id);
		MDB_val key = mf_val(&k), val = {.mv_size = b.len, .mv_data = b.data};
		rc = mdb_put(txn, mf->lease_dbi, &key, &val, 0);
		strata_buf_free(&b);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return mf_lmdb_err(err, rc, "taking a lease");
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return mf_lmdb_err(err, rc, "taking a lease");
	*lease_id = id;
	return 0;
}

void strata_mf_lease_release(strata_mf *mf, uint64_t lease_id)
{
	if (!lease_id)
		return;
	MDB_txn *txn;
	if (mdb_txn_begin(mf->lease_env, NULL, 0, &txn))
		return;
	mf_key k = {.n = 0};
	mf_key_u64(&k, lease_id);
	MDB_val key = mf_val(&k);
	mdb_del(txn, mf->lease_dbi, &key, NULL);
	if (mdb_txn_commit(txn))
		LOG_WARN("could not release lease %llu (it expires by itself)",
			 (unsigned long long)lease_id);
}

int strata_mf_leases_list(strata_mf *mf, uint32_t table_id, strata_arena *a,
			  strata_lease **out, size_t *n, strata_err *err)
{
	*out = NULL;
	*n = 0;
	MDB_txn *txn;
	int rc = mdb_txn_begin(mf->lease_env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_READERS_FULL) {
		mf_readers_clear(mf->lease_env, "lease environment");
		rc = mdb_txn_begin(mf->lease_env, NULL, MDB_RDONLY, &txn);
	}
	if (rc)
		return mf_lmdb_err(err, rc, "lease transaction");
	MDB_cursor *cur;
	rc = mdb_cursor_open(txn, mf->lease_dbi, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return mf_lmdb_err(err, rc, "lease cursor");
	}
	int64_t now = strata_now_us();
	size_t cap = 0;
	MDB_val key, val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		strata_lease l;
		if (key.mv_size == 8 && lease_dec(&val, &l) == 0 && l.table_id == table_id &&
		    l.expires_us > now) {
			l.id = mf_get_u64(key.mv_data);
			if (*n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				strata_lease *nv = strata_arena_alloc(a, nc * sizeof(*nv));
				if (*n)
					memcpy(nv, *out, *n * sizeof(*nv));
				*out = nv;
				cap = nc;
			}
			(*out)[(*n)++] = l;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}
