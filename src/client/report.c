/* SPDX-License-Identifier: ISC */
/* report.c - tcpx's error messages: one line on stderr, and the exit status that goes with it. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "client/report.h"

static bool line_open;

void
report_line_open(bool open)
{
	line_open = open;
}

int
report_fail(int code, const char *fmt, ...)
{
	va_list ap;

	/* A message never ends up behind a progress bar, on its line. */
	if (line_open)
		fputc('\n', stderr);
	line_open = false;
	fputs("tcpx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/*
 * With SIGPIPE ignored (OpenSSL writes to the socket without MSG_NOSIGNAL),
 * a closed standard output ends tcpx the way it always did: by SIGPIPE.
 */
int
report_stdout_failed(void)
{
	if (errno == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return report_fail(EXIT_LOCAL, "standard output: %s", strerror(errno));
}
