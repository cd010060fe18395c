/*
 * tests/util/oracle.h — the oracle: a seeded random workload against a real
 * warehouse, checked against an in-memory model of every version.
 *
 * The model keeps, per (partition, key), every record ever committed (version,
 * upsert/delete, values by column id) and the schema history, so it can say
 * what any read at any version must return: snapshot scans, AS OF version,
 * AS OF timestamp, point gets and incremental reads.  Governance steps and
 * crash injection plug in through hooks (later suites use them); the oracle
 * itself only writes and alters.
 *
 * Replay: every failure prints the seed and the step; ORACLE_SEED and
 * ORACLE_OPS override the defaults.
 */
#ifndef STRATA_ORACLE_H
#define STRATA_ORACLE_H

#include "table/table.h"

typedef struct oracle oracle;

typedef struct oracle_cfg {
	uint64_t seed;
	int nparts;         /* partitions p0..p{n-1} (0: unpartitioned) */
	int nkeys;          /* keys per partition */
	int buckets;
	int max_txn_rows;   /* 1..max rows per transaction (skewed small) */
	int ddl_permille;   /* chance of an add/drop column per step */
	int check_every;    /* full latest scan every N steps (partition scan always) */
	int retain_hours;   /* table property */
	int inline_max_bytes; /* write.inline.max-bytes; -1: the table default */
	bool is_quiet;
	int rollback_permille; /* chance of a rollback per step (0 by default) */
	int drop_permille;     /* chance of a partition drop per step (0 by default) */
	int pdelete_permille;  /* chance of a delete --where with a random
				  predicate per step (0 by default) */
} oracle_cfg;

void oracle_cfg_default(oracle_cfg *c);

/* Create table `name` in wh and a model for it.  The manual test clock must
 * be installed (tu_clock_manual); the oracle advances it. */
oracle *oracle_new(strata_wh *wh, const char *name, const oracle_cfg *cfg);
void oracle_free(oracle *o);

/* One random workload step (a write transaction, a DDL, and with the
 * permilles above a rollback to a random readable version or tag, a
 * partition drop, or a delete --where of a random predicate, whose keys
 * the model picks with its own evaluator, tests/util/predgen.c) followed
 * by the per-step checks.  Returns 0, or -1 after
 * printing what differed. */
int oracle_step(oracle *o);
/* Checks: latest full scan; scan at version v (AS OF version); every version
 * from the earliest readable one; random gets and incremental reads. */
int oracle_check_scan(oracle *o, uint64_t v, const char *partition);
int oracle_check_all_versions(oracle *o);
int oracle_check_random_reads(oracle *o, int n);
/* ---- transactions made here, committed anywhere ---------------------------- */

/* A random write transaction as JSON lines (for another process to commit,
 * e.g. one that gets killed), with a unique idempotency token.  Apply it to
 * the model once it is known to have committed at version v. */
typedef struct oracle_txn oracle_txn;
oracle_txn *oracle_txn_gen(oracle *o);
const char *oracle_txn_lines(const oracle_txn *t);
const char *oracle_txn_token(const oracle_txn *t);
void oracle_txn_apply(oracle *o, const oracle_txn *t, uint64_t v);
void oracle_txn_free(oracle_txn *t);
/* Commit JSON lines as one transaction (token/expect_version optional). */
int oracle_txn_commit(strata_wh *wh, const char *table, const char *lines, const char *token,
		      uint64_t expect_version, uint64_t *v, bool *is_repeat, strata_err *err);

/* ---- governance --------------------------------------------------------- */

typedef struct oracle_gov_stats {
	uint64_t sorts, merges, partials, majors, drop_history, cleans, purges;
	uint64_t tags_made, tags_dropped, clock_jumps, jobs_empty;
	uint64_t files_deleted, versions_expired;
	uint64_t rollbacks, drops, drops_refused; /* oracle_step's lifecycle steps */
	uint64_t pdeletes, pdeleted_keys, pdelete_dry_runs; /* its predicate deletes */
} oracle_gov_stats;

/* One random governance step (sort, merge, partial or major compaction,
 * clean, purge, tag, or a clock jump of minutes to hours), then the checks:
 * the earliest readable version never exceeds the retention boundary (the
 * promise; purge and --drop-history excepted), tags stay readable, reads at
 * every checked version equal the model, and after a clean the data
 * directory holds exactly the files the manifest still knows. */
int oracle_gov_step(oracle *o);
/* Every file on disk (outside .trash) is a manifest entry not yet deleted,
 * and every such entry's file exists. */
int oracle_check_files(oracle *o);
const oracle_gov_stats *oracle_gov_get_stats(const oracle *o);

/* Versions below this are expected to fail with the retention error (set by
 * governance steps; 1 by default). */
void oracle_set_earliest(oracle *o, uint64_t readable, uint64_t incremental);
/* Tell the model a commit that changes no data happened (a job or clean):
 * the version reads like the one before it. */
void oracle_note_version(oracle *o, uint64_t version);

/* ---- helpers for crash tests (state changed by another process) ---------- */

/* Use wh from now on (the caller reopened the warehouse). */
void oracle_set_wh(oracle *o, strata_wh *wh);
/* History was dropped on purpose up to version (a purge or a major
 * compaction with --drop-history ran elsewhere): the promise allows the
 * earliest readable version to rise to it. */
void oracle_note_history_dropped(oracle *o, uint64_t version);
/* Forget tags the manifest no longer has (a purge deleted them). */
void oracle_sync_tags(oracle *o);
/* The retention promise (see oracle_gov_step); updates the earliest
 * readable and incremental versions the read checks accept. */
int oracle_check_promise(oracle *o);
/* Every tag the model knows reads exactly its version. */
int oracle_check_tags(oracle *o);
uint64_t oracle_version(const oracle *o);
uint64_t oracle_steps(const oracle *o);
uint64_t oracle_seed(const oracle *o);
const char *oracle_table(const oracle *o);
/* The oracle's random generator, for hooks that pick things. */
uint64_t oracle_rand(oracle *o);

#endif
