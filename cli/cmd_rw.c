/*
 * cli/cmd_rw.c — write, scan, get, changes, delete --where.
 *
 * Output formats of scan and changes: jsonl (one JSON object per row, the
 * default), json (the same objects as one array, cli/out.c's listing), csv
 * (RFC 4180 with a header line) and table (aligned, for people; it buffers
 * the rows).  Partition columns follow the data columns.  write and get
 * take --format text|json (get prints its row as JSON either way); a write
 * of many lines shows a progress line on a terminal (cli/progress.c).
 *
 * Invariants:
 *   1. csv and table print no control character a value holds: every byte
 *      below 0x20 and 0x7f, the C1 controls (U+0080..U+009F), the bidi
 *      overrides (U+202A..U+202E, U+2066..U+2069) and bytes that are not
 *      UTF-8 are shown as visible escapes (text_escape), so a value cannot
 *      draw a fake row, move the cursor or recolour the terminal.  A
 *      backslash is doubled, so the escaped text is unambiguous; jsonl, the
 *      default, stays the exact form.
 *   2. each csv line is one row (no value spans lines), quoted per RFC 4180.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- write ----------------------------------------------------------------------- */

/* A write of this many lines is large: it shows a progress line on a
 * terminal (cli/progress.c) even before its first second is up. */
#define WRITE_PROGRESS_LINES 50000

/* --token-time: "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z]" (UTC) or Unix seconds
 * (`date +%s`).  Never relative ("-60"): a retry would move it. */
static bool token_time_parse(const char *s, int64_t *out_us)
{
	uint64_t sec;
	if (strspn(s, "0123456789") == strlen(s)) {
		if (!cli_parse_u64(s, &sec) || sec == 0 || sec > 253402300799ull)
			return false;
		*out_us = (int64_t)sec * 1000000;
		return true;
	}
	return s[0] != '-' && strata_timestamp_parse(s, out_us) == 0 && *out_us > 0;
}

/* The options every commit takes (write, delete), in a command's option
 * table, and their short letters in its getopt string: "t:T:e:". */
#define COMMIT_OPTIONS                                                                     \
	{"token", required_argument, NULL, 't'},                                           \
	{"token-time", required_argument, NULL, 'T'},                                      \
	{"expect-version", required_argument, NULL, 'e'}

/* One of COMMIT_OPTIONS, c as getopt gives it, into co.  CLI_OK, or the
 * usage error for a bad value. */
static int commit_opt_parse(const cli_cmd *cmd, int c, const char *arg, strata_commit_opts *co)
{
	switch (c) {
	case 't':
		if (!*arg)
			return cli_usage(cmd, "--token wants a non-empty token (leave the option "
					      "out for none)");
		co->token = arg;
		break;
	case 'T':
		if (!token_time_parse(arg, &co->token_us))
			return cli_usage(cmd, "--token-time wants a time (ISO 8601 such as "
					      "2026-01-02T03:04:05Z, or Unix seconds), got \"%s\"",
					 arg);
		break;
	case 'e':
		if (!cli_parse_u64(arg, &co->expect_version) || co->expect_version == 0)
			return cli_usage(cmd, "--expect-version wants a version number");
		break;
	}
	return CLI_OK;
}

/* After the options: --token and --token-time go together.  why_time says
 * (in the command's words) why a token needs its time. */
static int commit_opts_check(const cli_cmd *cmd, const strata_commit_opts *co,
			     const char *why_time)
{
	if (co->token && !co->token_us)
		return cli_usage(cmd, "--token needs --token-time: %s", why_time);
	if (co->token_us && !co->token)
		return cli_usage(cmd, "--token-time goes with --token");
	return CLI_OK;
}

/* Back-pressure reports of a commit (table/txn.c), on stderr: the writer
 * sees why it waits and for how long at most. */
static void write_stall_report(void *arg, const strata_stall *st)
{
	cli_progress_clear(arg);
	switch (st->kind) {
	case STRATA_STALL_SLOW:
		fprintf(stderr, "strata: back-pressure: slowed by %lld ms: %s\n",
			(long long)st->delay_ms, st->why);
		break;
	case STRATA_STALL_WAIT:
		fprintf(stderr,
			"strata: back-pressure: waiting for a sort (up to %lld s): %s\n",
			(long long)(st->delay_ms / 1000), st->why);
		break;
	case STRATA_STALL_RELEASED:
		fprintf(stderr, "strata: back-pressure: going on: %s\n", st->why);
		break;
	}
}

int cli_cmd_write(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("write");
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		COMMIT_OPTIONS,
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	const char *file = NULL;
	cli_format fmt = CLI_FMT_TEXT;
	strata_commit_opts co = {0};
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:t:e:T:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 't':
		case 'T':
		case 'e':
			if ((rc = commit_opt_parse(cmd, c, optarg, &co)) != CLI_OK)
				return rc;
			break;
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
	rc = commit_opts_check(cmd, &co,
			       "when this batch was first attempted, the same on every retry, so that "
			       "a retry older than the table's token horizon is refused instead of "
			       "committed twice (docs/CLI.md, \"Idempotent writes\")");
	if (rc != CLI_OK)
		return rc;
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
	rc = cli_open(ctx, false, &wh);
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
	cli_progress prog;
	char what[96];
	snprintf(what, sizeof(what), "write %s", name);
	cli_progress_init(&prog, what);
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
		json_t *obj;
		int prc = strata_json_parse(line, (size_t)len, &obj, &err);
		if (prc == 0)
			prc = strata_txn_put_json(t, obj, &err);
		json_decref(obj);
		/* a large write shows how far it got: after a second or
		 * WRITE_PROGRESS_LINES lines, whichever comes first */
		if (lineno >= WRITE_PROGRESS_LINES || strata_mono_us() - prog.t0_us >= 1000000)
			cli_progress_show(&prog, false, "%llu lines read",
					  (unsigned long long)lineno);
		if (prc) {
			cli_progress_done(&prog);
			fprintf(stderr, "strata: %s line %llu: %s\n", file ? file : "stdin",
				(unsigned long long)lineno, err.msg);
			rc = CLI_ERROR;
			goto out;
		}
	}
	if (ferror(in)) {
		cli_progress_done(&prog);
		fprintf(stderr, "strata: could not read %s\n", file ? file : "stdin");
		rc = CLI_ERROR;
		goto out;
	}
	size_t nrows = strata_txn_rows(t);
	uint64_t v;
	bool is_repeat = false;
	co.on_stall = write_stall_report;
	co.stall_arg = &prog;
	if (prog.is_shown)
		cli_progress_show(&prog, true, "%zu rows read, committing", nrows);
	int crc = strata_txn_commit(t, &co, &v, &is_repeat, &err);
	cli_progress_done(&prog);
	t = NULL;
	if (crc) {
		rc = cli_fail(&err);
		goto out;
	}
	if (fmt == CLI_FMT_JSON)
		rc = cli_json_print(json_pack("{s:s,s:o,s:o,s:b,s:o}", "table", name, "version",
					      cli_json_u64(v), "rows", json_integer((json_int_t)nrows),
					      "is_repeat", is_repeat, "token",
					      co.token ? json_string(co.token) : json_null()));
	else if (is_repeat)
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

typedef enum { OUT_JSONL, OUT_CSV, OUT_TABLE, OUT_JSON } out_format;

typedef struct out_ctx {
	out_format fmt;
	cli_rows rows; /* jsonl and json */
	const strata_schema *s;
	const strata_table_def *t;
	bool with_meta;
	strata_buf line;
	/* table format: buffered cells */
	char **cells;
	size_t ncells, cap;
	size_t ncols;
} out_ctx;

/* Length of the well-formed UTF-8 sequence at p[0..n) (2 to 4), its code
 * point in *cp; 0 if it is not one (overlong, surrogate, > U+10FFFF, cut). */
static size_t utf8_seq(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
	if (len == 0 || p[0] > 0xf4 || len > n)
		return 0;
	uint32_t c = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* invariant 1: append p[0..n) with every control byte, C1 control, bidi
 * override and non-UTF-8 byte as a visible escape (\n \r \t \\ \xNN
 * \uNNNN). */
static void text_escape(strata_buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f) {
			if (c == '\\')
				strata_buf_putc(b, '\\');
			strata_buf_putc(b, c);
			i++;
			continue;
		}
		if (c == '\n' || c == '\r' || c == '\t') {
			char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};
			strata_buf_append(b, e, 2);
			i++;
			continue;
		}
		uint32_t cp = 0;
		size_t len = c >= 0x80 ? utf8_seq(p + i, n - i, &cp) : 0;
		if (len == 0) { /* C0 control, DEL, or a byte that is not UTF-8 */
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			strata_buf_append(b, e, 4);
			i++;
		} else if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) ||
			   (cp >= 0x2066 && cp <= 0x2069)) {
			strata_buf_printf(b, "\\u%04x", (unsigned)cp);
			i += len;
		} else {
			strata_buf_append(b, p + i, len);
			i += len;
		}
	}
}

/* invariant 2: the escaped text, quoted when it holds a comma, a quote or
 * a leading or trailing space. */
static void csv_cell(strata_buf *b, const uint8_t *raw, size_t rawn)
{
	strata_buf esc = {0};
	text_escape(&esc, raw, rawn);
	const uint8_t *p = esc.data;
	size_t n = esc.len;
	bool quote = false;
	for (size_t i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '"')
			quote = true;
	if (n && (p[0] == ' ' || p[n - 1] == ' '))
		quote = true;
	if (!quote) {
		strata_buf_append(b, p, n);
	} else {
		strata_buf_putc(b, '"');
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '"')
				strata_buf_putc(b, '"');
			strata_buf_putc(b, p[i]);
		}
		strata_buf_putc(b, '"');
	}
	strata_buf_free(&esc);
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

/* A table cell: the escaped text (invariant 1). */
static void out_push_escaped(out_ctx *o, const uint8_t *p, size_t n)
{
	strata_buf esc = {0};
	text_escape(&esc, p, n);
	out_push_cell(o, esc.len ? (const char *)esc.data : "", esc.len);
	strata_buf_free(&esc);
}

static void out_header(out_ctx *o)
{
	o->ncols = o->s->ncols + o->t->nparts + (o->with_meta ? 2 : 0);
	if (o->fmt == OUT_JSONL || o->fmt == OUT_JSON) {
		cli_rows_begin(&o->rows, o->fmt == OUT_JSON ? CLI_FMT_JSON : CLI_FMT_JSONL);
		return;
	}
	strata_buf_reset(&o->line);
	for (uint32_t i = 0; i < o->s->ncols + o->t->nparts + (o->with_meta ? 2 : 0); i++) {
		const char *name = i < o->s->ncols ? o->s->cols[i].name :
				   i < o->s->ncols + o->t->nparts ? o->t->part_cols[i - o->s->ncols] :
				   i == o->s->ncols + o->t->nparts ? "_seq" : "_op";
		if (o->fmt == OUT_CSV) {
			if (i)
				strata_buf_putc(&o->line, ',');
			csv_cell(&o->line, (const uint8_t *)name, strlen(name));
		} else {
			out_push_escaped(o, (const uint8_t *)name, strlen(name));
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
	if (o->fmt == OUT_JSONL || o->fmt == OUT_JSON) {
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
		strata_buf_putc(b, '}');
		cli_rows_put_text(&o->rows, (const char *)b->data, b->len);
		return;
	}
	strata_buf cell = {0};
	for (size_t i = 0; i < o->ncols; i++) {
		strata_buf_reset(&cell);
		if (i < o->s->ncols) {
			if (o->fmt == OUT_TABLE && row->vals[i].is_null)
				strata_buf_printf(&cell, "NULL");
			else
				strata_column_value_to_text(&o->s->cols[i], &row->vals[i], &cell);
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
			out_push_escaped(o, cell.data, cell.len);
		}
	}
	strata_buf_free(&cell);
	if (o->fmt == OUT_CSV) {
		strata_buf_putc(b, '\n');
		fwrite(b->data, 1, b->len, stdout);
	}
}

/* rc: the scan's result; a failed json listing stays unterminated
 * (cli/out.c: the exit status says it failed). */
static void out_finish(out_ctx *o, int rc)
{
	if ((o->fmt == OUT_JSONL || o->fmt == OUT_JSON) && rc >= 0)
		cli_rows_end(&o->rows);
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
	out_finish(o, rc);
	return rc;
}

/* ---- scan ---------------------------------------------------------------------------- */

/* --verbose: what a predicate let the read skip, one line on stderr. */
static void prune_report(const char *what, const strata_scan *s, const strata_scan_prune *given)
{
	strata_scan_prune p;
	if (s)
		strata_scan_prune_get(s, &p);
	else
		p = *given;
	fprintf(stderr,
		"strata: %s: %llu files planned, %llu read, %llu skipped (%llu by partition, %llu by "
		"bucket, %llu by key range, %llu by statistics); %llu pages skipped; %llu rows "
		"tested, %llu matched\n",
		what, (unsigned long long)p.files, (unsigned long long)p.files_read,
		(unsigned long long)(p.files_by_partition + p.files_by_bucket + p.files_by_key +
				     p.files_by_stats),
		(unsigned long long)p.files_by_partition, (unsigned long long)p.files_by_bucket,
		(unsigned long long)p.files_by_key, (unsigned long long)p.files_by_stats,
		(unsigned long long)p.pages_skipped, (unsigned long long)p.rows_tested,
		(unsigned long long)p.rows_matched);
}

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
		{"where", required_argument, NULL, 'w'},
		{"verbose", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	strata_read_opts ro = {0};
	out_ctx o = {.fmt = OUT_JSONL};
	bool is_verbose = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:t:g:p:c:f:w:V", opts, NULL)) != -1) {
		switch (c) {
		case 'w': ro.where = optarg; break;
		case 'V': is_verbose = true; break;
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
			else if (strcmp(optarg, "json") == 0)
				o.fmt = OUT_JSON;
			else
				return cli_usage(cmd, "--format is jsonl, json, csv or table");
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
		else if (is_verbose)
			prune_report("scan", s, NULL);
		strata_scan_close(s);
	}
	strata_wh_close(wh);
	return rc;
}

/* ---- delete --------------------------------------------------------------------------- */

int cli_cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("delete");
	static const struct option opts[] = {
		{"where", required_argument, NULL, 'w'},
		{"partition", required_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'n'},
		COMMIT_OPTIONS,
		{"verbose", no_argument, NULL, 'V'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	const char *where = NULL, *partition = NULL;
	bool is_dry_run = false, is_verbose = false;
	strata_commit_opts co = {0};
	cli_format fmt = CLI_FMT_TEXT;
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:p:nt:T:e:V", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
		case 'w': where = optarg; break;
		case 'p': partition = optarg; break;
		case 'n': is_dry_run = true; break;
		case 'V': is_verbose = true; break;
		case 't':
		case 'T':
		case 'e':
			if ((rc = commit_opt_parse(cmd, c, optarg, &co)) != CLI_OK)
				return rc;
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	if (!where)
		return cli_usage(cmd, "--where is required (there is no delete of every row: drop "
				      "partitions or purge instead)");
	rc = commit_opts_check(cmd, &co,
			       "when this delete was first attempted, the same on every retry "
			       "(docs/CLI.md, \"Idempotent writes\")");
	if (rc != CLI_OK)
		return rc;
	strata_wh *wh;
	rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_delete_stats st;
	co.on_stall = write_stall_report;
	if (strata_table_delete_where(wh, argv[optind], where, partition, is_dry_run, &co, &st,
				      &err) != 0) {
		rc = cli_fail(&err);
	} else {
		unsigned long long n = (unsigned long long)st.deleted;
		if (fmt == CLI_FMT_JSON)
			rc = cli_json_print(json_pack(
				"{s:s,s:b,s:o,s:o,s:o,s:b,s:o}", "table", argv[optind], "dry_run",
				is_dry_run, "read_version", cli_json_u64(st.scan_version), "keys",
				cli_json_u64(st.deleted), "version", cli_json_u64(st.version), "is_repeat",
				st.is_repeat, "token", co.token ? json_string(co.token) : json_null()));
		else if (is_dry_run)
			printf("would delete %llu key%s (read at version %llu); nothing committed\n", n,
			       n == 1 ? "" : "s", (unsigned long long)st.scan_version);
		else if (st.is_repeat)
			printf("version %llu already committed with token \"%s\"; nothing written\n",
			       (unsigned long long)st.version, co.token);
		else if (n == 0)
			printf("no key matches; nothing to commit; table is at version %llu\n",
			       (unsigned long long)st.version);
		else
			printf("committed version %llu (%llu key%s deleted)\n",
			       (unsigned long long)st.version, n, n == 1 ? "" : "s");
		if (is_verbose)
			prune_report("delete", NULL, &st.prune);
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
			else if (strcmp(optarg, "json") == 0)
				o.fmt = OUT_JSON;
			else
				return cli_usage(cmd, "--format is jsonl, json, csv or table");
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
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	strata_read_opts ro = {0};
	const char *key = NULL;
	cli_format fmt = CLI_FMT_TEXT;
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
		case 'F': /* text and json print the same: the row is JSON */
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1 || !key)
		return cli_usage(cmd, "expected NAME --key JSON");
	json_t *k;
	strata_err kerr;
	strata_err_clear(&kerr);
	if (strata_json_parse(key, strlen(key), &k, &kerr) != 0)
		return cli_usage(cmd, "--key must be a JSON object (%s)", kerr.msg);
	if (!json_is_object(k)) {
		json_decref(k);
		return cli_usage(cmd, "--key must be a JSON object (not an object)");
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
