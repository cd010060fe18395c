/*
 * tests/util/tu_wh.h — the warehouse a test runs on: a directory, or (with
 * STRATA_TEST_CATALOG=pg) a PostgreSQL catalog, so that the model-based
 * oracle suites run against both manifest backends (issue 13).
 *
 * With STRATA_TEST_DATA=s3 the data files live on the suite's RGW instead
 * (tu_wh_is_s3() below; tests/on-s3).
 *
 * tu_wh_name(dir) is what the test passes wherever a warehouse is named
 * (strata_wh_open(), the CLI's -W, stratad's warehouse =).  Without
 * STRATA_TEST_CATALOG it is dir itself.  With STRATA_TEST_CATALOG=pg, the
 * first call for dir creates a database on the suite's throw-away
 * PostgreSQL (tests/util/tu_pg: one server per suite, started at the first
 * call, stopped by its PID at exit), initialises a catalog there whose data
 * files live in dir/data (where a directory warehouse keeps them too, so
 * tests that look at files find them), and returns its URI; later calls
 * for the same dir return the same URI.  A suite that cannot start
 * PostgreSQL prints "SKIPPED: ..." and exits 0.
 */
#ifndef STRATA_TU_WH_H
#define STRATA_TU_WH_H

#include <stdbool.h>

/* Whether the suite's data files live on object storage
 * (STRATA_TEST_DATA=s3): then the first tu_wh_name() starts the suite's
 * Ceph RGW (tests/util/tu_rgw.h, or prints "SKIPPED: ..." and exits 0),
 * points the AWS environment at it, creates the bucket "strata-test", and
 * every warehouse (a directory, or a catalog with STRATA_TEST_CATALOG=pg
 * too) is created with the data path s3://strata-test/<dir's name>-<n>. */
bool tu_wh_is_s3(void);
/* Whether the suite runs on a PostgreSQL catalog (STRATA_TEST_CATALOG=pg). */
bool tu_wh_is_pg(void);
/* The warehouse name for scratch directory dir (lent until exit). */
const char *tu_wh_name(const char *dir);
/* After the test copied directory from to directory to (cp -a), make to's
 * warehouse a copy of from's: with a catalog, a new database cloned from
 * from's (CREATE DATABASE ... TEMPLATE; nothing may be connected to it),
 * whose data path stays the one recorded in from's catalog — restore a
 * saved template to the directory it was saved from.  Without a catalog
 * the copied directory is the copy: nothing to do. */
void tu_wh_clone(const char *from, const char *to);

#endif
