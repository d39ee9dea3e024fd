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
# EXTRA_PROGRAMS are not removed by "make clean" on their own
MOSTLYCLEANFILES = bench/tcpx-load

EXTRA_DIST += bench/run bench/local.mk docs/BENCHMARKS.md bench/metrics-plot \
	docs/metrics-upload.svg docs/metrics-upload.png docs/metrics-upload.tsv

.PHONY: bench-smoke
bench-smoke: src/tcpxd bench/tcpx-load
	bash "$(srcdir)/bench/run" --smoke \
	  --tcpxd "$(abs_top_builddir)/src/tcpxd" \
	  --load "$(abs_top_builddir)/bench/tcpx-load" \
	  --dir "$(abs_top_builddir)"
