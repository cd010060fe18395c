/*
 * table/table.c — warehouses, table properties and DDL.
 *
 * DDL text is parsed here, in one place: a column list is comma-separated
 * "name TYPE [NOT NULL] [NULL] [PRIMARY KEY]" items (types as in
 * strata_column_type_parse: "DECIMAL(18, 2)" keeps its comma); partition
 * columns are "name STRING" items.  Every error
 * names the item and the reason.  Schema changes go through the manifest's
 * compare-and-set on the schema version, so two concurrent ALTERs cannot both
 * apply to the same base.
 *
 * Invariants:
 *   1. a column id is never reused: new columns get def.next_col_id upward;
 *   2. key columns can never be added, dropped or made nullable;
 *   3. added columns are nullable (older files read them as null);
 *   4. a rename keeps the column's id (files and older schema versions keep
 *      the old name: a read at an older version sees it); a type change
 *      only widens (strata_column_type_widens) a non-key column, so every
 *      file written before it reads as the new type.
 */
#include "table/table_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int wh_open(const char *path, strata_mf_mode mode, const char *data_path,
		   strata_wh **out, strata_err *err);

int strata_wh_create(const char *path, const char *data_path, strata_wh **out,
		     strata_err *err)
{
	return wh_open(path, STRATA_MF_CREATE, data_path, out, err);
}

int strata_wh_open_mode(const char *path, strata_mf_mode mode, strata_wh **out,
			strata_err *err)
{
	return wh_open(path, mode, NULL, out, err);
}

int strata_wh_open(const char *path, bool create, strata_wh **out, strata_err *err)
{
	return strata_wh_open_mode(path, create ? STRATA_MF_CREATE : STRATA_MF_WRITE, out, err);
}

static int wh_open(const char *path, strata_mf_mode mode, const char *data_path,
		   strata_wh **out, strata_err *err)
{
	*out = NULL;
	strata_mf *mf = NULL;
	int rc = strata_mf_open_data(path, mode, data_path, &mf, err);
	if (rc)
		return rc;
	strata_wh *wh = strata_calloc(1, sizeof(*wh));
	wh->mf = mf;
	wh->path = strata_strdup(path);
	*out = wh;
	return 0;
}

void strata_wh_close(strata_wh *wh)
{
	if (!wh)
		return;
	strata_mf_close(wh->mf);
	free(wh->path);
	free(wh);
}

strata_mf *strata_wh_mf(strata_wh *wh)
{
	return wh->mf;
}

const char *strata_wh_path(const strata_wh *wh)
{
	return wh->path;
}

/* ---- properties ------------------------------------------------------------ */

void strata_table_def_defaults(strata_table_def *def)
{
	def->buckets = 16;
	def->retain_hours = 24;
	def->avro_codec = STRATA_CODEC_NONE;
	def->zstd_level = 3;
	def->row_group_bytes = 64ull << 20;
	def->page_bytes = 1ull << 20;
	def->token_retain_hours = STRATA_TOKEN_RETAIN_HOURS_DEFAULT;
	def->max_l0_files = 0; /* back-pressure is opt-in: docs/GOVERNANCE.md */
	def->slow_l0_files = 0;
	def->stall_timeout_s = STRATA_STALL_TIMEOUT_S_DEFAULT;
	def->inline_max_bytes = STRATA_INLINE_DEFAULT_BYTES;
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!*s)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

int strata_table_prop_apply(strata_table_def *def, const char *kv, strata_err *err)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return strata_err_set(err, STRATA_EINVAL,
				      "property \"%.100s\" must be key=value", kv);
	char key[96];
	size_t kl = (size_t)(eq - kv);
	if (kl >= sizeof(key))
		return strata_err_set(err, STRATA_EINVAL, "unknown property \"%.100s\"", kv);
	memcpy(key, kv, kl);
	key[kl] = '\0';
	const char *val = eq + 1;
	uint64_t n = 0;
	if (strcmp(key, "write.bucket.num") == 0) {
		if (parse_u64(val, &n) || n < 1 || n > 4096)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.bucket.num must be an integer in (0, 4096] "
					      "(got \"%.40s\")",
					      val);
		def->buckets = (uint32_t)n;
	} else if (strcmp(key, "acid.data.retain.hours") == 0) {
		if (parse_u64(val, &n) || n > 168)
			return strata_err_set(err, STRATA_EINVAL,
					      "acid.data.retain.hours must be an integer in [0, 168] "
					      "(got \"%.40s\")",
					      val);
		def->retain_hours = (uint32_t)n;
	} else if (strcmp(key, "write.avro.codec") == 0) {
		if (strcmp(val, "null") == 0)
			def->avro_codec = STRATA_CODEC_NONE;
		else if (strcmp(val, "deflate") == 0)
			def->avro_codec = STRATA_CODEC_DEFLATE;
		else
			return strata_err_set(err, STRATA_EINVAL,
					      "write.avro.codec must be null or deflate (got \"%.40s\")",
					      val);
	} else if (strcmp(key, "write.parquet.zstd.level") == 0) {
		if (parse_u64(val, &n) || n > 22)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.parquet.zstd.level must be an integer in [0, 22] "
					      "(0 = uncompressed; got \"%.40s\")",
					      val);
		def->zstd_level = (int)n;
	} else if (strcmp(key, "write.parquet.row-group.bytes") == 0) {
		if (parse_u64(val, &n) || n < (1u << 20) || n > (1ull << 30))
			return strata_err_set(err, STRATA_EINVAL,
					      "write.parquet.row-group.bytes must be in [1048576, "
					      "1073741824] (got \"%.40s\")",
					      val);
		def->row_group_bytes = n;
	} else if (strcmp(key, "write.parquet.page.bytes") == 0) {
		if (parse_u64(val, &n) || n < 4096 || n > (64u << 20))
			return strata_err_set(err, STRATA_EINVAL,
					      "write.parquet.page.bytes must be in [4096, 67108864] "
					      "(got \"%.40s\")",
					      val);
		def->page_bytes = n;
	} else if (strcmp(key, "write.token.retain.hours") == 0) {
		if (parse_u64(val, &n) || n < 1 || n > STRATA_TOKEN_RETAIN_HOURS_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.token.retain.hours must be an integer in [1, %d] "
					      "(got \"%.40s\")",
					      STRATA_TOKEN_RETAIN_HOURS_MAX, val);
		def->token_retain_hours = (uint32_t)n;
	} else if (strcmp(key, "partition.expiration-time") == 0) {
		/* N followed by s, m, h or d; 0 (any unit, or none) turns it off */
		char *end = NULL;
		errno = 0;
		unsigned long long q = strtoull(val, &end, 10);
		int64_t unit = !end || end == val ? 0 :
			       strcmp(end, "s") == 0 ? 1 :
			       strcmp(end, "m") == 0 ? 60 :
			       strcmp(end, "h") == 0 ? 3600 :
			       strcmp(end, "d") == 0 ? 86400 :
			       (*end == '\0' && q == 0) ? 1 : 0;
		if (errno || *val == '-' || unit == 0 || q > 36500ull * 86400 / (uint64_t)unit)
			return strata_err_set(err, STRATA_EINVAL,
					      "partition.expiration-time must be a duration like 30d, "
					      "12h, 90m or 3600s (at most 36500d; 0 turns it off; got "
					      "\"%.40s\")",
					      val);
		def->part_expire_s = (int64_t)q * unit;
	} else if (strcmp(key, "partition.expiration-column") == 0) {
		if (!*val || strlen(val) > STRATA_NAME_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "partition.expiration-column must name a partition column "
					      "(got \"%.40s\")",
					      val);
		snprintf(def->part_expire_col, sizeof(def->part_expire_col), "%s", val);
	} else if (strcmp(key, "write.max-level0-files") == 0 ||
		   strcmp(key, "write.slow-level0-files") == 0) {
		if (parse_u64(val, &n) || n > STRATA_L0_FILES_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "%s must be an integer in [0, %d] (0 = off; got \"%.40s\")",
					      key, STRATA_L0_FILES_MAX, val);
		if (key[6] == 'm')
			def->max_l0_files = (uint32_t)n;
		else
			def->slow_l0_files = (uint32_t)n;
	} else if (strcmp(key, "write.stall-timeout-s") == 0) {
		if (parse_u64(val, &n) || n < 1 || n > STRATA_STALL_TIMEOUT_S_MAX)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.stall-timeout-s must be an integer in [1, %d] "
					      "(got \"%.40s\")",
					      STRATA_STALL_TIMEOUT_S_MAX, val);
		def->stall_timeout_s = (uint32_t)n;
	} else if (strcmp(key, "write.inline.max-bytes") == 0) {
		if (parse_u64(val, &n) || n > STRATA_INLINE_MAX_BYTES)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.inline.max-bytes must be an integer in [0, %u] "
					      "(0 = off; got \"%.40s\")",
					      STRATA_INLINE_MAX_BYTES, val);
		def->inline_max_bytes = (uint32_t)n;
	} else {
		return strata_err_set(err, STRATA_EINVAL,
				      "unknown property \"%s\" (known: write.bucket.num, "
				      "acid.data.retain.hours, write.avro.codec, "
				      "write.parquet.zstd.level, write.parquet.row-group.bytes, "
				      "write.parquet.page.bytes, write.token.retain.hours, "
				      "partition.expiration-time, partition.expiration-column, "
				      "write.max-level0-files, write.slow-level0-files, "
				      "write.stall-timeout-s, write.inline.max-bytes)",
				      key);
	}
	return 0;
}

void strata_table_props_format(const strata_table_def *def, strata_buf *out)
{
	strata_buf_printf(out, "write.bucket.num=%u\n", def->buckets);
	strata_buf_printf(out, "acid.data.retain.hours=%u\n", def->retain_hours);
	strata_buf_printf(out, "write.avro.codec=%s\n",
			  def->avro_codec == STRATA_CODEC_DEFLATE ? "deflate" : "null");
	strata_buf_printf(out, "write.parquet.zstd.level=%d\n", def->zstd_level);
	strata_buf_printf(out, "write.parquet.row-group.bytes=%llu\n",
			  (unsigned long long)def->row_group_bytes);
	strata_buf_printf(out, "write.parquet.page.bytes=%llu\n",
			  (unsigned long long)def->page_bytes);
	strata_buf_printf(out, "write.token.retain.hours=%u\n", def->token_retain_hours);
	strata_buf_printf(out, "write.max-level0-files=%u\n", def->max_l0_files);
	strata_buf_printf(out, "write.slow-level0-files=%u\n", def->slow_l0_files);
	strata_buf_printf(out, "write.stall-timeout-s=%u\n",
			  def->stall_timeout_s ? def->stall_timeout_s : STRATA_STALL_TIMEOUT_S_DEFAULT);
	strata_buf_printf(out, "write.inline.max-bytes=%u\n", def->inline_max_bytes);
	if (def->part_expire_s > 0) {
		int64_t e = def->part_expire_s;
		const char *unit = e % 86400 == 0 ? "d" : e % 3600 == 0 ? "h" : e % 60 == 0 ? "m" : "s";
		int64_t div = *unit == 'd' ? 86400 : *unit == 'h' ? 3600 : *unit == 'm' ? 60 : 1;
		strata_buf_printf(out, "partition.expiration-time=%lld%s\n", (long long)(e / div),
				  unit);
		strata_buf_printf(out, "partition.expiration-column=%s\n",
				  def->part_expire_col[0] ? def->part_expire_col :
				  def->nparts ? def->part_cols[0] : "");
	}
}

int strata_table_expiry_column(const strata_table_def *def, strata_err *err)
{
	if (def->part_expire_s <= 0)
		return -1;
	if (def->nparts == 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "partition.expiration-time needs a partitioned table (\"%s\" "
				      "is not)",
				      def->name);
	if (!def->part_expire_col[0])
		return 0;
	for (uint32_t i = 0; i < def->nparts; i++)
		if (strcmp(def->part_cols[i], def->part_expire_col) == 0)
			return (int)i;
	return strata_err_set(err, STRATA_EINVAL,
			      "partition.expiration-column \"%s\" is not a partition column of "
			      "\"%s\"",
			      def->part_expire_col, def->name);
}

/* ---- column lists --------------------------------------------------------------- */

/* The first sep in p outside parentheses ("DECIMAL(18,2)"), or NULL. */
static const char *find_sep(const char *p, char sep)
{
	int depth = 0;
	for (; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (*p == sep && depth == 0)
			return p;
	}
	return NULL;
}

/* Split s at commas (outside parentheses) into trimmed items (arena memory). */
static size_t split_items(strata_arena *a, const char *s, char sep, char ***out)
{
	size_t cap = 8, n = 0;
	char **v = strata_arena_alloc(a, cap * sizeof(char *));
	const char *p = s;
	for (;;) {
		const char *e = find_sep(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (n == cap) {
			char **nv = strata_arena_alloc(a, 2 * cap * sizeof(char *));
			memcpy(nv, v, n * sizeof(char *));
			v = nv;
			cap *= 2;
		}
		char *item = strata_arena_alloc(a, len + 1);
		memcpy(item, p, len);
		item[len] = '\0';
		v[n++] = item;
		if (!e)
			break;
		p = e + 1;
	}
	*out = v;
	return n;
}

/* Words of an item, upper-cased copies for keywords. */
static size_t split_words(strata_arena *a, const char *s, char ***out)
{
	size_t n = 0;
	char **v = strata_arena_alloc(a, 16 * sizeof(char *));
	const char *p = s;
	while (*p && n < 16) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *b = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		char *w = strata_arena_alloc(a, (size_t)(p - b) + 1);
		memcpy(w, b, (size_t)(p - b));
		w[p - b] = '\0';
		v[n++] = w;
	}
	*out = v;
	return n;
}

/* Parse one column item into c; *is_pk set for PRIMARY KEY, *is_null_given
 * (if not NULL) for an explicit NULL. */
static int parse_column(strata_arena *a, const char *item, strata_column *c, bool *is_pk,
			bool *is_null_given, strata_err *err)
{
	char **w;
	size_t n = split_words(a, item, &w);
	memset(c, 0, sizeof(*c));
	c->key_pos = -1;
	c->is_nullable = true;
	*is_pk = false;
	if (is_null_given)
		*is_null_given = false;
	if (n < 2)
		return strata_err_set(err, STRATA_EINVAL,
				      "column definition \"%.100s\" needs a name and a type", item);
	int rc = strata_name_check(w[0], "column name", err);
	if (rc)
		return rc;
	if (w[0][0] == '_')
		return strata_err_set(err, STRATA_EINVAL, "column names may not start with '_'");
	snprintf(c->name, sizeof(c->name), "%s", w[0]);
	/* the type: "DECIMAL(18, 2)" may span words up to its ')' */
	size_t tw = 2;
	char *type = w[1];
	if (strchr(type, '(') || (n > 2 && w[2][0] == '(')) {
		strata_buf tb = {0};
		strata_buf_printf(&tb, "%s", w[1]);
		while (!strchr((char *)tb.data, ')') && tw < n)
			strata_buf_printf(&tb, " %s", w[tw++]);
		strata_buf_putc(&tb, 0);
		type = strata_arena_strdup(a, (char *)tb.data);
		strata_buf_free(&tb);
	}
	int rc2 = strata_column_type_parse(type, c, err);
	if (rc2)
		return rc2;
	for (size_t i = tw; i < n; i++) {
		if (strcasecmp(w[i], "NOT") == 0 && i + 1 < n && strcasecmp(w[i + 1], "NULL") == 0) {
			c->is_nullable = false;
			i++;
		} else if (strcasecmp(w[i], "NULL") == 0) {
			c->is_nullable = true;
			if (is_null_given)
				*is_null_given = true;
		} else if (strcasecmp(w[i], "PRIMARY") == 0 && i + 1 < n &&
			   strcasecmp(w[i + 1], "KEY") == 0) {
			*is_pk = true;
			i++;
		} else {
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\": unexpected \"%.40s\" (allowed: NOT NULL, "
					      "NULL, PRIMARY KEY)",
					      c->name, w[i]);
		}
	}
	return 0;
}

int strata_table_create(strata_wh *wh, const char *name, const char *columns,
			const char *primary_key, const char *partitioned_by,
			const char *const *props, size_t nprops, strata_err *err)
{
	int rc = strata_name_check(name, "table name", err);
	if (rc)
		return rc;
	strata_table_def def;
	memset(&def, 0, sizeof(def));
	snprintf(def.name, sizeof(def.name), "%s", name);
	strata_table_def_defaults(&def);
	for (size_t i = 0; i < nprops; i++) {
		rc = strata_table_prop_apply(&def, props[i], err);
		if (rc)
			return rc;
	}
	strata_arena *a = strata_arena_new();
	strata_schema *s = strata_schema_new(1);
	char **items;
	size_t n = split_items(a, columns ? columns : "", ',', &items);
	int nkeys = 0;
	/* columns declared NULL explicitly, by index: they cannot be keys */
	bool *null_given = strata_arena_alloc(a, n + 1);
	for (size_t i = 0; i < n; i++) {
		strata_column c;
		bool is_pk;
		rc = parse_column(a, items[i], &c, &is_pk, &null_given[i], err);
		if (rc)
			goto out;
		c.id = (uint32_t)i + 1;
		if (is_pk && null_given[i]) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "primary key column \"%s\" must be NOT NULL (it is "
					    "declared NULL)",
					    c.name);
			goto out;
		}
		if (is_pk) {
			c.key_pos = nkeys++;
			c.is_nullable = false;
		}
		if (strata_schema_find(s, c.name) >= 0) {
			rc = strata_err_set(err, STRATA_EINVAL, "column \"%s\" is defined twice", c.name);
			goto out;
		}
		rc = strata_schema_add(s, &c, err);
		if (rc)
			goto out;
	}
	if (primary_key && *primary_key) {
		if (nkeys) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "give the primary key either as PRIMARY KEY on a column "
					    "or with --primary-key, not both");
			goto out;
		}
		char **keys;
		size_t nk = split_items(a, primary_key, ',', &keys);
		if (nk > STRATA_MAX_KEY_COLS) {
			rc = strata_err_set(err, STRATA_EINVAL, "a primary key has at most %d columns",
					    STRATA_MAX_KEY_COLS);
			goto out;
		}
		for (size_t i = 0; i < nk; i++) {
			int idx = strata_schema_find(s, keys[i]);
			if (idx < 0) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "primary key column \"%.80s\" is not a column", keys[i]);
				goto out;
			}
			if (s->cols[idx].key_pos >= 0) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "primary key column \"%s\" listed twice", keys[i]);
				goto out;
			}
			if (null_given[idx]) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "primary key column \"%s\" must be NOT NULL (it is "
						    "declared NULL)",
						    keys[i]);
				goto out;
			}
			s->cols[idx].key_pos = (int)i;
			s->cols[idx].is_nullable = false;
		}
		/* recompute the key index */
		strata_schema *t = strata_schema_new(1);
		for (uint32_t i = 0; i < s->ncols; i++)
			strata_schema_add(t, &s->cols[i], NULL);
		strata_schema_free(s);
		s = t;
	}
	rc = strata_schema_validate(s, err);
	if (rc == 0)
		rc = strata_schema_check_writable(s, err);
	if (rc)
		goto out;
	if (partitioned_by && *partitioned_by) {
		char **pitems;
		size_t np = split_items(a, partitioned_by, ',', &pitems);
		if (np > STRATA_MAX_PART_COLS) {
			rc = strata_err_set(err, STRATA_EINVAL, "at most %d partition columns",
					    STRATA_MAX_PART_COLS);
			goto out;
		}
		for (size_t i = 0; i < np; i++) {
			strata_column c;
			bool is_pk;
			rc = parse_column(a, pitems[i], &c, &is_pk, NULL, err);
			if (rc)
				goto out;
			if (c.type != STRATA_T_STRING || is_pk) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "partition column \"%s\" must be a plain STRING",
						    c.name);
				goto out;
			}
			if (strata_schema_find(s, c.name) >= 0) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "partition column \"%s\" is also a data column",
						    c.name);
				goto out;
			}
			for (uint32_t j = 0; j < def.nparts; j++)
				if (strcmp(def.part_cols[j], c.name) == 0) {
					rc = strata_err_set(err, STRATA_EINVAL,
							    "partition column \"%s\" listed twice",
							    c.name);
					goto out;
				}
			snprintf(def.part_cols[def.nparts++], sizeof(def.part_cols[0]), "%s", c.name);
		}
	}
	if (def.part_expire_s > 0) {
		rc = strata_table_expiry_column(&def, err);
		if (rc < -1)
			goto out;
	}
	rc = strata_mf_table_create(wh->mf, &def, s, err);
out:
	strata_schema_free(s);
	strata_arena_free(a);
	return rc;
}

/* Current table and schema (caller frees *schema). */
static int table_current(strata_wh *wh, const char *name, strata_table_def *def,
			 strata_schema **schema, strata_err *err)
{
	strata_mf_snap *snap;
	int rc = strata_mf_snap_open(wh->mf, &snap, err);
	if (rc)
		return rc;
	rc = strata_mf_table_get(snap, name, def, err);
	if (rc == 0)
		rc = strata_mf_schema_get(snap, def->id, def->schema_version, schema, err);
	strata_mf_snap_close(snap);
	return rc;
}

int strata_table_add_columns(strata_wh *wh, const char *name, const char *columns,
			     uint64_t *version, strata_err *err)
{
	strata_table_def def;
	strata_schema *cur = NULL, *next = NULL;
	int rc = table_current(wh, name, &def, &cur, err);
	if (rc)
		return rc;
	strata_arena *a = strata_arena_new();
	next = strata_schema_dup(cur);
	next->version = cur->version + 1;
	char **items;
	size_t n = split_items(a, columns ? columns : "", ',', &items);
	strata_buf note = {0};
	strata_buf_printf(&note, "add column");
	uint32_t next_id = def.next_col_id;
	for (size_t i = 0; i < n; i++) {
		strata_column c;
		bool is_pk;
		rc = parse_column(a, items[i], &c, &is_pk, NULL, err);
		if (rc)
			goto out;
		if (is_pk) {
			rc = strata_err_set(err, STRATA_EINVAL,
					    "the primary key cannot change (\"%s\")", c.name);
			goto out;
		}
		if (!c.is_nullable) {
			/* invariant 3 */
			rc = strata_err_set(err, STRATA_EINVAL,
					    "added column \"%s\" must be nullable (existing rows "
					    "read it as null)",
					    c.name);
			goto out;
		}
		if (strata_schema_find(next, c.name) >= 0) {
			rc = strata_err_set(err, STRATA_EEXIST, "column \"%s\" already exists", c.name);
			goto out;
		}
		for (uint32_t j = 0; j < def.nparts; j++)
			if (strcmp(def.part_cols[j], c.name) == 0) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "\"%s\" is a partition column", c.name);
				goto out;
			}
		c.id = next_id++; /* invariant 1 */
		rc = strata_schema_add(next, &c, err);
		if (rc)
			goto out;
		strata_buf_printf(&note, " %s", c.name);
	}
	strata_buf_putc(&note, 0);
	rc = strata_schema_check_writable(next, err);
	if (rc)
		goto out;
	rc = strata_mf_commit_ddl(wh->mf, name, cur->version, next, (char *)note.data, version,
				  err);
out:
	strata_buf_free(&note);
	strata_schema_free(cur);
	strata_schema_free(next);
	strata_arena_free(a);
	return rc;
}

/* The current schema, the index of `column` in it, or an error naming it. */
static int column_current(strata_wh *wh, const char *name, const char *column,
			  strata_table_def *def, strata_schema **cur, int *idx, strata_err *err)
{
	int rc = table_current(wh, name, def, cur, err);
	if (rc)
		return rc;
	*idx = strata_schema_find(*cur, column);
	if (*idx < 0) {
		rc = strata_err_set(err, STRATA_ENOTFOUND, "table \"%s\" has no column \"%.80s\"",
				    name, column);
		strata_schema_free(*cur);
		*cur = NULL;
	}
	return rc;
}

int strata_table_drop_column(strata_wh *wh, const char *name, const char *column,
			     uint64_t *version, strata_err *err)
{
	strata_table_def def;
	strata_schema *cur = NULL;
	int idx;
	int rc = column_current(wh, name, column, &def, &cur, &idx, err);
	if (rc)
		return rc;
	if (cur->cols[idx].key_pos >= 0) {
		/* invariant 2 */
		rc = strata_err_set(err, STRATA_EINVAL,
				    "\"%s\" is a primary key column; the primary key cannot change",
				    column);
		strata_schema_free(cur);
		return rc;
	}
	strata_schema *next = strata_schema_new(cur->version + 1);
	for (uint32_t i = 0; i < cur->ncols; i++)
		if ((int)i != idx)
			strata_schema_add(next, &cur->cols[i], NULL);
	char note[160];
	snprintf(note, sizeof(note), "drop column %s", column);
	rc = strata_mf_commit_ddl(wh->mf, name, cur->version, next, note, version, err);
	strata_schema_free(cur);
	strata_schema_free(next);
	return rc;
}

int strata_table_rename_column(strata_wh *wh, const char *name, const char *column,
			       const char *new_name, uint64_t *version, strata_err *err)
{
	strata_table_def def;
	strata_schema *cur = NULL, *next = NULL;
	int idx;
	int rc = column_current(wh, name, column, &def, &cur, &idx, err);
	if (rc)
		return rc;
	rc = strata_name_check(new_name, "column name", err);
	if (rc)
		goto out;
	if (new_name[0] == '_') {
		rc = strata_err_set(err, STRATA_EINVAL, "column names may not start with '_'");
		goto out;
	}
	if (strata_schema_find(cur, new_name) >= 0) {
		rc = strata_err_set(err, STRATA_EEXIST, "table \"%s\" already has a column \"%s\"",
				    name, new_name);
		goto out;
	}
	for (uint32_t j = 0; j < def.nparts; j++)
		if (strcmp(def.part_cols[j], new_name) == 0) {
			rc = strata_err_set(err, STRATA_EINVAL, "\"%s\" is a partition column of \"%s\"",
					    new_name, name);
			goto out;
		}
	/* invariant 4: same id, new name */
	next = strata_schema_dup(cur);
	next->version = cur->version + 1;
	snprintf(next->cols[idx].name, sizeof(next->cols[idx].name), "%s", new_name);
	rc = strata_schema_check_writable(next, err);
	if (rc)
		goto out;
	char note[200];
	snprintf(note, sizeof(note), "rename column %s to %s", column, new_name);
	rc = strata_mf_commit_ddl(wh->mf, name, cur->version, next, note, version, err);
out:
	strata_schema_free(cur);
	strata_schema_free(next);
	return rc;
}

int strata_table_alter_column_type(strata_wh *wh, const char *name, const char *column,
				   const char *type, uint64_t *version, strata_err *err)
{
	strata_table_def def;
	strata_schema *cur = NULL, *next = NULL;
	int idx;
	int rc = column_current(wh, name, column, &def, &cur, &idx, err);
	if (rc)
		return rc;
	const strata_column *old = &cur->cols[idx];
	strata_column nc = *old;
	rc = strata_column_type_parse(type, &nc, err);
	if (rc)
		goto out;
	char from[32], to[32];
	strata_column_type_str(old, from, sizeof(from));
	strata_column_type_str(&nc, to, sizeof(to));
	/* invariant 4 */
	if (old->key_pos >= 0) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "\"%s\" is a primary key column: its type cannot change (the key "
				    "encoding of every file depends on it)",
				    column);
		goto out;
	}
	if (strcmp(from, to) == 0) {
		rc = strata_err_set(err, STRATA_EINVAL, "column \"%s\" is already %s", column, to);
		goto out;
	}
	if (!strata_column_type_widens(old, &nc)) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "column \"%s\" cannot change from %s to %s: only INT to BIGINT, "
				    "FLOAT to DOUBLE and DECIMAL(p,s) to DECIMAL(p',s) with p' > p "
				    "widen without rewriting data",
				    column, from, to);
		goto out;
	}
	next = strata_schema_dup(cur);
	next->version = cur->version + 1;
	next->cols[idx] = nc;
	rc = strata_schema_validate(next, err);
	if (rc == 0)
		rc = strata_schema_check_writable(next, err);
	if (rc)
		goto out;
	char note[200];
	snprintf(note, sizeof(note), "alter column %s type %s to %s", column, from, to);
	rc = strata_mf_commit_ddl(wh->mf, name, cur->version, next, note, version, err);
out:
	strata_schema_free(cur);
	strata_schema_free(next);
	return rc;
}

int strata_table_set_props(strata_wh *wh, const char *name, const char *const *props,
			   size_t nprops, strata_err *err)
{
	/* read-modify-write with compare-and-set: a concurrent change of other
	 * properties is never lost, it makes this one retry */
	for (int attempt = 0;; attempt++) {
		strata_table_def def, before;
		strata_mf_snap *snap;
		int rc = strata_mf_snap_open(wh->mf, &snap, err);
		if (rc)
			return rc;
		rc = strata_mf_table_get(snap, name, &def, err);
		/* an unpartitioned table has one partition: once it exists (the first
		 * write), its bucket count is fixed, and a new count would never apply */
		strata_partition only;
		bool has_data = rc == 0 && def.nparts == 0 &&
				strata_mf_partition_get(snap, def.id, "", &only, NULL) == 0;
		strata_mf_snap_close(snap);
		if (rc)
			return rc;
		before = def;
		for (size_t i = 0; i < nprops; i++) {
			rc = strata_table_prop_apply(&def, props[i], err);
			if (rc)
				return rc;
		}
		if (def.part_expire_s > 0 && strata_table_expiry_column(&def, err) < -1)
			return err->code;
		if (has_data && def.buckets != before.buckets)
			return strata_err_set(err, STRATA_EINVAL,
					      "write.bucket.num of \"%s\" cannot change: the table is "
					      "not partitioned and already holds data in %u buckets",
					      name, only.buckets);
		rc = strata_mf_table_set_props(wh->mf, &before, &def, err);
		if (rc != STRATA_ECONFLICT || attempt >= 10)
			return rc;
	}
}
