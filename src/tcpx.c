/* SPDX-License-Identifier: ISC */
/*
 * tcpx.c - the client: framed (or raw) uploads whose receipt is checked
 * against what was sent, echo probes that check what comes back, and
 * echo round-trip timing, over plain TCP or TLS (one struct netio path
 * for both).  Exit status tells refused, mismatch and network failures
 * apart (see man tcpx).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "hostport.h"
#include "netio.h"
#include "receipt.h"
#include "sys.h"
#include "tls.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,       /* the daemon answered ERR */
	EXIT_MISMATCH = 4,      /* receipt or echo differs from what was sent */
	EXIT_NETWORK = 5,       /* cannot connect, timeout, reset, no answer */
	EXIT_LOCAL = 6,         /* cannot read the file, or a TLS file (--ca, --cert, --key) */
};

#define CHUNK (256 * 1024)
#define PROGRESS_EVERY_MS 200

static struct {
	bool quiet;
	bool raw;
	const char *name;
	unsigned timeout;       /* seconds, for connect and for each I/O */
	long count;
	size_t size;
	double interval;
	bool tls, insecure;
	const char *ca, *cert, *key;
} opt = { .timeout = 30, .count = 5, .size = 64, .interval = 0.2 };

static SSL_CTX *tls_ctx;        /* with --tls: made once, used for every connection */
static char tls_alert[64];      /* the last TLS alert the daemon sent, for messages */

static int __attribute__((format(printf, 2, 3)))
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("tcpx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void
usage(FILE *fp)
{
	fputs("usage: tcpx send [-q] [--raw] [--name NAME] [--timeout SECS] [TLS] FILE... HOST:PORT\n"
	    "       tcpx echo [--timeout SECS] [TLS] HOST:PORT [MESSAGE]\n"
	    "       tcpx ping [-c COUNT] [-s SIZE] [-i SECS] [--timeout SECS] [TLS] HOST:PORT\n"
	    "TLS: --tls [--ca FILE | --insecure] [--cert FILE [--key FILE]]\n"
	    "FILE may be - for standard input (with --name NAME).  HOST may be a name,\n"
	    "an IPv4 address or [IPv6].  See man tcpx.\n", fp);
}

/* Remembers the alerts the daemon sends (say, "certificate required" after a TLS 1.3 handshake). */
static void
tls_info(const SSL *ssl, int where, int ret)
{
	const char *desc;

	(void)ssl;
	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT)
		return;
	desc = SSL_alert_desc_string_long(ret);
	/* OpenSSL 3.0 names no TLS 1.3 alert; this one is what a daemon wanting a client certificate sends. */
	if ((ret & 0xff) == TLS13_AD_CERTIFICATE_REQUIRED)
		desc = "certificate required";
	if (strcmp(desc, "unknown") == 0)
		snprintf(tls_alert, sizeof(tls_alert), "number %d", ret & 0xff);
	else
		snprintf(tls_alert, sizeof(tls_alert), "%s", desc);
}

/* The TLS context of --tls, --ca, --cert, --key and --insecure: EXIT_LOCAL when a file is unusable. */
static int
tls_setup(void)
{
	const char *files[] = { opt.ca, opt.cert, opt.key };
	const char *names[] = { "--ca", "--cert", "--key" };
	char err[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd;

		if (files[i] == NULL)
			continue;
		/* OpenSSL's reason for a missing file is vague: say which file and why. */
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) < 0)
			return fail(EXIT_LOCAL, "%s %s: %s", names[i], files[i], strerror(errno));
		sys_close(fd);
	}
	tls_ctx = tls_client_ctx(&(struct tls_client_opts){ .ca = opt.ca, .certificate = opt.cert,
	    .key = opt.key, .insecure = opt.insecure }, err, sizeof(err));
	if (tls_ctx == NULL)
		return fail(EXIT_LOCAL, "TLS: %s", err);
	SSL_CTX_set_info_callback(tls_ctx, tls_info);
	return EXIT_OK;
}

/* Connects, and with --tls handshakes and checks the daemon's certificate against host. */
static int
open_target(const char *arg, struct netio *io)
{
	char host[HOSTPORT_HOST_MAX], err[512];
	const char *why;
	unsigned port;

	*io = (struct netio){ .fd = -1 };
	if (hostport_parse(arg, host, sizeof(host), &port, &why) < 0)
		return fail(EXIT_USAGE, "%s: %s", arg, why);
	io->fd = hostport_connect(host, port, (int)opt.timeout * 1000, opt.timeout, err, sizeof(err));
	if (io->fd < 0)
		return fail(EXIT_NETWORK, "%s", err);
	if (tls_ctx != NULL) {
		tls_alert[0] = '\0';
		io->ssl = tls_connect(tls_ctx, io->fd, host, sys_now_ms() + (long long)opt.timeout * 1000,
		    err, sizeof(err));
		if (io->ssl == NULL) {
			sys_close(io->fd);
			io->fd = -1;
			return fail(EXIT_NETWORK, "%s: TLS: %s", arg, err);
		}
	}
	return EXIT_OK;
}

/*
 * Closes the connection.  clean: our side ended as it should (with TLS, a
 * close_notify is sent if not yet sent).  Otherwise no close_notify: the
 * daemon must not take a TLS upload cut short for a complete one.
 */
static void
close_target(struct netio *io, bool clean)
{
	if (io->ssl != NULL && !clean)
		SSL_set_quiet_shutdown(io->ssl, 1);
	netio_tls_end(io);
	sys_close(io->fd);
	io->fd = -1;
}

static const char *
io_error(int err)
{
	static char text[sizeof(tls_alert) + 64];

	if (err == EAGAIN)
		return "timed out";
	if (err == EPROTO && tls_ctx != NULL) {
		snprintf(text, sizeof(text), "TLS: %s%s", tls_alert[0] ? "the daemon sent the alert: " :
		    "protocol error, or the stream ended without close_notify", tls_alert);
		return text;
	}
	return strerror(err);
}

/*
 * With SIGPIPE ignored (OpenSSL writes to the socket without MSG_NOSIGNAL),
 * a closed standard output ends tcpx the way it always did: by SIGPIPE.
 */
static int
stdout_failed(void)
{
	if (errno == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return fail(EXIT_LOCAL, "standard output: %s", strerror(errno));
}

/* ---- progress bar (stderr, terminals only) ------------------------------ */

struct progress {
	bool on;
	const char *label;
	unsigned long long total, done;
	long long start_ms, drawn_ms;
};

static void
human(char *buf, size_t len, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void
progress_draw(struct progress *p, bool last)
{
	long long now = sys_now_ms();
	double secs = (double)(now - p->start_ms) / 1000.0, rate;
	char done[32], total[32], speed[32], eta[32] = "";

	if (!p->on || (!last && now - p->drawn_ms < PROGRESS_EVERY_MS))
		return;
	p->drawn_ms = now;
	rate = secs > 0 ? (double)p->done / secs : 0;
	human(done, sizeof(done), (double)p->done);
	human(total, sizeof(total), (double)p->total);
	human(speed, sizeof(speed), rate);
	if (!last && rate > 0 && p->total > p->done) {
		long left = lround((double)(p->total - p->done) / rate);

		snprintf(eta, sizeof(eta), " ETA %ld:%02ld", left / 60, left % 60);
	}
	fprintf(stderr, "\r%-24.24s %3d%% %s / %s  %s/s%s\033[K%s", p->label,
	    p->total ? (int)(100 * p->done / p->total) : 100, done, total, speed, eta,
	    last ? "\n" : "");
}

/* ---- send --------------------------------------------------------------- */

/* Standard input of unknown size is spooled to an unnamed file, so the header can declare it. */
static int
spool_stdin(int *fd, unsigned long long *size)
{
	const char *dir = getenv("TMPDIR");
	char buf[CHUNK];
	ssize_t n;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";

	if ((*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0)
		return fail(EXIT_LOCAL, "cannot spool standard input in %s: %s", dir, strerror(errno));
	*size = 0;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sys_write_all(*fd, buf, (size_t)n) < 0)
			return fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
		*size += (unsigned long long)n;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0)
		return fail(EXIT_LOCAL, "spool: %s", strerror(errno));
	return EXIT_OK;
}

/* True when the daemon has answered before the upload ended (an early ERR). */
static bool
answer_waiting(struct netio *io)
{
	struct pollfd pfd = { .fd = io->fd, .events = POLLIN };
	int flags, rc, kind;
	char byte;

	if (netio_buffered(io))
		return true;
	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (io->ssl == NULL)
		return true;
	/*
	 * TLS records arrived, but they may carry no data: TLS 1.3 session
	 * tickets follow the handshake.  Peek without blocking to find out.
	 */
	if ((flags = fcntl(io->fd, F_GETFL)) < 0 || fcntl(io->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return true;    /* read_answer() will tell */
	ERR_clear_error();
	rc = SSL_peek(io->ssl, &byte, 1);
	kind = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(io->ssl, rc);
	ERR_clear_error();
	if (fcntl(io->fd, F_SETFL, flags) < 0)
		return true;
	return kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_WANT_WRITE;
}

/* Reads the daemon's one-line answer (until newline or EOF). */
static ssize_t
read_answer(struct netio *io, char *buf, size_t len)
{
	size_t have = 0;

	while (have < len - 1) {
		ssize_t n = netio_recv(io, buf + have, len - 1 - have);

		if (n < 0)
			return have > 0 ? (ssize_t)have : -1;
		if (n == 0)
			break;
		have += (size_t)n;
		if (memchr(buf, '\n', have) != NULL)
			break;
	}
	buf[have] = '\0';
	return (ssize_t)have;
}

static int
check_receipt(const char *label, const char *answer, size_t len, unsigned long long sent,
    const char *hex)
{
	char text[RECEIPT_SHOWN_MAX];
	struct receipt r;

	if (len == 0)
		return fail(EXIT_NETWORK, "%s: the daemon closed the connection without a receipt", label);
	if (receipt_parse(answer, len, &r) < 0) {
		char shown[81];
		size_t n = 0;

		/* Whatever came back may be binary: show it safely. */
		for (size_t i = 0; i < len && n < sizeof(shown) - 1; i++)
			shown[n++] = answer[i] >= 0x20 && answer[i] < 0x7f ? answer[i] : '.';
		shown[n] = '\0';
		return fail(EXIT_MISMATCH, "%s: not a receipt: %s", label, shown);
	}
	/* The daemon chose these bytes: nothing in them may steer the terminal. */
	receipt_text_shown(r.text, text, sizeof(text));
	if (!r.ok)
		return fail(EXIT_REFUSED, "%s: refused: ERR %d %s", label, r.code, text);
	if (r.bytes != sent || strcmp(r.sha256, hex) != 0)
		return fail(EXIT_MISMATCH, "%s: receipt does not match what was sent: "
		    "sent %llu bytes sha256:%s, daemon stored %llu bytes sha256:%s as %s",
		    label, sent, hex, r.bytes, r.sha256, text);
	printf("%s -> %s (%llu bytes, sha256:%s)\n", label, text, r.bytes, r.sha256);
	return EXIT_OK;
}

static int
send_one(const char *path, const char *target)
{
	const char *label = strcmp(path, "-") == 0 ? (opt.name ? opt.name : "stdin") : path;
	unsigned char digest[EVP_MAX_MD_SIZE];
	char hex[SHA256_LEN * 2 + 1], answer[RECEIPT_MAX + 1], header[FRAME_HEADER_MAX + 1];
	char clean[FRAME_NAME_MAX + 1];
	const char *base, *why;
	struct progress prog = { 0 };
	unsigned long long size = 0;
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	struct netio io = { .fd = -1 };
	int file = -1, rc;
	bool send_failed = false, ended = false;
	struct stat st;
	ssize_t got;

	if (strcmp(path, "-") == 0) {
		if (!opt.raw && opt.name == NULL)
			return fail(EXIT_USAGE, "sending standard input needs --name NAME (or --raw)");
		off_t at;

		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
		    (at = lseek(STDIN_FILENO, 0, SEEK_CUR)) >= 0 && at <= st.st_size) {
			/* Sent from where standard input stands, as cat would. */
			file = dup(STDIN_FILENO);
			size = (unsigned long long)(st.st_size - at);
		} else if ((rc = spool_stdin(&file, &size)) != EXIT_OK) {
			goto out;
		}
		base = opt.name ? opt.name : "stdin";
	} else {
		if ((file = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(file, &st) < 0) {
			rc = fail(EXIT_LOCAL, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = fail(EXIT_LOCAL, "%s: not a regular file", path);
			goto out;
		}
		size = (unsigned long long)st.st_size;
		base = opt.name ? opt.name : path;
	}
	if (!opt.raw && frame_name_sanitise(base, strlen(base), clean, &why) < 0) {
		rc = fail(EXIT_USAGE, "%s: the daemon would refuse this name: %s%s", label, why,
		    opt.name ? "" : " (give another with --name)");
		goto out;
	}
	if ((buf = malloc(CHUNK)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	if ((rc = open_target(target, &io)) != EXIT_OK)
		goto out;
	if (!opt.raw) {
		size_t hlen = frame_header_format(header, sizeof(header), size, clean);

		if (hlen == 0 || netio_send_all(&io, header, hlen) < 0)
			send_failed = true;
	}
	prog = (struct progress){ .on = !opt.quiet && isatty(STDERR_FILENO), .label = label,
	    .total = size, .start_ms = sys_now_ms() };
	for (unsigned long long sent = 0; !send_failed && sent < size;) {
		ssize_t n = read(file, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = fail(EXIT_LOCAL, "%s: %s", label, n < 0 ? strerror(errno) : "file shrank while sending");
			goto out;
		}
		if (sent + (unsigned long long)n > size)
			n = (ssize_t)(size - sent);     /* the file grew: send what the header declared */
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (netio_send_all(&io, buf, (size_t)n) < 0 || answer_waiting(&io)) {
			send_failed = true;     /* the daemon refused early: read its answer */
			break;
		}
		sent += (unsigned long long)n;
		prog.done = sent;
		progress_draw(&prog, false);
	}
	if (!send_failed) {
		progress_draw(&prog, true);
		/* With TLS, close_notify: a raw upload over TLS is stored only if it ends with one. */
		(void)netio_shutdown_wr(&io);
		ended = true;
	}
	got = read_answer(&io, answer, sizeof(answer));
	if (got < 0) {
		rc = fail(EXIT_NETWORK, "%s: no receipt: %s", label, io_error(errno));
		goto out;
	}
	if (send_failed && (got == 0 || strncmp(answer, "ERR ", 4) != 0)) {
		rc = fail(EXIT_NETWORK, "%s: connection lost while sending", label);
		goto out;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
	for (size_t i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	rc = check_receipt(label, answer, (size_t)got, size, hex);
out:
	EVP_MD_CTX_free(md);
	free(buf);
	sys_close(file);
	/* Never a close_notify for an upload cut short (say, the file shrank). */
	close_target(&io, ended);
	return rc;
}

static int
cmd_send(int argc, char **argv)
{
	int rc = EXIT_OK;

	if (argc < 2)
		return fail(EXIT_USAGE, "send: need FILE... HOST:PORT");
	if (opt.name != NULL && argc > 2)
		return fail(EXIT_USAGE, "send: --name applies to a single file");
	for (int i = 0; i < argc - 1; i++) {
		int one = send_one(argv[i], argv[argc - 1]);

		if (rc == EXIT_OK)
			rc = one;
	}
	return rc;
}

/* ---- echo --------------------------------------------------------------- */

/*
 * Sends input while reading the echo, and checks each byte that comes back
 * against what was sent.  Both directions progress at once, so input of any
 * size never deadlocks on full socket buffers.
 */
static int
echo_stream(struct netio *io, int in, const char *message)
{
	size_t cap = 1 << 20, head = 0, tail = 0, msg_off = 0, msg_len = message ? strlen(message) : 0;
	char *fifo = malloc(cap), buf[CHUNK / 4];
	bool in_done = false, wr_shut = false;
	unsigned long long back = 0;
	int rc = EXIT_OK;

	if (fifo == NULL)
		return fail(EXIT_LOCAL, "out of memory");
	for (;;) {
		struct pollfd pfd = { .fd = io->fd, .events = POLLIN };
		bool can_fill = !in_done && tail - head < cap / 2;
		bool buffered = netio_buffered(io);     /* decrypted already: poll() cannot see it */
		int n;

		if (can_fill)
			pfd.events |= POLLOUT;
		do
			n = poll(&pfd, 1, buffered ? 0 : (int)opt.timeout * 1000);
		while (n < 0 && errno == EINTR);
		if (buffered && n >= 0) {
			pfd.revents |= POLLIN;
			n = 1;
		}
		if (n <= 0) {
			rc = fail(EXIT_NETWORK, "echo: %s", n == 0 ? "timed out" : strerror(errno));
			break;
		}
		if (can_fill && (pfd.revents & POLLOUT)) {
			ssize_t r;

			if (message != NULL) {
				r = (ssize_t)(msg_len - msg_off < sizeof(buf) ? msg_len - msg_off : sizeof(buf));
				memcpy(buf, message + msg_off, (size_t)r);
				msg_off += (size_t)r;
			} else {
				r = read(in, buf, sizeof(buf));
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0) {
					rc = fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
					break;
				}
			}
			if (r == 0) {
				in_done = true;
			} else {
				if (tail - head + (size_t)r > cap) {
					rc = fail(EXIT_LOCAL, "echo: internal buffer overflow");
					break;
				}
				/* Keep what was sent until its echo arrives. */
				if (head > 0 && tail + (size_t)r > cap) {
					memmove(fifo, fifo + head, tail - head);
					tail -= head;
					head = 0;
				}
				memcpy(fifo + tail, buf, (size_t)r);
				tail += (size_t)r;
				if (netio_send_all(io, buf, (size_t)r) < 0) {
					rc = fail(EXIT_NETWORK, "echo: %s", io_error(errno));
					break;
				}
			}
		}
		if (in_done && !wr_shut) {
			/* A failure shows in the next read (a reset, a TLS error). */
			(void)netio_shutdown_wr(io);
			wr_shut = true;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = netio_recv(io, buf, sizeof(buf));

			if (r < 0) {
				rc = fail(EXIT_NETWORK, "echo: %s", io_error(errno));
				break;
			}
			if (r == 0) {
				if (head != tail)
					rc = fail(EXIT_MISMATCH, "echo: connection closed after %llu of %llu bytes",
					    back, back + (unsigned long long)(tail - head));
				break;
			}
			if ((size_t)r > tail - head || memcmp(fifo + head, buf, (size_t)r) != 0) {
				rc = fail(EXIT_MISMATCH, "echo: byte %llu differs from what was sent", back);
				break;
			}
			if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r) {
				rc = stdout_failed();
				break;
			}
			head += (size_t)r;
			back += (unsigned long long)r;
		}
	}
	free(fifo);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = stdout_failed();
	return rc;
}

static int
cmd_echo(int argc, char **argv)
{
	struct netio io;
	int rc;

	if (argc < 1 || argc > 2)
		return fail(EXIT_USAGE, "echo: need HOST:PORT [MESSAGE]");
	if ((rc = open_target(argv[0], &io)) != EXIT_OK)
		return rc;
	rc = echo_stream(&io, STDIN_FILENO, argc == 2 ? argv[1] : NULL);
	close_target(&io, rc == EXIT_OK);
	return rc;
}

/* ---- ping --------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmd_ping(int argc, char **argv)
{
	char *out = NULL, *in = NULL;
	double *rtt = NULL, sum = 0;
	long done = 0;
	struct netio io;
	int one = 1, rc;

	if (argc != 1)
		return fail(EXIT_USAGE, "ping: need HOST:PORT");
	if ((rc = open_target(argv[0], &io)) != EXIT_OK)
		return rc;
	if ((out = malloc(opt.size)) == NULL || (in = malloc(opt.size)) == NULL ||
	    (rtt = calloc((size_t)opt.count, sizeof(*rtt))) == NULL) {
		rc = fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	printf("PING %s: %zu data bytes\n", argv[0], opt.size);
	for (long seq = 0; seq < opt.count; seq++) {
		double t0;
		size_t have = 0;

		for (size_t i = 0; i < opt.size; i++)
			out[i] = (char)(seq + (long)i);
		t0 = now_us();
		if (netio_send_all(&io, out, opt.size) < 0) {
			rc = fail(EXIT_NETWORK, "ping: %s", io_error(errno));
			break;
		}
		while (have < opt.size) {
			ssize_t n = netio_recv(&io, in + have, opt.size - have);

			if (n <= 0) {
				rc = fail(EXIT_NETWORK, "ping: %s", n == 0 ? "connection closed" : io_error(errno));
				goto summary;
			}
			have += (size_t)n;
		}
		rtt[done] = (now_us() - t0) / 1000.0;
		if (memcmp(in, out, opt.size) != 0) {
			rc = fail(EXIT_MISMATCH, "ping: seq=%ld came back different", seq);
			goto summary;
		}
		if (printf("%zu bytes from %s: seq=%ld time=%.3f ms\n", opt.size, argv[0], seq,
		    rtt[done]) < 0) {
			rc = stdout_failed();
			goto out;
		}
		sum += rtt[done++];
		if (opt.interval > 0 && seq + 1 < opt.count) {
			struct timespec ts = { .tv_sec = (time_t)opt.interval,
			    .tv_nsec = (long)((opt.interval - (double)(time_t)opt.interval) * 1e9) };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
summary:
	printf("--- %s echo statistics ---\n%ld sent, %ld received\n", argv[0],
	    done + (rc != EXIT_OK), done);
	if (done > 0) {
		qsort(rtt, (size_t)done, sizeof(*rtt), cmp_double);
		printf("rtt min/avg/p99/max = %.3f/%.3f/%.3f/%.3f ms\n", rtt[0], sum / (double)done,
		    rtt[(size_t)ceil(0.99 * (double)done) - 1], rtt[done - 1]);
	}
out:
	free(out);
	free(in);
	free(rtt);
	close_target(&io, rc == EXIT_OK);
	return rc;
}

/* ---- main --------------------------------------------------------------- */

static int
parse_number(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "raw", no_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "tls", no_argument, NULL, 'T' },
		{ "ca", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	double v;
	int o, rc;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc >= 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("tcpx %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	argc--;
	argv++;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":qc:s:i:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'q': opt.quiet = true; break;
		case 'r': opt.raw = true; break;
		case 'n': opt.name = optarg; break;
		case 't':
			if (parse_number(optarg, 1, 86400, &v) < 0)
				return fail(EXIT_USAGE, "--timeout: seconds from 1 to 86400");
			opt.timeout = (unsigned)v;
			break;
		case 'c':
			if (parse_number(optarg, 1, 10000000, &v) < 0)
				return fail(EXIT_USAGE, "-c: a count from 1 to 10000000");
			opt.count = (long)v;
			break;
		case 's':
			if (parse_number(optarg, 1, 1 << 24, &v) < 0)
				return fail(EXIT_USAGE, "-s: a size from 1 to 16777216 bytes");
			opt.size = (size_t)v;
			break;
		case 'i':
			if (parse_number(optarg, 0, 3600, &v) < 0)
				return fail(EXIT_USAGE, "-i: seconds from 0 to 3600");
			opt.interval = v;
			break;
		case 'T': opt.tls = true; break;
		case 'A': opt.ca = optarg; break;
		case 'k': opt.insecure = true; break;
		case 'C': opt.cert = optarg; break;
		case 'K': opt.key = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("tcpx %s\n", PACKAGE_VERSION); return EXIT_OK;
		case ':': return fail(EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
		default: return fail(EXIT_USAGE, "unknown option %s (try tcpx --help)", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "send") != 0 && strcmp(cmd, "echo") != 0 && strcmp(cmd, "ping") != 0) {
		usage(stderr);
		return fail(EXIT_USAGE, "unknown command \"%s\"", cmd);
	}
	if (!opt.tls && (opt.ca || opt.insecure || opt.cert || opt.key))
		return fail(EXIT_USAGE, "%s needs --tls", opt.ca ? "--ca" : opt.insecure ? "--insecure" :
		    opt.cert ? "--cert" : "--key");
	if (opt.ca && opt.insecure)
		return fail(EXIT_USAGE, "--ca and --insecure exclude each other");
	if (opt.key && !opt.cert)
		return fail(EXIT_USAGE, "--key needs --cert");
	/* OpenSSL writes to the socket without MSG_NOSIGNAL: a lost connection must be EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (opt.tls && (rc = tls_setup()) != EXIT_OK)
		return rc;
	if (strcmp(cmd, "send") == 0)
		rc = cmd_send(argc, argv);
	else if (strcmp(cmd, "echo") == 0)
		rc = cmd_echo(argc, argv);
	else
		rc = cmd_ping(argc, argv);
	SSL_CTX_free(tls_ctx);
	if (fflush(stdout) != 0) {
		int saved = stdout_failed();

		if (rc == EXIT_OK)
			rc = saved;
	}
	return rc;
}
