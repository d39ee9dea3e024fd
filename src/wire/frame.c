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

/* The decimal SIZE at *p: digits only, no leading zero, at most 64 bits.  NULL on error. */
static const char *
parse_size(const char *p, const char *end, uint64_t *size, const char **why)
{
	const char *start = p;

	*size = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (*size > (UINT64_MAX - d) / 10) {
			*why = "size too large";
			return NULL;
		}
		*size = *size * 10 + d;
	}
	if (p == start || (p - start > 1 && *start == '0')) {
		*why = "size is not a decimal number";
		return NULL;
	}
	return p;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* DIGEST: "-" or "sha256:" and 64 lower-case hex digits. */
static bool
parse_digest(const char *p, const char *end, struct frame_header *out)
{
	static const char prefix[] = "sha256:";
	size_t len = (size_t)(end - p), plen = sizeof(prefix) - 1;

	out->has_digest = false;
	if (len == 1 && *p == '-')
		return true;
	if (len != plen + 2 * FRAME_DIGEST_LEN || memcmp(p, prefix, plen) != 0)
		return false;
	for (size_t i = 0; i < FRAME_DIGEST_LEN; i++) {
		int hi = hex_value(p[plen + 2 * i]), lo = hex_value(p[plen + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out->digest[i] = (unsigned char)(hi << 4 | lo);
	}
	out->has_digest = true;
	return true;
}

bool
frame_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > FRAME_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ID: "-" (none) or an upload id. */
static bool
parse_id(const char *p, const char *end, struct frame_header *out)
{
	size_t len = (size_t)(end - p);

	out->id[0] = '\0';
	if (len == 1 && *p == '-')
		return true;
	if (!frame_id_valid(p, len))
		return false;
	memcpy(out->id, p, len);
	out->id[len] = '\0';
	return true;
}

/* Version 2's fields between SIZE and NAME: " DIGEST ID".  The name's start, or NULL. */
static const char *
parse_v2_fields(const char *p, const char *end, struct frame_header *out, const char **why)
{
	const char *digest = p + 1, *id, *id_end;

	if (p >= end || *p != ' ' || (id = memchr(digest, ' ', (size_t)(end - digest))) == NULL ||
	    (id_end = memchr(id + 1, ' ', (size_t)(end - id - 1))) == NULL) {
		*why = "no name after the size";
		return NULL;
	}
	if (!parse_digest(digest, id, out)) {
		*why = "digest is not - or sha256:<64 lower-case hex digits>";
		return NULL;
	}
	if (!parse_id(id + 1, id_end, out)) {
		*why = "upload id is not - or 1 to 64 of A-Z a-z 0-9 _ -";
		return NULL;
	}
	return id_end;
}

enum frame_status
frame_parse(const char *buf, size_t len, struct frame_header *out, const char **why)
{
	const char *p, *end, *nl, *name;
	uint64_t size;

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
	if (end - p < 2 || (p[0] != '1' && p[0] != '2') || p[1] != ' ') {
		*why = "unsupported header version";
		return FRAME_BAD;
	}
	out->version = p[0] - '0';
	out->has_digest = false;
	out->id[0] = '\0';
	if ((p = parse_size(p + 2, end, &size, why)) == NULL)
		return FRAME_BAD;
	if (out->version == 2 && (p = parse_v2_fields(p, end, out, why)) == NULL)
		return FRAME_BAD;
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

size_t
frame_header_format2(char *buf, size_t len, uint64_t size, const unsigned char *sha256,
    const char *id, const char *name)
{
	char digest[8 + 2 * FRAME_DIGEST_LEN] = "-";
	int n;

	if (sha256 != NULL) {
		memcpy(digest, "sha256:", 7);
		for (size_t i = 0; i < FRAME_DIGEST_LEN; i++)
			snprintf(digest + 7 + 2 * i, 3, "%02x", sha256[i]);
	}
	if (id != NULL && !frame_id_valid(id, strlen(id)))
		return 0;
	n = snprintf(buf, len, FRAME_SIGNATURE "2 %llu %s %s %s\n", (unsigned long long)size,
	    digest, id != NULL ? id : "-", name);
	if (n < 0 || (size_t)n >= len || (size_t)n > FRAME_HEADER_MAX)
		return 0;
	return (size_t)n;
}
