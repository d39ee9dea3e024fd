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
#include <string.h>
#include <sys/socket.h>

#include "listener.h"
#include "sys.h"

static int
resolve(const struct listener_cfg *l, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
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

int
listener_same_socket(const struct listener_cfg *a, const struct listener_cfg *b)
{
	if (a->port != b->port || a->v6only != b->v6only || strcmp(a->address, b->address) != 0)
		return 0;
	/* A kernel-chosen port (0) has no address to match: the name is its identity. */
	return a->port != 0 || strcmp(a->name, b->name) == 0;
}
