/* SPDX-License-Identifier: ISC */
/*
 * conn.h - accepted connections: admission (allow/deny, max_connections,
 * max_per_ip), one detached thread each, the registry used to abort them
 * at shutdown, and the one log line each gets when it ends.
 */
#ifndef TCPXD_CONN_H
#define TCPXD_CONN_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/config.h"
#include "daemon/counts.h"
#include "daemon/gen.h"
#include "daemon/services/session.h"
#include "daemon/services/store.h"
#include "io/netio.h"

struct conn {
	struct session s;               /* what the service sees (session.h) */
	struct in6_addr via;            /* the balancer that sent the PROXY header */
	bool proxied;
	bool identify_ran;              /* identify() ran: s.identity is who the client is */
	bool ip_counted;                /* peer holds one of its max_per_ip slots */
	bool limited;                   /* holds one of the daemon's max_connections */
	struct cidr ip_key;             /* the network that slot counts against */
	struct count *listener_slot;    /* one of its listener's max_connections (counts.h) */
	struct gen *gen;
	SSL_CTX *tls_ctx;               /* the generation's, on a tls listener; else NULL */
	long long start_ms;
	char detail[128];               /* why a PROXY header or handshake failed, for the log */
	char subject[256];              /* the client certificate's, even if the handshake failed */
	struct conn *prev, *next;
};
/*
 * wake_fd (an eventfd) is written when a connection ends while conn_want_wakeup
 * is set.  fault_hooks: TCPXD_TEST_FAULTS is set (tests only).
 */
int conn_init(int wake_fd, bool fault_hooks);
void conn_fini(void);
/* Takes ownership of fd.  Refuses (and closes) or starts the connection's thread. */
void conn_dispatch(int fd, const struct sockaddr *peer, struct gen *gen, size_t listener_index);
/*
 * The descriptors admitted connections may hold between them (2 each: the
 * socket and an upload's file), from RLIMIT_NOFILE less everything else
 * the daemon holds (check_rlimits in server.c).
 */
void conn_set_fd_cap(unsigned long long cap);
/*
 * False when one more admitted connection could leave an admitted upload
 * without a descriptor for its file: the accept loop then waits instead.
 * Counts the directories of older generations connections still hold.
 */
bool conn_fd_room(const struct gen *current);
unsigned conn_active(void);
/* Ask for a wake_fd write as each connection ends (while paused or draining). */
void conn_want_wakeup(bool on);
/* Marks every connection aborting and shuts its socket so blocked I/O returns. */
void conn_abort_all(void);
#endif
