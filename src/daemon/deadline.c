/* SPDX-License-Identifier: ISC */
/* deadline.c - the binary min-heap of deadline.h. */
#include <stdlib.h>

#include "daemon/deadline.h"

static void
put(struct deadlines *h, size_t i, struct deadline_entry *e)
{
	h->v[i] = e;
	e->index = i;
}

static void
sift_up(struct deadlines *h, size_t i)
{
	struct deadline_entry *e = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent]->at <= e->at)
			break;
		put(h, i, h->v[parent]);
		i = parent;
	}
	put(h, i, e);
}

static void
sift_down(struct deadlines *h, size_t i)
{
	struct deadline_entry *e = h->v[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->v[child + 1]->at < h->v[child]->at)
			child++;
		if (e->at <= h->v[child]->at)
			break;
		put(h, i, h->v[child]);
		i = child;
	}
	put(h, i, e);
}

int
deadlines_push(struct deadlines *h, struct deadline_entry *e)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct deadline_entry **v = realloc(h->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	put(h, h->n++, e);
	sift_up(h, e->index);
	return 0;
}

void
deadlines_remove(struct deadlines *h, struct deadline_entry *e)
{
	size_t i = e->index;
	struct deadline_entry *last = h->v[--h->n];

	if (i == h->n)
		return;
	put(h, i, last);
	/* The entry moved into the hole may belong above it or below it. */
	if (i > 0 && h->v[(i - 1) / 2]->at > last->at)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct deadline_entry *
deadlines_top(const struct deadlines *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

void
deadlines_free(struct deadlines *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
