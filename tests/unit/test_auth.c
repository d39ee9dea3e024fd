/* SPDX-License-Identifier: ISC */
/*
 * test_auth.c - the AUTH line: token alphabet and length bounds, every
 * AUTH_BAD path, prefixes that need more bytes, header lines that are not
 * AUTH lines, and auth_line_format() round trips.
 */
#include <string.h>

#include "unit.h"
#include "wire/auth.h"

#define TOK16 "abcdefghijklmnop"

static enum auth_status
parse(const char *text, const char **token, size_t *tlen, size_t *llen, const char **why)
{
	return auth_parse(text, strlen(text), token, tlen, llen, why);
}

START_TEST(test_auth_token_valid)
{
	char t[AUTH_TOKEN_MAX + 2];

	ck_assert(auth_token_valid(TOK16, 16));
	ck_assert(!auth_token_valid(TOK16, 15));
	ck_assert(auth_token_valid("AZaz09-._~+/=AZa", 16));
	ck_assert(!auth_token_valid("abcdefghijklmno p", 17));
	ck_assert(!auth_token_valid("abcdefghijklmno\n", 16));
	ck_assert(!auth_token_valid("abcdefghijklmno\"", 16));
	ck_assert(!auth_token_valid("abcdefghijklmn\xc3\xa9", 16));
	memset(t, 'x', sizeof(t));
	ck_assert(auth_token_valid(t, AUTH_TOKEN_MAX));
	ck_assert(!auth_token_valid(t, AUTH_TOKEN_MAX + 1));
}
END_TEST

START_TEST(test_auth_parse_ok)
{
	const char *token, *why;
	size_t tlen, llen;

	ck_assert_int_eq(parse("AUTH " TOK16 "\n1 3 x\n", &token, &tlen, &llen, &why), AUTH_OK);
	ck_assert_uint_eq(tlen, 16);
	ck_assert_uint_eq(llen, 22);
	ck_assert(memcmp(token, TOK16, 16) == 0);
}
END_TEST

START_TEST(test_auth_parse_none_and_more)
{
	const char *token, *why;
	size_t tlen, llen;

	ck_assert_int_eq(parse("1 3 x\n", &token, &tlen, &llen, &why), AUTH_NONE);
	ck_assert_int_eq(parse("2 3 - - x\n", &token, &tlen, &llen, &why), AUTH_NONE);
	ck_assert_int_eq(parse("AUTX", &token, &tlen, &llen, &why), AUTH_NONE);
	ck_assert_int_eq(parse("auth " TOK16 "\n", &token, &tlen, &llen, &why), AUTH_NONE);
	ck_assert_int_eq(parse("", &token, &tlen, &llen, &why), AUTH_NEED_MORE);
	ck_assert_int_eq(parse("AU", &token, &tlen, &llen, &why), AUTH_NEED_MORE);
	ck_assert_int_eq(parse("AUTH ", &token, &tlen, &llen, &why), AUTH_NEED_MORE);
	ck_assert_int_eq(parse("AUTH " TOK16, &token, &tlen, &llen, &why), AUTH_NEED_MORE);
}
END_TEST

START_TEST(test_auth_parse_bad)
{
	char line[AUTH_LINE_MAX + 8];
	const char *token, *why;
	size_t tlen, llen;

	ck_assert_int_eq(parse("AUTH short\n", &token, &tlen, &llen, &why), AUTH_BAD);
	ck_assert_str_eq(why, "AUTH token shorter than 16 bytes");
	ck_assert_int_eq(parse("AUTH \n", &token, &tlen, &llen, &why), AUTH_BAD);
	ck_assert_int_eq(parse("AUTH abcdefghijklmnop\r\n", &token, &tlen, &llen, &why), AUTH_BAD);
	ck_assert_int_eq(parse("AUTH  abcdefghijklmnop\n", &token, &tlen, &llen, &why), AUTH_BAD);
	ck_assert_int_eq(parse("AUTH abc def", &token, &tlen, &llen, &why), AUTH_BAD);
	ck_assert_str_eq(why, "AUTH token holds a character other than A-Z a-z 0-9 - . _ ~ + / =");
	/* 257 token bytes: refused without waiting for an LF. */
	memcpy(line, "AUTH ", 5);
	memset(line + 5, 'y', AUTH_TOKEN_MAX + 1);
	ck_assert_int_eq(auth_parse(line, 5 + AUTH_TOKEN_MAX, &token, &tlen, &llen, &why),
	    AUTH_NEED_MORE);
	ck_assert_int_eq(auth_parse(line, 5 + AUTH_TOKEN_MAX + 1, &token, &tlen, &llen, &why),
	    AUTH_BAD);
	ck_assert_str_eq(why, "AUTH token longer than 256 bytes");
	line[5 + AUTH_TOKEN_MAX] = '\n';
	ck_assert_int_eq(auth_parse(line, 5 + AUTH_TOKEN_MAX + 1, &token, &tlen, &llen, &why),
	    AUTH_OK);
	ck_assert_uint_eq(llen, AUTH_LINE_MAX);
}
END_TEST

START_TEST(test_auth_line_format)
{
	char buf[AUTH_LINE_MAX + 1];
	const char *token, *why;
	size_t tlen, llen;

	ck_assert_uint_eq(auth_line_format(buf, sizeof(buf), TOK16, 16), 22);
	ck_assert_str_eq(buf, "AUTH " TOK16 "\n");
	ck_assert_int_eq(parse(buf, &token, &tlen, &llen, &why), AUTH_OK);
	ck_assert_uint_eq(auth_line_format(buf, 22, TOK16, 16), 0);
	ck_assert_uint_eq(auth_line_format(buf, sizeof(buf), "short", 5), 0);
	ck_assert_uint_eq(auth_line_format(buf, sizeof(buf), "abcdefghijklmno\n", 16), 0);
}
END_TEST

Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_auth_token_valid);
	tcase_add_test(tc, test_auth_parse_ok);
	tcase_add_test(tc, test_auth_parse_none_and_more);
	tcase_add_test(tc, test_auth_parse_bad);
	tcase_add_test(tc, test_auth_line_format);
	suite_add_tcase(s, tc);
	return s;
}
