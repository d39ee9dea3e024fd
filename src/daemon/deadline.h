/* SPDX-License-Identifier: ISC */
/*
 * deadline.h - a min-heap of deadlines: the waiting room's (park.h) idle
 * timeouts.  Each entry knows its own place, so it leaves the heap in
 * O(log n) when its connection wakes before its deadline.
 */
#ifndef TCPXD_DEADLINE_H
#define TCPXD_DEADLINE_H

#include <stddef.h>

struct deadline_entry {
	long long at;           /* sys_now_ms() time */
	size_t index;           /* its place in the heap (deadline.c) */
};

struct deadlines {
	struct deadline_entry **v;
	size_t n, cap;
};

/* Adds e, whose at is set.  0, or -1 when no memory (e is not in the heap). */
int deadlines_push(struct deadlines *h, struct deadline_entry *e);
/* Takes e, which is in h, out of it. */
void deadlines_remove(struct deadlines *h, struct deadline_entry *e);
/* The earliest entry, or NULL when h is empty. */
struct deadline_entry *deadlines_top(const struct deadlines *h);
void deadlines_free(struct deadlines *h);

#endif
