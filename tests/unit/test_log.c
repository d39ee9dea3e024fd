/* SPDX-License-Identifier: ISC */
/* test_log.c - log_value(), log_text(): the escaping that keeps log lines unforgeable. */
#include <string.h>

#include "daemon/log.h"
#include "unit.h"

START_TEST(test_log_value_bare_and_quoted)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "20261125T083012Z_127.0.0.1_000042.bin", "20261125T083012Z_127.0.0.1_000042.bin" },
		{ "2001:db8::/64", "2001:db8::/64" },
		{ "", "\"\"" },
		{ "x result=ok peer=10.0.0.1", "\"x result=ok peer=10.0.0.1\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "tab\there\nnl", "\"tab\\x09here\\x0anl\"" },
		{ "caf\xc3\xa9\x7f", "\"caf\\xc3\\xa9\\x7f\"" },
		{ "CN=x,O=y", "\"CN=x,O=y\"" },
	};
	char buf[LOG_VALUE_MAX(64)];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(log_value(buf, sizeof(buf), cases[i].in), cases[i].out);
	ck_assert_str_eq(log_valuen(buf, sizeof(buf), "a\0b", 3), "\"a\\x00b\"");
}
END_TEST

START_TEST(test_log_value_cut_stays_quoted)
{
	char buf[64];

	/* Too long to stay bare: cut, and quoted so the cut is visible. */
	ck_assert_str_eq(log_value(buf, 6, "abcdefgh"), "\"abc\"");
	/* Never half an escape. */
	ck_assert_str_eq(log_value(buf, 8, "ab\x01"), "\"ab\"");
	ck_assert_str_eq(log_value(buf, 9, "ab\x01"), "\"ab\\x01\"");
	ck_assert_str_eq(log_value(buf, 5, "a\"b"), "\"a\"");
	ck_assert_str_eq(log_value(buf, 2, "a b"), "");
	ck_assert_str_eq(log_value(buf, 3, "a b"), "\"\"");
	ck_assert_str_eq(log_value(buf, 4, "abc"), "abc");
}
END_TEST

/* log_text(): operator strings inside a message never read as a field. */
START_TEST(test_log_text_no_field)
{
	char buf[64];

	ck_assert_str_eq(log_text(buf, sizeof(buf), "/tmp/a b=c"), "/tmp/a b\\x3dc");
	ck_assert_str_eq(log_text(buf, sizeof(buf), "k=v x_1.2=3"), "k\\x3dv x_1.2\\x3d3");
	/* Not a key: "= " alone, after a digit, inside a path, after a bracket. */
	ck_assert_str_eq(log_text(buf, sizeof(buf), "max = 5 9=1 /a=b (N=x"),
	    "max = 5 9=1 /a=b (N=x");
	ck_assert_str_eq(log_text(buf, sizeof(buf), "a\\b\n\xe9"), "a\\\\b\\x0a\\xe9");
	/* Cut, never inside an escape. */
	ck_assert_str_eq(log_text(buf, 4, "ab\x01"), "ab");
	ck_assert_str_eq(log_text(buf, 7, "ab\x01"), "ab\\x01");
}
END_TEST

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_log_value_bare_and_quoted);
	tcase_add_test(tc, test_log_value_cut_stays_quoted);
	tcase_add_test(tc, test_log_text_no_field);
	suite_add_tcase(s, tc);
	return s;
}
