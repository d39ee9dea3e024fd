/* SPDX-License-Identifier: ISC */
/*
 * proxy.h - the PROXY protocol header (v1 text, v2 binary) that a load
 * balancer such as HAProxy sends first on each connection to say who the
 * real client is.  proxy_parse() is a pure function of the bytes; the
 * daemon's proxy_read() (daemon/proxy_read.h) takes one header off a socket.
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

#endif
