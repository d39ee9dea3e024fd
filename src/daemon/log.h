/* SPDX-License-Identifier: ISC */
/* log.h - one line per event on stderr, level-filtered, journal-aware. */
#ifndef TCPXD_LOG_H
#define TCPXD_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Detects JOURNAL_STREAM once; call before any thread starts. */
void log_init(void);
void log_set_level(enum log_level level);
int log_level_parse(const char *text, enum log_level *out);
const char *log_level_name(enum log_level level);
int log_enabled(enum log_level level);

/* How a line is written when stderr is not the journal (log_format). */
enum log_format { LOG_FMT_LOGFMT = 0, LOG_FMT_JSON };
void log_set_format(enum log_format format);
int log_format_parse(const char *text, enum log_format *out);
const char *log_format_name(enum log_format format);

/*
 * Room log_value() needs for a value of n bytes: every byte may become a
 * four-byte \xHH escape, plus two quotes and the NUL.
 */
#define LOG_VALUE_MAX(n) (4 * (n) + 3)
/*
 * Writes s as one logfmt value (grammar in tcpxd(8), LOGGING): bare when it
 * is not empty and every byte is in [A-Za-z0-9._:/@+,[]-], otherwise in
 * double quotes with \" \\ and \xHH for control and non-ASCII bytes.  A
 * value too long for buf is cut, never inside an escape, and stays quoted.
 * Any value a client can influence goes through here.  Returns buf.
 */
const char *log_value(char *buf, size_t len, const char *s);
/* The same for n bytes that may hold NULs. */
const char *log_valuen(char *buf, size_t len, const void *s, size_t n);

/*
 * Writes s (a path, an address, an error text holding them) for a message
 * (tcpxd(8), LOGGING): a backslash as \\, bytes outside 0x20-0x7e and an
 * '=' that would end a word (so make a key=value token) as \xHH.  A text
 * too long for buf is cut, never inside an escape.  Returns buf.
 */
const char *log_text(char *buf, size_t len, const char *s);
/* Room log_text() needs for a text of n bytes. */
#define LOG_TEXT_MAX(n) (4 * (n) + 1)

/* _warn variants append ": strerror(errno)"; _warnx variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At a level chosen at run time; never appends strerror. */
void log_at(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
