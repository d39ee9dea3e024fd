/* SPDX-License-Identifier: ISC */
/* stats.c - the process-wide counters (see stats.h). */
#include "daemon/stats.h"

struct stats stats;
