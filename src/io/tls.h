/* SPDX-License-Identifier: ISC */
/*
 * tls.h - OpenSSL contexts and handshakes for the daemon (per listener,
 * per configuration generation, so SIGHUP reloads certificates) and for
 * tcpx.  TLS 1.2 and 1.3 only, OpenSSL's default cipher lists.
 */
#ifndef TCPXD_TLS_H
#define TCPXD_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

/* Loads t's certificate, key and CA.  NULL with "reason" in err. */
SSL_CTX *tls_server_ctx(const struct tls_cfg *t, char *err, size_t errlen);

struct tls_client_opts {
	const char *ca;                 /* CA bundle; NULL = the system's trust store */
	const char *certificate, *key;  /* client certificate, or NULL */
	bool insecure;                  /* no certificate verification at all */
};
SSL_CTX *tls_client_ctx(const struct tls_client_opts *o, char *err, size_t errlen);

/*
 * Handshakes on the socket fd before deadline_ms (sys_now_ms() clock).
 * Returns the connection, or NULL with a one-line reason in err.
 * tls_accept() writes the subject of the client's certificate (RFC 2253,
 * raw: the log escapes it) to subject, or "" when none was presented; a
 * certificate that failed verification is named too.
 * tls_accept() leaves the socket non-blocking, for netio's polling TLS
 * mode; tls_connect() gives it back as it was.  host (client side) is
 * checked against the server's certificate and sent as SNI; NULL skips
 * both.
 */
SSL *tls_accept(SSL_CTX *ctx, int fd, long long deadline_ms, char *subject, size_t subject_len,
    char *err, size_t errlen);
SSL *tls_connect(SSL_CTX *ctx, int fd, const char *host, long long deadline_ms, char *err,
    size_t errlen);
/*
 * Whether the peer presented a certificate that was verified and names
 * name: its whole subject as tls_accept() writes it (RFC 2253), or one of
 * its subjectAltName DNS, email or URI entries (without regard to case).
 */
bool tls_peer_name_is(SSL *ssl, const char *name);

#endif
