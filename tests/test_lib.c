/*
 * tests/test_lib.c — libstrata as an outside program sees it: `make
 * install` into a scratch DESTDIR, then the worked example of
 * docs/LIBRARY.md (extracted from the page, so the page cannot rot) built
 * with `pkg-config --cflags --libs strata` only — PKG_CONFIG_PATH and
 * PKG_CONFIG_SYSROOT_DIR point at the scratch tree — once against the
 * shared library and once against the static one, run on a real warehouse,
 * and what it prints checked: the rows it wrote, the first version by time
 * travel, a lookup and the changes.
 *
 * Also: the installed files and links, the soname, that the .so exports
 * the public strata_db_* functions and nothing else, and that the public
 * header compiles on its own (-std=c99 -pedantic, no internal header).
 *
 * Under `make asan` the nested `make install` passes SAN=1 and the example
 * is built with the sanitizers too (the library in build-asan/ is
 * instrumented).  Runs from the repository root, as tests/run-tests does.
 */
#include "tests/util/testutil.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/strata.h"

#define PREFIX "/usr/local"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_MAKE "SAN=1 OPT='-O1 -g'"
#define SAN_CC "-fsanitize=address,undefined -fno-omit-frame-pointer"
#else
#define SAN_MAKE ""
#define SAN_CC ""
#endif

static const char *dest;    /* the DESTDIR */
static char pkgenv[8192];   /* PKG_CONFIG_* for the scratch tree */
static char libdir[4096];   /* DESTDIR/usr/local/lib */
static bool is_installed;

static const char *build_dir(void)
{
	const char *b = getenv("STRATA_BUILD");
	return b && *b ? b : "build";
}

static bool exists(const char *dir, const char *name, bool is_link)
{
	char p[8192];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (lstat(p, &st) != 0) {
		fprintf(stderr, "missing: %s\n", p);
		return false;
	}
	return is_link ? S_ISLNK(st.st_mode) : S_ISREG(st.st_mode);
}

/* Run cmd (through sh), print its output on failure, return its status. */
static int run(const char *cmd, char **out)
{
	char *o = NULL;
	int rc = tu_run(cmd, &o);
	if (rc != 0)
		fprintf(stderr, "\n$ %s\nexit %d\n%s\n", cmd, rc, o ? o : "");
	if (out)
		*out = o;
	else
		free(o);
	return rc;
}

static void test_install(void)
{
	const char *scratch = tu_tmpdir();
	static char d[4096];
	snprintf(d, sizeof(d), "%s/dest", scratch);
	dest = d;
	char cmd[16384];
	/* a nested make must not inherit the outer one's jobserver */
	snprintf(cmd, sizeof(cmd),
		 "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory BUILD=%s %s "
		 "install DESTDIR=%s PREFIX=" PREFIX " 2>&1",
		 build_dir(), SAN_MAKE, dest);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
	snprintf(libdir, sizeof(libdir), "%s" PREFIX "/lib", dest);
	snprintf(pkgenv, sizeof(pkgenv),
		 "export PKG_CONFIG_PATH=%s/pkgconfig PKG_CONFIG_SYSROOT_DIR=%s;", libdir, dest);

	CU_ASSERT(exists(libdir, "libstrata.so." STRATA_VERSION_STRING, false));
	CU_ASSERT(exists(libdir, "libstrata.so.0", true));
	CU_ASSERT(exists(libdir, "libstrata.so", true));
	CU_ASSERT(exists(libdir, "libstrata.a", false));
	CU_ASSERT(exists(libdir, "pkgconfig/strata.pc", false));
	char inc[4200];
	snprintf(inc, sizeof(inc), "%s" PREFIX "/include/strata", dest);
	CU_ASSERT(exists(inc, "strata.h", false));
	char man[4200];
	snprintf(man, sizeof(man), "%s" PREFIX "/share/man", dest);
	CU_ASSERT(exists(man, "man1/strata.1", false));
	CU_ASSERT(exists(man, "man5/stratad.ini.5", false));
	CU_ASSERT(exists(man, "man8/stratad.8", false));

	/* the soname carries the major version only */
	char *o = NULL;
	snprintf(cmd, sizeof(cmd), "readelf -d %s/libstrata.so." STRATA_VERSION_STRING, libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT_PTR_NOT_NULL(o && strstr(o, "[libstrata.so.0]") ? o : NULL);
	free(o);

	/* exported: strata_db_* (and the version node), nothing else */
	snprintf(cmd, sizeof(cmd),
		 "nm -D --defined-only %s/libstrata.so | awk '{print $3}' | "
		 "grep -v -e '^strata_db_' -e '^STRATA_0$' || true",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	if (o && *o)
		fprintf(stderr, "\nexported beyond the public API:\n%s", o);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", "");
	free(o);
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s/libstrata.so | grep -c ' strata_db_'",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT(o && atoi(o) >= 19);
	free(o);

	snprintf(cmd, sizeof(cmd), "%s pkg-config --modversion strata", pkgenv);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", STRATA_VERSION_STRING "\n");
	free(o);
	is_installed = true;
}

/* The public header alone, strict C99, nothing but the installed include
 * directory on the path. */
static void test_header_alone(void)
{
	CU_ASSERT_FATAL(is_installed);
	const char *dir = tu_tmpdir();
	char src[4200], cmd[16384];
	snprintf(src, sizeof(src), "%s/alone.c", dir);
	const char *text = "#include <strata/strata.h>\n"
			   "#if STRATA_VERSION_NUMBER < 100\n#error version\n#endif\n"
			   "int main(void) { strata_db *db = 0; (void)db; return 0; }\n";
	CU_ASSERT_EQUAL_FATAL(tu_write_file(src, text, strlen(text)), 0);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s cc -std=c99 -pedantic -Wall -Wextra -Werror -c alone.c "
		 "$(pkg-config --cflags strata) 2>&1",
		 dir, pkgenv);
	CU_ASSERT_EQUAL(run(cmd, NULL), 0);
}

/* Extract docs/LIBRARY.md's example into dir/example.c. */
static void extract_example(const char *dir)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "awk '/^```c$/{f=1;next} /^```$/{f=0} f' docs/LIBRARY.md > %s/example.c && "
		 "grep -q strata_db_open %s/example.c",
		 dir, dir);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
}

/* What the example prints about its warehouse. */
static void check_example_output(const char *o)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "libstrata " STRATA_VERSION_STRING " (headers "));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "now {\"id\":1,\"name\":\"ada\",\"score\":9.5}\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "now {\"id\":2,\"name\":\"bob\",\"score\":8"));
	CU_ASSERT_PTR_NULL(strstr(o, "now {\"id\":3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "v1 {\"id\":3,\"name\":\"cy\",\"score\":null}\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "v1 {\"id\":2,\"name\":\"bob\",\"score\":7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "get {\"id\":2,\"name\":\"bob\",\"score\":8"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "\"_op\":\"delete\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "changed {\"id\":2,"));
	CU_ASSERT_PTR_NULL(strstr(o, "changed {\"id\":1,"));
}

static void test_example_shared(void)
{
	CU_ASSERT_FATAL(is_installed);
	const char *dir = tu_tmpdir();
	extract_example(dir);
	char cmd[16384], *o = NULL;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s cc -std=c11 -Wall -Wextra -Werror " SAN_CC " -o example example.c "
		 "$(pkg-config --cflags --libs strata) 2>&1",
		 dir, pkgenv);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
	/* it needs the shared library, and runs with the installed one */
	snprintf(cmd, sizeof(cmd), "readelf -d %s/example | grep -c 'NEEDED.*libstrata.so.0'", dir);
	CU_ASSERT_EQUAL(run(cmd, NULL), 0);
	snprintf(cmd, sizeof(cmd), "LD_LIBRARY_PATH=%s %s/example %s/wh 2>&1", libdir, dir, dir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	if (o)
		check_example_output(o);
	free(o);
}

static void test_example_static(void)
{
	CU_ASSERT_FATAL(is_installed);
	const char *dir = tu_tmpdir();
	extract_example(dir);
	char cmd[16384], *o = NULL;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s cc -std=c11 -Wall -Wextra -Werror " SAN_CC
		 " -o example example.c $(pkg-config --cflags strata) -Wl,--as-needed "
		 "-Wl,-Bstatic $(pkg-config --libs strata) -Wl,-Bdynamic "
		 "$(pkg-config --static --libs strata) 2>&1",
		 dir, pkgenv);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
	/* no libstrata.so in sight: it runs without LD_LIBRARY_PATH */
	snprintf(cmd, sizeof(cmd), "! readelf -d %s/example | grep libstrata", dir);
	CU_ASSERT_EQUAL(run(cmd, NULL), 0);
	snprintf(cmd, sizeof(cmd), "%s/example %s/wh 2>&1", dir, dir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	if (o)
		check_example_output(o);
	free(o);
}

/* The same library in-process (linked from libstrata.a like every suite):
 * error codes and messages. */
static void test_errors(void)
{
	const char *dir = tu_tmpdir();
	char wh[4200];
	snprintf(wh, sizeof(wh), "%s/none", dir);
	strata_db *db = NULL;
	strata_db_error err;
	CU_ASSERT(strata_db_open(wh, 0, &db, &err) < 0);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT(err.code < 0 && err.msg[0]);
	CU_ASSERT_EQUAL_FATAL(strata_db_open(wh, STRATA_DB_CREATE, &db, &err), 0);
	strata_db_txn *t = NULL;
	CU_ASSERT_EQUAL(strata_db_txn_begin(db, "nope", &t, &err), STRATA_DB_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nope"));
	strata_db_table_spec spec = {.columns = "k BIGINT NOT NULL PRIMARY KEY, v STRING"};
	CU_ASSERT_EQUAL(strata_db_create_table(db, "t", &spec, &err), 0);
	CU_ASSERT_EQUAL(strata_db_create_table(db, "t", &spec, &err), STRATA_DB_EEXIST);
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "t", &t, &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":", &err), STRATA_DB_EINVAL);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "[1]", &err), STRATA_DB_EINVAL);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"v\":\"x\"}", &err), STRATA_DB_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "k"));
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":1,\"v\":\"x\"}", NULL), 0);
	CU_ASSERT_EQUAL(strata_db_txn_rows(t), 1);
	uint64_t v = 0, latest = 0;
	CU_ASSERT_EQUAL(strata_db_txn_commit(t, NULL, &v, &err), 0);
	CU_ASSERT_EQUAL(strata_db_table_version(db, "t", &latest, &err), 0);
	CU_ASSERT_EQUAL(latest, v);
	/* an expected version that is not the latest conflicts */
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "t", &t, &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":2}", &err), 0);
	strata_db_commit_opts co = {.expect_version = v - 1};
	CU_ASSERT_EQUAL(strata_db_txn_commit(t, &co, NULL, &err), STRATA_DB_ECONFLICT);
	char *row = (char *)"x";
	CU_ASSERT_EQUAL(strata_db_get(db, "t", "{\"k\":2}", NULL, &row, &err), 0);
	CU_ASSERT_PTR_NULL(row);
	CU_ASSERT_EQUAL(strata_db_get(db, "t", "{\"k\":1}", NULL, &row, &err), 1);
	CU_ASSERT_STRING_EQUAL(row ? row : "", "{\"k\":1,\"v\":\"x\"}");
	strata_db_free(row);
	strata_db_read_opts far = {.as_of_version = v + 100};
	strata_db_cursor *c = NULL;
	CU_ASSERT(strata_db_scan(db, "t", &far, &c, &err) < 0);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(strata_db_strerror(STRATA_DB_ECONFLICT), "conflict");
	int ma = -1;
	CU_ASSERT_STRING_EQUAL(strata_db_version(&ma, NULL, NULL), STRATA_VERSION_STRING);
	CU_ASSERT_EQUAL(ma, STRATA_VERSION_MAJOR);
	strata_db_cursor_close(NULL);
	strata_db_txn_abort(NULL);
	strata_db_close(db);
	strata_db_close(NULL);
}

static void register_lib(void)
{
	CU_pSuite s = CU_add_suite("lib", NULL, NULL);
	CU_add_test(s, "errors", test_errors);
	CU_add_test(s, "install", test_install);
	CU_add_test(s, "header_alone", test_header_alone);
	CU_add_test(s, "example_shared", test_example_shared);
	CU_add_test(s, "example_static", test_example_static);
}

TU_MAIN(register_lib)
