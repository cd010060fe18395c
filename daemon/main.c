/*
 * daemon/main.c — `stratad`, the governance daemon.
 *
 *   stratad --config FILE [--foreground]   run (always in the foreground)
 *   stratad --check-config FILE            validate FILE: exit 0, or 1 with
 *                                          every error as FILE:LINE: message
 *                                          (a file that sets no key is one:
 *                                          a reload refuses it)
 *   stratad --sample-config                print the annotated sample config
 *
 * stratad never forks: systemd (Type=notify) and every other supervisor
 * want the process they started, and logs go to stderr (the journal).
 * --foreground is accepted for scripts that pass it and changes nothing.
 * Run it by hand with `stratad --config FILE &` or under nohup if you must.
 */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: stratad --config FILE [--foreground]\n"
		"       stratad --check-config FILE\n"
		"       stratad --sample-config\n"
		"\n"
		"stratad governs a strata warehouse: it sorts row files, merges files level by\n"
		"level, compacts history that left the retention window and cleans replaced\n"
		"files, as the policies in FILE say (default %s).\n"
		"It runs in the foreground; `strata admin` talks to it over its socket.\n",
		STRATAD_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	const char *config = NULL, *check = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			config = a + 9;
		} else if (strcmp(a, "--check-config") == 0 && i + 1 < argc) {
			check = argv[++i];
		} else if (strcmp(a, "--foreground") == 0 || strcmp(a, "-f") == 0) {
			/* always: see the opening comment */
		} else if (strcmp(a, "--sample-config") == 0) {
			stratad_config_sample(stdout);
			return 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "stratad: unknown or incomplete argument \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}
	strata_err err;
	strata_err_clear(&err);
	strata_buf all = {0};
	stratad_config *cfg = NULL;
	if (check) {
		if (stratad_config_load(check, &cfg, &all, &err) != 0) {
			fwrite(all.data, 1, all.len, stderr);
			strata_buf_free(&all);
			return 1;
		}
		if (cfg->nkeys_set == 0) { /* what a reload refuses (stratad.c, invariant 5a) */
			fprintf(stderr,
				"%s: the file sets no key (it is empty or holds only comments); a reload "
				"refuses it\n",
				check);
			stratad_config_free(cfg);
			return 1;
		}
		printf("%s: ok (%zu table section%s)\n", check, cfg->ntables, cfg->ntables == 1 ? "" : "s");
		stratad_config_free(cfg);
		return 0;
	}
	if (!config)
		config = STRATAD_DEFAULT_CONFIG;
	if (stratad_config_load(config, &cfg, &all, &err) != 0) {
		fwrite(all.data, 1, all.len, stderr);
		strata_buf_free(&all);
		return 1;
	}
	strata_buf_free(&all);
	stratad *d = NULL;
	if (stratad_open(cfg, &d, &err) != 0) {
		fprintf(stderr, "stratad: %s\n", err.msg);
		return 1;
	}
	int rc = stratad_run(d);
	stratad_close(d);
	return rc;
}
