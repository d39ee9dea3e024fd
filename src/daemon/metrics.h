/* SPDX-License-Identifier: ISC */
/*
 * metrics.h - what tcpxd counts for Prometheus, and its text exposition.
 *
 * Connection threads write per-listener slots with relaxed atomics only (no
 * lock on the data path); the scrape (metrics_http.c) reads them while they
 * change, so one scrape is consistent enough, not a snapshot: a counter
 * never goes back, and a histogram's _count is always its +Inf bucket.
 * Slots are found by name and outlive reloads, like counts.h: a listener's
 * counters keep counting over a reload and never reset while tcpxd runs.
 *
 * Other modules add their own counters with metrics_counter_new() (fixed
 * label names, label values found or added on first use), or whole
 * families rendered at scrape time with metrics_add_collector().
 */
#ifndef TCPXD_METRICS_H
#define TCPXD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"

struct metrics_listener;

/* Puts cfg's limits and output directories in force for the scrape; creates its listeners' slots. */
void metrics_configure(const struct config *cfg);
/* The slot of that listener, created on first use; NULL when out of memory (nothing is counted). */
struct metrics_listener *metrics_listener(const char *name);

/* The data path: each call is one or two relaxed atomic additions.  m may be NULL. */
void metrics_bytes_in(struct metrics_listener *m, uint64_t n);
void metrics_bytes_out(struct metrics_listener *m, uint64_t n);
/* A connection was admitted (a thread runs it), and then ended with result ("ok", ...). */
void metrics_conn_open(struct metrics_listener *m);
void metrics_conn_closed(struct metrics_listener *m, const char *result);
/* A connection counted open never ran (no thread): not counted as ended either. */
void metrics_conn_gone(struct metrics_listener *m);
/* A connection refused before a thread ran it (it was never open). */
void metrics_conn_refused(struct metrics_listener *m, const char *result);
/*
 * An upload ended with result; stored: its file is durable (result "ok" or
 * "ok-receipt-lost"), of bytes, received in ms.  identity: the client's
 * name, or NULL.
 */
void metrics_upload(struct metrics_listener *m, const char *identity, const char *result,
    bool stored, uint64_t bytes, long long ms);
/* A reload (SIGHUP) was put in force, or failed and left the configuration as it was. */
void metrics_reload(bool ok);

/*
 * Writes the whole exposition (text format 0.0.4) to fp.  0, or -1 when fp
 * failed (out of memory).
 */
int metrics_render(FILE *fp);
/* Writes value as a label value: backslash, double quote and newline escaped. */
void metrics_label_value(FILE *fp, const char *value);
/* Frees everything (at exit, with no connection or scrape left). */
void metrics_fini(void);

/* ---- extension point ---------------------------------------------------- */

/* Most label values one counter keeps; later ones are not counted (a fixed label set). */
#define METRICS_SERIES_MAX 256
/* Label names of one counter. */
#define METRICS_LABELS_MAX 3

struct metrics_counter;

/*
 * A counter family name (tcpxd_..._total) with up to METRICS_LABELS_MAX
 * label names, rendered with every scrape from now on.  Call once, before
 * the endpoint is used; NULL when out of memory.
 */
struct metrics_counter *metrics_counter_new(const char *name, const char *help,
    const char *const *labels, unsigned n_labels);
/* Adds n to the series of those label values (as many as the counter's labels). */
void metrics_counter_add(struct metrics_counter *c, const char *const *values, uint64_t n);

/* A function a module registers to write its own families at each scrape. */
typedef void metrics_collect_fn(FILE *fp, void *arg);
/* Called at every scrape, after tcpxd's own families; -1 when out of memory. */
int metrics_add_collector(metrics_collect_fn *fn, void *arg);
/* "# HELP name help" and "# TYPE name type", for collectors. */
void metrics_family(FILE *fp, const char *name, const char *type, const char *help);

#endif
