/*
 * daemon/daemon.h — the contract of stratad's module: its configuration (one
 * table of keys, parsed with inih), the shared I/O token bucket, the
 * sd_notify datagram, and the daemon itself (event loop, workers, admin
 * socket, metrics).  daemon/main.c is the only program that runs a daemon;
 * the tests drive the same functions directly (config parsing, the token
 * bucket, the admin dispatcher) and spawn the built stratad for everything
 * that needs a real process.
 *
 * The daemon adds scheduling, never job logic: jobs are the library's
 * (sort/, merge/, compact/, clean/), decisions are policies/'s.
 *
 * Thread safety: the config functions and stratad_open/_run/_close belong to
 * the main thread; the token bucket is safe from any thread;
 * stratad_admin_exec() runs on the thread that runs the loop (or before it).
 */
#ifndef STRATA_DAEMON_H
#define STRATA_DAEMON_H

#include <sys/types.h>

#include "core/core.h"
#include "policies/policies.h"

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

#define STRATAD_DEFAULT_CONFIG "/etc/strata/stratad.ini"
#define STRATAD_DEFAULT_SOCKET "/run/stratad/admin.sock"
#define STRATAD_SOCKET_PATH_MAX 108 /* sun_path */

typedef enum stratad_cfg_type {
	STRATAD_CFG_INT,    /* decimal integer */
	STRATAD_CFG_BYTES,  /* integer bytes, optional KiB/MiB/GiB suffix */
	STRATAD_CFG_DOUBLE, /* decimal number */
	STRATAD_CFG_STRING, /* any text (paths) */
	STRATAD_CFG_MODE,   /* octal file mode, e.g. 0660 */
	STRATAD_CFG_LEVEL,  /* error | warn | info | debug */
	STRATAD_CFG_ADDR,   /* "" or HOST:PORT */
	STRATAD_CFG_GROUP,  /* "" or a group name known to this host */
} stratad_cfg_type;

/* Where a key may appear. */
typedef enum stratad_cfg_scope {
	STRATAD_SCOPE_DAEMON, /* [daemon] */
	STRATAD_SCOPE_POLICY, /* [policy] and [table.NAME] */
	STRATAD_SCOPE_TABLE,  /* [table.NAME] only */
} stratad_cfg_scope;

/* One row of the config table. */
typedef struct stratad_cfg_key {
	stratad_cfg_scope scope;
	const char *key;
	stratad_cfg_type type;
	const char *def;      /* default, as written in the file */
	double min, max;      /* inclusive bounds of numbers (and string length) */
	bool is_reloadable;   /* false: a changed value waits for a restart */
	size_t offset;        /* into stratad_daemon_cfg or strata_policy */
	const char *unit;     /* "seconds", "bytes", ... or "" */
	const char *help;     /* the teaching paragraph of etc/stratad.ini */
} stratad_cfg_key;

extern const stratad_cfg_key stratad_cfg_keys[];
extern const size_t stratad_cfg_nkeys;

/* [daemon] */
typedef struct stratad_daemon_cfg {
	char warehouse[4096];
	char socket[STRATAD_SOCKET_PATH_MAX];
	int64_t socket_mode;
	char admin_group[64];
	int64_t workers;
	int64_t scan_interval_s;
	double io_max_mb_s;
	char metrics_listen[128];
	int64_t log_level;
	int64_t shutdown_timeout_s;
	int64_t max_clients;
	int64_t claim_ttl_s;
	int64_t peer_ttl_s;
	int64_t admin_idle_timeout_s;
	int64_t metrics_timeout_s;
	/* object storage (data paths s3://...): "" means the AWS way decides */
	char s3_endpoint[1024];
	char s3_region[64];
	char s3_profile[256];
	char s3_addressing[16];   /* "", "path" or "virtual" */
} stratad_daemon_cfg;

/* Where an effective value came from, for `strata admin policy TABLE`. */
typedef enum stratad_src {
	STRATAD_SRC_DEFAULT = 0,  /* built-in default */
	STRATAD_SRC_POLICY,       /* [policy] */
	STRATAD_SRC_TABLE,        /* [table.NAME] */
	STRATAD_SRC_PROPERTY,     /* the table's own property (retention) */
} stratad_src;

typedef struct stratad_table_cfg {
	char name[STRATA_NAME_MAX + 1];
	int line;                 /* of its [table.NAME] header */
	strata_policy pol;        /* values of the keys it sets */
	uint8_t *is_set;          /* by key index (stratad_cfg_nkeys) */
} stratad_table_cfg;

typedef struct stratad_config {
	char path[4096];
	stratad_daemon_cfg d;
	strata_policy pol;        /* defaults with [policy] applied */
	uint8_t *pol_set;         /* by key index: set in [policy] */
	stratad_table_cfg *tables;
	size_t ntables;
	bool has_admin_gid;
	gid_t admin_gid;
	size_t nkeys_set;         /* key lines the file set (0: an empty file, or
				     only comments and section headers) */
} stratad_config;

/* Parse the file at path.  Every error names the place and the fix:
 *   "etc/stratad.ini:12: sort.min_files must be an integer from 1 to 1000
 *    (got \"banana\")"
 * err->msg holds the first error; *all (if not NULL) receives every error,
 * one per line (caller frees with strata_buf_free).  On success *out is the
 * caller's (stratad_config_free). */
int stratad_config_load(const char *path, stratad_config **out, strata_buf *all,
			strata_err *err);
void stratad_config_free(stratad_config *c);

/* Hand the [daemon] s3.* keys that are set to the S3 data store
 * (strata_store_s3_configure), before the warehouse is opened; with none
 * set the store keeps the AWS way alone (environment, ~/.aws/config). */
void stratad_config_s3_apply(const stratad_config *c);

/* The effective policy of table `table` whose own retention property is
 * table_retain_hours: defaults, then [policy], then [table.NAME]; retention
 * comes from the table's property unless [table.NAME] sets
 * acid.data.retain.hours.  src (if not NULL) receives the source of each
 * key, by key index (only policy and table scoped rows are meaningful). */
void stratad_config_policy(const stratad_config *c, const char *table,
			   uint32_t table_retain_hours, strata_policy *out, stratad_src *src);

/* The policy a job of `table` runs with: stratad_config_policy() with
 * retain_hours -1 (the table's property as the job's own snapshot reads it,
 * manifest/retention.c) unless [table.NAME] sets acid.data.retain.hours. */
void stratad_config_job_policy(const stratad_config *c, const char *table, strata_policy *out);

/* The value of row k in c as the file would spell it ("64MiB" style for
 * bytes).  For policy rows, pol supplies the value (NULL: c->pol). */
void stratad_config_value(const stratad_config *c, const stratad_cfg_key *k,
			  const strata_policy *pol, char *out, size_t n);

/* Row index of key (scope ignored), or -1. */
int stratad_config_find(const char *key);

/* Names of restart-only [daemon] keys whose values differ between a and b,
 * comma-separated into out ("" if none). */
void stratad_config_restart_diff(const stratad_config *a, const stratad_config *b,
				 char *out, size_t n);

/* Print the annotated sample configuration (etc/stratad.ini is its output). */
void stratad_config_sample(FILE *out);

/* The sentence the sample prints under row k's paragraph: "Range: from 1 to
 * 1000 (files). Default: 4." (or "Value: ..." for text keys), with
 * " (requires restart)" for keys a reload cannot change.  stratad.ini(5) is
 * generated from the same rows and sentences. */
void stratad_config_key_doc(const stratad_cfg_key *k, char *out, size_t n);

/* ------------------------------------------------------------------------ */
/* The I/O token bucket                                                     */
/* ------------------------------------------------------------------------ */

/* A token bucket shared by every job: bytes read and written by jobs (and
 * unlinked by clean) drain it at io.max_mb_s MiB/s, with a burst of one
 * second's worth (at least 1 MiB).  A rate of 0 means unlimited. */
typedef struct stratad_tbucket stratad_tbucket;

stratad_tbucket *stratad_tbucket_new(double mib_s, int64_t now_us);
void stratad_tbucket_free(stratad_tbucket *tb);
void stratad_tbucket_set_rate(stratad_tbucket *tb, double mib_s, int64_t now_us);
/* Charge n bytes at now_us and return how long (µs) the caller must wait
 * before doing them; 0 means at once.  The charge is taken immediately, so
 * concurrent callers queue behind each other. */
int64_t stratad_tbucket_take(stratad_tbucket *tb, uint64_t n, int64_t now_us);

/* ------------------------------------------------------------------------ */
/* systemd notification                                                     */
/* ------------------------------------------------------------------------ */

/* Send msg ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1") to
 * $NOTIFY_SOCKET as one datagram (a path, or "@name" for the abstract
 * namespace).  Returns 1 if sent, 0 if $NOTIFY_SOCKET is unset, -errno. */
int stratad_notify(const char *msg);
/* $WATCHDOG_USEC if set for this process ($WATCHDOG_PID absent or ours), else 0. */
int64_t stratad_watchdog_usec(void);

/* ------------------------------------------------------------------------ */
/* The daemon                                                               */
/* ------------------------------------------------------------------------ */

typedef struct stratad stratad;

/* Start a daemon from a loaded config (taken, freed by _close): open the
 * warehouse, recover the intents of crashed jobs, bind the admin socket (and
 * the metrics listener), start the workers.  config_path is re-read on
 * SIGHUP and `reload`.  Nothing runs until stratad_run(). */
int stratad_open(stratad_config *cfg, stratad **out, strata_err *err);
/* Run the event loop until shutdown (SIGTERM, SIGINT, `shutdown`); sends
 * READY=1 first.  Returns the process exit status (0 after a clean stop). */
int stratad_run(stratad *d);
/* Stop workers, close the socket and the warehouse, free.  NULL is a no-op. */
void stratad_close(stratad *d);

/* An admin peer as SO_PEERCRED gave it, with what it may do. */
typedef struct stratad_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool may_read;    /* root, the daemon's user, or admin_group */
	bool may_write;   /* root or the daemon's user */
} stratad_peer;

/* Decide what a peer may do (root, the daemon's uid, admin_group). */
void stratad_peer_authorize(const stratad *d, stratad_peer *p);

/* Run one admin command line (words, or a JSON array of strings) for peer and
 * append its reply (one JSON object and a newline) to out.  Returns 0 if the
 * command ran, or the error code of the refusal (unknown command, arity,
 * permission).  `watch` cannot run here (it needs a connection). */
int stratad_admin_exec(stratad *d, const stratad_peer *peer, const char *line,
		       strata_buf *out);

/* Row i of the admin command table: its name, usage, help and who may run
 * it ("read", "owner", "owner (destructive)"), as `help` answers them; all
 * static strings.  false past the last row.  stratad(8) is generated from
 * it. */
bool stratad_admin_command_info(size_t i, const char **name, const char **usage,
				const char **help, const char **access);

/* Check a command line exactly as stratad_admin_exec() does before it runs
 * a handler — tokenize, look the name up in the command table, check the
 * arity and whether peer may run it (daemon_uid is stratad's own uid, for
 * the refusal message) — without running anything.  Appends one reply line
 * to out: the refusal stratad would send ({"ok":false,"error":...}), or
 * {"ok":true,"command":NAME,"args":[...],"destructive":B,"stream":B}.
 * Returns 0 or the refusal's code.  Needs no daemon, logs nothing, counts
 * nothing: a dry run for tests and fuzzing. */
int stratad_admin_check(uid_t daemon_uid, const stratad_peer *peer, const char *line,
			strata_buf *out);

#endif
