/* SPDX-License-Identifier: ISC */
/*
 * test_park.c - the waiting room's deadline heap (deadline.h): entries
 * come out earliest first, and one taken out from anywhere leaves the
 * rest in order.
 */
#include <stdlib.h>

#include "daemon/deadline.h"
#include "unit.h"

#define N 1000

/* Pops everything, checking the order; returns how many came out. */
static size_t
drain_in_order(struct deadlines *h)
{
	long long last = -1;
	size_t n = 0;
	struct deadline_entry *e;

	while ((e = deadlines_top(h)) != NULL) {
		ck_assert_int_ge(e->at, last);
		ck_assert_uint_eq(e->index, 0);
		last = e->at;
		deadlines_remove(h, e);
		n++;
	}
	return n;
}

START_TEST(heap_orders)
{
	struct deadlines h = { 0 };
	static struct deadline_entry e[N];

	ck_assert_ptr_null(deadlines_top(&h));
	srand(7);
	for (size_t i = 0; i < N; i++) {
		e[i].at = rand() % 500;         /* many equal deadlines too */
		ck_assert_int_eq(deadlines_push(&h, &e[i]), 0);
	}
	ck_assert_uint_eq(h.n, N);
	ck_assert_uint_eq(drain_in_order(&h), N);
	deadlines_free(&h);
}
END_TEST

START_TEST(heap_removes_from_anywhere)
{
	struct deadlines h = { 0 };
	static struct deadline_entry e[N];
	size_t left = N;

	srand(11);
	for (size_t i = 0; i < N; i++) {
		e[i].at = rand() % 100000;
		ck_assert_int_eq(deadlines_push(&h, &e[i]), 0);
	}
	/* A connection that wakes early leaves from the middle, the last place, or the top. */
	for (size_t i = 0; i < N; i += 3, left--)
		deadlines_remove(&h, &e[i]);
	ck_assert_uint_eq(h.n, left);
	for (size_t i = 0; i < h.n; i++)
		ck_assert_ptr_eq(h.v[h.v[i]->index], h.v[i]);
	ck_assert_uint_eq(drain_in_order(&h), left);
	deadlines_free(&h);
}
END_TEST

START_TEST(heap_last_and_only)
{
	struct deadlines h = { 0 };
	struct deadline_entry a = { .at = 5 }, b = { .at = 3 }, c = { .at = 9 };

	ck_assert_int_eq(deadlines_push(&h, &a), 0);
	deadlines_remove(&h, &a);
	ck_assert_ptr_null(deadlines_top(&h));
	ck_assert_int_eq(deadlines_push(&h, &a), 0);
	ck_assert_int_eq(deadlines_push(&h, &b), 0);
	ck_assert_int_eq(deadlines_push(&h, &c), 0);
	ck_assert_ptr_eq(deadlines_top(&h), &b);
	deadlines_remove(&h, &c);       /* the last place: nothing moves */
	deadlines_remove(&h, &b);
	ck_assert_ptr_eq(deadlines_top(&h), &a);
	deadlines_remove(&h, &a);
	ck_assert_uint_eq(h.n, 0);
	deadlines_free(&h);
}
END_TEST

Suite *
park_suite(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("deadlines");

	tcase_add_test(tc, heap_orders);
	tcase_add_test(tc, heap_removes_from_anywhere);
	tcase_add_test(tc, heap_last_and_only);
	suite_add_tcase(s, tc);
	return s;
}
