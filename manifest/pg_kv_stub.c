/*
 * manifest/pg_kv_stub.c — TEMPORARY: the PostgreSQL side of the seam until
 * manifest/pg_kv.c lands (delete this file then).  Every catalog URI is
 * refused.
 */
#include "manifest/pg_int.h"

int mf_pg_pool_open(const char *uri, strata_mf_mode mode, const char *data_path,
		    mf_pg_pool **out, char *data_out, size_t data_n, strata_err *err)
{
	*out = NULL;
	return strata_err_set(err, STRATA_EUNSUPPORTED, "PostgreSQL catalogs are not built yet");
}
void mf_pg_pool_close(mf_pg_pool *p) {}
const char *mf_pg_pool_uri_safe(const mf_pg_pool *p) { return ""; }
int mf_pg_tx_begin(mf_pg_pool *p, mf_tx_kind kind, mf_pg_tx **out, strata_err *err)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED, "no catalog");
}
int mf_pg_tx_commit(mf_pg_tx *t, strata_err *err) { return STRATA_EUNSUPPORTED; }
void mf_pg_tx_abort(mf_pg_tx *t) {}
bool mf_pg_tx_is_retry(const mf_pg_tx *t) { return false; }
int mf_pg_get(mf_pg_tx *t, enum mf_db db, const MDB_val *key, MDB_val *val) { return MF_RC_PG; }
int mf_pg_put(mf_pg_tx *t, enum mf_db db, const MDB_val *key, const MDB_val *val) { return MF_RC_PG; }
int mf_pg_del(mf_pg_tx *t, enum mf_db db, const MDB_val *key) { return MF_RC_PG; }
int mf_pg_cur_open(mf_pg_tx *t, enum mf_db db, mf_pg_cur **out) { return MF_RC_PG; }
int mf_pg_cur_get(mf_pg_cur *c, MDB_val *key, MDB_val *val, MDB_cursor_op op) { return MF_RC_PG; }
int mf_pg_cur_del(mf_pg_cur *c) { return MF_RC_PG; }
void mf_pg_cur_close(mf_pg_cur *c) {}
int mf_pg_counter_next(mf_pg_tx *t, const char *name, uint64_t *out, strata_err *err)
{
	return STRATA_EUNSUPPORTED;
}
int64_t mf_pg_clock_us(mf_pg_tx *t) { return 0; }
int mf_pg_last_err(strata_err *err, const char *what)
{
	return strata_err_set(err, STRATA_EUNSUPPORTED, "%s: no catalog", what);
}
