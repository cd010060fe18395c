/*
 * manifest/lease.c — reader leases in the manifest's lease store: a separate
 * no-sync LMDB environment, or an UNLOGGED table of a PostgreSQL catalog.
 *
 * A reader that resolved a file list takes a lease naming the version whose
 * file set it uses and an expiry; clean never deletes a file live at a leased
 * version.  Leases must not cost the read path a durable write, so they live
 * in their own environment opened with MDB_NOSYNC: a crash may lose a lease,
 * which is harmless because a crash also ends the reader that held it.
 * Point lookups take no lease: they finish far inside clean.grace_s.
 *
 * A lease records its holder: pid, host name and boot id.  A lease whose
 * holder is gone — a process of this host (same host name) that no longer
 * exists, or one of an earlier boot of this host — is ignored like an
 * expired one: a reader killed with -9 does not pin files for the lease's
 * hour.  Leases of other hosts are judged by their expiry only.
 *
 * A lease is a convenience, never a condition of reading: when it cannot be
 * written (a read-only mount or permissions: the handle was opened with
 * STRATA_MF_READ and has no lease environment; a full file system; a full
 * lease map) the read goes on without one, protected by clean.grace_s only,
 * and says so once per handle on stderr.
 *
 * Invariants:
 *   1. lease ids are unique per environment (a counter in the same
 *      database); an expired or dead holder's lease is ignored, and deleted
 *      by the next take;
 *   2. strata_mf_lease_take() fails only for a programming error: storage
 *      problems give lease id 0 (no lease) and one warning.
 */
#include "manifest/manifest_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define LEASE_HOST_MAX 64
#define LEASE_BOOT_MAX 40

static char self_host[LEASE_HOST_MAX], self_boot[LEASE_BOOT_MAX];
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_init(void)
{
	if (gethostname(self_host, LEASE_HOST_MAX - 1) != 0)
		self_host[0] = '\0';
	self_host[LEASE_HOST_MAX - 1] = '\0';
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, self_boot, LEASE_BOOT_MAX - 1);
		self_boot[r > 0 ? r : 0] = '\0';
		char *nl = strchr(self_boot, '\n');
		if (nl)
			*nl = '\0';
		close(fd);
	}
}

/* This host's name and boot id (empty when /proc does not tell), read once
 * a process. */
static void lease_self(char *host, char *boot)
{
	pthread_once(&self_once, self_init);
	memcpy(host, self_host, LEASE_HOST_MAX);
	memcpy(boot, self_boot, LEASE_BOOT_MAX);
}

/* Record: u8 2, table, version, expiry, pid, host, boot id (version 1
 * records, without the last two, still decode). */
static void lease_enc(const strata_lease *l, const char *host, const char *boot, strata_buf *b)
{
	mf_put_u8(b, 2);
	mf_put_u32(b, l->table_id);
	mf_put_u64(b, l->version);
	mf_put_u64(b, (uint64_t)l->expires_us);
	mf_put_u32(b, (uint32_t)l->pid);
	mf_put_str(b, host);
	mf_put_str(b, boot);
}

static int lease_dec(const MDB_val *v, strata_lease *l)
{
	mf_dec d;
	mf_dec_init(&d, v);
	uint8_t ver = mf_get8(&d);
	if (ver != 1 && ver != 2)
		return STRATA_ECORRUPT;
	l->table_id = mf_get32(&d);
	l->version = mf_get64(&d);
	l->expires_us = (int64_t)mf_get64(&d);
	l->pid = (int32_t)mf_get32(&d);
	l->host[0] = l->boot_id[0] = '\0';
	if (ver == 2) {
		mf_getstr(&d, l->host, sizeof(l->host));
		mf_getstr(&d, l->boot_id, sizeof(l->boot_id));
	}
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

bool strata_lease_is_dead(const strata_lease *l)
{
	char host[LEASE_HOST_MAX], boot[LEASE_BOOT_MAX];
	if (!l->host[0])
		return false; /* a version 1 lease: its expiry tells */
	lease_self(host, boot);
	if (strcmp(l->host, host) != 0)
		return false; /* another host: only the expiry tells */
	if (l->boot_id[0] && boot[0] && strcmp(l->boot_id, boot) != 0)
		return true; /* taken before this host last booted */
	if (l->pid <= 0)
		return false;
	return kill((pid_t)l->pid, 0) != 0 && errno == ESRCH;
}

/* No lease for this read: say so once per handle (invariant 2). */
static int lease_skip(strata_mf *mf, uint64_t *lease_id, const char *why)
{
	*lease_id = 0;
	if (!mf->lease_said) {
		mf->lease_said = true;
		LOG_WARN("reading without a reader lease (%s): only clean.grace_s protects "
			 "this read's files from clean",
			 why);
	}
	return 0;
}

/* Delete expired leases (a crashed reader's), every take: the table is small. */
static int leases_prune(mf_tx *txn)
{
	mf_cur *cur;
	int rc = mf_cur_open(txn, DB_LEASES, &cur);
	if (rc)
		return rc;
	int64_t now = mf_tx_now(txn);
	MDB_val key, val;
	rc = mf_cur_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		strata_lease l;
		if (key.mv_size == 8 && lease_dec(&val, &l) == 0 &&
		    (l.expires_us <= now || strata_lease_is_dead(&l))) {
			rc = mf_cur_del(cur);
			if (rc)
				break;
		}
		rc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	mf_cur_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int strata_mf_lease_take(strata_mf *mf, uint32_t table_id, uint64_t version, int64_t ttl_us,
			 uint64_t *lease_id, strata_err *err)
{
	if (mf->lease_off_reason[0])
		return lease_skip(mf, lease_id, mf->lease_off_reason);
	mf_tx *txn;
	int rc = mf_tx_begin(mf, MF_TX_LEASE, &txn, err);
	if (rc)
		return lease_skip(mf, lease_id, err->msg);
	uint64_t id = 0;
	rc = mf_txn_counter_next(mf, txn, "next_lease_id", &id, err);
	if (rc == 0 && (rc = leases_prune(txn)) != 0)
		mf_kv_err(err, rc, "taking a lease");
	if (rc == 0) {
		strata_lease l = {.id = id, .table_id = table_id, .version = version,
				  .expires_us = mf_tx_now(txn) + ttl_us, .pid = getpid()};
		char host[LEASE_HOST_MAX], boot[LEASE_BOOT_MAX];
		lease_self(host, boot);
		strata_buf b = {0};
		lease_enc(&l, host, boot, &b);
		mf_key k = {.n = 0};
		mf_key_u64(&k, id);
		MDB_val key = mf_val(&k), val = {.mv_size = b.len, .mv_data = b.data};
		rc = mf_put(txn, DB_LEASES, &key, &val);
		strata_buf_free(&b);
		if (rc)
			mf_kv_err(err, rc, "taking a lease");
	}
	if (rc) {
		mf_tx_abort(txn);
		return lease_skip(mf, lease_id, err->msg);
	}
	/* a full file system: LMDB reports the short write as EIO */
	if (mf_tx_commit(txn, err))
		return lease_skip(mf, lease_id, err->msg);
	*lease_id = id;
	return 0;
}

void strata_mf_lease_release(strata_mf *mf, uint64_t lease_id)
{
	if (!lease_id || mf->lease_off_reason[0])
		return;
	mf_tx *txn;
	strata_err err;
	if (mf_tx_begin(mf, MF_TX_LEASE, &txn, &err))
		return;
	mf_key k = {.n = 0};
	mf_key_u64(&k, lease_id);
	MDB_val key = mf_val(&k);
	int rc = mf_del(txn, DB_LEASES, &key);
	if (rc && rc != MDB_NOTFOUND) {
		mf_tx_abort(txn);
		rc = -1;
	} else {
		rc = mf_tx_commit(txn, &err);
	}
	if (rc)
		LOG_WARN("could not release lease %llu (it expires by itself)",
			 (unsigned long long)lease_id);
}

int strata_mf_leases_list(strata_mf *mf, uint32_t table_id, strata_arena *a,
			  strata_lease **out, size_t *n, strata_err *err)
{
	*out = NULL;
	*n = 0;
	if (mf->lease_off_reason[0])
		return 0; /* a read-mode handle: it never cleans */
	mf_tx *txn;
	int rc = mf_tx_begin(mf, MF_TX_LEASE, &txn, err);
	if (rc)
		return rc;
	mf_cur *cur;
	rc = mf_cur_open(txn, DB_LEASES, &cur);
	if (rc) {
		mf_tx_abort(txn);
		return mf_kv_err(err, rc, "lease cursor");
	}
	int64_t now = mf_tx_now(txn);
	size_t cap = 0;
	MDB_val key, val;
	rc = mf_cur_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		strata_lease l;
		if (key.mv_size == 8 && lease_dec(&val, &l) == 0 && l.table_id == table_id &&
		    l.expires_us > now && !strata_lease_is_dead(&l)) {
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
		rc = mf_cur_get(cur, &key, &val, MDB_NEXT);
	}
	mf_cur_close(cur);
	mf_tx_abort(txn);
	if (rc != MDB_NOTFOUND)
		return mf_kv_err(err, rc, "listing leases");
	return 0;
}
