/*
 * manifest/verify.c — checking the LMDB file itself before LMDB trusts it.
 *
 * LMDB keeps no checksums: it follows page numbers, node offsets and key
 * sizes exactly as they are on disk.  A damaged page therefore makes it read
 * past the page (SIGSEGV), past the end of the file inside the map (SIGBUS),
 * trip an assertion (abort), or — worst — answer MDB_NOTFOUND, so that a
 * table "reads as empty" and clean goes on to trash every file as an orphan.
 * This file reads data.mdb with pread(), never through the map, and checks
 * what LMDB would follow:
 *
 *   - every page a tree reaches lies inside the file (a truncated file is
 *     SIGBUS when mapped: checked before every open).  The file may end
 *     before the committed meta's last page, but only by free pages: LMDB
 *     never writes a page that was allocated and freed in the same
 *     transaction (an overflow page of a value put and replaced, a loose
 *     page), and such a page at the end of the file stays unwritten while
 *     the meta counts it.  So a short file is walked (its free-list, before
 *     every open) and every page past its end must be on the free list —
 *     else it is truncated.  (The check first refused any short file:
 *     test_governance, with inline row files' larger values, met one that
 *     LMDB itself reads fine.);
 *   - the tree of the free list, of the main database and of every named
 *     sub-database reachable from that meta: each page names its own
 *     number (and a free-list record's page numbers are inside the file), has the expected kind (branch, leaf, overflow), bounds
 *     16 <= lower <= upper <= page size, node offsets and sizes inside the
 *     page, child and overflow page numbers inside the file, keys in
 *     ascending order, no page reached twice, no deeper than the recorded
 *     depth; page and entry counts equal those the database records.
 *
 * The walk runs under a read transaction of the environment (the caller's),
 * so a concurrent writer cannot reuse the pages being checked.  It verifies
 * structure, not the values inside records: the record decoders
 * (manifest/codec.c) check those, and strata_mf_check() checks that the
 * records agree with one another and with the files on disk.
 *
 * Layout knowledge is LMDB 0.9's on-disk format (mdb.c: MDB_page, MDB_node,
 * MDB_meta, MDB_db), which is stable across 0.9.x; a meta with another
 * magic or version is refused, never guessed at.
 *
 * Invariants:
 *   1. nothing here reads through LMDB's map, so a damaged file can produce
 *      an error but never a signal;
 *   2. every offset is checked against the page size before it is used.
 */
#include "manifest/manifest_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- LMDB 0.9 on-disk layout ---------------------------------------------- */

#define LM_MAGIC 0xBEEFC0DEu
#define LM_VERSION 1u
#define LM_PAGEHDR 16 /* pgno(8) pad(2) flags(2) lower(2) upper(2) */
#define LM_NODEHDR 8  /* lo(2) hi(2) flags(2) ksize(2) */
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_LEAF2 0x20
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define F_DUPDATA 0x04
#define LM_DB_SIZE 48
#define LM_META_DBS 24       /* offset of mm_dbs inside MDB_meta */
#define LM_META_LAST 120     /* mm_last_pg */
#define LM_META_TXNID 128    /* mm_txnid */
#define LM_MAX_DEPTH 64

typedef struct lm_db {
	uint16_t flags, depth;
	uint64_t branch_pages, leaf_pages, overflow_pages, entries, root;
} lm_db;

typedef struct lm_meta {
	uint32_t magic, version, psize;
	lm_db dbs[2]; /* FREE_DBI, MAIN_DBI */
	uint64_t last_pg, txnid;
} lm_meta;

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void db_parse(const uint8_t *p, lm_db *d)
{
	d->flags = rd16(p + 4);
	d->depth = rd16(p + 6);
	d->branch_pages = rd64(p + 8);
	d->leaf_pages = rd64(p + 16);
	d->overflow_pages = rd64(p + 24);
	d->entries = rd64(p + 32);
	d->root = rd64(p + 40);
}

/* ---- the walk ---------------------------------------------------------------- */

typedef struct walk {
	int fd;
	const char *path;
	uint32_t psize;
	uint64_t last_pg;
	uint64_t end_pg;    /* pages wholly inside the file */
	uint64_t file_bytes;
	uint8_t *seen; /* one bit a page */
	uint8_t *free_bits; /* pages the free list names (a short file only) */
	bool is_intkey; /* the free list's keys are native integers: no memcmp order */
	strata_err *err;
	/* counts of the tree being walked */
	uint64_t branch, leaf, overflow, entries;
} walk;

static int bad(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(walk *w, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return strata_err_set(w->err, STRATA_ECORRUPT,
			      "the manifest \"%s\" is damaged: %s; nothing was read from it "
			      "(restore manifest/ from a backup; see docs/OPERATIONS.md, "
			      "\"A damaged manifest\")",
			      w->path, msg);
}

static int read_page(walk *w, uint64_t pg, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(w->fd, buf + got, n - got, (off_t)(pg * w->psize + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return strata_err_set(w->err, -errno, "could not read \"%s\": %s", w->path,
					      strerror(errno));
		if (r == 0)
			return bad(w, "page %llu is past the end of the file", (unsigned long long)pg);
		got += (size_t)r;
	}
	return 0;
}

/* A page a tree needs lies past the end of the file. */
static int truncated(walk *w, uint64_t pg)
{
	return strata_err_set(w->err, STRATA_ECORRUPT,
			      "the manifest \"%s\" is truncated: it holds %llu bytes but its page "
			      "%llu, which it needs, ends at byte %llu; nothing was read from it "
			      "(restore manifest/ from a backup; see docs/OPERATIONS.md, \"A "
			      "damaged manifest\")",
			      w->path, (unsigned long long)w->file_bytes, (unsigned long long)pg,
			      (unsigned long long)((pg + 1) * w->psize));
}

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an < bn ? -1 : an > bn ? 1 : 0);
}

static int walk_page(walk *w, uint64_t pg, unsigned depth, unsigned max_depth, bool is_main);

/* Overflow pages of a big value: pgno, its page count and the value size. */
static int walk_overflow(walk *w, uint64_t pg, uint64_t dsize)
{
	if (pg < 2 || pg > w->last_pg)
		return bad(w, "an overflow page number %llu is outside the file", (unsigned long long)pg);
	if (pg >= w->end_pg)
		return truncated(w, pg);
	uint8_t hdr[LM_PAGEHDR];
	int rc = read_page(w, pg, hdr, sizeof(hdr));
	if (rc)
		return rc;
	uint32_t pages = rd32(hdr + 12);
	if (rd64(hdr) != pg || !(rd16(hdr + 10) & P_OVERFLOW))
		return bad(w, "page %llu is not the overflow page it should be", (unsigned long long)pg);
	if (pages == 0 || pg + pages - 1 > w->last_pg ||
	    (uint64_t)pages * w->psize - LM_PAGEHDR < dsize)
		return bad(w, "overflow page %llu has a wrong length", (unsigned long long)pg);
	if (pg + pages - 1 >= w->end_pg)
		return truncated(w, pg + pages - 1);
	for (uint64_t i = pg; i < pg + pages; i++) {
		if (w->seen[i >> 3] & (1u << (i & 7)))
			return bad(w, "page %llu is used twice", (unsigned long long)i);
		w->seen[i >> 3] |= (uint8_t)(1u << (i & 7));
	}
	w->overflow += pages;
	return 0;
}

/* A named sub-database's record in a leaf of the main database. */
static int walk_subdb(walk *w, const uint8_t *data, uint64_t dsize, uint64_t pg)
{
	if (dsize != LM_DB_SIZE)
		return bad(w, "page %llu holds a sub-database record of the wrong size", (unsigned long long)pg);
	lm_db d;
	db_parse(data, &d);
	if (d.flags & ~0x7e) /* only flags mdb_dbi_open accepts */
		return bad(w, "page %llu holds a sub-database record with unknown flags", (unsigned long long)pg);
	walk sub = *w;
	sub.branch = sub.leaf = sub.overflow = sub.entries = 0;
	sub.is_intkey = (d.flags & 0x08) != 0; /* MDB_INTEGERKEY */
	if (d.root != UINT64_MAX) {
		if (d.depth == 0 || d.depth > LM_MAX_DEPTH)
			return bad(w, "page %llu holds a sub-database record with a wrong depth", (unsigned long long)pg);
		int rc = walk_page(&sub, d.root, 1, d.depth, false);
		if (rc)
			return rc;
	}
	if (sub.branch != d.branch_pages || sub.leaf != d.leaf_pages ||
	    sub.overflow != d.overflow_pages || sub.entries != d.entries)
		return bad(w, "a sub-database recorded on page %llu does not add up (pages or "
			      "entries differ from its record)", (unsigned long long)pg);
	return 0;
}

static int walk_page(walk *w, uint64_t pg, unsigned depth, unsigned max_depth, bool is_main)
{
	if (pg < 2 || pg > w->last_pg)
		return bad(w, "a page number %llu is outside the file", (unsigned long long)pg);
	if (pg >= w->end_pg)
		return truncated(w, pg);
	if (depth > max_depth)
		return bad(w, "page %llu is deeper than its tree", (unsigned long long)pg);
	if (w->seen[pg >> 3] & (1u << (pg & 7)))
		return bad(w, "page %llu is used twice", (unsigned long long)pg);
	w->seen[pg >> 3] |= (uint8_t)(1u << (pg & 7));
	uint8_t *p = malloc(w->psize);
	if (!p)
		return strata_err_set(w->err, -ENOMEM, "out of memory verifying \"%s\"", w->path);
	int rc = read_page(w, pg, p, w->psize);
	if (rc)
		goto out;
	uint16_t flags = rd16(p + 10), lower = rd16(p + 12), upper = rd16(p + 14);
	bool is_leaf = (flags & (P_LEAF | P_BRANCH | P_OVERFLOW | P_LEAF2)) == P_LEAF;
	bool is_branch = (flags & (P_LEAF | P_BRANCH | P_OVERFLOW | P_LEAF2)) == P_BRANCH;
	if (rd64(p) != pg) {
		rc = bad(w, "page %llu does not carry its own number", (unsigned long long)pg);
		goto out;
	}
	if (!(is_leaf && depth == max_depth) && !(is_branch && depth < max_depth)) {
		rc = bad(w, "page %llu is not the kind of page its tree needs there", (unsigned long long)pg);
		goto out;
	}
	if (lower < LM_PAGEHDR || lower > upper || upper > w->psize || (lower - LM_PAGEHDR) % 2) {
		rc = bad(w, "page %llu has impossible bounds", (unsigned long long)pg);
		goto out;
	}
	unsigned n = (unsigned)(lower - LM_PAGEHDR) / 2;
	if (n == 0) { /* (LMDB keeps two or more on a branch, but one is safe to follow) */
		rc = bad(w, "page %llu holds too few entries", (unsigned long long)pg);
		goto out;
	}
	const uint8_t *prev_key = NULL;
	size_t prev_n = 0;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		uint16_t off = rd16(p + LM_PAGEHDR + 2 * i);
		if (off < upper || (uint32_t)off + LM_NODEHDR > w->psize) {
			rc = bad(w, "page %llu has a node outside its data area", (unsigned long long)pg);
			break;
		}
		const uint8_t *node = p + off;
		uint16_t lo = rd16(node), hi = rd16(node + 2), nflags = rd16(node + 4);
		uint16_t ksize = rd16(node + 6);
		const uint8_t *key = node + LM_NODEHDR;
		if ((uint32_t)off + LM_NODEHDR + ksize > w->psize) {
			rc = bad(w, "page %llu has a key running past the page", (unsigned long long)pg);
			break;
		}
		/* the first key of a branch page is implicit (empty) */
		if (!(is_branch && i == 0) && !w->is_intkey) {
			if (prev_key && key_cmp(prev_key, prev_n, key, ksize) >= 0) {
				rc = bad(w, "page %llu has keys out of order", (unsigned long long)pg);
				break;
			}
			prev_key = key;
			prev_n = ksize;
		}
		if (is_branch) {
			uint64_t child = (uint64_t)lo | ((uint64_t)hi << 16) | ((uint64_t)nflags << 32);
			rc = walk_page(w, child, depth + 1, max_depth, is_main);
			continue;
		}
		uint64_t dsize = (uint64_t)lo | ((uint64_t)hi << 16);
		const uint8_t *data = key + ksize;
		if (nflags & ~(F_BIGDATA | F_SUBDATA | F_DUPDATA) || (nflags & F_DUPDATA)) {
			rc = bad(w, "page %llu has a node with unknown flags", (unsigned long long)pg);
			break;
		}
		w->entries++;
		if (nflags & F_BIGDATA) {
			if ((uint32_t)off + LM_NODEHDR + ksize + 8 > w->psize) {
				rc = bad(w, "page %llu has a value running past the page", (unsigned long long)pg);
				break;
			}
			rc = walk_overflow(w, rd64(data), dsize);
			continue;
		}
		if ((uint64_t)off + LM_NODEHDR + ksize + dsize > w->psize) {
			rc = bad(w, "page %llu has a value running past the page", (unsigned long long)pg);
			break;
		}
		if (w->is_intkey && !(nflags & F_SUBDATA)) {
			/* a free-list record: [count][count page numbers], every one
			 * inside the file (a writer would reuse them) */
			uint64_t cnt = dsize >= 8 ? rd64(data) : UINT64_MAX;
			/* (a record LMDB reserved may hold room past its count) */
			bool ok = cnt != UINT64_MAX && cnt <= (dsize - 8) / 8;
			for (uint64_t k = 0; ok && k < cnt; k++) {
				uint64_t fp = rd64(data + 8 + 8 * k);
				ok = fp >= 2 && fp <= w->last_pg;
				if (ok && w->free_bits)
					w->free_bits[fp >> 3] |= (uint8_t)(1u << (fp & 7));
			}
			if (!ok) {
				rc = bad(w, "page %llu has a free-list record that does not add up",
					 (unsigned long long)pg);
				break;
			}
			continue;
		}
		if (nflags & F_SUBDATA) {
			if (!is_main) {
				rc = bad(w, "page %llu nests a sub-database where none can be", (unsigned long long)pg);
				break;
			}
			rc = walk_subdb(w, data, dsize, pg);
		}
	}
	if (rc == 0) {
		if (is_branch)
			w->branch++;
		else
			w->leaf++;
	}
out:
	free(p);
	return rc;
}

/* ---- the meta pages ---------------------------------------------------------- */

static int meta_read(walk *w, int i, lm_meta *m)
{
	uint8_t buf[LM_PAGEHDR + 136];
	ssize_t r = pread(w->fd, buf, sizeof(buf), (off_t)i * w->psize);
	if (r != (ssize_t)sizeof(buf))
		return bad(w, "meta page %llu is missing (the file is too short)", (unsigned long long)(uint64_t)i);
	const uint8_t *mp = buf + LM_PAGEHDR;
	m->magic = rd32(mp);
	m->version = rd32(mp + 4);
	db_parse(mp + LM_META_DBS, &m->dbs[0]);
	db_parse(mp + LM_META_DBS + LM_DB_SIZE, &m->dbs[1]);
	m->psize = rd32(mp + LM_META_DBS); /* FREE_DBI's md_pad holds the page size */
	m->last_pg = rd64(mp + LM_META_LAST);
	m->txnid = rd64(mp + LM_META_TXNID);
	if (m->magic != LM_MAGIC || m->version != LM_VERSION)
		return bad(w, "meta page %llu is not an LMDB 0.9 meta page", (unsigned long long)(uint64_t)i);
	return 0;
}

static int verify_tree(walk *w, const lm_db *d, bool is_main, const char *name)
{
	w->branch = w->leaf = w->overflow = w->entries = 0;
	if (d->root == UINT64_MAX)
		return d->entries ? bad(w, "the %s is empty but records %llu entries", name,
					(unsigned long long)d->entries) : 0;
	if (d->depth == 0 || d->depth > LM_MAX_DEPTH)
		return bad(w, "the %s has an impossible depth %u", name, d->depth);
	int rc = walk_page(w, d->root, 1, d->depth, is_main);
	if (rc)
		return rc;
	if (w->branch != d->branch_pages || w->leaf != d->leaf_pages ||
	    w->overflow != d->overflow_pages || w->entries != d->entries)
		return bad(w, "the %s does not add up: %llu entries and %llu pages found, its "
			      "record says %llu and %llu", name, (unsigned long long)w->entries,
			   (unsigned long long)(w->branch + w->leaf + w->overflow),
			   (unsigned long long)d->entries,
			   (unsigned long long)(d->branch_pages + d->leaf_pages + d->overflow_pages));
	return 0;
}

int mf_verify_file(const char *path, uint64_t txnid, bool is_full, strata_err *err)
{
	walk w = {.fd = -1, .path = path, .err = err, .psize = 4096};
	int rc = 0;
	w.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w.fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return strata_err_set(err, STRATA_ENOTFOUND,
					      "the manifest \"%s\" is missing: the warehouse cannot be "
					      "read (restore manifest/ from a backup; only `strata init` "
					      "creates a manifest)",
					      path);
		return strata_err_set(err, rc, "could not open the manifest \"%s\": %s", path,
				      strerror(errno));
	}
	struct stat st;
	if (fstat(w.fd, &st) != 0) {
		rc = strata_err_set(err, -errno, "could not stat \"%s\": %s", path, strerror(errno));
		goto out;
	}
	lm_meta m[2];
	if ((rc = meta_read(&w, 0, &m[0])) != 0)
		goto out;
	if (m[0].psize < 512 || m[0].psize > 65536 || (m[0].psize & (m[0].psize - 1))) {
		rc = bad(&w, "meta page %llu records an impossible page size", (unsigned long long)0);
		goto out;
	}
	w.psize = m[0].psize;
	if ((rc = meta_read(&w, 1, &m[1])) != 0)
		goto out;
	/* the meta LMDB uses: the caller's transaction's, else the newer one */
	const lm_meta *cur = m[1].txnid > m[0].txnid ? &m[1] : &m[0];
	if (txnid) {
		cur = m[0].txnid == txnid ? &m[0] : m[1].txnid == txnid ? &m[1] : NULL;
		if (!cur) {
			rc = STRATA_ECONFLICT; /* moved on meanwhile: the caller retries */
			goto out;
		}
	}
	w.last_pg = cur->last_pg;
	if (w.last_pg < 1 || w.last_pg > (uint64_t)1 << 40) {
		rc = bad(&w, "the meta page records an impossible last page %llu", (unsigned long long)w.last_pg);
		goto out;
	}
	/* a truncated file is SIGBUS once mapped: refuse before LMDB maps it.
	 * A file shorter than the meta's last page is truncated unless every
	 * page past its end is free (the essay) */
	w.file_bytes = (uint64_t)st.st_size;
	w.end_pg = w.file_bytes / w.psize;
	bool is_short = w.end_pg <= w.last_pg;
	if (!is_full && !is_short)
		goto out;
	w.seen = calloc((size_t)(w.last_pg / 8 + 1), 1);
	w.free_bits = is_short ? calloc((size_t)(w.last_pg / 8 + 1), 1) : NULL;
	if (!w.seen || (is_short && !w.free_bits)) {
		rc = strata_err_set(err, -ENOMEM, "out of memory verifying \"%s\"", path);
		goto out;
	}
	w.seen[0] |= 3; /* the meta pages */
	w.is_intkey = true;
	rc = verify_tree(&w, &cur->dbs[0], false, "free-page list");
	w.is_intkey = false;
	if (rc == STRATA_ECORRUPT && is_short) /* the likelier cause, said plainly */
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "the manifest \"%s\" is truncated: it holds %llu bytes but its "
				    "last page ends at byte %llu, and its free list does not say "
				    "that the missing pages are free; nothing was read from it "
				    "(restore manifest/ from a backup; see docs/OPERATIONS.md, \"A "
				    "damaged manifest\")",
				    path, (unsigned long long)w.file_bytes,
				    (unsigned long long)((w.last_pg + 1) * w.psize));
	for (uint64_t pg = w.end_pg; rc == 0 && is_short && pg <= w.last_pg; pg++)
		if (!(w.free_bits[pg >> 3] & (1u << (pg & 7))))
			rc = truncated(&w, pg);
	if (rc == 0 && is_full)
		rc = verify_tree(&w, &cur->dbs[1], true, "main database");
out:
	free(w.seen);
	free(w.free_bits);
	close(w.fd);
	return rc;
}
