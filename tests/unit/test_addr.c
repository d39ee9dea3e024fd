/* SPDX-License-Identifier: ISC */
/* test_addr.c - peer addresses (v4-mapped normalisation, formatting) and CIDR rules. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "unit.h"
#include "wire/addr.h"

/* Any textual address, IPv4 ones through a sockaddr_in, as the daemon sees a peer. */
static struct in6_addr
peer(const char *text)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct in6_addr a;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	memset(&a, 0xa5, sizeof(a));
	if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sin, &a), 0);
	} else {
		ck_assert_msg(inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1, "bad address %s", text);
		sin6.sin6_family = AF_INET6;
		ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sin6, &a), 0);
	}
	return a;
}

static struct cidr
rule(const char *text)
{
	struct cidr c;

	ck_assert_msg(cidr_parse(text, &c) == 0, "cidr_parse(\"%s\") failed", text);
	return c;
}

static bool
matches(const char *rule_text, const char *addr_text)
{
	struct cidr c = rule(rule_text);
	struct in6_addr a = peer(addr_text);

	return cidr_match(&c, &a);
}

START_TEST(test_addr_v4_mapped_equal)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct in6_addr from4, from6, v4mapped;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1234);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(5678);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr), 1);

	ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sin, &from4), 0);
	ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sin6, &from6), 0);
	ck_assert_mem_eq(&from4, &from6, sizeof(from4));
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.7", &v4mapped), 1);
	ck_assert_mem_eq(&from4, &v4mapped, sizeof(from4));
	ck_assert(IN6_IS_ADDR_V4MAPPED(&from4));
}
END_TEST

START_TEST(test_addr_from_sockaddr_v6_and_other)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct in6_addr a, want;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::42", &sin6.sin6_addr), 1);
	ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sin6, &a), 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::42", &want), 1);
	ck_assert_mem_eq(&a, &want, sizeof(a));

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&sun, &a), -1);
}
END_TEST

START_TEST(test_cidr_parse_accepts)
{
	struct cidr c;
	struct in6_addr want;

	c = rule("10.0.0.0/8");
	ck_assert_uint_eq(c.prefix, 96 + 8);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:10.0.0.0", &want), 1);
	ck_assert_mem_eq(&c.net, &want, sizeof(want));

	c = rule("127.0.0.1");
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &want), 1);
	ck_assert_mem_eq(&c.net, &want, sizeof(want));

	c = rule("::1/128");
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert_mem_eq(&c.net, &in6addr_loopback, sizeof(want));

	c = rule("::1");
	ck_assert_uint_eq(c.prefix, 128);

	c = rule("::/0");
	ck_assert_uint_eq(c.prefix, 0);
	ck_assert_mem_eq(&c.net, &in6addr_any, sizeof(want));

	c = rule("0.0.0.0/0");
	ck_assert_uint_eq(c.prefix, 96);
	ck_assert(IN6_IS_ADDR_V4MAPPED(&c.net));

	c = rule("2001:db8::/32");
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::", &want), 1);
	ck_assert_mem_eq(&c.net, &want, sizeof(want));

	c = rule("10.0.0.0/08");
	ck_assert_uint_eq(c.prefix, 96 + 8);
	c = rule("192.0.2.0/32");
	ck_assert_uint_eq(c.prefix, 128);
	c = rule("2001:db8::/128");
	ck_assert_uint_eq(c.prefix, 128);
	/* Written in IPv6 form, a v4-mapped rule is an IPv4 rule. */
	c = rule("::ffff:10.0.0.0/104");
	ck_assert_uint_eq(c.prefix, 104);
	ck_assert(IN6_IS_ADDR_V4MAPPED(&c.net));
	/* The longest text an address can have (45 characters) still fits. */
	c = rule("0000:0000:0000:0000:0000:ffff:255.255.255.255");
	ck_assert_uint_eq(c.prefix, 128);
	c = rule("0000:0000:0000:0000:0000:ffff:255.255.255.255/128");
	ck_assert_uint_eq(c.prefix, 128);
}
END_TEST

START_TEST(test_cidr_parse_rejects)
{
	static const char *const bad[] = {
		"10.0.0.1/8",           /* host bits set */
		"11.0.0.0/7",
		"192.0.2.1/31",
		"2001:db8::1/64",
		"::1/127",
		"10.0.0.0/33",          /* prefix too long for IPv4 */
		"0.0.0.0/99",
		"::/129",               /* prefix too long for IPv6 */
		"::/200",
		"/8",
		"/",
		"10.0.0.0/",
		"10.0.0.0/08x",
		"10.0.0.0/8 ",
		"10.0.0.0/ 8",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/0008",
		"10.0.0.0/8/8",
		" 10.0.0.0/8",
		"10.0.0.0 /8",
		"",
		"garbage",
		"garbage/8",
		"10.0.0",
		"256.0.0.0/8",
		"10.0.0.0.0/8",
		"2001:db8:::/32",
		"example.com",
		"10.0.0.0/8\n",
	};
	struct cidr c;
	char longtext[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cidr_parse(bad[i], &c) == -1, "cidr_parse(\"%s\") accepted", bad[i]);

	/* Over-long host parts, with and without a prefix. */
	memset(longtext, '1', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	ck_assert_int_eq(cidr_parse(longtext, &c), -1);
	memcpy(longtext + sizeof(longtext) - 4, "/32", 4);
	ck_assert_int_eq(cidr_parse(longtext, &c), -1);
	/* 46 characters: one more than any address text. */
	ck_assert_int_eq(cidr_parse("00000:0000:0000:0000:0000:ffff:255.255.255.255", &c), -1);
	ck_assert_int_eq(cidr_parse("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/0", &c), -1);
}
END_TEST

START_TEST(test_cidr_match_v4_rules)
{
	ck_assert(matches("10.0.0.0/8", "10.1.2.3"));
	ck_assert(matches("10.0.0.0/8", "::ffff:10.255.255.255"));
	ck_assert(!matches("10.0.0.0/8", "11.0.0.0"));
	ck_assert(!matches("10.0.0.0/8", "::ffff:9.255.255.255"));
	/* An IPv4 rule never matches a native IPv6 address with the same low bits. */
	ck_assert(!matches("10.0.0.0/8", "::10.1.2.3"));
	ck_assert(!matches("10.0.0.0/8", "::a01:203"));
	ck_assert(matches("127.0.0.1", "127.0.0.1"));
	ck_assert(matches("127.0.0.1", "::ffff:127.0.0.1"));
	ck_assert(!matches("127.0.0.1", "127.0.0.2"));
	ck_assert(!matches("127.0.0.1", "::1"));
}
END_TEST

START_TEST(test_cidr_match_boundaries)
{
	/* /0 */
	ck_assert(matches("0.0.0.0/0", "0.0.0.0"));
	ck_assert(matches("0.0.0.0/0", "255.255.255.255"));
	ck_assert(matches("0.0.0.0/0", "::ffff:1.2.3.4"));
	ck_assert(!matches("0.0.0.0/0", "::1"));
	ck_assert(!matches("0.0.0.0/0", "2001:db8::1"));
	ck_assert(matches("::/0", "::1"));
	ck_assert(matches("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(matches("::/0", "1.2.3.4"));
	/* /1 */
	ck_assert(matches("128.0.0.0/1", "128.0.0.0"));
	ck_assert(matches("128.0.0.0/1", "255.255.255.255"));
	ck_assert(!matches("128.0.0.0/1", "127.255.255.255"));
	ck_assert(matches("0.0.0.0/1", "127.255.255.255"));
	ck_assert(!matches("0.0.0.0/1", "128.0.0.0"));
	ck_assert(matches("8000::/1", "ffff::"));
	ck_assert(!matches("8000::/1", "7fff:ffff::"));
	ck_assert(matches("::/1", "7fff:ffff::"));
	/* /31 and /32 */
	ck_assert(matches("192.0.2.0/31", "192.0.2.0"));
	ck_assert(matches("192.0.2.0/31", "192.0.2.1"));
	ck_assert(!matches("192.0.2.0/31", "192.0.2.2"));
	ck_assert(!matches("192.0.2.0/31", "192.0.1.255"));
	ck_assert(matches("192.0.2.7/32", "192.0.2.7"));
	ck_assert(!matches("192.0.2.7/32", "192.0.2.6"));
	ck_assert(!matches("192.0.2.6/32", "192.0.2.7"));
	/* /32, /33 and /127, /128 on IPv6 */
	ck_assert(matches("2001:db8::/32", "2001:db8:ffff:ffff::1"));
	ck_assert(!matches("2001:db8::/32", "2001:db9::"));
	ck_assert(matches("2001:db8::/33", "2001:db8:7fff::"));
	ck_assert(!matches("2001:db8::/33", "2001:db8:8000::"));
	ck_assert(matches("2001:db8::/127", "2001:db8::"));
	ck_assert(matches("2001:db8::/127", "2001:db8::1"));
	ck_assert(!matches("2001:db8::/127", "2001:db8::2"));
	ck_assert(matches("2001:db8::1/128", "2001:db8::1"));
	ck_assert(!matches("2001:db8::1/128", "2001:db8::"));
	ck_assert(matches("::1/128", "::1"));
	ck_assert(!matches("::1/128", "::"));
	/* A non-byte boundary in the middle of an address. */
	ck_assert(matches("172.16.0.0/12", "172.31.255.255"));
	ck_assert(!matches("172.16.0.0/12", "172.32.0.0"));
	ck_assert(!matches("172.16.0.0/12", "172.15.255.255"));
}
END_TEST

START_TEST(test_cidr_list_match)
{
	struct cidr items[3];
	struct cidr_list list = { items, 0 };
	struct in6_addr a;

	a = peer("10.1.2.3");
	ck_assert(!cidr_list_match(&list, &a));         /* empty list: nothing */

	items[0] = rule("192.168.0.0/16");
	items[1] = rule("10.0.0.0/8");
	items[2] = rule("::1/128");
	list.count = 3;
	ck_assert(cidr_list_match(&list, &a));
	a = peer("::ffff:10.9.9.9");
	ck_assert(cidr_list_match(&list, &a));
	a = peer("192.168.44.1");
	ck_assert(cidr_list_match(&list, &a));
	a = peer("::1");
	ck_assert(cidr_list_match(&list, &a));
	a = peer("127.0.0.1");
	ck_assert(!cidr_list_match(&list, &a));
	a = peer("2001:db8::1");
	ck_assert(!cidr_list_match(&list, &a));
	/* Only the first count items are rules. */
	list.count = 2;
	a = peer("::1");
	ck_assert(!cidr_list_match(&list, &a));
}
END_TEST

START_TEST(test_addr_format)
{
	char buf[ADDR_TEXT_MAX];
	struct in6_addr a;

	a = peer("192.0.2.7");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.7");
	a = peer("::ffff:203.0.113.255");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "203.0.113.255");
	a = peer("::1");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "::1");
	a = peer("::");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "::");
	a = peer("2001:0db8:0000:0000:0000:0000:0000:0001");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2001:db8::1");
	a = peer("fe80::1:2:3:4");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fe80::1:2:3:4");
	a = peer("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* Too small a buffer gives a placeholder, not a truncated address. */
	a = peer("192.0.2.7");
	addr_format(&a, buf, 4);
	ck_assert_str_eq(buf, "?");
}
END_TEST

START_TEST(test_cidr_format)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "127.0.0.1", "127.0.0.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "192.0.2.0/31", "192.0.2.0/31" },
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8" },
		{ "::1", "::1/128" },
		{ "::/0", "::/0" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:0db8:0000::/48", "2001:db8::/48" },
		{ "8000::/1", "8000::/1" },
	};
	char buf[ADDR_TEXT_MAX + 8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c = rule(cases[i].in), again;

		cidr_format(&c, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].out);
		/* What is printed parses back to the same rule. */
		again = rule(buf);
		ck_assert_uint_eq(again.prefix, c.prefix);
		ck_assert_mem_eq(&again.net, &c.net, sizeof(c.net));
	}
}
END_TEST

START_TEST(test_addr_prefix)
{
	static const struct {
		const char *addr;
		unsigned p4, p6;
		const char *out;
	} cases[] = {
		{ "2001:db8:7c::1234", 32, 64, "2001:db8:7c::/64" },
		{ "2001:db8:7c:1:ffff:ffff:ffff:ffff", 32, 64, "2001:db8:7c:1::/64" },
		{ "2001:db8::1", 32, 128, "2001:db8::1/128" },
		{ "2001:db8:ffff::1", 32, 33, "2001:db8:8000::/33" },
		{ "::ffff:192.0.2.77", 24, 1, "192.0.2.0/24" },    /* v4-mapped is IPv4 */
		{ "::ffff:192.0.2.77", 32, 64, "192.0.2.77/32" },
		{ "::ffff:192.0.2.77", 1, 64, "128.0.0.0/1" },
		{ "::1", 32, 64, "::/64" },
	};
	char buf[ADDR_TEXT_MAX + 8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct in6_addr a;
		struct cidr c;

		ck_assert_int_eq(inet_pton(AF_INET6, cases[i].addr, &a), 1);
		addr_prefix(&a, cases[i].p4, cases[i].p6, &c);
		cidr_format(&c, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].out);
		ck_assert(cidr_match(&c, &a));
	}
}
END_TEST

Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_addr_v4_mapped_equal);
	tcase_add_test(tc, test_addr_from_sockaddr_v6_and_other);
	tcase_add_test(tc, test_cidr_parse_accepts);
	tcase_add_test(tc, test_cidr_parse_rejects);
	tcase_add_test(tc, test_cidr_match_v4_rules);
	tcase_add_test(tc, test_cidr_match_boundaries);
	tcase_add_test(tc, test_cidr_list_match);
	tcase_add_test(tc, test_addr_format);
	tcase_add_test(tc, test_cidr_format);
	tcase_add_test(tc, test_addr_prefix);
	suite_add_tcase(s, tc);
	return s;
}
