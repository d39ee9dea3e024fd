/*
 * echo.c - sends back every byte, in order, until the client half-closes.
 * SO_RCVTIMEO/SO_SNDTIMEO, inherited from the listening socket,
 * implement idle_timeout in both directions: a
 * client that stops sending, or stops reading so that our send makes no
 * progress, is closed after idle_timeout seconds.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "echo.h"
#include "sys.h"

static const char *
io_failure(const struct conn *c, int err, const char *idle_reason)
{
	if (conn_aborting(c))
		return "aborted-shutdown";
	if (err == EAGAIN || err == EWOULDBLOCK)
		return idle_reason;
	if (err == ECONNRESET || err == EPIPE)
		return "aborted-reset";
	return "aborted-io-error";
}

void
echo_serve(struct conn *c)
{
	size_t size = (size_t)c->lcfg->buffer_size;
	char *buf;

	/* TCP_NODELAY and the timeouts come from the listening socket (listener_configure). */
	if ((buf = malloc(size)) == NULL) {
		c->result = "aborted-setup-failed";
		return;
	}
	for (;;) {
		ssize_t n = sys_recv(c->fd, buf, size);

		if (n == 0) {
			c->result = conn_aborting(c) ? "aborted-shutdown" : "ok";
			break;
		}
		if (n < 0) {
			c->result = io_failure(c, errno, "aborted-idle");
			break;
		}
		c->bytes_in += (uint64_t)n;
		if (sys_send_all(c->fd, buf, (size_t)n) < 0) {
			c->result = io_failure(c, errno, "aborted-idle-not-reading");
			break;
		}
		c->bytes_out += (uint64_t)n;
	}
	free(buf);
}
