/* SPDX-License-Identifier: ISC */
/* echo.h - the echo service (RFC 862 over TCP). */
#ifndef TCPXD_ECHO_H
#define TCPXD_ECHO_H

struct session;

/* Echoes until the client half-closes, then flushes; sets c->result. */
void echo_serve(struct session *c);

#endif
