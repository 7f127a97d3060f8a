/*
 * Unit tests of rpcd's window of messages in flight (src/rpcd/outbox.c)
 * over a real message store: at most OUTBOX_WINDOW messages are asked
 * for, oldest first; a confirmed one is deleted and the next one asked
 * for; one whose packet could not be built waits outside the window and
 * is asked for again later; a new keyd or netd has the window asked for
 * again; nothing is asked for while a peer is down. Acknowledgements
 * (docs/acks.md): a confirmed row leaves the window and waits for its
 * acknowledgement until its deadline (keyd's round trip, or the
 * estimate, plus the slack and two fetch intervals), when it is asked
 * for again; an acknowledged one is gone; a message that expires is
 * failed with the reason keyd gave for not building it.
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
#include <sqlite3.h>

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
	uint8_t			 ack[MAX_ASKS][16];	/* each ask's ack id */
	unsigned		 attempts[MAX_ASKS];
};

/* The queue's clock (Unix s): deadlines and expiries follow it. */
static time_t fake_now;

static time_t
fake_clock(void)
{
	return fake_now;
}

static int
fake_build(void *arg, const struct queue_outgoing *q)
{
	struct fixture *f = arg;

	if (f->peers_down)
		return -1;
	assert_true(f->n_asked < MAX_ASKS);
	assert_int_equal(q->len, 5);
	assert_memory_equal(q->message, "hello", 5);
	assert_non_null(q->ack_id);
	memcpy(f->ack[f->n_asked], q->ack_id, 16);
	f->attempts[f->n_asked] = q->attempts;
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

/* A confirmed row leaves the window (it stays in the store, awaiting its
 * acknowledgement), and the next takes its place. */
static void
test_sent_leaves_the_window(void **state)
{
	struct fixture *f = *state;

	enqueue(f, OUTBOX_WINDOW + 2);
	outbox_fill(f->o);
	assert_int_equal(outbox_sent(f->o, 3), 0);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 1);
	assert_int_equal(f->asked[OUTBOX_WINDOW], OUTBOX_WINDOW + 1);
	assert_int_equal(queue_outgoing_count(f->q), OUTBOX_WINDOW + 2);
	assert_int_equal(outbox_in_flight(f->o), OUTBOX_WINDOW);
	/* A second report of the same id asks for nothing else. */
	assert_int_equal(outbox_sent(f->o, 3), 0);
	assert_int_equal(queue_outgoing_count(f->q), OUTBOX_WINDOW + 2);
	assert_int_equal(f->n_asked, OUTBOX_WINDOW + 1);
	/* Nor does a refill: 3 is with the provider. */
	outbox_reset(f->o);
	assert_int_equal(f->n_asked, 2 * OUTBOX_WINDOW + 1);
	for (size_t i = OUTBOX_WINDOW + 1; i < f->n_asked; i++)
		assert_int_not_equal(f->asked[i], 3);
	/* Its acknowledgement deletes it. */
	assert_int_equal(outbox_acked(f->o, f->ack[2]), 0);
	assert_int_equal(queue_outgoing_count(f->q), OUTBOX_WINDOW + 1);
	assert_int_equal(outbox_acked(f->o, f->ack[2]), 1);
}

static int64_t
deadline_of(struct fixture *f, uint64_t id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT deadline_ms FROM outgoing "
	    "WHERE id = ? AND state = 1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * The deadline: keyd's round trip, plus max(2 s, a quarter of it), plus
 * two mean fetch intervals; without keyd's round trip (not come yet),
 * twice ten mean delays, set again when it comes late.
 */
static void
test_deadline(void **state)
{
	struct fixture *f = *state;
	int64_t now;

	fake_now = 1700000000;
	queue_set_window(f->q, 3600, QUEUE_SEEN_MAX, fake_clock);
	now = (int64_t)fake_now * 1000;
	outbox_set_timing(f->o, 100.0, 4.0);	/* estimate 2000 ms, fetch 250 ms */
	assert_int_equal(outbox_deadline_ms(f->o, now, 1000, 0), now + 1000 + 2000 + 500);
	assert_int_equal(outbox_deadline_ms(f->o, now, 40000, 0), now + 40000 + 10000 + 500);
	assert_int_equal(outbox_deadline_ms(f->o, now, 0, 0), now + 2000 + 2000 + 500);
	/* each attempt before doubles the wait, up to 64 times */
	assert_int_equal(outbox_deadline_ms(f->o, now, 1000, 1), now + 2 * 3500);
	assert_int_equal(outbox_deadline_ms(f->o, now, 1000, 3), now + 8 * 3500);
	assert_int_equal(outbox_deadline_ms(f->o, now, 1000, 6), now + 64 * 3500);
	assert_int_equal(outbox_deadline_ms(f->o, now, 1000, 40), now + 64 * 3500);

	enqueue(f, 3);
	outbox_fill(f->o);
	outbox_round_trip(f->o, 1, 12000);
	assert_int_equal(outbox_sent(f->o, 1), 0);
	assert_int_equal(deadline_of(f, 1), now + 12000 + 3000 + 500);
	/* a round trip for a row not with the provider changes nothing */
	outbox_round_trip(f->o, 1, 1);
	assert_int_equal(deadline_of(f, 1), now + 12000 + 3000 + 500);
	/* IPC_SENT first, keyd's round trip later */
	assert_int_equal(outbox_sent(f->o, 2), 0);
	assert_int_equal(deadline_of(f, 2), now + 4500);
	fake_now += 1;
	outbox_round_trip(f->o, 2, 20000);
	assert_int_equal(deadline_of(f, 2), now + 20000 + 5000 + 500);
}

/*
 * Unacknowledged by its deadline, a row is asked for again (with the same
 * ack id, one attempt more) at the check; acknowledged meanwhile, it is
 * not; nothing is asked before the deadline.
 */
static void
test_deadline_passed_resends(void **state)
{
	struct fixture *f = *state;

	fake_now = 1700000000;
	queue_set_window(f->q, 3600, QUEUE_SEEN_MAX, fake_clock);
	outbox_set_timing(f->o, 50.0, 10.0);
	enqueue(f, 2);
	outbox_check(f->o);
	assert_int_equal(f->n_asked, 2);
	outbox_round_trip(f->o, 1, 3000);
	outbox_round_trip(f->o, 2, 3000);
	assert_int_equal(outbox_sent(f->o, 1), 0);
	assert_int_equal(outbox_sent(f->o, 2), 0);
	assert_int_equal(outbox_in_flight(f->o), 0);
	assert_int_equal(outbox_acked(f->o, f->ack[1]), 0);
	fake_now += 5;		/* 5000 ms: 3000 + 2000 + 200 not passed */
	outbox_check(f->o);
	assert_int_equal(f->n_asked, 2);
	fake_now += 1;
	outbox_check(f->o);
	assert_int_equal(f->n_asked, 3);
	assert_int_equal(f->asked[2], 1);
	assert_int_equal(f->attempts[2], 1);
	assert_memory_equal(f->ack[2], f->ack[0], 16);
	assert_int_equal(outbox_in_flight(f->o), 1);
	assert_int_equal(queue_counts(f->q)->retransmissions, 1);
	assert_int_equal(queue_counts(f->q)->sent, 2);
	/* a new outbox (a restart) finds it pending too */
	outbox_free(f->o);
	f->o = outbox_new(f->base, f->q, fake_build, f);
	outbox_check(f->o);
	assert_int_equal(f->n_asked, 4);
	assert_int_equal(f->asked[3], 1);
	/* sent again: its wait doubled */
	outbox_round_trip(f->o, 1, 3000);
	assert_int_equal(outbox_sent(f->o, 1), 0);
	assert_int_equal(deadline_of(f, 1), (int64_t)fake_now * 1000 + 2 * 5200);
	assert_int_equal(queue_counts(f->q)->sent, 2);	/* not again */
}

/* Expired undelivered: failed, saying why keyd could not build it, its
 * row gone, and its slot with it. */
static void
test_expiry_says_why(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	struct queue_status st;
	uint64_t id;

	fake_now = 1700000000;
	queue_set_window(f->q, 3600, QUEUE_SEEN_MAX, fake_clock);
	queue_set_expiry(f->q, 20);
	memset(msgid, 0x42, sizeof(msgid));
	memset(key, 7, sizeof(key));
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"hello",
	    5, &id), 0);
	outbox_check(f->o);
	outbox_failed(f->o, id, "the recipient's provider is not in the topology");
	assert_int_equal(outbox_in_flight(f->o), 0);
	fake_now += 20;
	outbox_check(f->o);
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_string_equal(st.reason, "its packets could not be built: the "
	    "recipient's provider is not in the topology");
	assert_int_equal(queue_outgoing_count(f->q), 0);
	sleep(1);
	outbox_on_retry(-1, 0, f->o);
	assert_int_equal(f->n_asked, 1);
	assert_int_equal(outbox_in_flight(f->o), 0);
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
		cmocka_unit_test_setup_teardown(test_sent_leaves_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_passed_resends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_says_why, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_waits_outside_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_asks_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_asked_while_a_peer_is_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_is_asked_again_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_outbox_starts_from_the_store, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
