/* SPDX-License-Identifier: ISC */
/*
 * retention.h - removes the oldest stored files of listeners with
 * retention = { ... } beyond max_age and max_total: never a temporary,
 * a partial, a file younger than min_keep or a file whose hook has not
 * finished (mark.h).  One pruner thread for all listeners, woken every
 * minute and after uploads (max_total); tcpxd --prune runs one pass.
 */
#ifndef TCPXD_RETENTION_H
#define TCPXD_RETENTION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"

struct retention_metrics {
	uint64_t passes;
	uint64_t files_removed;         /* all listeners */
	uint64_t bytes_removed;
	uint64_t removed_max_age;       /* files removed for their age */
	uint64_t removed_max_total;     /* files removed for the listener's total */
	uint64_t errors;                /* files that could not be removed */
};

/*
 * One pass over cfg's listeners.  dry_run: removes nothing and prints a
 * line per file it would remove to out.  The files removed (or that would
 * be), or -1 when a directory could not be read.
 */
int retention_pass(const struct config *cfg, bool dry_run, FILE *out);
/* Starts the pruner thread.  0, or -1 with errno. */
int retention_start(void);
/* The retention of cfg applies from the next pass on. */
void retention_configure(const struct config *cfg);
/* A file was stored: a pass soon (at most one a second). */
void retention_poke(void);
void retention_stop(void);
void retention_metrics_get(struct retention_metrics *m);

#endif
