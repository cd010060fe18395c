/*
 * cli/util.c — helpers shared by the commands: errors and exit codes,
 * opening the warehouse, parsing numbers and times.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* -SECONDS reaches back at most this far (about 31700 years), so
 * now - SECONDS * 1e6 stays far inside int64. */
#define CLI_MAX_AGO_S 1e12

int cli_fail(const strata_err *err)
{
	fprintf(stderr, "strata: %s\n", err->msg[0] ? err->msg : strata_strerror(err->code));
	return err->code == STRATA_ECONFLICT ? CLI_CONFLICT : CLI_ERROR;
}

int cli_usage(const cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "strata %s: ", cmd->name);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: strata %s\n", cmd->usage);
	return CLI_USAGE;
}

int cli_open(cli_ctx *ctx, bool create, strata_wh **out)
{
	return cli_open_mode(ctx, create ? STRATA_MF_CREATE : STRATA_MF_WRITE, out);
}

int cli_open_read(cli_ctx *ctx, strata_wh **out)
{
	return cli_open_mode(ctx, STRATA_MF_READ, out);
}

int cli_open_mode(cli_ctx *ctx, strata_mf_mode mode, strata_wh **out)
{
	if (!ctx->warehouse || !*ctx->warehouse) {
		fprintf(stderr, "strata: no warehouse given: use -W PATH or set "
				"STRATA_WAREHOUSE\n");
		return CLI_USAGE;
	}
	strata_err err;
	strata_err_clear(&err);
	if (strata_wh_open_mode(ctx->warehouse, mode, out, &err) != 0)
		return cli_fail(&err);
	return CLI_OK;
}

bool cli_wants_help(const cli_cmd *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: strata %s\n\n%s\n", cmd->usage, cmd->help);
			return true;
		}
	}
	return false;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
	/* digits only: strtoull would take " -5" as a huge number */
	if (!s || !isdigit((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool cli_parse_time(const char *s, int64_t *out_us)
{
	if (s[0] == '-') {
		/* plain decimal seconds: strtod also takes inf, nan and hex, and a
		 * huge value would overflow the subtraction below */
		if (!isdigit((unsigned char)s[1]) || strspn(s + 1, "0123456789.") != strlen(s + 1))
			return false;
		char *end;
		errno = 0;
		double sec = strtod(s + 1, &end);
		if (errno || *end || end == s + 1 || !(sec >= 0 && sec <= CLI_MAX_AGO_S))
			return false;
		*out_us = strata_now_us() - (int64_t)(sec * 1e6);
		return true;
	}
	return strata_timestamp_parse(s, out_us) == 0;
}

void cli_job_spec(strata_bucket_job_kind kind, bool drop_history, strata_bucket_job *out)
{
	strata_bucket_job_default(out, kind); /* the policy defaults: jobs/jobs.h */
	out->drop_history = drop_history;
}
