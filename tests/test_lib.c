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
 * The columnar reads the same way: docs/LIBRARY.md's second example (two
 * threads adding up a column, now and as of the first version) and
 * tests/lib/colread.c, a program that writes tables through the public API
 * and holds columnar reads on 1 and 2 threads to the row API's scan (keys,
 * sums, every value), as of a version, by partition, key and key range,
 * and the errors; both built with pkg-config only against the installed
 * tree.  In process: every column type the table layer has is handed out
 * (a new internal type without a public twin fails here), and the edges of
 * the column list.
 *
 * Also: the installed files and links, the soname, that the .so exports
 * the public strata_db_* functions and nothing else (the 0.2 ones under the
 * version node STRATA_0.2), and that the public header compiles on its own
 * (-std=c99 -pedantic, no internal header).
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
#include "format/format.h"

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
		 "grep -v -e '^strata_db_' -e '^STRATA_0$' -e '^STRATA_0\\.2$' || true",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	if (o && *o)
		fprintf(stderr, "\nexported beyond the public API:\n%s", o);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", "");
	free(o);
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s/libstrata.so | grep -c ' strata_db_'",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT(o && atoi(o) >= 29);
	free(o);
	/* added in 0.2: versioned STRATA_0.2, the 0.1 ones stay STRATA_0 */
	snprintf(cmd, sizeof(cmd),
		 "objdump -T %s/libstrata.so | awk '$NF ~ /^strata_db_col/ {print $(NF-1)}' | "
		 "sort | uniq -c",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", "     10 STRATA_0.2\n");
	free(o);
	snprintf(cmd, sizeof(cmd),
		 "objdump -T %s/libstrata.so | awk '$NF == \"strata_db_scan\" {print $(NF-1)}'",
		 libdir);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", "STRATA_0\n");
	free(o);

	snprintf(cmd, sizeof(cmd), "%s pkg-config --modversion strata", pkgenv);
	CU_ASSERT_EQUAL(run(cmd, &o), 0);
	CU_ASSERT_STRING_EQUAL(o ? o : "?", STRATA_VERSION_STRING "\n");
	free(o);
	is_installed = true;
}

/* The structs a program passes in never change size or layout once
 * released (api/strata.h, "Stability"): these are their x86_64 LP64 sizes
 * and last fields as of 0.2.0.  A change here is an ABI break: add a new
 * struct and function instead. */
static void test_abi_frozen(void)
{
#if defined(__x86_64__) && defined(__LP64__)
	CU_ASSERT_EQUAL(sizeof(strata_db_table_spec), 40);
	CU_ASSERT_EQUAL(offsetof(strata_db_table_spec, nproperties), 32);
	CU_ASSERT_EQUAL(sizeof(strata_db_commit_opts), 16);
	CU_ASSERT_EQUAL(offsetof(strata_db_commit_opts, expect_version), 8);
	CU_ASSERT_EQUAL(sizeof(strata_db_read_opts), 48);
	CU_ASSERT_EQUAL(offsetof(strata_db_read_opts, columns), 40);
	CU_ASSERT_EQUAL(sizeof(strata_db_colscan_opts), 80);
	CU_ASSERT_EQUAL(offsetof(strata_db_colscan_opts, batch_rows), 72);
#endif
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

/* Extract docs/LIBRARY.md's nth ```c block (1-based) into dir/name. */
static void extract_block(const char *dir, int nth, const char *name)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "awk '/^```c$/{n++; f=(n==%d); next} /^```$/{f=0} f' docs/LIBRARY.md > %s/%s && "
		 "grep -q strata_db_open %s/%s",
		 nth, dir, name, dir, name);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
}

/* Extract docs/LIBRARY.md's example into dir/example.c. */
static void extract_example(const char *dir)
{
	extract_block(dir, 1, "example.c");
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

/* Build src (in dir) as dir/prog against the installed shared library with
 * pkg-config only, and run it on dir/wh; its output in *out. */
static int build_run(const char *dir, const char *src, char **out)
{
	char cmd[16384];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && %s cc -std=c11 -Wall -Wextra -Werror " SAN_CC " -o prog %s "
		 "$(pkg-config --cflags --libs strata) 2>&1",
		 dir, pkgenv, src);
	if (run(cmd, NULL) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "LD_LIBRARY_PATH=%s %s/prog %s/wh 2>&1", libdir, dir, dir);
	return run(cmd, out);
}

/* docs/LIBRARY.md's columnar example: two threads add up a column, now and
 * as of the first version, and a bad column's message. */
static void test_columnar_example(void)
{
	CU_ASSERT_FATAL(is_installed);
	const char *dir = tu_tmpdir();
	extract_block(dir, 2, "colexample.c");
	char *o = NULL;
	CU_ASSERT_EQUAL(build_run(dir, "colexample.c", &o), 0);
	const char *want[] = {
		"now: version 3, 16 buckets, 900 rows (90 null), sum 12555.0\n",
		"v1: version 2, 16 buckets, 1000 rows (100 null), sum 13860.0\n",
		"error: table \"readings\" has no column \"humidity\" (its columns: id, station, "
		"temp)\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_PTR_NOT_NULL(o ? strstr(o, want[i]) : NULL);
		if (o && !strstr(o, want[i]))
			fprintf(stderr, "\nwanted: %sgot:\n%s", want[i], o);
	}
	free(o);
}

/* tests/lib/colread.c: columnar reads on 1 and 2 threads held to the row
 * API's scan; it prints a FAIL line per difference. */
static void test_columnar_program(void)
{
	CU_ASSERT_FATAL(is_installed);
	const char *dir = tu_tmpdir();
	char cmd[8192], *o = NULL;
	snprintf(cmd, sizeof(cmd), "cp tests/lib/colread.c %s/", dir);
	CU_ASSERT_EQUAL_FATAL(run(cmd, NULL), 0);
	CU_ASSERT_EQUAL(build_run(dir, "colread.c", &o), 0);
	const char *want[] = {
		"latest threads=1 rows=2828 sum=4850351 same\n",
		"latest threads=2 rows=2828 sum=4850351 same\n",
		"as of v1 threads=1 rows=3000 sum=396 same\n",
		"as of v1 threads=2 rows=3000 sum=396 same\n",
		"projection threads=2 rows=2828 sum=4850351 same\n",
		"partition pt=a rows=100 sum=10000 same\n",
		"key id=10 rows=1 sum=9870 same\n",
		"range id=100..1999 rows=1728 sum=2950002 same\n",
		"no columns rows=2828 same\n",
		"error unknown table: unknown table \"nope\"\n",
		"error unknown column: table \"m\" has no column \"zz\" (its columns: id, i, d, f, "
		"b, s, bin, ts)\n",
		"ALL OK (0 failures)\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(o ? strstr(o, want[i]) : NULL);
	CU_ASSERT_PTR_NULL(o ? strstr(o, "FAIL") : "no output");
	if (o && (strstr(o, "FAIL") || !strstr(o, "ALL OK")))
		fprintf(stderr, "\n%s", o);
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

/* Every column type the table layer has comes out of a columnar scan with
 * a public type of the right width: a type added to format/format.h without
 * a public twin in api/api.c's type_public() fails here (the scan refuses
 * it with STRATA_DB_EUNSUPPORTED). */
static void test_columnar_types(void)
{
	const char *dir = tu_tmpdir();
	char wh[4200], cols[4096];
	snprintf(wh, sizeof(wh), "%s/wh", dir);
	strata_db *db = NULL;
	strata_db_error err;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(wh, STRATA_DB_CREATE, &db, &err), 0);
	size_t n = 0, len = (size_t)snprintf(cols, sizeof(cols), "k BIGINT NOT NULL PRIMARY KEY");
	for (int t = 1; t < 64; t++) {
		const char *tn = strata_type_name((strata_type)t);
		if (strcmp(tn, "UNKNOWN") == 0)
			continue;
		len += (size_t)snprintf(cols + len, sizeof(cols) - len, ", c%d %s", t, tn);
		n++;
	}
	CU_ASSERT(n >= 8);
	strata_db_table_spec spec = {.columns = cols};
	CU_ASSERT_EQUAL_FATAL(strata_db_create_table(db, "all", &spec, &err), 0);
	strata_db_txn *t = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "all", &t, &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":1}", &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_commit(t, NULL, NULL, &err), 0);
	strata_db_colscan *cs = NULL;
	int rc = strata_db_colscan_open(db, "all", NULL, &cs, &err);
	if (rc != 0)
		fprintf(stderr, "\n%s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(strata_db_colscan_ncols(cs), n + 1);
	for (size_t j = 1; j < strata_db_colscan_ncols(cs); j++) {
		const strata_db_column *c = strata_db_colscan_column(cs, j);
		int it = atoi(c->name + 1);
		CU_ASSERT(c->type >= STRATA_DB_T_BIGINT);
		CU_ASSERT(c->is_nullable && c->key_pos == -1 && !c->is_partition);
		/* the name agrees: BIGINT is BIGINT, ... */
		static const char *const names[] = {"",	    "BIGINT",	 "INT",	 "DOUBLE",
						    "FLOAT",	    "BOOLEAN",	 "STRING", "BINARY",
						    "TIMESTAMP", "DATE", "DECIMAL"};
		if ((size_t)c->type < sizeof(names) / sizeof(names[0]))
			CU_ASSERT_STRING_EQUAL(names[c->type], strata_type_name((strata_type)it));
	}
	const strata_db_column *k = strata_db_colscan_column(cs, 0);
	CU_ASSERT(k->type == STRATA_DB_T_BIGINT && k->key_pos == 0 && !k->is_nullable);
	/* one row: the key 1, every other column null and zero */
	strata_db_colcursor *c = NULL;
	const strata_db_batch *b = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_colcursor_open(cs, &c, &err), 0);
	CU_ASSERT_EQUAL(strata_db_colcursor_next(c, &b, &err), 1);
	CU_ASSERT_EQUAL_FATAL(b->nrows, 1);
	CU_ASSERT_EQUAL(((const int64_t *)b->values[0])[0], 1);
	CU_ASSERT_EQUAL(b->nulls[0][0], 0);
	for (size_t j = 1; j < b->ncols; j++)
		CU_ASSERT_EQUAL(b->nulls[j][0], 1);
	CU_ASSERT_EQUAL(strata_db_colcursor_next(c, &b, &err), 0);
	strata_db_colcursor_close(c);
	strata_db_colscan_close(cs);
	strata_db_close(db);
}

/* The column list: order, spaces, repeats, none, and what it refuses. */
static void test_columnar_columns(void)
{
	const char *dir = tu_tmpdir();
	char wh[4200];
	snprintf(wh, sizeof(wh), "%s/wh", dir);
	strata_db *db = NULL;
	strata_db_error err;
	CU_ASSERT_EQUAL_FATAL(strata_db_open(wh, STRATA_DB_CREATE, &db, &err), 0);
	strata_db_table_spec spec = {.columns = "k BIGINT NOT NULL PRIMARY KEY, v STRING",
				     .partitioned_by = "pt STRING"};
	CU_ASSERT_EQUAL_FATAL(strata_db_create_table(db, "t", &spec, &err), 0);
	strata_db_txn *t = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_txn_begin(db, "t", &t, &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_put(t, "{\"k\":5,\"v\":\"five\",\"pt\":\"x\"}", &err), 0);
	CU_ASSERT_EQUAL(strata_db_txn_commit(t, NULL, NULL, &err), 0);

	strata_db_colscan *cs = NULL;
	strata_db_colscan_opts o = {.columns = " v , pt,k,v "};
	CU_ASSERT_EQUAL_FATAL(strata_db_colscan_open(db, "t", &o, &cs, &err), 0);
	CU_ASSERT_EQUAL(strata_db_colscan_ncols(cs), 4);
	const char *order[] = {"v", "pt", "k", "v"};
	for (size_t j = 0; j < 4; j++)
		CU_ASSERT_STRING_EQUAL(strata_db_colscan_column(cs, j)->name, order[j]);
	CU_ASSERT(strata_db_colscan_column(cs, 1)->is_partition);
	CU_ASSERT_PTR_NULL(strata_db_colscan_column(cs, 4));
	strata_db_colcursor *c = NULL;
	const strata_db_batch *b = NULL;
	CU_ASSERT_EQUAL_FATAL(strata_db_colcursor_open(cs, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(strata_db_colcursor_next(c, &b, &err), 1);
	CU_ASSERT_EQUAL_FATAL(b->nrows, 1);
	CU_ASSERT_EQUAL(b->ncols, 4);
	const strata_db_bytes *v0 = b->values[0], *pt = b->values[1], *v3 = b->values[3];
	CU_ASSERT(v0[0].len == 4 && memcmp(v0[0].ptr, "five", 4) == 0);
	CU_ASSERT(v3[0].len == 4 && memcmp(v3[0].ptr, "five", 4) == 0);
	CU_ASSERT(pt[0].len == 1 && pt[0].ptr[0] == 'x');
	CU_ASSERT_EQUAL(((const int64_t *)b->values[2])[0], 5);
	CU_ASSERT_EQUAL(strata_db_colcursor_next(c, &b, &err), 0);
	strata_db_colcursor_close(c);
	strata_db_colscan_close(cs);

	/* refused: unknown names (case matters), an empty name, a trailing comma */
	const char *bad[] = {"k,V", "k,,v", "k,", "nope"};
	const char *named[] = {"\"V\"", "\"\"", "ends with a comma", "\"nope\""};
	for (size_t i = 0; i < 4; i++) {
		strata_db_colscan_opts ob = {.columns = bad[i]};
		cs = (strata_db_colscan *)1;
		CU_ASSERT_EQUAL(strata_db_colscan_open(db, "t", &ob, &cs, &err), STRATA_DB_EINVAL);
		CU_ASSERT_EQUAL(err.code, STRATA_DB_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, named[i]));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "table \"t\""));
		CU_ASSERT_EQUAL(cs, (strata_db_colscan *)1); /* untouched on failure */
	}
	/* a bad partition, a time before the table, a missing tag */
	strata_db_colscan_opts bp = {.partition = "zz=1"};
	CU_ASSERT(strata_db_colscan_open(db, "t", &bp, &cs, &err) < 0);
	CU_ASSERT(err.msg[0] != '\0');
	strata_db_colscan_opts tag = {.as_of_tag = "nosuchtag"};
	CU_ASSERT_EQUAL(strata_db_colscan_open(db, "t", &tag, &cs, &err), STRATA_DB_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nosuchtag"));
	CU_ASSERT_EQUAL(strata_db_colscan_open(db, NULL, NULL, &cs, &err), STRATA_DB_EINVAL);
	strata_db_colscan_close(NULL);
	strata_db_colcursor_close(NULL);
	strata_db_close(db);
}

static void register_lib(void)
{
	CU_pSuite s = CU_add_suite("lib", NULL, NULL);
	CU_add_test(s, "errors", test_errors);
	CU_add_test(s, "install", test_install);
	CU_add_test(s, "header_alone", test_header_alone);
	CU_add_test(s, "abi_frozen", test_abi_frozen);
	CU_add_test(s, "example_shared", test_example_shared);
	CU_add_test(s, "example_static", test_example_static);
	CU_add_test(s, "columnar_types", test_columnar_types);
	CU_add_test(s, "columnar_columns", test_columnar_columns);
	CU_add_test(s, "columnar_example", test_columnar_example);
	CU_add_test(s, "columnar_program", test_columnar_program);
}

TU_MAIN(register_lib)
