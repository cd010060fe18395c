/*
 * tests/test_dashboards.c — etc/grafana/stratad.json and
 * etc/prometheus/stratad-alerts.yml against a real stratad.
 *
 *   - every metric name either file uses (each lowercase strata_* token,
 *     histogram suffixes _bucket/_sum/_count folded into their family)
 *     has a family in the `metrics` output of a stratad started on a
 *     scratch warehouse with one table and a few commits (every family
 *     prints its # TYPE line even with no series: metrics.c invariant 1);
 *   - `promtool check rules` accepts the rules file, and also every PromQL
 *     expression of the dashboard, wrapped as recording rules (Grafana's
 *     $variables replaced), so a typo in a panel fails here, not on a
 *     screen;
 *   - `promtool test rules` runs tests/alerts-test.yml: the corrupt-bucket,
 *     manifest-map and oldest-pin alerts fire on series that should fire
 *     them and stay quiet otherwise;
 *   - the dashboard is JSON Grafana can import: a title, a uid, panels with
 *     targets, and the templating variables its expressions use.
 *
 * promtool comes from Debian's `prometheus` package (in the Makefile's
 * DEB_PKGS).  Without it the promtool checks FAIL with a message saying so:
 * a check that silently passes would be a defect.
 * Runs from the repository root.  The daemon listens on a Unix socket in
 * the scratch directory only and is stopped by PID.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>

#include "api/strata.h"

#define DASHBOARD "etc/grafana/stratad.json"
#define ALERTS "etc/prometheus/stratad-alerts.yml"
#define ALERTS_TEST "tests/alerts-test.yml"

/* Every distinct strata_[a-z0-9_]+ token of text, into names (n at most
 * max); returns how many. */
static size_t metric_tokens(const char *text, char names[][96], size_t max)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "strata_")) != NULL;) {
		bool starts = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		size_t len = 0;
		while (islower((unsigned char)p[len]) || isdigit((unsigned char)p[len]) || p[len] == '_')
			len++;
		if (starts && len > 7 && len < 96) {
			char tok[96];
			snprintf(tok, sizeof(tok), "%.*s", (int)len, p);
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = strcmp(names[i], tok) == 0;
			if (!seen && n < max)
				snprintf(names[n++], 96, "%s", tok);
		}
		p += len ? len : 1;
	}
	return n;
}

/* Whether metrics (the text format) has the family of name. */
static bool has_family(const char *metrics, const char *name)
{
	char want[160];
	snprintf(want, sizeof(want), "# TYPE %s ", name);
	if (strstr(metrics, want))
		return true;
	const char *sfx[] = {"_bucket", "_sum", "_count"};
	size_t n = strlen(name);
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(sfx[i]);
		if (n > l && strcmp(name + n - l, sfx[i]) == 0) {
			snprintf(want, sizeof(want), "# TYPE %.*s histogram", (int)(n - l), name);
			if (strstr(metrics, want))
				return true;
		}
	}
	return false;
}

static void make_warehouse(const char *wh)
{
	strata_db *db = NULL;
	strata_db_error err;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(wh, STRATA_DB_CREATE, &db, &err), 0);
	strata_db_table_spec spec = {.columns = "id BIGINT NOT NULL PRIMARY KEY, v STRING"};
	CU_ASSERT_EQUAL_FATAL(strata_db_create_table(db, "orders", &spec, &err), 0);
	for (int c = 0; c < 3; c++) {
		strata_db_txn *t = NULL;
		CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "orders", &t, &err), 0);
		for (int i = 0; i < 20; i++) {
			char row[128];
			snprintf(row, sizeof(row), "{\"id\":%d,\"v\":\"c%d\"}", i, c);
			CU_ASSERT_EQUAL(strata_db_txn_put(t, row, &err), 0);
		}
		CU_ASSERT_EQUAL_FATAL(strata_db_txn_commit(t, NULL, NULL, &err), 0);
	}
	strata_db_close(db);
}

static void test_metrics_exist(void)
{
	const char *dir = tu_tmpdir();
	char wh[4200], sock[4200], cfg[4200], log[4200];
	snprintf(wh, sizeof(wh), "%s/wh", dir);
	snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	make_warehouse(wh);
	tud_write_file(cfg, "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\n", wh, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	/* per-table series come with the first plan */
	char *m = NULL;
	double end = tud_now_s() + 30;
	while (tud_now_s() < end) {
		free(m);
		m = tud_metrics(sock);
		if (m && strstr(m, "strata_files{table=\"orders\""))
			break;
		tud_sleep_ms(100);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "strata_files{table=\"orders\""));
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);

	const char *files[] = {DASHBOARD, ALERTS};
	size_t want_min[] = {35, 10};
	for (size_t f = 0; f < 2; f++) {
		char *text = tu_read_file(files[f], NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		static char names[256][96];
		size_t n = metric_tokens(text, names, 256);
		CU_ASSERT(n >= want_min[f]);
		for (size_t i = 0; i < n; i++) {
			bool ok = has_family(m, names[i]);
			if (!ok)
				fprintf(stderr, "\n%s uses %s, which stratad does not export\n", files[f],
					names[i]);
			CU_ASSERT(ok);
		}
		free(text);
	}
	free(m);
}

/* Run cmd; print its output if it fails. */
static int run(const char *cmd)
{
	char *o = NULL;
	int rc = tu_run(cmd, &o);
	if (rc != 0)
		fprintf(stderr, "\n$ %s\nexit %d\n%s\n", cmd, rc, o ? o : "");
	free(o);
	return rc;
}

static bool has_promtool(void)
{
	if (tu_run("command -v promtool >/dev/null 2>&1", NULL) == 0)
		return true;
	fprintf(stderr, "\npromtool is missing: install Debian's prometheus package "
			"(`make deps` does)\n");
	return false;
}

static void test_rules_parse(void)
{
	CU_ASSERT_FATAL(has_promtool());
	CU_ASSERT_EQUAL(run("promtool check rules " ALERTS " 2>&1"), 0);
	CU_ASSERT_EQUAL(run("cd tests && promtool test rules alerts-test.yml 2>&1"), 0);
}

/* Replace every "$name" of Grafana's variables in s with ".*" into out. */
static void expand_vars(const char *s, strata_buf *out)
{
	for (const char *p = s; *p; p++) {
		if (*p == '$' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
			strata_buf_append(out, ".*", 2);
			while (isalnum((unsigned char)p[1]) || p[1] == '_')
				p++;
		} else {
			strata_buf_putc(out, (uint8_t)*p);
		}
	}
}

static void test_dashboard(void)
{
	json_error_t je;
	json_t *d = json_load_file(DASHBOARD, 0, &je);
	if (!d)
		fprintf(stderr, "\n%s:%d: %s\n", DASHBOARD, je.line, je.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT(json_is_string(json_object_get(d, "title")));
	CU_ASSERT(json_is_string(json_object_get(d, "uid")));
	json_t *vars = json_object_get(json_object_get(d, "templating"), "list");
	size_t i;
	json_t *v;
	bool has_var[3] = {false, false, false};
	const char *var_names[3] = {"datasource", "instance", "table"};
	json_array_foreach(vars, i, v)
		for (int k = 0; k < 3; k++)
			has_var[k] |= strcmp(json_string_value(json_object_get(v, "name")), var_names[k]) == 0;
	for (int k = 0; k < 3; k++)
		CU_ASSERT(has_var[k]);

	/* every panel expression, as a recording rule for promtool */
	strata_buf rules = {0};
	strata_buf_printf(&rules, "groups:\n  - name: dashboard\n    rules:\n");
	size_t nexpr = 0, npanels = 0;
	json_t *p;
	json_array_foreach(json_object_get(d, "panels"), i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));
		if (type && strcmp(type, "row") == 0)
			continue;
		npanels++;
		json_t *targets = json_object_get(p, "targets");
		CU_ASSERT(json_array_size(targets) > 0);
		size_t j;
		json_t *t;
		json_array_foreach(targets, j, t) {
			const char *e = json_string_value(json_object_get(t, "expr"));
			CU_ASSERT_PTR_NOT_NULL(e);
			if (!e)
				continue;
			strata_buf_printf(&rules, "      - record: dashboard:expr%zu\n        expr: '", nexpr++);
			expand_vars(e, &rules); /* no single quotes in the expressions */
			strata_buf_printf(&rules, "'\n");
		}
	}
	CU_ASSERT(npanels >= 20);
	CU_ASSERT(nexpr >= 30);
	json_decref(d);
	const char *dir = tu_tmpdir();
	char path[4200], cmd[8400];
	snprintf(path, sizeof(path), "%s/dashboard-rules.yml", dir);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, rules.data, rules.len), 0);
	strata_buf_free(&rules);
	CU_ASSERT_FATAL(has_promtool());
	snprintf(cmd, sizeof(cmd), "promtool check rules %s 2>&1", path);
	CU_ASSERT_EQUAL(run(cmd), 0);
}

static void register_dashboards(void)
{
	CU_pSuite s = CU_add_suite("dashboards", NULL, NULL);
	CU_add_test(s, "metrics_exist", test_metrics_exist);
	CU_add_test(s, "rules_parse", test_rules_parse);
	CU_add_test(s, "dashboard", test_dashboard);
}

TU_MAIN(register_dashboards)
