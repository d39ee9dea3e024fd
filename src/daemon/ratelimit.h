/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.h - max_rate: token buckets shared by every connection of a
 * listener or of a client identity.  A bucket is found by its kind and
 * name and lives as long as the process, so a reload keeps what it has
 * spent; its rate is the one the configuration in force gives it
 * (rate_configure), so a reload that changes max_rate slows or frees
 * connections already in flight too.  A limited connection is slowed,
 * never cut: it waits before its next read, outside any lock.
 */
#ifndef TCPXD_RATELIMIT_H
#define TCPXD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct rate;

enum rate_kind { RATE_LISTENER, RATE_CLIENT };

/* Bytes that may pass at once after a quiet spell: this many nanoseconds of the rate. */
#define RATE_BURST_NS 100000000LL

/*
 * The bucket of that kind and name, made (unlimited) on first use.  NULL
 * only when out of memory: the connection is then not limited.
 */
struct rate *rate_get(enum rate_kind kind, const char *name);
/*
 * Sets the rates of every bucket of kind: names[i] gets rates[i] bytes/s,
 * 0 = unlimited, as does every bucket of kind not named.  -1 when out of
 * memory (nothing changed).
 */
int rate_configure(enum rate_kind kind, const char *const *names, const uint64_t *rates,
    size_t n);
/* The bytes/s in force for r; 0 = unlimited. */
uint64_t rate_of(const struct rate *r);
/*
 * The most bytes one read may take (len, or less), so that the wait it
 * earns stays about RATE_BURST_NS.
 */
size_t rate_chunk(const struct rate *r, size_t len);
/*
 * Charges n bytes that just arrived, at now_ns (CLOCK_MONOTONIC).  Returns
 * the time before which the next read must not happen (<= now_ns: none).
 */
long long rate_charge(struct rate *r, uint64_t n, long long now_ns);
/* CLOCK_MONOTONIC in nanoseconds. */
long long rate_now_ns(void);
/*
 * Waits until until_ns, or less if the socket fd is hung up or fails (a
 * stop's shutdown, a reset): the next read then says so at once.  The
 * peer's data and its half-close do not end the wait.
 */
void rate_wait(int fd, long long until_ns);
/* Frees every bucket (at exit, with no connection left). */
void rate_fini(void);

#endif
