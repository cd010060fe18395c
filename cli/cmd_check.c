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
 */
#include "cli/cli.h"

#include <string.h>

static void print_finding(void *arg, const char *table, const char *msg)
{
	(void)arg;
	printf("%s: %s\n", table ? table : "warehouse", msg);
}

int cli_cmd_check(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("check");
	const char *table = NULL;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage(cmd, "unknown option \"%s\"", argv[i]);
		if (table)
			return cli_usage(cmd, "one table at most (got \"%s\" and \"%s\")", table, argv[i]);
		table = argv[i];
	}
	if (!ctx->warehouse || !*ctx->warehouse)
		return cli_open_read(ctx, NULL);
	strata_wh *wh = NULL;
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_wh_open_mode(ctx->warehouse, STRATA_MF_READ, &wh, &err);
	if (rc == STRATA_ECORRUPT || (rc == STRATA_ENOTFOUND && strstr(err.msg, "data.mdb"))) {
		printf("warehouse: %s\n", err.msg);
		printf("check failed: 1 finding\n");
		return CLI_ERROR;
	}
	if (rc)
		return cli_fail(&err);
	size_t n = 0;
	rc = strata_mf_check(strata_wh_mf(wh), table, print_finding, NULL, &n, &err);
	strata_wh_close(wh);
	if (rc == STRATA_ECORRUPT && n) {
		printf("check failed: %zu finding%s\n", n, n == 1 ? "" : "s");
		return CLI_ERROR;
	}
	if (rc)
		return cli_fail(&err);
	printf("check passed: %s is consistent\n", table ? table : "every table");
	return CLI_OK;
}
