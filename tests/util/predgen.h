/*
 * tests/util/predgen.h — random predicates for the predicate suites, with
 * the test's own evaluator: a generated tree renders to the text of
 * `--where` (table/pred.c's grammar) and evaluates on a row by its own
 * code (SQL three-valued logic, IEEE floats, bytewise strings), so a scan
 * with the predicate can be checked against filtering a full scan here,
 * independently of table/pred.c.
 *
 * Literals come from sample rows (so equality and IN find rows) or are
 * nudged from them; columns from a schema (every type) and the partition
 * columns (STRING).
 */
#ifndef STRATA_PREDGEN_H
#define STRATA_PREDGEN_H

#include "table/table.h"

typedef struct pg_node pg_node;

typedef struct pg_ctx {
	uint64_t rng;
	const strata_schema *s;      /* the columns predicates may name */
	const strata_table_def *def; /* partition columns (may be NULL) */
	/* sample rows in s's layout with their partition values */
	const strata_row *rows;
	const char *const *const *pvs;
	size_t nrows;
	strata_arena *a;             /* literals live here */
} pg_ctx;

/* A random predicate of at most depth levels of AND/OR/NOT. */
pg_node *pg_gen(pg_ctx *c, int depth);
/* Append its text. */
void pg_text(const pg_node *n, strata_buf *out);
/* Whether it is true for row (layout of c->s) in partition pv. */
bool pg_match(const pg_node *n, const strata_row *row, const char *const *pv);
void pg_free(pg_node *n);

#endif
