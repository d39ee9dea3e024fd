/* SPDX-License-Identifier: ISC */
/*
 * upload.c - one file over an open connection.  While tcpx sends, it also
 * reads: an answer that comes early (an ERR, an echo service) stops the
 * upload at once and is read as the answer, so that neither side can stay
 * blocked with full buffers.  Version 2 ends by size: after the last byte
 * tcpx reads the answer without half-closing, and the connection can
 * carry the next file.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/link.h"
#include "client/report.h"
#include "client/upload.h"
#include "io/sys.h"

enum send_end {
	SEND_DONE,              /* every byte went */
	SEND_ANSWERED,          /* the daemon spoke first, or the connection broke: read what came */
	SEND_FAILED,            /* outcome and its details are set */
};

/* The next piece of the file into u->buf: its length, or 0 after failing. */
static size_t
read_piece(struct upload *u, unsigned long long sent)
{
	unsigned long long left = u->in->size - sent;
	ssize_t n;

	do
		n = read(u->in->fd, u->buf, left < u->buflen ? (size_t)left : u->buflen);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		u->rc = report_fail(EXIT_LOCAL, "%s: %s", u->in->label,
		    n < 0 ? strerror(errno) : "file shrank while sending");
		return 0;
	}
	/* A file that grows meanwhile is sent as long as the header declared. */
	if (u->md != NULL)
		EVP_DigestUpdate(u->md, u->buf, (size_t)n);
	return (size_t)n;
}

/*
 * Sends header (hlen bytes, maybe none), then the file from byte sent to
 * its size, on the non-blocking socket, watching for an early answer.
 */
static enum send_end
send_range(struct upload *u, const char *header, size_t hlen, unsigned long long sent,
    enum upload_outcome *outcome)
{
	const char *chunk = header;
	size_t off = 0, len = hlen;

	for (;;) {
		short revents = 0;
		ssize_t k;
		int n;

		if (off == len) {
			if (sent == u->in->size)
				return SEND_DONE;
			if ((len = read_piece(u, sent)) == 0) {
				*outcome = UPLOAD_FAILED;
				return SEND_FAILED;
			}
			chunk = u->buf;
			off = 0;
		}
		if ((n = link_wait_io(u->io, POLLOUT, NULL, (int)u->timeout * 1000, &revents)) <= 0) {
			snprintf(u->why, sizeof(u->why), "%s while sending",
			    n == 0 ? "timed out" : strerror(errno));
			*outcome = UPLOAD_BROKEN;
			return SEND_FAILED;
		}
		if ((revents & (POLLIN | POLLHUP | POLLERR)) && link_answer_arrived(u->io))
			return SEND_ANSWERED;
		if (!(revents & POLLOUT))
			continue;
		if ((k = link_send_some(u->io, chunk + off, len - off)) < 0)
			return SEND_ANSWERED;
		off += (size_t)k;
		if (chunk == u->buf) {
			sent += (unsigned long long)k;
			u->prog->done = sent;
			progress_draw(u->prog, false);
		}
	}
}

/* send_range() on the socket made non-blocking for the while. */
static enum send_end
send_nonblocking(struct upload *u, const char *header, size_t hlen, unsigned long long sent,
    enum upload_outcome *outcome)
{
	enum send_end end;

	if (link_set_blocking(u->io, false) < 0) {
		u->rc = report_fail(EXIT_LOCAL, "%s: %s", u->in->label, strerror(errno));
		*outcome = UPLOAD_FAILED;
		return SEND_FAILED;
	}
	end = send_range(u, header, hlen, sent, outcome);
	if (link_set_blocking(u->io, true) < 0 && end != SEND_FAILED) {
		u->rc = report_fail(EXIT_LOCAL, "%s: %s", u->in->label, strerror(errno));
		*outcome = UPLOAD_FAILED;
		return SEND_FAILED;
	}
	return end;
}

/*
 * Reads one line into u->answer: true, or false with the outcome of a
 * connection that ended (closed: what to say) or failed first.  A TLS
 * error is final; the rest is worth a retry.
 */
static bool
read_line(struct upload *u, const char *what, const char *closed, enum upload_outcome *outcome)
{
	ssize_t got = link_read_answer(u->io, u->answer, sizeof(u->answer));

	if (got > 0) {
		u->answer_len = (size_t)got;
		return true;
	}
	if (got < 0 && errno == EPROTO) {
		u->rc = report_fail(EXIT_NETWORK, "%s: no %s: %s", u->in->label, what,
		    link_io_error(u->io, errno));
		*outcome = UPLOAD_FAILED;
	} else if (got == 0 && u->ended && u->in->size == 0) {
		/* tcpxd stores no file for a connection that sent no byte, unless store_empty = true. */
		u->rc = report_fail(EXIT_REFUSED, "%s: nothing stored: a raw upload of 0 bytes is an "
		    "empty connection to the daemon (stored only where store_empty = true); send it "
		    "without --raw", u->in->label);
		*outcome = UPLOAD_FAILED;
	} else if (got < 0) {
		snprintf(u->why, sizeof(u->why), "no %s: %s", what, link_io_error(u->io, errno));
		*outcome = UPLOAD_BROKEN;
	} else {
		snprintf(u->why, sizeof(u->why), "%s", closed);
		*outcome = UPLOAD_BROKEN;
	}
	return false;
}

/* A resumable upload: the header, then CONTINUE (or an answer), then a seek to its offset. */
static bool
resume_at_offset(struct upload *u, enum upload_outcome *outcome)
{
	uint64_t offset;

	if (send_nonblocking(u, u->header, u->hlen, u->in->size, outcome) == SEND_FAILED)
		return false;
	if (!read_line(u, "answer to the header",
	    "the daemon closed the connection without an answer to the header", outcome))
		return false;
	if (receipt_parse_continue(u->answer, u->answer_len, &offset) < 0) {
		*outcome = UPLOAD_ANSWER;       /* an ERR, or not an answer at all */
		return false;
	}
	if (offset > u->in->size) {
		u->rc = report_fail(EXIT_MISMATCH, "%s: the daemon holds %llu bytes of a %llu-byte file",
		    u->in->label, (unsigned long long)offset, u->in->size);
		*outcome = UPLOAD_FAILED;
		return false;
	}
	if (input_seek(u->in, offset) < 0) {
		u->rc = report_fail(EXIT_LOCAL, "%s: %s", u->in->label, strerror(errno));
		*outcome = UPLOAD_FAILED;
		return false;
	}
	u->offset = offset;
	u->answer_len = 0;
	return true;
}

enum upload_outcome
upload_run(struct upload *u)
{
	enum upload_outcome outcome = UPLOAD_ANSWER;
	enum send_end end;

	u->offset = 0;
	u->ended = false;
	u->answer_len = 0;
	if (u->resumable && !resume_at_offset(u, &outcome))
		return outcome;
	u->prog->done = u->prog->base = u->offset;
	u->prog->start_ms = sys_now_ms();
	end = u->resumable ? send_nonblocking(u, NULL, 0, u->offset, &outcome) :
	    send_nonblocking(u, u->header, u->hlen, 0, &outcome);
	if (end == SEND_FAILED)
		return outcome;
	if (end == SEND_DONE) {
		progress_draw(u->prog, true);
		/* Raw: the half-close ends the file (with TLS, close_notify: a raw upload needs one). */
		if (u->raw && netio_shutdown_wr(u->io) == 0)
			u->ended = true;
	}
	if (!read_line(u, "receipt", end == SEND_ANSWERED ? "connection lost while sending" :
	    "the daemon closed the connection without a receipt", &outcome))
		return outcome;
	return UPLOAD_ANSWER;
}
