/* SPDX-License-Identifier: ISC */
/* config.h - tcpxd.conf: loading, validation against the key table, printing. */
#ifndef TCPXD_CONFIG_H
#define TCPXD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "daemon/log.h"
#include "wire/addr.h"

/* Longest listener name; names also match systemd FileDescriptorName=. */
#define LISTENER_NAME_MAX 64

enum listener_mode { MODE_ECHO, MODE_RECEIVE };

/* min_free_inodes = "auto": 1 % of the file system's inodes, at least 1000 (store.h). */
#define CFG_INODES_AUTO UINT_MAX
enum listener_protocol { PROTO_AUTO, PROTO_RAW, PROTO_FRAMED };

/* A listener's tls = { ... } group; certificate == NULL means plain TCP. */
struct tls_cfg {
	char *certificate;          /* PEM chain, leaf first */
	char *key;                  /* PEM private key */
	char *ca;                   /* PEM CA bundle for client certificates, or NULL */
	bool verify_client;         /* require a client certificate signed by ca */
	int line;
};

/* Longest identity name (clients = ( { name = ...; } )): the same characters as listener names. */
#define IDENTITY_NAME_MAX 64
/* A token's SHA-256, as token_sha256 holds it. */
#define IDENTITY_DIGEST_LEN 32

/*
 * One client identity (clients = ( { ... } )), matched by a verified TLS
 * client certificate's subject or SAN, by a bearer token whose SHA-256 the
 * configuration holds (never the token), or by the source address.  The
 * limits of an identity (quotas, rate, connections) live here too.
 */
struct identity_cfg {
	char *name;
	unsigned char (*tokens)[IDENTITY_DIGEST_LEN];   /* token_sha256: one, or several to rotate */
	size_t n_tokens;
	char **certificates;        /* certificate: subjects (RFC 2253) or SAN names */
	size_t n_certificates;
	struct cidr_list from;      /* source networks */
	char *subdir;               /* files go to output_dir/subdir; NULL = output_dir itself */
	uint64_t quota_bytes;       /* bytes its files may hold together; 0 = not limited */
	unsigned quota_files;       /* files it may hold; 0 = not limited */
	uint64_t max_rate;          /* bytes/s of all its connections together; 0 = not limited */
	unsigned max_connections;   /* its connections at once, all listeners; 0 = not limited */
	int line;
};

/*
 * A receive listener's on_stored = { ... }: a program run (exec, no shell)
 * for every stored file after its receipt (hook.h).  command == NULL: none.
 */
struct hook_cfg {
	char **command;             /* argv: an absolute path, then its arguments */
	size_t n_command;
	unsigned max_running;       /* runs of this listener at once */
	unsigned timeout;           /* seconds a run may take before it is killed */
	unsigned retries;           /* runs after the first that failed */
	int line;
};

/*
 * A receive listener's retention = { ... } (retention.h); all 0: none.
 * Ages in seconds.
 */
struct retention_cfg {
	bool enabled;
	uint64_t max_age;           /* older files are removed; 0 = no age limit */
	uint64_t max_total;         /* the oldest are removed while the files hold more; 0 = none */
	uint64_t min_keep;          /* never a file younger than this */
	int line;
};

/* One listener's effective settings: its own keys over the global defaults. */
struct listener_cfg {
	char *name;
	enum listener_mode mode;
	char *address;
	unsigned port;              /* 0 = kernel-chosen (tests) */
	bool v6only;
	bool reuseport;             /* SO_REUSEPORT: several processes share the port */
	bool proxy_protocol;        /* peers in proxy_from must send a PROXY header */
	struct cidr_list proxy_from;
	struct tls_cfg tls;
	enum listener_protocol protocol;
	char *output_dir;
	uint64_t buffer_size;
	uint64_t max_file_size;
	uint64_t min_free_space;
	unsigned min_free_inodes;   /* CFG_INODES_AUTO: from the file system's size */
	bool store_empty;           /* a connection that sends nothing stores a 0-byte file */
	unsigned resume_ttl;        /* seconds a partial upload is kept after its last byte */
	unsigned max_partials;      /* partial uploads the listener keeps */
	unsigned file_mode;
	unsigned max_per_ip;
	unsigned per_ip_prefix4;    /* max_per_ip counts per prefix of this length (bits) */
	unsigned per_ip_prefix6;
	unsigned idle_timeout;
	unsigned park_after;        /* ms idle at a message boundary before it parks (park.h); 0 = never */
	uint64_t max_rate;          /* bytes/s of all its connections together; 0 = not limited */
	unsigned max_connections;   /* its own connections at once; 0 = only the global limit */
	struct cidr_list allow;
	struct cidr_list deny;
	char **clients;             /* identity names it accepts as written; NULL = every identity */
	size_t n_clients;
	const struct identity_cfg **ids;        /* resolved: the identities it accepts (cfg->clients) */
	size_t n_ids;
	bool require_identity;      /* an unidentified client gets ERR 401 (echo: is closed) */
	struct hook_cfg on_stored;
	struct retention_cfg retention;
	char *file;                 /* where it was defined, for messages */
	int line;
	int output_dir_line;
};

/*
 * metrics = { address = ...; port = ...; allow = [ ... ]; }: the Prometheus
 * endpoint (metrics_http.h).  address == NULL: none configured.
 */
struct metrics_cfg {
	char *address;
	unsigned port;              /* 0 = kernel-chosen (tests) */
	struct cidr_list allow;     /* scrapers let in; empty = every client */
	char *file;                 /* where it was defined, for messages */
	int line;
};

struct config {
	char *path;
	unsigned max_connections;
	unsigned shutdown_timeout;
	enum log_level log_level;
	enum log_format log_format;
	uint64_t thread_stack_size;
	struct listener_cfg *listeners;
	size_t n_listeners;
	struct identity_cfg *clients;   /* clients = ( { name = ...; ... } ) */
	size_t n_clients;
	struct metrics_cfg metrics;
};

/*
 * Parses and validates path.  On failure returns -1 and writes one line
 * "FILE:LINE: reason" (or "FILE: reason") to err.
 */
int cfg_load(const char *path, struct config **out, char *err, size_t errlen);
void cfg_free(struct config *cfg);
/* Prints the effective settings in tcpxd.conf syntax. */
void cfg_print(const struct config *cfg, FILE *fp);
const char *cfg_mode_name(enum listener_mode mode);
/* The identity of that name, or NULL. */
const struct identity_cfg *cfg_identity(const struct config *cfg, const char *name);
/*
 * The output directories cfg opens: each receive listener's, and the
 * subdir of every identity one accepts.  Each may get a partial directory.
 */
size_t cfg_output_dirs(const struct config *cfg);
/* Whether text is a valid identity subdir: one path component (see tcpxd.conf(5)). */
bool cfg_subdir_valid(const char *text);

#endif
