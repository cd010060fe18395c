/*
 * cli/cmd_jobs.c — the governance jobs, one-shot: sort, merge, compact,
 * clean, purge; and tags.  The same library code the daemon runs: a bucket
 * job goes through strata_bucket_job_run() (jobs/jobs.h) with the policy
 * defaults (strata_policy_default(), the one table of them), so the command
 * line plans what stratad with a default config plans.  Each job command
 * prints per bucket what it read and wrote and exits 3 on conflict.
 */
#include "cli/cli.h"
#include "clean/clean.h"
#include "jobs/jobs.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct job_args {
	strata_bucket_job_kind kind;
	bool drop_history;
	const char *partition; /* spec, NULL: all */
	long bucket;           /* -1: all */
} job_args;

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
	strata_job_ctl ctl = {.owner = owner};
	int worst = CLI_OK;
	size_t ran = 0;
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
			strata_bucket_job job;
			cli_job_spec(ja->kind, ja->drop_history, &job);
			strata_bucket_job_out jo;
			int jrc = strata_bucket_job_run(wh, table, ps[p].name, b, &job, &ctl, &jo, &err);
			if (jrc == 0 && jo.is_noop)
				continue;
			const char *pn = *ps[p].name ? ps[p].name : "_";
			const strata_job_result *jr = &jo.jr;
			if (jrc && !jo.what) {
				worst = cli_fail(&err); /* the view could not be loaded */
				continue;
			}
			if (jrc) {
				fprintf(stderr, "strata: %s of p=%s b=%u: %s\n", jo.what, pn, b, err.msg);
				int code = jrc == STRATA_ECONFLICT ? CLI_CONFLICT : CLI_ERROR;
				if (code > worst || worst == CLI_OK)
					worst = code;
			} else {
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
	if (!part_found) {
		fprintf(stderr, "strata: table \"%s\" has no partition \"%s\"\n", table, ja->partition);
		worst = CLI_ERROR;
	} else if (!bucket_found && np > 0) {
		fprintf(stderr, "strata: table \"%s\" has no bucket %ld%s%s (its partitions have "
			"at most %u bucket%s, numbered from 0)\n", table, ja->bucket,
			ja->partition ? " in partition " : "", ja->partition ? ja->partition : "",
			most_buckets, most_buckets == 1 ? "" : "s");
		worst = CLI_ERROR;
	} else if (ran == 0) {
		printf("nothing to do\n");
	}
	rc = worst;
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

static void print_decision(void *arg, const strata_file_entry *f, const char *decision)
{
	(void)arg;
	printf("  file %llu %s (b=%u level %u, removed at %llu, %llu bytes): %s\n",
	       (unsigned long long)f->id, f->name, f->bucket, f->level,
	       (unsigned long long)f->removed_version, (unsigned long long)f->bytes, decision);
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
		{NULL, 0, NULL, 0},
	};
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
	if (o.dry_run)
		o.on_file = print_decision;
	strata_err err;
	strata_err_clear(&err);
	strata_clean_result r;
	if (strata_clean_table(wh, argv[optind], &o, &r, &err) != 0)
		rc = cli_fail(&err);
	else
		print_clean(&r, o.dry_run);
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_purge(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("purge");
	if (argc != 2)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open(ctx, false, &wh);
	if (rc)
		return rc;
	strata_err err;
	strata_err_clear(&err);
	strata_clean_result r;
	strata_buf tags = {0};
	char owner[128];
	strata_owner_string("strata", owner, sizeof(owner));
	strata_job_ctl ctl = {.owner = owner};
	if (strata_purge_table(wh, argv[1], &ctl, &r, &tags, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		uint64_t readable = 0, inc = 0;
		strata_table_earliest(wh, argv[1], &readable, &inc, &err);
		print_clean(&r, false);
		if (tags.len) {
			strata_buf_putc(&tags, 0);
			printf("dropped tags: %s\n", (char *)tags.data);
		}
		printf("purged %s: all history dropped; time travel now starts at version %llu\n",
		       argv[1], (unsigned long long)readable);
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
		{NULL, 0, NULL, 0},
	};
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
		else
			printf("deleted tag %s of %s\n", tag, table);
	} else if (strata_mf_tag_put(strata_wh_mf(wh), table, tag, version, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		strata_read_opts ro = {.as_of_tag = tag};
		uint64_t v = 0;
		strata_read_version(wh, table, &ro, &v, &err);
		printf("tagged %s version %llu as %s\n", table, (unsigned long long)v, tag);
	}
	strata_wh_close(wh);
	return rc;
}

int cli_cmd_tags(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("tags");
	if (argc != 2)
		return cli_usage(cmd, "expected one table NAME");
	strata_wh *wh;
	int rc = cli_open_read(ctx, &wh);
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
	    strata_mf_table_get(snap, argv[1], &t, &err) != 0 ||
	    strata_mf_tags_list(snap, t.id, a, &tags, &n, &err) != 0) {
		rc = cli_fail(&err);
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
