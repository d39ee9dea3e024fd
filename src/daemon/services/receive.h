/* SPDX-License-Identifier: ISC */
/* receive.h - the receive-to-file service, raw protocol. */
#ifndef TCPXD_RECEIVE_H
#define TCPXD_RECEIVE_H

struct session;

/* Fetches the digest implementation once; 0 or -1. */
int receive_init(void);
void receive_fini(void);
/* Stores one upload durably and answers OK or ERR; sets c->result and c->stored. */
void receive_serve(struct session *c);

#endif
