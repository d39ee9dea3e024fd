/* SPDX-License-Identifier: ISC */
/*
 * config.c - reads tcpxd.conf with libconfig and validates every value
 * against one key table (type, scope, range).  Global keys are defaults
 * that each listener may override.  Unknown keys are errors, because a
 * typo must never silently disable a limit.  Every message names the
 * file and the line.
 */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <net/if.h>
#include <openssl/crypto.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "daemon/cfgscan.h"
#include "daemon/listener.h"
#include "daemon/services/store.h"
#include "wire/size.h"

enum key_type { T_UINT, T_SIZE, T_BOOL, T_STRING, T_PATH, T_LEVEL, T_LOGFMT, T_MODE, T_PROTO,
	T_FILEMODE, T_CIDRS, T_TLS, T_ADDRESS, T_INODES, T_NAMES, T_HOOK, T_RETENTION };

#define S_GLOBAL   1u   /* top level only; offset into struct config */
#define S_LISTENER 2u   /* inside a listener only; offset into struct listener_cfg */
#define S_BOTH     3u   /* global default, listener override; offset into listener_cfg */

struct key_def {
	const char *name;
	enum key_type type;
	unsigned scope;
	size_t offset;
	uint64_t min, max;
	bool receive_only;  /* meaningless on echo listeners: setting it there is an error */
};

#define KB(n) ((uint64_t)(n) << 10)
#define MB(n) ((uint64_t)(n) << 20)
#define LIMIT_BYTES ((uint64_t)1 << 62)
#define G(field) offsetof(struct config, field)
#define L(field) offsetof(struct listener_cfg, field)

static const struct key_def keys[] = {
	{ "max_connections",   T_UINT,     S_GLOBAL,   G(max_connections),   1, 1000000, false },
	{ "shutdown_timeout",  T_UINT,     S_GLOBAL,   G(shutdown_timeout),  0, 3600, false },
	{ "log_level",         T_LEVEL,    S_GLOBAL,   G(log_level),         0, 0, false },
	{ "log_format",        T_LOGFMT,   S_GLOBAL,   G(log_format),        0, 0, false },
	{ "thread_stack_size", T_SIZE,     S_GLOBAL,   G(thread_stack_size), KB(64), MB(64), false },
	{ "name",              T_STRING,   S_LISTENER, L(name),              0, 0, false },
	{ "mode",              T_MODE,     S_LISTENER, L(mode),              0, 0, false },
	{ "address",           T_ADDRESS,  S_LISTENER, L(address),           0, 0, false },
	{ "port",              T_UINT,     S_LISTENER, L(port),              0, 65535, false },
	{ "v6only",            T_BOOL,     S_BOTH,     L(v6only),            0, 0, false },
	{ "reuseport",         T_BOOL,     S_BOTH,     L(reuseport),         0, 0, false },
	{ "proxy_protocol",    T_BOOL,     S_BOTH,     L(proxy_protocol),    0, 0, false },
	{ "proxy_from",        T_CIDRS,    S_BOTH,     L(proxy_from),        0, 0, false },
	{ "tls",               T_TLS,      S_LISTENER, L(tls),               0, 0, false },
	{ "protocol",          T_PROTO,    S_BOTH,     L(protocol),          0, 0, true },
	{ "output_dir",        T_PATH,     S_BOTH,     L(output_dir),        0, 0, true },
	{ "buffer_size",       T_SIZE,     S_BOTH,     L(buffer_size),       KB(1), MB(64), false },
	{ "max_file_size",     T_SIZE,     S_BOTH,     L(max_file_size),     1, LIMIT_BYTES, true },
	{ "min_free_space",    T_SIZE,     S_BOTH,     L(min_free_space),    0, LIMIT_BYTES, true },
	{ "min_free_inodes",   T_INODES,   S_BOTH,     L(min_free_inodes),   0, 1000000000, true },
	{ "store_empty",       T_BOOL,     S_BOTH,     L(store_empty),       0, 0, true },
	{ "resume_ttl",        T_UINT,     S_BOTH,     L(resume_ttl),        60, 31536000, true },
	{ "max_partials",      T_UINT,     S_BOTH,     L(max_partials),      0, 1000000, true },
	{ "file_mode",         T_FILEMODE, S_BOTH,     L(file_mode),         0, 0, true },
	{ "max_per_ip",        T_UINT,     S_BOTH,     L(max_per_ip),        1, 1000000, false },
	{ "per_ip_prefix4",    T_UINT,     S_BOTH,     L(per_ip_prefix4),    1, 32, false },
	{ "per_ip_prefix6",    T_UINT,     S_BOTH,     L(per_ip_prefix6),    1, 128, false },
	{ "idle_timeout",      T_UINT,     S_BOTH,     L(idle_timeout),      1, 86400, false },
	{ "park_after",        T_UINT,     S_BOTH,     L(park_after),        0, 3600000, false },
	/* Inside a listener: that listener's own, below the global total of the same name. */
	{ "max_connections",   T_UINT,     S_LISTENER, L(max_connections),   1, 1000000, false },
	{ "max_rate",          T_SIZE,     S_LISTENER, L(max_rate),          1, LIMIT_BYTES, false },
	{ "allow",             T_CIDRS,    S_BOTH,     L(allow),             0, 0, false },
	{ "deny",              T_CIDRS,    S_BOTH,     L(deny),              0, 0, false },
	{ "clients",           T_NAMES,    S_LISTENER, L(clients),           0, 0, false },
	{ "require_identity",  T_BOOL,     S_BOTH,     L(require_identity),  0, 0, false },
	{ "on_stored",         T_HOOK,     S_LISTENER, L(on_stored),         0, 0, true },
	{ "retention",         T_RETENTION, S_LISTENER, L(retention),        0, 0, true },
};


struct loader {
	const char *path;
	struct cfgscan *scan;
	char *err;
	size_t errlen;
};

/* The key of that name for scope (S_GLOBAL or S_LISTENER), else any of that name, or NULL. */
static const struct key_def *
key_find(const char *name, unsigned scope)
{
	const struct key_def *any = NULL;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (keys[i].scope & scope)
			return &keys[i];
		any = &keys[i];
	}
	return any;
}

#define I(field) offsetof(struct identity_cfg, field)

/* The limits of a client identity (quotas, rate, connections); 0 cannot be written. */
static const struct key_def identity_keys[] = {
	{ "quota_bytes",       T_SIZE,     0,          I(quota_bytes),       1, LIMIT_BYTES, false },
	{ "quota_files",       T_UINT,     0,          I(quota_files),       1, 1000000000, false },
	{ "max_rate",          T_SIZE,     0,          I(max_rate),          1, LIMIT_BYTES, false },
	{ "max_connections",   T_UINT,     0,          I(max_connections),   1, 1000000, false },
};

static const struct key_def *
identity_key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(identity_keys) / sizeof(identity_keys[0]); i++) {
		if (strcmp(identity_keys[i].name, name) == 0)
			return &identity_keys[i];
	}
	return NULL;
}

/*
 * The path of the file libconfig names (NULL: the main file) as it can be
 * opened from the working directory: libconfig names an included file as
 * written after @include, relative to the main file's directory.
 */
static const char *
source_path(const struct loader *ld, const char *name)
{
	const struct cfgscan_file *f = ld->scan ? cfgscan_file(ld->scan, name) : NULL;

	return f != NULL ? f->path : name != NULL ? name : ld->path;
}

static int __attribute__((format(printf, 3, 4)))
fail_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (s != NULL) {
		n = snprintf(ld->err, ld->errlen, "%s:%d: ",
		    source_path(ld, config_setting_source_file(s)), config_setting_source_line(s));
	} else {
		n = snprintf(ld->err, ld->errlen, "%s: ", ld->path);
	}
	if (n < 0 || (size_t)n >= ld->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "an unknown type";
	}
}

/* The integer as written, which cfg_load attached to every integer setting. */
static const struct cfgscan_int *
literal(const config_setting_t *s)
{
	return config_setting_get_hook(s);
}

/* An integer literal within min..max: its exact value. */
static bool
literal_in_range(const struct cfgscan_int *i, uint64_t min, uint64_t max, uint64_t *out)
{
	if (i->overflow || (i->negative && i->magnitude != 0) || i->magnitude < min ||
	    i->magnitude > max)
		return false;
	*out = i->magnitude;
	return true;
}

static int
get_uint(struct loader *ld, const config_setting_t *s, const struct key_def *k, unsigned *out)
{
	uint64_t v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail_at(ld, s, "%s must be an integer, not %s", k->name,
		    type_name(config_setting_type(s)));
	if (!literal_in_range(literal(s), k->min, k->max, &v))
		return fail_at(ld, s, "%s = %s is out of range (%llu..%llu)", k->name,
		    literal(s)->text, (unsigned long long)k->min, (unsigned long long)k->max);
	*out = (unsigned)v;
	return 0;
}

static int
get_size(struct loader *ld, const config_setting_t *s, const struct key_def *k, uint64_t *out)
{
	char lo[32], hi[32], as_written[64];
	uint64_t v;
	bool ok;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		ok = literal_in_range(literal(s), k->min, k->max, &v);
		snprintf(as_written, sizeof(as_written), "%s", literal(s)->text);
		break;
	case CONFIG_TYPE_STRING: {
		const char *text = config_setting_get_string(s);
		int rc = size_parse_checked(text, &v);

		if (rc == SIZE_MALFORMED)
			return fail_at(ld, s, "%s = \"%s\" is not a size (examples: 4096, \"64K\", \"1G\")",
			    k->name, text);
		ok = rc == 0 && v >= k->min && v <= k->max;
		snprintf(as_written, sizeof(as_written), "\"%.40s%s\"", text,
		    strlen(text) > 40 ? "..." : "");
		break;
	}
	default:
		return fail_at(ld, s, "%s must be a size (integer or string such as \"64K\"), not %s",
		    k->name, type_name(config_setting_type(s)));
	}
	if (!ok) {
		size_format(k->min, lo, sizeof(lo));
		size_format(k->max, hi, sizeof(hi));
		return fail_at(ld, s, "%s = %s is out of range (%s..%s)", k->name, as_written, lo, hi);
	}
	*out = v;
	return 0;
}

static int
get_string(struct loader *ld, const config_setting_t *s, const char *what, const char **out)
{
	const char *text = config_setting_type(s) == CONFIG_TYPE_STRING ?
	    config_setting_get_string(s) : NULL;

	/* fail_at() always returns -1; spelled out so analysers need not follow varargs. */
	if (text == NULL) {
		fail_at(ld, s, "%s must be a string, not %s", what, type_name(config_setting_type(s)));
		return -1;
	}
	if (*text == '\0') {
		fail_at(ld, s, "%s must not be empty", what);
		return -1;
	}
	*out = text;
	return 0;
}

static int
get_cidrs(struct loader *ld, const config_setting_t *s, const struct key_def *k,
    struct cidr_list *out)
{
	int type = config_setting_type(s), n;
	struct cidr *items;
	char why[128];

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return fail_at(ld, s, "%s must be a list of CIDR strings such as [ \"10.0.0.0/8\" ]",
		    k->name);
	n = config_setting_length(s);
	items = calloc(n > 0 ? (size_t)n : 1, sizeof(*items));
	if (items == NULL)
		return fail_at(ld, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *text;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			free(items);
			return fail_at(ld, e, "%s entries must be strings", k->name);
		}
		text = config_setting_get_string(e);
		if (cidr_parse_why(text, &items[i], why, sizeof(why)) < 0) {
			free(items);
			return fail_at(ld, e, "%s: \"%s\" is not a valid address or CIDR: %s", k->name,
			    text, why);
		}
	}
	free(out->items);
	out->items = items;
	out->count = (size_t)n;
	return 0;
}

/* A string setting, copied into *out; absolute: it must be an absolute path. */
static int
copy_string(struct loader *ld, const config_setting_t *s, const char *what, bool absolute,
    char **out)
{
	const char *text;
	char *copy;

	if (get_string(ld, s, what, &text) < 0)
		return -1;
	if (absolute && text[0] != '/')
		return fail_at(ld, s, "%s \"%s\" must be an absolute path", what, text);
	if ((copy = strdup(text)) == NULL)
		return fail_at(ld, s, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

/* A label of digits, or 0x and hex digits: what inet_aton reads as a number. */
static bool
numeric_label(const char *label)
{
	bool hex = label[0] == '0' && (label[1] == 'x' || label[1] == 'X');
	const char *digits = hex ? label + 2 : label;

	return *digits != '\0' &&
	    strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789") == strlen(digits);
}

/*
 * address: an IPv4 address in its standard form, an IPv6 address (bare or
 * in brackets, as tcpx writes it), or a host name.  The forms getaddrinfo
 * would read through inet_aton ("0", "127.1", "127.000.000.001") are
 * refused: they bind something other than what they seem to say.  Stored
 * without brackets.
 */
static int
get_address(struct loader *ld, const config_setting_t *s, char **out)
{
	const char *text, *last_dot;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1], *copy;
	struct in6_addr a6;
	struct in_addr a4;
	size_t len;

	if (get_string(ld, s, "address", &text) < 0)
		return -1;
	len = strlen(text);
	if (strcmp(text, "*") == 0)
		return fail_at(ld, s, "address \"*\" is not accepted: write \"::\" (every address, "
		    "IPv4 too) or \"0.0.0.0\" (every IPv4 address)");
	if (text[0] == '[' || strchr(text, ':') != NULL) {
		bool bracketed = text[0] == '[';

		if (bracketed && (len < 3 || text[len - 1] != ']'))
			return fail_at(ld, s, "address \"%s\": a bracket without its pair", text);
		snprintf(host, sizeof(host), "%.*s", (int)(bracketed ? len - 2 : len),
		    text + bracketed);
		/* A zone index ("fe80::1%eth0") is the kernel's business; the address is checked. */
		host[strcspn(host, "%")] = '\0';
		if (len - 2 * bracketed >= sizeof(host) || inet_pton(AF_INET6, host, &a6) != 1)
			return fail_at(ld, s, "address \"%s\" is not a valid IPv6 address", text);
		snprintf(host, sizeof(host), "%.*s", (int)(bracketed ? len - 2 : len), text + bracketed);
		text = host;
	} else {
		last_dot = strrchr(text, '.');
		if (numeric_label(last_dot ? last_dot + 1 : text) && inet_pton(AF_INET, text, &a4) != 1)
			return fail_at(ld, s, "address \"%s\" is not a valid IPv4 address: write four "
			    "decimal numbers 0-255 without leading zeros, such as \"127.0.0.1\"", text);
	}
	if ((copy = strdup(text)) == NULL)
		return fail_at(ld, s, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

/* tls = { certificate = "..."; key = "..."; ca = "..."; verify_client = false; } */
static int
get_tls(struct loader *ld, const config_setting_t *group, struct tls_cfg *t)
{
	int n;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "tls must be a group { certificate = \"...\"; key = \"...\"; }, "
		    "not %s", type_name(config_setting_type(group)));
	t->line = config_setting_source_line(group);
	n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;

		if (strcmp(name, "certificate") == 0)
			rc = copy_string(ld, s, "tls certificate", true, &t->certificate);
		else if (strcmp(name, "key") == 0)
			rc = copy_string(ld, s, "tls key", true, &t->key);
		else if (strcmp(name, "ca") == 0)
			rc = copy_string(ld, s, "tls ca", true, &t->ca);
		else if (strcmp(name, "verify_client") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				return fail_at(ld, s, "tls verify_client must be true or false");
			t->verify_client = config_setting_get_bool(s) != 0;
			rc = 0;
		} else
			return fail_at(ld, s, "unknown key \"%s\" in tls (certificate, key, ca, "
			    "verify_client)", name);
		if (rc < 0)
			return -1;
	}
	if (t->certificate == NULL || t->key == NULL)
		return fail_at(ld, group, "tls needs both certificate and key");
	if (t->verify_client && t->ca == NULL)
		return fail_at(ld, group, "tls verify_client = true needs ca (the CA that signs "
		    "client certificates)");
	if (!t->verify_client && t->ca != NULL)
		return fail_at(ld, group, "tls ca is only used with verify_client = true");
	return 0;
}

static void
strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * A string or a list of strings, each non-empty, copied into *out and
 * *count (freed before, so a second setting replaces the first).
 */
static int
get_strings(struct loader *ld, const config_setting_t *s, const char *what, char ***out,
    size_t *count)
{
	int type = config_setting_type(s);
	size_t n = type == CONFIG_TYPE_STRING ? 1 : (size_t)config_setting_length(s);
	char **v;

	if (type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return fail_at(ld, s, "%s must be a string or a list of strings [ \"...\" ]", what);
	if (n == 0)
		return fail_at(ld, s, "%s must not be an empty list", what);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return fail_at(ld, s, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = type == CONFIG_TYPE_STRING ? s :
		    config_setting_get_elem(s, (unsigned)i);
		const char *text;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			strings_free(v, n);
			return fail_at(ld, e, "%s entries must be strings", what);
		}
		text = config_setting_get_string(e);
		if (*text == '\0') {
			strings_free(v, n);
			return fail_at(ld, e, "%s entries must not be empty", what);
		}
		if ((v[i] = strdup(text)) == NULL) {
			strings_free(v, n);
			return fail_at(ld, e, "out of memory");
		}
	}
	strings_free(*out, *count);
	*out = v;
	*count = n;
	return 0;
}

/* A listener's clients = [ "name", ... ]: checked against the identities once all are read. */
static int
get_names(struct loader *ld, const config_setting_t *s, const struct key_def *k, void *base)
{
	struct listener_cfg *l = base;

	return get_strings(ld, s, k->name, &l->clients, &l->n_clients);
}

/* An unsigned integer member of a group, within min..max. */
static int
group_uint(struct loader *ld, const config_setting_t *s, const char *what, unsigned min,
    unsigned max, unsigned *out)
{
	const struct key_def k = { .name = what, .type = T_UINT, .min = min, .max = max };

	return get_uint(ld, s, &k, out);
}

/*
 * A duration: an integer of seconds or a string such as "30s", "5m",
 * "1h", "30d" (size.h), within min..max seconds.
 */
static int
get_duration(struct loader *ld, const config_setting_t *s, const char *what, uint64_t min,
    uint64_t max, uint64_t *out)
{
	char lo[32], hi[32];
	uint64_t v;
	int rc;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (literal_in_range(literal(s), min, max, &v))
			break;
		duration_format(min, lo, sizeof(lo));
		duration_format(max, hi, sizeof(hi));
		return fail_at(ld, s, "%s = %s is out of range (%s..%s)", what, literal(s)->text, lo, hi);
	case CONFIG_TYPE_STRING:
		rc = duration_parse_checked(config_setting_get_string(s), &v);
		if (rc == SIZE_MALFORMED)
			return fail_at(ld, s, "%s = \"%.40s\" is not a duration (examples: 300, \"30s\", "
			    "\"5m\", \"1h\", \"30d\")", what, config_setting_get_string(s));
		if (rc == 0 && v >= min && v <= max)
			break;
		duration_format(min, lo, sizeof(lo));
		duration_format(max, hi, sizeof(hi));
		return fail_at(ld, s, "%s = \"%.40s\" is out of range (%s..%s)", what,
		    config_setting_get_string(s), lo, hi);
	default:
		return fail_at(ld, s, "%s must be a duration (seconds, or a string such as \"5m\"), "
		    "not %s", what, type_name(config_setting_type(s)));
	}
	*out = v;
	return 0;
}

#define DAYS(n) ((uint64_t)(n) * 86400)

/* on_stored = { command = [ "/path/prog", "arg" ]; max_running = 4; timeout = 300; retries = 5; } */
static int
get_hook(struct loader *ld, const config_setting_t *group, struct hook_cfg *h)
{
	int n;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "on_stored must be a group { command = [ \"/path/prog\" ]; }, "
		    "not %s", type_name(config_setting_type(group)));
	strings_free(h->command, h->n_command);
	*h = (struct hook_cfg){ .max_running = 4, .timeout = 300, .retries = 5,
	    .line = config_setting_source_line(group) };
	n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		uint64_t v;
		int rc;

		if (strcmp(name, "command") == 0) {
			int type = config_setting_type(s);

			if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
				return fail_at(ld, s, "on_stored command must be a list [ \"/path/prog\", "
				    "\"arg\" ]: it is run without a shell");
			rc = get_strings(ld, s, "on_stored command", &h->command, &h->n_command);
			if (rc == 0 && h->command[0][0] != '/')
				return fail_at(ld, s, "on_stored command \"%s\" must be an absolute path",
				    h->command[0]);
		} else if (strcmp(name, "max_running") == 0) {
			rc = group_uint(ld, s, "on_stored max_running", 1, 1024, &h->max_running);
		} else if (strcmp(name, "timeout") == 0) {
			rc = get_duration(ld, s, "on_stored timeout", 1, DAYS(1), &v);
			h->timeout = (unsigned)v;
		} else if (strcmp(name, "retries") == 0) {
			rc = group_uint(ld, s, "on_stored retries", 0, 100, &h->retries);
		} else {
			return fail_at(ld, s, "unknown key \"%s\" in on_stored (command, max_running, "
			    "timeout, retries)", name);
		}
		if (rc < 0)
			return -1;
	}
	if (h->command == NULL)
		return fail_at(ld, group, "on_stored needs command = [ \"/path/prog\", ... ]");
	return 0;
}

/* retention = { max_age = "30d"; max_total = "500G"; min_keep = "1h"; } */
static int
get_retention(struct loader *ld, const config_setting_t *group, struct retention_cfg *r)
{
	static const struct key_def total = { .name = "retention max_total", .type = T_SIZE,
	    .min = 1, .max = LIMIT_BYTES };
	int n;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "retention must be a group { max_age = \"30d\"; }, not %s",
		    type_name(config_setting_type(group)));
	bool keep_set = false;

	*r = (struct retention_cfg){ .enabled = true, .line = config_setting_source_line(group) };
	n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;

		if (strcmp(name, "max_age") == 0)
			rc = get_duration(ld, s, "retention max_age", 60, DAYS(36500), &r->max_age);
		else if (strcmp(name, "max_total") == 0)
			rc = get_size(ld, s, &total, &r->max_total);
		else if (strcmp(name, "min_keep") == 0) {
			rc = get_duration(ld, s, "retention min_keep", 0, DAYS(36500), &r->min_keep);
			keep_set = true;
		}
		else
			return fail_at(ld, s, "unknown key \"%s\" in retention (max_age, max_total, "
			    "min_keep)", name);
		if (rc < 0)
			return -1;
	}
	if (r->max_age == 0 && r->max_total == 0)
		return fail_at(ld, group, "retention needs max_age or max_total");
	/* By default a file is kept an hour: time for a collector (or a hook) to take it. */
	if (!keep_set)
		r->min_keep = r->max_age != 0 && r->max_age < 3600 ? r->max_age : 3600;
	if (r->max_age != 0 && r->min_keep > r->max_age)
		return fail_at(ld, group, "retention min_keep is longer than max_age: no file could "
		    "ever be removed for its age");
	return 0;
}

static int
apply_key(struct loader *ld, const config_setting_t *s, const struct key_def *k, void *base)
{
	void *field = (char *)base + k->offset;
	const char *text;

	switch (k->type) {
	case T_UINT:
		return get_uint(ld, s, k, field);
	case T_SIZE:
		return get_size(ld, s, k, field);
	case T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail_at(ld, s, "%s must be true or false", k->name);
		*(bool *)field = config_setting_get_bool(s) != 0;
		return 0;
	case T_STRING:
	case T_PATH:
		return copy_string(ld, s, k->name, k->type == T_PATH, field);
	case T_LEVEL:
		if (get_string(ld, s, k->name, &text) < 0)
			return -1;
		if (log_level_parse(text, field) < 0)
			return fail_at(ld, s, "log_level \"%s\" is not one of error, warning, info, debug",
			    text);
		return 0;
	case T_LOGFMT:
		if (get_string(ld, s, k->name, &text) < 0)
			return -1;
		if (log_format_parse(text, field) < 0)
			return fail_at(ld, s, "log_format \"%s\" is not one of logfmt, json", text);
		return 0;
	case T_MODE:
		if (get_string(ld, s, k->name, &text) < 0)
			return -1;
		if (strcmp(text, "echo") == 0)
			*(enum listener_mode *)field = MODE_ECHO;
		else if (strcmp(text, "receive") == 0)
			*(enum listener_mode *)field = MODE_RECEIVE;
		else
			return fail_at(ld, s, "mode \"%s\" is not one of echo, receive", text);
		return 0;
	case T_PROTO:
		if (get_string(ld, s, k->name, &text) < 0)
			return -1;
		if (strcmp(text, "auto") == 0)
			*(enum listener_protocol *)field = PROTO_AUTO;
		else if (strcmp(text, "raw") == 0)
			*(enum listener_protocol *)field = PROTO_RAW;
		else if (strcmp(text, "framed") == 0)
			*(enum listener_protocol *)field = PROTO_FRAMED;
		else
			return fail_at(ld, s, "protocol \"%s\" is not one of auto, raw, framed", text);
		return 0;
	case T_FILEMODE: {
		char *end;
		unsigned long mode;

		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail_at(ld, s, "file_mode must be an octal string such as \"0640\"");
		text = config_setting_get_string(s);
		errno = 0;
		mode = strtoul(text, &end, 8);
		if (*text == '\0' || *end != '\0' || errno != 0 || mode > 0666 || (mode & 0600) != 0600)
			return fail_at(ld, s, "file_mode \"%s\" must be octal, at most 0666, "
			    "and include owner read and write (0600)", text);
		*(unsigned *)field = (unsigned)mode;
		return 0;
	}
	case T_CIDRS:
		return get_cidrs(ld, s, k, field);
	case T_TLS:
		return get_tls(ld, s, field);
	case T_ADDRESS:
		return get_address(ld, s, field);
	case T_NAMES:
		return get_names(ld, s, k, base);
	case T_HOOK:
		return get_hook(ld, s, field);
	case T_RETENTION:
		return get_retention(ld, s, field);
	case T_INODES:
		/* "auto" depends on the file system, so it is worked out where it is checked. */
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return get_uint(ld, s, k, field);
		if (strcmp(config_setting_get_string(s), "auto") != 0)
			return fail_at(ld, s, "%s = \"%s\" must be \"auto\" or an integer", k->name,
			    config_setting_get_string(s));
		*(unsigned *)field = CFG_INODES_AUTO;
		return 0;
	}
	return fail_at(ld, s, "internal error: key %s has no type", k->name);
}

static void
cidr_list_free(struct cidr_list *l)
{
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* Frees the strings and lists of l and clears them, so a second call is harmless. */
static void
listener_cfg_free(struct listener_cfg *l)
{
	free(l->name);
	free(l->address);
	free(l->output_dir);
	free(l->file);
	l->name = l->address = l->output_dir = l->file = NULL;
	cidr_list_free(&l->allow);
	cidr_list_free(&l->deny);
	cidr_list_free(&l->proxy_from);
	strings_free(l->clients, l->n_clients);
	l->clients = NULL;
	l->n_clients = 0;
	free(l->ids);
	l->ids = NULL;
	l->n_ids = 0;
	free(l->tls.certificate);
	free(l->tls.key);
	free(l->tls.ca);
	memset(&l->tls, 0, sizeof(l->tls));
	strings_free(l->on_stored.command, l->on_stored.n_command);
	memset(&l->on_stored, 0, sizeof(l->on_stored));
}

static int
cidr_list_dup(struct cidr_list *l)
{
	struct cidr *copy;

	if (l->items == NULL)
		return 0;
	copy = malloc((l->count ? l->count : 1) * sizeof(*copy));
	if (copy == NULL)
		return -1;
	memcpy(copy, l->items, l->count * sizeof(*copy));
	l->items = copy;
	return 0;
}

/* Deep copy of the defaults, the starting point of every listener. */
static int
listener_cfg_from_defaults(struct listener_cfg *dst, const struct listener_cfg *defaults)
{
	*dst = *defaults;
	dst->name = NULL;
	dst->address = NULL;
	dst->output_dir = NULL;
	dst->file = NULL;
	memset(&dst->tls, 0, sizeof(dst->tls));     /* listener scope only */
	memset(&dst->on_stored, 0, sizeof(dst->on_stored));
	dst->clients = NULL;
	dst->n_clients = 0;
	dst->ids = NULL;
	dst->n_ids = 0;
	if ((defaults->output_dir && (dst->output_dir = strdup(defaults->output_dir)) == NULL) ||
	    cidr_list_dup(&dst->allow) < 0 || cidr_list_dup(&dst->deny) < 0 ||
	    cidr_list_dup(&dst->proxy_from) < 0) {
		if (dst->allow.items == defaults->allow.items)
			dst->allow.items = NULL;
		if (dst->deny.items == defaults->deny.items)
			dst->deny.items = NULL;
		if (dst->proxy_from.items == defaults->proxy_from.items)
			dst->proxy_from.items = NULL;
		listener_cfg_free(dst);
		return -1;
	}
	return 0;
}

static bool
valid_listener_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > LISTENER_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	}
	return true;
}

static int
load_listener(struct loader *ld, const config_setting_t *group,
    const struct listener_cfg *defaults, struct listener_cfg *l)
{
	const config_setting_t *mode_s;
	int n = config_setting_length(group);

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "each listener must be a group { ... }, not %s",
		    type_name(config_setting_type(group)));
	if (listener_cfg_from_defaults(l, defaults) < 0)
		return fail_at(ld, group, "out of memory");
	if ((l->file = strdup(source_path(ld, config_setting_source_file(group)))) == NULL)
		return fail_at(ld, group, "out of memory");
	l->line = config_setting_source_line(group);

	/* The mode decides which keys make sense, so read it first. */
	mode_s = config_setting_get_member(group, "mode");
	if (mode_s == NULL)
		return fail_at(ld, group, "listener has no mode (echo or receive)");
	if (apply_key(ld, mode_s, key_find("mode", S_LISTENER), l) < 0)
		return -1;

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key_def *k = key_find(name, S_LISTENER);

		if (k == NULL)
			return fail_at(ld, s, "unknown key \"%s\" in listener", name);
		if (!(k->scope & S_LISTENER))
			return fail_at(ld, s, "%s is a global setting and cannot be set per listener", name);
		if (k->receive_only && l->mode == MODE_ECHO)
			return fail_at(ld, s, "%s has no effect on an echo listener", name);
		if (apply_key(ld, s, k, l) < 0)
			return -1;
		if (strcmp(name, "output_dir") == 0)
			l->output_dir_line = config_setting_source_line(s);
	}

	if (l->name == NULL)
		return fail_at(ld, group, "listener has no name");
	if (!valid_listener_name(l->name))
		return fail_at(ld, config_setting_get_member(group, "name"),
		    "listener name \"%s\" must be 1-%d characters of A-Z a-z 0-9 . _ -",
		    l->name, LISTENER_NAME_MAX);
	if (l->address == NULL)
		return fail_at(ld, group, "listener \"%s\" has no address", l->name);
	if (config_setting_get_member(group, "port") == NULL)
		return fail_at(ld, group, "listener \"%s\" has no port", l->name);
	if (l->mode == MODE_RECEIVE) {
		if (l->output_dir == NULL)
			return fail_at(ld, group, "receive listener \"%s\" has no output_dir", l->name);
	}
	if (l->proxy_protocol && l->proxy_from.count == 0)
		return fail_at(ld, group, "listener \"%s\": proxy_protocol = true needs proxy_from, "
		    "the balancers allowed to send PROXY headers", l->name);
	if (!l->proxy_protocol && l->proxy_from.count > 0)
		return fail_at(ld, group, "listener \"%s\": proxy_from has no effect without "
		    "proxy_protocol = true", l->name);
	return 0;
}

static void
identity_cfg_free(struct identity_cfg *id)
{
	free(id->name);
	free(id->tokens);
	strings_free(id->certificates, id->n_certificates);
	cidr_list_free(&id->from);
	free(id->subdir);
}

/* token_sha256 = "<64 hex>" or a list of them (several: a token being rotated). */
static int
get_token_digests(struct loader *ld, const config_setting_t *s, struct identity_cfg *id)
{
	char **texts = NULL;
	size_t n = 0;
	unsigned char (*d)[IDENTITY_DIGEST_LEN];

	if (get_strings(ld, s, "token_sha256", &texts, &n) < 0)
		return -1;
	if ((d = calloc(n, sizeof(*d))) == NULL) {
		strings_free(texts, n);
		return fail_at(ld, s, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = texts[i];
		bool ok = strlen(t) == 2 * IDENTITY_DIGEST_LEN;

		for (size_t j = 0; ok && j < IDENTITY_DIGEST_LEN; j++) {
			int hi = OPENSSL_hexchar2int((unsigned char)t[2 * j]);
			int lo = OPENSSL_hexchar2int((unsigned char)t[2 * j + 1]);

			ok = hi >= 0 && lo >= 0;
			d[i][j] = (unsigned char)(hi << 4 | lo);
		}
		if (!ok) {
			fail_at(ld, config_setting_type(s) == CONFIG_TYPE_STRING ? s :
			    config_setting_get_elem(s, (unsigned)i), "token_sha256 \"%.80s\" is not 64 hex "
			    "digits (the SHA-256 of the token: tcpxd --hash-token prints the line)", t);
			strings_free(texts, n);
			free(d);
			return -1;
		}
	}
	strings_free(texts, n);
	free(id->tokens);
	id->tokens = d;
	id->n_tokens = n;
	return 0;
}

size_t
cfg_output_dirs(const struct config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];

		if (l->mode != MODE_RECEIVE)
			continue;
		n++;
		for (size_t j = 0; j < l->n_ids; j++)
			n += l->ids[j]->subdir != NULL;
	}
	return n;
}

bool
cfg_subdir_valid(const char *text)
{
	/* One component, like a listener name but never hidden: .tcpxd-partial is the daemon's. */
	return valid_listener_name(text) && text[0] != '.';
}

/* One entry of clients = ( { name = "..."; token_sha256 = ...; ... } ). */
static int
load_identity(struct loader *ld, const config_setting_t *group, struct identity_cfg *id)
{
	static const struct key_def from_key = { "from", T_CIDRS, 0, 0, 0, 0, false };
	int n;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "each entry of clients must be a group { name = \"...\"; ... }, "
		    "not %s", type_name(config_setting_type(group)));
	id->line = config_setting_source_line(group);
	n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;

		if (strcmp(name, "name") == 0)
			rc = copy_string(ld, s, "client name", false, &id->name);
		else if (strcmp(name, "token_sha256") == 0)
			rc = get_token_digests(ld, s, id);
		else if (strcmp(name, "certificate") == 0)
			rc = get_strings(ld, s, "certificate", &id->certificates, &id->n_certificates);
		else if (strcmp(name, "from") == 0)
			rc = get_cidrs(ld, s, &from_key, &id->from);
		else if (strcmp(name, "subdir") == 0) {
			if ((rc = copy_string(ld, s, "subdir", false, &id->subdir)) == 0 &&
			    !cfg_subdir_valid(id->subdir))
				rc = fail_at(ld, s, "subdir \"%s\" must be one directory name of 1-%d "
				    "characters of A-Z a-z 0-9 . _ - not starting with '.'", id->subdir,
				    LISTENER_NAME_MAX);
		} else if (identity_key_find(name) != NULL)
			rc = apply_key(ld, s, identity_key_find(name), id);
		else
			return fail_at(ld, s, "unknown key \"%s\" in a client (name, token_sha256, "
			    "certificate, from, subdir, quota_bytes, quota_files, max_rate, "
			    "max_connections)", name);
		if (rc < 0)
			return -1;
	}
	if (id->name == NULL)
		return fail_at(ld, group, "client has no name");
	if (!valid_listener_name(id->name))
		return fail_at(ld, config_setting_get_member(group, "name"),
		    "client name \"%s\" must be 1-%d characters of A-Z a-z 0-9 . _ -", id->name,
		    IDENTITY_NAME_MAX);
	if (id->n_tokens == 0 && id->n_certificates == 0 && id->from.count == 0)
		return fail_at(ld, group, "client \"%s\" has nothing to be recognised by: give "
		    "token_sha256, certificate or from", id->name);
	/* Files in a directory shared with others could not be told apart (tcpxd.conf(5) QUOTAS). */
	if ((id->quota_bytes != 0 || id->quota_files != 0) && id->subdir == NULL)
		return fail_at(ld, config_setting_get_member(group, id->quota_bytes != 0 ? "quota_bytes" :
		    "quota_files"), "client \"%s\": a quota needs subdir (a quota counts the files in "
		    "the client's own directory)", id->name);
	return 0;
}

/* What makes two identities ambiguous: a shared name, token, network, certificate name or subdir. */
static int
identity_conflict(struct loader *ld, const config_setting_t *group, const struct identity_cfg *a,
    const struct identity_cfg *b)
{
	const char *what = NULL;

	if (strcmp(a->name, b->name) == 0)
		return fail_at(ld, group, "duplicate client name \"%s\" (first defined on line %d)",
		    a->name, b->line);
	for (size_t i = 0; i < a->n_tokens && what == NULL; i++) {
		for (size_t j = 0; j < b->n_tokens && what == NULL; j++)
			if (memcmp(a->tokens[i], b->tokens[j], IDENTITY_DIGEST_LEN) == 0)
				what = "a token_sha256";
	}
	for (size_t i = 0; i < a->from.count && what == NULL; i++) {
		for (size_t j = 0; j < b->from.count && what == NULL; j++)
			if (a->from.items[i].prefix == b->from.items[j].prefix &&
			    memcmp(&a->from.items[i].net, &b->from.items[j].net, sizeof(struct in6_addr)) == 0)
				what = "a network in from";
	}
	for (size_t i = 0; i < a->n_certificates && what == NULL; i++) {
		for (size_t j = 0; j < b->n_certificates && what == NULL; j++)
			if (strcmp(a->certificates[i], b->certificates[j]) == 0)
				what = "a certificate name";
	}
	if (what == NULL && a->subdir != NULL && b->subdir != NULL && strcmp(a->subdir, b->subdir) == 0)
		what = "its subdir";
	if (what != NULL)
		return fail_at(ld, group, "client \"%s\" shares %s with client \"%s\" (line %d): "
		    "which one a client is must be clear", a->name, what, b->name, b->line);
	return 0;
}

static int
load_identities(struct loader *ld, const config_setting_t *list, struct config *cfg)
{
	int n;

	if (config_setting_type(list) != CONFIG_TYPE_LIST && config_setting_type(list) != CONFIG_TYPE_ARRAY)
		return fail_at(ld, list, "clients must be a list ( { name = \"...\"; ... }, ... ), not %s",
		    type_name(config_setting_type(list)));
	n = config_setting_length(list);
	if (n == 0)
		return 0;
	if ((cfg->clients = calloc((size_t)n, sizeof(*cfg->clients))) == NULL)
		return fail_at(ld, list, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);

		cfg->n_clients++;
		if (load_identity(ld, group, &cfg->clients[i]) < 0)
			return -1;
		for (int j = 0; j < i; j++) {
			if (identity_conflict(ld, group, &cfg->clients[i], &cfg->clients[j]) < 0)
				return -1;
		}
	}
	return 0;
}

const struct identity_cfg *
cfg_identity(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clients; i++) {
		if (strcmp(cfg->clients[i].name, name) == 0)
			return &cfg->clients[i];
	}
	return NULL;
}

/* Points the listener at the identities it accepts: those it names, or all. */
static int
resolve_identities(struct loader *ld, const config_setting_t *group, struct config *cfg,
    struct listener_cfg *l)
{
	size_t n = l->clients != NULL ? l->n_clients : cfg->n_clients;
	bool by_cert_or_net = false;

	if (n > 0 && (l->ids = calloc(n, sizeof(*l->ids))) == NULL)
		return fail_at(ld, group, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct identity_cfg *id = l->clients != NULL ?
		    cfg_identity(cfg, l->clients[i]) : &cfg->clients[i];

		if (id == NULL)
			return fail_at(ld, config_setting_get_member(group, "clients"), "listener \"%s\": "
			    "clients names \"%s\", which is not defined in clients = ( ... )", l->name,
			    l->clients[i]);
		for (size_t j = 0; j < l->n_ids; j++) {
			if (l->ids[j] == id)
				return fail_at(ld, config_setting_get_member(group, "clients"),
				    "listener \"%s\": clients names \"%s\" twice", l->name, id->name);
		}
		l->ids[l->n_ids++] = id;
		by_cert_or_net |= id->from.count > 0 ||
		    (id->n_certificates > 0 && l->tls.verify_client);
	}
	if (l->require_identity && l->n_ids == 0)
		return fail_at(ld, group, "listener \"%s\": require_identity = true, but no client "
		    "identity is defined for it (clients = ( { ... } ))", l->name);
	/* No header, so no token: a certificate or an address is all an echo client has. */
	if (l->require_identity && l->mode == MODE_ECHO && !by_cert_or_net)
		return fail_at(ld, group, "echo listener \"%s\": require_identity = true, but none of "
		    "its clients can be recognised without a token (from, or certificate with tls "
		    "verify_client)", l->name);
	return 0;
}

/* metrics = { address = "127.0.0.1"; port = 9464; allow = [ ... ]; } */
static int
load_metrics(struct loader *ld, const config_setting_t *group, struct metrics_cfg *m)
{
	static const struct key_def port_key = { "port", T_UINT, 0, 0, 0, 65535, false };
	static const struct key_def allow_key = { "allow", T_CIDRS, 0, 0, 0, 0, false };
	int n;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "metrics must be a group { address = \"...\"; port = ...; }, "
		    "not %s", type_name(config_setting_type(group)));
	if ((m->file = strdup(source_path(ld, config_setting_source_file(group)))) == NULL)
		return fail_at(ld, group, "out of memory");
	m->line = config_setting_source_line(group);
	m->port = 9464;
	n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;

		if (strcmp(name, "address") == 0)
			rc = get_address(ld, s, &m->address);
		else if (strcmp(name, "port") == 0)
			rc = get_uint(ld, s, &port_key, &m->port);
		else if (strcmp(name, "allow") == 0)
			rc = get_cidrs(ld, s, &allow_key, &m->allow);
		else
			return fail_at(ld, s, "unknown key \"%s\" in metrics (address, port, allow)", name);
		if (rc < 0)
			return -1;
	}
	if (m->address == NULL && (m->address = strdup("127.0.0.1")) == NULL)
		return fail_at(ld, group, "out of memory");
	return 0;
}

/* A wildcard address binds the port on every address of its family ("::" IPv4 too). */
static bool
wildcard(const char *address)
{
	return strcmp(address, "0.0.0.0") == 0 || strcmp(address, "::") == 0;
}

/*
 * The metrics port must not be a listener's (numeric addresses only, as
 * listener_find_conflict; binding finds the rest).
 */
static int
metrics_conflict(struct loader *ld, const struct config *cfg)
{
	const struct metrics_cfg *m = &cfg->metrics;

	for (size_t i = 0; m->address != NULL && m->port != 0 && i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];

		if (l->port == m->port && (strcmp(l->address, m->address) == 0 ||
		    wildcard(l->address) || wildcard(m->address))) {
			snprintf(ld->err, ld->errlen, "%s:%d: metrics port %u is also listener \"%s\"'s "
			    "(%s:%d)", m->file, m->line, m->port, l->name, l->file, l->line);
			return -1;
		}
	}
	return 0;
}

static void
set_defaults(struct config *cfg, struct listener_cfg *d)
{
	cfg->max_connections = 4096;
	cfg->shutdown_timeout = 30;
	cfg->log_level = LOG_LVL_INFO;
	cfg->log_format = LOG_FMT_LOGFMT;
	cfg->thread_stack_size = KB(128);

	memset(d, 0, sizeof(*d));
	d->protocol = PROTO_AUTO;
	d->buffer_size = KB(256);
	d->max_file_size = (uint64_t)1 << 30;
	d->min_free_space = MB(64);
	d->min_free_inodes = CFG_INODES_AUTO;
	d->file_mode = 0640;
	d->max_per_ip = 64;
	d->per_ip_prefix4 = 32;
	d->per_ip_prefix6 = 64;         /* one IPv6 host normally holds a /64 */
	d->idle_timeout = 60;
	d->park_after = 250;
	d->resume_ttl = 86400;
	d->max_partials = 100;
}

static int
load_root(struct loader *ld, const config_setting_t *root, struct config *cfg)
{
	struct listener_cfg defaults;
	const config_setting_t *list = NULL;
	int n, rc = -1;

	set_defaults(cfg, &defaults);
	n = config_setting_length(root);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key_def *k;

		if (strcmp(name, "listeners") == 0) {
			list = s;
			continue;
		}
		if (strcmp(name, "clients") == 0) {
			if (load_identities(ld, s, cfg) < 0)
				goto out;
			continue;
		}
		if (strcmp(name, "metrics") == 0) {
			if (load_metrics(ld, s, &cfg->metrics) < 0)
				goto out;
			continue;
		}
		if ((k = key_find(name, S_GLOBAL)) == NULL) {
			fail_at(ld, s, "unknown key \"%s\"", name);
			goto out;
		}
		if (!(k->scope & S_GLOBAL)) {
			fail_at(ld, s, "%s must be set inside a listener", name);
			goto out;
		}
		if (apply_key(ld, s, k, k->scope == S_GLOBAL ? (void *)cfg : (void *)&defaults) < 0)
			goto out;
		if (strcmp(name, "output_dir") == 0)
			defaults.output_dir_line = config_setting_source_line(s);
	}
	if (list == NULL) {
		fail_at(ld, NULL, "no listeners defined (add listeners = ( { ... } );)");
		goto out;
	}
	if (config_setting_type(list) != CONFIG_TYPE_LIST && config_setting_type(list) != CONFIG_TYPE_ARRAY) {
		fail_at(ld, list, "listeners must be a list ( { ... }, { ... } ), not %s",
		    type_name(config_setting_type(list)));
		goto out;
	}
	n = config_setting_length(list);
	if (n == 0) {
		fail_at(ld, list, "listeners is empty: define at least one listener");
		goto out;
	}
	cfg->listeners = calloc((size_t)n, sizeof(*cfg->listeners));
	if (cfg->listeners == NULL) {
		fail_at(ld, list, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct listener_cfg *l = &cfg->listeners[i];
		const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);

		cfg->n_listeners++;
		if (load_listener(ld, group, &defaults, l) < 0)
			goto out;
		for (int j = 0; j < i; j++) {
			const struct listener_cfg *o = &cfg->listeners[j];

			if (o->name != NULL && strcmp(o->name, l->name) == 0) {
				fail_at(ld, group, "duplicate listener name \"%s\" (first defined on line %d)",
				    l->name, o->line);
				goto out;
			}
		}
		if (resolve_identities(ld, group, cfg, l) < 0)
			goto out;
	}
	/* Numeric addresses only: resolving host names is for -t and start-up, not every load. */
	if (listener_find_conflict(cfg, true, ld->err, ld->errlen) < 0 ||
	    metrics_conflict(ld, cfg) < 0)
		goto out;
	rc = 0;
out:
	listener_cfg_free(&defaults);
	return rc;
}

/* A message is one line: values quoted into it may hold newlines or escapes. */
static void
one_line(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

/* Settings of a libconfig type that holds an integer, in document order. */
static bool
is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/*
 * Pairs every integer setting with its literal as scanned from the text,
 * the n-th integer of a file with its n-th literal.  The value libconfig
 * stored must be what libconfig makes of that literal: any other pairing
 * is refused rather than a number used that the user did not write.
 */
static int
attach_literals(struct loader *ld, config_setting_t *s)
{
	int n;

	if (is_integer(s)) {
		struct cfgscan_file *f = cfgscan_file(ld->scan, config_setting_source_file(s));
		const struct cfgscan_int *i = f != NULL ? cfgscan_next_int(f) : NULL;

		/* libconfig dates a list element by the token after it: only names are on their line. */
		if (i == NULL || i->libconfig != config_setting_get_int64(s) ||
		    (config_setting_name(s) != NULL && i->line < (int)config_setting_source_line(s)))
			return fail_at(ld, s, "%s: this integer cannot be read exactly as written",
			    config_setting_name(s) ? config_setting_name(s) : "list entry");
		config_setting_set_hook(s, (void *)i);
		return 0;
	}
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		if (attach_literals(ld, config_setting_get_elem(s, (unsigned)i)) < 0)
			return -1;
	}
	return 0;
}

/* libconfig's parse error, with the key named where libconfig only says "duplicate". */
static void
parse_error(const struct loader *ld, const config_t *lc)
{
	const char *name = config_error_file(lc), *text = config_error_text(lc);
	const struct cfgscan_file *f = cfgscan_file(ld->scan, name);
	int line = config_error_line(lc);

	if (f != NULL && strcmp(text, "duplicate setting name") == 0) {
		for (size_t i = 0; i < f->n_dups; i++) {
			if (f->dups[i].line == line) {
				snprintf(ld->err, ld->errlen, "%s:%d: duplicate key \"%s\" (first set on "
				    "line %d)", f->path, line, f->dups[i].name, f->dups[i].first_line);
				return;
			}
		}
	}
	snprintf(ld->err, ld->errlen, "%s:%d: %s", source_path(ld, name), line, text);
}

int
cfg_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct cfgscan scan;
	struct loader ld = { .path = path, .scan = &scan, .err = err, .errlen = errlen };
	struct config *cfg = NULL;
	char *dir = NULL, *include_dir = NULL;
	config_t lc;
	int rc = -1;

	*out = NULL;
	/* @include paths are relative to the configuration file, not to the working directory. */
	if ((dir = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	include_dir = dirname(dir);
	config_init(&lc);
	if (cfgscan_load(&scan, path, include_dir, err, errlen) < 0)
		goto out;
	config_set_include_dir(&lc, include_dir);
	if (config_read_string(&lc, scan.text) != CONFIG_TRUE) {
		parse_error(&ld, &lc);
		goto out;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL || (cfg->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	ld.path = cfg->path;
	if (attach_literals(&ld, config_root_setting(&lc)) < 0 ||
	    load_root(&ld, config_root_setting(&lc), cfg) < 0)
		goto out;
	*out = cfg;
	cfg = NULL;
	rc = 0;
out:
	if (rc < 0)
		one_line(err);
	cfg_free(cfg);
	config_destroy(&lc);
	cfgscan_free(&scan);
	free(dir);
	return rc;
}

void
cfg_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		listener_cfg_free(&cfg->listeners[i]);
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->n_clients; i++)
		identity_cfg_free(&cfg->clients[i]);
	free(cfg->clients);
	free(cfg->metrics.address);
	free(cfg->metrics.file);
	cidr_list_free(&cfg->metrics.allow);
	free(cfg->path);
	free(cfg);
}

const char *
cfg_mode_name(enum listener_mode mode)
{
	return mode == MODE_ECHO ? "echo" : "receive";
}

/* Prints a string in libconfig syntax, escaped so that it reads back the same. */
static void
print_string(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, "    %s = \"", key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\x%02x", *p);
		else
			fputc(*p, fp);
	}
	fprintf(fp, "\";\n");
}

static void
print_cidrs(FILE *fp, const char *key, const struct cidr_list *l)
{
	char buf[ADDR_TEXT_MAX + 8];

	fprintf(fp, "    %s = [", key);
	for (size_t i = 0; i < l->count; i++) {
		cidr_format(&l->items[i], buf, sizeof(buf));
		fprintf(fp, "%s \"%s\"", i ? "," : "", buf);
	}
	fprintf(fp, " ];\n");
}

/* "auto" reads back as itself; the comment says what it means on that file system now. */
static void
print_auto_inodes(FILE *fp, const char *dir)
{
	struct statvfs vfs;

	fprintf(fp, "    min_free_inodes = \"auto\";    # 1 %% of the inodes, at least %d",
	    STORE_AUTO_INODES_MIN);
	if (statvfs(dir, &vfs) == 0 && vfs.f_files > 0)
		fprintf(fp, ": now %llu of %llu", (unsigned long long)store_auto_inodes(vfs.f_files),
		    (unsigned long long)vfs.f_files);
	fprintf(fp, "\n");
}

/* key = [ "a", "b" ]; with the strings escaped as print_string() does. */
static void
print_strings(FILE *fp, const char *key, char *const *v, size_t n)
{
	fprintf(fp, "    %s = [", key);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s \"", i ? "," : "");
		for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				fprintf(fp, "\\%c", *p);
			else if (*p < 0x20 || *p == 0x7f)
				fprintf(fp, "\\x%02x", *p);
			else
				fputc(*p, fp);
		}
		fputc('"', fp);
	}
	fprintf(fp, " ];\n");
}

/* An identity's limits that are set; the unset ones mean "not limited". */
static void
print_identity_limits(FILE *fp, const struct identity_cfg *id)
{
	char size[32];

	if (id->quota_bytes != 0) {
		size_format(id->quota_bytes, size, sizeof(size));
		fprintf(fp, "    quota_bytes = \"%s\";\n", size);
	}
	if (id->quota_files != 0)
		fprintf(fp, "    quota_files = %u;\n", id->quota_files);
	if (id->max_rate != 0) {
		size_format(id->max_rate, size, sizeof(size));
		fprintf(fp, "    max_rate = \"%s\";\n", size);
	}
	if (id->max_connections != 0)
		fprintf(fp, "    max_connections = %u;\n", id->max_connections);
}

static void
print_identities(const struct config *cfg, FILE *fp)
{
	if (cfg->n_clients == 0)
		return;
	fprintf(fp, "clients = (\n");
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct identity_cfg *id = &cfg->clients[i];

		fprintf(fp, "  {\n");
		print_string(fp, "name", id->name);
		if (id->n_tokens > 0) {
			fprintf(fp, "    token_sha256 = [");
			for (size_t t = 0; t < id->n_tokens; t++) {
				fprintf(fp, "%s \"", t ? "," : "");
				for (size_t j = 0; j < IDENTITY_DIGEST_LEN; j++)
					fprintf(fp, "%02x", id->tokens[t][j]);
				fputc('"', fp);
			}
			fprintf(fp, " ];\n");
		}
		if (id->n_certificates > 0)
			print_strings(fp, "certificate", id->certificates, id->n_certificates);
		if (id->from.count > 0)
			print_cidrs(fp, "from", &id->from);
		if (id->subdir != NULL)
			print_string(fp, "subdir", id->subdir);
		print_identity_limits(fp, id);
		fprintf(fp, "  }%s\n", i + 1 < cfg->n_clients ? "," : "");
	}
	fprintf(fp, ");\n");
}

static void
print_hook(FILE *fp, const struct hook_cfg *h)
{
	if (h->command == NULL)
		return;
	fprintf(fp, "    on_stored = {\n  ");
	print_strings(fp, "command", h->command, h->n_command);
	fprintf(fp, "      max_running = %u;\n      timeout = %u;\n      retries = %u;\n    };\n",
	    h->max_running, h->timeout, h->retries);
}

static void
print_retention(FILE *fp, const struct retention_cfg *r)
{
	char text[32];

	if (!r->enabled)
		return;
	fprintf(fp, "    retention = {\n");
	if (r->max_age != 0) {
		duration_format(r->max_age, text, sizeof(text));
		fprintf(fp, "      max_age = \"%s\";\n", text);
	}
	if (r->max_total != 0) {
		size_format(r->max_total, text, sizeof(text));
		fprintf(fp, "      max_total = \"%s\";\n", text);
	}
	duration_format(r->min_keep, text, sizeof(text));
	fprintf(fp, "      min_keep = \"%s\";\n    };\n", text);
}

void
cfg_print(const struct config *cfg, FILE *fp)
{
	char size[32];

	fprintf(fp, "# effective settings of %s\n", cfg->path);
	fprintf(fp, "max_connections = %u;\n", cfg->max_connections);
	fprintf(fp, "shutdown_timeout = %u;\n", cfg->shutdown_timeout);
	fprintf(fp, "log_level = \"%s\";\n", log_level_name(cfg->log_level));
	fprintf(fp, "log_format = \"%s\";\n", log_format_name(cfg->log_format));
	size_format(cfg->thread_stack_size, size, sizeof(size));
	fprintf(fp, "thread_stack_size = \"%s\";\n", size);
	if (cfg->metrics.address != NULL) {
		fprintf(fp, "metrics = {\n");
		print_string(fp, "address", cfg->metrics.address);
		fprintf(fp, "    port = %u;\n", cfg->metrics.port);
		print_cidrs(fp, "allow", &cfg->metrics.allow);
		fprintf(fp, "};\n");
	}
	print_identities(cfg, fp);
	fprintf(fp, "listeners = (\n");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];

		fprintf(fp, "  {\n");
		print_string(fp, "name", l->name);
		fprintf(fp, "    mode = \"%s\";\n", cfg_mode_name(l->mode));
		print_string(fp, "address", l->address);
		fprintf(fp, "    port = %u;\n", l->port);
		fprintf(fp, "    v6only = %s;\n", l->v6only ? "true" : "false");
		fprintf(fp, "    reuseport = %s;\n", l->reuseport ? "true" : "false");
		fprintf(fp, "    proxy_protocol = %s;\n", l->proxy_protocol ? "true" : "false");
		if (l->proxy_protocol)
			print_cidrs(fp, "proxy_from", &l->proxy_from);
		if (l->tls.certificate != NULL) {
			fprintf(fp, "    tls = {\n");
			print_string(fp, "  certificate", l->tls.certificate);
			print_string(fp, "  key", l->tls.key);
			if (l->tls.ca != NULL)
				print_string(fp, "  ca", l->tls.ca);
			fprintf(fp, "      verify_client = %s;\n", l->tls.verify_client ? "true" : "false");
			fprintf(fp, "    };\n");
		}
		size_format(l->buffer_size, size, sizeof(size));
		fprintf(fp, "    buffer_size = \"%s\";\n", size);
		fprintf(fp, "    max_per_ip = %u;\n", l->max_per_ip);
		fprintf(fp, "    per_ip_prefix4 = %u;\n", l->per_ip_prefix4);
		fprintf(fp, "    per_ip_prefix6 = %u;\n", l->per_ip_prefix6);
		fprintf(fp, "    idle_timeout = %u;\n", l->idle_timeout);
		fprintf(fp, "    park_after = %u;%s\n", l->park_after, l->park_after == 0 ? "  # never" : "");
		if (l->max_connections != 0)
			fprintf(fp, "    max_connections = %u;       # this listener's own\n",
			    l->max_connections);
		if (l->max_rate != 0) {
			size_format(l->max_rate, size, sizeof(size));
			fprintf(fp, "    max_rate = \"%s\";\n", size);
		}
		print_cidrs(fp, "allow", &l->allow);
		print_cidrs(fp, "deny", &l->deny);
		if (l->clients != NULL)
			print_strings(fp, "clients", l->clients, l->n_clients);
		fprintf(fp, "    require_identity = %s;\n", l->require_identity ? "true" : "false");
		if (l->mode == MODE_RECEIVE) {
			fprintf(fp, "    protocol = \"%s\";\n", l->protocol == PROTO_RAW ? "raw" :
			    l->protocol == PROTO_FRAMED ? "framed" : "auto");
			print_string(fp, "output_dir", l->output_dir);
			size_format(l->max_file_size, size, sizeof(size));
			fprintf(fp, "    max_file_size = \"%s\";\n", size);
			size_format(l->min_free_space, size, sizeof(size));
			fprintf(fp, "    min_free_space = \"%s\";\n", size);
			if (l->min_free_inodes == CFG_INODES_AUTO)
				print_auto_inodes(fp, l->output_dir);
			else
				fprintf(fp, "    min_free_inodes = %u;\n", l->min_free_inodes);
			fprintf(fp, "    store_empty = %s;\n", l->store_empty ? "true" : "false");
			fprintf(fp, "    resume_ttl = %u;\n", l->resume_ttl);
			fprintf(fp, "    max_partials = %u;\n", l->max_partials);
			fprintf(fp, "    file_mode = \"%04o\";\n", l->file_mode);
			print_hook(fp, &l->on_stored);
			print_retention(fp, &l->retention);
		}
		fprintf(fp, "  }%s\n", i + 1 < cfg->n_listeners ? "," : "");
	}
	fprintf(fp, ");\n");
}
