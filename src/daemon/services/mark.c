/* SPDX-License-Identifier: ISC */
/*
 * mark.c - the hook mark of a stored file (mark.h): its xattr, or its
 * record file where the file system keeps no user xattrs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/services/mark.h"
#include "daemon/services/store.h"
#include "io/sys.h"

/* A record's content: the stored name, a newline, then the mark's value. */
#define RECORD_CONTENT_MAX (STORE_NAME_MAX + MARK_VALUE_MAX + 2)
/* Tries of a record name while another's holds it (a hash collision). */
#define RECORD_ATTEMPTS 100

size_t
mark_format(const struct mark_facts *f, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s\n%s\n%s\n%s\n", f->listener, f->sha256, f->peer, f->client);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* Copies the next line of [*p, end) into out (at most outlen - 1 bytes).  0, or -1. */
static int
next_field(const char **p, const char *end, char *out, size_t outlen)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	if (nl == NULL || (n = (size_t)(nl - *p)) >= outlen || memchr(*p, '\0', n) != NULL)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = nl + 1;
	return 0;
}

int
mark_parse(const char *buf, size_t len, struct mark_facts *f)
{
	const char *p = buf, *end = buf + len;

	if (next_field(&p, end, f->listener, sizeof(f->listener)) < 0 || f->listener[0] == '\0' ||
	    next_field(&p, end, f->sha256, sizeof(f->sha256)) < 0 ||
	    next_field(&p, end, f->peer, sizeof(f->peer)) < 0 ||
	    next_field(&p, end, f->client, sizeof(f->client)) < 0 || p != end)
		return -1;
	return 0;
}

bool
mark_is_record(const char *name)
{
	return strncmp(name, MARK_RECORD_PREFIX, sizeof(MARK_RECORD_PREFIX) - 1) == 0;
}

/* FNV-1a: a record's name only needs to spread stored names, not resist anyone. */
static uint64_t
name_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

int
mark_record_write(int dirfd, const char *name, const char *value, size_t len,
    char *record, size_t recordlen)
{
	char content[RECORD_CONTENT_MAX];
	uint64_t h = name_hash(name);
	int n = snprintf(content, sizeof(content), "%s\n%.*s", name, (int)len, value);
	int fd = -1;

	if (n < 0 || (size_t)n >= sizeof(content)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (int attempt = 0; attempt < RECORD_ATTEMPTS && fd < 0; attempt++) {
		if (attempt == 0)
			snprintf(record, recordlen, MARK_RECORD_PREFIX "%016llx", (unsigned long long)h);
		else
			snprintf(record, recordlen, MARK_RECORD_PREFIX "%016llx.%d",
			    (unsigned long long)h, attempt);
		fd = openat(dirfd, record, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	/* Never a retried fsync: a record that may not be on disk is taken away. */
	if (sys_write_all(fd, content, (size_t)n) < 0 || fsync(fd) < 0) {
		int saved = errno;

		sys_close(fd);
		unlinkat(dirfd, record, 0);
		errno = saved;
		return -1;
	}
	sys_close(fd);
	return 0;
}

int
mark_get(int fd, struct mark_facts *f)
{
	char value[MARK_VALUE_MAX];
	struct mark_facts scratch;
	ssize_t n = fgetxattr(fd, MARK_XATTR, value, sizeof(value));

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP || errno == ERANGE ? 0 : -1;
	return mark_parse(value, (size_t)n, f != NULL ? f : &scratch) == 0 ? 1 : 0;
}

int
mark_clear(int fd, int dirfd, const char *record)
{
	int rc = 0;

	if (fd >= 0 && fremovexattr(fd, MARK_XATTR) < 0 && errno != ENODATA && errno != ENOTSUP)
		rc = -1;
	if (record != NULL && record[0] != '\0' && unlinkat(dirfd, record, 0) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* Reads a record file: the stored name it marks, and the facts.  0, or -1. */
static int
read_record(int dirfd, const char *record, char *name, size_t namelen, struct mark_facts *f)
{
	char content[RECORD_CONTENT_MAX + 1];
	const char *p = content, *end;
	ssize_t n;
	int fd = openat(dirfd, record, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	do
		n = read(fd, content, sizeof(content));
	while (n < 0 && errno == EINTR);
	sys_close(fd);
	if (n <= 0 || (size_t)n > RECORD_CONTENT_MAX)
		return -1;
	end = content + n;
	if (next_field(&p, end, name, namelen) < 0 || name[0] == '\0' || name[0] == '.' ||
	    strchr(name, '/') != NULL)
		return -1;
	return mark_parse(p, (size_t)(end - p), f);
}

int
mark_scan(int dirfd, void (*found)(const char *name, const char *record,
    const struct mark_facts *f, void *arg), void *arg)
{
	struct dirent *de;
	DIR *dir;
	int fd, count = 0;

	/* fdopendir takes ownership, so give it its own descriptor. */
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		sys_close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char name[STORE_NAME_MAX];
		struct mark_facts f;
		int ffd, rc;

		if (mark_is_record(de->d_name)) {
			if (read_record(dirfd, de->d_name, name, sizeof(name), &f) == 0) {
				found(name, de->d_name, &f, arg);
				count++;
			}
			continue;
		}
		if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		ffd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (ffd < 0)
			continue;
		rc = mark_get(ffd, &f);
		sys_close(ffd);
		if (rc == 1) {
			found(de->d_name, "", &f, arg);
			count++;
		}
	}
	closedir(dir);
	return count;
}
