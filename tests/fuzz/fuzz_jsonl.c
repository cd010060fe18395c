/*
 * tests/fuzz/fuzz_jsonl.c — libFuzzer target for the JSON-lines input of
 * `strata write` (cli/cmd_rw.c reads lines, jansson parses each one,
 * strata_txn_put_json() routes it: partition columns, strata_row_from_json()
 * for the values, the key encoding, the bucket).
 *
 * The input is split into lines as `strata write` splits them (LF, trailing
 * CR and LF dropped, blank lines skipped).  Every line that parses as JSON
 * is put into one transaction on a scratch table (every column type, DATE
 * and DECIMALs of three widths included, a
 * two-column key, two partition columns), which is aborted at the end:
 * nothing is written.  For every line the harness also checks:
 *   - an error has a message;
 *   - a row that strata_row_from_json() accepts comes back out of
 *     strata_row_to_json() (what `strata scan` prints) as JSON that
 *     strata_row_from_json() accepts again, with equal values — what scan
 *     prints, write takes back;
 *   - a row accepted alone is accepted by the transaction unless its key is
 *     too long or a partition value is bad (and the reverse never happens).
 *
 * The same harness runs in tests/test_fuzz_regress.c (STRATA_FUZZ_NO_MAIN)
 * over tests/fuzz/corpus/jsonl.
 *
 *   make fuzz        build build-fuzz/fuzz_jsonl (clang, ASan+UBSan)
 *   make fuzz-ci     run it FUZZ_SECONDS on tests/fuzz/corpus/jsonl
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "table/table.h"

static void fuzz_jsonl_fail(const char *what, const char *line, const char *detail)
{
	fprintf(stderr, "fuzz_jsonl: %s\nline: %s\ndetail: %s\n", what, line, detail);
	abort();
}

/* The scratch warehouse: created at the first input, kept for the process. */
static strata_wh *fuzz_jsonl_wh(const char *dir)
{
	static strata_wh *wh;
	if (wh)
		return wh;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/wh", dir);
	strata_err e;
	if (strata_wh_open(path, true, &wh, &e) != 0)
		abort();
	const char *props[] = {"write.bucket.num=7"};
	if (strata_table_create(wh, "t",
				"k1 STRING NOT NULL, k2 BIGINT NOT NULL, i INT, d DOUBLE, f FLOAT, "
				"b BOOLEAN, s STRING, bin BINARY, ts TIMESTAMP, n BIGINT NOT NULL, "
				"day DATE, m DECIMAL(38,10), m9 DECIMAL(9,2), m0 DECIMAL(1,0)",
				"k1,k2", "pt STRING, dt STRING", props, 1, &e) != 0) {
		fprintf(stderr, "fuzz_jsonl: %s\n", e.msg);
		abort();
	}
	strata_log_set_level(STRATA_LOG_ERROR);
	return wh;
}

/* Values equal as the format sees them (NaN equals NaN). */
static bool fuzz_jsonl_rows_eq(const strata_schema *s, const strata_row *a, const strata_row *b)
{
	if (a->op != b->op)
		return false;
	for (uint32_t i = 0; i < s->ncols; i++) {
		if (a->vals[i].is_null != b->vals[i].is_null)
			return false;
		if (!a->vals[i].is_null && !strata_value_eq(s->cols[i].type, &a->vals[i], &b->vals[i]))
			return false;
	}
	return true;
}

/* The scan -> write round trip of one row object (partition columns
 * removed).  Returns whether the row alone was accepted. */
static bool fuzz_jsonl_roundtrip(const strata_schema *s, json_t *obj, const char *line)
{
	json_t *copy = json_copy(obj);
	json_object_del(copy, "pt");
	json_object_del(copy, "dt");
	strata_arena *a = strata_arena_new();
	strata_row row, back;
	strata_err e;
	memset(&e, 0, sizeof(e));
	int rc = strata_row_from_json(s, copy, a, &row, &e);
	json_decref(copy);
	if (rc) {
		if (!e.msg[0])
			fuzz_jsonl_fail("an error without a message", line, "");
		strata_arena_free(a);
		return false;
	}
	strata_buf out = {0};
	strata_row_to_json(s, &row, false, &out);
	strata_buf_putc(&out, 0);
	json_error_t je;
	json_t *j = json_loads((const char *)out.data, 0, &je);
	if (!j)
		fuzz_jsonl_fail("strata_row_to_json wrote invalid JSON", line, (char *)out.data);
	if (row.op == STRATA_OP_DELETE) {
		/* a delete carries its key only */
		for (uint32_t i = 0; i < s->ncols; i++)
			if (s->cols[i].key_pos < 0)
				json_object_del(j, s->cols[i].name);
		json_object_set_new(j, "_op", json_string("delete"));
	}
	rc = strata_row_from_json(s, j, a, &back, &e);
	if (rc)
		fuzz_jsonl_fail("what strata_row_to_json wrote does not read back", (char *)out.data,
				e.msg);
	if (!fuzz_jsonl_rows_eq(s, &row, &back))
		fuzz_jsonl_fail("a row changed on its way through JSON", line, (char *)out.data);
	json_decref(j);
	strata_buf_free(&out);
	strata_arena_free(a);
	return true;
}

static int strata_fuzz_jsonl_one(const uint8_t *data, size_t size, const char *dir)
{
	strata_wh *wh = fuzz_jsonl_wh(dir);
	strata_txn *t = NULL;
	strata_err e;
	if (strata_txn_begin(wh, "t", &t, &e) != 0)
		abort();
	const strata_schema *s = strata_txn_schema(t);
	size_t i = 0;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
		char *line = strata_malloc(n + 1);
		memcpy(line, data + i, n);
		line[n] = '\0';
		i += n + 1;
		size_t len = n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		json_t *obj = NULL;
		strata_err pe = {0};
		if (*p && strata_json_parse(line, len, &obj, &pe) != 0 && !pe.msg[0])
			fuzz_jsonl_fail("parse: an error without a message", line, "");
		if (!obj) {
			free(line);
			continue;
		}
		bool alone = json_is_object(obj) && fuzz_jsonl_roundtrip(s, obj, line);
		size_t before = strata_txn_rows(t);
		memset(&e, 0, sizeof(e));
		int rc = strata_txn_put_json(t, obj, &e);
		json_decref(obj);
		if (rc) {
			if (!e.msg[0])
				fuzz_jsonl_fail("put: an error without a message", line, "");
			if (strata_txn_rows(t) != before)
				fuzz_jsonl_fail("put: a refused row was buffered", line, e.msg);
			if (alone && rc != STRATA_ELIMIT && !strstr(e.msg, "partition"))
				fuzz_jsonl_fail("put refused a row that parses alone", line, e.msg);
		} else {
			if (!alone)
				fuzz_jsonl_fail("put took a row that does not parse alone", line, "");
			if (strata_txn_rows(t) != before + 1)
				fuzz_jsonl_fail("put: the row was not buffered", line, "");
		}
		free(line);
	}
	strata_txn_abort(t);
	return 0;
}

#ifndef STRATA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return strata_fuzz_jsonl_one(data, size, fuzz_scratch_dir());
}
#endif
