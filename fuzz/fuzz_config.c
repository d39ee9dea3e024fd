/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c - cfg_load() on any file content.  The input is written
 * to one memfd (a /dev/shm file if memfd_create or /proc is missing),
 * created once, which cfg_load() opens by path.  A refusal must leave one
 * non-empty line in err and *out NULL; an accepted file must print
 * (cfg_print) as a file that loads and prints the same again.  Nothing may
 * leak, which LeakSanitizer checks after every input.  Inputs with
 * @include are skipped: they would read arbitrary files of this host.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];
static char shm_path[64];

static void
remove_shm(void)
{
	if (shm_path[0] != '\0')
		unlink(shm_path);
}

static void
open_file(void)
{
	fd = memfd_create("tcpxd-fuzz-config", MFD_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (fchmod(fd, 0600) == 0 && access(path, R_OK) == 0)
			return;
		close(fd);
	}
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/tcpxd-fuzz-config.XXXXXX");
	if ((fd = mkstemp(shm_path)) < 0) {
		perror("fuzz_config: memfd_create and mkstemp /dev/shm");
		abort();
	}
	atexit(remove_shm);
	snprintf(path, sizeof(path), "%s", shm_path);
}

static void
set_content(const void *data, size_t size)
{
	const char *p = data;

	if (ftruncate(fd, 0) < 0)
		abort();
	for (off_t off = 0; size > 0;) {
		ssize_t n = pwrite(fd, p, size, off);

		if (n <= 0)
			abort();
		p += n;
		off += n;
		size -= (size_t)n;
	}
}

/* cfg_print's output, NUL-terminated, in a malloc'd buffer. */
static char *
print(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *fp = open_memstream(&text, len);

	if (fp == NULL)
		abort();
	cfg_print(cfg, fp);
	if (fclose(fp) != 0)
		abort();
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = (struct config *)&fd, *cfg2 = NULL;
	char err[1024];
	char *text, *text2;
	size_t len, len2;

	if (fd < 0)
		open_file();
	if (size > 0 && memmem(data, size, "@include", 8) != NULL)
		return 0;
	set_content(data, size);
	memset(err, 0, sizeof(err));
	if (cfg_load(path, &cfg, err, sizeof(err)) < 0) {
		CHECK(cfg == NULL);
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		return 0;
	}
	CHECK(cfg != NULL && cfg->n_listeners >= 1);
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];

		CHECK(l->name != NULL && l->address != NULL);
		CHECK(l->mode != MODE_RECEIVE || (l->output_dir != NULL && l->output_dir[0] == '/'));
	}
	/* The printed settings are a configuration file that means the same. */
	text = print(cfg, &len);
	set_content(text, len);
	if (cfg_load(path, &cfg2, err, sizeof(err)) < 0) {
		fprintf(stderr, "printed configuration does not load: %s\n%s", err, text);
		abort();
	}
	text2 = print(cfg2, &len2);
	CHECK(len2 == len && memcmp(text, text2, len) == 0);
	free(text2);
	free(text);
	cfg_free(cfg2);
	cfg_free(cfg);
	return 0;
}
