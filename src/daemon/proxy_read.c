/* SPDX-License-Identifier: ISC */
/*
 * proxy_read.c - reads a PROXY header off the socket without taking a byte
 * of what follows it: peeks, parses with proxy_parse(), and takes only what
 * is surely header.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "daemon/proxy_read.h"
#include "io/sys.h"

/*
 * Takes len bytes that a peek has already shown to be queued.  MSG_WAITALL
 * and the loop are for a signal or the urgent mark cutting the recv short.
 */
static int
consume(int fd, unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Peek, parse, and take only what is surely header: the bytes of an
 * incomplete header (all of them belong to it), or the rest of a complete
 * one.  After taking everything it peeked, the next poll blocks until new
 * bytes come, so a slow sender costs no CPU; only that poll waits, so the
 * deadline alone bounds the header.
 */
enum proxy_read_status
proxy_read(int fd, long long deadline_ms, struct proxy_header *out, const char **why)
{
	unsigned char buf[PROXY_HEADER_MAX];
	size_t have = 0;

	for (;;) {
		ssize_t n;
		int ready = sys_wait(fd, POLLIN, deadline_ms);

		if (ready == 0) {
			*why = "timed out before the PROXY header ended";
			return PROXY_READ_TIMEOUT;
		}
		if (ready < 0) {
			*why = "poll failed";
			return PROXY_READ_CLOSED;
		}
		do
			n = recv(fd, buf + have, sizeof(buf) - have, MSG_PEEK);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			*why = "recv failed";
			return PROXY_READ_CLOSED;
		}
		if (n == 0) {
			errno = 0;
			*why = "connection closed before the PROXY header ended";
			return PROXY_READ_CLOSED;
		}
		switch (proxy_parse(buf, have + (size_t)n, out, why)) {
		case PROXY_DONE:
			/* buf[0..have) alone was incomplete, so the header ends past it. */
			if (consume(fd, buf + have, out->length - have) < 0) {
				*why = errno ? "recv failed" : "connection closed in the PROXY header";
				return PROXY_READ_CLOSED;
			}
			return PROXY_READ_OK;
		case PROXY_BAD:
			return PROXY_READ_BAD;
		case PROXY_INCOMPLETE:
			if (consume(fd, buf + have, (size_t)n) < 0) {
				*why = errno ? "recv failed" : "connection closed in the PROXY header";
				return PROXY_READ_CLOSED;
			}
			have += (size_t)n;
			/* The parser refuses a header this long first; never loop on a full buffer. */
			if (have == sizeof(buf)) {
				*why = "header too long";
				return PROXY_READ_BAD;
			}
			break;
		}
	}
}
