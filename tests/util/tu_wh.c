/*
 * tests/util/tu_wh.c — see tu_wh.h.
 */
#include "tests/util/tu_wh.h"
#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"
#include "tests/util/tu_rgw.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "table/table.h"

#define TU_WH_MAX 256

static struct {
	char *dir, *uri;
} whs[TU_WH_MAX];
static int nwh;
static pthread_mutex_t wh_mu = PTHREAD_MUTEX_INITIALIZER;

bool tu_wh_is_s3(void)
{
	const char *s = getenv("STRATA_TEST_DATA");
	return s && strcmp(s, "s3") == 0;
}

#define TU_WH_BUCKET "strata-test"

/* The suite's RGW, the AWS environment pointing at it, and the bucket
 * (once per process). */
static void s3_setup(void)
{
	static bool is_done;
	if (is_done)
		return;
	const char *ep = tu_rgw_start_or_skip();
	setenv("AWS_ENDPOINT_URL", ep, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", TU_RGW_ACCESS_KEY, 1);
	setenv("AWS_SECRET_ACCESS_KEY", TU_RGW_SECRET_KEY, 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ENDPOINT_URL_S3");
	strata_s3 *c = NULL;
	strata_err err;
	strata_err_clear(&err);
	if (strata_s3_open(NULL, &c, &err) != 0 ||
	    strata_s3_bucket_create(c, TU_WH_BUCKET, &err) != 0) {
		fprintf(stderr, "tu_wh: bucket %s on %s: %s\n", TU_WH_BUCKET, ep, err.msg);
		abort();
	}
	strata_s3_close(c);
	strata_store_s3_register();
	is_done = true;
}

bool tu_wh_is_pg(void)
{
	const char *s = getenv("STRATA_TEST_CATALOG");
	return s && strcmp(s, "pg") == 0;
}

static void create_db(const char *base, const char *db, const char *tmpl)
{
	PGconn *c = PQconnectdb(base);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "tu_wh: connect %s: %s", base, PQerrorMessage(c));
		abort();
	}
	char sql[128];
	if (tmpl)
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE %s", db, tmpl);
	else
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tu_wh: %s: %s", sql, PQerrorMessage(c));
		abort();
	}
	PQclear(r);
	PQfinish(c);
}

const char *tu_wh_name(const char *dir)
{
	if (!tu_wh_is_pg() && !tu_wh_is_s3())
		return dir;
	pthread_mutex_lock(&wh_mu);
	const char *out = NULL;
	for (int i = 0; i < nwh && !out; i++)
		if (strcmp(whs[i].dir, dir) == 0)
			out = whs[i].uri;
	if (out) {
		pthread_mutex_unlock(&wh_mu);
		return out;
	}
	if (nwh == TU_WH_MAX) {
		fprintf(stderr, "tu_wh: more than %d warehouses in one suite\n", TU_WH_MAX);
		abort();
	}
	char db[32], uri[4200], data[4200];
	if (tu_wh_is_s3()) {
		/* a prefix of its own per warehouse: the scratch dir's name is
		 * unique on this machine, the RGW is the suite's */
		s3_setup();
		const char *base = strrchr(dir, '/');
		snprintf(data, sizeof(data), "s3://" TU_WH_BUCKET "/%s-%d", base ? base + 1 : dir,
			 nwh + 1);
	} else {
		snprintf(data, sizeof(data), "%s/data", dir);
	}
	if (tu_wh_is_pg()) {
		const char *base = tu_pg_start_or_skip();
		snprintf(db, sizeof(db), "wh%d", nwh + 1);
		create_db(base, db, NULL);
		tu_pg_uri("postgres", NULL, db, uri, sizeof(uri));
	} else {
		snprintf(uri, sizeof(uri), "%s", dir);
	}
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	if (strata_wh_create(uri, data, &wh, &err) != 0) {
		fprintf(stderr, "tu_wh: init %s: %s\n", uri, err.msg);
		abort();
	}
	strata_wh_close(wh);
	whs[nwh].dir = strdup(dir);
	whs[nwh].uri = strdup(uri);
	out = whs[nwh++].uri;
	pthread_mutex_unlock(&wh_mu);
	return out;
}

/* Copy every object under prefix s3://B/FROM to s3://B/TO. */
typedef struct s3_copy_ctx {
	strata_s3 *c;
	const char *bucket;
	size_t from_len;
	const char *to;
} s3_copy_ctx;

static int s3_copy_one(void *ctx, const strata_s3_obj *obj)
{
	s3_copy_ctx *k = ctx;
	strata_err err;
	strata_err_clear(&err);
	void *buf = malloc(obj->size ? obj->size : 1);
	size_t got = 0;
	char key[2048];
	snprintf(key, sizeof(key), "%s%s", k->to, obj->key + k->from_len);
	if (strata_s3_get_range(k->c, k->bucket, obj->key, 0, obj->size, buf, &got, &err) != 0 ||
	    got != obj->size || strata_s3_put(k->c, k->bucket, key, buf, got, &err) != 0) {
		fprintf(stderr, "tu_wh: copy %s to %s: %s\n", obj->key, key, err.msg);
		abort();
	}
	free(buf);
	return 0;
}

/* The data path of warehouse name (opened and closed). */
static void data_path_of(const char *name, char *out, size_t n)
{
	strata_wh *wh;
	strata_err err;
	strata_err_clear(&err);
	if (strata_wh_open(name, false, &wh, &err) != 0) {
		fprintf(stderr, "tu_wh: open %s: %s\n", name, err.msg);
		abort();
	}
	snprintf(out, n, "%s", strata_mf_data_dir(strata_wh_mf(wh)));
	strata_wh_close(wh);
}

/* The objects of data path from, copied under a new prefix of the bucket,
 * whose data path goes into out. */
static void s3_clone_data(const char *from, const char *to_dir, char *out, size_t n)
{
	static int nclone;
	const char *pfx = "s3://" TU_WH_BUCKET "/";
	if (strncmp(from, pfx, strlen(pfx)) != 0) {
		fprintf(stderr, "tu_wh: %s is not under %s\n", from, pfx);
		abort();
	}
	const char *base = strrchr(to_dir, '/');
	snprintf(out, n, "%s%s-clone%d", pfx, base ? base + 1 : to_dir, ++nclone);
	char from_key[2048], to_key[2048];
	snprintf(from_key, sizeof(from_key), "%s/", from + strlen(pfx));
	snprintf(to_key, sizeof(to_key), "%s/", out + strlen(pfx));
	strata_s3 *c = NULL;
	strata_err err;
	strata_err_clear(&err);
	s3_copy_ctx k = {.bucket = TU_WH_BUCKET, .from_len = strlen(from_key), .to = to_key};
	if (strata_s3_open(NULL, &c, &err) != 0 ||
	    (k.c = c, strata_s3_list(c, TU_WH_BUCKET, from_key, 0, s3_copy_one, &k, &err)) != 0) {
		fprintf(stderr, "tu_wh: clone %s: %s\n", from, err.msg);
		abort();
	}
	strata_s3_close(c);
}

void tu_wh_clone(const char *from, const char *to)
{
	char from_data[4200] = "", to_data[4200] = "";
	if (tu_wh_is_s3()) {
		/* objects are not in the copied directory: copy them too, under
		 * a prefix of to's own */
		data_path_of(tu_wh_name(from), from_data, sizeof(from_data));
		s3_clone_data(from_data, to, to_data, sizeof(to_data));
	}
	if (!tu_wh_is_pg()) {
		if (!tu_wh_is_s3())
			return; /* the copied directory is the copy */
		char path[4200];
		snprintf(path, sizeof(path), "%s/DATA", to);
		FILE *fp = fopen(path, "w");
		if (!fp || fprintf(fp, "%s\n", to_data) < 0 || fclose(fp) != 0) {
			fprintf(stderr, "tu_wh: could not write %s\n", path);
			abort();
		}
		pthread_mutex_lock(&wh_mu);
		bool is_known = false;
		for (int i = 0; i < nwh; i++)
			is_known |= strcmp(whs[i].dir, to) == 0;
		if (!is_known && nwh < TU_WH_MAX) {
			whs[nwh].dir = strdup(to);
			whs[nwh++].uri = strdup(to);
		}
		pthread_mutex_unlock(&wh_mu);
		return;
	}
	const char *from_uri = tu_wh_name(from);
	const char *from_db = strrchr(from_uri, '/') + 1;
	pthread_mutex_lock(&wh_mu);
	int slot = -1;
	for (int i = 0; i < nwh; i++)
		if (strcmp(whs[i].dir, to) == 0)
			slot = i;
	if (slot < 0 && nwh == TU_WH_MAX) {
		fprintf(stderr, "tu_wh: more than %d warehouses in one suite\n", TU_WH_MAX);
		abort();
	}
	if (slot < 0) {
		slot = nwh++;
		whs[slot].dir = strdup(to);
	}
	static int nclone;
	char db[32], uri[512];
	snprintf(db, sizeof(db), "clone%d", ++nclone);
	create_db(tu_pg_start_or_skip(), db, from_db);
	tu_pg_uri("postgres", NULL, db, uri, sizeof(uri));
	free(whs[slot].uri);
	whs[slot].uri = strdup(uri);
	pthread_mutex_unlock(&wh_mu);
	if (to_data[0]) {
		/* the clone's catalog names the copied objects */
		PGconn *pc = PQconnectdb(uri);
		const char *vals[1] = {to_data};
		PGresult *r = PQstatus(pc) == CONNECTION_OK ?
			PQexecParams(pc, "UPDATE strata.catalog_meta SET data_path = $1", 1, NULL, vals,
				     NULL, NULL, 0) : NULL;
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "tu_wh: set data_path of %s: %s", uri, PQerrorMessage(pc));
			abort();
		}
		PQclear(r);
		PQfinish(pc);
	}
}
