/* SPDX-License-Identifier: ISC */
/* test_logrec.c - logrec_*(): a rendered log line as fields, JSON and journal fields. */
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/logrec.h"
#include "unit.h"

#define TS "2026-12-03T03:10:53.893199Z"

/* The JSON object of line (a string literal) at level info, without its newline. */
static const char *
json_of(char *buf, size_t len, const char *line)
{
	struct logrec r;
	size_t n;

	logrec_parse(&r, line, strlen(line));
	n = logrec_json(buf, len, &r, TS, "info");
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf[n - 1], '\n');
	buf[n - 1] = '\0';
	return buf;
}

START_TEST(test_logrec_record_or_message)
{
	static const struct {
		const char *line;
		int record;
		size_t n;
	} cases[] = {
		{ "conn listener=inbox peer=::1 port=1 result=ok", 1, 4 },
		{ "upload-x a_1=\"\" _b=[::1]:7", 1, 2 },
		{ "ready: 2 listeners, max_connections 10", 0, 0 },
		{ "conn", 0, 0 },                               /* an event needs a field */
		{ "conn listener=a listener=b", 0, 0 },         /* no key twice */
		{ "conn 1x=a", 0, 0 },                          /* a key starts with a letter or _ */
		{ "conn Key=a", 0, 0 },
		{ "conn k=", 0, 0 },                            /* a bare value is not empty */
		{ "conn k=a b", 0, 0 },
		{ "conn k=a  j=b", 0, 0 },
		{ "conn k=a ", 0, 0 },
		{ "conn k=\"open", 0, 0 },
		{ "conn k=\"a\\qb\"", 0, 0 },                   /* only \" \\ \xHH */
		{ "conn k=\"a\\x4\"", 0, 0 },
		{ "conn k=\"a\\x4G\"", 0, 0 },
		{ "conn k=\"a\\xAB\"", 0, 0 },                  /* lower-case hex only */
		{ "conn k=\"tab\there\"", 0, 0 },
		{ "conn k=a=b", 0, 0 },
		{ "conn k=\"a\"b", 0, 0 },
		{ "Conn k=a", 0, 0 },
		{ "tcpxd: info: conn k=a", 0, 0 },              /* the prefix is not the parser's */
		{ "", 0, 0 },
	};
	struct logrec r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *line = cases[i].line;

		ck_assert_msg(logrec_parse(&r, line, strlen(line)) == cases[i].record, "%s", line);
		ck_assert_uint_eq(r.n, cases[i].n);
		ck_assert(r.text == line && r.textlen == strlen(line));
		ck_assert(cases[i].record ? r.event == line : r.event == NULL);
	}
	logrec_parse(&r, "upload-x a_1=\"\" _b=[::1]:7", 26);
	ck_assert_uint_eq(r.eventlen, 8);
	ck_assert(r.f[1].keylen == 2 && memcmp(r.f[1].key, "_b", 2) == 0);
	ck_assert(r.f[1].vallen == 7 && memcmp(r.f[1].val, "[::1]:7", 7) == 0);
}
END_TEST

/* Every key the daemon writes, with the value log_value() makes of a hostile text. */
START_TEST(test_logrec_every_key)
{
	static const char *const keys[] = {
		"listener", "peer", "port", "client", "via", "tls", "subject", "error", "in", "out",
		"ms", "result", "stored", "prefix", "files", "file", "file_no", "name", "bytes", "declared",
		"received", "thread", "state", "reason", "suppressed", "failures", "delay_ms", "dir",
	};
	static const char hostile[] = "a \"b\"=c\\d\x01\xff\xc3\xa9 x=y";
	char line[4096], v[LOG_VALUE_MAX(sizeof(hostile))], json[LOGREC_JSON_MAX(4096)];
	unsigned char raw[64];
	size_t len = (size_t)snprintf(line, sizeof(line), "conn");
	struct logrec r;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%s", keys[i],
		    log_value(v, sizeof(v), hostile));
	ck_assert_int_eq(logrec_parse(&r, line, len), 1);
	ck_assert_uint_eq(r.n, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < r.n; i++) {
		ck_assert(r.f[i].keylen == strlen(keys[i]) &&
		    memcmp(r.f[i].key, keys[i], r.f[i].keylen) == 0);
		ck_assert_uint_eq(logrec_unescape(raw, r.f[i].val, r.f[i].vallen), sizeof(hostile) - 1);
		ck_assert(memcmp(raw, hostile, sizeof(hostile) - 1) == 0);
	}
	ck_assert_uint_gt(logrec_json(json, sizeof(json), &r, TS, "info"), 0);
	for (size_t i = 0; i < r.n; i++) {
		char member[128];

		snprintf(member, sizeof(member),
		    ",\"%s\":\"a \\\"b\\\"=c\\\\d\\u0001\\\\xff\xc3\xa9 x=y\"", keys[i]);
		ck_assert_msg(strstr(json, member) != NULL, "%s not in %s", member, json);
	}
	ck_assert_ptr_null(strstr(json, "\"cut\""));
}
END_TEST

START_TEST(test_logrec_json_escapes)
{
	char buf[1024];

	ck_assert_str_eq(json_of(buf, sizeof(buf), "conn listener=inbox peer=::1 port=40428 "
	    "in=100000 out=120 ms=2 result=ok stored=x.bin"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"conn\",\"listener\":\"inbox\","
	    "\"peer\":\"::1\",\"port\":40428,\"in\":100000,\"out\":120,\"ms\":2,"
	    "\"result\":\"ok\",\"stored\":\"x.bin\"}");
	/* Quotes and backslashes, logfmt's and JSON's. */
	ck_assert_str_eq(json_of(buf, sizeof(buf), "x name=\"q\\\"b\\\\\""),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\",\"name\":\"q\\\"b\\\\\"}");
	/* Control bytes and DEL as \u00XX, NUL included. */
	ck_assert_str_eq(json_of(buf, sizeof(buf), "x name=\"\\x00\\x09\\x0a\\x1f\\x7f\""),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\","
	    "\"name\":\"\\u0000\\u0009\\u000a\\u001f\\u007f\"}");
	/* Valid UTF-8 is itself (2, 3 and 4 bytes). */
	ck_assert_str_eq(json_of(buf, sizeof(buf),
	    "x name=\"\\xc3\\xa9\\xe2\\x82\\xac\\xf0\\x9f\\x98\\x80\""),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\","
	    "\"name\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");
	/*
	 * Invalid UTF-8 as the text \xHH: a lone continuation byte, a cut
	 * sequence, an overlong '/', a surrogate, beyond U+10FFFF, 0xff.
	 */
	ck_assert_str_eq(json_of(buf, sizeof(buf),
	    "x name=\"\\x80\\xc3\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xff\""),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\",\"name\":\""
	    "\\\\x80\\\\xc3\\\\xc0\\\\xaf\\\\xed\\\\xa0\\\\x80\\\\xf4\\\\x90\\\\x80\\\\x80\\\\xff\"}");
	/* A message is "msg", escaped the same way. */
	ck_assert_str_eq(json_of(buf, sizeof(buf), "reload: /etc/a\\\\b \"x\" failed"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"reload: /etc/a\\\\\\\\b \\\"x\\\" "
	    "failed\"}");
	/* A key that is one of the object's own names gets a _. */
	ck_assert_str_eq(json_of(buf, sizeof(buf), "x ts=1 level=2 event=3 msg=4 cut=5"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\",\"ts_\":\"1\","
	    "\"level_\":\"2\",\"event_\":\"3\",\"msg_\":\"4\",\"cut_\":\"5\"}");
}
END_TEST

START_TEST(test_logrec_numeric_keys)
{
	char buf[512];

	ck_assert(logrec_numeric_key("bytes", 5) && logrec_numeric_key("delay_ms", 8));
	ck_assert(logrec_numeric_key("duration_ms", 11) && logrec_numeric_key("attempt", 7) &&
	    logrec_numeric_key("retry_in_ms", 11) && logrec_numeric_key("age_s", 5));
	ck_assert(!logrec_numeric_key("byte", 4) && !logrec_numeric_key("peer", 4));
	/* file= is a name wherever it is logged: one in digits is a string too. */
	ck_assert_str_eq(json_of(buf, sizeof(buf), "quota-update client=q file=2024 files=3"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"quota-update\",\"client\":\"q\","
	    "\"file\":\"2024\",\"files\":3}");
	ck_assert_str_eq(json_of(buf, sizeof(buf), "upload file_no=2 bytes=5"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"upload\",\"file_no\":2,"
	    "\"bytes\":5}");
	/* Digits only, no leading zero, at most 19: else a string. */
	ck_assert_str_eq(json_of(buf, sizeof(buf),
	    "x port=0 files=7 bytes=9223372036854775807 in=007 out=99999999999999999999 "
	    "file=a.txt ms=-1 size=\"12\" name=42"),
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\",\"port\":0,\"files\":7,"
	    "\"bytes\":9223372036854775807,\"in\":\"007\",\"out\":\"99999999999999999999\","
	    "\"file\":\"a.txt\",\"ms\":\"-1\",\"size\":12,\"name\":\"42\"}");
}
END_TEST

/* A buffer too small still gets a whole object, cut between characters, marked cut. */
START_TEST(test_logrec_json_cut)
{
	static const char line[] = "x a=\"\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01"
	    "\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\" b=2 port=3";
	static const char head[] = "{\"ts\":\"" TS "\",\"level\":\"info\",\"event\":\"x\",\"a\":\"";
	char buf[256];
	struct logrec r;

	ck_assert_int_eq(logrec_parse(&r, line, sizeof(line) - 1), 1);
	for (size_t len = 128; len < 256; len++) {
		size_t n = logrec_json(buf, len, &r, TS, "info"), esc;
		char *p;

		ck_assert_uint_le(n, len);
		buf[n] = '\0';
		if (strstr(buf, "\"port\":3}\n") != NULL)
			continue;       /* whole */
		ck_assert_msg(strncmp(buf, head, sizeof(head) - 1) == 0, "%s", buf);
		ck_assert_msg(n >= 13 && strcmp(buf + n - 13, ",\"cut\":true}\n") == 0, "%s", buf);
		p = buf + sizeof(head) - 1;
		esc = strspn(p, "\\u0001") ;
		ck_assert_msg(esc % 6 == 0 && p[esc] == '"', "cut inside an escape: %s", buf);
	}
	ck_assert_uint_eq(logrec_json(buf, 127, &r, TS, "info"), 0);
}
END_TEST

START_TEST(test_logrec_journal_fields)
{
	static const char line[] = "conn listener=inbox peer=::1 port=5 delay_ms=3 "
	    "name=\"a b\\x0ac\\x00\\\"\"";
	static const char *const want[] = {
		"PRIORITY=6", "SYSLOG_IDENTIFIER=tcpxd", "MESSAGE=conn listener=inbox peer=::1 port=5 "
		"delay_ms=3 name=\"a b\\x0ac\\x00\\\"\"", "TCPXD_EVENT=conn", "TCPXD_LISTENER=inbox",
		"TCPXD_PEER=::1", "TCPXD_PORT=5", "TCPXD_DELAY_MS=3",
	};
	static const char name[] = "TCPXD_NAME=a b\nc\0\"";
	struct iovec iov[LOGREC_IOV_MAX];
	char buf[LOGREC_JOURNAL_MAX(sizeof(line))];
	struct logrec r;
	size_t n;

	ck_assert_int_eq(logrec_parse(&r, line, sizeof(line) - 1), 1);
	n = logrec_journal(iov, buf, sizeof(buf), &r, 6);
	ck_assert_uint_eq(n, 9);
	for (size_t i = 0; i < 8; i++) {
		ck_assert_uint_eq(iov[i].iov_len, strlen(want[i]));
		ck_assert(memcmp(iov[i].iov_base, want[i], iov[i].iov_len) == 0);
	}
	/* Binary values go as they are: sd_journal_sendv() frames them. */
	ck_assert_uint_eq(iov[8].iov_len, sizeof(name) - 1);
	ck_assert(memcmp(iov[8].iov_base, name, sizeof(name) - 1) == 0);
	ck_assert_uint_eq(logrec_journal(iov, buf, 40, &r, 6), 0);
	/* A message has no TCPXD_ fields. */
	logrec_parse(&r, "stopped", 7);
	ck_assert_uint_eq(logrec_journal(iov, buf, sizeof(buf), &r, 3), 3);
	ck_assert(iov[2].iov_len == 15 && memcmp(iov[2].iov_base, "MESSAGE=stopped", 15) == 0);
}
END_TEST

/* A line near the longest log.c writes, with the most fields: every field comes out. */
START_TEST(test_logrec_journal_long)
{
	enum { FIELDS = LOGREC_FIELDS_MAX - 1, VAL = 120 };
	char line[4 + FIELDS * (1 + 3 + 1 + VAL) + 1];
	char buf[LOGREC_JOURNAL_MAX(sizeof(line))];
	struct iovec iov[LOGREC_IOV_MAX];
	struct logrec r;
	size_t off = 0, n;

	memcpy(line, "hook", 4);
	off = 4;
	for (int i = 0; i < FIELDS; i++) {
		off += (size_t)snprintf(line + off, sizeof(line) - off, " k%c%c=", 'a' + i / 26,
		    'a' + i % 26);
		memset(line + off, '0' + i % 10, VAL);
		off += VAL;
	}
	line[off] = '\0';
	ck_assert_int_eq(logrec_parse(&r, line, off), 1);
	ck_assert_uint_eq(r.n, FIELDS);
	n = logrec_journal(iov, buf, sizeof(buf), &r, 6);
	ck_assert_uint_eq(n, 4 + FIELDS);
	ck_assert_uint_eq(iov[2].iov_len, 8 + off);
	for (int i = 0; i < FIELDS; i++) {
		const char *f = iov[4 + i].iov_base;

		ck_assert_uint_eq(iov[4 + i].iov_len, 10 + VAL);
		ck_assert(f[7] == 'a' + i / 26 - 32 && f[8] == 'a' + i % 26 - 32);
		ck_assert(f[9] == '=' && f[10] == '0' + i % 10 && f[9 + VAL] == '0' + i % 10);
	}
}
END_TEST

Suite *
logrec_suite(void)
{
	Suite *s = suite_create("logrec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_logrec_record_or_message);
	tcase_add_test(tc, test_logrec_every_key);
	tcase_add_test(tc, test_logrec_json_escapes);
	tcase_add_test(tc, test_logrec_numeric_keys);
	tcase_add_test(tc, test_logrec_json_cut);
	tcase_add_test(tc, test_logrec_journal_fields);
	tcase_add_test(tc, test_logrec_journal_long);
	suite_add_tcase(s, tc);
	return s;
}
