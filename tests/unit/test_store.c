/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - output directory: stored names, open checks, commit/abort,
 * stale cleanup, free space, and the hidden-name fallback without O_TMPFILE.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/services/mark.h"
#include "daemon/services/store.h"
#include "unit.h"

#define WHEN ((time_t)1795000000)       /* 2026-11-18 11:06:40 UTC */

static char tmpdir[PATH_MAX];

static void
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/tcpxd-unit-store.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void
remove_tree(const char *path)
{
	struct dirent *de;
	DIR *d;
	char sub[PATH_MAX];

	chmod(path, 0700);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct stat sb;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
				remove_tree(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void
teardown(void)
{
	if (tmpdir[0] != '\0')
		remove_tree(tmpdir);
	tmpdir[0] = '\0';
}

static int
unlink_in(const char *dir, const char *name)
{
	char path[PATH_MAX + NAME_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return unlink(path);
}

/* Names in dir other than . and .., sorted, joined by '|'. */
static char *
list_dir(const char *dir)
{
	static char out[4096];
	struct dirent **names;
	int n;

	out[0] = '\0';
	n = scandir(dir, &names, NULL, alphasort);
	ck_assert_msg(n >= 0, "scandir %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			if (out[0] != '\0')
				strncat(out, "|", sizeof(out) - strlen(out) - 1);
			strncat(out, names[i]->d_name, sizeof(out) - strlen(out) - 1);
		}
		free(names[i]);
	}
	free(names);
	return out;
}

static void
write_file(const char *dir, const char *name, const char *content)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg((fp = fopen(path, "w")) != NULL, "%s: %s", path, strerror(errno));
	fputs(content, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

/* The whole file, NUL-terminated; its size through len. */
static char *
read_file(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	struct stat sb;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg((fd = open(path, O_RDONLY)) >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)sb.st_size + 1), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static struct in6_addr
addr6(const char *text)
{
	struct in6_addr a;

	ck_assert_int_eq(inet_pton(AF_INET6, text, &a), 1);
	return a;
}

static struct store *
open_store_at(const char *dir, unsigned mode)
{
	struct store *st = NULL;
	char err[512] = "";

	ck_assert_msg(store_open(dir, mode, 0, &st, err, sizeof(err)) == 0, "store_open: %s", err);
	ck_assert_ptr_nonnull(st);
	return st;
}

static struct store *
open_store(unsigned mode)
{
	return open_store_at(tmpdir, mode);
}

/*
 * Two stores on tmpdir's file system whose reserve leaves 64 MiB free now:
 * 40 MiB fit above it, 80 do not, and 24 MiB are room for other writers.
 * False (nothing opened) when the file system has less than 128 MiB free.
 */
static bool
two_stores_64m_free(struct store **a, struct store **b, uint64_t claim_step)
{
	uint64_t avail, mib = 1 << 20;
	struct statvfs vfs;

	ck_assert_int_eq(statvfs(tmpdir, &vfs), 0);
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < 128 * mib)
		return false;
	*a = open_store(0640);
	*b = open_store(0640);
	store_keep_free(*a, avail - 64 * mib, 0, claim_step);
	store_keep_free(*b, avail - 64 * mib, 0, claim_step);
	return true;
}

/* The sequence number at the end of a stored name. */
static unsigned long long
name_seq_of(const char *name)
{
	const char *us = strrchr(name, '_');

	ck_assert_ptr_nonnull(us);
	return strtoull(us + 1, NULL, 10);
}

START_TEST(test_store_name_make)
{
	char buf[STORE_NAME_MAX];
	struct in6_addr a;

	a = addr6("::ffff:127.0.0.1");
	store_name_make(buf, sizeof(buf), WHEN, &a, 42);
	ck_assert_str_eq(buf, "20261118T110640Z_127.0.0.1_000042.bin");
	store_name_make(buf, sizeof(buf), 1795595412, &a, 42);
	ck_assert_str_eq(buf, "20261125T083012Z_127.0.0.1_000042.bin");   /* DESIGN §4 */
	a = addr6("::ffff:192.0.2.250");
	store_name_make(buf, sizeof(buf), WHEN, &a, 0);
	ck_assert_str_eq(buf, "20261118T110640Z_192.0.2.250_000000.bin");
	store_name_make(buf, sizeof(buf), 0, &a, 1234567);
	ck_assert_str_eq(buf, "19700101T000000Z_192.0.2.250_1234567.bin");

	a = addr6("2001:db8::1");
	store_name_make(buf, sizeof(buf), WHEN, &a, 7);
	ck_assert_str_eq(buf, "20261118T110640Z_2001-db8--1_000007.bin");
	a = addr6("::1");
	store_name_make(buf, sizeof(buf), WHEN, &a, 999999);
	ck_assert_str_eq(buf, "20261118T110640Z_--1_999999.bin");
	ck_assert_ptr_null(strchr(buf, ':'));

	/* The longest name fits STORE_NAME_MAX. */
	a = addr6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	store_name_make(buf, sizeof(buf), WHEN, &a, ULLONG_MAX);
	ck_assert_str_eq(buf, "20261118T110640Z_ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff_"
	    "18446744073709551615.bin");
}
END_TEST

START_TEST(test_store_name_sorts)
{
	char a[STORE_NAME_MAX], b[STORE_NAME_MAX];
	struct in6_addr p = addr6("::ffff:10.0.0.1");

	store_name_make(a, sizeof(a), WHEN, &p, 9);
	store_name_make(b, sizeof(b), WHEN, &p, 10);
	ck_assert_int_lt(strcmp(a, b), 0);
	store_name_make(b, sizeof(b), WHEN + 1, &p, 1);
	ck_assert_int_lt(strcmp(a, b), 0);
}
END_TEST

START_TEST(test_store_open_missing)
{
	struct store *st = (struct store *)&st;
	char path[PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/nonexistent", tmpdir);
	ck_assert_int_eq(store_open(path, 0640, 0, &st, err, sizeof(err)), -1);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, path) != NULL, "error does not name the directory: %s", err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "error does not say why: %s", err);
}
END_TEST

START_TEST(test_store_open_not_dir)
{
	struct store *st = (struct store *)&st;
	char path[PATH_MAX + 16], err[512] = "";

	write_file(tmpdir, "plain", "x");
	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	ck_assert_int_eq(store_open(path, 0640, 0, &st, err, sizeof(err)), -1);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, strerror(ENOTDIR)) != NULL, "unexpected error: %s", err);
}
END_TEST

START_TEST(test_store_open_not_writable)
{
	struct store *st = (struct store *)&st;
	char err[512] = "";

	if (geteuid() == 0)
		return;         /* root bypasses permissions: nothing to check */
	ck_assert_int_eq(chmod(tmpdir, 0555), 0);
	ck_assert_int_eq(store_open(tmpdir, 0640, 0, &st, err, sizeof(err)), -1);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, "not writable") != NULL, "unexpected error: %s", err);
	ck_assert_msg(strstr(err, tmpdir) != NULL, "error does not name the directory: %s", err);
	ck_assert_str_eq(list_dir(tmpdir), "");
}
END_TEST

START_TEST(test_store_open_leaves_nothing)
{
	struct store *st = open_store(0640);

	ck_assert_str_eq(list_dir(tmpdir), "");
	store_close(st);
}
END_TEST

START_TEST(test_store_commit)
{
	char name[STORE_NAME_MAX], lo[STORE_NAME_MAX], hi[STORE_NAME_MAX], path[PATH_MAX + STORE_NAME_MAX + 2];
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	struct store *st;
	struct upload up;
	struct stat sb;
	const char *visible;
	time_t before, after;
	mode_t old_umask;
	char *content;
	size_t len;

	old_umask = umask(077);         /* the stored mode must not depend on the umask */
	st = open_store(0640);
	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_ge(up.fd, 0);
	ck_assert_int_eq(store_write(&up, "hello, ", 7), 0);
	ck_assert_int_eq(store_write(&up, "world\n", 6), 0);
	/* Nothing is visible before the commit (a hidden temporary name at most). */
	visible = list_dir(tmpdir);
	ck_assert_msg(visible[0] == '\0' || (strncmp(visible, ".tcpxd-tmp.", 11) == 0 &&
	    strchr(visible, '|') == NULL), "visible before commit: %s", visible);
	ck_assert_int_eq(store_uses_tmpfile(st), visible[0] == '\0');

	before = time(NULL);
	memset(name, 0, sizeof(name));
	ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
	after = time(NULL);
	ck_assert_int_eq(up.fd, -1);

	/* Exactly one file, under the returned name. */
	ck_assert_str_eq(list_dir(tmpdir), name);
	store_name_make(lo, sizeof(lo), before, &p, name_seq_of(name));
	store_name_make(hi, sizeof(hi), after, &p, name_seq_of(name));
	ck_assert_msg(strcmp(name, lo) >= 0 && strcmp(name, hi) <= 0,
	    "%s is not between %s and %s", name, lo, hi);
	ck_assert_str_eq(name + strlen(name) - 4, ".bin");

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	ck_assert_uint_eq(sb.st_nlink, 1);
	content = read_file(tmpdir, name, &len);
	ck_assert_uint_eq(len, 13);
	ck_assert_str_eq(content, "hello, world\n");
	free(content);
	store_close(st);
	umask(old_umask);
}
END_TEST

START_TEST(test_store_commit_file_mode)
{
	static const unsigned modes[] = { 0600, 0644, 0666 };
	char name[STORE_NAME_MAX], path[PATH_MAX + STORE_NAME_MAX + 2];
	struct in6_addr p = addr6("2001:db8::5");
	struct upload up;
	struct stat sb;
	mode_t old_umask = umask(0);

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct store *st = open_store(modes[i]);

		ck_assert_int_eq(store_begin(st, &up), 0);
		ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
		ck_assert_ptr_nonnull(strstr(name, "_2001-db8--5_"));
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, modes[i]);
		ck_assert_int_eq(sb.st_size, 0);        /* an empty upload is a valid file */
		store_close(st);
	}
	umask(old_umask);
}
END_TEST

START_TEST(test_store_commit_large)
{
	enum { CHUNK = 65536, CHUNKS = 40 };
	char name[STORE_NAME_MAX];
	struct in6_addr p = addr6("::ffff:10.0.0.2");
	struct store *st = open_store(0640);
	struct upload up;
	unsigned char *chunk = malloc(CHUNK);
	char *content;
	size_t len;

	ck_assert_ptr_nonnull(chunk);
	ck_assert_int_eq(store_begin(st, &up), 0);
	for (int c = 0; c < CHUNKS; c++) {
		for (int i = 0; i < CHUNK; i++)
			chunk[i] = (unsigned char)(c * 31 + i * 7);
		ck_assert_int_eq(store_write(&up, chunk, CHUNK), 0);
	}
	ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
	content = read_file(tmpdir, name, &len);
	ck_assert_uint_eq(len, (size_t)CHUNK * CHUNKS);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)content[i] != (unsigned char)((i / CHUNK) * 31 + (i % CHUNK) * 7))
			ck_abort_msg("byte %zu differs", i);
	}
	free(content);
	free(chunk);
	store_close(st);
}
END_TEST

START_TEST(test_store_abort)
{
	struct store *st = open_store(0640);
	struct upload up;

	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_write(&up, "partial", 7), 0);
	errno = EPIPE;
	store_abort(&up);
	ck_assert_int_eq(errno, EPIPE);         /* the caller's reason survives */
	ck_assert_int_eq(up.fd, -1);
	ck_assert_str_eq(list_dir(tmpdir), "");
	store_close(st);
}
END_TEST

START_TEST(test_store_two_commits)
{
	char n1[STORE_NAME_MAX], n2[STORE_NAME_MAX], *c1, *c2, expect[STORE_NAME_MAX * 2 + 2];
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	struct store *st = open_store(0640);
	struct upload up1, up2;
	size_t len;

	/* Two uploads in flight at once, committed in the other order. */
	ck_assert_int_eq(store_begin(st, &up1), 0);
	ck_assert_int_eq(store_begin(st, &up2), 0);
	ck_assert_int_eq(store_write(&up1, "first", 5), 0);
	ck_assert_int_eq(store_write(&up2, "second", 6), 0);
	ck_assert_int_eq(store_commit(&up2, &p, n2, sizeof(n2)), 0);
	ck_assert_int_eq(store_commit(&up1, &p, n1, sizeof(n1)), 0);
	ck_assert_str_ne(n1, n2);
	ck_assert_int_lt(strcmp(n2, n1), 0);    /* later commits sort later */
	snprintf(expect, sizeof(expect), "%s|%s", n2, n1);
	ck_assert_str_eq(list_dir(tmpdir), expect);
	c1 = read_file(tmpdir, n1, &len);
	ck_assert_str_eq(c1, "first");
	c2 = read_file(tmpdir, n2, &len);
	ck_assert_str_eq(c2, "second");
	free(c1);
	free(c2);
	store_close(st);
}
END_TEST

START_TEST(test_store_never_overwrites)
{
	char first[STORE_NAME_MAX], name[STORE_NAME_MAX], taken[STORE_NAME_MAX], *c;
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	struct store *st = open_store(0640);
	unsigned long long next;
	struct upload up;
	time_t now;
	size_t len;

	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_commit(&up, &p, first, sizeof(first)), 0);
	/* Occupy every name the next commit could try first, around now. */
	next = name_seq_of(first) + 1;
	now = time(NULL);
	for (time_t t = now - 1; t <= now + 5; t++) {
		store_name_make(taken, sizeof(taken), t, &p, next);
		write_file(tmpdir, taken, "precious");
	}
	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_write(&up, "new", 3), 0);
	ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
	ck_assert_uint_gt(name_seq_of(name), next);
	c = read_file(tmpdir, name, &len);
	ck_assert_str_eq(c, "new");
	free(c);
	for (time_t t = now - 1; t <= now + 5; t++) {
		store_name_make(taken, sizeof(taken), t, &p, next);
		c = read_file(tmpdir, taken, &len);
		ck_assert_str_eq(c, "precious");
		free(c);
	}
	store_close(st);
}
END_TEST

START_TEST(test_store_name_free)
{
	struct store *st = open_store(0640);
	char name[32], longest[256];

	ck_assert_int_eq(store_name_free(st, "n"), 1);
	write_file(tmpdir, "n", "");
	ck_assert_int_eq(store_name_free(st, "n"), 1);
	for (int i = 1; i <= 999; i++) {
		snprintf(name, sizeof(name), "n.%d", i);
		write_file(tmpdir, name, "");
	}
	ck_assert_int_eq(store_name_free(st, "n"), 0);
	ck_assert_int_eq(store_name_free(st, "n.1"), 1);    /* n.1.1 */
	ck_assert_int_eq(unlink_in(tmpdir, "n.999"), 0);
	ck_assert_int_eq(store_name_free(st, "n"), 1);
	/* A 255-byte name has no room for a suffix: taken means refused. */
	memset(longest, 'x', 255);
	longest[255] = '\0';
	ck_assert_int_eq(store_name_free(st, longest), 1);
	write_file(tmpdir, longest, "");
	ck_assert_int_eq(store_name_free(st, longest), 0);
	store_close(st);
}
END_TEST

START_TEST(test_store_remove_stale)
{
	struct store *st;
	char path[PATH_MAX + 32];

	write_file(tmpdir, ".tcpxd-tmp.123.4", "left by a crash");
	write_file(tmpdir, "20261118T110640Z_127.0.0.1_000001.bin", "stored");
	write_file(tmpdir, ".tcpxd-tmpX", "not ours");
	write_file(tmpdir, "tcpxd-tmp.1.2", "not ours");
	write_file(tmpdir, ".hidden", "not ours");
	snprintf(path, sizeof(path), "%s/.tcpxd-tmp.dir", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	st = open_store(0640);
	ck_assert_int_eq(store_remove_stale(st), 1);
	ck_assert_str_eq(list_dir(tmpdir), ".hidden|.tcpxd-tmp.dir|.tcpxd-tmpX|"
	    "20261118T110640Z_127.0.0.1_000001.bin|tcpxd-tmp.1.2");
	/* Nothing left to do the second time. */
	ck_assert_int_eq(store_remove_stale(st), 0);
	store_close(st);
}
END_TEST

START_TEST(test_store_remove_stale_spares_locked)
{
	struct store *st;
	char path[PATH_MAX + 32];
	int fd;

	/* A live tcpxd holds a flock on its temporary file. */
	snprintf(path, sizeof(path), "%s/.tcpxd-tmp.999.1", tmpdir);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	write_file(tmpdir, ".tcpxd-tmp.998.7", "stale");
	st = open_store(0640);
	ck_assert_int_eq(store_remove_stale(st), 1);
	ck_assert_str_eq(list_dir(tmpdir), ".tcpxd-tmp.999.1");
	close(fd);
	ck_assert_int_eq(store_remove_stale(st), 1);
	ck_assert_str_eq(list_dir(tmpdir), "");
	store_close(st);
}
END_TEST

START_TEST(test_store_remove_stale_symlink)
{
	char outside[PATH_MAX + 32], link[PATH_MAX + 32], *c;
	struct store *st;
	size_t len;

	/* A planted symlink must not lead cleanup to a file outside the directory. */
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	write_file(outside, "victim", "keep me");
	snprintf(outside, sizeof(outside), "%s/outside/victim", tmpdir);
	snprintf(link, sizeof(link), "%s/inbox", tmpdir);
	ck_assert_int_eq(mkdir(link, 0700), 0);
	snprintf(link, sizeof(link), "%s/inbox/.tcpxd-tmp.1.1", tmpdir);
	ck_assert_int_eq(symlink(outside, link), 0);
	snprintf(link, sizeof(link), "%s/inbox", tmpdir);
	st = open_store_at(link, 0640);
	store_remove_stale(st);
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	c = read_file(outside, "victim", &len);
	ck_assert_str_eq(c, "keep me");
	free(c);
	store_close(st);
}
END_TEST

START_TEST(test_store_reserve)
{
	struct store *st = open_store(0640);
	struct upload up;

	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_reserve(&up, 0), STORE_RESERVE_OK);
	store_keep_free(st, 1, 0, 0);
	ck_assert_int_eq(store_reserve(&up, 4096), STORE_RESERVE_OK);
	store_keep_free(st, (uint64_t)1 << 62, 0, 0);
	ck_assert_int_eq(store_reserve(&up, 1 << 20), STORE_LOW_SPACE);
	store_keep_free(st, UINT64_MAX, 0, 0);
	ck_assert_int_eq(store_reserve(&up, 1 << 21), STORE_LOW_SPACE);
	store_abort(&up);
	store_close(st);
}
END_TEST

/*
 * A size expected is checked against the others' claims, but not held: it
 * neither refuses another upload nor counts against its checks.
 */
START_TEST(test_store_expect_holds_nothing)
{
	uint64_t mib = 1 << 20;
	struct store *a, *b;
	struct upload ua, ub;

	if (!two_stores_64m_free(&a, &b, mib))
		return;
	ck_assert_int_eq(store_begin(a, &ua), 0);
	ck_assert_int_eq(store_begin(b, &ub), 0);
	ck_assert_int_eq(store_expect(&ua, 40 * mib), STORE_RESERVE_OK);
	ck_assert_int_eq(store_expect(&ub, 40 * mib), STORE_RESERVE_OK);
	ck_assert_int_eq(store_reserve(&ua, 1), STORE_RESERVE_OK);
	ck_assert_int_eq(store_reserve(&ub, 1), STORE_RESERVE_OK);
	/* What the other claimed counts: its claim step, and no more. */
	ck_assert_int_eq(store_expect(&ub, 56 * mib), STORE_RESERVE_OK);
	ck_assert_int_eq(store_expect(&ub, 80 * mib), STORE_LOW_SPACE);
	store_abort(&ua);
	store_abort(&ub);
	store_close(a);
	store_close(b);
}
END_TEST

START_TEST(test_store_reserve_inodes)
{
	struct store *st = open_store(0640);
	struct statvfs vfs;
	struct upload up;

	ck_assert_int_eq(statvfs(tmpdir, &vfs), 0);
	if (vfs.f_files == 0)
		return;         /* a file system without an inode table (btrfs) */
	ck_assert_int_eq(store_begin(st, &up), 0);
	store_keep_free(st, 0, 1, 0);
	ck_assert_int_eq(store_reserve(&up, 0), STORE_RESERVE_OK);
	store_abort(&up);
	/* Inodes are checked at the first call, not at every claim. */
	ck_assert_int_eq(store_begin(st, &up), 0);
	store_keep_free(st, 0, (uint64_t)vfs.f_files + 1, 0);
	ck_assert_int_eq(store_reserve(&up, 0), STORE_LOW_INODES);
	store_abort(&up);
	store_close(st);
}
END_TEST

START_TEST(test_store_auto_inodes)
{
	ck_assert_uint_eq(store_auto_inodes(0), 1000);
	ck_assert_uint_eq(store_auto_inodes(120), 1000);
	ck_assert_uint_eq(store_auto_inodes(100099), 1000);
	ck_assert_uint_eq(store_auto_inodes(1000000), 10000);
}
END_TEST

/*
 * What one upload claimed counts against another's check until it is
 * written or given back, also between two stores of one file system.
 */
START_TEST(test_store_reserve_sees_other_claims)
{
	uint64_t mib = 1 << 20;
	struct store *a, *b;
	struct upload ua, ub;

	if (!two_stores_64m_free(&a, &b, 0))
		return;
	ck_assert_int_eq(store_begin(a, &ua), 0);
	ck_assert_int_eq(store_begin(b, &ub), 0);
	ck_assert_int_eq(store_reserve(&ua, 40 * mib), STORE_RESERVE_OK);
	ck_assert_int_eq(store_reserve(&ub, 40 * mib), STORE_LOW_SPACE);
	store_abort(&ua);
	ck_assert_int_eq(store_reserve(&ub, 40 * mib), STORE_RESERVE_OK);
	store_abort(&ub);
	store_close(a);
	store_close(b);
}
END_TEST

/* --- The fallback without O_TMPFILE: hidden names under flock. --- */

#define TMP_PREFIX ".tcpxd-tmp."
#define TMP_PREFIX_LEN (sizeof(TMP_PREFIX) - 1)
#define TMPNAME_SIZE sizeof(((struct upload *)0)->tmpname)

static struct store *
open_fallback_at(const char *dir, unsigned mode)
{
	struct store *st = NULL;
	char err[512] = "";

	ck_assert_msg(store_open(dir, mode, STORE_NO_TMPFILE, &st, err, sizeof(err)) == 0,
	    "store_open(STORE_NO_TMPFILE): %s", err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_uses_tmpfile(st), 0);
	return st;
}

static int
is_tmp_name(const char *name)
{
	return strncmp(name, TMP_PREFIX, TMP_PREFIX_LEN) == 0;
}

/* Entries in dir other than . and ..; those with the temporary prefix through hidden. */
static int
count_entries(const char *dir, int *hidden)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	ck_assert_msg((d = opendir(dir)) != NULL, "opendir %s: %s", dir, strerror(errno));
	if (hidden != NULL)
		*hidden = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (hidden != NULL && is_tmp_name(de->d_name))
			(*hidden)++;
	}
	closedir(d);
	return n;
}

static int
exists(const char *dir, const char *name)
{
	char path[PATH_MAX + STORE_NAME_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lstat(path, &sb) == 0)
		return 1;
	ck_assert_msg(errno == ENOENT, "lstat %s: %s", path, strerror(errno));
	return 0;
}

/* 1 if another open file description can take the file's flock now, 0 if it is held. */
static int
lock_free(const char *dir, const char *name)
{
	char path[PATH_MAX + STORE_NAME_MAX];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg((fd = open(path, O_RDONLY | O_NOFOLLOW)) >= 0, "%s: %s", path, strerror(errno));
	rc = flock(fd, LOCK_EX | LOCK_NB);
	if (rc < 0)
		ck_assert_msg(errno == EWOULDBLOCK, "flock %s: %s", path, strerror(errno));
	close(fd);
	return rc == 0;
}

static void
assert_content(const char *dir, const char *name, const char *expect)
{
	size_t len;
	char *c = read_file(dir, name, &len);

	ck_assert_uint_eq(len, strlen(expect));
	ck_assert_str_eq(c, expect);
	free(c);
}

/* The hidden name of a fallback upload: ours, with our pid, and in the directory. */
static void
assert_tmpname(const struct upload *up, pid_t pid)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), TMP_PREFIX "%ld.", (long)pid);
	ck_assert_msg(strncmp(up->tmpname, prefix, strlen(prefix)) == 0,
	    "temporary name %s does not start with %s", up->tmpname, prefix);
	ck_assert_ptr_null(strchr(up->tmpname, '/'));
}

START_TEST(test_fallback_open)
{
	struct store *st;
	int fd;

	st = open_fallback_at(tmpdir, 0640);
	ck_assert_str_eq(list_dir(tmpdir), "");         /* the probe file is gone */
	store_close(st);

	/* Without the flag, the same directory uses O_TMPFILE where it works. */
	st = open_store(0640);
	fd = open(tmpdir, O_TMPFILE | O_WRONLY, 0600);
	if (fd >= 0) {
		close(fd);
		ck_assert_int_eq(store_uses_tmpfile(st), 1);
	}
	ck_assert_str_eq(list_dir(tmpdir), "");
	store_close(st);
}
END_TEST

START_TEST(test_fallback_commit)
{
	static const unsigned modes[] = { 0640, 0600 };
	char name[STORE_NAME_MAX], hidden[TMPNAME_SIZE];
	char path[PATH_MAX + STORE_NAME_MAX];
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	mode_t old_umask = umask(077);  /* the stored mode must not depend on the umask */
	struct upload up;
	struct stat sb;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct store *st = open_fallback_at(tmpdir, modes[i]);

		ck_assert_int_eq(store_begin(st, &up), 0);
		ck_assert_int_ge(up.fd, 0);
		assert_tmpname(&up, getpid());
		snprintf(hidden, sizeof(hidden), "%s", up.tmpname);

		/* Before the commit: one hidden entry, holding what was written so far. */
		ck_assert_int_eq(store_write(&up, "hello, ", 7), 0);
		ck_assert_str_eq(list_dir(tmpdir), hidden);
		assert_content(tmpdir, hidden, "hello, ");
		ck_assert_msg(!lock_free(tmpdir, hidden), "%s is not locked", hidden);
		ck_assert_int_eq(store_write(&up, "world\n", 6), 0);
		assert_content(tmpdir, hidden, "hello, world\n");

		memset(name, 0, sizeof(name));
		ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
		ck_assert_int_eq(up.fd, -1);
		ck_assert_msg(!is_tmp_name(name), "committed under a temporary name: %s", name);
		ck_assert_str_eq(name + strlen(name) - 4, ".bin");

		/* After: the hidden name is gone, one visible file with everything. */
		ck_assert_int_eq(exists(tmpdir, hidden), 0);
		ck_assert_str_eq(list_dir(tmpdir), name);
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
		ck_assert_int_eq(lstat(path, &sb), 0);
		ck_assert(S_ISREG(sb.st_mode));
		ck_assert_uint_eq(sb.st_mode & 07777, modes[i]);
		ck_assert_uint_eq(sb.st_nlink, 1);      /* not left linked under two names */
		assert_content(tmpdir, name, "hello, world\n");
		ck_assert_msg(lock_free(tmpdir, name), "%s still locked after commit", name);

		ck_assert_int_eq(unlink(path), 0);
		store_close(st);
	}
	umask(old_umask);
}
END_TEST

START_TEST(test_fallback_abort)
{
	char hidden[TMPNAME_SIZE];
	struct store *st = open_fallback_at(tmpdir, 0640);
	struct upload up;

	ck_assert_int_eq(store_begin(st, &up), 0);
	snprintf(hidden, sizeof(hidden), "%s", up.tmpname);
	ck_assert_int_eq(store_write(&up, "partial", 7), 0);
	ck_assert_int_eq(store_write(&up, " data", 5), 0);
	ck_assert_str_eq(list_dir(tmpdir), hidden);
	errno = EPIPE;
	store_abort(&up);
	ck_assert_int_eq(errno, EPIPE);         /* the caller's reason survives */
	ck_assert_int_eq(up.fd, -1);
	ck_assert_str_eq(list_dir(tmpdir), "");

	/* Aborted before any write: nothing either. */
	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(count_entries(tmpdir, NULL), 1);
	store_abort(&up);
	ck_assert_str_eq(list_dir(tmpdir), "");
	store_close(st);
}
END_TEST

START_TEST(test_fallback_never_overwrites)
{
	enum { SEQS = 20, COMMITS = 5 };
	char first[STORE_NAME_MAX], names[COMMITS][STORE_NAME_MAX], taken[STORE_NAME_MAX];
	char content[32];
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	struct store *st = open_fallback_at(tmpdir, 0640);
	unsigned long long next;
	struct upload up;
	int precious = 0, hidden;
	time_t now;

	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_commit(&up, &p, first, sizeof(first)), 0);

	/*
	 * Occupy every name the next commits try first, around now: with a
	 * rename that may replace (plain renameat), the first commit would
	 * silently clobber one of these.
	 */
	next = name_seq_of(first) + 1;
	now = time(NULL);
	for (time_t t = now - 1; t <= now + 5; t++) {
		for (unsigned long long q = next; q < next + SEQS; q++) {
			store_name_make(taken, sizeof(taken), t, &p, q);
			snprintf(content, sizeof(content), "precious %llu", q);
			write_file(tmpdir, taken, content);
			precious++;
		}
	}

	for (int i = 0; i < COMMITS; i++) {
		ck_assert_int_eq(store_begin(st, &up), 0);
		snprintf(content, sizeof(content), "new %d", i);
		ck_assert_int_eq(store_write(&up, content, strlen(content)), 0);
		ck_assert_int_eq(store_commit(&up, &p, names[i], sizeof(names[i])), 0);
		assert_content(tmpdir, names[i], content);
		ck_assert_str_ne(names[i], first);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(names[i], names[j]);
	}
	/* Every earlier commit kept its own content: none replaced another. */
	for (int i = 0; i < COMMITS; i++) {
		snprintf(content, sizeof(content), "new %d", i);
		assert_content(tmpdir, names[i], content);
	}
	for (time_t t = now - 1; t <= now + 5; t++) {
		for (unsigned long long q = next; q < next + SEQS; q++) {
			store_name_make(taken, sizeof(taken), t, &p, q);
			snprintf(content, sizeof(content), "precious %llu", q);
			assert_content(tmpdir, taken, content);
		}
	}
	ck_assert_int_eq(count_entries(tmpdir, &hidden), 1 + precious + COMMITS);
	ck_assert_int_eq(hidden, 0);
	store_close(st);
}
END_TEST

START_TEST(test_fallback_remove_stale_in_progress)
{
	char inbox[PATH_MAX + 32], outside[PATH_MAX + 32], victim[PATH_MAX + 48];
	char link[PATH_MAX + 48], hidden[TMPNAME_SIZE];
	char name[STORE_NAME_MAX];
	struct in6_addr p = addr6("2001:db8::7");
	struct store *st;
	struct upload up;
	struct stat sb;
	int removed, left, evil_left;

	snprintf(inbox, sizeof(inbox), "%s/inbox", tmpdir);
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	ck_assert_int_eq(mkdir(inbox, 0700), 0);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	write_file(outside, "victim", "keep me");
	snprintf(victim, sizeof(victim), "%s/victim", outside);

	st = open_fallback_at(inbox, 0640);
	ck_assert_int_eq(store_begin(st, &up), 0);
	snprintf(hidden, sizeof(hidden), "%s", up.tmpname);
	ck_assert_int_eq(store_write(&up, "before ", 7), 0);

	/* The lock belongs to the upload's own open file description, even in this process. */
	ck_assert_msg(!lock_free(inbox, hidden), "%s is not locked", hidden);

	write_file(inbox, ".tcpxd-tmp.1.1", "left by a crash");      /* no lock */
	snprintf(link, sizeof(link), "%s/.tcpxd-tmp.evil", inbox);
	ck_assert_int_eq(symlink(victim, link), 0);

	removed = store_remove_stale(st);
	ck_assert_int_eq(exists(inbox, hidden), 1);
	ck_assert_int_eq(exists(inbox, ".tcpxd-tmp.1.1"), 0);
	/* The symlink itself may go or stay; what it points at must not be touched. */
	evil_left = exists(inbox, ".tcpxd-tmp.evil");
	ck_assert_int_eq(removed, evil_left ? 1 : 2);
	left = count_entries(inbox, NULL);
	ck_assert_int_eq(left, 1 + evil_left);
	ck_assert_int_eq(lstat(victim, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	assert_content(outside, "victim", "keep me");

	/* The upload survived and still commits whole. */
	ck_assert_int_eq(store_write(&up, "after", 5), 0);
	ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
	ck_assert_int_eq(exists(inbox, hidden), 0);
	assert_content(inbox, name, "before after");
	ck_assert_int_eq(count_entries(inbox, NULL), 1 + evil_left);

	/* Committed files are never stale. */
	store_remove_stale(st);
	assert_content(inbox, name, "before after");
	assert_content(outside, "victim", "keep me");
	store_close(st);
}
END_TEST

START_TEST(test_fallback_two_stores)
{
	char n1[STORE_NAME_MAX], n2[STORE_NAME_MAX], expect[2 * STORE_NAME_MAX + 2];
	char h1[TMPNAME_SIZE], h2[sizeof(h1)];
	struct in6_addr p = addr6("::ffff:192.0.2.1");
	struct store *st1 = open_fallback_at(tmpdir, 0640);
	struct store *st2 = open_fallback_at(tmpdir, 0640);
	struct upload up1, up2;
	int hidden;

	ck_assert_int_eq(store_begin(st1, &up1), 0);
	ck_assert_int_eq(store_begin(st2, &up2), 0);
	snprintf(h1, sizeof(h1), "%s", up1.tmpname);
	snprintf(h2, sizeof(h2), "%s", up2.tmpname);
	ck_assert_str_ne(h1, h2);
	assert_tmpname(&up1, getpid());
	assert_tmpname(&up2, getpid());
	ck_assert_int_eq(store_write(&up1, "one", 3), 0);
	ck_assert_int_eq(store_write(&up2, "two", 3), 0);
	ck_assert_int_eq(count_entries(tmpdir, &hidden), 2);
	ck_assert_int_eq(hidden, 2);
	assert_content(tmpdir, h1, "one");
	assert_content(tmpdir, h2, "two");

	/* Either store's cleanup spares both uploads in progress. */
	ck_assert_int_eq(store_remove_stale(st1), 0);
	ck_assert_int_eq(store_remove_stale(st2), 0);
	ck_assert_int_eq(count_entries(tmpdir, NULL), 2);

	ck_assert_int_eq(store_commit(&up2, &p, n2, sizeof(n2)), 0);
	ck_assert_int_eq(store_commit(&up1, &p, n1, sizeof(n1)), 0);
	ck_assert_str_ne(n1, n2);
	snprintf(expect, sizeof(expect), "%s|%s", n2, n1);      /* later commits sort later */
	ck_assert_str_eq(list_dir(tmpdir), expect);
	assert_content(tmpdir, n1, "one");
	assert_content(tmpdir, n2, "two");
	store_close(st1);
	store_close(st2);
}
END_TEST

/* The child of test_fallback_two_processes; reports over out, waits on in.  Exit status = step failed. */
static int
child_upload(int in, int out)
{
	char name[STORE_NAME_MAX], err[512], go;
	struct in6_addr p;
	struct store *st;
	struct upload up;

	if (inet_pton(AF_INET6, "::ffff:192.0.2.2", &p) != 1)
		return 7;
	if (store_open(tmpdir, 0640, STORE_NO_TMPFILE, &st, err, sizeof(err)) < 0)
		return 1;
	if (store_begin(st, &up) < 0 || store_write(&up, "child", 5) < 0)
		return 2;
	if (write(out, up.tmpname, sizeof(up.tmpname)) != (ssize_t)sizeof(up.tmpname))
		return 3;
	if (read(in, &go, 1) != 1)
		return 4;
	memset(name, 0, sizeof(name));
	if (store_commit(&up, &p, name, sizeof(name)) < 0)
		return 5;
	if (write(out, name, sizeof(name)) != (ssize_t)sizeof(name))
		return 6;
	store_close(st);
	return 0;
}

START_TEST(test_fallback_two_processes)
{
	char hc[TMPNAME_SIZE], nc[STORE_NAME_MAX], np[STORE_NAME_MAX];
	struct in6_addr p = addr6("::ffff:192.0.2.2");
	int to_child[2], from_child[2], status, hidden;
	struct store *st;
	struct upload up;
	pid_t pid;

	/*
	 * Both processes start from the same name sequence and commit within
	 * the same second or so: the second commit meets the first one's name
	 * and must move on to another instead of replacing it.
	 */
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(from_child), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		_exit(child_upload(to_child[0], from_child[1]));
	}
	close(to_child[0]);
	close(from_child[1]);

	st = open_fallback_at(tmpdir, 0640);
	ck_assert_int_eq(read(from_child[0], hc, sizeof(hc)), (ssize_t)sizeof(hc));
	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_write(&up, "parent", 6), 0);
	assert_tmpname(&up, getpid());
	{
		struct upload child_up;

		snprintf(child_up.tmpname, sizeof(child_up.tmpname), "%s", hc);
		assert_tmpname(&child_up, pid);
	}
	ck_assert_str_ne(hc, up.tmpname);
	ck_assert_int_eq(count_entries(tmpdir, &hidden), 2);
	ck_assert_int_eq(hidden, 2);
	assert_content(tmpdir, hc, "child");

	/* Cleanup here spares the other live process's upload. */
	ck_assert_int_eq(store_remove_stale(st), 0);
	ck_assert_int_eq(exists(tmpdir, hc), 1);

	ck_assert_int_eq(write(to_child[1], "c", 1), 1);
	ck_assert_int_eq(read(from_child[0], nc, sizeof(nc)), (ssize_t)sizeof(nc));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child failed: status %#x", (unsigned)status);
	close(to_child[1]);
	close(from_child[0]);
	ck_assert_int_eq(exists(tmpdir, hc), 0);

	ck_assert_int_eq(store_commit(&up, &p, np, sizeof(np)), 0);
	ck_assert_str_ne(nc, np);
	assert_content(tmpdir, nc, "child");
	assert_content(tmpdir, np, "parent");
	ck_assert_int_eq(count_entries(tmpdir, &hidden), 2);
	ck_assert_int_eq(hidden, 0);
	store_close(st);
}
END_TEST

static const struct mark_facts FACTS = {
	.listener = "inbox", .peer = "2001:db8::1", .client = "lab",
	.sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
};

START_TEST(test_mark_format_parse)
{
	char buf[MARK_VALUE_MAX];
	struct mark_facts f;
	size_t len = mark_format(&FACTS, buf, sizeof(buf));

	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(mark_parse(buf, len, &f), 0);
	ck_assert_str_eq(f.listener, "inbox");
	ck_assert_str_eq(f.sha256, FACTS.sha256);
	ck_assert_str_eq(f.peer, "2001:db8::1");
	ck_assert_str_eq(f.client, "lab");
	/* Cut short, with a field too many, without its listener, with a NUL inside: refused. */
	ck_assert_int_eq(mark_parse(buf, len - 1, &f), -1);
	ck_assert_int_eq(mark_parse("a\nb\nc\nd\ne\n", 10, &f), -1);
	ck_assert_int_eq(mark_parse("\nb\nc\n\n", 6, &f), -1);
	ck_assert_int_eq(mark_parse("a\0b\nb\nc\n\n", 10, &f), -1);
	ck_assert_uint_eq(mark_format(&FACTS, buf, 20), 0);
}
END_TEST

static int marks_found;
static char mark_name[STORE_NAME_MAX], mark_record[MARK_RECORD_MAX];

static void
count_mark(const char *name, const char *record, const struct mark_facts *f, void *arg)
{
	(void)arg;
	ck_assert_str_eq(f->client, "lab");
	snprintf(mark_name, sizeof(mark_name), "%s", name);
	snprintf(mark_record, sizeof(mark_record), "%s", record);
	marks_found++;
}

/* A committed upload with a mark: the xattr, or a record file where there are none. */
static void
commit_marked(bool no_xattr)
{
	char name[STORE_NAME_MAX], value[MARK_VALUE_MAX], path[PATH_MAX + STORE_NAME_MAX + 2];
	struct in6_addr p = addr6("::ffff:127.0.0.1");
	struct store *st = open_store(0640);
	struct upload up;
	int dirfd, fd;

	store_no_xattr(no_xattr);
	ck_assert_int_eq(store_begin(st, &up), 0);
	ck_assert_int_eq(store_write(&up, "data", 4), 0);
	up.mark = value;
	up.mark_len = mark_format(&FACTS, value, sizeof(value));
	ck_assert_int_eq(store_commit(&up, &p, name, sizeof(name)), 0);
	store_no_xattr(false);
	ck_assert_int_ge(dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY), 0);
	marks_found = 0;
	ck_assert_int_eq(mark_scan(dirfd, count_mark, NULL), 1);
	ck_assert_int_eq(marks_found, 1);
	ck_assert_str_eq(mark_name, name);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	if (no_xattr) {
		ck_assert(mark_is_record(mark_record));
		ck_assert(up.record[0] != '\0');
		ck_assert_str_eq(mark_record, up.record);
		ck_assert_int_eq(mark_get(fd, NULL), 0);
	} else {
		ck_assert_str_eq(mark_record, "");
		ck_assert_int_eq(mark_get(fd, NULL), 1);
	}
	ck_assert_int_eq(mark_clear(fd, dirfd, mark_record), 0);
	ck_assert_int_eq(mark_scan(dirfd, count_mark, NULL), 0);
	/* Only the stored file is left. */
	ck_assert_str_eq(list_dir(tmpdir), name);
	close(fd);
	close(dirfd);
	store_close(st);
}

START_TEST(test_store_commit_marked_xattr)
{
	char probe[PATH_MAX + 8];
	int fd;

	/* Only where the file system of TMPDIR keeps user xattrs. */
	snprintf(probe, sizeof(probe), "%s/probe", tmpdir);
	ck_assert_int_ge(fd = open(probe, O_RDWR | O_CREAT, 0600), 0);
	if (fsetxattr(fd, "user.probe", "1", 1, 0) < 0) {
		close(fd);
		unlink(probe);
		return;
	}
	close(fd);
	unlink(probe);
	commit_marked(false);
}
END_TEST

START_TEST(test_store_commit_marked_record)
{
	commit_marked(true);
}
END_TEST

Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *names = tcase_create("names");
	TCase *dir = tcase_create("directory");
	TCase *fallback = tcase_create("fallback");

	tcase_add_test(names, test_store_name_make);
	tcase_add_test(names, test_store_name_sorts);
	tcase_add_test(names, test_mark_format_parse);
	suite_add_tcase(s, names);

	tcase_add_checked_fixture(dir, make_tmpdir, teardown);
	tcase_add_test(dir, test_store_open_missing);
	tcase_add_test(dir, test_store_open_not_dir);
	tcase_add_test(dir, test_store_open_not_writable);
	tcase_add_test(dir, test_store_open_leaves_nothing);
	tcase_add_test(dir, test_store_commit);
	tcase_add_test(dir, test_store_commit_file_mode);
	tcase_add_test(dir, test_store_commit_large);
	tcase_add_test(dir, test_store_abort);
	tcase_add_test(dir, test_store_two_commits);
	tcase_add_test(dir, test_store_never_overwrites);
	tcase_add_test(dir, test_store_name_free);
	tcase_add_test(dir, test_store_remove_stale);
	tcase_add_test(dir, test_store_remove_stale_spares_locked);
	tcase_add_test(dir, test_store_remove_stale_symlink);
	tcase_add_test(dir, test_store_reserve);
	tcase_add_test(dir, test_store_expect_holds_nothing);
	tcase_add_test(dir, test_store_reserve_inodes);
	tcase_add_test(dir, test_store_auto_inodes);
	tcase_add_test(dir, test_store_reserve_sees_other_claims);
	tcase_add_test(dir, test_store_commit_marked_xattr);
	tcase_add_test(dir, test_store_commit_marked_record);
	suite_add_tcase(s, dir);

	tcase_add_checked_fixture(fallback, make_tmpdir, teardown);
	tcase_add_test(fallback, test_fallback_open);
	tcase_add_test(fallback, test_fallback_commit);
	tcase_add_test(fallback, test_fallback_abort);
	tcase_add_test(fallback, test_fallback_never_overwrites);
	tcase_add_test(fallback, test_fallback_remove_stale_in_progress);
	tcase_add_test(fallback, test_fallback_two_stores);
	tcase_add_test(fallback, test_fallback_two_processes);
	suite_add_tcase(s, fallback);
	return s;
}
