/* format/parquet_stub.c — placeholder until format/parquet*.c lands. */
#include "format/format_int.h"

static int stub_wopen(const char *path, const strata_schema *schema,
		      const strata_write_opts *opts, void **state, strata_err *err)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED, "parquet writer not built");
}
static int stub_ropen(const char *path, const strata_schema *fs, void **state, strata_err *err)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED, "parquet reader not built");
}
static int stub_describe(const char *path, FILE *out, strata_err *err)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED, "parquet reader not built");
}
const strata_fw_backend strata_parquet_writer = {.name = "parquet", .open = stub_wopen};
const strata_fr_backend strata_parquet_reader = {.name = "parquet", .open = stub_ropen,
						 .describe = stub_describe};
