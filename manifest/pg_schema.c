/*
 * manifest/pg_schema.c — the PostgreSQL catalog's schema, its versioned
 * migrations, `init` and the version check at open.
 *
 * One warehouse is one database; strata's tables live in schema `strata`.
 * They mirror the LMDB sub-databases of manifest/env.c one to one and keep
 * the record codec: each row stores the LMDB key bytes (`k`, bytea: bytea
 * compares like memcmp, so a key-prefix scan is a range on k) and the codec
 * bytes (`rec`, mf_*_enc()), plus the few decoded columns that indexes,
 * uniqueness and the database's own checks need.
 *
 *   LMDB sub-database          PostgreSQL table (decoded columns)
 *   meta: counters             counters (name, value) for next_table_id;
 *                              sequences file_ids and job_ids for the ids
 *                              every commit takes (a counters row would
 *                              serialize all tables' commits)
 *   tables, table_ids          tables (id, name, version): the row a commit
 *                              locks (one lock per table)
 *   schemas                    schemas (table_id, schema_version)
 *   parts, partnames           partitions (table_id, part_id, name unique)
 *   files, fileids             files (id unique, table_id, part_id, bucket,
 *                              removed_version: 0 while live, is_deleted)
 *   versions, vtimes           versions (table_id, version, ts_us indexed)
 *   tokens                     tokens (table_id, version, created_at)
 *   buckets                    bucket_states (table_id, part_id, bucket)
 *   claims                     claims (owner, job_id, expires_at): no codec
 *                              bytes, the expiry is the catalog's clock
 *   intents                    intents (job_id, table/part/bucket, owner)
 *   tags                       tags (table_id, name, version)
 *   leases environment         leases, UNLOGGED: cheap, lost on a crash
 *                              (harmless: a crash ends their readers too)
 *   (none)                     daemons (owner, heartbeat_at, share)
 *   (none)                     catalog_meta: the one row with the schema
 *                              version and data_path; migrations: the log
 *
 * Migrations: mf_pg_migrations[i] takes a catalog from version i to i + 1.
 * Invariants:
 *   1. a catalog changes version only inside one transaction that applies
 *      every missing step, records each in strata.migrations and sets
 *      catalog_meta.schema_version: a failed step leaves the catalog as it
 *      was (PostgreSQL's DDL is transactional);
 *   2. `init` and migrations hold one transaction-scoped advisory lock, so
 *      two of them never interleave; each re-reads the state under it;
 *   3. a catalog of a newer version than MF_PG_SCHEMA_VERSION is refused
 *      with both versions named, never read or written.
 */
#include "manifest/pg_int.h"

#include <string.h>

/* pg_advisory_xact_lock() key of init and migrations: "strata" + 1 */
#define PG_CATALOG_LOCK "7526746911068520449"

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
	"CREATE TABLE strata.counters (\n"
	"  name text PRIMARY KEY,\n"
	"  value bigint NOT NULL CHECK (value >= 1));\n"
	"INSERT INTO strata.counters VALUES ('next_table_id', 1);\n"
	"CREATE SEQUENCE strata.file_ids AS bigint MINVALUE 1;\n"
	"CREATE SEQUENCE strata.job_ids AS bigint MINVALUE 1;\n"
	"CREATE TABLE strata.tables (\n"
	"  id integer PRIMARY KEY CHECK (id > 0),\n"
	"  name text NOT NULL UNIQUE,\n"
	"  k bytea NOT NULL UNIQUE,\n"
	"  version bigint NOT NULL,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE TABLE strata.schemas (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  schema_version integer NOT NULL,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE TABLE strata.partitions (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  part_id integer NOT NULL,\n"
	"  name text NOT NULL,\n"
	"  rec bytea NOT NULL,\n"
	"  UNIQUE (table_id, name));\n"
	"CREATE TABLE strata.files (\n"
	"  k bytea PRIMARY KEY,\n"
	"  id bigint NOT NULL UNIQUE,\n"
	"  table_id integer NOT NULL,\n"
	"  part_id integer NOT NULL,\n"
	"  bucket integer NOT NULL,\n"
	"  removed_version bigint NOT NULL DEFAULT 0,\n"
	"  is_deleted boolean NOT NULL DEFAULT false,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE INDEX files_live ON strata.files (table_id, part_id, bucket)\n"
	"  WHERE removed_version = 0;\n"
	"CREATE INDEX files_removed ON strata.files (table_id, removed_version)\n"
	"  WHERE removed_version <> 0 AND NOT is_deleted;\n"
	"CREATE TABLE strata.versions (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  version bigint NOT NULL,\n"
	"  ts_us bigint NOT NULL,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE INDEX versions_time ON strata.versions (table_id, ts_us);\n"
	"CREATE TABLE strata.tokens (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  version bigint NOT NULL,\n"
	"  created_at timestamptz NOT NULL DEFAULT now());\n"
	"CREATE TABLE strata.bucket_states (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  part_id integer NOT NULL,\n"
	"  bucket integer NOT NULL,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE TABLE strata.claims (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  part_id integer NOT NULL,\n"
	"  bucket integer NOT NULL,\n"
	"  owner text NOT NULL,\n"
	"  job_id bigint NOT NULL,\n"
	"  expires_at timestamptz NOT NULL);\n"
	"CREATE TABLE strata.intents (\n"
	"  k bytea PRIMARY KEY,\n"
	"  job_id bigint NOT NULL UNIQUE,\n"
	"  table_id integer NOT NULL,\n"
	"  part_id integer NOT NULL,\n"
	"  bucket integer NOT NULL,\n"
	"  owner text NOT NULL,\n"
	"  created_at timestamptz NOT NULL DEFAULT now(),\n"
	"  rec bytea NOT NULL);\n"
	"CREATE TABLE strata.tags (\n"
	"  k bytea PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  name text NOT NULL,\n"
	"  version bigint NOT NULL,\n"
	"  rec bytea NOT NULL);\n"
	"CREATE UNLOGGED TABLE strata.leases (\n"
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"  table_id integer NOT NULL,\n"
	"  version bigint,\n" /* NULL: every file of the table (STRATA_LEASE_ALL) */
	"  holder text NOT NULL,\n"
	"  expires_at timestamptz NOT NULL);\n"
	"CREATE INDEX leases_table ON strata.leases (table_id, expires_at);\n"
	"CREATE TABLE strata.daemons (\n"
	"  owner text PRIMARY KEY,\n"
	"  host text NOT NULL,\n"
	"  pid integer NOT NULL,\n"
	"  started_at timestamptz NOT NULL DEFAULT now(),\n"
	"  heartbeat_at timestamptz NOT NULL DEFAULT now(),\n"
	"  share text NOT NULL DEFAULT '');\n";

static const mf_pg_migration migrations[] = {
	{1, "the catalog: tables mirroring the LMDB manifest", migration_1},
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
				    "strata.catalog_meta): run `strata init` first",
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
