/* SPDX-License-Identifier: ISC */
/*
 * nvt.c - the inverse of a telnet client's encoding: CR NUL -> CR,
 * CR LF -> LF, IAC IAC -> 0xFF; commands (IAC and a verb), option
 * negotiation (IAC WILL/WONT/DO/DONT and an option) and subnegotiation
 * (IAC SB ... IAC SE) are dropped.  A CR followed by anything else keeps
 * both bytes: no client sends it, and no byte is invented or lost.
 */
#include <string.h>

#include "wire/nvt.h"

#define IAC 255
#define SB 250
#define SE 240
#define WILL 251
#define DONT 254

size_t
nvt_decode(struct nvt *nvt, char *buf, const char *in, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		switch (nvt->state) {
		case NVT_CR:
			nvt->state = NVT_DATA;
			if (c == '\n') {
				buf[out++] = '\n';
				continue;
			}
			buf[out++] = '\r';
			if (c == '\0')
				continue;
			/* FALLTHROUGH */
		case NVT_DATA:
			if (c == '\r')
				nvt->state = NVT_CR;
			else if (c == IAC)
				nvt->state = NVT_IAC;
			else
				buf[out++] = (char)c;
			break;
		case NVT_IAC:
			if (c == IAC) {
				buf[out++] = (char)c;
				nvt->state = NVT_DATA;
			} else if (c >= WILL && c <= DONT) {
				nvt->state = NVT_OPTION;
			} else {
				nvt->state = c == SB ? NVT_SUB : NVT_DATA;
			}
			break;
		case NVT_OPTION:
			nvt->state = NVT_DATA;
			break;
		case NVT_SUB:
			if (c == IAC)
				nvt->state = NVT_SUB_IAC;
			break;
		case NVT_SUB_IAC:
			nvt->state = c == SE ? NVT_DATA : NVT_SUB;
			break;
		}
	}
	return out;
}

int
nvt_signature_prefix(const char *buf, size_t len)
{
	return memcmp(buf, NVT_SIGNATURE, len < NVT_SIGNATURE_LEN ? len : NVT_SIGNATURE_LEN) == 0;
}
