/*
 * cli/cmd_table.c — init, create-table, alter-table, describe, tables,
 * rollback.
 *
 * Each takes --format text|json (tables also jsonl): the JSON shapes are
 * cli_json_shapes[] (cli/out.c), documented in docs/CLI.md.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("init");
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL;
	cli_format fmt = CLI_FMT_TEXT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (c == 'd')
			data = optarg;
		else if (c == 'F' && !cli_format_parse(optarg, CLI_FMTS_DOC, &fmt))
			return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
		else if (c != 'F')
			return cli_usage(cmd, "bad option");
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (!ctx->warehouse || !*ctx->warehouse)
		return cli_open(ctx, true, NULL); /* says what is missing */
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	if (strata_wh_create(ctx->warehouse, data, &wh, &err) != 0)
		return cli_fail(&err);
	strata_wh_close(wh);
	char name[600];
	strata_warehouse_display(ctx->warehouse, name, sizeof(name));
	if (fmt == CLI_FMT_JSON)
		return cli_json_print(json_pack("{s:s}", "warehouse", name));
	if (data)
		printf("initialised warehouse %s (data files in %s)\n", name, data);
	else
		printf("initialised warehouse %s\n", name);
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
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	cli_format fmt = CLI_FMT_TEXT;
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
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &fmt)) {
				rc = cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
				goto out;
			}
			break;
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
	else if (fmt == CLI_FMT_JSON)
		rc = cli_json_print(json_pack("{s:s}", "table", argv[optind]));
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
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_DOC, &fmt);
	if (rc)
		return rc;
	/* the operands, after getopt_long moved the options in front */
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 4)
		return cli_usage(cmd, "expected NAME and an action");
	const char *name = argv[1], *action = argv[2];
	strata_wh *wh;
	rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	json_t *doc = json_object();
	json_object_set_new(doc, "table", json_string(name));
	json_object_set_new(doc, "action", json_string(action));
	strata_err err;
	strata_err_clear(&err);
	uint64_t v = 0;
	if (strcmp(action, "add-columns") == 0 || strcmp(action, "add-column") == 0) {
		if (argc != 4) {
			rc = cli_usage(cmd, "add-columns takes one quoted column list");
		} else if (strata_table_add_columns(wh, name, argv[3], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else if (fmt == CLI_FMT_TEXT) {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "drop-column") == 0) {
		if (argc != 4) {
			rc = cli_usage(cmd, "drop-column takes one column name");
		} else if (strata_table_drop_column(wh, name, argv[3], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else if (fmt == CLI_FMT_TEXT) {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "rename-column") == 0) {
		if (argc != 5) {
			rc = cli_usage(cmd, "rename-column takes OLD NEW");
		} else if (strata_table_rename_column(wh, name, argv[3], argv[4], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else if (fmt == CLI_FMT_TEXT) {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "alter-column") == 0) {
		if (argc != 5) {
			rc = cli_usage(cmd, "alter-column takes COLUMN and one quoted TYPE");
		} else if (strata_table_alter_column_type(wh, name, argv[3], argv[4], &v, &err) != 0) {
			rc = cli_fail(&err);
		} else if (fmt == CLI_FMT_TEXT) {
			printf("altered table %s at version %llu\n", name, (unsigned long long)v);
		}
	} else if (strcmp(action, "set") == 0) {
		if (strata_table_set_props(wh, name, (const char *const *)argv + 3,
					   (size_t)(argc - 3), &err) != 0)
			rc = cli_fail(&err);
		else if (fmt == CLI_FMT_TEXT)
			printf("altered table %s\n", name);
	} else if (strcmp(action, "drop-partition") == 0) {
		size_t nfiles = 0;
		if (argc != 4) {
			rc = cli_usage(cmd, "drop-partition takes one quoted partition 'pt=x/dt=y'");
		} else if (strata_table_drop_partition(wh, name, argv[3], &v, &nfiles, &err) != 0) {
			rc = cli_fail(&err);
		} else if (fmt == CLI_FMT_JSON) {
			json_object_set_new(doc, "partition", json_string(argv[3]));
			json_object_set_new(doc, "files", json_integer((json_int_t)nfiles));
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
	if (rc == 0 && fmt == CLI_FMT_JSON) {
		json_object_set_new(doc, "version", v ? cli_json_u64(v) : json_null());
		if (!json_object_get(doc, "partition"))
			json_object_set_new(doc, "partition", json_null());
		if (!json_object_get(doc, "files"))
			json_object_set_new(doc, "files", json_null());
		return cli_json_print(doc);
	}
	json_decref(doc);
	return rc;
}

int cli_cmd_tables(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("tables");
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_ROWS, &fmt);
	if (rc)
		return rc;
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
	strata_wh *wh;
	rc = cli_open_read(ctx, &wh);
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
		} else if (fmt != CLI_FMT_TEXT) {
			cli_rows rows;
			cli_rows_begin(&rows, fmt);
			for (size_t i = 0; i < n; i++)
				cli_rows_put(&rows, json_pack("{s:s,s:o}", "name", ts[i].name, "version",
							      cli_json_u64(ts[i].version)));
			cli_rows_end(&rows);
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

/* What describe counts of a table's entries: live files per level and the
 * removed ones clean has not taken yet, from the briefs (a table of
 * tombstones costs a few field reads per entry, nothing copied). */
typedef struct describe_count {
	level_stat lv[16];
	uint64_t removed, removed_bytes;
} describe_count;

static int describe_entry(void *arg, const strata_file_brief *b)
{
	describe_count *dc = arg;
	if (b->removed_version == 0) {
		unsigned l = b->level < 15 ? b->level : 15;
		dc->lv[l].files++;
		dc->lv[l].rows += b->rows;
		dc->lv[l].bytes += b->bytes;
	} else if (!b->is_deleted) {
		dc->removed++;
		dc->removed_bytes += b->bytes;
	}
	return 0;
}

/* describe's JSON document (cli/out.c's shape), from what it read. */
static json_t *describe_json(const strata_table_def *t, const strata_schema *s, size_t np,
			     const level_stat *lv, uint64_t removed, uint64_t removed_bytes,
			     uint64_t er, uint64_t ei, const strata_tag *tags, size_t ntags,
			     char *props)
{
	json_t *d = json_object(), *cols = json_array(), *pk = json_array(), *parts = json_array();
	json_t *pr = json_object(), *levels = json_array(), *tg = json_array();
	json_object_set_new(d, "table", json_string(t->name));
	json_object_set_new(d, "version", cli_json_u64(t->version));
	json_object_set_new(d, "schema_version", json_integer(t->schema_version));
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		char ty[32];
		json_array_append_new(cols, json_pack("{s:s,s:s,s:b,s:o}", "name", c->name, "type",
						      strata_column_type_str(c, ty, sizeof(ty)),
						      "nullable",
						      c->is_nullable, "key_position",
						      c->key_pos >= 0 ? json_integer(c->key_pos) :
									json_null()));
	}
	json_object_set_new(d, "columns", cols);
	for (uint32_t k = 0; k < s->nkeys; k++)
		json_array_append_new(pk, json_string(s->cols[s->key_cols[k]].name));
	json_object_set_new(d, "primary_key", pk);
	for (uint32_t i = 0; i < t->nparts; i++)
		json_array_append_new(parts, json_string(t->part_cols[i]));
	json_object_set_new(d, "partitioned_by", parts);
	for (char *line = strtok(props, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			json_object_set_new(pr, line, json_string(eq + 1));
		}
	}
	json_object_set_new(d, "properties", pr);
	json_object_set_new(d, "partitions", json_integer((json_int_t)np));
	for (int l = 0; l < 16; l++)
		if (lv[l].files)
			json_array_append_new(levels,
					      json_pack("{s:i,s:o,s:o,s:o}", "level", l, "files",
							cli_json_u64(lv[l].files), "rows",
							cli_json_u64(lv[l].rows), "bytes",
							cli_json_u64(lv[l].bytes)));
	json_object_set_new(d, "levels", levels);
	json_object_set_new(d, "removed_files", cli_json_u64(removed));
	json_object_set_new(d, "removed_bytes", cli_json_u64(removed_bytes));
	json_object_set_new(d, "earliest_readable_version", cli_json_u64(er));
	json_object_set_new(d, "earliest_incremental_version", cli_json_u64(ei));
	for (size_t i = 0; i < ntags; i++)
		json_array_append_new(tg, json_pack("{s:s,s:o}", "name", tags[i].name, "version",
						    cli_json_u64(tags[i].version)));
	json_object_set_new(d, "tags", tg);
	return d;
}

int cli_cmd_describe(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("describe");
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_DOC, &fmt);
	if (rc)
		return rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	const char *name = argv[optind];
	strata_wh *wh;
	rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_schema *s = NULL;
	strata_buf props = {0};
	strata_table_def t;
	uint64_t er = 0, ei = 0;
	strata_partition *ps;
	size_t np;
	describe_count dc = {0};
	strata_tag *tags = NULL;
	size_t ntags = 0;
	if (strata_table_earliest(wh, name, &er, &ei, &err) != 0 ||
	    strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, name, &t, &err) != 0 ||
	    strata_mf_schema_get(snap, t.id, t.schema_version, &s, &err) != 0 ||
	    strata_mf_partitions(snap, t.id, a, &ps, &np, &err) != 0 ||
	    strata_mf_table_visit(snap, t.id, describe_entry, &dc, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (strata_mf_tags_list(snap, t.id, a, &tags, &ntags, &err) != 0)
		ntags = 0;
	level_stat *lv = dc.lv;
	uint64_t removed = dc.removed, removed_bytes = dc.removed_bytes;
	strata_table_props_format(&t, &props);
	strata_buf_putc(&props, 0);
	if (fmt == CLI_FMT_JSON) {
		rc = cli_json_print(describe_json(&t, s, np, lv, removed, removed_bytes, er, ei, tags,
						  ntags, (char *)props.data));
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
	printf("properties:\n");
	for (char *line = strtok((char *)props.data, "\n"); line; line = strtok(NULL, "\n"))
		printf("  %s\n", line);
	printf("partitions: %zu\n", np);
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
	if (ntags) {
		printf("tags:\n");
		for (size_t i = 0; i < ntags; i++)
			printf("  %s = version %llu\n", tags[i].name,
			       (unsigned long long)tags[i].version);
	}
out:
	strata_buf_free(&props);
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
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	cli_format fmt = CLI_FMT_TEXT;
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
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
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
	else if (fmt == CLI_FMT_JSON)
		rc = cli_json_print(json_pack("{s:s,s:o,s:o,s:b,s:o,s:o}", "table", name, "version",
					      cli_json_u64(v), "to_version",
					      cli_json_u64(st.is_noop ? v : st.to_version), "is_noop",
					      st.is_noop, "upserts", cli_json_u64(st.upserts), "deletes",
					      cli_json_u64(st.deletes)));
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
