/* SPDX-License-Identifier: ISC */
/*
 * listener.c - turns a listener's address and port into a listening
 * socket.  IPv6 sockets set IPV6_V6ONLY explicitly, so "::" means
 * dual-stack (unless v6only = true) whatever the sysctl default says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/listener.h"
#include "io/sys.h"

/* flags: more AI_ flags (AI_NUMERICHOST: no name lookup). */
static int
resolve_flags(const struct listener_cfg *l, int flags, struct addrinfo **res, char *err,
    size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV | flags,
	};
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", l->port);
	rc = getaddrinfo(l->address, port, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve address \"%s\": %s", l->address, gai_strerror(rc));
		return -1;
	}
	return 0;
}

static int
resolve(const struct listener_cfg *l, struct addrinfo **res, char *err, size_t errlen)
{
	return resolve_flags(l, 0, res, err, errlen);
}

int
listener_resolve_check(const struct listener_cfg *l, char *err, size_t errlen)
{
	struct addrinfo *res;

	if (resolve(l, &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

int
listener_configure(int fd, const struct listener_cfg *l)
{
	int nodelay = l->mode == MODE_ECHO, one = 1;

	/*
	 * Every byte is data: urgent bytes (telnet, MSG_OOB) stay in the
	 * stream instead of being dropped; over TLS one breaks the record
	 * stream and the connection fails as a TLS error.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0)
		return -1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
}

int
listener_configure_conn(int fd, const struct listener_cfg *l)
{
	int nodelay = l->mode == MODE_ECHO;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
}

int
listener_open(const struct listener_cfg *l, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, one = 1;

	if (resolve(l, &res, err, errlen) < 0)
		return -1;
	/* A host name may resolve to several addresses: the first one that binds is used. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int v6only = l->v6only ? 1 : 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			break;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    (l->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
		    (ai->ai_family == AF_INET6 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) ||
		    listener_configure(fd, l) < 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, SOMAXCONN) < 0) {
			sys_close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot listen on %s port %u: %s", l->address, l->port,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

void
listener_describe(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t slen = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* What a listener's socket takes: one address, or a wildcard, of one family. */
struct bind_target {
	bool v4;                    /* IPv4, or IPv4 through a v4-mapped IPv6 address */
	bool wildcard;              /* 0.0.0.0 or :: */
	bool dual_stack;            /* :: with v6only = false: every IPv4 address too */
	struct in6_addr addr;       /* IPv4 v4-mapped */
	char text[ADDR_TEXT_MAX];
};

/*
 * The address listener_open() binds first.  numeric_only: no name lookup,
 * 1 for a host name.  0, or -1 with a reason.
 */
static int
bind_target(const struct listener_cfg *l, bool numeric_only, struct bind_target *t, char *err,
    size_t errlen)
{
	struct addrinfo *res;

	if (resolve_flags(l, numeric_only ? AI_NUMERICHOST : 0, &res, err, errlen) < 0)
		return numeric_only ? 1 : -1;
	memset(t, 0, sizeof(*t));
	if (addr_from_sockaddr(res->ai_addr, &t->addr) < 0) {
		freeaddrinfo(res);
		return 1;
	}
	t->v4 = IN6_IS_ADDR_V4MAPPED(&t->addr);
	t->wildcard = t->v4 ? memcmp(&t->addr.s6_addr[12], "\0\0\0\0", 4) == 0 :
	    IN6_IS_ADDR_UNSPECIFIED(&t->addr);
	t->dual_stack = !t->v4 && t->wildcard && !l->v6only;
	addr_format(&t->addr, t->text, sizeof(t->text));
	freeaddrinfo(res);
	return 0;
}

/* Why a and b cannot both bind one port, or NULL when they can. */
static const char *
overlap(const struct bind_target *a, const struct bind_target *b, char *buf, size_t len)
{
	const struct bind_target *wild = a->wildcard ? a : b;

	if (a->v4 == b->v4) {
		if (memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0)
			snprintf(buf, len, "both bind %s", a->text);
		else if (a->wildcard || b->wildcard)
			snprintf(buf, len, "%s takes the port on every %s address", wild->text,
			    wild->v4 ? "IPv4" : "IPv6");
		else
			return NULL;
		return buf;
	}
	wild = a->v4 ? b : a;
	if (!wild->dual_stack)
		return NULL;
	snprintf(buf, len, ":: (dual-stack, v6only = false) takes the port on every IPv4 address "
	    "too");
	return buf;
}

int
listener_find_conflict(const struct config *cfg, bool numeric_only, char *err, size_t errlen)
{
	struct bind_target *t = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*t));
	bool *known = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*known));
	char why[128];
	int rc = -1;

	if (t == NULL || known == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *b = &cfg->listeners[i];
		char reason[256];
		int got;

		if (b->port == 0)       /* kernel-chosen: never taken twice */
			continue;
		if ((got = bind_target(b, numeric_only, &t[i], reason, sizeof(reason))) < 0) {
			snprintf(err, errlen, "%s:%d: listener \"%s\": %s", b->file, b->line, b->name,
			    reason);
			goto out;
		}
		known[i] = got == 0;
		for (size_t j = 0; known[i] && j < i; j++) {
			const struct listener_cfg *a = &cfg->listeners[j];
			const char *reason_overlap;

			if (!known[j] || a->port != b->port || (a->reuseport && b->reuseport) ||
			    (reason_overlap = overlap(&t[j], &t[i], why, sizeof(why))) == NULL)
				continue;
			snprintf(err, errlen, "%s:%d: listener \"%s\" (%s port %u) conflicts with listener "
			    "\"%s\" at %s:%d (%s port %u): %s", b->file, b->line, b->name, b->address,
			    b->port, a->name, a->file, a->line, a->address, a->port, reason_overlap);
			goto out;
		}
	}
	rc = 0;
out:
	free(known);
	free(t);
	return rc;
}

/*
 * Compares by what is bound, not by how it is written: "::1" and "0:0::1",
 * a host name and its address, are one socket, and opening a second one
 * while the first holds the port would fail.  The bound address is read
 * from the socket, so a host name that now resolves elsewhere moves.
 */
int
listener_same_socket(const struct listener_cfg *old, int fd, const struct listener_cfg *l,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t slen = sizeof(ss);
	struct in6_addr bound;
	struct bind_target t;
	char reason[256];

	/* A kernel-chosen port (0) has no port to match: the name is its identity. */
	if (old->port != l->port || (l->port == 0 && strcmp(old->name, l->name) != 0))
		return 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, &bound) < 0 ||
	    bind_target(l, false, &t, reason, sizeof(reason)) != 0 ||
	    memcmp(&bound, &t.addr, sizeof(bound)) != 0)
		return 0;
	/* The kernel joins a socket to a port's reuseport group only when it binds. */
	if (old->reuseport != l->reuseport) {
		snprintf(err, errlen, "changing reuseport needs a restart");
		return -1;
	}
	/* IPV6_V6ONLY cannot change on a bound socket; it means nothing for IPv4. */
	if (ss.ss_family == AF_INET6 && !t.v4 && old->v6only != l->v6only) {
		snprintf(err, errlen, "changing v6only needs a restart");
		return -1;
	}
	return 1;
}
