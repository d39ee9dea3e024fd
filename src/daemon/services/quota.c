/* SPDX-License-Identifier: ISC */
/*
 * quota.c - exact usage of client identities (quota.h).  Each directory
 * an identity stores into has a table of its files, name -> size, built by
 * a scan and kept by two writers: an upload that is stored adds its file
 * (quota_commit, in the same step as it gives its reservation back), and
 * one inotify thread looks again at every name that is removed or moved
 * in or out (IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO): the name is looked up
 * on the disk under the identity's lock, so whatever order the event and
 * an upload storing the same name come in, the table ends as the disk is.
 * Files tcpxd creates are not watched (IN_CREATE): the upload counts them
 * itself, before it answers, so no event can count one twice.  When the
 * kernel's event queue overflows, every directory is scanned again.
 *
 * Locks: reg.lock (the list of quotas, their directories, the watches),
 * then a quota's lock (its tables and reservations).  Uploads take only
 * their quota's lock, for a few additions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/services/quota.h"
#include "io/sys.h"

#define WATCH_MASK (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
	IN_ONLYDIR | IN_DONT_FOLLOW)

struct qfile {
	struct qfile *next;
	uint64_t size;
	char name[];
};

struct qdir {
	char *path;
	int fd;                     /* the directory, for fstatat() of the names events give */
	int wd;                     /* its inotify watch, or -1 */
	struct qfile **buckets;
	size_t n_buckets, files;
	uint64_t bytes;
	struct qdir *next;
};

struct quota {
	pthread_mutex_t lock;
	char name[IDENTITY_NAME_MAX + 1];
	uint64_t max_bytes, max_files;  /* 0: not limited */
	uint64_t res_bytes, res_files;  /* reserved by uploads in flight */
	struct qdir *dirs;
	struct quota *next;
};

static struct {
	pthread_mutex_t lock;
	struct quota *head;
	int ino_fd;                 /* inotify, or -1 before the first directory */
	int stop_fd;                /* eventfd that ends the watcher */
	pthread_t thread;
	bool running;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER, .ino_fd = -1, .stop_fd = -1 };

static size_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static struct qfile **
slot(struct qdir *d, const char *name)
{
	struct qfile **pp = &d->buckets[name_hash(name) % d->n_buckets];

	while (*pp != NULL && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Doubles the table when it holds twice as many files as buckets.  Best effort. */
static void
grow(struct qdir *d)
{
	size_t n = d->n_buckets * 2;
	struct qfile **b;

	if (d->files < 2 * d->n_buckets || (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (size_t i = 0; i < d->n_buckets; i++) {
		while (d->buckets[i] != NULL) {
			struct qfile *f = d->buckets[i];

			d->buckets[i] = f->next;
			f->next = b[name_hash(f->name) % n];
			b[name_hash(f->name) % n] = f;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->n_buckets = n;
}

/* The file name holds size bytes now.  -1 when out of memory (then it is not counted). */
static int
file_set(struct qdir *d, const char *name, uint64_t size)
{
	struct qfile **pp = slot(d, name), *f = *pp;
	size_t len = strlen(name);

	if (f != NULL) {
		d->bytes = d->bytes - f->size + size;
		f->size = size;
		return 0;
	}
	if ((f = malloc(sizeof(*f) + len + 1)) == NULL)
		return -1;
	memcpy(f->name, name, len + 1);
	f->size = size;
	f->next = NULL;
	*pp = f;
	d->files++;
	d->bytes += size;
	grow(d);
	return 0;
}

static void
file_del(struct qdir *d, const char *name)
{
	struct qfile **pp = slot(d, name), *f = *pp;

	if (f == NULL)
		return;
	*pp = f->next;
	d->files--;
	d->bytes -= f->size;
	free(f);
}

static void
table_clear(struct qdir *d)
{
	for (size_t i = 0; i < d->n_buckets; i++) {
		while (d->buckets[i] != NULL) {
			struct qfile *f = d->buckets[i];

			d->buckets[i] = f->next;
			free(f);
		}
	}
	d->files = 0;
	d->bytes = 0;
}

/* Only what tcpxd stores counts: regular files, never hidden names (its temporaries). */
static bool
counted_name(const char *name)
{
	return name[0] != '.';
}

/*
 * Makes the table say what the disk says of name now.  Called with the
 * quota's lock held, so no upload stores under that name meanwhile.
 */
static void
reconcile(const char *owner, struct qdir *d, const char *name)
{
	struct stat st;

	if (!counted_name(name))
		return;
	if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		if (file_set(d, name, (uint64_t)st.st_size) < 0) {
			char o[LOG_VALUE_MAX(IDENTITY_NAME_MAX)], dir[LOG_VALUE_MAX(PATH_MAX)];
			char file[LOG_VALUE_MAX(NAME_MAX)];

			log_warnx("quota-uncounted client=%s dir=%s file=%s error=out-of-memory",
			    log_value(o, sizeof(o), owner), log_value(dir, sizeof(dir), d->path),
			    log_value(file, sizeof(file), name));
		}
	} else {
		file_del(d, name);
	}
}

/* Reads the directory into its table again.  Called with the quota's lock held.  0, or -1. */
static int
scan(const char *owner, struct qdir *d)
{
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *dir;

	table_clear(d);
	if (fd < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		sys_close(fd);
		return -1;
	}
	errno = 0;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)
			reconcile(owner, d, e->d_name);
		errno = 0;
	}
	if (errno != 0) {
		int err = errno;

		closedir(dir);
		errno = err;
		return -1;
	}
	closedir(dir);
	return 0;
}

static void
dir_free(struct qdir *d)
{
	if (d == NULL)
		return;
	if (d->wd >= 0 && reg.ino_fd >= 0)
		inotify_rm_watch(reg.ino_fd, d->wd);
	table_clear(d);
	free(d->buckets);
	if (d->fd >= 0)
		sys_close(d->fd);
	free(d->path);
	free(d);
}

/*
 * Opens, watches and scans path, which the generation made (gen.c, with
 * the identity's subdir).  Called with reg.lock held.
 */
static struct qdir *
dir_open(const char *owner, const char *path, char *err, size_t errlen)
{
	struct qdir *d = calloc(1, sizeof(*d));

	if (d == NULL || (d->path = strdup(path)) == NULL ||
	    (d->buckets = calloc(64, sizeof(*d->buckets))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	d->n_buckets = 64;
	d->fd = d->wd = -1;
	if ((d->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (reg.ino_fd < 0 && (reg.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		goto fail;
	}
	/* Watched before the scan: a removal during it is an event read after it. */
	if ((d->wd = inotify_add_watch(reg.ino_fd, path, WATCH_MASK)) < 0) {
		snprintf(err, errlen, "%s: inotify watch: %s%s", path, strerror(errno),
		    errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
		goto fail;
	}
	if (scan(owner, d) < 0) {
		snprintf(err, errlen, "%s: cannot read the directory: %s", path, strerror(errno));
		goto fail;
	}
	return d;
fail:
	dir_free(d);
	return NULL;
}

static void
usage_locked(const struct quota *q, uint64_t *bytes, uint64_t *files)
{
	*bytes = q->res_bytes;
	*files = q->res_files;
	for (const struct qdir *d = q->dirs; d != NULL; d = d->next) {
		*bytes += d->bytes;
		*files += d->files;
	}
}

static struct quota *
find_locked(const char *name)
{
	for (struct quota *q = reg.head; q != NULL; q = q->next) {
		if (strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

/* Sets q's directories to those of spec, keeping the tables of the ones it had. */
static int
set_dirs(struct quota *q, const struct quota_spec *spec, char *err, size_t errlen)
{
	struct qdir *keep = NULL, **tail = &keep;

	for (size_t i = 0; i < spec->n_dirs; i++) {
		struct qdir **pp = &q->dirs, *d;
		long long start = sys_now_ms();
		bool fresh = false;

		while (*pp != NULL && strcmp((*pp)->path, spec->dirs[i]) != 0)
			pp = &(*pp)->next;
		if ((d = *pp) != NULL) {
			*pp = d->next;          /* kept: its table is exact already */
		} else {
			for (d = keep; d != NULL && strcmp(d->path, spec->dirs[i]) != 0; d = d->next)
				;
			if (d != NULL)
				continue;       /* named twice (two listeners, one output_dir) */
			if ((d = dir_open(q->name, spec->dirs[i], err, errlen)) == NULL) {
				*tail = q->dirs;
				q->dirs = keep;
				return -1;
			}
			fresh = true;
		}
		d->next = NULL;
		*tail = d;
		tail = &d->next;
		if (fresh) {
			char name[LOG_VALUE_MAX(IDENTITY_NAME_MAX)], path[LOG_VALUE_MAX(PATH_MAX)];

			log_info("quota-scan client=%s dir=%s files=%zu bytes=%llu ms=%lld",
			    log_value(name, sizeof(name), q->name), log_value(path, sizeof(path), d->path),
			    d->files, (unsigned long long)d->bytes, sys_now_ms() - start);
		}
	}
	while (q->dirs != NULL) {
		struct qdir *d = q->dirs;

		q->dirs = d->next;
		dir_free(d);
	}
	q->dirs = keep;
	return 0;
}

void
quota_dir(char *buf, size_t len, const char *output_dir, const char *subdir)
{
	snprintf(buf, len, "%s/%s", output_dir, subdir);
}

int
quota_configure(const struct quota_spec *specs, size_t n, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&reg.lock);
	for (struct quota *q = reg.head; q != NULL; q = q->next) {
		bool named = false;

		for (size_t i = 0; i < n; i++)
			named |= strcmp(q->name, specs[i].name) == 0;
		if (named)
			continue;
		/* No quota any more: uploads in flight may still give back what they hold. */
		pthread_mutex_lock(&q->lock);
		q->max_bytes = q->max_files = 0;
		while (q->dirs != NULL) {
			struct qdir *d = q->dirs;

			q->dirs = d->next;
			dir_free(d);
		}
		pthread_mutex_unlock(&q->lock);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct quota *q = find_locked(specs[i].name);

		if (q == NULL) {
			if ((q = calloc(1, sizeof(*q))) == NULL) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				break;
			}
			pthread_mutex_init(&q->lock, NULL);
			snprintf(q->name, sizeof(q->name), "%s", specs[i].name);
			q->next = reg.head;
			reg.head = q;
		}
		pthread_mutex_lock(&q->lock);
		q->max_bytes = specs[i].max_bytes;
		q->max_files = specs[i].max_files;
		rc = set_dirs(q, &specs[i], err, errlen);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

struct quota *
quota_find(const char *name)
{
	struct quota *q;

	bool limited = false;

	pthread_mutex_lock(&reg.lock);
	if ((q = find_locked(name)) != NULL) {
		pthread_mutex_lock(&q->lock);
		limited = q->max_bytes != 0 || q->max_files != 0;
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
	return limited ? q : NULL;
}

/* Whether bytes more and files more fit.  Called with q's lock held. */
static bool
fits_locked(const struct quota *q, uint64_t bytes, uint64_t files)
{
	uint64_t used_bytes, used_files;

	usage_locked(q, &used_bytes, &used_files);
	return (q->max_bytes == 0 || (used_bytes <= q->max_bytes && bytes <= q->max_bytes - used_bytes)) &&
	    (q->max_files == 0 || (used_files <= q->max_files && files <= q->max_files - used_files));
}

int
quota_begin(struct quota *q, struct quota_hold *h, uint64_t bytes)
{
	int rc = -1;

	*h = (struct quota_hold){ 0 };
	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->lock);
	if (fits_locked(q, bytes, 1)) {
		q->res_bytes += bytes;
		q->res_files++;
		*h = (struct quota_hold){ .q = q, .bytes = bytes, .file = true };
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int
quota_grow(struct quota_hold *h, uint64_t bytes)
{
	struct quota *q = h->q;
	int rc = 0;

	if (q == NULL || bytes <= h->bytes)
		return 0;
	pthread_mutex_lock(&q->lock);
	if (fits_locked(q, bytes - h->bytes, 0)) {
		q->res_bytes += bytes - h->bytes;
		h->bytes = bytes;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Called with q's lock held. */
static void
give_back_locked(struct quota_hold *h)
{
	h->q->res_bytes -= h->bytes;
	h->q->res_files -= h->file;
	*h = (struct quota_hold){ 0 };
}

void
quota_commit(struct quota_hold *h, const char *dir, const char *name)
{
	struct quota *q = h->q;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	give_back_locked(h);
	for (struct qdir *d = q->dirs; d != NULL; d = d->next) {
		/*
		 * One step with the release: the file is never counted twice, nor
		 * missed.  Looked up on the disk like an event's name: a collector
		 * may have taken it already, and its event been read before now.
		 */
		if (strcmp(d->path, dir) == 0)
			reconcile(q->name, d, name);
	}
	pthread_mutex_unlock(&q->lock);
}

void
quota_release(struct quota_hold *h)
{
	struct quota *q = h->q;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	give_back_locked(h);
	pthread_mutex_unlock(&q->lock);
}

bool
quota_usage(const char *name, uint64_t *bytes, uint64_t *files)
{
	struct quota *q;
	bool found = false;

	pthread_mutex_lock(&reg.lock);
	if ((q = find_locked(name)) != NULL) {
		pthread_mutex_lock(&q->lock);
		found = q->max_bytes != 0 || q->max_files != 0;
		usage_locked(q, bytes, files);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
	return found;
}

/* used of max in percent, rounded down, at most 10000; 0 when max is 0 (not limited). */
static unsigned
percent_of(uint64_t used, uint64_t max)
{
	unsigned __int128 p;

	if (max == 0)
		return 0;
	p = (unsigned __int128)used * 100 / max;
	return p > 10000 ? 10000 : (unsigned)p;
}

bool
quota_fullest(char *name, size_t len, unsigned *percent)
{
	bool found = false;

	pthread_mutex_lock(&reg.lock);
	for (struct quota *q = reg.head; q != NULL; q = q->next) {
		uint64_t bytes, files;
		unsigned p, pf;

		pthread_mutex_lock(&q->lock);
		if (q->max_bytes != 0 || q->max_files != 0) {
			usage_locked(q, &bytes, &files);
			p = percent_of(bytes, q->max_bytes);
			pf = percent_of(files, q->max_files);
			if (pf > p)
				p = pf;
			if (!found || p > *percent) {
				snprintf(name, len, "%s", q->name);
				*percent = p;
				found = true;
			}
		}
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
	return found;
}

/* Called with reg.lock held: the directory and its quota, by path or by watch. */
static struct qdir *
dir_find_locked(const char *path, int wd, struct quota **owner)
{
	for (struct quota *q = reg.head; q != NULL; q = q->next) {
		for (struct qdir *d = q->dirs; d != NULL; d = d->next) {
			if (path != NULL ? strcmp(d->path, path) == 0 : d->wd == wd) {
				*owner = q;
				return d;
			}
		}
	}
	return NULL;
}

/* Scans d again, logging it.  Called with reg.lock and its quota's lock held. */
static int
rescan_locked(struct quota *q, struct qdir *d, const char *why)
{
	char name[LOG_VALUE_MAX(IDENTITY_NAME_MAX)], path[LOG_VALUE_MAX(PATH_MAX)];
	long long start = sys_now_ms();
	int rc = scan(q->name, d), err = errno;

	if (rc < 0) {
		char e[LOG_VALUE_MAX(128)];

		log_warnx("quota-scan client=%s dir=%s reason=%s result=failed error=%s",
		    log_value(name, sizeof(name), q->name), log_value(path, sizeof(path), d->path),
		    why, log_value(e, sizeof(e), strerror(err)));
	} else {
		log_info("quota-scan client=%s dir=%s files=%zu bytes=%llu ms=%lld reason=%s",
		    log_value(name, sizeof(name), q->name), log_value(path, sizeof(path), d->path),
		    d->files, (unsigned long long)d->bytes, sys_now_ms() - start, why);
	}
	errno = err;
	return rc;
}

int
quota_rescan(const char *dir)
{
	struct quota *q = NULL;
	struct qdir *d;
	int rc = -1;

	pthread_mutex_lock(&reg.lock);
	if ((d = dir_find_locked(dir, -1, &q)) == NULL) {
		errno = ENOENT;
	} else {
		pthread_mutex_lock(&q->lock);
		rc = rescan_locked(q, d, "asked");
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

static void
handle_event(const struct inotify_event *ev)
{
	struct quota *q = NULL;
	struct qdir *d;

	pthread_mutex_lock(&reg.lock);
	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost: every directory is read again. */
		for (struct quota *o = reg.head; o != NULL; o = o->next) {
			pthread_mutex_lock(&o->lock);
			for (d = o->dirs; d != NULL; d = d->next) {
				(void)rescan_locked(o, d, "inotify-overflow");
			}
			pthread_mutex_unlock(&o->lock);
		}
	} else if ((d = dir_find_locked(NULL, ev->wd, &q)) != NULL) {
		pthread_mutex_lock(&q->lock);
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
			/* The directory itself went: what it held is not the identity's any more. */
			table_clear(d);
			if (ev->mask & IN_IGNORED)
				d->wd = -1;
		} else if (ev->len > 0) {
			uint64_t bytes = d->bytes;
			size_t files = d->files;

			reconcile(q->name, d, ev->name);
			if (log_enabled(LOG_LVL_DEBUG) && (bytes != d->bytes || files != d->files)) {
				char name[LOG_VALUE_MAX(IDENTITY_NAME_MAX)], file[LOG_VALUE_MAX(NAME_MAX)];

				log_debug("quota-update client=%s file=%s files=%zu bytes=%llu",
				    log_value(name, sizeof(name), q->name),
				    log_value(file, sizeof(file), ev->name), d->files,
				    (unsigned long long)d->bytes);
			}
		}
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&reg.lock);
}

static void *
watcher(void *arg)
{
	/* Aligned as struct inotify_event needs; room for many events per read. */
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = reg.ino_fd, .events = POLLIN },
			{ .fd = reg.stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("quota: poll");
			return NULL;
		}
		if (pfd[1].revents & POLLIN)
			return NULL;
		if ((n = read(reg.ino_fd, buf, sizeof(buf))) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			log_warn("quota: inotify read");
			return NULL;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			handle_event(ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

int
quota_watch_start(void)
{
	int err;

	pthread_mutex_lock(&reg.lock);
	if (reg.running || reg.ino_fd < 0) {
		/* No directory yet: a reload that adds one calls this again. */
		pthread_mutex_unlock(&reg.lock);
		return 0;
	}
	if ((reg.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		pthread_mutex_unlock(&reg.lock);
		return -1;
	}
	if ((err = pthread_create(&reg.thread, NULL, watcher, NULL)) != 0) {
		sys_close(reg.stop_fd);
		reg.stop_fd = -1;
		pthread_mutex_unlock(&reg.lock);
		errno = err;
		return -1;
	}
	reg.running = true;
	pthread_mutex_unlock(&reg.lock);
	return 0;
}

void
quota_fini(void)
{
	if (reg.running) {
		uint64_t one = 1;

		if (write(reg.stop_fd, &one, sizeof(one)) < 0)
			log_warn("quota: stopping the watcher");
		pthread_join(reg.thread, NULL);
		reg.running = false;
	}
	pthread_mutex_lock(&reg.lock);
	while (reg.head != NULL) {
		struct quota *q = reg.head;

		reg.head = q->next;
		while (q->dirs != NULL) {
			struct qdir *d = q->dirs;

			q->dirs = d->next;
			dir_free(d);
		}
		pthread_mutex_destroy(&q->lock);
		free(q);
	}
	if (reg.ino_fd >= 0)
		sys_close(reg.ino_fd);
	if (reg.stop_fd >= 0)
		sys_close(reg.stop_fd);
	reg.ino_fd = reg.stop_fd = -1;
	pthread_mutex_unlock(&reg.lock);
}
