/* SPDX-License-Identifier: ISC */
/*
 * server.c - the main thread.  It polls every listener plus a signalfd
 * (SIGHUP, SIGTERM, SIGINT: the one place signals are handled) and an
 * eventfd that connection threads write when one ends while we wait for
 * that (descriptor back-off, graceful stop).  Accepted sockets go to
 * conn_dispatch(); configuration reloads build a new generation and swap
 * it in, keeping the sockets of listeners that did not move.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/conn.h"
#include "daemon/counts.h"
#include "daemon/drain.h"
#include "daemon/gen.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "daemon/notify.h"
#include "daemon/opsmetrics.h"
#include "daemon/park.h"
#include "daemon/ratelimit.h"
#include "daemon/server.h"
#include "daemon/services/hook.h"
#include "daemon/services/partial.h"
#include "daemon/services/quota.h"
#include "daemon/services/receive.h"
#include "daemon/services/retention.h"
#include "daemon/services/store.h"
#include "io/sys.h"

#define ACCEPT_BURST 64
#define TICK_MS 1000
#define FD_BACKOFF_MS 250
/* After shutdown_timeout, how long aborted connections get to unwind. */
#define ABORT_GRACE_MS 5000
#define FDS_PER_CONN 2          /* the socket, and the file of an upload */
/*
 * stdio, signalfd, eventfds, sd_notify's socket, a certificate being read,
 * the socket between accept() and a refusal, and what libraries open.
 */
#define FDS_FIXED 32

struct slot {
	int fd;
	size_t index;               /* into the current generation's listeners */
	bool activated;             /* passed by the service manager (LISTEN_FDS) */
	bool fresh;                 /* opened by open_slots(), not yet logged */
	char name[LISTENER_NAME_MAX + 1];   /* FileDescriptorName= of an activated socket */
};

static struct {
	struct gen *gen;
	struct slot *slots;
	size_t n_slots;
	int sig_fd;
	int wake_fd;
	long long paused_until;     /* descriptor exhaustion back-off; 0 = accepting */
	bool fd_exhausted;          /* from the first EMFILE to the next successful accept */
	bool fault_hooks;           /* TCPXD_TEST_FAULTS set: test-only faults (server_start) */
	long long watchdog_ms;
	long long next_watchdog;
	long long next_status;
} srv = { .sig_fd = -1, .wake_fd = -1 };

/*
 * Descriptors besides connections and the drain: the n_sockets listening
 * sockets (a socket-activated name may carry several), plus one per
 * listener that a reload may open before it closes the old ones; an output
 * directory and its partial directory per receive listener and per identity
 * subdir it accepts (cfg_output_dirs), twice (the new
 * generation's, and the one connections still in flight from before a
 * reload hold); and FDS_FIXED.
 */
/* Whether receive listener l stores the files of identity id (its quota counts them there). */
static bool
stores_for(const struct listener_cfg *l, const struct identity_cfg *id)
{
	for (size_t k = 0; l->mode == MODE_RECEIVE && k < l->n_ids; k++) {
		if (l->ids[k] == id)
			return true;
	}
	return false;
}

/* The directories quotas count: one descriptor each, and the watcher's two if any. */
static rlim_t
quota_fds(const struct config *cfg)
{
	rlim_t n = 0;

	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct identity_cfg *id = &cfg->clients[i];

		for (size_t j = 0; (id->quota_bytes != 0 || id->quota_files != 0) &&
		    j < cfg->n_listeners; j++)
			n += stores_for(&cfg->listeners[j], id);
	}
	return n > 0 ? n + 2 : 0;
}

/*
 * A running hook's pidfd, stderr pipe, file and directory (the
 * supervisor's eventfd is among FDS_FIXED's), and the pruner's (a
 * listener's directories during a pass, and a file at a time).
 */
static rlim_t
hook_retention_fds(const struct config *cfg)
{
	rlim_t n = 0, prune = 0;

	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];
		rlim_t dirs = 1 + (rlim_t)l->n_ids;

		if (l->on_stored.command != NULL)
			n += 4 * (rlim_t)l->on_stored.max_running;
		if (l->retention.enabled && dirs + 2 > prune)
			prune = dirs + 2;
	}
	return n + prune;
}

static rlim_t
fds_base(const struct config *cfg, size_t n_sockets)
{
	rlim_t dirs = 2 * (rlim_t)cfg_output_dirs(cfg);

	return FDS_FIXED + (rlim_t)n_sockets + (rlim_t)cfg->n_listeners + 2 * dirs + quota_fds(cfg) +
	    hook_retention_fds(cfg);
}

/*
 * Raises RLIMIT_NOFILE to what max_connections needs, and splits what it
 * allows: admitted connections first (2 each, so an upload always gets its
 * file), the drain only what is left, up to DRAIN_MAX.  When even that is
 * short, the accept loop waits for room instead of starving an admitted
 * upload (conn_fd_room), and refusals close without draining.
 */
static void
check_rlimits(const struct config *cfg, size_t n_sockets)
{
	rlim_t base = fds_base(cfg, n_sockets), conns = (rlim_t)cfg->max_connections * FDS_PER_CONN;
	rlim_t need = base + conns + DRAIN_MAX, avail, drain;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
		conn_set_fd_cap(ULLONG_MAX);
		drain_set_max(DRAIN_MAX);
	} else {
		if (rl.rlim_cur < need) {
			struct rlimit raised = rl;

			raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need :
			    rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
				rl = raised;
		}
		avail = rl.rlim_cur > base ? rl.rlim_cur - base : 0;
		drain = avail > conns ? avail - conns : 0;
		if (drain > DRAIN_MAX)
			drain = DRAIN_MAX;
		conn_set_fd_cap((unsigned long long)(avail - drain));
		drain_set_max((int)drain);
		if (rl.rlim_cur < need)
			log_warnx("max_connections = %u needs %llu file descriptors (%d per connection, "
			    "%d for refusals draining, %llu for listeners, directories and the daemon) "
			    "but RLIMIT_NOFILE is %llu: about %llu connections can be served at once, "
			    "refusals drain %llu; raise LimitNOFILE (ulimit -n) or lower max_connections",
			    cfg->max_connections, (unsigned long long)need, FDS_PER_CONN, DRAIN_MAX,
			    (unsigned long long)base, (unsigned long long)rl.rlim_cur,
			    (unsigned long long)((avail - drain) / FDS_PER_CONN), (unsigned long long)drain);
	}
	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)cfg->max_connections + 8)
		log_warnx("max_connections = %u needs as many threads but RLIMIT_NPROC is %llu: "
		    "connections beyond it will be refused; raise LimitNPROC/TasksMax or lower "
		    "max_connections", cfg->max_connections, (unsigned long long)rl.rlim_cur);
}

static void
log_listening(const struct listener_cfg *l, int fd, const char *how)
{
	char where[INET6_ADDRSTRLEN + 16];

	listener_describe(fd, where, sizeof(where));
	log_info("listener %s (%s) listening on %s%s%s", l->name, cfg_mode_name(l->mode), where,
	    how ? ", " : "", how ? how : "");
}

static void
close_slots(struct slot *slots, size_t n)
{
	if (slots == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sys_close(slots[i].fd);
	free(slots);
}

/*
 * Builds the listening sockets of g, reusing the sockets in old (which may
 * be NULL) that serve the same address, or that the service manager passed
 * under the listener's name (all of them: one name may cover several
 * sockets).  A reused socket's fd is set to -1 in old.  Returns the new
 * slots and their count, or NULL and a reason; old is then untouched.
 */
static struct slot *
open_slots(struct gen *g, struct slot *old, size_t n_old, const struct config *old_cfg,
    size_t *n_out, char *err, size_t errlen)
{
	const struct config *cfg = g->cfg;
	struct slot *slots = calloc(cfg->n_listeners + n_old, sizeof(*slots));
	bool *reused = calloc(n_old ? n_old : 1, sizeof(*reused));
	size_t n = 0;

	if (slots == NULL || reused == NULL) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_cfg *l = &cfg->listeners[i];
		bool found = false;
		char reason[256];

		for (size_t j = 0; j < n_old; j++) {
			int same;

			if (reused[j])
				continue;
			same = old[j].activated ? strcmp(old[j].name, l->name) == 0 :
			    listener_same_socket(&old_cfg->listeners[old[j].index], old[j].fd, l, reason,
			    sizeof(reason));
			if (same < 0) {
				snprintf(err, errlen, "%s:%d: listener \"%s\": %s", l->file, l->line, l->name,
				    reason);
				goto fail;
			}
			if (same == 0)
				continue;
			/*
			 * A passed socket is configured once, when adopted at start-up.
			 * A reload changes nothing on a kept socket, so that a failed one
			 * leaves it as it was: connections set their own generation's
			 * options (conn_main).
			 */
			if (old_cfg == NULL && listener_configure(old[j].fd, l) < 0) {
				snprintf(err, errlen, "%s:%d: listener \"%s\": setsockopt: %s", l->file, l->line,
				    l->name, strerror(errno));
				goto fail;
			}
			reused[j] = found = true;
			slots[n] = old[j];
			slots[n++].index = i;
			if (!old[j].activated)
				break;
		}
		if (found)
			continue;
		slots[n] = (struct slot){ .index = i, .fresh = true };
		snprintf(slots[n].name, sizeof(slots[n].name), "%s", l->name);
		if ((slots[n].fd = listener_open(l, reason, sizeof(reason))) < 0) {
			snprintf(err, errlen, "%s:%d: listener \"%s\": %s", l->file, l->line, l->name, reason);
			goto fail;
		}
		n++;
	}
	for (size_t j = 0; j < n_old; j++) {
		if (reused[j])
			old[j].fd = -1;
	}
	free(reused);
	*n_out = n;
	return slots;
fail:
	if (slots != NULL) {
		/* Close only what was opened here, never a socket borrowed from old. */
		for (size_t i = 0; i < n; i++) {
			bool borrowed = false;

			for (size_t j = 0; j < n_old; j++)
				borrowed |= slots[i].fd == old[j].fd;
			if (!borrowed)
				sys_close(slots[i].fd);
		}
		free(slots);
	}
	free(reused);
	return NULL;
}

/* Logs the sockets open_slots() opened, once the generation they serve is in force. */
static void
log_fresh_slots(void)
{
	for (size_t i = 0; i < srv.n_slots; i++) {
		if (srv.slots[i].fresh)
			log_listening(&srv.gen->cfg->listeners[srv.slots[i].index], srv.slots[i].fd, NULL);
		srv.slots[i].fresh = false;
	}
}

/*
 * Sockets passed by the service manager, named by FileDescriptorName=.
 * Returns the count (0 without socket activation) or -1 with a reason.
 */
static int
activated_slots(struct slot **out, char *err, size_t errlen)
{
	char **names = NULL;
	struct slot *slots;
	int n = sd_listen_fds_with_names(1, &names);

	*out = NULL;
	if (n <= 0) {
		if (n < 0)
			snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return n;
	}
	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL) {
		snprintf(err, errlen, "out of memory");
		n = -1;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		int flags = fcntl(fd, F_GETFL);

		slots[i].fd = fd;
		slots[i].activated = true;
		snprintf(slots[i].name, sizeof(slots[i].name), "%s", names[i]);
		if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0 || flags < 0 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "socket \"%s\" (fd %d) passed by the service manager is not a "
			    "listening TCP socket", names[i], fd);
			close_slots(slots, (size_t)n);
			slots = NULL;
			n = -1;
			goto out;
		}
	}
	*out = slots;
out:
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
	return n;
}

/*
 * Puts cfg's max_rate in force, for connections in flight too (the buckets
 * are the process's, found by name).  -1 when out of memory: the rates in
 * force stay.
 */
static int
rates_in_force(const struct config *cfg)
{
	size_t n = cfg->n_listeners > cfg->n_clients ? cfg->n_listeners : cfg->n_clients;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	uint64_t *rates = calloc(n ? n : 1, sizeof(*rates));
	int rc = -1;

	if (names == NULL || rates == NULL)
		goto out;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		names[i] = cfg->listeners[i].name;
		rates[i] = cfg->listeners[i].max_rate;
	}
	if (rate_configure(RATE_LISTENER, names, rates, cfg->n_listeners) < 0)
		goto out;
	for (size_t i = 0; i < cfg->n_clients; i++) {
		names[i] = cfg->clients[i].name;
		rates[i] = cfg->clients[i].max_rate;
	}
	rc = rate_configure(RATE_CLIENT, names, rates, cfg->n_clients);
out:
	free(names);
	free(rates);
	return rc;
}

/*
 * Puts cfg's quotas in force: each identity with one counts its files in
 * output_dir/subdir of every receive listener that accepts it; a
 * directory not counted before is scanned now (and logged).  0, or -1
 * with a reason in err.
 */
static int
quotas_in_force(const struct config *cfg, char *err, size_t errlen)
{
	struct quota_spec *specs = calloc(cfg->n_clients ? cfg->n_clients : 1, sizeof(*specs));
	size_t n = 0, n_paths = 0;
	char **paths = NULL;
	int rc = -1;

	if (specs == NULL || (paths = calloc(cfg->n_clients * cfg->n_listeners + 1,
	    sizeof(*paths))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct identity_cfg *id = &cfg->clients[i];
		struct quota_spec *q = &specs[n];

		if (id->quota_bytes == 0 && id->quota_files == 0)
			continue;
		*q = (struct quota_spec){ .name = id->name, .max_bytes = id->quota_bytes,
		    .max_files = id->quota_files, .dirs = (const char *const *)&paths[n_paths] };
		for (size_t j = 0; j < cfg->n_listeners; j++) {
			const struct listener_cfg *l = &cfg->listeners[j];
			char dir[PATH_MAX];

			if (!stores_for(l, id))
				continue;
			quota_dir(dir, sizeof(dir), l->output_dir, id->subdir);
			if ((paths[n_paths] = strdup(dir)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			n_paths++;
			q->n_dirs++;
		}
		n++;
	}
	if ((rc = quota_configure(specs, n, err, errlen)) == 0 && quota_watch_start() < 0) {
		snprintf(err, errlen, "cannot start the quota watcher: %s", strerror(errno));
		rc = -1;
	}
out:
	for (size_t i = 0; paths != NULL && i < n_paths; i++)
		free(paths[i]);
	free(paths);
	free(specs);
	return rc;
}

static bool
listener_configured(const char *name, void *arg)
{
	const struct config *cfg = arg;

	for (size_t i = 0; i < cfg->n_listeners; i++) {
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return true;
	}
	return false;
}

/*
 * Expired partial uploads of the listener, and of listeners no longer
 * configured, and crash leftovers go at start-up.
 */
static int
sweep_partials(struct store *st, const struct listener_cfg *l, struct config *cfg)
{
	int pdir = store_partial_dir(st, false);

	return pdir < 0 ? 0 : partial_sweep(pdir, l->name, l->resume_ttl, listener_configured, cfg);
}

int
server_start(struct config *cfg, char *err, size_t errlen)
{
	struct slot *passed;
	sigset_t handled;
	int n_passed, metrics_fd = -1;
	size_t n_slots = 0;

	log_set_level(cfg->log_level);
	if ((srv.gen = gen_create(cfg, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		struct store *st = srv.gen->stores[i];
		char dir[LOG_TEXT_MAX(PATH_MAX)];
		int removed;

		if (st == NULL)
			continue;
		if ((removed = store_remove_stale(st)) > 0)
			log_info("listener %s: removed %d temporary files left by an earlier run",
			    cfg->listeners[i].name, removed);
		if ((removed = sweep_partials(st, &cfg->listeners[i], cfg)) > 0)
			log_info("listener %s: removed %d expired partial uploads and leftovers of a crash",
			    cfg->listeners[i].name, removed);
		if (!store_uses_tmpfile(st))
			log_info("listener %s: %s has no O_TMPFILE support; using hidden temporary names",
			    cfg->listeners[i].name, log_text(dir, sizeof(dir), cfg->listeners[i].output_dir));
		for (size_t j = 0; j < cfg->listeners[i].n_ids; j++) {
			struct store *sub = srv.gen->id_stores[i][j];

			if (sub == NULL)
				continue;
			if ((removed = store_remove_stale(sub)) > 0)
				log_info("listener %s: removed %d temporary files left by an earlier run in "
				    "the subdir of client %s", cfg->listeners[i].name, removed,
				    cfg->listeners[i].ids[j]->name);
			if ((removed = sweep_partials(sub, &cfg->listeners[i], cfg)) > 0)
				log_info("listener %s: removed %d expired partial uploads and leftovers of a "
				    "crash in the subdir of client %s", cfg->listeners[i].name, removed,
				    cfg->listeners[i].ids[j]->name);
		}
	}
	if ((n_passed = activated_slots(&passed, err, errlen)) < 0)
		return -1;
	/* FileDescriptorName=metrics: the metrics endpoint's, unless a listener has that name. */
	for (int j = 0; cfg->metrics.address != NULL && j < n_passed; j++) {
		if (strcmp(passed[j].name, "metrics") == 0 && !listener_configured("metrics", cfg)) {
			metrics_fd = passed[j].fd;
			passed[j] = passed[--n_passed];
			break;
		}
	}
	/* Checked before binding anything, so the message names the real mistake. */
	for (int j = 0; j < n_passed; j++) {
		bool claimed = false;

		for (size_t i = 0; i < cfg->n_listeners; i++)
			claimed |= strcmp(passed[j].name, cfg->listeners[i].name) == 0;
		if (!claimed) {
			snprintf(err, errlen, "%s: socket \"%s\" passed by the service manager matches no "
			    "listener (FileDescriptorName= must be a listener name)", cfg->path,
			    passed[j].name);
			close_slots(passed, (size_t)n_passed);
			sys_close(metrics_fd);
			return -1;
		}
	}
	srv.slots = open_slots(srv.gen, passed, (size_t)n_passed, NULL, &n_slots, err, errlen);
	close_slots(passed, (size_t)n_passed);
	if (srv.slots == NULL) {
		sys_close(metrics_fd);
		return -1;
	}
	srv.n_slots = n_slots;
	/* Bound, or taken over, with the listeners: before anything runs. */
	if (metrics_http_prepare(cfg, metrics_fd, err, errlen) < 0)
		return -1;
	metrics_fd = -1;
	log_fresh_slots();
	for (size_t i = 0; i < srv.n_slots; i++) {
		if (srv.slots[i].activated)
			log_listening(&cfg->listeners[srv.slots[i].index], srv.slots[i].fd,
			    "passed by the service manager");
	}
	check_rlimits(cfg, srv.n_slots);
	if (rates_in_force(cfg) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (quotas_in_force(cfg, err, errlen) < 0)
		return -1;
	/* Signals are blocked already: the endpoint's thread inherits that. */
	if (opsmetrics_register() < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	metrics_configure(cfg);
	metrics_http_commit();

	sigemptyset(&handled);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	/*
	 * Test-only faults: SIGUSR2 hangs the accept loop (watchdog test);
	 * connection threads linger after they end (see conn_main).
	 */
	srv.fault_hooks = getenv("TCPXD_TEST_FAULTS") != NULL;
	if (srv.fault_hooks)
		sigaddset(&handled, SIGUSR2);
	if ((srv.sig_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    (srv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, errlen, "signalfd/eventfd: %s", strerror(errno));
		return -1;
	}
	conn_init(srv.wake_fd, srv.fault_hooks);
	if (drain_start() < 0) {
		snprintf(err, errlen, "cannot start the drain thread: %s", strerror(errno));
		return -1;
	}
	if (park_init() < 0) {
		snprintf(err, errlen, "cannot start the waiting room: %s", strerror(errno));
		return -1;
	}
	if (receive_init() < 0) {
		snprintf(err, errlen, "OpenSSL has no SHA-256 implementation");
		return -1;
	}
	/* Test-only: hook marks as record files, as where the file system has no user xattrs. */
	store_no_xattr(getenv("TCPXD_TEST_NO_XATTR") != NULL);
	if (hook_start() < 0 || retention_start() < 0) {
		snprintf(err, errlen, "cannot start the hook and retention threads: %s", strerror(errno));
		return -1;
	}
	/* Files whose hook had not finished when the last run ended are queued again. */
	hook_configure(cfg);
	retention_configure(cfg);
	srv.watchdog_ms = notify_watchdog_interval_ms();
	return 0;
}

/*
 * A listener whose socket a reload does not keep: removed, or moved to
 * another address under the same name, which the operator should read as
 * such ("closed" alone reads like a lost listener).
 */
static void
log_closed(const struct slot *old, const struct config *old_cfg, const struct slot *slots,
    size_t n_slots, const struct config *cfg)
{
	const char *name = old_cfg->listeners[old->index].name;
	char from[INET6_ADDRSTRLEN + 16], to[INET6_ADDRSTRLEN + 16];

	for (size_t i = 0; i < n_slots; i++) {
		if (strcmp(cfg->listeners[slots[i].index].name, name) != 0)
			continue;
		listener_describe(old->fd, from, sizeof(from));
		listener_describe(slots[i].fd, to, sizeof(to));
		log_info("listener %s moved from %s to %s", name, from, to);
		return;
	}
	log_info("listener %s closed", name);
}

/* After a failed reload: the quotas of the configuration in force again. */
static void
restore_quotas(void)
{
	char err[1024], text[LOG_TEXT_MAX(sizeof(err))];

	if (quotas_in_force(srv.gen->cfg, err, sizeof(err)) < 0)
		log_errx("quotas: %s", log_text(text, sizeof(text), err));
}

/*
 * All or nothing: every step that can fail (the file, the generation's
 * directories and certificates, the scans of directories new to a quota,
 * binding new sockets) comes before anything else in force changes, and
 * only the quotas' limits are touched by them, put back on failure, so a
 * failed reload leaves the daemon exactly as it was.
 */
static void
reload(void)
{
	struct config *cfg;
	struct gen *g, *old;
	struct slot *slots;
	size_t n_slots;
	char err[1024], text[LOG_TEXT_MAX(sizeof(err))];

	notify_reloading();
	log_info("reloading %s", log_text(text, sizeof(text), srv.gen->cfg->path));
	if (cfg_load(srv.gen->cfg->path, &cfg, err, sizeof(err)) < 0 ||
	    (g = gen_create(cfg, err, sizeof(err))) == NULL) {
		log_errx("reload failed: %s; keeping the current configuration",
		    log_text(text, sizeof(text), err));
		metrics_reload(false);
		notify_ready();
		return;
	}
	/*
	 * Usage is kept by identity name: only directories new to a quota are
	 * scanned.  The metrics endpoint before the listeners: open_slots()
	 * hands kept sockets over, so nothing may fail after it.
	 */
	if (quotas_in_force(g->cfg, err, sizeof(err)) < 0 ||
	    metrics_http_prepare(g->cfg, -1, err, sizeof(err)) < 0 ||
	    (slots = open_slots(g, srv.slots, srv.n_slots, srv.gen->cfg, &n_slots, err,
	    sizeof(err))) == NULL) {
		log_errx("reload failed: %s; keeping the current configuration",
		    log_text(text, sizeof(text), err));
		metrics_http_abort();
		metrics_reload(false);
		restore_quotas();
		gen_unref(g);
		notify_ready();
		return;
	}
	for (size_t j = 0; j < srv.n_slots; j++) {
		if (srv.slots[j].fd >= 0)
			log_closed(&srv.slots[j], srv.gen->cfg, slots, n_slots, g->cfg);
	}
	close_slots(srv.slots, srv.n_slots);
	srv.slots = slots;
	srv.n_slots = n_slots;
	old = srv.gen;
	srv.gen = g;
	gen_unref(old);         /* connections in flight keep their own reference */
	log_set_level(g->cfg->log_level);
	log_set_format(g->cfg->log_format);
	hook_configure(g->cfg);
	retention_configure(g->cfg);
	if (rates_in_force(g->cfg) < 0)
		log_errx("reload: out of memory: max_rate stays as it was");
	log_fresh_slots();
	metrics_http_commit();
	metrics_configure(g->cfg);
	metrics_reload(true);
	check_rlimits(g->cfg, srv.n_slots);
	log_info("reloaded: %zu listeners", g->cfg->n_listeners);
	notify_ready();
}

/* err: why accept4() failed, or 0 when the descriptor budget said no before it. */
static void
pause_accepting(int err)
{
	if (!srv.fd_exhausted && err == 0) {
		log_warnx("accept: the descriptor budget for admitted connections is spent "
		    "(max_connections, RLIMIT_NOFILE), pausing listeners until a connection ends");
	} else if (!srv.fd_exhausted) {
		errno = err;
		log_warn("accept: out of descriptors or memory, pausing listeners until a connection ends");
	}
	srv.fd_exhausted = true;
	srv.paused_until = sys_now_ms() + FD_BACKOFF_MS;
	conn_want_wakeup(true);
}

static void
resume_accepting(void)
{
	srv.paused_until = 0;
	conn_want_wakeup(false);
}

static void
accept_burst(const struct slot *s)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (!conn_fd_room(srv.gen)) {
			pause_accepting(0);     /* check_rlimits: the budget is spent */
			return;
		}
		fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
				return;
			case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
				pause_accepting(errno);
				return;
			default:
				/* ECONNABORTED, EINTR, EPROTO, network errors: that client only. */
				continue;
			}
		}
		if (srv.fd_exhausted) {
			srv.fd_exhausted = false;
			log_debug("accept: descriptors available again");
		}
		conn_dispatch(fd, (struct sockaddr *)&ss, srv.gen, s->index);
	}
}

static void
drain_eventfd(void)
{
	uint64_t v;

	if (read(srv.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd");
}

/* Returns the signal number read from the signalfd, or 0. */
static int
next_signal(void)
{
	struct signalfd_siginfo si;
	ssize_t n = read(srv.sig_fd, &si, sizeof(si));

	return n == (ssize_t)sizeof(si) ? (int)si.ssi_signo : 0;
}

/* Periodic work; STATUS= at most once a tick, never per connection. */
static void
tick(long long now)
{
	if (now >= srv.next_status) {
		notify_status(conn_active());
		srv.next_status = now + TICK_MS;
	}
	if (srv.watchdog_ms > 0 && now >= srv.next_watchdog) {
		notify_watchdog();
		srv.next_watchdog = now + srv.watchdog_ms;
	}
}

/*
 * Waits until no connection is active (busy_only: none but parked ones) or
 * deadline; false if a second signal says stop now.
 */
static bool
wait_idle(long long deadline, bool busy_only)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = srv.sig_fd, .events = POLLIN },
			{ .fd = srv.wake_fd, .events = POLLIN },
		};
		long long now = sys_now_ms();

		if (conn_active() <= (busy_only ? park_count() : 0))
			return true;
		if (now >= deadline)
			return true;
		tick(now);
		if (poll(pfd, 2, (int)(deadline - now < TICK_MS ? deadline - now : TICK_MS)) < 0 &&
		    errno != EINTR)
			return true;
		if (pfd[1].revents & POLLIN)
			drain_eventfd();
		if (pfd[0].revents & POLLIN) {
			int sig = next_signal();

			if (sig == SIGTERM || sig == SIGINT)
				return false;
		}
	}
}

static int
graceful_stop(int sig)
{
	unsigned timeout = srv.gen->cfg->shutdown_timeout;
	long long deadline = sys_now_ms() + (long long)timeout * 1000;
	unsigned active;

	notify_stopping();
	close_slots(srv.slots, srv.n_slots);
	srv.slots = NULL;
	srv.n_slots = 0;
	active = conn_active();
	log_info("%s: stopping; %u connections in flight, waiting up to %u s", strsignal(sig),
	    active, timeout);
	conn_want_wakeup(true);
	/*
	 * A parked connection sits at a message boundary with nothing in flight:
	 * it is ended with the others below rather than waited for, so that a
	 * keep-alive client does not use up the hooks' share of shutdown_timeout.
	 */
	if (!wait_idle(deadline, true)) {
		log_info("second signal: not waiting any longer");
		deadline = 0;
	}
	if ((active = conn_active()) > 0) {
		log_warnx("aborting %u unfinished connections", active);
		conn_abort_all();
		wait_idle(sys_now_ms() + ABORT_GRACE_MS, false);
	}
	active = conn_active();
	if (active > 0) {
		/* Threads still stuck in I/O must not race exit-time cleanup: leave now. */
		log_warnx("stopped with %u connections still unwinding", active);
		_exit(0);
	}
	/* Hooks get what is left of shutdown_timeout; the unfinished run after the next start. */
	hook_stop(deadline);
	retention_stop();
	log_info("stopped");
	conn_want_wakeup(false);
	park_fini();
	metrics_http_stop();
	drain_stop();
	gen_unref(srv.gen);
	srv.gen = NULL;
	conn_fini();
	quota_fini();
	count_fini();
	rate_fini();
	receive_fini();
	metrics_fini();
	sys_close(srv.sig_fd);
	sys_close(srv.wake_fd);
	return 0;
}

int
server_run(void)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int sig = 0;

	notify_ready();
	log_info("ready: %zu listeners, max_connections %u", srv.gen->cfg->n_listeners,
	    srv.gen->cfg->max_connections);
	for (;;) {
		long long now = sys_now_ms();
		int timeout = TICK_MS;
		size_t n = 2;
		bool paused = srv.paused_until != 0;

		if (pfd == NULL || cap < srv.n_slots + 2) {
			struct pollfd *p = realloc(pfd, (srv.n_slots + 2) * sizeof(*pfd));

			if (p == NULL)
				fatal("poll set");
			pfd = p;
			cap = srv.n_slots + 2;
		}
		pfd[0] = (struct pollfd){ .fd = srv.sig_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = srv.wake_fd, .events = POLLIN };
		if (paused) {
			if (now >= srv.paused_until)
				resume_accepting();
			else if (srv.paused_until - now < timeout)
				timeout = (int)(srv.paused_until - now);
		}
		if (srv.paused_until == 0) {
			for (size_t i = 0; i < srv.n_slots; i++)
				pfd[n++] = (struct pollfd){ .fd = srv.slots[i].fd, .events = POLLIN };
		}
		if (srv.watchdog_ms > 0 && srv.next_watchdog - now < timeout)
			timeout = srv.next_watchdog > now ? (int)(srv.next_watchdog - now) : 0;

		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			fatal("poll");
		if (pfd[1].revents & POLLIN) {
			drain_eventfd();
			if (srv.paused_until != 0)
				resume_accepting();     /* a connection ended: descriptors are free */
		}
		for (size_t i = 2; i < n; i++) {
			if (pfd[i].revents & POLLIN)
				accept_burst(&srv.slots[i - 2]);
		}
		if (pfd[0].revents & POLLIN) {
			sig = next_signal();
			if (sig == SIGHUP) {
				reload();
			} else if (sig == SIGUSR2 && srv.fault_hooks) {
				log_warnx("TCPXD_TEST_FAULTS: SIGUSR2 received, hanging the accept loop");
				for (;;)
					pause();
			} else if (sig == SIGTERM || sig == SIGINT) {
				break;
			}
		}
		tick(sys_now_ms());
	}
	free(pfd);
	return graceful_stop(sig);
}
