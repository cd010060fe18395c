/*
 * daemon/config.c — stratad's configuration: one table of keys, an inih
 * parser that only looks keys up in it, effective per-table policies with
 * the source of each value, and the annotated sample file.
 *
 * The table (stratad_cfg_keys) is the single source of truth: the parser,
 * the defaults, the range checks and their messages, reload (which keys need
 * a restart), `strata admin policy` and etc/stratad.ini (printed by
 * `stratad --sample-config`) all read it.  Like redis.conf's table, each row
 * has a type, a default, bounds and a help paragraph.
 *
 * Sections: [daemon] (the process), [policy] (defaults for every table) and
 * [table.NAME] (overrides for one table, including acid.data.retain.hours).
 * Precedence for a table: built-in default < [policy] < [table.NAME]; the
 * retention is the table's own property unless [table.NAME] sets it.
 *
 * inih is Debian's build without the line-number callback, so a custom
 * reader counts physical lines and hands inih one at a time; it also checks
 * section headers and line lengths, and passes comment lines as blank lines
 * (comments may be any length).
 *
 * Invariants:
 *   1. a load either returns a complete, valid config or an error — never a
 *      partial one (reload is all-or-nothing on top of this);
 *   2. every error message starts with "PATH:LINE: " (or "PATH: " for a
 *      whole-file problem) and names the key, the allowed values and what
 *      it got;
 *   3. the defaults in the table equal strata_policy_default() (tested).
 *
 * Main thread only (inih's options are process globals).
 */
#include "daemon/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define D(field) offsetof(stratad_daemon_cfg, field)
#define P(field) offsetof(strata_policy, field)
#define DAY_S 86400.0
#define CFG_ERRORS_MAX 50
#define CFG_LINE_MAX 4096

const stratad_cfg_key stratad_cfg_keys[] = {
	/* ---- [daemon] ---- */
	{STRATAD_SCOPE_DAEMON, "warehouse", STRATAD_CFG_STRING, "/var/lib/stratad/warehouse", 1, 4095,
	 false, D(warehouse), "path or postgresql:// URI",
	 "The warehouse stratad governs: the directory `strata init` created (it holds manifest/ "
	 "and data/; a relative path is relative to stratad's working directory, / under "
	 "systemd), or a PostgreSQL catalog postgresql://user@host/db (credentials from "
	 "PGPASSWORD or ~/.pgpass, never logged). Several stratad may share one warehouse, on one "
	 "host or, with a catalog, on many: they split its buckets (peer_ttl_s), and bucket claims "
	 "keep them from running two jobs on one bucket."},
	{STRATAD_SCOPE_DAEMON, "socket", STRATAD_CFG_STRING, STRATAD_DEFAULT_SOCKET, 1,
	 STRATAD_SOCKET_PATH_MAX - 1, false, D(socket), "path",
	 "The admin control socket (a Unix socket) `strata admin` talks to. Its directory is "
	 "created with mode 0750 if missing (systemd's RuntimeDirectory= does that too)."},
	{STRATAD_SCOPE_DAEMON, "socket_mode", STRATAD_CFG_MODE, "0660", 0, 0777, true,
	 D(socket_mode), "octal file mode",
	 "File mode of the admin socket. Connecting needs write permission on it; every command "
	 "is still checked against the peer's credentials (SO_PEERCRED)."},
	{STRATAD_SCOPE_DAEMON, "admin_group", STRATAD_CFG_GROUP, "", 0, 63, true, D(admin_group),
	 "group name",
	 "Members of this group may use the read-only admin commands (status, tables, jobs, plan, "
	 "policy, metrics, watch, help); everything else needs root or stratad's own user. Empty: "
	 "nobody but those two. The socket's group is set to it (stratad's user must be a member)."},
	{STRATAD_SCOPE_DAEMON, "workers", STRATAD_CFG_INT, "2", 1, 64, true, D(workers), "threads",
	 "Jobs running at once (one per bucket at most). Each uses about one CPU core while it "
	 "merges, and the memory of one Parquet row group."},
	{STRATAD_SCOPE_DAEMON, "scan_interval_s", STRATAD_CFG_INT, "10", 1, 3600, true,
	 D(scan_interval_s), "seconds",
	 "How often the planners look at the warehouse. A table that has not changed and has "
	 "nothing coming due is skipped without reading its files, so short intervals are cheap. "
	 "A table being written, or whose job just finished, is looked at sooner."},
	{STRATAD_SCOPE_DAEMON, "io.max_mb_s", STRATAD_CFG_DOUBLE, "0", 0, 100000, true,
	 D(io_max_mb_s), "MiB per second",
	 "Cap on the bytes all jobs together read and write (and clean unlinks), enforced by one "
	 "token bucket with a burst of one second. 0: unlimited."},
	{STRATAD_SCOPE_DAEMON, "metrics_listen", STRATAD_CFG_ADDR, "", 0, 127, false,
	 D(metrics_listen), "HOST:PORT",
	 "Serve Prometheus metrics on http://HOST:PORT/metrics, e.g. 127.0.0.1:9477, and the "
	 "status page on http://HOST:PORT/ (and its data as /status.json). Empty: off (the "
	 "`metrics` and `status` admin commands always work). Both are read-only but unauthenticated: "
	 "bind it to loopback."},
	{STRATAD_SCOPE_DAEMON, "log_level", STRATAD_CFG_LEVEL, "info", 0, 3, true, D(log_level),
	 "error|warn|info|debug",
	 "info logs one summary line per scan and one line per job; debug adds every bucket's "
	 "decision with the numbers it compared."},
	{STRATAD_SCOPE_DAEMON, "shutdown_timeout_s", STRATAD_CFG_INT, "30", 1, 3600, true,
	 D(shutdown_timeout_s), "seconds",
	 "On SIGTERM stratad stops planning and cancels running jobs at their next block; it "
	 "exits when they have stopped, or after this long regardless (the next start recovers "
	 "whatever they left)."},
	{STRATAD_SCOPE_DAEMON, "max_clients", STRATAD_CFG_INT, "16", 1, 1024, true,
	 D(max_clients), "connections",
	 "Admin connections open at once; more are refused with a message. One more "
	 "connection is reserved for root and stratad's own user (who may run the "
	 "destructive commands), so they always get in: it is not counted here, is closed "
	 "after admin_idle_timeout_s like any other, and cannot `watch`."},
	{STRATAD_SCOPE_DAEMON, "admin_idle_timeout_s", STRATAD_CFG_INT, "60", 1, 86400, true,
	 D(admin_idle_timeout_s), "seconds",
	 "An admin connection that sends no command for this long, or leaves its replies "
	 "unread for this long, is closed (with a line saying so), so idle clients cannot "
	 "hold the max_clients slots. `watch` connections are exempt: they only listen. "
	 "Applies to connections accepted after a reload."},
	{STRATAD_SCOPE_DAEMON, "metrics_timeout_s", STRATAD_CFG_INT, "10", 1, 3600, true,
	 D(metrics_timeout_s), "seconds",
	 "An HTTP connection to metrics_listen is closed this long after it was accepted, "
	 "request and reply included (a scrape takes milliseconds), so idle or slow "
	 "(slowloris) clients cannot pile up; at most 64 are open at once. Applies to "
	 "connections accepted after a reload."},
	{STRATAD_SCOPE_DAEMON, "peer_ttl_s", STRATAD_CFG_INT, "30", 3, 3600, true,
	 D(peer_ttl_s), "seconds",
	 "Several stratad on one warehouse (on one host or on many, with a PostgreSQL catalog) "
	 "split its buckets among themselves: each records a heartbeat every third of this and "
	 "plans only the buckets that rendezvous hashing gives it. A daemon whose heartbeat is "
	 "older than this is gone, and its share moves to the others at their next scan. "
	 "Claims keep two daemons from running jobs on one bucket meanwhile."},
	{STRATAD_SCOPE_DAEMON, "claim_ttl_s", STRATAD_CFG_INT, "600", 10, 86400, true,
	 D(claim_ttl_s), "seconds",
	 "A job's bucket claim expires this long after its last renewal (running jobs renew it "
	 "every third of it). After a crash on another host, its buckets are free again this "
	 "long after it died."},
	{STRATAD_SCOPE_DAEMON, "s3.endpoint", STRATAD_CFG_STRING, "", 0, 1023, false,
	 D(s3_endpoint), "http:// or https:// URL",
	 "Where the data files are when the warehouse's data path is s3://BUCKET/PREFIX: the S3 "
	 "endpoint, e.g. http://minio.example:9000 or http://rgw.example:7480. Empty: the AWS "
	 "way decides, in the AWS SDKs' order: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then the "
	 "profile's endpoint_url in ~/.aws/config (AWS_CONFIG_FILE), else AWS S3 for the region. "
	 "Set here, it wins over all of those. Never a user name or password in the URL: the "
	 "keys come from the environment or the credentials file."},
	{STRATAD_SCOPE_DAEMON, "s3.region", STRATAD_CFG_STRING, "", 0, 63, false, D(s3_region),
	 "region name",
	 "The region requests are signed for, e.g. eu-west-1 (Ceph: the zonegroup's name; "
	 "MinIO: us-east-1). Empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's region in "
	 "~/.aws/config, else us-east-1."},
	{STRATAD_SCOPE_DAEMON, "s3.profile", STRATAD_CFG_STRING, "", 0, 255, false, D(s3_profile),
	 "profile name",
	 "The profile of the shared config file (~/.aws/config) and of the shared credentials "
	 "file (~/.aws/credentials) stratad reads: its keys are used even when "
	 "AWS_ACCESS_KEY_ID is set. Empty: AWS_PROFILE, else default (and the keys from "
	 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY first, when set)."},
	{STRATAD_SCOPE_DAEMON, "s3.addressing", STRATAD_CFG_STRING, "", 0, 15, false,
	 D(s3_addressing), "path, virtual or empty",
	 "path: requests go to ENDPOINT/BUCKET/KEY, which every self-hosted server accepts. "
	 "virtual: to BUCKET.HOST/KEY (AWS, Alibaba OSS; the bucket must be a valid host name "
	 "and the server must know its domain). Empty: the profile's s3 addressing_style in "
	 "~/.aws/config, else path."},
	/* ---- [policy] ---- */
	{STRATAD_SCOPE_POLICY, "sort.min_files", STRATAD_CFG_INT, "3", 1, 1000, true,
	 P(sort_min_files), "files",
	 "Sort a bucket's row files (level 0, Avro) into one columnar file once it has this many."},
	{STRATAD_SCOPE_POLICY, "sort.max_delay_s", STRATAD_CFG_INT, "300", 0, 7 * DAY_S, true,
	 P(sort_max_delay_s), "seconds",
	 "...or once its oldest row file is this old (0: sort every row file at once)."},
	{STRATAD_SCOPE_POLICY, "sort.max_bytes", STRATAD_CFG_BYTES, "64MiB", 64 << 10,
	 16.0 * (1ull << 30), true, P(sort_max_bytes), "bytes",
	 "...or once its row files hold this many bytes. A sort takes the oldest row files up to "
	 "this many bytes."},
	{STRATAD_SCOPE_POLICY, "merge.fanout", STRATAD_CFG_INT, "5", 2, 64, true, P(merge_fanout),
	 "files",
	 "Merge the files of level n into level n+1 once level n holds this many, or once the "
	 "bucket holds this many files above level 0 (then its level of two files or more with "
	 "the fewest bytes, or with one file on each level the two levels next to each other "
	 "with the fewest bytes). Output files grow by this factor per level."},
	{STRATAD_SCOPE_POLICY, "merge.small_bytes", STRATAD_CFG_BYTES, "0", 0, 1.0 * (1ull << 30),
	 true, P(merge_small_bytes), "bytes",
	 "...or once level n holds two files smaller than this (0: only the fanout counts)."},
	{STRATAD_SCOPE_POLICY, "merge.target_bytes", STRATAD_CFG_BYTES, "16MiB", 1 << 20,
	 64.0 * (1ull << 30), true, P(merge_target_bytes), "bytes",
	 "Size at which a merge starts a new output file, for outputs at level 1; each level "
	 "above multiplies it by merge.fanout."},
	{STRATAD_SCOPE_POLICY, "compact.min_garbage_ratio", STRATAD_CFG_DOUBLE, "0.15", 0.01, 1, true,
	 P(compact_min_garbage_ratio), "fraction",
	 "Partially compact a bucket (drop history that has left the retention window) once the "
	 "estimated bytes of superseded records at or below the retention boundary exceed this "
	 "fraction of the bucket's bytes."},
	{STRATAD_SCOPE_POLICY, "compact.max_lag_s", STRATAD_CFG_INT, "3600", 0, 30 * DAY_S, true,
	 P(compact_max_lag_s), "seconds",
	 "...or once the oldest such history is this much older than the retention window."},
	{STRATAD_SCOPE_POLICY, "clean.grace_s", STRATAD_CFG_INT, "300", 0, 30 * DAY_S, true,
	 P(clean_grace_s), "seconds",
	 "A file a job replaced may be deleted this long after the commit that replaced it (and "
	 "only if no reader lease or tag needs it). Readers shorter than this need no lease."},
	{STRATAD_SCOPE_POLICY, "clean.trash_s", STRATAD_CFG_INT, "3600", 0, 30 * DAY_S, true,
	 P(clean_trash_s), "seconds",
	 "Deleted files wait this long in the table's .trash/ directory before they are unlinked: "
	 "the window in which an operator can still recover from a bad clean."},
	{STRATAD_SCOPE_POLICY, "clean.orphan_scan_s", STRATAD_CFG_INT, "3600", 0, 30 * DAY_S, true,
	 P(clean_orphan_scan_s), "seconds",
	 "Look for orphans (files in data/ that no manifest entry or running job knows) this "
	 "often per table (0: never)."},
	{STRATAD_SCOPE_POLICY, "clean.orphan_age_s", STRATAD_CFG_INT, "86400", 60, 365 * DAY_S, true,
	 P(clean_orphan_age_s), "seconds",
	 "An orphan is moved to the trash only when its file is at least this old (by mtime, the "
	 "only age an unknown file has), so a writer's file in flight is never taken."},
	{STRATAD_SCOPE_POLICY, "clean.orphan_max_fraction", STRATAD_CFG_DOUBLE, "0.1", 0, 1, true,
	 P(clean_orphan_max_fraction), "fraction",
	 "An orphan scan that would trash more than this fraction of a table's bytes (orphans plus "
	 "the files its manifest entries name) trashes nothing and reports instead: that many "
	 "unknown files means a damaged manifest far more often than real orphans (1: no limit)."},
	{STRATAD_SCOPE_POLICY, "policy.backoff_s", STRATAD_CFG_INT, "5", 1, 3600, true,
	 P(backoff_s), "seconds",
	 "After a job on a bucket fails or conflicts, the bucket waits 2^(n-1) times this before "
	 "its next job (n: failures in a row)."},
	{STRATAD_SCOPE_POLICY, "policy.backoff_max_s", STRATAD_CFG_INT, "600", 1, DAY_S, true,
	 P(backoff_max_s), "seconds",
	 "The longest such wait. Must not be below policy.backoff_s."},
	/* ---- [table.NAME] only ---- */
	{STRATAD_SCOPE_TABLE, "acid.data.retain.hours", STRATAD_CFG_INT, NULL, 0, 168, true,
	 P(retain_hours), "hours",
	 "Retention stratad uses for this table's partial compactions (their boundary, hence how "
	 "far back time travel reaches once it has run) instead of the table's own property of "
	 "the same name. The stored property is unchanged: `strata describe` shows it, and "
	 "clean still uses it for files a major compaction replaced. Default: the table's "
	 "property."},
};

const size_t stratad_cfg_nkeys = STRATA_ARRAY_LEN(stratad_cfg_keys);

int stratad_config_find(const char *key)
{
	for (size_t i = 0; i < stratad_cfg_nkeys; i++)
		if (strcmp(stratad_cfg_keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* ---- values ------------------------------------------------------------------------ */

static void *field_of(stratad_config *c, strata_policy *pol, const stratad_cfg_key *k)
{
	if (k->scope == STRATAD_SCOPE_DAEMON)
		return (char *)&c->d + k->offset;
	return (char *)pol + k->offset;
}

static void bytes_text(uint64_t v, char *out, size_t n)
{
	if (v && v % (1ull << 30) == 0)
		snprintf(out, n, "%lluGiB", (unsigned long long)(v >> 30));
	else if (v && v % (1ull << 20) == 0)
		snprintf(out, n, "%lluMiB", (unsigned long long)(v >> 20));
	else if (v && v % (1ull << 10) == 0)
		snprintf(out, n, "%lluKiB", (unsigned long long)(v >> 10));
	else
		snprintf(out, n, "%llu", (unsigned long long)v);
}

static void number_text(double v, char *out, size_t n)
{
	snprintf(out, n, "%.15g", v);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void value_text(const stratad_cfg_key *k, const void *p, char *out, size_t n)
{
	switch (k->type) {
	case STRATAD_CFG_INT:
		snprintf(out, n, "%lld", (long long)*(const int64_t *)p);
		break;
	case STRATAD_CFG_BYTES:
		bytes_text(*(const uint64_t *)p, out, n);
		break;
	case STRATAD_CFG_DOUBLE:
		number_text(*(const double *)p, out, n);
		break;
	case STRATAD_CFG_MODE:
		snprintf(out, n, "0%03llo", (unsigned long long)*(const int64_t *)p);
		break;
	case STRATAD_CFG_LEVEL: {
		int64_t l = *(const int64_t *)p;
		snprintf(out, n, "%s", l >= 0 && l < 4 ? level_names[l] : "?");
		break;
	}
	default:
		snprintf(out, n, "%s", (const char *)p);
	}
}

void stratad_config_value(const stratad_config *c, const stratad_cfg_key *k,
			  const strata_policy *pol, char *out, size_t n)
{
	const void *p = k->scope == STRATAD_SCOPE_DAEMON ?
				(const void *)((const char *)&c->d + k->offset) :
				(const void *)((const char *)(pol ? pol : &c->pol) + k->offset);
	value_text(k, p, out, n);
}

/* Range text for messages and the sample: "from 1 to 1000". */
static void range_text(const stratad_cfg_key *k, char *out, size_t n)
{
	char lo[48], hi[48];
	if (k->type == STRATAD_CFG_BYTES) {
		bytes_text((uint64_t)k->min, lo, sizeof(lo));
		bytes_text((uint64_t)k->max, hi, sizeof(hi));
	} else if (k->type == STRATAD_CFG_MODE) {
		snprintf(lo, sizeof(lo), "0%03o", (unsigned)k->min);
		snprintf(hi, sizeof(hi), "0%03o", (unsigned)k->max);
	} else {
		number_text(k->min, lo, sizeof(lo));
		number_text(k->max, hi, sizeof(hi));
	}
	snprintf(out, n, "from %s to %s", lo, hi);
}

/* Parse value for row k into p; on failure write the reason into why. */
static bool parse_value(const stratad_cfg_key *k, const char *v, void *p, char *why, size_t n)
{
	char range[128];
	range_text(k, range, sizeof(range));
	errno = 0;
	char *end = NULL;
	switch (k->type) {
	case STRATAD_CFG_INT: {
		long long x = strtoll(v, &end, 10);
		if (!*v || *end || errno || x < (long long)k->min || x > (long long)k->max) {
			snprintf(why, n, "%s must be an integer %s (got \"%s\")", k->key, range, v);
			return false;
		}
		*(int64_t *)p = x;
		return true;
	}
	case STRATAD_CFG_BYTES: {
		unsigned long long x = strtoull(v, &end, 10);
		bool ok = *v >= '0' && *v <= '9' && !errno;
		while (ok && *end == ' ')
			end++;
		static const struct {
			const char *s;
			int shift;
		} suffixes[] = {{"", 0},   {"k", 10},   {"kib", 10}, {"m", 20},
				{"mib", 20}, {"g", 30}, {"gib", 30}};
		int shift = -1;
		for (size_t i = 0; ok && i < STRATA_ARRAY_LEN(suffixes) && shift < 0; i++)
			if (strcasecmp(end, suffixes[i].s) == 0)
				shift = suffixes[i].shift;
		if (!ok || shift < 0 || (shift && x > (ULLONG_MAX >> shift)) ||
		    (double)(x << shift) < k->min || (double)(x << shift) > k->max) {
			snprintf(why, n,
				 "%s must be a byte count %s, e.g. 4194304 or 4MiB (got \"%s\")",
				 k->key, range, v);
			return false;
		}
		*(uint64_t *)p = x << shift;
		return true;
	}
	case STRATAD_CFG_DOUBLE: {
		double x = strtod(v, &end);
		if (!*v || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
			snprintf(why, n, "%s must be a number %s (got \"%s\")", k->key, range, v);
			return false;
		}
		*(double *)p = x;
		return true;
	}
	case STRATAD_CFG_MODE: {
		long long x = strtoll(v, &end, 8);
		if (!*v || *end || errno || x < (long long)k->min || x > (long long)k->max) {
			snprintf(why, n, "%s must be an octal file mode %s, e.g. 0660 (got \"%s\")",
				 k->key, range, v);
			return false;
		}
		*(int64_t *)p = x;
		return true;
	}
	case STRATAD_CFG_LEVEL:
		for (int i = 0; i < 4; i++)
			if (strcmp(v, level_names[i]) == 0) {
				*(int64_t *)p = i;
				return true;
			}
		snprintf(why, n, "%s must be one of error, warn, info, debug (got \"%s\")", k->key, v);
		return false;
	case STRATAD_CFG_ADDR: {
		if (!*v)
			goto copy;
		const char *colon = strrchr(v, ':');
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == v || !colon[1] || *end || port < 1 || port > 65535) {
			snprintf(why, n, "%s must be HOST:PORT, e.g. 127.0.0.1:9477, or empty (got \"%s\")",
				 k->key, v);
			return false;
		}
		goto copy;
	}
	case STRATAD_CFG_GROUP:
		if (*v && !getgrnam(v)) {
			snprintf(why, n, "%s \"%s\" is not a group on this host (see getent group)",
				 k->key, v);
			return false;
		}
		goto copy;
	case STRATAD_CFG_STRING:
	copy:
		if (strlen(v) < (size_t)k->min || strlen(v) > (size_t)k->max) {
			snprintf(why, n, "%s must be %g to %g characters long (got %zu)", k->key, k->min,
				 k->max, strlen(v));
			return false;
		}
		memcpy(p, v, strlen(v) + 1);
		return true;
	}
	snprintf(why, n, "%s has an unknown type", k->key);
	return false;
}

static void config_defaults(stratad_config *c)
{
	strata_policy_default(&c->pol);
	for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
		const stratad_cfg_key *k = &stratad_cfg_keys[i];
		if (!k->def)
			continue;
		char why[256];
		if (!parse_value(k, k->def, field_of(c, &c->pol, k), why, sizeof(why))) {
			fprintf(stderr, "stratad: bad built-in default: %s\n", why);
			abort();
		}
	}
}

/* ---- parsing ------------------------------------------------------------------------- */

typedef struct parse_ctx {
	const char *path;
	FILE *f;
	int line;
	stratad_config *c;
	strata_buf *errors;
	int nerrors;
	strata_err *err;
	int *daemon_lines;   /* by key index: line where set in [daemon]/[policy] */
	int **table_lines;   /* per table, by key index */
	char *buf;
	size_t bufcap;
	char section[80];
	int section_line;
} parse_ctx;

static void perr(parse_ctx *x, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(parse_ctx *x, int line, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char full[800];
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", x->path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", x->path, msg);
	if (x->nerrors == 0)
		strata_err_set(x->err, STRATA_EINVAL, "%s", full);
	if (x->errors && x->nerrors < CFG_ERRORS_MAX)
		strata_buf_printf(x->errors, "%s\n", full);
	x->nerrors++;
}

static int table_index(stratad_config *c, const char *name)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (strcmp(c->tables[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Validate a section header line ("[name]"); new [table.NAME] sections are
 * created here. */
static void section_header(parse_ctx *x, const char *s)
{
	const char *close = strchr(s, ']');
	if (!close)
		return; /* inih reports the syntax error */
	char name[256];
	size_t len = (size_t)(close - s - 1);
	snprintf(name, sizeof(name), "%.*s", (int)(len < 255 ? len : 255), s + 1);
	snprintf(x->section, sizeof(x->section), "%s", name);
	x->section_line = x->line;
	if (strcmp(name, "daemon") == 0 || strcmp(name, "policy") == 0)
		return;
	if (strncmp(name, "table.", 6) == 0) {
		strata_err e;
		if (strata_name_check(name + 6, "table name", &e) != 0) {
			perr(x, x->line, "[%s]: %s", name, e.msg);
			return;
		}
		int ti = table_index(x->c, name + 6);
		if (ti >= 0) {
			perr(x, x->line, "section [%s] appears twice (first at line %d); merge them",
			     name, x->c->tables[ti].line);
			return;
		}
		x->c->tables = strata_realloc(x->c->tables, (x->c->ntables + 1) * sizeof(stratad_table_cfg));
		x->table_lines = strata_realloc(x->table_lines, (x->c->ntables + 1) * sizeof(int *));
		stratad_table_cfg *t = &x->c->tables[x->c->ntables];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", name + 6);
		t->line = x->line;
		t->is_set = strata_calloc(stratad_cfg_nkeys, 1);
		x->table_lines[x->c->ntables] = strata_calloc(stratad_cfg_nkeys, sizeof(int));
		x->c->ntables++;
		return;
	}
	perr(x, x->line, "unknown section [%s] (sections: [daemon], [policy], [table.NAME])", name);
}

/* inih reader: one physical line per call, counted; comments and over-long
 * lines are handed on as blank lines. */
static char *cfg_reader(char *str, int num, void *stream)
{
	parse_ctx *x = stream;
	ssize_t n = getline(&x->buf, &x->bufcap, x->f);
	if (n < 0)
		return NULL;
	x->line++;
	const char *s = x->buf;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '#' || *s == ';' || *s == '\n' || *s == '\r' || *s == '\0') {
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	if (n + 3 > num || n > CFG_LINE_MAX) {
		perr(x, x->line, "line too long (at most %d characters)", (num < CFG_LINE_MAX ? num : CFG_LINE_MAX) - 3);
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	if (*s == '[')
		section_header(x, s);
	memcpy(str, x->buf, (size_t)n + 1);
	return str;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	size_t d[41][41];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = STRATA_MIN(sub, STRATA_MIN(del, ins));
		}
	return d[la][lb];
}

static const char *scope_where(stratad_cfg_scope s)
{
	return s == STRATAD_SCOPE_DAEMON ? "[daemon]" :
	       s == STRATAD_SCOPE_POLICY ? "[policy] or [table.NAME]" :
					   "[table.NAME]";
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	parse_ctx *x = user;
	int line = x->line;
	if (!*section) {
		perr(x, line, "%s is outside any section (put it under [daemon], [policy] or "
			      "[table.NAME])", name);
		return 0;
	}
	bool is_daemon = strcmp(section, "daemon") == 0;
	bool is_policy = strcmp(section, "policy") == 0;
	int ti = strncmp(section, "table.", 6) == 0 ? table_index(x->c, section + 6) : -1;
	if (!is_daemon && !is_policy && ti < 0)
		return 0; /* the header was already reported */
	int ki = stratad_config_find(name);
	if (ki < 0) {
		const char *best = NULL;
		size_t bd = 4;
		for (size_t i = 0; i < stratad_cfg_nkeys; i++) {
			size_t dd = edit_distance(name, stratad_cfg_keys[i].key);
			if (dd < bd) {
				bd = dd;
				best = stratad_cfg_keys[i].key;
			}
		}
		if (best)
			perr(x, line, "unknown key \"%s\" in [%s] (did you mean %s?)", name, section, best);
		else
			perr(x, line, "unknown key \"%s\" in [%s]", name, section);
		return 0;
	}
	const stratad_cfg_key *k = &stratad_cfg_keys[ki];
	bool fits = (k->scope == STRATAD_SCOPE_DAEMON && is_daemon) ||
		    (k->scope == STRATAD_SCOPE_POLICY && (is_policy || ti >= 0)) ||
		    (k->scope == STRATAD_SCOPE_TABLE && ti >= 0);
	if (!fits) {
		perr(x, line, "%s belongs in %s, not [%s]", name, scope_where(k->scope), section);
		return 0;
	}
	int *lines = ti >= 0 ? x->table_lines[ti] : x->daemon_lines;
	if (lines[ki]) {
		perr(x, line, "%s is set twice in [%s] (first at line %d)", name, section, lines[ki]);
		return 0;
	}
	lines[ki] = line;
	char why[512];
	strata_policy *pol = ti >= 0 ? &x->c->tables[ti].pol : &x->c->pol;
	if (!parse_value(k, value, field_of(x->c, pol, k), why, sizeof(why))) {
		perr(x, line, "%s", why);
		return 0;
	}
	if (ti >= 0)
		x->c->tables[ti].is_set[ki] = 1;
	else if (is_policy)
		x->c->pol_set[ki] = 1;
	x->c->nkeys_set++;
	return 1;
}

void stratad_config_free(stratad_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntables; i++)
		free(c->tables[i].is_set);
	free(c->tables);
	free(c->pol_set);
	free(c);
}

static void check_backoff(parse_ctx *x, const strata_policy *p, const int *lines, const char *where)
{
	if (p->backoff_max_s >= p->backoff_s)
		return;
	int a = stratad_config_find("policy.backoff_s"), b = stratad_config_find("policy.backoff_max_s");
	int line = STRATA_MAX(lines[a], lines[b]);
	perr(x, line, "policy.backoff_max_s (%lld) must not be below policy.backoff_s (%lld)%s",
	     (long long)p->backoff_max_s, (long long)p->backoff_s, where);
}

/* The s3.* keys that a string type cannot check: the endpoint's scheme
 * and the addressing's two values. */
static void check_s3(parse_ctx *x, const stratad_daemon_cfg *d, const int *lines)
{
	const char *ep = d->s3_endpoint;
	int line = lines[stratad_config_find("s3.endpoint")];
	if (strchr(ep, '@')) /* never echo it: it may hold a password */
		perr(x, line,
		     "s3.endpoint holds a user name or password (an '@'): give the keys in the "
		     "environment or the credentials file, never in the URL");
	else if (ep[0] && ((strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) ||
			   !strstr(ep, "://")[3]))
		perr(x, line,
		     "s3.endpoint must be an http:// or https:// URL, e.g. http://minio.example:9000, "
		     "or empty (got \"%s\")",
		     ep);
	const char *a = d->s3_addressing;
	if (a[0] && strcmp(a, "path") != 0 && strcmp(a, "virtual") != 0)
		perr(x, lines[stratad_config_find("s3.addressing")],
		     "s3.addressing must be one of path, virtual or empty (got \"%s\")", a);
}

int stratad_config_load(const char *path, stratad_config **out, strata_buf *all, strata_err *err)
{
	*out = NULL;
	stratad_config *c = strata_calloc(1, sizeof(*c));
	c->pol_set = strata_calloc(stratad_cfg_nkeys, 1);
	config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	parse_ctx x = {.path = path, .c = c, .errors = all, .err = err};
	x.daemon_lines = strata_calloc(stratad_cfg_nkeys, sizeof(int));
	int rc = 0;
	x.f = fopen(path, "r");
	if (!x.f) {
		rc = -errno;
		strata_err_set(err, rc, "could not open config file \"%s\": %s", path, strata_strerror(rc));
		if (all)
			strata_buf_printf(all, "%s\n", err->msg);
		goto out;
	}
	ini_allow_multiline = false; /* a continuation would hide a duplicate key */
	int bad = ini_parse_stream(cfg_reader, &x, cfg_handler, &x);
	if (bad > 0 && x.nerrors == 0)
		perr(&x, bad, "syntax error: expected \"key = value\", \"[section]\" or a comment");
	else if (bad < 0 && x.nerrors == 0)
		perr(&x, 0, "could not read the file");
	if (ferror(x.f))
		perr(&x, 0, "read error: %s", strerror(errno));
	/* invariant 1: cross-key checks */
	check_s3(&x, &c->d, x.daemon_lines);
	check_backoff(&x, &c->pol, x.daemon_lines, " in [policy]");
	for (size_t i = 0; i < c->ntables; i++) {
		strata_policy eff;
		stratad_config_policy(c, c->tables[i].name, 24, &eff, NULL);
		int *merged = strata_calloc(stratad_cfg_nkeys, sizeof(int));
		for (size_t k = 0; k < stratad_cfg_nkeys; k++)
			merged[k] = x.table_lines[i][k] ? x.table_lines[i][k] : x.daemon_lines[k];
		char where[96];
		snprintf(where, sizeof(where), " for [table.%s]", c->tables[i].name);
		check_backoff(&x, &eff, merged, where);
		free(merged);
	}
	if (c->d.admin_group[0]) {
		struct group *g = getgrnam(c->d.admin_group);
		if (g) {
			c->has_admin_gid = true;
			c->admin_gid = g->gr_gid;
		}
	}
	if (x.nerrors)
		rc = STRATA_EINVAL;
out:
	if (x.f)
		fclose(x.f);
	free(x.buf);
	free(x.daemon_lines);
	for (size_t i = 0; i < c->ntables; i++)
		free(x.table_lines[i]);
	free(x.table_lines);
	if (rc) {
		stratad_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- object storage ---------------------------------------------------------------- */

void stratad_config_s3_apply(const stratad_config *c)
{
	const stratad_daemon_cfg *d = &c->d;
	if (!d->s3_endpoint[0] && !d->s3_region[0] && !d->s3_profile[0] && !d->s3_addressing[0])
		return; /* the AWS way alone, as for the CLI */
	char origin[4200];
	snprintf(origin, sizeof(origin), "[daemon] s3.* in %s", c->path);
	strata_s3_config sc = {
		.endpoint = d->s3_endpoint[0] ? d->s3_endpoint : NULL,
		.region = d->s3_region[0] ? d->s3_region : NULL,
		.profile = d->s3_profile[0] ? d->s3_profile : NULL,
		.addressing = strcmp(d->s3_addressing, "path") == 0      ? STRATA_S3_ADDR_PATH
			      : strcmp(d->s3_addressing, "virtual") == 0 ? STRATA_S3_ADDR_VIRTUAL
									 : STRATA_S3_ADDR_DEFAULT,
		.origin = origin,
	};
	strata_store_s3_configure(&sc);
}

/* ---- effective policies ---------------------------------------------------------------- */

void stratad_config_policy(const stratad_config *c, const char *table,
			   uint32_t table_retain_hours, strata_policy *out, stratad_src *src)
{
	*out = c->pol;
	out->retain_hours = table_retain_hours;
	const stratad_table_cfg *t = NULL;
	for (size_t i = 0; table && i < c->ntables && !t; i++)
		if (strcmp(c->tables[i].name, table) == 0)
			t = &c->tables[i];
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope == STRATAD_SCOPE_DAEMON)
			continue;
		stratad_src s = row->scope == STRATAD_SCOPE_TABLE ? STRATAD_SRC_PROPERTY :
				c->pol_set[k]			  ? STRATAD_SRC_POLICY :
								    STRATAD_SRC_DEFAULT;
		if (t && t->is_set[k]) {
			memcpy((char *)out + row->offset, (const char *)&t->pol + row->offset, 8);
			s = STRATAD_SRC_TABLE;
		}
		if (src)
			src[k] = s;
	}
}

void stratad_config_job_policy(const stratad_config *c, const char *table, strata_policy *out)
{
	/* UINT32_MAX stands for "the property": an override is at most 168 */
	stratad_config_policy(c, table, UINT32_MAX, out, NULL);
	if (out->retain_hours == (int64_t)UINT32_MAX)
		out->retain_hours = -1;
}

void stratad_config_restart_diff(const stratad_config *a, const stratad_config *b, char *out,
				 size_t n)
{
	out[0] = '\0';
	size_t used = 0;
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope != STRATAD_SCOPE_DAEMON || row->is_reloadable)
			continue;
		char va[4200], vb[4200];
		stratad_config_value(a, row, NULL, va, sizeof(va));
		stratad_config_value(b, row, NULL, vb, sizeof(vb));
		if (strcmp(va, vb) != 0 && used + strlen(row->key) + 3 < n)
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", row->key);
	}
}

/* ---- the sample file --------------------------------------------------------------------- */

static void wrap(FILE *out, const char *text)
{
	const char *p = text;
	while (*p) {
		size_t take = strlen(p);
		if (take > 74) {
			take = 74;
			while (take > 0 && p[take] != ' ')
				take--;
			if (take == 0)
				take = 74;
		}
		fprintf(out, "# %.*s\n", (int)take, p);
		p += take;
		while (*p == ' ')
			p++;
	}
}

void stratad_config_key_doc(const stratad_cfg_key *k, char *out, size_t n)
{
	char range[128], def[300];
	bool is_text = k->type == STRATAD_CFG_STRING || k->type == STRATAD_CFG_GROUP ||
		       k->type == STRATAD_CFG_ADDR || k->type == STRATAD_CFG_LEVEL;
	if (is_text) {
		snprintf(range, sizeof(range), "%s", k->unit);
	} else {
		range_text(k, range, sizeof(range));
		if (*k->unit)
			snprintf(range + strlen(range), sizeof(range) - strlen(range), " (%s)", k->unit);
	}
	snprintf(def, sizeof(def), "%s", k->def ? (*k->def ? k->def : "(empty)") :
						  "the table's own property");
	snprintf(out, n, "%s: %s. Default: %s.%s", is_text ? "Value" : "Range", range, def,
		 k->is_reloadable ? "" : " (requires restart)");
}

static void sample_key(FILE *out, const stratad_cfg_key *k, bool is_active)
{
	char doc[600];
	fprintf(out, "\n");
	wrap(out, k->help);
	stratad_config_key_doc(k, doc, sizeof(doc));
	fprintf(out, "# %s\n", doc);
	fprintf(out, "%s%s = %s\n", is_active ? "" : "#", k->key, k->def ? k->def : "24");
}

void stratad_config_sample(FILE *out)
{
	fprintf(out,
		"# etc/stratad.ini — configuration of stratad, the strata governance daemon.\n"
		"#\n"
		"# Generated by `stratad --sample-config` from the daemon's config table\n"
		"# (daemon/config.c); tests/test_config.c checks that every key is here.\n"
		"#\n"
		"# Syntax: INI.  `key = value`, one per line; comments start with # or ;.\n"
		"# Sizes take an optional KiB, MiB or GiB suffix (4MiB = 4194304).  Every\n"
		"# commented-out line below shows the default.  Unknown keys, bad values and\n"
		"# out-of-range values are errors reported with the file and line; check a\n"
		"# file with `stratad --check-config FILE`.\n"
		"#\n"
		"# Reload: SIGHUP (systemctl reload stratad) or `strata admin reload` re-reads\n"
		"# the file all-or-nothing: a file with any error is rejected and the running\n"
		"# configuration stays.  Keys marked (requires restart) keep their running\n"
		"# value until the next start; the reload says which ones changed.  A file\n"
		"# that sets no key at all (empty, or only comments) is refused too: it is\n"
		"# far more often a truncated copy than a wish for every default.\n"
		"#\n"
		"# Precedence for a table's policy: built-in default < [policy] <\n"
		"# [table.NAME].  `strata admin policy NAME` shows every effective value and\n"
		"# where it came from.\n"
		"\n"
		"# ==========================================================================\n"
		"# [daemon] — the process: warehouse, admin socket, workers, limits\n"
		"# ==========================================================================\n"
		"[daemon]\n");
	for (size_t i = 0; i < stratad_cfg_nkeys; i++)
		if (stratad_cfg_keys[i].scope == STRATAD_SCOPE_DAEMON)
			sample_key(out, &stratad_cfg_keys[i],
				   strcmp(stratad_cfg_keys[i].key, "warehouse") == 0 ||
					   strcmp(stratad_cfg_keys[i].key, "socket") == 0);
	fprintf(out,
		"\n"
		"# ==========================================================================\n"
		"# [policy] — when jobs run, for every table (see docs/OPERATIONS.md)\n"
		"#\n"
		"# Every scan computes, per bucket, which jobs are due and a score; the\n"
		"# highest scores run first, one job per bucket, at most `workers` at once.\n"
		"# ==========================================================================\n"
		"[policy]\n");
	for (size_t i = 0; i < stratad_cfg_nkeys; i++)
		if (stratad_cfg_keys[i].scope == STRATAD_SCOPE_POLICY)
			sample_key(out, &stratad_cfg_keys[i], false);
	fprintf(out,
		"\n"
		"# ==========================================================================\n"
		"# [table.NAME] — overrides for one table\n"
		"#\n"
		"# Any [policy] key, plus the retention below.  NAME is the table's name.\n"
		"# ==========================================================================\n"
		"#[table.orders]\n"
		"#sort.min_files = 8\n");
	for (size_t i = 0; i < stratad_cfg_nkeys; i++)
		if (stratad_cfg_keys[i].scope == STRATAD_SCOPE_TABLE)
			sample_key(out, &stratad_cfg_keys[i], false);
}
