/*
 * tests/fuzz/fuzz_admin.c — libFuzzer target for the admin command parser
 * and dispatcher (daemon/admin.c: the word and JSON tokenizers, the command
 * table lookup, arity and permission checks, and the handlers' own argument
 * parsing).
 *
 * An input is split into lines as the socket splits them (LF, a trailing CR
 * dropped, lines over 4096 bytes refused).  Each line goes, for three peers
 * (no rights, a reader, the owner):
 *   1. through stratad_admin_check(), the dispatcher's checks without a
 *      daemon — the reply must be one line holding one JSON object with a
 *      boolean "ok", and an accepted command must be in the table with its
 *      arguments within its arity;
 *   2. through stratad_admin_exec() on a real daemon opened once on a
 *      scratch warehouse (one small table with files in two buckets),
 *      globally paused so that queued jobs never start and nothing is
 *      committed: the reply must be one JSON line again, and the verdict of
 *      the dry run must agree with the real one for refusals.  `shutdown`
 *      and a global `resume` are only dry-run (they would end the session or
 *      start the queued jobs).
 *
 * The same harness runs in tests/test_fuzz_regress.c (STRATA_FUZZ_NO_MAIN)
 * over tests/fuzz/corpus/admin.
 *
 *   make fuzz        build build-fuzz/fuzz_admin (clang, ASan+UBSan)
 *   make fuzz-ci     run it FUZZ_SECONDS on tests/fuzz/corpus/admin
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "daemon/daemon.h"
#include "table/table.h"

#define FUZZ_ADMIN_LINE_MAX 4096

static void fuzz_admin_fail(const char *what, const char *line, const char *reply)
{
	fprintf(stderr, "fuzz_admin: %s\nline: %s\nreply: %s\n", what, line, reply);
	abort();
}

/* The reply is exactly one line holding a JSON object with boolean "ok";
 * returns that object (caller frees). */
static json_t *fuzz_admin_reply(const char *line, const strata_buf *out)
{
	if (out->len == 0 || out->data[out->len - 1] != '\n' ||
	    memchr(out->data, '\n', out->len) != out->data + out->len - 1)
		fuzz_admin_fail("the reply is not exactly one line", line,
				out->len ? (const char *)out->data : "(none)");
	json_error_t je;
	json_t *r = json_loadb((const char *)out->data, out->len, 0, &je);
	if (!r || !json_is_object(r) || !json_is_boolean(json_object_get(r, "ok")))
		fuzz_admin_fail("the reply is not a JSON object with \"ok\"", line,
				(const char *)out->data);
	if (json_is_false(json_object_get(r, "ok")) &&
	    !json_is_string(json_object_get(r, "error")))
		fuzz_admin_fail("a refusal without an error", line, (const char *)out->data);
	return r;
}

/* The scratch daemon: opened at the first input, kept for the process. */
static stratad *fuzz_admin_daemon(const char *dir)
{
	static stratad *d;
	static bool tried;
	if (tried)
		return d;
	tried = true;
	char wh_path[PATH_MAX], cfg[PATH_MAX], text[3 * PATH_MAX];
	snprintf(wh_path, sizeof(wh_path), "%s/wh", dir);
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	strata_wh *wh;
	strata_err e;
	if (strata_wh_open(wh_path, true, &wh, &e) != 0)
		abort();
	const char *props[] = {"write.bucket.num=2"};
	if (strata_table_create(wh, "t", "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL,
				"pt STRING", props, 1, &e) != 0)
		abort();
	for (int v = 0; v < 3; v++) {
		strata_txn *t;
		if (strata_txn_begin(wh, "t", &t, &e) != 0)
			abort();
		for (int k = 0; k < 6; k++) {
			json_t *o = json_pack("{s:i,s:s,s:s}", "pk", k, "v", "x", "pt", k % 2 ? "a" : "b/c");
			if (strata_txn_put_json(t, o, &e) != 0)
				abort();
			json_decref(o);
		}
		uint64_t ver;
		if (strata_txn_commit(t, NULL, &ver, NULL, &e) != 0)
			abort();
	}
	strata_wh_close(wh);
	snprintf(text, sizeof(text),
		 "[daemon]\nwarehouse = %s\nsocket = %s/run/admin.sock\nworkers = 1\n"
		 "log_level = error\n[policy]\nsort.min_files = 1000\n[table.t]\nmerge.fanout = 4\n",
		 wh_path, dir);
	FILE *f = fopen(cfg, "w");
	if (!f || fputs(text, f) < 0)
		abort();
	fclose(f);
	stratad_config *c;
	if (stratad_config_load(cfg, &c, NULL, &e) != 0 || stratad_open(c, &d, &e) != 0) {
		fprintf(stderr, "fuzz_admin: could not open the scratch daemon: %s\n", e.msg);
		abort();
	}
	/* globally paused: queued jobs never start */
	strata_buf out = {0};
	stratad_peer owner = {.uid = 0, .may_read = true, .may_write = true};
	if (stratad_admin_exec(d, &owner, "pause", &out) != 0)
		abort();
	strata_buf_free(&out);
	strata_log_set_level(STRATA_LOG_ERROR);
	return d;
}

static void fuzz_admin_line(stratad *d, const char *line)
{
	static const stratad_peer peers[] = {
		{.uid = 4242, .gid = 4242, .pid = 1},
		{.uid = 4243, .gid = 4243, .pid = 2, .may_read = true},
		{.uid = 0, .gid = 0, .pid = 3, .may_read = true, .may_write = true},
	};
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		strata_buf out = {0};
		int rc = stratad_admin_check(4000, &peers[i], line, &out);
		json_t *r = fuzz_admin_reply(line, &out);
		bool ok = json_is_true(json_object_get(r, "ok"));
		if (ok != (rc == 0))
			fuzz_admin_fail("the return code and the reply disagree", line, (char *)out.data);
		const char *name = json_string_value(json_object_get(r, "command"));
		size_t nargs = json_array_size(json_object_get(r, "args"));
		bool is_global_resume = ok && strcmp(name, "resume") == 0 && nargs == 0;
		bool is_shutdown = ok && strcmp(name, "shutdown") == 0;
		if (ok && nargs >= 64)
			fuzz_admin_fail("more than 64 words accepted", line, (char *)out.data);
		json_decref(r);
		strata_buf_free(&out);
		if (!d || is_global_resume || is_shutdown)
			continue;
		int xrc = stratad_admin_exec(d, &peers[i], line, &out);
		r = fuzz_admin_reply(line, &out);
		if (json_is_true(json_object_get(r, "ok")) != (xrc == 0))
			fuzz_admin_fail("exec: the return code and the reply disagree", line,
					(char *)out.data);
		/* a dry-run refusal is a real refusal */
		if (rc != 0 && xrc == 0)
			fuzz_admin_fail("the dry run refused what exec ran", line, (char *)out.data);
		json_decref(r);
		strata_buf_free(&out);
	}
}

static int strata_fuzz_admin_one(const uint8_t *data, size_t size, const char *dir)
{
	stratad *d = fuzz_admin_daemon(dir);
	size_t i = 0;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
		if (n <= FUZZ_ADMIN_LINE_MAX) { /* the socket refuses longer lines */
			char *line = strata_malloc(n + 1);
			memcpy(line, data + i, n);
			line[n] = '\0';
			if (n && line[n - 1] == '\r')
				line[n - 1] = '\0';
			fuzz_admin_line(d, line);
			free(line);
		}
		i += n + 1;
	}
	return 0;
}

#ifndef STRATA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return strata_fuzz_admin_one(data, size, fuzz_scratch_dir());
}
#endif
