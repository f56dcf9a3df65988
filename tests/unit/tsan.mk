# tests/unit/tsan.mk: the unit tests under ThreadSanitizer, included from
# the top-level Makefile (paths are relative to the project root; O, CFLAGS,
# LDFLAGS and the unit target come from it).
#
#   make tsan    builds every tests/unit/test_*.c and the fcgi objects they
#                link with -fsanitize=thread under build/tsan, runs them,
#                and fails on any report (part of make test)
#
# TSAN=1 adds the flags, as SAN=1 does for ASan; it needs O=build/tsan as
# well, so that no ThreadSanitizer object lands among the plain or ASan
# ones (make tsan passes both; by hand: make TSAN=1 O=build/tsan
# build/tsan/test_threads).  The compiler is $(CC), gcc here, whose runtime
# is libtsan2.  Reports go to files under build/tsan/reports: a report
# stops its test at once (halt_on_error) and any file there fails the run.

# Included before the first rule of the Makefile, the first rule here would
# become the default goal: keep whatever it was.
TSAN_GOAL	:= $(.DEFAULT_GOAL)

TSAN_O		:= build/tsan
TSAN_LOG	:= $(CURDIR)/$(TSAN_O)/reports/tsan
TSAN_OPTS	:= log_path=$(TSAN_LOG):halt_on_error=1:exitcode=66

ifeq ($(TSAN),1)
ifneq ($(O),$(TSAN_O))
$(error TSAN=1 builds under $(TSAN_O): add O=$(TSAN_O), or run make tsan)
endif
ifeq ($(SAN),1)
$(error SAN=1 and TSAN=1 do not mix: run make sanitize and make tsan)
endif
override CFLAGS  += -O1 -g -fno-omit-frame-pointer -fsanitize=thread
override LDFLAGS += -fsanitize=thread
endif

.PHONY: tsan

tsan:
	rm -rf $(TSAN_O)/reports && mkdir -p $(TSAN_O)/reports
	@rc=0; \
	TSAN_OPTIONS=$(TSAN_OPTS) $(MAKE) TSAN=1 O=$(TSAN_O) unit || rc=1; \
	if [ -n "$$(ls $(TSAN_O)/reports)" ]; then \
	    echo "ThreadSanitizer reports:"; cat $(TSAN_O)/reports/*; rc=1; \
	fi; \
	if [ $$rc -eq 0 ]; then echo "tsan: no reports"; fi; \
	exit $$rc

.DEFAULT_GOAL	:= $(TSAN_GOAL)
