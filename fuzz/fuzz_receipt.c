/* SPDX-License-Identifier: ISC */
/*
 * fuzz_receipt.c - receipt_parse() on any answer a server might send tcpx.
 * A line it accepts must be one receipt_ok() or receipt_err() could have
 * written: formatting the parsed fields again and parsing that gives the
 * same struct receipt, byte for byte.  What tcpx prints of its text
 * (receipt_text_shown()) holds no character a name may not hold.  The
 * same bytes as a CONTINUE line (receipt_parse_continue()): one it accepts
 * is exactly what receipt_continue() writes for its offset, newline or not.
 */
#include <string.h>

#include "fuzz.h"
#include "wire/frame.h"
#include "wire/receipt.h"

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	CHECK(!"sha256 is not lowercase hex");
	return 0;
}

static void
check_continue(const char *line, size_t size)
{
	char again[64];
	uint64_t offset;
	size_t n;

	if (receipt_parse_continue(line, size, &offset) < 0)
		return;
	n = receipt_continue(again, sizeof(again), offset);
	CHECK(n > 0 && again[n - 1] == '\n');
	CHECK(size == n || size == n - 1);
	CHECK(memcmp(line, again, size) == 0);
}

static void
check_shown(const char *text)
{
	char shown[RECEIPT_SHOWN_MAX];
	size_t len, step;
	unsigned cp;

	receipt_text_shown(text, shown, sizeof(shown));
	len = strlen(shown);
	CHECK(len >= strlen(text) && len <= 4 * strlen(text));
	for (size_t i = 0; i < len; i += step)
		CHECK(frame_name_char(shown + i, len - i, &step, &cp) == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = calloc(1, size ? size : 1), again[RECEIPT_MAX * 2];
	unsigned char digest[SHA256_LEN];
	struct receipt r, r2;
	size_t n, text_len;

	if (line == NULL)
		abort();
	if (size > 0)
		memcpy(line, data, size);
	check_continue(line, size);
	if (receipt_parse(line, size, &r) < 0) {
		free(line);
		return 0;
	}
	text_len = strlen(r.text);
	CHECK(text_len >= 1 && text_len < sizeof(r.text));
	CHECK(strchr(r.text, '\n') == NULL);
	if (r.ok) {
		CHECK(r.code == 0);
		CHECK(strlen(r.sha256) == SHA256_LEN * 2);
		for (size_t i = 0; i < SHA256_LEN; i++)
			digest[i] = (unsigned char)(unhex(r.sha256[2 * i]) << 4 | unhex(r.sha256[2 * i + 1]));
		n = receipt_ok(again, sizeof(again), r.bytes, digest, r.text);
	} else {
		CHECK(r.code >= 100 && r.code <= 999);
		CHECK(r.bytes == 0 && r.sha256[0] == '\0');
		n = receipt_err(again, sizeof(again), r.code, r.text);
	}
	CHECK(n > 0 && again[n - 1] == '\n');
	CHECK(receipt_parse(again, n, &r2) == 0);
	CHECK(memcmp(&r, &r2, sizeof(r)) == 0);
	/* Without its newline, the same line. */
	CHECK(receipt_parse(again, n - 1, &r2) == 0);
	CHECK(memcmp(&r, &r2, sizeof(r)) == 0);
	check_shown(r.text);
	free(line);
	return 0;
}
