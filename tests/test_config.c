/*
 * tests/test_config.c — stratad's configuration: every error path with its
 * file:line message, values and their sources, the sample file, and
 * `stratad --check-config`.
 *
 * Each row of the error table is a config file and the first error it must
 * produce, word for word after the path.  The sample file etc/stratad.ini
 * must hold every row of the config table (with its default and range), must
 * load, and must be exactly what `stratad --sample-config` prints.
 */
#include "tests/util/testutil.h"

#include "daemon/daemon.h"

#include <grp.h>
#include <stddef.h>
#include <unistd.h>

static const char *write_cfg(const char *text)
{
	static char path[4096];
	static int n;
	snprintf(path, sizeof(path), "%s/c%d.ini", tu_tmpdir(), n++);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, text, strlen(text)), 0);
	return path;
}

typedef struct ecase {
	const char *text;
	const char *want; /* the first error, after "PATH:" */
} ecase;

static const ecase error_cases[] = {
	{"[policy]\nsort.min_files = banana\n",
	 "2: sort.min_files must be an integer from 1 to 1000 (got \"banana\")"},
	{"[policy]\nsort.min_files = 0\n", "2: sort.min_files must be an integer from 1 to 1000 (got \"0\")"},
	{"[policy]\nsort.min_files = 1001\n",
	 "2: sort.min_files must be an integer from 1 to 1000 (got \"1001\")"},
	{"[policy]\nsort.min_files = 4x\n", "2: sort.min_files must be an integer from 1 to 1000 (got \"4x\")"},
	{"[policy]\nsort.min_files =\n", "2: sort.min_files must be an integer from 1 to 1000 (got \"\")"},
	{"\n\n[policy]\nsort.min_file = 3\n",
	 "4: unknown key \"sort.min_file\" in [policy] (did you mean sort.min_files?)"},
	{"[policy]\nflux.capacitor = 3\n", "2: unknown key \"flux.capacitor\" in [policy]"},
	{"[policy]\nsort.max_bytes = 10\n",
	 "2: sort.max_bytes must be a byte count from 64KiB to 16GiB, e.g. 4194304 or 4MiB (got \"10\")"},
	{"[policy]\nsort.max_bytes = 5 MB\n",
	 "2: sort.max_bytes must be a byte count from 64KiB to 16GiB, e.g. 4194304 or 4MiB (got \"5 MB\")"},
	{"[policy]\nsort.max_bytes = 17GiB\n",
	 "2: sort.max_bytes must be a byte count from 64KiB to 16GiB, e.g. 4194304 or 4MiB (got \"17GiB\")"},
	{"[policy]\nsort.max_bytes = -1\n",
	 "2: sort.max_bytes must be a byte count from 64KiB to 16GiB, e.g. 4194304 or 4MiB (got \"-1\")"},
	{"[policy]\ncompact.min_garbage_ratio = 1.5\n",
	 "2: compact.min_garbage_ratio must be a number from 0.01 to 1 (got \"1.5\")"},
	{"[policy]\ncompact.min_garbage_ratio = nan\n",
	 "2: compact.min_garbage_ratio must be a number from 0.01 to 1 (got \"nan\")"},
	{"[daemon]\nsocket_mode = 0999\n",
	 "2: socket_mode must be an octal file mode from 0000 to 0777, e.g. 0660 (got \"0999\")"},
	{"[daemon]\nlog_level = verbose\n",
	 "2: log_level must be one of error, warn, info, debug (got \"verbose\")"},
	{"[daemon]\nmetrics_listen = localhost\n",
	 "2: metrics_listen must be HOST:PORT, e.g. 127.0.0.1:9477, or empty (got \"localhost\")"},
	{"[daemon]\nmetrics_listen = 127.0.0.1:0\n",
	 "2: metrics_listen must be HOST:PORT, e.g. 127.0.0.1:9477, or empty (got \"127.0.0.1:0\")"},
	{"[daemon]\nadmin_group = no_such_group_zz9\n",
	 "2: admin_group \"no_such_group_zz9\" is not a group on this host (see getent group)"},
	{"[daemon]\nworkers = 65\n", "2: workers must be an integer from 1 to 64 (got \"65\")"},
	{"[daemon]\nsocket = /" "0123456789012345678901234567890123456789012345678901234567890123456789"
	 "0123456789012345678901234567890123456789\n",
	 "2: socket must be 1 to 107 characters long (got 111)"},
	{"workers = 2\n", "1: workers is outside any section (put it under [daemon], [policy] or [table.NAME])"},
	{"[daemon]\nsort.min_files = 3\n", "2: sort.min_files belongs in [policy] or [table.NAME], not [daemon]"},
	{"[policy]\nacid.data.retain.hours = 3\n",
	 "2: acid.data.retain.hours belongs in [table.NAME], not [policy]"},
	{"[table.t]\nworkers = 3\n", "2: workers belongs in [daemon], not [table.t]"},
	{"[deamon]\nworkers = 3\n", "1: unknown section [deamon] (sections: [daemon], [policy], [table.NAME])"},
	{"[table.Bad]\nsort.min_files = 3\n",
	 "1: [table.Bad]: table name \"Bad\" must start with a lowercase letter (allowed: [a-z][a-z0-9_]*)"},
	{"[table.t]\nsort.min_files = 3\n[table.t]\nmerge.fanout = 3\n",
	 "3: section [table.t] appears twice (first at line 1); merge them"},
	{"[policy]\nsort.min_files = 3\n; a comment\nsort.min_files = 4\n",
	 "4: sort.min_files is set twice in [policy] (first at line 2)"},
	{"[policy]\nthis line has no equals sign\n",
	 "2: syntax error: expected \"key = value\", \"[section]\" or a comment"},
	{"[policy]\n[broken\n", "2: syntax error: expected \"key = value\", \"[section]\" or a comment"},
	{"[policy]\npolicy.backoff_s = 10\npolicy.backoff_max_s = 5\n",
	 "3: policy.backoff_max_s (5) must not be below policy.backoff_s (10) in [policy]"},
	{"[policy]\npolicy.backoff_max_s = 20\n[table.t]\npolicy.backoff_s = 30\n",
	 "4: policy.backoff_max_s (20) must not be below policy.backoff_s (30) for [table.t]"},
	{"[table.t]\nacid.data.retain.hours = 169\n",
	 "2: acid.data.retain.hours must be an integer from 0 to 168 (got \"169\")"},
	{"[daemon]\ns3.endpoint = minio.example:9000\n",
	 "2: s3.endpoint must be an http:// or https:// URL, e.g. http://minio.example:9000, or "
	 "empty (got \"minio.example:9000\")"},
	{"[daemon]\ns3.endpoint = https://\n",
	 "2: s3.endpoint must be an http:// or https:// URL, e.g. http://minio.example:9000, or "
	 "empty (got \"https://\")"},
	/* a password in the URL is refused and never echoed */
	{"[daemon]\n\ns3.endpoint = http://AKID:s3cr3t@minio.example:9000\n",
	 "3: s3.endpoint holds a user name or password (an '@'): give the keys in the "
	 "environment or the credentials file, never in the URL"},
	{"[daemon]\ns3.addressing = virtual-hosted\n",
	 "2: s3.addressing must be one of path, virtual or empty (got \"virtual-hosted\")"},
	{"[s3]\nendpoint = http://x:1\n",
	 "1: unknown section [s3] (sections: [daemon], [policy], [table.NAME])"},
	{"[daemon]\ns3.endpiont = http://x:1\n",
	 "2: unknown key \"s3.endpiont\" in [daemon] (did you mean s3.endpoint?)"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(error_cases); i++) {
		const char *path = write_cfg(error_cases[i].text);
		stratad_config *c = NULL;
		strata_err err;
		strata_err_clear(&err);
		int rc = stratad_config_load(path, &c, NULL, &err);
		char want[1200];
		snprintf(want, sizeof(want), "%s:%s", path, error_cases[i].want);
		bool ok = rc == STRATA_EINVAL && c == NULL && strcmp(err.msg, want) == 0;
		if (!ok)
			fprintf(stderr, "\ncase %zu: rc %d\n  got:  %s\n  want: %s\n", i, rc, err.msg, want);
		CU_ASSERT(ok);
		stratad_config_free(c);
	}
}

/* The s3.* keys: empty by default (the AWS way decides), set values kept,
 * and all four need a restart (the data store's client is opened once). */
static void test_s3_keys(void)
{
	stratad_config *c = NULL;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(write_cfg("[daemon]\nworkers = 2\n"), &c, NULL,
						  &err), 0);
	CU_ASSERT_STRING_EQUAL(c->d.s3_endpoint, "");
	CU_ASSERT_STRING_EQUAL(c->d.s3_region, "");
	CU_ASSERT_STRING_EQUAL(c->d.s3_profile, "");
	CU_ASSERT_STRING_EQUAL(c->d.s3_addressing, "");
	stratad_config *b = NULL;
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(write_cfg("[daemon]\n"
							    "s3.endpoint = http://rgw.example:7480/\n"
							    "s3.region = eu-west-3\n"
							    "s3.profile = prod\n"
							    "s3.addressing = virtual\n"),
						  &b, NULL, &err), 0);
	CU_ASSERT_STRING_EQUAL(b->d.s3_endpoint, "http://rgw.example:7480/");
	CU_ASSERT_STRING_EQUAL(b->d.s3_region, "eu-west-3");
	CU_ASSERT_STRING_EQUAL(b->d.s3_profile, "prod");
	CU_ASSERT_STRING_EQUAL(b->d.s3_addressing, "virtual");
	char diff[512];
	stratad_config_restart_diff(c, b, diff, sizeof(diff));
	CU_ASSERT_STRING_EQUAL(diff, "s3.endpoint, s3.region, s3.profile, s3.addressing");
	stratad_config_free(c);
	stratad_config_free(b);
}

static void test_missing_file_and_all_errors(void)
{
	stratad_config *c = NULL;
	strata_err err;
	strata_buf all = {0};
	CU_ASSERT_EQUAL(stratad_config_load("/nonexistent/stratad.ini", &c, &all, &err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "could not open config file \"/nonexistent/stratad.ini\""));
	strata_buf_free(&all);
	/* every error is reported, one per line, the first in err */
	const char *path = write_cfg("[daemon]\nworkers = 0\n[policy]\nsort.min_files = x\nbogus = 1\n");
	CU_ASSERT_EQUAL(stratad_config_load(path, &c, &all, &err), STRATA_EINVAL);
	strata_buf_putc(&all, 0);
	int lines = 0;
	for (const char *p = (char *)all.data; *p; p++)
		lines += *p == '\n';
	CU_ASSERT_EQUAL(lines, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)all.data, ":2: workers must be"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)all.data, ":4: sort.min_files must be"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)all.data, ":5: unknown key \"bogus\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":2: workers must be"));
	strata_buf_free(&all);
}

static void test_values_and_sources(void)
{
	/* a comment line longer than any buffer is fine; inline comments are stripped */
	char longc[6000];
	memset(longc, 'x', sizeof(longc));
	longc[0] = '#';
	longc[sizeof(longc) - 2] = '\n';
	longc[sizeof(longc) - 1] = '\0';
	strata_buf text = {0};
	strata_buf_printf(&text, "%s", longc);
	strata_buf_printf(&text,
			  "[daemon]\n"
			  "warehouse = /srv/wh\n"
			  "workers = 3 ; three\n"
			  "io.max_mb_s = 12.5\n"
			  "socket_mode = 0640\n"
			  "log_level = debug\n"
			  "metrics_listen = 127.0.0.1:9477\n"
			  "[policy]\n"
			  "sort.min_files = 6\n"
			  "sort.max_bytes = 32MiB\n"
			  "merge.small_bytes = 1MiB\n"
			  "compact.min_garbage_ratio = 0.5\n"
			  "[table.orders]\n"
			  "sort.min_files = 9\n"
			  "merge.target_bytes = 1GiB\n"
			  "acid.data.retain.hours = 48\n");
	strata_buf_putc(&text, 0);
	const char *path = write_cfg((char *)text.data);
	strata_buf_free(&text);
	stratad_config *c = NULL;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(path, &c, NULL, &err), 0);
	CU_ASSERT_STRING_EQUAL(c->d.warehouse, "/srv/wh");
	CU_ASSERT_EQUAL(c->d.workers, 3);
	CU_ASSERT_DOUBLE_EQUAL(c->d.io_max_mb_s, 12.5, 1e-9);
	CU_ASSERT_EQUAL(c->d.socket_mode, 0640);
	CU_ASSERT_EQUAL(c->d.log_level, 3);
	CU_ASSERT_STRING_EQUAL(c->d.metrics_listen, "127.0.0.1:9477");
	CU_ASSERT_STRING_EQUAL(c->d.socket, STRATAD_DEFAULT_SOCKET);
	CU_ASSERT_EQUAL(c->ntables, 1);
	strata_policy p;
	stratad_src *src = calloc(stratad_cfg_nkeys, sizeof(stratad_src));
	/* a table without a section: defaults and [policy]; retention from its property */
	stratad_config_policy(c, "other", 12, &p, src);
	CU_ASSERT_EQUAL(p.sort_min_files, 6);
	CU_ASSERT_EQUAL(p.sort_max_bytes, 32ull << 20);
	CU_ASSERT_EQUAL(p.merge_small_bytes, 1ull << 20);
	CU_ASSERT_EQUAL(p.merge_fanout, 5); /* the default */
	CU_ASSERT_EQUAL(p.retain_hours, 12);
	CU_ASSERT_EQUAL(src[stratad_config_find("sort.min_files")], STRATAD_SRC_POLICY);
	CU_ASSERT_EQUAL(src[stratad_config_find("merge.fanout")], STRATAD_SRC_DEFAULT);
	CU_ASSERT_EQUAL(src[stratad_config_find("acid.data.retain.hours")], STRATAD_SRC_PROPERTY);
	/* [table.orders] over [policy] over defaults */
	stratad_config_policy(c, "orders", 12, &p, src);
	CU_ASSERT_EQUAL(p.sort_min_files, 9);
	CU_ASSERT_EQUAL(p.sort_max_bytes, 32ull << 20);
	CU_ASSERT_EQUAL(p.merge_target_bytes, 1ull << 30);
	CU_ASSERT_DOUBLE_EQUAL(p.compact_min_garbage_ratio, 0.5, 1e-12);
	CU_ASSERT_EQUAL(p.retain_hours, 48);
	CU_ASSERT_EQUAL(src[stratad_config_find("sort.min_files")], STRATAD_SRC_TABLE);
	CU_ASSERT_EQUAL(src[stratad_config_find("sort.max_bytes")], STRATAD_SRC_POLICY);
	CU_ASSERT_EQUAL(src[stratad_config_find("merge.target_bytes")], STRATAD_SRC_TABLE);
	CU_ASSERT_EQUAL(src[stratad_config_find("clean.grace_s")], STRATAD_SRC_DEFAULT);
	CU_ASSERT_EQUAL(src[stratad_config_find("acid.data.retain.hours")], STRATAD_SRC_TABLE);
	free(src);
	char v[64];
	stratad_config_value(c, &stratad_cfg_keys[stratad_config_find("merge.target_bytes")], &p, v,
			     sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "1GiB");
	stratad_config_value(c, &stratad_cfg_keys[stratad_config_find("socket_mode")], NULL, v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "0640");
	/* restart-only keys that differ */
	const char *path2 = write_cfg("[daemon]\nwarehouse = /srv/other\nworkers = 5\n"
				      "metrics_listen = 127.0.0.1:9478\n");
	stratad_config *c2 = NULL;
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(path2, &c2, NULL, &err), 0);
	char diff[256];
	stratad_config_restart_diff(c, c2, diff, sizeof(diff));
	CU_ASSERT_STRING_EQUAL(diff, "warehouse, metrics_listen");
	stratad_config_restart_diff(c, c, diff, sizeof(diff));
	CU_ASSERT_STRING_EQUAL(diff, "");
	stratad_config_free(c2);
	stratad_config_free(c);
}

static void test_group(void)
{
	struct group *g = getgrgid(0);
	if (!g) {
		fprintf(stderr, "\nSKIPPED: no group 0 on this host\n");
		return;
	}
	char text[200];
	snprintf(text, sizeof(text), "[daemon]\nadmin_group = %s\n", g->gr_name);
	stratad_config *c = NULL;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(write_cfg(text), &c, NULL, &err), 0);
	CU_ASSERT(c->has_admin_gid);
	CU_ASSERT_EQUAL(c->admin_gid, 0);
	stratad_config_free(c);
}

/* invariant 3 of config.c: the table's defaults are the policies' defaults */
static void test_defaults(void)
{
	const char *path = write_cfg("");
	stratad_config *c = NULL;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(stratad_config_load(path, &c, NULL, &err), 0);
	strata_policy want, got;
	strata_policy_default(&want);
	stratad_config_policy(c, "t", 24, &got, NULL);
	want.retain_hours = 24;
	CU_ASSERT_EQUAL(memcmp(&want, &got, sizeof(want)), 0);
	CU_ASSERT_EQUAL(c->d.workers, 2);
	CU_ASSERT_EQUAL(c->d.socket_mode, 0660);
	CU_ASSERT_STRING_EQUAL(c->d.metrics_listen, "");
	/* every row: a help text, a known scope, policy rows 8 bytes wide */
	for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
		const stratad_cfg_key *k = &stratad_cfg_keys[i];
		CU_ASSERT(strlen(k->help) > 20);
		CU_ASSERT(k->min <= k->max);
		if (k->scope != STRATAD_SCOPE_DAEMON)
			CU_ASSERT(k->offset + 8 <= sizeof(strata_policy));
	}
	stratad_config_free(c);
}

/* The sample file documents every row and is what the program prints. */
static void test_sample_file(void)
{
	size_t len = 0;
	char *ini = tu_read_file("etc/stratad.ini", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ini);
	for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
		const stratad_cfg_key *k = &stratad_cfg_keys[i];
		char line[200], active[200];
		snprintf(line, sizeof(line), "\n#%s = %s\n", k->key, k->def ? k->def : "24");
		snprintf(active, sizeof(active), "\n%s = %s\n", k->key, k->def ? k->def : "24");
		const char *at = strstr(ini, line);
		if (!at)
			at = strstr(ini, active);
		if (!at)
			fprintf(stderr, "\netc/stratad.ini lacks the key %s\n", k->key);
		CU_ASSERT_PTR_NOT_NULL(at);
		if (!at)
			continue;
		/* the comment line just above gives the range (or value) and default */
		const char *prev = at;
		while (prev > ini && prev[-1] != '\n')
			prev--;
		CU_ASSERT(strncmp(prev, "# Range: ", 9) == 0 || strncmp(prev, "# Value: ", 9) == 0);
		CU_ASSERT(strstr(prev, "Default: ") != NULL && strstr(prev, "Default: ") < at);
		if (!k->is_reloadable)
			CU_ASSERT(strstr(prev, "(requires restart)") != NULL &&
				  strstr(prev, "(requires restart)") < at);
	}
	stratad_config *c = NULL;
	strata_err err;
	strata_err_clear(&err);
	CU_ASSERT_EQUAL(stratad_config_load("etc/stratad.ini", &c, NULL, &err), 0);
	if (c)
		CU_ASSERT_EQUAL(c->ntables, 0);
	stratad_config_free(c);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s --sample-config", tu_bin("stratad"));
	char *out = NULL;
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	if (strcmp(out, ini) != 0)
		fprintf(stderr, "\netc/stratad.ini is stale: regenerate it with `stratad --sample-config`\n");
	CU_ASSERT_STRING_EQUAL(out, ini);
	free(out);
	free(ini);
}

static void test_check_config_cli(void)
{
	char bad[4096];
	snprintf(bad, sizeof(bad), "%s", write_cfg("[daemon]\nworkers = 2\n\n[policy]\nsort.min_files = banana\n"));
	char cmd[8400];
	snprintf(cmd, sizeof(cmd), "%s --check-config %s 2>&1", tu_bin("stratad"), bad);
	char *out = NULL;
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	char want[4400];
	snprintf(want, sizeof(want), "%s:5: sort.min_files must be an integer from 1 to 1000 (got \"banana\")\n",
		 bad);
	CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	const char *good = write_cfg("[daemon]\nworkers = 2\n[table.t]\nsort.min_files = 2\n");
	snprintf(cmd, sizeof(cmd), "%s --check-config %s 2>&1", tu_bin("stratad"), good);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	snprintf(want, sizeof(want), "%s: ok (1 table section)\n", good);
	CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	/* a file that sets no key fails the check a reload would fail (issue 11) */
	const char *empty = write_cfg("# nothing here\n[policy]\n");
	snprintf(cmd, sizeof(cmd), "%s --check-config %s 2>&1", tu_bin("stratad"), empty);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "the file sets no key"));
	free(out);
	snprintf(cmd, sizeof(cmd), "%s --bogus 2>&1", tu_bin("stratad"));
	CU_ASSERT_EQUAL(tu_run(cmd, NULL), 2);
	/* running with a bad config fails the same way, before anything starts */
	snprintf(cmd, sizeof(cmd), "%s --config %s 2>&1", tu_bin("stratad"), bad);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, ":5: sort.min_files must be"));
	free(out);
}

static void register_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);
	TU_ADD(s, test_errors);
	TU_ADD(s, test_missing_file_and_all_errors);
	TU_ADD(s, test_values_and_sources);
	TU_ADD(s, test_group);
	TU_ADD(s, test_defaults);
	TU_ADD(s, test_sample_file);
	TU_ADD(s, test_s3_keys);
	TU_ADD(s, test_check_config_cli);
}

TU_MAIN(register_config)
