/* SPDX-License-Identifier: ISC */
/*
 * park.c - the waiting room (park.h).  One thread, one epoll set, one
 * deadline heap, one mutex held only for bookkeeping.  Each socket is
 * armed EPOLLONESHOT: once it fires it cannot fire again, so a woken entry
 * can leave without a race against a second event for it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/park.h"
#include "io/sys.h"

/* A wake that found no thread is offered again this much later. */
#define RETRY_MS 100
#define EVENTS 256

static struct {
	pthread_mutex_t lock;
	struct deadlines heap;  /* every parked entry, by idle_at (or retry time) */
	atomic_uint n;
	int ep, ev;             /* the epoll set; an eventfd that interrupts its wait */
	bool stopping;
	bool started;
	pthread_t thread;
} room = { .lock = PTHREAD_MUTEX_INITIALIZER, .ep = -1, .ev = -1 };

static void
poke(void)
{
	uint64_t one = 1;

	/* A full counter already means "look again": EAGAIN is fine. */
	if (write(room.ev, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("waiting room eventfd");
}

/*
 * Takes e out of the waiting room and offers it back (e->wake).  The
 * socket leaves the epoll set first: the connection's new thread may close
 * it, and a later connection get its number.
 */
static void
take(struct park_entry *e, enum park_wake why)
{
	pthread_mutex_lock(&room.lock);
	deadlines_remove(&room.heap, &e->dl);
	/* A retried entry is out of the set already; else ENOENT cannot happen. */
	if (!e->retry)
		(void)epoll_ctl(room.ep, EPOLL_CTL_DEL, e->fd, NULL);
	pthread_mutex_unlock(&room.lock);
	if (e->wake(e, why)) {
		atomic_fetch_sub(&room.n, 1);
		return;
	}
	/* No thread now: keep it, by its deadline alone, and offer it again soon. */
	pthread_mutex_lock(&room.lock);
	e->retry = true;
	e->why = why;
	e->dl.at = sys_now_ms() + RETRY_MS;
	if (deadlines_push(&room.heap, &e->dl) < 0) {
		/* Cannot fail: the heap had room for it a moment ago and nothing else was added here. */
		log_warnx("waiting room: lost a connection");
	}
	pthread_mutex_unlock(&room.lock);
}

/* The earliest deadline's entry, if it has come. */
static struct park_entry *
due(long long now, int *timeout)
{
	struct deadline_entry *d;
	struct park_entry *e = NULL;

	pthread_mutex_lock(&room.lock);
	*timeout = -1;
	if ((d = deadlines_top(&room.heap)) != NULL) {
		if (d->at <= now) {
			e = (struct park_entry *)(void *)((char *)d - offsetof(struct park_entry, dl));
			*timeout = 0;
		} else {
			long long left = d->at - now;

			*timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
	}
	pthread_mutex_unlock(&room.lock);
	return e;
}

static void *
room_main(void *arg)
{
	struct epoll_event evs[EVENTS];

	(void)arg;
	for (;;) {
		struct park_entry *e;
		int timeout, n;
		bool stop;

		while ((e = due(sys_now_ms(), &timeout)) != NULL)
			take(e, e->retry ? e->why : PARK_IDLE);
		pthread_mutex_lock(&room.lock);
		stop = room.stopping;
		pthread_mutex_unlock(&room.lock);
		if (stop)
			return NULL;
		if ((n = epoll_wait(room.ep, evs, EVENTS, timeout)) < 0) {
			if (errno != EINTR)
				log_warn("waiting room epoll_wait");
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				uint64_t count;

				if (read(room.ev, &count, sizeof(count)) < 0 && errno != EAGAIN)
					log_warn("waiting room eventfd");
				continue;
			}
			/* Readable, hung up, reset or shut by a stop: the connection's own reads say which. */
			take(evs[i].data.ptr, PARK_READY);
		}
	}
}

int
park_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int err;

	if ((room.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if ((room.ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    epoll_ctl(room.ep, EPOLL_CTL_ADD, room.ev, &ev) < 0)
		goto fail;
	room.stopping = false;
	if ((err = pthread_create(&room.thread, NULL, room_main, NULL)) != 0) {
		errno = err;
		goto fail;
	}
	room.started = true;
	return 0;
fail:
	err = errno;
	if (room.ev >= 0)
		sys_close(room.ev);
	sys_close(room.ep);
	room.ev = room.ep = -1;
	errno = err;
	return -1;
}

void
park_fini(void)
{
	if (!room.started)
		return;
	pthread_mutex_lock(&room.lock);
	room.stopping = true;
	pthread_mutex_unlock(&room.lock);
	poke();
	pthread_join(room.thread, NULL);
	room.started = false;
	deadlines_free(&room.heap);
	sys_close(room.ev);
	sys_close(room.ep);
	room.ev = room.ep = -1;
}

int
park_add(struct park_entry *e)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = e };
	bool first;
	int err;

	e->retry = false;
	e->dl.at = e->idle_at;
	pthread_mutex_lock(&room.lock);
	if (deadlines_push(&room.heap, &e->dl) < 0) {
		pthread_mutex_unlock(&room.lock);
		errno = ENOMEM;
		return -1;
	}
	atomic_fetch_add(&room.n, 1);
	if (epoll_ctl(room.ep, EPOLL_CTL_ADD, e->fd, &ev) < 0) {
		err = errno;
		deadlines_remove(&room.heap, &e->dl);
		atomic_fetch_sub(&room.n, 1);
		pthread_mutex_unlock(&room.lock);
		errno = err;
		return -1;
	}
	/* An earlier deadline than the room sleeps towards: wake it to sleep less. */
	first = deadlines_top(&room.heap) == &e->dl;
	pthread_mutex_unlock(&room.lock);
	if (first)
		poke();
	return 0;
}

unsigned
park_count(void)
{
	return atomic_load(&room.n);
}
