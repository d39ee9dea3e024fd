/* SPDX-License-Identifier: ISC */
/*
 * frame.c - pure parser and writer of the framed upload header, and the one
 * rule for the names a client may give, shared by tcpxd and tcpx.  It never
 * trusts a length: every field is bounded by FRAME_HEADER_MAX before
 * anything is copied.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wire/frame.h"

/*
 * Code points a name may not hold, even though they are valid UTF-8: each
 * can make a listing, a terminal or a shell show something other than the
 * file that is there.
 */
static const struct {
	unsigned first, last;
	const char *why;
} refused[] = {
	{ 0x0000, 0x001f, "control character in name" },
	{ 0x007f, 0x009f, "control character in name" },        /* DEL, then C1 (0x9b is CSI) */
	{ 0x00a0, 0x00a0, "white space other than a space in name" },
	{ 0x00ad, 0x00ad, "invisible character in name" },      /* soft hyphen */
	{ 0x034f, 0x034f, "invisible character in name" },      /* combining grapheme joiner */
	{ 0x061c, 0x061c, "bidirectional control character in name" },
	{ 0x115f, 0x1160, "invisible character in name" },      /* Hangul fillers */
	{ 0x1680, 0x1680, "white space other than a space in name" },
	{ 0x180e, 0x180e, "invisible character in name" },
	{ 0x2000, 0x200a, "white space other than a space in name" },
	{ 0x200b, 0x200d, "invisible character in name" },      /* zero-width space, joiners */
	{ 0x200e, 0x200f, "bidirectional control character in name" },
	{ 0x2028, 0x2029, "white space other than a space in name" },   /* line, paragraph */
	{ 0x202a, 0x202e, "bidirectional control character in name" },
	{ 0x202f, 0x202f, "white space other than a space in name" },
	{ 0x205f, 0x205f, "white space other than a space in name" },
	{ 0x2060, 0x2064, "invisible character in name" },
	{ 0x2066, 0x2069, "bidirectional control character in name" },
	{ 0x206a, 0x206f, "invisible character in name" },
	{ 0x3000, 0x3000, "white space other than a space in name" },
	{ 0x3164, 0x3164, "invisible character in name" },
	{ 0xfeff, 0xfeff, "invisible character in name" },      /* byte order mark */
	{ 0xffa0, 0xffa0, "invisible character in name" },
	{ 0xfff9, 0xfffb, "invisible character in name" },      /* interlinear annotation */
	{ 0xe0000, 0xe007f, "invisible character in name" },    /* tags */
};

/* Length of the valid UTF-8 sequence at p (at most n bytes) and its code point, or 0 if invalid. */
static size_t
utf8_sequence(const unsigned char *p, size_t n, unsigned *code_point)
{
	size_t need;
	unsigned cp;

	if (p[0] < 0x80) {
		*code_point = p[0];
		return 1;
	}
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
	*code_point = cp;
	return need;
}

const char *
frame_name_char(const char *s, size_t n, size_t *len, unsigned *code_point)
{
	*len = utf8_sequence((const unsigned char *)s, n, code_point);
	if (*len == 0) {
		*len = 1;
		*code_point = (unsigned char)s[0];
		return "name is not valid UTF-8";
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (*code_point >= refused[i].first && *code_point <= refused[i].last)
			return refused[i].why;
	}
	return NULL;
}

/* True for the shape of store.c's own names, "YYYYMMDDTHHMMSSZ_": nobody may pass as a raw upload. */
static bool
daemon_made(const char *name, size_t len)
{
	static const char shape[] = "ddddddddTddddddZ_";

	if (len < sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? name[i] < '0' || name[i] > '9' : name[i] != shape[i])
			return false;
	}
	return true;
}

/* The rule of docs/PROTOCOL.md §2.4 for one path component: NULL, or why it is refused. */
static const char *
name_refused(const char *name, size_t len)
{
	if (len == 0)
		return "empty name";
	if (len > FRAME_NAME_MAX)
		return "name longer than 255 bytes";
	if (name[0] == '.')
		return "name starts with a dot";
	if (name[0] == '-')
		return "name starts with a dash";
	for (size_t i = 0, n; i < len; i += n) {
		unsigned cp;
		const char *why = frame_name_char(name + i, len - i, &n, &cp);

		if (why != NULL)
			return why;
	}
	if (name[0] == ' ' || name[len - 1] == ' ')
		return "name starts or ends with white space";
	if (daemon_made(name, len))
		return "name has the form of the daemon's own names";
	return NULL;
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
	if ((*why = name_refused(base, len)) != NULL)
		return -1;
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
		return FRAME_BAD_NAME;
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
