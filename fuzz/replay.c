/* SPDX-License-Identifier: ISC */
/*
 * replay.c - a main() for a fuzz target without libFuzzer: feeds each
 * file named on the command line (or each file in a named directory) to
 * LLVMFuzzerTestOneInput once.  "make check" links one per target and
 * replays the seed corpora with the build's own compiler and sanitizers.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *data;
	size_t size, got = 0;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	size = (size_t)st.st_size;
	/* Exactly size bytes, so that a read past the input is caught by ASan. */
	if ((data = malloc(size ? size : 1)) == NULL)
		abort();
	while (got < size) {
		size_t n = fread(data + got, 1, size - got, fp);

		if (n == 0)
			break;
		got += n;
	}
	fclose(fp);
	if (got != size) {
		fprintf(stderr, "%s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int
replay(const char *path, unsigned *count)
{
	struct dirent **names;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			if (replay(sub, count) < 0)
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (replay(argv[i], &count) < 0)
			rc = 1;
	}
	printf("%s: replayed %u input%s\n", argv[0], count, count == 1 ? "" : "s");
	return rc;
}
