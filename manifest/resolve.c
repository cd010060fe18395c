/*
 * manifest/resolve.c — which files answer a read at version V, how far back
 * a bucket is readable, and where files live on disk.
 *
 * The history floor F of a bucket is the highest boundary any history-
 * dropping job (partial or major compaction) used.  Jobs keep, for every key,
 * all records above their boundary, so the live files answer any V >= F by
 * filtering _seq <= V.  For V < F the read needs the files that were live just
 * before the first commit J that raised the floor above V: L = J - 1.  Those
 * held every record a read at V needs (the floor at L was <= V).
 *
 * Invariants:
 *   1. resolve() returns a file set only if every entry live at L that holds
 *      a record <= V still exists (none marked deleted); entries live at some
 *      floor raise's L are never forgotten, so a deleted file always shows;
 *   2. earliest_readable() is the smallest E such that resolve() succeeds for
 *      every version in [E, latest].
 *
 * Pure functions: no I/O, callable from any thread.
 */
#include "manifest/manifest_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The smallest _seq held by a deleted file of the set live at l (UINT64_MAX:
 * none).  A read at v is answered by that set iff v is below it: files whose
 * records are all newer than v (e.g. row files written after the planning
 * version of a major compaction, later sorted and cleaned) do not matter. */
static uint64_t set_hole(const strata_file_entry *files, size_t n, uint64_t l)
{
	uint64_t hole = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (files[i].is_deleted && strata_file_live_at(&files[i], l) &&
		    (uint64_t)files[i].seq_min < hole)
			hole = (uint64_t)files[i].seq_min;
	return hole;
}

int strata_mf_resolve(const strata_bucket_state *bs, const strata_file_entry *files,
		      size_t nfiles, uint64_t latest, uint64_t v, bool is_tag, uint64_t *l)
{
	if (v >= bs->floor) {
		*l = latest;
		return 0;
	}
	if (v < bs->resolvable_from)
		return STRATA_ERETENTION;
	for (uint32_t i = 0; i < bs->nlog; i++) {
		if (bs->log[i].boundary <= v)
			continue;
		/* the first raise above v (boundaries increase along the log) */
		uint64_t cand = bs->log[i].commit_version - 1;
		(void)is_tag;
		if (v >= set_hole(files, nfiles, cand))
			return STRATA_ERETENTION; /* invariant 1 */
		*l = cand;
		return 0;
	}
	return STRATA_ERETENTION;
}

uint64_t strata_mf_earliest_readable(const strata_bucket_state *bs,
				     const strata_file_entry *files, size_t nfiles,
				     uint64_t latest)
{
	uint64_t e = bs->floor;
	for (uint32_t i = bs->nlog; i-- > 0;) {
		uint64_t l = bs->log[i].commit_version - 1;
		/* every version of [b(i-1), b(i)) must resolve to l */
		if (set_hole(files, nfiles, l) < bs->log[i].boundary)
			break;
		e = i > 0 ? bs->log[i - 1].boundary : 0;
	}
	if (e < bs->resolvable_from)
		e = bs->resolvable_from;
	return e < 1 ? 1 : e;
}

uint64_t strata_mf_earliest_incremental(const strata_bucket_state *bs)
{
	return bs->floor;
}

/* ---- paths ----------------------------------------------------------------------- */

static bool is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int strata_partition_name(const strata_table_def *t, const char *const *values, char *out,
			  size_t n, strata_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < t->nparts; i++) {
		const char *v = values[i];
		size_t len = strlen(v);
		if (len > STRATA_MAX_PART_VALUE)
			return strata_err_set(err, STRATA_EINVAL,
					      "partition value of \"%s\" is longer than %d bytes",
					      t->part_cols[i], STRATA_MAX_PART_VALUE);
		int w = snprintf(out + o, n - o, "%s%s=", i ? "/" : "", t->part_cols[i]);
		if (w < 0 || (size_t)w >= n - o)
			goto too_long;
		o += (size_t)w;
		size_t dir_start = o - strlen(t->part_cols[i]) - 1;
		for (size_t j = 0; j < len; j++) {
			unsigned char c = (unsigned char)v[j];
			if (o + 4 >= n)
				goto too_long;
			if (is_plain(c)) {
				out[o++] = (char)c;
			} else {
				out[o++] = '%';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
		}
		out[o] = '\0';
		/* "col=value" is one directory name: it must fit the file system's
		 * limit, or every write to the partition would fail at commit */
		if (o - dir_start > NAME_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "partition value of \"%s\" is too long: its directory "
					      "name \"%s=...\" would be %zu bytes, at most %d (bytes "
					      "outside [A-Za-z0-9._-] take three)",
					      t->part_cols[i], t->part_cols[i], o - dir_start, NAME_MAX);
	}
	return 0;
too_long:
	return strata_err_set(err, STRATA_EINVAL, "partition name is too long");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int strata_partition_values(const strata_table_def *t, const char *name, strata_arena *a,
			    char **values, strata_err *err)
{
	const char *p = name;
	for (uint32_t i = 0; i < t->nparts; i++) {
		size_t cl = strlen(t->part_cols[i]);
		if (strncmp(p, t->part_cols[i], cl) != 0 || p[cl] != '=')
			goto bad;
		p += cl + 1;
		char *v = strata_arena_alloc(a, strlen(p) + 1);
		size_t o = 0;
		while (*p && *p != '/') {
			if (*p == '%') {
				int h = hexval(p[1]), l2 = h >= 0 ? hexval(p[2]) : -1;
				if (h < 0 || l2 < 0)
					goto bad;
				v[o++] = (char)(h << 4 | l2);
				p += 3;
			} else {
				v[o++] = *p++;
			}
		}
		v[o] = '\0';
		values[i] = v;
		if (*p == '/')
			p++;
	}
	if (*p)
		goto bad;
	return 0;
bad:
	return strata_err_set(err, STRATA_EINVAL, "malformed partition \"%.200s\" (expected %s=...)",
			      name, t->nparts ? t->part_cols[0] : "no partition");
}

void strata_bucket_dir(const strata_mf *mf, const char *table, const char *partition,
		       uint32_t bucket, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s/b%04u", mf->data_dir, table,
		 partition && *partition ? partition : "_", bucket);
}

void strata_file_path(const strata_mf *mf, const char *table, const char *partition,
		      const strata_file_entry *f, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s/b%04u/%s", mf->data_dir, table,
		 partition && *partition ? partition : "_", f->bucket, f->name);
}

void strata_trash_dir(const strata_mf *mf, const char *table, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/.trash", mf->data_dir, table);
}
