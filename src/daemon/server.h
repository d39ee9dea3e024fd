/* SPDX-License-Identifier: ISC */
/* server.h - the accept loop, signals, reload and graceful stop. */
#ifndef TCPXD_SERVER_H
#define TCPXD_SERVER_H

#include <stddef.h>

#include "daemon/config.h"

/*
 * Takes ownership of cfg: opens output directories and listeners.  Call
 * with all signals blocked.  0, or -1 with "FILE:LINE: reason" in err.
 */
int server_start(struct config *cfg, char *err, size_t errlen);
/* Runs until SIGTERM/SIGINT and a graceful stop; returns the exit status. */
int server_run(void);

#endif
