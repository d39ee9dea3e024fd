/* SPDX-License-Identifier: ISC */
/*
 * test_frame.c - the framed upload header: frame_parse() on raw data,
 * partial and complete headers, every rejection with its exact reason;
 * frame_name_sanitise() name rules and UTF-8 checks; frame_header_format()
 * round trips and short buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "unit.h"

#define SIG FRAME_SIGNATURE

/* Header text up to 1 KiB, built in a static buffer: sig + text, of explicit length. */
static char hbuf[1024];

static size_t
header(const char *text, size_t len)
{
	memcpy(hbuf, SIG, FRAME_SIGNATURE_LEN);
	memcpy(hbuf + FRAME_SIGNATURE_LEN, text, len);
	return FRAME_SIGNATURE_LEN + len;
}

static enum frame_status
parse(const char *buf, size_t len, struct frame_header *h, const char **why)
{
	memset(h, 0xa5, sizeof(*h));
	*why = NULL;
	return frame_parse(buf, len, h, why);
}

static void
expect_ok(const char *buf, size_t len, uint64_t size, const char *name, size_t length, int at)
{
	struct frame_header h;
	const char *why;
	enum frame_status st = parse(buf, len, &h, &why);

	ck_assert_msg(st == FRAME_OK, "line %d: status %d (%s)", at, st, why ? why : "-");
	ck_assert_msg(h.size == size, "line %d: size %llu", at, (unsigned long long)h.size);
	ck_assert_msg(strcmp(h.name, name) == 0, "line %d: name \"%s\"", at, h.name);
	ck_assert_msg(h.length == length, "line %d: length %zu, want %zu", at, h.length, length);
}

#define EXPECT_OK(text, size, name) do { \
	size_t n_ = header(text, sizeof(text) - 1); \
	expect_ok(hbuf, n_, size, name, n_, __LINE__); \
} while (0)

static void
expect_status(const char *buf, size_t len, enum frame_status want, const char *want_why, int at)
{
	struct frame_header h;
	const char *why;
	enum frame_status st = parse(buf, len, &h, &why);

	ck_assert_msg(st == want, "line %d: status %d, want %d (%s)", at, st, want,
	    why ? why : "-");
	if (want == FRAME_BAD) {
		ck_assert_msg(why != NULL, "line %d: no reason", at);
		ck_assert_msg(strcmp(why, want_why) == 0, "line %d: why \"%s\", want \"%s\"", at,
		    why, want_why);
	}
}

/* text is what follows the signature; sizeof keeps embedded NULs. */
#define EXPECT_BAD(text, why) \
	expect_status(hbuf, header(text, sizeof(text) - 1), FRAME_BAD, why, __LINE__)
#define EXPECT_NEED_MORE(text) \
	expect_status(hbuf, header(text, sizeof(text) - 1), FRAME_NEED_MORE, NULL, __LINE__)

START_TEST(test_frame_raw)
{
	static const char *const raw[] = {
		"GET / HTTP/1.1\r\n", "hello\n", "\x88TCPX\r\n\x1a", "\x89tcpx\r\n\x1a" "1 5 x\n",
		"\x89TCPX\n\x1a", "\x89TCPX\r\r\n\x1a", "\x89TCPX\r\n\x1b" "1 5 x\n", "\0",
	};
	char buf[16];

	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		size_t len = strlen(raw[i]) ? strlen(raw[i]) : 1;

		expect_status(raw[i], len, FRAME_RAW, NULL, __LINE__);
	}
	/* A prefix of every length 1..8 whose last byte differs is raw at once. */
	for (size_t len = 1; len <= FRAME_SIGNATURE_LEN; len++) {
		memcpy(buf, SIG, len);
		buf[len - 1] ^= 0x20;
		expect_status(buf, len, FRAME_RAW, NULL, (int)len);
		buf[len - 1] = 'z';
		expect_status(buf, len, FRAME_RAW, NULL, (int)len);
		/* Raw data following the difference changes nothing. */
		memcpy(buf + len, "1 5 x\n", 6);
		expect_status(buf, len + 6, FRAME_RAW, NULL, (int)len);
	}
	/* A byte differing early is raw even when later bytes match. */
	memcpy(buf, SIG, FRAME_SIGNATURE_LEN);
	buf[0] = 'X';
	for (size_t len = 1; len <= FRAME_SIGNATURE_LEN; len++)
		expect_status(buf, len, FRAME_RAW, NULL, (int)len);
}
END_TEST

START_TEST(test_frame_need_more)
{
	/* Every proper prefix of the signature, the empty one included. */
	for (size_t len = 0; len < FRAME_SIGNATURE_LEN; len++)
		expect_status(SIG, len, FRAME_NEED_MORE, NULL, (int)len);
	/* The signature, then a partial header line. */
	EXPECT_NEED_MORE("");
	EXPECT_NEED_MORE("1");
	EXPECT_NEED_MORE("1 ");
	EXPECT_NEED_MORE("1 5");
	EXPECT_NEED_MORE("1 5 ");
	EXPECT_NEED_MORE("1 5 name.bin");
	EXPECT_NEED_MORE("1 5 name.bin\r");
	/* Even a line already invalid waits for its newline. */
	EXPECT_NEED_MORE("2 x");
	/* 511 bytes without a newline: one more could still end it. */
	memset(hbuf + FRAME_SIGNATURE_LEN, 'a', sizeof(hbuf) - FRAME_SIGNATURE_LEN);
	memcpy(hbuf, SIG "1 5 ", FRAME_SIGNATURE_LEN + 4);
	expect_status(hbuf, FRAME_HEADER_MAX - 1, FRAME_NEED_MORE, NULL, __LINE__);
}
END_TEST

START_TEST(test_frame_ok)
{
	char name[FRAME_NAME_MAX + 1];
	size_t n;

	EXPECT_OK("1 5 name.bin\n", 5, "name.bin");
	EXPECT_OK("1 0 empty\n", 0, "empty");
	EXPECT_OK("1 18446744073709551615 max\n", UINT64_MAX, "max");
	EXPECT_OK("1 1234567890 a b  c\n", 1234567890, "a b  c");
	EXPECT_OK("1 7 caf\xc3\xa9.txt\n", 7, "caf\xc3\xa9.txt");
	EXPECT_OK("1 7 \xe6\x97\xa5\xe6\x9c\xac\n", 7, "\xe6\x97\xa5\xe6\x9c\xac");
	EXPECT_OK("1 7 \xf0\x9f\x98\x80\n", 7, "\xf0\x9f\x98\x80");
	/* 255-byte name: the longest. */
	memset(name, 'n', FRAME_NAME_MAX);
	name[FRAME_NAME_MAX] = '\0';
	n = (size_t)snprintf(hbuf, sizeof(hbuf), SIG "1 9 %s\n", name);
	expect_ok(hbuf, n, 9, name, n, __LINE__);
	/* The name is the last path component. */
	EXPECT_OK("1 5 ../../etc/passwd\n", 5, "passwd");
	EXPECT_OK("1 5 /abs/path.bin\n", 5, "path.bin");
	/* Data after the header is not part of it. */
	n = header("1 3 x\nabc", 9);
	expect_ok(hbuf, n, 3, "x", FRAME_SIGNATURE_LEN + 6, __LINE__);
	n = header("1 3 x\n\x89TCPX\r\n\x1a" "1 3 y\n", 20);
	expect_ok(hbuf, n, 3, "x", FRAME_SIGNATURE_LEN + 6, __LINE__);
	/* The newline exactly at byte 512: the longest header there is. */
	memcpy(hbuf, SIG "1 5 ", FRAME_SIGNATURE_LEN + 4);
	for (size_t i = FRAME_SIGNATURE_LEN + 4; i < FRAME_HEADER_MAX - 2; i += 2)
		memcpy(hbuf + i, "d/", 2);
	memcpy(hbuf + FRAME_HEADER_MAX - 2, "x\n", 2);
	expect_ok(hbuf, FRAME_HEADER_MAX, 5, "x", FRAME_HEADER_MAX, __LINE__);
	/* And with more bytes after it. */
	memcpy(hbuf + FRAME_HEADER_MAX, "data", 4);
	expect_ok(hbuf, FRAME_HEADER_MAX + 4, 5, "x", FRAME_HEADER_MAX, __LINE__);
}
END_TEST

START_TEST(test_frame_bad_version)
{
	EXPECT_BAD("\n", "unsupported header version");
	EXPECT_BAD("1\n", "unsupported header version");
	EXPECT_BAD("2 5 x\n", "unsupported header version");
	EXPECT_BAD("0 5 x\n", "unsupported header version");
	EXPECT_BAD("10 5 x\n", "unsupported header version");
	EXPECT_BAD("1\t5 x\n", "unsupported header version");
	EXPECT_BAD(" 1 5 x\n", "unsupported header version");
	EXPECT_BAD("1x5 x\n", "unsupported header version");
	/* The signature's own CR LF, then a second CR LF line: still version 1 only. */
	EXPECT_BAD("\r\n", "unsupported header version");
}
END_TEST

START_TEST(test_frame_bad_size)
{
	EXPECT_BAD("1 \n", "size is not a decimal number");
	EXPECT_BAD("1  x\n", "size is not a decimal number");
	EXPECT_BAD("1 x\n", "size is not a decimal number");
	EXPECT_BAD("1 +5 x\n", "size is not a decimal number");
	EXPECT_BAD("1 -5 x\n", "size is not a decimal number");
	EXPECT_BAD("1 05 x\n", "size is not a decimal number");
	EXPECT_BAD("1 00 x\n", "size is not a decimal number");
	EXPECT_BAD("1 0000000000000000000000005 x\n", "size is not a decimal number");
	EXPECT_BAD("1 18446744073709551616 x\n", "size too large");
	EXPECT_BAD("1 18446744073709551620 x\n", "size too large");
	EXPECT_BAD("1 99999999999999999999 x\n", "size too large");
	EXPECT_BAD("1 184467440737095516150 x\n", "size too large");
	EXPECT_BAD("1 100000000000000000000000000000000000000 x\n", "size too large");
}
END_TEST

START_TEST(test_frame_bad_name)
{
	char name[FRAME_NAME_MAX + 2];
	size_t n;

	EXPECT_BAD("1 5\n", "no name after the size");
	EXPECT_BAD("1 5x\n", "no name after the size");
	EXPECT_BAD("1 5\tx\n", "no name after the size");
	EXPECT_BAD("1 5\r\n", "no name after the size");
	EXPECT_BAD("1 5 \n", "empty name");
	EXPECT_BAD("1 5 dir/\n", "empty name");
	EXPECT_BAD("1 5 /\n", "empty name");
	EXPECT_BAD("1 5 .\n", "name starts with a dot");
	EXPECT_BAD("1 5 ..\n", "name starts with a dot");
	EXPECT_BAD("1 5 a/..\n", "name starts with a dot");
	EXPECT_BAD("1 5 .hidden\n", "name starts with a dot");
	EXPECT_BAD("1 5 a\rb\n", "control character in name");
	EXPECT_BAD("1 5 x\r\n", "control character in name");
	EXPECT_BAD("1 5 a\tb\n", "control character in name");
	EXPECT_BAD("1 5 a\x7f\n", "control character in name");
	EXPECT_BAD("1 5 a\0b\n", "control character in name");
	EXPECT_BAD("1 5 \0\n", "control character in name");
	EXPECT_BAD("1 5 \xff\n", "name is not valid UTF-8");
	EXPECT_BAD("1 5 a\xc3\n", "name is not valid UTF-8");
	EXPECT_BAD("1 5 \xc0\xaf\n", "name is not valid UTF-8");
	EXPECT_BAD("1 5 \xed\xa0\x80\n", "name is not valid UTF-8");
	/* 256 bytes. */
	memset(name, 'n', FRAME_NAME_MAX + 1);
	name[FRAME_NAME_MAX + 1] = '\0';
	n = (size_t)snprintf(hbuf, sizeof(hbuf), SIG "1 9 %s\n", name);
	expect_status(hbuf, n, FRAME_BAD, "name longer than 255 bytes", __LINE__);
}
END_TEST

START_TEST(test_frame_bad_too_long)
{
	/* Exactly 512 bytes and no newline. */
	memset(hbuf, 'a', sizeof(hbuf));
	memcpy(hbuf, SIG "1 5 ", FRAME_SIGNATURE_LEN + 4);
	expect_status(hbuf, FRAME_HEADER_MAX, FRAME_BAD, "header longer than 512 bytes", __LINE__);
	/* More than 512, no newline. */
	expect_status(hbuf, FRAME_HEADER_MAX + 1, FRAME_BAD, "header longer than 512 bytes",
	    __LINE__);
	expect_status(hbuf, sizeof(hbuf), FRAME_BAD, "header longer than 512 bytes", __LINE__);
	/* A newline at byte 513 comes too late, even for an otherwise valid header. */
	for (size_t i = FRAME_SIGNATURE_LEN + 4; i < FRAME_HEADER_MAX - 1; i += 2)
		memcpy(hbuf + i, "d/", 2);
	memcpy(hbuf + FRAME_HEADER_MAX - 1, "x\n", 2);
	expect_status(hbuf, FRAME_HEADER_MAX + 1, FRAME_BAD, "header longer than 512 bytes",
	    __LINE__);
	expect_status(hbuf, FRAME_HEADER_MAX + 10, FRAME_BAD, "header longer than 512 bytes",
	    __LINE__);
	/* Before that, it is only incomplete. */
	expect_status(hbuf, FRAME_HEADER_MAX - 1, FRAME_NEED_MORE, NULL, __LINE__);
	/* Only the signature, then 504 bytes of junk without a newline. */
	memset(hbuf + FRAME_SIGNATURE_LEN, 0, FRAME_HEADER_MAX);
	expect_status(hbuf, FRAME_HEADER_MAX, FRAME_BAD, "header longer than 512 bytes", __LINE__);
}
END_TEST

/* frame_name_sanitise on len bytes of name: accepted as want. */
static void
name_ok(const char *name, size_t len, const char *want, int at)
{
	char out[FRAME_NAME_MAX + 1];
	const char *why = NULL;

	memset(out, 'x', sizeof(out));
	ck_assert_msg(frame_name_sanitise(name, len, out, &why) == 0, "line %d: refused: %s", at,
	    why ? why : "-");
	ck_assert_msg(strcmp(out, want) == 0, "line %d: \"%s\", want \"%s\"", at, out, want);
}

static void
name_bad(const char *name, size_t len, const char *want_why, int at)
{
	char out[FRAME_NAME_MAX + 1];
	const char *why = NULL;

	ck_assert_msg(frame_name_sanitise(name, len, out, &why) == -1, "line %d: accepted", at);
	ck_assert_msg(why != NULL && strcmp(why, want_why) == 0, "line %d: why \"%s\", want \"%s\"",
	    at, why ? why : "(null)", want_why);
}

#define NAME_OK(name, want) name_ok(name, sizeof(name) - 1, want, __LINE__)
#define NAME_BAD(name, why) name_bad(name, sizeof(name) - 1, why, __LINE__)

START_TEST(test_frame_name_basename)
{
	char path[600];

	NAME_OK("plain.bin", "plain.bin");
	NAME_OK("../x", "x");
	NAME_OK("a/b/c", "c");
	NAME_OK("/abs", "abs");
	NAME_OK("//x", "x");
	NAME_OK("./x", "x");
	NAME_OK("a/../b", "b");
	NAME_OK("x.", "x.");
	NAME_OK("x..y", "x..y");
	NAME_OK("with space", "with space");
	NAME_OK("back\\slash", "back\\slash");
	/* Only len bytes count. */
	name_ok("abc/def", 2, "ab", __LINE__);
	name_ok("abc/def", 5, "d", __LINE__);
	/* A long directory part does not count against the limit. */
	memset(path, 'd', sizeof(path));
	memcpy(path + sizeof(path) - 3, "/x", 3);
	name_ok(path, strlen(path), "x", __LINE__);
}
END_TEST

START_TEST(test_frame_name_refused)
{
	NAME_BAD("", "empty name");
	NAME_BAD("/", "empty name");
	NAME_BAD("dir/", "empty name");
	NAME_BAD("a/b/", "empty name");
	NAME_BAD(".", "name starts with a dot");
	NAME_BAD("..", "name starts with a dot");
	NAME_BAD("...", "name starts with a dot");
	NAME_BAD(".hidden", "name starts with a dot");
	NAME_BAD("dir/.hidden", "name starts with a dot");
	NAME_BAD("x/..", "name starts with a dot");
	name_bad("abc/def", 4, "empty name", __LINE__);
}
END_TEST

START_TEST(test_frame_name_control)
{
	char name[4];

	for (unsigned c = 0; c < 0x20; c++) {
		/* As the first, a middle and the last byte. */
		name[0] = (char)c;
		name_bad(name, 1, "control character in name", (int)c);
		memcpy(name, "a?b", 3);
		name[1] = (char)c;
		name_bad(name, 3, "control character in name", (int)c);
		memcpy(name, "ab?", 3);
		name[2] = (char)c;
		name_bad(name, 3, "control character in name", (int)c);
	}
	NAME_BAD("\x7f", "control character in name");
	NAME_BAD("a\x7f" "b", "control character in name");
	NAME_BAD("ab\x7f", "control character in name");
	/* 0x20 and 0x7e are the printable ends. */
	NAME_OK(" ", " ");
	NAME_OK("~", "~");
	/* C1 controls are valid UTF-8 (U+0080..U+009F) and pass. */
	NAME_OK("\xc2\x80", "\xc2\x80");
}
END_TEST

START_TEST(test_frame_name_utf8)
{
	char name[FRAME_NAME_MAX + 2];

	NAME_OK("caf\xc3\xa9", "caf\xc3\xa9");
	NAME_OK("\xc2\xa0", "\xc2\xa0");                          /* U+00A0 */
	NAME_OK("\xdf\xbf", "\xdf\xbf");                          /* U+07FF */
	NAME_OK("\xe0\xa0\x80", "\xe0\xa0\x80");                  /* U+0800 */
	NAME_OK("\xed\x9f\xbf", "\xed\x9f\xbf");                  /* U+D7FF */
	NAME_OK("\xee\x80\x80", "\xee\x80\x80");                  /* U+E000 */
	NAME_OK("\xef\xbf\xbf", "\xef\xbf\xbf");                  /* U+FFFF */
	NAME_OK("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");          /* U+10000 */
	NAME_OK("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");          /* U+1F600 */
	NAME_OK("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");          /* U+10FFFF */

	NAME_BAD("\x80", "name is not valid UTF-8");              /* lone continuation */
	NAME_BAD("a\xbf" "b", "name is not valid UTF-8");
	NAME_BAD("\xc3", "name is not valid UTF-8");              /* truncated */
	NAME_BAD("\xc3" "a", "name is not valid UTF-8");
	NAME_BAD("\xe2\x82", "name is not valid UTF-8");
	NAME_BAD("\xf0\x9f\x98", "name is not valid UTF-8");
	NAME_BAD("\xf0\x9f\x98" "a", "name is not valid UTF-8");
	NAME_BAD("\xc0\xaf", "name is not valid UTF-8");          /* overlong '/' */
	NAME_BAD("\xc1\xbf", "name is not valid UTF-8");
	NAME_BAD("\xe0\x80\xaf", "name is not valid UTF-8");
	NAME_BAD("\xe0\x9f\xbf", "name is not valid UTF-8");
	NAME_BAD("\xf0\x80\x80\xaf", "name is not valid UTF-8");
	NAME_BAD("\xf0\x8f\xbf\xbf", "name is not valid UTF-8");
	NAME_BAD("\xed\xa0\x80", "name is not valid UTF-8");      /* surrogates */
	NAME_BAD("\xed\xbf\xbf", "name is not valid UTF-8");
	NAME_BAD("\xf4\x90\x80\x80", "name is not valid UTF-8");  /* beyond U+10FFFF */
	NAME_BAD("\xf5\x80\x80\x80", "name is not valid UTF-8");
	NAME_BAD("\xf8\x88\x80\x80\x80", "name is not valid UTF-8");
	NAME_BAD("\xfe", "name is not valid UTF-8");
	NAME_BAD("\xff", "name is not valid UTF-8");
	NAME_BAD("ok\xff", "name is not valid UTF-8");
	/* A multi-byte character cut by len is truncated. */
	name_bad("\xc3\xa9", 1, "name is not valid UTF-8", __LINE__);

	/* Length: 255 bytes accepted, 256 refused, counted in bytes not characters. */
	memset(name, 'n', sizeof(name));
	name[FRAME_NAME_MAX] = '\0';
	name_ok(name, FRAME_NAME_MAX, name, __LINE__);
	name_bad(name, FRAME_NAME_MAX + 1, "name longer than 255 bytes", __LINE__);
	memcpy(name + FRAME_NAME_MAX - 4, "\xf0\x9f\x98\x80", 4);
	name_ok(name, FRAME_NAME_MAX, name, __LINE__);
	name_bad(name, FRAME_NAME_MAX + 1, "name longer than 255 bytes", __LINE__);
	/* The length is checked before anything else. */
	memset(name, '.', sizeof(name));
	name_bad(name, FRAME_NAME_MAX + 1, "name longer than 255 bytes", __LINE__);
}
END_TEST

START_TEST(test_frame_format_round_trip)
{
	static const struct {
		uint64_t size;
		const char *name;
	} cases[] = {
		{ 0, "empty" }, { 1, "a" }, { 5, "name.bin" }, { 1234567890, "a b  c" },
		{ UINT64_MAX, "max" }, { 42, "caf\xc3\xa9" }, { 7, "\xf0\x9f\x98\x80" },
		{ UINT64_MAX - 1, "x." },
	};
	char buf[FRAME_HEADER_MAX + 16], name[FRAME_NAME_MAX + 1];
	struct frame_header h;
	const char *why;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = frame_header_format(buf, sizeof(buf), cases[i].size, cases[i].name);
		ck_assert_uint_ne(n, 0);
		ck_assert_uint_eq(n, strlen(buf));
		ck_assert_int_eq(memcmp(buf, SIG, FRAME_SIGNATURE_LEN), 0);
		ck_assert_int_eq(parse(buf, n, &h, &why), FRAME_OK);
		ck_assert_uint_eq(h.size, cases[i].size);
		ck_assert_str_eq(h.name, cases[i].name);
		ck_assert_uint_eq(h.length, n);
	}
	n = frame_header_format(buf, sizeof(buf), 5, "name.bin");
	ck_assert_str_eq(buf, SIG "1 5 name.bin\n");

	/* The longest name and size. */
	memset(name, 'n', FRAME_NAME_MAX);
	name[FRAME_NAME_MAX] = '\0';
	n = frame_header_format(buf, sizeof(buf), UINT64_MAX, name);
	ck_assert_uint_eq(n, FRAME_SIGNATURE_LEN + 2 + 20 + 1 + FRAME_NAME_MAX + 1);
	ck_assert_int_eq(parse(buf, n, &h, &why), FRAME_OK);
	ck_assert_uint_eq(h.size, UINT64_MAX);
	ck_assert_str_eq(h.name, name);
}
END_TEST

START_TEST(test_frame_format_too_small)
{
	char buf[FRAME_HEADER_MAX * 2], big[FRAME_HEADER_MAX];
	size_t need = strlen(SIG "1 5 name.bin\n");

	ck_assert_uint_eq(frame_header_format(buf, need + 1, 5, "name.bin"), need);
	ck_assert_str_eq(buf, SIG "1 5 name.bin\n");
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(frame_header_format(buf, need, 5, "name.bin"), 0);
	ck_assert_int_eq(buf[need], 'x');
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(frame_header_format(buf, 1, 5, "name.bin"), 0);
	ck_assert_int_eq(buf[1], 'x');
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(frame_header_format(buf, 0, 5, "name.bin"), 0);
	ck_assert_int_eq(buf[0], 'x');
	/* A header over 512 bytes is refused even when the buffer is large enough. */
	memset(big, 'n', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ck_assert_uint_eq(frame_header_format(buf, sizeof(buf), 5, big), 0);
}
END_TEST

Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *parse_tc = tcase_create("parse");
	TCase *name_tc = tcase_create("name");
	TCase *format_tc = tcase_create("format");

	tcase_add_test(parse_tc, test_frame_raw);
	tcase_add_test(parse_tc, test_frame_need_more);
	tcase_add_test(parse_tc, test_frame_ok);
	tcase_add_test(parse_tc, test_frame_bad_version);
	tcase_add_test(parse_tc, test_frame_bad_size);
	tcase_add_test(parse_tc, test_frame_bad_name);
	tcase_add_test(parse_tc, test_frame_bad_too_long);
	suite_add_tcase(s, parse_tc);
	tcase_add_test(name_tc, test_frame_name_basename);
	tcase_add_test(name_tc, test_frame_name_refused);
	tcase_add_test(name_tc, test_frame_name_control);
	tcase_add_test(name_tc, test_frame_name_utf8);
	suite_add_tcase(s, name_tc);
	tcase_add_test(format_tc, test_frame_format_round_trip);
	tcase_add_test(format_tc, test_frame_format_too_small);
	suite_add_tcase(s, format_tc);
	return s;
}
