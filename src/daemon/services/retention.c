/* SPDX-License-Identifier: ISC */
/*
 * retention.c - the pruner (retention.h).  A pass lists a listener's
 * directories (output_dir and its identities' subdirs), counts what every
 * stored file holds, and removes the oldest of those it may remove while
 * they are older than max_age or the total is above max_total.  Quotas
 * see the removals through their inotify watch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/services/mark.h"
#include "daemon/services/quota.h"
#include "daemon/services/retention.h"
#include "daemon/services/store.h"
#include "io/sys.h"

#define PASS_INTERVAL_S 60
/* After uploads, at most a pass this often. */
#define POKE_INTERVAL_MS 5000
/*
 * Never removed, whatever min_keep says: a file changed (linked in place,
 * its mark taken off) this recently.  store.c links a file in before it
 * syncs the directory and answers OK; until then it is visible and unmarked.
 */
#define RECENT_S 2

/* What a pass needs of a listener: a copy, as a reload may free the configuration. */
struct prune_listener {
	char *name;
	struct retention_cfg r;
	char **dirs;
	size_t n_dirs;
};

struct entry {
	size_t dir;
	char *name;
	time_t mtime, ctime;
	uint64_t bytes;
	dev_t dev;
	ino_t ino;
	bool keep;                      /* hook pending */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping, poked;
	struct prune_listener *ls;
	size_t n_ls;
	struct retention_metrics m;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* A stop is waiting for the pass: it ends at the next directory entry. */
static bool
stopping(void)
{
	bool stop;

	pthread_mutex_lock(&R.lock);
	stop = R.stopping;
	pthread_mutex_unlock(&R.lock);
	return stop;
}

static void
listeners_free(struct prune_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ls[i].name);
		for (size_t k = 0; k < ls[i].n_dirs; k++)
			free(ls[i].dirs[k]);
		free(ls[i].dirs);
	}
	free(ls);
}

static struct prune_listener *
listeners_copy(const struct config *cfg, size_t *count)
{
	struct prune_listener *ls = calloc(cfg->n_listeners + 1, sizeof(*ls));
	size_t n = 0;

	if (ls == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];
		struct prune_listener *p = &ls[n];
		char dir[PATH_MAX];

		if (l->mode != MODE_RECEIVE || !l->retention.enabled)
			continue;
		n++;
		p->r = l->retention;
		if ((p->name = strdup(l->name)) == NULL ||
		    (p->dirs = calloc(l->n_ids + 1, sizeof(*p->dirs))) == NULL ||
		    (p->dirs[p->n_dirs++] = strdup(l->output_dir)) == NULL)
			goto fail;
		for (size_t k = 0; k < l->n_ids; k++) {
			if (l->ids[k]->subdir == NULL)
				continue;
			quota_dir(dir, sizeof(dir), l->output_dir, l->ids[k]->subdir);
			if ((p->dirs[p->n_dirs++] = strdup(dir)) == NULL)
				goto fail;
		}
	}
	*count = n;
	return ls;
fail:
	listeners_free(ls, n);
	return NULL;
}

/* A copy of n listeners; NULL when n is 0 or out of memory. */
static struct prune_listener *
listeners_dup(const struct prune_listener *src, size_t n, size_t *count)
{
	struct prune_listener *ls = n > 0 ? calloc(n, sizeof(*ls)) : NULL;

	*count = 0;
	if (ls == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct prune_listener *p = &ls[(*count)++];

		p->r = src[i].r;
		if ((p->name = strdup(src[i].name)) == NULL ||
		    (p->dirs = calloc(src[i].n_dirs, sizeof(*p->dirs))) == NULL)
			goto fail;
		for (size_t k = 0; k < src[i].n_dirs; k++) {
			if ((p->dirs[p->n_dirs++] = strdup(src[i].dirs[k])) == NULL)
				goto fail;
		}
	}
	return ls;
fail:
	listeners_free(ls, *count);
	*count = 0;
	return NULL;
}

static int
by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The names record files in dirfd hold marks for (mark.h), appended to *names. */
static bool
named_by_record(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static void
record_found(const char *name, const char *record, const struct mark_facts *f, void *arg)
{
	struct { char **v; size_t n, cap; } *set = arg;

	(void)f;
	if (record[0] == '\0')
		return;         /* an xattr mark: seen on the file itself */
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		char **v = realloc(set->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		set->v = v;
		set->cap = cap;
	}
	if ((set->v[set->n] = strdup(name)) != NULL)
		set->n++;
}

/* Adds the stored files of dirs[d] to *es.  0, or -1 with errno. */
static int
list_dir(int dirfd, size_t d, struct entry **es, size_t *n, size_t *cap)
{
	struct { char **v; size_t n, cap; } records = { 0 };
	struct dirent *de;
	DIR *dir;
	int fd;

	/* Records first: a file they name has a hook pending. */
	if (mark_scan(dirfd, record_found, &records) < 0)
		return -1;
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = fdopendir(fd)) == NULL) {
		int saved = errno;

		if (fd >= 0)
			sys_close(fd);
		for (size_t i = 0; i < records.n; i++)
			free(records.v[i]);
		free(records.v);
		errno = saved;
		return -1;
	}
	while (!stopping() && (de = readdir(dir)) != NULL) {
		struct stat sb;
		int ffd;
		bool marked;

		/* Temporaries, partials and records all start with a dot; stored names never do. */
		if (de->d_name[0] == '.')
			continue;
		ffd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (ffd < 0)
			continue;
		if (fstat(ffd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			sys_close(ffd);
			continue;
		}
		marked = mark_get(ffd, NULL) != 0 || named_by_record(records.v, records.n, de->d_name);
		sys_close(ffd);
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 256;
			struct entry *v = realloc(*es, c * sizeof(*v));

			if (v == NULL)
				break;
			*es = v;
			*cap = c;
		}
		(*es)[*n] = (struct entry){ .dir = d, .name = strdup(de->d_name), .mtime = sb.st_mtime,
		    .ctime = sb.st_ctime,
		    .bytes = (uint64_t)sb.st_size, .dev = sb.st_dev, .ino = sb.st_ino, .keep = marked };
		if ((*es)[*n].name != NULL)
			(*n)++;
	}
	closedir(dir);
	for (size_t i = 0; i < records.n; i++)
		free(records.v[i]);
	free(records.v);
	return 0;
}

/*
 * Removes e while it is still the file listed (and still unmarked): a
 * collector may have taken it and an upload stored another under its name.
 */
static int
remove_entry(int dirfd, const struct entry *e)
{
	struct stat sb;
	int fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	bool same;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	same = fstat(fd, &sb) == 0 && sb.st_dev == e->dev && sb.st_ino == e->ino &&
	    mark_get(fd, NULL) == 0;
	sys_close(fd);
	if (!same)
		return 0;
	if (unlinkat(dirfd, e->name, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

/*
 * One listener's pass.  *deferred is set when a file over a limit was kept
 * only because it changed within RECENT_S: another pass is due soon.
 */
static int
prune_listener(const struct prune_listener *l, bool dry_run, FILE *out, bool *deferred)
{
	struct entry *es = NULL;
	size_t n = 0, cap = 0;
	int *dirfds = calloc(l->n_dirs, sizeof(*dirfds));
	uint64_t total = 0;
	time_t now = time(NULL);
	int removed = 0, rc = 0;

	if (dirfds == NULL)
		return -1;
	for (size_t d = 0; d < l->n_dirs; d++) {
		dirfds[d] = open(l->dirs[d], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if ((dirfds[d] < 0 && errno != ENOENT) ||
		    (dirfds[d] >= 0 && list_dir(dirfds[d], d, &es, &n, &cap) < 0)) {
			char dir[LOG_VALUE_MAX(PATH_MAX)], e[LOG_VALUE_MAX(64)];

			log_warnx("retention-unreadable listener=%s dir=%s error=%s", l->name,
			    log_value(dir, sizeof(dir), l->dirs[d]), log_value(e, sizeof(e), strerror(errno)));
			rc = -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		total += es[i].bytes;
	if (n > 0)
		qsort(es, n, sizeof(*es), by_age);
	for (size_t i = 0; i < n && !stopping(); i++) {
		const struct entry *e = &es[i];
		long long age = (long long)(now - e->mtime);
		char listener[LOG_VALUE_MAX(LISTENER_NAME_MAX)], path[PATH_MAX];
		char file[LOG_VALUE_MAX(PATH_MAX)];
		const char *why;
		int r;

		if (e->keep || age < (long long)l->r.min_keep)
			continue;
		if (l->r.max_age != 0 && age > (long long)l->r.max_age)
			why = "max_age";
		else if (l->r.max_total != 0 && total > l->r.max_total)
			why = "max_total";
		else
			continue;
		/* now was read before the listing: a file linked in since is "recent" too. */
		if ((long long)(now - e->ctime) < RECENT_S) {
			*deferred = true;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", l->dirs[e->dir], e->name);
		if (dry_run) {
			fprintf(out, "would remove %s listener=%s reason=%s bytes=%llu age_s=%lld\n",
			    log_value(file, sizeof(file), path), l->name, why,
			    (unsigned long long)e->bytes, age);
			total -= e->bytes;
			removed++;
			continue;
		}
		r = remove_entry(dirfds[e->dir], e);
		if (r < 0) {
			char error[LOG_VALUE_MAX(64)];
			int err = errno;

			pthread_mutex_lock(&R.lock);
			R.m.errors++;
			pthread_mutex_unlock(&R.lock);
			log_warnx("retention-unremoved listener=%s file=%s error=%s",
			    log_value(listener, sizeof(listener), l->name),
			    log_value(file, sizeof(file), path),
			    log_value(error, sizeof(error), strerror(err)));
			continue;
		}
		/* Gone already, or no longer the file listed: it no longer counts either way. */
		total -= e->bytes;
		if (r == 0)
			continue;
		removed++;
		/* Counted before the line: whoever has read it finds the removal in /metrics. */
		pthread_mutex_lock(&R.lock);
		R.m.files_removed++;
		R.m.bytes_removed += e->bytes;
		if (why[4] == 'a')
			R.m.removed_max_age++;
		else
			R.m.removed_max_total++;
		pthread_mutex_unlock(&R.lock);
		log_info("retention listener=%s file=%s reason=%s bytes=%llu age_s=%lld",
		    log_value(listener, sizeof(listener), l->name), log_value(file, sizeof(file), path),
		    why, (unsigned long long)e->bytes, age);
	}
	if (!dry_run)
		log_debug("retention-pass listener=%s files=%zu bytes=%llu removed=%d", l->name, n,
		    (unsigned long long)total, removed);
	for (size_t i = 0; i < n; i++)
		free(es[i].name);
	free(es);
	for (size_t d = 0; d < l->n_dirs; d++) {
		if (dirfds[d] >= 0)
			sys_close(dirfds[d]);
	}
	free(dirfds);
	return rc < 0 ? -1 : removed;
}

static int
pass(const struct prune_listener *ls, size_t n, bool dry_run, FILE *out, bool *deferred)
{
	int total = 0, rc = 0;

	for (size_t i = 0; i < n; i++) {
		int r = prune_listener(&ls[i], dry_run, out, deferred);

		if (r < 0)
			rc = -1;
		else
			total += r;
	}
	pthread_mutex_lock(&R.lock);
	R.m.passes++;
	pthread_mutex_unlock(&R.lock);
	return rc < 0 ? -1 : total;
}

int
retention_pass(const struct config *cfg, bool dry_run, FILE *out)
{
	size_t n = 0;
	struct prune_listener *ls = listeners_copy(cfg, &n);
	bool deferred = false;
	int rc;

	if (ls == NULL)
		return -1;
	rc = pass(ls, n, dry_run, out, &deferred);
	listeners_free(ls, n);
	return rc;
}

static void *
prune_loop(void *arg)
{
	long long last = 0;

	(void)arg;
	pthread_mutex_lock(&R.lock);
	while (!R.stopping) {
		struct timespec until;
		struct prune_listener *ls;
		size_t n = 0;
		bool deferred = false;

		/* A copy of the listeners, so the pass runs without the lock. */
		ls = listeners_dup(R.ls, R.n_ls, &n);
		R.poked = false;
		pthread_mutex_unlock(&R.lock);
		if (ls != NULL) {
			(void)pass(ls, n, false, NULL, &deferred);
			listeners_free(ls, n);
		}
		last = sys_now_ms();
		pthread_mutex_lock(&R.lock);
		/* Files kept only for being recent: look again after POKE_INTERVAL_MS. */
		if (deferred)
			R.poked = true;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PASS_INTERVAL_S;
		while (!R.stopping && !(R.poked && sys_now_ms() >= last + POKE_INTERVAL_MS)) {
			if (R.poked) {
				/* Poked too soon after a pass: wait out the rest of the interval. */
				struct timespec soon;
				long long left = last + POKE_INTERVAL_MS - sys_now_ms();

				clock_gettime(CLOCK_REALTIME, &soon);
				soon.tv_nsec += (left % 1000) * 1000000;
				soon.tv_sec += left / 1000 + soon.tv_nsec / 1000000000;
				soon.tv_nsec %= 1000000000;
				(void)pthread_cond_timedwait(&R.cond, &R.lock, &soon);
				continue;
			}
			if (pthread_cond_timedwait(&R.cond, &R.lock, &until) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&R.lock);
	return NULL;
}

int
retention_start(void)
{
	int rc = pthread_create(&R.thread, NULL, prune_loop, NULL);

	if (rc != 0) {
		errno = rc;
		return -1;
	}
	pthread_mutex_lock(&R.lock);
	R.started = true;
	pthread_mutex_unlock(&R.lock);
	return 0;
}

void
retention_configure(const struct config *cfg)
{
	size_t n = 0;
	struct prune_listener *ls = listeners_copy(cfg, &n);

	if (ls == NULL) {
		log_errx("retention: out of memory: it stays as it was");
		return;
	}
	pthread_mutex_lock(&R.lock);
	listeners_free(R.ls, R.n_ls);
	R.ls = ls;
	R.n_ls = n;
	R.poked = true;
	pthread_cond_signal(&R.cond);
	pthread_mutex_unlock(&R.lock);
}

void
retention_poke(void)
{
	pthread_mutex_lock(&R.lock);
	if (R.n_ls > 0 && !R.poked) {
		R.poked = true;
		pthread_cond_signal(&R.cond);
	}
	pthread_mutex_unlock(&R.lock);
}

void
retention_stop(void)
{
	pthread_mutex_lock(&R.lock);
	if (!R.started) {
		pthread_mutex_unlock(&R.lock);
		return;
	}
	R.stopping = true;
	pthread_cond_signal(&R.cond);
	pthread_mutex_unlock(&R.lock);
	pthread_join(R.thread, NULL);
	pthread_mutex_lock(&R.lock);
	listeners_free(R.ls, R.n_ls);
	R.ls = NULL;
	R.n_ls = 0;
	R.started = false;
	pthread_mutex_unlock(&R.lock);
}

void
retention_metrics_get(struct retention_metrics *m)
{
	pthread_mutex_lock(&R.lock);
	*m = R.m;
	pthread_mutex_unlock(&R.lock);
}
