/*
 * manifest/pg_schema.c — the PostgreSQL catalog's schema, its versioned
 * migrations, `init` and the version check at open.
 *
 * One warehouse is one database; strata's tables live in schema `strata`.
 * The catalog is the manifest's key-value store on the backend seam
 * (manifest_int.h, pg_kv.c): one table per sub-database of enum mf_db,
 * named as mf_db_names[] names it, each holding the LMDB key bytes and the
 * record codec's bytes unchanged:
 *
 *   table (schema strata)       rows                                  storage
 *   meta                        [name] -> value (not the id counters)  logged
 *   tables, table_ids           name -> table; [id] -> name            logged
 *   schemas                     [table][schema ver] -> schema          logged
 *   parts, partnames            [table][part] -> partition; names      logged
 *   files, fileids              [table][part][bucket][id] -> entry     logged
 *   versions, vtimes            [table][version] -> version; times     logged
 *   tokens                      [table][token] -> version              logged
 *   buckets                     [table][part][bucket] -> bucket state  logged
 *   claims                      [table][part][bucket] -> claim         logged
 *   intents                     [job id] -> intent                     logged
 *   tags                        [table][tag] -> tag                    logged
 *   trash                       [table][0|1][clean ver]... -> what a   logged
 *                               clean took, kept for undelete
 *                               (migration 2)
 *   inline_files                [file id] -> the bytes of an inline     logged
 *                               row file (migration 3)
 *   leases                      [lease id] -> reader lease             UNLOGGED
 *   daemons                     [owner] -> daemon heartbeat            UNLOGGED
 *   sequences next_file_id, next_table_id (at most 2^32 - 1), next_job_id,
 *   next_lease_id:              the id counters (start at 1; never rolled
 *                               back, so ids may have gaps; no commit waits
 *                               for another's counter row)
 *   catalog_meta                the one row: schema version, data_path
 *   migrations                  one row per applied migration
 *
 * Every key-value table is (k bytea PRIMARY KEY, v bytea NOT NULL): bytea
 * compares like memcmp (a shorter prefix first), so the primary key's
 * order is LMDB's key order and a cursor is an index range scan.  The
 * unlogged tables lose their rows in a server crash (their readers and
 * daemons are then gone or re-register); everything a commit writes is
 * logged.
 *
 * Migrations: migrations[i] takes a catalog from version i to i + 1.
 * Invariants:
 *   1. a catalog changes version only inside one transaction that applies
 *      every missing step, records each in strata.migrations and sets
 *      catalog_meta.schema_version: a failed step leaves the catalog as it
 *      was (PostgreSQL's DDL is transactional);
 *   2. `init` and migrations hold one transaction-scoped advisory lock, so
 *      two of them never interleave; each re-reads the state under it;
 *      opening a catalog already at this code's version takes no lock and
 *      writes nothing (a role with SELECT grants only can open it);
 *   3. a catalog of a newer version than MF_PG_SCHEMA_VERSION is refused
 *      with both versions named, never read or written;
 *   4. the migrations create one key-value table per name of
 *      mf_db_names[] (1: every one up to tags, leases and daemons; 2:
 *      trash; 3: inline_files); test_pgkv checks the two lists agree.  A migration, once
 *      released, is never edited: a change is a new one.
 */
#include "manifest/pg_int.h"

#include <string.h>

/* pg_advisory_xact_lock() key of init and migrations: "strata" + 1 */
#define PG_CATALOG_LOCK "7526746911068520449"

#define KV_TABLE(name) "CREATE TABLE strata." name " (k bytea PRIMARY KEY, v bytea NOT NULL);\n"
#define KV_TABLE_UNLOGGED(name) \
	"CREATE UNLOGGED TABLE strata." name " (k bytea PRIMARY KEY, v bytea NOT NULL);\n"

/* invariant 4: the names of mf_db_names[], in enum mf_db's order */
static const char migration_1[] =
	"CREATE SCHEMA strata;\n"
	"CREATE TABLE strata.catalog_meta (\n"
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
	"  schema_version integer NOT NULL,\n"
	"  data_path text NOT NULL DEFAULT '',\n"
	"  created_at timestamptz NOT NULL DEFAULT now());\n"
	"INSERT INTO strata.catalog_meta (schema_version) VALUES (0);\n"
	"CREATE TABLE strata.migrations (\n"
	"  version integer PRIMARY KEY,\n"
	"  what text NOT NULL,\n"
	"  applied_at timestamptz NOT NULL DEFAULT now());\n"
	"CREATE SEQUENCE strata.next_file_id AS bigint MINVALUE 1 START 1;\n"
	"CREATE SEQUENCE strata.next_table_id AS bigint MINVALUE 1 MAXVALUE 4294967295 START 1;\n"
	"CREATE SEQUENCE strata.next_job_id AS bigint MINVALUE 1 START 1;\n"
	"CREATE SEQUENCE strata.next_lease_id AS bigint MINVALUE 1 START 1;\n"
	KV_TABLE("meta")
	KV_TABLE("tables")
	KV_TABLE("table_ids")
	KV_TABLE("schemas")
	KV_TABLE("parts")
	KV_TABLE("partnames")
	KV_TABLE("files")
	KV_TABLE("fileids")
	KV_TABLE("versions")
	KV_TABLE("vtimes")
	KV_TABLE("tokens")
	KV_TABLE("buckets")
	KV_TABLE("claims")
	KV_TABLE("intents")
	KV_TABLE("tags")
	KV_TABLE_UNLOGGED("leases")
	KV_TABLE_UNLOGGED("daemons");

/* the trash of the manifest: what a clean took (version records it
 * expired, the entries it marked), kept clean.trash_s for `strata
 * undelete` (manifest/commit.c) */
static const char migration_2[] = KV_TABLE("trash");

/* inline row files: the bytes of a writer's row file small enough to
 * live in the catalog (write.inline.max-bytes), next to its entry.  A
 * reader needs them as it needs the entries: every role granted something
 * on strata.files (an analyst's SELECT, a writer's INSERT) gets the same
 * on the new table, so a role granted before the upgrade keeps reading
 * (GRANT ... ON ALL TABLES covers only the tables of its day) */
static const char migration_3[] =
	KV_TABLE("inline_files")
	"DO $$ DECLARE g record; BEGIN\n"
	"  FOR g IN SELECT a.privilege_type AS priv,\n"
	"                  CASE WHEN a.grantee = 0 THEN 'PUBLIC'\n"
	"                       ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who\n"
	"           FROM pg_class c, aclexplode(c.relacl) a\n"
	"           WHERE c.oid = 'strata.files'::regclass AND a.grantee <> c.relowner\n"
	"  LOOP\n"
	"    EXECUTE format('GRANT %s ON strata.inline_files TO %s', g.priv, g.who);\n"
	"  END LOOP;\n"
	"END $$;\n";

static const mf_pg_migration migrations[] = {
	{1, "the catalog: one key-value table per manifest sub-database", migration_1},
	{2, "the trash: what a clean took, kept for undelete", migration_2},
	{3, "inline row files: the bytes of small row files", migration_3},
};

_Static_assert(STRATA_ARRAY_LEN(migrations) == MF_PG_SCHEMA_VERSION,
	       "one migration per catalog schema version");

static const mf_pg_stmt st_meta = {
	.slot = 0, .name = "strata_meta_read", .nparams = 0, .what = "read catalog_meta",
	.sql = "SELECT schema_version, data_path FROM strata.catalog_meta FOR UPDATE"};
static const mf_pg_stmt st_meta_set = {
	.slot = 1, .name = "strata_meta_set", .nparams = 1, .what = "set the schema version",
	.sql = "UPDATE strata.catalog_meta SET schema_version = $1"};
static const mf_pg_stmt st_mig_log = {
	.slot = 2, .name = "strata_migration_log", .nparams = 2, .what = "record a migration",
	.sql = "INSERT INTO strata.migrations (version, what) VALUES ($1, $2)"};
static const mf_pg_stmt st_data_path = {
	.slot = 3, .name = "strata_data_path_set", .nparams = 1, .what = "record data_path",
	.sql = "UPDATE strata.catalog_meta SET data_path = $1"};
static const mf_pg_stmt st_has_schema = {
	.slot = 4, .name = "strata_has_schema", .nparams = 0, .what = "look for schema strata",
	.sql = "SELECT to_regnamespace('strata') IS NOT NULL, "
	       "to_regclass('strata.catalog_meta') IS NOT NULL"};
static const mf_pg_stmt st_data_path_get = {
	.slot = 5, .name = "strata_data_path_get", .nparams = 0, .what = "read data_path",
	.sql = "SELECT data_path FROM strata.catalog_meta"};
static const mf_pg_stmt st_meta_peek = {
	.slot = 6, .name = "strata_meta_peek", .nparams = 0, .what = "read catalog_meta",
	.sql = "SELECT schema_version FROM strata.catalog_meta"};

/* Whether the database has schema strata and catalog_meta. */
static int has_catalog(mf_pg *pg, bool *has_schema, bool *has_meta, strata_err *err)
{
	PGresult *r;
	int rc = mf_pg_query(pg, &st_has_schema, NULL, &r, err);
	if (rc)
		return rc;
	*has_schema = mf_pg_get_bool(r, 0, 0);
	*has_meta = mf_pg_get_bool(r, 0, 1);
	PQclear(r);
	return 0;
}

static int meta_version(mf_pg *pg, uint32_t *version, strata_err *err)
{
	PGresult *r;
	int rc = mf_pg_query(pg, &st_meta, NULL, &r, err);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "catalog %s: strata.catalog_meta has %d rows, not 1",
				    mf_pg_uri_safe(pg), PQntuples(r));
	else
		*version = (uint32_t)mf_pg_get_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

/* Inside the caller's transaction, under the advisory lock: every step of
 * list above `from`. */
static int apply_steps(mf_pg *pg, const mf_pg_migration *list, size_t n, uint32_t from,
		       uint32_t *to, strata_err *err)
{
	uint32_t v = from;
	for (size_t i = 0; i < n; i++) {
		const mf_pg_migration *m = &list[i];
		if (m->version <= v)
			continue;
		if (m->version != v + 1)
			return strata_err_set(err, STRATA_EINVAL,
					      "catalog %s: no migration from version %u to %u",
					      mf_pg_uri_safe(pg), v, v + 1);
		char what[160];
		snprintf(what, sizeof(what), "migration to catalog version %u (%s)", m->version,
			 m->what);
		int rc = mf_pg_exec(pg, m->sql, what, err);
		if (rc)
			return rc;
		mf_pg_params p = {0};
		mf_pg_param_i64(&p, m->version);
		mf_pg_param_str(&p, m->what);
		PGresult *r = NULL;
		rc = mf_pg_query(pg, &st_mig_log, &p, &r, err);
		PQclear(r);
		if (rc)
			return rc;
		mf_pg_params q = {0};
		mf_pg_param_i64(&q, m->version);
		rc = mf_pg_query(pg, &st_meta_set, &q, &r, err);
		PQclear(r);
		if (rc)
			return rc;
		LOG_INFO("catalog %s: migrated to catalog version %u (%s)", mf_pg_uri_safe(pg),
			 m->version, m->what);
		v = m->version;
	}
	*to = v;
	return 0;
}

int mf_pg_catalog_migrate(mf_pg *pg, const mf_pg_migration *list, size_t n,
			  uint32_t *version, strata_err *err)
{
	bool has_schema = false, has_meta = false;
	uint32_t v = 0, to = 0;
	uint32_t newest = n ? list[n - 1].version : 0;
	int rc = mf_pg_begin(pg, MF_PG_TXN_COMMIT, err);
	if (rc)
		return rc;
	/* invariant 2 */
	rc = mf_pg_exec(pg, "SELECT pg_advisory_xact_lock(" PG_CATALOG_LOCK ")",
			"take the catalog's migration lock", err);
	if (rc)
		goto out;
	rc = has_catalog(pg, &has_schema, &has_meta, err);
	if (rc)
		goto out;
	if (!has_meta) {
		rc = strata_err_set(err, STRATA_ENOTFOUND,
				    "catalog %s holds no strata catalog (no table "
				    "strata.catalog_meta): create one with `strata -W URI init --data DIR`",
				    mf_pg_uri_safe(pg));
		goto out;
	}
	rc = meta_version(pg, &v, err);
	if (rc)
		goto out;
	if (v > newest) {
		/* invariant 3 */
		rc = strata_err_set(err, STRATA_EUNSUPPORTED,
				    "catalog %s is at catalog schema version %u, newer than this "
				    "strata's %u: upgrade strata",
				    mf_pg_uri_safe(pg), v, newest);
		goto out;
	}
	rc = apply_steps(pg, list, n, v, &to, err);
	if (rc)
		goto out;
	/* invariant 1: all steps or none */
	rc = mf_pg_commit(pg, err);
	if (rc == 0 && version)
		*version = to;
	return rc;
out:
	mf_pg_rollback(pg);
	return rc;
}

int mf_pg_catalog_open(mf_pg *pg, uint32_t *version, strata_err *err)
{
	/* the common case, a catalog at this code's version: two reads, no
	 * transaction, no lock (and no UPDATE grant on catalog_meta needed);
	 * anything else goes the locked way (invariant 2), which re-reads */
	bool has_schema = false, has_meta = false;
	int rc = has_catalog(pg, &has_schema, &has_meta, err);
	if (rc)
		return rc;
	if (has_meta) {
		PGresult *r = NULL;
		rc = mf_pg_query(pg, &st_meta_peek, NULL, &r, err);
		bool is_current = rc == 0 && PQntuples(r) == 1 &&
				  mf_pg_get_i64(r, 0, 0) == MF_PG_SCHEMA_VERSION;
		PQclear(r);
		if (rc)
			return rc;
		if (is_current) {
			if (version)
				*version = MF_PG_SCHEMA_VERSION;
			return 0;
		}
	}
	return mf_pg_catalog_migrate(pg, migrations, STRATA_ARRAY_LEN(migrations), version, err);
}

int mf_pg_catalog_init(mf_pg *pg, const char *data_path, strata_err *err)
{
	bool has_schema = false, has_meta = false;
	uint32_t to = 0;
	int rc = mf_pg_begin(pg, MF_PG_TXN_COMMIT, err);
	if (rc)
		return rc;
	rc = mf_pg_exec(pg, "SELECT pg_advisory_xact_lock(" PG_CATALOG_LOCK ")",
			"take the catalog's migration lock", err);
	if (rc)
		goto out;
	rc = has_catalog(pg, &has_schema, &has_meta, err);
	if (rc)
		goto out;
	if (has_schema) {
		uint32_t v = 0;
		if (has_meta && meta_version(pg, &v, err) == 0)
			rc = strata_err_set(err, STRATA_EEXIST,
					    "catalog %s already holds a strata catalog (schema "
					    "strata, catalog version %u): `init` creates one only "
					    "in a database without it",
					    mf_pg_uri_safe(pg), v);
		else
			rc = strata_err_set(err, STRATA_EEXIST,
					    "catalog %s already has a schema named strata (not a "
					    "strata catalog): use another database, or drop it",
					    mf_pg_uri_safe(pg));
		goto out;
	}
	rc = apply_steps(pg, migrations, STRATA_ARRAY_LEN(migrations), 0, &to, err);
	if (rc)
		goto out;
	mf_pg_params p = {0};
	mf_pg_param_str(&p, data_path ? data_path : "");
	PGresult *r = NULL;
	rc = mf_pg_query(pg, &st_data_path, &p, &r, err);
	PQclear(r);
	if (rc)
		goto out;
	/* the data directory before the catalog that names it commits: a
	 * path that cannot be made leaves no catalog behind (`init` again
	 * with another path works) */
	if (data_path && *data_path && (rc = strata_io_mkdirs(data_path, 0755)) < 0) {
		strata_err_set(err, rc,
			       "could not create the data directory \"%s\": %s (no catalog was "
			       "created in %s)",
			       data_path, strata_strerror(rc), mf_pg_uri_safe(pg));
		goto out;
	}
	rc = mf_pg_commit(pg, err);
	if (rc == 0)
		LOG_INFO("catalog %s: created at catalog version %u, data in \"%s\"",
			 mf_pg_uri_safe(pg), to, data_path ? data_path : "");
	return rc;
out:
	mf_pg_rollback(pg);
	return rc;
}

int mf_pg_catalog_data_path(mf_pg *pg, char *out, size_t n, strata_err *err)
{
	PGresult *r = NULL;
	int rc = mf_pg_query(pg, &st_data_path_get, NULL, &r, err);
	if (rc == 0 && PQntuples(r) == 1)
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	else if (rc == 0)
		rc = strata_err_set(err, STRATA_ECORRUPT,
				    "catalog %s: strata.catalog_meta has %d rows, not 1",
				    mf_pg_uri_safe(pg), PQntuples(r));
	PQclear(r);
	return rc;
}
