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
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/services/mark.h"
#include "daemon/services/store.h"
#include "io/sys.h"
#include "wire/addr.h"

#define TMP_PREFIX ".tcpxd-tmp."
#define LINK_ATTEMPTS 1000

/*
 * The space that uploads in flight on one file system have claimed but not
 * written yet.  Written bytes already show in f_bavail, so only the rest is
 * counted here; stores of several listeners, and of several configuration
 * generations, on one file system share one account.
 */
struct fs_account {
	dev_t dev;
	atomic_ullong claimed;
	unsigned refs;                  /* under accounts_lock */
	struct fs_account *next;
};

static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_account *accounts;

struct store {
	int dirfd;
	unsigned file_mode;
	int use_tmpfile;
	atomic_int link_via_proc;   /* AT_EMPTY_PATH refused: link through /proc/self/fd */
	struct fs_account *account;
	uint64_t block;             /* allocation unit: claims are whole blocks */
	uint64_t min_free_space;
	uint64_t min_free_inodes;   /* or STORE_INODES_AUTO */
	uint64_t claim_step;        /* a raw upload claims at least this much at a time */
	uint64_t page;              /* writeback is started for whole pages */
	pthread_mutex_t partial_lock;
	int partial_dirfd;          /* PARTIAL_DIR, opened when first needed; -1 before */
};

static int link_tmpfile(struct upload *up, const char *name);
static uint64_t whole_blocks(const struct store *st, uint64_t bytes);

static atomic_ullong name_seq;
static atomic_bool no_xattr;

void
store_no_xattr(bool on)
{
	atomic_store(&no_xattr, on);
}

/*
 * The mark as an xattr of the file, so the fsync that follows makes it
 * durable with the data.  0, 1 when the file system keeps no user xattrs
 * (the mark becomes a record file), or -1 with errno.
 */
static int
set_mark_xattr(struct upload *up)
{
	if (atomic_load(&no_xattr))
		return 1;
	if (fsetxattr(up->fd, MARK_XATTR, up->mark, up->mark_len, 0) == 0)
		return 0;
	return errno == ENOTSUP || errno == EPERM ? 1 : -1;
}
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

/* Both temporary files are opened for reading too: a large upload is hashed from them (hasher.h). */
static int
open_tmpfile(struct store *st)
{
	return openat(st->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, st->file_mode);
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
		fd = openat(st->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
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

static struct fs_account *
account_get(dev_t dev)
{
	struct fs_account *a;

	pthread_mutex_lock(&accounts_lock);
	for (a = accounts; a != NULL && a->dev != dev; a = a->next)
		continue;
	if (a == NULL && (a = calloc(1, sizeof(*a))) != NULL) {
		a->dev = dev;
		atomic_init(&a->claimed, 0);
		a->next = accounts;
		accounts = a;
	}
	if (a != NULL)
		a->refs++;
	pthread_mutex_unlock(&accounts_lock);
	return a;
}

static void
account_put(struct fs_account *a)
{
	struct fs_account **pp;

	if (a == NULL)
		return;
	pthread_mutex_lock(&accounts_lock);
	if (--a->refs == 0) {
		for (pp = &accounts; *pp != a; pp = &(*pp)->next)
			continue;
		*pp = a->next;
		free(a);
	}
	pthread_mutex_unlock(&accounts_lock);
}

/* Finds the directory's file system account and allocation units.  0, or -1 with a reason. */
static int
open_account(struct store *st, const char *path, char *err, size_t errlen)
{
	struct statvfs vfs;
	struct stat sb;
	long page;

	if (fstat(st->dirfd, &sb) < 0 || fstatvfs(st->dirfd, &vfs) < 0) {
		snprintf(err, errlen, "output_dir \"%s\": %s", path, strerror(errno));
		return -1;
	}
	st->block = vfs.f_frsize > 0 ? (uint64_t)vfs.f_frsize : 1;
	page = sysconf(_SC_PAGESIZE);
	st->page = page > 0 ? (uint64_t)page : 4096;
	if ((st->account = account_get(sb.st_dev)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static struct store *
store_new(unsigned file_mode, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->file_mode = file_mode;
	st->dirfd = -1;
	st->partial_dirfd = -1;
	pthread_mutex_init(&st->partial_lock, NULL);
	return st;
}

/*
 * The checks of an opened directory (st->dirfd): its file system account,
 * and whether a file can be made and linked in it.  0, or -1 with a reason.
 */
static int
store_probe(struct store *st, const char *path, unsigned flags, char *err, size_t errlen)
{
	struct upload probe_up;
	char probe[48];
	int fd;

	if (open_account(st, path, err, errlen) < 0)
		return -1;
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
			return -1;
		}
		unlinkat(st->dirfd, probe, 0);
		sys_close(fd);
	} else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
		/* No O_TMPFILE on this filesystem: prove a named file can be made instead. */
		fd = open_named_tmp(st, probe, sizeof(probe));
		if (fd < 0) {
			snprintf(err, errlen, "output_dir \"%s\" is not writable: %s", path, strerror(errno));
			return -1;
		}
		unlinkat(st->dirfd, probe, 0);
		sys_close(fd);
	} else {
		snprintf(err, errlen, "output_dir \"%s\" is not writable: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
store_open(const char *path, unsigned file_mode, unsigned flags, struct store **out,
    char *err, size_t errlen)
{
	struct store *st;

	*out = NULL;
	if ((st = store_new(file_mode, err, errlen)) == NULL)
		return -1;
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		snprintf(err, errlen, "output_dir \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	if (store_probe(st, path, flags, err, errlen) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

int
store_open_sub(struct store *parent, const char *subdir, const char *path, unsigned flags,
    struct store **out, char *err, size_t errlen)
{
	/* Whoever may read the files may list the directory: r gives x. */
	mode_t mode = (mode_t)(parent->file_mode | (parent->file_mode & 0444) >> 2);
	bool made = false;
	struct store *st;

	*out = NULL;
	if ((st = store_new(parent->file_mode, err, errlen)) == NULL)
		return -1;
	if (flags & STORE_NO_CREATE) {
		struct stat sb;

		if (fstatat(parent->dirfd, subdir, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
			store_close(st);
			return 0;
		}
	} else if (mkdirat(parent->dirfd, subdir, mode) == 0) {
		made = true;
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	/* O_NOFOLLOW: a symbolic link planted in its place must not lead elsewhere. */
	st->dirfd = openat(parent->dirfd, subdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->dirfd < 0) {
		struct stat sb;
		int saved = errno;

		/* Linux says ENOTDIR or ELOOP for a link: name what is there instead. */
		snprintf(err, errlen, "\"%s\": %s", path, (saved == ENOTDIR || saved == ELOOP) &&
		    fstatat(parent->dirfd, subdir, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(sb.st_mode) ? "is a symbolic link, not a directory" : strerror(saved));
		goto fail;
	}
	/* Its name must be durable before the first receipt names a file inside. */
	if (made && (fsync(st->dirfd) < 0 || fsync(parent->dirfd) < 0)) {
		/*
		 * Never trusted to a later fsync: taken away, so the next attempt
		 * makes it again and starts the sequence afresh.
		 */
		snprintf(err, errlen, "cannot make \"%s\" durable: %s", path, strerror(errno));
		unlinkat(parent->dirfd, subdir, AT_REMOVEDIR);
		goto fail;
	}
	if (store_probe(st, path, flags, err, errlen) < 0)
		goto fail;
	st->min_free_space = parent->min_free_space;
	st->min_free_inodes = parent->min_free_inodes;
	st->claim_step = parent->claim_step;
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
	account_put(st->account);
	if (st->dirfd >= 0)
		sys_close(st->dirfd);
	if (st->partial_dirfd >= 0)
		sys_close(st->partial_dirfd);
	pthread_mutex_destroy(&st->partial_lock);
	free(st);
}

void
store_keep_free(struct store *st, uint64_t min_free_space, uint64_t min_free_inodes,
    uint64_t claim_step)
{
	st->min_free_space = min_free_space;
	st->min_free_inodes = min_free_inodes;
	st->claim_step = claim_step;
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
store_partial_dir(struct store *st, bool create)
{
	int fd;

	pthread_mutex_lock(&st->partial_lock);
	if (st->partial_dirfd < 0) {
		/* Only the daemon may look inside: partial data is nobody's file yet. */
		if (create && mkdirat(st->dirfd, STORE_PARTIAL_DIR, 0700) == 0) {
			/* Its name must outlast a crash before the offsets it will hold are answered. */
			if (fsync(st->dirfd) < 0)
				goto out;
		} else if (create && errno != EEXIST) {
			goto out;
		}
		st->partial_dirfd = openat(st->dirfd, STORE_PARTIAL_DIR,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
out:
	fd = st->partial_dirfd;
	pthread_mutex_unlock(&st->partial_lock);
	return fd;
}

void
store_begin_from(struct store *st, struct upload *up, int fd, uint64_t written)
{
	up->store = st;
	up->tmpname[0] = '\0';
	up->fd = fd;
	up->link_fd = true;
	up->sync_failed = false;
	up->mark = NULL;
	up->record[0] = '\0';
	up->written = up->flushed = up->next_check = written;
	up->claimed = whole_blocks(st, written);
}

int
store_begin(struct store *st, struct upload *up)
{
	up->store = st;
	up->tmpname[0] = '\0';
	up->link_fd = false;
	up->sync_failed = false;
	up->mark = NULL;
	up->record[0] = '\0';
	up->written = up->flushed = up->claimed = up->next_check = 0;
	if (st->use_tmpfile)
		up->fd = open_tmpfile(st);
	else
		up->fd = open_named_tmp(st, up->tmpname, sizeof(up->tmpname));
	if (up->fd < 0)
		return -1;
	return 0;
}

static uint64_t
whole_blocks(const struct store *st, uint64_t bytes)
{
	uint64_t rest = bytes % st->block;

	if (rest == 0)
		return bytes;
	return bytes > UINT64_MAX - (st->block - rest) ? UINT64_MAX : bytes + (st->block - rest);
}

/* What the upload has claimed and not yet written: its share of the account. */
static uint64_t
unwritten_claim(const struct upload *up)
{
	uint64_t used = whole_blocks(up->store, up->written);

	return up->claimed > used ? up->claimed - used : 0;
}

/* Sets what the upload has claimed (whole blocks), keeping the account in step. */
static void
set_claim(struct upload *up, uint64_t claimed)
{
	atomic_ullong *account = &up->store->account->claimed;
	uint64_t before = unwritten_claim(up), after;

	up->claimed = claimed;
	after = unwritten_claim(up);
	if (after > before)
		atomic_fetch_add(account, after - before);
	else
		atomic_fetch_sub(account, before - after);
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/*
 * Whether the file system still has the store's reserve free once every
 * claim is written, and the upload can grow to expected bytes beyond its
 * claim as well (not held: later claims may take that room).  The caller
 * has added its own claim to the account before: of two uploads claiming
 * at once, the later one to add sees the other's claim, either still in
 * the account or already written and so in f_bavail, which is read after
 * the account.
 */
static int
check_reserve(struct upload *up, uint64_t expected)
{
	struct store *st = up->store;
	uint64_t claimed, unclaimed, min_inodes;
	struct statvfs vfs;

	if (st->min_free_space == 0 && st->min_free_inodes == 0)
		return STORE_RESERVE_OK;
	expected = whole_blocks(st, expected);
	unclaimed = expected > up->claimed ? expected - up->claimed : 0;
	claimed = atomic_load(&st->account->claimed);
	if (fstatvfs(up->fd, &vfs) < 0)
		return -1;
	/* Without a reserve, claims made ahead must not refuse what still fits: ENOSPC decides. */
	if (st->min_free_space > 0 && sat_mul(vfs.f_bavail, vfs.f_frsize) <
	    sat_add(sat_add(st->min_free_space, claimed), unclaimed))
		return STORE_LOW_SPACE;
	/* This upload's own inode is already taken: the reserve is what is left after it. */
	min_inodes = st->min_free_inodes;
	if (min_inodes == STORE_INODES_AUTO)
		min_inodes = store_auto_inodes(vfs.f_files);
	if (vfs.f_files > 0 && vfs.f_favail < min_inodes)
		return STORE_LOW_INODES;
	return STORE_RESERVE_OK;
}

uint64_t
store_auto_inodes(uint64_t total)
{
	return total / 100 > STORE_AUTO_INODES_MIN ? total / 100 : STORE_AUTO_INODES_MIN;
}

/* The reserve is checked again at least this often, for what others write meanwhile. */
#define RECHECK_BYTES ((uint64_t)8 << 20)

static int
reserve(struct upload *up, uint64_t size, uint64_t expected)
{
	struct store *st = up->store;
	bool grows = whole_blocks(st, size) > up->claimed;
	int rc;

	if (grows) {
		uint64_t ahead = sat_add(up->written, st->claim_step);

		set_claim(up, whole_blocks(st, size > ahead ? size : ahead));
	}
	/* Only space is claimed: a free-inode reserve alone needs no check for it. */
	if (!(grows && st->min_free_space > 0) && expected == 0 && up->written < up->next_check)
		return STORE_RESERVE_OK;
	if ((rc = check_reserve(up, expected)) != STORE_RESERVE_OK) {
		int saved = errno;

		set_claim(up, whole_blocks(st, up->written));
		errno = saved;
		return rc;
	}
	up->next_check = sat_add(up->written, RECHECK_BYTES);
	return STORE_RESERVE_OK;
}

int
store_reserve(struct upload *up, uint64_t size)
{
	return reserve(up, size, 0);
}

int
store_expect(struct upload *up, uint64_t size)
{
	return reserve(up, up->written, size);
}

/* Without a space reserve, at most this much is written before writeback starts. */
#define WRITEBACK_CHUNK ((uint64_t)8 << 20)

/*
 * How much of an upload may wait for writeback.  With a space reserve, one
 * claim step: ext4 takes the blocks it allocates for written data (delayed
 * allocation) off its free count a moment before it releases their
 * reservation, so for that moment f_bavail counts them twice.  Left to the
 * fsync, a whole upload showed as used twice (2 MiB dips below the reserve,
 * a microsecond or two long); allocated a claim step at a time, no upload
 * shows more than a claim step and a page twice.
 */
static uint64_t
writeback_chunk(const struct store *st)
{
	return st->min_free_space > 0 && st->claim_step > 0 ? st->claim_step : WRITEBACK_CHUNK;
}

/*
 * Starts writing the data to disk while the rest still arrives, so the
 * fsync at the end waits only for the tail instead of the whole file.  It
 * only starts I/O (a failure shows again at fsync): durability still comes
 * from store_commit().  Only whole pages: a page sent while partly written
 * would still be under writeback when the rest of it is due, and
 * writeback that does not wait skips such a page.
 */
static void
start_writeback(struct upload *up)
{
	uint64_t end = up->written - up->written % up->store->page;

	if (end > up->flushed) {
		(void)sync_file_range(up->fd, (off_t)up->flushed, (off_t)(end - up->flushed),
		    SYNC_FILE_RANGE_WRITE);
		up->flushed = end;
	}
}

int
store_write(struct upload *up, const void *buf, size_t len)
{
	uint64_t before = unwritten_claim(up);

	if (sat_add(up->written - up->flushed, len) > writeback_chunk(up->store))
		start_writeback(up);
	if (sys_write_all(up->fd, buf, len) < 0)
		return -1;
	up->written += len;
	/* Only now do the bytes show in f_bavail: until then the claim counts them. */
	atomic_fetch_sub(&up->store->account->claimed, before - unwritten_claim(up));
	return 0;
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

/*
 * Removes name only while it is still this upload's file: a collector may
 * have moved the file away since the link, and another upload (a thread
 * here or a reuseport sibling) published an acknowledged file under the
 * same name.  Linux has no "unlink this name if it is this inode" call, so
 * a window remains between the comparison and unlinkat(); it is a few
 * instructions wide, against a whole directory fsync without the check.
 * The alternatives are worse: renaming the name aside first, to check the
 * inode in private, would hide another client's acknowledged file for a
 * moment and lose it to a crash in between (start-up cleanup removes
 * temporary names), and leaving the name in place would publish a file
 * whose upload was refused.  A name left is reported in up->unremoved.
 */
static void
unlink_own(struct upload *up, const char *name)
{
	struct store *st = up->store;
	const char *why;

	if (!still_linked(st, name, up->fd))
		why = "the name is no longer this upload's file";
	else if (unlinkat(st->dirfd, name, 0) < 0)
		why = strerror(errno);
	else
		return;
	snprintf(up->unremoved, sizeof(up->unremoved), "%s", name);
	snprintf(up->unremoved_error, sizeof(up->unremoved_error), "%s", why);
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

int
store_name_free(struct store *st, const char *wanted)
{
	char name[STORE_NAME_MAX];
	struct stat sb;

	for (int attempt = 0; next_name(name, sizeof(name), wanted, NULL, attempt) == 0; attempt++) {
		if (fstatat(st->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 1 : -1;
	}
	return 0;
}

static int
commit(struct upload *up, const char *wanted, const struct in6_addr *peer, char *name,
    size_t namelen)
{
	struct store *st = up->store;
	int in_record = 0;

	up->record[0] = '\0';
	up->unremoved[0] = up->unremoved_error[0] = '\0';
	if (fchmod(up->fd, st->file_mode) < 0)
		goto fail;
	if (up->mark != NULL && (in_record = set_mark_xattr(up)) < 0)
		goto fail;
	if (fsync(up->fd) < 0) {
		up->sync_failed = true;
		goto fail;
	}
	for (int attempt = 0;; attempt++) {
		if (next_name(name, namelen, wanted, peer, attempt) < 0) {
			errno = EEXIST;
			goto fail;
		}
		if ((st->use_tmpfile || up->link_fd ? link_tmpfile(up, name) :
		    link_named_tmp(up, name)) == 0)
			break;
		if (errno != EEXIST)
			goto fail;
	}
	/* The record is published by the same directory fsync as the file. */
	if (in_record && mark_record_write(st->dirfd, name, up->mark, up->mark_len, up->record,
	    sizeof(up->record)) < 0) {
		int saved = errno;

		up->record[0] = '\0';
		unlink_own(up, name);
		errno = saved;
		goto fail;
	}
	if (fsync(st->dirfd) < 0) {
		/* Not durable, so not acknowledged: take the name back. */
		int saved = errno;

		unlink_own(up, name);
		if (up->record[0] != '\0')
			unlinkat(st->dirfd, up->record, 0);
		up->record[0] = '\0';
		errno = saved;
		goto fail;
	}
	set_claim(up, 0);
	sys_close(up->fd);
	up->fd = -1;
	return 0;
fail:
	if (up->link_fd) {
		/* A partial stays for a resume: its owner decides (store_begin_from()). */
		int saved = errno;

		set_claim(up, 0);
		errno = saved;
	} else {
		store_abort(up);
	}
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
	set_claim(up, 0);
	sys_close(up->fd);
	up->fd = -1;
	errno = saved;
}
