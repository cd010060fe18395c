/*
 * tests/test_pgcat.c — the PostgreSQL catalog layer (manifest/pg_*.c)
 * against a real PostgreSQL on loopback (tests/util/tu_pg.h), started once
 * for the suite.  Each test works in a database of its own.
 *
 * Covered: the catalog schema and its version check (a newer version
 * refused, a failed migration leaves nothing), `init` twice refused, the
 * URI's password in no error (wrong password, unreachable host and port,
 * typo'd URIs), conflicts surfaced as STRATA_ECONFLICT (a row locked by
 * another transaction, a serialization failure, a deadlock), a connection
 * lost during COMMIT surfaced as uncertain and distinct from a clean
 * failure, the leases and daemons tables UNLOGGED, and the harness itself:
 * a suite that aborts or is killed with -9 leaves no server running.  The
 * key-value primitives on top are test_pgkv's.
 *
 * Without PostgreSQL the suite prints "SKIPPED: <reason>" and exits 0.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "manifest/pg_int.h"

static const char *pg_uri; /* database strata, as the superuser */

/* ---- helpers ------------------------------------------------------------------- */

/* A fresh database name; its URI into uri. */
static void db_new(const char *name, char *uri, size_t n)
{
	CU_ASSERT_FATAL(tu_pg_create_db(name, NULL));
	tu_pg_uri("postgres", NULL, name, uri, n);
}

/* A raw libpq connection to a test database (not through the layer). */
static PGconn *raw(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	CU_ASSERT_FATAL(PQstatus(c) == CONNECTION_OK);
	return c;
}

static mf_pg *conn(const char *uri)
{
	mf_pg *pg = NULL;
	strata_err err = {0};
	int rc = mf_pg_connect(uri, &pg, &err);
	if (rc)
		fprintf(stderr, "connect: %s\n", err.msg);
	CU_ASSERT_FATAL(rc == 0);
	return pg;
}

/* A database with a fresh catalog and meta rows 'a' and 'b' (v 1) in it. */
static mf_pg *catalog_new(const char *name, char *uri, size_t n)
{
	db_new(name, uri, n);
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	CU_ASSERT_FATAL(mf_pg_catalog_init(pg, "/srv/strata/data", &err) == 0);
	PGconn *c = raw(uri);
	CU_ASSERT_FATAL(tu_pg_exec(c, "INSERT INTO strata.meta (k, v) VALUES "
				      "('a', '\\x01'), ('b', '\\x01')"));
	PQfinish(c);
	return pg;
}

/* Lock meta row k (FOR UPDATE, NOWAIT when is_nowait) in pg's transaction. */
static int row_lock(mf_pg *pg, const char *k, bool is_nowait, strata_err *err)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT v FROM strata.meta WHERE k = '%s' FOR UPDATE%s", k,
		 is_nowait ? " NOWAIT" : "");
	return mf_pg_exec(pg, sql, "lock a meta row", err);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* ---- schema, init, versions -------------------------------------------------------- */

static void test_init_creates_the_catalog(void)
{
	char uri[256];
	db_new("t_init", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	uint32_t v = 99;

	/* no catalog yet: a clear error naming the database and the fix */
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), STRATA_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "init --data"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));

	CU_ASSERT_EQUAL_FATAL(mf_pg_catalog_init(pg, "/srv/strata/data", &err), 0);
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), 0);
	/* the harness's own database has none */
	mf_pg *top = conn(pg_uri);
	CU_ASSERT_STRING_EQUAL(mf_pg_uri_safe(top), pg_uri);
	CU_ASSERT_EQUAL(mf_pg_catalog_open(top, &v, &err), STRATA_ENOTFOUND);
	mf_pg_close(top);
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), 0);
	CU_ASSERT_EQUAL(v, MF_PG_SCHEMA_VERSION);
	char path[256];
	CU_ASSERT_EQUAL(mf_pg_catalog_data_path(pg, path, sizeof(path), &err), 0);
	CU_ASSERT_STRING_EQUAL(path, "/srv/strata/data");

	PGconn *c = raw(uri);
	/* catalog_meta, migrations, and one key-value table per sub-database */
	const char *tables[2 + DB_ALL] = {"catalog_meta", "migrations"};
	for (int i = 0; i < DB_ALL; i++)
		tables[2 + i] = mf_db_names[i];
	for (size_t i = 0; i < STRATA_ARRAY_LEN(tables); i++) {
		char sql[160];
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_tables WHERE schemaname = 'strata' AND "
			 "tablename = '%s'",
			 tables[i]);
		if (tu_pg_int(c, sql) != 1)
			fprintf(stderr, "table strata.%s is missing\n", tables[i]);
		CU_ASSERT_EQUAL(tu_pg_int(c, sql), 1);
	}
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'strata'"),
			(long long)STRATA_ARRAY_LEN(tables));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
				     "n.oid = c.relnamespace WHERE n.nspname = 'strata' AND "
				     "c.relkind = 'S' AND c.relname IN ('next_file_id', "
				     "'next_table_id', 'next_job_id', 'next_lease_id')"),
			4);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT schema_version FROM strata.catalog_meta"),
			MF_PG_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT max(version) FROM strata.migrations"),
			MF_PG_SCHEMA_VERSION);
	/* key columns are bytea, so the LMDB key bytes keep their memcmp order */
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM information_schema.columns WHERE "
				     "table_schema = 'strata' AND column_name = 'k' AND "
				     "data_type = 'bytea'"),
			DB_ALL);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (('\\x0001'::bytea < '\\x00ff'::bytea) AND "
				     "('\\x7f'::bytea < '\\x80'::bytea) AND "
				     "('\\x01'::bytea < '\\x0100'::bytea))::int"),
			1);
	PQfinish(c);
	mf_pg_close(pg);
}

static void test_init_twice_refused(void)
{
	char uri[256];
	db_new("t_twice", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(mf_pg_catalog_init(pg, "/data/one", &err), 0);
	CU_ASSERT_EQUAL(mf_pg_catalog_init(pg, "/data/two", &err), STRATA_EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already holds a strata catalog"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));
	/* nothing changed */
	char path[256];
	CU_ASSERT_EQUAL(mf_pg_catalog_data_path(pg, path, sizeof(path), &err), 0);
	CU_ASSERT_STRING_EQUAL(path, "/data/one");
	PGconn *c = raw(uri);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.migrations"),
			MF_PG_SCHEMA_VERSION);

	/* a schema strata that is not a catalog is not taken over either */
	char uri2[256];
	db_new("t_foreign", uri2, sizeof(uri2));
	PGconn *c2 = raw(uri2);
	CU_ASSERT(tu_pg_exec(c2, "CREATE SCHEMA strata; CREATE TABLE strata.mine (x int)"));
	mf_pg *pg2 = conn(uri2);
	CU_ASSERT_EQUAL(mf_pg_catalog_init(pg2, "/d", &err), STRATA_EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a strata catalog"));
	CU_ASSERT_EQUAL(tu_pg_int(c2, "SELECT count(*) FROM pg_tables WHERE schemaname = 'strata'"),
			1);
	PQfinish(c2);
	mf_pg_close(pg2);
	PQfinish(c);
	mf_pg_close(pg);
}

/* A catalog of version 1 (from before the trash) is migrated on open:
 * migrations 2 and 3 add strata.trash and strata.inline_files, recorded,
 * the rest untouched. */
static void test_catalog_1_gains_the_trash(void)
{
	char uri[256];
	db_new("t_v1", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(mf_pg_catalog_init(pg, "/d", &err), 0);
	PGconn *c = raw(uri);
	/* as migration 1 left it */
	CU_ASSERT(tu_pg_exec(c, "DROP TABLE strata.trash; DROP TABLE strata.inline_files; "
				"DELETE FROM strata.migrations WHERE version >= 2; "
				"UPDATE strata.catalog_meta SET schema_version = 1; "
				"INSERT INTO strata.tags VALUES ('\\x01', '\\x02')"));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (to_regclass('strata.trash') IS NULL)::int"), 1);
	uint32_t v = 0;
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 3);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (to_regclass('strata.trash') IS NOT NULL)::int"), 1);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (to_regclass('strata.inline_files') IS NOT NULL)::int"),
			1);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT schema_version FROM strata.catalog_meta"), 3);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.migrations"), 3);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.tags"), 1);
	PQfinish(c);
	mf_pg_close(pg);
}

/* A catalog of version 2, an analyst granted SELECT on every table of its
 * day: migration 3 adds strata.inline_files and grants the analyst the same
 * on it, so reads of inline row files keep working after the upgrade. */
static void test_catalog_2_gains_inline_files_with_grants(void)
{
	char uri[256];
	db_new("t_v2", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(mf_pg_catalog_init(pg, "/d", &err), 0);
	PGconn *c = raw(uri);
	CU_ASSERT(tu_pg_exec(c, "DROP TABLE strata.inline_files; DELETE FROM strata.migrations "
				"WHERE version = 3; UPDATE strata.catalog_meta SET schema_version = 2; "
				"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
				"'tu_analyst') THEN CREATE ROLE tu_analyst; END IF; END $$; "
				"GRANT USAGE ON SCHEMA strata TO tu_analyst; "
				"GRANT SELECT ON ALL TABLES IN SCHEMA strata TO tu_analyst"));
	uint32_t v = 0;
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 3);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT has_table_privilege('tu_analyst', "
				     "'strata.inline_files', 'SELECT')::int"),
			1);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT has_table_privilege('tu_analyst', "
				     "'strata.inline_files', 'INSERT')::int"),
			0);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.migrations"), 3);
	CU_ASSERT(tu_pg_exec(c, "REVOKE ALL ON ALL TABLES IN SCHEMA strata FROM tu_analyst; "
				"REVOKE USAGE ON SCHEMA strata FROM tu_analyst"));
	PQfinish(c);
	mf_pg_close(pg);
}

static void test_newer_version_refused_and_migrations_atomic(void)
{
	char uri[256];
	db_new("t_version", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(mf_pg_catalog_init(pg, "/d", &err), 0);
	PGconn *c = raw(uri);
	uint32_t v = 0;

	/* the steps below are this code's (1: the tables, 2: the trash, 3:
	 * inline row files) and one more */
	_Static_assert(MF_PG_SCHEMA_VERSION == 3, "a step per catalog version below");
	/* a step that fails half-way leaves the catalog as it was */
	const mf_pg_migration bad[] = {
		{1, "base", "SELECT 1"},
		{2, "trash", "SELECT 1"},
		{3, "inline", "SELECT 1"},
		{4, "two tables", "CREATE TABLE strata.v4_a (x int); CREATE TABLE strata.v4_b (x nosuchtype)"},
	};
	CU_ASSERT_EQUAL(mf_pg_catalog_migrate(pg, bad, 4, &v, &err), STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "migration to catalog version 4"));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (to_regclass('strata.v4_a') IS NULL)::int"), 1);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT schema_version FROM strata.catalog_meta"), 3);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.migrations"), 3);

	/* a good one is applied and recorded */
	const mf_pg_migration good[] = {
		{1, "base", "SELECT 1"},
		{2, "trash", "SELECT 1"},
		{3, "inline", "SELECT 1"},
		{4, "table v4_a", "CREATE TABLE strata.v4_a (x int)"},
	};
	CU_ASSERT_EQUAL(mf_pg_catalog_migrate(pg, good, 4, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 4);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT (to_regclass('strata.v4_a') IS NOT NULL)::int"), 1);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT schema_version FROM strata.catalog_meta"), 4);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.migrations"), 4);

	/* that catalog is now newer than this code: refused, untouched */
	CU_ASSERT_EQUAL(mf_pg_catalog_open(pg, &v, &err), STRATA_EUNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "catalog schema version 4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "newer than this strata's 3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT schema_version FROM strata.catalog_meta"), 4);

	/* a gap in the steps is an error, not a silent jump */
	CU_ASSERT(tu_pg_exec(c, "UPDATE strata.catalog_meta SET schema_version = 0"));
	CU_ASSERT_EQUAL(mf_pg_catalog_migrate(pg, &good[1], 2, &v, &err), STRATA_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no migration from version 0 to 1"));
	PQfinish(c);
	mf_pg_close(pg);
}

/* ---- URIs and passwords ------------------------------------------------------------------ */

static void test_uri_redaction(void)
{
	static const char *const cases[][2] = {
		{"postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db"},
		{"postgres://u:p%40ss@h/db?sslmode=require&password=x2y",
		 "postgres://u@h/db?sslmode=require"},
		{"postgresql://u:pw@h1:1,h2:2/db?application_name=a&sslpassword=zzz&sslmode=verify-full",
		 "postgresql://u@h1:1,h2:2/db?application_name=a&sslmode=verify-full"},
		{"postgresql://h/db", "postgresql://h/db"},
		{"postgresql://u@h/db", "postgresql://u@h/db"},
		{"postgresql://u:a@b@h/db", "postgresql://u@h/db"},
		{"postgresql://", "postgresql://"},
		{"postgresql:///db?password=secret", "postgresql:///db"},
		{"/srv/warehouse", "/srv/warehouse"},
		{"u:pw@h/db", "(a catalog URI)"},
	};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(cases); i++) {
		char out[256];
		mf_pg_uri_redact(cases[i][0], out, sizeof(out));
		if (strcmp(out, cases[i][1]) != 0)
			fprintf(stderr, "redact(%s) = %s, expected %s\n", cases[i][0], out,
				cases[i][1]);
		CU_ASSERT_STRING_EQUAL(out, cases[i][1]);
	}
	CU_ASSERT(mf_pg_is_uri("postgresql://h/db"));
	CU_ASSERT(mf_pg_is_uri("postgres://h/db"));
	CU_ASSERT(!mf_pg_is_uri("postgresq://h/db"));
	CU_ASSERT(!mf_pg_is_uri("/srv/warehouse"));
}

/* Connecting to uri fails with code (0: any), naming the catalog as shown,
 * and no secret is anywhere in the message. */
static void connect_fails(const char *uri, int code, const char *shown,
			  const char *const *secrets)
{
	mf_pg *pg = NULL;
	strata_err err = {0};
	int rc = mf_pg_connect(uri, &pg, &err);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NULL(pg);
	mf_pg_close(pg);
	if (code)
		CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_EQUAL(err.code, rc);
	if (shown && !strstr(err.msg, shown))
		fprintf(stderr, "message \"%s\" does not name \"%s\"\n", err.msg, shown);
	if (shown)
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, shown));
	for (int i = 0; secrets[i]; i++) {
		if (strstr(err.msg, secrets[i]))
			fprintf(stderr, "message \"%s\" holds the password \"%s\"\n", err.msg,
				secrets[i]);
		CU_ASSERT_PTR_NULL(strstr(err.msg, secrets[i]));
	}
}

static void test_password_never_in_errors(void)
{
	int port = tu_pg_port();
	char uri[512], shown[512];
	const char *const wrong[] = {"Wrong-Pass-9911", NULL};

	/* the right password works, in the URI and from PGPASSWORD */
	tu_pg_uri(TU_PG_PW_USER, TU_PG_PW_PASSWORD, "strata", uri, sizeof(uri));
	mf_pg *pg = conn(uri);
	CU_ASSERT_PTR_NULL(strstr(mf_pg_uri_safe(pg), TU_PG_PW_PASSWORD));
	mf_pg_close(pg);
	tu_pg_uri(TU_PG_PW_USER, NULL, "strata", shown, sizeof(shown));
	setenv("PGPASSWORD", TU_PG_PW_PASSWORD, 1);
	pg = conn(shown);
	mf_pg_close(pg);

	/* ~/.pgpass, through PGPASSFILE (libpq reads only a file others cannot) */
	char pgpass[512], line[256];
	snprintf(pgpass, sizeof(pgpass), "%s/pgpass", tu_tmpdir());
	snprintf(line, sizeof(line), "127.0.0.1:%d:strata:%s:%s\n", port, TU_PG_PW_USER,
		 TU_PG_PW_PASSWORD);
	CU_ASSERT_FATAL(tu_write_file(pgpass, line, strlen(line)) == 0);
	CU_ASSERT_FATAL(chmod(pgpass, 0600) == 0);
	setenv("PGPASSFILE", pgpass, 1);
	pg = conn(shown);
	mf_pg_close(pg);
	unsetenv("PGPASSFILE");

	/* sslmode=require against a server without TLS: refused, by libpq */
	snprintf(uri, sizeof(uri), "postgresql://%s:%s@127.0.0.1:%d/strata?sslmode=require",
		 TU_PG_PW_USER, TU_PG_PW_PASSWORD, port);
	char shown_ssl[512];
	snprintf(shown_ssl, sizeof(shown_ssl), "postgresql://%s@127.0.0.1:%d/strata?sslmode=require",
		 TU_PG_PW_USER, port);
	const char *const right[] = {TU_PG_PW_PASSWORD, NULL};
	connect_fails(uri, STRATA_EMANIFEST, shown_ssl, right);

	/* a wrong one, from PGPASSWORD: refused, and not echoed */
	setenv("PGPASSWORD", "Wrong-Pass-9911", 1);
	connect_fails(shown, STRATA_EMANIFEST, shown, wrong);
	unsetenv("PGPASSWORD");

	/* a wrong password in the URI */
	tu_pg_uri(TU_PG_PW_USER, "Wrong-Pass-9911", "strata", uri, sizeof(uri));
	connect_fails(uri, STRATA_EMANIFEST, shown, wrong);
	{
		mf_pg *x = NULL;
		strata_err err = {0};
		mf_pg_connect(uri, &x, &err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "password authentication failed"));
	}

	/* nobody listens on the port */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	int dead_port = ntohs(a.sin_port);
	close(fd);
	snprintf(uri, sizeof(uri), "postgresql://%s:Wrong-Pass-9911@127.0.0.1:%d/strata",
		 TU_PG_PW_USER, dead_port);
	snprintf(shown, sizeof(shown), "postgresql://%s@127.0.0.1:%d/strata", TU_PG_PW_USER,
		 dead_port);
	connect_fails(uri, STRATA_EMANIFEST, shown, wrong);

	/* an unreachable host (TEST-NET-1), bounded by connect_timeout */
	snprintf(uri, sizeof(uri),
		 "postgresql://%s:Wrong-Pass-9911@192.0.2.1:5432/strata?connect_timeout=1",
		 TU_PG_PW_USER);
	connect_fails(uri, STRATA_EMANIFEST,
		      "postgresql://" TU_PG_PW_USER "@192.0.2.1:5432/strata?connect_timeout=1",
		      wrong);

	/* typos: a query parameter, a port, the scheme, a bad percent escape
	 * (libpq quotes the token it could not decode: the password) */
	const char *const typo[] = {"Typo-Secret-1", "Typo%2DSecret", "Typo-Secret", NULL};
	snprintf(uri, sizeof(uri), "postgresql://u:Typo-Secret-1@127.0.0.1:%d/strata?sslmod=require",
		 port);
	connect_fails(uri, STRATA_EINVAL, "postgresql://u@127.0.0.1", typo);
	snprintf(uri, sizeof(uri), "postgresql://u:Typo%%2DSecret@127.0.0.1:54x2/strata");
	connect_fails(uri, 0, "postgresql://u@127.0.0.1:54x2/strata", typo);
	snprintf(uri, sizeof(uri), "postgresq://u:Typo-Secret-1@127.0.0.1:%d/strata", port);
	connect_fails(uri, STRATA_EINVAL, "postgresq://u@127.0.0.1", typo);
	const char *const pct[] = {"Bad%zzSecret", NULL};
	snprintf(uri, sizeof(uri), "postgresql://u:Bad%%zzSecret@127.0.0.1:%d/strata", port);
	connect_fails(uri, STRATA_EINVAL, "postgresql://u@127.0.0.1", pct);
	snprintf(uri, sizeof(uri), "postgresql://u@127.0.0.1:%d/strata?password=Typo-Secret-1&x=1",
		 port);
	connect_fails(uri, STRATA_EINVAL, "postgresql://u@127.0.0.1", typo);
}

/* ---- conflicts -------------------------------------------------------------------------- */

static void test_conflict_on_a_locked_row(void)
{
	char uri[256];
	mf_pg *a = catalog_new("t_lock", uri, sizeof(uri));
	mf_pg *b = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(a, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(a, "a", false, &err), 0);
	/* b wants the same row and does not wait: a conflict (55P03) */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(b, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(b, "a", true, &err), STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "55P03"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));
	mf_pg_rollback(b);
	/* another row is free */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(b, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(b, "b", true, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_commit(b, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_commit(a, &err), 0);
	mf_pg_close(b);
	mf_pg_close(a);
}

static void test_conflict_on_a_serialization_failure(void)
{
	char uri[256];
	mf_pg *a = catalog_new("t_serial", uri, sizeof(uri));
	mf_pg *b = conn(uri);
	strata_err err = {0};
	/* b's snapshot is taken before a's commit */
	CU_ASSERT_EQUAL(mf_pg_exec(b, "BEGIN ISOLATION LEVEL REPEATABLE READ; "
				      "SELECT count(*) FROM strata.meta",
				   "snapshot", &err),
			0);
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(a, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(a, "a", false, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_exec(a, "UPDATE strata.meta SET v = '\\x02' WHERE k = 'a'", "bump",
				   &err),
			0);
	CU_ASSERT_EQUAL(mf_pg_commit(a, &err), 0);
	CU_ASSERT_EQUAL(row_lock(b, "a", false, &err), STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "40001"));
	CU_ASSERT_EQUAL(mf_pg_exec(b, "ROLLBACK", "rollback", &err), 0);

	/* a snapshot is read-only and repeatable */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(b, MF_PG_TXN_SNAPSHOT, &err), 0);
	PGconn *c = raw(uri);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT 1"), 1);
	CU_ASSERT_EQUAL(mf_pg_exec(b, "SELECT v FROM strata.meta", "read", &err), 0);
	CU_ASSERT(tu_pg_exec(c, "UPDATE strata.meta SET v = '\\x03' WHERE k = 'a'"));
	CU_ASSERT_EQUAL(mf_pg_exec(b, "DO $$ BEGIN IF (SELECT v FROM strata.meta "
				      "WHERE k = 'a') <> '\\x02' THEN RAISE 'not repeatable'; "
				      "END IF; END $$",
				   "repeat", &err),
			0);
	CU_ASSERT_NOT_EQUAL(mf_pg_exec(b, "UPDATE strata.meta SET v = '\\x09'", "write", &err),
			    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "25006"));
	mf_pg_rollback(b);
	PQfinish(c);
	mf_pg_close(b);
	mf_pg_close(a);
}

typedef struct lock_arg {
	mf_pg *pg;
	const char *k;
	int rc;
	strata_err err;
} lock_arg;

static void *lock_thread(void *p)
{
	lock_arg *la = p;
	la->rc = row_lock(la->pg, la->k, false, &la->err);
	return NULL;
}

static void test_conflict_on_a_deadlock(void)
{
	char uri[256];
	mf_pg *a = catalog_new("t_deadlock", uri, sizeof(uri));
	mf_pg *b = conn(uri);
	strata_err err = {0};
	CU_ASSERT_EQUAL(mf_pg_exec(a, "SET deadlock_timeout = '100ms'", "set", &err), 0);
	CU_ASSERT_EQUAL(mf_pg_exec(b, "SET deadlock_timeout = '100ms'", "set", &err), 0);
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(a, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(b, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(a, "a", false, &err), 0);
	CU_ASSERT_EQUAL(row_lock(b, "b", false, &err), 0);
	/* a waits for b's row in a thread; b then asks for a's: a cycle */
	lock_arg la = {.pg = a, .k = "b"};
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, lock_thread, &la) == 0);
	PGconn *c = raw(uri);
	/* wait until a's backend really waits for the lock (no duration asserted) */
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock'",
		 mf_pg_backend_pid(a));
	for (int i = 0; i < 1000 && tu_pg_int(c, sql) != 1; i++)
		sleep_ms(10);
	lock_arg lb = {.pg = b, .k = "a"};
	lock_thread(&lb);
	if (lb.rc == STRATA_ECONFLICT)
		mf_pg_rollback(b); /* releases 2: a goes on */
	pthread_join(t, NULL);
	if (la.rc == STRATA_ECONFLICT)
		mf_pg_rollback(a);
	/* exactly one of them was chosen as the victim, as a conflict */
	CU_ASSERT((la.rc == STRATA_ECONFLICT) != (lb.rc == STRATA_ECONFLICT));
	CU_ASSERT(la.rc == 0 || la.rc == STRATA_ECONFLICT);
	CU_ASSERT(lb.rc == 0 || lb.rc == STRATA_ECONFLICT);
	const char *msg = la.rc ? la.err.msg : lb.err.msg;
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "40P01"));
	mf_pg_rollback(a);
	mf_pg_rollback(b);
	PQfinish(c);
	mf_pg_close(b);
	mf_pg_close(a);
}

/* ---- uncertain commits ------------------------------------------------------------------ */

/* Terminate pg's backend from another connection and wait until it is gone. */
static void kill_backend(PGconn *c, mf_pg *pg)
{
	char sql[160];
	int pid = mf_pg_backend_pid(pg);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)::int", pid);
	CU_ASSERT_EQUAL(tu_pg_int(c, sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
	for (int i = 0; i < 1000 && tu_pg_int(c, sql) != 0; i++)
		sleep_ms(10);
	CU_ASSERT_EQUAL(tu_pg_int(c, sql), 0);
}

static void test_uncertain_commit_is_distinct(void)
{
	char uri[256];
	mf_pg *pg = catalog_new("t_uncertain", uri, sizeof(uri));
	PGconn *c = raw(uri);
	strata_err err = {0};

	/* the connection is lost when COMMIT is sent: uncertain */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(pg, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_exec(pg, "INSERT INTO strata.meta VALUES ('u1', '\\x01')", "insert",
				   &err),
			0);
	kill_backend(c, pg);
	int rc = mf_pg_commit(pg, &err);
	CU_ASSERT_EQUAL(rc, STRATA_EUNCERTAIN);
	CU_ASSERT_NOT_EQUAL(rc, STRATA_EMANIFEST);
	CU_ASSERT_NOT_EQUAL(rc, STRATA_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "may or may not have committed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, uri));

	/* the handle reconnects at the next begin, statements prepared again */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(pg, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(pg, "a", true, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_commit(pg, &err), 0);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM strata.meta WHERE k = 'u1'"), 0);

	/* lost before COMMIT, during a statement: a clean failure */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(pg, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(row_lock(pg, "a", true, &err), 0);
	kill_backend(c, pg);
	rc = row_lock(pg, "b", true, &err);
	CU_ASSERT_EQUAL(rc, STRATA_EMANIFEST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing was committed"));
	mf_pg_rollback(pg);

	/* the server refuses the COMMIT (a deferred unique violation): a clean
	 * failure with the server's code, never uncertain */
	CU_ASSERT(tu_pg_exec(c,
			     "CREATE TABLE public.d (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"));
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(pg, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_exec(pg, "INSERT INTO public.d VALUES (1), (1)", "insert", &err), 0);
	rc = mf_pg_commit(pg, &err);
	CU_ASSERT_EQUAL(rc, STRATA_EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "23505"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing was committed"));
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM public.d"), 0);

	/* a transaction with a failed statement answers COMMIT with ROLLBACK */
	CU_ASSERT_EQUAL_FATAL(mf_pg_begin(pg, MF_PG_TXN_COMMIT, &err), 0);
	CU_ASSERT_EQUAL(mf_pg_exec(pg, "INSERT INTO public.d VALUES (5)", "insert", &err), 0);
	CU_ASSERT_NOT_EQUAL(mf_pg_exec(pg, "SELECT nosuchcolumn FROM public.d", "bad", &err), 0);
	rc = mf_pg_commit(pg, &err);
	CU_ASSERT_EQUAL(rc, STRATA_EMANIFEST);
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM public.d"), 0);
	PQfinish(c);
	mf_pg_close(pg);
}

/* ---- leases and claims ---------------------------------------------------------------------- */

static void test_leases_and_daemons_are_unlogged(void)
{
	char uri[256];
	mf_pg *pg = catalog_new("t_unlogged", uri, sizeof(uri));
	PGconn *c = raw(uri);
	CU_ASSERT_EQUAL(tu_pg_int(c,
				  "SELECT count(*) FROM pg_class WHERE relpersistence = 'u' AND "
				  "oid IN ('strata.leases'::regclass, 'strata.daemons'::regclass)"),
			2);
	/* and only they: everything a commit writes is logged */
	CU_ASSERT_EQUAL(tu_pg_int(c, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
				     "n.oid = c.relnamespace WHERE n.nspname = 'strata' AND "
				     "c.relkind = 'r' AND c.relpersistence <> 'p'"),
			2);
	CU_ASSERT(tu_pg_exec(c, "INSERT INTO strata.leases (k, v) VALUES ('\\x01', '\\x02')"));
	PQfinish(c);
	mf_pg_close(pg);
}

/* ---- the harness ------------------------------------------------------------------------ */

/* TU_PG_DIE=abort|kill: this binary starts its server, says which, and dies
 * without running atexit (see test_harness_stops_the_server_of_a_dead_suite). */
static void die_with_a_server(const char *how)
{
	tu_pg_start_or_skip();
	printf("postmaster %d dir %s\n", (int)tu_pg_postmaster_pid(), tu_pg_dir());
	fflush(stdout);
	if (strcmp(how, "kill") == 0)
		raise(SIGKILL);
	abort();
}

static void test_harness_stops_the_server_of_a_dead_suite(void)
{
	const char *hows[] = {"abort", "kill"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(hows); i++) {
		char cmd[256], *out = NULL, dir[4096] = "";
		snprintf(cmd, sizeof(cmd), "TU_PG_DIE=%s /proc/%d/exe 2>/dev/null", hows[i],
			 (int)getpid());
		int st = tu_run(cmd, &out);
		CU_ASSERT_EQUAL(st, hows[i][0] == 'a' ? 128 + SIGABRT : 128 + SIGKILL);
		int pid = 0;
		CU_ASSERT_FATAL(out && sscanf(out, "postmaster %d dir %4095s", &pid, dir) == 2);
		CU_ASSERT_FATAL(pid > 0 && pid != (int)tu_pg_postmaster_pid());
		/* the watcher held the same stdout, so tu_run returned once it was
		 * done; still, wait (bounded) rather than assume */
		for (int t = 0; t < 3000 && !tu_pg_is_gone(pid); t++)
			sleep_ms(10);
		CU_ASSERT(tu_pg_is_gone(pid));
		CU_ASSERT(access(dir, F_OK) != 0);
		free(out);
	}
	/* and ours still runs */
	CU_ASSERT(!tu_pg_is_gone(tu_pg_postmaster_pid()));
}

static void register_tests(void)
{
	if (getenv("TU_PG_DIE"))
		die_with_a_server(getenv("TU_PG_DIE"));
	pg_uri = tu_pg_start_or_skip();
	CU_pSuite s = CU_add_suite("pgcat", NULL, NULL);
	TU_ADD(s, test_uri_redaction);
	TU_ADD(s, test_init_creates_the_catalog);
	TU_ADD(s, test_init_twice_refused);
	TU_ADD(s, test_newer_version_refused_and_migrations_atomic);
	TU_ADD(s, test_catalog_1_gains_the_trash);
	TU_ADD(s, test_catalog_2_gains_inline_files_with_grants);
	TU_ADD(s, test_password_never_in_errors);
	TU_ADD(s, test_conflict_on_a_locked_row);
	TU_ADD(s, test_conflict_on_a_serialization_failure);
	TU_ADD(s, test_conflict_on_a_deadlock);
	TU_ADD(s, test_uncertain_commit_is_distinct);
	TU_ADD(s, test_leases_and_daemons_are_unlogged);
	TU_ADD(s, test_harness_stops_the_server_of_a_dead_suite);
}

TU_MAIN(register_tests)
