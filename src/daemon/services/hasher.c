/* SPDX-License-Identifier: ISC */
/*
 * hasher.c - see hasher.h.  Reading the bytes back from the file rather
 * than handing the connection's buffers over keeps receive.c's buffer its
 * own (a version 2 header after a file shares it), needs no ring to wait
 * for, and the copy out of the page cache costs the second core a sixth of
 * what SHA-256 does.  One lock and a condition between the two threads:
 * the connection's thread takes the lock once per write to publish how far
 * the file goes, and wakes the hasher only when it waits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/services/hasher.h"

/* Read back and hashed at a time: in a core's cache, and few preads. */
#define HASH_CHUNK ((size_t)256 << 10)
/* SHA-256 needs little stack; sanitizers put red zones and shadow frames on it. */
#ifdef TCPXD_SANITIZED
#define HASH_STACK ((size_t)1 << 20)
#else
#define HASH_STACK ((size_t)64 << 10)
#endif
/* However many CPUs: each hasher is a thread and a chunk of memory. */
#define LIMIT_MAX 64

struct hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;
	EVP_MD_CTX *md;
	char *buf;
	/* Under lock: */
	uint64_t hashed;        /* the file is hashed up to here */
	uint64_t avail;         /* ... and written up to here */
	bool waiting;           /* the hasher waits for avail to move */
	bool closing;           /* no more bytes: hash to avail and end */
	bool stop;              /* end now */
	int err;                /* a read or hash failed: errno */
};

static unsigned limit;
static atomic_uint active;

void
hasher_init(void)
{
	const char *env = getenv("TCPXD_HASH_THREADS");
	long n;

	if (env != NULL && *env != '\0') {
		char *end;

		n = strtol(env, &end, 10);
		if (*end != '\0' || n < 0)
			n = 0;
	} else {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		/*
		 * On one CPU a second thread only adds switches.  Each upload
		 * hashed in parallel keeps about two cores busy, so more than
		 * the CPUs would not gain either.
		 */
		if (n < 2)
			n = 0;
	}
	limit = n > LIMIT_MAX ? LIMIT_MAX : (unsigned)n;
}

unsigned
hasher_limit(void)
{
	return limit;
}

/* Hashes [at, at + len) of the file.  0, or an errno. */
static int
hash_range(struct hasher *h, uint64_t at, size_t len)
{
	while (len > 0) {
		ssize_t n = pread(h->fd, h->buf, len, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;     /* the file is shorter than what was written to it */
		if (EVP_DigestUpdate(h->md, h->buf, (size_t)n) != 1)
			return ENOMEM;
		at += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
hasher_main(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		uint64_t at = h->hashed;
		size_t len;
		int err;

		while (h->hashed == h->avail && !h->closing && !h->stop) {
			h->waiting = true;
			pthread_cond_wait(&h->cond, &h->lock);
			h->waiting = false;
		}
		if (h->stop || h->hashed == h->avail)
			break;
		len = h->avail - at < HASH_CHUNK ? (size_t)(h->avail - at) : HASH_CHUNK;
		pthread_mutex_unlock(&h->lock);
		err = hash_range(h, at, len);
		pthread_mutex_lock(&h->lock);
		if (err != 0) {
			h->err = err;
			break;
		}
		h->hashed = at + len;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void
hasher_free(struct hasher *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h->buf);
	free(h);
	atomic_fetch_sub(&active, 1);
}

struct hasher *
hasher_start(int fd, EVP_MD_CTX *md, uint64_t from)
{
	struct hasher *h;
	pthread_attr_t attr;
	int err;

	if (atomic_fetch_add(&active, 1) >= limit) {
		atomic_fetch_sub(&active, 1);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL || (h->buf = malloc(HASH_CHUNK)) == NULL) {
		free(h);
		atomic_fetch_sub(&active, 1);
		return NULL;
	}
	h->fd = fd;
	h->md = md;
	h->hashed = h->avail = from;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_attr_init(&attr) != 0) {
		hasher_free(h);
		return NULL;
	}
	err = pthread_attr_setstacksize(&attr, HASH_STACK);
	if (err == 0)
		err = pthread_create(&h->thread, &attr, hasher_main, h);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		hasher_free(h);
		return NULL;
	}
	return h;
}

void
hasher_feed(struct hasher *h, uint64_t written)
{
	pthread_mutex_lock(&h->lock);
	h->avail = written;
	if (h->waiting)
		pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Tells the hasher to end (closing: after the rest), joins and frees it.  Its errno, or 0. */
static int
hasher_end(struct hasher *h, bool closing)
{
	int err;

	pthread_mutex_lock(&h->lock);
	if (closing)
		h->closing = true;
	else
		h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	(void)pthread_join(h->thread, NULL);
	err = h->err;
	hasher_free(h);
	return err;
}

int
hasher_finish(struct hasher *h)
{
	int err = hasher_end(h, true);

	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void
hasher_cancel(struct hasher *h)
{
	(void)hasher_end(h, false);
}
