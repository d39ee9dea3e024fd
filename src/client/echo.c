/* SPDX-License-Identifier: ISC */
/* echo.c - tcpx echo: a message or standard input through an echo service, printed and checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/exchange.h"
#include "client/link.h"
#include "client/report.h"

int
echo_cmd(const struct tcpx_opts *opt, int argc, char **argv)
{
	struct exchange x;
	struct netio io;
	int rc;

	if (argc < 1 || argc > 2)
		return report_fail(EXIT_USAGE, "echo: need HOST:PORT [MESSAGE]");
	if ((rc = link_open(opt, argv[0], &io, NULL)) != EXIT_OK)
		return rc;
	x = (struct exchange){ .io = &io, .timeout = opt->timeout, .label = "echo",
	    .data = argc == 2 ? argv[1] : NULL, .data_len = argc == 2 ? strlen(argv[1]) : 0,
	    .in = STDIN_FILENO, .half_close = true, .print = true };
	rc = exchange_run(&x);
	free(x.fifo);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = report_stdout_failed();
	link_close(&io, rc == EXIT_OK);
	return rc;
}
