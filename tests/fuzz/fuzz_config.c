/*
 * tests/fuzz/fuzz_config.c — libFuzzer target for stratad's config parser
 * (daemon/config.c: the line reader in front of inih, section headers, the
 * key table lookup, every value type and range, the cross-key checks).
 *
 * Each input is a whole config file.  The harness loads it and checks the
 * parser's promises:
 *   - a load either succeeds or fails with a message that starts with
 *     "PATH:" (invariant 2 of config.c), and the list of every error is
 *     not empty;
 *   - a successful load is complete and valid: rendering every value as the
 *     file would spell it ([daemon], [policy], every [table.NAME]) gives a
 *     file that loads again, and renders the same (a value `strata admin
 *     policy` shows can be pasted back into the file);
 *   - the effective policy of every table (and of an unknown one) can be
 *     computed.
 *
 * The same harness runs in tests/test_fuzz_regress.c (STRATA_FUZZ_NO_MAIN)
 * over tests/fuzz/corpus/config.
 *
 *   make fuzz        build build-fuzz/fuzz_config (clang, ASan+UBSan)
 *   make fuzz-ci     run it FUZZ_SECONDS on tests/fuzz/corpus/config
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_common.h"
#include "daemon/daemon.h"

static void fuzz_config_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, detail);
	abort();
}

/* Render c as a config file: every [daemon] and [policy] value, and each
 * [table.NAME] with the keys it sets. */
static void fuzz_config_render(const stratad_config *c, strata_buf *out)
{
	char v[4200];
	strata_buf_printf(out, "[daemon]\n");
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope != STRATAD_SCOPE_DAEMON)
			continue;
		stratad_config_value(c, row, NULL, v, sizeof(v));
		strata_buf_printf(out, "%s = %s\n", row->key, v);
	}
	strata_buf_printf(out, "[policy]\n");
	for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
		const stratad_cfg_key *row = &stratad_cfg_keys[k];
		if (row->scope != STRATAD_SCOPE_POLICY || !c->pol_set[k])
			continue;
		stratad_config_value(c, row, NULL, v, sizeof(v));
		strata_buf_printf(out, "%s = %s\n", row->key, v);
	}
	for (size_t i = 0; i < c->ntables; i++) {
		const stratad_table_cfg *t = &c->tables[i];
		strata_buf_printf(out, "[table.%s]\n", t->name);
		for (size_t k = 0; k < stratad_cfg_nkeys; k++) {
			if (!t->is_set[k])
				continue;
			stratad_config_value(c, &stratad_cfg_keys[k], &t->pol, v, sizeof(v));
			strata_buf_printf(out, "%s = %s\n", stratad_cfg_keys[k].key, v);
		}
	}
}

static int strata_fuzz_config_one(const uint8_t *data, size_t size, const char *dir)
{
	char path[PATH_MAX], again[PATH_MAX];
	snprintf(path, sizeof(path), "%s/fuzz-%ld.ini", dir, (long)getpid());
	snprintf(again, sizeof(again), "%s/fuzz-%ld-again.ini", dir, (long)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	stratad_config *c = NULL;
	strata_buf all = {0};
	strata_err e;
	memset(&e, 0, sizeof(e));
	int rc = stratad_config_load(path, &c, &all, &e);
	if (rc) {
		char prefix[PATH_MAX + 2];
		snprintf(prefix, sizeof(prefix), "%s:", path);
		if (c)
			fuzz_config_fail("a failed load returned a config", e.msg);
		if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
			fuzz_config_fail("error without the file name", e.msg);
		if (all.len == 0)
			fuzz_config_fail("no error list", e.msg);
		goto out;
	}
	/* effective policies, for each table and one the file does not name */
	strata_policy pol;
	stratad_src *src = strata_calloc(stratad_cfg_nkeys, sizeof(stratad_src));
	for (size_t i = 0; i <= c->ntables; i++) {
		stratad_config_policy(c, i < c->ntables ? c->tables[i].name : "zz_unknown", 24, &pol,
				      src);
		if (pol.backoff_max_s < pol.backoff_s)
			fuzz_config_fail("an accepted config has backoff_max_s < backoff_s", path);
	}
	free(src);
	/* the round trip */
	strata_buf text = {0}, text2 = {0};
	fuzz_config_render(c, &text);
	f = fopen(again, "wb");
	if (!f || fwrite(text.data, 1, text.len, f) != text.len)
		abort();
	fclose(f);
	stratad_config *c2 = NULL;
	strata_buf_reset(&all);
	if (stratad_config_load(again, &c2, &all, &e) != 0) {
		fprintf(stderr, "rendered:\n%.*s\n", (int)text.len, (char *)text.data);
		fuzz_config_fail("an accepted config does not load once rendered", e.msg);
	}
	fuzz_config_render(c2, &text2);
	if (text.len != text2.len || memcmp(text.data, text2.data, text.len) != 0) {
		fprintf(stderr, "first:\n%.*s\nthen:\n%.*s\n", (int)text.len, (char *)text.data,
			(int)text2.len, (char *)text2.data);
		fuzz_config_fail("rendering is not stable", path);
	}
	char diff[512];
	stratad_config_restart_diff(c, c2, diff, sizeof(diff));
	if (diff[0])
		fuzz_config_fail("restart keys differ after a round trip", diff);
	stratad_config_free(c2);
	strata_buf_free(&text);
	strata_buf_free(&text2);
	unlink(again);
out:
	stratad_config_free(c);
	strata_buf_free(&all);
	unlink(path);
	return 0;
}

#ifndef STRATA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return strata_fuzz_config_one(data, size, fuzz_scratch_dir());
}
#endif
