/* SPDX-License-Identifier: ISC */
/* test_hostport.c - hostport_parse(): the HOST:PORT forms tcpx accepts and every refusal's reason. */
#include <string.h>

#include "unit.h"
#include "wire/hostport.h"

static void
expect_ok(const char *text, const char *want_host, unsigned want_port, int at)
{
	char host[HOSTPORT_HOST_MAX];
	unsigned port = 0;
	const char *why = NULL;

	ck_assert_msg(hostport_parse(text, host, sizeof(host), &port, &why) == 0,
	    "line %d: \"%s\" refused: %s", at, text, why ? why : "-");
	ck_assert_msg(strcmp(host, want_host) == 0, "line %d: host \"%s\", want \"%s\"", at, host,
	    want_host);
	ck_assert_msg(port == want_port, "line %d: port %u, want %u", at, port, want_port);
}

static void
expect_bad(const char *text, size_t hostlen, const char *want_why, int at)
{
	char host[HOSTPORT_HOST_MAX * 2];
	unsigned port = 12345;
	const char *why = NULL;

	memset(host, 'x', sizeof(host));
	ck_assert_msg(hostport_parse(text, host, hostlen, &port, &why) == -1,
	    "line %d: \"%s\" accepted", at, text);
	ck_assert_msg(why != NULL && strcmp(why, want_why) == 0, "line %d: \"%s\": why \"%s\", "
	    "want \"%s\"", at, text, why ? why : "(null)", want_why);
	ck_assert_msg(port == 12345, "line %d: port written on failure", at);
	ck_assert_msg(host[0] == 'x', "line %d: host written on failure", at);
}

#define OK(text, host, port) expect_ok(text, host, port, __LINE__)
#define BAD(text, why) expect_bad(text, HOSTPORT_HOST_MAX, why, __LINE__)

#define PORT_WHY "port must be a number from 1 to 65535"

START_TEST(test_hostport_ok)
{
	OK("h:1", "h", 1);
	OK("127.0.0.1:7007", "127.0.0.1", 7007);
	OK("[::1]:7008", "::1", 7008);
	OK("[fe80::1%eth0]:22", "fe80::1%eth0", 22);
	OK("example.com:65535", "example.com", 65535);
	OK("localhost:080", "localhost", 80);
	OK("[::ffff:10.0.0.1]:443", "::ffff:10.0.0.1", 443);
	OK("[2001:db8::]:1", "2001:db8::", 1);
	/* Brackets are allowed around any host. */
	OK("[h]:9", "h", 9);
}
END_TEST

START_TEST(test_hostport_refused)
{
	BAD("nocolon", "expected HOST:PORT");
	BAD("", "expected HOST:PORT");
	BAD(":7007", "empty host");
	BAD(":", "empty host");
	BAD("h:", PORT_WHY);
	BAD("h:0", PORT_WHY);
	BAD("h:00", PORT_WHY);
	BAD("h:65536", PORT_WHY);
	BAD("h:99999999999", PORT_WHY);
	BAD("h:184467440737095516160", PORT_WHY);
	BAD("h:12x", PORT_WHY);
	BAD("h:x12", PORT_WHY);
	BAD("h:-1", PORT_WHY);
	BAD("h:+1", PORT_WHY);
	BAD("h: 1", PORT_WHY);
	BAD("h:1 ", PORT_WHY);
	BAD("h:1e2", PORT_WHY);
	BAD("h:0x50", PORT_WHY);
	BAD("h:80.0", PORT_WHY);
	BAD("h:80.5", PORT_WHY);
	BAD("::1:7007", "an IPv6 address must be written [ADDRESS]:PORT");
	BAD("fe80::1:22", "an IPv6 address must be written [ADDRESS]:PORT");
	BAD("a:b:1", "an IPv6 address must be written [ADDRESS]:PORT");
	BAD("[::1]7008", "expected [IPv6]:PORT");
	BAD("[::1]", "expected [IPv6]:PORT");
	BAD("[::1", "expected [IPv6]:PORT");
	BAD("[::1]:", PORT_WHY);
	BAD("[::1]:0", PORT_WHY);
	BAD("[::1]:65536", PORT_WHY);
	BAD("[]:1", "empty host");
}
END_TEST

START_TEST(test_hostport_long_host)
{
	char text[400], host[HOSTPORT_HOST_MAX];
	unsigned port;
	const char *why;

	/* 300 characters. */
	memset(text, 'a', 300);
	strcpy(text + 300, ":1");
	BAD(text, "host name too long");
	text[0] = '[';
	strcpy(text + 299, "]:1");
	BAD(text, "host name too long");
	/* 255 fits a 256-byte buffer with its NUL; 256 does not. */
	memset(text, 'a', 255);
	strcpy(text + 255, ":1");
	ck_assert_int_eq(hostport_parse(text, host, sizeof(host), &port, &why), 0);
	ck_assert_uint_eq(strlen(host), 255);
	ck_assert_uint_eq(port, 1);
	memset(text, 'a', 256);
	strcpy(text + 256, ":1");
	BAD(text, "host name too long");
	/* The limit is the caller's buffer. */
	expect_bad("abcd:1", 4, "host name too long", __LINE__);
	expect_bad("[abcd]:1", 4, "host name too long", __LINE__);
	ck_assert_int_eq(hostport_parse("abc:1", host, 4, &port, &why), 0);
	ck_assert_str_eq(host, "abc");
}
END_TEST

Suite *
hostport_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_hostport_ok);
	tcase_add_test(tc, test_hostport_refused);
	tcase_add_test(tc, test_hostport_long_host);
	suite_add_tcase(s, tc);
	return s;
}
