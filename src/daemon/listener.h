/* SPDX-License-Identifier: ISC */
/* listener.h - listening sockets: resolve, bind, describe. */
#ifndef TCPXD_LISTENER_H
#define TCPXD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

/* A bound, listening, non-blocking socket, or -1 with "reason" in err. */
int listener_open(const struct listener_cfg *l, char *err, size_t errlen);
/*
 * Sets the socket options of l's connections: SO_OOBINLINE, and
 * TCP_NODELAY for echo.  Set on a listening socket before it accepts (so
 * urgent bytes that come before accept() are kept too); accepted sockets
 * inherit both.
 */
int listener_configure(int fd, const struct listener_cfg *l);
/*
 * The one option a connection sets on its own socket with its own
 * generation's l: TCP_NODELAY follows the mode, which a reload may change
 * on a listening socket it keeps (and never touches).  SO_OOBINLINE is on
 * for every listening socket, so every connection inherits it.
 */
int listener_configure_conn(int fd, const struct listener_cfg *l);
/* Checks that the address resolves (for tcpxd -t); 0 or -1 with a reason. */
int listener_resolve_check(const struct listener_cfg *l, char *err, size_t errlen);
/*
 * Finds two listeners that cannot both bind (the same port on the same
 * address, or on an address a wildcard covers, "::" covering IPv4 unless
 * v6only; not when both set reuseport; port 0 never).  numeric_only: skip
 * host names instead of resolving them.  0, or -1 with "FILE:LINE: reason"
 * naming both listeners and lines.
 */
int listener_find_conflict(const struct config *cfg, bool numeric_only, char *err, size_t errlen);
/* "127.0.0.1:7007" or "[::1]:7008" for a bound socket. */
void listener_describe(int fd, char *buf, size_t len);
/*
 * Whether l, replacing old, needs the socket fd that serves old: 1 when it
 * binds the same address (resolved) and port (port 0: the same name too),
 * 0 when not, -1 when it does but wants a change a bound socket cannot
 * take (reuseport, v6only), with the reason in err.
 */
int listener_same_socket(const struct listener_cfg *old, int fd, const struct listener_cfg *l,
    char *err, size_t errlen);

#endif
