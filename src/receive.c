/*
 * receive.c - one upload per connection.  Bytes are hashed and written to
 * an invisible file as they arrive; at the client's EOF the store makes the
 * file durable and visible, and only then the OK receipt is sent.  Every
 * failure sends "ERR <code> <reason>", leaves nothing in the directory,
 * half-closes, and leaves the socket to drain.c so the reason is read
 * rather than lost to a reset.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "receipt.h"
#include "receive.h"
#include "stats.h"
#include "store.h"
#include "sys.h"

/* Free space is re-checked each time this much more has been written. */
#define SPACE_CHECK_BYTES ((uint64_t)8 << 20)

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
	char line[RECEIPT_MAX];
	size_t len = receipt_err(line, sizeof(line), code, reason);

	c->result = result;
	stats_add(&stats.uploads_failed, 1);
	if (sys_send_all(c->fd, line, len) == 0) {
		c->bytes_out += len;
		c->linger = shutdown(c->fd, SHUT_WR) == 0;
	}
}

static void
reply_storage_error(struct conn *c, int err, const char *what)
{
	if (err == ENOSPC || err == EDQUOT) {
		reply_error(c, 507, "insufficient storage", "refused-disk-full");
		return;
	}
	errno = err;
	log_warn("listener %s: %s", c->lcfg->name, what);
	reply_error(c, 500, "storage error", "refused-storage-error");
}

/* Receives until EOF.  Returns 0 at a clean EOF, -1 after replying or aborting. */
static int
receive_body(struct conn *c, struct upload *up, EVP_MD_CTX *md, char *buf, size_t size)
{
	const struct listener_cfg *l = c->lcfg;
	uint64_t next_space_check = SPACE_CHECK_BYTES;

	for (;;) {
		ssize_t n = sys_recv(c->fd, buf, size);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN && !conn_aborting(c)) {
				reply_error(c, 408, "idle timeout", "aborted-idle");
				return -1;
			}
			stats_add(&stats.uploads_failed, 1);
			if (conn_aborting(c))
				c->result = "aborted-shutdown";
			else
				c->result = errno == ECONNRESET ? "aborted-reset" : "aborted-io-error";
			return -1;
		}
		c->bytes_in += (uint64_t)n;
		if (c->bytes_in > l->max_file_size) {
			reply_error(c, 413, "file exceeds max_file_size", "refused-too-large");
			return -1;
		}
		if (store_write(up, buf, (size_t)n) < 0) {
			reply_storage_error(c, errno, "write");
			return -1;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			reply_error(c, 500, "internal error", "refused-internal-error");
			return -1;
		}
		if (c->bytes_in >= next_space_check) {
			next_space_check = c->bytes_in + SPACE_CHECK_BYTES;
			if (store_low_space(up, l->min_free_space) != 0) {
				reply_error(c, 507, "insufficient storage", "refused-low-space");
				return -1;
			}
		}
	}
	if (conn_aborting(c)) {
		/* shutdown(SHUT_RD) by conn_abort_all() looks like EOF: never publish it. */
		stats_add(&stats.uploads_failed, 1);
		c->result = "aborted-shutdown";
		return -1;
	}
	return 0;
}

void
receive_serve(struct conn *c)
{
	const struct listener_cfg *l = c->lcfg;
	size_t size = (size_t)l->buffer_size;
	unsigned char digest[EVP_MAX_MD_SIZE];
	char line[RECEIPT_MAX];
	struct upload up = { .fd = -1 };
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	size_t len;
	int low;

	if (sys_set_io_timeout(c->fd, l->idle_timeout) < 0) {
		log_warn("receive: setsockopt");
		c->result = "aborted-setup-failed";
		return;
	}
	if ((buf = malloc(size)) == NULL || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, sha256, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		goto out;
	}
	if (store_begin(c->store, &up) < 0) {
		reply_storage_error(c, errno, "cannot create a file");
		goto out;
	}
	if ((low = store_low_space(&up, l->min_free_space)) != 0) {
		if (low < 0)
			reply_storage_error(c, errno, "fstatvfs");
		else
			reply_error(c, 507, "insufficient storage", "refused-low-space");
		goto out;
	}
	if (receive_body(c, &up, md, buf, size) < 0)
		goto out;
	if (EVP_DigestFinal_ex(md, digest, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		goto out;
	}
	if (store_commit(&up, &c->peer, c->stored, sizeof(c->stored)) < 0) {
		c->stored[0] = '\0';
		reply_storage_error(c, errno, "commit");
		goto out;
	}
	/* Durable from here on: a lost receipt cannot undo the upload. */
	stats_add(&stats.uploads_stored, 1);
	c->result = "ok";
	len = receipt_ok(line, sizeof(line), c->bytes_in, digest, c->stored);
	if (sys_send_all(c->fd, line, len) < 0)
		c->result = "ok-receipt-lost";
	else
		c->bytes_out += len;
out:
	if (up.fd >= 0)
		store_abort(&up);
	EVP_MD_CTX_free(md);
	free(buf);
}
