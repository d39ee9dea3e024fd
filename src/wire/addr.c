/* SPDX-License-Identifier: ISC */
/*
 * addr.c - the daemon's view of a peer address.  IPv4 peers, whether they
 * arrive on an IPv4 socket or v4-mapped on a dual-stack one, become the
 * same v4-mapped IPv6 address, so allow/deny rules and max_per_ip count
 * one host once.
 */

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/addr.h"

void
addr_map_v4(const void *v4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], v4, 4);
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct in6_addr *out)
{
	if (sa->sa_family == AF_INET) {
		addr_map_v4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, out);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		return 0;
	}
	return -1;
}

void
addr_format(const struct in6_addr *a, char *buf, size_t len)
{
	const char *ok;

	if (IN6_IS_ADDR_V4MAPPED(a))
		ok = inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)len);
	else
		ok = inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	if (ok == NULL && len > 0)
		snprintf(buf, len, "?");
}

static int __attribute__((format(printf, 3, 4)))
refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
cidr_parse_why(const char *text, struct cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	struct in_addr v4;
	unsigned max_prefix, prefix;

	if (host_len == 0)
		return refuse(why, whylen, "no address before the prefix");
	if (host_len >= sizeof(host) || (memcpy(host, text, host_len), host[host_len] = '\0',
	    inet_pton(AF_INET, host, &v4) != 1 && inet_pton(AF_INET6, host, &out->net) != 1))
		return refuse(why, whylen, "not a numeric IPv4 or IPv6 address (host names and "
		    "shorthands such as 127.1 are not accepted)");
	if (inet_pton(AF_INET, host, &v4) == 1) {
		addr_map_v4(&v4, &out->net);
		max_prefix = 32;
	} else {
		max_prefix = 128;
	}

	prefix = max_prefix;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p < '0' || *p > '9' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p))
			return refuse(why, whylen, "the prefix after / must be a number 0..%u", max_prefix);
		prefix = (unsigned)atoi(p);
		if (prefix > max_prefix)
			return refuse(why, whylen, "prefix /%u is longer than the %u bits of an %s address",
			    prefix, max_prefix, max_prefix == 32 ? "IPv4" : "IPv6");
	}
	out->prefix = prefix + (128 - max_prefix);

	/* Host bits set usually means a typo in the rule: refuse it, naming the network. */
	for (unsigned bit = out->prefix; bit < 128; bit++) {
		if (out->net.s6_addr[bit / 8] & (0x80u >> (bit % 8))) {
			struct cidr net = *out;
			char buf[ADDR_TEXT_MAX + 8];

			for (unsigned b = out->prefix; b < 128; b++)
				net.net.s6_addr[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
			cidr_format(&net, buf, sizeof(buf));
			return refuse(why, whylen, "host bits are set (the network is \"%s\")", buf);
		}
	}
	return 0;
}

int
cidr_parse(const char *text, struct cidr *out)
{
	return cidr_parse_why(text, out, NULL, 0);
}

bool
cidr_match(const struct cidr *c, const struct in6_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->net.s6_addr, a->s6_addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00u >> rest);
	return (c->net.s6_addr[full] & mask) == (a->s6_addr[full] & mask);
}

bool
cidr_list_match(const struct cidr_list *list, const struct in6_addr *a)
{
	for (size_t i = 0; i < list->count; i++) {
		if (cidr_match(&list->items[i], a))
			return true;
	}
	return false;
}

void
addr_prefix(const struct in6_addr *a, unsigned prefix4, unsigned prefix6, struct cidr *out)
{
	/* A v4-mapped address is an IPv4 host: its prefix counts in IPv4 bits. */
	unsigned prefix = IN6_IS_ADDR_V4MAPPED(a) ? 96 + (prefix4 < 32 ? prefix4 : 32) :
	    prefix6 < 128 ? prefix6 : 128;

	out->net = *a;
	out->prefix = prefix;
	for (unsigned bit = prefix; bit < 128; bit++)
		out->net.s6_addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

void
cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char host[ADDR_TEXT_MAX];
	unsigned prefix = c->prefix;

	addr_format(&c->net, host, sizeof(host));
	if (IN6_IS_ADDR_V4MAPPED(&c->net) && prefix >= 96)
		prefix -= 96;
	snprintf(buf, len, "%s/%u", host, prefix);
}
