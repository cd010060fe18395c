/*
 * manifest/lmdb.c — the LMDB backend of the manifest seam: the embedded
 * environment of a directory warehouse, its write-transaction runner, its
 * snapshots, its lease environment and the seam's primitives on them.
 *
 * A warehouse is a directory:
 *   <warehouse>/manifest/           the LMDB environment (data.mdb, lock.mdb)
 *   <warehouse>/manifest/leases/    the no-sync lease environment
 *   <warehouse>/data/<table>/...    data files
 *   <warehouse>/STRATA              a marker with the layout version
 *
 * Invariants:
 *   1. a write transaction either commits durably (MDB sync on; the call
 *      returns 0 only after mdb_txn_commit succeeded) or leaves nothing;
 *   2. the map grows only while no transaction of this process is open
 *      (grow_lock held exclusively), as LMDB requires;
 *   3. a failed commit is reported, never retried blindly: only MAP_FULL and
 *      MAP_RESIZED (nothing was written) lead to a retry after growing;
 *   4. reader slots of dead processes (killed inside a read transaction) are
 *      freed when a warehouse is opened and whenever the reader table is
 *      full, so processes that die never starve the ones that live.
 *   5. a map that cannot grow is a clean STRATA_EMAPFULL saying why and what
 *      to do, with nothing committed: the ceiling (1 TiB, or
 *      $STRATA_MF_MAP_MAX_BYTES; a process at it still adopts a larger map
 *      another process made, as it adopts one it is told of by
 *      MAP_RESIZED) is checked first, and so is the address
 *      space for the larger map — LMDB unmaps the old map before mapping the
 *      new one and is left with none if that fails.  Should a remap fail
 *      anyway, the handle is broken for good (is_broken): every later call
 *      is refused with the reason instead of touching the missing map.
 *   6. a commit that fails inside mdb_txn_commit (anything but MAP_FULL,
 *      which LMDB reports before writing) has an uncertain outcome: LMDB
 *      may have written its meta page.  The call returns STRATA_EUNCERTAIN
 *      and the handle is broken (is_broken) until it is reopened: no caller
 *      may act on a guess (unlink files the commit may have named, retry
 *      blindly), and every later call says why (shared/STYLE.md rule 7).
 *   7. LMDB never maps a file it cannot safely follow: before the first
 *      transaction of an existing warehouse, data.mdb must be present (only
 *      a create makes one) and at least as long as its committed last page
 *      (a shorter map is SIGBUS), and its page structure is walked
 *      (manifest/verify.c) under a read transaction — whole for manifests up
 *      to $STRATA_MF_VERIFY_MAX_BYTES (64 MiB), else by strata_mf_verify();
 *      damage is STRATA_ECORRUPT naming the file, never a signal or an empty
 *      table.
 *   8. a read-mode handle (STRATA_MF_READ) never writes the manifest: the
 *      environment is MDB_RDONLY (MDB_NOLOCK too when the lock file may not
 *      be written), sub-databases are never created, and leases are off
 *      (lease_env NULL, lease_off_reason says why) when the lease
 *      environment cannot be opened for writing;
 *   9. taking a lease needs no free space: the lease environment's file is
 *      allocated 1 MiB ahead (posix_fallocate, best effort) whenever it is
 *      opened, so LMDB's page writes land in blocks the file already owns
 *      on a full file system (and if one does not, lease.c reads on
 *      without a lease and says so).
 */
#include "manifest/manifest_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define LAYOUT_MARKER "strata warehouse layout 1\n"

void mf_lmdb_close(strata_mf *mf)
{
	if (mf->lease_env)
		mdb_env_close(mf->lease_env);
	if (mf->env)
		mdb_env_close(mf->env);
	mf->lease_env = mf->env = NULL;
}

/* Invariant 4: free the reader slots of processes that died holding one. */
int mf_readers_clear(MDB_env *env, const char *what)
{
	int dead = 0;
	int rc = mdb_reader_check(env, &dead);
	if (rc == 0 && dead > 0)
		LOG_WARN("freed %d reader slot%s of dead processes in the %s", dead,
			 dead == 1 ? "" : "s", what);
	return rc;
}

static uint64_t mf_map_size(MDB_env *env)
{
	MDB_envinfo info;
	mdb_env_info(env, &info);
	return info.me_mapsize;
}

/* Whether n bytes of address space can be mapped now (invariant 5). */
static bool can_map(uint64_t n)
{
	void *p = mmap(NULL, (size_t)n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	munmap(p, (size_t)n);
	return true;
}

static uint64_t initial_map_bytes(void)
{
	const char *s = getenv("STRATA_MF_MAP_BYTES");
	if (s && *s) {
		uint64_t v = strtoull(s, NULL, 10);
		if (v >= (1u << 20))
			return v;
	}
	return 4ull << 30;
}

static int open_env(const char *dir, unsigned flags, uint64_t map, unsigned maxdbs,
		    MDB_env **out, strata_err *err)
{
	MDB_env *env = NULL;
	int rc = mdb_env_create(&env);
	if (rc)
		return mf_kv_err(err, rc, "mdb_env_create");
	mdb_env_set_maxdbs(env, maxdbs);
	mdb_env_set_maxreaders(env, 1024);
	mdb_env_set_mapsize(env, map);
	rc = mdb_env_open(env, dir, flags | MDB_NOTLS, 0644);
	if (rc) {
		mdb_env_close(env);
		return strata_err_set(err, rc > 0 ? -rc : STRATA_EMANIFEST,
				      "could not open the manifest in \"%s\": %s", dir,
				      mdb_strerror(rc));
	}
	*out = env;
	return 0;
}

/* mf_verify_locked(): the map must be grown first (not a strata code; never
 * returned past this file). */
#define STRATA_EAGAIN_RESIZED (STRATA_EBASE + 1)

/* Bytes of data.mdb up to which every open walks the whole file (invariant
 * 6: one pread per page); larger manifests get the size check at open and
 * the full walk from strata_mf_verify() (`strata check`, clean, stratad). */

static uint64_t verify_max_bytes(void)
{
	const char *s = getenv("STRATA_MF_VERIFY_MAX_BYTES");
	if (s && *s)
		return strtoull(s, NULL, 10);
	return 64ull << 20;
}

/* Invariant 6: walk data.mdb under a read transaction, so that no writer
 * reuses a page of the snapshot being checked. */
static int mf_verify_locked(strata_mf *mf, bool is_opening, strata_err *err)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/manifest/data.mdb", mf->warehouse);
	for (int attempt = 0; attempt < 8; attempt++) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(mf->env, NULL, MDB_RDONLY, &txn);
		if (rc == MDB_READERS_FULL && attempt == 0) {
			mf_readers_clear(mf->env, "manifest");
			continue;
		}
		/* grown by another process: adopt its size (opening: no
		 * transaction of ours is open; else the caller grows) */
		if (rc == MDB_MAP_RESIZED && is_opening && can_map(mf_map_size(mf->env) * 2) &&
		    mdb_env_set_mapsize(mf->env, 0) == 0)
			continue;
		if (rc == MDB_MAP_RESIZED)
			return STRATA_EAGAIN_RESIZED;
		if (rc)
			return mf_kv_err(err, rc, "beginning a read transaction");
		rc = mf_verify_file(path, (uint64_t)mdb_txn_id(txn), true, err);
		mdb_txn_abort(txn);
		if (rc != STRATA_ECONFLICT)
			return rc;
	}
	return strata_err_set(err, STRATA_EBUSY, "could not verify \"%s\": it kept changing", path);
}

static int mf_grow(strata_mf *mf, bool is_double, strata_err *err);

int mf_lmdb_verify(strata_mf *mf, strata_err *err)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		pthread_rwlock_rdlock(&mf->grow_lock);
		int rc = mf->is_broken ?
				 strata_err_set(err, STRATA_EPOISONED, "%s", mf->broken_msg) :
				 mf_verify_locked(mf, false, err);
		pthread_rwlock_unlock(&mf->grow_lock);
		if (rc != STRATA_EAGAIN_RESIZED)
			return rc;
		if ((rc = mf_grow(mf, false, err)) != 0)
			return rc;
	}
	return strata_err_set(err, STRATA_EMANIFEST, "manifest map keeps being resized");
}

/* Bytes of the lease environment's file allocated ahead (invariant 9). */
#define LEASE_RESERVE_BYTES (1 << 20)

/* The lease environment; in read mode its absence (read-only file system,
 * no write permission, no space to create it) only turns leases off. */
static int open_leases(strata_mf *mf, const char *lpath, strata_err *err)
{
	int rc = open_env(lpath, MDB_NOSYNC, 256ull << 20, 4, &mf->lease_env, err);
	if (rc == 0) {
		/* invariant 9: blocks for leases reserved ahead, best effort */
		char dpath[4200];
		snprintf(dpath, sizeof(dpath), "%s/data.mdb", lpath);
		int fd = open(dpath, O_RDWR | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size < LEASE_RESERVE_BYTES)
			(void)posix_fallocate(fd, 0, LEASE_RESERVE_BYTES);
		if (fd >= 0)
			close(fd);
		mf_readers_clear(mf->lease_env, "lease environment");
		MDB_txn *txn;
		rc = mdb_txn_begin(mf->lease_env, NULL, 0, &txn);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "leases", MDB_CREATE, &mf->lease_dbi);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "daemons", MDB_CREATE, &mf->daemon_dbi);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc)
			rc = mf_kv_err(err, rc, "opening the lease database");
	}
	if (rc && mf->is_readonly) {
		snprintf(mf->lease_off_reason, sizeof(mf->lease_off_reason), "%s", err->msg);
		if (mf->lease_env)
			mdb_env_close(mf->lease_env);
		mf->lease_env = NULL;
		strata_err_clear(err);
		return 0;
	}
	return rc;
}

int mf_lmdb_open(strata_mf *mf, strata_mf_mode mode, strata_err *err)
{
	const char *warehouse = mf->warehouse;
	char path[4096], lpath[4096], marker[4096], dpath[4200];
	int rc;
	bool create = mode == STRATA_MF_CREATE;
	if (strlen(warehouse) > 3000)
		return strata_err_set(err, STRATA_EINVAL, "warehouse path is too long");
	snprintf(path, sizeof(path), "%s/manifest", warehouse);
	snprintf(lpath, sizeof(lpath), "%s/manifest/leases", warehouse);
	snprintf(marker, sizeof(marker), "%s/STRATA", warehouse);
	snprintf(dpath, sizeof(dpath), "%s/data.mdb", path);
	struct stat st;
	bool exists = strata_io()->stat(marker, &st) == 0;
	if (!exists && !create)
		return strata_err_set(err, STRATA_ENOTFOUND,
				      "\"%s\" is not a strata warehouse (run `strata init` "
				      "there first)",
				      warehouse);
	if (create) {
		char data[4096];
		snprintf(data, sizeof(data), "%s/data", warehouse);
		if ((rc = strata_io_mkdirs(lpath, 0755)) < 0 ||
		    (rc = strata_io_mkdirs(data, 0755)) < 0)
			return strata_err_set(err, rc, "could not create warehouse \"%s\": %s",
					      warehouse, strata_strerror(rc));
	}
	/* invariant 7: only a warehouse being created may lack its manifest; a
	 * truncated one is refused before LMDB maps it */
	if (exists) {
		rc = mf_verify_file(dpath, 0, false, err);
		if (rc)
			return rc;
	}
	if (mf->is_readonly) {
		/* a user who may not write the lock file reads without it
		 * (invariant 8) */
		rc = open_env(path, MDB_RDONLY, initial_map_bytes(), DB_COUNT + 2, &mf->env, err);
		if (rc == -EACCES || rc == -EPERM) {
			strata_err_clear(err);
			rc = open_env(path, MDB_RDONLY | MDB_NOLOCK, initial_map_bytes(), DB_COUNT + 2,
				      &mf->env, err);
		}
	} else {
		rc = open_env(path, 0, initial_map_bytes(), DB_COUNT + 2, &mf->env, err);
	}
	if (rc)
		goto fail;
	mf_readers_clear(mf->env, "manifest");
	if (strata_mf_open_hook)
		strata_mf_open_hook(warehouse);
	if (exists && strata_io()->stat(dpath, &st) == 0 &&
	    (uint64_t)st.st_size <= verify_max_bytes()) {
		rc = mf_verify_locked(mf, true, err); /* invariant 7 */
		if (rc == STRATA_EAGAIN_RESIZED)
			rc = mf_kv_err(err, MDB_MAP_RESIZED, "verifying the manifest");
		if (rc)
			goto fail;
	}

	/* open (and on first use create) every sub-database once */
	MDB_txn *txn;
	for (int attempt = 0;; attempt++) {
		rc = mdb_txn_begin(mf->env, NULL, mf->is_readonly ? MDB_RDONLY : 0, &txn);
		/* another process grew the map past ours since mdb_env_open():
		 * adopt its size (no transaction of ours is open) */
		if (rc != MDB_MAP_RESIZED || attempt >= 8 || !can_map(mf_map_size(mf->env) * 2) ||
		    mdb_env_set_mapsize(mf->env, 0) != 0)
			break;
	}
	MDB_envinfo info;
	mdb_env_info(mf->env, &info);
	mf->map_bytes = info.me_mapsize;
	if (rc) {
		rc = mf_kv_err(err, rc, "opening sub-databases");
		goto fail;
	}
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, mf_db_names[i], mf->is_readonly ? 0 : MDB_CREATE, &mf->dbi[i]);
		if (rc == MDB_NOTFOUND && (i == DB_TRASH || i == DB_INLINE) && mf->is_readonly) {
			/* a manifest from before the trash (inline) sub-database,
			 * read without write access: nothing is kept, nothing is
			 * inline (mf_lmdb_get) */
			mf->is_absent[i] = true;
			rc = 0;
			continue;
		}
		if (rc) {
			mdb_txn_abort(txn);
			if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
				rc = strata_err_set(err, STRATA_ECORRUPT,
						    "the manifest \"%s\" is damaged: its sub-database "
						    "\"%s\" is %s",
						    dpath, mf_db_names[i],
						    rc == MDB_NOTFOUND ? "missing" : "not a sub-database");
			else
				rc = mf_kv_err(err, rc, "opening sub-database");
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		rc = mf_kv_err(err, rc, "creating sub-databases");
		goto fail;
	}
	rc = open_leases(mf, lpath, err);
	if (rc)
		goto fail;
	if (!exists) {
		/* the marker goes last: a half-created warehouse has none */
		strata_wfile *f;
		rc = strata_wfile_open(marker, &f, err);
		if (rc == 0)
			rc = strata_wfile_write(f, LAYOUT_MARKER, strlen(LAYOUT_MARKER), err);
		if (rc == 0)
			rc = strata_wfile_commit(f, err);
		else
			strata_wfile_abort(f);
		if (rc == -EEXIST)
			rc = 0; /* another process initialised it concurrently */
		if (rc)
			goto fail;
	}
	return 0;
fail:
	mf_lmdb_close(mf);
	return rc;
}

void mf_lmdb_usage(strata_mf *mf, uint64_t *map_bytes, uint64_t *used_bytes)
{
	*map_bytes = *used_bytes = 0;
	pthread_rwlock_rdlock(&mf->grow_lock);
	if (!mf->is_broken) { /* invariant 5: both read the map */
		MDB_envinfo info;
		MDB_stat st;
		mdb_env_info(mf->env, &info);
		mdb_env_stat(mf->env, &st);
		*map_bytes = info.me_mapsize;
		*used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	}
	pthread_rwlock_unlock(&mf->grow_lock);
}

static uint64_t map_max_bytes(bool *is_env)
{
	const char *s = getenv("STRATA_MF_MAP_MAX_BYTES");
	*is_env = false;
	if (s && *s) {
		uint64_t v = strtoull(s, NULL, 10);
		if (v >= (1u << 20)) {
			*is_env = true;
			return v;
		}
	}
	return MF_MAP_MAX_BYTES;
}

static int broken_err(strata_mf *mf, strata_err *err)
{
	return strata_err_set(err, STRATA_EPOISONED, "%s", mf->broken_msg);
}

/* The map can no longer be used (set_mapsize failed, leaving none): mark
 * the handle broken and say so. */
static int mf_remap_failed(strata_mf *mf, int mrc, strata_err *err)
{
	mf->is_broken = true;
	snprintf(mf->broken_msg, sizeof(mf->broken_msg),
		 "the manifest of \"%.120s\" could not be mapped again after growing failed "
		 "(%s): nothing was committed; restart the process",
		 mf->warehouse, mdb_strerror(mrc));
	LOG_ERROR("%s", mf->broken_msg);
	return broken_err(mf, err);
}

/* With grow_lock held exclusively: adopt the map size recorded in the meta
 * page if it is larger than ours (from), else keep ours.  mf->map_bytes is
 * the size after. */
static int mf_adopt_larger(strata_mf *mf, uint64_t from, strata_err *err)
{
	MDB_envinfo info;
	int mrc = mdb_env_set_mapsize(mf->env, 0);
	if (mrc == 0) {
		mdb_env_info(mf->env, &info);
		if (info.me_mapsize < from) /* the meta's is smaller: back to ours */
			mrc = mdb_env_set_mapsize(mf->env, from);
	}
	if (mrc)
		return mf_remap_failed(mf, mrc, err);
	mdb_env_info(mf->env, &info);
	if (info.me_mapsize > from)
		LOG_INFO("manifest map adopted at %llu MiB (grown by another process)",
			 (unsigned long long)(info.me_mapsize >> 20));
	mf->map_bytes = info.me_mapsize;
	return 0;
}

/* Grow the map to twice its size, or (is_double false) adopt the size
 * another process grew it to.  Invariants 2 and 4. */
static int mf_grow(strata_mf *mf, bool is_double, strata_err *err)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	if (pthread_rwlock_timedwrlock(&mf->grow_lock, &deadline) != 0)
		return strata_err_set(err, STRATA_EMAPFULL,
				      "manifest map is full (%llu MiB) and could not grow while "
				      "other transactions stayed open: nothing was committed; retry",
				      (unsigned long long)(mf->map_bytes >> 20));
	int rc = 0;
	MDB_envinfo info;
	if (mf->is_broken) {
		rc = broken_err(mf, err);
		goto out;
	}
	mdb_env_info(mf->env, &info);
	uint64_t from = info.me_mapsize, to = from * 2;
	bool is_env;
	uint64_t max = map_max_bytes(&is_env);
	if (is_double && to > max) {
		/* at the cap: another process may have grown the map already,
		 * while our pages still fit ours (so we never saw MAP_RESIZED);
		 * its size is in the meta page, which set_mapsize(0) adopts */
		if (can_map(to) && ((rc = mf_adopt_larger(mf, from, err)) != 0 ||
				    mf->map_bytes > from))
			goto out;
		rc = strata_err_set(err, STRATA_EMAPFULL,
				    "manifest map is full at its limit of %llu MiB (%s): nothing was "
				    "committed; raise the limit or free manifest space (expire history: "
				    "shorter retention and `strata clean`; drop tags nobody needs), then "
				    "retry (docs/OPERATIONS.md, \"Manifest map full\")",
				    (unsigned long long)(from >> 20),
				    is_env ? "STRATA_MF_MAP_MAX_BYTES" : "the 1 TiB ceiling");
		goto out;
	}
	/* (an adopted size is the other process's: usually our double too) */
	if (!can_map(to)) {
		rc = strata_err_set(err, STRATA_EMAPFULL,
				    "could not grow the manifest map from %llu MiB%s: no address space "
				    "for %llu MiB more (a memory limit such as ulimit -v or a container "
				    "limit?): nothing was committed; lift the limit, then retry",
				    (unsigned long long)(from >> 20), is_double ? "" : " (grown by another "
				    "process)", (unsigned long long)(to >> 20));
		goto out;
	}
	int mrc = mdb_env_set_mapsize(mf->env, is_double ? to : 0);
	if (mrc) {
		/* the old map is gone and no new one exists: nothing may touch it */
		rc = mf_remap_failed(mf, mrc, err);
		goto out;
	}
	mdb_env_info(mf->env, &info);
	if (is_double)
		LOG_WARN("manifest map grown to %llu MiB", (unsigned long long)(info.me_mapsize >> 20));
	mf->map_bytes = info.me_mapsize;
out:
	pthread_rwlock_unlock(&mf->grow_lock);
	return rc;
}

/* Invariant 6: a commit failed inside mdb_txn_commit.  Called with
 * grow_lock held shared (so no grow writes the message meanwhile); the
 * first failure's message stays. */
static int commit_uncertain(strata_mf *mf, strata_err *err, int rc)
{
	/* a full file system under manifest/ is named as such (LMDB reports a
	 * short write as EIO) */
	char why[300], dir[4200];
	snprintf(why, sizeof(why), "%s", mdb_strerror(rc));
	snprintf(dir, sizeof(dir), "%s/manifest", mf->warehouse);
	struct statvfs sv;
	if ((rc == EIO || rc == ENOSPC || rc == EDQUOT) && statvfs(dir, &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		if (rc != EIO || avail < (16u << 20))
			snprintf(why, sizeof(why), "%s; the file system holding \"%.200s\" has %llu "
				 "KiB free", mdb_strerror(rc), dir, (unsigned long long)(avail >> 10));
	}
	char name[200], lead[400];
	snprintf(name, sizeof(name), "the manifest of \"%.100s\"", mf->warehouse);
	snprintf(lead, sizeof(lead), "manifest: commit failed: %s", why);
	return mf_uncertain(mf, name, why, lead, err);
}

/* Begin a transaction on the manifest (flags: 0 or MDB_RDONLY) with
 * grow_lock held shared, which stays held on success until the caller ends
 * the transaction (invariant 2): refuses a broken handle (invariant 5),
 * adopts a map another process grew, frees the reader slots of dead
 * processes once when the reader table is full (invariant 4). */
static int lmdb_begin(strata_mf *mf, unsigned flags, MDB_txn **txn, strata_err *err)
{
	const char *what = flags & MDB_RDONLY ? "beginning a read transaction" :
						"beginning a write transaction";
	for (int attempt = 0; attempt < 8; attempt++) {
		pthread_rwlock_rdlock(&mf->grow_lock);
		if (mf->is_broken) { /* invariant 5 */
			int brc = broken_err(mf, err);
			pthread_rwlock_unlock(&mf->grow_lock);
			return brc;
		}
		int rc = mdb_txn_begin(mf->env, NULL, flags, txn);
		if (rc == 0)
			return 0;
		pthread_rwlock_unlock(&mf->grow_lock);
		if (rc == MDB_READERS_FULL && attempt == 0) {
			mf_readers_clear(mf->env, "manifest"); /* invariant 4 */
			continue;
		}
		if (rc == MDB_MAP_RESIZED) {
			if ((rc = mf_grow(mf, false, err)) != 0)
				return rc;
			continue;
		}
		return mf_kv_err(err, rc, what);
	}
	return strata_err_set(err, STRATA_EMANIFEST, "manifest map keeps being resized");
}

static int lmdb_commit(void *txn)
{
	return mdb_txn_commit(txn);
}

static void lmdb_abort(void *txn)
{
	mdb_txn_abort(txn);
}

int mf_lmdb_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		MDB_txn *txn = NULL;
		int rc = lmdb_begin(mf, 0, &txn, err);
		if (rc)
			return rc;
		mf_tx tx = {.mf = mf, .kind = MF_TX_WRITE, .lmdb = txn};
		rc = fn(mf, &tx, ctx, err);
		if (rc) {
			mdb_txn_abort(txn);
			pthread_rwlock_unlock(&mf->grow_lock);
			if (rc == STRATA_EMAPFULL) {
				if ((rc = mf_grow(mf, true, err)) != 0)
					return rc;
				continue;
			}
			return rc;
		}
		rc = mf_commit_seams(lmdb_commit, lmdb_abort, txn); /* invariant 1 */
		if (rc && rc != MDB_MAP_FULL) {
			rc = commit_uncertain(mf, err, rc); /* invariants 3 and 6 */
			pthread_rwlock_unlock(&mf->grow_lock);
			return rc;
		}
		pthread_rwlock_unlock(&mf->grow_lock);
		if (rc == MDB_MAP_FULL) {
			if ((rc = mf_grow(mf, true, err)) != 0)
				return rc;
			continue;
		}
		return 0;
	}
	return strata_err_set(err, STRATA_EMAPFULL, "manifest map is full; growing did not help");
}

/* ---- transactions and the seam's primitives ------------------------------------------ */

static MDB_dbi lmdb_dbi(const mf_tx *tx, enum mf_db db)
{
	if (db == DB_LEASES)
		return tx->mf->lease_dbi;
	if (db == DB_DAEMONS)
		return tx->mf->daemon_dbi;
	return tx->mf->dbi[db];
}

/* A snapshot holds grow_lock shared until it ends (invariant 2); a lease
 * transaction runs on the lease environment, whose map never grows. */
int mf_lmdb_tx_begin(strata_mf *mf, mf_tx_kind kind, mf_tx **out, strata_err *err)
{
	*out = NULL;
	MDB_txn *txn;
	int rc;
	if (kind == MF_TX_LEASE) {
		rc = mdb_txn_begin(mf->lease_env, NULL, 0, &txn);
		if (rc == MDB_READERS_FULL) {
			mf_readers_clear(mf->lease_env, "lease environment");
			rc = mdb_txn_begin(mf->lease_env, NULL, 0, &txn);
		}
		if (rc)
			return mf_kv_err(err, rc, "lease transaction");
	} else if ((rc = lmdb_begin(mf, MDB_RDONLY, &txn, err)) != 0) {
		return rc; /* on success the read lock is held until the end */
	}
	mf_tx *tx = strata_calloc(1, sizeof(*tx));
	*tx = (mf_tx){.mf = mf, .kind = kind, .lmdb = txn};
	*out = tx;
	return 0;
}

int mf_lmdb_tx_commit(mf_tx *tx, strata_err *err)
{
	int rc = mdb_txn_commit(tx->lmdb);
	free(tx);
	return rc ? mf_kv_err(err, rc, "committing a lease transaction") : 0;
}

void mf_lmdb_tx_abort(mf_tx *tx)
{
	mdb_txn_abort(tx->lmdb);
	if (tx->kind == MF_TX_READ)
		pthread_rwlock_unlock(&tx->mf->grow_lock);
	free(tx);
}

int mf_lmdb_get(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val)
{
	if (db < DB_COUNT && tx->mf->is_absent[db])
		return MDB_NOTFOUND;
	return mdb_get(tx->lmdb, lmdb_dbi(tx, db), key, val);
}

int mf_lmdb_put(mf_tx *tx, enum mf_db db, MDB_val *key, MDB_val *val)
{
	return mdb_put(tx->lmdb, lmdb_dbi(tx, db), key, val, 0);
}

int mf_lmdb_del(mf_tx *tx, enum mf_db db, MDB_val *key)
{
	return mdb_del(tx->lmdb, lmdb_dbi(tx, db), key, NULL);
}

int mf_lmdb_cur_open(mf_tx *tx, enum mf_db db, MDB_cursor **out)
{
	if (db < DB_COUNT && tx->mf->is_absent[db]) {
		/* an absent sub-database reads as empty: no cursor, and
		 * MDB_NOTFOUND, which the trash's readers take for "none" */
		*out = NULL;
		return MDB_NOTFOUND;
	}
	return mdb_cursor_open(tx->lmdb, lmdb_dbi(tx, db), out);
}
