/* SPDX-License-Identifier: ISC */
/* notify.h - sd_notify messages; each is a no-op without NOTIFY_SOCKET. */
#ifndef TCPXD_NOTIFY_H
#define TCPXD_NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* Sends STATUS= with the live counters if they changed since the last call. */
void notify_status(unsigned active);
/* Interval at which notify_watchdog() must be called, or 0 when no watchdog. */
long long notify_watchdog_interval_ms(void);
void notify_watchdog(void);

#endif
