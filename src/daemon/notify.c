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

#include "daemon/config.h"
#include "daemon/notify.h"
#include "daemon/park.h"
#include "daemon/services/quota.h"
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

/* STATUS= names this many identities, those that sent the most bytes. */
#define STATUS_TOP_IDENTITIES 3

void
notify_status(unsigned active)
{
	static char last[512];
	struct stats_identity top[STATUS_TOP_IDENTITIES];
	size_t n = stats_identity_top(top, STATUS_TOP_IDENTITIES);
	char line[512], fullest[IDENTITY_NAME_MAX + 1];
	unsigned percent = 0;
	int len;

	char parked[32] = "";

	/* Parked connections are active ones without a thread (park.h). */
	if (park_count() > 0)
		snprintf(parked, sizeof(parked), " (%u parked)", park_count());
	len = snprintf(line, sizeof(line),
	    "STATUS=%u active%s, %llu accepted, %llu refused; uploads %llu stored, %llu failed, "
	    "%llu empty; %llu bytes in, %llu bytes out",
	    active, parked, stats_get(&stats.accepted), stats_get(&stats.refused),
	    stats_get(&stats.uploads_stored), stats_get(&stats.uploads_failed),
	    stats_get(&stats.connections_empty),
	    stats_get(&stats.bytes_in), stats_get(&stats.bytes_out));
	/* Only once there is something to say: a daemon without identities reads as before. */
	if (stats_get(&stats.unauthorized) > 0 && len > 0 && (size_t)len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - (size_t)len, "; %llu unauthorized",
		    stats_get(&stats.unauthorized));
	/* Identity names are A-Z a-z 0-9 . _ - (config.c): nothing to escape. */
	for (size_t i = 0; i < n && len > 0 && (size_t)len < sizeof(line); i++)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s %llu", i ? ", " :
		    "; top clients by bytes in: ", top[i].name, top[i].bytes);
	/* Quotas: the identity nearest to its quota (tcpxd.conf(5)), if any has one. */
	if (quota_fullest(fullest, sizeof(fullest), &percent) && len > 0 &&
	    (size_t)len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - (size_t)len, "; fullest quota: %s %u%%",
		    fullest, percent);
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
