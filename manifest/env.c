/*
 * manifest/env.c — opening the warehouse, the write-transaction runner and
 * every read of a snapshot.
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
 *      $STRATA_MF_MAP_MAX_BYTES) is checked first, and so is the address
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

static const char *const db_names[DB_COUNT] = {
	"meta", "tables", "table_ids", "schemas", "parts", "partnames", "files",
	"fileids", "versions", "vtimes", "tokens", "buckets", "claims", "intents", "tags",
};

#define LAYOUT_MARKER "strata warehouse layout 1\n"

int mf_lmdb_err(strata_err *err, int rc, const char *what)
{
	int code = rc == MDB_MAP_FULL ? STRATA_EMAPFULL :
		   rc > 0 ? -rc : STRATA_EMANIFEST;
	return strata_err_set(err, code, "manifest: %s failed: %s", what, mdb_strerror(rc));
}

static void mf_free(strata_mf *mf)
{
	if (mf->lease_env)
		mdb_env_close(mf->lease_env);
	if (mf->env)
		mdb_env_close(mf->env);
	pthread_rwlock_destroy(&mf->grow_lock);
	free(mf->warehouse);
	free(mf);
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

void (*strata_mf_open_hook)(const char *warehouse);

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
		return mf_lmdb_err(err, rc, "mdb_env_create");
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
			return mf_lmdb_err(err, rc, "beginning a read transaction");
		rc = mf_verify_file(path, (uint64_t)mdb_txn_id(txn), true, err);
		mdb_txn_abort(txn);
		if (rc != STRATA_ECONFLICT)
			return rc;
	}
	return strata_err_set(err, STRATA_EBUSY, "could not verify \"%s\": it kept changing", path);
}

static int mf_grow(strata_mf *mf, bool is_double, strata_err *err);

int strata_mf_verify(strata_mf *mf, strata_err *err)
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

bool strata_mf_is_readonly(const strata_mf *mf)
{
	return mf->is_readonly;
}

/* Bytes of the lease environment's file allocated ahead (invariant 9). */
#define LEASE_RESERVE_BYTES (1 << 20)

/* The lease environment; in read mode its absence (read-only file system,
 * no write permission, no space to create it) only turns leases off. */
static int open_leases(strata_mf *mf, const char *lpath, strata_err *err)
{
	int rc = open_env(lpath, MDB_NOSYNC, 256ull << 20, 2, &mf->lease_env, err);
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
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc)
			rc = mf_lmdb_err(err, rc, "opening the lease database");
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

int strata_mf_open(const char *warehouse, bool create, strata_mf **out, strata_err *err)
{
	return strata_mf_open_mode(warehouse, create ? STRATA_MF_CREATE : STRATA_MF_WRITE, out,
				   err);
}

int strata_mf_open_mode(const char *warehouse, strata_mf_mode mode, strata_mf **out,
			strata_err *err)
{
	*out = NULL;
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
	strata_mf *mf = strata_calloc(1, sizeof(*mf));
	pthread_rwlock_init(&mf->grow_lock, NULL);
	mf->warehouse = strata_strdup(warehouse);
	mf->is_readonly = mode == STRATA_MF_READ;
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
			rc = mf_lmdb_err(err, MDB_MAP_RESIZED, "verifying the manifest");
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
		rc = mf_lmdb_err(err, rc, "opening sub-databases");
		goto fail;
	}
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], mf->is_readonly ? 0 : MDB_CREATE, &mf->dbi[i]);
		if (rc) {
			mdb_txn_abort(txn);
			if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
				rc = strata_err_set(err, STRATA_ECORRUPT,
						    "the manifest \"%s\" is damaged: its sub-database "
						    "\"%s\" is %s",
						    dpath, db_names[i],
						    rc == MDB_NOTFOUND ? "missing" : "not a sub-database");
			else
				rc = mf_lmdb_err(err, rc, "opening sub-database");
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		rc = mf_lmdb_err(err, rc, "creating sub-databases");
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
	*out = mf;
	return 0;
fail:
	mf_free(mf);
	return rc;
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

void strata_mf_usage(strata_mf *mf, uint64_t *map_bytes, uint64_t *used_bytes)
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
		mf->is_broken = true;
		snprintf(mf->broken_msg, sizeof(mf->broken_msg),
			 "the manifest of \"%.120s\" could not be mapped again after growing failed "
			 "(%s): nothing was committed; restart the process",
			 mf->warehouse, mdb_strerror(mrc));
		LOG_ERROR("%s", mf->broken_msg);
		rc = broken_err(mf, err);
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

void (*strata_mf_commit_hook)(bool is_after, int rc);
int (*strata_mf_commit_fault)(bool is_after);

bool strata_mf_is_broken(strata_mf *mf)
{
	return atomic_load(&mf->is_broken);
}

/* Invariant 6: a commit failed inside mdb_txn_commit.  Called with
 * grow_lock held shared (so no grow writes the message meanwhile); the
 * first failure's message stays. */
static int commit_uncertain(strata_mf *mf, strata_err *err, int rc)
{
	static pthread_mutex_t msg_mu = PTHREAD_MUTEX_INITIALIZER;
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
	pthread_mutex_lock(&msg_mu);
	if (!atomic_load(&mf->is_broken)) {
		snprintf(mf->broken_msg, sizeof(mf->broken_msg),
			 "the manifest of \"%.100s\" is closed after a commit whose outcome is "
			 "uncertain (%.200s): reopen it (run the command again, restart stratad) to go "
			 "on", mf->warehouse, why);
		atomic_store(&mf->is_broken, true);
		LOG_ERROR("%s", mf->broken_msg);
	}
	pthread_mutex_unlock(&msg_mu);
	return strata_err_set(err, STRATA_EUNCERTAIN,
			      "manifest: commit failed: %s: it may or may not have been committed "
			      "(uncertain); this manifest handle is closed until reopened and nothing "
			      "the commit may name was deleted; a writer retries with the same token "
			      "(docs/CLI.md, \"Idempotent writes\")",
			      why);
}

int mf_write(strata_mf *mf, mf_write_fn fn, void *ctx, strata_err *err)
{
	if (mf->is_readonly) /* invariant 8 */
		return strata_err_set(err, STRATA_EINVAL,
				      "the manifest of \"%.200s\" is open read-only: this command "
				      "only reads",
				      mf->warehouse);
	for (int attempt = 0; attempt < 8; attempt++) {
		pthread_rwlock_rdlock(&mf->grow_lock);
		if (mf->is_broken) { /* invariant 5 */
			int brc = broken_err(mf, err);
			pthread_rwlock_unlock(&mf->grow_lock);
			return brc;
		}
		MDB_txn *txn = NULL;
		int rc = mdb_txn_begin(mf->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			pthread_rwlock_unlock(&mf->grow_lock);
			if ((rc = mf_grow(mf, false, err)) != 0)
				return rc;
			continue;
		}
		if (rc) {
			pthread_rwlock_unlock(&mf->grow_lock);
			return mf_lmdb_err(err, rc, "beginning a write transaction");
		}
		rc = fn(mf, txn, ctx, err);
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
		if (strata_mf_commit_hook)
			strata_mf_commit_hook(false, 0);
		/* test seam: a commit that fails before LMDB commits */
		int frc = strata_mf_commit_fault ? strata_mf_commit_fault(false) : 0;
		if (frc) {
			mdb_txn_abort(txn);
			rc = frc;
		} else {
			rc = mdb_txn_commit(txn); /* invariant 1 */
		}
		if (strata_mf_commit_hook)
			strata_mf_commit_hook(true, rc);
		/* test seam: one that fails after LMDB committed */
		if (rc == 0 && strata_mf_commit_fault)
			rc = strata_mf_commit_fault(true);
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

/* ---- transaction helpers -------------------------------------------------------- */

int mf_txn_put(strata_mf *mf, MDB_txn *txn, enum mf_db db, const mf_key *k,
	       const void *data, size_t n, strata_err *err)
{
	MDB_val key = mf_val(k);
	MDB_val val = {.mv_size = n, .mv_data = (void *)data};
	int rc = mdb_put(txn, mf->dbi[db], &key, &val, 0);
	if (rc)
		return mf_lmdb_err(err, rc, "write");
	return 0;
}

int mf_txn_del(strata_mf *mf, MDB_txn *txn, enum mf_db db, const mf_key *k,
	       strata_err *err)
{
	MDB_val key = mf_val(k);
	int rc = mdb_del(txn, mf->dbi[db], &key, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return mf_lmdb_err(err, rc, "delete");
	return 0;
}

int mf_txn_counter_next(strata_mf *mf, MDB_txn *txn, const char *name, uint64_t *out,
			strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_bytes(&k, name, strlen(name));
	MDB_val key = mf_val(&k), val;
	uint64_t next = 1;
	int rc = mdb_get(txn, mf->dbi[DB_META], &key, &val);
	if (rc == 0 && val.mv_size == 8)
		next = mf_get_u64(val.mv_data);
	else if (rc != MDB_NOTFOUND && rc != 0)
		return mf_lmdb_err(err, rc, "read counter");
	*out = next;
	mf_key v = {.n = 0};
	mf_key_u64(&v, next + 1);
	return mf_txn_put(mf, txn, DB_META, &k, v.b, v.n, err);
}

int mf_txn_table_get(strata_mf *mf, MDB_txn *txn, const char *name, strata_table_def *t,
		     strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_bytes(&k, name, strlen(name));
	MDB_val key = mf_val(&k), val;
	int rc = mdb_get(txn, mf->dbi[DB_TABLES], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown table \"%.80s\"", name);
	if (rc)
		return mf_lmdb_err(err, rc, "read table");
	if (mf_table_dec(&val, t))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "manifest record of table \"%.80s\" is damaged", name);
	return 0;
}

int mf_txn_table_put(strata_mf *mf, MDB_txn *txn, const strata_table_def *t,
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

int mf_txn_bucket_get(strata_mf *mf, MDB_txn *txn, uint32_t table, uint32_t part,
		      uint32_t bucket, strata_bucket_state *s, strata_err *err)
{
	mf_key k;
	bucket_key(&k, table, part, bucket);
	MDB_val key = mf_val(&k), val;
	int rc = mdb_get(txn, mf->dbi[DB_BUCKETS], &key, &val);
	if (rc == MDB_NOTFOUND) {
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if (rc)
		return mf_lmdb_err(err, rc, "read bucket state");
	if (mf_bucket_dec(&val, s))
		return strata_err_set(err, STRATA_ECORRUPT,
				      "manifest bucket state %u/%u/%u is damaged", table, part,
				      bucket);
	return 0;
}

int mf_txn_bucket_put(strata_mf *mf, MDB_txn *txn, uint32_t table, uint32_t part,
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

/* Iterate keys with a prefix; calls fn for each (stop with non-zero). */
typedef int (*mf_iter_fn)(const MDB_val *key, const MDB_val *val, void *ctx);

static int mf_iter_prefix(strata_mf *mf, MDB_txn *txn, enum mf_db db, const mf_key *prefix,
			  mf_iter_fn fn, void *ctx, strata_err *err)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, mf->dbi[db], &cur);
	if (rc)
		return mf_lmdb_err(err, rc, "open cursor");
	MDB_val key = mf_val(prefix), val;
	/* LMDB rejects a zero-length key (MDB_BAD_VALSIZE): an empty prefix
	 * means the whole database, from its first key */
	rc = mdb_cursor_get(cur, &key, &val, prefix->n ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (key.mv_size < prefix->n || memcmp(key.mv_data, prefix->b, prefix->n) != 0)
			break;
		int frc = fn(&key, &val, ctx);
		if (frc) {
			mdb_cursor_close(cur);
			return frc;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return mf_lmdb_err(err, rc, "cursor");
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

int mf_txn_bucket_files(strata_mf *mf, MDB_txn *txn, uint32_t table, uint32_t part,
			uint32_t bucket, strata_arena *a, strata_file_entry **out, size_t *n,
			strata_err *err)
{
	mf_key k;
	bucket_key(&k, table, part, bucket);
	mf_list c = MF_LIST(a, dec_file, strata_file_entry);
	int rc = mf_iter_prefix(mf, txn, DB_FILES, &k, mf_list_push, &c, err);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "manifest file entry in bucket %u/%u/%u is damaged",
				      table, part, bucket);
	*out = c.v;
	*n = c.n;
	return rc;
}

int mf_txn_tags(strata_mf *mf, MDB_txn *txn, uint32_t table, strata_arena *a,
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
	for (int attempt = 0; attempt < 4; attempt++) {
		pthread_rwlock_rdlock(&mf->grow_lock);
		if (mf->is_broken) { /* invariant 5 */
			int brc = broken_err(mf, err);
			pthread_rwlock_unlock(&mf->grow_lock);
			return brc;
		}
		MDB_txn *txn;
		int rc = mdb_txn_begin(mf->env, NULL, MDB_RDONLY, &txn);
		if (rc == MDB_READERS_FULL && attempt == 0) {
			pthread_rwlock_unlock(&mf->grow_lock);
			mf_readers_clear(mf->env, "manifest"); /* invariant 4 */
			continue;
		}
		if (rc == MDB_MAP_RESIZED) {
			pthread_rwlock_unlock(&mf->grow_lock);
			if ((rc = mf_grow(mf, false, err)) != 0)
				return rc;
			continue;
		}
		if (rc) {
			pthread_rwlock_unlock(&mf->grow_lock);
			return mf_lmdb_err(err, rc, "beginning a read transaction");
		}
		strata_mf_snap *s = strata_calloc(1, sizeof(*s));
		s->mf = mf;
		s->txn = txn;
		*out = s;
		return 0; /* the read lock is held until snap_close */
	}
	return strata_err_set(err, STRATA_EMANIFEST, "manifest map keeps being resized");
}

void strata_mf_snap_close(strata_mf_snap *s)
{
	if (!s)
		return;
	mdb_txn_abort(s->txn);
	pthread_rwlock_unlock(&s->mf->grow_lock);
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
	int rc = mdb_get(s->txn, s->mf->dbi[DB_SCHEMAS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "schema version %u of table %u is missing",
				      schema_version, table_id);
	if (rc)
		return mf_lmdb_err(err, rc, "read schema");
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

int mf_txn_partition_get(strata_mf *mf, MDB_txn *txn, uint32_t table_id, const char *name,
			 strata_partition *out, strata_err *err)
{
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_bytes(&k, name, strlen(name));
	MDB_val key = mf_val(&k), val;
	int rc = mdb_get(txn, mf->dbi[DB_PARTNAMES], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown partition \"%.200s\"", name);
	if (rc)
		return mf_lmdb_err(err, rc, "read partition");
	if (val.mv_size != 4)
		return strata_err_set(err, STRATA_ECORRUPT, "partition index is damaged");
	mf_key pk = {.n = 0};
	mf_key_u32(&pk, table_id);
	mf_key_u32(&pk, mf_get_u32(val.mv_data));
	key = mf_val(&pk);
	rc = mdb_get(txn, mf->dbi[DB_PARTS], &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ?
			       strata_err_set(err, STRATA_ECORRUPT, "partition index points nowhere") :
			       mf_lmdb_err(err, rc, "read partition");
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
	int rc = mdb_get(s->txn, s->mf->dbi[DB_VERSIONS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "version %llu is not in the log",
				      (unsigned long long)v);
	if (rc)
		return mf_lmdb_err(err, rc, "read version");
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
	MDB_cursor *cur;
	int rc = mdb_cursor_open(s->txn, s->mf->dbi[DB_VTIMES], &cur);
	if (rc)
		return mf_lmdb_err(err, rc, "open cursor");
	/* position at the first entry after ts, then step back once */
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u64(&k, ts_us == INT64_MAX ? UINT64_MAX : ts_key(ts_us + 1));
	MDB_val key = mf_val(&k), val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	/* the first version committed after ts, if the log still has one */
	uint64_t next = 0;
	if (rc == 0 && key.mv_size == 12 && mf_get_u32(key.mv_data) == table_id &&
	    val.mv_size == 8)
		next = mf_get_u64(val.mv_data);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
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
		ret = mf_lmdb_err(err, rc, "cursor");
	}
	mdb_cursor_close(cur);
	return ret;
}

int strata_mf_versions_list(strata_mf_snap *s, uint32_t table_id, uint64_t v_from,
			    size_t max, strata_arena *a, strata_version_rec **out,
			    size_t *n, strata_err *err)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(s->txn, s->mf->dbi[DB_VERSIONS], &cur);
	if (rc)
		return mf_lmdb_err(err, rc, "open cursor");
	mf_list c = MF_LIST(a, dec_version, strata_version_rec);
	c.max = max;
	mf_key k = {.n = 0};
	mf_key_u32(&k, table_id);
	mf_key_u64(&k, v_from);
	MDB_val key = mf_val(&k), val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	int ret = 0;
	while (rc == 0 && key.mv_size == 12 && mf_get_u32(key.mv_data) == table_id) {
		int frc = mf_list_push(&key, &val, &c);
		if (frc == 1)
			break;
		if (frc) {
			ret = strata_err_set(err, frc, "a version record is damaged");
			break;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	if (!ret && rc && rc != MDB_NOTFOUND)
		ret = mf_lmdb_err(err, rc, "cursor");
	mdb_cursor_close(cur);
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
	int rc = mdb_get(s->txn, s->mf->dbi[DB_TAGS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "unknown tag \"%.80s\"", tag);
	if (rc)
		return mf_lmdb_err(err, rc, "read tag");
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
	int rc = mdb_get(s->txn, s->mf->dbi[DB_CLAIMS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return strata_err_set(err, STRATA_ENOTFOUND, "no claim");
	if (rc)
		return mf_lmdb_err(err, rc, "read claim");
	if (mf_claim_dec(&val, out))
		return strata_err_set(err, STRATA_ECORRUPT, "claim record is damaged");
	return 0;
}
