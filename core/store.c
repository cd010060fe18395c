/*
 * core/store.c — the data-store seam: which store a data file's path
 * belongs to, and the operations on data files other than writing and
 * reading (those are strata_wfile and strata_rfile in core/io.c).
 *
 * Design: a path is either local (a directory path, the I/O vtable's
 * business, today's behaviour exactly) or begins with the scheme of a
 * store registered by a module above core ("s3://", store/data.c).  The
 * registry is a tiny fixed table read without locks: registration stores
 * the pointer atomically and happens before a path of that scheme is used
 * (store/ registers itself when a manifest naming such a data path is
 * opened).  core includes nothing of store/: the dependency points down.
 * Two operations are optional for a store and do nothing locally:
 * abort_uploads (what a writer killed half-way leaves in an object store,
 * for clean's orphan scan) and prefetch (a job's inputs fetched in
 * parallel before it opens them).
 *
 * Invariants:
 *   1. a local path never reaches a store and a store path never reaches
 *      the file system: a "SCHEME://" path without a registered store is
 *      refused (STRATA_EUNSUPPORTED), never created as a local directory
 *      named "s3:";
 *   2. a missing file is not an error for strata_data_remove(), and a
 *      missing directory lists nothing (clean runs after a crash).
 *
 * Thread safety: everything here may be called from any thread.
 */
#include "core.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STORES_MAX 4

static const strata_store_ops *_Atomic stores[STORES_MAX];

void strata_store_register(const strata_store_ops *ops)
{
	for (int i = 0; i < STORES_MAX; i++) {
		const strata_store_ops *cur = atomic_load(&stores[i]);
		if (cur && strcmp(cur->scheme, ops->scheme) == 0) {
			atomic_store(&stores[i], ops);
			return;
		}
	}
	for (int i = 0; i < STORES_MAX; i++) {
		const strata_store_ops *expect = NULL;
		if (atomic_compare_exchange_strong(&stores[i], &expect, ops))
			return;
	}
	STRATA_ASSERT(false, "more than %d data-store schemes registered", STORES_MAX);
}

const strata_store_ops *strata_store_for(const char *path)
{
	for (int i = 0; i < STORES_MAX; i++) {
		const strata_store_ops *cur = atomic_load(&stores[i]);
		if (cur && strncmp(path, cur->scheme, strlen(cur->scheme)) == 0)
			return cur;
	}
	return NULL;
}

bool strata_data_is_remote(const char *path)
{
	if (strata_store_for(path))
		return true;
	/* invariant 1: "xyz://" has the form of a store path */
	const char *p = path;
	while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
		p++;
	return p > path && strncmp(p, "://", 3) == 0;
}

static int no_store(const char *path, strata_err *err)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED,
			      "no data store handles \"%s\" (is the S3 client registered?)", path);
}

int strata_data_mkdirs(const char *dir, strata_err *err)
{
	if (strata_store_for(dir))
		return 0;
	if (strata_data_is_remote(dir))
		return no_store(dir, err);
	int rc = strata_io_mkdirs(dir, 0755);
	if (rc < 0)
		return strata_err_set(err, rc, "could not create directory \"%s\": %s", dir,
				      strata_strerror(rc));
	return 0;
}

int strata_data_stat_path(const char *path, strata_data_stat *out, strata_err *err)
{
	const strata_store_ops *st = strata_store_for(path);
	if (st)
		return st->stat(path, out, err);
	if (strata_data_is_remote(path))
		return no_store(path, err);
	struct stat sb;
	int rc = strata_io()->stat(path, &sb);
	if (rc < 0)
		return strata_err_set(err, rc, "could not stat \"%s\": %s", path,
				      strata_strerror(rc));
	out->size = (uint64_t)sb.st_size;
	out->mtime_s = (int64_t)sb.st_mtime;
	return 0;
}

int strata_data_remove(const char *path, strata_err *err)
{
	const strata_store_ops *st = strata_store_for(path);
	if (st)
		return st->remove(path, err);
	if (strata_data_is_remote(path))
		return no_store(path, err);
	int rc = strata_io()->unlink(path);
	if (rc < 0 && rc != -ENOENT) /* invariant 2 */
		return strata_err_set(err, rc, "could not remove \"%s\": %s", path,
				      strata_strerror(rc));
	return 0;
}

/* The local tree under root/rel, depth first. */
static int list_local(const char *root, const char *rel, int depth, strata_data_list_fn fn,
		      void *ctx, strata_err *err)
{
	char dir[PATH_MAX];
	if (*rel)
		snprintf(dir, sizeof(dir), "%s/%s", root, rel);
	else
		snprintf(dir, sizeof(dir), "%s", root);
	int derr = 0;
	DIR *d = strata_io()->opendir(dir, &derr);
	if (!d) {
		if (derr == -ENOENT) /* invariant 2 */
			return 0;
		return strata_err_set(err, derr, "could not list \"%s\": %s", dir,
				      strata_strerror(derr));
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = strata_io()->readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char name[PATH_MAX], path[PATH_MAX];
		if (*rel)
			snprintf(name, sizeof(name), "%s/%s", rel, de->d_name);
		else
			snprintf(name, sizeof(name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, name);
		struct stat sb;
		if (strata_io()->stat(path, &sb) != 0)
			continue; /* removed meanwhile */
		if (S_ISDIR(sb.st_mode)) {
			if (depth < 16)
				rc = list_local(root, name, depth + 1, fn, ctx, err);
		} else if (S_ISREG(sb.st_mode)) {
			strata_data_stat ds = {.size = (uint64_t)sb.st_size,
					       .mtime_s = (int64_t)sb.st_mtime};
			rc = fn(ctx, name, &ds);
		}
	}
	strata_io()->closedir(d);
	return rc;
}

int strata_data_list(const char *dir, strata_data_list_fn fn, void *ctx, strata_err *err)
{
	const strata_store_ops *st = strata_store_for(dir);
	if (st)
		return st->list(dir, fn, ctx, err);
	if (strata_data_is_remote(dir))
		return no_store(dir, err);
	return list_local(dir, "", 0, fn, ctx, err);
}

int strata_data_abort_uploads(const char *dir, int64_t min_age_s, int64_t now_s,
			      bool (*keep)(void *ctx, const char *path), void *ctx, size_t *n,
			      strata_err *err)
{
	*n = 0;
	const strata_store_ops *st = strata_store_for(dir);
	if (!st || !st->abort_uploads)
		return 0;
	return st->abort_uploads(dir, min_age_s, now_s, keep, ctx, n, err);
}

void strata_data_prefetch(const char *const *paths, const uint64_t *sizes, size_t n)
{
	const strata_store_ops *st = n ? strata_store_for(paths[0]) : NULL;
	if (st && st->prefetch)
		st->prefetch(paths, sizes, n);
}
