/*
 * tests/test_checksum.c — data file integrity (issue 11): content hashes,
 * Parquet page CRCs, row counts and key ranges against the manifest entry,
 * what jobs, scans, gets and `strata file cat` do with a damaged or missing
 * file, and a fixed-seed byte-flip loop over real warehouses.
 *
 *   hash           the hash in the writer's stats (and so in the entry) is
 *                  the file's: XXH3-64 of an Avro file's bytes, the
 *                  segment hash of a Parquet file (strata_file_hash reads it
 *                  once); a whole read verifies it, projected or not;
 *   page crc       every Parquet page header carries the CRC-32 of its body;
 *                  a flipped body byte fails a point lookup naming the page;
 *   expect         a file decoding to a different row count or to keys
 *                  outside the entry's range is STRATA_ECORRUPT;
 *   table          a flipped value byte in a row file (which still decodes)
 *                  fails a scan and a get with "checksum mismatch" naming the
 *                  file (it used to read a wrong value, exit 0); a job on a
 *                  damaged input stops with nothing committed; a live
 *                  input's missing file is STRATA_ECORRUPT, not ENOENT;
 *   old entries    an entry without a hash (written before hashes) decodes
 *                  as "not known" and its file reads as before;
 *   file cat       checks a warehouse file against its entry;
 *   flip loop      STRATA_FLIP_ITERS (default 40) random byte flips (seed
 *                  STRATA_FLIP_SEED) in Avro and Parquet files: every scan
 *                  and get returns exactly the model's rows or fails with
 *                  STRATA_ECORRUPT naming the file; a major compaction of
 *                  the bucket stops with nothing committed; no crash;
 *                  nothing deleted.  `make flip-long` runs it longer.
 *   stratad        a job meeting a flipped file or a missing live file flags
 *                  its bucket corrupt; `admin --text status` and `--text
 *                  plan` show it.
 */
#include "format/parquet_int.h"
/* format_int.h's names of the hidden columns, unused here, may clash with
 * public names of other headers */
#undef STRATA_COL_SEQ
#undef STRATA_COL_OP
#include "manifest/manifest_int.h"
#include "tests/util/jobfix.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_daemon.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

/* ---- standalone files ------------------------------------------------------------ */

static strata_schema *kv_schema(void)
{
	strata_schema *s = strata_schema_new(1);
	strata_column c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "pk");
	c.type = STRATA_T_LONG;
	c.id = 1;
	c.key_pos = 0;
	strata_schema_add(s, &c, NULL);
	snprintf(c.name, sizeof(c.name), "v");
	c.type = STRATA_T_STRING;
	c.id = 2;
	c.key_pos = -1;
	c.is_nullable = true;
	strata_schema_add(s, &c, NULL);
	snprintf(c.name, sizeof(c.name), "n");
	c.type = STRATA_T_INT;
	c.id = 3;
	strata_schema_add(s, &c, NULL);
	return s;
}

/* n rows pk = 0, 2, 4, ...; v = "value-<pk>"; small pages (several per
 * column) for Parquet. */
static void write_kv(const char *path, const strata_schema *s, strata_format fmt, int n,
		     strata_file_stats *st)
{
	strata_write_opts o;
	strata_write_opts_default(&o, fmt);
	o.page_bytes = 4096;
	strata_fwriter *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	for (int i = 0; i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "value-%d", 2 * i);
		strata_value v[3];
		memset(v, 0, sizeof(v));
		v[0].v.i64 = 2 * i;
		v[1].v.s.ptr = (const uint8_t *)buf;
		v[1].v.s.len = (uint32_t)len;
		v[2].v.i32 = i;
		strata_row r = {.seq = 5, .op = STRATA_OP_UPSERT, .ncols = 3, .vals = v};
		CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &r, &e), 0);
	}
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, st, &e), 0);
}

static void expect_of(const strata_file_stats *st, strata_run_expect *ex)
{
	*ex = (strata_run_expect){.rows = st->rows,
				  .has_keys = st->rows > 0,
				  .key_min = st->key_min.data,
				  .key_min_len = st->key_min.len,
				  .key_max = st->key_max.data,
				  .key_max_len = st->key_max.len,
				  .has_hash = st->has_content_hash,
				  .hash = st->content_hash,
				  .is_verify_hash = true};
}

/* Read path whole with ex; returns the final code (0 at a clean end), the
 * rows in *rows, whether the hash was verified in *is_verified. */
static int read_all(const char *path, const strata_schema *fs, const strata_schema *rs,
		    const strata_run_expect *ex, uint64_t *rows, bool *is_verified, strata_err *e)
{
	strata_run_opts ro = {.file_schema = fs, .read_schema = rs, .default_seq = 5, .expect = ex};
	strata_run *r;
	int rc = strata_run_open(path, &ro, &r, e);
	if (rc)
		return rc;
	const strata_row *row;
	uint64_t n = 0;
	while ((rc = strata_run_next(r, &row, NULL, NULL, e)) == 1)
		n++;
	if (rows)
		*rows = n;
	if (is_verified)
		*is_verified = strata_run_is_verified(r);
	strata_run_close(r);
	return rc;
}

static void test_hash_of_written_files(void)
{
	const char *dir = tu_tmpdir();
	strata_schema *s = kv_schema();
	for (int k = 0; k < 2; k++) {
		strata_format fmt = k ? STRATA_FMT_PARQUET : STRATA_FMT_AVRO;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/f%d.%s", dir, k, k ? "parquet" : "avro");
		strata_file_stats st;
		write_kv(path, s, fmt, 5000, &st);
		CU_ASSERT(st.has_content_hash);
		uint64_t h = 0;
		strata_err e;
		CU_ASSERT_EQUAL(strata_file_hash(path, &h, &e), 0);
		CU_ASSERT_EQUAL(h, st.content_hash);
		if (fmt == STRATA_FMT_AVRO) {
			/* a row file's hash is XXH3-64 of its bytes (xxhsum -H3) */
			size_t len;
			char *bytes = tu_read_file(path, &len);
			CU_ASSERT_EQUAL(XXH3_64bits(bytes, len), st.content_hash);
			free(bytes);
		}
		/* a whole read verifies it, a projected one too (Parquet reads the
		 * chunks it did not decode) */
		strata_run_expect ex;
		expect_of(&st, &ex);
		uint64_t rows = 0;
		bool is_verified = false;
		CU_ASSERT_EQUAL(read_all(path, k ? NULL : s, NULL, &ex, &rows, &is_verified, &e), 0);
		CU_ASSERT_EQUAL(rows, 5000);
		CU_ASSERT(is_verified);
		strata_schema *ps;
		CU_ASSERT_EQUAL_FATAL(strata_schema_project(s, "pk", &ps, &e), 0);
		is_verified = false;
		CU_ASSERT_EQUAL(read_all(path, k ? NULL : s, ps, &ex, &rows, &is_verified, &e), 0);
		CU_ASSERT(is_verified);
		/* a wrong expected hash is a mismatch naming the file */
		ex.hash ^= 1;
		int rc = read_all(path, k ? NULL : s, NULL, &ex, NULL, NULL, &e);
		CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "checksum mismatch"));
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
		strata_schema_free(ps);
		strata_file_stats_free(&st);
	}
	strata_schema_free(s);
}

static void test_parquet_page_crc(void)
{
	const char *dir = tu_tmpdir();
	strata_schema *s = kv_schema();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/p.parquet", dir);
	strata_file_stats st;
	write_kv(path, s, STRATA_FMT_PARQUET, 20000, &st);
	size_t len;
	uint8_t *bytes = (uint8_t *)tu_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	/* walk the first column chunk's pages: each header has the CRC-32 of
	 * the body as stored */
	uint32_t flen;
	memcpy(&flen, bytes + len - 8, 4);
	strata_arena *a = strata_arena_new();
	pq_file_meta fm;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(pq_file_meta_read(bytes + len - 8 - flen, flen, a, &fm, path, &e), 0);
	const pq_column_meta *cm = &fm.row_groups[0].cols[0].meta;
	uint64_t pos = (uint64_t)cm->data_page_offset;
	if (cm->has_dict_page_offset && cm->dict_page_offset > 0 &&
	    (uint64_t)cm->dict_page_offset < pos)
		pos = (uint64_t)cm->dict_page_offset;
	uint64_t end = pos + (uint64_t)cm->total_compressed_size;
	int pages = 0;
	uint64_t body_at = 0, body_len = 0;
	while (pos < end) {
		pq_page_header h;
		size_t hl = 0;
		bool is_trunc = false;
		CU_ASSERT_EQUAL_FATAL(pq_page_header_read(bytes + pos, (size_t)(end - pos), &h, &hl,
							  &is_trunc, path, &e),
				      0);
		CU_ASSERT(h.has_crc);
		CU_ASSERT_EQUAL((uint32_t)h.crc,
				(uint32_t)crc32(0, bytes + pos + hl, (uInt)h.compressed_size));
		if (h.type == PQ_DATA_PAGE && pages > 0 && !body_at) {
			body_at = pos + hl;
			body_len = (uint64_t)h.compressed_size;
		}
		pos += hl + (uint64_t)h.compressed_size;
		pages++;
	}
	CU_ASSERT(pages >= 3);
	CU_ASSERT_FATAL(body_at > 0);
	/* flip a byte inside that page's body: a point lookup of a key on the
	 * page (no manifest entry given) fails naming the damage */
	bytes[body_at + body_len / 2] ^= 0x10;
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, bytes, len), 0);
	int fails = 0;
	for (int64_t k = 0; k < 40000; k += 512) {
		strata_run_opts ro = {0};
		strata_run *r;
		CU_ASSERT_EQUAL_FATAL(strata_run_open(path, &ro, &r, &e), 0);
		strata_buf key = {0};
		strata_value v[3];
		memset(v, 0, sizeof(v));
		v[0].v.i64 = k;
		strata_row row = {.ncols = 3, .vals = v};
		strata_key_encode(s, &row, &key, NULL);
		int rc = strata_run_seek(r, key.data, key.len, &e);
		const strata_row *got;
		if (rc == 0)
			rc = strata_run_next(r, &got, NULL, NULL, &e);
		if (rc < 0) {
			CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
			CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "page checksum mismatch"));
			fails++;
		} else {
			CU_ASSERT_EQUAL(rc, 1);
			if (rc == 1)
				CU_ASSERT_EQUAL(got->vals[0].v.i64, k);
		}
		strata_buf_free(&key);
		strata_run_close(r);
	}
	CU_ASSERT(fails > 0);
	free(bytes);
	strata_arena_free(a);
	strata_file_stats_free(&st);
	strata_schema_free(s);
}

static void test_rows_and_key_range(void)
{
	const char *dir = tu_tmpdir();
	strata_schema *s = kv_schema();
	for (int k = 0; k < 2; k++) {
		strata_format fmt = k ? STRATA_FMT_PARQUET : STRATA_FMT_AVRO;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/r%d", dir, k);
		strata_file_stats st;
		write_kv(path, s, fmt, 300, &st);
		strata_run_expect ex;
		strata_err e;
		/* another row count */
		expect_of(&st, &ex);
		ex.rows = 299;
		CU_ASSERT_EQUAL(read_all(path, s, NULL, &ex, NULL, NULL, &e), STRATA_ECORRUPT);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "row count mismatch"));
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
		/* keys past the entry's key_max */
		expect_of(&st, &ex);
		ex.key_max = st.key_min.data;
		ex.key_max_len = st.key_min.len;
		CU_ASSERT_EQUAL(read_all(path, s, NULL, &ex, NULL, NULL, &e), STRATA_ECORRUPT);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "key range"));
		/* a first key that is not key_min */
		expect_of(&st, &ex);
		ex.key_min = st.key_max.data; /* any key > min would do; max is at hand */
		ex.key_min_len = st.key_max.len;
		ex.key_max = st.key_max.data;
		CU_ASSERT_EQUAL(read_all(path, s, NULL, &ex, NULL, NULL, &e), STRATA_ECORRUPT);
		/* the truth passes */
		expect_of(&st, &ex);
		CU_ASSERT_EQUAL(read_all(path, s, NULL, &ex, NULL, NULL, &e), 0);
		strata_file_stats_free(&st);
	}
	strata_schema_free(s);
}

/* ---- warehouses ------------------------------------------------------------------ */

/* 3 commits of 30 rows into a 2-bucket table: 3 row files per bucket. */
static void fill(jf *f)
{
	for (int c = 0; c < 3; c++) {
		strata_buf b = {0};
		for (int pk = 0; pk < 30; pk++)
			strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"value-%d-%d\"}\n", pk, c, pk);
		strata_buf_putc(&b, 0);
		jf_put(f, (const char *)b.data);
		strata_buf_free(&b);
	}
}

/* Flip the byte at off of path (xor mask). */
static void flip_at(const char *path, size_t off, uint8_t mask)
{
	size_t len;
	char *d = tu_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FATAL(off < len);
	d[off] ^= (char)mask;
	CU_ASSERT_EQUAL_FATAL(tu_write_file(path, d, len), 0);
	free(d);
}

/* Offset of needle in path's bytes, or -1. */
static long find_in(const char *path, const char *needle)
{
	size_t len;
	char *d = tu_read_file(path, &len);
	long at = -1;
	size_t nl = strlen(needle);
	for (size_t i = 0; d && i + nl <= len; i++)
		if (memcmp(d + i, needle, nl) == 0) {
			at = (long)i;
			break;
		}
	free(d);
	return at;
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int get_pk(jf *f, int pk, char **v, strata_err *e)
{
	json_t *k = json_pack("{s:i}", "pk", pk);
	strata_arena *a = strata_arena_new();
	strata_row row;
	strata_read_opts ro = {0};
	const strata_schema *sch = NULL;
	strata_schema *own = NULL;
	int rc = strata_get_json(f->wh, f->table, k, &ro, a, &row, &own, NULL, e);
	sch = own;
	*v = NULL;
	if (rc == 1 && sch) {
		strata_buf b = {0};
		strata_row_to_json(sch, &row, false, &b);
		strata_buf_putc(&b, 0);
		*v = strata_strdup((const char *)b.data);
		strata_buf_free(&b);
	}
	strata_schema_free(own);
	strata_arena_free(a);
	json_decref(k);
	return rc;
}

static void test_row_file_value_flip(void)
{
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 2, 24);
	fill(&f);
	int rc;
	strata_err e;
	char *want = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	/* the newest row file of bucket of pk 7: flip a digit of a value so the
	 * file still decodes (it used to scan a wrong value, exit 0) */
	uint32_t b = jf_bucket_of(7, 2);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = jf_live(&f, b, a, &fs);
	CU_ASSERT_FATAL(n == 3);
	CU_ASSERT(fs[2].has_content_hash);
	char path[PATH_MAX];
	jf_file_path(&f, &fs[2], path, sizeof(path));
	long at = find_in(path, "value-2-7");
	CU_ASSERT_FATAL(at > 0);
	flip_at(path, (size_t)at + 8, 0x01); /* '7' -> '6' */
	char *got = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "checksum mismatch"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, base_of(path)));
	free(got);
	/* a get of that key reads the row file whole: the same error */
	char *v;
	rc = get_pk(&f, 7, &v, &e);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, base_of(path)));
	free(v);
	/* a sort on the bucket stops, nothing committed, nothing left behind */
	uint64_t ver = jf_version(&f);
	strata_job_result res;
	rc = jf_job(&f, b, JF_SORT, NULL, NULL, &res, &e);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "checksum mismatch"));
	CU_ASSERT_EQUAL(jf_version(&f), ver);
	char why[256];
	CU_ASSERT_EQUAL(jf_disk_check(&f, b, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(jf_intents(&f), 0);
	/* `strata file cat` checks it against its entry */
	char cmd[2 * PATH_MAX], *out = NULL;
	snprintf(cmd, sizeof(cmd), "%s -W %s file cat %s 2>&1", tu_bin("strata"), f.dir, path);
	CU_ASSERT_NOT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT(out && strstr(out, "checksum mismatch"));
	free(out);
	/* repaired, everything reads again */
	flip_at(path, (size_t)at + 8, 0x01);
	got = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	out = NULL;
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	free(out);
	free(want);
	strata_arena_free(a);
	jf_close(&f);
}

static void test_parquet_flip_scan_and_job(void)
{
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 24);
	fill(&f);
	strata_job_result res;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &e), 0);
	fill(&f);
	CU_ASSERT_EQUAL_FATAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &e), 0);
	int rc;
	char *want = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = jf_live(&f, 0, a, &fs);
	CU_ASSERT_FATAL(n == 2);
	CU_ASSERT(fs[0].format == STRATA_FMT_PARQUET && fs[0].has_content_hash);
	char path[PATH_MAX];
	jf_file_path(&f, &fs[0], path, sizeof(path));
	struct stat sb;
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	/* a flip in the middle of the file (a page) and one in the footer */
	size_t offs[] = {(size_t)sb.st_size / 3, (size_t)sb.st_size - 20};
	for (size_t i = 0; i < 2; i++) {
		flip_at(path, offs[i], 0x40);
		char *got = jf_dump(&f, NULL, &rc, &e);
		CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, base_of(path)));
		free(got);
		uint64_t ver = jf_version(&f);
		rc = jf_job(&f, 0, JF_MAJOR, NULL, NULL, &res, &e);
		CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
		CU_ASSERT_EQUAL(jf_version(&f), ver);
		char why[256];
		CU_ASSERT_EQUAL(jf_disk_check(&f, 0, why, sizeof(why)), 0);
		flip_at(path, offs[i], 0x40);
	}
	char *got = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	free(want);
	strata_arena_free(a);
	jf_close(&f);
}

static void test_missing_live_file(void)
{
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 24);
	fill(&f);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = jf_live(&f, 0, a, &fs);
	CU_ASSERT_FATAL(n == 3);
	char path[PATH_MAX];
	jf_file_path(&f, &fs[1], path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	uint64_t ver = jf_version(&f);
	strata_job_result res;
	strata_err e;
	int rc = jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &e);
	CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT); /* was -ENOENT: an ordinary failure */
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "missing"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, base_of(path)));
	CU_ASSERT_EQUAL(jf_version(&f), ver);
	CU_ASSERT_EQUAL(jf_intents(&f), 0);
	strata_arena_free(a);
	jf_close(&f);
}

static void test_entry_without_hash(void)
{
	/* the codec: an entry as written before hashes (no trailing field)
	 * decodes with the hash "not known"; a new one round-trips */
	strata_file_entry in;
	memset(&in, 0, sizeof(in));
	in.id = 7;
	in.format = STRATA_FMT_PARQUET;
	in.level = 1;
	snprintf(in.name, sizeof(in.name), "x.parquet");
	in.rows = 3;
	in.key_min = (const uint8_t *)"a";
	in.key_min_len = 1;
	in.key_max = (const uint8_t *)"b";
	in.key_max_len = 1;
	in.has_content_hash = true;
	in.content_hash = 0x0123456789abcdefull;
	in.deleted_us = 99;
	strata_buf b = {0};
	mf_file_enc(&in, &b);
	strata_file_entry out;
	MDB_val v = {.mv_size = b.len, .mv_data = b.data};
	CU_ASSERT_EQUAL(mf_file_dec(&v, NULL, &out), 0);
	CU_ASSERT(out.has_content_hash);
	CU_ASSERT_EQUAL(out.content_hash, in.content_hash);
	v.mv_size = b.len - 17;
	CU_ASSERT_EQUAL(mf_file_dec(&v, NULL, &out), 0);
	CU_ASSERT(!out.has_content_hash);
	CU_ASSERT_EQUAL(out.rows, 3);
	CU_ASSERT_EQUAL(out.deleted_us, 99);
	strata_buf_free(&b);

	/* a warehouse whose entry has no hash reads as before (rows and key
	 * range are still checked) */
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", 1, 24);
	fill(&f);
	int rc;
	strata_err e;
	char *want = jf_dump(&f, NULL, &rc, &e);
	strata_mf_snap *snap;
	strata_table_def td;
	strata_schema *s = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(f.wh), &snap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, f.table, &td, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_schema_get(snap, td.id, td.schema_version, &s, &e), 0);
	strata_mf_snap_close(snap);
	char bdir[PATH_MAX], path[PATH_MAX];
	jf_bucket_dir(&f, 0, bdir, sizeof(bdir));
	snprintf(path, sizeof(path), "%s/old.avro", bdir);
	strata_write_opts o;
	strata_write_opts_default(&o, STRATA_FMT_AVRO);
	strata_fwriter *w;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_open(path, s, &o, &w, &e), 0);
	strata_value vals[2];
	memset(vals, 0, sizeof(vals));
	vals[0].v.i64 = 1000;
	vals[1].v.s.ptr = (const uint8_t *)"old";
	vals[1].v.s.len = 3;
	strata_row row = {.ncols = 2, .vals = vals};
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_add(w, &row, &e), 0);
	strata_file_stats st;
	CU_ASSERT_EQUAL_FATAL(strata_fwriter_finish(w, &st, &e), 0);
	st.has_content_hash = false; /* as an older strata wrote it */
	st.content_hash = 0;
	strata_mf_new_file nf = {.partition = "", .part_buckets = 1, .bucket = 0,
				 .format = STRATA_FMT_AVRO, .level = 0, .name = "old.avro",
				 .schema_version = td.schema_version, .stats = &st};
	strata_mf_write mw = {.table = f.table, .schema_version = td.schema_version,
			      .files = &nf, .nfiles = 1};
	uint64_t ver;
	bool is_repeat;
	CU_ASSERT_EQUAL_FATAL(strata_mf_commit_write(strata_wh_mf(f.wh), &mw, &ver, &is_repeat, &e), 0);
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n = jf_live(&f, 0, a, &fs);
	CU_ASSERT_FATAL(n == 4);
	CU_ASSERT(!fs[3].has_content_hash);
	CU_ASSERT(fs[0].has_content_hash);
	char *got = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(got && strstr(got, "\"old\""));
	free(got);
	strata_job_result res;
	CU_ASSERT_EQUAL(jf_job(&f, 0, JF_SORT, NULL, NULL, &res, &e), 0);
	n = jf_live(&f, 0, a, &fs);
	CU_ASSERT(n == 1 && fs[0].has_content_hash);
	strata_file_stats_free(&st);
	strata_schema_free(s);
	free(want);
	strata_arena_free(a);
	jf_close(&f);
}

/* ---- the byte-flip loop --------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : def;
}

/* Files (regular, any name) under dir, counted recursively. */
static int count_all(const char *dir)
{
	char cmd[PATH_MAX + 64], *out = NULL;
	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	int n = -1;
	if (tu_run(cmd, &out) == 0 && out)
		n = atoi(out);
	free(out);
	return n;
}

static void test_flip_loop(void)
{
	long iters = env_long("STRATA_FLIP_ITERS", 40);
	uint64_t seed = (uint64_t)env_long("STRATA_FLIP_SEED", 11);
	jf f;
	jf_open(&f, "pk BIGINT NOT NULL PRIMARY KEY, v STRING, n INT", 2, 24);
	/* per bucket: a Parquet file (sorted) and row files on top */
	for (int round = 0; round < 2; round++) {
		for (int c = 0; c < 3; c++) {
			strata_buf b = {0};
			for (int pk = 0; pk < 400; pk += 1 + c + round)
				strata_buf_printf(&b, "{\"pk\":%d,\"v\":\"v%d-%d-%d\",\"n\":%d}\n", pk,
						  round, c, pk, pk * 3 + c);
			strata_buf_putc(&b, 0);
			jf_put(&f, (const char *)b.data);
			strata_buf_free(&b);
		}
		if (round == 0)
			for (uint32_t bk = 0; bk < 2; bk++) {
				strata_job_result res;
				strata_err e;
				CU_ASSERT_EQUAL_FATAL(jf_job(&f, bk, JF_SORT, NULL, NULL, &res, &e), 0);
			}
	}
	int rc;
	strata_err e;
	char *want = jf_dump(&f, NULL, &rc, &e);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char *want_get[400];
	for (int pk = 0; pk < 400; pk++) {
		CU_ASSERT_FATAL(get_pk(&f, pk, &want_get[pk], &e) >= 0);
	}
	jf_tmpl t;
	jf_tmpl_save(&f, &t);
	int nfiles = count_all(f.dir);
	long detected = 0, harmless = 0, gets = 0, get_fail = 0, jobs_failed = 0;
	long by_fmt[2] = {0, 0};
	for (long it = 0; it < iters; it++) {
		jf_tmpl_restore(&f, &t);
		uint32_t bk = (uint32_t)(rng_next(&seed) % 2);
		strata_arena *a = strata_arena_new();
		strata_file_entry *fs;
		size_t n = jf_live(&f, bk, a, &fs);
		CU_ASSERT_FATAL(n > 0);
		/* every other flip goes to the bucket's Parquet file */
		const strata_file_entry *victim = &fs[rng_next(&seed) % n];
		for (size_t i = 0; i < n && (it & 1); i++)
			if (fs[i].format == STRATA_FMT_PARQUET)
				victim = &fs[i];
		char path[PATH_MAX];
		jf_file_path(&f, victim, path, sizeof(path));
		struct stat sb;
		CU_ASSERT_FATAL(stat(path, &sb) == 0 && sb.st_size > 0);
		size_t off = (size_t)(rng_next(&seed) % (uint64_t)sb.st_size);
		uint8_t mask = (uint8_t)(1u << (rng_next(&seed) % 8));
		flip_at(path, off, mask);
		by_fmt[victim->format == STRATA_FMT_PARQUET]++;
		char *got = jf_dump(&f, NULL, &rc, &e);
		if (rc == 0) {
			if (strcmp(got, want) != 0)
				fprintf(stderr, "\n  iteration %ld: silent wrong scan after flipping bit "
						"%#x at %zu of %s ",
					it, mask, off, path);
			CU_ASSERT_STRING_EQUAL(got, want);
			harmless++;
		} else {
			if (rc != STRATA_ECORRUPT || !strstr(e.msg, base_of(path)))
				fprintf(stderr, "\n  iteration %ld (offset %zu of %s): %d %s ", it, off,
					path, rc, e.msg);
			CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
			CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, base_of(path)));
			detected++;
		}
		free(got);
		/* point gets of a few keys of that bucket */
		for (int g = 0; g < 4; g++) {
			int pk = (int)(rng_next(&seed) % 400);
			char *v;
			rc = get_pk(&f, pk, &v, &e);
			gets++;
			if (rc >= 0) {
				bool same = (rc == 1) == (want_get[pk] != NULL) &&
					    (!v || strcmp(v, want_get[pk]) == 0);
				if (!same)
					fprintf(stderr, "\n  iteration %ld: silent wrong get of %d after "
							"flipping bit %#x at %zu of %s: %s ",
						it, pk, mask, off, path, v ? v : "(none)");
				CU_ASSERT(same);
			} else {
				if (rc != STRATA_ECORRUPT || !strstr(e.msg, base_of(path)))
					fprintf(stderr, "\n  iteration %ld get %d: %d %s ", it, pk, rc,
						e.msg);
				CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
				get_fail++;
			}
			free(v);
		}
		/* a major compaction reads every live file of the bucket whole:
		 * it stops on the damage, commits nothing, leaves nothing */
		uint64_t ver = jf_version(&f);
		strata_job_result res;
		rc = jf_job(&f, bk, JF_MAJOR, NULL, NULL, &res, &e);
		if (rc != STRATA_ECORRUPT || !strstr(e.msg, base_of(path)))
			fprintf(stderr, "\n  iteration %ld job: %d %s ", it, rc, e.msg);
		CU_ASSERT_EQUAL(rc, STRATA_ECORRUPT);
		CU_ASSERT_EQUAL(jf_version(&f), ver);
		char why[256];
		CU_ASSERT_EQUAL(jf_disk_check(&f, bk, why, sizeof(why)), 0);
		jobs_failed += rc == STRATA_ECORRUPT;
		/* nothing deleted */
		CU_ASSERT_EQUAL(count_all(f.dir), nfiles);
		strata_arena_free(a);
	}
	fprintf(stderr, "\n  flip loop: %ld flips (%ld Avro, %ld Parquet), seed %llu: %ld scans "
			"failed naming the file, %ld read exactly the model (flip in bytes not "
			"read); %ld gets, %ld failed naming the file; %ld major compactions stopped, "
			"nothing committed ",
		iters, by_fmt[0], by_fmt[1], (unsigned long long)env_long("STRATA_FLIP_SEED", 11),
		detected, harmless, gets, get_fail, jobs_failed);
	for (int pk = 0; pk < 400; pk++)
		free(want_get[pk]);
	free(want);
	jf_close(&f);
}

/* ---- stratad --------------------------------------------------------------------------- */

static bool text_has(const char *sock, const char *cmd, const char *needle)
{
	char line[1024], *out = NULL;
	snprintf(line, sizeof(line), "%s admin --socket %s --text %s 2>&1", tu_bin("strata"), sock,
		 cmd);
	bool has = tu_run(line, &out) == 0 && out && strstr(out, needle);
	if (!has)
		fprintf(stderr, "\n  `admin --text %s` lacks \"%s\":\n%s", cmd, needle, out ? out : "");
	free(out);
	return has;
}

/* Table name with 3 commits of 20 rows (one bucket: 3 row files); the path
 * of its second file into path. */
static void daemon_table(strata_wh *wh, const char *name, char *path, size_t n)
{
	strata_err e;
	const char *props[] = {"write.bucket.num=1", "write.inline.max-bytes=0"}; /* files */
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, name, "pk BIGINT NOT NULL PRIMARY KEY, v STRING",
						  NULL, NULL, props, 2, &e),
			      0);
	for (int v = 0; v < 3; v++) {
		strata_txn *t;
		CU_ASSERT_EQUAL_FATAL(strata_txn_begin(wh, name, &t, &e), 0);
		for (int pk = 0; pk < 20; pk++) {
			json_t *o = json_pack("{s:i,s:s}", "pk", pk, "v", v == 1 ? "value-one" : "x");
			CU_ASSERT_EQUAL(strata_txn_put_json(t, o, &e), 0);
			json_decref(o);
		}
		uint64_t ver;
		CU_ASSERT_EQUAL_FATAL(strata_txn_commit(t, NULL, &ver, NULL, &e), 0);
	}
	strata_mf_snap *snap;
	strata_arena *a = strata_arena_new();
	strata_table_def td;
	strata_file_entry *fs;
	size_t nf = 0;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(wh), &snap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, name, &td, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_files(snap, td.id, a, &fs, &nf, &e), 0);
	strata_mf_snap_close(snap);
	CU_ASSERT_FATAL(nf == 3);
	strata_file_path(strata_wh_mf(wh), name, "", &fs[1], path, n);
	strata_arena_free(a);
}

/* The corrupt buckets of table (status). */
static size_t corrupt_of(const char *sock, const char *table)
{
	json_t *r = tud_admin(sock, "status");
	size_t n = 0, i;
	json_t *t;
	json_array_foreach(json_object_get(r, "tables"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")), table) == 0)
			n = json_array_size(json_object_get(t, "corrupt_buckets"));
	json_decref(r);
	return n;
}

static bool wait_corrupt(const char *sock, const char *table)
{
	double end = tud_now_s() + 60;
	while (tud_now_s() < end) {
		if (corrupt_of(sock, table) == 1)
			return true;
		tud_sleep_ms(100);
	}
	return false;
}

static void test_daemon_missing_file(void)
{
	const char *dir = tu_tmpdir();
	char whp[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX], sock[TUD_SOCK_MAX];
	tud_paths(dir, whp, cfg, log, sock);
	strata_wh *wh;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(whp, true, &wh, &e), 0);
	/* "f": a row file with a flipped value byte (still decodes); "m": a
	 * row file that will disappear */
	char flipped[PATH_MAX], gone[PATH_MAX];
	daemon_table(wh, "f", flipped, sizeof(flipped));
	daemon_table(wh, "m", gone, sizeof(gone));
	long at = find_in(flipped, "value-one");
	CU_ASSERT_FATAL(at > 0);
	flip_at(flipped, (size_t)at + 6, 0x01);
	/* no sort of its own (sort.min_files): the file goes while stratad
	 * runs (after any check it makes at start), then sorts meet them */
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nworkers = 1\n"
		       "log_level = info\n[policy]\nsort.min_files = 100\nsort.max_delay_s = 100000\n"
		       "clean.grace_s = 100000\npolicy.backoff_s = 1\npolicy.backoff_max_s = 3600\n",
		       whp, sock);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	/* a checksum mismatch: flagged corrupt, shown by the text renderings */
	CU_ASSERT(tud_admin_ok(sock, "sort f --bucket 0"));
	CU_ASSERT(wait_corrupt(sock, "f"));
	CU_ASSERT(tud_wait_log(log, "met a damaged data file", 10));
	CU_ASSERT(tud_log_has(log, base_of(flipped)));
	CU_ASSERT(text_has(sock, "status", "CORRUPT buckets: 1"));
	CU_ASSERT(text_has(sock, "status", "checksum mismatch"));
	CU_ASSERT(text_has(sock, "plan f", "CORRUPT"));
	CU_ASSERT(text_has(sock, "plan f", base_of(flipped)));
	/* a live file that disappeared: flagged corrupt too (it used to be an
	 * ordinary failure, retried) */
	CU_ASSERT_EQUAL_FATAL(unlink(gone), 0);
	CU_ASSERT(tud_admin_ok(sock, "sort m --bucket 0"));
	CU_ASSERT(wait_corrupt(sock, "m"));
	CU_ASSERT(tud_log_has(log, base_of(gone)));
	/* nothing was deleted: the damaged file stays */
	struct stat sb;
	CU_ASSERT_EQUAL(stat(flipped, &sb), 0);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
	strata_wh_close(wh);
}

/* ---- registration ---------------------------------------------------------------------- */

static void register_checksum(void)
{
	CU_pSuite s = CU_add_suite("checksum", NULL, NULL);
	TU_ADD(s, test_hash_of_written_files);
	TU_ADD(s, test_parquet_page_crc);
	TU_ADD(s, test_rows_and_key_range);
	TU_ADD(s, test_row_file_value_flip);
	TU_ADD(s, test_parquet_flip_scan_and_job);
	TU_ADD(s, test_missing_live_file);
	TU_ADD(s, test_entry_without_hash);
	TU_ADD(s, test_flip_loop);
	TU_ADD(s, test_daemon_missing_file);
}

TU_MAIN(register_checksum)
