/*
 * core/io.c — the I/O vtable, durable file writing and ranged reading.
 *
 * Design: every file-system call in strata goes through strata_io(), a table
 * of function pointers (libevent's swappable backends).  The system table
 * converts the -1/errno convention into -errno returns.  Tests install a table
 * that counts calls and fails the Nth with EIO, ENOSPC, a short write or a
 * failed fsync, which is how every call site gets exercised.
 *
 * strata_wfile makes new data files durable before any commit names them:
 *   open "<final>.tmp.<pid>.<n>" O_EXCL -> buffered appends -> flush ->
 *   fsync -> close -> rename to <final> -> fsync directory.
 * Every STRATA_WFILE_WRITEBACK_BYTES (1 MiB) handed to the kernel are sent
 * on to the device at once (sync_file_range, a hint): a job's output is
 * written back while the job computes, the final fsync waits for the last
 * megabyte instead of the whole file, and two workers finishing together
 * do not queue two whole files behind one flush (bench_workers).
 * A path of a registered data store ("s3://", core/store.c) goes to that
 * store instead: the handle then only keeps the offset and the poison, and
 * the store writes the object (a new name, never overwritten); strata_rfile
 * likewise reads through the store's ranged reads.  Invariants 1 and 2 hold
 * for both: a failed store write poisons the handle, and a committed
 * object is whole under its name.
 *
 * Invariants:
 *   1. A failed write, fsync or rename poisons the handle (sticky, SQLite and
 *      PostgreSQL's lesson about fsync): no call is retried on the same fd.
 *   2. After _commit() returns 0 the file exists under its final name and
 *      both its data and its directory entry are on stable storage.
 *   3. After a failed _commit() or any _abort() the temp file is gone (the
 *      unlink is best effort; orphan GC removes what a crash leaves).
 *   4. After strata_io_mkdirs() returns 0 every component of the path is
 *      durable: its parent was fsynced after it was created or found — by
 *      this call or an earlier one of this process.  A directory found
 *      existing counts as undurable until then: the process that created it
 *      may have died before fsyncing its parent.
 *
 * Thread safety: a handle is used by one thread at a time; the vtable pointer
 * is swapped only by tests, between operations.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the system table --------------------------------------------------- */

static int sys_open(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

static ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r;
	do
		r = pread(fd, buf, n, off);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static ssize_t sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r;
	do
		r = pwrite(fd, buf, n, off);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int sys_fsync(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static int sys_close(int fd)
{
	/* Linux always releases the fd, even on EINTR: never retry close. */
	return close(fd) < 0 ? -errno : 0;
}

static int sys_fstat(int fd, struct stat *st)
{
	return fstat(fd, st) < 0 ? -errno : 0;
}

static int sys_stat(const char *path, struct stat *st)
{
	return stat(path, st) < 0 ? -errno : 0;
}

static int sys_rename(const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

static int sys_unlink(const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int sys_mkdir(const char *path, mode_t mode)
{
	return mkdir(path, mode) < 0 ? -errno : 0;
}

static int sys_rmdir(const char *path)
{
	return rmdir(path) < 0 ? -errno : 0;
}

static DIR *sys_opendir(const char *path, int *err)
{
	DIR *d = opendir(path);
	*err = d ? 0 : -errno;
	return d;
}

static struct dirent *sys_readdir(DIR *d)
{
	return readdir(d);
}

static int sys_closedir(DIR *d)
{
	return closedir(d) < 0 ? -errno : 0;
}

static int sys_writeback(int fd, off_t off, off_t n)
{
	return sync_file_range(fd, off, n, SYNC_FILE_RANGE_WRITE) < 0 ? -errno : 0;
}

const strata_io_ops strata_io_system = {
	.open = sys_open,
	.pread = sys_pread,
	.pwrite = sys_pwrite,
	.fsync = sys_fsync,
	.close = sys_close,
	.fstat = sys_fstat,
	.stat = sys_stat,
	.rename = sys_rename,
	.unlink = sys_unlink,
	.mkdir = sys_mkdir,
	.rmdir = sys_rmdir,
	.opendir = sys_opendir,
	.readdir = sys_readdir,
	.closedir = sys_closedir,
	.writeback = sys_writeback,
};

static const strata_io_ops *_Atomic io_cur = &strata_io_system;

const strata_io_ops *strata_io(void)
{
	return atomic_load(&io_cur);
}

const strata_io_ops *strata_io_set(const strata_io_ops *ops)
{
	return atomic_exchange(&io_cur, ops ? ops : &strata_io_system);
}

int strata_io_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t w = strata_io()->pwrite(fd, p, n, off);
		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int strata_io_pread_all(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = strata_io()->pread(fd, p, n, off);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return STRATA_ECORRUPT;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int strata_io_fsync_dir(const char *dir)
{
	int fd = strata_io()->open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	int rc = strata_io()->fsync(fd);
	strata_io()->close(fd);
	return rc;
}

/* Directories this process has made durable: it fsynced their parent after
 * creating them or after finding them (invariant 4).  A set of path hashes,
 * cleared when full (that only costs fsyncs again). */
#define DURABLE_DIRS_MAX 4096
static pthread_mutex_t durable_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t durable_dirs[DURABLE_DIRS_MAX];
static size_t ndurable_dirs;

static bool durable_dir_has(uint64_t h)
{
	pthread_mutex_lock(&durable_lock);
	bool has = false;
	for (size_t i = (size_t)(h % DURABLE_DIRS_MAX), k = 0; k < DURABLE_DIRS_MAX && !has;
	     i = (i + 1) % DURABLE_DIRS_MAX, k++) {
		if (durable_dirs[i] == 0)
			break;
		has = durable_dirs[i] == h;
	}
	pthread_mutex_unlock(&durable_lock);
	return has;
}

static void durable_dir_add(uint64_t h)
{
	pthread_mutex_lock(&durable_lock);
	if (ndurable_dirs >= DURABLE_DIRS_MAX * 3 / 4) {
		memset(durable_dirs, 0, sizeof(durable_dirs));
		ndurable_dirs = 0;
	}
	for (size_t i = (size_t)(h % DURABLE_DIRS_MAX);; i = (i + 1) % DURABLE_DIRS_MAX) {
		if (durable_dirs[i] == h)
			break;
		if (durable_dirs[i] == 0) {
			durable_dirs[i] = h;
			ndurable_dirs++;
			break;
		}
	}
	pthread_mutex_unlock(&durable_lock);
}

int strata_io_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	if (mode == 0)
		mode = 0755;
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			uint64_t h = strata_hash64(tmp, strlen(tmp)) | 1;
			/* always try the mkdir: a directory removed since (by an
			 * operator, a test) must come back; the cache only saves
			 * the fsync of one found existing */
			int mrc = strata_io()->mkdir(tmp, mode);
			if (mrc < 0 && mrc != -EEXIST)
				return mrc;
			bool is_found = mrc == -EEXIST;
			if (!is_found || !durable_dir_has(h)) {
				int rc;
				/* invariant 4: a directory entry is durable only once its
				 * parent is fsynced — also one found existing, which a
				 * process killed between its mkdir and that fsync left */
				char *slash = strrchr(tmp, '/');
				if (slash && slash != tmp) {
					*slash = '\0';
					rc = strata_io_fsync_dir(tmp);
					*slash = '/';
				} else {
					rc = strata_io_fsync_dir(slash ? "/" : ".");
				}
				/* an existing ancestor strata did not make (/, /var, a
				 * directory this user may not read) can refuse: nothing
				 * more to do there; real I/O errors still count */
				if (rc < 0 && !(is_found && (rc == -EACCES || rc == -EPERM ||
							    rc == -EINVAL || rc == -EROFS)))
					return rc;
				durable_dir_add(h);
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	struct stat st;
	int rc = strata_io()->stat(path, &st);
	if (rc < 0)
		return rc;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* ---- durable writing ---------------------------------------------------- */

#define WFILE_BUF_BYTES (256 * 1024)

struct strata_wfile {
	const strata_store_ops *store; /* NULL: a local file */
	strata_buf *mem;               /* not NULL: bytes go here, no file */
	void *sh;                      /* the store's handle */
	int fd;
	bool is_poisoned;
	int poison_code;
	uint64_t off;      /* bytes handed to the kernel */
	uint64_t wb_off;   /* bytes before it asked to be written back */
	uint8_t *buf;
	size_t buf_len;
	FILE *stdio;
	char *final_path;
	char *tmp_path;
};

static atomic_uint wfile_counter;

int strata_wfile_open_mem(const char *name, strata_buf *out, strata_wfile **wf)
{
	strata_wfile *f = strata_calloc(1, sizeof(*f));
	f->fd = -1;
	f->mem = out;
	out->len = 0;
	f->final_path = strata_strdup(name);
	f->tmp_path = strata_strdup(name);
	*wf = f;
	return 0;
}

int strata_wfile_open(const char *final_path, strata_wfile **out, strata_err *err)
{
	*out = NULL;
	const strata_store_ops *store = strata_store_for(final_path);
	if (!store && strata_data_is_remote(final_path))
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "no data store handles \"%s\" (is the S3 client registered?)",
				      final_path);
	strata_wfile *f = strata_calloc(1, sizeof(*f));
	f->fd = -1;
	f->final_path = strata_strdup(final_path);
	if (store) {
		int src = store->w_open(final_path, &f->sh, err);
		if (src < 0) {
			free(f->final_path);
			free(f);
			return src;
		}
		f->store = store;
		f->tmp_path = strata_strdup(final_path);
		*out = f;
		return 0;
	}
	size_t n = strlen(final_path) + 64;
	f->tmp_path = strata_malloc(n);
	snprintf(f->tmp_path, n, "%s.tmp.%ld.%u", final_path, (long)getpid(),
		 atomic_fetch_add(&wfile_counter, 1));
	int fd = strata_io()->open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		int rc = strata_err_set(err, fd, "could not create \"%s\": %s",
					f->tmp_path, strata_strerror(fd));
		free(f->tmp_path);
		free(f->final_path);
		free(f);
		return rc;
	}
	f->fd = fd;
	f->buf = strata_malloc(WFILE_BUF_BYTES);
	*out = f;
	return 0;
}

static int wfile_poison(strata_wfile *f, int code, const char *what, strata_err *err)
{
	/* invariant 1: the handle is unusable from now on */
	f->is_poisoned = true;
	f->poison_code = code;
	return strata_err_set(err, code, "could not %s \"%s\": %s", what,
			      f->tmp_path, strata_strerror(code));
}

static int wfile_check(strata_wfile *f, strata_err *err)
{
	if (f->is_poisoned)
		return strata_err_set(err, STRATA_EPOISONED,
				      "\"%s\" is unusable after an earlier failure: %s",
				      f->tmp_path, strata_strerror(f->poison_code));
	return 0;
}

/* Start writeback of what the kernel holds past wb_off, once that is at
 * least STRATA_WFILE_WRITEBACK_BYTES: a hint, its result ignored (the
 * vtable's comment says why). */
static void wfile_writeback(strata_wfile *f)
{
	const strata_io_ops *io = strata_io();
	if (!io->writeback || f->off - f->wb_off < STRATA_WFILE_WRITEBACK_BYTES)
		return;
	(void)io->writeback(f->fd, (off_t)f->wb_off, (off_t)(f->off - f->wb_off));
	f->wb_off = f->off;
}

static int wfile_flush(strata_wfile *f, strata_err *err)
{
	if (f->buf_len == 0 || f->store)
		return 0;
	int rc = strata_io_pwrite_all(f->fd, f->buf, f->buf_len, (off_t)f->off);
	if (rc < 0)
		return wfile_poison(f, rc, "write", err);
	f->off += f->buf_len;
	f->buf_len = 0;
	wfile_writeback(f);
	return 0;
}

int strata_wfile_write(strata_wfile *f, const void *buf, size_t n, strata_err *err)
{
	int rc = wfile_check(f, err);
	if (rc)
		return rc;
	const uint8_t *p = buf;
	if (f->mem) {
		strata_buf_append(f->mem, buf, n);
		f->off += n;
		return 0;
	}
	if (f->store) {
		/* the store buffers (a part at most); invariant 1 holds alike */
		rc = f->store->w_write(f->sh, buf, n, err);
		if (rc < 0) {
			f->is_poisoned = true;
			f->poison_code = rc;
			return rc;
		}
		f->off += n;
		return 0;
	}
	if (f->buf_len + n > WFILE_BUF_BYTES) {
		rc = wfile_flush(f, err);
		if (rc)
			return rc;
		if (n >= WFILE_BUF_BYTES) {
			rc = strata_io_pwrite_all(f->fd, p, n, (off_t)f->off);
			if (rc < 0)
				return wfile_poison(f, rc, "write", err);
			f->off += n;
			wfile_writeback(f);
			return 0;
		}
	}
	memcpy(f->buf + f->buf_len, p, n);
	f->buf_len += n;
	return 0;
}

uint64_t strata_wfile_offset(const strata_wfile *f)
{
	return f->off + f->buf_len;
}

const char *strata_wfile_path(const strata_wfile *f)
{
	return f->final_path;
}

static void wfile_free(strata_wfile *f)
{
	if (f->stdio) {
		/* detach: the cookie points at f, which is going away */
		FILE *s = f->stdio;
		f->stdio = NULL;
		f->is_poisoned = true;
		fclose(s);
	}
	if (f->fd >= 0)
		strata_io()->close(f->fd);
	if (f->store && f->sh)
		f->store->w_abort(f->sh);
	free(f->buf);
	free(f->tmp_path);
	free(f->final_path);
	free(f);
}

static void dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(out, n, ".");
	} else if (slash == path) {
		snprintf(out, n, "/");
	} else {
		size_t len = (size_t)(slash - path);
		if (len >= n)
			len = n - 1;
		memcpy(out, path, len);
		out[len] = '\0';
	}
}

int strata_wfile_commit(strata_wfile *f, strata_err *err)
{
	int rc;
	if (f->stdio) {
		FILE *s = f->stdio;
		f->stdio = NULL;
		if (fclose(s) != 0 && !f->is_poisoned)
			wfile_poison(f, -EIO, "flush", err);
	}
	rc = wfile_check(f, err);
	if (rc)
		goto fail;
	if (f->mem) { /* nothing to make durable: the caller stores the bytes */
		wfile_free(f);
		return 0;
	}
	if (f->store) {
		void *sh = f->sh;
		f->sh = NULL; /* w_commit frees it, on failure too */
		rc = f->store->w_commit(sh, err);
		wfile_free(f);
		return rc;
	}
	rc = wfile_flush(f, err);
	if (rc)
		goto fail;
	rc = strata_io()->fsync(f->fd);
	if (rc < 0) {
		rc = wfile_poison(f, rc, "fsync", err);
		goto fail;
	}
	rc = strata_io()->close(f->fd);
	f->fd = -1;
	if (rc < 0) {
		rc = wfile_poison(f, rc, "close", err);
		goto fail;
	}
	rc = strata_io()->rename(f->tmp_path, f->final_path);
	if (rc < 0) {
		rc = strata_err_set(err, rc, "could not rename \"%s\" to \"%s\": %s",
				    f->tmp_path, f->final_path, strata_strerror(rc));
		goto fail;
	}
	char dir[PATH_MAX];
	dir_of(f->final_path, dir, sizeof(dir));
	rc = strata_io_fsync_dir(dir);
	if (rc < 0) {
		rc = strata_err_set(err, rc, "could not fsync directory \"%s\": %s",
				    dir, strata_strerror(rc));
		/* the rename happened: remove the final name, not the temp one */
		strata_io()->unlink(f->final_path);
		wfile_free(f);
		return rc;
	}
	wfile_free(f);
	return 0;
fail:
	/* invariant 3 (a store's upload is aborted by wfile_free) */
	if (f->mem)
		f->mem->len = 0;
	else if (!f->store)
		strata_io()->unlink(f->tmp_path);
	wfile_free(f);
	return rc;
}

void strata_wfile_abort(strata_wfile *f)
{
	if (!f)
		return;
	if (f->fd >= 0) {
		strata_io()->close(f->fd);
		f->fd = -1;
	}
	if (f->mem)
		f->mem->len = 0;
	else if (!f->store)
		strata_io()->unlink(f->tmp_path);
	wfile_free(f);
}

static ssize_t wfile_cookie_write(void *cookie, const char *buf, size_t n)
{
	strata_wfile *f = cookie;
	if (strata_wfile_write(f, buf, n, NULL) != 0) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)n;
}

static int wfile_cookie_close(void *cookie)
{
	(void)cookie;
	return 0;
}

FILE *strata_wfile_stdio(strata_wfile *f)
{
	if (f->stdio)
		return f->stdio;
	cookie_io_functions_t fns = {
		.read = NULL,
		.write = wfile_cookie_write,
		.seek = NULL,
		.close = wfile_cookie_close,
	};
	f->stdio = fopencookie(f, "w", fns);
	if (f->stdio)
		setvbuf(f->stdio, NULL, _IOFBF, 64 * 1024);
	return f->stdio;
}

/* ---- ranged reading ----------------------------------------------------- */

struct strata_rfile {
	const strata_store_ops *store; /* NULL: a local file */
	const uint8_t *mem;            /* not NULL: the bytes, lent */
	void *sh;
	int fd;
	uint64_t size;
	char *path;
};

int strata_rfile_open(const char *path, strata_rfile **out, strata_err *err)
{
	*out = NULL;
	const strata_store_ops *store = strata_store_for(path);
	if (store) {
		void *sh = NULL;
		uint64_t size = 0;
		int src = store->r_open(path, &sh, &size, err);
		if (src < 0)
			return src;
		strata_rfile *f = strata_calloc(1, sizeof(*f));
		f->store = store;
		f->sh = sh;
		f->fd = -1;
		f->size = size;
		f->path = strata_strdup(path);
		*out = f;
		return 0;
	}
	if (strata_data_is_remote(path))
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "no data store handles \"%s\" (is the S3 client registered?)",
				      path);
	int fd = strata_io()->open(path, O_RDONLY, 0);
	if (fd < 0)
		return strata_err_set(err, fd, "could not open \"%s\": %s", path,
				      strata_strerror(fd));
	struct stat st;
	int rc = strata_io()->fstat(fd, &st);
	if (rc < 0) {
		strata_io()->close(fd);
		return strata_err_set(err, rc, "could not stat \"%s\": %s", path,
				      strata_strerror(rc));
	}
	if (!S_ISREG(st.st_mode)) {
		strata_io()->close(fd);
		return strata_err_set(err, STRATA_EINVAL, "\"%s\" is not a regular file",
				      path);
	}
	strata_rfile *f = strata_calloc(1, sizeof(*f));
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	f->path = strata_strdup(path);
	*out = f;
	return 0;
}

int strata_rfile_open_mem(const char *name, const uint8_t *data, size_t len,
			  strata_rfile **out)
{
	strata_rfile *f = strata_calloc(1, sizeof(*f));
	f->mem = data ? data : (const uint8_t *)"";
	f->fd = -1;
	f->size = len;
	f->path = strata_strdup(name);
	*out = f;
	return 0;
}

uint64_t strata_rfile_size(const strata_rfile *f)
{
	return f->size;
}

const char *strata_rfile_path(const strata_rfile *f)
{
	return f->path;
}

int strata_rfile_fd(const strata_rfile *f)
{
	return f->fd;
}

int strata_rfile_read(strata_rfile *f, void *buf, size_t n, uint64_t off,
		      strata_err *err)
{
	if (off > f->size || n > f->size - off)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": read of %zu bytes at offset %llu is past "
				      "the end of the file (%llu bytes)",
				      f->path, n, (unsigned long long)off,
				      (unsigned long long)f->size);
	if (f->mem) {
		if (n)
			memcpy(buf, f->mem + off, n);
		return 0;
	}
	if (f->store)
		return n == 0 ? 0 : f->store->r_read(f->sh, buf, n, off, err);
	int rc = strata_io_pread_all(f->fd, buf, n, (off_t)off);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "\"%s\": file shrank while reading", f->path);
	if (rc < 0)
		return strata_err_set(err, rc, "could not read \"%s\": %s", f->path,
				      strata_strerror(rc));
	return 0;
}

void strata_rfile_close(strata_rfile *f)
{
	if (!f)
		return;
	if (f->store)
		f->store->r_close(f->sh);
	else if (!f->mem)
		strata_io()->close(f->fd);
	free(f->path);
	free(f);
}
