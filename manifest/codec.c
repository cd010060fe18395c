/*
 * manifest/codec.c — keys and the binary record codec of the manifest.
 *
 * Every record starts with a one-byte format version (1 today) so fields can
 * be appended later; decoders accept longer records (newer fields are
 * ignored by older code) but never shorter ones.  Invariant: a decoder reads
 * only inside the value; any length that does not fit marks the record bad
 * and the caller reports STRATA_ECORRUPT.
 */
#include "manifest/manifest_int.h"

#include <string.h>

#define REC_V1 1

/* ---- keys ------------------------------------------------------------------ */

void mf_key_u32(mf_key *k, uint32_t v)
{
	if (k->n + 4 > sizeof(k->b))
		return;
	for (int i = 0; i < 4; i++)
		k->b[k->n++] = (uint8_t)(v >> (24 - 8 * i));
}

void mf_key_u64(mf_key *k, uint64_t v)
{
	if (k->n + 8 > sizeof(k->b))
		return;
	for (int i = 0; i < 8; i++)
		k->b[k->n++] = (uint8_t)(v >> (56 - 8 * i));
}

void mf_key_bytes(mf_key *k, const void *p, size_t n)
{
	if (k->n + n > sizeof(k->b))
		n = sizeof(k->b) - k->n;
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

uint32_t mf_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t mf_get_u64(const uint8_t *p)
{
	return (uint64_t)mf_get_u32(p) << 32 | mf_get_u32(p + 4);
}

/* ---- primitives --------------------------------------------------------------- */

void mf_put_u8(strata_buf *b, uint8_t v)
{
	strata_buf_putc(b, v);
}

void mf_put_u32(strata_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	strata_buf_append(b, x, 4);
}

void mf_put_u64(strata_buf *b, uint64_t v)
{
	mf_put_u32(b, (uint32_t)(v >> 32));
	mf_put_u32(b, (uint32_t)v);
}

void mf_put_bytes(strata_buf *b, const void *p, size_t n)
{
	mf_put_u32(b, (uint32_t)n);
	strata_buf_append(b, p, n);
}

void mf_put_str(strata_buf *b, const char *s)
{
	mf_put_bytes(b, s, strlen(s));
}

void mf_dec_init(mf_dec *d, const MDB_val *v)
{
	d->p = v->mv_data;
	d->n = v->mv_size;
	d->off = 0;
	d->is_bad = false;
}

static bool dec_has(mf_dec *d, size_t n)
{
	if (d->is_bad || d->n - d->off < n) {
		d->is_bad = true;
		return false;
	}
	return true;
}

uint8_t mf_get8(mf_dec *d)
{
	if (!dec_has(d, 1))
		return 0;
	return d->p[d->off++];
}

uint32_t mf_get32(mf_dec *d)
{
	if (!dec_has(d, 4))
		return 0;
	uint32_t v = mf_get_u32(d->p + d->off);
	d->off += 4;
	return v;
}

uint64_t mf_get64(mf_dec *d)
{
	if (!dec_has(d, 8))
		return 0;
	uint64_t v = mf_get_u64(d->p + d->off);
	d->off += 8;
	return v;
}

const uint8_t *mf_getbytes(mf_dec *d, uint32_t *len)
{
	uint32_t n = mf_get32(d);
	if (!dec_has(d, n)) {
		*len = 0;
		return NULL;
	}
	const uint8_t *p = d->p + d->off;
	d->off += n;
	*len = n;
	return p;
}

void mf_getstr(mf_dec *d, char *out, size_t n)
{
	uint32_t len;
	const uint8_t *p = mf_getbytes(d, &len);
	if (!p || len >= n) {
		d->is_bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, p, len);
	out[len] = '\0';
}

static int dec_version(mf_dec *d)
{
	uint8_t v = mf_get8(d);
	if (v != REC_V1)
		d->is_bad = true;
	return d->is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- table --------------------------------------------------------------------- */

void mf_table_enc(const strata_table_def *t, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u32(b, t->id);
	mf_put_str(b, t->name);
	mf_put_u64(b, t->version);
	mf_put_u64(b, t->data_version);
	mf_put_u64(b, t->log_start);
	mf_put_u32(b, t->schema_version);
	mf_put_u32(b, t->next_col_id);
	mf_put_u32(b, t->next_part_id);
	mf_put_u32(b, t->buckets);
	mf_put_u32(b, t->retain_hours);
	mf_put_u32(b, t->nparts);
	for (uint32_t i = 0; i < t->nparts; i++)
		mf_put_str(b, t->part_cols[i]);
	mf_put_u8(b, (uint8_t)t->avro_codec);
	mf_put_u32(b, (uint32_t)t->zstd_level);
	mf_put_u64(b, t->row_group_bytes);
	mf_put_u64(b, t->page_bytes);
	mf_put_u64(b, (uint64_t)t->created_us);
	/* token horizon (absent in records written before it: defaults) */
	mf_put_u32(b, t->token_retain_hours);
	mf_put_u64(b, (uint64_t)t->token_floor_us);
	mf_put_u64(b, (uint64_t)t->tokens_pruned_us);
	/* partition TTL (absent in records written before it: off) */
	mf_put_u64(b, (uint64_t)t->part_expire_s);
	mf_put_str(b, t->part_expire_col);
	/* back-pressure (absent in records written before it: off) */
	mf_put_u32(b, t->max_l0_files);
	mf_put_u32(b, t->slow_l0_files);
	mf_put_u32(b, t->stall_timeout_s);
	/* inline row files (absent in records written before it: default) */
	mf_put_u32(b, t->inline_max_bytes);
}

int mf_table_dec(const MDB_val *v, strata_table_def *t)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(t, 0, sizeof(*t));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	t->id = mf_get32(&d);
	mf_getstr(&d, t->name, sizeof(t->name));
	t->version = mf_get64(&d);
	t->data_version = mf_get64(&d);
	t->log_start = mf_get64(&d);
	t->schema_version = mf_get32(&d);
	t->next_col_id = mf_get32(&d);
	t->next_part_id = mf_get32(&d);
	t->buckets = mf_get32(&d);
	t->retain_hours = mf_get32(&d);
	t->nparts = mf_get32(&d);
	if (t->nparts > STRATA_MAX_PART_COLS)
		return STRATA_ECORRUPT;
	for (uint32_t i = 0; i < t->nparts; i++)
		mf_getstr(&d, t->part_cols[i], sizeof(t->part_cols[i]));
	t->avro_codec = (strata_codec)mf_get8(&d);
	t->zstd_level = (int)mf_get32(&d);
	t->row_group_bytes = mf_get64(&d);
	t->page_bytes = mf_get64(&d);
	t->created_us = (int64_t)mf_get64(&d);
	t->token_retain_hours = STRATA_TOKEN_RETAIN_HOURS_DEFAULT;
	if (!d.is_bad && d.off < d.n) {
		t->token_retain_hours = mf_get32(&d);
		t->token_floor_us = (int64_t)mf_get64(&d);
		t->tokens_pruned_us = (int64_t)mf_get64(&d);
	}
	if (!d.is_bad && d.off < d.n) {
		t->part_expire_s = (int64_t)mf_get64(&d);
		mf_getstr(&d, t->part_expire_col, sizeof(t->part_expire_col));
	}
	if (!d.is_bad && d.off < d.n) {
		t->max_l0_files = mf_get32(&d);
		t->slow_l0_files = mf_get32(&d);
		t->stall_timeout_s = mf_get32(&d);
	}
	t->inline_max_bytes = STRATA_INLINE_DEFAULT_BYTES;
	if (!d.is_bad && d.off < d.n)
		t->inline_max_bytes = mf_get32(&d);
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- partition ------------------------------------------------------------------- */

void mf_part_enc(const strata_partition *p, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u32(b, p->id);
	mf_put_u32(b, p->buckets);
	mf_put_u64(b, p->created_version);
	mf_put_str(b, p->name);
}

int mf_part_dec(const MDB_val *v, strata_partition *p)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(p, 0, sizeof(*p));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	p->id = mf_get32(&d);
	p->buckets = mf_get32(&d);
	p->created_version = mf_get64(&d);
	mf_getstr(&d, p->name, sizeof(p->name));
	if (p->buckets == 0 || p->buckets > 4096)
		return STRATA_ECORRUPT;
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- file entry ------------------------------------------------------------------- */

/* FILE_F_GONE came later in the same byte: older entries have it clear */
enum { FILE_F_KEPT_HISTORY = 1, FILE_F_DELETED = 2, FILE_F_COMPACT = 4, FILE_F_GONE = 8 };
enum { FILE_H_CONTENT = 1, FILE_H_FOOTER = 2 }; /* the appended hash flags */
enum { FILE_I_INLINE = 1 };                      /* the appended inline flags */

void mf_file_enc(const strata_file_entry *f, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u64(b, f->id);
	mf_put_u32(b, f->table_id);
	mf_put_u32(b, f->part_id);
	mf_put_u32(b, f->bucket);
	mf_put_u8(b, (uint8_t)f->format);
	mf_put_u8(b, f->level);
	mf_put_str(b, f->name);
	mf_put_u32(b, f->schema_version);
	mf_put_u64(b, (uint64_t)f->seq_min);
	mf_put_u64(b, (uint64_t)f->seq_max);
	mf_put_u64(b, f->rows);
	mf_put_u64(b, f->bytes);
	mf_put_u64(b, f->tombstones);
	mf_put_bytes(b, f->key_min, f->key_min_len);
	mf_put_bytes(b, f->key_max, f->key_max_len);
	mf_put_bytes(b, f->sketch, STRATA_SKETCH_REGS);
	mf_put_u64(b, f->job_id);
	mf_put_u64(b, f->added_version);
	mf_put_u64(b, (uint64_t)f->added_us);
	mf_put_u64(b, f->removed_version);
	mf_put_u64(b, (uint64_t)f->removed_us);
	mf_put_u8(b, (uint8_t)((f->removed_kept_history ? FILE_F_KEPT_HISTORY : 0) |
			       (f->is_deleted ? FILE_F_DELETED : 0) |
			       (f->is_compact ? FILE_F_COMPACT : 0) |
			       (f->is_gone ? FILE_F_GONE : 0)));
	mf_put_u64(b, (uint64_t)f->deleted_us);
	/* appended field (invariant: older entries end before it) */
	mf_put_u8(b, (uint8_t)((f->has_content_hash ? FILE_H_CONTENT : 0) |
			       (f->has_footer_hash ? FILE_H_FOOTER : 0)));
	mf_put_u64(b, f->content_hash);
	mf_put_u64(b, f->footer_hash);
	/* appended field: entries from before undelete end before it */
	mf_put_u64(b, (uint64_t)f->trash_until_us);
	/* appended field: entries from before inline row files end before it;
	 * a flag byte (the bytes are in DB_INLINE, under the file id) */
	mf_put_u8(b, f->is_inline ? FILE_I_INLINE : 0);
}

int mf_file_dec(const MDB_val *v, strata_arena *a, strata_file_entry *f)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(f, 0, sizeof(*f));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	f->id = mf_get64(&d);
	f->table_id = mf_get32(&d);
	f->part_id = mf_get32(&d);
	f->bucket = mf_get32(&d);
	f->format = (strata_format)mf_get8(&d);
	f->level = mf_get8(&d);
	mf_getstr(&d, f->name, sizeof(f->name));
	f->schema_version = mf_get32(&d);
	f->seq_min = (int64_t)mf_get64(&d);
	f->seq_max = (int64_t)mf_get64(&d);
	f->rows = mf_get64(&d);
	f->bytes = mf_get64(&d);
	f->tombstones = mf_get64(&d);
	uint32_t n;
	const uint8_t *p = mf_getbytes(&d, &n);
	f->key_min = p && a ? strata_arena_dup(a, p, n) : p;
	f->key_min_len = n;
	p = mf_getbytes(&d, &n);
	f->key_max = p && a ? strata_arena_dup(a, p, n) : p;
	f->key_max_len = n;
	p = mf_getbytes(&d, &n);
	if (p && n == STRATA_SKETCH_REGS)
		memcpy(f->sketch, p, n);
	else
		d.is_bad = true;
	f->job_id = mf_get64(&d);
	f->added_version = mf_get64(&d);
	f->added_us = (int64_t)mf_get64(&d);
	f->removed_version = mf_get64(&d);
	f->removed_us = (int64_t)mf_get64(&d);
	uint8_t flags = mf_get8(&d);
	f->removed_kept_history = flags & FILE_F_KEPT_HISTORY;
	f->is_deleted = flags & FILE_F_DELETED;
	f->is_compact = flags & FILE_F_COMPACT;
	f->is_gone = flags & FILE_F_GONE;
	f->deleted_us = (int64_t)mf_get64(&d);
	/* entries written before content hashes end here: hash not known */
	if (!d.is_bad && d.n - d.off >= 17) {
		uint8_t hf = mf_get8(&d);
		f->content_hash = mf_get64(&d);
		f->footer_hash = mf_get64(&d);
		f->has_content_hash = hf & FILE_H_CONTENT;
		f->has_footer_hash = hf & FILE_H_FOOTER;
		/* entries from before undelete end here: not restorable */
		if (!d.is_bad && d.n - d.off >= 8)
			f->trash_until_us = (int64_t)mf_get64(&d);
		/* entries from before inline row files end here: a file */
		if (!d.is_bad && d.n - d.off >= 1 && (mf_get8(&d) & FILE_I_INLINE)) {
			f->is_inline = true;
			f->inline_len = (uint32_t)f->bytes;
			/* only writers' small row files are inline: anything
			 * else is damage */
			if (f->format != STRATA_FMT_AVRO || f->level != 0 ||
			    f->bytes > STRATA_INLINE_MAX_BYTES)
				d.is_bad = true;
		}
	}
	if (f->format != STRATA_FMT_AVRO && f->format != STRATA_FMT_PARQUET)
		d.is_bad = true;
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* The fields mf_file_dec() reads, in its order, with its checks; the ones
 * a brief has no room for are skipped, never copied (the name is only
 * measured, the keys and the sketch lent). */
static void dec_skip(mf_dec *d, size_t n)
{
	if (dec_has(d, n))
		d->off += n;
}

int mf_file_brief_dec(const MDB_val *v, strata_file_brief *b)
{
	mf_dec d;
	mf_dec_init(&d, v);
	*b = (strata_file_brief){0};
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	b->id = mf_get64(&d);
	dec_skip(&d, 4); /* table id */
	b->part_id = mf_get32(&d);
	b->bucket = mf_get32(&d);
	b->format = (strata_format)mf_get8(&d);
	b->level = mf_get8(&d);
	uint32_t n;
	if (!mf_getbytes(&d, &n) || n >= STRATA_FILE_NAME_MAX) /* mf_getstr()'s rule */
		d.is_bad = true;
	dec_skip(&d, 4); /* schema version */
	b->seq_min = (int64_t)mf_get64(&d);
	b->seq_max = (int64_t)mf_get64(&d);
	b->rows = mf_get64(&d);
	b->bytes = mf_get64(&d);
	b->tombstones = mf_get64(&d);
	mf_getbytes(&d, &n); /* key_min */
	mf_getbytes(&d, &n); /* key_max */
	const uint8_t *p = mf_getbytes(&d, &n);
	if (p && n == STRATA_SKETCH_REGS)
		b->sketch = p;
	else
		d.is_bad = true;
	dec_skip(&d, 8); /* job id */
	b->added_version = mf_get64(&d);
	b->added_us = (int64_t)mf_get64(&d);
	b->removed_version = mf_get64(&d);
	b->removed_us = (int64_t)mf_get64(&d);
	uint8_t flags = mf_get8(&d);
	b->removed_kept_history = flags & FILE_F_KEPT_HISTORY;
	b->is_deleted = flags & FILE_F_DELETED;
	b->is_compact = flags & FILE_F_COMPACT;
	b->is_gone = flags & FILE_F_GONE;
	b->deleted_us = (int64_t)mf_get64(&d);
	/* the appended fields, as mf_file_dec() reads them: hash flags and
	 * both hashes (skipped), then trash_until_us */
	if (!d.is_bad && d.n - d.off >= 17) {
		d.off += 17;
		if (d.n - d.off >= 8)
			b->trash_until_us = (int64_t)mf_get64(&d);
		if (!d.is_bad && d.n - d.off >= 1 && (mf_get8(&d) & FILE_I_INLINE)) {
			b->is_inline = true;
			if (b->format != STRATA_FMT_AVRO || b->level != 0 ||
			    b->bytes > STRATA_INLINE_MAX_BYTES)
				d.is_bad = true;
		}
	}
	if (b->format != STRATA_FMT_AVRO && b->format != STRATA_FMT_PARQUET)
		d.is_bad = true;
	if (d.is_bad) {
		b->sketch = NULL;
		return STRATA_ECORRUPT;
	}
	b->rec = v->mv_data;
	b->rec_len = v->mv_size;
	return 0;
}

/* ---- version ---------------------------------------------------------------------- */

void mf_version_enc(const strata_version_rec *r, const char *token, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u64(b, r->version);
	mf_put_u64(b, (uint64_t)r->ts_us);
	mf_put_u8(b, (uint8_t)r->kind);
	mf_put_u32(b, r->schema_version);
	mf_put_str(b, r->note);
	mf_put_str(b, token ? token : "");
	mf_put_u32(b, r->nadded);
	for (uint32_t i = 0; i < r->nadded; i++)
		mf_put_u64(b, r->added[i]);
	mf_put_u32(b, r->nremoved);
	for (uint32_t i = 0; i < r->nremoved; i++)
		mf_put_u64(b, r->removed[i]);
}

int mf_version_dec(const MDB_val *v, strata_arena *a, strata_version_rec *r, char *token,
		   size_t token_n)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(r, 0, sizeof(*r));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	r->version = mf_get64(&d);
	r->ts_us = (int64_t)mf_get64(&d);
	r->kind = (strata_vkind)mf_get8(&d);
	r->schema_version = mf_get32(&d);
	mf_getstr(&d, r->note, sizeof(r->note));
	char tok[STRATA_TOKEN_MAX + 1];
	mf_getstr(&d, tok, sizeof(tok));
	if (token)
		snprintf(token, token_n, "%s", tok);
	r->nadded = mf_get32(&d);
	if (d.is_bad || r->nadded > (d.n - d.off) / 8)
		return STRATA_ECORRUPT;
	if (a) {
		r->added = strata_arena_alloc(a, 8 * (r->nadded + 1));
		for (uint32_t i = 0; i < r->nadded; i++)
			r->added[i] = mf_get64(&d);
	} else {
		d.off += 8 * (size_t)r->nadded;
	}
	r->nremoved = mf_get32(&d);
	if (d.is_bad || r->nremoved > (d.n - d.off) / 8)
		return STRATA_ECORRUPT;
	if (a) {
		r->removed = strata_arena_alloc(a, 8 * (r->nremoved + 1));
		for (uint32_t i = 0; i < r->nremoved; i++)
			r->removed[i] = mf_get64(&d);
	}
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- bucket state ------------------------------------------------------------------ */

void mf_bucket_enc(const strata_bucket_state *s, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u64(b, s->floor);
	mf_put_u64(b, s->resolvable_from);
	mf_put_u32(b, s->nlog);
	for (uint32_t i = 0; i < s->nlog; i++) {
		mf_put_u64(b, s->log[i].commit_version);
		mf_put_u64(b, s->log[i].boundary);
	}
}

int mf_bucket_dec(const MDB_val *v, strata_bucket_state *s)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(s, 0, sizeof(*s));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	s->floor = mf_get64(&d);
	s->resolvable_from = mf_get64(&d);
	s->nlog = mf_get32(&d);
	if (s->nlog > STRATA_FLOOR_LOG_MAX)
		return STRATA_ECORRUPT;
	for (uint32_t i = 0; i < s->nlog; i++) {
		s->log[i].commit_version = mf_get64(&d);
		s->log[i].boundary = mf_get64(&d);
	}
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- claim, intent, tag --------------------------------------------------------------- */

void mf_claim_enc(const strata_claim *c, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_str(b, c->owner);
	mf_put_u64(b, c->job_id);
	mf_put_u64(b, (uint64_t)c->expires_us);
}

int mf_claim_dec(const MDB_val *v, strata_claim *c)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(c, 0, sizeof(*c));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	mf_getstr(&d, c->owner, sizeof(c->owner));
	c->job_id = mf_get64(&d);
	c->expires_us = (int64_t)mf_get64(&d);
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

void mf_intent_enc(const strata_intent *in, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u64(b, in->job_id);
	mf_put_u32(b, in->table_id);
	mf_put_u32(b, in->part_id);
	mf_put_u32(b, in->bucket);
	mf_put_u64(b, (uint64_t)in->created_us);
	mf_put_str(b, in->owner);
	mf_put_u32(b, in->npaths);
	for (uint32_t i = 0; i < in->npaths; i++)
		mf_put_str(b, in->paths[i]);
}

int mf_intent_dec(const MDB_val *v, strata_arena *a, strata_intent *in)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(in, 0, sizeof(*in));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	in->job_id = mf_get64(&d);
	in->table_id = mf_get32(&d);
	in->part_id = mf_get32(&d);
	in->bucket = mf_get32(&d);
	in->created_us = (int64_t)mf_get64(&d);
	mf_getstr(&d, in->owner, sizeof(in->owner));
	in->npaths = mf_get32(&d);
	if (d.is_bad || in->npaths > (d.n - d.off) / 4)
		return STRATA_ECORRUPT;
	in->paths = strata_arena_alloc(a, sizeof(char *) * (in->npaths + 1));
	for (uint32_t i = 0; i < in->npaths; i++) {
		uint32_t n;
		const uint8_t *p = mf_getbytes(&d, &n);
		char *s = strata_arena_alloc(a, n + 1);
		if (p)
			memcpy(s, p, n);
		s[n] = '\0';
		in->paths[i] = s;
	}
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

void mf_tag_enc(const strata_tag *t, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_str(b, t->name);
	mf_put_u64(b, t->version);
	mf_put_u64(b, (uint64_t)t->created_us);
}

int mf_tag_dec(const MDB_val *v, strata_tag *t)
{
	mf_dec d;
	mf_dec_init(&d, v);
	memset(t, 0, sizeof(*t));
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	mf_getstr(&d, t->name, sizeof(t->name));
	t->version = mf_get64(&d);
	t->created_us = (int64_t)mf_get64(&d);
	return d.is_bad ? STRATA_ECORRUPT : 0;
}

/* ---- kept clean (the trash of the manifest) --------------------------------------- */

void mf_trash_enc(const strata_trash_unit *u, strata_buf *b)
{
	mf_put_u8(b, REC_V1);
	mf_put_u64(b, (uint64_t)u->created_us);
	mf_put_u64(b, (uint64_t)u->expires_us);
	mf_put_u64(b, u->log_from);
	mf_put_u64(b, u->log_to);
	mf_put_u32(b, u->nversions);
	mf_put_u32(b, u->nids);
	for (uint32_t i = 0; i < u->nids; i++)
		mf_put_u64(b, u->ids[i]);
}

int mf_trash_dec(const MDB_val *v, strata_arena *a, strata_trash_unit *u)
{
	mf_dec d;
	mf_dec_init(&d, v);
	uint64_t cv = u->clean_version;
	memset(u, 0, sizeof(*u));
	u->clean_version = cv;
	if (dec_version(&d))
		return STRATA_ECORRUPT;
	u->created_us = (int64_t)mf_get64(&d);
	u->expires_us = (int64_t)mf_get64(&d);
	u->log_from = mf_get64(&d);
	u->log_to = mf_get64(&d);
	u->nversions = mf_get32(&d);
	u->nids = mf_get32(&d);
	if (d.is_bad || (d.n - d.off) / 8 < u->nids)
		return STRATA_ECORRUPT;
	u->ids = strata_arena_alloc(a, ((size_t)u->nids + 1) * sizeof(uint64_t));
	for (uint32_t i = 0; i < u->nids; i++)
		u->ids[i] = mf_get64(&d);
	return d.is_bad ? STRATA_ECORRUPT : 0;
}
