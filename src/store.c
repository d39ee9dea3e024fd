/* SPDX-License-Identifier: ISC */
/*
 * store.c - the only code that touches files in an output directory.  An
 * upload is written to an unnamed O_TMPFILE (or, where the filesystem
 * lacks it, a hidden temporary name held under flock), and becomes visible
 * only through store_commit(): fsync the file, link it under a fresh
 * server-made name that never replaces anything, fsync the directory.
 * Every operation is relative to the opened directory descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "store.h"
#include "sys.h"

#define TMP_PREFIX ".tcpxd-tmp."
#define LINK_ATTEMPTS 1000

struct store {
	int dirfd;
	unsigned file_mode;
	int use_tmpfile;
	atomic_int link_via_proc;   /* AT_EMPTY_PATH refused: link through /proc/self/fd */
};

static int link_tmpfile(struct upload *up, const char *name);

static atomic_ullong name_seq;
static atomic_ullong tmp_seq;

void
store_name_make(char *buf, size_t len, time_t when, const struct in6_addr *peer,
    unsigned long long seq)
{
	char host[ADDR_TEXT_MAX];
	struct tm tm;

	addr_format(peer, host, sizeof(host));
	for (char *p = host; *p; p++) {
		if (*p == ':')
			*p = '-';
	}
	gmtime_r(&when, &tm);
	snprintf(buf, len, "%04d%02d%02dT%02d%02d%02dZ_%s_%06llu.bin",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    host, seq);
}

static int
open_tmpfile(struct store *st)
{
	return openat(st->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, st->file_mode);
}

static bool
still_linked(struct store *st, const char *name, int fd)
{
	struct stat by_fd, by_name;

	return fstat(fd, &by_fd) == 0 && by_fd.st_nlink > 0 &&
	    fstatat(st->dirfd, name, &by_name, AT_SYMLINK_NOFOLLOW) == 0 &&
	    by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino;
}

/* Fallback temporary file: a hidden name, flocked so start-up cleanup spares it. */
static int
open_named_tmp(struct store *st, char *name, size_t len)
{
	for (int attempt = 0; attempt < LINK_ATTEMPTS; attempt++) {
		int fd;

		snprintf(name, len, TMP_PREFIX "%ld.%llu", (long)getpid(),
		    (unsigned long long)atomic_fetch_add(&tmp_seq, 1));
		fd = openat(st->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    st->file_mode);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			unlinkat(st->dirfd, name, 0);
			sys_close(fd);
			return -1;
		}
		/*
		 * Another tcpxd's start-up cleanup may have locked and unlinked the
		 * file between our create and our flock: then take a new name.
		 */
		if (!still_linked(st, name, fd)) {
			sys_close(fd);
			continue;
		}
		return fd;
	}
	errno = EEXIST;
	return -1;
}

int
store_open(const char *path, unsigned file_mode, unsigned flags, struct store **out,
    char *err, size_t errlen)
{
	struct upload probe_up;
	struct store *st;
	char probe[48];
	int fd;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->file_mode = file_mode;
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		snprintf(err, errlen, "output_dir \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	if (flags & STORE_NO_TMPFILE) {
		fd = -1;
		errno = EOPNOTSUPP;
	} else {
		fd = open_tmpfile(st);
	}
	if (fd >= 0) {
		/* Prove the link step too, before a client sends a whole file for nothing. */
		st->use_tmpfile = 1;
		probe_up = (struct upload){ .store = st, .fd = fd };
		snprintf(probe, sizeof(probe), TMP_PREFIX "probe.%ld", (long)getpid());
		if (link_tmpfile(&probe_up, probe) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "output_dir \"%s\": cannot link a file into it: %s", path,
			    strerror(errno));
			sys_close(fd);
			goto fail;
		}
		unlinkat(st->dirfd, probe, 0);
		sys_close(fd);
	} else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
		/* No O_TMPFILE on this filesystem: prove a named file can be made instead. */
		fd = open_named_tmp(st, probe, sizeof(probe));
		if (fd < 0) {
			snprintf(err, errlen, "output_dir \"%s\" is not writable: %s", path, strerror(errno));
			goto fail;
		}
		unlinkat(st->dirfd, probe, 0);
		sys_close(fd);
	} else {
		snprintf(err, errlen, "output_dir \"%s\" is not writable: %s", path, strerror(errno));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sys_close(st->dirfd);
	free(st);
}

int
store_uses_tmpfile(const struct store *st)
{
	return st->use_tmpfile;
}

int
store_remove_stale(struct store *st)
{
	struct dirent *de;
	DIR *dir;
	int fd, removed = 0;

	/* fdopendir takes ownership, so give it its own descriptor. */
	if ((fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		sys_close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		int tfd;

		if (strncmp(de->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0)
			continue;
		tfd = openat(st->dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (tfd < 0)
			continue;
		/* A lock held means another live tcpxd is writing it. */
		if (flock(tfd, LOCK_EX | LOCK_NB) == 0 && unlinkat(st->dirfd, de->d_name, 0) == 0)
			removed++;
		sys_close(tfd);
	}
	closedir(dir);
	return removed;
}

int
store_begin(struct store *st, struct upload *up)
{
	up->store = st;
	up->tmpname[0] = '\0';
	up->written = up->flushed = 0;
	if (st->use_tmpfile)
		up->fd = open_tmpfile(st);
	else
		up->fd = open_named_tmp(st, up->tmpname, sizeof(up->tmpname));
	if (up->fd < 0)
		return -1;
	return 0;
}

/* Writeback is started each time this much more has been written. */
#define WRITEBACK_CHUNK ((uint64_t)8 << 20)

int
store_write(struct upload *up, const void *buf, size_t len)
{
	if (sys_write_all(up->fd, buf, len) < 0)
		return -1;
	up->written += len;
	/*
	 * Start writing the data to disk while the rest still arrives, so the
	 * fsync at the end waits only for the tail instead of the whole file.
	 * It only starts I/O (a failure shows again at fsync): durability still
	 * comes from store_commit().
	 */
	if (up->written - up->flushed >= WRITEBACK_CHUNK) {
		(void)sync_file_range(up->fd, (off_t)up->flushed, (off_t)(up->written - up->flushed),
		    SYNC_FILE_RANGE_WRITE);
		up->flushed = up->written;
	}
	return 0;
}

int
store_low_space(struct upload *up, uint64_t min_free)
{
	struct statvfs vfs;

	if (min_free == 0)
		return 0;
	if (fstatvfs(up->fd, &vfs) < 0)
		return -1;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize < min_free;
}

static int
link_tmpfile(struct upload *up, const char *name)
{
	struct store *st = up->store;
	char proc[48];

	if (!atomic_load_explicit(&st->link_via_proc, memory_order_relaxed)) {
		if (linkat(up->fd, "", st->dirfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		/* Without CAP_DAC_READ_SEARCH the kernel refuses AT_EMPTY_PATH with ENOENT. */
		if (errno != ENOENT && errno != EPERM)
			return -1;
		atomic_store(&st->link_via_proc, 1);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", up->fd);
	return linkat(AT_FDCWD, proc, st->dirfd, name, AT_SYMLINK_FOLLOW);
}

static int
link_named_tmp(struct upload *up, const char *name)
{
	struct store *st = up->store;

	if (renameat2(st->dirfd, up->tmpname, st->dirfd, name, RENAME_NOREPLACE) == 0) {
		up->tmpname[0] = '\0';
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_NOREPLACE here: link never replaces, then drop the temporary name. */
	if (linkat(st->dirfd, up->tmpname, st->dirfd, name, 0) < 0)
		return -1;
	unlinkat(st->dirfd, up->tmpname, 0);
	up->tmpname[0] = '\0';
	return 0;
}

/* Client names get ".1" ... ".999" appended while the name is taken. */
#define SUFFIX_MAX 999

/* The name of the attempt-th try: a client's wanted name, or a made one. */
static int
next_name(char *name, size_t namelen, const char *wanted, const struct in6_addr *peer,
    int attempt)
{
	int n;

	if (wanted == NULL) {
		if (attempt >= LINK_ATTEMPTS)
			return -1;
		store_name_make(name, namelen, time(NULL), peer, atomic_fetch_add(&name_seq, 1) + 1);
		return 0;
	}
	if (attempt > SUFFIX_MAX)
		return -1;
	n = attempt == 0 ? snprintf(name, namelen, "%s", wanted) :
	    snprintf(name, namelen, "%s.%d", wanted, attempt);
	return n > 0 && (size_t)n < namelen && n <= NAME_MAX ? 0 : -1;
}

static int
commit(struct upload *up, const char *wanted, const struct in6_addr *peer, char *name,
    size_t namelen)
{
	struct store *st = up->store;

	if (fchmod(up->fd, st->file_mode) < 0 || fsync(up->fd) < 0)
		goto fail;
	for (int attempt = 0;; attempt++) {
		if (next_name(name, namelen, wanted, peer, attempt) < 0) {
			errno = EEXIST;
			goto fail;
		}
		if ((st->use_tmpfile ? link_tmpfile(up, name) : link_named_tmp(up, name)) == 0)
			break;
		if (errno != EEXIST)
			goto fail;
	}
	if (fsync(st->dirfd) < 0) {
		/* Not durable, so not acknowledged: take the name back. */
		int saved = errno;

		if (unlinkat(st->dirfd, name, 0) < 0) {
			char v[LOG_VALUE_MAX(STORE_NAME_MAX)], e[LOG_VALUE_MAX(64)];

			/* A record, not a message: the name is the client's (log.h). */
			log_warnx("store-unremoved name=%s error=%s why=directory-fsync-failed",
			    log_value(v, sizeof(v), name), log_value(e, sizeof(e), strerror(errno)));
		}
		errno = saved;
		goto fail;
	}
	sys_close(up->fd);
	up->fd = -1;
	return 0;
fail:
	store_abort(up);
	return -1;
}

int
store_commit(struct upload *up, const struct in6_addr *peer, char *name, size_t namelen)
{
	return commit(up, NULL, peer, name, namelen);
}

int
store_commit_named(struct upload *up, const char *wanted, char *name, size_t namelen)
{
	return commit(up, wanted, NULL, name, namelen);
}

void
store_abort(struct upload *up)
{
	int saved = errno;

	if (up->tmpname[0] != '\0') {
		unlinkat(up->store->dirfd, up->tmpname, 0);
		up->tmpname[0] = '\0';
	}
	sys_close(up->fd);
	up->fd = -1;
	errno = saved;
}
