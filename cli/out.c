/*
 * cli/out.c — machine-readable output of the commands: the --format
 * option, JSON documents and row listings, and the table of the JSON
 * shapes every command promises (docs/CLI.md, "JSON output").
 *
 * Design: a command that prints information takes --format.  `text` (the
 * default) is for people; `json` is one JSON document on stdout; a listing
 * command (its shape has is_rows: scan, changes, log, files, tables, tags,
 * help) also takes `jsonl`, one object per line as the rows come, and its
 * `json` is one array of those same objects.  The command builds a jansson
 * value with its fields in the documented order and hands it here.
 *
 * The shape of each command's output is written once, in cli_json_shapes[]
 * below, in a small notation (JSON whose leaves are type names):
 *   "string" "int" "number" "bool" "object" "array" "any"   a value of it;
 *   a "?" suffix                        the value may also be null;
 *   {"k": T, ...}                       an object with exactly these keys,
 *                                       each always present;
 *   {"...": T}                          further keys (a table's columns) of T;
 *   {"?": "null", ...}                  the object, or null;
 *   [T]                                 an array whose every element is T.
 * `strata --list-commands` prints it with each command, strata(1) and
 * docs/CLI.md show it, and tests/test_json.c holds every command's real
 * output to it: a command of cli_commands[] without a shape here fails
 * that test.
 *
 * Errors: with --format json or jsonl an error still goes to stderr as
 * text, with the documented exit status, and nothing is added to stdout
 * (no JSON error object): a script tests the exit status.  A listing that
 * fails half-way leaves an unterminated array (json) or the lines so far
 * (jsonl); the exit status says so.
 *
 * Invariants:
 *   1. with json or jsonl, stdout holds JSON only: nothing else is printed
 *      there (progress and messages go to stderr);
 *   2. keys come out in the order the command set them (JSON_PRESERVE_ORDER),
 *      the order of the shape.
 *
 * Main thread of `strata` only.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- the shapes ------------------------------------------------------------------------- */

#define SHAPE_CLEAN_COUNTS                                                                     \
	"\"files_deleted\": \"int\", \"bytes_deleted\": \"int\", \"files_unlinked\": \"int\", "    \
	"\"bytes_unlinked\": \"int\", \"trash_files\": \"int\", \"trash_bytes\": \"int\", "        \
	"\"kept_grace\": \"int\", \"kept_lease\": \"int\", \"marked_in_place\": \"int\", "     \
	"\"kept_tag\": \"int\", "                                                                \
	"\"kept_retention\": \"int\", \"orphans\": \"int\", \"orphan_bytes\": \"int\", "           \
	"\"versions_expired\": \"int\", \"intents_recovered\": \"int\""

#define SHAPE_JOBS                                                                             \
	"{\"table\": \"string\", \"jobs\": [{\"job\": \"string\", \"partition\": \"string\", "      \
	"\"bucket\": \"int\", \"ok\": \"bool\", \"error\": \"string?\", \"files_in\": \"int\", "    \
	"\"rows_in\": \"int\", \"bytes_in\": \"int\", \"files_out\": \"int\", \"rows_out\": "       \
	"\"int\", \"bytes_out\": \"int\", \"seconds\": \"number\", \"version\": \"int\", "          \
	"\"history_floor\": \"int?\"}]}"

const cli_json_shape cli_json_shapes[] = {
	{"init", "{\"warehouse\": \"string\"}", false},
	{"create-table", "{\"table\": \"string\"}", false},
	{"alter-table",
	 "{\"table\": \"string\", \"action\": \"string\", \"version\": \"int?\", \"partition\": "
	 "\"string?\", \"files\": \"int?\"}",
	 false},
	{"describe",
	 "{\"table\": \"string\", \"version\": \"int\", \"schema_version\": \"int\", \"columns\": "
	 "[{\"name\": \"string\", \"type\": \"string\", \"nullable\": \"bool\", \"key_position\": "
	 "\"int?\"}], \"primary_key\": [\"string\"], \"partitioned_by\": [\"string\"], "
	 "\"properties\": {\"...\": \"string\"}, \"partitions\": \"int\", \"levels\": [{\"level\": "
	 "\"int\", \"files\": \"int\", \"rows\": \"int\", \"bytes\": \"int\"}], \"removed_files\": "
	 "\"int\", \"removed_bytes\": \"int\", \"earliest_readable_version\": \"int\", "
	 "\"earliest_incremental_version\": \"int\", \"tags\": [{\"name\": \"string\", \"version\": "
	 "\"int\"}]}",
	 false},
	{"tables", "{\"name\": \"string\", \"version\": \"int\"}", true},
	{"write",
	 "{\"table\": \"string\", \"version\": \"int\", \"rows\": \"int\", \"is_repeat\": \"bool\", "
	 "\"token\": \"string?\"}",
	 false},
	{"scan", "{\"...\": \"any\"}", true},
	{"get", "{\"...\": \"any\"}", false},
	{"changes", "{\"...\": \"any\", \"_seq\": \"int\", \"_op\": \"string\"}", true},
	{"log",
	 "{\"version\": \"int\", \"ts_us\": \"int\", \"time\": \"string\", \"kind\": \"string\", "
	 "\"added\": \"int\", \"removed\": \"int\", \"note\": \"string\"}",
	 true},
	{"files",
	 "{\"id\": \"int\", \"partition\": \"string\", \"bucket\": \"int\", \"level\": \"int\", "
	 "\"format\": \"string\", \"rows\": \"int\", \"bytes\": \"int\", \"seq_min\": \"int\", "
	 "\"seq_max\": \"int\", \"added_version\": \"int\", \"removed_version\": \"int?\", "
	 "\"is_deleted\": \"bool\", \"key_min\": \"any\", \"key_max\": \"any\", \"file\": "
	 "\"string\", \"is_inline\": \"bool\"}",
	 true},
	{"file", "{\"...\": \"any\", \"_op\": \"string\"}", true},
	{"sort", SHAPE_JOBS, false},
	{"merge", SHAPE_JOBS, false},
	{"compact", SHAPE_JOBS, false},
	{"clean",
	 "{\"table\": \"string\", \"dry_run\": \"bool\", \"version\": \"int?\", " SHAPE_CLEAN_COUNTS
	 ", \"decisions\": [{\"id\": \"int\", \"file\": \"string\", \"bucket\": \"int\", \"level\": "
	 "\"int\", \"removed_version\": \"int\", \"bytes\": \"int\", \"decision\": \"string\"}]}",
	 false},
	{"purge",
	 "{\"table\": \"string\", \"version\": \"int?\", " SHAPE_CLEAN_COUNTS
	 ", \"dropped_tags\": [\"string\"], \"earliest_readable_version\": \"int\"}",
	 false},
	{"undelete",
	 "{\"table\": \"string\", \"dry_run\": \"bool\", \"clean_versions\": [\"int\"], "
	 "\"files_restored\": \"int\", \"bytes_restored\": \"int\", \"files_moved\": \"int\", "
	 "\"versions_restored\": \"int\", \"earliest_readable_before\": \"int\", "
	 "\"earliest_readable_after\": \"int\"}",
	 false},
	{"check",
	 "{\"table\": \"string?\", \"ok\": \"bool\", \"findings\": [{\"table\": \"string?\", "
	 "\"message\": \"string\"}]}",
	 false},
	{"tag",
	 "{\"table\": \"string\", \"tag\": \"string\", \"version\": \"int?\", \"deleted\": "
	 "\"bool\"}",
	 false},
	{"tags",
	 "{\"name\": \"string\", \"version\": \"int\", \"created_us\": \"int\", \"created\": "
	 "\"string\"}",
	 true},
	{"delete",
	 "{\"table\": \"string\", \"dry_run\": \"bool\", \"read_version\": \"int\", \"keys\": "
	 "\"int\", \"version\": \"int\", \"is_repeat\": \"bool\", \"token\": \"string?\"}",
	 false},
	{"rollback",
	 "{\"table\": \"string\", \"version\": \"int\", \"to_version\": \"int\", \"is_noop\": "
	 "\"bool\", \"upserts\": \"int\", \"deletes\": \"int\"}",
	 false},
	/* admin: the reply of each admin command, cli_admin_shapes[] (cmd_admin.c) */
	{"admin", "{\"...\": \"any\"}", false},
	{"help", "{\"name\": \"string\", \"usage\": \"string\", \"help\": \"string\"}", true},
	{NULL, NULL, false},
};

const cli_json_shape *cli_json_shape_find(const char *name)
{
	for (const cli_json_shape *s = cli_json_shapes; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* ---- --format ------------------------------------------------------------------------------ */

static const char *const format_names[] = {"text", "json", "jsonl", "csv", "table"};

bool cli_format_parse(const char *s, unsigned allowed, cli_format *out)
{
	for (unsigned f = 0; f < STRATA_ARRAY_LEN(format_names); f++) {
		if ((allowed & (1u << f)) && strcmp(s, format_names[f]) == 0) {
			*out = (cli_format)f;
			return true;
		}
	}
	return false;
}

const char *cli_format_list(unsigned allowed, char *buf, size_t n)
{
	size_t len = 0, k = 0, count = 0;
	for (unsigned f = 0; f < STRATA_ARRAY_LEN(format_names); f++)
		count += (allowed >> f) & 1;
	buf[0] = '\0';
	for (unsigned f = 0; f < STRATA_ARRAY_LEN(format_names) && len < n; f++) {
		if (!(allowed & (1u << f)))
			continue;
		k++;
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
					k == 1 ? "" : k == count ? " or " : ", ", format_names[f]);
	}
	return buf;
}

int cli_format_usage(const cli_cmd *cmd, unsigned allowed, const char *got)
{
	char list[80];
	return cli_usage(cmd, "--format is %s (got \"%s\")", cli_format_list(allowed, list, sizeof(list)),
			 got);
}

/* The option parser of a command whose only option is --format: leaves
 * optind at the first operand; 0 or the usage exit code. */
int cli_parse_format_only(const cli_cmd *cmd, int argc, char **argv, unsigned allowed,
			  cli_format *fmt)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'F')
			return cli_usage(cmd, "bad option");
		if (!cli_format_parse(optarg, allowed, fmt))
			return cli_format_usage(cmd, allowed, optarg);
	}
	return 0;
}

/* ---- documents and listings --------------------------------------------------------------- */

int cli_json_print(json_t *doc)
{
	int rc = CLI_OK;
	/* invariant 2 */
	if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) != 0) {
		fprintf(stderr, "strata: could not write the JSON output\n");
		rc = CLI_ERROR;
	}
	fputc('\n', stdout);
	json_decref(doc);
	return rc;
}

void cli_rows_begin(cli_rows *r, cli_format fmt)
{
	r->fmt = fmt;
	r->n = 0;
	if (fmt == CLI_FMT_JSON)
		fputs("[", stdout);
}

void cli_rows_put_text(cli_rows *r, const char *json, size_t len)
{
	if (r->fmt == CLI_FMT_JSON)
		fputs(r->n ? ",\n  " : "\n  ", stdout);
	fwrite(json, 1, len, stdout);
	if (r->fmt == CLI_FMT_JSONL)
		fputc('\n', stdout);
	r->n++;
}

void cli_rows_put(cli_rows *r, json_t *row)
{
	char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (text) {
		cli_rows_put_text(r, text, strlen(text));
		free(text);
	}
	json_decref(row);
}

void cli_rows_end(cli_rows *r)
{
	if (r->fmt == CLI_FMT_JSON)
		fputs(r->n ? "\n]\n" : "]\n", stdout);
	fflush(stdout);
}

json_t *cli_json_u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

json_t *cli_json_time(int64_t us)
{
	strata_buf b = {0};
	strata_timestamp_format(us, &b);
	json_t *s = json_stringn(b.len ? (const char *)b.data : "", b.len);
	strata_buf_free(&b);
	return s;
}
