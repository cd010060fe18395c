/*
 * cli/list.c — `strata --list-commands`: the command table and the options
 * each command's parser accepts, as JSON, for generating strata(1) (see
 * man/mangen.c) and for tests that hold the man page to the code.
 *
 * Design: the options live in each command's own struct option array, next
 * to the code that handles them; keeping a second list would drift.  So the
 * lister runs each command's parser itself: every getopt_long() call in
 * cli/ goes through cli_getopt_long() (a macro in cli.h), which parses
 * normally, but in listing mode writes the option array it was given to a
 * pipe and exits.  Each command runs in a forked child, with no warehouse,
 * stdin, stdout and stderr on /dev/null and an alarm, so a command that
 * parses no options (or fails before it does) reports nothing and does
 * nothing.
 *
 * Invariants:
 *   1. in listing mode no command runs past its option parsing: the child
 *      exits inside cli_getopt_long(), and has no warehouse to touch if the
 *      command never calls it;
 *   2. the output names every command of cli_commands[], in table order,
 *      each with its JSON shape ("json", from cli/out.c's table; null if it
 *      has none, which tests/test_json.c refuses) and, for admin, the shape
 *      of each admin command's reply ("admin_json").
 *
 * Main thread of `strata` only.
 */
#define CLI_LIST_IMPL
#include "cli/cli.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_CHILD_TIMEOUT_S 10

static int list_fd = -1; /* >= 0: listing mode, the pipe to the parent */

int cli_getopt_long(int argc, char *const argv[], const char *shortopts,
		    const struct option *longopts, int *longind)
{
	if (list_fd < 0)
		return getopt_long(argc, argv, shortopts, longopts, longind);
	/* invariant 1: report the options and stop here */
	json_t *arr = json_array();
	for (const struct option *o = longopts; o && o->name; o++) {
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(o->name));
		json_object_set_new(j, "has_arg",
				    json_string(o->has_arg == required_argument ? "required" :
						o->has_arg == optional_argument ? "optional" :
										  "none"));
		if (!o->flag && o->val > 0 && o->val < 128 && strchr(shortopts, o->val)) {
			char s[2] = {(char)o->val, 0};
			json_object_set_new(j, "short", json_string(s));
		}
		json_array_append_new(arr, j);
	}
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text) {
		size_t n = strlen(text), off = 0;
		while (off < n) {
			ssize_t w = write(list_fd, text + off, n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	_exit(0);
}

/* Run cmd's parser in a child and return the options it reported (a new
 * JSON array, empty if it parsed none). */
static json_t *command_options(const cli_cmd *cmd)
{
	int p[2];
	if (pipe(p) != 0)
		return json_array();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		alarm(LIST_CHILD_TIMEOUT_S);
		unsetenv("STRATA_WAREHOUSE");
		list_fd = p[1];
		cli_ctx ctx = {.warehouse = NULL, .prog = "strata"}; /* invariant 1 */
		char *argv[] = {(char *)cmd->name, NULL};
		optind = 0;
		cmd->run(&ctx, 1, argv);
		_exit(0);
	}
	close(p[1]);
	strata_buf b = {0};
	char chunk[4096];
	ssize_t n;
	while (pid > 0 && (n = read(p[0], chunk, sizeof(chunk))) > 0)
		strata_buf_append(&b, chunk, (size_t)n);
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	json_t *arr = b.len ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
	strata_buf_free(&b);
	return json_is_array(arr) ? arr : (json_decref(arr), json_array());
}

int cli_list_commands(FILE *out)
{
	json_t *all = json_array();
	for (const cli_cmd *c = cli_commands; c->name; c++) { /* invariant 2 */
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "usage", json_string(c->usage));
		json_object_set_new(o, "help", json_string(c->help));
		json_object_set_new(o, "options", command_options(c));
		/* its JSON shape (cli/out.c), null when it has none: a test fails */
		const cli_json_shape *sh = cli_json_shape_find(c->name);
		json_object_set_new(o, "json", sh ? json_string(sh->shape) : json_null());
		json_object_set_new(o, "json_rows", json_boolean(sh && sh->is_rows));
		if (strcmp(c->name, "admin") == 0) {
			json_t *adm = json_object();
			for (const cli_json_shape *a = cli_admin_shapes; a->name; a++)
				json_object_set_new(adm, a->name,
						    json_pack("{s:s,s:b}", "json", a->shape, "json_rows",
							      a->is_rows));
			json_object_set_new(o, "admin_json", adm);
		}
		json_array_append_new(all, o);
	}
	int rc = json_dumpf(all, out, JSON_INDENT(1)) == 0 ? CLI_OK : CLI_ERROR;
	fputc('\n', out);
	json_decref(all);
	return rc;
}
