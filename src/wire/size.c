/* SPDX-License-Identifier: ISC */
/* size.c - parses and prints the byte sizes and durations used by tcpxd.conf. */

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>

#include "wire/size.h"

int
size_parse_checked(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t value = 0;
	unsigned shift = 0;
	bool too_large = false;

	if (!isdigit((unsigned char)*p))
		return SIZE_MALFORMED;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		/* Keeps reading: past the last digit may still be a malformed suffix. */
		if (value > (UINT64_MAX - digit) / 10)
			too_large = true;
		else
			value = value * 10 + digit;
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: return SIZE_MALFORMED;
	}
	if (*p != '\0')
		return SIZE_MALFORMED;
	if (too_large || (shift != 0 && value > (UINT64_MAX >> shift)))
		return SIZE_TOO_LARGE;
	*out = value << shift;
	return 0;
}

int
size_parse(const char *text, uint64_t *out)
{
	return size_parse_checked(text, out) == 0 ? 0 : -1;
}

void
size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char suffixes[] = "TGMK";
	static const unsigned shifts[] = { 40, 30, 20, 10 };

	for (size_t i = 0; i < 4 && bytes != 0; i++) {
		uint64_t unit = (uint64_t)1 << shifts[i];

		if (bytes % unit == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(bytes / unit), suffixes[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

int
duration_parse_checked(const char *text, uint64_t *seconds)
{
	const char *p = text;
	uint64_t value = 0, unit = 1;
	bool too_large = false;

	if (!isdigit((unsigned char)*p))
		return SIZE_MALFORMED;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			too_large = true;
		else
			value = value * 10 + digit;
	}
	switch (*p) {
	case '\0': break;
	case 's': unit = 1; p++; break;
	case 'm': unit = 60; p++; break;
	case 'h': unit = 3600; p++; break;
	case 'd': unit = 86400; p++; break;
	default: return SIZE_MALFORMED;
	}
	if (*p != '\0')
		return SIZE_MALFORMED;
	if (too_large || value > UINT64_MAX / unit)
		return SIZE_TOO_LARGE;
	*seconds = value * unit;
	return 0;
}

void
duration_format(uint64_t seconds, char *buf, size_t len)
{
	static const char units[] = "dhm";
	static const uint64_t sizes[] = { 86400, 3600, 60 };

	for (size_t i = 0; i < 3 && seconds != 0; i++) {
		if (seconds % sizes[i] == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(seconds / sizes[i]), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llus", (unsigned long long)seconds);
}
