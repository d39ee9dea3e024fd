/* SPDX-License-Identifier: ISC */
/*
 * resume.h - tcpx's resume state: the upload id of each upload not yet
 * acknowledged, one small file per upload in $XDG_STATE_HOME/tcpx/, so that
 * running the same command again resumes where the daemon stopped.
 */
#ifndef TCPX_RESUME_H
#define TCPX_RESUME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 16 random bytes in hex: docs/PROTOCOL.md §2.6 allows up to 64 of [A-Za-z0-9_-]. */
#define RESUME_ID_LEN 32
/* Regular files below this size are resumable only with --resume. */
#define RESUME_MIN_SIZE ((uint64_t)1 << 20)

/* What makes two runs the same upload: a change to any of these starts a new one. */
struct resume_key {
	const char *target;             /* HOST:PORT, as given */
	const char *path;               /* absolute */
	unsigned long long size;
	struct timespec mtime;
	const char *name;               /* the name sent */
};

/*
 * The id of k's upload: the one an earlier run saved, or a new random one,
 * saved now.  0; or -1 with err when the state cannot be read or written,
 * id still usable for this run (empty only if no random id could be made).
 */
int resume_lookup(const struct resume_key *k, char id[RESUME_ID_LEN + 1], char *err,
    size_t errlen);
/* A new random upload id for one run only (standard input): 0, or -1. */
int resume_new_id(char id[RESUME_ID_LEN + 1]);
/* Forgets k's upload, once the daemon has answered it for good. */
void resume_forget(const struct resume_key *k);

#endif
