/*
 * table/delete.c — `strata delete NAME --where '...'`: delete every live key
 * a predicate selects, in one writer transaction.
 *
 * Design.  A snapshot scan at the latest version L with the predicate
 * (table/read.c, invariant 5: it prunes partitions, buckets, files and
 * pages) yields the rows it selects; each becomes a delete of its key (key
 * columns only) in a writer transaction begun before the scan, and the
 * transaction commits like any write: one version, row files, the
 * caller's idempotency token.  The commit's expected version is L (or the
 * caller's, if older): a write or DDL committed between the scan and the
 * commit could have changed which keys match, so it makes the delete fail
 * with STRATA_ECONFLICT and nothing is committed; jobs (sort, merge,
 * compaction) do not change what is read and never conflict with it.
 *
 * Invariants:
 *   1. the keys deleted are exactly the keys a read at L selects with the
 *      predicate, and the commit lands only if no write or DDL followed L;
 *   2. a dry run, a bad predicate and every failure commit nothing.
 *
 * Thread safety: as a writer transaction (one thread per call).
 */
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

int strata_table_delete_where(strata_wh *wh, const char *table, const char *where,
			      const char *partition, bool is_dry_run,
			      const strata_commit_opts *opts, strata_delete_stats *st,
			      strata_err *err)
{
	memset(st, 0, sizeof(*st));
	strata_txn *t = NULL;
	strata_scan *s = NULL;
	strata_value *vals = NULL;
	int rc = strata_txn_begin(wh, table, &t, err);
	if (rc)
		goto out;
	const strata_schema *ts = strata_txn_schema(t);
	strata_read_opts ro = {.where = where, .partition = partition};
	rc = strata_scan_open(wh, table, &ro, &s, err);
	if (rc)
		goto out;
	st->scan_version = strata_scan_version(s);
	const strata_schema *ss = strata_scan_schema(s);
	if (ss->version != ts->version) { /* invariant 1: a DDL raced the start */
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "the schema of \"%s\" changed while the delete started; run it "
				    "again",
				    table);
		goto out;
	}
	vals = strata_calloc(ts->ncols + 1, sizeof(strata_value));
	const strata_row *row;
	const char *const *pv;
	while ((rc = strata_scan_next(s, &row, &pv, err)) == 1) {
		for (uint32_t i = 0; i < ts->ncols; i++) {
			memset(&vals[i], 0, sizeof(vals[i]));
			vals[i].is_null = true;
		}
		for (uint32_t k = 0; k < ts->nkeys; k++)
			vals[ts->key_cols[k]] = row->vals[ts->key_cols[k]];
		strata_row del = {.op = STRATA_OP_DELETE, .ncols = ts->ncols, .vals = vals};
		rc = strata_txn_put(t, pv, &del, err);
		if (rc)
			goto out;
		st->deleted++;
	}
	if (rc < 0)
		goto out;
	strata_scan_prune_get(s, &st->prune);
	strata_scan_close(s);
	s = NULL;
	if (is_dry_run) { /* invariant 2 */
		st->version = st->scan_version;
		rc = 0;
		goto out;
	}
	strata_commit_opts co = opts ? *opts : (strata_commit_opts){0};
	if (!co.expect_version || co.expect_version > st->scan_version)
		co.expect_version = st->scan_version;
	rc = strata_txn_commit(t, &co, &st->version, &st->is_repeat, err);
	t = NULL; /* the commit freed it */
out:
	free(vals);
	strata_scan_close(s);
	strata_txn_abort(t);
	return rc;
}
