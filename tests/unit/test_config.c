/* SPDX-License-Identifier: ISC */
/*
 * test_config.c - cfg_load(): parsed values, defaults and inheritance, every
 * kind of invalid file with its exact "FILE:LINE: reason", file checks, and
 * cfg_print() output that loads back to the same settings.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "unit.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define TIB ((uint64_t)1 << 40)

static char tmpdir[PATH_MAX];
static char conf_path[PATH_MAX + 32];

static void
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/tcpxd-unit-config.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(conf_path, sizeof(conf_path), "%s/tcpxd.conf", tmpdir);
}

static void
teardown(void)
{
	char path[PATH_MAX + 32];

	unlink(conf_path);
	snprintf(path, sizeof(path), "%s/printed.conf", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dir.conf", tmpdir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/inc.conf", tmpdir);
	unlink(path);
	rmdir(path);
	rmdir(tmpdir);
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	FILE *fp;

	ck_assert_msg((fp = fopen(path, "w")) != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Copies a file of tests/unit/data to the temporary directory, mode 0644. */
static void
copy_data(const char *name, const char *to)
{
	char from[PATH_MAX], buf[8192];
	FILE *in, *out;
	size_t n;

	snprintf(from, sizeof(from), "%s/%s", TEST_DATA_DIR, name);
	ck_assert_msg((in = fopen(from, "r")) != NULL, "%s: %s", from, strerror(errno));
	ck_assert_msg((out = fopen(to, "w")) != NULL, "%s: %s", to, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_int_eq(chmod(to, 0644), 0);
}

static struct config *
load_path(const char *path)
{
	struct config *cfg = NULL;
	char err[1024] = "";

	ck_assert_msg(cfg_load(path, &cfg, err, sizeof(err)) == 0, "cfg_load failed: %s", err);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->path, path);
	return cfg;
}

static struct config *
load_text(const char *text)
{
	write_text(conf_path, text, 0644);
	return load_path(conf_path);
}

/*
 * Loading text must fail with a message starting "FILE:LINE: reason"
 * ("FILE: reason" when line is 0), on one line.
 */
static void
expect_err(const char *text, int line, const char *reason, int at)
{
	struct config *cfg = (struct config *)&cfg;
	char err[1024], want[1024 + PATH_MAX];

	write_text(conf_path, text, 0644);
	memset(err, 0, sizeof(err));
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, reason);
	else
		snprintf(want, sizeof(want), "%s: %s", conf_path, reason);
	ck_assert_msg(cfg_load(conf_path, &cfg, err, sizeof(err)) == -1,
	    "test line %d: accepted:\n%s", at, text);
	ck_assert_msg(cfg == NULL, "test line %d: *out not NULL on failure", at);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "test line %d:\n got: %s\nwant: %s...", at, err, want);
	ck_assert_msg(strchr(err, '\n') == NULL, "test line %d: not one line: %s", at, err);
}

#define EXPECT_ERR(text, line, reason) expect_err((text), (line), (reason), __LINE__)

/* One valid echo listener, on one line. */
#define LISTENERS_OK \
	"listeners = ( { name = \"e\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; } );\n"

/* A listener whose extra setting (one line, "    key = value;\n") is on line 7. */
#define L_ECHO(extra) \
	"listeners = (\n"                       /* 1 */ \
	"  {\n"                                 /* 2 */ \
	"    name = \"l\";\n"                   /* 3 */ \
	"    mode = \"echo\";\n"                /* 4 */ \
	"    address = \"127.0.0.1\";\n"        /* 5 */ \
	"    port = 7007;\n"                    /* 6 */ \
	extra                                   /* 7 */ \
	"  }\n"                                 \
	");\n"

/* A receive listener, output_dir on line 7, the extra setting on line 8. */
#define L_RECV(extra) \
	"listeners = (\n"                       /* 1 */ \
	"  {\n"                                 /* 2 */ \
	"    name = \"r\";\n"                   /* 3 */ \
	"    mode = \"receive\";\n"             /* 4 */ \
	"    address = \"::1\";\n"              /* 5 */ \
	"    port = 7008;\n"                    /* 6 */ \
	"    output_dir = \"/srv/in\";\n"       /* 7 */ \
	extra                                   /* 8 */ \
	"  }\n"                                 \
	");\n"

static const struct listener_cfg *
find_listener(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	}
	ck_abort_msg("no listener %s", name);
	return NULL;
}

static void
assert_cidrs(const struct cidr_list *l, const char *want)
{
	char got[1024] = "", one[ADDR_TEXT_MAX + 8];

	for (size_t i = 0; i < l->count; i++) {
		cidr_format(&l->items[i], one, sizeof(one));
		if (i > 0)
			strncat(got, " ", sizeof(got) - strlen(got) - 1);
		strncat(got, one, sizeof(got) - strlen(got) - 1);
	}
	ck_assert_str_eq(got, want);
}

START_TEST(test_config_full)
{
	struct config *cfg;
	const struct listener_cfg *l;

	copy_data("full.conf", conf_path);
	cfg = load_path(conf_path);

	ck_assert_uint_eq(cfg->max_connections, 1000);
	ck_assert_uint_eq(cfg->shutdown_timeout, 5);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_DEBUG);
	ck_assert_uint_eq(cfg->thread_stack_size, 256 * KIB);
	ck_assert_uint_eq(cfg->n_listeners, 3);
	ck_assert_str_eq(cfg->listeners[0].name, "inherit");
	ck_assert_str_eq(cfg->listeners[1].name, "Over_ride-2.x");
	ck_assert_str_eq(cfg->listeners[2].name, "echo");

	/* Every global default applies to a listener that does not override it. */
	l = find_listener(cfg, "inherit");
	ck_assert_int_eq(l->mode, MODE_RECEIVE);
	ck_assert_str_eq(l->address, "::");
	ck_assert_uint_eq(l->port, 9001);
	ck_assert(l->v6only);
	ck_assert_int_eq(l->protocol, PROTO_RAW);
	ck_assert_str_eq(l->output_dir, "/srv/inbox");
	ck_assert_uint_eq(l->buffer_size, 128 * KIB);
	ck_assert_uint_eq(l->max_file_size, 2 * GIB);
	ck_assert_uint_eq(l->min_free_space, 1048576);
	ck_assert_uint_eq(l->file_mode, 0600);
	ck_assert_uint_eq(l->max_per_ip, 8);
	ck_assert_uint_eq(l->idle_timeout, 120);
	assert_cidrs(&l->allow, "10.0.0.0/8 ::1/128");
	assert_cidrs(&l->deny, "10.9.0.0/16");
	ck_assert_int_eq(l->line, 21);
	ck_assert_str_eq(l->file, conf_path);

	/* A listener's own value wins; its lists replace the global ones. */
	l = find_listener(cfg, "Over_ride-2.x");
	ck_assert_int_eq(l->mode, MODE_RECEIVE);
	ck_assert_str_eq(l->address, "127.0.0.1");
	ck_assert_uint_eq(l->port, 0);
	ck_assert(!l->v6only);
	ck_assert_int_eq(l->protocol, PROTO_AUTO);
	ck_assert_str_eq(l->output_dir, "/var/lib/tcpxd/other");
	ck_assert_uint_eq(l->buffer_size, 4096);
	ck_assert_uint_eq(l->max_file_size, 3 * TIB);
	ck_assert_uint_eq(l->min_free_space, 0);
	ck_assert_uint_eq(l->file_mode, 0644);
	ck_assert_uint_eq(l->max_per_ip, 1000000);
	ck_assert_uint_eq(l->idle_timeout, 1);
	assert_cidrs(&l->allow, "192.0.2.0/24");
	assert_cidrs(&l->deny, "");
	ck_assert_int_eq(l->line, 23);
	ck_assert_int_eq(l->output_dir_line, 30);

	/* An echo listener inherits the global receive-only keys without complaint. */
	l = find_listener(cfg, "echo");
	ck_assert_int_eq(l->mode, MODE_ECHO);
	ck_assert_str_eq(l->address, "localhost");
	ck_assert_uint_eq(l->port, 65535);
	ck_assert_uint_eq(l->buffer_size, KIB);
	ck_assert_uint_eq(l->max_per_ip, 8);
	ck_assert_uint_eq(l->idle_timeout, 120);
	ck_assert(l->v6only);
	assert_cidrs(&l->allow, "10.0.0.0/8 ::1/128");
	/* Inherited lists are copies, not shared with another listener. */
	ck_assert_ptr_ne(l->allow.items, cfg->listeners[0].allow.items);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct config *cfg;
	const struct listener_cfg *l;

	cfg = load_text(
	    "listeners = (\n"
	    "  { name = \"e\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/in\"; }\n"
	    ");\n");
	ck_assert_uint_eq(cfg->max_connections, 4096);
	ck_assert_uint_eq(cfg->shutdown_timeout, 30);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	/* DESIGN §5: "default small", and within its own valid range. */
	ck_assert_uint_ge(cfg->thread_stack_size, 64 * KIB);
	ck_assert_uint_le(cfg->thread_stack_size, 1 * MIB);
	ck_assert_uint_eq(cfg->n_listeners, 2);
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		l = &cfg->listeners[i];
		ck_assert_uint_eq(l->buffer_size, 256 * KIB);
		ck_assert_uint_eq(l->max_per_ip, 64);
		ck_assert_uint_eq(l->idle_timeout, 60);
		ck_assert(!l->v6only);
		ck_assert_uint_eq(l->allow.count, 0);
		ck_assert_uint_eq(l->deny.count, 0);
		ck_assert_int_eq(l->line, 2 + (int)i);
	}
	l = find_listener(cfg, "e");
	ck_assert_int_eq(l->mode, MODE_ECHO);
	ck_assert_ptr_null(l->output_dir);
	l = find_listener(cfg, "r");
	ck_assert_int_eq(l->mode, MODE_RECEIVE);
	ck_assert_str_eq(l->output_dir, "/srv/in");
	ck_assert_uint_eq(l->max_file_size, 1 * GIB);
	ck_assert_uint_eq(l->min_free_space, 64 * MIB);
	ck_assert_uint_eq(l->file_mode, 0640);
	ck_assert_int_eq(l->protocol, PROTO_AUTO);
	ck_assert_int_eq(l->output_dir_line, 4);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_hook_retention)
{
	struct config *cfg = load_text(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    output_dir = \"/tmp\";\n"
	    "    on_stored = { command = [ \"/bin/sh\", \"-c\", \"echo $TCPXD_FILE\" ];\n"
	    "      max_running = 2; timeout = \"5m\"; retries = 0; };\n"
	    "    retention = { max_age = \"30d\"; max_total = \"500G\"; min_keep = 0; }; },\n"
	    "  { name = \"b\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    output_dir = \"/tmp\"; on_stored = { command = [ \"/bin/true\" ]; };\n"
	    "    retention = { max_age = \"10m\"; }; },\n"
	    "  { name = \"c\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    output_dir = \"/tmp\"; }\n"
	    ");\n");
	const struct listener_cfg *a = &cfg->listeners[0], *b = &cfg->listeners[1];
	const struct listener_cfg *c = &cfg->listeners[2];

	ck_assert_uint_eq(a->on_stored.n_command, 3);
	ck_assert_str_eq(a->on_stored.command[2], "echo $TCPXD_FILE");
	ck_assert_uint_eq(a->on_stored.max_running, 2);
	ck_assert_uint_eq(a->on_stored.timeout, 300);
	ck_assert_uint_eq(a->on_stored.retries, 0);
	ck_assert(a->retention.enabled);
	ck_assert_uint_eq(a->retention.max_age, 30 * 86400);
	ck_assert_uint_eq(a->retention.max_total, (uint64_t)500 << 30);
	ck_assert_uint_eq(a->retention.min_keep, 0);
	/* Defaults: 4 at once, 300 s, 5 retries; min_keep an hour, or max_age when shorter. */
	ck_assert_uint_eq(b->on_stored.max_running, 4);
	ck_assert_uint_eq(b->on_stored.timeout, 300);
	ck_assert_uint_eq(b->on_stored.retries, 5);
	ck_assert_uint_eq(b->retention.max_total, 0);
	ck_assert_uint_eq(b->retention.min_keep, 600);
	ck_assert(c->on_stored.command == NULL);
	ck_assert(!c->retention.enabled);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_values)
{
	struct config *cfg;
	const struct listener_cfg *l;

	/* Limits of each range, sizes as integers, 64-bit integers, every log level. */
	cfg = load_text(
	    "max_connections = 1000000;\n"
	    "shutdown_timeout = 0;\n"
	    "log_level = \"warning\";\n"
	    "thread_stack_size = 65536;\n"
	    "buffer_size = \"64M\";\n"
	    "max_per_ip = 1;\n"
	    "idle_timeout = 86400;\n"
	    "min_free_space = \"4194304T\";\n"
	    "max_file_size = 4611686018427387904L;\n"
	    "listeners = (\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 0;\n"
	    "    output_dir = \"/\"; file_mode = \"666\"; protocol = \"raw\";\n"
	    "    allow = ( \"127.0.0.1\" ); deny = [ \"::/0\", \"0.0.0.0/0\" ]; },\n"
	    "  { name = \"s\"; mode = \"receive\"; address = \"::1\"; port = 0;\n"
	    "    output_dir = \"/x\"; max_file_size = 1; file_mode = \"0600\"; }\n"
	    ");\n");
	ck_assert_uint_eq(cfg->max_connections, 1000000);
	ck_assert_uint_eq(cfg->shutdown_timeout, 0);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_WARNING);
	ck_assert_uint_eq(cfg->thread_stack_size, 64 * KIB);
	l = find_listener(cfg, "r");
	ck_assert_uint_eq(l->buffer_size, 64 * MIB);
	ck_assert_uint_eq(l->max_per_ip, 1);
	ck_assert_uint_eq(l->idle_timeout, 86400);
	ck_assert_uint_eq(l->min_free_space, (uint64_t)1 << 62);
	ck_assert_uint_eq(l->max_file_size, (uint64_t)1 << 62);
	ck_assert_uint_eq(l->file_mode, 0666);
	ck_assert_int_eq(l->protocol, PROTO_RAW);
	assert_cidrs(&l->allow, "127.0.0.1/32");
	assert_cidrs(&l->deny, "::/0 0.0.0.0/0");
	l = find_listener(cfg, "s");
	ck_assert_uint_eq(l->max_file_size, 1);
	ck_assert_uint_eq(l->file_mode, 0600);
	cfg_free(cfg);

	cfg = load_text("log_level = \"error\";\n" LISTENERS_OK);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_ERROR);
	cfg_free(cfg);
	cfg = load_text("log_level = \"info\";\n" LISTENERS_OK);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	cfg_free(cfg);
}
END_TEST

/* libconfig 1.5 cuts integers without L to 32 bits: every one is used as written. */
/* Two listeners on one line, a on line 2 and b on line 3, with extra settings. */
static void
expect_conflict(const char *a, const char *a_extra, const char *b, const char *b_extra,
    const char *reason, int at)
{
	char text[1024], want[1024 + PATH_MAX];

	snprintf(text, sizeof(text), "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"%s\"; port = 7007; %s },\n"
	    "  { name = \"b\"; mode = \"echo\"; address = \"%s\"; port = 7007; %s }\n);\n",
	    a, a_extra, b, b_extra);
	if (reason == NULL) {
		cfg_free(load_text(text));
		return;
	}
	snprintf(want, sizeof(want), "listener \"b\" (%s port 7007) conflicts with listener \"a\" "
	    "at %s:2 (%s port 7007): %s", b, conf_path, a, reason);
	expect_err(text, 3, want, at);
}

#define EXPECT_CONFLICT(a, ae, b, be, reason) expect_conflict(a, ae, b, be, reason, __LINE__)

/* Listeners are compared by what they bind, as the kernel does, before anything binds. */
START_TEST(test_config_bind_conflicts)
{
	EXPECT_CONFLICT("127.0.0.1", "", "0.0.0.0", "", "0.0.0.0 takes the port on every IPv4 address");
	EXPECT_CONFLICT("0.0.0.0", "", "10.1.2.3", "", "0.0.0.0 takes the port on every IPv4 address");
	EXPECT_CONFLICT("::", "", "127.0.0.1", "",
	    ":: (dual-stack, v6only = false) takes the port on every IPv4 address too");
	EXPECT_CONFLICT("0.0.0.0", "", "::", "",
	    ":: (dual-stack, v6only = false) takes the port on every IPv4 address too");
	EXPECT_CONFLICT("::1", "", "::", "v6only = true;", ":: takes the port on every IPv6 address");
	EXPECT_CONFLICT("::1", "", "0:0:0:0:0:0:0:1", "", "both bind ::1");
	EXPECT_ERR("listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"::1\"; port = 7007; },\n"
	    "  { name = \"b\"; mode = \"echo\"; address = \"[::1]\"; port = 7007; }\n);\n", 3,
	    "listener \"b\" (::1 port 7007) conflicts with listener \"a\" at ");
	EXPECT_CONFLICT("0.0.0.0", "", "::ffff:127.0.0.1", "",
	    "0.0.0.0 takes the port on every IPv4 address");
	EXPECT_CONFLICT("127.0.0.1", "reuseport = true;", "0.0.0.0", "",
	    "0.0.0.0 takes the port on every IPv4 address");
	/* What the kernel allows. */
	EXPECT_CONFLICT("::", "v6only = true;", "127.0.0.1", "", NULL);
	EXPECT_CONFLICT("::", "v6only = true;", "0.0.0.0", "", NULL);
	EXPECT_CONFLICT("::1", "", "127.0.0.1", "", NULL);
	EXPECT_CONFLICT("127.0.0.1", "", "127.0.0.2", "", NULL);
	EXPECT_CONFLICT("127.0.0.1", "reuseport = true;", "0.0.0.0", "reuseport = true;", NULL);
	EXPECT_CONFLICT("::", "reuseport = true;", "::", "reuseport = true;", NULL);
	/* Host names are resolved by -t and start-up only, not by every load. */
	EXPECT_CONFLICT("127.0.0.1", "", "localhost", "", NULL);
}
END_TEST

/* address: numeric forms exactly, brackets accepted, inet_aton shorthands and "*" refused. */
START_TEST(test_config_address_forms)
{
	static const char *const ipv4[] = { "0", "127.1", "127.000.000.001", "0x7f000001",
		"010.0.0.1", "1.2.3.04", "0x7f.0.0.1", "4294967297", "256.0.0.1" };
	struct config *cfg;
	char text[256], want[256];

	cfg = load_text("listeners = ( { name = \"a\"; mode = \"echo\"; address = \"[::1]\"; "
	    "port = 0; }, { name = \"b\"; mode = \"echo\"; address = \"localhost\"; port = 0; } );\n");
	ck_assert_str_eq(cfg->listeners[0].address, "::1");
	ck_assert_str_eq(cfg->listeners[1].address, "localhost");
	cfg_free(cfg);
	for (size_t i = 0; i < sizeof(ipv4) / sizeof(ipv4[0]); i++) {
		snprintf(want, sizeof(want), "address \"%s\" is not a valid IPv4 address: write four "
		    "decimal numbers 0-255 without leading zeros, such as \"127.0.0.1\"", ipv4[i]);
		snprintf(text, sizeof(text), "listeners = ( { name = \"l\"; mode = \"echo\"; port = 0;\n"
		    "  address = \"%s\"; } );\n", ipv4[i]);
		EXPECT_ERR(text, 2, want);
	}
	EXPECT_ERR("listeners = ( { name = \"l\"; mode = \"echo\"; port = 0;\n address = \"*\"; } );\n",
	    2, "address \"*\" is not accepted: write \"::\" (every address, IPv4 too) or \"0.0.0.0\" "
	    "(every IPv4 address)");
	EXPECT_ERR("listeners = ( { name = \"l\"; mode = \"echo\"; port = 0;\n address = \"[::1\"; } );\n",
	    2, "address \"[::1\": a bracket without its pair");
	EXPECT_ERR("listeners = ( { name = \"l\"; mode = \"echo\"; port = 0;\n address = \"::1::2\"; } );\n",
	    2, "address \"::1::2\" is not a valid IPv6 address");
	EXPECT_ERR("listeners = ( { name = \"l\"; mode = \"echo\"; port = 0;\n address = \"[127.0.0.1]\"; } );\n",
	    2, "address \"[127.0.0.1]\" is not a valid IPv6 address");
}
END_TEST

START_TEST(test_config_exact_integers)
{
	static const struct { const char *text; uint64_t want; } sizes[] = {
		{ "5000000000", 5000000000ull },
		{ "4294967297", 4294967297ull },
		{ "2147483648", 2147483648ull },
		{ "4294967296", 4294967296ull },
		{ "+4294967296", 4294967296ull },
		{ "5000000000L", 5000000000ull },
		{ "5000000000LL", 5000000000ull },
		{ "0x100000000", 4294967296ull },
		{ "0xFFFFFFFF", 4294967295ull },
		{ "0x80000000", 2147483648ull },
		{ "0x1FFFFFFFFL", 8589934591ull },
		{ "4611686018427387904", (uint64_t)1 << 62 },
		{ "007", 7 },
	};
	struct config *cfg;
	char text[512];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(text, sizeof(text), L_RECV("    max_file_size = %s;\n"), sizes[i].text);
		cfg = load_text(text);
		ck_assert_msg(cfg->listeners[0].max_file_size == sizes[i].want, "%s -> %llu",
		    sizes[i].text, (unsigned long long)cfg->listeners[0].max_file_size);
		cfg_free(cfg);
	}
	/* Two listeners on one line: each gets its own numbers. */
	cfg = load_text("listeners = ( { name = \"a\"; mode = \"echo\"; address = \"::1\"; "
	    "port = 0; max_per_ip = 3; }, { name = \"b\"; mode = \"echo\"; address = \"::1\"; "
	    "port = 0; max_per_ip = 1000000; } );\nmin_free_space = 4294967296; // 1 /* 2 */\n"
	    "/* 3\n 4 */ shutdown_timeout = 5;\n");
	ck_assert_uint_eq(find_listener(cfg, "a")->max_per_ip, 3);
	ck_assert_uint_eq(find_listener(cfg, "b")->max_per_ip, 1000000);
	ck_assert_uint_eq(cfg->shutdown_timeout, 5);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_err_big_integers)
{
	EXPECT_ERR("listeners = ( { name = \"a\"; mode = \"echo\"; address = \"::1\";\n"
	    "  port = 4294967296; } );\n", 2, "port = 4294967296 is out of range (0..65535)");
	EXPECT_ERR("listeners = ( { name = \"a\"; mode = \"echo\"; address = \"::1\";\n"
	    "  port = 4294994303; } );\n", 2, "port = 4294994303 is out of range (0..65535)");
	EXPECT_ERR(L_ECHO("    max_per_ip = 5000000000;\n"), 7,
	    "max_per_ip = 5000000000 is out of range (1..1000000)");
	EXPECT_ERR(L_ECHO("    idle_timeout = 4294967297;\n"), 7,
	    "idle_timeout = 4294967297 is out of range (1..86400)");
	EXPECT_ERR(L_ECHO("    idle_timeout = 0x100000001;\n"), 7,
	    "idle_timeout = 0x100000001 is out of range (1..86400)");
	EXPECT_ERR(L_ECHO("    idle_timeout = -4294967295;\n"), 7,
	    "idle_timeout = -4294967295 is out of range (1..86400)");
	EXPECT_ERR("shutdown_timeout = 4294967296;\n" LISTENERS_OK, 1,
	    "shutdown_timeout = 4294967296 is out of range (0..3600)");
	EXPECT_ERR("max_connections = 99999999999999999999999;\n" LISTENERS_OK, 1,
	    "max_connections = 99999999999999999999999 is out of range (1..1000000)");
	EXPECT_ERR("thread_stack_size = 4294967296;\n" LISTENERS_OK, 1,
	    "thread_stack_size = 4294967296 is out of range (64K..64M)");
	EXPECT_ERR("buffer_size = 4294968320;\n" LISTENERS_OK, 1,
	    "buffer_size = 4294968320 is out of range (1K..64M)");
	EXPECT_ERR(L_RECV("    max_file_size = 9223372036854775808L;\n"), 8,
	    "max_file_size = 9223372036854775808L is out of range (1..4194304T)");
	EXPECT_ERR(L_RECV("    min_free_space = 0xFFFFFFFFFFFFFFFFL;\n"), 8,
	    "min_free_space = 0xFFFFFFFFFFFFFFFFL is out of range (0..4194304T)");
	EXPECT_ERR(L_RECV("    max_file_size = 4611686018427387905;\n"), 8,
	    "max_file_size = 4611686018427387905 is out of range (1..4194304T)");
	EXPECT_ERR("listeners = ( { name = \"a\"; mode = \"echo\"; address = \"::1\"; port = 1; }, "
	    "{ name = \"b\"; mode = \"echo\"; address = \"::1\"; port = 4294967298; } );\n", 1,
	    "port = 4294967298 is out of range (0..65535)");
}
END_TEST

/* @include: files checked before libconfig opens them, errors with openable paths. */
START_TEST(test_config_includes)
{
	char inc[PATH_MAX + 32], text[PATH_MAX + 256], want[PATH_MAX * 2 + 256];
	char err[1024];
	struct config *cfg = (struct config *)&cfg;

	snprintf(inc, sizeof(inc), "%s/inc.conf", tmpdir);
	write_text(inc, "\nmax_file_size = 5000000000;\n", 0644);
	cfg = load_text("@include \"inc.conf\"\n" L_RECV(""));
	ck_assert_uint_eq(cfg->listeners[0].max_file_size, 5000000000ull);
	cfg_free(cfg);

	/* An error inside the included file names the file as it can be opened. */
	write_text(inc, "\nport = 4294967296;\n", 0644);
	write_text(conf_path, "listeners = ( { name = \"a\"; mode = \"echo\"; address = \"::1\";\n"
	    "@include \"inc.conf\"\n} );\n", 0644);
	snprintf(want, sizeof(want), "%s/inc.conf:2: port = 4294967296 is out of range", tmpdir);
	ck_assert_int_eq(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got %s", err);
	write_text(inc, "\nport = ;\n", 0644);
	snprintf(want, sizeof(want), "%s/inc.conf:2: syntax error", tmpdir);
	ck_assert_int_eq(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got %s", err);
	unlink(inc);

	/* Missing, a directory, a FIFO, world-writable, absolute. */
	EXPECT_ERR("\n@include \"nope.conf\"\n" LISTENERS_OK, 2, "@include \"nope.conf\": ");
	snprintf(want, sizeof(want), "@include \"nope.conf\": %s/nope.conf: cannot open: %s", tmpdir,
	    strerror(ENOENT));
	EXPECT_ERR("\n@include \"nope.conf\"\n" LISTENERS_OK, 2, want);
	ck_assert_int_eq(mkdir(inc, 0755), 0);
	snprintf(want, sizeof(want), "@include \"inc.conf\": %s: not a regular file", inc);
	EXPECT_ERR("@include \"inc.conf\"\n" LISTENERS_OK, 1, want);
	ck_assert_int_eq(rmdir(inc), 0);
	ck_assert_int_eq(mkfifo(inc, 0644), 0);
	EXPECT_ERR("@include \"inc.conf\"\n" LISTENERS_OK, 1, want);
	ck_assert_int_eq(unlink(inc), 0);
	write_text(inc, "\n", 0646);
	snprintf(want, sizeof(want), "@include \"inc.conf\": %s: refusing a world-writable", inc);
	EXPECT_ERR("@include \"inc.conf\"\n" LISTENERS_OK, 1, want);
	unlink(inc);
	snprintf(text, sizeof(text), "@include \"%s\"\n" LISTENERS_OK, inc);
	snprintf(want, sizeof(want), "@include \"%s\": the name must be relative to %s", inc, tmpdir);
	EXPECT_ERR(text, 1, want);
	/* Commented out or inside a string: not an include. */
	cfg = load_text("# @include \"nope.conf\"\n/*\n@include \"nope.conf\"\n*/\n" LISTENERS_OK);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_same_port_ok)
{
	struct config *cfg;

	/* Port 0 (kernel-chosen) twice, and one port on two addresses, are fine. */
	cfg = load_text(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n"
	    "  { name = \"b\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n"
	    "  { name = \"c\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"d\"; mode = \"echo\"; address = \"::1\"; port = 7007; }\n"
	    ");\n");
	ck_assert_uint_eq(cfg->n_listeners, 4);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_shipped)
{
	struct config *cfg;
	const struct listener_cfg *l;

	/* etc/tcpxd.conf as shipped: loopback only, and it loads. */
	copy_data("../../../etc/tcpxd.conf", conf_path);
	cfg = load_path(conf_path);
	ck_assert_uint_ge(cfg->n_listeners, 1);
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		l = &cfg->listeners[i];
		ck_assert_msg(strcmp(l->address, "127.0.0.1") == 0 || strcmp(l->address, "::1") == 0 ||
		    strcmp(l->address, "localhost") == 0,
		    "shipped listener %s is not on loopback: %s", l->name, l->address);
	}
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_err_syntax)
{
	EXPECT_ERR("# comment\nmax_connections = ;\n" LISTENERS_OK, 2, "syntax error");
	EXPECT_ERR(LISTENERS_OK "\n\nlisteners2 = ( { ;\n", 4, "syntax error");
	EXPECT_ERR("max_connections = 10\n" "max_connections = 11;\n" LISTENERS_OK, 2,
	    "duplicate key \"max_connections\" (first set on line 1)");
	EXPECT_ERR(L_ECHO("    idle_timeout = 5; idle_timeout = 6;\n"), 7,
	    "duplicate key \"idle_timeout\" (first set on line 7)");
	EXPECT_ERR(L_ECHO("    tls = { key = \"/k\";\n key = \"/k\"; };\n"), 8,
	    "duplicate key \"key\" (first set on line 7)");
}
END_TEST

START_TEST(test_config_err_unknown_keys)
{
	EXPECT_ERR("max_connections = 10;\n\nmax_conections = 10;\n" LISTENERS_OK, 3,
	    "unknown key \"max_conections\"");
	EXPECT_ERR(L_ECHO("    idle_timout = 5;\n"), 7, "unknown key \"idle_timout\" in listener");
	EXPECT_ERR(L_RECV("    outputdir = \"/x\";\n"), 8, "unknown key \"outputdir\" in listener");
}
END_TEST

START_TEST(test_config_err_types)
{
	EXPECT_ERR("max_connections = \"10\";\n" LISTENERS_OK, 1,
	    "max_connections must be an integer, not a string");
	EXPECT_ERR("\nidle_timeout = 1.5;\n" LISTENERS_OK, 2,
	    "idle_timeout must be an integer, not a float");
	EXPECT_ERR(L_ECHO("    max_per_ip = true;\n"), 7, "max_per_ip must be an integer, not a boolean");
	EXPECT_ERR(L_ECHO("    v6only = 1;\n"), 7, "v6only must be true or false");
	EXPECT_ERR("v6only = \"yes\";\n" LISTENERS_OK, 1, "v6only must be true or false");
	EXPECT_ERR("buffer_size = 1.5;\n" LISTENERS_OK, 1,
	    "buffer_size must be a size (integer or string such as \"64K\"), not a float");
	EXPECT_ERR(L_RECV("    max_file_size = 1e9;\n"), 8,
	    "max_file_size must be a size (integer or string such as \"64K\"), not a float");
	EXPECT_ERR(L_ECHO("    buffer_size = [ \"64K\" ];\n"), 7,
	    "buffer_size must be a size (integer or string such as \"64K\"), not an array");
	EXPECT_ERR(L_ECHO("    allow = \"10.0.0.0/8\";\n"), 7,
	    "allow must be a list of CIDR strings such as [ \"10.0.0.0/8\" ]");
	EXPECT_ERR(L_ECHO("    deny = [ 10, 11 ];\n"), 7, "deny entries must be strings");
	EXPECT_ERR("log_level = 3;\n" LISTENERS_OK, 1, "log_level must be a string, not an integer");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; mode = \"echo\"; port = 7007;\n"
	    "    address = 127; }\n"
	    ");\n", 3, "address must be a string, not an integer");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; mode = \"echo\"; port = 7007;\n"
	    "    address = \"\"; }\n"
	    ");\n", 3, "address must not be empty");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; address = \"::1\"; port = 7007;\n"
	    "    mode = { }; }\n"
	    ");\n", 3, "mode must be a string, not a group");
}
END_TEST

START_TEST(test_config_err_range)
{
	EXPECT_ERR("max_connections = 0;\n" LISTENERS_OK, 1,
	    "max_connections = 0 is out of range (1..1000000)");
	EXPECT_ERR("max_connections = 1000001;\n" LISTENERS_OK, 1,
	    "max_connections = 1000001 is out of range (1..1000000)");
	EXPECT_ERR("max_connections = 4294967297L;\n" LISTENERS_OK, 1,
	    "max_connections = 4294967297L is out of range (1..1000000)");
	EXPECT_ERR("shutdown_timeout = 3601;\n" LISTENERS_OK, 1,
	    "shutdown_timeout = 3601 is out of range (0..3600)");
	EXPECT_ERR("shutdown_timeout = -1;\n" LISTENERS_OK, 1,
	    "shutdown_timeout = -1 is out of range (0..3600)");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; mode = \"echo\"; address = \"127.0.0.1\";\n"
	    "    port = 70000; }\n"
	    ");\n", 3, "port = 70000 is out of range (0..65535)");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; mode = \"echo\"; address = \"127.0.0.1\";\n"
	    "    port = -1; }\n"
	    ");\n", 3, "port = -1 is out of range (0..65535)");
	EXPECT_ERR("idle_timeout = 0;\n" LISTENERS_OK, 1,
	    "idle_timeout = 0 is out of range (1..86400)");
	EXPECT_ERR(L_ECHO("    idle_timeout = 0;\n"), 7,
	    "idle_timeout = 0 is out of range (1..86400)");
	EXPECT_ERR(L_ECHO("    max_per_ip = 0;\n"), 7,
	    "max_per_ip = 0 is out of range (1..1000000)");
	EXPECT_ERR("buffer_size = \"100\";\n" LISTENERS_OK, 1,
	    "buffer_size = \"100\" is out of range (1K..64M)");
	EXPECT_ERR(L_ECHO("    buffer_size = \"65537K\";\n"), 7,
	    "buffer_size = \"65537K\" is out of range (1K..64M)");
	EXPECT_ERR("buffer_size = -4096;\n" LISTENERS_OK, 1,
	    "buffer_size = -4096 is out of range (1K..64M)");
	EXPECT_ERR("thread_stack_size = \"16K\";\n" LISTENERS_OK, 1,
	    "thread_stack_size = \"16K\" is out of range (64K..64M)");
	EXPECT_ERR("thread_stack_size = 65535;\n" LISTENERS_OK, 1,
	    "thread_stack_size = 65535 is out of range (64K..64M)");
	EXPECT_ERR(L_RECV("    max_file_size = 0;\n"), 8,
	    "max_file_size = 0 is out of range (1..4194304T)");
	EXPECT_ERR(L_RECV("    max_file_size = \"4194305T\";\n"), 8,
	    "max_file_size = \"4194305T\" is out of range (1..4194304T)");
}
END_TEST

START_TEST(test_config_err_bad_values)
{
	EXPECT_ERR(L_RECV("    max_file_size = \"1GB\";\n"), 8,
	    "max_file_size = \"1GB\" is not a size (examples: 4096, \"64K\", \"1G\")");
	EXPECT_ERR("min_free_space = \"-1\";\n" LISTENERS_OK, 1,
	    "min_free_space = \"-1\" is not a size");
	EXPECT_ERR("buffer_size = \"\";\n" LISTENERS_OK, 1, "buffer_size = \"\" is not a size");
	EXPECT_ERR("buffer_size = \"1.5M\";\n" LISTENERS_OK, 1, "buffer_size = \"1.5M\" is not a size");
	EXPECT_ERR("buffer_size = \"99999999999999999999\";\n" LISTENERS_OK, 1,
	    "buffer_size = \"99999999999999999999\" is out of range (1K..64M)");
	EXPECT_ERR("buffer_size = \"99999999999999999999x\";\n" LISTENERS_OK, 1,
	    "buffer_size = \"99999999999999999999x\" is not a size");
	EXPECT_ERR("\n\nlog_level = \"verbose\";\n" LISTENERS_OK, 3,
	    "log_level \"verbose\" is not one of error, warning, info, debug");
	EXPECT_ERR("log_level = \"INFO \";\n" LISTENERS_OK, 1, "log_level \"INFO \" is not one of");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; address = \"::1\"; port = 7007;\n"
	    "    mode = \"mirror\"; }\n"
	    ");\n", 3, "mode \"mirror\" is not one of echo, receive");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"l\"; address = \"::1\"; port = 7007;\n"
	    "    mode = \"Echo\"; }\n"
	    ");\n", 3, "mode \"Echo\" is not one of echo, receive");
	/* A value with a newline in it still gives a one-line message. */
	EXPECT_ERR("protocol = \"au\n;to\";\n" LISTENERS_OK, 1,
	    "protocol \"au?;to\" is not one of auto, raw, framed");
	EXPECT_ERR(L_RECV("    protocol = \"bogus\";\n"), 8,
	    "protocol \"bogus\" is not one of auto, raw, framed");
	EXPECT_ERR("protocol = \"FRAMED\";\n" LISTENERS_OK, 1,
	    "protocol \"FRAMED\" is not one of auto, raw, framed");
}
END_TEST

START_TEST(test_config_err_file_mode)
{
	static const char *const bad[] = { "abc", "0648", "0777", "0700", "0400", "0200", "", "1640",
	    "-0640", "0640 " };
	char text[512], reason[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), L_RECV("    file_mode = \"%s\";\n"), bad[i]);
		snprintf(reason, sizeof(reason), "file_mode \"%s\" must be octal, at most 0666, "
		    "and include owner read and write (0600)", bad[i]);
		EXPECT_ERR(text, 8, reason);
	}
	EXPECT_ERR(L_RECV("    file_mode = 420;\n"), 8,
	    "file_mode must be an octal string such as \"0640\"");
	EXPECT_ERR("\nfile_mode = 0640;\n" LISTENERS_OK, 2,
	    "file_mode must be an octal string such as \"0640\"");
}
END_TEST

START_TEST(test_config_err_cidr)
{
	EXPECT_ERR(L_ECHO("    allow = [ \"127.0.0.0/8\", \"10.0.0.1/8\" ];\n"), 7,
	    "allow: \"10.0.0.1/8\" is not a valid address or CIDR: "
	    "host bits are set (the network is \"10.0.0.0/8\")");
	EXPECT_ERR(L_ECHO("    allow = [ \"2001:db8::1/32\" ];\n"), 7,
	    "allow: \"2001:db8::1/32\" is not a valid address or CIDR: "
	    "host bits are set (the network is \"2001:db8::/32\")");
	EXPECT_ERR(L_ECHO("    deny = [ \"::/129\" ];\n"), 7,
	    "deny: \"::/129\" is not a valid address or CIDR: "
	    "prefix /129 is longer than the 128 bits of an IPv6 address");
	EXPECT_ERR("allow = [ \"example.com\" ];\n" LISTENERS_OK, 1,
	    "allow: \"example.com\" is not a valid address or CIDR: not a numeric IPv4 or IPv6 "
	    "address (host names and shorthands such as 127.1 are not accepted)");
	EXPECT_ERR("allow = [ \"localhost\" ];\n" LISTENERS_OK, 1,
	    "allow: \"localhost\" is not a valid address or CIDR: not a numeric IPv4 or IPv6");
	EXPECT_ERR("allow = [ \"127.1\" ];\n" LISTENERS_OK, 1,
	    "allow: \"127.1\" is not a valid address or CIDR: not a numeric IPv4 or IPv6");
	EXPECT_ERR("allow = [ \"/8\" ];\n" LISTENERS_OK, 1,
	    "allow: \"/8\" is not a valid address or CIDR: no address before the prefix");
	EXPECT_ERR("allow = [ \"10.0.0.0/8x\" ];\n" LISTENERS_OK, 1,
	    "allow: \"10.0.0.0/8x\" is not a valid address or CIDR: the prefix after / must be "
	    "a number 0..32");
	EXPECT_ERR("deny = ( \"10.0.0.0/33\" );\n" LISTENERS_OK, 1,
	    "deny: \"10.0.0.0/33\" is not a valid address or CIDR: "
	    "prefix /33 is longer than the 32 bits of an IPv4 address");
	/*
	 * A rule on a line of its own is reported on that line.  (libconfig 1.5
	 * dates a list element by the token after it, so the bad rule is not last.)
	 */
	EXPECT_ERR(
	    "allow = [\n"
	    "  \"10.0.0.0/8\",\n"
	    "  \"192.168.1.0/8\",\n"
	    "  \"192.168.0.0/16\"\n"
	    "];\n" LISTENERS_OK, 3, "allow: \"192.168.1.0/8\" is not a valid address or CIDR");
}
END_TEST

START_TEST(test_config_err_missing)
{
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; }\n"
	    ");\n", 2, "listener has no name");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"b\"; address = \"127.0.0.1\"; port = 7008; }\n"
	    ");\n", 3, "listener has no mode (echo or receive)");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; port = 7007; }\n"
	    ");\n", 2, "listener \"a\" has no address");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; }\n"
	    ");\n", 2, "listener \"a\" has no port");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"in\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 7008; }\n"
	    ");\n", 2, "receive listener \"in\" has no output_dir");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  {}\n"
	    ");\n", 2, "listener has no mode (echo or receive)");
}
END_TEST

START_TEST(test_config_err_relative_output_dir)
{
	/* The line is the one of the output_dir setting that is wrong. */
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"in\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 7008;\n"
	    "    output_dir = \"inbox\"; }\n"
	    ");\n", 3, "output_dir \"inbox\"");
	EXPECT_ERR(
	    "output_dir = \"var/lib/tcpxd\";\n"
	    "listeners = (\n"
	    "  { name = \"in\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 7008; }\n"
	    ");\n", 1, "output_dir \"var/lib/tcpxd\"");
}
END_TEST

START_TEST(test_config_err_scope)
{
	EXPECT_ERR(L_ECHO("    output_dir = \"/srv/in\";\n"), 7,
	    "output_dir has no effect on an echo listener");
	EXPECT_ERR(L_ECHO("    max_file_size = \"1G\";\n"), 7,
	    "max_file_size has no effect on an echo listener");
	EXPECT_ERR(L_ECHO("    min_free_space = 0;\n"), 7,
	    "min_free_space has no effect on an echo listener");
	EXPECT_ERR(L_ECHO("    file_mode = \"0640\";\n"), 7,
	    "file_mode has no effect on an echo listener");
	EXPECT_ERR(L_ECHO("    protocol = \"raw\";\n"), 7,
	    "protocol has no effect on an echo listener");
	EXPECT_ERR(L_ECHO("    max_connections = 0;\n"), 7,
	    "max_connections = 0 is out of range (1..1000000)");
	EXPECT_ERR("max_rate = \"1M\";\n" LISTENERS_OK, 1, "max_rate must be set inside a listener");
	EXPECT_ERR(L_RECV("    log_level = \"debug\";\n"), 8,
	    "log_level is a global setting and cannot be set per listener");
	EXPECT_ERR(L_ECHO("    shutdown_timeout = 1;\n"), 7,
	    "shutdown_timeout is a global setting and cannot be set per listener");
	EXPECT_ERR(L_ECHO("    thread_stack_size = \"1M\";\n"), 7,
	    "thread_stack_size is a global setting and cannot be set per listener");
	EXPECT_ERR("port = 7007;\n" LISTENERS_OK, 1, "port must be set inside a listener");
	EXPECT_ERR(LISTENERS_OK "name = \"x\";\n", 2, "name must be set inside a listener");
	EXPECT_ERR("\nmode = \"echo\";\n" LISTENERS_OK, 2, "mode must be set inside a listener");
	EXPECT_ERR("address = \"::\";\n" LISTENERS_OK, 1, "address must be set inside a listener");
	EXPECT_ERR(L_ECHO("    listeners = ( );\n"), 7, "unknown key \"listeners\" in listener");
}
END_TEST

START_TEST(test_config_err_listeners)
{
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"b\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7008; },\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7009; }\n"
	    ");\n", 4, "duplicate listener name \"a\" (first defined on line 2)");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"b\"; mode = \"receive\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "    output_dir = \"/srv\"; }\n"
	    ");\n", 3, "listener \"b\" (127.0.0.1 port 7007) conflicts with listener \"a\" at ");
	EXPECT_ERR("max_connections = 10;\n", 0,
	    "no listeners defined (add listeners = ( { ... } );)");
	EXPECT_ERR("", 0, "no listeners defined");
	EXPECT_ERR("# nothing\n", 0, "no listeners defined");
	EXPECT_ERR("\nlisteners = ( );\n", 2, "listeners is empty: define at least one listener");
	EXPECT_ERR("listeners = [ ];\n", 1, "listeners is empty: define at least one listener");
	EXPECT_ERR(
	    "listeners = { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; };\n",
	    1, "listeners must be a list ( { ... }, { ... } ), not a group");
	EXPECT_ERR("listeners = \"echo\";\n", 1,
	    "listeners must be a list ( { ... }, { ... } ), not a string");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { name = \"a\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  \"b\",\n"
	    "  { name = \"c\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7008; }\n"
	    ");\n", 3, "each listener must be a group { ... }, not a string");
}
END_TEST

START_TEST(test_config_err_listener_name)
{
	static const char *const bad[] = { "a b", "../x", "a/b", "x:y", "\xc3\xa9t\xc3\xa9", "tab\\t",
	    "0123456789012345678901234567890123456789012345678901234567890123x" };
	char text[512];
	struct config *cfg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "listeners = (\n"
		    "  { mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
		    "    name = \"%s\"; }\n"
		    ");\n", bad[i]);
		EXPECT_ERR(text, 3, "listener name \"");
	}
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "    name = \"a b\"; }\n"
	    ");\n", 3, "listener name \"a b\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
	EXPECT_ERR(
	    "listeners = (\n"
	    "  { mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "    name = \"\"; }\n"
	    ");\n", 3, "name must not be empty");
	/* 64 characters is the longest valid name. */
	cfg = load_text(
	    "listeners = ( { mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "    name = \"0123456789012345678901234567890123456789012345678901234567890123\"; } );\n");
	ck_assert_uint_eq(strlen(cfg->listeners[0].name), 64);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_err_files)
{
	struct config *cfg = (struct config *)&cfg;
	char err[1024], want[PATH_MAX + 256], path[PATH_MAX + 32];

	/* Missing. */
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, want);

	/* World-writable: refused even though it is valid. */
	write_text(conf_path, LISTENERS_OK, 0666);
	snprintf(want, sizeof(want), "%s: refusing a world-writable configuration file", conf_path);
	cfg = (struct config *)&cfg;
	ck_assert_int_eq(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
	ck_assert_int_eq(chmod(conf_path, 0602), 0);
	ck_assert_int_eq(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
	/* Group-writable is the admin's business. */
	ck_assert_int_eq(chmod(conf_path, 0664), 0);
	cfg = load_path(conf_path);
	cfg_free(cfg);

	/* A directory. */
	snprintf(path, sizeof(path), "%s/dir.conf", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(want, sizeof(want), "%s: ", path);
	cfg = (struct config *)&cfg;
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
	ck_assert_msg(strstr(err, "not a regular file") != NULL || strstr(err, strerror(EISDIR)) != NULL,
	    "got: %s", err);
}
END_TEST

START_TEST(test_config_err_short_buffer)
{
	struct config *cfg;
	char err[64];

	/* A long message is cut to the buffer, never past it. */
	write_text(conf_path, "max_connections = 0;\n" LISTENERS_OK, 0644);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(cfg_load(conf_path, &cfg, err, 16), -1);
	ck_assert_int_eq(err[15], '\0');
	ck_assert_int_eq(err[16], 'x');
	ck_assert_int_eq(strncmp(err, conf_path, 15), 0);
}
END_TEST

START_TEST(test_config_file_outlives_path)
{
	struct config *cfg;
	char *path = strdup(conf_path);

	/* Listener messages name l->file: it must not point into the caller's buffer. */
	ck_assert_ptr_nonnull(path);
	write_text(conf_path, LISTENERS_OK, 0644);
	cfg = load_path(path);
	memset(path, 'X', strlen(path));
	ck_assert_str_eq(cfg->listeners[0].file, conf_path);
	free(path);
	cfg_free(cfg);
}
END_TEST

static void
assert_same_config(const struct config *a, const struct config *b)
{
	ck_assert_uint_eq(a->max_connections, b->max_connections);
	ck_assert_uint_eq(a->shutdown_timeout, b->shutdown_timeout);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_uint_eq(a->thread_stack_size, b->thread_stack_size);
	ck_assert_uint_eq(a->n_listeners, b->n_listeners);
	for (size_t i = 0; i < a->n_listeners; i++) {
		const struct listener_cfg *la = &a->listeners[i], *lb = &b->listeners[i];

		ck_assert_str_eq(la->name, lb->name);
		ck_assert_int_eq(la->mode, lb->mode);
		ck_assert_str_eq(la->address, lb->address);
		ck_assert_uint_eq(la->port, lb->port);
		ck_assert_int_eq(la->v6only, lb->v6only);
		ck_assert_uint_eq(la->buffer_size, lb->buffer_size);
		ck_assert_uint_eq(la->max_per_ip, lb->max_per_ip);
		ck_assert_uint_eq(la->idle_timeout, lb->idle_timeout);
		ck_assert_uint_eq(la->allow.count, lb->allow.count);
		if (la->allow.count > 0)
			ck_assert_mem_eq(la->allow.items, lb->allow.items,
			    la->allow.count * sizeof(*la->allow.items));
		ck_assert_uint_eq(la->deny.count, lb->deny.count);
		if (la->deny.count > 0)
			ck_assert_mem_eq(la->deny.items, lb->deny.items,
			    la->deny.count * sizeof(*la->deny.items));
		ck_assert_int_eq(la->reuseport, lb->reuseport);
		ck_assert_int_eq(la->proxy_protocol, lb->proxy_protocol);
		ck_assert_uint_eq(la->proxy_from.count, lb->proxy_from.count);
		if (la->proxy_from.count > 0)
			ck_assert_mem_eq(la->proxy_from.items, lb->proxy_from.items,
			    la->proxy_from.count * sizeof(*la->proxy_from.items));
		ck_assert_int_eq(la->tls.certificate == NULL, lb->tls.certificate == NULL);
		if (la->tls.certificate != NULL) {
			ck_assert_str_eq(la->tls.certificate, lb->tls.certificate);
			ck_assert_str_eq(la->tls.key, lb->tls.key);
			ck_assert_int_eq(la->tls.ca == NULL, lb->tls.ca == NULL);
			if (la->tls.ca != NULL)
				ck_assert_str_eq(la->tls.ca, lb->tls.ca);
			ck_assert_int_eq(la->tls.verify_client, lb->tls.verify_client);
		}
		if (la->mode == MODE_RECEIVE) {
			ck_assert_int_eq(la->protocol, lb->protocol);
			ck_assert_str_eq(la->output_dir, lb->output_dir);
			ck_assert_uint_eq(la->max_file_size, lb->max_file_size);
			ck_assert_uint_eq(la->min_free_space, lb->min_free_space);
			ck_assert_uint_eq(la->file_mode, lb->file_mode);
		}
	}
}

static void
print_and_reload(struct config *cfg)
{
	char printed[PATH_MAX + 32];
	struct config *again;
	FILE *fp;

	snprintf(printed, sizeof(printed), "%s/printed.conf", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(printed, "w"));
	cfg_print(cfg, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(printed, 0644), 0);
	again = load_path(printed);
	assert_same_config(cfg, again);
	cfg_free(again);
}

START_TEST(test_config_proxy_tls)
{
	struct config *cfg;
	const struct listener_cfg *l;

	cfg = load_text(
	    "reuseport = true;\n"
	    "proxy_protocol = true;\n"
	    "proxy_from = [ \"10.1.0.0/16\" ];\n"
	    "listeners = (\n"
	    "  { name = \"e\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "    tls = { certificate = \"/etc/tcpxd/c.pem\"; key = \"/etc/tcpxd/k.pem\"; }; },\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/in\"; reuseport = false; proxy_from = [ \"::1\", \"127.0.0.1\" ];\n"
	    "    tls = { certificate = \"/c\"; key = \"/k\"; ca = \"/ca\"; verify_client = true; }; },\n"
	    "  { name = \"p\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7009;\n"
	    "    proxy_protocol = false; proxy_from = [ ]; }\n"
	    ");\n");
	l = find_listener(cfg, "e");
	ck_assert(l->reuseport);
	ck_assert(l->proxy_protocol);
	assert_cidrs(&l->proxy_from, "10.1.0.0/16");
	ck_assert_str_eq(l->tls.certificate, "/etc/tcpxd/c.pem");
	ck_assert_str_eq(l->tls.key, "/etc/tcpxd/k.pem");
	ck_assert_ptr_null(l->tls.ca);
	ck_assert(!l->tls.verify_client);
	ck_assert_int_eq(l->tls.line, 6);
	l = find_listener(cfg, "r");
	ck_assert(!l->reuseport);
	assert_cidrs(&l->proxy_from, "::1/128 127.0.0.1/32");
	ck_assert_str_eq(l->tls.ca, "/ca");
	ck_assert(l->tls.verify_client);
	l = find_listener(cfg, "p");
	ck_assert(!l->proxy_protocol);
	ck_assert_uint_eq(l->proxy_from.count, 0);
	ck_assert_ptr_null(l->tls.certificate);
	print_and_reload(cfg);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_err_proxy_tls)
{
	EXPECT_ERR(L_ECHO("    proxy_protocol = true;\n"), 2,
	    "listener \"l\": proxy_protocol = true needs proxy_from");
	EXPECT_ERR(L_ECHO("    proxy_from = [ \"10.0.0.0/8\" ];\n"), 2,
	    "listener \"l\": proxy_from has no effect without proxy_protocol = true");
	EXPECT_ERR(L_ECHO("    proxy_from = [ \"10.0.0.1/8\" ];\n"), 7, "proxy_from: \"10.0.0.1/8\"");
	EXPECT_ERR(L_ECHO("    proxy_protocol = 1;\n"), 7, "proxy_protocol must be true or false");
	EXPECT_ERR(L_ECHO("    reuseport = \"yes\";\n"), 7, "reuseport must be true or false");
	EXPECT_ERR(L_ECHO("    tls = \"/etc/cert.pem\";\n"), 7, "tls must be a group");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; };\n"), 7,
	    "tls needs both certificate and key");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; key = \"/k\"; cert = \"/x\"; };\n"), 7,
	    "unknown key \"cert\" in tls");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"c.pem\"; key = \"/k\"; };\n"), 7,
	    "tls certificate \"c.pem\" must be an absolute path");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; key = \"\"; };\n"), 7,
	    "tls key must not be empty");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; key = \"/k\"; verify_client = true; };\n"), 7,
	    "tls verify_client = true needs ca");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; key = \"/k\"; ca = \"/ca\"; };\n"), 7,
	    "tls ca is only used with verify_client = true");
	EXPECT_ERR(L_ECHO("    tls = { certificate = \"/c\"; key = \"/k\"; verify_client = \"no\"; };\n"),
	    7, "tls verify_client must be true or false");
	EXPECT_ERR("tls = { certificate = \"/c\"; key = \"/k\"; };\n" LISTENERS_OK, 1,
	    "tls must be set inside a listener");
}
END_TEST

START_TEST(test_config_print_round_trip)
{
	struct config *cfg;

	copy_data("full.conf", conf_path);
	cfg = load_path(conf_path);
	print_and_reload(cfg);
	cfg_free(cfg);

	cfg = load_text(
	    "listeners = (\n"
	    "  { name = \"e\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007; },\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/in\"; buffer_size = 1536; max_file_size = 1000000;\n"
	    "    min_free_space = 1; file_mode = \"0666\";\n"
	    "    allow = [ \"0.0.0.0/0\", \"::/0\", \"2001:db8::/127\", \"::ffff:10.0.0.0/104\" ]; }\n"
	    ");\n");
	print_and_reload(cfg);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_print_escapes)
{
	struct config *cfg;

	/* Strings that need escaping in libconfig syntax still print loadable. */
	cfg = load_text(
	    "listeners = (\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/a\\\\b\\\"c\\td\"; }\n"
	    ");\n");
	ck_assert_str_eq(cfg->listeners[0].output_dir, "/srv/a\\b\"c\td");
	print_and_reload(cfg);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_print_text)
{
	char printed[PATH_MAX + 32], buf[4096];
	struct config *cfg;
	FILE *fp;
	size_t n;

	cfg = load_text(
	    "buffer_size = 65536;\n"
	    "listeners = (\n"
	    "  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/in\"; allow = [ \"127.0.0.0/8\", \"::1\" ]; }\n"
	    ");\n");
	snprintf(printed, sizeof(printed), "%s/printed.conf", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(printed, "w+"));
	cfg_print(cfg, fp);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	/* Sizes are printed with their suffix, modes in octal, rules as CIDR. */
	ck_assert_ptr_nonnull(strstr(buf, "buffer_size = \"64K\";"));
	ck_assert_ptr_nonnull(strstr(buf, "max_file_size = \"1G\";"));
	ck_assert_ptr_nonnull(strstr(buf, "min_free_space = \"64M\";"));
	ck_assert_ptr_nonnull(strstr(buf, "file_mode = \"0640\";"));
	ck_assert_ptr_nonnull(strstr(buf, "allow = [ \"127.0.0.0/8\", \"::1/128\" ];"));
	ck_assert_ptr_nonnull(strstr(buf, "output_dir = \"/srv/in\";"));
	ck_assert_ptr_nonnull(strstr(buf, "max_connections = 4096;"));
	ck_assert_str_eq(cfg_mode_name(MODE_ECHO), "echo");
	ck_assert_str_eq(cfg_mode_name(MODE_RECEIVE), "receive");
	cfg_free(cfg);
}
END_TEST

#define DIGEST_A "87cbebfeebc05f7c54ac9336c4b4bbec831227a641951a4bde7edd56020f8590"
#define DIGEST_B "5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8"

START_TEST(test_config_identities)
{
	struct config *cfg = load_text(
	    "clients = (\n"
	    "  { name = \"alice\"; token_sha256 = \"" DIGEST_A "\"; subdir = \"alice\"; },\n"
	    "  { name = \"lab\"; token_sha256 = [ \"" DIGEST_B "\" ]; from = [ \"10.0.0.0/8\" ];\n"
	    "    certificate = [ \"CN=lab1\", \"lab2.example.org\" ]; }\n"
	    ");\n"
	    "require_identity = true;\n"
	    "listeners = (\n"
	    "  { name = \"all\"; mode = \"receive\"; address = \"::1\"; port = 7008;\n"
	    "    output_dir = \"/srv/in\"; },\n"
	    "  { name = \"lab\"; mode = \"echo\"; address = \"::1\"; port = 7009;\n"
	    "    clients = \"lab\"; },\n"
	    "  { name = \"open\"; mode = \"echo\"; address = \"::1\"; port = 7010;\n"
	    "    require_identity = false; }\n"
	    ");\n");
	const struct listener_cfg *all = find_listener(cfg, "all"), *lab = find_listener(cfg, "lab");
	const struct identity_cfg *alice = cfg_identity(cfg, "alice"), *l = cfg_identity(cfg, "lab");

	ck_assert_uint_eq(cfg->n_clients, 2);
	ck_assert_ptr_nonnull(alice);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_null(cfg_identity(cfg, "bob"));
	ck_assert_uint_eq(alice->n_tokens, 1);
	ck_assert_uint_eq(alice->tokens[0][0], 0x87);
	ck_assert_uint_eq(alice->tokens[0][31], 0x90);
	ck_assert_str_eq(alice->subdir, "alice");
	ck_assert_int_eq(alice->line, 2);
	/* Upper-case hex reads the same. */
	ck_assert_uint_eq(l->tokens[0][0], 0x5e);
	ck_assert_uint_eq(l->n_certificates, 2);
	ck_assert_str_eq(l->certificates[1], "lab2.example.org");
	assert_cidrs(&l->from, "10.0.0.0/8");
	ck_assert_ptr_null(l->subdir);
	/* Every identity by default, in configuration order; a list (or one name) narrows it. */
	ck_assert_uint_eq(all->n_ids, 2);
	ck_assert_ptr_eq(all->ids[0], alice);
	ck_assert_ptr_eq(all->ids[1], l);
	ck_assert_ptr_null(all->clients);
	ck_assert(all->require_identity);
	ck_assert_uint_eq(lab->n_ids, 1);
	ck_assert_ptr_eq(lab->ids[0], l);
	ck_assert(!find_listener(cfg, "open")->require_identity);
	/* The receive listener's output_dir and alice's subdir in it. */
	ck_assert_uint_eq(cfg_output_dirs(cfg), 2);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_subdir_rule)
{
	ck_assert(cfg_subdir_valid("alice"));
	ck_assert(cfg_subdir_valid("a.b_c-d"));
	ck_assert(!cfg_subdir_valid(""));
	ck_assert(!cfg_subdir_valid("."));
	ck_assert(!cfg_subdir_valid(".."));
	ck_assert(!cfg_subdir_valid(".hidden"));
	ck_assert(!cfg_subdir_valid("a/b"));
	ck_assert(!cfg_subdir_valid("../a"));
	ck_assert(!cfg_subdir_valid("/abs"));
	ck_assert(!cfg_subdir_valid("a b"));
	ck_assert(!cfg_subdir_valid("\xc3\xa9"));
	ck_assert(cfg_subdir_valid("x234567890123456789012345678901234567890123456789012345678901234"));
	ck_assert(!cfg_subdir_valid("x2345678901234567890123456789012345678901234567890123456789012345"));
}
END_TEST

/* Identities on lines 2-3, the listener on line 6 and its extra setting on line 7. */
#define IDS(clients, extra) \
	"clients = (\n" clients ");\n" \
	"listeners = (\n" \
	"  { name = \"r\"; mode = \"receive\"; address = \"::1\"; port = 7008; output_dir = \"/srv\";\n" \
	extra "  }\n);\n"

START_TEST(test_config_err_identities)
{
	EXPECT_ERR(IDS("  { token_sha256 = \"" DIGEST_A "\"; }\n\n", ""), 2, "client has no name");
	EXPECT_ERR(IDS("  { name = \"a b\"; from = [ \"::1\" ]; }\n\n", ""), 2,
	    "client name \"a b\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
	EXPECT_ERR(IDS("  { name = \"a\"; token_sha256 = \"abc\"; }\n\n", ""), 2,
	    "token_sha256 \"abc\" is not 64 hex digits");
	EXPECT_ERR(IDS("  { name = \"a\"; token_sha256 = [ \"" DIGEST_A "\",\n"
	    "    \"" DIGEST_A "x\" ]; }\n", ""), 3, "token_sha256 \"" DIGEST_A "x\" is not 64 hex");
	EXPECT_ERR(IDS("  { name = \"a\"; token_sha256 = [ ]; }\n\n", ""), 2,
	    "token_sha256 must not be an empty list");
	EXPECT_ERR(IDS("  { name = \"a\"; certificate = 7; }\n\n", ""), 2,
	    "certificate must be a string or a list of strings");
	EXPECT_ERR(IDS("  { name = \"a\"; certificate = \"\"; }\n\n", ""), 2,
	    "certificate entries must not be empty");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"10.0.0.1/8\" ]; }\n\n", ""), 2,
	    "from: \"10.0.0.1/8\" is not a valid address or CIDR");
	EXPECT_ERR(IDS("  { name = \"a\"; subdir = \"x\"; }\n\n", ""), 2,
	    "client \"a\" has nothing to be recognised by");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; subdir = \"..\"; }\n\n", ""), 2,
	    "subdir \"..\" must be one directory name");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; subdir = \"a/b\"; }\n\n", ""), 2,
	    "subdir \"a/b\" must be one directory name");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; tokens = 1; }\n\n", ""), 2,
	    "unknown key \"tokens\" in a client (name, token_sha256, certificate, from, subdir, quota_bytes, "
	    "quota_files, max_rate, max_connections)");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; },\n"
	    "  { name = \"a\"; from = [ \"::2\" ]; }\n", ""), 3,
	    "duplicate client name \"a\" (first defined on line 2)");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"10.0.0.0/8\" ]; },\n"
	    "  { name = \"b\"; from = [ \"10.0.0.0/8\" ]; }\n", ""), 3,
	    "client \"b\" shares a network in from with client \"a\" (line 2)");
	EXPECT_ERR(IDS("  { name = \"a\"; certificate = \"CN=x\"; },\n"
	    "  { name = \"b\"; certificate = [ \"CN=y\", \"CN=x\" ]; }\n", ""), 3,
	    "client \"b\" shares a certificate name with client \"a\"");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; subdir = \"s\"; },\n"
	    "  { name = \"b\"; from = [ \"::2\" ]; subdir = \"s\"; }\n", ""), 3,
	    "client \"b\" shares its subdir with client \"a\"");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; }\n\n", "    clients = [ \"b\" ];\n"), 7,
	    "listener \"r\": clients names \"b\", which is not defined in clients = ( ... )");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; }\n\n", "    clients = [ \"a\", \"a\" ];\n"),
	    7, "listener \"r\": clients names \"a\" twice");
	EXPECT_ERR(IDS("  { name = \"a\"; from = [ \"::1\" ]; }\n\n", "    clients = [ ];\n"), 7,
	    "clients must not be an empty list");
	EXPECT_ERR("clients = { name = \"a\"; };\n" LISTENERS_OK, 1,
	    "clients must be a list ( { name = \"...\"; ... }, ... ), not a group");
	EXPECT_ERR("require_identity = true;\n" LISTENERS_OK, 2,
	    "listener \"e\": require_identity = true, but no client identity is defined");
	EXPECT_ERR("clients = ( { name = \"a\"; token_sha256 = \"" DIGEST_A "\"; } );\n"
	    L_ECHO("    require_identity = true;\n"), 3,
	    "echo listener \"l\": require_identity = true, but none of its clients can be "
	    "recognised without a token");
}
END_TEST

/* A client (on line 1) with one more line of its own (on line 2). */
#define CLIENT(extra) \
	"clients = ( { name = \"c\"; from = [ \"10.0.0.0/8\" ]; subdir = \"c\";\n" extra " } );\n" \
	LISTENERS_OK

START_TEST(test_config_limits)
{
	struct config *cfg = load_text(
	    "clients = ( { name = \"c\"; from = [ \"10.0.0.0/8\" ]; subdir = \"c\";\n"
	    "  quota_bytes = \"5G\"; quota_files = 1000; max_rate = 1048576; max_connections = 4; } );\n"
	    "max_connections = 100;\n"
	    "listeners = ( { name = \"e\"; mode = \"echo\"; address = \"127.0.0.1\"; port = 7007;\n"
	    "  max_connections = 10; max_rate = \"64K\"; } );\n");
	const struct identity_cfg *id = cfg_identity(cfg, "c");

	ck_assert_uint_eq(cfg->max_connections, 100);
	ck_assert_uint_eq(cfg->listeners[0].max_connections, 10);
	ck_assert_uint_eq(cfg->listeners[0].max_rate, 65536);
	ck_assert_ptr_nonnull(id);
	ck_assert_uint_eq(id->quota_bytes, (uint64_t)5 << 30);
	ck_assert_uint_eq(id->quota_files, 1000);
	ck_assert_uint_eq(id->max_rate, 1048576);
	ck_assert_uint_eq(id->max_connections, 4);
	cfg_free(cfg);
	/* Unset: not limited. */
	cfg = load_text(LISTENERS_OK);
	ck_assert_uint_eq(cfg->listeners[0].max_connections, 0);
	ck_assert_uint_eq(cfg->listeners[0].max_rate, 0);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_config_err_limits)
{
	EXPECT_ERR(CLIENT("quota_bytes = 0;"), 2, "quota_bytes = 0 is out of range (1..4194304T)");
	EXPECT_ERR(CLIENT("quota_bytes = \"lots\";"), 2, "quota_bytes = \"lots\" is not a size");
	EXPECT_ERR(CLIENT("quota_files = -1;"), 2, "quota_files = -1 is out of range (1..1000000000)");
	EXPECT_ERR(CLIENT("max_rate = \"0K\";"), 2, "max_rate = \"0K\" is out of range");
	EXPECT_ERR(CLIENT("max_connections = 1.5;"), 2, "max_connections must be an integer");
	EXPECT_ERR(CLIENT("quota = 5;"), 2, "unknown key \"quota\" in a client");
	EXPECT_ERR("clients = ( { name = \"c\"; from = [ \"10.0.0.0/8\" ];\n quota_files = 3; } );\n"
	    LISTENERS_OK, 2, "client \"c\": a quota needs subdir");
	EXPECT_ERR(L_ECHO("    max_rate = -5;\n"), 7, "max_rate = -5 is out of range");
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *ok = tcase_create("valid");
	TCase *bad = tcase_create("invalid");
	TCase *print = tcase_create("print");

	tcase_add_checked_fixture(ok, make_tmpdir, teardown);
	tcase_add_test(ok, test_config_full);
	tcase_add_test(ok, test_config_defaults);
	tcase_add_test(ok, test_config_values);
	tcase_add_test(ok, test_config_hook_retention);
	tcase_add_test(ok, test_config_same_port_ok);
	tcase_add_test(ok, test_config_exact_integers);
	tcase_add_test(ok, test_config_bind_conflicts);
	tcase_add_test(ok, test_config_address_forms);
	tcase_add_test(ok, test_config_includes);
	tcase_add_test(ok, test_config_shipped);
	tcase_add_test(ok, test_config_file_outlives_path);
	tcase_add_test(ok, test_config_proxy_tls);
	tcase_add_test(ok, test_config_limits);
	tcase_add_test(ok, test_config_identities);
	tcase_add_test(ok, test_config_subdir_rule);
	suite_add_tcase(s, ok);

	tcase_add_checked_fixture(bad, make_tmpdir, teardown);
	tcase_add_test(bad, test_config_err_syntax);
	tcase_add_test(bad, test_config_err_unknown_keys);
	tcase_add_test(bad, test_config_err_types);
	tcase_add_test(bad, test_config_err_range);
	tcase_add_test(bad, test_config_err_big_integers);
	tcase_add_test(bad, test_config_err_bad_values);
	tcase_add_test(bad, test_config_err_file_mode);
	tcase_add_test(bad, test_config_err_cidr);
	tcase_add_test(bad, test_config_err_missing);
	tcase_add_test(bad, test_config_err_relative_output_dir);
	tcase_add_test(bad, test_config_err_scope);
	tcase_add_test(bad, test_config_err_listeners);
	tcase_add_test(bad, test_config_err_listener_name);
	tcase_add_test(bad, test_config_err_files);
	tcase_add_test(bad, test_config_err_short_buffer);
	tcase_add_test(bad, test_config_err_proxy_tls);
	tcase_add_test(bad, test_config_err_limits);
	tcase_add_test(bad, test_config_err_identities);
	suite_add_tcase(s, bad);

	tcase_add_checked_fixture(print, make_tmpdir, teardown);
	tcase_add_test(print, test_config_print_round_trip);
	tcase_add_test(print, test_config_print_escapes);
	tcase_add_test(print, test_config_print_text);
	suite_add_tcase(s, print);
	return s;
}
