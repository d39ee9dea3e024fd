/* SPDX-License-Identifier: ISC */
/*
 * link.c - tcpx's connection to the daemon: TLS set-up, connecting with a
 * certificate check, closing without a close_notify when an upload is cut
 * short, and the non-blocking sends and bounded waits of every command.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/link.h"
#include "client/report.h"
#include "io/sys.h"
#include "io/tls.h"
#include "wire/hostport.h"

static char tls_alert[64];      /* the last TLS alert the daemon sent, for messages */

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
int
link_tls_setup(struct tcpx_opts *opt)
{
	const char *files[] = { opt->ca, opt->cert, opt->key };
	const char *names[] = { "--ca", "--cert", "--key" };
	char err[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd;

		if (files[i] == NULL)
			continue;
		/* OpenSSL's reason for a missing file is vague: say which file and why. */
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) < 0)
			return report_fail(EXIT_LOCAL, "%s %s: %s", names[i], files[i], strerror(errno));
		sys_close(fd);
	}
	opt->tls_ctx = tls_client_ctx(&(struct tls_client_opts){ .ca = opt->ca,
	    .certificate = opt->cert, .key = opt->key, .insecure = opt->insecure }, err, sizeof(err));
	if (opt->tls_ctx == NULL)
		return report_fail(EXIT_LOCAL, "TLS: %s", err);
	SSL_CTX_set_info_callback(opt->tls_ctx, tls_info);
	return EXIT_OK;
}

/* A handshake that failed for want of a connection, not for what the daemon said or sent. */
static bool
handshake_transient(const char *err)
{
	static const int errs[] = { ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED, ECONNABORTED };

	if (strcmp(err, "handshake timeout") == 0 ||
	    strcmp(err, "peer closed the connection during the handshake") == 0)
		return tls_alert[0] == '\0';
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		if (strcmp(err, strerror(errs[i])) == 0)
			return true;
	}
	return false;
}

/* Connects, and with --tls handshakes and checks the daemon's certificate against host. */
int
link_open(const struct tcpx_opts *opt, const char *arg, struct netio *io, bool *transient)
{
	char host[HOSTPORT_HOST_MAX], err[512];
	const char *why;
	unsigned port;
	bool ignored;

	*io = (struct netio){ .fd = -1 };
	if (transient == NULL)
		transient = &ignored;
	*transient = false;
	if (hostport_parse(arg, host, sizeof(host), &port, &why) < 0)
		return report_fail(EXIT_USAGE, "%s: %s", arg, why);
	io->fd = hostport_connect(host, port, (int)opt->timeout * 1000, opt->timeout, err, sizeof(err));
	if (io->fd < 0) {
		*transient = true;
		return report_fail(EXIT_NETWORK, "%s", err);
	}
	if (opt->tls_ctx != NULL) {
		tls_alert[0] = '\0';
		io->ssl = tls_connect(opt->tls_ctx, io->fd, host,
		    sys_now_ms() + (long long)opt->timeout * 1000, err, sizeof(err));
		if (io->ssl == NULL) {
			sys_close(io->fd);
			io->fd = -1;
			*transient = handshake_transient(err);
			return report_fail(EXIT_NETWORK, "%s: TLS: %s", arg, err);
		}
	}
	return EXIT_OK;
}

/*
 * Closes the connection.  clean: our side ended as it should (with TLS, a
 * close_notify is sent if not yet sent).  Otherwise no close_notify: the
 * daemon must not take a TLS upload cut short for a complete one.
 */
void
link_close(struct netio *io, bool clean)
{
	if (io->ssl != NULL && !clean)
		SSL_set_quiet_shutdown(io->ssl, 1);
	netio_tls_end(io);
	sys_close(io->fd);
	io->fd = -1;
}

const char *
link_io_error(const struct netio *io, int err)
{
	static char text[sizeof(tls_alert) + 64];

	if (err == EAGAIN)
		return "timed out";
	if (err == EPROTO && io->ssl != NULL) {
		snprintf(text, sizeof(text), "TLS: %s%s", tls_alert[0] ? "the daemon sent the alert: " :
		    "protocol error, or the stream ended without close_notify", tls_alert);
		return text;
	}
	return strerror(err);
}

/* ---- sending and receiving without blocking ------------------------------ */

/*
 * While tcpx sends, it also reads: a peer that answers early (an ERR, an
 * echo service) must never leave both sides blocked in send() with full
 * buffers.  So the socket is non-blocking while data moves, and every wait
 * is a poll() bounded by --timeout.
 */
int
link_set_blocking(struct netio *io, bool on)
{
	int flags = fcntl(io->fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(io->fd, F_SETFL, on ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

/* With TLS it is all or none, and after none the next call must pass the same buf and len. */
ssize_t
link_send_some(struct netio *io, const char *buf, size_t len)
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

int
link_wait_io(struct netio *io, short events, struct pollfd *extra, int timeout_ms, short *revents)
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
		n = poll(pfd, 2, buffered ? 0 : timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	*revents = pfd[0].revents | (buffered ? POLLIN : 0);
	if (extra != NULL)
		extra->revents = pfd[1].revents;
	return n > 0 || buffered;
}

/*
 * After the socket turned readable during an upload: true when the daemon
 * has answered before the upload ended (an early ERR), or the connection
 * ended.  TLS records may carry no data (TLS 1.3 session tickets follow the
 * handshake): peek, on the non-blocking socket, to find out.
 */
bool
link_answer_arrived(struct netio *io)
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

ssize_t
link_read_answer(struct netio *io, char *buf, size_t len)
{
	size_t have = 0;

	/* A byte at a time: what follows the line (a receipt after CONTINUE) is the next read's. */
	while (have < len - 1) {
		ssize_t n = netio_recv(io, buf + have, 1);

		if (n < 0)
			return have > 0 ? (ssize_t)have : -1;
		if (n == 0)
			break;
		if (buf[have++] == '\n')
			break;
	}
	buf[have] = '\0';
	return (ssize_t)have;
}
