/*
 * tests/test_concurrency.c — writers and jobs at the same time.
 *
 * The main thread runs the oracle's writer (transactions and DDL, checked
 * after every commit); two job threads run random sort, merge, partial and
 * major compactions and cleans on the same buckets as fast as they can.
 * Jobs plan before they claim, so two of them racing on one bucket produce
 * real conflicts (the later commit finds its inputs gone) and claims produce
 * EBUSY; DDL produces schema conflicts.  All must be reported as such, and
 * at the end every version must still read exactly as the model says and
 * the data directory must hold only files the manifest knows.
 */
#include "tests/util/oracle.h"
#include "tests/util/testutil.h"

#include "clean/clean.h"
#include "compact/compact.h"
#include "sort/sort.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct job_thread {
	strata_wh *wh;
	const char *table;
	unsigned seed;
	atomic_int *stop;
	uint64_t ok, conflicts, busy, errors, cleans;
	char last_error[STRATA_ERR_MSG_MAX];
} job_thread;

static void *job_main(void *arg)
{
	job_thread *jt = arg;
	char owner[64];
	snprintf(owner, sizeof(owner), "jobthread@test:%u", jt->seed);
	strata_job_ctl ctl = {.owner = owner};
	while (!atomic_load(jt->stop)) {
		unsigned r = (unsigned)rand_r(&jt->seed) % 100;
		strata_err err;
		strata_err_clear(&err);
		if (r < 10) {
			strata_clean_opts co;
			strata_clean_opts_default(&co);
			co.grace_s = 1;
			co.trash_s = 5;
			co.orphan_age_s = 3600; /* writers are in flight */
			strata_clean_result cr;
			int crc = strata_clean_table(jt->wh, jt->table, &co, &cr, &err);
			if (crc == 0)
				jt->cleans++;
			else if (crc == STRATA_ECONFLICT)
				jt->conflicts++;
			else if (crc == STRATA_EBUSY)
				jt->busy++; /* the other thread is cleaning */
			else {
				jt->errors++;
				snprintf(jt->last_error, sizeof(jt->last_error), "clean: %s", err.msg);
			}
			continue;
		}
		const char *part = (rand_r(&jt->seed) % 2) ? "pt=p0" : "pt=p1";
		uint32_t bucket = (uint32_t)rand_r(&jt->seed) % 2;
		strata_bucket_view v;
		int rc = strata_bucket_view_load(jt->wh, jt->table, part, bucket, strata_now_us(), &v,
						 &err);
		if (rc == STRATA_ENOTFOUND)
			continue; /* partition not written yet */
		if (rc) {
			jt->errors++;
			snprintf(jt->last_error, sizeof(jt->last_error), "view: %s", err.msg);
			continue;
		}
		strata_job_plan plan;
		if (r < 45)
			strata_sort_plan(&v, 0, &plan);
		else if (r < 65)
			strata_merge_plan(&v, -1, 0, 4, 0, &plan);
		else if (r < 85)
			strata_compact_partial_plan(&v, &plan);
		else
			strata_compact_major_plan(&v, false, &plan);
		/* widen the race window between planning and claiming */
		if (rand_r(&jt->seed) % 2) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
		strata_job_result res;
		rc = strata_job_execute(jt->wh, &v, &plan, &ctl, &res, &err);
		strata_bucket_view_free(&v);
		if (rc == 0)
			jt->ok++;
		else if (rc == STRATA_ECONFLICT)
			jt->conflicts++;
		else if (rc == STRATA_EBUSY)
			jt->busy++;
		else {
			jt->errors++;
			snprintf(jt->last_error, sizeof(jt->last_error), "job: %s", err.msg);
		}
	}
	return NULL;
}

static void test_writers_and_jobs(void)
{
	const char *s = getenv("CONC_STEPS");
	uint64_t steps = s && *s ? strtoull(s, NULL, 10) : 600;
	const char *sd = getenv("ORACLE_SEED");
	uint64_t seed = sd && *sd ? strtoull(sd, NULL, 10) : (uint64_t)time(NULL);
	fprintf(stderr, "\nconcurrency: %" PRIu64 " writer steps, seed %" PRIu64 "\n", steps, seed);
	const char *dir = tu_tmpdir();
	strata_wh *wh;
	strata_err err;
	tu_clock_manual(1767225600000000LL);
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(dir, true, &wh, &err), 0);
	oracle_cfg cfg;
	oracle_cfg_default(&cfg);
	cfg.seed = seed;
	cfg.nparts = 2;
	cfg.buckets = 2;
	cfg.nkeys = 200;
	cfg.max_txn_rows = 200;
	cfg.ddl_permille = 20;
	cfg.retain_hours = 1; /* the clock stays inside the window: every version stays readable */
	oracle *o = oracle_new(wh, "conc", &cfg);
	atomic_int stop = 0;
	job_thread jt[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		memset(&jt[i], 0, sizeof(jt[i]));
		jt[i].wh = wh;
		jt[i].table = "conc";
		jt[i].seed = (unsigned)(seed * 7 + (uint64_t)i);
		jt[i].stop = &stop;
		pthread_create(&th[i], NULL, job_main, &jt[i]);
	}
	int failed = 0;
	for (uint64_t i = 0; i < steps && !failed; i++)
		failed = oracle_step(o) != 0;
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(failed, 0);
	uint64_t ok = 0, conflicts = 0, busy = 0, errors = 0, cleans = 0;
	for (int i = 0; i < 2; i++) {
		ok += jt[i].ok;
		conflicts += jt[i].conflicts;
		busy += jt[i].busy;
		errors += jt[i].errors;
		cleans += jt[i].cleans;
		if (jt[i].errors)
			fprintf(stderr, "concurrency: job thread %d error: %s\n", i, jt[i].last_error);
	}
	fprintf(stderr,
		"concurrency: %" PRIu64 " jobs committed, %" PRIu64 " conflicts, %" PRIu64
		" busy, %" PRIu64 " cleans, %" PRIu64 " errors\n",
		ok, conflicts, busy, cleans, errors);
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT(ok > 0);
	CU_ASSERT(conflicts + busy > 0); /* the race was real */
	oracle_note_version(o, oracle_version(o));
	/* the clock stayed inside the one-hour window and nothing dropped history
	 * on purpose: every version must still be readable (the promise) */
	uint64_t readable = 0, inc = 0;
	CU_ASSERT_EQUAL(strata_table_earliest(wh, "conc", &readable, &inc, &err), 0);
	CU_ASSERT_EQUAL(readable, 1);
	if (readable != 1)
		fprintf(stderr, "concurrency: earliest readable version is %" PRIu64 ", want 1\n",
			readable);
	if (!failed) {
		CU_ASSERT_EQUAL(oracle_check_all_versions(o), 0);
		CU_ASSERT_EQUAL(oracle_check_random_reads(o, 50), 0);
	}
	oracle_free(o);
	strata_wh_close(wh);
	tu_clock_real();
}

static void register_concurrency(void)
{
	CU_pSuite s = CU_add_suite("concurrency", NULL, NULL);
	TU_ADD(s, test_writers_and_jobs);
}

TU_MAIN(register_concurrency)
