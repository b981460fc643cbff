# ragstore - compressed, encrypted FUSE filesystem.
#   make          build ./ragstore
#   make check    install missing Debian packages, build, run every test
#                 (unit, a short fuzz smoke run, integration, and the mount
#                 tests again with BACKING on GlusterFS and on sshfs)
#   make check SANITIZE=address,undefined   (or SANITIZE=thread) the same
#                 suites on a build with that sanitizer (docs/HARDENING.md)
#   make fuzz     run every libFuzzer target for FUZZ_SECONDS (default 60)
#   make demo     install missing packages, build, mount a demo store
#   make bench    benchmarks against a plain directory and gocryptfs
#   make bench BACKING=glusterfs   ragstore beside gocryptfs, both with
#                 BACKING on one GlusterFS volume (docs/BACKING.md)
CC      ?= cc
PKGS    := fuse3 zlib liblz4 libsodium inih libzstd
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -Iinclude -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

# A sanitizer build goes to a tree of its own, B (build/san-NAME/), so that
# its objects never mix with those of a normal build, which stay in place.
comma   := ,
SANITIZE ?=
ifneq ($(SANITIZE),)
B       := build/san-$(subst $(comma),-,$(SANITIZE))/
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Everything below the FUSE layer goes into libragstore.a, which the unit
# tests (and fsck/info) link without libfuse.
LIB_SRC := $(wildcard src/util/*.c src/codec/*.c src/crypto/*.c src/config/*.c \
                      src/format/*.c src/store/*.c)
FS_SRC  := $(wildcard src/fs/*.c src/cli/*.c) src/main.c
LIB_OBJ := $(LIB_SRC:%.c=$(B)%.o)
FS_OBJ  := $(FS_SRC:%.c=$(B)%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:%.c=$(B)%)
HEADERS := $(wildcard include/*.h src/*/*.h)

.PHONY: all deps check unit unit-tsan integration integration-backing demo bench clean man \
	fuzz fuzz-build fuzz-smoke

all: $(B)ragstore

$(B)ragstore: $(FS_OBJ) $(B)libragstore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(FS_OBJ) $(B)libragstore.a $(LDLIBS)

$(B)libragstore.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(B)%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)tests/unit/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(B)libragstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(B)libragstore.a $(LDLIBS)

deps:
	@sh tests/deps.sh

# Under SANITIZE, tests/sanitize.sh runs the suite with the sanitizer's
# reports going to files under $(B)reports/, and fails on any of them.
ifeq ($(SANITIZE),)
unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

integration: ragstore
	@sh tests/integration/run.sh

# The mount tests with BACKING on GlusterFS and on sshfs (docs/BACKING.md).
integration-backing: ragstore
	@sh tests/integration/backing.sh
else
unit: $(UNIT_BIN)
	@sh tests/sanitize.sh $(B) sh tests/unit/run.sh $(UNIT_BIN)

integration: $(B)ragstore
	@RAGSTORE_BIN=$(B)ragstore sh tests/sanitize.sh $(B) sh tests/integration/run.sh
endif

# The fuzz smoke run needs clang; a sanitizer run has its own checks.  The
# backing filesystem variants run in the plain build only (the time budget
# of CI; docs/BACKING.md).
check: deps
	$(MAKE) all
	$(MAKE) unit
	$(if $(SANITIZE),,$(MAKE) unit-tsan)
	$(if $(SANITIZE),,$(MAKE) fuzz-smoke)
	$(MAKE) integration
	$(if $(SANITIZE),,$(MAKE) integration-backing)

# Part of make check: the data path's concurrency test (many threads, an
# exact model) and the reaper's, built with ThreadSanitizer, in
# build/san-thread/.
unit-tsan:
	$(MAKE) SANITIZE=thread build/san-thread/tests/unit/test_concurrency \
		build/san-thread/tests/unit/test_reaper
	@sh tests/sanitize.sh build/san-thread/ sh -c \
		'build/san-thread/tests/unit/test_concurrency && build/san-thread/tests/unit/test_reaper'

demo: deps
	$(MAKE) all
	@sh tests/demo.sh

BACKING ?=
bench: deps
	$(MAKE) all
	@$(if $(BACKING),/usr/bin/python3 bench/backing.py $(BACKING),sh bench/run.sh)

clean:
	rm -f ragstore libragstore.a $(LIB_OBJ) $(FS_OBJ) $(UNIT_BIN)
	rm -rf build

# ---- fuzzing: tests/fuzz/, docs/HARDENING.md ------------------------------
# One libFuzzer target per parser of untrusted bytes, built with clang
# against a copy of the library compiled with ASan and UBSan (build/fuzz/).
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -O1 -g -std=gnu11 $(WARN) -Iinclude -Itests/unit -Itests/fuzz -D_GNU_SOURCE \
                -D_FILE_OFFSET_BITS=64 -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
                -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SAN     := address,undefined
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3

$(FUZZ_DIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/libragstore.a: $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h tests/unit/*.h) \
                    $(FUZZ_DIR)/libragstore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< \
		$(FUZZ_DIR)/libragstore.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Every target for FUZZ_SECONDS, new inputs kept in build/fuzz/corpus/.
fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# Part of make check: every target over its seed corpus, then a few seconds.
fuzz-smoke: fuzz-build
	@sh tests/fuzz/run.sh -smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

tests/tools/%: tests/tools/%.c libragstore.a
	$(CC) $(CFLAGS) -o $@ $< libragstore.a $(LDLIBS)

PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= /sbin
MANDIR  ?= $(PREFIX)/share/man

.PHONY: install uninstall
install: ragstore
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	           $(DESTDIR)$(MANDIR)/man8
	install -m 0755 ragstore $(DESTDIR)$(PREFIX)/bin/ragstore
	install -m 0755 mount-helpers/ragstore-backup $(DESTDIR)$(PREFIX)/bin/ragstore-backup
	install -m 0755 mount-helpers/mount.fuse.ragstore $(DESTDIR)$(SBINDIR)/mount.fuse.ragstore
	install -m 0644 docs/ragstore.1 docs/ragstore-backup.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/mount.fuse.ragstore.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ragstore $(DESTDIR)$(PREFIX)/bin/ragstore-backup \
	      $(DESTDIR)$(SBINDIR)/mount.fuse.ragstore $(DESTDIR)$(MANDIR)/man1/ragstore.1 \
	      $(DESTDIR)$(MANDIR)/man1/ragstore-backup.1 \
	      $(DESTDIR)$(MANDIR)/man8/mount.fuse.ragstore.8
