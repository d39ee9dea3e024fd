/* SPDX-License-Identifier: ISC */
/* proxy_read.h - reading exactly one PROXY header (wire/proxy.h) off a socket. */
#ifndef TCPXD_PROXY_READ_H
#define TCPXD_PROXY_READ_H

#include "wire/proxy.h"

enum proxy_read_status {
	PROXY_READ_OK,
	PROXY_READ_BAD,         /* *why says what was wrong */
	PROXY_READ_TIMEOUT,     /* deadline passed before the header was complete */
	PROXY_READ_CLOSED       /* EOF (errno 0) or a socket error (errno) before the header was complete */
};

/*
 * Reads one header from the blocking socket fd before deadline_ms
 * (sys_now_ms() clock).  Consumes exactly out->length bytes on success.
 */
enum proxy_read_status proxy_read(int fd, long long deadline_ms, struct proxy_header *out,
    const char **why);

#endif
