/*
 * format/parquet_enc.c — Parquet value encodings shared by the writer and
 * the reader: LSB-first bit packing, the RLE/bit-packed hybrid (definition
 * levels, dictionary indexes, booleans) and DELTA_BINARY_PACKED (Encodings.md
 * of apache/parquet-format).
 *
 * Encoders:
 *   - the hybrid encoder works on a whole page at once: a run of 8 or more
 *     equal values becomes an RLE run, anything else is bit-packed 8 values
 *     at a time (the last group padded with zeros);
 *   - the delta encoder uses blocks of 128 values in 4 miniblocks of 32 (what
 *     parquet-mr, Arrow and DuckDB read fastest), wrapping arithmetic in the
 *     column's own width (INT32 deltas never need more than 32 bits).
 * Decoders (invariants):
 *   1. nothing is read outside [p, end); every run length, block size and
 *      bit width is checked before use;
 *   2. run lengths are bounded by 2^31 - 1 (the spec's limit) and block sizes
 *      by 65536 values, so no count can drive a large allocation — the
 *      decoders allocate nothing;
 *   3. skipping costs O(bytes skipped) plus O(1) per run or miniblock, never
 *      O(values) for RLE runs, so a hostile "2^31 equal values" page is cheap.
 *
 * Pure functions over memory; any thread.
 */
#include "format/parquet_int.h"

#include <string.h>

/* ---- bit packing --------------------------------------------------------- */

void pq_bitpack64(uint8_t *dst, const uint64_t *vals, size_t n, int width)
{
	if (width == 0)
		return;
	size_t o = 0;
	if (width <= 56) {
		uint64_t acc = 0;
		int bits = 0;
		for (size_t i = 0; i < n; i++) {
			acc |= vals[i] << bits;
			bits += width;
			while (bits >= 8) {
				dst[o++] = (uint8_t)acc;
				acc >>= 8;
				bits -= 8;
			}
			/* bits < 8 here; the next value can add up to 56 */
		}
		if (bits > 0)
			dst[o++] = (uint8_t)acc;
		return;
	}
	unsigned __int128 acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc |= (unsigned __int128)vals[i] << bits;
		bits += width;
		while (bits >= 8) {
			dst[o++] = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	if (bits > 0)
		dst[o++] = (uint8_t)acc;
}

/* Read `width` (0..64) bits at bit offset `bit` of p, where only avail_bits
 * bits exist.  Returns false if the value is not all there. */
static inline bool read_bits(const uint8_t *p, uint64_t bit, int width, uint64_t avail_bits,
			     uint64_t *out)
{
	if (width == 0) {
		*out = 0;
		return true;
	}
	if (bit + (uint64_t)width > avail_bits)
		return false;
	uint64_t byte = bit >> 3;
	int sh = (int)(bit & 7);
	uint64_t avail_bytes = (avail_bits + 7) >> 3;
	uint64_t lo;
	if (byte + 8 <= avail_bytes) {
		memcpy(&lo, p + byte, 8);
	} else {
		lo = 0;
		for (uint64_t i = 0; byte + i < avail_bytes && i < 8; i++)
			lo |= (uint64_t)p[byte + i] << (8 * i);
	}
	uint64_t v = lo >> sh;
	if (sh + width > 64)
		v |= (uint64_t)p[byte + 8] << (64 - sh); /* in bounds: bits checked */
	if (width < 64)
		v &= (1ull << width) - 1;
	*out = v;
	return true;
}

int pq_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return STRATA_ECORRUPT;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return STRATA_ECORRUPT;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return STRATA_ECORRUPT;
}

/* ---- RLE / bit-packed hybrid: encoding ----------------------------------- */

static void rle_run(strata_buf *out, uint32_t value, size_t count, int width)
{
	thrift_put_uvarint(out, (uint64_t)count << 1);
	int bytes = (width + 7) / 8;
	for (int i = 0; i < bytes; i++)
		strata_buf_putc(out, (uint8_t)(value >> (8 * i)));
}

/* A bit-packed run of count values (padded with zeros to a multiple of 8;
 * only the last run of a stream may be padded, so callers pass multiples of
 * 8 except at the end). */
#define DEFINE_BP_RUN(NAME, T)                                                         \
	static void NAME(strata_buf *out, const T *vals, size_t count, int width)       \
	{                                                                               \
		size_t groups = (count + 7) / 8;                                        \
		thrift_put_uvarint(out, (uint64_t)groups << 1 | 1);                     \
		size_t bytes = groups * (size_t)width;                                  \
		strata_buf_reserve(out, bytes + 8);                                     \
		uint8_t *dst = out->data + out->len;                                    \
		uint64_t acc = 0;                                                       \
		int bits = 0;                                                           \
		size_t o = 0;                                                           \
		for (size_t i = 0; i < groups * 8; i++) {                               \
			acc |= (uint64_t)(i < count ? vals[i] : 0) << bits;             \
			bits += width;                                                  \
			while (bits >= 8) {                                             \
				dst[o++] = (uint8_t)acc;                                \
				acc >>= 8;                                              \
				bits -= 8;                                              \
			}                                                               \
		}                                                                       \
		out->len += bytes;                                                      \
	}

/* The hybrid encoder: a run of 8 or more equal values becomes an RLE run,
 * anything else is bit-packed 8 values at a time. */
#define DEFINE_RLE_ENCODE(NAME, T, BP)                                                 \
	static void NAME(strata_buf *out, const T *v, size_t n, int width)              \
	{                                                                               \
		size_t i = 0;                                                           \
		size_t bp_start = n; /* none pending */                                 \
		while (i < n) {                                                         \
			size_t r = 1;                                                   \
			while (i + r < n && v[i + r] == v[i])                           \
				r++;                                                    \
			if (r >= 8) {                                                   \
				if (bp_start < i)                                       \
					BP(out, v + bp_start, i - bp_start, width);     \
				bp_start = n;                                           \
				while (r > 0) {                                         \
					size_t k = r > 0x7fffffff ? 0x7fffffff : r;     \
					rle_run(out, v[i], k, width);                   \
					r -= k;                                         \
					i += k;                                         \
				}                                                       \
			} else {                                                        \
				if (bp_start == n)                                      \
					bp_start = i;                                   \
				i = i + 8 < n ? i + 8 : n;                              \
			}                                                               \
		}                                                                       \
		if (bp_start < n)                                                       \
			BP(out, v + bp_start, n - bp_start, width);                     \
	}

DEFINE_BP_RUN(bp_run32, uint32_t)
DEFINE_BP_RUN(bp_run8, uint8_t)
DEFINE_RLE_ENCODE(rle_encode32, uint32_t, bp_run32)
DEFINE_RLE_ENCODE(rle_encode8, uint8_t, bp_run8)

void pq_rle_encode(strata_buf *out, const uint32_t *v, size_t n, int width)
{
	rle_encode32(out, v, n, width);
}

void pq_rle_encode_bits(strata_buf *out, const uint8_t *v, size_t n)
{
	/* the common cases: no nulls, or only nulls */
	size_t ones = 0;
	for (size_t i = 0; i < n; i++)
		ones += v[i];
	if (n > 0 && (ones == n || ones == 0) && n <= 0x7fffffff) {
		rle_run(out, ones ? 1 : 0, n, 1);
		return;
	}
	rle_encode8(out, v, n, 1);
}

/* ---- RLE / bit-packed hybrid: decoding ----------------------------------- */

int pq_rle_init(pq_rle_dec *d, const uint8_t *p, size_t n, int width)
{
	memset(d, 0, sizeof(*d));
	if (width < 0 || width > 32)
		return STRATA_ECORRUPT;
	d->p = p;
	d->end = p + n;
	d->width = width;
	return 0;
}

/* Start the next run; -1 at the end of the data or on a malformed header. */
static int rle_next_run(pq_rle_dec *d)
{
	uint64_t h;
	if (pq_uvarint(&d->p, d->end, &h) != 0)
		return STRATA_ECORRUPT;
	if (h & 1) {
		uint64_t groups = h >> 1;
		/* invariant 2 */
		if (groups == 0 || groups > 0x7fffffff / 8)
			return STRATA_ECORRUPT;
		uint64_t bytes = groups * (uint64_t)d->width;
		uint64_t avail = (uint64_t)(d->end - d->p);
		if (avail > bytes)
			avail = bytes;
		d->bp = d->p;
		d->bp_bit = 0;
		d->bp_bits_avail = avail * 8;
		d->bp_left = (uint32_t)(groups * 8);
		d->p += avail; /* a short last run: the values read are checked */
	} else {
		uint64_t count = h >> 1;
		if (count == 0 || count > 0x7fffffff)
			return STRATA_ECORRUPT;
		int bytes = (d->width + 7) / 8;
		if (d->end - d->p < bytes)
			return STRATA_ECORRUPT;
		uint32_t v = 0;
		for (int i = 0; i < bytes; i++)
			v |= (uint32_t)d->p[i] << (8 * i);
		d->p += bytes;
		if (d->width < 32 && (v >> d->width) != 0)
			return STRATA_ECORRUPT;
		d->rle_value = v;
		d->rle_left = (uint32_t)count;
	}
	return 0;
}

int pq_rle_get(pq_rle_dec *d, uint32_t *out, size_t n)
{
	while (n > 0) {
		if (d->rle_left) {
			size_t k = n < d->rle_left ? n : d->rle_left;
			for (size_t i = 0; i < k; i++)
				out[i] = d->rle_value;
			out += k;
			n -= k;
			d->rle_left -= (uint32_t)k;
		} else if (d->bp_left) {
			size_t k = n < d->bp_left ? n : d->bp_left;
			int w = d->width;
			uint64_t need = d->bp_bit + (uint64_t)k * (uint64_t)w;
			if (need > d->bp_bits_avail)
				return STRATA_ECORRUPT;
			/* fast path: whole 8-byte loads while they stay in bounds */
			uint64_t bit = d->bp_bit;
			uint64_t mask = w == 32 ? 0xffffffffull : (1ull << w) - 1;
			uint64_t avail_bytes = (d->bp_bits_avail + 7) >> 3;
			for (size_t i = 0; i < k; i++) {
				uint64_t byte = bit >> 3;
				uint64_t v;
				if (byte + 8 <= avail_bytes) {
					uint64_t lo;
					memcpy(&lo, d->bp + byte, 8);
					v = (lo >> (bit & 7)) & mask;
				} else if (!read_bits(d->bp, bit, w, d->bp_bits_avail, &v)) {
					return STRATA_ECORRUPT;
				}
				out[i] = (uint32_t)v;
				bit += (uint64_t)w;
			}
			d->bp_bit = bit;
			out += k;
			n -= k;
			d->bp_left -= (uint32_t)k;
		} else if (rle_next_run(d) != 0) {
			return STRATA_ECORRUPT;
		}
	}
	return 0;
}

int pq_rle_skip(pq_rle_dec *d, size_t n, uint32_t value, uint64_t *count_eq)
{
	while (n > 0) {
		if (d->rle_left) {
			size_t k = n < d->rle_left ? n : d->rle_left;
			if (count_eq && d->rle_value == value)
				*count_eq += k;
			n -= k;
			d->rle_left -= (uint32_t)k;
		} else if (d->bp_left) {
			size_t k = n < d->bp_left ? n : d->bp_left;
			uint64_t need = d->bp_bit + (uint64_t)k * (uint64_t)d->width;
			if (need > d->bp_bits_avail)
				return STRATA_ECORRUPT;
			if (count_eq) {
				for (size_t i = 0; i < k; i++) {
					uint64_t v;
					if (!read_bits(d->bp, d->bp_bit, d->width, d->bp_bits_avail, &v))
						return STRATA_ECORRUPT;
					*count_eq += v == value;
					d->bp_bit += (uint64_t)d->width;
				}
			} else {
				d->bp_bit = need;
			}
			n -= k;
			d->bp_left -= (uint32_t)k;
		} else if (rle_next_run(d) != 0) {
			return STRATA_ECORRUPT;
		}
	}
	return 0;
}

/* ---- DELTA_BINARY_PACKED: encoding --------------------------------------- */

#define DELTA_BLOCK 128
#define DELTA_MINIS 4
#define DELTA_PER_MINI (DELTA_BLOCK / DELTA_MINIS)

static void delta_block(strata_buf *out, uint64_t *d, size_t k, int64_t min_delta,
			int max_width)
{
	thrift_put_uvarint(out, thrift_zigzag64(min_delta));
	for (size_t j = 0; j < k; j++)
		d[j] -= (uint64_t)min_delta;
	for (size_t j = k; j < DELTA_BLOCK; j++)
		d[j] = 0;
	uint8_t widths[DELTA_MINIS];
	for (int m = 0; m < DELTA_MINIS; m++) {
		uint64_t or_all = 0;
		for (size_t j = (size_t)m * DELTA_PER_MINI; j < (size_t)(m + 1) * DELTA_PER_MINI; j++)
			or_all |= d[j];
		int w = pq_bit_width(or_all);
		widths[m] = (uint8_t)(w > max_width ? max_width : w);
	}
	size_t used = (k + DELTA_PER_MINI - 1) / DELTA_PER_MINI;
	for (size_t m = used; m < DELTA_MINIS; m++)
		widths[m] = 0;
	strata_buf_append(out, widths, DELTA_MINIS);
	for (size_t m = 0; m < used; m++) {
		size_t bytes = (size_t)widths[m] * DELTA_PER_MINI / 8;
		strata_buf_reserve(out, bytes + 16);
		pq_bitpack64(out->data + out->len, d + m * DELTA_PER_MINI, DELTA_PER_MINI,
			     widths[m]);
		out->len += bytes;
	}
}

static void delta_header(strata_buf *out, size_t n, int64_t first)
{
	thrift_put_uvarint(out, DELTA_BLOCK);
	thrift_put_uvarint(out, DELTA_MINIS);
	thrift_put_uvarint(out, n);
	thrift_put_uvarint(out, thrift_zigzag64(first));
}

void pq_delta_encode_i64(strata_buf *out, const int64_t *v, size_t n)
{
	delta_header(out, n, n ? v[0] : 0);
	uint64_t d[DELTA_BLOCK];
	for (size_t i = 1; i < n;) {
		size_t k = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
		int64_t min = INT64_MAX;
		for (size_t j = 0; j < k; j++) {
			d[j] = (uint64_t)v[i + j] - (uint64_t)v[i + j - 1];
			if ((int64_t)d[j] < min)
				min = (int64_t)d[j];
		}
		delta_block(out, d, k, min, 64);
		i += k;
	}
}

void pq_delta_encode_i32(strata_buf *out, const int32_t *v, size_t n)
{
	delta_header(out, n, n ? v[0] : 0);
	uint64_t d[DELTA_BLOCK];
	for (size_t i = 1; i < n;) {
		size_t k = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
		int32_t min = INT32_MAX;
		uint32_t d32[DELTA_BLOCK];
		for (size_t j = 0; j < k; j++) {
			d32[j] = (uint32_t)v[i + j] - (uint32_t)v[i + j - 1];
			if ((int32_t)d32[j] < min)
				min = (int32_t)d32[j];
		}
		/* 32-bit wrapping: (delta - min) fits in 32 bits.  delta_block
		 * subtracts min in 64 bits, so pre-add it: what is stored is the
		 * 32-bit difference */
		for (size_t j = 0; j < k; j++)
			d[j] = (uint64_t)(uint32_t)(d32[j] - (uint32_t)min) + (uint64_t)(int64_t)min;
		delta_block(out, d, k, min, 32);
		i += k;
	}
}

/* ---- DELTA_BINARY_PACKED: decoding --------------------------------------- */

int pq_delta_init(pq_delta_dec *d, const uint8_t *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->p = p;
	d->end = p + n;
	uint64_t first;
	if (pq_uvarint(&d->p, d->end, &d->block_size) || pq_uvarint(&d->p, d->end, &d->mini_count) ||
	    pq_uvarint(&d->p, d->end, &d->total) || pq_uvarint(&d->p, d->end, &first))
		return STRATA_ECORRUPT;
	/* invariant 2 */
	if (d->block_size == 0 || d->block_size % 128 != 0 || d->block_size > 65536 ||
	    d->mini_count == 0 || d->block_size % d->mini_count != 0 ||
	    (d->block_size / d->mini_count) % 32 != 0 || d->total > 0x7fffffff)
		return STRATA_ECORRUPT;
	d->per_mini = d->block_size / d->mini_count;
	d->last = (uint64_t)thrift_unzigzag64(first);
	d->left = d->total;
	d->is_first = true;
	d->mini_idx = (uint32_t)d->mini_count; /* the next delta starts a block */
	return 0;
}

/* Set up the next miniblock (and block); -1 if malformed. */
static int delta_next_mini(pq_delta_dec *d)
{
	if (d->mini_idx >= d->mini_count) {
		uint64_t zz;
		if (pq_uvarint(&d->p, d->end, &zz) != 0)
			return STRATA_ECORRUPT;
		d->min_delta = (uint64_t)thrift_unzigzag64(zz);
		if ((uint64_t)(d->end - d->p) < d->mini_count)
			return STRATA_ECORRUPT;
		memcpy(d->widths, d->p, d->mini_count);
		d->p += d->mini_count;
		d->mini_idx = 0;
	}
	int w = d->widths[d->mini_idx++];
	if (w > 64)
		return STRATA_ECORRUPT;
	uint64_t bytes = d->per_mini * (uint64_t)w / 8;
	uint64_t avail = (uint64_t)(d->end - d->p);
	if (avail > bytes)
		avail = bytes;
	d->mini = d->p;
	d->p += avail;
	d->mini_bit = 0;
	d->mini_bits_avail = avail * 8;
	d->mini_left = d->per_mini;
	d->width = w;
	return 0;
}

int pq_delta_get(pq_delta_dec *d, uint64_t *out, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (d->left == 0)
			return STRATA_ECORRUPT;
		if (d->is_first) {
			d->is_first = false;
			d->left--;
			out[i++] = d->last;
			continue;
		}
		if (d->mini_left == 0 && delta_next_mini(d) != 0)
			return STRATA_ECORRUPT;
		/* the rest of this miniblock that is asked for, a run at a time */
		uint64_t k = STRATA_MIN((uint64_t)(n - i), STRATA_MIN(d->mini_left, d->left));
		int w = d->width;
		uint64_t last = d->last, md = d->min_delta, bit = d->mini_bit;
		uint64_t end_bit = bit + k * (uint64_t)w;
		/* whole 8-byte loads of the page's bytes (the miniblock's own bits
		 * checked against what it holds) while a value fits in one load */
		if (w == 0) {
			for (uint64_t j = 0; j < k; j++) {
				last += md;
				out[i + j] = last;
			}
		} else if (w <= 56 && end_bit <= d->mini_bits_avail &&
			   ((end_bit - (uint64_t)w) >> 3) + 8 <= (uint64_t)(d->end - d->mini)) {
			uint64_t mask = (1ull << w) - 1;
			for (uint64_t j = 0; j < k; j++) {
				uint64_t lo;
				memcpy(&lo, d->mini + (bit >> 3), 8);
				last += md + ((lo >> (bit & 7)) & mask);
				out[i + j] = last;
				bit += (uint64_t)w;
			}
		} else {
			for (uint64_t j = 0; j < k; j++) {
				uint64_t v;
				if (!read_bits(d->mini, bit, w, d->mini_bits_avail, &v))
					return STRATA_ECORRUPT;
				bit += (uint64_t)w;
				last += md + v;
				out[i + j] = last;
			}
		}
		d->last = last;
		d->mini_bit = bit;
		d->mini_left -= k;
		d->left -= k;
		i += (size_t)k;
	}
	return 0;
}

int pq_delta_skip(pq_delta_dec *d, size_t n)
{
	while (n > 0) {
		if (d->left == 0)
			return STRATA_ECORRUPT;
		if (d->is_first) {
			d->is_first = false;
			d->left--;
			n--;
			continue;
		}
		if (d->mini_left == 0 && delta_next_mini(d) != 0)
			return STRATA_ECORRUPT;
		uint64_t k = n < d->mini_left ? n : d->mini_left;
		if (k > d->left)
			k = d->left;
		if (d->width == 0) {
			/* invariant 3: constant deltas skip in O(1) */
			d->last += d->min_delta * k;
		} else {
			for (uint64_t j = 0; j < k; j++) {
				uint64_t v;
				if (!read_bits(d->mini, d->mini_bit, d->width, d->mini_bits_avail, &v))
					return STRATA_ECORRUPT;
				d->mini_bit += (uint64_t)d->width;
				d->last += d->min_delta + v;
			}
		}
		d->mini_left -= k;
		d->left -= k;
		n -= k;
	}
	return 0;
}

const uint8_t *pq_delta_end(const pq_delta_dec *d)
{
	return d->p;
}
