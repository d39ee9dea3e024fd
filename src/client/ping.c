/* SPDX-License-Identifier: ISC */
/* ping.c - tcpx ping: timed round trips through an echo service, and their statistics. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "client/client.h"
#include "client/exchange.h"
#include "client/link.h"
#include "client/report.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int
ping_cmd(const struct tcpx_opts *opt, int argc, char **argv)
{
	char *out = NULL, label[48];
	double *rtt = NULL, sum = 0;
	long done = 0;
	struct exchange x = { 0 };
	struct netio io;
	int one = 1, rc;

	if (argc != 1)
		return report_fail(EXIT_USAGE, "ping: need HOST:PORT");
	if ((rc = link_open(opt, argv[0], &io, NULL)) != EXIT_OK)
		return rc;
	if ((out = malloc(opt->size)) == NULL ||
	    (rtt = calloc((size_t)opt->count, sizeof(*rtt))) == NULL) {
		rc = report_fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	printf("PING %s: %zu data bytes\n", argv[0], opt->size);
	x = (struct exchange){ .io = &io, .timeout = opt->timeout, .label = label, .data = out,
	    .data_len = opt->size };
	for (long seq = 0; seq < opt->count; seq++) {
		double t0;

		for (size_t i = 0; i < opt->size; i++)
			out[i] = (char)(seq + (long)i);
		snprintf(label, sizeof(label), "ping: seq=%ld", seq);
		t0 = now_us();
		/* Large messages are read back while they are sent (exchange_run()), never after. */
		if ((rc = exchange_run(&x)) != EXIT_OK)
			goto summary;
		rtt[done] = (now_us() - t0) / 1000.0;
		if (printf("%zu bytes from %s: seq=%ld time=%.3f ms\n", opt->size, argv[0], seq,
		    rtt[done]) < 0) {
			rc = report_stdout_failed();
			goto out;
		}
		sum += rtt[done++];
		if (seq + 1 < opt->count) {
			struct timespec ts = opt->interval;

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
summary:
	printf("--- %s echo statistics ---\n%ld sent, %ld received\n", argv[0],
	    done + (rc != EXIT_OK), done);
	if (done > 0) {
		qsort(rtt, (size_t)done, sizeof(*rtt), cmp_double);
		printf("rtt min/avg/p99/max = %.3f/%.3f/%.3f/%.3f ms\n", rtt[0], sum / (double)done,
		    rtt[(size_t)ceil(0.99 * (double)done) - 1], rtt[done - 1]);
	}
out:
	free(out);
	free(x.fifo);
	free(rtt);
	link_close(&io, rc == EXIT_OK);
	return rc;
}
