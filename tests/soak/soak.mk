# tests/soak/soak.mk: the soak test (tests/soak/README.md), included from
# the top-level Makefile, which provides $(PYTHON) and the target `all`.
#
#   make soak         60 s of load with 64 connections while Redis restarts
#                     and the upstream fails and slows down, then 20 s with
#                     the responders under valgrind memcheck
#   make soak-short   the same schedule in 15 s, then 10 s under valgrind
#                     (about 35 s in all; part of `make test`)

PYTHON	 ?= /usr/bin/python3
SOAK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The responder `all` builds: build/todos-fcgi (valgrind needs a build
# without sanitizers, so SAN=1 builds cannot run the valgrind half).
SOAK	  = $(PYTHON) $(SOAK_DIR)/soak.py --responder $(CURDIR)/$(or $(O),build)/todos-fcgi

.PHONY: soak soak-short

soak: all
	$(SOAK) --seconds 60 --connections 64 --timeline
	$(SOAK) --valgrind --seconds 20 --connections 8

soak-short: all
	$(SOAK) --seconds 15 --connections 64
	$(SOAK) --valgrind --seconds 10 --connections 8
