/*
 * rpcd's watchers of delivery status (rpcd/watch.c): every change held for
 * every watcher, in order; the owner told; beyond WATCH_MAX_HELD, a change
 * replaces its message's latest held, or else the oldest held goes.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpcd/queue.h"
#include "rpcd/watch.h"

static struct queue_status
change(unsigned msg, enum queue_state state, uint32_t acked)
{
	struct queue_status st;

	memset(&st, 0, sizeof(st));
	memcpy(st.msgid, &msg, sizeof(msg));
	st.state = state;
	st.packets = 3;
	st.acked = acked;
	return st;
}

static unsigned
msg_of(const struct queue_status *st)
{
	unsigned msg;

	memcpy(&msg, st->msgid, sizeof(msg));
	return msg;
}

static void
ready(void *arg)
{
	(*(int *)arg)++;
}

static void
test_every_change_in_order(void **state)
{
	struct watch_list *l = watch_list_new();
	int told_a = 0, told_b = 0;
	struct watcher *a = watcher_add(l, ready, &told_a);
	struct watcher *b = watcher_add(l, ready, &told_b);
	struct queue_status st, c;

	assert_int_equal(watch_count(l), 2);
	c = change(1, QUEUE_QUEUED, 0);
	watch_changed(l, &c);
	c = change(1, QUEUE_SENDING, 1);
	watch_changed(l, &c);
	c = change(2, QUEUE_QUEUED, 0);
	watch_changed(l, &c);
	assert_int_equal(told_a, 3);
	assert_int_equal(told_b, 3);
	/* a takes all three, in order: a message's states are not merged */
	assert_int_equal(watcher_next(a, &st), 1);
	assert_int_equal(msg_of(&st), 1);
	assert_int_equal(st.state, QUEUE_QUEUED);
	assert_int_equal(watcher_next(a, &st), 1);
	assert_int_equal(st.state, QUEUE_SENDING);
	assert_int_equal(st.acked, 1);
	assert_int_equal(watcher_next(a, &st), 1);
	assert_int_equal(msg_of(&st), 2);
	assert_int_equal(watcher_next(a, &st), 0);
	/* b's are its own */
	assert_int_equal(watcher_next(b, &st), 1);
	assert_int_equal(msg_of(&st), 1);
	watcher_remove(b);
	assert_int_equal(watch_count(l), 1);
	c = change(3, QUEUE_DELIVERED, 3);
	watch_changed(l, &c);
	assert_int_equal(told_b, 3);
	assert_int_equal(watcher_next(a, &st), 1);
	assert_int_equal(st.state, QUEUE_DELIVERED);
	watcher_remove(a);
	assert_int_equal(watch_count(l), 0);
	watch_list_free(l);
	/* no list, no watcher: nothing to do */
	watch_changed(NULL, &c);
}

static void
test_held_bound(void **state)
{
	struct watch_list *l = watch_list_new();
	int told = 0;
	struct watcher *w = watcher_add(l, ready, &told);
	struct queue_status st, c;

	for (unsigned i = 0; i < WATCH_MAX_HELD; i++) {
		c = change(i, QUEUE_QUEUED, 0);
		watch_changed(l, &c);
	}
	/* full: a change of a message held replaces its latest, in place */
	c = change(5, QUEUE_SENDING, 2);
	watch_changed(l, &c);
	/* a change of another message drops the oldest held (message 0) */
	c = change(WATCH_MAX_HELD + 7, QUEUE_DELIVERED, 3);
	watch_changed(l, &c);
	assert_int_equal(told, WATCH_MAX_HELD + 2);
	for (unsigned i = 1; i < WATCH_MAX_HELD; i++) {
		assert_int_equal(watcher_next(w, &st), 1);
		assert_int_equal(msg_of(&st), i);
		assert_int_equal(st.state, i == 5 ? QUEUE_SENDING : QUEUE_QUEUED);
		if (i == 5)
			assert_int_equal(st.acked, 2);
	}
	assert_int_equal(watcher_next(w, &st), 1);
	assert_int_equal(msg_of(&st), WATCH_MAX_HELD + 7);
	assert_int_equal(st.state, QUEUE_DELIVERED);
	assert_int_equal(watcher_next(w, &st), 0);
	/* drained: every change is held again, none merged */
	c = change(5, QUEUE_SENDING, 2);
	watch_changed(l, &c);
	c = change(5, QUEUE_DELIVERED, 3);
	watch_changed(l, &c);
	assert_int_equal(watcher_next(w, &st), 1);
	assert_int_equal(st.state, QUEUE_SENDING);
	assert_int_equal(watcher_next(w, &st), 1);
	assert_int_equal(st.state, QUEUE_DELIVERED);
	watcher_remove(w);
	watch_list_free(l);
}

static void
test_taken_while_held(void **state)
{
	struct watch_list *l = watch_list_new();
	int told = 0;
	struct watcher *w = watcher_add(l, ready, &told);
	struct queue_status st, c;
	unsigned next = 0, taken = 0;

	/* taking some while more come: the order holds across compaction */
	for (unsigned round = 0; round < 50; round++) {
		for (unsigned k = 0; k < 97; k++) {
			c = change(next++, QUEUE_QUEUED, 0);
			watch_changed(l, &c);
		}
		for (unsigned k = 0; k < 61 && watcher_next(w, &st); k++)
			assert_int_equal(msg_of(&st), taken++);
	}
	while (watcher_next(w, &st))
		assert_int_equal(msg_of(&st), taken++);
	assert_int_equal(taken, next);
	watcher_remove(w);
	watch_list_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_change_in_order),
		cmocka_unit_test(test_held_bound),
		cmocka_unit_test(test_taken_while_held),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
