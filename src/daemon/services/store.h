/* SPDX-License-Identifier: ISC */
/* store.h - the output directory and the durable-write sequence of uploads. */
#ifndef TCPXD_STORE_H
#define TCPXD_STORE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

/* Longest stored name, with the NUL: a client's name (255 bytes) and a ".999" suffix. */
#define STORE_NAME_MAX 260

/* One file being received.  Invisible in the directory until store_commit(). */
struct upload {
	struct store *store;
	int fd;
	char tmpname[48];       /* only without O_TMPFILE */
	uint64_t written;       /* bytes in the file */
	uint64_t flushed;       /* bytes whose writeback has been started */
	uint64_t claimed;       /* file size claimed against the reserve, whole blocks */
	uint64_t next_check;    /* written bytes at which the reserve is checked again */
	bool link_fd;           /* a named file elsewhere (a partial): linked by its descriptor */
	bool sync_failed;       /* store_commit()'s fsync of the file failed */
	/*
	 * The hook mark (mark.h) store_commit() gives the file before its
	 * fsync, or NULL.  Where it had to be a record file, its name is in
	 * record after the commit ("" otherwise).
	 */
	const char *mark;
	size_t mark_len;
	char record[48];
	/*
	 * After a failed store_commit(): the name it linked and could not take
	 * back once the directory fsync failed, and why ("" when none).  The
	 * store has no log line of its own for it: the service logs it with
	 * the client's fields (store-unremoved in tcpxd(8)).
	 */
	char unremoved[STORE_NAME_MAX];
	char unremoved_error[64];
};

/* store_open() flag: use hidden temporary names even where O_TMPFILE works. */
#define STORE_NO_TMPFILE 1u
/* store_open_sub() flag: make nothing (tcpxd -t); a missing subdir gives no store. */
#define STORE_NO_CREATE 2u

/*
 * Opens and checks an output directory: it exists, is a directory, and a
 * file can be created in it; probes O_TMPFILE.  0, or -1 with a reason.
 */
int store_open(const char *path, unsigned file_mode, unsigned flags, struct store **out,
    char *err, size_t errlen);
/*
 * Opens the directory subdir of parent's (an identity's, config.h), made
 * if missing (mode: file_mode, with x where it has r) and then durable
 * (it and parent fsync'd) before this returns; never through a symbolic
 * link.  It shares parent's file mode and reserve; path names it in
 * messages.  With STORE_NO_CREATE a missing subdir is left so: 0 with
 * *out NULL.  0, or -1 with a reason.
 */
int store_open_sub(struct store *parent, const char *subdir, const char *path, unsigned flags,
    struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
/* Tests: marks as record files, as on a file system without user xattrs. */
void store_no_xattr(bool on);
/* min_free_inodes = auto: 1 % of the file system's inodes, but at least this many. */
#define STORE_AUTO_INODES_MIN 1000
#define STORE_INODES_AUTO UINT64_MAX
/*
 * What uploads must leave free in the file system (0: no limit).  An
 * upload claims space claim_step bytes ahead of what it writes.
 */
void store_keep_free(struct store *st, uint64_t min_free_space, uint64_t min_free_inodes,
    uint64_t claim_step);
/* The inodes min_free_inodes = auto keeps free on a file system of total inodes. */
uint64_t store_auto_inodes(uint64_t total);
/* Removes temporary files left by a crash (start-up only).  Returns the count. */
int store_remove_stale(struct store *st);
int store_uses_tmpfile(const struct store *st);

/* 0, or -1 with errno. */
int store_begin(struct store *st, struct upload *up);
/* Where partial uploads are kept, inside the output directory (partial.h). */
#define STORE_PARTIAL_DIR ".tcpxd-partial"
/*
 * The descriptor of STORE_PARTIAL_DIR, made (mode 0700) if create and
 * missing; the store keeps it.  -1 with errno.
 */
int store_partial_dir(struct store *st, bool create);
/*
 * An upload that continues the file fd (a partial) after its first written
 * bytes; the upload owns fd.  store_commit_named() links it by its
 * descriptor and, when it fails, leaves fd open (sync_failed says whether
 * the data can still be trusted); store_abort() only closes it.
 */
void store_begin_from(struct store *st, struct upload *up, int fd, uint64_t written);
/* Appends len bytes; store_reserve() claims room for them first.  0, or -1 with errno. */
int store_write(struct upload *up, const void *buf, size_t len);
enum { STORE_RESERVE_OK, STORE_LOW_SPACE, STORE_LOW_INODES };
/*
 * Claims room for the file to grow to size bytes, and checks that the file
 * system keeps the store's reserve free once every upload in flight on it
 * has written what it claimed.  Checks at the first call, whenever the
 * claim grows (with a space reserve), and at least every 8 MiB written.  A
 * STORE_ value (nothing more claimed unless STORE_RESERVE_OK), or -1 with
 * errno.
 */
int store_reserve(struct upload *up, uint64_t size);
/*
 * The first check of an upload that says it will grow to size bytes: as
 * store_reserve(up, written), and the whole size must fit above the
 * reserve now, besides every claim in flight.  Only what store_reserve()
 * claims is held: a client that declares much and sends little must not
 * keep the room from the others.
 */
int store_expect(struct upload *up, uint64_t size);
/*
 * [mark] -> fsync(file) -> link under a new unique name -> [mark record]
 * -> fsync(dir).  Only after 0 is the upload durable, and its mark too.  On -1 (errno set) nothing is left in the directory.
 * Either way the upload is finished.
 */
int store_commit(struct upload *up, const struct in6_addr *peer, char *name, size_t namelen);
/*
 * As store_commit(), under the client's (sanitised) name; while it is taken,
 * under name.1 ... name.999.  All taken: -1 with EEXIST.
 */
int store_commit_named(struct upload *up, const char *wanted, char *name, size_t namelen);
/*
 * Whether store_commit_named() could store wanted now: 1 if it or one of its
 * suffixed names is free, 0 if all are taken, -1 with errno.  Lets a client
 * be refused before it sends the body; the link itself still decides.
 */
int store_name_free(struct store *st, const char *wanted);
/* Discards an unfinished upload; nothing is left behind. */
void store_abort(struct upload *up);

/* "20261125T083012Z_127.0.0.1_000042.bin"; ':' of IPv6 peers becomes '-'. */
void store_name_make(char *buf, size_t len, time_t when, const struct in6_addr *peer,
    unsigned long long seq);

#endif
