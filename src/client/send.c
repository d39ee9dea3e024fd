/* SPDX-License-Identifier: ISC */
/*
 * send.c - tcpx send: framed (or raw) uploads whose receipt is checked
 * against the size and SHA-256 of what was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "client/link.h"
#include "client/progress.h"
#include "client/report.h"
#include "io/sys.h"
#include "wire/frame.h"
#include "wire/receipt.h"

#define CHUNK (256 * 1024)


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
		return report_fail(EXIT_LOCAL, "cannot spool standard input in %s: %s", dir, strerror(errno));
	*size = 0;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sys_write_all(*fd, buf, (size_t)n) < 0)
			return report_fail(EXIT_LOCAL, "standard input: %s", strerror(errno));
		*size += (unsigned long long)n;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0)
		return report_fail(EXIT_LOCAL, "spool: %s", strerror(errno));
	return EXIT_OK;
}


enum upload_end {
	UPLOAD_SENT,            /* every byte went: half-close and read the receipt */
	UPLOAD_ANSWERED,        /* the daemon spoke first, or the connection broke: read what came */
	UPLOAD_FAILED,          /* tcpx gave up (file, timeout): abandon the upload */
};

struct upload {
	struct netio *io;
	unsigned timeout;       /* seconds, for each wait */
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
		u->rc = report_fail(EXIT_LOCAL, "%s: %s", u->label,
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
		if ((n = link_wait_io(u->io, POLLOUT, NULL, (int)u->timeout * 1000, &revents)) <= 0) {
			u->rc = report_fail(EXIT_NETWORK, "%s: %s while sending", u->label,
			    n == 0 ? "timed out" : strerror(errno));
			return UPLOAD_FAILED;
		}
		if ((revents & (POLLIN | POLLHUP | POLLERR)) && link_answer_arrived(u->io))
			return UPLOAD_ANSWERED;
		if (!(revents & POLLOUT))
			continue;
		if ((k = link_send_some(u->io, chunk + off, len - off)) < 0)
			return UPLOAD_ANSWERED;
		off += (size_t)k;
		if (chunk == u->buf) {
			sent += (unsigned long long)k;
			u->prog->done = sent;
			progress_draw(u->prog, false);
		}
	}
}

static int
check_receipt(const char *label, const char *answer, size_t len, unsigned long long sent,
    const char *hex)
{
	char text[RECEIPT_SHOWN_MAX];
	struct receipt r;

	if (len == 0)
		return report_fail(EXIT_NETWORK, "%s: the daemon closed the connection without a receipt", label);
	if (receipt_parse(answer, len, &r) < 0) {
		char shown[81];
		size_t n = 0;

		/* Whatever came back may be binary: show it safely. */
		for (size_t i = 0; i < len && n < sizeof(shown) - 1; i++)
			shown[n++] = answer[i] >= 0x20 && answer[i] < 0x7f ? answer[i] : '.';
		shown[n] = '\0';
		return report_fail(EXIT_MISMATCH, "%s: the answer is not a receipt: %s", label, shown);
	}
	/* The daemon chose these bytes: nothing in them may steer the terminal. */
	receipt_text_shown(r.text, text, sizeof(text));
	if (!r.ok)
		return report_fail(EXIT_REFUSED, "%s: refused: ERR %d %s", label, r.code, text);
	if (r.bytes != sent || strcmp(r.sha256, hex) != 0)
		return report_fail(EXIT_MISMATCH, "%s: receipt does not match what was sent: "
		    "sent %llu bytes sha256:%s, daemon stored %llu bytes sha256:%s as %s",
		    label, sent, hex, r.bytes, r.sha256, text);
	printf("%s -> %s (%llu bytes, sha256:%s)\n", label, text, r.bytes, r.sha256);
	return EXIT_OK;
}

/* Uploads path (shown as label) to target: an exit status. */
static int
send_one(const struct tcpx_opts *opt, const char *path, const char *label, const char *target)
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
		if (!opt->raw && opt->name == NULL)
			return report_fail(EXIT_USAGE, "sending standard input needs --name NAME (or --raw)");
		off_t at;

		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
		    (at = lseek(STDIN_FILENO, 0, SEEK_CUR)) >= 0 && at <= st.st_size) {
			/* Sent from where standard input stands, as cat would. */
			file = dup(STDIN_FILENO);
			size = (unsigned long long)(st.st_size - at);
		} else if ((rc = spool_stdin(&file, &size)) != EXIT_OK) {
			goto out;
		}
		base = opt->name ? opt->name : "stdin";
	} else {
		if ((file = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(file, &st) < 0) {
			rc = report_fail(EXIT_LOCAL, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = report_fail(EXIT_LOCAL, "%s: not a regular file", path);
			goto out;
		}
		size = (unsigned long long)st.st_size;
		base = opt->name ? opt->name : path;
	}
	if (!opt->raw && frame_name_sanitise(base, strlen(base), clean, &why) < 0) {
		rc = report_fail(EXIT_USAGE, "%s: the daemon would refuse this name: %s%s", label, why,
		    opt->name ? "" : " (give another with --name)");
		goto out;
	}
	if ((buf = malloc(CHUNK)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = report_fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	if (!opt->raw && (hlen = frame_header_format(header, sizeof(header), size, clean)) == 0) {
		rc = report_fail(EXIT_USAGE, "%s: header too long", label);
		goto out;
	}
	if ((rc = link_open(opt, target, &io)) != EXIT_OK)
		goto out;
	/*
	 * Abnormal ends of an upload reset the connection: a raw upload that
	 * ended with a FIN would be stored as complete.  Armed from the
	 * connection on, so that even a tcpx killed by a signal resets, and
	 * disarmed only once the upload has ended as it should.
	 */
	sys_reset_on_close(io.fd, true);
	prog = (struct progress){ .on = !opt->quiet && isatty(STDERR_FILENO), .label = label,
	    .total = size, .start_ms = sys_now_ms() };
	up = (struct upload){ .io = &io, .timeout = opt->timeout, .label = label, .file = file,
	    .size = size, .md = md, .prog = &prog, .buf = buf };
	if (link_set_blocking(&io, false) < 0) {
		rc = report_fail(EXIT_LOCAL, "%s: %s", label, strerror(errno));
		goto out;
	}
	end = upload_send(&up, header, hlen);
	if (link_set_blocking(&io, true) < 0 && end != UPLOAD_FAILED) {
		up.rc = report_fail(EXIT_LOCAL, "%s: %s", label, strerror(errno));
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
	got = link_read_answer(&io, answer, sizeof(answer));
	if (got < 0) {
		rc = report_fail(EXIT_NETWORK, "%s: no receipt: %s", label, link_io_error(&io, errno));
		goto out;
	}
	/* Bytes that came back are the answer, receipt or not, whatever became of the connection. */
	if (got == 0 && end == UPLOAD_ANSWERED) {
		rc = report_fail(EXIT_NETWORK, "%s: connection lost while sending", label);
		goto out;
	}
	/* tcpxd stores no file for a connection that sent no byte, unless store_empty = true. */
	if (got == 0 && opt->raw && size == 0) {
		rc = report_fail(EXIT_REFUSED, "%s: nothing stored: a raw upload of 0 bytes is an empty "
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
	link_close(&io, ended);
	return rc;
}

int
send_cmd(const struct tcpx_opts *opt, int argc, char **argv)
{
	int rc = EXIT_OK;

	if (argc < 2)
		return report_fail(EXIT_USAGE, "send: need FILE... HOST:PORT");
	if (opt->name != NULL && argc > 2)
		return report_fail(EXIT_USAGE, "send: --name applies to a single file");
	for (int i = 0; i < argc - 1; i++) {
		const char *given = strcmp(argv[i], "-") == 0 ? (opt->name ? opt->name : "stdin") : argv[i];
		size_t room = strlen(given) * 4 + 1;
		char *label = malloc(room);
		int one;

		if (label == NULL)
			return report_fail(EXIT_LOCAL, "out of memory");
		/* A path from a listing (tcpx send *) can hold terminal escapes too. */
		receipt_text_shown(given, label, room);
		one = send_one(opt, argv[i], label, argv[argc - 1]);
		free(label);

		if (rc == EXIT_OK)
			rc = one;
	}
	return rc;
}
