/* SPDX-License-Identifier: ISC */
/*
 * input.h - one file tcpx send uploads: opened, sized, named, and (framed)
 * hashed before anything is sent, so that the header can declare its
 * SHA-256.  Standard input that is not a regular file is spooled first.
 */
#ifndef TCPX_INPUT_H
#define TCPX_INPUT_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "client/client.h"
#include "wire/frame.h"
#include "wire/receipt.h"

struct input {
	const char *path;               /* as given; "-" for standard input */
	const char *label;              /* for messages, escaped */
	char name[FRAME_NAME_MAX + 1];  /* framed: the name sent, sanitised */
	int fd;
	off_t start;                    /* where the data starts in fd */
	unsigned long long size;
	bool regular;                   /* a regular file named by path: can be resumed across runs */
	struct stat st;                 /* with regular */
	bool hashed;
	unsigned char sha256[SHA256_LEN];
	char hex[SHA256_LEN * 2 + 1];
};

/*
 * Opens path (label for messages) as opt says, and with !opt->raw hashes it
 * (buf: a scratch buffer of len bytes).  EXIT_OK, or an exit status
 * reported; in->fd is -1 or open either way, for input_close().
 */
int input_open(const struct tcpx_opts *opt, const char *path, const char *label, struct input *in,
    char *buf, size_t len);
/* Puts fd at byte offset of the data: 0, or -1 with errno. */
int input_seek(struct input *in, unsigned long long offset);
void input_close(struct input *in);
/* Sets in->hex from in->sha256. */
void input_hex(struct input *in);

#endif
