/* SPDX-License-Identifier: ISC */
/*
 * hasher.h - the SHA-256 of a large upload on a second thread.  The
 * connection's thread receives and writes; a hasher reads the bytes back
 * from the file (the page cache: they were just written) and hashes them,
 * so that one upload uses two cores.  At most hasher_limit() uploads are
 * hashed this way at a time; beyond that, and whenever a thread or memory
 * is lacking, hasher_start() says no and the caller hashes inline.
 */
#ifndef TCPXD_HASHER_H
#define TCPXD_HASHER_H

#include <openssl/evp.h>
#include <stdint.h>

struct hasher;

/*
 * Sets the limit from the online CPUs (or TCPXD_HASH_THREADS, which the
 * tests use to reach it).  Called once at start-up, before any upload.
 */
void hasher_init(void);

/* At most this many uploads are hashed on a thread of their own at a time. */
unsigned hasher_limit(void);

/*
 * Hashes into md the bytes of fd from offset from on, as hasher_feed()
 * says they are written: md then belongs to the hasher until
 * hasher_finish() or hasher_cancel(), and fd must stay open until then.
 * NULL if the limit is reached or a thread or memory is lacking: md is
 * untouched, and the caller goes on hashing inline.
 */
struct hasher *hasher_start(int fd, EVP_MD_CTX *md, uint64_t from);

/* The file holds written bytes now: the hasher may read up to there. */
void hasher_feed(struct hasher *h, uint64_t written);

/*
 * Waits until every byte fed is hashed, and ends the hasher: md then
 * covers them all, in order.  0, or -1 with errno if a read failed.
 */
int hasher_finish(struct hasher *h);

/* Ends the hasher without waiting for the rest (the upload failed); md is garbage. */
void hasher_cancel(struct hasher *h);

#endif
