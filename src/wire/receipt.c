/* SPDX-License-Identifier: ISC */
/* receipt.c - formats the receipt lines of DESIGN §4; pure, so unit-tested. */
#include <stdio.h>
#include <string.h>

#include "wire/frame.h"
#include "wire/receipt.h"

size_t
receipt_ok(char *buf, size_t len, uint64_t bytes, const unsigned char digest[SHA256_LEN],
    const char *name)
{
	static const char hex[] = "0123456789abcdef";
	char digest_hex[SHA256_LEN * 2 + 1];
	int n;

	for (size_t i = 0; i < SHA256_LEN; i++) {
		digest_hex[2 * i] = hex[digest[i] >> 4];
		digest_hex[2 * i + 1] = hex[digest[i] & 0xf];
	}
	digest_hex[SHA256_LEN * 2] = '\0';
	n = snprintf(buf, len, "OK %llu sha256:%s %s\n", (unsigned long long)bytes, digest_hex, name);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

size_t
receipt_err(char *buf, size_t len, int code, const char *reason)
{
	int n = snprintf(buf, len, "ERR %d %s\n", code, reason);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static int
parse_uint(const char **p, const char *end, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *start = *p;

	for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
		unsigned d = (unsigned)(**p - '0');

		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return *p > start ? 0 : -1;
}

int
receipt_parse(const char *line, size_t len, struct receipt *out)
{
	const char *p = line, *end = line + len;
	unsigned long long v;
	size_t rest;

	if (len > 0 && end[-1] == '\n')
		end--;
	memset(out, 0, sizeof(*out));
	if (end - p >= 3 && memcmp(p, "OK ", 3) == 0) {
		p += 3;
		if (parse_uint(&p, end, &out->bytes) < 0 || end - p < 8 + SHA256_LEN * 2 + 2 ||
		    memcmp(p, " sha256:", 8) != 0)
			return -1;
		p += 8;
		for (size_t i = 0; i < SHA256_LEN * 2; i++, p++) {
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return -1;
			out->sha256[i] = *p;
		}
		if (*p++ != ' ')
			return -1;
		out->ok = 1;
	} else if (end - p >= 4 && memcmp(p, "ERR ", 4) == 0) {
		p += 4;
		if (parse_uint(&p, end, &v) < 0 || v < 100 || v > 999 || p >= end || *p++ != ' ')
			return -1;
		out->code = (int)v;
	} else {
		return -1;
	}
	rest = (size_t)(end - p);
	if (rest == 0 || rest >= sizeof(out->text))
		return -1;
	/* No NUL, newline or terminal escape may reach the client's screen. */
	for (size_t i = 0; i < rest; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return -1;
	}
	memcpy(out->text, p, rest);
	return 0;
}

int
receipt_parse_continue(const char *line, size_t len, uint64_t *offset)
{
	const char *p = line, *end = line + len;
	unsigned long long v;

	if (len > 0 && end[-1] == '\n')
		end--;
	if (end - p < 10 || memcmp(p, "CONTINUE ", 9) != 0)
		return -1;
	p += 9;
	/* One spelling per offset: "007" or "+7" is not what a daemon writes. */
	if (*p == '0' && end - p > 1)
		return -1;
	if (parse_uint(&p, end, &v) < 0 || p != end)
		return -1;
	*offset = v;
	return 0;
}

size_t
receipt_continue(char *buf, size_t len, uint64_t offset)
{
	int n = snprintf(buf, len, "CONTINUE %llu\n", (unsigned long long)offset);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

void
receipt_text_shown(const char *text, char *out, size_t outlen)
{
	size_t at = 0, len = strlen(text);

	for (size_t i = 0, n; i < len; i += n) {
		char one[16];
		unsigned cp;
		const char *show = one;
		size_t w;

		if (frame_name_char(text + i, len - i, &n, &cp) == NULL) {
			show = text + i;
			w = n;
		} else {
			w = (size_t)snprintf(one, sizeof(one), n == 1 ? "\\x%02x" : cp > 0xffff ?
			    "\\U%08x" : "\\u%04x", cp);
		}
		if (at + w >= outlen)
			break;
		memcpy(out + at, show, w);
		at += w;
	}
	if (outlen > 0)
		out[at] = '\0';
}
