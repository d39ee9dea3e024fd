/* SPDX-License-Identifier: ISC */
/*
 * drain.c - one thread that holds refused sockets for up to DRAIN_MS,
 * discarding what the client still sends, then closes them.  The set is
 * bounded: past DRAIN_MAX sockets a refusal simply closes, so a flood of
 * refused clients costs a fixed amount of memory and descriptors, and
 * fewer when the descriptor budget says so (drain_set_max).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/drain.h"
#include "daemon/log.h"
#include "io/sys.h"

#define DRAIN_MS 2000

static struct {
	pthread_mutex_t lock;
	int fds[DRAIN_MAX];
	long long deadline[DRAIN_MAX];
	int count;
	int max;                    /* <= DRAIN_MAX */
	int wake_fd;
	bool stopping;
	bool running;
	pthread_t thread;
} dr = { .lock = PTHREAD_MUTEX_INITIALIZER, .max = DRAIN_MAX, .wake_fd = -1 };

static void
remove_at(int i)
{
	sys_close(dr.fds[i]);
	dr.count--;
	dr.fds[i] = dr.fds[dr.count];
	dr.deadline[i] = dr.deadline[dr.count];
}

static void *
drain_main(void *arg)
{
	struct pollfd pfd[DRAIN_MAX + 1];
	char sink[4096];

	(void)arg;
	for (;;) {
		long long now = sys_now_ms(), next = now + DRAIN_MS;
		int n;

		pthread_mutex_lock(&dr.lock);
		if (dr.stopping) {
			while (dr.count > 0)
				remove_at(0);
			pthread_mutex_unlock(&dr.lock);
			return NULL;
		}
		for (int i = 0; i < dr.count;) {
			if (dr.deadline[i] <= now) {
				remove_at(i);
				continue;
			}
			if (dr.deadline[i] < next)
				next = dr.deadline[i];
			i++;
		}
		n = dr.count;
		for (int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = dr.fds[i], .events = POLLIN };
		pthread_mutex_unlock(&dr.lock);

		pfd[0] = (struct pollfd){ .fd = dr.wake_fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n + 1, (int)(next - now)) < 0 && errno != EINTR) {
			log_warn("drain: poll");
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(dr.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("drain: eventfd");
		}
		pthread_mutex_lock(&dr.lock);
		/* Only this thread removes entries, so indexes 0..n-1 are still ours. */
		for (int i = n - 1; i >= 0; i--) {
			if (pfd[i + 1].revents == 0)
				continue;
			ssize_t r = recv(dr.fds[i], sink, sizeof(sink), MSG_DONTWAIT);

			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				remove_at(i);
		}
		pthread_mutex_unlock(&dr.lock);
	}
}

int
drain_start(void)
{
	int err;

	if ((dr.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -1;
	if ((err = pthread_create(&dr.thread, NULL, drain_main, NULL)) != 0) {
		sys_close(dr.wake_fd);
		dr.wake_fd = -1;
		errno = err;
		return -1;
	}
	pthread_mutex_lock(&dr.lock);
	dr.running = true;
	pthread_mutex_unlock(&dr.lock);
	return 0;
}

void
drain_set_max(int max)
{
	pthread_mutex_lock(&dr.lock);
	dr.max = max < 0 ? 0 : max > DRAIN_MAX ? DRAIN_MAX : max;
	pthread_mutex_unlock(&dr.lock);
}

void
drain_add(int fd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&dr.lock);
	if (!dr.running || dr.stopping || dr.count >= dr.max) {
		pthread_mutex_unlock(&dr.lock);
		sys_close(fd);
		return;
	}
	dr.fds[dr.count] = fd;
	dr.deadline[dr.count] = sys_now_ms() + DRAIN_MS;
	dr.count++;
	if (write(dr.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("drain: eventfd");
	pthread_mutex_unlock(&dr.lock);
}

void
drain_stop(void)
{
	uint64_t one = 1;

	if (!dr.running)
		return;
	pthread_mutex_lock(&dr.lock);
	dr.stopping = true;
	pthread_mutex_unlock(&dr.lock);
	if (write(dr.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("drain: eventfd");
	pthread_join(dr.thread, NULL);
	pthread_mutex_lock(&dr.lock);
	dr.running = false;
	sys_close(dr.wake_fd);
	dr.wake_fd = -1;
	pthread_mutex_unlock(&dr.lock);
}
