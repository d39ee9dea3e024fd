/* SPDX-License-Identifier: ISC */
/* unit_main.c - runs every Check suite of the daemon's pure functions. */
#include <stdlib.h>

#include "unit.h"

int
main(void)
{
	SRunner *sr = srunner_create(size_suite());
	int failed;

	srunner_add_suite(sr, addr_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, receipt_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, frame_suite());
	srunner_add_suite(sr, hostport_suite());
	srunner_add_suite(sr, proxy_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, logrec_suite());
	srunner_add_suite(sr, nvt_suite());
	srunner_add_suite(sr, limits_suite());
	srunner_add_suite(sr, auth_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
