/* SPDX-License-Identifier: ISC */
/* session.c - what services may do to their connection (session.h). */
#include "daemon/services/session.h"
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
