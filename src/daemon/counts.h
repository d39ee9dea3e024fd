/* SPDX-License-Identifier: ISC */
/*
 * counts.h - connections at once per listener and per client identity
 * (their max_connections; the global total is conn.c's).  Counts are found
 * by name and outlive reloads, so a connection admitted before a reload
 * still counts against the same name after it, and gives its slot back to
 * the same count when it ends.
 */
#ifndef TCPXD_COUNTS_H
#define TCPXD_COUNTS_H

#include <stdbool.h>

struct count;

enum count_kind { COUNT_LISTENER, COUNT_CLIENT };

enum count_status { COUNT_OK, COUNT_FULL, COUNT_NOMEM };

/*
 * Takes one slot of the count of that kind and name if fewer than max are
 * taken (max 0: no limit, the slot is still counted).  On COUNT_OK *out
 * holds it until count_put().
 */
enum count_status count_take(enum count_kind kind, const char *name, unsigned max,
    struct count **out);
/* Gives a slot back; NULL is ignored. */
void count_put(struct count *c);
/* The slots taken now of that kind and name. */
unsigned count_now(enum count_kind kind, const char *name);
/* Frees the counts (at exit, with no connection left). */
void count_fini(void);

#endif
