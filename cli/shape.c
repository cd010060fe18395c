/*
 * cli/shape.c — holding a JSON value to a documented shape, and filling in
 * the keys a shape marks nullable (the notation: cli/out.c).
 *
 * Kept apart from the rest of cli/ so a test links it alone: it needs only
 * jansson and core/ (tests/test_json.c checks every command's output with
 * it; `strata admin --format json` normalises stratad's replies with it).
 *
 * Invariants:
 *   1. cli_json_check() accepts a value only if every key of an object
 *      shape is present with its type (null only where marked "?") and
 *      every other key is admitted by a "..." entry: an undocumented field
 *      is a failure, so documentation cannot fall behind the output;
 *   2. cli_json_normalise() only adds nulls, never removes or changes a
 *      value.
 *
 * Any thread; no state.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Whether the leaf type name t (without "?") admits v. */
static bool leaf_admits(const char *t, size_t tlen, const json_t *v)
{
#define IS(name) (tlen == strlen(name) && strncmp(t, name, tlen) == 0)
	if (IS("any"))
		return true;
	if (IS("string"))
		return json_is_string(v);
	if (IS("int"))
		return json_is_integer(v);
	if (IS("number"))
		return json_is_number(v);
	if (IS("bool"))
		return json_is_boolean(v);
	if (IS("object"))
		return json_is_object(v);
	if (IS("array"))
		return json_is_array(v);
#undef IS
	return false;
}

static int check_at(const json_t *v, const json_t *shape, strata_buf *path, char *why, size_t n)
{
	size_t mark = path->len;
	int rc = 0;
	if (json_is_string(shape)) {
		const char *t = json_string_value(shape);
		size_t tlen = strlen(t);
		bool is_nullable = tlen && t[tlen - 1] == '?';
		if (is_nullable)
			tlen--;
		if ((is_nullable && json_is_null(v)) || leaf_admits(t, tlen, v))
			return 0;
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		strata_buf_putc(path, 0);
		snprintf(why, n, "%s: wants %s, got %.80s", path->len > 1 ? (char *)path->data : "(top)",
			 t, text ? text : "?");
		free(text);
		path->len = mark;
		return -1;
	}
	if (json_is_array(shape)) {
		if (!json_is_array(v)) {
			strata_buf_putc(path, 0);
			snprintf(why, n, "%s: wants an array", path->len > 1 ? (char *)path->data : "(top)");
			path->len = mark;
			return -1;
		}
		const json_t *elem = json_array_get(shape, 0);
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (!elem)
				break;
			strata_buf_printf(path, "[%zu]", i);
			rc = check_at(e, elem, path, why, n);
			path->len = mark;
			if (rc)
				return rc;
		}
		return 0;
	}
	/* an object; with the key "?", null too */
	if (json_is_null(v) && json_object_get(shape, "?"))
		return 0;
	if (!json_is_object(v)) {
		strata_buf_putc(path, 0);
		snprintf(why, n, "%s: wants an object", path->len > 1 ? (char *)path->data : "(top)");
		path->len = mark;
		return -1;
	}
	const json_t *rest = json_object_get(shape, "...");
	const char *k;
	json_t *sv, *vv;
	json_object_foreach((json_t *)shape, k, sv) {
		if (strcmp(k, "...") == 0 || strcmp(k, "?") == 0)
			continue;
		strata_buf_printf(path, ".%s", k);
		vv = json_object_get(v, k);
		if (!vv) {
			strata_buf_putc(path, 0);
			snprintf(why, n, "%s: missing", (char *)path->data);
			path->len = mark;
			return -1;
		}
		rc = check_at(vv, sv, path, why, n);
		path->len = mark;
		if (rc)
			return rc;
	}
	json_object_foreach((json_t *)v, k, vv) {
		if (json_object_get(shape, k))
			continue;
		strata_buf_printf(path, ".%s", k);
		if (!rest) {
			strata_buf_putc(path, 0);
			snprintf(why, n, "%s: not in the documented shape", (char *)path->data);
			path->len = mark;
			return -1;
		}
		rc = check_at(vv, rest, path, why, n);
		path->len = mark;
		if (rc)
			return rc;
	}
	return 0;
}

/* invariant 1 */
int cli_json_check(const json_t *v, const json_t *shape, char *why, size_t n)
{
	strata_buf path = {0};
	why[0] = '\0';
	int rc = check_at(v, shape, &path, why, n);
	strata_buf_free(&path);
	return rc;
}

/* invariant 2 */
void cli_json_normalise(json_t *v, const json_t *shape)
{
	if (json_is_array(shape) && json_is_array(v) && json_array_get(shape, 0)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			cli_json_normalise(e, json_array_get(shape, 0));
		return;
	}
	if (!json_is_object(shape) || !json_is_object(v))
		return;
	const char *k;
	json_t *sv;
	json_object_foreach((json_t *)shape, k, sv) {
		json_t *vv = json_object_get(v, k);
		if (vv) {
			cli_json_normalise(vv, sv);
			continue;
		}
		const char *t = json_is_string(sv) ? json_string_value(sv) : "";
		bool is_nullable = (*t && t[strlen(t) - 1] == '?') ||
				   (json_is_object(sv) && json_object_get(sv, "?"));
		if (strcmp(k, "...") != 0 && strcmp(k, "?") != 0 && is_nullable)
			json_object_set_new(v, k, json_null());
	}
}
