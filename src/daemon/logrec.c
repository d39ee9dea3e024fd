/* SPDX-License-Identifier: ISC */
/*
 * logrec.c - takes apart a line that log.c rendered (tcpxd(8), LOGGING:
 * "event key=value ..." or a message for people) and writes it again for
 * log shippers: one JSON object (RFC 8259) or systemd journal fields.
 * Everything works in caller buffers of bounded size, so any thread may
 * log without allocating.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/logrec.h"

/*
 * The keys whose values are counts or durations, written as JSON numbers.
 * A key has one type in every record (a log store fixes it from the first
 * one), so none of these is ever a name: file= is, file_no= is not.
 */
static const char *const numeric_keys[] = {
	"age_s", "attempt", "bytes", "delay_ms", "duration_ms", "failures", "file_no", "files", "in",
	"ms", "out", "port", "retry_in_ms", "size", "suppressed",
};

/* No value is longer than the longest line log.c writes. */
#define LOGREC_VALUE_MAX 4096

/* Names of the JSON object's own members: a record key of the same name gets a "_". */
static const char *const reserved_keys[] = { "ts", "level", "event", "msg", "cut" };

static bool
is_lower(unsigned char ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
bare_byte(unsigned char ch)
{
	return is_lower(ch) || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
	    (ch != '\0' && strchr("._:/@+,[]-", ch) != NULL);
}

static bool
is_hex(unsigned char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f');
}

static bool
key_is(const char *key, size_t keylen, const char *name)
{
	return strlen(name) == keylen && memcmp(key, name, keylen) == 0;
}

int
logrec_numeric_key(const char *key, size_t keylen)
{
	for (size_t i = 0; i < sizeof(numeric_keys) / sizeof(numeric_keys[0]); i++) {
		if (key_is(key, keylen, numeric_keys[i]))
			return 1;
	}
	return 0;
}

/* Length of the value that starts at s[i], or 0 if none does. */
static size_t
value_len(const char *s, size_t n, size_t i)
{
	size_t j = i;

	if (j < n && s[j] != '"') {
		while (j < n && bare_byte((unsigned char)s[j]))
			j++;
		return j - i;
	}
	for (j = i + 1; j < n; j++) {
		unsigned char ch = (unsigned char)s[j];

		if (ch == '"')
			return j + 1 - i;
		if (ch == '\\') {
			if (j + 1 < n && (s[j + 1] == '"' || s[j + 1] == '\\')) {
				j++;
			} else if (j + 3 < n && s[j + 1] == 'x' && is_hex((unsigned char)s[j + 2]) &&
			    is_hex((unsigned char)s[j + 3])) {
				j += 3;
			} else {
				return 0;
			}
		} else if (ch < 0x20 || ch > 0x7e) {
			return 0;
		}
	}
	return 0;
}

int
logrec_parse(struct logrec *r, const char *s, size_t n)
{
	size_t i = 0;

	r->event = NULL;
	r->eventlen = 0;
	r->text = s;
	r->textlen = n;
	r->n = 0;
	if (n == 0 || !is_lower((unsigned char)s[0]))
		return 0;
	while (i < n && (is_lower((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
	    s[i] == '-'))
		i++;
	if (i == n)
		return 0;
	while (i < n) {
		struct logrec_field *f = &r->f[r->n];
		size_t k;

		if (s[i] != ' ' || r->n == LOGREC_FIELDS_MAX)
			goto message;
		k = ++i;
		if (i >= n || !(is_lower((unsigned char)s[i]) || s[i] == '_'))
			goto message;
		while (i < n && (is_lower((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
		    s[i] == '_'))
			i++;
		if (i >= n || s[i] != '=')
			goto message;
		f->key = s + k;
		f->keylen = i - k;
		f->val = s + ++i;
		if ((f->vallen = value_len(s, n, i)) == 0)
			goto message;
		i += f->vallen;
		for (size_t j = 0; j < r->n; j++) {
			if (r->f[j].keylen == f->keylen && memcmp(r->f[j].key, f->key, f->keylen) == 0)
				goto message;
		}
		r->n++;
	}
	r->event = s;
	while (r->eventlen < n && s[r->eventlen] != ' ')
		r->eventlen++;
	return 1;
message:
	r->n = 0;
	return 0;
}

static int
hexval(unsigned char ch)
{
	return is_digit(ch) ? ch - '0' : ch - 'a' + 10;
}

size_t
logrec_unescape(unsigned char *out, const char *val, size_t vallen)
{
	size_t o = 0;

	if (vallen == 0 || val[0] != '"') {
		memcpy(out, val, vallen);
		return vallen;
	}
	/* logrec_parse() checked the escapes; the closing quote is left out. */
	for (size_t i = 1; i + 1 < vallen; i++) {
		if (val[i] != '\\') {
			out[o++] = (unsigned char)val[i];
		} else if (val[i + 1] == 'x') {
			out[o++] = (unsigned char)(hexval((unsigned char)val[i + 2]) << 4 |
			    hexval((unsigned char)val[i + 3]));
			i += 3;
		} else {
			out[o++] = (unsigned char)val[++i];
		}
	}
	return o;
}

/* A bounded writer that keeps room to close the object whatever happens. */
struct jw {
	char *buf;
	size_t len, off;
	bool cut;
};

/* What the end needs: a closing quote, ,"cut":true, the brace and newline. */
#define JW_RESERVE 16

static bool
jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->cut || w->off + n + JW_RESERVE > w->len) {
		w->cut = true;
		return false;
	}
	memcpy(w->buf + w->off, s, n);
	w->off += n;
	return true;
}

static bool
jw_str(struct jw *w, const char *s)
{
	return jw_put(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min, cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, min = 0x80, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, min = 0x800, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, min = 0x10000, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Writes the bytes p as the inside of a JSON string: " and \ escaped,
 * control bytes and DEL as \u00XX, valid UTF-8 as itself, and a byte that
 * is not part of valid UTF-8 as the text \xHH (the logfmt escape), so that
 * the output is always valid JSON.  A string too long is cut between two
 * characters.
 */
static void
jw_bytes(struct jw *w, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		char esc[8];
		size_t u = utf8_len(p + i, n - i);
		bool ok;

		if (u == 1 && (p[i] == '"' || p[i] == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			ok = jw_put(w, esc, 2);
		} else if (u == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			ok = jw_put(w, esc, 6);
		} else if (u == 0) {
			snprintf(esc, sizeof(esc), "\\\\x%02x", p[i]);
			ok = jw_put(w, esc, 5);
			u = 1;
		} else {
			ok = jw_put(w, (const char *)p + i, u);
		}
		if (!ok)
			return;
		i += u;
	}
}

static bool
all_digits(const unsigned char *p, size_t n)
{
	/* JSON numbers have no leading zero; 19 digits stay below 2^63. */
	if (n == 0 || n > 19 || (p[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
	}
	return true;
}

static void
jw_member(struct jw *w, const char *key, size_t keylen, const unsigned char *val, size_t vallen,
    bool number, bool field)
{
	bool rename = false;

	for (size_t i = 0; field && i < sizeof(reserved_keys) / sizeof(reserved_keys[0]); i++)
		rename |= key_is(key, keylen, reserved_keys[i]);
	/* A member goes in whole or not at all, except a string's tail. */
	if (w->off + keylen + 8 + JW_RESERVE > w->len) {
		w->cut = true;
		return;
	}
	if (!jw_str(w, ",\"") || !jw_put(w, key, keylen) || (rename && !jw_str(w, "_")) ||
	    !jw_str(w, "\":"))
		return;
	if (number && all_digits(val, vallen)) {
		if (!jw_put(w, (const char *)val, vallen))
			w->off -= keylen + 4 + rename;  /* drop the dangling name */
		return;
	}
	jw_str(w, "\"");
	jw_bytes(w, val, vallen);
	/* The reserve always has room for the closing quote. */
	w->buf[w->off++] = '"';
}

size_t
logrec_json(char *buf, size_t len, const struct logrec *r, const char *ts, const char *level)
{
	struct jw w = { buf, len, 0, false };
	unsigned char val[LOGREC_VALUE_MAX];

	if (len < 128)
		return 0;
	jw_str(&w, "{\"ts\":\"");
	jw_bytes(&w, (const unsigned char *)ts, strlen(ts));
	jw_str(&w, "\",\"level\":\"");
	jw_bytes(&w, (const unsigned char *)level, strlen(level));
	jw_str(&w, "\"");
	if (r->event == NULL) {
		jw_member(&w, "msg", 3, (const unsigned char *)r->text, r->textlen, false, false);
	} else {
		jw_member(&w, "event", 5, (const unsigned char *)r->event, r->eventlen, false, false);
		for (size_t i = 0; i < r->n && !w.cut; i++) {
			const struct logrec_field *f = &r->f[i];
			size_t n;

			if (f->vallen > sizeof(val)) {
				w.cut = true;
				break;
			}
			n = logrec_unescape(val, f->val, f->vallen);
			jw_member(&w, f->key, f->keylen, val, n, logrec_numeric_key(f->key, f->keylen),
			    true);
		}
	}
	if (w.cut) {
		memcpy(buf + w.off, ",\"cut\":true", 11);
		w.off += 11;
	}
	buf[w.off++] = '}';
	buf[w.off++] = '\n';
	return w.off;
}

size_t
logrec_journal(struct iovec *iov, char *buf, size_t len, const struct logrec *r, int prio)
{
	size_t off = 0, n = 0;

#define ADD(...)                                                                     \
	do {                                                                         \
		int w_ = snprintf(buf + off, len - off, __VA_ARGS__);               \
		if (w_ < 0 || (size_t)w_ >= len - off)                               \
			return 0;                                                    \
		iov[n].iov_base = buf + off;                                         \
		iov[n++].iov_len = (size_t)w_;                                       \
		off += (size_t)w_;                                                   \
	} while (0)

	iov[n].iov_base = NULL;
	ADD("PRIORITY=%d", prio);
	ADD("SYSLOG_IDENTIFIER=tcpxd");
	if (off + 8 + r->textlen > len)
		return 0;
	memcpy(buf + off, "MESSAGE=", 8);
	memcpy(buf + off + 8, r->text, r->textlen);
	iov[n].iov_base = buf + off;
	iov[n++].iov_len = 8 + r->textlen;
	off += 8 + r->textlen;
	if (r->event == NULL)
		return n;
	ADD("TCPXD_EVENT=%.*s", (int)r->eventlen, r->event);
	for (size_t i = 0; i < r->n; i++) {
		const struct logrec_field *f = &r->f[i];
		size_t start = off;

		/* TCPXD_ + the key upper-cased: journal field names are [A-Z0-9_]. */
		if (off + 6 + f->keylen + 1 + f->vallen > len)
			return 0;
		memcpy(buf + off, "TCPXD_", 6);
		off += 6;
		for (size_t k = 0; k < f->keylen; k++) {
			unsigned char ch = (unsigned char)f->key[k];

			buf[off++] = is_lower(ch) ? (char)(ch - 'a' + 'A') : is_digit(ch) ? (char)ch : '_';
		}
		buf[off++] = '=';
		off += logrec_unescape((unsigned char *)buf + off, f->val, f->vallen);
		iov[n].iov_base = buf + start;
		iov[n++].iov_len = off - start;
	}
#undef ADD
	return n;
}
