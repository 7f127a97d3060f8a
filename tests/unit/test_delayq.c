/* Unit tests of the node's delay queue (src/node/delayq.c). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/delayq.h"

static void
test_empty(void **state)
{
	struct delayq *q = delayq_new(0);
	uint64_t t;

	assert_non_null(q);
	assert_int_equal(delayq_len(q), 0);
	assert_int_equal(delayq_next(q, &t), DELAYQ_ERR_EMPTY);
	assert_null(delayq_pop_due(q, UINT64_MAX));
	delayq_free(q, NULL);
}

static void
test_order_and_due(void **state)
{
	struct delayq *q = delayq_new(0);
	int items[5];
	uint64_t times[5] = { 50, 10, 40, 20, 30 };
	uint64_t t;

	for (int i = 0; i < 5; i++)
		assert_int_equal(delayq_push(q, times[i], &items[i]), DELAYQ_OK);
	assert_int_equal(delayq_next(q, &t), DELAYQ_OK);
	assert_int_equal(t, 10);
	/* Nothing is due before its release time. */
	assert_null(delayq_pop_due(q, 9));
	assert_ptr_equal(delayq_pop_due(q, 25), &items[1]);
	assert_ptr_equal(delayq_pop_due(q, 25), &items[3]);
	assert_null(delayq_pop_due(q, 25));
	assert_int_equal(delayq_next(q, &t), DELAYQ_OK);
	assert_int_equal(t, 30);
	assert_ptr_equal(delayq_pop_due(q, 100), &items[4]);
	assert_ptr_equal(delayq_pop_due(q, 100), &items[2]);
	assert_ptr_equal(delayq_pop_due(q, 100), &items[0]);
	assert_null(delayq_pop_due(q, 100));
	delayq_free(q, NULL);
}

/* Equal release times leave in arrival order. */
static void
test_fifo_ties(void **state)
{
	enum { N = 1000 };
	struct delayq *q = delayq_new(0);
	static int items[N];

	for (int i = 0; i < N; i++)
		assert_int_equal(delayq_push(q, 7, &items[i]), DELAYQ_OK);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(delayq_pop_due(q, 7), &items[i]);
	delayq_free(q, NULL);
}

static void
test_bound(void **state)
{
	struct delayq *q = delayq_new(3);
	int a;

	assert_int_equal(delayq_push(q, 1, &a), DELAYQ_OK);
	assert_int_equal(delayq_push(q, 2, &a), DELAYQ_OK);
	assert_int_equal(delayq_push(q, 3, &a), DELAYQ_OK);
	assert_int_equal(delayq_push(q, 0, &a), DELAYQ_ERR_FULL);
	assert_int_equal(delayq_len(q), 3);
	assert_non_null(delayq_pop_due(q, 1));
	assert_int_equal(delayq_push(q, 0, &a), DELAYQ_OK);
	delayq_free(q, NULL);
}

static int freed;

static void
count_free(void *p)
{
	freed++;
	free(p);
}

static void
test_free_items(void **state)
{
	struct delayq *q = delayq_new(0);

	freed = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(delayq_push(q, (uint64_t)(i * 7919 % 101),
		    malloc(16)), DELAYQ_OK);
	delayq_free(q, count_free);
	assert_int_equal(freed, 100);
}

/*
 * Random pushes and pops interleaved, checked against the definition:
 * every pop returns an item with the smallest (time, arrival) pair.
 */
struct rec {
	uint64_t	t;
	uint64_t	seq;
};

static void
test_random_heap(void **state)
{
	enum { N = 50000 };
	struct delayq *q = delayq_new(0);
	struct rec *recs = calloc(N, sizeof(*recs));
	uint64_t now = 0, seed = 12345, seq = 0, last_t = 0, last_seq = 0;
	size_t pushed = 0, popped = 0;
	int first = 1;

	assert_non_null(recs);
	while (popped < N) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		if (pushed < N && (seed >> 60) < 10) {
			recs[pushed].t = now + ((seed >> 20) % 1000);
			recs[pushed].seq = seq++;
			assert_int_equal(delayq_push(q, recs[pushed].t,
			    &recs[pushed]), DELAYQ_OK);
			pushed++;
			continue;
		}
		struct rec *r = delayq_pop_due(q, now);
		if (r == NULL) {
			now += 3;
			first = 1;
			continue;
		}
		assert_true(r->t <= now);
		/* Within one drain, pops are non-decreasing. */
		if (!first)
			assert_true(r->t > last_t ||
			    (r->t == last_t && r->seq > last_seq));
		uint64_t next;
		if (delayq_next(q, &next) == DELAYQ_OK)
			assert_true(next >= r->t);
		last_t = r->t;
		last_seq = r->seq;
		first = 0;
		popped++;
	}
	assert_int_equal(delayq_len(q), 0);
	assert_true(delayq_memory(q) >= sizeof(void *));
	delayq_free(q, NULL);
	free(recs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_order_and_due),
		cmocka_unit_test(test_fifo_ties),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_free_items),
		cmocka_unit_test(test_random_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
