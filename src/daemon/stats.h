/* SPDX-License-Identifier: ISC */
/* stats.h - process-wide counters shown in STATUS= and logs. */
#ifndef TCPXD_STATS_H
#define TCPXD_STATS_H

#include <stdatomic.h>
#include <stddef.h>

struct stats {
	atomic_ullong accepted;
	atomic_ullong refused;
	atomic_ullong uploads_stored;
	atomic_ullong uploads_failed;   /* refused with ERR or aborted */
	atomic_ullong connections_empty;        /* any listener: ended before sending a byte */
	atomic_ullong unauthorized;     /* refused for a missing or wrong credential (ERR 401) */
	atomic_ullong bytes_in;
	atomic_ullong bytes_out;
};

extern struct stats stats;

static inline void
stats_add(atomic_ullong *counter, unsigned long long n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline unsigned long long
stats_get(atomic_ullong *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

/* Longest identity name (IDENTITY_NAME_MAX in config.h). */
#define STATS_NAME_MAX 64
/* Identities counted by name; the bytes of any beyond are not attributed. */
#define STATS_IDENTITIES_MAX 1024

struct stats_identity {
	char name[STATS_NAME_MAX + 1];
	unsigned long long bytes;       /* received from it since the start, over reloads */
};

/* Adds bytes received from the identity name. */
void stats_identity_add(const char *name, unsigned long long bytes);
/* The (up to) n identities that sent the most bytes, the most first.  Returns how many. */
size_t stats_identity_top(struct stats_identity *out, size_t n);

#endif
