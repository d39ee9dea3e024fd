/* SPDX-License-Identifier: ISC */
/*
 * frame.h - the framed upload header: a fixed signature, then
 * "1 <size> <name>\n" (version 1) or "2 <size> <digest> <id> <name>\n"
 * (version 2).  See docs/PROTOCOL.md §2.
 */
#ifndef TCPXD_FRAME_H
#define TCPXD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0x89 'T' 'C' 'P' 'X' '\r' '\n' 0x1a: binary, and damaged by any text conversion. */
#define FRAME_SIGNATURE "\x89TCPX\r\n\x1a"
#define FRAME_SIGNATURE_LEN 8
/* Longest header, signature and newline included. */
#define FRAME_HEADER_MAX 512
/* Longest client file name, in bytes. */
#define FRAME_NAME_MAX 255
/* Longest upload id (version 2), in bytes. */
#define FRAME_ID_MAX 64
/* A SHA-256 digest, in bytes. */
#define FRAME_DIGEST_LEN 32

enum frame_status {
	FRAME_NEED_MORE,    /* a prefix of a header: read more */
	FRAME_RAW,          /* does not start with the signature: a raw upload */
	FRAME_OK,           /* a complete, valid header */
	FRAME_BAD,          /* the signature, then something invalid */
	FRAME_BAD_NAME,     /* a header whose name breaks the rule of frame_name_sanitise() */
};

struct frame_header {
	int version;                    /* 1: ends at the client's EOF; 2: ends by size */
	uint64_t size;
	bool has_digest;                /* version 2 declared a SHA-256 */
	unsigned char digest[FRAME_DIGEST_LEN];
	char id[FRAME_ID_MAX + 1];      /* version 2 upload id, "" when none */
	char name[FRAME_NAME_MAX + 1];  /* sanitised */
	size_t length;                  /* header bytes, to skip before the data */
};

/* Looks at the first len bytes of a connection.  On FRAME_BAD and FRAME_BAD_NAME, *why says why. */
enum frame_status frame_parse(const char *buf, size_t len, struct frame_header *out,
    const char **why);
/*
 * The name rule, in one place for tcpxd and tcpx (docs/PROTOCOL.md §2.4):
 * keeps what follows the last '/', then refuses (returns -1 with *why) a
 * name that is empty, over FRAME_NAME_MAX bytes, starts with '.' or '-',
 * is not valid UTF-8, holds a character frame_name_char() refuses, starts
 * or ends with a space, or has the shape of the daemon's own names
 * (YYYYMMDDTHHMMSSZ_...).  out must hold FRAME_NAME_MAX + 1 bytes.
 */
int frame_name_sanitise(const char *name, size_t len, char *out, const char **why);
/*
 * The character at s (n > 0 bytes available): *len is its length in bytes
 * (1 for a byte that starts no valid UTF-8 sequence) and *code_point its
 * value (that byte's).  Returns NULL if a name may hold it, else why not:
 * invalid UTF-8, C0 and C1 controls and DEL, bidirectional controls,
 * invisible characters, white space other than U+0020.  Also what tcpx
 * escapes before it prints text the daemon sent.
 */
const char *frame_name_char(const char *s, size_t n, size_t *len, unsigned *code_point);
/* Writes a header for size and name into buf; returns its length, or 0 if it does not fit. */
size_t frame_header_format(char *buf, size_t len, uint64_t size, const char *name);
/*
 * The same for a version 2 header: sha256 (FRAME_DIGEST_LEN bytes) and id
 * may be NULL.  0 also if id is not a valid upload id.
 */
size_t frame_header_format2(char *buf, size_t len, uint64_t size, const unsigned char *sha256,
    const char *id, const char *name);
/* Whether id (len bytes) is an upload id: 1 to FRAME_ID_MAX of A-Z a-z 0-9 _ -. */
bool frame_id_valid(const char *id, size_t len);

#endif
