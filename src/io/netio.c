/* SPDX-License-Identifier: ISC */
/*
 * netio.c - plain TCP goes straight to sys.h; TLS goes through OpenSSL.
 * In the daemon a peer is cut idle_timeout after the last byte moved, and
 * never while it reads, however slowly: a plain receive blocks in recv()
 * with SO_RCVTIMEO slices (sys_recv_sliced, one call while data flows);
 * plain sends, header reads with a deadline and TLS on its non-blocking
 * socket wait in sys_await().  tcpx keeps a blocking socket, where
 * WANT_READ/WANT_WRITE can only mean that SO_RCVTIMEO or SO_SNDTIMEO
 * expired.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include "io/netio.h"
#include "io/sys.h"

/*
 * After a failed SSL_read/SSL_write/SSL_shutdown: 0 when the call should
 * be repeated (the socket is ready now), or -1 with errno as in sys.h.
 */
static int
tls_retry(struct netio *io, int rc, int saved_errno)
{
	int kind = SSL_get_error(io->ssl, rc);

	ERR_clear_error();
	if (kind == SSL_ERROR_SYSCALL) {
		errno = saved_errno != 0 ? saved_errno : EPROTO;
		return -1;
	}
	if (kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_WANT_WRITE) {
		errno = EPROTO;
		return -1;
	}
	if (io->timeout_ms == 0) {
		if (saved_errno == EINTR)
			return 0;
		errno = EAGAIN;
		return -1;
	}
	return sys_await(io->fd, kind == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, io->timeout_ms,
	    io->deadline_ms);
}

/*
 * SSL_read returns one record (16 KiB at most): take the records OpenSSL
 * already holds too, so that a caller makes one pass (one file write, one
 * hash update) per OpenSSL read buffer (TLS_READ_BUFFER) rather than per
 * record.  Never waits: on the daemon's non-blocking socket the rest of a
 * started record is read if it is there; on tcpx's blocking socket only
 * what is already decrypted is taken.  Any failure is left for the next
 * SSL_read to report.
 */
static size_t
more_records(struct netio *io, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len && (SSL_pending(io->ssl) > 0 ||
	    (io->timeout_ms != 0 && SSL_has_pending(io->ssl)))) {
		size_t n = 0;

		if (SSL_read_ex(io->ssl, buf + got, len - got, &n) != 1) {
			ERR_clear_error();
			break;
		}
		got += n;
	}
	return got;
}

ssize_t
netio_recv(struct netio *io, void *buf, size_t len)
{
	return netio_recv_parkable(io, buf, len, 0);
}

ssize_t
netio_recv_parkable(struct netio *io, void *buf, size_t len, int park_ms)
{
	if (io->timeout_ms == 0)
		park_ms = 0;    /* tcpx's blocking socket */
	if (io->ssl == NULL && io->timeout_ms > 0 && io->deadline_ms == 0)
		return sys_recv_sliced(io->fd, buf, len, io->timeout_ms, park_ms, &io->rcvtimeo_ms);
	if (io->ssl == NULL) {
		if (park_ms > 0 && sys_idle_for(io->fd, park_ms)) {
			errno = ETIME;
			return -1;
		}
		return sys_recv_idle(io->fd, buf, len, io->timeout_ms, io->deadline_ms);
	}
	for (;;) {
		int rc, err;

		ERR_clear_error();
		errno = 0;
		rc = SSL_read(io->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		err = errno;
		if (rc > 0)
			return (ssize_t)rc + more_records(io, (char *)buf + rc, len - (size_t)rc);
		if (SSL_get_error(io->ssl, rc) == SSL_ERROR_ZERO_RETURN)
			return 0;
		/*
		 * Only once OpenSSL asks for more from the socket: with read-ahead
		 * it may hold the client's next record already (read with the last
		 * one, or with the handshake), which no poll() would see.  One look
		 * only: after it, the idle clock runs as always.
		 */
		if (park_ms > 0 && SSL_get_error(io->ssl, rc) == SSL_ERROR_WANT_READ) {
			bool idle = sys_idle_for(io->fd, park_ms);

			park_ms = 0;
			if (idle) {
				ERR_clear_error();
				errno = ETIME;
				return -1;
			}
		}
		if (tls_retry(io, rc, err) < 0)
			return -1;
	}
}

int
netio_send_all(struct netio *io, const void *buf, size_t len)
{
	const char *p = buf;

	if (io->ssl == NULL)
		return sys_send_all_idle(io->fd, buf, len, io->timeout_ms, io->deadline_ms);
	while (len > 0) {
		/* A repeated SSL_write must pass the same bytes: chunk only changes after success. */
		int chunk = len > INT_MAX ? INT_MAX : (int)len, rc;

		ERR_clear_error();
		errno = 0;
		/* Without SSL_MODE_ENABLE_PARTIAL_WRITE, success means all of chunk. */
		rc = SSL_write(io->ssl, p, chunk);
		if (rc > 0) {
			p += rc;
			len -= (size_t)rc;
		} else if (tls_retry(io, rc, errno) < 0) {
			return -1;
		}
	}
	return 0;
}

int
netio_shutdown_wr(struct netio *io)
{
	/*
	 * OpenSSL marks SSL_SENT_SHUTDOWN before the alert is flushed: repeat
	 * until SSL_shutdown() itself says it is out (0: sent, the peer's not
	 * yet seen, which is all a half-close needs).
	 */
	while (io->ssl != NULL) {
		int rc;

		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_shutdown(io->ssl)) >= 0)
			break;
		if (tls_retry(io, rc, errno) < 0)
			return -1;
	}
	return shutdown(io->fd, SHUT_WR);
}

bool
netio_buffered(struct netio *io)
{
	return io->ssl != NULL && SSL_has_pending(io->ssl);
}

void
netio_tls_end(struct netio *io)
{
	if (io->ssl == NULL)
		return;
	/* A clean end for the peer; failure only means it is already gone. */
	if (!(SSL_get_shutdown(io->ssl) & SSL_SENT_SHUTDOWN) && SSL_shutdown(io->ssl) < 0)
		ERR_clear_error();
	SSL_free(io->ssl);
	io->ssl = NULL;
}
