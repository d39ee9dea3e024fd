/* SPDX-License-Identifier: ISC */
/* sys.h - the one layer for syscalls that can be interrupted or short. */
#ifndef TCPXD_SYS_H
#define TCPXD_SYS_H

#include <stddef.h>
#include <sys/types.h>

/* recv() retried on EINTR: >0 bytes, 0 at EOF, -1 with errno (EAGAIN = timeout). */
ssize_t sys_recv(int fd, void *buf, size_t len);
/* Sends all of buf with MSG_NOSIGNAL: 0, or -1 with errno (EAGAIN = timeout). */
int sys_send_all(int fd, const void *buf, size_t len);
/* Writes all of buf to a file: 0, or -1 with errno (ENOSPC, EIO, ...). */
int sys_write_all(int fd, const void *buf, size_t len);
/* close() that never retries and leaves errno as it was. */
void sys_close(int fd);
/* Sets SO_RCVTIMEO and SO_SNDTIMEO to seconds (0 = none). */
int sys_set_io_timeout(int fd, unsigned seconds);
/* Monotonic clock in milliseconds. */
long long sys_now_ms(void);
/*
 * poll() for events on fd until deadline_ms (sys_now_ms() time), retried
 * on EINTR: 1 when ready (or with an error for the next call to report),
 * 0 at the deadline, -1 with errno.
 */
int sys_wait(int fd, short events, long long deadline_ms);

#endif
