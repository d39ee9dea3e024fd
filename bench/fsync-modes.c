/* SPDX-License-Identifier: ISC */
/* fsync-modes - how fast can small files be made durable in one directory?
 * No network: T writer threads each create files of B bytes (default 16
 * threads, 4 KiB) in one directory as fast as they are acknowledged, with
 * each of these schemes:
 *
 *   a  per-file    fsync(file), linkat, fsync(dir): what tcpxd does for
 *                  every upload
 *   b  group       writers fsync their files concurrently, then queue them;
 *                  one committer links every queued file and covers the
 *                  batch with a single fsync(dir), then acknowledges it
 *   c  group-uring as b, but the writers only write: the committer sends
 *                  the file flushes through io_uring (IORING_OP_FSYNC, all
 *                  queued files in flight at once) and the dir fsync too,
 *                  linking each file once its flush is done while the
 *                  previous batch's dir fsync is still in flight
 *                  (only with liburing)
 *   d  no-dirsync  fsync(file), linkat, no fsync(dir): an upper bound,
 *                  NOT durable (the name can be lost in a crash)
 *   e  syncfs      writers only write; the committer links the batch and
 *                  calls syncfs() once for it
 *
 * A trial runs one scheme for --secs seconds in a fresh subdirectory; the
 * rounds alternate the schemes (a b c d e, a b c d e, ...) so that a change
 * in the machine's load or the disk's state touches all of them alike.
 * Printed per scheme: the median files/s over the rounds, its range, and
 * the median of the disk's flush requests per file (from the block
 * device's stat, field 16; 0 if the kernel does not count them).
 *
 *   fsync-modes [--dir DIR] [--threads T] [--bytes B] [--secs S]
 *               [--rounds R] [--modes abcde] [--keep]
 *
 * Files stay until the end (deleting them between trials would slow the
 * next trial's inode allocation on ext4, see docs/BENCHMARKS.md), then go
 * unless --keep.
 *
 * Build: cc -O2 -pthread -o fsync-modes fsync-modes.c [-DHAVE_LIBURING -luring]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#endif

#define MAX_THREADS 256
#define MAX_ROUNDS 64

struct item {
	int fd;
	char name[40];
	int done;
	struct item *next;
};

static int opt_threads = 16, opt_bytes = 4096, opt_rounds = 5, opt_keep;
static double opt_secs = 3;
static const char *opt_dir = "/var/tmp", *opt_modes = "abcde";

static int dirfd_;
static char mode;
static atomic_int stop, quit;
static atomic_long files;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER, acked = PTHREAD_COND_INITIALIZER;
static struct item *queue;
static char data[1 << 20];
#ifdef HAVE_LIBURING
static int efd = -1;
#endif

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void link_item(struct item *it)
{
	char proc[48];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", it->fd);
	if (linkat(AT_FDCWD, proc, dirfd_, it->name, AT_SYMLINK_FOLLOW) < 0)
		die("linkat");
}

/* Hands a written file to the committer and waits until it is durable. */
static void commit_queued(struct item *it)
{
	pthread_mutex_lock(&mu);
	it->done = 0;
	it->next = queue;
	queue = it;
	pthread_cond_signal(&queued);
	pthread_mutex_unlock(&mu);
#ifdef HAVE_LIBURING
	if (mode == 'c') {
		uint64_t one = 1;

		if (write(efd, &one, sizeof(one)) != sizeof(one))
			die("eventfd write");
	}
#endif
	pthread_mutex_lock(&mu);
	while (!it->done)
		pthread_cond_wait(&acked, &mu);
	pthread_mutex_unlock(&mu);
}

static void *writer(void *arg)
{
	int id = (int)(long)arg;
	struct item it;

	for (long seq = 0; !atomic_load(&stop); seq++) {
		it.fd = openat(dirfd_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
		if (it.fd < 0)
			die("O_TMPFILE");
		snprintf(it.name, sizeof(it.name), "f.%d.%ld", id, seq);
		if (write(it.fd, data + (seq * 4096 + id) % (sizeof(data) / 2), (size_t)opt_bytes) != opt_bytes)
			die("write");
		if ((mode == 'a' || mode == 'b' || mode == 'd') && fsync(it.fd) < 0)
			die("fsync(file)");
		if (mode == 'a' || mode == 'd') {
			link_item(&it);
			if (mode == 'a' && fsync(dirfd_) < 0)
				die("fsync(dir)");
		} else {
			commit_queued(&it);
		}
		close(it.fd);
		atomic_fetch_add(&files, 1);
	}
	return NULL;
}

static struct item *take_queue(int wait)
{
	struct item *b;

	pthread_mutex_lock(&mu);
	while (wait && queue == NULL && !atomic_load(&quit))
		pthread_cond_wait(&queued, &mu);
	b = queue;
	queue = NULL;
	pthread_mutex_unlock(&mu);
	return b;
}

static void ack(struct item *b)
{
	pthread_mutex_lock(&mu);
	for (; b != NULL; b = b->next)
		b->done = 1;
	pthread_cond_broadcast(&acked);
	pthread_mutex_unlock(&mu);
}

/* b and e: link what is queued, one flush for the whole batch, acknowledge. */
static void *committer(void *arg)
{
	(void)arg;
	for (;;) {
		struct item *b = take_queue(1);

		if (b == NULL)
			return NULL;    /* quit, and nothing left */
		for (struct item *i = b; i != NULL; i = i->next)
			link_item(i);
		if (mode == 'b' ? fsync(dirfd_) < 0 : syncfs(dirfd_) < 0)
			die("fsync(dir)/syncfs");
		ack(b);
	}
}

#ifdef HAVE_LIBURING
/*
 * c: one ring keeps every queued file's flush in flight at once, links each
 * file as its flush completes, and keeps one dir fsync in flight covering
 * all the files linked before it was submitted.  Writers wake the ring
 * through an eventfd polled in it.
 */
#define TAG_EVENT ((uint64_t)1)
#define TAG_DIR ((uint64_t)2)

static struct io_uring_sqe *sqe_of(struct io_uring *r)
{
	struct io_uring_sqe *s = io_uring_get_sqe(r);

	if (s == NULL) {
		io_uring_submit(r);
		s = io_uring_get_sqe(r);
		if (s == NULL)
			die("io_uring_get_sqe");
	}
	return s;
}

static void *committer_uring(void *arg)
{
	struct io_uring r;
	struct item *synced = NULL, *covering = NULL;
	int inflight = 0, dir_inflight = 0, poll_armed = 0, rc;

	(void)arg;
	if ((rc = io_uring_queue_init(2 * MAX_THREADS, &r, 0)) < 0) {
		errno = -rc;
		die("io_uring_queue_init");
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		for (struct item *b = take_queue(0), *n; b != NULL; b = n) {
			struct io_uring_sqe *s = sqe_of(&r);

			n = b->next;
			io_uring_prep_fsync(s, b->fd, 0);
			io_uring_sqe_set_data(s, b);
			inflight++;
		}
		if (!dir_inflight && synced != NULL) {
			struct io_uring_sqe *s = sqe_of(&r);

			for (struct item *i = synced; i != NULL; i = i->next)
				link_item(i);
			covering = synced;
			synced = NULL;
			io_uring_prep_fsync(s, dirfd_, 0);
			io_uring_sqe_set_data64(s, TAG_DIR);
			dir_inflight = 1;
		}
		if (!poll_armed) {
			struct io_uring_sqe *s = sqe_of(&r);

			io_uring_prep_poll_add(s, efd, POLLIN);
			io_uring_sqe_set_data64(s, TAG_EVENT);
			poll_armed = 1;
		}
		if (atomic_load(&quit) && !inflight && !dir_inflight && synced == NULL) {
			io_uring_queue_exit(&r);
			return NULL;
		}
		if ((rc = io_uring_submit_and_wait(&r, 1)) < 0 && rc != -EINTR) {
			errno = -rc;
			die("io_uring_submit_and_wait");
		}
		io_uring_for_each_cqe(&r, head, cqe) {
			uint64_t tag = io_uring_cqe_get_data64(cqe);

			seen++;
			if (tag == TAG_EVENT) {
				uint64_t v;

				poll_armed = 0;
				if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					die("eventfd read");
			} else if (cqe->res < 0) {
				errno = -cqe->res;
				die("io_uring fsync");
			} else if (tag == TAG_DIR) {
				dir_inflight = 0;
				ack(covering);
				covering = NULL;
			} else {
				struct item *it = io_uring_cqe_get_data(cqe);

				inflight--;
				it->next = synced;
				synced = it;
			}
		}
		io_uring_cq_advance(&r, seen);
	}
}
#endif

/* Flush requests the disk under dir has completed (field 16 of its stat). */
static unsigned long long flushes(void)
{
	struct stat sb;
	char path[96];
	unsigned long long f[17] = { 0 };
	FILE *fp;

	if (fstat(dirfd_, &sb) < 0)
		return 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", major(sb.st_dev), minor(sb.st_dev));
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	for (int i = 0; i < 17; i++)
		if (fscanf(fp, "%llu", &f[i]) != 1)
			break;
	fclose(fp);
	return f[15];
}

static void trial(int top, int round, char m, double *fps, double *fpf)
{
	char sub[64];
	pthread_t t[MAX_THREADS], c;
	int has_committer = m == 'b' || m == 'c' || m == 'e';
	unsigned long long f0, f1;
	double t0, t1;

	snprintf(sub, sizeof(sub), "r%d-%c", round, m);
	if (mkdirat(top, sub, 0755) < 0 || (dirfd_ = openat(top, sub, O_RDONLY | O_DIRECTORY)) < 0 ||
	    fsync(top) < 0)
		die(sub);
	mode = m;
	atomic_store(&stop, 0);
	atomic_store(&quit, 0);
	atomic_store(&files, 0);
	sync();
	f0 = flushes();
	t0 = now();
	if (has_committer &&
	    pthread_create(&c, NULL, m == 'c' ?
#ifdef HAVE_LIBURING
	    committer_uring
#else
	    committer
#endif
	    : committer, NULL) != 0)
		die("pthread_create");
	for (int i = 0; i < opt_threads; i++)
		if (pthread_create(&t[i], NULL, writer, (void *)(long)i) != 0)
			die("pthread_create");
	usleep((useconds_t)(opt_secs * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < opt_threads; i++)
		pthread_join(t[i], NULL);
	t1 = now();
	if (has_committer) {
		pthread_mutex_lock(&mu);
		atomic_store(&quit, 1);
		pthread_cond_signal(&queued);
		pthread_mutex_unlock(&mu);
#ifdef HAVE_LIBURING
		if (m == 'c') {
			uint64_t one = 1;

			if (write(efd, &one, sizeof(one)) != sizeof(one))
				die("eventfd write");
		}
#endif
		pthread_join(c, NULL);
	}
	f1 = flushes();
	*fps = (double)atomic_load(&files) / (t1 - t0);
	*fpf = (double)(f1 - f0) / (double)atomic_load(&files);
	printf("round %d %c files=%ld secs=%.2f files/s=%.0f flushes/file=%.2f\n", round, m,
	    atomic_load(&files), t1 - t0, *fps, *fpf);
	fflush(stdout);
	close(dirfd_);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *label(char m)
{
	switch (m) {
	case 'a': return "a per-file fsync(file)+link+fsync(dir)";
	case 'b': return "b group: file fsyncs concurrent, one fsync(dir) per batch";
	case 'c': return "c group-uring: file and dir fsyncs through io_uring";
	case 'd': return "d no fsync(dir) (upper bound, not durable)";
	default: return "e syncfs per batch";
	}
}

int main(int argc, char **argv)
{
	static double fps[5][MAX_ROUNDS], fpf[5][MAX_ROUNDS];
	char top_path[4096], modes[8];
	int top, nm = 0;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--keep")) {
			opt_keep = 1;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (!strcmp(o, "--dir"))
			opt_dir = v;
		else if (!strcmp(o, "--threads"))
			opt_threads = atoi(v);
		else if (!strcmp(o, "--bytes"))
			opt_bytes = atoi(v);
		else if (!strcmp(o, "--secs"))
			opt_secs = atof(v);
		else if (!strcmp(o, "--rounds"))
			opt_rounds = atoi(v);
		else if (!strcmp(o, "--modes"))
			opt_modes = v;
		else
			goto usage;
	}
	if (opt_threads < 1 || opt_threads > MAX_THREADS || opt_bytes < 1 ||
	    opt_bytes > (int)sizeof(data) / 2 || opt_rounds < 1 || opt_rounds > MAX_ROUNDS ||
	    opt_secs <= 0)
		goto usage;
	for (const char *m = opt_modes; *m; m++) {
		if (*m < 'a' || *m > 'e' || nm == 5)
			goto usage;
#ifndef HAVE_LIBURING
		if (*m == 'c') {
			fprintf(stderr, "fsync-modes: built without liburing: no scheme c\n");
			continue;
		}
#endif
		modes[nm++] = *m;
	}
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 131 + (i >> 12));
#ifdef HAVE_LIBURING
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		die("eventfd");
#endif
	snprintf(top_path, sizeof(top_path), "%s/fsync-modes.%d", opt_dir, (int)getpid());
	if (mkdir(top_path, 0755) < 0 || (top = open(top_path, O_RDONLY | O_DIRECTORY)) < 0)
		die(top_path);
	printf("fsync-modes: %d threads x %d-byte files in %s, %.1f s per trial, %d rounds of %.*s\n",
	    opt_threads, opt_bytes, top_path, opt_secs, opt_rounds, nm, modes);
	for (int r = 0; r < opt_rounds; r++)
		for (int k = 0; k < nm; k++)
			trial(top, r + 1, modes[k], &fps[k][r], &fpf[k][r]);
	/*
	 * Besides each scheme's own median, the median of its ratio to a in the
	 * same round: the load of a shared machine and the state of its disk
	 * change between rounds far more than within one.
	 */
	printf("\n| scheme | files/s, median (min-max) | / a, paired by round: median (min-max) | disk flushes per file |\n"
	    "|---|---:|---:|---:|\n");
	{
		const char *pa = memchr(modes, 'a', (size_t)nm);
		int ka = pa != NULL ? (int)(pa - modes) : -1;
		static double ratio[5][MAX_ROUNDS];

		/* All ratios first: median() sorts in place. */
		for (int k = 0; k < nm && ka >= 0; k++)
			for (int r = 0; r < opt_rounds; r++)
				ratio[k][r] = fps[k][r] / fps[ka][r];
		for (int k = 0; k < nm; k++) {
			double f = median(fps[k], opt_rounds);

			printf("| %s | %.0f (%.0f-%.0f) | ", label(modes[k]), f, fps[k][0],
			    fps[k][opt_rounds - 1]);
			if (ka >= 0) {
				f = median(ratio[k], opt_rounds);
				printf("%.2f (%.2f-%.2f)", f, ratio[k][0], ratio[k][opt_rounds - 1]);
			} else {
				printf("-");
			}
			printf(" | %.2f |\n", median(fpf[k], opt_rounds));
		}
	}
	if (!opt_keep) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top_path);
		if (system(cmd) != 0)
			fprintf(stderr, "fsync-modes: could not remove %s\n", top_path);
	}
	return 0;
usage:
	fprintf(stderr, "usage: fsync-modes [--dir DIR] [--threads T] [--bytes B] [--secs S] "
	    "[--rounds R] [--modes abcde] [--keep]\n");
	return 2;
}
