/*
 * tests/test_cli.c — the real `strata` binary (build/strata, or
 * $STRATA_BUILD/strata) run through the shell: exit codes (0 ok, 1 error,
 * 2 usage, 3 conflict), --help of every command, a missing warehouse, bad
 * input to `write` and `create-table` (a clear error, exit 1, nothing
 * committed, no file left under data/), every read and admin command
 * with its options, and the governance commands (sort, compact, tag, clean,
 * purge, admin) with reads at old versions checked after each.  Commit
 * times are set in-process with the manual clock so AS OF TIME reads are
 * exact.
 */
#include "tests/util/testutil.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "table/table.h"

/* args plus a --token-time of an hour ago (Unix seconds), into buf (200
 * bytes). */
static const char *tok_cmd(char *buf, const char *args)
{
	snprintf(buf, 200, "%s --token-time %lld", args, (long long)time(NULL) - 3600);
	return buf;
}

static char errpath[PATH_MAX];
static char scratch[PATH_MAX];

static void paths_init(void)
{
	if (!*scratch) {
		snprintf(scratch, sizeof(scratch), "%s", tu_tmpdir());
		snprintf(errpath, sizeof(errpath), "%s/stderr", scratch);
	}
}

/* Run `strata -W wh ARGS` (wh NULL: no -W; STRATA_WAREHOUSE is always
 * unset) with stdin from in_text (NULL: /dev/null).  *out and *err receive
 * stdout and stderr (malloc'd).  Returns the exit status. */
static int cli_in(const char *wh, const char *in_text, const char *args, char **out,
		  char **err)
{
	paths_init();
	char inpath[PATH_MAX];
	snprintf(inpath, sizeof(inpath), "%s/stdin", scratch);
	if (in_text)
		tu_write_file(inpath, in_text, strlen(in_text));
	strata_buf cmd = {0};
	strata_buf_printf(&cmd, "env -u STRATA_WAREHOUSE '%s'", tu_bin("strata"));
	if (wh)
		strata_buf_printf(&cmd, " -W '%s'", wh);
	strata_buf_printf(&cmd, " %s <%s 2>'%s'", args, in_text ? inpath : "/dev/null", errpath);
	strata_buf_putc(&cmd, 0);
	char *o = NULL;
	int rc = tu_run((char *)cmd.data, &o);
	strata_buf_free(&cmd);
	char *e = tu_read_file(errpath, NULL);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e ? e : strdup("");
	else
		free(e);
	return rc;
}

static int cli(const char *wh, const char *args, char **out, char **err)
{
	return cli_in(wh, NULL, args, out, err);
}

/* Expect exit code `code` and `want` (if not NULL) in stderr (or stdout
 * when on_stdout). */
static void expect_cli(const char *wh, const char *in, const char *args, int code,
		       const char *want, bool on_stdout)
{
	char *out, *err;
	int rc = cli_in(wh, in, args, &out, &err);
	const char *where = on_stdout ? out : err;
	bool ok = rc == code && (!want || strstr(where, want));
	if (!ok)
		fprintf(stderr, "\n`strata %s`: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s\n",
			args, rc, code, out, err, want ? want : "-");
	CU_ASSERT_EQUAL(rc, code);
	if (want)
		CU_ASSERT(strstr(where, want) != NULL);
	free(out);
	free(err);
}

static const char *new_warehouse(void)
{
	const char *dir = tu_tmpdir();
	static char wh[8][PATH_MAX];
	static int next;
	char *p = wh[next++ % 8];
	snprintf(p, PATH_MAX, "%s/wh", dir);
	expect_cli(p, NULL, "init", 0, "initialised warehouse", true);
	return p;
}

static uint64_t version_of(const char *wh, const char *table)
{
	strata_wh *w;
	strata_err e;
	uint64_t v = 0;
	if (strata_wh_open(wh, false, &w, &e) != 0)
		return 0;
	strata_mf_snap *snap;
	strata_table_def t;
	if (strata_mf_snap_open(strata_wh_mf(w), &snap, &e) == 0) {
		if (strata_mf_table_get(snap, table, &t, &e) == 0)
			v = t.version;
		strata_mf_snap_close(snap);
	}
	strata_wh_close(w);
	return v;
}

static int data_files(const char *wh)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/data", wh);
	return tu_count_files(p, NULL);
}

static const char *write_file(const char *name, const char *text)
{
	paths_init();
	static char p[4][PATH_MAX];
	static int next;
	char *path = p[next++ % 4];
	snprintf(path, PATH_MAX, "%s/%s", scratch, name);
	tu_write_file(path, text, strlen(text));
	return path;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- exit codes, help, no warehouse ------------------------------------------------ */

static void test_exit_codes(void)
{
	const char *wh = new_warehouse();
	expect_cli(wh, NULL, "create-table t --columns 'pk BIGINT PRIMARY KEY, val STRING'", 0,
		   "created table t", true);
	/* 0; init of an existing warehouse is fine and keeps it */
	expect_cli(wh, NULL, "init", 0, "initialised warehouse", true);
	expect_cli(wh, NULL, "init extra", 2, "unexpected argument", false);
	expect_cli(wh, "{\"pk\":1,\"val\":\"a\"}\n", "write t --file -", 0,
		   "committed version 2 (1 row)", true);
	expect_cli(wh, NULL, "tables", 0, "t\tversion 2", true);
	/* 1 */
	expect_cli(wh, NULL, "scan nope", 1, "strata: unknown table \"nope\"", false);
	/* 2 */
	expect_cli(wh, NULL, "", 2, "usage: strata", false);
	expect_cli(wh, NULL, "frobnicate", 2, "unknown command \"frobnicate\"", false);
	expect_cli(wh, NULL, "scan", 2, "expected one table NAME", false);
	expect_cli(wh, NULL, "scan t extra", 2, "usage: strata scan", false);
	expect_cli(wh, NULL, "scan t --bogus", 2, "usage: strata scan", false);
	expect_cli(wh, NULL, "scan t --as-of-version abc", 2, "--as-of-version", false);
	expect_cli(wh, NULL, "scan t --as-of-version 0", 2, "--as-of-version", false);
	expect_cli(wh, NULL, "scan t --as-of-time yesterday", 2, "--as-of-time", false);
	expect_cli(wh, NULL, "scan t --format xml", 2, "--format is jsonl, json, csv or table", false);
	expect_cli(wh, NULL, "write t --expect-version x", 2, "--expect-version", false);
	expect_cli(wh, NULL, "create-table u", 2, "--columns is required", false);
	expect_cli(wh, NULL, "changes t --between 1", 2, "--between V1 V2", false);
	expect_cli(wh, NULL, "get t", 2, "--key", false);
	expect_cli(wh, NULL, "get t --key '[1]'", 2, "JSON object", false);
	expect_cli(wh, NULL, "get t --key '{bad'", 2, "JSON object", false);
	expect_cli(wh, NULL, "log t --limit x", 2, "--limit", false);
	expect_cli(wh, NULL, "alter-table t", 2, "expected NAME and an action", false);
	expect_cli(wh, NULL, "alter-table t rename x", 2, "unknown action \"rename\"", false);
	expect_cli(wh, NULL, "file", 2, "file cat PATH", false);
	expect_cli(wh, NULL, "file cut x", 2, "file cat PATH", false);
	expect_cli(wh, NULL, "help nope", 2, "unknown command \"nope\"", false);
	/* 3: a stale expected version; nothing committed */
	expect_cli(wh, "{\"pk\":2,\"val\":\"b\"}\n", "write t --expect-version 1", 3, "expected 1",
		   false);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 2);
	expect_cli(wh, "{\"pk\":2,\"val\":\"b\"}\n", "write t --expect-version 2", 0,
		   "committed version 3", true);
	/* a token repeat prints the first version and exits 0 (the batch
	 * time: an hour ago, inside the token horizon) */
	char tokbuf[200];
	expect_cli(wh, "{\"pk\":3,\"val\":\"c\"}\n", tok_cmd(tokbuf, "write t --token load-7"), 0,
		   "committed version 4", true);
	int files = data_files(wh);
	expect_cli(wh, "{\"pk\":3,\"val\":\"c\"}\n{\"pk\":4,\"val\":\"d\"}\n", tok_cmd(tokbuf, "write t --token load-7"),
		   0, "version 4 already committed with token \"load-7\"", true);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 4);
	CU_ASSERT_EQUAL(data_files(wh), files);
	/* the token wins over a stale expected version: still the first version */
	expect_cli(wh, "{\"pk\":3,\"val\":\"c\"}\n", tok_cmd(tokbuf, "write t --token load-7 --expect-version 1"), 0,
		   "version 4 already committed", true);
	/* an empty write commits nothing, with a token too */
	expect_cli(wh, "\n  \n", "write t", 0, "nothing to commit; table is at version 4", true);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 4);
	expect_cli(wh, "", tok_cmd(tokbuf, "write t --token empty-1"), 0, "nothing to commit; table is at version 4",
		   true);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 4);
	expect_cli(wh, "{\"pk\":5,\"val\":\"e\"}\n", "write t --expect-version 4", 0,
		   "committed version 5", true);
}

static void test_help(void)
{
	const char *cmds[] = {"init",  "create-table", "alter-table", "describe", "tables",
			      "write", "scan",         "get",         "changes",  "log",
			      "files", "file",         "sort",        "merge",    "compact",
			      "clean", "purge",        "tag",         "tags",     "admin",
			      "help"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cmds); i++) {
		char args[128], want[128];
		snprintf(args, sizeof(args), "%s --help", cmds[i]);
		snprintf(want, sizeof(want), "usage: strata %s", cmds[i]);
		/* --help needs no warehouse */
		expect_cli(NULL, NULL, args, 0, want, true);
		snprintf(args, sizeof(args), "%s -h", cmds[i]);
		expect_cli(NULL, NULL, args, 0, want, true);
		snprintf(args, sizeof(args), "help %s", cmds[i]);
		expect_cli(NULL, NULL, args, 0, want, true);
	}
	expect_cli(NULL, NULL, "--help", 0, "usage: strata [-W WAREHOUSE] COMMAND", true);
	expect_cli(NULL, NULL, "help", 0, "Exit codes: 0 ok, 1 error, 2 usage, 3 conflict", true);
	/* the overview names every command */
	char *out;
	CU_ASSERT_EQUAL(cli(NULL, "help", &out, NULL), 0);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cmds); i++)
		CU_ASSERT(strstr(out, cmds[i]) != NULL);
	/* each command's line in the overview is a whole sentence (the admin
	 * line used to stop mid-sentence at a comma) */
	for (char *line = strstr(out, "\n  "); line; line = strstr(line + 1, "\n  ")) {
		char *end = strchr(line + 1, '\n');
		CU_ASSERT_FATAL(end != NULL);
		if (end[-1] != '.')
			fprintf(stderr, "\noverview line not a sentence: %.*s\n", (int)(end - line - 1),
				line + 1);
		CU_ASSERT_EQUAL(end[-1], '.');
	}
	free(out);
}

static void test_no_warehouse(void)
{
	expect_cli(NULL, NULL, "tables", 2, "no warehouse given: use -W PATH or set STRATA_WAREHOUSE",
		   false);
	expect_cli(NULL, NULL, "init", 2, "no warehouse given", false);
	expect_cli(NULL, NULL, "scan t", 2, "no warehouse given", false);
	expect_cli(NULL, "{\"pk\":1}\n", "write t", 2, "no warehouse given", false);
	/* -W without a path */
	expect_cli(NULL, NULL, "tables -W", 2, "-W needs a path", false);
	/* a directory that is not a warehouse */
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/not-here", tu_tmpdir());
	expect_cli(missing, NULL, "tables", 1, "is not a strata warehouse (run `strata init`", false);
	expect_cli(missing, NULL, "scan t", 1, "is not a strata warehouse", false);
	/* nothing was created by looking */
	CU_ASSERT_NOT_EQUAL(access(missing, F_OK), 0);
	/* $STRATA_WAREHOUSE and --warehouse= work too */
	const char *wh = new_warehouse();
	char args[PATH_MAX + 64];
	snprintf(args, sizeof(args), "--warehouse='%s' tables", wh);
	expect_cli(NULL, NULL, args, 0, NULL, true);
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "STRATA_WAREHOUSE='%s' '%s' tables 2>/dev/null", wh,
		 tu_bin("strata"));
	CU_ASSERT_EQUAL(tu_run(cmd, NULL), 0);
}

/* ---- bad input ----------------------------------------------------------------------- */

static void test_bad_write_input(void)
{
	const char *wh = new_warehouse();
	expect_cli(wh, NULL,
		   "create-table t --columns 'pk BIGINT PRIMARY KEY, val STRING, n INT' "
		   "--property write.bucket.num=4",
		   0, NULL, true);
	expect_cli(wh, NULL,
		   "create-table p --columns 'pk BIGINT PRIMARY KEY, val STRING' "
		   "--partitioned-by 'pt STRING'",
		   0, NULL, true);
	expect_cli(wh, "{\"pk\":1,\"val\":\"a\"}\n", "write t", 0, "committed version 2", true);
	expect_cli(wh, "{\"pk\":1,\"val\":\"a\",\"pt\":\"x\"}\n", "write p", 0, "committed version 2",
		   true);
	int files = data_files(wh);
	const struct {
		const char *table, *input, *want;
	} cases[] = {
		/* malformed JSON: the line number and the reason */
		{"t", "{\"pk\":2,\"val\":\"b\"}\n{\"pk\":3,\"val\":\"c\"}\n{\"pk\":4,\"val\":}\n",
		 "stdin line 3: malformed JSON at column"},
		{"t", "{\"pk\":2,\"val\":\"b\"}\n\n{\"pk\":3,\"val\":\"c\"\n", "stdin line 3: malformed JSON"},
		{"t", "not json\n", "stdin line 1: malformed JSON"},
		{"t", "{\"pk\":2}{\"pk\":3}\n", "stdin line 1: malformed JSON"},
		/* wrong type */
		{"t", "{\"pk\":2,\"val\":\"b\"}\n{\"pk\":3,\"val\":5}\n",
		 "stdin line 2: column \"val\" is STRING, got a JSON integer"},
		{"t", "{\"pk\":\"x\"}\n", "stdin line 1: column \"pk\" is BIGINT, got a JSON string"},
		{"t", "{\"pk\":2,\"n\":3000000000}\n", "stdin line 1: column \"n\": 3000000000 is out of range"},
		/* missing key column */
		{"t", "{\"pk\":2}\n{\"val\":\"no key\"}\n", "stdin line 2: missing primary key column \"pk\""},
		{"t", "{\"pk\":null}\n", "stdin line 1: column \"pk\" is NOT NULL, got null"},
		/* unknown column */
		{"t", "{\"pk\":2,\"zzz\":1}\n", "stdin line 1: unknown column \"zzz\""},
		{"t", "{\"pk\":2,\"_seq\":1}\n", "stdin line 1: \"_seq\" is assigned by the commit"},
		{"t", "[1,2]\n", "stdin line 1: a row must be a JSON object"},
		/* a key given twice is an error naming it, never last-wins */
		{"t", "{\"pk\":2}\n{\"pk\":3,\"val\":\"a\",\"val\":\"b\"}\n",
		 "stdin line 2: duplicate key \"val\" at column"},
		{"t", "{\"pk\":3,\"pk\":4}\n", "stdin line 1: duplicate key \"pk\""},
		{"t", "{\"pk\":3,\"_op\":\"delete\",\"_op\":\"upsert\"}\n",
		 "stdin line 1: duplicate key \"_op\""},
		{"p", "{\"pk\":3,\"pt\":\"x\",\"pt\":\"y\"}\n", "stdin line 1: duplicate key \"pt\""},
		/* partitions */
		{"p", "{\"pk\":2,\"val\":\"b\"}\n", "stdin line 1: missing partition column \"pt\""},
		{"p", "{\"pk\":2,\"pt\":1}\n", "stdin line 1: partition column \"pt\" must be a string"},
		/* unknown table */
		{"nope", "{\"pk\":2}\n", "strata: unknown table \"nope\""},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		char args[64];
		snprintf(args, sizeof(args), "write %s", cases[i].table);
		expect_cli(wh, cases[i].input, args, 1, cases[i].want, false);
		CU_ASSERT_EQUAL(version_of(wh, "t"), 2);
		CU_ASSERT_EQUAL(version_of(wh, "p"), 2);
		if (data_files(wh) != files)
			fprintf(stderr, "\nbad input case %zu left files behind\n", i);
		CU_ASSERT_EQUAL(data_files(wh), files);
	}
	/* the same through --file names the file */
	const char *f = write_file("rows.jsonl", "{\"pk\":5}\n{\"pk\":6,\"val\":[]}\n");
	char args[PATH_MAX + 32];
	snprintf(args, sizeof(args), "write t --file '%s'", f);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "%s line 2: column \"val\" is STRING, got a JSON array", f);
	expect_cli(wh, NULL, args, 1, want, false);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 2);
	CU_ASSERT_EQUAL(data_files(wh), files);
	snprintf(args, sizeof(args), "write t --file '%s/none.jsonl'", scratch);
	expect_cli(wh, NULL, args, 1, "could not open", false);
	/* and the good rows of the good file commit */
	f = write_file("good.jsonl", "{\"pk\":5}\n{\"pk\":6,\"val\":\"six\"}\n");
	snprintf(args, sizeof(args), "write t --file '%s'", f);
	expect_cli(wh, NULL, args, 0, "committed version 3 (2 rows)", true);
	/* a file of CRLF lines is fine */
	expect_cli(wh, "{\"pk\":7,\"val\":\"crlf\"}\r\n", "write t", 0, "committed version 4", true);
}

static void test_bad_ddl_input(void)
{
	const char *wh = new_warehouse();
	const struct {
		const char *args, *want;
	} cases[] = {
		{"create-table Bad-Name --columns 'pk BIGINT PRIMARY KEY'", "table name \"Bad-Name\""},
		{"create-table ../x --columns 'pk BIGINT PRIMARY KEY'", "table name"},
		{"create-table t --columns 'pk BIGINT PRIMARY KEY, v TEXT'", "unknown type \"TEXT\""},
		{"create-table t --columns 'pk BIGINT, v STRING'", "needs a primary key"},
		{"create-table t --columns 'pk BIGINT PRIMARY KEY' --property write.bucket.num=5000",
		 "write.bucket.num must be an integer in (0, 4096] (got \"5000\")"},
		{"create-table t --columns 'pk BIGINT PRIMARY KEY' --property acid.data.retain.hours=169",
		 "acid.data.retain.hours must be an integer in [0, 168] (got \"169\")"},
		{"create-table t --columns 'pk BIGINT PRIMARY KEY' --property colour=blue",
		 "unknown property \"colour\""},
		{"create-table t --columns 'pk BIGINT PRIMARY KEY' --partitioned-by 'pt INT'",
		 "must be a plain STRING"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		expect_cli(wh, NULL, cases[i].args, 1, cases[i].want, false);
		char *out;
		CU_ASSERT_EQUAL(cli(wh, "tables", &out, NULL), 0);
		CU_ASSERT_STRING_EQUAL(out, ""); /* nothing was created */
		free(out);
	}
	CU_ASSERT_EQUAL(data_files(wh), 0);
	expect_cli(wh, NULL, "create-table t --columns 'pk BIGINT PRIMARY KEY, v STRING'", 0, NULL,
		   true);
	expect_cli(wh, NULL, "create-table t --columns 'pk BIGINT PRIMARY KEY'", 1,
		   "table \"t\" already exists", false);
	/* alter-table errors change nothing */
	expect_cli(wh, NULL, "alter-table t set write.bucket.num=0", 1,
		   "write.bucket.num must be an integer in (0, 4096] (got \"0\")", false);
	expect_cli(wh, NULL, "alter-table t set acid.data.retain.hours=1000", 1,
		   "acid.data.retain.hours must be an integer in [0, 168]", false);
	expect_cli(wh, NULL, "alter-table t drop-column pk", 1, "primary key", false);
	expect_cli(wh, NULL, "alter-table t drop-column nope", 1, "no column \"nope\"", false);
	expect_cli(wh, NULL, "alter-table t add-columns 'x INT NOT NULL'", 1, "must be nullable",
		   false);
	expect_cli(wh, NULL, "alter-table t add-columns 'v INT'", 1, "already exists", false);
	expect_cli(wh, NULL, "alter-table nope add-columns 'x INT'", 1, "unknown table \"nope\"",
		   false);
	CU_ASSERT_EQUAL(version_of(wh, "t"), 1);
	char *out;
	CU_ASSERT_EQUAL(cli(wh, "describe t", &out, NULL), 0);
	CU_ASSERT(strstr(out, "write.bucket.num=16") != NULL);
	CU_ASSERT(strstr(out, "acid.data.retain.hours=24") != NULL);
	free(out);
}

/* ---- reads and admin ---------------------------------------------------------------- */

static int64_t real_now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Table t in a new warehouse: v1 at base, v2 at base+10000 s, v3 at
 * base+20000 s, base = now - 100000 s.  Written in-process (manual clock). */
static const char *fixture(int64_t *base_out)
{
	const char *wh = new_warehouse();
	int64_t base = (real_now_us() / 1000000 - 100000) * 1000000;
	*base_out = base;
	strata_wh *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh, false, &w, &e), 0);
	tu_clock_manual(base);
	/* files: `strata file` reads them (inline entries: test_inline) */
	const char *props[] = {"write.bucket.num=2", "write.inline.max-bytes=0"};
	CU_ASSERT_EQUAL_FATAL(strata_table_create(w, "t", "pk BIGINT PRIMARY KEY, val STRING, d DOUBLE",
						  NULL, NULL, props, 2, &e),
			      0);
	const char *rows[3][4] = {
		{NULL},
		{"{\"pk\":1,\"val\":\"one\",\"d\":1.5}", "{\"pk\":2,\"val\":\"two, \\\"2\\\"\"}",
		 "{\"pk\":3,\"val\":\"three\"}", NULL},
		{"{\"pk\":1,\"val\":\"uno\",\"d\":-0.25}", "{\"pk\":3,\"_op\":\"delete\"}", NULL},
	};
	for (int v = 1; v <= 2; v++) {
		tu_clock_advance(10000ll * 1000000);
		strata_txn *t;
		CU_ASSERT_EQUAL_FATAL(strata_txn_begin(w, "t", &t, &e), 0);
		for (int i = 0; rows[v][i]; i++) {
			json_error_t je;
			json_t *j = json_loads(rows[v][i], 0, &je);
			CU_ASSERT_EQUAL_FATAL(strata_txn_put_json(t, j, &e), 0);
			json_decref(j);
		}
		uint64_t ver;
		CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &e), 0);
		CU_ASSERT_EQUAL(ver, (uint64_t)v + 1);
	}
	tu_clock_real();
	strata_wh_close(w);
	return wh;
}

static void fmt_time(int64_t us, char *out, size_t n)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void test_scan_formats(void)
{
	int64_t base;
	const char *wh = fixture(&base);
	char *out;
	/* jsonl (default): rows by bucket, so compare as a set */
	CU_ASSERT_EQUAL(cli(wh, "scan t", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 2);
	CU_ASSERT(strstr(out, "{\"pk\":1,\"val\":\"uno\",\"d\":-0.25}\n") != NULL);
	CU_ASSERT(strstr(out, "{\"pk\":2,\"val\":\"two, \\\"2\\\"\",\"d\":null}\n") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "scan t --format jsonl", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 2);
	free(out);
	/* csv: a header, RFC 4180 quoting, NULL as empty */
	CU_ASSERT_EQUAL(cli(wh, "scan t --format csv", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,val,d\n", 9) == 0);
	CU_ASSERT(strstr(out, "\n1,uno,-0.25\n") != NULL || strstr(out, "\n1,uno,-0.25") != NULL);
	CU_ASSERT(strstr(out, "2,\"two, \"\"2\"\"\",\n") != NULL);
	CU_ASSERT_EQUAL(count_lines(out), 3);
	free(out);
	/* table: aligned, NULL spelled out, a row count */
	CU_ASSERT_EQUAL(cli(wh, "scan t --format table", &out, NULL), 0);
	CU_ASSERT(strstr(out, "pk | val") != NULL);
	CU_ASSERT(strstr(out, "---+-") != NULL);
	CU_ASSERT(strstr(out, "NULL") != NULL);
	CU_ASSERT(strstr(out, "(2 rows)\n") != NULL);
	free(out);
	/* --columns keeps the key */
	CU_ASSERT_EQUAL(cli(wh, "scan t --columns d --format csv", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,d\n", 5) == 0);
	CU_ASSERT(strstr(out, "uno") == NULL);
	free(out);
	expect_cli(wh, NULL, "scan t --columns nope", 1, "unknown column \"nope\"", false);
	/* an empty result */
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-version 1 --format table", &out, NULL), 0);
	CU_ASSERT(strstr(out, "(0 rows)") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-version 1", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
}

/* No byte of `out` is a control character but the line ends, no C1
 * control or bidi override is in it, and it has `lines` lines. */
static bool output_is_inert(const char *out, size_t lines)
{
	const uint8_t *p = (const uint8_t *)out;
	bool ok = count_lines(out) == lines;
	for (size_t i = 0; p[i]; i++) {
		if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
			ok = false;
		if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			ok = false;
		if (p[i] == 0xe2 && (p[i + 1] == 0x80 || p[i + 1] == 0x81) &&
		    ((p[i + 2] >= 0xaa && p[i + 2] <= 0xae) || (p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)))
			ok = false;
	}
	if (!ok)
		fprintf(stderr, "\nnot inert (want %zu lines):\n%s\n", lines, out);
	return ok;
}

/* A value cannot draw a fake row or recolour the terminal: csv and table
 * show control characters as visible escapes (docs/CLI.md). */
static void test_scan_escapes(void)
{
	const char *wh = new_warehouse();
	expect_cli(wh, NULL,
		   "create-table e --columns 'pk BIGINT PRIMARY KEY, val STRING' "
		   "--partitioned-by 'pt STRING'",
		   0, NULL, true);
	expect_cli(wh,
		   "{\"pk\":1,\"val\":\"a\\n2 | fake\\r\\u001b[31mred\\u001b[0m\\t\\u007f\\\\\",\"pt\":\"x\"}\n"
		   "{\"pk\":2,\"val\":\"c1\\u009b2J bidi\\u202eevil, \\\"q\\\" \\u00e9\",\"pt\":\"x\"}\n"
		   "{\"pk\":3,\"val\":\"ok\",\"pt\":\"p\\u001b]0;title\\u0007\"}\n",
		   "write e", 0, "committed version 2", true);
	char *out;
	CU_ASSERT_EQUAL(cli(wh, "scan e --format csv", &out, NULL), 0);
	CU_ASSERT(output_is_inert(out, 4));
	CU_ASSERT(strstr(out, "\n1,a\\n2 | fake\\r\\x1b[31mred\\x1b[0m\\t\\x7f\\\\,x\n") != NULL);
	CU_ASSERT(strstr(out, "\n2,\"c1\\u009b2J bidi\\u202eevil, \"\"q\"\" \xc3\xa9\",x\n") != NULL);
	CU_ASSERT(strstr(out, "\n3,ok,p\\x1b]0;title\\x07\n") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes e --between 1 2 --format csv", &out, NULL), 0);
	CU_ASSERT(output_is_inert(out, 4));
	free(out);
	/* table: header, rule, 3 rows, count */
	CU_ASSERT_EQUAL(cli(wh, "scan e --format table", &out, NULL), 0);
	CU_ASSERT(output_is_inert(out, 6));
	CU_ASSERT(strstr(out, "a\\n2 | fake\\r\\x1b[31mred\\x1b[0m\\t\\x7f\\\\ ") != NULL);
	CU_ASSERT(strstr(out, "c1\\u009b2J bidi\\u202eevil, \"q\" \xc3\xa9") != NULL);
	CU_ASSERT(strstr(out, "| p\\x1b]0;title\\x07\n") != NULL);
	CU_ASSERT(strstr(out, "(3 rows)\n") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes e --between 1 2 --format table", &out, NULL), 0);
	CU_ASSERT(output_is_inert(out, 6));
	free(out);
	/* jsonl escapes them as JSON does, and stays exact: it writes back */
	CU_ASSERT_EQUAL(cli(wh, "scan e", &out, NULL), 0);
	CU_ASSERT(output_is_inert(out, 3));
	CU_ASSERT(strstr(out, "\\u009b2J bidi\\u202eevil") != NULL);
	char *again;
	expect_cli(wh, out, "write e", 0, "committed version 3 (3 rows)", true);
	CU_ASSERT_EQUAL(cli(wh, "scan e", &again, NULL), 0);
	CU_ASSERT_STRING_EQUAL(again, out);
	free(again);
	free(out);
}

/* What scan prints for any FLOAT or DOUBLE, write takes back unchanged,
 * through the real binary: the extremes, denormals, -0.0, NaN, infinities. */
static void test_float_extremes(void)
{
	const char *wh = new_warehouse();
	const char *cols = "'pk BIGINT PRIMARY KEY, f FLOAT, d DOUBLE'";
	char args[256];
	snprintf(args, sizeof(args), "create-table a --columns %s", cols);
	expect_cli(wh, NULL, args, 0, NULL, true);
	snprintf(args, sizeof(args), "create-table b --columns %s", cols);
	expect_cli(wh, NULL, args, 0, NULL, true);
	expect_cli(wh,
		   "{\"pk\":1,\"f\":3.40282347e+38,\"d\":1.7976931348623157e+308}\n"
		   "{\"pk\":2,\"f\":-3.40282347e+38,\"d\":-1.7976931348623157e+308}\n"
		   "{\"pk\":3,\"f\":1.17549435e-38,\"d\":2.2250738585072014e-308}\n"
		   "{\"pk\":4,\"f\":1.40129846e-45,\"d\":4.9406564584124654e-324}\n"
		   "{\"pk\":5,\"f\":-1e-45,\"d\":-5e-324}\n"
		   "{\"pk\":6,\"f\":-0.0,\"d\":-0.0}\n"
		   "{\"pk\":7,\"f\":\"NaN\",\"d\":\"NaN\"}\n"
		   "{\"pk\":8,\"f\":\"Infinity\",\"d\":\"-Infinity\"}\n"
		   "{\"pk\":9,\"f\":0.1,\"d\":0.1}\n",
		   "write a", 0, "committed version 2 (9 rows)", true);
	char *out, *again;
	CU_ASSERT_EQUAL(cli(wh, "scan a", &out, NULL), 0);
	expect_cli(wh, out, "write b", 0, "committed version 2 (9 rows)", true);
	CU_ASSERT_EQUAL(cli(wh, "scan b", &again, NULL), 0);
	CU_ASSERT_STRING_EQUAL(again, out);
	CU_ASSERT(strstr(out, "{\"pk\":6,\"f\":-0.0,\"d\":-0.0}") != NULL);
	CU_ASSERT(strstr(out, "{\"pk\":9,\"f\":0.1,\"d\":0.1}") != NULL);
	free(again);
	free(out);
	/* beyond what rounds to FLT_MAX is still refused */
	expect_cli(wh, "{\"pk\":1,\"f\":3.5e+38}\n", "write a", 1,
		   "out of range for FLOAT", false);
}

static void test_time_travel(void)
{
	int64_t base;
	const char *wh = fixture(&base);
	char *out, args[256], ts[64];
	/* by version */
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-version 2", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 3);
	CU_ASSERT(strstr(out, "\"three\"") != NULL);
	free(out);
	expect_cli(wh, NULL, "scan t --as-of-version 4", 1, "version 4 of t does not exist (latest: 3)",
		   false);
	/* by absolute time (UTC, seconds) */
	fmt_time(base + 15000ll * 1000000, ts, sizeof(ts));
	snprintf(args, sizeof(args), "scan t --as-of-time '%s'", ts);
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 3); /* version 2 */
	CU_ASSERT(strstr(out, "\"one\"") != NULL);
	free(out);
	fmt_time(base + 5000ll * 1000000, ts, sizeof(ts));
	snprintf(args, sizeof(args), "scan t --as-of-time '%s'", ts);
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, ""); /* version 1: created, empty */
	free(out);
	fmt_time(base - 1000000, ts, sizeof(ts));
	snprintf(args, sizeof(args), "scan t --as-of-time '%s'", ts);
	expect_cli(wh, NULL, args, 1, "did not exist yet at that time", false);
	/* with microseconds and the ISO 'T' */
	fmt_time(base + 10000ll * 1000000, ts, sizeof(ts));
	ts[10] = 'T';
	snprintf(args, sizeof(args), "scan t --as-of-time '%s.000000Z'", ts);
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 3); /* exactly at version 2's commit */
	free(out);
	/* relative: -SECONDS before now */
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-time -85000", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 3); /* version 2 */
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-time -1", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 2); /* latest */
	free(out);
	expect_cli(wh, NULL, "scan t --as-of-time -200000", 1, "did not exist yet", false);
	expect_cli(wh, NULL, "scan t --as-of-time -", 2, "--as-of-time", false);
	expect_cli(wh, NULL, "scan t --as-of-time '2025-02-29 00:00:00'", 2, "--as-of-time", false);
	expect_cli(wh, NULL, "scan t --as-of-time -1x", 2, "--as-of-time", false);
	/* not plain decimal seconds, or absurdly far back: a usage error, never
	 * an overflow (UBSan aborted on these) */
	const char *bad_ago[] = {"-inf", "-nan", "-1e300", "-1e18", "-0x10", "-9223372036854775807",
				 "--5", "- 5"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(bad_ago); i++) {
		snprintf(args, sizeof(args), "scan t --as-of-time '%s'", bad_ago[i]);
		expect_cli(wh, NULL, args, 2, "--as-of-time wants", false);
	}
	CU_ASSERT_EQUAL(cli(wh, "scan t --as-of-time -85000.5", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 3);
	free(out);
	/* versions are plain digits */
	expect_cli(wh, NULL, "scan t --as-of-version ' -5'", 2, "--as-of-version", false);
	expect_cli(wh, NULL, "scan t --as-of-version +2", 2, "--as-of-version", false);
	expect_cli(wh, NULL, "scan t --as-of-version 99999999999999999999999", 2, "--as-of-version",
		   false);
	/* get at a time */
	CU_ASSERT_EQUAL(cli(wh, "get t --key '{\"pk\":3}' --as-of-time -85000", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"pk\":3,\"val\":\"three\",\"d\":null}\n");
	free(out);
	/* tags */
	expect_cli(wh, NULL, "scan t --as-of-tag nope", 1, "no tag \"nope\"", false);
}

static void test_get_changes_log(void)
{
	int64_t base;
	const char *wh = fixture(&base);
	char *out, *err;
	CU_ASSERT_EQUAL(cli(wh, "get t --key '{\"pk\":1}'", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"pk\":1,\"val\":\"uno\",\"d\":-0.25}\n");
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "get t --key '{\"pk\":1}' --as-of-version 2", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"pk\":1,\"val\":\"one\",\"d\":1.5}\n");
	free(out);
	expect_cli(wh, NULL, "get t --key '{\"pk\":3}'", 1, "key not found", false);
	expect_cli(wh, NULL, "get t --key '{\"pk\":99}'", 1, "key not found", false);
	expect_cli(wh, NULL, "get t --key '{\"val\":\"x\"}'", 1, "not a primary key column", false);
	expect_cli(wh, NULL, "get t --key '{\"pk\":1,\"pk\":3}'", 2, "duplicate key \"pk\"", false);
	expect_cli(wh, NULL, "get nope --key '{\"pk\":1}'", 1, "unknown table", false);
	/* changes */
	CU_ASSERT_EQUAL(cli(wh, "changes t --between 2 3", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 2);
	CU_ASSERT(strstr(out, "{\"pk\":1,\"val\":\"uno\",\"d\":-0.25,\"_seq\":3,\"_op\":\"upsert\"}\n") !=
		  NULL);
	CU_ASSERT(strstr(out, "{\"pk\":3,\"val\":null,\"d\":null,\"_seq\":3,\"_op\":\"delete\"}\n") !=
		  NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes t --between 0 3", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 5);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes t --between 3 3", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes t --between 0 0", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "changes t --between 1 3 --format csv", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,val,d,_seq,_op\n", 18) == 0);
	free(out);
	expect_cli(wh, NULL, "changes t --between 3 1", 1, "bad range (3, 1]", false);
	expect_cli(wh, NULL, "changes t --between 1 9", 1, "bad range (1, 9]", false);
	expect_cli(wh, NULL, "changes t --between 1 2 --partition 'pt=a'", 1, "not partitioned",
		   false);
	/* log */
	CU_ASSERT_EQUAL(cli(wh, "log t", &out, &err), 0);
	CU_ASSERT_EQUAL(count_lines(out), 4);
	CU_ASSERT(strstr(out, "version") && strstr(out, "time (UTC)"));
	CU_ASSERT(strstr(out, "create table") != NULL);
	CU_ASSERT(strstr(out, " ddl ") != NULL);
	CU_ASSERT(strstr(out, " write ") != NULL);
	char ts[64];
	fmt_time(base + 20000ll * 1000000, ts, sizeof(ts));
	CU_ASSERT(strstr(out, ts) != NULL); /* version 3's commit time */
	free(out);
	free(err);
	CU_ASSERT_EQUAL(cli(wh, "log t --limit 1", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out), 2);
	CU_ASSERT(strstr(out, "\n3 ") != NULL);
	free(out);
	expect_cli(wh, NULL, "log nope", 1, "unknown table", false);
}

static void test_files_and_file(void)
{
	int64_t base;
	const char *wh = fixture(&base);
	char *out;
	CU_ASSERT_EQUAL(cli(wh, "files t", &out, NULL), 0);
	size_t live = count_lines(out) - 1;
	CU_ASSERT(live >= 2 && live <= 4); /* one file per touched bucket per write */
	CU_ASSERT(strstr(out, "avro") != NULL);
	free(out);
	/* a job removes one file: `files` hides it, `files --all` shows it */
	strata_wh *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh, false, &w, &e), 0);
	strata_mf_snap *snap;
	strata_table_def t;
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	strata_partition *ps;
	size_t n, np;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(w), &snap, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_table_get(snap, "t", &t, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_table_files(snap, t.id, a, &fs, &n, &e), 0);
	CU_ASSERT_EQUAL(strata_mf_partitions(snap, t.id, a, &ps, &np, &e), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_FATAL(n >= 2);
	char path[PATH_MAX];
	strata_file_path(strata_wh_mf(w), "t", ps[0].name, &fs[0], path, sizeof(path));
	strata_mf_job j = {.table_id = t.id, .part_id = fs[0].part_id, .bucket = fs[0].bucket,
			   .kind = STRATA_V_MERGE, .schema_version = 1, .inputs = &fs[0].id,
			   .ninputs = 1, .note = "test"};
	uint64_t v;
	CU_ASSERT_EQUAL(strata_mf_commit_job(strata_wh_mf(w), &j, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 4);
	strata_arena_free(a);
	strata_wh_close(w);
	CU_ASSERT_EQUAL(cli(wh, "files t", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out) - 1, live - 1);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "files t --all", &out, NULL), 0);
	CU_ASSERT_EQUAL(count_lines(out) - 1, live);
	CU_ASSERT(strstr(out, " 4 ") != NULL || strstr(out, " 4   ") != NULL);
	free(out);
	expect_cli(wh, NULL, "files nope", 1, "unknown table", false);
	/* file cat / file meta on the removed (still present) file */
	char args[PATH_MAX + 32];
	snprintf(args, sizeof(args), "file cat '%s'", path);
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	CU_ASSERT(count_lines(out) >= 1);
	CU_ASSERT(strstr(out, "\"_op\":\"upsert\"") != NULL);
	CU_ASSERT(strstr(out, "\"pk\":") != NULL);
	free(out);
	snprintf(args, sizeof(args), "file meta '%s'", path);
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	CU_ASSERT(strstr(out, "format: avro") != NULL);
	CU_ASSERT(strstr(out, "records: ") != NULL);
	free(out);
	/* file needs no warehouse */
	snprintf(args, sizeof(args), "file meta '%s'", path);
	expect_cli(NULL, NULL, args, 0, "format: avro", true);
	/* damaged and missing files: a clear error, exit 1 */
	const char *junk = write_file("junk.avro", "this is not a data file at all");
	snprintf(args, sizeof(args), "file cat '%s'", junk);
	expect_cli(NULL, NULL, args, 1, "neither an Avro nor a Parquet file", false);
	snprintf(args, sizeof(args), "file meta '%s'", junk);
	expect_cli(NULL, NULL, args, 1, "bad magic", false);
	const char *tiny = write_file("tiny.avro", "Ob");
	snprintf(args, sizeof(args), "file cat '%s'", tiny);
	expect_cli(NULL, NULL, args, 1, "too short", false);
	const char *magic = write_file("magic.avro", "Obj\x01garbage-after-the-magic");
	snprintf(args, sizeof(args), "file cat '%s'", magic);
	expect_cli(NULL, NULL, args, 1, "damaged Avro file", false);
	snprintf(args, sizeof(args), "file cat '%s/none.avro'", scratch);
	expect_cli(NULL, NULL, args, 1, "could not open", false);
	snprintf(args, sizeof(args), "file cat '%s'", scratch);
	expect_cli(NULL, NULL, args, 1, NULL, false);
}

/* ---- governance commands through the binary ---------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* stdout of `strata -W wh ARGS`, its lines sorted (scan order is by bucket) */
static char *sorted_out(const char *wh, const char *args)
{
	char *out;
	CU_ASSERT_EQUAL(cli(wh, args, &out, NULL), 0);
	size_t n = count_lines(out);
	char **lines = calloc(n + 1, sizeof(char *));
	size_t k = 0;
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[k++] = l;
	qsort(lines, k, sizeof(char *), cmp_str);
	strata_buf b = {0};
	for (size_t i = 0; i < k; i++)
		strata_buf_printf(&b, "%s\n", lines[i]);
	strata_buf_putc(&b, 0);
	free(lines);
	free(out);
	return (char *)b.data;
}

static void expect_same(const char *what, const char *want, const char *got)
{
	if (strcmp(want, got) != 0)
		fprintf(stderr, "\n%s changed:\nwant:\n%sgot:\n%s", what, want, got);
	CU_ASSERT_STRING_EQUAL(got, want);
}

/* sort, merge, compact, tag, tags, clean, purge and admin as a user runs
 * them: their reports, their refusals, and reads unchanged by every one. */
static void test_governance_commands(void)
{
	const char *wh = new_warehouse();
	expect_cli(wh, NULL,
		   "create-table g --columns 'pk BIGINT NOT NULL PRIMARY KEY, v STRING' "
		   "--property write.bucket.num=2",
		   0, "created table g", true);
	for (int c = 0; c < 3; c++) {
		char in[256];
		snprintf(in, sizeof(in), "{\"pk\":%d,\"v\":\"a%d\"}\n{\"pk\":%d,\"v\":\"b%d\"}\n"
			 "{\"pk\":7,\"v\":\"c%d\"}\n", c, c, c + 10, c, c);
		expect_cli(wh, in, "write g", 0, "committed version", true);
	}
	char *latest = sorted_out(wh, "scan g");
	char *at3 = sorted_out(wh, "scan g --as-of-version 3");
	CU_ASSERT_EQUAL(count_lines(latest), 7);

	/* refusals: a bucket the table does not have, no compaction kind */
	expect_cli(wh, NULL, "sort g --bucket 7", 1, "table \"g\" has no bucket 7", false);
	expect_cli(wh, NULL, "compact g", 2, "usage: strata compact", false);
	expect_cli(wh, NULL, "sort nope", 1, "unknown table", false);

	/* sort: one report line per bucket; then nothing is left to sort */
	char *out;
	CU_ASSERT_EQUAL(cli(wh, "sort g", &out, NULL), 0);
	CU_ASSERT(strstr(out, "sort p=_ b=0: read ") != NULL);
	CU_ASSERT(strstr(out, "sort p=_ b=1: read ") != NULL);
	CU_ASSERT(strstr(out, "wrote 1 file, ") != NULL);
	free(out);
	expect_cli(wh, NULL, "sort g", 0, "nothing to do", true);
	char *s = sorted_out(wh, "scan g");
	expect_same("scan after sort", latest, s);
	free(s);
	s = sorted_out(wh, "scan g --as-of-version 3");
	expect_same("scan at version 3 after sort", at3, s);
	free(s);

	/* major compaction keeps time travel inside retention */
	CU_ASSERT_EQUAL(cli(wh, "compact g --major --bucket 0", &out, NULL), 0);
	CU_ASSERT(strstr(out, "major compaction p=_ b=0: read ") != NULL);
	CU_ASSERT(strstr(out, "history floor of p=_ b=0 is now version") != NULL);
	CU_ASSERT(strstr(out, "b=1") == NULL);
	free(out);
	s = sorted_out(wh, "scan g --as-of-version 3");
	expect_same("scan at version 3 after a major compaction", at3, s);
	free(s);

	/* tags */
	expect_cli(wh, NULL, "tag g keep --version 3", 0, "tagged g version 3 as keep", true);
	expect_cli(wh, NULL, "tags g", 0, "keep\tversion 3", true);
	s = sorted_out(wh, "scan g --as-of-tag keep");
	expect_same("scan at tag keep", at3, s);
	free(s);
	expect_cli(wh, NULL, "tag g --delete keep", 0, NULL, true);
	expect_cli(wh, NULL, "scan g --as-of-tag keep", 1, "keep", false);

	/* clean: a dry run, a real one, and one with nothing left to delete
	 * (its report used to read "(0 bytes, moved to trash)0; unlinked") */
	expect_cli(wh, NULL, "clean g --dry-run", 0, "would delete ", true);
	CU_ASSERT_EQUAL(cli(wh, "clean g --grace-s 0 --trash-s 0", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "deleted ", 8) == 0);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "clean g --grace-s 0 --trash-s 0", &out, NULL), 0);
	if (!strstr(out, "deleted 0 files (0 bytes, moved to trash); unlinked 0 trash files"))
		fprintf(stderr, "\nclean with nothing to delete printed: %s", out);
	CU_ASSERT(strstr(out, "deleted 0 files (0 bytes, moved to trash); unlinked 0 trash files") !=
		  NULL);
	free(out);
	s = sorted_out(wh, "scan g --as-of-version 3");
	expect_same("scan at version 3 after clean", at3, s);
	free(s);

	/* purge ends time travel and says so; the latest rows stay */
	expect_cli(wh, NULL, "purge g", 0, "purged g: all history dropped", true);
	s = sorted_out(wh, "scan g");
	expect_same("scan after purge", latest, s);
	free(s);
	expect_cli(wh, NULL, "scan g --as-of-version 3", 1, "outside the retention window of g", false);

	/* admin without a daemon: a clear error */
	char args[PATH_MAX + 64];
	snprintf(args, sizeof(args), "admin --socket '%s/none.sock' status", scratch);
	expect_cli(NULL, NULL, args, 1, "could not connect to stratad", false);
	/* a job id is a whole number from 1, refused before connecting (issue 11:
	 * "cancel -1" was reported as job 18446744073709551615) */
	static const char *const bad_ids[] = {"-1", "0", "abc", "18446744073709551616", " 3"};
	for (size_t k = 0; k < STRATA_ARRAY_LEN(bad_ids); k++) {
		snprintf(args, sizeof(args), "admin --socket '%s/none.sock' cancel '%s'", scratch,
			 bad_ids[k]);
		expect_cli(NULL, NULL, args, 2, "cancel wants a job id, a whole number from 1", false);
	}
	free(latest);
	free(at3);
}

static void test_describe_tables_alter(void)
{
	int64_t base;
	const char *wh = fixture(&base);
	char *out;
	expect_cli(wh, NULL,
		   "create-table orders --columns 'region STRING, id BIGINT, amount DOUBLE' "
		   "--primary-key 'region,id' --partitioned-by 'dt STRING' "
		   "--property write.bucket.num=3 --property acid.data.retain.hours=0",
		   0, "created table orders", true);
	/* tables: in name order with versions (a regression: this failed) */
	CU_ASSERT_EQUAL(cli(wh, "tables", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "orders\tversion 1\nt\tversion 3\n");
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "describe orders", &out, NULL), 0);
	CU_ASSERT(strstr(out, "table: orders\n") != NULL);
	CU_ASSERT(strstr(out, "primary key: region,id\n") != NULL);
	CU_ASSERT(strstr(out, "partitioned by: dt STRING\n") != NULL);
	CU_ASSERT(strstr(out, "write.bucket.num=3") != NULL);
	CU_ASSERT(strstr(out, "acid.data.retain.hours=0") != NULL);
	CU_ASSERT(strstr(out, "earliest_readable_version: 1") != NULL);
	CU_ASSERT(strstr(out, "NOT NULL PRIMARY KEY") != NULL);
	free(out);
	expect_cli(wh, NULL, "describe nope", 1, "unknown table \"nope\"", false);
	expect_cli(wh, NULL, "describe", 2, "expected one table NAME", false);
	/* alter: add, drop, set */
	expect_cli(wh, NULL, "alter-table t add-columns 'c INT, e STRING'", 0,
		   "altered table t at version 4", true);
	expect_cli(wh, "{\"pk\":9,\"c\":7,\"e\":\"new\"}\n", "write t", 0, "committed version 5", true);
	CU_ASSERT_EQUAL(cli(wh, "scan t --format csv", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,val,d,c,e\n", 13) == 0);
	CU_ASSERT(strstr(out, "9,,,7,new\n") != NULL);
	free(out);
	expect_cli(wh, NULL, "alter-table t drop-column val", 0, "altered table t at version 6", true);
	CU_ASSERT_EQUAL(cli(wh, "scan t --format csv", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,d,c,e\n", 9) == 0);
	free(out);
	/* the old schema at an old version */
	CU_ASSERT_EQUAL(cli(wh, "scan t --format csv --as-of-version 3", &out, NULL), 0);
	CU_ASSERT(strncmp(out, "pk,val,d\n", 9) == 0);
	CU_ASSERT(strstr(out, "uno") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "describe t", &out, NULL), 0);
	CU_ASSERT(strstr(out, "version: 6 (schema version 3)") != NULL);
	free(out);
	/* t is not partitioned and holds data: its bucket count is fixed */
	expect_cli(wh, NULL, "alter-table t set write.bucket.num=8 acid.data.retain.hours=48", 1,
		   "write.bucket.num of \"t\" cannot change", false);
	expect_cli(wh, NULL, "alter-table t set acid.data.retain.hours=48", 0, "altered table t",
		   true);
	expect_cli(wh, NULL, "alter-table orders set write.bucket.num=8", 0, "altered table orders",
		   true);
	CU_ASSERT_EQUAL(cli(wh, "describe t", &out, NULL), 0);
	CU_ASSERT(strstr(out, "write.bucket.num=2") != NULL);
	CU_ASSERT(strstr(out, "acid.data.retain.hours=48") != NULL);
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "describe orders", &out, NULL), 0);
	CU_ASSERT(strstr(out, "write.bucket.num=8") != NULL);
	free(out);
	/* partitioned writes and reads */
	expect_cli(wh,
		   "{\"region\":\"eu\",\"id\":1,\"amount\":9.5,\"dt\":\"2026-01-01\"}\n"
		   "{\"region\":\"us\",\"id\":1,\"amount\":1,\"dt\":\"2026-01-02\"}\n",
		   "write orders", 0, "committed version 2 (2 rows)", true);
	CU_ASSERT_EQUAL(cli(wh, "scan orders --partition dt=2026-01-01", &out, NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"region\":\"eu\",\"id\":1,\"amount\":9.5,\"dt\":\"2026-01-01\"}\n");
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "get orders --key '{\"region\":\"us\",\"id\":1,\"dt\":\"2026-01-02\"}'",
			    &out, NULL),
			0);
	CU_ASSERT_STRING_EQUAL(out, "{\"region\":\"us\",\"id\":1,\"amount\":1.0,\"dt\":\"2026-01-02\"}\n");
	free(out);
	expect_cli(wh, NULL, "get orders --key '{\"region\":\"us\",\"id\":1}'", 1,
		   "partition column \"dt\"", false);
	expect_cli(wh, NULL, "scan orders --partition nope=1", 1, "must be col=value", false);
	expect_cli(wh, NULL, "scan orders --partition dt", 1, "must be col=value", false);
}

static void register_cli(void)
{
	CU_pSuite s = CU_add_suite("cli", NULL, NULL);
	TU_ADD(s, test_exit_codes);
	TU_ADD(s, test_help);
	TU_ADD(s, test_no_warehouse);
	TU_ADD(s, test_bad_write_input);
	TU_ADD(s, test_bad_ddl_input);
	TU_ADD(s, test_scan_formats);
	TU_ADD(s, test_scan_escapes);
	TU_ADD(s, test_float_extremes);
	TU_ADD(s, test_time_travel);
	TU_ADD(s, test_get_changes_log);
	TU_ADD(s, test_files_and_file);
	TU_ADD(s, test_describe_tables_alter);
	TU_ADD(s, test_governance_commands);
}

TU_MAIN(register_cli)
