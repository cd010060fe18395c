/*
 * table/txn.c — writer transactions.
 *
 * A transaction buffers rows in memory (an arena), routed by partition and
 * bucket.  Commit sorts each bucket's rows by key, keeps the last row put for
 * each key, writes one Avro row file per bucket (temp name, fsync, rename,
 * fsync directory), and only then commits every file in one manifest
 * transaction.
 *
 * Inline row files (write.inline.max-bytes, 4 KiB by default): a bucket
 * whose rows encode to at most that many bytes gets no file at all.  Its
 * Avro bytes are encoded into memory and go into the manifest with its
 * entry, in the same transaction (manifest.h, strata_file_entry.is_inline):
 * nothing to fsync, rename or list, so a small commit costs one manifest
 * commit however many buckets it touches.  Why: the 16-bucket commit of
 * issue 16 made 7-8 files durable, and this disk flushes concurrent files
 * at 2-5x the cost of one, so no amount of overlap brought it within 2x of
 * a 1-bucket commit (docs/ARCHITECTURE.md says more, and what it costs:
 * the manifest keeps those bytes as long as the entry lives).  Which
 * buckets go inline is decided on the committing thread from their rows'
 * value bytes (an estimate below the encoded size: the header, the
 * schema's JSON, comes on top); the exact size is known after encoding,
 * and bytes over the limit are then written as a durable file after all.
 *
 * Commit I/O is parallel: the files of one commit are independent (one per
 * bucket, each in its own directory), and making each durable costs two
 * fsyncs that mostly wait on the device, so a commit touching N buckets
 * writes its N files on min(N, TXN_IO_THREADS_MAX) threads — the
 * committing thread and N-1 short-lived helpers pulling files from a
 * shared counter — and joins them all before the manifest commit.  Threads
 * rather than io_uring: the whole per-file sequence (mkdir, Avro encoding,
 * temp name, fsync, rename, directory fsync) already runs through the I/O
 * vtable that tests use to inject faults, kill -9 and simulate power loss,
 * and it stays exactly that code; io_uring would need a second path that
 * bypasses the vtable, linked SQEs for write -> fsync -> rename -> dir
 * fsync, and a kernel that allows it (often disabled in containers), for a
 * gain that is all in the device wait, which threads overlap as well.
 * Helpers are created per commit (tens of microseconds against
 * milliseconds of fsync) so no pool outlives the transaction; a commit of
 * one file runs inline.
 *
 * Back-pressure (issue 16; RocksDB's write stalls, Paimon's
 * num-sorted-run.stop-trigger): a writer can add row files faster than
 * stratad sorts them, and every row file a bucket holds makes its reads
 * slower.  Before writing anything, a commit counts the live row files
 * (level 0) of each bucket it adds to, and with n the largest count:
 *   n >= write.max-level0-files (max > 0)      wait: re-read the manifest
 *       every 50 ms, doubling to 500 ms, until n < max (a sort took files,
 *       or the limit was raised or turned off), at most
 *       write.stall-timeout-s, then STRATA_EBUSY: nothing was written;
 *   n >= write.slow-level0-files (slow > 0)    sleep once,
 *       min(10 ms x (n - slow + 1), 1 s), then go on;
 *   otherwise                                  go on at once.
 * The wait is a poll, not a notification: a sort by any process (stratad
 * on this host or another, `strata admin sort`) releases it, and nothing
 * new crosses processes.  Both limits are off by default (0): a writer
 * cannot tell from the manifest whether a daemon governs the table, and
 * without one a waiting writer could only time out; an operator who runs
 * stratad turns them on per table (docs/GOVERNANCE.md).
 *
 * Invariants:
 *   1. nothing is visible before the manifest commit (an inline file's
 *      bytes become visible in it, with their entry), and a failure at any
 *      step removes every file this transaction wrote (a crash leaves only
 *      orphans, which clean removes after clean.orphan_age_s) — except an
 *      uncertain commit (STRATA_EUNCERTAIN): it may have named the files,
 *      so they stay; the orphan scan removes them if it did not, and a
 *      retry with the same token tells the writer which it was;
 *   2. within one transaction the last row put for a key wins;
 *   3. rows are routed with the bucket count the snapshot at begin showed;
 *      the manifest commit re-checks it (STRATA_ECONFLICT if it changed);
 *   4. the order rule survives the threads: the manifest commit starts only
 *      after every helper has been joined and every file is durable under
 *      its final name with its directory fsynced (inline files are encoded
 *      first, on the committing thread, and only real files go to the
 *      helpers); one failed file fails the
 *      commit (the first failure by bucket order is reported, helpers start
 *      no new file once one failed), and no step of a file is retried —
 *      each file has its own handle, used by one thread only.
 *
 * Thread safety: a transaction belongs to one thread; the helpers of its
 * commit only read the transaction and write their own txn_file.
 */
#include "table/table_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

typedef struct txn_part {
	char name[STRATA_PART_NAME_MAX];
	uint32_t buckets;
} txn_part;

typedef struct txn_row {
	uint32_t part;
	uint32_t bucket;
	uint64_t ord; /* put order, for invariant 2 */
	const uint8_t *key;
	uint32_t key_len;
	strata_row row;
} txn_row;

struct strata_txn {
	strata_wh *wh;
	strata_table_def def;
	strata_schema *schema;
	strata_arena *arena;
	txn_part *parts;
	size_t nparts, cap_parts;
	size_t last_part;
	txn_row *rows;
	size_t nrows, cap_rows;
	strata_buf key;
	bool is_rollback; /* strata_txn_set_rollback() */
	char note[160];
};

int strata_txn_begin(strata_wh *wh, const char *table, strata_txn **out, strata_err *err)
{
	*out = NULL;
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	strata_txn *t = strata_calloc(1, sizeof(*t));
	t->wh = wh;
	t->arena = strata_arena_new();
	rc = strata_mf_table_get(snap, table, &t->def, err);
	if (rc == 0)
		rc = strata_mf_schema_get(snap, t->def.id, t->def.schema_version, &t->schema, err);
	if (rc == 0) {
		strata_partition *ps;
		size_t n;
		strata_arena *a = strata_arena_new();
		rc = strata_mf_partitions(snap, t->def.id, a, &ps, &n, err);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (t->nparts == t->cap_parts) {
				t->cap_parts = t->cap_parts ? 2 * t->cap_parts : 8;
				t->parts = strata_realloc(t->parts, t->cap_parts * sizeof(txn_part));
			}
			txn_part *p = &t->parts[t->nparts++];
			snprintf(p->name, sizeof(p->name), "%s", ps[i].name);
			p->buckets = ps[i].buckets;
		}
		strata_arena_free(a);
	}
	strata_mf_snap_close(snap);
	if (rc) {
		strata_txn_abort(t);
		return rc;
	}
	*out = t;
	return 0;
}

void strata_txn_abort(strata_txn *t)
{
	if (!t)
		return;
	strata_schema_free(t->schema);
	strata_arena_free(t->arena);
	free(t->parts);
	free(t->rows);
	strata_buf_free(&t->key);
	free(t);
}

void strata_txn_set_rollback(strata_txn *t, const strata_schema *s, const char *note)
{
	strata_schema_free(t->schema);
	t->schema = strata_schema_dup(s);
	t->is_rollback = true;
	snprintf(t->note, sizeof(t->note), "%s", note);
}

size_t strata_txn_rows(const strata_txn *t)
{
	return t->nrows;
}

const strata_schema *strata_txn_schema(const strata_txn *t)
{
	return t->schema;
}

static uint32_t txn_part_index(strata_txn *t, const char *name)
{
	if (t->last_part < t->nparts && strcmp(t->parts[t->last_part].name, name) == 0)
		return (uint32_t)t->last_part;
	for (size_t i = 0; i < t->nparts; i++) {
		if (strcmp(t->parts[i].name, name) == 0) {
			t->last_part = i;
			return (uint32_t)i;
		}
	}
	if (t->nparts == t->cap_parts) {
		t->cap_parts = t->cap_parts ? 2 * t->cap_parts : 8;
		t->parts = strata_realloc(t->parts, t->cap_parts * sizeof(txn_part));
	}
	txn_part *p = &t->parts[t->nparts];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->buckets = t->def.buckets; /* a new partition gets the table's count */
	t->last_part = t->nparts;
	return (uint32_t)t->nparts++;
}

int strata_txn_put(strata_txn *t, const char *const *part_values, const strata_row *row,
		   strata_err *err)
{
	char pname[STRATA_PART_NAME_MAX];
	int rc = strata_partition_name(&t->def, part_values, pname, sizeof(pname), err);
	if (rc)
		return rc;
	strata_buf_reset(&t->key);
	rc = strata_key_encode(t->schema, row, &t->key, err);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < t->schema->ncols; i++) {
		const strata_column *c = &t->schema->cols[i];
		if (row->op == STRATA_OP_UPSERT && row->vals[i].is_null && !c->is_nullable)
			return strata_err_set(err, STRATA_EINVAL, "column \"%s\" is NOT NULL, got null",
					      c->name);
	}
	uint32_t pi = txn_part_index(t, pname);
	if (t->nrows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 1024;
		t->rows = strata_realloc(t->rows, t->cap_rows * sizeof(txn_row));
	}
	txn_row *r = &t->rows[t->nrows];
	r->part = pi;
	r->bucket = (uint32_t)(strata_hash64(t->key.data, t->key.len) % t->parts[pi].buckets);
	r->ord = t->nrows;
	r->key = strata_arena_dup(t->arena, t->key.data, t->key.len);
	r->key_len = (uint32_t)t->key.len;
	strata_row_copy(t->arena, t->schema, row, &r->row);
	r->row.seq = 0;
	t->nrows++;
	return 0;
}

int strata_txn_put_json(strata_txn *t, json_t *obj, strata_err *err)
{
	if (!json_is_object(obj))
		return strata_err_set(err, STRATA_EINVAL, "a row must be a JSON object");
	const char *values[STRATA_MAX_PART_COLS];
	json_t *copy = NULL;
	if (t->def.nparts) {
		copy = json_copy(obj);
		for (uint32_t i = 0; i < t->def.nparts; i++) {
			json_t *v = json_object_get(copy, t->def.part_cols[i]);
			if (!v) {
				json_decref(copy);
				return strata_err_set(err, STRATA_EINVAL,
						      "missing partition column \"%s\"",
						      t->def.part_cols[i]);
			}
			if (!json_is_string(v)) {
				json_decref(copy);
				return strata_err_set(err, STRATA_EINVAL,
						      "partition column \"%s\" must be a string",
						      t->def.part_cols[i]);
			}
			values[i] = strata_arena_strdup(t->arena, json_string_value(v));
			json_object_del(copy, t->def.part_cols[i]);
		}
		obj = copy;
	}
	strata_row row;
	strata_arena *tmp = strata_arena_new();
	int rc = strata_row_from_json(t->schema, obj, tmp, &row, err);
	if (rc == 0)
		rc = strata_txn_put(t, values, &row, err);
	strata_arena_free(tmp);
	json_decref(copy);
	return rc;
}

static int txn_row_cmp(const void *pa, const void *pb)
{
	const txn_row *a = pa, *b = pb;
	if (a->part != b->part)
		return a->part < b->part ? -1 : 1;
	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	int c = strata_key_cmp(a->key, a->key_len, b->key, b->key_len);
	if (c)
		return c;
	return a->ord > b->ord ? -1 : a->ord < b->ord ? 1 : 0; /* last put first */
}

static uint64_t row_value_bytes(strata_type t, const strata_value *v)
{
	return t == STRATA_T_STRING || t == STRATA_T_BYTES ? v->v.s.len : 8;
}

/* Row k's value bytes, plus per_col for each column (its encoding's
 * overhead, about): for sizing buffers and guessing encoded sizes. */
static uint64_t row_bytes(const strata_txn *t, size_t k, uint64_t per_col)
{
	uint64_t n = 0;
	for (uint32_t c = 0; c < t->schema->ncols; c++) {
		const strata_value *v = &t->rows[k].row.vals[c];
		n += per_col + (v->is_null ? 0 : row_value_bytes(t->schema->cols[c].type, v));
	}
	return n;
}

/* "w" + 16 random hex digits + ".avro" */
static void random_name(char *out, size_t n, const char *prefix, const char *ext)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)strata_mono_us() ^ ((uint64_t)getpid() << 40);
	snprintf(out, n, "%s%016llx.%s", prefix, (unsigned long long)r, ext);
}

typedef struct txn_file txn_file;

/* At most this many files of one commit are made durable at once: the
 * default bucket count; more threads than that only queue on the device. */
#define TXN_IO_THREADS_MAX 16

struct txn_file {
	char path[4096];
	char dir[4096];
	char name[STRATA_FILE_NAME_MAX];
	uint32_t part, bucket;
	size_t row_first, row_end; /* its rows: t->rows[row_first, row_end) */
	strata_file_stats stats;
	bool is_inline;      /* try it inline (write.inline.max-bytes) */
	strata_buf mem;      /* an inline file's bytes */
	bool is_written;     /* a file exists at path (to remove on failure) */
	int rc;
	strata_err err;
};

/* ---- back-pressure ------------------------------------------------------------ */

#define STALL_SLOW_STEP_MS 10
#define STALL_SLOW_MAX_MS 1000
#define STALL_POLL_MIN_MS 50
#define STALL_POLL_MAX_MS 500

static atomic_uint_fast64_t stall_slowed, stall_waited, stall_us_total;

void strata_txn_stall_totals(uint64_t *slowed, uint64_t *waited, uint64_t *stall_us)
{
	if (slowed)
		*slowed = atomic_load(&stall_slowed);
	if (waited)
		*waited = atomic_load(&stall_waited);
	if (stall_us)
		*stall_us = atomic_load(&stall_us_total);
}

static void stall_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The fullest bucket a commit adds to, at the manifest's current state,
 * with the table's current limits (a raised limit releases waiters). */
typedef struct stall_probe {
	strata_table_def def;
	uint32_t part;   /* index into t->parts */
	uint32_t bucket;
	uint32_t l0;     /* its live row files */
} stall_probe;

static int stall_probe_run(const strata_txn *t, const txn_file *files, size_t nfiles,
			   stall_probe *out, strata_err *err)
{
	memset(out, 0, sizeof(*out));
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(t->wh->mf, &snap, err);
	if (rc)
		return rc;
	strata_arena *a = strata_arena_new();
	rc = strata_mf_table_get(snap, t->def.name, &out->def, err);
	if (rc || (out->def.max_l0_files == 0 && out->def.slow_l0_files == 0))
		goto out;
	uint32_t last_part = UINT32_MAX, part_id = 0;
	for (size_t i = 0; i < nfiles; i++) {
		if (files[i].part != last_part) {
			strata_partition p;
			strata_err tmp;
			last_part = files[i].part;
			part_id = strata_mf_partition_get(snap, out->def.id, t->parts[last_part].name,
							  &p, &tmp) == 0 ?
					  p.id :
					  0; /* a new partition holds nothing yet */
		}
		if (part_id == 0)
			continue;
		strata_file_entry *fs;
		size_t nf;
		rc = strata_mf_bucket_files(snap, out->def.id, part_id, files[i].bucket, a, &fs, &nf,
					    err);
		if (rc)
			goto out;
		uint32_t l0 = 0;
		for (size_t k = 0; k < nf; k++)
			l0 += fs[k].level == 0 && fs[k].removed_version == 0;
		if (l0 > out->l0 || i == 0) {
			out->l0 = l0;
			out->part = files[i].part;
			out->bucket = files[i].bucket;
		}
	}
out:
	strata_arena_free(a);
	strata_mf_snap_close(snap);
	return rc;
}

static void stall_why(const strata_txn *t, const stall_probe *p, const char *limit_name,
		      uint32_t limit, char *out, size_t n)
{
	const char *pn = t->parts[p->part].name;
	snprintf(out, n, "bucket %u%s%s%s of \"%s\" holds %u row files >= %s %u", p->bucket,
		 *pn ? " of partition \"" : "", pn, *pn ? "\"" : "", t->def.name, p->l0,
		 limit_name, limit);
}

/* Slow down or wait before writing (see the essay).  0 to go on,
 * STRATA_EBUSY after the timeout, or a manifest error. */
static int txn_backpressure(const strata_txn *t, const txn_file *files, size_t nfiles,
			    const strata_commit_opts *opts, strata_err *err)
{
	if (nfiles == 0)
		return 0;
	stall_probe p;
	int rc = stall_probe_run(t, files, nfiles, &p, err);
	if (rc)
		return rc;
	char why[512];
	strata_stall st = {.table = t->def.name, .why = why};
	strata_stall_fn fn = opts ? opts->on_stall : NULL;
	void *arg = opts ? opts->stall_arg : NULL;
	if (p.def.max_l0_files && p.l0 >= p.def.max_l0_files) {
		int64_t t0 = strata_mono_us();
		int64_t timeout_s = p.def.stall_timeout_s ? p.def.stall_timeout_s :
							    STRATA_STALL_TIMEOUT_S_DEFAULT;
		stall_why(t, &p, "write.max-level0-files", p.def.max_l0_files, why, sizeof(why));
		st.kind = STRATA_STALL_WAIT;
		st.partition = t->parts[p.part].name;
		st.bucket = p.bucket;
		st.level0_files = p.l0;
		st.limit = p.def.max_l0_files;
		st.delay_ms = timeout_s * 1000;
		LOG_INFO("commit to %s waits for a sort: %s (up to %" PRId64 " s)", t->def.name, why,
			 timeout_s);
		if (fn)
			fn(arg, &st);
		atomic_fetch_add(&stall_waited, 1);
		int64_t pause_ms = STALL_POLL_MIN_MS;
		for (;;) {
			int64_t waited_us = strata_mono_us() - t0;
			if (waited_us >= timeout_s * 1000000) {
				atomic_fetch_add(&stall_us_total, (uint64_t)waited_us);
				return strata_err_set(err, STRATA_EBUSY,
						      "back-pressure: %s, and no sort brought it below "
						      "within write.stall-timeout-s %" PRId64
						      " s; nothing was committed (is stratad running? "
						      "`strata admin sort %s` sorts now; "
						      "`strata alter-table %s set write.max-level0-files=N` "
						      "raises the limit)",
						      why, timeout_s, t->def.name, t->def.name);
			}
			int64_t left_ms = (timeout_s * 1000000 - waited_us) / 1000 + 1;
			stall_sleep_ms(pause_ms < left_ms ? pause_ms : left_ms);
			pause_ms = pause_ms * 2 > STALL_POLL_MAX_MS ? STALL_POLL_MAX_MS : pause_ms * 2;
			rc = stall_probe_run(t, files, nfiles, &p, err);
			if (rc)
				return rc;
			if (!p.def.max_l0_files || p.l0 < p.def.max_l0_files)
				break;
			stall_why(t, &p, "write.max-level0-files", p.def.max_l0_files, why,
				  sizeof(why));
		}
		int64_t waited_us = strata_mono_us() - t0;
		atomic_fetch_add(&stall_us_total, (uint64_t)waited_us);
		st.kind = STRATA_STALL_RELEASED;
		st.level0_files = p.l0;
		st.waited_ms = waited_us / 1000;
		snprintf(why, sizeof(why), "bucket %u of \"%s\" is down to %u row files after %.1f s",
			 p.bucket, t->def.name, p.l0, (double)waited_us / 1e6);
		LOG_INFO("commit to %s goes on: %s", t->def.name, why);
		if (fn)
			fn(arg, &st);
		return 0;
	}
	if (p.def.slow_l0_files && p.l0 >= p.def.slow_l0_files) {
		int64_t ms = (int64_t)STALL_SLOW_STEP_MS * (p.l0 - p.def.slow_l0_files + 1);
		if (ms > STALL_SLOW_MAX_MS)
			ms = STALL_SLOW_MAX_MS;
		stall_why(t, &p, "write.slow-level0-files", p.def.slow_l0_files, why, sizeof(why));
		st.kind = STRATA_STALL_SLOW;
		st.partition = t->parts[p.part].name;
		st.bucket = p.bucket;
		st.level0_files = p.l0;
		st.limit = p.def.slow_l0_files;
		st.delay_ms = ms;
		LOG_DEBUG("commit to %s slowed by %" PRId64 " ms: %s", t->def.name, ms, why);
		if (fn)
			fn(arg, &st);
		atomic_fetch_add(&stall_slowed, 1);
		stall_sleep_ms(ms);
		atomic_fetch_add(&stall_us_total, (uint64_t)ms * 1000);
	}
	return 0;
}


/* Write one bucket's file and make it durable (temp name, fsync, rename,
 * directory fsync).  Runs on the committing thread or a helper; reads only
 * the transaction, writes only f. */
static int txn_file_write(const strata_txn *t, txn_file *f, strata_err *err)
{
	strata_fwriter *w = NULL;
	int rc;
	strata_write_opts wo;
	strata_write_opts_default(&wo, STRATA_FMT_AVRO);
	wo.codec = t->def.avro_codec;
	if (!f->is_inline) {
		rc = strata_data_mkdirs(f->dir, err); /* nothing to make in an object store */
		if (rc < 0)
			return rc;
	}
	/* the Avro block buffer must hold this bucket's largest record */
	uint64_t max_row = 0;
	for (size_t k = f->row_first; k < f->row_end; k++) {
		uint64_t sz = 16 + row_bytes(t, k, 16);
		if (sz > max_row)
			max_row = sz;
	}
	wo.avro_block_bytes = 2 * max_row;
	if (f->is_inline)
		wo.mem_out = &f->mem;
	rc = strata_fwriter_open(f->path, t->schema, &wo, &w, err);
	if (rc)
		return rc;
	for (size_t j = f->row_first; j < f->row_end; j++) {
		/* invariant 2: the first of equal keys is the last put */
		if (j > f->row_first && t->rows[j].key_len == t->rows[j - 1].key_len &&
		    memcmp(t->rows[j].key, t->rows[j - 1].key, t->rows[j].key_len) == 0)
			continue;
		rc = strata_fwriter_add(w, &t->rows[j].row, err);
		if (rc) {
			strata_fwriter_abort(w);
			return rc;
		}
	}
	rc = strata_fwriter_finish(w, &f->stats, err); /* frees w, on failure too */
	if (rc)
		return rc;
	if (f->is_inline && f->mem.len > t->def.inline_max_bytes) {
		/* the estimate was low: the bytes become a file after all */
		f->is_inline = false;
		strata_wfile *wf = NULL;
		rc = strata_data_mkdirs(f->dir, err);
		if (rc == 0)
			rc = strata_wfile_open(f->path, &wf, err);
		if (rc == 0)
			rc = strata_wfile_write(wf, f->mem.data, f->mem.len, err);
		if (rc == 0) {
			rc = strata_wfile_commit(wf, err); /* frees wf, on failure too */
			wf = NULL;
		}
		strata_wfile_abort(wf);
		if (rc)
			return rc;
	}
	f->is_written = !f->is_inline;
	return 0;
}

typedef struct txn_io {
	const strata_txn *t;
	txn_file **files; /* the ones to write as files */
	size_t nfiles;
	atomic_size_t next;
	atomic_bool has_failed;
} txn_io;

static void *txn_io_run(void *arg)
{
	txn_io *io = arg;
	/* invariant 4: once one file failed, start no other */
	while (!atomic_load(&io->has_failed)) {
		size_t i = atomic_fetch_add(&io->next, 1);
		if (i >= io->nfiles)
			break;
		txn_file *f = io->files[i];
		f->rc = txn_file_write(io->t, f, &f->err);
		if (f->rc)
			atomic_store(&io->has_failed, true);
	}
	return NULL;
}

/* Make every file durable, on up to TXN_IO_THREADS_MAX threads; returns
 * after all of them are joined (invariant 4) with the first failure by
 * file order, or 0.  A helper that cannot be created leaves its share to
 * the others. */
static int txn_files_write(const strata_txn *t, txn_file *files, size_t nfiles,
			   strata_err *err)
{
	/* inline files first, on this thread: encoding only, no device wait
	 * for a helper to overlap */
	txn_file **todo = strata_calloc(nfiles + 1, sizeof(*todo));
	size_t ntodo = 0;
	bool has_failed = false;
	for (size_t i = 0; i < nfiles; i++) {
		if (!files[i].is_inline) {
			todo[ntodo++] = &files[i];
		} else if (!has_failed) {
			files[i].rc = txn_file_write(t, &files[i], &files[i].err);
			has_failed = files[i].rc != 0;
		}
	}
	txn_io io = {.t = t, .files = todo, .nfiles = has_failed ? 0 : ntodo};
	atomic_init(&io.next, 0);
	atomic_init(&io.has_failed, false);
	pthread_t th[TXN_IO_THREADS_MAX];
	size_t nth = 0;
	size_t want = io.nfiles < TXN_IO_THREADS_MAX ? io.nfiles : TXN_IO_THREADS_MAX;
	for (size_t i = 1; i < want; i++) {
		if (pthread_create(&th[nth], NULL, txn_io_run, &io) != 0)
			break;
		nth++;
	}
	txn_io_run(&io);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	free(todo);
	for (size_t i = 0; i < nfiles; i++) {
		if (files[i].rc) {
			if (err)
				*err = files[i].err;
			return files[i].rc;
		}
	}
	return 0;
}

int strata_txn_commit(strata_txn *t, const strata_commit_opts *opts, uint64_t *version,
		      bool *is_repeat, strata_err *err)
{
	int rc = 0;
	txn_file *files = NULL;
	size_t nfiles = 0;
	strata_mf_new_file *nf = NULL;
	if (is_repeat)
		*is_repeat = false;
	/* with a token, an empty transaction still asks the manifest, which
	 * answers a repeated token with its first version */
	if (t->nrows == 0 && !(opts && opts->token) && !t->is_rollback) {
		*version = t->def.version;
		strata_txn_abort(t);
		return 0;
	}
	if (t->nrows) /* rows is NULL when empty (qsort wants a pointer) */
		qsort(t->rows, t->nrows, sizeof(txn_row), txn_row_cmp);
	/* count buckets */
	size_t nb = 0;
	for (size_t i = 0; i < t->nrows; i++)
		if (i == 0 || t->rows[i].part != t->rows[i - 1].part ||
		    t->rows[i].bucket != t->rows[i - 1].bucket)
			nb++;
	files = strata_calloc(nb + 1, sizeof(txn_file));
	/* plan the files on this thread: names, directories, row ranges */
	for (size_t i = 0; i < t->nrows;) {
		txn_row *first = &t->rows[i];
		txn_file *f = &files[nfiles++];
		f->part = first->part;
		f->bucket = first->bucket;
		strata_bucket_dir(t->wh->mf, t->def.name, t->parts[f->part].name, f->bucket,
				  f->dir, sizeof(f->dir));
		random_name(f->name, sizeof(f->name), "w", "avro");
		snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, f->name);
		size_t j = i;
		while (j < t->nrows && t->rows[j].part == first->part &&
		       t->rows[j].bucket == first->bucket)
			j++;
		f->row_first = i;
		f->row_end = j;
		/* inline when its rows surely fit: their value bytes, plus two
		 * per column for the union branch and length (the header, the
		 * schema's JSON, comes on top and the exact size is checked
		 * after encoding) */
		if (t->def.inline_max_bytes) {
			uint64_t est = 0;
			for (size_t k = i; k < j && est <= t->def.inline_max_bytes; k++)
				est += row_bytes(t, k, 2);
			f->is_inline = est <= t->def.inline_max_bytes;
		}
		i = j;
	}
	rc = txn_backpressure(t, files, nfiles, opts, err);
	if (rc)
		goto fail;
	rc = txn_files_write(t, files, nfiles, err);
	if (rc)
		goto fail;
	nf = strata_calloc(nfiles + 1, sizeof(*nf));
	for (size_t i = 0; i < nfiles; i++) {
		nf[i].partition = t->parts[files[i].part].name;
		nf[i].part_buckets = t->parts[files[i].part].buckets;
		nf[i].bucket = files[i].bucket;
		nf[i].format = STRATA_FMT_AVRO;
		nf[i].level = 0;
		nf[i].name = files[i].name;
		nf[i].schema_version = t->schema->version;
		nf[i].stats = &files[i].stats;
		if (files[i].is_inline)
			nf[i].inline_file = (strata_bytes){.data = files[i].mem.data,
							   .len = files[i].mem.len};
	}
	strata_mf_write mw = {
		.table = t->def.name,
		.expect_version = opts ? opts->expect_version : 0,
		.token = opts ? opts->token : NULL,
		.token_us = opts ? opts->token_us : 0,
		.schema_version = t->is_rollback ? t->schema->version - 1 : t->schema->version,
		.files = nf,
		.nfiles = nfiles,
		.new_schema = t->is_rollback ? t->schema : NULL,
		.note = t->is_rollback ? t->note : NULL,
	};
	bool repeat = false;
	rc = strata_mf_commit_write(t->wh->mf, &mw, version, &repeat, err);
	if (rc == STRATA_EUNCERTAIN)
		goto out; /* invariant 1: a committed version may name the files */
	if (rc)
		goto fail;
	if (repeat) {
		/* a retried commit: the first one holds the data, drop ours */
		for (size_t i = 0; i < nfiles; i++)
			if (files[i].is_written)
				strata_data_remove(files[i].path, NULL);
		if (is_repeat)
			*is_repeat = true;
	}
	goto out;
fail:
	/* invariant 1 */
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].is_written)
			strata_data_remove(files[i].path, NULL);
out:
	for (size_t i = 0; i < nfiles; i++) {
		strata_file_stats_free(&files[i].stats);
		free(files[i].mem.data);
	}
	free(files);
	free(nf);
	strata_txn_abort(t);
	return rc;
}
