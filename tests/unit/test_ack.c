/*
 * Unit tests of acknowledgements in the Sphinx format (docs/sphinx.md,
 * section 18; docs/acks.md): a packet from alice through her provider,
 * three mixnodes and bob's provider to bob carries an acknowledgement
 * block; bob's provider takes it out (surb_ack_take()) and the
 * acknowledgement travels three mixnodes and alice's provider back to
 * alice, who reads its id (surb_reply_kind()). Every hop runs the
 * unchanged sphinx_process(). Also: the block never reaches bob, a
 * tampered payload destroys both, the flag is refused where it means
 * nothing, and the sizes; and the committed vector
 * tests/vectors/sphinx/ack-6-hops.json, byte for byte.
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
#include <jansson.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"
#include "vectors.h"

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

/* ---------------------------------------------------------------- */
/* The committed vector                                              */
/* ---------------------------------------------------------------- */

static uint32_t
intfield(json_t *obj, const char *key)
{
	json_t *j = json_object_get(obj, key);

	if (!json_is_integer(j))
		fail_msg("missing field %s", key);
	return (uint32_t)json_integer_value(j);
}

/* The command a vector's hop or step names (RELAY .. REPLY). */
static int
command_of(json_t *obj)
{
	return vector_command(json_string_value(json_object_get(obj, "command")),
	    SPHINX_CMD_REPLY);
}

/* A path from the vector: its hops (with their flags) and private keys. */
static size_t
vector_path(json_t *v, const char *key, struct sphinx_hop *hops,
    uint8_t priv[][32])
{
	json_t *jh = json_object_get(v, key);
	size_t n = json_array_size(jh);

	assert_true(n >= 2 && n <= SPHINX_MAX_HOPS);
	memset(hops, 0, n * sizeof(*hops));
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(jh, i);
		uint8_t pub[32];
		assert_int_equal(hexfield(h, "private_key", priv[i], 32), 32);
		assert_int_equal(hexfield(h, "public_key", hops[i].node_pub, 32),
		    32);
		assert_int_equal(crypto_scalarmult_base(pub, priv[i]), 0);
		assert_memory_equal(pub, hops[i].node_pub, 32);
		hops[i].command = (uint8_t)command_of(h);
		assert_int_equal(hexfield(h, "next_id", hops[i].next_id, 32), 32);
		hops[i].delay_ms = intfield(h, "delay_ms");
		hops[i].key_phase = (uint8_t)intfield(h, "key_phase");
		hops[i].flags = (uint8_t)intfield(h, "flags");
	}
	return n;
}

struct fixed_rng {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 used;
};

static int
fixed_fill(void *ctx, uint8_t *out, size_t len)
{
	struct fixed_rng *r = ctx;

	if (len > r->len - r->used)
		return -1;
	memcpy(out, r->buf + r->used, len);
	r->used += len;
	return 0;
}

/* sphinx_process() of pkt (in place) as the vector's step st says. */
static void
vector_process(json_t *st, const uint8_t priv[32], uint8_t *pkt)
{
	struct replay_params params = { .packets_per_second = 1,
	    .epoch_seconds = 16, .false_positive_rate = 1e-9 };
	struct replay_store *store;
	struct sphinx_hop_result res;
	uint8_t tag[32], next_id[32], want[SPHINX_PACKET_BYTES];

	assert_string_equal(json_string_value(json_object_get(st, "result")),
	    "ok");
	assert_int_equal(replay_new(&store, &params), REPLAY_OK);
	assert_int_equal(sphinx_process(priv, store, pkt, pkt, &res),
	    SPHINX_OK);
	assert_int_equal(hexfield(st, "replay_tag", tag, 32), 32);
	assert_true(replay_contains(store, tag));
	replay_free(store);
	assert_int_equal(res.command, command_of(st));
	assert_int_equal(res.flags, intfield(st, "flags"));
	assert_int_equal(hexfield(st, "next_id", next_id, 32), 32);
	assert_memory_equal(res.next_id, next_id, 32);
	assert_int_equal(res.delay_ms, intfield(st, "delay_ms"));
	assert_int_equal(hexfield(st, "packet_out", want, sizeof(want)),
	    SPHINX_PACKET_BYTES);
	assert_memory_equal(pkt, want, SPHINX_PACKET_BYTES);
}

static void
test_vector(void **state)
{
	struct sphinx_hop hops[SPHINX_MAX_HOPS], back[SPHINX_MAX_HOPS];
	uint8_t priv[SPHINX_MAX_HOPS][32], back_priv[SPHINX_MAX_HOPS][32];
	uint8_t id[SURB_ID_BYTES], first_hop[32], got_first[32];
	uint8_t random[32 + SPHINX_MAX_HOPS * SPHINX_ROUTING_BLOCK_BYTES];
	uint8_t block[SPHINX_ACK_BYTES], w[SPHINX_PACKET_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES], ack[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	size_t msg_len, got_len, nrandom;
	int taken = 0;

	(void)state;
	json_t *v = load_vector("ack-6-hops.json");
	size_t nb = vector_path(v, "ack_hops", back, back_priv);
	size_t n = vector_path(v, "hops", hops, priv);

	/* The sender: the block, then the packet around it. */
	assert_int_equal(hexfield(v, "ack_id", id, sizeof(id)), SURB_ID_BYTES);
	assert_int_equal(hexfield(v, "ack_first_hop", first_hop, 32), 32);
	nrandom = hexfield(v, "ack_randomness", random, sizeof(random));
	struct fixed_rng fr = { random, nrandom, 0 };
	struct sphinx_rng rng = { fixed_fill, &fr };
	assert_int_equal(surb_ack_create(block, id, first_hop, back, nb, &rng),
	    SPHINX_OK);
	assert_int_equal(fr.used, nrandom);
	assert_int_equal(hexfield(v, "ack_block", w, sizeof(w)),
	    SPHINX_ACK_BYTES);
	assert_memory_equal(block, w, SPHINX_ACK_BYTES);

	nrandom = hexfield(v, "randomness", random, sizeof(random));
	msg_len = hexfield(v, "message", msg, sizeof(msg));
	fr = (struct fixed_rng){ random, nrandom, 0 };
	assert_int_equal(sphinx_create_acked(pkt, hops, n, block, msg, msg_len,
	    &rng), SPHINX_OK);
	assert_int_equal(fr.used, nrandom);
	assert_int_equal(hexfield(v, "packet", w, sizeof(w)),
	    SPHINX_PACKET_BYTES);
	assert_memory_equal(pkt, w, SPHINX_PACKET_BYTES);

	/* The message's hops; the egress provider takes the block out. */
	json_t *steps = json_object_get(v, "steps");
	assert_int_equal(json_array_size(steps), n);
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(steps, i);
		const char *op = json_string_value(json_object_get(st,
		    "operation"));
		assert_int_equal(intfield(st, "hop"), i);
		if (strcmp(op, "unwrap") == 0) {
			uint8_t tag[32], gtag[32];
			assert_int_equal(i + 1, n);
			assert_int_equal(sphinx_unwrap(priv[i], pkt, got,
			    &got_len, gtag), SPHINX_OK);
			assert_int_equal(hexfield(st, "message", w, sizeof(w)),
			    msg_len);
			assert_int_equal(got_len, msg_len);
			assert_memory_equal(got, w, msg_len);
			assert_int_equal(hexfield(st, "replay_tag", tag, 32), 32);
			assert_memory_equal(gtag, tag, 32);
			break;
		}
		assert_string_equal(op, "process");
		vector_process(st, priv[i], pkt);
		if (json_object_get(st, "stored_packet") == NULL)
			continue;
		assert_int_equal(surb_ack_take(pkt, ack, got_first), SPHINX_OK);
		taken = 1;
		assert_int_equal(hexfield(st, "ack_first_hop", w, 32), 32);
		assert_memory_equal(got_first, w, 32);
		assert_memory_equal(got_first, first_hop, 32);
		assert_int_equal(hexfield(st, "stored_packet", w, sizeof(w)),
		    SPHINX_PACKET_BYTES);
		assert_memory_equal(pkt, w, SPHINX_PACKET_BYTES);
	}
	assert_true(taken);

	/* The acknowledgement: the block's header, the vector's payload in
	 * place of surb_ack_take()'s random one. */
	assert_int_equal(hexfield(v, "ack_packet", w, sizeof(w)),
	    SPHINX_PACKET_BYTES);
	assert_memory_equal(ack, w, SPHINX_HEADER_BYTES);
	assert_memory_equal(ack, block + SPHINX_NODE_ID_BYTES,
	    SPHINX_HEADER_BYTES);
	assert_int_equal(hexfield(v, "ack_payload", ack + SPHINX_HEADER_BYTES,
	    SPHINX_PAYLOAD_BYTES), SPHINX_PAYLOAD_BYTES);
	assert_memory_equal(ack, w, SPHINX_PACKET_BYTES);

	steps = json_object_get(v, "ack_steps");
	assert_int_equal(json_array_size(steps), nb);
	for (size_t i = 0; i < nb; i++) {
		json_t *st = json_array_get(steps, i);
		const char *op = json_string_value(json_object_get(st,
		    "operation"));
		assert_int_equal(intfield(st, "hop"), i);
		if (strcmp(op, "ack") == 0) {
			uint8_t got_id[SURB_ID_BYTES];
			int is_ack = 0;
			assert_int_equal(i + 1, nb);
			assert_int_equal(command_of(st), SPHINX_CMD_REPLY);
			assert_int_equal(intfield(st, "flags"), SPHINX_FLAG_ACK);
			assert_int_equal(surb_reply_kind(back_priv[i], ack,
			    got_id, &is_ack), SPHINX_OK);
			assert_int_equal(is_ack, 1);
			assert_int_equal(hexfield(st, "ack_id", w, sizeof(w)),
			    SURB_ID_BYTES);
			assert_memory_equal(got_id, w, SURB_ID_BYTES);
			assert_memory_equal(got_id, id, SURB_ID_BYTES);
			assert_int_equal(sphinx_unwrap(back_priv[i], ack, got,
			    &got_len, NULL), SPHINX_ERR_COMMAND);
			json_decref(v);
			return;
		}
		assert_string_equal(op, "process");
		vector_process(st, back_priv[i], ack);
	}
	fail_msg("ack_steps: no \"ack\" step");
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
		cmocka_unit_test(test_vector),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
