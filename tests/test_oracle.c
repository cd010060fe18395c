/*
 * tests/test_oracle.c — the oracle workload of the table format core: random
 * writes (1..1000 rows, upserts and deletes, several partitions and buckets),
 * add/drop column, tokens and expected versions, deletes by a random
 * predicate, checked after every step
 * against the in-memory model (latest scan, AS OF version and timestamp,
 * gets, incremental reads) and, at the end of each table, at every version.
 *
 * ORACLE_OPS (default 10000) steps in all, spread over tables of
 * ORACLE_EPOCH (default 100) steps each so file counts stay bounded without
 * compaction; ORACLE_SEED replays a run.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_wh.h"

#include <inttypes.h>
#include <time.h>

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

static void test_oracle_workload(void)
{
	uint64_t ops = env_u64("ORACLE_OPS", 10000);
	uint64_t epoch = env_u64("ORACLE_EPOCH", 100);
	uint64_t seed = env_u64("ORACLE_SEED", (uint64_t)time(NULL));
	fprintf(stderr, "\noracle: %" PRIu64 " steps, seed %" PRIu64
			" (replay with ORACLE_SEED=%" PRIu64 ")\n",
		ops, seed, seed);
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	tu_clock_manual(1767225600000000LL); /* 2026-01-01 */
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(tu_wh_name(dir), true, &wh, &err), 0);
	uint64_t done = 0;
	int table = 0;
	while (done < ops) {
		oracle_cfg cfg;
		oracle_cfg_default(&cfg);
		cfg.seed = seed + (uint64_t)table;
		/* odd tables write every row file as a file, even ones keep the
		 * small ones inline (the default) */
		cfg.inline_max_bytes = table % 2 ? 0 : -1;
		cfg.nparts = table % 3 == 2 ? 0 : 1 + table % 3;
		cfg.buckets = 1 + table % 4;
		cfg.pdelete_permille = 5; /* deletes by predicate (LMDB and PostgreSQL): few,
					     each writes hundreds of deletes */
		char name[32];
		snprintf(name, sizeof(name), "oracle_%d", table++);
		oracle *o = oracle_new(wh, name, &cfg);
		int failed = 0;
		for (uint64_t i = 0; i < epoch && done < ops; i++, done++) {
			if (oracle_step(o)) {
				failed = 1;
				break;
			}
		}
		if (!failed)
			failed = oracle_check_all_versions(o) != 0;
		CU_ASSERT_EQUAL(failed, 0);
		oracle_free(o);
		if (failed)
			break;
	}
	fprintf(stderr, "oracle: %" PRIu64 " steps over %d tables passed\n", done, table);
	strata_wh_close(wh);
	tu_clock_real();
}

static void register_oracle(void)
{
	CU_pSuite s = CU_add_suite("oracle", NULL, NULL);
	TU_ADD(s, test_oracle_workload);
}

TU_MAIN(register_oracle)
