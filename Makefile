# strata — one non-recursive Makefile.
#
#   make            build libstrata.a, strata, stratad into build/
#   make test       install missing Debian packages and test tools, build, run
#                   every CUnit suite (prints each summary)
#   make asan       the whole suite under ASan+UBSan (build-asan/)
#   make tsan       the threaded suites under ThreadSanitizer (build-tsan/)
#   make bench      benchmarks (not tests: they print ratios, assert nothing)
#   make valgrind   job and daemon suites (and stratad) under memcheck
#   make soak       a long mixed run against a real stratad (SOAK_SECONDS)
#   make fuzz       libFuzzer targets; make fuzz-ci runs each briefly
#   make flip-long  random byte flips in data files, 10000 (FLIP_ITERS)
#   make demo       build, start stratad on ./var and show it governing a table
#   make install    PREFIX=/usr/local DESTDIR= (programs, libstrata.so and .a,
#                   <strata/strata.h>, strata.pc, man pages)
#   make man        the man pages into build/man/ (also part of `make`)
#   make clean
#
# CI=true or WERROR=1 adds -Werror.

BUILD    ?= build
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
DESTDIR  ?=
CC       ?= cc
SAN      ?=

PKGS     := avro-c lmdb inih libxxhash libzstd jansson libevent libevent_pthreads cunit libpq \
            libcurl libxml-2.0
DEB_PKGS := libevent-dev libavro-dev libzstd-dev liblmdb-dev libinih-dev \
            libcunit1-dev libjansson-dev libxxhash-dev pkg-config zlib1g-dev \
            postgresql libpq-dev groff-base prometheus chromium \
            ceph-mon ceph-osd radosgw libcurl4-openssl-dev libxml2-dev
# libpq's header lives in /usr/include/postgresql on Debian
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
# the S3 client (store/): libxml2's headers live in /usr/include/libxml2
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wvla -Wno-format-truncation
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARN     += -Werror
endif
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. $(PQ_CFLAGS) $(XML_CFLAGS) -MMD -MP -pthread
LDLIBS   += -lavro -llmdb -linih -lxxhash -lzstd -ljansson -levent_pthreads \
            -levent -lpq -lcurl -lxml2 -lz -lm -pthread
# STRATA_ASSERT (core/core.h) is compiled in unless NDEBUG; ASSERTS=0|1
# decides explicitly.  The build, `make test` and `make asan` have them.
ifneq ($(ASSERTS),)
CFLAGS   += -DSTRATA_ASSERTS=$(ASSERTS)
endif
ifneq ($(TSAN),)
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
endif
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

MODULES  := core store manifest format table merge sort compact jobs clean policies daemon cli api
LIB_SRC  := $(filter-out %/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libstrata.a

BINS     := $(BUILD)/strata
ifneq ($(wildcard daemon/main.c),)
BINS     += $(BUILD)/stratad
endif

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_SRC := $(wildcard tests/util/*.c)
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/%.o)

BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

NODE_DIR := tests/.node

# libstrata.so (rules below, at "libstrata.so")
ver_part  = $(shell sed -n 's/^\#define STRATA_VERSION_$(1) \([0-9]*\)$$/\1/p' api/strata.h)
SO_MAJOR := $(call ver_part,MAJOR)
SO_VER   := $(SO_MAJOR).$(call ver_part,MINOR).$(call ver_part,PATCH)
SO_MODULES := core store manifest format table merge sort compact jobs clean policies api
SO_SRC   := $(foreach m,$(SO_MODULES),$(wildcard $(m)/*.c))
SO_OBJ   := $(SO_SRC:%.c=$(BUILD)/pic/%.o)
SO       := $(BUILD)/libstrata.so.$(SO_VER)
# what the library modules link: pkg-config names for strata.pc's
# Requires.private, and -lpq, -lcurl and -lxml2 in its Libs.private
# (Debian's libpq.pc names static libraries, -lpgcommon -lpgport, that no
# package installs; libcurl.pc's static list names -llber and more, alike)
SO_REQS  := avro-c lmdb inih libxxhash libzstd jansson zlib
SO_PRIV  := -lpq -lcurl -lxml2 -lm -pthread
SO_LIBS  := -lavro -llmdb -linih -lxxhash -lzstd -ljansson -lpq -lcurl -lxml2 -lz -lm -pthread
MAN_PAGES := $(BUILD)/man/strata.1 $(BUILD)/man/stratad.8 $(BUILD)/man/stratad.ini.5

# keep objects that pattern chains build (test and bench .o files)
.SECONDARY:

.PHONY: all test test-run asan tsan bench demo install clean deps node-deps

all: $(LIB) $(BINS) $(SO) man

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/strata: $(BUILD)/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/stratad: $(BUILD)/daemon/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_UTIL_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# bench_catalog starts its throw-away PostgreSQL with the tests' tu_pg
$(BUILD)/bench/bench_catalog: $(TEST_UTIL_OBJ)
$(BUILD)/bench/bench_catalog: LDLIBS += $(LIB) -lcunit
# bench_store starts the tests' throw-away Ceph RGW (tests/util/tu_rgw)
$(BUILD)/bench/bench_store: $(BUILD)/bench/bench_store.o $(TEST_UTIL_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

# ---- libstrata.so: the public API (api/strata.h) as a shared library ------
#
# Its objects are the library modules (not the daemon's or the CLI's)
# compiled again with -fPIC -fvisibility=hidden into $(BUILD)/pic/ (shared
# with the DuckDB extension); libstrata.a keeps the non-PIC objects.  The
# version comes from api/strata.h, the soname carries the major version,
# and only strata_db_* are exported (STRATA_DB_API in the header, and the
# version script api/libstrata.map).

# Its PIC objects come from the $(BUILD)/pic/%.o rule of the DuckDB
# extension (below): -fPIC -fvisibility=hidden; api/strata.h marks the
# public functions STRATA_DB_API (default visibility).
$(SO): $(SO_OBJ) api/libstrata.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libstrata.so.$(SO_MAJOR) \
		-Wl,--version-script=api/libstrata.map -Wl,--no-undefined \
		-o $@ $(SO_OBJ) $(SO_LIBS)
	ln -sf libstrata.so.$(SO_VER) $(BUILD)/libstrata.so.$(SO_MAJOR)
	ln -sf libstrata.so.$(SO_MAJOR) $(BUILD)/libstrata.so

# strata.pc for the tree being installed: written by `make install` itself,
# so it always names the PREFIX and LIBDIR of that install
STRATA_PC_SED = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@VERSION@|$(SO_VER)|g' -e 's|@REQUIRES@|$(SO_REQS)|g' \
		-e 's|@LIBS@|$(SO_PRIV)|g'

# ---- man pages --------------------------------------------------------------
#
# strata(1), stratad(8), stratad.ini(5): the prose is man/*.in (roff), the
# reference parts are generated by build/man/mangen from the tables the code
# uses (the config table, the admin command table, and what the CLI's
# option parsers accept, from `strata --list-commands`), spliced in at the
# @GENERATED@ line.  tests/man-check renders them and checks coverage.

.PHONY: man
man: $(MAN_PAGES)

$(BUILD)/man/mangen: $(BUILD)/man/mangen.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/man/strata-commands.json: $(BUILD)/strata
	@mkdir -p $(dir $@)
	$(BUILD)/strata --list-commands > $@.tmp && mv $@.tmp $@

$(BUILD)/man/strata.1: man/strata.1.in $(BUILD)/man/mangen $(BUILD)/man/strata-commands.json
	$(BUILD)/man/mangen strata $< $(BUILD)/man/strata-commands.json > $@.tmp && mv $@.tmp $@

$(BUILD)/man/stratad.8: man/stratad.8.in $(BUILD)/man/mangen
	$(BUILD)/man/mangen stratad $< > $@.tmp && mv $@.tmp $@

$(BUILD)/man/stratad.ini.5: man/stratad.ini.5.in $(BUILD)/man/mangen
	$(BUILD)/man/mangen stratad.ini $< > $@.tmp && mv $@.tmp $@

# ---- set-up: Debian packages and the DuckDB oracle -------------------------

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y $$missing || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y $$missing; }; \
	fi

node-deps:
	@if [ ! -d $(NODE_DIR)/node_modules/@duckdb/node-api ]; then \
		mkdir -p $(NODE_DIR) && cd $(NODE_DIR) && \
		( [ -f package.json ] || echo '{"private":true}' > package.json ) && \
		( npm install --no-audit --no-fund @duckdb/node-api >npm.log 2>&1 || \
		  echo "WARNING: npm could not install @duckdb/node-api (see $(NODE_DIR)/npm.log); DuckDB interop tests will be SKIPPED" ); \
	fi

# ---- tests ------------------------------------------------------------------

test: deps node-deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory test-run

# The model-based suites again, on a PostgreSQL catalog (tests/on-catalog);
# first, since they are the longest.
PG_SUITES := tests/pg/pg-jobs tests/pg/pg-daemon tests/pg/pg-oracle tests/pg/pg-clean \
             tests/pg/pg-plan tests/pg/pg-inline
# ... and with the data files on object storage, a Ceph RGW of their own
# (tests/on-s3)
S3_SUITES := tests/s3/s3-jobs tests/s3/s3-daemon tests/s3/s3-oracle tests/s3/s3-clean \
             tests/s3/s3-inline
# ... and with both: data on object storage, a PostgreSQL catalog (tests/s3pg)
S3PG_SUITES := tests/s3pg/s3pg-jobs tests/s3pg/s3pg-daemon tests/s3pg/s3pg-oracle \
               tests/s3pg/s3pg-clean

test-run: $(LIB) $(BINS) $(TEST_BIN) $(BUILD)/bench/bench_daemon $(BUILD)/bench/bench_catalog \
	$(BUILD)/bench/bench_plan $(SO) man
	@STRATA_BUILD=$(BUILD) tests/run-tests $(PG_SUITES) $(S3_SUITES) $(S3PG_SUITES) $(TEST_BIN) \
		tests/bench-smoke tests/layer-check

asan: deps node-deps
	$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT="-O1 -g" test-run

# ThreadSanitizer over the suites that run threads or start stratad (whose
# workers are threads), in build-tsan/.  Every process writes its reports to
# build-tsan/tsan-logs/ (stratad's too, whose stderr a test may swallow);
# any report fails the target.  tests/tsan.supp holds the suppressions, each
# with why it is benign.
TSAN_SUITES ?= test_throttle test_concurrency test_daemon test_admin test_hostile test_colscan \
               test_table test_mapfull test_backpressure test_statuspage
TSAN_DIR    := build-tsan

tsan: deps
	$(MAKE) --no-print-directory BUILD=$(TSAN_DIR) TSAN=1 OPT="-O1 -g" \
		$(TSAN_DIR)/strata $(TSAN_DIR)/stratad $(TSAN_SUITES:%=$(TSAN_DIR)/tests/%)
	@rm -rf $(TSAN_DIR)/tsan-logs && mkdir -p $(TSAN_DIR)/tsan-logs
	@STRATA_BUILD=$(TSAN_DIR) \
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp log_path=$(CURDIR)/$(TSAN_DIR)/tsan-logs/tsan second_deadlock_stack=1 history_size=4 $(TSAN_EXTRA)" \
		tests/run-tests $(TSAN_SUITES:%=$(TSAN_DIR)/tests/%); rc=$$?; \
	if ls $(TSAN_DIR)/tsan-logs/tsan.* >/dev/null 2>&1; then \
		for f in $(TSAN_DIR)/tsan-logs/tsan.*; do echo "=== $$f"; cat "$$f"; done; \
		echo "ThreadSanitizer reported (logs in $(TSAN_DIR)/tsan-logs)"; exit 1; \
	fi; \
	[ $$rc = 0 ] && echo "ThreadSanitizer: no reports"; exit $$rc

bench: deps node-deps all $(BENCH_BIN)
	@STRATA_BUILD=$(BUILD) bench/run-bench $(BENCH_BIN)

# stratad's benchmark alone (also part of `make bench`), with gnuplot for
# its plot: docs/daemon-ingest.png, then the ingest alone at twice the rate
# (BENCH_RATE=2: docs/daemon-ingest-2x.png).  BENCH_INGEST_S, BENCH_IDLE_S
# and BENCH_IDLE_ENTRIES shorten or grow it.
.PHONY: bench-daemon
bench-daemon: deps all $(BUILD)/bench/bench_daemon
	@command -v gnuplot >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y gnuplot-nox || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y gnuplot-nox; }; }
	@STRATA_BUILD=$(BUILD) BENCH_RATE=1 $(BUILD)/bench/bench_daemon
	@STRATA_BUILD=$(BUILD) BENCH_RATE=2 BENCH_SKIP_IDLE=1 $(BUILD)/bench/bench_daemon

demo: deps all
	@STRATA_BUILD=$(BUILD) sh etc/demo.sh

# Binaries, libstrata (.so with its links, .a, <strata/strata.h>, strata.pc
# under LIBDIR, default PREFIX/lib), the man pages, docs with the Grafana
# dashboard and the Prometheus rules, the sample config (never over an existing stratad.ini; the
# sample is also installed as stratad.ini.sample), the systemd unit with
# PREFIX and the config directory substituted, tmpfiles and sysusers snippets.
# The config directory is /etc/strata for PREFIX=/usr, PREFIX/etc/strata
# otherwise.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/strata
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include/strata \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libstrata.so.$(SO_VER) $(DESTDIR)$(LIBDIR)/libstrata.so.$(SO_MAJOR)
	ln -sf libstrata.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libstrata.so
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 api/strata.h $(DESTDIR)$(PREFIX)/include/strata/strata.h
	sed $(STRATA_PC_SED) api/strata.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/strata.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/strata.pc
	install -m 0644 etc/grafana/stratad.json etc/prometheus/stratad-alerts.yml \
		$(DESTDIR)$(PREFIX)/share/doc/strata/
	$(if $(wildcard README.md docs/*.md docs/*.png),install -m 0644 $(wildcard README.md docs/*.md docs/*.png) $(DESTDIR)$(PREFIX)/share/doc/strata/)
	@set -e; \
	if [ "$(PREFIX)" = /usr ]; then sysconf=/etc; else sysconf=$(PREFIX)/etc; fi; \
	install -d $(DESTDIR)$$sysconf/strata $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/lib/sysusers.d; \
	install -m 0644 etc/stratad.ini $(DESTDIR)$$sysconf/strata/stratad.ini.sample; \
	if [ -f $(DESTDIR)$$sysconf/strata/stratad.ini ]; then \
		echo "kept $(DESTDIR)$$sysconf/strata/stratad.ini (the new sample is stratad.ini.sample)"; \
	else \
		install -m 0644 etc/stratad.ini $(DESTDIR)$$sysconf/strata/stratad.ini; \
	fi; \
	sed -e "s|/usr/local/etc|$$sysconf|g" -e "s|/usr/local|$(PREFIX)|g" etc/stratad.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/stratad.service; \
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/stratad.service; \
	install -m 0644 etc/stratad.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/stratad.conf; \
	install -m 0644 etc/stratad.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/stratad.conf; \
	for m in strata.1:man1 stratad.ini.5:man5 stratad.8:man8; do \
		sed -e "s|/usr/local/etc|$$sysconf|g" -e "s|/usr/local|$(PREFIX)|g" \
			$(BUILD)/man/$${m%%:*} > $(DESTDIR)$(PREFIX)/share/man/$${m#*:}/$${m%%:*}; \
		chmod 0644 $(DESTDIR)$(PREFIX)/share/man/$${m#*:}/$${m%%:*}; \
	done; \
	echo "installed strata and stratad under $(DESTDIR)$(PREFIX); config in $(DESTDIR)$$sysconf/strata"

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- soak --------------------------------------------------------------------
#
#   make soak      tests/soak.c: oracle writers, a `strata write` process,
#                  readers and a real stratad on one warehouse for
#                  SOAK_SECONDS (600), then a clean stop and the oracle
#                  check; prints operations, jobs, conflicts and anomalies
#                  (which must be 0).  Not part of `make test`.
SOAK_SECONDS ?= 600

.PHONY: soak
soak: deps all $(BUILD)/tests/soak
	@SOAK_SECONDS=$(SOAK_SECONDS) STRATA_BUILD=$(BUILD) $(BUILD)/tests/soak

# ---- valgrind ----------------------------------------------------------------
#
#   make valgrind  the job and daemon suites under valgrind's memcheck
#                  (--leak-check=full, errors and definite leaks fail), and
#                  the stratad they spawn under it too (tests/run-valgrind):
#                  0 errors and 0 definite leaks in every process, or it
#                  fails.  Not part of `make test` (it takes a while).
#                  VALGRIND_SUITES picks other suites.
VALGRIND_SUITES ?= test_jobs test_clean test_daemon

.PHONY: valgrind
valgrind: deps all $(VALGRIND_SUITES:%=$(BUILD)/tests/%)
	@command -v valgrind >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y valgrind || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y valgrind; }; }
	@tests/run-valgrind $(BUILD) $(VALGRIND_SUITES:%=$(BUILD)/tests/%)

# ---- fuzzing -----------------------------------------------------------------
#
#   make fuzz      build every libFuzzer target (clang, ASan + UBSan; the
#                  library sources compiled with clang into build-fuzz/):
#                    fuzz_parquet  the Parquet reader
#                    fuzz_avro     the Avro row-file reader
#                    fuzz_config   stratad's config parser (a whole file)
#                    fuzz_admin    the admin tokenizer, table and dispatcher
#                    fuzz_jsonl    `strata write`'s JSON lines into a transaction
#   make fuzz-ci   run each briefly on its seed corpus (tests/fuzz/corpus/T):
#                  60 s for parquet and avro, 30 s for the others; FUZZ_SECONDS
#                  sets one duration for all.  New inputs go to
#                  build-fuzz/corpus/T, findings to build-fuzz/T-crash-* etc.
#                  (copy them into tests/fuzz/corpus/T/: `make test` replays
#                  them).
#   make fuzz-run FUZZ_TARGET=avro FUZZ_SECONDS=3600 FUZZ_JOBS=2
#                  a long run of one target.
FUZZ_DIR     := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?=
FUZZ_JOBS    ?= 1
FUZZ_TARGET  ?= avro
FUZZ_TARGETS := parquet avro config admin jsonl
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -I. $(PQ_CFLAGS) $(XML_CFLAGS) -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined,float-cast-overflow \
                -fno-sanitize-recover=undefined,float-cast-overflow
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# per target: seconds in fuzz-ci, largest input
fuzz_secs     = $(or $(FUZZ_SECONDS),$(if $(filter parquet avro,$(1)),60,30))
fuzz_maxlen   = $(if $(filter parquet avro,$(1)),65536,$(if $(filter admin,$(1)),8192,16384))
fuzz_dict     = $(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict)

.PHONY: fuzz fuzz-ci fuzz-run

fuzz: $(FUZZ_BINS)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# an archive, so a target links only the objects it needs (cli/ wants main.c)
$(FUZZ_DIR)/libstrata.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libstrata.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# one target: $(1)
define fuzz_run_one
	@mkdir -p $(FUZZ_DIR)/corpus/$(1)
	$(FUZZ_DIR)/fuzz_$(1) -max_total_time=$(call fuzz_secs,$(1)) -timeout=10 \
		-rss_limit_mb=2048 -max_len=$(call fuzz_maxlen,$(1)) -print_final_stats=1 \
		$(call fuzz_dict,$(1)) -artifact_prefix=$(FUZZ_DIR)/$(1)- \
		$(FUZZ_DIR)/corpus/$(1) tests/fuzz/corpus/$(1)

endef

fuzz-ci: fuzz
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run_one,$(t)))

fuzz-run: $(FUZZ_DIR)/fuzz_$(FUZZ_TARGET)
	@mkdir -p $(FUZZ_DIR)/corpus/$(FUZZ_TARGET)
	$(FUZZ_DIR)/fuzz_$(FUZZ_TARGET) -max_total_time=$(or $(FUZZ_SECONDS),600) -timeout=10 \
		-rss_limit_mb=2048 -max_len=$(call fuzz_maxlen,$(FUZZ_TARGET)) -print_final_stats=1 \
		-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS) $(call fuzz_dict,$(FUZZ_TARGET)) \
		-artifact_prefix=$(FUZZ_DIR)/$(FUZZ_TARGET)- \
		$(FUZZ_DIR)/corpus/$(FUZZ_TARGET) tests/fuzz/corpus/$(FUZZ_TARGET)

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)

# ---- damage-long: random manifest damage at scale ---------------------------
# The damage loop of test_damage (a random page of manifest/data.mdb
# overwritten, zeroed, its header scrambled, or the file truncated; then
# reads, check and clean with every age at 0) for DAMAGE_ITERS iterations
# (default 2000) with the seed printed first; replay with DAMAGE_SEED.
.PHONY: damage-long
damage-long: $(BUILD)/tests/test_damage $(BINS)
	STRATA_BUILD=$(BUILD) STRATA_DAMAGE_ITERS=$${DAMAGE_ITERS:-2000} \
	STRATA_DAMAGE_SEED=$${DAMAGE_SEED:-20261205} $(BUILD)/tests/test_damage

# ---- crash-long: the kill -9 / power-loss suite at scale -------------------
# Thousands of crash points (CRASH_POINTS, default 3000) with the seed printed
# first; replay a failure with the CRASH_SEED and CRASH_POINTS it prints.
.PHONY: crash-long
crash-long: $(BUILD)/tests/test_crash
	CRASH_POINTS=$${CRASH_POINTS:-3000} $(BUILD)/tests/test_crash

# ---- flip-long: random byte flips in data files at scale -------------------
# test_checksum's loop with FLIP_ITERS flips (default 10000; 40 in make test)
# from FLIP_SEED (default 11): every scan and get returns the model's rows or
# fails naming the file; no crash, nothing deleted.
.PHONY: flip-long
flip-long: all $(BUILD)/tests/test_checksum
	STRATA_FLIP_ITERS=$${FLIP_ITERS:-10000} STRATA_FLIP_SEED=$${FLIP_SEED:-11} \
		STRATA_BUILD=$(BUILD) $(BUILD)/tests/test_checksum

# ---- DuckDB extension (duckdb/, docs/DUCKDB.md) ------------------------------
#
#   make duckdb-headers   fetch duckdb.h and duckdb_extension.h from the npm
#                         package duckdb@1.4.4 (npm pack) into build/ (part of
#                         the set-up of make test / asan / bench; never
#                         committed)
#   $(BUILD)/strata.duckdb_extension
#                         built by `make` when the headers are there: the
#                         extension (C_STRUCT ABI, minimum C API v1.2.0) over
#                         a -fPIC copy of the read path of libstrata, with
#                         DuckDB's metadata footer appended by ext_footer
#   tests/test_duckdb     links libduckdb.so of @duckdb/node-api (node-deps);
#                         without it or the headers it prints SKIPPED
DUCKDB_NPM      := duckdb@1.4.4
DUCKDB_HDR      := build/duckdb-1.4.4/include
DUCKDB_LIBDIR   := $(NODE_DIR)/node_modules/@duckdb/node-bindings-linux-x64
DUCKDB_CAPI     := v1.2.0
DUCKDB_PLATFORM := $(if $(filter aarch64 arm64,$(shell uname -m)),linux_arm64,linux_amd64)
DUCKDB_EXT      := $(BUILD)/strata.duckdb_extension
EXT_MODULES     := core store manifest format table merge
EXT_LIB_OBJ     := $(foreach m,$(EXT_MODULES),$(patsubst %.c,$(BUILD)/pic/%.o,$(filter-out %/main.c,$(wildcard $(m)/*.c))))
EXT_LDLIBS      := -lavro -llmdb -linih -lpq -lcurl -lxml2 -lxxhash -lzstd -ljansson -lz -lm -pthread
HAVE_DUCKDB_HDR := $(wildcard $(DUCKDB_HDR)/duckdb_extension.h)

.PHONY: duckdb-headers duckdb-ext
node-deps: duckdb-headers

duckdb-headers:
	@if [ ! -f $(DUCKDB_HDR)/duckdb_extension.h ]; then \
		mkdir -p build/duckdb-pack $(DUCKDB_HDR) && \
		( cd build/duckdb-pack && npm pack --silent $(DUCKDB_NPM) >npm.log 2>&1 ) && \
		tar xzf build/duckdb-pack/duckdb-1.4.4.tgz -C build/duckdb-pack \
			package/src/duckdb/src/include/duckdb.h \
			package/src/duckdb/src/include/duckdb_extension.h && \
		cp build/duckdb-pack/package/src/duckdb/src/include/duckdb.h \
		   build/duckdb-pack/package/src/duckdb/src/include/duckdb_extension.h $(DUCKDB_HDR)/ || \
		echo "WARNING: could not fetch the DuckDB headers ($(DUCKDB_NPM), see build/duckdb-pack/npm.log): strata.duckdb_extension is NOT built"; \
	fi

ifneq ($(HAVE_DUCKDB_HDR),)
all: $(DUCKDB_EXT)
duckdb-ext: $(DUCKDB_EXT)
else
all: duckdb-ext
duckdb-ext:
	@echo "*** strata.duckdb_extension NOT built: no DuckDB headers in $(DUCKDB_HDR) (run 'make duckdb-headers', which needs npm) ***"
endif

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -isystem $(DUCKDB_HDR) -c $< -o $@

$(BUILD)/libstrata_pic.a: $(EXT_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/duckdb/ext_footer: duckdb/ext_footer.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 $(WARN) -o $@ $<

$(BUILD)/duckdb/strata.so: $(BUILD)/pic/duckdb/strata_ext.o $(BUILD)/libstrata_pic.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,--exclude-libs,ALL -Wl,-z,defs -o $@ $^ $(EXT_LDLIBS)

$(DUCKDB_EXT): $(BUILD)/duckdb/strata.so $(BUILD)/duckdb/ext_footer
	$(BUILD)/duckdb/ext_footer $< $@.tmp $(DUCKDB_PLATFORM) $(DUCKDB_CAPI) v0.1.0 && mv $@.tmp $@

ifneq ($(and $(HAVE_DUCKDB_HDR),$(wildcard $(DUCKDB_LIBDIR)/libduckdb.so)),)
$(BUILD)/tests/test_duckdb.o: CFLAGS += -DHAVE_DUCKDB -isystem $(DUCKDB_HDR)
$(BUILD)/tests/test_duckdb.o: $(DUCKDB_HDR)/duckdb.h
$(BUILD)/tests/test_duckdb: LDLIBS += -L$(DUCKDB_LIBDIR) -lduckdb -Wl,-rpath,$(abspath $(DUCKDB_LIBDIR))
$(BUILD)/tests/test_duckdb: | $(DUCKDB_EXT)
$(BUILD)/bench/bench_duckdb.o: CFLAGS += -DHAVE_DUCKDB -isystem $(DUCKDB_HDR)
$(BUILD)/bench/bench_duckdb.o: $(DUCKDB_HDR)/duckdb.h
$(BUILD)/bench/bench_duckdb: LDLIBS += -L$(DUCKDB_LIBDIR) -lduckdb -Wl,-rpath,$(abspath $(DUCKDB_LIBDIR))
$(BUILD)/bench/bench_duckdb: | $(DUCKDB_EXT)
endif
