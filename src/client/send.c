/* SPDX-License-Identifier: ISC */
/*
 * send.c - tcpx send: the files of the command line (a directory stands
 * for the regular files in it), framed version 2 over one connection,
 * each declaring its SHA-256 and each receipt checked against the file.
 * A broken connection is retried with exponential back-off and, for a
 * resumable upload, resumed where the daemon stopped.  --raw sends each
 * file on a connection of its own.
 */
#include <dirent.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "client/input.h"
#include "client/link.h"
#include "client/progress.h"
#include "client/report.h"
#include "client/resume.h"
#include "client/upload.h"
#include "io/sys.h"
#include "wire/auth.h"
#include "wire/frame.h"
#include "wire/receipt.h"

#define CHUNK (256 * 1024)
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000

/* One connection, carried from file to file. */
struct session {
	const struct tcpx_opts *opt;
	const char *target;
	struct netio io;                /* fd -1 between connections */
	char *buf;                      /* CHUNK bytes */
	bool state_warned;              /* the resume state could not be kept: said once */
	bool fresh;                     /* nothing sent on the connection yet: AUTH comes first */
	/* The first header of a connection, with the AUTH line after its signature. */
	char first[FRAME_HEADER_MAX + AUTH_LINE_MAX + 1];
};

/* Retries of one file: the count and the next delay start again when an attempt gets further. */
struct retry {
	unsigned done;
	long delay_ms;
	unsigned long long best;        /* the largest CONTINUE offset seen */
};

/* A file to send: its path and how messages name it. */
struct job {
	char *path;
	char *label;
};

struct jobs {
	struct job *v;
	size_t n, cap;
};

/* clean: the connection ends as it should (at a file boundary, or after a raw half-close). */
static void
session_close(struct session *s, bool clean)
{
	if (s->io.fd < 0)
		return;
	/* Otherwise a reset (sys_reset_on_close) and no close_notify: nothing of it is stored. */
	if (clean)
		sys_reset_on_close(s->io.fd, false);
	link_close(&s->io, clean);
}

/* After the last file: the half-close ends the connection; the daemon closes without a word. */
static void
session_end(struct session *s)
{
	if (s->io.fd >= 0)
		session_close(s, netio_shutdown_wr(&s->io) == 0);
}

/*
 * Whether the connection kept from the file before is still usable: the
 * daemon ends one left idle (idle_timeout), as it can be while tcpx hashes
 * a large file.  Then tcpx connects again, which is no failure to retry.
 */
static bool
session_usable(struct session *s)
{
	short revents = 0;
	bool arrived;

	if (link_wait_io(&s->io, 0, NULL, 0, &revents) == 0)
		return true;
	/* With TLS, a record without data (a session ticket) is no end. */
	if (link_set_blocking(&s->io, false) < 0)
		return false;
	arrived = link_answer_arrived(&s->io);
	return link_set_blocking(&s->io, true) == 0 && !arrived;
}

/* EXIT_OK connected; else an exit status, reported, with *transient whether to retry. */
static int
session_connect(struct session *s, bool *transient)
{
	int rc;

	if (s->io.fd >= 0 && session_usable(s))
		return EXIT_OK;
	session_close(s, false);
	if ((rc = link_open(s->opt, s->target, &s->io, transient)) != EXIT_OK)
		return rc;
	s->fresh = true;
	/*
	 * Abnormal ends of an upload reset the connection: a raw upload that
	 * ended with a FIN would be stored as complete.  Armed from the
	 * connection on, so that even a tcpx killed by a signal resets, and
	 * disarmed only once the connection ends as it should.
	 */
	sys_reset_on_close(s->io.fd, true);
	/*
	 * Each file ends with tcpx waiting for its answer, and a small file's
	 * data would wait behind its header's delayed ACK (Nagle's rule): 40 ms
	 * a file.  tcpx writes whole chunks, so nothing is gained by holding
	 * them.  Only speed is at stake if this fails.
	 */
	(void)setsockopt(s->io.fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	return EXIT_OK;
}

/* After a failed attempt: false when no retry is left; else says so, waits, and true. */
static bool
retry_wait(struct session *s, struct retry *r, const char *label, const char *why)
{
	struct timespec ts;

	if (r->done >= s->opt->retries)
		return false;
	r->done++;
	report_fail(EXIT_OK, "%s: %s%sretrying in %.1f s (%u of %u)", label, why ? why : "",
	    why ? "; " : "", (double)r->delay_ms / 1000.0, r->done, s->opt->retries);
	ts = (struct timespec){ r->delay_ms / 1000, r->delay_ms % 1000 * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	r->delay_ms = r->delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->delay_ms * 2;
	return true;
}

/* The answer line of an upload, as tcpx prints what it could not take for one. */
static int
not_a_receipt(const struct input *in, const char *answer, size_t len)
{
	char shown[81];
	size_t n = 0;

	/* Whatever came back may be binary: show it safely. */
	for (size_t i = 0; i < len && n < sizeof(shown) - 1; i++)
		shown[n++] = answer[i] >= 0x20 && answer[i] < 0x7f ? answer[i] : '.';
	shown[n] = '\0';
	return report_fail(EXIT_MISMATCH, "%s: the answer is not a receipt: %s", in->label, shown);
}

/* An OK receipt against the file: EXIT_OK and the result line, or EXIT_MISMATCH. */
static int
check_receipt(const struct input *in, const struct receipt *r, const char *text)
{
	if (r->bytes != in->size || strcmp(r->sha256, in->hex) != 0)
		return report_fail(EXIT_MISMATCH, "%s: receipt does not match what was sent: "
		    "sent %llu bytes sha256:%s, daemon stored %llu bytes sha256:%s as %s",
		    in->label, in->size, in->hex, r->bytes, r->sha256, text);
	printf("%s -> %s (%llu bytes, sha256:%s)\n", in->label, text, r->bytes, r->sha256);
	return EXIT_OK;
}

/* The resume state of a regular file: the id kept for it, or a new one saved. */
static void
resume_state(struct session *s, const struct input *in, struct resume_key *key, char *abspath,
    char id[RESUME_ID_LEN + 1])
{
	char err[PATH_MAX + 64];

	*key = (struct resume_key){ .target = s->target, .path = abspath, .size = in->size,
	    .mtime = in->st.st_mtim, .name = in->name };
	if (realpath(in->path, abspath) == NULL)
		snprintf(abspath, PATH_MAX, "%s", in->path);
	if (resume_lookup(key, id, err, sizeof(err)) < 0 && !s->state_warned) {
		/* Retries of this run still resume: the id is in memory. */
		report_fail(EXIT_OK, "cannot keep the resume state: %s", err);
		s->state_warned = true;
	}
}

enum verdict {
	VERDICT_SETTLED,        /* the daemon is done with the upload: rc is the file's exit status */
	VERDICT_BUSY,           /* ERR 503 busy: worth another try after a while */
};

/*
 * What the answer to an upload means: the file's exit status, reported, or
 * busy, with the ERR line shown in busy.  Only an OK keeps the connection:
 * after an ERR the daemon ends it, and after anything else it cannot be
 * trusted.
 */
static enum verdict
judge_answer(struct session *s, const struct input *in, const struct upload *up, int *rc,
    char busy[RECEIPT_SHOWN_MAX + 16])
{
	char text[RECEIPT_SHOWN_MAX];
	struct receipt r;

	if (receipt_parse(up->answer, up->answer_len, &r) < 0) {
		session_close(s, false);
		*rc = not_a_receipt(in, up->answer, up->answer_len);
		return VERDICT_SETTLED;
	}
	/* The daemon chose these bytes: nothing in them may steer the terminal. */
	receipt_text_shown(r.text, text, sizeof(text));
	if (s->opt->raw || !r.ok)
		session_close(s, up->ended);
	if (r.ok) {
		*rc = check_receipt(in, &r, text);
		return VERDICT_SETTLED;
	}
	if (r.code == 503 && strncmp(r.text, "busy", 4) == 0) {
		snprintf(busy, RECEIPT_SHOWN_MAX + 16, "ERR %d %s", r.code, text);
		return VERDICT_BUSY;
	}
	*rc = report_fail(EXIT_REFUSED, "%s: refused: ERR %d %s", in->label, r.code, text);
	return VERDICT_SETTLED;
}

/* The digest of a raw upload, taken while it is sent. */
static int
raw_digest(struct input *in, EVP_MD_CTX *md)
{
	if (EVP_DigestFinal_ex(md, in->sha256, NULL) != 1)
		return report_fail(EXIT_LOCAL, "SHA-256 failed");
	input_hex(in);
	return EXIT_OK;
}

/*
 * The header to send: on a connection's first, the AUTH line follows the
 * signature (wire/auth.h), once per connection.  EXIT_OK, or reported.
 */
static int
first_header(struct session *s, struct upload *up, const char *header, size_t hlen)
{
	size_t alen;

	up->header = header;
	up->hlen = hlen;
	if (!s->fresh || s->opt->token == NULL || up->raw)
		return EXIT_OK;
	s->fresh = false;
	memcpy(s->first, header, FRAME_SIGNATURE_LEN);
	alen = auth_line_format(s->first + FRAME_SIGNATURE_LEN, AUTH_LINE_MAX + 1, s->opt->token,
	    s->opt->token_len);
	if (alen == 0 || FRAME_SIGNATURE_LEN + alen + hlen - FRAME_SIGNATURE_LEN > sizeof(s->first))
		return report_fail(EXIT_USAGE, "the token does not fit an AUTH line");
	memcpy(s->first + FRAME_SIGNATURE_LEN + alen, header + FRAME_SIGNATURE_LEN,
	    hlen - FRAME_SIGNATURE_LEN);
	up->header = s->first;
	up->hlen = hlen + alen;
	return EXIT_OK;
}

/*
 * Attempts in->path until it is answered, tcpx gives up or no retry is
 * left.  *settled: the daemon answered it for good (it holds no part of it).
 */
static int
send_attempts(struct session *s, struct input *in, struct upload *up, struct progress *prog,
    bool *settled)
{
	struct retry r = { .delay_ms = BACKOFF_FIRST_MS };
	const char *header = up->header;
	size_t hlen = up->hlen;
	char busy[RECEIPT_SHOWN_MAX + 16];
	bool transient;
	int rc;

	for (;;) {
		enum upload_outcome outcome;

		if ((rc = session_connect(s, &transient)) != EXIT_OK) {
			if (transient && retry_wait(s, &r, in->label, NULL))
				continue;
			return rc;
		}
		if (up->md != NULL && EVP_DigestInit_ex(up->md, EVP_sha256(), NULL) != 1)
			return report_fail(EXIT_LOCAL, "SHA-256 failed");
		if (input_seek(in, 0) < 0)
			return report_fail(EXIT_LOCAL, "%s: %s", in->label, strerror(errno));
		*prog = (struct progress){ .on = !s->opt->quiet && isatty(STDERR_FILENO),
		    .label = in->label, .total = in->size, .start_ms = sys_now_ms() };
		up->io = &s->io;
		if (first_header(s, up, header, hlen) != EXIT_OK)
			return EXIT_USAGE;
		outcome = upload_run(up);
		if (up->offset > r.best)
			r = (struct retry){ .delay_ms = BACKOFF_FIRST_MS, .best = up->offset };
		if (outcome == UPLOAD_FAILED) {
			session_close(s, false);
			return up->rc;
		}
		if (outcome == UPLOAD_BROKEN) {
			session_close(s, false);
			if (retry_wait(s, &r, in->label, up->why))
				continue;
			return report_fail(EXIT_NETWORK, "%s: %s", in->label, up->why);
		}
		if (up->md != NULL && (rc = raw_digest(in, up->md)) != EXIT_OK) {
			session_close(s, false);
			return rc;
		}
		if (judge_answer(s, in, up, &rc, busy) == VERDICT_SETTLED) {
			*settled = true;
			return rc;
		}
		if (!retry_wait(s, &r, in->label, busy))
			return report_fail(EXIT_REFUSED, "%s: refused: %s", in->label, busy);
	}
}

/* Uploads one job: an exit status. */
static int
send_one(struct session *s, const struct job *job)
{
	char header[FRAME_HEADER_MAX + 1], id[RESUME_ID_LEN + 1] = "", abspath[PATH_MAX];
	const struct tcpx_opts *opt = s->opt;
	struct resume_key key;
	struct progress prog;
	struct upload up = { 0 };
	struct input in;
	bool resumable, settled = false;
	size_t hlen = 0;
	int rc;

	if ((rc = input_open(opt, job->path, job->label, &in, s->buf, CHUNK)) != EXIT_OK)
		goto out;
	/*
	 * By default a small file is sent whole again rather than resumed: that
	 * costs less than a resumable upload's extra round trip and state.
	 */
	resumable = !opt->raw && (opt->resume > 0 ||
	    (opt->resume < 0 && in.regular && in.size >= RESUME_MIN_SIZE));
	if (resumable && in.regular)
		resume_state(s, &in, &key, abspath, id);
	else if (resumable && resume_new_id(id) < 0)
		report_fail(EXIT_OK, "%s: no random upload id: not resumable", in.label);
	resumable = id[0] != '\0';
	if (!opt->raw && (hlen = frame_header_format2(header, sizeof(header), in.size, in.sha256,
	    resumable ? id : NULL, in.name)) == 0) {
		rc = report_fail(EXIT_USAGE, "%s: header too long", in.label);
		goto out;
	}
	up = (struct upload){ .timeout = opt->timeout, .in = &in, .raw = opt->raw,
	    .header = header, .hlen = hlen, .resumable = resumable, .prog = &prog, .buf = s->buf,
	    .buflen = CHUNK };
	if (opt->raw && (up.md = EVP_MD_CTX_new()) == NULL) {
		rc = report_fail(EXIT_LOCAL, "out of memory");
		goto out;
	}
	rc = send_attempts(s, &in, &up, &prog, &settled);
	/* Kept for the next run only while the daemon may hold part of it. */
	if (resumable && in.regular && settled)
		resume_forget(&key);
out:
	EVP_MD_CTX_free(up.md);
	input_close(&in);
	return rc;
}

static int
add_job(struct jobs *jobs, const char *path, const char *given)
{
	size_t room = strlen(given) * 4 + 1;
	struct job job = { strdup(path), malloc(room) };

	if (jobs->n == jobs->cap) {
		size_t cap = jobs->cap ? 2 * jobs->cap : 16;
		struct job *v = realloc(jobs->v, cap * sizeof(*v));

		if (v == NULL) {
			free(job.path);
			free(job.label);
			return report_fail(EXIT_LOCAL, "out of memory");
		}
		jobs->v = v;
		jobs->cap = cap;
	}
	if (job.path == NULL || job.label == NULL) {
		free(job.path);
		free(job.label);
		return report_fail(EXIT_LOCAL, "out of memory");
	}
	/* A path from a listing (tcpx send *) can hold terminal escapes too. */
	receipt_text_shown(given, job.label, room);
	jobs->v[jobs->n++] = job;
	return EXIT_OK;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in dir, sorted by name; hidden ones (the daemon refuses) skipped. */
static int
add_dir(struct jobs *jobs, const char *dir)
{
	DIR *d = opendir(dir);
	char **names = NULL, path[PATH_MAX];
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = EXIT_OK;

	if (d == NULL)
		return report_fail(EXIT_LOCAL, "%s: %s", dir, strerror(errno));
	while (rc == EXIT_OK && (errno = 0, e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (v == NULL) {
				rc = report_fail(EXIT_LOCAL, "out of memory");
				break;
			}
			names = v;
		}
		if ((names[n] = strdup(e->d_name)) == NULL)
			rc = report_fail(EXIT_LOCAL, "out of memory");
		else
			n++;
	}
	if (rc == EXIT_OK && errno != 0)
		rc = report_fail(EXIT_LOCAL, "%s: %s", dir, strerror(errno));
	closedir(d);
	if (names != NULL)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir);
		int w = snprintf(path, sizeof(path), "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/",
		    names[i]);

		if (rc == EXIT_OK && (w < 0 || (size_t)w >= sizeof(path)))
			rc = report_fail(EXIT_LOCAL, "%s/%s: path too long", dir, names[i]);
		if (rc == EXIT_OK)
			rc = add_job(jobs, path, path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* The operands as files: "-", a file, or a directory's regular files. */
static int
list_jobs(const struct tcpx_opts *opt, int argc, char **argv, struct jobs *jobs)
{
	for (int i = 0; i < argc; i++) {
		struct stat st;
		int rc;

		if (strcmp(argv[i], "-") == 0)
			rc = add_job(jobs, argv[i], opt->name ? opt->name : "stdin");
		else if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc = opt->name != NULL ? report_fail(EXIT_USAGE,
			    "send: --name applies to a single file, not to a directory") :
			    add_dir(jobs, argv[i]);
		else
			rc = add_job(jobs, argv[i], argv[i]);
		if (rc != EXIT_OK)
			return rc;
	}
	return EXIT_OK;
}

int
send_cmd(const struct tcpx_opts *opt, int argc, char **argv)
{
	struct session s = { .opt = opt, .target = argv[argc - 1], .io = { .fd = -1 } };
	struct jobs jobs = { 0 };
	int rc = EXIT_OK;

	if (argc < 2)
		return report_fail(EXIT_USAGE, "send: need FILE... HOST:PORT");
	if (opt->name != NULL && argc > 2)
		return report_fail(EXIT_USAGE, "send: --name applies to a single file");
	if ((s.buf = malloc(CHUNK)) == NULL)
		return report_fail(EXIT_LOCAL, "out of memory");
	rc = list_jobs(opt, argc - 1, argv, &jobs);
	for (size_t i = 0; i < jobs.n && (i > 0 || rc == EXIT_OK); i++) {
		int one = send_one(&s, &jobs.v[i]);

		/* The exit status is that of the first failure; the other files are sent all the same. */
		if (rc == EXIT_OK)
			rc = one;
	}
	session_end(&s);
	OPENSSL_cleanse(s.first, sizeof(s.first));
	for (size_t i = 0; i < jobs.n; i++) {
		free(jobs.v[i].path);
		free(jobs.v[i].label);
	}
	free(jobs.v);
	free(s.buf);
	return rc;
}
