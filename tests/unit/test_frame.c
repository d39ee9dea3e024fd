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

#include "unit.h"
#include "wire/frame.h"

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
	if (want == FRAME_BAD || want == FRAME_BAD_NAME) {
		ck_assert_msg(why != NULL, "line %d: no reason", at);
		ck_assert_msg(strcmp(why, want_why) == 0, "line %d: why \"%s\", want \"%s\"", at,
		    why, want_why);
	}
}

/* text is what follows the signature; sizeof keeps embedded NULs. */
#define EXPECT_BAD(text, why) \
	expect_status(hbuf, header(text, sizeof(text) - 1), FRAME_BAD, why, __LINE__)
#define EXPECT_BAD_NAME(text, why) \
	expect_status(hbuf, header(text, sizeof(text) - 1), FRAME_BAD_NAME, why, __LINE__)
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
	EXPECT_BAD("3 5 x\n", "unsupported header version");
	EXPECT_BAD("0 5 x\n", "unsupported header version");
	EXPECT_BAD("10 5 x\n", "unsupported header version");
	EXPECT_BAD("1\t5 x\n", "unsupported header version");
	EXPECT_BAD(" 1 5 x\n", "unsupported header version");
	EXPECT_BAD("1x5 x\n", "unsupported header version");
	/* The signature's own CR LF, then a second CR LF line: still version 1 only. */
	EXPECT_BAD("\r\n", "unsupported header version");
}
END_TEST

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
expect_v2(const char *text, size_t len, uint64_t size, bool has_digest, const char *id,
    const char *name, int at)
{
	struct frame_header h;
	const char *why = NULL;
	enum frame_status st = parse(hbuf, header(text, len), &h, &why);

	ck_assert_msg(st == FRAME_OK, "line %d: status %d (%s)", at, st, why ? why : "-");
	ck_assert_msg(h.version == 2 && h.size == size && h.has_digest == has_digest,
	    "line %d: version %d size %llu digest %d", at, h.version, (unsigned long long)h.size,
	    h.has_digest);
	ck_assert_msg(strcmp(h.id, id) == 0, "line %d: id \"%s\"", at, h.id);
	ck_assert_msg(strcmp(h.name, name) == 0, "line %d: name \"%s\"", at, h.name);
	if (has_digest)
		ck_assert(h.digest[0] == 0x01 && h.digest[1] == 0x23 && h.digest[31] == 0xef);
}
#define EXPECT_V2(text, size, digest, id, name) \
	expect_v2(text, sizeof(text) - 1, size, digest, id, name, __LINE__)

START_TEST(test_frame_v2)
{
	EXPECT_V2("2 13 - - notes.txt\n", 13, false, "", "notes.txt");
	EXPECT_V2("2 0 sha256:" D64 " - a b\n", 0, true, "", "a b");
	EXPECT_V2("2 7 - abc_DEF-09 x\n", 7, false, "abc_DEF-09", "x");
	EXPECT_V2("2 7 sha256:" D64 " -- y x\n", 7, true, "--", "y x");
	EXPECT_V2("2 7 - " "0123456789012345678901234567890123456789012345678901234567890123" " x\n",
	    7, false, "0123456789012345678901234567890123456789012345678901234567890123", "x");
	/* A name after the fields may hold spaces and look like a field itself. */
	EXPECT_V2("2 1 - - sha256:x\n", 1, false, "", "sha256:x");
	EXPECT_BAD("2 13 -\n", "no name after the size");
	EXPECT_BAD("2 13 - -\n", "no name after the size");
	EXPECT_BAD("2 13 notes.txt\n", "no name after the size");
	EXPECT_BAD("2 13 x - y\n", "digest is not - or sha256:<64 lower-case hex digits>");
	EXPECT_BAD("2 13 sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
	    " - y\n", "digest is not - or sha256:<64 lower-case hex digits>");
	EXPECT_BAD("2 13 sha256:" D64 "0 - y\n", "digest is not - or sha256:<64 lower-case hex digits>");
	EXPECT_BAD("2 13 sha512:" D64 " - y\n", "digest is not - or sha256:<64 lower-case hex digits>");
	EXPECT_BAD("2 13  - - y\n", "digest is not - or sha256:<64 lower-case hex digits>");
	EXPECT_BAD("2 13 - a.b y\n", "upload id is not - or 1 to 64 of A-Z a-z 0-9 _ -");
	EXPECT_BAD_NAME("2 13 - - - \n", "name starts with a dash");
	EXPECT_BAD("2 13 -  y\n", "upload id is not - or 1 to 64 of A-Z a-z 0-9 _ -");
	EXPECT_BAD("2 13 - "
	    "01234567890123456789012345678901234567890123456789012345678901234 y\n",
	    "upload id is not - or 1 to 64 of A-Z a-z 0-9 _ -");
	EXPECT_BAD("2 05 - - y\n", "size is not a decimal number");
	EXPECT_BAD_NAME("2 5 - - .x\n", "name starts with a dot");
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
	EXPECT_BAD_NAME("1 5 \n", "empty name");
	EXPECT_BAD_NAME("1 5 dir/\n", "empty name");
	EXPECT_BAD_NAME("1 5 /\n", "empty name");
	EXPECT_BAD_NAME("1 5 .\n", "name starts with a dot");
	EXPECT_BAD_NAME("1 5 ..\n", "name starts with a dot");
	EXPECT_BAD_NAME("1 5 a/..\n", "name starts with a dot");
	EXPECT_BAD_NAME("1 5 .hidden\n", "name starts with a dot");
	EXPECT_BAD_NAME("1 5 a\rb\n", "control character in name");
	EXPECT_BAD_NAME("1 5 x\r\n", "control character in name");
	EXPECT_BAD_NAME("1 5 a\tb\n", "control character in name");
	EXPECT_BAD_NAME("1 5 a\x7f\n", "control character in name");
	EXPECT_BAD_NAME("1 5 a\0b\n", "control character in name");
	EXPECT_BAD_NAME("1 5 \0\n", "control character in name");
	EXPECT_BAD_NAME("1 5 \xff\n", "name is not valid UTF-8");
	EXPECT_BAD_NAME("1 5 a\xc3\n", "name is not valid UTF-8");
	EXPECT_BAD_NAME("1 5 \xc0\xaf\n", "name is not valid UTF-8");
	EXPECT_BAD_NAME("1 5 \xed\xa0\x80\n", "name is not valid UTF-8");
	/* Every kind of name rule failure is a bad name, not a bad header. */
	EXPECT_BAD_NAME("1 5 -rf\n", "name starts with a dash");
	EXPECT_BAD_NAME("1 5  \n", "name starts or ends with white space");
	EXPECT_BAD_NAME("1 5 x \n", "name starts or ends with white space");
	EXPECT_BAD_NAME("1 5 a\xc2\x9b" "b\n", "control character in name");
	EXPECT_BAD_NAME("1 5 evil\xe2\x80\xaegpj.exe\n", "bidirectional control character in name");
	EXPECT_BAD_NAME("1 5 a\xe2\x80\x8b" "b\n", "invisible character in name");
	EXPECT_BAD_NAME("1 5 a\xc2\xa0" "b\n", "white space other than a space in name");
	EXPECT_BAD_NAME("1 5 20261125T083012Z_10.0.0.5_000001.bin\n",
	    "name has the form of the daemon's own names");
	/* 256 bytes. */
	memset(name, 'n', FRAME_NAME_MAX + 1);
	name[FRAME_NAME_MAX + 1] = '\0';
	n = (size_t)snprintf(hbuf, sizeof(hbuf), SIG "1 9 %s\n", name);
	expect_status(hbuf, n, FRAME_BAD_NAME, "name longer than 255 bytes", __LINE__);
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
	NAME_OK("a b", "a b");
	NAME_OK("~", "~");
	/* C1 controls (U+0080..U+009F) are valid UTF-8, and controls all the same: 0x9b is CSI. */
	for (unsigned c = 0x80; c <= 0x9f; c++) {
		char c1[] = { 'a', (char)0xc2, (char)c, 'b' };

		name_bad(c1, sizeof(c1), "control character in name", (int)c);
		name_bad(c1 + 1, 2, "control character in name", (int)c);
	}
	/* The raw bytes 0x80..0x9f alone are not UTF-8 at all. */
	NAME_BAD("a\x9b" "b", "name is not valid UTF-8");
	NAME_BAD("\x85", "name is not valid UTF-8");
	NAME_OK("\xc2\xa1", "\xc2\xa1");                          /* U+00A1, just after */
}
END_TEST

START_TEST(test_frame_name_utf8)
{
	char name[FRAME_NAME_MAX + 2];

	NAME_OK("caf\xc3\xa9", "caf\xc3\xa9");
	NAME_OK("\xc2\xa9", "\xc2\xa9");                          /* U+00A9 */
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

/* code point as UTF-8 into buf (which holds 4 bytes); returns the length. */
static size_t
utf8(unsigned cp, char *buf)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | cp >> 6);
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | cp >> 12);
		buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | cp >> 18);
	buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* cp alone, first, inside and last in a name: refused for why, and so by frame_name_char(). */
static void
code_point_bad(unsigned cp, const char *why)
{
	char name[16], out[FRAME_NAME_MAX + 1];
	const char *got;
	size_t n = utf8(cp, name + 1), len;
	unsigned value;

	name[0] = 'a';
	memcpy(name + 1 + n, "b", 1);
	name_bad(name + 1, n, why, (int)cp);
	name_bad(name + 1, n + 1, why, (int)cp);
	name_bad(name, n + 2, why, (int)cp);
	name_bad(name, n + 1, why, (int)cp);
	got = frame_name_char(name + 1, n, &len, &value);
	ck_assert_msg(got != NULL && strcmp(got, why) == 0, "U+%04X: frame_name_char says %s", cp,
	    got ? got : "(null)");
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(value, cp);
	ck_assert_int_eq(frame_name_sanitise(name, n + 2, out, &got), -1);
}

static void
code_point_ok(unsigned cp)
{
	char name[16], want[16];
	size_t n = utf8(cp, name + 1), len;
	unsigned value;

	name[0] = 'a';
	name[n + 1] = 'b';
	memcpy(want, name, n + 2);
	want[n + 2] = '\0';
	name_ok(name, n + 2, want, (int)cp);
	ck_assert_ptr_null(frame_name_char(name + 1, n, &len, &value));
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(value, cp);
}

START_TEST(test_frame_name_unicode)
{
	static const unsigned bidi[] = { 0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d,
	    0x202e, 0x2066, 0x2067, 0x2068, 0x2069 };
	static const unsigned space[] = { 0x00a0, 0x1680, 0x2000, 0x2001, 0x2005, 0x2009, 0x200a,
	    0x2028, 0x2029, 0x202f, 0x205f, 0x3000 };
	static const unsigned invisible[] = { 0x00ad, 0x034f, 0x115f, 0x1160, 0x180e, 0x200b,
	    0x200c, 0x200d, 0x2060, 0x2061, 0x2064, 0x206a, 0x206f, 0x3164, 0xfeff, 0xffa0, 0xfff9,
	    0xfffb, 0xe0000, 0xe0001, 0xe0020, 0xe007f };
	/* The neighbours of every refused range, and ordinary text. */
	static const unsigned fine[] = { 0x00a1, 0x00ac, 0x00ae, 0x034e, 0x0350, 0x061b, 0x061d,
	    0x115e, 0x1161, 0x167f, 0x1681, 0x180d, 0x180f, 0x1fff, 0x2010, 0x2027, 0x2030, 0x205e,
	    0x2065, 0x2070, 0x2fff, 0x3001, 0x3163, 0x3165, 0xfefe, 0xff00, 0xff9f, 0xffa1, 0xfff8,
	    0xfffc, 0xfffd, 0xdffff, 0xe0080, 0xe0100, 0x10ffff, 0x00e9, 0x4e2d, 0x1f600 };

	for (unsigned c = 0x80; c <= 0x9f; c++)
		code_point_bad(c, "control character in name");
	code_point_bad(0x7f, "control character in name");
	for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++)
		code_point_bad(bidi[i], "bidirectional control character in name");
	for (size_t i = 0; i < sizeof(space) / sizeof(space[0]); i++)
		code_point_bad(space[i], "white space other than a space in name");
	for (size_t i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++)
		code_point_bad(invisible[i], "invisible character in name");
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		code_point_ok(fine[i]);
	/* The example of the review: an override that shows "evil" + "exe.jpg" reversed. */
	NAME_BAD("evil\xe2\x80\xaegpj.exe", "bidirectional control character in name");
}
END_TEST

START_TEST(test_frame_name_char_invalid)
{
	size_t len;
	unsigned cp;

	/* An invalid byte is one character of its own, reported with its value. */
	ck_assert_str_eq(frame_name_char("\xff" "a", 2, &len, &cp), "name is not valid UTF-8");
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(cp, 0xff);
	ck_assert_str_eq(frame_name_char("\xe2\x80", 2, &len, &cp), "name is not valid UTF-8");
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(cp, 0xe2);
	ck_assert_str_eq(frame_name_char("\x1b[", 2, &len, &cp), "control character in name");
	ck_assert_uint_eq(len, 1);
	ck_assert_ptr_null(frame_name_char(" ", 1, &len, &cp));
	ck_assert_ptr_null(frame_name_char("\xc3\xa9", 2, &len, &cp));
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(cp, 0xe9);
}
END_TEST

START_TEST(test_frame_name_edges)
{
	/* White space at either end, a name of spaces. */
	NAME_BAD(" ", "name starts or ends with white space");
	NAME_BAD("   ", "name starts or ends with white space");
	NAME_BAD(" x", "name starts or ends with white space");
	NAME_BAD("x ", "name starts or ends with white space");
	NAME_BAD("dir/ x", "name starts or ends with white space");
	NAME_BAD("\xc2\xa0x", "white space other than a space in name");
	NAME_BAD("x\xe3\x80\x80", "white space other than a space in name");
	NAME_OK("a  b", "a  b");
	NAME_OK(" dir/x", "x");
	/* A leading dash reads as an option to whoever types the name. */
	NAME_BAD("-", "name starts with a dash");
	NAME_BAD("-rf", "name starts with a dash");
	NAME_BAD("--help", "name starts with a dash");
	NAME_BAD("dir/-x", "name starts with a dash");
	NAME_OK("x-", "x-");
	NAME_OK("a-b", "a-b");
	NAME_OK("-dir/x", "x");
	/* ".", ".." and invalid UTF-8 are refused whatever else the name holds. */
	NAME_BAD(".", "name starts with a dot");
	NAME_BAD("..", "name starts with a dot");
	NAME_BAD("x\xc0", "name is not valid UTF-8");
}
END_TEST

START_TEST(test_frame_name_daemon_shape)
{
	static const char *const taken[] = {
		"20261125T083012Z_10.0.0.5_000001.bin", "20261125T083012Z_127.0.0.1_000042.bin",
		"20261125T103241Z_--1_000001.bin", "20261125T103241Z_2001-db8--1_123456.bin",
		"20261125T083012Z_10.0.0.5_000001.bin.1", "00000000T000000Z_", "99999999T999999Z_x",
		"20261125T083012Z_anything",
	};
	static const char *const free_[] = {
		"20261125T083012Z", "20261125T083012Z.bin", "20261125T083012Z-10.0.0.5_000001.bin",
		"2026112T083012Z_x", "20261125t083012Z_x", "20261125T083012z_x", "20261125T08301Z_x",
		"2026112aT083012Z_x", "x20261125T083012Z_x", "20261125_083012Z_x", "report-2026.pdf",
	};
	char out[FRAME_NAME_MAX + 1];
	const char *why;

	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		name_bad(taken[i], strlen(taken[i]), "name has the form of the daemon's own names", (int)i);
	for (size_t i = 0; i < sizeof(free_) / sizeof(free_[0]); i++) {
		ck_assert_msg(frame_name_sanitise(free_[i], strlen(free_[i]), out, &why) == 0,
		    "%s: %s", free_[i], why);
		ck_assert_str_eq(out, free_[i]);
	}
	/* Only the last component counts. */
	NAME_BAD("dir/20261125T083012Z_10.0.0.5_000001.bin", "name has the form of the daemon's own names");
	NAME_OK("20261125T083012Z_10.0.0.5_000001.bin/x", "x");
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

	/* Version 2, the longest: every field at its longest fits in 512 bytes. */
	{
		unsigned char digest[FRAME_DIGEST_LEN];
		char id[FRAME_ID_MAX + 1];

		for (size_t i = 0; i < sizeof(digest); i++)
			digest[i] = (unsigned char)(i * 37);
		memset(id, 'Z', FRAME_ID_MAX);
		id[FRAME_ID_MAX] = '\0';
		n = frame_header_format2(buf, sizeof(buf), UINT64_MAX, digest, id, name);
		ck_assert_uint_ne(n, 0);
		ck_assert_int_eq(parse(buf, n, &h, &why), FRAME_OK);
		ck_assert(h.version == 2 && h.size == UINT64_MAX && h.has_digest);
		ck_assert_int_eq(memcmp(h.digest, digest, sizeof(digest)), 0);
		ck_assert_str_eq(h.id, id);
		ck_assert_str_eq(h.name, name);
		n = frame_header_format2(buf, sizeof(buf), 5, NULL, NULL, "n");
		ck_assert_str_eq(buf, SIG "2 5 - - n\n");
		ck_assert_uint_eq(frame_header_format2(buf, sizeof(buf), 5, NULL, "a.b", "n"), 0);
	}
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
	tcase_add_test(parse_tc, test_frame_v2);
	tcase_add_test(parse_tc, test_frame_bad_size);
	tcase_add_test(parse_tc, test_frame_bad_name);
	tcase_add_test(parse_tc, test_frame_bad_too_long);
	suite_add_tcase(s, parse_tc);
	tcase_add_test(name_tc, test_frame_name_basename);
	tcase_add_test(name_tc, test_frame_name_refused);
	tcase_add_test(name_tc, test_frame_name_control);
	tcase_add_test(name_tc, test_frame_name_utf8);
	tcase_add_test(name_tc, test_frame_name_unicode);
	tcase_add_test(name_tc, test_frame_name_char_invalid);
	tcase_add_test(name_tc, test_frame_name_edges);
	tcase_add_test(name_tc, test_frame_name_daemon_shape);
	suite_add_tcase(s, name_tc);
	tcase_add_test(format_tc, test_frame_format_round_trip);
	tcase_add_test(format_tc, test_frame_format_too_small);
	suite_add_tcase(s, format_tc);
	return s;
}
