/*
 * tests/test_damage.c — a damaged manifest is detected, never acted on;
 * read-only warehouses; reads on a full disk; dead readers' leases.
 *
 * Everything runs the real `strata` binary against a real warehouse whose
 * manifest/data.mdb is damaged on disk: removed (a read command must not
 * recreate it), truncated (no SIGBUS), pages overwritten with random bytes
 * or zeros or with their header scrambled (no signal, no LMDB assertion, no
 * table read as empty), and the reported disaster — a damaged page, then
 * `strata clean` with orphan age 0 — must delete and trash nothing.  The
 * damage loop repeats random damage with a fixed seed
 * ($STRATA_DAMAGE_SEED, default 20261205) for $STRATA_DAMAGE_ITERS
 * iterations (default 24; `make damage-long` runs 2000): every read
 * returns the model's rows or fails with an error, no process dies of a
 * signal, nothing is deleted.
 *
 * Read-only: the warehouse is made unwritable (chmod -R a-w) and read as
 * uid 65534 through setpriv (root ignores permissions), then read by root
 * through a read-only bind mount (skipped loudly when mount is refused).  Full disk: a 4 MiB
 * tmpfs mounted in the scratch directory and filled (skipped loudly when
 * mount is not permitted).  Dead lease: a child process takes a lease and
 * is killed with -9.
 */
#include "tests/util/testutil.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "clean/clean.h"
#include "table/table.h"
#include "tests/util/tu_daemon.h"

static char scratch[PATH_MAX];

static void paths_init(void)
{
	if (!*scratch)
		snprintf(scratch, sizeof(scratch), "%s", tu_tmpdir());
}

/* Run `[prefix] strata -W wh ARGS`; stdout and stderr into *out, *err
 * (malloc'd, may be NULL).  Returns the exit status (>= 128: a signal). */
static int cli_as(const char *prefix, const char *wh, const char *args, char **out, char **err)
{
	paths_init();
	char errpath[PATH_MAX + 16];
	snprintf(errpath, sizeof(errpath), "%s/stderr", scratch);
	strata_buf cmd = {0};
	strata_buf_printf(&cmd, "env -u STRATA_WAREHOUSE %s '%s' -W '%s' %s </dev/null 2>'%s'",
			  prefix ? prefix : "", tu_bin("strata"), wh, args, errpath);
	strata_buf_putc(&cmd, 0);
	char *o = NULL;
	int rc = tu_run((char *)cmd.data, &o);
	strata_buf_free(&cmd);
	char *e = tu_read_file(errpath, NULL);
	if (!e)
		e = strdup("");
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return rc;
}

static int cli(const char *wh, const char *args, char **out, char **err)
{
	return cli_as(NULL, wh, args, out, err);
}

static void cli_ok(const char *wh, const char *args)
{
	char *out, *err;
	int rc = cli(wh, args, &out, &err);
	if (rc != 0)
		fprintf(stderr, "\n`strata %s`: exit %d\n%s%s\n", args, rc, out, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	free(out);
	free(err);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of s, sorted, joined again (scan order is per bucket). */
static char *sorted_lines(const char *s)
{
	char *copy = strdup(s ? s : "");
	char **v = NULL;
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = l;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), line_cmp);
	strata_buf b = {0};
	for (size_t i = 0; i < n; i++)
		strata_buf_printf(&b, "%s\n", v[i]);
	strata_buf_putc(&b, 0);
	free(v);
	free(copy);
	return (char *)b.data;
}

/* A warehouse at dir/wh: table t (2 buckets), six writes, sorted, cleaned
 * to a steady state (a further clean deletes nothing). */
static const char *make_warehouse(const char *dir)
{
	static char wh[4][PATH_MAX];
	static int next;
	char *p = wh[next++ % 4];
	snprintf(p, PATH_MAX, "%s/wh", dir);
	cli_ok(p, "init");
	cli_ok(p, "create-table t --columns 'pk BIGINT NOT NULL PRIMARY KEY, v STRING' "
		  "--property write.bucket.num=2");
	for (int i = 1; i <= 6; i++) {
		char cmd[PATH_MAX + 600];
		snprintf(cmd, sizeof(cmd),
			 "printf '{\"pk\":%d,\"v\":\"v%d\"}\\n{\"pk\":%d,\"v\":\"w%d\"}\\n' | "
			 "env -u STRATA_WAREHOUSE '%s' -W '%s' write t >/dev/null",
			 i, i, i + 10, i, tu_bin("strata"), p);
		CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL), 0);
	}
	cli_ok(p, "sort t");
	cli_ok(p, "clean t --grace-s 0 --trash-s 0 --orphan-age-s 0");
	return p;
}

static int count_data_files(const char *wh)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/data", wh);
	return tu_count_files(p, ".trash") - tu_count_files_under(p, "t/.trash");
}

static int count_trash(const char *wh)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/data", wh);
	return tu_count_files_under(p, "t/.trash");
}

static void mdb_path(const char *wh, char *out, size_t n)
{
	snprintf(out, n, "%s/manifest/data.mdb", wh);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *d = tu_read_file(from, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(to, d, n), 0);
	free(d);
}

static void write_at(const char *path, long off, const void *p, size_t n)
{
	FILE *f = fopen(path, "r+b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, off, SEEK_SET);
	CU_ASSERT_EQUAL(fwrite(p, 1, n, f), n);
	fclose(f);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- 1: a missing manifest is an error, never recreated -------------------- */

static void test_missing_manifest(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	char mdb[PATH_MAX + 32];
	mdb_path(wh, mdb, sizeof(mdb));
	CU_ASSERT_EQUAL_FATAL(unlink(mdb), 0);
	const char *cmds[] = {"tables", "scan t", "describe t", "log t", "write t --file /dev/null",
			      "clean t", "check"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *out, *err;
		int rc = cli(wh, cmds[i], &out, &err);
		if (rc != 1 || !strstr(strcmp(cmds[i], "check") ? err : out, "data.mdb"))
			fprintf(stderr, "\n`strata %s`: exit %d\n%s%s\n", cmds[i], rc, out, err);
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(strcmp(cmds[i], "check") ? err : out, "data.mdb"));
		free(out);
		free(err);
		CU_ASSERT_EQUAL(file_size(mdb), -1); /* never recreated */
	}
}

/* ---- 2: a truncated manifest is an error, never SIGBUS -------------------------- */

static void test_truncated_manifest(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	char mdb[PATH_MAX + 32];
	mdb_path(wh, mdb, sizeof(mdb));
	long size = file_size(mdb);
	CU_ASSERT_FATAL(size > 3 * 4096);
	long cuts[] = {2 * 4096, size / 2 / 4096 * 4096, size - 4096};
	for (size_t c = 0; c < 3; c++) {
		CU_ASSERT_EQUAL_FATAL(truncate(mdb, cuts[c]), 0);
		const char *cmds[] = {"tables", "scan t", "get t --key '{\"pk\":1}'",
				      "write t --file /dev/null", "clean t --orphan-age-s 0"};
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			char *err;
			int rc = cli(wh, cmds[i], NULL, &err);
			if (rc != 1 || !strstr(err, "truncated"))
				fprintf(stderr, "\n`strata %s` at %ld bytes: exit %d: %s\n", cmds[i],
					cuts[c], rc, err);
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "data.mdb\" is truncated"));
			free(err);
		}
	}
}

/* A file that ends before its meta's last page only by free pages is whole:
 * LMDB never writes pages allocated and freed in one transaction (here the
 * overflow pages of a value put and deleted again), and reads it fine.  The
 * check first called every short file truncated, refusing clean and every
 * command (test_governance met one). */
static void test_short_by_free_pages_is_whole(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	char dir[PATH_MAX + 32], mdb[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/manifest", wh);
	mdb_path(wh, mdb, sizeof(mdb));
	MDB_env *env;
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	mdb_env_set_mapsize(env, 256ull << 20);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, 0, 0644), 0);
	MDB_txn *txn;
	MDB_dbi dbi;
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	static uint8_t big[64 * 1024];
	memset(big, 0x5a, sizeof(big));
	MDB_val k = {.mv_size = 12, .mv_data = "test-scratch"};
	MDB_val v = {.mv_size = sizeof(big), .mv_data = big};
	CU_ASSERT_EQUAL_FATAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_del(txn, dbi, &k, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	MDB_envinfo info;
	mdb_env_info(env, &info);
	mdb_env_close(env);
	long size = file_size(mdb);
	/* the case itself: the file ends before the last page the meta counts */
	CU_ASSERT_FATAL((uint64_t)size < ((uint64_t)info.me_last_pgno + 1) * 4096);
	const char *cmds[] = {"check", "scan t", "clean t --orphan-age-s 0"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *err = NULL;
		int rc = cli(wh, cmds[i], NULL, &err);
		if (rc != 0)
			fprintf(stderr, "\n`strata %s` on a file short by free pages: exit %d: %s\n",
				cmds[i], rc, err ? err : "");
		CU_ASSERT_EQUAL(rc, 0);
		free(err);
	}
}

/* ---- 3, 4, 9: page damage — no signal, no silent wrong read, nothing deleted --- */

typedef struct model {
	char *scan;    /* sorted scan output */
	char *get;     /* get pk 3 */
	char *changes; /* sorted changes (1, 4] */
	int files;
} model;

static void model_take(const char *wh, model *m)
{
	char *out;
	CU_ASSERT_EQUAL_FATAL(cli(wh, "scan t", &out, NULL), 0);
	m->scan = sorted_lines(out);
	free(out);
	CU_ASSERT_EQUAL_FATAL(cli(wh, "get t --key '{\"pk\":3}'", &m->get, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(cli(wh, "changes t --between 1 4", &out, NULL), 0);
	m->changes = sorted_lines(out);
	free(out);
	m->files = count_data_files(wh);
	CU_ASSERT_FATAL(m->files > 0);
	CU_ASSERT_FATAL(strlen(m->scan) > 100);
}

static void model_free(model *m)
{
	free(m->scan);
	free(m->get);
	free(m->changes);
}

typedef struct damage_stats {
	int reads_ok, reads_refused, cleans_refused, cleans_ran;
} damage_stats;

/* One read: the model's answer, or an error exit naming the manifest (or
 * the table the damage took away).  Never a signal, never other rows. */
static void read_check(const char *wh, const char *args, const char *want, bool is_sorted,
		       const char *what, damage_stats *st)
{
	char *out, *err;
	int rc = cli(wh, args, &out, &err);
	char *got = is_sorted ? sorted_lines(out) : strdup(out ? out : "");
	bool ok = (rc == 0 && strcmp(got, want) == 0) || (rc == 1 && err[0]);
	if (!ok)
		fprintf(stderr, "\n%s: `strata %s`: exit %d\nstdout: %.400s\nstderr: %.400s\n", what,
			args, rc, out, err);
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_TRUE(rc < 128);
	if (rc == 0)
		st->reads_ok++;
	else
		st->reads_refused++;
	free(got);
	free(out);
	free(err);
}

/* After damage: reads, check, then clean and an orphan scan with every age
 * at 0 — which must delete and trash nothing. */
static void damage_round(const char *wh, const model *m, const char *what, damage_stats *st)
{
	read_check(wh, "scan t", m->scan, true, what, st);
	read_check(wh, "get t --key '{\"pk\":3}'", m->get, false, what, st);
	read_check(wh, "changes t --between 1 4", m->changes, true, what, st);
	char *out, *err;
	int rc = cli(wh, "check", &out, &err);
	if (rc != 0 && rc != 1)
		fprintf(stderr, "\n%s: `strata check`: exit %d\nstdout: %.400s\nstderr: %.400s\n", what,
			rc, out, err);
	CU_ASSERT_TRUE(rc == 0 || rc == 1);
	free(out);
	free(err);
	rc = cli(wh, "clean t --grace-s 0 --trash-s 0 --orphan-age-s 0", &out, &err);
	if (rc >= 128)
		fprintf(stderr, "\n%s: clean died: exit %d: %s\n", what, rc, err);
	CU_ASSERT_TRUE(rc == 0 || rc == 1);
	if (rc == 0)
		st->cleans_ran++;
	else
		st->cleans_refused++;
	free(out);
	free(err);
	int files = count_data_files(wh), trash = count_trash(wh);
	if (files != m->files || trash != 0)
		fprintf(stderr, "\n%s: clean deleted: %d data files (want %d), %d in trash\n", what,
			files, m->files, trash);
	CU_ASSERT_EQUAL(files, m->files);
	CU_ASSERT_EQUAL(trash, 0);
}

/* The reported disaster: every page of the manifest in turn overwritten
 * with random bytes, then reads and clean with orphan age 0. */
static void test_damaged_page_then_clean(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	model m;
	model_take(wh, &m);
	char mdb[PATH_MAX + 32], pristine[PATH_MAX + 32];
	mdb_path(wh, mdb, sizeof(mdb));
	snprintf(pristine, sizeof(pristine), "%s.pristine", mdb);
	copy_file(mdb, pristine);
	long pages = file_size(mdb) / 4096;
	damage_stats st = {0};
	srandom(7);
	for (long pg = 2; pg < pages; pg++) {
		uint8_t junk[4096];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)random();
		copy_file(pristine, mdb);
		write_at(mdb, pg * 4096, junk, sizeof(junk));
		char what[64];
		snprintf(what, sizeof(what), "page %ld of %ld random", pg, pages);
		damage_round(wh, &m, what, &st);
	}
	printf("\n  %ld pages damaged: %d reads answered right, %d refused; %d cleans refused, "
	       "%d ran and deleted nothing\n",
	       pages - 2, st.reads_ok, st.reads_refused, st.cleans_refused, st.cleans_ran);
	CU_ASSERT_TRUE(st.reads_refused > 0); /* some pages were live */
	CU_ASSERT_TRUE(st.cleans_refused > 0);
	model_free(&m);
}

static uint64_t rd_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint16_t rd_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Remove the entry `name` from the main database's root leaf of data.mdb
 * (LMDB 0.9 layout: the node pointer array after the 16-byte page header),
 * as a damaged page can: the sub-database is simply not there any more. */
static void drop_main_entry(const char *mdb, const char *name)
{
	size_t n;
	uint8_t *f = (uint8_t *)tu_read_file(mdb, &n);
	CU_ASSERT_FATAL(f && n >= 3 * 4096);
	/* meta pages 0 and 1: txnid at 16 + 128, main db root at 16 + 72 + 40 */
	const uint8_t *meta = rd_u64(f + 16 + 128) > rd_u64(f + 4096 + 16 + 128) ? f : f + 4096;
	uint64_t root = rd_u64(meta + 16 + 72 + 40);
	CU_ASSERT_FATAL(root < n / 4096);
	uint8_t *pg = f + root * 4096;
	CU_ASSERT_FATAL(rd_u16(pg + 10) == 0x02); /* a leaf: every sub-database fits one */
	uint16_t lower = rd_u16(pg + 12);
	unsigned cnt = (lower - 16u) / 2;
	bool found = false;
	for (unsigned i = 0; i < cnt && !found; i++) {
		uint16_t off = rd_u16(pg + 16 + 2 * i);
		uint16_t ksize = rd_u16(pg + off + 6);
		if (ksize == strlen(name) && memcmp(pg + off + 8, name, ksize) == 0) {
			memmove(pg + 16 + 2 * i, pg + 16 + 2 * (i + 1), 2 * (cnt - i - 1));
			lower -= 2;
			memcpy(pg + 12, &lower, 2);
			found = true;
		}
	}
	CU_ASSERT_FATAL(found);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(mdb, f, n), 0);
	free(f);
}

/* The reported disaster, exactly: the page holding the file entries' database
 * record is damaged so that the database is missing.  Today a read reopened
 * it empty (the table read as empty, exit 0) and clean's orphan scan then
 * trashed every data file of the table. */
static void test_lost_files_database(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	int files = count_data_files(wh);
	char mdb[PATH_MAX + 32];
	mdb_path(wh, mdb, sizeof(mdb));
	drop_main_entry(mdb, "files");
	char *out, *err;
	int rc = cli(wh, "scan t", &out, &err);
	if (rc != 1)
		fprintf(stderr, "\nscan: exit %d, %zu bytes out: %s\n", rc, strlen(out), err);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "data.mdb\" is damaged"));
	free(out);
	free(err);
	rc = cli(wh, "clean t --grace-s 0 --trash-s 0 --orphan-age-s 0", &out, &err);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "data.mdb\" is damaged"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(count_data_files(wh), files);
	CU_ASSERT_EQUAL(count_trash(wh), 0);
	CU_ASSERT_EQUAL(cli(wh, "check", &out, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "warehouse: the manifest"));
	free(out);
}

/* 9: random damage kinds with a fixed seed. */
static void test_damage_loop(void)
{
	const char *s = getenv("STRATA_DAMAGE_SEED");
	unsigned seed = s && *s ? (unsigned)strtoul(s, NULL, 10) : 20261205u;
	s = getenv("STRATA_DAMAGE_ITERS");
	long iters = s && *s ? strtol(s, NULL, 10) : 24;
	printf("\n  damage loop: seed %u, %ld iterations (STRATA_DAMAGE_SEED, "
	       "STRATA_DAMAGE_ITERS)\n",
	       seed, iters);
	const char *wh = make_warehouse(tu_tmpdir());
	model m;
	model_take(wh, &m);
	char mdb[PATH_MAX + 32], pristine[PATH_MAX + 32];
	mdb_path(wh, mdb, sizeof(mdb));
	snprintf(pristine, sizeof(pristine), "%s.pristine", mdb);
	copy_file(mdb, pristine);
	long size = file_size(mdb), pages = size / 4096;
	damage_stats st = {0};
	srandom(seed);
	static const char *const kinds[] = {"random page", "zeroed page", "truncation",
					    "scrambled page header"};
	int nkind[4] = {0};
	unsigned failures = CU_get_number_of_failures();
	for (long it = 0; it < iters && CU_get_number_of_failures() == failures; it++) {
		copy_file(pristine, mdb);
		int kind = (int)(random() % 4);
		long pg = 2 + random() % (pages - 2);
		uint8_t junk[4096];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = kind == 1 ? 0 : (uint8_t)random();
		if (kind == 2) {
			CU_ASSERT_EQUAL_FATAL(truncate(mdb, pg * 4096 + random() % 4096), 0);
		} else if (kind == 3) {
			write_at(mdb, pg * 4096 + random() % 8, junk, 8 + (size_t)(random() % 40));
		} else {
			write_at(mdb, pg * 4096, junk, sizeof(junk));
		}
		nkind[kind]++;
		char what[128];
		snprintf(what, sizeof(what), "seed %u iteration %ld: %s at page %ld", seed, it,
			 kinds[kind], pg);
		damage_round(wh, &m, what, &st);
	}
	printf("  kinds: %d random pages, %d zeroed pages, %d truncations, %d scrambled headers; "
	       "%d reads right, %d refused, no signal; %d cleans refused, %d ran, nothing "
	       "deleted\n",
	       nkind[0], nkind[1], nkind[2], nkind[3], st.reads_ok, st.reads_refused,
	       st.cleans_refused, st.cleans_ran);
	model_free(&m);
}

/* ---- 4: strata check; clean and purge refuse; the orphan fraction ------------- */

static void find_one(const char *dir, const char *suffix, char *out, size_t n)
{
	char cmd[PATH_MAX + 100];
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*%s' -not -path '*/.trash/*' | sort | head -1",
		 dir, suffix);
	char *o = NULL;
	tu_run(cmd, &o);
	snprintf(out, n, "%s", o ? o : "");
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	free(o);
}

static void test_check_and_refusals(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	char *out, *err;
	CU_ASSERT_EQUAL(cli(wh, "check", &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "check passed"));
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "check t", NULL, NULL), 0);
	CU_ASSERT_EQUAL(cli(wh, "check nosuch", NULL, &err), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown table"));
	free(err);
	/* a live file goes missing */
	char live[PATH_MAX], moved[PATH_MAX + 8];
	char data[PATH_MAX + 8];
	snprintf(data, sizeof(data), "%s/data", wh);
	find_one(data, ".parquet", live, sizeof(live));
	CU_ASSERT_FATAL(live[0] != '\0');
	paths_init();
	snprintf(moved, sizeof(moved), "%s/away.parquet", scratch);
	CU_ASSERT_EQUAL_FATAL(rename(live, moved), 0);
	int files = count_data_files(wh);
	CU_ASSERT_EQUAL(cli(wh, "check", &out, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t: the file of live entry"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "is missing"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "check failed: 1 finding"));
	free(out);
	CU_ASSERT_EQUAL(cli(wh, "clean t --grace-s 0 --trash-s 0 --orphan-age-s 0", NULL, &err), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "clean of table \"t\" refused, nothing was deleted"));
	free(err);
	CU_ASSERT_EQUAL(cli(wh, "purge t", NULL, &err), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "purge of table \"t\" refused"));
	free(err);
	CU_ASSERT_EQUAL(count_data_files(wh), files);
	CU_ASSERT_EQUAL(count_trash(wh), 0);
	CU_ASSERT_EQUAL_FATAL(rename(moved, live), 0);
	CU_ASSERT_EQUAL(cli(wh, "check", NULL, NULL), 0);

	/* orphans: a big unknown file stops the scan; a small one goes */
	char big[PATH_MAX + 40], small[PATH_MAX + 40];
	snprintf(big, sizeof(big), "%s/t/_/b0000/stray-big.bin", data);
	snprintf(small, sizeof(small), "%s/t/_/b0001/stray-small.bin", data);
	char *junk = calloc(1, 64 << 10);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(big, junk, 64 << 10), 0);
	free(junk);
	CU_ASSERT_EQUAL(cli(wh, "clean t --orphan-age-s 0", NULL, &err), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "orphan scan of table \"t\" stopped, nothing was trashed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "above the limit of 10.0%"));
	free(err);
	CU_ASSERT_TRUE(file_size(big) == 64 << 10);
	CU_ASSERT_EQUAL(count_trash(wh), 0);
	CU_ASSERT_EQUAL(cli(wh, "clean t --orphan-age-s 0 --orphan-max-fraction 2", NULL, NULL), 2);
	CU_ASSERT_EQUAL(cli(wh, "clean t --orphan-age-s 0 --orphan-max-fraction 1", &out, NULL), 0);
	free(out);
	CU_ASSERT_EQUAL(file_size(big), -1);
	CU_ASSERT_EQUAL(count_trash(wh), 1);
	CU_ASSERT_EQUAL_FATAL(tu_write_file(small, "x", 1), 0);
	CU_ASSERT_EQUAL(cli(wh, "clean t --orphan-age-s 0", NULL, NULL), 0);
	CU_ASSERT_EQUAL(file_size(small), -1);
	CU_ASSERT_EQUAL(count_trash(wh), 2);
}

/* ---- 6: a warehouse the reader may not write ------------------------------------- */

static void test_read_only_user(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "\n  SKIPPED test_read_only_user: needs root to switch to uid "
				"65534\n");
		return;
	}
	const char *dir = tu_tmpdir();
	const char *wh = make_warehouse(dir);
	char file[PATH_MAX], data[PATH_MAX + 8], cmd[3 * PATH_MAX];
	snprintf(data, sizeof(data), "%s/data", wh);
	find_one(data, ".parquet", file, sizeof(file));
	model m;
	model_take(wh, &m);
	snprintf(cmd, sizeof(cmd), "chmod 0755 '%s' && chmod -R a-w '%s'", dir, wh);
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL), 0);
	const char *as = "setpriv --reuid=65534 --regid=65534 --clear-groups";
	char *out, *err;
	int rc = cli_as(as, wh, "scan t", &out, &err);
	if (rc != 0)
		fprintf(stderr, "\nread-only scan: exit %d: %s\n", rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	char *got = sorted_lines(out);
	CU_ASSERT_STRING_EQUAL(got, m.scan);
	/* leases skipped, said in one line */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "reading without a reader lease"));
	CU_ASSERT_PTR_NULL(strchr(err, '\n') ? strchr(strchr(err, '\n') + 1, '\n') : NULL);
	free(got);
	free(out);
	free(err);
	const char *reads[] = {"get t --key '{\"pk\":3}'", "changes t --between 1 4", "describe t",
			       "log t", "tables", "files t", "check"};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		rc = cli_as(as, wh, reads[i], &out, &err);
		if (rc != 0)
			fprintf(stderr, "\nread-only `%s`: exit %d: %s%s\n", reads[i], rc, out, err);
		CU_ASSERT_EQUAL(rc, 0);
		free(out);
		free(err);
	}
	char args[PATH_MAX + 20];
	snprintf(args, sizeof(args), "file cat '%s'", file);
	CU_ASSERT_EQUAL(cli_as(as, wh, args, NULL, NULL), 0);
	/* a write is refused with the file system's reason, not a crash */
	rc = cli_as(as, wh, "write t --file /dev/null", NULL, NULL);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'", wh);
	CU_ASSERT_EQUAL(tu_run(cmd, NULL), 0);

	/* a read-only mount (root is refused writes there too) */
	char ro[PATH_MAX + 8];
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(ro, 0755), 0);
	if (mount(wh, ro, NULL, MS_BIND, NULL) != 0 ||
	    mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
		fprintf(stderr, "\n  SKIPPED the read-only mount part of test_read_only_user: %s\n",
			strerror(errno));
		umount2(ro, MNT_DETACH);
		model_free(&m);
		return;
	}
	rc = cli(ro, "scan t", &out, &err);
	if (rc != 0)
		fprintf(stderr, "\nscan on a read-only mount: exit %d: %s\n", rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	got = sorted_lines(out);
	CU_ASSERT_STRING_EQUAL(got, m.scan);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "reading without a reader lease"));
	free(got);
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		CU_ASSERT_EQUAL(cli(ro, reads[i], NULL, NULL), 0);
	CU_ASSERT_EQUAL(cli(ro, "write t --file /dev/null", NULL, NULL), 1);
	CU_ASSERT_EQUAL(umount2(ro, MNT_DETACH), 0);
	model_free(&m);
}

/* ---- 7: reads on a full file system ----------------------------------------------- */

static void test_full_disk_reads(void)
{
	const char *dir = tu_tmpdir();
	char mnt[PATH_MAX + 8];
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m") != 0) {
		fprintf(stderr, "\n  SKIPPED test_full_disk_reads: cannot mount a tmpfs at %s: %s\n",
			mnt, strerror(errno));
		return;
	}
	const char *wh = make_warehouse(mnt);
	model m;
	model_take(wh, &m);
	/* fill it */
	char fill[PATH_MAX + 16];
	snprintf(fill, sizeof(fill), "%s/fill", mnt);
	FILE *f = fopen(fill, "wb");
	CU_ASSERT_PTR_NOT_NULL(f);
	static char block[65536];
	while (f && fwrite(block, 1, sizeof(block), f) == sizeof(block))
		;
	if (f)
		fclose(f);
	f = fopen(fill, "ab");
	if (f) {
		while (fwrite(block, 1, 1, f) == 1 && fflush(f) == 0)
			;
		fclose(f);
	}
	char *out, *err;
	int rc = cli(wh, "scan t", &out, &err);
	if (rc != 0)
		fprintf(stderr, "\nfull disk scan: exit %d: %s\n", rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	char *got = sorted_lines(out);
	CU_ASSERT_STRING_EQUAL(got, m.scan);
	/* a lease (allocated ahead) or one line saying there is none */
	CU_ASSERT_PTR_NULL(strchr(err, '\n') ? strchr(strchr(err, '\n') + 1, '\n') : NULL);
	free(got);
	free(out);
	free(err);
	rc = cli(wh, "changes t --between 1 4", &out, &err);
	CU_ASSERT_EQUAL(rc, 0);
	got = sorted_lines(out);
	CU_ASSERT_STRING_EQUAL(got, m.changes);
	free(got);
	free(out);
	free(err);
	rc = cli(wh, "get t --key '{\"pk\":3}' --as-of-version 4", &out, &err);
	if (rc != 0)
		fprintf(stderr, "\nfull disk get: exit %d: %s\n", rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"pk\":3"));
	free(out);
	free(err);
	/* the fallback itself: a lease environment whose file cannot grow */
	char leases[PATH_MAX + 32];
	snprintf(leases, sizeof(leases), "%s/manifest/leases/data.mdb", wh);
	CU_ASSERT_EQUAL(truncate(leases, 0), 0);
	unlink(fill);
	f = fopen(fill, "wb");
	while (f && fwrite(block, 1, sizeof(block), f) == sizeof(block))
		;
	if (f) {
		while (fwrite(block, 1, 1, f) == 1 && fflush(f) == 0)
			;
		fclose(f);
	}
	rc = cli(wh, "scan t", &out, &err);
	CU_ASSERT_EQUAL(rc, 0);
	got = sorted_lines(out);
	CU_ASSERT_STRING_EQUAL(got, m.scan);
	if (rc == 0 && !strstr(err, "reading without a reader lease"))
		fprintf(stderr, "\n  (the lease environment still found room: %s)\n", err);
	CU_ASSERT_PTR_NULL(strchr(err, '\n') ? strchr(strchr(err, '\n') + 1, '\n') : NULL);
	free(got);
	free(out);
	free(err);
	model_free(&m);
	CU_ASSERT_EQUAL(umount2(mnt, MNT_DETACH), 0);
}

/* ---- 8: a dead reader's lease ---------------------------------------------------- */

static void test_dead_reader_lease(void)
{
	const char *wh = make_warehouse(tu_tmpdir());
	/* files removed by a sort, kept only by the lease below */
	cli_ok(wh, "sort t");
	for (int i = 0; i < 3; i++)
		cli_ok(wh, "write t --file /dev/null");
	char cmd[PATH_MAX + 200];
	snprintf(cmd, sizeof(cmd), "printf '{\"pk\":1,\"v\":\"z\"}\\n' | env -u STRATA_WAREHOUSE '%s' "
				   "-W '%s' write t >/dev/null && '%s' -W '%s' sort t >/dev/null",
		 tu_bin("strata"), wh, tu_bin("strata"), wh);
	CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL), 0);
	int pipefd[2];
	CU_ASSERT_EQUAL_FATAL(pipe(pipefd), 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		strata_mf *mf;
		strata_err e;
		uint64_t id = 0;
		char ok = 'n';
		if (strata_mf_open(wh, false, &mf, &e) == 0 &&
		    strata_mf_lease_take(mf, 1, STRATA_LEASE_ALL, 3600ll * 1000000, &id, &e) == 0 &&
		    id)
			ok = 'y';
		if (write(pipefd[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	char ok = 0;
	CU_ASSERT_EQUAL(read(pipefd[0], &ok, 1), 1);
	close(pipefd[0]);
	CU_ASSERT_EQUAL(ok, 'y');
	strata_wh *w;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wh_open(wh, false, &w, &e), 0);
	strata_mf_snap *snap;
	strata_table_def t;
	CU_ASSERT_EQUAL_FATAL(strata_mf_snap_open(strata_wh_mf(w), &snap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(strata_mf_table_get(snap, "t", &t, &e), 0);
	strata_mf_snap_close(snap);
	strata_arena *a = strata_arena_new();
	strata_lease *ls;
	size_t n;
	CU_ASSERT_EQUAL(strata_mf_leases_list(strata_wh_mf(w), t.id, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1) {
		CU_ASSERT_EQUAL(ls[0].pid, pid);
		CU_ASSERT_TRUE(ls[0].host[0] != '\0');
	}
	/* alive: clean keeps what the lease covers */
	strata_clean_opts o;
	strata_clean_opts_default(&o);
	o.grace_s = 0;
	o.orphan_age_s = -1;
	o.dry_run = true;
	strata_clean_result r;
	CU_ASSERT_EQUAL(strata_clean_table(w, "t", &o, &r, &e), 0);
	CU_ASSERT_TRUE(r.kept_lease > 0);
	size_t held = r.kept_lease;
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	/* dead: the lease is ignored at once, not after its hour */
	CU_ASSERT_EQUAL(strata_mf_leases_list(strata_wh_mf(w), t.id, a, &ls, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	o.dry_run = false;
	CU_ASSERT_EQUAL(strata_clean_table(w, "t", &o, &r, &e), 0);
	CU_ASSERT_EQUAL(r.kept_lease, 0);
	CU_ASSERT_EQUAL(r.files_deleted, held);
	strata_arena_free(a);
	strata_wh_close(w);
}

/* ---- 5: stratad on a damaged warehouse: degraded, never a crash loop ------------ */

static bool status_degraded(const char *sock, const char *reason, const char *table)
{
	json_t *r = tud_admin(sock, "status");
	if (!r)
		return false;
	json_t *dg = json_object_get(r, "degraded");
	bool ok = json_is_true(json_object_get(r, "ok"));
	if (reason)
		ok = ok && json_is_true(json_object_get(dg, "is_degraded")) &&
		     strstr(json_string_value(json_object_get(dg, "reason")) ?: "", reason) &&
		     strcmp(json_string_value(json_object_get(json_object_get(r, "daemon"), "state")) ?: "",
			    "degraded") == 0;
	else
		ok = ok && json_is_false(json_object_get(dg, "is_degraded"));
	json_t *dt = json_object_get(dg, "damaged_tables");
	if (table)
		ok = ok && json_array_size(dt) == 1 &&
		     strcmp(json_string_value(json_object_get(json_array_get(dt, 0), "table")) ?: "",
			    table) == 0;
	else
		ok = ok && json_array_size(dt) == 0;
	json_decref(r);
	return ok;
}

static bool wait_status(const char *sock, const char *reason, const char *table, double timeout_s)
{
	double until = tud_now_s() + timeout_s;
	while (tud_now_s() < until) {
		if (status_degraded(sock, reason, table))
			return true;
		tud_sleep_ms(100);
	}
	fprintf(stderr, "\n  status never showed degraded=%s table=%s\n", reason ? reason : "no",
		table ? table : "none");
	return false;
}

static void test_daemon_degraded(void)
{
	const char *dir = tu_tmpdir();
	const char *wh = make_warehouse(dir);
	int files = count_data_files(wh);
	char cfg[PATH_MAX + 16], log[PATH_MAX + 16], sock[PATH_MAX + 16], mdb[PATH_MAX + 32],
		saved[PATH_MAX + 32];
	snprintf(cfg, sizeof(cfg), "%s/stratad.ini", dir);
	snprintf(log, sizeof(log), "%s/stratad.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/admin.sock", dir);
	mdb_path(wh, mdb, sizeof(mdb));
	snprintf(saved, sizeof(saved), "%s/data.mdb.saved", dir);
	copy_file(mdb, saved);
	tud_write_file(cfg,
		       "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 1\nlog_level = info\n"
		       "[policy]\nclean.grace_s = 0\nclean.trash_s = 0\nclean.orphan_scan_s = 1\n"
		       "clean.orphan_age_s = 60\npolicy.backoff_s = 1\npolicy.backoff_max_s = 2\n",
		       wh, sock);
	/* a truncated manifest: stratad starts degraded and keeps serving */
	CU_ASSERT_EQUAL_FATAL(truncate(mdb, file_size(mdb) / 2 / 4096 * 4096), 0);
	pid_t pid = tud_spawn(cfg, log, NULL);
	CU_ASSERT_FATAL(tud_wait_ready(sock, 30));
	CU_ASSERT_TRUE(wait_status(sock, "is truncated", NULL, 10));
	char *m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_degraded") == 1);
	free(m);
	json_t *r = tud_admin(sock, "clean t");
	CU_ASSERT(r && !json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	char *out = NULL;
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "'%s' admin --socket '%s' --text status", tu_bin("strata"), sock);
	CU_ASSERT_EQUAL(tu_run(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, "DEGRADED: no jobs, no deletions") : NULL);
	free(out);
	tud_sleep_ms(2500); /* a few scans: still alive, nothing deleted */
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 0.1), -1);
	CU_ASSERT_EQUAL(count_data_files(wh), files);
	/* restored: it leaves the degraded state by itself */
	copy_file(saved, mdb);
	CU_ASSERT_TRUE(wait_status(sock, NULL, NULL, 15));
	CU_ASSERT(tud_wait_log(log, "the manifest passes the consistency check again", 5));
	/* a table whose live file went missing: its clean refuses, it is damaged */
	char data[PATH_MAX + 8], live[PATH_MAX], away[PATH_MAX + 16];
	snprintf(data, sizeof(data), "%s/data", wh);
	find_one(data, ".parquet", live, sizeof(live));
	snprintf(away, sizeof(away), "%s/away.parquet", dir);
	CU_ASSERT_EQUAL_FATAL(rename(live, away), 0);
	int files_now = count_data_files(wh);
	CU_ASSERT(tud_admin_ok(sock, "clean t"));
	CU_ASSERT_TRUE(wait_status(sock, NULL, "t", 15));
	m = tud_metrics(sock);
	CU_ASSERT(m && tud_metric(m, "strata_table_damaged{table=\"t\"}") == 1);
	free(m);
	r = tud_admin(sock, "sort t");
	CU_ASSERT(r && !json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	CU_ASSERT_EQUAL(count_data_files(wh), files_now);
	CU_ASSERT_EQUAL(count_trash(wh), 0);
	CU_ASSERT_EQUAL_FATAL(rename(away, live), 0);
	CU_ASSERT_TRUE(wait_status(sock, NULL, NULL, 15));
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tud_wait_exit(pid, 30), 0);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("damage", NULL, NULL);
	TU_ADD(s, test_missing_manifest);
	TU_ADD(s, test_truncated_manifest);
	TU_ADD(s, test_short_by_free_pages_is_whole);
	TU_ADD(s, test_lost_files_database);
	TU_ADD(s, test_damaged_page_then_clean);
	TU_ADD(s, test_check_and_refusals);
	TU_ADD(s, test_read_only_user);
	TU_ADD(s, test_full_disk_reads);
	TU_ADD(s, test_dead_reader_lease);
	TU_ADD(s, test_daemon_degraded);
	TU_ADD(s, test_damage_loop);
}

TU_MAIN(register_tests)
