/* SPDX-License-Identifier: ISC */
/* tcpx-load - loopback load generator for tcpxd and its peers.
 *
 * Scenarios (see docs/BENCHMARKS.md):
 *   stream    one connection, N bytes echoed while reading concurrently
 *   pingpong  64-byte round trips with TCP_NODELAY, latency percentiles
 *   churn     W workers: connect, 64-byte echo, half-close, wait for close
 *   hold      open N connections paced, verify an echo on each while all
 *             are open, report memory per connection
 *   hold-idle open N connections paced, leave them idle for --settle
 *             (past tcpxd's park_after), report memory per connection
 *             then, and only then send one message on each and verify it
 *   upload    raw upload (send, half-close, read until EOF), check receipt
 *   upload8   upload with 8 concurrent connections
 *   smallfiles  C clients each uploading F small files, every receipt
 *             checked: one connection per file (--frame 1: tcpxd's
 *             framed version 1; --frame raw: the peers, which answer
 *             "OK <bytes> sha256:<hex> <name>" themselves) or every file of
 *             a client on one connection (--frame 2: framed version 2)
 *   resume    a resumable upload (framed version 2 with an upload id)
 *             broken by a reset after --break-at percent, then resumed on
 *             a new connection and its receipt checked; then a fresh
 *             upload of as many bytes as the resume sent, for comparison
 *   gen       write the deterministic byte stream of an upload to stdout
 *
 * Every byte received is verified.  Only loopback targets are accepted.
 * Output: one line "SCENARIO key=value ...", exit 0 on success, 1 on a
 * failure (connection, verification), 2 on usage errors or timeout,
 * 3 when churn completed with errors.
 *
 * --tls runs stream, pingpong, churn, upload and upload8 inside TLS (1.2 or
 * later, OpenSSL's defaults otherwise) with the same verification; every
 * connection ends with close_notify in both directions, and a peer that
 * ends without one fails the run (it may have been cut short).  hold --tls
 * handshakes every connection and verifies one echo inside TLS on each
 * while all are open; at the end it sends its close_notify without waiting
 * for the server's, and frees them.  The client code is its own, a few OpenSSL
 * calls; it does not use the daemon's.
 *
 * Build: cc -O2 -pthread -o tcpx-load tcpx-load.c -lssl -lcrypto
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- options ------------------------------------------------------------ */

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static uint64_t opt_bytes = 0;          /* stream / upload: bytes per connection */
static size_t opt_chunk = 65536;        /* write/read size for streams */
static long opt_count = 0;              /* pingpong round trips */
static size_t opt_size = 64;            /* message size for pingpong/churn/hold */
static int opt_workers = 32;            /* churn */
static double opt_duration = 5.0;       /* churn, seconds */
static long opt_conns = 0;              /* hold: connections; upload: parallel */
static double opt_rate = 2500.0;        /* hold: connections opened per second */
static long opt_server_pid = 0;         /* hold: PSS of this process tree */
static int opt_src_addrs = -1;          /* source addresses 127.0.N.x (-1 auto, 0 none) */
static int opt_timeout = 600;           /* whole run, seconds */
static int opt_io_timeout = 30;         /* one blocking socket operation */
static uint64_t opt_seed = 1;
static int opt_receipt = 1;             /* upload: expect "OK <n> sha256:<hex> <name>" */
static const char *opt_expect = NULL;   /* upload: expected hex digests, comma-separated */
static double opt_settle = 0.5;         /* hold: seconds before memory is sampled */
static double opt_lag = 30.0;           /* hold: how far opening may fall behind --rate */
static int opt_tls = 0;                 /* TLS on every connection */

static struct sockaddr_storage target;
static socklen_t target_len;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("tcpx-load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("tcpx-load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(tcpx-load --help for usage)\n", stderr);
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "tcpx-load: timeout: the run exceeded --timeout\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	_exit(2);
}

/* "64K", "1M", "1G", plain bytes */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		usage_error("bad size \"%s\"", s);
	uint64_t m = 1;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': m = 1ULL << 10; end++; break;
	case 'M': m = 1ULL << 20; end++; break;
	case 'G': m = 1ULL << 30; end++; break;
	default: usage_error("bad size \"%s\"", s);
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		usage_error("bad size \"%s\"", s);
	return v * m;
}

static long parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("bad %s \"%s\" (%ld .. %ld)", what, s, min, max);
	return v;
}

/* ---- the byte pattern ---------------------------------------------------- */

/* A stream is a table of PAT_LEN pseudo-random bytes (from the seed) repeated;
 * PAT_LEN is prime, so a lost, duplicated or reordered chunk of any usual size
 * shows up as a mismatch.  The table is stored twice in a row so that any
 * span of up to PAT_LEN bytes starting inside it is contiguous. */
#define PAT_LEN 1048573u

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned char *pattern_new(uint64_t seed)
{
	unsigned char *p = malloc(2 * (size_t)PAT_LEN + 8);
	if (!p)
		die("out of memory");
	uint64_t x = seed;
	for (size_t i = 0; i < PAT_LEN; i += 8) {
		uint64_t v = splitmix64(&x);
		memcpy(p + i, &v, 8);
	}
	memcpy(p + PAT_LEN, p, PAT_LEN);
	return p;
}

/* ---- sockets -------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

static void resolve_target(void)
{
	if (opt_port <= 0)
		usage_error("--port is required");
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	char port[16];
	snprintf(port, sizeof port, "%d", opt_port);
	int rc = getaddrinfo(opt_host, port, &hints, &res);
	if (rc)
		usage_error("--host must be a numeric loopback address: %s", gai_strerror(rc));
	if (!is_loopback(res->ai_addr))
		usage_error("refusing non-loopback target %s: this tool only loads 127.0.0.0/8 or ::1", opt_host);
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);
}

static void set_timeouts(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connect to the target; src >= 0 picks the IPv4 source address 127.0.N.(src+1)
 * (N = 1 + src / 250), port chosen at connect time, so that many connections
 * do not run out of ephemeral ports.  Returns -errno on failure. */
static int dial_timeout;                /* seconds for connect; 0: --io-timeout */

static int dial(int src, int nodelay)
{
	int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, dial_timeout ? dial_timeout : opt_io_timeout);
	if (nodelay) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (src >= 0 && target.ss_family == AF_INET) {
		int one = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		sa.sin_addr.s_addr = htonl((127u << 24) | ((1u + (unsigned)src / 250u) << 8) | (1u + (unsigned)src % 250u));
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* After a half-close: read until EOF, expecting nothing more. 0 = clean EOF. */
static int expect_eof(int fd)
{
	char c[256];
	for (;;) {
		ssize_t n = recv(fd, c, sizeof c, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;      /* error, or unexpected data */
	}
}

/* ---- TLS ------------------------------------------------------------------ */

static SSL_CTX *tls_ctx;
static pthread_mutex_t tls_info_lock = PTHREAD_MUTEX_INITIALIZER;
static char tls_info[128];              /* " tls=VERSION cipher=NAME" of a connection */

static void tls_setup(void)
{
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (!tls_ctx || SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1)
		die("cannot set up a TLS client context");
	/* No verification of the server's certificate, on purpose: this is a
	 * loopback benchmark (resolve_target refuses anything else) against a
	 * throwaway self-signed certificate that bench/run makes for the run.
	 * The handshake is still a full one (certificate, signature, key
	 * exchange); only the chain check is skipped.  Never copy this into
	 * something that talks to another machine. */
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_COMPRESSION);
}

/* A connection: plain TCP, or TLS on the same blocking socket. */
struct link {
	int fd;
	SSL *ssl;               /* NULL: plain TCP */
	char why[160];          /* what went wrong last, in words */
};

/* Puts why the last SSL call on l failed into l->why; returns -1. */
static int tls_failed(struct link *l, const char *what, int rc, int saved_errno)
{
	char text[128];
	unsigned long e;
	switch (SSL_get_error(l->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* blocking socket: SO_RCVTIMEO / SO_SNDTIMEO expired */
		snprintf(text, sizeof text, "%s", saved_errno ? strerror(saved_errno) : "timed out");
		break;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(text, sizeof text, "the peer ended the stream (close_notify)");
		break;
	case SSL_ERROR_SYSCALL:
		snprintf(text, sizeof text, "%s", saved_errno ? strerror(saved_errno) : "connection closed without close_notify");
		break;
	default:
		/* an end of TCP without close_notify shows here as "unexpected eof while reading" */
		e = ERR_peek_last_error();
		snprintf(text, sizeof text, "TLS: %s",
		         e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "protocol error");
		break;
	}
	ERR_clear_error();
	snprintf(l->why, sizeof l->why, "%s: %s", what, text);
	return -1;
}

static int sys_failed(struct link *l, const char *what, int e)
{
	snprintf(l->why, sizeof l->why, "%s: %s", what, strerror(e));
	errno = e;
	return -1;
}

static void link_close(struct link *l)
{
	if (l->ssl)
		SSL_free(l->ssl);
	l->ssl = NULL;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* Connects (see dial) and, with --tls, handshakes.  0, or -1 with l->why. */
static int link_open(struct link *l, int src, int nodelay)
{
	l->ssl = NULL;
	l->why[0] = 0;
	l->fd = dial(src, nodelay);
	if (l->fd < 0)
		return sys_failed(l, "connect", -l->fd);
	if (!opt_tls)
		return 0;
	ERR_clear_error();
	if (!(l->ssl = SSL_new(tls_ctx)) || SSL_set_fd(l->ssl, l->fd) != 1) {
		snprintf(l->why, sizeof l->why, "TLS setup failed");
		link_close(l);
		return -1;
	}
	errno = 0;
	int rc = SSL_connect(l->ssl);
	if (rc != 1) {
		tls_failed(l, "TLS handshake", rc, errno);
		link_close(l);
		return -1;
	}
	if (!tls_info[0]) {
		pthread_mutex_lock(&tls_info_lock);
		if (!tls_info[0])
			snprintf(tls_info, sizeof tls_info, " tls=%s cipher=%s", SSL_get_version(l->ssl),
			         SSL_CIPHER_get_name(SSL_get_current_cipher(l->ssl)));
		pthread_mutex_unlock(&tls_info_lock);
	}
	return 0;
}

static int link_write_all(struct link *l, const void *buf, size_t len)
{
	if (!l->ssl)
		return write_all(l->fd, buf, len) < 0 ? sys_failed(l, "send", errno) : 0;
	const char *p = buf;
	while (len) {
		ERR_clear_error();
		errno = 0;
		/* without SSL_MODE_ENABLE_PARTIAL_WRITE, success means all of it */
		int rc = SSL_write(l->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (rc <= 0) {
			int e = errno, k = SSL_get_error(l->ssl, rc);
			if ((k == SSL_ERROR_WANT_READ || k == SSL_ERROR_WANT_WRITE) && e == EINTR)
				continue;
			return tls_failed(l, "send", rc, e);
		}
		p += rc;
		len -= (size_t)rc;
	}
	return 0;
}

/* >0 bytes; 0 at the peer's orderly end (TCP: FIN; TLS: close_notify);
 * -1 on an error (l->why), including TLS cut off without close_notify. */
static ssize_t link_read(struct link *l, void *buf, size_t len)
{
	for (;;) {
		if (!l->ssl) {
			ssize_t n = recv(l->fd, buf, len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? sys_failed(l, "recv", errno) : n;
		}
		ERR_clear_error();
		errno = 0;
		int rc = SSL_read(l->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
		if (rc > 0)
			return rc;
		int e = errno, k = SSL_get_error(l->ssl, rc);
		if (k == SSL_ERROR_ZERO_RETURN)
			return 0;
		if ((k == SSL_ERROR_WANT_READ || k == SSL_ERROR_WANT_WRITE) && e == EINTR)
			continue;
		return tls_failed(l, "recv", rc, e);
	}
}

/* Exactly len bytes: 0, -1 on error (l->why), -2 when the peer ended first. */
static int link_read_exact(struct link *l, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = link_read(l, p, len);
		if (n < 0)
			return -1;
		if (n == 0) {
			snprintf(l->why, sizeof l->why, "the server ended the stream early");
			return -2;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Ends our direction: close_notify first on TLS, then the TCP half-close. */
static int link_shutdown_wr(struct link *l)
{
	if (l->ssl) {
		ERR_clear_error();
		errno = 0;
		/* 0: our close_notify is sent, the server's not yet read; that comes later */
		int rc = SSL_shutdown(l->ssl);
		if (rc < 0)
			return tls_failed(l, "sending close_notify", rc, errno);
	}
	return shutdown(l->fd, SHUT_WR) < 0 ? sys_failed(l, "shutdown", errno) : 0;
}

/* After our end: the peer's orderly end and nothing before it.  0 or -1 (l->why). */
static int link_expect_end(struct link *l)
{
	char c[256];
	ssize_t n = link_read(l, c, sizeof c);
	if (n > 0)
		snprintf(l->why, sizeof l->why, "unexpected data after the end");
	return n == 0 ? 0 : -1;
}

static void raise_nofile(long want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if ((long)rl.rlim_max < want && rl.rlim_max != RLIM_INFINITY) {
		struct rlimit hi = { .rlim_cur = (rlim_t)want, .rlim_max = (rlim_t)want };
		if (setrlimit(RLIMIT_NOFILE, &hi) == 0)       /* works as root */
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((long)rl.rlim_cur < want)
		die("RLIMIT_NOFILE is %llu, %ld needed (raise the hard limit, e.g. ulimit -Hn, or run as root)",
		    (unsigned long long)rl.rlim_cur, want);
}

/* ---- stream ---------------------------------------------------------------- */

struct stream_ctx {
	int fd;
	uint64_t bytes;
	const unsigned char *pat;
	int err;
	uint64_t done;
};

static void *stream_writer(void *arg)
{
	struct stream_ctx *c = arg;
	uint64_t off = 0;
	while (off < c->bytes) {
		size_t n = opt_chunk;
		if (n > c->bytes - off)
			n = (size_t)(c->bytes - off);
		if (write_all(c->fd, c->pat + off % PAT_LEN, n) < 0) {
			c->err = errno;
			return NULL;
		}
		off += n;
	}
	c->done = off;
	if (shutdown(c->fd, SHUT_WR) < 0)
		c->err = errno;
	return NULL;
}

/* The TLS stream.  One SSL object must not be used by two threads at once
 * (SSL_read and SSL_write share its state), so instead of the plain
 * stream's writer thread, one thread drives both directions on the socket
 * made non-blocking: read whatever has arrived, write until the socket is
 * full or 256 KiB went out, poll.  Returns the bytes verified. */
static uint64_t stream_tls(struct link *l, const unsigned char *pat, unsigned char *buf)
{
	SSL *ssl = l->ssl;
	int fl = fcntl(l->fd, F_GETFL);
	if (fl < 0 || fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("stream: fcntl: %s", strerror(errno));
	/* SSL_write may return after each record, and its retry after
	 * WANT_WRITE passes the same bytes at the same offset of the pattern */
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	uint64_t sent = 0, got = 0;
	int closed = 0;
	for (;;) {
		int want_out = 0, progress = 0, rc, k;
		for (;;) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_read(ssl, buf, (int)opt_chunk);
			if (rc > 0) {
				if ((uint64_t)rc > opt_bytes - got)
					die("stream: more data echoed than the %" PRIu64 " bytes sent", opt_bytes);
				if (memcmp(buf, pat + got % PAT_LEN, (size_t)rc))
					die("stream: echoed data differs near byte %" PRIu64, got);
				got += (uint64_t)rc;
				progress = 1;
				continue;
			}
			k = SSL_get_error(ssl, rc);
			if (k == SSL_ERROR_WANT_READ)
				break;
			if (k == SSL_ERROR_WANT_WRITE) {
				want_out = 1;
				break;
			}
			if (k == SSL_ERROR_ZERO_RETURN) {
				if (got < opt_bytes)
					die("stream: server ended (close_notify) after %" PRIu64 " of %" PRIu64 " bytes",
					    got, opt_bytes);
				return got;     /* all echoed, then the server's close_notify */
			}
			tls_failed(l, "recv", rc, errno);
			die("stream: %s after %" PRIu64 " of %" PRIu64 " bytes", l->why, got, opt_bytes);
		}
		for (uint64_t burst = 0; sent < opt_bytes && burst < (256u << 10);) {
			size_t n = opt_chunk;
			if (n > opt_bytes - sent)
				n = (size_t)(opt_bytes - sent);
			ERR_clear_error();
			errno = 0;
			rc = SSL_write(ssl, pat + sent % PAT_LEN, (int)n);
			if (rc > 0) {
				sent += (uint64_t)rc;
				burst += (uint64_t)rc;
				progress = 1;
				continue;
			}
			k = SSL_get_error(ssl, rc);
			if (k == SSL_ERROR_WANT_WRITE)
				want_out = 1;
			else if (k != SSL_ERROR_WANT_READ) {
				tls_failed(l, "send", rc, errno);
				die("stream: %s after %" PRIu64 " bytes", l->why, sent);
			}
			break;
		}
		if (sent == opt_bytes && !closed) {
			ERR_clear_error();
			errno = 0;
			rc = SSL_shutdown(ssl);
			if (rc >= 0) {
				if (shutdown(l->fd, SHUT_WR) < 0)
					die("stream: shutdown: %s", strerror(errno));
				closed = progress = 1;
			} else if ((k = SSL_get_error(ssl, rc)) == SSL_ERROR_WANT_WRITE) {
				want_out = 1;
			} else if (k != SSL_ERROR_WANT_READ) {
				tls_failed(l, "sending close_notify", rc, errno);
				die("stream: %s", l->why);
			}
		}
		if (progress)
			continue;
		struct pollfd pf = { .fd = l->fd, .events = POLLIN | (want_out ? POLLOUT : 0) };
		int r = poll(&pf, 1, opt_io_timeout * 1000);
		if (r < 0 && errno != EINTR)
			die("stream: poll: %s", strerror(errno));
		if (r == 0)
			die("stream: nothing moved for %d s (sent %" PRIu64 ", echoed %" PRIu64 " of %" PRIu64 ")",
			    opt_io_timeout, sent, got, opt_bytes);
	}
}

static int run_stream(void)
{
	if (!opt_bytes)
		opt_bytes = 1ULL << 30;
	if (opt_chunk > PAT_LEN)
		usage_error("--chunk at most %u", PAT_LEN);
	unsigned char *pat = pattern_new(opt_seed);
	unsigned char *buf = malloc(opt_chunk);
	if (!buf)
		die("out of memory");
	double t0 = now();
	if (opt_tls) {
		struct link l;
		if (link_open(&l, -1, 1) < 0)
			die("stream: %s", l.why);
		uint64_t n = stream_tls(&l, pat, buf);
		double secs = now() - t0;
		link_close(&l);
		printf("stream bytes=%" PRIu64 " secs=%.3f mibps=%.1f verified=1%s\n",
		       n, secs, (double)n / secs / 1048576.0, tls_info);
		return 0;
	}
	int fd = dial(-1, 1);
	if (fd < 0)
		die("stream: connect: %s", strerror(-fd));
	struct stream_ctx c = { .fd = fd, .bytes = opt_bytes, .pat = pat };
	pthread_t th;
	if (pthread_create(&th, NULL, stream_writer, &c))
		die("stream: pthread_create failed");
	uint64_t got = 0;
	while (got < opt_bytes) {
		ssize_t n = recv(fd, buf, opt_chunk, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("stream: recv after %" PRIu64 " bytes: %s", got, strerror(errno));
		}
		if (n == 0)
			die("stream: server closed after %" PRIu64 " of %" PRIu64 " bytes", got, opt_bytes);
		if (memcmp(buf, pat + got % PAT_LEN, (size_t)n))
			die("stream: echoed data differs near byte %" PRIu64, got);
		got += (uint64_t)n;
	}
	if (expect_eof(fd) < 0)
		die("stream: no clean end of stream after the echo (extra data or error)");
	double t1 = now();
	pthread_join(th, NULL);
	if (c.err)
		die("stream: send: %s", strerror(c.err));
	close(fd);
	double secs = t1 - t0;
	printf("stream bytes=%" PRIu64 " secs=%.3f mibps=%.1f verified=1\n",
	       got, secs, (double)got / secs / 1048576.0);
	return 0;
}

/* ---- pingpong -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *sorted, long n, double p)
{
	long i = (long)(p * (double)n + 0.5) - 1;   /* nearest rank */
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

static int run_pingpong(void)
{
	if (!opt_count)
		opt_count = 50000;
	unsigned char *pat = pattern_new(opt_seed);
	unsigned char *buf = malloc(opt_size);
	double *lat = malloc(sizeof(double) * (size_t)opt_count);
	if (!buf || !lat)
		die("out of memory");
	struct link l;
	if (link_open(&l, -1, 1) < 0)
		die("pingpong: %s", l.why);
	/* one untimed round trip: the forking peers start their child here */
	double t0 = 0;
	for (long i = -1; i < opt_count; i++) {
		const unsigned char *msg = pat + ((uint64_t)(i + 1) * 7919u) % PAT_LEN;
		double a = now();
		if (i == 0)
			t0 = a;
		if (link_write_all(&l, msg, opt_size) < 0)
			die("pingpong: %s", l.why);
		if (link_read_exact(&l, buf, opt_size))
			die("pingpong: %s after %ld round trips", l.why, i);
		if (memcmp(buf, msg, opt_size))
			die("pingpong: echo differs in round trip %ld", i);
		if (i >= 0)
			lat[i] = now() - a;
	}
	double secs = now() - t0;
	if (link_shutdown_wr(&l) < 0 || link_expect_end(&l) < 0)
		die("pingpong: no clean end of stream: %s", l.why);
	link_close(&l);
	qsort(lat, (size_t)opt_count, sizeof *lat, cmp_double);
	printf("pingpong count=%ld size=%zu secs=%.3f rtps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f verified=1",
	       opt_count, opt_size, secs, (double)opt_count / secs,
	       pct(lat, opt_count, 0.50) * 1e6, pct(lat, opt_count, 0.99) * 1e6,
	       pct(lat, opt_count, 0.999) * 1e6, lat[opt_count - 1] * 1e6);
	if (opt_tls)
		fputs(tls_info, stdout);
	putchar('\n');
	return 0;
}

/* ---- churn ----------------------------------------------------------------- */

struct churn_ctx {
	int id;
	double deadline;
	const unsigned char *pat;
	long ok, err_connect, err_io, err_verify;
	char first_error[192];
};

static void churn_note(struct churn_ctx *c, const char *prefix, const char *why)
{
	if (!c->first_error[0])
		snprintf(c->first_error, sizeof c->first_error, "%s%s", prefix, why);
}

static void *churn_worker(void *arg)
{
	struct churn_ctx *c = arg;
	unsigned char buf[4096];
	long i = 0;
	int nsrc = opt_src_addrs >= 0 ? opt_src_addrs : 16;
	while (now() < c->deadline) {
		const unsigned char *msg = c->pat + ((uint64_t)c->id * 104729u + (uint64_t)i * 613u) % PAT_LEN;
		int src = nsrc ? (c->id + opt_workers * (int)(i % 64)) % nsrc : -1;
		i++;
		struct link l;
		if (link_open(&l, src, 1) < 0) {      /* with --tls: the handshake too */
			c->err_connect++;
			churn_note(c, "", l.why);
			usleep(1000);
			continue;
		}
		if (link_write_all(&l, msg, opt_size) < 0) {
			c->err_io++;
			churn_note(c, "", l.why);
			link_close(&l);
			continue;
		}
		if (link_read_exact(&l, buf, opt_size)) {
			c->err_io++;
			churn_note(c, "", l.why);
			link_close(&l);
			continue;
		}
		if (memcmp(buf, msg, opt_size)) {
			c->err_verify++;
			link_close(&l);
			continue;
		}
		if (link_shutdown_wr(&l) < 0 || link_expect_end(&l) < 0) {
			c->err_io++;
			churn_note(c, "waiting for close: ", l.why);
			link_close(&l);
			continue;
		}
		link_close(&l);
		c->ok++;
	}
	return NULL;
}

static int run_churn(void)
{
	if (opt_size > 4096)
		usage_error("--size at most 4096 for churn");
	unsigned char *pat = pattern_new(opt_seed);
	raise_nofile(opt_workers * 2 + 64);
	struct churn_ctx *cs = calloc((size_t)opt_workers, sizeof *cs);
	pthread_t *th = calloc((size_t)opt_workers, sizeof *th);
	if (!cs || !th)
		die("out of memory");
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	double t0 = now();
	for (int i = 0; i < opt_workers; i++) {
		cs[i] = (struct churn_ctx){ .id = i, .deadline = t0 + opt_duration, .pat = pat };
		if (pthread_create(&th[i], &attr, churn_worker, &cs[i]))
			die("churn: pthread_create failed");
	}
	long ok = 0, ec = 0, eio = 0, ev = 0;
	const char *first = "";
	for (int i = 0; i < opt_workers; i++) {
		pthread_join(th[i], NULL);
		ok += cs[i].ok;
		ec += cs[i].err_connect;
		eio += cs[i].err_io;
		ev += cs[i].err_verify;
		if (!*first && cs[i].first_error[0])
			first = cs[i].first_error;
	}
	double secs = now() - t0;
	long errors = ec + eio + ev;
	printf("churn workers=%d conns=%ld secs=%.3f cps=%.0f errors=%ld err_connect=%ld err_io=%ld err_verify=%ld verified=%d%s\n",
	       opt_workers, ok, secs, (double)ok / secs, errors, ec, eio, ev, ev == 0 && ok > 0, tls_info);
	if (*first)
		fprintf(stderr, "tcpx-load: churn: first error: %s\n", first);
	if (ok == 0 || ev)
		return 1;
	return errors ? 3 : 0;
}

/* ---- hold ------------------------------------------------------------------- */

static long file_field_kib(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long meminfo_kib(const char *key)
{
	return file_field_kib("/proc/meminfo", key);
}

/* PSS (KiB) of a process and all its descendants; *tasks gets their threads. */
static long tree_pss_kib(long root, long *tasks)
{
	*tasks = 0;
	if (root <= 0)
		return -1;
	size_t cap = 4096, n = 0;
	long *pid = malloc(cap * sizeof *pid), *ppid = malloc(cap * sizeof *ppid);
	DIR *d = opendir("/proc");
	if (!pid || !ppid || !d)
		die("hold: cannot scan /proc");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		char *p = strrchr(buf, ')');
		long pp;
		if (!p || sscanf(p + 1, " %*c %ld", &pp) != 1)
			continue;
		if (n == cap) {
			cap *= 2;
			pid = realloc(pid, cap * sizeof *pid);
			ppid = realloc(ppid, cap * sizeof *ppid);
			if (!pid || !ppid)
				die("out of memory");
		}
		pid[n] = atol(de->d_name);
		ppid[n] = pp;
		n++;
	}
	closedir(d);
	/* mark descendants: follow each parent chain, memoised by pid */
	long maxpid = root;
	for (size_t i = 0; i < n; i++)
		if (pid[i] > maxpid)
			maxpid = pid[i];
	long *parent = calloc((size_t)maxpid + 1, sizeof *parent);
	signed char *state = calloc((size_t)maxpid + 1, 1);     /* 0 unknown, 1 in, 2 out */
	char *in = calloc(n, 1);
	if (!parent || !state || !in)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		parent[pid[i]] = ppid[i];
	state[root] = 1;
	for (size_t i = 0; i < n; i++) {
		long p = pid[i];
		int depth = 0;
		while (p > 0 && p <= maxpid && !state[p] && depth++ < 64)
			p = parent[p];
		int v = (p > 0 && p <= maxpid && state[p] == 1) ? 1 : 2;
		for (long q = pid[i]; q > 0 && q <= maxpid && !state[q]; q = parent[q])
			state[q] = (signed char)v;
		in[i] = state[pid[i]] == 1;
	}
	free(parent);
	free(state);
	long total = 0;
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (!in[i])
			continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid[i]);
		long v = file_field_kib(path, "Pss");
		if (v >= 0) {
			total += v;
			found = 1;
		}
		snprintf(path, sizeof path, "/proc/%ld/status", pid[i]);
		long t = file_field_kib(path, "Threads");
		if (t > 0)
			*tasks += t;
	}
	free(in);
	free(pid);
	free(ppid);
	return found ? total : -1;
}

/* With --tls, hold opens its connections from several threads: a blocking
 * handshake takes a round trip or two through a busy server, and opening
 * them one by one would pace the run by that latency instead of --rate. */
#define HOLD_TLS_THREADS 16

struct hold_open {
	pthread_mutex_t lock;
	long next;              /* the next connection to open */
	double t0;
	int nsrc;
	int *fds;
	SSL **ssl;              /* --tls only */
};

/* Opens connection i (its due time first): 0, or dies. */
static void hold_open_one(struct hold_open *h, long i)
{
	double due = h->t0 + (double)i / opt_rate;
	double w = due - now();
	if (w > 0)
		usleep((useconds_t)(w * 1e6));
	struct link l;
	if (link_open(&l, h->nsrc ? (int)(i % h->nsrc) : -1, 1) < 0)   /* --tls: handshake too */
		die("hold: connection %ld of %ld: %s", i + 1, opt_conns, l.why);
	set_timeouts(l.fd, opt_io_timeout);
	h->fds[i] = l.fd;
	if (h->ssl)
		h->ssl[i] = l.ssl;
	/* a server that stops accepting must not stall the run for long */
	if (now() - due > opt_lag)
		die("hold: the server accepted only %ld connections: opening fell %.0f s behind %.0f/s",
		    i + 1, opt_lag, opt_rate);
}

static void *hold_opener(void *arg)
{
	struct hold_open *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		long i = h->next < opt_conns ? h->next++ : -1;
		pthread_mutex_unlock(&h->lock);
		if (i < 0)
			return NULL;
		hold_open_one(h, i);
	}
}

/* --tls: one full connection (handshake, verified echo, close_notify both
 * ways) before the first memory sample, so that what OpenSSL sets up once
 * in either process (providers, algorithm caches, code pages of libssl and
 * libcrypto that the client would otherwise share late) is not counted as
 * per-connection cost; the server's thread for it is gone before sampling. */
static void hold_tls_warmup(const unsigned char *pat)
{
	struct link l;
	unsigned char buf[4096];
	const unsigned char *msg = pat + 7u;
	if (link_open(&l, -1, 1) < 0)
		die("hold: warm-up connection: %s", l.why);
	if (link_write_all(&l, msg, opt_size) < 0 || link_read_exact(&l, buf, opt_size))
		die("hold: warm-up connection: %s", l.why);
	if (memcmp(buf, msg, opt_size))
		die("hold: warm-up connection: echo differs");
	if (link_shutdown_wr(&l) < 0 || link_expect_end(&l) < 0)
		die("hold: warm-up connection: no clean end: %s", l.why);
	link_close(&l);
	usleep(200 * 1000);
}

/* Reads what the server echoed on connection i into got[i] and checks it. */
static void hold_read(long i, int fd, SSL *ssl, const unsigned char *pat, size_t *got)
{
	const unsigned char *msg = pat + ((uint64_t)i * 4099u) % PAT_LEN;
	unsigned char buf[4096];
	while (got[i] < opt_size) {
		ssize_t n;
		if (!ssl) {
			n = recv(fd, buf, opt_size - got[i], MSG_DONTWAIT);
			if (n == 0)
				die("hold: connection %ld closed by the server while held", i + 1);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n < 0)
				die("hold: connection %ld: recv: %s", i + 1, strerror(errno));
		} else {
			/* the socket is non-blocking now; TLS 1.3 session tickets
			 * come before the echo and are taken here too */
			ERR_clear_error();
			errno = 0;
			int rc = SSL_read(ssl, buf, (int)(opt_size - got[i]));
			if (rc <= 0) {
				int e = errno, k = SSL_get_error(ssl, rc);
				if (k == SSL_ERROR_WANT_READ || k == SSL_ERROR_WANT_WRITE)
					return;
				if (k == SSL_ERROR_ZERO_RETURN)
					die("hold: connection %ld closed by the server (close_notify) while held", i + 1);
				struct link l = { .fd = fd, .ssl = ssl };
				tls_failed(&l, "recv", rc, e);
				die("hold: connection %ld: %s", i + 1, l.why);
			}
			n = rc;
		}
		if (memcmp(buf, msg + got[i], (size_t)n))
			die("hold: connection %ld: echo differs", i + 1);
		got[i] += (size_t)n;
	}
}

/* idle: hold-idle, memory sampled before the echo, while every connection is idle. */
static int run_hold(int idle)
{
	if (!opt_conns)
		opt_conns = 10000;
	if (opt_size > 4096)
		usage_error("--size at most 4096 for hold");
	raise_nofile(opt_conns + 64);
	unsigned char *pat = pattern_new(opt_seed);
	int *fds = malloc(sizeof(int) * (size_t)opt_conns);
	SSL **ssl = opt_tls ? calloc((size_t)opt_conns, sizeof *ssl) : NULL;
	size_t *got = calloc((size_t)opt_conns, sizeof *got);
	struct pollfd *pf = malloc(sizeof *pf * (size_t)opt_conns);
	long *idx = malloc(sizeof(long) * (size_t)opt_conns);
	if (!fds || !got || !pf || !idx || (opt_tls && !ssl))
		die("out of memory");
	if (opt_tls) {
		/* the client's own memory: OpenSSL frees an SSL's read and write
		 * buffers while they are empty (held connections are idle) */
		SSL_CTX_set_mode(tls_ctx, SSL_MODE_RELEASE_BUFFERS);
		hold_tls_warmup(pat);
	}
	/* the server tree is scanned with a quadratic loop: bound it */
	long tasks0 = 0, tasks1 = 0;
	long pss0 = opt_server_pid ? tree_pss_kib(opt_server_pid, &tasks0) : -1;
	if (opt_server_pid && pss0 < 0)
		die("hold: cannot read /proc/%ld/smaps_rollup", opt_server_pid);
	long self0 = file_field_kib("/proc/self/status", "VmRSS");
	long avail0 = meminfo_kib("MemAvailable");
	long kern0 = meminfo_kib("Slab") + meminfo_kib("KernelStack") + meminfo_kib("PageTables");
	struct hold_open h = { .lock = PTHREAD_MUTEX_INITIALIZER, .fds = fds, .ssl = ssl,
	                       .nsrc = opt_src_addrs >= 0 ? opt_src_addrs : (int)(opt_conns / 20000 + 1) };

	dial_timeout = (int)opt_lag + 1;
	h.t0 = now();
	if (!opt_tls) {
		for (long i = 0; i < opt_conns; i++)
			hold_open_one(&h, i);
	} else {
		pthread_t th[HOLD_TLS_THREADS];
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		for (int t = 0; t < HOLD_TLS_THREADS; t++)
			if (pthread_create(&th[t], &attr, hold_opener, &h))
				die("hold: pthread_create failed");
		for (int t = 0; t < HOLD_TLS_THREADS; t++)
			pthread_join(th[t], NULL);
		pthread_attr_destroy(&attr);
	}
	double t_open = now() - h.t0;
	long avail1 = 0, kern1 = 0, self1 = 0, pss1 = -1;
	if (idle) {
		if (opt_settle > 0)
			usleep((useconds_t)(opt_settle * 1e6));
		avail1 = meminfo_kib("MemAvailable");
		kern1 = meminfo_kib("Slab") + meminfo_kib("KernelStack") + meminfo_kib("PageTables");
		self1 = file_field_kib("/proc/self/status", "VmRSS");
		pss1 = opt_server_pid ? tree_pss_kib(opt_server_pid, &tasks1) : -1;
	}
	/* every connection sends its own message; then collect all echoes */
	for (long i = 0; i < opt_conns; i++) {
		const unsigned char *msg = pat + ((uint64_t)i * 4099u) % PAT_LEN;
		struct link l = { .fd = fds[i], .ssl = opt_tls ? ssl[i] : NULL };
		if (link_write_all(&l, msg, opt_size) < 0)
			die("hold: connection %ld: %s", i + 1, l.why);
		/* TLS: SSL_read on a blocking socket could wait inside a record */
		if (opt_tls) {
			int fl = fcntl(fds[i], F_GETFL);
			if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
				die("hold: fcntl: %s", strerror(errno));
		}
	}
	long pending = opt_conns;
	for (long i = 0; i < opt_conns; i++)
		idx[i] = i;
	double deadline = now() + opt_io_timeout;
	while (pending) {
		for (long k = 0; k < pending; k++)
			pf[k] = (struct pollfd){ .fd = fds[idx[k]], .events = POLLIN };
		int r = poll(pf, (nfds_t)pending, 1000);
		if (r < 0 && errno != EINTR)
			die("hold: poll: %s", strerror(errno));
		if (now() > deadline)
			die("hold: %ld of %ld connections did not echo within %d s", pending, opt_conns, opt_io_timeout);
		long keep = 0;
		for (long k = 0; k < pending; k++) {
			long i = idx[k];
			if (pf[k].revents)
				hold_read(i, fds[i], opt_tls ? ssl[i] : NULL, pat, got);
			if (got[i] < opt_size)
				idx[keep++] = i;
		}
		pending = keep;
	}
	double t_echo = now() - h.t0;
	if (!idle) {
		if (opt_settle > 0)
			usleep((useconds_t)(opt_settle * 1e6));
		avail1 = meminfo_kib("MemAvailable");
		kern1 = meminfo_kib("Slab") + meminfo_kib("KernelStack") + meminfo_kib("PageTables");
		self1 = file_field_kib("/proc/self/status", "VmRSS");
		pss1 = opt_server_pid ? tree_pss_kib(opt_server_pid, &tasks1) : -1;
	}
	/* TLS: our close_notify, best effort (one small record on a
	 * non-blocking socket), not waiting for the server's; then free */
	for (long i = 0; i < opt_conns; i++) {
		if (opt_tls) {
			ERR_clear_error();
			(void)SSL_shutdown(ssl[i]);
			ERR_clear_error();
			SSL_free(ssl[i]);
		}
		close(fds[i]);
	}
	double n = (double)opt_conns;
	printf("%s conns=%ld open_secs=%.2f echo_secs=%.2f sys_kib_per_conn=%.1f", idle ? "hold-idle" : "hold", opt_conns, t_open, t_echo,
	       (double)(avail0 - avail1) / n);
	if (pss0 >= 0 && pss1 >= 0)
		printf(" pss_kib_per_conn=%.1f server_pss_kib=%ld server_tasks=%ld", (double)(pss1 - pss0) / n, pss1, tasks1);
	/* the MemAvailable drop includes this process; without it, the server and the kernel */
	printf(" kernel_kib_per_conn=%.1f client_kib_per_conn=%.2f sys_less_client_kib_per_conn=%.1f verified=1%s\n",
	       (double)(kern1 - kern0) / n, (double)(self1 - self0) / n,
	       (double)(avail0 - avail1 - (self1 - self0)) / n, tls_info);
	free(ssl);
	(void)tasks0;
	return 0;
}

/* ---- upload ----------------------------------------------------------------- */

struct up_ctx {
	int id;
	uint64_t seed;
	const char *expect;      /* 64 hex digits or NULL */
	int ok;
	char msg[256];
	char reply[512];
	double secs;
};

static void *upload_one(void *arg)
{
	struct up_ctx *c = arg;
	unsigned char *pat = pattern_new(c->seed);
	double t0 = now();
	struct link l;
	if (link_open(&l, -1, 0) < 0) {
		snprintf(c->msg, sizeof c->msg, "%s", l.why);
		free(pat);
		return NULL;
	}
	set_timeouts(l.fd, opt_io_timeout);
	uint64_t off = 0;
	while (off < opt_bytes) {
		size_t n = opt_chunk;
		if (n > opt_bytes - off)
			n = (size_t)(opt_bytes - off);
		if (link_write_all(&l, pat + off % PAT_LEN, n) < 0) {
			snprintf(c->msg, sizeof c->msg, "after %" PRIu64 " bytes: %s", off, l.why);
			goto out;
		}
		off += n;
	}
	/* TLS: close_notify, without which tcpxd stores nothing; then FIN */
	if (link_shutdown_wr(&l) < 0) {
		snprintf(c->msg, sizeof c->msg, "%s", l.why);
		goto out;
	}
	size_t rl = 0;
	for (;;) {
		/* until the server's end: FIN, or on TLS its close_notify */
		ssize_t n = link_read(&l, c->reply + rl, sizeof c->reply - 1 - rl);
		if (n < 0) {
			snprintf(c->msg, sizeof c->msg, "reading the reply: %s", l.why);
			goto out;
		}
		if (n == 0)
			break;
		rl += (size_t)n;
		if (rl == sizeof c->reply - 1) {
			snprintf(c->msg, sizeof c->msg, "reply too long");
			goto out;
		}
	}
	c->reply[rl] = 0;
	c->secs = now() - t0;
	if (!opt_receipt) {
		if (rl) {
			snprintf(c->msg, sizeof c->msg, "unexpected reply \"%.100s\"", c->reply);
			goto out;
		}
		c->ok = 1;
		goto out;
	}
	unsigned long long sz;
	char hex[65], name[256];
	if (sscanf(c->reply, "OK %llu sha256:%64[0-9a-f] %255s", &sz, hex, name) != 3 ||
	    c->reply[rl - 1] != '\n' || strchr(c->reply, '\n') != c->reply + rl - 1) {
		char *nl = strchr(c->reply, '\n');
		if (nl)
			*nl = 0;
		snprintf(c->msg, sizeof c->msg, "bad receipt \"%.100s\"", c->reply);
		goto out;
	}
	if (sz != opt_bytes) {
		snprintf(c->msg, sizeof c->msg, "receipt says %llu bytes, %" PRIu64 " sent", sz, opt_bytes);
		goto out;
	}
	if (c->expect && strcmp(hex, c->expect)) {
		snprintf(c->msg, sizeof c->msg, "receipt sha256 %s, expected %s", hex, c->expect);
		goto out;
	}
	c->ok = 1;
out:
	link_close(&l);
	free(pat);
	return NULL;
}

static int run_upload(int parallel_default, uint64_t bytes_default)
{
	if (!opt_conns)
		opt_conns = parallel_default;
	if (!opt_bytes)
		opt_bytes = bytes_default;
	if (opt_chunk > PAT_LEN)
		usage_error("--chunk at most %u", PAT_LEN);
	struct up_ctx *cs = calloc((size_t)opt_conns, sizeof *cs);
	pthread_t *th = calloc((size_t)opt_conns, sizeof *th);
	char **exp = calloc((size_t)opt_conns, sizeof *exp);
	if (!cs || !th || !exp)
		die("out of memory");
	if (opt_expect) {
		char *s = strdup(opt_expect), *save = NULL;
		long k = 0;
		for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (k == opt_conns || strlen(t) != 64 || strspn(t, "0123456789abcdef") != 64)
				usage_error("--expect-sha256 takes one 64-digit lower-case hex digest per connection");
			exp[k++] = t;
		}
		if (k != opt_conns)
			usage_error("--expect-sha256 has %ld digests for %ld connections", k, opt_conns);
	}
	double t0 = now();
	for (long i = 0; i < opt_conns; i++) {
		cs[i] = (struct up_ctx){ .id = (int)i, .seed = opt_seed + (uint64_t)i, .expect = exp[i] };
		if (pthread_create(&th[i], NULL, upload_one, &cs[i]))
			die("upload: pthread_create failed");
	}
	int bad = 0;
	for (long i = 0; i < opt_conns; i++) {
		pthread_join(th[i], NULL);
		if (!cs[i].ok) {
			fprintf(stderr, "tcpx-load: upload %ld: %s\n", i + 1, cs[i].msg);
			bad++;
		}
	}
	double secs = now() - t0;
	if (bad)
		return 1;
	uint64_t total = opt_bytes * (uint64_t)opt_conns;
	printf("upload conns=%ld bytes=%" PRIu64 " secs=%.3f mibps=%.1f receipt=%d verified=%d%s",
	       opt_conns, total, secs, (double)total / secs / 1048576.0, opt_receipt, opt_receipt && opt_expect,
	       tls_info);
	if (opt_receipt) {
		for (long i = 0; i < opt_conns; i++) {
			char name[256] = "";
			sscanf(cs[i].reply, "OK %*u sha256:%*s %255s", name);
			printf(" stored%ld=%s", i + 1, name);
		}
	}
	putchar('\n');
	return 0;
}

static int run_gen(void)
{
	if (!opt_bytes)
		usage_error("gen needs --bytes");
	unsigned char *pat = pattern_new(opt_seed);
	uint64_t off = 0;
	while (off < opt_bytes) {
		size_t n = PAT_LEN;
		if (n > opt_bytes - off)
			n = (size_t)(opt_bytes - off);
		size_t w = 0;
		while (w < n) {
			ssize_t r = write(1, pat + (off + w) % PAT_LEN, n - w);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				die("gen: write: %s", strerror(errno));
			}
			w += (size_t)r;
		}
		off += n;
	}
	return 0;
}

/* ---- small files and resume: tcpxd's framed protocol ---------------------------- */

/* The framed header's signature (docs/PROTOCOL.md §2.1) */
static const char frame_sig[8] = { '\x89', 'T', 'C', 'P', 'X', '\r', '\n', '\x1a' };

/* smallfiles --frame: raw (no header: the peers), 1 (one connection per
 * file, ended by the half-close) or 2 (many files per connection) */
enum { FRAME_RAW, FRAME_V1, FRAME_V2 };
static int opt_frame = FRAME_V1;
static long opt_files = 0;              /* smallfiles: files per client */
static int opt_break_pct = 90;          /* resume: where the first connection breaks */

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		die("SHA-256 failed");
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Reads one LF-ended line from a connection that also carries later lines
 * (version 2: one answer per file), keeping what follows for the next call. */
struct liner {
	char buf[1024];
	size_t len;
};

/* 0 with the line (LF removed) in out; -1 with l->why. */
static int read_line(struct link *l, struct liner *r, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			if (n >= cap) {
				snprintf(l->why, sizeof l->why, "answer line longer than %zu bytes", cap);
				return -1;
			}
			memcpy(out, r->buf, n);
			out[n] = 0;
			r->len -= n + 1;
			memmove(r->buf, nl + 1, r->len);
			return 0;
		}
		if (r->len == sizeof r->buf) {
			snprintf(l->why, sizeof l->why, "answer without a line end");
			return -1;
		}
		ssize_t n = link_read(l, r->buf + r->len, sizeof r->buf - r->len);
		if (n < 0)
			return -1;
		if (n == 0) {
			snprintf(l->why, sizeof l->why, "the server closed before a whole answer line%s",
			         r->len ? "" : " (nothing answered)");
			return -1;
		}
		r->len += (size_t)n;
	}
}

/* After the last answer: nothing more, then the server's end. */
static int expect_end_after(struct link *l, struct liner *r)
{
	if (r->len) {
		snprintf(l->why, sizeof l->why, "unexpected data after the last answer: \"%.60s\"", r->buf);
		return -1;
	}
	return link_expect_end(l);
}

/* "OK <size> sha256:<hex> <name>" for exactly these bytes; name NULL: any
 * non-empty name.  0, or -1 with why. */
static int check_receipt(const char *line, uint64_t size, const char *hex, const char *name,
                         char *why, size_t whylen)
{
	unsigned long long sz;
	char got[65];
	int end = 0;
	if (sscanf(line, "OK %llu sha256:%64[0-9a-f] %n", &sz, got, &end) != 2 || !end || !line[end]) {
		snprintf(why, whylen, "not a receipt: \"%.100s\"", line);
		return -1;
	}
	if (sz != size) {
		snprintf(why, whylen, "receipt says %llu bytes, %" PRIu64 " sent", sz, size);
		return -1;
	}
	if (strcmp(got, hex)) {
		snprintf(why, whylen, "receipt sha256 %s, sent %s", got, hex);
		return -1;
	}
	if (name && strcmp(line + end, name)) {
		snprintf(why, whylen, "stored as \"%.80s\", sent as \"%s\"", line + end, name);
		return -1;
	}
	return 0;
}

/* A version 2 header (§2.6) for SIZE bytes with a digest; id NULL: "-". */
static size_t header_v2(char *h, size_t cap, uint64_t size, const char *hex, const char *id, const char *name)
{
	memcpy(h, frame_sig, sizeof frame_sig);
	int n = snprintf(h + sizeof frame_sig, cap - sizeof frame_sig, "2 %" PRIu64 " sha256:%s %s %s\n",
	                 size, hex, id ? id : "-", name);
	if (n < 0 || (size_t)n >= cap - sizeof frame_sig)
		die("header too long");
	return sizeof frame_sig + (size_t)n;
}

struct sf_ctx {
	int id;
	const unsigned char *pat;
	double *lat;            /* one per file: first byte sent to the receipt */
	long done;              /* files whose receipt checked out */
	char msg[256];
};

/* File f of client c: opt_bytes of the pattern from an offset of its own
 * (distinct for every file of the run, as PAT_LEN is prime). */
static const unsigned char *sf_data(const struct sf_ctx *c, long f)
{
	uint64_t k = (uint64_t)c->id * (uint64_t)opt_files + (uint64_t)f;
	return c->pat + (k * 4099u) % PAT_LEN;
}

/* Names unique to the run (its process id), so that a second run into the
 * same directory is not stored under NAME.1 and refused as a duplicate. */
static void sf_name(char *name, size_t cap, int client, long f)
{
	snprintf(name, cap, "t%ld-c%03d-f%06ld", (long)getpid(), client, f);
}

static int sf_fail(struct sf_ctx *c, long f, const char *why)
{
	snprintf(c->msg, sizeof c->msg, "file %ld: %s", f + 1, why);
	return -1;
}

/* One file on a connection of its own: raw or version 1, then the
 * half-close, one answer line and the server's end. */
static int sf_one_conn(struct sf_ctx *c, long f, int src)
{
	const unsigned char *data = sf_data(c, f);
	char hex[65], name[64], h[256], line[512];
	struct liner r = { .len = 0 };
	struct link l;
	size_t hl = 0;
	double t0 = now();
	sha256_hex(data, opt_bytes, hex);
	sf_name(name, sizeof name, c->id, f);
	if (opt_frame == FRAME_V1) {
		memcpy(h, frame_sig, sizeof frame_sig);
		hl = sizeof frame_sig + (size_t)snprintf(h + sizeof frame_sig, sizeof h - sizeof frame_sig,
		                                         "1 %" PRIu64 " %s\n", opt_bytes, name);
	}
	if (link_open(&l, src, 1) < 0)
		return sf_fail(c, f, l.why);
	int rc = -1;
	if ((hl && link_write_all(&l, h, hl) < 0) || link_write_all(&l, data, opt_bytes) < 0 ||
	    link_shutdown_wr(&l) < 0 || read_line(&l, &r, line, sizeof line) < 0)
		sf_fail(c, f, l.why);
	else if (check_receipt(line, opt_bytes, hex, opt_frame == FRAME_V1 ? name : NULL, l.why, sizeof l.why) < 0 ||
	         expect_end_after(&l, &r) < 0)
		sf_fail(c, f, l.why);
	else
		rc = 0;
	c->lat[f] = now() - t0;
	link_close(&l);
	return rc;
}

/* Every file on one connection (version 2): header, data, answer, next. */
static int sf_many(struct sf_ctx *c, int src)
{
	struct liner r = { .len = 0 };
	struct link l;
	if (link_open(&l, src, 1) < 0)
		return sf_fail(c, 0, l.why);
	int rc = 0;
	for (long f = 0; f < opt_files && !rc; f++) {
		const unsigned char *data = sf_data(c, f);
		char hex[65], name[64], h[256], line[512];
		double t0 = now();
		sha256_hex(data, opt_bytes, hex);
		sf_name(name, sizeof name, c->id, f);
		size_t hl = header_v2(h, sizeof h, opt_bytes, hex, NULL, name);
		if (link_write_all(&l, h, hl) < 0 || link_write_all(&l, data, opt_bytes) < 0 ||
		    read_line(&l, &r, line, sizeof line) < 0 ||
		    check_receipt(line, opt_bytes, hex, name, l.why, sizeof l.why) < 0)
			rc = sf_fail(c, f, l.why);
		else
			c->done++;
		c->lat[f] = now() - t0;
	}
	if (!rc && (link_shutdown_wr(&l) < 0 || expect_end_after(&l, &r) < 0))
		rc = sf_fail(c, opt_files - 1, l.why);
	link_close(&l);
	return rc;
}

static void *sf_client(void *arg)
{
	struct sf_ctx *c = arg;
	if (opt_frame == FRAME_V2) {
		sf_many(c, c->id % 16);
		return NULL;
	}
	for (long f = 0; f < opt_files; f++) {
		/* spread over 16 source addresses: TIME_WAIT stays on the client */
		if (sf_one_conn(c, f, (int)((c->id + opt_conns * (f % 64)) % 16)) < 0)
			return NULL;
		c->done++;
	}
	return NULL;
}

static int run_smallfiles(void)
{
	if (!opt_conns)
		opt_conns = 16;
	if (!opt_files)
		opt_files = 1000;
	if (!opt_bytes)
		opt_bytes = 4096;
	if (opt_bytes > PAT_LEN)
		usage_error("smallfiles: --bytes at most %u", PAT_LEN);
	if (opt_tls)
		usage_error("smallfiles: no --tls");
	unsigned char *pat = pattern_new(opt_seed);
	struct sf_ctx *cs = calloc((size_t)opt_conns, sizeof *cs);
	pthread_t *th = calloc((size_t)opt_conns, sizeof *th);
	double *lat = calloc((size_t)(opt_conns * opt_files), sizeof *lat);
	if (!cs || !th || !lat)
		die("out of memory");
	raise_nofile(opt_conns * 2 + 64);
	double t0 = now();
	for (long i = 0; i < opt_conns; i++) {
		cs[i] = (struct sf_ctx){ .id = (int)i, .pat = pat, .lat = lat + i * opt_files };
		if (pthread_create(&th[i], NULL, sf_client, &cs[i]))
			die("smallfiles: pthread_create failed");
	}
	long bad = 0, done = 0;
	for (long i = 0; i < opt_conns; i++) {
		pthread_join(th[i], NULL);
		done += cs[i].done;
		if (cs[i].msg[0]) {
			fprintf(stderr, "tcpx-load: smallfiles: client %ld: %s\n", i + 1, cs[i].msg);
			bad++;
		}
	}
	double secs = now() - t0;
	if (bad)
		return 1;
	long n = opt_conns * opt_files;
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	printf("smallfiles frame=%s clients=%ld files=%ld bytes=%" PRIu64 " secs=%.3f fps=%.0f p50_ms=%.2f p99_ms=%.2f"
	       " max_ms=%.2f verified=%ld\n",
	       opt_frame == FRAME_RAW ? "raw" : opt_frame == FRAME_V1 ? "1" : "2", opt_conns, done, opt_bytes, secs,
	       (double)done / secs, pct(lat, n, 0.50) * 1e3, pct(lat, n, 0.99) * 1e3, lat[n - 1] * 1e3, done);
	free(lat);
	free(th);
	free(cs);
	free(pat);
	return 0;
}

/* resume: SHA-256 of the whole upload (bytes of the pattern from offset 0) */
static void pattern_sha256(const unsigned char *pat, uint64_t bytes, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[32];
	unsigned int n = 0;
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		die("SHA-256 failed");
	for (uint64_t off = 0; off < bytes;) {
		size_t k = PAT_LEN;
		if (k > bytes - off)
			k = (size_t)(bytes - off);
		if (EVP_DigestUpdate(md, pat + off % PAT_LEN, k) != 1)
			die("SHA-256 failed");
		off += k;
	}
	if (EVP_DigestFinal_ex(md, out, &n) != 1 || n != 32)
		die("SHA-256 failed");
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
}

/* Sends bytes [from, to) of the pattern; 0 or -1 (l->why). */
static int send_span(struct link *l, const unsigned char *pat, uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t n = opt_chunk;
		if (n > to - from)
			n = (size_t)(to - from);
		if (link_write_all(l, pat + from % PAT_LEN, n) < 0)
			return -1;
		from += n;
	}
	return 0;
}

/* Opens a connection and sends a resumable version 2 header; returns the
 * offset of "CONTINUE <offset>", or dies. */
static uint64_t resume_open(struct link *l, struct liner *r, uint64_t size, const char *hex,
                            const char *id, const char *name)
{
	char h[512], line[512];
	size_t hl = header_v2(h, sizeof h, size, hex, id, name);
	unsigned long long off;
	int end = 0;
	if (link_open(l, -1, 0) < 0)
		die("resume: %s: %s", name, l->why);
	set_timeouts(l->fd, opt_io_timeout);
	if (link_write_all(l, h, hl) < 0 || read_line(l, r, line, sizeof line) < 0)
		die("resume: %s: %s", name, l->why);
	if (sscanf(line, "CONTINUE %llu%n", &off, &end) != 1 || line[end])
		die("resume: %s: answer \"%.100s\", not CONTINUE <offset>", name, line);
	return off;
}

/* Sends bytes [from, size), reads the receipt and checks it; dies on failure. */
static void resume_finish(struct link *l, struct liner *r, const unsigned char *pat, uint64_t from,
                          uint64_t size, const char *hex, const char *name)
{
	char line[512];
	if (send_span(l, pat, from, size) < 0 || read_line(l, r, line, sizeof line) < 0)
		die("resume: %s: %s", name, l->why);
	if (check_receipt(line, size, hex, name, l->why, sizeof l->why) < 0)
		die("resume: %s: %s", name, l->why);
	if (link_shutdown_wr(l) < 0 || expect_end_after(l, r) < 0)
		die("resume: %s: no clean end: %s", name, l->why);
	link_close(l);
}

/* Waits until the kernel has handed every byte sent to the server (nothing
 * left in our send queue), so that the break comes after the bytes sent. */
static void wait_sent(int fd)
{
	double deadline = now() + opt_io_timeout;
	int q = 0;
	while (ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0) {
		if (now() > deadline)
			die("resume: %d bytes still unsent after %d s", q, opt_io_timeout);
		usleep(1000);
	}
}

/* A resumable upload of --bytes broken after --break-at percent by a reset,
 * then resumed on a new connection; then a fresh resumable upload of as
 * many bytes as the resume sent, for comparison. */
static int run_resume(void)
{
	if (!opt_bytes)
		opt_bytes = 1ULL << 30;
	if (opt_tls)
		usage_error("resume: no --tls");
	if (opt_chunk > PAT_LEN)
		usage_error("--chunk at most %u", PAT_LEN);
	unsigned char *pat = pattern_new(opt_seed);
	unsigned char *pat2 = pattern_new(opt_seed + 1);
	char hex[65], hex2[65], id[40], id2[64], name[96], name2[96];
	uint64_t cut = opt_bytes / 100 * (uint64_t)opt_break_pct + opt_bytes % 100 * (uint64_t)opt_break_pct / 100;
	if (cut == 0 || cut >= opt_bytes)
		usage_error("resume: --bytes too small to break at %d %%", opt_break_pct);
	pattern_sha256(pat, opt_bytes, hex);
	snprintf(id, sizeof id, "tcpxload%ldx%ld", (long)getpid(), (long)time(NULL));
	snprintf(id2, sizeof id2, "%s-fresh", id);
	snprintf(name, sizeof name, "resume-%s.bin", id);
	snprintf(name2, sizeof name2, "fresh-%s.bin", id);

	struct liner r = { .len = 0 };
	struct link l;
	double t_start = now();
	uint64_t off = resume_open(&l, &r, opt_bytes, hex, id, name);
	if (off)
		die("resume: a new upload id was answered CONTINUE %" PRIu64 ", not 0", off);
	if (send_span(&l, pat, 0, cut) < 0)
		die("resume: sending the first %" PRIu64 " bytes: %s", cut, l.why);
	wait_sent(l.fd);
	double t_break = now();
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	if (setsockopt(l.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
		die("resume: SO_LINGER: %s", strerror(errno));
	link_close(&l);

	r.len = 0;
	double t0 = now();
	uint64_t held = resume_open(&l, &r, opt_bytes, hex, id, name);
	double t_cont = now();
	if (held == 0 || held > cut)
		die("resume: CONTINUE %" PRIu64 " after a break at %" PRIu64 " (must be 1 to %" PRIu64 ")", held, cut, cut);
	resume_finish(&l, &r, pat, held, opt_bytes, hex, name);
	double t1 = now();

	/* the fresh upload: the same number of bytes as the resume sent */
	uint64_t rest = opt_bytes - held;
	pattern_sha256(pat2, rest, hex2);
	r.len = 0;
	double f0 = now();
	off = resume_open(&l, &r, rest, hex2, id2, name2);
	if (off)
		die("resume: a new upload id was answered CONTINUE %" PRIu64 ", not 0", off);
	resume_finish(&l, &r, pat2, 0, rest, hex2, name2);
	double f1 = now();
	printf("resume bytes=%" PRIu64 " break_at=%" PRIu64 " held=%" PRIu64 " held_pct=%.2f first_secs=%.3f"
	       " continue_secs=%.3f resume_secs=%.3f fresh_bytes=%" PRIu64 " fresh_secs=%.3f verified=1\n",
	       opt_bytes, cut, held, 100.0 * (double)held / (double)opt_bytes, t_break - t_start, t_cont - t0,
	       t1 - t0, rest, f1 - f0);
	free(pat);
	free(pat2);
	return 0;
}

/* ---- main ----------------------------------------------------------------------- */

static void usage(void)
{
	puts("usage: tcpx-load SCENARIO --port PORT [options]\n"
	     "scenarios: stream pingpong churn hold hold-idle upload upload8 smallfiles resume gen\n"
	     "  --host ADDR         numeric loopback address (default 127.0.0.1; others refused)\n"
	     "  --port PORT         server port\n"
	     "  --bytes SIZE        stream: bytes echoed (1G); upload: bytes per connection\n"
	     "                      (upload 1G, upload8 128M); smallfiles: bytes per file (4K);\n"
	     "                      resume: bytes of the upload (1G); gen: bytes written\n"
	     "  --chunk SIZE        send/recv size of stream and upload (64K)\n"
	     "  --count N           pingpong round trips (50000)\n"
	     "  --size N            message bytes of pingpong, churn, hold (64)\n"
	     "  --workers N         churn threads (32)\n"
	     "  --duration SECS     churn duration (5)\n"
	     "  --conns N           hold: connections (10000); upload: parallel connections\n"
	     "                      (upload 1, upload8 8); smallfiles: clients (16)\n"
	     "  --files N           smallfiles: files per client (1000)\n"
	     "  --frame raw|1|2     smallfiles: raw data, then the peer's answer line (peers);\n"
	     "                      1: framed version 1, a connection per file; 2: framed\n"
	     "                      version 2, all of a client's files on one connection (1)\n"
	     "  --break-at PCT      resume: break the first connection after PCT percent (90)\n"
	     "  --rate N            hold: connections opened per second (2500)\n"
	     "  --server-pid PID    hold: also report the PSS growth of PID and its descendants\n"
	     "  --src-addrs N       churn/hold: spread over N source addresses 127.0.1.1...\n"
	     "                      (churn 16, hold 1 per 20000; 0: the kernel's choice)\n"
	     "  --seed N            pattern seed; upload connection i uses seed+i (1)\n"
	     "  --expect-sha256 H,. upload: expected receipt digests, one per connection\n"
	     "  --no-receipt        upload: the server answers nothing, only closes\n"
	     "  --settle SECS       hold: pause before memory is sampled (0.5)\n"
	     "  --max-lag SECS      hold: fail when opening falls this far behind --rate (30)\n"
	     "  --tls               TLS 1.2+ on every connection; the server's certificate\n"
	     "                      is not verified: loopback benchmark only\n"
	     "  --io-timeout SECS   one blocking socket operation (30)\n"
	     "  --timeout SECS      whole run (600)");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'H' }, { "port", 1, 0, 'p' }, { "bytes", 1, 0, 'b' },
		{ "chunk", 1, 0, 'k' }, { "count", 1, 0, 'n' }, { "size", 1, 0, 's' },
		{ "workers", 1, 0, 'w' }, { "duration", 1, 0, 'd' }, { "conns", 1, 0, 'c' },
		{ "rate", 1, 0, 'r' }, { "server-pid", 1, 0, 'P' }, { "src-addrs", 1, 0, 'S' },
		{ "seed", 1, 0, 'e' }, { "expect-sha256", 1, 0, 'x' }, { "no-receipt", 0, 0, 'R' },
		{ "settle", 1, 0, 'T' }, { "max-lag", 1, 0, 'L' }, { "io-timeout", 1, 0, 'i' }, { "timeout", 1, 0, 't' },
		{ "tls", 0, 0, 'Y' }, { "files", 1, 0, 'F' }, { "frame", 1, 0, 'f' }, { "break-at", 1, 0, 'B' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	if (argc < 2)
		usage_error("no scenario given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage();
		return 0;
	}
	const char *scen = argv[1];
	optind = 2;
	int o;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'H': opt_host = optarg; break;
		case 'p': opt_port = (int)parse_long(optarg, 1, 65535, "port"); break;
		case 'b': opt_bytes = parse_size(optarg); break;
		case 'k': opt_chunk = (size_t)parse_size(optarg); if (!opt_chunk) usage_error("--chunk 0"); break;
		case 'n': opt_count = parse_long(optarg, 1, 100000000, "count"); break;
		case 's': opt_size = (size_t)parse_long(optarg, 1, 1 << 20, "size"); break;
		case 'w': opt_workers = (int)parse_long(optarg, 1, 4096, "workers"); break;
		case 'd': opt_duration = atof(optarg); if (opt_duration <= 0 || opt_duration > 3600) usage_error("bad --duration"); break;
		case 'c': opt_conns = parse_long(optarg, 1, 1000000, "conns"); break;
		case 'r': opt_rate = atof(optarg); if (opt_rate <= 0) usage_error("bad --rate"); break;
		case 'P': opt_server_pid = parse_long(optarg, 1, 1L << 30, "server pid"); break;
		case 'S': opt_src_addrs = (int)parse_long(optarg, 0, 60000, "src-addrs"); break;
		case 'e': opt_seed = (uint64_t)parse_long(optarg, 0, 1L << 62, "seed"); break;
		case 'x': opt_expect = optarg; break;
		case 'R': opt_receipt = 0; break;
		case 'Y': opt_tls = 1; break;
		case 'F': opt_files = parse_long(optarg, 1, 10000000, "files"); break;
		case 'f':
			if (!strcmp(optarg, "raw"))
				opt_frame = FRAME_RAW;
			else if (!strcmp(optarg, "1") || !strcmp(optarg, "2"))
				opt_frame = optarg[0] == '1' ? FRAME_V1 : FRAME_V2;
			else
				usage_error("--frame is raw, 1 or 2");
			break;
		case 'B': opt_break_pct = (int)parse_long(optarg, 1, 99, "break-at percent"); break;
		case 'T': opt_settle = atof(optarg); break;
		case 'L': opt_lag = atof(optarg); if (opt_lag <= 0) usage_error("bad --max-lag"); break;
		case 'i': opt_io_timeout = (int)parse_long(optarg, 1, 86400, "io-timeout"); break;
		case 't': opt_timeout = (int)parse_long(optarg, 1, 86400, "timeout"); break;
		case 'h': usage(); return 0;
		default: usage_error("unknown option");
		}
	}
	if (optind != argc)
		usage_error("extra argument \"%s\"", argv[optind]);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)opt_timeout);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(scen, "gen"))
		return run_gen();
	resolve_target();
	if (opt_tls)
		tls_setup();
	if (!strcmp(scen, "stream"))
		return run_stream();
	if (!strcmp(scen, "pingpong"))
		return run_pingpong();
	if (!strcmp(scen, "churn"))
		return run_churn();
	if (!strcmp(scen, "hold"))
		return run_hold(0);
	if (!strcmp(scen, "hold-idle"))
		return run_hold(1);
	if (!strcmp(scen, "upload"))
		return run_upload(1, 1ULL << 30);
	if (!strcmp(scen, "upload8"))
		return run_upload(8, 128ULL << 20);
	if (!strcmp(scen, "smallfiles"))
		return run_smallfiles();
	if (!strcmp(scen, "resume"))
		return run_resume();
	usage_error("unknown scenario \"%s\"", scen);
}
