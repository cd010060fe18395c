/*
 * manifest/pg_ops.c — the first catalog statements on PostgreSQL: the
 * per-table commit lock and bucket claims judged by the catalog's clock.
 * The seam builds every manifest call out of statements like these.
 *
 * Locking rule.  A commit is one READ COMMITTED transaction that first
 * locks its table's row in strata.tables (FOR NO KEY UPDATE) and only then
 * reads what it checks (tokens, expected version, schema version, inputs
 * still live, claim, intent): commits to one table run one after another,
 * each seeing every earlier one; commits to different tables never wait on
 * each other (ids come from sequences, not from a shared row).  Planning
 * reads use one REPEATABLE READ snapshot instead and take no row lock.
 *
 * Claims.  A claim's expiry is a timestamptz set from clock_timestamp() on
 * the server, and compared with clock_timestamp() there: the hosts' clocks
 * never decide whether a claim is held.  Fencing: a job's commit calls
 * mf_pg_claim_held() inside its transaction; it locks the claim row, so a
 * taker (whose INSERT ... ON CONFLICT DO UPDATE waits on that row lock)
 * sees the claim only after the commit has finished and released it.  A
 * job paused past its TTL finds its claim expired or taken and fails with
 * STRATA_ECONFLICT, committing nothing.
 *
 * Invariant: these functions run inside a transaction the caller opened
 * (mf_pg_begin()) and never commit or roll it back themselves.
 *
 * Prepared-statement slots: 0-7 are pg_schema.c's, 8-15 these.
 */
#include "manifest/pg_int.h"

#include <string.h>

static const mf_pg_stmt st_table_lock = {
	.slot = 8, .name = "strata_table_lock", .nparams = 1, .what = "lock table row",
	.sql = "SELECT version FROM strata.tables WHERE id = $1 FOR NO KEY UPDATE"};
static const mf_pg_stmt st_table_lock_nowait = {
	.slot = 9, .name = "strata_table_lock_nowait", .nparams = 1,
	.what = "lock table row (no wait)",
	.sql = "SELECT version FROM strata.tables WHERE id = $1 FOR NO KEY UPDATE NOWAIT"};
static const mf_pg_stmt st_claim_take = {
	.slot = 10, .name = "strata_claim_take", .nparams = 7, .what = "take claim",
	.sql = "INSERT INTO strata.claims AS c "
	       "(k, table_id, part_id, bucket, owner, job_id, expires_at) "
	       "VALUES ($1, $2, $3, $4, $5, $6, "
	       "clock_timestamp() + $7::bigint * interval '1 microsecond') "
	       "ON CONFLICT (k) DO UPDATE SET owner = EXCLUDED.owner, "
	       "job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at "
	       "WHERE c.job_id = EXCLUDED.job_id OR c.expires_at <= clock_timestamp() "
	       "RETURNING job_id"};
static const mf_pg_stmt st_claim_get = {
	.slot = 11, .name = "strata_claim_get", .nparams = 1, .what = "read claim",
	.sql = "SELECT owner, job_id, "
	       "(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000000)::bigint "
	       "FROM strata.claims WHERE k = $1"};
static const mf_pg_stmt st_claim_held = {
	.slot = 12, .name = "strata_claim_held", .nparams = 1, .what = "check claim",
	.sql = "SELECT owner, job_id, "
	       "(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000000)::bigint "
	       "FROM strata.claims WHERE k = $1 FOR UPDATE"};

int mf_pg_table_lock(mf_pg *pg, uint32_t table_id, int wait_ms, uint64_t *version,
		     strata_err *err)
{
	PGresult *r = NULL;
	int rc = 0;
	if (wait_ms > 0) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", wait_ms);
		rc = mf_pg_exec(pg, sql, "set lock_timeout", err);
		if (rc)
			goto out;
	}
	mf_pg_params p = {0};
	mf_pg_param_i64(&p, table_id);
	rc = mf_pg_query(pg, wait_ms == 0 ? &st_table_lock_nowait : &st_table_lock, &p, &r, err);
	if (rc == STRATA_ECONFLICT) {
		strata_err_wrap(err, rc, "table %u is being committed to by another transaction",
				table_id);
		goto out;
	}
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = strata_err_set(err, STRATA_ENOTFOUND, "catalog %s: no table with id %u",
				    mf_pg_uri_safe(pg), table_id);
		goto out;
	}
	if (version)
		*version = (uint64_t)mf_pg_get_i64(r, 0, 0);
	if (wait_ms > 0)
		/* the bound was for this lock, not the rest of the commit */
		rc = mf_pg_exec(pg, "SET LOCAL lock_timeout TO DEFAULT", "reset lock_timeout", err);
out:
	PQclear(r);
	return rc;
}

static void claim_key(mf_key *k, uint32_t table_id, uint32_t part_id, uint32_t bucket)
{
	k->n = 0;
	mf_key_u32(k, table_id);
	mf_key_u32(k, part_id);
	mf_key_u32(k, bucket);
}

int mf_pg_claim_take(mf_pg *pg, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		     const char *owner, uint64_t job_id, int64_t ttl_us, strata_err *err)
{
	mf_key k;
	claim_key(&k, table_id, part_id, bucket);
	mf_pg_params p = {0};
	mf_pg_param_bytes(&p, k.b, k.n);
	mf_pg_param_i64(&p, table_id);
	mf_pg_param_i64(&p, part_id);
	mf_pg_param_i64(&p, bucket);
	mf_pg_param_str(&p, owner);
	mf_pg_param_i64(&p, (int64_t)job_id);
	mf_pg_param_i64(&p, ttl_us);
	PGresult *r = NULL;
	int rc = mf_pg_query(pg, &st_claim_take, &p, &r, err);
	if (rc || PQntuples(r) == 1)
		goto out;
	/* no row: another job holds an unexpired claim; say whose */
	PQclear(r);
	r = NULL;
	mf_pg_params q = {0};
	mf_pg_param_bytes(&q, k.b, k.n);
	rc = mf_pg_query(pg, &st_claim_get, &q, &r, err);
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "catalog %s: bucket %u of partition %u of table %u: the claim "
				    "changed while it was taken; try again",
				    mf_pg_uri_safe(pg), bucket, part_id, table_id);
		goto out;
	}
	rc = strata_err_set(err, STRATA_EBUSY,
			    "bucket %u of partition %u of table %u is claimed by %s (job %lld) "
			    "for another %.1f s by the catalog's clock",
			    bucket, part_id, table_id, PQgetvalue(r, 0, 0),
			    (long long)mf_pg_get_i64(r, 0, 1),
			    (double)mf_pg_get_i64(r, 0, 2) / 1e6);
out:
	PQclear(r);
	return rc;
}

int mf_pg_claim_held(mf_pg *pg, uint32_t table_id, uint32_t part_id, uint32_t bucket,
		     uint64_t job_id, strata_err *err)
{
	mf_key k;
	claim_key(&k, table_id, part_id, bucket);
	mf_pg_params p = {0};
	mf_pg_param_bytes(&p, k.b, k.n);
	PGresult *r = NULL;
	int rc = mf_pg_query(pg, &st_claim_held, &p, &r, err);
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "job %llu lost its claim of bucket %u of partition %u of table "
				    "%u: it is gone (released or recovered)",
				    (unsigned long long)job_id, bucket, part_id, table_id);
		goto out;
	}
	uint64_t holder = (uint64_t)mf_pg_get_i64(r, 0, 1);
	int64_t left_us = mf_pg_get_i64(r, 0, 2);
	if (holder != job_id)
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "job %llu lost its claim of bucket %u of partition %u of table "
				    "%u: %s (job %llu) holds it now",
				    (unsigned long long)job_id, bucket, part_id, table_id,
				    PQgetvalue(r, 0, 0), (unsigned long long)holder);
	else if (left_us <= 0)
		rc = strata_err_set(err, STRATA_ECONFLICT,
				    "job %llu lost its claim of bucket %u of partition %u of table "
				    "%u: it expired %.1f s ago by the catalog's clock",
				    (unsigned long long)job_id, bucket, part_id, table_id,
				    (double)-left_us / 1e6);
out:
	PQclear(r);
	return rc;
}
