/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proxy.c - proxy_parse() on the first bytes of a connection.
 * Beyond "no crash", it checks what proxy_read() relies on: the answer
 * for a prefix never contradicts the answer for the whole (every prefix
 * is incomplete until one decides, and every longer one agrees with it),
 * so that the bytes of an incomplete header may be consumed; an accepted
 * header lies within the input, is the same header alone, and is of its
 * version's shape; a refusal says why.
 */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"
#include "wire/proxy.h"

static const unsigned char v2_signature[] = "\r\n\r\n\0\r\nQUIT\n";

static bool
same_header(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->length == b->length && a->version == b->version && a->local == b->local &&
	    memcmp(&a->source, &b->source, sizeof(a->source)) == 0 &&
	    a->source_port == b->source_port;
}

static void
check_header(const unsigned char *buf, size_t len, const struct proxy_header *h)
{
	CHECK(h->length >= 1 && h->length <= len && h->length <= PROXY_HEADER_MAX);
	if (h->version == 1) {
		CHECK(h->length >= strlen("PROXY UNKNOWN\r\n") && h->length <= 107);
		CHECK(memcmp(buf, "PROXY ", 6) == 0);
		CHECK(buf[h->length - 2] == '\r' && buf[h->length - 1] == '\n');
		/* The line has no other CR or LF. */
		CHECK(memchr(buf, '\r', h->length - 2) == NULL);
		CHECK(memchr(buf, '\n', h->length - 2) == NULL);
		CHECK(h->local == (memcmp(buf + 6, "UNKNOWN", 7) == 0));
		/* A TCP4 source is held v4-mapped. */
		if (memcmp(buf + 6, "TCP4 ", 5) == 0)
			CHECK(IN6_IS_ADDR_V4MAPPED(&h->source));
	} else {
		CHECK(h->version == 2);
		CHECK(h->length >= 16);
		CHECK(memcmp(buf, v2_signature, 12) == 0);
		CHECK(h->length == 16 + ((size_t)buf[14] << 8 | buf[15]));
		CHECK(h->local == ((buf[12] & 0x0f) == 0 || buf[13] == 0x00 || buf[13] == 0x31));
		if (!h->local && buf[13] == 0x11)
			CHECK(IN6_IS_ADDR_V4MAPPED(&h->source));
	}
	if (h->local) {
		CHECK(IN6_IS_ADDR_UNSPECIFIED(&h->source));
		CHECK(h->source_port == 0);
	} else {
		CHECK(h->source_port <= 65535);
	}
}

/*
 * Every prefix is incomplete up to the shortest one that is not; from
 * there on all agree with the whole input (the same header if done).
 * Past PROXY_HEADER_MAX + 1 bytes nothing can change any more.
 */
static void
check_prefixes(const unsigned char *buf, size_t size, enum proxy_status whole,
    const struct proxy_header *h)
{
	size_t limit = size < PROXY_HEADER_MAX + 1 ? size : PROXY_HEADER_MAX + 1;
	bool decided = false;

	for (size_t k = 0; k <= limit; k++) {
		struct proxy_header hk;
		const char *why = NULL;
		enum proxy_status st = proxy_parse(buf, k, &hk, &why);

		if (!decided && st == PROXY_INCOMPLETE) {
			CHECK(k < PROXY_HEADER_MAX);
			continue;
		}
		CHECK(st == whole);
		if (st == PROXY_DONE) {
			CHECK(same_header(&hk, h));
			/* Done exactly where the header ends. */
			CHECK(decided || k == h->length);
		} else {
			CHECK(why != NULL && *why != '\0');
		}
		decided = true;
	}
	CHECK(decided || whole == PROXY_INCOMPLETE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly size bytes, so that ASan sees any read past the input. */
	unsigned char *buf = calloc(1, size ? size : 1);
	struct proxy_header h;
	const char *why = NULL;
	enum proxy_status st;

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	st = proxy_parse(buf, size, &h, &why);
	switch (st) {
	case PROXY_DONE:
		check_header(buf, size, &h);
		break;
	case PROXY_INCOMPLETE:
		CHECK(size < PROXY_HEADER_MAX);
		break;
	case PROXY_BAD:
		CHECK(size >= 1);
		CHECK(why != NULL && *why != '\0');
		break;
	default:
		CHECK(!"unknown proxy_status");
	}
	check_prefixes(buf, size, st, &h);
	free(buf);
	return 0;
}
