/* SPDX-License-Identifier: ISC */
/*
 * quota.h - quota_bytes and quota_files of client identities.  A quota
 * counts the files in the identity's directories (output_dir/subdir of
 * every receive listener that accepts it) and the uploads it has in
 * flight.  The state is the process's, found by identity name, so it
 * outlives configuration generations; the limits are those of the
 * configuration in force (quota_configure).  Removals by anyone else
 * (collectors) are seen by one inotify thread (quota_watch_start).
 */
#ifndef TCPXD_QUOTA_H
#define TCPXD_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct quota;

/* One identity's quota as a configuration gives it. */
struct quota_spec {
	const char *name;
	uint64_t max_bytes;         /* 0: not limited */
	uint64_t max_files;         /* 0: not limited */
	const char *const *dirs;    /* absolute paths of existing directories */
	size_t n_dirs;
};

/*
 * What one upload holds against its identity's quota: reserved while it
 * arrives, turned into a stored file by quota_commit().  Zeroed = holds
 * nothing.
 */
struct quota_hold {
	struct quota *q;
	uint64_t bytes;             /* reserved */
	bool file;                  /* one file reserved */
};

/*
 * Puts specs in force: identities not named are not limited any more.  A
 * directory not counted before is scanned now; each scan is logged
 * ("quota-scan client=NAME files=N bytes=B ms=D").  0, or -1 with a reason
 * in err (nothing changed for the identity that failed).
 */
int quota_configure(const struct quota_spec *specs, size_t n, char *err, size_t errlen);
/* The directory of an identity with subdir on a listener with output_dir: as quota_spec names it. */
void quota_dir(char *buf, size_t len, const char *output_dir, const char *subdir);
/* Starts the thread that sees removals.  0, or -1 with errno. */
int quota_watch_start(void);
/* Stops it and frees everything (no upload left). */
void quota_fini(void);
/* The quota of identity name, or NULL when it has none. */
struct quota *quota_find(const char *name);
/*
 * Reserves one file of bytes (a framed upload's declared size, or 0) for
 * h.  0, or -1 when it does not fit: the quota is exceeded.
 */
int quota_begin(struct quota *q, struct quota_hold *h, uint64_t bytes);
/* Grows h's reservation to bytes (a raw upload as it arrives).  0, or -1: exceeded. */
int quota_grow(struct quota_hold *h, uint64_t bytes);
/*
 * The upload is stored as dir/name (dir as in quota_spec): it counts as a
 * file of the directory from now on, with the size the disk gives it, and
 * h holds nothing.
 */
void quota_commit(struct quota_hold *h, const char *dir, const char *name);
/* The upload failed: h holds nothing any more. */
void quota_release(struct quota_hold *h);
/* Usage of the identity now: stored plus reserved.  False if it has no quota. */
bool quota_usage(const char *name, uint64_t *bytes, uint64_t *files);
/*
 * The identity nearest to its quota: its name (into name, len bytes) and
 * how full it is, in percent of the nearer of its two limits (rounded
 * down).  False when no identity has a quota.
 */
bool quota_fullest(char *name, size_t len, unsigned *percent);
/*
 * The directory dir (as in quota_spec) is scanned again, as after an
 * inotify overflow (tests and quota_configure).  0, or -1 with errno.
 */
int quota_rescan(const char *dir);

#endif
