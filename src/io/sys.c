/* SPDX-License-Identifier: ISC */
/*
 * sys.c - wrappers for the syscalls that can be interrupted or short, so
 * that no caller has to remember EINTR loops, partial transfers or SIGPIPE.
 */

#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "io/sys.h"

/*
 * How often a wait looks whether queued bytes moved: a peer that stops
 * reading is cut at most this long after idle_timeout.
 */
#define SLICE_MS 250

static int unacked(int fd);
static void look_for_movement(int fd, int *out, long long *moved);
static int await_since(int fd, short events, int idle_ms, long long deadline_ms,
    long long *moved);

/*
 * Waits as sys_await() after an EAGAIN of a MSG_DONTWAIT call, with the
 * idle clock the caller keeps in *moved: 0 to retry, or -1.
 */
static int
await_retry(int fd, short events, int idle_ms, long long deadline_ms, long long *moved)
{
	if (idle_ms == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return -1;      /* a blocking socket's SO_RCVTIMEO/SO_SNDTIMEO expired, or an error */
	return await_since(fd, events, idle_ms, deadline_ms, moved);
}

ssize_t
sys_recv(int fd, void *buf, size_t len)
{
	return sys_recv_idle(fd, buf, len, 0, 0);
}

ssize_t
sys_recv_idle(int fd, void *buf, size_t len, int idle_ms, long long deadline_ms)
{
	long long moved = sys_now_ms();

	for (;;) {
		ssize_t n = recv(fd, buf, len, idle_ms > 0 ? MSG_DONTWAIT : 0);

		if (n >= 0)
			return n;
		if (errno != EINTR && await_retry(fd, POLLIN, idle_ms, deadline_ms, &moved) < 0)
			return -1;
	}
}

static int
set_rcvtimeo_ms(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

ssize_t
sys_recv_sliced(int fd, void *buf, size_t len, int idle_ms, int park_ms, int *rcvtimeo_ms)
{
	long long moved = sys_now_ms();
	/* park_after below a slice: the first slice ends then (the default is one slice). */
	int first = park_ms > 0 && park_ms < SLICE_MS ? park_ms : SLICE_MS;
	int out = -1;

	/* A long timeout left by an earlier idle spell would miss bytes we sent since moving. */
	if (*rcvtimeo_ms != first) {
		if (set_rcvtimeo_ms(fd, first) < 0)
			return -1;
		*rcvtimeo_ms = first;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);
		long long now, left;
		int want;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		/* A slice passed with nothing received: did what we sent move meanwhile? */
		look_for_movement(fd, &out, &moved);
		now = sys_now_ms();
		if ((left = moved + idle_ms - now) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		/* Idle for park_ms with nothing of ours in flight: the caller may give up its thread. */
		if (park_ms > 0 && out == 0 && now - moved >= park_ms) {
			errno = ETIME;
			return -1;
		}
		/* Nothing of ours queued: nothing can move until the peer sends, so wait it out. */
		want = out != 0 && left > SLICE_MS ? SLICE_MS : (int)left;
		if (park_ms > 0 && out == 0 && moved + park_ms - now < want)
			want = (int)(moved + park_ms - now);
		if (want != *rcvtimeo_ms) {
			if (set_rcvtimeo_ms(fd, want) < 0)
				return -1;
			*rcvtimeo_ms = want;
		}
	}
}

bool
sys_idle_for(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	return n == 0 && unacked(fd) == 0;
}

int
sys_send_all(int fd, const void *buf, size_t len)
{
	return sys_send_all_idle(fd, buf, len, 0, 0);
}

int
sys_send_all_idle(int fd, const void *buf, size_t len, int idle_ms, long long deadline_ms)
{
	const char *p = buf;
	int flags = MSG_NOSIGNAL | (idle_ms > 0 ? MSG_DONTWAIT : 0);
	/*
	 * One idle clock for the whole call: bytes that only enter our own send
	 * buffer (it grows, or memory pressure ends) have not reached the peer.
	 */
	long long moved = sys_now_ms();

	while (len > 0) {
		ssize_t n = send(fd, p, len, flags);

		if (n < 0) {
			if (errno != EINTR && await_retry(fd, POLLOUT, idle_ms, deadline_ms, &moved) < 0)
				return -1;
			continue;
		}
		p += n;
		len -= (size_t)n;
		/*
		 * Without idle_ms, a blocking send returns short when SO_SNDTIMEO
		 * expired (or the connection failed): nothing has moved for a
		 * whole timeout since those bytes went.  Look once without
		 * waiting, rather than wait a second timeout; a send that makes
		 * progress waits normally again.
		 */
		if (idle_ms == 0)
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

void
sys_reset_on_close(int fd, bool on)
{
	struct linger lg = { .l_onoff = on, .l_linger = 0 };

	/* Best effort: without it the close is orderly, only later. */
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
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

/* Bytes sent and not yet acknowledged by the peer (SIOCOUTQ), or -1 if it cannot tell. */
static int
unacked(int fd)
{
	int n;

	return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

/*
 * Our bytes moved when fewer wait to be acknowledged than at the last look
 * (*out; -1 = no look yet: then any queued byte may have moved, so a
 * stopped peer is cut up to a slice late, never early).
 */
static void
look_for_movement(int fd, int *out, long long *moved)
{
	int now_out = unacked(fd);

	if (now_out >= 0 && (*out < 0 ? now_out > 0 : now_out < *out))
		*moved = sys_now_ms();
	*out = now_out;
}

int
sys_await(int fd, short events, int idle_ms, long long deadline_ms)
{
	long long moved = sys_now_ms();

	return await_since(fd, events, idle_ms, deadline_ms, &moved);
}

/* sys_await() with the idle clock started at *moved, which it moves on. */
static int
await_since(int fd, short events, int idle_ms, long long deadline_ms, long long *moved)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	/*
	 * Bytes we sent move without waking poll(): the peer acknowledges
	 * them, but POLLOUT comes only once a third of the send buffer is
	 * free.  What the peer sends wakes a wait to read; while we wait to
	 * send, it only fills our receive buffer, which is no progress.
	 */
	int out = idle_ms > 0 ? unacked(fd) : -1;

	for (;;) {
		long long now = sys_now_ms(), end = LLONG_MAX, left;
		int n;

		if (idle_ms > 0)
			end = *moved + idle_ms;
		if (deadline_ms != 0 && deadline_ms < end)
			end = deadline_ms;
		if ((left = end - now) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		/* While bytes wait to be acknowledged, look whether they moved every slice. */
		if (out > 0 && left > SLICE_MS)
			left = SLICE_MS;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0) {
			if (pfd.revents & POLLNVAL) {
				errno = EBADF;
				return -1;
			}
			/* Room to send is movement only if the peer acknowledged bytes to make it. */
			if (out > 0)
				look_for_movement(fd, &out, moved);
			return 0;
		}
		if (out > 0)
			look_for_movement(fd, &out, moved);
	}
}

int
sys_wait(int fd, short events, long long deadline_ms)
{
	if (sys_await(fd, events, 0, deadline_ms) == 0)
		return 1;
	return errno == EAGAIN ? 0 : -1;
}
