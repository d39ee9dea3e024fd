/* receipt.c - formats the receipt lines of DESIGN §4; pure, so unit-tested. */
#include <stdio.h>

#include "receipt.h"

size_t
receipt_ok(char *buf, size_t len, uint64_t bytes, const unsigned char digest[SHA256_LEN],
    const char *name)
{
	static const char hex[] = "0123456789abcdef";
	char digest_hex[SHA256_LEN * 2 + 1];
	int n;

	for (size_t i = 0; i < SHA256_LEN; i++) {
		digest_hex[2 * i] = hex[digest[i] >> 4];
		digest_hex[2 * i + 1] = hex[digest[i] & 0xf];
	}
	digest_hex[SHA256_LEN * 2] = '\0';
	n = snprintf(buf, len, "OK %llu sha256:%s %s\n", (unsigned long long)bytes, digest_hex, name);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

size_t
receipt_err(char *buf, size_t len, int code, const char *reason)
{
	int n = snprintf(buf, len, "ERR %d %s\n", code, reason);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}
