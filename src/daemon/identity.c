/* SPDX-License-Identifier: ISC */
/*
 * identity.c - matching clients to identities (identity.h).  A failed
 * credential is counted per network in a fixed table, so a flood from
 * many networks costs no memory: a network whose slot another takes over
 * is only forgotten early, which favours nobody but that network.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "daemon/identity.h"
#include "daemon/log.h"
#include "io/sys.h"
#include "io/tls.h"

#define FAIL_SLOTS 1024

struct fail_slot {
	struct cidr key;
	bool used;
	unsigned count;             /* failures since the window began */
	long long last_ms;          /* the last failure */
	long long logged_ms;        /* the last logged one; 0: none yet */
	unsigned unlogged;
};

static struct {
	pthread_mutex_t lock;
	struct fail_slot slots[FAIL_SLOTS];
} fails = { .lock = PTHREAD_MUTEX_INITIALIZER };

const struct identity_cfg *
identity_by_certificate(const struct listener_cfg *l, SSL *ssl)
{
	if (ssl == NULL || !l->tls.verify_client)
		return NULL;
	for (size_t i = 0; i < l->n_ids; i++) {
		const struct identity_cfg *id = l->ids[i];

		for (size_t j = 0; j < id->n_certificates; j++) {
			if (tls_peer_name_is(ssl, id->certificates[j]))
				return id;
		}
	}
	return NULL;
}

const struct identity_cfg *
identity_by_address(const struct listener_cfg *l, const struct in6_addr *a)
{
	const struct identity_cfg *best = NULL;
	unsigned best_prefix = 0;

	/* Networks are unique across identities (config.c), so the longest prefix is one identity. */
	for (size_t i = 0; i < l->n_ids; i++) {
		const struct identity_cfg *id = l->ids[i];

		for (size_t j = 0; j < id->from.count; j++) {
			const struct cidr *c = &id->from.items[j];

			if ((best == NULL || c->prefix > best_prefix) && cidr_match(c, a)) {
				best = id;
				best_prefix = c->prefix;
			}
		}
	}
	return best;
}

void
identity_client_field(const struct identity_cfg *id, char *buf, size_t len)
{
	char v[LOG_VALUE_MAX(IDENTITY_NAME_MAX)];

	if (id == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, " client=%s", log_value(v, sizeof(v), id->name));
}

int
identity_token_digest(const char *token, size_t len, unsigned char out[IDENTITY_DIGEST_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == IDENTITY_DIGEST_LEN ? 0 : -1;
}

const struct identity_cfg *
identity_by_token(const struct listener_cfg *l, const char *token, size_t len)
{
	const struct identity_cfg *found = NULL;
	unsigned char digest[IDENTITY_DIGEST_LEN];

	if (identity_token_digest(token, len, digest) < 0)
		return NULL;
	/* No early exit: every digest is compared, whichever matches. */
	for (size_t i = 0; i < l->n_ids; i++) {
		const struct identity_cfg *id = l->ids[i];

		for (size_t j = 0; j < id->n_tokens; j++) {
			if (CRYPTO_memcmp(digest, id->tokens[j], IDENTITY_DIGEST_LEN) == 0)
				found = id;
		}
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return found;
}

static size_t
slot_of(const struct cidr *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(k->net.s6_addr); i++)
		h = (h ^ k->net.s6_addr[i]) * 16777619u;
	h = (h ^ k->prefix) * 16777619u;
	return h % FAIL_SLOTS;
}

static unsigned
delay_for(unsigned failures)
{
	unsigned over;

	if (failures <= IDENTITY_FAIL_FREE)
		return 0;
	over = failures - IDENTITY_FAIL_FREE - 1;
	if (over >= 5 || (IDENTITY_FAIL_DELAY_MIN_MS << over) > IDENTITY_FAIL_DELAY_MAX_MS)
		return IDENTITY_FAIL_DELAY_MAX_MS;
	return IDENTITY_FAIL_DELAY_MIN_MS << over;
}

void
identity_failed(const struct listener_cfg *l, const struct in6_addr *peer,
    struct identity_failure *out)
{
	long long now = sys_now_ms();
	struct fail_slot *f;

	memset(out, 0, sizeof(*out));
	addr_prefix(peer, l->per_ip_prefix4, l->per_ip_prefix6, &out->prefix);
	pthread_mutex_lock(&fails.lock);
	f = &fails.slots[slot_of(&out->prefix)];
	if (!f->used || f->key.prefix != out->prefix.prefix ||
	    memcmp(&f->key.net, &out->prefix.net, sizeof(f->key.net)) != 0) {
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->key = out->prefix;
	} else if (now - f->last_ms > IDENTITY_FAIL_WINDOW_MS) {
		f->count = 0;
	}
	if (f->count < UINT32_MAX)
		f->count++;
	f->last_ms = now;
	out->failures = f->count;
	out->delay_ms = delay_for(f->count);
	if (f->logged_ms == 0 || now - f->logged_ms >= IDENTITY_FAIL_LOG_MS) {
		out->log = true;
		out->suppressed = f->unlogged;
		f->unlogged = 0;
		f->logged_ms = now;
	} else {
		f->unlogged++;
	}
	pthread_mutex_unlock(&fails.lock);
}
