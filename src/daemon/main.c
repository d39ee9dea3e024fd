/* SPDX-License-Identifier: ISC */
/*
 * main.c - command line, start-up and hand-over to the accept loop.
 * All signals are blocked before any thread exists, so every thread
 * inherits the mask and only the signalfd in server.c sees them.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/gen.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/server.h"

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
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -t, --check-config   validate the configuration, print the effective settings, exit\n"
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
	if (listener_find_conflict(cfg, false, err, sizeof(err)) < 0) {
		error_line("%s", err);
		cfg_free(cfg);
		return 1;
	}
	if ((g = gen_create(cfg, err, sizeof(err))) == NULL) {
		error_line("%s", err);
		return 1;
	}
	cfg_print(g->cfg, stdout);
	fprintf(stderr, "tcpxd: %s: configuration is valid\n", path);
	gen_unref(g);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = TCPXD_DEFAULT_CONFIG;
	struct config *cfg;
	char err[1024], text[LOG_TEXT_MAX(sizeof(err))];
	sigset_t all;
	int opt, check = 0, version = 0, help = 0;

	opterr = 0;
	/* Options are all read before any is acted on: an extra operand anywhere is an error. */
	while ((opt = getopt_long(argc, argv, ":c:tVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check = 1; break;
		case 'V': version = 1; break;
		case 'h': help = 1; break;
		case ':':
			error_line("option %s needs a value (try tcpxd --help)", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			/* getopt sets optopt to a known option's letter when "--version=x" gave it a value. */
			if (optopt != 0 && strchr("tVh", optopt) != NULL && argv[optind - 1][1] == '-')
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
