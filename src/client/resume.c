/* SPDX-License-Identifier: ISC */
/*
 * resume.c - the resume state of tcpx send.  Each upload in progress has a
 * file named by the SHA-256 of its key (target, path, size, mtime, name) in
 * $XDG_STATE_HOME/tcpx/ (default ~/.local/state/tcpx/), holding its upload
 * id: one file per upload, written by rename, so that tcpx processes
 * running at once never need a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/resume.h"
#include "io/sys.h"

static const char hex[] = "0123456789abcdef";

static void
to_hex(const unsigned char *bytes, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Makes dir and its missing parents, private: 0, or -1 with errno. */
static int
make_dirs(char *dir)
{
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			*p = saved;
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* The state directory, made if missing: 0, or -1 with err. */
static int
state_dir(char *out, size_t len, char *err, size_t errlen)
{
	const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG rule: a relative XDG_STATE_HOME is invalid and ignored. */
	if (base != NULL && base[0] == '/')
		n = snprintf(out, len, "%s/tcpx", base);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, len, "%s/.local/state/tcpx", home);
	else {
		snprintf(err, errlen, "no state directory: neither XDG_STATE_HOME nor HOME is set");
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "state directory name too long");
		return -1;
	}
	if (make_dirs(out) < 0) {
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

/* The state file of k: "DIR/upload-<sha256 of the key>". */
static int
state_file(const struct resume_key *k, char *out, size_t len, char *err, size_t errlen)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	char dir[PATH_MAX], numbers[96], digest_hex[2 * 32 + 1];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned dlen = 0;
	int n, ok;

	if (state_dir(dir, sizeof(dir), err, errlen) < 0) {
		EVP_MD_CTX_free(md);
		return -1;
	}
	snprintf(numbers, sizeof(numbers), "%llu %lld.%09ld", k->size, (long long)k->mtime.tv_sec,
	    k->mtime.tv_nsec);
	/* NUL between the fields: no two keys give the same bytes. */
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, k->target, strlen(k->target) + 1) == 1 &&
	    EVP_DigestUpdate(md, k->path, strlen(k->path) + 1) == 1 &&
	    EVP_DigestUpdate(md, numbers, strlen(numbers) + 1) == 1 &&
	    EVP_DigestUpdate(md, k->name, strlen(k->name) + 1) == 1 &&
	    EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 32;
	EVP_MD_CTX_free(md);
	if (!ok) {
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	to_hex(digest, 32, digest_hex);
	n = snprintf(out, len, "%s/upload-%s", dir, digest_hex);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "state directory name too long");
		return -1;
	}
	return 0;
}

/* The id saved in file: 0, or -1 if there is none (or not one tcpx wrote). */
static int
read_id(const char *file, char id[RESUME_ID_LEN + 1])
{
	char buf[RESUME_ID_LEN + 1];
	size_t have = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (have < sizeof(buf)) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	sys_close(fd);
	if (have != sizeof(buf) || buf[RESUME_ID_LEN] != '\n')
		return -1;
	for (size_t i = 0; i < RESUME_ID_LEN; i++) {
		if (strchr(hex, buf[i]) == NULL || buf[i] == '\0')
			return -1;
	}
	memcpy(id, buf, RESUME_ID_LEN);
	id[RESUME_ID_LEN] = '\0';
	return 0;
}

/* Saves id, and the key for whoever looks, by rename: a file is there whole or not at all. */
static int
write_id(const char *file, const struct resume_key *k, const char *id, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 32], text[RESUME_ID_LEN + 2 * PATH_MAX + 128];
	int fd, n, len;

	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", file, (long)getpid());
	len = snprintf(text, sizeof(text), "%s\n%s %llu %lld.%09ld %s\n%s\n", id, k->target, k->size,
	    (long long)k->mtime.tv_sec, k->mtime.tv_nsec, k->name, k->path);
	if (n < 0 || (size_t)n >= sizeof(tmp) || len < 0 || (size_t)len >= sizeof(text)) {
		snprintf(err, errlen, "%s: name too long", file);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto fail;
	if (sys_write_all(fd, text, (size_t)len) < 0) {
		int saved = errno;

		sys_close(fd);
		errno = saved;
		goto unlink;
	}
	if (close(fd) < 0 || rename(tmp, file) < 0)
		goto unlink;
	return 0;
unlink:
	n = errno;
	(void)unlink(tmp);
	errno = n;
fail:
	snprintf(err, errlen, "%s: %s", file, strerror(errno));
	return -1;
}

int
resume_new_id(char id[RESUME_ID_LEN + 1])
{
	unsigned char random[RESUME_ID_LEN / 2];

	id[0] = '\0';
	if (RAND_bytes(random, sizeof(random)) != 1)
		return -1;
	to_hex(random, sizeof(random), id);
	return 0;
}

int
resume_lookup(const struct resume_key *k, char id[RESUME_ID_LEN + 1], char *err, size_t errlen)
{
	char file[PATH_MAX];
	bool have_file = state_file(k, file, sizeof(file), err, errlen) == 0;

	if (have_file && read_id(file, id) == 0)
		return 0;
	if (resume_new_id(id) < 0) {
		snprintf(err, errlen, "no random upload id");
		return -1;
	}
	if (!have_file || write_id(file, k, id, err, errlen) < 0)
		return -1;
	return 0;
}

void
resume_forget(const struct resume_key *k)
{
	char file[PATH_MAX], err[64];

	if (state_file(k, file, sizeof(file), err, sizeof(err)) == 0)
		(void)unlink(file);
}
