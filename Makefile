# todos-fcgi: a FastCGI responder that caches JSONPlaceholder todos in Redis.
#
#   make            build build/todos-fcgi
#   make run        install what is missing, build, serve on $PORT (5000)
#   make demo       the same, against the local upstream (no internet needed)
#   make test       install what is missing, build, run every suite below
#                   (plain, then ASan + UBSan, unit tests under TSan),
#                   fuzzers 10 s each, a short soak, a quick bench, then
#                   the Dockerfile and docker-compose.yml built and run
#   make unit       the unit tests (cmocka)
#   make integration  the integration tests (pytest, real servers)
#   make sanitize   unit + integration built with ASan + UBSan
#   make run-apache the service behind Apache (mod_proxy_fcgi)
#   make run-nginx  the service behind nginx (kept FastCGI connections)
#   make fuzz       each fuzzer for FUZZ_SECONDS (60)
#   make soak       a minute of load with faults, then valgrind
#   make bench      the project against the architecture's ceiling (wrk)
#   make mutate     plant each of tests/mutate/mutants, see the tests fail
#   make install    the binary, todos-fcgi(8), systemd units and examples
#                   under $(DESTDIR)$(PREFIX) (/usr/local)
#   make uninstall  remove exactly what make install put there
#   make clean      remove build/
#   make help       these lines, one per target

CC	?= cc
O	?= build
WARN	 = -std=c11 -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	   -Wshadow -Wwrite-strings -Wpointer-arith -Werror
CFLAGS	?= -O2 -g
override CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
LDLIBS	 = -lfcgi -lhiredis -lcurl -ljansson -lzopfli -lz -pthread
PYTHON	 = /usr/bin/python3

# Sanitizer build: make SAN=1 puts everything under build/san.  The flags
# are added with override, so a CFLAGS on the command line cannot drop them.
ifeq ($(SAN),1)
O	 = build/san
override CFLAGS  += -O1 -g -fno-omit-frame-pointer \
	   -fsanitize=address,undefined -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
endif

SRCS	 = $(wildcard fcgi/*.c)
OBJS	 = $(SRCS:fcgi/%.c=$(O)/%.o)
LIBOBJS	 = $(filter-out $(O)/main.o,$(OBJS))
UNITS	 = $(patsubst tests/unit/%.c,$(O)/%,$(wildcard tests/unit/test_*.c))

# Debian packages, by the targets that need them.
DEBS_BUILD = gcc make libc6-dev libfcgi-dev libhiredis-dev \
	     libcurl4-openssl-dev libjansson-dev libzopfli-dev zlib1g-dev
DEBS_RUN   = lighttpd redis-server
DEBS_DEMO  = python3
DEBS_TEST  = libcmocka-dev python3 python3-pytest python3-yaml curl \
	     clang libclang-rt-14-dev libtsan2 valgrind apache2 nginx \
	     redis-sentinel libapache2-mod-fcgid strace

.PHONY: all run demo test unit unit-build integration sanitize mutate \
	deps-build deps-run deps-demo deps-test clean
.DELETE_ON_ERROR:

all: $(O)/todos-fcgi

$(O)/todos-fcgi: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(O)/%.o: fcgi/%.c fcgi/*.h | $(O)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/test_%: tests/unit/test_%.c tests/unit/*.h $(LIBOBJS) fcgi/*.h | $(O)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -Ifcgi $(LDFLAGS) -o $@ $< \
	    $(LIBOBJS) $(LDLIBS) -lcmocka

$(O):
	mkdir -p $@

# Installs the named Debian packages that are not installed yet:
# one apt-get update, then one apt-get install.
define install_missing
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | \
	    grep -qx installed || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

deps-build:
	$(call install_missing,$(DEBS_BUILD))
deps-run:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN))
deps-demo:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN) $(DEBS_DEMO))
deps-test:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN) $(DEBS_TEST))

# exec: the script replaces the recipe's shell, so the SIGTERM that make
# passes to its child reaches it (and it stops when make is gone).  Its
# exit status 78 (a bad setting, an address it cannot listen on) is 2
# through make.
run: deps-run
	$(MAKE) all
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi exec lighttpd/run

# The same service behind Apache (mod_proxy_fcgi) or nginx, with
# todos-fcgi listening by itself on 127.0.0.1 (README: Other fronts).
.PHONY: run-apache run-nginx deps-apache deps-nginx
deps-apache:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN) apache2)
deps-nginx:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN) nginx)

run-apache: deps-apache
	$(MAKE) all
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi exec apache/run

run-nginx: deps-nginx
	$(MAKE) all
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi exec nginx/run

demo: deps-demo
	$(MAKE) all
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi exec lighttpd/run --demo

unit: $(UNITS)
	@rc=0; for t in $(UNITS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

unit-build: $(UNITS)

# The mutation check (tests/mutate/mutate.py): each mutant of
# tests/mutate/mutants planted in a copy of the tree and judged by the
# unit tests, then the integration tests named for it.  Not in `make
# test`: it rebuilds and reruns suites once per mutant (see README).
mutate: deps-test all
	$(PYTHON) tests/mutate/mutate.py $(if $(MUTANTS),--only $(MUTANTS))

integration: all
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/upstream tests/integration

# The sanitizer pass: same suites, responder built with ASan+UBSan.
# Reports go to files under build/san/reports; any file there fails.
sanitize:
	rm -rf build/san/reports && mkdir -p build/san/reports
	ASAN_OPTIONS=log_path=$(CURDIR)/build/san/reports/asan:detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build/san/reports/ubsan:print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) SAN=1 unit integration
	@if [ -n "$$(ls build/san/reports)" ]; then \
	    echo "sanitizer reports:"; cat build/san/reports/*; exit 1; fi
	@echo "sanitizers: no reports"

test: deps-test
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) sanitize
	$(MAKE) tsan
	$(MAKE) fuzz-smoke
	$(MAKE) soak-short
	$(MAKE) bench-quick
	$(MAKE) container-check

# The Dockerfile built and docker-compose.yml run for real, with podman
# (README: Docker).  The script installs what it needs; CONTAINER_PORT
# (default: 15000 or the next free port) is the app's host port.
.PHONY: container-check
container-check:
	PORT=$(CONTAINER_PORT) PYTHON=$(PYTHON) bash tests/container/check.sh

clean:
	rm -rf build

# Installing (docs/todos-fcgi.8, FILES).  The examples name the binary
# and the settings file by where they end up: @SBINDIR@, @DATADIR@ and
# @SYSCONFDIR@ are filled in as they are installed.  Nothing goes to /etc:
# the examples are copied there by whoever enables them.
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DATADIR	?= $(PREFIX)/share/todos-fcgi
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL	?= install
EXAMPLES = lighttpd/15-todos-fcgi.conf apache/todos-fcgi-fcgid.conf \
	   apache/htaccess-fcgid apache/todos-fcgi-proxy.conf \
	   nginx/todos-fcgi.conf
SCRIPTS	 = apache/todos-fcgi.fcgi
UNITS_SYSTEMD = systemd/todos-fcgi.service systemd/todos-fcgi.socket
FILL	 = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	       -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	       -e 's|@MANDIR@|$(MANDIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g'

.PHONY: install uninstall help
install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/lighttpd \
	    $(DESTDIR)$(DATADIR)/apache $(DESTDIR)$(DATADIR)/nginx
	$(INSTALL) -m 0755 $(O)/todos-fcgi $(DESTDIR)$(SBINDIR)/todos-fcgi
	$(FILL) docs/todos-fcgi.8 >$(DESTDIR)$(MANDIR)/man8/todos-fcgi.8
	$(FILL) systemd/todos-fcgi.env >$(DESTDIR)$(DATADIR)/todos-fcgi.env
	for f in $(UNITS_SYSTEMD); do \
	    $(FILL) $$f >$(DESTDIR)$(UNITDIR)/$${f#systemd/} || exit 1; done
	for f in $(EXAMPLES) $(SCRIPTS); do \
	    $(FILL) $$f >$(DESTDIR)$(DATADIR)/$$f || exit 1; done
	chmod 0755 $(SCRIPTS:%=$(DESTDIR)$(DATADIR)/%)
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/todos-fcgi.8 \
	    $(DESTDIR)$(DATADIR)/todos-fcgi.env \
	    $(UNITS_SYSTEMD:systemd/%=$(DESTDIR)$(UNITDIR)/%) \
	    $(EXAMPLES:%=$(DESTDIR)$(DATADIR)/%)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/todos-fcgi \
	    $(DESTDIR)$(MANDIR)/man8/todos-fcgi.8 \
	    $(DESTDIR)$(DATADIR)/todos-fcgi.env \
	    $(UNITS_SYSTEMD:systemd/%=$(DESTDIR)$(UNITDIR)/%) \
	    $(EXAMPLES:%=$(DESTDIR)$(DATADIR)/%) \
	    $(SCRIPTS:%=$(DESTDIR)$(DATADIR)/%)
	-rmdir $(DESTDIR)$(DATADIR)/lighttpd $(DESTDIR)$(DATADIR)/apache \
	    $(DESTDIR)$(DATADIR)/nginx $(DESTDIR)$(DATADIR)

# The "make X  text" lines of this file's header comment, first line each.
help:
	@sed -n -e '/^[^#]/q' -e 's/^#   make \([a-z-]*\) *\(.*\)/make \1\t\2/p' \
	    $(firstword $(MAKEFILE_LIST)) | awk -F '\t' '{ printf "%-18s %s\n", $$1, $$2 }'

include tests/fuzz/fuzz.mk
include tests/unit/tsan.mk
include tests/soak/soak.mk
include bench/bench.mk
