/* SPDX-License-Identifier: ISC */
/*
 * test_receipt.c - the exact "OK ..." and "ERR ..." lines and their short-buffer
 * behaviour; receipt_parse() of both forms, every refusal, and round trips;
 * the CONTINUE line of a resumable upload.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "wire/receipt.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
static const unsigned char abc_digest[SHA256_LEN] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

#define ABC_OK "OK 3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad " \
	"20261125T083012Z_127.0.0.1_000042.bin\n"

START_TEST(test_receipt_ok_exact)
{
	char buf[RECEIPT_MAX];
	size_t n;

	n = receipt_ok(buf, sizeof(buf), 3, abc_digest, "20261125T083012Z_127.0.0.1_000042.bin");
	ck_assert_str_eq(buf, ABC_OK);
	ck_assert_uint_eq(n, strlen(ABC_OK));
}
END_TEST

START_TEST(test_receipt_ok_digest_bytes)
{
	unsigned char digest[SHA256_LEN];
	char buf[RECEIPT_MAX];
	size_t n;

	/* Every nibble value, to catch case or ordering mistakes in the hex. */
	for (size_t i = 0; i < SHA256_LEN; i++)
		digest[i] = (unsigned char)(i * 8 + (i & 7));
	digest[0] = 0x00;
	digest[SHA256_LEN - 1] = 0xff;
	n = receipt_ok(buf, sizeof(buf), UINT64_MAX, digest, "x");
	ck_assert_str_eq(buf, "OK 18446744073709551615 sha256:"
	    "0009121b242d363f4049525b646d767f8089929ba4adb6bfc0c9d2dbe4edf6ff x\n");
	ck_assert_uint_eq(n, strlen(buf));

	memset(digest, 0, sizeof(digest));
	n = receipt_ok(buf, sizeof(buf), 0, digest, "empty.bin");
	ck_assert_str_eq(buf, "OK 0 sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000000 empty.bin\n");
	ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

START_TEST(test_receipt_ok_too_small)
{
	char buf[RECEIPT_MAX];
	size_t need = strlen(ABC_OK);

	/* The line and its NUL fit exactly. */
	ck_assert_uint_eq(receipt_ok(buf, need + 1, 3, abc_digest,
	    "20261125T083012Z_127.0.0.1_000042.bin"), need);
	ck_assert_str_eq(buf, ABC_OK);
	/* One byte short: no line, and no overrun. */
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(receipt_ok(buf, need, 3, abc_digest,
	    "20261125T083012Z_127.0.0.1_000042.bin"), 0);
	ck_assert_int_eq(buf[need], 'x');
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(receipt_ok(buf, 10, 3, abc_digest, "a"), 0);
	ck_assert_int_eq(buf[10], 'x');
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(receipt_ok(buf, 0, 3, abc_digest, "a"), 0);
	ck_assert_int_eq(buf[0], 'x');
}
END_TEST

START_TEST(test_receipt_err_exact)
{
	char buf[RECEIPT_MAX];
	size_t n;

	n = receipt_err(buf, sizeof(buf), 503, "busy");
	ck_assert_str_eq(buf, "ERR 503 busy\n");
	ck_assert_uint_eq(n, strlen("ERR 503 busy\n"));
	n = receipt_err(buf, sizeof(buf), 413, "file too large (limit 1G)");
	ck_assert_str_eq(buf, "ERR 413 file too large (limit 1G)\n");
	ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

START_TEST(test_receipt_err_too_small)
{
	char buf[32];

	ck_assert_uint_eq(receipt_err(buf, 14, 503, "busy"), 13);
	ck_assert_str_eq(buf, "ERR 503 busy\n");
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(receipt_err(buf, 13, 503, "busy"), 0);
	ck_assert_int_eq(buf[13], 'x');
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(receipt_err(buf, 0, 503, "busy"), 0);
	ck_assert_int_eq(buf[0], 'x');
}
END_TEST

#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* receipt_parse of len bytes must succeed; returns the parsed struct. */
static struct receipt
parse_ok(const char *line, size_t len, int at)
{
	struct receipt r;

	memset(&r, 0xa5, sizeof(r));
	ck_assert_msg(receipt_parse(line, len, &r) == 0, "line %d: refused: \"%.*s\"", at,
	    (int)len, line);
	return r;
}

static void
parse_bad(const char *line, size_t len, int at)
{
	struct receipt r;

	ck_assert_msg(receipt_parse(line, len, &r) == -1, "line %d: accepted: \"%.*s\"", at,
	    (int)len, line);
}

#define PARSE_OK(line) parse_ok(line, sizeof(line) - 1, __LINE__)
#define PARSE_BAD(line) parse_bad(line, sizeof(line) - 1, __LINE__)

START_TEST(test_receipt_parse_ok_lines)
{
	struct receipt r;

	r = PARSE_OK(ABC_OK);
	ck_assert_int_eq(r.ok, 1);
	ck_assert_uint_eq(r.bytes, 3);
	ck_assert_str_eq(r.sha256, ABC_HEX);
	ck_assert_str_eq(r.text, "20261125T083012Z_127.0.0.1_000042.bin");
	ck_assert_int_eq(r.code, 0);
	/* Without the newline. */
	r = parse_ok(ABC_OK, strlen(ABC_OK) - 1, __LINE__);
	ck_assert_int_eq(r.ok, 1);
	ck_assert_uint_eq(r.bytes, 3);
	ck_assert_str_eq(r.sha256, ABC_HEX);
	ck_assert_str_eq(r.text, "20261125T083012Z_127.0.0.1_000042.bin");
	/* Names with spaces, leading, inner and trailing. */
	r = PARSE_OK("OK 0 sha256:" ABC_HEX " my file  name.txt \n");
	ck_assert_str_eq(r.text, "my file  name.txt ");
	ck_assert_uint_eq(r.bytes, 0);
	r = PARSE_OK("OK 12 sha256:" ABC_HEX "  x");
	ck_assert_str_eq(r.text, " x");
	/* UTF-8 names, and the largest size the parser reads. */
	r = PARSE_OK("OK 18446744073709551609 sha256:" ABC_HEX " caf\xc3\xa9\n");
	ck_assert_uint_eq(r.bytes, 18446744073709551609ull);
	ck_assert_str_eq(r.text, "caf\xc3\xa9");
	r = PARSE_OK("OK 007 sha256:" ABC_HEX " x\n");
	ck_assert_uint_eq(r.bytes, 7);
}
END_TEST

START_TEST(test_receipt_parse_err_lines)
{
	struct receipt r;

	r = PARSE_OK("ERR 503 busy\n");
	ck_assert_int_eq(r.ok, 0);
	ck_assert_int_eq(r.code, 503);
	ck_assert_str_eq(r.text, "busy");
	ck_assert_uint_eq(r.bytes, 0);
	ck_assert_str_eq(r.sha256, "");
	r = PARSE_OK("ERR 413 file too large (limit 1G)");
	ck_assert_int_eq(r.code, 413);
	ck_assert_str_eq(r.text, "file too large (limit 1G)");
	r = PARSE_OK("ERR 100 x\n");
	ck_assert_int_eq(r.code, 100);
	r = PARSE_OK("ERR 999 x\n");
	ck_assert_int_eq(r.code, 999);
	r = PARSE_OK("ERR 500  spaced \n");
	ck_assert_str_eq(r.text, " spaced ");
}
END_TEST

START_TEST(test_receipt_parse_refused)
{
	/* Wrong prefix, or none. */
	PARSE_BAD("");
	PARSE_BAD("\n");
	PARSE_BAD("ok 3 sha256:" ABC_HEX " x\n");
	PARSE_BAD("Ok 3 sha256:" ABC_HEX " x\n");
	PARSE_BAD(" OK 3 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK3 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK\n");
	PARSE_BAD("OK");
	PARSE_BAD("err 503 busy\n");
	PARSE_BAD("ERROR 503 busy\n");
	PARSE_BAD("ERR503 busy\n");
	PARSE_BAD("ERR\n");
	PARSE_BAD("HTTP/1.1 400 Bad Request\r\n");
	/* Missing fields. */
	PARSE_BAD("OK \n");
	PARSE_BAD("OK 3\n");
	PARSE_BAD("OK 3 \n");
	PARSE_BAD("OK sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK  3 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK 3 " ABC_HEX " x\n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX "\n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX);
	PARSE_BAD("OK 3 sha256:" ABC_HEX " \n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX " ");
	PARSE_BAD("OK 3 sha256:" ABC_HEX "x\n");
	PARSE_BAD("OK 3 sha256: " ABC_HEX " x\n");
	PARSE_BAD("OK 3 SHA256:" ABC_HEX " x\n");
	PARSE_BAD("OK 3 sha512:" ABC_HEX " x\n");
	PARSE_BAD("OK -3 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK 3x sha256:" ABC_HEX " x\n");
	PARSE_BAD("ERR \n");
	PARSE_BAD("ERR 503\n");
	PARSE_BAD("ERR 503");
	PARSE_BAD("ERR 503 \n");
	PARSE_BAD("ERR 503 ");
	PARSE_BAD("ERR busy\n");
	PARSE_BAD("ERR  503 busy\n");
	PARSE_BAD("ERR 503busy\n");
	PARSE_BAD("ERR -503 busy\n");
	/* Digest: lowercase hex, exactly 64 digits. */
	PARSE_BAD("OK 3 sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD x\n");
	PARSE_BAD("OK 3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aD x\n");
	PARSE_BAD("OK 3 sha256:Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad x\n");
	PARSE_BAD("OK 3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015g x\n");
	PARSE_BAD("OK 3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a x\n");
	PARSE_BAD("OK 3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0 x\n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX ABC_HEX " x\n");
	/* Bytes beyond 64 bits. */
	PARSE_BAD("OK 18446744073709551616 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK 99999999999999999999 sha256:" ABC_HEX " x\n");
	PARSE_BAD("OK 184467440737095516150 sha256:" ABC_HEX " x\n");
	/* Codes are three digits, 100..999. */
	PARSE_BAD("ERR 0 x\n");
	PARSE_BAD("ERR 99 x\n");
	PARSE_BAD("ERR 099 x\n");
	PARSE_BAD("ERR 1000 x\n");
	PARSE_BAD("ERR 4294967799 x\n");
	PARSE_BAD("ERR 99999999999999999999999 x\n");
	/* Embedded newlines: one line only. */
	PARSE_BAD("ERR 500 a\nb\n");
	PARSE_BAD("ERR 500 a\nb");
	PARSE_BAD("ERR 500 a\n\n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX " a\nb\n");
	PARSE_BAD("OK 3 sha256:" ABC_HEX " \n\n");
}
END_TEST

START_TEST(test_receipt_parse_long_text)
{
	char line[RECEIPT_MAX * 2];
	struct receipt r;
	size_t n;

	/* The text field holds RECEIPT_MAX - 1 bytes and its NUL. */
	n = (size_t)snprintf(line, sizeof(line), "ERR 500 ");
	memset(line + n, 'r', RECEIPT_MAX - 1);
	line[n + RECEIPT_MAX - 1] = '\n';
	r = parse_ok(line, n + RECEIPT_MAX, __LINE__);
	ck_assert_uint_eq(strlen(r.text), RECEIPT_MAX - 1);
	r = parse_ok(line, n + RECEIPT_MAX - 1, __LINE__);
	ck_assert_uint_eq(strlen(r.text), RECEIPT_MAX - 1);
	memset(line + n, 'r', RECEIPT_MAX);
	line[n + RECEIPT_MAX] = '\n';
	parse_bad(line, n + RECEIPT_MAX + 1, __LINE__);
	parse_bad(line, n + RECEIPT_MAX, __LINE__);

	memset(line, 'n', sizeof(line));
	n = (size_t)snprintf(line, sizeof(line), "OK 1 sha256:" ABC_HEX " ");
	memset(line + n, 'n', RECEIPT_MAX - 1);
	r = parse_ok(line, n + RECEIPT_MAX - 1, __LINE__);
	ck_assert_uint_eq(strlen(r.text), RECEIPT_MAX - 1);
	memset(line + n, 'n', RECEIPT_MAX);
	parse_bad(line, n + RECEIPT_MAX, __LINE__);
	parse_bad(line, n + RECEIPT_MAX + 100, __LINE__);
}
END_TEST

START_TEST(test_receipt_parse_round_trip)
{
	static const char *const names[] = {
		"x", "20261125T083012Z_127.0.0.1_000042.bin", "my file.txt", "caf\xc3\xa9",
	};
	static const uint64_t sizes[] = { 0, 1, 3, 1ull << 40, 18446744073709551609ull };
	static const struct {
		int code;
		const char *reason;
	} errs[] = {
		{ 100, "x" }, { 408, "idle timeout" }, { 413, "file too large (limit 1G)" },
		{ 503, "busy" }, { 507, "insufficient storage" }, { 999, "last" },
	};
	unsigned char digest[SHA256_LEN];
	char buf[RECEIPT_MAX], hex[SHA256_LEN * 2 + 1];
	struct receipt r;
	size_t n;

	for (size_t i = 0; i < SHA256_LEN; i++)
		digest[i] = (unsigned char)(0xf0 - 7 * i);
	for (size_t i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			n = receipt_ok(buf, sizeof(buf), sizes[j], digest, names[i]);
			ck_assert_uint_ne(n, 0);
			r = parse_ok(buf, n, __LINE__);
			ck_assert_int_eq(r.ok, 1);
			ck_assert_uint_eq(r.bytes, sizes[j]);
			ck_assert_str_eq(r.sha256, hex);
			ck_assert_str_eq(r.text, names[i]);
		}
	}
	n = receipt_ok(buf, sizeof(buf), 3, abc_digest, "20261125T083012Z_127.0.0.1_000042.bin");
	r = parse_ok(buf, n, __LINE__);
	ck_assert_str_eq(r.sha256, ABC_HEX);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		n = receipt_err(buf, sizeof(buf), errs[i].code, errs[i].reason);
		ck_assert_uint_ne(n, 0);
		r = parse_ok(buf, n, __LINE__);
		ck_assert_int_eq(r.ok, 0);
		ck_assert_int_eq(r.code, errs[i].code);
		ck_assert_str_eq(r.text, errs[i].reason);
	}
}
END_TEST

/* Found by fuzz_receipt and review: control bytes in the text, the largest byte count. */
START_TEST(test_receipt_parse_regressions)
{
	static const unsigned char digest[SHA256_LEN] = { 0 };
	char line[RECEIPT_MAX];
	struct receipt r;
	size_t len;

	ck_assert_int_eq(receipt_parse("ERR 408 i\0out\n", 14, &r), -1);
	ck_assert_int_eq(receipt_parse("ERR 408 \033[2Jclear\n", 19, &r), -1);
	ck_assert_int_eq(receipt_parse("OK 1 sha256:0000000000000000000000000000000000000000000000000000000000000000 a\x7f" "b\n",
	    81, &r), -1);
	len = receipt_ok(line, sizeof(line), UINT64_MAX, digest, "max");
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(receipt_parse(line, len, &r), 0);
	ck_assert(r.bytes == UINT64_MAX);
	ck_assert_str_eq(r.text, "max");
}
END_TEST

/* What tcpx prints of a receipt's text: every character a name may not hold is escaped. */
START_TEST(test_receipt_text_shown)
{
	static const struct {
		const char *text, *shown;
	} cases[] = {
		{ "report.pdf", "report.pdf" },
		{ "caf\xc3\xa9 \xe2\x98\x83.txt", "caf\xc3\xa9 \xe2\x98\x83.txt" },
		{ "bad header: size too large", "bad header: size too large" },
		{ "a\xc2\x9b" "2Jb", "a\\u009b2Jb" },                       /* C1 CSI */
		{ "line\xc2\x85", "line\\u0085" },                           /* NEL */
		{ "evil\xe2\x80\xaegpj.exe", "evil\\u202egpj.exe" },       /* RLO */
		{ "\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069" },      /* isolates */
		{ "a\xc2\xa0" "b", "a\\u00a0b" },
		{ "\xef\xbb\xbfx", "\\ufeffx" },
		{ "tag\xf3\xa0\x80\x81", "tag\\U000e0001" },
		{ "raw\x9b" "byte", "raw\\x9bbyte" },                       /* 8-bit CSI */
		{ "cut\xe2\x80", "cut\\xe2\\x80" },
		{ "\x1b[2J\x7f", "\\x1b[2J\\x7f" },
		{ "", "" },
	};
	char out[RECEIPT_SHOWN_MAX], text[RECEIPT_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		receipt_text_shown(cases[i].text, out, sizeof(out));
		ck_assert_msg(strcmp(out, cases[i].shown) == 0, "case %zu: \"%s\"", i, out);
	}
	/* The longest text of the worst bytes fits RECEIPT_SHOWN_MAX. */
	memset(text, 0x9b, sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	receipt_text_shown(text, out, sizeof(out));
	ck_assert_uint_eq(strlen(out), 4 * (sizeof(text) - 1));
	/* Too small a buffer cuts between characters, never inside one. */
	receipt_text_shown("ab\xc2\x85", out, 6);
	ck_assert_str_eq(out, "ab");
	receipt_text_shown("ab\xc3\xa9", out, 4);
	ck_assert_str_eq(out, "ab");
	receipt_text_shown("ab\xc3\xa9", out, 5);
	ck_assert_str_eq(out, "ab\xc3\xa9");
	receipt_text_shown("abc", out, 1);
	ck_assert_str_eq(out, "");
}
END_TEST

/* CONTINUE <offset>: what a resumable header is answered, and every shape refused. */
START_TEST(test_receipt_continue)
{
	static const struct {
		const char *line;
		uint64_t offset;
	} good[] = {
		{ "CONTINUE 0\n", 0 },
		{ "CONTINUE 0", 0 },
		{ "CONTINUE 1\n", 1 },
		{ "CONTINUE 1048576\n", 1048576 },
		{ "CONTINUE 18446744073709551615\n", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "\n", "CONTINUE", "CONTINUE\n", "CONTINUE \n", "CONTINUE  1\n", "CONTINUE 01\n",
		"CONTINUE 00\n", "CONTINUE +1\n", "CONTINUE -1\n", "CONTINUE 1 \n", "CONTINUE 1x\n",
		"CONTINUE 1\r\n", "CONTINUE 1\n\n", "CONTINUE 18446744073709551616\n",
		"CONTINUE 99999999999999999999\n", "continue 1\n", "CONTINUE\t1\n", " CONTINUE 1\n",
		"CONTINUEX1\n", "OK 1\n", "ERR 503 busy: max_partials\n",
	};
	char buf[32];
	uint64_t off;
	size_t len;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		off = 12345;
		ck_assert_msg(receipt_parse_continue(good[i].line, strlen(good[i].line), &off) == 0,
		    "refused: %s", good[i].line);
		ck_assert_msg(off == good[i].offset, "%s: %llu", good[i].line, (unsigned long long)off);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		off = 12345;
		ck_assert_msg(receipt_parse_continue(bad[i], strlen(bad[i]), &off) == -1,
		    "accepted: \"%s\"", bad[i]);
		ck_assert(off == 12345);
	}
	/* Only len bytes count: a NUL inside, or the line cut short. */
	ck_assert_int_eq(receipt_parse_continue("CONTINUE 1\0", 11, &off), -1);
	ck_assert_int_eq(receipt_parse_continue("CONTINUE 12\n", 10, &off), 0);
	ck_assert(off == 1);
	/* The formatter writes what the parser reads, and says when buf is too small. */
	len = receipt_continue(buf, sizeof(buf), UINT64_MAX);
	ck_assert_uint_eq(len, strlen("CONTINUE 18446744073709551615\n"));
	ck_assert_str_eq(buf, "CONTINUE 18446744073709551615\n");
	ck_assert_int_eq(receipt_parse_continue(buf, len, &off), 0);
	ck_assert(off == UINT64_MAX);
	ck_assert_uint_eq(receipt_continue(buf, 12, 7), 11);
	ck_assert_uint_eq(receipt_continue(buf, 11, 7), 0);
}
END_TEST

Suite *
receipt_suite(void)
{
	Suite *s = suite_create("receipt");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_receipt_ok_exact);
	tcase_add_test(tc, test_receipt_ok_digest_bytes);
	tcase_add_test(tc, test_receipt_ok_too_small);
	tcase_add_test(tc, test_receipt_err_exact);
	tcase_add_test(tc, test_receipt_err_too_small);
	tcase_add_test(tc, test_receipt_parse_ok_lines);
	tcase_add_test(tc, test_receipt_parse_err_lines);
	tcase_add_test(tc, test_receipt_parse_refused);
	tcase_add_test(tc, test_receipt_parse_long_text);
	tcase_add_test(tc, test_receipt_parse_round_trip);
	tcase_add_test(tc, test_receipt_parse_regressions);
	tcase_add_test(tc, test_receipt_text_shown);
	tcase_add_test(tc, test_receipt_continue);
	suite_add_tcase(s, tc);
	return s;
}
