#!/bin/sh
# SPDX-License-Identifier: ISC
# replay.sh - "make check" test: replays every fuzz target's seed corpus,
# fuzz/corpus/<target>/, through fuzz/replay_<target> (the target's
# LLVMFuzzerTestOneInput without libFuzzer, built like the daemon, so under
# --enable-asan or --enable-tsan too).  Fails on a crash, a failed
# invariant, a non-zero exit or a missing corpus.
srcdir=${TCPXD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${TCPXD_BUILDDIR:-.}
# A known leak in libconfig itself, not in tcpxd (see the file).
LSAN_OPTIONS="suppressions=$srcdir/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
status=0
for target in frame receipt hostport size_cidr config proxy; do
	bin=$builddir/fuzz/replay_$target
	corpus=$srcdir/fuzz/corpus/$target
	if [ ! -x "$bin" ]; then
		echo "FAIL $target: $bin not built"
		status=1
		continue
	fi
	if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
		echo "FAIL $target: empty or missing corpus $corpus"
		status=1
		continue
	fi
	if "$bin" "$corpus"; then
		echo "ok $target"
	else
		echo "FAIL $target: $bin $corpus exited with status $?"
		status=1
	fi
done
exit $status
