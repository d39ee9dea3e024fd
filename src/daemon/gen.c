/* SPDX-License-Identifier: ISC */
/* gen.c - creates and releases configuration generations (see gen.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/gen.h"
#include "io/tls.h"

/* Sanitizers put red zones and shadow frames on the stack. */
#ifdef TCPXD_SANITIZED
#define STACK_FLOOR ((size_t)1 << 20)
#else
#define STACK_FLOOR ((size_t)16 << 10)
#endif

static void
gen_destroy(struct gen *g)
{
	if (g == NULL)
		return;
	if (g->id_stores != NULL) {
		for (size_t i = 0; i < g->cfg->n_listeners; i++) {
			for (size_t j = 0; g->id_stores[i] != NULL && j < g->cfg->listeners[i].n_ids; j++)
				store_close(g->id_stores[i][j]);
			free(g->id_stores[i]);
		}
		free(g->id_stores);
	}
	if (g->stores != NULL) {
		for (size_t i = 0; i < g->cfg->n_listeners; i++)
			store_close(g->stores[i]);
		free(g->stores);
	}
	if (g->tls != NULL) {
		for (size_t i = 0; i < g->cfg->n_listeners; i++)
			SSL_CTX_free(g->tls[i]);
		free(g->tls);
	}
	pthread_attr_destroy(&g->thread_attr);
	cfg_free(g->cfg);
	free(g);
}

/*
 * The subdirectories of listener i's identities, made at load time: a
 * client's first upload then finds its directory durable already, and a
 * directory that cannot be made is a configuration error, not a refusal.
 */
static int
open_identity_stores(struct gen *g, size_t i, unsigned flags, char *err, size_t errlen)
{
	const struct listener_cfg *l = &g->cfg->listeners[i];

	if (l->n_ids == 0)
		return 0;
	if ((g->id_stores[i] = calloc(l->n_ids, sizeof(*g->id_stores[i]))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", g->cfg->path);
		return -1;
	}
	for (size_t j = 0; j < l->n_ids; j++) {
		const struct identity_cfg *id = l->ids[j];
		char path[PATH_MAX], reason[512];

		if (id->subdir == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", l->output_dir, id->subdir);
		if (store_open_sub(g->stores[i], id->subdir, path, flags, &g->id_stores[i][j], reason,
		    sizeof(reason)) < 0) {
			snprintf(err, errlen, "%s:%d: client \"%s\" on listener \"%s\": %s", g->cfg->path,
			    id->line, id->name, l->name, reason);
			return -1;
		}
	}
	return 0;
}

static struct gen *
gen_build(struct config *cfg, unsigned flags, char *err, size_t errlen)
{
	struct gen *g;
	size_t stack;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		cfg_free(cfg);
		return NULL;
	}
	g->cfg = cfg;
	atomic_init(&g->refs, 1);
	pthread_attr_init(&g->thread_attr);
	stack = (size_t)cfg->thread_stack_size;
	if (stack < STACK_FLOOR)
		stack = STACK_FLOOR;
	if (pthread_attr_setstacksize(&g->thread_attr, stack) != 0 ||
	    pthread_attr_setdetachstate(&g->thread_attr, PTHREAD_CREATE_DETACHED) != 0) {
		snprintf(err, errlen, "%s: thread_stack_size %zu is not usable", cfg->path, stack);
		goto fail;
	}
	if ((g->stores = calloc(cfg->n_listeners, sizeof(*g->stores))) == NULL ||
	    (g->id_stores = calloc(cfg->n_listeners, sizeof(*g->id_stores))) == NULL ||
	    (g->tls = calloc(cfg->n_listeners, sizeof(*g->tls))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];
		char reason[512];

		/* A new generation reads the files again: this is how SIGHUP renews certificates. */
		if (l->tls.certificate != NULL &&
		    (g->tls[i] = tls_server_ctx(&l->tls, reason, sizeof(reason))) == NULL) {
			snprintf(err, errlen, "%s:%d: listener \"%s\": %s", l->file, l->tls.line, l->name,
			    reason);
			goto fail;
		}
		if (l->mode != MODE_RECEIVE)
			continue;
		if (store_open(l->output_dir, l->file_mode, 0, &g->stores[i], reason, sizeof(reason)) < 0) {
			snprintf(err, errlen, "%s:%d: listener \"%s\": %s", l->file,
			    l->output_dir_line ? l->output_dir_line : l->line, l->name, reason);
			goto fail;
		}
		store_keep_free(g->stores[i], l->min_free_space, l->min_free_inodes == CFG_INODES_AUTO ?
		    STORE_INODES_AUTO : l->min_free_inodes, l->buffer_size);
		if (open_identity_stores(g, i, flags, err, errlen) < 0)
			goto fail;
	}
	return g;
fail:
	gen_destroy(g);
	return NULL;
}

struct gen *
gen_create(struct config *cfg, char *err, size_t errlen)
{
	return gen_build(cfg, 0, err, errlen);
}

struct gen *
gen_check(struct config *cfg, char *err, size_t errlen)
{
	return gen_build(cfg, STORE_NO_CREATE, err, errlen);
}

struct gen *
gen_ref(struct gen *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void
gen_unref(struct gen *g)
{
	if (g != NULL && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		gen_destroy(g);
}
