/* SPDX-License-Identifier: ISC */
/* size.c - parses and prints the byte sizes used by tcpxd.conf. */

#include <ctype.h>
#include <stdio.h>

#include "size.h"

int
size_parse(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t value = 0;
	unsigned shift = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: return -1;
	}
	if (*p != '\0')
		return -1;
	if (shift != 0 && value > (UINT64_MAX >> shift))
		return -1;
	*out = value << shift;
	return 0;
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
