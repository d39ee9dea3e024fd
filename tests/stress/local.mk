# SPDX-License-Identifier: ISC
# tests/stress/local.mk - reliability checks (docs/RELIABILITY.md), included
# by Makefile.am.
#
# make check runs the short ones: the LD_PRELOAD fault injector test
# (tests/fault/fault-injection.py, < 60 s) and the bad-configuration corpus
# (tests/stress/check-bad-configs.py).  make check-stress runs the long
# ones, each bounded (the whole target takes about 15 minutes on 2 cores).

# The fault injector: a shared object preloaded into the daemon only.  It
# is built with plain $(CC) and without the project's CFLAGS, which may
# carry sanitizer flags: sanitized runs skip the fault test anyway.
TCPXD_FAULT_LIB = tests/fault/libtcpxd-fault.so
tests/fault/libtcpxd-fault.so: $(srcdir)/tests/fault/inject.c
	$(AM_V_CC)$(MKDIR_P) tests/fault && \
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -fPIC -shared -o $@ \
	  $(srcdir)/tests/fault/inject.c -ldl
check_DATA = $(TCPXD_FAULT_LIB)
CLEANFILES += $(TCPXD_FAULT_LIB)

STRESS_SHORT_TESTS = \
	tests/fault/fault-injection.py \
	tests/stress/check-bad-configs.py
TESTS += $(STRESS_SHORT_TESTS)
tests/fault/fault-injection.log: $(TCPXD_FAULT_LIB)

# Long checks, run in this order by check-stress; each prints FIGURE lines.
STRESS_LONG_TESTS = \
	tests/stress/crash-durability.py \
	tests/fault/fault-injection.py \
	tests/stress/limits-scale.py \
	tests/stress/exhaustion.py \
	tests/stress/slow-clients.py \
	tests/stress/stop-reload.py \
	tests/stress/hostile-input.py

EXTRA_DIST += tests/fault/inject.c tests/stress/stresslib.py \
	tests/stress/run-stress $(STRESS_SHORT_TESTS) $(STRESS_LONG_TESTS) \
	tests/stress/bad-configs

check-stress: all $(TCPXD_FAULT_LIB)
	TCPXD='$(abs_top_builddir)/src/tcpxd' TCPXD_SRCDIR='$(abs_top_srcdir)' \
	TCPXD_BUILDDIR='$(abs_top_builddir)' TCPXD_SANITIZER='$(TCPXD_SANITIZER)' \
	PYTHON3='$(PYTHON3)' \
	  $(SHELL) '$(srcdir)/tests/stress/run-stress' $(STRESS_LONG_TESTS)
.PHONY: check-stress
