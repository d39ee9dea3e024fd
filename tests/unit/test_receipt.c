#include "unit.h"
START_TEST(test_placeholder_receipt) { ck_assert_int_eq(1, 1); }
END_TEST
Suite *receipt_suite(void) { Suite *s = suite_create("receipt"); TCase *tc = tcase_create("core"); tcase_add_test(tc, test_placeholder_receipt); suite_add_tcase(s, tc); return s; }
