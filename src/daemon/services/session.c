/* SPDX-License-Identifier: ISC */
/* session.c - what services may do to their connection (session.h). */
#include <stdio.h>
#include <time.h>

#include "daemon/identity.h"
#include "daemon/log.h"
#include "daemon/services/session.h"
#include "daemon/counts.h"
#include "daemon/ratelimit.h"
#include "daemon/stats.h"
#include "io/sys.h"
#include "wire/receipt.h"

/* A delayed refusal wakes this often to see whether the daemon is stopping. */
#define DELAY_SLICE_MS 100

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
	metrics_bytes_out(s->metrics, len);
	s->linger = netio_shutdown_wr(&s->io) == 0;
}

ssize_t
session_recv(struct session *s, void *buf, size_t len)
{
	long long until = 0, now;
	ssize_t n;

	/* A stop ends a rate's wait early: the bytes still queued are not worth reading. */
	if (session_aborting(s))
		return 0;
	/* Unlimited, the common case: two atomic loads, no clock. */
	if (rate_of(s->rates[0]) == 0 && rate_of(s->rates[1]) == 0)
		return netio_recv(&s->io, buf, len);
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

void
session_end(struct session *s)
{
	count_put(s->identity_slot);
	s->identity_slot = NULL;
}

/*
 * The identity's max_connections slot and max_rate bucket go with it: a
 * token naming another identity than the address did moves them.  -1 when
 * id has all its max_connections (logged; nothing changed).
 */
static int
take_identity_limits(struct session *s, const struct identity_cfg *id)
{
	struct count *slot = NULL;

	if (id == s->identity)
		return 0;
	if (id != NULL && count_take(COUNT_CLIENT, id->name, id->max_connections, &slot) != COUNT_OK) {
		char name[LOG_VALUE_MAX(LISTENER_NAME_MAX)], client[LOG_VALUE_MAX(IDENTITY_NAME_MAX)];
		char peer[ADDR_TEXT_MAX];

		addr_format(&s->peer, peer, sizeof(peer));
		log_warnx("refused listener=%s peer=%s client=%s reason=client-max_connections",
		    log_value(name, sizeof(name), s->lcfg->name), peer,
		    log_value(client, sizeof(client), id->name));
		s->busy_identity = id;
		return -1;
	}
	count_put(s->identity_slot);
	s->identity_slot = slot;
	/* Out of memory: not limited, as a connection without a bucket. */
	s->rates[1] = id != NULL ? rate_get(RATE_CLIENT, id->name) : NULL;
	return 0;
}

int
session_identify(struct session *s, const struct identity_cfg *id, enum identity_by by)
{
	const struct listener_cfg *l = s->lcfg;

	if (take_identity_limits(s, id) < 0)
		return -1;
	s->identity = id;
	s->identity_by = id != NULL ? by : IDENTITY_NONE;
	s->store = s->listener_store;
	if (id == NULL || s->id_stores == NULL)
		return 0;
	for (size_t i = 0; i < l->n_ids; i++) {
		if (l->ids[i] == id && s->id_stores[i] != NULL)
			s->store = s->id_stores[i];
	}
	return 0;
}

void
session_client_field(const struct session *s, char *buf, size_t len)
{
	identity_client_field(s->busy_identity != NULL ? s->busy_identity : s->identity, buf, len);
}

/* Sleeps ms, or less when the daemon stops meanwhile. */
static void
delay(const struct session *s, unsigned ms)
{
	long long end = sys_now_ms() + ms;

	while (!session_aborting(s)) {
		long long left = end - sys_now_ms();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > DELAY_SLICE_MS)
			left = DELAY_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

void
session_unauthorized(struct session *s)
{
	struct identity_failure f;

	identity_failed(s->lcfg, &s->peer, &f);
	stats_add(&stats.unauthorized, 1);
	s->result = "refused-unauthorized";
	/* The warning stands for the connections of the interval: their own lines go to debug. */
	s->quiet = !f.log;
	if (f.log) {
		char name[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX];
		char prefix[ADDR_TEXT_MAX + 8], more[32] = "", client[SESSION_CLIENT_FIELD_MAX];

		addr_format(&s->peer, peer, sizeof(peer));
		cidr_format(&f.prefix, prefix, sizeof(prefix));
		if (f.suppressed > 0)
			snprintf(more, sizeof(more), " suppressed=%u", f.suppressed);
		/* A certificate or address named a client whose token then failed. */
		session_client_field(s, client, sizeof(client));
		log_warnx("unauthorized listener=%s peer=%s%s prefix=%s failures=%u delay_ms=%u%s",
		    log_value(name, sizeof(name), s->lcfg->name), peer, client, prefix, f.failures,
		    f.delay_ms, more);
	}
	delay(s, f.delay_ms);
	if (session_aborting(s)) {
		s->result = "aborted-shutdown";
		return;
	}
	session_send_err(s, 401, "unauthorized");
}
