/* SPDX-License-Identifier: ISC */
/* echo.h - the echo service (RFC 862 over TCP). */
#ifndef TCPXD_ECHO_H
#define TCPXD_ECHO_H

struct conn;

/* Echoes until the client half-closes, then flushes; sets c->result. */
void echo_serve(struct conn *c);

#endif
