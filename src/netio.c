/*
 * netio.c - plain TCP goes straight to sys.h; TLS goes through OpenSSL on
 * the same blocking socket, whose SO_RCVTIMEO/SO_SNDTIMEO make a stalled
 * SSL_read/SSL_write fail with WANT_READ/WANT_WRITE, reported as EAGAIN
 * like a plain timeout.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include "netio.h"
#include "sys.h"

/* Maps a failed SSL_read/SSL_write to the errno conventions of sys.h. */
static int
tls_errno(SSL *ssl, int rc, int saved_errno)
{
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return saved_errno == EINTR ? EINTR : EAGAIN;
	case SSL_ERROR_SYSCALL:
		return saved_errno != 0 ? saved_errno : EPROTO;
	default:
		return EPROTO;
	}
}

ssize_t
netio_recv(struct netio *io, void *buf, size_t len)
{
	if (io->ssl == NULL)
		return sys_recv(io->fd, buf, len);
	for (;;) {
		int rc, err;

		ERR_clear_error();
		errno = 0;
		rc = SSL_read(io->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (rc > 0)
			return rc;
		if (SSL_get_error(io->ssl, rc) == SSL_ERROR_ZERO_RETURN)
			return 0;
		err = tls_errno(io->ssl, rc, errno);
		ERR_clear_error();
		if (err != EINTR) {
			errno = err;
			return -1;
		}
	}
}

int
netio_send_all(struct netio *io, const void *buf, size_t len)
{
	const char *p = buf;

	if (io->ssl == NULL)
		return sys_send_all(io->fd, buf, len);
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len, rc, err;

		ERR_clear_error();
		errno = 0;
		/* Without SSL_MODE_ENABLE_PARTIAL_WRITE, success means all of chunk. */
		rc = SSL_write(io->ssl, p, chunk);
		if (rc > 0) {
			p += rc;
			len -= (size_t)rc;
			continue;
		}
		err = tls_errno(io->ssl, rc, errno);
		ERR_clear_error();
		if (err != EINTR) {
			errno = err;
			return -1;
		}
	}
	return 0;
}

int
netio_shutdown_wr(struct netio *io)
{
	if (io->ssl != NULL && !(SSL_get_shutdown(io->ssl) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		/* 0 = our close_notify is sent, the peer's not yet seen: that is all we need. */
		if (SSL_shutdown(io->ssl) < 0) {
			ERR_clear_error();
			errno = EPROTO;
			return -1;
		}
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
