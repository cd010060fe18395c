/*
 * manifest/daemons.c — the daemons of a warehouse: each stratad records a
 * heartbeat in the lease store (DB_DAEMONS: not durable, like leases), and
 * every stratad reads the live ones to split the planning work among them
 * (daemon/share.c).  Claims stay the safety net: two daemons that disagree
 * about who is alive for a moment plan a bucket twice, and one of them
 * loses the claim.
 *
 * Invariants:
 *   1. liveness is judged by the transaction's clock (mf_tx_now(): the
 *      catalog's on PostgreSQL), so hosts with skewed clocks agree on it;
 *   1a. a heartbeat of a process of this host that no longer exists is
 *      ignored (strata_lease_is_dead()), so a daemon killed with -9 hands
 *      its share on at the others' next scan, not peer_ttl_s later;
 *   2. a heartbeat that cannot be written (read-only handle) is an error
 *      to the caller, never a crash; the list is then whatever was read.
 */
#include "manifest/manifest_int.h"

#include <string.h>
#include <unistd.h>

/* Record: u8 1, host, pid, started, beat, expires. */
static void daemon_enc(const strata_daemon_rec *r, strata_buf *b)
{
	mf_put_u8(b, 1);
	mf_put_str(b, r->host);
	mf_put_u32(b, (uint32_t)r->pid);
	mf_put_u64(b, (uint64_t)r->started_us);
	mf_put_u64(b, (uint64_t)r->beat_us);
	mf_put_u64(b, (uint64_t)r->expires_us);
	mf_put_str(b, r->info);
}

static int daemon_dec(const MDB_val *k, const MDB_val *v, strata_daemon_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (k->mv_size == 0 || k->mv_size >= sizeof(r->owner))
		return STRATA_ECORRUPT;
	memcpy(r->owner, k->mv_data, k->mv_size);
	mf_dec d;
	mf_dec_init(&d, v);
	if (mf_get8(&d) != 1)
		return STRATA_ECORRUPT;
	mf_getstr(&d, r->host, sizeof(r->host));
	r->pid = (int32_t)mf_get32(&d);
	r->started_us = (int64_t)mf_get64(&d);
	r->beat_us = (int64_t)mf_get64(&d);
	r->expires_us = (int64_t)mf_get64(&d);
	mf_getstr(&d, r->info, sizeof(r->info));
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

static int lease_store_off(strata_mf *mf, strata_err *err)
{
	return strata_err_set(err, STRATA_EINVAL, "no daemon heartbeats: %s",
			      mf->lease_off_reason);
}

int strata_mf_daemon_beat(strata_mf *mf, const strata_daemon_rec *self, int64_t ttl_us,
			  int64_t *now_us, strata_err *err)
{
	if (mf->lease_off_reason[0])
		return lease_store_off(mf, err);
	size_t on = strlen(self->owner);
	if (on == 0 || on >= sizeof(self->owner))
		return strata_err_set(err, STRATA_EINVAL, "a daemon needs an owner name");
	mf_tx *tx;
	int rc = mf_tx_begin(mf, MF_TX_LEASE, &tx, err);
	if (rc)
		return rc;
	strata_daemon_rec r = *self;
	r.beat_us = mf_tx_now(tx);
	r.expires_us = r.beat_us + ttl_us;
	if (now_us)
		*now_us = r.beat_us;
	strata_buf b = {0};
	daemon_enc(&r, &b);
	MDB_val key = {.mv_size = on, .mv_data = (void *)self->owner};
	MDB_val val = {.mv_size = b.len, .mv_data = b.data};
	rc = mf_put(tx, DB_DAEMONS, &key, &val);
	strata_buf_free(&b);
	if (rc) {
		mf_tx_abort(tx);
		return mf_kv_err(err, rc, "recording a daemon heartbeat");
	}
	return mf_tx_commit(tx, err);
}

int strata_mf_daemon_leave(strata_mf *mf, const char *owner, strata_err *err)
{
	if (mf->lease_off_reason[0])
		return lease_store_off(mf, err);
	mf_tx *tx;
	int rc = mf_tx_begin(mf, MF_TX_LEASE, &tx, err);
	if (rc)
		return rc;
	MDB_val key = {.mv_size = strlen(owner), .mv_data = (void *)owner};
	rc = mf_del(tx, DB_DAEMONS, &key);
	if (rc && rc != MDB_NOTFOUND) {
		mf_tx_abort(tx);
		return mf_kv_err(err, rc, "removing a daemon heartbeat");
	}
	return mf_tx_commit(tx, err);
}

int strata_mf_daemons_list(strata_mf *mf, strata_arena *a, strata_daemon_rec **out,
			   size_t *n, strata_err *err)
{
	*out = NULL;
	*n = 0;
	if (mf->lease_off_reason[0])
		return 0;
	mf_tx *tx;
	int rc = mf_tx_begin(mf, MF_TX_LEASE, &tx, err);
	if (rc)
		return rc;
	mf_cur *cur;
	rc = mf_cur_open(tx, DB_DAEMONS, &cur);
	if (rc) {
		mf_tx_abort(tx);
		return mf_kv_err(err, rc, "listing daemons");
	}
	int64_t now = mf_tx_now(tx);
	size_t cap = 0;
	MDB_val key, val;
	rc = mf_cur_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		strata_daemon_rec r;
		/* a daemon of this host that died (kill -9) is gone at once, like
		 * a lease of a dead reader */
		bool is_live = daemon_dec(&key, &val, &r) == 0 && r.expires_us > now;
		strata_lease holder = {.pid = r.pid};
		snprintf(holder.host, sizeof(holder.host), "%s", r.host);
		if (is_live && !strata_lease_is_dead(&holder)) {
			if (*n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				strata_daemon_rec *nv = strata_arena_alloc(a, nc * sizeof(*nv));
				if (*n)
					memcpy(nv, *out, *n * sizeof(*nv));
				*out = nv;
				cap = nc;
			}
			(*out)[(*n)++] = r;
		}
		rc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	mf_cur_close(cur);
	mf_tx_abort(tx);
	if (rc != MDB_NOTFOUND)
		return mf_kv_err(err, rc, "listing daemons");
	return 0;
}
