/*
 * tests/test_throttle.c — the I/O token bucket behind io.max_mb_s.
 *
 * Time is a parameter, so every case is exact: the burst, the debt a charge
 * leaves, a clock that goes backwards, a rate change that keeps the debt,
 * and a simulation of several jobs charging chunks in turn whose total over
 * ten seconds must stay within burst + rate x time.
 */
#include "tests/util/testutil.h"

#include "daemon/daemon.h"

#include <pthread.h>

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

static stratad_tbucket *shared;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++)
		CU_ASSERT_EQUAL(stratad_tbucket_take(shared, 4096, strata_mono_us()), 0);
	return NULL;
}

static void test_threads(void)
{
	shared = stratad_tbucket_new(0, strata_mono_us());
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	stratad_tbucket_free(shared);
}

static void register_throttle(void)
{
	CU_pSuite s = CU_add_suite("throttle", NULL, NULL);
	TU_ADD(s, test_cases);
	TU_ADD(s, test_rate_bound);
	TU_ADD(s, test_threads);
}

TU_MAIN(register_throttle)
