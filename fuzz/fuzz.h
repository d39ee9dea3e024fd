/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point, and
 * CHECK(), an invariant test that aborts (so libFuzzer and the replay
 * driver both report it) whatever NDEBUG says.
 */
#ifndef TCPXD_FUZZ_H
#define TCPXD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* A NUL-terminated heap copy of the input, so that ASan sees any read past its end. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
