# rbc — the runbook console.
#
#   make            build ./rbc
#   make deps       install the missing Debian packages (sudo when not root)
#   make demo       install what the demo needs, build, start the local sandbox
#                   and open the console on the shipped runbooks (FAULT=5xx,
#                   slow, dead-health or migration: the new release fails so)
#   make test       install deps, build, run every test (SAN=1: ASan + UBSan)
#   make fuzz       build and run the libFuzzer harnesses (FUZZ_SECONDS each)
#   make bench      run the benchmarks under tests/bench/
#   make install    PREFIX=/usr/local
#   make clean

# libcmark-gfm: Debian ships no .pc for libcmark-gfm-extensions; its
# libcmark-gfm.pc links -lcmark-gfm-extensions itself (tables, task lists).
PKGS     := ncursesw libcurl libcjson libpq libpcre2-8 libuv libcmark-gfm
VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
SAN      ?= 0
FUZZ_SECONDS ?= 60

CC       ?= cc
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
            -Wwrite-strings -Wmissing-prototypes -Wpointer-arith -Wvla
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DRBC_VERSION='"$(VERSION)"'
CFLAGS   ?= -O2 -g
ifeq ($(CI),true)
WARN     += -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null)

ifeq ($(SAN),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS   := -O1 -g
else
BUILD    := build/rel
SANFLAGS :=
endif

ALL_CFLAGS  = $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# Every layer but cmd/ is a library the tests link against.
LIB_SRC  := $(sort $(wildcard src/util/*.c src/runbook/*.c src/expr/*.c \
              src/engine/*.c src/probe/*.c src/record/*.c src/notify/*.c src/session/*.c \
              src/tui/*.c))
CMD_SRC  := $(sort $(wildcard src/cmd/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPFILES := $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_BIN:=.d)

# Debian packages the build and the tests need.
DEB_BUILD := build-essential pkg-config libncurses-dev libcurl4-openssl-dev \
             libcjson-dev libpq-dev libpcre2-dev libuv1-dev libcmocka-dev \
             libcmark-gfm-dev libcmark-gfm-extensions-dev
DEB_TEST  := python3 python3-jsonschema valgrind time clang libclang-rt-14-dev tmux procps libxml2-utils cmark-gfm \
             postgresql-15 postgresql-client-15 nginx prometheus curl openssl \
             monitoring-plugins-basic jq
DEB_FUZZ  := clang libclang-rt-14-dev
# What make demo's sandbox runs.
DEB_DEMO  := python3 nginx prometheus postgresql-15 postgresql-client-15 curl openssl \
             monitoring-plugins-basic jq
FAULT     ?= none

.PHONY: all deps deps-demo deps-fuzz demo test unit bench fuzz install clean
all: rbc

# Copied then renamed: a running rbc keeps its file, the next one gets the new.
rbc: $(BUILD)/rbc
	@if [ "$(SAN)" != 1 ]; then cp $< $@.tmp && mv -f $@.tmp $@; fi

$(BUILD)/rbc: $(CMD_OBJ) $(BUILD)/librbc.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/librbc.a $(PKG_LIBS) -lm

$(BUILD)/librbc.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librbc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(BUILD)/librbc.a \
		$(ALL_LDFLAGS) $(PKG_LIBS) $(TEST_LIBS) -lm

unit: $(UNIT_BIN)

# Installs only what is missing; quiet and quick when everything is there.
deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST) $(EXTRA_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing:$$missing"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_DEBS="$(DEB_FUZZ)"

deps-demo:
	@$(MAKE) --no-print-directory deps DEB_TEST= EXTRA_DEBS="$(DEB_DEMO)"

demo: deps-demo
	@$(MAKE) --no-print-directory rbc
	@RBC=$(CURDIR)/rbc tests/sandbox/demo "$(FAULT)"

test: deps
	@$(MAKE) --no-print-directory rbc unit
	@RBC_BIN=$(CURDIR)/$(BUILD)/rbc RBC_UNIT_DIR=$(CURDIR)/$(BUILD)/tests \
		RBC_SAN=$(SAN) tests/run

bench: rbc
	@RBC_BIN=$(CURDIR)/rbc tests/bench/run

# libFuzzer harnesses, built with clang, each run for FUZZ_SECONDS.
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# The loader reads each step's action through its probe kind (probe_ops
# load), so the probes come too.
FUZZ_LIB_SRC := $(filter src/util/% src/runbook/% src/expr/% src/probe/%,$(LIB_SRC))
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer -g -O1

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRC) $(wildcard include/rbc/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		$(filter %.c,$^) $(PKG_LIBS) -lm

# The journal reader's harness reads back through the record layer, which
# links against the engine and the probes (everything but the console).
FUZZ_JOURNAL_SRC := $(filter-out src/tui/%,$(LIB_SRC))

build/fuzz/fuzz_journal: tests/fuzz/fuzz_journal.c $(FUZZ_JOURNAL_SRC) $(wildcard include/rbc/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		$(filter %.c,$^) $(PKG_LIBS) -lm

fuzz: deps-fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_BIN)

install: rbc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/rbc/themes $(DESTDIR)$(PREFIX)/share/rbc/runbooks \
		$(DESTDIR)$(PREFIX)/share/doc/rbc
	install -m 0755 rbc $(DESTDIR)$(PREFIX)/bin/rbc
	install -m 0644 docs/rbc.1 $(DESTDIR)$(PREFIX)/share/man/man1/rbc.1
	install -m 0644 docs/*.md docs/runbook.schema.json $(DESTDIR)$(PREFIX)/share/doc/rbc/
	install -m 0644 runbooks/*.json $(DESTDIR)$(PREFIX)/share/rbc/runbooks/
	-install -m 0644 themes/* $(DESTDIR)$(PREFIX)/share/rbc/themes/ 2>/dev/null

clean:
	rm -rf build rbc

-include $(DEPFILES)
