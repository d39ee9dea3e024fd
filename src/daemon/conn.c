/* SPDX-License-Identifier: ISC */
/*
 * conn.c - admission and lifetime of connections.  The accept loop calls
 * conn_dispatch(); every limit is checked there, before pthread_create, so
 * overload turns into refusals, never into an outage.  One mutex guards
 * the registry (a list for shutdown, a per-address count table); it is
 * held only for bookkeeping, never across I/O.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/conn.h"
#include "daemon/counts.h"
#include "daemon/drain.h"
#include "daemon/identity.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/park.h"
#include "daemon/proxy_read.h"
#include "daemon/ratelimit.h"
#include "daemon/services/echo.h"
#include "daemon/services/receive.h"
#include "daemon/stats.h"
#include "io/sys.h"
#include "io/tls.h"
#include "wire/receipt.h"

/* A PROXY header and a TLS handshake together get this long (or idle_timeout, if shorter). */
#define PREAMBLE_TIMEOUT_MS 10000

#define IP_BUCKETS 4096

/*
 * max_per_ip counts connections per network: the peer's address cut to
 * its listener's per_ip_prefix4/6.  The key holds the prefix length too,
 * so listeners with the same prefix lengths share one count per network
 * (as max_per_ip always has), and a listener with other lengths counts
 * its own; a reload that changes them leaves the keys of connections in
 * flight as they were admitted.
 */
struct ip_count {
	struct cidr key;
	unsigned count;
	struct ip_count *next;
};

/*
 * A generation that connections in flight still hold keeps its output
 * directories open after a reload: the descriptor budget counts them.
 * gen is only a key here, never followed.
 */
struct gen_use {
	const struct gen *gen;
	unsigned conns;
	unsigned dirs;
};

static struct {
	pthread_mutex_t lock;
	struct conn *head;
	unsigned active;            /* registered: threads the daemon waits for at a stop */
	unsigned limited;           /* of those, holding one of max_connections (release_limits) */
	struct ip_count *buckets[IP_BUCKETS];
	unsigned long long fd_cap;  /* descriptors admitted connections may use (conn_set_fd_cap) */
	struct gen_use *gens;       /* the generations connections hold, and their directories */
	size_t n_gens, cap_gens;
	int wake_fd;
	atomic_bool want_wakeup;
	bool last_to_leave;         /* test hook: threads outlive a stopping daemon */
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd_cap = ULLONG_MAX, .wake_fd = -1 };

enum refusal { REFUSE_DENIED, REFUSE_NOT_PROXY, REFUSE_BUSY, REFUSE_LISTENER_BUSY,
	REFUSE_CLIENT_BUSY, REFUSE_PER_IP, REFUSE_THREAD, REFUSE_NOMEM, REFUSE_COUNT };

static const struct {
	int code;
	const char *reply;
	const char *reason;     /* reason= of the refused log line */
	const char *result;     /* for refusals made on the connection's own thread */
} refusals[REFUSE_COUNT] = {
	[REFUSE_DENIED]    = { 403, "forbidden", "denied", "refused-denied" },
	[REFUSE_NOT_PROXY] = { 403, "forbidden", "not-in-proxy_from", "refused-not-proxy" },
	[REFUSE_BUSY]      = { 503, "busy: max_connections", "max_connections", "refused-busy" },
	/* The same answer: which max_connections was reached is the operator's business. */
	[REFUSE_LISTENER_BUSY] = { 503, "busy: max_connections", "listener-max_connections",
		"refused-busy" },
	[REFUSE_CLIENT_BUSY] = { 503, "busy: max_connections", "client-max_connections",
		"refused-busy" },
	[REFUSE_PER_IP]    = { 503, "busy: max_per_ip", "max_per_ip", "refused-per-ip" },
	[REFUSE_THREAD]    = { 503, "busy: no thread", "no-thread", "refused-busy" },
	[REFUSE_NOMEM]     = { 503, "busy: out of memory", "out-of-memory", "refused-busy" },
};

/*
 * Refusals are logged at most once a second per listener and reason, so
 * a flood on one listener hides nothing on another; the rest are counted.
 * Keyed by name, which outlives reloads.  Accept thread only.
 */
struct refusal_log {
	char listener[LISTENER_NAME_MAX + 1];
	long long window_ms[REFUSE_COUNT];
	unsigned suppressed[REFUSE_COUNT];
};

static struct {
	struct refusal_log *v;
	size_t n;
} rlogs;

int
conn_init(int wake_fd, bool fault_hooks)
{
	reg.wake_fd = wake_fd;
	reg.last_to_leave = fault_hooks;
	return 0;
}

void
conn_fini(void)
{
	for (size_t i = 0; i < IP_BUCKETS; i++) {
		while (reg.buckets[i] != NULL) {
			struct ip_count *e = reg.buckets[i];

			reg.buckets[i] = e->next;
			free(e);
		}
	}
	free(rlogs.v);
	rlogs.v = NULL;
	rlogs.n = 0;
	free(reg.gens);
	reg.gens = NULL;
	reg.n_gens = reg.cap_gens = 0;
}

static unsigned
gen_dirs(const struct gen *g)
{
	/* An output directory and its partial directory (store_partial_dir). */
	return 2 * (unsigned)cfg_output_dirs(g->cfg);
}

/* Room for one more generation in reg.gens, so that gen_use_add() cannot fail.  Locked. */
static int
gen_use_reserve(void)
{
	struct gen_use *v;
	size_t cap = reg.cap_gens ? 2 * reg.cap_gens : 4;

	if (reg.n_gens < reg.cap_gens)
		return 0;
	if ((v = realloc(reg.gens, cap * sizeof(*v))) == NULL)
		return -1;
	reg.gens = v;
	reg.cap_gens = cap;
	return 0;
}

/* Called with the lock held, after gen_use_reserve(). */
static void
gen_use_add(const struct gen *g)
{
	for (size_t i = 0; i < reg.n_gens; i++) {
		if (reg.gens[i].gen == g) {
			reg.gens[i].conns++;
			return;
		}
	}
	reg.gens[reg.n_gens++] = (struct gen_use){ g, 1, gen_dirs(g) };
}

/* Called with the lock held. */
static void
gen_use_del(const struct gen *g)
{
	for (size_t i = 0; i < reg.n_gens; i++) {
		if (reg.gens[i].gen == g && --reg.gens[i].conns == 0) {
			reg.gens[i] = reg.gens[--reg.n_gens];
			return;
		}
	}
}

static size_t
ip_hash(const struct cidr *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < 16; i++)
		h = (h ^ k->net.s6_addr[i]) * 16777619u;
	h = (h ^ k->prefix) * 16777619u;
	return h % IP_BUCKETS;
}

static struct ip_count **
ip_slot(const struct cidr *k)
{
	struct ip_count **pp = &reg.buckets[ip_hash(k)];

	while (*pp != NULL && ((*pp)->key.prefix != k->prefix ||
	    memcmp(&(*pp)->key.net, &k->net, sizeof(k->net)) != 0))
		pp = &(*pp)->next;
	return pp;
}

/* Called with the lock held. */
static void
ip_release(const struct cidr *k)
{
	struct ip_count **pp = ip_slot(k), *e = *pp;

	if (e != NULL && --e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

/* allow/deny: deny wins, and an empty allow list allows everyone not denied. */
static bool
rules_refuse(const struct listener_cfg *l, const struct in6_addr *a)
{
	return cidr_list_match(&l->deny, a) || (l->allow.count > 0 && !cidr_list_match(&l->allow, a));
}

/*
 * Takes one of the max_per_ip slots of c->s.peer's network, which stays in
 * c->ip_key (the log names it).  Called with the lock held.
 */
static enum refusal
ip_acquire_locked(struct conn *c, const struct listener_cfg *l)
{
	struct ip_count **pp, *e;

	addr_prefix(&c->s.peer, l->per_ip_prefix4, l->per_ip_prefix6, &c->ip_key);
	pp = ip_slot(&c->ip_key);
	if ((e = *pp) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return REFUSE_NOMEM;
		e->key = c->ip_key;
		*pp = e;
	} else if (e->count >= l->max_per_ip) {
		return REFUSE_PER_IP;
	}
	e->count++;
	c->ip_counted = true;
	return REFUSE_COUNT;
}

/*
 * Registers c unless a limit says no.  Returns the refusal, or REFUSE_COUNT
 * when admitted.  Behind a balancer (count_ip false) the peer is the
 * balancer: the client's max_per_ip slot is taken once its PROXY header
 * has said who it is.
 */
static enum refusal
admit(struct conn *c, unsigned max_connections, bool count_ip)
{
	enum refusal verdict = REFUSE_COUNT;

	pthread_mutex_lock(&reg.lock);
	if (reg.limited >= max_connections) {
		verdict = REFUSE_BUSY;
		goto out;
	}
	if (gen_use_reserve() < 0) {
		verdict = REFUSE_NOMEM;
		goto out;
	}
	if (count_ip && (verdict = ip_acquire_locked(c, c->s.lcfg)) != REFUSE_COUNT)
		goto out;
	/* Every listener counts, limited or not: a reload may set a limit under connections in flight. */
	switch (count_take(COUNT_LISTENER, c->s.lcfg->name, c->s.lcfg->max_connections,
	    &c->listener_slot)) {
	case COUNT_OK:
		break;
	case COUNT_FULL:
		verdict = REFUSE_LISTENER_BUSY;
		break;
	default:
		verdict = REFUSE_NOMEM;
		break;
	}
	if (verdict != REFUSE_COUNT) {
		if (c->ip_counted)
			ip_release(&c->ip_key);
		c->ip_counted = false;
		goto out;
	}
	gen_use_add(c->gen);
	reg.active++;
	reg.limited++;
	c->limited = true;
	c->prev = NULL;
	c->next = reg.head;
	if (reg.head != NULL)
		reg.head->prev = c;
	reg.head = c;
out:
	pthread_mutex_unlock(&reg.lock);
	return verdict;
}

static enum refusal
ip_acquire(struct conn *c)
{
	enum refusal verdict;

	pthread_mutex_lock(&reg.lock);
	verdict = ip_acquire_locked(c, c->s.lcfg);
	pthread_mutex_unlock(&reg.lock);
	return verdict;
}

/* What c holds against max_connections and max_per_ip.  Called with the lock held. */
static void
release_limits_locked(struct conn *c)
{
	if (c->ip_counted)
		ip_release(&c->ip_key);
	c->ip_counted = false;
	count_put(c->listener_slot);
	c->listener_slot = NULL;
	session_end(&c->s);
	if (c->limited)
		reg.limited--;
	c->limited = false;
}

/*
 * Before the connection's line is logged, so that a client (or a test)
 * that sees the line finds its places free; the thread itself is waited
 * for until unregister().
 */
static void
release_limits(struct conn *c)
{
	pthread_mutex_lock(&reg.lock);
	release_limits_locked(c);
	pthread_mutex_unlock(&reg.lock);
}

/* Undoes admit() but for the generation (gen_release).  Called with the lock held. */
static void
unlink_locked(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		reg.head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	release_limits_locked(c);
	reg.active--;
}

/*
 * Out of the descriptor budget's table first, while c->gen surely names
 * the generation: once unreferenced it may be freed, and the next reload's
 * may be allocated at the same address.
 */
static void
gen_release(struct conn *c)
{
	pthread_mutex_lock(&reg.lock);
	gen_use_del(c->gen);
	pthread_mutex_unlock(&reg.lock);
	gen_unref(c->gen);
}

static void
unregister(struct conn *c)
{
	pthread_mutex_lock(&reg.lock);
	unlink_locked(c);
	/* Hand over under the lock so conn_abort_all() never shuts a reused descriptor. */
	if (c->s.linger)
		drain_add(c->s.io.fd);
	else
		sys_close(c->s.io.fd);
	c->s.io.fd = -1;
	/* Under the lock: once the count reads 0, no thread touches wake_fd any more. */
	if (atomic_load_explicit(&reg.want_wakeup, memory_order_relaxed) && reg.wake_fd >= 0) {
		uint64_t one = 1;

		/* A full eventfd counter already means "wake up": EAGAIN is fine. */
		if (write(reg.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("wake-up eventfd");
	}
	pthread_mutex_unlock(&reg.lock);
}

/* " key=value" with value escaped (log.h), or "" when value is empty. */
static void
field(char *buf, size_t len, const char *key, const char *value)
{
	char v[LOG_VALUE_MAX(STORE_NAME_MAX)];

	if (value[0] == '\0')
		buf[0] = '\0';
	else
		snprintf(buf, len, " %s=%s", key, log_value(v, sizeof(v), value));
}

/* " prefix=NET": the network whose max_per_ip was reached. */
static void
prefix_field(char *buf, size_t len, const struct cidr *net)
{
	char text[ADDR_TEXT_MAX + 8];

	cidr_format(net, text, sizeof(text));
	snprintf(buf, len, " prefix=%s", text);
}

/*
 * The identity a record about c names: the session's once identify() ran
 * (session_client_field()); before, the one the client's address names (a
 * certificate or token that would come later may name another), but
 * behind a PROXY header only once the header named the client.
 */
static const struct identity_cfg *
logged_identity(const struct conn *c)
{
	if (c->identify_ran || c->s.identity != NULL || c->s.busy_identity != NULL)
		return c->s.busy_identity != NULL ? c->s.busy_identity : c->s.identity;
	if (c->s.lcfg->proxy_protocol && !c->proxied)
		return NULL;
	return identity_by_address(c->s.lcfg, &c->s.peer);
}

static void
log_finished(const struct conn *c)
{
	char name[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX], via[ADDR_TEXT_MAX + 8] = "";
	char tls[32] = "", subject[LOG_VALUE_MAX(sizeof(c->subject)) + 16];
	char detail[LOG_VALUE_MAX(sizeof(c->detail)) + 16], stored[LOG_VALUE_MAX(STORE_NAME_MAX) + 16];
	char prefix[ADDR_TEXT_MAX + 16] = "", files[24] = "";
	/*
	 * A balancer's health checks come every few seconds, and probes that
	 * send nothing (port scans, TCP checks) as often: only debug output
	 * shows them (conn_ended_silent).
	 */
	bool health_check = c->s.result != NULL && (strcmp(c->s.result, "ok-health-check") == 0 ||
	    strcmp(c->s.result, "empty") == 0);
	enum log_level level = health_check || c->s.quiet ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	char client[IDENTITY_CLIENT_FIELD_MAX];

	if (!log_enabled(level))
		return;
	addr_format(&c->s.peer, peer, sizeof(peer));
	if (c->proxied) {
		memcpy(via, " via=", 6);
		addr_format(&c->via, via + 5, sizeof(via) - 5);
	}
	if (c->s.io.ssl != NULL)
		snprintf(tls, sizeof(tls), " tls=%s", SSL_get_version(c->s.io.ssl));
	field(subject, sizeof(subject), "subject", c->subject);
	field(detail, sizeof(detail), "error", c->detail);
	field(stored, sizeof(stored), "stored", c->s.stored);
	if (c->s.result == refusals[REFUSE_PER_IP].result)
		prefix_field(prefix, sizeof(prefix), &c->ip_key);
	if (c->s.files > 0)
		snprintf(files, sizeof(files), " files=%u", c->s.files);
	identity_client_field(logged_identity(c), client, sizeof(client));
	log_at(level, "conn listener=%s peer=%s port=%u%s%s%s%s in=%llu out=%llu ms=%lld%s result=%s%s%s%s",
	    log_value(name, sizeof(name), c->s.lcfg->name), peer, c->s.peer_port, client, via, tls, subject,
	    (unsigned long long)c->s.bytes_in, (unsigned long long)c->s.bytes_out,
	    sys_now_ms() - c->start_ms, detail, c->s.result ? c->s.result : "ok", prefix, files, stored);
}


/* The log escapes it (log_value): it may quote what a client sent. */
static void
set_detail(struct conn *c, const char *text)
{
	snprintf(c->detail, sizeof(c->detail), "%s", text);
}

/* Reads the balancer's PROXY header; from here on the client is who it names. */
static bool
read_proxy_header(struct conn *c, long long deadline_ms)
{
	struct proxy_header h;
	const char *why = "";
	int err;

	switch (proxy_read(c->s.io.fd, deadline_ms, &h, &why)) {
	case PROXY_READ_OK:
		break;
	case PROXY_READ_BAD:
		set_detail(c, why);
		c->s.result = "refused-bad-proxy-header";
		session_send_err(&c->s, 400, "bad proxy header");
		return false;
	case PROXY_READ_TIMEOUT:
		c->s.result = "aborted-proxy-timeout";
		session_send_err(&c->s, 408, "proxy header timeout");
		return false;
	case PROXY_READ_CLOSED:
		/* Begun, then cut: a close leaves it incomplete, like a framed header's. */
		err = errno;
		set_detail(c, why);
		if (session_aborting(&c->s)) {
			c->s.result = "aborted-shutdown";
		} else if (err == 0) {
			c->s.result = "refused-bad-proxy-header";
			session_send_err(&c->s, 400, "bad proxy header");
		} else {
			c->s.result = err == ECONNRESET ? "aborted-reset" : "aborted-io-error";
		}
		return false;
	}
	c->s.proxy_local = h.local;
	if (!h.local) {
		c->via = c->s.peer;
		c->s.peer = h.source;
		c->s.peer_port = h.source_port;
		c->proxied = true;
	}
	return true;
}


/*
 * True, with the result set (conn_ended_silent), when the client ended the
 * connection, in order or with a reset, before the byte that comes next: a
 * probe (port scan, nc -z, TCP check) or, after a LOCAL header, a
 * balancer's health check (HAProxy's end with a reset), not a bad header
 * or a failed handshake.  It only peeks, so the PROXY header or the
 * handshake still finds every byte; a timeout is left to what reads next.
 */
static bool
ended_before_a_byte(struct conn *c, long long deadline_ms)
{
	char byte;
	ssize_t n;

	if (sys_wait(c->s.io.fd, POLLIN, deadline_ms) <= 0)
		return false;
	do
		n = recv(c->s.io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0 || (n < 0 && errno != ECONNRESET))
		return false;
	session_ended_silent(&c->s);
	return true;
}

/* A refusal decided on the connection's thread: it was counted accepted, now it is not. */
static void
refuse_admitted(struct conn *c, enum refusal why)
{
	atomic_fetch_sub_explicit(&stats.accepted, 1, memory_order_relaxed);
	stats_add(&stats.refused, 1);
	c->s.result = refusals[why].result;
	session_send_err(&c->s, refusals[why].code, refusals[why].reply);
}

/*
 * What comes before the service: the PROXY header, the rules that needed
 * the client's real address, and the TLS handshake.  The rules come before
 * the handshake, which a client can stretch to the deadline: a client over
 * max_per_ip must not hold slots that long.  True when the service may
 * start.
 */
static bool
conn_prepare(struct conn *c)
{
	const struct listener_cfg *l = c->s.lcfg;
	SSL_CTX *tls = c->tls_ctx;
	long long limit = (long long)l->idle_timeout * 1000, deadline;
	enum refusal why;

	if (!l->proxy_protocol && tls == NULL)
		return true;    /* plain TCP: nothing comes first */
	deadline = sys_now_ms() + (limit < PREAMBLE_TIMEOUT_MS ? limit : PREAMBLE_TIMEOUT_MS);
	if (l->proxy_protocol) {
		if (ended_before_a_byte(c, deadline) || !read_proxy_header(c, deadline))
			return false;
		/* Checked on the accept thread for everyone else (conn_dispatch). */
		if (rules_refuse(l, &c->s.peer)) {
			refuse_admitted(c, REFUSE_DENIED);
			return false;
		}
		if ((why = ip_acquire(c)) != REFUSE_COUNT) {
			refuse_admitted(c, why);
			return false;
		}
	}
	if (tls != NULL) {
		char err[sizeof(c->detail)];

		if (ended_before_a_byte(c, deadline))
			return false;
		if ((c->s.io.ssl = tls_accept(tls, c->s.io.fd, deadline, c->subject, sizeof(c->subject),
		    err, sizeof(err))) == NULL) {
			set_detail(c, err);
			c->s.result = session_aborting(&c->s) ? "aborted-shutdown" : "refused-tls-handshake";
			return false;
		}
	}
	return true;
}

/*
 * Who the client is, as far as the connection tells: a verified
 * certificate first, then the source address.  A receive listener may
 * still learn of a token (receive.c), which comes before the address.
 */
static bool
identify(struct conn *c)
{
	const struct listener_cfg *l = c->s.lcfg;
	const struct identity_cfg *id;
	enum identity_by by = IDENTITY_CERTIFICATE;

	c->identify_ran = true;
	if (l->n_ids == 0)
		return true;
	if ((id = identity_by_certificate(l, c->s.io.ssl)) == NULL) {
		id = identity_by_address(l, &c->s.peer);
		by = IDENTITY_ADDRESS;
	}
	if (id == NULL || session_identify(&c->s, id, by) == 0)
		return true;
	/* Its max_connections are all in use (logged by session_identify). */
	refuse_admitted(c, REFUSE_CLIENT_BUSY);
	return false;
}

/* "conn listener=... peer=... port=... state=WHAT" at debug level. */
static void
log_state(const struct conn *c, const char *what)
{
	char name[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX];

	char client[IDENTITY_CLIENT_FIELD_MAX];

	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	addr_format(&c->s.peer, peer, sizeof(peer));
	identity_client_field(logged_identity(c), client, sizeof(client));
	log_debug("conn listener=%s peer=%s port=%u%s state=%s", log_value(name, sizeof(name),
	    c->s.lcfg->name), peer, c->s.peer_port, client, what);
}

/* The listener's service, from the start or, resumed, from where it parked. */
static enum service_end
conn_serve(struct conn *c)
{
	if (c->s.lcfg->mode == MODE_RECEIVE)
		return receive_serve(&c->s);
	if (c->s.identity != NULL || !c->s.lcfg->require_identity)
		return echo_serve(&c->s);
	if (c->s.proxy_local)
		session_ended_silent(&c->s);    /* a balancer's health check is not a client */
	else
		session_unauthorized(&c->s);    /* echo has no header: nothing else can come */
	return SERVICE_DONE;
}

/*
 * The end of every connection, exactly once, on its thread or the waiting
 * room's: the log line, the counters, the slots and the generation.
 */
static void
conn_end(struct conn *c, bool own_thread)
{
	metrics_conn_closed(c->s.metrics, c->s.result != NULL ? c->s.result : "ok");
	stats_add(&stats.bytes_in, c->s.bytes_in);
	if (c->s.identity != NULL)
		stats_identity_add(c->s.identity->name, c->s.bytes_in);
	stats_add(&stats.bytes_out, c->s.bytes_out);
	release_limits(c);
	log_finished(c);
	netio_tls_end(&c->s.io);
	/*
	 * Once unregister() lets a stopping daemon exit, its exit handlers
	 * (OpenSSL's cleanup among them) run while this thread is still alive:
	 * release everything shared first.  OPENSSL_thread_stop() frees
	 * OpenSSL's per-thread state, whose thread-exit destructors may never
	 * run; the generation's last reference may be ours, and dropping it
	 * frees SSL_CTXs and closes the output directories.
	 */
	OPENSSL_thread_stop();
	gen_release(c);
	unregister(c);
	/*
	 * Under the test hook, linger so that a stopping daemon exits while this
	 * thread is still alive: a sanitizer run then reports anything shared
	 * that is touched after unregister().
	 */
	if (reg.last_to_leave && own_thread)
		usleep(200 * 1000);
	free(c);
}

static bool conn_wake(struct park_entry *e, enum park_wake why);

/*
 * Hands the idle connection to the waiting room; its thread then exits.
 * Everything stays as it was (the registry, its slots, its generation, its
 * TLS state): a parked connection is still open.  0, or -1 when it could
 * not park (it then keeps its thread, and never parks again).
 */
static int
conn_park(struct conn *c)
{
	c->park.fd = c->s.io.fd;
	c->park.idle_at = c->s.idle_since + c->s.io.timeout_ms;
	c->park.wake = conn_wake;
	log_state(c, "parked");
	/* This thread is about to end: OpenSSL's state of it would never be freed. */
	OPENSSL_thread_stop();
	if (park_add(&c->park) == 0)
		return 0;
	log_warn("listener %s: cannot park a connection", c->s.lcfg->name);
	c->s.park_ms = 0;
	return -1;
}

/*
 * Serves c until it ends, or parks (then c is no longer ours).  own_thread:
 * on c's thread, not the waiting room's.
 */
static void
conn_run(struct conn *c, bool own_thread)
{
	while (conn_serve(c) == SERVICE_PARK) {
		if (conn_park(c) == 0)
			return;
		c->s.resumed = true;
	}
	conn_end(c, own_thread);
}

/* A parked connection's new thread. */
static void *
conn_resumed(void *arg)
{
	struct conn *c = arg;

	log_state(c, "resumed");
	conn_run(c, true);
	return NULL;
}

/*
 * The waiting room hands c back.  At a stop it ends here, on the waiting
 * room's thread: its socket is shut, so its service only reads that and
 * logs as it would have on a thread of its own - no thread is started for
 * each of thousands of parked connections.
 */
static bool
conn_wake(struct park_entry *e, enum park_wake why)
{
	struct conn *c = (struct conn *)(void *)((char *)e - offsetof(struct conn, park));
	pthread_t tid;

	c->s.resumed = true;
	c->s.woke_idle = why == PARK_IDLE;
	if (session_aborting(&c->s)) {
		log_state(c, "resumed");
		c->s.park_ms = 0;
		conn_run(c, false);
		return true;
	}
	/*
	 * The new thread may end c, and with it its generation's last
	 * reference, before pthread_create() is done reading the attributes.
	 */
	struct gen *g = gen_ref(c->gen);
	int rc = pthread_create(&tid, &g->thread_attr, conn_resumed, c);

	gen_unref(g);
	return rc == 0;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;

	log_state(c, "started");
	/*
	 * The generation that admitted the connection sets its socket options
	 * and idle timeout: what the listening socket passed on at the TCP
	 * handshake may be another generation's.
	 */
	c->s.io.timeout_ms = (int)c->s.lcfg->idle_timeout * 1000;
	c->s.park_ms = (int)c->s.lcfg->park_after;
	if (listener_configure_conn(c->s.io.fd, c->s.lcfg) < 0) {
		set_detail(c, strerror(errno));
		c->s.result = "aborted-io-error";
	} else if (conn_prepare(c) && identify(c)) {
		conn_run(c, true);
		return NULL;
	}
	conn_end(c, true);
	return NULL;
}

/* This listener's rate-limit state, or NULL when no memory: then every refusal is logged. */
static struct refusal_log *
refusal_log_of(const char *listener)
{
	struct refusal_log *v;

	for (size_t i = 0; i < rlogs.n; i++) {
		if (strcmp(rlogs.v[i].listener, listener) == 0)
			return &rlogs.v[i];
	}
	if ((v = realloc(rlogs.v, (rlogs.n + 1) * sizeof(*v))) == NULL)
		return NULL;
	rlogs.v = v;
	v = &rlogs.v[rlogs.n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->listener, sizeof(v->listener), "%s", listener);
	return v;
}

/* net: the network whose max_per_ip was reached, else NULL. */
static void
log_refusal(const struct in6_addr *peer, const struct cidr *net, const struct listener_cfg *l,
    enum refusal why)
{
	struct refusal_log *rl = refusal_log_of(l->name);
	char name[LOG_VALUE_MAX(LISTENER_NAME_MAX)], text[ADDR_TEXT_MAX];
	char prefix[ADDR_TEXT_MAX + 16] = "", more[32] = "", client[IDENTITY_CLIENT_FIELD_MAX];
	long long now = sys_now_ms();

	if (rl != NULL && now - rl->window_ms[why] < 1000) {
		rl->suppressed[why]++;
		return;
	}
	addr_format(peer, text, sizeof(text));
	/*
	 * Only a logged refusal pays for the lookup, a walk over l's networks.
	 * Behind a balancer the peer is the balancer: no client's address yet.
	 */
	identity_client_field(l->proxy_protocol ? NULL : identity_by_address(l, peer), client,
	    sizeof(client));
	if (net != NULL)
		prefix_field(prefix, sizeof(prefix), net);
	if (rl != NULL && rl->suppressed[why] > 0)
		snprintf(more, sizeof(more), " suppressed=%u", rl->suppressed[why]);
	log_warnx("refused listener=%s peer=%s%s%s reason=%s%s", log_value(name, sizeof(name),
	    l->name), text, client, prefix, refusals[why].reason, more);
	if (rl != NULL) {
		rl->window_ms[why] = now;
		rl->suppressed[why] = 0;
	}
}

static void
refuse(int fd, const struct in6_addr *peer, const struct cidr *net, const struct listener_cfg *l,
    enum refusal why)
{
	stats_add(&stats.refused, 1);
	metrics_conn_refused(metrics_listener(l->name), refusals[why].result);
	/* A TLS client could not read a plain-text answer: it just sees the connection end. */
	if (l->mode == MODE_RECEIVE && l->tls.certificate == NULL) {
		char line[64];
		size_t len = receipt_err(line, sizeof(line), refusals[why].code, refusals[why].reply);

		/* Never blocking: the accept loop must not wait on one client. */
		if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len &&
		    shutdown(fd, SHUT_WR) == 0)
			drain_add(fd);
		else
			sys_close(fd);
	} else {
		sys_close(fd);
	}
	log_refusal(peer, net, l, why);
}

void
conn_dispatch(int fd, const struct sockaddr *peer, struct gen *gen, size_t listener_index)
{
	const struct listener_cfg *l = &gen->cfg->listeners[listener_index];
	struct in6_addr addr;
	struct metrics_listener *metrics;
	struct conn *c;
	enum refusal why;
	pthread_t tid;
	int err;

	memset(&addr, 0, sizeof(addr));
	if (addr_from_sockaddr(peer, &addr) < 0) {
		/* Not an IP peer: no address to check rules or count against. */
		sys_close(fd);
		return;
	}
	if (l->proxy_protocol) {
		/* allow/deny apply to the client the PROXY header names (conn_prepare). */
		if (!cidr_list_match(&l->proxy_from, &addr)) {
			refuse(fd, &addr, NULL, l, REFUSE_NOT_PROXY);
			return;
		}
	} else if (rules_refuse(l, &addr)) {
		refuse(fd, &addr, NULL, l, REFUSE_DENIED);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		refuse(fd, &addr, NULL, l, REFUSE_NOMEM);
		return;
	}
	c->s.io.fd = fd;
	c->s.peer = addr;
	c->s.peer_port = ntohs(peer->sa_family == AF_INET6
	    ? ((const struct sockaddr_in6 *)(const void *)peer)->sin6_port
	    : ((const struct sockaddr_in *)(const void *)peer)->sin_port);
	c->s.lcfg = l;
	c->tls_ctx = gen->tls[listener_index];
	/* The bucket, not the rate: a reload's max_rate applies to connections in flight too. */
	c->s.rates[0] = rate_get(RATE_LISTENER, l->name);
	c->s.tls = c->tls_ctx != NULL;
	c->s.store = c->s.listener_store = gen->stores[listener_index];
	c->s.id_stores = gen->id_stores[listener_index];
	c->s.metrics = metrics_listener(l->name);
	c->start_ms = sys_now_ms();
	c->gen = gen;           /* referenced once admitted */
	atomic_init(&c->s.aborting, false);

	why = admit(c, gen->cfg->max_connections, !l->proxy_protocol);
	if (why != REFUSE_COUNT) {
		struct cidr net = c->ip_key;

		free(c);
		refuse(fd, &addr, why == REFUSE_PER_IP ? &net : NULL, l, why);
		return;
	}
	gen_ref(gen);
	/* Counted open first: the thread may end (and count it closed) before pthread_create returns. */
	metrics = c->s.metrics;
	metrics_conn_open(metrics);
	err = pthread_create(&tid, &gen->thread_attr, conn_main, c);
	if (err == 0) {
		stats_add(&stats.accepted, 1);
	} else {
		/* Take it back out of the registry without closing: refuse() answers and closes. */
		pthread_mutex_lock(&reg.lock);
		unlink_locked(c);
		pthread_mutex_unlock(&reg.lock);
		gen_release(c);
		free(c);
		metrics_conn_gone(metrics);
		refuse(fd, &addr, NULL, l, REFUSE_THREAD);
	}
}

void
conn_set_fd_cap(unsigned long long cap)
{
	pthread_mutex_lock(&reg.lock);
	reg.fd_cap = cap;
	pthread_mutex_unlock(&reg.lock);
}

bool
conn_fd_room(const struct gen *current)
{
	unsigned long long old = 0, budgeted = gen_dirs(current);
	bool room;

	pthread_mutex_lock(&reg.lock);
	/* The budget has room for the directories of one generation before current. */
	for (size_t i = 0; i < reg.n_gens; i++)
		old += reg.gens[i].gen != current ? reg.gens[i].dirs : 0;
	/* One that max_connections refuses needs a descriptor only for a moment. */
	room = reg.limited >= current->cfg->max_connections ||
	    2ull * (reg.active + 1) + (old > budgeted ? old - budgeted : 0) <= reg.fd_cap;
	pthread_mutex_unlock(&reg.lock);
	return room;
}

unsigned
conn_active(void)
{
	unsigned n;

	pthread_mutex_lock(&reg.lock);
	n = reg.active;
	pthread_mutex_unlock(&reg.lock);
	return n;
}

void
conn_want_wakeup(bool on)
{
	atomic_store(&reg.want_wakeup, on);
}

void
conn_abort_all(void)
{
	pthread_mutex_lock(&reg.lock);
	for (struct conn *c = reg.head; c != NULL; c = c->next) {
		atomic_store(&c->s.aborting, true);
		if (c->s.io.fd >= 0)
			shutdown(c->s.io.fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&reg.lock);
}

