/* SPDX-License-Identifier: ISC */
/* stats.c - the process-wide counters (see stats.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/stats.h"

_Static_assert(STATS_NAME_MAX == IDENTITY_NAME_MAX, "identity names fit the table");

struct stats stats;

/*
 * Keyed by name, so the totals outlive reloads; added to once per
 * connection, so a mutex costs nothing next to the connection itself.
 */
static struct {
	pthread_mutex_t lock;
	struct stats_identity v[STATS_IDENTITIES_MAX];
	size_t n;
} ids = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
stats_identity_add(const char *name, unsigned long long bytes)
{
	size_t i;

	pthread_mutex_lock(&ids.lock);
	for (i = 0; i < ids.n && strcmp(ids.v[i].name, name) != 0; i++)
		continue;
	if (i == ids.n && ids.n < STATS_IDENTITIES_MAX)
		snprintf(ids.v[ids.n++].name, sizeof(ids.v[0].name), "%s", name);
	if (i < ids.n)
		ids.v[i].bytes += bytes;
	pthread_mutex_unlock(&ids.lock);
}

size_t
stats_identity_top(struct stats_identity *out, size_t n)
{
	size_t got = 0;

	pthread_mutex_lock(&ids.lock);
	/* Insertion into the short list: n is a handful. */
	for (size_t i = 0; i < ids.n; i++) {
		size_t at = got;

		while (at > 0 && out[at - 1].bytes < ids.v[i].bytes)
			at--;
		if (at >= n)
			continue;
		memmove(&out[at + 1], &out[at], ((got < n ? got : n - 1) - at) * sizeof(*out));
		out[at] = ids.v[i];
		if (got < n)
			got++;
	}
	pthread_mutex_unlock(&ids.lock);
	return got;
}
