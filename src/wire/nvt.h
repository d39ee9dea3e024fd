/* SPDX-License-Identifier: ISC */
/*
 * nvt.h - undoes what a telnet client does to the bytes it sends (the
 * Network Virtual Terminal of RFC 854): a CR becomes CR NUL, a newline
 * CR LF, a 0xFF byte IAC IAC, and option negotiation is mixed in.  With it
 * telnet can send a framed upload byte for byte (docs/PROTOCOL.md §2.9).
 */
#ifndef TCPXD_NVT_H
#define TCPXD_NVT_H

#include <stddef.h>

/* How a telnet client sends the framed signature: its CR as CR NUL, its LF as CR LF. */
#define NVT_SIGNATURE "\x89TCPX\r\0\r\n\x1a"
#define NVT_SIGNATURE_LEN 10

/* Where the decoder is between two calls. */
struct nvt {
	enum { NVT_DATA, NVT_CR, NVT_IAC, NVT_OPTION, NVT_SUB, NVT_SUB_IAC } state;
};

/*
 * Decodes the len bytes at in into out; returns how many bytes they stand
 * for (0 when they were all negotiation).  A CR at the end of in is held
 * until the next call shows what follows it; when that is neither NUL nor
 * LF (which no telnet client sends) the CR comes out before it, so out
 * must have room for len + 1 bytes.  out may overlap in only if it starts
 * at least one byte before it (in = out + 1 decodes in place).
 */
size_t nvt_decode(struct nvt *nvt, char *out, const char *in, size_t len);
/* Whether buf (len bytes) could still be the start of NVT_SIGNATURE. */
int nvt_signature_prefix(const char *buf, size_t len);

#endif
