/* SPDX-License-Identifier: ISC */
/*
 * test_proxy.c - the PROXY protocol header: proxy_parse() on every
 * accepted v1 and v2 form, every prefix of each (incomplete, never bad),
 * bytes after a header, and every rejection with its exact reason, found
 * at the first byte that rules the header out; proxy_read() over a
 * socketpair: one write or several, a stalled or closing peer, garbage,
 * and not one byte of what follows the header taken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "daemon/proxy_read.h"
#include "io/sys.h"
#include "unit.h"
#include "wire/addr.h"

static enum proxy_status
parse(const void *buf, size_t len, struct proxy_header *h, const char **why)
{
	memset(h, 0xa5, sizeof(*h));
	*why = NULL;
	return proxy_parse(buf, len, h, why);
}

static void
check_header(const struct proxy_header *h, size_t length, int version, const char *source,
    unsigned port, int at)
{
	char text[ADDR_TEXT_MAX];

	ck_assert_msg(h->length == length, "line %d: length %zu, want %zu", at, h->length, length);
	ck_assert_msg(h->version == version, "line %d: version %d", at, h->version);
	ck_assert_msg(h->local == (source == NULL), "line %d: local %d", at, h->local);
	if (source == NULL)
		return;
	addr_format(&h->source, text, sizeof(text));
	ck_assert_msg(strcmp(text, source) == 0, "line %d: source %s, want %s", at, text, source);
	ck_assert_msg(h->source_port == port, "line %d: port %u, want %u", at, h->source_port, port);
}

/*
 * buf holds a header of hlen bytes, then len - hlen bytes more: every
 * proper prefix of the header is incomplete, the header alone, and with
 * all that follows it, parse to the same header.  source is the client's
 * text, NULL for a local header.
 */
static void
expect_done(const void *buf, size_t len, size_t hlen, int version, const char *source,
    unsigned port, int at)
{
	struct proxy_header h;
	const char *why;
	enum proxy_status st;

	for (size_t k = 0; k < hlen; k++) {
		st = parse(buf, k, &h, &why);
		ck_assert_msg(st == PROXY_INCOMPLETE, "line %d: prefix %zu: status %d (%s)", at, k,
		    st, why ? why : "-");
	}
	st = parse(buf, hlen, &h, &why);
	ck_assert_msg(st == PROXY_DONE, "line %d: status %d (%s)", at, st, why ? why : "-");
	check_header(&h, hlen, version, source, port, at);
	st = parse(buf, len, &h, &why);
	ck_assert_msg(st == PROXY_DONE, "line %d: with %zu bytes after it: status %d (%s)", at,
	    len - hlen, st, why ? why : "-");
	check_header(&h, hlen, version, source, port, at);
}

static void
expect_status(const void *buf, size_t len, enum proxy_status want, const char *want_why, int at)
{
	struct proxy_header h;
	const char *why;
	enum proxy_status st = parse(buf, len, &h, &why);

	ck_assert_msg(st == want, "line %d: %zu bytes: status %d, want %d (%s)", at, len, st, want,
	    why ? why : "-");
	if (want == PROXY_BAD) {
		ck_assert_msg(why != NULL && strcmp(why, want_why) == 0,
		    "line %d: why \"%s\", want \"%s\"", at, why ? why : "(null)", want_why);
	}
}

/*
 * The first len bytes of buf are refused exactly at the last one: every
 * shorter prefix is incomplete, so that proxy_read() would not have
 * consumed a byte the header could not have had.  Also refused with more
 * bytes after it.
 */
static void
expect_bad_at(const void *buf, size_t len, size_t total, const char *want_why, int at)
{
	for (size_t k = 0; k < len; k++)
		expect_status(buf, k, PROXY_INCOMPLETE, NULL, at);
	expect_status(buf, len, PROXY_BAD, want_why, at);
	expect_status(buf, total, PROXY_BAD, want_why, at);
}

/* String literals, with sizeof so that NULs inside count. */
#define V1_DONE(text, source, port) \
	expect_done(text, sizeof(text) - 1, sizeof(text) - 1, 1, source, port, __LINE__)
#define BAD_AT_END(text, why) \
	expect_bad_at(text, sizeof(text) - 1, sizeof(text) - 1, why, __LINE__)
#define INCOMPLETE(text) expect_status(text, sizeof(text) - 1, PROXY_INCOMPLETE, NULL, __LINE__)

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN 12

/* A v2 header in a static buffer: fixed part, then plen bytes of payload. */
static unsigned char v2buf[PROXY_HEADER_MAX + 64];

static size_t
v2(unsigned ver_cmd, unsigned family, const void *payload, size_t plen)
{
	memcpy(v2buf, V2_SIG, V2_SIG_LEN);
	v2buf[12] = (unsigned char)ver_cmd;
	v2buf[13] = (unsigned char)family;
	v2buf[14] = (unsigned char)(plen >> 8);
	v2buf[15] = (unsigned char)plen;
	if (plen > 0)
		memcpy(v2buf + 16, payload, plen);
	return 16 + plen;
}

/* A header whose length field says plen, with only the payload bytes given. */
static size_t
v2_len(unsigned ver_cmd, unsigned family, unsigned plen, const void *payload, size_t n)
{
	v2(ver_cmd, family, payload, n);
	v2buf[14] = (unsigned char)(plen >> 8);
	v2buf[15] = (unsigned char)plen;
	return 16 + n;
}

#define V2(ver_cmd, family, payload) v2(ver_cmd, family, payload, sizeof(payload) - 1)
#define V2_DONE(n, source, port) v2_done(n, source, port, __LINE__)

/* v2buf holds a whole header of n bytes and nothing after it. */
static void
v2_done(size_t n, const char *source, unsigned port, int at)
{
	expect_done(v2buf, n, n, 2, source, port, at);
}

/* 192.0.2.1:51234 -> 198.51.100.7:443 */
#define V4_BLOCK "\xc0\x00\x02\x01" "\xc6\x33\x64\x07" "\xc8\x22" "\x01\xbb"
/* [2001:db8::1]:443 -> [2001:db8::2]:8443 */
#define V6_BLOCK "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x01\xbb" "\x20\xfb"
/* ALPN "h2", an empty NOOP, a NOOP of 5 bytes. */
#define TLVS "\x01\x00\x02h2" "\x04\x00\x00" "\x04\x00\x05\0\0\0\0\0"

/* The longest v2 payload: addresses, then one NOOP TLV filling it to the last byte. */
static void
longest_payload(unsigned char payload[PROXY_V2_PAYLOAD_MAX])
{
	memset(payload, 0, PROXY_V2_PAYLOAD_MAX);
	memcpy(payload, V4_BLOCK, 12);
	payload[12] = 0x04;
	payload[13] = (unsigned char)((PROXY_V2_PAYLOAD_MAX - 15) >> 8);
	payload[14] = (unsigned char)(PROXY_V2_PAYLOAD_MAX - 15);
}

/* ---- v1 accepted ---------------------------------------------------- */

START_TEST(test_proxy_v1_tcp4)
{
	V1_DONE("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "192.168.0.1", 56324);
	V1_DONE("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
	    "255.255.255.255", 65535);
	V1_DONE("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", "0.0.0.0", 0);
	V1_DONE("PROXY TCP4 10.0.0.1 10.0.0.2 1 10\r\n", "10.0.0.1", 1);
	V1_DONE("PROXY TCP4 10.200.0.1 10.0.0.2 100 65000\r\n", "10.200.0.1", 100);
}
END_TEST

START_TEST(test_proxy_v1_mapped)
{
	static const char text[] = "PROXY TCP4 127.0.0.1 127.0.0.1 1234 80\r\n";
	struct proxy_header h;
	struct in6_addr want;
	const char *why;

	/* IPv4 is held v4-mapped, as addr.h has every peer. */
	ck_assert_int_eq(parse(text, sizeof(text) - 1, &h, &why), PROXY_DONE);
	ck_assert(IN6_IS_ADDR_V4MAPPED(&h.source));
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &want), 1);
	ck_assert_int_eq(memcmp(&h.source, &want, sizeof(want)), 0);
	/* The same in v2. */
	ck_assert_int_eq(parse(v2buf, V2(0x21, 0x11, V4_BLOCK), &h, &why), PROXY_DONE);
	ck_assert(IN6_IS_ADDR_V4MAPPED(&h.source));
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1", &want), 1);
	ck_assert_int_eq(memcmp(&h.source, &want, sizeof(want)), 0);
	/* A local header leaves a clean source. */
	ck_assert_int_eq(parse("PROXY UNKNOWN\r\n", 15, &h, &why), PROXY_DONE);
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(&h.source));
	ck_assert_uint_eq(h.source_port, 0);
}
END_TEST

START_TEST(test_proxy_v1_tcp6)
{
	V1_DONE("PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n", "2001:db8::1", 1234);
	V1_DONE("PROXY TCP6 ::1 ::1 0 65535\r\n", "::1", 0);
	V1_DONE("PROXY TCP6 :: :: 1 1\r\n", "::", 1);
	V1_DONE("PROXY TCP6 FE80::A ::1 1 1\r\n", "fe80::a", 1);
	V1_DONE("PROXY TCP6 0001:0db8::0001 ::1 1 1\r\n", "1:db8::1", 1);
	/* v4-mapped stays mapped, and prints as IPv4. */
	V1_DONE("PROXY TCP6 ::ffff:10.0.0.1 ::1 7 8\r\n", "10.0.0.1", 7);
	V1_DONE("PROXY TCP6 1:2:3:4:5:6:7:8 1:2:3:4:5:6:7:: 9 9\r\n", "1:2:3:4:5:6:7:8", 9);
	V1_DONE("PROXY TCP6 ::2:3:4:5:6:7:8 1::8 9 9\r\n", "0:2:3:4:5:6:7:8", 9);
	V1_DONE("PROXY TCP6 1:2:3:4:5:6:1.2.3.4 ::1 9 9\r\n", "1:2:3:4:5:6:102:304", 9);
	V1_DONE("PROXY TCP6 ::2:3:4:5:6:1.2.3.4 ::1 9 9\r\n", "0:2:3:4:5:6:102:304", 9);
}
END_TEST

START_TEST(test_proxy_v1_longest)
{
	static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.25.1 65535 65535\r\n";
	static const char too_long[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.1 65535 65535\r\n";
	char line[600];

	/* 107 bytes, CRLF included, is the longest (spec 2.1). */
	ck_assert_uint_eq(sizeof(longest) - 1, 107);
	V1_DONE(longest, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	/* 108: refused as soon as 106 bytes show it cannot end by 107. */
	ck_assert_uint_eq(sizeof(too_long) - 1, 108);
	expect_bad_at(too_long, 106, 108, "v1 header too long", __LINE__);
	/* The same with UNKNOWN, and anything in it. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	expect_done(line, 107, 107, 1, NULL, 0, __LINE__);
	expect_done(line, sizeof(line), 107, 1, NULL, 0, __LINE__);
	/* 105 bytes and no CR could still end by 107, 106 cannot. */
	memset(line + 105, 'x', 2);
	expect_bad_at(line, 106, sizeof(line), "v1 header too long", __LINE__);
	/* A CR at 107 comes too late. */
	line[106] = '\r';
	line[107] = '\n';
	expect_bad_at(line, 106, 108, "v1 header too long", __LINE__);
	/* A CR at 106 is still in time for its LF. */
	line[105] = '\r';
	expect_status(line, 106, PROXY_INCOMPLETE, NULL, __LINE__);
}
END_TEST

START_TEST(test_proxy_v1_unknown)
{
	V1_DONE("PROXY UNKNOWN\r\n", NULL, 0);
	/* The example of the specification. */
	V1_DONE("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", NULL, 0);
	V1_DONE("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", NULL, 0);
	/* Anything but CR and LF: the receiver ignores it (spec 2.1). */
	V1_DONE("PROXY UNKNOWNgarbage \x01\x7f\xff\0 \t\r\n", NULL, 0);
	V1_DONE("PROXY UNKNOWN  \r\n", NULL, 0);
}
END_TEST

START_TEST(test_proxy_v1_trailing)
{
	static const char text[] = "PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\nGET / HTTP/1.0\r\n";
	static const char two[] = "PROXY UNKNOWN\r\nPROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\n";
	static const char tls[] = "PROXY TCP6 ::1 ::1 1 2\r\n\x16\x03\x01\x02\x00\x01";
	static const char crlf[] = "PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\n\r\n\n";
	unsigned char big[PROXY_HEADER_MAX + 100];

	expect_done(text, sizeof(text) - 1, 34, 1, "1.2.3.4", 10, __LINE__);
	expect_done(two, sizeof(two) - 1, 15, 1, NULL, 0, __LINE__);
	expect_done(tls, sizeof(tls) - 1, 24, 1, "::1", 1, __LINE__);
	expect_done(crlf, sizeof(crlf) - 1, 34, 1, "1.2.3.4", 10, __LINE__);
	/* Far more than 107 bytes after the header change nothing. */
	memset(big, 'x', sizeof(big));
	memcpy(big, text, 34);
	expect_done(big, sizeof(big), 34, 1, "1.2.3.4", 10, __LINE__);
}
END_TEST

/* ---- what is not a header at all ------------------------------------ */

START_TEST(test_proxy_not_proxy)
{
	static const char *const starts[] = {
		"G", "GET / HTTP/1.1\r\n", "\x16\x03\x01", "\n", " PROXY", "p", "\xff",
		"\x89TCPX\r\n\x1a", "SSH-2.0-OpenSSH_9.2\r\n", "\t",
	};
	unsigned char buf[V2_SIG_LEN];

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		/* Refused at the first byte, neither 'P' nor CR: nothing consumed. */
		expect_status(starts[i], 1, PROXY_BAD, "not a PROXY header", (int)i);
		expect_status(starts[i], strlen(starts[i]), PROXY_BAD, "not a PROXY header", (int)i);
	}
	expect_status("\0", 1, PROXY_BAD, "not a PROXY header", __LINE__);
	BAD_AT_END("PROXZ", "not a PROXY header");
	BAD_AT_END("PROXY\r", "not a PROXY header");
	BAD_AT_END("PROXY\t", "not a PROXY header");
	BAD_AT_END("PRo", "not a PROXY header");
	BAD_AT_END("PU", "not a PROXY header");
	expect_bad_at("POST / HTTP/1.1\r\n", 2, 17, "not a PROXY header", __LINE__);
	/* Each byte of the v2 signature, changed, is refused where it is. */
	for (size_t len = 1; len <= V2_SIG_LEN; len++) {
		memcpy(buf, V2_SIG, V2_SIG_LEN);
		buf[len - 1] ^= 0x40;
		expect_bad_at(buf, len, len, "not a PROXY header", (int)len);
		/* Nor is v1 after a CR. */
		if (len > 1) {
			buf[len - 1] = 'P';
			expect_bad_at(buf, len, len, "not a PROXY header", (int)len);
		}
	}
}
END_TEST

START_TEST(test_proxy_incomplete)
{
	expect_status("", 0, PROXY_INCOMPLETE, NULL, __LINE__);
	expect_status(NULL, 0, PROXY_INCOMPLETE, NULL, __LINE__);
	INCOMPLETE("P");
	INCOMPLETE("PROXY");
	INCOMPLETE("PROXY ");
	INCOMPLETE("PROXY T");
	INCOMPLETE("PROXY TCP");
	INCOMPLETE("PROXY TCP4");
	INCOMPLETE("PROXY TCP6 ");
	INCOMPLETE("PROXY U");
	INCOMPLETE("PROXY UNKNOWN");
	INCOMPLETE("PROXY UNKNOWN whatever");
	INCOMPLETE("PROXY UNKNOWN\r");
	INCOMPLETE("PROXY TCP4 1.2");
	INCOMPLETE("PROXY TCP4 1.2.3.4 5.6.7.8 1 2");
	INCOMPLETE("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r");
	INCOMPLETE("PROXY TCP6 2001:db8:");
	INCOMPLETE("PROXY TCP6 ::ffff:1.2.");
	INCOMPLETE("PROXY TCP6 :");
	INCOMPLETE("\r");
	INCOMPLETE("\r\n\r\n\0\r\nQUIT");
	INCOMPLETE(V2_SIG);
	INCOMPLETE(V2_SIG "\x21");
	INCOMPLETE(V2_SIG "\x21\x11");
	INCOMPLETE(V2_SIG "\x21\x11\x00");
	INCOMPLETE(V2_SIG "\x21\x11\x00\x0c");
	INCOMPLETE(V2_SIG "\x21\x11\x00\x0c\xc0\x00\x02\x01\xc6\x33\x64\x07\xc8\x22\x01");
	INCOMPLETE(V2_SIG "\x20\x00\x04\x00");
}
END_TEST

/* ---- v1 refused ----------------------------------------------------- */

START_TEST(test_proxy_v1_bad_protocol)
{
	BAD_AT_END("PROXY X", "unsupported v1 protocol");
	BAD_AT_END("PROXY TCP5", "unsupported v1 protocol");
	BAD_AT_END("PROXY TCP4\r", "unsupported v1 protocol");
	BAD_AT_END("PROXY TCP4\t", "unsupported v1 protocol");
	BAD_AT_END("PROXY TCP6:", "unsupported v1 protocol");
	BAD_AT_END("PROXY UD", "unsupported v1 protocol");
	BAD_AT_END("PROXY t", "unsupported v1 protocol");
	BAD_AT_END("PROXY UNKNOWn", "unsupported v1 protocol");
	BAD_AT_END("PROXY  ", "unsupported v1 protocol");
	BAD_AT_END("PROXY \r", "unsupported v1 protocol");
	BAD_AT_END("PROXY \n", "unsupported v1 protocol");
}
END_TEST

START_TEST(test_proxy_v1_bad_address)
{
	/* IPv4: refused at the byte that no dotted quad can have. */
	BAD_AT_END("PROXY TCP4 x", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.256", "bad v1 address");
	BAD_AT_END("PROXY TCP4 01", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.4.", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1..", "bad v1 address");
	BAD_AT_END("PROXY TCP4 .", "bad v1 address");
	BAD_AT_END("PROXY TCP4 -", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.4\t", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.4\0", "bad v1 address");
	/* ...or at the space that ends it too early. */
	BAD_AT_END("PROXY TCP4 1.2.3 ", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3. ", "bad v1 address");
	BAD_AT_END("PROXY TCP4  ", "bad v1 address");
	/* The other family's address. */
	BAD_AT_END("PROXY TCP4 :", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.4 :", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1.", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1 ", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::1 1.", "bad v1 address");
	/* IPv6. */
	BAD_AT_END("PROXY TCP6 g", "bad v1 address");
	BAD_AT_END("PROXY TCP6 [", "bad v1 address");
	BAD_AT_END("PROXY TCP6 :::", "bad v1 address");
	BAD_AT_END("PROXY TCP6 :1", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1::2::", "bad v1 address");
	BAD_AT_END("PROXY TCP6 12345", "bad v1 address");
	BAD_AT_END("PROXY TCP6 fe80::1%", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::ffff:1.2.3.4:", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::ffff:1.2.3.256", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::ffff:a.", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::1.2.3.4.", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1:2:3:4:5:6:7:8:9:", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1:2:3:4:5:6:7:8:9 ", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1:2 ", "bad v1 address");
	BAD_AT_END("PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ", "bad v1 address");
	BAD_AT_END("PROXY TCP6 : ", "bad v1 address");
	BAD_AT_END("PROXY TCP6  ", "bad v1 address");
	/* The destination is checked as strictly. */
	BAD_AT_END("PROXY TCP4 1.2.3.4 x", "bad v1 address");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7 ", "bad v1 address");
	BAD_AT_END("PROXY TCP6 ::1 ::1::", "bad v1 address");
}
END_TEST

START_TEST(test_proxy_v1_bad_port)
{
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 65536", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 99999", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 01", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 00", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 +", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 -", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1a", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 0x", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8  ", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 08", "bad v1 port");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r", "bad v1 port");
	BAD_AT_END("PROXY TCP6 ::1 ::1 1 2\t", "bad v1 port");
}
END_TEST

START_TEST(test_proxy_v1_bad_fields)
{
	BAD_AT_END("PROXY TCP4 1.2.3.4\r", "wrong number of v1 fields");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8\r", "wrong number of v1 fields");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1\r", "wrong number of v1 fields");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", "wrong number of v1 fields");
	BAD_AT_END("PROXY TCP4 \r", "wrong number of v1 fields");
}
END_TEST

START_TEST(test_proxy_v1_bad_line_end)
{
	/* A bare LF ends nothing: CRLF is required. */
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1 header ends in LF without CR");
	BAD_AT_END("PROXY TCP4 1.2.3.4\n", "v1 header ends in LF without CR");
	BAD_AT_END("PROXY TCP6 ::1 ::1 1\n", "v1 header ends in LF without CR");
	BAD_AT_END("PROXY UNKNOWN\n", "v1 header ends in LF without CR");
	BAD_AT_END("PROXY UNKNOWN x\n", "v1 header ends in LF without CR");
	/* A CR must be followed by LF. */
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", "v1 header has CR without LF");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "v1 header has CR without LF");
	BAD_AT_END("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r ", "v1 header has CR without LF");
	BAD_AT_END("PROXY UNKNOWN\r\r", "v1 header has CR without LF");
	BAD_AT_END("PROXY UNKNOWN x\rx", "v1 header has CR without LF");
}
END_TEST

/* ---- v2 accepted ---------------------------------------------------- */

START_TEST(test_proxy_v2_ipv4)
{
	size_t n;

	V2_DONE(V2(0x21, 0x11, V4_BLOCK), "192.0.2.1", 51234);
	V2_DONE(V2(0x21, 0x11, V4_BLOCK TLVS), "192.0.2.1", 51234);
	/* Port 0 is a port. */
	V2_DONE(V2(0x21, 0x11, "\x0a\0\0\x01" "\x0a\0\0\x02" "\0\0" "\0\0"), "10.0.0.1", 0);
	V2_DONE(V2(0x21, 0x11, "\xff\xff\xff\xff" "\0\0\0\0" "\xff\xff" "\0\0"),
	    "255.255.255.255", 65535);
	/* An empty TLV list, then one NOOP that fills the rest. */
	V2_DONE(V2(0x21, 0x11, V4_BLOCK "\x04\x00\x00"), "192.0.2.1", 51234);
	/* Bytes after it are not counted. */
	n = V2(0x21, 0x11, V4_BLOCK);
	memcpy(v2buf + n, "payload" V2_SIG, 19);
	expect_done(v2buf, n + 19, n, 2, "192.0.2.1", 51234, __LINE__);
	n = V2(0x21, 0x11, V4_BLOCK TLVS);
	memcpy(v2buf + n, "\x16\x03\x01", 3);
	expect_done(v2buf, n + 3, n, 2, "192.0.2.1", 51234, __LINE__);
}
END_TEST

START_TEST(test_proxy_v2_ipv6)
{
	size_t n;

	V2_DONE(V2(0x21, 0x21, V6_BLOCK), "2001:db8::1", 443);
	V2_DONE(V2(0x21, 0x21, V6_BLOCK TLVS), "2001:db8::1", 443);
	/* A v4-mapped IPv6 source is IPv4 to the rest of tcpxd. */
	V2_DONE(V2(0x21, 0x21, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\0\0\x01" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\0\x50" "\0\x50"), "10.0.0.1", 80);
	n = V2(0x21, 0x21, V6_BLOCK);
	memcpy(v2buf + n, "payload", 7);
	expect_done(v2buf, n + 7, n, 2, "2001:db8::1", 443, __LINE__);
}
END_TEST

START_TEST(test_proxy_v2_local)
{
	/* LOCAL: the balancer's own health check; the family is ignored (spec 2.2). */
	V2_DONE(V2(0x20, 0x00, ""), NULL, 0);
	V2_DONE(V2(0x20, 0x11, V4_BLOCK), NULL, 0);
	V2_DONE(V2(0x20, 0x21, V6_BLOCK TLVS), NULL, 0);
	V2_DONE(V2(0x20, 0x12, V4_BLOCK), NULL, 0);
	V2_DONE(V2(0x20, 0xff, "xyz"), NULL, 0);
	/* Its block is not read, so not checked either. */
	V2_DONE(V2(0x20, 0x00, "\x01\xff\xff"), NULL, 0);
	V2_DONE(V2(0x20, 0x11, "short"), NULL, 0);
}
END_TEST

START_TEST(test_proxy_v2_unspec_unix)
{
	unsigned char block[216 + 5];

	/* PROXY over AF_UNSPEC: nothing to use, keep the socket's peer. */
	V2_DONE(V2(0x21, 0x00, ""), NULL, 0);
	V2_DONE(V2(0x21, 0x00, TLVS), NULL, 0);
	/* AF_UNIX stream: two 108-byte paths, no IP address. */
	memset(block, 0, sizeof(block));
	memcpy(block, "/run/client.sock", 16);
	memcpy(block + 108, "/run/tcpxd.sock", 15);
	V2_DONE(v2(0x21, 0x31, block, 216), NULL, 0);
	memcpy(block + 216, "\x04\x00\x02xx", 5);
	V2_DONE(v2(0x21, 0x31, block, sizeof(block)), NULL, 0);
}
END_TEST

START_TEST(test_proxy_v2_longest)
{
	unsigned char payload[PROXY_V2_PAYLOAD_MAX];
	size_t n;

	/* Addresses, then one NOOP TLV filling the payload to exactly 1024 bytes. */
	longest_payload(payload);
	n = v2(0x21, 0x11, payload, sizeof(payload));
	ck_assert_uint_eq(n, PROXY_HEADER_MAX);
	memcpy(v2buf + n, "more", 4);
	expect_done(v2buf, n + 4, n, 2, "192.0.2.1", 51234, __LINE__);
	/* The same length in small TLVs: 336 empty ones, then one of a single byte. */
	memset(payload + 12, 0, sizeof(payload) - 12);
	for (size_t i = 12; i < sizeof(payload) - 4; i += 3)
		payload[i] = 0x04;
	memcpy(payload + sizeof(payload) - 4, "\x04\x00\x01v", 4);
	n = v2(0x21, 0x11, payload, sizeof(payload));
	V2_DONE(n, "192.0.2.1", 51234);
}
END_TEST

/* ---- v2 refused ----------------------------------------------------- */

START_TEST(test_proxy_v2_bad_version_command)
{
	static const unsigned versions[] = { 0x01, 0x11, 0x31, 0xf1, 0x00, 0x10, 0x30 };
	static const unsigned commands[] = { 0x22, 0x23, 0x2f };

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		expect_bad_at(v2buf, 13, V2(versions[i], 0x11, V4_BLOCK), "unsupported v2 version",
		    (int)versions[i]);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		expect_bad_at(v2buf, 13, V2(commands[i], 0x11, V4_BLOCK), "unsupported v2 command",
		    (int)commands[i]);
}
END_TEST

START_TEST(test_proxy_v2_bad_family)
{
	/* UDP over IPv4, IPv6, AF_UNIX; unassigned transports and families. */
	static const unsigned families[] = {
		0x12, 0x22, 0x32, 0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33, 0x41, 0xff,
	};

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		expect_bad_at(v2buf, 14, V2(0x21, families[i], V6_BLOCK),
		    "unsupported v2 address family", (int)families[i]);
}
END_TEST

START_TEST(test_proxy_v2_bad_length)
{
	/* Over 1024 bytes: refused at the length, not after reading them. */
	expect_bad_at(v2buf, 16, v2_len(0x21, 0x11, PROXY_V2_PAYLOAD_MAX + 1, V4_BLOCK, 12),
	    "v2 header too long", __LINE__);
	expect_bad_at(v2buf, 16, v2_len(0x21, 0x11, 0xffff, V4_BLOCK, 12), "v2 header too long",
	    __LINE__);
	expect_bad_at(v2buf, 16, v2_len(0x20, 0x00, 0x8000, "", 0), "v2 header too long",
	    __LINE__);
	/* Shorter than the addresses of its family. */
	expect_bad_at(v2buf, 16, V2(0x21, 0x11, "\xc0\x00\x02\x01\xc6\x33\x64\x07\xc8\x22\x01"),
	    "v2 address block too short", __LINE__);
	expect_bad_at(v2buf, 16, V2(0x21, 0x11, ""), "v2 address block too short", __LINE__);
	expect_bad_at(v2buf, 16, v2_len(0x21, 0x21, 35, V6_BLOCK, 35), "v2 address block too short",
	    __LINE__);
	expect_bad_at(v2buf, 16, v2_len(0x21, 0x21, 12, V4_BLOCK, 12), "v2 address block too short",
	    __LINE__);
	expect_bad_at(v2buf, 16, v2_len(0x21, 0x31, 215, "", 0), "v2 address block too short",
	    __LINE__);
}
END_TEST

START_TEST(test_proxy_v2_bad_tlv)
{
	/* One or two bytes left: no room for a TLV head, known from the length. */
	expect_bad_at(v2buf, 16, V2(0x21, 0x11, V4_BLOCK "\x04"), "v2 TLV overruns the header",
	    __LINE__);
	expect_bad_at(v2buf, 16, V2(0x21, 0x11, V4_BLOCK "\x04\x00"), "v2 TLV overruns the header",
	    __LINE__);
	expect_bad_at(v2buf, 16, V2(0x21, 0x00, "\x04"), "v2 TLV overruns the header", __LINE__);
	/* A value longer than what is left: refused at its length, before the value. */
	expect_bad_at(v2buf, 31, V2(0x21, 0x11, V4_BLOCK "\x01\x00\x05h2"),
	    "v2 TLV overruns the header", __LINE__);
	expect_bad_at(v2buf, 31, V2(0x21, 0x11, V4_BLOCK "\x01\xff\xff"),
	    "v2 TLV overruns the header", __LINE__);
	expect_bad_at(v2buf, 19, V2(0x21, 0x00, "\x04\x00\x01"), "v2 TLV overruns the header",
	    __LINE__);
	expect_bad_at(v2buf, 55, V2(0x21, 0x21, V6_BLOCK "\x01\x00\x01"),
	    "v2 TLV overruns the header", __LINE__);
	/* After good TLVs: at the next head, or where the remainder is too short for one. */
	expect_bad_at(v2buf, 47, V2(0x21, 0x11, V4_BLOCK TLVS "\x02\x00\x04xyz"),
	    "v2 TLV overruns the header", __LINE__);
	expect_bad_at(v2buf, 16 + 12 + 16 + 3, V2(0x21, 0x11, V4_BLOCK TLVS "\x02\x00\x00" "\x02"),
	    "v2 TLV overruns the header", __LINE__);
}
END_TEST

/* ---- proxy_read() --------------------------------------------------- */

#define V1_HEADER "PROXY TCP4 203.0.113.9 10.0.0.1 40000 7008\r\n"

static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
send_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(sys_send_all(fd, buf, len), 0);
}

/* Closes the writing end, then checks that fd holds exactly want. */
static void
expect_rest(int sv[2], const void *want, size_t len)
{
	unsigned char buf[PROXY_HEADER_MAX * 4];
	size_t have = 0;
	ssize_t n;

	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	while ((n = sys_recv(sv[0], buf + have, sizeof(buf) - have)) > 0)
		have += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(have, len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

static void
close_pair(int sv[2])
{
	sys_close(sv[0]);
	sys_close(sv[1]);
}

/* A peer that writes chunks with a pause before each, as a slow balancer does. */
struct writer {
	int fd;
	const unsigned char *buf;
	size_t len;
	size_t chunk;           /* bytes per write */
	long pause_ms;
	bool close_after;
	pthread_t thread;
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;

	for (size_t off = 0; off < w->len; off += w->chunk) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = w->pause_ms * 1000000L };
		size_t n = w->len - off < w->chunk ? w->len - off : w->chunk;

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (sys_send_all(w->fd, w->buf + off, n) < 0)
			return (void *)1;
	}
	if (w->close_after)
		(void)shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void
writer_start(struct writer *w)
{
	ck_assert_int_eq(pthread_create(&w->thread, NULL, writer_run, w), 0);
}

static void
writer_join(struct writer *w)
{
	void *ret;

	ck_assert_int_eq(pthread_join(w->thread, &ret), 0);
	ck_assert_ptr_null(ret);
}

static enum proxy_read_status
read_header(int fd, long long timeout_ms, struct proxy_header *h, const char **why)
{
	memset(h, 0xa5, sizeof(*h));
	*why = NULL;
	return proxy_read(fd, sys_now_ms() + timeout_ms, h, why);
}

/*
 * Opens the pair sv, sends len bytes of first at once, and reads a header
 * while w writes the rest from its thread; sv stays open for expect_rest().
 */
static enum proxy_read_status
read_while_writing(int sv[2], struct writer *w, const void *first, size_t len,
    long long timeout_ms, struct proxy_header *h, const char **why)
{
	enum proxy_read_status st;

	pair(sv);
	if (len > 0)
		send_all(sv[1], first, len);
	w->fd = sv[1];
	writer_start(w);
	st = read_header(sv[0], timeout_ms, h, why);
	writer_join(w);
	return st;
}

START_TEST(test_proxy_read_one_write)
{
	static const char v1[] = V1_HEADER "payload";
	struct proxy_header h;
	const char *why;
	int sv[2];
	size_t n;

	pair(sv);
	send_all(sv[1], v1, sizeof(v1) - 1);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, sizeof(V1_HEADER) - 1, 1, "203.0.113.9", 40000, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);

	pair(sv);
	n = V2(0x21, 0x21, V6_BLOCK TLVS);
	memcpy(v2buf + n, "payload", 7);
	send_all(sv[1], v2buf, n + 7);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, n, 2, "2001:db8::1", 443, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);

	/* A header alone, then EOF: done, nothing left. */
	pair(sv);
	send_all(sv[1], "PROXY UNKNOWN\r\n", 15);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, 15, 1, NULL, 0, __LINE__);
	expect_rest(sv, "", 0);
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_big_payload)
{
	static unsigned char data[PROXY_HEADER_MAX + 3000];
	unsigned char payload[PROXY_V2_PAYLOAD_MAX];
	struct proxy_header h;
	const char *why;
	size_t n;
	int sv[2];

	/* More than a buffer of data behind a short header: only the header goes. */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	pair(sv);
	n = V2(0x21, 0x11, V4_BLOCK);
	send_all(sv[1], v2buf, n);
	send_all(sv[1], data, sizeof(data));
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, n, 2, "192.0.2.1", 51234, __LINE__);
	expect_rest(sv, data, sizeof(data));
	close_pair(sv);

	/* The longest v2 header, then data that starts like another one. */
	longest_payload(payload);
	n = v2(0x21, 0x11, payload, sizeof(payload));
	memcpy(data, v2buf, n);
	pair(sv);
	send_all(sv[1], v2buf, n);
	send_all(sv[1], data, sizeof(data));
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, PROXY_HEADER_MAX, 2, "192.0.2.1", 51234, __LINE__);
	expect_rest(sv, data, sizeof(data));
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_split)
{
	static const char v1[] = V1_HEADER "payload";
	struct writer w = { .buf = (const unsigned char *)v1 + 20, .len = sizeof(v1) - 1 - 20,
	    .chunk = 1000, .pause_ms = 50 };
	struct proxy_header h;
	const char *why;
	int sv[2];
	size_t n;

	/* Two writes already queued. */
	pair(sv);
	send_all(sv[1], v1, 20);
	send_all(sv[1], v1 + 20, sizeof(v1) - 1 - 20);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, sizeof(V1_HEADER) - 1, 1, "203.0.113.9", 40000, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);

	/* The second half comes later: the first is consumed, then poll waits. */
	ck_assert_int_eq(read_while_writing(sv, &w, v1, 20, 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, sizeof(V1_HEADER) - 1, 1, "203.0.113.9", 40000, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);

	/* v2, cut inside the fixed part, the payload in the same write as the end. */
	n = V2(0x21, 0x11, V4_BLOCK TLVS);
	memcpy(v2buf + n, "payload", 7);
	w.buf = v2buf + 14;
	w.len = n + 7 - 14;
	ck_assert_int_eq(read_while_writing(sv, &w, v2buf, 14, 2000, &h, &why), PROXY_READ_OK);
	check_header(&h, n, 2, "192.0.2.1", 51234, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_byte_by_byte)
{
	static const char v1[] = "PROXY TCP6 2001:db8::7 ::1 65535 80\r\npayload";
	struct writer w = { .buf = (const unsigned char *)v1, .len = sizeof(v1) - 1, .chunk = 1,
	    .pause_ms = 1 };
	struct proxy_header h;
	const char *why;
	int sv[2];

	ck_assert_int_eq(read_while_writing(sv, &w, NULL, 0, 3000, &h, &why), PROXY_READ_OK);
	check_header(&h, sizeof(v1) - 1 - 7, 1, "2001:db8::7", 65535, __LINE__);
	expect_rest(sv, "payload", 7);
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_timeout)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 20000 };
	struct proxy_header h;
	const char *why;
	long long start, ms;
	int sv[2];

	/* Half a header, then silence: the deadline ends it, not SO_RCVTIMEO. */
	pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	send_all(sv[1], "PROXY TCP4 1.2.3.4 ", 19);
	start = sys_now_ms();
	ck_assert_int_eq(read_header(sv[0], 200, &h, &why), PROXY_READ_TIMEOUT);
	ms = sys_now_ms() - start;
	ck_assert_msg(ms >= 195 && ms < 2000, "returned after %lld ms", ms);
	ck_assert(why != NULL && *why != '\0');
	close_pair(sv);

	/* Nothing at all. */
	pair(sv);
	start = sys_now_ms();
	ck_assert_int_eq(read_header(sv[0], 100, &h, &why), PROXY_READ_TIMEOUT);
	ms = sys_now_ms() - start;
	ck_assert_msg(ms >= 95 && ms < 2000, "returned after %lld ms", ms);
	close_pair(sv);

	/* A deadline already past. */
	pair(sv);
	ck_assert_int_eq(read_header(sv[0], -1, &h, &why), PROXY_READ_TIMEOUT);
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_bad)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	static const char lf[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET / HTTP/1.0\r\n\r\n";
	struct writer w = { .buf = (const unsigned char *)"1 2\nxyz", .len = 7, .chunk = 100,
	    .pause_ms = 30 };
	struct proxy_header h;
	const char *why;
	int sv[2];

	/* Not a header: refused at once, and not one byte taken. */
	pair(sv);
	send_all(sv[1], http, sizeof(http) - 1);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_BAD);
	ck_assert_str_eq(why, "not a PROXY header");
	expect_rest(sv, http, sizeof(http) - 1);
	close_pair(sv);

	pair(sv);
	send_all(sv[1], lf, sizeof(lf) - 1);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_BAD);
	ck_assert_str_eq(why, "v1 header ends in LF without CR");
	close_pair(sv);

	/* Bad after a good start that came first. */
	ck_assert_int_eq(read_while_writing(sv, &w, "PROXY TCP4 1.2.3.4 5.6.7.8 ", 27, 2000, &h, &why),
	    PROXY_READ_BAD);
	ck_assert_str_eq(why, "v1 header ends in LF without CR");
	close_pair(sv);

	pair(sv);
	send_all(sv[1], v2buf, V2(0x21, 0x22, V6_BLOCK));
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_BAD);
	ck_assert_str_eq(why, "unsupported v2 address family");
	close_pair(sv);
}
END_TEST

START_TEST(test_proxy_read_closed)
{
	struct writer w = { .buf = (const unsigned char *)"5.6.7.8 1", .len = 9, .chunk = 100,
	    .pause_ms = 30, .close_after = true };
	enum proxy_read_status st;
	struct proxy_header h;
	const char *why;
	int sv[2], err;

	/* EOF in the middle of the header: errno 0 says it was not an error. */
	pair(sv);
	send_all(sv[1], "PROXY TCP4 1.2.3.4 ", 19);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	errno = EINVAL;
	st = read_header(sv[0], 2000, &h, &why);
	err = errno;
	ck_assert_int_eq(st, PROXY_READ_CLOSED);
	ck_assert_int_eq(err, 0);
	ck_assert(why != NULL && *why != '\0');
	close_pair(sv);

	/* The peer closes later, having sent some more. */
	ck_assert_int_eq(read_while_writing(sv, &w, "PROXY TCP4 1.2.3.4 ", 19, 2000, &h, &why),
	    PROXY_READ_CLOSED);
	close_pair(sv);

	/* Before any byte. */
	pair(sv);
	sys_close(sv[1]);
	ck_assert_int_eq(read_header(sv[0], 2000, &h, &why), PROXY_READ_CLOSED);
	sys_close(sv[0]);

	/* Not a socket at all: an error, with its errno. */
	pair(sv);
	close_pair(sv);
	st = read_header(sv[0], 2000, &h, &why);
	err = errno;
	ck_assert_int_eq(st, PROXY_READ_CLOSED);
	ck_assert_int_eq(err, EBADF);
}
END_TEST

Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *v1_tc = tcase_create("v1");
	TCase *v2_tc = tcase_create("v2");
	TCase *read_tc = tcase_create("read");

	tcase_add_test(v1_tc, test_proxy_v1_tcp4);
	tcase_add_test(v1_tc, test_proxy_v1_mapped);
	tcase_add_test(v1_tc, test_proxy_v1_tcp6);
	tcase_add_test(v1_tc, test_proxy_v1_longest);
	tcase_add_test(v1_tc, test_proxy_v1_unknown);
	tcase_add_test(v1_tc, test_proxy_v1_trailing);
	tcase_add_test(v1_tc, test_proxy_not_proxy);
	tcase_add_test(v1_tc, test_proxy_incomplete);
	tcase_add_test(v1_tc, test_proxy_v1_bad_protocol);
	tcase_add_test(v1_tc, test_proxy_v1_bad_address);
	tcase_add_test(v1_tc, test_proxy_v1_bad_port);
	tcase_add_test(v1_tc, test_proxy_v1_bad_fields);
	tcase_add_test(v1_tc, test_proxy_v1_bad_line_end);
	suite_add_tcase(s, v1_tc);
	tcase_add_test(v2_tc, test_proxy_v2_ipv4);
	tcase_add_test(v2_tc, test_proxy_v2_ipv6);
	tcase_add_test(v2_tc, test_proxy_v2_local);
	tcase_add_test(v2_tc, test_proxy_v2_unspec_unix);
	tcase_add_test(v2_tc, test_proxy_v2_longest);
	tcase_add_test(v2_tc, test_proxy_v2_bad_version_command);
	tcase_add_test(v2_tc, test_proxy_v2_bad_family);
	tcase_add_test(v2_tc, test_proxy_v2_bad_length);
	tcase_add_test(v2_tc, test_proxy_v2_bad_tlv);
	suite_add_tcase(s, v2_tc);
	tcase_add_test(read_tc, test_proxy_read_one_write);
	tcase_add_test(read_tc, test_proxy_read_big_payload);
	tcase_add_test(read_tc, test_proxy_read_split);
	tcase_add_test(read_tc, test_proxy_read_byte_by_byte);
	tcase_add_test(read_tc, test_proxy_read_timeout);
	tcase_add_test(read_tc, test_proxy_read_bad);
	tcase_add_test(read_tc, test_proxy_read_closed);
	suite_add_tcase(s, read_tc);
	return s;
}
