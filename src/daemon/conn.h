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
#include "daemon/gen.h"
#include "daemon/services/store.h"
#include "io/netio.h"

struct conn {
	struct netio io;
	struct in6_addr peer;           /* the client: from the PROXY header when there is one */
	unsigned peer_port;
	struct in6_addr via;            /* the balancer that sent the PROXY header */
	bool proxied;
	bool proxy_local;               /* a LOCAL/UNKNOWN header: the balancer's own health check */
	bool ip_counted;                /* peer holds one of its max_per_ip slots */
	struct cidr ip_key;             /* the network that slot counts against */
	struct gen *gen;
	SSL_CTX *tls_ctx;               /* the generation's, on a tls listener; else NULL */
	const struct listener_cfg *lcfg;
	struct store *store;            /* receive listeners */
	long long start_ms;
	uint64_t bytes_in, bytes_out;
	unsigned files;                 /* framed version 2: files stored (each has its own log line) */
	const char *result;             /* "ok", or why it ended otherwise */
	char stored[STORE_NAME_MAX];
	char detail[128];               /* why a PROXY header or handshake failed, for the log */
	char subject[256];              /* the client certificate's, even if the handshake failed */
	bool linger;                    /* an ERR was sent: drain before closing (drain.h) */
	atomic_bool aborting;           /* set by conn_abort_all() before it shuts the socket */
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
bool conn_aborting(const struct conn *c);
/*
 * Sets the result of a connection that ended, closed or reset, before its
 * first byte: a health check after a LOCAL header, otherwise empty (and
 * counted); both are logged at debug only.
 */
void conn_ended_silent(struct conn *c);
/*
 * Answers "ERR code reason" and half-closes; the socket then lingers so the
 * client reads it.  Sends nothing on echo listeners, and on TLS listeners
 * before the handshake.  Best effort: a client that is gone needs no answer.
 */
void conn_send_err(struct conn *c, int code, const char *reason);

#endif
