/*
 * Unit tests of acknowledgements in the Sphinx format (docs/sphinx.md,
 * section 18; docs/acks.md): a packet from alice through her provider,
 * three mixnodes and bob's provider to bob carries an acknowledgement
 * block; bob's provider takes it out (surb_ack_take()) and the
 * acknowledgement travels three mixnodes and alice's provider back to
 * alice, who reads its id (surb_reply_kind()). Every hop runs the
 * unchanged sphinx_process(). Also: the block never reaches bob, a
 * tampered payload destroys both, the flag is refused where it means
 * nothing, and the sizes.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"

/* Nodes: alice's provider (0), mixnodes (1-3), bob's provider (4). */
#define NODES		5
#define APROV		0
#define BPROV		4

struct fixture {
	uint8_t			 priv[NODES][32], pub[NODES][32];
	struct replay_store	*store[NODES];
	uint8_t			 alice_priv[32], alice[32];
	uint8_t			 bob_priv[32], bob[32];
};

static void
key_of(uint8_t priv[32], uint8_t pub[32], const char *what, unsigned i)
{
	char label[64];
	int len = snprintf(label, sizeof(label), "test_ack %s %u", what, i);

	crypto_generichash(priv, 32, (const uint8_t *)label, (size_t)len, NULL, 0);
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct replay_params params = { .packets_per_second = 256,
	    .epoch_seconds = 1, .false_positive_rate = 1e-12 };

	if (f == NULL)
		return -1;
	for (unsigned i = 0; i < NODES; i++) {
		key_of(f->priv[i], f->pub[i], "node", i);
		if (replay_new(&f->store[i], &params) != REPLAY_OK)
			return -1;
	}
	key_of(f->alice_priv, f->alice, "alice", 0);
	key_of(f->bob_priv, f->bob, "bob", 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < NODES; i++)
		replay_free(f->store[i]);
	free(f);
	return 0;
}

static void
reset_stores(struct fixture *f)
{
	for (unsigned i = 0; i < NODES; i++)
		replay_reset(f->store[i], f->pub[i]);
}

/* alice -> her provider, mixes 1-3, bob's provider (DELIVER, ack) -> bob. */
static void
forward_path(const struct fixture *f, struct sphinx_hop hops[6])
{
	memset(hops, 0, 6 * sizeof(*hops));
	for (unsigned i = 0; i < NODES; i++) {
		memcpy(hops[i].node_pub, f->pub[i], 32);
		hops[i].command = i == BPROV ? SPHINX_CMD_DELIVER : SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, i == BPROV ? f->bob : f->pub[i + 1], 32);
		hops[i].delay_ms = 10u + i;
	}
	hops[BPROV].flags = SPHINX_FLAG_ACK;
	memcpy(hops[5].node_pub, f->bob, 32);
	hops[5].command = SPHINX_CMD_FINAL;
	hops[5].flags = SPHINX_FLAG_ACK;
}

/* The acknowledgement's path: mixes 1-3, alice's provider, alice. */
static void
ack_path(const struct fixture *f, struct sphinx_hop hops[5])
{
	memset(hops, 0, 5 * sizeof(*hops));
	for (unsigned i = 0; i < 4; i++) {
		unsigned node = i < 3 ? i + 1 : APROV;
		memcpy(hops[i].node_pub, f->pub[node], 32);
		hops[i].command = i == 3 ? SPHINX_CMD_DELIVER : SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, i == 3 ? f->alice : f->pub[i + 2 < 4 ? i + 2 : APROV], 32);
		hops[i].delay_ms = 20u + i;
	}
	memcpy(hops[4].node_pub, f->alice, 32);
	hops[4].command = SPHINX_CMD_FINAL;
}

/* pkt through nodes[0 .. n); the last hop's result in *last. */
static int
walk(struct fixture *f, const unsigned *nodes, size_t n, uint8_t *pkt,
    struct sphinx_hop_result *last)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sphinx_process(f->priv[nodes[i]], f->store[nodes[i]],
		    pkt, pkt, last);
		if (rc != SPHINX_OK)
			return rc;
	}
	return SPHINX_OK;
}

static const unsigned forward_nodes[] = { 0, 1, 2, 3, 4 };
static const unsigned ack_nodes[] = { 1, 2, 3, APROV };

static void
test_sizes(void **state)
{
	(void)state;
	assert_int_equal(SPHINX_ACK_BYTES, 416);
	assert_int_equal(SPHINX_MAX_ACKED_MESSAGE_BYTES, 1632);
}

/* The whole round: message to bob, acknowledgement to alice. */
static void
test_round_trip(void **state)
{
	struct fixture *f = *state;
	static const size_t lens[] = { 0, 1, 1000, SPHINX_MAX_ACKED_MESSAGE_BYTES };
	struct sphinx_hop fwd[6], back[5];
	struct sphinx_hop_result res;
	uint8_t block[SPHINX_ACK_BYTES], id[16], got_id[16];
	uint8_t pkt[SPHINX_PACKET_BYTES], ack[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_ACKED_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t first_hop[32];
	size_t got_len;
	int is_ack;

	forward_path(f, fwd);
	ack_path(f, back);
	randombytes_buf(msg, sizeof(msg));
	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		reset_stores(f);
		randombytes_buf(id, sizeof(id));
		assert_int_equal(surb_ack_create(block, id, f->pub[1], back, 5,
		    NULL), SPHINX_OK);
		assert_memory_equal(block, f->pub[1], 32);
		assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, msg,
		    lens[t], NULL), SPHINX_OK);
		assert_int_equal(walk(f, forward_nodes, 5, pkt, &res), SPHINX_OK);
		assert_int_equal(res.command, SPHINX_CMD_DELIVER);
		assert_int_equal(res.flags, SPHINX_FLAG_ACK);
		assert_memory_equal(res.next_id, f->bob, 32);

		/* bob's provider: the block out, the rest to the mailbox */
		assert_int_equal(surb_ack_take(pkt, ack, first_hop), SPHINX_OK);
		assert_memory_equal(first_hop, f->pub[1], 32);
		uint8_t zero[SPHINX_ACK_BYTES] = { 0 };
		assert_memory_equal(pkt + SPHINX_HEADER_BYTES, zero, sizeof(zero));
		assert_int_equal(sphinx_unwrap(f->bob_priv, pkt, got, &got_len,
		    NULL), SPHINX_OK);
		assert_int_equal(got_len, lens[t]);
		assert_memory_equal(got, msg, lens[t]);

		/* the acknowledgement: an ordinary packet at every hop */
		assert_int_equal(walk(f, ack_nodes, 4, ack, &res), SPHINX_OK);
		assert_int_equal(res.command, SPHINX_CMD_DELIVER);
		assert_int_equal(res.flags, 0);
		assert_memory_equal(res.next_id, f->alice, 32);
		assert_int_equal(surb_reply_kind(f->alice_priv, ack, got_id,
		    &is_ack), SPHINX_OK);
		assert_int_equal(is_ack, 1);
		assert_memory_equal(got_id, id, 16);
		/* nobody else reads it, and it is no reply to open */
		assert_int_equal(surb_reply_kind(f->bob_priv, ack, got_id,
		    &is_ack), SPHINX_ERR_MAC);
		uint8_t keys[SURB_KEYS_BYTES] = { 0 };
		keys[16 + 8] = 5;
		memcpy(keys, id, 16);
		assert_int_equal(surb_open(f->alice_priv, keys, sizeof(keys), ack,
		    got, &got_len), SPHINX_ERR_COMMAND);
		/* a reply block's REPLY is not an acknowledgement */
	}
	/* one byte more than fits beside the block */
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, msg,
	    SPHINX_MAX_ACKED_MESSAGE_BYTES + 1, NULL), SPHINX_ERR_INVALID);
}

/* A reply block's reply is told apart from an acknowledgement. */
static void
test_reply_is_not_ack(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop back[5];
	struct sphinx_hop_result res;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[16], got_id[16];
	uint8_t pkt[SPHINX_PACKET_BYTES];
	int is_ack = -1;

	reset_stores(f);
	ack_path(f, back);
	assert_int_equal(surb_create(surb, keys, id, f->pub[1], back, 5, 0, NULL),
	    SPHINX_OK);
	assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb), NULL, 0), SPHINX_OK);
	assert_int_equal(walk(f, ack_nodes, 4, pkt, &res), SPHINX_OK);
	assert_int_equal(surb_reply_kind(f->alice_priv, pkt, got_id, &is_ack),
	    SPHINX_OK);
	assert_int_equal(is_ack, 0);
	assert_memory_equal(got_id, id, 16);
}

/*
 * A bit changed in the payload anywhere before bob's provider: its layer
 * turns the block to junk (nothing sent, or a header the first hop
 * refuses) and bob's message fails its integrity check.
 */
static void
test_tampered(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop fwd[6], back[5];
	struct sphinx_hop_result res;
	uint8_t block[SPHINX_ACK_BYTES], id[16] = { 1 };
	uint8_t pkt[SPHINX_PACKET_BYTES], ack[SPHINX_PACKET_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES], first_hop[32];
	size_t got_len;

	reset_stores(f);
	forward_path(f, fwd);
	ack_path(f, back);
	assert_int_equal(surb_ack_create(block, id, f->pub[1], back, 5, NULL),
	    SPHINX_OK);
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block,
	    (const uint8_t *)"hello", 5, NULL), SPHINX_OK);
	assert_int_equal(walk(f, forward_nodes, 2, pkt, &res), SPHINX_OK);
	pkt[SPHINX_HEADER_BYTES + 700] ^= 1;
	assert_int_equal(walk(f, forward_nodes + 2, 3, pkt, &res), SPHINX_OK);
	assert_int_equal(res.flags, SPHINX_FLAG_ACK);
	if (surb_ack_take(pkt, ack, first_hop) == SPHINX_OK) {
		/* a random header: the first hop's MAC check refuses it */
		assert_int_not_equal(sphinx_process(f->priv[1], f->store[1], ack,
		    ack, &res), SPHINX_OK);
	}
	assert_int_equal(sphinx_unwrap(f->bob_priv, pkt, got, &got_len, NULL),
	    SPHINX_ERR_PAYLOAD);
}

/* The flag where it means nothing, or missing where it must be. */
static void
test_flag_placement(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop fwd[6], back[5];
	uint8_t block[SPHINX_ACK_BYTES] = { 0 }, id[16] = { 0 };
	uint8_t pkt[SPHINX_PACKET_BYTES];

	forward_path(f, fwd);
	fwd[2].flags = SPHINX_FLAG_ACK;		/* a RELAY */
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	forward_path(f, fwd);
	fwd[5].flags = 0;			/* FINAL without it */
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	forward_path(f, fwd);
	fwd[BPROV].flags = 0;			/* DELIVER without it */
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	forward_path(f, fwd);
	fwd[BPROV].flags = 2;			/* an unknown flag */
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, block, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	/* flags without an ack block; no block at all */
	forward_path(f, fwd);
	assert_int_equal(sphinx_create(pkt, fwd, 6, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_create_acked(pkt, fwd, 6, NULL, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
	/* an acknowledgement's path ends at FINAL, no flag: the function sets it */
	ack_path(f, back);
	back[4].flags = SPHINX_FLAG_ACK;
	assert_int_equal(surb_ack_create(block, id, f->pub[1], back, 5, NULL),
	    SPHINX_ERR_INVALID);
	ack_path(f, back);
	back[4].command = SPHINX_CMD_DROP;
	assert_int_equal(surb_ack_create(block, id, f->pub[1], back, 5, NULL),
	    SPHINX_ERR_INVALID);
}

/* Junk in the block: nothing to send, and the block is wiped all the same. */
static void
test_take_junk(void **state)
{
	uint8_t pkt[SPHINX_PACKET_BYTES], ack[SPHINX_PACKET_BYTES], first[32];
	uint8_t zero[SPHINX_ACK_BYTES] = { 0 };

	(void)state;
	randombytes_buf(pkt, sizeof(pkt));
	/* alpha all ones: above p, not canonical */
	memset(pkt + SPHINX_HEADER_BYTES + 32, 0xff, 31);
	pkt[SPHINX_HEADER_BYTES + 32 + 31] = 0x7f;
	assert_int_equal(surb_ack_take(pkt, ack, first), SPHINX_ERR_MALFORMED);
	assert_memory_equal(pkt + SPHINX_HEADER_BYTES, zero, sizeof(zero));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_reply_is_not_ack),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_flag_placement),
		cmocka_unit_test(test_take_junk),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
