/* SPDX-License-Identifier: ISC */
/*
 * fuzz_size_cidr.c - the two value parsers of tcpxd.conf, size_parse()
 * and cidr_parse(), on the same text.  Whatever they accept must print
 * (size_format, cidr_format) as text that parses back to the same value,
 * and a network must contain its own address.
 */
#include <string.h>

#include "fuzz.h"
#include "wire/addr.h"
#include "wire/size.h"

static void
check_size(const char *text)
{
	uint64_t v = 0, v2 = 0;
	char buf[32];

	if (size_parse(text, &v) < 0)
		return;
	size_format(v, buf, sizeof(buf));
	CHECK(size_parse(buf, &v2) == 0);
	CHECK(v2 == v);
}

static void
check_cidr(const char *text)
{
	struct cidr c, c2;
	char buf[ADDR_TEXT_MAX + 8];

	if (cidr_parse(text, &c) < 0)
		return;
	CHECK(c.prefix <= 128);
	CHECK(cidr_match(&c, &c.net));
	cidr_format(&c, buf, sizeof(buf));
	CHECK(cidr_parse(buf, &c2) == 0);
	CHECK(c2.prefix == c.prefix);
	CHECK(memcmp(&c2.net, &c.net, sizeof(c.net)) == 0);
	/* A rule in a list matches like the rule alone. */
	{
		struct cidr_list l = { .items = &c, .count = 1 };

		CHECK(cidr_list_match(&l, &c.net));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);

	check_size(text);
	check_cidr(text);
	free(text);
	return 0;
}
