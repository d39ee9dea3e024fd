/* SPDX-License-Identifier: ISC */
/*
 * exchange.c - sends to an echo service and checks what comes back at the
 * same time, within a bounded window, so that input of any size never
 * deadlocks on full socket buffers.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/exchange.h"
#include "client/link.h"
#include "client/report.h"

/* Bytes sent and not yet echoed, at most: bounds the memory, and what a slow echo holds. */
#define EXCHANGE_WINDOW (512 * 1024)
#define EXCHANGE_STEP (64 * 1024)

/* Takes more input once everything read so far is sent.  0, or an exit code. */
static int
exchange_fill(struct exchange *x, size_t *data_off, bool *in_done)
{
	size_t room;
	ssize_t r;

	/* Keep only what is still to come back; a TLS retry never needs moved bytes (sent == tail). */
	if (x->tail + EXCHANGE_STEP > 2 * EXCHANGE_WINDOW) {
		memmove(x->fifo, x->fifo + x->head, x->tail - x->head);
		x->tail -= x->head;
		x->sent = x->tail;
		x->head = 0;
	}
	room = EXCHANGE_STEP;
	if (x->data != NULL) {
		r = (ssize_t)(x->data_len - *data_off < room ? x->data_len - *data_off : room);
		memcpy(x->fifo + x->tail, x->data + *data_off, (size_t)r);
		*data_off += (size_t)r;
	} else {
		do
			r = read(x->in, x->fifo + x->tail, room);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return report_fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
	}
	if (r == 0)
		*in_done = true;
	x->tail += (size_t)r;
	return EXIT_OK;
}

/* Reads what came back and checks it.  EXIT_OK with *eof at the end, or an exit code. */
static int
exchange_read(struct exchange *x, unsigned long long *back, bool *eof)
{
	char buf[EXCHANGE_STEP];
	ssize_t r = netio_recv(x->io, buf, sizeof(buf));

	if (r < 0 && errno == EAGAIN)
		return EXIT_OK;         /* TLS records without data (session tickets) */
	if (r < 0)
		return report_fail(EXIT_NETWORK, "%s: %s", x->label, link_io_error(x->io, errno));
	if (r == 0) {
		*eof = true;
		return EXIT_OK;
	}
	if ((size_t)r > x->sent - x->head || memcmp(x->fifo + x->head, buf, (size_t)r) != 0)
		return report_fail(EXIT_MISMATCH, "%s: byte %llu differs from what was sent", x->label, *back);
	if (x->print && fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
		return report_stdout_failed();
	x->head += (size_t)r;
	*back += (unsigned long long)r;
	return EXIT_OK;
}

static int
exchange_loop(struct exchange *x)
{
	struct pollfd input = { .fd = -1 };
	unsigned long long back = 0;
	bool in_done = false, wr_shut = !x->half_close, eof = false;
	size_t data_off = 0;
	int rc = EXIT_OK;

	x->head = x->sent = x->tail = 0;
	while (rc == EXIT_OK) {
		bool can_fill = !in_done && x->sent == x->tail && x->tail - x->head < EXCHANGE_WINDOW;
		bool shut_now = in_done && x->sent == x->tail && !wr_shut;
		short events = x->sent < x->tail || shut_now ? POLLOUT : 0, revents = 0;
		int n;

		if (can_fill && x->data != NULL) {
			rc = exchange_fill(x, &data_off, &in_done);
			continue;
		}
		if (eof || (in_done && wr_shut && x->head == x->tail && !x->half_close))
			break;
		input = (struct pollfd){ .fd = can_fill ? x->in : -1, .events = POLLIN };
		/* Only waiting for the user to type (nothing in flight) has no time limit. */
		n = link_wait_io(x->io, events, &input, can_fill && x->head == x->tail ? -1 :
		    (int)x->timeout * 1000, &revents);
		if (n <= 0) {
			rc = report_fail(EXIT_NETWORK, "%s: %s", x->label, n == 0 ? "timed out" : strerror(errno));
			break;
		}
		if (input.revents != 0)
			rc = exchange_fill(x, &data_off, &in_done);
		if (rc == EXIT_OK && (revents & (POLLOUT | POLLERR)) && x->sent < x->tail) {
			size_t len = x->tail - x->sent < EXCHANGE_STEP ? x->tail - x->sent : EXCHANGE_STEP;
			ssize_t k = link_send_some(x->io, x->fifo + x->sent, len);

			if (k < 0)
				rc = report_fail(EXIT_NETWORK, "%s: %s", x->label, link_io_error(x->io, errno));
			else
				x->sent += (size_t)k;
		}
		if (rc == EXIT_OK && shut_now && (revents & (POLLOUT | POLLERR))) {
			/* A failure other than a full buffer shows in the next read (a reset, a TLS error). */
			if (netio_shutdown_wr(x->io) == 0 || errno != EAGAIN)
				wr_shut = true;
		}
		if (rc == EXIT_OK && (revents & (POLLIN | POLLHUP | POLLERR)))
			rc = exchange_read(x, &back, &eof);
	}
	if (rc == EXIT_OK && eof && (x->head != x->tail || !in_done)) {
		if (x->half_close && in_done)
			rc = report_fail(EXIT_MISMATCH, "%s: connection closed after %llu of %llu bytes",
			    x->label, back, back + (unsigned long long)(x->tail - x->head));
		else
			rc = report_fail(EXIT_NETWORK, "%s: connection closed after %llu bytes came back",
			    x->label, back);
	}
	return rc;
}

int
exchange_run(struct exchange *x)
{
	int rc;

	if (x->fifo == NULL && (x->fifo = malloc(2 * EXCHANGE_WINDOW)) == NULL)
		return report_fail(EXIT_LOCAL, "out of memory");
	if (link_set_blocking(x->io, false) < 0)
		return report_fail(EXIT_LOCAL, "%s: %s", x->label, strerror(errno));
	rc = exchange_loop(x);
	if (link_set_blocking(x->io, true) < 0 && rc == EXIT_OK)
		rc = report_fail(EXIT_LOCAL, "%s: %s", x->label, strerror(errno));
	return rc;
}
