/*
 * Unit tests of rpcd's window of messages in flight (src/rpcd/outbox.c)
 * over a real message store: at most OUTBOX_WINDOW messages are asked
 * for, oldest first; a confirmed one is deleted and the next one asked
 * for; one whose packet could not be built waits outside the window and
 * is asked for again later; a new keyd or netd has the window asked for
 * again; nothing is asked for while a peer is down.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "rpcd/outbox.h"
#include "rpcd/queue.h"

#define MAX_ASKS	4096

struct fixture {
	char			 dir[64];
	char			 path[96];
	struct queue		*q;
	struct event_base	*base;
	struct outbox		*o;
	int			 peers_down;
	uint64_t		 asked[MAX_ASKS];	/* ids, in the order asked */
	size_t			 n_asked;
};

static int
fake_build(void *arg, const struct queue_outgoing *q)
{
	struct fixture *f = arg;

	if (f->peers_down)
		return -1;
	assert_true(f->n_asked < MAX_ASKS);
	assert_int_equal(q->len, 5);
	assert_memory_equal(q->message, "hello", 5);
	f->asked[f->n_asked++] = q->id;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	if (queue_open(&f->q, f->path, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "queue_open: %s\n", err);
		return -1;
	}
	f->base = event_base_new();
	f->o = outbox_new(f->base, f->q, fake_build, f);
	if (f->base == NULL || f->o == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffix[] = { "", "-wal", "-shm", "-reserve", "-retired" };
	char path[128];

	outbox_free(f->o);
	event_base_free(f->base);
	queue_close(f->q);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", f->path, suffix[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
enqueue(struct fixture *f, size_t n)
{
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	uint64_t id;

	memset(key, 7, sizeof(key));
	for (size_t i = 0; i < n; i++) {
		memset(msgid, 0, sizeof(msgid));
		memcpy(msgid, &f->n_asked, sizeof(f->n_asked));
		msgid[15] = (uint8_t)i;
		msgid[14] = (uint8_t)(i >> 8);
		assert_int_equal(queue_enqueue(f->q, msgid, key, key,
		    (const uint8_t *)"hello", 5, &id), 0);
	}
}

static int
was_asked(const struct fixture *f, uint64_t id)
{
	for (size_t i = 0; i < f->n_asked; i++)
		if (f->asked[i] == id)
			return 1;
	return 0;
}

static void
test_window_is_bounded_and_oldest_first(void **state)
{
	struct fixture *f = *state;

	enqueue(f, OUTBOX_WINDOW + 10);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW);
	for (size_t i = 0; i < OUTBOX_WINDOW; i++)
		assert_int_equal(f->asked[i], i + 1);
	assert_int_equal(outbox_in_flight(f->o), OUTBOX_WINDOW);
	/* Filling again asks for nothing more: all are in flight. */
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW);
}

static void
test_sent_deletes_and_takes_the_next(void **state)
{
	struct fixture *f = *state;

	enqueue(f, OUTBOX_WINDOW + 2);
	outbox_fill(f->o);
	assert_int_equal(outbox_sent(f->o, 3), 0);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 1);
	assert_int_equal(f->asked[OUTBOX_WINDOW], OUTBOX_WINDOW + 1);
	assert_int_equal(queue_outgoing_count(f->q), OUTBOX_WINDOW + 1);
	/* A second report of the same id deletes nothing else. */
	assert_int_equal(outbox_sent(f->o, 3), 0);
	assert_int_equal(queue_outgoing_count(f->q), OUTBOX_WINDOW + 1);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 1);
}

static void
test_failed_waits_outside_the_window(void **state)
{
	struct fixture *f = *state;

	enqueue(f, OUTBOX_WINDOW + 5);
	outbox_fill(f->o);
	/* Five cannot be built: five newer ones take their places. */
	for (uint64_t id = 1; id <= 5; id++)
		outbox_failed(f->o, id, "the topology lacks a provider");
	assert_int_equal(outbox_in_flight(f->o), OUTBOX_WINDOW - 5);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 5);
	assert_true(was_asked(f, OUTBOX_WINDOW + 5));
	assert_int_equal(outbox_in_flight(f->o), OUTBOX_WINDOW);
	/* Their time comes, but the window is full: they wait for room. */
	sleep(1);
	outbox_on_retry(-1, 0, f->o);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 5);
	/* Room: the first of them is asked for again. */
	assert_int_equal(outbox_sent(f->o, 10), 0);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 6);
	assert_int_equal(f->asked[OUTBOX_WINDOW + 5], 1);
	/* A failure reported for one not asked for is ignored. */
	outbox_failed(f->o, 2, "late");
	assert_int_equal(outbox_in_flight(f->o), OUTBOX_WINDOW);
}

static void
test_reset_asks_again(void **state)
{
	struct fixture *f = *state;

	enqueue(f, 3);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, 3);
	outbox_reset(f->o);	/* a new netd: what it held is gone */
	assert_int_equal(f->n_asked, 6);
	assert_int_equal(f->asked[3], 1);
	assert_int_equal(f->asked[5], 3);
}

static void
test_nothing_asked_while_a_peer_is_down(void **state)
{
	struct fixture *f = *state;

	f->peers_down = 1;
	enqueue(f, 4);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, 0);
	f->peers_down = 0;
	outbox_reset(f->o);	/* the peer is back */
	assert_int_equal(f->n_asked, 4);
}

static void
test_expired_is_asked_again_later(void **state)
{
	struct fixture *f = *state;

	enqueue(f, 2);
	outbox_fill(f->o);
	outbox_expired(f->o, 2);
	assert_int_equal(outbox_in_flight(f->o), 1);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, 2);	/* not before its retry time */
	sleep(1);
	outbox_on_retry(-1, 0, f->o);
	assert_int_equal(f->n_asked, 3);
	assert_int_equal(f->asked[2], 2);
}

/* A window rebuilt from the store (a new rpcd) starts with the oldest. */
static void
test_new_outbox_starts_from_the_store(void **state)
{
	struct fixture *f = *state;

	enqueue(f, 5);
	assert_int_equal(queue_sent(f->q, 1), 0);
	outbox_free(f->o);
	f->o = outbox_new(f->base, f->q, fake_build, f);
	assert_non_null(f->o);
	outbox_fill(f->o);
	assert_int_equal(f->n_asked, 4);
	assert_int_equal(f->asked[0], 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_window_is_bounded_and_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sent_deletes_and_takes_the_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_waits_outside_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_asks_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_asked_while_a_peer_is_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_is_asked_again_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_outbox_starts_from_the_store, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
