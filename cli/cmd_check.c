/*
 * cli/cmd_check.c — `strata check [NAME]`: the manifest's consistency check
 * (manifest/check.c) from the command line.
 *
 * Opens the warehouse read-only (it never writes), prints one line a
 * finding ("TABLE: what is wrong", or "warehouse: ..." for damage of the
 * manifest as a whole), then a summary line.  Exit status: 0 when nothing
 * was found, 1 when something was (findings listed) or the check could not
 * run, 2 for a usage error.  A manifest too damaged to open is a finding,
 * not a crash.
 *
 * --format json prints one document (cli/out.c's shape): "ok" and the
 * "findings" as {"table", "message"} ("table" null for the warehouse), with
 * the same exit status.
 */
#include "cli/cli.h"

#include <string.h>

/* Where findings go: printed (text), or gathered into "findings" (json). */
typedef struct check_sink {
	cli_format fmt;
	json_t *findings;
} check_sink;

static void print_finding(void *arg, const char *table, const char *msg)
{
	check_sink *cs = arg;
	if (cs->fmt == CLI_FMT_JSON)
		json_array_append_new(cs->findings,
				      json_pack("{s:o,s:s}", "table",
						table ? json_string(table) : json_null(), "message",
						msg));
	else
		printf("%s: %s\n", table ? table : "warehouse", msg);
}

/* The JSON document of a check that ran (cli/out.c's shape); takes
 * findings. */
static int check_json(const char *table, json_t *findings)
{
	return cli_json_print(json_pack("{s:o,s:b,s:o}", "table",
					table ? json_string(table) : json_null(), "ok",
					json_array_size(findings) == 0, "findings", findings));
}

int cli_cmd_check(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("check");
	const char *table = NULL;
	check_sink cs = {.fmt = CLI_FMT_TEXT};
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_DOC, &cs.fmt);
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
		if (table)
			return cli_usage(cmd, "one table at most (got \"%s\" and \"%s\")", table, argv[i]);
		table = argv[i];
	}
	if (!ctx->warehouse || !*ctx->warehouse)
		return cli_open_read(ctx, NULL);
	strata_wh *wh = NULL;
	strata_err err;
	strata_err_clear(&err);
	rc = strata_wh_open_mode(ctx->warehouse, STRATA_MF_READ, &wh, &err);
	if (rc == STRATA_ECORRUPT || (rc == STRATA_ENOTFOUND && strstr(err.msg, "data.mdb"))) {
		if (cs.fmt == CLI_FMT_JSON) {
			json_t *f = json_array();
			json_array_append_new(f, json_pack("{s:n,s:s}", "table", "message", err.msg));
			check_json(table, f);
			return CLI_ERROR;
		}
		printf("warehouse: %s\n", err.msg);
		printf("check failed: 1 finding\n");
		return CLI_ERROR;
	}
	if (rc)
		return cli_fail(&err);
	size_t n = 0;
	cs.findings = json_array();
	rc = strata_mf_check(strata_wh_mf(wh), table, print_finding, &cs, &n, &err);
	strata_wh_close(wh);
	if (cs.fmt == CLI_FMT_JSON && (rc == 0 || (rc == STRATA_ECORRUPT && n))) {
		check_json(table, cs.findings);
		return rc ? CLI_ERROR : CLI_OK;
	}
	json_decref(cs.findings);
	if (rc == STRATA_ECORRUPT && n) {
		printf("check failed: %zu finding%s\n", n, n == 1 ? "" : "s");
		return CLI_ERROR;
	}
	if (rc)
		return cli_fail(&err);
	printf("check passed: %s is consistent\n", table ? table : "every table");
	return CLI_OK;
}
