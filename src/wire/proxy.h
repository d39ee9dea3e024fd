/* SPDX-License-Identifier: ISC */
/*
 * proxy.h - the PROXY protocol header (v1 text, v2 binary) that a load
 * balancer such as HAProxy sends first on each connection to say who the
 * real client is.  proxy_parse() is a pure function of the bytes;
 * proxy_read() takes exactly one header off a socket and never a byte of
 * what follows it, so the stream after it (plain or TLS) is untouched.
 */
#ifndef TCPXD_PROXY_H
#define TCPXD_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* v1 is at most 107 bytes; v2 headers with more than this many bytes of addresses and TLVs are refused. */
#define PROXY_V2_PAYLOAD_MAX 1024
#define PROXY_HEADER_MAX (16 + PROXY_V2_PAYLOAD_MAX)

enum proxy_status {
	PROXY_INCOMPLETE,       /* all len bytes are a proper prefix of a header; its end is not yet there */
	PROXY_DONE,             /* a whole header: out is filled, out->length <= len */
	PROXY_BAD               /* not a header, or one tcpxd refuses: *why says which */
};

struct proxy_header {
	size_t length;          /* bytes the header takes */
	int version;            /* 1 or 2 */
	bool local;             /* v2 LOCAL, v1 UNKNOWN, v2 AF_UNSPEC/AF_UNIX: keep the socket's own peer */
	struct in6_addr source; /* when !local: the client; IPv4 held v4-mapped (addr.h) */
	unsigned source_port;
};

enum proxy_status proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *out,
    const char **why);

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
