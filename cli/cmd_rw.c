/*
 * cli/cmd_rw.c — write, scan, get, changes.
 *
 * Output formats of scan: jsonl (one JSON object per row, the default), csv
 * (RFC 4180 with a header line) and table (aligned, for people; it buffers
 * the rows).  Partition columns follow the data columns.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- write ----------------------------------------------------------------------- */

int cli_cmd_write(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("write");
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"token", required_argument, NULL, 't'},
		{"expect-version", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL;
	strata_commit_opts co = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:t:e:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 't': co.token = optarg; break;
		case 'e':
			if (!cli_parse_u64(optarg, &co.expect_version) || co.expect_version == 0)
				return cli_usage(cmd, "--expect-version wants a version number");
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	const char *name = argv[optind];
	FILE *in = stdin;
	if (file && strcmp(file, "-") != 0) {
		in = fopen(file, "r");
		if (!in) {
			fprintf(stderr, "strata: could not open \"%s\": %s\n", file, strerror(errno));
			return CLI_ERROR;
		}
	}
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc) {
		if (in != stdin)
			fclose(in);
		return rc;
	}
	strata_err err;
	strata_err_clear(&err);
	strata_txn *t = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0;
	if (strata_txn_begin(wh, name, &t, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	while ((len = getline(&line, &cap, in)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		json_error_t jerr;
		json_t *obj = json_loadb(line, (size_t)len, 0, &jerr);
		if (!obj) {
			fprintf(stderr, "strata: %s line %llu: malformed JSON at column %d: %s\n",
				file ? file : "stdin", (unsigned long long)lineno, jerr.column, jerr.text);
			rc = CLI_ERROR;
			goto out;
		}
		int prc = strata_txn_put_json(t, obj, &err);
		json_decref(obj);
		if (prc) {
			fprintf(stderr, "strata: %s line %llu: %s\n", file ? file : "stdin",
				(unsigned long long)lineno, err.msg);
			rc = CLI_ERROR;
			goto out;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "strata: could not read %s\n", file ? file : "stdin");
		rc = CLI_ERROR;
		goto out;
	}
	size_t nrows = strata_txn_rows(t);
	uint64_t v;
	bool is_repeat = false;
	int crc = strata_txn_commit(t, &co, &v, &is_repeat, &err);
	t = NULL;
	if (crc) {
		rc = cli_fail(&err);
		goto out;
	}
	if (is_repeat)
		printf("version %llu already committed with token \"%s\"; nothing written\n",
		       (unsigned long long)v, co.token);
	else if (nrows == 0)
		printf("nothing to commit; table is at version %llu\n", (unsigned long long)v);
	else
		printf("committed version %llu (%zu row%s)\n", (unsigned long long)v, nrows,
		       nrows == 1 ? "" : "s");
out:
	strata_txn_abort(t);
	free(line);
	if (in != stdin)
		fclose(in);
	strata_wh_close(wh);
	return rc;
}

/* ---- output ----------------------------------------------------------------------- */

typedef enum { OUT_JSONL, OUT_CSV, OUT_TABLE } out_format;

typedef struct out_ctx {
	out_format fmt;
	const strata_schema *s;
	const strata_table_def *t;
	bool with_meta;
	strata_buf line;
	/* table format: buffered cells */
	char **cells;
	size_t ncells, cap;
	size_t ncols;
} out_ctx;

static void csv_cell(strata_buf *b, const uint8_t *p, size_t n)
{
	bool quote = false;
	for (size_t i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r')
			quote = true;
	if (!quote) {
		strata_buf_append(b, p, n);
		return;
	}
	strata_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			strata_buf_putc(b, '"');
		strata_buf_putc(b, p[i]);
	}
	strata_buf_putc(b, '"');
}

static void out_push_cell(out_ctx *o, const char *s, size_t n)
{
	if (o->ncells == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 256;
		o->cells = strata_realloc(o->cells, o->cap * sizeof(char *));
	}
	char *c = strata_malloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	o->cells[o->ncells++] = c;
}

static void out_header(out_ctx *o)
{
	o->ncols = o->s->ncols + o->t->nparts + (o->with_meta ? 2 : 0);
	if (o->fmt == OUT_JSONL)
		return;
	strata_buf_reset(&o->line);
	for (uint32_t i = 0; i < o->s->ncols + o->t->nparts + (o->with_meta ? 2 : 0); i++) {
		const char *name = i < o->s->ncols ? o->s->cols[i].name :
				   i < o->s->ncols + o->t->nparts ? o->t->part_cols[i - o->s->ncols] :
				   i == o->s->ncols + o->t->nparts ? "_seq" : "_op";
		if (o->fmt == OUT_CSV) {
			if (i)
				strata_buf_putc(&o->line, ',');
			strata_buf_append(&o->line, name, strlen(name));
		} else {
			out_push_cell(o, name, strlen(name));
		}
	}
	if (o->fmt == OUT_CSV) {
		strata_buf_putc(&o->line, '\n');
		fwrite(o->line.data, 1, o->line.len, stdout);
	}
}

static void out_row(out_ctx *o, const strata_row *row, const char *const *pv)
{
	strata_buf *b = &o->line;
	strata_buf_reset(b);
	if (o->fmt == OUT_JSONL) {
		strata_row_to_json(o->s, row, false, b);
		b->len--; /* reopen the object */
		for (uint32_t i = 0; i < o->t->nparts; i++) {
			strata_value v = {.v.s = {(const uint8_t *)pv[i], (uint32_t)strlen(pv[i])}};
			strata_buf_printf(b, "%s\"%s\":", o->s->ncols || i ? "," : "", o->t->part_cols[i]);
			strata_value_to_json(STRATA_T_STRING, &v, b);
		}
		if (o->with_meta)
			strata_buf_printf(b, ",\"_seq\":%lld,\"_op\":\"%s\"", (long long)row->seq,
					  row->op == STRATA_OP_DELETE ? "delete" : "upsert");
		strata_buf_append(b, "}\n", 2);
		fwrite(b->data, 1, b->len, stdout);
		return;
	}
	strata_buf cell = {0};
	for (size_t i = 0; i < o->ncols; i++) {
		strata_buf_reset(&cell);
		if (i < o->s->ncols) {
			if (o->fmt == OUT_TABLE && row->vals[i].is_null)
				strata_buf_printf(&cell, "NULL");
			else
				strata_value_to_text(o->s->cols[i].type, &row->vals[i], &cell);
		} else if (i < o->s->ncols + o->t->nparts) {
			strata_buf_printf(&cell, "%s", pv[i - o->s->ncols]);
		} else if (i == o->s->ncols + o->t->nparts) {
			strata_buf_printf(&cell, "%lld", (long long)row->seq);
		} else {
			strata_buf_printf(&cell, "%s", row->op == STRATA_OP_DELETE ? "delete" : "upsert");
		}
		if (o->fmt == OUT_CSV) {
			if (i)
				strata_buf_putc(b, ',');
			csv_cell(b, cell.data, cell.len);
		} else {
			out_push_cell(o, (const char *)cell.data, cell.len);
		}
	}
	strata_buf_free(&cell);
	if (o->fmt == OUT_CSV) {
		strata_buf_putc(b, '\n');
		fwrite(b->data, 1, b->len, stdout);
	}
}

static void out_finish(out_ctx *o)
{
	if (o->fmt == OUT_TABLE && o->ncols) {
		size_t *w = calloc(o->ncols, sizeof(size_t));
		for (size_t i = 0; i < o->ncells; i++) {
			size_t l = strlen(o->cells[i]);
			if (l > w[i % o->ncols])
				w[i % o->ncols] = l;
		}
		for (size_t i = 0; i < o->ncells; i++) {
			size_t col = i % o->ncols;
			if (col + 1 == o->ncols)
				printf("%s\n", o->cells[i]);
			else
				printf("%-*s | ", (int)w[col], o->cells[i]);
			if (i + 1 == o->ncols) {
				for (size_t c = 0; c < o->ncols; c++) {
					for (size_t k = 0; k < w[c]; k++)
						putchar('-');
					printf("%s", c + 1 == o->ncols ? "\n" : "-+-");
				}
			}
		}
		printf("(%zu row%s)\n", o->ncells / o->ncols - 1, o->ncells / o->ncols == 2 ? "" : "s");
		free(w);
	}
	for (size_t i = 0; i < o->ncells; i++)
		free(o->cells[i]);
	free(o->cells);
	strata_buf_free(&o->line);
}

static int drain(strata_scan *s, out_ctx *o, strata_err *err)
{
	o->s = strata_scan_schema(s);
	o->t = strata_scan_table(s);
	out_header(o);
	const strata_row *row;
	const char *const *pv;
	int rc;
	while ((rc = strata_scan_next(s, &row, &pv, err)) == 1)
		out_row(o, row, pv);
	out_finish(o);
	return rc;
}

/* ---- scan ---------------------------------------------------------------------------- */

int cli_cmd_scan(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("scan");
	static const struct option opts[] = {
		{"as-of-version", required_argument, NULL, 'v'},
		{"as-of-time", required_argument, NULL, 't'},
		{"as-of-tag", required_argument, NULL, 'g'},
		{"partition", required_argument, NULL, 'p'},
		{"columns", required_argument, NULL, 'c'},
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	strata_read_opts ro = {0};
	out_ctx o = {.fmt = OUT_JSONL};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:t:g:p:c:f:", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!cli_parse_u64(optarg, &ro.as_of_version) || ro.as_of_version == 0)
				return cli_usage(cmd, "--as-of-version wants a version number (>= 1)");
			break;
		case 't':
			if (!cli_parse_time(optarg, &ro.as_of_time_us))
				return cli_usage(cmd, "--as-of-time wants 'YYYY-MM-DD HH:MM:SS[.ffffff]' "
						      "(UTC) or -SECONDS");
			ro.has_as_of_time = true;
			break;
		case 'g': ro.as_of_tag = optarg; break;
		case 'p': ro.partition = optarg; break;
		case 'c': ro.columns = optarg; break;
		case 'f':
			if (strcmp(optarg, "jsonl") == 0)
				o.fmt = OUT_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				o.fmt = OUT_CSV;
			else if (strcmp(optarg, "table") == 0)
				o.fmt = OUT_TABLE;
			else
				return cli_usage(cmd, "--format is jsonl, csv or table");
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_scan *s;
	if (strata_scan_open(wh, argv[optind], &ro, &s, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		if (drain(s, &o, &err) < 0)
			rc = cli_fail(&err);
		strata_scan_close(s);
	}
	strata_wh_close(wh);
	return rc;
}

/* ---- changes --------------------------------------------------------------------------- */

int cli_cmd_changes(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("changes");
	static const struct option opts[] = {
		{"between", no_argument, NULL, 'b'},
		{"partition", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	const char *partition = NULL;
	bool has_between = false;
	out_ctx o = {.fmt = OUT_JSONL, .with_meta = true};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "bp:f:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': has_between = true; break;
		case 'p': partition = optarg; break;
		case 'f':
			if (strcmp(optarg, "jsonl") == 0)
				o.fmt = OUT_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				o.fmt = OUT_CSV;
			else if (strcmp(optarg, "table") == 0)
				o.fmt = OUT_TABLE;
			else
				return cli_usage(cmd, "--format is jsonl, csv or table");
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	uint64_t v1, v2;
	if (!has_between || optind != argc - 3 || !cli_parse_u64(argv[optind + 1], &v1) ||
	    !cli_parse_u64(argv[optind + 2], &v2))
		return cli_usage(cmd, "expected NAME --between V1 V2");
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_scan *s;
	if (strata_changes_open(wh, argv[optind], v1, v2, partition, &s, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		if (drain(s, &o, &err) < 0)
			rc = cli_fail(&err);
		strata_scan_close(s);
	}
	strata_wh_close(wh);
	return rc;
}

/* ---- get ---------------------------------------------------------------------------------- */

int cli_cmd_get(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("get");
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"as-of-version", required_argument, NULL, 'v'},
		{"as-of-time", required_argument, NULL, 't'},
		{"as-of-tag", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	strata_read_opts ro = {0};
	const char *key = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:v:t:g:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'v':
			if (!cli_parse_u64(optarg, &ro.as_of_version) || ro.as_of_version == 0)
				return cli_usage(cmd, "--as-of-version wants a version number (>= 1)");
			break;
		case 't':
			if (!cli_parse_time(optarg, &ro.as_of_time_us))
				return cli_usage(cmd, "--as-of-time wants 'YYYY-MM-DD HH:MM:SS[.ffffff]' "
						      "(UTC) or -SECONDS");
			ro.has_as_of_time = true;
			break;
		case 'g': ro.as_of_tag = optarg; break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1 || !key)
		return cli_usage(cmd, "expected NAME --key JSON");
	json_error_t jerr;
	json_t *k = json_loads(key, 0, &jerr);
	if (!k || !json_is_object(k)) {
		json_decref(k);
		return cli_usage(cmd, "--key must be a JSON object (%s)", k ? "not an object" : jerr.text);
	}
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc) {
		json_decref(k);
		return rc;
	}
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_row row;
	strata_schema *s = NULL;
	int found = strata_get_json(wh, argv[optind], k, &ro, a, &row, &s, NULL, &err);
	if (found < 0) {
		rc = cli_fail(&err);
	} else if (found == 0) {
		fprintf(stderr, "strata: key not found\n");
		rc = CLI_ERROR;
	} else {
		strata_buf b = {0};
		strata_row_to_json(s, &row, false, &b);
		/* the partition columns, as scan prints them */
		const char *pk;
		json_t *pv;
		b.len--;
		json_object_foreach(k, pk, pv) {
			if (strata_schema_find(s, pk) >= 0 || !json_is_string(pv))
				continue;
			strata_value v = {.v.s = {(const uint8_t *)json_string_value(pv),
						  (uint32_t)json_string_length(pv)}};
			strata_buf_printf(&b, ",\"%s\":", pk);
			strata_value_to_json(STRATA_T_STRING, &v, &b);
		}
		strata_buf_append(&b, "}\n", 2);
		fwrite(b.data, 1, b.len, stdout);
		strata_buf_free(&b);
	}
	strata_schema_free(s);
	strata_arena_free(a);
	json_decref(k);
	strata_wh_close(wh);
	return rc;
}
