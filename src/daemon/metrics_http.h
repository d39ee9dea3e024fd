/* SPDX-License-Identifier: ISC */
/*
 * metrics_http.h - the metrics endpoint: GET /metrics over HTTP, served by
 * libmicrohttpd on one thread of its own, on a socket the daemon binds
 * like its listeners' (so socket rules and privileges are the same).
 */
#ifndef TCPXD_METRICS_HTTP_H
#define TCPXD_METRICS_HTTP_H

#include <stddef.h>

#include "daemon/config.h"

/*
 * Gets the endpoint cfg asks for ready without putting it in force: keeps
 * the one running when its address and port did not change (or its socket
 * was passed by the service manager), else binds and starts a new one.
 * passed_fd: a listening socket the service manager passed for it (taken
 * over, closed on failure too), or -1.  0, or -1 with "FILE:LINE: reason"
 * in err (then nothing changed).
 */
int metrics_http_prepare(const struct config *cfg, int passed_fd, char *err, size_t errlen);
/* Puts what prepare made in force: the new allow list, or the new endpoint (the old one stops). */
void metrics_http_commit(void);
/* Drops what prepare made: the endpoint in force stays as it was. */
void metrics_http_abort(void);
/* Stops the endpoint (at exit). */
void metrics_http_stop(void);
/* For tcpxd -t: the address resolves.  0, or -1 with "FILE:LINE: reason". */
int metrics_http_check(const struct config *cfg, char *err, size_t errlen);

#endif
