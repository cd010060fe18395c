/*
 * cli/cmd_jobs.c — the governance jobs, one-shot: sort, merge, compact,
 * clean, purge; and tags.  The same library code the daemon runs: a bucket
 * job goes through strata_bucket_job_run() (jobs/jobs.h) with the policy
 * defaults (strata_policy_default(), the one table of them), so the command
 * line plans what stratad with a default config plans.  Each job command
 * prints per bucket what it read and wrote and exits 3 on conflict.
 *
 * Each takes --format text|json (tags also jsonl; shapes in cli/out.c).  The
 * long ones (sort, merge, compact, clean, purge) show a progress line on
 * stderr when it is a terminal (cli/progress.c): the bucket they are at
 * and the I/O so far, counted through strata_job_ctl.throttle, which here
 * only counts and never sleeps.
 */
#include "cli/cli.h"
#include "clean/clean.h"
#include "jobs/jobs.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct job_args {
	strata_bucket_job_kind kind;
	cli_format fmt;
	bool drop_history;
	const char *partition; /* spec, NULL: all */
	long bucket;           /* -1: all */
} job_args;

/* The progress of a job command: the line (cli/progress.c) and what it
 * says; the jobs' I/O arrives through strata_job_ctl.throttle, about every
 * MiB. */
typedef struct job_prog {
	cli_progress line;
	uint64_t bytes;     /* read and written so far, every bucket */
	char where[96];     /* "bucket 3 of 16 (p=_ b=2)", or a phase */
} job_prog;

static void job_prog_show(job_prog *jp, bool force)
{
	double mib = (double)jp->bytes / (1024.0 * 1024.0);
	cli_progress_show(&jp->line, force, "%s, %.1f MiB of I/O", jp->where, mib);
}

/* strata_job_ctl.throttle: never sleeps, only counts and shows. */
static void job_prog_io(void *arg, uint64_t bytes)
{
	job_prog *jp = arg;
	jp->bytes += bytes;
	job_prog_show(jp, false);
}

/* One bucket job as the JSON output lists it (cli/out.c's shape). */
static json_t *job_json(const strata_bucket_job_out *jo, const char *pn, uint32_t b, int jrc,
			const strata_err *err)
{
	const strata_job_result *jr = &jo->jr;
	json_t *o = json_object();
	json_object_set_new(o, "job", json_string(jo->what ? jo->what : ""));
	json_object_set_new(o, "partition", json_string(pn));
	json_object_set_new(o, "bucket", json_integer(b));
	json_object_set_new(o, "ok", json_boolean(jrc == 0));
	json_object_set_new(o, "error", jrc ? json_string(err->msg) : json_null());
	json_object_set_new(o, "files_in", json_integer((json_int_t)jr->files_in));
	json_object_set_new(o, "rows_in", cli_json_u64(jr->rows_in));
	json_object_set_new(o, "bytes_in", cli_json_u64(jr->bytes_in));
	json_object_set_new(o, "files_out", json_integer((json_int_t)jr->files_out));
	json_object_set_new(o, "rows_out", cli_json_u64(jr->rows_out));
	json_object_set_new(o, "bytes_out", cli_json_u64(jr->bytes_out));
	json_object_set_new(o, "seconds", json_real(jr->seconds));
	json_object_set_new(o, "version", cli_json_u64(jr->version));
	json_object_set_new(o, "history_floor",
			    jo->new_floor ? cli_json_u64(jo->new_floor) : json_null());
	return o;
}

static int run_jobs(cli_ctx *ctx, const char *table, const job_args *ja)
{
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def t;
	strata_partition *ps;
	size_t np;
	char want[STRATA_PART_NAME_MAX] = "";
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, table, &t, &err) != 0 ||
	    strata_mf_partitions(snap, t.id, a, &ps, &np, &err) != 0 ||
	    (ja->partition && strata_partition_spec(&t, ja->partition, want, sizeof(want), &err))) {
		strata_mf_snap_close(snap);
		rc = cli_fail(&err);
		goto out;
	}
	strata_mf_snap_close(snap);
	char owner[128];
	strata_owner_string("strata", owner, sizeof(owner));
	job_prog prog = {.bytes = 0};
	strata_job_ctl ctl = {.owner = owner, .throttle = job_prog_io, .throttle_arg = &prog};
	int worst = CLI_OK;
	size_t ran = 0, nbuckets = 0, done = 0;
	json_t *jobs = json_array();
	char what[160];
	snprintf(what, sizeof(what), "%s %s", ja->kind == STRATA_BUCKET_JOB_SORT    ? "sort" :
		 ja->kind == STRATA_BUCKET_JOB_MERGE ? "merge" : "compact", table);
	cli_progress_init(&prog.line, what);
	for (size_t p = 0; p < np; p++)
		if (!ja->partition || strcmp(ps[p].name, want) == 0)
			nbuckets += ja->bucket < 0 ? ps[p].buckets : (uint32_t)ja->bucket < ps[p].buckets;
	bool part_found = !ja->partition;
	bool bucket_found = ja->bucket < 0;
	uint32_t most_buckets = 0;
	for (size_t p = 0; p < np; p++) {
		if (ja->partition && strcmp(ps[p].name, want) != 0)
			continue;
		part_found = true;
		if (ps[p].buckets > most_buckets)
			most_buckets = ps[p].buckets;
		if (ja->bucket >= 0 && (uint32_t)ja->bucket < ps[p].buckets)
			bucket_found = true;
		for (uint32_t b = 0; b < ps[p].buckets; b++) {
			if (ja->bucket >= 0 && (uint32_t)ja->bucket != b)
				continue;
			const char *pn = *ps[p].name ? ps[p].name : "_";
			snprintf(prog.where, sizeof(prog.where), "bucket %zu of %zu (p=%.32s b=%u)",
				 done + 1, nbuckets, pn, b);
			job_prog_show(&prog, done == 0); /* then at most every 100 ms */
			done++;
			strata_bucket_job job;
			cli_job_spec(ja->kind, ja->drop_history, &job);
			strata_bucket_job_out jo;
			int jrc = strata_bucket_job_run(wh, table, ps[p].name, b, &job, &ctl, &jo, &err);
			if (jrc == 0 && jo.is_noop)
				continue;
			const strata_job_result *jr = &jo.jr;
			cli_progress_clear(&prog.line);
			if (jrc && !jo.what) {
				worst = cli_fail(&err); /* the view could not be loaded */
				continue;
			}
			if (ja->fmt == CLI_FMT_JSON)
				json_array_append_new(jobs, job_json(&jo, pn, b, jrc, &err));
			if (jrc) {
				fprintf(stderr, "strata: %s of p=%s b=%u: %s\n", jo.what, pn, b, err.msg);
				int code = jrc == STRATA_ECONFLICT ? CLI_CONFLICT : CLI_ERROR;
				if (code > worst || worst == CLI_OK)
					worst = code;
			} else if (ja->fmt == CLI_FMT_TEXT) {
				printf("%s p=%s b=%u: read %zu file%s, %llu rows, %llu bytes; wrote %zu "
				       "file%s, %llu rows, %llu bytes in %.3f s (version %llu)\n",
				       jo.what, pn, b, jr->files_in, jr->files_in == 1 ? "" : "s",
				       (unsigned long long)jr->rows_in,
				       (unsigned long long)jr->bytes_in, jr->files_out,
				       jr->files_out == 1 ? "" : "s", (unsigned long long)jr->rows_out,
				       (unsigned long long)jr->bytes_out, jr->seconds,
				       (unsigned long long)jr->version);
				if (jo.new_floor)
					printf("  history floor of p=%s b=%u is now version %llu\n", pn, b,
					       (unsigned long long)jo.new_floor);
			}
			ran++;
		}
	}
	cli_progress_done(&prog.line);
	if (!part_found) {
		fprintf(stderr, "strata: table \"%s\" has no partition \"%s\"\n", table, ja->partition);
		worst = CLI_ERROR;
	} else if (!bucket_found && np > 0) {
		fprintf(stderr, "strata: table \"%s\" has no bucket %ld%s%s (its partitions have "
			"at most %u bucket%s, numbered from 0)\n", table, ja->bucket,
			ja->partition ? " in partition " : "", ja->partition ? ja->partition : "",
			most_buckets, most_buckets == 1 ? "" : "s");
		worst = CLI_ERROR;
	} else if (ran == 0 && ja->fmt == CLI_FMT_TEXT) {
		printf("nothing to do\n");
	}
	rc = worst;
	/* the document even when a bucket failed: it says which (stderr too) */
	if (ja->fmt == CLI_FMT_JSON && part_found && (bucket_found || np == 0)) {
		int prc = cli_json_print(json_pack("{s:s,s:O}", "table", table, "jobs", jobs));
		if (rc == CLI_OK)
			rc = prc;
	}
	json_decref(jobs);
out:
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}

static int parse_job_args(const cli_cmd *cmd, int argc, char **argv, job_args *ja,
			  const char **table)
{
	static const struct option opts[] = {
		{"partition", required_argument, NULL, 'p'},
		{"bucket", required_argument, NULL, 'b'},
		{"partial", no_argument, NULL, 'P'},
		{"major", no_argument, NULL, 'M'},
		{"drop-history", no_argument, NULL, 'D'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	int c;
	bool partial = false, major = false;
	ja->bucket = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:b:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': ja->partition = optarg; break;
		case 'b': {
			uint64_t b;
			if (!cli_parse_u64(optarg, &b) || b > 4095)
				return cli_usage(cmd, "--bucket wants a bucket number (0..4095)");
			ja->bucket = (long)b;
			break;
		}
		case 'P': partial = true; break;
		case 'M': major = true; break;
		case 'D': ja->drop_history = true; break;
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &ja->fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	*table = argv[optind];
	if (strcmp(cmd->name, "compact") == 0) {
		if (partial == major)
			return cli_usage(cmd, "give exactly one of --partial and --major");
		if (ja->drop_history && !major)
			return cli_usage(cmd, "--drop-history goes with --major");
		ja->kind = major ? STRATA_BUCKET_JOB_MAJOR : STRATA_BUCKET_JOB_PARTIAL;
	} else if (partial || major || ja->drop_history) {
		return cli_usage(cmd, "--partial, --major and --drop-history are for compact");
	}
	return 0;
}

int cli_cmd_sort(cli_ctx *ctx, int argc, char **argv)
{
	job_args ja = {.kind = STRATA_BUCKET_JOB_SORT};
	const char *table;
	int rc = parse_job_args(cli_find("sort"), argc, argv, &ja, &table);
	return rc ? rc : run_jobs(ctx, table, &ja);
}

int cli_cmd_merge(cli_ctx *ctx, int argc, char **argv)
{
	job_args ja = {.kind = STRATA_BUCKET_JOB_MERGE};
	const char *table;
	int rc = parse_job_args(cli_find("merge"), argc, argv, &ja, &table);
	return rc ? rc : run_jobs(ctx, table, &ja);
}

int cli_cmd_compact(cli_ctx *ctx, int argc, char **argv)
{
	job_args ja = {0};
	const char *table;
	int rc = parse_job_args(cli_find("compact"), argc, argv, &ja, &table);
	return rc ? rc : run_jobs(ctx, table, &ja);
}

/* ---- clean, purge --------------------------------------------------------------------- */

/* What clean's per-file decisions and unlinked bytes go to: the progress line, and with
 * --dry-run the listing (text) or the "decisions" array (json). */
typedef struct clean_sink {
	cli_format fmt;
	bool is_dry_run;
	size_t n;
	uint64_t unlinked_bytes;
	json_t *decisions;
	cli_progress line;
} clean_sink;

static void clean_show(clean_sink *cs)
{
	cli_progress_show(&cs->line, false, "%zu files decided, %.1f MiB unlinked", cs->n,
			  (double)cs->unlinked_bytes / (1024.0 * 1024.0));
}

/* strata_clean_opts.throttle: never sleeps, only counts and shows. */
static void on_unlink(void *arg, uint64_t bytes)
{
	clean_sink *cs = arg;
	cs->unlinked_bytes += bytes;
	clean_show(cs);
}

static void on_decision(void *arg, const strata_file_entry *f, const char *decision)
{
	clean_sink *cs = arg;
	cs->n++;
	if (!cs->is_dry_run) {
		clean_show(cs);
		return;
	}
	cli_progress_clear(&cs->line);
	if (cs->fmt == CLI_FMT_JSON) {
		json_array_append_new(
			cs->decisions,
			json_pack("{s:o,s:s,s:i,s:i,s:o,s:o,s:s}", "id", cli_json_u64(f->id), "file",
				  f->name, "bucket", (int)f->bucket, "level", (int)f->level,
				  "removed_version", cli_json_u64(f->removed_version), "bytes",
				  cli_json_u64(f->bytes), "decision", decision));
		return;
	}
	printf("  file %llu %s (b=%u level %u, removed at %llu, %llu bytes): %s\n",
	       (unsigned long long)f->id, f->name, f->bucket, f->level,
	       (unsigned long long)f->removed_version, (unsigned long long)f->bytes, decision);
}

/* The counters of a clean or purge, into the JSON document d (the shapes
 * of cli/out.c). */
static void clean_json(json_t *d, const strata_clean_result *r)
{
	json_object_set_new(d, "version", r->version ? cli_json_u64(r->version) : json_null());
	json_object_set_new(d, "files_deleted", json_integer((json_int_t)r->files_deleted));
	json_object_set_new(d, "bytes_deleted", cli_json_u64(r->bytes_deleted));
	json_object_set_new(d, "files_unlinked", json_integer((json_int_t)r->files_unlinked));
	json_object_set_new(d, "bytes_unlinked", cli_json_u64(r->bytes_unlinked));
	json_object_set_new(d, "trash_files", json_integer((json_int_t)r->trash_files));
	json_object_set_new(d, "trash_bytes", cli_json_u64(r->trash_bytes));
	json_object_set_new(d, "kept_grace", json_integer((json_int_t)r->kept_grace));
	json_object_set_new(d, "kept_lease", json_integer((json_int_t)r->kept_lease));
	json_object_set_new(d, "marked_in_place", json_integer((json_int_t)r->marked_in_place));
	json_object_set_new(d, "kept_tag", json_integer((json_int_t)r->kept_tag));
	json_object_set_new(d, "kept_retention", json_integer((json_int_t)r->kept_retention));
	json_object_set_new(d, "orphans", json_integer((json_int_t)r->orphans));
	json_object_set_new(d, "orphan_bytes", cli_json_u64(r->orphan_bytes));
	json_object_set_new(d, "versions_expired", json_integer((json_int_t)r->versions_expired));
	json_object_set_new(d, "intents_recovered",
			    json_integer((json_int_t)r->intents_recovered));
}

static void print_clean(const strata_clean_result *r, bool dry_run)
{
	if (dry_run) {
		printf("would delete %zu files (%llu bytes); kept: %zu in grace, %zu leased, %zu "
		       "tagged, %zu inside retention; orphans: %zu (%llu bytes)\n",
		       r->files_deleted, (unsigned long long)r->bytes_deleted, r->kept_grace,
		       r->kept_lease, r->kept_tag, r->kept_retention, r->orphans,
		       (unsigned long long)r->orphan_bytes);
		return;
	}
	printf("deleted %zu files (%llu bytes, moved to trash)", r->files_deleted,
	       (unsigned long long)r->bytes_deleted);
	if (r->version)
		printf(" at version %llu", (unsigned long long)r->version);
	printf("; unlinked %zu trash files (%llu bytes); trash holds %zu files (%llu bytes)\n",
	       r->files_unlinked, (unsigned long long)r->bytes_unlinked, r->trash_files,
	       (unsigned long long)r->trash_bytes);
	printf("kept: %zu in grace, %zu leased, %zu tagged, %zu inside retention; orphans "
	       "trashed: %zu (%llu bytes); versions expired: %zu; crashed jobs recovered: %zu\n",
	       r->kept_grace, r->kept_lease, r->kept_tag, r->kept_retention, r->orphans,
	       (unsigned long long)r->orphan_bytes, r->versions_expired, r->intents_recovered);
	if (r->marked_in_place)
		printf("%zu deleted files wait in their bucket for a reader's lease (taken during "
		       "the clean): the next clean moves them to the trash\n",
		       r->marked_in_place);
}

static bool parse_s(const char *s, int64_t *out)
{
	uint64_t v;
	if (!cli_parse_u64(s, &v) || v > (1ull << 40))
		return false;
	*out = (int64_t)v;
	return true;
}

int cli_cmd_clean(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("clean");
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"grace-s", required_argument, NULL, 'g'},
		{"trash-s", required_argument, NULL, 't'},
		{"orphan-age-s", required_argument, NULL, 'o'},
		{"orphan-max-fraction", required_argument, NULL, 'f'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	clean_sink cs = {.fmt = CLI_FMT_TEXT};
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o.dry_run = true; break;
		case 'g':
			if (!parse_s(optarg, &o.grace_s))
				return cli_usage(cmd, "--grace-s wants seconds");
			break;
		case 't':
			if (!parse_s(optarg, &o.trash_s))
				return cli_usage(cmd, "--trash-s wants seconds");
			break;
		case 'o':
			if (!parse_s(optarg, &o.orphan_age_s))
				return cli_usage(cmd, "--orphan-age-s wants seconds");
			break;
		case 'f': {
			char *end;
			o.orphan_max_fraction = strtod(optarg, &end);
			if (end == optarg || *end || !(o.orphan_max_fraction >= 0 &&
						       o.orphan_max_fraction <= 1))
				return cli_usage(cmd, "--orphan-max-fraction wants a number from 0 to 1 "
						      "(got \"%s\")", optarg);
			break;
		}
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &cs.fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	const char *table = argv[optind];
	char what[160];
	snprintf(what, sizeof(what), "clean %s", table);
	cli_progress_init(&cs.line, what);
	cs.is_dry_run = o.dry_run;
	cs.decisions = json_array();
	o.on_file = on_decision;
	o.on_file_arg = &cs;
	o.throttle = on_unlink;
	o.throttle_arg = &cs;
	cli_progress_show(&cs.line, true, "planning");
	strata_err err;
	strata_err_clear(&err);
	strata_clean_result r;
	int crc = strata_clean_table(wh, table, &o, &r, &err);
	cli_progress_done(&cs.line);
	if (crc != 0) {
		rc = cli_fail(&err);
	} else if (cs.fmt == CLI_FMT_JSON) {
		json_t *d = json_object();
		json_object_set_new(d, "table", json_string(table));
		json_object_set_new(d, "dry_run", json_boolean(o.dry_run));
		clean_json(d, &r);
		json_object_set_new(d, "decisions", cs.decisions);
		cs.decisions = NULL;
		rc = cli_json_print(d);
	} else {
		print_clean(&r, o.dry_run);
	}
	json_decref(cs.decisions);
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_undelete(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("undelete");
	static const struct option opts[] = {
		{"clean-version", required_argument, NULL, 'v'},
		{"all", no_argument, NULL, 'a'},
		{"dry-run", no_argument, NULL, 'n'},
		{"trash-s", required_argument, NULL, 't'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	strata_undelete_opts o = {.clean_version = 0};
	cli_format fmt = CLI_FMT_TEXT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!cli_parse_u64(optarg, &o.clean_version) || o.clean_version == 0)
				return cli_usage(cmd, "--clean-version wants a version number (got \"%s\")",
						 optarg);
			break;
		case 'a': o.is_all = true; break;
		case 'n': o.dry_run = true; break;
		case 't':
			if (!parse_s(optarg, &o.trash_s))
				return cli_usage(cmd, "--trash-s wants seconds");
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
	if (o.is_all == (o.clean_version != 0))
		return cli_usage(cmd, "give --clean-version V (a clean's version, see `strata log`) "
				      "or --all, not both; `--all --dry-run` lists what can be undone");
	const char *table = argv[optind];
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_undelete_result r;
	int urc = strata_undelete_table(wh, table, &o, &r, &err);
	if (urc != 0) {
		rc = cli_fail(&err);
	} else if (fmt == CLI_FMT_JSON) {
		json_t *d = json_object(), *cv = json_array();
		json_object_set_new(d, "table", json_string(table));
		json_object_set_new(d, "dry_run", json_boolean(o.dry_run));
		for (size_t i = 0; i < r.ncleans; i++)
			json_array_append_new(cv, cli_json_u64(r.clean_versions[i]));
		json_object_set_new(d, "clean_versions", cv);
		json_object_set_new(d, "files_restored", cli_json_u64(r.files_restored));
		json_object_set_new(d, "bytes_restored", cli_json_u64(r.bytes_restored));
		json_object_set_new(d, "files_moved", cli_json_u64(r.files_moved));
		json_object_set_new(d, "versions_restored", cli_json_u64(r.versions_restored));
		json_object_set_new(d, "earliest_readable_before", cli_json_u64(r.earliest_before));
		json_object_set_new(d, "earliest_readable_after", cli_json_u64(r.earliest_after));
		rc = cli_json_print(d);
	} else {
		printf("%s clean%s", o.dry_run ? "would revert" : "reverted",
		       r.ncleans == 1 ? "" : "s");
		for (size_t i = 0; i < r.ncleans; i++)
			printf("%s%llu", i ? ", " : " ", (unsigned long long)r.clean_versions[i]);
		printf(" of %s: %zu files (%llu bytes) %s, %zu moved back from the trash; %zu version "
		       "records %s\n",
		       table, r.files_restored, (unsigned long long)r.bytes_restored,
		       o.dry_run ? "would come back" : "back", r.files_moved, r.versions_restored,
		       o.dry_run ? "would come back" : "back");
		if (!o.dry_run)
			printf("time travel now starts at version %llu (was %llu)\n",
			       (unsigned long long)r.earliest_after,
			       (unsigned long long)r.earliest_before);
	}
	strata_undelete_result_free(&r);
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_purge(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("purge");
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_DOC, &fmt);
	if (rc)
		return rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	const char *table = argv[optind];
	strata_wh *wh;
	rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_clean_result r;
	strata_buf tags = {0};
	char owner[128];
	strata_owner_string("strata", owner, sizeof(owner));
	job_prog prog = {.bytes = 0};
	strata_job_ctl ctl = {.owner = owner, .throttle = job_prog_io, .throttle_arg = &prog};
	char what[160];
	snprintf(what, sizeof(what), "purge %s", table);
	cli_progress_init(&prog.line, what);
	snprintf(prog.where, sizeof(prog.where), "dropping history");
	job_prog_show(&prog, true);
	int prc = strata_purge_table(wh, table, &ctl, &r, &tags, &err);
	cli_progress_done(&prog.line);
	if (prc != 0) {
		rc = cli_fail(&err);
	} else if (fmt == CLI_FMT_JSON) {
		uint64_t readable = 0, inc = 0;
		strata_table_earliest(wh, table, &readable, &inc, &err);
		json_t *d = json_object(), *dropped = json_array();
		json_object_set_new(d, "table", json_string(table));
		clean_json(d, &r);
		strata_buf_putc(&tags, 0);
		for (char *t = strtok((char *)tags.data, ","); t; t = strtok(NULL, ","))
			json_array_append_new(dropped, json_string(t));
		json_object_set_new(d, "dropped_tags", dropped);
		json_object_set_new(d, "earliest_readable_version", cli_json_u64(readable));
		rc = cli_json_print(d);
	} else {
		uint64_t readable = 0, inc = 0;
		strata_table_earliest(wh, table, &readable, &inc, &err);
		print_clean(&r, false);
		if (tags.len) {
			strata_buf_putc(&tags, 0);
			printf("dropped tags: %s\n", (char *)tags.data);
		}
		printf("purged %s: all history dropped; time travel now starts at version %llu\n",
		       table, (unsigned long long)readable);
	}
	strata_buf_free(&tags);
	strata_wh_close(wh);
	return rc;
}

/* ---- tags --------------------------------------------------------------------------------- */

int cli_cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("tag");
	static const struct option opts[] = {
		{"version", required_argument, NULL, 'v'},
		{"delete", no_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	cli_format fmt = CLI_FMT_TEXT;
	uint64_t version = 0;
	bool is_delete = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:d", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!cli_parse_u64(optarg, &version) || version == 0)
				return cli_usage(cmd, "--version wants a version number");
			break;
		case 'd': is_delete = true; break;
		case 'F':
			if (!cli_format_parse(optarg, CLI_FMTS_DOC, &fmt))
				return cli_format_usage(cmd, CLI_FMTS_DOC, optarg);
			break;
		default:
			return cli_usage(cmd, "bad option");
		}
	}
	if (optind != argc - 2)
		return cli_usage(cmd, "expected NAME TAG");
	if (is_delete && version)
		return cli_usage(cmd, "--delete takes no --version");
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	const char *table = argv[optind], *tag = argv[optind + 1];
	if (is_delete) {
		if (strata_mf_tag_del(strata_wh_mf(wh), table, tag, &err) != 0)
			rc = cli_fail(&err);
		else if (fmt == CLI_FMT_JSON)
			rc = cli_json_print(json_pack("{s:s,s:s,s:n,s:b}", "table", table, "tag", tag,
						      "version", "deleted", 1));
		else
			printf("deleted tag %s of %s\n", tag, table);
	} else if (strata_mf_tag_put(strata_wh_mf(wh), table, tag, version, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		strata_read_opts ro = {.as_of_tag = tag};
		uint64_t v = 0;
		strata_read_version(wh, table, &ro, &v, &err);
		if (fmt == CLI_FMT_JSON)
			rc = cli_json_print(json_pack("{s:s,s:s,s:o,s:b}", "table", table, "tag", tag,
						      "version", cli_json_u64(v), "deleted", 0));
		else
			printf("tagged %s version %llu as %s\n", table, (unsigned long long)v, tag);
	}
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_tags(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("tags");
	cli_format fmt = CLI_FMT_TEXT;
	int rc = cli_parse_format_only(cmd, argc, argv, CLI_FMTS_ROWS, &fmt);
	if (rc)
		return rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one table NAME");
	const char *table = argv[optind];
	strata_wh *wh;
	rc = cli_open_read(ctx, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def t;
	strata_tag *tags;
	size_t n;
	if (strata_mf_snap_open(strata_wh_mf(wh), &snap, &err) != 0 ||
	    strata_mf_table_get(snap, table, &t, &err) != 0 ||
	    strata_mf_tags_list(snap, t.id, a, &tags, &n, &err) != 0) {
		rc = cli_fail(&err);
	} else if (fmt != CLI_FMT_TEXT) {
		cli_rows rows;
		cli_rows_begin(&rows, fmt);
		for (size_t i = 0; i < n; i++)
			cli_rows_put(&rows, json_pack("{s:s,s:o,s:I,s:o}", "name", tags[i].name,
						      "version", cli_json_u64(tags[i].version),
						      "created_us", (json_int_t)tags[i].created_us,
						      "created", cli_json_time(tags[i].created_us)));
		cli_rows_end(&rows);
	} else {
		for (size_t i = 0; i < n; i++) {
			strata_buf b = {0};
			strata_timestamp_format(tags[i].created_us, &b);
			strata_buf_putc(&b, 0);
			printf("%s\tversion %llu\tcreated %s\n", tags[i].name,
			       (unsigned long long)tags[i].version, (char *)b.data);
			strata_buf_free(&b);
		}
	}
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	strata_wh_close(wh);
	return rc;
}
