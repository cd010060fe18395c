/*
 * cli/cmd_admin.c — `strata admin`: the client of stratad's control socket.
 *
 *   strata admin [--socket PATH] [--json | --text] COMMAND [ARGS...]
 *
 * It sends the command as one line (a JSON array of strings) and prints the
 * reply: as tables and sentences when stdout is a terminal (or with --text),
 * as the JSON lines stratad sent otherwise (or with --json).  --format json
 * (jsonl) prints the reply normalised to the shape documented for the
 * command (cli_admin_shapes[] below, docs/CLI.md "JSON output"): one
 * document (one line); `watch --format jsonl` prints its events so.  `watch` keeps printing
 * events until stratad or you (Ctrl-C) end it.  The socket is --socket,
 * else $STRATAD_SOCKET, else /run/stratad/admin.sock.
 *
 * Exit codes: 0 the command succeeded, 1 it failed (or stratad could not be
 * reached), 2 usage.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_DEFAULT_SOCKET "/run/stratad/admin.sock"

/* What `strata admin` prints. */
typedef enum {
	ADMIN_OUT_AUTO,  /* TEXT on a terminal, RAW otherwise */
	ADMIN_OUT_TEXT,  /* --text, --format text: tables and sentences */
	ADMIN_OUT_RAW,   /* --json: stratad's reply lines as they came */
	ADMIN_OUT_JSON,  /* --format json: the documented shape, one document */
	ADMIN_OUT_JSONL, /* --format jsonl: the same on one line; watch's events */
} admin_out;

/* ---- the documented shapes of the replies (docs/CLI.md, "JSON output") ----
 *
 * `--format json` prints a reply normalised to these (cli_json_normalise:
 * without "ok", which the exit status says, and with every key marked "?"
 * present, null when stratad left it out); `--json` passes the reply line
 * through untouched.  tests/test_json.c holds stratad's replies to them and
 * fails for an admin command of daemon/admin.c's table without one here. */

#define SH_JOB                                                                                   \
	"{\"id\": \"int\", \"kind\": \"string\", \"table\": \"string\", \"partition\": \"string?\", " \
	"\"bucket\": \"int?\", \"manual\": \"bool\", \"level\": \"int?\", \"through\": \"int?\", "    \
	"\"score\": \"number\", \"reason\": \"string\", \"queued_s\": \"number\", "                     \
	"\"running_s\": \"number?\", \"io_bytes\": \"int?\", \"cancelling\": \"bool?\"}"
#define SH_FINISHED                                                                              \
	"{\"id\": \"int\", \"kind\": \"string\", \"table\": \"string\", \"partition\": \"string?\", " \
	"\"bucket\": \"int?\", \"result\": \"string\", \"manual\": \"bool\", \"started_us\": "        \
	"\"int\", \"finished_us\": \"int\", \"seconds\": \"number\", \"files_in\": \"int\", "         \
	"\"files_out\": \"int\", \"bytes_in\": \"int\", \"bytes_out\": \"int\", \"rows_in\": "        \
	"\"int\", \"rows_out\": \"int\", \"version\": \"int?\", \"reason\": \"string\", \"error\": "  \
	"\"string?\"}"
#define SH_CHECK                                                                                 \
	"{\"kind\": \"string\", \"due\": \"bool\", \"score\": \"number\", \"level\": \"int?\", "      \
	"\"through\": \"int?\", \"why\": \"string\"}"
#define SH_QUEUE                                                                                 \
	"{\"message\": \"string\", \"queued\": [\"int\"], \"skipped\": [{\"partition\": "             \
	"\"string?\", \"bucket\": \"int?\", \"why\": \"string\", \"job\": \"int\"}]}"
#define SH_MESSAGE "{\"message\": \"string\"}"

const cli_json_shape cli_admin_shapes[] = {
	{"help",
	 "{\"commands\": [{\"name\": \"string\", \"usage\": \"string\", \"help\": \"string\", "
	 "\"access\": \"string\"}]}",
	 false},
	{"status",
	 "{\"degraded\": {\"is_degraded\": \"bool\", \"reason\": \"string?\", \"damaged_tables\": "
	 "[{\"table\": \"string\", \"finding\": \"string\", \"findings\": \"int\", \"since_s\": "
	 "\"number\"}]}, \"share\": {\"daemons\": [{\"owner\": \"string\", \"host\": \"string\", "
	 "\"pid\": \"int\", \"heartbeat_age_s\": \"number\", \"share\": \"string\", \"is_self\": "
	 "\"bool\"}], \"buckets_mine\": \"int\", \"buckets_total\": \"int\"}, "
	 "\"daemon\": {\"pid\": \"int\", \"uptime_s\": \"number\", \"warehouse\": "
	 "\"string\", \"config\": \"string\", \"state\": \"string\", \"workers\": \"int\", "
	 "\"running\": \"int\", \"queued\": \"int\", \"scan_interval_s\": \"int\", "
	 "\"last_scan_ms\": \"number\", \"last_scan_age_s\": \"number\", \"io_max_mb_s\": "
	 "\"number\", \"manifest_map_bytes\": \"int\", \"manifest_used_bytes\": \"int\", "
	 "\"intents_recovered_at_start\": \"int\"}, \"tables\": [{\"name\": \"string\", "
	 "\"version\": \"int\", \"paused\": \"bool\", \"files\": \"int\", \"bytes\": \"int\", "
	 "\"levels\": [{\"level\": \"int\", \"files\": \"int\", \"bytes\": \"int\"}], "
	 "\"row_files_waiting\": \"int\", \"oldest_row_file_s\": \"number\", \"history_bytes\": "
	 "\"int\", \"backpressure\": {\"state\": \"string\", \"max_level0_files\": \"int\", "
	 "\"slow_level0_files\": \"int\", \"buckets_waiting\": \"int\", \"buckets_slowing\": "
	 "\"int\"}, \"trash_files\": \"int\", \"trash_bytes\": \"int\", \"retention_boundary\": "
	 "\"int\", \"oldest_pin\": {\"?\": \"null\", \"version\": \"int\", \"holder\": \"string\", \"age_s\": "
	 "\"number?\"}, \"corrupt_buckets\": [{\"partition\": \"string\", \"bucket\": \"int\", "
	 "\"error\": \"string\", \"since_s\": \"number\"}], \"buckets_due\": \"int\", "
	 "\"buckets_backing_off\": \"int\"}], \"recent_jobs\": [" SH_FINISHED "]}",
	 false},
	{"tables",
	 "{\"tables\": [{\"name\": \"string\", \"version\": \"int\", \"buckets\": \"int\", "
	 "\"files\": \"int\", \"bytes\": \"int\", \"retain_hours\": \"int\", \"paused\": "
	 "\"bool\"}]}",
	 false},
	{"jobs",
	 "{\"running\": [" SH_JOB "], \"queued\": [" SH_JOB "], \"finished\": [" SH_FINISHED "]}",
	 false},
	{"plan",
	 "{\"tables\": [{\"name\": \"string\", \"version\": \"int\", \"retain_hours\": \"int\", "
	 "\"boundary\": \"int\", \"paused\": \"bool\", \"buckets\": [{\"partition\": \"string\", "
	 "\"bucket\": \"int\", \"files\": \"int\", \"bytes\": \"int\", \"floor\": \"int\", "
	 "\"best\": \"string?\", \"backing_off_s\": \"number?\", \"corrupt\": \"string?\", "
	 "\"job\": \"int?\", \"checks\": [" SH_CHECK "]}], \"clean\": {\"due\": \"bool\", "
	 "\"score\": \"number\", \"orphan_scan\": \"bool\", \"backing_off_s\": \"number?\", "
	 "\"why\": \"string\"}, \"expire\": {\"?\": \"null\", \"due\": \"bool?\", \"why\": "
	 "\"string\", \"partitions\": \"array?\"}, "
	 "\"next_due_s\": \"number?\"}]}",
	 false},
	{"policy",
	 "{\"table\": \"string\", \"config\": \"string\", \"keys\": [{\"key\": \"string\", "
	 "\"value\": \"string\", \"source\": \"string\", \"unit\": \"string\"}]}",
	 false},
	{"sort", SH_QUEUE, false},
	{"merge", SH_QUEUE, false},
	{"compact", SH_QUEUE, false},
	{"clean", SH_QUEUE, false},
	{"purge", SH_QUEUE, false},
	{"pause", SH_MESSAGE, false},
	{"resume", SH_MESSAGE, false},
	{"cancel", SH_MESSAGE, false},
	{"reload", "{\"message\": \"string?\"}", false},
	{"metrics", "{\"text\": \"string\"}", false},
	/* the events: {"event": "commit", "table", "version", "kind", "ts_us",
	 * "files_added", "files_removed", "note"} or {"event": "job", "state",
	 * "ts_us", and the fields of a job of `jobs`} */
	{"watch", "{\"event\": \"string\", \"ts_us\": \"int\", \"...\": \"any\"}", true},
	{"shutdown", SH_MESSAGE, false},
	{NULL, NULL, false},
};

static void human_bytes(uint64_t v, char *out, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double x = (double)v;
	int u = 0;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%" PRIu64 " B", v);
	else
		snprintf(out, n, "%.1f %s", x, units[u]);
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static json_int_t ji(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double jr(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static void where_text(json_t *j, char *out, size_t n)
{
	if (json_object_get(j, "bucket"))
		snprintf(out, n, "%s p=%s b=%lld", js(j, "table"), js(j, "partition"),
			 (long long)ji(j, "bucket"));
	else
		snprintf(out, n, "%s", js(j, "table"));
}

static void print_finished(json_t *arr, size_t max)
{
	printf("  %-6s %-19s %-24s %-9s %8s %11s %11s\n", "ID", "KIND", "WHERE", "RESULT", "SECONDS",
	       "READ", "WRITTEN");
	size_t i;
	json_t *j;
	json_array_foreach(arr, i, j)
	{
		if (i >= max)
			break;
		char where[160], in[32], out[32];
		where_text(j, where, sizeof(where));
		human_bytes((uint64_t)ji(j, "bytes_in"), in, sizeof(in));
		human_bytes((uint64_t)ji(j, "bytes_out"), out, sizeof(out));
		printf("  %-6lld %-19s %-24s %-9s %8.3f %11s %11s\n", (long long)ji(j, "id"),
		       js(j, "kind"), where, js(j, "result"), jr(j, "seconds"), in, out);
		if (json_object_get(j, "error"))
			printf("         error: %s\n", js(j, "error"));
	}
}

static void print_status(json_t *r)
{
	json_t *d = json_object_get(r, "daemon");
	char map[32], used[32];
	human_bytes((uint64_t)ji(d, "manifest_map_bytes"), map, sizeof(map));
	human_bytes((uint64_t)ji(d, "manifest_used_bytes"), used, sizeof(used));
	printf("stratad pid %lld, %s, up %.0f s; %lld workers: %lld running, %lld queued\n",
	       (long long)ji(d, "pid"), js(d, "state"), jr(d, "uptime_s"), (long long)ji(d, "workers"),
	       (long long)ji(d, "running"), (long long)ji(d, "queued"));
	printf("warehouse %s (config %s); manifest %s used of a %s map; last scan %.1f ms, %.1f s ago\n",
	       js(d, "warehouse"), js(d, "config"), used, map, jr(d, "last_scan_ms"),
	       jr(d, "last_scan_age_s"));
	json_t *dg = json_object_get(r, "degraded");
	if (json_is_true(json_object_get(dg, "is_degraded")))
		printf("DEGRADED: no jobs, no deletions: %s\n", js(dg, "reason"));
	size_t di;
	json_t *dt;
	json_array_foreach(json_object_get(dg, "damaged_tables"), di, dt)
		printf("DAMAGED table %s: no jobs, no deletions: %s\n", js(dt, "table"), js(dt, "finding"));
	/* the daemons sharing the warehouse (daemon/share.c) */
	json_t *sh = json_object_get(r, "share");
	json_t *dms = json_object_get(sh, "daemons");
	if (json_array_size(dms) > 1) {
		printf("%zu daemons share the warehouse; this one plans %lld of %lld buckets:\n",
		       json_array_size(dms), (long long)ji(sh, "buckets_mine"),
		       (long long)ji(sh, "buckets_total"));
		json_array_foreach(dms, di, dt)
			printf("  %s%s on %s, heartbeat %.1f s ago, %s\n", js(dt, "owner"),
			       json_is_true(json_object_get(dt, "is_self")) ? " (this one)" : "",
			       js(dt, "host"), jr(dt, "heartbeat_age_s"), js(dt, "share"));
	}
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r, "tables"), i, t)
	{
		char b[32], h[32], tr[32];
		human_bytes((uint64_t)ji(t, "bytes"), b, sizeof(b));
		human_bytes((uint64_t)ji(t, "history_bytes"), h, sizeof(h));
		human_bytes((uint64_t)ji(t, "trash_bytes"), tr, sizeof(tr));
		printf("\ntable %s, version %lld%s: %lld live files, %s\n", js(t, "name"),
		       (long long)ji(t, "version"), json_is_true(json_object_get(t, "paused")) ? " (paused)" : "",
		       (long long)ji(t, "files"), b);
		printf("  files per level:");
		size_t k;
		json_t *l;
		json_array_foreach(json_object_get(t, "levels"), k, l)
		{
			char lb[32];
			human_bytes((uint64_t)ji(l, "bytes"), lb, sizeof(lb));
			printf("  L%lld %lld (%s)", (long long)ji(l, "level"), (long long)ji(l, "files"), lb);
		}
		printf("%s\n", json_array_size(json_object_get(t, "levels")) ? "" : "  none");
		printf("  row files waiting: %lld", (long long)ji(t, "row_files_waiting"));
		if (ji(t, "row_files_waiting"))
			printf(" (oldest %.0f s)", jr(t, "oldest_row_file_s"));
		printf("; history: %s; trash: %lld files, %s\n", h, (long long)ji(t, "trash_files"), tr);
		json_t *pin = json_object_get(t, "oldest_pin");
		if (json_is_object(pin))
			printf("  oldest pin: version %lld held by %s (%.0f s old)\n",
			       (long long)ji(pin, "version"), js(pin, "holder"), jr(pin, "age_s"));
		else
			printf("  oldest pin: none\n");
		printf("  buckets due: %lld, backing off: %lld\n", (long long)ji(t, "buckets_due"),
		       (long long)ji(t, "buckets_backing_off"));
		/* damaged data files: never hidden (docs/OPERATIONS.md) */
		json_t *bad = json_object_get(t, "corrupt_buckets"), *cb;
		size_t m;
		if (json_array_size(bad))
			printf("  CORRUPT buckets: %zu (restore the file, then `strata admin sort %s "
			       "--bucket N`)\n",
			       json_array_size(bad), js(t, "name"));
		json_array_foreach(bad, m, cb)
			printf("    p=%s b=%lld corrupt for %.0f s: %s\n", js(cb, "partition"),
			       (long long)ji(cb, "bucket"), jr(cb, "since_s"), js(cb, "error"));
		/* writer back-pressure (table/txn.c), shown only where it is on */
		json_t *bp = json_object_get(t, "backpressure");
		if (json_is_object(bp) && strcmp(js(bp, "state"), "off") != 0)
			printf("  back-pressure: %s; writers wait in %lld buckets (at "
			       "write.max-level0-files %lld), slow in %lld (at "
			       "write.slow-level0-files %lld)\n",
			       js(bp, "state"), (long long)ji(bp, "buckets_waiting"),
			       (long long)ji(bp, "max_level0_files"), (long long)ji(bp, "buckets_slowing"),
			       (long long)ji(bp, "slow_level0_files"));
	}
	json_t *recent = json_object_get(r, "recent_jobs");
	if (json_array_size(recent)) {
		printf("\nrecent jobs:\n");
		print_finished(recent, 8);
	}
}

static void print_jobs(json_t *r)
{
	size_t i;
	json_t *j;
	printf("running:%s\n", json_array_size(json_object_get(r, "running")) ? "" : " none");
	json_array_foreach(json_object_get(r, "running"), i, j)
	{
		char where[160], io[32];
		where_text(j, where, sizeof(where));
		human_bytes((uint64_t)ji(j, "io_bytes"), io, sizeof(io));
		printf("  %-6lld %-19s %-24s %6.1f s, %s so far%s\n", (long long)ji(j, "id"), js(j, "kind"),
		       where, jr(j, "running_s"), io,
		       json_is_true(json_object_get(j, "cancelling")) ? " (cancelling)" : "");
	}
	printf("queued:%s\n", json_array_size(json_object_get(r, "queued")) ? "" : " none");
	json_array_foreach(json_object_get(r, "queued"), i, j)
	{
		char where[160];
		where_text(j, where, sizeof(where));
		printf("  %-6lld %-19s %-24s score %.2f: %s\n", (long long)ji(j, "id"), js(j, "kind"), where,
		       jr(j, "score"), js(j, "reason"));
	}
	printf("finished (newest first):%s\n",
	       json_array_size(json_object_get(r, "finished")) ? "" : " none");
	if (json_array_size(json_object_get(r, "finished")))
		print_finished(json_object_get(r, "finished"), 100);
}

static void print_plan(json_t *r)
{
	size_t i, k, c;
	json_t *t, *b, *ch;
	json_array_foreach(json_object_get(r, "tables"), i, t)
	{
		printf("table %s (version %lld, retention %lld h, boundary %lld)%s\n", js(t, "name"),
		       (long long)ji(t, "version"), (long long)ji(t, "retain_hours"),
		       (long long)ji(t, "boundary"), json_is_true(json_object_get(t, "paused")) ? " paused" : "");
		json_array_foreach(json_object_get(t, "buckets"), k, b)
		{
			json_t *best = json_object_get(b, "best");
			printf("  p=%s b=%lld (%lld files): %s%s", js(b, "partition"), (long long)ji(b, "bucket"),
			       (long long)ji(b, "files"), json_is_string(best) ? json_string_value(best) : "nothing due",
			       json_object_get(b, "backing_off_s") ? " (backing off)" : "");
			if (json_object_get(b, "job"))
				printf(" [job %lld]", (long long)ji(b, "job"));
			if (json_object_get(b, "corrupt"))
				printf(" CORRUPT");
			printf("\n");
			if (json_object_get(b, "corrupt"))
				printf("    corrupt: %s\n", js(b, "corrupt"));
			json_array_foreach(json_object_get(b, "checks"), c, ch)
				printf("    %-8s %s %s\n", js(ch, "kind"),
				       json_is_true(json_object_get(ch, "due")) ? "DUE" : "no ", js(ch, "why"));
		}
		json_t *cl = json_object_get(t, "clean");
		printf("  clean: %s%s\n", json_is_true(json_object_get(cl, "due")) ? "DUE: " : "", js(cl, "why"));
		json_t *ex = json_object_get(t, "expire");
		if (ex) {
			printf("  expire: %s%s\n", json_is_true(json_object_get(ex, "due")) ? "DUE: " : "",
			       js(ex, "why"));
			json_array_foreach(json_object_get(ex, "partitions"), k, b)
				printf("    %s %s\n", json_is_true(json_object_get(b, "due")) ? "DUE" : "no ",
				       js(b, "why"));
		}
	}
}

static void print_policy(json_t *r)
{
	printf("effective policy of %s (config %s):\n", js(r, "table"), js(r, "config"));
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(r, "keys"), i, k)
		printf("  %-28s %-12s %-10s %s\n", js(k, "key"), js(k, "value"), js(k, "unit"),
		       js(k, "source"));
}

static void print_tables(json_t *r)
{
	printf("%-24s %9s %8s %8s %12s %s\n", "TABLE", "VERSION", "BUCKETS", "FILES", "BYTES", "");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r, "tables"), i, t)
	{
		char b[32];
		human_bytes((uint64_t)ji(t, "bytes"), b, sizeof(b));
		printf("%-24s %9lld %8lld %8lld %12s %s\n", js(t, "name"), (long long)ji(t, "version"),
		       (long long)ji(t, "buckets"), (long long)ji(t, "files"), b,
		       json_is_true(json_object_get(t, "paused")) ? "paused" : "");
	}
}

static void print_help(json_t *r)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(r, "commands"), i, c)
		printf("  %-70s [%s]\n      %s\n", js(c, "usage"), js(c, "access"), js(c, "help"));
}

static void print_event(json_t *e)
{
	char ts[32] = "";
	time_t sec = (time_t)(ji(e, "ts_us") / 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	if (strcmp(js(e, "event"), "commit") == 0) {
		printf("%s commit  %s v%lld %s: +%lld -%lld files  %s\n", ts, js(e, "table"),
		       (long long)ji(e, "version"), js(e, "kind"), (long long)ji(e, "files_added"),
		       (long long)ji(e, "files_removed"), js(e, "note"));
	} else {
		char where[160];
		where_text(e, where, sizeof(where));
		printf("%s job %-8s %lld %s of %s", ts, js(e, "state"), (long long)ji(e, "id"), js(e, "kind"),
		       where);
		if (json_object_get(e, "result"))
			printf(": %s in %.3f s", js(e, "result"), jr(e, "seconds"));
		if (json_object_get(e, "error"))
			printf(" (%s)", js(e, "error"));
		printf("\n");
	}
	fflush(stdout);
}

static void print_human(const char *cmd, json_t *r)
{
	if (strcmp(cmd, "status") == 0)
		print_status(r);
	else if (strcmp(cmd, "jobs") == 0)
		print_jobs(r);
	else if (strcmp(cmd, "plan") == 0)
		print_plan(r);
	else if (strcmp(cmd, "policy") == 0)
		print_policy(r);
	else if (strcmp(cmd, "tables") == 0)
		print_tables(r);
	else if (strcmp(cmd, "help") == 0)
		print_help(r);
	else if (strcmp(cmd, "metrics") == 0)
		fputs(js(r, "text"), stdout);
	else if (strcmp(cmd, "watch") == 0)
		printf("watching job and commit events (Ctrl-C to stop)\n");
	else {
		printf("%s\n", json_object_get(r, "message") ? js(r, "message") : "ok");
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(r, "skipped"), i, s)
		{
			if (json_object_get(s, "bucket"))
				printf("  skipped p=%s b=%lld: %s (job %lld)\n", js(s, "partition"),
				       (long long)ji(s, "bucket"), js(s, "why"), (long long)ji(s, "job"));
			else
				printf("  skipped: %s (job %lld)\n", js(s, "why"), (long long)ji(s, "job"));
		}
		json_t *q = json_object_get(r, "queued");
		if (json_array_size(q)) {
			printf("  job ids:");
			json_t *id;
			json_array_foreach(q, i, id)
				printf(" %lld", (long long)json_integer_value(id));
			printf("  (see `strata admin jobs`)\n");
		}
	}
}

/* Print a reply or event (the reference is taken) normalised to its
 * documented shape: "ok" dropped, absent "?" keys as null (cli/out.c). */
static void print_normalised(json_t *v, const cli_json_shape *shape, admin_out format)
{
	json_object_del(v, "ok");
	json_t *sh = shape ? json_loads(shape->shape, 0, NULL) : NULL;
	if (sh)
		cli_json_normalise(v, sh);
	json_decref(sh);
	if (format == ADMIN_OUT_JSON) {
		cli_json_print(v);
		return;
	}
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (text)
		printf("%s\n", text);
	free(text);
	fflush(stdout);
	json_decref(v);
}

/* Read one line from fd into b (without the newline); 1, 0 at EOF, -errno. */
static int read_line(int fd, strata_buf *pending, strata_buf *line)
{
	strata_buf_reset(line);
	for (;;) {
		uint8_t *nl = pending->len ? memchr(pending->data, '\n', pending->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - pending->data);
			strata_buf_append(line, pending->data, n);
			memmove(pending->data, nl + 1, pending->len - n - 1);
			pending->len -= n + 1;
			strata_buf_putc(line, 0);
			return 1;
		}
		char chunk[65536];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		strata_buf_append(pending, chunk, (size_t)r);
	}
}

int cli_cmd_admin(cli_ctx *ctx, int argc, char **argv);

int cli_cmd_admin(cli_ctx *ctx, int argc, char **argv)
{
	const cli_cmd *cmd = cli_find("admin");
	const char *path = getenv("STRATAD_SOCKET");
	admin_out format = ADMIN_OUT_AUTO;
	int i = 1;
	for (; i < argc; i++) {
		const char *fv = NULL;
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--socket=", 9) == 0)
			path = argv[i] + 9;
		else if (strcmp(argv[i], "--json") == 0)
			format = ADMIN_OUT_RAW;
		else if (strcmp(argv[i], "--text") == 0)
			format = ADMIN_OUT_TEXT;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			fv = argv[++i];
		else if (strncmp(argv[i], "--format=", 9) == 0)
			fv = argv[i] + 9;
		else
			break;
		cli_format f;
		if (fv && !cli_format_parse(fv, CLI_FMTS_ROWS, &f))
			return cli_format_usage(cmd, CLI_FMTS_ROWS, fv);
		if (fv)
			format = f == CLI_FMT_TEXT ? ADMIN_OUT_TEXT :
				 f == CLI_FMT_JSON ? ADMIN_OUT_JSON : ADMIN_OUT_JSONL;
	}
	if (i >= argc)
		return cli_usage(cmd, "give a COMMAND (try `strata admin help`)");
	if (format == ADMIN_OUT_JSON && strcmp(argv[i], "watch") == 0)
		return cli_usage(cmd, "watch streams events: use --format jsonl (one event a line)");
	const cli_json_shape *shape = NULL;
	for (const cli_json_shape *sh = cli_admin_shapes; sh->name; sh++)
		if (strcmp(sh->name, argv[i]) == 0)
			shape = sh;
	/* a job id is a whole number from 1: "-1" would reach stratad as a word
	 * it once read as job 18446744073709551615 */
	uint64_t job_id = 0;
	if (strcmp(argv[i], "cancel") == 0 && i + 1 < argc &&
	    (!cli_parse_u64(argv[i + 1], &job_id) || job_id == 0)) {
		char why[160];
		snprintf(why, sizeof(why),
			 "cancel wants a job id, a whole number from 1 (see `strata admin jobs`), got \"%.64s\"",
			 argv[i + 1]);
		return cli_usage(cmd, "%s", why);
	}
	if (!path || !*path)
		path = ADMIN_DEFAULT_SOCKET;
	if (format == ADMIN_OUT_AUTO)
		format = isatty(STDOUT_FILENO) ? ADMIN_OUT_TEXT : ADMIN_OUT_RAW;
	json_t *arr = json_array();
	for (int k = i; k < argc; k++)
		json_array_append_new(arr, json_string(argv[k]));
	char *req = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(req);
		fprintf(stderr, "strata admin: socket path \"%s\" is too long\n", path);
		return CLI_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		fprintf(stderr, "strata admin: could not connect to stratad at %s: %s (%s)\n", path,
			strerror(e),
			e == EACCES ? "you need write permission on the socket: see socket_mode and admin_group" :
				      "is stratad running? give its socket with --socket or $STRATAD_SOCKET");
		free(req);
		if (fd >= 0)
			close(fd);
		return CLI_ERROR;
	}
	strata_buf out = {0};
	strata_buf_printf(&out, "%s\n", req);
	free(req);
	size_t off = 0;
	while (off < out.len) {
		ssize_t w = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	strata_buf_free(&out);
	strata_buf pending = {0}, line = {0};
	int rc = CLI_ERROR;
	int r = read_line(fd, &pending, &line);
	if (r <= 0) {
		fprintf(stderr, "strata admin: stratad closed the connection without a reply%s%s\n",
			r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		goto out;
	}
	json_error_t je;
	json_t *reply = json_loads((char *)line.data, 0, &je);
	if (!reply) {
		fprintf(stderr, "strata admin: unreadable reply from stratad: %s\n", je.text);
		goto out;
	}
	bool ok = json_is_true(json_object_get(reply, "ok"));
	bool is_watch = strcmp(argv[i], "watch") == 0;
	if (!ok)
		fprintf(stderr, "strata admin: %s\n", js(reply, "error"));
	else if (format == ADMIN_OUT_RAW)
		printf("%s\n", (char *)line.data);
	else if (format == ADMIN_OUT_TEXT)
		print_human(argv[i], reply);
	else if (!is_watch) /* watch: its events are the output */
		print_normalised(json_incref(reply), shape, format);
	json_decref(reply);
	rc = ok ? CLI_OK : CLI_ERROR;
	if (ok && strcmp(argv[i], "watch") == 0) {
		fflush(stdout);
		while ((r = read_line(fd, &pending, &line)) > 0) {
			if (format == ADMIN_OUT_RAW) {
				printf("%s\n", (char *)line.data);
				fflush(stdout);
				continue;
			}
			json_t *e = json_loads((char *)line.data, 0, &je);
			if (e && format == ADMIN_OUT_TEXT)
				print_event(e);
			else if (e)
				print_normalised(json_incref(e), shape, ADMIN_OUT_JSONL);
			json_decref(e);
		}
	}
out:
	strata_buf_free(&pending);
	strata_buf_free(&line);
	close(fd);
	(void)ctx;
	return rc;
}
