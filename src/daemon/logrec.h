/* SPDX-License-Identifier: ISC */
/*
 * logrec.h - a rendered log line (the grammar of tcpxd(8), LOGGING) taken
 * apart into its event and key/value fields, and written again as one JSON
 * object or as systemd journal fields.
 */
#ifndef TCPXD_LOGREC_H
#define TCPXD_LOGREC_H

#include <stddef.h>
#include <sys/uio.h>

/* More fields than any record has; a line with more is treated as a message. */
#define LOGREC_FIELDS_MAX 32

struct logrec_field {
	const char *key, *val;          /* val as written: bare, or quoted and escaped */
	size_t keylen, vallen;
};

struct logrec {
	const char *event;              /* NULL for a message */
	size_t eventlen;
	const char *text;               /* the whole line, without prefix or newline */
	size_t textlen;
	size_t n;
	struct logrec_field f[LOGREC_FIELDS_MAX];
};

/*
 * Parses s (n bytes, no prefix, no newline).  A record is an event word and
 * fields that follow the grammar with no key twice; anything else is a
 * message.  Pointers refer into s.  Returns 1 for a record, 0 for a message.
 */
int logrec_parse(struct logrec *r, const char *s, size_t n);

/* Writes the bytes a value stands for (at most vallen) to out; returns how many. */
size_t logrec_unescape(unsigned char *out, const char *val, size_t vallen);

/* Whether the value of key is written as a JSON number (when it is digits). */
int logrec_numeric_key(const char *key, size_t keylen);

/* Room logrec_json() needs for a line of n bytes, whatever it holds. */
#define LOGREC_JSON_MAX(n) (2 * (n) + 160)
/*
 * Writes r as one JSON object and a newline: "ts" (ts, an RFC 3339 time),
 * "level", then "event" and the fields of a record or "msg" for a message.
 * Returns its length, or 0 if len is too small (see LOGREC_JSON_MAX).
 */
size_t logrec_json(char *buf, size_t len, const struct logrec *r, const char *ts,
    const char *level);

/* iovecs logrec_journal() may fill: message, priority, identifier, event, fields. */
#define LOGREC_IOV_MAX (LOGREC_FIELDS_MAX + 4)
/*
 * Room its buf needs for a line of n bytes: MESSAGE= holds the line, and
 * the event, keys and values (never longer unescaped) hold up to n again;
 * the rest is the fixed fields and "TCPXD_" "=" of each field.
 */
#define LOGREC_JOURNAL_MAX(n) (2 * (n) + 64 + LOGREC_FIELDS_MAX * 8)
/*
 * Fills iov with journal fields for r: MESSAGE= the line, PRIORITY=prio,
 * SYSLOG_IDENTIFIER=tcpxd, and for a record TCPXD_EVENT= and TCPXD_KEY= the
 * bytes of each value (KEY upper-cased).  Field texts are built in buf.
 * Returns the number of iovecs, or 0 if buf is too small.
 */
size_t logrec_journal(struct iovec *iov, char *buf, size_t len, const struct logrec *r, int prio);

#endif
