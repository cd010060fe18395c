/*
 * format/parquet_read.c — the columnar-file reader: a streaming, validating
 * Parquet decoder for strata's own files and a flat subset of foreign ones;
 * it also lends its checked footer to `strata file meta` (format/describe.c,
 * pr_meta_* in parquet_int.h).
 *
 * Design.  The footer is read once and decoded into an arena
 * (parquet_meta.c).  Each needed column then streams its column chunk page
 * by page through the page decoder both readers share (parquet_page.c: a
 * page header read with a small window, usually with the page body in the
 * same pread; CRC, decompression into a per-column buffer, dictionaries,
 * every encoding, nulls), which decodes batches of up to PR_BATCH rows into
 * typed arrays; here they become strata_values that point into the page (or
 * the dictionary).  A batch never spans two pages, so one page per column
 * is all that is held; next() hands out one row from the batches of the
 * needed columns.
 *
 * seek(key) prunes row groups with the first key column's chunk statistics,
 * then pages with its ColumnIndex, jumps every needed column to that page
 * through its OffsetIndex, then decodes the first key column alone up to
 * the key inside the page and skips (without decoding) the other columns'
 * values before it; the generic layer skips the few records below the key
 * that share its first key column.  A point lookup reads at most one page
 * per needed column per candidate row group and decodes about one record.
 *
 * Supported: INT32, INT64, FLOAT, DOUBLE, BOOLEAN, BYTE_ARRAY; flat REQUIRED
 * and OPTIONAL columns; data pages V1 and V2; PLAIN, PLAIN_DICTIONARY,
 * RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT; UNCOMPRESSED and ZSTD.
 * Everything else is STRATA_EUNSUPPORTED naming the file, the column and
 * what is unsupported.
 *
 * Invariants:
 *   1. every offset, length and count from the file is checked against the
 *      file size, the column chunk and the limits (PQ_* in parquet_int.h,
 *      PR_INDEX_MAX) before it is used; damage is STRATA_ECORRUPT naming
 *      the file and what is wrong, never a crash, a hang or an allocation
 *      beyond PQ_PAGE_MAX;
 *   2. a batch of values never spans pages, so values stay valid until the
 *      next call and memory is one page (+ dictionary) per needed column;
 *   3. all columns advance in lock step: a column whose pages hold more or
 *      fewer values than its row group's rows is damage;
 *   4. page skipping uses statistics only where they bound every value:
 *      integer and byte bounds always, float bounds only with a zero NaN
 *      count; anything unusable means "cannot skip", never a wrong skip;
 *   5. a page whose header carries a crc is checked against it (CRC-32 of
 *      its bytes as stored after the header) before anything is decoded
 *      (pq_page_fetch): point lookups, which read single pages, get
 *      page-level protection;
 *   6. when the caller will verify the content hash (want_hash), each
 *      column chunk read from its first byte to its last in order is
 *      streamed through its own XXH3-64 as its pages arrive (pq_col_open,
 *      pq_page_fetch); content_hash() combines those with a raw read of
 *      whatever was not decoded (other columns, page indexes, footer) into
 *      the file's content hash (format.h) — a whole read verifies without
 *      reading a page twice;
 *   7. with the manifest's footer hash (check_footer, right after open),
 *      the footer's statistics and offsets are trusted only once its bytes
 *      match: point lookups prune row groups with them.
 *
 * One thread per reader.
 */
#include "format/parquet_int.h"
#include "format/parquet_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values decoded at a time per column.  Small enough that a k-way merge's
 * batches (k files x columns x PR_BATCH x 16 bytes) stay in L2 between
 * decoding and use: at 1024 an 8-file merge of 11 columns kept 1.4 MB of
 * them and spent a fifth of its time on cache misses writing and reading
 * them (bench_jobs: 8-way merge 20-35% faster at 256). */
#define PR_BATCH 256
#define PR_INDEX_MAX PQ_INDEX_MAX      /* one ColumnIndex or OffsetIndex */

/* ---- state --------------------------------------------------------------- */

typedef struct pr_col {
	pq_col pc; /* the chunk, its pages and values (parquet_page.c) */
	const pq_schema_elem *el;
	strata_type stype;
	bool is_open;
	/* batch */
	strata_value vals[PR_BATCH];
	uint32_t nb, ib;
} pr_col;

typedef struct pr {
	pq_file f; /* the file, its page buffer, zstd, chunk hashes */
	char *path;
	strata_arena *meta_arena;
	uint8_t *footer;
	size_t footer_len;
	pq_file_meta fm;
	uint32_t nleaves;
	const pq_schema_elem **leaves;
	strata_schema *own_schema;
	const strata_schema *schema;
	int *leaf_of_col; /* strata column -> leaf */
	int seq_leaf, op_leaf;
	bool has_seq;
	const bool *need;
	pr_col *cols;   /* one per strata column, then _seq, then _op */
	uint32_t ncols; /* strata columns */
	uint32_t rg;
	int64_t rg_row;
	bool is_rg_open;
	/* seek */
	strata_arena *seek_arena;
	int idx_rg; /* row group whose indexes are cached, or -1 */
	pq_offset_index **oi; /* per decoded column (ncols + 2) */
	bool *oi_loaded;
	bool has_seeked;
	/* masking (invariant 8): the test, the masked row ranges of the open
	 * row group, the next one, and how far the other columns were skipped */
	strata_unit_fn mask_fn;
	void *mask_arg;
	uint64_t *mask_pages;
	struct pr_range {
		int64_t start, end;
	} *mask;
	uint32_t nmask, mask_cap, mask_i;
	int64_t mask_pos;
	strata_colstat *mask_cols;
	bool *is_key_col;
	/* a batch as the page decoder writes it, before it becomes values */
	_Alignas(16) uint8_t values[PR_BATCH * sizeof(strata_strref)];
	uint8_t nulls[PR_BATCH];
} pr;

/* ---- messages -------------------------------------------------------------- */

#define CORRUPT(r, ...) strata_err_set(err, STRATA_ECORRUPT, __VA_ARGS__)

static int col_corrupt(pr *r, const pr_col *c, strata_err *err, const char *what)
{
	return pq_col_corrupt(&r->f, &c->pc, err, what);
}

/* Walk the schema tree: the root, then only leaves (flat).  Nested groups
 * and repeated fields are unsupported; inconsistent counts are damage. */
static int check_schema_tree(pr *r, strata_err *err)
{
	const pq_file_meta *m = &r->fm;
	if (m->nschema < 1)
		return CORRUPT(r, "\"%s\": empty Parquet schema", r->path);
	const pq_schema_elem *root = &m->schema[0];
	if (root->num_children < 0 || root->type >= 0)
		return CORRUPT(r, "\"%s\": the Parquet schema root is not a group", r->path);
	for (uint32_t i = 1; i < m->nschema; i++) {
		const pq_schema_elem *e = &m->schema[i];
		if (e->num_children > 0 || (e->type < 0 && e->num_children >= 0))
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": unsupported nested column \"%s\" (only flat "
					      "columns are read)",
					      r->path, e->name);
		if (e->type < 0)
			return CORRUPT(r, "\"%s\": column \"%s\" has no type", r->path, e->name);
		if (e->repetition == PQ_REPEATED)
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "\"%s\": unsupported repeated column \"%s\"", r->path,
					      e->name);
		if (e->repetition != PQ_REQUIRED && e->repetition != PQ_OPTIONAL)
			return CORRUPT(r, "\"%s\": column \"%s\" has repetition %d", r->path, e->name,
				       e->repetition);
	}
	if ((uint32_t)root->num_children != m->nschema - 1)
		return CORRUPT(r, "\"%s\": schema root claims %d children, %u elements follow",
			       r->path, root->num_children, m->nschema - 1);
	if (m->nschema - 1 > STRATA_MAX_COLS + 2)
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "\"%s\": %u columns, more than strata's %d", r->path,
				      m->nschema - 1, STRATA_MAX_COLS);
	r->nleaves = m->nschema - 1;
	r->leaves = strata_arena_alloc(r->meta_arena, sizeof(void *) * (r->nleaves + 1));
	for (uint32_t i = 0; i < r->nleaves; i++)
		r->leaves[i] = &m->schema[i + 1];
	return 0;
}

/* The strata type a leaf reads as, or an unsupported error. */
static int leaf_type(pr *r, const pq_schema_elem *e, strata_type *out, strata_err *err)
{
	const char *why = NULL;
	int ct = e->converted;
	int lt = e->logical.kind;
	switch (e->type) {
	case PQ_INT64:
		if (lt == PQ_LT_TIMESTAMP || ct == PQ_CT_TIMESTAMP_MICROS ||
		    ct == PQ_CT_TIMESTAMP_MILLIS) {
			int unit = lt == PQ_LT_TIMESTAMP ? e->logical.unit :
				   ct == PQ_CT_TIMESTAMP_MILLIS ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
			if (unit != PQ_UNIT_MICROS) {
				why = unit == PQ_UNIT_MILLIS ? "TIMESTAMP(MILLIS)" : "TIMESTAMP(NANOS)";
				break;
			}
			*out = STRATA_T_TIMESTAMP;
			return 0;
		}
		if (ct == PQ_CT_UINT_64 || (lt == PQ_LT_INTEGER && !e->logical.is_signed)) {
			why = "UINT64";
			break;
		}
		if (lt == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL) {
			why = "DECIMAL";
			break;
		}
		if (lt == PQ_LT_TIME || ct == PQ_CT_TIME_MICROS) {
			why = "TIME";
			break;
		}
		*out = STRATA_T_LONG;
		return 0;
	case PQ_INT32:
		if (ct == PQ_CT_UINT_32 || (lt == PQ_LT_INTEGER && !e->logical.is_signed &&
					    e->logical.bit_width == 32)) {
			why = "UINT32";
			break;
		}
		if (lt == PQ_LT_DATE || ct == PQ_CT_DATE) {
			why = "DATE";
			break;
		}
		if (lt == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL) {
			why = "DECIMAL";
			break;
		}
		if (lt == PQ_LT_TIME || ct == PQ_CT_TIME_MILLIS) {
			why = "TIME";
			break;
		}
		*out = STRATA_T_INT;
		return 0;
	case PQ_FLOAT:
		*out = STRATA_T_FLOAT;
		return 0;
	case PQ_DOUBLE:
		*out = STRATA_T_DOUBLE;
		return 0;
	case PQ_BOOLEAN:
		*out = STRATA_T_BOOL;
		return 0;
	case PQ_BYTE_ARRAY:
		if (lt == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL) {
			why = "DECIMAL";
			break;
		}
		*out = (lt == PQ_LT_STRING || lt == PQ_LT_ENUM || lt == PQ_LT_JSON ||
			ct == PQ_CT_UTF8 || ct == PQ_CT_ENUM || ct == PQ_CT_JSON) ?
			       STRATA_T_STRING :
			       STRATA_T_BYTES;
		return 0;
	case PQ_INT96:
		why = "INT96";
		break;
	case PQ_FIXED_LEN_BYTE_ARRAY:
		why = "FIXED_LEN_BYTE_ARRAY";
		break;
	default:
		return CORRUPT(r, "\"%s\": column \"%s\" has physical type %d", r->path, e->name,
			       e->type);
	}
	return strata_err_set(err, STRATA_EUNSUPPORTED, "\"%s\": unsupported type %s in column \"%s\"",
			      r->path, why, e->name);
}

static const pq_kv *find_kv(const pq_file_meta *m, const char *key)
{
	for (uint32_t i = 0; i < m->nkv; i++)
		if (strcmp(m->kv[i].key, key) == 0 && m->kv[i].has_value)
			return &m->kv[i];
	return NULL;
}

/* Map schema s (expected or from strata.schema) onto the leaves by field id. */
static int match_schema(pr *r, const strata_schema *s, strata_err *err)
{
	uint32_t nuser = 0;
	for (uint32_t l = 0; l < r->nleaves; l++) {
		const pq_schema_elem *e = r->leaves[l];
		if ((int)l == r->seq_leaf || (int)l == r->op_leaf)
			continue;
		nuser++;
		if (!e->has_field_id || e->field_id <= 0 ||
		    strata_schema_find_id(s, (uint32_t)e->field_id) < 0)
			return CORRUPT(r,
				       "\"%s\": column \"%s\" (field id %d) is not in schema "
				       "version %u",
				       r->path, e->name, e->has_field_id ? e->field_id : 0,
				       s->version);
	}
	if (nuser != s->ncols)
		return CORRUPT(r, "\"%s\": file has %u columns, schema version %u has %u", r->path,
			       nuser, s->version, s->ncols);
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		int leaf = -1;
		for (uint32_t l = 0; l < r->nleaves; l++)
			if (r->leaves[l]->has_field_id && r->leaves[l]->field_id == (int32_t)c->id &&
			    (int)l != r->seq_leaf && (int)l != r->op_leaf) {
				if (leaf >= 0)
					return CORRUPT(r, "\"%s\": two columns have field id %u",
						       r->path, c->id);
				leaf = (int)l;
			}
		if (leaf < 0)
			return CORRUPT(r, "\"%s\": column \"%s\" (field id %u) is missing from the "
					  "file",
				       r->path, c->name, c->id);
		const pq_schema_elem *e = r->leaves[leaf];
		strata_type ft;
		int rc = leaf_type(r, e, &ft, err);
		if (rc)
			return rc;
		bool ok = e->type == pq_ptype_of(c->type) &&
			  (ft == c->type || (ft == STRATA_T_BYTES && c->type == STRATA_T_STRING) ||
			   (ft == STRATA_T_STRING && c->type == STRATA_T_BYTES) ||
			   (ft == STRATA_T_LONG && c->type == STRATA_T_TIMESTAMP));
		if (!ok)
			return CORRUPT(r, "\"%s\": column \"%s\" is %s in the file but %s in schema "
					  "version %u",
				       r->path, c->name, pq_type_name(e->type),
				       strata_type_name(c->type), s->version);
		if (c->key_pos >= 0 && e->repetition != PQ_REQUIRED)
			return CORRUPT(r, "\"%s\": key column \"%s\" is not REQUIRED in the file",
				       r->path, c->name);
		r->leaf_of_col[i] = leaf;
	}
	return 0;
}

static int build_schema(pr *r, const strata_schema *file_schema, strata_err *err)
{
	int rc;
	r->seq_leaf = r->op_leaf = -1;
	for (uint32_t l = 0; l < r->nleaves; l++) {
		const pq_schema_elem *e = r->leaves[l];
		if (strcmp(e->name, STRATA_COL_SEQ) == 0 && e->type == PQ_INT64 && r->seq_leaf < 0)
			r->seq_leaf = (int)l;
		else if (strcmp(e->name, STRATA_COL_OP) == 0 && e->type == PQ_INT32 && r->op_leaf < 0)
			r->op_leaf = (int)l;
	}
	r->has_seq = r->seq_leaf >= 0;
	const pq_kv *kv = find_kv(&r->fm, STRATA_META_SCHEMA);
	strata_schema *s = NULL;
	if (file_schema) {
		s = strata_schema_dup(file_schema);
	} else if (kv) {
		strata_err jerr;
		rc = strata_schema_from_json((const char *)kv->value.p, kv->value.len, &s, &jerr);
		if (rc)
			return CORRUPT(r, "\"%s\": metadata %s is damaged: %s", r->path,
				       STRATA_META_SCHEMA, jerr.msg);
	}
	if (s) {
		r->own_schema = s;
		if (s->nkeys > 0 && (r->seq_leaf < 0 || r->op_leaf < 0))
			return CORRUPT(r, "\"%s\": a strata file must have %s and %s columns",
				       r->path, STRATA_COL_SEQ, STRATA_COL_OP);
		r->leaf_of_col = strata_calloc(s->ncols + 1, sizeof(int));
		rc = match_schema(r, s, err);
		if (rc)
			return rc;
	} else {
		/* a foreign file: ids 1..n in leaf order, no key columns */
		s = strata_schema_new(0);
		r->own_schema = s;
		r->leaf_of_col = strata_calloc(r->nleaves + 1, sizeof(int));
		for (uint32_t l = 0; l < r->nleaves; l++) {
			if ((int)l == r->seq_leaf || (int)l == r->op_leaf)
				continue;
			const pq_schema_elem *e = r->leaves[l];
			strata_column c;
			memset(&c, 0, sizeof(c));
			snprintf(c.name, sizeof(c.name), "%s", e->name);
			rc = leaf_type(r, e, &c.type, err);
			if (rc)
				return rc;
			c.id = s->ncols + 1;
			c.is_nullable = e->repetition == PQ_OPTIONAL;
			c.key_pos = -1;
			r->leaf_of_col[s->ncols] = (int)l;
			strata_schema_add(s, &c, NULL);
		}
	}
	r->schema = s;
	return 0;
}

/* Per-row-group, per-column checks that do not need the data. */
static int check_row_groups(pr *r, strata_err *err)
{
	const pq_file_meta *m = &r->fm;
	int64_t total = 0;
	for (uint32_t g = 0; g < m->nrow_groups; g++) {
		const pq_row_group *rg = &m->row_groups[g];
		if (rg->num_rows < 0 || rg->num_rows > INT64_MAX / 2)
			return CORRUPT(r, "\"%s\": row group %u has %lld rows", r->path, g,
				       (long long)rg->num_rows);
		if (rg->ncols != r->nleaves)
			return CORRUPT(r, "\"%s\": row group %u has %u column chunks for %u columns",
				       r->path, g, rg->ncols, r->nleaves);
		total += rg->num_rows;
		if (total > INT64_MAX / 2)
			return CORRUPT(r, "\"%s\": too many rows", r->path);
		for (uint32_t l = 0; l < rg->ncols; l++) {
			const pq_column_chunk *cc = &rg->cols[l];
			const pq_schema_elem *e = r->leaves[l];
			if (cc->is_encrypted)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": column \"%s\" is encrypted", r->path,
						      e->name);
			if (cc->has_file_path)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": column \"%s\" lives in another file",
						      r->path, e->name);
			if (!cc->has_meta)
				return CORRUPT(r, "\"%s\": column \"%s\" in row group %u lacks metadata",
					       r->path, e->name, g);
			const pq_column_meta *cm = &cc->meta;
			if (cm->type != e->type)
				return CORRUPT(r, "\"%s\": column \"%s\" is %s in row group %u but %s "
						  "in the schema",
					       r->path, e->name, pq_type_name(cm->type), g,
					       pq_type_name(e->type));
			if (cm->codec != PQ_UNCOMPRESSED && cm->codec != PQ_ZSTD)
				return strata_err_set(err, STRATA_EUNSUPPORTED,
						      "\"%s\": unsupported compression %s in column "
						      "\"%s\" (strata reads UNCOMPRESSED and ZSTD)",
						      r->path, pq_codec_name(cm->codec), e->name);
			if (cm->num_values != rg->num_rows)
				return CORRUPT(r, "\"%s\": column \"%s\" has %lld values in row group %u "
						  "of %lld rows",
					       r->path, e->name, (long long)cm->num_values, g,
					       (long long)rg->num_rows);
		}
	}
	if (total != m->num_rows)
		return CORRUPT(r, "\"%s\": row groups hold %lld rows, the footer says %lld", r->path,
			       (long long)total, (long long)m->num_rows);
	return 0;
}

/* ---- page index checksums (invariant 7) ---------------------------------------- */

/* Check a column index (kind 0) or offset index (kind 1) blob of leaf in
 * row group g against the footer's strata.index_hashes, when it has them
 * (files of older strata versions and foreign files do not). */
static int index_check(pr *r, uint32_t g, int leaf, int kind, const uint8_t *buf, size_t n,
		       strata_err *err)
{
	const pq_kv *kv = find_kv(&r->fm, STRATA_META_INDEX_HASHES);
	size_t want = (size_t)r->fm.nrow_groups * r->nleaves * 32;
	if (!kv || kv->value.len != want || leaf < 0)
		return 0;
	const uint8_t *p = kv->value.p + ((size_t)g * r->nleaves + (size_t)leaf) * 32 +
			   (size_t)kind * 16;
	uint64_t h = 0;
	for (int i = 0; i < 16; i++) {
		int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
			p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
		if (d < 0)
			return CORRUPT(r, "\"%s\": damaged %s in the footer", r->path,
				       STRATA_META_INDEX_HASHES);
		h = h << 4 | (uint64_t)d;
	}
	uint64_t got = XXH3_64bits(buf, n);
	if (got != h)
		return CORRUPT(r, "\"%s\": %s index of column \"%s\" in row group %u: checksum "
				  "mismatch (expected %016llx, got %016llx)",
			       r->path, kind ? "offset" : "column", r->leaves[leaf]->name, g,
			       (unsigned long long)h, (unsigned long long)got);
	return 0;
}

/* ---- batches ------------------------------------------------------------------ */

/* Fill c's batch with up to max rows from one page (invariant 2): the page
 * decoder's typed values, turned into strata_values. */
static int col_fill(pr *r, pr_col *c, int64_t max, strata_err *err)
{
	pq_col *pc = &c->pc;
	c->nb = c->ib = 0;
	if (pc->page_left == 0) {
		int rc = pq_page_next(&r->f, pc, err);
		if (rc)
			return rc;
	}
	uint32_t k = PR_BATCH;
	if ((int64_t)k > pc->page_left)
		k = (uint32_t)pc->page_left;
	if ((int64_t)k > max)
		k = (uint32_t)max;
	const uint8_t *nulls = r->nulls;
	int rc = pq_page_rows(&r->f, pc, r->values, r->nulls, k, err);
	if (rc)
		return rc;
	strata_value *v = c->vals;
	switch (pc->ptype) {
	case PQ_INT64:
	case PQ_DOUBLE: /* the 8 bytes of v.i64 or v.f64 */
		for (uint32_t i = 0; i < k; i++) {
			v[i].is_null = nulls[i];
			memcpy(&v[i].v, r->values + (size_t)i * 8, 8);
		}
		break;
	case PQ_INT32:
	case PQ_FLOAT: /* the 4 bytes of v.i32 or v.f32 */
		for (uint32_t i = 0; i < k; i++) {
			v[i].is_null = nulls[i];
			memcpy(&v[i].v, r->values + (size_t)i * 4, 4);
		}
		break;
	case PQ_BOOLEAN:
		for (uint32_t i = 0; i < k; i++) {
			v[i].is_null = nulls[i];
			v[i].v.b = r->values[i] != 0;
		}
		break;
	default: {
		const strata_strref *x = (const strata_strref *)r->values;
		for (uint32_t i = 0; i < k; i++) {
			v[i].is_null = nulls[i];
			v[i].v.s.ptr = x[i].ptr;
			v[i].v.s.len = x[i].len;
		}
		break;
	}
	}
	if (pc->has_defs && memchr(nulls, 1, k)) /* a null's value is all zero */
		for (uint32_t i = 0; i < k; i++)
			if (nulls[i]) {
				memset(&v[i], 0, sizeof(v[i]));
				v[i].is_null = true;
			}
	c->nb = k;
	return 0;
}

/* ---- row groups and positioning ------------------------------------------------ */

static void col_page_reset(pr_col *c)
{
	c->pc.page_left = 0;
	c->nb = c->ib = 0;
	c->pc.is_values_ready = false;
}

/* Open column c's chunk in row group g, positioned at the start (and,
 * invariant 6, hashed as it streams when the caller wants the hash). */
static int col_open(pr *r, pr_col *c, uint32_t g, strata_err *err)
{
	int rc = pq_col_open(&r->f, &r->fm, &c->pc, g, err);
	if (rc)
		return rc;
	c->is_open = true;
	col_page_reset(c);
	return 0;
}

static bool col_is_decoded(const pr *r, uint32_t i)
{
	if (i >= r->ncols)
		return true; /* _seq, _op */
	return !r->need || r->need[i];
}

static pr_col *col_at(pr *r, uint32_t i)
{
	return &r->cols[i];
}

static uint32_t ncols_total(const pr *r)
{
	return r->ncols + 2;
}

static bool col_exists(const pr *r, uint32_t i)
{
	return r->cols[i].pc.leaf >= 0;
}

/* Load (once per row group) the offset index of column c in row group g;
 * NULL if the file has none.  Validated against the chunk. */
static int offset_index_get(pr *r, uint32_t g, uint32_t i, pq_offset_index **out,
			    strata_err *err)
{
	*out = NULL;
	if (r->idx_rg != (int)g) {
		strata_arena_reset(r->seek_arena);
		memset(r->oi_loaded, 0, sizeof(bool) * ncols_total(r));
		r->idx_rg = (int)g;
	}
	if (r->oi_loaded[i]) {
		*out = r->oi[i];
		return 0;
	}
	pr_col *c = col_at(r, i);
	const pq_column_chunk *cc = &r->fm.row_groups[g].cols[c->pc.leaf];
	r->oi_loaded[i] = true;
	r->oi[i] = NULL;
	if (!cc->has_offset_index)
		return 0;
	if (cc->offset_index_offset < 4 || cc->offset_index_length <= 0 ||
	    (uint64_t)cc->offset_index_length > PR_INDEX_MAX ||
	    (uint64_t)cc->offset_index_offset > r->f.size - 8 ||
	    (uint64_t)cc->offset_index_length > r->f.size - 8 - (uint64_t)cc->offset_index_offset)
		return CORRUPT(r, "\"%s\": offset index of column \"%s\" in row group %u lies "
				  "outside the file",
			       r->path, c->pc.name, g);
	uint8_t *buf = strata_arena_alloc(r->seek_arena, (size_t)cc->offset_index_length);
	int rc = strata_rfile_read(r->f.rf, buf, (size_t)cc->offset_index_length,
				   (uint64_t)cc->offset_index_offset, err);
	if (rc == 0)
		rc = index_check(r, g, c->pc.leaf, 1, buf, (size_t)cc->offset_index_length, err);
	if (rc)
		return rc;
	pq_offset_index *oi = strata_arena_alloc(r->seek_arena, sizeof(*oi));
	rc = pq_offset_index_read(buf, (size_t)cc->offset_index_length, r->seek_arena, oi,
				  r->path, err);
	if (rc)
		return rc;
	uint64_t start, end;
	rc = pq_chunk_range(&r->f, &r->fm, g, c->pc.leaf, c->pc.name, &start, &end, err);
	if (rc)
		return rc;
	int64_t nrows = r->fm.row_groups[g].num_rows;
	bool ok = nrows == 0 || oi->npages > 0;
	for (uint32_t p = 0; ok && p < oi->npages; p++) {
		const pq_page_location *pl = &oi->pages[p];
		ok = pl->offset >= (int64_t)start && pl->compressed_size > 0 &&
		     (uint64_t)pl->offset + (uint64_t)pl->compressed_size <= end &&
		     pl->first_row >= 0 && pl->first_row < nrows &&
		     (p == 0 ? pl->first_row == 0 :
			       pl->first_row > oi->pages[p - 1].first_row &&
				       pl->offset >= oi->pages[p - 1].offset +
							      oi->pages[p - 1].compressed_size);
	}
	if (!ok)
		return CORRUPT(r, "\"%s\": offset index of column \"%s\" in row group %u does not "
				  "match its column chunk",
			       r->path, c->pc.name, g);
	r->oi[i] = oi;
	*out = oi;
	return 0;
}

/* Position column i of row group g at row `row` (its chunk already open at
 * the start): jump with the offset index, then skip inside the page. */
static int col_seek_row(pr *r, uint32_t i, uint32_t g, int64_t row, strata_err *err)
{
	pr_col *c = col_at(r, i);
	if (row == 0)
		return 0;
	pq_offset_index *oi;
	int rc = offset_index_get(r, g, i, &oi, err);
	if (rc)
		return rc;
	if (oi) {
		uint32_t p = 0;
		while (p + 1 < oi->npages && oi->pages[p + 1].first_row <= row)
			p++;
		/* something before the first data page is the dictionary: read it
		 * before jumping */
		if ((uint64_t)oi->pages[0].offset > c->pc.chunk_start) {
			pq_page_header h;
			size_t hdr_len;
			rc = pq_page_fetch(&r->f, &c->pc, &h, &hdr_len, err);
			if (rc)
				return rc;
			if (h.type == PQ_DICTIONARY_PAGE) {
				rc = pq_dict_load(&r->f, &c->pc, &h, hdr_len, err);
				if (rc)
					return rc;
				if ((uint64_t)oi->pages[0].offset <
				    c->pc.pos + hdr_len + (uint64_t)h.compressed_size)
					return CORRUPT(r, "\"%s\": offset index of column \"%s\" "
							  "points into its dictionary",
						       r->path, c->pc.name);
			}
		}
		c->pc.pos = (uint64_t)oi->pages[p].offset;
		c->pc.rows_seen = oi->pages[p].first_row;
		rc = pq_page_next(&r->f, &c->pc, err);
		if (rc)
			return rc;
		int64_t next_first = p + 1 < oi->npages ? oi->pages[p + 1].first_row : c->pc.chunk_rows;
		if (oi->pages[p].first_row + c->pc.page_values != next_first)
			return CORRUPT(r, "\"%s\": offset index of column \"%s\" disagrees with its "
					  "page sizes",
				       r->path, c->pc.name);
		row -= oi->pages[p].first_row;
	}
	/* without an offset index: whole pages by their headers, then values */
	while (row > 0) {
		if (c->pc.page_left == 0) {
			rc = pq_page_next(&r->f, &c->pc, err);
			if (rc)
				return rc;
		}
		int64_t k = row < c->pc.page_left ? row : c->pc.page_left;
		if (k == c->pc.page_left && k == c->pc.page_values) {
			c->pc.page_left = 0; /* the whole page: nothing to decode */
		} else {
			rc = pq_page_skip(&r->f, &c->pc, (uint64_t)k, err);
			if (rc)
				return rc;
		}
		row -= k;
	}
	return 0;
}

/* ---- statistics for predicate pruning and masking (invariant 8) ---------------- */

/* A PLAIN-encoded statistic of a column of type t as a value (strings point
 * into b); false when it cannot be one (wrong length, a NaN, a boolean
 * other than 0 or 1, a type without usable statistics). */
static bool stat_value(strata_type t, const pq_bytes *b, strata_value *v)
{
	memset(v, 0, sizeof(*v));
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		if (b->len != 8)
			return false;
		memcpy(&v->v.i64, b->p, 8);
		return true;
	case STRATA_T_INT:
		if (b->len != 4)
			return false;
		memcpy(&v->v.i32, b->p, 4);
		return true;
	case STRATA_T_DOUBLE:
		if (b->len != 8)
			return false;
		memcpy(&v->v.f64, b->p, 8);
		return !isnan(v->v.f64);
	case STRATA_T_FLOAT:
		if (b->len != 4)
			return false;
		memcpy(&v->v.f32, b->p, 4);
		return !isnan(v->v.f32);
	case STRATA_T_BOOL:
		if (b->len != 1 || b->p[0] > 1)
			return false;
		v->v.b = b->p[0] == 1;
		return true;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		v->v.s.ptr = b->p;
		v->v.s.len = b->len;
		return true;
	}
	return false;
}

static bool is_float_type(strata_type t)
{
	return t == STRATA_T_DOUBLE || t == STRATA_T_FLOAT;
}

/* Whole-file statistics: every row group's chunk statistics folded. */
static int pr_colstats(void *state, strata_colstat *out, uint64_t *rows)
{
	pr *r = state;
	*rows = r->fm.num_rows > 0 ? (uint64_t)r->fm.num_rows : 0;
	for (uint32_t i = 0; i < r->ncols; i++) {
		strata_colstat *cs = &out[i];
		memset(cs, 0, sizeof(*cs));
		int leaf = r->leaf_of_col[i];
		strata_type t = r->schema->cols[i].type;
		if (leaf < 0) {
			cs->has_null_count = true;
			cs->null_count = *rows;
			continue;
		}
		int pt = pq_ptype_of(t);
		bool ok_bounds = true, ok_nulls = true, nan_free = true;
		uint64_t nulls = 0;
		const pq_bytes *mn = NULL, *mx = NULL;
		for (uint32_t g = 0; g < r->fm.nrow_groups; g++) {
			const pq_row_group *rg = &r->fm.row_groups[g];
			const pq_column_meta *cm = &rg->cols[leaf].meta;
			if (!cm->has_stats) {
				ok_bounds = ok_nulls = nan_free = false;
				break;
			}
			const pq_stats *st = &cm->stats;
			if (st->has_null_count && st->null_count >= 0)
				nulls += (uint64_t)st->null_count;
			else
				ok_nulls = false;
			/* invariant 4: float bounds only without NaN */
			nan_free &= !is_float_type(t) || (st->has_nan_count && st->nan_count == 0);
			if (st->has_null_count && st->null_count == rg->num_rows)
				continue; /* all null: no bound needed */
			if (!st->has_min || !st->has_max) {
				ok_bounds = false;
				continue;
			}
			int c;
			if (!mn)
				mn = &st->min;
			else if (!pq_stat_cmp(pt, st->min.p, st->min.len, mn->p, mn->len, &c))
				ok_bounds = false;
			else if (c < 0)
				mn = &st->min;
			if (!mx)
				mx = &st->max;
			else if (!pq_stat_cmp(pt, st->max.p, st->max.len, mx->p, mx->len, &c))
				ok_bounds = false;
			else if (c > 0)
				mx = &st->max;
		}
		if (ok_nulls) {
			cs->has_null_count = true;
			cs->null_count = nulls;
		}
		cs->may_have_nan = is_float_type(t) && !nan_free;
		if (ok_bounds && mn && mx && stat_value(t, mn, &cs->min) && stat_value(t, mx, &cs->max))
			cs->has_bounds = true;
	}
	return 1;
}

static void pr_set_mask(void *state, strata_unit_fn fn, void *arg, uint64_t *pages_skipped)
{
	pr *r = state;
	r->mask_fn = fn;
	r->mask_arg = arg;
	r->mask_pages = pages_skipped;
	if (!r->mask_cols)
		r->mask_cols = strata_calloc(r->ncols + 1, sizeof(strata_colstat));
	if (!r->is_key_col) {
		r->is_key_col = strata_calloc(r->ncols + 1, sizeof(bool));
		for (uint32_t k = 0; k < r->schema->nkeys; k++)
			r->is_key_col[r->schema->key_cols[k]] = true;
	}
	r->is_rg_open = false; /* masks are built when a row group opens */
	r->rg = 0;
	r->rg_row = 0;
}

/* The column index of column i in row group g, in the seek arena (NULL if
 * the chunk has none); checked against its hash in the footer. */
static int column_index_get(pr *r, uint32_t g, uint32_t i, pq_column_index **out,
			    strata_err *err)
{
	*out = NULL;
	int leaf = col_at(r, i)->pc.leaf;
	const pq_column_chunk *cc = &r->fm.row_groups[g].cols[leaf];
	if (!cc->has_column_index || cc->column_index_length <= 0 ||
	    (uint64_t)cc->column_index_length > PR_INDEX_MAX || cc->column_index_offset < 4 ||
	    (uint64_t)cc->column_index_offset > r->f.size - 8 ||
	    (uint64_t)cc->column_index_length > r->f.size - 8 - (uint64_t)cc->column_index_offset)
		return 0;
	uint8_t *buf = strata_arena_alloc(r->seek_arena, (size_t)cc->column_index_length);
	int rc = strata_rfile_read(r->f.rf, buf, (size_t)cc->column_index_length,
				   (uint64_t)cc->column_index_offset, err);
	if (rc == 0)
		rc = index_check(r, g, leaf, 0, buf, (size_t)cc->column_index_length, err);
	if (rc)
		return rc;
	pq_column_index *ci = strata_arena_alloc(r->seek_arena, sizeof(*ci));
	rc = pq_column_index_read(buf, (size_t)cc->column_index_length, r->seek_arena, ci, r->path,
				  err);
	if (rc)
		return rc;
	*out = ci;
	return 0;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The masked row ranges of row group g (invariant 8): cut the row group
 * at every page boundary of every decoded data column, and ask the test
 * about each piece with the statistics of the pages that hold it.  A
 * column without a column index counts as unknown; a decoded column
 * without an offset index means no masking in this row group. */
static int mask_build(pr *r, uint32_t g, strata_err *err)
{
	r->nmask = r->mask_i = 0;
	r->mask_pos = 0;
	if (!r->mask_fn || g >= r->fm.nrow_groups)
		return 0;
	int64_t nrows = r->fm.row_groups[g].num_rows;
	pq_offset_index **ois = strata_calloc(r->ncols + 1, sizeof(*ois));
	pq_column_index **cis = strata_calloc(r->ncols + 1, sizeof(*cis));
	uint32_t *pg = strata_calloc(r->ncols + 1, sizeof(uint32_t));
	int64_t *cuts = NULL;
	size_t ncuts = 0;
	int rc = 0;
	bool is_usable = nrows > 0;
	for (uint32_t i = 0; is_usable && i < r->ncols; i++) {
		if (!col_exists(r, i) || !col_is_decoded(r, i))
			continue;
		rc = offset_index_get(r, g, i, &ois[i], err);
		if (rc == 0 && ois[i])
			rc = column_index_get(r, g, i, &cis[i], err);
		if (rc)
			goto out;
		if (!ois[i]) {
			is_usable = false;
			break;
		}
		if (cis[i] && cis[i]->npages != ois[i]->npages) {
			rc = CORRUPT(r, "\"%s\": column and offset indexes of \"%s\" in row group %u "
					"disagree on the page count",
				     r->path, col_at(r, i)->pc.name, g);
			goto out;
		}
		cuts = strata_realloc(cuts, (ncuts + ois[i]->npages + 1) * sizeof(int64_t));
		for (uint32_t p = 0; p < ois[i]->npages; p++)
			cuts[ncuts++] = ois[i]->pages[p].first_row;
	}
	if (!is_usable || ncuts == 0)
		goto out;
	qsort(cuts, ncuts, sizeof(int64_t), i64_cmp);
	for (size_t k = 0; k < ncuts; k++) {
		int64_t a = cuts[k], b = k + 1 < ncuts ? cuts[k + 1] : nrows;
		if (b <= a)
			continue;
		for (uint32_t i = 0; i < r->ncols; i++) {
			strata_colstat *cs = &r->mask_cols[i];
			memset(cs, 0, sizeof(*cs));
			if (!ois[i]) { /* not decoded: unknown; absent: all null */
				if (!col_exists(r, i)) {
					cs->has_null_count = true;
					cs->null_count = (uint64_t)(b - a);
				}
				continue;
			}
			while (pg[i] + 1 < ois[i]->npages && ois[i]->pages[pg[i] + 1].first_row <= a)
				pg[i]++;
			const pq_column_index *ci = cis[i];
			uint32_t p = pg[i];
			strata_type t = r->schema->cols[i].type;
			if (!ci) {
				cs->may_have_nan = is_float_type(t);
				continue;
			}
			if (ci->null_pages[p]) {
				cs->has_null_count = true;
				cs->null_count = (uint64_t)(b - a);
				continue;
			}
			if (ci->has_null_counts && ci->null_counts[p] == 0)
				cs->has_null_count = true; /* none in the page, so none here */
			/* invariant 4 */
			cs->may_have_nan = is_float_type(t) &&
					   !(ci->has_nan_counts && ci->nan_counts[p] == 0);
			cs->has_bounds = stat_value(t, &ci->mins[p], &cs->min) &&
					 stat_value(t, &ci->maxs[p], &cs->max);
		}
		if (r->mask_fn(r->mask_arg, r->mask_cols, (uint64_t)(b - a)))
			continue;
		if (r->nmask && r->mask[r->nmask - 1].end == a) {
			r->mask[r->nmask - 1].end = b;
			continue;
		}
		if (r->nmask == r->mask_cap) {
			r->mask_cap = r->mask_cap ? 2 * r->mask_cap : 16;
			r->mask = strata_realloc(r->mask, r->mask_cap * sizeof(*r->mask));
		}
		r->mask[r->nmask].start = a;
		r->mask[r->nmask].end = b;
		r->nmask++;
	}
	/* pages of the other columns that lie inside a masked range are never read */
	for (uint32_t i = 0; r->mask_pages && r->nmask && i < r->ncols; i++) {
		if (!ois[i] || r->is_key_col[i])
			continue;
		uint32_t m = 0;
		for (uint32_t p = 0; p < ois[i]->npages; p++) {
			int64_t a = ois[i]->pages[p].first_row;
			int64_t b = p + 1 < ois[i]->npages ? ois[i]->pages[p + 1].first_row : nrows;
			while (m < r->nmask && r->mask[m].end <= a)
				m++;
			if (m < r->nmask && r->mask[m].start <= a && b <= r->mask[m].end)
				(*r->mask_pages)++;
		}
	}
out:
	free(ois);
	free(cis);
	free(pg);
	free(cuts);
	return rc;
}

/* Move column i of the open row group from row `from` to row `to`
 * without decoding what lies between: within the current page by
 * skipping values, beyond it by a jump through the offset index. */
static int col_skip_to(pr *r, uint32_t i, int64_t from, int64_t to, strata_err *err)
{
	pr_col *c = col_at(r, i);
	int64_t n = to - from;
	int64_t in_batch = (int64_t)(c->nb - c->ib);
	if (n <= in_batch) {
		c->ib += (uint32_t)n;
		return 0;
	}
	n -= in_batch;
	c->ib = c->nb;
	if (to >= c->pc.chunk_rows) { /* the rest of the chunk: nothing more to read */
		c->pc.page_left = 0;
		return 0;
	}
	if (n < c->pc.page_left)
		return pq_page_skip(&r->f, &c->pc, (uint64_t)n, err);
	if (n == c->pc.page_left) {
		c->pc.page_left = 0;
		return 0;
	}
	int rc = col_open(r, c, r->rg, err);
	if (rc == 0)
		rc = col_seek_row(r, i, r->rg, to, err);
	return rc;
}

/* At row rg_row: whether it is masked, after moving the other columns past
 * its masked range the first time the range is met. */
static int mask_at(pr *r, bool *is_masked, strata_err *err)
{
	*is_masked = false;
	while (r->mask_i < r->nmask && r->mask[r->mask_i].end <= r->rg_row)
		r->mask_i++;
	if (r->mask_i == r->nmask || r->rg_row < r->mask[r->mask_i].start)
		return 0;
	*is_masked = true;
	int64_t end = r->mask[r->mask_i].end;
	if (r->mask_pos >= end)
		return 0;
	for (uint32_t i = 0; i < r->ncols; i++) {
		if (!col_exists(r, i) || !col_is_decoded(r, i) || r->is_key_col[i])
			continue;
		int rc = col_skip_to(r, i, r->rg_row, end, err);
		if (rc)
			return rc;
	}
	r->mask_pos = end;
	return 0;
}

/* Open row group g for every decoded column, positioned at `row`. */
static int rg_open(pr *r, uint32_t g, int64_t row, strata_err *err)
{
	r->rg = g;
	r->rg_row = row;
	r->is_rg_open = false;
	if (g >= r->fm.nrow_groups)
		return 0;
	for (uint32_t i = 0; i < ncols_total(r); i++) {
		if (!col_exists(r, i) || !col_is_decoded(r, i))
			continue;
		int rc = col_open(r, col_at(r, i), g, err);
		if (rc == 0)
			rc = col_seek_row(r, i, g, row, err);
		if (rc)
			return rc;
	}
	int rc = mask_build(r, g, err);
	if (rc)
		return rc;
	r->is_rg_open = true;
	return 0;
}

/* ---- backend: open, next ------------------------------------------------------ */

static void pr_close(void *state)
{
	pr *r = state;
	if (!r)
		return;
	if (r->cols)
		for (uint32_t i = 0; i < ncols_total(r); i++)
			pq_col_free(&r->cols[i].pc);
	pq_file_free(&r->f);
	free(r->cols);
	strata_schema_free(r->own_schema);
	free(r->leaf_of_col);
	free(r->footer);
	strata_arena_free(r->meta_arena);
	strata_arena_free(r->seek_arena);
	free(r->oi);
	free(r->oi_loaded);
	free(r->mask);
	free(r->mask_cols);
	free(r->is_key_col);
	free(r->path);
	free(r);
}

static void col_setup(pr *r, pr_col *c, int leaf, strata_type t)
{
	c->pc.leaf = leaf;
	if (leaf < 0)
		return;
	c->el = r->leaves[leaf];
	c->pc.name = c->el->name;
	c->pc.ptype = c->el->type;
	c->stype = t;
	c->pc.is_optional = c->el->repetition == PQ_OPTIONAL;
}

/* Open the footer and check the file as far as metadata allows. */
static int pr_open_meta(const char *path, pr **out, strata_err *err)
{
	pr *r = strata_calloc(1, sizeof(*r));
	r->path = strata_strdup(path);
	r->meta_arena = strata_arena_new();
	r->seek_arena = strata_arena_new();
	r->idx_rg = -1;
	int rc = pq_file_open(&r->f, r->path, r->meta_arena, &r->fm, &r->footer, &r->footer_len,
			      err);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	pr_close(r);
	return rc;
}

static int pr_open(const char *path, const strata_schema *file_schema, void **state,
		   strata_err *err)
{
	*state = NULL;
	pr *r = NULL;
	int rc = pr_open_meta(path, &r, err);
	if (rc)
		return rc;
	rc = check_schema_tree(r, err);
	if (rc == 0)
		rc = build_schema(r, file_schema, err);
	if (rc == 0)
		rc = check_row_groups(r, err);
	if (rc)
		goto fail;
	r->ncols = r->schema->ncols;
	r->cols = strata_calloc(ncols_total(r), sizeof(pr_col));
	for (uint32_t i = 0; i < r->ncols; i++)
		col_setup(r, &r->cols[i], r->leaf_of_col[i], r->schema->cols[i].type);
	col_setup(r, &r->cols[r->ncols], r->seq_leaf, STRATA_T_LONG);
	col_setup(r, &r->cols[r->ncols + 1], r->op_leaf, STRATA_T_INT);
	r->oi = strata_calloc(ncols_total(r), sizeof(pq_offset_index *));
	r->oi_loaded = strata_calloc(ncols_total(r), sizeof(bool));
	*state = r;
	return 0;
fail:
	pr_close(r);
	return rc;
}

static const strata_schema *pr_schema(void *state)
{
	return ((pr *)state)->schema;
}

static void pr_set_need(void *state, const bool *need)
{
	pr *r = state;
	r->need = need;
	r->is_rg_open = false; /* re-open with the new column set at the next read */
	r->rg = 0;
	r->rg_row = 0;
}

static bool pr_has_seq(void *state)
{
	return ((pr *)state)->has_seq;
}

static int pr_next(void *state, strata_row *row, strata_err *err)
{
	pr *r = state;
	int rc;
	for (;;) {
		if (r->rg >= r->fm.nrow_groups)
			return 0;
		if (!r->is_rg_open) {
			rc = rg_open(r, r->rg, r->rg_row, err);
			if (rc)
				return rc;
		}
		if (r->rg_row < r->fm.row_groups[r->rg].num_rows)
			break;
		/* invariant 3: every column used exactly its rows */
		for (uint32_t i = 0; i < ncols_total(r); i++) {
			pr_col *c = col_at(r, i);
			if (col_exists(r, i) && col_is_decoded(r, i) &&
			    (c->pc.page_left != 0 || c->ib != c->nb))
				return col_corrupt(r, c, err, "more values than rows in its row group");
			if (col_exists(r, i) && col_is_decoded(r, i)) {
				rc = pq_chunk_hash_finish(&r->f, &c->pc, err);
				if (rc)
					return rc;
			}
		}
		r->rg++;
		r->rg_row = 0;
		r->is_rg_open = false;
	}
	int64_t left = r->fm.row_groups[r->rg].num_rows - r->rg_row;
	bool is_masked = false;
	if (r->nmask) {
		rc = mask_at(r, &is_masked, err);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < ncols_total(r); i++) {
		pr_col *c = col_at(r, i);
		strata_value *v = i < r->ncols ? &row->vals[i] : NULL;
		if (!col_exists(r, i) || !col_is_decoded(r, i) ||
		    (is_masked && v && !r->is_key_col[i])) {
			if (v) {
				memset(v, 0, sizeof(*v));
				v->is_null = true;
			}
			continue;
		}
		if (c->ib == c->nb) {
			rc = col_fill(r, c, left, err);
			if (rc)
				return rc;
		}
		const strata_value *src = &c->vals[c->ib++];
		if (v) {
			*v = *src;
		} else if (i == r->ncols) {
			if (src->is_null)
				return col_corrupt(r, c, err, "null _seq");
			row->seq = src->v.i64;
		} else {
			if (src->is_null || src->v.i32 < 0 || src->v.i32 > 255)
				return col_corrupt(r, c, err, "_op out of range");
			row->op = (uint8_t)src->v.i32;
		}
	}
	if (is_masked)
		row->op = STRATA_OP_DELETE; /* invariant 8 */
	r->rg_row++;
	return 1;
}

/* ---- content hash (invariant 6) ------------------------------------------------------ */

/* Hash chunks as they stream (from the next row group opened: a chunk
 * already begun is not whole and is read raw at the end). */
static void pr_want_hash(void *state)
{
	pr *r = state;
	pq_file_want_hash(&r->f, &r->fm, r->nleaves);
}

/* invariant 7: the footer is what the manifest recorded */
static int pr_check_footer(void *state, uint64_t want, strata_err *err)
{
	pr *r = state;
	uint64_t got = XXH3_64bits(r->footer, r->footer_len);
	if (got != want)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "file \"%s\": footer checksum mismatch (expected %016llx, got "
				      "%016llx)",
				      r->path, (unsigned long long)want, (unsigned long long)got);
	return 0;
}

static int pr_content_hash(void *state, uint64_t *out, strata_err *err)
{
	pr *r = state;
	if (r->has_seeked || r->rg < r->fm.nrow_groups)
		return 0;
	int rc = pq_file_content_hash(&r->f, &r->fm, r->nleaves, out, err);
	return rc ? rc : 1;
}

static int pr_hash_file(const char *path, uint64_t *out, strata_err *err)
{
	pr *r = NULL;
	int rc = pr_open_meta(path, &r, err);
	if (rc)
		return rc;
	rc = check_schema_tree(r, err);
	if (rc == 0)
		rc = check_row_groups(r, err);
	if (rc == 0)
		rc = pq_file_content_hash(&r->f, &r->fm, r->nleaves, out, err);
	pr_close(r);
	return rc;
}

/* ---- seek ----------------------------------------------------------------------- */

/* Compare a statistics value (PLAIN bytes of the key column's type) with k,
 * through the statistics' one typed comparison (parquet_stats.c).  Returns
 * false if the bound is unusable (wrong length, NaN). */
static bool stat_cmp(strata_type t, const pq_bytes *b, const strata_value *k, int *out)
{
	uint8_t kb[8];
	const uint8_t *kp = kb;
	size_t kn;
	int ptype;
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		ptype = PQ_INT64;
		memcpy(kb, &k->v.i64, kn = 8);
		break;
	case STRATA_T_INT:
		ptype = PQ_INT32;
		memcpy(kb, &k->v.i32, kn = 4);
		break;
	case STRATA_T_DOUBLE:
		ptype = PQ_DOUBLE;
		memcpy(kb, &k->v.f64, kn = 8);
		break;
	case STRATA_T_FLOAT:
		ptype = PQ_FLOAT;
		memcpy(kb, &k->v.f32, kn = 4);
		break;
	case STRATA_T_BOOL:
		ptype = PQ_BOOLEAN;
		kb[0] = k->v.b ? 1 : 0;
		kn = 1;
		break;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		ptype = PQ_BYTE_ARRAY;
		kp = (const uint8_t *)k->v.s.ptr;
		kn = k->v.s.len;
		break;
	default:
		return false;
	}
	return pq_stat_cmp(ptype, b->p, b->len, kp, kn, out);
}

/* One unit (row group or page) of the first key column: can every row in it
 * be skipped for a seek to k (max < k)?  And does it surely hold a value
 * below k (min < k) — then nothing before it can hold the key?  Invariant 4:
 * float bounds count only when the unit is known to hold no NaN. */
static void unit_check(strata_type t, bool has_min, const pq_bytes *min, bool has_max,
		       const pq_bytes *max, bool nan_free, const strata_value *k,
		       bool *is_skippable, bool *has_below)
{
	*is_skippable = *has_below = false;
	bool is_float = t == STRATA_T_DOUBLE || t == STRATA_T_FLOAT;
	int c;
	if (has_max && (!is_float || nan_free) && stat_cmp(t, max, k, &c) && c < 0)
		*is_skippable = true;
	/* only floats need the min rule (their max may miss a NaN); an exact
	 * float min is a value of the unit, so "min < k" proves a row < k */
	if (is_float && has_min && stat_cmp(t, min, k, &c) && c < 0)
		*has_below = true;
}

/* The order of the key encoding (format.h) between two values of the first
 * key column: integers and strings as values, floats by their encoded bits
 * (so -0.0 < 0.0 and NaNs sort at the ends, exactly as keys do). */
static int key0_cmp(strata_type t, const strata_value *a, const strata_value *b)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return (a->v.i64 > b->v.i64) - (a->v.i64 < b->v.i64);
	case STRATA_T_INT:
		return (a->v.i32 > b->v.i32) - (a->v.i32 < b->v.i32);
	case STRATA_T_BOOL:
		return (int)a->v.b - (int)b->v.b;
	case STRATA_T_DOUBLE: {
		uint64_t x, y;
		memcpy(&x, &a->v.f64, 8);
		memcpy(&y, &b->v.f64, 8);
		x = x >> 63 ? ~x : x | (1ull << 63);
		y = y >> 63 ? ~y : y | (1ull << 63);
		return (x > y) - (x < y);
	}
	case STRATA_T_FLOAT: {
		uint32_t x, y;
		memcpy(&x, &a->v.f32, 4);
		memcpy(&y, &b->v.f32, 4);
		x = x >> 31 ? ~x : x | (1u << 31);
		y = y >> 31 ? ~y : y | (1u << 31);
		return (x > y) - (x < y);
	}
	case STRATA_T_STRING:
	case STRATA_T_BYTES: {
		uint32_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
		int c = n ? memcmp(a->v.s.ptr, b->v.s.ptr, n) : 0;
		if (c == 0)
			c = (a->v.s.len > b->v.s.len) - (a->v.s.len < b->v.s.len);
		return (c > 0) - (c < 0);
	}
	}
	return 0;
}

/* Open row group g for a seek to k whose first key column's page starts at
 * `row`: open that column alone there and decode it, within that one page,
 * up to its first value >= k (rows are sorted by key, so the rows before it
 * are all below the seek key); then open every other column past those
 * rows, skipping their values without decoding them.  The generic layer
 * gets the key's own record first instead of half a page of records below
 * it.  A null key value (a damaged foreign file) stops the search. */
static int rg_open_at_key(pr *r, uint32_t g, int64_t row, uint32_t kc, strata_type t,
			  const strata_value *k, strata_err *err)
{
	r->rg = g;
	r->rg_row = row;
	r->is_rg_open = false;
	if (g >= r->fm.nrow_groups)
		return 0;
	pr_col *c = col_at(r, kc);
	int rc = col_open(r, c, g, err);
	if (rc == 0)
		rc = col_seek_row(r, kc, g, row, err);
	if (rc)
		return rc;
	int64_t rows = r->fm.row_groups[g].num_rows, below = 0;
	bool has_page = c->pc.page_left > 0 || c->ib < c->nb;
	for (;;) {
		if (c->ib == c->nb) {
			if (row + below >= rows || (c->pc.page_left == 0 && has_page))
				break; /* one page at most */
			rc = col_fill(r, c, rows - row - below, err);
			if (rc)
				return rc;
			has_page = true;
			if (c->nb == 0)
				break;
		}
		const strata_value *v = &c->vals[c->ib];
		if (v->is_null || key0_cmp(t, v, k) >= 0)
			break;
		c->ib++;
		below++;
	}
	/* the key column already stands at row + below */
	r->rg_row = row + below;
	for (uint32_t i = 0; i < ncols_total(r); i++) {
		if (i == kc || !col_exists(r, i) || !col_is_decoded(r, i))
			continue;
		rc = col_open(r, col_at(r, i), g, err);
		if (rc == 0)
			rc = col_seek_row(r, i, g, row + below, err);
		if (rc)
			return rc;
	}
	rc = mask_build(r, g, err);
	if (rc)
		return rc;
	r->is_rg_open = true;
	return 0;
}

static int pr_seek(void *state, const uint8_t *key, size_t len, strata_err *err)
{
	((pr *)state)->has_seeked = true;
	pr *r = state;
	const strata_schema *s = r->schema;
	strata_value kv[STRATA_MAX_KEY_COLS];
	strata_arena *a = strata_arena_new();
	strata_err kerr;
	int rc = strata_key_decode(s, key, len, kv, a, &kerr);
	if (rc) {
		strata_arena_free(a);
		return strata_err_set(err, STRATA_EINVAL, "\"%s\": seek key: %s", r->path, kerr.msg);
	}
	uint32_t kc = s->key_cols[0];
	strata_type t = s->cols[kc].type;
	int leaf = r->leaf_of_col[kc];
	const strata_value *k = &kv[0];
	/* row groups */
	uint32_t start = 0;
	for (uint32_t g = 0; g < r->fm.nrow_groups; g++) {
		const pq_column_meta *cm = &r->fm.row_groups[g].cols[leaf].meta;
		if (!cm->has_stats)
			continue;
		const pq_stats *st = &cm->stats;
		bool skip, below;
		unit_check(t, st->has_min, &st->min, st->has_max, &st->max,
			   st->has_nan_count && st->nan_count == 0, k, &skip, &below);
		if (skip)
			start = g + 1;
		else if (below && g > start)
			start = g;
	}
	int64_t row = 0;
	if (start < r->fm.nrow_groups) {
		/* pages of the first key column, through its page index */
		const pq_column_chunk *cc = &r->fm.row_groups[start].cols[leaf];
		pq_offset_index *oi = NULL;
		rc = offset_index_get(r, start, kc, &oi, err);
		if (rc)
			goto out;
		if (oi && cc->has_column_index && cc->column_index_length > 0 &&
		    (uint64_t)cc->column_index_length <= PR_INDEX_MAX && cc->column_index_offset >= 4 &&
		    (uint64_t)cc->column_index_offset <= r->f.size - 8 &&
		    (uint64_t)cc->column_index_length <= r->f.size - 8 - (uint64_t)cc->column_index_offset) {
			uint8_t *buf = strata_arena_alloc(r->seek_arena, (size_t)cc->column_index_length);
			rc = strata_rfile_read(r->f.rf, buf, (size_t)cc->column_index_length,
					       (uint64_t)cc->column_index_offset, err);
			if (rc == 0)
				rc = index_check(r, start, (int)leaf, 0, buf,
						 (size_t)cc->column_index_length, err);
			if (rc)
				goto out;
			pq_column_index ci;
			rc = pq_column_index_read(buf, (size_t)cc->column_index_length, r->seek_arena,
						  &ci, r->path, err);
			if (rc)
				goto out;
			if (ci.npages != oi->npages) {
				rc = CORRUPT(r, "\"%s\": column and offset indexes of \"%s\" in row "
						"group %u disagree on the page count",
					     r->path, s->cols[kc].name, start);
				goto out;
			}
			uint32_t p0 = 0;
			for (uint32_t p = 0; p < ci.npages; p++) {
				if (ci.null_pages[p])
					continue;
				bool skip, below;
				unit_check(t, true, &ci.mins[p], true, &ci.maxs[p],
					   ci.has_nan_counts && ci.nan_counts[p] == 0, k, &skip, &below);
				if (skip)
					p0 = p + 1;
				else if (below && p > p0)
					p0 = p;
			}
			if (p0 < oi->npages) {
				row = oi->pages[p0].first_row;
			} else {
				start++; /* every page is below the key */
				row = 0;
			}
		}
	}
	rc = rg_open_at_key(r, start, row, kc, t, k, err);
	if (rc)
		r->is_rg_open = false;
out:
	strata_arena_free(a);
	return rc;
}

/* ---- the footer alone, for describe (format/describe.c) ------------------------ */

int pr_meta_open(const char *path, pr **out, strata_err *err)
{
	pr *r = NULL;
	int rc = pr_open_meta(path, &r, err);
	if (rc)
		return rc;
	/* every schema element after the root is a leaf here: describe shows
	 * files it cannot read too, nested ones included */
	const pq_file_meta *m = &r->fm;
	uint32_t nleaves = m->nschema > 0 ? m->nschema - 1 : 0;
	r->nleaves = nleaves;
	r->leaves = strata_arena_alloc(r->meta_arena, sizeof(void *) * (nleaves + 1));
	for (uint32_t i = 0; i < nleaves; i++)
		r->leaves[i] = &m->schema[i + 1];
	*out = r;
	return 0;
}

const pq_file_meta *pr_meta_footer(const pr *r)
{
	return &r->fm;
}

uint64_t pr_meta_size(const pr *r)
{
	return r->f.size;
}

int pr_meta_read(pr *r, void *buf, size_t n, uint64_t off, strata_err *err)
{
	return strata_rfile_read(r->f.rf, buf, n, off, err);
}

void pr_meta_close(pr *r)
{
	pr_close(r);
}

/* Count the pages of a chunk by walking its headers (for files without an
 * offset index). */
int pr_meta_count_pages(pr *r, uint32_t g, int leaf, uint32_t *data_pages, uint32_t *dict_pages,
			strata_err *err)
{
	pq_col c;
	memset(&c, 0, sizeof(c));
	c.leaf = leaf;
	c.name = r->leaves[leaf]->name;
	c.rg = g;
	int rc = pq_chunk_range(&r->f, &r->fm, g, leaf, c.name, &c.chunk_start, &c.chunk_end, err);
	c.pos = c.chunk_start;
	*data_pages = *dict_pages = 0;
	while (rc == 0 && c.pos < c.chunk_end) {
		pq_page_header h;
		size_t hl;
		rc = pq_page_fetch(&r->f, &c, &h, &hl, err);
		if (rc)
			break;
		if (h.type == PQ_DICTIONARY_PAGE)
			(*dict_pages)++;
		else if (h.type == PQ_DATA_PAGE || h.type == PQ_DATA_PAGE_V2)
			(*data_pages)++;
		c.pos += hl + (uint64_t)h.compressed_size;
	}
	return rc;
}

const strata_fr_backend strata_parquet_reader = {
	.content_hash = pr_content_hash,
	.want_hash = pr_want_hash,
	.check_footer = pr_check_footer,
	.hash_file = pr_hash_file,
	.name = "parquet",
	.open = pr_open,
	.schema = pr_schema,
	.set_need = pr_set_need,
	.next = pr_next,
	.seek = pr_seek,
	.has_seq = pr_has_seq,
	.colstats = pr_colstats,
	.set_mask = pr_set_mask,
	.close = pr_close,
};
