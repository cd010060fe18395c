/*
 * tests/util/jobfix.h — a small warehouse fixture for the governance suites
 * (tests/test_jobs.c, tests/test_clean.c): one unpartitioned table "t" in a
 * fresh warehouse under tu_tmpdir(), writes from JSON lines, reads dumped as
 * canonical text (to compare every version before and after a job), the file
 * entries of a bucket, running one job on a bucket, and checks that a bucket
 * directory holds exactly what the manifest names.
 *
 * Every helper asserts (CUnit) on unexpected failures of the setup steps; the
 * things a test checks are returned, never asserted here.
 */
#ifndef STRATA_JOBFIX_H
#define STRATA_JOBFIX_H

#include "clean/clean.h"
#include "compact/compact.h"
#include "merge/merge.h"
#include "sort/sort.h"
#include "table/table.h"

typedef struct jf {
	const char *dir;     /* the warehouse (owned by tu_tmpdir) */
	strata_wh *wh;
	char table[64];
	char owner[128];     /* claim owner of this process */
} jf;

/* The manual clock every fixture runs on starts here (2026-01-01 UTC) unless
 * the test installs its own first. */
#define JF_T0_US 1767225600000000LL
#define JF_HOUR_US (3600LL * 1000000)

/* Create a warehouse and table "t" (columns as in strata_table_create, e.g.
 * "pk BIGINT NOT NULL PRIMARY KEY, v STRING"), with `buckets` buckets and
 * `retain_hours` of retention.  Does not touch the clock. */
void jf_open(jf *f, const char *columns, int buckets, int retain_hours);
/* The same with more table properties ("key=value"). */
void jf_open_props(jf *f, const char *columns, int buckets, int retain_hours,
		   const char *const *props, size_t nprops);
/* Close and reopen the warehouse handle (e.g. around fork()). */
void jf_close_wh(jf *f);
void jf_open_wh(jf *f);
void jf_close(jf *f);

/* Commit newline-separated JSON rows as one transaction, after advancing the
 * manual clock by one second; returns the version (asserts success). */
uint64_t jf_put(jf *f, const char *jsonl);
uint64_t jf_version(jf *f);
void jf_def(jf *f, strata_table_def *out);

/* Canonical text of a read (column names, then one JSON line per row with
 * _seq and _op), or "error <code>" (*rc receives the code, 0 on success;
 * err (may be NULL) the message).  Caller frees. */
char *jf_dump(jf *f, const strata_read_opts *ro, int *rc, strata_err *err);
char *jf_dump_at(jf *f, uint64_t v, int *rc);

/* Canonical text of an incremental read of (v1, v2] (every record with
 * _seq and _op), or "error <code>". */
char *jf_changes(jf *f, uint64_t v1, uint64_t v2, int *rc);

/* Reads at every version 1..n, and the incremental reads (v-1, v], to
 * compare after a job. */
typedef struct jf_hist {
	uint64_t n;
	char **d; /* d[v], v in 1..n */
	char **c; /* c[v]: changes (v-1, v], v in 2..n */
} jf_hist;
void jf_hist_take(jf *f, jf_hist *h);
/* Versions in [from, to] (to 0: h->n) that now read differently, and
 * incremental reads (v-1, v] in that range from the table's earliest
 * incremental version on; prints each difference. */
int jf_hist_diff(jf *f, const jf_hist *h, uint64_t from, uint64_t to);
/* Incremental reads (v-1, v] with v-1 >= from_v1 that now differ. */
int jf_hist_diff_changes(jf *f, const jf_hist *h, uint64_t from_v1);
void jf_hist_free(jf_hist *h);

/* File entries of bucket b (arena memory): every entry, or the live ones
 * ordered by seq_min. */
size_t jf_entries(jf *f, uint32_t b, strata_arena *a, strata_file_entry **out);
size_t jf_live(jf *f, uint32_t b, strata_arena *a, strata_file_entry **out);
/* The live entries a job added (job_id). */
size_t jf_outputs(jf *f, uint32_t b, uint64_t job_id, strata_arena *a, strata_file_entry **out);
void jf_bucket_state(jf *f, uint32_t b, strata_bucket_state *out);
void jf_file_path(jf *f, const strata_file_entry *e, char *out, size_t n);
void jf_bucket_dir(jf *f, uint32_t b, char *out, size_t n);
void jf_trash_dir(jf *f, char *out, size_t n);

typedef enum jf_kind { JF_SORT, JF_MERGE, JF_PARTIAL, JF_MAJOR, JF_MAJOR_DROP } jf_kind;
const char *jf_kind_name(jf_kind k);

typedef struct jf_job_opts {
	int merge_level;          /* -1: the planner picks */
	int merge_through;        /* > merge_level: a paired merge of levels level..through */
	size_t merge_max_files;   /* 0: 8 */
	uint64_t target_bytes;    /* split outputs at this size (0: the
				     planner's choice); applied to any kind */
	uint64_t sort_max_bytes;  /* 0: default */
} jf_job_opts;

/* Plan kind on bucket b now (view loaded at strata_now_us()) and run it.
 * Returns the executor's code, or 1 when the planner found nothing to do. */
int jf_job(jf *f, uint32_t b, jf_kind k, const jf_job_opts *o, const strata_job_ctl *ctl,
	   strata_job_result *res, strata_err *err);
/* Load a view and plan (for tests that execute later); returns ninputs. */
size_t jf_plan(jf *f, uint32_t b, jf_kind k, const jf_job_opts *o, strata_bucket_view *v,
	       strata_job_plan *plan);

/* 0 when the directory of bucket b holds exactly the files of the entries
 * not marked deleted (no outputs of failed jobs, no temp files) and each of
 * them exists with the size its entry says; else -1 with the reason in
 * why. */
int jf_disk_check(jf *f, uint32_t b, char *why, size_t n);
/* Intents of the warehouse; whether bucket b has a claim record. */
size_t jf_intents(jf *f);
bool jf_claimed(jf *f, uint32_t b);
/* Files in the table's .trash directory. */
/* Files in the trash: in <table>/.trash/, or with data on object storage
 * the objects of entries marked deleted (the trash is their state there). */
int jf_trash_count(jf *f);

/* Save the warehouse (closed meanwhile) as a template, and later reset the
 * fixture to it (files copied, no fsync) with the manual clock back where it
 * was — much cheaper than building it again. */
typedef struct jf_tmpl {
	const char *dir;
	int64_t clock_us;
} jf_tmpl;
void jf_tmpl_save(jf *f, jf_tmpl *t);
void jf_tmpl_restore(jf *f, const jf_tmpl *t);

/* Bucket of a BIGINT primary key in a table of nb buckets. */
uint32_t jf_bucket_of(int64_t pk, uint32_t nb);

#endif
