/*
 * clean/clean.h — auto-clean: deleting the files nothing needs any more,
 * expiring the version log, removing orphans, recovering the intents of
 * crashed jobs; purge (drop all history now); tags.
 *
 * A file removed at version R may be deleted when
 *   - no live lease resolved a file set it belongs to,
 *   - no tag needs it,
 *   - clean.grace_s has passed since R (logical removal, never mtime),
 *   - and, if the job that removed it dropped history still inside the
 *     retention window (major compaction), R is at or below the retention
 *     boundary.
 * Deletion is two-phase: one manifest commit marks the entries deleted (the
 * manifest stops referring to them), then the files move into the table's
 * .trash/ directory; they are unlinked clean.trash_s after their deletion.
 * What the clean took from the manifest (the marks, the version records it
 * expired) is kept as long, so strata_undelete_table() can revert it.
 */
#ifndef STRATA_CLEAN_H
#define STRATA_CLEAN_H

#include "merge/merge.h"
#include "table/table.h"

typedef struct strata_clean_opts {
	int64_t grace_s;
	int64_t trash_s;
	int64_t orphan_age_s;   /* < 0: no orphan scan */
	/* An orphan scan stops, trashing nothing, when its orphans would be
	 * more than this fraction (0..1, 1: no limit) of the table's bytes on
	 * disk (orphans + the files its entries name): that many unknown files
	 * means a damaged manifest far more often than real orphans. */
	double orphan_max_fraction;
	bool dry_run;
	bool is_purge;          /* ignore grace, retention and tags; unlink at once */
	void (*throttle)(void *arg, uint64_t bytes);
	void *throttle_arg;
	/* per file decision, for `strata clean --dry-run` and logs */
	void (*on_file)(void *arg, const strata_file_entry *f, const char *decision);
	void *on_file_arg;
} strata_clean_opts;

/* Fill o with the defaults: clean.grace_s, clean.trash_s, clean.orphan_age_s
 * and clean.orphan_max_fraction of strata_policy_default() (policies/, the
 * one table of defaults), nothing else set. */
void strata_clean_opts_default(strata_clean_opts *o);

typedef struct strata_clean_result {
	uint64_t version;             /* the clean commit, 0 if nothing was marked */
	size_t files_deleted;         /* marked deleted and moved to trash
					 (inline row files: marked deleted) */
	uint64_t bytes_deleted;
	size_t files_unlinked;        /* removed from trash */
	uint64_t bytes_unlinked;
	size_t kept_grace, kept_lease, kept_tag, kept_retention;
	size_t orphans;
	uint64_t orphan_bytes;
	size_t intents_recovered;
	size_t versions_expired;
	size_t tokens_forgotten;      /* older than write.token.retain.hours */
	uint64_t trash_bytes;         /* still in trash afterwards */
	size_t trash_files;
	size_t uploads_aborted;       /* object storage: unfinished multipart
					 uploads older than orphan_age_s */
	size_t cleans_dropped;        /* kept cleans (undelete) past their
					 trash window, dropped */
	double check_ms;              /* spent in the consistency check
					 (invariant 6 of clean.c) */
	size_t marked_in_place;       /* marked deleted but left in their
					 bucket for a reader's lease (taken
					 after the plan): the next clean
					 moves them */
} strata_clean_result;

/* Clean one table (see the rules above).  Nothing is deleted, and the call
 * fails with STRATA_ECORRUPT naming the first finding, when the table fails
 * the manifest's consistency check (strata_mf_check()); an orphan scan whose
 * orphans exceed o->orphan_max_fraction of the table's bytes trashes
 * nothing and fails with STRATA_ELIMIT (the rest of the clean is done). */
int strata_clean_table(strata_wh *wh, const char *table, const strata_clean_opts *o,
		       strata_clean_result *r, strata_err *err);

/* Delete the outputs of jobs that can no longer commit: their claim is gone
 * or expired, or their owner is a dead process on this host.  table NULL:
 * every table. */
int strata_recover_intents(strata_wh *wh, const char *table, size_t *recovered,
			   strata_err *err);

/* Drop all history of a table now: major compaction of every bucket with
 * history dropped, every tag deleted (their names are appended to
 * dropped_tags, comma-separated), every replaced file unlinked at once
 * (except those a live reader lease holds), the version log expired up to
 * the current version.  Refused (STRATA_ECORRUPT, nothing done) when the
 * table fails the manifest's consistency check. */
int strata_purge_table(strata_wh *wh, const char *table, const strata_job_ctl *ctl,
		       strata_clean_result *r, strata_buf *dropped_tags, strata_err *err);

/* ---- undelete ---------------------------------------------------------------------- */

/* What `strata undelete` reverts: one kept clean (by its clean version:
 * the version of its marking commit, or the table's version when it only
 * expired version records — `strata undelete TABLE --dry-run` lists
 * them), or every clean still inside its trash window. */
typedef struct strata_undelete_opts {
	uint64_t clean_version; /* with !is_all */
	bool is_all;
	bool dry_run;           /* plan and check, move and commit nothing */
	int64_t trash_s;        /* clean.trash_s now, if raised since the clean
				   (0: each clean's window as it was kept) */
} strata_undelete_opts;

typedef struct strata_undelete_result {
	size_t ncleans;
	uint64_t *clean_versions;  /* ascending (strata_undelete_result_free) */
	size_t files_restored;     /* entries back to removed, not deleted */
	uint64_t bytes_restored;
	size_t files_moved;        /* moved back from .trash/ (local store) */
	size_t versions_restored;  /* version records back in the log */
	uint64_t earliest_before;  /* the table's earliest readable version */
	uint64_t earliest_after;   /* (dry run: the same as before) */
} strata_undelete_result;

/* Revert kept cleans of a table (clean/clean.c, "Undelete"): the entries
 * they marked deleted become removed-not-deleted again (their files moved
 * back from .trash/ first on a local store; on object storage nothing
 * moves), the version records they expired go back into the log, so the
 * versions they took read again exactly as before.  One manifest commit,
 * under the table's clean claim.  Refused, nothing changed:
 * STRATA_ECORRUPT when the table fails strata_mf_check(); STRATA_EBUSY
 * while a clean runs; STRATA_ENOTFOUND for a clean not in the trash (or,
 * with is_all, none is); STRATA_ERETENTION for a clean past its trash
 * window, or when a file it deleted has already left the trash (the
 * message names the table, the clean version and the first missing file);
 * STRATA_ECONFLICT when a later kept clean must be reverted first.  A
 * crash half-way leaves files moved back but still marked deleted: the
 * next undelete finishes (or the next clean trashes them again).  r: free
 * with strata_undelete_result_free(). */
int strata_undelete_table(strata_wh *wh, const char *table, const strata_undelete_opts *o,
			  strata_undelete_result *r, strata_err *err);
void strata_undelete_result_free(strata_undelete_result *r);

/* strata_owner_string() and strata_owner_is_dead() are in core/core.h (the
 * manifest needs them to take over claims of dead processes). */

#endif
