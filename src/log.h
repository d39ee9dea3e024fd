/* SPDX-License-Identifier: ISC */
/* log.h - one line per event on stderr, level-filtered, journal-aware. */
#ifndef TCPXD_LOG_H
#define TCPXD_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Detects JOURNAL_STREAM once; call before any thread starts. */
void log_init(void);
void log_set_level(enum log_level level);
int log_level_parse(const char *text, enum log_level *out);
const char *log_level_name(enum log_level level);
int log_enabled(enum log_level level);

/* _warn variants append ": strerror(errno)"; _warnx variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
