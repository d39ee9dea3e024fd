/* SPDX-License-Identifier: ISC */
/*
 * hook.h - runs a receive listener's on_stored program once per stored
 * file, after its receipt, at least once: the file carries a durable mark
 * (mark.h) from before its receipt until its hook succeeded or finally
 * failed, and marked files are found again at start-up and reload.  One
 * supervisor thread spawns the programs (no shell), limits them per
 * listener, kills those past their timeout and retries failures with
 * back-off.  Nothing here ever waits on a client's behalf.
 */
#ifndef TCPXD_HOOK_H
#define TCPXD_HOOK_H

#include <stdint.h>

#include "daemon/config.h"
#include "daemon/services/mark.h"

/* Upper bounds of the run duration buckets, in milliseconds; the last is +Inf. */
#define HOOK_BUCKETS 9
extern const uint64_t hook_bucket_ms[HOOK_BUCKETS - 1];

struct hook_metrics {
	uint64_t runs_ok;               /* runs that exited 0 */
	uint64_t runs_failed;           /* runs that exited otherwise, or died of a signal */
	uint64_t runs_timeout;          /* runs killed past their timeout */
	uint64_t runs_spawn_error;      /* programs that could not be started */
	uint64_t files_done;            /* files whose hook succeeded */
	uint64_t files_given_up;        /* files whose hook failed its last retry */
	uint64_t runs_retried;          /* runs that failed and are tried again */
	uint64_t runs_stopped;          /* runs that failed at a stop: after the next start */
	uint64_t not_queued;            /* queue full: left marked for a rescan */
	uint64_t duration_ms_sum;       /* of all runs */
	uint64_t duration_count[HOOK_BUCKETS];  /* runs per bucket (not cumulative) */
	unsigned queued, running;
};

/* Starts the supervisor.  0, or -1 with errno. */
int hook_start(void);
/*
 * The hooks of cfg apply to runs started from now on (running ones go on);
 * the output directories of its listeners with on_stored are scanned for
 * marked files, which are queued.
 */
void hook_configure(const struct config *cfg);
/*
 * A file was stored in dir (absolute) under name with the mark f (record:
 * its record file, or ""): queues its hook.  Never blocks on the hooks;
 * with the queue full the file stays marked for a later rescan.
 */
void hook_stored(const char *dir, const char *name, const struct mark_facts *f,
    const char *record);
/*
 * Starts nothing more; waits for running hooks until deadline_ms
 * (sys_now_ms() time), then kills the rest.  Unfinished files keep their
 * mark and run after the next start.
 */
void hook_stop(long long deadline_ms);
void hook_metrics_get(struct hook_metrics *m);

#endif
