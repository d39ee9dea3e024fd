# SPDX-License-Identifier: ISC
# Benchmark (issue 6): the load generator, and a smoke run that checks every
# scenario (the TLS ones too) completes and verifies its data against the
# daemon just built.
# No timing is asserted.  The full comparison with the peers is bench/run
# (as root); results and how to read them are in docs/BENCHMARKS.md.

EXTRA_PROGRAMS = bench/tcpx-load
bench_tcpx_load_SOURCES = bench/tcpx-load.c
# its own small OpenSSL client for --tls (tls-stream, tls-upload); not libtcpxd
bench_tcpx_load_CFLAGS = $(AM_CFLAGS) $(LIBSSL_CFLAGS)
bench_tcpx_load_LDADD = $(LIBSSL_LIBS)

# Small files (issue 16): the reference server of the smallfiles scenario
# (bench/run compiles it itself unless given --ref), and the experiment
# comparing durable commit schemes without a network (docs/BENCHMARKS.md).
# "make bench/fsync-ref bench/fsync-modes"
EXTRA_PROGRAMS += bench/fsync-ref bench/fsync-modes
bench_fsync_ref_SOURCES = bench/fsync-ref.c
bench_fsync_ref_CFLAGS = $(AM_CFLAGS) $(LIBSSL_CFLAGS)
bench_fsync_ref_LDADD = $(LIBSSL_LIBS)
bench_fsync_modes_SOURCES = bench/fsync-modes.c
bench_fsync_modes_CFLAGS = $(AM_CFLAGS)
bench_fsync_modes_LDADD =
if HAVE_LIBURING
# scheme c (file flushes through io_uring) only when liburing is there
bench_fsync_modes_CFLAGS += $(LIBURING_CFLAGS) -DHAVE_LIBURING
bench_fsync_modes_LDADD += $(LIBURING_LIBS)
endif

# EXTRA_PROGRAMS are not removed by "make clean" on their own
MOSTLYCLEANFILES = bench/tcpx-load bench/fsync-ref bench/fsync-modes

EXTRA_DIST += bench/run bench/local.mk docs/BENCHMARKS.md bench/metrics-plot \
	docs/metrics-upload.svg docs/metrics-upload.png docs/metrics-upload.tsv

.PHONY: bench-smoke
bench-smoke: src/tcpxd bench/tcpx-load
	bash "$(srcdir)/bench/run" --smoke \
	  --tcpxd "$(abs_top_builddir)/src/tcpxd" \
	  --load "$(abs_top_builddir)/bench/tcpx-load" \
	  --dir "$(abs_top_builddir)"
