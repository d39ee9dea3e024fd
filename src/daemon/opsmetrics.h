/* SPDX-License-Identifier: ISC */
/* opsmetrics.h - the on_stored hook and retention families of /metrics (metrics.h). */
#ifndef TCPXD_OPSMETRICS_H
#define TCPXD_OPSMETRICS_H

/* Registers the collector (once, before the endpoint serves).  0, or -1 when out of memory. */
int opsmetrics_register(void);

#endif
