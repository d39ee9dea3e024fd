/* SPDX-License-Identifier: ISC */
/*
 * cfgscan.h - tcpxd.conf as text, read before libconfig parses it: the
 * files themselves (regular, not world-writable, @include targets that
 * exist), every integer exactly as written, and duplicate keys by name.
 */
#ifndef TCPXD_CFGSCAN_H
#define TCPXD_CFGSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An integer literal: its exact value and what libconfig 1.5 makes of it. */
struct cfgscan_int {
	int line;
	bool negative;
	bool overflow;              /* magnitude beyond 2^64 - 1 */
	uint64_t magnitude;
	long long libconfig;        /* the value libconfig 1.5 stores for this text */
	char text[48];              /* as written (cut if longer) */
};

/* A key set twice in one group. */
struct cfgscan_dup {
	int line, first_line;
	char name[64];
};

struct cfgscan_file {
	char *name;                 /* as libconfig names it: NULL for the main file */
	char *path;                 /* as it can be opened from the working directory */
	struct cfgscan_int *ints;
	size_t n_ints, next;
	struct cfgscan_dup *dups;
	size_t n_dups;
};

struct cfgscan {
	char *text;                 /* the main file, NUL-terminated */
	struct cfgscan_file *files; /* files[0] is the main file */
	size_t n_files;
};

/*
 * Reads path and every file it @includes (libconfig resolves those against
 * include_dir).  On failure returns -1 with "FILE[:LINE]: reason" in err.
 */
int cfgscan_load(struct cfgscan *sc, const char *path, const char *include_dir,
    char *err, size_t errlen);
void cfgscan_free(struct cfgscan *sc);
/* The scanned file libconfig calls name (NULL = main file), or NULL. */
struct cfgscan_file *cfgscan_file(const struct cfgscan *sc, const char *name);
/* The integer of file f that the next integer setting in document order holds. */
const struct cfgscan_int *cfgscan_next_int(struct cfgscan_file *f);

#endif
