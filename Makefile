# strata — one non-recursive Makefile.
#
#   make            build libstrata.a, strata, stratad into build/
#   make test       install missing Debian packages and test tools, build, run
#                   every CUnit suite (prints each summary)
#   make asan       the whole suite under ASan+UBSan (build-asan/)
#   make bench      benchmarks (not tests: they print ratios, assert nothing)
#   make valgrind   job and daemon suites (and stratad) under memcheck
#   make soak       a long mixed run against a real stratad (SOAK_SECONDS)
#   make fuzz       libFuzzer targets; make fuzz-ci runs each briefly
#   make flip-long  random byte flips in data files, 10000 (FLIP_ITERS)
#   make demo       build, start stratad on ./var and show it governing a table
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# CI=true or WERROR=1 adds -Werror.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
SAN      ?=

PKGS     := avro-c lmdb inih libxxhash libzstd jansson libevent libevent_pthreads cunit
DEB_PKGS := libevent-dev libavro-dev libzstd-dev liblmdb-dev libinih-dev \
            libcunit1-dev libjansson-dev libxxhash-dev pkg-config zlib1g-dev

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wvla -Wno-format-truncation
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARN     += -Werror
endif
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. -MMD -MP -pthread
LDLIBS   += -lavro -llmdb -linih -lxxhash -lzstd -ljansson -levent_pthreads \
            -levent -lz -lm -pthread
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

MODULES  := core manifest format table merge sort compact clean policies daemon cli
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

# keep objects that pattern chains build (test and bench .o files)
.SECONDARY:

.PHONY: all test test-run asan bench demo install clean deps node-deps

all: $(LIB) $(BINS)

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

test-run: $(LIB) $(BINS) $(TEST_BIN) $(BUILD)/bench/bench_daemon
	@STRATA_BUILD=$(BUILD) tests/run-tests $(TEST_BIN) tests/bench-smoke

asan: deps node-deps
	$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT="-O1 -g" test-run

bench: deps node-deps all $(BENCH_BIN)
	@STRATA_BUILD=$(BUILD) bench/run-bench $(BENCH_BIN)

# stratad's benchmark alone (also part of `make bench`), with gnuplot for
# its plot: docs/daemon-ingest.png.  BENCH_INGEST_S, BENCH_IDLE_S and
# BENCH_IDLE_ENTRIES shorten or grow it.
.PHONY: bench-daemon
bench-daemon: deps all $(BUILD)/bench/bench_daemon
	@command -v gnuplot >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y gnuplot-nox || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y gnuplot-nox; }; }
	@STRATA_BUILD=$(BUILD) $(BUILD)/bench/bench_daemon

demo: deps all
	@STRATA_BUILD=$(BUILD) sh etc/demo.sh

# Binaries, docs, the sample config (never over an existing stratad.ini; the
# sample is also installed as stratad.ini.sample), the systemd unit with
# PREFIX and the config directory substituted, tmpfiles and sysusers snippets.
# The config directory is /etc/strata for PREFIX=/usr, PREFIX/etc/strata
# otherwise.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/strata
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
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
	echo "installed strata and stratad under $(DESTDIR)$(PREFIX); config in $(DESTDIR)$$sysconf/strata"

clean:
	rm -rf build build-asan build-fuzz

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
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer \
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
