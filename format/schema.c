/*
 * format/schema.c — types, columns and schema versions.
 *
 * A schema is one version of a table's columns.  Columns carry a stable id
 * (never reused), so a file written under an older version is read into a
 * newer layout by id: added columns read as null, dropped ones vanish, and a
 * column dropped and re-added under the same name is a different column.
 *
 * Invariants checked by strata_schema_validate():
 *   1. names are valid identifiers, unique within the schema;
 *   2. ids are unique and non-zero;
 *   3. key positions are 0..nkeys-1, each exactly once, on non-null columns;
 *   4. at least one key column, at most STRATA_MAX_KEY_COLS;
 *   5. a DECIMAL column has 1 <= precision <= 38 and scale <= precision;
 *      other columns have both 0.
 *
 * A DECIMAL column's precision and scale are part of its type: the schema
 * JSON (manifest, Parquet strata.schema) keeps them as "precision" and
 * "scale" next to "type":"DECIMAL".  A schema version may change a
 * column's type only by widening (strata_column_type_widens), which the
 * readers apply to files of older versions.
 */
#include "format/format.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	strata_type type;
} type_names[] = {
	{"BIGINT", STRATA_T_LONG},     {"INT", STRATA_T_INT},
	{"DOUBLE", STRATA_T_DOUBLE},   {"FLOAT", STRATA_T_FLOAT},
	{"BOOLEAN", STRATA_T_BOOL},    {"STRING", STRATA_T_STRING},
	{"BINARY", STRATA_T_BYTES},    {"TIMESTAMP", STRATA_T_TIMESTAMP},
	{"DATE", STRATA_T_DATE},       {"DECIMAL", STRATA_T_DECIMAL},
	/* aliases accepted on input only */
	{"LONG", STRATA_T_LONG},       {"INTEGER", STRATA_T_INT},
	{"BOOL", STRATA_T_BOOL},       {"VARCHAR", STRATA_T_STRING},
	{"BYTES", STRATA_T_BYTES},     {"NUMERIC", STRATA_T_DECIMAL},
};

const char *strata_type_name(strata_type t)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(type_names); i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "UNKNOWN";
}

int strata_type_parse(const char *s, strata_type *out)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(type_names); i++) {
		if (strcasecmp(s, type_names[i].name) == 0) {
			*out = type_names[i].type;
			return 0;
		}
	}
	return STRATA_EINVAL;
}

int strata_column_type_parse(const char *text, strata_column *c, strata_err *err)
{
	char name[32];
	size_t n = 0;
	const char *p = text;
	while (*p == ' ')
		p++;
	while (*p && *p != '(' && *p != ' ' && n + 1 < sizeof(name))
		name[n++] = *p++;
	name[n] = '\0';
	while (*p == ' ')
		p++;
	c->precision = c->scale = 0;
	if (strata_type_parse(name, &c->type) != 0 || (*p && (*p != '(' || c->type != STRATA_T_DECIMAL)))
		return strata_err_set(err, STRATA_EINVAL,
				      "column \"%s\": unknown type \"%.40s\" (use BIGINT, INT, DOUBLE, "
				      "FLOAT, BOOLEAN, STRING, BINARY, TIMESTAMP, DATE or "
				      "DECIMAL(p,s))",
				      c->name, text);
	if (c->type != STRATA_T_DECIMAL)
		return 0;
	long prec = 18, scale = 0; /* a bare DECIMAL: DECIMAL(18,0) */
	if (*p == '(') {
		char *end;
		prec = strtol(p + 1, &end, 10);
		if (end == p + 1)
			goto bad;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',') {
			scale = strtol(p + 1, &end, 10);
			if (end == p + 1)
				goto bad;
			p = end;
			while (*p == ' ')
				p++;
		}
		if (*p != ')')
			goto bad;
		p++;
		while (*p == ' ')
			p++;
		if (*p)
			goto bad;
	}
	if (prec < 1 || prec > STRATA_DECIMAL_MAX_PRECISION || scale < 0 || scale > prec)
		return strata_err_set(err, STRATA_EINVAL,
				      "column \"%s\": DECIMAL(%ld,%ld) is out of range (precision 1 "
				      "to %d, scale 0 to the precision)",
				      c->name, prec, scale, STRATA_DECIMAL_MAX_PRECISION);
	c->precision = (uint8_t)prec;
	c->scale = (uint8_t)scale;
	return 0;
bad:
	return strata_err_set(err, STRATA_EINVAL,
			      "column \"%s\": malformed type \"%.40s\" (DECIMAL(precision,scale), "
			      "e.g. DECIMAL(18,2))",
			      c->name, text);
}

const char *strata_column_type_str(const strata_column *c, char *buf, size_t n)
{
	if (c->type == STRATA_T_DECIMAL)
		snprintf(buf, n, "DECIMAL(%u,%u)", c->precision, c->scale);
	else
		snprintf(buf, n, "%s", strata_type_name(c->type));
	return buf;
}

void strata_column_type_format(const strata_column *c, strata_buf *out)
{
	char b[32];
	strata_column_type_str(c, b, sizeof(b));
	strata_buf_append(out, b, strlen(b));
}

bool strata_column_type_widens(const strata_column *from, const strata_column *to)
{
	if (from->type == STRATA_T_DECIMAL && to->type == STRATA_T_DECIMAL)
		return from->scale == to->scale && from->precision <= to->precision;
	return from->type == to->type || (from->type == STRATA_T_INT && to->type == STRATA_T_LONG) ||
	       (from->type == STRATA_T_FLOAT && to->type == STRATA_T_DOUBLE);
}

strata_schema *strata_schema_new(uint32_t version)
{
	strata_schema *s = strata_calloc(1, sizeof(*s));
	s->version = version;
	return s;
}

static void schema_index_keys(strata_schema *s)
{
	s->nkeys = 0;
	for (uint32_t i = 0; i < s->ncols; i++) {
		int p = s->cols[i].key_pos;
		if (p >= 0 && p < STRATA_MAX_KEY_COLS) {
			s->key_cols[p] = i;
			if ((uint32_t)p + 1 > s->nkeys)
				s->nkeys = (uint32_t)p + 1;
		}
	}
}

strata_schema *strata_schema_dup(const strata_schema *s)
{
	strata_schema *d = strata_malloc(sizeof(*d));
	*d = *s;
	d->cols = strata_memdup(s->cols, sizeof(strata_column) * (s->ncols ? s->ncols : 1));
	return d;
}

void strata_schema_free(strata_schema *s)
{
	if (!s)
		return;
	free(s->cols);
	free(s);
}

int strata_schema_add(strata_schema *s, const strata_column *c, strata_err *err)
{
	if (s->ncols >= STRATA_MAX_COLS)
		return strata_err_set(err, STRATA_ELIMIT,
				      "a table has at most %d columns", STRATA_MAX_COLS);
	s->cols = strata_realloc(s->cols, sizeof(strata_column) * (s->ncols + 1));
	s->cols[s->ncols++] = *c;
	schema_index_keys(s);
	return 0;
}

int strata_schema_find(const strata_schema *s, const char *name)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

int strata_schema_find_id(const strata_schema *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		if (s->cols[i].id == id)
			return (int)i;
	return -1;
}

int strata_schema_validate(const strata_schema *s, strata_err *err)
{
	int seen[STRATA_MAX_KEY_COLS] = {0};
	int nkeys = 0;
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		int rc = strata_name_check(c->name, "column name", err);
		if (rc)
			return rc;
		if (c->type < STRATA_T_LONG || c->type > STRATA_T_LAST)
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\" has an unknown type", c->name);
		/* invariant 5 */
		if (c->type == STRATA_T_DECIMAL ?
			    (c->precision < 1 || c->precision > STRATA_DECIMAL_MAX_PRECISION ||
			     c->scale > c->precision) :
			    (c->precision || c->scale))
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\" has a bad precision or scale (%u,%u)",
					      c->name, c->precision, c->scale);
		if (c->id == 0)
			return strata_err_set(err, STRATA_EINVAL,
					      "column \"%s\" has id 0", c->name);
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(s->cols[j].name, c->name) == 0)
				return strata_err_set(err, STRATA_EINVAL,
						      "column \"%s\" is defined twice", c->name);
			if (s->cols[j].id == c->id)
				return strata_err_set(err, STRATA_ECORRUPT,
						      "columns \"%s\" and \"%s\" share id %u",
						      s->cols[j].name, c->name, c->id);
		}
		if (c->key_pos >= 0) {
			if (c->key_pos >= STRATA_MAX_KEY_COLS)
				return strata_err_set(err, STRATA_EINVAL,
						      "a primary key has at most %d columns",
						      STRATA_MAX_KEY_COLS);
			if (seen[c->key_pos]++)
				return strata_err_set(err, STRATA_EINVAL,
						      "key position %d used twice", c->key_pos);
			if (c->is_nullable)
				return strata_err_set(err, STRATA_EINVAL,
						      "primary key column \"%s\" must be NOT NULL",
						      c->name);
			nkeys++;
		}
	}
	if (nkeys == 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "the table needs a primary key (PRIMARY KEY on a column "
				      "or --primary-key)");
	for (int i = 0; i < nkeys; i++)
		if (!seen[i])
			return strata_err_set(err, STRATA_EINVAL,
					      "key positions are not contiguous");
	if ((uint32_t)nkeys != s->nkeys)
		return strata_err_set(err, STRATA_EINVAL, "key index out of date");
	return 0;
}

char *strata_schema_to_json(const strata_schema *s)
{
	json_t *root = json_object();
	json_object_set_new(root, "version", json_integer(s->version));
	json_t *cols = json_array();
	for (uint32_t i = 0; i < s->ncols; i++) {
		const strata_column *c = &s->cols[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(c->id));
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "type", json_string(strata_type_name(c->type)));
		if (c->type == STRATA_T_DECIMAL) {
			json_object_set_new(o, "precision", json_integer(c->precision));
			json_object_set_new(o, "scale", json_integer(c->scale));
		}
		json_object_set_new(o, "nullable", json_boolean(c->is_nullable));
		if (c->key_pos >= 0)
			json_object_set_new(o, "key", json_integer(c->key_pos));
		json_array_append_new(cols, o);
	}
	json_object_set_new(root, "columns", cols);
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		abort(); /* jansson only fails on out-of-memory */
	return text;
}

int strata_schema_from_json(const char *text, size_t len, strata_schema **out,
			    strata_err *err)
{
	*out = NULL;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	strata_schema *s = NULL;
	int rc = 0;
	if (!root || !json_is_object(root)) {
		rc = strata_err_set(err, STRATA_ECORRUPT, "schema is not a JSON object: %s",
				    root ? "wrong type" : jerr.text);
		goto out;
	}
	json_t *ver = json_object_get(root, "version");
	json_t *cols = json_object_get(root, "columns");
	if (!json_is_integer(ver) || !json_is_array(cols) ||
	    json_array_size(cols) > STRATA_MAX_COLS) {
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "schema JSON lacks \"version\" or \"columns\"");
		goto out;
	}
	s = strata_schema_new((uint32_t)json_integer_value(ver));
	size_t i;
	json_t *o;
	json_array_foreach(cols, i, o) {
		strata_column c;
		memset(&c, 0, sizeof(c));
		json_t *id = json_object_get(o, "id");
		json_t *name = json_object_get(o, "name");
		json_t *type = json_object_get(o, "type");
		json_t *nul = json_object_get(o, "nullable");
		json_t *key = json_object_get(o, "key");
		if (!json_is_integer(id) || !json_is_string(name) || !json_is_string(type) ||
		    strlen(json_string_value(name)) > STRATA_NAME_MAX ||
		    strata_type_parse(json_string_value(type), &c.type) != 0 ||
		    (key && !json_is_integer(key))) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "schema JSON column %zu is malformed", i);
			goto out;
		}
		json_int_t idv = json_integer_value(id);
		json_int_t kv = key ? json_integer_value(key) : -1;
		if (idv <= 0 || idv > UINT32_MAX || kv < -1 || kv >= STRATA_MAX_KEY_COLS) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "schema JSON column %zu has an id or key out of range", i);
			goto out;
		}
		c.id = (uint32_t)idv;
		snprintf(c.name, sizeof(c.name), "%s", json_string_value(name));
		c.is_nullable = json_is_true(nul);
		c.key_pos = (int)kv;
		if (c.type == STRATA_T_DECIMAL) {
			json_t *pj = json_object_get(o, "precision");
			json_t *sj = json_object_get(o, "scale");
			json_int_t pv = json_is_integer(pj) ? json_integer_value(pj) : -1;
			json_int_t sv = json_is_integer(sj) ? json_integer_value(sj) : -1;
			if (pv < 1 || pv > STRATA_DECIMAL_MAX_PRECISION || sv < 0 || sv > pv) {
				rc = strata_err_set(err, STRATA_ECORRUPT,
						    "schema JSON column %zu has a bad DECIMAL "
						    "precision or scale",
						    i);
				goto out;
			}
			c.precision = (uint8_t)pv;
			c.scale = (uint8_t)sv;
		}
		rc = strata_schema_add(s, &c, err);
		if (rc)
			goto out;
	}
	rc = strata_schema_validate(s, err);
	if (rc) {
		rc = STRATA_ECORRUPT;
		if (err)
			err->code = rc;
		goto out;
	}
	*out = s;
	s = NULL;
out:
	strata_schema_free(s);
	json_decref(root);
	return rc;
}

int strata_schema_project(const strata_schema *s, const char *names,
			  strata_schema **out, strata_err *err)
{
	*out = NULL;
	bool *want = strata_calloc(s->ncols ? s->ncols : 1, sizeof(bool));
	char *copy = strata_strdup(names);
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && end[-1] == ' ')
			*--end = '\0';
		if (!*tok)
			continue;
		int idx = strata_schema_find(s, tok);
		if (idx < 0) {
			rc = strata_err_set(err, STRATA_ENOTFOUND, "unknown column \"%s\"", tok);
			goto out;
		}
		want[idx] = true;
	}
	strata_schema *p = strata_schema_new(s->version);
	for (uint32_t i = 0; i < s->ncols; i++)
		if (want[i] || s->cols[i].key_pos >= 0)
			strata_schema_add(p, &s->cols[i], NULL);
	*out = p;
out:
	free(copy);
	free(want);
	return rc;
}
