/* SPDX-License-Identifier: ISC */
/*
 * inject.c - an LD_PRELOAD fault injector for the tcpxd reliability tests
 * (docs/RELIABILITY.md).  Set in the environment of the daemon only:
 *
 *   LD_PRELOAD=.../libtcpxd-fault.so
 *   TCPXD_FAULT_SEED=N      seed of the pseudo-random decisions (default 1)
 *   TCPXD_FAULT_P=0.3       probability that an eligible call is faulted
 *   TCPXD_FAULT=LIST        comma-separated fault kinds (default: none, i.e. off):
 *       write-eio     write()/pwrite() to a regular file fails with EIO
 *       write-enospc  write()/pwrite() to a regular file fails with ENOSPC
 *       write-short   write()/pwrite() to a regular file writes fewer bytes
 *       fsync-eio     fsync()/fdatasync() fails with EIO (files and directories)
 *       fsync-dir-eio fsync()/fdatasync() of a directory fails with EIO
 *       sock-eintr    recv()/read()/send()/write() on a socket fail with EINTR
 *                     (nothing transferred)
 *       sock-short    the same calls on a socket transfer fewer bytes
 *     and the groups "file" (the first four), "sock" (the last two), "all".
 *   TCPXD_FAULT_SWITCH=PATH faults fire only while PATH exists (lets a test
 *                           turn them off and on in a running daemon)
 *   TCPXD_FAULT_LOG=PATH    one line per injected fault: "<thread> <call> <fd> <fault>"
 *   TCPXD_FAULT_HOLD=PATH   a FIFO: a faulted directory fsync first opens it for
 *                           reading and reads it to EOF, so a test knows (its
 *                           open for writing returns) that the daemon stands
 *                           between link and fsync, changes the directory, and
 *                           lets the fault go on by closing its end
 *
 * Descriptors 0-2 are never touched (the daemon logs to stderr).  Decisions
 * are deterministic for a given seed and sequence of calls: every thread
 * that makes an eligible call gets an index (1, 2, ... in order of its first
 * such call) and its own xorshift generator seeded from (seed, index), so
 * there is no shared mutable state but one atomic counter.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum {
	F_WRITE_EIO = 1 << 0,
	F_WRITE_ENOSPC = 1 << 1,
	F_WRITE_SHORT = 1 << 2,
	F_FSYNC_EIO = 1 << 3,
	F_SOCK_EINTR = 1 << 4,
	F_SOCK_SHORT = 1 << 5,
	F_FSYNC_DIR_EIO = 1 << 6,
};
#define F_FILE (F_WRITE_EIO | F_WRITE_ENOSPC | F_WRITE_SHORT | F_FSYNC_EIO)
#define F_ALL (F_FILE | F_SOCK | F_FSYNC_DIR_EIO)
#define F_SOCK (F_SOCK_EINTR | F_SOCK_SHORT)

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static unsigned kinds;
static uint32_t threshold;      /* fault when next() < threshold (of 2^32) */
static uint64_t seed = 1;
static const char *switch_path;
static const char *hold_path;
static int log_fd = -1;
static atomic_uint thread_count;
static __thread uint64_t rng;
static __thread unsigned thread_index;

static void
resolve(void)
{
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_recv = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	real_send = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

__attribute__((constructor)) static void
init(void)
{
	const char *s;

	resolve();
	if ((s = getenv("TCPXD_FAULT_SEED")) != NULL)
		seed = strtoull(s, NULL, 0);
	double p = 0.3;
	if ((s = getenv("TCPXD_FAULT_P")) != NULL)
		p = strtod(s, NULL);
	if (p < 0)
		p = 0;
	threshold = p >= 1 ? UINT32_MAX : (uint32_t)(p * 4294967296.0);
	switch_path = getenv("TCPXD_FAULT_SWITCH");
	hold_path = getenv("TCPXD_FAULT_HOLD");
	if ((s = getenv("TCPXD_FAULT_LOG")) != NULL)
		log_fd = open(s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if ((s = getenv("TCPXD_FAULT")) != NULL) {
		char buf[256], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", s);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			static const struct { const char *name; unsigned bits; } names[] = {
				{ "write-eio", F_WRITE_EIO }, { "write-enospc", F_WRITE_ENOSPC },
				{ "write-short", F_WRITE_SHORT }, { "fsync-eio", F_FSYNC_EIO },
				{ "fsync-dir-eio", F_FSYNC_DIR_EIO },
				{ "sock-eintr", F_SOCK_EINTR }, { "sock-short", F_SOCK_SHORT },
				{ "file", F_FILE }, { "sock", F_SOCK }, { "all", F_ALL },
			};
			size_t i;

			for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				if (strcmp(t, names[i].name) == 0) {
					kinds |= names[i].bits;
					break;
				}
			}
			if (i == sizeof(names) / sizeof(names[0])) {
				static const char msg[] = "libtcpxd-fault: unknown fault kind in TCPXD_FAULT\n";
				(void)real_write(2, msg, sizeof(msg) - 1);
				_exit(125);
			}
		}
	}
}

static uint64_t
splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t
next32(void)
{
	if (thread_index == 0) {
		thread_index = atomic_fetch_add(&thread_count, 1) + 1;
		rng = splitmix(seed ^ splitmix(thread_index)) | 1;
	}
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static int
active(void)
{
	struct stat st;

	if (kinds == 0 || threshold == 0)
		return 0;
	return switch_path == NULL || stat(switch_path, &st) == 0;
}

/* 0 = not a candidate, else S_IFREG / S_IFSOCK / S_IFDIR. */
static unsigned
fd_type(int fd)
{
	struct stat st;

	if (fd <= 2 || fstat(fd, &st) < 0)
		return 0;
	return st.st_mode & S_IFMT;
}

static void
note(const char *call, int fd, const char *what)
{
	char line[128];
	int n;

	if (log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%u %s %d %s\n", thread_index, call, fd, what);
	if (n > 0)
		(void)real_write(log_fd, line, (size_t)n);
}

/* Picks one of the enabled kinds in mask, or 0 for "no fault this time". */
static unsigned
decide(unsigned mask)
{
	unsigned enabled = kinds & mask, n = 0, pick;

	if (enabled == 0 || next32() >= threshold)
		return 0;
	for (unsigned b = enabled; b; b &= b - 1)
		n++;
	pick = next32() % n;
	for (unsigned b = enabled; b; b &= b - 1) {
		if (pick-- == 0)
			return b & -b;
	}
	return 0;
}

static size_t
shorter(size_t len)
{
	return len <= 1 ? len : 1 + next32() % (len - 1);   /* 1 .. len-1 */
}

/* Returns 1 and sets *ret when the call is faulted; may shorten *len. */
static int
file_write_fault(const char *call, int fd, size_t *len, ssize_t *ret)
{
	unsigned f;

	if (*len == 0 || !active() || fd_type(fd) != S_IFREG)
		return 0;
	switch ((f = decide(F_WRITE_EIO | F_WRITE_ENOSPC | F_WRITE_SHORT))) {
	case F_WRITE_EIO:
		note(call, fd, "EIO");
		errno = EIO;
		*ret = -1;
		return 1;
	case F_WRITE_ENOSPC:
		note(call, fd, "ENOSPC");
		errno = ENOSPC;
		*ret = -1;
		return 1;
	case F_WRITE_SHORT:
		*len = shorter(*len);
		note(call, fd, "short");
		return 0;
	default:
		return 0;
	}
}

static int
sock_fault(const char *call, int fd, size_t *len, ssize_t *ret)
{
	if (*len == 0 || !active() || fd_type(fd) != S_IFSOCK)
		return 0;
	switch (decide(F_SOCK)) {
	case F_SOCK_EINTR:
		note(call, fd, "EINTR");
		errno = EINTR;
		*ret = -1;
		return 1;
	case F_SOCK_SHORT:
		*len = shorter(*len);
		note(call, fd, "short");
		return 0;
	default:
		return 0;
	}
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	ssize_t ret;

	if (real_write == NULL)
		resolve();
	if (file_write_fault("write", fd, &len, &ret) || sock_fault("write", fd, &len, &ret))
		return ret;
	return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t ret;

	if (real_pwrite == NULL)
		resolve();
	if (file_write_fault("pwrite", fd, &len, &ret))
		return ret;
	return real_pwrite(fd, buf, len, off);
}

ssize_t
read(int fd, void *buf, size_t len)
{
	ssize_t ret;

	if (real_read == NULL)
		resolve();
	if (sock_fault("read", fd, &len, &ret))
		return ret;
	return real_read(fd, buf, len);
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t ret;

	if (real_recv == NULL)
		resolve();
	if (sock_fault("recv", fd, &len, &ret))
		return ret;
	return real_recv(fd, buf, len, flags);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t ret;

	if (real_send == NULL)
		resolve();
	if (sock_fault("send", fd, &len, &ret))
		return ret;
	return real_send(fd, buf, len, flags);
}

/* Waits until the test has opened and closed the hold FIFO (TCPXD_FAULT_HOLD). */
static void
hold(void)
{
	char buf[64];
	int fd;

	if (hold_path == NULL || (fd = open(hold_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while (real_read(fd, buf, sizeof(buf)) > 0)
		continue;
	close(fd);
}

static int
sync_fault(const char *call, int fd)
{
	unsigned t;

	if (!active() || ((t = fd_type(fd)) != S_IFREG && t != S_IFDIR))
		return 0;
	if (decide(t == S_IFDIR ? F_FSYNC_EIO | F_FSYNC_DIR_EIO : F_FSYNC_EIO) == 0)
		return 0;
	note(call, fd, t == S_IFDIR ? "EIO-dir" : "EIO");
	if (t == S_IFDIR)
		hold();
	errno = EIO;
	return 1;
}

int
fsync(int fd)
{
	if (real_fsync == NULL)
		resolve();
	return sync_fault("fsync", fd) ? -1 : real_fsync(fd);
}

int
fdatasync(int fd)
{
	if (real_fdatasync == NULL)
		resolve();
	return sync_fault("fdatasync", fd) ? -1 : real_fdatasync(fd);
}
