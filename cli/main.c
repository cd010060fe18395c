/*
 * cli/main.c — `strata`: the command table, global options and dispatch.
 *
 *   strata [-W WAREHOUSE] COMMAND [ARGS...]
 *
 * The warehouse comes from -W/--warehouse (accepted anywhere on the line)
 * or $STRATA_WAREHOUSE.  Every command answers --help.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static int cmd_help(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_admin(cli_ctx *ctx, int argc, char **argv); /* cli/cmd_admin.c */

const cli_cmd cli_commands[] = {
	{"init", cli_cmd_init, "init [--data DIR|s3://BUCKET/PREFIX] [--format text|json]",
	 "Create the warehouse named by -W or $STRATA_WAREHOUSE.\n"
	 "A directory holds the embedded manifest and the data files; a\n"
	 "PostgreSQL catalog postgresql://user@host/db is shared by many hosts,\n"
	 "and --data DIR names the directory of its data files, which every\n"
	 "host mounts.  An existing catalog is an error.  --data\n"
	 "s3://BUCKET/PREFIX keeps the data files in S3-compatible object\n"
	 "storage, for either kind of warehouse (endpoint and credentials the AWS\n"
	 "way: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ..., then the\n"
	 "profile's endpoint_url and region in ~/.aws/config and its keys in\n"
	 "~/.aws/credentials)."},
	{"create-table", cli_cmd_create_table,
	 "create-table NAME --columns 'pk BIGINT NOT NULL PRIMARY KEY, val STRING'\n"
	 "       [--primary-key 'a,b'] [--partitioned-by 'pt STRING']\n"
	 "       [--property KEY=VALUE]... [--format text|json]",
	 "Create a table.\n"
	 "Types: BIGINT INT DOUBLE FLOAT BOOLEAN STRING BINARY TIMESTAMP.  Properties: write.bucket.num (1..4096, default 16), acid.data.retain.hours\n"
	 "(0..168, default 24), write.avro.codec (null|deflate), write.parquet.zstd.level\n"
	 "(0..22), write.parquet.row-group.bytes, write.parquet.page.bytes,\n"
	 "write.token.retain.hours (1..8760, default 720), partition.expiration-time\n"
	 "(0 = off, or N{s,m,h,d}: stratad drops partitions that old by their date),\n"
	 "partition.expiration-column (default: the first partition column),\n"
	 "write.inline.max-bytes (0..65536, default 4096; 0 = off: a commit's row file\n"
	 "this small is kept in the manifest, not written as a file)."},
	{"alter-table", cli_cmd_alter_table,
	 "alter-table NAME add-columns 'c2 STRING, c3 INT'\n"
	 "       alter-table NAME drop-column COLUMN\n"
	 "       alter-table NAME rename-column OLD NEW\n"
	 "       alter-table NAME alter-column COLUMN 'TYPE'\n"
	 "       alter-table NAME set KEY=VALUE...\n"
	 "       alter-table NAME drop-partition 'pt=x/dt=y'\n"
	 "       (each takes [--format text|json])",
	 "Add, drop, rename or widen columns, set properties, or drop a partition.\n"
	 "Adding nullable columns, dropping a non-key column, renaming a column or widening\n"
	 "a non-key column's type (INT to BIGINT, FLOAT to DOUBLE, DECIMAL(p,s) to\n"
	 "DECIMAL(p',s) with p' > p) makes a new schema version; reads at older versions\n"
	 "keep the old schema.  drop-partition removes every file\n"
	 "of the partition in one commit; reads at older versions still see it inside\n"
	 "retention, and stratad deletes its files after that."},
	{"describe", cli_cmd_describe, "describe NAME [--format text|json]",
	 "Show a table.\n"
	 "Columns, key, partitions, properties, versions, files per level, earliest\n"
	 "readable and incremental versions, tags."},
	{"tables", cli_cmd_tables, "tables [--format text|json|jsonl]",
	 "List the tables of the warehouse."},
	{"write", cli_cmd_write,
	 "write NAME [--file F] [--token T --token-time TIME] [--expect-version V]\n"
	 "       [--format text|json]",
	 "Commit JSON lines as one transaction.\n"
	 "Reads stdin or F and prints the committed version.\n"
	 "{\"_op\":\"delete\", <key columns>} deletes a key.  With --token, a repeat of a\n"
	 "committed token commits nothing and prints the first version; --token-time\n"
	 "(ISO 8601 UTC or Unix seconds) is when the batch was first attempted, the same\n"
	 "on every retry: a batch older than the table's write.token.retain.hours is\n"
	 "refused.  After an \"uncertain\" commit error, retry with the same token and\n"
	 "time.  With --expect-version V the commit fails (exit 3) if a write or DDL\n"
	 "committed after V."},
	{"scan", cli_cmd_scan,
	 "scan NAME [--as-of-version V | --as-of-time 'YYYY-MM-DD HH:MM:SS[.ffffff]' |\n"
	 "       --as-of-time -SECONDS | --as-of-tag TAG] [--partition 'pt=x']\n"
	 "       [--columns a,b] [--where PREDICATE] [--verbose]\n"
	 "       [--format jsonl|json|csv|table]",
	 "Read the table, now or at an earlier version.\n"
	 "Rows come in key order within each bucket.  Times are UTC.  --where keeps the\n"
	 "rows a predicate selects, e.g. \"ts >= '2026-01-01T00:00:00Z' AND (c IS NULL OR\n"
	 "k IN (1, 2))\" (grammar: docs/CLI.md, \"Predicates\"), skipping partitions,\n"
	 "files and pages that statistics exclude; --verbose reports what it skipped."},
	{"delete", cli_cmd_delete,
	 "delete NAME --where PREDICATE [--partition 'pt=x'] [--dry-run]\n"
	 "       [--token T --token-time TIME] [--expect-version V] [--verbose]\n"
	 "       [--format text|json]",
	 "Delete every live key a predicate selects, in one transaction.\n"
	 "The rows a `scan --where` shows now lose their keys in one commit (a write);\n"
	 "--dry-run prints how many keys would go and commits nothing.  Tokens as for\n"
	 "write.  Exit 3 if a write or DDL committed after the rows were read (or after\n"
	 "--expect-version V): nothing committed, run it again."},
	{"get", cli_cmd_get,
	 "get NAME --key '{\"pk\":5}' [--as-of-version V | --as-of-time T | --as-of-tag TAG]\n"
	 "       [--format text|json]",
	 "Look up one key.\n"
	 "Include the partition columns in the key of a partitioned table."},
	{"changes", cli_cmd_changes,
	 "changes NAME --between V1 V2 [--partition 'pt=x'] [--format jsonl|json|csv|table]",
	 "Read every record committed in (V1, V2], with _seq and _op."},
	{"log", cli_cmd_log, "log NAME [--limit N] [--format text|json|jsonl]",
	 "Show the version log.\n"
	 "Version, commit time, kind, files added and removed."},
	{"files", cli_cmd_files, "files NAME [--all] [--format text|json|jsonl]",
	 "List the file entries of a table.\n"
	 "Live ones; --all adds removed and deleted ones."},
	{"file", cli_cmd_file, "file cat PATH | file meta PATH",
	 "Print the records or the metadata of a data file.\n"
	 "Any strata data file, Avro or Parquet."},
	{"sort", cli_cmd_sort, "sort NAME [--partition 'pt=x'] [--bucket N] [--format text|json]",
	 "Sort row files into columnar files now.\n"
	 "Level-0 row files of each bucket become one Parquet file at level 1, all\n"
	 "history kept."},
	{"merge", cli_cmd_merge, "merge NAME [--partition 'pt=x'] [--bucket N] [--format text|json]",
	 "Merge small files into the next level now.\n"
	 "Files of the lowest level holding two or more move to the next level (at most\n"
	 "8 at a time, adjacent in _seq), all history kept."},
	{"compact", cli_cmd_compact,
	 "compact NAME --partial | --major [--drop-history] [--partition 'pt=x'] [--bucket N]\n"
	 "       [--format text|json]",
	 "Compact history now.\n"
	 "Partial: drop history older than the retention window.  Major: keep only the\n"
	 "latest record per key; replaced files stay until they leave retention (time\n"
	 "travel keeps working) unless --drop-history."},
	{"clean", cli_cmd_clean,
	 "clean NAME [--dry-run] [--grace-s N] [--trash-s N] [--orphan-age-s N]\n"
	 "       [--orphan-max-fraction F] [--format text|json]",
	 "Delete files nothing needs any more.\n"
	 "Two-phase through .trash/; also expires the version log outside retention,\n"
	 "removes orphans and recovers crashed jobs.  Deletes nothing while the table\n"
	 "fails `strata check`; trashes no orphan when they would be more than F (0..1,\n"
	 "default 0.1) of the table's bytes."},
	{"purge", cli_cmd_purge, "purge NAME [--format text|json]",
	 "Drop all history now.\n"
	 "Time travel afterwards starts at the current version; tags are dropped too.\n"
	 "Readers holding a lease keep their files."},
	{"undelete", cli_cmd_undelete,
	 "undelete NAME --clean-version V | --all [--dry-run] [--trash-s N] [--format text|json]",
	 "Revert a clean inside its trash window.\n"
	 "The files clean V deleted come back (from .trash/) as removed files, the\n"
	 "version records it expired come back, and the versions it made unreadable\n"
	 "read again exactly as before; --all reverts every clean still inside its\n"
	 "window (clean.trash_s).  Refused, with nothing changed, once a file it needs\n"
	 "has left the trash.  A clean with the same settings takes it all again: fix\n"
	 "retention or tag what you need first.  --all --dry-run lists what can be\n"
	 "undone; --trash-s N: clean.trash_s was raised to N since the clean."},
	{"check", cli_cmd_check, "check [NAME] [--format text|json]",
	 "Check that the manifest is consistent.\n"
	 "The manifest's page structure, then per table (NAME, or every table): records\n"
	 "that decode and add up, a version log that names the files the entries say it\n"
	 "added or removed, and every live or retained file present on disk.  Prints one\n"
	 "line a finding.  Exit 0 when nothing was found, 1 when something was.  Clean,\n"
	 "purge and stratad's orphan scan delete nothing while a table fails it."},
	{"tag", cli_cmd_tag,
	 "tag NAME TAG [--version V] [--format text|json] | tag NAME --delete TAG",
	 "Pin a version beyond retention, or remove a tag.\n"
	 "Without --version the latest version is tagged."},
	{"tags", cli_cmd_tags, "tags NAME [--format text|json|jsonl]", "List the tags of a table."},
	{"rollback", cli_cmd_rollback,
	 "rollback NAME --to-version V | --to-tag TAG [--format text|json]",
	 "Undo every change after a version, as a new version.\n"
	 "Commits one version whose reads equal the reads at V (data and schema).  V must\n"
	 "be earlier than the current version and readable (inside retention, or\n"
	 "tagged).  Versions after V stay readable by time travel until they leave\n"
	 "retention; `changes` across the rollback shows what each undone key became.\n"
	 "Exit 3 if a write raced it (nothing committed: run it again)."},
	{"admin", cli_cmd_admin,
	 "admin [--socket PATH] [--json | --text | --format text|json|jsonl] COMMAND [ARGS...]",
	 "Talk to a running stratad over its control socket.\n"
	 "The socket is --socket PATH, else $STRATAD_SOCKET, else /run/stratad/admin.sock.\n"
	 "Commands: status, tables, jobs, plan [TABLE], policy TABLE,\n"
	 "sort|merge|compact|clean|purge TABLE, pause|resume [TABLE], cancel JOB, reload,\n"
	 "metrics, watch, shutdown, help.  Tables on a terminal (or --text), stratad's JSON\n"
	 "reply lines otherwise (or --json); --format json prints the reply in its\n"
	 "documented shape (docs/CLI.md, \"JSON output\"), watch takes --format jsonl."},
	{"help", cmd_help, "help [COMMAND] [--format text|json|jsonl]", "Show help."},
	{NULL, NULL, NULL, NULL},
};

const cli_cmd *cli_find(const char *name)
{
	for (const cli_cmd *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_overview(FILE *out)
{
	fprintf(out,
		"usage: strata [-W WAREHOUSE] COMMAND [ARGS...]\n\n"
		"The warehouse is -W PATH or $STRATA_WAREHOUSE.  Commands:\n");
	for (const cli_cmd *c = cli_commands; c->name; c++) {
		const char *nl = strchr(c->help, '\n');
		int len = nl ? (int)(nl - c->help) : (int)strlen(c->help);
		fprintf(out, "  %-14s %.*s\n", c->name, len, c->help);
	}
	fprintf(out, "\n`strata COMMAND --help` shows a command's options.\n"
		     "Exit codes: 0 ok, 1 error, 2 usage, 3 conflict.\n");
}

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cli_find("help"), argc, argv, CLI_FMTS_ROWS, &fmt);
	if (rc)
		return rc;
	const char *name = optind < argc ? argv[optind] : NULL;
	if (name && !cli_find(name)) {
		fprintf(stderr, "strata: unknown command \"%s\"\n", name);
		return CLI_USAGE;
	}
	if (fmt != CLI_FMT_TEXT) {
		cli_rows rows;
		cli_rows_begin(&rows, fmt);
		for (const cli_cmd *c = cli_commands; c->name; c++)
			if (!name || strcmp(c->name, name) == 0)
				cli_rows_put(&rows, json_pack("{s:s,s:s,s:s}", "name", c->name, "usage",
							      c->usage, "help", c->help));
		cli_rows_end(&rows);
		return CLI_OK;
	}
	if (name) {
		const cli_cmd *c = cli_find(name);
		printf("usage: strata %s\n\n%s\n", c->usage, c->help);
		return CLI_OK;
	}
	print_overview(stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	cli_ctx ctx = {.warehouse = getenv("STRATA_WAREHOUSE"), .prog = argv[0]};
	const char *lvl = getenv("STRATA_LOG_LEVEL");
	strata_log_level level;
	if (lvl && strata_log_level_parse(lvl, &level) == 0)
		strata_log_set_level(level);
	/* pull -W/--warehouse out of the line, wherever it is */
	int n = 1;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-W") == 0 || strcmp(argv[i], "--warehouse") == 0)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "strata: %s needs a path\n", argv[i]);
				return CLI_USAGE;
			}
			ctx.warehouse = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--warehouse=", 12) == 0) {
			ctx.warehouse = argv[i] + 12;
			continue;
		}
		argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	if (argc < 2) {
		print_overview(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--list-commands") == 0) /* hidden: for strata(1) */
		return cli_list_commands(stdout);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_overview(stdout);
		return CLI_OK;
	}
	const cli_cmd *c = cli_find(argv[1]);
	if (!c) {
		fprintf(stderr, "strata: unknown command \"%s\" (try `strata help`)\n", argv[1]);
		return CLI_USAGE;
	}
	if (cli_wants_help(c, argc - 1, argv + 1))
		return CLI_OK;
	return c->run(&ctx, argc - 1, argv + 1);
}
