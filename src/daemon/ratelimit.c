/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.c - token buckets as a theoretical arrival time (GCRA): a
 * bucket holds the time at which all it has let through would have passed
 * at its rate.  A charge moves that time on by n / rate and the caller
 * waits for whatever of it lies more than RATE_BURST_NS ahead of now.
 * Connections sharing a bucket so queue behind each other in the order
 * they charge, fairly, without a thread of their own; the bucket's mutex
 * is held for a few arithmetic operations only.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/config.h"
#include "daemon/ratelimit.h"

#define NAME_MAX_LEN (LISTENER_NAME_MAX > IDENTITY_NAME_MAX ? LISTENER_NAME_MAX : IDENTITY_NAME_MAX)
#define NS_PER_S 1000000000ULL

struct rate {
	pthread_mutex_t lock;
	atomic_ullong bytes_per_s;      /* 0 = unlimited */
	long long tat_ns;               /* theoretical arrival time of the next byte */
	enum rate_kind kind;
	char name[NAME_MAX_LEN + 1];
	struct rate *next;
};

static struct {
	pthread_mutex_t lock;
	struct rate *head;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

long long
rate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * (long long)NS_PER_S + ts.tv_nsec;
}

/* Called with reg.lock held. */
static struct rate *
find_locked(enum rate_kind kind, const char *name)
{
	for (struct rate *r = reg.head; r != NULL; r = r->next) {
		if (r->kind == kind && strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

/* Called with reg.lock held. */
static struct rate *
make_locked(enum rate_kind kind, const char *name)
{
	struct rate *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	atomic_init(&r->bytes_per_s, 0);
	r->kind = kind;
	strncpy(r->name, name, sizeof(r->name) - 1);
	r->next = reg.head;
	reg.head = r;
	return r;
}

struct rate *
rate_get(enum rate_kind kind, const char *name)
{
	struct rate *r;

	pthread_mutex_lock(&reg.lock);
	if ((r = find_locked(kind, name)) == NULL)
		r = make_locked(kind, name);
	pthread_mutex_unlock(&reg.lock);
	return r;
}

int
rate_configure(enum rate_kind kind, const char *const *names, const uint64_t *rates, size_t n)
{
	int rc = 0;

	pthread_mutex_lock(&reg.lock);
	/* Make every bucket first, so that a failure changes nothing. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (rates[i] != 0 && find_locked(kind, names[i]) == NULL &&
		    make_locked(kind, names[i]) == NULL)
			rc = -1;
	}
	for (struct rate *r = reg.head; r != NULL && rc == 0; r = r->next) {
		uint64_t v = 0;

		if (r->kind != kind)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(r->name, names[i]) == 0)
				v = rates[i];
		}
		atomic_store_explicit(&r->bytes_per_s, v, memory_order_relaxed);
	}
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

uint64_t
rate_of(const struct rate *r)
{
	return r == NULL ? 0 : atomic_load_explicit((atomic_ullong *)&r->bytes_per_s,
	    memory_order_relaxed);
}

size_t
rate_chunk(const struct rate *r, size_t len)
{
	uint64_t bps = rate_of(r), burst;

	if (bps == 0)
		return len;
	/* rate * RATE_BURST_NS / 1e9, without overflow for any rate the configuration allows. */
	burst = bps / (NS_PER_S / (uint64_t)RATE_BURST_NS);
	if (burst == 0)
		burst = 1;
	return burst < len ? (size_t)burst : len;
}

long long
rate_charge(struct rate *r, uint64_t n, long long now_ns)
{
	uint64_t bps = rate_of(r);
	unsigned __int128 cost;
	long long tat, ready;

	if (bps == 0 || n == 0)
		return now_ns;
	cost = (unsigned __int128)n * NS_PER_S / bps;
	if (cost > (unsigned __int128)LLONG_MAX / 4)
		cost = LLONG_MAX / 4;
	pthread_mutex_lock(&r->lock);
	/* A bucket left unused refills up to the burst, never beyond. */
	tat = r->tat_ns > now_ns ? r->tat_ns : now_ns;
	tat += (long long)cost;
	r->tat_ns = tat;
	pthread_mutex_unlock(&r->lock);
	ready = tat - RATE_BURST_NS;
	return ready > now_ns ? ready : now_ns;
}

void
rate_wait(int fd, long long until_ns)
{
	for (;;) {
		long long left = until_ns - rate_now_ns();
		/* events 0: only a hang-up or an error wakes poll(), never the peer's data or FIN. */
		struct pollfd pfd = { .fd = fd, .events = 0 };
		int ms, n;

		if (left <= 0)
			return;
		ms = left / 1000000 >= INT_MAX ? INT_MAX : (int)((left + 999999) / 1000000);
		n = poll(&pfd, 1, ms);
		if (n < 0 && errno != EINTR)
			return;
		if (n > 0)
			return;         /* POLLHUP, POLLERR or POLLNVAL: the read will tell */
	}
}

void
rate_fini(void)
{
	pthread_mutex_lock(&reg.lock);
	while (reg.head != NULL) {
		struct rate *r = reg.head;

		reg.head = r->next;
		pthread_mutex_destroy(&r->lock);
		free(r);
	}
	pthread_mutex_unlock(&reg.lock);
}
