/* SPDX-License-Identifier: ISC */
/*
 * test_metrics.c - the Prometheus exposition metrics_render() writes:
 * label values escaped (a listener name with quotes, backslashes and a
 * newline), counters and histograms by listener and result, a counter
 * added through the extension point, and every HELP and TYPE line once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "unit.h"

/* The whole exposition as a string (the caller frees it). */
static char *
render(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(metrics_render(fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	return text;
}

static char *
label(const char *value)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	metrics_label_value(fp, value);
	ck_assert_int_eq(fclose(fp), 0);
	return text;
}

START_TEST(test_metrics_label_escaping)
{
	char *t = label("a\"b\\c\nd");

	ck_assert_str_eq(t, "a\\\"b\\\\c\\nd");
	free(t);
	t = label("plain-name_1.x");
	ck_assert_str_eq(t, "plain-name_1.x");
	free(t);
	t = label("");
	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

START_TEST(test_metrics_render_listener)
{
	struct metrics_listener *m = metrics_listener("in\"x\\y\nz");
	char *t;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_eq(metrics_listener("in\"x\\y\nz"), m);
	metrics_conn_open(m);
	metrics_conn_open(m);
	metrics_conn_closed(m, "ok");
	metrics_conn_refused(m, "refused-busy");
	metrics_bytes_in(m, 1000);
	metrics_bytes_out(m, 37);
	metrics_upload(m, "alice", "ok", true, 2000, 250);
	metrics_upload(m, NULL, "refused-disk-full", false, 0, 3);
	t = render();
	/* The raw name never appears: its newline would split the sample line. */
	ck_assert_ptr_null(strstr(t, "in\"x"));
#define L "listener=\"in\\\"x\\\\y\\nz\""
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_connections_open{" L "} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_connections_total{" L ",result=\"ok\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_connections_total{" L ",result=\"refused-busy\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_received_bytes_total{" L "} 1000\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_sent_bytes_total{" L "} 37\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_uploads_total{" L ",result=\"ok\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "\ntcpxd_uploads_total{" L ",result=\"refused-disk-full\"} 1\n"));
	/* 2000 bytes: above 1024, within 16384; buckets are cumulative. */
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_size_bytes_bucket{" L ",le=\"1024\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_size_bytes_bucket{" L ",le=\"16384\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_size_bytes_bucket{" L ",le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_size_bytes_sum{" L "} 2000\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_size_bytes_count{" L "} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_duration_seconds_bucket{" L ",le=\"0.1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_duration_seconds_bucket{" L ",le=\"0.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_upload_duration_seconds_sum{" L "} 0.250\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_last_upload_timestamp_seconds{" L "} "));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_identity_uploads_total{identity=\"alice\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_identity_stored_bytes_total{identity=\"alice\"} 2000\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_identity_last_upload_timestamp_seconds{identity=\"alice\"} "));
#undef L
	free(t);
}
END_TEST

START_TEST(test_metrics_extension_counter)
{
	static const char *const labels[] = { "listener", "result" };
	static const char *const v1[] = { "in", "ok" }, *const v2[] = { "in", "fa\"il" };
	struct metrics_counter *c = metrics_counter_new("tcpxd_test_runs_total", "Runs \\ of a\ntest.",
	    labels, 2);
	char *t;

	ck_assert_ptr_nonnull(c);
	metrics_counter_add(c, v1, 2);
	metrics_counter_add(c, v2, 1);
	metrics_counter_add(c, v1, 3);
	t = render();
	ck_assert_ptr_nonnull(strstr(t, "\n# HELP tcpxd_test_runs_total Runs \\\\ of a\\ntest.\n"
	    "# TYPE tcpxd_test_runs_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_test_runs_total{listener=\"in\",result=\"ok\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "\ntcpxd_test_runs_total{listener=\"in\",result=\"fa\\\"il\"} 1\n"));
	free(t);
}
END_TEST

/* Every family has one HELP and one TYPE line, before its first sample. */
START_TEST(test_metrics_families_once)
{
	char *t, *line, *save = NULL;
	char seen[256][96];
	size_t n = 0;

	metrics_reload(false);
	t = render();
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_reloads_total{result=\"failure\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_last_reload_success 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "tcpxd_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
	for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (strncmp(line, "# TYPE ", 7) != 0)
			continue;
		ck_assert_int_eq(sscanf(line + 7, "%95s", name), 1);
		for (size_t i = 0; i < n; i++)
			ck_assert_str_ne(seen[i], name);
		ck_assert_uint_lt(n, 256);
		snprintf(seen[n++], sizeof(seen[0]), "%s", name);
	}
	ck_assert_uint_gt(n, 20);
	free(t);
	metrics_fini();
}
END_TEST

/*
 * The unit tests link with --wrap=statvfs: a configuration to put in force
 * from inside the scrape's statvfs(), as a SIGHUP does while a file system
 * hangs.  With conf.lock held there, that deadlocks (the case times out).
 */
int __real_statvfs(const char *path, struct statvfs *sv);
int __wrap_statvfs(const char *path, struct statvfs *sv);
static const struct config *reload_in_statvfs;
static unsigned statvfs_calls;

int
__wrap_statvfs(const char *path, struct statvfs *sv)
{
	const struct config *cfg = reload_in_statvfs;

	statvfs_calls++;
	reload_in_statvfs = NULL;
	if (cfg != NULL)
		metrics_configure(cfg);
	return __real_statvfs(path, sv);
}

START_TEST(test_metrics_statvfs_unlocked)
{
	struct listener_cfg l = { .name = (char *)"inbox", .mode = MODE_RECEIVE,
	    .output_dir = (char *)"/" };
	struct listener_cfg l2 = { .name = (char *)"other", .mode = MODE_RECEIVE,
	    .output_dir = (char *)"/" };
	struct config cfg = { .listeners = &l, .n_listeners = 1, .max_connections = 10 };
	struct config next = { .listeners = &l2, .n_listeners = 1, .max_connections = 10 };
	char *t;

	metrics_configure(&cfg);
	reload_in_statvfs = &next;
	statvfs_calls = 0;
	t = render();
	ck_assert_uint_eq(statvfs_calls, 1);
	/* The scrape shows the directories it looked at, the reload is in force after. */
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_output_dir_free_bytes{listener=\"inbox\"} "));
	free(t);
	t = render();
	ck_assert_ptr_nonnull(strstr(t, "\ntcpxd_output_dir_free_bytes{listener=\"other\"} "));
	ck_assert_ptr_null(strstr(t, "tcpxd_output_dir_free_bytes{listener=\"inbox\"}"));
	free(t);
	metrics_fini();
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("exposition");

	/* The registry is the process's: no case relies on what another left in it. */
	tcase_add_test(tc, test_metrics_label_escaping);
	tcase_add_test(tc, test_metrics_render_listener);
	tcase_add_test(tc, test_metrics_extension_counter);
	tcase_add_test(tc, test_metrics_families_once);
	tcase_add_test(tc, test_metrics_statvfs_unlocked);
	suite_add_tcase(s, tc);
	return s;
}
