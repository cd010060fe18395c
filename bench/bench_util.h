/*
 * bench/bench_util.h — what the benchmarks that drive a real stratad share
 * (bench_daemon, bench_catalog): time, switches from the environment, the
 * daemon's process (start it on a config, stop it, its CPU time from /proc),
 * one admin command over its Unix socket, parsed as JSON, and a table of
 * many file entries committed straight into the manifest.
 *
 * Header-only, like bench_rows.h: every benchmark is one .c linked with
 * libstrata.a.  The functions are static inline so a benchmark that uses
 * only some of them still builds with -Werror.
 *
 * Invariants:
 *   1. Nothing here asserts or exits: a daemon that does not answer gives
 *      NULL / false / 0 and the benchmark decides what that means.
 *   2. bench_admin sends one line and reads one reply line (60 s at most);
 *      the reply is the caller's to json_decref.
 * Single-threaded callers, or threads that each use their own socket call.
 */
#ifndef STRATA_BENCH_UTIL_H
#define STRATA_BENCH_UTIL_H

#include "core/core.h"
#include "table/table.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A switch: true when the variable is set to anything but "" or "0". */
static inline bool bench_env_flag(const char *name)
{
	const char *s = getenv(name);
	return s && *s && strcmp(s, "0") != 0;
}

/* Monotonic time in seconds. */
static inline double bench_now_s(void)
{
	return (double)strata_mono_us() / 1e6;
}

static inline void bench_sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* The path of a built program: $PWD/$STRATA_BUILD/name (build by default).
 * Lends one of two static buffers: valid until the second call after. */
static inline const char *bench_bin(const char *name)
{
	static char p[2][4096];
	static int k;
	const char *b = getenv("STRATA_BUILD");
	char *out = p[k++ % 2];
	char cwd[2048];
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), ".");
	snprintf(out, 4096, "%s/%s/%s", cwd, b ? b : "build", name);
	return out;
}

/* Start stratad --config cfg with its stdout and stderr appended to log;
 * returns its pid (or -1 when fork fails). */
static inline pid_t bench_spawn_stratad(const char *cfg, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bench_bin("stratad"), "stratad", "--config", cfg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* SIGTERM pid and reap it. */
static inline void bench_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
}

/* One admin command (line, without the newline) on the socket sock: the
 * reply parsed, which the caller frees, or NULL (no daemon, no reply within
 * 60 s, not JSON).  Invariant 2. */
static inline json_t *bench_admin(const char *sock, const char *line)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	char buf[512];
	snprintf(buf, sizeof(buf), "%s\n", line);
	ssize_t w = write(fd, buf, strlen(buf));
	(void)w;
	strata_buf b = {0};
	char chunk[65536];
	struct pollfd p = {fd, POLLIN, 0};
	while (!(b.len && b.data[b.len - 1] == '\n') && poll(&p, 1, 60000) > 0) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r <= 0)
			break;
		strata_buf_append(&b, chunk, (size_t)r);
	}
	strata_buf_putc(&b, 0);
	close(fd);
	json_t *r = json_loads((char *)b.data, 0, NULL);
	strata_buf_free(&b);
	return r;
}

/* Poll `status` every 50 ms until it answers ok, for up to tries polls;
 * false when it never did. */
static inline bool bench_wait_ready(const char *sock, int tries)
{
	for (int i = 0; i < tries; i++) {
		json_t *r = bench_admin(sock, "status");
		bool ok = r && json_is_true(json_object_get(r, "ok"));
		json_decref(r);
		if (ok)
			return true;
		bench_sleep_s(0.05);
	}
	return false;
}

/* The number status.daemon.key (0 when absent or no reply). */
static inline double bench_status_num(const char *sock, const char *key)
{
	json_t *r = bench_admin(sock, "status");
	double v = json_number_value(json_object_get(json_object_get(r, "daemon"), key));
	json_decref(r);
	return v;
}

/* utime + stime of pid, in seconds (0 when it is gone). */
static inline double bench_cpu_s(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char buf[2048];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* n file entries of table, committed straight into the manifest 1,000 a
 * commit: format fmt, level 0, spread over buckets buckets, each key a
 * distinct 8-byte big-endian id, 10,000 rows and 4 MiB as their stats, and
 * an empty file under each entry's name (stratad's consistency check marks
 * a table whose live files are missing damaged and plans nothing of it).
 * The seconds spent inside the commits go to *commit_s (when not NULL).
 * 0, or -1 with the reason on stderr. */
/* The stats of a made-up file entry number id: rows, bytes, and a key
 * range and sketch of the one 8-byte key id (big-endian), so entries sort
 * and prune by id. */
static inline void bench_entry_stats(strata_file_stats *st, size_t id, uint64_t rows,
				     uint64_t bytes)
{
	strata_file_stats_init(st);
	st->rows = rows;
	st->bytes = bytes;
	uint8_t key[8];
	for (int b = 0; b < 8; b++)
		key[b] = (uint8_t)(id >> (56 - 8 * b));
	strata_buf_append(&st->key_min, key, 8);
	strata_buf_append(&st->key_max, key, 8);
	strata_sketch_add(st->sketch, key, 8);
}

static inline int bench_fill_entries(strata_wh *wh, const char *table, uint32_t buckets, size_t n,
				     strata_format fmt, double *commit_s)
{
	strata_err err;
	size_t per = 1000, done = 0;
	strata_mf_new_file *nf = calloc(per, sizeof(*nf));
	strata_file_stats *st = calloc(per, sizeof(*st));
	char (*names)[32] = calloc(per, 32);
	double in_commits = 0;
	int rc = 0;
	while (done < n && rc == 0) {
		size_t k = n - done < per ? n - done : per;
		for (size_t i = 0; i < k; i++) {
			size_t id = done + i;
			bench_entry_stats(&st[i], id, 10000, 4ull << 20);
			snprintf(names[i], 32, "f%07zu.%s", id,
				 fmt == STRATA_FMT_PARQUET ? "parquet" : "avro");
			nf[i] = (strata_mf_new_file){
				.partition = "",
				.part_buckets = buckets,
				.bucket = (uint32_t)(id % buckets),
				.format = fmt,
				.level = 0, /* writer commits are row files */
				.name = names[i],
				.schema_version = 1,
				.stats = &st[i],
			};
		}
		strata_mf_write w = {.table = table, .schema_version = 1, .files = nf, .nfiles = k};
		uint64_t v;
		bool rep;
		double c0 = bench_now_s();
		rc = strata_mf_commit_write(strata_wh_mf(wh), &w, &v, &rep, &err);
		in_commits += bench_now_s() - c0;
		if (rc)
			fprintf(stderr, "bench: commit of entries failed: %s\n", err.msg);
		for (size_t i = 0; i < k && rc == 0; i++) {
			char path[4200];
			strata_bucket_dir(strata_wh_mf(wh), table, "", nf[i].bucket, path, sizeof(path));
			int mrc = strata_io_mkdirs(path, 0755);
			if (mrc != 0) {
				fprintf(stderr, "bench: could not make \"%s\": %s\n", path,
					strata_strerror(mrc));
				rc = -1;
				break;
			}
			size_t l = strlen(path);
			snprintf(path + l, sizeof(path) - l, "/%s", names[i]);
			int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0) {
				fprintf(stderr, "bench: could not create \"%s\": %s\n", path,
					strerror(errno));
				rc = -1;
				break;
			}
			close(fd);
		}
		for (size_t i = 0; i < k; i++)
			strata_file_stats_free(&st[i]);
		done += k;
	}
	free(nf);
	free(st);
	free(names);
	if (commit_s)
		*commit_s = in_commits;
	return rc;
}

#endif
