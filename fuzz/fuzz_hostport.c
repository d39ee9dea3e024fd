/* SPDX-License-Identifier: ISC */
/*
 * fuzz_hostport.c - hostport_parse() on any command-line argument of tcpx.
 * An accepted HOST:PORT fits the caller's buffer exactly (a buffer one
 * byte short is refused, never overrun), has a port of 1..65535, and
 * written back as HOST:PORT or [HOST]:PORT parses to the same.
 */
#include <string.h>

#include "fuzz.h"
#include "wire/hostport.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *host, *small, again[HOSTPORT_HOST_MAX + 16];
	unsigned port = 0, port2 = 0;
	const char *why = NULL;
	size_t len;

	host = malloc(HOSTPORT_HOST_MAX);
	if (host == NULL)
		abort();
	if (hostport_parse(text, host, HOSTPORT_HOST_MAX, &port, &why) < 0) {
		CHECK(why != NULL && *why != '\0');
		goto out;
	}
	len = strlen(host);
	CHECK(len >= 1 && len < HOSTPORT_HOST_MAX);
	CHECK(port >= 1 && port <= 65535);

	/* Exactly the room it needs is enough; a byte less is refused. */
	if ((small = malloc(len + 1)) == NULL)
		abort();
	CHECK(hostport_parse(text, small, len + 1, &port2, &why) == 0);
	CHECK(strcmp(small, host) == 0 && port2 == port);
	CHECK(hostport_parse(text, small, len, &port2, &why) == -1);
	CHECK(strcmp(why, "host name too long") == 0);
	free(small);

	/* Brackets when the host has a colon or starts with one. */
	if (strchr(host, ':') != NULL || host[0] == '[')
		snprintf(again, sizeof(again), "[%s]:%u", host, port);
	else
		snprintf(again, sizeof(again), "%s:%u", host, port);
	small = malloc(HOSTPORT_HOST_MAX);
	if (small == NULL)
		abort();
	CHECK(hostport_parse(again, small, HOSTPORT_HOST_MAX, &port2, &why) == 0);
	CHECK(strcmp(small, host) == 0 && port2 == port);
	free(small);
out:
	free(host);
	free(text);
	return 0;
}
