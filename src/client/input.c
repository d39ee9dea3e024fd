/* SPDX-License-Identifier: ISC */
/*
 * input.c - what tcpx send reads: a regular file, or standard input (sent
 * from where it stands if it is a regular file, else spooled to an unnamed
 * temporary file, since a header declares the size before the data), and
 * its SHA-256, computed before sending for the header's DIGEST.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/input.h"
#include "client/report.h"
#include "io/sys.h"

/* Standard input of unknown size, copied to an unnamed file (and hashed on the way). */
static int
spool_stdin(struct input *in, EVP_MD_CTX *md, char *buf, size_t len)
{
	const char *dir = getenv("TMPDIR");
	ssize_t n;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((in->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0)
		return report_fail(EXIT_LOCAL, "cannot spool standard input in %s: %s", dir,
		    strerror(errno));
	in->size = 0;
	while ((n = read(STDIN_FILENO, buf, len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sys_write_all(in->fd, buf, (size_t)n) < 0)
			return report_fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
		if (md != NULL && EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			return report_fail(EXIT_LOCAL, "SHA-256 failed");
		in->size += (unsigned long long)n;
	}
	if (lseek(in->fd, 0, SEEK_SET) < 0)
		return report_fail(EXIT_LOCAL, "spool: %s", strerror(errno));
	in->hashed = md != NULL;
	return EXIT_OK;
}

/* Reads the size bytes of the data once, for their digest, and goes back to their start. */
static int
hash_file(struct input *in, EVP_MD_CTX *md, char *buf, size_t len)
{
	unsigned long long left = in->size;

	while (left > 0) {
		ssize_t n = read(in->fd, buf, left < len ? (size_t)left : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return report_fail(EXIT_LOCAL, "%s: %s", in->label,
			    n < 0 ? strerror(errno) : "file shrank while hashing");
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			return report_fail(EXIT_LOCAL, "SHA-256 failed");
		left -= (unsigned long long)n;
	}
	if (input_seek(in, 0) < 0)
		return report_fail(EXIT_LOCAL, "%s: %s", in->label, strerror(errno));
	in->hashed = true;
	return EXIT_OK;
}

static int
open_stdin(const struct tcpx_opts *opt, struct input *in, EVP_MD_CTX *md, char *buf, size_t len)
{
	off_t at;

	if (!opt->raw && opt->name == NULL)
		return report_fail(EXIT_USAGE, "sending standard input needs --name NAME (or --raw)");
	if (fstat(STDIN_FILENO, &in->st) == 0 && S_ISREG(in->st.st_mode) &&
	    (at = lseek(STDIN_FILENO, 0, SEEK_CUR)) >= 0 && at <= in->st.st_size) {
		/* Sent from where standard input stands, as cat would. */
		if ((in->fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)) < 0)
			return report_fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
		in->start = at;
		in->size = (unsigned long long)(in->st.st_size - at);
		return EXIT_OK;
	}
	return spool_stdin(in, md, buf, len);
}

static int
open_path(struct input *in)
{
	if ((in->fd = open(in->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in->fd, &in->st) < 0)
		return report_fail(EXIT_LOCAL, "%s: %s", in->path, strerror(errno));
	if (!S_ISREG(in->st.st_mode))
		return report_fail(EXIT_LOCAL, "%s: not a regular file", in->path);
	in->size = (unsigned long long)in->st.st_size;
	in->regular = true;
	return EXIT_OK;
}

int
input_open(const struct tcpx_opts *opt, const char *path, const char *label, struct input *in,
    char *buf, size_t len)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *base = opt->name ? opt->name : is_stdin ? "stdin" : path, *why;
	EVP_MD_CTX *md = NULL;
	int rc;

	*in = (struct input){ .path = path, .label = label, .fd = -1 };
	if (!opt->raw && ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)) {
		EVP_MD_CTX_free(md);
		return report_fail(EXIT_LOCAL, "out of memory");
	}
	rc = is_stdin ? open_stdin(opt, in, md, buf, len) : open_path(in);
	if (rc == EXIT_OK && !opt->raw && frame_name_sanitise(base, strlen(base), in->name, &why) < 0)
		rc = report_fail(EXIT_USAGE, "%s: the daemon would refuse this name: %s%s", label, why,
		    opt->name ? "" : " (give another with --name)");
	if (rc == EXIT_OK && md != NULL && !in->hashed)
		rc = hash_file(in, md, buf, len);
	if (rc == EXIT_OK && md != NULL) {
		if (EVP_DigestFinal_ex(md, in->sha256, NULL) == 1)
			input_hex(in);
		else
			rc = report_fail(EXIT_LOCAL, "SHA-256 failed");
	}
	EVP_MD_CTX_free(md);
	return rc;
}

int
input_seek(struct input *in, unsigned long long offset)
{
	return lseek(in->fd, in->start + (off_t)offset, SEEK_SET) < 0 ? -1 : 0;
}

void
input_hex(struct input *in)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SHA256_LEN; i++) {
		in->hex[2 * i] = hex[in->sha256[i] >> 4];
		in->hex[2 * i + 1] = hex[in->sha256[i] & 0xf];
	}
	in->hex[SHA256_LEN * 2] = '\0';
}

void
input_close(struct input *in)
{
	sys_close(in->fd);
	in->fd = -1;
}
