#include "unit.h"
START_TEST(test_placeholder_size) { ck_assert_int_eq(1, 1); }
END_TEST
Suite *size_suite(void) { Suite *s = suite_create("size"); TCase *tc = tcase_create("core"); tcase_add_test(tc, test_placeholder_size); suite_add_tcase(s, tc); return s; }
