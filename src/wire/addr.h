/* SPDX-License-Identifier: ISC */
/* addr.h - peer addresses (IPv4 held as v4-mapped IPv6) and CIDR rules. */
#ifndef TCPXD_ADDR_H
#define TCPXD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Longest text addr_format() writes, including the NUL. */
#define ADDR_TEXT_MAX INET6_ADDRSTRLEN

struct cidr {
	struct in6_addr net;    /* IPv4 rules are stored v4-mapped */
	unsigned prefix;        /* 0..128, in IPv6 bits */
};

struct cidr_list {
	struct cidr *items;
	size_t count;
};

/* The v4-mapped IPv6 address of v4, 4 bytes in network order. */
void addr_map_v4(const void *v4, struct in6_addr *out);
/* Normalises an AF_INET or AF_INET6 sockaddr to IPv6; v4-mapped stays mapped. */
int addr_from_sockaddr(const struct sockaddr *sa, struct in6_addr *out);
/* Writes the address as text; v4-mapped addresses print as plain IPv4. */
void addr_format(const struct in6_addr *a, char *buf, size_t len);
/* "10.0.0.0/8", "::1/128" or a bare address.  Host bits must be zero.  0 or -1. */
int cidr_parse(const char *text, struct cidr *out);
/* The same; on failure writes why (one phrase, no address) to why when not NULL. */
int cidr_parse_why(const char *text, struct cidr *out, char *why, size_t whylen);
bool cidr_match(const struct cidr *c, const struct in6_addr *a);
bool cidr_list_match(const struct cidr_list *list, const struct in6_addr *a);
/*
 * The network of a's first prefix4 bits (an IPv4 or v4-mapped address) or
 * prefix6 bits (IPv6): what max_per_ip counts.
 */
void addr_prefix(const struct in6_addr *a, unsigned prefix4, unsigned prefix6, struct cidr *out);
/* "10.0.0.0/8", "2001:db8::/64": IPv4 networks in IPv4 bits. */
void cidr_format(const struct cidr *c, char *buf, size_t len);

#endif
