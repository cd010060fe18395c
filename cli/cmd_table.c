/*
 * cli/cmd_table.c — init, create-table, alter-table, describe, tables,
 * rollback.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("init");
	if (argc > 1)
		return cli_usage(cmd, "unexpected argument \"%s\"", argv[1]);
	strata_wh *wh;
	int rc = cli_open(ctx, true, &wh);
	if (rc)
		return rc;
	printf("initialised warehouse %s\n", ctx->warehouse);
	strata_wh_close(wh);
	return CLI_OK;
}

int cli_cmd_create_table(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("create-table");
	static const struct option opts[] = {
		{"columns", required_argument, NULL, 'c'},
		{"primary-key", required_argument, NULL, 'k'},
		{"partitioned-by", required_argument, NULL, 'p'},
		{"property", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	const char *columns = NULL, *pk = NULL, *parts = NULL;
	const char **props = calloc((size_t)argc + 1, sizeof(char *));
	size_t nprops = 0;
	int c, rc = CLI_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:k:p:P:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': columns = optarg; break;
		case 'k': pk = optarg; break;
		case 'p': parts = optarg; break;
		case 'P': props[nprops++] = optarg; break;
		default:
			rc = cli_usage(cmd, "bad option");
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage(cmd, "expected one table NAME");
		goto out;
	}
	if (!columns) {
		rc = cli_usage(cmd, "--columns is required");
		goto out;
	}
	strata_wh *wh;
	rc = cli_open(ctx, false, &wh);
	if (rc)
		goto out;
	strata_err err;
	strata_err_clear(&err);
	if (strata_table_create(wh, argv[optind], columns, pk, parts, props, nprops, &err) != 0)
		rc = cli_fail(&err);
	else
		printf("created table %s\n", argv[optind]);
	strata_wh_close(wh);
out:
	free(props);
	return rc;
}

int cli_cmd_alter_table(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("alter-table");
	if (argc < 4)
		return cli_usage(cmd, "expected NAME and an action");
	const char *name = argv[1], *action = argv[2];
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	uint64_t v = 0;
	if (strcmp(action, "add-columns") == 0 || strcmp(action, "add-column") == 0) {
		if (argc != 4) {
			rc = cli_usage(cmd, "add-columns takes one quoted column list");
		} else if (strata_table_add_columns(wh, name, argv[3], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "drop-column") == 0) {
		if (argc != 4) {
			rc = cli_usage(cmd, "drop-column takes one column name");
		} else if (strata_table_drop_column(wh, name, argv[3], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "rename-column") == 0) {
		if (argc != 5) {
			rc = cli_usage(cmd, "rename-column takes OLD NEW");
		} else if (strata_table_rename_column(wh, name, argv[3], argv[4], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "alter-column") == 0) {
		if (argc != 5) {
			rc = cli_usage(cmd, "alter-column takes COLUMN and one quoted TYPE");
		} else if (strata_table_alter_column_type(wh, name, argv[3], argv[4], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "set") == 0) {
		if (strata_table_set_props(wh, name, (const char *const *)argv + 3,
					   (size_t)(argc - 3), &err) != 0)
			rc = cli_fail(&err);
		else
			printf("altered table %s\n", name);
	} else if (strcmp(action, "drop-partition") == 0) {
		size_t nfiles = 0;
		if (argc != 4) {
			rc = cli_usage(cmd, "drop-partition takes one quoted partition 'pt=x/dt=y'");
		} else if (strata_table_drop_partition(wh, name, argv[3], &v, &nfiles, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			printf("dropped partition %s of %s at version %llu (%zu file%s)\n", argv[3],
			       name, (unsigned long long)v, nfiles, nfiles == 1 ? "" : "s");
		}
	} else {
		rc = cli_usage(cmd,
			       "unknown action \"%s\" (add-columns, drop-column, rename-column, "
			       "alter-column, set, drop-partition)",
			       action);
	}
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_tables(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("tables");
	if (argc > 1)
		return cli_usage(cmd, "unexpected argument \"%s\"", argv[1]);
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		strata_table_def *ts;
		size_t n;
		if (strata_mf_tables_list(snap, a, &ts, &n, &err) != 0) {
			rc = cli_fail(&err);
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s\tversion %llu\n", ts[i].name,
				       (unsigned long long)ts[i].version);
		}
		strata_mf_snap_close(snap);
	}
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}

/* Per-level totals of live files. */
typedef struct level_stat {
	uint64_t files, rows, bytes;
} level_stat;

int cli_cmd_describe(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("describe");
	if (argc != 2)
		return cli_usage(cmd, "expected one table NAME");
	const char *name = argv[1];
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_schema *s = NULL;
	strata_table_def t;
	uint64_t er = 0, ei = 0;
	if (strata_table_earliest(wh, name, &er, &ei, &err) != 0 ||
	    strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, name, &t, &err) != 0 ||
	    strata_mf_schema_get(snap, t.id, t.schema_version, &s, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("table: %s\n", t.name);
	printf("version: %llu (schema version %u)\n", (unsigned long long)t.version,
	       t.schema_version);
	printf("columns:\n");
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		char ty[32];
		printf("  %-20s %-9s%s%s\n", c->name, strata_column_type_str(c, ty, sizeof(ty)),
		       c->is_nullable ? "" : " NOT NULL",
		       c->key_pos >= 0 ? " PRIMARY KEY" : "");
	}
	printf("primary key: ");
	for (uint32_t k = 0; k < s->nkeys; k++)
		printf("%s%s", k ? "," : "", s->cols[s->key_cols[k]].name);
	printf("\n");
	if (t.nparts) {
		printf("partitioned by: ");
		for (uint32_t i = 0; i < t.nparts; i++)
			printf("%s%s STRING", i ? ", " : "", t.part_cols[i]);
		printf("\n");
	}
	strata_buf props = {0};
	strata_table_props_format(&t, &props);
	strata_buf_putc(&props, 0);
	printf("properties:\n");
	for (char *line = strtok((char *)props.data, "\n"); line; line = strtok(NULL, "\n"))
		printf("  %s\n", line);
	strata_buf_free(&props);
	strata_partition *ps;
	size_t np;
	strata_file_entry *files;
	size_t nf;
	if (strata_mf_partitions(snap, t.id, a, &ps, &np, &err) != 0 ||
	    strata_mf_table_files(snap, t.id, a, &files, &nf, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("partitions: %zu\n", np);
	level_stat lv[16];
	memset(lv, 0, sizeof(lv));
	uint64_t removed = 0, removed_bytes = 0;
	for (size_t i = 0; i < nf; i++) {
		if (files[i].removed_version == 0) {
			unsigned l = files[i].level < 15 ? files[i].level : 15;
			lv[l].files++;
			lv[l].rows += files[i].rows;
			lv[l].bytes += files[i].bytes;
		} else if (!files[i].is_deleted) {
			removed++;
			removed_bytes += files[i].bytes;
		}
	}
	printf("live files by level:\n");
	for (int l = 0; l < 16; l++)
		if (lv[l].files)
			printf("  level %d: %llu files, %llu rows, %llu bytes\n", l,
			       (unsigned long long)lv[l].files, (unsigned long long)lv[l].rows,
			       (unsigned long long)lv[l].bytes);
	printf("removed files awaiting clean: %llu (%llu bytes)\n", (unsigned long long)removed,
	       (unsigned long long)removed_bytes);
	printf("earliest_readable_version: %llu\n", (unsigned long long)er);
	printf("earliest_incremental_version: %llu\n", (unsigned long long)ei);
	strata_tag *tags;
	size_t ntags;
	if (strata_mf_tags_list(snap, t.id, a, &tags, &ntags, &err) == 0 && ntags) {
		printf("tags:\n");
		for (size_t i = 0; i < ntags; i++)
			printf("  %s = version %llu\n", tags[i].name,
			       (unsigned long long)tags[i].version);
	}
out:
	strata_schema_free(s);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_rollback(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("rollback");
	static const struct option opts[] = {
		{"to-version", required_argument, NULL, 'v'},
		{"to-tag", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	uint64_t to = 0;
	const char *tag = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!cli_parse_u64(optarg, &to) || to == 0)
				return cli_usage(cmd, "--to-version wants a version number (got \"%s\")",
						 optarg);
			break;
		case 't': tag = optarg; break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	if ((to != 0) == (tag != NULL))
		return cli_usage(cmd, "give exactly one of --to-version and --to-tag");
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	const char *name = argv[optind];
	uint64_t v = 0;
	strata_rollback_stats st;
	if (strata_table_rollback(wh, name, to, tag, &v, &st, &err) != 0)
		rc = cli_fail(&err);
	else if (st.is_noop)
		printf("%s is at version %llu already; nothing was committed\n", name,
		       (unsigned long long)v);
	else
		printf("rolled back %s to version %llu at version %llu (%llu upserts, %llu "
		       "deletes)\n",
		       name, (unsigned long long)st.to_version, (unsigned long long)v,
		       (unsigned long long)st.upserts, (unsigned long long)st.deletes);
	strata_wh_close(wh);
	return rc;
}
