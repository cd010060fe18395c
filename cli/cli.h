/*
 * cli/cli.h — the strata command line: one static command table, shared
 * helpers for options, output formats and exit codes.
 *
 * Exit codes: 0 ok, 1 error, 2 usage, 3 conflict.
 *
 * Output: text for people by default; --format json (and jsonl for
 * listings) prints the shape each command promises in cli_json_shapes[]
 * (cli/out.c), which `strata --list-commands`, strata(1), docs/CLI.md and
 * tests/test_json.c all read.  A command added to cli_commands[] needs a row
 * there too, or tests/test_json.c fails.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include "jobs/jobs.h"
#include "table/table.h"

#include <getopt.h>
#include <jansson.h>

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_CONFLICT = 3 };

typedef struct cli_ctx {
	const char *warehouse; /* from -W or $STRATA_WAREHOUSE, may be NULL */
	const char *prog;
} cli_ctx;

typedef struct cli_cmd {
	const char *name;
	int (*run)(cli_ctx *ctx, int argc, char **argv);
	const char *usage;
	const char *help;
} cli_cmd;

/* Print "strata: <msg>" for err and return the exit code for its code. */
int cli_fail(const strata_err *err);
/* Print a usage error for cmd and return CLI_USAGE. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the warehouse of ctx (error if none is configured). */
int cli_open(cli_ctx *ctx, bool create, strata_wh **out);
/* Open it for a read command: the manifest is never written nor created
 * (works on a read-only mount; leases are skipped, said on stderr, when
 * they cannot be written). */
int cli_open_read(cli_ctx *ctx, strata_wh **out);
/* Open it in a manifest open mode (manifest.h); prints the error and
 * returns the exit code on failure. */
int cli_open_mode(cli_ctx *ctx, strata_mf_mode mode, strata_wh **out);
/* Find a command by name in the table. */
const cli_cmd *cli_find(const char *name);
/* Whether argv holds --help/-h; prints the command's help if so. */
bool cli_wants_help(const cli_cmd *cmd, int argc, char **argv);
/* Parse an unsigned integer option value; false on garbage. */
bool cli_parse_u64(const char *s, uint64_t *out);
/* "YYYY-MM-DD HH:MM:SS[.ffffff]" or "-SECONDS" (before now) to µs. */
bool cli_parse_time(const char *s, int64_t *out_us);

/* ---- output formats and JSON shapes (cli/out.c) ---- */
typedef enum {
	CLI_FMT_TEXT,
	CLI_FMT_JSON,
	CLI_FMT_JSONL,
	CLI_FMT_CSV,
	CLI_FMT_TABLE,
} cli_format;
#define CLI_FMTS_DOC ((1u << CLI_FMT_TEXT) | (1u << CLI_FMT_JSON))
#define CLI_FMTS_ROWS (CLI_FMTS_DOC | (1u << CLI_FMT_JSONL))

/* The documented shape of a command's JSON output (notation in cli/out.c;
 * docs/CLI.md, "JSON output"); is_rows: a listing, json is an array of
 * these and jsonl one a line. */
typedef struct cli_json_shape {
	const char *name;
	const char *shape;
	bool is_rows;
} cli_json_shape;
extern const cli_json_shape cli_json_shapes[];
/* The shape of the command name, or NULL if it has none. */
const cli_json_shape *cli_json_shape_find(const char *name);
/* The admin commands' reply shapes (cli/cmd_admin.c), NULL-terminated. */
extern const cli_json_shape cli_admin_shapes[];

/* (cli/shape.c) Whether v has the shape (parsed from the notation of cli/out.c): 0, or -1
 * with why saying where and what differs. */
int cli_json_check(const json_t *v, const json_t *shape, char *why, size_t n);
/* Give v every key its shape marks "?" that it lacks, as null (the
 * admin replies leave such keys out; --format json always has them). */
void cli_json_normalise(json_t *v, const json_t *shape);

/* Parse a --format value among the allowed formats (a mask of 1 << fmt). */
bool cli_format_parse(const char *s, unsigned allowed, cli_format *out);
/* "text, json or jsonl" for a mask, into buf. */
const char *cli_format_list(unsigned allowed, char *buf, size_t n);
/* The usage error for a bad --format value; returns CLI_USAGE. */
int cli_format_usage(const cli_cmd *cmd, unsigned allowed, const char *got);
/* The parser of a command whose only option is --format (getopt_long, so
 * --list-commands sees it): leaves optind at the first operand; returns 0
 * or the usage exit code. */
int cli_parse_format_only(const cli_cmd *cmd, int argc, char **argv, unsigned allowed,
			  cli_format *fmt);
/* Print doc (the reference is taken) as one JSON document and a newline;
 * returns an exit code. */
int cli_json_print(json_t *doc);
/* A listing in json (one array) or jsonl (one object a line). */
typedef struct cli_rows {
	cli_format fmt;
	size_t n;
} cli_rows;
void cli_rows_begin(cli_rows *r, cli_format fmt);
/* Add a row: a JSON object (the reference is taken), or its compact text. */
void cli_rows_put(cli_rows *r, json_t *row);
void cli_rows_put_text(cli_rows *r, const char *json, size_t len);
void cli_rows_end(cli_rows *r);
/* JSON values of the shapes: an unsigned count, a UTC time string. */
json_t *cli_json_u64(uint64_t v);
json_t *cli_json_time(int64_t us);

/* ---- the progress line of long commands (cli/progress.c) ---- */
typedef struct cli_progress {
	bool is_on;    /* stderr is a terminal */
	bool is_shown; /* a line is on the screen */
	int64_t last_us, t0_us;
	char what[96];
} cli_progress;
/* Start a progress line headed "what: ". */
void cli_progress_init(cli_progress *p, const char *what);
/* Show the line (printf format), at most every 100 ms unless force. */
void cli_progress_show(cli_progress *p, bool force, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Erase the line (before printing a result on stdout). */
void cli_progress_clear(cli_progress *p);
/* Erase the line for good. */
void cli_progress_done(cli_progress *p);

/* Commands implemented in cli/cmd_*.c */
int cli_cmd_init(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_create_table(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_alter_table(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_describe(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tables(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_write(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_scan(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_delete(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_get(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_changes(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_log(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_files(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_file(cli_ctx *ctx, int argc, char **argv);
/* The bucket job `strata sort`, `merge` and `compact` run (cli/util.c, so
 * tests link it without main.c):
 * kind with the policy defaults, nothing of the command line's own. */
void cli_job_spec(strata_bucket_job_kind kind, bool drop_history, strata_bucket_job *out);
int cli_cmd_sort(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_merge(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compact(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_clean(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_purge(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_undelete(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tag(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_check(cli_ctx *ctx, int argc, char **argv); /* cli/cmd_check.c */
int cli_cmd_tags(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rollback(cli_ctx *ctx, int argc, char **argv); /* cli/cmd_table.c */

extern const cli_cmd cli_commands[];

/* ---- listing what the commands parse (cli/list.c) ----
 * `strata --list-commands` prints every command of the table as JSON, with
 * the long options its parser accepts, read from the very struct option
 * arrays it hands to getopt_long: the macro below routes every
 * getopt_long() call of cli/ through cli_getopt_long(), which in listing
 * mode reports its options instead of parsing.  The man page strata(1) is
 * generated from that list, so an option added to a parser cannot be
 * missing from it. */
int cli_getopt_long(int argc, char *const argv[], const char *shortopts,
		    const struct option *longopts, int *longind);
#ifndef CLI_LIST_IMPL
#define getopt_long cli_getopt_long
#endif
/* Print the command list as JSON to out (see above); returns an exit code. */
int cli_list_commands(FILE *out);

#endif
