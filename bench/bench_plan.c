/*
 * bench/bench_plan.c — planning a table of tombstones, before and after
 * planning read its entries light (daemon/plan.c, "Entries are read
 * light").  A benchmark, not a test: it prints figures and ratios and
 * asserts nothing.
 *
 * The table: BENCH_PLAN_TOMBS (200,000) entries removed and marked deleted
 * (tombstones, as clean leaves them for clean.trash_s) and BENCH_PLAN_LIVE
 * (1,000) live row files, committed straight into the manifest of a
 * directory warehouse: rounds of 1,000 row-file entries written into a
 * partition of their own (16 buckets), the partition dropped (one commit
 * removes them) and the entries marked deleted by a kept clean; then the
 * live ones (their files exist, empty, for stratad's consistency check).
 *
 * Part 1, in this process, each way in a child of its own (peak RSS from
 * wait4(), so one way's heap never flatters the other): the re-plan's
 * gather done the old way (strata_mf_table_files(): every entry decoded
 * whole into the arena, pointers sorted by bucket, the policies' arrays
 * sized for every entry) and the new one (d_plan_entries_load(): a visit
 * of briefs, live files and removed summaries kept), each with its
 * snapshot, BENCH_PLAN_REPS (5) times: best and median time, peak RSS, and
 * the ratios.
 *
 * Part 2, a real stratad (nothing due: long windows, orphan scans off):
 * `admin plan tomb` BENCH_PLAN_REPS times after its first scan, best and
 * median time, and its RSS then (VmRSS before the plans, VmHWM over them
 * after clearing it, /proc/PID/clear_refs); with BENCH_STRATAD_BEFORE set
 * to a stratad built from the code before (e.g. `git archive` of the
 * commit before into a scratch directory, `make build/stratad`), the same
 * for it, and the ratios.  stratad's start runs the consistency check,
 * which reads every entry whole: its heap stays with the process, so RSS
 * figures of a daemon say less than the children's of part 1.
 *
 * Environment: BENCH_PLAN_TOMBS, BENCH_PLAN_LIVE, BENCH_PLAN_REPS,
 * BENCH_STRATAD_BEFORE, STRATA_KEEP_TMP (keep the scratch directory).
 */
#include "bench/bench_util.h"
#include "daemon/daemon_int.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#define TABLE "tomb"
#define BUCKETS 16
#define PER_ROUND 1000

static size_t env_size(const char *name, size_t def)
{
	const char *s = getenv(name);
	size_t v = s && *s ? (size_t)strtoull(s, NULL, 10) : def;
	return v ? v : def;
}

static void die(const char *what, const strata_err *err)
{
	fprintf(stderr, "bench_plan: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ---- the table ----------------------------------------------------------------------------- */

/* Commit n row-file entries into partition part; their ids into ids (may
 * be NULL); with is_files, each gets its (empty) file. */
static void write_entries(strata_wh *wh, const char *part, size_t n, size_t first,
			  uint64_t *ids, bool is_files)
{
	strata_err err;
	strata_mf_new_file *nf = calloc(n, sizeof(*nf));
	strata_file_stats *st = calloc(n, sizeof(*st));
	char (*names)[32] = calloc(n, 32);
	for (size_t i = 0; i < n; i++) {
		size_t id = first + i;
		bench_entry_stats(&st[i], id, 400, 24 << 10);
		snprintf(names[i], 32, "w%08zu.avro", id);
		nf[i] = (strata_mf_new_file){
			.partition = part,
			.part_buckets = BUCKETS,
			.bucket = (uint32_t)(id % BUCKETS),
			.format = STRATA_FMT_AVRO,
			.level = 0,
			.name = names[i],
			.schema_version = 1,
			.stats = &st[i],
			.id_out = ids ? &ids[i] : NULL,
		};
	}
	strata_mf_write w = {.table = TABLE, .schema_version = 1, .files = nf, .nfiles = n};
	uint64_t v;
	bool rep;
	if (strata_mf_commit_write(strata_wh_mf(wh), &w, &v, &rep, &err))
		die("commit entries", &err);
	for (size_t i = 0; i < n && is_files; i++) {
		char path[4200];
		strata_bucket_dir(strata_wh_mf(wh), TABLE, part, nf[i].bucket, path, sizeof(path));
		if (strata_io_mkdirs(path, 0755))
			die("mkdir", NULL);
		size_t l = strlen(path);
		snprintf(path + l, sizeof(path) - l, "/%s", names[i]);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			die(path, NULL);
		close(fd);
	}
	for (size_t i = 0; i < n; i++)
		strata_file_stats_free(&st[i]);
	free(nf);
	free(st);
	free(names);
}

static void fill(strata_wh *wh, size_t ntombs, size_t nlive)
{
	strata_err err;
	strata_table_def td;
	strata_mf_snap *s;
	if (strata_mf_snap_open(strata_wh_mf(wh), &s, &err) ||
	    strata_mf_table_get(s, TABLE, &td, &err))
		die("table", &err);
	strata_mf_snap_close(s);
	uint64_t *ids = calloc(PER_ROUND, sizeof(*ids));
	size_t done = 0;
	for (int r = 0; done < ntombs; r++) {
		size_t k = ntombs - done < PER_ROUND ? ntombs - done : PER_ROUND;
		char part[32];
		snprintf(part, sizeof(part), "p=r%06d", r);
		write_entries(wh, part, k, done, ids, false);
		uint64_t v;
		size_t nf, skipped;
		if (strata_mf_drop_partition(strata_wh_mf(wh), TABLE, part, &v, &nf, &err))
			die("drop partition", &err);
		if (strata_mf_commit_clean_kept(strata_wh_mf(wh), td.id, ids, k, 3600ll * 1000000, &v,
						&skipped, &err))
			die("mark deleted", &err);
		done += k;
	}
	write_entries(wh, "p=live", nlive, done, NULL, true);
	free(ids);
}

/* ---- part 1: the gather, old and new, in children ---------------------------------------------- */

static int old_cmp(const void *pa, const void *pb)
{
	const strata_file_entry *a = *(const strata_file_entry *const *)pa;
	const strata_file_entry *b = *(const strata_file_entry *const *)pb;
	int c = d_bucket_cmp(a->part_id, a->bucket, b->part_id, b->bucket);
	if (c)
		return c;
	return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

/* The gather as plan.c did it before briefs: whole entries, sorted
 * pointers, the policies' arrays sized for every entry. */
static size_t gather_old(strata_mf_snap *s, uint32_t table_id, size_t *nlive)
{
	strata_err err;
	strata_arena *a = strata_arena_new();
	strata_file_entry *fs;
	size_t n;
	if (strata_mf_table_files(s, table_id, a, &fs, &n, &err))
		die("table files", &err);
	const strata_file_entry **ord = malloc((n + 1) * sizeof(*ord));
	for (size_t i = 0; i < n; i++)
		ord[i] = &fs[i];
	qsort(ord, n, sizeof(*ord), old_cmp);
	strata_pol_file *pf = malloc((n + 1) * sizeof(*pf));
	strata_pol_gone *gone = malloc((n + 1) * sizeof(*gone));
	size_t npf = 0, ngone = 0;
	for (size_t i = 0; i < n; i++) {
		const strata_file_entry *f = ord[i];
		if (f->removed_version == 0)
			pf[npf++] = (strata_pol_file){.level = f->level, .bytes = f->bytes,
						      .rows = f->rows, .sketch = f->sketch};
		else
			gone[ngone++] = (strata_pol_gone){.bytes = f->bytes,
							  .removed_version = f->removed_version,
							  .is_deleted = f->is_deleted};
	}
	*nlive = npf;
	free(pf);
	free(gone);
	free(ord);
	strata_arena_free(a);
	return n;
}

static size_t gather_new(strata_mf_snap *s, uint32_t table_id, size_t *nlive)
{
	strata_err err;
	d_plan_entries e;
	if (d_plan_entries_load(s, table_id, NULL, true, &e, &err))
		die("plan entries", &err);
	size_t n = e.nentries;
	*nlive = e.nlive;
	d_plan_entries_free(&e);
	return n;
}

typedef struct way_res {
	double best_ms, med_ms, maxrss_mb;
	size_t entries, live;
} way_res;

static void way_run(const char *whp, bool is_new, size_t reps, way_res *res)
{
	int fds[2];
	if (pipe(fds))
		die("pipe", NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		close(fds[0]);
		strata_err err;
		strata_wh *wh;
		if (strata_wh_open(whp, false, &wh, &err))
			die("open", &err);
		double *ms = calloc(reps, sizeof(*ms));
		way_res r = {0};
		for (size_t i = 0; i < reps; i++) {
			double t0 = bench_now_s();
			strata_mf_snap *s;
			strata_table_def td;
			if (strata_mf_snap_open(strata_wh_mf(wh), &s, &err) ||
			    strata_mf_table_get(s, TABLE, &td, &err))
				die("snapshot", &err);
			r.entries = is_new ? gather_new(s, td.id, &r.live) : gather_old(s, td.id, &r.live);
			strata_mf_snap_close(s);
			ms[i] = (bench_now_s() - t0) * 1e3;
		}
		qsort(ms, reps, sizeof(*ms), dbl_cmp);
		r.best_ms = ms[0];
		r.med_ms = ms[reps / 2];
		ssize_t w = write(fds[1], &r, sizeof(r));
		(void)w;
		strata_wh_close(wh);
		_exit(0);
	}
	close(fds[1]);
	memset(res, 0, sizeof(*res));
	ssize_t got = read(fds[0], res, sizeof(*res));
	close(fds[0]);
	int status;
	struct rusage ru;
	wait4(pid, &status, 0, &ru);
	if (got != (ssize_t)sizeof(*res) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_plan: the %s gather failed\n", is_new ? "new" : "old");
		exit(1);
	}
	res->maxrss_mb = (double)ru.ru_maxrss / 1024.0;
}

/* ---- part 2: a real stratad ------------------------------------------------------------------ */

/* One line of /proc/PID/status in MiB ("VmRSS", "VmHWM"), -1 if absent. */
static double proc_mb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	double v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtod(line + kl + 1, NULL) / 1024.0;
	if (f)
		fclose(f);
	return v;
}

static void clear_hwm(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

typedef struct daemon_res {
	bool is_run;
	double best_ms, med_ms, rss_mb, hwm_mb;
} daemon_res;

static void daemon_run(const char *bin, const char *dir, const char *whp, const char *tag,
		       size_t reps, daemon_res *res)
{
	memset(res, 0, sizeof(*res));
	char cfg[4200], log[4200], sock[200], text[8192];
	snprintf(cfg, sizeof(cfg), "%s/%s.ini", dir, tag);
	snprintf(log, sizeof(log), "%s/%s.log", dir, tag);
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, tag);
	snprintf(text, sizeof(text),
		 "[daemon]\nwarehouse = %s\nsocket = %s\nscan_interval_s = 3600\nlog_level = warn\n"
		 "[policy]\nsort.min_files = 1000\nsort.max_delay_s = 604800\nsort.max_bytes = 16GiB\n"
		 "clean.grace_s = 2592000\nclean.trash_s = 2592000\nclean.orphan_scan_s = 0\n",
		 whp, sock);
	FILE *f = fopen(cfg, "w");
	if (!f)
		die(cfg, NULL);
	fputs(text, f);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "--config", cfg, (char *)NULL);
		_exit(127);
	}
	if (!bench_wait_ready(sock, 1200)) {
		fprintf(stderr, "bench_plan: %s did not start (see %s)\n", bin, log);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	while (bench_status_num(sock, "last_scan_age_s") < 0)
		bench_sleep_s(0.1);
	res->rss_mb = proc_mb(pid, "VmRSS");
	clear_hwm(pid);
	double *ms = calloc(reps, sizeof(*ms));
	for (size_t i = 0; i < reps; i++) {
		double t0 = bench_now_s();
		json_t *r = bench_admin(sock, "plan " TABLE);
		ms[i] = (bench_now_s() - t0) * 1e3;
		if (!r || !json_is_true(json_object_get(r, "ok")))
			fprintf(stderr, "bench_plan: plan failed on %s\n", bin);
		json_decref(r);
	}
	res->hwm_mb = proc_mb(pid, "VmHWM");
	qsort(ms, reps, sizeof(*ms), dbl_cmp);
	res->best_ms = ms[0];
	res->med_ms = ms[reps / 2];
	res->is_run = true;
	free(ms);
	bench_stop(pid);
}

int main(void)
{
	size_t ntombs = env_size("BENCH_PLAN_TOMBS", 200000);
	size_t nlive = env_size("BENCH_PLAN_LIVE", 1000);
	size_t reps = env_size("BENCH_PLAN_REPS", 5);
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[4096], whp[4200];
	snprintf(dir, sizeof(dir), "%s/strata-bench-plan-XXXXXX", tmp);
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	snprintf(whp, sizeof(whp), "%s/wh", dir);
	strata_err err;
	strata_wh *wh;
	if (strata_wh_open(whp, true, &wh, &err))
		die("create warehouse", &err);
	if (strata_table_create(wh, TABLE, "pk BIGINT NOT NULL PRIMARY KEY, v STRING", NULL,
				"p STRING", NULL, 0, &err))
		die("create table", &err);
	double t0 = bench_now_s();
	fill(wh, ntombs, nlive);
	strata_wh_close(wh);
	double la[3] = {0};
	if (getloadavg(la, 3) < 0)
		la[0] = -1;
	printf("plan: a table of %zu tombstones and %zu live row files (%d buckets), filled in "
	       "%.1f s; load average %.2f %.2f %.2f\n",
	       ntombs, nlive, BUCKETS, bench_now_s() - t0, la[0], la[1], la[2]);
	way_res w[2];
	way_run(whp, false, reps, &w[0]);
	way_run(whp, true, reps, &w[1]);
	for (int k = 0; k < 2; k++)
		printf("plan: gather %-36s %zu entries (%zu live): best %.1f ms, median %.1f ms, "
		       "peak RSS %.1f MiB\n",
		       k ? "new (briefs, d_plan_entries_load)" : "old (whole entries, sorted)",
		       w[k].entries, w[k].live, w[k].best_ms, w[k].med_ms, w[k].maxrss_mb);
	printf("plan: gather old / new: time %.1fx (best), %.1fx (median); peak RSS %.1fx\n",
	       w[0].best_ms / w[1].best_ms, w[0].med_ms / w[1].med_ms,
	       w[0].maxrss_mb / w[1].maxrss_mb);
	daemon_res d[2] = {{0}};
	const char *before = getenv("BENCH_STRATAD_BEFORE");
	if (before && *before)
		daemon_run(before, dir, whp, "before", reps, &d[0]);
	daemon_run(bench_bin("stratad"), dir, whp, "after", reps, &d[1]);
	for (int k = 0; k < 2; k++)
		if (d[k].is_run)
			printf("plan: stratad %-6s `admin plan %s`: best %.0f ms, median %.0f ms; RSS %.0f "
			       "MiB before the plans, peak %.0f MiB over them\n",
			       k ? "after" : "before", TABLE, d[k].best_ms, d[k].med_ms, d[k].rss_mb,
			       d[k].hwm_mb);
	if (d[0].is_run && d[1].is_run)
		printf("plan: stratad before / after: time %.1fx (best), %.1fx (median); peak RSS over "
		       "the plans %.1fx\n",
		       d[0].best_ms / d[1].best_ms, d[0].med_ms / d[1].med_ms, d[0].hwm_mb / d[1].hwm_mb);
	if (getloadavg(la, 3) >= 0)
		printf("plan: load average at the end %.2f %.2f %.2f\n", la[0], la[1], la[2]);
	if (!bench_env_flag("STRATA_KEEP_TMP")) {
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_plan: could not remove %s\n", dir);
	}
	return 0;
}
