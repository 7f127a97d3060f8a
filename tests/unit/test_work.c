/*
 * The node's Sphinx workers (src/node/work.c): what the threads compute
 * is what sphinx_process() computes on the loop (same packet out, same
 * routing, the tag sphinx_replay_tag() names); a forged MAC comes back
 * unauthentic; jobs beyond max_jobs are refused; drain and free hand
 * every job back; a replay is the caller's to catch with the tag.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "node/work.h"

#define NPKT	64

static uint8_t node_priv[32], node_pub[32];
static uint8_t pkts[NPKT][SPHINX_PACKET_BYTES];

struct collected {
	size_t		 n;
	struct work_job	*jobs[NPKT * 2];
};

static void
collect(void *arg, struct work_job *j)
{
	struct collected *c = arg;

	assert_true(c->n < NPKT * 2);
	c->jobs[c->n++] = j;
}

static void
make_packets(void)
{
	struct sphinx_hop hops[3];
	uint8_t other_priv[32];

	crypto_box_keypair(node_pub, node_priv);
	memset(hops, 0, sizeof(hops));
	memcpy(hops[0].node_pub, node_pub, 32);
	hops[0].command = SPHINX_CMD_RELAY;
	hops[0].delay_ms = 7;
	for (int i = 1; i < 3; i++) {
		crypto_box_keypair(hops[i].node_pub, other_priv);
		hops[i].command = SPHINX_CMD_RELAY;
	}
	memcpy(hops[0].next_id, hops[1].node_pub, 32);
	memcpy(hops[1].next_id, hops[2].node_pub, 32);
	hops[2].command = SPHINX_CMD_FINAL;
	for (int i = 0; i < NPKT; i++)
		assert_int_equal(sphinx_create(pkts[i], hops, 3,
		    (const uint8_t *)"worker", 6, NULL), SPHINX_OK);
}

static struct work_job *
job_for(const uint8_t *pkt)
{
	struct work_job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	memcpy(j->in, pkt, SPHINX_PACKET_BYTES);
	j->priv = node_priv;
	assert_non_null(j->out = malloc(SPHINX_PACKET_BYTES));
	return j;
}

static void
job_free(struct work_job *j)
{
	free(j->out);
	free(j);
}

static void
test_same_as_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct collected c = { 0 };
	struct replay_store *rs;
	struct replay_params rp = { .packets_per_second = 1000,
	    .epoch_seconds = 1, .false_positive_rate = 1e-9 };
	struct work *w;

	(void)state;
	assert_non_null(w = work_new(base, 2, NPKT, collect, &c));
	assert_int_equal(work_start(w), 0);
	assert_int_equal(work_threads(w), 2);
	for (int i = 0; i < NPKT; i++)
		assert_int_equal(work_submit(w, job_for(pkts[i])), 0);
	/* Handed back through the loop, as the node gets them. */
	while (c.n < NPKT)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(work_in_flight(w), 0);
	assert_int_equal(replay_new(&rs, &rp), REPLAY_OK);
	for (size_t i = 0; i < c.n; i++) {
		struct work_job *j = c.jobs[i];
		uint8_t out[SPHINX_PACKET_BYTES], tag[SPHINX_REPLAY_TAG_BYTES];
		struct sphinx_hop_result res;

		assert_int_equal(j->rc, SPHINX_OK);
		assert_int_equal(j->authentic, 1);
		assert_int_equal(sphinx_process(node_priv, rs, j->in, out, &res),
		    SPHINX_OK);
		assert_memory_equal(out, j->out, SPHINX_PACKET_BYTES);
		assert_int_equal(res.command, j->res.command);
		assert_int_equal(res.delay_ms, 7);
		assert_int_equal(j->res.delay_ms, 7);
		assert_memory_equal(res.next_id, j->res.next_id, 32);
		assert_int_equal(sphinx_replay_tag(node_priv, j->in, tag), SPHINX_OK);
		assert_memory_equal(tag, j->tag, sizeof(tag));
		job_free(j);
	}
	replay_free(rs);
	work_free(w);
	event_base_free(base);
}

static void
test_forged_mac_is_not_authentic(void **state)
{
	struct event_base *base = event_base_new();
	struct collected c = { 0 };
	struct work *w;
	struct work_job *j;
	static const uint8_t zero[SPHINX_REPLAY_TAG_BYTES];

	(void)state;
	assert_non_null(w = work_new(base, 1, 4, collect, &c));
	assert_int_equal(work_start(w), 0);
	j = job_for(pkts[0]);
	j->in[SPHINX_HEADER_BYTES - 1] ^= 1;	/* the header MAC */
	assert_int_equal(work_submit(w, j), 0);
	work_drain(w);
	assert_int_equal(c.n, 1);
	assert_int_equal(j->rc, SPHINX_ERR_MAC);
	assert_int_equal(j->authentic, 0);
	assert_memory_equal(j->tag, zero, sizeof(zero));
	job_free(j);
	work_free(w);
	event_base_free(base);
}

/* The replay check is the caller's: the same packet twice, the same tag. */
static void
test_replay_is_the_callers(void **state)
{
	struct event_base *base = event_base_new();
	struct collected c = { 0 };
	struct replay_store *rs;
	struct replay_params rp = { .packets_per_second = 1000,
	    .epoch_seconds = 1, .false_positive_rate = 1e-9 };
	struct work *w;
	int seen = 0;

	(void)state;
	assert_int_equal(replay_new(&rs, &rp), REPLAY_OK);
	assert_non_null(w = work_new(base, 2, 8, collect, &c));
	assert_int_equal(work_start(w), 0);
	assert_int_equal(work_submit(w, job_for(pkts[1])), 0);
	assert_int_equal(work_submit(w, job_for(pkts[1])), 0);
	work_drain(w);
	assert_int_equal(c.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(c.jobs[i]->rc, SPHINX_OK);
		assert_int_equal(c.jobs[i]->authentic, 1);
		seen += replay_check_and_insert(rs, c.jobs[i]->tag);
		job_free(c.jobs[i]);
	}
	assert_int_equal(seen, 1);
	replay_free(rs);
	work_free(w);
	event_base_free(base);
}

static void
test_max_jobs_and_free(void **state)
{
	struct event_base *base = event_base_new();
	struct collected c = { 0 };
	struct work_job *extra;
	struct work *w;

	(void)state;
	/* Not started: jobs wait, and free hands them back unprocessed. */
	assert_non_null(w = work_new(base, 1, 3, collect, &c));
	for (int i = 0; i < 3; i++)
		assert_int_equal(work_submit(w, job_for(pkts[i])), 0);
	extra = job_for(pkts[3]);
	assert_int_equal(work_submit(w, extra), -1);
	assert_int_equal(work_in_flight(w), 3);
	work_free(w);
	assert_int_equal(c.n, 3);
	for (size_t i = 0; i < c.n; i++) {
		assert_int_equal(c.jobs[i]->rc, SPHINX_ERR_INVALID);
		assert_int_equal(c.jobs[i]->authentic, 0);
		job_free(c.jobs[i]);
	}
	job_free(extra);
	event_base_free(base);
}

static void
test_bad_parameters(void **state)
{
	struct event_base *base = event_base_new();

	(void)state;
	assert_null(work_new(base, 0, 4, collect, NULL));
	assert_null(work_new(base, WORK_MAX_THREADS + 1, 4, collect, NULL));
	assert_null(work_new(base, 1, 0, collect, NULL));
	assert_null(work_new(base, 1, 4, NULL, NULL));
	assert_true(work_default_threads() >= 1);
	assert_true(work_default_threads() <= WORK_MAX_THREADS);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_on_the_loop),
		cmocka_unit_test(test_forged_mac_is_not_authentic),
		cmocka_unit_test(test_replay_is_the_callers),
		cmocka_unit_test(test_max_jobs_and_free),
		cmocka_unit_test(test_bad_parameters),
	};

	if (sodium_init() < 0)
		return 1;
	make_packets();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
