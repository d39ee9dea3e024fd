/* SPDX-License-Identifier: ISC */
/*
 * main.c - command line, start-up and hand-over to the accept loop.
 * All signals are blocked before any thread exists, so every thread
 * inherits the mask and only the signalfd in server.c sees them.
 */
#include <getopt.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/gen.h"
#include "daemon/identity.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/metrics_http.h"
#include "daemon/server.h"
#include "daemon/services/retention.h"
#include "wire/auth.h"

#define EXIT_USAGE 2

/*
 * Every error line tcpxd writes, at start-up, with -t and on the command
 * line, starts "tcpxd: error: ", the form of the log's error lines.
 */
static void __attribute__((format(printf, 1, 2)))
error_line(const char *fmt, ...)
{
	va_list ap;

	fputs("tcpxd: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: tcpxd [-c FILE] [-t] [-V] [-h]\n"
	    "       tcpxd --prune [--dry-run] [-c FILE]\n"
	    "       tcpxd --hash-token < TOKEN-FILE\n"
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -t, --check-config   validate the configuration, print the effective settings, exit\n"
	    "      --prune          remove what retention = { ... } allows once, and exit\n"
	    "      --dry-run        with --prune: only print what it would remove\n"
	    "      --hash-token     read a client token on standard input, print its token_sha256 line\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           print this help and exit\n",
	    TCPXD_DEFAULT_CONFIG);
}

/* tcpxd -t: everything start-up checks, except binding the ports. */
static int
check_config(const char *path)
{
	struct config *cfg;
	struct gen *g;
	char err[1024];

	if (cfg_load(path, &cfg, err, sizeof(err)) < 0) {
		error_line("%s", err);
		return 1;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];
		char reason[512];

		if (listener_resolve_check(l, reason, sizeof(reason)) < 0) {
			error_line("%s:%d: listener \"%s\": %s", l->file, l->line, l->name, reason);
			cfg_free(cfg);
			return 1;
		}
	}
	if (listener_find_conflict(cfg, false, err, sizeof(err)) < 0 ||
	    metrics_http_check(cfg, err, sizeof(err)) < 0) {
		error_line("%s", err);
		cfg_free(cfg);
		return 1;
	}
	if ((g = gen_check(cfg, err, sizeof(err))) == NULL) {
		error_line("%s", err);
		return 1;
	}
	cfg_print(g->cfg, stdout);
	fprintf(stderr, "tcpxd: %s: configuration is valid\n", path);
	gen_unref(g);
	return 0;
}

/*
 * tcpxd --hash-token: the token on standard input (one line; its newline
 * is not part of it), never on the command line, where ps would show it.
 * Prints the line to paste into a client of tcpxd.conf.
 */
static int
hash_token(void)
{
	char buf[AUTH_TOKEN_MAX + 3];
	unsigned char digest[IDENTITY_DIGEST_LEN];
	size_t len = fread(buf, 1, sizeof(buf), stdin);
	int rc = 1;

	if (ferror(stdin)) {
		error_line("--hash-token: cannot read standard input");
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (!auth_token_valid(buf, len)) {
		error_line("--hash-token: a token is one line of 16 to %d characters of "
		    "A-Z a-z 0-9 - . _ ~ + / =", AUTH_TOKEN_MAX);
		goto out;
	}
	if (identity_token_digest(buf, len, digest) < 0) {
		error_line("--hash-token: SHA-256 failed");
		goto out;
	}
	printf("token_sha256 = \"");
	for (size_t i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf("\";\n");
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* tcpxd --prune [--dry-run]: one retention pass over the listeners of path, then exit. */
static int
prune(const char *path, bool dry_run)
{
	struct config *cfg;
	char err[1024];
	int rc;

	if (cfg_load(path, &cfg, err, sizeof(err)) < 0) {
		error_line("%s", err);
		return 1;
	}
	log_init();
	log_set_level(cfg->log_level);
	rc = retention_pass(cfg, dry_run, stdout);
	cfg_free(cfg);
	if (fflush(stdout) != 0)
		rc = -1;
	return rc < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "hash-token", no_argument, NULL, 'H' },
		{ "prune", no_argument, NULL, 'P' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = TCPXD_DEFAULT_CONFIG;
	struct config *cfg;
	char err[1024], text[LOG_TEXT_MAX(sizeof(err))];
	sigset_t all;
	int opt, check = 0, version = 0, help = 0, hash = 0, prune_once = 0, dry_run = 0;

	opterr = 0;
	/* Options are all read before any is acted on: an extra operand anywhere is an error. */
	while ((opt = getopt_long(argc, argv, ":c:tVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check = 1; break;
		case 'V': version = 1; break;
		case 'h': help = 1; break;
		case 'H': hash = 1; break;
		case 'P': prune_once = 1; break;
		case 'D': dry_run = 1; break;
		case ':':
			error_line("option %s needs a value (try tcpxd --help)", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			/* getopt sets optopt to a known option's letter when "--version=x" gave it a value. */
			if (optopt != 0 && strchr("tVhHPD", optopt) != NULL && argv[optind - 1][1] == '-')
				error_line("option %.*s takes no value (try tcpxd --help)",
				    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else if (optopt != 0)
				error_line("unknown option -%c (try tcpxd --help)", optopt);
			else
				error_line("unknown option %s (try tcpxd --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		error_line("unexpected argument \"%s\" (try tcpxd --help)", argv[optind]);
		return EXIT_USAGE;
	}
	if (*path == '\0') {
		error_line("option --config needs a file name, not an empty string (try tcpxd --help)");
		return EXIT_USAGE;
	}
	if (help) {
		usage(stdout);
		return 0;
	}
	if (version) {
		printf("tcpxd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (hash)
		return hash_token();
	if (dry_run && !prune_once) {
		error_line("option --dry-run only goes with --prune (try tcpxd --help)");
		return EXIT_USAGE;
	}
	if (prune_once)
		return prune(path, dry_run);
	if (check)
		return check_config(path);

	sigfillset(&all);
	/* Left deliverable: the service manager's watchdog kills a hung tcpxd with SIGABRT. */
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	log_init();
	if (cfg_load(path, &cfg, err, sizeof(err)) < 0) {
		log_errx("%s", log_text(text, sizeof(text), err));
		return 1;
	}
	/* From here on every line is in the configured form. */
	log_set_format(cfg->log_format);
	/* Host names resolved: two listeners that cannot both bind fail before either does. */
	if (listener_find_conflict(cfg, false, err, sizeof(err)) < 0) {
		log_errx("%s", log_text(text, sizeof(text), err));
		cfg_free(cfg);
		return 1;
	}
	if (server_start(cfg, err, sizeof(err)) < 0) {
		log_errx("%s", log_text(text, sizeof(text), err));
		return 1;
	}
	return server_run();
}
