/*
 * tests/test_throttle.c — the I/O token bucket behind io.max_mb_s.
 *
 * Time is a parameter, so every case is exact: the burst, the debt a charge
 * leaves, a clock that goes backwards, a rate change that keeps the debt,
 * and a simulation of several jobs charging chunks in turn whose total over
 * ten seconds must stay within burst + rate x time.  And threads charging
 * one bucket at once lose no charge (test_threads fails with the bucket's
 * lock removed).
 */
#include "tests/util/testutil.h"

#include "daemon/daemon.h"

#include <pthread.h>
#include <sched.h>

#define MiB (1ull << 20)
#define S 1000000ll
#define T0 1000000000ll

typedef struct step {
	int64_t at_us;   /* relative to T0 */
	uint64_t bytes;
	double set_rate; /* > 0 or -1: change the rate first (-2: set to 0) */
	int64_t want_wait_us;
} step;

typedef struct tcase {
	const char *name;
	double rate;
	step steps[8];
	int n;
} tcase;

static const tcase cases[] = {
	{"unlimited never waits", 0, {{0, 1ull << 40, 0, 0}, {0, 1ull << 40, 0, 0}}, 2},
	{"the first second's worth goes at once, the next waits",
	 1, {{0, MiB, 0, 0}, {0, MiB, 0, S}, {S, MiB / 2, 0, S / 2}}, 3},
	{"idle time banks at most the burst", 1, {{100 * S, 3 * MiB, 0, 2 * S}}, 1},
	{"a clock going backwards adds nothing",
	 1, {{10 * S, MiB, 0, 0}, {0, MiB, 0, S}}, 2},
	{"a rate change keeps the debt", 1, {{0, 3 * MiB, 0, 2 * S}, {0, 0, 2, S}}, 2},
	{"below 1 MiB/s the burst is still 1 MiB",
	 0.25, {{0, MiB, 0, 0}, {0, MiB / 4, 0, S}}, 2},
	{"setting 0 clears the debt", 1, {{0, 5 * MiB, 0, 4 * S}, {0, MiB, -2, 0}}, 2},
};

static void test_cases(void)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		const tcase *c = &cases[i];
		stratad_tbucket *tb = stratad_tbucket_new(c->rate, T0);
		for (int k = 0; k < c->n; k++) {
			const step *s = &c->steps[k];
			if (s->set_rate > 0)
				stratad_tbucket_set_rate(tb, s->set_rate, T0 + s->at_us);
			else if (s->set_rate == -2)
				stratad_tbucket_set_rate(tb, 0, T0 + s->at_us);
			int64_t w = stratad_tbucket_take(tb, s->bytes, T0 + s->at_us);
			if (w != s->want_wait_us)
				fprintf(stderr, "\n%s, step %d: waited %lld us, want %lld\n", c->name, k,
					(long long)w, (long long)s->want_wait_us);
			CU_ASSERT_EQUAL(w, s->want_wait_us);
		}
		stratad_tbucket_free(tb);
	}
}

/* Four jobs charge 256 KiB chunks and do them when told; over ten seconds
 * the bytes done stay within burst + rate x time and above rate x time minus
 * what is still owed. */
static void test_rate_bound(void)
{
	const double rate = 3; /* MiB/s */
	const uint64_t chunk = 256 << 10;
	stratad_tbucket *tb = stratad_tbucket_new(rate, T0);
	int64_t ready[4] = {T0, T0, T0, T0};
	uint64_t done = 0;
	const int64_t end = T0 + 10 * S;
	for (;;) {
		int who = 0;
		for (int i = 1; i < 4; i++)
			if (ready[i] < ready[who])
				who = i;
		if (ready[who] >= end)
			break;
		int64_t w = stratad_tbucket_take(tb, chunk, ready[who]);
		ready[who] += w;
		if (ready[who] <= end)
			done += chunk;
	}
	double limit = rate * MiB * 10 + rate * MiB; /* rate x time + burst */
	CU_ASSERT((double)done <= limit);
	CU_ASSERT((double)done >= rate * MiB * 10 - 4.0 * chunk);
	stratad_tbucket_free(tb);
}

/* ---- threads ------------------------------------------------------------------- */

/* Two threads charge one bucket at one fixed instant (so nothing refills
 * and every charge is exact), in lockstep: before each charge both wait
 * for the other at a spinning barrier, so on two cores their charges
 * overlap to the nanosecond, round after round.  Every 64 rounds the first
 * also sets the same rate again (invariant 3 keeps the debt).  Under the
 * lock every charge sees the debt of all charges before it: the waits
 * returned are exactly k x chunk / rate for k = 1 .. N, each once, and the
 * debt left is N charges.  Without the lock the read-modify-writes of the
 * tokens overlap: charges are lost (the debt is short) or two see the same
 * debt (a wait repeats): with the lock removed it failed 40 runs of 40 on
 * two cores (on one core the threads rarely interleave inside a charge).
 * The threads only record; every assert is on the main thread (CUnit is not
 * thread-safe). */
#define TH_N 2
#define TH_ROUNDS 20000
#define TH_CHUNK 4096
#define TH_RATE 1.0 /* MiB/s */

typedef struct th_arg {
	stratad_tbucket *tb;
	unsigned *arrived; /* atomic: arrivals at the lockstep barrier so far */
	int64_t *waits;    /* TH_ROUNDS */
	bool is_setter;
} th_arg;

static void *th_take(void *p)
{
	th_arg *a = p;
	for (unsigned r = 0; r < TH_ROUNDS; r++) {
		__atomic_fetch_add(a->arrived, 1, __ATOMIC_ACQ_REL);
		for (unsigned spins = 0;
		     __atomic_load_n(a->arrived, __ATOMIC_ACQUIRE) < TH_N * (r + 1); spins++)
			if (spins > 1000)
				sched_yield(); /* the other is not running: let it */
		a->waits[r] = stratad_tbucket_take(a->tb, TH_CHUNK, T0);
		if (a->is_setter && r % 64 == 0)
			stratad_tbucket_set_rate(a->tb, TH_RATE, T0);
	}
	return NULL;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static void test_threads(void)
{
	stratad_tbucket *tb = stratad_tbucket_new(TH_RATE, T0);
	/* empty the burst first, so every threaded charge adds debt */
	CU_ASSERT_EQUAL_FATAL(stratad_tbucket_take(tb, MiB, T0), 0);
	unsigned arrived = 0;
	int64_t *waits = strata_calloc((size_t)TH_N * TH_ROUNDS, sizeof(int64_t));
	th_arg args[TH_N];
	pthread_t th[TH_N];
	int started = 0;
	for (int i = 0; i < TH_N; i++) {
		args[i] = (th_arg){tb, &arrived, waits + (size_t)i * TH_ROUNDS, i == 0};
		if (pthread_create(&th[i], NULL, th_take, &args[i]) == 0)
			started++;
	}
	CU_ASSERT_EQUAL_FATAL(started, TH_N); /* else the lockstep would never end */
	for (int i = 0; i < TH_N; i++)
		pthread_join(th[i], NULL);

	/* every charge counted: the debt is all of them (a zero charge reads it) */
	const double us_per_byte = 1e6 / (TH_RATE * MiB);
	const size_t n = (size_t)TH_N * TH_ROUNDS;
	int64_t debt_us = stratad_tbucket_take(tb, 0, T0);
	int64_t want_us = (int64_t)((double)n * TH_CHUNK * us_per_byte + 0.5);
	if (debt_us != want_us)
		fprintf(stderr, "\nthreads: a debt of %lld us, want %lld (charges were lost)\n",
			(long long)debt_us, (long long)want_us);
	CU_ASSERT_EQUAL(debt_us, want_us);
	/* each charge saw all before it: the waits are k x chunk for k = 1..n */
	qsort(waits, n, sizeof(int64_t), cmp_i64);
	size_t bad = 0;
	for (size_t k = 0; k < n; k++) {
		int64_t want = (int64_t)((double)(k + 1) * TH_CHUNK * us_per_byte + 0.5);
		if (waits[k] != want && bad++ < 3)
			fprintf(stderr, "\nthreads: wait %zu is %lld us, want %lld\n", k,
				(long long)waits[k], (long long)want);
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(waits);
	stratad_tbucket_free(tb);
}

static void register_throttle(void)
{
	CU_pSuite s = CU_add_suite("throttle", NULL, NULL);
	TU_ADD(s, test_cases);
	TU_ADD(s, test_rate_bound);
	TU_ADD(s, test_threads);
}

TU_MAIN(register_throttle)
