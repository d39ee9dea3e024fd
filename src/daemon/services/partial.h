/* SPDX-License-Identifier: ISC */
/*
 * partial.h - resumable uploads (docs/PROTOCOL.md §2.7).  The bytes of an
 * upload that broke are kept as a partial in output_dir/.tcpxd-partial/,
 * never in output_dir itself, with a record of whose upload it is and how
 * many of its bytes are durable.  A partial is held by one connection at
 * a time; a newer connection of the same client takes it over.
 */
#ifndef TCPXD_PARTIAL_H
#define TCPXD_PARTIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/frame.h"

struct partial;

/* What a resumable upload is and who asks for it. */
struct partial_request {
	const char *listener;
	/*
	 * Whose it is: the client identity's name, or an anonymous client's
	 * network ("192.0.2.0/24"); the two never look alike, as a name holds no '/'.
	 */
	const char *identity;
	const struct frame_header *hdr; /* size, digest, upload id, name */
	unsigned max_partials;          /* of this listener */
	unsigned ttl;                   /* resume_ttl, seconds */
	int sock;                       /* shut by a newer connection resuming the same upload */
};

enum partial_status {
	PARTIAL_OK,
	PARTIAL_OTHER_CLIENT,           /* the id is another client's */
	PARTIAL_OTHER_FILE,             /* the id is this client's, for another file */
	PARTIAL_TOO_MANY,               /* max_partials reached */
	PARTIAL_ERROR,                  /* errno says why */
};

/*
 * Opens the partial of req in the partial directory pdir, or creates it.
 * On PARTIAL_OK, *fd is its data file (the caller owns it), positioned at
 * *offset: the bytes it holds, durable before this returns.
 */
enum partial_status partial_open(int pdir, const struct partial_request *req,
    struct partial **out, int *fd, uint64_t *offset);
/* Records length bytes of fd as durable: fsync, then the record.  0, or -1 with errno. */
int partial_checkpoint(struct partial *p, int fd, uint64_t length);
/* The connection ends, the partial stays for a later one.  Frees p. */
void partial_release(struct partial *p);
/*
 * The connection ends with the upload unfinished: with keep, the partial
 * stays for a later one, its length bytes of fd made durable - unless it
 * holds nothing or its data can no longer be trusted (a failed fsync).
 * Without keep it goes.  Frees p.
 */
void partial_end(struct partial *p, int fd, uint64_t length, bool keep);
/* The upload is stored or refused for good: the partial's names go.  Frees p. */
void partial_remove(struct partial *p);
/* Whether a newer connection took the upload over (it then shut our socket). */
bool partial_superseded(const struct partial *p);
/*
 * Removes expired partials of listener, and of listeners configured() says
 * are not configured any more, and leftovers of crashes.  The count removed.
 */
int partial_sweep(int pdir, const char *listener, unsigned ttl,
    bool (*configured)(const char *listener, void *arg), void *arg);

#endif
