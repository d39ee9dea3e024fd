/* SPDX-License-Identifier: ISC */
/* progress.h - the progress bar of tcpx send, on standard error when it is a terminal. */
#ifndef TCPX_PROGRESS_H
#define TCPX_PROGRESS_H

#include <stdbool.h>

struct progress {
	bool on;
	const char *label;
	unsigned long long total, done;
	unsigned long long base;        /* done already when start_ms was taken (a resumed upload) */
	long long start_ms, drawn_ms;
};

/* Draws p if on, at most every 200 ms unless last (which ends the line). */
void progress_draw(struct progress *p, bool last);

#endif
