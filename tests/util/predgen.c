/*
 * tests/util/predgen.c — see predgen.h.
 */
#include "tests/util/predgen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_AND, K_OR, K_NOT, K_CMP, K_NULL, K_IN };
enum { T_F = 0, T_T = 1, T_N = 2 };

struct pg_node {
	int kind;
	int op; /* 0 = 1 != 2 < 3 <= 4 > 5 >= */
	bool is_negated;
	bool is_part;
	int col;  /* schema index or partition index */
	strata_type type;
	char name[STRATA_NAME_MAX + 1];
	strata_value lits[4];
	int nlits;
	pg_node *a, *b;
};

static uint64_t pg_rand(pg_ctx *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rn(pg_ctx *c, uint64_t n)
{
	return n ? pg_rand(c) % n : 0;
}

/* A literal for column (is_part, col, type): a sample's value, maybe
 * nudged; false if none can be had. */
static bool pick_lit(pg_ctx *c, const pg_node *n, strata_value *out)
{
	memset(out, 0, sizeof(*out));
	for (int tries = 0; tries < 8 && c->nrows; tries++) {
		size_t r = rn(c, c->nrows);
		if (n->is_part) {
			const char *v = c->pvs[r][n->col];
			out->v.s.ptr = (const uint8_t *)strata_arena_strdup(c->a, v);
			out->v.s.len = (uint32_t)strlen(v);
			return true;
		}
		const strata_value *v = &c->rows[r].vals[n->col];
		if (v->is_null || c->rows[r].op != STRATA_OP_UPSERT)
			continue;
		*out = *v;
		switch (n->type) {
		case STRATA_T_LONG:
		case STRATA_T_TIMESTAMP:
			if (rn(c, 3) == 0)
				out->v.i64 += (int64_t)rn(c, 5) - 2;
			break;
		case STRATA_T_INT:
			if (rn(c, 3) == 0 && out->v.i32 > INT32_MIN + 2 && out->v.i32 < INT32_MAX - 2)
				out->v.i32 += (int32_t)rn(c, 5) - 2;
			break;
		case STRATA_T_DOUBLE:
			if (isnan(out->v.f64) || isinf(out->v.f64))
				continue;
			if (rn(c, 3) == 0)
				out->v.f64 += 0.5;
			break;
		case STRATA_T_FLOAT:
			if (isnan(out->v.f32) || isinf(out->v.f32))
				continue;
			break;
		case STRATA_T_STRING:
		case STRATA_T_BYTES:
			out->v.s.ptr = strata_arena_dup(c->a, v->v.s.ptr, v->v.s.len ? v->v.s.len : 1);
			/* a prefix sorts just below; a STRING's ends between
			 * characters (literals are UTF-8, as JSON input is) */
			if (rn(c, 4) == 0 && out->v.s.len) {
				do
					out->v.s.len--;
				while (n->type == STRATA_T_STRING && out->v.s.len > 0 &&
				       (out->v.s.ptr[out->v.s.len] & 0xc0) == 0x80);
			}
			break;
		default:
			break;
		}
		return true;
	}
	return false;
}

pg_node *pg_gen(pg_ctx *c, int depth)
{
	pg_node *n = strata_calloc(1, sizeof(*n));
	uint64_t r = rn(c, 10);
	if (depth > 0 && r < 4) {
		n->kind = r < 2 ? K_AND : r < 3 ? K_OR : K_NOT;
		n->a = pg_gen(c, depth - 1);
		if (n->kind != K_NOT)
			n->b = pg_gen(c, depth - 1);
		return n;
	}
	uint32_t nparts = c->def ? c->def->nparts : 0;
	uint32_t pick = (uint32_t)rn(c, c->s->ncols + nparts);
	if (pick >= c->s->ncols) {
		n->is_part = true;
		n->col = (int)(pick - c->s->ncols);
		n->type = STRATA_T_STRING;
		snprintf(n->name, sizeof(n->name), "%s", c->def->part_cols[n->col]);
	} else {
		n->col = (int)pick;
		n->type = c->s->cols[pick].type;
		snprintf(n->name, sizeof(n->name), "%s", c->s->cols[pick].name);
	}
	r = rn(c, 10);
	if (r < 2) {
		n->kind = K_NULL;
		n->is_negated = rn(c, 2);
		return n;
	}
	if (r < 4) {
		n->kind = K_IN;
		n->is_negated = rn(c, 3) == 0;
		n->nlits = 1 + (int)rn(c, 3);
	} else {
		n->kind = K_CMP;
		n->op = (int)rn(c, 6);
		n->nlits = 1;
	}
	for (int i = 0; i < n->nlits; i++)
		if (!pick_lit(c, n, &n->lits[i])) {
			n->kind = K_NULL; /* nothing to compare with */
			n->nlits = 0;
			break;
		}
	if (n->type == STRATA_T_BOOL && n->kind == K_NULL && n->nlits == 0 && rn(c, 2)) {
		n->kind = K_CMP;
		n->nlits = 1;
		n->lits[0].v.b = rn(c, 2);
	}
	return n;
}

static void lit_text(const pg_node *n, const strata_value *v, strata_buf *out)
{
	switch (n->type) {
	case STRATA_T_LONG:
		strata_buf_printf(out, "%" PRId64, v->v.i64);
		break;
	case STRATA_T_TIMESTAMP:
		if (v->v.i64 % 2) {
			strata_buf_printf(out, "%" PRId64, v->v.i64);
		} else {
			strata_buf_putc(out, '\'');
			strata_timestamp_format(v->v.i64, out);
			strata_buf_putc(out, '\'');
		}
		break;
	case STRATA_T_INT:
		strata_buf_printf(out, "%d", v->v.i32);
		break;
	case STRATA_T_DOUBLE:
		strata_buf_printf(out, "%.17g", v->v.f64);
		break;
	case STRATA_T_FLOAT:
		strata_buf_printf(out, "%.9g", (double)v->v.f32);
		break;
	case STRATA_T_BOOL:
		strata_buf_printf(out, "%s", v->v.b ? "TRUE" : "false");
		break;
	case STRATA_T_STRING:
		strata_buf_putc(out, '\'');
		for (uint32_t i = 0; i < v->v.s.len; i++) {
			if (v->v.s.ptr[i] == '\'')
				strata_buf_putc(out, '\'');
			strata_buf_putc(out, v->v.s.ptr[i]);
		}
		strata_buf_putc(out, '\'');
		break;
	case STRATA_T_BYTES:
		strata_buf_printf(out, "x'");
		for (uint32_t i = 0; i < v->v.s.len; i++)
			strata_buf_printf(out, "%02X", v->v.s.ptr[i]);
		strata_buf_putc(out, '\'');
		break;
	}
}

void pg_text(const pg_node *n, strata_buf *out)
{
	static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
	switch (n->kind) {
	case K_AND:
	case K_OR:
		strata_buf_putc(out, '(');
		pg_text(n->a, out);
		strata_buf_printf(out, n->kind == K_AND ? " AND " : " or ");
		pg_text(n->b, out);
		strata_buf_putc(out, ')');
		return;
	case K_NOT:
		strata_buf_printf(out, "NOT ");
		pg_text(n->a, out);
		return;
	}
	strata_buf_printf(out, "\"%s\"", n->name);
	if (n->kind == K_NULL) {
		strata_buf_printf(out, n->is_negated ? " IS NOT NULL" : " is null");
		return;
	}
	if (n->kind == K_CMP) {
		strata_buf_printf(out, " %s ", ops[n->op]);
		lit_text(n, &n->lits[0], out);
		return;
	}
	strata_buf_printf(out, n->is_negated ? " NOT IN (" : " IN (");
	for (int i = 0; i < n->nlits; i++) {
		if (i)
			strata_buf_printf(out, ", ");
		lit_text(n, &n->lits[i], out);
	}
	strata_buf_putc(out, ')');
}

/* -2: unordered (NaN) */
static int cmp(strata_type t, const strata_value *x, const strata_value *y)
{
	switch (t) {
	case STRATA_T_LONG:
	case STRATA_T_TIMESTAMP:
		return x->v.i64 < y->v.i64 ? -1 : x->v.i64 > y->v.i64;
	case STRATA_T_INT:
		return x->v.i32 < y->v.i32 ? -1 : x->v.i32 > y->v.i32;
	case STRATA_T_DOUBLE:
		if (isnan(x->v.f64) || isnan(y->v.f64))
			return -2;
		return x->v.f64 < y->v.f64 ? -1 : x->v.f64 > y->v.f64;
	case STRATA_T_FLOAT:
		if (isnan(x->v.f32) || isnan(y->v.f32))
			return -2;
		return x->v.f32 < y->v.f32 ? -1 : x->v.f32 > y->v.f32;
	case STRATA_T_BOOL:
		return (int)x->v.b - (int)y->v.b;
	case STRATA_T_STRING:
	case STRATA_T_BYTES:
		for (uint32_t i = 0; i < x->v.s.len && i < y->v.s.len; i++)
			if (x->v.s.ptr[i] != y->v.s.ptr[i])
				return x->v.s.ptr[i] < y->v.s.ptr[i] ? -1 : 1;
		return x->v.s.len < y->v.s.len ? -1 : x->v.s.len > y->v.s.len;
	}
	return -2;
}

static int eval(const pg_node *n, const strata_row *row, const char *const *pv)
{
	if (n->kind == K_AND || n->kind == K_OR) {
		int a = eval(n->a, row, pv), b = eval(n->b, row, pv);
		if (n->kind == K_AND)
			return a == T_F || b == T_F ? T_F : a == T_T && b == T_T ? T_T : T_N;
		return a == T_T || b == T_T ? T_T : a == T_F && b == T_F ? T_F : T_N;
	}
	if (n->kind == K_NOT) {
		int a = eval(n->a, row, pv);
		return a == T_N ? T_N : a == T_T ? T_F : T_T;
	}
	strata_value pvv;
	const strata_value *v = NULL;
	if (n->is_part) {
		memset(&pvv, 0, sizeof(pvv));
		pvv.v.s.ptr = (const uint8_t *)pv[n->col];
		pvv.v.s.len = (uint32_t)strlen(pv[n->col]);
		v = &pvv;
	} else if (!row->vals[n->col].is_null) {
		v = &row->vals[n->col];
	}
	if (n->kind == K_NULL)
		return (v == NULL) != n->is_negated ? T_T : T_F;
	if (!v)
		return T_N;
	if (n->kind == K_CMP) {
		int c = cmp(n->type, v, &n->lits[0]);
		if (c == -2)
			return n->op == 1 ? T_T : T_F;
		bool r = n->op == 0 ? c == 0 : n->op == 1 ? c != 0 : n->op == 2 ? c < 0 :
			 n->op == 3 ? c <= 0 : n->op == 4 ? c > 0 : c >= 0;
		return r ? T_T : T_F;
	}
	bool is_in = false;
	for (int i = 0; i < n->nlits; i++)
		is_in |= cmp(n->type, v, &n->lits[i]) == 0;
	return is_in != n->is_negated ? T_T : T_F;
}

bool pg_match(const pg_node *n, const strata_row *row, const char *const *pv)
{
	return eval(n, row, pv) == T_T;
}

void pg_free(pg_node *n)
{
	if (!n)
		return;
	pg_free(n->a);
	pg_free(n->b);
	free(n);
}
