/* SPDX-License-Identifier: ISC */
/* session.c - what services may do to their connection (session.h). */
#include <stdio.h>
#include <time.h>

#include "daemon/identity.h"
#include "daemon/log.h"
#include "daemon/services/session.h"
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
	s->linger = netio_shutdown_wr(&s->io) == 0;
}

void
session_identify(struct session *s, const struct identity_cfg *id, enum identity_by by)
{
	const struct listener_cfg *l = s->lcfg;

	s->identity = id;
	s->identity_by = id != NULL ? by : IDENTITY_NONE;
	s->store = s->listener_store;
	if (id == NULL || s->id_stores == NULL)
		return;
	for (size_t i = 0; i < l->n_ids; i++) {
		if (l->ids[i] == id && s->id_stores[i] != NULL)
			s->store = s->id_stores[i];
	}
}

void
session_client_field(const struct session *s, char *buf, size_t len)
{
	char v[LOG_VALUE_MAX(IDENTITY_NAME_MAX)];

	if (s->identity == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, " client=%s", log_value(v, sizeof(v), s->identity->name));
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
		char prefix[ADDR_TEXT_MAX + 8], more[32] = "";

		addr_format(&s->peer, peer, sizeof(peer));
		cidr_format(&f.prefix, prefix, sizeof(prefix));
		if (f.suppressed > 0)
			snprintf(more, sizeof(more), " suppressed=%u", f.suppressed);
		log_warnx("unauthorized listener=%s peer=%s prefix=%s failures=%u delay_ms=%u%s",
		    log_value(name, sizeof(name), s->lcfg->name), peer, prefix, f.failures,
		    f.delay_ms, more);
	}
	delay(s, f.delay_ms);
	if (session_aborting(s)) {
		s->result = "aborted-shutdown";
		return;
	}
	session_send_err(s, 401, "unauthorized");
}
