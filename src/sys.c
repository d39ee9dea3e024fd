/* SPDX-License-Identifier: ISC */
/*
 * sys.c - wrappers for the syscalls that can be interrupted or short, so
 * that no caller has to remember EINTR loops, partial transfers or SIGPIPE.
 */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

ssize_t
sys_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

int
sys_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int flags = MSG_NOSIGNAL;

	while (len > 0) {
		ssize_t n = send(fd, p, len, flags);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		/*
		 * A blocking send returns short when SO_SNDTIMEO expired (or the
		 * connection failed): nothing has moved for a whole timeout since
		 * those bytes went.  Look once without waiting, rather than wait a
		 * second timeout; a send that makes progress waits normally again.
		 */
		flags = len > 0 && !(flags & MSG_DONTWAIT) ? MSG_NOSIGNAL | MSG_DONTWAIT : MSG_NOSIGNAL;
	}
	return 0;
}

int
sys_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* A regular file never returns 0 for len > 0; don't spin if it does. */
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
sys_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		(void)close(fd); /* Linux frees fd even on EINTR: retrying could close another thread's. */
	errno = saved;
}

int
sys_set_io_timeout(int fd, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

long long
sys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
sys_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline_ms - sys_now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0 && (pfd.revents & POLLNVAL)) {
			errno = EBADF;
			return -1;
		}
		if (n > 0)
			return 1;
	}
}
