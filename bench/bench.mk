# bench/bench.mk: `make bench` and `make bench-quick`, included by the
# top-level Makefile, whose CC, WARN, CPPFLAGS, CFLAGS, O, PYTHON,
# DEBS_BUILD, DEBS_RUN and install_missing it uses.
#
#   make bench          the full comparison (5 s runs, 3 repetitions,
#                       1,000,000 extra Redis keys), then the cache
#                       scenarios next to nginx proxy_cache and Varnish
#                       (cold 10 s, waves 15 s): about 10 minutes
#   make bench-quick    the same steps in seconds (BENCH_QUICK=1: 1 s runs,
#                       1 repetition, 10,000 keys, 20 cold ids, cold 2 s,
#                       waves 3 s); `make test` runs it to keep it working.
#                       Speed never fails it.
#
#   BENCH_ONLY=cold,waves make bench   only some scenario groups (hit, cold,
#                       waves; see bench/bench.py)
#
# Results: bench/results/latest.md (also printed), latest.png, latest.json;
# see bench/results/README.md.  `$(PYTHON) bench/bench.py --report` redraws
# the table and chart from latest.json without measuring.

BENCH_DEBS	= wrk gnuplot-nox python3 nginx varnish
# Target names expand where this file is included: do not rely on O yet.
BENCH_DIR	:= $(or $(O),build)/bench
BENCH_CONST	 = $(BENCH_DIR)/const_fcgi

.PHONY: bench bench-quick deps-bench

deps-bench:
	$(call install_missing,$(DEBS_BUILD) $(DEBS_RUN) $(BENCH_DEBS))

# deps-bench comes first: `all` needs the build packages.
bench: deps-bench all $(BENCH_CONST)
	RESPONDER=$(CURDIR)/$(O)/todos-fcgi CONST_FCGI=$(CURDIR)/$(BENCH_CONST) \
	    BENCH_QUICK=$(BENCH_QUICK) $(PYTHON) bench/bench.py

# No recursive make: the variable reaches bench's recipe as a prerequisite's.
bench-quick: BENCH_QUICK = 1
bench-quick: bench

# The ceiling responder, with the project's warning flags.
$(BENCH_CONST): bench/const_fcgi.c | $(BENCH_DIR)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lfcgi

$(BENCH_DIR):
	mkdir -p $@
