/* SPDX-License-Identifier: ISC */
/* stats.c - the process-wide counters (see stats.h). */
#include "stats.h"

struct stats stats;
