/*
 * format/merge.c — the k-way merge iterator (see format.h for the rules).
 *
 * Design: a binary min-heap of runs ordered by their current record (key asc,
 * then _seq desc, then run index for determinism).  A record handed out stays
 * valid until the next call, so the run it came from is advanced lazily at
 * the start of the next call.  The current key is copied into the merge's own
 * buffer, so per-key decisions never depend on a run's lent memory.
 *
 * Invariants:
 *   1. output is in (key asc, _seq desc) order if every run is (the runs
 *      check their own order and fail with STRATA_ECORRUPT otherwise);
 *   2. per key, the rule decides on records in _seq-descending order: the
 *      first record seen for a key is its newest;
 *   3. no (key, _seq) is emitted twice;
 *   4. a seek only moves forward: to a key past every key already read and
 *      not before the previous seek's key (any key before the first next()
 *      and seek), and no record at or past it is lost, whatever the runs'
 *      kinds (row files only read forward).  A backward seek is refused
 *      rather than supported: a row file has no index, so going back means
 *      reopening the file, which only the merge's creator can do (it owns
 *      the paths and options); no reader needs it.
 */
#include "format/format.h"

#include <stdlib.h>
#include <string.h>

typedef struct merge_src {
	strata_run *run;
	const strata_row *row;
	const uint8_t *key;
	size_t key_len;
	bool is_done;
} merge_src;

struct strata_merge {
	merge_src *src;
	size_t nsrc;
	size_t *heap; /* indexes into src */
	size_t nheap;
	strata_merge_rule rule;
	int64_t boundary;
	bool drop_deletes;
	ssize_t pending; /* src to advance before the next decision, or -1 */
	strata_buf cur_key;
	bool has_cur;
	bool cur_emitted_le_b; /* BOUNDARY: newest <= B handled */
	int64_t last_seq;      /* last seq seen for cur_key */
	bool has_last_seq;
	strata_buf seek_key; /* invariant 4: the last seek's key */
	bool has_seek;
	uint64_t rows_in, rows_out;
};

static int src_cmp(const strata_merge *m, size_t a, size_t b)
{
	const merge_src *x = &m->src[a], *y = &m->src[b];
	int c = strata_key_cmp_inline(x->key, x->key_len, y->key, y->key_len);
	if (c)
		return c;
	if (x->row->seq != y->row->seq)
		return x->row->seq > y->row->seq ? -1 : 1;
	return a < b ? -1 : a > b ? 1 : 0;
}

static void heap_down(strata_merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < m->nheap && src_cmp(m, m->heap[l], m->heap[best]) < 0)
			best = l;
		if (r < m->nheap && src_cmp(m, m->heap[r], m->heap[best]) < 0)
			best = r;
		if (best == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[best];
		m->heap[best] = t;
		i = best;
	}
}

static int src_advance(strata_merge *m, size_t i, strata_err *err)
{
	merge_src *s = &m->src[i];
	int rc = strata_run_next(s->run, &s->row, &s->key, &s->key_len, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		s->is_done = true;
	else
		m->rows_in++;
	return 0;
}

/* Advance the heap top and restore the heap. */
static int heap_pop_advance(strata_merge *m, strata_err *err)
{
	size_t top = m->heap[0];
	int rc = src_advance(m, top, err);
	if (rc)
		return rc;
	if (m->src[top].is_done) {
		m->heap[0] = m->heap[--m->nheap];
	}
	if (m->nheap)
		heap_down(m, 0);
	return 0;
}

static int heap_build(strata_merge *m, strata_err *err)
{
	m->nheap = 0;
	for (size_t i = 0; i < m->nsrc; i++) {
		m->src[i].is_done = false;
		int rc = src_advance(m, i, err);
		if (rc)
			return rc;
		if (!m->src[i].is_done)
			m->heap[m->nheap++] = i;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		heap_down(m, i);
	return 0;
}

int strata_merge_new(strata_run **runs, size_t n, strata_merge_rule rule, int64_t boundary,
		     bool drop_deletes, strata_merge **out, strata_err *err)
{
	strata_merge *m = strata_calloc(1, sizeof(*m));
	m->src = strata_calloc(n + 1, sizeof(merge_src));
	m->heap = strata_calloc(n + 1, sizeof(size_t));
	m->nsrc = n;
	for (size_t i = 0; i < n; i++)
		m->src[i].run = runs[i];
	m->rule = rule;
	m->boundary = boundary;
	m->drop_deletes = drop_deletes;
	m->pending = -1;
	int rc = heap_build(m, err);
	if (rc) {
		strata_merge_free(m);
		*out = NULL;
		return rc;
	}
	*out = m;
	return 0;
}

/* invariant 4: a seek goes forward only.  A run's head record (read by
 * heap_build or by the last advance, not yet taken) is kept when it is at or
 * past the key: a row file cannot seek backwards, so seeking it again would
 * skip that record.  Only runs whose head lies below the key are sought. */
int strata_merge_seek(strata_merge *m, const uint8_t *key, size_t key_len, strata_err *err)
{
	if ((m->has_cur && strata_key_cmp(key, key_len, m->cur_key.data, m->cur_key.len) <= 0) ||
	    (m->has_seek && strata_key_cmp(key, key_len, m->seek_key.data, m->seek_key.len) < 0))
		return strata_err_set(err, STRATA_EINVAL,
				      "cannot seek a merge back to a key at or before one it "
				      "has already read (merges read forward: open a new merge "
				      "to read that key again)");
	strata_buf_reset(&m->seek_key);
	strata_buf_append(&m->seek_key, key, key_len);
	m->has_seek = true;
	ssize_t taken = m->pending; /* its head was handed out: it is below key */
	m->pending = -1;
	m->has_cur = false;
	m->has_last_seq = false;
	m->nheap = 0;
	for (size_t i = 0; i < m->nsrc; i++) {
		merge_src *s = &m->src[i];
		if (s->is_done)
			continue; /* every record it had lay below key */
		if ((ssize_t)i != taken && strata_key_cmp(s->key, s->key_len, key, key_len) >= 0) {
			m->heap[m->nheap++] = i;
			continue;
		}
		int rc = strata_run_seek(s->run, key, key_len, err);
		if (rc == 0)
			rc = src_advance(m, i, err);
		if (rc)
			return rc;
		if (!s->is_done)
			m->heap[m->nheap++] = i;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		heap_down(m, i);
	return 0;
}

int strata_merge_next(strata_merge *m, const strata_row **row, const uint8_t **key,
		      size_t *key_len, strata_err *err)
{
	if (m->pending >= 0) {
		m->pending = -1;
		int rc = heap_pop_advance(m, err);
		if (rc)
			return rc;
	}
	while (m->nheap > 0) {
		merge_src *s = &m->src[m->heap[0]];
		int key_order = m->has_cur ? strata_key_cmp_inline(s->key, s->key_len,
								   m->cur_key.data, m->cur_key.len) :
					     1;
		bool is_same_key = key_order == 0;
		/* invariant 1: keys ascend, and within a key _seq descends (equal
		 * is a duplicate, invariant 3) */
		STRATA_ASSERT(key_order >= 0, "merge output went back to an earlier key "
			      "(_seq %lld after a key it passed)", (long long)s->row->seq);
		STRATA_ASSERT(!is_same_key || !m->has_last_seq || s->row->seq <= m->last_seq,
			      "merge output of one key went from _seq %lld up to %lld",
			      (long long)m->last_seq, (long long)s->row->seq);
		if (!is_same_key) {
			strata_buf_reset(&m->cur_key);
			strata_buf_append(&m->cur_key, s->key, s->key_len);
			m->has_cur = true;
			m->cur_emitted_le_b = false;
			m->has_last_seq = false;
		}
		/* invariant 3 */
		bool is_dup = m->has_last_seq && s->row->seq == m->last_seq;
		bool is_first = !m->has_last_seq; /* invariant 2: newest of its key */
		m->last_seq = s->row->seq;
		m->has_last_seq = true;
		bool emit;
		bool is_delete = s->row->op == STRATA_OP_DELETE;
		switch (m->rule) {
		case STRATA_MERGE_KEEP_ALL:
			emit = !is_dup;
			break;
		case STRATA_MERGE_BOUNDARY:
			if (is_dup) {
				emit = false;
			} else if (s->row->seq > m->boundary) {
				emit = true;
			} else if (!m->cur_emitted_le_b) {
				m->cur_emitted_le_b = true;
				emit = !(is_delete && m->drop_deletes);
			} else {
				emit = false;
			}
			break;
		case STRATA_MERGE_LATEST:
		default:
			emit = is_first && !(is_delete && m->drop_deletes);
			break;
		}
		if (emit) {
			m->pending = (ssize_t)m->heap[0];
			m->rows_out++;
			*row = s->row;
			if (key)
				*key = s->key;
			if (key_len)
				*key_len = s->key_len;
			return 1;
		}
		int rc = heap_pop_advance(m, err);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t strata_merge_rows_in(const strata_merge *m)
{
	return m->rows_in;
}

uint64_t strata_merge_rows_out(const strata_merge *m)
{
	return m->rows_out;
}

uint64_t strata_merge_rows_decoded(const strata_merge *m)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->nsrc; i++)
		n += strata_run_rows_decoded(m->src[i].run);
	return n;
}

void strata_merge_free(strata_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsrc; i++)
		strata_run_close(m->src[i].run);
	free(m->src);
	free(m->heap);
	strata_buf_free(&m->cur_key);
	strata_buf_free(&m->seek_key);
	free(m);
}
