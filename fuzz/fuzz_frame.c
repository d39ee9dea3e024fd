/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame.c - frame_parse() on the first bytes of a connection, and
 * frame_name_sanitise() on raw names.  Beyond "no crash", it checks that
 * an accepted header is within the bytes given and 512 bytes, ends in a
 * newline, is incomplete one byte earlier, carries a name that is already
 * clean (and, in version 2, a valid upload id), and that
 * frame_header_format() or frame_header_format2() writes it back
 * identical in meaning; that undoing a telnet client's encoding (nvt.h)
 * never grows the bytes of one read by more than a held CR, and does not
 * depend on how they were split; that a sanitised name is the input's last
 * component; and that an AUTH line (auth.h) that parses has a valid token
 * inside the bytes given, is incomplete one byte earlier, and is written
 * back the same by auth_line_format().
 */
#include <string.h>

#include "fuzz.h"
#include "wire/auth.h"
#include "wire/frame.h"
#include "wire/nvt.h"

static void
check_header(const char *buf, size_t len, const struct frame_header *h)
{
	char clean[FRAME_NAME_MAX + 1], again[FRAME_HEADER_MAX + 1];
	struct frame_header h2;
	const char *why = NULL;
	size_t n;

	CHECK(h->length <= len);
	CHECK(h->length <= FRAME_HEADER_MAX);
	CHECK(h->length > FRAME_SIGNATURE_LEN + 4);
	CHECK(buf[h->length - 1] == '\n');
	CHECK(strlen(h->name) >= 1 && strlen(h->name) <= FRAME_NAME_MAX);
	CHECK(strchr(h->name, '/') == NULL);
	/* The stored name passes the rules again, unchanged. */
	CHECK(frame_name_sanitise(h->name, strlen(h->name), clean, &why) == 0);
	CHECK(strcmp(clean, h->name) == 0);
	/* The header alone is the same header; one byte less is not yet one. */
	CHECK(frame_parse(buf, h->length, &h2, &why) == FRAME_OK);
	CHECK(h2.size == h->size && h2.length == h->length && strcmp(h2.name, h->name) == 0);
	CHECK(frame_parse(buf, h->length - 1, &h2, &why) == FRAME_NEED_MORE);
	CHECK(h->version == 1 || h->version == 2);
	if (h->version == 1) {
		CHECK(!h->has_digest && h->id[0] == '\0');
		/* What tcpx would send for (size, name) parses back to the same. */
		n = frame_header_format(again, sizeof(again), h->size, h->name);
	} else {
		CHECK(h->id[0] == '\0' || frame_id_valid(h->id, strlen(h->id)));
		n = frame_header_format2(again, sizeof(again), h->size,
		    h->has_digest ? h->digest : NULL, h->id[0] ? h->id : NULL, h->name);
	}
	CHECK(n > 0 && n <= FRAME_HEADER_MAX);
	CHECK(frame_parse(again, n, &h2, &why) == FRAME_OK);
	CHECK(h2.version == h->version && h2.size == h->size && h2.length == n &&
	    strcmp(h2.name, h->name) == 0 && strcmp(h2.id, h->id) == 0 &&
	    h2.has_digest == h->has_digest &&
	    (!h->has_digest || memcmp(h2.digest, h->digest, FRAME_DIGEST_LEN) == 0));
}

static void
check_sanitise(const char *name, size_t len)
{
	char out[FRAME_NAME_MAX + 1], again[FRAME_NAME_MAX + 1];
	const char *why = NULL, *base = name;
	size_t n;

	if (frame_name_sanitise(name, len, out, &why) < 0) {
		CHECK(why != NULL && *why != '\0');
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/')
			base = name + i + 1;
	}
	n = strlen(out);
	CHECK(n >= 1 && n <= FRAME_NAME_MAX);
	CHECK(n == len - (size_t)(base - name) && memcmp(out, base, n) == 0);
	CHECK(out[0] != '.' && out[0] != '-' && out[0] != ' ' && out[n - 1] != ' ');
	for (size_t i = 0, step; i < n; i += step) {
		unsigned cp;

		CHECK(frame_name_char(out + i, n - i, &step, &cp) == NULL);
		CHECK(cp >= 0x20 && cp != '/' && !(cp >= 0x7f && cp <= 0x9f));
	}
	CHECK(frame_name_sanitise(out, n, again, &why) == 0 && strcmp(again, out) == 0);
}

/*
 * A telnet client's bytes (nvt.h): decoding never grows the data, and
 * decoding in two reads, split anywhere, gives what one read gives.
 */
static void
check_nvt(const uint8_t *data, size_t size)
{
	char *whole = malloc(size + 1), *split = malloc(size + 1);
	struct nvt one = { NVT_DATA }, two = { NVT_DATA };
	size_t cut = size > 0 ? data[0] % (size + 1) : 0, n, a, b;
	struct frame_header h;
	const char *why = NULL;

	if (whole == NULL || split == NULL)
		abort();
	if (size > 0) {
		memcpy(whole, data, size);
		memcpy(split, data, size);
	}
	n = nvt_decode(&one, whole, whole, size);
	CHECK(n <= size);
	a = nvt_decode(&two, split, split, cut);
	/* As the daemon reads: the second part lands one byte after what the first gave. */
	memmove(split + a + 1, data + cut, size - cut);
	b = nvt_decode(&two, split + a, split + a + 1, size - cut);
	CHECK(b <= size - cut + 1);
	CHECK(a + b == n && memcmp(whole, split, n) == 0 && one.state == two.state);
	if (frame_parse(whole, n, &h, &why) == FRAME_OK)
		check_header(whole, n, &h);
	free(whole);
	free(split);
}

/* The bytes as what follows a signature: an AUTH line or not. */
static void
check_auth(const char *buf, size_t len)
{
	char again[AUTH_LINE_MAX + 1];
	const char *token = NULL, *why = NULL, *t2;
	size_t tlen = 0, llen = 0, t2len, l2len;

	switch (auth_parse(buf, len, &token, &tlen, &llen, &why)) {
	case AUTH_OK:
		CHECK(llen <= len && llen <= AUTH_LINE_MAX && buf[llen - 1] == '\n');
		CHECK(token == buf + 5 && tlen + 6 == llen && auth_token_valid(token, tlen));
		CHECK(auth_parse(buf, llen - 1, &t2, &t2len, &l2len, &why) == AUTH_NEED_MORE);
		CHECK(auth_line_format(again, sizeof(again), token, tlen) == llen);
		CHECK(memcmp(again, buf, llen) == 0);
		break;
	case AUTH_BAD:
		CHECK(len >= 6 && memcmp(buf, "AUTH ", 5) == 0 && why != NULL && *why != '\0');
		break;
	case AUTH_NEED_MORE:
		CHECK(len < AUTH_LINE_MAX && memchr(buf, '\n', len) == NULL);
		break;
	case AUTH_NONE:
		CHECK(len > 0 && memcmp(buf, "AUTH ", len < 5 ? len : 5) != 0);
		break;
	default:
		CHECK(!"unknown auth_status");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = calloc(1, size ? size : 1);
	struct frame_header h;
	const char *why = NULL;

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	switch (frame_parse(buf, size, &h, &why)) {
	case FRAME_OK:
		check_header(buf, size, &h);
		break;
	case FRAME_BAD:
	case FRAME_BAD_NAME:
		CHECK(size >= FRAME_SIGNATURE_LEN);
		CHECK(why != NULL && *why != '\0');
		break;
	case FRAME_RAW:
		CHECK(size >= 1);
		CHECK(memcmp(buf, FRAME_SIGNATURE,
		    size < FRAME_SIGNATURE_LEN ? size : FRAME_SIGNATURE_LEN) != 0);
		break;
	case FRAME_NEED_MORE:
		CHECK(size < FRAME_HEADER_MAX);
		CHECK(size <= FRAME_SIGNATURE_LEN ||
		    memchr(buf + FRAME_SIGNATURE_LEN, '\n', size - FRAME_SIGNATURE_LEN) == NULL);
		break;
	default:
		CHECK(!"unknown frame_status");
	}
	check_sanitise(buf, size);
	check_auth(buf, size);
	check_nvt(data, size);
	free(buf);
	return 0;
}
