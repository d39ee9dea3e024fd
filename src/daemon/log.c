/* SPDX-License-Identifier: ISC */
/*
 * log.c - the daemon's only way to say something.  Each event is formatted
 * into one buffer and written with a single write(2) so that lines from
 * concurrent connection threads never interleave.  When stderr is the
 * journal (JOURNAL_STREAM matches fd 2), lines carry sd-daemon "<N>"
 * priority prefixes instead of a level word.  The line so rendered is the
 * source of the other forms: logrec.c takes it apart into fields for the
 * journal's native protocol or for one JSON object per line.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "daemon/log.h"
#include "daemon/logrec.h"

/* Room for a connection line whose every client-supplied value is escaped in full. */
#define LOG_LINE_MAX 4096

static atomic_int current_level = LOG_LVL_INFO;
static atomic_int current_format = LOG_FMT_LOGFMT;
static int to_journal;
/* The journal's native socket exists: lines go there with their fields. */
static int to_journal_fields;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const char *const format_names[] = { "logfmt", "json" };
/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const int level_prio[] = { 3, 4, 6, 7 };

void
log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = to_journal_fields = 0;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev &&
	    st.st_ino == (ino_t)ino)
		to_journal = 1;
	/* sd_journal_sendv() reports success when the socket is missing: look first. */
	if (to_journal && stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode))
		to_journal_fields = 1;
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&current_level, level, memory_order_relaxed);
}

int
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

int
log_level_parse(const char *text, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

void
log_set_format(enum log_format format)
{
	atomic_store_explicit(&current_format, format, memory_order_relaxed);
}

int
log_format_parse(const char *text, enum log_format *out)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(text, format_names[i]) == 0) {
			*out = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_format_name(enum log_format format)
{
	return format_names[format];
}

static bool
bare_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("._:/@+,[]-", ch) != NULL);
}

const char *
log_valuen(char *buf, size_t len, const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t out = 0, i;

	if (len == 0)
		return buf;
	for (i = 0; i < n && bare_byte(p[i]); i++)
		;
	if (n > 0 && i == n && n < len) {
		memcpy(buf, p, n);
		buf[n] = '\0';
		return buf;
	}
	if (len < 3) {          /* no room for even "" */
		buf[0] = '\0';
		return buf;
	}
	buf[out++] = '"';
	/* Each step needs room for its escape, the closing quote and the NUL. */
	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];
		size_t need = ch == '"' || ch == '\\' ? 2 : ch < 0x20 || ch >= 0x7f ? 4 : 1;

		if (out + need + 2 > len)
			break;
		if (need == 4) {
			snprintf(buf + out, len - out, "\\x%02x", ch);
		} else {
			if (need == 2)
				buf[out++] = '\\';
			buf[out] = (char)ch;
		}
		out += need == 2 ? 1 : need;
	}
	buf[out++] = '"';
	buf[out] = '\0';
	return buf;
}

const char *
log_value(char *buf, size_t len, const char *s)
{
	return log_valuen(buf, len, s, strlen(s));
}

static bool
word_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    ch == '_' || ch == '.' || ch == '-';
}

/* Whether the '=' at s[i] ends a word that starts s or follows a space. */
static bool
ends_key(const char *s, size_t i)
{
	size_t k = i;

	while (k > 0 && word_byte((unsigned char)s[k - 1]))
		k--;
	return k < i && !(s[k] >= '0' && s[k] <= '9') && s[k] != '.' && s[k] != '-' &&
	    (k == 0 || s[k - 1] == ' ');
}

const char *
log_text(char *buf, size_t len, const char *s)
{
	size_t out = 0;

	if (len == 0)
		return buf;
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool hex = ch < 0x20 || ch > 0x7e || (ch == '=' && ends_key(s, i));
		size_t need = hex ? 4 : ch == '\\' ? 2 : 1;

		if (out + need + 1 > len)
			break;
		if (hex)
			snprintf(buf + out, len - out, "\\x%02x", ch);
		else if (need == 2)
			memcpy(buf + out, "\\\\", 2);
		else
			buf[out] = (char)ch;
		out += need;
	}
	buf[out] = '\0';
	return buf;
}

/* Nothing useful can be done if stderr fails; a short write is retried. */
static void
write_stderr(const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/*
 * Sends body (the line without prefix and newline) as journal fields or
 * writes it as a JSON object.  Returns -1 if the journal refused it, so
 * that the caller writes the line to stderr instead.  Apart from log_emit
 * so that a logfmt line never pays for this stack.
 */
static int __attribute__((noinline))
log_structured(enum log_level level, const char *body, size_t len)
{
	union {
		char json[LOGREC_JSON_MAX(LOG_LINE_MAX)];
		char journal[LOGREC_JOURNAL_MAX(LOG_LINE_MAX)];
	} out;
	struct logrec r;

	logrec_parse(&r, body, len);
	if (to_journal_fields) {
		struct iovec iov[LOGREC_IOV_MAX];
		size_t n = logrec_journal(iov, out.journal, sizeof(out.journal), &r,
		    level_prio[level]);

		return n > 0 && sd_journal_sendv(iov, (int)n) >= 0 ? 0 : -1;
	}
	{
		struct timespec now;
		struct tm tm;
		char ts[40];
		size_t n;

		/* Neither fails for a clock that exists; the epoch stands in if one does. */
		if (clock_gettime(CLOCK_REALTIME, &now) != 0)
			now = (struct timespec){ 0, 0 };
		if (gmtime_r(&now.tv_sec, &tm) == NULL)
			tm = (struct tm){ .tm_mday = 1, .tm_year = 70 };
		n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + n, sizeof(ts) - n, ".%06ldZ", now.tv_nsec / 1000);
		n = logrec_json(out.json, sizeof(out.json), &r, ts, level_names[level]);
		write_stderr(out.json, n);
	}
	return 0;
}

static void __attribute__((format(printf, 3, 0)))
log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0, prefix;
	int n;

	if (!log_enabled(level))
		return;
	if (to_journal)
		n = snprintf(line, sizeof(line), "<%d>", level_prio[level]);
	else
		n = snprintf(line, sizeof(line), "tcpxd: %s: ", level_names[level]);
	prefix = len = n > 0 ? (size_t)n : 0;

	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	if (errnum != 0) {
		char ebuf[128];
		const char *msg = strerror_r(errnum, ebuf, sizeof(ebuf));

		n = snprintf(line + len, sizeof(line) - len, ": %s", msg);
		if (n > 0)
			len += (size_t)n;
		if (len > sizeof(line) - 2)
			len = sizeof(line) - 2;
	}
	for (size_t i = 0; i < len; i++) {
		/* One event, one line: never let a value split it. */
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	if ((to_journal_fields || (!to_journal && atomic_load_explicit(&current_format,
	    memory_order_relaxed) == LOG_FMT_JSON)) &&
	    log_structured(level, line + prefix, len - prefix) == 0)
		return;
	line[len++] = '\n';
	write_stderr(line, len);
}

#define LOG_FN(fname, level, with_errno)                         \
	void fname(const char *fmt, ...)                         \
	{                                                        \
		int saved = errno;                               \
		va_list ap;                                      \
		va_start(ap, fmt);                               \
		log_emit(level, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                                      \
		errno = saved;                                   \
	}

LOG_FN(log_warn, LOG_LVL_WARNING, 1)
LOG_FN(log_warnx, LOG_LVL_WARNING, 0)
LOG_FN(log_err, LOG_LVL_ERROR, 1)
LOG_FN(log_errx, LOG_LVL_ERROR, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
log_at(enum log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
