/* SPDX-License-Identifier: ISC */
/*
 * drain.h - lingering closes for refused connections.  After a refusal
 * line, the socket is read and discarded until the client's EOF or a short
 * deadline, so the client reads the reason instead of a reset, without
 * the accept loop ever waiting.
 */
#ifndef TCPXD_DRAIN_H
#define TCPXD_DRAIN_H

int drain_start(void);
/* Takes ownership of fd (already half-closed); closes it at once when full. */
void drain_add(int fd);
void drain_stop(void);

#endif
