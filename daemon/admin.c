/*
 * daemon/admin.c — the admin control socket: peers, the command table, the
 * dispatcher and the commands.
 *
 * The socket is a Unix stream socket (path and mode from the config) in a
 * runtime directory of mode 0750.  On accept, SO_PEERCRED gives the peer's
 * uid, gid and pid; stratad_peer_authorize() decides what it may do:
 *   read   root, stratad's own uid, or a member of admin_group (primary
 *          group or getgrouplist) — the commands flagged CMD_READ;
 *   write  root or stratad's own uid — everything else, including the
 *          destructive commands (purge, compact --drop-history, shutdown).
 * A peer that may not even read gets one refusal line and is disconnected;
 * a reader asking for more gets a refusal reply.  Both are logged.
 *
 * Protocol: one command per line (at most D_LINE_MAX bytes): words separated
 * by blanks ("double quotes" group words), or a JSON array of strings (what
 * `strata admin` sends).  Every reply is one JSON object on one line with
 * "ok": true or "ok": false and "error".  `watch` answers one line and then
 * streams events, one JSON object per line, until the client leaves.
 *
 * One static command table (name, arity, flags, handler, usage, help), one
 * dispatcher that checks arity and permissions, times the handler and
 * writes the audit line (uid, pid, command, outcome, milliseconds); `help`
 * is generated from the table (Redis's command table).
 *
 * Invariants:
 *   1. every command line gets exactly one reply line (watch: its first);
 *   2. permissions are checked before a handler runs, from the table's flags
 *      and, for compact, its arguments;
 *   3. every command and every refusal is logged with uid and pid;
 *   4. connections are bounded (max_clients) and so are lines; a watcher that
 *      falls D_WATCH_BACKLOG_MAX behind is dropped, and one that leaves
 *      mid-stream is simply freed;
 *   4a. root and stratad's own uid always get in: past max_clients there are
 *      D_ADMIN_RESERVED more slots that only they may take, and a connection
 *      in such a slot may not `watch` (it is closed when idle like any other),
 *      so the slot is free again within admin_idle_timeout_s;
 *   4b. no connection holds a slot by doing nothing: one that sends no command
 *      for admin_idle_timeout_s, or leaves its replies unread that long, is
 *      closed (watchers only listen: they are exempt, and bounded by 4);
 *   4c. accept() failures (fd exhaustion) pause the listener (listen.c);
 *   5. so are replies: a client that sends commands without reading their
 *      replies is not read while more than D_REPLY_BACKLOG_MAX bytes of them
 *      wait (the kernel then pushes back on its writes), and one that
 *      half-closes its end still gets every reply before the close.
 * Loop thread only.
 */
#include "daemon/daemon_int.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#define CMD_READ 0x1          /* admin_group may use it */
#define CMD_WRITE 0x2         /* root or stratad's uid */
#define CMD_DESTRUCTIVE 0x4   /* root or stratad's uid, logged as destructive */
#define CMD_DROP_HISTORY 0x8  /* destructive with --drop-history */
#define CMD_STREAM 0x10       /* needs a connection (watch) */

typedef struct dcmd dcmd;

typedef struct cmd_ctx {
	stratad *d;
	dclient *c; /* NULL outside a connection */
	const stratad_peer *peer;
	const dcmd *cmd;
	int argc;
	char **argv;
	json_t *reply;
	strata_err *err;
} cmd_ctx;

struct dcmd {
	const char *name;
	int min_args, max_args; /* after the name; max -1: any */
	unsigned flags;
	int (*fn)(cmd_ctx *x);
	const char *usage;
	const char *help;
};

static int cmd_help(cmd_ctx *x);
static int cmd_status(cmd_ctx *x);
static int cmd_tables(cmd_ctx *x);
static int cmd_jobs(cmd_ctx *x);
static int cmd_plan(cmd_ctx *x);
static int cmd_policy(cmd_ctx *x);
static int cmd_queue(cmd_ctx *x);
static int cmd_pause(cmd_ctx *x);
static int cmd_cancel(cmd_ctx *x);
static int cmd_reload(cmd_ctx *x);
static int cmd_metrics(cmd_ctx *x);
static int cmd_watch(cmd_ctx *x);
static int cmd_shutdown(cmd_ctx *x);

static const dcmd cmds[] = {
	{"help", 0, 1, CMD_READ, cmd_help, "help [COMMAND]",
	 "List the commands with who may use them, or show one command's usage."},
	{"status", 0, 0, CMD_READ, cmd_status, "status",
	 "The daemon's state, every table's files and bytes per level, row files waiting, "
	 "history and trash bytes and oldest pin, and the most recent jobs."},
	{"tables", 0, 0, CMD_READ, cmd_tables, "tables",
	 "Tables with their version, live files and bytes, and whether they are paused."},
	{"jobs", 0, 0, CMD_READ, cmd_jobs, "jobs",
	 "Running jobs, queued jobs (with score and reason), and the last 100 finished ones "
	 "with durations and bytes."},
	{"plan", 0, 1, CMD_READ, cmd_plan, "plan [TABLE]",
	 "What would run now and why, with the numbers compared, planned afresh.  Without "
	 "TABLE: the buckets with something due or backing off; with TABLE: every bucket."},
	{"policy", 1, 1, CMD_READ, cmd_policy, "policy TABLE",
	 "Every effective policy value of TABLE and where it came from: default, [policy], "
	 "[table.TABLE] or the table's property."},
	{"sort", 1, 5, CMD_WRITE, cmd_queue, "sort TABLE [--partition SPEC] [--bucket N]",
	 "Queue a sort of every bucket that has row files, thresholds ignored."},
	{"merge", 1, 5, CMD_WRITE, cmd_queue, "merge TABLE [--partition SPEC] [--bucket N]",
	 "Queue a leveled merge of every bucket with two files on one level."},
	{"compact", 1, 7, CMD_WRITE | CMD_DROP_HISTORY, cmd_queue,
	 "compact TABLE [--partial|--major] [--drop-history] [--partition SPEC] [--bucket N]",
	 "Queue a partial (default) or major compaction of every bucket with files.  "
	 "--drop-history (with --major) frees the replaced files at once: destructive."},
	{"clean", 1, 1, CMD_WRITE, cmd_queue, "clean TABLE",
	 "Queue a clean of TABLE, with an orphan scan."},
	{"purge", 1, 1, CMD_DESTRUCTIVE, cmd_queue, "purge TABLE",
	 "Queue a purge: drop all history of TABLE now, tags included.  Destructive."},
	{"pause", 0, 1, CMD_WRITE, cmd_pause, "pause [TABLE]",
	 "Stop queueing jobs (for TABLE, or everywhere: then workers start nothing).  "
	 "Running jobs finish.  Pauses last until resume or a restart."},
	{"resume", 0, 1, CMD_WRITE, cmd_pause, "resume [TABLE]", "Undo pause."},
	{"cancel", 1, 1, CMD_WRITE, cmd_cancel, "cancel JOB",
	 "Drop a queued job, or stop a running one at its next block."},
	{"reload", 0, 0, CMD_WRITE, cmd_reload, "reload",
	 "Re-read the config file, all or nothing (like SIGHUP), and say what happened."},
	{"metrics", 0, 0, CMD_READ, cmd_metrics, "metrics",
	 "The Prometheus metrics, as text in the reply's \"text\"."},
	{"watch", 0, 0, CMD_READ | CMD_STREAM, cmd_watch, "watch",
	 "Stream job and commit events, one JSON object per line, until you leave."},
	{"shutdown", 0, 0, CMD_DESTRUCTIVE, cmd_shutdown, "shutdown",
	 "Stop stratad as SIGTERM does.  Destructive."},
};

/* Who may run a command with these flags, as `help` and the man page say. */
static const char *access_name(unsigned flags)
{
	return flags & CMD_READ ? "read" : flags & CMD_DESTRUCTIVE ? "owner (destructive)" : "owner";
}

bool stratad_admin_command_info(size_t i, const char **name, const char **usage,
				const char **help, const char **access)
{
	if (i >= STRATA_ARRAY_LEN(cmds))
		return false;
	*name = cmds[i].name;
	*usage = cmds[i].usage;
	*help = cmds[i].help;
	*access = access_name(cmds[i].flags);
	return true;
}

static const dcmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/* ---- peers ---------------------------------------------------------------------------------- */

static bool uid_in_group(uid_t uid, gid_t gid, gid_t want)
{
	if (gid == want)
		return true;
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	if (pw.pw_gid == want)
		return true;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

void stratad_peer_authorize(const stratad *d, stratad_peer *p)
{
	p->may_write = p->uid == 0 || p->uid == d->uid;
	p->may_read = p->may_write ||
		      (d->cfg->has_admin_gid && uid_in_group(p->uid, p->gid, d->cfg->admin_gid));
}

/* ---- tokenizing ------------------------------------------------------------------------------- */

static int tokenize(const char *line, strata_arena *a, char **argv, int *argc, strata_err *err)
{
	*argc = 0;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '[') {
		json_error_t je;
		json_t *arr = json_loads(line, 0, &je);
		if (!arr || !json_is_array(arr)) {
			json_decref(arr);
			return strata_err_set(err, STRATA_EINVAL, "bad JSON command: %s", je.text);
		}
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			if (!json_is_string(v) || *argc >= D_ARGS_MAX) {
				json_decref(arr);
				return strata_err_set(err, STRATA_EINVAL,
						      "a JSON command is an array of at most %d strings",
						      D_ARGS_MAX);
			}
			argv[(*argc)++] = strata_arena_strdup(a, json_string_value(v));
		}
		json_decref(arr);
		return 0;
	}
	size_t n = strlen(line);
	char *buf = strata_arena_alloc(a, n + 1);
	const char *p = line;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*argc >= D_ARGS_MAX)
			return strata_err_set(err, STRATA_EINVAL, "more than %d words", D_ARGS_MAX);
		char *w = buf;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				*buf++ = *p++;
			}
			if (*p != '"')
				return strata_err_set(err, STRATA_EINVAL, "unterminated quote");
			p++;
		} else {
			while (*p && *p != ' ' && *p != '\t')
				*buf++ = *p++;
		}
		*buf++ = '\0';
		argv[(*argc)++] = w;
	}
	return 0;
}

/* ---- dispatcher -------------------------------------------------------------------------------- */

static bool has_arg(int argc, char **argv, const char *want)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], want) == 0)
			return true;
	return false;
}

static void reply_line(json_t *reply, strata_buf *out)
{
	char *s = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(10));
	strata_buf_printf(out, "%s\n", s ? s : "{\"ok\":false,\"error\":\"could not encode the reply\"}");
	free(s);
}

static void audit(stratad *d, const stratad_peer *peer, int argc, char **argv, const char *outcome,
		  double ms, bool is_refusal, bool is_destructive)
{
	char line[600];
	size_t used = 0;
	line[0] = '\0';
	for (int i = 0; i < argc && used < sizeof(line) - 8; i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i ? " " : "", argv[i]);
	if (is_refusal)
		LOG_WARN("admin: uid %u pid %d: \"%s\" refused: %s", (unsigned)peer->uid, (int)peer->pid,
			 line, outcome);
	else if (is_destructive)
		LOG_WARN("admin: uid %u pid %d: \"%s\" (destructive) -> %s (%.2f ms)", (unsigned)peer->uid,
			 (int)peer->pid, line, outcome, ms);
	else
		LOG_INFO("admin: uid %u pid %d: \"%s\" -> %s (%.2f ms)", (unsigned)peer->uid,
			 (int)peer->pid, line, outcome, ms);
	(void)d;
}

/* What the dispatcher decided about a line before any handler runs. */
typedef struct admin_parsed {
	char *argv[D_ARGS_MAX + 1];
	int argc;
	const dcmd *cmd;
	bool is_refusal;     /* permission denied */
	bool is_destructive;
} admin_parsed;

/* Tokenize line, find the command, check its arity and the peer's
 * permission (invariant 2).  Words go into arena a.  Pure: touches no
 * daemon state, so stratad_admin_check() can run it without a daemon. */
static int admin_parse(uid_t daemon_uid, const stratad_peer *peer, const char *line,
		       strata_arena *a, admin_parsed *p, strata_err *err)
{
	memset(p, 0, sizeof(*p));
	/* every reply is JSON, which holds UTF-8 only: a line with other bytes
	 * would give replies that lose their "error" (jansson refuses the
	 * string) or echo bytes a client cannot decode */
	json_t *probe = json_string(line);
	if (!probe)
		return strata_err_set(err, STRATA_EINVAL, "the command line is not valid UTF-8");
	json_decref(probe);
	int rc = tokenize(line, a, p->argv, &p->argc, err);
	if (rc == 0 && p->argc == 0)
		rc = strata_err_set(err, STRATA_EINVAL, "empty command (try help)");
	if (rc == 0 && !(p->cmd = cmd_find(p->argv[0])))
		rc = strata_err_set(err, STRATA_ENOTFOUND, "unknown command \"%.64s\" (try help)",
				    p->argv[0]);
	const dcmd *cmd = p->cmd;
	if (rc == 0 && (p->argc - 1 < cmd->min_args ||
			(cmd->max_args >= 0 && p->argc - 1 > cmd->max_args)))
		rc = strata_err_set(err, STRATA_EINVAL, "wrong number of arguments for %s: usage: %s",
				    cmd->name, cmd->usage);
	if (rc == 0) {
		p->is_destructive = (cmd->flags & CMD_DESTRUCTIVE) ||
				    ((cmd->flags & CMD_DROP_HISTORY) &&
				     has_arg(p->argc, p->argv, "--drop-history"));
		bool may = (cmd->flags & CMD_READ) ? peer->may_read : peer->may_write;
		if (!may) {
			p->is_refusal = true;
			rc = strata_err_set(err, STRATA_EINVAL,
					    "permission denied: %s%s needs root or stratad's user (uid %u); "
					    "uid %u may only use the read-only commands",
					    cmd->name, p->is_destructive ? " (destructive)" : "",
					    (unsigned)daemon_uid, (unsigned)peer->uid);
		}
	}
	return rc;
}

static void reply_error_line(int rc, const strata_err *err, strata_buf *out)
{
	json_t *full = json_object();
	json_object_set_new(full, "ok", json_false());
	json_object_set_new(full, "error", json_string(err->msg[0] ? err->msg : strata_strerror(rc)));
	reply_line(full, out);
	json_decref(full);
}

int stratad_admin_check(uid_t daemon_uid, const stratad_peer *peer, const char *line,
			strata_buf *out)
{
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	admin_parsed p;
	int rc = admin_parse(daemon_uid, peer, line, a, &p, &err);
	if (rc) {
		reply_error_line(rc, &err, out);
	} else {
		json_t *r = json_object(), *args = json_array();
		json_object_set_new(r, "ok", json_true());
		json_object_set_new(r, "command", json_string(p.cmd->name));
		for (int i = 1; i < p.argc; i++)
			json_array_append_new(args, json_string(p.argv[i]));
		json_object_set_new(r, "args", args);
		json_object_set_new(r, "destructive", json_boolean(p.is_destructive));
		json_object_set_new(r, "stream", json_boolean(p.cmd->flags & CMD_STREAM));
		reply_line(r, out);
		json_decref(r);
	}
	strata_arena_free(a);
	return rc;
}

static int dispatch(stratad *d, dclient *c, const stratad_peer *peer, const char *line,
		    strata_buf *out)
{
	strata_err err;
	strata_err_clear(&err);
	strata_arena *a = strata_arena_new();
	admin_parsed p;
	json_t *reply = json_object();
	d->m.admin_commands++;
	int rc = admin_parse(d->uid, peer, line, a, &p, &err);
	const dcmd *cmd = p.cmd;
	if (p.is_refusal)
		d->m.admin_refused++;
	if (rc == 0 && (cmd->flags & CMD_STREAM) && !c)
		rc = strata_err_set(&err, STRATA_EINVAL, "%s needs a connection", cmd->name);
	int64_t t0 = strata_mono_us();
	if (rc == 0) {
		cmd_ctx x = {.d = d, .c = c, .peer = peer, .cmd = cmd, .argc = p.argc,
			     .argv = p.argv, .reply = reply, .err = &err};
		rc = cmd->fn(&x);
	}
	double ms = (double)(strata_mono_us() - t0) / 1e3;
	if (rc) {
		reply_error_line(rc, &err, out);
	} else {
		json_t *full = json_object(); /* "ok" first on the line */
		json_object_set_new(full, "ok", json_true());
		json_object_del(reply, "ok");
		json_object_update(full, reply);
		reply_line(full, out); /* invariant 1 */
		json_decref(full);
	}
	json_decref(reply);
	char outcome[STRATA_ERR_MSG_MAX + 16];
	snprintf(outcome, sizeof(outcome), "%s", rc ? err.msg : "ok");
	if (p.argc > 0) /* invariant 3 */
		audit(d, peer, p.argc, p.argv, outcome, ms, p.is_refusal, p.is_destructive);
	else
		audit(d, peer, 1, (char *[]){(char *)"(unparsable line)"}, outcome, ms, p.is_refusal,
		      false);
	strata_arena_free(a);
	return rc;
}

int stratad_admin_exec(stratad *d, const stratad_peer *peer, const char *line, strata_buf *out)
{
	return dispatch(d, NULL, peer, line, out);
}

/* ---- commands --------------------------------------------------------------------------------- */

static int cmd_help(cmd_ctx *x)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cmds); i++) {
		const dcmd *c = &cmds[i];
		if (x->argc > 1 && strcmp(x->argv[1], c->name) != 0)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "usage", json_string(c->usage));
		json_object_set_new(o, "help", json_string(c->help));
		json_object_set_new(o, "access", json_string(access_name(c->flags)));
		json_array_append_new(arr, o);
	}
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return strata_err_set(x->err, STRATA_ENOTFOUND, "unknown command \"%.64s\"", x->argv[1]);
	}
	json_object_set_new(x->reply, "commands", arr);
	return 0;
}

static json_t *levels_json(const dtable *t)
{
	json_t *arr = json_array();
	for (int l = 0; l < STRATA_POL_LEVELS; l++) {
		if (!t->files_per_level[l])
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "level", json_integer(l));
		json_object_set_new(o, "files", json_integer((json_int_t)t->files_per_level[l]));
		json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes_per_level[l]));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *table_json(const stratad *d, const dtable *t, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "version", json_integer((json_int_t)t->version));
	json_object_set_new(o, "paused", json_boolean(t->is_paused));
	json_object_set_new(o, "files", json_integer((json_int_t)t->files));
	json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes));
	json_object_set_new(o, "levels", levels_json(t));
	json_object_set_new(o, "row_files_waiting", json_integer((json_int_t)t->files_per_level[0]));
	json_object_set_new(o, "oldest_row_file_s",
			    json_real(t->l0_oldest_us ? (double)(now - t->l0_oldest_us) / 1e6 : 0));
	json_object_set_new(o, "history_bytes", json_integer((json_int_t)t->history_bytes));
	/* writer back-pressure (table/txn.c) */
	json_object_set_new(o, "backpressure",
			    json_pack("{s:s,s:I,s:I,s:I,s:I}", "state",
				      !t->bp_max_l0 && !t->bp_slow_l0 ? "off" :
				      t->bp_waiting		     ? "waiting" :
				      t->bp_slowed		     ? "slowing" :
								       "clear",
				      "max_level0_files", (json_int_t)t->bp_max_l0,
				      "slow_level0_files", (json_int_t)t->bp_slow_l0,
				      "buckets_waiting", (json_int_t)t->bp_waiting,
				      "buckets_slowing", (json_int_t)t->bp_slowed));
	json_object_set_new(o, "trash_files", json_integer((json_int_t)t->trash_files));
	json_object_set_new(o, "trash_bytes", json_integer((json_int_t)t->trash_bytes));
	json_object_set_new(o, "retention_boundary", json_integer((json_int_t)t->boundary));
	if (t->pin_version) {
		json_t *p = json_object();
		json_object_set_new(p, "version", json_integer((json_int_t)t->pin_version));
		json_object_set_new(p, "holder", json_string(t->pin_holder));
		if (t->pin_ts_us)
			json_object_set_new(p, "age_s", json_real((double)(now - t->pin_ts_us) / 1e6));
		json_object_set_new(o, "oldest_pin", p);
	} else {
		json_object_set_new(o, "oldest_pin", json_null());
	}
	json_t *bad = json_array();
	for (size_t i = 0; i < t->nb; i++) {
		const dbucket *b = &t->b[i];
		if (!b->is_corrupt)
			continue;
		json_t *c = json_object();
		json_object_set_new(c, "partition", json_string(*b->part_name ? b->part_name : "_"));
		json_object_set_new(c, "bucket", json_integer(b->bucket));
		json_object_set_new(c, "error", json_string(b->corrupt_error));
		json_object_set_new(c, "since_s", json_real((double)(now - b->corrupt_since_us) / 1e6));
		json_array_append_new(bad, c);
	}
	json_object_set_new(o, "corrupt_buckets", bad);
	json_object_set_new(o, "buckets_due", json_integer((json_int_t)t->due));
	json_object_set_new(o, "buckets_backing_off", json_integer((json_int_t)t->backing_off));
	(void)d;
	return o;
}

static json_t *recent_json(const stratad *d, size_t max)
{
	json_t *arr = json_array();
	for (size_t k = 0; k < d->nfin && k < max; k++) {
		size_t i = (d->fin_next + D_FINISHED_MAX - 1 - k) % D_FINISHED_MAX;
		json_array_append_new(arr, d_summary_json(&d->fin[i]));
	}
	return arr;
}

static int cmd_status(cmd_ctx *x)
{
	stratad *d = x->d;
	int64_t now = strata_now_us();
	json_t *dm = json_object();
	pthread_mutex_lock(&d->mu);
	size_t running = d->jobs.nrunning, queued = d->jobs.nqueue;
	int workers = d->jobs.nworkers;
	pthread_mutex_unlock(&d->mu);
	json_object_set_new(dm, "pid", json_integer(getpid()));
	json_object_set_new(dm, "uptime_s", json_real((double)(now - d->started_us) / 1e6));
	char whn[600];
	strata_warehouse_display(d->cfg->d.warehouse, whn, sizeof(whn));
	json_object_set_new(dm, "warehouse", json_string(whn));
	json_object_set_new(dm, "config", json_string(d->cfg->path));
	json_object_set_new(dm, "state", json_string(d->state == D_STOPPING   ? "stopping" :
						     !d->wh || d->is_degraded ? "degraded" :
						     d->jobs.is_paused	      ? "paused" :
									"running"));
	/* stratad.c, the damage rule */
	json_t *dg = json_object();
	json_object_set_new(dg, "is_degraded", json_boolean(!d->wh || d->is_degraded));
	json_object_set_new(dg, "reason", !d->wh || d->is_degraded ? json_string(d->degraded_msg) :
								     json_null());
	json_t *dt = json_array();
	for (size_t i = 0; i < d->ndamaged; i++)
		json_array_append_new(dt, json_pack("{s:s,s:s,s:I,s:f}", "table", d->damaged[i].table,
						    "finding", d->damaged[i].finding, "findings",
						    (json_int_t)d->damaged[i].findings, "since_s",
						    (double)(now - d->damaged[i].since_us) / 1e6));
	json_object_set_new(dg, "damaged_tables", dt);
	json_object_set_new(x->reply, "degraded", dg);
	json_object_set_new(x->reply, "share", d_share_json(d)); /* daemon/share.c */
	json_object_set_new(dm, "workers", json_integer(workers));
	json_object_set_new(dm, "running", json_integer((json_int_t)running));
	json_object_set_new(dm, "queued", json_integer((json_int_t)queued));
	json_object_set_new(dm, "scan_interval_s", json_integer(d->cfg->d.scan_interval_s));
	json_object_set_new(dm, "last_scan_ms", json_real(d->m.last_scan_ms));
	json_object_set_new(dm, "last_scan_age_s",
			    json_real(d->last_scan_wall_us ? (double)(now - d->last_scan_wall_us) / 1e6 : -1));
	json_object_set_new(dm, "io_max_mb_s", json_real(d->cfg->d.io_max_mb_s));
	uint64_t map = 0, used = 0;
	if (d->wh)
		strata_mf_usage(strata_wh_mf(d->wh), &map, &used);
	json_object_set_new(dm, "manifest_map_bytes", json_integer((json_int_t)map));
	json_object_set_new(dm, "manifest_used_bytes", json_integer((json_int_t)used));
	json_object_set_new(dm, "intents_recovered_at_start",
			    json_integer((json_int_t)d->m.intents_recovered));
	json_object_set_new(x->reply, "daemon", dm);
	json_t *tabs = json_array();
	for (size_t i = 0; i < d->ntables; i++)
		json_array_append_new(tabs, table_json(d, d->tables[i], now));
	json_object_set_new(x->reply, "tables", tabs);
	json_object_set_new(x->reply, "recent_jobs", recent_json(d, 8));
	return 0;
}

static int cmd_tables(cmd_ctx *x)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < x->d->ntables; i++) {
		const dtable *t = x->d->tables[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "version", json_integer((json_int_t)t->version));
		json_object_set_new(o, "buckets", json_integer((json_int_t)t->nb));
		json_object_set_new(o, "files", json_integer((json_int_t)t->files));
		json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes));
		json_object_set_new(o, "retain_hours", json_integer(t->retain_hours));
		json_object_set_new(o, "paused", json_boolean(t->is_paused));
		json_array_append_new(arr, o);
	}
	json_object_set_new(x->reply, "tables", arr);
	return 0;
}

static int cmd_jobs(cmd_ctx *x)
{
	stratad *d = x->d;
	int64_t now = strata_now_us();
	json_t *run = json_array(), *q = json_array();
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->jobs.nrunning; i++)
		json_array_append_new(run, d_job_json(d->jobs.running[i], now));
	for (size_t i = 0; i < d->jobs.nqueue; i++)
		json_array_append_new(q, d_job_json(d->jobs.queue[i], now));
	pthread_mutex_unlock(&d->mu);
	json_object_set_new(x->reply, "running", run);
	json_object_set_new(x->reply, "queued", q);
	json_object_set_new(x->reply, "finished", recent_json(d, D_FINISHED_MAX));
	return 0;
}

static int cmd_plan(cmd_ctx *x)
{
	json_t *arr = json_array();
	int rc = 0;
	if (x->argc > 1) {
		rc = d_plan_table(x->d, x->argv[1], false, arr, true, x->err);
	} else {
		strata_mf_snap *snap = NULL;
		strata_arena *a = strata_arena_new();
		strata_table_def *defs;
		size_t n = 0;
		rc = d_degraded_refuse(x->d, NULL, x->err);
		if (rc == 0)
			rc = strata_mf_snap_open(strata_wh_mf(x->d->wh), &snap, x->err);
		if (rc == 0)
			rc = strata_mf_tables_list(snap, a, &defs, &n, x->err);
		strata_mf_snap_close(snap);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = d_plan_table(x->d, defs[i].name, false, arr, false, x->err);
		strata_arena_free(a);
	}
	json_object_set_new(x->reply, "tables", arr);
	return rc;
}

static const char *src_name(stratad_src s, const char *table, char *buf, size_t n)
{
	switch (s) {
	case STRATAD_SRC_POLICY:
		return "[policy]";
	case STRATAD_SRC_TABLE:
		snprintf(buf, n, "[table.%s]", table);
		return buf;
	case STRATAD_SRC_PROPERTY:
		return "table property";
	default:
		return "default";
	}
}

static int table_def(stratad *d, const char *name, strata_table_def *td, strata_err *err)
{
	strata_mf_snap *snap = NULL;
	if (!d->wh || d->is_degraded) /* stratad.c, the damage rule */
		return d_degraded_refuse(d, NULL, err);
	int rc = strata_mf_snap_open(strata_wh_mf(d->wh), &snap, err);
	if (rc == 0)
		rc = strata_mf_table_get(snap, name, td, err);
	strata_mf_snap_close(snap);
	return rc;
}

static int cmd_policy(cmd_ctx *x)
{
	strata_table_def td;
	int rc = table_def(x->d, x->argv[1], &td, x->err);
	if (rc)
		return rc;
	strata_policy pol;
	stratad_src *src = strata_calloc(stratad_cfg_nkeys, sizeof(stratad_src));
	stratad_config_policy(x->d->cfg, td.name, td.retain_hours, &pol, src);
	json_t *arr = json_array();
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope == STRATAD_SCOPE_DAEMON)
			continue;
		char val[128], sb[96];
		stratad_config_value(x->d->cfg, row, &pol, val, sizeof(val));
		json_t *o = json_object();
		json_object_set_new(o, "key", json_string(row->key));
		json_object_set_new(o, "value", json_string(val));
		json_object_set_new(o, "source", json_string(src_name(src[k], td.name, sb, sizeof(sb))));
		json_object_set_new(o, "unit", json_string(row->unit));
		json_array_append_new(arr, o);
	}
	free(src);
	json_object_set_new(x->reply, "table", json_string(td.name));
	json_object_set_new(x->reply, "config", json_string(x->d->cfg->path));
	json_object_set_new(x->reply, "keys", arr);
	return 0;
}

/* sort | merge | compact | clean | purge TABLE [options] */
static int cmd_queue(cmd_ctx *x)
{
	stratad *d = x->d;
	const char *name = x->cmd->name;
	const char *table = NULL, *part_spec = NULL;
	long bucket = -1;
	bool is_major = false, is_partial = false, drop = false;
	for (int i = 1; i < x->argc; i++) {
		const char *a = x->argv[i];
		bool has_value = i + 1 < x->argc;
		if (strcmp(a, "--partition") == 0 && has_value && strcmp(name, "clean") && strcmp(name, "purge")) {
			part_spec = x->argv[++i];
		} else if (strcmp(a, "--bucket") == 0 && has_value && strcmp(name, "clean") &&
			   strcmp(name, "purge")) {
			char *end;
			bucket = strtol(x->argv[++i], &end, 10);
			if (*end || bucket < 0 || bucket > 4095)
				return strata_err_set(x->err, STRATA_EINVAL,
						      "--bucket wants a bucket number 0..4095 (got \"%s\")",
						      x->argv[i]);
		} else if (strcmp(name, "compact") == 0 && strcmp(a, "--major") == 0) {
			is_major = true;
		} else if (strcmp(name, "compact") == 0 && strcmp(a, "--partial") == 0) {
			is_partial = true;
		} else if (strcmp(name, "compact") == 0 && strcmp(a, "--drop-history") == 0) {
			drop = true;
		} else if (a[0] != '-' && !table) {
			table = a;
		} else {
			return strata_err_set(x->err, STRATA_EINVAL, "bad argument \"%s\": usage: %s", a,
					      x->cmd->usage);
		}
	}
	if (!table)
		return strata_err_set(x->err, STRATA_EINVAL, "no TABLE: usage: %s", x->cmd->usage);
	if (is_major && is_partial)
		return strata_err_set(x->err, STRATA_EINVAL, "give one of --partial and --major");
	if (drop && !is_major)
		return strata_err_set(x->err, STRATA_EINVAL, "--drop-history goes with --major");
	if (d->state == D_STOPPING)
		return strata_err_set(x->err, STRATA_EINVAL, "stratad is stopping");
	int rc = d_plan_table(d, table, false, NULL, false, x->err); /* fresh buckets; checks the name */
	if (rc)
		return rc;
	dtable *t = d_table_find(d, table);
	strata_table_def td;
	rc = table_def(d, table, &td, x->err);
	if (rc)
		return rc;
	char want[STRATA_PART_NAME_MAX] = "";
	if (part_spec) {
		rc = strata_partition_spec(&td, part_spec, want, sizeof(want), x->err);
		if (rc)
			return rc;
	}
	strata_policy pol;
	stratad_config_policy(d->cfg, table, td.retain_hours, &pol, NULL);
	json_t *ids = json_array(), *skipped = json_array();
	dj_kind kind = strcmp(name, "sort") == 0    ? DJ_SORT :
		       strcmp(name, "merge") == 0   ? DJ_MERGE :
		       strcmp(name, "clean") == 0   ? DJ_CLEAN :
		       strcmp(name, "purge") == 0   ? DJ_PURGE :
		       is_major			    ? DJ_MAJOR :
						      DJ_PARTIAL;
	char why[200];
	snprintf(why, sizeof(why), "asked for by uid %u (pid %d)", (unsigned)x->peer->uid,
		 (int)x->peer->pid);
	if (kind == DJ_CLEAN || kind == DJ_PURGE) {
		dj *have = kind == DJ_CLEAN ? t->clean_job : t->purge_job;
		if (have) {
			json_array_append_new(skipped, json_pack("{s:s,s:I}", "why", "already queued or running",
								 "job", (json_int_t)have->id));
		} else {
			dj *j = d_job_new(d, kind, t, &pol);
			j->is_manual = true;
			j->score = 1000;
			j->orphan_scan = kind == DJ_CLEAN;
			snprintf(j->reason, sizeof(j->reason), "%s", why);
			d_job_enqueue(d, t, NULL, j);
			json_array_append_new(ids, json_integer((json_int_t)j->id));
		}
	} else {
		if (t->purge_job) {
			json_decref(ids);
			json_decref(skipped);
			return strata_err_set(x->err, STRATA_EBUSY, "a purge of %s is queued or running (job %"
					      PRIu64 ")", table, t->purge_job->id);
		}
		for (size_t i = 0; i < t->nb; i++) {
			dbucket *b = &t->b[i];
			if ((part_spec && strcmp(b->part_name, want) != 0) ||
			    (bucket >= 0 && (uint32_t)bucket != b->bucket) || b->files == 0 ||
			    (kind == DJ_SORT && b->l0_files == 0) ||
			    (kind == DJ_MERGE && !b->has_merge_input))
				continue; /* nothing for this kind there */
			if (b->job) {
				bool is_replaced = false;
				dj *old = b->job;
				pthread_mutex_lock(&d->mu);
				if (old->state == DJ_QUEUED && !old->is_manual) {
					for (size_t q = 0; q < d->jobs.nqueue; q++)
						if (d->jobs.queue[q] == old) {
							memmove(&d->jobs.queue[q], &d->jobs.queue[q + 1],
								(d->jobs.nqueue - q - 1) * sizeof(dj *));
							d->jobs.nqueue--;
							is_replaced = true;
							break;
						}
				}
				pthread_mutex_unlock(&d->mu);
				if (!is_replaced) {
					json_array_append_new(skipped,
							      json_pack("{s:s,s:i,s:s,s:I}", "partition",
									*b->part_name ? b->part_name : "_",
									"bucket", (int)b->bucket, "why",
									old->state == DJ_RUNNING ? "a job runs there" :
												   "a job is queued there",
									"job", (json_int_t)old->id));
					continue;
				}
				b->job = NULL;
				d_job_set_state(old, DJ_DONE);
				free(old);
			}
			dj *j = d_job_new(d, kind, t, &pol);
			j->is_manual = true;
			j->score = 1000;
			j->drop_history = drop;
			snprintf(j->part, sizeof(j->part), "%s", b->part_name);
			j->part_id = b->part_id;
			j->bucket = b->bucket;
			snprintf(j->reason, sizeof(j->reason), "%s", why);
			d_job_enqueue(d, t, b, j);
			json_array_append_new(ids, json_integer((json_int_t)j->id));
		}
	}
	size_t n = json_array_size(ids);
	char msg[200];
	snprintf(msg, sizeof(msg), "queued %zu %s job%s for %s%s", n, d_kind_name(kind), n == 1 ? "" : "s",
		 table, n == 0 && json_array_size(skipped) == 0 ? " (no bucket has anything for it)" : "");
	json_object_set_new(x->reply, "message", json_string(msg));
	json_object_set_new(x->reply, "queued", ids);
	json_object_set_new(x->reply, "skipped", skipped);
	return 0;
}

static int cmd_pause(cmd_ctx *x)
{
	bool is_pause = strcmp(x->cmd->name, "pause") == 0;
	dtable *t = NULL;
	if (x->argc > 1) {
		int rc = d_plan_table(x->d, x->argv[1], false, NULL, false, x->err);
		if (rc)
			return rc;
		t = d_table_find(x->d, x->argv[1]);
	}
	d_pause(x->d, t, is_pause);
	char msg[160];
	snprintf(msg, sizeof(msg), "%s %s%s", is_pause ? "paused" : "resumed",
		 t ? "table " : "all planning", t ? t->name : "");
	json_object_set_new(x->reply, "message", json_string(msg));
	return 0;
}

static int cmd_cancel(cmd_ctx *x)
{
	/* digits only: strtoull takes "-1" as 18446744073709551615, and a
	 * number past 2^64 as that too (ERANGE); job ids start at 1 */
	const char *s = x->argv[1];
	char *end = NULL;
	errno = 0;
	unsigned long long id = *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (!end || *end || errno || id == 0)
		return strata_err_set(x->err, STRATA_EINVAL,
				      "cancel wants a job id, a whole number from 1 (see jobs), got \"%.64s\"",
				      s);
	char msg[300];
	if (!d_job_cancel(x->d, id, msg, sizeof(msg)))
		return strata_err_set(x->err, STRATA_ENOTFOUND, "%s", msg);
	json_object_set_new(x->reply, "message", json_string(msg));
	return 0;
}

static int cmd_reload(cmd_ctx *x)
{
	char note[800];
	int rc = d_reload(x->d, note, sizeof(note), x->err);
	if (rc == 0)
		json_object_set_new(x->reply, "message", json_string(note));
	return rc;
}

static int cmd_metrics(cmd_ctx *x)
{
	strata_buf b = {0};
	d_metrics_render(x->d, &b);
	json_object_set_new(x->reply, "text", json_stringn((char *)b.data, b.len));
	strata_buf_free(&b);
	return 0;
}

static int cmd_watch(cmd_ctx *x)
{
	if (x->c->is_reserved) /* invariant 4a */
		return strata_err_set(x->err, STRATA_EBUSY,
				      "watch cannot run on the connection reserved for root and stratad's "
				      "user (all max_clients %lld are in use); try again when one is free",
				      (long long)x->d->cfg->d.max_clients);
	if (!x->c->is_watching) {
		bufferevent_set_timeouts(x->c->bev, NULL, NULL); /* invariant 4b */
		x->c->is_watching = true;
		x->d->nwatchers++;
		if (x->d->nwatchers == 1)
			for (size_t i = 0; i < x->d->ntables; i++)
				x->d->tables[i]->watch_seen = 0; /* start from now */
		x->d->next_watch_poll_us = strata_mono_us();
	}
	json_object_set_new(x->reply, "watching", json_true());
	return 0;
}

static int cmd_shutdown(cmd_ctx *x)
{
	char why[96];
	snprintf(why, sizeof(why), "shutdown asked for by uid %u pid %d", (unsigned)x->peer->uid,
		 (int)x->peer->pid);
	d_begin_stop(x->d, why);
	json_object_set_new(x->reply, "message", json_string("stopping"));
	return 0;
}

/* ---- connections -------------------------------------------------------------------------------- */

static void client_free(dclient *c)
{
	stratad *d = c->d;
	for (dclient **p = &d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	d->nclients--;
	if (c->is_reserved)
		d->nreserved--;
	if (c->is_watching)
		d->nwatchers--;
	bufferevent_free(c->bev);
	free(c);
}

static void client_close_after_write(dclient *c)
{
	c->is_closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

static void read_cb(struct bufferevent *bev, void *arg);

static void write_cb(struct bufferevent *bev, void *arg)
{
	dclient *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
	if (c->is_closing && pending == 0) {
		client_free(c);
		return;
	}
	if (c->is_read_paused && pending <= D_REPLY_BACKLOG_MAX / 2) { /* invariant 5 */
		c->is_read_paused = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		if (c->is_closing)
			return; /* the write callback comes again at 0 and frees it */
		bufferevent_enable(bev, EV_READ);
		read_cb(bev, c); /* the lines that waited in the input buffer */
	}
}

static void reply_error(dclient *c, const char *msg);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	dclient *c = arg;
	if (what & BEV_EVENT_TIMEOUT) { /* invariant 4b */
		stratad *d = c->d;
		d->m.admin_idle_closed++;
		long long s = (long long)d->cfg->d.admin_idle_timeout_s;
		if ((what & BEV_EVENT_READING) && !c->is_closing) {
			char msg[160];
			snprintf(msg, sizeof(msg), "idle for %lld s (admin_idle_timeout_s); closing", s);
			LOG_INFO("admin: uid %u pid %d sent no command for %lld s (admin_idle_timeout_s); "
				 "disconnected",
				 (unsigned)c->peer.uid, (int)c->peer.pid, s);
			reply_error(c, msg);
			client_close_after_write(c);
		} else {
			LOG_INFO("admin: uid %u pid %d left its replies unread for %lld s "
				 "(admin_idle_timeout_s); disconnected",
				 (unsigned)c->peer.uid, (int)c->peer.pid, s);
			client_free(c);
		}
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->is_closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* invariant 5: a half-closed client still gets its replies; lines it
		 * sent but that wait behind a paused read are dropped with it */
		client_close_after_write(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->is_watching)
			LOG_DEBUG("admin: watcher uid %u pid %d left", (unsigned)c->peer.uid, (int)c->peer.pid);
		client_free(c); /* invariant 4: a watcher leaving mid-stream */
	}
}

static void reply_error(dclient *c, const char *msg)
{
	json_t *r = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
	strata_buf b = {0};
	reply_line(r, &b);
	json_decref(r);
	bufferevent_write(c->bev, b.data, b.len);
	strata_buf_free(&b);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	dclient *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!c->is_closing) {
		if (!c->is_watching &&
		    evbuffer_get_length(bufferevent_get_output(bev)) > D_REPLY_BACKLOG_MAX) {
			/* invariant 5: read again once the client has read half of it */
			c->is_read_paused = true;
			bufferevent_disable(bev, EV_READ);
			bufferevent_setwatermark(bev, EV_WRITE, D_REPLY_BACKLOG_MAX / 2, 0);
			return;
		}
		size_t n = 0;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > D_LINE_MAX) {
				reply_error(c, "command line longer than 4096 bytes; closing");
				LOG_WARN("admin: uid %u pid %d sent a line longer than %d bytes; disconnected",
					 (unsigned)c->peer.uid, (int)c->peer.pid, D_LINE_MAX);
				client_close_after_write(c);
			}
			return;
		}
		if (n > D_LINE_MAX) {
			free(line);
			reply_error(c, "command line longer than 4096 bytes; closing");
			client_close_after_write(c);
			return;
		}
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (c->is_watching) { /* a watcher only listens */
			free(line);
			continue;
		}
		strata_buf out = {0};
		dispatch(c->d, c, &c->peer, line, &out);
		free(line);
		bufferevent_write(bev, out.data, out.len);
		strata_buf_free(&out);
	}
}

void d_emit(stratad *d, json_t *event)
{
	if (d->nwatchers == 0) {
		json_decref(event);
		return;
	}
	char *s = json_dumps(event, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(event);
	if (!s)
		return;
	size_t len = strlen(s);
	dclient *drop[64];
	size_t ndrop = 0;
	for (dclient *c = d->clients; c; c = c->next) {
		if (!c->is_watching || c->is_closing)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > D_WATCH_BACKLOG_MAX) {
			if (ndrop < STRATA_ARRAY_LEN(drop))
				drop[ndrop++] = c;
			continue;
		}
		bufferevent_write(c->bev, s, len);
		bufferevent_write(c->bev, "\n", 1);
	}
	free(s);
	for (size_t i = 0; i < ndrop; i++) { /* invariant 4 */
		LOG_WARN("admin: watcher uid %u pid %d is more than %d bytes behind; disconnected",
			 (unsigned)drop[i]->peer.uid, (int)drop[i]->peer.pid, D_WATCH_BACKLOG_MAX);
		client_free(drop[i]);
	}
}

static void refuse_fd(int fd, const char *msg)
{
	json_t *r = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
	strata_buf b = {0};
	reply_line(r, &b);
	json_decref(r);
	ssize_t w = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	strata_buf_free(&b);
	close(fd);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	d_guard *g = arg;
	stratad *d = g->d;
	d_guard_accepted(g);
	struct ucred cr = {0};
	socklen_t crlen = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
		LOG_WARN("admin: could not read the peer's credentials: %s; disconnected", strerror(errno));
		close(fd);
		return;
	}
	stratad_peer p = {.uid = cr.uid, .gid = cr.gid, .pid = cr.pid};
	stratad_peer_authorize(d, &p);
	bool is_full = d->nclients >= (size_t)d->cfg->d.max_clients;
	bool is_reserved = is_full && p.may_write && d->nreserved < D_ADMIN_RESERVED; /* 4a */
	if (is_full && !is_reserved) { /* invariant 4 */
		char msg[240];
		snprintf(msg, sizeof(msg),
			 "too many admin connections (max_clients %lld%s); try again later",
			 (long long)d->cfg->d.max_clients,
			 p.may_write ? ", and the one reserved for root and stratad's user is taken" : "");
		LOG_WARN("admin: uid %u pid %d refused: %s", (unsigned)p.uid, (int)p.pid, msg);
		d->m.admin_refused++;
		refuse_fd(fd, msg);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	dclient *c = strata_calloc(1, sizeof(*c));
	c->d = d;
	c->peer = p;
	c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->is_reserved = is_reserved;
	c->next = d->clients;
	d->clients = c;
	d->nclients++;
	d->nreserved += is_reserved;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	struct timeval idle = {(time_t)d->cfg->d.admin_idle_timeout_s, 0};
	bufferevent_set_timeouts(c->bev, &idle, &idle); /* invariant 4b */
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (!p.may_read) { /* invariant 3 */
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "permission denied: uid %u is not root, stratad's user (uid %u) or a member of "
			 "admin_group%s%s%s",
			 (unsigned)p.uid, (unsigned)d->uid, d->cfg->d.admin_group[0] ? " \"" : " (none set)",
			 d->cfg->d.admin_group, d->cfg->d.admin_group[0] ? "\"" : "");
		LOG_WARN("admin: uid %u pid %d refused: %s", (unsigned)p.uid, (int)p.pid, msg);
		d->m.admin_refused++;
		reply_error(c, msg);
		client_close_after_write(c);
		return;
	}
	if (is_reserved)
		LOG_INFO("admin: uid %u pid %d connected in the slot reserved for root and stratad's "
			 "user (all max_clients %lld are in use)",
			 (unsigned)p.uid, (int)p.pid, (long long)d->cfg->d.max_clients);
	else
		LOG_DEBUG("admin: uid %u pid %d connected", (unsigned)p.uid, (int)p.pid);
}

/* ---- the socket ----------------------------------------------------------------------------------- */

static void socket_perms(stratad *d)
{
	if (!d->has_socket)
		return;
	if (chmod(d->socket_path, (mode_t)d->cfg->d.socket_mode) != 0)
		LOG_WARN("could not chmod %s to %04llo: %s", d->socket_path,
			 (unsigned long long)d->cfg->d.socket_mode, strerror(errno));
	if (d->cfg->has_admin_gid && chown(d->socket_path, (uid_t)-1, d->cfg->admin_gid) != 0)
		LOG_WARN("could not give %s to group %s: %s (make stratad's user a member of it)",
			 d->socket_path, d->cfg->d.admin_group, strerror(errno));
}

void d_admin_chmod(stratad *d)
{
	socket_perms(d);
}

int d_admin_listen(stratad *d, strata_err *err)
{
	const char *path = d->cfg->d.socket;
	char dir[STRATAD_SOCKET_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		struct stat st;
		if (stat(dir, &st) != 0) {
			char parent[STRATAD_SOCKET_PATH_MAX];
			snprintf(parent, sizeof(parent), "%s", dir);
			char *ps = strrchr(parent, '/');
			if (ps && ps != parent) {
				*ps = '\0';
				strata_io_mkdirs(parent, 0755);
			}
			if (mkdir(dir, 0750) != 0 && errno != EEXIST)
				return strata_err_set(err, -errno, "could not create the socket directory \"%s\": %s",
						      dir, strerror(errno));
			if (d->cfg->has_admin_gid && chown(dir, (uid_t)-1, d->cfg->admin_gid) != 0)
				LOG_WARN("could not give %s to group %s: %s", dir, d->cfg->d.admin_group,
					 strerror(errno));
		} else if (st.st_mode & 0007) {
			LOG_WARN("socket directory %s has mode %04o: others may reach the socket (use 0750)",
				 dir, (unsigned)(st.st_mode & 07777));
		}
	}
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return strata_err_set(err, STRATA_EINVAL, "socket path \"%s\" is too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return strata_err_set(err, STRATA_EEXIST, "\"%s\" exists and is not a socket", path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool is_live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (is_live)
			return strata_err_set(err, STRATA_EEXIST,
					      "another stratad is listening on \"%s\" (give each its own "
					      "[daemon] socket)",
					      path);
		unlink(path); /* stale, from a crashed run */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return strata_err_set(err, -errno, "could not create a socket: %s", strerror(errno));
	mode_t old = umask(0177);
	int brc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int berr = errno;
	umask(old);
	if (brc != 0) {
		close(fd);
		return strata_err_set(err, -berr, "could not bind the admin socket \"%s\": %s", path,
				      strerror(berr));
	}
	snprintf(d->socket_path, sizeof(d->socket_path), "%s", path);
	d->has_socket = true;
	socket_perms(d);
	if (listen(fd, 64) != 0) {
		int e = errno;
		close(fd);
		return strata_err_set(err, -e, "could not listen on \"%s\": %s", path, strerror(e));
	}
	struct evconnlistener *l = evconnlistener_new(d->base, accept_cb, &d->admin_guard,
						      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!l) {
		close(fd);
		return strata_err_set(err, STRATA_EINVAL, "could not watch the admin socket \"%s\"", path);
	}
	d_guard_init(d, &d->admin_guard, "admin socket", l); /* invariant 4c */
	return 0;
}

void d_admin_close(stratad *d)
{
	while (d->clients)
		client_free(d->clients);
	d_guard_close(&d->admin_guard);
	if (d->has_socket) {
		unlink(d->socket_path);
		d->has_socket = false;
	}
}
