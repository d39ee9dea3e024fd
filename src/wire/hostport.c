/* SPDX-License-Identifier: ISC */
/* hostport.c - parses tcpx's HOST:PORT arguments and connects with a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "io/sys.h"
#include "wire/hostport.h"

int
hostport_parse(const char *text, char *host, size_t hostlen, unsigned *port, const char **why)
{
	const char *colon, *p;
	size_t len;
	unsigned long v = 0;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
		len = (size_t)(close - text - 1);
		colon = close + 1;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL) {
			*why = "expected HOST:PORT";
			return -1;
		}
		if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
			*why = "an IPv6 address must be written [ADDRESS]:PORT";
			return -1;
		}
		len = (size_t)(colon - text);
	}
	if (len == 0 || len >= hostlen) {
		*why = len == 0 ? "empty host" : "host name too long";
		return -1;
	}
	for (p = colon + 1; *p >= '0' && *p <= '9' && v <= 65535; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p != '\0' || v == 0 || v > 65535) {
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	memcpy(host, text, len);
	host[len] = '\0';
	*port = (unsigned)v;
	return 0;
}

static int
connect_one(const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, flags, n, soerr = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		do
			n = poll(&pfd, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	sys_close(fd);
	return -1;
}

int
hostport_connect(const char *host, unsigned port, int timeout_ms, unsigned io_timeout,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char service[8];
	int fd = -1, rc, last = 0;

	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms);
		if (fd < 0)
			last = errno;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port,
		    last == ETIMEDOUT ? "connection timed out" : strerror(last));
		return -1;
	}
	if (sys_set_io_timeout(fd, io_timeout) < 0) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		sys_close(fd);
		return -1;
	}
	return fd;
}
