#include "unit.h"
START_TEST(test_placeholder_store) { ck_assert_int_eq(1, 1); }
END_TEST
Suite *store_suite(void) { Suite *s = suite_create("store"); TCase *tc = tcase_create("core"); tcase_add_test(tc, test_placeholder_store); suite_add_tcase(s, tc); return s; }
