/* SPDX-License-Identifier: ISC */
/*
 * metrics_http.c - serves metrics_render() at GET /metrics with
 * libmicrohttpd.  One epoll thread serves every scrape (never a thread per
 * connection); a handful of connections at once, a few per address, and
 * a short timeout bound what a slow or hostile scraper can hold.  None of
 * it touches the data listeners: the only state shared with them is the
 * atomics of metrics.c.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "io/sys.h"

/* Prometheus scrapes over one kept-alive connection: a few are plenty. */
#define CONNECTIONS_MAX 8
/* Half of them per address, so one address cannot hold them all. */
#define PER_IP_MAX 4
/* Seconds a connection may sit idle (a slow header included). */
#define TIMEOUT_S 5
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct endpoint {
	struct MHD_Daemon *mhd;
	struct listener_cfg lc;         /* address and port, as listener.c takes them */
	int fd;
	bool activated;                 /* passed by the service manager: kept by every reload */
};

static struct {
	struct endpoint *cur;           /* in force */
	struct endpoint *next;          /* prepared: replaces cur at commit */
	bool prepared, keep;            /* keep: the next configuration keeps cur */
	struct cidr_list next_allow;
	pthread_mutex_t lock;           /* allow: read by the endpoint's thread at each accept */
	struct cidr_list allow;
} ep = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
cidr_list_clear(struct cidr_list *l)
{
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static int
cidr_list_copy(struct cidr_list *dst, const struct cidr_list *src)
{
	dst->items = calloc(src->count ? src->count : 1, sizeof(*dst->items));
	if (dst->items == NULL)
		return -1;
	if (src->count > 0)
		memcpy(dst->items, src->items, src->count * sizeof(*src->items));
	dst->count = src->count;
	return 0;
}

/* libmicrohttpd asks before it accepts each connection: allow decides. */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct in6_addr a;
	bool ok;

	(void)cls;
	(void)len;
	if (addr_from_sockaddr(sa, &a) < 0)
		return MHD_NO;
	pthread_mutex_lock(&ep.lock);
	ok = ep.allow.count == 0 || cidr_list_match(&ep.allow, &a);
	pthread_mutex_unlock(&ep.lock);
	return ok ? MHD_YES : MHD_NO;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)state;
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
	if ((fp = open_memstream(&text, &len)) == NULL)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	rc = metrics_render(fp) == 0 ? MHD_YES : MHD_NO;
	if (fclose(fp) != 0 || rc != MHD_YES) {
		free(text);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	/* libmicrohttpd frees text with free(), as open_memstream() wants. */
	if ((r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)) == NULL) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* The metrics group as a listener_cfg, for listener.c's binding and comparing. */
static void
as_listener(const struct metrics_cfg *m, struct listener_cfg *l)
{
	memset(l, 0, sizeof(*l));
	l->name = (char *)"metrics";
	l->mode = MODE_RECEIVE;         /* no TCP_NODELAY: a scrape is one response */
	l->address = m->address;
	l->port = m->port;
	l->file = m->file;
	l->line = m->line;
}

static void
endpoint_free(struct endpoint *e)
{
	if (e == NULL)
		return;
	if (e->mhd != NULL)
		MHD_stop_daemon(e->mhd);        /* closes e->fd, the socket it was given */
	else
		sys_close(e->fd);
	free(e->lc.address);
	free(e->lc.file);
	free(e);
}

/* passed_fd: the service manager's socket (taken over), or -1: bind m's address. */
static struct endpoint *
endpoint_start(const struct metrics_cfg *m, int passed_fd, char *err, size_t errlen)
{
	struct endpoint *e = calloc(1, sizeof(*e));
	struct listener_cfg l;
	char reason[512];

	as_listener(m, &l);
	if (e == NULL) {
		snprintf(err, errlen, "%s:%d: metrics: out of memory", m->file, m->line);
		sys_close(passed_fd);
		return NULL;
	}
	e->fd = passed_fd;
	e->activated = passed_fd >= 0;
	e->lc = l;
	/* Its own copies: the configuration that asked for it goes at the next reload. */
	e->lc.address = e->lc.file = NULL;
	if ((e->lc.address = strdup(m->address)) == NULL || (e->lc.file = strdup(m->file)) == NULL) {
		snprintf(err, errlen, "%s:%d: metrics: out of memory", m->file, m->line);
		goto fail;
	}
	if (!e->activated && (e->fd = listener_open(&l, reason, sizeof(reason))) < 0) {
		snprintf(err, errlen, "%s:%d: metrics: %s", m->file, m->line, reason);
		goto fail;
	}
	e->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, accept_policy, NULL, handle,
	    NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTIONS_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)TIMEOUT_S,
	    MHD_OPTION_END);
	if (e->mhd == NULL) {
		snprintf(err, errlen, "%s:%d: metrics: cannot start the HTTP server (libmicrohttpd)",
		    m->file, m->line);
		goto fail;
	}
	return e;
fail:
	endpoint_free(e);
	return NULL;
}

int
metrics_http_prepare(const struct config *cfg, int passed_fd, char *err, size_t errlen)
{
	const struct metrics_cfg *m = &cfg->metrics;
	struct listener_cfg l;
	char reason[512];
	int same = 0;

	metrics_http_abort();
	ep.prepared = true;
	if (m->address == NULL) {
		sys_close(passed_fd);
		return 0;               /* commit stops the endpoint in force, if any */
	}
	if (cidr_list_copy(&ep.next_allow, &m->allow) < 0) {
		snprintf(err, errlen, "%s:%d: metrics: out of memory", m->file, m->line);
		sys_close(passed_fd);
		goto fail;
	}
	as_listener(m, &l);
	if (passed_fd < 0 && ep.cur != NULL && ep.cur->activated) {
		/* As for listeners: the service manager's socket is matched by name, not address. */
		ep.keep = true;
		return 0;
	}
	if (passed_fd < 0 && ep.cur != NULL &&
	    (same = listener_same_socket(&ep.cur->lc, ep.cur->fd, &l, reason, sizeof(reason))) < 0) {
		snprintf(err, errlen, "%s:%d: metrics: %s", m->file, m->line, reason);
		goto fail;
	}
	if (same == 1) {
		ep.keep = true;
		return 0;
	}
	if ((ep.next = endpoint_start(m, passed_fd, err, errlen)) == NULL)
		goto fail;
	return 0;
fail:
	metrics_http_abort();
	return -1;
}

void
metrics_http_commit(void)
{
	struct endpoint *old = NULL;
	struct cidr_list drop;

	if (!ep.prepared)
		return;
	pthread_mutex_lock(&ep.lock);
	drop = ep.allow;
	ep.allow = ep.next_allow;
	pthread_mutex_unlock(&ep.lock);
	ep.next_allow = (struct cidr_list){ 0 };
	cidr_list_clear(&drop);
	if (!ep.keep) {
		old = ep.cur;
		ep.cur = ep.next;
		ep.next = NULL;
		if (old != NULL) {
			char where[INET6_ADDRSTRLEN + 16];

			listener_describe(old->fd, where, sizeof(where));
			log_info("metrics endpoint on %s closed", where);
		}
		endpoint_free(old);
		if (ep.cur != NULL) {
			char where[INET6_ADDRSTRLEN + 16];

			listener_describe(ep.cur->fd, where, sizeof(where));
			log_info("metrics endpoint listening on %s%s", where,
			    ep.cur->activated ? ", passed by the service manager" : "");
		}
	}
	ep.prepared = ep.keep = false;
}

void
metrics_http_abort(void)
{
	endpoint_free(ep.next);
	ep.next = NULL;
	cidr_list_clear(&ep.next_allow);
	ep.prepared = ep.keep = false;
}

void
metrics_http_stop(void)
{
	metrics_http_abort();
	endpoint_free(ep.cur);
	ep.cur = NULL;
	cidr_list_clear(&ep.allow);
}

int
metrics_http_check(const struct config *cfg, char *err, size_t errlen)
{
	struct listener_cfg l;
	char reason[512];

	if (cfg->metrics.address == NULL)
		return 0;
	as_listener(&cfg->metrics, &l);
	if (listener_resolve_check(&l, reason, sizeof(reason)) < 0) {
		snprintf(err, errlen, "%s:%d: metrics: %s", cfg->metrics.file, cfg->metrics.line, reason);
		return -1;
	}
	return 0;
}
