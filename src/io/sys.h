/* SPDX-License-Identifier: ISC */
/* sys.h - the one layer for syscalls that can be interrupted or short. */
#ifndef TCPXD_SYS_H
#define TCPXD_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* recv() retried on EINTR: >0 bytes, 0 at EOF, -1 with errno (EAGAIN = SO_RCVTIMEO expired). */
ssize_t sys_recv(int fd, void *buf, size_t len);
/*
 * sys_recv() that never blocks in recv(): it waits in sys_await() with
 * idle_ms and deadline_ms (EAGAIN = timed out).  idle_ms = 0: sys_recv().
 */
ssize_t sys_recv_idle(int fd, void *buf, size_t len, int idle_ms, long long deadline_ms);
/*
 * The daemon's receive on a plain blocking socket, one recv() while data
 * flows: SO_RCVTIMEO wakes it every quarter second, or once at the end of
 * idle_ms when none of our bytes wait to be acknowledged, to see whether
 * what we sent moved.  -1 with EAGAIN once no byte moved for idle_ms.
 * park_ms > 0: -1 with ETIME once nothing moved for park_ms and nothing of
 * ours waits to be acknowledged (the connection may park: park.h).
 * *rcvtimeo_ms is the SO_RCVTIMEO the socket has now, 0 if not known
 * (updated here).
 */
ssize_t sys_recv_sliced(int fd, void *buf, size_t len, int idle_ms, int park_ms, int *rcvtimeo_ms);
/*
 * Waits up to ms for fd to be readable: true when nothing came and
 * nothing we sent waits to be acknowledged (the connection may park).
 */
bool sys_idle_for(int fd, int ms);
/* Sends all of buf with MSG_NOSIGNAL: 0, or -1 with errno (EAGAIN = SO_SNDTIMEO expired). */
int sys_send_all(int fd, const void *buf, size_t len);
/* sys_send_all() that waits in sys_await() as sys_recv_idle() does. */
int sys_send_all_idle(int fd, const void *buf, size_t len, int idle_ms, long long deadline_ms);
/* Writes all of buf to a file: 0, or -1 with errno (ENOSPC, EIO, ...). */
int sys_write_all(int fd, const void *buf, size_t len);
/*
 * on: makes the coming close() reset the connection (SO_LINGER 0): what is
 * queued for a peer that stopped reading is dropped at once, instead of a
 * FIN waiting behind it for a window that may never open; off: an orderly
 * close again.
 */
void sys_reset_on_close(int fd, bool on);
/* close() that never retries and leaves errno as it was. */
void sys_close(int fd);
/* Sets SO_RCVTIMEO and SO_SNDTIMEO to seconds (0 = none), for tcpx's blocking sockets. */
int sys_set_io_timeout(int fd, unsigned seconds);
/* Monotonic clock in milliseconds. */
long long sys_now_ms(void);
/*
 * The one wait on a connected socket: poll() for events on fd, retried on
 * EINTR.  0 when ready (or with an error for the next call to report), or
 * -1 with errno: EAGAIN when no byte moved in either direction for idle_ms
 * (the peer acknowledging what we sent counts, looked at every 0.25 s;
 * 0 = no idle limit) or at deadline_ms (sys_now_ms() time; 0 = none).
 */
int sys_await(int fd, short events, int idle_ms, long long deadline_ms);
/* sys_await() with only a deadline: 1 when ready, 0 at the deadline, -1 with errno. */
int sys_wait(int fd, short events, long long deadline_ms);

#endif
