/* SPDX-License-Identifier: ISC */
/* size.h - byte sizes (K/M/G/T) and durations (s/m/h/d), as written in tcpxd.conf. */
#ifndef TCPXD_SIZE_H
#define TCPXD_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* "123", "64K", "1g" (binary multiples) -> bytes.  0, or -1 if malformed/overflowing. */
int size_parse(const char *text, uint64_t *out);
/* The same, telling why it failed: SIZE_MALFORMED or SIZE_TOO_LARGE (above 2^64 - 1). */
#define SIZE_MALFORMED (-1)
#define SIZE_TOO_LARGE (-2)
int size_parse_checked(const char *text, uint64_t *out);
/* Formats bytes with the largest exact suffix ("64K", "1G", "1000"). */
void size_format(uint64_t bytes, char *buf, size_t len);
/*
 * Durations: "300" (seconds), "30s", "5m", "1h", "30d" -> seconds.  0, or
 * SIZE_MALFORMED / SIZE_TOO_LARGE as size_parse_checked().
 */
int duration_parse_checked(const char *text, uint64_t *seconds);
/* Formats seconds with the largest exact unit ("30d", "1h", "90s" stays "90s"). */
void duration_format(uint64_t seconds, char *buf, size_t len);

#endif
