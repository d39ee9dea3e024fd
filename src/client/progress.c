/* SPDX-License-Identifier: ISC */
/* progress.c - the progress bar: bytes, percentage, rate and time left, redrawn in place. */
#include <math.h>
#include <stdio.h>

#include "client/progress.h"
#include "client/report.h"
#include "io/sys.h"

#define PROGRESS_EVERY_MS 200

static void
human(char *buf, size_t len, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void
progress_draw(struct progress *p, bool last)
{
	long long now = sys_now_ms();
	double secs = (double)(now - p->start_ms) / 1000.0, rate;
	char done[32], total[32], speed[32], eta[32] = "";

	if (!p->on || (!last && now - p->drawn_ms < PROGRESS_EVERY_MS))
		return;
	p->drawn_ms = now;
	/* A resumed upload's rate counts only the bytes moved since it resumed. */
	rate = secs > 0 && p->done >= p->base ? (double)(p->done - p->base) / secs : 0;
	human(done, sizeof(done), (double)p->done);
	human(total, sizeof(total), (double)p->total);
	human(speed, sizeof(speed), rate);
	if (!last && rate > 0 && p->total > p->done) {
		long left = lround((double)(p->total - p->done) / rate);

		snprintf(eta, sizeof(eta), " ETA %ld:%02ld", left / 60, left % 60);
	}
	fprintf(stderr, "\r%-24.24s %3d%% %s / %s  %s/s%s\033[K%s", p->label,
	    p->total ? (int)(100 * p->done / p->total) : 100, done, total, speed, eta,
	    last ? "\n" : "");
	report_line_open(!last);
}
