/*
 * Unit tests of src/common/surb.c (docs/sphinx.md, section 17): a reply
 * through three mixnodes and two providers, every hop running the
 * unchanged sphinx_process(); a reply packet and a forward packet over
 * the same path are processed alike; tampering and wrong keys are
 * refused; a block used twice is a replay at its first hop; key phases;
 * the parsers of reply blocks and kept keys; and the committed vector
 * tests/vectors/sphinx/surb-6-hops.json, byte for byte.
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

/*
 * The nodes of a reply path: the replier's provider (0), three mixnodes,
 * the creator's provider (4); the creator is 5.  Every node has a key of
 * an even and of an odd epoch (docs/epochs.md); the creator one key.
 */
#define PATH_HOPS	6
#define CREATOR		5
#define EPOCH		491521u		/* odd: phase 1 */

struct node {
	uint8_t			 priv[2][32];	/* by key phase */
	uint8_t			 pub[2][32];
	struct replay_store	*store[2];
};

/* The replier's provider's identity, where replies are sent. */
static const uint8_t first_hop_id[32] = "identity of the first hop......";

struct fixture {
	struct node	nodes[PATH_HOPS];
	uint8_t		other_priv[32];		/* somebody else */
};

static void
key_of(uint8_t priv[32], uint8_t pub[32], const char *what, unsigned i,
    unsigned phase)
{
	char label[96];
	int len = snprintf(label, sizeof(label), "test_surb %s %u %u", what,
	    i, phase);
	crypto_generichash(priv, 32, (const uint8_t *)label, (size_t)len,
	    NULL, 0);
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

static struct replay_store *
new_store(void)
{
	struct replay_params params = {
		.packets_per_second = 256, .epoch_seconds = 1,
		.false_positive_rate = 1e-12,
	};
	struct replay_store *store;
	assert_int_equal(replay_new(&store, &params), REPLAY_OK);
	return store;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t pub[32];

	if (f == NULL)
		return -1;
	for (unsigned i = 0; i < PATH_HOPS; i++)
		for (unsigned p = 0; p < 2; p++) {
			key_of(f->nodes[i].priv[p], f->nodes[i].pub[p], "node",
			    i, p);
			f->nodes[i].store[p] = new_store();
		}
	key_of(f->other_priv, pub, "other", 0, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < PATH_HOPS; i++)
		for (unsigned p = 0; p < 2; p++)
			replay_free(f->nodes[i].store[p]);
	free(f);
	return 0;
}

/* Fresh replay stores: every test starts from empty ones. */
static void
reset_stores(struct fixture *f)
{
	for (unsigned i = 0; i < PATH_HOPS; i++)
		for (unsigned p = 0; p < 2; p++)
			replay_reset(f->nodes[i].store[p], f->nodes[i].pub[p]);
}

/*
 * The path to the creator, as for a forward packet to itself: relay at
 * the replier's provider and the mixnodes, deliver at the creator's
 * provider, final at the creator (phase 0); nodes' keys of phase.
 */
static void
reply_path(const struct fixture *f, struct sphinx_hop *hops, unsigned phase)
{
	memset(hops, 0, PATH_HOPS * sizeof(*hops));
	for (unsigned i = 0; i < PATH_HOPS; i++) {
		unsigned ph = i == CREATOR ? 0 : phase;
		memcpy(hops[i].node_pub, f->nodes[i].pub[ph], 32);
		hops[i].key_phase = (uint8_t)ph;
		if (i == CREATOR) {
			hops[i].command = SPHINX_CMD_FINAL;
			continue;
		}
		hops[i].command = i + 1 == CREATOR ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		/* Next ids are long-term identities; any 32 bytes do here. */
		memcpy(hops[i].next_id, f->nodes[i + 1].pub[0], 32);
		hops[i].delay_ms = 100u * i + 3u;
	}
}

/*
 * Runs pkt through the nodes 0 .. n-2, each choosing its key by the key
 * phase the packet names, as a node does; checks each hop's result
 * against hops.  Returns the first error, or SPHINX_OK with pkt as the
 * creator receives it.
 */
static int
walk(struct fixture *f, const struct sphinx_hop *hops, size_t n, uint8_t *pkt,
    struct sphinx_hop_result *results)
{
	for (size_t i = 0; i + 1 < n; i++) {
		struct sphinx_hop_result res;
		unsigned ph = sphinx_key_phase(pkt);
		int rc = sphinx_process(f->nodes[i].priv[ph],
		    f->nodes[i].store[ph], pkt, pkt, &res);
		if (rc != SPHINX_OK)
			return rc;
		assert_int_equal(res.command, hops[i].command);
		assert_int_equal(res.delay_ms, hops[i].delay_ms);
		assert_memory_equal(res.next_id, hops[i].next_id, 32);
		if (results != NULL)
			results[i] = res;
	}
	return SPHINX_OK;
}

static void
make_surb(struct fixture *f, uint8_t surb[SURB_BYTES],
    uint8_t keys[SURB_KEYS_BYTES], uint8_t id[SURB_ID_BYTES])
{
	struct sphinx_hop hops[PATH_HOPS];

	reply_path(f, hops, EPOCH & 1);
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
	    PATH_HOPS, EPOCH, NULL), SPHINX_OK);
}

/* ---------------------------------------------------------------- */

static void
test_geometry(void **state)
{
	(void)state;
	assert_int_equal(SURB_BYTES, 456);
	assert_int_equal(SURB_KEYS_BYTES, 704);
	assert_int_equal(SURB_ID_BYTES, 16);
}

/* Replies of every length class arrive intact through all five nodes. */
static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	static const size_t lens[] = { 0, 1, 17, 1000, SPHINX_MAX_MESSAGE_BYTES };
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t got_id[SURB_ID_BYTES], pkt[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	struct surb_info info;
	size_t got_len;

	reply_path(f, hops, EPOCH & 1);
	randombytes_buf(msg, sizeof(msg));
	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		reset_stores(f);
		make_surb(f, surb, keys, id);
		assert_int_equal(surb_use(pkt, &info, surb, sizeof(surb), msg,
		    lens[t]), SPHINX_OK);
		assert_int_equal(info.epoch, EPOCH);
		assert_memory_equal(info.first_hop, first_hop_id, 32);
		assert_int_equal(walk(f, hops, PATH_HOPS, pkt, NULL), SPHINX_OK);

		assert_int_equal(surb_reply_id(f->nodes[CREATOR].priv[0], pkt,
		    got_id), SPHINX_OK);
		assert_memory_equal(got_id, id, SURB_ID_BYTES);
		assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
		    sizeof(keys), pkt, got, &got_len), SPHINX_OK);
		assert_int_equal(got_len, lens[t]);
		assert_memory_equal(got, msg, lens[t]);
	}
}

/* Shorter paths too: two hops (provider, creator) up to six. */
static void
test_roundtrip_every_length(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	size_t got_len;

	for (size_t n = SURB_MIN_HOPS; n <= PATH_HOPS; n++) {
		reset_stores(f);
		reply_path(f, hops, 0);
		/* Nodes 0 .. n-2, then the creator. */
		hops[n - 2].command = SPHINX_CMD_DELIVER;
		hops[n - 1] = hops[CREATOR];
		assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
		    n, 2, NULL), SPHINX_OK);
		assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb),
		    (const uint8_t *)"short", 5), SPHINX_OK);
		assert_int_equal(walk(f, hops, n, pkt, NULL), SPHINX_OK);
		assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
		    sizeof(keys), pkt, got, &got_len), SPHINX_OK);
		assert_int_equal(got_len, 5);
		assert_memory_equal(got, "short", 5);
	}
}

/*
 * Indistinguishability at the hops (docs/sphinx.md, section 17): a reply
 * and a forward packet over the same path have the same size, go through
 * the same function at every hop with the same result, and the packets
 * passed on have the same size.  (What differs is inside the encryption:
 * the creator's routing block and the payload's layers.)
 */
static void
test_same_processing_as_forward(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t reply[SPHINX_PACKET_BYTES], fwd[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	struct sphinx_hop_result rr[PATH_HOPS], fr[PATH_HOPS];
	uint8_t msg[64];

	reset_stores(f);
	randombytes_buf(msg, sizeof(msg));
	reply_path(f, hops, EPOCH & 1);
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
	    PATH_HOPS, EPOCH, NULL), SPHINX_OK);
	assert_int_equal(surb_use(reply, NULL, surb, sizeof(surb), msg,
	    sizeof(msg)), SPHINX_OK);
	assert_int_equal(sphinx_create(fwd, hops, PATH_HOPS, msg, sizeof(msg),
	    NULL), SPHINX_OK);
	assert_int_equal(sizeof(reply), sizeof(fwd));
	assert_int_equal(sphinx_key_phase(reply), sphinx_key_phase(fwd));

	assert_int_equal(walk(f, hops, PATH_HOPS, reply, rr), SPHINX_OK);
	assert_int_equal(walk(f, hops, PATH_HOPS, fwd, fr), SPHINX_OK);
	for (size_t i = 0; i + 1 < PATH_HOPS; i++) {
		assert_int_equal(rr[i].command, fr[i].command);
		assert_int_equal(rr[i].delay_ms, fr[i].delay_ms);
		assert_memory_equal(rr[i].next_id, fr[i].next_id, 32);
	}
	/* At the end each goes to its own function, and only there. */
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES], gid[SURB_ID_BYTES];
	size_t got_len;
	assert_int_equal(sphinx_unwrap(f->nodes[CREATOR].priv[0], reply, got,
	    &got_len, NULL), SPHINX_ERR_COMMAND);
	assert_int_equal(surb_reply_id(f->nodes[CREATOR].priv[0], fwd, gid),
	    SPHINX_ERR_COMMAND);
	assert_true(sodium_is_zero(gid, sizeof(gid)));
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
	    sizeof(keys), fwd, got, &got_len), SPHINX_ERR_COMMAND);
	/* A node that is handed a reply's last layer treats it as FINAL. */
	struct sphinx_hop_result res;
	uint8_t out[SPHINX_PACKET_BYTES];
	assert_int_equal(sphinx_process(f->nodes[CREATOR].priv[0],
	    f->nodes[CREATOR].store[0], reply, out, &res), SPHINX_ERR_COMMAND);
	assert_true(sodium_is_zero(out, sizeof(out)));
}

/* Any change to the reply on its way is caught: header at the hop,
 * payload at the creator. */
static void
test_tampered_reply_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES], bad[SPHINX_PACKET_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	size_t got_len;
	unsigned caught = 0;

	reset_stores(f);
	reply_path(f, hops, EPOCH & 1);
	make_surb(f, surb, keys, id);
	assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb),
	    (const uint8_t *)"reply", 5), SPHINX_OK);
	assert_int_equal(walk(f, hops, PATH_HOPS, pkt, NULL), SPHINX_OK);

	/* Every 7th payload bit (and the last), at the creator. */
	for (size_t bit = 0; bit < SPHINX_PAYLOAD_BYTES * 8; bit += 7) {
		memcpy(bad, pkt, sizeof(bad));
		bad[SPHINX_HEADER_BYTES + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		got_len = 1;
		assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
		    sizeof(keys), bad, got, &got_len), SPHINX_ERR_PAYLOAD);
		assert_int_equal(got_len, 0);
		assert_true(sodium_is_zero(got, sizeof(got)));
		caught++;
	}
	/* Every header bit, at the creator. */
	for (size_t bit = 0; bit < SPHINX_HEADER_BYTES * 8; bit++) {
		memcpy(bad, pkt, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = surb_open(f->nodes[CREATOR].priv[0], keys,
		    sizeof(keys), bad, got, &got_len);
		assert_true(rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
		caught++;
	}
	/* A payload changed at the first hop: the hops cannot tell, the
	 * creator can. */
	reset_stores(f);
	assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb),
	    (const uint8_t *)"reply", 5), SPHINX_OK);
	pkt[SPHINX_PACKET_BYTES - 1] ^= 1;
	assert_int_equal(walk(f, hops, PATH_HOPS, pkt, NULL), SPHINX_OK);
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
	    sizeof(keys), pkt, got, &got_len), SPHINX_ERR_PAYLOAD);
	print_message("%u tampered replies refused\n", caught + 1);
}

static void
test_wrong_keys_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t surb2[SURB_BYTES], keys2[SURB_KEYS_BYTES], id2[SURB_ID_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES], bad[SURB_KEYS_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	size_t got_len;

	reset_stores(f);
	reply_path(f, hops, EPOCH & 1);
	make_surb(f, surb, keys, id);
	make_surb(f, surb2, keys2, id2);
	assert_memory_not_equal(id, id2, SURB_ID_BYTES);
	assert_memory_not_equal(surb, surb2, SURB_BYTES);
	assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb),
	    (const uint8_t *)"reply", 5), SPHINX_OK);
	assert_int_equal(walk(f, hops, PATH_HOPS, pkt, NULL), SPHINX_OK);

	/* Another block's keys: the ids differ. */
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys2,
	    sizeof(keys2), pkt, got, &got_len), SPHINX_ERR_INVALID);
	/* This block's id, but a damaged key: the layers do not come off. */
	for (size_t off = 32; off < 64 + 4 * SURB_HOP_KEYS_BYTES; off += 29) {
		memcpy(bad, keys, sizeof(bad));
		bad[off] ^= 0x20;
		assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], bad,
		    sizeof(bad), pkt, got, &got_len), SPHINX_ERR_PAYLOAD);
	}
	/* The right keys with another private key: the header fails. */
	assert_int_equal(surb_open(f->other_priv, keys, sizeof(keys), pkt, got,
	    &got_len), SPHINX_ERR_MAC);
	assert_int_equal(surb_reply_id(f->other_priv, pkt, id2),
	    SPHINX_ERR_MAC);
	/* Damaged bookkeeping: malformed, before any key is used. */
	memcpy(bad, keys, sizeof(bad));
	bad[24] = 7;
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], bad, sizeof(bad),
	    pkt, got, &got_len), SPHINX_ERR_MALFORMED);
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
	    sizeof(keys) - 1, pkt, got, &got_len), SPHINX_ERR_MALFORMED);
	/* And the right ones still work. */
	assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
	    sizeof(keys), pkt, got, &got_len), SPHINX_OK);
}

/*
 * Single use: whatever the replier puts in, two packets from one block
 * share the header, hence the first hop's replay tag, and the second is
 * dropped there.
 */
static void
test_used_twice_is_replay(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t a[SPHINX_PACKET_BYTES], b[SPHINX_PACKET_BYTES];
	uint8_t out[SPHINX_PACKET_BYTES], ta[32], tb[32];
	struct sphinx_hop_result res;
	unsigned ph = EPOCH & 1;

	reset_stores(f);
	make_surb(f, surb, keys, id);
	assert_int_equal(surb_use(a, NULL, surb, sizeof(surb),
	    (const uint8_t *)"first", 5), SPHINX_OK);
	assert_int_equal(surb_use(b, NULL, surb, sizeof(surb),
	    (const uint8_t *)"second reply", 12), SPHINX_OK);
	assert_memory_equal(a, b, SPHINX_HEADER_BYTES);
	assert_memory_not_equal(a + SPHINX_HEADER_BYTES, b + SPHINX_HEADER_BYTES,
	    SPHINX_PAYLOAD_BYTES);
	assert_int_equal(sphinx_replay_tag(f->nodes[0].priv[ph], a, ta),
	    SPHINX_OK);
	assert_int_equal(sphinx_replay_tag(f->nodes[0].priv[ph], b, tb),
	    SPHINX_OK);
	assert_memory_equal(ta, tb, 32);

	assert_int_equal(sphinx_process(f->nodes[0].priv[ph],
	    f->nodes[0].store[ph], a, out, &res), SPHINX_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv[ph],
	    f->nodes[0].store[ph], b, out, &res), SPHINX_ERR_REPLAY);
	/* The same message twice: the very same packet. */
	assert_int_equal(surb_use(b, NULL, surb, sizeof(surb),
	    (const uint8_t *)"first", 5), SPHINX_OK);
	assert_memory_equal(a, b, sizeof(a));
}

/*
 * A block built for epoch e names the phase e mod 2 at every node, whose
 * key of that epoch processes it; a node that holds only the key of the
 * other phase cannot (the MAC fails).  A path that mixes phases, or a
 * creator hop with phase 1, is refused.
 */
static void
test_epoch_key_phase(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hops[PATH_HOPS];
	struct sphinx_hop_result res;
	struct surb_info info;
	size_t got_len;

	for (uint64_t epoch = 10; epoch < 12; epoch++) {
		unsigned ph = (unsigned)(epoch & 1);
		reset_stores(f);
		reply_path(f, hops, ph);
		assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
		    PATH_HOPS, epoch, NULL), SPHINX_OK);
		assert_int_equal(surb_parse(surb, sizeof(surb), &info),
		    SPHINX_OK);
		assert_int_equal(info.epoch, epoch);
		assert_int_equal(surb_keys_parse(keys, sizeof(keys), NULL,
		    &info.epoch), SPHINX_OK);
		assert_int_equal(info.epoch, epoch);
		assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb),
		    (const uint8_t *)"x", 1), SPHINX_OK);
		assert_int_equal(sphinx_key_phase(pkt), ph);
		/* The other epoch's key at the first hop: not for it. */
		assert_int_equal(sphinx_process(f->nodes[0].priv[!ph],
		    f->nodes[0].store[!ph], pkt, out, &res), SPHINX_ERR_MAC);
		/* walk() picks every node's key by the packet's phase. */
		for (size_t i = 0; i + 1 < PATH_HOPS; i++) {
			assert_int_equal(sphinx_key_phase(pkt), ph);
			assert_int_equal(sphinx_process(f->nodes[i].priv[ph],
			    f->nodes[i].store[ph], pkt, pkt, &res), SPHINX_OK);
		}
		assert_int_equal(sphinx_key_phase(pkt), 0);
		assert_int_equal(surb_open(f->nodes[CREATOR].priv[0], keys,
		    sizeof(keys), pkt, got, &got_len), SPHINX_OK);
	}

	reply_path(f, hops, 1);
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
	    PATH_HOPS, 10, NULL), SPHINX_ERR_INVALID);
	hops[2].key_phase = 0;
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
	    PATH_HOPS, 11, NULL), SPHINX_ERR_INVALID);
	reply_path(f, hops, 1);
	hops[CREATOR].key_phase = 1;
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
	    PATH_HOPS, 11, NULL), SPHINX_ERR_INVALID);
}

static int
fail_fill(void *ctx, uint8_t *buf, size_t len)
{
	unsigned *calls = ctx;
	(void)buf;
	(void)len;
	return --*calls == 0 ? -1 : (randombytes_buf(buf, len), 0);
}

static void
test_create_invalid(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	struct sphinx_hop hops[PATH_HOPS], bad[PATH_HOPS];

	reply_path(f, hops, 0);
#define REFUSED(h, n)	do {						\
	memset(surb, 0xaa, sizeof(surb));				\
	memset(keys, 0xaa, sizeof(keys));				\
	memset(id, 0xaa, sizeof(id));					\
	assert_int_equal(surb_create(surb, keys, id, first_hop_id, h, n,	\
	    0, NULL), SPHINX_ERR_INVALID);					\
	assert_true(sodium_is_zero(surb, sizeof(surb)));		\
	assert_true(sodium_is_zero(keys, sizeof(keys)));		\
	assert_true(sodium_is_zero(id, sizeof(id)));			\
} while (0)
	REFUSED(hops, 0);
	REFUSED(hops + CREATOR, 1);	/* no node: nothing to send it to */
	REFUSED(hops, PATH_HOPS + 1);
	REFUSED(NULL, PATH_HOPS);
	memcpy(bad, hops, sizeof(bad));
	bad[CREATOR].command = SPHINX_CMD_DROP;
	REFUSED(bad, PATH_HOPS);
	memcpy(bad, hops, sizeof(bad));
	bad[CREATOR].command = SPHINX_CMD_REPLY;
	REFUSED(bad, PATH_HOPS);
	memcpy(bad, hops, sizeof(bad));
	bad[CREATOR].delay_ms = 1;
	REFUSED(bad, PATH_HOPS);
	memcpy(bad, hops, sizeof(bad));
	bad[CREATOR].next_id[31] = 1;
	REFUSED(bad, PATH_HOPS);
	memcpy(bad, hops, sizeof(bad));
	bad[1].command = SPHINX_CMD_FINAL;
	REFUSED(bad, PATH_HOPS);
#undef REFUSED
	assert_int_equal(surb_create(NULL, keys, id, first_hop_id, hops,
	    PATH_HOPS, 0, NULL), SPHINX_ERR_INVALID);
	assert_int_equal(surb_create(surb, keys, id, NULL, hops, PATH_HOPS, 0,
	    NULL), SPHINX_ERR_INVALID);
	/* A forward packet cannot carry a REPLY block. */
	uint8_t pkt[SPHINX_PACKET_BYTES];
	memcpy(bad, hops, sizeof(bad));
	bad[CREATOR].command = SPHINX_CMD_REPLY;
	assert_int_equal(sphinx_create(pkt, bad, PATH_HOPS, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);

	/* The randomness fails at each of its draws: nothing is left. */
	for (unsigned at = 1; at <= 3; at++) {
		unsigned calls = at;
		struct sphinx_rng rng = { fail_fill, &calls };
		memset(keys, 0xaa, sizeof(keys));
		assert_int_equal(surb_create(surb, keys, id, first_hop_id, hops,
		    PATH_HOPS, 0, &rng), SPHINX_ERR_RNG);
		assert_true(sodium_is_zero(surb, sizeof(surb)));
		assert_true(sodium_is_zero(keys, sizeof(keys)));
		assert_true(sodium_is_zero(id, sizeof(id)));
	}
}

/* The parsers of what comes from outside: reply blocks and kept keys. */
static void
test_parsers(void **state)
{
	struct fixture *f = *state;
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t bad[SURB_KEYS_BYTES], pkt[SPHINX_PACKET_BYTES], gid[SURB_ID_BYTES];
	struct surb_info info;
	uint64_t epoch;

	make_surb(f, surb, keys, id);
	assert_int_equal(surb_parse(surb, sizeof(surb), NULL), SPHINX_OK);
	assert_int_equal(surb_parse(surb, sizeof(surb) - 1, &info),
	    SPHINX_ERR_MALFORMED);
	assert_true(sodium_is_zero((uint8_t *)&info.first_hop, 32));
	assert_int_equal(surb_parse(NULL, sizeof(surb), &info),
	    SPHINX_ERR_MALFORMED);
	/* alpha = p: not canonical; with the phase bit: still p. */
	memcpy(bad, surb, sizeof(surb));
	memset(bad + 40, 0xff, 32);
	bad[40] = 0xed;
	assert_int_equal(surb_parse(bad, SURB_BYTES, &info),
	    SPHINX_ERR_MALFORMED);
	memset(pkt, 0xaa, sizeof(pkt));
	assert_int_equal(surb_use(pkt, &info, bad, SURB_BYTES, NULL, 0),
	    SPHINX_ERR_MALFORMED);
	assert_true(sodium_is_zero(pkt, sizeof(pkt)));
	assert_int_equal(surb_use(pkt, &info, surb, SURB_BYTES, NULL, 1),
	    SPHINX_ERR_INVALID);
	assert_int_equal(surb_use(pkt, &info, surb, SURB_BYTES, pkt,
	    SPHINX_MAX_MESSAGE_BYTES + 1), SPHINX_ERR_INVALID);
	assert_true(sodium_is_zero(pkt, sizeof(pkt)));

	assert_int_equal(surb_keys_parse(keys, sizeof(keys), gid, &epoch),
	    SPHINX_OK);
	assert_memory_equal(gid, id, sizeof(id));
	assert_int_equal(epoch, EPOCH);
	/* n below 2 or above 6, reserved bytes not zero. */
	static const struct { size_t off; uint8_t val; } damage[] = {
		{ 24, 1 }, { 24, 7 }, { 24, 0 }, { 25, 1 }, { 31, 0x80 },
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		memcpy(bad, keys, sizeof(bad));
		bad[damage[i].off] = damage[i].val;
		assert_int_equal(surb_keys_parse(bad, sizeof(bad), gid, &epoch),
		    SPHINX_ERR_MALFORMED);
		assert_true(sodium_is_zero(gid, sizeof(gid)));
		assert_int_equal(epoch, 0);
	}
	/* n = 5 with the fifth key present: its slot must be zero. */
	memcpy(bad, keys, sizeof(bad));
	bad[24] = 5;
	assert_int_equal(surb_keys_parse(bad, sizeof(bad), NULL, NULL),
	    SPHINX_ERR_MALFORMED);
	assert_int_equal(surb_keys_parse(NULL, sizeof(keys), NULL, NULL),
	    SPHINX_ERR_MALFORMED);
	assert_int_equal(surb_reply_id(f->nodes[CREATOR].priv[0], pkt, NULL),
	    SPHINX_ERR_INVALID);
}

/* ---------------------------------------------------------------- */
/* The committed vector                                              */
/* ---------------------------------------------------------------- */

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

static void
test_vector(void **state)
{
	(void)state;
	json_t *v = load_vector("surb-6-hops.json");
	json_t *jh = json_object_get(v, "hops");
	size_t n = json_array_size(jh);
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	uint8_t priv[SPHINX_MAX_HOPS][32];
	uint8_t random[16 + 32 + SPHINX_MAX_HOPS * 56 + 32];
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	uint8_t want[SPHINX_PACKET_BYTES], pkt[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	size_t msg_len, got_len;

	assert_true(n >= SURB_MIN_HOPS && n <= SPHINX_MAX_HOPS);
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(jh, i);
		assert_int_equal(hexfield(h, "private_key", priv[i], 32), 32);
		assert_int_equal(hexfield(h, "public_key", hops[i].node_pub, 32),
		    32);
		hops[i].command = (uint8_t)vector_command(json_string_value(
		    json_object_get(h, "command")), SPHINX_CMD_REPLY);
		assert_int_equal(hexfield(h, "next_id", hops[i].next_id, 32), 32);
		hops[i].delay_ms = (uint32_t)json_integer_value(
		    json_object_get(h, "delay_ms"));
		hops[i].key_phase = (uint8_t)json_integer_value(
		    json_object_get(h, "key_phase"));
	}
	uint64_t epoch = (uint64_t)json_integer_value(json_object_get(v,
	    "epoch"));
	size_t nrandom = hexfield(v, "randomness", random, sizeof(random));
	uint8_t first_hop[32];
	assert_int_equal(hexfield(v, "first_hop", first_hop, 32), 32);
	struct fixed_rng fr = { random, nrandom, 0 };
	struct sphinx_rng rng = { fixed_fill, &fr };
	assert_int_equal(surb_create(surb, keys, id, first_hop, hops, n, epoch,
	    &rng), SPHINX_OK);
	assert_int_equal(fr.used, nrandom);

	uint8_t w[SURB_KEYS_BYTES];
	assert_int_equal(hexfield(v, "surb_id", w, sizeof(w)), SURB_ID_BYTES);
	assert_memory_equal(id, w, SURB_ID_BYTES);
	assert_int_equal(hexfield(v, "surb", w, sizeof(w)), SURB_BYTES);
	assert_memory_equal(surb, w, SURB_BYTES);
	assert_int_equal(hexfield(v, "kept_keys", w, sizeof(w)),
	    SURB_KEYS_BYTES);
	assert_memory_equal(keys, w, SURB_KEYS_BYTES);

	msg_len = hexfield(v, "message", msg, sizeof(msg));
	assert_int_equal(surb_use(pkt, NULL, surb, sizeof(surb), msg, msg_len),
	    SPHINX_OK);
	assert_int_equal(hexfield(v, "packet", want, sizeof(want)),
	    SPHINX_PACKET_BYTES);
	assert_memory_equal(pkt, want, sizeof(pkt));

	json_t *steps = json_object_get(v, "steps");
	assert_int_equal(json_array_size(steps), n);
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(steps, i);
		const char *op = json_string_value(json_object_get(st,
		    "operation"));
		if (strcmp(op, "open") == 0) {
			assert_int_equal(i + 1, n);
			assert_int_equal(surb_reply_id(priv[i], pkt, w),
			    SPHINX_OK);
			assert_memory_equal(w, id, SURB_ID_BYTES);
			assert_int_equal(surb_open(priv[i], keys, sizeof(keys),
			    pkt, got, &got_len), SPHINX_OK);
			assert_int_equal(got_len, msg_len);
			assert_memory_equal(got, msg, msg_len);
			break;
		}
		assert_string_equal(op, "process");
		struct replay_store *store = new_store();
		struct sphinx_hop_result res;
		uint8_t tag[32];
		assert_int_equal(sphinx_process(priv[i], store, pkt, pkt, &res),
		    SPHINX_OK);
		assert_int_equal(hexfield(st, "replay_tag", tag, 32), 32);
		assert_true(replay_contains(store, tag));
		replay_free(store);
		assert_int_equal(res.command, vector_command(json_string_value(
		    json_object_get(st, "command")), SPHINX_CMD_REPLY));
		assert_int_equal(hexfield(st, "packet_out", want, sizeof(want)),
		    SPHINX_PACKET_BYTES);
		assert_memory_equal(pkt, want, sizeof(pkt));
	}
	json_decref(v);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_roundtrip_every_length),
		cmocka_unit_test(test_same_processing_as_forward),
		cmocka_unit_test(test_tampered_reply_refused),
		cmocka_unit_test(test_wrong_keys_refused),
		cmocka_unit_test(test_used_twice_is_replay),
		cmocka_unit_test(test_epoch_key_phase),
		cmocka_unit_test(test_create_invalid),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_vector),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
