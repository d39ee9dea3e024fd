/* SPDX-License-Identifier: ISC */
/*
 * drain.h - lingering closes for refused connections.  After a refusal
 * line, the socket is read and discarded until the client's EOF or a short
 * deadline, so the client reads the reason instead of a reset, without
 * the accept loop ever waiting.
 */
#ifndef TCPXD_DRAIN_H
#define TCPXD_DRAIN_H

/* The most sockets the drain holds; tcpxd's descriptor budget counts them (server.c). */
#define DRAIN_MAX 128

int drain_start(void);
/*
 * Lowers the bound below DRAIN_MAX when RLIMIT_NOFILE leaves no room for
 * it beside the descriptors admitted connections may need: a refusal then
 * closes rather than take one of theirs.
 */
void drain_set_max(int max);
/* Takes ownership of fd (already half-closed); closes it at once when full. */
void drain_add(int fd);
void drain_stop(void);

#endif
