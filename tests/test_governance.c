/*
 * tests/test_governance.c — the oracle with governance: random sort, merge,
 * partial and major compaction (some dropping history), clean, purge, tags
 * and clock jumps of minutes to hours, interleaved with writes, DDL,
 * rollbacks, partition drops and deletes by predicate.
 * After every step: reads at the latest and random versions (AS OF version,
 * timestamp, tag), gets and incremental reads equal the model; the earliest
 * readable version never enters the retention window (the promise); after
 * every clean the data directory holds exactly the files the manifest knows.
 *
 * GOV_OPS (default 10000) mixed steps over tables of GOV_EPOCH (default
 * 250) steps; ORACLE_SEED replays.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"

#include "clean/clean.h"

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : def;
}

static void test_governance_oracle(void)
{
	uint64_t ops = env_u64("GOV_OPS", 10000);
	uint64_t epoch = env_u64("GOV_EPOCH", 250);
	uint64_t seed = env_u64("ORACLE_SEED", (uint64_t)time(NULL));
	fprintf(stderr, "\ngovernance oracle: %" PRIu64 " steps, seed %" PRIu64
			" (replay with ORACLE_SEED=%" PRIu64 ")\n",
		ops, seed, seed);
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	uint64_t done = 0;
	int table = 0;
	oracle_gov_stats total = {0};
	while (done < ops) {
		oracle_cfg cfg;
		oracle_cfg_default(&cfg);
		cfg.seed = seed + (uint64_t)table;
		cfg.nparts = table % 3 == 2 ? 0 : 1 + table % 2;
		cfg.buckets = 1 + table % 3;
		cfg.nkeys = 150;
		cfg.max_txn_rows = 300;
		cfg.retain_hours = table % 4 == 0 ? 0 : table % 4 == 3 ? 24 : 1;
		cfg.rollback_permille = 15;
		cfg.drop_permille = cfg.nparts ? 10 : 0;
		cfg.pdelete_permille = 30;
		char name[32];
		snprintf(name, sizeof(name), "gov_%d", table++);
		oracle *o = oracle_new(wh, name, &cfg);
		int failed = 0;
		for (uint64_t i = 0; i < epoch && done < ops; i++, done++) {
			uint64_t r = oracle_rand(o) % 100;
			if ((r < 55 ? oracle_step(o) : oracle_gov_step(o)) != 0) {
				failed = 1;
				break;
			}
		}
		if (!failed)
			failed = oracle_check_all_versions(o) != 0 || oracle_check_files(o) != 0;
		const oracle_gov_stats *gs = oracle_gov_get_stats(o);
		total.sorts += gs->sorts;
		total.merges += gs->merges;
		total.partials += gs->partials;
		total.majors += gs->majors;
		total.drop_history += gs->drop_history;
		total.cleans += gs->cleans;
		total.purges += gs->purges;
		total.tags_made += gs->tags_made;
		total.clock_jumps += gs->clock_jumps;
		total.files_deleted += gs->files_deleted;
		total.versions_expired += gs->versions_expired;
		total.rollbacks += gs->rollbacks;
		total.drops += gs->drops;
		total.pdeletes += gs->pdeletes;
		total.pdeleted_keys += gs->pdeleted_keys;
		CU_ASSERT_EQUAL(failed, 0);
		oracle_free(o);
		if (failed)
			break;
	}
	fprintf(stderr,
		"governance oracle: %" PRIu64 " steps over %d tables: %" PRIu64 " sorts, %" PRIu64
		" merges, %" PRIu64 " partial and %" PRIu64 " major compactions (%" PRIu64
		" dropping history), %" PRIu64 " cleans (%" PRIu64 " files deleted, %" PRIu64
		" versions expired), %" PRIu64 " purges, %" PRIu64 " tags, %" PRIu64
		" clock jumps, %" PRIu64 " rollbacks, %" PRIu64 " partition drops, %" PRIu64
		" deletes --where (%" PRIu64 " keys)\n",
		done, table, total.sorts, total.merges, total.partials, total.majors,
		total.drop_history, total.cleans, total.files_deleted, total.versions_expired,
		total.purges, total.tags_made, total.clock_jumps, total.rollbacks, total.drops,
		total.pdeletes, total.pdeleted_keys);
	strata_wh_close(wh);
	tu_clock_real();
}

/* Bug fix (found by stratad's tests under UBSan): the orphan scan of a table
 * with no file entries sorted and searched an empty name list through
 * qsort(NULL, 0)/bsearch(NULL, 0), which UBSan rejects.  The scan must work
 * there and still move an old stray file into the trash. */
static void test_orphan_scan_of_empty_table(void)
{
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_table_create(wh, "empty", "pk BIGINT NOT NULL PRIMARY KEY", NULL,
						  NULL, NULL, 0, &err), 0);
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.orphan_age_s = 0;
	o.orphan_max_fraction = 1; /* the stray is all of the table's bytes */
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(wh, "empty", &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 0);
	char stray[4096];
	snprintf(stray, sizeof(stray), "%s/data/empty/_/b0000", dir);
	CU_ASSERT_EQUAL_FATAL(strata_io_mkdirs(stray, 0755), 0);
	snprintf(stray, sizeof(stray), "%s/data/empty/_/b0000/stray.parquet", dir);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(stray, "x", 1), 0);
	CU_ASSERT_EQUAL(strata_clean_table(wh, "empty", &o, &r, &err), 0);
	CU_ASSERT_EQUAL(r.orphans, 1);
	CU_ASSERT_NOT_EQUAL(access(stray, F_OK), 0);
	strata_wh_close(wh);
}

static void register_governance(void)
{
	CU_pSuite s = CU_add_suite("governance", NULL, NULL);
	TU_ADD(s, test_governance_oracle);
	TU_ADD(s, test_orphan_scan_of_empty_table);
}

TU_MAIN(register_governance)
