#include "unit.h"
START_TEST(test_placeholder_addr) { ck_assert_int_eq(1, 1); }
END_TEST
Suite *addr_suite(void) { Suite *s = suite_create("addr"); TCase *tc = tcase_create("core"); tcase_add_test(tc, test_placeholder_addr); suite_add_tcase(s, tc); return s; }
