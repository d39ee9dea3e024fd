/* SPDX-License-Identifier: ISC */
/*
 * auth.h - the AUTH line of the framed protocol (docs/PROTOCOL.md §2.10):
 * "AUTH" SP TOKEN LF, once per connection, right after the signature of
 * its first header.  Shared by tcpxd and tcpx.
 */
#ifndef TCPXD_AUTH_H
#define TCPXD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 256
/* "AUTH " + the longest token + LF. */
#define AUTH_LINE_MAX (5 + AUTH_TOKEN_MAX + 1)

enum auth_status {
	AUTH_NONE,          /* the bytes do not begin an AUTH line: a header follows */
	AUTH_NEED_MORE,     /* a prefix of an AUTH line: read more */
	AUTH_OK,            /* a complete AUTH line with a valid token */
	AUTH_BAD,           /* an AUTH line, but malformed: *why says how */
};

/* Whether len bytes at token are a token: 16 to 256 of A-Z a-z 0-9 - . _ ~ + / = */
bool auth_token_valid(const char *token, size_t len);
/*
 * Looks at the len bytes that follow a header's signature.  On AUTH_OK,
 * *token and *token_len give the token (inside buf) and *line_len the
 * bytes of the line, LF included.
 */
enum auth_status auth_parse(const char *buf, size_t len, const char **token, size_t *token_len,
    size_t *line_len, const char **why);
/* Writes "AUTH <token>\n" into buf: its length, or 0 if the token is invalid or buf too small. */
size_t auth_line_format(char *buf, size_t len, const char *token, size_t token_len);

#endif
