/* SPDX-License-Identifier: ISC */
/*
 * netio.h - a connection's byte stream, plain TCP or TLS, behind one set
 * of calls with the conventions of sys.h, so echo and receive do not care
 * which one they run on.
 */
#ifndef TCPXD_NETIO_H
#define TCPXD_NETIO_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct netio {
	int fd;
	SSL *ssl;       /* NULL: plain TCP */
	/*
	 * The daemon's idle timeout: a call fails with EAGAIN once no byte has
	 * moved in either direction for this long (sys_await); TLS then runs
	 * on a non-blocking socket.  0: the socket blocks, and its
	 * SO_RCVTIMEO/SO_SNDTIMEO are the timeouts (tcpx).
	 */
	int timeout_ms;
	/* With timeout_ms: fail with EAGAIN at this sys_now_ms() time too; 0 = none. */
	long long deadline_ms;
	/* Plain TCP with timeout_ms: the socket's SO_RCVTIMEO in ms (sys_recv_sliced); 0 = not set. */
	int rcvtimeo_ms;
};

/*
 * >0 bytes; 0 at the peer's orderly end (FIN, or TLS close_notify); -1
 * with errno: EAGAIN = timed out (timeout_ms), ECONNRESET, EPROTO = a TLS
 * error, including a TLS stream cut off without close_notify (which could
 * be a forged FIN truncating the data: never an orderly end).
 */
ssize_t netio_recv(struct netio *io, void *buf, size_t len);
/*
 * netio_recv() at a message boundary of the daemon's: park_ms > 0 fails
 * with ETIME once nothing arrived for park_ms and nothing we sent waits
 * to be acknowledged (park.h); 0 is netio_recv().
 */
ssize_t netio_recv_parkable(struct netio *io, void *buf, size_t len, int park_ms);
/* Sends all of buf: 0, or -1 with errno (EAGAIN = timed out, EPIPE, EPROTO). */
int netio_send_all(struct netio *io, const void *buf, size_t len);
/* Ends our direction (close_notify first on TLS; TCP half-close).  0, or -1 with errno. */
int netio_shutdown_wr(struct netio *io);
/* Bytes already decrypted and waiting, which poll() on the socket cannot see. */
bool netio_buffered(struct netio *io);
/* Sends close_notify once if not yet sent, and frees the TLS state.  The fd stays open. */
void netio_tls_end(struct netio *io);

#endif
