/*
 * tests/lib/colread.c — the columnar read API as an outside program uses it.
 *
 * Not part of the build: tests/test_lib.c compiles it against the installed
 * tree with `pkg-config --cflags --libs strata` only (the way
 * docs/LIBRARY.md says to) and runs it on a scratch warehouse.  It writes
 * two tables through the public API (an update, deletes, nulls and every
 * column type; a partitioned one), then reads them with
 * strata_db_colscan_* on 1 and 2 threads and holds each read to the row
 * API's strata_db_scan with the same options: the multiset of keys, the
 * sum of a column, and every value of every row (so the columns of a batch
 * line up).  Also: a read as of the first version, a partition, one key, a
 * key range, a projection in a chosen order, no columns at all, and the
 * errors (unknown table, unknown column, bad key, a version past the
 * latest) with their messages.
 *
 * Prints one line per check; any difference is a line starting "FAIL" and
 * exit status 1.  Usage: colread WAREHOUSE
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/strata.h>

#define NROWS 3000 /* version 1: ids 1..NROWS */
#define NNEW 100   /* version 2 adds NROWS+1..NROWS+NNEW */
#define TS0 INT64_C(1700000000000000)

static int failures;

#define CHECK(cond, ...)                                   \
	do {                                               \
		if (!(cond)) {                             \
			failures++;                        \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);               \
			printf("\n");                      \
		}                                          \
	} while (0)

/* ---- what each row holds ------------------------------------------------------ */

/* A row of table m as written: version 2 updates ids divisible by 5,
 * deletes those divisible by 11 and adds NNEW rows. */
typedef struct row {
	int64_t id;
	int has_i;
	int32_t i;
	double d;
	float f;
	uint8_t b;
	char s[32]; /* "" with has_s 0: null */
	int has_s;
	uint8_t bin[3];
	int64_t ts;
} row;

static void row_expect(int64_t id, int is_v2, row *r)
{
	int is_updated = is_v2 && id % 5 == 0;
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->has_i = id % 7 != 0;
	r->i = r->has_i ? (int32_t)((id * 37) % 1001 - 500 + (is_updated ? 10000 : 0)) : 0;
	r->d = (double)id * 0.5;
	r->f = (float)id * 0.25f;
	r->b = (uint8_t)(id % 2);
	r->has_s = id % 13 != 0;
	if (r->has_s)
		snprintf(r->s, sizeof(r->s), "%c%" PRId64, is_updated ? 'u' : 's', id);
	r->bin[0] = (uint8_t)id;
	r->bin[1] = (uint8_t)(id >> 8);
	r->bin[2] = 0xfe;
	r->ts = TS0 + id * 1000;
}

static int is_live(int64_t id, int is_v2)
{
	if (!is_v2)
		return id >= 1 && id <= NROWS;
	return id >= 1 && id <= NROWS + NNEW && (id % 11 != 0 || id > NROWS);
}

static void base64_3(const uint8_t in[3], char out[5])
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
	for (int k = 0; k < 4; k++)
		out[k] = a[(v >> (18 - 6 * k)) & 63];
	out[4] = '\0';
}

static void row_json(const row *r, char *out, size_t n)
{
	char i[32] = "null", s[48] = "null", bin[5];
	if (r->has_i)
		snprintf(i, sizeof(i), "%d", (int)r->i);
	if (r->has_s)
		snprintf(s, sizeof(s), "\"%s\"", r->s);
	base64_3(r->bin, bin);
	snprintf(out, n,
		 "{\"id\":%" PRId64 ",\"i\":%s,\"d\":%.17g,\"f\":%.9g,\"b\":%s,\"s\":%s,"
		 "\"bin\":\"%s\",\"ts\":%" PRId64 "}",
		 r->id, i, r->d, (double)r->f, r->b ? "true" : "false", s, bin, r->ts);
}

/* ---- writing --------------------------------------------------------------------- */

static int write_tables(strata_db *db, uint64_t *v1, uint64_t *v2)
{
	strata_db_error err;
	strata_db_txn *t = NULL;
	char line[512];
	const char *props[] = {"write.bucket.num=4"};
	strata_db_table_spec m = {
		.columns = "id BIGINT NOT NULL PRIMARY KEY, i INT, d DOUBLE, f FLOAT, b BOOLEAN, "
			   "s STRING, bin BINARY, ts TIMESTAMP",
		.properties = props,
		.nproperties = 1,
	};
	strata_db_table_spec p = {
		.columns = "id BIGINT NOT NULL PRIMARY KEY, v DOUBLE",
		.partitioned_by = "pt STRING",
		.properties = props,
		.nproperties = 1,
	};
	if (strata_db_create_table(db, "m", &m, &err) != 0 ||
	    strata_db_create_table(db, "p", &p, &err) != 0)
		goto fail;
	if (strata_db_txn_begin(db, "m", &t, &err) != 0)
		goto fail;
	for (int64_t id = 1; id <= NROWS; id++) {
		row r;
		row_expect(id, 0, &r);
		row_json(&r, line, sizeof(line));
		if (strata_db_txn_put(t, line, &err) != 0)
			goto fail;
	}
	int rc = strata_db_txn_commit(t, NULL, v1, &err);
	t = NULL;
	if (rc != 0)
		goto fail;
	if (strata_db_txn_begin(db, "m", &t, &err) != 0)
		goto fail;
	for (int64_t id = 1; id <= NROWS + NNEW; id++) {
		row r;
		row_expect(id, 1, &r);
		row_json(&r, line, sizeof(line));
		if (id % 11 == 0 && id <= NROWS) {
			snprintf(line, sizeof(line), "{\"id\":%" PRId64 "}", id);
			rc = strata_db_txn_delete(t, line, &err);
		} else if (id % 5 == 0 || id > NROWS) {
			rc = strata_db_txn_put(t, line, &err);
		} else {
			continue;
		}
		if (rc != 0)
			goto fail;
	}
	rc = strata_db_txn_commit(t, NULL, v2, &err);
	t = NULL;
	if (rc != 0)
		goto fail;
	/* p: ids 1..200, odd ones in pt=a, even ones in pt=b; v = id / 4 */
	if (strata_db_txn_begin(db, "p", &t, &err) != 0)
		goto fail;
	for (int id = 1; id <= 200; id++) {
		snprintf(line, sizeof(line), "{\"id\":%d,\"v\":%.17g,\"pt\":\"%s\"}", id, id / 4.0,
			 id % 2 ? "a" : "b");
		if (strata_db_txn_put(t, line, &err) != 0)
			goto fail;
	}
	rc = strata_db_txn_commit(t, NULL, NULL, &err);
	t = NULL;
	if (rc != 0)
		goto fail;
	return 0;
fail:
	printf("FAIL writing: %s\n", err.msg);
	strata_db_txn_abort(t);
	return -1;
}

/* ---- the row API's answer ---------------------------------------------------------- */

typedef struct got {
	int64_t id;
	int has_i;
	int64_t i;
} got;

typedef struct gotlist {
	got *v;
	size_t n, cap;
} gotlist;

static void got_push(gotlist *l, int64_t id, int has_i, int64_t i)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n++] = (got){id, has_i, i};
}

static int got_cmp(const void *pa, const void *pb)
{
	const got *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The integer after "name": in a JSON row, or has 0 for null. */
static int64_t json_int(const char *row, const char *name, int *has)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	const char *p = strstr(row, pat);
	*has = p && strncmp(p + strlen(pat), "null", 4) != 0;
	return *has ? strtoll(p + strlen(pat), NULL, 10) : 0;
}

/* Scan table with the row API: (id, col) of every row. */
static int row_scan(strata_db *db, const char *table, const strata_db_read_opts *ro,
		    const char *col, gotlist *out)
{
	strata_db_cursor *c = NULL;
	strata_db_error err;
	const char *line;
	int rc = strata_db_scan(db, table, ro, &c, &err);
	while (rc == 0 && (rc = strata_db_cursor_next(c, &line, NULL, &err)) == 1) {
		int has_id, has;
		int64_t id = json_int(line, "id", &has_id);
		int64_t v = json_int(line, col, &has);
		got_push(out, id, has, v);
		rc = 0;
	}
	strata_db_cursor_close(c);
	if (rc < 0)
		printf("FAIL row scan of %s: %s\n", table, err.msg);
	qsort(out->v, out->n, sizeof(*out->v), got_cmp);
	return rc;
}

/* ---- columnar reads ------------------------------------------------------------------ */

/* One thread's cursor: what it read. */
typedef struct puller {
	strata_db_colscan *cs;
	int is_v2;      /* check values against version 2 (else 1) */
	int check_rows; /* every column of table m, in schema order */
	gotlist rows;   /* (id, i) */
	size_t batches;
	int rc;
	char msg[STRATA_DB_ERRMSG_MAX];
} puller;

/* Index of the column named name in cs, or -1. */
static int col_index(const strata_db_colscan *cs, const char *name)
{
	for (size_t j = 0; j < strata_db_colscan_ncols(cs); j++)
		if (strcmp(strata_db_colscan_column(cs, j)->name, name) == 0)
			return (int)j;
	return -1;
}

/* Check row k of batch b (every column of m) against what was written. */
static void batch_row_check(const strata_db_batch *b, size_t k, int is_v2)
{
	int64_t id = ((const int64_t *)b->values[0])[k];
	row r;
	row_expect(id, is_v2, &r);
	CHECK(is_live(id, is_v2), "id %" PRId64 " should not be read", id);
	CHECK(b->nulls[0][k] == 0, "id %" PRId64 ": key is null", id);
	CHECK(b->nulls[1][k] == !r.has_i, "id %" PRId64 ": i null flag", id);
	CHECK(((const int32_t *)b->values[1])[k] == r.i, "id %" PRId64 ": i %d, wrote %d", id,
	      ((const int32_t *)b->values[1])[k], r.i);
	CHECK(((const double *)b->values[2])[k] == r.d, "id %" PRId64 ": d", id);
	CHECK(((const float *)b->values[3])[k] == r.f, "id %" PRId64 ": f", id);
	CHECK(((const uint8_t *)b->values[4])[k] == r.b, "id %" PRId64 ": b", id);
	const strata_db_bytes *s = &((const strata_db_bytes *)b->values[5])[k];
	CHECK(b->nulls[5][k] == !r.has_s, "id %" PRId64 ": s null flag", id);
	CHECK(s->len == strlen(r.s) && memcmp(s->ptr, r.s, s->len) == 0,
	      "id %" PRId64 ": s \"%.*s\", wrote \"%s\"", id, (int)s->len, (const char *)s->ptr,
	      r.s);
	const strata_db_bytes *bin = &((const strata_db_bytes *)b->values[6])[k];
	CHECK(bin->len == 3 && memcmp(bin->ptr, r.bin, 3) == 0, "id %" PRId64 ": bin", id);
	CHECK(((const int64_t *)b->values[7])[k] == r.ts, "id %" PRId64 ": ts", id);
}

static void *pull(void *arg)
{
	puller *p = arg;
	strata_db_colcursor *c = NULL;
	strata_db_error err = {0};
	const strata_db_batch *b;
	int ki = col_index(p->cs, "id"), ii = col_index(p->cs, "i");
	p->rc = strata_db_colcursor_open(p->cs, &c, &err);
	while (p->rc == 0 && (p->rc = strata_db_colcursor_next(c, &b, &err)) == 1) {
		p->rc = 0;
		p->batches++;
		CHECK(b->nrows >= 1 && b->ncols == strata_db_colscan_ncols(p->cs), "batch shape");
		for (size_t k = 0; k < b->nrows; k++) {
			int64_t id = ki >= 0 ? ((const int64_t *)b->values[ki])[k] : 0;
			int has_i = ii >= 0 && !b->nulls[ii][k];
			int64_t i = has_i ? ((const int32_t *)b->values[ii])[k] : 0;
			got_push(&p->rows, id, has_i, i);
			if (p->check_rows)
				batch_row_check(b, k, p->is_v2);
		}
	}
	if (p->rc < 0)
		snprintf(p->msg, sizeof(p->msg), "%s", err.msg);
	strata_db_colcursor_close(c);
	return NULL;
}

/* Read cs with nthreads cursors into *out (sorted by id); 0 or the first
 * error. */
static int col_read(strata_db_colscan *cs, int nthreads, int is_v2, int check_rows,
		    gotlist *out, size_t *batches)
{
	puller p[4];
	pthread_t th[4];
	int rc = 0;
	memset(p, 0, sizeof(p));
	for (int k = 0; k < nthreads; k++) {
		p[k].cs = cs;
		p[k].is_v2 = is_v2;
		p[k].check_rows = check_rows;
		if (pthread_create(&th[k], NULL, pull, &p[k]) != 0)
			abort();
	}
	*batches = 0;
	for (int k = 0; k < nthreads; k++) {
		pthread_join(th[k], NULL);
		if (p[k].rc < 0 && rc == 0) {
			rc = p[k].rc;
			printf("FAIL cursor %d: %s\n", k, p[k].msg);
		}
		for (size_t r = 0; r < p[k].rows.n; r++)
			got_push(out, p[k].rows.v[r].id, p[k].rows.v[r].has_i, p[k].rows.v[r].i);
		*batches += p[k].batches;
		free(p[k].rows.v);
	}
	qsort(out->v, out->n, sizeof(*out->v), got_cmp);
	return rc;
}

/* Hold a columnar read to the row read: same keys (as a multiset), same
 * values of the compared column, same sum. */
static void compare(const char *what, const gotlist *rows, const gotlist *cols)
{
	int64_t sum_rows = 0, sum_cols = 0;
	size_t diffs = 0;
	for (size_t k = 0; k < rows->n; k++)
		sum_rows += rows->v[k].i;
	for (size_t k = 0; k < cols->n; k++)
		sum_cols += cols->v[k].i;
	for (size_t k = 0; k < rows->n && k < cols->n; k++)
		diffs += rows->v[k].id != cols->v[k].id || rows->v[k].has_i != cols->v[k].has_i ||
			 rows->v[k].i != cols->v[k].i;
	CHECK(rows->n == cols->n && diffs == 0 && sum_rows == sum_cols,
	      "%s: row scan %zu rows sum %" PRId64 ", columnar %zu rows sum %" PRId64
	      " (%zu differ)",
	      what, rows->n, sum_rows, cols->n, sum_cols, diffs);
	printf("%s rows=%zu sum=%" PRId64 " %s\n", what, cols->n, sum_cols,
	       rows->n == cols->n && diffs == 0 && sum_rows == sum_cols ? "same" : "DIFFERENT");
}

/* Scan m both ways with the same options, columnar on 1 and 2 threads. */
static void check_m(strata_db *db, const char *what, const strata_db_read_opts *ro,
		    const strata_db_colscan_opts *co, int is_v2)
{
	gotlist rows = {0};
	if (row_scan(db, "m", ro, "i", &rows) < 0) {
		failures++;
		return;
	}
	for (int nthreads = 1; nthreads <= 2; nthreads++) {
		strata_db_colscan *cs = NULL;
		strata_db_error err;
		gotlist cols = {0};
		size_t batches = 0;
		char label[128];
		snprintf(label, sizeof(label), "%s threads=%d", what, nthreads);
		int rc = strata_db_colscan_open(db, "m", co, &cs, &err);
		CHECK(rc == 0, "%s: open: %s", label, err.msg);
		if (rc != 0)
			continue;
		int is_all = co->columns == NULL;
		if (is_all) {
			static const strata_db_type types[] = {
				STRATA_DB_T_BIGINT, STRATA_DB_T_INT,    STRATA_DB_T_DOUBLE,
				STRATA_DB_T_FLOAT,  STRATA_DB_T_BOOLEAN, STRATA_DB_T_STRING,
				STRATA_DB_T_BINARY, STRATA_DB_T_TIMESTAMP};
			CHECK(strata_db_colscan_ncols(cs) == 8, "%s: ncols", label);
			for (size_t j = 0; j < 8 && j < strata_db_colscan_ncols(cs); j++)
				CHECK(strata_db_colscan_column(cs, j)->type == types[j],
				      "%s: column %zu type", label, j);
			CHECK(strata_db_colscan_column(cs, 0)->key_pos == 0 &&
				      strata_db_colscan_column(cs, 1)->key_pos == -1,
			      "%s: key_pos", label);
			CHECK(strata_db_colscan_column(cs, 8) == NULL, "%s: past the end", label);
		}
		CHECK(strata_db_colscan_rows_estimate(cs) >= rows.n, "%s: estimate", label);
		rc = col_read(cs, nthreads, is_v2, is_all, &cols, &batches);
		if (rc == 0)
			compare(label, &rows, &cols);
		else
			failures++;
		printf("%s version=%" PRIu64 " buckets=%zu several batches: %s\n", label,
		       strata_db_colscan_version(cs), strata_db_colscan_nbuckets(cs),
		       batches >= 2 ? "yes" : "no");
		strata_db_colscan_close(cs);
		free(cols.v);
	}
	free(rows.v);
}

/* Rows of rows with lo <= id <= hi. */
static void keep_range(gotlist *l, int64_t lo, int64_t hi)
{
	size_t n = 0;
	for (size_t k = 0; k < l->n; k++)
		if (l->v[k].id >= lo && l->v[k].id <= hi)
			l->v[n++] = l->v[k];
	l->n = n;
}

/* A partition of p, with the partition column first: its value and flag. */
static void check_partition(strata_db *db)
{
	strata_db_read_opts ro = {.partition = "pt=a"};
	strata_db_colscan_opts co = {.partition = "pt=a", .columns = "pt, id,v"};
	gotlist rows = {0}, cols = {0};
	strata_db_colscan *cs = NULL;
	strata_db_colcursor *c = NULL;
	strata_db_error err;
	const strata_db_batch *b;
	int rc;
	if (row_scan(db, "p", &ro, "id", &rows) < 0) {
		failures++;
		return;
	}
	rc = strata_db_colscan_open(db, "p", &co, &cs, &err);
	CHECK(rc == 0, "partition: open: %s", err.msg);
	if (rc != 0)
		goto out;
	CHECK(strata_db_colscan_ncols(cs) == 3, "partition: ncols");
	const strata_db_column *pt = strata_db_colscan_column(cs, 0);
	CHECK(strcmp(pt->name, "pt") == 0 && pt->is_partition && pt->type == STRATA_DB_T_STRING,
	      "partition: column 0 is the partition column");
	CHECK(!strata_db_colscan_column(cs, 1)->is_partition, "partition: id is not one");
	rc = strata_db_colcursor_open(cs, &c, &err);
	while (rc == 0 && (rc = strata_db_colcursor_next(c, &b, &err)) == 1) {
		rc = 0;
		for (size_t k = 0; k < b->nrows; k++) {
			const strata_db_bytes *s = &((const strata_db_bytes *)b->values[0])[k];
			int64_t id = ((const int64_t *)b->values[1])[k];
			double v = ((const double *)b->values[2])[k];
			CHECK(s->len == 1 && s->ptr[0] == 'a', "partition: value of pt");
			CHECK(v == id / 4.0, "partition: v of %" PRId64, id);
			got_push(&cols, id, 1, id);
		}
	}
	CHECK(rc == 0, "partition: read: %s", err.msg);
	qsort(cols.v, cols.n, sizeof(*cols.v), got_cmp);
	compare("partition pt=a", &rows, &cols);
out:
	strata_db_colcursor_close(c);
	strata_db_colscan_close(cs);
	free(rows.v);
	free(cols.v);
}

/* One key, a key range, a projection, no columns. */
static void check_keys(strata_db *db)
{
	strata_db_colscan *cs = NULL;
	strata_db_error err;
	gotlist all = {0}, cols = {0};
	size_t batches;
	if (row_scan(db, "m", NULL, "i", &all) < 0) {
		failures++;
		return;
	}

	strata_db_colscan_opts one = {.key_json = "{\"id\":10}", .columns = "i,id"};
	int rc = strata_db_colscan_open(db, "m", &one, &cs, &err);
	CHECK(rc == 0, "key: open: %s", err.msg);
	if (rc == 0) {
		CHECK(strcmp(strata_db_colscan_column(cs, 0)->name, "i") == 0 &&
			      strata_db_colscan_column(cs, 0)->type == STRATA_DB_T_INT,
		      "key: columns in the order asked");
		CHECK(col_read(cs, 2, 1, 0, &cols, &batches) == 0, "key: read");
		gotlist want = all;
		want.v = malloc(all.n * sizeof(*all.v));
		memcpy(want.v, all.v, all.n * sizeof(*all.v));
		keep_range(&want, 10, 10);
		compare("key id=10", &want, &cols);
		free(want.v);
		strata_db_colscan_close(cs);
		cs = NULL;
	}
	cols.n = 0;

	strata_db_colscan_opts range = {.key_from_json = "{\"id\":100}",
					 .key_to_json = "{\"id\":1999}",
					 .columns = "id,i",
					 .batch_rows = 100};
	rc = strata_db_colscan_open(db, "m", &range, &cs, &err);
	CHECK(rc == 0, "range: open: %s", err.msg);
	if (rc == 0) {
		CHECK(col_read(cs, 2, 1, 0, &cols, &batches) == 0, "range: read");
		CHECK(batches >= 17, "range: batches of at most 100 rows (%zu)", batches);
		keep_range(&all, 100, 1999);
		compare("range id=100..1999", &all, &cols);
		strata_db_colscan_close(cs);
		cs = NULL;
	}

	strata_db_colscan_opts none = {.columns = ""};
	rc = strata_db_colscan_open(db, "m", &none, &cs, &err);
	CHECK(rc == 0, "no columns: open: %s", err.msg);
	if (rc == 0) {
		cols.n = 0;
		CHECK(strata_db_colscan_ncols(cs) == 0, "no columns: ncols");
		CHECK(col_read(cs, 1, 1, 0, &cols, &batches) == 0, "no columns: read");
		gotlist rows = {0};
		row_scan(db, "m", NULL, "i", &rows);
		CHECK(cols.n == rows.n, "no columns: %zu rows, the row scan %zu", cols.n, rows.n);
		printf("no columns rows=%zu %s\n", cols.n, cols.n == rows.n ? "same" : "DIFFERENT");
		free(rows.v);
		strata_db_colscan_close(cs);
	}
	free(all.v);
	free(cols.v);
}

/* Errors: code and message. */
static void check_errors(strata_db *db, uint64_t v2)
{
	strata_db_colscan *cs = NULL;
	strata_db_error err;
	int rc = strata_db_colscan_open(db, "nope", NULL, &cs, &err);
	CHECK(rc == STRATA_DB_ENOTFOUND && cs == NULL && err.code == rc &&
		      strstr(err.msg, "nope"),
	      "unknown table: %d %s", rc, err.msg);
	printf("error unknown table: %s\n", err.msg);

	strata_db_colscan_opts bad = {.columns = "id,zz"};
	rc = strata_db_colscan_open(db, "m", &bad, &cs, &err);
	CHECK(rc == STRATA_DB_EINVAL && cs == NULL && strstr(err.msg, "\"zz\"") &&
		      strstr(err.msg, "\"m\""),
	      "unknown column: %d %s", rc, err.msg);
	printf("error unknown column: %s\n", err.msg);

	strata_db_colscan_opts badkey = {.key_json = "{\"s\":\"x\"}"};
	rc = strata_db_colscan_open(db, "m", &badkey, &cs, &err);
	CHECK(rc == STRATA_DB_EINVAL && cs == NULL && strstr(err.msg, "\"s\""),
	      "bad key: %d %s", rc, err.msg);
	printf("error bad key: %s\n", err.msg);

	strata_db_colscan_opts future = {.as_of_version = v2 + 1000};
	rc = strata_db_colscan_open(db, "m", &future, &cs, &err);
	CHECK(rc < 0 && cs == NULL && err.msg[0], "future version: %d %s", rc, err.msg);
	printf("error future version: %s\n", err.msg);
}

int main(int argc, char **argv)
{
	strata_db *db = NULL;
	strata_db_error err;
	uint64_t v1 = 0, v2 = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: colread WAREHOUSE\n");
		return 2;
	}
	if (strata_db_open(argv[1], STRATA_DB_CREATE, &db, &err) != 0) {
		printf("FAIL open: %s\n", err.msg);
		return 1;
	}
	if (write_tables(db, &v1, &v2) != 0) {
		strata_db_close(db);
		return 1;
	}
	strata_db_colscan_opts co = {.batch_rows = 256};
	check_m(db, "latest", NULL, &co, 1);
	strata_db_read_opts ro1 = {.as_of_version = v1};
	strata_db_colscan_opts co1 = {.as_of_version = v1, .batch_rows = 256};
	check_m(db, "as of v1", &ro1, &co1, 0);
	strata_db_colscan_opts proj = {.columns = "i, id"};
	check_m(db, "projection", NULL, &proj, 1);
	check_partition(db);
	check_keys(db);
	check_errors(db, v2);
	strata_db_close(db);
	printf("%s (%d failures)\n", failures ? "FAILED" : "ALL OK", failures);
	return failures ? 1 : 0;
}
