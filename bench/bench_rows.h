/*
 * bench/bench_rows.h — the row every job benchmark writes (bench_jobs,
 * bench_workers): MEASURED.md's ten-column shape (pk BIGINT, a BIGINT, b INT,
 * c DOUBLE, d STRING ~10 B, e STRING 8 B, f BOOLEAN, g DOUBLE, h STRING 32 B),
 * each value a deterministic function of the key and a salt (the commit),
 * so two runs and two benchmarks write the same data.  Header-only: every
 * benchmark is one .c linked with libstrata.a.
 */
#ifndef STRATA_BENCH_ROWS_H
#define STRATA_BENCH_ROWS_H

#include "format/format.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NCOLS 9

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

typedef struct gen_row {
	strata_value vals[NCOLS];
	char d[16], e[16], h[40];
	strata_row row;
} gen_row;

/* The row of key pk written by commit `salt` (values as in bench_parquet). */
static void gen(gen_row *g, int64_t pk, uint64_t salt, bool is_delete)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t st = mix64((uint64_t)pk * 0x2545f4914f6cdd1dull ^ salt);
#define R() (st = mix64(st))
	memset(g->vals, 0, sizeof(g->vals));
	g->row.seq = 0;
	g->row.ncols = NCOLS;
	g->row.vals = g->vals;
	g->vals[0].v.i64 = pk;
	if (is_delete) {
		g->row.op = STRATA_OP_DELETE;
		for (int i = 1; i < NCOLS; i++)
			g->vals[i].is_null = true;
		return;
	}
	g->row.op = STRATA_OP_UPSERT;
	g->vals[1].v.i64 = (int64_t)(R() % 1000000);
	g->vals[2].v.i32 = (int32_t)(R() % 1000);
	g->vals[3].v.f64 = (double)(R() >> 11) / 9007199254740992.0 * 1000.0;
	int dl = snprintf(g->d, sizeof(g->d), "cust%llu", (unsigned long long)(R() % 50000));
	g->vals[4].v.s.ptr = (const uint8_t *)g->d;
	g->vals[4].v.s.len = (uint32_t)dl;
	snprintf(g->e, sizeof(g->e), "cat%05llu", (unsigned long long)(R() % 200));
	g->vals[5].v.s.ptr = (const uint8_t *)g->e;
	g->vals[5].v.s.len = 8;
	g->vals[6].v.b = R() & 1;
	g->vals[7].v.f64 = (double)(R() % 100000) / 100.0;
	uint64_t h1 = R(), h2 = R();
	for (int k = 0; k < 16; k++) {
		g->h[k] = hex[(h1 >> (4 * k)) & 15];
		g->h[16 + k] = hex[(h2 >> (4 * k)) & 15];
	}
	g->vals[8].v.s.ptr = (const uint8_t *)g->h;
	g->vals[8].v.s.len = 32;
#undef R
}

#endif
