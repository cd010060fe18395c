/*
 * table/pred.c — the predicate language of `scan --where` and
 * `delete --where`: parsing, binding to a row layout, evaluating on a row,
 * and deciding from statistics that no row of a unit can match.
 *
 * Grammar (docs/CLI.md, "Predicates"; keywords case-insensitive):
 *   expr    := and { OR and }
 *   and     := not { AND not }
 *   not     := NOT not | primary
 *   primary := '(' expr ')' | column test
 *   test    := op literal | IS [NOT] NULL | [NOT] IN '(' literal {',' literal} ')'
 *   op      := = | != | <> | < | <= | > | >=
 *   column  := name | "quoted name"           (a schema or partition column)
 *   literal := number | 'string' | x'hex' | TRUE | FALSE
 *
 * Literals take the JSON input's road (strata_row_from_json with a one-
 * column schema): a literal of a column of type T is what a row written as
 * JSON may hold in that column (numbers, 'strings' as JSON strings, TRUE
 * and FALSE), so a type the JSON input learns is a type predicates know,
 * with the same ranges and the same spellings (TIMESTAMP
 * '2026-01-01T00:00:00Z' or microseconds, BINARY as base64 or x'00ff').
 * The per-type pieces here are two switches: the words of a type error
 * (literal_expects) and the comparison of two values (value_cmp).
 *
 * Semantics: SQL's three-valued logic.  A comparison with a null column is
 * unknown, NOT unknown is unknown, and a row is selected only when the
 * whole predicate is true.  Floats compare as IEEE numbers (-0.0 = 0.0; a
 * NaN is unequal to everything, so only != holds for it).  Strings and
 * binaries compare bytewise (unsigned), like keys and Parquet statistics.
 *
 * Statistics (strata_pred_may_match): each test gets the set of truth
 * values {true, false, unknown} its column's bounds and null count allow
 * over the unit; AND, OR and NOT combine the sets value by value.  No
 * "true" in the root's set proves that no row of the unit is selected.
 *
 * Invariants:
 *   1. strata_pred_may_match returns false only when strata_pred_match is
 *      false for every row the statistics describe (statistics unknown,
 *      NaN possible or a literal NaN count as "anything");
 *   2. the key range (strata_pred_key_range) holds the encoded key of
 *      every row the predicate selects;
 *   3. errors name the column and the 1-based byte position of the token.
 *
 * A predicate is immutable after parse and bind: threads may share it.
 */
#include "table/table_int.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PRED_MAX_DEPTH 64
#define PRED_MAX_TEXT (1u << 20)
#define PRED_MAX_LIST 100000

enum { N_AND = 1, N_OR, N_NOT, N_CMP, N_NULL, N_IN };
enum { OP_EQ = 1, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
/* truth values and their sets */
enum { TV_F = 0, TV_T = 1, TV_N = 2 };
#define SET_F 1u
#define SET_T 2u
#define SET_N 4u
#define SET_ALL (SET_F | SET_T | SET_N)

typedef struct pnode {
	int kind;
	int op;           /* N_CMP */
	bool is_negated;  /* IS NOT NULL, NOT IN */
	int col;          /* index into pred->cols */
	strata_value *lits;
	size_t nlits;
	struct pnode *a, *b;
} pnode;

typedef struct pcol {
	const char *name;
	strata_type type;
	bool is_part;
	int part_idx;  /* partition column index */
	int schema_idx; /* in the parse schema */
	int row_idx;   /* in the bound row layout, or -1 */
} pcol;

struct strata_pred {
	strata_arena *a;
	strata_schema *s; /* the parse schema (copy) */
	pnode *root;
	pcol *cols;
	size_t ncols;
	char *col_names; /* the schema columns read, "a,b" */
};

/* ---- the comparison of two values of one type (the one per-type place) -- */

/* -1, 0, 1; false when unordered (a NaN). */
static bool value_cmp(strata_type t, const strata_value *x, const strata_value *y, int *out)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		*out = (x->v.i64 > y->v.i64) - (x->v.i64 < y->v.i64);
		return true;
	case STRATA_T_INT:
		*out = (x->v.i32 > y->v.i32) - (x->v.i32 < y->v.i32);
		return true;
	case STRATA_T_DOUBLE:
		if (isnan(x->v.f64) || isnan(y->v.f64))
			return false;
		*out = (x->v.f64 > y->v.f64) - (x->v.f64 < y->v.f64);
		return true;
	case STRATA_T_FLOAT:
		if (isnan(x->v.f32) || isnan(y->v.f32))
			return false;
		*out = (x->v.f32 > y->v.f32) - (x->v.f32 < y->v.f32);
		return true;
	case STRATA_T_BOOL:
		*out = (int)x->v.b - (int)y->v.b;
		return true;
	case STRATA_T_STRING:
	case STRATA_T_BYTES: {
		uint32_t n = x->v.s.len < y->v.s.len ? x->v.s.len : y->v.s.len;
		int c = n ? memcmp(x->v.s.ptr, y->v.s.ptr, n) : 0;
		if (c == 0)
			c = (x->v.s.len > y->v.s.len) - (x->v.s.len < y->v.s.len);
		*out = (c > 0) - (c < 0);
		return true;
	}
	}
	return false;
}

/* What a literal of type t looks like, for errors. */
static const char *literal_expects(strata_type t)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_INT:
	case STRATA_T_DOUBLE:
	case STRATA_T_FLOAT:
		return "a number";
	case STRATA_T_BOOL:
		return "TRUE or FALSE";
	case STRATA_T_STRING:
		return "a 'string'";
	case STRATA_T_BYTES:
		return "x'hex' or a base64 'string'";
	case STRATA_T_TIMESTAMP:
		return "a timestamp such as '2026-01-01T00:00:00Z' (or microseconds)";
	}
	return "a literal of its type";
}

/* ---- lexer ----------------------------------------------------------------- */

enum { TK_END = 0, TK_IDENT, TK_QIDENT, TK_NUM, TK_STR, TK_HEX, TK_LP, TK_RP, TK_COMMA,
       TK_OP };

typedef struct tok {
	int kind;
	int op;           /* TK_OP */
	size_t pos;       /* 1-based */
	const char *p;    /* the token's text */
	size_t len;
	char *text;       /* decoded ident / string / hex bytes (arena) */
	size_t text_len;
} tok;

typedef struct parser {
	const char *src;
	size_t n, i;
	tok t;
	strata_pred *pr;
	const strata_schema *s;
	const strata_table_def *def;
	int depth;
	strata_err *err;
} parser;

static int perr(parser *ps, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(parser *ps, size_t pos, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return strata_err_set(ps->err, STRATA_EINVAL, "%s at position %zu", msg, pos);
}

static bool kw(const tok *t, const char *word)
{
	return t->kind == TK_IDENT && t->len == strlen(word) && strncasecmp(t->p, word, t->len) == 0;
}

/* The token as the user wrote it, for messages (at most 40 bytes). */
static const char *tok_show(const tok *t, char *buf, size_t n)
{
	if (t->kind == TK_END)
		return "the end of the expression";
	size_t l = t->len < 40 ? t->len : 40;
	snprintf(buf, n, "\"%.*s%s\"", (int)l, t->p, t->len > 40 ? "..." : "");
	return buf;
}

static int lex(parser *ps)
{
	const char *s = ps->src;
	while (ps->i < ps->n && isspace((unsigned char)s[ps->i]))
		ps->i++;
	tok *t = &ps->t;
	memset(t, 0, sizeof(*t));
	t->pos = ps->i + 1;
	t->p = s + ps->i;
	if (ps->i >= ps->n) {
		t->kind = TK_END;
		return 0;
	}
	size_t st = ps->i;
	char c = s[st];
	if ((c == 'x' || c == 'X') && st + 1 < ps->n && s[st + 1] == '\'') {
		size_t j = st + 2;
		while (j < ps->n && s[j] != '\'')
			j++;
		if (j >= ps->n)
			return perr(ps, t->pos, "unterminated x'...' literal");
		size_t hl = j - st - 2;
		if (hl % 2)
			return perr(ps, t->pos, "x'...' needs an even number of hex digits");
		t->text = strata_arena_alloc(ps->pr->a, hl / 2 + 1);
		for (size_t k = 0; k < hl; k += 2) {
			int hi = isxdigit((unsigned char)s[st + 2 + k]), lo = isxdigit((unsigned char)s[st + 3 + k]);
			if (!hi || !lo)
				return perr(ps, st + 3 + k, "x'...' holds a character that is not a hex digit");
			char h[3] = {s[st + 2 + k], s[st + 3 + k], 0};
			t->text[k / 2] = (char)strtoul(h, NULL, 16);
		}
		t->text_len = hl / 2;
		t->kind = TK_HEX;
		ps->i = j + 1;
	} else if (isalpha((unsigned char)c) || c == '_') {
		size_t j = st;
		while (j < ps->n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
			j++;
		t->kind = TK_IDENT;
		ps->i = j;
	} else if (c == '"' || c == '\'') {
		/* "name" or 'string', the quote doubled inside */
		strata_buf b = {0};
		size_t j = st + 1;
		for (;;) {
			if (j >= ps->n) {
				strata_buf_free(&b);
				return perr(ps, t->pos, "unterminated %s", c == '"' ? "quoted name" :
										       "string");
			}
			if (s[j] == c) {
				if (j + 1 < ps->n && s[j + 1] == c) {
					strata_buf_putc(&b, (uint8_t)c);
					j += 2;
					continue;
				}
				break;
			}
			strata_buf_putc(&b, (uint8_t)s[j++]);
		}
		t->text = strata_arena_alloc(ps->pr->a, b.len + 1);
		if (b.len)
			memcpy(t->text, b.data, b.len);
		t->text[b.len] = '\0';
		t->text_len = b.len;
		strata_buf_free(&b);
		t->kind = c == '"' ? TK_QIDENT : TK_STR;
		ps->i = j + 1;
	} else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
		size_t j = st;
		if (s[j] == '-' || s[j] == '+')
			j++;
		while (j < ps->n && (isalnum((unsigned char)s[j]) || s[j] == '.' ||
				     ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
			j++;
		t->kind = TK_NUM;
		ps->i = j;
	} else if (c == '(' || c == ')' || c == ',') {
		t->kind = c == '(' ? TK_LP : c == ')' ? TK_RP : TK_COMMA;
		ps->i = st + 1;
	} else {
		static const struct {
			const char *s;
			int op;
		} ops[] = {{"<=", OP_LE}, {">=", OP_GE}, {"!=", OP_NE}, {"<>", OP_NE},
			   {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
		for (size_t k = 0; k < STRATA_ARRAY_LEN(ops); k++) {
			size_t l = strlen(ops[k].s);
			if (ps->n - st >= l && strncmp(s + st, ops[k].s, l) == 0) {
				t->kind = TK_OP;
				t->op = ops[k].op;
				ps->i = st + l;
				break;
			}
		}
		if (t->kind != TK_OP)
			return perr(ps, t->pos, "unexpected character '%c'", c);
	}
	t->len = ps->i - st;
	return 0;
}

/* ---- parser ---------------------------------------------------------------- */

static pnode *node_new(parser *ps, int kind)
{
	pnode *n = strata_arena_alloc(ps->pr->a, sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	return n;
}

static int parse_or(parser *ps, pnode **out);

/* The column named by the current token (a name or a "quoted name"). */
static int parse_column(parser *ps, int *out)
{
	tok *t = &ps->t;
	char buf[64];
	if (t->kind != TK_IDENT && t->kind != TK_QIDENT)
		return perr(ps, t->pos, "expected a column name, got %s", tok_show(t, buf, sizeof(buf)));
	char name[STRATA_NAME_MAX + 1];
	const char *src = t->kind == TK_IDENT ? t->p : t->text;
	size_t len = t->kind == TK_IDENT ? t->len : t->text_len;
	if (len > STRATA_NAME_MAX)
		return perr(ps, t->pos, "unknown column \"%.40s...\"", src);
	memcpy(name, src, len);
	name[len] = '\0';
	strata_pred *pr = ps->pr;
	for (size_t i = 0; i < pr->ncols; i++)
		if (strcmp(pr->cols[i].name, name) == 0) {
			*out = (int)i;
			return lex(ps);
		}
	pcol c = {.row_idx = -1, .part_idx = -1, .schema_idx = -1};
	int idx = strata_schema_find(ps->s, name);
	if (idx >= 0) {
		c.type = ps->s->cols[idx].type;
		c.schema_idx = idx;
	} else {
		for (uint32_t k = 0; ps->def && k < ps->def->nparts; k++)
			if (strcmp(ps->def->part_cols[k], name) == 0)
				c.part_idx = (int)k;
		if (c.part_idx < 0) {
			strata_buf l = {0};
			for (uint32_t k = 0; k < ps->s->ncols && l.len < 200; k++)
				strata_buf_printf(&l, "%s%s", k ? ", " : "", ps->s->cols[k].name);
			for (uint32_t k = 0; ps->def && k < ps->def->nparts && l.len < 200; k++)
				strata_buf_printf(&l, ", %s", ps->def->part_cols[k]);
			strata_buf_putc(&l, 0);
			int rc = perr(ps, t->pos, "unknown column \"%s\" (the columns are: %s)", name,
				      (const char *)l.data);
			strata_buf_free(&l);
			return rc;
		}
		c.is_part = true;
		c.type = STRATA_T_STRING;
	}
	c.name = strata_arena_strdup(pr->a, name);
	pr->cols = strata_realloc(pr->cols, (pr->ncols + 1) * sizeof(pcol));
	pr->cols[pr->ncols] = c;
	*out = (int)pr->ncols++;
	return lex(ps);
}

/* The current token as a literal of column col (invariant 3). */
static int parse_literal(parser *ps, const pcol *col, strata_value *out)
{
	tok *t = &ps->t;
	char buf[64];
	memset(out, 0, sizeof(*out));
	const char *want = literal_expects(col->type);
	if (t->kind == TK_HEX) {
		if (col->type != STRATA_T_BYTES)
			return perr(ps, t->pos, "expected %s for column \"%s\" (%s), got an x'...' literal",
				    want, col->name, strata_type_name(col->type));
		out->v.s.ptr = (const uint8_t *)t->text;
		out->v.s.len = (uint32_t)t->text_len;
		return lex(ps);
	}
	json_t *j = NULL;
	bool is_huge = false; /* an integer beyond 64 bits, read as a real */
	if (t->kind == TK_NUM) {
		char *num = strata_arena_alloc(ps->pr->a, t->len + 1);
		memcpy(num, t->p, t->len);
		num[t->len] = '\0';
		const char *text = num[0] == '+' ? num + 1 : num;
		json_error_t je;
		j = json_loads(text, JSON_DECODE_ANY, &je);
		if (!j && strstr(je.text, "too big")) {
			j = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
			is_huge = true;
		}
		if (!j || !json_is_number(j)) {
			json_decref(j);
			return perr(ps, t->pos, "malformed number %s for column \"%s\" (%s)",
				    tok_show(t, buf, sizeof(buf)), col->name, strata_type_name(col->type));
		}
	} else if (t->kind == TK_STR) {
		j = json_stringn(t->text, t->text_len);
		if (!j)
			return perr(ps, t->pos, "the string for column \"%s\" is not UTF-8", col->name);
	} else if (kw(t, "true") || kw(t, "false")) {
		j = json_boolean(kw(t, "true"));
	} else if (kw(t, "null")) {
		return perr(ps, t->pos, "a comparison with NULL is never true: write \"%s\" IS NULL "
					"or IS NOT NULL",
			    col->name);
	} else {
		return perr(ps, t->pos, "expected %s for column \"%s\" (%s), got %s", want, col->name,
			    strata_type_name(col->type), tok_show(t, buf, sizeof(buf)));
	}
	/* the JSON input's road: one nullable column of col's type */
	strata_schema *one = strata_schema_new(1);
	strata_column c = {.type = col->type, .id = 1, .is_nullable = true, .key_pos = -1};
	snprintf(c.name, sizeof(c.name), "%s", col->name);
	strata_err e;
	strata_err_clear(&e);
	int rc = strata_schema_add(one, &c, &e);
	json_t *obj = json_object();
	json_object_set_new(obj, col->name, j);
	strata_row row;
	if (rc == 0)
		rc = strata_row_from_json(one, obj, ps->pr->a, &row, &e);
	json_decref(obj);
	strata_schema_free(one);
	if (rc) {
		/* the JSON reader's own words only when they add something */
		bool is_kind = strstr(e.msg, "got a JSON") != NULL;
		if (is_huge)
			return perr(ps, t->pos, "expected %s for column \"%s\" (%s), got %s: out of "
						"range for %s",
				    want, col->name, strata_type_name(col->type),
				    tok_show(t, buf, sizeof(buf)), strata_type_name(col->type));
		return perr(ps, t->pos, "expected %s for column \"%s\" (%s), got %s%s%s", want,
			    col->name, strata_type_name(col->type), tok_show(t, buf, sizeof(buf)),
			    is_kind ? "" : ": ", is_kind ? "" : e.msg);
	}
	*out = row.vals[0];
	return lex(ps);
}

static int parse_primary(parser *ps, pnode **out)
{
	tok *t = &ps->t;
	char buf[64];
	int rc;
	if (t->kind == TK_LP) {
		size_t pos = t->pos;
		if ((rc = lex(ps)) || (rc = parse_or(ps, out)))
			return rc;
		if (t->kind != TK_RP)
			return perr(ps, t->pos, "expected \")\" to close the \"(\" at position %zu, got %s",
				    pos, tok_show(t, buf, sizeof(buf)));
		return lex(ps);
	}
	int col = -1;
	if ((rc = parse_column(ps, &col)))
		return rc;
	const pcol *c = &ps->pr->cols[col];
	pnode *n;
	if (t->kind == TK_OP) {
		n = node_new(ps, N_CMP);
		n->op = t->op;
		n->col = col;
		n->lits = strata_arena_alloc(ps->pr->a, sizeof(strata_value));
		n->nlits = 1;
		if ((rc = lex(ps)) || (rc = parse_literal(ps, c, &n->lits[0])))
			return rc;
	} else if (kw(t, "is")) {
		n = node_new(ps, N_NULL);
		n->col = col;
		if ((rc = lex(ps)))
			return rc;
		if (kw(t, "not")) {
			n->is_negated = true;
			if ((rc = lex(ps)))
				return rc;
		}
		if (!kw(t, "null"))
			return perr(ps, t->pos, "expected NULL after IS%s, got %s",
				    n->is_negated ? " NOT" : "", tok_show(t, buf, sizeof(buf)));
		if ((rc = lex(ps)))
			return rc;
	} else if (kw(t, "in") || kw(t, "not")) {
		n = node_new(ps, N_IN);
		n->col = col;
		if (kw(t, "not")) {
			n->is_negated = true;
			if ((rc = lex(ps)))
				return rc;
			if (!kw(t, "in"))
				return perr(ps, t->pos, "expected IN after NOT, got %s",
					    tok_show(t, buf, sizeof(buf)));
		}
		if ((rc = lex(ps)))
			return rc;
		if (t->kind != TK_LP)
			return perr(ps, t->pos, "expected \"(\" after IN, got %s", tok_show(t, buf, sizeof(buf)));
		if ((rc = lex(ps)))
			return rc;
		size_t cap = 4;
		n->lits = strata_malloc(cap * sizeof(strata_value));
		for (;;) {
			if (n->nlits == cap) {
				cap *= 2;
				n->lits = strata_realloc(n->lits, cap * sizeof(strata_value));
			}
			if (n->nlits == PRED_MAX_LIST)
				rc = perr(ps, t->pos, "IN lists hold at most %u values", PRED_MAX_LIST);
			if (rc == 0)
				rc = parse_literal(ps, c, &n->lits[n->nlits]);
			if (rc) {
				free(n->lits);
				n->lits = NULL;
				return rc;
			}
			n->nlits++;
			if (t->kind == TK_COMMA) {
				if ((rc = lex(ps)))
					break;
				continue;
			}
			if (t->kind != TK_RP)
				rc = perr(ps, t->pos, "expected \",\" or \")\" in the IN list, got %s",
					  tok_show(t, buf, sizeof(buf)));
			break;
		}
		/* the list moves into the arena */
		strata_value *l = strata_arena_alloc(ps->pr->a, (n->nlits + 1) * sizeof(strata_value));
		if (n->nlits)
			memcpy(l, n->lits, n->nlits * sizeof(strata_value));
		free(n->lits);
		n->lits = l;
		if (rc || (rc = lex(ps)))
			return rc;
	} else {
		return perr(ps, t->pos, "expected a comparison (= != < <= > >=), IS [NOT] NULL or "
					"[NOT] IN after column \"%s\", got %s",
			    c->name, tok_show(t, buf, sizeof(buf)));
	}
	*out = n;
	return 0;
}

static int parse_not(parser *ps, pnode **out)
{
	int rc;
	if (++ps->depth > PRED_MAX_DEPTH)
		return perr(ps, ps->t.pos, "the expression nests deeper than %d", PRED_MAX_DEPTH);
	if (kw(&ps->t, "not")) {
		pnode *n = node_new(ps, N_NOT);
		if ((rc = lex(ps)) || (rc = parse_not(ps, &n->a)))
			return rc;
		*out = n;
	} else if ((rc = parse_primary(ps, out))) {
		return rc;
	}
	ps->depth--;
	return 0;
}

static int parse_and(parser *ps, pnode **out)
{
	int rc = parse_not(ps, out);
	while (rc == 0 && kw(&ps->t, "and")) {
		pnode *n = node_new(ps, N_AND);
		n->a = *out;
		if ((rc = lex(ps)) || (rc = parse_not(ps, &n->b)))
			return rc;
		*out = n;
	}
	return rc;
}

static int parse_or(parser *ps, pnode **out)
{
	int rc = parse_and(ps, out);
	while (rc == 0 && kw(&ps->t, "or")) {
		pnode *n = node_new(ps, N_OR);
		n->a = *out;
		if ((rc = lex(ps)) || (rc = parse_and(ps, &n->b)))
			return rc;
		*out = n;
	}
	return rc;
}

int strata_pred_parse(const char *text, const strata_schema *s, const strata_table_def *def,
		      strata_pred **out, strata_err *err)
{
	*out = NULL;
	size_t n = strlen(text);
	if (n > PRED_MAX_TEXT)
		return strata_err_set(err, STRATA_ELIMIT, "the predicate is %zu bytes, more than %u",
				      n, PRED_MAX_TEXT);
	strata_pred *pr = strata_calloc(1, sizeof(*pr));
	pr->a = strata_arena_new();
	pr->s = strata_schema_dup(s);
	parser ps = {.src = text, .n = n, .pr = pr, .s = s, .def = def, .err = err};
	char buf[64];
	int rc = lex(&ps);
	if (rc == 0 && ps.t.kind == TK_END)
		rc = strata_err_set(err, STRATA_EINVAL, "the predicate is empty");
	if (rc == 0)
		rc = parse_or(&ps, &pr->root);
	if (rc == 0 && ps.t.kind != TK_END)
		rc = perr(&ps, ps.t.pos, "expected AND, OR or the end, got %s",
			  tok_show(&ps.t, buf, sizeof(buf)));
	if (rc) {
		strata_pred_free(pr);
		return rc;
	}
	strata_buf names = {0};
	for (size_t i = 0; i < pr->ncols; i++)
		if (!pr->cols[i].is_part)
			strata_buf_printf(&names, "%s%s", names.len ? "," : "", pr->cols[i].name);
	strata_buf_putc(&names, 0);
	pr->col_names = strata_arena_strdup(pr->a, (const char *)names.data);
	strata_buf_free(&names);
	/* bound to the parse schema until told otherwise */
	for (size_t i = 0; i < pr->ncols; i++)
		pr->cols[i].row_idx = pr->cols[i].schema_idx;
	*out = pr;
	return 0;
}

void strata_pred_free(strata_pred *p)
{
	if (!p)
		return;
	strata_schema_free(p->s);
	free(p->cols);
	strata_arena_free(p->a);
	free(p);
}

const char *strata_pred_columns(const strata_pred *p)
{
	return p->col_names;
}

int strata_pred_bind(strata_pred *p, const strata_schema *rs, strata_err *err)
{
	for (size_t i = 0; i < p->ncols; i++) {
		pcol *c = &p->cols[i];
		if (c->is_part)
			continue;
		int idx = strata_schema_find_id(rs, p->s->cols[c->schema_idx].id);
		if (idx < 0)
			return strata_err_set(err, STRATA_EINVAL,
					      "the predicate reads column \"%s\", which the read "
					      "layout lacks",
					      c->name);
		c->row_idx = idx;
	}
	return 0;
}

/* ---- evaluation on a row --------------------------------------------------- */

static int tv_not(int x)
{
	return x == TV_N ? TV_N : x == TV_T ? TV_F : TV_T;
}

static int cmp_truth(int op, bool is_ordered, int c)
{
	if (!is_ordered) /* a NaN: only != holds */
		return op == OP_NE ? TV_T : TV_F;
	switch (op) {
	case OP_EQ: return c == 0 ? TV_T : TV_F;
	case OP_NE: return c != 0 ? TV_T : TV_F;
	case OP_LT: return c < 0 ? TV_T : TV_F;
	case OP_LE: return c <= 0 ? TV_T : TV_F;
	case OP_GT: return c > 0 ? TV_T : TV_F;
	case OP_GE: return c >= 0 ? TV_T : TV_F;
	}
	return TV_F;
}

/* The value of column c in row (NULL for null). */
static const strata_value *col_value(const pcol *c, const strata_row *row,
				     const char *const *pv, strata_value *tmp)
{
	if (c->is_part) {
		if (!pv || !pv[c->part_idx])
			return NULL;
		memset(tmp, 0, sizeof(*tmp));
		tmp->v.s.ptr = (const uint8_t *)pv[c->part_idx];
		tmp->v.s.len = (uint32_t)strlen(pv[c->part_idx]);
		return tmp;
	}
	if (c->row_idx < 0 || (uint32_t)c->row_idx >= row->ncols || row->vals[c->row_idx].is_null)
		return NULL;
	return &row->vals[c->row_idx];
}

static int eval(const strata_pred *p, const pnode *n, const strata_row *row, const char *const *pv)
{
	switch (n->kind) {
	case N_AND: {
		int a = eval(p, n->a, row, pv);
		if (a == TV_F)
			return TV_F;
		int b = eval(p, n->b, row, pv);
		return b == TV_F ? TV_F : a == TV_T && b == TV_T ? TV_T : TV_N;
	}
	case N_OR: {
		int a = eval(p, n->a, row, pv);
		if (a == TV_T)
			return TV_T;
		int b = eval(p, n->b, row, pv);
		return b == TV_T ? TV_T : a == TV_F && b == TV_F ? TV_F : TV_N;
	}
	case N_NOT:
		return tv_not(eval(p, n->a, row, pv));
	default:
		break;
	}
	const pcol *c = &p->cols[n->col];
	strata_value tmp;
	const strata_value *v = col_value(c, row, pv, &tmp);
	if (n->kind == N_NULL)
		return (v == NULL) != n->is_negated ? TV_T : TV_F;
	if (!v)
		return TV_N;
	if (n->kind == N_CMP) {
		int cr = 0;
		bool ok = value_cmp(c->type, v, &n->lits[0], &cr);
		return cmp_truth(n->op, ok, cr);
	}
	/* N_IN */
	int r = TV_F;
	for (size_t i = 0; i < n->nlits && r == TV_F; i++) {
		int cr = 0;
		if (value_cmp(c->type, v, &n->lits[i], &cr) && cr == 0)
			r = TV_T;
	}
	return n->is_negated ? tv_not(r) : r;
}

bool strata_pred_match(const strata_pred *p, const strata_row *row, const char *const *pv)
{
	return eval(p, p->root, row, pv) == TV_T;
}

/* ---- statistics (invariant 1) ------------------------------------------------ */

static unsigned set_not(unsigned s)
{
	return (s & SET_N) | (s & SET_T ? SET_F : 0) | (s & SET_F ? SET_T : 0);
}

static unsigned set_combine(unsigned a, unsigned b, bool is_and)
{
	static const unsigned bit[3] = {SET_F, SET_T, SET_N};
	unsigned r = 0;
	for (int x = 0; x < 3; x++) {
		if (!(a & bit[x]))
			continue;
		for (int y = 0; y < 3; y++) {
			if (!(b & bit[y]))
				continue;
			int v;
			if (is_and)
				v = x == TV_F || y == TV_F ? TV_F : x == TV_T && y == TV_T ? TV_T : TV_N;
			else
				v = x == TV_T || y == TV_T ? TV_T : x == TV_F && y == TV_F ? TV_F : TV_N;
			r |= bit[v];
		}
	}
	return r;
}

/* The truth values a comparison op against x can take over non-null
 * values within [mn, mx]. */
static unsigned range_cmp(strata_type t, int op, const strata_value *mn, const strata_value *mx,
			  const strata_value *x)
{
	int lo, hi; /* mn vs x, mx vs x */
	if (!value_cmp(t, mn, x, &lo) || !value_cmp(t, mx, x, &hi))
		return SET_T | SET_F;
	bool is_inside = lo <= 0 && hi >= 0, is_point = lo == 0 && hi == 0;
	unsigned r = 0;
	switch (op) {
	case OP_EQ:
		r |= is_inside ? SET_T : 0;
		r |= is_point ? 0 : SET_F;
		break;
	case OP_NE:
		r |= is_point ? 0 : SET_T;
		r |= is_inside ? SET_F : 0;
		break;
	case OP_LT:
		r |= lo < 0 ? SET_T : 0;
		r |= hi >= 0 ? SET_F : 0;
		break;
	case OP_LE:
		r |= lo <= 0 ? SET_T : 0;
		r |= hi > 0 ? SET_F : 0;
		break;
	case OP_GT:
		r |= hi > 0 ? SET_T : 0;
		r |= lo <= 0 ? SET_F : 0;
		break;
	case OP_GE:
		r |= hi >= 0 ? SET_T : 0;
		r |= lo < 0 ? SET_F : 0;
		break;
	}
	return r;
}

static unsigned stat_set(const strata_pred *p, const pnode *n, const strata_colstat *cols,
			 uint64_t rows, const char *const *pv)
{
	switch (n->kind) {
	case N_AND:
	case N_OR:
		return set_combine(stat_set(p, n->a, cols, rows, pv), stat_set(p, n->b, cols, rows, pv),
				   n->kind == N_AND);
	case N_NOT:
		return set_not(stat_set(p, n->a, cols, rows, pv));
	default:
		break;
	}
	const pcol *c = &p->cols[n->col];
	strata_colstat st;
	memset(&st, 0, sizeof(st));
	if (c->is_part) {
		if (pv && pv[c->part_idx]) { /* known exactly, never null */
			st.has_bounds = st.has_null_count = true;
			st.min.v.s.ptr = (const uint8_t *)pv[c->part_idx];
			st.min.v.s.len = (uint32_t)strlen(pv[c->part_idx]);
			st.max = st.min;
		} else {
			st.has_null_count = true; /* unknown values, never null */
		}
	} else if (cols && c->row_idx >= 0) {
		st = cols[c->row_idx];
	}
	bool has_null = !st.has_null_count || st.null_count > 0;
	/* a partition column always has its value (rows may be 0: unknown) */
	bool has_value = c->is_part || !st.has_null_count || st.null_count < rows;
	if (n->kind == N_NULL) {
		unsigned r = (has_null ? SET_T : 0) | (has_value ? SET_F : 0);
		return n->is_negated ? set_not(r) : r;
	}
	unsigned r = has_null ? SET_N : 0;
	if (!has_value)
		return r;
	bool is_known = st.has_bounds && !st.may_have_nan;
	for (size_t i = 0; is_known && i < n->nlits; i++) {
		int cr;
		is_known = value_cmp(c->type, &n->lits[i], &n->lits[i], &cr); /* a NaN literal */
	}
	if (!is_known)
		return r | SET_T | SET_F;
	if (n->kind == N_CMP)
		return r | range_cmp(c->type, n->op, &st.min, &st.max, &n->lits[0]);
	/* N_IN: true where some listed value lies in the bounds; false unless
	 * the bounds are one value, and that value is listed */
	bool is_any_in = false;
	for (size_t i = 0; i < n->nlits; i++)
		is_any_in |= (range_cmp(c->type, OP_EQ, &st.min, &st.max, &n->lits[i]) & SET_T) != 0;
	unsigned s = SET_F;
	if (is_any_in) {
		int lo, hi;
		bool is_point = value_cmp(c->type, &st.min, &st.max, &lo) && lo == 0;
		bool is_listed = false;
		for (size_t i = 0; is_point && i < n->nlits; i++)
			is_listed |= value_cmp(c->type, &st.min, &n->lits[i], &hi) && hi == 0;
		s = SET_T | (is_point && is_listed ? 0 : SET_F);
	}
	return r | (n->is_negated ? set_not(s) : s);
}

bool strata_pred_may_match(const strata_pred *p, const strata_colstat *cols, uint64_t rows,
			   const char *const *pv)
{
	return (stat_set(p, p->root, cols, rows, pv) & SET_T) != 0;
}

/* ---- the key range (invariant 2) --------------------------------------------- */

typedef struct krange {
	bool has_lo, has_hi;
	strata_buf lo, hi; /* encoded first key column values, inclusive */
} krange;

static void kr_free(krange *k)
{
	strata_buf_free(&k->lo);
	strata_buf_free(&k->hi);
}

static void kr_set(strata_buf *b, const strata_buf *src)
{
	strata_buf_reset(b);
	strata_buf_append(b, src->data, src->len);
}

/* The encoding of v as the only key column of a one-column schema: the
 * prefix a key with that first column starts with. */
static int enc_first(const strata_pred *p, const strata_value *v, strata_buf *out)
{
	const strata_column *kc = &p->s->cols[p->s->key_cols[0]];
	strata_schema *one = strata_schema_new(1);
	strata_column c = *kc;
	c.key_pos = 0;
	c.is_nullable = false;
	strata_err e;
	int rc = strata_schema_add(one, &c, &e);
	strata_value val = *v;
	val.is_null = false;
	strata_row row = {.ncols = 1, .vals = &val};
	strata_buf_reset(out);
	if (rc == 0)
		rc = strata_key_encode(one, &row, out, &e);
	strata_schema_free(one);
	return rc;
}

static int key_range_of(const strata_pred *p, const pnode *n, krange *out)
{
	memset(out, 0, sizeof(*out));
	int rc = 0;
	if (n->kind == N_AND || n->kind == N_OR) {
		krange a, b;
		rc = key_range_of(p, n->a, &a);
		if (rc == 0)
			rc = key_range_of(p, n->b, &b);
		else
			memset(&b, 0, sizeof(b));
		if (rc == 0 && n->kind == N_AND) { /* intersection */
			*out = a;
			memset(&a, 0, sizeof(a));
			if (b.has_lo && (!out->has_lo || strata_key_cmp(b.lo.data, b.lo.len, out->lo.data,
									out->lo.len) > 0)) {
				kr_set(&out->lo, &b.lo);
				out->has_lo = true;
			}
			if (b.has_hi && (!out->has_hi || strata_key_cmp(b.hi.data, b.hi.len, out->hi.data,
									out->hi.len) < 0)) {
				kr_set(&out->hi, &b.hi);
				out->has_hi = true;
			}
		} else if (rc == 0) { /* hull */
			if (a.has_lo && b.has_lo) {
				out->has_lo = true;
				kr_set(&out->lo, strata_key_cmp(a.lo.data, a.lo.len, b.lo.data, b.lo.len) < 0 ?
							 &a.lo : &b.lo);
			}
			if (a.has_hi && b.has_hi) {
				out->has_hi = true;
				kr_set(&out->hi, strata_key_cmp(a.hi.data, a.hi.len, b.hi.data, b.hi.len) > 0 ?
							 &a.hi : &b.hi);
			}
		}
		kr_free(&a);
		kr_free(&b);
		return rc;
	}
	if (n->kind != N_CMP && !(n->kind == N_IN && !n->is_negated))
		return 0;
	const pcol *c = &p->cols[n->col];
	if (c->is_part || p->s->nkeys == 0 || c->schema_idx != (int)p->s->key_cols[0])
		return 0;
	/* floats: IEEE order (-0.0 = 0.0, NaN) is not the key order */
	if (c->type == STRATA_T_DOUBLE || c->type == STRATA_T_FLOAT)
		return 0;
	if (n->kind == N_CMP && n->op == OP_NE)
		return 0;
	strata_buf e = {0};
	for (size_t i = 0; rc == 0 && i < n->nlits; i++) {
		rc = enc_first(p, &n->lits[i], &e);
		if (rc)
			break;
		bool is_lo = n->kind == N_IN || n->op == OP_EQ || n->op == OP_GT || n->op == OP_GE;
		bool is_hi = n->kind == N_IN || n->op == OP_EQ || n->op == OP_LT || n->op == OP_LE;
		if (is_lo && (!out->has_lo || strata_key_cmp(e.data, e.len, out->lo.data, out->lo.len) < 0)) {
			kr_set(&out->lo, &e);
			out->has_lo = true;
		}
		if (is_hi && (!out->has_hi || strata_key_cmp(e.data, e.len, out->hi.data, out->hi.len) > 0)) {
			kr_set(&out->hi, &e);
			out->has_hi = true;
		}
	}
	strata_buf_free(&e);
	if (rc)
		kr_free(out);
	return rc;
}

int strata_pred_key_range(const strata_pred *p, strata_buf *lo, strata_buf *hi, bool *has_lo,
			  bool *has_hi)
{
	krange k;
	*has_lo = *has_hi = false;
	if (key_range_of(p, p->root, &k) != 0)
		return 0; /* a literal that does not encode: no range, never wrong */
	if (k.has_lo) {
		kr_set(lo, &k.lo);
		*has_lo = true;
	}
	if (k.has_hi) {
		kr_set(hi, &k.hi);
		/* keys longer than the first column sort after its prefix: the
		 * bound becomes the smallest string above every such key */
		if (p->s->nkeys > 1) {
			while (hi->len && hi->data[hi->len - 1] == 0xff)
				hi->len--;
			if (hi->len) {
				hi->data[hi->len - 1]++;
				*has_hi = true;
			}
		} else {
			*has_hi = true;
		}
	}
	kr_free(&k);
	return 0;
}

/* Every key column fixed by "=" in the top-level AND chain: the key. */
static void key_point_scan(const strata_pred *p, const pnode *n, const strata_value **vals)
{
	if (n->kind == N_AND) {
		key_point_scan(p, n->a, vals);
		key_point_scan(p, n->b, vals);
		return;
	}
	if (n->kind != N_CMP || n->op != OP_EQ)
		return;
	const pcol *c = &p->cols[n->col];
	if (c->is_part || c->schema_idx < 0 || p->s->cols[c->schema_idx].key_pos < 0)
		return;
	if (c->type == STRATA_T_DOUBLE || c->type == STRATA_T_FLOAT)
		return; /* -0.0 = 0.0 but they encode apart */
	vals[p->s->cols[c->schema_idx].key_pos] = &n->lits[0];
}

bool strata_pred_key_point(const strata_pred *p, strata_buf *key)
{
	const strata_value *vals[STRATA_MAX_KEY_COLS] = {0};
	if (p->s->nkeys == 0)
		return false;
	key_point_scan(p, p->root, vals);
	for (uint32_t k = 0; k < p->s->nkeys; k++)
		if (!vals[k])
			return false;
	strata_value *rv = strata_calloc(p->s->ncols + 1, sizeof(strata_value));
	for (uint32_t i = 0; i < p->s->ncols; i++)
		rv[i].is_null = true;
	for (uint32_t k = 0; k < p->s->nkeys; k++) {
		rv[p->s->key_cols[k]] = *vals[k];
		rv[p->s->key_cols[k]].is_null = false;
	}
	strata_row row = {.ncols = p->s->ncols, .vals = rv};
	strata_err e;
	strata_buf_reset(key);
	bool ok = strata_key_encode(p->s, &row, key, &e) == 0;
	free(rv);
	return ok;
}
