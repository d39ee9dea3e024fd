/* SPDX-License-Identifier: ISC */
/* stats.h - process-wide counters shown in STATUS= and logs. */
#ifndef TCPXD_STATS_H
#define TCPXD_STATS_H

#include <stdatomic.h>

struct stats {
	atomic_ullong accepted;
	atomic_ullong refused;
	atomic_ullong uploads_stored;
	atomic_ullong uploads_failed;   /* refused with ERR or aborted */
	atomic_ullong connections_empty;        /* any listener: ended before sending a byte */
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

#endif
