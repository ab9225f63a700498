# SPDX-License-Identifier: BSD-2-Clause
# dvalin build.  `make` builds ./dvalin; `make run` and `make test` first
# install missing Debian build dependencies (apt-get), see README.md.

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
# Debian's interpreter, where python3-pytest installs (not a pyenv one on PATH)
PYTHON := /usr/bin/python3
DESTDIR ?=
CC ?= cc
PKGS := libcrypto libzstd libxxhash jansson libcurl sqlite3 libmicrohttpd libcrypt libarchive fuse3 expat

# Debian packages needed to build and test.
DEB_BUILD := gcc make pkg-config libssl-dev libzstd-dev libxxhash-dev libjansson-dev \
	libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev libcrypt-dev libarchive-dev libfuse3-dev \
	libexpat1-dev
DEB_TEST := python3-pytest python3-pytest-xdist acl attr util-linux smartmontools openssl curl strace \
	btrfs-progs fdisk lvm2 \
	openssh-server ceph-mon ceph-osd radosgw ceph-common prometheus \
	chromium chromium-driver python3-selenium python3-aiosmtpd clang fuse3 rsync tar faketime

WARN := -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wundef -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wimplicit-fallthrough -Wcast-align \
	-Werror=implicit-function-declaration
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(WARN) -g \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CFLAGS ?= -O2
ALL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS)
# float-cast-overflow: gcc leaves it out of "undefined" (clang has it there)
SAN_FLAGS := -O1 -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
TSAN_FLAGS := -O1 -fsanitize=thread -fno-omit-frame-pointer

LIB_SRC := $(sort $(wildcard src/base/*.c src/core/*.c src/backend/*.c src/repo/*.c \
	src/archive/*.c src/disks/*.c src/notify/*.c src/jobs/*.c src/report/*.c src/http/*.c \
	src/server/*.c src/daemon/*.c)) build/gen/web_assets.c
# The web UI's files, embedded in the binary (src/daemon/assets.h).
WEB_FILES := $(sort $(wildcard web/*.html web/*.css web/*.js web/*.svg))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))

B := build
S := build/asan
T := build/tsan
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
SLIB_OBJ := $(LIB_SRC:%.c=$(S)/%.o)
SCLI_OBJ := $(CLI_SRC:%.c=$(S)/%.o)
TLIB_OBJ := $(LIB_SRC:%.c=$(T)/%.o)
TCLI_OBJ := $(CLI_SRC:%.c=$(T)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# every backend must pass it, by URL (tests/run-all.sh gives the URLs)
CONFORMANCE_BIN := $(B)/tests/backend_conformance $(T)/tests/backend_conformance
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)

.PHONY: all deps test-deps run test screenshots unit e2e e2e-asan install uninstall clean check-style bench \
	bench-maintenance fuzz fuzz-deps fuzz-merge replay

all: dvalin

build/gen/web_assets.c: $(WEB_FILES) web/embed.sh
	@mkdir -p $(dir $@)
	@echo "  EMBED   web/"
	@sh web/embed.sh $@ $(WEB_FILES)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(S)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

$(T)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC tsan $<"
	@$(CC) $(BASE_CFLAGS) $(TSAN_FLAGS) -MMD -MP -c -o $@ $<

# cmd_generate embeds the man page (.incbin): rebuilt when it changes
$(B)/src/cli/cmd_generate.o $(S)/src/cli/cmd_generate.o $(T)/src/cli/cmd_generate.o: docs/dvalin.1

$(T)/dvalin: $(TLIB_OBJ) $(TCLI_OBJ)
	$(CC) $(BASE_CFLAGS) $(TSAN_FLAGS) -o $@ $(TCLI_OBJ) $(TLIB_OBJ) $(LIBS)

$(B)/libdvalin.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(S)/libdvalin.a: $(SLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(T)/libdvalin.a: $(TLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

dvalin: $(CLI_OBJ) $(B)/libdvalin.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(B)/libdvalin.a $(LIBS)

$(S)/dvalin: $(SCLI_OBJ) $(S)/libdvalin.a
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -o $@ $(SCLI_OBJ) $(S)/libdvalin.a $(LIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(S)/libdvalin.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Isrc -o $@ $< $(S)/libdvalin.a $(LIBS)

# The unit tests once more with clang's UBSan, which also stops on what
# gcc's lets pass (NULL + 0 in a pointer computation, among others).
C := build/clang
CLIB_OBJ := $(LIB_SRC:%.c=$(C)/%.o)
CUNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(C)/tests/%)
$(C)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC clang $<"
	@clang $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

$(C)/libdvalin.a: $(CLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(C)/tests/%: tests/unit/%.c tests/unit/harness.h $(C)/libdvalin.a
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) $(SAN_FLAGS) -Isrc -o $@ $< $(C)/libdvalin.a $(LIBS)

$(T)/tests/%: tests/unit/%.c tests/unit/harness.h $(T)/libdvalin.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(TSAN_FLAGS) -Isrc -o $@ $< $(T)/libdvalin.a $(LIBS)

$(B)/tools/%: tests/tools/%.c $(B)/libdvalin.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libdvalin.a $(LIBS)

# Fuzz targets (tests/fuzz/README.md).  Each tests/fuzz/<name>.c is a
# libFuzzer binary for `make fuzz` (clang, its own instrumented library)
# and, linked with replay.c, a plain program that `make test` runs over
# the target's checked-in corpus and past crash inputs (gcc, ASan/UBSan).
FUZZ_NAMES := $(filter-out replay,$(sort $(basename $(notdir $(wildcard tests/fuzz/*.c)))))
FUZZ_HDR := $(wildcard tests/fuzz/*.h)
F := build/fuzz
FUZZ_CC := clang
DEB_FUZZ := clang libclang-rt-14-dev
FLIB_OBJ := $(LIB_SRC:%.c=$(F)/%.o)
FUZZ_BIN := $(FUZZ_NAMES:%=$(F)/bin/%)
REPLAY_BIN := $(FUZZ_NAMES:%=$(B)/replay/%)
# seconds per target for `make fuzz`; FUZZ_TARGETS picks some
FUZZ_SECONDS ?= 180
FUZZ_TARGETS ?= $(FUZZ_NAMES)

$(F)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(F)/libdvalin.a: $(FLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(F)/bin/%: tests/fuzz/%.c $(FUZZ_HDR) $(F)/libdvalin.a
	@mkdir -p $(dir $@)
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(F)/libdvalin.a $(LIBS)

$(B)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_HDR) $(S)/libdvalin.a
	@mkdir -p $(dir $@)
	@echo "  LD replay $@"
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Isrc -o $@ $< tests/fuzz/replay.c $(S)/libdvalin.a $(LIBS)

fuzz-deps: deps
	$(call apt_install,$(DEB_FUZZ))

# Runs each target for FUZZ_SECONDS (niced); new crashes go to
# tests/fuzz/<name>/crashes, new corpus entries to build/fuzz/corpus.
fuzz: fuzz-deps
	$(MAKE) $(FUZZ_TARGETS:%=$(F)/bin/%)
	@sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Minimizes each checked-in corpus together with what `make fuzz` found.
fuzz-merge: fuzz-deps
	$(MAKE) $(FUZZ_TARGETS:%=$(F)/bin/%)
	@sh tests/fuzz/run.sh merge 0 $(FUZZ_TARGETS)

replay: $(REPLAY_BIN)
	@sh tests/fuzz/replay.sh $(REPLAY_BIN)

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)

# Install what is missing (Debian 12).  Uses sudo when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# $(call apt_install,PACKAGES[,APT OPTIONS]): installs those of PACKAGES that are missing.
# Packages such as openssh-server and prometheus would start system services
# listening on every address; a temporary policy-rc.d (exit 101: "action
# forbidden", honoured by invoke-rc.d and deb-systemd-invoke) keeps them off.
# The tests start their own, on 127.0.0.1.
apt_install = @missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; \
	    printf '\#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && $(SUDO) chmod 0755 /usr/sbin/policy-rc.d; fi; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(2) $$missing; \
	  rc=$$?; [ -z "$$guard" ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; exit $$rc; fi
deps:
	$(call apt_install,$(DEB_BUILD))

# Without recommends: they would add services of their own (node-exporter
# for prometheus) and desktop pieces; the tests start the services they need.
test-deps: deps
	$(call apt_install,$(DEB_TEST),--no-install-recommends)

run: deps
	$(MAKE) dvalin
	sh contrib/demo.sh

# The web UI's pictures in docs/screenshots/, from the Chromium test.
screenshots: test-deps dvalin $(TOOL_BIN)
	DVALIN_BIN=$(CURDIR)/dvalin DVALIN_TOOLS=$(CURDIR)/$(B)/tools E2E_REQUIRE_SERVICES=1 \
	  DVALIN_SCREENSHOTS=$(CURDIR)/docs/screenshots \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e/test_daemon_web.py::test_web_ui_in_chromium

unit: $(UNIT_BIN) $(CONFORMANCE_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)
	@d=$$(mktemp -d) && $(B)/tests/backend_conformance $$d/repo mem:conformance | tail -n 1; rm -rf $$d

e2e: dvalin $(TOOL_BIN)
	DVALIN_BIN=$(CURDIR)/dvalin DVALIN_TOOLS=$(CURDIR)/$(B)/tools $(PYTHON) -m pytest -q tests/e2e

e2e-asan: $(S)/dvalin $(TOOL_BIN)
	DVALIN_BIN=$(CURDIR)/$(S)/dvalin DVALIN_TOOLS=$(CURDIR)/$(B)/tools \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(PYTHON) -m pytest -q tests/e2e

test: test-deps
	$(MAKE) dvalin $(S)/dvalin $(T)/dvalin $(T)/tests/test_ordq $(UNIT_BIN) $(CUNIT_BIN) $(CONFORMANCE_BIN) $(TOOL_BIN) $(REPLAY_BIN)
	@sh tests/run-all.sh

# Benchmark against restic and borg (not part of `make test`: timings are noisy).
# BENCH_QUICK=1: smaller workloads, one run each (bench/bench.py says more).
DEB_BENCH := restic borgbackup linux-source-6.1 e2fsprogs zstd openssl time \
	ceph-mon ceph-osd radosgw ceph-common openssh-server
BENCH_TOOLS := $(B)/index_bench $(B)/mktree $(B)/chunk_bench
bench: deps
	$(call apt_install,$(DEB_BENCH))
	$(MAKE) dvalin $(BENCH_TOOLS)
	$(B)/index_bench 2000000 build/index-bench 1
	$(B)/index_bench 2000000 build/index-bench 24
	$(PYTHON) bench/bench.py
	$(PYTHON) bench/sync.py
	$(PYTHON) bench/s3.py --linux
	$(PYTHON) bench/server.py
	$(PYTHON) bench/journal.py
	$(PYTHON) bench/maintenance.py --threads

# prune and check on 20 snapshots, against restic and borg
bench-maintenance: deps
	$(call apt_install,$(DEB_BENCH))
	$(MAKE) dvalin
	$(PYTHON) bench/maintenance.py

$(B)/index_bench: bench/index_bench.c $(B)/libdvalin.a
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libdvalin.a $(LIBS)

$(B)/chunk_bench: bench/chunk_bench.c $(B)/libdvalin.a
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libdvalin.a $(LIBS)

$(B)/mktree: bench/mktree.c
	$(CC) $(ALL_CFLAGS) -o $@ $<

check-style:
	@sh tests/check-layers.sh

install: dvalin
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 dvalin $(DESTDIR)$(PREFIX)/bin/dvalin
	install -m 0644 docs/dvalin.1 $(DESTDIR)$(PREFIX)/share/man/man1/dvalin.1
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/dvalin
	sed 's|/usr/local/bin/dvalin|$(PREFIX)/bin/dvalin|' contrib/dvalin-disks.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/dvalin-disks.service
	install -m 0644 contrib/dvalin-disks.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 contrib/alerts.conf.example $(DESTDIR)$(PREFIX)/share/doc/dvalin/
	sed 's|/usr/local/bin/dvalin|$(PREFIX)/bin/dvalin|' contrib/dvalin.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/dvalin.service
	install -m 0644 contrib/dvalin.conf.example docs/daemon.md $(DESTDIR)$(PREFIX)/share/doc/dvalin/
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/dvalin
	[ -e $(DESTDIR)$(SYSCONFDIR)/dvalin/dvalin.conf ] || \
		install -m 0600 contrib/dvalin.conf $(DESTDIR)$(SYSCONFDIR)/dvalin/dvalin.conf
	-[ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ] && systemctl daemon-reload || true
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	./dvalin generate --bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dvalin \
		--zsh-completion $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_dvalin \
		--fish-completion $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/dvalin.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/dvalin $(DESTDIR)$(PREFIX)/share/man/man1/dvalin.1 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/dvalin-disks.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/dvalin-disks.timer \
		$(DESTDIR)$(PREFIX)/share/doc/dvalin/alerts.conf.example \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/dvalin.service \
		$(DESTDIR)$(PREFIX)/share/doc/dvalin/dvalin.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/dvalin/daemon.md \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/dvalin \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_dvalin \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/dvalin.fish

clean:
	rm -rf $(B) dvalin
