/* SPDX-License-Identifier: ISC */
/*
 * notify.c - tells the service manager what tcpxd is doing.  Failures are
 * not fatal: without NOTIFY_SOCKET every call does nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon/notify.h"
#include "daemon/stats.h"


void
notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(unsigned active)
{
	static char last[256];
	char line[256];

	snprintf(line, sizeof(line),
	    "STATUS=%u active, %llu accepted, %llu refused; uploads %llu stored, %llu failed, "
	    "%llu empty; %llu bytes in, %llu bytes out",
	    active, stats_get(&stats.accepted), stats_get(&stats.refused),
	    stats_get(&stats.uploads_stored), stats_get(&stats.uploads_failed),
	    stats_get(&stats.connections_empty),
	    stats_get(&stats.bytes_in), stats_get(&stats.bytes_out));
	if (strcmp(line, last) == 0)
		return;
	memcpy(last, line, sizeof(last));
	sd_notify(0, line);
}

long long
notify_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (long long)(usec / 2000);
}

void
notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}
