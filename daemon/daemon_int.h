/*
 * daemon/daemon_int.h — shared by the files of daemon/ only: the daemon's
 * state, the job record, and the functions one file offers the others.
 *
 *   stratad.c   the loop: cron timer, scans, the table and bucket registry,
 *               damage, watch events, reload, shutdown
 *   plan.c      planning one table: gather, decide, report
 *   jobs.c      job bookkeeping: creation, queue, completions, summaries
 *   worker.c    the worker pool and how one job runs (library calls only)
 *   admin.c     the admin socket, peers, the command table and its handlers
 *   metrics.c   Prometheus text from one table of families; the HTTP listener
 *   status.c    the status page (GET /, /status.json) and its hour of samples
 *   listen.c    accept() failures: pause the listener, log once per interval
 *
 * Locking: two domains, named in the struct.  d->mu guards d->jobs (a
 * d_jobs_locked: the queue, the running list, the notice list, pause and
 * stop, the worker counts) and every field of a job that is QUEUED or
 * RUNNING except those the running worker owns (result fields, io_bytes
 * atomically).  Everything else in struct stratad belongs to the main
 * (event loop) thread; the token bucket has its own lock.
 */
#ifndef STRATA_DAEMON_INT_H
#define STRATA_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <event2/event.h>
#include <jansson.h>

#include "clean/clean.h"
#include "daemon/daemon.h"
#include "jobs/jobs.h"
#include "merge/merge.h"
#include "table/table.h"

#define D_US 1000000ll
#define D_FINISHED_MAX 100
#define D_LINE_MAX 4096
#define D_ARGS_MAX 64
#define D_CRON_MS 100
#define D_SCAN_BUDGET_US 50000         /* planning time per cron tick */
/* a finished job asks for a scan after max(D_SCAN_AFTER_JOB_MIN_US,
 * D_SCAN_COST_FACTOR x the last scan's duration): d_scan_after_job_at() */
#define D_SCAN_AFTER_JOB_MIN_US 100000
#define D_SCAN_COST_FACTOR 10
#define D_SCAN_LOG_MIN_US D_US /* the scan's info line, at most this often */
#define D_WATCH_POLL_US 1000000
#define D_WATCH_BACKLOG_MAX (1 << 20)   /* a watcher this far behind is dropped */
#define D_REPLY_BACKLOG_MAX (1 << 20)   /* unsent replies past this: stop reading the client */
#define D_TABLE_JOB UINT32_MAX           /* part_id and bucket of table-wide jobs */
/* accept() failures (listen.c): the listener pauses between these, doubling */
#define D_ACCEPT_PAUSE_MIN_MS 250
#define D_ACCEPT_PAUSE_MAX_MS 5000
#define D_ACCEPT_LOG_INTERVAL_US (10 * D_US) /* at most one log line per listener */
/* admin connections past max_clients, for root and stratad's uid only */
#define D_ADMIN_RESERVED 1
/* the HTTP metrics listener (metrics.c) */
#define D_HTTP_CONNS_MAX 64
#define D_HTTP_REQUEST_MAX 8192          /* request line and headers */
/* the status page (status.c) */
#define D_BUCKET_LEVELS 8                /* per-bucket file counts; the last slot: 7 and deeper */
#define D_HIST_MAX 4096                  /* samples kept (one a scan, scans at most 1/s) */
#define D_HIST_WINDOW_US (3600 * D_US)   /* the charts' span */
/* A bucket whose job met a damaged data file backs off as if it had failed
 * this often: policy.backoff_max_s at once (2^31 x backoff_s is past any
 * allowed maximum). */
#define D_CORRUPT_BACKOFF_FAILURES 32

/* ---- jobs -------------------------------------------------------------------------- */

typedef enum dj_kind {
	DJ_SORT = 0,
	DJ_MERGE,
	DJ_PARTIAL,
	DJ_MAJOR,
	DJ_CLEAN,
	DJ_PURGE,
	DJ_NKINDS
} dj_kind;

/* A job's life (every change goes through d_job_set_state, which asserts it):
 *
 *   QUEUED --worker takes it--> RUNNING --library call returns--> DONE
 *      \                                                          ^
 *       +------- cancel, replan, shutdown (never started) --------+
 */
typedef enum dj_state { DJ_QUEUED = 0, DJ_RUNNING, DJ_DONE } dj_state;

typedef enum dj_result {
	DJR_NONE = 0,
	DJR_OK,
	DJR_NOOP,     /* nothing to do by the time it ran */
	DJR_CONFLICT, /* an input went away or the schema changed: nothing committed */
	DJR_BUSY,     /* another job (maybe another stratad) holds the bucket */
	DJR_CANCELED,
	DJR_FAILED,
	DJR_NRESULTS
} dj_result;

typedef struct dj {
	uint64_t id;
	dj_kind kind;
	dj_state state;
	bool is_manual;        /* asked for by an admin command */
	bool drop_history;     /* major compaction */
	bool orphan_scan;      /* clean */
	int level;             /* merge input level, -1: the lowest with two files */
	int through;           /* merge: > level, a paired merge of levels level..through */
	char table[STRATA_NAME_MAX + 1];
	uint32_t table_id;
	char part[STRATA_PART_NAME_MAX];
	uint32_t part_id, bucket; /* D_TABLE_JOB for clean and purge */
	double score;
	char reason[400];
	size_t expect_eligible; /* clean: files the policy expected it to delete */
	uint64_t planned_garbage_rows; /* partial compaction: the estimate it was queued on */
	strata_policy pol;
	int64_t claim_ttl_s;
	int64_t queued_us, started_us, finished_us; /* wall clock */
	int64_t started_mono_us;
	volatile int cancel; /* 0 -> 1 once, from any thread; read and written with __atomic_* */
	_Atomic uint64_t io_bytes;
	struct stratad *d;
	/* result, written by the worker */
	dj_result result;
	int rc;
	char error[STRATA_ERR_MSG_MAX];
	strata_job_result jr;
	strata_clean_result cr;
	double seconds;
} dj;

/* What stays of a finished job (the last D_FINISHED_MAX). */
typedef struct dj_summary {
	uint64_t id;
	dj_kind kind;
	dj_result result;
	bool is_manual;
	char table[STRATA_NAME_MAX + 1];
	char part[128];
	uint32_t bucket;
	int64_t queued_us, started_us, finished_us;
	double seconds;
	uint64_t bytes_in, bytes_out, rows_in, rows_out;
	size_t files_in, files_out;
	uint64_t version;
	char reason[200];
	char error[256];
} dj_summary;

const char *d_kind_name(dj_kind k);
const char *d_result_name(dj_result r);

/* ---- tables and buckets (main thread) ------------------------------------------------ */

typedef struct dbucket {
	uint32_t part_id, bucket;
	const char *part_name;   /* escaped, in the table's arena */
	uint32_t failures;
	int64_t failed_us;
	/* the last job met a damaged data file (STRATA_ECORRUPT): backing off
	 * at the maximum and alerting (strata_bucket_corrupt) until a job on
	 * the bucket succeeds */
	bool is_corrupt;
	int64_t corrupt_since_us;
	char corrupt_error[STRATA_ERR_MSG_MAX];
	dj *job;                 /* queued or running, NULL */
	int best;                /* last verdict: strata_pol_kind or -1 */
	bool is_backing_off;
	uint32_t files, l0_files; /* live files at the last plan */
	uint32_t level_files[D_BUCKET_LEVELS]; /* by level, the last slot deeper too (status page) */
	uint64_t bytes;
	bool has_merge_input;     /* a level >= 1 with two files */
	int64_t due_since_us[3];  /* sort, merge, compact: due since, without running */
	/* a partial compaction here dropped nothing: the next one is due only
	 * when the garbage estimate passes this (policies.c, issue 11) */
	uint64_t compact_bar_rows;
} dbucket;

typedef struct dtable {
	char name[STRATA_NAME_MAX + 1];
	uint32_t id;
	uint32_t retain_hours;       /* the table's own property */
	uint64_t version;
	uint64_t planned_version;
	uint64_t planned_cfg_gen;
	uint64_t planned_share_gen;  /* d->share_gen when last planned */
	size_t share_mine, share_total; /* buckets this daemon owns, of all */
	int64_t next_due_us;
	bool is_dirty;
	bool is_paused;
	bool is_seen;
	dbucket *b;
	size_t nb, capb;
	strata_arena *names;
	/* clean */
	uint32_t clean_failures;
	int64_t clean_failed_us;
	int64_t last_clean_us, last_orphan_us;
	int64_t last_clean_cost_us; /* the last finished clean's duration */
	size_t marked_in_place;     /* files it left in their bucket for a lease */
	dj *clean_job, *purge_job;
	/* gauges from the last plan */
	size_t files_per_level[STRATA_POL_LEVELS];
	uint64_t bytes_per_level[STRATA_POL_LEVELS];
	size_t files;
	uint64_t bytes, history_bytes;
	int64_t l0_oldest_us;
	size_t due, backing_off;
	/* writer back-pressure (table/txn.c): the table's limits and the
	 * buckets at them, from the last plan */
	uint32_t bp_max_l0, bp_slow_l0;
	size_t bp_waiting, bp_slowed;
	size_t trash_files;
	uint64_t trash_bytes;
	uint64_t pin_version;         /* oldest pin (0: none) */
	int64_t pin_ts_us;
	char pin_holder[96];
	uint64_t boundary;
	uint64_t watch_seen;          /* commit events sent up to here (0: start) */
} dtable;

/* ---- admin clients ---------------------------------------------------------------------- */

typedef struct dclient {
	struct stratad *d;
	struct bufferevent *bev;
	stratad_peer peer;
	bool is_reserved;     /* in the slot past max_clients (root, stratad's uid) */
	bool is_watching;
	bool is_closing;
	bool is_read_paused;  /* its unsent replies passed D_REPLY_BACKLOG_MAX */
	struct dclient *next;
} dclient;

/* ---- listeners (listen.c) ----------------------------------------------------------------- */

/* A listener with what happens when accept() fails: paused and resumed by a
 * timer, failures counted and logged at most once per interval.  The
 * listener's callback argument is the guard itself. */
typedef struct d_guard {
	struct stratad *d;
	const char *what;            /* "admin socket", "metrics listener" */
	struct evconnlistener *l;    /* owned */
	struct event *ev_resume;
	int64_t pause_ms;
	bool is_paused;
	bool has_failed_since_accept;
	uint64_t errors;             /* every failure (metric) */
	uint64_t errors_unlogged;    /* since the last log line */
	int64_t last_log_us;         /* monotonic, 0: never */
	int last_errno;
} d_guard;

/* Take l (created with g as its argument) and set its error callback. */
void d_guard_init(struct stratad *d, d_guard *g, const char *what, struct evconnlistener *l);
/* A connection was accepted: the next failure pauses for the minimum again. */
void d_guard_accepted(d_guard *g);
/* Free the listener and the timer; safe twice. */
void d_guard_close(d_guard *g);

/* An HTTP connection to the metrics listener. */
typedef struct dhttp {
	struct stratad *d;
	struct bufferevent *bev;
	struct event *ev_deadline;   /* metrics_timeout_s after accept */
	bool is_closing;
	struct dhttp *next;
} dhttp;

/* One sample of the warehouse, taken at the end of every scan (status.c). */
typedef struct d_sample {
	int64_t wall_us;
	uint64_t files, bytes, history_bytes;
	uint64_t jobs_done;          /* finished jobs so far, any result (cumulative) */
	uint32_t queued, running;
} d_sample;

/* ---- the daemon --------------------------------------------------------------------------- */

typedef enum d_state { D_RUNNING = 0, D_STOPPING } d_state;

/* A table as the current scan found it. */
typedef struct scan_entry {
	char name[STRATA_NAME_MAX + 1];
	uint64_t version;
	uint32_t id;
} scan_entry;

typedef struct d_notice {
	dj *j;
	bool is_done; /* else: started */
} d_notice;

typedef struct d_metrics {
	uint64_t jobs[DJ_NKINDS][DJR_NRESULTS];
	uint64_t bytes_read, bytes_written;
	uint64_t conflicts;
	uint64_t corrupt;        /* jobs that met a damaged data file */
	uint64_t clean_files_deleted, clean_bytes_deleted, clean_files_unlinked, orphans;
	uint64_t intents_recovered;
	uint64_t dur_buckets[DJ_NKINDS][10]; /* cumulative counts per le */
	double dur_sum[DJ_NKINDS];
	uint64_t dur_count[DJ_NKINDS];
	uint64_t scans, tables_planned, chained_jobs;
	double last_scan_ms;
	uint64_t admin_commands, admin_refused;
	uint64_t admin_idle_closed, http_closed;  /* closed by the idle / request timeouts */
	uint64_t reloads, reload_failures;
} d_metrics;

extern const double d_duration_le[9];

/* The lock domain of d->mu: everything the loop thread and the workers
 * share about jobs.  Every field is read and written with d->mu held,
 * except that the loop thread, the only writer of is_paused and
 * want_workers, may read those two without it.  A job record's own fields
 * follow the same rule while the job is QUEUED or RUNNING (see Locking
 * above). */
typedef struct d_jobs_locked {
	dj **queue;                  /* QUEUED jobs, any order (workers pick the best) */
	size_t nqueue, capqueue;
	dj **running;                /* RUNNING jobs */
	size_t nrunning, caprunning;
	d_notice *notices;           /* "started" / "done", for the loop (d_notice_cb) */
	size_t nnotices, capnotices;
	bool is_paused;              /* planning paused: workers take nothing */
	bool is_stopping;            /* shutdown: workers leave */
	int want_workers, nworkers;  /* the pool's target and live size */
	pthread_t *threads;
	size_t nthreads;
} d_jobs_locked;

struct stratad {
	stratad_config *cfg;
	uint64_t cfg_gen;
	strata_wh *wh;
	char owner[128];
	char wh_name[600];           /* the warehouse without a password, for logs */
	/* ---- the share (daemon/share.c): loop thread only */
	strata_daemon_rec *peers;    /* live daemons, owner order (0: alone) */
	size_t npeers;
	uint64_t share_gen;          /* bumped when the peer set changes */
	int64_t beat_mono_us;        /* last heartbeat */
	bool beat_failed;
	size_t share_mine, share_total; /* buckets of the last scan */
	uid_t uid;
	int64_t started_us;
	d_state state;
	struct event_base *base;
	struct event *ev_cron, *ev_hup, *ev_term, *ev_int, *ev_notice;
	int notice_fd[2];
	d_guard admin_guard;         /* the admin socket's listener */
	char socket_path[STRATAD_SOCKET_PATH_MAX];
	bool has_socket;
	d_guard http_guard;          /* the metrics listener (l NULL: off) */
	dhttp *https;
	size_t nhttp;
	/* ---- shared with the workers: jobs under mu, the token bucket under its own lock */
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* workers wait on it for d->jobs to change */
	d_jobs_locked jobs;          /* guarded by mu */
	stratad_tbucket *tb;         /* thread-safe (daemon/throttle.c) */
	/* ---- the loop thread's own (no lock) */
	uint64_t next_job_id;
	dtable **tables;
	size_t ntables;
	struct scan_entry *scan_list;
	size_t scan_n, scan_i;
	bool in_scan;
	int64_t scan_started_mono_us;
	size_t scan_planned, scan_idle;
	int64_t commit_seen_us; /* monotonic: a scan last met a table whose version moved */
	int64_t next_scan_us, last_scan_end_us, last_scan_wall_us;
	int64_t scan_logged_us, sampled_us; /* monotonic: the last scan line at info, status sample */ 
	dj_summary fin[D_FINISHED_MAX];
	size_t nfin, fin_next;
	dclient *clients;
	size_t nclients, nwatchers, nreserved;
	int64_t next_watch_poll_us;
	int64_t stop_deadline_us;
	bool is_abandoned;
	int64_t watchdog_usec, last_watchdog_us;
	d_metrics m;
	d_sample *hist;              /* ring of D_HIST_MAX (status.c), NULL until the first scan */
	size_t nhist, hist_next;
	char status_line[256];
	/* Degraded (stratad.c, the damage rule): the warehouse's manifest cannot be
	 * opened or fails its structure check (wh NULL or is_degraded: no jobs
	 * at all), or some tables fail the consistency check (damaged[]: no
	 * jobs on those).  Main thread only. */
	bool is_degraded;
	char degraded_msg[STRATA_ERR_MSG_MAX];
	int64_t degraded_since_us;
	struct d_damage {
		char table[STRATA_NAME_MAX + 1];
		char finding[STRATA_ERR_MSG_MAX];
		size_t findings;
		int64_t since_us;
	} *damaged;
	size_t ndamaged;
	int64_t last_check_us;
};

/* stratad.c: the loop, the table and bucket registry, damage */
dtable *d_table_find(stratad *d, const char *name);
dtable *d_table_get_or_add(stratad *d, const char *name, uint32_t id);
/* Order of buckets in a table's array: (part_id, bucket). */
int d_bucket_cmp(uint32_t pa, uint32_t ba, uint32_t pb, uint32_t bb);
dbucket *d_bucket_get_or_add(dtable *t, uint32_t part_id, uint32_t bucket,
			     const char *part_name);
/* A partition's name as logs and replies spell it ("_" when unpartitioned). */
const char *d_pname(const char *p);
/* The damage record of a table (NULL: it passed the last check). */
const struct d_damage *d_damage_find(const stratad *d, const char *table);
/* Mark table damaged with its first finding (the damage rule). */
void d_damage_set(stratad *d, const char *table, const char *finding, int64_t since_us);
/* 0 if jobs may run on table (NULL: any table), else STRATA_ECORRUPT with
 * the reason stratad runs none (degraded warehouse or damaged table). */
int d_degraded_refuse(const stratad *d, const char *table, strata_err *err);
/* The failure count a bucket's back-off uses (the maximum when corrupt). */
uint32_t d_bucket_backoff_failures(const dbucket *b);
dbucket *d_bucket_find(dtable *t, uint32_t part_id, uint32_t bucket);
/* Re-read the config file; 0 or an error naming the file and line. */
int d_reload(stratad *d, char *note, size_t n, strata_err *err);
void d_begin_stop(stratad *d, const char *why);
void d_pause(stratad *d, dtable *t, bool is_paused);

/* plan.c */
/* Plan one table now (fresh snapshot).  enqueue: queue what is due;
 * report (if not NULL): append {"name", "buckets": [...], "clean": {...}}
 * with every bucket that has files (all) or only those with something due. */
/* daemon/expire.c: the partition TTL of one table — verdicts into
 * report_table["expire"] (may be NULL), expired partitions dropped when
 * enqueue.  Called by d_plan_table() with no snapshot open. */
void d_expire_table(stratad *d, const char *name, bool enqueue, json_t *report_table,
		    int64_t now_us);
int d_plan_table(stratad *d, const char *name, bool enqueue, json_t *report, bool all,
		 strata_err *err);
/* Plan and queue one bucket of table `name`, reading only its entries: the
 * loop calls it when a job on the bucket finished, so the bucket's next job
 * does not wait for the next scan (job chaining, issue 16).  Does nothing
 * for a bucket stratad does not know yet, one that already has a job, or
 * another daemon's share; counts a job it queued (strata_jobs_chained_total).
 * Returns 0 or the manifest's error. */
int d_plan_bucket(stratad *d, const char *name, uint32_t part_id, uint32_t bucket,
		  strata_err *err);
/* What planning reads of a table's entries (plan.c, "gather"): its live
 * entries as the policies' files, grouped by bucket (partition and bucket
 * ascending), and its removed entries (deleted ones included) as clean's
 * summaries.  Sketches are lent from the snapshot it was loaded in. */
typedef struct d_plan_entries {
	strata_pol_file *live;    /* malloc'd */
	uint32_t (*live_at)[2];   /* each live entry's (partition id, bucket) */
	size_t nlive, cap_live;
	strata_pol_gone *gone;    /* malloc'd; only with is_gone_wanted */
	size_t ngone, cap_gone;
	bool is_gone_wanted;
	bool is_unordered;        /* a live entry came before the previous
				     one's bucket: the load failed */
	size_t nentries;          /* entries visited */
} d_plan_entries;
/* Load e from snap: table_id's entries, or with one (part_id, bucket) only
 * that bucket's; with_gone: the removed ones too.  e is valid until the
 * snapshot closes and is freed with d_plan_entries_free() (also after a
 * failure).  Returns 0 or the manifest's error. */
int d_plan_entries_load(strata_mf_snap *snap, uint32_t table_id, const uint32_t *one,
			bool with_gone, d_plan_entries *e, strata_err *err);
void d_plan_entries_free(d_plan_entries *e);

/* jobs.c: job bookkeeping (loop thread) */
/* A new job record for table t (not yet queued). */
dj *d_job_new(stratad *d, dj_kind kind, const dtable *t, const strata_policy *pol);
/* The retention a job of table runs with: [table.NAME]'s override, else -1
 * (the table's property in the job's own snapshot). */
int64_t d_job_retain_hours(const stratad *d, const char *table);
/* Queue j (taken); the bucket or table must have no job. */
void d_job_enqueue(stratad *d, dtable *t, dbucket *b, dj *j);
/* Take j out of the queue (caller holds mu); false if it was not queued. */
bool d_queue_remove_locked(stratad *d, dj *j);
/* Forget a job that will not run (detached from its bucket or table, a
 * summary if is_recorded, a watch event naming why); frees it. */
void d_job_drop(stratad *d, dj *j, bool is_recorded, const char *why);
/* Cancel a queued (dropped at once) or running (stops at its next block)
 * job; returns false if no such job. */
bool d_job_cancel(stratad *d, uint64_t id, char *msg, size_t n);
void d_job_set_state(dj *j, dj_state to);
json_t *d_summary_json(const dj_summary *s);
json_t *d_job_json(const dj *j, int64_t now_us);
/* The notice pipe's callback: workers' "started" and "done" notices. */
void d_notice_cb(evutil_socket_t fd, short what, void *arg);

/* worker.c */
void d_workers_resize(stratad *d, int n);
void d_workers_join(stratad *d);
/* The bucket job (jobs/jobs.h) a sort, merge, partial or major job j runs:
 * its kind, level, drop_history and policy (lent: out->pol points into j). */
void d_job_spec(const dj *j, strata_bucket_job *out);

/* admin.c */
/* Send event to every `watch` connection; takes event. */
void d_emit(stratad *d, json_t *event);
int d_admin_listen(stratad *d, strata_err *err);
void d_admin_close(stratad *d);
void d_admin_chmod(stratad *d);

/* metrics.c */
void d_metrics_render(stratad *d, strata_buf *out);
/* daemon/share.c: the planning work split among the daemons of a warehouse */
const char *d_share_owner(const stratad *d, uint32_t table_id, uint32_t part_id,
			  uint32_t bucket);
bool d_share_mine(const stratad *d, uint32_t table_id, uint32_t part_id, uint32_t bucket);
void d_share_beat(stratad *d, bool is_forced);
void d_share_leave(stratad *d);
/* Free the peer list (stratad_close()). */
void d_share_free(stratad *d);
json_t *d_share_json(const stratad *d);
/* The table-level work (clean, expiry) of a table: its "bucket" for the
 * share. */
#define D_SHARE_TABLE UINT32_MAX
int d_http_start(stratad *d, strata_err *err);
void d_http_stop(stratad *d);
void d_metrics_job_done(stratad *d, const dj *j);

/* status.c: the status page.  Loop thread only. */
/* Record one sample of the warehouse (the end of a scan). */
/* A status sample at the end of a scan: a new one (is_new), or the newest
 * refreshed in place. */
void d_status_sample(stratad *d, bool is_new);
/* When the scan a finished job, or a scan that met new commits, asks for may
 * start (monotonic us): after the
 * last scan ended plus max(D_SCAN_AFTER_JOB_MIN_US, D_SCAN_COST_FACTOR x its
 * duration in ms), never before now_us.  Pure. */
int64_t d_scan_after_job_at(int64_t last_scan_end_us, double last_scan_ms, int64_t now_us);
/* Whether the cron tick at mono_us starts the scan due at next_scan_us: it
 * is due, or due within half a tick (the next tick would be late).  Pure. */
bool d_scan_is_due(int64_t mono_us, int64_t next_scan_us);
/* The page's data: a new JSON object (the caller decrefs), GET /status.json. */
json_t *d_status_json(stratad *d);
/* The page, HTML with inline CSS and SVG only, appended to out (GET /). */
void d_status_html(stratad *d, strata_buf *out);
/* Free the samples; safe twice. */
void d_status_free(stratad *d);

#endif
