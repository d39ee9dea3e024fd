/* SPDX-License-Identifier: ISC */
/*
 * main.c - tcpx: framed (or raw) uploads whose receipt is checked against
 * what was sent, echo probes that check what comes back, and echo
 * round-trip timing, over plain TCP or TLS.  Parses the options and runs
 * the command.  Exit status tells refused, mismatch and network failures
 * apart (see man tcpx).
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "client/link.h"
#include "client/report.h"
#include "wire/auth.h"

static const char *token_file;
static char token[AUTH_TOKEN_MAX + 3];

static struct tcpx_opts opt = { .resume = -1, .retries = 5, .timeout = 30, .count = 5, .size = 64,
    .interval = { 0, 200000000 } };

static void
usage(FILE *fp)
{
	fputs("usage: tcpx send [-q] [--raw] [--name NAME] [--[no-]resume] [--retries N]\n"
	    "                 [--timeout SECS] [--token-file FILE] [TLS] FILE|DIR... HOST:PORT\n"
	    "       tcpx echo [--timeout SECS] [TLS] HOST:PORT [MESSAGE]\n"
	    "       tcpx ping [-c COUNT] [-s SIZE] [-i SECS] [--timeout SECS] [TLS] HOST:PORT\n"
	    "TLS: --tls [--ca FILE | --insecure] [--cert FILE [--key FILE]]\n"
	    "A token (--token-file FILE, or else $TCPX_TOKEN) identifies the client.\n"
	    "FILE may be - for standard input (with --name NAME).  HOST may be a name,\n"
	    "an IPv4 address or [IPv6].  Options may also come before the command;\n"
	    "-- ends them.  See man tcpx.\n", fp);
}


/* A whole number written as plain decimal digits, from min to max: 0, or -1. */
static int
parse_integer(const char *text, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = text;

	/* No sign, space, exponent, fraction or base prefix: strtoull would take some of them. */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (unsigned)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (p == text || *p != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Seconds as digits with at most 9 decimals ("0.25"), kept exact, up to max_secs. */
static int
parse_seconds(const char *text, unsigned long long max_secs, struct timespec *out)
{
	char whole[24];
	const char *dot = strchr(text, '.');
	size_t wlen = dot ? (size_t)(dot - text) : strlen(text);
	unsigned long long secs, nsec = 0;
	size_t digits = 0;

	if (wlen == 0 || wlen >= sizeof(whole))
		return -1;
	memcpy(whole, text, wlen);
	whole[wlen] = '\0';
	if (parse_integer(whole, 0, max_secs, &secs) < 0)
		return -1;
	if (dot != NULL) {
		for (const char *p = dot + 1; *p != '\0'; p++, digits++) {
			if (*p < '0' || *p > '9' || digits == 9)
				return -1;
			nsec = nsec * 10 + (unsigned)(*p - '0');
		}
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	if (secs == max_secs && nsec > 0)
		return -1;
	*out = (struct timespec){ .tv_sec = (time_t)secs, .tv_nsec = (long)nsec };
	return 0;
}

static bool
is_command(const char *word)
{
	return strcmp(word, "send") == 0 || strcmp(word, "echo") == 0 || strcmp(word, "ping") == 0;
}

/*
 * Options may come before the command, after it and between operands (as
 * git's and ip's do), whatever POSIXLY_CORRECT says; "--" ends them.  -1
 * with the command and its operands moved, in order, to argv[0..*count),
 * or an exit status to leave with (after --help, --version or an error).
 */
static int
parse_options(int argc, char **argv, int *count)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "raw", no_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "resume", no_argument, NULL, 'R' },
		{ "no-resume", no_argument, NULL, 'N' },
		{ "retries", required_argument, NULL, 'y' },
		{ "timeout", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "tls", no_argument, NULL, 'T' },
		{ "ca", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "token-file", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	bool version = false;
	int o, n = 0;

	opterr = 0;
	/* "-": each operand comes back as option 1, in place, so none can be taken for an option. */
	while ((o = getopt_long(argc, argv, "-:qc:s:i:hV", opts, NULL)) != -1) {
		switch (o) {
		case 1: argv[n++] = optarg; break;      /* n < optind: never overwrites what is unread */
		case 'q': opt.quiet = true; break;
		case 'r': opt.raw = true; break;
		case 'n': opt.name = optarg; break;
		case 'R': opt.resume = 1; break;
		case 'N': opt.resume = 0; break;
		case 'y':
			if (parse_integer(optarg, 0, 1000, &v) < 0)
				return report_fail(EXIT_USAGE,
				    "--retries \"%s\": not a whole number from 0 to 1000", optarg);
			opt.retries = (unsigned)v;
			break;
		case 't':
			if (parse_integer(optarg, 1, 86400, &v) < 0)
				return report_fail(EXIT_USAGE,
				    "--timeout \"%s\": not whole seconds from 1 to 86400", optarg);
			opt.timeout = (unsigned)v;
			break;
		case 'c':
			if (parse_integer(optarg, 1, 10000000, &v) < 0)
				return report_fail(EXIT_USAGE,
				    "-c \"%s\": not a whole number from 1 to 10000000", optarg);
			opt.count = (long)v;
			break;
		case 's':
			if (parse_integer(optarg, 1, 1 << 24, &v) < 0)
				return report_fail(EXIT_USAGE,
				    "-s \"%s\": not a whole number of bytes from 1 to 16777216", optarg);
			opt.size = (size_t)v;
			break;
		case 'i':
			if (parse_seconds(optarg, 3600, &opt.interval) < 0)
				return report_fail(EXIT_USAGE, "-i \"%s\": not seconds from 0 to 3600 "
				    "(digits, at most 9 after a decimal point)", optarg);
			break;
		case 'T': opt.tls = true; break;
		case 'A': opt.ca = optarg; break;
		case 'k': opt.insecure = true; break;
		case 'C': opt.cert = optarg; break;
		case 'K': opt.key = optarg; break;
		case 'F': token_file = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': version = true; break;
		case ':':
			return report_fail(EXIT_USAGE, "option %s needs a value (try tcpx --help)",
			    argv[optind - 1]);
		default:
			/* optopt names a short option, also inside a cluster such as -qz. */
			if (optopt > 0 && optopt != '?')
				return report_fail(EXIT_USAGE, "unknown option -%c (try tcpx --help)", optopt);
			return report_fail(EXIT_USAGE, "unknown option %s (try tcpx --help)", argv[optind - 1]);
		}
	}
	while (optind < argc)
		argv[n++] = argv[optind++];     /* after "--" */
	if (version) {
		if (n > 0)
			return report_fail(EXIT_USAGE,
			    "--version takes no command or argument (try tcpx --help)");
		printf("tcpx %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (n == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!is_command(argv[0]))
		return report_fail(EXIT_USAGE, "unknown command \"%s\" (try tcpx --help)", argv[0]);
	*count = n;
	return -1;
}

/*
 * The client's token: the first line of --token-file, or else $TCPX_TOKEN;
 * never an option's value, which ps would show to every user.  EXIT_OK
 * with opt.token set (or NULL: none), or an exit status, reported.
 */
static int
load_token(void)
{
	const char *env = getenv("TCPX_TOKEN");
	size_t len;

	if (token_file != NULL) {
		FILE *fp = fopen(token_file, "re");

		if (fp == NULL)
			return report_fail(EXIT_LOCAL, "--token-file %s: %s", token_file, strerror(errno));
		len = fread(token, 1, sizeof(token), fp);
		if (ferror(fp)) {
			fclose(fp);
			return report_fail(EXIT_LOCAL, "--token-file %s: cannot read it", token_file);
		}
		fclose(fp);
	} else if (env != NULL && *env != '\0') {
		len = strnlen(env, sizeof(token));
		memcpy(token, env, len);
	} else {
		return EXIT_OK;
	}
	/* The first line: its newline is not part of the token. */
	if (memchr(token, '\n', len) != NULL)
		len = (size_t)((char *)memchr(token, '\n', len) - token);
	if (len > 0 && token[len - 1] == '\r')
		len--;
	if (!auth_token_valid(token, len))
		return report_fail(EXIT_USAGE, "%s: a token is one line of %d to %d characters of "
		    "A-Z a-z 0-9 - . _ ~ + / =", token_file != NULL ? token_file : "TCPX_TOKEN",
		    AUTH_TOKEN_MIN, AUTH_TOKEN_MAX);
	opt.token = token;
	opt.token_len = len;
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	const char *cmd;
	int count = 0, rc;

	/* argv[0] is the program; from argv + 1, the operands replace what was parsed. */
	if ((rc = parse_options(argc, argv, &count)) >= 0)
		return rc;
	cmd = argv[0];
	argc = count - 1;
	argv++;
	if (!opt.tls && (opt.ca || opt.insecure || opt.cert || opt.key))
		return report_fail(EXIT_USAGE, "%s needs --tls", opt.ca ? "--ca" :
		    opt.insecure ? "--insecure" : opt.cert ? "--cert" : "--key");
	if (opt.ca && opt.insecure)
		return report_fail(EXIT_USAGE, "--ca and --insecure exclude each other");
	if (opt.key && !opt.cert)
		return report_fail(EXIT_USAGE, "--key needs --cert");
	/* Echo has no header, so no AUTH line: only send uses a token. */
	if (strcmp(cmd, "send") == 0 && (rc = load_token()) != EXIT_OK)
		return rc;
	if (opt.token != NULL && opt.raw)
		return report_fail(EXIT_USAGE, "a token travels in the framed header: --raw sends "
		    "none (unset TCPX_TOKEN, or drop --raw)");
	/* OpenSSL writes to the socket without MSG_NOSIGNAL: a lost connection must be EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (opt.tls && (rc = link_tls_setup(&opt)) != EXIT_OK)
		return rc;
	if (strcmp(cmd, "send") == 0)
		rc = send_cmd(&opt, argc, argv);
	else if (strcmp(cmd, "echo") == 0)
		rc = echo_cmd(&opt, argc, argv);
	else
		rc = ping_cmd(&opt, argc, argv);
	SSL_CTX_free(opt.tls_ctx);
	OPENSSL_cleanse(token, sizeof(token));
	if (fflush(stdout) != 0) {
		int saved = report_stdout_failed();

		if (rc == EXIT_OK)
			rc = saved;
	}
	return rc;
}
