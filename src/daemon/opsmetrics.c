/* SPDX-License-Identifier: ISC */
/*
 * opsmetrics.c - renders what the hook supervisor (hook.h) and the pruner
 * (retention.h) count as Prometheus families at each scrape, from their
 * getters: they keep no metrics state of their own here.
 */
#include <stdint.h>
#include <stdio.h>

#include "daemon/metrics.h"
#include "daemon/opsmetrics.h"
#include "daemon/services/hook.h"
#include "daemon/services/retention.h"

static void
labelled(FILE *fp, const char *name, const char *label, const char *value, uint64_t v)
{
	fprintf(fp, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
}

static void
collect(FILE *fp, void *arg)
{
	struct hook_metrics h;
	struct retention_metrics r;
	uint64_t cumulative = 0;

	(void)arg;
	hook_metrics_get(&h);
	retention_metrics_get(&r);
	metrics_family(fp, "tcpxd_hook_runs_total", "counter",
	    "on_stored hook runs by what followed: ok, retry (failed, tried again), failed "
	    "(failed its last retry: the file is given up), stopped (failed at a stop: runs "
	    "after the next start)");
	labelled(fp, "tcpxd_hook_runs_total", "result", "ok", h.files_done);
	labelled(fp, "tcpxd_hook_runs_total", "result", "retry", h.runs_retried);
	labelled(fp, "tcpxd_hook_runs_total", "result", "failed", h.files_given_up);
	labelled(fp, "tcpxd_hook_runs_total", "result", "stopped", h.runs_stopped);
	metrics_family(fp, "tcpxd_hook_run_failures_total", "counter",
	    "failed hook runs by cause: exit (non-zero status or a signal), timeout (killed), "
	    "spawn (could not be started or its file opened)");
	labelled(fp, "tcpxd_hook_run_failures_total", "cause", "exit", h.runs_failed);
	labelled(fp, "tcpxd_hook_run_failures_total", "cause", "timeout", h.runs_timeout);
	labelled(fp, "tcpxd_hook_run_failures_total", "cause", "spawn", h.runs_spawn_error);
	metrics_family(fp, "tcpxd_hook_run_duration_seconds", "histogram",
	    "how long hook runs took");
	for (size_t b = 0; b < HOOK_BUCKETS; b++) {
		cumulative += h.duration_count[b];
		if (b < HOOK_BUCKETS - 1)
			fprintf(fp, "tcpxd_hook_run_duration_seconds_bucket{le=\"%llu.%03llu\"} %llu\n",
			    (unsigned long long)(hook_bucket_ms[b] / 1000),
			    (unsigned long long)(hook_bucket_ms[b] % 1000), (unsigned long long)cumulative);
		else
			fprintf(fp, "tcpxd_hook_run_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cumulative);
	}
	fprintf(fp, "tcpxd_hook_run_duration_seconds_sum %llu.%03llu\n",
	    (unsigned long long)(h.duration_ms_sum / 1000),
	    (unsigned long long)(h.duration_ms_sum % 1000));
	fprintf(fp, "tcpxd_hook_run_duration_seconds_count %llu\n", (unsigned long long)cumulative);
	metrics_family(fp, "tcpxd_hook_files_waiting", "gauge",
	    "stored files queued for their hook (besides those running)");
	fprintf(fp, "tcpxd_hook_files_waiting %u\n", h.queued);
	metrics_family(fp, "tcpxd_hook_running", "gauge", "hook programs running now");
	fprintf(fp, "tcpxd_hook_running %u\n", h.running);
	metrics_family(fp, "tcpxd_hook_not_queued_total", "counter",
	    "stored files left marked for a rescan because the hook queue was full");
	fprintf(fp, "tcpxd_hook_not_queued_total %llu\n", (unsigned long long)h.not_queued);

	metrics_family(fp, "tcpxd_retention_removed_files_total", "counter",
	    "stored files the pruner removed, by the limit that removed them");
	labelled(fp, "tcpxd_retention_removed_files_total", "reason", "max_age", r.removed_max_age);
	labelled(fp, "tcpxd_retention_removed_files_total", "reason", "max_total",
	    r.removed_max_total);
	metrics_family(fp, "tcpxd_retention_removed_bytes_total", "counter",
	    "bytes of the stored files the pruner removed");
	fprintf(fp, "tcpxd_retention_removed_bytes_total %llu\n",
	    (unsigned long long)r.bytes_removed);
	metrics_family(fp, "tcpxd_retention_passes_total", "counter",
	    "passes of the pruner over the listeners with retention");
	fprintf(fp, "tcpxd_retention_passes_total %llu\n", (unsigned long long)r.passes);
	metrics_family(fp, "tcpxd_retention_errors_total", "counter",
	    "files the pruner could not remove");
	fprintf(fp, "tcpxd_retention_errors_total %llu\n", (unsigned long long)r.errors);
}

int
opsmetrics_register(void)
{
	return metrics_add_collector(collect, NULL);
}
