/* SPDX-License-Identifier: ISC */
/*
 * exchange.h - one exchange with an echo service (tcpx echo, each probe of
 * tcpx ping): input sent while what comes back is read and compared.
 */
#ifndef TCPX_EXCHANGE_H
#define TCPX_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "io/netio.h"

/*
 * One exchange with an echo service: the input (data in memory, or the
 * file descriptor in) is sent while what comes back is read and checked
 * against it, so both directions move at once and input of any size never
 * deadlocks on full socket buffers.
 */
struct exchange {
	struct netio *io;
	unsigned timeout;       /* seconds, for each wait with data in flight */
	const char *label;      /* "echo", "ping: seq=3": starts each message */
	const char *data;       /* the input, or NULL to read it from in */
	size_t data_len;
	int in;
	bool half_close;        /* echo: end our direction after the input, read to the end */
	bool print;             /* echo: what comes back goes to standard output */
	char *fifo;             /* [head, sent): sent, not yet back; [sent, tail): not yet sent */
	size_t head, sent, tail;
};

/*
 * Runs x on its connection, made non-blocking meanwhile; x->fifo (NULL at
 * first) is allocated once, the caller frees it.  EXIT_OK, or an exit
 * status reported.
 */
int exchange_run(struct exchange *x);

#endif
