/*
 * daemon/throttle.c — the token bucket that caps job I/O at io.max_mb_s.
 *
 * Every job's throttle callback (strata_job_ctl.throttle, about once per MiB)
 * and clean's (once per file it unlinks) charge the bytes they just did here
 * and sleep for the wait it returns.  The bucket refills at the rate, holds at
 * most one second's worth (at least 1 MiB) so an idle daemon cannot bank a
 * burst, and goes negative to queue charges: a caller that finds debt waits
 * until the debt, its own charge included, has been paid off at the rate.
 * Over any interval the bytes charged are at most burst + rate x interval.
 *
 *   tokens(t) = min(burst, tokens(t0) + rate x (t - t0))
 *   take(n):  tokens -= n;  wait = tokens >= 0 ? 0 : -tokens / rate
 *
 * Invariants:
 *   1. a rate of 0 never makes anyone wait and keeps no debt;
 *   2. a clock going backwards adds no tokens;
 *   3. changing the rate keeps the current debt (paid at the new rate).
 * Thread safety: every function may be called from any thread.
 */
#include "daemon/daemon.h"

#include <pthread.h>
#include <stdlib.h>

#define TB_MIB 1048576.0
#define TB_BURST_S 1.0
#define TB_BURST_MIN_BYTES TB_MIB

struct stratad_tbucket {
	pthread_mutex_t mu;
	double rate_bps; /* bytes per second; 0: unlimited */
	double tokens;
	double burst;
	int64_t last_us;
};

static void tb_configure(stratad_tbucket *tb, double mib_s)
{
	tb->rate_bps = mib_s > 0 ? mib_s * TB_MIB : 0;
	tb->burst = tb->rate_bps * TB_BURST_S;
	if (tb->burst < TB_BURST_MIN_BYTES)
		tb->burst = TB_BURST_MIN_BYTES;
	if (tb->rate_bps == 0)
		tb->tokens = tb->burst; /* invariant 1 */
	else if (tb->tokens > tb->burst)
		tb->tokens = tb->burst;
}

stratad_tbucket *stratad_tbucket_new(double mib_s, int64_t now_us)
{
	stratad_tbucket *tb = strata_calloc(1, sizeof(*tb));
	pthread_mutex_init(&tb->mu, NULL);
	tb_configure(tb, mib_s);
	tb->tokens = tb->burst;
	tb->last_us = now_us;
	return tb;
}

void stratad_tbucket_free(stratad_tbucket *tb)
{
	if (!tb)
		return;
	pthread_mutex_destroy(&tb->mu);
	free(tb);
}

static void tb_refill(stratad_tbucket *tb, int64_t now_us)
{
	if (now_us > tb->last_us) { /* invariant 2 */
		tb->tokens += tb->rate_bps * (double)(now_us - tb->last_us) / 1e6;
		if (tb->tokens > tb->burst)
			tb->tokens = tb->burst;
		tb->last_us = now_us;
	}
}

void stratad_tbucket_set_rate(stratad_tbucket *tb, double mib_s, int64_t now_us)
{
	pthread_mutex_lock(&tb->mu);
	tb_refill(tb, now_us);
	tb_configure(tb, mib_s); /* invariant 3 */
	pthread_mutex_unlock(&tb->mu);
}

int64_t stratad_tbucket_take(stratad_tbucket *tb, uint64_t n, int64_t now_us)
{
	pthread_mutex_lock(&tb->mu);
	int64_t wait = 0;
	if (tb->rate_bps > 0) {
		tb_refill(tb, now_us);
		tb->tokens -= (double)n;
		if (tb->tokens < 0)
			wait = (int64_t)(-tb->tokens / tb->rate_bps * 1e6 + 0.5);
	}
	pthread_mutex_unlock(&tb->mu);
	return wait;
}
