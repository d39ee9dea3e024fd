/* SPDX-License-Identifier: ISC */
/*
 * proxy.c - the PROXY protocol header (HAProxy's proxy-protocol.txt, v1
 * text and v2 binary) that a load balancer sends before anything else, so
 * that limits, allow/deny rules and logs see the real client rather than
 * the balancer.
 *
 * proxy_parse() decides as early as the bytes allow: a prefix that can
 * still become a header is PROXY_INCOMPLETE, anything else PROXY_BAD at
 * the first byte that rules it out.  That matters because proxy_read()
 * (daemon/proxy_read.c) consumes the bytes of an incomplete header: it
 * must never eat the start of a client that sends no header at all (an
 * HTTP request, a TLS hello).
 *
 * The parser is strict where the specification is: single spaces, CRLF,
 * addresses of the stated family, decimal ports without leading zeros,
 * 107 bytes for v1; known commands and families, an address block that
 * fits, TLVs that stay inside the header for v2.  A LOCAL v2 header, a v1
 * UNKNOWN and the v2 families without an IP address (AF_UNSPEC, AF_UNIX)
 * are accepted as "local": the socket's own peer stays the client.
 */
#include <arpa/inet.h>
#include <string.h>

#include "wire/addr.h"
#include "wire/proxy.h"

#define V1_PREFIX "PROXY "
#define V1_PREFIX_LEN 6
/* "PROXY UNKNOWN" and 94 more bytes at most, CRLF included (spec 2.1). */
#define V1_MAX 107
/* Longest address text inet_pton() takes, without the NUL. */
#define V1_ADDR_MAX (INET6_ADDRSTRLEN - 1)

static const unsigned char v2_signature[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define V2_SIG_LEN sizeof(v2_signature)
/* Signature, version/command, family/protocol, 16-bit length. */
#define V2_FIXED_LEN 16
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
/* A TLV: type, then a 16-bit big-endian length, then the value. */
#define V2_TLV_HEAD 3

/* What a v1 field holds, which decides the bytes it may contain. */
enum v1_field {
	V1_ADDR4,
	V1_ADDR6,
	V1_PORT
};

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_xdigit(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Whether n bytes can begin a dotted quad inet_pton(AF_INET) accepts:
 * at most four decimal octets of at most 255, without leading zeros
 * (glibc refuses "01.2.3.4": it could be read as octal elsewhere).
 */
static bool
addr4_prefix_ok(const unsigned char *p, size_t n)
{
	unsigned octets = 0, value = 0;
	bool in_octet = false;

	for (size_t i = 0; i < n; i++) {
		if (is_digit(p[i])) {
			if (!in_octet) {
				if (++octets > 4)
					return false;
				in_octet = true;
				value = 0;
			} else if (value == 0) {
				return false;
			}
			value = value * 10 + (unsigned)(p[i] - '0');
			if (value > 255)
				return false;
		} else if (p[i] == '.' && in_octet && octets < 4) {
			in_octet = false;
		} else {
			return false;
		}
	}
	return true;
}

/*
 * Whether n bytes can still begin an IPv6 address.  This only refuses
 * what no address ever contains (a wrong byte, five hex digits in a group,
 * ":::", a second "::", a lone leading ':', more than eight colons, a
 * dotted tail that is not IPv4 or is followed by more groups), so that it
 * never refuses the start of an address inet_pton() takes; inet_pton()
 * has the last word once the field ends.
 */
static bool
addr6_prefix_ok(const unsigned char *p, size_t n)
{
	size_t run = 0, colons = 0, tail = 0;
	bool double_colon = false, dotted = false;

	if (n > V1_ADDR_MAX)
		return false;
	if (n >= 2 && p[0] == ':' && p[1] != ':')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ':') {
			if (dotted || ++colons > 8)
				return false;
			if (i > 0 && p[i - 1] == ':') {
				if (double_colon)
					return false;
				double_colon = true;
			}
			run = 0;
			tail = i + 1;
		} else if (p[i] == '.') {
			if (colons == 0)
				return false;
			dotted = true;
			run = 0;
		} else if (is_xdigit(p[i])) {
			if (++run > 4)
				return false;
		} else {
			return false;
		}
	}
	/* An embedded IPv4 address is the last 32 bits, after the last colon. */
	return !dotted || addr4_prefix_ok(p + tail, n - tail);
}

/* Whether n bytes can begin a port: decimal, no sign, no leading zero, at most 65535. */
static bool
port_prefix_ok(const unsigned char *p, size_t n, unsigned *port)
{
	unsigned value = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]) || (i > 0 && value == 0))
			return false;
		value = value * 10 + (unsigned)(p[i] - '0');
		if (value > 65535)
			return false;
	}
	*port = value;
	return true;
}

static bool
field_prefix_ok(enum v1_field kind, const unsigned char *p, size_t n)
{
	unsigned port;

	switch (kind) {
	case V1_ADDR4:
		return n <= V1_ADDR_MAX && addr4_prefix_ok(p, n);
	case V1_ADDR6:
		return addr6_prefix_ok(p, n);
	case V1_PORT:
		return port_prefix_ok(p, n, &port);
	}
	return false;
}

/*
 * Checks a whole field and decodes it: an address into *addr (IPv4
 * v4-mapped), a port into *port.
 */
static bool
field_ok(enum v1_field kind, const unsigned char *p, size_t n, struct in6_addr *addr,
    unsigned *port)
{
	char text[V1_ADDR_MAX + 1];
	unsigned char v4[4];

	if (n == 0)
		return false;
	if (kind == V1_PORT)
		return port_prefix_ok(p, n, port);
	/* inet_pton() wants a string; the prefix check has bounded n. */
	if (!field_prefix_ok(kind, p, n))
		return false;
	memcpy(text, p, n);
	text[n] = '\0';
	if (kind == V1_ADDR6)
		return inet_pton(AF_INET6, text, addr) == 1;
	if (inet_pton(AF_INET, text, v4) != 1)
		return false;
	addr_map_v4(v4, addr);
	return true;
}

/*
 * The end of the bytes came before the end of the header: incomplete,
 * unless the at least need bytes still to come would pass 107.
 */
static enum proxy_status
v1_incomplete(size_t len, size_t need, const char **why)
{
	if (len + need > V1_MAX) {
		*why = "v1 header too long";
		return PROXY_BAD;
	}
	return PROXY_INCOMPLETE;
}

/* buf[pos] is where a CR must end the line; the header is done at its LF. */
static enum proxy_status
v1_crlf(const unsigned char *buf, size_t n, size_t pos, struct proxy_header *out,
    const char **why)
{
	if (pos + 1 >= n)
		return v1_incomplete(n, pos + 2 - n, why);
	if (buf[pos + 1] != '\n') {
		*why = "v1 header has CR without LF";
		return PROXY_BAD;
	}
	out->length = pos + 2;
	out->version = 1;
	return PROXY_DONE;
}

/* After "PROXY UNKNOWN" anything but CR and LF may come, up to CRLF (spec 2.1). */
static enum proxy_status
v1_unknown(const unsigned char *buf, size_t n, struct proxy_header *out, const char **why)
{
	struct proxy_header h = { .local = true };
	enum proxy_status st;

	for (size_t pos = V1_PREFIX_LEN + strlen("UNKNOWN"); pos < n; pos++) {
		if (buf[pos] == '\n') {
			*why = "v1 header ends in LF without CR";
			return PROXY_BAD;
		}
		if (buf[pos] == '\r') {
			if ((st = v1_crlf(buf, n, pos, &h, why)) == PROXY_DONE)
				*out = h;
			return st;
		}
	}
	return v1_incomplete(n, 2, why);
}

/* "<src> <dst> <sport> <dport>\r\n" after "PROXY TCP4 " or "PROXY TCP6 ". */
static enum proxy_status
v1_tcp(const unsigned char *buf, size_t n, int family, struct proxy_header *out,
    const char **why)
{
	enum v1_field addr_kind = family == AF_INET ? V1_ADDR4 : V1_ADDR6;
	struct proxy_header h = { .local = false };
	struct in6_addr dst;
	size_t pos = V1_PREFIX_LEN + strlen("TCP4 ");
	enum proxy_status st;
	unsigned dport;

	for (int f = 0; f < 4; f++) {
		enum v1_field kind = f < 2 ? addr_kind : V1_PORT;
		const char *bad = f < 2 ? "bad v1 address" : "bad v1 port";
		size_t start = pos;
		bool ok;

		while (pos < n && buf[pos] != ' ' && buf[pos] != '\r' && buf[pos] != '\n')
			pos++;
		if (pos == n) {
			/* The field is still open: refuse it as soon as it cannot become one. */
			if (!field_prefix_ok(kind, buf + start, pos - start)) {
				*why = bad;
				return PROXY_BAD;
			}
			return v1_incomplete(n, 2, why);
		}
		if (buf[pos] == '\n') {
			*why = "v1 header ends in LF without CR";
			return PROXY_BAD;
		}
		if (buf[pos] != (f < 3 ? ' ' : '\r')) {
			*why = "wrong number of v1 fields";
			return PROXY_BAD;
		}
		switch (f) {
		case 0:
			ok = field_ok(kind, buf + start, pos - start, &h.source, NULL);
			break;
		case 1:
			ok = field_ok(kind, buf + start, pos - start, &dst, NULL);
			break;
		case 2:
			ok = field_ok(kind, buf + start, pos - start, NULL, &h.source_port);
			break;
		default:
			ok = field_ok(kind, buf + start, pos - start, NULL, &dport);
			break;
		}
		if (!ok) {
			*why = bad;
			return PROXY_BAD;
		}
		if (f < 3)
			pos++;
	}
	if ((st = v1_crlf(buf, n, pos, &h, why)) == PROXY_DONE)
		*out = h;
	return st;
}

static enum proxy_status
parse_v1(const unsigned char *buf, size_t len, struct proxy_header *out, const char **why)
{
	static const char *const protocols[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };
	/* Bytes past 107 can never be part of a v1 header. */
	size_t n = len < V1_MAX ? len : V1_MAX, avail, plen = 0;
	size_t i;

	if (memcmp(buf, V1_PREFIX, n < V1_PREFIX_LEN ? n : V1_PREFIX_LEN) != 0) {
		*why = "not a PROXY header";
		return PROXY_BAD;
	}
	if (n < V1_PREFIX_LEN)
		return PROXY_INCOMPLETE;
	avail = n - V1_PREFIX_LEN;
	/* "TCP" is a prefix of two of them: the first that still matches decides. */
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		plen = strlen(protocols[i]);
		if (memcmp(buf + V1_PREFIX_LEN, protocols[i], avail < plen ? avail : plen) == 0)
			break;
	}
	if (i == sizeof(protocols) / sizeof(protocols[0])) {
		*why = "unsupported v1 protocol";
		return PROXY_BAD;
	}
	if (avail < plen)
		return v1_incomplete(n, 2, why);
	switch (i) {
	case 0:
		return v1_tcp(buf, n, AF_INET, out, why);
	case 1:
		return v1_tcp(buf, n, AF_INET6, out, why);
	default:
		return v1_unknown(buf, n, out, why);
	}
}

static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static enum proxy_status
parse_v2(const unsigned char *buf, size_t len, struct proxy_header *out, const char **why)
{
	struct proxy_header h = { .version = 2, .local = true };
	size_t addr_len = 0, total, pos;
	unsigned command, family = 0;

	if (memcmp(buf, v2_signature, len < V2_SIG_LEN ? len : V2_SIG_LEN) != 0) {
		*why = "not a PROXY header";
		return PROXY_BAD;
	}
	if (len <= V2_SIG_LEN)
		return PROXY_INCOMPLETE;
	if (buf[12] >> 4 != 2) {
		*why = "unsupported v2 version";
		return PROXY_BAD;
	}
	command = buf[12] & 0x0f;
	if (command != V2_CMD_LOCAL && command != V2_CMD_PROXY) {
		*why = "unsupported v2 command";
		return PROXY_BAD;
	}
	if (len < 14)
		return PROXY_INCOMPLETE;
	/*
	 * LOCAL (a health check of the balancer's own) ignores the family
	 * and its whole block, as the specification says the receiver must.
	 */
	if (command == V2_CMD_PROXY) {
		family = buf[13];
		switch (family) {
		case 0x00:      /* AF_UNSPEC: the balancer does not know either */
			addr_len = 0;
			break;
		case 0x11:      /* TCP over IPv4 */
			addr_len = 12;
			break;
		case 0x21:      /* TCP over IPv6 */
			addr_len = 36;
			break;
		case 0x31:      /* AF_UNIX stream: no address tcpxd can use */
			addr_len = 216;
			break;
		default:        /* UDP, and what is not assigned */
			*why = "unsupported v2 address family";
			return PROXY_BAD;
		}
	}
	if (len < V2_FIXED_LEN)
		return PROXY_INCOMPLETE;
	if (be16(buf + 14) > PROXY_V2_PAYLOAD_MAX) {
		*why = "v2 header too long";
		return PROXY_BAD;
	}
	if (be16(buf + 14) < addr_len) {
		*why = "v2 address block too short";
		return PROXY_BAD;
	}
	total = V2_FIXED_LEN + be16(buf + 14);
	/*
	 * TLVs are skipped, but each must end inside the header: one that
	 * overruns it is refused as soon as its length is here.
	 */
	for (pos = V2_FIXED_LEN + addr_len; command == V2_CMD_PROXY && pos < total;) {
		if (total - pos < V2_TLV_HEAD || (pos + V2_TLV_HEAD <= len &&
		    be16(buf + pos + 1) > total - pos - V2_TLV_HEAD)) {
			*why = "v2 TLV overruns the header";
			return PROXY_BAD;
		}
		if (pos + V2_TLV_HEAD > len)
			break;
		pos += V2_TLV_HEAD + be16(buf + pos + 1);
	}
	if (len < total)
		return PROXY_INCOMPLETE;
	h.length = total;
	if (family == 0x11) {
		h.local = false;
		addr_map_v4(buf + V2_FIXED_LEN, &h.source);
		h.source_port = be16(buf + V2_FIXED_LEN + 8);
	} else if (family == 0x21) {
		h.local = false;
		memcpy(&h.source, buf + V2_FIXED_LEN, 16);
		h.source_port = be16(buf + V2_FIXED_LEN + 32);
	}
	*out = h;
	return PROXY_DONE;
}

/*
 * Only a DONE result touches *out; a local header leaves source "::" and
 * port 0.
 */
enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *out, const char **why)
{
	if (len == 0)
		return PROXY_INCOMPLETE;
	if (buf[0] == 'P')
		return parse_v1(buf, len, out, why);
	if (buf[0] == '\r')
		return parse_v2(buf, len, out, why);
	*why = "not a PROXY header";
	return PROXY_BAD;
}
