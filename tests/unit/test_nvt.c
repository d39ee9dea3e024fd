/* SPDX-License-Identifier: ISC */
/* test_nvt.c - undoing a telnet client's encoding, whole and split at every byte. */
#include <check.h>
#include <string.h>

#include "unit.h"
#include "wire/nvt.h"

/* Decodes in (n bytes) split at every point, in place as the daemon does; each must give want. */
static void
expect_decoded(const char *in, size_t n, const char *want, size_t want_len)
{
	for (size_t cut = 0; cut <= n; cut++) {
		char buf[128];
		struct nvt nvt = { NVT_DATA };
		size_t a, b;

		ck_assert_uint_le(n + 1, sizeof(buf));
		memcpy(buf, in, cut);
		a = nvt_decode(&nvt, buf, buf, cut);
		/* The second read lands one byte after what the first gave. */
		memcpy(buf + a + 1, in + cut, n - cut);
		b = nvt_decode(&nvt, buf + a, buf + a + 1, n - cut);
		ck_assert_msg(a + b == want_len && memcmp(buf, want, want_len) == 0,
		    "cut at %zu: %zu bytes", cut, a + b);
	}
}
#define EXPECT_DECODED(in, want) expect_decoded(in, sizeof(in) - 1, want, sizeof(want) - 1)

START_TEST(test_nvt_decode)
{
	EXPECT_DECODED("plain", "plain");
	EXPECT_DECODED(NVT_SIGNATURE "2 5 - - x\r\n", "\x89TCPX\r\n\x1a" "2 5 - - x\n");
	EXPECT_DECODED("a\r\0b", "a\rb");
	EXPECT_DECODED("\r\n\r\n", "\n\n");
	EXPECT_DECODED("\xff\xff", "\xff");
	EXPECT_DECODED("a\xff\xfb\x01" "b", "ab");             /* IAC WILL ECHO */
	EXPECT_DECODED("a\xff\xfa\x18\x01\xff\xf0" "b", "ab");  /* IAC SB ... IAC SE */
	EXPECT_DECODED("a\xff\xfa\xff\xff\xff\xf0" "b", "ab");
	EXPECT_DECODED("a\xff\xf1" "b", "ab");                  /* IAC NOP */
	/* Not what a client sends, but nothing is invented or lost. */
	EXPECT_DECODED("a\rb", "a\rb");
	EXPECT_DECODED("\r\r\n", "\r\n");
	EXPECT_DECODED("\r\xff\xff", "\r\xff");
}
END_TEST

START_TEST(test_nvt_signature_prefix)
{
	ck_assert(nvt_signature_prefix("\x89TCPX\r", 6));
	ck_assert(nvt_signature_prefix(NVT_SIGNATURE, NVT_SIGNATURE_LEN));
	ck_assert(nvt_signature_prefix(NVT_SIGNATURE "2 5", NVT_SIGNATURE_LEN + 3));
	ck_assert(!nvt_signature_prefix("\x89TCPX\r\n\x1a", 8));
	ck_assert(!nvt_signature_prefix("\x89TCPX\r\0\n", 8));
}
END_TEST

Suite *
nvt_suite(void)
{
	Suite *s = suite_create("nvt");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, test_nvt_decode);
	tcase_add_test(tc, test_nvt_signature_prefix);
	suite_add_tcase(s, tc);
	return s;
}
