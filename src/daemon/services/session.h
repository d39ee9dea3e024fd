/* SPDX-License-Identifier: ISC */
/*
 * session.h - all a service (echo, receive) sees of its connection, and
 * the only way it reaches it.  conn.c admits a connection, fills a session
 * in, runs the listener's service on it, and logs what the session says;
 * services never call back into conn.c.
 */
#ifndef TCPXD_SESSION_H
#define TCPXD_SESSION_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/identity.h"
#include "daemon/metrics.h"
#include "daemon/services/store.h"
#include "io/netio.h"

/* What identified a client, in the order they are tried (tcpxd.conf(5)). */
enum identity_by { IDENTITY_NONE, IDENTITY_CERTIFICATE, IDENTITY_TOKEN, IDENTITY_ADDRESS };

struct session {
	struct netio io;
	const struct listener_cfg *lcfg;
	struct store *store;            /* receive listeners: the identity's, once identified */
	struct in6_addr peer;           /* the client: from the PROXY header when there is one */
	unsigned peer_port;
	bool proxy_local;               /* a LOCAL/UNKNOWN header: the balancer's own health check */
	bool tls;                       /* a tls listener: nothing plain is sent before the handshake */
	/*
	 * Who the client is (config.h), or NULL: anonymous.  It points into
	 * the generation that admitted the connection, so a reload never
	 * changes it while the connection lasts.
	 */
	const struct identity_cfg *identity;
	/*
	 * max_rate buckets (ratelimit.h) every byte received is charged to:
	 * the listener's and, once the client is identified, its identity's.
	 * NULL: no limit.
	 */
	struct rate *rates[2];
	struct count *identity_slot;    /* one of the identity's max_connections (counts.h) */
	enum identity_by identity_by;   /* what identified the client */
	/*
	 * One that named the client but held all its max_connections: the
	 * client the log names from then on (session_client_field()).
	 */
	const struct identity_cfg *busy_identity;
	/*
	 * The stores of the identities lcfg accepts, in the order of lcfg->ids:
	 * NULL where the identity has no subdir (session_identify()).
	 */
	struct store *const *id_stores;
	struct store *listener_store;   /* the listener's own: of anonymous clients */
	bool quiet;                     /* a repeated refusal: its end is logged at debug only */
	uint64_t bytes_in, bytes_out;
	struct metrics_listener *metrics;       /* the listener's counters (metrics.h), or NULL */
	unsigned files;                 /* framed version 2: files stored (each has its own log line) */
	const char *result;             /* "ok", or why it ended otherwise */
	char stored[STORE_NAME_MAX];
	bool linger;                    /* an ERR was sent: drain before closing (drain.h) */
	atomic_bool aborting;           /* set before the daemon shuts the socket at a stop */
};

/*
 * Whether the daemon is stopping and shut the socket: what then looks like
 * the client's EOF is not.
 */
bool session_aborting(const struct session *s);
/*
 * Sets the result of a session that ended, closed or reset, before its
 * first byte: a health check after a LOCAL header, otherwise empty (and
 * counted); both are logged at debug only.
 */
void session_ended_silent(struct session *s);
/*
 * Answers "ERR code reason" and half-closes; the socket then lingers so the
 * client reads it.  Sends nothing on echo listeners, and on TLS listeners
 * before the handshake.  Best effort: a client that is gone needs no answer.
 */
void session_send_err(struct session *s, int code, const char *reason);
/*
 * netio_recv() under the session's max_rate: it reads at most a burst's
 * worth, and after the bytes arrive waits until the rates allow the next
 * read (never counted as idle; a stop or a reset ends the wait).
 */
ssize_t session_recv(struct session *s, void *buf, size_t len);
/*
 * The client is id (NULL: anonymous), recognised by by: from here on its
 * files go to the identity's subdir, if it has one, it holds one of id's
 * max_connections and what it sends is charged to id's max_rate.  0, or
 * -1 when id has all its max_connections (logged; nothing changed but
 * busy_identity): the caller answers "ERR 503 busy: max_connections".
 */
int session_identify(struct session *s, const struct identity_cfg *id, enum identity_by by);
/* Gives back what session_identify() took (conn.c, as the connection ends). */
void session_end(struct session *s);
/*
 * A missing, unknown, wrong or revoked credential: counts it against the
 * client's network (identity.h), logs it at most once per interval, waits
 * the delay that network has earned, then answers "ERR 401 unauthorized"
 * (receive listeners) and sets result=refused-unauthorized.
 */
void session_unauthorized(struct session *s);
/*
 * " client=NAME" of an identified client (or of the identity that refused
 * it for its max_connections), "" of an anonymous one, for log lines.
 */
void session_client_field(const struct session *s, char *buf, size_t len);
#define SESSION_CLIENT_FIELD_MAX IDENTITY_CLIENT_FIELD_MAX

#endif
