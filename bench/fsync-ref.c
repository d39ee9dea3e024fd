/* SPDX-License-Identifier: ISC */
/* fsync-ref - the reference for bench/run's smallfiles scenario: the least a
 * server can do to store each upload durably and answer a receipt.  A thread
 * per connection reads the raw upload into an unnamed O_TMPFILE, hashing it,
 * then fsync(file), linkat() under a new name, fsync(directory), and answers
 * "OK <bytes> sha256:<hex> <name>" as tcpxd does.  No limits, no logs, no
 * framing: what is left of tcpxd's cost per file is the durable sequence.
 *
 *   fsync-ref ADDRESS PORT DIRECTORY
 *
 * Build: cc -O2 -pthread -o fsync-ref fsync-ref.c -lcrypto
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int dirfd_;
static atomic_ulong seq;

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One upload: store it durably, then (and only then) answer. */
static void *serve(void *arg)
{
	int c = (int)(long)arg, fd = -1, ok = 0;
	char buf[65536], name[64], proc[48], line[160], hex[65];
	unsigned char md[32];
	unsigned long long total = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	ssize_t n;

	if (h == NULL || !EVP_DigestInit_ex(h, EVP_sha256(), NULL))
		goto out;
	fd = openat(dirfd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	while ((n = read(c, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || !EVP_DigestUpdate(h, buf, (size_t)n) || write_all(fd, buf, (size_t)n) < 0)
			goto out;
		total += (unsigned long long)n;
	}
	if (!EVP_DigestFinal_ex(h, md, NULL) || fsync(fd) < 0)
		goto out;
	snprintf(name, sizeof(name), "ref.%d.%lu", (int)getpid(), atomic_fetch_add(&seq, 1));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dirfd_, name, AT_SYMLINK_FOLLOW) < 0 || fsync(dirfd_) < 0)
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	n = snprintf(line, sizeof(line), "OK %llu sha256:%s %s\n", total, hex, name);
	ok = write_all(c, line, (size_t)n) == 0;
out:
	if (!ok)
		(void)write_all(c, "ERR\n", 4);
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(h);
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, s;
	pthread_attr_t attr;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: fsync-ref ADDRESS PORT DIRECTORY\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	dirfd_ = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (dirfd_ < 0 || s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1024) < 0) {
		perror("fsync-ref");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			perror("fsync-ref: accept");
			return 1;
		}
		if (pthread_create(&t, &attr, serve, (void *)(long)c) != 0)
			close(c);
	}
}
