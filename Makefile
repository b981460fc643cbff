# ragstore - compressed, encrypted FUSE filesystem.
#   make          build ./ragstore
#   make check    install missing Debian packages, build, run every test
#   make demo     install missing packages, build, mount a demo store
#   make bench    benchmarks against a plain directory and gocryptfs
CC      ?= cc
PKGS    := fuse3 zlib liblz4 libsodium inih libzstd
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -Iinclude -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

# Everything below the FUSE layer goes into libragstore.a, which the unit
# tests (and fsck/info) link without libfuse.
LIB_SRC := $(wildcard src/util/*.c src/codec/*.c src/crypto/*.c src/config/*.c \
                      src/format/*.c src/store/*.c)
FS_SRC  := $(wildcard src/fs/*.c src/cli/*.c) src/main.c
LIB_OBJ := $(LIB_SRC:.c=.o)
FS_OBJ  := $(FS_SRC:.c=.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:.c=)

.PHONY: all deps check unit integration demo bench clean man

all: ragstore

ragstore: $(FS_OBJ) libragstore.a
	$(CC) $(CFLAGS) -o $@ $(FS_OBJ) libragstore.a $(LDLIBS)

libragstore.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

%.o: %.c $(wildcard include/*.h src/*/*.h)
	$(CC) $(CFLAGS) -c -o $@ $<

tests/unit/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) libragstore.a
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< libragstore.a $(LDLIBS)

deps:
	@sh tests/deps.sh

unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

integration: ragstore
	@sh tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	@sh tests/demo.sh

bench: deps
	$(MAKE) all
	@sh bench/run.sh

clean:
	rm -f ragstore libragstore.a $(LIB_OBJ) $(FS_OBJ) $(UNIT_BIN)

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
