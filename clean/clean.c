/*
 * clean/clean.c — auto-clean, orphan collection, intent recovery and purge.
 *
 * Order of a clean (each step idempotent, so a crash half-way is finished by
 * the next run):
 *   0. trash files past clean.trash_s are unlinked first, before the clean
 *      takes its claim or commits anything: they are out of the manifest
 *      already, so a full disk, where every commit fails, still gets the
 *      space back (step 4 below does it again for what this run trashes);
 *   1. plan in one snapshot: which removed entries may go (rules in clean.h);
 *  1b. the kept cleans (below) whose trash window has passed are dropped;
 *   2. one manifest commit marks them deleted — from here no read resolves to
 *      a file set containing them (resolve fails with the retention error);
 *   3. every entry marked deleted whose file is still in its bucket directory
 *      (one listing of that directory per run says which: "Looking for a
 *      marked file" below) is renamed into
 *      <table>/.trash/<deleted_us>-<id>-<name>, unless a
 *      live lease — read again after step 2, so a reader that planned just
 *      before the marking is seen — may need it; each directory a file
 *      left is fsynced once after all the moves, then the trash (a lost
 *      move only puts a marked file back where the next run moves it);
 *   4. trash files older than clean.trash_s (by the time in their name, i.e.
 *      since their logical deletion) are unlinked, through the I/O throttle;
 *      the files inside the window are not looked at (an orphan's only, for
 *      its size: an entry's size is its entry's);
 *   5. entries whose file is gone from both places are forgotten — found by
 *      a second pass of step 3 after step 4: past its window, not in its
 *      bucket's listing, and a stat of its trash path finds nothing (unless a
 *      floor raise's file set still includes them: then they stay as
 *      tombstones that make reads of those versions fail cleanly, marked
 *      is_gone in the same commit, so later runs do not look for their
 *      files again but only offer them to this step once more);
 *   6. the version log is expired below the retention boundary (idempotency
 *      tokens stay: they are forgotten write.token.retain.hours after their
 *      commit, at most once an hour); the records go into the manifest's
 *      trash with the marks of step 2 (the kept clean, keyed by the clean
 *      version of step 2, or the table's version when nothing was marked);
 *   7. orphans (files no entry or intent knows, older than orphan_age_s by
 *      mtime, the only age an unknown file has) are moved into the trash.
 *
 * Looking for a marked file (steps 3 and 5, local data).  Under sustained
 * ingest a table holds clean.trash_s worth of tombstones (320 replaced files
 * a second, an hour: a million), and a stat of the bucket path and then of
 * the trash path of each, every run, made a clean's cost grow with the
 * trash.  Instead, where a marked entry's file is comes from:
 *   - one listing of its bucket directory per run (through the I/O vtable,
 *     made the first time the run looks for a marked entry of that bucket,
 *     sorted, searched by name; a file this run moves is struck from it, so
 *     the pass after step 4 uses the same listing): listed, it is moved;
 *   - not listed and inside its window (now - deleted_us < clean.trash_s):
 *     it is in .trash/, and could not be forgotten anyway; no stat;
 *   - not listed and past its window: only the pass after step 4 (which
 *     unlinks such files) stats its trash path, and forgets the entry when
 *     the file is not there — about one stat per tombstone in its life.
 * Why a listing taken once is right for the whole run: after step 2 the
 * only thing that puts a marked entry's file into its bucket is undelete
 * (moving it back from .trash/), and undelete holds the table's clean claim,
 * as this run does, so it runs before the listing or after the run; writers
 * and jobs only add new names (a job's name carries its unique id, a writer's
 * 64 random bits: the stat this replaces trusted names the same way), recovery
 * removes only the outputs of jobs that never committed (no entry names
 * them), and the orphan scan takes only names no entry knows.  The only
 * thing that takes a marked file out of its bucket is a clean's step 3:
 * this run's (struck from the listing) or, should two cleans overlap after
 * an expired claim, another's (the rename then finds nothing: done, as
 * before).  A name a readdir() returns was there when it was listed, and a
 * file nobody renames during the listing is returned (POSIX leaves only
 * names created or removed meanwhile unspecified).  So "not listed" means
 * "not in the bucket" for the whole run, and an entry is still forgotten
 * only once a stat has found its trash path empty too (invariant 2).  A
 * file unlinked early from the trash (a clean with a shorter
 * clean.trash_s, a hand) leaves its entry until this clean's window has
 * passed: a tombstone kept a little longer, never a file lost.  The trash
 * counts (trash_files, trash_bytes) come from these entries, plus a stat
 * of each orphan in the trash (step 7's, which no entry knows).
 *
 * Data on object storage (a data path s3://..., core's data-store seam):
 * objects cannot be renamed, so the trash is a state of the manifest entry
 * instead of a directory.  An entry marked deleted (step 2) whose object is
 * still present IS in the trash: no read resolves to it, its object stays,
 * and its deleted_us (the time step 2 recorded) starts the trash window.
 * Step 3 moves nothing; step 4 deletes the object of every marked entry
 * whose deleted_us is clean.trash_s old and that no live lease covers
 * (leases read after the marking, as in step 3), and step 5 forgets the
 * entry once its object is gone.  No HEAD is sent for a marked entry
 * (invariant 9): inside its window the object is there (no clean deletes
 * it before), past it the DELETE is the question and the answer at once
 * (deleting a missing object succeeds), so an entry costs one DELETE in
 * its life, not a HEAD per entry per run.  Step 0 has nothing to do (no
 * disk fills up).  Orphans (step 7) are found by listing the table's
 * prefix, a page at a time, with the same rules (no entry or intent knows
 * the name, older than orphan_age_s by the object's time, the
 * orphan_max_fraction stop);
 * an orphan has no entry to hold its trash state, so it is deleted only
 * once it is orphan_age_s + clean.trash_s old: the trash window starts when
 * it became an orphan.  Intent recovery lists the intent's prefix.  The
 * orphan scan also aborts the unfinished multipart uploads under the
 * table's prefix (a writer killed half-way) by the same rules: older than
 * orphan_age_s, under no intent.
 *
 * Inline row files (an entry that holds its bytes in the manifest, no file
 * anywhere; manifest.h): step 2 marks them like any entry, steps 3 and 4
 * have nothing to move or delete, and step 5 forgets them — their bytes
 * with them — once clean.trash_s has passed since the marking; until then
 * undelete brings them back as they were.  The orphan scan never sees
 * them, and they count in files_deleted when marked, as an object does.
 *
 * A lease taken after the plan (step 1) but before the marking (step 2)
 * keeps the marked files it covers in their bucket (step 3 reads leases
 * again); the result counts them (marked_in_place) and stratad's policy
 * runs the next clean after the usual spacing, not clean.trash_s later.
 *
 * Undelete (strata_undelete_table, `strata undelete`) reverts kept cleans
 * inside their window (clean.trash_s after the clean): under the table's
 * clean claim (no clean runs meanwhile), it checks the manifest, checks
 * that every entry the cleans marked still has its file — in its bucket,
 * in .trash/, or its object — and that the version logs join up (newest
 * clean first), then moves the files back from .trash/ (fsyncing both
 * directories), then commits once (manifest/commit.c: strata_mf_undelete).
 * A kill -9 anywhere leaves the old state, the new one, or files back in
 * their buckets whose entries are still marked deleted: still known names,
 * so no orphan scan takes them (orphans are names no entry knows, whatever
 * their mtime); the next undelete finds them in place and commits, or the
 * next clean moves them into the trash again.  A clean with the same
 * settings takes the same things again: fix what was wrong first
 * (retention, grace, tags), or pause the daemon's cleans.
 *
 * Invariants:
 *   1. the manifest stops referring to a file (step 2) before the file goes;
 *   2. a delete error is reported, never swallowed (the run fails and the
 *      next one retries the idempotent steps);
 *   3. a file a live lease or a tag may need is never deleted;
 *   4. purge drops history only through the same steps, with grace,
 *      retention and tags waived — never leases;
 *   5. recovery deletes a job's outputs only after a manifest transaction
 *      judged the job crashed and took its claim away (so it cannot commit
 *      them), and drops the intent only after the outputs are gone;
 *   6. a damaged manifest is never acted on: clean and purge run the
 *      consistency check (strata_mf_check()) before planning and delete
 *      nothing when the table fails it; the orphan scan counts first and
 *      trashes nothing when its orphans exceed orphan_max_fraction of the
 *      table's bytes (a manifest that lost entries makes live files look
 *      like orphans);
 *   7. what a clean takes from the manifest (marks, version records) is
 *      kept as long as its files are (clean.trash_s), and dropped only by a
 *      later clean once that window has passed (or by purge, which keeps
 *      nothing);
 *   8. undelete puts every file back before the commit that names it
 *      again, and refuses — moving nothing, committing nothing — when one
 *      has left the trash, the window has passed, or a later clean must be
 *      reverted first; invariant 6 holds for it too;
 *   9. a clean looks for a marked entry's file only until it knows it is
 *      gone (is_gone, recorded by step 5 for the tombstones it keeps), so
 *      its requests do not grow with the table's history; on local data it
 *      lists each bucket directory with a marked entry once per run and
 *      stats only the trash paths of entries past their window, not in
 *      their bucket ("Looking for a marked file"), so a run's cost does not
 *      grow with the trash; on object storage it sends no HEAD at all
 *      (above).  Undelete still asks the store whether each file is there
 *      (path_state): it is rare.
 */
#include "clean/clean.h"
#include "jobs/jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void strata_clean_opts_default(strata_clean_opts *o)
{
	strata_policy p;
	strata_policy_default(&p); /* the one table of defaults */
	memset(o, 0, sizeof(*o));
	o->grace_s = p.clean_grace_s;
	o->trash_s = p.clean_trash_s;
	o->orphan_age_s = p.clean_orphan_age_s;
	o->orphan_max_fraction = p.clean_orphan_max_fraction;
}

/* Invariant 6: the consistency check of one table, as a refusal. */
static int clean_check(strata_mf *mf, const char *table, const char *what, strata_err *err)
{
	strata_err e;
	size_t n = 0;
	int rc = strata_mf_check(mf, table, NULL, NULL, &n, &e);
	if (rc == STRATA_ECORRUPT) {
		return strata_err_set(err, rc, "%s of table \"%s\" refused, nothing was deleted: %s",
				      what, table, e.msg);
	}
	if (rc)
		return strata_err_set(err, rc, "%s", e.msg);
	return 0;
}

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct clean_ctx {
	strata_wh *wh;
	strata_mf *mf;
	const strata_clean_opts *o;
	strata_clean_result *r;
	strata_table_def t;
	strata_partition *parts;
	size_t nparts;
	strata_arena *a;
	int64_t now_us;
	bool is_counting; /* orphan scan, first pass: count, move nothing */
	int pass; /* step 3: 1 before step 4, 2 after it (see trash_marked) */
	const uint64_t *marked; /* ids this run marked deleted, sorted */
	size_t nmarked;
	struct bucket_list *lists; /* step 3's bucket listings, by (part, bucket) */
	size_t nlists, cap_lists;
} clean_ctx;

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Two names, for qsort and bsearch over arrays of char *. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *part_name_of(clean_ctx *c, uint32_t part_id)
{
	for (size_t i = 0; i < c->nparts; i++)
		if (c->parts[i].id == part_id)
			return c->parts[i].name;
	return NULL;
}

static void trash_name(const strata_file_entry *f, char *out, size_t n)
{
	snprintf(out, n, "%lld-%llu-%s", (long long)f->deleted_us, (unsigned long long)f->id,
		 f->name);
}

/* 1 if p exists, 0 if it does not, else the error: a failed stat is never
 * taken for absence (invariant 2), or an entry would be forgotten while its
 * file is still there. */
static int path_state(const char *p, strata_err *err)
{
	if (strata_data_is_remote(p)) {
		strata_data_stat ds;
		int drc = strata_data_stat_path(p, &ds, err);
		return drc == 0 ? 1 : drc == -ENOENT ? 0 : drc;
	}
	struct stat st;
	int rc = strata_io()->stat(p, &st);
	if (rc == 0)
		return 1;
	if (rc == -ENOENT)
		return 0;
	return strata_err_set(err, rc, "could not stat \"%s\": %s", p, strata_strerror(rc));
}

static void note(clean_ctx *c, const strata_file_entry *f, const char *decision)
{
	if (c->o->on_file)
		c->o->on_file(c->o->on_file_arg, f, decision);
}

/* ---- step 1: plan ------------------------------------------------------------------------ */

static int plan_bucket(clean_ctx *c, strata_mf_snap *snap, const strata_partition *p, uint32_t b,
		       uint64_t retain_boundary, const strata_tag *tags, size_t ntags,
		       const strata_lease *leases, size_t nleases, uint64_t **ids, size_t *nids,
		       size_t *cap, strata_err *err)
{
	strata_bucket_state bs;
	strata_file_entry *files;
	size_t n;
	int rc = strata_mf_bucket_state_get(snap, c->t.id, p->id, b, &bs, err);
	if (rc == 0)
		rc = strata_mf_bucket_files(snap, c->t.id, p->id, b, c->a, &files, &n, err);
	if (rc)
		return rc;
	/* the file sets tags resolve to in this bucket (invariant 3) */
	uint64_t *tag_l = strata_arena_alloc(c->a, (ntags + 1) * sizeof(uint64_t));
	bool *tag_ok = strata_arena_alloc(c->a, (ntags + 1) * sizeof(bool));
	for (size_t i = 0; i < ntags; i++)
		tag_ok[i] = !c->o->is_purge &&
			    strata_mf_resolve(&bs, files, n, c->t.version, tags[i].version, true,
					      &tag_l[i]) == 0;
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = &files[i];
		if (f->removed_version == 0 || f->is_deleted)
			continue;
		bool keep = false;
		for (size_t k = 0; k < nleases && !keep; k++)
			if (strata_lease_covers(leases[k].version, f)) {
				keep = true;
				c->r->kept_lease++;
				note(c, f, "kept: a reader lease needs it");
			}
		for (size_t k = 0; k < ntags && !keep; k++)
			if (tag_ok[k] && strata_file_live_at(f, tag_l[k])) {
				keep = true;
				c->r->kept_tag++;
				note(c, f, "kept: a tag needs it");
			}
		if (!keep && !c->o->is_purge &&
		    c->now_us - f->removed_us < c->o->grace_s * 1000000) {
			keep = true;
			c->r->kept_grace++;
			note(c, f, "kept: inside clean.grace_s");
		}
		if (!keep && !c->o->is_purge && !f->removed_kept_history &&
		    f->removed_version > retain_boundary) {
			keep = true;
			c->r->kept_retention++;
			note(c, f, "kept: serves versions inside the retention window");
		}
		if (keep)
			continue;
		note(c, f, c->o->dry_run ? "would delete" : "delete");
		if (*nids == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*ids = strata_realloc(*ids, *cap * sizeof(uint64_t));
		}
		(*ids)[(*nids)++] = f->id;
		c->r->bytes_deleted += f->bytes;
	}
	return 0;
}

/* ---- steps 3 and 5: move marked files into the trash, forget gone ones ------------------- */

static int fsync_dir_err(const char *dir, strata_err *err)
{
	int rc = strata_io_fsync_dir(dir);
	if (rc < 0)
		return strata_err_set(err, rc, "could not fsync directory \"%s\": %s", dir,
				      strata_strerror(rc));
	return 0;
}

static void forget_push(uint64_t id, uint64_t **forget, size_t *nforget, size_t *cap)
{
	if (*nforget == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*forget = strata_realloc(*forget, *cap * sizeof(uint64_t));
	}
	(*forget)[(*nforget)++] = id;
}

/* Steps 3-5 for an object (see the essay): the marked entry f, not leased,
 * is in the trash while its object exists; the object goes once
 * clean.trash_s passed since deleted_us, and the entry is forgotten once
 * the object is gone (invariant 1: the marking committed before).  No
 * HEAD (invariant 9): inside the window the object is taken to be there
 * (a clean never deletes it then), and past it the DELETE is the question
 * and the answer at once (a missing object deletes fine); the entry is
 * then forgotten, or kept as a tombstone marked is_gone. */
/* Whether f, marked deleted, is past its trash window (purge: at once). */
static bool is_past_trash(const clean_ctx *c, const strata_file_entry *f)
{
	return c->o->is_purge || strata_now_us() - f->deleted_us >= c->o->trash_s * 1000000;
}

/* Whether this run's step 2 marked f (pass 1 counts it deleted). */
static bool is_marked_now(const clean_ctx *c, const strata_file_entry *f)
{
	return c->pass == 1 && c->nmarked &&
	       bsearch(&f->id, c->marked, c->nmarked, sizeof(uint64_t), id_cmp);
}

static int trash_object(clean_ctx *c, const strata_file_entry *f, const char *path,
			uint64_t **forget, size_t *nforget, size_t *cap, strata_err *err)
{
	/* entering the trash: marked by this very run */
	if (is_marked_now(c, f))
		c->r->files_deleted++;
	bool is_old = is_past_trash(c, f);
	if (!is_old) {
		if (c->pass == 1) { /* step 4 of an object is in this pass */
			c->r->trash_files++;
			c->r->trash_bytes += f->bytes;
		}
		return 0;
	}
	if (c->o->throttle)
		c->o->throttle(c->o->throttle_arg, f->bytes);
	int rc = strata_data_remove(path, err);
	if (rc < 0) /* invariant 2 */
		return strata_err_wrap(err, rc, "could not delete the trashed object of entry %llu",
				       (unsigned long long)f->id);
	c->r->files_unlinked++;
	c->r->bytes_unlinked += f->bytes;
	forget_push(f->id, forget, nforget, cap);
	return 0;
}

/* A bucket directory a file left for the trash (step 3). */
typedef struct moved_dir {
	uint32_t part_id, bucket;
} moved_dir;

static int moved_dir_cmp(const void *a, const void *b)
{
	const moved_dir *x = a, *y = b;
	if (x->part_id != y->part_id)
		return x->part_id < y->part_id ? -1 : 1;
	return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

/* Sort dirs and drop repeats; returns how many are left. */
static size_t moved_dirs_unique(moved_dir *dirs, size_t n)
{
	if (n == 0)
		return 0;
	qsort(dirs, n, sizeof(*dirs), moved_dir_cmp);
	size_t k = 1;
	for (size_t i = 1; i < n; i++)
		if (moved_dir_cmp(&dirs[i], &dirs[k - 1]) != 0)
			dirs[k++] = dirs[i];
	return k;
}

/* One bucket directory's names, listed once per run, the first time step 3
 * looks for a marked entry of that bucket ("Looking for a marked file" in
 * the essay): a name lookup instead of a stat() per tombstone per run. */
typedef struct bucket_list {
	uint32_t part_id, bucket;
	char **names;  /* sorted; the array is the run's (bucket_lists_free), the
			  names the arena's */
	bool *is_moved; /* moved into the trash by this run since the listing */
	size_t n;
} bucket_list;

static int bucket_key_cmp(uint32_t part_id, uint32_t bucket, const bucket_list *l)
{
	if (part_id != l->part_id)
		return part_id < l->part_id ? -1 : 1;
	return bucket < l->bucket ? -1 : bucket > l->bucket;
}

static void bucket_lists_free(clean_ctx *c)
{
	for (size_t i = 0; i < c->nlists; i++)
		free(c->lists[i].names);
	free(c->lists);
	c->lists = NULL;
	c->nlists = c->cap_lists = 0;
}

/* The listing of bucket (part_id, bucket), made now if this run has none
 * yet: through the I/O vtable (fault injection covers it); a missing
 * directory lists nothing, any other error fails the run naming the
 * directory (invariant 2: a failed listing is never taken for an empty
 * one).  *out is lent until bucket_lists_free(). */
static int bucket_list_get(clean_ctx *c, uint32_t part_id, uint32_t bucket, bucket_list **out,
			   strata_err *err)
{
	size_t lo = 0, hi = c->nlists;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = bucket_key_cmp(part_id, bucket, &c->lists[mid]);
		if (k == 0) {
			*out = &c->lists[mid];
			return 0;
		}
		if (k < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	const char *pname = part_name_of(c, part_id);
	char dir[4096];
	strata_bucket_dir(c->mf, c->t.name, pname ? pname : "", bucket, dir, sizeof(dir));
	bucket_list l = {.part_id = part_id, .bucket = bucket};
	size_t cap = 0;
	int derr = 0;
	DIR *d = strata_io()->opendir(dir, &derr);
	if (!d && derr != -ENOENT)
		return strata_err_set(err, derr, "could not list \"%s\": %s", dir,
				      strata_strerror(derr));
	struct dirent *e;
	while (d && (e = strata_io()->readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (l.n == cap) {
			cap = cap ? 2 * cap : 64;
			l.names = strata_realloc(l.names, cap * sizeof(char *));
		}
		l.names[l.n++] = strata_arena_strdup(c->a, e->d_name);
	}
	if (d)
		strata_io()->closedir(d);
	if (l.n > 1)
		qsort(l.names, l.n, sizeof(char *), name_cmp);
	l.is_moved = strata_arena_alloc(c->a, l.n + 1);
	memset(l.is_moved, 0, l.n + 1);
	if (c->nlists == c->cap_lists) {
		c->cap_lists = c->cap_lists ? 2 * c->cap_lists : 16;
		c->lists = strata_realloc(c->lists, c->cap_lists * sizeof(*c->lists));
	}
	memmove(&c->lists[lo + 1], &c->lists[lo], (c->nlists - lo) * sizeof(*c->lists));
	c->lists[lo] = l;
	c->nlists++;
	*out = &c->lists[lo];
	return 0;
}

/* Whether name is in the listing l and still there (this run has not moved
 * it); *at receives its index. */
static bool bucket_list_has(const bucket_list *l, const char *name, size_t *at)
{
	if (l->n == 0)
		return false;
	char *const *p = bsearch(&name, l->names, l->n, sizeof(char *), name_cmp);
	if (!p)
		return false;
	*at = (size_t)(p - l->names);
	return !l->is_moved[*at];
}

static int trash_marked(clean_ctx *c, uint64_t **forget, size_t *nforget, strata_err *err)
{
	/* leases read after the marking commit: a reader that planned before it
	 * holds a lease by now (table/read.c invariant 4); its files wait */
	strata_lease *leases = NULL;
	size_t nleases = 0;
	int rc = strata_mf_leases_list(c->mf, c->t.id, c->a, &leases, &nleases, err);
	if (rc)
		return rc;
	strata_mf_snap *snap;
	rc = strata_mf_snap_open(c->mf, &snap, err);
	if (rc)
		return rc;
	strata_file_entry *files;
	size_t n;
	rc = strata_mf_table_files(snap, c->t.id, c->a, &files, &n, err);
	strata_mf_snap_close(snap);
	if (rc)
		return rc;
	char trash[4096];
	strata_trash_dir(c->mf, c->t.name, trash, sizeof(trash));
	bool has_trash = false;
	size_t cap = 0;
	/* the bucket directories files left, each fsynced once after the
	 * moves (not once per file: a clean of a thousand files made a
	 * thousand journal commits, and writers' fsyncs queued behind them) */
	moved_dir *moved = n ? strata_arena_alloc(c->a, n * sizeof(*moved)) : NULL;
	size_t nmoved = 0;
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = &files[i];
		if (!f->is_deleted)
			continue;
		bool is_leased = false;
		for (size_t k = 0; k < nleases && !is_leased; k++)
			is_leased = strata_lease_covers(leases[k].version, f);
		if (is_leased) {
			/* moved by a later run, once the reader is done: the
			 * result says so, and stratad runs one soon (a local
			 * file only: an object or inline bytes need no move) */
			if (c->pass == 1 && !f->is_gone && !strata_file_is_inline(f) &&
			    !strata_data_is_remote(trash))
				c->r->marked_in_place++;
			continue;
		}
		if (f->is_gone) {
			/* a tombstone whose file is known gone (invariant 9): no
			 * look; offered to step 5 again, the floor log may have
			 * let go of it */
			forget_push(f->id, forget, nforget, &cap);
			continue;
		}
		if (strata_file_is_inline(f)) {
			/* no file to move or delete: the marked entry, bytes and
			 * all, is its own trash, and step 5 forgets it once its
			 * window has passed (the manifest's trash keeps it for
			 * undelete until then); deleted when this run marked it,
			 * as an object is */
			if (is_marked_now(c, f))
				c->r->files_deleted++;
			bool is_old = is_past_trash(c, f);
			if (is_old && c->pass == 2)
				forget_push(f->id, forget, nforget, &cap);
			continue;
		}
		const char *pname = part_name_of(c, f->part_id);
		char path[4096], tname[512], tpath[4700];
		strata_file_path(c->mf, c->t.name, pname ? pname : "", f, path, sizeof(path));
		if (strata_data_is_remote(path)) {
			rc = trash_object(c, f, path, forget, nforget, &cap, err);
			if (rc)
				return rc;
			continue;
		}
		/* is it still in its bucket? one listing per bucket and run, not
		 * a stat per tombstone (invariant 9) */
		bucket_list *l = NULL;
		rc = bucket_list_get(c, f->part_id, f->bucket, &l, err);
		if (rc)
			return rc;
		size_t at = 0;
		if (!bucket_list_has(l, f->name, &at)) {
			/* in .trash/ or gone from both: inside its window it is in
			 * the trash (no step 4 has unlinked it) and cannot be
			 * forgotten yet, so it is not looked for; past it, the
			 * pass after step 4 asks (step 4 unlinks it first) */
			bool is_old = is_past_trash(c, f);
			if (!is_old && c->pass == 2) {
				c->r->trash_files++;
				c->r->trash_bytes += f->bytes;
			}
			if (!is_old || c->pass == 1)
				continue;
			trash_name(f, tname, sizeof(tname));
			snprintf(tpath, sizeof(tpath), "%s/%s", trash, tname);
			int in_trash = path_state(tpath, err);
			if (in_trash < 0)
				return in_trash;
			if (!in_trash) /* unlinked from the trash: step 5 */
				forget_push(f->id, forget, nforget, &cap);
			continue;
		}
		if (!has_trash) {
			rc = strata_io_mkdirs(trash, 0755);
			if (rc < 0)
				return strata_err_set(err, rc, "could not create \"%s\": %s", trash,
						      strata_strerror(rc));
			has_trash = true;
		}
		trash_name(f, tname, sizeof(tname));
		snprintf(tpath, sizeof(tpath), "%s/%s", trash, tname);
		rc = strata_io()->rename(path, tpath);
		if (rc == -ENOENT) { /* another clean moved it first: done */
			l->is_moved[at] = true;
			continue;
		}
		if (rc < 0) /* invariant 2 */
			return strata_err_set(err, rc, "could not move \"%s\" to the trash: %s", path,
					      strata_strerror(rc));
		l->is_moved[at] = true;
		c->r->files_deleted++;
		/* entries come by bucket: a repeat is most often the last */
		if (nmoved == 0 || moved[nmoved - 1].part_id != f->part_id ||
		    moved[nmoved - 1].bucket != f->bucket)
			moved[nmoved++] = (moved_dir){.part_id = f->part_id, .bucket = f->bucket};
	}
	rc = 0;
	nmoved = moved_dirs_unique(moved, nmoved);
	for (size_t k = 0; k < nmoved && rc == 0; k++) {
		const char *pname = part_name_of(c, moved[k].part_id);
		char dir[4096];
		strata_bucket_dir(c->mf, c->t.name, pname ? pname : "", moved[k].bucket, dir,
				  sizeof(dir));
		rc = fsync_dir_err(dir, err);
	}
	if (rc == 0 && has_trash)
		rc = fsync_dir_err(trash, err);
	return rc;
}

/* ---- step 4: empty the trash ----------------------------------------------------------------- */

static int trash_empty(clean_ctx *c, bool is_counting, strata_err *err)
{
	char trash[4096];
	strata_trash_dir(c->mf, c->t.name, trash, sizeof(trash));
	if (strata_data_is_remote(trash))
		return 0; /* object storage: the trash is the entries' state (trash_object) */
	int derr = 0;
	DIR *d = strata_io()->opendir(trash, &derr);
	if (!d) {
		if (derr == -ENOENT)
			return 0;
		return strata_err_set(err, derr, "could not list \"%s\": %s", trash,
				      strata_strerror(derr));
	}
	int rc = 0;
	bool unlinked = false;
	struct dirent *e;
	while ((e = strata_io()->readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", trash, e->d_name);
		char *rest;
		long long deleted_us = strtoll(e->d_name, &rest, 10);
		/* files marked by this very run carry a later time than c->now_us */
		bool is_old = c->o->is_purge ||
			      strata_now_us() - deleted_us >= c->o->trash_s * 1000000;
		struct stat st;
		if (!is_old) {
			/* inside its window: no stat (invariant 9).  An entry's
			 * file ("<deleted_us>-<id>-<name>") is counted from its
			 * entry by step 3's second pass; an orphan's
			 * ("<us>-orphan-<name>") has no entry to say its size */
			bool is_entry = rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9';
			if (is_counting && !is_entry && strata_io()->stat(path, &st) == 0) {
				c->r->trash_files++;
				c->r->trash_bytes += (uint64_t)st.st_size;
			}
			continue;
		}
		if (strata_io()->stat(path, &st) != 0)
			continue;
		if (c->o->throttle)
			c->o->throttle(c->o->throttle_arg, (uint64_t)st.st_size);
		rc = strata_io()->unlink(path);
		if (rc == -ENOENT) {
			rc = 0; /* another clean unlinked it first: done */
			continue;
		}
		if (rc < 0) { /* invariant 2 */
			rc = strata_err_set(err, rc, "could not unlink \"%s\": %s", path,
					    strata_strerror(rc));
			break;
		}
		unlinked = true;
		c->r->files_unlinked++;
		c->r->bytes_unlinked += (uint64_t)st.st_size;
	}
	strata_io()->closedir(d);
	if (rc == 0 && unlinked)
		rc = fsync_dir_err(trash, err);
	return rc;
}

/* ---- step 7: orphans ----------------------------------------------------------------------------- */

typedef struct name_set {
	char **v;
	size_t n, cap;
} name_set;

static void name_add(name_set *s, strata_arena *a, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = strata_realloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = strata_arena_strdup(a, name);
}

static bool name_has(const name_set *s, const char *name)
{
	return s->n && bsearch(&name, s->v, s->n, sizeof(char *), name_cmp) != NULL;
}

typedef struct orphan_list_ctx {
	clean_ctx *c;
	const char *dir;
	const name_set *known, *prefixes;
	strata_err *err;
} orphan_list_ctx;

/* One listed object of the table's prefix (object storage; see the essay). */
static int orphan_object(void *ctx, const char *name, const strata_data_stat *st)
{
	orphan_list_ctx *l = ctx;
	clean_ctx *c = l->c;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (name[0] == '.' || strstr(name, "/.") || name_has(l->known, base))
		return 0;
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	for (size_t i = 0; i < l->prefixes->n; i++)
		if (strncmp(path, l->prefixes->v[i], strlen(l->prefixes->v[i])) == 0)
			return 0;
	int64_t age_us = c->now_us - st->mtime_s * 1000000;
	if (age_us < c->o->orphan_age_s * 1000000)
		return 0;
	c->r->orphans++;
	c->r->orphan_bytes += st->size;
	if (c->is_counting)
		return 0;
	/* no entry holds an orphan's trash state: its window starts when it
	 * became one */
	bool is_old = age_us >= (c->o->orphan_age_s + c->o->trash_s) * 1000000;
	LOG_INFO("orphan %s (%llu bytes, %lld s old)%s", path, (unsigned long long)st->size,
		 (long long)(age_us / 1000000),
		 c->o->dry_run ? " would be trashed" : is_old ? " deleted" : " in the trash window");
	if (c->o->dry_run || !is_old)
		return 0;
	if (c->o->throttle)
		c->o->throttle(c->o->throttle_arg, st->size);
	int rc = strata_data_remove(path, l->err);
	if (rc < 0) /* invariant 2 */
		return strata_err_wrap(l->err, rc, "could not delete orphan \"%s\"", path);
	c->r->files_unlinked++;
	c->r->bytes_unlinked += st->size;
	return 0;
}

static int orphan_dir(clean_ctx *c, const char *dir, const name_set *known,
		      const name_set *prefixes, strata_err *err)
{
	if (strata_data_is_remote(dir)) {
		orphan_list_ctx l = {.c = c, .dir = dir, .known = known, .prefixes = prefixes,
				     .err = err};
		return strata_data_list(dir, orphan_object, &l, err);
	}
	int derr = 0;
	DIR *d = strata_io()->opendir(dir, &derr);
	if (!d)
		return derr == -ENOENT ? 0 :
		       strata_err_set(err, derr, "could not list \"%s\": %s", dir, strata_strerror(derr));
	char trash[4096];
	strata_trash_dir(c->mf, c->t.name, trash, sizeof(trash));
	int rc = 0;
	struct dirent *e;
	while ((e = strata_io()->readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (strata_io()->stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = orphan_dir(c, path, known, prefixes, err);
			if (rc)
				break;
			continue;
		}
		if (!S_ISREG(st.st_mode) || name_has(known, e->d_name))
			continue;
		bool is_intent = false;
		for (size_t i = 0; i < prefixes->n && !is_intent; i++)
			is_intent = strncmp(path, prefixes->v[i], strlen(prefixes->v[i])) == 0;
		if (is_intent)
			continue;
		int64_t age_us = c->now_us - (int64_t)st.st_mtime * 1000000;
		if (age_us < c->o->orphan_age_s * 1000000)
			continue;
		c->r->orphans++;
		c->r->orphan_bytes += (uint64_t)st.st_size;
		if (c->is_counting)
			continue;
		LOG_INFO("orphan %s (%lld bytes, %lld s old)%s", path, (long long)st.st_size,
			 (long long)(age_us / 1000000), c->o->dry_run ? " would be trashed" : "");
		if (c->o->dry_run)
			continue;
		rc = strata_io_mkdirs(trash, 0755);
		if (rc < 0) {
			rc = strata_err_set(err, rc, "could not create \"%s\": %s", trash, strata_strerror(rc));
			break;
		}
		char tpath[4700];
		snprintf(tpath, sizeof(tpath), "%s/%lld-orphan-%s", trash, (long long)c->now_us,
			 e->d_name);
		/* orphans of one name in two directories: rename must not replace
		 * the first one in the trash */
		struct stat tst;
		for (unsigned n = 2; strata_io()->stat(tpath, &tst) == 0; n++)
			snprintf(tpath, sizeof(tpath), "%s/%lld-orphan%u-%s", trash,
				 (long long)c->now_us, n, e->d_name);
		rc = strata_io()->rename(path, tpath);
		if (rc < 0) {
			rc = strata_err_set(err, rc, "could not move orphan \"%s\" to the trash: %s", path,
					    strata_strerror(rc));
			break;
		}
	}
	strata_io()->closedir(d);
	return rc;
}

/* Whether path lies under a running job's intent (its outputs). */
static bool intent_keeps(void *ctx, const char *path)
{
	const name_set *prefixes = ctx;
	for (size_t i = 0; i < prefixes->n; i++)
		if (strncmp(path, prefixes->v[i], strlen(prefixes->v[i])) == 0)
			return true;
	return false;
}

static int orphans_scan(clean_ctx *c, strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(c->mf, &snap, err);
	if (rc)
		return rc;
	strata_file_entry *files;
	strata_intent *intents;
	size_t n, ni;
	rc = strata_mf_table_files(snap, c->t.id, c->a, &files, &n, err);
	if (rc == 0)
		rc = strata_mf_intents_list(snap, c->a, &intents, &ni, err);
	strata_mf_snap_close(snap);
	if (rc)
		return rc;
	name_set known = {0}, prefixes = {0};
	for (size_t i = 0; i < n; i++)
		name_add(&known, c->a, files[i].name);
	if (known.n > 1) /* never qsort(NULL, 0): a table with no entries */
		qsort(known.v, known.n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < ni; i++)
		for (uint32_t k = 0; k < intents[i].npaths; k++)
			name_add(&prefixes, c->a, intents[i].paths[k]);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", strata_mf_data_dir(c->mf), c->t.name);
	/* invariant 6: count first; too many unknown bytes is a damaged
	 * manifest far more often than real orphans */
	uint64_t known_bytes = 0;
	for (size_t i = 0; i < n; i++)
		if (!files[i].is_deleted && !strata_file_is_inline(&files[i]))
			known_bytes += files[i].bytes; /* bytes in files (inline: none) */
	size_t orphans0 = c->r->orphans;
	uint64_t orphan_bytes0 = c->r->orphan_bytes;
	c->is_counting = true;
	rc = orphan_dir(c, dir, &known, &prefixes, err);
	c->is_counting = false;
	uint64_t cand_bytes = c->r->orphan_bytes - orphan_bytes0;
	size_t cand = c->r->orphans - orphans0;
	c->r->orphans = orphans0;
	c->r->orphan_bytes = orphan_bytes0;
	double max = c->o->orphan_max_fraction;
	if (rc == 0 && cand && max < 1.0 && !c->o->dry_run &&
	    (double)cand_bytes > max * (double)(cand_bytes + known_bytes)) {
		double pct = 100.0 * (double)cand_bytes / (double)(cand_bytes + known_bytes);
		rc = strata_err_set(err, STRATA_ELIMIT,
				    "orphan scan of table \"%s\" stopped, nothing was trashed: %zu file%s "
				    "no manifest entry knows (%llu bytes) would be %.1f%% of the "
				    "table's bytes, above the limit of %.1f%% (clean.orphan_max_fraction, "
				    "`strata clean --orphan-max-fraction`); is the manifest damaged? run "
				    "`strata check %s`; if they really are orphans, clean with a higher "
				    "limit",
				    c->t.name, cand, cand == 1 ? "" : "s", (unsigned long long)cand_bytes, pct,
				    100.0 * max, c->t.name);
	}
	if (rc == 0)
		rc = orphan_dir(c, dir, &known, &prefixes, err);
	/* what writers killed half-way left in an object store: their
	 * unfinished uploads, by the orphans' age and intent rules */
	if (rc == 0 && !c->o->dry_run) {
		size_t n_aborted = 0;
		rc = strata_data_abort_uploads(dir, c->o->orphan_age_s, c->now_us / 1000000,
					       intent_keeps, &prefixes, &n_aborted, err);
		c->r->uploads_aborted += n_aborted;
	}
	free(known.v);
	free(prefixes.v);
	return rc;
}

/* ---- intents ------------------------------------------------------------------------------------- */

typedef struct remove_prefix_ctx {
	const char *dir, *base;
	strata_err *err;
} remove_prefix_ctx;

/* An object directly in dir whose name begins with base goes. */
static int remove_prefix_one(void *ctx, const char *name, const strata_data_stat *st)
{
	remove_prefix_ctx *l = ctx;
	(void)st;
	if (strchr(name, '/') || strncmp(name, l->base, strlen(l->base)) != 0)
		return 0;
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	return strata_data_remove(path, l->err);
}

static int remove_prefix(const char *prefix, strata_err *err)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", prefix);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	const char *base = slash + 1;
	size_t bl = strlen(base);
	if (strata_data_is_remote(dir)) {
		remove_prefix_ctx l = {.dir = dir, .base = base, .err = err};
		return strata_data_list(dir, remove_prefix_one, &l, err);
	}
	int derr = 0;
	DIR *d = strata_io()->opendir(dir, &derr);
	if (!d)
		return derr == -ENOENT ? 0 :
		       strata_err_set(err, derr, "could not list \"%s\": %s", dir, strata_strerror(derr));
	int rc = 0;
	struct dirent *e;
	while ((e = strata_io()->readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, bl) != 0)
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = strata_io()->unlink(path);
		if (rc < 0 && rc != -ENOENT) {
			rc = strata_err_set(err, rc, "could not remove \"%s\": %s", path,
					    strata_strerror(rc));
			break;
		}
		rc = 0;
	}
	strata_io()->closedir(d);
	if (rc == 0) {
		rc = strata_io_fsync_dir(dir);
		if (rc == -ENOENT)
			rc = 0;
		else if (rc < 0)
			rc = strata_err_set(err, rc, "could not fsync \"%s\": %s", dir, strata_strerror(rc));
	}
	return rc;
}

int strata_recover_intents(strata_wh *wh, const char *table, size_t *recovered, strata_err *err)
{
	strata_mf *mf = strata_wh_mf(wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_intent *in;
	size_t n = 0;
	*recovered = 0;
	uint32_t table_id = 0;
	int rc = strata_mf_snap_open(mf, &snap, err);
	if (rc)
		goto out;
	if (table) {
		strata_table_def t;
		rc = strata_mf_table_get(snap, table, &t, err);
		if (rc)
			goto out;
		table_id = t.id;
	}
	rc = strata_mf_intents_list(snap, a, &in, &n, err);
	if (rc)
		goto out;
	strata_mf_snap_close(snap);
	snap = NULL;
	for (size_t i = 0; i < n; i++) {
		if (table && in[i].table_id != table_id)
			continue;
		/* invariant 5: judge and take the job's claim in one transaction
		 * (the snapshot above may be older than the job's commit), so a job
		 * judged crashed can no longer commit the files removed below */
		bool is_abandoned = false;
		rc = strata_mf_intent_abandon(mf, in[i].job_id, &is_abandoned, err);
		if (rc)
			goto out;
		if (!is_abandoned)
			continue; /* alive, or it committed meanwhile */
		for (uint32_t k = 0; k < in[i].npaths; k++) {
			rc = remove_prefix(in[i].paths[k], err);
			if (rc)
				goto out;
		}
		rc = strata_mf_intent_del(mf, in[i].job_id, err);
		if (rc)
			goto out;
		LOG_WARN("recovered job %llu of %s: removed its uncommitted outputs",
			 (unsigned long long)in[i].job_id, in[i].owner);
		(*recovered)++;
	}
out:
	strata_mf_snap_close(snap);
	strata_arena_free(a);
	return rc;
}

/* ---- the clean run ---------------------------------------------------------------------------------- */

/* One clean per table at a time, across processes: a claim on a bucket
 * number no partition has. */
#define CLEAN_CLAIM_PART UINT32_MAX
#define CLEAN_CLAIM_BUCKET UINT32_MAX

static int clean_table_claimed(strata_wh *wh, const char *table, const strata_clean_opts *o,
			       strata_clean_result *r, strata_err *err);

/* The table's definition now, in a snapshot of its own. */
static int clean_table_def(strata_mf *mf, const char *table, strata_table_def *t,
			   strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(mf, &snap, err);
	if (rc)
		return rc;
	rc = strata_mf_table_get(snap, table, t, err);
	strata_mf_snap_close(snap);
	return rc;
}

/* Take the table's clean claim for what ("clean" or "undelete"): one clean
 * or undelete of a table at a time, across processes.  STRATA_EBUSY names
 * the holder. */
static int clean_claim_take(strata_mf *mf, const strata_table_def *t, const char *what,
			    uint64_t *job_id, strata_err *err)
{
	char owner[128];
	strata_owner_string(what, owner, sizeof(owner));
	strata_err cerr;
	int rc = strata_mf_claim_new(mf, t->id, CLEAN_CLAIM_PART, CLEAN_CLAIM_BUCKET, owner,
				     600ll * 1000000, job_id, &cerr);
	if (rc == STRATA_EBUSY) {
		const char *by = strstr(cerr.msg, "claimed by ");
		return strata_err_set(err, rc, "table \"%s\" is being cleaned or undeleted by "
				      "another process (%s): try again when it is done", t->name,
				      by ? by + 11 : "unknown");
	}
	if (rc)
		return strata_err_set(err, rc, "could not claim \"%s\" for the %s: %s", t->name, what,
				      cerr.msg);
	return 0;
}

int strata_clean_table(strata_wh *wh, const char *table, const strata_clean_opts *o,
		       strata_clean_result *r, strata_err *err)
{
	memset(r, 0, sizeof(*r));
	if (o->dry_run)
		return clean_table_claimed(wh, table, o, r, err);
	strata_mf *mf = strata_wh_mf(wh);
	strata_table_def t;
	int rc = clean_table_def(mf, table, &t, err);
	if (rc)
		return rc;
	/* step 0: expired trash needs no commit (and no claim: two cleans
	 * unlinking the same file is fine) */
	clean_ctx c0 = {.wh = wh, .mf = mf, .o = o, .r = r, .t = t, .now_us = strata_now_us()};
	rc = trash_empty(&c0, false, err);
	if (rc)
		return rc;
	uint64_t job_id;
	rc = clean_claim_take(mf, &t, "clean", &job_id, err);
	if (rc == STRATA_EBUSY)
		return rc;
	if (rc)
		goto out;
	rc = clean_table_claimed(wh, table, o, r, err);
	strata_err tmp;
	strata_mf_claim_release(mf, t.id, CLEAN_CLAIM_PART, CLEAN_CLAIM_BUCKET, job_id, &tmp);
out:
	/* say what step 0 freed: on a full disk that is the progress made */
	if (rc && r->files_unlinked)
		strata_err_wrap(err, rc, "unlinked %zu expired trash file%s of \"%s\" (%llu bytes), "
				"then failed", r->files_unlinked, r->files_unlinked == 1 ? "" : "s",
				table, (unsigned long long)r->bytes_unlinked);
	return rc;
}

static int clean_table_claimed(strata_wh *wh, const char *table, const strata_clean_opts *o,
			       strata_clean_result *r, strata_err *err)
{
	clean_ctx c = {.wh = wh, .mf = strata_wh_mf(wh), .o = o, .r = r, .now_us = strata_now_us()};
	c.a = strata_arena_new();
	uint64_t *ids = NULL, *forget = NULL;
	size_t nids = 0, cap = 0, nforget = 0;
	strata_mf_snap *snap = NULL;
	/* invariant 6 */
	int64_t check_t0 = strata_mono_us();
	int rc = clean_check(c.mf, table, o->is_purge ? "purge" : "clean", err);
	r->check_ms = (double)(strata_mono_us() - check_t0) / 1000.0;
	if (rc)
		goto out;
	rc = strata_mf_snap_open(c.mf, &snap, err);
	if (rc)
		goto out;
	rc = strata_mf_table_get(snap, table, &c.t, err);
	if (rc)
		goto out;
	rc = strata_mf_partitions(snap, c.t.id, c.a, &c.parts, &c.nparts, err);
	if (rc)
		goto out;
	strata_tag *tags = NULL;
	size_t ntags = 0;
	rc = strata_mf_tags_list(snap, c.t.id, c.a, &tags, &ntags, err);
	if (rc)
		goto out;
	strata_lease *leases = NULL;
	size_t nleases = 0;
	rc = strata_mf_leases_list(c.mf, c.t.id, c.a, &leases, &nleases, err);
	if (rc)
		goto out;
	/* the table's own property (clean.h); tags are kept by invariant 3 */
	strata_retention ret;
	rc = strata_mf_retention(snap, &c.t, -1, c.now_us, c.a, &ret, err);
	if (rc)
		goto out;
	uint64_t boundary = ret.boundary;
	for (size_t p = 0; p < c.nparts && rc == 0; p++)
		for (uint32_t b = 0; b < c.parts[p].buckets && rc == 0; b++)
			rc = plan_bucket(&c, snap, &c.parts[p], b, boundary, tags, ntags, leases,
					 nleases, &ids, &nids, &cap, err);
	strata_mf_snap_close(snap);
	snap = NULL;
	if (rc || o->dry_run) {
		if (rc == 0) {
			/* a dry run plans every step that needs no commit: the
			 * deletions and the orphans (counted, not moved) */
			r->files_deleted = nids;
			if (o->orphan_age_s >= 0)
				rc = orphans_scan(&c, err);
		}
		goto out;
	}
	/* step 1b: the kept cleans past their window go for good (invariant
	 * 7); purge keeps nothing */
	/* what this clean takes is kept clean.trash_s, as its files are */
	int64_t keep_us = o->is_purge || o->trash_s <= 0 ? 0 : o->trash_s * 1000000;
	rc = strata_mf_trash_drop(c.mf, c.t.id, o->is_purge, keep_us, &r->cleans_dropped, err);
	if (rc)
		goto out;
	/* step 2, invariant 1 */
	if (nids) {
		size_t skipped = 0;
		rc = strata_mf_commit_clean_kept(c.mf, c.t.id, ids, nids, keep_us, &r->version,
						 &skipped, err);
		if (rc)
			goto out;
		qsort(ids, nids, sizeof(uint64_t), id_cmp);
		c.marked = ids;
		c.nmarked = nids;
	}
	c.pass = 1;
	rc = trash_marked(&c, &forget, &nforget, err); /* step 3 */
	if (rc)
		goto out;
	rc = trash_empty(&c, true, err); /* step 4 */
	if (rc)
		goto out;
	if (nforget) { /* step 5 */
		rc = strata_mf_forget_deleted(c.mf, c.t.id, forget, nforget, err);
		if (rc)
			goto out;
	}
	/* a second pass forgets what step 4 just unlinked (and counts what
	 * stays in the trash); the listings of the first still hold */
	free(forget);
	forget = NULL;
	nforget = 0;
	c.pass = 2;
	rc = trash_marked(&c, &forget, &nforget, err);
	if (rc == 0 && nforget)
		rc = strata_mf_forget_deleted(c.mf, c.t.id, forget, nforget, err);
	if (rc)
		goto out;
	/* step 6 */
	uint64_t below = o->is_purge ? c.t.version + (r->version ? 1 : 0) : boundary;
	if (below > 1) {
		rc = strata_mf_expire_versions_kept(c.mf, c.t.id, below, r->version, keep_us,
						    &r->versions_expired, err);
		if (rc)
			goto out;
	}
	/* step 6b: tokens outlive their versions, until the token horizon */
	rc = strata_mf_tokens_prune(c.mf, c.t.id, &r->tokens_forgotten, err);
	if (rc)
		goto out;
	rc = strata_recover_intents(wh, table, &r->intents_recovered, err);
	if (rc)
		goto out;
	if (o->orphan_age_s >= 0)
		rc = orphans_scan(&c, err); /* step 7 */
out:
	strata_mf_snap_close(snap);
	free(ids);
	free(forget);
	bucket_lists_free(&c);
	strata_arena_free(c.a);
	return rc;
}

/* ---- purge ------------------------------------------------------------------------------------------- */

int strata_purge_table(strata_wh *wh, const char *table, const strata_job_ctl *ctl,
		       strata_clean_result *r, strata_buf *dropped_tags, strata_err *err)
{
	strata_mf *mf = strata_wh_mf(wh);
	strata_arena *a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_table_def t;
	strata_partition *ps;
	size_t np;
	strata_tag *tags;
	size_t ntags;
	int rc = clean_check(mf, table, "purge", err); /* invariant 6 */
	if (rc)
		goto out;
	rc = strata_mf_snap_open(mf, &snap, err);
	if (rc == 0)
		rc = strata_mf_table_get(snap, table, &t, err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, t.id, a, &ps, &np, err);
	if (rc == 0)
		rc = strata_mf_tags_list(snap, t.id, a, &tags, &ntags, err);
	strata_mf_snap_close(snap);
	if (rc)
		goto out;
	/* every bucket: latest record per key, history dropped */
	for (size_t p = 0; p < np && rc == 0; p++) {
		for (uint32_t b = 0; b < ps[p].buckets && rc == 0; b++) {
			for (int attempt = 0; attempt < 5; attempt++) {
				strata_bucket_job job;
				strata_bucket_job_default(&job, STRATA_BUCKET_JOB_MAJOR);
				job.drop_history = true;
				strata_bucket_job_out jo;
				rc = strata_bucket_job_run(wh, table, ps[p].name, b, &job, ctl, &jo, err);
				if (rc != STRATA_ECONFLICT)
					break;
			}
		}
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < ntags && rc == 0; i++) {
		rc = strata_mf_tag_del(mf, table, tags[i].name, err);
		if (rc == 0 && dropped_tags)
			strata_buf_printf(dropped_tags, "%s%s", dropped_tags->len ? "," : "",
					  tags[i].name);
	}
	if (rc)
		goto out;
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.is_purge = true; /* invariant 4 */
	o.orphan_age_s = -1;
	rc = strata_clean_table(wh, table, &o, r, err);
out:
	strata_arena_free(a);
	return rc;
}

/* ---- undelete ---------------------------------------------------------------------------------- */

void strata_undelete_result_free(strata_undelete_result *r)
{
	if (!r)
		return;
	free(r->clean_versions);
	r->clean_versions = NULL;
}

static const strata_file_entry *entry_by_id(const strata_file_entry *files, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (files[mid].id == id)
			return &files[mid];
		if (files[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int entry_id_cmp(const void *a, const void *b)
{
	const strata_file_entry *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int undelete_claimed(strata_wh *wh, const char *table, const strata_undelete_opts *o,
			    strata_undelete_result *r, strata_err *err);

int strata_undelete_table(strata_wh *wh, const char *table, const strata_undelete_opts *o,
			  strata_undelete_result *r, strata_err *err)
{
	memset(r, 0, sizeof(*r));
	strata_mf *mf = strata_wh_mf(wh);
	uint64_t inc;
	/* invariant 6: a damaged manifest is never acted on */
	strata_err e;
	size_t nf = 0;
	int rc = strata_mf_check(mf, table, NULL, NULL, &nf, &e);
	if (rc == STRATA_ECORRUPT)
		return strata_err_set(err, rc, "undelete of table \"%s\" refused, nothing was "
				      "restored: %s", table, e.msg);
	if (rc)
		return strata_err_set(err, rc, "%s", e.msg);
	rc = strata_table_earliest(wh, table, &r->earliest_before, &inc, err);
	if (rc)
		return rc;
	r->earliest_after = r->earliest_before;
	if (o->dry_run)
		return undelete_claimed(wh, table, o, r, err);
	/* one clean or undelete of a table at a time (the clean claim): a
	 * clean would trash again what this moves back */
	strata_table_def t;
	rc = clean_table_def(mf, table, &t, err);
	if (rc)
		return rc;
	uint64_t job_id;
	rc = clean_claim_take(mf, &t, "undelete", &job_id, err);
	if (rc)
		return rc;
	rc = undelete_claimed(wh, table, o, r, err);
	strata_err tmp;
	strata_mf_claim_release(mf, t.id, CLEAN_CLAIM_PART, CLEAN_CLAIM_BUCKET, job_id, &tmp);
	if (rc == 0 && strata_table_earliest(wh, table, &r->earliest_after, &inc, &tmp) != 0)
		r->earliest_after = 0;
	return rc;
}

static int undelete_claimed(strata_wh *wh, const char *table, const strata_undelete_opts *o,
			    strata_undelete_result *r, strata_err *err)
{
	clean_ctx c = {.wh = wh, .mf = strata_wh_mf(wh), .r = NULL, .now_us = strata_now_us()};
	c.a = strata_arena_new();
	strata_mf_snap *snap = NULL;
	strata_trash_unit *us = NULL;
	strata_file_entry *files = NULL;
	const strata_file_entry **moves = NULL; /* back from .trash/ (invariant 8) */
	size_t nus = 0, nfiles = 0, nmoves = 0;
	int rc = strata_mf_snap_open(c.mf, &snap, err);
	if (rc)
		goto out;
	rc = strata_mf_table_get(snap, table, &c.t, err);
	if (rc == 0)
		rc = strata_mf_partitions(snap, c.t.id, c.a, &c.parts, &c.nparts, err);
	if (rc == 0)
		rc = strata_mf_trash_list(snap, c.t.id, c.a, &us, &nus, err);
	if (rc == 0)
		rc = strata_mf_table_files(snap, c.t.id, c.a, &files, &nfiles, err);
	strata_mf_snap_close(snap);
	snap = NULL;
	if (rc)
		goto out;
	if (nfiles > 1)
		qsort(files, nfiles, sizeof(*files), entry_id_cmp);
	/* the window: as kept, or longer when clean.trash_s was raised since */
	int64_t trash_us = o->trash_s > 0 ? o->trash_s * 1000000 : 0;
	/* which kept cleans */
	r->clean_versions = strata_calloc(nus + 1, sizeof(uint64_t));
	size_t nexpired = 0;
	for (size_t i = 0; i < nus; i++) {
		int64_t end = strata_trash_unit_end(&us[i], trash_us);
		bool is_in_window = end > c.now_us;
		nexpired += !is_in_window;
		if (!o->is_all && us[i].clean_version != o->clean_version)
			continue;
		if (!is_in_window && !o->is_all) {
			rc = strata_err_set(err, STRATA_ERETENTION,
					    "clean version %llu of table \"%s\" left its trash window "
					    "%.0f s ago (clean.trash_s): nothing was restored",
					    (unsigned long long)us[i].clean_version, table,
					    (double)(c.now_us - end) / 1e6);
			goto out;
		}
		if (is_in_window)
			r->clean_versions[r->ncleans++] = us[i].clean_version;
	}
	if (r->ncleans == 0) {
		strata_buf kept = {0};
		for (size_t i = 0; i < nus; i++)
			if (strata_trash_unit_end(&us[i], trash_us) > c.now_us)
				strata_buf_printf(&kept, "%s%llu", kept.len ? ", " : "",
						  (unsigned long long)us[i].clean_version);
		if (o->is_all)
			rc = strata_err_set(err, STRATA_ENOTFOUND,
					    "table \"%s\" has no clean inside its trash window to undo%s",
					    table, nexpired ? " (the ones past it are dropped by the next "
							      "clean)" : "");
		else
			rc = strata_err_set(err, STRATA_ENOTFOUND,
					    "table \"%s\" has no clean at version %llu in its trash "
					    "(cleans that can be undone: %s)",
					    table, (unsigned long long)o->clean_version,
					    kept.len ? (const char *)kept.data : "none");
		strata_buf_free(&kept);
		goto out;
	}
	/* the version logs must join up, newest clean first (the commit checks
	 * again; here, so that a refusal moves nothing) */
	uint64_t log_start = c.t.log_start;
	for (size_t i = nus; i-- > 0;) {
		bool is_sel = false;
		for (size_t k = 0; k < r->ncleans; k++)
			is_sel = is_sel || r->clean_versions[k] == us[i].clean_version;
		if (!is_sel || us[i].log_to == 0)
			continue;
		if (us[i].log_to != log_start) {
			rc = strata_err_set(err, STRATA_ECONFLICT,
					    "clean version %llu of table \"%s\" expired versions %llu to "
					    "%llu, but the log now starts at %llu: a later clean expired "
					    "the versions in between; undelete it first (or use --all): "
					    "nothing was restored",
					    (unsigned long long)us[i].clean_version, table,
					    (unsigned long long)us[i].log_from,
					    (unsigned long long)(us[i].log_to - 1),
					    (unsigned long long)log_start);
			goto out;
		}
		log_start = us[i].log_from;
		r->versions_restored += us[i].nversions;
	}
	/* every file must still be there: in its bucket, or in .trash/ */
	char trash[4096];
	strata_trash_dir(c.mf, c.t.name, trash, sizeof(trash));
	for (size_t i = 0; i < nus; i++) {
		bool is_sel = false;
		for (size_t k = 0; k < r->ncleans; k++)
			is_sel = is_sel || r->clean_versions[k] == us[i].clean_version;
		if (!is_sel)
			continue;
		for (uint32_t k = 0; k < us[i].nids; k++) {
			const strata_file_entry *f = entry_by_id(files, nfiles, us[i].ids[k]);
			if (!f || !f->is_deleted) {
				rc = strata_err_set(err, f ? STRATA_ECONFLICT : STRATA_ERETENTION,
						    "undelete of clean version %llu of table \"%s\" "
						    "refused, nothing was restored: file %llu %s",
						    (unsigned long long)us[i].clean_version, table,
						    (unsigned long long)us[i].ids[k],
						    f ? "is no longer marked deleted" :
							"has left the trash and the manifest");
				goto out;
			}
			if (strata_file_is_inline(f)) {
				/* its bytes are in its entry: nothing to look for */
				r->files_restored++;
				r->bytes_restored += f->bytes;
				continue;
			}
			const char *pname = part_name_of(&c, f->part_id);
			char path[4096], tname[512], tpath[4700];
			strata_file_path(c.mf, c.t.name, pname ? pname : "", f, path, sizeof(path));
			trash_name(f, tname, sizeof(tname));
			snprintf(tpath, sizeof(tpath), "%s/%s", trash, tname);
			int in_bucket = path_state(path, err);
			if (in_bucket < 0) {
				rc = in_bucket;
				goto out;
			}
			bool is_remote = strata_data_is_remote(path);
			int in_trash = in_bucket || is_remote ? 0 : path_state(tpath, err);
			if (in_trash < 0) {
				rc = in_trash;
				goto out;
			}
			if (!in_bucket && !in_trash) {
				rc = strata_err_set(err, STRATA_ERETENTION,
						    "undelete of clean version %llu of table \"%s\" "
						    "refused, nothing was restored: file \"%s\" (entry "
						    "%llu) has already left the trash (%s)",
						    (unsigned long long)us[i].clean_version, table, path,
						    (unsigned long long)f->id,
						    is_remote ? "its object is gone" : "not in .trash/ either");
				goto out;
			}
			r->files_restored++;
			r->bytes_restored += f->bytes;
			if (!in_trash)
				continue; /* in place (object storage, or moved back by an
					     undelete that crashed before its commit) */
			if ((nmoves & (nmoves - 1)) == 0) /* 0, 1, 2, 4, ...: double */
				moves = strata_realloc(moves, (nmoves ? 2 * nmoves : 1) * sizeof(*moves));
			moves[nmoves++] = f;
		}
	}
	r->files_moved = nmoves;
	if (o->dry_run)
		goto out;
	/* invariant 8: the files go back before the commit that names them
	 * again; meanwhile their deleted entries still know their names, so no
	 * orphan scan takes them, and a clean would trash them again */
	for (size_t i = 0; i < nmoves; i++) {
		const strata_file_entry *f = moves[i];
		const char *pname = part_name_of(&c, f->part_id);
		char path[4096], tname[512], tpath[4700], dir[4096];
		strata_file_path(c.mf, c.t.name, pname ? pname : "", f, path, sizeof(path));
		trash_name(f, tname, sizeof(tname));
		snprintf(tpath, sizeof(tpath), "%s/%s", trash, tname);
		strata_bucket_dir(c.mf, c.t.name, pname ? pname : "", f->bucket, dir, sizeof(dir));
		rc = strata_io_mkdirs(dir, 0755);
		if (rc < 0) {
			rc = strata_err_set(err, rc, "could not create \"%s\": %s", dir,
					    strata_strerror(rc));
			goto out;
		}
		rc = strata_io()->rename(tpath, path);
		if (rc < 0) {
			rc = strata_err_set(err, rc, "could not move \"%s\" back from the trash: %s",
					    tpath, strata_strerror(rc));
			goto out;
		}
		rc = fsync_dir_err(dir, err);
		if (rc)
			goto out;
	}
	if (nmoves) {
		rc = fsync_dir_err(trash, err);
		if (rc)
			goto out;
	}
	size_t nback = 0, nvers = 0;
	rc = strata_mf_undelete(c.mf, c.t.id, r->clean_versions, r->ncleans, trash_us, &nback,
				&nvers, err);
	if (rc)
		goto out;
	r->files_restored = nback;
	r->versions_restored = nvers;
	LOG_INFO("undelete of %s: %zu clean%s reverted, %zu file%s (%llu bytes) and %zu version "
		 "record%s restored, %zu moved back from the trash",
		 c.t.name, r->ncleans, r->ncleans == 1 ? "" : "s", nback, nback == 1 ? "" : "s",
		 (unsigned long long)r->bytes_restored, nvers, nvers == 1 ? "" : "s", nmoves);
out:
	strata_mf_snap_close(snap);
	free(moves);
	strata_arena_free(c.a);
	return rc;
}
