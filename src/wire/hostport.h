/* SPDX-License-Identifier: ISC */
/* hostport.h - "HOST:PORT" arguments of tcpx, and connecting to them. */
#ifndef TCPXD_HOSTPORT_H
#define TCPXD_HOSTPORT_H

#include <stddef.h>

#define HOSTPORT_HOST_MAX 256

/* Splits "host:7007", "1.2.3.4:7007" or "[::1]:7007".  0, or -1 with *why. */
int hostport_parse(const char *text, char *host, size_t hostlen, unsigned *port, const char **why);
/*
 * Connects to host:port (every address it resolves to, in order) within
 * timeout_ms each, then sets SO_RCVTIMEO/SO_SNDTIMEO to io_timeout seconds.
 * Returns the socket, or -1 with a reason in err.
 */
int hostport_connect(const char *host, unsigned port, int timeout_ms, unsigned io_timeout,
    char *err, size_t errlen);

#endif
