/* SPDX-License-Identifier: ISC */
/*
 * identity.h - who a client is: the identities a listener accepts
 * (config.h), matched by a verified certificate, a bearer token or the
 * source address; and the slowing of repeated failures from one network.
 */
#ifndef TCPXD_IDENTITY_H
#define TCPXD_IDENTITY_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "wire/addr.h"

/*
 * The first identity l accepts (in configuration order) with a certificate
 * name that the verified client certificate of ssl bears, or NULL.
 */
const struct identity_cfg *identity_by_certificate(const struct listener_cfg *l, SSL *ssl);
/* The identity l accepts whose from holds a, the longest prefix first; or NULL. */
const struct identity_cfg *identity_by_address(const struct listener_cfg *l,
    const struct in6_addr *a);
/*
 * The identity l accepts that holds the SHA-256 of token among its
 * token_sha256, or NULL.  Every digest is compared, in constant time, so
 * the time taken says nothing about which one came close.
 */
const struct identity_cfg *identity_by_token(const struct listener_cfg *l, const char *token,
    size_t len);
/*
 * " client=NAME" of id for a log record (tcpxd(8), LOGGING), "" for NULL:
 * an anonymous client.
 */
void identity_client_field(const struct identity_cfg *id, char *buf, size_t len);
#define IDENTITY_CLIENT_FIELD_MAX (IDENTITY_NAME_MAX + 16)
/* The SHA-256 of token, as token_sha256 holds it.  0, or -1. */
int identity_token_digest(const char *token, size_t len, unsigned char out[IDENTITY_DIGEST_LEN]);

/* Failures from one network: answered at once up to this many per window ... */
#define IDENTITY_FAIL_FREE 3
/* ... forgotten this long after the last one ... */
#define IDENTITY_FAIL_WINDOW_MS 60000
/* ... then answered after a delay doubling from the first to the last, */
#define IDENTITY_FAIL_DELAY_MIN_MS 250
#define IDENTITY_FAIL_DELAY_MAX_MS 4000
/* and logged at most once per this per network. */
#define IDENTITY_FAIL_LOG_MS 10000

struct identity_failure {
	struct cidr prefix;         /* the network counted: per_ip_prefix4/6 of the listener */
	unsigned failures;          /* in the window, this one included */
	unsigned delay_ms;          /* before the answer */
	bool log;                   /* this one is logged (the first in IDENTITY_FAIL_LOG_MS) */
	unsigned suppressed;        /* failures not logged since the last logged one */
};

/* Counts a refused credential from peer on l and says how to answer it. */
void identity_failed(const struct listener_cfg *l, const struct in6_addr *peer,
    struct identity_failure *out);

#endif
