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
	size_t files_deleted;         /* marked deleted and moved to trash */
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

/* strata_owner_string() and strata_owner_is_dead() are in core/core.h (the
 * manifest needs them to take over claims of dead processes). */

#endif
