/*
 * tests/test_pgbad.c — `strata` given a bad catalog (issue 13, "Bad
 * input"), run as a user would: the built binary, against a real
 * PostgreSQL on loopback (tests/util/tu_pg.h), one database per test.
 *
 * Each case runs commands that write (`init --data`, `create-table`,
 * `write`) and commands that read (`tables`, `scan`), and checks: the exit
 * status docs/CLI.md documents for it (1), one error line on standard
 * error naming the catalog by its URI without the password (and neither
 * the password given nor the right one anywhere in the output), the
 * reason in words, and nothing written — no catalog created in the
 * database, no data directory, no directory made from a mistyped URI, no
 * version committed.
 *
 * Cases: an unreachable catalog (nothing listens on the port); a wrong
 * password (in the URI, as ?password=, in $PGPASSWORD); a catalog of a
 * newer schema version; URIs with typos (an unknown query parameter, an
 * unknown database, a bad port, a mistyped scheme — "postgresq://" and
 * "postgresql:/" once made a directory warehouse of that name, password
 * and all); `init --data` at a path that cannot be created (it once left
 * the catalog created, so a second `init` was refused).
 *
 * Without PostgreSQL the suite prints "SKIPPED: <reason>" and exits 0.
 */
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"
#include "tests/util/tu_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#define WRONG_PW "Wr0ng-pass-4417"

/* ---- helpers ------------------------------------------------------------------- */

/* A fresh database owned by the password role. */
static void db_new(const char *name)
{
	CU_ASSERT_FATAL(tu_pg_create_db(name, TU_PG_PW_USER));
}

/* sql's first field as an integer, in database db as the superuser. */
static long long q_int(const char *db, const char *sql)
{
	PGconn *c = tu_pg_connect(db);
	CU_ASSERT_FATAL(PQstatus(c) == CONNECTION_OK);
	long long v = tu_pg_int(c, sql);
	PQfinish(c);
	return v;
}

static bool has_catalog(const char *db)
{
	return q_int(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'strata'") > 0;
}

/* The scratch directory commands run in (a mistyped URI must make
 * nothing here). */
static const char *cwd_dir(void)
{
	static char dir[4096];
	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	return dir;
}

static bool is_empty_dir(const char *dir)
{
	return tu_count_files(dir, NULL) == 0 && access(dir, F_OK) == 0;
}

/* Run `strata -W wh args` in cwd_dir(), stdin from in (NULL: /dev/null),
 * env (may be NULL) before it; stdout and stderr both into *out.  The exit
 * status. */
static int cli(const char *env, const char *wh, const char *args, const char *in, char **out)
{
	char cmd[8192];
	char inpath[4200] = "/dev/null";
	if (in) {
		snprintf(inpath, sizeof(inpath), "%s/stdin.jsonl", tu_tmpdir());
		CU_ASSERT_FATAL(tu_write_file(inpath, in, strlen(in)) == 0);
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s '%s' -W '%s' %s <'%s' 2>&1", cwd_dir(),
		 env ? env : "", tu_bin("strata"), wh, args, inpath);
	return tu_run(cmd, out);
}

/* The error of a failed command: exit 1, the catalog named as shown, the
 * reason, neither password, nothing made in the working directory. */
static void expect_error(const char *env, const char *wh, const char *args, const char *in,
			 const char *shown, const char *reason)
{
	char *out = NULL;
	int rc = cli(env, wh, args, in, &out);
	const char *o = out ? out : "";
	bool ok = rc == 1 && strncmp(o, "strata: ", 8) == 0 && strstr(o, shown) &&
		  strstr(o, reason) && !strstr(o, TU_PG_PW_PASSWORD) && !strstr(o, WRONG_PW) &&
		  strchr(o, '\n') == o + strlen(o) - 1;
	if (!ok)
		fprintf(stderr, "\n`strata -W %s %s`: exit %d, output \"%s\"; wanted exit 1 and one "
				"line naming \"%s\" with \"%s\", no password\n",
			wh, args, rc, o, shown, reason);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(o, shown));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, reason));
	CU_ASSERT_PTR_NULL(strstr(o, TU_PG_PW_PASSWORD));
	CU_ASSERT_PTR_NULL(strstr(o, WRONG_PW));
	CU_ASSERT(ok);
	CU_ASSERT(is_empty_dir(cwd_dir()));
	free(out);
}

/* The commands of a case: two that write, two that read, one init. */
static void expect_all_fail(const char *env, const char *wh, const char *shown,
			    const char *reason, const char *init_reason)
{
	char args[4200];
	snprintf(args, sizeof(args), "init --data '%s/never'", cwd_dir());
	expect_error(env, wh, args, NULL, shown, init_reason ? init_reason : reason);
	expect_error(env, wh, "create-table t --columns 'k BIGINT PRIMARY KEY, v STRING'", NULL,
		     shown, reason);
	expect_error(env, wh, "write t", "{\"k\":1,\"v\":\"a\"}\n", shown, reason);
	expect_error(env, wh, "tables", NULL, shown, reason);
	expect_error(env, wh, "scan t", NULL, shown, reason);
}

/* ---- the cases --------------------------------------------------------------------- */

static void test_unreachable_catalog(void)
{
	int port = tu_free_port(); /* nothing listens there */
	char wh[256], shown[256];
	snprintf(wh, sizeof(wh), "postgresql://%s:%s@127.0.0.1:%d/strata", TU_PG_PW_USER,
		 TU_PG_PW_PASSWORD, port);
	snprintf(shown, sizeof(shown), "catalog postgresql://%s@127.0.0.1:%d/strata: could not "
				       "connect",
		 TU_PG_PW_USER, port);
	expect_all_fail(NULL, wh, shown, "Connection refused", NULL);
}

static void test_wrong_password(void)
{
	db_new("bad_pw");
	char wh[256], shown[256];
	tu_pg_uri(TU_PG_PW_USER, WRONG_PW, "bad_pw", wh, sizeof(wh));
	tu_pg_uri(TU_PG_PW_USER, NULL, "bad_pw", shown, sizeof(shown));
	const char *reason = "password authentication failed";
	expect_all_fail(NULL, wh, shown, reason, NULL);
	/* as a query parameter, and from the environment */
	char q[300], qshown[300];
	snprintf(q, sizeof(q), "%s?password=%s&application_name=x", shown, WRONG_PW);
	snprintf(qshown, sizeof(qshown), "%s?application_name=x", shown);
	expect_all_fail(NULL, q, qshown, reason, NULL);
	expect_all_fail("PGPASSWORD=" WRONG_PW, shown, shown, reason, NULL);
	CU_ASSERT_FALSE(has_catalog("bad_pw"));
	/* the right one works (the cases above failed for the password) */
	char good[256], args[4200], *out = NULL;
	tu_pg_uri(TU_PG_PW_USER, TU_PG_PW_PASSWORD, "bad_pw", good, sizeof(good));
	snprintf(args, sizeof(args), "init --data '%s/data'", tu_tmpdir());
	int rc = cli(NULL, good, args, NULL, &out);
	if (rc)
		fprintf(stderr, "init: %s", out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NULL(strstr(out, TU_PG_PW_PASSWORD));
	free(out);
	CU_ASSERT(has_catalog("bad_pw"));
}

static void test_newer_catalog(void)
{
	db_new("bad_newer");
	char wh[256], shown[256], args[4200], *out = NULL;
	tu_pg_uri(TU_PG_PW_USER, TU_PG_PW_PASSWORD, "bad_newer", wh, sizeof(wh));
	tu_pg_uri(TU_PG_PW_USER, NULL, "bad_newer", shown, sizeof(shown));
	snprintf(args, sizeof(args), "init --data '%s/data'", tu_tmpdir());
	CU_ASSERT_EQUAL_FATAL(cli(NULL, wh, args, NULL, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(
		cli(NULL, wh, "create-table t --columns 'k BIGINT PRIMARY KEY, v STRING'", NULL, NULL),
		0);
	CU_ASSERT_EQUAL_FATAL(cli(NULL, wh, "write t", "{\"k\":1,\"v\":\"a\"}\n", NULL), 0);
	long long versions = q_int("bad_newer", "SELECT count(*) FROM strata.versions");
	long long files = q_int("bad_newer", "SELECT count(*) FROM strata.files");
	long long schema = q_int("bad_newer", "SELECT schema_version FROM strata.catalog_meta");
	CU_ASSERT(versions > 0 && files > 0 && schema > 0);
	/* a newer strata migrated it */
	q_int("bad_newer", "UPDATE strata.catalog_meta SET schema_version = schema_version + 1 "
			   "RETURNING 1");
	char reason[128];
	snprintf(reason, sizeof(reason), "is at catalog schema version %lld, newer than this strata's",
		 schema + 1);
	expect_all_fail(NULL, wh, shown, reason, "already holds a strata catalog");
	/* nothing written, nothing migrated back */
	CU_ASSERT_EQUAL(q_int("bad_newer", "SELECT count(*) FROM strata.versions"), versions);
	CU_ASSERT_EQUAL(q_int("bad_newer", "SELECT count(*) FROM strata.files"), files);
	CU_ASSERT_EQUAL(q_int("bad_newer", "SELECT schema_version FROM strata.catalog_meta"),
			schema + 1);
	/* the message says what to do */
	cli(NULL, wh, "tables", NULL, &out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out ? out : "", "upgrade strata"));
	free(out);
}

static void test_typos(void)
{
	int port = tu_pg_port();
	char wh[300], shown[300];
	/* an unknown query parameter */
	snprintf(wh, sizeof(wh), "postgresql://%s:%s@127.0.0.1:%d/strata?connect_timout=3",
		 TU_PG_PW_USER, TU_PG_PW_PASSWORD, port);
	snprintf(shown, sizeof(shown), "catalog postgresql://%s@127.0.0.1:%d/strata?connect_timout=3",
		 TU_PG_PW_USER, port);
	expect_all_fail(NULL, wh, shown, "invalid URI query parameter: \"connect_timout\"", NULL);
	/* an unknown database */
	tu_pg_uri(TU_PG_PW_USER, TU_PG_PW_PASSWORD, "strata_nosuch", wh, sizeof(wh));
	tu_pg_uri(TU_PG_PW_USER, NULL, "strata_nosuch", shown, sizeof(shown));
	expect_all_fail(NULL, wh, shown, "database \"strata_nosuch\" does not exist", NULL);
	/* a bad port */
	snprintf(wh, sizeof(wh), "postgresql://%s:%s@127.0.0.1:%d0000/strata", TU_PG_PW_USER,
		 TU_PG_PW_PASSWORD, port);
	snprintf(shown, sizeof(shown), "catalog postgresql://%s@127.0.0.1:%d0000/strata",
		 TU_PG_PW_USER, port);
	expect_all_fail(NULL, wh, shown, "invalid port number", NULL);
	/* a mistyped scheme is no directory: nothing is made of it */
	const char *schemes[] = {"postgresq://", "postgresql:/", "postgres:/"};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(schemes); i++) {
		snprintf(wh, sizeof(wh), "%s%s:%s@127.0.0.1:%d/strata", schemes[i], TU_PG_PW_USER,
			 TU_PG_PW_PASSWORD, port);
		expect_all_fail(NULL, wh, "is neither a directory nor a PostgreSQL catalog URI",
				"postgresql://", NULL);
		expect_error(NULL, wh, "init", NULL, "is neither a directory nor a PostgreSQL "
			     "catalog URI", "nothing was opened or created");
	}
}

static void test_init_data_not_creatable(void)
{
	db_new("bad_data");
	char wh[256], shown[256], args[4200], *out = NULL;
	tu_pg_uri(TU_PG_PW_USER, TU_PG_PW_PASSWORD, "bad_data", wh, sizeof(wh));
	tu_pg_uri(TU_PG_PW_USER, NULL, "bad_data", shown, sizeof(shown));
	/* a file where a directory of the path should be */
	char file[4200];
	snprintf(file, sizeof(file), "%s/a-file", tu_tmpdir());
	CU_ASSERT_FATAL(tu_write_file(file, "x", 1) == 0);
	snprintf(args, sizeof(args), "init --data '%s/data'", file);
	expect_error(NULL, wh, args, NULL, file, "could not create the data directory");
	/* no catalog was left behind: init again, with a good path, works */
	CU_ASSERT_FALSE(has_catalog("bad_data"));
	snprintf(args, sizeof(args), "init --data '%s/data'", tu_tmpdir());
	int rc = cli(NULL, wh, args, NULL, &out);
	if (rc)
		fprintf(stderr, "init: %s", out);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	CU_ASSERT(has_catalog("bad_data"));
	(void)shown;
}

static void register_tests(void)
{
	tu_pg_start_or_skip();
	CU_pSuite s = CU_add_suite("pgbad", NULL, NULL);
	TU_ADD(s, test_unreachable_catalog);
	TU_ADD(s, test_wrong_password);
	TU_ADD(s, test_newer_catalog);
	TU_ADD(s, test_typos);
	TU_ADD(s, test_init_data_not_creatable);
}

TU_MAIN(register_tests)
