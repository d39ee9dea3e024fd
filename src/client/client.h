/* SPDX-License-Identifier: ISC */
/*
 * client.h - what every part of tcpx shares: the exit statuses (man tcpx)
 * and the options main() parsed, handed to each command.
 */
#ifndef TCPX_CLIENT_H
#define TCPX_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,       /* the daemon answered ERR */
	EXIT_MISMATCH = 4,      /* receipt or echo differs from what was sent */
	EXIT_NETWORK = 5,       /* cannot connect, timeout, reset, no answer */
	EXIT_LOCAL = 6,         /* cannot read the file, or a TLS file (--ca, --cert, --key) */
};

struct tcpx_opts {
	bool quiet;
	bool raw;
	int resume;             /* send: 1 --resume, 0 --no-resume, -1 for regular files only */
	unsigned retries;       /* send: retries of a broken connection, per file */
	const char *name;
	unsigned timeout;       /* seconds, for connect and for each I/O */
	long count;
	size_t size;
	struct timespec interval;
	bool tls, insecure;
	const char *ca, *cert, *key;
	SSL_CTX *tls_ctx;       /* with --tls: made once (link_tls_setup()), used for every connection */
	const char *token;      /* --token-file or TCPX_TOKEN: sent in an AUTH line; else NULL */
	size_t token_len;
};

/* The commands: operands in argv[0..argc), an exit status back. */
int send_cmd(const struct tcpx_opts *opt, int argc, char **argv);
int echo_cmd(const struct tcpx_opts *opt, int argc, char **argv);
int ping_cmd(const struct tcpx_opts *opt, int argc, char **argv);

#endif
