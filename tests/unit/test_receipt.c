/* test_receipt.c - the exact "OK ..." and "ERR ..." lines and their short-buffer behaviour. */
#include <stdint.h>
#include <string.h>

#include "receipt.h"
#include "unit.h"

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
	suite_add_tcase(s, tc);
	return s;
}
