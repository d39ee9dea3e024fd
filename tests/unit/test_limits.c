/* SPDX-License-Identifier: ISC */
/*
 * test_limits.c - max_rate buckets (ratelimit.h), named connection counts
 * (counts.h) and identity quotas (quota.h): exact reservations, the
 * start-up scan, stored files, and removals seen by the inotify watcher.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/counts.h"
#include "daemon/ratelimit.h"
#include "daemon/services/quota.h"
#include "unit.h"

#define NS 1000000000LL

START_TEST(rate_unlimited_never_waits)
{
	struct rate *r = rate_get(RATE_LISTENER, "unit-free");

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(rate_of(r), 0);
	ck_assert_int_eq(rate_charge(r, 1 << 30, 5 * NS), 5 * NS);
	ck_assert_uint_eq(rate_chunk(r, 65536), 65536);
	ck_assert_int_eq(rate_charge(NULL, 10, NS), NS);
}
END_TEST

START_TEST(rate_holds_the_rate)
{
	const char *names[] = { "unit-rate" };
	uint64_t rates[] = { 1000 };
	struct rate *r = rate_get(RATE_CLIENT, "unit-rate");
	long long now = 100 * NS, ready;

	ck_assert_int_eq(rate_configure(RATE_CLIENT, names, rates, 1), 0);
	ck_assert_uint_eq(rate_of(r), 1000);
	/* A read takes at most a burst's worth: 0.1 s of the rate. */
	ck_assert_uint_eq(rate_chunk(r, 65536), 100);
	/* The first 0.1 s of the rate passes at once ... */
	ck_assert_int_eq(rate_charge(r, 100, now), now);
	/* ... then every byte waits its turn: 100 more bytes are ready 0.1 s later. */
	ck_assert_int_eq(rate_charge(r, 100, now), now + NS / 10);
	ready = rate_charge(r, 1000, now);
	ck_assert_int_eq(ready, now + NS / 10 + NS);
	/* Shared: another connection charging the same bucket queues behind. */
	ck_assert_ptr_eq(rate_get(RATE_CLIENT, "unit-rate"), r);
	ck_assert_int_eq(rate_charge(r, 500, now), ready + NS / 2);
	/* A listener of the same name has its own bucket. */
	ck_assert_ptr_ne(rate_get(RATE_LISTENER, "unit-rate"), r);
	/* A configuration without it: unlimited again, the bucket kept. */
	ck_assert_int_eq(rate_configure(RATE_CLIENT, NULL, NULL, 0), 0);
	ck_assert_uint_eq(rate_of(r), 0);
	ck_assert_ptr_eq(rate_get(RATE_CLIENT, "unit-rate"), r);
}
END_TEST

START_TEST(rate_refills_only_up_to_the_burst)
{
	const char *names[] = { "unit-idle" };
	uint64_t rates[] = { 1 << 20 };
	struct rate *r = rate_get(RATE_LISTENER, "unit-idle");
	long long now = 10 * NS;

	ck_assert_int_eq(rate_configure(RATE_LISTENER, names, rates, 1), 0);
	ck_assert_int_eq(rate_charge(r, 1 << 20, now), now + NS - NS / 10);
	/* An hour of silence earns no more than the burst. */
	now += 3600 * NS;
	ck_assert_int_eq(rate_charge(r, 2 << 20, now), now + 2 * NS - NS / 10);
	ck_assert_int_eq(rate_configure(RATE_LISTENER, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(counts_limit_by_name)
{
	struct count *a, *b, *c;

	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 2, &a), COUNT_OK);
	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 2, &b), COUNT_OK);
	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 2, &c), COUNT_FULL);
	ck_assert_ptr_null(c);
	/* Another kind or name is another count; 0 counts without a limit. */
	ck_assert_int_eq(count_take(COUNT_LISTENER, "unit-c", 1, &c), COUNT_OK);
	count_put(c);
	ck_assert_uint_eq(count_now(COUNT_CLIENT, "unit-c"), 2);
	/* A limit raised by a reload counts the slots held. */
	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 3, &c), COUNT_OK);
	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 3, &c), COUNT_FULL);
	count_put(a);
	count_put(b);
	ck_assert_int_eq(count_take(COUNT_CLIENT, "unit-c", 0, &a), COUNT_OK);
	count_put(a);
	count_put(NULL);
	ck_assert_uint_eq(count_now(COUNT_CLIENT, "unit-c"), 1);
}
END_TEST

static char qdir[PATH_MAX];

static void
write_file(const char *name, size_t size)
{
	char path[PATH_MAX * 2], *buf = calloc(1, size + 1);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", qdir, name);
	ck_assert_ptr_nonnull(buf);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static void
remove_file(const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", qdir, name);
	ck_assert_int_eq(unlink(path), 0);
}

/* The usage once the watcher has caught up (it runs on its own thread). */
static void
wait_usage(uint64_t bytes, uint64_t files)
{
	uint64_t b = 0, f = 0;

	for (int i = 0; i < 2000; i++) {
		ck_assert(quota_usage("unit-q", &b, &f));
		if (b == bytes && f == files)
			return;
		usleep(5000);
	}
	ck_abort_msg("usage %llu bytes %llu files, expected %llu %llu", (unsigned long long)b,
	    (unsigned long long)f, (unsigned long long)bytes, (unsigned long long)files);
}

static void
quota_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(qdir, sizeof(qdir), "%s/tcpxd-unit-quota.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(qdir));
}

static void
quota_teardown(void)
{
	char cmd[PATH_MAX + 16];

	quota_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(quota_exact)
{
	const char *dirs[] = { qdir };
	struct quota_spec spec = { "unit-q", 100, 4, dirs, 1 };
	struct quota_hold a, b, c;
	struct quota *q;
	char err[256];

	/* What is there at start-up counts; hidden names (temporaries) do not. */
	write_file("old", 30);
	write_file(".hidden", 50);
	ck_assert_int_eq(quota_configure(&spec, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(quota_watch_start(), 0);
	ck_assert_ptr_null(quota_find("unit-other"));
	ck_assert_ptr_nonnull(q = quota_find("unit-q"));
	wait_usage(30, 1);
	/* A declared size is reserved before the data: 70 fit exactly, 71 do not. */
	ck_assert_int_eq(quota_begin(q, &a, 71), -1);
	ck_assert_ptr_null(a.q);
	ck_assert_int_eq(quota_begin(q, &a, 70), 0);
	wait_usage(100, 2);
	ck_assert_int_eq(quota_begin(q, &b, 1), -1);
	/* Nothing declared (raw): the file fits, its bytes are charged as they come. */
	ck_assert_int_eq(quota_begin(q, &b, 0), 0);
	ck_assert_int_eq(quota_grow(&b, 1), -1);
	quota_release(&a);
	ck_assert_int_eq(quota_grow(&b, 70), 0);
	ck_assert_int_eq(quota_grow(&b, 71), -1);
	write_file("new", 70);         /* as the store links it, before the commit */
	quota_commit(&b, qdir, "new");
	wait_usage(100, 2);
	/* A collector removes a file: the watcher gives its bytes back. */
	remove_file("old");
	wait_usage(70, 1);
	ck_assert_int_eq(quota_begin(q, &c, 30), 0);
	quota_release(&c);
	/* A file a collector took before its upload was counted is never counted. */
	ck_assert_int_eq(quota_begin(q, &c, 5), 0);
	quota_commit(&c, qdir, "taken-at-once");
	ck_assert_ptr_null(c.q);
	wait_usage(70, 1);
	/* A file moved in counts, one moved out does not. */
	write_file(".incoming", 10);
	{
		char from[PATH_MAX * 2], to[PATH_MAX * 2];

		snprintf(from, sizeof(from), "%s/.incoming", qdir);
		snprintf(to, sizeof(to), "%s/moved", qdir);
		ck_assert_int_eq(rename(from, to), 0);
	}
	wait_usage(80, 2);
	/* quota_files: 4 files at most. */
	ck_assert_int_eq(quota_begin(q, &a, 0), 0);
	ck_assert_int_eq(quota_begin(q, &b, 0), 0);
	ck_assert_int_eq(quota_begin(q, &c, 0), -1);
	quota_release(&a);
	quota_release(&b);
	/* A rescan finds what the table says. */
	ck_assert_int_eq(quota_rescan(qdir), 0);
	wait_usage(80, 2);
	/* No quota any more: not limited, the usage not kept. */
	ck_assert_int_eq(quota_configure(NULL, 0, err, sizeof(err)), 0);
	ck_assert_ptr_null(quota_find("unit-q"));
}
END_TEST

START_TEST(quota_reload_keeps_reservations)
{
	const char *dirs[] = { qdir };
	struct quota_spec spec = { "unit-q", 100, 0, dirs, 1 };
	struct quota_hold a;
	struct quota *q;
	char err[256];

	ck_assert_int_eq(quota_configure(&spec, 1, err, sizeof(err)), 0);
	q = quota_find("unit-q");
	ck_assert_int_eq(quota_begin(q, &a, 60), 0);
	/* A reload lowers the quota: what is in flight still counts, exactly. */
	spec.max_bytes = 80;
	ck_assert_int_eq(quota_configure(&spec, 1, err, sizeof(err)), 0);
	ck_assert_ptr_eq(quota_find("unit-q"), q);
	wait_usage(60, 1);
	ck_assert_int_eq(quota_grow(&a, 81), -1);
	ck_assert_int_eq(quota_grow(&a, 80), 0);
	write_file("f", 80);
	quota_commit(&a, qdir, "f");
	wait_usage(80, 1);
}
END_TEST

Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("rate");
	TCase *tq = tcase_create("quota");

	tcase_add_test(tc, rate_unlimited_never_waits);
	tcase_add_test(tc, rate_holds_the_rate);
	tcase_add_test(tc, rate_refills_only_up_to_the_burst);
	tcase_add_test(tc, counts_limit_by_name);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tq, quota_setup, quota_teardown);
	tcase_add_test(tq, quota_exact);
	tcase_add_test(tq, quota_reload_keeps_reservations);
	suite_add_tcase(s, tq);
	return s;
}
