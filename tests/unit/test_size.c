/* SPDX-License-Identifier: ISC */
/* test_size.c - size_parse() and size_format(): suffixes, bounds, malformed text, round trips. */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "wire/size.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define TIB ((uint64_t)1 << 40)

static uint64_t
parse_ok(const char *text)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_msg(size_parse(text, &v) == 0, "size_parse(\"%s\") failed", text);
	return v;
}

static void
parse_bad(const char *text)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_msg(size_parse(text, &v) == -1, "size_parse(\"%s\") accepted", text);
	ck_assert_msg(v == 0xdeadbeef, "size_parse(\"%s\") wrote its output on failure", text);
}

START_TEST(test_size_plain)
{
	ck_assert_uint_eq(parse_ok("0"), 0);
	ck_assert_uint_eq(parse_ok("1"), 1);
	ck_assert_uint_eq(parse_ok("4096"), 4096);
	ck_assert_uint_eq(parse_ok("007"), 7);
	ck_assert_uint_eq(parse_ok("18446744073709551615"), UINT64_MAX);
}
END_TEST

START_TEST(test_size_suffixes)
{
	ck_assert_uint_eq(parse_ok("1K"), KIB);
	ck_assert_uint_eq(parse_ok("1k"), KIB);
	ck_assert_uint_eq(parse_ok("64K"), 64 * KIB);
	ck_assert_uint_eq(parse_ok("3M"), 3 * MIB);
	ck_assert_uint_eq(parse_ok("3m"), 3 * MIB);
	ck_assert_uint_eq(parse_ok("5G"), 5 * GIB);
	ck_assert_uint_eq(parse_ok("5g"), 5 * GIB);
	ck_assert_uint_eq(parse_ok("7T"), 7 * TIB);
	ck_assert_uint_eq(parse_ok("7t"), 7 * TIB);
	ck_assert_uint_eq(parse_ok("0K"), 0);
	ck_assert_uint_eq(parse_ok("0T"), 0);
	/* The largest values each suffix can carry. */
	ck_assert_uint_eq(parse_ok("17179869183G"), (((uint64_t)1 << 34) - 1) << 30);
	ck_assert_uint_eq(parse_ok("16777215T"), (((uint64_t)1 << 24) - 1) << 40);
}
END_TEST

START_TEST(test_size_overflow)
{
	parse_bad("18446744073709551616");
	parse_bad("99999999999999999999");
	parse_bad("184467440737095516150");
	parse_bad("17179869184G");
	parse_bad("16777216T");
	parse_bad("18014398509481984K");
	parse_bad("18446744073709551615K");
}
END_TEST

START_TEST(test_size_malformed)
{
	parse_bad("");
	parse_bad("-1");
	parse_bad("+1");
	parse_bad("12KB");
	parse_bad("12Ki");
	parse_bad(" 1K");
	parse_bad("1K ");
	parse_bad("1 K");
	parse_bad("1.5M");
	parse_bad("K");
	parse_bad("1P");
	parse_bad("1B");
	parse_bad("0x10");
	parse_bad("abc");
}
END_TEST

START_TEST(test_size_format)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ 1000, "1000" },
		{ 1023, "1023" },
		{ 1024, "1K" },
		{ 1536, "1536" },
		{ 64 * 1024, "64K" },
		{ 1025 * 1024, "1025K" },
		{ 1024 * 1024, "1M" },
		{ 64ull << 20, "64M" },
		{ 1ull << 30, "1G" },
		{ 3ull << 40, "3T" },
		{ 1ull << 62, "4194304T" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		size_format(cases[i].bytes, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].text);
	}
	/* A short buffer is truncated, never overrun. */
	memset(buf, 'x', sizeof(buf));
	size_format(64 * 1024, buf, 3);
	ck_assert_str_eq(buf, "64");
	ck_assert_int_eq(buf[3], 'x');
}
END_TEST

START_TEST(test_size_round_trip)
{
	static const uint64_t values[] = {
		0, 1, 999, 1024, 4096, 65536, 65537, 1ull << 20, 3ull << 30, (1ull << 30) + 1024,
		5ull << 40, 1ull << 62, UINT64_MAX, UINT64_MAX - 1023,
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		size_format(values[i], buf, sizeof(buf));
		ck_assert_uint_eq(parse_ok(buf), values[i]);
	}
	for (uint64_t v = 0; v < 5000; v += 7) {
		size_format(v * 1024, buf, sizeof(buf));
		ck_assert_uint_eq(parse_ok(buf), v * 1024);
	}
}
END_TEST

START_TEST(test_duration_parse)
{
	static const struct { const char *text; uint64_t seconds; } ok[] = {
		{ "0", 0 }, { "300", 300 }, { "30s", 30 }, { "5m", 300 }, { "1h", 3600 },
		{ "30d", 2592000 }, { "18446744073709551615", UINT64_MAX },
		{ "213503982334601d", 213503982334601ULL * 86400 },
	};
	static const char *const malformed[] = { "", "s", "-1", " 1", "1 ", "1x", "1S", "1ms",
	    "1hh", "1.5h", "0x10", "1d2h" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0xdeadbeef;
		ck_assert_msg(duration_parse_checked(ok[i].text, &v) == 0, "\"%s\" refused", ok[i].text);
		ck_assert_uint_eq(v, ok[i].seconds);
	}
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		v = 0xdeadbeef;
		ck_assert_int_eq(duration_parse_checked(malformed[i], &v), SIZE_MALFORMED);
		ck_assert_uint_eq(v, 0xdeadbeef);
	}
	ck_assert_int_eq(duration_parse_checked("18446744073709551616", &v), SIZE_TOO_LARGE);
	ck_assert_int_eq(duration_parse_checked("213503982334602d", &v), SIZE_TOO_LARGE);
	ck_assert_int_eq(duration_parse_checked("18446744073709551615m", &v), SIZE_TOO_LARGE);
}
END_TEST

START_TEST(test_duration_format)
{
	static const struct { uint64_t seconds; const char *text; } cases[] = {
		{ 0, "0s" }, { 59, "59s" }, { 60, "1m" }, { 90, "90s" }, { 3600, "1h" },
		{ 5400, "90m" }, { 86400, "1d" }, { 2592000, "30d" }, { 90000, "25h" },
	};
	char buf[32];
	uint64_t back;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		duration_format(cases[i].seconds, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].text);
		ck_assert_int_eq(duration_parse_checked(buf, &back), 0);
		ck_assert_uint_eq(back, cases[i].seconds);
	}
}
END_TEST

Suite *
size_suite(void)
{
	Suite *s = suite_create("size");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_size_plain);
	tcase_add_test(tc, test_size_suffixes);
	tcase_add_test(tc, test_size_overflow);
	tcase_add_test(tc, test_size_malformed);
	tcase_add_test(tc, test_size_format);
	tcase_add_test(tc, test_size_round_trip);
	tcase_add_test(tc, test_duration_parse);
	tcase_add_test(tc, test_duration_format);
	suite_add_tcase(s, tc);
	return s;
}
