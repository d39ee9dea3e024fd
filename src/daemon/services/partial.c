/* SPDX-License-Identifier: ISC */
/*
 * partial.c - the partial directory of resumable uploads.  Each partial is
 * two files named after a hash of its listener and upload id: KEY.data,
 * the bytes received, and KEY.meta, whose upload it is and how many of its
 * bytes were fsync'ed (the checkpoint), rewritten by rename.  The offset a
 * client is told is always durable: after a crash of the daemon alone (the
 * same boot id) the page cache still holds every byte written, so the
 * file's length counts once it is fsync'ed; after a crash of the machine
 * only the checkpoint does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/services/partial.h"
#include "io/sys.h"

#define KEY_LEN 32              /* hex digits of SHA-256(listener "\n" id) */
#define META_MAX 4096
#define TAKEOVER_WAIT_MS 30000  /* for the older connection to let go */

/* What KEY.meta says. */
struct meta {
	char listener[128];
	char identity[IDENTITY_NAME_MAX + 16];
	char id[FRAME_ID_MAX + 1];
	unsigned long long size;
	char digest[2 * FRAME_DIGEST_LEN + 1];  /* hex, or "-" */
	char name[FRAME_NAME_MAX + 1];
	char boot[40];
	unsigned long long checkpoint;
};

/* A partial some connection holds, so that a newer one can take it over. */
struct holder {
	dev_t dev;
	ino_t ino;
	char key[KEY_LEN + 1];
	char listener[128];     /* whose max_partials it counts for */
	char identity[IDENTITY_NAME_MAX + 16];  /* the client identity, or network, holding it */
	int sock;
	bool held;
	bool superseded;
	unsigned waiters;
	struct holder *next;
};

struct partial {
	struct holder *holder;
	int pdir;
	char key[KEY_LEN + 1];
	struct meta meta;
	bool poisoned;          /* an fsync of its data failed: never trusted again */
};

static pthread_mutex_t holders_lock = PTHREAD_MUTEX_INITIALIZER;
/* Counting a listener's partials and adding one is one step: max_partials holds under races. */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t holders_released;
static pthread_once_t holders_once = PTHREAD_ONCE_INIT;
static struct holder *holders;

static pthread_once_t boot_once = PTHREAD_ONCE_INIT;
static char boot_id[40];

static void
read_boot_id(void)
{
	FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (fp == NULL)
		return;
	if (fgets(boot_id, sizeof(boot_id), fp) == NULL)
		boot_id[0] = '\0';
	boot_id[strcspn(boot_id, "\n")] = '\0';
	fclose(fp);
}

/* The boot id, "" if unknown (then only checkpoints count). */
static const char *
current_boot(void)
{
	pthread_once(&boot_once, read_boot_id);
	return boot_id;
}

static int
make_key(const char *listener, const char *id, char key[KEY_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char in[256 + FRAME_ID_MAX];
	int n = snprintf(in, sizeof(in), "%s\n%s", listener, id);

	if (n < 0 || (size_t)n >= sizeof(in) || EVP_Digest(in, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < KEY_LEN / 2; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void
file_name(char *buf, size_t len, const char *key, const char *suffix)
{
	snprintf(buf, len, "%s.%s", key, suffix);
}

/*
 * Writes KEY.meta: a new file renamed over the old.  durable: the file
 * fsync'ed before, the directory after.  A new partial's record need not
 * be: it holds no byte yet, and a crash that loses it leaves data without
 * a record, which scan() removes.
 */
static int
meta_write(int pdir, const char *key, const struct meta *m, bool durable)
{
	char text[META_MAX], tmp[KEY_LEN + 16], final[KEY_LEN + 16];
	int n, fd, saved;

	n = snprintf(text, sizeof(text), "tcpxd-partial 1\nlistener %s\nidentity %s\nid %s\n"
	    "size %llu\ndigest %s\nboot %s\ncheckpoint %llu\nname %s\n", m->listener, m->identity,
	    m->id, m->size, m->digest, m->boot[0] ? m->boot : "-", m->checkpoint, m->name);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	file_name(tmp, sizeof(tmp), key, "meta.tmp");
	file_name(final, sizeof(final), key, "meta");
	fd = openat(pdir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (sys_write_all(fd, text, (size_t)n) < 0 || (durable && fsync(fd) < 0)) {
		saved = errno;
		sys_close(fd);
		unlinkat(pdir, tmp, 0);
		errno = saved;
		return -1;
	}
	sys_close(fd);
	if (renameat(pdir, tmp, pdir, final) < 0) {
		saved = errno;
		unlinkat(pdir, tmp, 0);
		errno = saved;
		return -1;
	}
	return durable ? fsync(pdir) : 0;
}

static bool
meta_field(const char *line, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	if (strncmp(line, key, klen) != 0 || line[klen] != ' ' || strlen(line + klen + 1) >= len)
		return false;
	strcpy(out, line + klen + 1);
	return true;
}

static bool
meta_number(const char *line, const char *key, unsigned long long *out)
{
	char text[32], *end;

	if (!meta_field(line, key, text, sizeof(text)) || text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Reads KEY.meta.  0; -1 with errno (ENOENT: none; EBADMSG: not one of ours). */
static int
meta_read(int pdir, const char *key, struct meta *m)
{
	char text[META_MAX + 1], name[KEY_LEN + 16], *line, *save;
	unsigned fields = 0;
	ssize_t n;
	int fd;

	file_name(name, sizeof(name), key, "meta");
	if ((fd = openat(pdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, text, META_MAX);
	sys_close(fd);
	if (n < 0)
		return -1;
	text[n] = '\0';
	if (strncmp(text, "tcpxd-partial 1\n", 16) != 0) {
		errno = EBADMSG;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		fields += meta_field(line, "listener", m->listener, sizeof(m->listener)) ||
		    meta_field(line, "identity", m->identity, sizeof(m->identity)) ||
		    meta_field(line, "id", m->id, sizeof(m->id)) ||
		    meta_number(line, "size", &m->size) ||
		    meta_field(line, "digest", m->digest, sizeof(m->digest)) ||
		    meta_field(line, "boot", m->boot, sizeof(m->boot)) ||
		    meta_number(line, "checkpoint", &m->checkpoint) ||
		    meta_field(line, "name", m->name, sizeof(m->name));
	}
	if (fields != 8) {
		errno = EBADMSG;
		return -1;
	}
	if (strcmp(m->boot, "-") == 0)
		m->boot[0] = '\0';
	return 0;
}

static void
remove_names(int pdir, const char *key)
{
	/* A KEY.meta.tmp is there only after a crash: scan() takes it. */
	static const char *const suffixes[] = { "data", "meta" };
	char name[KEY_LEN + 16];

	/*
	 * Not fsync'ed: names that come back after a crash are data already
	 * published (st_nlink > 1) or a partial refused for good, and a
	 * resume of the latter ends refused again.
	 */
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		file_name(name, sizeof(name), key, suffixes[i]);
		(void)unlinkat(pdir, name, 0);
	}
}

static struct holder *
holder_find(dev_t dev, ino_t ino, const char *key)
{
	for (struct holder *h = holders; h != NULL; h = h->next) {
		if (h->dev == dev && h->ino == ino && strcmp(h->key, key) == 0)
			return h;
	}
	return NULL;
}

/* The holder of KEY if a connection holds it now, else NULL.  Locked. */
static const struct holder *
held(dev_t dev, ino_t ino, const char *key)
{
	struct holder *h = holder_find(dev, ino, key);

	return h != NULL && h->held ? h : NULL;
}

/*
 * Takes KEY for the caller, cutting off a connection that holds it (its
 * link broke without the daemon noticing yet).  NULL with errno.
 */
/* The takeover wait is measured on the monotonic clock: a clock step must not stretch it. */
static void
init_holders(void)
{
	pthread_condattr_t attr;

	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&holders_released, &attr) != 0)
		abort();    /* only EINVAL or ENOMEM at start: nothing to go on with */
	pthread_condattr_destroy(&attr);
}

static struct holder *
hold(dev_t dev, ino_t ino, const char *key, const struct partial_request *req)
{
	struct holder *h;
	int rc = 0;

	pthread_once(&holders_once, init_holders);
	pthread_mutex_lock(&holders_lock);
	if ((h = holder_find(dev, ino, key)) == NULL) {
		if ((h = calloc(1, sizeof(*h))) == NULL) {
			pthread_mutex_unlock(&holders_lock);
			errno = ENOMEM;
			return NULL;
		}
		h->dev = dev;
		h->ino = ino;
		memcpy(h->key, key, KEY_LEN + 1);
		snprintf(h->listener, sizeof(h->listener), "%s", req->listener);
		h->next = holders;
		holders = h;
	}
	/* Only the same client takes over (its record may not be written yet). */
	if (h->held && strcmp(h->identity, req->identity) != 0) {
		pthread_mutex_unlock(&holders_lock);
		errno = EPERM;
		return NULL;
	}
	if (h->held) {
		struct timespec until;

		h->superseded = true;
		(void)shutdown(h->sock, SHUT_RDWR);
		(void)clock_gettime(CLOCK_MONOTONIC, &until);   /* cannot fail for this clock */
		until.tv_sec += TAKEOVER_WAIT_MS / 1000;
		h->waiters++;
		while (h->held && rc == 0)
			rc = pthread_cond_timedwait(&holders_released, &holders_lock, &until);
		h->waiters--;
	}
	if (h->held) {
		pthread_mutex_unlock(&holders_lock);
		errno = EBUSY;
		return NULL;
	}
	h->held = true;
	h->superseded = false;
	h->sock = req->sock;
	snprintf(h->identity, sizeof(h->identity), "%s", req->identity);
	pthread_mutex_unlock(&holders_lock);
	return h;
}

static void
unhold(struct holder *h)
{
	pthread_mutex_lock(&holders_lock);
	h->held = false;
	pthread_cond_broadcast(&holders_released);
	if (h->waiters == 0) {
		for (struct holder **pp = &holders; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == h) {
				*pp = h->next;
				break;
			}
		}
		free(h);
	}
	pthread_mutex_unlock(&holders_lock);
}

bool
partial_superseded(const struct partial *p)
{
	bool superseded;

	pthread_mutex_lock(&holders_lock);
	superseded = p->holder->superseded;
	pthread_mutex_unlock(&holders_lock);
	return superseded;
}

static bool
expired(const struct stat *st, unsigned ttl)
{
	return st->st_mtime + (time_t)ttl < time(NULL);
}

/*
 * Whose partials a scan looks after: listener's, and those of listeners no
 * longer configured (when configured is not NULL), expired after ttl.
 */
struct scope {
	const char *listener;
	unsigned ttl;
	bool (*configured)(const char *listener, void *arg);
	void *arg;
};

/* What scan() does with one partial's file that no connection holds.  Locked. */
static void
scan_one(int pdir, const char *key, const char *suffix, const struct scope *scope,
    int *removed, unsigned *kept)
{
	char data[KEY_LEN + 16], tmp[KEY_LEN + 16];
	bool has_data, has_meta, mine, orphan;
	struct meta m;
	struct stat st;

	file_name(data, sizeof(data), key, "data");
	has_data = fstatat(pdir, data, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (strcmp(suffix, ".meta.tmp") == 0) {
		/* A record rewritten when the daemon died: the old one still stands. */
		file_name(tmp, sizeof(tmp), key, "meta.tmp");
		(void)unlinkat(pdir, tmp, 0);
		return;
	}
	if (strcmp(suffix, ".meta") == 0) {
		if (!has_data)
			remove_names(pdir, key);
		return;
	}
	if (strcmp(suffix, ".data") != 0 || !has_data)
		return;
	has_meta = meta_read(pdir, key, &m) == 0;
	mine = has_meta && strcmp(m.listener, scope->listener) == 0;
	/* A listener removed from the configuration leaves its partials to the others. */
	orphan = has_meta && scope->configured != NULL && !scope->configured(m.listener, scope->arg);
	/* Data linked into output_dir already (st_nlink > 1) was published: done. */
	if (!has_meta || st.st_nlink > 1 || ((mine || orphan) && expired(&st, scope->ttl))) {
		remove_names(pdir, key);
		(*removed)++;
	} else if (mine) {
		(*kept)++;
	}
}

/*
 * Goes through the partial directory: removes leftovers of crashes (a
 * record being rewritten, data without a record or a record without data,
 * data already published) and the expired partials in scope; counts the
 * partials of the scope's listener that stay.  Partials a connection holds are
 * left alone but counted; skip (a key, or NULL) is neither.
 */
static int
scan(int pdir, const struct scope *scope, const char *skip, unsigned *kept)
{
	struct stat pst;
	struct dirent *de;
	DIR *dir;
	int fd, removed = 0;

	*kept = 0;
	if (fstat(pdir, &pst) < 0 || (fd = openat(pdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		sys_close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		const char *suffix = strchr(de->d_name, '.');
		const struct holder *h;
		char key[KEY_LEN + 1];

		if (suffix == NULL || suffix - de->d_name != KEY_LEN ||
		    (skip != NULL && strncmp(de->d_name, skip, KEY_LEN) == 0))
			continue;
		memcpy(key, de->d_name, KEY_LEN);
		key[KEY_LEN] = '\0';
		pthread_mutex_lock(&holders_lock);
		if ((h = held(pst.st_dev, pst.st_ino, key)) != NULL)
			*kept += strcmp(suffix, ".data") == 0 && strcmp(h->listener, scope->listener) == 0;
		else
			scan_one(pdir, key, suffix, scope, &removed, kept);
		pthread_mutex_unlock(&holders_lock);
	}
	closedir(dir);
	return removed;
}

int
partial_sweep(int pdir, const char *listener, unsigned ttl,
    bool (*configured)(const char *listener, void *arg), void *arg)
{
	struct scope scope = { listener, ttl, configured, arg };
	unsigned kept;

	return scan(pdir, &scope, NULL, &kept);
}

/* The meta a new partial of req starts with. */
static void
meta_new(const struct partial_request *req, struct meta *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->listener, sizeof(m->listener), "%s", req->listener);
	snprintf(m->identity, sizeof(m->identity), "%s", req->identity);
	snprintf(m->id, sizeof(m->id), "%s", req->hdr->id);
	m->size = req->hdr->size;
	if (req->hdr->has_digest) {
		for (size_t i = 0; i < FRAME_DIGEST_LEN; i++)
			snprintf(m->digest + 2 * i, 3, "%02x", req->hdr->digest[i]);
	} else {
		strcpy(m->digest, "-");
	}
	snprintf(m->name, sizeof(m->name), "%s", req->hdr->name);
	snprintf(m->boot, sizeof(m->boot), "%s", current_boot());
}

/*
 * Opens the data of an existing partial and makes what it holds durable.
 * -1 with errno ENOENT when it is not there (any more) to resume.
 */
static int
resume(struct partial *p, const struct partial_request *req, int *fd, uint64_t *offset)
{
	char data[KEY_LEN + 16];
	struct stat st;
	uint64_t held_bytes;

	file_name(data, sizeof(data), p->key, "data");
	if ((*fd = openat(p->pdir, data, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(*fd, &st) < 0)
		goto fail;
	/* Linked into output_dir by a run that died before it removed this name: done. */
	if (st.st_nlink > 1 || expired(&st, req->ttl)) {
		errno = ENOENT;
		goto fail;
	}
	held_bytes = (uint64_t)st.st_size;
	/* After a crash of the machine, only the checkpoint is known to be on disk. */
	if (p->meta.boot[0] == '\0' || strcmp(p->meta.boot, current_boot()) != 0)
		held_bytes = held_bytes < p->meta.checkpoint ? held_bytes : p->meta.checkpoint;
	if (held_bytes > p->meta.size)
		held_bytes = p->meta.size;
	if ((held_bytes < (uint64_t)st.st_size && ftruncate(*fd, (off_t)held_bytes) < 0) ||
	    partial_checkpoint(p, *fd, held_bytes) < 0 ||
	    lseek(*fd, (off_t)held_bytes, SEEK_SET) < 0)
		goto fail;
	*offset = held_bytes;
	return 0;
fail:
	{
		int saved = errno;

		sys_close(*fd);
		*fd = -1;
		errno = saved;
	}
	return -1;
}

/* A new partial: its data file, then its record (not yet durable: meta_write()).  -1 with errno. */
static int
create(struct partial *p, int *fd)
{
	char data[KEY_LEN + 16];

	file_name(data, sizeof(data), p->key, "data");
	for (int attempt = 0;; attempt++) {
		*fd = openat(p->pdir, data, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (*fd >= 0)
			break;
		/* Data of an expired or half-made partial (a crash's): we hold its key. */
		if (errno != EEXIST || attempt > 0 || unlinkat(p->pdir, data, 0) < 0)
			return -1;
	}
	p->meta.checkpoint = 0;
	if (meta_write(p->pdir, p->key, &p->meta, false) < 0) {
		int saved = errno;

		sys_close(*fd);
		*fd = -1;
		remove_names(p->pdir, p->key);
		errno = saved;
		return -1;
	}
	return 0;
}

static enum partial_status
refuse(struct partial *p, enum partial_status status)
{
	int saved = errno;

	unhold(p->holder);
	free(p);
	errno = saved;
	return status;
}

/*
 * Reads KEY's record if its partial is there to resume: not expired (its
 * data last written resume_ttl ago).  Else false, errno ENOENT for an
 * expired or missing one.
 */
static bool
live_meta(int pdir, const char *key, unsigned ttl, struct meta *m)
{
	char data[KEY_LEN + 16];
	struct stat st;

	if (meta_read(pdir, key, m) < 0)
		return false;
	file_name(data, sizeof(data), key, "data");
	if (fstatat(pdir, data, &st, AT_SYMLINK_NOFOLLOW) < 0 || expired(&st, ttl)) {
		errno = ENOENT;
		return false;
	}
	return true;
}

/* Whether the partial recorded in have may be continued by the upload want describes. */
static enum partial_status
mismatch(const struct meta *have, const struct meta *want)
{
	if (strcmp(have->identity, want->identity) != 0)
		return PARTIAL_OTHER_CLIENT;
	if (have->size != want->size || strcmp(have->digest, want->digest) != 0 ||
	    strcmp(have->name, want->name) != 0)
		return PARTIAL_OTHER_FILE;
	return PARTIAL_OK;
}

enum partial_status
partial_open(int pdir, const struct partial_request *req, struct partial **out, int *fd,
    uint64_t *offset)
{
	enum partial_status status = PARTIAL_ERROR;
	struct partial *p;
	struct meta want;
	struct stat pst;
	unsigned kept;

	*out = NULL;
	*fd = -1;
	*offset = 0;
	if (fstat(pdir, &pst) < 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return PARTIAL_ERROR;
	p->pdir = pdir;
	meta_new(req, &want);
	if (make_key(req->listener, req->hdr->id, p->key) < 0)
		goto fail;
	/* Checked before taking the upload over, so that a refused client cuts off nobody. */
	if (live_meta(pdir, p->key, req->ttl, &p->meta) &&
	    (status = mismatch(&p->meta, &want)) != PARTIAL_OK)
		goto fail;
	if ((p->holder = hold(pst.st_dev, pst.st_ino, p->key, req)) == NULL) {
		status = errno == EPERM ? PARTIAL_OTHER_CLIENT : PARTIAL_ERROR;
		goto fail;
	}
	if (live_meta(pdir, p->key, req->ttl, &p->meta)) {
		if ((status = mismatch(&p->meta, &want)) != PARTIAL_OK)
			return refuse(p, status);
		if (resume(p, req, fd, offset) == 0) {
			*out = p;
			return PARTIAL_OK;
		}
		if (p->poisoned) {
			int saved = errno;

			remove_names(pdir, p->key);
			errno = saved;
		}
		if (errno != ENOENT)
			return refuse(p, PARTIAL_ERROR);
		remove_names(pdir, p->key);
	} else if (errno != ENOENT && errno != EBADMSG) {
		return refuse(p, PARTIAL_ERROR);
	}
	/* None, or expired, broken or half made: create() starts it anew over what is there. */
	pthread_mutex_lock(&create_lock);
	if (scan(pdir, &(struct scope){ req->listener, req->ttl, NULL, NULL }, p->key, &kept) < 0)
		status = PARTIAL_ERROR;
	else if (kept >= req->max_partials)
		status = PARTIAL_TOO_MANY;
	else if ((p->meta = want, create(p, fd)) < 0)
		status = PARTIAL_ERROR;
	else
		status = PARTIAL_OK;
	pthread_mutex_unlock(&create_lock);
	if (status != PARTIAL_OK)
		return refuse(p, status);
	*out = p;
	return PARTIAL_OK;
fail:
	free(p);
	return status;
}

int
partial_checkpoint(struct partial *p, int fd, uint64_t length)
{
	/*
	 * A failed fsync may have dropped pages it will never report again:
	 * the partial is given up, never checkpointed by a later try.
	 */
	if (fsync(fd) < 0) {
		p->poisoned = true;
		return -1;
	}
	p->meta.checkpoint = length;
	snprintf(p->meta.boot, sizeof(p->meta.boot), "%s", current_boot());
	return meta_write(p->pdir, p->key, &p->meta, true);
}

void
partial_release(struct partial *p)
{
	unhold(p->holder);
	free(p);
}

void
partial_end(struct partial *p, int fd, uint64_t length, bool keep)
{
	/*
	 * A record that cannot be rewritten (ENOSPC, EDQUOT) leaves the old
	 * one, with a smaller checkpoint, which is still true.  An empty
	 * partial is worth nothing to keep, and would count for max_partials.
	 */
	if (keep && fd >= 0 && length > 0 && !p->poisoned &&
	    (partial_checkpoint(p, fd, length) == 0 || !p->poisoned))
		partial_release(p);
	else
		partial_remove(p);
}

void
partial_remove(struct partial *p)
{
	remove_names(p->pdir, p->key);
	partial_release(p);
}
