/* SPDX-License-Identifier: ISC */
/*
 * counts.c - named connection counts (counts.h): a short list under one
 * mutex, held for a string compare and an increment.  A count whose last
 * slot is given back stays, unlinked only by count_fini(): the few names a
 * configuration has are kept, never freed under a connection.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/counts.h"

#define NAME_LEN (LISTENER_NAME_MAX > IDENTITY_NAME_MAX ? LISTENER_NAME_MAX : IDENTITY_NAME_MAX)

struct count {
	enum count_kind kind;
	unsigned taken;
	char name[NAME_LEN + 1];
	struct count *next;
};

static struct {
	pthread_mutex_t lock;
	struct count *head;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Called with reg.lock held. */
static struct count *
find_locked(enum count_kind kind, const char *name)
{
	for (struct count *c = reg.head; c != NULL; c = c->next) {
		if (c->kind == kind && strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

enum count_status
count_take(enum count_kind kind, const char *name, unsigned max, struct count **out)
{
	enum count_status st = COUNT_OK;
	struct count *c;

	*out = NULL;
	pthread_mutex_lock(&reg.lock);
	if ((c = find_locked(kind, name)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			st = COUNT_NOMEM;
			goto out;
		}
		c->kind = kind;
		strncpy(c->name, name, sizeof(c->name) - 1);
		c->next = reg.head;
		reg.head = c;
	}
	if (max != 0 && c->taken >= max) {
		st = COUNT_FULL;
		goto out;
	}
	c->taken++;
	*out = c;
out:
	pthread_mutex_unlock(&reg.lock);
	return st;
}

void
count_put(struct count *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&reg.lock);
	c->taken--;
	pthread_mutex_unlock(&reg.lock);
}

unsigned
count_now(enum count_kind kind, const char *name)
{
	struct count *c;
	unsigned n;

	pthread_mutex_lock(&reg.lock);
	n = (c = find_locked(kind, name)) != NULL ? c->taken : 0;
	pthread_mutex_unlock(&reg.lock);
	return n;
}

void
count_fini(void)
{
	pthread_mutex_lock(&reg.lock);
	while (reg.head != NULL) {
		struct count *c = reg.head;

		reg.head = c->next;
		free(c);
	}
	pthread_mutex_unlock(&reg.lock);
}
