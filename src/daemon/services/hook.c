/* SPDX-License-Identifier: ISC */
/*
 * hook.c - the on_stored supervisor (hook.h).  Connection threads only
 * append to a bounded queue and poke an eventfd; one thread owns every
 * running program: it spawns it with posix_spawn (argv as configured, no
 * shell, a clean environment of facts), watches its exit through a pidfd
 * and its stderr through a pipe, and only then clears the file's mark.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/services/hook.h"
#include "daemon/services/quota.h"
#include "daemon/services/store.h"
#include "io/sys.h"

/* Files waiting for a run; beyond, they stay marked and a rescan finds them. */
#define QUEUE_MAX 4096
/* Between SIGTERM at the timeout and SIGKILL. */
#define KILL_GRACE_MS 5000
#define BACKOFF_FIRST_MS 1000LL
#define BACKOFF_MAX_MS 300000LL
/* The tail of a run's stderr that its log line keeps. */
#define TAIL_MAX 512
/* Read of a run's stderr before the supervisor goes back to poll. */
#define STDERR_READ_MAX (64 * 1024)
/* Runs at once, all listeners: what the supervisor's poll array holds. */
#define RUNNING_MAX 2048
/*
 * A marked file a rescan finds that was stored since this start but that
 * hook_stored() has not announced may still be inside its commit (linked,
 * marked, but not yet fsynced nor its receipt sent): it waits for
 * hook_stored(), which runs it at once, or this long - longer than a
 * directory fsync and a receipt's send take; a file whose commit failed is
 * gone by then and its run finds it missing.
 */
#define UNANNOUNCED_GRACE_MS 120000LL
/* How often a run without a pidfd (kernels before 5.3, valgrind) is asked whether it exited. */
#define WAIT_POLL_MS 50
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const uint64_t hook_bucket_ms[HOOK_BUCKETS - 1] = {
	100, 500, 1000, 5000, 10000, 60000, 300000, 3600000,
};

struct job {
	struct job *next;
	char *dir;
	char name[STORE_NAME_MAX];
	char record[MARK_RECORD_MAX];
	struct mark_facts facts;
	unsigned attempt;               /* runs started */
	bool unannounced;               /* found by a rescan, its hook_stored() not seen yet */
	long long due_ms;
	/* While it runs (the supervisor's alone): */
	pid_t pid;
	int pidfd, errfd, fd, dirfd;
	long long started_ms, deadline_ms, kill_ms;
	bool timed_out;
	char tail[TAIL_MAX];
	size_t tail_len;
	bool tail_cut;
};

/* A listener's on_stored, copied: a reload must not pull it from under a run. */
struct hook_listener {
	char *name;
	char **argv;
	unsigned max_running, timeout, retries;
	char **dirs;                    /* its output_dir and its identities' subdirs */
	size_t n_dirs;
};

static struct {
	pthread_mutex_t lock;           /* all but the running list */
	pthread_t thread;
	bool started, stopping, rescan, overflowed;
	struct timespec started_at;     /* to tell files stored since this start */
	long long stop_deadline;
	int wake_fd;
	struct job *head, *tail;        /* the queue, in the order files were stored */
	size_t queued;
	struct hook_listener *ls;
	size_t n_ls;
	struct hook_metrics m;
	char path_env[4096];
	/* Written by the supervisor alone, under the lock; it reads it without. */
	struct job *running;
} H = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1 };

static void
wake(void)
{
	uint64_t one = 1;

	if (H.wake_fd >= 0 && write(H.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("hook: eventfd");
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->dir);
	free(j);
}

static void
listeners_free(struct hook_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ls[i].name);
		for (size_t k = 0; ls[i].argv != NULL && ls[i].argv[k] != NULL; k++)
			free(ls[i].argv[k]);
		free(ls[i].argv);
		for (size_t k = 0; k < ls[i].n_dirs; k++)
			free(ls[i].dirs[k]);
		free(ls[i].dirs);
	}
	free(ls);
}

/* Under the lock. */
static const struct hook_listener *
listener_find(const char *name)
{
	for (size_t i = 0; i < H.n_ls; i++) {
		if (strcmp(H.ls[i].name, name) == 0)
			return &H.ls[i];
	}
	return NULL;
}

static int
copy_listener(const struct listener_cfg *l, struct hook_listener *h)
{
	char dir[PATH_MAX];

	if ((h->name = strdup(l->name)) == NULL ||
	    (h->argv = calloc(l->on_stored.n_command + 1, sizeof(*h->argv))) == NULL ||
	    (h->dirs = calloc(l->n_ids + 1, sizeof(*h->dirs))) == NULL)
		return -1;
	for (size_t k = 0; k < l->on_stored.n_command; k++) {
		if ((h->argv[k] = strdup(l->on_stored.command[k])) == NULL)
			return -1;
	}
	h->max_running = l->on_stored.max_running;
	h->timeout = l->on_stored.timeout;
	h->retries = l->on_stored.retries;
	if ((h->dirs[h->n_dirs++] = strdup(l->output_dir)) == NULL)
		return -1;
	for (size_t k = 0; k < l->n_ids; k++) {
		if (l->ids[k]->subdir == NULL)
			continue;
		quota_dir(dir, sizeof(dir), l->output_dir, l->ids[k]->subdir);
		if ((h->dirs[h->n_dirs++] = strdup(dir)) == NULL)
			return -1;
	}
	return 0;
}

void
hook_configure(const struct config *cfg)
{
	struct hook_listener *ls = calloc(cfg->n_listeners + 1, sizeof(*ls));
	size_t n = 0;

	if (ls == NULL) {
		log_errx("hook: out of memory: the hooks stay as they were");
		return;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];

		if (l->mode != MODE_RECEIVE || l->on_stored.command == NULL)
			continue;
		if (copy_listener(l, &ls[n++]) < 0) {
			listeners_free(ls, n);
			log_errx("hook: out of memory: the hooks stay as they were");
			return;
		}
	}
	pthread_mutex_lock(&H.lock);
	listeners_free(H.ls, H.n_ls);
	H.ls = ls;
	H.n_ls = n;
	H.rescan = true;
	pthread_mutex_unlock(&H.lock);
	wake();
}

/* Under the lock: whether dir/name is queued or running already.  Announced: its wait ends. */
static bool
known(const char *dir, const char *name, bool announced)
{
	for (struct job *j = H.head; j != NULL; j = j->next) {
		if (strcmp(j->name, name) == 0 && strcmp(j->dir, dir) == 0) {
			if (announced && j->unannounced) {
				j->unannounced = false;
				j->due_ms = 0;
			}
			return true;
		}
	}
	for (const struct job *j = H.running; j != NULL; j = j->next) {
		if (strcmp(j->name, name) == 0 && strcmp(j->dir, dir) == 0)
			return true;
	}
	return false;
}

/* Under the lock. */
static void
enqueue(struct job *j)
{
	j->next = NULL;
	if (H.tail != NULL)
		H.tail->next = j;
	else
		H.head = j;
	H.tail = j;
	H.queued++;
}

/* Under the lock.  0, or -1 when the file stays marked for a rescan. */
static int
add(const char *dir, const char *name, const struct mark_facts *f, const char *record,
    bool unannounced)
{
	struct job *j;

	if (H.queued >= QUEUE_MAX) {
		if (!H.overflowed)
			log_warnx("hook: %d files wait already; further files stay marked until the "
			    "queue has room", QUEUE_MAX);
		H.overflowed = true;
		H.m.not_queued++;
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->dir = strdup(dir)) == NULL) {
		job_free(j);
		H.overflowed = true;
		H.m.not_queued++;
		return -1;
	}
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->record, sizeof(j->record), "%s", record);
	j->facts = *f;
	j->pidfd = j->errfd = j->fd = j->dirfd = -1;
	if ((j->unannounced = unannounced))
		j->due_ms = sys_now_ms() + UNANNOUNCED_GRACE_MS;
	enqueue(j);
	return 0;
}

void
hook_stored(const char *dir, const char *name, const struct mark_facts *f, const char *record)
{
	pthread_mutex_lock(&H.lock);
	/* Stopping: the mark stays, and the next start runs it.  A rescan may have found it first. */
	if (H.started && !H.stopping && !known(dir, name, true))
		(void)add(dir, name, f, record, false);
	pthread_mutex_unlock(&H.lock);
	wake();
}

struct scan_ctx {
	int dirfd;
	const char *dir;
	const char *listener;
	bool full;
};

static void
scan_found(const char *name, const char *record, const struct mark_facts *f, void *arg)
{
	struct scan_ctx *ctx = arg;
	struct stat sb;
	bool recent;

	if (ctx->full || strcmp(f->listener, ctx->listener) != 0)
		return;
	/* Changed since this start (or not to be told): maybe still inside its commit. */
	recent = fstatat(ctx->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    sb.st_ctim.tv_sec > H.started_at.tv_sec ||
	    (sb.st_ctim.tv_sec == H.started_at.tv_sec && sb.st_ctim.tv_nsec >= H.started_at.tv_nsec);
	pthread_mutex_lock(&H.lock);
	if (!known(ctx->dir, name, false) && add(ctx->dir, name, f, record, recent) < 0)
		ctx->full = true;
	pthread_mutex_unlock(&H.lock);
}

/* Queues the marked files of every hooked listener's directories (without the lock). */
static void
rescan(void)
{
	struct { char *listener, *dir; } *dirs = NULL;
	size_t n = 0, total = 0;
	int found = 0;

	pthread_mutex_lock(&H.lock);
	H.overflowed = false;
	for (size_t i = 0; i < H.n_ls; i++)
		total += H.ls[i].n_dirs;
	if (total > 0 && (dirs = calloc(total, sizeof(*dirs))) != NULL) {
		for (size_t i = 0; i < H.n_ls; i++) {
			for (size_t k = 0; k < H.ls[i].n_dirs; k++) {
				dirs[n].listener = strdup(H.ls[i].name);
				dirs[n].dir = strdup(H.ls[i].dirs[k]);
				n++;
			}
		}
	}
	pthread_mutex_unlock(&H.lock);
	for (size_t i = 0; i < n; i++) {
		struct scan_ctx ctx = { .dir = dirs[i].dir, .listener = dirs[i].listener };
		int dirfd, rc;

		if (ctx.dir == NULL || ctx.listener == NULL ||
		    (dirfd = open(ctx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		ctx.dirfd = dirfd;
		if ((rc = mark_scan(dirfd, scan_found, &ctx)) > 0)
			found += rc;
		sys_close(dirfd);
	}
	for (size_t i = 0; i < n; i++) {
		free(dirs[i].listener);
		free(dirs[i].dir);
	}
	free(dirs);
	if (found > 0)
		log_info("hook: %d stored files still wait for their hook", found);
}

static long long
backoff_ms(unsigned attempt)
{
	long long ms = BACKOFF_FIRST_MS;

	for (unsigned i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static unsigned
running_of(const char *listener)
{
	unsigned n = 0;

	for (const struct job *j = H.running; j != NULL; j = j->next)
		n += strcmp(j->facts.listener, listener) == 0;
	return n;
}

/* The log line of one run; status says how it ended. */
static void
log_run(const struct job *j, enum log_level level, const char *status, const char *next)
{
	char listener[LOG_VALUE_MAX(LISTENER_NAME_MAX)], file[LOG_VALUE_MAX(PATH_MAX)];
	char tail[LOG_VALUE_MAX(TAIL_MAX + 3)], text[TAIL_MAX + 4], path[PATH_MAX];
	char peer[LOG_VALUE_MAX(ADDR_TEXT_MAX)], client[LOG_VALUE_MAX(IDENTITY_NAME_MAX) + 8] = "";
	char name[LOG_VALUE_MAX(IDENTITY_NAME_MAX)];
	size_t len = j->tail_len;

	/* The tail without its last newline, "..." where it was cut. */
	while (len > 0 && (j->tail[len - 1] == '\n' || j->tail[len - 1] == '\r'))
		len--;
	snprintf(text, sizeof(text), "%s%.*s", j->tail_cut ? "..." : "", (int)len, j->tail);
	snprintf(path, sizeof(path), "%s/%s", j->dir, j->name);
	/* The facts came from the mark, which a file system user could have written: escaped. */
	if (j->facts.client[0] != '\0')
		snprintf(client, sizeof(client), " client=%s",
		    log_value(name, sizeof(name), j->facts.client));
	log_at(level, "hook listener=%s peer=%s%s file=%s status=%s duration_ms=%lld attempt=%u%s "
	    "stderr=%s", log_value(listener, sizeof(listener), j->facts.listener),
	    log_value(peer, sizeof(peer), j->facts.peer), client,
	    log_value(file, sizeof(file), path), status,
	    j->started_ms > 0 ? sys_now_ms() - j->started_ms : 0LL, j->attempt, next,
	    log_value(tail, sizeof(tail), text));
}

static void
close_run(struct job *j)
{
	if (j->pidfd >= 0)
		sys_close(j->pidfd);
	if (j->errfd >= 0)
		sys_close(j->errfd);
	if (j->fd >= 0)
		sys_close(j->fd);
	if (j->dirfd >= 0)
		sys_close(j->dirfd);
	j->pidfd = j->errfd = j->fd = j->dirfd = -1;
}

static void
count_duration(long long ms)
{
	size_t b = 0;

	while (b < HOOK_BUCKETS - 1 && (uint64_t)ms > hook_bucket_ms[b])
		b++;
	H.m.duration_count[b]++;
	H.m.duration_ms_sum += (uint64_t)ms;
}

/*
 * Takes j's mark away.  A hook may have made its file read-only, and a
 * user xattr of a file without write permission cannot be removed
 * (EACCES): the file is the daemon's, so it gets its owner's write
 * permission back for the removal, then its mode as the hook left it.
 */
static int
clear_mark(struct job *j)
{
	struct stat sb;
	int rc, err;

	if (mark_clear(j->fd, j->dirfd, j->record) == 0)
		return 0;
	if ((errno != EACCES && errno != EPERM) || j->fd < 0 || fstat(j->fd, &sb) < 0 ||
	    (sb.st_mode & S_IWUSR) != 0 || fchmod(j->fd, (sb.st_mode & 07777) | S_IWUSR) < 0)
		return -1;
	rc = mark_clear(j->fd, j->dirfd, j->record);
	err = errno;
	if (fchmod(j->fd, sb.st_mode & 07777) < 0) {
		char file[LOG_VALUE_MAX(PATH_MAX)], path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", j->dir, j->name);
		log_warn("hook: file=%s: its mode after clearing its mark",
		    log_value(file, sizeof(file), path));
	}
	errno = err;
	return rc;
}

/*
 * The run of j ended (ok, or how it failed): the mark goes once the file
 * is done with - it succeeded, or failed its last retry - and otherwise
 * the file is queued again after its back-off.
 */
static void
finish(struct job *j, bool ok, const char *status)
{
	const struct hook_listener *l;
	long long now = sys_now_ms();
	char next[48] = "";

	pthread_mutex_lock(&H.lock);
	if (j->started_ms > 0)
		count_duration(now - j->started_ms);
	l = listener_find(j->facts.listener);
	if (ok) {
		H.m.files_done++;
	} else if (H.stopping) {
		H.m.runs_stopped++;
		snprintf(next, sizeof(next), " next=after-restart");
	} else if (l == NULL) {
		/* A reload took its on_stored away: the mark stays for a later config, as in next_due(). */
		snprintf(next, sizeof(next), " next=after-reload");
	} else if (j->attempt <= l->retries) {
		long long wait = backoff_ms(j->attempt);

		H.m.runs_retried++;
		snprintf(next, sizeof(next), " next=retry retry_in_ms=%lld", wait);
	} else {
		H.m.files_given_up++;
		snprintf(next, sizeof(next), " next=given-up");
	}
	pthread_mutex_unlock(&H.lock);

	/*
	 * The mark goes before the run's line: whoever reads that line (an
	 * operator, a collector, retention's next pass) finds the file done with.
	 */
	if (ok || strcmp(next, " next=given-up") == 0) {
		int cleared = clear_mark(j), err = errno;

		log_run(j, ok ? LOG_LVL_INFO : LOG_LVL_ERROR, status, next);
		if (cleared < 0) {
			char file[LOG_VALUE_MAX(PATH_MAX)], path[PATH_MAX], e[LOG_VALUE_MAX(64)];

			snprintf(path, sizeof(path), "%s/%s", j->dir, j->name);
			log_warnx("hook-mark-uncleared file=%s error=%s", log_value(file, sizeof(file), path),
			    log_value(e, sizeof(e), strerror(err)));
		}
		close_run(j);
		job_free(j);
		return;
	}
	/* Only a file given up is an error: a retry, or a run after the restart, still comes. */
	log_run(j, LOG_LVL_WARNING, status, next);
	close_run(j);
	if (strncmp(next, " next=retry", 11) != 0) {
		job_free(j);            /* stopping, or no on_stored now: the mark stays */
		return;
	}
	j->due_ms = now + backoff_ms(j->attempt);
	j->started_ms = 0;
	j->timed_out = false;
	j->tail_len = 0;
	j->tail_cut = false;
	pthread_mutex_lock(&H.lock);
	enqueue(j);
	pthread_mutex_unlock(&H.lock);
}

/* The running list changes under the lock: hook_stored() reads it (known()). */
static void
unlink_running(struct job *j)
{
	pthread_mutex_lock(&H.lock);
	for (struct job **pp = &H.running; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	H.m.running--;
	pthread_mutex_unlock(&H.lock);
}

/* The environment of a run: PATH and the facts (tcpxd.8 HOOKS). */
static int
make_env(const struct job *j, const struct stat *sb, char env[][PATH_MAX + 32], char **envp)
{
	size_t n = 0;

	snprintf(env[n++], PATH_MAX + 32, "PATH=%s", H.path_env);
	if (snprintf(env[n++], PATH_MAX + 32, "TCPXD_FILE=%s/%s", j->dir, j->name) >= PATH_MAX + 32) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(env[n++], PATH_MAX + 32, "TCPXD_NAME=%s", j->name);
	snprintf(env[n++], PATH_MAX + 32, "TCPXD_SIZE=%lld", (long long)sb->st_size);
	snprintf(env[n++], PATH_MAX + 32, "TCPXD_SHA256=%s", j->facts.sha256);
	snprintf(env[n++], PATH_MAX + 32, "TCPXD_PEER=%s", j->facts.peer);
	snprintf(env[n++], PATH_MAX + 32, "TCPXD_LISTENER=%s", j->facts.listener);
	if (j->facts.client[0] != '\0')
		snprintf(env[n++], PATH_MAX + 32, "TCPXD_CLIENT=%s", j->facts.client);
	for (size_t i = 0; i < n; i++)
		envp[i] = env[i];
	envp[n] = NULL;
	return 0;
}

/*
 * Opens j's file (held through the run: the hook may move it, and its mark
 * is cleared on it all the same).  1 to run it, 0 when there is nothing
 * to run (its mark is gone: another run did it; or the file is gone), -1.
 */
static int
open_file(struct job *j, struct stat *sb)
{
	if ((j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	j->fd = openat(j->dirfd, j->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (j->fd < 0) {
		if (errno != ENOENT)
			return -1;
		/* Taken away before its hook: a record left of it goes too, before the line (finish()). */
		(void)mark_clear(-1, j->dirfd, j->record);
		log_run(j, LOG_LVL_WARNING, "missing", "");
		return 0;
	}
	if (fstat(j->fd, sb) < 0)
		return -1;
	/* mark_get() failing (EIO, ENOMEM) is not "no mark": an open error, retried. */
	if (j->record[0] == '\0')
		return mark_get(j->fd, NULL);
	return faccessat(j->dirfd, j->record, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? 1 : 0;
}

/* Starts j's program (the supervisor's thread, without the lock). */
static void
spawn(struct job *j, const struct hook_listener *l)
{
	char env[8][PATH_MAX + 32], *envp[9];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	struct stat sb;
	int pipefd[2], rc;

	j->attempt++;
	j->unannounced = false;         /* its wait is over: a retry keeps its back-off */
	j->started_ms = sys_now_ms();
	j->tail_len = 0;
	if ((rc = open_file(j, &sb)) <= 0) {
		if (rc < 0) {
			snprintf(j->tail, sizeof(j->tail), "%s", strerror(errno));
			j->tail_len = strlen(j->tail);
			pthread_mutex_lock(&H.lock);
			H.m.runs_spawn_error++;
			pthread_mutex_unlock(&H.lock);
			finish(j, false, "open-error");
			return;
		}
		close_run(j);
		job_free(j);
		return;
	}
	if (make_env(j, &sb, env, envp) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(j->tail, sizeof(j->tail), "%s", strerror(errno));
		j->tail_len = strlen(j->tail);
		pthread_mutex_lock(&H.lock);
		H.m.runs_spawn_error++;
		pthread_mutex_unlock(&H.lock);
		finish(j, false, "spawn-error");
		return;
	}
	(void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, j->dir);
	/* Every thread blocks every signal: the program must not inherit that. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* Its own process group, so a timeout kills what it started too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&j->pid, l->argv[0], &fa, &attr, l->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	sys_close(pipefd[1]);
	if (rc != 0) {
		sys_close(pipefd[0]);
		snprintf(j->tail, sizeof(j->tail), "%s: %s", l->argv[0], strerror(rc));
		j->tail_len = strlen(j->tail);
		pthread_mutex_lock(&H.lock);
		H.m.runs_spawn_error++;
		pthread_mutex_unlock(&H.lock);
		finish(j, false, "spawn-error");
		return;
	}
	j->errfd = pipefd[0];
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	/*
	 * Without pidfd_open (ENOSYS: kernels before 5.3, valgrind) the run is
	 * asked with waitid(WNOHANG) every WAIT_POLL_MS instead.  Any other
	 * failure: it cannot be watched, so it is not left unsupervised.
	 */
	if (j->pidfd < 0 && errno != ENOSYS) {
		log_warn("hook: pidfd_open");
		kill(-j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&H.lock);
		H.m.runs_spawn_error++;
		pthread_mutex_unlock(&H.lock);
		finish(j, false, "spawn-error");
		return;
	}
	j->deadline_ms = j->started_ms + (long long)l->timeout * 1000;
	j->kill_ms = 0;
	pthread_mutex_lock(&H.lock);
	j->next = H.running;
	H.running = j;
	H.m.running++;
	pthread_mutex_unlock(&H.lock);
}

/*
 * Keeps the last TAIL_MAX bytes of what the program wrote to stderr.  At
 * most STDERR_READ_MAX a call: a program writing without end must not keep
 * the supervisor from its timeouts and the other runs.
 */
static void
read_stderr(struct job *j)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (j->errfd >= 0 && total < STDERR_READ_MAX) {
		n = read(j->errfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN) {
				sys_close(j->errfd);
				j->errfd = -1;
			}
			return;
		}
		total += (size_t)n;
		if ((size_t)n >= TAIL_MAX) {
			memcpy(j->tail, buf + n - TAIL_MAX, TAIL_MAX);
			j->tail_cut = j->tail_cut || (size_t)n > TAIL_MAX || j->tail_len > 0;
			j->tail_len = TAIL_MAX;
		} else {
			size_t keep = j->tail_len + (size_t)n > TAIL_MAX ? TAIL_MAX - (size_t)n : j->tail_len;

			if (keep < j->tail_len) {
				memmove(j->tail, j->tail + j->tail_len - keep, keep);
				j->tail_cut = true;
			}
			memcpy(j->tail + keep, buf, (size_t)n);
			j->tail_len = keep + (size_t)n;
		}
	}
}

/*
 * Reaps the program of j if it exited (at once when its pidfd said so) and
 * finishes the run.  False while it still runs.
 */
static bool
reap(struct job *j)
{
	siginfo_t si = { 0 };
	char status[32];
	bool ok = false;
	int rc;

	while ((rc = j->pidfd >= 0 ? waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) :
	    waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG)) < 0) {
		if (errno != EINTR) {
			log_warn("hook: waitid");
			break;
		}
	}
	if (rc == 0 && si.si_pid == 0)
		return false;           /* no pidfd, and it still runs */
	read_stderr(j);         /* what is left; a grandchild holding the pipe is not waited for */
	unlink_running(j);
	pthread_mutex_lock(&H.lock);
	if (j->timed_out) {
		snprintf(status, sizeof(status), "timeout");
		H.m.runs_timeout++;
	} else if (si.si_code == CLD_EXITED && si.si_status == 0) {
		snprintf(status, sizeof(status), "ok");
		H.m.runs_ok++;
		ok = true;
	} else if (si.si_code == CLD_EXITED) {
		snprintf(status, sizeof(status), "exit-%d", si.si_status);
		H.m.runs_failed++;
	} else {
		snprintf(status, sizeof(status), "signal-%d", si.si_status);
		H.m.runs_failed++;
	}
	pthread_mutex_unlock(&H.lock);
	finish(j, ok, status);
	return true;
}

/* Past its timeout: SIGTERM, then SIGKILL after a grace. */
static void
enforce_timeouts(long long now, bool stop_now)
{
	for (struct job *j = H.running; j != NULL; j = j->next) {
		if (stop_now) {
			kill(-j->pid, SIGKILL);
		} else if (j->kill_ms == 0 && now >= j->deadline_ms) {
			j->timed_out = true;
			j->kill_ms = now + KILL_GRACE_MS;
			kill(-j->pid, SIGTERM);
		} else if (j->kill_ms != 0 && now >= j->kill_ms) {
			kill(-j->pid, SIGKILL);
			j->kill_ms = now + KILL_GRACE_MS;
		}
	}
}

/* Under the lock: takes the first due job whose listener has room, or NULL; *next: earliest due. */
static struct job *
next_due(long long now, long long *next, const struct hook_listener **lp)
{
	for (struct job **pp = &H.head, *prev = NULL; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		struct job *j = *pp;
		const struct hook_listener *l = listener_find(j->facts.listener);

		if (l == NULL) {
			/* Its listener is gone (or lost on_stored): the mark stays for a later config. */
			*pp = j->next;
			if (H.tail == j)
				H.tail = prev;
			H.queued--;
			job_free(j);
			return next_due(now, next, lp);
		}
		if (j->due_ms > now) {
			if (*next == 0 || j->due_ms < *next)
				*next = j->due_ms;
			continue;
		}
		/* Every run must fit the poll array, whatever the listeners' max_running add up to. */
		if (H.m.running >= RUNNING_MAX)
			return NULL;
		if (running_of(j->facts.listener) >= l->max_running)
			continue;
		*pp = j->next;
		if (H.tail == j)
			H.tail = prev;
		H.queued--;
		*lp = l;
		return j;
	}
	return NULL;
}

/* Under the lock: what a run needs of its listener, its own copy (a reload may free l). */
static struct hook_listener *
run_copy(const struct hook_listener *l)
{
	struct hook_listener *c = calloc(1, sizeof(*c));
	size_t n = 0;

	while (l->argv[n] != NULL)
		n++;
	if (c == NULL || (c->argv = calloc(n + 1, sizeof(*c->argv))) == NULL) {
		free(c);
		return NULL;
	}
	for (size_t k = 0; k < n; k++) {
		if ((c->argv[k] = strdup(l->argv[k])) == NULL) {
			listeners_free(c, 1);
			return NULL;
		}
	}
	c->timeout = l->timeout;
	return c;
}

static void
start_due(long long *next)
{
	for (;;) {
		const struct hook_listener *l = NULL;
		struct hook_listener *copy = NULL;
		struct job *j;

		pthread_mutex_lock(&H.lock);
		j = H.stopping ? NULL : next_due(sys_now_ms(), next, &l);
		if (j != NULL && (copy = run_copy(l)) == NULL) {
			/* Out of memory: tried again at the next wake-up. */
			j->due_ms = sys_now_ms() + BACKOFF_FIRST_MS;
			enqueue(j);
			j = NULL;
		}
		pthread_mutex_unlock(&H.lock);
		if (j == NULL)
			return;
		spawn(j, copy);
		listeners_free(copy, 1);
	}
}

static void *
supervise(void *arg)
{
	bool told = false;

	(void)arg;
	for (;;) {
		struct pollfd pfd[1 + 2 * RUNNING_MAX];
		struct job *who[1 + 2 * RUNNING_MAX];
		bool is_exit[1 + 2 * RUNNING_MAX]; /* a pidfd entry, or a run without one (else its stderr) */
		long long now = sys_now_ms(), next = 0;
		bool stopping, want_rescan, asked = false;
		size_t n = 1;
		int timeout;

		pthread_mutex_lock(&H.lock);
		want_rescan = !H.stopping && (H.rescan || (H.overflowed && H.queued < QUEUE_MAX / 2));
		H.rescan = false;
		pthread_mutex_unlock(&H.lock);
		if (want_rescan)
			rescan();
		start_due(&next);
		pthread_mutex_lock(&H.lock);
		stopping = H.stopping;
		H.m.queued = (unsigned)H.queued;
		pthread_mutex_unlock(&H.lock);
		now = sys_now_ms();
		if (stopping && H.running == NULL)
			break;
		if (stopping && !told) {
			unsigned running = 0;

			/* Said here, not by hook_stop(): a run being spawned when the stop came is counted. */
			for (const struct job *j = H.running; j != NULL; j = j->next)
				running++;
			log_info("hook: waiting for %u running hooks", running);
			told = true;
		}
		enforce_timeouts(now, stopping && now >= H.stop_deadline);
		pfd[0] = (struct pollfd){ .fd = H.wake_fd, .events = POLLIN };
		who[0] = NULL;
		for (struct job *j = H.running; j != NULL && n + 2 <= sizeof(pfd) / sizeof(pfd[0]);
		    j = j->next) {
			long long at = j->kill_ms != 0 ? j->kill_ms : j->deadline_ms;

			/* A negative fd is left out by poll(): such a run is asked after it. */
			pfd[n] = (struct pollfd){ .fd = j->pidfd, .events = POLLIN };
			is_exit[n] = true;
			who[n++] = j;
			if (j->pidfd < 0)
				asked = true;
			if (j->errfd >= 0) {
				pfd[n] = (struct pollfd){ .fd = j->errfd, .events = POLLIN };
				is_exit[n] = false;
				who[n++] = j;
			}
			if (next == 0 || at < next)
				next = at;
		}
		if (stopping && (next == 0 || H.stop_deadline < next))
			next = H.stop_deadline;
		timeout = next == 0 ? 60000 : next <= now ? 0 : next - now > 60000 ? 60000 :
		    (int)(next - now);
		if (asked && timeout > WAIT_POLL_MS)
			timeout = WAIT_POLL_MS;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			log_warn("hook: poll");
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			if (read(H.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("hook: eventfd");
		}
		/*
		 * Stderr first, so a finished run's log line has all of it; then
		 * the exits, each of which may free its job (so nothing of a job
		 * is looked at after its own pidfd entry).
		 */
		for (size_t i = 1; i < n; i++) {
			if (!is_exit[i] && (pfd[i].revents & (POLLIN | POLLHUP)))
				read_stderr(who[i]);
		}
		for (size_t i = 1; i < n; i++) {
			if (is_exit[i] && (pfd[i].fd < 0 || (pfd[i].revents & (POLLIN | POLLHUP))))
				(void)reap(who[i]);
		}
	}
	return NULL;
}

int
hook_start(void)
{
	const char *path = getenv("PATH");
	int rc;

	snprintf(H.path_env, sizeof(H.path_env), "%s", path != NULL && *path ? path : DEFAULT_PATH);
	/* The coarse clock is the one file times come from: a file changed after this is not older. */
	clock_gettime(CLOCK_REALTIME_COARSE, &H.started_at);
	if ((H.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -1;
	if ((rc = pthread_create(&H.thread, NULL, supervise, NULL)) != 0) {
		sys_close(H.wake_fd);
		H.wake_fd = -1;
		errno = rc;
		return -1;
	}
	pthread_mutex_lock(&H.lock);
	H.started = true;
	pthread_mutex_unlock(&H.lock);
	return 0;
}

void
hook_stop(long long deadline_ms)
{
	struct job *j;

	pthread_mutex_lock(&H.lock);
	if (!H.started) {
		pthread_mutex_unlock(&H.lock);
		return;
	}
	H.stopping = true;
	H.stop_deadline = deadline_ms;
	pthread_mutex_unlock(&H.lock);
	wake();
	pthread_join(H.thread, NULL);
	pthread_mutex_lock(&H.lock);
	while ((j = H.head) != NULL) {
		H.head = j->next;
		job_free(j);
	}
	H.tail = NULL;
	H.queued = 0;
	listeners_free(H.ls, H.n_ls);
	H.ls = NULL;
	H.n_ls = 0;
	H.started = false;
	pthread_mutex_unlock(&H.lock);
	sys_close(H.wake_fd);
	H.wake_fd = -1;
}

void
hook_metrics_get(struct hook_metrics *m)
{
	pthread_mutex_lock(&H.lock);
	*m = H.m;
	pthread_mutex_unlock(&H.lock);
}
