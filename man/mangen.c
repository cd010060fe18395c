/*
 * man/mangen.c — generate the reference parts of strata's man pages from
 * the tables the code runs on, and splice them into the hand-written prose.
 *
 *   mangen strata      man/strata.1.in JSON  > strata.1       (JSON: `strata --list-commands`)
 *   mangen stratad     man/stratad.8.in      > stratad.8      (the admin command table)
 *   mangen stratad.ini man/stratad.ini.5.in  > stratad.ini.5  (the config table)
 *
 * The template is roff (the `man` macros) and holds exactly one line
 * "@GENERATED@", replaced by the generated sections.  Sources of truth:
 * cli_commands[] and each command's getopt_long() option array and JSON
 * shape (through `strata --list-commands`, cli/list.c), stratad_admin_command_info()
 * (daemon/admin.c's table) and stratad_cfg_keys[] with the sample's
 * range/default sentence (daemon/config.c).  So a command, option, admin
 * command or config key added to the code appears in the man page at the
 * next build; tests/test_man.c checks that it does and that groff renders
 * the pages without a warning.
 *
 * Invariants:
 *   1. every text from a table goes through roff_text(), so no table text
 *      can start a request or contain a stray escape;
 *   2. a failure (unreadable template or JSON, no @GENERATED@ line) exits 1
 *      with a message naming the file, and prints no half page that make
 *      could keep (the Makefile writes to a .tmp and renames).
 *
 * A build tool: one thread, exits when done.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

/* Write s as roff text (invariant 1): backslashes as \e, hyphens as \-,
 * a leading '.' or '\'' guarded by \&, newlines as spaces unless
 * keep_lines. */
static void roff_text(FILE *out, const char *s, bool keep_lines)
{
	bool at_line_start = true;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == '\n' && !keep_lines)
			c = ' ';
		if (at_line_start && (c == '.' || c == '\''))
			fputs("\\&", out);
		unsigned char u = (unsigned char)c;
		if (u >= 0xc0) { /* UTF-8 as \[uXXXX]: groff reads bytes */
			int extra = u >= 0xf0 ? 3 : u >= 0xe0 ? 2 : 1;
			unsigned cp = u & (0x3f >> extra);
			for (int k = 0; k < extra && (p[1] & 0xc0) == 0x80; k++)
				cp = (cp << 6) | (unsigned)(*++p & 0x3f);
			fprintf(out, "\\[u%04X]", cp);
		} else if (u >= 0x80) {
			/* a stray continuation byte: drop it */
		} else if (c == '\\')
			fputs("\\e", out);
		else if (c == '-')
			fputs("\\-", out);
		else
			fputc(c, out);
		at_line_start = c == '\n';
	}
}

/* Print the template with gen() at its @GENERATED@ line (invariant 2). */
static int splice(const char *tmpl, void (*gen)(FILE *out, void *arg), void *arg)
{
	FILE *f = fopen(tmpl, "r");
	if (!f) {
		fprintf(stderr, "mangen: could not open \"%s\"\n", tmpl);
		return 1;
	}
	char line[4096];
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strcmp(line, "@GENERATED@\n") == 0) {
			gen(stdout, arg);
			found++;
		} else {
			fputs(line, stdout);
		}
	}
	fclose(f);
	if (found != 1) {
		fprintf(stderr, "mangen: \"%s\" must hold one @GENERATED@ line (found %d)\n", tmpl,
			found);
		return 1;
	}
	return 0;
}

/* ---- strata(1): the CLI's commands and what their parsers accept ------------------------ */

static bool usage_mentions(const char *usage, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = usage; (p = strstr(p, "--")) != NULL; p += 2)
		if (strncmp(p + 2, opt, n) == 0 && !(p[2 + n] == '-' || (p[2 + n] >= 'a' && p[2 + n] <= 'z')))
			return true;
	return false;
}

static void gen_strata(FILE *out, void *arg)
{
	json_t *cmds = arg;
	size_t i;
	json_t *c;
	json_array_foreach(cmds, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *usage = json_string_value(json_object_get(c, "usage"));
		const char *help = json_string_value(json_object_get(c, "help"));
		json_t *opts = json_object_get(c, "options");
		fprintf(out, ".SS ");
		roff_text(out, name, false);
		fprintf(out, "\n.nf\n\\fBstrata\\fR ");
		/* usage lines after the first are indented by 7 spaces already */
		roff_text(out, usage, true);
		fprintf(out, "\n.fi\n.PP\n");
		/* the first line of the help is its summary, the rest a paragraph */
		const char *nl = strchr(help, '\n');
		if (nl) {
			char *first = strndup(help, (size_t)(nl - help));
			roff_text(out, first, false);
			free(first);
			fprintf(out, "\n.PP\n");
			roff_text(out, nl + 1, false);
		} else {
			roff_text(out, help, false);
		}
		fprintf(out, "\n");
		size_t j;
		json_t *o;
		bool has_other = false, has_listed = false;
		json_array_foreach(opts, j, o) {
			const char *on = json_string_value(json_object_get(o, "name"));
			if (!usage_mentions(usage, on)) {
				has_other = true;
				continue;
			}
			const char *arg_kind = json_string_value(json_object_get(o, "has_arg"));
			const char *sh = json_string_value(json_object_get(o, "short"));
			fprintf(out, "%s", has_listed ? ",\n" : ".PP\nOptions: ");
			if (sh)
				fprintf(out, "\\fB\\-%s\\fR/", sh);
			fprintf(out, "\\fB\\-\\-");
			roff_text(out, on, false);
			fprintf(out, "\\fR%s", strcmp(arg_kind, "required") == 0 ? "\\ \\fIVALUE\\fR" :
						 strcmp(arg_kind, "optional") == 0 ? "[=\\fIVALUE\\fR]" : "");
			has_listed = true;
		}
		if (has_listed)
			fprintf(out, ".\n");
		if (has_other) {
			fprintf(out, ".PP\nThe option parser of \\fB");
			roff_text(out, name, false);
			fprintf(out, "\\fR also knows");
			bool first = true;
			json_array_foreach(opts, j, o) {
				const char *on = json_string_value(json_object_get(o, "name"));
				if (usage_mentions(usage, on))
					continue;
				fprintf(out, "%s \\fB\\-\\-", first ? "" : ",");
				roff_text(out, on, false);
				fprintf(out, "\\fR");
				first = false;
			}
			fprintf(out, ", which it shares with a related command and refuses.\n");
		}
		/* its JSON shape (cli/out.c's table; the notation in docs/CLI.md) */
		const char *shape = json_string_value(json_object_get(c, "json"));
		if (json_object_get(c, "admin_json")) {
			fprintf(out, ".PP\nJSON output: with \\fB\\-\\-format json\\fR, the reply of the admin "
				     "command in its documented shape (without \\fBok\\fR, absent keys as "
				     "null); \\fBwatch\\fR takes \\fB\\-\\-format jsonl\\fR, one event a line. "
				     "The shapes are in the strata documentation (CLI.md, \\(lqJSON "
				     "output\\(rq).\n");
		} else if (shape) {
			bool is_rows = json_is_true(json_object_get(c, "json_rows"));
			fprintf(out, ".PP\nJSON output%s:\n.RS\n.ad l\n", is_rows ? ", each row" : "");
			roff_text(out, shape, false);
			fprintf(out, "\n.ad\n.RE\n");
		}
	}
}

/* ---- stratad(8): the admin command table -------------------------------------------------- */

static void gen_stratad(FILE *out, void *arg)
{
	(void)arg;
	const char *name, *usage, *help, *access;
	for (size_t i = 0; stratad_admin_command_info(i, &name, &usage, &help, &access); i++) {
		fprintf(out, ".TP\n\\fB");
		roff_text(out, usage, false);
		fprintf(out, "\\fR\n");
		roff_text(out, help, false);
		fprintf(out, "\n(Who: ");
		roff_text(out, access, false);
		fprintf(out, ".)\n");
	}
}

/* ---- stratad.ini(5): the config table ------------------------------------------------------ */

static void gen_keys(FILE *out, stratad_cfg_scope scope)
{
	for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
		const stratad_cfg_key *k = &stratad_cfg_keys[i];
		if (k->scope != scope)
			continue;
		char doc[600];
		stratad_config_key_doc(k, doc, sizeof(doc));
		fprintf(out, ".TP\n\\fB");
		roff_text(out, k->key, false);
		fprintf(out, "\\fR\n");
		roff_text(out, k->help, false);
		fprintf(out, "\n.br\n");
		roff_text(out, doc, false);
		fprintf(out, "\n");
	}
}

static void gen_ini(FILE *out, void *arg)
{
	(void)arg;
	fprintf(out, ".SH \"THE [daemon] SECTION\"\nThe process: warehouse, admin socket, workers, "
		     "limits.\n");
	gen_keys(out, STRATAD_SCOPE_DAEMON);
	fprintf(out, ".SH \"THE [policy] SECTION\"\nWhen jobs run, for every table.  Every scan "
		     "computes, per bucket, which jobs are due and a score; the highest scores run "
		     "first, one job per bucket, at most \\fBworkers\\fR at once.\n");
	gen_keys(out, STRATAD_SCOPE_POLICY);
	fprintf(out, ".SH \"THE [table.NAME] SECTIONS\"\nOverrides for the table NAME: any "
		     "\\fB[policy]\\fR key, plus:\n");
	gen_keys(out, STRATAD_SCOPE_TABLE);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "strata") == 0) {
		json_error_t je;
		json_t *cmds = json_load_file(argv[3], 0, &je);
		if (!json_is_array(cmds)) {
			fprintf(stderr, "mangen: \"%s\" is not the JSON array of `strata "
					"--list-commands` (%s)\n",
				argv[3], cmds ? "not an array" : je.text);
			json_decref(cmds);
			return 1;
		}
		int rc = splice(argv[2], gen_strata, cmds);
		json_decref(cmds);
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "stratad") == 0)
		return splice(argv[2], gen_stratad, NULL);
	if (argc == 3 && strcmp(argv[1], "stratad.ini") == 0)
		return splice(argv[2], gen_ini, NULL);
	fprintf(stderr, "usage: mangen strata TEMPLATE JSON | mangen stratad TEMPLATE | "
			"mangen stratad.ini TEMPLATE\n");
	return 2;
}
