/* SPDX-License-Identifier: ISC */
/* receipt.h - the one-line answers a receive listener sends. */
#ifndef TCPXD_RECEIPT_H
#define TCPXD_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

/* Longest receipt line: "OK", 20 digits, the digest, a 259-byte name, newline, NUL. */
#define RECEIPT_MAX 384
#define SHA256_LEN 32

/* "OK <bytes> sha256:<hex> <name>\n".  Returns the length, or 0 if buf is too small. */
size_t receipt_ok(char *buf, size_t len, uint64_t bytes, const unsigned char digest[SHA256_LEN],
    const char *name);
/* "ERR <code> <reason>\n".  Returns the length, or 0 if buf is too small. */
size_t receipt_err(char *buf, size_t len, int code, const char *reason);

/* A parsed receipt line, as the client reads it. */
struct receipt {
	int ok;                         /* 1 for OK, 0 for ERR */
	unsigned long long bytes;       /* OK */
	char sha256[SHA256_LEN * 2 + 1];/* OK: lowercase hex */
	int code;                       /* ERR */
	char text[RECEIPT_MAX];         /* OK: stored name; ERR: reason */
};

/* Parses one line (with or without its newline).  0, or -1 if it is neither form. */
int receipt_parse(const char *line, size_t len, struct receipt *out);
/*
 * "CONTINUE <offset>\n", the answer to a resumable header (docs/PROTOCOL.md
 * §2.7), with or without its newline: offset in decimal digits, no sign,
 * no leading zero, at most 2^64 - 1.  0 with *offset, or -1.
 */
int receipt_parse_continue(const char *line, size_t len, uint64_t *offset);
/* Writes "CONTINUE <offset>\n" into buf: its length, or 0 if buf is too small. */
size_t receipt_continue(char *buf, size_t len, uint64_t offset);

/* Room for any receipt text escaped: at most 4 bytes shown per byte, and the NUL. */
#define RECEIPT_SHOWN_MAX (RECEIPT_MAX * 4 + 1)
/*
 * Copies text (a stored name or an ERR reason, both chosen by the server)
 * into out for a terminal: every character a name may not hold
 * (frame_name_char()) becomes \xHH (one byte) or \uHHHH / \UHHHHHHHH (the
 * code point).  Cuts at a character boundary if out is too small.
 */
void receipt_text_shown(const char *text, char *out, size_t outlen);

#endif
