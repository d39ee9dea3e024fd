/* SPDX-License-Identifier: ISC */
/* echo.h - the echo service (RFC 862 over TCP). */
#ifndef TCPXD_ECHO_H
#define TCPXD_ECHO_H

#include "daemon/services/session.h"

/*
 * Echoes until the client half-closes, then flushes; sets c->result.  Or
 * parks, idle with nothing left to echo (session.h): run again, it goes on.
 */
enum service_end echo_serve(struct session *c);

#endif
