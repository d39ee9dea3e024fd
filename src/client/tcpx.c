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

#include "io/netio.h"
#include "io/sys.h"
#include "io/tls.h"
#include "wire/frame.h"
#include "wire/hostport.h"
#include "wire/receipt.h"

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
	struct timespec interval;
	bool tls, insecure;
	const char *ca, *cert, *key;
} opt = { .timeout = 30, .count = 5, .size = 64, .interval = { 0, 200000000 } };

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
	    "an IPv4 address or [IPv6].  Options may also come before the command;\n"
	    "-- ends them.  See man tcpx.\n", fp);
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

/* ---- sending and receiving without blocking ------------------------------ */

/*
 * While tcpx sends, it also reads: a peer that answers early (an ERR, an
 * echo service) must never leave both sides blocked in send() with full
 * buffers.  So the socket is non-blocking while data moves, and every wait
 * is a poll() bounded by --timeout.
 */
static int
set_blocking(struct netio *io, bool on)
{
	int flags = fcntl(io->fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(io->fd, F_SETFL, on ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

/*
 * Sends what the socket takes now of buf: the bytes sent (0 when it takes
 * none), or -1 with errno.  With TLS it is all or none, and after none the
 * next call must pass the same buf and len (OpenSSL's rule).
 */
static ssize_t
send_some(struct netio *io, const char *buf, size_t len)
{
	ssize_t n;

	if (io->ssl != NULL) {
		if (netio_send_all(io, buf, len) == 0)
			return (ssize_t)len;
		return errno == EAGAIN ? 0 : -1;
	}
	do
		n = send(io->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n;
}

/*
 * Waits up to --timeout (for ever if !bounded) until the connection is
 * readable, or writable too if asked (POLLOUT in events), or extra (fd -1:
 * none) is ready.  1 with the connection's events in *revents, 0 on
 * timeout, -1 with errno.
 */
static int
wait_io(struct netio *io, short events, struct pollfd *extra, bool bounded, short *revents)
{
	struct pollfd pfd[2] = { { .fd = io->fd, .events = POLLIN | events }, { .fd = -1 } };
	/* TLS data decrypted already, which poll() cannot see: only look at the rest. */
	bool buffered = netio_buffered(io);
	int n;

	if (extra != NULL) {
		pfd[1] = *extra;
		extra->revents = 0;
	}
	do
		n = poll(pfd, 2, buffered ? 0 : bounded ? (int)opt.timeout * 1000 : -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	*revents = pfd[0].revents | (buffered ? POLLIN : 0);
	if (extra != NULL)
		extra->revents = pfd[1].revents;
	return n > 0 || buffered;
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

/*
 * After the socket turned readable during an upload: true when the daemon
 * has answered before the upload ended (an early ERR), or the connection
 * ended.  TLS records may carry no data (TLS 1.3 session tickets follow the
 * handshake): peek, on the non-blocking socket, to find out.
 */
static bool
answer_arrived(struct netio *io)
{
	int rc, kind;
	char byte;

	if (io->ssl == NULL || netio_buffered(io))
		return true;
	ERR_clear_error();
	rc = SSL_peek(io->ssl, &byte, 1);
	kind = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(io->ssl, rc);
	ERR_clear_error();
	return kind != SSL_ERROR_WANT_READ && kind != SSL_ERROR_WANT_WRITE;
}

enum upload_end {
	UPLOAD_SENT,            /* every byte went: half-close and read the receipt */
	UPLOAD_ANSWERED,        /* the daemon spoke first, or the connection broke: read what came */
	UPLOAD_FAILED,          /* tcpx gave up (file, timeout): abandon the upload */
};

struct upload {
	struct netio *io;
	const char *label;
	int file;
	unsigned long long size;
	EVP_MD_CTX *md;
	struct progress *prog;
	char *buf;              /* CHUNK bytes */
	int rc;                 /* with UPLOAD_FAILED */
};

/* The next piece of the file into u->buf: its length, or 0 after failing. */
static size_t
upload_read(struct upload *u, unsigned long long sent)
{
	unsigned long long left = u->size - sent;
	ssize_t n;

	do
		n = read(u->file, u->buf, left < CHUNK ? (size_t)left : CHUNK);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		u->rc = fail(EXIT_LOCAL, "%s: %s", u->label,
		    n < 0 ? strerror(errno) : "file shrank while sending");
		return 0;
	}
	/* A file that grows meanwhile is sent as long as the header declared. */
	EVP_DigestUpdate(u->md, u->buf, (size_t)n);
	return (size_t)n;
}

/*
 * Sends the header (hlen bytes, maybe none) and then the file, on the
 * non-blocking socket, watching the whole time for an early answer.
 */
static enum upload_end
upload_send(struct upload *u, const char *header, size_t hlen)
{
	const char *chunk = header;
	size_t off = 0, len = hlen;
	unsigned long long sent = 0;

	for (;;) {
		short revents = 0;
		ssize_t k;
		int n;

		if (off == len) {
			if (sent == u->size)
				return UPLOAD_SENT;
			if ((len = upload_read(u, sent)) == 0)
				return UPLOAD_FAILED;
			chunk = u->buf;
			off = 0;
		}
		if ((n = wait_io(u->io, POLLOUT, NULL, true, &revents)) <= 0) {
			u->rc = fail(EXIT_NETWORK, "%s: %s while sending", u->label,
			    n == 0 ? "timed out" : strerror(errno));
			return UPLOAD_FAILED;
		}
		if ((revents & (POLLIN | POLLHUP | POLLERR)) && answer_arrived(u->io))
			return UPLOAD_ANSWERED;
		if (!(revents & POLLOUT))
			continue;
		if ((k = send_some(u->io, chunk + off, len - off)) < 0)
			return UPLOAD_ANSWERED;
		off += (size_t)k;
		if (chunk == u->buf) {
			sent += (unsigned long long)k;
			u->prog->done = sent;
			progress_draw(u->prog, false);
		}
	}
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
		return fail(EXIT_MISMATCH, "%s: the answer is not a receipt: %s", label, shown);
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

/* Uploads path (shown as label) to target: an exit status. */
static int
send_one(const char *path, const char *label, const char *target)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	char hex[SHA256_LEN * 2 + 1], answer[RECEIPT_MAX + 1], header[FRAME_HEADER_MAX + 1];
	char clean[FRAME_NAME_MAX + 1];
	const char *base, *why;
	struct progress prog = { 0 };
	unsigned long long size = 0;
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	struct netio io = { .fd = -1 };
	struct upload up;
	enum upload_end end;
	size_t hlen = 0;
	int file = -1, rc;
	bool ended = false;
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
	if (!opt.raw && (hlen = frame_header_format(header, sizeof(header), size, clean)) == 0) {
		rc = fail(EXIT_USAGE, "%s: header too long", label);
		goto out;
	}
	if ((rc = open_target(target, &io)) != EXIT_OK)
		goto out;
	/*
	 * Abnormal ends of an upload reset the connection: a raw upload that
	 * ended with a FIN would be stored as complete.  Armed from the
	 * connection on, so that even a tcpx killed by a signal resets, and
	 * disarmed only once the upload has ended as it should.
	 */
	sys_reset_on_close(io.fd, true);
	prog = (struct progress){ .on = !opt.quiet && isatty(STDERR_FILENO), .label = label,
	    .total = size, .start_ms = sys_now_ms() };
	up = (struct upload){ .io = &io, .label = label, .file = file, .size = size, .md = md,
	    .prog = &prog, .buf = buf };
	if (set_blocking(&io, false) < 0) {
		rc = fail(EXIT_LOCAL, "%s: %s", label, strerror(errno));
		goto out;
	}
	end = upload_send(&up, header, hlen);
	if (set_blocking(&io, true) < 0 && end != UPLOAD_FAILED) {
		up.rc = fail(EXIT_LOCAL, "%s: %s", label, strerror(errno));
		end = UPLOAD_FAILED;
	}
	if (end == UPLOAD_FAILED) {
		rc = up.rc;
		goto out;
	}
	if (end == UPLOAD_SENT) {
		progress_draw(&prog, true);
		/* With TLS, close_notify: a raw upload over TLS is stored only if it ends with one. */
		if (netio_shutdown_wr(&io) == 0) {
			ended = true;
			sys_reset_on_close(io.fd, false);
		}
	}
	got = read_answer(&io, answer, sizeof(answer));
	if (got < 0) {
		rc = fail(EXIT_NETWORK, "%s: no receipt: %s", label, io_error(errno));
		goto out;
	}
	/* Bytes that came back are the answer, receipt or not, whatever became of the connection. */
	if (got == 0 && end == UPLOAD_ANSWERED) {
		rc = fail(EXIT_NETWORK, "%s: connection lost while sending", label);
		goto out;
	}
	/* tcpxd stores no file for a connection that sent no byte, unless store_empty = true. */
	if (got == 0 && opt.raw && size == 0) {
		rc = fail(EXIT_REFUSED, "%s: nothing stored: a raw upload of 0 bytes is an empty "
		    "connection to the daemon (stored only where store_empty = true); send it without "
		    "--raw", label);
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
	/* Never a close_notify, and a reset (sys_reset_on_close), for an upload cut short. */
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
		const char *given = strcmp(argv[i], "-") == 0 ? (opt.name ? opt.name : "stdin") : argv[i];
		size_t room = strlen(given) * 4 + 1;
		char *label = malloc(room);
		int one;

		if (label == NULL)
			return fail(EXIT_LOCAL, "out of memory");
		/* A path from a listing (tcpx send *) can hold terminal escapes too. */
		receipt_text_shown(given, label, room);
		one = send_one(argv[i], label, argv[argc - 1]);
		free(label);

		if (rc == EXIT_OK)
			rc = one;
	}
	return rc;
}

/* ---- echo --------------------------------------------------------------- */

/* Bytes sent and not yet echoed, at most: bounds the memory, and what a slow echo holds. */
#define EXCHANGE_WINDOW (512 * 1024)
#define EXCHANGE_STEP (64 * 1024)

/*
 * One exchange with an echo service: the input (data in memory, or the
 * file descriptor in) is sent while what comes back is read and checked
 * against it, so both directions move at once and input of any size never
 * deadlocks on full socket buffers.
 */
struct exchange {
	struct netio *io;
	const char *label;      /* "echo", "ping: seq=3": starts each message */
	const char *data;       /* the input, or NULL to read it from in */
	size_t data_len;
	int in;
	bool half_close;        /* echo: end our direction after the input, read to the end */
	bool print;             /* echo: what comes back goes to standard output */
	char *fifo;             /* [head, sent): sent, not yet back; [sent, tail): not yet sent */
	size_t head, sent, tail;
};

/* Takes more input once everything read so far is sent.  0, or an exit code. */
static int
exchange_fill(struct exchange *x, size_t *data_off, bool *in_done)
{
	size_t room;
	ssize_t r;

	/* Keep only what is still to come back; a TLS retry never needs moved bytes (sent == tail). */
	if (x->tail + EXCHANGE_STEP > 2 * EXCHANGE_WINDOW) {
		memmove(x->fifo, x->fifo + x->head, x->tail - x->head);
		x->tail -= x->head;
		x->sent = x->tail;
		x->head = 0;
	}
	room = EXCHANGE_STEP;
	if (x->data != NULL) {
		r = (ssize_t)(x->data_len - *data_off < room ? x->data_len - *data_off : room);
		memcpy(x->fifo + x->tail, x->data + *data_off, (size_t)r);
		*data_off += (size_t)r;
	} else {
		do
			r = read(x->in, x->fifo + x->tail, room);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
	}
	if (r == 0)
		*in_done = true;
	x->tail += (size_t)r;
	return EXIT_OK;
}

/* Reads what came back and checks it.  EXIT_OK with *eof at the end, or an exit code. */
static int
exchange_read(struct exchange *x, unsigned long long *back, bool *eof)
{
	char buf[EXCHANGE_STEP];
	ssize_t r = netio_recv(x->io, buf, sizeof(buf));

	if (r < 0 && errno == EAGAIN)
		return EXIT_OK;         /* TLS records without data (session tickets) */
	if (r < 0)
		return fail(EXIT_NETWORK, "%s: %s", x->label, io_error(errno));
	if (r == 0) {
		*eof = true;
		return EXIT_OK;
	}
	if ((size_t)r > x->sent - x->head || memcmp(x->fifo + x->head, buf, (size_t)r) != 0)
		return fail(EXIT_MISMATCH, "%s: byte %llu differs from what was sent", x->label, *back);
	if (x->print && fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
		return stdout_failed();
	x->head += (size_t)r;
	*back += (unsigned long long)r;
	return EXIT_OK;
}

static int
exchange_run(struct exchange *x)
{
	struct pollfd input = { .fd = -1 };
	unsigned long long back = 0;
	bool in_done = false, wr_shut = !x->half_close, eof = false;
	size_t data_off = 0;
	int rc = EXIT_OK;

	x->head = x->sent = x->tail = 0;
	while (rc == EXIT_OK) {
		bool can_fill = !in_done && x->sent == x->tail && x->tail - x->head < EXCHANGE_WINDOW;
		bool shut_now = in_done && x->sent == x->tail && !wr_shut;
		short events = x->sent < x->tail || shut_now ? POLLOUT : 0, revents = 0;
		int n;

		if (can_fill && x->data != NULL) {
			rc = exchange_fill(x, &data_off, &in_done);
			continue;
		}
		if (eof || (in_done && wr_shut && x->head == x->tail && !x->half_close))
			break;
		input = (struct pollfd){ .fd = can_fill ? x->in : -1, .events = POLLIN };
		/* Only waiting for the user to type (nothing in flight) has no time limit. */
		n = wait_io(x->io, events, &input, !(can_fill && x->head == x->tail), &revents);
		if (n <= 0) {
			rc = fail(EXIT_NETWORK, "%s: %s", x->label, n == 0 ? "timed out" : strerror(errno));
			break;
		}
		if (input.revents != 0)
			rc = exchange_fill(x, &data_off, &in_done);
		if (rc == EXIT_OK && (revents & (POLLOUT | POLLERR)) && x->sent < x->tail) {
			size_t len = x->tail - x->sent < EXCHANGE_STEP ? x->tail - x->sent : EXCHANGE_STEP;
			ssize_t k = send_some(x->io, x->fifo + x->sent, len);

			if (k < 0)
				rc = fail(EXIT_NETWORK, "%s: %s", x->label, io_error(errno));
			else
				x->sent += (size_t)k;
		}
		if (rc == EXIT_OK && shut_now && (revents & (POLLOUT | POLLERR))) {
			/* A failure other than a full buffer shows in the next read (a reset, a TLS error). */
			if (netio_shutdown_wr(x->io) == 0 || errno != EAGAIN)
				wr_shut = true;
		}
		if (rc == EXIT_OK && (revents & (POLLIN | POLLHUP | POLLERR)))
			rc = exchange_read(x, &back, &eof);
	}
	if (rc == EXIT_OK && eof && (x->head != x->tail || !in_done)) {
		if (x->half_close && in_done)
			rc = fail(EXIT_MISMATCH, "%s: connection closed after %llu of %llu bytes",
			    x->label, back, back + (unsigned long long)(x->tail - x->head));
		else
			rc = fail(EXIT_NETWORK, "%s: connection closed after %llu bytes came back",
			    x->label, back);
	}
	return rc;
}

/* Runs x on its connection made non-blocking for the while, with its buffer. */
static int
exchange(struct exchange *x)
{
	int rc;

	if (x->fifo == NULL && (x->fifo = malloc(2 * EXCHANGE_WINDOW)) == NULL)
		return fail(EXIT_LOCAL, "out of memory");
	if (set_blocking(x->io, false) < 0)
		return fail(EXIT_LOCAL, "%s: %s", x->label, strerror(errno));
	rc = exchange_run(x);
	if (set_blocking(x->io, true) < 0 && rc == EXIT_OK)
		rc = fail(EXIT_LOCAL, "%s: %s", x->label, strerror(errno));
	return rc;
}

static int
cmd_echo(int argc, char **argv)
{
	struct exchange x;
	struct netio io;
	int rc;

	if (argc < 1 || argc > 2)
		return fail(EXIT_USAGE, "echo: need HOST:PORT [MESSAGE]");
	if ((rc = open_target(argv[0], &io)) != EXIT_OK)
		return rc;
	x = (struct exchange){ .io = &io, .label = "echo", .data = argc == 2 ? argv[1] : NULL,
	    .data_len = argc == 2 ? strlen(argv[1]) : 0, .in = STDIN_FILENO, .half_close = true,
	    .print = true };
	rc = exchange(&x);
	free(x.fifo);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = stdout_failed();
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
	char *out = NULL, label[48];
	double *rtt = NULL, sum = 0;
	long done = 0;
	struct exchange x = { 0 };
	struct netio io;
	int one = 1, rc;

	if (argc != 1)
		return fail(EXIT_USAGE, "ping: need HOST:PORT");
	if ((rc = open_target(argv[0], &io)) != EXIT_OK)
		return rc;
	if ((out = malloc(opt.size)) == NULL || (rtt = calloc((size_t)opt.count, sizeof(*rtt))) == NULL) {
		rc = fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	printf("PING %s: %zu data bytes\n", argv[0], opt.size);
	x = (struct exchange){ .io = &io, .label = label, .data = out, .data_len = opt.size };
	for (long seq = 0; seq < opt.count; seq++) {
		double t0;

		for (size_t i = 0; i < opt.size; i++)
			out[i] = (char)(seq + (long)i);
		snprintf(label, sizeof(label), "ping: seq=%ld", seq);
		t0 = now_us();
		/* Large messages are read back while they are sent (exchange()), never after. */
		if ((rc = exchange(&x)) != EXIT_OK)
			goto summary;
		rtt[done] = (now_us() - t0) / 1000.0;
		if (printf("%zu bytes from %s: seq=%ld time=%.3f ms\n", opt.size, argv[0], seq,
		    rtt[done]) < 0) {
			rc = stdout_failed();
			goto out;
		}
		sum += rtt[done++];
		if (seq + 1 < opt.count) {
			struct timespec ts = opt.interval;

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
	free(x.fifo);
	free(rtt);
	close_target(&io, rc == EXIT_OK);
	return rc;
}

/* ---- main --------------------------------------------------------------- */

/* A whole number written as plain decimal digits, from min to max: 0, or -1. */
static int
parse_integer(const char *text, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = text;

	/* No sign, space, exponent, fraction or base prefix: strtoull would take some of them. */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (unsigned)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (p == text || *p != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Seconds as digits with at most 9 decimals ("0.25"), kept exact, up to max_secs. */
static int
parse_seconds(const char *text, unsigned long long max_secs, struct timespec *out)
{
	char whole[24];
	const char *dot = strchr(text, '.');
	size_t wlen = dot ? (size_t)(dot - text) : strlen(text);
	unsigned long long secs, nsec = 0;
	size_t digits = 0;

	if (wlen == 0 || wlen >= sizeof(whole))
		return -1;
	memcpy(whole, text, wlen);
	whole[wlen] = '\0';
	if (parse_integer(whole, 0, max_secs, &secs) < 0)
		return -1;
	if (dot != NULL) {
		for (const char *p = dot + 1; *p != '\0'; p++, digits++) {
			if (*p < '0' || *p > '9' || digits == 9)
				return -1;
			nsec = nsec * 10 + (unsigned)(*p - '0');
		}
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	if (secs == max_secs && nsec > 0)
		return -1;
	*out = (struct timespec){ .tv_sec = (time_t)secs, .tv_nsec = (long)nsec };
	return 0;
}

static bool
is_command(const char *word)
{
	return strcmp(word, "send") == 0 || strcmp(word, "echo") == 0 || strcmp(word, "ping") == 0;
}

/*
 * Options may come before the command, after it and between operands (as
 * git's and ip's do), whatever POSIXLY_CORRECT says; "--" ends them.  -1
 * with the command and its operands moved, in order, to argv[0..*count),
 * or an exit status to leave with (after --help, --version or an error).
 */
static int
parse_options(int argc, char **argv, int *count)
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
	unsigned long long v;
	bool version = false;
	int o, n = 0;

	opterr = 0;
	/* "-": each operand comes back as option 1, in place, so none can be taken for an option. */
	while ((o = getopt_long(argc, argv, "-:qc:s:i:hV", opts, NULL)) != -1) {
		switch (o) {
		case 1: argv[n++] = optarg; break;      /* n < optind: never overwrites what is unread */
		case 'q': opt.quiet = true; break;
		case 'r': opt.raw = true; break;
		case 'n': opt.name = optarg; break;
		case 't':
			if (parse_integer(optarg, 1, 86400, &v) < 0)
				return fail(EXIT_USAGE, "--timeout \"%s\": not whole seconds from 1 to 86400", optarg);
			opt.timeout = (unsigned)v;
			break;
		case 'c':
			if (parse_integer(optarg, 1, 10000000, &v) < 0)
				return fail(EXIT_USAGE, "-c \"%s\": not a whole number from 1 to 10000000", optarg);
			opt.count = (long)v;
			break;
		case 's':
			if (parse_integer(optarg, 1, 1 << 24, &v) < 0)
				return fail(EXIT_USAGE, "-s \"%s\": not a whole number of bytes from 1 to 16777216",
				    optarg);
			opt.size = (size_t)v;
			break;
		case 'i':
			if (parse_seconds(optarg, 3600, &opt.interval) < 0)
				return fail(EXIT_USAGE, "-i \"%s\": not seconds from 0 to 3600 "
				    "(digits, at most 9 after a decimal point)", optarg);
			break;
		case 'T': opt.tls = true; break;
		case 'A': opt.ca = optarg; break;
		case 'k': opt.insecure = true; break;
		case 'C': opt.cert = optarg; break;
		case 'K': opt.key = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': version = true; break;
		case ':': return fail(EXIT_USAGE, "option %s needs a value (try tcpx --help)", argv[optind - 1]);
		default:
			/* optopt names a short option, also inside a cluster such as -qz. */
			if (optopt > 0 && optopt != '?')
				return fail(EXIT_USAGE, "unknown option -%c (try tcpx --help)", optopt);
			return fail(EXIT_USAGE, "unknown option %s (try tcpx --help)", argv[optind - 1]);
		}
	}
	while (optind < argc)
		argv[n++] = argv[optind++];     /* after "--" */
	if (version) {
		if (n > 0)
			return fail(EXIT_USAGE, "--version takes no command or argument (try tcpx --help)");
		printf("tcpx %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (n == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!is_command(argv[0]))
		return fail(EXIT_USAGE, "unknown command \"%s\" (try tcpx --help)", argv[0]);
	*count = n;
	return -1;
}

int
main(int argc, char **argv)
{
	const char *cmd;
	int count = 0, rc;

	/* argv[0] is the program; from argv + 1, the operands replace what was parsed. */
	if ((rc = parse_options(argc, argv, &count)) >= 0)
		return rc;
	cmd = argv[0];
	argc = count - 1;
	argv++;
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
