#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installs what the build needs (Debian 12, as root), builds tcpxd out of
# tree and runs the whole test suite.  With --asan or --tsan the build is
# instrumented with AddressSanitizer+UBSan or ThreadSanitizer; with
# --valgrind every daemon the integration tests start runs under memcheck.
# Usage: tests/check.sh [--asan|--tsan|--valgrind] [--distcheck]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=plain
distcheck=no
for arg in "$@"; do
  case "$arg" in
    --asan) flavour=asan ;;
    --tsan) flavour=tsan ;;
    --valgrind) flavour=valgrind ;;
    --distcheck) distcheck=yes ;;
    *) echo "usage: $0 [--asan|--tsan|--valgrind] [--distcheck]" >&2; exit 2 ;;
  esac
done

"$top/tests/install-deps.sh"

cd "$top"
[ -x configure ] || autoreconf -fi
build="$top/build/$flavour"
mkdir -p "$build"
cd "$build"
case "$flavour" in
  asan) extra=--enable-asan ;;
  tsan) extra=--enable-tsan ;;
  *) extra= ;;
esac
[ -f Makefile ] || "$top/configure" --enable-werror $extra
make -j"$(nproc)"
status=0
if [ "$flavour" = valgrind ]; then
  export TCPXD_LAUNCHER="valgrind -q --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$top/tests/valgrind.supp"
  make -j"$(nproc)" check TCPXD_SANITIZER=valgrind || status=$?
else
  make -j"$(nproc)" check || status=$?
fi
# One plain summary line for whoever reads the log.
if [ -f test-suite.log ]; then
  pass=$(sed -n 's/^# PASS: *//p' test-suite.log)
  fail=$(sed -n 's/^# FAIL: *//p' test-suite.log)
  xfail=$(sed -n 's/^# ERROR: *//p' test-suite.log)
  skip=$(sed -n 's/^# SKIP: *//p' test-suite.log)
  [ "$status" -ne 0 ] && cat test-suite.log
  echo "$flavour: ${pass:-0} passed, $(( ${fail:-0} + ${xfail:-0} )) failed, ${skip:-0} skipped"
fi
[ "$status" -eq 0 ] || exit "$status"
if [ "$distcheck" = yes ]; then
  make distcheck
fi
