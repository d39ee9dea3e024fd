/* SPDX-License-Identifier: ISC */
/* report.h - tcpx's messages on standard error, each returning the exit status it reports. */
#ifndef TCPX_REPORT_H
#define TCPX_REPORT_H

#include <stdbool.h>

/* Prints "tcpx: " and the message on stderr; returns code. */
int report_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether stderr's line is open (a progress bar drawn): the next message starts a new line. */
void report_line_open(bool open);
/* Standard output failed (errno): dies of SIGPIPE after EPIPE, else EXIT_LOCAL. */
int report_stdout_failed(void);

#endif
