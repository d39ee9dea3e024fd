/* SPDX-License-Identifier: ISC */
/*
 * receive.c - one upload per connection.  The first bytes decide the
 * protocol (frame.h): the framed signature brings a header with a name and
 * a size, anything else is a raw upload.  Data is hashed and written to an
 * invisible file as it arrives; at the client's EOF the store makes the
 * file durable and visible, and only then the OK receipt is sent.  Every
 * failure sends "ERR <code> <reason>", leaves nothing in the directory,
 * half-closes, and leaves the socket to drain.c so the reason is read
 * rather than lost to a reset.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/services/receive.h"
#include "daemon/services/store.h"
#include "daemon/stats.h"
#include "io/netio.h"
#include "io/sys.h"
#include "wire/frame.h"
#include "wire/receipt.h"

/* Once a header has begun, the rest of it must arrive within this time (or idle_timeout). */
#define HEADER_TIMEOUT_MS 10000

struct upload_state {
	struct upload up;
	EVP_MD_CTX *md;
	char *buf;
	size_t size;            /* of buf */
	size_t pending;         /* data bytes at the start of buf, not yet stored */
	bool framed;
	bool empty;             /* the client closed before sending a byte */
	bool reset;             /* ... and by a reset, not an orderly close */
	struct frame_header hdr;
	uint64_t data;          /* data bytes stored so far */
};

static EVP_MD *sha256;

int
receive_init(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return sha256 != NULL ? 0 : -1;
}

void
receive_fini(void)
{
	EVP_MD_free(sha256);
	sha256 = NULL;
}

/* Answers ERR and records why; nothing was stored.  The socket lingers (drain.h). */
static void
reply_error(struct conn *c, int code, const char *reason, const char *result)
{
	c->result = result;
	stats_add(&stats.uploads_failed, 1);
	c->io.deadline_ms = 0;                  /* the header's, if any: not the answer's */
	conn_send_err(c, code, reason);
}

static void
reply_storage_error(struct conn *c, int err, const char *what)
{
	if (err == ENOSPC || err == EDQUOT) {
		reply_error(c, 507, "insufficient storage", "refused-disk-full");
		return;
	}
	if (err == EEXIST) {
		reply_error(c, 409, "name in use", "refused-name-in-use");
		return;
	}
	errno = err;
	log_warn("listener %s: %s", c->lcfg->name, what);
	reply_error(c, 500, "storage error", "refused-storage-error");
}

/* conn_abort_all() shut the socket: there is no one left to answer. */
static void
aborted_shutdown(struct conn *c)
{
	stats_add(&stats.uploads_failed, 1);
	c->result = "aborted-shutdown";
}

/* A recv() that failed or timed out: answer if there is someone to answer. */
static void
receive_failed(struct conn *c, int err, int timeout_code, const char *timeout_reason)
{
	if (err == EAGAIN && !conn_aborting(c)) {
		reply_error(c, timeout_code, timeout_reason, "aborted-idle");
		return;
	}
	if (conn_aborting(c)) {
		aborted_shutdown(c);
		return;
	}
	stats_add(&stats.uploads_failed, 1);
	if (err == EPROTO)
		c->result = "aborted-tls-error";
	else
		c->result = err == ECONNRESET ? "aborted-reset" : "aborted-io-error";
}

/*
 * Reads until the first bytes say raw or framed.  Returns 0 with s->framed,
 * s->hdr, s->pending and s->empty set, or -1 after replying.
 */
static int
read_header(struct conn *c, struct upload_state *s)
{
	enum listener_protocol proto = c->lcfg->protocol;
	long long deadline = 0;
	size_t have = 0;
	const char *why = NULL;

	/*
	 * Port scans and health checks connect, send nothing and close: reading
	 * first tells them from an upload before a file is created for them.
	 */
	for (;;) {
		enum frame_status st = frame_parse(s->buf, have, &s->hdr, &why);
		ssize_t n;

		if (have > 0 && (proto == PROTO_RAW || st == FRAME_RAW)) {
			if (proto == PROTO_FRAMED) {
				reply_error(c, 400, "bad header: framed header required", "refused-bad-header");
				return -1;
			}
			s->pending = have;
			return 0;
		}
		if (st == FRAME_BAD || st == FRAME_BAD_NAME) {
			char reason[128];

			snprintf(reason, sizeof(reason), "%s: %s",
			    st == FRAME_BAD_NAME ? "bad name" : "bad header", why);
			reply_error(c, 400, reason, "refused-bad-header");
			return -1;
		}
		if (st == FRAME_OK) {
			s->framed = true;
			s->pending = have - s->hdr.length;
			memmove(s->buf, s->buf + s->hdr.length, s->pending);
			return 0;
		}
		if (have > 0) {
			/* A header has begun: it must not take longer than HEADER_TIMEOUT_MS. */
			if (deadline == 0) {
				long long limit = (long long)c->lcfg->idle_timeout * 1000;

				deadline = sys_now_ms() + (limit < HEADER_TIMEOUT_MS ? limit : HEADER_TIMEOUT_MS);
				/* A TLS record can arrive a byte at a time: bound SSL_read's waits too. */
				c->io.deadline_ms = deadline;
			}
			if (sys_now_ms() >= deadline ||
			    (!netio_buffered(&c->io) && sys_wait(c->io.fd, POLLIN, deadline) == 0)) {
				reply_error(c, 408, "header timeout", "aborted-idle");
				return -1;
			}
		}
		n = netio_recv(&c->io, s->buf + have, s->size - have);
		if (n == 0 && conn_aborting(c)) {
			/* shutdown(SHUT_RDWR) by conn_abort_all() looks like EOF: not the client's. */
			aborted_shutdown(c);
			return -1;
		}
		if (have == 0 && (n == 0 || (n < 0 && errno == ECONNRESET && !conn_aborting(c)))) {
			/* Nothing sent: a probe (HAProxy's checks even end with a reset). */
			s->empty = true;
			s->reset = n < 0;
			return 0;
		}
		if (n < 0) {
			/* Over TLS the header's deadline can expire inside SSL_read (netio.h). */
			receive_failed(c, errno, 408, have > 0 ? "header timeout" : "idle timeout");
			return -1;
		}
		if (n == 0) {
			/*
			 * EOF before the header was complete.  A proper prefix of the
			 * signature is raw data in auto mode (it may be a tiny file);
			 * a whole signature means a framed upload that was cut short.
			 */
			if (proto == PROTO_FRAMED || have >= FRAME_SIGNATURE_LEN) {
				reply_error(c, 400, "bad header: incomplete", "refused-bad-header");
				return -1;
			}
			s->pending = have;
			return 0;
		}
		c->bytes_in += (uint64_t)n;
		have += (size_t)n;
	}
}

/*
 * Answers what store_reserve() or store_expect() returned: 0 when the
 * reserve holds, or -1 after answering ERR 507.
 */
static int
reserve_answer(struct conn *c, int rc)
{
	switch (rc) {
	case STORE_RESERVE_OK:
		return 0;
	case STORE_LOW_SPACE:
		reply_error(c, 507, "insufficient storage", "refused-low-space");
		return -1;
	case STORE_LOW_INODES:
		reply_error(c, 507, "insufficient storage", "refused-low-inodes");
		return -1;
	default:
		reply_storage_error(c, errno, "fstatvfs");
		return -1;
	}
}

/* Claims room for the file to grow to size bytes.  0, or -1 after replying. */
static int
reserve(struct conn *c, struct upload_state *s, uint64_t size)
{
	return reserve_answer(c, store_reserve(&s->up, size));
}

/* Stores len data bytes from buf.  0, or -1 after replying. */
static int
store_data(struct conn *c, struct upload_state *s, const char *buf, size_t len)
{
	const struct listener_cfg *l = c->lcfg;

	s->data += len;
	if (s->framed && s->data > s->hdr.size) {
		reply_error(c, 400, "upload longer than declared size", "refused-size-mismatch");
		return -1;
	}
	if (s->data > l->max_file_size) {
		reply_error(c, 413, "file exceeds max_file_size", "refused-too-large");
		return -1;
	}
	if (reserve(c, s, s->data) < 0)
		return -1;
	if (store_write(&s->up, buf, len) < 0) {
		reply_storage_error(c, errno, "write");
		return -1;
	}
	if (EVP_DigestUpdate(s->md, buf, len) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		return -1;
	}
	return 0;
}

/* Receives until EOF.  Returns 0 at a complete upload, -1 after replying or aborting. */
static int
receive_body(struct conn *c, struct upload_state *s)
{
	if (s->pending > 0 && store_data(c, s, s->buf, s->pending) < 0)
		return -1;
	for (;;) {
		ssize_t n = netio_recv(&c->io, s->buf, s->size);

		if (n == 0)
			break;
		if (n < 0) {
			receive_failed(c, errno, 408, "idle timeout");
			return -1;
		}
		c->bytes_in += (uint64_t)n;
		if (store_data(c, s, s->buf, (size_t)n) < 0)
			return -1;
	}
	if (conn_aborting(c)) {
		/* shutdown(SHUT_RDWR) by conn_abort_all() looks like EOF: never publish it. */
		aborted_shutdown(c);
		return -1;
	}
	if (s->framed && s->data < s->hdr.size) {
		reply_error(c, 400, "upload shorter than declared size", "refused-size-mismatch");
		return -1;
	}
	return 0;
}

/*
 * Refuses at once what a framed header asks for and cannot have: more than
 * max_file_size, or a name with no free suffix.  0, or -1 after replying.
 */
static int
check_declared(struct conn *c, struct upload_state *s)
{
	int rc;

	if (!s->framed)
		return 0;
	if (s->hdr.size > c->lcfg->max_file_size) {
		reply_error(c, 413, "declared size exceeds max_file_size", "refused-too-large");
		return -1;
	}
	if ((rc = store_name_free(c->store, s->hdr.name)) <= 0) {
		reply_storage_error(c, rc == 0 ? EEXIST : errno, "cannot look up a name");
		return -1;
	}
	return 0;
}

void
receive_serve(struct conn *c)
{
	const struct listener_cfg *l = c->lcfg;
	struct upload_state s = { .up = { .fd = -1 }, .size = (size_t)l->buffer_size };
	unsigned char digest[EVP_MAX_MD_SIZE];
	char line[RECEIPT_MAX];
	size_t len;
	int rc;

	/* The idle timeout is io.timeout_ms, set by conn_main() from the generation that admitted us. */
	if ((s.buf = malloc(s.size)) == NULL || (s.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s.md, sha256, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		goto out;
	}
	rc = read_header(c, &s);
	c->io.deadline_ms = 0;
	if (rc < 0)
		goto out;
	/*
	 * A health check, or not even a framed header: nothing asked to be
	 * stored, so nothing is answered.  store_empty keeps an orderly close
	 * on a raw-capable listener as a 0-byte upload.
	 */
	if (s.empty && (c->proxy_local || !l->store_empty || s.reset || l->protocol == PROTO_FRAMED)) {
		conn_ended_silent(c);
		goto out;
	}
	if (check_declared(c, &s) < 0)
		goto out;
	if (store_begin(c->store, &s.up) < 0) {
		reply_storage_error(c, errno, "cannot create a file");
		goto out;
	}
	/*
	 * A framed upload's declared size must fit now, but like a raw upload
	 * it claims room only as it arrives: a header alone holds none.
	 */
	if (reserve_answer(c, store_expect(&s.up, s.framed ? s.hdr.size : 0)) < 0 ||
	    receive_body(c, &s) < 0)
		goto out;
	if (EVP_DigestFinal_ex(s.md, digest, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		goto out;
	}
	if (s.framed)
		rc = store_commit_named(&s.up, s.hdr.name, c->stored, sizeof(c->stored));
	else
		rc = store_commit(&s.up, &c->peer, c->stored, sizeof(c->stored));
	if (rc < 0) {
		c->stored[0] = '\0';
		reply_storage_error(c, errno, "commit");
		goto out;
	}
	/* Durable from here on: a lost receipt cannot undo the upload. */
	stats_add(&stats.uploads_stored, 1);
	c->result = "ok";
	len = receipt_ok(line, sizeof(line), s.data, digest, c->stored);
	if (len == 0 || netio_send_all(&c->io, line, len) < 0)
		c->result = "ok-receipt-lost";
	else
		c->bytes_out += len;
out:
	if (s.up.fd >= 0)
		store_abort(&s.up);
	EVP_MD_CTX_free(s.md);
	free(s.buf);
}
