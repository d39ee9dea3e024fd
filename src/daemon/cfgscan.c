/* SPDX-License-Identifier: ISC */
/*
 * cfgscan.c - a second reader of tcpxd.conf's text, for what libconfig 1.5
 * cannot say.  It keeps every integer literal exactly, because libconfig
 * cuts integers written without L to 32 bits (5000000000 becomes
 * 705032704) and saturates those with L beyond 64 bits; config.c pairs
 * the literals with the parsed settings and uses these values instead.  It
 * names the key of a "duplicate setting name".  And it checks every file
 * before libconfig opens it: a FIFO would block and a directory makes the
 * flex scanner exit the process.  The lexical rules follow libconfig 1.5's
 * scanner.l; text libconfig refuses need not be read the same way, since
 * nothing found here is used for a file libconfig did not parse.
 */
#include "daemon/cfgscan.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/sys.h"

/* libconfig 1.5's limit on nested @include. */
#define INCLUDE_DEPTH_MAX 10
/* A configuration file is a few kilobytes; this only bounds a mistake. */
#define FILE_SIZE_MAX ((size_t)16 << 20)

/* A key seen in an enclosing group, for the duplicate check. */
struct seen {
	const char *name;
	size_t len;
	int line;
	int depth;
};

struct lexer {
	struct cfgscan *sc;
	size_t file;                /* index into sc->files */
	const char *p;
	int line;
	int depth;                  /* nesting of { ( [ */
	bool line_start;            /* only blanks since the last newline */
	struct seen *seen;
	size_t n_seen, cap_seen;
	const char *include_dir;
	int include_depth;
	char *err;
	size_t errlen;
};

static int scan_file(struct cfgscan *sc, size_t file, const char *text, const char *include_dir,
    int include_depth, char *err, size_t errlen);

/*
 * Reads a configuration file whole.  O_NONBLOCK: opening a FIFO must not
 * wait for a writer; anything but a regular file is refused after fstat.
 */
static int
read_file(const char *path, char **out, char *reason, size_t len)
{
	struct stat st;
	char *text = NULL;
	size_t size;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(reason, len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(reason, len, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(reason, len, "not a regular file");
		goto fail;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(reason, len, "refusing a world-writable configuration file (chmod o-w %s)",
		    path);
		goto fail;
	}
	if ((uint64_t)st.st_size > FILE_SIZE_MAX) {
		snprintf(reason, len, "larger than %zu bytes: not a configuration file", FILE_SIZE_MAX);
		goto fail;
	}
	size = (size_t)st.st_size;
	if ((text = malloc(size + 1)) == NULL) {
		snprintf(reason, len, "out of memory");
		goto fail;
	}
	for (size_t got = 0; got < size;) {
		ssize_t n = read(fd, text + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(reason, len, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0) {           /* shrank while read: what is there is the file */
			size = got;
			break;
		}
		got += (size_t)n;
	}
	text[size] = '\0';
	sys_close(fd);
	*out = text;
	return 0;
fail:
	free(text);
	sys_close(fd);
	return -1;
}

static int __attribute__((format(printf, 2, 3)))
lex_fail(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(lx->err, lx->errlen, "%s:%d: ", lx->sc->files[lx->file].path, lx->line);

	if (n < 0 || (size_t)n >= lx->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
add_file(struct cfgscan *sc, const char *name, const char *path)
{
	struct cfgscan_file *files = realloc(sc->files, (sc->n_files + 1) * sizeof(*files));

	if (files == NULL)
		return -1;
	sc->files = files;
	memset(&files[sc->n_files], 0, sizeof(files[0]));
	if ((name != NULL && (files[sc->n_files].name = strdup(name)) == NULL) ||
	    (files[sc->n_files].path = strdup(path)) == NULL) {
		free(files[sc->n_files].name);
		return -1;
	}
	sc->n_files++;
	return 0;
}

/* @include "NAME" at the start of a line: check the file, then scan it. */
static int
lex_include(struct lexer *lx)
{
	const char *p = lx->p + strlen("@include"), *name, *end;
	char *path = NULL, *text = NULL, *nm = NULL, reason[512];
	int rc = -1;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"')
		return 1;               /* not an include: libconfig will say what it is */
	name = ++p;
	if ((end = strchr(name, '"')) == NULL)
		return 1;
	lx->p = end + 1;
	if ((nm = strndup(name, (size_t)(end - name))) == NULL)
		return lex_fail(lx, "out of memory");
	if (cfgscan_file(lx->sc, nm) != NULL) {     /* scanned already */
		free(nm);
		return 0;
	}
	if (lx->include_depth + 1 >= INCLUDE_DEPTH_MAX) {
		lex_fail(lx, "@include \"%s\": includes nested more than %d deep", nm,
		    INCLUDE_DEPTH_MAX);
		goto out;
	}
	/* libconfig 1.5 joins include_dir and the name, even an absolute name. */
	if (nm[0] == '/' && lx->include_dir != NULL) {
		lex_fail(lx, "@include \"%s\": the name must be relative to %s, the configuration "
		    "file's directory", nm, lx->include_dir);
		goto out;
	}
	if (asprintf(&path, "%s%s%s", lx->include_dir ? lx->include_dir : "",
	    lx->include_dir ? "/" : "", nm) < 0) {
		path = NULL;
		lex_fail(lx, "out of memory");
		goto out;
	}
	if (read_file(path, &text, reason, sizeof(reason)) < 0) {
		lex_fail(lx, "@include \"%s\": %s: %s", nm, path, reason);
		goto out;
	}
	if (add_file(lx->sc, nm, path) < 0) {
		lex_fail(lx, "out of memory");
		goto out;
	}
	rc = scan_file(lx->sc, lx->sc->n_files - 1, text, lx->include_dir, lx->include_depth + 1,
	    lx->err, lx->errlen);
out:
	free(text);
	free(path);
	free(nm);
	return rc;
}

static void
skip_string(struct lexer *lx)
{
	const char *p = lx->p + 1;

	for (; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\n')
			lx->line++;
	}
	lx->p = *p == '"' ? p + 1 : p;
}

/* Skips blanks and comments; false at the end of the text. */
static bool
skip_space(struct lexer *lx)
{
	for (;;) {
		const char *p = lx->p;

		if (*p == '\n') {
			lx->line++;
			lx->line_start = true;
			lx->p++;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') {
			lx->p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			lx->p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");

			end = end ? end + 2 : p + strlen(p);
			for (; p < end; p++)
				lx->line += *p == '\n';
			lx->p = end;
		} else {
			return *p != '\0';
		}
	}
}

/* Digits in base 10 or 16 into a 64-bit magnitude; false when it overflows. */
static bool
parse_magnitude(const char *p, const char *end, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	for (; p < end; p++) {
		unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0') :
		    (unsigned)(tolower((unsigned char)*p) - 'a' + 10);

		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static int
add_int(struct lexer *lx, const struct cfgscan_int *i)
{
	struct cfgscan_file *f = &lx->sc->files[lx->file];
	struct cfgscan_int *ints = realloc(f->ints, (f->n_ints + 1) * sizeof(*ints));

	if (ints == NULL)
		return lex_fail(lx, "out of memory");
	f->ints = ints;
	ints[f->n_ints++] = *i;
	return 0;
}

/* A number token (libconfig: integer, integer64, hex, hex64 or float). */
static int
lex_number(struct lexer *lx)
{
	const char *start = lx->p, *p = start, *digits, *end;
	struct cfgscan_int i = { .line = lx->line };
	bool hex = false, is64 = false;

	if (*p == '+' || *p == '-')
		i.negative = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
		hex = true;
		p += 2;
		for (digits = p; isxdigit((unsigned char)*p); p++)
			;
	} else {
		for (digits = p; isdigit((unsigned char)*p); p++)
			;
		if (*p == '.' || ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
		    ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2]))))) {
			/* A float: libconfig refuses it wherever tcpxd wants an integer. */
			p += *p == '.';
			while (isdigit((unsigned char)*p))
				p++;
			if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
			    ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
				p += 2;
				while (isdigit((unsigned char)*p))
					p++;
			}
			lx->p = p;
			return 0;
		}
	}
	end = p;
	if (*p == 'L') {
		is64 = true;
		p += p[1] == 'L' ? 2 : 1;
	}
	lx->p = p;
	if (end == digits)
		return 0;
	i.overflow = !parse_magnitude(digits, end, hex ? 16 : 10, &i.magnitude);
	/* What libconfig 1.5's scanner stores: the same C conversions, cut the same way. */
	if (hex && is64)
		i.libconfig = (long long)strtoull(start, NULL, 16);
	else if (hex)
		i.libconfig = (int)strtoul(start, NULL, 16);
	else if (is64)
		i.libconfig = strtoll(start, NULL, 10);
	else
		i.libconfig = (int)strtol(start, NULL, 10);
	if ((size_t)(p - start) < sizeof(i.text))
		memcpy(i.text, start, (size_t)(p - start));
	else
		snprintf(i.text, sizeof(i.text), "%.*s...", (int)sizeof(i.text) - 4, start);
	return add_int(lx, &i);
}

/* A key followed by = or :, checked against the keys of the same group. */
static int
lex_key(struct lexer *lx, const char *name, size_t len, int line)
{
	struct cfgscan_file *f = &lx->sc->files[lx->file];
	struct seen *seen;

	for (size_t i = lx->n_seen; i-- > 0 && lx->seen[i].depth == lx->depth;) {
		struct cfgscan_dup *dups;

		if (lx->seen[i].len != len || memcmp(lx->seen[i].name, name, len) != 0)
			continue;
		if ((dups = realloc(f->dups, (f->n_dups + 1) * sizeof(*dups))) == NULL)
			return lex_fail(lx, "out of memory");
		f->dups = dups;
		dups[f->n_dups].line = line;
		dups[f->n_dups].first_line = lx->seen[i].line;
		snprintf(dups[f->n_dups].name, sizeof(dups[0].name), "%.*s", (int)len, name);
		f->n_dups++;
		return 0;
	}
	if (lx->n_seen == lx->cap_seen) {
		size_t cap = lx->cap_seen ? 2 * lx->cap_seen : 16;

		if ((seen = realloc(lx->seen, cap * sizeof(*seen))) == NULL)
			return lex_fail(lx, "out of memory");
		lx->seen = seen;
		lx->cap_seen = cap;
	}
	lx->seen[lx->n_seen++] = (struct seen){ name, len, line, lx->depth };
	return 0;
}

static bool
is_name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '*' ||
	    (!first && (isdigit((unsigned char)c) || c == '-' || c == '_'));
}

static int
lex_token(struct lexer *lx)
{
	const char *p = lx->p;
	bool line_start = lx->line_start;

	lx->line_start = false;
	if (*p == '@' && line_start && strncmp(p, "@include", 8) == 0) {
		int rc = lex_include(lx);

		if (rc <= 0)
			return rc;
	}
	if (*p == '"') {
		skip_string(lx);
	} else if (is_name_char(*p, true)) {
		const char *name = p;
		int line = lx->line;

		while (is_name_char(*p, false))
			p++;
		lx->p = p;
		if (skip_space(lx) && (*lx->p == '=' || *lx->p == ':'))
			return lex_key(lx, name, (size_t)(p - name), line);
	} else if (isdigit((unsigned char)*p) || ((*p == '-' || *p == '+' || *p == '.') &&
	    (isdigit((unsigned char)p[1]) || (p[1] == '.' && isdigit((unsigned char)p[2]))))) {
		return lex_number(lx);
	} else if (*p == '{' || *p == '(' || *p == '[') {
		lx->depth++;
		lx->p++;
	} else if (*p == '}' || *p == ')' || *p == ']') {
		while (lx->n_seen > 0 && lx->seen[lx->n_seen - 1].depth >= lx->depth)
			lx->n_seen--;
		lx->depth -= lx->depth > 0;
		lx->p++;
	} else {
		lx->p++;
	}
	return 0;
}

static int
scan_file(struct cfgscan *sc, size_t file, const char *text, const char *include_dir,
    int include_depth, char *err, size_t errlen)
{
	struct lexer lx = {
		.sc = sc, .file = file, .p = text, .line = 1, .line_start = true,
		.include_dir = include_dir, .include_depth = include_depth,
		.err = err, .errlen = errlen,
	};
	int rc = 0;

	while (rc == 0 && skip_space(&lx))
		rc = lex_token(&lx);
	free(lx.seen);
	return rc;
}

int
cfgscan_load(struct cfgscan *sc, const char *path, const char *include_dir,
    char *err, size_t errlen)
{
	char reason[512];

	memset(sc, 0, sizeof(*sc));
	if (*path == '\0') {
		snprintf(err, errlen, "\"\": the configuration file name is empty");
		return -1;
	}
	if (read_file(path, &sc->text, reason, sizeof(reason)) < 0) {
		snprintf(err, errlen, "%s: %s", path, reason);
		return -1;
	}
	if (add_file(sc, NULL, path) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return scan_file(sc, 0, sc->text, include_dir, 0, err, errlen);
}

void
cfgscan_free(struct cfgscan *sc)
{
	for (size_t i = 0; i < sc->n_files; i++) {
		free(sc->files[i].name);
		free(sc->files[i].path);
		free(sc->files[i].ints);
		free(sc->files[i].dups);
	}
	free(sc->files);
	free(sc->text);
	memset(sc, 0, sizeof(*sc));
}

struct cfgscan_file *
cfgscan_file(const struct cfgscan *sc, const char *name)
{
	for (size_t i = 0; i < sc->n_files; i++) {
		const char *n = sc->files[i].name;

		if ((name == NULL && n == NULL) || (name != NULL && n != NULL && strcmp(name, n) == 0))
			return &sc->files[i];
	}
	return NULL;
}

const struct cfgscan_int *
cfgscan_next_int(struct cfgscan_file *f)
{
	if (f->n_ints == 0)
		return NULL;
	/* A file included twice holds its literals twice, in the same order. */
	if (f->next == f->n_ints)
		f->next = 0;
	return &f->ints[f->next++];
}
