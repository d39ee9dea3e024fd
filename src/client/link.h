/* SPDX-License-Identifier: ISC */
/*
 * link.h - tcpx's connection to the daemon, plain TCP or TLS (one struct
 * netio for both): connecting, closing, waiting and sending without
 * blocking, reading a one-line answer, and saying what went wrong.
 */
#ifndef TCPX_LINK_H
#define TCPX_LINK_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "client/client.h"
#include "io/netio.h"

/* Makes opt->tls_ctx from --tls, --ca, --cert, --key, --insecure: EXIT_OK, or EXIT_LOCAL reported. */
int link_tls_setup(struct tcpx_opts *opt);
/*
 * Connects to target (HOST:PORT), with TLS if opt->tls_ctx: EXIT_OK, or an
 * exit status reported.  transient (may be NULL): whether a failure may
 * pass (no connection, a handshake cut or timed out), not a refusal or a
 * certificate that will fail again.
 */
int link_open(const struct tcpx_opts *opt, const char *target, struct netio *io, bool *transient);
/* Closes io.  clean: our side ended as it should; otherwise no TLS close_notify is sent. */
void link_close(struct netio *io, bool clean);
/* errno err of an I/O on io, in words (timeouts and TLS alerts included). */
const char *link_io_error(const struct netio *io, int err);

/* Makes the socket blocking or not: 0, or -1 with errno. */
int link_set_blocking(struct netio *io, bool on);
/* Sends what the socket takes now of buf: bytes sent (maybe 0), or -1 with errno. */
ssize_t link_send_some(struct netio *io, const char *buf, size_t len);
/*
 * Waits up to timeout_ms (-1: for ever) until io is readable, or writable
 * too if POLLOUT is in events, or extra (NULL, or fd -1: none) is ready.
 * 1 with io's events in *revents, 0 on timeout, -1 with errno.
 */
int link_wait_io(struct netio *io, short events, struct pollfd *extra, int timeout_ms,
    short *revents);
/* After io turned readable while sending: true if data (or the end) came, not only TLS records. */
bool link_answer_arrived(struct netio *io);
/* Reads one answer line into buf (NUL-ended), up to its newline or EOF, no further: length, or -1. */
ssize_t link_read_answer(struct netio *io, char *buf, size_t len);

#endif
