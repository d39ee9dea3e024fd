/* SPDX-License-Identifier: ISC */
/*
 * gen.h - a generation: one loaded configuration with the resources opened
 * for it (output directories, thread attributes).  Each connection holds a
 * reference to the generation it was accepted under, so a reload never
 * changes the settings of a connection in flight.
 */
#ifndef TCPXD_GEN_H
#define TCPXD_GEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <openssl/ssl.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/services/store.h"

struct gen {
	atomic_uint refs;
	struct config *cfg;
	struct store **stores;          /* per listener; NULL for echo listeners */
	/*
	 * Per listener, the stores of the identities it accepts, in the order
	 * of its ids (config.h): NULL for an identity without subdir, and for
	 * echo listeners.  What session.id_stores points to.
	 */
	struct store ***id_stores;
	SSL_CTX **tls;                  /* per listener; NULL without tls = { ... } */
	pthread_attr_t thread_attr;     /* detached, explicit stack size */
};

/* Takes ownership of cfg.  On failure writes "FILE:LINE: reason" to err; cfg is freed. */
struct gen *gen_create(struct config *cfg, char *err, size_t errlen);
/*
 * gen_create() for tcpxd -t: checks as much, but makes nothing: an
 * identity's missing subdir is left to start-up (its parent was checked).
 */
struct gen *gen_check(struct config *cfg, char *err, size_t errlen);
struct gen *gen_ref(struct gen *g);
void gen_unref(struct gen *g);

#endif
