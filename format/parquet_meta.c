/*
 * format/parquet_meta.c — Parquet's footer (FileMetaData), page headers and
 * page indexes (ColumnIndex, OffsetIndex) to and from the Thrift compact
 * protocol, following the field ids of parquet.thrift.
 *
 * The decoders are the first line of defence against damaged and hostile
 * files:
 *   1. every field is type-checked against the IDL (a known field id with
 *      the wrong wire type is damage, not something to skip);
 *   2. required fields must be present (a bit per field, checked at the end
 *      of each struct);
 *   3. lists are sized from bytes actually present (thrift.c invariant 4),
 *      then allocated in the caller's arena, and everything decoded is
 *      charged to a budget of PQ_DECODE_BUDGET(n) for an input of n bytes
 *      (legitimate metadata decodes to 2-6 times its size), so a hostile
 *      footer cannot expand into a huge allocation;
 *   4. unknown fields are skipped (forward compatibility: newer writers add
 *      fields such as size statistics);
 *   5. unions must have exactly one member set where the IDL needs one.
 * Semantic checks (offsets inside the file, sizes, counts that must agree)
 * belong to the reader, which knows the file.
 *
 * Pure functions over memory; any thread.
 */
#include "format/parquet_int.h"

#include <string.h>

/* Decoded bytes allowed for n input bytes. */
#define PQ_DECODE_BUDGET(n) ((size_t)(n) * 16 + (1u << 20))

/* ---- names ---------------------------------------------------------------- */

#define NAME_OR_UNKNOWN(tbl, v)                                                   \
	((v) >= 0 && (size_t)(v) < STRATA_ARRAY_LEN(tbl) && (tbl)[(v)] ? (tbl)[(v)] : \
									"UNKNOWN")

const char *pq_type_name(int t)
{
	static const char *const n[] = {"BOOLEAN", "INT32", "INT64", "INT96",
					"FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
	return NAME_OR_UNKNOWN(n, t);
}

const char *pq_encoding_name(int e)
{
	static const char *const n[] = {"PLAIN", NULL, "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
					"DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
					"DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT",
					"ALP"};
	return NAME_OR_UNKNOWN(n, e);
}

const char *pq_codec_name(int c)
{
	static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
					"BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
	return NAME_OR_UNKNOWN(n, c);
}

const char *pq_page_type_name(int t)
{
	static const char *const n[] = {"DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE",
					"DATA_PAGE_V2"};
	return NAME_OR_UNKNOWN(n, t);
}

const char *pq_converted_name(int c)
{
	static const char *const n[] = {
		"UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE",
		"TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
		"UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16", "INT_32",
		"INT_64", "JSON", "BSON", "INTERVAL"};
	return NAME_OR_UNKNOWN(n, c);
}

const char *pq_repetition_name(int r)
{
	static const char *const n[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
	return NAME_OR_UNKNOWN(n, r);
}

/* ---- writing ------------------------------------------------------------- */

static void w_stats(thrift_w *w, int16_t id, const pq_stats *s)
{
	thrift_w_field_struct(w, id);
	if (s->has_max_old)
		thrift_w_binary(w, 1, s->max_old.p, s->max_old.len);
	if (s->has_min_old)
		thrift_w_binary(w, 2, s->min_old.p, s->min_old.len);
	if (s->has_null_count)
		thrift_w_i64(w, 3, s->null_count);
	if (s->has_distinct_count)
		thrift_w_i64(w, 4, s->distinct_count);
	if (s->has_max)
		thrift_w_binary(w, 5, s->max.p, s->max.len);
	if (s->has_min)
		thrift_w_binary(w, 6, s->min.p, s->min.len);
	if (s->has_max_exact)
		thrift_w_bool(w, 7, s->is_max_exact);
	if (s->has_min_exact)
		thrift_w_bool(w, 8, s->is_min_exact);
	if (s->has_nan_count)
		thrift_w_i64(w, 9, s->nan_count);
	thrift_w_struct_end(w);
}

static void w_logical(thrift_w *w, const pq_logical *l)
{
	thrift_w_field_struct(w, 10);
	thrift_w_field_struct(w, (int16_t)l->kind);
	switch (l->kind) {
	case PQ_LT_TIMESTAMP:
	case PQ_LT_TIME:
		thrift_w_bool(w, 1, l->is_utc);
		thrift_w_field_struct(w, 2);
		thrift_w_field_struct(w, (int16_t)l->unit);
		thrift_w_struct_end(w);
		thrift_w_struct_end(w);
		break;
	case PQ_LT_INTEGER:
		thrift_w_i8(w, 1, (int8_t)l->bit_width);
		thrift_w_bool(w, 2, l->is_signed);
		break;
	case PQ_LT_DECIMAL:
		thrift_w_i32(w, 1, l->scale);
		thrift_w_i32(w, 2, l->precision);
		break;
	default:
		break; /* empty structs */
	}
	thrift_w_struct_end(w);
	thrift_w_struct_end(w);
}

static void w_schema_elem(thrift_w *w, const pq_schema_elem *e)
{
	thrift_w_struct_begin(w);
	if (e->type >= 0)
		thrift_w_i32(w, 1, e->type);
	if (e->type == PQ_FIXED_LEN_BYTE_ARRAY)
		thrift_w_i32(w, 2, e->type_length);
	if (e->repetition >= 0)
		thrift_w_i32(w, 3, e->repetition);
	thrift_w_string(w, 4, e->name);
	if (e->num_children >= 0)
		thrift_w_i32(w, 5, e->num_children);
	if (e->converted >= 0)
		thrift_w_i32(w, 6, e->converted);
	if (e->converted == PQ_CT_DECIMAL) {
		thrift_w_i32(w, 7, e->scale);
		thrift_w_i32(w, 8, e->precision);
	}
	if (e->has_field_id)
		thrift_w_i32(w, 9, e->field_id);
	if (e->logical.kind != PQ_LT_NONE)
		w_logical(w, &e->logical);
	thrift_w_struct_end(w);
}

static void w_column_meta(thrift_w *w, const pq_column_meta *m)
{
	thrift_w_field_struct(w, 3);
	thrift_w_i32(w, 1, m->type);
	thrift_w_field_list(w, 2, THRIFT_I32, m->nencodings);
	for (uint32_t i = 0; i < m->nencodings; i++)
		thrift_w_elem_i32(w, m->encodings[i]);
	thrift_w_field_list(w, 3, THRIFT_BINARY, m->npath);
	for (uint32_t i = 0; i < m->npath; i++)
		thrift_w_elem_binary(w, m->path[i], strlen(m->path[i]));
	thrift_w_i32(w, 4, m->codec);
	thrift_w_i64(w, 5, m->num_values);
	thrift_w_i64(w, 6, m->total_uncompressed_size);
	thrift_w_i64(w, 7, m->total_compressed_size);
	thrift_w_i64(w, 9, m->data_page_offset);
	if (m->has_index_page_offset)
		thrift_w_i64(w, 10, m->index_page_offset);
	if (m->has_dict_page_offset)
		thrift_w_i64(w, 11, m->dict_page_offset);
	if (m->has_stats)
		w_stats(w, 12, &m->stats);
	if (m->nenc_stats) {
		thrift_w_field_list(w, 13, THRIFT_STRUCT, m->nenc_stats);
		for (uint32_t i = 0; i < m->nenc_stats; i++) {
			thrift_w_struct_begin(w);
			thrift_w_i32(w, 1, m->enc_stats[i].page_type);
			thrift_w_i32(w, 2, m->enc_stats[i].encoding);
			thrift_w_i32(w, 3, m->enc_stats[i].count);
			thrift_w_struct_end(w);
		}
	}
	thrift_w_struct_end(w);
}

static void w_row_group(thrift_w *w, const pq_row_group *g)
{
	thrift_w_struct_begin(w);
	thrift_w_field_list(w, 1, THRIFT_STRUCT, g->ncols);
	for (uint32_t i = 0; i < g->ncols; i++) {
		const pq_column_chunk *c = &g->cols[i];
		thrift_w_struct_begin(w);
		thrift_w_i64(w, 2, c->file_offset);
		if (c->has_meta)
			w_column_meta(w, &c->meta);
		if (c->has_offset_index) {
			thrift_w_i64(w, 4, c->offset_index_offset);
			thrift_w_i32(w, 5, c->offset_index_length);
		}
		if (c->has_column_index) {
			thrift_w_i64(w, 6, c->column_index_offset);
			thrift_w_i32(w, 7, c->column_index_length);
		}
		thrift_w_struct_end(w);
	}
	thrift_w_i64(w, 2, g->total_byte_size);
	thrift_w_i64(w, 3, g->num_rows);
	if (g->nsorting) {
		thrift_w_field_list(w, 4, THRIFT_STRUCT, g->nsorting);
		for (uint32_t i = 0; i < g->nsorting; i++) {
			thrift_w_struct_begin(w);
			thrift_w_i32(w, 1, g->sorting[i].column_idx);
			thrift_w_bool(w, 2, g->sorting[i].is_descending);
			thrift_w_bool(w, 3, g->sorting[i].is_nulls_first);
			thrift_w_struct_end(w);
		}
	}
	if (g->has_file_offset)
		thrift_w_i64(w, 5, g->file_offset);
	if (g->has_total_compressed_size)
		thrift_w_i64(w, 6, g->total_compressed_size);
	if (g->has_ordinal)
		thrift_w_i16(w, 7, (int16_t)g->ordinal);
	thrift_w_struct_end(w);
}

void pq_file_meta_write(strata_buf *out, const pq_file_meta *m)
{
	thrift_w w;
	thrift_w_init(&w, out);
	thrift_w_struct_begin(&w);
	thrift_w_i32(&w, 1, m->version);
	thrift_w_field_list(&w, 2, THRIFT_STRUCT, m->nschema);
	for (uint32_t i = 0; i < m->nschema; i++)
		w_schema_elem(&w, &m->schema[i]);
	thrift_w_i64(&w, 3, m->num_rows);
	thrift_w_field_list(&w, 4, THRIFT_STRUCT, m->nrow_groups);
	for (uint32_t i = 0; i < m->nrow_groups; i++)
		w_row_group(&w, &m->row_groups[i]);
	if (m->nkv) {
		thrift_w_field_list(&w, 5, THRIFT_STRUCT, m->nkv);
		for (uint32_t i = 0; i < m->nkv; i++) {
			thrift_w_struct_begin(&w);
			thrift_w_string(&w, 1, m->kv[i].key);
			if (m->kv[i].has_value)
				thrift_w_binary(&w, 2, m->kv[i].value.p, m->kv[i].value.len);
			thrift_w_struct_end(&w);
		}
	}
	if (m->created_by)
		thrift_w_string(&w, 6, m->created_by);
	if (m->ncolumn_orders) {
		thrift_w_field_list(&w, 7, THRIFT_STRUCT, m->ncolumn_orders);
		for (uint32_t i = 0; i < m->ncolumn_orders; i++) {
			thrift_w_struct_begin(&w);
			thrift_w_field_struct(&w, (int16_t)m->column_orders[i]);
			thrift_w_struct_end(&w);
			thrift_w_struct_end(&w);
		}
	}
	thrift_w_struct_end(&w);
}

void pq_page_header_write(strata_buf *out, const pq_page_header *h)
{
	thrift_w w;
	thrift_w_init(&w, out);
	thrift_w_struct_begin(&w);
	thrift_w_i32(&w, 1, h->type);
	thrift_w_i32(&w, 2, h->uncompressed_size);
	thrift_w_i32(&w, 3, h->compressed_size);
	if (h->has_crc)
		thrift_w_i32(&w, 4, h->crc);
	if (h->has_data) {
		thrift_w_field_struct(&w, 5);
		thrift_w_i32(&w, 1, h->data.num_values);
		thrift_w_i32(&w, 2, h->data.encoding);
		thrift_w_i32(&w, 3, h->data.def_encoding);
		thrift_w_i32(&w, 4, h->data.rep_encoding);
		if (h->data.has_stats)
			w_stats(&w, 5, &h->data.stats);
		thrift_w_struct_end(&w);
	}
	if (h->has_dict) {
		thrift_w_field_struct(&w, 7);
		thrift_w_i32(&w, 1, h->dict.num_values);
		thrift_w_i32(&w, 2, h->dict.encoding);
		if (h->dict.has_is_sorted)
			thrift_w_bool(&w, 3, h->dict.is_sorted);
		thrift_w_struct_end(&w);
	}
	if (h->has_data_v2) {
		thrift_w_field_struct(&w, 8);
		thrift_w_i32(&w, 1, h->v2.num_values);
		thrift_w_i32(&w, 2, h->v2.num_nulls);
		thrift_w_i32(&w, 3, h->v2.num_rows);
		thrift_w_i32(&w, 4, h->v2.encoding);
		thrift_w_i32(&w, 5, h->v2.def_len);
		thrift_w_i32(&w, 6, h->v2.rep_len);
		thrift_w_bool(&w, 7, h->v2.is_compressed);
		if (h->v2.has_stats)
			w_stats(&w, 8, &h->v2.stats);
		thrift_w_struct_end(&w);
	}
	thrift_w_struct_end(&w);
}

void pq_column_index_write(strata_buf *out, const pq_column_index *ci)
{
	thrift_w w;
	thrift_w_init(&w, out);
	thrift_w_struct_begin(&w);
	thrift_w_field_list(&w, 1, THRIFT_TRUE, ci->npages);
	for (uint32_t i = 0; i < ci->npages; i++)
		thrift_w_elem_bool(&w, ci->null_pages[i]);
	thrift_w_field_list(&w, 2, THRIFT_BINARY, ci->npages);
	for (uint32_t i = 0; i < ci->npages; i++)
		thrift_w_elem_binary(&w, ci->mins[i].p, ci->mins[i].len);
	thrift_w_field_list(&w, 3, THRIFT_BINARY, ci->npages);
	for (uint32_t i = 0; i < ci->npages; i++)
		thrift_w_elem_binary(&w, ci->maxs[i].p, ci->maxs[i].len);
	thrift_w_i32(&w, 4, ci->boundary_order);
	if (ci->has_null_counts) {
		thrift_w_field_list(&w, 5, THRIFT_I64, ci->npages);
		for (uint32_t i = 0; i < ci->npages; i++)
			thrift_w_elem_i64(&w, ci->null_counts[i]);
	}
	if (ci->has_nan_counts) {
		thrift_w_field_list(&w, 8, THRIFT_I64, ci->npages);
		for (uint32_t i = 0; i < ci->npages; i++)
			thrift_w_elem_i64(&w, ci->nan_counts[i]);
	}
	thrift_w_struct_end(&w);
}

void pq_offset_index_write(strata_buf *out, const pq_offset_index *oi)
{
	thrift_w w;
	thrift_w_init(&w, out);
	thrift_w_struct_begin(&w);
	thrift_w_field_list(&w, 1, THRIFT_STRUCT, oi->npages);
	for (uint32_t i = 0; i < oi->npages; i++) {
		thrift_w_struct_begin(&w);
		thrift_w_i64(&w, 1, oi->pages[i].offset);
		thrift_w_i32(&w, 2, oi->pages[i].compressed_size);
		thrift_w_i64(&w, 3, oi->pages[i].first_row);
		thrift_w_struct_end(&w);
	}
	thrift_w_struct_end(&w);
}

/* ---- reading ------------------------------------------------------------- */

/* Required-field bookkeeping: set bit `id` when seen; at the end compare with
 * the required mask and name the first missing field. */
static void r_require(thrift_r *r, uint32_t seen, uint32_t need, const char *strct,
		      const char *const *names)
{
	uint32_t missing = need & ~seen;
	if (missing && !r->is_failed) {
		int id = __builtin_ctz(missing);
		thrift_r_fail(r, "%s lacks required field %d (%s)", strct, id,
			      names && names[id] ? names[id] : "?");
	}
}

/* Charge n bytes of decoded structure to the reader's budget. */
static bool r_charge(thrift_r *r, size_t n)
{
	if (r->alloc_limit && r->alloc_used + n > r->alloc_limit) {
		thrift_r_fail(r, "metadata decodes to more than %zu bytes (hostile or damaged)",
			      r->alloc_limit);
		return false;
	}
	r->alloc_used += n;
	return true;
}

static char *r_strdup(thrift_r *r, strata_arena *a, const uint8_t *p, uint32_t n)
{
	if (!r_charge(r, (size_t)n + 1))
		n = 0;
	char *s = strata_arena_alloc(a, (size_t)n + 1);
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* An array of *n elements for a list just read; *n is bounded by the input
 * size (thrift.c invariant 4) and the total by the budget (invariant 3).
 * Over budget, *n becomes 0 so the caller's loop reads nothing. */
static void *r_array(thrift_r *r, strata_arena *a, uint32_t *n, size_t size)
{
	if (!r_charge(r, (size_t)*n * size))
		*n = 0;
	void *p = strata_arena_alloc(a, (size_t)(*n ? *n : 1) * size);
	memset(p, 0, (size_t)(*n ? *n : 1) * size);
	return p;
}

static void r_stats(thrift_r *r, uint8_t type, pq_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!thrift_r_expect(r, type, THRIFT_STRUCT, "Statistics"))
		return;
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	while (thrift_r_field(r, &t, &id)) {
		switch (id) {
		case 1:
			s->max_old.p = thrift_r_binary(r, t, "Statistics.max", &s->max_old.len);
			s->has_max_old = true;
			break;
		case 2:
			s->min_old.p = thrift_r_binary(r, t, "Statistics.min", &s->min_old.len);
			s->has_min_old = true;
			break;
		case 3:
			s->null_count = thrift_r_i64(r, t, "Statistics.null_count");
			s->has_null_count = true;
			break;
		case 4:
			s->distinct_count = thrift_r_i64(r, t, "Statistics.distinct_count");
			s->has_distinct_count = true;
			break;
		case 5:
			s->max.p = thrift_r_binary(r, t, "Statistics.max_value", &s->max.len);
			s->has_max = true;
			break;
		case 6:
			s->min.p = thrift_r_binary(r, t, "Statistics.min_value", &s->min.len);
			s->has_min = true;
			break;
		case 7:
			s->is_max_exact = thrift_r_bool(r, t, "Statistics.is_max_value_exact");
			s->has_max_exact = true;
			break;
		case 8:
			s->is_min_exact = thrift_r_bool(r, t, "Statistics.is_min_value_exact");
			s->has_min_exact = true;
			break;
		case 9:
			s->nan_count = thrift_r_i64(r, t, "Statistics.nan_count");
			s->has_nan_count = true;
			break;
		default:
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	if (!r->is_failed && ((s->has_null_count && s->null_count < 0) ||
			      (s->has_nan_count && s->nan_count < 0)))
		thrift_r_fail(r, "Statistics has a negative count");
}

/* A union member that is an empty struct (or one we skip): returns its id. */
static int r_union_id(thrift_r *r, uint8_t type, const char *what)
{
	if (!thrift_r_expect(r, type, THRIFT_STRUCT, what))
		return 0;
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	int got = 0, n = 0;
	while (thrift_r_field(r, &t, &id)) {
		if (t != THRIFT_STRUCT) {
			thrift_r_fail(r, "%s member %d is not a struct", what, id);
			break;
		}
		got = id;
		n++;
		thrift_r_skip(r, t);
	}
	thrift_r_struct_end(r);
	/* invariant 5 */
	if (!r->is_failed && n != 1)
		thrift_r_fail(r, "%s has %d members set, expected 1", what, n);
	return got;
}

static void r_logical(thrift_r *r, uint8_t type, pq_logical *l)
{
	memset(l, 0, sizeof(*l));
	if (!thrift_r_expect(r, type, THRIFT_STRUCT, "LogicalType"))
		return;
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	int n = 0;
	while (thrift_r_field(r, &t, &id)) {
		n++;
		if (!thrift_r_expect(r, t, THRIFT_STRUCT, "LogicalType member"))
			break;
		switch (id) {
		case PQ_LT_TIMESTAMP:
		case PQ_LT_TIME: {
			l->kind = id;
			thrift_r_struct_begin(r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen = 0;
			while (thrift_r_field(r, &t2, &id2)) {
				if (id2 == 1) {
					l->is_utc = thrift_r_bool(r, t2, "isAdjustedToUTC");
					seen |= 1u << 1;
				} else if (id2 == 2) {
					l->unit = r_union_id(r, t2, "TimeUnit");
					seen |= 1u << 2;
				} else {
					thrift_r_skip(r, t2);
				}
			}
			thrift_r_struct_end(r);
			static const char *const names[] = {NULL, "isAdjustedToUTC", "unit"};
			r_require(r, seen, 0x6, id == PQ_LT_TIME ? "TimeType" : "TimestampType",
				  names);
			break;
		}
		case PQ_LT_INTEGER: {
			l->kind = id;
			thrift_r_struct_begin(r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen = 0;
			while (thrift_r_field(r, &t2, &id2)) {
				if (id2 == 1) {
					l->bit_width = thrift_r_i8(r, t2, "IntType.bitWidth");
					seen |= 1u << 1;
				} else if (id2 == 2) {
					l->is_signed = thrift_r_bool(r, t2, "IntType.isSigned");
					seen |= 1u << 2;
				} else {
					thrift_r_skip(r, t2);
				}
			}
			thrift_r_struct_end(r);
			static const char *const names[] = {NULL, "bitWidth", "isSigned"};
			r_require(r, seen, 0x6, "IntType", names);
			break;
		}
		case PQ_LT_DECIMAL: {
			l->kind = id;
			thrift_r_struct_begin(r);
			uint8_t t2;
			int16_t id2;
			while (thrift_r_field(r, &t2, &id2)) {
				if (id2 == 1)
					l->scale = thrift_r_i32(r, t2, "DecimalType.scale");
				else if (id2 == 2)
					l->precision = thrift_r_i32(r, t2, "DecimalType.precision");
				else
					thrift_r_skip(r, t2);
			}
			thrift_r_struct_end(r);
			break;
		}
		case PQ_LT_STRING:
		case PQ_LT_MAP:
		case PQ_LT_LIST:
		case PQ_LT_ENUM:
		case PQ_LT_DATE:
		case PQ_LT_UNKNOWN:
		case PQ_LT_JSON:
		case PQ_LT_BSON:
		case PQ_LT_UUID:
		case PQ_LT_FLOAT16:
			l->kind = id;
			thrift_r_skip(r, t);
			break;
		default:
			l->kind = PQ_LT_OTHER;
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	if (!r->is_failed && n != 1)
		thrift_r_fail(r, "LogicalType has %d members set, expected 1", n);
}

static void r_schema_elem(thrift_r *r, strata_arena *a, pq_schema_elem *e)
{
	memset(e, 0, sizeof(*e));
	e->type = e->repetition = e->num_children = e->converted = -1;
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(r, &t, &id)) {
		switch (id) {
		case 1:
			e->type = thrift_r_i32(r, t, "SchemaElement.type");
			break;
		case 2:
			e->type_length = thrift_r_i32(r, t, "SchemaElement.type_length");
			break;
		case 3:
			e->repetition = thrift_r_i32(r, t, "SchemaElement.repetition_type");
			break;
		case 4: {
			uint32_t n;
			const uint8_t *p = thrift_r_binary(r, t, "SchemaElement.name", &n);
			e->name = r_strdup(r, a, p, n);
			seen |= 1u << 4;
			break;
		}
		case 5:
			e->num_children = thrift_r_i32(r, t, "SchemaElement.num_children");
			break;
		case 6:
			e->converted = thrift_r_i32(r, t, "SchemaElement.converted_type");
			break;
		case 7:
			e->scale = thrift_r_i32(r, t, "SchemaElement.scale");
			break;
		case 8:
			e->precision = thrift_r_i32(r, t, "SchemaElement.precision");
			break;
		case 9:
			e->field_id = thrift_r_i32(r, t, "SchemaElement.field_id");
			e->has_field_id = true;
			break;
		case 10:
			r_logical(r, t, &e->logical);
			break;
		default:
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	static const char *const names[] = {[4] = "name"};
	r_require(r, seen, 1u << 4, "SchemaElement", names);
	if (!r->is_failed && e->num_children < -1)
		thrift_r_fail(r, "SchemaElement \"%s\" has %d children", e->name, e->num_children);
}

static void r_column_meta(thrift_r *r, uint8_t type, strata_arena *a, pq_column_meta *m)
{
	memset(m, 0, sizeof(*m));
	if (!thrift_r_expect(r, type, THRIFT_STRUCT, "ColumnChunk.meta_data"))
		return;
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(r, &t, &id)) {
		if (id >= 1 && id <= 13)
			seen |= 1u << id;
		switch (id) {
		case 1:
			m->type = thrift_r_i32(r, t, "ColumnMetaData.type");
			break;
		case 2:
			m->nencodings = thrift_r_list(r, t, THRIFT_I32, "ColumnMetaData.encodings");
			m->encodings = r_array(r, a, &m->nencodings, sizeof(int32_t));
			for (uint32_t i = 0; i < m->nencodings; i++)
				m->encodings[i] = thrift_r_elem_i32(r);
			break;
		case 3:
			m->npath = thrift_r_list(r, t, THRIFT_BINARY,
						 "ColumnMetaData.path_in_schema");
			m->path = r_array(r, a, &m->npath, sizeof(char *));
			for (uint32_t i = 0; i < m->npath; i++) {
				uint32_t n;
				const uint8_t *p = thrift_r_elem_binary(r, &n);
				m->path[i] = r_strdup(r, a, p, n);
			}
			break;
		case 4:
			m->codec = thrift_r_i32(r, t, "ColumnMetaData.codec");
			break;
		case 5:
			m->num_values = thrift_r_i64(r, t, "ColumnMetaData.num_values");
			break;
		case 6:
			m->total_uncompressed_size =
				thrift_r_i64(r, t, "ColumnMetaData.total_uncompressed_size");
			break;
		case 7:
			m->total_compressed_size =
				thrift_r_i64(r, t, "ColumnMetaData.total_compressed_size");
			break;
		case 9:
			m->data_page_offset = thrift_r_i64(r, t, "ColumnMetaData.data_page_offset");
			break;
		case 10:
			m->index_page_offset = thrift_r_i64(r, t, "ColumnMetaData.index_page_offset");
			m->has_index_page_offset = true;
			break;
		case 11:
			m->dict_page_offset =
				thrift_r_i64(r, t, "ColumnMetaData.dictionary_page_offset");
			m->has_dict_page_offset = true;
			break;
		case 12:
			r_stats(r, t, &m->stats);
			m->has_stats = true;
			break;
		case 13:
			m->nenc_stats = thrift_r_list(r, t, THRIFT_STRUCT,
						      "ColumnMetaData.encoding_stats");
			m->enc_stats = r_array(r, a, &m->nenc_stats, sizeof(pq_enc_stats));
			for (uint32_t i = 0; i < m->nenc_stats; i++) {
				pq_enc_stats *es = &m->enc_stats[i];
				thrift_r_struct_begin(r);
				uint8_t t2;
				int16_t id2;
				uint32_t seen2 = 0;
				while (thrift_r_field(r, &t2, &id2)) {
					if (id2 == 1)
						es->page_type = thrift_r_i32(r, t2, "PageEncodingStats.page_type");
					else if (id2 == 2)
						es->encoding = thrift_r_i32(r, t2, "PageEncodingStats.encoding");
					else if (id2 == 3)
						es->count = thrift_r_i32(r, t2, "PageEncodingStats.count");
					else
						thrift_r_skip(r, t2);
					if (id2 >= 1 && id2 <= 3)
						seen2 |= 1u << id2;
				}
				thrift_r_struct_end(r);
				r_require(r, seen2, 0xe, "PageEncodingStats", NULL);
			}
			break;
		default:
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	static const char *const names[] = {
		NULL, "type", "encodings", "path_in_schema", "codec", "num_values",
		"total_uncompressed_size", "total_compressed_size", NULL, "data_page_offset"};
	r_require(r, seen, 0x2fe, "ColumnMetaData", names);
}

static void r_column_chunk(thrift_r *r, strata_arena *a, pq_column_chunk *c)
{
	memset(c, 0, sizeof(*c));
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(r, &t, &id)) {
		switch (id) {
		case 1: {
			uint32_t n;
			thrift_r_binary(r, t, "ColumnChunk.file_path", &n);
			c->has_file_path = true;
			break;
		}
		case 2:
			c->file_offset = thrift_r_i64(r, t, "ColumnChunk.file_offset");
			seen |= 1u << 2;
			break;
		case 3:
			r_column_meta(r, t, a, &c->meta);
			c->has_meta = true;
			break;
		case 4:
			c->offset_index_offset = thrift_r_i64(r, t, "ColumnChunk.offset_index_offset");
			c->has_offset_index = true;
			break;
		case 5:
			c->offset_index_length = thrift_r_i32(r, t, "ColumnChunk.offset_index_length");
			break;
		case 6:
			c->column_index_offset = thrift_r_i64(r, t, "ColumnChunk.column_index_offset");
			c->has_column_index = true;
			break;
		case 7:
			c->column_index_length = thrift_r_i32(r, t, "ColumnChunk.column_index_length");
			break;
		case 8:
		case 9:
			c->is_encrypted = true;
			thrift_r_skip(r, t);
			break;
		default:
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	/* file_offset is required by the IDL but deprecated; some writers omit
	 * it, and nothing here uses it, so its absence is tolerated.  meta_data
	 * is optional only for encrypted columns, which strata refuses anyway;
	 * requiring it keeps every chunk at least ~20 input bytes (invariant 3:
	 * a list of empty structs cannot blow up into large arrays). */
	(void)seen;
	if (!r->is_failed && !c->has_meta && !c->is_encrypted)
		thrift_r_fail(r, "ColumnChunk lacks meta_data");
}

static void r_row_group(thrift_r *r, strata_arena *a, pq_row_group *g)
{
	memset(g, 0, sizeof(*g));
	thrift_r_struct_begin(r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(r, &t, &id)) {
		if (id >= 1 && id <= 7)
			seen |= 1u << id;
		switch (id) {
		case 1:
			g->ncols = thrift_r_list(r, t, THRIFT_STRUCT, "RowGroup.columns");
			g->cols = r_array(r, a, &g->ncols, sizeof(pq_column_chunk));
			for (uint32_t i = 0; i < g->ncols; i++)
				r_column_chunk(r, a, &g->cols[i]);
			break;
		case 2:
			g->total_byte_size = thrift_r_i64(r, t, "RowGroup.total_byte_size");
			break;
		case 3:
			g->num_rows = thrift_r_i64(r, t, "RowGroup.num_rows");
			break;
		case 4:
			g->nsorting = thrift_r_list(r, t, THRIFT_STRUCT, "RowGroup.sorting_columns");
			g->sorting = r_array(r, a, &g->nsorting, sizeof(pq_sorting_col));
			for (uint32_t i = 0; i < g->nsorting; i++) {
				pq_sorting_col *sc = &g->sorting[i];
				thrift_r_struct_begin(r);
				uint8_t t2;
				int16_t id2;
				uint32_t seen2 = 0;
				while (thrift_r_field(r, &t2, &id2)) {
					if (id2 == 1)
						sc->column_idx = thrift_r_i32(r, t2, "SortingColumn.column_idx");
					else if (id2 == 2)
						sc->is_descending = thrift_r_bool(r, t2, "SortingColumn.descending");
					else if (id2 == 3)
						sc->is_nulls_first = thrift_r_bool(r, t2, "SortingColumn.nulls_first");
					else
						thrift_r_skip(r, t2);
					if (id2 >= 1 && id2 <= 3)
						seen2 |= 1u << id2;
				}
				thrift_r_struct_end(r);
				r_require(r, seen2, 0xe, "SortingColumn", NULL);
			}
			break;
		case 5:
			g->file_offset = thrift_r_i64(r, t, "RowGroup.file_offset");
			g->has_file_offset = true;
			break;
		case 6:
			g->total_compressed_size = thrift_r_i64(r, t, "RowGroup.total_compressed_size");
			g->has_total_compressed_size = true;
			break;
		case 7:
			g->ordinal = thrift_r_i32(r, t, "RowGroup.ordinal");
			g->has_ordinal = true;
			break;
		default:
			thrift_r_skip(r, t);
		}
	}
	thrift_r_struct_end(r);
	static const char *const names[] = {NULL, "columns", "total_byte_size", "num_rows"};
	r_require(r, seen, 0xe, "RowGroup", names);
}

static int r_finish(thrift_r *r, const char *path, const char *what, strata_err *err)
{
	if (!r->is_failed)
		return 0;
	return strata_err_set(err, STRATA_ECORRUPT, "\"%s\": damaged Parquet %s: %s", path,
			      what, r->msg);
}

int pq_file_meta_read(const uint8_t *p, size_t n, strata_arena *a, pq_file_meta *m,
		      const char *path, strata_err *err)
{
	memset(m, 0, sizeof(*m));
	thrift_r r;
	thrift_r_init(&r, p, n);
	r.alloc_limit = PQ_DECODE_BUDGET(n);
	thrift_r_struct_begin(&r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(&r, &t, &id)) {
		if (id >= 1 && id <= 9)
			seen |= 1u << id;
		switch (id) {
		case 1:
			m->version = thrift_r_i32(&r, t, "FileMetaData.version");
			break;
		case 2:
			m->nschema = thrift_r_list(&r, t, THRIFT_STRUCT, "FileMetaData.schema");
			m->schema = r_array(&r, a, &m->nschema, sizeof(pq_schema_elem));
			for (uint32_t i = 0; i < m->nschema; i++)
				r_schema_elem(&r, a, &m->schema[i]);
			break;
		case 3:
			m->num_rows = thrift_r_i64(&r, t, "FileMetaData.num_rows");
			break;
		case 4:
			m->nrow_groups = thrift_r_list(&r, t, THRIFT_STRUCT, "FileMetaData.row_groups");
			m->row_groups = r_array(&r, a, &m->nrow_groups, sizeof(pq_row_group));
			for (uint32_t i = 0; i < m->nrow_groups; i++)
				r_row_group(&r, a, &m->row_groups[i]);
			break;
		case 5:
			m->nkv = thrift_r_list(&r, t, THRIFT_STRUCT, "FileMetaData.key_value_metadata");
			m->kv = r_array(&r, a, &m->nkv, sizeof(pq_kv));
			for (uint32_t i = 0; i < m->nkv; i++) {
				pq_kv *kv = &m->kv[i];
				thrift_r_struct_begin(&r);
				uint8_t t2;
				int16_t id2;
				bool has_key = false;
				while (thrift_r_field(&r, &t2, &id2)) {
					uint32_t len;
					const uint8_t *s;
					if (id2 == 1) {
						s = thrift_r_binary(&r, t2, "KeyValue.key", &len);
						kv->key = r_strdup(&r, a, s, len);
						has_key = true;
					} else if (id2 == 2) {
						kv->value.p = thrift_r_binary(&r, t2, "KeyValue.value",
									      &kv->value.len);
						kv->has_value = true;
					} else {
						thrift_r_skip(&r, t2);
					}
				}
				thrift_r_struct_end(&r);
				if (!has_key)
					thrift_r_fail(&r, "KeyValue lacks its key");
			}
			break;
		case 6: {
			uint32_t len;
			const uint8_t *s = thrift_r_binary(&r, t, "FileMetaData.created_by", &len);
			m->created_by = r_strdup(&r, a, s, len);
			break;
		}
		case 7:
			m->ncolumn_orders =
				thrift_r_list(&r, t, THRIFT_STRUCT, "FileMetaData.column_orders");
			m->column_orders = r_array(&r, a, &m->ncolumn_orders, sizeof(int32_t));
			for (uint32_t i = 0; i < m->ncolumn_orders; i++)
				m->column_orders[i] = r_union_id(&r, THRIFT_STRUCT, "ColumnOrder");
			break;
		case 8:
		case 9:
			m->is_encrypted = true;
			thrift_r_skip(&r, t);
			break;
		default:
			thrift_r_skip(&r, t);
		}
	}
	thrift_r_struct_end(&r);
	static const char *const names[] = {NULL, "version", "schema", "num_rows", "row_groups"};
	r_require(&r, seen, 0x1e, "FileMetaData", names);
	return r_finish(&r, path, "footer", err);
}

int pq_page_header_read(const uint8_t *p, size_t n, pq_page_header *h, size_t *hdr_len,
			bool *is_truncated, const char *path, strata_err *err)
{
	memset(h, 0, sizeof(*h));
	h->v2.is_compressed = true; /* the IDL default */
	if (is_truncated)
		*is_truncated = false;
	thrift_r r;
	thrift_r_init(&r, p, n);
	thrift_r_struct_begin(&r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	while (thrift_r_field(&r, &t, &id)) {
		if (id >= 1 && id <= 8)
			seen |= 1u << id;
		switch (id) {
		case 1:
			h->type = thrift_r_i32(&r, t, "PageHeader.type");
			break;
		case 2:
			h->uncompressed_size = thrift_r_i32(&r, t, "PageHeader.uncompressed_page_size");
			break;
		case 3:
			h->compressed_size = thrift_r_i32(&r, t, "PageHeader.compressed_page_size");
			break;
		case 4:
			h->crc = thrift_r_i32(&r, t, "PageHeader.crc");
			h->has_crc = true;
			break;
		case 5: {
			if (!thrift_r_expect(&r, t, THRIFT_STRUCT, "PageHeader.data_page_header"))
				break;
			h->has_data = true;
			thrift_r_struct_begin(&r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen2 = 0;
			while (thrift_r_field(&r, &t2, &id2)) {
				if (id2 >= 1 && id2 <= 5)
					seen2 |= 1u << id2;
				switch (id2) {
				case 1:
					h->data.num_values = thrift_r_i32(&r, t2, "DataPageHeader.num_values");
					break;
				case 2:
					h->data.encoding = thrift_r_i32(&r, t2, "DataPageHeader.encoding");
					break;
				case 3:
					h->data.def_encoding = thrift_r_i32(
						&r, t2, "DataPageHeader.definition_level_encoding");
					break;
				case 4:
					h->data.rep_encoding = thrift_r_i32(
						&r, t2, "DataPageHeader.repetition_level_encoding");
					break;
				case 5:
					r_stats(&r, t2, &h->data.stats);
					h->data.has_stats = true;
					break;
				default:
					thrift_r_skip(&r, t2);
				}
			}
			thrift_r_struct_end(&r);
			static const char *const names[] = {NULL, "num_values", "encoding",
							    "definition_level_encoding",
							    "repetition_level_encoding"};
			r_require(&r, seen2, 0x1e, "DataPageHeader", names);
			break;
		}
		case 7: {
			if (!thrift_r_expect(&r, t, THRIFT_STRUCT, "PageHeader.dictionary_page_header"))
				break;
			h->has_dict = true;
			thrift_r_struct_begin(&r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen2 = 0;
			while (thrift_r_field(&r, &t2, &id2)) {
				if (id2 >= 1 && id2 <= 3)
					seen2 |= 1u << id2;
				if (id2 == 1) {
					h->dict.num_values =
						thrift_r_i32(&r, t2, "DictionaryPageHeader.num_values");
				} else if (id2 == 2) {
					h->dict.encoding =
						thrift_r_i32(&r, t2, "DictionaryPageHeader.encoding");
				} else if (id2 == 3) {
					h->dict.is_sorted =
						thrift_r_bool(&r, t2, "DictionaryPageHeader.is_sorted");
					h->dict.has_is_sorted = true;
				} else {
					thrift_r_skip(&r, t2);
				}
			}
			thrift_r_struct_end(&r);
			static const char *const names[] = {NULL, "num_values", "encoding"};
			r_require(&r, seen2, 0x6, "DictionaryPageHeader", names);
			break;
		}
		case 8: {
			if (!thrift_r_expect(&r, t, THRIFT_STRUCT, "PageHeader.data_page_header_v2"))
				break;
			h->has_data_v2 = true;
			thrift_r_struct_begin(&r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen2 = 0;
			while (thrift_r_field(&r, &t2, &id2)) {
				if (id2 >= 1 && id2 <= 8)
					seen2 |= 1u << id2;
				switch (id2) {
				case 1:
					h->v2.num_values = thrift_r_i32(&r, t2, "DataPageHeaderV2.num_values");
					break;
				case 2:
					h->v2.num_nulls = thrift_r_i32(&r, t2, "DataPageHeaderV2.num_nulls");
					break;
				case 3:
					h->v2.num_rows = thrift_r_i32(&r, t2, "DataPageHeaderV2.num_rows");
					break;
				case 4:
					h->v2.encoding = thrift_r_i32(&r, t2, "DataPageHeaderV2.encoding");
					break;
				case 5:
					h->v2.def_len = thrift_r_i32(
						&r, t2, "DataPageHeaderV2.definition_levels_byte_length");
					break;
				case 6:
					h->v2.rep_len = thrift_r_i32(
						&r, t2, "DataPageHeaderV2.repetition_levels_byte_length");
					break;
				case 7:
					h->v2.is_compressed =
						thrift_r_bool(&r, t2, "DataPageHeaderV2.is_compressed");
					break;
				case 8:
					r_stats(&r, t2, &h->v2.stats);
					h->v2.has_stats = true;
					break;
				default:
					thrift_r_skip(&r, t2);
				}
			}
			thrift_r_struct_end(&r);
			static const char *const names[] = {
				NULL, "num_values", "num_nulls", "num_rows", "encoding",
				"definition_levels_byte_length", "repetition_levels_byte_length"};
			r_require(&r, seen2, 0x7e, "DataPageHeaderV2", names);
			break;
		}
		default:
			thrift_r_skip(&r, t);
		}
	}
	thrift_r_struct_end(&r);
	static const char *const names[] = {NULL, "type", "uncompressed_page_size",
					    "compressed_page_size"};
	r_require(&r, seen, 0xe, "PageHeader", names);
	if (is_truncated)
		*is_truncated = r.is_failed && r.is_truncated;
	if (!r.is_failed)
		*hdr_len = thrift_r_pos(&r);
	return r_finish(&r, path, "page header", err);
}

int pq_column_index_read(const uint8_t *p, size_t n, strata_arena *a, pq_column_index *ci,
			 const char *path, strata_err *err)
{
	memset(ci, 0, sizeof(*ci));
	thrift_r r;
	thrift_r_init(&r, p, n);
	r.alloc_limit = PQ_DECODE_BUDGET(n);
	thrift_r_struct_begin(&r);
	uint8_t t;
	int16_t id;
	uint32_t seen = 0;
	uint32_t counts[9] = {0};
	while (thrift_r_field(&r, &t, &id)) {
		if (id >= 1 && id <= 8)
			seen |= 1u << id;
		switch (id) {
		case 1:
			counts[1] = thrift_r_list(&r, t, THRIFT_TRUE, "ColumnIndex.null_pages");
			ci->null_pages = r_array(&r, a, &counts[1], sizeof(bool));
			for (uint32_t i = 0; i < counts[1]; i++)
				ci->null_pages[i] = thrift_r_elem_bool(&r);
			break;
		case 2:
		case 3: {
			uint32_t cnt = thrift_r_list(&r, t, THRIFT_BINARY,
						     id == 2 ? "ColumnIndex.min_values" :
							       "ColumnIndex.max_values");
			pq_bytes *v = r_array(&r, a, &cnt, sizeof(pq_bytes));
			for (uint32_t i = 0; i < cnt; i++)
				v[i].p = thrift_r_elem_binary(&r, &v[i].len);
			counts[id] = cnt;
			if (id == 2)
				ci->mins = v;
			else
				ci->maxs = v;
			break;
		}
		case 4:
			ci->boundary_order = thrift_r_i32(&r, t, "ColumnIndex.boundary_order");
			break;
		case 5:
		case 8: {
			uint32_t cnt = thrift_r_list(&r, t, THRIFT_I64,
						     id == 5 ? "ColumnIndex.null_counts" :
							       "ColumnIndex.nan_counts");
			int64_t *v = r_array(&r, a, &cnt, sizeof(int64_t));
			for (uint32_t i = 0; i < cnt; i++) {
				v[i] = thrift_r_elem_i64(&r);
				if (v[i] < 0)
					thrift_r_fail(&r, "ColumnIndex has a negative count");
			}
			counts[id] = cnt;
			if (id == 5) {
				ci->null_counts = v;
				ci->has_null_counts = true;
			} else {
				ci->nan_counts = v;
				ci->has_nan_counts = true;
			}
			break;
		}
		default:
			thrift_r_skip(&r, t);
		}
	}
	thrift_r_struct_end(&r);
	static const char *const names[] = {NULL, "null_pages", "min_values", "max_values",
					    "boundary_order"};
	r_require(&r, seen, 0x1e, "ColumnIndex", names);
	ci->npages = counts[1];
	if (!r.is_failed &&
	    (counts[2] != ci->npages || counts[3] != ci->npages ||
	     (ci->has_null_counts && counts[5] != ci->npages) ||
	     (ci->has_nan_counts && counts[8] != ci->npages)))
		thrift_r_fail(&r, "ColumnIndex lists have different lengths");
	return r_finish(&r, path, "column index", err);
}

int pq_offset_index_read(const uint8_t *p, size_t n, strata_arena *a, pq_offset_index *oi,
			 const char *path, strata_err *err)
{
	memset(oi, 0, sizeof(*oi));
	thrift_r r;
	thrift_r_init(&r, p, n);
	r.alloc_limit = PQ_DECODE_BUDGET(n);
	thrift_r_struct_begin(&r);
	uint8_t t;
	int16_t id;
	bool has_pages = false;
	while (thrift_r_field(&r, &t, &id)) {
		if (id != 1) {
			thrift_r_skip(&r, t);
			continue;
		}
		has_pages = true;
		oi->npages = thrift_r_list(&r, t, THRIFT_STRUCT, "OffsetIndex.page_locations");
		oi->pages = r_array(&r, a, &oi->npages, sizeof(pq_page_location));
		for (uint32_t i = 0; i < oi->npages; i++) {
			pq_page_location *pl = &oi->pages[i];
			thrift_r_struct_begin(&r);
			uint8_t t2;
			int16_t id2;
			uint32_t seen2 = 0;
			while (thrift_r_field(&r, &t2, &id2)) {
				if (id2 == 1)
					pl->offset = thrift_r_i64(&r, t2, "PageLocation.offset");
				else if (id2 == 2)
					pl->compressed_size =
						thrift_r_i32(&r, t2, "PageLocation.compressed_page_size");
				else if (id2 == 3)
					pl->first_row = thrift_r_i64(&r, t2, "PageLocation.first_row_index");
				else
					thrift_r_skip(&r, t2);
				if (id2 >= 1 && id2 <= 3)
					seen2 |= 1u << id2;
			}
			thrift_r_struct_end(&r);
			static const char *const names[] = {NULL, "offset", "compressed_page_size",
							    "first_row_index"};
			r_require(&r, seen2, 0xe, "PageLocation", names);
		}
	}
	thrift_r_struct_end(&r);
	if (!has_pages)
		thrift_r_fail(&r, "OffsetIndex lacks page_locations");
	return r_finish(&r, path, "offset index", err);
}
