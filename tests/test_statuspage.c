/*
 * tests/test_statuspage.c — stratad's status page (GET /, GET
 * /status.json on metrics_listen: daemon/status.c) in a real browser.
 *
 * A real stratad runs on a scratch warehouse whose path holds HTML
 * ("wh-<i>&x"), with three tables the test wrote:
 *   orders  two buckets of three row files each: sorted at once (two sort
 *           jobs, finished: the recent jobs);
 *   events  one bucket of three row files that are never due
 *           ([table.events] sort.min_files = 1000) and a tag "nightly"
 *           (the oldest pin and its holder);
 *   big     two buckets of ~1.3 MiB of row files each, written once the
 *           orders are sorted: with io.max_mb_s = 0.02 and one worker, one
 *           sort runs (slowly: the burst is 1 MiB) and the other waits in
 *           the queue.
 * Then:
 *   - /status.json holds those tables with their level counts, the pin, the
 *     jobs and the samples of the hour (in stratad's first minute the job
 *     rate of the newest is every job finished so far);
 *   - GET / is HTML with no script, no stylesheet link, no src= and no
 *     absolute URL (no external assets), a Content-Security-Policy that
 *     forbids loading any, a meta refresh, and the warehouse path escaped;
 *     POST / is 404 (read-only);
 *   - headless Chromium (Debian's `chromium`) loads the page with
 *     --dump-dom: the DOM has the three tables, events' three row files on
 *     level 0 (in the levels table and in its bucket's row), orders'
 *     level-1 files as /status.json counts them, the running, queued and
 *     finished jobs by id, the pin's holder, the four charts, and the path
 *     as text (no <i> element); and with --screenshot it writes
 *     $STRATA_BUILD/status-page.png (build/ by default) for people to look
 *     at.
 * And on a damaged manifest (truncated), stratad is degraded and the page
 * says so, with the reason, escaped.
 *
 * Chromium runs in its own process group with a scratch --user-data-dir;
 * its group is killed by PID at its deadline and after it exits, and a
 * watcher (tu_server.h) stops it and stratad if the suite dies.  Without
 * chromium installed the test is skipped, saying so.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"
#include "tests/util/tu_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/strata.h"
#include "manifest/manifest.h"
#include "table/table.h"

static void create_table(strata_db *db, const char *name, const char *buckets)
{
	strata_db_error err;
	const char *props[] = {buckets};
	strata_db_table_spec spec = {.columns = "id BIGINT NOT NULL PRIMARY KEY, v STRING",
				     .properties = props,
				     .nproperties = 1};
	CU_ASSERT_EQUAL_FATAL(strata_db_create_table(db, name, &spec, &err), 0);
}

/* ncommits commits of nrows rows each, v of vlen pseudo-random characters
 * (barely compressible: big's row files must outgrow the 1 MiB burst). */
static void write_rows(strata_db *db, const char *table, int ncommits, int nrows, int vlen)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char *row = malloc((size_t)vlen + 64);
	for (int c = 0; c < ncommits; c++) {
		strata_db_txn *t = NULL;
		strata_db_error err;
		CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, table, &t, &err), 0);
		for (int i = 0; i < nrows; i++) {
			int n = snprintf(row, 64, "{\"id\":%d,\"v\":\"", i);
			for (int k = 0; k < vlen; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				row[n++] = abc[x & 63];
			}
			snprintf(row + n, 8, "\"}");
			CU_ASSERT_EQUAL_FATAL(strata_db_txn_put(t, row, &err), 0);
		}
		CU_ASSERT_EQUAL_FATAL(strata_db_txn_commit(t, NULL, NULL, &err), 0);
	}
	free(row);
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request on a fresh connection: the whole response (headers and
 * body), or NULL. */
static char *http_req(int port, const char *method, const char *path)
{
	int fd = tcp_connect(port);
	if (fd < 0)
		return NULL;
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method, path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	strata_buf b = {0};
	char chunk[8192];
	ssize_t r;
	struct pollfd p = {fd, POLLIN, 0};
	while (poll(&p, 1, 10000) > 0 && (r = read(fd, chunk, sizeof(chunk))) > 0)
		strata_buf_append(&b, chunk, (size_t)r);
	strata_buf_putc(&b, 0);
	close(fd);
	return (char *)b.data;
}

static json_t *status_json(int port)
{
	char *resp = http_req(port, "GET", "/status.json");
	const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
	json_t *o = body ? json_loads(body + 4, 0, NULL) : NULL;
	free(resp);
	return o;
}

static json_t *table_of(json_t *st, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(st, "tables"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
			return t;
	return NULL;
}

/* Files of table's level in a /status.json reply (0 if none). */
static int64_t level_files(json_t *st, const char *table, int level)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(table_of(st, table), "levels"), i, l)
		if (json_integer_value(json_object_get(l, "level")) == level)
			return json_integer_value(json_object_get(l, "files"));
	return 0;
}

/* The first job of list ("running", "queued", "recent") of kind on table,
 * with result (NULL: any); its id or 0. */
static int64_t job_id(json_t *st, const char *list, const char *kind, const char *table,
		      const char *result)
{
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(json_object_get(st, "jobs"), list), i, j)
	{
		const char *res = json_string_value(json_object_get(j, "result"));
		if (strcmp(json_string_value(json_object_get(j, "kind")), kind) == 0 &&
		    strcmp(json_string_value(json_object_get(j, "table")), table) == 0 &&
		    (!result || (res && strcmp(res, result) == 0)))
			return json_integer_value(json_object_get(j, "id"));
	}
	return 0;
}

/* Poll /status.json until want(st) holds or timeout_s passes; the last
 * reply (the caller decrefs) or NULL. */
static json_t *wait_status(int port, bool (*want)(json_t *), double timeout_s)
{
	json_t *st = NULL;
	for (double end = tud_now_s() + timeout_s; tud_now_s() < end; tud_sleep_ms(200)) {
		json_decref(st);
		st = status_json(port);
		if (st && want(st))
			return st;
	}
	return st;
}

static bool orders_sorted(json_t *st)
{
	return level_files(st, "orders", 0) == 0 && level_files(st, "orders", 1) > 0 &&
	       level_files(st, "events", 0) == 3 && job_id(st, "recent", "sort", "orders", "ok") &&
	       json_is_object(json_object_get(table_of(st, "events"), "oldest_pin"));
}

static bool big_running(json_t *st)
{
	return job_id(st, "running", "sort", "big", NULL) && job_id(st, "queued", "sort", "big", NULL) &&
	       orders_sorted(st);
}

/* The element of the DOM from the tag that holds `id="ID"` to its closing
 * </table> or </section>: a copy (the caller frees), "" if absent. */
static char *dom_part(const char *dom, const char *id, const char *end_tag)
{
	char want[128];
	snprintf(want, sizeof(want), "id=\"%s\"", id);
	const char *p = strstr(dom, want);
	if (!p)
		return strata_strdup("");
	const char *e = strstr(p, end_tag);
	size_t n = e ? (size_t)(e - p) : strlen(p);
	char *out = strata_malloc(n + 1);
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

#define CHROMIUM_DEADLINE_S 90

/* Run chromium headless with a scratch profile (ud) and one mode argument
 * on url, stdout into out_path: its exit status, or -1 if it had to be
 * killed at the deadline.  Its process group is killed by PID afterwards
 * either way (a renderer must not outlive the test). */
static int chromium_run(tu_watch *w, const char *ud, const char *mode, const char *url,
			const char *out_path, const char *err_path)
{
	char ud_arg[PATH_MAX + 32];
	snprintf(ud_arg, sizeof(ud_arg), "--user-data-dir=%s", ud);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execlp("chromium", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
		       "--no-first-run", "--disable-extensions", "--hide-scrollbars", ud_arg,
		       "--window-size=1280,1600", mode, url, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	setpgid(pid, pid); /* both sides: no race with the kill below */
	tu_watch_pid(w, pid);
	int status = 0, rc = -1;
	for (double end = tud_now_s() + CHROMIUM_DEADLINE_S; tud_now_s() < end; tud_sleep_ms(50)) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
	}
	kill(-pid, SIGKILL); /* its group, by its PID: leftovers and the late ones alike */
	if (rc == -1) {
		fprintf(stderr, "\nchromium %s: still running after %d s; killed\n", mode,
			CHROMIUM_DEADLINE_S);
		waitpid(pid, &status, 0);
	}
	return rc;
}

static void test_page_in_chromium(void)
{
	char *which = NULL;
	if (tu_run("command -v chromium", &which) != 0) {
		free(which);
		tu_skip("no chromium (Debian package `chromium`, in the Makefile's DEB_PKGS: run "
			"`make deps`)");
		return;
	}
	free(which);
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	snprintf(whp, sizeof(whp), "%s/wh-<i>&x", dir); /* HTML in a name: escaped or not */
	strata_db *db = NULL;
	strata_db_error derr;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(whp, STRATA_DB_CREATE, &db, &derr), 0);
	create_table(db, "orders", "write.bucket.num=2");
	create_table(db, "events", "write.bucket.num=1");
	create_table(db, "big", "write.bucket.num=2");
	write_rows(db, "orders", 3, 20, 8);
	write_rows(db, "events", 3, 10, 8);
	{
		strata_wh *wh = NULL;
		strata_err err;
		CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, false, &wh, &err), 0);
		CU_ASSERT_EQUAL(strata_mf_tag_put(strata_wh_mf(wh), "events", "nightly", 2, &err), 0);
		strata_wh_close(wh);
	}
	int port = tu_free_port();
	CU_ASSERT_FATAL(port > 0);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 1\n"
		       "io.max_mb_s = 0.02\nmetrics_listen = 127.0.0.1:%d\nlog_level = info\n"
		       "[policy]\nsort.min_files = 3\nsort.max_delay_s = 604800\n"
		       "[table.events]\nsort.min_files = 1000\n",
		       whp, sock, port);
	static const tu_stop_plan stop = {1, {SIGKILL}, {5000}};
	tu_watch w;
	CU_ASSERT_FATAL(tu_watch_start(&w, "test_statuspage", dir, dir, &stop));
	pid_t pid = tud_spawn(cfg, log, NULL);
	tu_watch_pid(&w, pid);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));

	/* orders sorted, events planned, then big's sorts: one runs, one waits */
	json_t *st = wait_status(port, orders_sorted, 60);
	if (!st || !orders_sorted(st)) {
		char tail[400];
		tu_log_tail(log, tail, sizeof(tail));
		char *txt = st ? json_dumps(st, JSON_INDENT(1)) : NULL;
		fprintf(stderr, "\n/status.json: %.3000s\nstratad's log: %s\n", txt ? txt : "(none)",
			tail);
		free(txt);
		strata_db_close(db);
	}
	CU_ASSERT_FATAL(st && orders_sorted(st));
	json_decref(st);
	write_rows(db, "big", 3, 4000, 300);
	strata_db_close(db);
	st = wait_status(port, big_running, 60);
	CU_ASSERT(st && big_running(st));
	if (!st || !big_running(st)) {
		char *txt = st ? json_dumps(st, JSON_INDENT(1)) : NULL;
		fprintf(stderr, "\n/status.json: %.3000s\n", txt ? txt : "(none)");
		free(txt);
	}
	int64_t ran = job_id(st, "running", "sort", "big", NULL);
	int64_t waits = job_id(st, "queued", "sort", "big", NULL);
	int64_t done = job_id(st, "recent", "sort", "orders", "ok");
	int64_t orders_l1 = level_files(st, "orders", 1);
	json_t *ev = table_of(st, "events");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ev, "oldest_pin"),
								  "holder")),
			       "tag nightly");
	/* the hour's samples: orders' two sorts are done; in stratad's first
	 * minute the rate is every job so far, per minute (status.c) */
	json_t *hist = json_object_get(st, "history");
	json_t *pts = json_object_get(hist, "samples");
	json_t *newest = json_array_get(pts, json_array_size(pts) - 1);
	CU_ASSERT(json_array_size(pts) >= 1);
	double started_s = json_number_value(json_object_get(hist, "now_s")) -
			   json_number_value(json_object_get(json_object_get(st, "daemon"), "uptime_s"));
	int64_t jobs_done = json_integer_value(json_object_get(newest, "jobs_done"));
	CU_ASSERT(jobs_done >= 2);
	if (json_number_value(json_object_get(newest, "t_s")) - started_s < 59)
		CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(newest, "jobs_per_min")),
				       (double)jobs_done, 1e-6);
	CU_ASSERT(json_integer_value(json_object_get(newest, "files")) >= 2 + 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(st, "daemon"),
								  "warehouse")),
			       whp);

	/* the page as served: self-contained, escaped, read-only */
	char *page = http_req(port, "GET", "/");
	CU_ASSERT_PTR_NOT_NULL_FATAL(page);
	CU_ASSERT_PTR_NOT_NULL(strstr(page, "HTTP/1.1 200 OK\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(page, "Content-Type: text/html; charset=utf-8\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(page, "Content-Security-Policy: default-src 'none'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(page, "<meta http-equiv=\"refresh\" content=\"2\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(page, "wh-&lt;i&gt;&amp;x"));
	CU_ASSERT_PTR_NULL(strstr(page, "wh-<i>"));
	const char *external[] = {"<script", "<link", "src=", "http://", "https://", "url(", "@import"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(external); i++)
		if (strstr(page, external[i]))
			CU_FAIL("the page loads or links something external");
	free(page);
	char *post = http_req(port, "POST", "/");
	CU_ASSERT(post && strstr(post, "HTTP/1.1 404 "));
	free(post);
	char *other = http_req(port, "GET", "/nope");
	CU_ASSERT(other && strstr(other, "only GET /, /status.json and /metrics are served here"));
	free(other);

	/* the browser: the DOM, then the screenshot (nothing FATAL until the
	 * daemon is stopped) */
	char ud[PATH_MAX], url[64], dom_path[PATH_MAX], err_path[PATH_MAX], shot[PATH_MAX];
	snprintf(ud, sizeof(ud), "%s/chromium-profile", dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	snprintf(dom_path, sizeof(dom_path), "%s/dom.html", dir);
	snprintf(err_path, sizeof(err_path), "%s/chromium.log", dir);
	const char *build = getenv("STRATA_BUILD");
	char cwd[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL(getcwd(cwd, sizeof(cwd)));
	snprintf(shot, sizeof(shot), "%s/%s/status-page.png", cwd, build ? build : "build");
	unlink(shot);
	CU_ASSERT_EQUAL(chromium_run(&w, ud, "--dump-dom", url, dom_path, err_path), 0);
	char shot_arg[PATH_MAX + 16], shot_out[PATH_MAX];
	snprintf(shot_arg, sizeof(shot_arg), "--screenshot=%s", shot);
	snprintf(shot_out, sizeof(shot_out), "%s/screenshot.out", dir);
	CU_ASSERT_EQUAL(chromium_run(&w, ud, shot_arg, url, shot_out, err_path), 0);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	tu_watch_done(&w);

	char *dom = tu_read_file(dom_path, NULL);
	if (!dom || !strstr(dom, "data-table=\"events\"")) {
		char tail[400];
		tu_log_tail(err_path, tail, sizeof(tail));
		fprintf(stderr, "\nchromium's DOM: %.2000s\nits log: %s\n", dom ? dom : "(none)", tail);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	/* the tables */
	const char *tables[] = {"orders", "events", "big"};
	for (size_t i = 0; i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "<tr data-table=\"%s\">", tables[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(dom, want));
		snprintf(want, sizeof(want), "id=\"table-%s\"", tables[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(dom, want));
	}
	/* level counts: events' three row files, orders' level 1 */
	char *lv = dom_part(dom, "levels-events", "</table>");
	CU_ASSERT_PTR_NOT_NULL(strstr(lv, "<tr data-level=\"0\"><td>0 (row files)</td>"
					  "<td class=\"files\">3</td>"));
	free(lv);
	char *bk = dom_part(dom, "buckets-events", "</table>");
	CU_ASSERT_PTR_NOT_NULL(strstr(bk, "data-partition=\"_\" data-bucket=\"0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(bk, "<td data-level=\"0\">3</td>"));
	free(bk);
	lv = dom_part(dom, "levels-orders", "</table>");
	char want[160];
	snprintf(want, sizeof(want), "<tr data-level=\"1\"><td>1</td><td class=\"files\">%" PRId64 "</td>",
		 orders_l1);
	CU_ASSERT_PTR_NOT_NULL(strstr(lv, want));
	CU_ASSERT_PTR_NULL(strstr(lv, "data-level=\"0\""));
	free(lv);
	/* the pin and who holds it */
	char *ev_part = dom_part(dom, "table-events", "</section>");
	CU_ASSERT_PTR_NOT_NULL(strstr(ev_part, "held by <b class=\"holder\">tag nightly</b>"));
	free(ev_part);
	/* the jobs, each where /status.json put it, with its reason */
	struct {
		const char *list;
		int64_t id;
	} jobs[] = {{"jobs-running", ran}, {"jobs-queued", waits}, {"jobs-recent", done}};
	for (size_t i = 0; i < 3; i++) {
		char *part = dom_part(dom, jobs[i].list, "</table>");
		snprintf(want, sizeof(want), "<tr id=\"job-%" PRId64 "\" data-job=\"%" PRId64
					     "\" data-kind=\"sort\">",
			 jobs[i].id, jobs[i].id);
		CU_ASSERT_PTR_NOT_NULL(strstr(part, want));
		const char *row = strstr(part, want);
		const char *why = row ? strstr(row, "<td class=\"why\">") : NULL;
		CU_ASSERT(why && why[16] != '<'); /* a reason, not empty */
		if (!strstr(part, want))
			fprintf(stderr, "\n%s: no job %" PRId64 " in: %.600s\n", jobs[i].list, jobs[i].id,
				part);
		free(part);
	}
	/* the charts, the refresh, and the path as text, not markup */
	const char *charts[] = {"chart-files", "chart-bytes", "chart-amplification", "chart-jobs"};
	for (size_t i = 0; i < 4; i++) {
		char *c = dom_part(dom, charts[i], "</svg>");
		CU_ASSERT_PTR_NOT_NULL(strstr(c, "<polyline"));
		free(c);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(dom, "http-equiv=\"refresh\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(dom, "wh-&lt;i&gt;&amp;x"));
	CU_ASSERT_PTR_NULL(strstr(dom, "<i>"));
	free(dom);
	/* the screenshot */
	struct stat sb;
	CU_ASSERT_EQUAL(stat(shot, &sb), 0);
	CU_ASSERT(sb.st_size > 1000);
	char *png = tu_read_file(shot, NULL);
	CU_ASSERT(png && memcmp(png, "\x89PNG", 4) == 0);
	free(png);
	json_decref(st);
}

static bool is_degraded(json_t *st)
{
	json_t *dm = json_object_get(st, "daemon");
	return strcmp(json_string_value(json_object_get(dm, "state")), "degraded") == 0 &&
	       json_is_string(json_object_get(dm, "degraded"));
}

/* A damaged manifest: stratad is degraded (the damage rule) and the page
 * says so, and why, instead of failing (no warehouse handle to read). */
static void test_page_degraded(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_db *db = NULL;
	strata_db_error derr;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(whp, STRATA_DB_CREATE, &db, &derr), 0);
	create_table(db, "orders", "write.bucket.num=2");
	write_rows(db, "orders", 3, 20, 8);
	strata_db_close(db);
	char mdb[PATH_MAX + 32];
	snprintf(mdb, sizeof(mdb), "%s/manifest/data.mdb", whp);
	CU_ASSERT_EQUAL_FATAL(truncate(mdb, 2 * 4096), 0);
	int port = tu_free_port();
	CU_ASSERT_FATAL(port > 0);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\n"
		       "metrics_listen = 127.0.0.1:%d\n",
		       whp, sock, port);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	json_t *st = wait_status(port, is_degraded, 30);
	CU_ASSERT(st && is_degraded(st));
	CU_ASSERT(st && strstr(json_string_value(json_object_get(json_object_get(st, "daemon"),
								   "degraded")),
			       "truncated"));
	json_decref(st);
	char *page = http_req(port, "GET", "/");
	CU_ASSERT(page && strstr(page, "HTTP/1.1 200 OK\r\n"));
	CU_ASSERT(page && strstr(page, "<b id=\"state\" class=\"state-degraded\">degraded</b>"));
	const char *banner = page ? strstr(page, "<p class=\"banner\" id=\"degraded\">") : NULL;
	CU_ASSERT(banner && strstr(banner, "data.mdb&quot; is truncated"));
	free(page);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

static void register_statuspage(void)
{
	CU_pSuite s = CU_add_suite("statuspage", NULL, NULL);
	TU_ADD(s, test_page_in_chromium);
	TU_ADD(s, test_page_degraded);
}

TU_MAIN(register_statuspage)
