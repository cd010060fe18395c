/*
 * tests/test_json.c — the machine-readable output of `strata` (cli/out.c):
 * every command's --format json (and jsonl for listings) held to the shape
 * documented for it, and the progress line of the long commands.
 *
 *   - the commands come from the table `strata` dispatches with (through
 *     `strata --list-commands`): each must carry a JSON shape, each shape
 *     must be in docs/CLI.md verbatim, and each command must be run below
 *     (the table `runs` here): a new command without a shape, without
 *     documentation or without a run here fails;
 *   - each run's stdout is parsed with the project's JSON parser
 *     (strata_json_parse, which also refuses a key given twice) and held to
 *     its shape (cli_json_check): every documented field present with its
 *     type, no undocumented field; listings are run as json (one array) and
 *     as jsonl (one object a line) and must agree;
 *   - the admin commands against a real stratad: every command of
 *     daemon/admin.c's table has a documented reply shape and its
 *     `strata admin --format json` reply holds to it (watch as jsonl events);
 *   - errors under --format json: the exit status as documented, the
 *     message on stderr, nothing on stdout; but a failed bucket job of
 *     sort and check's findings are data, in their documents;
 *   - the progress line: sort, clean, purge and a large write in a
 *     pseudo-terminal (forkpty) draw "\r...\033[K" lines on stderr and
 *     erase them at the end; with stderr a file they write nothing there.
 *
 * Runs the built binaries (tu_bin); the daemon listens on a Unix socket in
 * the scratch directory only and is stopped by PID (and SIGKILLed at exit by
 * tu_daemon if a test fails first).
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "format/format.h"

static char scratch[PATH_MAX], whp[PATH_MAX];
static json_t *cmds; /* `strata --list-commands` */
static json_t *covered; /* name -> true: commands whose JSON was checked */

/* ---- running strata ------------------------------------------------------------------- */

/* Run `strata -W whp ARGS` (STRATA_WAREHOUSE unset, stdin /dev/null);
 * stdout and stderr into *out and *err (malloc'd, never NULL).  Returns
 * the exit status. */
static int run(const char *args, char **out, char **err)
{
	char errpath[PATH_MAX + 16];
	snprintf(errpath, sizeof(errpath), "%s/stderr", scratch);
	strata_buf cmd = {0};
	strata_buf_printf(&cmd, "env -u STRATA_WAREHOUSE '%s' -W '%s' %s </dev/null 2>'%s'",
			  tu_bin("strata"), whp, args, errpath);
	strata_buf_putc(&cmd, 0);
	char *o = NULL;
	int rc = tu_run((char *)cmd.data, &o);
	strata_buf_free(&cmd);
	char *e = tu_read_file(errpath, NULL);
	*out = o ? o : strdup("");
	*err = e ? e : strdup("");
	return rc;
}

static json_t *command_entry(const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(cmds, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	return NULL;
}

/* Hold one JSON text to shape; false (said on stderr) if it differs. */
static bool holds(const char *what, const char *text, size_t len, const json_t *shape,
		  json_t **parsed)
{
	strata_err err;
	strata_err_clear(&err);
	json_t *v = NULL;
	if (strata_json_parse(text, len, &v, &err) != 0) {
		fprintf(stderr, "\n%s: not JSON (%s): %.*s\n", what, err.msg, (int)(len > 300 ? 300 : len),
			text);
		return false;
	}
	char why[512];
	bool ok = cli_json_check(v, shape, why, sizeof(why)) == 0;
	if (!ok)
		fprintf(stderr, "\n%s: not its documented shape: %s\n", what, why);
	if (parsed)
		*parsed = v;
	else
		json_decref(v);
	return ok;
}

/* Hold the output of `args` (which must not carry --format) as JSON (and,
 * for a listing, as jsonl too) to the documented shape of `name`; the
 * parsed JSON document into *doc when doc is not NULL. */
static void check_command(const char *name, const char *args, json_t **doc)
{
	json_t *c = command_entry(name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	const char *shape_text = json_string_value(json_object_get(c, "json"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(shape_text);
	bool is_rows = json_is_true(json_object_get(c, "json_rows"));
	json_t *shape = json_loads(shape_text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(shape);
	char a[4096], *out, *err;
	/* `file cat` prints JSON lines always and takes no --format */
	bool is_file = strcmp(name, "file") == 0;
	snprintf(a, sizeof(a), "%s%s", args, is_file ? "" : " --format json");
	int rc = run(a, &out, &err);
	if (rc != 0)
		fprintf(stderr, "\n`strata %s` exit %d: %s\n", a, rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	size_t nrows_json = 0;
	if (!is_rows) {
		CU_ASSERT(holds(a, out, strlen(out), shape, doc));
	} else if (!is_file) {
		json_t *arr_shape = json_array();
		json_array_append(arr_shape, shape);
		json_t *v = NULL;
		CU_ASSERT(holds(a, out, strlen(out), arr_shape, &v));
		CU_ASSERT(json_is_array(v));
		nrows_json = json_array_size(v);
		if (nrows_json == 0)
			fprintf(stderr, "\n`strata %s` listed nothing: nothing was checked\n", a);
		CU_ASSERT(nrows_json > 0);
		if (doc)
			*doc = v;
		else
			json_decref(v);
		json_decref(arr_shape);
	}
	free(out);
	free(err);
	if (is_rows) {
		snprintf(a, sizeof(a), "%s%s", args, is_file ? "" : " --format jsonl");
		rc = run(a, &out, &err);
		CU_ASSERT_EQUAL(rc, 0);
		size_t n = 0;
		for (char *line = out, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			CU_ASSERT_PTR_NOT_NULL_FATAL(nl); /* every line ends */
			CU_ASSERT(holds(a, line, (size_t)(nl - line), shape, NULL));
			n++;
		}
		CU_ASSERT(n > 0);
		if (!is_file)
			CU_ASSERT_EQUAL(n, nrows_json);
		free(out);
		free(err);
	}
	json_decref(shape);
	json_object_set_new(covered, name, json_true());
}

/* ---- the shapes: present for every command, documented --------------------------------- */

static void test_every_command_has_a_documented_shape(void)
{
	char *doc = tu_read_file("docs/CLI.md", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(json_array_size(cmds) >= 20);
	size_t i;
	json_t *c;
	json_array_foreach(cmds, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *shape = json_string_value(json_object_get(c, "json"));
		if (!shape)
			fprintf(stderr, "\nthe command \"%s\" has no JSON shape: add one to "
					"cli_json_shapes[] (cli/out.c) and docs/CLI.md\n", name);
		CU_ASSERT_PTR_NOT_NULL(shape);
		if (!shape)
			continue;
		json_t *parsed = json_loads(shape, 0, NULL);
		CU_ASSERT_PTR_NOT_NULL(parsed);
		json_decref(parsed);
		bool documented = strstr(doc, shape) != NULL;
		if (!documented)
			fprintf(stderr, "\ndocs/CLI.md (\"JSON output\") lacks the shape of %s: %s\n", name,
				shape);
		CU_ASSERT(documented);
	}
	/* every admin command of stratad's table has one, documented too */
	json_t *adm = json_object_get(command_entry("admin"), "admin_json");
	CU_ASSERT_FATAL(json_is_object(adm));
	const char *name, *usage, *help, *access;
	size_t n = 0;
	for (size_t k = 0; stratad_admin_command_info(k, &name, &usage, &help, &access); k++) {
		json_t *e = json_object_get(adm, name);
		const char *shape = json_string_value(json_object_get(e, "json"));
		if (!shape)
			fprintf(stderr, "\nthe admin command \"%s\" has no reply shape: add one to "
					"cli_admin_shapes[] (cli/cmd_admin.c) and docs/CLI.md\n", name);
		CU_ASSERT_PTR_NOT_NULL(shape);
		if (shape && !strstr(doc, shape)) {
			fprintf(stderr, "\ndocs/CLI.md lacks the shape of admin %s: %s\n", name, shape);
			CU_FAIL("admin shape not documented");
		}
		n++;
	}
	CU_ASSERT(n >= 15);
	free(doc);
}

/* ---- every command's output ----------------------------------------------------------------- */

static void write_rows(const char *lines)
{
	char in[PATH_MAX + 16], a[PATH_MAX + 64];
	snprintf(in, sizeof(in), "%s/in.jsonl", scratch);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(in, lines, strlen(lines)), 0);
	snprintf(a, sizeof(a), "write t --file '%s'", in);
	check_command("write", a, NULL);
}

static void test_every_command_holds_its_shape(void)
{
	json_t *d = NULL;
	check_command("init", "init", NULL);
	check_command("create-table",
		      "create-table t --columns 'pk BIGINT NOT NULL PRIMARY KEY, v STRING, d DOUBLE' "
		      "--partitioned-by 'pt STRING' --property write.bucket.num=2 "
		      "--property write.inline.max-bytes=0", /* `file cat` reads a file */
		      NULL);
	write_rows("{\"pk\":1,\"v\":\"a\",\"d\":1.5,\"pt\":\"x\"}\n{\"pk\":2,\"v\":null,\"d\":2,"
		   "\"pt\":\"x\"}\n{\"pk\":3,\"v\":\"c\",\"d\":3,\"pt\":\"y\"}\n");
	check_command("sort", "sort t", &d);
	CU_ASSERT(json_array_size(json_object_get(d, "jobs")) >= 2);
	json_decref(d);
	write_rows("{\"pk\":1,\"v\":\"a2\",\"d\":1,\"pt\":\"x\"}\n{\"_op\":\"delete\",\"pk\":3,"
		   "\"pt\":\"y\"}\n{\"pk\":4,\"v\":\"d\",\"d\":4,\"pt\":\"y\"}\n");
	check_command("alter-table", "alter-table t add-columns 'c2 STRING'", &d);
	CU_ASSERT(json_integer_value(json_object_get(d, "version")) > 0);
	json_decref(d);
	check_command("alter-table", "alter-table t set write.avro.codec=deflate", NULL);
	check_command("describe", "describe t", NULL);
	check_command("tables", "tables", NULL);
	check_command("scan", "scan t", NULL);
	check_command("get", "get t --key '{\"pk\":1,\"pt\":\"x\"}'", NULL);
	char *o, *e, between[64];
	CU_ASSERT_EQUAL(run("describe t --format json", &o, &e), 0);
	json_t *desc = json_loads(o, 0, NULL);
	snprintf(between, sizeof(between), "changes t --between 1 %lld",
		 (long long)json_integer_value(json_object_get(desc, "version")));
	json_decref(desc);
	free(o);
	free(e);
	check_command("changes", between, NULL);
	check_command("log", "log t", NULL);
	/* `file cat` of a row file the listing names */
	check_command("files", "files t --all", &d);
	json_t *f = json_array_get(d, json_array_size(d) - 1);
	char a[PATH_MAX * 3], *found = NULL;
	snprintf(a, sizeof(a), "find '%s/data/t' -name '%s' | head -1", whp,
		 json_string_value(json_object_get(f, "file")));
	json_decref(d);
	CU_ASSERT_EQUAL(tu_run(a, &found), 0);
	CU_ASSERT_FATAL(found && *found);
	found[strcspn(found, "\n")] = '\0';
	snprintf(a, sizeof(a), "file cat '%s'", found);
	free(found);
	check_command("file", a, NULL);
	/* the jobs: a second sort makes two columnar files a bucket to merge */
	check_command("sort", "sort t", NULL);
	check_command("merge", "merge t", &d);
	CU_ASSERT(json_array_size(json_object_get(d, "jobs")) >= 1);
	json_decref(d);
	check_command("tag", "tag t v1", NULL);
	check_command("tags", "tags t", NULL);
	check_command("compact", "compact t --major", NULL);
	check_command("delete", "delete t --where \"v = 'd' OR pk = 99\" --dry-run", &d);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "keys")), 1);
	json_decref(d);
	check_command("delete", "delete t --where \"v = 'd'\"", &d);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "keys")), 1);
	CU_ASSERT(json_is_false(json_object_get(d, "is_repeat")));
	json_decref(d);
	check_command("rollback", "rollback t --to-version 3", NULL);
	check_command("clean", "clean t --dry-run --grace-s 0", &d);
	CU_ASSERT(json_array_size(json_object_get(d, "decisions")) >= 1);
	json_decref(d);
	check_command("clean", "clean t --grace-s 0", NULL);
	check_command("undelete", "undelete t --all --dry-run", &d);
	CU_ASSERT(json_array_size(json_object_get(d, "clean_versions")) >= 1);
	CU_ASSERT(json_integer_value(json_object_get(d, "files_restored")) >= 1);
	json_decref(d);
	check_command("undelete", "undelete t --all", &d);
	CU_ASSERT(json_is_false(json_object_get(d, "dry_run")));
	json_decref(d);
	check_command("check", "check t", &d);
	CU_ASSERT(json_is_true(json_object_get(d, "ok")));
	json_decref(d);
	check_command("check", "check", NULL);
	check_command("purge", "purge t", &d);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(d, "dropped_tags"), 0)),
			       "v1");
	json_decref(d);
	check_command("tag", "tag t v2", NULL);
	check_command("tag", "tag t --delete v2", &d);
	CU_ASSERT(json_is_true(json_object_get(d, "deleted")));
	json_decref(d);
	check_command("help", "help", NULL);
	check_command("help", "help scan", NULL);
}

/* With --format json an error is still a message on stderr with the
 * documented exit status, and stdout stays empty. */
static void test_errors_under_json(void)
{
	static const struct {
		const char *args;
		int rc;
		const char *msg;
	} cases[] = {
		{"describe nosuch --format json", 1, "strata: "},
		{"scan nosuch --format jsonl", 1, "strata: "},
		{"get t --key '{\"pk\":999,\"pt\":\"x\"}' --format json", 1, "key not found"},
		{"tables --format yaml", 2, "--format is text, json or jsonl (got \"yaml\")"},
		{"describe t --format jsonl", 2, "--format is text or json"},
		{"write t --file IN --expect-version 1 --format json", 3, "strata: "},
		{"admin --socket /nonexistent/strata-test.sock --format json status", 1,
		 "could not connect"},
		{"admin --format json watch", 2, "use --format jsonl"},
	};
	char in[PATH_MAX + 16];
	snprintf(in, sizeof(in), "%s/in.jsonl", scratch); /* write_rows() left it */
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		char *out, *err, args[PATH_MAX * 2];
		const char *at = strstr(cases[i].args, "IN");
		if (at)
			snprintf(args, sizeof(args), "%.*s'%s'%s", (int)(at - cases[i].args), cases[i].args,
				 in, at + 2);
		else
			snprintf(args, sizeof(args), "%s", cases[i].args);
		int rc = run(args, &out, &err);
		if (rc != cases[i].rc || *out || !strstr(err, cases[i].msg))
			fprintf(stderr, "\n`strata %s`: exit %d (want %d), stdout \"%s\", stderr \"%s\"\n",
				cases[i].args, rc, cases[i].rc, out, err);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		CU_ASSERT_STRING_EQUAL(out, "");
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
		free(out);
		free(err);
	}
}

/* ---- the admin commands, against a real stratad -------------------------------------------- */

/* `strata admin --socket sock --format json ARGS`, held to the admin
 * command's shape; the parsed reply (caller decrefs). */
static json_t *admin_json(const char *sock, const char *cmd, const char *args)
{
	json_t *e = json_object_get(json_object_get(command_entry("admin"), "admin_json"), cmd);
	const char *shape_text = json_string_value(json_object_get(e, "json"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(shape_text);
	json_t *shape = json_loads(shape_text, 0, NULL);
	char a[1024], *out, *err;
	snprintf(a, sizeof(a), "admin --socket '%s' --format json %s", sock, args);
	int rc = run(a, &out, &err);
	if (rc)
		fprintf(stderr, "\n`strata %s`: exit %d: %s\n", a, rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	json_t *v = NULL;
	CU_ASSERT(holds(a, out, strlen(out), shape, &v));
	CU_ASSERT_PTR_NULL(json_object_get(v, "ok")); /* normalised: the exit status says it */
	free(out);
	free(err);
	json_decref(shape);
	json_object_set_new(covered, "admin", json_true());
	return v;
}

static void test_admin_commands_hold_their_shapes(void)
{
	char dir[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX], wh2[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	tud_paths(dir, wh2, cfg, log, sock);
	/* the table of the test above, purged: give it files again */
	write_rows("{\"pk\":7,\"v\":\"g\",\"d\":7,\"pt\":\"x\"}\n{\"pk\":8,\"v\":\"h\",\"d\":8,"
		   "\"pt\":\"y\"}\n");
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nlog_level = info\nworkers = 1\n"
		       "[policy]\nsort.min_files = 1000\nsort.max_delay_s = 86400\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	const char *name, *usage, *help, *access;
	json_t *covered_admin = json_object();
	/* the read commands */
	static const char *const reads[][2] = {
		{"help", "help"}, {"help", "help status"}, {"status", "status"}, {"tables", "tables"},
		{"jobs", "jobs"}, {"plan", "plan"},        {"plan", "plan t"},    {"policy", "policy t"},
		{"metrics", "metrics"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(reads); i++) {
		json_decref(admin_json(sock, reads[i][0], reads[i][1]));
		json_object_set_new(covered_admin, reads[i][0], json_true());
	}
	/* paused, the queued jobs stay queued: `jobs` lists them, cancel finds one */
	json_decref(admin_json(sock, "pause", "pause"));
	json_t *q = admin_json(sock, "sort", "sort t");
	CU_ASSERT(json_array_size(json_object_get(q, "queued")) >= 1);
	json_int_t id = json_integer_value(json_array_get(json_object_get(q, "queued"), 0));
	json_decref(q);
	json_t *j = admin_json(sock, "jobs", "jobs");
	CU_ASSERT(json_array_size(json_object_get(j, "queued")) >= 1);
	json_decref(j);
	json_decref(admin_json(sock, "merge", "merge t"));
	json_decref(admin_json(sock, "compact", "compact t --partial"));
	char a[64];
	snprintf(a, sizeof(a), "cancel %lld", (long long)id);
	json_decref(admin_json(sock, "cancel", a));
	json_decref(admin_json(sock, "resume", "resume"));
	json_decref(admin_json(sock, "pause", "pause t"));
	json_decref(admin_json(sock, "resume", "resume t"));
	json_decref(admin_json(sock, "clean", "clean t"));
	json_decref(admin_json(sock, "purge", "purge t"));
	json_decref(admin_json(sock, "reload", "reload"));
	const char *more[] = {"pause", "sort", "merge", "compact", "cancel", "resume", "clean",
			      "purge", "reload"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(more); i++)
		json_object_set_new(covered_admin, more[i], json_true());
	/* finished jobs in status and jobs, once they ran */
	double end = tud_now_s() + 60;
	json_t *st = NULL;
	while (tud_now_s() < end) {
		json_decref(st);
		st = admin_json(sock, "status", "status");
		if (json_array_size(json_object_get(st, "recent_jobs")) >= 2)
			break;
		tud_sleep_ms(100);
	}
	CU_ASSERT(json_array_size(json_object_get(st, "recent_jobs")) >= 2);
	json_decref(st);
	/* watch: its events as jsonl, each held to the event shape */
	json_t *we = json_object_get(json_object_get(command_entry("admin"), "admin_json"), "watch");
	CU_ASSERT(json_is_true(json_object_get(we, "json_rows")));
	json_t *wshape = json_loads(json_string_value(json_object_get(we, "json")), 0, NULL);
	char wout[PATH_MAX + 16];
	snprintf(wout, sizeof(wout), "%s/watch.out", dir);
	pid_t wpid = fork();
	if (wpid == 0) {
		int fd = open(wout, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		execl(tu_bin("strata"), "strata", "admin", "--socket", sock, "--format", "jsonl",
		      "watch", (char *)NULL);
		_exit(127);
	}
	CU_ASSERT_FATAL(wpid > 0);
	char *text = NULL;
	end = tud_now_s() + 60;
	while (tud_now_s() < end) {
		write_rows("{\"pk\":9,\"v\":\"i\",\"d\":9,\"pt\":\"x\"}\n");
		tud_sleep_ms(300);
		free(text);
		text = tu_read_file(wout, NULL);
		if (text && strstr(text, "\"event\":\"commit\""))
			break;
	}
	kill(wpid, SIGTERM);
	waitpid(wpid, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"event\":\"commit\""));
	CU_ASSERT_PTR_NULL(strstr(text, "\"watching\"")); /* the reply line is not an event */
	size_t nev = 0;
	for (char *line = text, *nl; *line && (nl = strchr(line, '\n')); line = nl + 1, nev++)
		CU_ASSERT(holds("admin watch event", line, (size_t)(nl - line), wshape, NULL));
	CU_ASSERT(nev >= 1);
	free(text);
	json_decref(wshape);
	json_object_set_new(covered_admin, "watch", json_true());
	/* shutdown last: its reply, then the daemon exits */
	json_decref(admin_json(sock, "shutdown", "shutdown"));
	json_object_set_new(covered_admin, "shutdown", json_true());
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 60), 0);
	for (size_t k = 0; stratad_admin_command_info(k, &name, &usage, &help, &access); k++) {
		if (!json_object_get(covered_admin, name))
			fprintf(stderr, "\nthe admin command \"%s\" is not run by %s: add it\n", name,
				__func__);
		CU_ASSERT_PTR_NOT_NULL(json_object_get(covered_admin, name));
	}
	json_decref(covered_admin);
}

static void test_every_command_was_checked(void)
{
	size_t i;
	json_t *c;
	json_array_foreach(cmds, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		if (!json_object_get(covered, name))
			fprintf(stderr, "\nthe command \"%s\" is not run by tests/test_json.c: add a run of "
					"it with its JSON output checked\n", name);
		CU_ASSERT_PTR_NOT_NULL(json_object_get(covered, name));
	}
}

/* ---- the progress line ----------------------------------------------------------------------- */

/* Run `strata -W whp ARGS` with stdin, stdout and stderr on a new
 * pseudo-terminal; everything it wrote (malloc'd), its exit status in *rc. */
static char *run_pty(const char *args, int *rc)
{
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "exec env -u STRATA_WAREHOUSE '%s' -W '%s' %s", tu_bin("strata"),
		 whp, args);
	int master = -1;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	CU_ASSERT_FATAL(pid > 0);
	strata_buf b = {0};
	char chunk[4096];
	for (;;) {
		ssize_t n = read(master, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* EIO once the child closed its side */
			break;
		strata_buf_append(&b, chunk, (size_t)n);
	}
	close(master);
	int st = 0;
	waitpid(pid, &st, 0);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	strata_buf_putc(&b, 0);
	return (char *)b.data;
}

static const char *last_of(const char *hay, const char *needle)
{
	const char *last = NULL;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		last = p;
	return last;
}

static void test_progress_on_a_terminal_only(void)
{
	write_rows("{\"pk\":11,\"v\":\"k\",\"d\":1,\"pt\":\"x\"}\n{\"pk\":12,\"v\":\"l\",\"d\":2,"
		   "\"pt\":\"y\"}\n");
	static const struct {
		const char *args, *line;
	} cases[] = {
		{"sort t", "sort t: bucket 1 of "},
		{"clean t --grace-s 0", "clean t: "},
		{"purge t", "purge t: dropping history"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		int rc;
		char *tty = run_pty(cases[i].args, &rc);
		CU_ASSERT_EQUAL(rc, 0);
		const char *drawn = last_of(tty, cases[i].line);
		const char *erased = last_of(tty, "\r\033[K");
		if (!drawn || !erased || erased < drawn)
			fprintf(stderr, "\n`strata %s` on a terminal wrote:\n%s\n", cases[i].args, tty);
		CU_ASSERT_PTR_NOT_NULL(drawn);
		CU_ASSERT_PTR_NOT_NULL(strstr(tty, "\033[K"));
		/* invariant 2 of cli/progress.c: erased after it was last drawn */
		CU_ASSERT(drawn && erased && erased > drawn);
		free(tty);
	}
	/* a large write: 60000 lines (cli/cmd_rw.c: more than 50000) */
	char big[PATH_MAX + 16], a[PATH_MAX + 64];
	snprintf(big, sizeof(big), "%s/big.jsonl", scratch);
	strata_buf b = {0};
	for (int i = 0; i < 60000; i++)
		strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"w\",\"d\":1,\"pt\":\"x\"}\n", 100 + i);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(big, b.data, b.len), 0);
	strata_buf_free(&b);
	snprintf(a, sizeof(a), "write t --file '%s'", big);
	int rc;
	char *tty = run_pty(a, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	const char *drawn = last_of(tty, "write t: ");
	const char *erased = last_of(tty, "\r\033[K");
	if (!drawn || !strstr(tty, "lines read") || !erased || erased < drawn)
		fprintf(stderr, "\n`strata %s` on a terminal wrote:\n%s\n", a, tty);
	CU_ASSERT_PTR_NOT_NULL(strstr(tty, "lines read"));
	CU_ASSERT(drawn && erased && erased > drawn);
	CU_ASSERT_PTR_NOT_NULL(strstr(tty, "committed version"));
	free(tty);
	const char *quiet[] = {"sort t", "clean t --grace-s 0", "purge t", a};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(quiet); i++) {
		char *out, *err;
		CU_ASSERT_EQUAL(run(quiet[i], &out, &err), 0);
		if (*err)
			fprintf(stderr, "\n`strata %s` with stderr a file wrote there: %s\n", quiet[i], err);
		CU_ASSERT_STRING_EQUAL(err, "");
		CU_ASSERT_PTR_NULL(strchr(out, '\r'));
		free(out);
		free(err);
	}
}


/* Results that are data come as documents even when they fail: a sort
 * whose bucket holds a damaged row file lists that job with "ok": false
 * (and says so on stderr, exit 1); check lists its findings with "ok":
 * false (exit 1).  Last: it leaves the table damaged. */
static void test_failures_that_are_data(void)
{
	write_rows("{\"pk\":21,\"v\":\"u\",\"d\":1,\"pt\":\"x\"}\n");
	char cmd[PATH_MAX * 2], *file = NULL;
	snprintf(cmd, sizeof(cmd), "find '%s/data/t' -name '*.avro' -not -path '*/.trash/*' | head -1",
		 whp);
	CU_ASSERT_EQUAL(tu_run(cmd, &file), 0);
	CU_ASSERT_FATAL(file && *file);
	file[strcspn(file, "\n")] = '\0';
	CU_ASSERT_EQUAL_FATAL(truncate(file, 40), 0); /* the header survives, the block not */
	json_t *shape = json_loads(json_string_value(json_object_get(command_entry("sort"), "json")),
				   0, NULL);
	char *out, *err;
	int rc = run("sort t --format json", &out, &err);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "strata: "));
	json_t *d = NULL;
	CU_ASSERT(holds("sort of a damaged bucket", out, strlen(out), shape, &d));
	size_t i, nfailed = 0;
	json_t *j;
	json_array_foreach(json_object_get(d, "jobs"), i, j)
		if (json_is_false(json_object_get(j, "ok")) &&
		    json_is_string(json_object_get(j, "error")))
			nfailed++;
	CU_ASSERT_EQUAL(nfailed, 1);
	json_decref(d);
	json_decref(shape);
	free(out);
	free(err);
	/* a file the manifest names is gone: check finds it */
	CU_ASSERT_EQUAL_FATAL(unlink(file), 0);
	free(file);
	shape = json_loads(json_string_value(json_object_get(command_entry("check"), "json")), 0, NULL);
	rc = run("check t --format json", &out, &err);
	CU_ASSERT_EQUAL(rc, 1);
	d = NULL;
	CU_ASSERT(holds("check of a damaged table", out, strlen(out), shape, &d));
	CU_ASSERT(json_is_false(json_object_get(d, "ok")));
	CU_ASSERT(json_array_size(json_object_get(d, "findings")) >= 1);
	CU_ASSERT_STRING_EQUAL(
		json_string_value(json_object_get(json_array_get(json_object_get(d, "findings"), 0),
						  "table")),
		"t");
	json_decref(d);
	json_decref(shape);
	free(out);
	free(err);
}

static int setup(void)
{
	snprintf(scratch, sizeof(scratch), "%s", tu_tmpdir());
	snprintf(whp, sizeof(whp), "%s/wh", scratch);
	char cmd[PATH_MAX], *out = NULL;
	snprintf(cmd, sizeof(cmd), "%s --list-commands", tu_bin("strata"));
	if (tu_run(cmd, &out) != 0)
		return 1;
	cmds = json_loads(out, 0, NULL);
	free(out);
	covered = json_object();
	return json_is_array(cmds) ? 0 : 1;
}

static int teardown(void)
{
	json_decref(cmds);
	json_decref(covered);
	return 0;
}

static void register_json(void)
{
	CU_pSuite s = CU_add_suite("json", setup, teardown);
	CU_add_test(s, "every_command_has_a_documented_shape",
		    test_every_command_has_a_documented_shape);
	CU_add_test(s, "every_command_holds_its_shape", test_every_command_holds_its_shape);
	CU_add_test(s, "errors_under_json", test_errors_under_json);
	CU_add_test(s, "admin_commands_hold_their_shapes", test_admin_commands_hold_their_shapes);
	CU_add_test(s, "every_command_was_checked", test_every_command_was_checked);
	CU_add_test(s, "progress_on_a_terminal_only", test_progress_on_a_terminal_only);
	CU_add_test(s, "failures_that_are_data", test_failures_that_are_data);
}

TU_MAIN(register_json)
