/* SPDX-License-Identifier: ISC */
/*
 * frame.c - pure parser and writer of the framed upload header, shared by
 * tcpxd and tcpx.  It never trusts a length: every field is bounded by
 * FRAME_HEADER_MAX before anything is copied.
 */
#include <stdio.h>
#include <string.h>

#include "frame.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if invalid. */
static size_t
utf8_sequence(const unsigned char *p, size_t n)
{
	size_t need;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int
frame_name_sanitise(const char *name, size_t len, char *out, const char **why)
{
	const char *base = name;

	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/')
			base = name + i + 1;
	}
	len -= (size_t)(base - name);
	if (len == 0) {
		*why = "empty name";
		return -1;
	}
	if (len > FRAME_NAME_MAX) {
		*why = "name longer than 255 bytes";
		return -1;
	}
	if (base[0] == '.') {
		*why = "name starts with a dot";
		return -1;
	}
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)base + i;
		size_t n;

		if (*p < 0x20 || *p == 0x7f) {
			*why = "control character in name";
			return -1;
		}
		if ((n = utf8_sequence(p, len - i)) == 0) {
			*why = "name is not valid UTF-8";
			return -1;
		}
		i += n;
	}
	memcpy(out, base, len);
	out[len] = '\0';
	return 0;
}

enum frame_status
frame_parse(const char *buf, size_t len, struct frame_header *out, const char **why)
{
	const char *p, *end, *nl, *name;
	uint64_t size = 0;
	size_t digits = 0;

	if (memcmp(buf, FRAME_SIGNATURE, len < FRAME_SIGNATURE_LEN ? len : FRAME_SIGNATURE_LEN) != 0)
		return FRAME_RAW;
	if (len < FRAME_SIGNATURE_LEN)
		return FRAME_NEED_MORE;
	if (len > FRAME_HEADER_MAX)
		len = FRAME_HEADER_MAX;
	/* Search after the signature: its own "\r\n" does not end the header. */
	nl = memchr(buf + FRAME_SIGNATURE_LEN, '\n', len - FRAME_SIGNATURE_LEN);
	if (nl == NULL) {
		if (len == FRAME_HEADER_MAX) {
			*why = "header longer than 512 bytes";
			return FRAME_BAD;
		}
		return FRAME_NEED_MORE;
	}
	p = buf + FRAME_SIGNATURE_LEN;
	end = nl;
	if (end - p < 2 || p[0] != '1' || p[1] != ' ') {
		*why = "unsupported header version";
		return FRAME_BAD;
	}
	for (p += 2; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
		unsigned d = (unsigned)(*p - '0');

		if (size > (UINT64_MAX - d) / 10) {
			*why = "size too large";
			return FRAME_BAD;
		}
		size = size * 10 + d;
	}
	if (digits == 0 || (digits > 1 && buf[FRAME_SIGNATURE_LEN + 2] == '0')) {
		*why = "size is not a decimal number";
		return FRAME_BAD;
	}
	if (p >= end || *p != ' ') {
		*why = "no name after the size";
		return FRAME_BAD;
	}
	name = p + 1;
	if (frame_name_sanitise(name, (size_t)(end - name), out->name, why) < 0)
		return FRAME_BAD;
	out->size = size;
	out->length = (size_t)(nl - buf) + 1;
	return FRAME_OK;
}

size_t
frame_header_format(char *buf, size_t len, uint64_t size, const char *name)
{
	int n = snprintf(buf, len, FRAME_SIGNATURE "1 %llu %s\n", (unsigned long long)size, name);

	if (n < 0 || (size_t)n >= len || (size_t)n > FRAME_HEADER_MAX)
		return 0;
	return (size_t)n;
}
