/*
 * tests/test_man.c — the man pages strata(1), stratad(8) and stratad.ini(5)
 * as built into $STRATA_BUILD/man/ (`make man`, part of `make`).
 *
 *   - each renders with `groff -man -Tutf8 -ww` without a single warning;
 *   - every command of the CLI's table and every long option its parsers
 *     accept (asked of the built `strata --list-commands`, which reads the
 *     getopt_long arrays themselves) appears in strata(1), the options
 *     inside their command's section; an option a parser accepts that the
 *     command's usage does not show must be refused by the command (exit
 *     2: sort and merge share compact's parser), and each section shows the
 *     command's JSON output (--format, but `file cat` has JSON only, and
 *     the shape);
 *   - every admin command of daemon/admin.c's table (its usage line) and
 *     every option stratad's main() compares argv against appears in
 *     stratad(8);
 *   - every key of daemon/config.c's table appears in stratad.ini(5), in
 *     the section of its scope, with the range/default sentence the sample
 *     config prints;
 *   - `strata --list-commands` runs no command: with $STRATA_WAREHOUSE
 *     naming a directory that does not exist, it still does not afterwards
 *     (init would have made it).
 *
 * The pages are rendered as plain text (-Tascii, a 1000-column line, no
 * hyphenation) before searching, so the checks see what a reader sees.
 * Runs from the repository root (daemon/main.c is read for its options).
 */
#include "tests/util/testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon/daemon.h"

static const char *build_dir(void)
{
	const char *b = getenv("STRATA_BUILD");
	return b && *b ? b : "build";
}

/* The page rendered as plain text (malloc'd), or NULL. */
static char *render(const char *page)
{
	char cmd[4096], *out = NULL;
	snprintf(cmd, sizeof(cmd),
		 "groff -man -Tascii -P-c -P-b -P-u -rLL=1000n %s/man/%s 2>/dev/null", build_dir(),
		 page);
	if (tu_run(cmd, &out) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void test_render_clean(void)
{
	const char *pages[] = {"strata.1", "stratad.8", "stratad.ini.5"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(pages); i++) {
		char cmd[4096], *out = NULL;
		/* stderr only: every warning (-ww) and error */
		snprintf(cmd, sizeof(cmd), "groff -man -Tutf8 -ww %s/man/%s 2>&1 >/dev/null",
			 build_dir(), pages[i]);
		int rc = tu_run(cmd, &out);
		if (rc != 0 || (out && *out))
			fprintf(stderr, "\n%s: exit %d\n%s", pages[i], rc, out ? out : "");
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_STRING_EQUAL(out ? out : "?", "");
		free(out);
		/* and man(1) itself reads it (-l: a local file) */
		snprintf(cmd, sizeof(cmd), "MANWIDTH=80 man -l %s/man/%s 2>&1 | grep -c .",
			 build_dir(), pages[i]);
		CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
		CU_ASSERT(out && atoi(out) > 50);
		free(out);
	}
}

/* The section of text from the line "   name" (a .SS heading) to the next
 * heading at that indent or a top-level one; NULL if absent. */
static char *subsection(const char *text, const char *name)
{
	char head[256];
	snprintf(head, sizeof(head), "\n   %s\n", name);
	const char *p = strstr(text, head);
	if (!p)
		return NULL;
	p += strlen(head);
	const char *end = p;
	while ((end = strchr(end, '\n')) != NULL) {
		end++;
		if ((end[0] != ' ' && end[0] != '\n' && end[0] != '\0') ||
		    (end[0] == ' ' && end[1] == ' ' && end[2] == ' ' && end[3] != ' '))
			break;
	}
	size_t n = end ? (size_t)(end - p) : strlen(p);
	return strndup(p, n);
}

/* Whether usage names --opt (not as the prefix of a longer option). */
static bool usage_mentions(const char *usage, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = usage; (p = strstr(p, "--")) != NULL; p += 2)
		if (strncmp(p + 2, opt, n) == 0 && p[2 + n] != '-' && !(p[2 + n] >= 'a' && p[2 + n] <= 'z'))
			return true;
	return false;
}

/* An option a command's parser accepts but its usage does not show must be
 * one the command refuses (sort and merge share compact's parser): run it
 * and expect the usage exit code, 2.  An option added to a parser and
 * forgotten in the usage fails here. */
static void check_refused(const char *name, const char *opt, const char *has_arg)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s -W /nonexistent/strata-test-wh %s t --%s%s >/dev/null 2>&1",
		 tu_bin("strata"), name, opt, strcmp(has_arg, "none") == 0 ? "" : " 1");
	int rc = tu_run(cmd, NULL);
	if (rc != 2)
		fprintf(stderr, "\n`strata %s` parses --%s but its usage does not show it, and it "
				"does not refuse it (exit %d): add it to the usage in cli/main.c\n",
			name, opt, rc);
	CU_ASSERT_EQUAL(rc, 2);
}

static void test_cli_coverage(void)
{
	char *text = render("strata.1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char cmd[4096], *json = NULL;
	snprintf(cmd, sizeof(cmd), "%s --list-commands", tu_bin("strata"));
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, &json), 0);
	json_t *cmds = json_loads(json, 0, NULL);
	free(json);
	CU_ASSERT_FATAL(json_is_array(cmds));
	CU_ASSERT(json_array_size(cmds) >= 20);
	size_t i, nopts = 0;
	json_t *c;
	json_array_foreach(cmds, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		char *sec = subsection(text, name);
		if (!sec)
			fprintf(stderr, "\nstrata(1) has no section for the command \"%s\"\n", name);
		CU_ASSERT_PTR_NOT_NULL(sec);
		size_t j;
		json_t *o;
		const char *usage = json_string_value(json_object_get(c, "usage"));
		json_array_foreach(json_object_get(c, "options"), j, o) {
			const char *on = json_string_value(json_object_get(o, "name"));
			if (!usage_mentions(usage, on))
				check_refused(name, on, json_string_value(json_object_get(o, "has_arg")));
			char opt[128];
			snprintf(opt, sizeof(opt), "--%s", json_string_value(json_object_get(o, "name")));
			bool found = sec && strstr(sec, opt);
			if (!found)
				fprintf(stderr, "\nstrata(1): %s is not in the section of \"%s\"\n", opt,
					name);
			CU_ASSERT(found);
			nopts++;
		}
		/* its JSON output (cli/out.c's shapes, through the lister) */
		bool has_json = sec && strstr(sec, "JSON output") &&
				(strcmp(name, "file") == 0 || strstr(sec, "--format"));
		if (!has_json)
			fprintf(stderr, "\nstrata(1): the section of \"%s\" does not show its JSON "
					"output (--format and the shape)\n", name);
		CU_ASSERT(has_json);
		free(sec);
	}
	/* the lister really reads the parsers: known options of known commands */
	CU_ASSERT(nopts >= 30);
	json_t *w = NULL;
	json_array_foreach(cmds, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), "write") == 0)
			w = json_object_get(c, "options");
	const char *want[] = {"file", "token", "expect-version"};
	for (size_t k = 0; k < STRATA_ARRAY_LEN(want); k++) {
		bool found = false;
		json_t *o;
		json_array_foreach(w, i, o)
			found |= strcmp(json_string_value(json_object_get(o, "name")), want[k]) == 0;
		CU_ASSERT(found);
	}
	/* the global options, parsed in main() */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "--warehouse"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "-W PATH"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "--help"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "STRATA_WAREHOUSE"));
	json_decref(cmds);
	free(text);
}

static void test_list_runs_nothing(void)
{
	const char *dir = tu_tmpdir();
	char wh[4200], cmd[8192], *out = NULL;
	snprintf(wh, sizeof(wh), "%s/not-there", dir);
	snprintf(cmd, sizeof(cmd), "STRATA_WAREHOUSE=%s %s --list-commands", wh, tu_bin("strata"));
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "\"init\"") ? out : NULL);
	free(out);
	struct stat st;
	CU_ASSERT_NOT_EQUAL(stat(wh, &st), 0);
	CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 0);
}

static void test_stratad_coverage(void)
{
	char *text = render("stratad.8");
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	const char *adm = strstr(text, "\nADMIN COMMANDS\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(adm);
	const char *name, *usage, *help, *access;
	size_t n = 0;
	for (size_t i = 0; stratad_admin_command_info(i, &name, &usage, &help, &access); i++) {
		char want[512];
		snprintf(want, sizeof(want), "\n       %s", usage);
		bool found = strstr(adm, want) != NULL;
		if (!found)
			fprintf(stderr, "\nstratad(8) lacks the admin command \"%s\"\n", usage);
		CU_ASSERT(found);
		n++;
	}
	CU_ASSERT(n >= 15);
	/* every option string main() compares argv with */
	char *src = tu_read_file("daemon/main.c", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	size_t nopt = 0;
	for (const char *p = src; (p = strstr(p, "strcmp(a, \"-")) != NULL;) {
		p += strlen("strcmp(a, \"");
		const char *q = strchr(p, '"');
		char opt[64];
		snprintf(opt, sizeof(opt), "%.*s", (int)(q - p), p);
		bool found = strstr(text, opt) != NULL;
		if (!found)
			fprintf(stderr, "\nstratad(8) lacks the option \"%s\"\n", opt);
		CU_ASSERT(found);
		nopt++;
	}
	CU_ASSERT(nopt >= 6);
	free(src);
	free(text);
}

static void test_ini_coverage(void)
{
	char *text = render("stratad.ini.5");
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	const char *heads[] = {"\nTHE [daemon] SECTION\n", "\nTHE [policy] SECTION\n",
			       "\nTHE [table.NAME] SECTIONS\n"};
	stratad_cfg_scope scopes[] = {STRATAD_SCOPE_DAEMON, STRATAD_SCOPE_POLICY,
				      STRATAD_SCOPE_TABLE};
	for (size_t s = 0; s < 3; s++) {
		const char *from = strstr(text, heads[s]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(from);
		const char *to = s + 1 < 3 ? strstr(text, heads[s + 1]) : strstr(from, "\nEXAMPLE\n");
		CU_ASSERT_PTR_NOT_NULL_FATAL(to);
		char *sec = strndup(from, (size_t)(to - from));
		for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
			const stratad_cfg_key *k = &stratad_cfg_keys[i];
			if (k->scope != scopes[s])
				continue;
			char a[200], b[200], doc[600];
			snprintf(a, sizeof(a), "\n       %s ", k->key);
			snprintf(b, sizeof(b), "\n       %s\n", k->key);
			bool found = strstr(sec, a) || strstr(sec, b);
			if (!found)
				fprintf(stderr, "\nstratad.ini(5) lacks %s in %s", k->key, heads[s] + 1);
			CU_ASSERT(found);
			stratad_config_key_doc(k, doc, sizeof(doc));
			CU_ASSERT_PTR_NOT_NULL(strstr(sec, doc));
		}
		free(sec);
	}
	free(text);
}

static void register_man(void)
{
	CU_pSuite s = CU_add_suite("man", NULL, NULL);
	CU_add_test(s, "render_clean", test_render_clean);
	CU_add_test(s, "cli_coverage", test_cli_coverage);
	CU_add_test(s, "list_runs_nothing", test_list_runs_nothing);
	CU_add_test(s, "stratad_coverage", test_stratad_coverage);
	CU_add_test(s, "ini_coverage", test_ini_coverage);
}

TU_MAIN(register_man)
