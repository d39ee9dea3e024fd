/* SPDX-License-Identifier: ISC */
/*
 * receive.c - uploads.  The first bytes decide the protocol (frame.h):
 * the framed signature brings a header with a name and a size, anything
 * else is a raw upload.  Data is hashed and written to an invisible file
 * as it arrives; at its end (the client's EOF, or in framed version 2 its
 * declared size) the store makes the file durable and visible, and only
 * then the OK receipt is sent.  Version 2 checks a declared digest before
 * that, and may be followed by the next file's header on the same
 * connection.  Every failure sends "ERR <code> <reason>", leaves nothing in
 * the directory, half-closes, and leaves the socket to drain.c so the
 * reason is read rather than lost to a reset.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/identity.h"
#include "daemon/log.h"
#include "daemon/services/hasher.h"
#include "daemon/services/hook.h"
#include "daemon/services/partial.h"
#include "daemon/services/quota.h"
#include "daemon/services/receive.h"
#include "daemon/services/retention.h"
#include "daemon/services/session.h"
#include "daemon/services/store.h"
#include "daemon/stats.h"
#include "io/netio.h"
#include "io/sys.h"
#include "wire/addr.h"
#include "wire/auth.h"
#include "wire/frame.h"
#include "wire/nvt.h"
#include "wire/receipt.h"

/* Once a header has begun, the rest of it must arrive within this time (or idle_timeout). */
#define HEADER_TIMEOUT_MS 10000
/* A resumable upload is made durable at least this often, for a crash that gives no warning. */
#define CHECKPOINT_BYTES ((uint64_t)64 << 20)
/*
 * A file is hashed on a second thread (hasher.h) once this much of it
 * arrived on this connection: a thread's start costs tens of microseconds,
 * nothing next to the milliseconds 4 MiB take, and the small files most
 * uploads are never pay it.  Decided on what arrived, not on a declared
 * size, so raw uploads gain too and a header cannot claim a thread with
 * nothing behind it.
 */
#define PARALLEL_AFTER ((uint64_t)4 << 20)

struct upload_state {
	struct upload up;
	EVP_MD_CTX *md;
	struct hasher *hasher;  /* hashing the file on a second thread, or NULL: inline */
	uint64_t inline_from;   /* file offset at which this connection began the file */
	bool hash_decided;      /* whether to hash on a second thread was decided */
	char *buf;
	size_t size;            /* of buf */
	size_t pending;         /* data bytes at the start of buf, not yet stored */
	bool framed;
	bool auth;              /* the connection's AUTH line was read */
	bool nvt;               /* a telnet client: every byte is decoded (nvt.h) */
	struct nvt nvt_state;
	bool next;              /* reading a version 2 header after an answered file */
	bool park;              /* ... or the first header, and idle there for park_after */
	bool ended;             /* ... and the client half-closed or went idle instead */
	bool empty;             /* the client closed before sending a byte */
	bool reset;             /* ... and by a reset, not an orderly close */
	struct frame_header hdr;
	uint64_t data;          /* data bytes stored so far */
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned files;         /* files answered OK on this connection */
	struct partial *partial;        /* a resumable upload's, while this file is received */
	uint64_t next_checkpoint;       /* data bytes at which the partial is made durable */
	bool superseded;                /* a newer connection took the upload over */
	struct quota_hold quota;        /* what this file holds of its identity's quota */
	long long file_start_ms;
};

static EVP_MD *sha256;

int
receive_init(void)
{
	hasher_init();
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
reply_error(struct session *c, int code, const char *reason, const char *result)
{
	c->result = result;
	stats_add(&stats.uploads_failed, 1);
	c->io.deadline_ms = 0;                  /* the header's, if any: not the answer's */
	session_send_err(c, code, reason);
}

/* A missing or refused credential: ERR 401, after the delay its network earned. */
static void
unauthorized(struct session *c)
{
	stats_add(&stats.uploads_failed, 1);
	c->io.deadline_ms = 0;
	session_unauthorized(c);
}

/*
 * A record of the store's, logged here because the store does not know the
 * client: event, the connection's fields, then the event's own (fields).
 */
static void
store_warning(const struct session *c, const char *event, const char *fields)
{
	char listener[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX];
	char client[SESSION_CLIENT_FIELD_MAX];

	addr_format(&c->peer, peer, sizeof(peer));
	session_client_field(c, client, sizeof(client));
	log_warnx("%s listener=%s peer=%s port=%u%s %s", event,
	    log_value(listener, sizeof(listener), c->lcfg->name), peer, c->peer_port, client, fields);
}

/* A name a failed commit linked and could not take back (store.h). */
static void
log_unremoved(const struct session *c, const struct upload *up)
{
	char n[LOG_VALUE_MAX(STORE_NAME_MAX)], e[LOG_VALUE_MAX(sizeof(up->unremoved_error))];
	char fields[sizeof(n) + sizeof(e) + 48];

	snprintf(fields, sizeof(fields), "name=%s why=directory-fsync-failed error=%s",
	    log_value(n, sizeof(n), up->unremoved), log_value(e, sizeof(e), up->unremoved_error));
	store_warning(c, "store-unremoved", fields);
}

static void
reply_storage_error(struct session *c, int err, const char *what)
{
	char w[LOG_VALUE_MAX(64)], e[LOG_VALUE_MAX(64)], fields[2 * LOG_VALUE_MAX(64) + 16];

	if (err == ENOSPC || err == EDQUOT) {
		reply_error(c, 507, "insufficient storage", "refused-disk-full");
		return;
	}
	if (err == EEXIST) {
		reply_error(c, 409, "name in use", "refused-name-in-use");
		return;
	}
	snprintf(fields, sizeof(fields), "op=%s error=%s", log_value(w, sizeof(w), what),
	    log_value(e, sizeof(e), strerror(err)));
	store_warning(c, "store-error", fields);
	reply_error(c, 500, "storage error", "refused-storage-error");
}

/* The daemon is stopping and shut the socket: there is no one left to answer. */
static void
aborted_shutdown(struct session *c)
{
	stats_add(&stats.uploads_failed, 1);
	c->result = "aborted-shutdown";
}

/* A recv() that failed or timed out: answer if there is someone to answer. */
static void
receive_failed(struct session *c, int err, int timeout_code, const char *timeout_reason)
{
	if (err == EAGAIN && !session_aborting(c)) {
		reply_error(c, timeout_code, timeout_reason, "aborted-idle");
		return;
	}
	if (session_aborting(c)) {
		aborted_shutdown(c);
		return;
	}
	stats_add(&stats.uploads_failed, 1);
	if (err == EPROTO)
		c->result = "aborted-tls-error";
	else
		c->result = err == ECONNRESET ? "aborted-reset" : "aborted-io-error";
}

/* What a parked connection keeps of its upload_state (session.h park_state). */
#define PARKED_BETWEEN_FILES 1u /* version 2, after an answered file */
#define PARKED_AUTH 2u
#define PARKED_NVT 4u

/*
 * session_recv(), counted, and decoded when the client is a telnet client.
 * Returns 0 only at the client's EOF (negotiation alone is read past).
 * boundary: nothing of a header has arrived, so the connection may park
 * there (-1 with ETIME, session.h).
 */
static ssize_t
recv_data(struct session *c, struct upload_state *s, char *buf, size_t len, bool boundary)
{
	for (;;) {
		/* A CR held from the last read may come out before these bytes (nvt.h). */
		ssize_t n = boundary && (!s->nvt || s->nvt_state.state == NVT_DATA)
		    ? session_recv_boundary(c, buf + s->nvt, len - s->nvt)
		    : session_recv(c, buf + s->nvt, len - s->nvt);

		if (n <= 0)
			return n;
		c->bytes_in += (uint64_t)n;
		metrics_bytes_in(c->metrics, (uint64_t)n);
		if (!s->nvt)
			return n;
		if ((n = (ssize_t)nvt_decode(&s->nvt_state, buf, buf + 1, (size_t)n)) > 0)
			return n;
	}
}

/*
 * Whether the first bytes are the signature as a telnet client sends it
 * (nvt.h): then from here on every byte is decoded, those already read
 * first.  Returns false while they could still be either.
 */
static bool
telnet_detected(struct upload_state *s, size_t *have)
{
	if (*have <= FRAME_SIGNATURE_LEN - 2 || !nvt_signature_prefix(s->buf, *have))
		return false;
	if (*have >= NVT_SIGNATURE_LEN) {
		/* Nothing is held at the start: the output never gets ahead of the input. */
		s->nvt = true;
		*have = nvt_decode(&s->nvt_state, s->buf, s->buf, *have);
	}
	return true;
}

/*
 * The connection ended, by an orderly close or a reset, or went idle, before
 * the first byte of a header.  On a first header that is an empty
 * connection (s->empty); after an answered version 2 file it is the
 * normal end of the connection (s->ended).
 */
static void
no_header(struct upload_state *s, bool reset)
{
	if (s->next) {
		s->ended = true;
		return;
	}
	s->empty = true;
	s->reset = reset;
}

/* A header that frame_parse() accepted, but not here: 0, or -1 after replying. */
static int
header_allowed(struct session *c, struct upload_state *s)
{
	/* Version 1 ends at the client's EOF: it cannot follow a file on the same connection. */
	if (s->next && s->hdr.version != 2) {
		reply_error(c, 400, "bad header: unsupported header version", "refused-bad-header");
		return -1;
	}
	return 0;
}

/*
 * The AUTH line that may follow the signature of the connection's first
 * header (wire/auth.h): checked as soon as it is complete, then taken out
 * of the buffer so that the header follows the signature as usual.
 * Returns 0 to go on (no AUTH line, or one that was accepted), 1 to read
 * more, or -1 after replying.
 */
static int
auth_line(struct session *c, struct upload_state *s, size_t *have)
{
	const struct identity_cfg *id;
	const char *token, *why;
	size_t token_len, line_len;
	enum auth_status st;

	if (*have <= FRAME_SIGNATURE_LEN || memcmp(s->buf, FRAME_SIGNATURE, FRAME_SIGNATURE_LEN) != 0)
		return 0;
	st = auth_parse(s->buf + FRAME_SIGNATURE_LEN, *have - FRAME_SIGNATURE_LEN, &token,
	    &token_len, &line_len, &why);
	if (st == AUTH_NONE)
		return 0;
	if (s->next || s->auth) {
		reply_error(c, 400, "bad header: AUTH only once, before the first header",
		    "refused-bad-header");
		return -1;
	}
	if (st == AUTH_NEED_MORE)
		return 1;
	if (st == AUTH_BAD) {
		char reason[128];

		snprintf(reason, sizeof(reason), "bad header: %s", why);
		reply_error(c, 400, reason, "refused-bad-header");
		return -1;
	}
	s->auth = true;
	id = identity_by_token(c->lcfg, token, token_len);
	/* The token goes from memory as soon as it has been looked at. */
	OPENSSL_cleanse(s->buf + FRAME_SIGNATURE_LEN, line_len);
	memmove(s->buf + FRAME_SIGNATURE_LEN, s->buf + FRAME_SIGNATURE_LEN + line_len,
	    *have - FRAME_SIGNATURE_LEN - line_len);
	*have -= line_len;
	/* A certificate names the client first: a token must then be that identity's. */
	if (id == NULL || (c->identity_by == IDENTITY_CERTIFICATE && c->identity != id)) {
		unauthorized(c);
		return -1;
	}
	if (session_identify(c, id, IDENTITY_TOKEN) < 0) {
		reply_error(c, 503, "busy: max_connections", "refused-busy");
		return -1;
	}
	return 0;
}

/*
 * Reads until the first bytes say raw or framed; s->pending bytes may be
 * there already (what followed the previous file).  Returns 0 with
 * s->framed, s->hdr, s->pending and s->empty or s->ended set, or -1 after
 * replying.
 */
static int
read_header(struct session *c, struct upload_state *s)
{
	enum listener_protocol proto = s->next ? PROTO_FRAMED : c->lcfg->protocol;
	long long deadline = 0;
	size_t have = s->pending;
	const char *why = NULL;

	/*
	 * Port scans and health checks connect, send nothing and close: reading
	 * first tells them from an upload before a file is created for them.
	 */
	for (;;) {
		enum frame_status st;
		ssize_t n;
		int auth = 0;

		if (proto != PROTO_RAW && !s->nvt && telnet_detected(s, &have) && !s->nvt)
			st = FRAME_NEED_MORE;
		else if (proto != PROTO_RAW && (auth = auth_line(c, s, &have)) < 0)
			return -1;
		else if (auth > 0)
			st = FRAME_NEED_MORE;
		else
			st = frame_parse(s->buf, have, &s->hdr, &why);

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
			return header_allowed(c, s);
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
		n = recv_data(c, s, s->buf + have, s->size - have, have == 0);
		if (n < 0 && errno == ETIME) {
			s->park = true;
			return 0;
		}
		if (n == 0 && session_aborting(c)) {
			/* shutdown(SHUT_RDWR) at a stop looks like EOF: not the client's. */
			aborted_shutdown(c);
			return -1;
		}
		if (have == 0 && (n == 0 || (n < 0 && errno == ECONNRESET && !session_aborting(c)))) {
			/* Nothing sent: a probe (HAProxy's checks even end with a reset). */
			no_header(s, n < 0);
			return 0;
		}
		if (have == 0 && n < 0 && s->next && !session_aborting(c)) {
			/*
			 * Idle between files, or a TLS stream cut there without
			 * close_notify: nothing is in flight, so nothing is lost or answered.
			 */
			no_header(s, false);
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
		have += (size_t)n;
	}
}

/*
 * Answers what store_reserve() or store_expect() returned: 0 when the
 * reserve holds, or -1 after answering ERR 507.
 */
static int
reserve_answer(struct session *c, int rc)
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
reserve(struct session *c, struct upload_state *s, uint64_t size)
{
	return reserve_answer(c, store_reserve(&s->up, size));
}

/*
 * Once a file is large enough to gain, hands its hashing over to a second
 * thread: from the file's offset now on (the bytes before are in s->md
 * already, a resumed partial's held ones first), so the digest covers the
 * file in order.  At the limit of hasher.h, or lacking a thread or memory,
 * the file stays hashed inline, as small files always are.
 */
static void
decide_hasher(struct session *c, struct upload_state *s)
{
	char listener[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX];
	char client[SESSION_CLIENT_FIELD_MAX];

	if (s->hash_decided || s->up.written - s->inline_from < PARALLEL_AFTER)
		return;
	s->hash_decided = true;
	s->hasher = hasher_start(s->up.fd, s->md, s->up.written);
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	addr_format(&c->peer, peer, sizeof(peer));
	session_client_field(c, client, sizeof(client));
	log_debug("hash listener=%s peer=%s port=%u%s file_no=%u bytes=%llu thread=%s",
	    log_value(listener, sizeof(listener), c->lcfg->name), peer, c->peer_port, client, s->files + 1,
	    (unsigned long long)s->data, s->hasher != NULL ? "yes" : "no");
}

/* Hashes len bytes just written from buf, or lets the hasher read them.  0, or -1. */
static int
hash_data(struct session *c, struct upload_state *s, const char *buf, size_t len)
{
	if (s->hasher != NULL) {
		hasher_feed(s->hasher, s->up.written);
		return 0;
	}
	if (EVP_DigestUpdate(s->md, buf, len) != 1)
		return -1;
	decide_hasher(c, s);
	return 0;
}

/* Ends a hasher that is not needed any more: the file failed, or is about to be closed. */
static void
hash_cancel(struct upload_state *s)
{
	if (s->hasher != NULL) {
		hasher_cancel(s->hasher);
		s->hasher = NULL;
	}
}

/* Stores len data bytes from buf.  0, or -1 after replying. */
static int
store_data(struct session *c, struct upload_state *s, const char *buf, size_t len)
{
	const struct listener_cfg *l = c->lcfg;
	uint64_t total = s->data + len;

	if (s->framed && total > s->hdr.size) {
		reply_error(c, 400, "upload longer than declared size", "refused-size-mismatch");
		return -1;
	}
	if (total > l->max_file_size) {
		reply_error(c, 413, "file exceeds max_file_size", "refused-too-large");
		return -1;
	}
	/* A framed upload reserved its declared size; a raw one is charged as it arrives. */
	if (quota_grow(&s->quota, total) < 0) {
		reply_error(c, 507, "quota exceeded", "refused-quota");
		return -1;
	}
	if (reserve(c, s, total) < 0)
		return -1;
	if (store_write(&s->up, buf, len) < 0) {
		reply_storage_error(c, errno, "write");
		return -1;
	}
	/* Counted once stored: the log's bytes= is what the file holds. */
	s->data = total;
	if (hash_data(c, s, buf, len) < 0) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		return -1;
	}
	if (s->partial != NULL && s->up.written >= s->next_checkpoint) {
		/* A failed fsync gives the partial up (partial_end()); a failed record keeps the last. */
		if (partial_checkpoint(s->partial, s->up.fd, s->up.written) < 0) {
			reply_storage_error(c, errno, "partial upload checkpoint");
			return -1;
		}
		s->next_checkpoint = s->up.written + CHECKPOINT_BYTES;
	}
	return 0;
}

static int body_ended(struct session *c, struct upload_state *s);
static void end_partial(struct upload_state *s, bool keep);

/* Receives until EOF.  Returns 0 at a complete upload, -1 after replying or aborting. */
static int
receive_body(struct session *c, struct upload_state *s)
{
	if (s->pending > 0 && store_data(c, s, s->buf, s->pending) < 0)
		return -1;
	s->pending = 0;
	for (;;) {
		ssize_t n = recv_data(c, s, s->buf, s->size, false);

		if (n == 0)
			break;
		if (n < 0) {
			receive_failed(c, errno, 408, "idle timeout");
			return -1;
		}
		if (store_data(c, s, s->buf, (size_t)n) < 0)
			return -1;
	}
	return body_ended(c, s);
}

/* The client's EOF before the declared size, or the stop's shutdown.  Returns -1. */
static int
body_ended(struct session *c, struct upload_state *s)
{
	if (session_aborting(c)) {
		/* shutdown(SHUT_RDWR) at a stop looks like EOF: never publish it. */
		aborted_shutdown(c);
		return -1;
	}
	if (s->framed && s->data < s->hdr.size) {
		/* Durable before the client hears of it: it may come back at once to resume. */
		end_partial(s, true);
		if (s->superseded) {
			/* A newer connection took the upload over and shut this one: no one to answer. */
			stats_add(&stats.uploads_failed, 1);
			c->result = "aborted-resumed-elsewhere";
			return -1;
		}
		reply_error(c, 400, "upload shorter than declared size", "refused-size-mismatch");
		return -1;
	}
	return 0;
}

/*
 * Stores the data bytes at the start of buf (n of them) up to the declared
 * size; what follows is the next header, kept in s->pending.  0, or -1
 * after replying.
 */
static int
store_sized(struct session *c, struct upload_state *s, size_t n)
{
	uint64_t left = s->hdr.size - s->data;
	size_t take = left < n ? (size_t)left : n;

	if (take > 0 && store_data(c, s, s->buf, take) < 0)
		return -1;
	s->pending = n - take;
	memmove(s->buf, s->buf + take, s->pending);
	return 0;
}

/*
 * Version 2: receives exactly the declared size, without waiting for an
 * EOF.  0 at a complete upload, -1 after replying or aborting.
 */
static int
receive_body_sized(struct session *c, struct upload_state *s)
{
	if (store_sized(c, s, s->pending) < 0)
		return -1;
	while (s->data < s->hdr.size) {
		ssize_t n = recv_data(c, s, s->buf, s->size, false);

		if (n == 0)
			return body_ended(c, s);
		if (n < 0) {
			receive_failed(c, errno, 408, "idle timeout");
			return -1;
		}
		if (store_sized(c, s, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/*
 * Refuses at once what a framed header asks for and cannot have: more than
 * max_file_size, or a name with no free suffix.  0, or -1 after replying.
 */
static int
check_declared(struct session *c, struct upload_state *s)
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

/*
 * Reserves the file, and a framed upload's declared size, against the
 * identity's quota before any data: a header that cannot fit is refused
 * before its body.  0, or -1 after replying.
 */
static int
begin_quota(struct session *c, struct upload_state *s)
{
	struct quota *q;

	if (c->identity == NULL || (q = quota_find(c->identity->name)) == NULL)
		return 0;
	if (quota_begin(q, &s->quota, s->framed ? s->hdr.size : 0) < 0) {
		reply_error(c, 507, "quota exceeded", "refused-quota");
		return -1;
	}
	return 0;
}

/* The file is stored: it counts in its directory from now on, no longer as a reservation. */
static void
commit_quota(struct session *c, struct upload_state *s)
{
	char dir[PATH_MAX];

	if (s->quota.q == NULL)
		return;
	quota_dir(dir, sizeof(dir), c->lcfg->output_dir, c->identity->subdir);
	quota_commit(&s->quota, dir, c->stored);
}

/* Whether the SHA-256 of what arrived is the one a version 2 header declared. */
static bool
digest_matches(const struct upload_state *s)
{
	return !s->hdr.has_digest || memcmp(s->digest, s->hdr.digest, FRAME_DIGEST_LEN) == 0;
}

/* "sha256:<hex>" of a digest. */
static void
digest_text(char *buf, size_t len, const unsigned char *digest)
{
	size_t at = (size_t)snprintf(buf, len, "sha256:");

	for (size_t i = 0; i < FRAME_DIGEST_LEN && at + 2 < len; i++, at += 2)
		snprintf(buf + at, len - at, "%02x", digest[i]);
}

/*
 * The log line of one file of a version 2 connection (the connection gets
 * its own line too, from conn.c).
 */
static void
log_file(const struct session *c, const struct upload_state *s)
{
	char listener[LOG_VALUE_MAX(LISTENER_NAME_MAX)], peer[ADDR_TEXT_MAX];
	char value[LOG_VALUE_MAX(STORE_NAME_MAX)], name[LOG_VALUE_MAX(FRAME_NAME_MAX) + 8] = "";
	char stored[LOG_VALUE_MAX(STORE_NAME_MAX) + 16] = "";
	char declared[96] = "", received[96] = "", digests[200] = "";
	char client[SESSION_CLIENT_FIELD_MAX];

	if (!log_enabled(LOG_LVL_INFO))
		return;
	addr_format(&c->peer, peer, sizeof(peer));
	/* A header refused before its name was read names no file. */
	if (s->hdr.name[0] != '\0')
		snprintf(name, sizeof(name), " name=%s", log_value(value, sizeof(value), s->hdr.name));
	if (c->stored[0] != '\0')
		snprintf(stored, sizeof(stored), " stored=%s",
		    log_value(value, sizeof(value), c->stored));
	if (!digest_matches(s) && s->data == s->hdr.size) {
		digest_text(declared, sizeof(declared), s->hdr.digest);
		digest_text(received, sizeof(received), s->digest);
		snprintf(digests, sizeof(digests), " declared=%s received=%s", declared, received);
	}
	session_client_field(c, client, sizeof(client));
	log_info("upload listener=%s peer=%s port=%u%s file_no=%u%s bytes=%llu ms=%lld result=%s%s%s",
	    log_value(listener, sizeof(listener), c->lcfg->name), peer, c->peer_port, client, s->files + 1,
	    name, (unsigned long long)s->data, sys_now_ms() - s->file_start_ms,
	    c->result ? c->result : "ok", digests, stored);
}

/* The directory the session's files go to: the identity's subdir, or output_dir. */
static void
store_dir_path(const struct session *c, char *buf, size_t len)
{
	if (c->identity != NULL && c->identity->subdir != NULL)
		quota_dir(buf, len, c->lcfg->output_dir, c->identity->subdir);
	else
		snprintf(buf, len, "%s", c->lcfg->output_dir);
}

/* The hook mark store_commit() gives the file: the facts its hook needs later.  0 or -1. */
static int
hook_mark(const struct session *c, struct upload_state *s, struct mark_facts *f, char *buf,
    size_t len)
{
	char digest[96];

	memset(f, 0, sizeof(*f));
	snprintf(f->listener, sizeof(f->listener), "%s", c->lcfg->name);
	digest_text(digest, sizeof(digest), s->digest);
	snprintf(f->sha256, sizeof(f->sha256), "%.64s", digest + 7);   /* after "sha256:" */
	addr_format(&c->peer, f->peer, sizeof(f->peer));
	if (c->identity != NULL)
		snprintf(f->client, sizeof(f->client), "%s", c->identity->name);
	if ((s->up.mark_len = mark_format(f, buf, len)) == 0)
		return -1;
	s->up.mark = buf;
	return 0;
}

/* Sends the OK receipt of a stored file.  0, or -1 if it could not be sent. */
static int
send_receipt(struct session *c, struct upload_state *s)
{
	char line[RECEIPT_MAX];
	size_t len = receipt_ok(line, sizeof(line), s->data, s->digest, c->stored);

	if (len == 0 || netio_send_all(&c->io, line, len) < 0) {
		c->result = "ok-receipt-lost";
		return -1;
	}
	c->bytes_out += len;
	metrics_bytes_out(c->metrics, len);
	return 0;
}

/*
 * Hashes the first len bytes a partial already holds (the digest covers the
 * whole file), read back from the disk.  0, or -1 with errno.
 */
static int
hash_held(struct upload_state *s, uint64_t len)
{
	char *buf = malloc(s->size);    /* s->buf may hold data sent after the header */
	uint64_t at = 0;

	if (buf == NULL)
		return -1;
	while (at < len) {
		size_t want = len - at < s->size ? (size_t)(len - at) : s->size;
		ssize_t n;

		/* A newer connection of the client wants the upload: it need not wait for this. */
		if (partial_superseded(s->partial)) {
			free(buf);
			errno = ECONNABORTED;
			return -1;
		}
		n = pread(s->up.fd, buf, want, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || EVP_DigestUpdate(s->md, buf, (size_t)n) != 1) {
			if (n >= 0)
				errno = n == 0 ? EIO : ENOMEM;  /* EOF: shorter than it was a moment ago */
			free(buf);
			return -1;
		}
		at += (uint64_t)n;
	}
	free(buf);
	return 0;
}

/*
 * A version 2 header with an upload id: opens its partial (resuming it, or
 * a new one) and continues the upload from what it holds.  0, or -1 after
 * replying.
 */
static int
begin_partial(struct session *c, struct upload_state *s)
{
	const struct listener_cfg *l = c->lcfg;
	char identity[IDENTITY_NAME_MAX + ADDR_TEXT_MAX + 8];
	struct partial_request req = {
		.listener = l->name, .identity = identity, .hdr = &s->hdr,
		.max_partials = l->max_partials, .ttl = l->resume_ttl, .sock = c->io.fd,
	};
	struct cidr net;
	uint64_t offset;
	int pdir, fd;

	/* One identity can never resume, or learn of, another's upload (partial.h). */
	if (c->identity != NULL) {
		snprintf(identity, sizeof(identity), "%s", c->identity->name);
	} else {
		addr_prefix(&c->peer, l->per_ip_prefix4, l->per_ip_prefix6, &net);
		cidr_format(&net, identity, sizeof(identity));
	}
	if ((pdir = store_partial_dir(c->store, true)) < 0) {
		reply_storage_error(c, errno, "cannot open the partial directory");
		return -1;
	}
	switch (partial_open(pdir, &req, &s->partial, &fd, &offset)) {
	case PARTIAL_OK:
		break;
	case PARTIAL_OTHER_CLIENT:
		reply_error(c, 403, "upload id belongs to another client", "refused-upload-id");
		return -1;
	case PARTIAL_OTHER_FILE:
		reply_error(c, 409, "upload id in use for another file", "refused-upload-id");
		return -1;
	case PARTIAL_TOO_MANY:
		reply_error(c, 503, "busy: max_partials", "refused-busy");
		return -1;
	default:
		if (errno == EBUSY) {
			/* The older connection did not let go in time: the client may try again. */
			reply_error(c, 503, "busy: upload in use", "refused-busy");
			return -1;
		}
		reply_storage_error(c, errno, "partial upload");
		return -1;
	}
	store_begin_from(c->store, &s->up, fd, offset);
	s->inline_from = offset;
	s->data = offset;
	s->next_checkpoint = offset + CHECKPOINT_BYTES;
	if (hash_held(s, offset) < 0) {
		if (errno == ECONNABORTED) {
			stats_add(&stats.uploads_failed, 1);
			c->result = "aborted-resumed-elsewhere";
			return -1;
		}
		reply_storage_error(c, errno, "reading a partial upload");
		return -1;
	}
	return 0;
}

/* Tells the client of a resumable upload from where to send.  0, or -1. */
static int
send_continue(struct session *c, struct upload_state *s)
{
	char line[48];
	size_t len = receipt_continue(line, sizeof(line), s->data);

	if (len == 0 || netio_send_all(&c->io, line, len) < 0) {
		receive_failed(c, errno, 408, "idle timeout");
		return -1;
	}
	c->bytes_out += len;
	metrics_bytes_out(c->metrics, len);
	return 0;
}

/*
 * A resumable upload that did not end with its file stored: what arrived
 * stays, durable, for the client to resume - unless its digest was wrong
 * or an fsync failed (its data can no longer be trusted: partial_end()).
 */
static void
end_partial(struct upload_state *s, bool keep)
{
	hash_cancel(s);         /* it reads the partial's file */
	if (s->partial == NULL)
		return;
	s->superseded = partial_superseded(s->partial);
	partial_end(s->partial, s->up.fd, s->up.written, keep && !s->up.sync_failed);
	s->partial = NULL;
}

/*
 * Receives, checks and stores the file whose header (or, raw, first bytes)
 * is in s, and answers.  0 when it is stored and its receipt sent, -1
 * otherwise (after replying, or with nobody left to answer).
 */
static int
receive_file(struct session *c, struct upload_state *s)
{
	bool sized = s->framed && s->hdr.version == 2;
	struct mark_facts facts;
	char mark[MARK_VALUE_MAX];
	int rc;

	s->data = 0;
	c->stored[0] = '\0';
	s->hash_decided = false;
	if (EVP_DigestInit_ex(s->md, sha256, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		return -1;
	}
	if (check_declared(c, s) < 0 || begin_quota(c, s) < 0)
		return -1;
	if (sized && s->hdr.id[0] != '\0') {
		if (begin_partial(c, s) < 0)
			return -1;
	} else if (store_begin(c->store, &s->up) < 0) {
		reply_storage_error(c, errno, "cannot create a file");
		return -1;
	} else {
		s->inline_from = 0;
	}
	/*
	 * A framed upload's declared size must fit now, but like a raw upload
	 * it claims room only as it arrives: a header alone holds none.
	 */
	if (reserve_answer(c, store_expect(&s->up, s->framed ? s->hdr.size : 0)) < 0)
		return -1;
	/*
	 * Bytes sent before a CONTINUE that resumes are sent blind: the client
	 * could not know where to start.  Stored, they would be in the wrong place.
	 */
	if (s->partial != NULL && s->data > 0 && s->pending > 0) {
		reply_error(c, 400, "data before CONTINUE", "refused-bad-header");
		return -1;
	}
	if (s->partial != NULL && send_continue(c, s) < 0)
		return -1;
	if ((sized ? receive_body_sized(c, s) : receive_body(c, s)) < 0)
		return -1;
	if (s->hasher != NULL) {
		int err = hasher_finish(s->hasher) < 0 ? errno : 0;

		s->hasher = NULL;
		if (err != 0) {
			reply_storage_error(c, err, "reading an upload back to hash it");
			return -1;
		}
	}
	if (EVP_DigestFinal_ex(s->md, s->digest, NULL) != 1) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		return -1;
	}
	/* Checked before the link: a file that is not the one the client meant is never visible. */
	if (!digest_matches(s)) {
		end_partial(s, false);
		reply_error(c, 400, "digest mismatch", "refused-digest-mismatch");
		return -1;
	}
	/* With a hook, the file's mark is made durable with it, before the receipt (mark.h). */
	if (c->lcfg->on_stored.command != NULL && hook_mark(c, s, &facts, mark, sizeof(mark)) < 0) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		return -1;
	}
	if (s->framed)
		rc = store_commit_named(&s->up, s->hdr.name, c->stored, sizeof(c->stored));
	else
		rc = store_commit(&s->up, &c->peer, c->stored, sizeof(c->stored));
	if (rc < 0) {
		int err = errno;

		c->stored[0] = '\0';
		if (s->up.unremoved[0] != '\0')
			log_unremoved(c, &s->up);
		reply_storage_error(c, err, "commit");
		return -1;
	}
	/* Durable from here on: a lost receipt cannot undo the upload. */
	commit_quota(c, s);
	end_partial(s, false);
	stats_add(&stats.uploads_stored, 1);
	c->result = "ok";
	rc = send_receipt(c, s);
	/* After the receipt, whether it arrived or not: the file is stored either way. */
	if (c->lcfg->on_stored.command != NULL) {
		char dir[PATH_MAX];

		store_dir_path(c, dir, sizeof(dir));
		hook_stored(dir, c->stored, &facts, s->up.record);
	}
	/* Only a total can be exceeded by an upload; ages wait for the minute's pass. */
	if (c->lcfg->retention.max_total != 0)
		retention_poke();
	return rc;
}

/* receive_file(), and what a resumable upload that did not end keeps. */
static int
receive_one(struct session *c, struct upload_state *s)
{
	if (receive_file(c, s) == 0)
		return 0;
	quota_release(&s->quota);
	end_partial(s, true);   /* ends a hasher too */
	if (s->superseded)
		c->result = "aborted-resumed-elsewhere";
	return -1;
}

/*
 * An upload ended, stored or not: counted for the metrics once per file.
 * A file is stored once committed, even if its receipt was lost.
 */
static void
count_upload(const struct session *c, const struct upload_state *s)
{
	const char *result = c->result;
	bool stored;

	if (result == NULL)
		return;         /* nothing was asked: a health check, a client that went quietly */
	stored = c->stored[0] != '\0' && strncmp(result, "ok", 2) == 0;
	metrics_upload(c->metrics, c->identity != NULL ? c->identity->name : NULL, result, stored,
	    s->data, sys_now_ms() - s->file_start_ms);
}

/*
 * Version 2: the files after the first, until the client half-closes or
 * goes idle.  True when it parks between two files instead.  from_park:
 * it parked there before, and s->file_start_ms is when the wait began.
 */
static bool
receive_more(struct session *c, struct upload_state *s, bool from_park)
{
	for (;;) {
		/* A file's ms= counts from the end of the last one: its wait while parked too. */
		if (!from_park)
			s->file_start_ms = sys_now_ms();
		from_park = false;
		s->next = true;
		/* A header refused here names no file: its line must not repeat the last one's. */
		s->data = 0;
		s->hdr.name[0] = '\0';
		s->hdr.has_digest = false;
		c->stored[0] = '\0';
		if (read_header(c, s) < 0) {
			c->io.deadline_ms = 0;
			count_upload(c, s);
			log_file(c, s);
			return false;
		}
		c->io.deadline_ms = 0;
		if (s->park)
			return true;
		if (s->ended)
			return false;
		if (receive_one(c, s) < 0) {
			count_upload(c, s);
			log_file(c, s);
			return false;
		}
		count_upload(c, s);
		log_file(c, s);
		s->files++;
		c->files = s->files;
	}
}

/*
 * The connection's first upload.  0 when more files may follow on it
 * (version 2), -1 when it ended, 1 when it parked before its first byte.
 */
static int
receive_first(struct session *c, struct upload_state *s)
{
	const struct listener_cfg *l = c->lcfg;
	int rc = read_header(c, s);

	c->io.deadline_ms = 0;
	if (rc < 0) {
		count_upload(c, s);     /* a refused header: an upload that did not begin */
		return -1;
	}
	if (s->park)
		return 1;
	/*
	 * A health check, or not even a framed header: nothing asked to be
	 * stored, so nothing is answered.  store_empty keeps an orderly close
	 * on a raw-capable listener as a 0-byte upload.
	 */
	if (s->empty && (c->proxy_local || !l->store_empty || s->reset || l->protocol == PROTO_FRAMED)) {
		session_ended_silent(c);
		return -1;
	}
	/* Checked before anything is created: a raw upload's first bytes only wait in memory. */
	if (l->require_identity && c->identity == NULL) {
		unauthorized(c);
		count_upload(c, s);
		return -1;
	}
	if (!s->framed || s->hdr.version == 1) {
		(void)receive_file(c, s);
		count_upload(c, s);
		return -1;
	}
	rc = receive_one(c, s);
	count_upload(c, s);
	log_file(c, s);
	if (rc < 0)
		return -1;
	c->files = ++s->files;
	return 0;
}

enum service_end
receive_serve(struct session *c)
{
	const struct listener_cfg *l = c->lcfg;
	struct upload_state s = { .up = { .fd = -1 }, .size = (size_t)l->buffer_size };
	enum service_end end = SERVICE_DONE;
	bool from_park = false;
	int rc;

	s.file_start_ms = sys_now_ms();
	/* The idle timeout is io.timeout_ms, set from the generation that admitted the connection. */
	if ((s.buf = malloc(s.size)) == NULL || (s.md = EVP_MD_CTX_new()) == NULL) {
		reply_error(c, 500, "internal error", "refused-internal-error");
		goto out;
	}
	if (c->resumed && (c->park_state & PARKED_BETWEEN_FILES)) {
		/* Parked between two files: go on where receive_more() left. */
		s.auth = (c->park_state & PARKED_AUTH) != 0;
		s.nvt = (c->park_state & PARKED_NVT) != 0;
		s.files = c->files;
		s.file_start_ms = c->idle_since;
		from_park = true;
		rc = 0;
	} else {
		rc = receive_first(c, &s);
	}
	if (rc == 0 && receive_more(c, &s, from_park))
		rc = 1;
	if (rc == 1) {
		/* Nothing of a header has arrived: what goes on is in the session (session.h). */
		c->park_state = (s.next ? PARKED_BETWEEN_FILES : 0) | (s.auth ? PARKED_AUTH : 0) |
		    (s.nvt ? PARKED_NVT : 0);
		end = SERVICE_PARK;
		goto out;
	}
	/* Each file had its own line: the connection's names none. */
	if (s.next || (s.framed && s.hdr.version == 2))
		c->stored[0] = '\0';
out:
	quota_release(&s.quota);
	hash_cancel(&s);        /* before its file is closed */
	if (s.up.fd >= 0)
		store_abort(&s.up);
	EVP_MD_CTX_free(s.md);
	free(s.buf);
	return end;
}
