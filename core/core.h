/*
 * core/core.h — the contract of strata's lowest layer.
 *
 * Everything above includes this header and nothing else from core/.  It
 * provides:
 *   - one error-code table: functions return 0 or a negative code, -errno for
 *     system errors and STRATA_E* (all below -10000) for strata's own; the
 *     detail goes into a caller-supplied strata_err buffer;
 *   - a level-checked log macro with printf-format checking;
 *   - the I/O vtable through which every file-system call goes, so tests can
 *     inject EIO, ENOSPC, short writes and failed fsyncs at any call site;
 *   - durable file writing (temp name, fsync, rename, directory fsync) with
 *     sticky failures;
 *   - a replaceable clock (tests move time), hashing, names and paths,
 *     growable buffers and an arena.
 *
 * Thread safety: all functions are safe to call from any thread, except
 * strata_io_set(), strata_clock_set() and strata_log_set_*(), which are meant
 * for start-up and tests.
 */
#ifndef STRATA_CORE_H
#define STRATA_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

enum {
	STRATA_OK = 0,
	STRATA_EBASE = -10000,
	STRATA_EINVAL = -10001,       /* bad input: a value, a name, a type */
	STRATA_ECORRUPT = -10002,     /* a file or manifest record is damaged */
	STRATA_ECONFLICT = -10003,    /* optimistic check failed, nothing done */
	STRATA_ENOTFOUND = -10004,    /* a named object does not exist */
	STRATA_EEXIST = -10005,       /* a named object already exists */
	STRATA_ERETENTION = -10006,   /* version outside the retention window */
	STRATA_EUNSUPPORTED = -10007, /* valid but outside what strata handles */
	STRATA_EPOISONED = -10008,    /* handle refused after a failed durable op */
	STRATA_EMAPFULL = -10009,     /* the LMDB map is full */
	STRATA_EBUSY = -10010,        /* bucket claimed by another job, or a
					 commit's back-pressure wait timed out */
	STRATA_ECANCELED = -10011,    /* cancelled at a block boundary */
	STRATA_EMANIFEST = -10012,    /* other LMDB failure */
	STRATA_ELIMIT = -10013,       /* a size limit was exceeded */
	STRATA_EUNCERTAIN = -10014,   /* a commit failed inside: it may have
					 happened (retry with the token) */
	STRATA_ELAST = -10015
};

#define STRATA_ERR_MSG_MAX 512

/* Detail for a failed call: the code and a lowercase message naming the
 * object and the reason.  Callers may pass NULL where they do not care. */
typedef struct strata_err {
	int code;
	char msg[STRATA_ERR_MSG_MAX];
} strata_err;

/* Static text for a code (-errno or STRATA_E*); never NULL. */
const char *strata_strerror(int code);

/* Fill err (if not NULL) with code and a formatted message; returns code so
 * callers can write `return strata_err_set(err, STRATA_EINVAL, ...)`. */
int strata_err_set(strata_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix err->msg with more context ("while X: <old msg>"); returns err->code
 * (or code if err is NULL). */
int strata_err_wrap(strata_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void strata_err_clear(strata_err *err);

/* ------------------------------------------------------------------------ */
/* Executable invariants                                                    */
/* ------------------------------------------------------------------------ */

/* STRATA_ASSERT(cond, fmt, ...): an invariant the code cites ("invariant 2
 * of merge/iter.c"), checked.  When cond is false it writes
 *   strata: assertion failed: COND (FILE:LINE, FUNC): MESSAGE
 * to stderr and to the log, then abort()s: a broken invariant is a bug, and
 * carrying on would act on wrong state (write misordered files, lower a
 * floor, run a job twice).  Compiled in unless NDEBUG is defined, like
 * assert(); -DSTRATA_ASSERTS=0 or 1 (make ASSERTS=0|1) decides explicitly.
 * The build, `make test` and `make asan` have them; compiled out, cond and
 * the arguments are not evaluated.  Place one only where checking costs
 * nothing worth measuring (a comparison the code already has at hand). */
#ifndef STRATA_ASSERTS
#ifdef NDEBUG
#define STRATA_ASSERTS 0
#else
#define STRATA_ASSERTS 1
#endif
#endif

#if STRATA_ASSERTS
#define STRATA_ASSERT(cond, ...)                                               \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			strata_assert_fail(#cond, __FILE__, __LINE__, __func__, \
					   __VA_ARGS__);                       \
	} while (0)
#else
#define STRATA_ASSERT(cond, ...) ((void)sizeof(!(cond)))
#endif

/* What a failed STRATA_ASSERT calls; never returns. */
void strata_assert_fail(const char *cond, const char *file, int line, const char *func,
			const char *fmt, ...) __attribute__((format(printf, 5, 6), noreturn, cold));

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum {
	STRATA_LOG_ERROR = 0,
	STRATA_LOG_WARN = 1,
	STRATA_LOG_INFO = 2,
	STRATA_LOG_DEBUG = 3
} strata_log_level;

extern volatile int strata_log_level_cur;

/* The one log macro: checks the level before formatting anything. */
#define STRATA_LOG(lvl, ...)                                                   \
	do {                                                                   \
		if ((int)(lvl) <= strata_log_level_cur)                        \
			strata_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define LOG_ERROR(...) STRATA_LOG(STRATA_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) STRATA_LOG(STRATA_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) STRATA_LOG(STRATA_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) STRATA_LOG(STRATA_LOG_DEBUG, __VA_ARGS__)

void strata_log_write(strata_log_level lvl, const char *file, int line,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void strata_log_set_level(strata_log_level lvl);
/* Parse "error|warn|info|debug"; returns 0 or STRATA_EINVAL. */
int strata_log_level_parse(const char *s, strata_log_level *out);
const char *strata_log_level_name(strata_log_level lvl);
/* Send log lines to fd (default 2).  Each line is written with one write(2). */
void strata_log_set_fd(int fd);

/* ------------------------------------------------------------------------ */
/* I/O vtable                                                               */
/* ------------------------------------------------------------------------ */

/* Every file-system call strata makes goes through this table.  Each entry
 * returns what the system call returns on success and -errno on failure
 * (never -1 with errno).  Tests install a table that fails chosen calls. */
typedef struct strata_io_ops {
	int (*open)(const char *path, int flags, mode_t mode);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fsync)(int fd);
	int (*close)(int fd);
	int (*fstat)(int fd, struct stat *st);
	int (*stat)(const char *path, struct stat *st);
	int (*rename)(const char *from, const char *to);
	int (*unlink)(const char *path);
	int (*mkdir)(const char *path, mode_t mode);
	int (*rmdir)(const char *path);
	/* Directory listing: opendir returns NULL and sets *err to -errno. */
	DIR *(*opendir)(const char *path, int *err);
	struct dirent *(*readdir)(DIR *d);
	int (*closedir)(DIR *d);
	/* Optional (NULL: skipped): start writing back [off, off + n) of a
	 * file without waiting (sync_file_range SYNC_FILE_RANGE_WRITE).  A
	 * hint only: it makes nothing durable and its result is ignored —
	 * the fsync in strata_wfile_commit() is what counts, and it reports
	 * a writeback error the hint ran into. */
	int (*writeback)(int fd, off_t off, off_t n);
} strata_io_ops;

/* The table in force; never NULL. */
const strata_io_ops *strata_io(void);
/* Install ops (NULL restores the system table); returns the previous one. */
const strata_io_ops *strata_io_set(const strata_io_ops *ops);
/* The plain system-call table, for wrappers that delegate to it. */
extern const strata_io_ops strata_io_system;

/* Write all n bytes at off, looping over short writes; a write returning 0
 * is reported as -EIO.  Returns 0 or -errno. */
int strata_io_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Read exactly n bytes at off; short read (EOF) gives STRATA_ECORRUPT. */
int strata_io_pread_all(int fd, void *buf, size_t n, off_t off);
/* fsync a directory by path. */
int strata_io_fsync_dir(const char *dir);
/* mkdir -p (mode 0755 unless given); existing directories are fine.  The
 * parent of every component is fsynced, of existing ones too (their creator
 * may have died before it fsynced), once per directory per process. */
int strata_io_mkdirs(const char *path, mode_t mode);

/* ------------------------------------------------------------------------ */
/* Durable file writing                                                     */
/* ------------------------------------------------------------------------ */

/* A file written under a temporary name in the final directory, buffered,
 * and made durable by strata_wfile_commit(): flush, fsync, close, rename to
 * the final name, fsync the directory.  Every STRATA_WFILE_WRITEBACK_BYTES
 * handed to the kernel start writing back early (strata_io_ops.writeback),
 * so a job's output reaches the device while the job still computes and
 * the final fsync waits for the last stretch only (RocksDB's bytes_per_sync).
 *
 * Invariant 1: a failed write, fsync or rename poisons the handle; every later
 * call returns STRATA_EPOISONED and only _abort() is allowed.  Nothing is
 * retried on the same handle (Linux may have dropped the dirty pages). */
typedef struct strata_wfile strata_wfile;
typedef struct strata_buf strata_buf;
#define STRATA_WFILE_WRITEBACK_BYTES (1u << 20)

/* Create "<final_path>.tmp.<pid>.<n>" exclusively (mode 0644).  The final
 * file must not exist yet.  A path of a registered data store ("s3://...",
 * see "Data stores" below) writes a new object there instead;
 * STRATA_EUNSUPPORTED when it has the form of one but no store is
 * registered.  strata_rfile_open() reads such paths alike.  *out is owned by the caller and ends with
 * _commit() or _abort(). */
int strata_wfile_open(const char *final_path, strata_wfile **out, strata_err *err);
/* A "file" whose bytes go into *out (emptied first) and nowhere else:
 * commit makes nothing durable and leaves the bytes in *out, abort and a
 * failed commit empty it.  name is only for messages.  For row files kept
 * inline in the manifest (table/txn.c). */
int strata_wfile_open_mem(const char *name, strata_buf *out, strata_wfile **f);
/* Append n bytes (buffered, 256 KiB). */
int strata_wfile_write(strata_wfile *f, const void *buf, size_t n, strata_err *err);
/* Bytes appended so far. */
uint64_t strata_wfile_offset(const strata_wfile *f);
/* Make the file durable under its final name and free the handle (on
 * failure too: the temp file is removed and the handle freed). */
int strata_wfile_commit(strata_wfile *f, strata_err *err);
/* Close, remove the temp file, free.  NULL is a no-op. */
void strata_wfile_abort(strata_wfile *f);
/* A stdio stream (fopencookie) writing into f, for libraries that want a
 * FILE* (Avro C).  fclose() on it flushes into f but does not commit.  Write
 * errors surface through f (poisoned) as well as the stream. */
FILE *strata_wfile_stdio(strata_wfile *f);
const char *strata_wfile_path(const strata_wfile *f); /* final path, lent */

/* ------------------------------------------------------------------------ */
/* Reading whole-file ranges                                                */
/* ------------------------------------------------------------------------ */

/* A read-only file with its size, for format readers that validate every
 * offset against the size. */
typedef struct strata_rfile strata_rfile;
int strata_rfile_open(const char *path, strata_rfile **out, strata_err *err);
/* The same over len bytes in memory (lent, must outlive the handle; an
 * inline row file): name is only for messages; the fd is -1. */
int strata_rfile_open_mem(const char *name, const uint8_t *data, size_t len,
			  strata_rfile **out);
uint64_t strata_rfile_size(const strata_rfile *f);
const char *strata_rfile_path(const strata_rfile *f);
/* The file descriptor; -1 for an object of a data store. */
int strata_rfile_fd(const strata_rfile *f);
/* Read [off, off+n) into buf; a range past the end is STRATA_ECORRUPT naming
 * the file. */
int strata_rfile_read(strata_rfile *f, void *buf, size_t n, uint64_t off,
		      strata_err *err);
void strata_rfile_close(strata_rfile *f);

/* ------------------------------------------------------------------------ */
/* Data stores: where data files live                                       */
/* ------------------------------------------------------------------------ */

/* Data files are written whole (strata_wfile), read by ranges
 * (strata_rfile), stat'ed, removed and listed through the functions of this
 * section.  A path that begins with a registered scheme ("s3://") goes to
 * that store; every other path is the local directory, exactly as above
 * (temp name, fsync, rename, directory fsync; pread).  core knows no store
 * but the local one: store/ registers the others (strata_store_s3_register()
 * in store/store.h), so core stays the lowest layer and links no libcurl.
 * The manifest names files as before; only the data path decides where
 * their bytes are.
 *
 * A store's contract (every function may block on the network):
 *   - w_open/w_write/w_commit/w_abort: a new object written whole; it is
 *     visible under its name only once w_commit returned 0, an existing
 *     name is never overwritten (STRATA_EEXIST), memory stays bounded;
 *     w_commit and w_abort free the handle, on failure too;
 *   - r_open gives the object's size, -ENOENT when it is missing (as
 *     locally: callers tell a missing data file by -ENOENT alone); r_read
 *     reads [off, off + n), every byte of it (the range is checked against
 *     the size by core);
 *   - stat: size and modification time, -ENOENT when missing;
 *   - remove: a missing object is not an error;
 *   - list: every object whose path begins with "DIR/", in any order,
 *     with its path relative to DIR (it may contain '/'); fn returning
 *     non-zero stops the listing and is returned.
 * Errors are 0 or a negative code with a message naming the object. */
typedef struct strata_data_stat {
	uint64_t size;
	int64_t mtime_s;
} strata_data_stat;
typedef int (*strata_data_list_fn)(void *ctx, const char *name, const strata_data_stat *st);

typedef struct strata_store_ops {
	const char *scheme; /* "s3://" */
	int (*w_open)(const char *path, void **h, strata_err *err);
	int (*w_write)(void *h, const void *buf, size_t n, strata_err *err);
	int (*w_commit)(void *h, strata_err *err);
	void (*w_abort)(void *h);
	int (*r_open)(const char *path, void **h, uint64_t *size, strata_err *err);
	int (*r_read)(void *h, void *buf, size_t n, uint64_t off, strata_err *err);
	void (*r_close)(void *h);
	int (*stat)(const char *path, strata_data_stat *out, strata_err *err);
	int (*remove)(const char *path, strata_err *err);
	int (*list)(const char *dir, strata_data_list_fn fn, void *ctx, strata_err *err);
	/* Optional (NULL: the store leaves nothing behind): abort the
	 * unfinished uploads under dir begun at or before now_s - min_age_s
	 * whose path keep(ctx, path) does not keep; *n counts them. */
	int (*abort_uploads)(const char *dir, int64_t min_age_s, int64_t now_s,
			     bool (*keep)(void *ctx, const char *path), void *ctx, size_t *n,
			     strata_err *err);
	/* Optional (NULL: nothing to gain): fetch, in parallel, what opening
	 * and reading these files will need first (sizes[i]: the file's size
	 * as the manifest knows it).  A hint: failures are left to the reads. */
	void (*prefetch)(const char *const *paths, const uint64_t *sizes, size_t n);
} strata_store_ops;

/* Register ops for paths beginning with ops->scheme (the table is lent for
 * the process's life; registering a scheme again replaces it).  At most 4
 * schemes.  Thread-safe. */
void strata_store_register(const strata_store_ops *ops);
/* The store of path, or NULL for the local directory. */
const strata_store_ops *strata_store_for(const char *path);
/* Whether path names an object of a registered store, or has the form of
 * one ("SCHEME://...") whose store is not registered (the data functions
 * then refuse it with STRATA_EUNSUPPORTED). */
bool strata_data_is_remote(const char *path);
/* Make the directory of data files dir exist: strata_io_mkdirs() locally;
 * nothing to do in an object store (prefixes need no creating). */
int strata_data_mkdirs(const char *dir, strata_err *err);
/* Size and time of a data file; -ENOENT when missing (in every store). */
int strata_data_stat_path(const char *path, strata_data_stat *out, strata_err *err);
/* Remove a data file; a missing one is 0. */
int strata_data_remove(const char *path, strata_err *err);
/* Every data file under dir, recursively (see the contract above; locally
 * the directory tree under dir, regular files only, names relative to
 * dir).  A missing dir lists nothing. */
int strata_data_list(const char *dir, strata_data_list_fn fn, void *ctx, strata_err *err);
/* Tell the store of paths[0] that these files are about to be read (a
 * job's inputs): an object store fetches their first needs in parallel
 * instead of one round trip after another.  Nothing for local files. */
void strata_data_prefetch(const char *const *paths, const uint64_t *sizes, size_t n);
/* Abort what writers killed half-way left under dir in its store (an
 * object store's multipart uploads), begun min_age_s or more before now_s,
 * except those keep() keeps (a running job's); *n counts them.  Nothing to
 * do for the local directory (a temp file is an orphan file there). */
int strata_data_abort_uploads(const char *dir, int64_t min_age_s, int64_t now_s,
			      bool (*keep)(void *ctx, const char *path), void *ctx, size_t *n,
			      strata_err *err);

/* ------------------------------------------------------------------------ */
/* Clock                                                                    */
/* ------------------------------------------------------------------------ */

/* Wall-clock microseconds since the epoch; tests install their own clock. */
int64_t strata_now_us(void);
typedef int64_t (*strata_clock_fn)(void *arg);
void strata_clock_set(strata_clock_fn fn, void *arg); /* NULL: real clock */
/* Whether a clock was installed with strata_clock_set() (a test's). */
bool strata_clock_is_set(void);
/* Monotonic microseconds (never replaced), for durations. */
int64_t strata_mono_us(void);

/* ------------------------------------------------------------------------ */
/* Process owners (claims, intents)                                         */
/* ------------------------------------------------------------------------ */

/* The owner string of this process, "<what>@<host>:<pid>", into out. */
void strata_owner_string(const char *what, char *out, size_t n);
/* Whether an owner string names a process of this host that has exited
 * (false for other hosts and for strings of another form: only their claim
 * expiry tells). */
bool strata_owner_is_dead(const char *owner);

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */
/* ------------------------------------------------------------------------ */

/* XXH3-64 with seed 0.  The bucket of a key is strata_hash64(key) % buckets;
 * this never changes once data exists. */
uint64_t strata_hash64(const void *p, size_t n);

/* ------------------------------------------------------------------------ */
/* Names and paths                                                          */
/* ------------------------------------------------------------------------ */

#define STRATA_NAME_MAX 63
/* [a-z][a-z0-9_]{0,62}: tables, columns, tags.  Returns 0 or STRATA_EINVAL
 * with a message naming `what` (e.g. "table name"). */
int strata_name_check(const char *name, const char *what, strata_err *err);
/* Join a and b with one '/' into out (size n); STRATA_ELIMIT if too long. */
int strata_path_join(char *out, size_t n, const char *a, const char *b);

/* ------------------------------------------------------------------------ */
/* Buffers and arenas                                                       */
/* ------------------------------------------------------------------------ */

/* A growable byte buffer.  Zero-initialise; free with strata_buf_free(). */
struct strata_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Ensure room for extra more bytes; aborts on out-of-memory (like Redis's
 * zmalloc: strata treats OOM as fatal rather than a recoverable error). */
void strata_buf_reserve(strata_buf *b, size_t extra);
void strata_buf_append(strata_buf *b, const void *p, size_t n);
void strata_buf_putc(strata_buf *b, uint8_t c);
void strata_buf_printf(strata_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strata_buf_reset(strata_buf *b);
void strata_buf_free(strata_buf *b);

/* Allocation wrappers that abort on out-of-memory. */
void *strata_malloc(size_t n);
void *strata_calloc(size_t n, size_t size);
void *strata_realloc(void *p, size_t n);
char *strata_strdup(const char *s);
void *strata_memdup(const void *p, size_t n);

/* A bump allocator; everything is freed at once by _free or _reset. */
typedef struct strata_arena strata_arena;
strata_arena *strata_arena_new(void);
void *strata_arena_alloc(strata_arena *a, size_t n); /* 8-byte aligned */
/* A copy of n bytes of p; p may be NULL (an empty strata_buf), the copy is
 * then n zero bytes. */
void *strata_arena_dup(strata_arena *a, const void *p, size_t n);
char *strata_arena_strdup(strata_arena *a, const char *s);
size_t strata_arena_bytes(const strata_arena *a);
void strata_arena_reset(strata_arena *a);
/* Like reset, but keeps the standard-size chunks for the next allocations
 * (a per-batch arena then does not churn the allocator). */
void strata_arena_rewind(strata_arena *a);
void strata_arena_free(strata_arena *a);

#define STRATA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STRATA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define STRATA_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
