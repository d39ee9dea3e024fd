/* SPDX-License-Identifier: ISC */
/*
 * upload.h - one file over an open connection: the header, for a
 * resumable upload the CONTINUE answer and a seek to its offset, the data
 * (watching for an early answer), and the answer line.  What the answer
 * means, and what to do after a broken connection, is send.c's business.
 */
#ifndef TCPX_UPLOAD_H
#define TCPX_UPLOAD_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "client/input.h"
#include "client/progress.h"
#include "io/netio.h"
#include "wire/receipt.h"

enum upload_outcome {
	UPLOAD_ANSWER,          /* an answer line came (OK, ERR or anything else): in answer */
	UPLOAD_BROKEN,          /* the connection failed before an answer (worth a retry): why */
	UPLOAD_FAILED,          /* tcpx gave up (file unreadable, TLS error): rc, reported */
};

struct upload {
	/* Set by the caller. */
	struct netio *io;
	unsigned timeout;               /* seconds, for each wait */
	struct input *in;
	bool raw;                       /* raw protocol: the data alone, then a half-close */
	const char *header;             /* framed */
	size_t hlen;
	bool resumable;                 /* the header has an upload id: CONTINUE comes first */
	struct progress *prog;
	char *buf;                      /* scratch, buflen bytes */
	size_t buflen;
	EVP_MD_CTX *md;                 /* raw: gets the SHA-256 of what is sent; else NULL */
	/* Results. */
	unsigned long long offset;      /* the first byte sent: the CONTINUE offset, or 0 */
	bool ended;                     /* our side ended cleanly (raw: the half-close went out) */
	char answer[RECEIPT_MAX + 1];
	size_t answer_len;
	char why[160];                  /* UPLOAD_BROKEN */
	int rc;                         /* UPLOAD_FAILED */
};

enum upload_outcome upload_run(struct upload *u);

#endif
