/* SPDX-License-Identifier: ISC */
/* unit.h - the Check suites of the unit test binary. */
#ifndef TCPXD_UNIT_H
#define TCPXD_UNIT_H

#include <check.h>

Suite *size_suite(void);
Suite *addr_suite(void);
Suite *config_suite(void);
Suite *receipt_suite(void);
Suite *store_suite(void);
Suite *frame_suite(void);
Suite *hostport_suite(void);
Suite *proxy_suite(void);
Suite *log_suite(void);
Suite *logrec_suite(void);
Suite *nvt_suite(void);
Suite *limits_suite(void);
Suite *auth_suite(void);
Suite *metrics_suite(void);

#endif
