/* SPDX-License-Identifier: ISC */
/* receive.h - the receive-to-file service, raw protocol. */
#ifndef TCPXD_RECEIVE_H
#define TCPXD_RECEIVE_H

#include "daemon/services/session.h"

/* Fetches the digest implementation once; 0 or -1. */
int receive_init(void);
void receive_fini(void);
/*
 * Stores one upload durably and answers OK or ERR (version 2: each of the
 * connection's files); sets c->result and c->stored.  Or parks, idle
 * before a header (session.h): run again, it goes on.
 */
enum service_end receive_serve(struct session *c);

#endif
