/* SPDX-License-Identifier: ISC */
/*
 * echo.c - sends back every byte, in order, until the client half-closes.
 * netio's waits implement idle_timeout in both directions: a client that
 * stops sending, or stops reading so that nothing we sent moves any more,
 * is closed idle_timeout seconds after its last byte moved; a client that
 * reads, however slowly, is served.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "daemon/services/echo.h"
#include "daemon/services/session.h"
#include "io/netio.h"
#include "io/sys.h"

static const char *
io_failure(const struct session *c, int err, const char *idle_reason)
{
	if (session_aborting(c))
		return "aborted-shutdown";
	if (err == EAGAIN || err == EWOULDBLOCK)
		return idle_reason;
	if (err == ECONNRESET || err == EPIPE)
		return "aborted-reset";
	if (err == EPROTO)
		return "aborted-tls-error";
	return "aborted-io-error";
}

/* Echo starts with this much on the thread's stack; most probes never need more. */
#define SMALL_BUFFER 2048

void
echo_serve(struct session *c)
{
	size_t big = (size_t)c->lcfg->buffer_size, size = SMALL_BUFFER;
	char small[SMALL_BUFFER], *heap = NULL, *buf = small;

	for (;;) {
		ssize_t n = session_recv(c, buf, size);

		if ((n == 0 || (n < 0 && errno == ECONNRESET)) && c->bytes_in == 0) {
			session_ended_silent(c);   /* a probe or a health check: nothing to echo */
			break;
		}
		if (n == 0) {
			c->result = session_aborting(c) ? "aborted-shutdown" : "ok";
			break;
		}
		if (n < 0) {
			c->result = io_failure(c, errno, "aborted-idle");
			sys_reset_on_close(c->io.fd, true);
			break;
		}
		c->bytes_in += (uint64_t)n;
		metrics_bytes_in(c->metrics, (uint64_t)n);
		if (netio_send_all(&c->io, buf, (size_t)n) < 0) {
			c->result = io_failure(c, errno, "aborted-idle-not-reading");
			sys_reset_on_close(c->io.fd, true);
			break;
		}
		c->bytes_out += (uint64_t)n;
		metrics_bytes_out(c->metrics, (uint64_t)n);
		/*
		 * A full small buffer means data is streaming: switch to the
		 * configured one.  Held and ping-pong connections never allocate.
		 */
		if (heap == NULL && (size_t)n == size && big > size && (heap = malloc(big)) != NULL) {
			buf = heap;
			size = big;
		}
	}
	free(heap);
}
