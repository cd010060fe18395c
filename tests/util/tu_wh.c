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

void tu_wh_clone(const char *from, const char *to)
{
	if (!tu_wh_is_pg())
		return; /* a directory's DATA file came along with the copy */
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
}
