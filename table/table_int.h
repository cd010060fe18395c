/*
 * table/table_int.h — shared by the files of table/ only.
 */
#ifndef STRATA_TABLE_INT_H
#define STRATA_TABLE_INT_H

#include "table/table.h"

struct strata_wh {
	strata_mf *mf;
	char *path;
};

/* ---- the plan of a snapshot or incremental scan, for table/colscan.c ---- */

/* One planned bucket: lent for the scan's lifetime. */
typedef struct strata_scan_bucket {
	const char *const *part_values; /* unescaped, NULL-terminated */
	const char *partition;          /* escaped name, "" if none */
	uint32_t bucket;
	uint32_t part_buckets;          /* the partition's bucket count */
	uint64_t rows;                  /* records in its files (an upper bound) */
} strata_scan_bucket;

size_t strata_scan_nbuckets(const strata_scan *s);
void strata_scan_bucket_info(const strata_scan *s, size_t i, strata_scan_bucket *out);
/* A merge over planned bucket i, rows in layout rs (NULL: the scan's
 * schema), files whose key range misses [lo, hi] skipped (NULL: unbounded),
 * every run positioned at lo.
 * Reads only the plan: threads may call it for different buckets at once. */
int strata_scan_bucket_merge(const strata_scan *s, size_t i, const strata_schema *rs,
			     const uint8_t *lo, size_t lo_len, const uint8_t *hi, size_t hi_len,
			     strata_merge **out, strata_err *err);
/* The files planned for bucket i (lent for the scan's lifetime) and the
 * path of one of them. */
void strata_scan_bucket_files(const strata_scan *s, size_t i, const strata_file_entry **files,
			      size_t *n);
void strata_scan_file_path(const strata_scan *s, size_t i, const strata_file_entry *f,
			   char *path, size_t n);
/* Trade every lease of the scan for a fresh one at the same version (long
 * scans); not thread-safe against itself. */
int strata_scan_leases_renew(strata_scan *s, strata_err *err);

/* Make t commit as a rollback (table/lifecycle.c): its rows are laid out
 * in schema s (copied; s->version must be the current schema version + 1),
 * which the commit records as the new schema; it commits even with no row;
 * note goes to the version log. */
void strata_txn_set_rollback(strata_txn *t, const strata_schema *s, const char *note);

#endif
