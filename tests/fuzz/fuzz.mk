# tests/fuzz/fuzz.mk: libFuzzer targets, included from the top-level Makefile
# (paths are relative to the project root; WARN and CPPFLAGS come from it).
#
#   make fuzz         each target for FUZZ_SECONDS (60) seconds
#   make fuzz-smoke   each target for 10 seconds (part of make test)
#
# Each fuzzer is one clang link of its target and the fcgi/*.c it needs,
# all under -fsanitize=fuzzer,address,undefined; nothing is shared with the
# gcc objects in $(O).  New inputs go to build/fuzz/corpus/<name>, crashes
# to build/fuzz/artifacts/; tests/fuzz/corpus/<name> holds the seeds and is
# only read.  See tests/fuzz/README.md.

# Included before the first rule of the Makefile, the first rule here would
# become the default goal: keep whatever it was.
FUZZ_GOAL	:= $(.DEFAULT_GOAL)

FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_O		:= build/fuzz
FUZZ_CFLAGS	:= -O1 -g -fno-omit-frame-pointer \
		   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_NAMES	:= route etag entry body prelude
FUZZ_BINS	:= $(FUZZ_NAMES:%=$(FUZZ_O)/fuzz_%)

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_O) 10 $(FUZZ_NAMES)

# Each fuzzer: its target and the fcgi/*.c it needs, in one clang command.
FUZZ_LINK = $(FUZZ_CC) $(WARN) $(CPPFLAGS) -Ifcgi $(FUZZ_CFLAGS) -o $@ \
	    $(filter %.c,$^)
FUZZ_DEPS = tests/fuzz/fuzz.h fcgi/*.h tests/fuzz/fuzz.mk

$(FUZZ_O)/fuzz_route: tests/fuzz/fuzz_route.c fcgi/route.c fcgi/err.c \
    $(FUZZ_DEPS) | $(FUZZ_O)
	$(FUZZ_LINK)

$(FUZZ_O)/fuzz_etag: tests/fuzz/fuzz_etag.c fcgi/etag.c $(FUZZ_DEPS) | $(FUZZ_O)
	$(FUZZ_LINK)

$(FUZZ_O)/fuzz_entry: tests/fuzz/fuzz_entry.c fcgi/entry.c fcgi/err.c \
    $(FUZZ_DEPS) | $(FUZZ_O)
	$(FUZZ_LINK)

# body is held to jansson, which it replaced (tests/fuzz/fuzz_body.c).
$(FUZZ_O)/fuzz_body: tests/fuzz/fuzz_body.c fcgi/body.c fcgi/err.c fcgi/log.c \
    $(FUZZ_DEPS) | $(FUZZ_O)
	$(FUZZ_LINK) -ljansson

$(FUZZ_O)/fuzz_prelude: tests/fuzz/fuzz_prelude.c fcgi/prelude.c $(FUZZ_DEPS) | \
    $(FUZZ_O)
	$(FUZZ_LINK)

$(FUZZ_O):
	mkdir -p $@

.DEFAULT_GOAL	:= $(FUZZ_GOAL)
