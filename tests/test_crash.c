/*
 * tests/test_crash.c — kill -9 and power loss, checked against the model.
 *
 * The parent holds the oracle (tests/util/oracle.h) and the warehouse.  For
 * each crash point it plans one operation, fork()s a child that opens the
 * same warehouse and runs it, and the child dies by SIGKILL at a chosen
 * moment:
 *
 *   io           at the Nth call of the I/O vtable (any call);
 *   mut          at the Nth mutating call (create, write, fsync, rename,
 *                unlink, a mkdir that creates), just before the call, inside
 *                it (the call made, its result not yet seen: the journal
 *                knows only what the process meant to do) or just after it —
 *                the gap between a data file's rename and the manifest
 *                commit, and each step of a clean (mark, move to .trash,
 *                unlink, forget) included;
 *   site         at the first call from a call stack no kill has hit yet
 *                (guided coverage: every call site gets hit across runs);
 *   hook         at a job hook point ("outputs-written", "committed");
 *   lmdb-before  just before the Mth manifest commit (mdb_txn_commit);
 *   lmdb-inside  a POSIX timer armed as the Mth commit starts delivers SIGKILL
 *                a few microseconds later, inside mdb_txn_commit (counted as
 *                inside only when the commit had begun and not returned);
 *   lmdb-after   just after the Mth commit returned: durable, unacknowledged;
 *   timer        a POSIX timer delivers SIGKILL at a random instant;
 *   none         the run completes.
 * LMDB's own I/O does not go through the vtable: the lmdb moments use a
 * test-only hook around mdb_txn_commit (strata_mf_commit_hook, NULL unless a
 * test sets it).  Operations: a writer commit of a transaction the model
 * generated (with its idempotency token), a governance job (sort, merge,
 * partial or major compaction of one bucket, through bucket view + planner +
 * strata_job_execute), a clean (grace and trash of seconds, so it deletes)
 * or, rarely, a purge.  The child reports acknowledged commits through a
 * pipe.
 *
 * After waitpid the parent acts as the restarted system (now and then it
 * also closes and reopens the warehouse, as a restarted process would):
 *   1. writer: the manifest version says whether the transaction committed;
 *      before anything else a scan must equal the model with it (committed)
 *      or without it (not committed), never a part of it; an acknowledged
 *      commit must be there; re-committing the same lines with the same token
 *      must return the first version (committed) or commit now (not);
 *   2. strata_recover_intents (the child's pid is dead): every intent goes,
 *      with every file under its prefix, and the bucket can be claimed again;
 *   3. the retention promise, tags, the latest version and random reads
 *      (gets, AS OF time, incremental reads, partition scans) equal the
 *      model, and every retained version every CHECK_ALL_EVERY points;
 *   4. a clean with orphan age 0 (it must not find the table busy), after
 *      which no unknown file remains (oracle_check_files).
 *
 * Power loss.  Every process — the children and the parent — runs an I/O
 * vtable that journals, into a MAP_SHARED region the parent created before
 * the first fork, every change not yet durable: a file created (durable once
 * its directory is fsynced), bytes written after the file's last fsync, a
 * rename (durable once both directories are fsynced), an unlink (done as a
 * move into a stash directory, so it can be undone; durable once the
 * directory is fsynced) and a mkdir that creates (durable once the parent
 * is fsynced; one that finds the directory changes nothing and is not
 * journaled).  Entries that became durable are dropped after every point.
 * At a power-loss point (CRASH_PL_PERMILLE of them), after the child died,
 * the parent drops everything not durable: it truncates files to their last
 * fsynced size, then undoes renames, unlinks, creations and mkdirs in
 * reverse order, never touching a path outside the scratch root and
 * removing a directory whose inode the journal never learnt (its creator
 * died inside mkdir) only if it is empty; then it recovers and checks as
 * above.  Because the journal
 * spans processes, a change one crashed process left undurable and a later
 * process relied on is caught too.  LMDB's files do not go through the
 * vtable: they are treated as durable when mdb_txn_commit returns (the
 * environment syncs on commit) and are not simulated.
 *
 * Between points the parent runs the model's own writes, DDL and governance;
 * every CRASH_EPOCH points (40) it starts a fresh table, whose directories
 * the children then create.
 *
 * Before the random points, one deterministic test per bug the points found
 * (each fails on the library before its fix): claims of dead processes,
 * recovery racing a late commit, a directory a crashed process left
 * undurable, reader slots of dead processes; and one for a bug of the
 * power-loss simulation itself (a process killed inside the mkdir of an
 * existing ancestor made the simulation remove that ancestor's tree).
 * And one for the parallel commit I/O path (issue 16): a writer commit
 * makes its files durable on several threads, so the vtable below is
 * thread-safe (one lock around each call), and a 16-bucket commit is
 * killed at every few mutating calls — some files durable, some half
 * written, some not begun — then the power is cut: the table has all of
 * the batch or none, and no version names a missing file.
 *
 * Environment: CRASH_POINTS (default 240; 120 under ASan, where fork-heavy
 * runs are slow), CRASH_SEED (default: the time), CRASH_PL_PERMILLE (300),
 * CRASH_EPOCH (40), CRASH_VERBOSE.  The seed is printed first; every failure
 * names the point, its plan and the replay command.  Moments chosen by call
 * number, call site or hook replay exactly with the same seed and points;
 * timer moments depend on scheduling and do not.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"

#include "clean/clean.h"
#include "compact/compact.h"
#include "sort/sort.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CRASH_IS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_IS_SANITIZED 1
#endif
#endif
#ifndef CRASH_IS_SANITIZED
#define CRASH_IS_SANITIZED 0
#endif

#define CRASH_POINTS_DEFAULT 240
#define CRASH_POINTS_SANITIZED 120
#define CRASH_PL_PERMILLE_DEFAULT 300
#define CRASH_WAIT_MAX_S 300   /* a child that runs longer is killed: failure */
#define CHECK_ALL_EVERY 10     /* every retained version, every N points */
#define REOPEN_EVERY 6         /* on average, reopen the warehouse every N points */
#define JOURNAL_MAX 4096
#define JPATH_MAX 384
#define SITE_CAP 4096          /* per child run; power of two */
#define SITE_SEEN_CAP (1 << 15) /* over the whole run; power of two */
#define TRACK_FD_MAX 4096
#define CRASH_EPOCH_DEFAULT 40 /* points per table */

/* ---- what a point does ------------------------------------------------------------- */

typedef enum { ACT_WRITE, ACT_JOB, ACT_CLEAN, ACT_PURGE, ACT_COUNT } crash_act;
static const char *const act_names[ACT_COUNT] = {"write", "job", "clean", "purge"};

typedef enum {
	AT_IO,
	AT_MUT,
	AT_SITE,
	AT_HOOK,
	AT_LMDB_BEFORE,
	AT_LMDB_INSIDE,
	AT_LMDB_AFTER,
	AT_TIMER,
	AT_NONE,
	AT_COUNT
} crash_at;
static const char *const at_names[AT_COUNT] = {"io",          "mut",        "site",  "hook",
					       "lmdb-before", "lmdb-inside", "lmdb-after", "timer",
					       "none"};

typedef enum { JOB_SORT, JOB_MERGE, JOB_PARTIAL, JOB_MAJOR, JOB_COUNT } crash_job;
static const char *const job_names[JOB_COUNT] = {"sort", "merge", "partial", "major"};

typedef enum { MOMENT_BEFORE, MOMENT_INSIDE, MOMENT_AFTER, MOMENT_COUNT } crash_moment;
static const char *const moment_names[MOMENT_COUNT] = {"before", "inside", "after"};

typedef struct crash_plan {
	crash_act act;
	crash_at at;
	bool is_power_loss;
	crash_moment moment;    /* io/mut/site: die before, inside or after the call */
	int64_t kill_n;         /* io/mut: call number; lmdb: commit number */
	uint64_t kill_site;     /* site: the first call from this call stack */
	int64_t delay_ns;       /* timer, lmdb-inside */
	const char *hook_point; /* hook */
	/* writer */
	const char *lines, *token;
	/* job */
	crash_job job;
	char part[STRATA_PART_NAME_MAX];
	uint32_t bucket;
	bool drop_history;
	uint64_t sort_max_bytes, merge_target_bytes;
	size_t merge_max_files;
	/* clean */
	int64_t grace_s, trash_s, orphan_age_s;
} crash_plan;

/* ---- shared with the children ---------------------------------------------------------- */

typedef enum { J_VOID = 0, J_DATA, J_CREATE, J_RENAME, J_UNLINK, J_MKDIR } jkind;

/* One change not yet known durable.  A J_DATA entry per written inode
 * carries its size at the last fsync. */
typedef struct jentry {
	int kind;
	int is_dirty;          /* J_DATA: written since the last fsync */
	int is_durable_a;      /* dir_a fsynced since */
	int is_durable_b;      /* dir_b fsynced since (renames) */
	uint64_t ino;          /* file or directory (0: not known) */
	uint64_t dir_a, dir_b; /* directories (inodes) whose fsync makes it durable */
	int64_t synced_bytes;  /* J_DATA */
	char a[JPATH_MAX];     /* path; rename: from */
	char b[JPATH_MAX];     /* rename: to; unlink: the stashed file */
	char b_old[JPATH_MAX]; /* rename: stash of the target it replaced */
} jentry;

typedef struct crash_shm {
	/* the child's run, read by the parent after the child died */
	int64_t io_calls, mut_calls;
	int commits_begun, commits_done;
	int64_t commit_ns_total;
	int has_fired;
	int fired_op;
	uint64_t fired_site;
	uint64_t sites[SITE_CAP];
	/* the journal, appended by every process */
	int njournal;
	int has_overflow;
	uint64_t stash_counter;
	jentry j[JOURNAL_MAX];
} crash_shm;

typedef struct crash_msg {
	int type; /* MSG_ACK, MSG_DONE */
	int rc;
	uint64_t version;
	bool is_repeat;
	int64_t elapsed_ns;
	char msg[256];
} crash_msg;

enum { MSG_ACK = 1, MSG_DONE = 2 };

static crash_shm *shm;
static char table[32];      /* the table of the current epoch */
static crash_plan plan;     /* the point being run (the child's copy drives it) */
static bool is_child;
static bool die_inside_call; /* io/mut/site, inside: die once the call is made */
static bool die_after_call;  /* io/mut/site, after: die once the call returns */
static char stash_dir[PATH_MAX];

typedef struct fd_track {
	bool is_tracked;
	bool is_dir;
	uint64_t ino;
	int data; /* J_DATA entry, -1: none */
} fd_track;
static fd_track fdt[TRACK_FD_MAX];

/* ---- dying ----------------------------------------------------------------------------- */

static void crash_die(void)
{
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A POSIX timer that delivers SIGKILL ns from now: the kernel kills the
 * process wherever it is, inside LMDB included. */
static void arm_kill_timer(int64_t ns)
{
	timer_t t;
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGKILL;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0)
		crash_die();
	if (ns < 1)
		ns = 1;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ns / 1000000000;
	its.it_value.tv_nsec = ns % 1000000000;
	if (timer_settime(t, 0, &its, NULL) != 0)
		crash_die();
}

/* ---- the I/O vtable: counting, killing, journaling -------------------------------------- */

typedef enum {
	OP_OPEN, OP_PREAD, OP_PWRITE, OP_FSYNC, OP_CLOSE, OP_FSTAT, OP_STAT, OP_RENAME,
	OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_OPENDIR, OP_READDIR, OP_CLOSEDIR, OP_COUNT
} crash_op;
static const char *const op_names[OP_COUNT] = {
	"open", "pread", "pwrite", "fsync", "close", "fstat", "stat", "rename",
	"unlink", "mkdir", "rmdir", "opendir", "readdir", "closedir",
};

/* The call site: a hash of the caller frames (same binary, same addresses
 * in every child). */
static uint64_t site_hash(void)
{
	void *bt[8];
	int n = backtrace(bt, 8);
	uint64_t h = 1469598103934665603ull;
	for (int i = 2; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)bt[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

/* The slot of h in an open-addressing set (added if absent; cap - 1 when
 * full); *is_new says whether it was added. */
static size_t site_slot(uint64_t *set, size_t cap, uint64_t h, bool *is_new)
{
	*is_new = false;
	for (size_t i = (size_t)(h & (cap - 1)), k = 0; k < cap; i = (i + 1) & (cap - 1), k++) {
		if (set[i] == h)
			return i;
		if (set[i] == 0) {
			set[i] = h;
			*is_new = true;
			return i;
		}
	}
	return cap - 1;
}

static void site_add(uint64_t *set, size_t cap, uint64_t h)
{
	bool is_new;
	site_slot(set, cap, h, &is_new);
}

/* A writer commit makes its files durable on several threads
 * (table/txn.c): one lock, taken by io_enter and released by io_leave,
 * keeps the counters, the kill decision and the journal consistent.  It is
 * held across the system call, so the calls of one process are serialized
 * here, but they still come from several threads in an order the
 * scheduler picks, and a kill lands while other threads hold files
 * half-written.  Recursive: nothing nests today, and a self-deadlock in a
 * crash test would only look like a hang. */
static pthread_mutex_t vt_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void io_enter(crash_op op, bool is_mut)
{
	pthread_mutex_lock(&vt_mu);
	if (!is_child)
		return;
	/* a mkdir that creates and one that finds the directory are two sites */
	uint64_t site = site_hash() ^ ((uint64_t)op << 56) ^ (is_mut ? 1ull << 48 : 0);
	site_add(shm->sites, SITE_CAP, site);
	int64_t n = ++shm->io_calls;
	int64_t m = is_mut ? ++shm->mut_calls : 0;
	bool is_hit = (plan.at == AT_IO && n == plan.kill_n) ||
		      (plan.at == AT_MUT && m == plan.kill_n) ||
		      (plan.at == AT_SITE && site == plan.kill_site);
	if (!is_hit)
		return;
	shm->fired_op = op;
	shm->fired_site = site;
	shm->has_fired = 1;
	if (plan.moment == MOMENT_AFTER)
		die_after_call = true;
	else if (plan.moment == MOMENT_INSIDE)
		die_inside_call = true;
	else
		crash_die();
}

/* Called by a journaling vtable function right after its system call,
 * before it records the result: dying here leaves the journal as a kill
 * inside the call would.  The other calls die at io_leave. */
static void io_inside(void)
{
	if (die_inside_call)
		crash_die();
}

static void io_leave(void)
{
	if (die_after_call || die_inside_call)
		crash_die();
	pthread_mutex_unlock(&vt_mu);
}

static uint64_t dir_ino_of(const char *path)
{
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash)
		snprintf(d, sizeof(d), ".");
	else if (slash == d)
		d[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	return stat(d, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Publish a filled entry: fields first, then the count, so a kill in
 * between leaves no half entry. */
static jentry *j_add(const jentry *src)
{
	int n = shm->njournal;
	if (n >= JOURNAL_MAX) {
		shm->has_overflow = 1;
		return NULL;
	}
	shm->j[n] = *src;
	__atomic_store_n(&shm->njournal, n + 1, __ATOMIC_RELEASE);
	return &shm->j[n];
}

static bool j_path_fits(const char *p)
{
	if (strlen(p) < JPATH_MAX)
		return true;
	shm->has_overflow = 1;
	return false;
}

static void next_stash(char *out, size_t n)
{
	snprintf(out, n, "%s/%" PRIu64, stash_dir, ++shm->stash_counter);
}

/* The J_DATA entry of an inode opened for writing. */
static int j_data_open(uint64_t ino, int64_t size, bool is_new)
{
	int n = shm->njournal;
	for (int i = n - 1; i >= 0; i--) {
		jentry *e = &shm->j[i];
		if (e->kind != J_DATA || e->ino != ino)
			continue;
		if (!is_new)
			return i;
		e->kind = J_VOID; /* an older inode with the same number is gone */
	}
	jentry e;
	memset(&e, 0, sizeof(e));
	e.kind = J_DATA;
	e.ino = ino;
	e.synced_bytes = size;
	jentry *p = j_add(&e);
	return p ? (int)(p - shm->j) : -1;
}

static int vt_open(const char *path, int flags, mode_t mode)
{
	bool is_write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT);
	io_enter(OP_OPEN, is_write);
	struct stat st;
	jentry *je = NULL;
	bool is_new = false;
	if ((flags & O_CREAT) && lstat(path, &st) != 0 && j_path_fits(path)) {
		jentry e;
		memset(&e, 0, sizeof(e));
		e.kind = J_CREATE;
		e.is_durable_b = 1;
		e.dir_a = dir_ino_of(path);
		snprintf(e.a, sizeof(e.a), "%s", path);
		je = j_add(&e);
		is_new = true;
	}
	int fd = strata_io_system.open(path, flags, mode);
	io_inside();
	if (fd < 0) {
		if (je)
			je->kind = J_VOID;
		io_leave();
		return fd;
	}
	if (is_write || (flags & O_DIRECTORY)) {
		if (fd >= TRACK_FD_MAX || fstat(fd, &st) != 0) {
			shm->has_overflow = 1;
		} else {
			fdt[fd] = (fd_track){.is_tracked = true, .is_dir = S_ISDIR(st.st_mode),
					     .ino = (uint64_t)st.st_ino, .data = -1};
			if (je)
				je->ino = (uint64_t)st.st_ino;
			if (is_write && S_ISREG(st.st_mode))
				fdt[fd].data = j_data_open((uint64_t)st.st_ino,
							   is_new ? 0 : (int64_t)st.st_size, is_new);
		}
	}
	io_leave();
	return fd;
}

static ssize_t vt_pread(int fd, void *buf, size_t n, off_t off)
{
	io_enter(OP_PREAD, false);
	ssize_t r = strata_io_system.pread(fd, buf, n, off);
	io_leave();
	return r;
}

static ssize_t vt_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	io_enter(OP_PWRITE, true);
	if (fd >= 0 && fd < TRACK_FD_MAX && fdt[fd].is_tracked && fdt[fd].data >= 0)
		shm->j[fdt[fd].data].is_dirty = 1;
	ssize_t r = strata_io_system.pwrite(fd, buf, n, off);
	io_leave();
	return r;
}

static int vt_fsync(int fd)
{
	io_enter(OP_FSYNC, true);
	int rc = strata_io_system.fsync(fd);
	if (rc == 0 && fd >= 0 && fd < TRACK_FD_MAX && fdt[fd].is_tracked) {
		fd_track *t = &fdt[fd];
		if (t->is_dir) {
			for (int i = 0; i < shm->njournal; i++) {
				jentry *e = &shm->j[i];
				if (e->kind == J_VOID || e->kind == J_DATA)
					continue;
				if (e->dir_a == t->ino)
					e->is_durable_a = 1;
				if (e->dir_b == t->ino)
					e->is_durable_b = 1;
			}
		} else if (t->data >= 0) {
			struct stat st;
			if (fstat(fd, &st) == 0) {
				shm->j[t->data].synced_bytes = (int64_t)st.st_size;
				shm->j[t->data].is_dirty = 0;
			}
		}
	}
	io_leave();
	return rc;
}

static int vt_close(int fd)
{
	io_enter(OP_CLOSE, false);
	if (fd >= 0 && fd < TRACK_FD_MAX)
		fdt[fd].is_tracked = false;
	int rc = strata_io_system.close(fd);
	io_leave();
	return rc;
}

static int vt_fstat(int fd, struct stat *st)
{
	io_enter(OP_FSTAT, false);
	int rc = strata_io_system.fstat(fd, st);
	io_leave();
	return rc;
}

static int vt_stat(const char *path, struct stat *st)
{
	io_enter(OP_STAT, false);
	int rc = strata_io_system.stat(path, st);
	io_leave();
	return rc;
}

static int vt_rename(const char *from, const char *to)
{
	io_enter(OP_RENAME, true);
	jentry *je = NULL;
	jentry e;
	memset(&e, 0, sizeof(e));
	struct stat st;
	if (j_path_fits(from) && j_path_fits(to) && lstat(from, &st) == 0) {
		e.kind = J_RENAME;
		e.ino = (uint64_t)st.st_ino;
		e.dir_a = dir_ino_of(from);
		e.dir_b = dir_ino_of(to);
		snprintf(e.a, sizeof(e.a), "%s", from);
		snprintf(e.b, sizeof(e.b), "%s", to);
		if (lstat(to, &st) == 0 && !S_ISDIR(st.st_mode)) {
			/* the target it replaces must come back if the rename is lost */
			next_stash(e.b_old, sizeof(e.b_old));
			if (link(to, e.b_old) != 0)
				e.b_old[0] = '\0';
		}
		je = j_add(&e);
	}
	int rc = strata_io_system.rename(from, to);
	io_inside();
	if (rc < 0 && je) {
		je->kind = J_VOID;
		if (je->b_old[0])
			unlink(je->b_old);
	}
	io_leave();
	return rc;
}

static int vt_unlink(const char *path)
{
	io_enter(OP_UNLINK, true);
	struct stat st;
	int rc;
	if (lstat(path, &st) != 0) {
		rc = -errno;
	} else if (S_ISDIR(st.st_mode) || !j_path_fits(path)) {
		rc = strata_io_system.unlink(path);
	} else {
		/* an unlink is a move into the stash, so a power loss can undo it */
		jentry e;
		memset(&e, 0, sizeof(e));
		e.kind = J_UNLINK;
		e.is_durable_b = 1;
		e.ino = (uint64_t)st.st_ino;
		e.dir_a = dir_ino_of(path);
		snprintf(e.a, sizeof(e.a), "%s", path);
		next_stash(e.b, sizeof(e.b));
		jentry *je = j_add(&e);
		if (je) {
			rc = rename(path, je->b) < 0 ? -errno : 0;
			io_inside();
			if (rc < 0)
				je->kind = J_VOID;
		} else {
			rc = strata_io_system.unlink(path);
		}
	}
	io_leave();
	return rc;
}

static int vt_mkdir(const char *path, mode_t mode)
{
	struct stat pre;
	bool is_new = lstat(path, &pre) != 0;
	io_enter(OP_MKDIR, is_new); /* EEXIST changes nothing */
	jentry *je = NULL;
	/* only a mkdir that may create has anything to undo: journaling one
	 * that finds an ancestor (/tmp) let a kill inside the call leave an
	 * entry a power loss took for a creation, and removed that tree */
	if (is_new && j_path_fits(path)) {
		jentry e;
		memset(&e, 0, sizeof(e));
		e.kind = J_MKDIR;
		e.is_durable_b = 1;
		e.dir_a = dir_ino_of(path);
		snprintf(e.a, sizeof(e.a), "%s", path);
		je = j_add(&e);
	}
	int rc = strata_io_system.mkdir(path, mode);
	io_inside();
	if (je) {
		struct stat st;
		if (rc < 0)
			je->kind = J_VOID;
		else if (stat(path, &st) == 0)
			je->ino = (uint64_t)st.st_ino;
	}
	io_leave();
	return rc;
}

static int vt_rmdir(const char *path)
{
	/* strata never removes directories; not journaled */
	io_enter(OP_RMDIR, true);
	int rc = strata_io_system.rmdir(path);
	io_leave();
	return rc;
}

/* Test hook: called once at the parent's next opendir, then cleared. */
static void (*parent_opendir_hook)(void);

static DIR *vt_opendir(const char *path, int *err)
{
	io_enter(OP_OPENDIR, false);
	if (!is_child && parent_opendir_hook) {
		void (*fn)(void) = parent_opendir_hook;
		parent_opendir_hook = NULL;
		fn();
	}
	DIR *d = strata_io_system.opendir(path, err);
	io_leave();
	return d;
}

static struct dirent *vt_readdir(DIR *d)
{
	io_enter(OP_READDIR, false);
	struct dirent *e = strata_io_system.readdir(d);
	io_leave();
	return e;
}

static int vt_closedir(DIR *d)
{
	io_enter(OP_CLOSEDIR, false);
	int rc = strata_io_system.closedir(d);
	io_leave();
	return rc;
}

static const strata_io_ops crash_io = {
	.open = vt_open,
	.pread = vt_pread,
	.pwrite = vt_pwrite,
	.fsync = vt_fsync,
	.close = vt_close,
	.fstat = vt_fstat,
	.stat = vt_stat,
	.rename = vt_rename,
	.unlink = vt_unlink,
	.mkdir = vt_mkdir,
	.rmdir = vt_rmdir,
	.opendir = vt_opendir,
	.readdir = vt_readdir,
	.closedir = vt_closedir,
};

/* ---- power loss: undo what is not durable (parent, no child running) ----------------- */

typedef struct pl_stats {
	uint64_t truncated, renames, unlinks, creates, mkdirs;
	uint64_t outside; /* entries naming a path outside the root: a strata bug */
} pl_stats;

typedef struct ino_path {
	uint64_t ino;
	char *path;
} ino_path;

typedef struct ino_map {
	ino_path *v;
	size_t n, cap;
} ino_map;

static void ino_map_walk(ino_map *m, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(e->d_name, "manifest") != 0)
				ino_map_walk(m, p);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 256;
			m->v = strata_realloc(m->v, m->cap * sizeof(ino_path));
		}
		m->v[m->n].ino = (uint64_t)st.st_ino;
		m->v[m->n].path = strata_strdup(p);
		m->n++;
	}
	closedir(d);
}

static const char *ino_map_find(const ino_map *m, uint64_t ino)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].ino == ino)
			return m->v[i].path;
	return NULL;
}

static bool same_ino(const char *path, uint64_t ino)
{
	struct stat st;
	return lstat(path, &st) == 0 && (ino == 0 || (uint64_t)st.st_ino == ino);
}

static void empty_stash(void)
{
	DIR *d = opendir(stash_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", stash_dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

static strata_buf pl_log; /* what the last power loss undid, for failures */

static void pl_note(const char *what, const jentry *e)
{
	strata_buf_printf(&pl_log, "  power loss: %s %s%s%s\n", what, e->a,
			  e->kind == J_RENAME ? " <- " : "", e->kind == J_RENAME ? e->b : "");
}

/* Whether path is strictly under root: the only paths a power loss may
 * change (the journal spans every process of the test, and a bug in it
 * must not reach /tmp or the checkout). */
static bool is_under(const char *path, const char *root)
{
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	return strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1] != '\0' &&
	       strstr(path + n, "/../") == NULL;
}

static void power_loss(const char *root, pl_stats *ps)
{
	int n = shm->njournal;
	strata_buf_reset(&pl_log);
	/* data first: by inode, wherever the file is now */
	ino_map m = {0};
	ino_map_walk(&m, root);
	for (int i = 0; i < n; i++) {
		jentry *e = &shm->j[i];
		if (e->kind != J_DATA || !e->is_dirty)
			continue;
		const char *p = ino_map_find(&m, e->ino);
		struct stat st;
		if (p && lstat(p, &st) == 0 && st.st_size > e->synced_bytes &&
		    truncate(p, e->synced_bytes) == 0) {
			ps->truncated++;
			strata_buf_printf(&pl_log, "  power loss: %s truncated from %lld to %lld bytes\n",
					  p, (long long)st.st_size, (long long)e->synced_bytes);
		}
	}
	for (size_t i = 0; i < m.n; i++)
		free(m.v[i].path);
	free(m.v);
	/* then the name space, newest first */
	for (int i = n - 1; i >= 0; i--) {
		jentry *e = &shm->j[i];
		if (e->kind != J_VOID && e->kind != J_DATA &&
		    (!is_under(e->a, root) || (e->kind == J_RENAME && !is_under(e->b, root)))) {
			ps->outside++;
			pl_note("outside the root, left alone:", e);
			continue;
		}
		switch (e->kind) {
		case J_RENAME:
			if (e->is_durable_a && e->is_durable_b)
				break;
			if (same_ino(e->b, e->ino) && rename(e->b, e->a) == 0) {
				ps->renames++;
				pl_note("rename undone", e);
			}
			if (e->b_old[0])
				rename(e->b_old, e->b);
			break;
		case J_UNLINK:
			if (!e->is_durable_a && same_ino(e->b, e->ino) && rename(e->b, e->a) == 0) {
				ps->unlinks++;
				pl_note("unlink undone", e);
			}
			break;
		case J_CREATE:
			if (!e->is_durable_a && same_ino(e->a, e->ino) && unlink(e->a) == 0) {
				ps->creates++;
				pl_note("creation undone", e);
			}
			break;
		case J_MKDIR:
			if (e->is_durable_a || !same_ino(e->a, e->ino))
				break;
			if (e->ino == 0) {
				/* its creator died inside mkdir: what it made is empty */
				if (rmdir(e->a) == 0) {
					ps->mkdirs++;
					pl_note("mkdir undone", e);
				}
				break;
			}
			tu_rmtree(e->a);
			ps->mkdirs++;
			pl_note("mkdir undone", e);
			break;
		default:
			break;
		}
	}
	shm->njournal = 0;
	empty_stash();
	strata_buf_putc(&pl_log, 0);
	pl_log.len--;
	if (getenv("CRASH_VERBOSE") && pl_log.len)
		fputs((const char *)pl_log.data, stderr);
	for (int fd = 0; fd < TRACK_FD_MAX; fd++)
		fdt[fd].data = -1;
}

/* Drop entries that became durable (and the stashed files of durable
 * unlinks); keep J_DATA entries of open files. */
static void journal_compact(void)
{
	static int map[JOURNAL_MAX];
	int n = shm->njournal, k = 0;
	for (int i = 0; i < n; i++) {
		jentry *e = &shm->j[i];
		bool is_open = false;
		if (e->kind == J_DATA)
			for (int fd = 0; fd < TRACK_FD_MAX && !is_open; fd++)
				is_open = fdt[fd].is_tracked && fdt[fd].data == i;
		bool is_done = false;
		switch (e->kind) {
		case J_VOID:
			is_done = true;
			break;
		case J_DATA:
			is_done = !e->is_dirty && !is_open;
			break;
		case J_CREATE:
		case J_MKDIR:
			is_done = e->is_durable_a;
			break;
		case J_UNLINK:
			is_done = e->is_durable_a;
			if (is_done)
				unlink(e->b);
			break;
		case J_RENAME:
			is_done = e->is_durable_a && e->is_durable_b;
			if (is_done && e->b_old[0])
				unlink(e->b_old);
			break;
		}
		if (is_done) {
			map[i] = -1;
			continue;
		}
		if (k != i)
			shm->j[k] = *e;
		map[i] = k++;
	}
	shm->njournal = k;
	for (int fd = 0; fd < TRACK_FD_MAX; fd++)
		if (fdt[fd].data >= 0)
			fdt[fd].data = fdt[fd].data < n ? map[fdt[fd].data] : -1;
}

/* ---- the child ----------------------------------------------------------------------------- */

static void job_plan_make(const crash_plan *p, const strata_bucket_view *v, strata_job_plan *jp)
{
	switch (p->job) {
	case JOB_SORT:
		strata_sort_plan(v, p->sort_max_bytes, jp);
		break;
	case JOB_MERGE:
		strata_merge_plan(v, -1, 0, p->merge_max_files, p->merge_target_bytes, jp);
		break;
	case JOB_PARTIAL:
		strata_compact_partial_plan(v, jp);
		break;
	default:
		strata_compact_major_plan(v, p->drop_history, jp);
		break;
	}
}

static int child_hook(void *arg, const char *point)
{
	(void)arg;
	if (plan.at == AT_HOOK && strcmp(point, plan.hook_point) == 0) {
		shm->has_fired = 1;
		crash_die();
	}
	return 0;
}

static int64_t commit_t0;

static void child_commit_hook(bool is_after, int rc)
{
	(void)rc;
	bool is_lmdb = plan.at == AT_LMDB_BEFORE || plan.at == AT_LMDB_INSIDE ||
		       plan.at == AT_LMDB_AFTER;
	if (!is_after) {
		int n = ++shm->commits_begun;
		commit_t0 = mono_ns();
		if (!is_lmdb || n != plan.kill_n)
			return;
		shm->has_fired = 1;
		if (plan.at == AT_LMDB_BEFORE)
			crash_die();
		if (plan.at == AT_LMDB_INSIDE)
			arm_kill_timer(plan.delay_ns);
		return;
	}
	int n = ++shm->commits_done;
	int64_t d = mono_ns() - commit_t0;
	shm->commit_ns_total += d;
	if (plan.at == AT_LMDB_AFTER && n == plan.kill_n)
		crash_die();
}

static void child_send(int fd, const crash_msg *m)
{
	ssize_t w = write(fd, m, sizeof(*m));
	(void)w;
}

static int child_act(strata_wh *wh, int fd, strata_err *err)
{
	crash_msg ack;
	memset(&ack, 0, sizeof(ack));
	ack.type = MSG_ACK;
	int rc;
	switch (plan.act) {
	case ACT_WRITE: {
		rc = oracle_txn_commit(wh, table, plan.lines, plan.token, 0, &ack.version,
				       &ack.is_repeat, err);
		break;
	}
	case ACT_JOB: {
		char owner[128];
		strata_owner_string("crash-job", owner, sizeof(owner));
		strata_bucket_view v;
		rc = strata_bucket_view_load(wh, table, plan.part, plan.bucket, strata_now_us(), &v, err);
		if (rc)
			break;
		strata_job_plan jp;
		job_plan_make(&plan, &v, &jp);
		strata_job_ctl ctl = {.owner = owner, .hook = child_hook};
		strata_job_result res;
		rc = strata_job_execute(wh, &v, &jp, &ctl, &res, err);
		strata_bucket_view_free(&v);
		ack.version = res.version;
		break;
	}
	case ACT_CLEAN: {
		strata_clean_opts co;
		strata_clean_opts_default(&co);
		co.grace_s = plan.grace_s;
		co.trash_s = plan.trash_s;
		co.orphan_age_s = plan.orphan_age_s;
		co.orphan_max_fraction = 1; /* crash debris can be most of a small table */
		strata_clean_result r;
		rc = strata_clean_table(wh, table, &co, &r, err);
		ack.version = r.version;
		break;
	}
	default: {
		char owner[128];
		strata_owner_string("crash-purge", owner, sizeof(owner));
		strata_job_ctl ctl = {.owner = owner, .hook = child_hook};
		strata_clean_result r;
		strata_buf dropped = {0};
		rc = strata_purge_table(wh, table, &ctl, &r, &dropped, err);
		strata_buf_free(&dropped);
		ack.version = r.version;
		break;
	}
	}
	if (rc == 0)
		child_send(fd, &ack); /* acknowledged */
	return rc;
}

static void child_main(const char *wh_path, int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_TIMERSLACK, 1);
	is_child = true;
	strata_mf_commit_hook = child_commit_hook;
	int64_t t0 = mono_ns();
	if (plan.at == AT_TIMER)
		arm_kill_timer(plan.delay_ns);
	crash_msg done;
	memset(&done, 0, sizeof(done));
	done.type = MSG_DONE;
	strata_err err;
	strata_err_clear(&err);
	strata_wh *wh = NULL;
	int rc = strata_wh_open(wh_path, false, &wh, &err);
	if (rc == 0)
		rc = child_act(wh, fd, &err);
	strata_wh_close(wh);
	done.rc = rc;
	snprintf(done.msg, sizeof(done.msg), "%s", rc ? err.msg : "");
	done.elapsed_ns = mono_ns() - t0;
	child_send(fd, &done);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------------------------ */

typedef struct crash_ctx {
	char root[PATH_MAX];
	char wh_path[PATH_MAX];
	strata_wh *wh;
	oracle *o;
	uint64_t rng;
	uint64_t seed;
	int point;
	/* learned from completed runs, per operation */
	int64_t max_io[ACT_COUNT], max_mut[ACT_COUNT], max_commits[ACT_COUNT];
	double avg_io[ACT_COUNT], avg_mut[ACT_COUNT];
	int64_t max_ns[ACT_COUNT];
	double commit_ns; /* a typical mdb_txn_commit (moving average) */
	/* figures */
	int by_act_at[ACT_COUNT][AT_COUNT];
	int by_act[ACT_COUNT], by_at[AT_COUNT], by_job[JOB_COUNT];
	int killed, completed, fired_by_at[AT_COUNT], inside_commit;
	int power_losses, reopens;
	int fired_ops[OP_COUNT];
	pl_stats pl;
	int w_acked, w_committed_unacked, w_not_committed, w_visible_late;
	int jobs_committed, jobs_recovered;
	uint64_t noted; /* versions up to here are known to the model */
	bool is_in_point; /* false: between points (background steps) */
	uint64_t intents_recovered;
	/* call sites (stack hashes): seen by which operations, hit or not */
	uint64_t *sites;
	uint8_t *site_acts;
	bool *site_is_hit;
	size_t nseen_sites, nkilled_sites;
	int epoch;
} crash_ctx;

static uint64_t crand(crash_ctx *c, uint64_t n)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return n ? z % n : 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

static void plan_describe(const crash_plan *p, char *out, size_t n)
{
	int len = snprintf(out, n, "%s", act_names[p->act]);
	if (p->act == ACT_JOB)
		len += snprintf(out + len, n - (size_t)len, " %s%s of %s b%u", job_names[p->job],
				p->drop_history ? " (drop history)" : "",
				*p->part ? p->part : "_", p->bucket);
	if (p->act == ACT_CLEAN)
		len += snprintf(out + len, n - (size_t)len, " (grace %llds, trash %llds)",
				(long long)p->grace_s, (long long)p->trash_s);
	len += snprintf(out + len, n - (size_t)len, ", killed at %s", at_names[p->at]);
	if (p->at == AT_IO || p->at == AT_MUT)
		len += snprintf(out + len, n - (size_t)len, " call %lld (%s it)",
				(long long)p->kill_n, moment_names[p->moment]);
	if (p->at == AT_SITE)
		len += snprintf(out + len, n - (size_t)len, " %016" PRIx64 " (%s its first call)",
				p->kill_site, moment_names[p->moment]);
	if (p->at == AT_LMDB_BEFORE || p->at == AT_LMDB_INSIDE || p->at == AT_LMDB_AFTER)
		len += snprintf(out + len, n - (size_t)len, " of commit %lld",
				(long long)p->kill_n);
	if (p->at == AT_LMDB_INSIDE || p->at == AT_TIMER)
		len += snprintf(out + len, n - (size_t)len, " +%lld us",
				(long long)(p->delay_ns / 1000));
	if (p->at == AT_HOOK)
		len += snprintf(out + len, n - (size_t)len, " \"%s\"", p->hook_point);
	if (p->is_power_loss)
		snprintf(out + len, n - (size_t)len, ", then power loss");
}

static int fail(crash_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(crash_ctx *c, const char *fmt, ...)
{
	char what[512], msg[1024];
	if (c->is_in_point)
		plan_describe(&plan, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "background steps before it");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr,
		"\ncrash FAILED at point %d (%s): %s\n  replay: CRASH_SEED=%" PRIu64
		" CRASH_POINTS=%d\n",
		c->point, what, msg, c->seed, c->point + 1);
	if (c->is_in_point && plan.is_power_loss && pl_log.len)
		fprintf(stderr, "  the power loss undid:\n%s", (const char *)pl_log.data);
	return -1;
}

static uint64_t table_version(crash_ctx *c)
{
	strata_read_opts ro = {0};
	uint64_t v = 0;
	strata_err err;
	strata_read_version(c->wh, table, &ro, &v, &err);
	return v;
}

/* Escaped partition names and bucket counts of the table. */
static int partitions(crash_ctx *c, strata_arena *a, strata_partition **ps, size_t *np,
		      uint32_t *table_id)
{
	strata_mf_snap *snap;
	strata_err err;
	strata_table_def t;
	int rc = strata_mf_snap_open(strata_wh_mf(c->wh), &snap, &err);
	if (rc)
		return rc;
	rc = strata_mf_table_get(snap, table, &t, &err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, t.id, a, ps, np, &err);
	strata_mf_snap_close(snap);
	if (table_id)
		*table_id = t.id;
	return rc;
}

/* Pick a job with inputs; false if none was found. */
static bool pick_job(crash_ctx *c, crash_plan *p)
{
	strata_arena *a = strata_arena_new();
	strata_partition *ps;
	size_t np = 0;
	bool found = false;
	if (partitions(c, a, &ps, &np, NULL) == 0 && np > 0) {
		for (int attempt = 0; attempt < 16 && !found; attempt++) {
			const strata_partition *pt = &ps[crand(c, np)];
			snprintf(p->part, sizeof(p->part), "%s", pt->name);
			p->bucket = (uint32_t)crand(c, pt->buckets);
			uint64_t r = crand(c, 100);
			p->job = r < 35 ? JOB_SORT : r < 60 ? JOB_MERGE : r < 80 ? JOB_PARTIAL : JOB_MAJOR;
			p->drop_history = p->job == JOB_MAJOR && crand(c, 4) == 0;
			p->sort_max_bytes = crand(c, 2) ? 0 : 2000;
			p->merge_max_files = 2 + crand(c, 7);
			p->merge_target_bytes = crand(c, 2) ? 0 : 1500;
			strata_bucket_view v;
			strata_err err;
			if (strata_bucket_view_load(c->wh, table, p->part, p->bucket, strata_now_us(), &v,
						    &err) != 0)
				continue;
			strata_job_plan jp;
			job_plan_make(p, &v, &jp);
			found = jp.ninputs > 0;
			strata_bucket_view_free(&v);
		}
	}
	strata_arena_free(a);
	return found;
}

/* A sort or merge in the parent, so a clean point has files to delete. */
static int parent_job(crash_ctx *c)
{
	crash_plan p;
	memset(&p, 0, sizeof(p));
	if (!pick_job(c, &p) || p.drop_history)
		return 0;
	strata_bucket_view v;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_bucket_view_load(c->wh, table, p.part, p.bucket, strata_now_us(), &v, &err);
	if (rc == 0) {
		strata_job_plan jp;
		job_plan_make(&p, &v, &jp);
		strata_job_ctl ctl = {.owner = "crash-parent@test:0"};
		strata_job_result res;
		rc = strata_job_execute(c->wh, &v, &jp, &ctl, &res, &err);
		strata_bucket_view_free(&v);
	}
	if (rc)
		return fail(c, "parent job before a clean point failed: %s", err.msg);
	oracle_note_version(c->o, table_version(c));
	return 0;
}

static void plan_point(crash_ctx *c, crash_plan *p)
{
	memset(p, 0, sizeof(*p));
	uint64_t r = crand(c, 100);
	p->act = r < 45 ? ACT_WRITE : r < 78 ? ACT_JOB : r < 97 ? ACT_CLEAN : ACT_PURGE;
	if (p->act == ACT_JOB && !pick_job(c, p))
		p->act = ACT_WRITE;
	r = crand(c, 100);
	if (p->act == ACT_JOB && r < 15)
		p->at = AT_HOOK;
	else if (r < 27)
		p->at = AT_IO;
	else if (r < 42)
		p->at = AT_MUT;
	else if (r < 60)
		p->at = AT_SITE;
	else if (r < 67)
		p->at = AT_LMDB_BEFORE;
	else if (r < 77)
		p->at = AT_LMDB_INSIDE;
	else if (r < 84)
		p->at = AT_LMDB_AFTER;
	else if (r < 94)
		p->at = AT_TIMER;
	else
		p->at = AT_NONE;
	p->moment = (crash_moment)crand(c, MOMENT_COUNT);
	if (p->at == AT_SITE) {
		/* a call stack this operation reached before and no kill hit yet */
		size_t cand = 0, pick = 0;
		for (size_t i = 0; i < SITE_SEEN_CAP; i++)
			cand += c->sites[i] && !c->site_is_hit[i] && (c->site_acts[i] & (1u << p->act));
		if (cand == 0) {
			p->at = AT_MUT;
		} else {
			pick = (size_t)crand(c, cand);
			for (size_t i = 0; i < SITE_SEEN_CAP; i++)
				if (c->sites[i] && !c->site_is_hit[i] &&
				    (c->site_acts[i] & (1u << p->act)) && pick-- == 0)
					p->kill_site = c->sites[i];
		}
	}
	/* call numbers: mostly within a typical run, sometimes the longest */
	bool is_typical = crand(c, 10) < 7;
	switch (p->at) {
	case AT_IO:
		p->kill_n = 1 + (int64_t)crand(c, is_typical ? (uint64_t)(c->avg_io[p->act] * 1.1) + 1 :
							       (uint64_t)c->max_io[p->act]);
		break;
	case AT_MUT:
		p->kill_n = 1 + (int64_t)crand(c, is_typical ? (uint64_t)(c->avg_mut[p->act] * 1.1) + 1 :
							       (uint64_t)c->max_mut[p->act]);
		break;
	case AT_LMDB_BEFORE:
	case AT_LMDB_AFTER:
		p->kill_n = 1 + (int64_t)crand(c, (uint64_t)c->max_commits[p->act]);
		break;
	case AT_LMDB_INSIDE:
		p->kill_n = 1 + (int64_t)crand(c, (uint64_t)c->max_commits[p->act]);
		p->delay_ns = 1 + (int64_t)crand(c, (uint64_t)(c->commit_ns * 1.2));
		break;
	case AT_TIMER:
		p->delay_ns = 1 + (int64_t)crand(c, (uint64_t)c->max_ns[p->act]);
		break;
	case AT_HOOK:
		p->hook_point = crand(c, 2) ? "outputs-written" : "committed";
		break;
	default:
		break;
	}
	p->grace_s = (int64_t)crand(c, 3);
	p->trash_s = crand(c, 2) ? 0 : (int64_t)crand(c, 20);
	p->orphan_age_s = crand(c, 2) ? -1 : 0;
	p->is_power_loss = crand(c, 1000) < env_u64("CRASH_PL_PERMILLE", CRASH_PL_PERMILLE_DEFAULT);
}

/* Wait for the child, bounded; on timeout kill it and reap it. */
static int child_wait(pid_t pid, int *status)
{
	int64_t t0 = mono_ns(), sleep_ns = 20000;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (mono_ns() - t0 > (int64_t)CRASH_WAIT_MAX_S * 1000000000) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		struct timespec ts = {0, sleep_ns};
		nanosleep(&ts, NULL);
		if (sleep_ns < 2000000)
			sleep_ns *= 2;
	}
}

static int reopen(crash_ctx *c)
{
	strata_wh_close(c->wh);
	c->wh = NULL;
	strata_err err;
	int rc = strata_wh_open(c->wh_path, false, &c->wh, &err);
	if (rc)
		return fail(c, "reopening the warehouse failed: %s", err.msg);
	oracle_set_wh(c->o, c->wh);
	c->reopens++;
	return 0;
}

/* Bring the model up to the versions the child committed (jobs, cleans and
 * purges change no data; some drop history on purpose).  Called whenever
 * the view may have moved on: right after the crash the parent's readers can
 * still see the version before a commit the child finished inside
 * mdb_txn_commit (see check_writer). */
static void catch_up(crash_ctx *c)
{
	uint64_t to = table_version(c);
	if (to <= c->noted)
		return;
	strata_mf_snap *snap;
	strata_err err;
	strata_table_def t;
	strata_arena *a = strata_arena_new();
	if (strata_mf_snap_open(strata_wh_mf(c->wh), &snap, &err) == 0) {
		strata_version_rec *vs;
		size_t n = 0;
		if (strata_mf_table_get(snap, table, &t, &err) == 0 &&
		    strata_mf_versions_list(snap, t.id, c->noted + 1, to - c->noted, a, &vs, &n, &err) ==
			    0)
			for (size_t i = 0; i < n; i++) {
				if (strstr(vs[i].note, "(drop history)"))
					oracle_note_history_dropped(c->o, vs[i].version);
				if (plan.act == ACT_JOB && vs[i].kind != STRATA_V_CLEAN &&
				    vs[i].kind != STRATA_V_WRITE)
					c->jobs_committed++;
			}
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	if (plan.act == ACT_PURGE) {
		/* a purge may have dropped history in some buckets and some tags */
		oracle_note_history_dropped(c->o, to);
		oracle_sync_tags(c->o);
	}
	oracle_note_version(c->o, to);
	c->noted = to;
}

/* Step 1 for writers: atomicity, acknowledged commits, the token.
 *
 * The version a reader sees right after the crash can lag: a writer killed
 * inside mdb_txn_commit after LMDB wrote the meta page, but before it
 * published the new transaction id in the lock region, has committed
 * durably, yet readers of processes that keep the environment open see the
 * previous version until the next write transaction recovers the dead
 * writer's lock (LMDB re-reads the newest meta page then) or the environment
 * is reopened.  So the scan before the re-commit must equal the model with or
 * without the transaction, and the re-commit with the same token decides. */
static int check_writer(crash_ctx *c, oracle_txn *t, const crash_msg *ack, uint64_t v_model)
{
	uint64_t v_now = table_version(c);
	if (v_now != v_model && v_now != v_model + 1)
		return fail(c, "table version %" PRIu64 " after a writer crash, model at %" PRIu64, v_now,
			    v_model);
	bool is_seen = v_now == v_model + 1;
	if (is_seen)
		oracle_txn_apply(c->o, t, v_now);
	/* atomicity: all of it or none of it */
	if (oracle_check_scan(c->o, oracle_version(c->o), NULL))
		return fail(c, "after the crash a scan shows part of the transaction (or lost "
			       "what version %" PRIu64 " committed)",
			    v_now);
	uint64_t v2 = 0;
	bool is_repeat = false;
	strata_err err;
	strata_err_clear(&err);
	int rc = oracle_txn_commit(c->wh, table, plan.lines, plan.token, 0, &v2, &is_repeat, &err);
	if (rc)
		return fail(c, "re-committing with the same token failed: %s", err.msg);
	if (v2 != v_model + 1)
		return fail(c, "re-commit gave version %" PRIu64 " (repeat %d), want %" PRIu64, v2,
			    is_repeat, v_model + 1);
	if (is_seen && !is_repeat)
		return fail(c, "a transaction seen committed at %" PRIu64 " committed again", v_now);
	if (ack && (!is_repeat || ack->version != v2))
		return fail(c, "the child was told version %" PRIu64 " committed; the re-commit gave "
			       "%" PRIu64 " (repeat %d)",
			    ack->version, v2, is_repeat);
	if (!is_seen) {
		oracle_txn_apply(c->o, t, v2);
		if (is_repeat && oracle_check_scan(c->o, v2, NULL))
			return fail(c, "the transaction found by its token reads wrong");
	}
	if (!is_repeat)
		c->w_not_committed++;
	else if (ack)
		c->w_acked++;
	else
		c->w_committed_unacked++;
	if (is_repeat && !is_seen)
		c->w_visible_late++;
	return 0;
}

/* Step 2: intents of crashed jobs are recovered, their files and claims gone. */
static int check_recovery(crash_ctx *c)
{
	strata_mf *mf = strata_wh_mf(c->wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap;
	strata_intent *in = NULL;
	size_t n = 0;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_mf_snap_open(mf, &snap, &err);
	if (rc == 0) {
		rc = strata_mf_intents_list(snap, a, &in, &n, &err);
		strata_mf_snap_close(snap);
	}
	if (rc) {
		strata_arena_free(a);
		return fail(c, "listing intents failed: %s", err.msg);
	}
	size_t recovered = 0;
	rc = strata_recover_intents(c->wh, NULL, &recovered, &err);
	if (rc) {
		strata_arena_free(a);
		return fail(c, "strata_recover_intents failed: %s", err.msg);
	}
	/* the listing above may predate the job's commit (see check_writer):
	 * an intent whose job has live outputs now committed, and recovery must
	 * have left it alone */
	strata_file_entry *files = NULL;
	size_t nfiles = 0;
	rc = strata_mf_snap_open(mf, &snap, &err);
	if (rc == 0) {
		strata_table_def td;
		rc = strata_mf_table_get(snap, table, &td, &err);
		if (rc == 0)
			rc = strata_mf_table_files(snap, td.id, a, &files, &nfiles, &err);
		strata_mf_snap_close(snap);
	}
	if (rc) {
		strata_arena_free(a);
		return fail(c, "listing files failed: %s", err.msg);
	}
	size_t committed = 0;
	for (size_t i = 0; i < n; i++) {
		bool is_committed = false;
		for (size_t k = 0; k < nfiles && !is_committed; k++)
			is_committed = files[k].job_id == in[i].job_id;
		if (is_committed) {
			in[i].npaths = 0; /* its outputs are live */
			committed++;
		}
	}
	if (recovered + committed != n) {
		strata_arena_free(a);
		return fail(c, "%zu intents of dead jobs: %zu recovered, %zu committed", n, recovered,
			    committed);
	}
	c->intents_recovered += recovered;
	c->jobs_recovered += recovered > 0;
	for (size_t i = 0; i < n; i++) {
		for (uint32_t k = 0; k < in[i].npaths; k++) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s", in[i].paths[k]);
			char *slash = strrchr(dir, '/');
			if (!slash)
				continue;
			*slash = '\0';
			const char *base = slash + 1;
			DIR *d = opendir(dir);
			struct dirent *e;
			while (d && (e = readdir(d)) != NULL) {
				if (strncmp(e->d_name, base, strlen(base)) == 0) {
					closedir(d);
					strata_arena_free(a);
					return fail(c, "\"%s/%s\" of recovered job %" PRIu64 " is still there",
						    dir, e->d_name, in[i].job_id);
				}
			}
			if (d)
				closedir(d);
		}
		strata_claim cl;
		strata_err tmp;
		rc = strata_mf_snap_open(mf, &snap, &err);
		if (rc == 0) {
			bool has = strata_mf_claim_get(snap, in[i].table_id, in[i].part_id, in[i].bucket, &cl,
						       &tmp) == 0 &&
				   cl.job_id == in[i].job_id;
			strata_mf_snap_close(snap);
			if (has) {
				strata_arena_free(a);
				return fail(c, "recovered job %" PRIu64 " still holds its claim",
					    in[i].job_id);
			}
		}
	}
	strata_arena_free(a);
	rc = strata_mf_snap_open(mf, &snap, &err);
	if (rc == 0) {
		a = strata_arena_new();
		rc = strata_mf_intents_list(snap, a, &in, &n, &err);
		strata_mf_snap_close(snap);
		strata_arena_free(a);
		if (rc == 0 && n != 0)
			return fail(c, "%zu intents remain after recovery", n);
	}
	return 0;
}

/* The bucket of a crashed job can be claimed again by a new job. */
static int check_claimable(crash_ctx *c)
{
	strata_arena *a = strata_arena_new();
	strata_partition *ps;
	size_t np = 0;
	uint32_t table_id = 0;
	int rc = partitions(c, a, &ps, &np, &table_id);
	for (size_t i = 0; rc == 0 && i < np; i++) {
		if (strcmp(ps[i].name, plan.part) != 0)
			continue;
		uint64_t job_id;
		strata_err err;
		strata_err_clear(&err);
		rc = strata_mf_claim_new(strata_wh_mf(c->wh), table_id, ps[i].id, plan.bucket,
					 "crash-probe@test:0", 60ll * 1000000, &job_id, &err);
		if (rc) {
			strata_arena_free(a);
			return fail(c, "after recovery bucket %s/%u cannot be claimed: %s", plan.part,
				    plan.bucket, err.msg);
		}
		strata_mf_claim_release(strata_wh_mf(c->wh), table_id, ps[i].id, plan.bucket, job_id,
					&err);
	}
	strata_arena_free(a);
	return 0;
}

static int check_reads(crash_ctx *c, bool is_all)
{
	if (oracle_check_promise(c->o) || oracle_check_tags(c->o))
		return fail(c, "retention promise or tags broken after recovery");
	if (oracle_check_scan(c->o, oracle_version(c->o), NULL))
		return fail(c, "latest scan differs from the model after recovery");
	if (oracle_check_random_reads(c->o, 3))
		return fail(c, "random reads differ from the model after recovery");
	if (is_all && oracle_check_all_versions(c->o))
		return fail(c, "a retained version differs from the model after recovery");
	return 0;
}

/* Step 4: a clean with orphan age 0, then no unknown file may remain. */
static int recovery_clean(crash_ctx *c)
{
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	co.orphan_age_s = 0;
	co.orphan_max_fraction = 1; /* crash debris can be most of a small table */
	strata_clean_result r;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_clean_table(c->wh, table, &co, &r, &err);
	if (rc)
		return fail(c, "the clean after recovery failed: %s", err.msg);
	catch_up(c);
	if (oracle_check_files(c->o))
		return fail(c, "unknown or missing files after the recovery clean");
	if (oracle_check_promise(c->o))
		return fail(c, "retention promise broken after the recovery clean");
	return 0;
}

/* Background: the model's own writes, DDL and governance between points. */
static int background(crash_ctx *c)
{
	int steps = 1 + (int)crand(c, 3);
	for (int i = 0; i < steps; i++)
		if (oracle_step(c->o))
			return fail(c, "background write step failed");
	if (crand(c, 10) < 3 && oracle_gov_step(c->o))
		return fail(c, "background governance step failed");
	return 0;
}

static void learn(crash_ctx *c, const crash_msg *done)
{
	crash_act a = plan.act;
	c->max_io[a] = STRATA_MAX(c->max_io[a], shm->io_calls);
	c->max_mut[a] = STRATA_MAX(c->max_mut[a], shm->mut_calls);
	if (done) {
		c->avg_io[a] = 0.8 * c->avg_io[a] + 0.2 * (double)shm->io_calls;
		c->avg_mut[a] = 0.8 * c->avg_mut[a] + 0.2 * (double)shm->mut_calls;
	}
	c->max_commits[a] = STRATA_MAX(c->max_commits[a], (int64_t)shm->commits_done);
	if (done)
		c->max_ns[a] = STRATA_MAX(c->max_ns[a], done->elapsed_ns);
	if (shm->commits_done > 0)
		c->commit_ns = 0.7 * c->commit_ns +
			       0.3 * (double)shm->commit_ns_total / shm->commits_done;
}

static void sites_merge(crash_ctx *c)
{
	bool is_new;
	for (size_t i = 0; i < SITE_CAP; i++) {
		if (!shm->sites[i])
			continue;
		size_t k = site_slot(c->sites, SITE_SEEN_CAP, shm->sites[i], &is_new);
		c->nseen_sites += is_new;
		c->site_acts[k] |= (uint8_t)(1u << plan.act);
	}
	if (shm->has_fired && shm->fired_site &&
	    (plan.at == AT_IO || plan.at == AT_MUT || plan.at == AT_SITE)) {
		size_t k = site_slot(c->sites, SITE_SEEN_CAP, shm->fired_site, &is_new);
		c->nseen_sites += is_new;
		if (!c->site_is_hit[k]) {
			c->site_is_hit[k] = true;
			c->nkilled_sites++;
		}
		c->fired_ops[shm->fired_op]++;
	}
}

static int crash_point(crash_ctx *c)
{
	/* the first points of a table are the children's: they create its
	 * directories */
	c->is_in_point = false;
	if (c->point % c->epoch >= 8 && background(c))
		return -1;
	if (crand(c, 8) == 0) /* history leaves the one-hour window: partial
				 compactions get a boundary, cleans expire */
		tu_clock_advance((int64_t)(600 + crand(c, 7200)) * 1000000);
	plan_point(c, &plan);
	c->is_in_point = true;
	if (plan.act == ACT_CLEAN) {
		if (crand(c, 10) < 7 && parent_job(c))
			return -1;
		tu_clock_advance((plan.grace_s + 1) * 1000000); /* past the grace */
	}

	oracle_txn *t = NULL;
	if (plan.act == ACT_WRITE) {
		t = oracle_txn_gen(c->o);
		plan.lines = oracle_txn_lines(t);
		plan.token = oracle_txn_token(t);
	}
	uint64_t v_model = oracle_version(c->o);
	uint64_t v_before = table_version(c);
	if (v_before != v_model) {
		oracle_txn_free(t);
		return fail(c, "table at version %" PRIu64 " before the point, model at %" PRIu64,
			    v_before, v_model);
	}
	c->noted = v_before;
	/* reset the run's counters (not the journal) */
	shm->io_calls = shm->mut_calls = 0;
	shm->commits_begun = shm->commits_done = 0;
	shm->commit_ns_total = 0;
	shm->has_fired = 0;
	shm->fired_op = 0;
	shm->fired_site = 0;
	memset(shm->sites, 0, sizeof(shm->sites));
	int pfd[2];
	if (pipe(pfd) != 0) {
		oracle_txn_free(t);
		return fail(c, "pipe: %s", strerror(errno));
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		oracle_txn_free(t);
		return fail(c, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(c->wh_path, pfd[1]);
	}
	close(pfd[1]);
	int status = 0;
	int wrc = child_wait(pid, &status);
	crash_msg ack, done, m;
	bool has_ack = false, has_done = false;
	while (read(pfd[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		if (m.type == MSG_ACK) {
			ack = m;
			has_ack = true;
		} else if (m.type == MSG_DONE) {
			done = m;
			has_done = true;
		}
	}
	close(pfd[0]);
	int rc = 0;
	c->by_act_at[plan.act][plan.at]++;
	c->by_act[plan.act]++;
	c->by_at[plan.at]++;
	if (plan.act == ACT_JOB)
		c->by_job[plan.job]++;
	if (wrc != 0) {
		rc = fail(c, "the child did not finish within %d s (killed)", CRASH_WAIT_MAX_S);
		goto out;
	}
	bool is_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (!is_killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		rc = fail(c, "the child died otherwise: %s %d",
			  WIFSIGNALED(status) ? "signal" : "exit status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		goto out;
	}
	if (has_done && done.rc != 0) {
		rc = fail(c, "the child's %s failed: %s", act_names[plan.act], done.msg);
		goto out;
	}
	if (has_done) {
		c->completed++;
		learn(c, &done);
	} else {
		c->killed++;
		if (shm->has_fired || plan.at == AT_TIMER)
			c->fired_by_at[plan.at]++;
		if (shm->commits_begun > shm->commits_done && plan.at != AT_LMDB_BEFORE)
			c->inside_commit++;
		learn(c, NULL);
	}
	sites_merge(c);
	if (shm->has_overflow) {
		rc = fail(c, "the power-loss journal overflowed (raise JOURNAL_MAX/JPATH_MAX)");
		goto out;
	}
	/* the machine loses power: everything not durable is gone */
	if (plan.is_power_loss) {
		power_loss(c->root, &c->pl);
		c->power_losses++;
	}
	/* a restarted process */
	if (crand(c, REOPEN_EVERY) == 0 && (rc = reopen(c)) != 0)
		goto out;
	/* 1. */
	if (plan.act == ACT_WRITE) {
		rc = check_writer(c, t, has_ack ? &ack : NULL, v_model);
		if (rc)
			goto out;
	} else {
		uint64_t v_now = table_version(c);
		if (has_ack && ack.version > v_now) {
			rc = fail(c, "the child was told version %" PRIu64 " committed, the table is at %" PRIu64,
				  ack.version, v_now);
			goto out;
		}
		catch_up(c);
	}
	/* 2. */
	if ((rc = check_recovery(c)) != 0)
		goto out;
	catch_up(c);
	if (plan.act == ACT_JOB && (rc = check_claimable(c)) != 0)
		goto out;
	/* 3. */
	if ((rc = check_reads(c, (c->point + 1) % CHECK_ALL_EVERY == 0)) != 0)
		goto out;
	/* 4. */
	if ((rc = recovery_clean(c)) != 0)
		goto out;
	char marker[PATH_MAX];
	struct stat mst;
	snprintf(marker, sizeof(marker), "%s/STRATA", c->wh_path);
	if (stat(marker, &mst) != 0) {
		int e = errno;
		strata_buf left = {0};
		DIR *d = opendir(c->wh_path);
		bool is_listed = d != NULL;
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL)
			strata_buf_printf(&left, " %s", de->d_name);
		if (d)
			closedir(d);
		strata_buf_putc(&left, 0);
		rc = fail(c, "the warehouse marker %s is gone (%s); the warehouse holds:%s", marker,
			  strerror(e), is_listed ? (const char *)left.data : " (cannot list it)");
		strata_buf_free(&left);
		goto out;
	}
	journal_compact();
	tu_clock_advance(1000000 + (int64_t)crand(c, 2000000));
out:
	oracle_txn_free(t);
	return rc;
}

static void print_figures(crash_ctx *c, int points, double seconds)
{
	fprintf(stderr,
		"crash: %d points in %.1f s (seed %" PRIu64 "): %d killed, %d completed; "
		"%d with power loss (%" PRIu64 " files truncated, %" PRIu64 " renames, %" PRIu64
		" unlinks, %" PRIu64 " creations, %" PRIu64 " mkdirs undone; %" PRIu64
		" changes outside the warehouse); %d warehouse reopens\n",
		points, seconds, c->seed, c->killed, c->completed, c->power_losses, c->pl.truncated,
		c->pl.renames, c->pl.unlinks, c->pl.creates, c->pl.mkdirs, c->pl.outside, c->reopens);
	fprintf(stderr, "crash: operations:");
	for (int a = 0; a < ACT_COUNT; a++)
		fprintf(stderr, " %s %d", act_names[a], c->by_act[a]);
	fprintf(stderr, " (jobs:");
	for (int j = 0; j < JOB_COUNT; j++)
		fprintf(stderr, " %s %d", job_names[j], c->by_job[j]);
	fprintf(stderr, ")\ncrash: moments (planned/fired):");
	for (int k = 0; k < AT_COUNT; k++)
		fprintf(stderr, " %s %d/%d", at_names[k], c->by_at[k], c->fired_by_at[k]);
	fprintf(stderr, "; %d died inside mdb_txn_commit\n", c->inside_commit);
	fprintf(stderr, "crash: by operation and moment:\n");
	for (int a = 0; a < ACT_COUNT; a++) {
		fprintf(stderr, "  %-6s", act_names[a]);
		for (int k = 0; k < AT_COUNT; k++)
			fprintf(stderr, " %s %d", at_names[k], c->by_act_at[a][k]);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "crash: killed at I/O calls:");
	for (int op = 0; op < OP_COUNT; op++)
		if (c->fired_ops[op])
			fprintf(stderr, " %s %d", op_names[op], c->fired_ops[op]);
	fprintf(stderr, "; %zu of %zu distinct call sites (stacks) seen were hit\n",
		c->nkilled_sites, c->nseen_sites);
	fprintf(stderr,
		"crash: writers: %d acknowledged, %d committed but unacknowledged (%d visible only "
		"once the write lock was recovered), %d lost and re-committed; jobs: %d committed, "
		"%d recovered (%" PRIu64 " intents)\n",
		c->w_acked, c->w_committed_unacked, c->w_visible_late, c->w_not_committed,
		c->jobs_committed,
		c->jobs_recovered, c->intents_recovered);
}

/* The shared region, the stash directory under root and the journaling
 * vtable, for one test. */
static int crash_env_begin(const char *root)
{
	snprintf(stash_dir, sizeof(stash_dir), "%s/stash", root);
	if (mkdir(stash_dir, 0755) != 0)
		return -1;
	shm = mmap(NULL, sizeof(crash_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		shm = NULL;
		return -1;
	}
	memset(shm, 0, sizeof(*shm));
	memset(&plan, 0, sizeof(plan));
	plan.at = AT_NONE;
	for (int fd = 0; fd < TRACK_FD_MAX; fd++)
		fdt[fd] = (fd_track){.data = -1};
	void *bt[4];
	backtrace(bt, 4); /* load the unwinder once, before any fork */
	strata_io_set(&crash_io);
	/* ahead of the real clock, so files the children leave are old enough
	 * for an orphan scan with age 0 */
	tu_clock_manual(((int64_t)time(NULL) + 86400) * 1000000);
	return 0;
}

static void crash_env_end(void)
{
	strata_io_set(NULL);
	tu_clock_real();
	if (shm)
		munmap(shm, sizeof(crash_shm));
	shm = NULL;
	strata_buf_free(&pl_log);
}

static void test_crash_points(void)
{
	int points = (int)env_u64("CRASH_POINTS", CRASH_IS_SANITIZED ? CRASH_POINTS_SANITIZED :
								     CRASH_POINTS_DEFAULT);
	crash_ctx *c = strata_calloc(1, sizeof(*c));
	c->seed = env_u64("CRASH_SEED", (uint64_t)time(NULL));
	c->rng = c->seed * 0x2545f4914f6cdd1dull + 99;
	fprintf(stderr, "\ncrash: %d points, seed %" PRIu64 " (replay with CRASH_SEED=%" PRIu64
			" CRASH_POINTS=%d)\n",
		points, c->seed, c->seed, points);
	if (!getenv("CRASH_VERBOSE"))
		strata_log_set_level(STRATA_LOG_ERROR);
	for (int a = 0; a < ACT_COUNT; a++) {
		c->max_io[a] = 80;
		c->max_mut[a] = 25;
		c->avg_io[a] = 60;
		c->avg_mut[a] = 20;
		c->max_commits[a] = a == ACT_WRITE ? 1 : 4;
		c->max_ns[a] = 3000000;
	}
	c->commit_ns = 200000;
	c->sites = strata_calloc(SITE_SEEN_CAP, sizeof(uint64_t));
	c->site_acts = strata_calloc(SITE_SEEN_CAP, sizeof(uint8_t));
	c->site_is_hit = strata_calloc(SITE_SEEN_CAP, sizeof(bool));
	snprintf(c->root, sizeof(c->root), "%s", tu_tmpdir());
	snprintf(c->wh_path, sizeof(c->wh_path), "%s/wh", c->root);
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(c->root), 0);
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(c->wh_path, true, &c->wh, &err), 0);
	int epoch = (int)env_u64("CRASH_EPOCH", CRASH_EPOCH_DEFAULT);
	if (epoch < 1)
		epoch = 1;
	c->epoch = epoch;
	int failed = 0, done = 0;
	int64_t t0 = mono_ns();
	for (c->point = 0; c->point < points && !failed; c->point++, done++) {
		if (c->point % epoch == 0) {
			/* a fresh table: its directories get created by the children */
			if (c->o && oracle_check_all_versions(c->o))
				failed = fail(c, "a retained version differs from the model at the end "
						 "of table %s", table);
			oracle_free(c->o);
			c->o = NULL;
			if (failed)
				break;
			snprintf(table, sizeof(table), "crash_%d", c->point / epoch);
			oracle_cfg cfg;
			oracle_cfg_default(&cfg);
			cfg.seed = c->seed + (uint64_t)(c->point / epoch);
			cfg.nparts = 4;
			cfg.buckets = 3;
			cfg.nkeys = 120;
			cfg.max_txn_rows = 60;
			cfg.ddl_permille = 15;
			cfg.retain_hours = 1;
			cfg.is_quiet = true;
			/* every other table keeps its small row files inline
			 * (the default): both commit paths meet every kill */
			cfg.inline_max_bytes = (c->point / epoch) % 2 ? 0 : -1;
			c->o = oracle_new(c->wh, table, &cfg);
		}
		failed = crash_point(c) != 0;
	}
	if (!failed && c->o && oracle_check_all_versions(c->o))
		failed = fail(c, "a retained version differs from the model at the end");
	double seconds = (double)(mono_ns() - t0) / 1e9;
	print_figures(c, done, seconds);
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(done, points);
	CU_ASSERT_EQUAL(c->pl.outside, 0); /* strata changes nothing outside its warehouse */
	if (!failed && points >= 100) {
		/* the suite can only be trusted if its moments really happened */
		CU_ASSERT(c->killed > points / 2);
		CU_ASSERT(c->fired_by_at[AT_IO] + c->fired_by_at[AT_MUT] > 0);
		CU_ASSERT(c->fired_by_at[AT_LMDB_AFTER] > 0);
		CU_ASSERT(c->w_committed_unacked > 0);
		CU_ASSERT(c->w_not_committed > 0);
		CU_ASSERT(c->power_losses > 0);
	}
	oracle_free(c->o);
	strata_wh_close(c->wh);
	crash_env_end();
	free(c->sites);
	free(c->site_acts);
	free(c->site_is_hit);
	free(c);
}

/* ---- deterministic tests of the bugs the crash points found ------------------------------ */

/* Fork a child that runs fn(arg) and exits; wait for it (bounded).
 * Returns the wait status, or -1. */
static int run_child(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg);
		_exit(0);
	}
	int status = 0;
	return child_wait(pid, &status) == 0 ? status : -1;
}

static int small_table(strata_wh *wh, const char *name, strata_err *err)
{
	int rc = strata_table_create(wh, name, "id BIGINT NOT NULL PRIMARY KEY, v STRING", NULL,
				     NULL, (const char *const[]){"write.bucket.num=1"}, 1, err);
	for (int i = 0; rc == 0 && i < 3; i++) {
		char line[64];
		snprintf(line, sizeof(line), "{\"id\":%d,\"v\":\"r%d\"}\n", i, i);
		uint64_t v;
		bool is_repeat;
		rc = oracle_txn_commit(wh, name, line, NULL, 0, &v, &is_repeat, err);
	}
	return rc;
}

/* Rows of the latest version, or -1 if the read fails. */
static int count_rows(strata_wh *wh, const char *name)
{
	strata_scan *sc;
	strata_err err;
	strata_read_opts ro = {0};
	if (strata_scan_open(wh, name, &ro, &sc, &err) != 0) {
		fprintf(stderr, "  scan of %s failed: %s\n", name, err.msg);
		return -1;
	}
	const strata_row *row;
	const char *const *pv;
	int n = 0, rc;
	while ((rc = strata_scan_next(sc, &row, &pv, &err)) == 1)
		n++;
	strata_scan_close(sc);
	if (rc < 0)
		fprintf(stderr, "  reading %s failed: %s\n", name, err.msg);
	return rc < 0 ? -1 : n;
}

typedef struct child_args {
	const char *wh_path;
	const char *table;
	int ready_fd, go_fd;
} child_args;

/* A sort killed just before its intent commit: its claim stays, no intent. */
static void job_killed_after_claim(void *arg)
{
	child_args *ca = arg;
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(ca->wh_path, false, &wh, &err) != 0)
		_exit(1);
	strata_bucket_view v;
	if (strata_bucket_view_load(wh, ca->table, "", 0, strata_now_us(), &v, &err) != 0)
		_exit(1);
	strata_job_plan jp;
	strata_sort_plan(&v, 0, &jp);
	char owner[128];
	strata_owner_string("crash-job", owner, sizeof(owner));
	strata_job_ctl ctl = {.owner = owner};
	plan.at = AT_LMDB_BEFORE;
	plan.kill_n = 2; /* 1: claim, 2: intent */
	is_child = true;
	strata_mf_commit_hook = child_commit_hook;
	strata_job_result res;
	strata_job_execute(wh, &v, &jp, &ctl, &res, &err);
	_exit(2); /* not reached */
}

/* A clean killed at its first file operation: its table claim stays. */
static void clean_killed_after_claim(void *arg)
{
	child_args *ca = arg;
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(ca->wh_path, false, &wh, &err) != 0)
		_exit(1);
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	plan.at = AT_IO;
	plan.kill_n = 1;
	is_child = true;
	shm->io_calls = 0;
	strata_clean_result r;
	strata_clean_table(wh, ca->table, &co, &r, &err);
	_exit(2);
}

/* Bug 1: a process killed while holding a bucket claim (a job between its
 * claim and its intent) or the table's clean claim blocked that bucket, or
 * every clean of the table, for the claim's whole TTL (10 minutes); intent
 * recovery could not see it.  Claims of dead processes of this host are now
 * taken over; live and remote ones still bind. */
static void test_dead_claims_taken_over(void)
{
	const char *root = tu_tmpdir();
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(root), 0);
	char wh_path[PATH_MAX];
	snprintf(wh_path, sizeof(wh_path), "%s/wh", root);
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh_path, true, &wh, &err), 0);
	CU_ASSERT_EQUAL_FATAL(small_table(wh, "dead", &err), 0);
	child_args ca = {.wh_path = wh_path, .table = "dead"};
	int st = run_child(job_killed_after_claim, &ca);
	CU_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = run_child(clean_killed_after_claim, &ca);
	CU_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* the dead job's bucket: a new job runs at once */
	strata_bucket_view v;
	CU_ASSERT_EQUAL_FATAL(strata_bucket_view_load(wh, "dead", "", 0, strata_now_us(), &v, &err), 0);
	strata_job_plan jp;
	strata_sort_plan(&v, 0, &jp);
	CU_ASSERT(jp.ninputs > 0);
	strata_job_ctl ctl = {.owner = "crash-test@test:0"};
	strata_job_result res;
	int rc = strata_job_execute(wh, &v, &jp, &ctl, &res, &err);
	if (rc)
		fprintf(stderr, "\n  job after a dead claim: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	uint32_t table_id = v.table.id, part_id = v.part.id;
	strata_bucket_view_free(&v);
	/* the dead clean's table: a clean runs at once */
	strata_clean_opts co;
	strata_clean_opts_default(&co);
	strata_clean_result cr;
	rc = strata_clean_table(wh, "dead", &co, &cr, &err);
	if (rc)
		fprintf(stderr, "\n  clean after a dead clean: %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	/* a live owner of this host and an owner on another host still bind */
	const char *owners[2] = {NULL, "stratad@another-host:1"};
	char me[128];
	strata_owner_string("crash-test", me, sizeof(me));
	owners[0] = me;
	for (int i = 0; i < 2; i++) {
		uint64_t j1, j2;
		CU_ASSERT_EQUAL(strata_mf_claim_new(strata_wh_mf(wh), table_id, part_id, 0, owners[i],
						    60ll * 1000000, &j1, &err), 0);
		CU_ASSERT_EQUAL(strata_mf_claim_new(strata_wh_mf(wh), table_id, part_id, 0,
						    "probe@test:0", 60ll * 1000000, &j2, &err),
				STRATA_EBUSY);
		strata_mf_claim_release(strata_wh_mf(wh), table_id, part_id, 0, j1, &err);
	}
	CU_ASSERT_EQUAL(count_rows(wh, "dead"), 3);
	strata_wh_close(wh);
	crash_env_end();
}

static int late_hook(void *arg, const char *point)
{
	child_args *ca = arg;
	if (strcmp(point, "outputs-written") == 0) {
		char b = 'R';
		if (write(ca->ready_fd, &b, 1) != 1 || read(ca->go_fd, &b, 1) != 1)
			_exit(1);
	}
	return 0;
}

/* A sort on another host whose claim expired: it pauses after writing its
 * outputs until the parent says go, then commits if it can. */
static void late_job(void *arg)
{
	child_args *ca = arg;
	strata_wh *wh;
	strata_err err;
	if (strata_wh_open(ca->wh_path, false, &wh, &err) != 0)
		_exit(1);
	strata_bucket_view v;
	if (strata_bucket_view_load(wh, ca->table, "", 0, strata_now_us(), &v, &err) != 0)
		_exit(1);
	strata_job_plan jp;
	strata_sort_plan(&v, 0, &jp);
	strata_job_ctl ctl = {.owner = "stratad@another-host:1", .claim_ttl_us = 1000000,
			      .hook = late_hook, .hook_arg = ca};
	strata_job_result res;
	int rc = strata_job_execute(wh, &v, &jp, &ctl, &res, &err);
	if (write(ca->ready_fd, &rc, sizeof(rc)) != (ssize_t)sizeof(rc))
		_exit(1);
	_exit(0);
}

static pid_t late_pid;
static int late_go_fd;
static int late_status = -1;

/* Recovery's first directory listing: the late job commits now, between
 * recovery's judgement and its deletions. */
static void late_job_commits(void)
{
	char b = 'G';
	if (write(late_go_fd, &b, 1) == 1)
		child_wait(late_pid, &late_status);
}

/* Bug 2: recovery judged a job crashed from a read snapshot and deleted its
 * outputs; a job that committed after that snapshot lost its committed
 * files.  Two ways: a job of another host whose claim had expired commits
 * between the snapshot and the unlinks (this test), or a job killed inside
 * mdb_txn_commit after LMDB wrote the meta page: other processes' readers
 * still see the version before it (the crash points found it so).  Now one
 * transaction judges the job and takes its claim before any file goes, and
 * a job commits only while it holds its claim. */
static void test_recovery_spares_late_commits(void)
{
	const char *root = tu_tmpdir();
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(root), 0);
	char wh_path[PATH_MAX];
	snprintf(wh_path, sizeof(wh_path), "%s/wh", root);
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh_path, true, &wh, &err), 0);
	CU_ASSERT_EQUAL_FATAL(small_table(wh, "late", &err), 0);
	int up[2], down[2];
	CU_ASSERT_EQUAL_FATAL(pipe(up), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(down), 0);
	child_args ca = {.wh_path = wh_path, .table = "late", .ready_fd = up[1], .go_fd = down[0]};
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN); /* the child may be gone */
	fflush(stdout);
	fflush(stderr);
	late_pid = fork();
	CU_ASSERT_FATAL(late_pid >= 0);
	if (late_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		late_job(&ca);
	}
	close(up[1]);
	close(down[0]);
	late_go_fd = down[1];
	late_status = -1;
	char b = 0;
	CU_ASSERT_EQUAL(read(up[0], &b, 1), 1); /* outputs written */
	tu_clock_advance(10ll * 1000000);       /* its claim has expired */
	parent_opendir_hook = late_job_commits;
	size_t recovered = 0;
	int rc = strata_recover_intents(wh, NULL, &recovered, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (parent_opendir_hook) {
		parent_opendir_hook = NULL;
		late_job_commits();
	}
	int job_rc = 1;
	CU_ASSERT_EQUAL(read(up[0], &job_rc, sizeof(job_rc)), (ssize_t)sizeof(job_rc));
	close(up[0]);
	close(down[1]);
	if (late_status == -1)
		child_wait(late_pid, &late_status); /* reaped on every path */
	signal(SIGPIPE, old_pipe);
	CU_ASSERT(late_status != -1 && WIFEXITED(late_status) && WEXITSTATUS(late_status) == 0);
	/* the job judged crashed could not commit; nothing is lost */
	CU_ASSERT_EQUAL(job_rc, STRATA_ECONFLICT);
	CU_ASSERT_EQUAL(recovered, 1);
	CU_ASSERT_EQUAL(count_rows(wh, "late"), 3);
	strata_wh_close(wh);
	crash_env_end();
}

/* A process creating a/b killed right after mkdir a, before fsyncing the
 * directory above it. */
static void mkdir_then_die(void *arg)
{
	const char *root = arg;
	char path[PATH_MAX];
	is_child = true;
	strata_io_mkdirs(root, 0755); /* its ancestors: not what this is about */
	shm->mut_calls = 0;
	plan.at = AT_MUT;
	plan.kill_n = 1;
	plan.moment = MOMENT_AFTER;
	snprintf(path, sizeof(path), "%s/a/b", root);
	strata_io_mkdirs(path, 0755);
	_exit(2); /* not reached */
}

/* Bug 3: strata_io_mkdirs fsynced the parent only of directories it
 * created.  A directory another process created and died before making
 * durable was taken as durable: files committed into it (fsynced file and
 * directory) vanished with it at the next power loss. */
static void test_mkdirs_after_crashed_mkdir(void)
{
	const char *root = tu_tmpdir();
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(root), 0);
	int st = run_child(mkdir_then_die, (void *)root);
	CU_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	char dir[PATH_MAX], file[PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s/a", root);
	struct stat sb;
	CU_ASSERT_EQUAL_FATAL(stat(dir, &sb), 0); /* created, not durable */
	snprintf(dir, sizeof(dir), "%s/a/b", root);
	CU_ASSERT_EQUAL_FATAL(strata_io_mkdirs(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/f", dir);
	strata_wfile *f;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(file, &f, &err), 0);
	CU_ASSERT_EQUAL(strata_wfile_write(f, "durable", 7, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_wfile_commit(f, &err), 0);
	pl_stats ps = {0};
	power_loss(root, &ps);
	size_t len = 0;
	char *got = tu_read_file(file, &len);
	CU_ASSERT(got != NULL && len == 7 && memcmp(got, "durable", 7) == 0);
	if (!got)
		fprintf(stderr, "\n  %s is gone after the power loss:\n%s", file,
			pl_log.len ? (const char *)pl_log.data : "");
	free(got);
	crash_env_end();
}

/* ---- a crash in the middle of a parallel commit ------------------------------------- */

#define PAR_BUCKETS 16
#define PAR_ROWS 64

typedef struct par_arg {
	const char *wh_path;
	int base;          /* first key of the child's batch */
	int64_t kill_n;    /* mutating call to die at */
	crash_moment moment;
} par_arg;

static int par_put(strata_txn *t, int base, strata_err *err)
{
	int rc = 0;
	for (int i = 0; rc == 0 && i < PAR_ROWS; i++) {
		json_t *o = json_pack("{s:I,s:s}", "id", (json_int_t)(base + i), "v", "x");
		rc = strata_txn_put_json(t, o, err);
		json_decref(o);
	}
	return rc;
}

/* A writer committing PAR_ROWS rows over PAR_BUCKETS buckets — one file
 * each, made durable on several threads — killed at its kill_n-th
 * mutating call.  Exits 3 if the commit ran to the end. */
static void parallel_commit_then_die(void *arg)
{
	const par_arg *a = arg;
	strata_wh *wh;
	strata_txn *t;
	strata_err err;
	if (strata_wh_open(a->wh_path, false, &wh, &err) != 0 ||
	    strata_txn_begin(wh, "par", &t, &err) != 0 || par_put(t, a->base, &err) != 0)
		_exit(1);
	is_child = true;
	shm->io_calls = shm->mut_calls = 0;
	plan.at = AT_MUT;
	plan.kill_n = a->kill_n;
	plan.moment = a->moment;
	uint64_t v;
	int rc = strata_txn_commit(t, NULL, &v, NULL, &err);
	_exit(rc == 0 ? 3 : 4);
}

/* Files in the table's bucket directories that no manifest entry names
 * (orphans of the killed commit: durable ones, and temp files); removed
 * (the orphan scan's job) after counting the durable ones. */
static int par_orphans(strata_wh *wh, size_t *durable)
{
	*durable = 0;
	strata_mf_snap *snap;
	strata_err err;
	strata_table_def def;
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs = NULL;
	size_t nf = 0;
	int rc = strata_mf_snap_open(strata_wh_mf(wh), &snap, &err);
	if (rc)
		goto out;
	rc = strata_mf_table_get(snap, "par", &def, &err);
	if (rc == 0)
		rc = strata_mf_table_files(snap, def.id, a, &fs, &nf, &err);
	strata_mf_snap_close(snap);
	for (uint32_t b = 0; rc == 0 && b < PAR_BUCKETS; b++) {
		char dir[PATH_MAX];
		strata_bucket_dir(strata_wh_mf(wh), "par", "", b, dir, sizeof(dir));
		DIR *d = opendir(dir);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			bool is_known = false;
			for (size_t i = 0; i < nf && !is_known; i++)
				is_known = fs[i].bucket == b && strcmp(fs[i].name, e->d_name) == 0;
			if (is_known)
				continue;
			if (!strstr(e->d_name, ".tmp."))
				(*durable)++;
			char path[PATH_MAX + 300];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
out:
	strata_arena_free(a);
	return rc;
}

/* Issue 16: a writer commit makes its files durable on several threads.
 * Killed at every few mutating calls of a 16-bucket commit, then a power
 * loss (everything not fsynced is undone): the table is either without the
 * batch or with all of it, the consistency check finds no version naming a
 * missing file, and at least one kill landed with some of the commit's
 * files durable and others not — the middle of the parallel I/O. */
static void test_parallel_commit_killed_midway(void)
{
	const char *root = tu_tmpdir();
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(root), 0);
	char wh_path[PATH_MAX];
	snprintf(wh_path, sizeof(wh_path), "%s/wh", root);
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh_path, true, &wh, &err), 0);
	char prop[32];
	snprintf(prop, sizeof(prop), "write.bucket.num=%d", PAR_BUCKETS);
	/* files, not inline: this is the parallel file I/O */
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "par", "id BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL,
						  (const char *const[]){prop, "write.inline.max-bytes=0"},
						  2, &err),
			      0);
	strata_txn *t;
	uint64_t v;
	CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, "par", &t, &err), 0);
	CU_ASSERT_EQUAL_FATAL(par_put(t, 0, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &v, NULL, &err), 0);
	int rows = PAR_ROWS, midway = 0, completed = 0, point = 0;
	for (int64_t k = 1; k <= 6 * PAR_BUCKETS + 6; k += 5, point++) {
		par_arg a = {.wh_path = wh_path, .base = 1000 * (point + 1), .kill_n = k,
			     .moment = (crash_moment)(point % MOMENT_COUNT)};
		int st = run_child(parallel_commit_then_die, &a);
		bool is_done = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3;
		CU_ASSERT(is_done || (st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
		pl_stats ps = {0};
		power_loss(root, &ps);
		strata_wh_close(wh);
		wh = NULL;
		CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh_path, false, &wh, &err), 0);
		int n = count_rows(wh, "par");
		CU_ASSERT(n == rows || n == rows + PAR_ROWS);
		if (n == rows + PAR_ROWS) {
			rows = n;
			completed++;
		}
		size_t nfind = 99;
		int crc = strata_mf_check(strata_wh_mf(wh), "par", NULL, NULL, &nfind, &err);
		CU_ASSERT_EQUAL(crc, 0);
		CU_ASSERT_EQUAL(nfind, 0);
		if (crc)
			fprintf(stderr, "\n  point %d (kill at mutating call %" PRId64 ", %s): %s\n%s",
				point, k, moment_names[a.moment], err.msg,
				pl_log.len ? (const char *)pl_log.data : "");
		size_t durable = 0;
		CU_ASSERT_EQUAL(par_orphans(wh, &durable), 0);
		if (!is_done && durable > 0 && durable < PAR_BUCKETS)
			midway++;
	}
	CU_ASSERT(midway > 0);
	CU_ASSERT(completed > 0); /* the last points lie past the file I/O */
	strata_wh_close(wh);
	crash_env_end();
}

/* A process making root/wh/x killed inside a mkdir: the one of the
 * ancestor that holds root (existing) or the one of wh (creating). */
typedef struct inside_mkdir_arg {
	const char *root, *ancestor;
	bool is_of_ancestor;
} inside_mkdir_arg;

static void inside_mkdir_then_die(void *arg)
{
	const inside_mkdir_arg *a = arg;
	char path[PATH_MAX];
	/* the ancestors once, uncounted, so the second walk makes no fsyncs
	 * and its Nth call is the Nth component's mkdir */
	strata_io_mkdirs(a->root, 0755);
	is_child = true;
	shm->io_calls = shm->mut_calls = 0;
	plan.moment = MOMENT_INSIDE;
	plan.kill_n = 1;
	if (a->is_of_ancestor) {
		plan.at = AT_IO;
		plan.kill_n = 0;
		for (const char *p = a->ancestor; *p; p++)
			plan.kill_n += *p == '/';
	} else {
		plan.at = AT_MUT;
	}
	snprintf(path, sizeof(path), "%s/wh/x", a->root);
	strata_io_mkdirs(path, 0755);
	_exit(2); /* not reached */
}

static void run_inside_mkdir(bool is_of_ancestor, const char *ancestor, const char *root)
{
	CU_ASSERT_EQUAL_FATAL(crash_env_begin(root), 0);
	inside_mkdir_arg a = {.root = root, .ancestor = ancestor, .is_of_ancestor = is_of_ancestor};
	int st = run_child(inside_mkdir_then_die, &a);
	CU_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	pl_stats ps = {0};
	power_loss(root, &ps);
	if (pl_log.len)
		fprintf(stderr, "\n%s", (const char *)pl_log.data);
	crash_env_end();
}

/* Bug of the simulation: a mkdir that found its directory was journaled
 * too, and a process killed inside that mkdir left an entry with no inode,
 * which the power loss took for a directory the process had made: it
 * removed the tree of an existing ancestor.  In CI that ancestor was /tmp
 * (every other suite's scratch and the runner's logs went with it). */
static void test_power_loss_spares_existing_ancestor(void)
{
	const char *ancestor = tu_tmpdir();
	char root[PATH_MAX], keep[PATH_MAX], x[PATH_MAX];
	snprintf(root, sizeof(root), "%s/root", ancestor);
	snprintf(keep, sizeof(keep), "%s/keep", ancestor);
	CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(keep, "x", 1), 0);
	run_inside_mkdir(true, ancestor, root);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(keep, &sb), 0);
	CU_ASSERT_EQUAL(stat(root, &sb), 0);
	/* the killed process never reached wh */
	snprintf(x, sizeof(x), "%s/wh", root);
	CU_ASSERT_NOT_EQUAL(stat(x, &sb), 0);
}

/* A process killed inside the mkdir that created wh: the journal never
 * learnt the inode, and the directory, never durable, is gone after the
 * power loss (it is empty, so rmdir suffices). */
static void test_power_loss_undoes_mkdir_killed_inside(void)
{
	const char *root = tu_tmpdir();
	run_inside_mkdir(false, NULL, root);
	char wh[PATH_MAX + 4];
	snprintf(wh, sizeof(wh), "%s/wh", root);
	struct stat sb;
	CU_ASSERT_NOT_EQUAL(stat(wh, &sb), 0);
	CU_ASSERT_EQUAL(stat(root, &sb), 0);
}

/* A reader killed inside its read transaction. */
static void read_then_die(void *arg)
{
	const char *wh_path = arg;
	strata_wh *wh;
	strata_mf_snap *snap;
	strata_err err;
	if (strata_wh_open(wh_path, false, &wh, &err) != 0 ||
	    strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0)
		_exit(1);
	crash_die();
}

/* A reader of the raw environment (as another LMDB tool would be) killed
 * inside its read transaction: it never clears dead readers itself. */
static void raw_read_then_die(void *arg)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/manifest", (const char *)arg);
	MDB_env *env;
	MDB_txn *txn;
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
	    mdb_env_set_maxreaders(env, 1024) != 0 ||
	    mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0644) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		_exit(1);
	crash_die();
}

/* Bug 5: every process killed inside a read transaction (kill -9, or any
 * signal that ends `strata` during a read) left its LMDB reader slot taken;
 * nothing ever called mdb_reader_check.  While another process kept the
 * environment open (stratad), the slots ran out after 1024 such deaths and
 * every read failed with MDB_READERS_FULL (and the pinned snapshots kept the
 * map growing).  Opening a warehouse now clears the slots of dead
 * processes, and a full reader table is cleared and retried. */
static void test_dead_readers_cleared(void)
{
	const char *root = tu_tmpdir();
	char wh_path[PATH_MAX];
	snprintf(wh_path, sizeof(wh_path), "%s/wh", root);
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh_path, true, &wh, &err), 0);
	int level = strata_log_level_cur;
	strata_log_set_level(STRATA_LOG_ERROR); /* one line per freed slot */
	for (int phase = 0; phase < 2; phase++) {
		/* 0: strata processes (each open frees the slots of the dead);
		 * 1: raw LMDB readers (nothing frees them but a full table) */
		int killed = 0;
		for (int i = 0; i < 1100; i++) {
			int st = run_child(phase ? raw_read_then_die : read_then_die, (void *)wh_path);
			killed += st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		}
		/* the long-lived process still reads (it never reopened) */
		strata_mf_snap *snap = NULL;
		int rc = strata_mf_snap_open(strata_wh_mf(wh), &snap, &err);
		if (rc)
			fprintf(stderr, "\n  read after %d dead readers: %s\n", killed, err.msg);
		CU_ASSERT_EQUAL(rc, 0);
		strata_mf_snap_close(snap);
		if (phase == 0)
			CU_ASSERT_EQUAL(killed, 1100);
	}
	/* and a new process too */
	int st = run_child(read_then_die, (void *)wh_path);
	CU_ASSERT(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	strata_log_set_level((strata_log_level)level);
	strata_wh_close(wh);
}

static void register_crash(void)
{
	CU_pSuite s = CU_add_suite("crash", NULL, NULL);
	TU_ADD(s, test_dead_claims_taken_over);
	TU_ADD(s, test_recovery_spares_late_commits);
	TU_ADD(s, test_mkdirs_after_crashed_mkdir);
	TU_ADD(s, test_parallel_commit_killed_midway);
	TU_ADD(s, test_power_loss_spares_existing_ancestor);
	TU_ADD(s, test_power_loss_undoes_mkdir_killed_inside);
	TU_ADD(s, test_dead_readers_cleared);
	TU_ADD(s, test_crash_points);
}

TU_MAIN(register_crash)
