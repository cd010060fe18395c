/*
 * table/txn.c — writer transactions.
 *
 * A transaction buffers rows in memory (an arena), routed by partition and
 * bucket.  Commit sorts each bucket's rows by key, keeps the last row put for
 * each key, writes one Avro row file per bucket (temp name, fsync, rename,
 * fsync directory), and only then commits every file in one manifest
 * transaction.
 *
 * Invariants:
 *   1. nothing is visible before the manifest commit, and a failure at any
 *      step removes every file this transaction wrote (a crash leaves only
 *      orphans, which clean removes after clean.orphan_age_s) — except an
 *      uncertain commit (STRATA_EUNCERTAIN): it may have named the files,
 *      so they stay; the orphan scan removes them if it did not, and a
 *      retry with the same token tells the writer which it was;
 *   2. within one transaction the last row put for a key wins;
 *   3. rows are routed with the bucket count the snapshot at begin showed;
 *      the manifest commit re-checks it (STRATA_ECONFLICT if it changed).
 */
#include "table/table_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* "w" + 16 random hex digits + ".avro" */
static void random_name(char *out, size_t n, const char *prefix, const char *ext)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)strata_mono_us() ^ ((uint64_t)getpid() << 40);
	snprintf(out, n, "%s%016llx.%s", prefix, (unsigned long long)r, ext);
}

typedef struct txn_file {
	char path[4096];
	char name[STRATA_FILE_NAME_MAX];
	uint32_t part, bucket;
	strata_file_stats stats;
	bool is_written;
} txn_file;

int strata_txn_commit(strata_txn *t, const strata_commit_opts *opts, uint64_t *version,
		      bool *is_repeat, strata_err *err)
{
	int rc = 0;
	txn_file *files = NULL;
	size_t nfiles = 0;
	strata_mf_new_file *nf = NULL;
	strata_fwriter *w = NULL;
	if (is_repeat)
		*is_repeat = false;
	/* with a token, an empty transaction still asks the manifest, which
	 * answers a repeated token with its first version */
	if (t->nrows == 0 && !(opts && opts->token)) {
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
	strata_write_opts wo;
	strata_write_opts_default(&wo, STRATA_FMT_AVRO);
	wo.codec = t->def.avro_codec;
	for (size_t i = 0; i < t->nrows;) {
		txn_row *first = &t->rows[i];
		txn_file *f = &files[nfiles++];
		f->part = first->part;
		f->bucket = first->bucket;
		char dir[4096];
		strata_bucket_dir(t->wh->mf, t->def.name, t->parts[f->part].name, f->bucket, dir,
				  sizeof(dir));
		rc = strata_io_mkdirs(dir, 0755);
		if (rc < 0) {
			rc = strata_err_set(err, rc, "could not create \"%s\": %s", dir,
					    strata_strerror(rc));
			goto fail;
		}
		random_name(f->name, sizeof(f->name), "w", "avro");
		snprintf(f->path, sizeof(f->path), "%s/%s", dir, f->name);
		/* the Avro block buffer must hold this bucket's largest record */
		uint64_t max_row = 0;
		for (size_t k = i; k < t->nrows && t->rows[k].part == first->part &&
				   t->rows[k].bucket == first->bucket;
		     k++) {
			uint64_t sz = 16;
			for (uint32_t c = 0; c < t->schema->ncols; c++)
				sz += 16 + (t->rows[k].row.vals[c].is_null ? 0 :
					    row_value_bytes(t->schema->cols[c].type,
							    &t->rows[k].row.vals[c]));
			if (sz > max_row)
				max_row = sz;
		}
		wo.avro_block_bytes = 2 * max_row;
		rc = strata_fwriter_open(f->path, t->schema, &wo, &w, err);
		if (rc)
			goto fail;
		size_t j = i;
		for (; j < t->nrows && t->rows[j].part == first->part &&
		       t->rows[j].bucket == first->bucket;
		     j++) {
			/* invariant 2: the first of equal keys is the last put */
			if (j > i && t->rows[j].key_len == t->rows[j - 1].key_len &&
			    memcmp(t->rows[j].key, t->rows[j - 1].key, t->rows[j].key_len) == 0)
				continue;
			rc = strata_fwriter_add(w, &t->rows[j].row, err);
			if (rc)
				goto fail;
		}
		rc = strata_fwriter_finish(w, &f->stats, err);
		w = NULL;
		if (rc)
			goto fail;
		f->is_written = true;
		i = j;
	}
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
	}
	strata_mf_write mw = {
		.table = t->def.name,
		.expect_version = opts ? opts->expect_version : 0,
		.token = opts ? opts->token : NULL,
		.token_us = opts ? opts->token_us : 0,
		.schema_version = t->schema->version,
		.files = nf,
		.nfiles = nfiles,
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
			strata_io()->unlink(files[i].path);
		if (is_repeat)
			*is_repeat = true;
	}
	goto out;
fail:
	/* invariant 1 */
	strata_fwriter_abort(w);
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].is_written)
			strata_io()->unlink(files[i].path);
out:
	for (size_t i = 0; i < nfiles; i++)
		strata_file_stats_free(&files[i].stats);
	free(files);
	free(nf);
	strata_txn_abort(t);
	return rc;
}
