/* SPDX-License-Identifier: ISC */
/* session.c - what services may do to their connection (session.h). */
#include "daemon/services/session.h"
#include "daemon/counts.h"
#include "daemon/ratelimit.h"
#include "daemon/stats.h"
#include "wire/receipt.h"

bool
session_aborting(const struct session *s)
{
	return atomic_load((atomic_bool *)&s->aborting);
}

void
session_ended_silent(struct session *s)
{
	if (session_aborting(s)) {
		s->result = "aborted-shutdown";
	} else if (s->proxy_local) {
		s->result = "ok-health-check";
	} else {
		s->result = "empty";
		stats_add(&stats.connections_empty, 1);
	}
}

void
session_send_err(struct session *s, int code, const char *reason)
{
	char line[RECEIPT_MAX];
	size_t len;

	/* Echo has no answers; a TLS client cannot read one before its handshake. */
	if (s->lcfg->mode != MODE_RECEIVE || (s->tls && s->io.ssl == NULL))
		return;
	len = receipt_err(line, sizeof(line), code, reason);
	if (len == 0 || netio_send_all(&s->io, line, len) < 0)
		return;
	s->bytes_out += len;
	s->linger = netio_shutdown_wr(&s->io) == 0;
}

ssize_t
session_recv(struct session *s, void *buf, size_t len)
{
	long long until = 0, now;
	ssize_t n;

	for (size_t i = 0; i < 2; i++)
		len = rate_chunk(s->rates[i], len);
	if ((n = netio_recv(&s->io, buf, len)) <= 0)
		return n;
	now = rate_now_ns();
	for (size_t i = 0; i < 2; i++) {
		long long ready = s->rates[i] != NULL ? rate_charge(s->rates[i], (uint64_t)n, now) : now;

		if (ready > until)
			until = ready;
	}
	/*
	 * Waiting after the bytes, before the next read: the client's bytes
	 * stay in its socket, TCP slows it down, and netio's idle clock, which
	 * starts with each call, never counts the wait.
	 */
	if (until > now)
		rate_wait(s->io.fd, until);
	return n;
}

int
session_set_identity(struct session *s, const struct identity_cfg *id)
{
	struct count *slot;

	if (id == NULL)
		return 0;
	if (count_take(COUNT_CLIENT, id->name, id->max_connections, &slot) != COUNT_OK)
		return -1;
	s->identity = id;
	s->identity_slot = slot;
	/* Out of memory: not limited, as a connection without a bucket. */
	s->rates[1] = rate_get(RATE_CLIENT, id->name);
	return 0;
}

void
session_end(struct session *s)
{
	count_put(s->identity_slot);
	s->identity_slot = NULL;
}
