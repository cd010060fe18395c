/*
 * cli/cmd_info.c — log, files, file cat, file meta.
 *
 * log and files take --format text|json|jsonl (cli/out.c): a row of the
 * listing per version or file entry, the fields of cli_json_shapes[].
 * `file cat` prints JSON lines always; `file meta` is a description for
 * people only.
 */
#include "cli/cli.h"
#include "store/store.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void print_time(int64_t us)
{
	strata_buf b = {0};
	strata_timestamp_format(us, &b);
	strata_buf_putc(&b, 0);
	printf("%s", (char *)b.data);
	strata_buf_free(&b);
}

int cli_cmd_log(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("log");
	static const struct option opts[] = {
		{"limit", required_argument, NULL, 'n'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	uint64_t limit = 0;
	cli_format fmt = CLI_FMT_TEXT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (c == 'F') {
			if (!cli_format_parse(optarg, CLI_FMTS_ROWS, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_ROWS, optarg);
			continue;
		}
		if (c != 'n' || !cli_parse_u64(optarg, &limit))
			return cli_usage(cmd, "--limit wants a number");
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_version_rec *vs;
	size_t n;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, argv[optind], &t, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	uint64_t from = 0;
	if (limit && t.version > limit)
		from = t.version - limit + 1;
	if (strata_mf_versions_list(snap, t.id, from, SIZE_MAX, a, &vs, &n, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (fmt != CLI_FMT_TEXT) {
		cli_rows rows;
		cli_rows_begin(&rows, fmt);
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_object();
			json_object_set_new(o, "version", cli_json_u64(vs[i].version));
			json_object_set_new(o, "ts_us", json_integer(vs[i].ts_us));
			json_object_set_new(o, "time", cli_json_time(vs[i].ts_us));
			json_object_set_new(o, "kind", json_string(strata_vkind_name(vs[i].kind)));
			json_object_set_new(o, "added", json_integer(vs[i].nadded));
			json_object_set_new(o, "removed", json_integer(vs[i].nremoved));
			json_object_set_new(o, "note", json_string(vs[i].note));
			cli_rows_put(&rows, o);
		}
		cli_rows_end(&rows);
		goto out;
	}
	printf("%-8s %-26s %-8s %6s %8s  %s\n", "version", "time (UTC)", "kind", "added",
	       "removed", "note");
	for (size_t i = 0; i < n; i++) {
		printf("%-8llu ", (unsigned long long)vs[i].version);
		print_time(vs[i].ts_us);
		printf(" %-8s %6u %8u  %s\n", strata_vkind_name(vs[i].kind), vs[i].nadded,
		       vs[i].nremoved, vs[i].note);
	}
	if (t.log_start > 1)
		printf("(versions before %llu have left the retention window)\n",
		       (unsigned long long)t.log_start);
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}

/* A key as JSON: the object of its columns, or the hex string
 * strata_key_to_json gives for a key that does not decode. */
static json_t *key_json(const strata_schema *s, const uint8_t *key, size_t len)
{
	strata_buf b = {0};
	strata_key_to_json(s, key, len, &b);
	json_t *j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, NULL);
	strata_buf_free(&b);
	return j ? j : json_null();
}

/* One file entry as `files --format json` prints it (cli/out.c's shape). */
static json_t *file_json(const strata_schema *s, const strata_file_entry *f, const char *pname)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", cli_json_u64(f->id));
	json_object_set_new(o, "partition", json_string(pname));
	json_object_set_new(o, "bucket", json_integer(f->bucket));
	json_object_set_new(o, "level", json_integer(f->level));
	json_object_set_new(o, "format", json_string(strata_format_name(f->format)));
	json_object_set_new(o, "rows", cli_json_u64(f->rows));
	json_object_set_new(o, "bytes", cli_json_u64(f->bytes));
	json_object_set_new(o, "seq_min", json_integer(f->seq_min));
	json_object_set_new(o, "seq_max", json_integer(f->seq_max));
	json_object_set_new(o, "added_version", cli_json_u64(f->added_version));
	json_object_set_new(o, "removed_version",
			    f->removed_version ? cli_json_u64(f->removed_version) : json_null());
	json_object_set_new(o, "is_deleted", json_boolean(f->is_deleted));
	json_object_set_new(o, "key_min", key_json(s, f->key_min, f->key_min_len));
	json_object_set_new(o, "key_max", key_json(s, f->key_max, f->key_max_len));
	json_object_set_new(o, "file", json_string(f->name));
	json_object_set_new(o, "is_inline", json_boolean(strata_file_is_inline(f)));
	return o;
}

/* The entries `strata files` prints, whole: the live ones (every one with
 * --all), picked from the briefs so that a table of tombstones decodes only
 * what it prints (daemon/plan.c, "Entries are read light"). */
typedef struct files_pick {
	strata_arena *a;
	bool is_all;
	strata_file_entry *v; /* malloc'd */
	size_t n, cap;
	strata_err *err;
} files_pick;

static int files_pick_one(void *arg, const strata_file_brief *b)
{
	files_pick *p = arg;
	if (!p->is_all && b->removed_version)
		return 0;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = strata_realloc(p->v, p->cap * sizeof(*p->v));
	}
	if (strata_mf_brief_entry(b, p->a, &p->v[p->n]) != 0)
		return strata_err_set(p->err, STRATA_ECORRUPT, "manifest file entry %llu is damaged",
				      (unsigned long long)b->id);
	p->n++;
	return 0;
}

int cli_cmd_files(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("files");
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	bool all = false;
	cli_format fmt = CLI_FMT_TEXT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
		if (c == 'F') {
			if (!cli_format_parse(optarg, CLI_FMTS_ROWS, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_ROWS, optarg);
			continue;
		}
		if (c != 'a')
			return cli_usage(cmd, "bad option");
		all = true;
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_mf_snap *snap = NULL;
	strata_arena *a = strata_arena_new();
	strata_table_def t;
	strata_schema *s = NULL;
	files_pick pick = {.a = a, .is_all = all, .err = &err};
	strata_partition *ps;
	size_t np;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, argv[optind], &t, &err) != 0 ||
	    strata_mf_schema_get(snap, t.id, t.schema_version, &s, &err) != 0 ||
	    strata_mf_partitions(snap, t.id, a, &ps, &np, &err) != 0 ||
	    strata_mf_table_visit(snap, t.id, files_pick_one, &pick, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	const strata_file_entry *fs = pick.v;
	size_t n = pick.n;
	cli_rows rows;
	if (fmt == CLI_FMT_TEXT)
		printf("%-6s %-12s %-6s %-5s %-7s %8s %10s %-13s %-7s %-8s  %s  %s\n", "id",
		       "partition", "bucket", "level", "format", "rows", "bytes", "_seq", "added",
		       "removed", "key range", "file");
	else
		cli_rows_begin(&rows, fmt);
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = &fs[i];
		if (!all && f->removed_version)
			continue;
		const char *pname = "";
		for (size_t j = 0; j < np; j++)
			if (ps[j].id == f->part_id)
				pname = ps[j].name;
		if (fmt != CLI_FMT_TEXT) {
			cli_rows_put(&rows, file_json(s, f, pname));
			continue;
		}
		char seq[40], removed[32];
		snprintf(seq, sizeof(seq), "%lld..%lld", (long long)f->seq_min, (long long)f->seq_max);
		if (f->removed_version)
			snprintf(removed, sizeof(removed), "%llu%s",
				 (unsigned long long)f->removed_version, f->is_deleted ? "(del)" : "");
		else
			snprintf(removed, sizeof(removed), "-");
		strata_buf kr = {0};
		strata_key_to_json(s, f->key_min, f->key_min_len, &kr);
		strata_buf_append(&kr, " .. ", 4);
		strata_key_to_json(s, f->key_max, f->key_max_len, &kr);
		strata_buf_putc(&kr, 0);
		printf("%-6llu %-12s %-6u %-5u %-7s %8llu %10llu %-13s %-7llu %-8s  %s  %s%s\n",
		       (unsigned long long)f->id, *pname ? pname : "-", f->bucket, f->level,
		       strata_format_name(f->format), (unsigned long long)f->rows,
		       (unsigned long long)f->bytes, seq, (unsigned long long)f->added_version,
		       removed, (char *)kr.data, f->name,
		       strata_file_is_inline(f) ? " (inline: in the manifest)" : "");
		strata_buf_free(&kr);
	}
	if (fmt != CLI_FMT_TEXT)
		cli_rows_end(&rows);
out:
	free(pick.v);
	strata_schema_free(s);
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}

/* The manifest entry of the data file at path, when path lies in the
 * configured warehouse and an entry names it (live or not): 1 with *out
 * (keys in a), 0 when there is none (a file from elsewhere: nothing to
 * check it against; a warehouse that cannot be opened is said on stderr),
 * or < 0 when the manifest cannot be read. */
static int file_entry_find(cli_ctx *ctx, const char *path, strata_arena *a,
			   strata_file_entry *out, strata_err *err)
{
	char want[PATH_MAX], wh_real[PATH_MAX];
	/* an object (s3://...) is compared by its URI with the entries' */
	bool is_remote = strata_data_is_remote(path);
	if (!ctx->warehouse || !*ctx->warehouse)
		return 0;
	if (is_remote) {
		snprintf(want, sizeof(want), "%s", path);
	} else {
		if (!realpath(path, want) || !realpath(ctx->warehouse, wh_real))
			return 0;
		size_t wl = strlen(wh_real);
		if (strncmp(want, wh_real, wl) != 0 || want[wl] != '/')
			return 0;
	}
	strata_wh *wh = NULL;
	strata_mf_snap *snap = NULL;
	int rc = strata_wh_open_mode(ctx->warehouse, STRATA_MF_READ, &wh, err);
	if (rc) {
		/* the file is still readable on its own: say what is not checked */
		fprintf(stderr, "strata: %s: not checked against its manifest entry: %s\n", path,
			err->msg);
		strata_err_clear(err);
		return 0;
	}
	rc = strata_mf_snap_open(strata_wh_mf(wh), &snap, err);
	strata_table_def *ts = NULL;
	size_t nt = 0;
	if (rc == 0)
		rc = strata_mf_tables_list(snap, a, &ts, &nt, err);
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		strata_file_entry *fs;
		strata_partition *ps;
		size_t n, np;
		rc = strata_mf_partitions(snap, ts[i].id, a, &ps, &np, err);
		if (rc == 0)
			rc = strata_mf_table_files(snap, ts[i].id, a, &fs, &n, err);
		for (size_t k = 0; rc == 0 && k < n; k++) {
			const char *pname = "";
			for (size_t j = 0; j < np; j++)
				if (ps[j].id == fs[k].part_id)
					pname = ps[j].name;
			char fp[4096], real[PATH_MAX];
			strata_file_path(strata_wh_mf(wh), ts[i].name, pname, &fs[k], fp, sizeof(fp));
			if (is_remote ? strcmp(fp, want) == 0 :
					(realpath(fp, real) && strcmp(real, want) == 0)) {
				*out = fs[k];
				rc = 1;
			}
		}
	}
	strata_mf_snap_close(snap);
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_file(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("file");
	if (argc != 3 || (strcmp(argv[1], "cat") != 0 && strcmp(argv[1], "meta") != 0))
		return cli_usage(cmd, "expected `file cat PATH` or `file meta PATH`");
	strata_err err;
	strata_err_clear(&err);
	if (strncmp(argv[2], "s3://", 5) == 0)
		strata_store_s3_register(); /* the AWS environment says where */
	if (strcmp(argv[1], "meta") == 0) {
		if (strata_file_describe(argv[2], stdout, &err) != 0)
			return cli_fail(&err);
		return CLI_OK;
	}
	/* a file of the warehouse is checked against its entry: rows, key
	 * range and content hash (the read is whole) */
	strata_arena *a = strata_arena_new();
	strata_file_entry fe;
	strata_run_expect ex;
	strata_run_opts ro = {0};
	int frc = file_entry_find(ctx, argv[2], a, &fe, &err);
	if (frc < 0) {
		strata_arena_free(a);
		return cli_fail(&err);
	}
	if (frc == 1) {
		strata_file_expect(&fe, true, &ex);
		ro.expect = &ex;
		ro.default_seq = fe.seq_max;
	}
	strata_run *r;
	if (strata_run_open(argv[2], &ro, &r, &err) != 0) {
		strata_arena_free(a);
		return cli_fail(&err);
	}
	const strata_schema *s = strata_run_file_schema(r);
	bool has_seq = strata_run_format(r) == STRATA_FMT_PARQUET;
	const strata_row *row;
	strata_buf b = {0};
	int rc;
	while ((rc = strata_run_next(r, &row, NULL, NULL, &err)) == 1) {
		strata_buf_reset(&b);
		strata_row_to_json(s, row, false, &b);
		b.len--;
		if (has_seq)
			strata_buf_printf(&b, "%s\"_seq\":%lld", s->ncols ? "," : "", (long long)row->seq);
		strata_buf_printf(&b, "%s\"_op\":\"%s\"}\n", s->ncols || has_seq ? "," : "",
				  row->op == STRATA_OP_DELETE ? "delete" : "upsert");
		fwrite(b.data, 1, b.len, stdout);
	}
	strata_buf_free(&b);
	strata_run_close(r);
	strata_arena_free(a);
	if (rc < 0)
		return cli_fail(&err);
	return CLI_OK;
}
