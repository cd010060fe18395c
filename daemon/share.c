/*
 * daemon/share.c — splitting the planning work among the stratad of one
 * warehouse.
 *
 * Every stratad records a heartbeat in the manifest's lease store (the
 * catalog's UNLOGGED table on PostgreSQL) at every scan and at least every
 * third of peer_ttl_s, and reads the live ones (heartbeats younger than
 * peer_ttl_s by the store's clock).  Each bucket, and each table's clean,
 * belongs to one of them by rendezvous hashing (highest random weight):
 * the daemon whose hash of (owner, table id, partition id, bucket) is the
 * largest.  A daemon plans and runs only what it owns, so N daemons do not
 * plan everything N times, and when one stops (it removes its heartbeat) or
 * dies (its heartbeat expires within peer_ttl_s) only its share moves, to
 * the others, at their next scan.
 *
 * Invariants:
 *   1. the share is advisory: claims in the manifest (fenced by the
 *      commit's own check) keep two daemons from running two jobs on one
 *      bucket while their views of who is alive differ;
 *   2. a daemon that cannot read the peers (or is alone) owns everything;
 *      it never owns nothing because of an error;
 *   3. a change of the peer set bumps share_gen, and every table is planned
 *      again at the next scan (scan_step compares it).
 */
#include "daemon/daemon_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static uint64_t weight(const char *owner, uint32_t table_id, uint32_t part_id, uint32_t bucket)
{
	uint8_t buf[sizeof(((strata_daemon_rec *)0)->owner) + 12];
	size_t n = strnlen(owner, sizeof(buf) - 12);
	uint32_t k[3] = {table_id, part_id, bucket};
	memcpy(buf, owner, n);
	memcpy(buf + n, k, sizeof(k));
	return XXH64(buf, n + sizeof(k), 0x5eed);
}

const char *d_share_owner(const stratad *d, uint32_t table_id, uint32_t part_id, uint32_t bucket)
{
	if (d->npeers <= 1)
		return d->owner; /* invariant 2 */
	size_t best = 0;
	uint64_t best_w = 0;
	for (size_t i = 0; i < d->npeers; i++) {
		uint64_t w = weight(d->peers[i].owner, table_id, part_id, bucket);
		if (i == 0 || w > best_w) {
			best = i;
			best_w = w;
		}
	}
	return d->peers[best].owner;
}

bool d_share_mine(const stratad *d, uint32_t table_id, uint32_t part_id, uint32_t bucket)
{
	return strcmp(d_share_owner(d, table_id, part_id, bucket), d->owner) == 0;
}

static int64_t peer_ttl_us(const stratad *d)
{
	return d->cfg->d.peer_ttl_s * D_US;
}

void d_share_beat(stratad *d, bool is_forced)
{
	int64_t mono = strata_mono_us();
	if (!d->wh || (!is_forced && mono - d->beat_mono_us < peer_ttl_us(d) / 3))
		return;
	d->beat_mono_us = mono;
	strata_mf *mf = strata_wh_mf(d->wh);
	strata_daemon_rec self = {.pid = getpid(), .started_us = d->started_us};
	snprintf(self.owner, sizeof(self.owner), "%s", d->owner);
	if (gethostname(self.host, sizeof(self.host) - 1) != 0)
		self.host[0] = '\0';
	snprintf(self.info, sizeof(self.info), "%zu of %zu buckets", d->share_mine,
		 d->share_total);
	strata_err err;
	strata_err_clear(&err);
	if (strata_mf_daemon_beat(mf, &self, peer_ttl_us(d), NULL, &err) != 0) {
		if (!d->beat_failed)
			LOG_WARN("could not record this daemon's heartbeat (planning everything; claims "
				 "keep jobs apart): %s",
				 err.msg);
		d->beat_failed = true;
		return;
	}
	d->beat_failed = false;
	strata_arena *a = strata_arena_new();
	strata_daemon_rec *peers = NULL;
	size_t n = 0;
	if (strata_mf_daemons_list(mf, a, &peers, &n, &err) != 0) {
		LOG_WARN("could not list the daemons of the warehouse: %s", err.msg);
		n = 0;
	}
	/* invariant 3: a new peer set re-plans every table */
	bool is_same = n == d->npeers;
	for (size_t i = 0; i < n && is_same; i++)
		is_same = strcmp(peers[i].owner, d->peers[i].owner) == 0;
	if (!is_same) {
		d->peers = strata_realloc(d->peers, (n ? n : 1) * sizeof(*d->peers));
		d->npeers = n;
		d->share_gen++;
		LOG_INFO("%zu daemon%s share this warehouse", n ? n : 1, n == 1 || !n ? "" : "s");
	}
	if (n)
		memcpy(d->peers, peers, n * sizeof(*peers));
	strata_arena_free(a);
}

void d_share_leave(stratad *d)
{
	if (!d->wh)
		return;
	strata_err err;
	if (strata_mf_daemon_leave(strata_wh_mf(d->wh), d->owner, &err) != 0)
		LOG_WARN("could not remove this daemon's heartbeat (it expires in %lld s): %s",
			 (long long)d->cfg->d.peer_ttl_s, err.msg);
}

void d_share_free(stratad *d)
{
	free(d->peers);
	d->peers = NULL;
	d->npeers = 0;
}

json_t *d_share_json(const stratad *d)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->npeers; i++) {
		const strata_daemon_rec *p = &d->peers[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:i, s:f, s:s, s:b}", "owner", p->owner, "host",
				       p->host, "pid", (json_int_t)p->pid, "heartbeat_age_s",
				       (double)(strata_now_us() - p->beat_us) / 1e6, "share", p->info,
				       "is_self", strcmp(p->owner, d->owner) == 0));
	}
	return json_pack("{s:o, s:I, s:I}", "daemons", arr, "buckets_mine",
			 (json_int_t)d->share_mine, "buckets_total", (json_int_t)d->share_total);
}
