/*
 * keyd's side of reply blocks (docs/replies.md): the path of a block
 * (src/keyd/packet.c, packet_build_surb) and the sealing of its kept keys
 * (src/keyd/seal.c).
 *  - A block leads from the replier's provider through a mixnode of each
 *    layer to our provider, which delivers it to us; its first hop is the
 *    replier's provider; every hop's key is of the block's epoch, and the
 *    block expires when that key does. A reply made from it (and a
 *    request for more) crosses those nodes with their keys and opens at
 *    the creator with the kept keys.
 *  - In the second half of an epoch the next epoch's keys are taken where
 *    every hop has them, else the current one's; no common epoch: refused.
 *  - Sealed keys open only under the same private key, whole and unchanged.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/epoch.h"
#include "common/replay.h"
#include "common/surb.h"
#include "common/topology.h"
#include "keyd/packet.h"
#include "keyd/seal.h"

#define SECS	3600u
/* The path's nodes in order: the replier's provider, mixes 1-3, ours. */
enum { P_REPLIER, MIX1, MIX2, MIX3, P_OURS, NODES };

static struct topology_node mixes[3], providers[2];
static struct topology topo = {
	.mixnodes = mixes, .n_mixnodes = 3, .providers = providers,
	.n_providers = 2, .epoch_seconds = SECS,
};
static struct topology_node *node[NODES] = {
	&providers[0], &mixes[0], &mixes[1], &mixes[2], &providers[1],
};
static uint8_t priv[NODES][2][32];	/* of epochs e and e + 1 */
static uint8_t own_priv[32], own_pub[32];
static uint64_t e;

static void
node_init(int i)
{
	struct topology_node *n = node[i];

	memset(n, 0, sizeof(*n));
	randombytes_buf(n->pub, 32);		/* its identity, as next ids name it */
	n->layer = i == P_REPLIER || i == P_OURS ? TOPOLOGY_PROVIDER_LAYER : (uint32_t)i;
	n->verified = 1;
	n->n_keys = 2;
	for (int k = 0; k < 2; k++) {
		n->keys[k].epoch = e + (uint64_t)k;
		crypto_box_keypair(n->keys[k].key, priv[i][k]);
	}
}

static int
setup(void **state)
{
	assert_true(sodium_init() >= 0);
	e = epoch_at(epoch_now_ms(), SECS);
	for (int i = 0; i < NODES; i++)
		node_init(i);
	crypto_box_keypair(own_pub, own_priv);
	return 0;
}

static struct packet_route
route(void)
{
	struct packet_route r = { .topology = &topo, .own_pub = own_pub,
	    .own_provider = providers[1].pub, .mean_delay_ms = 0 };
	return r;
}

/* The reply packet crosses the nodes; 0, or the first error. */
static int
cross(uint8_t *pkt, uint64_t epoch)
{
	struct replay_params params = { .packets_per_second = 16, .epoch_seconds = 1,
	    .false_positive_rate = 1e-9 };

	for (int i = 0; i < NODES; i++) {
		struct replay_store *store;
		struct sphinx_hop_result res;
		assert_int_equal(replay_new(&store, &params), REPLAY_OK);
		int rc = sphinx_process(priv[i][epoch - e], store, pkt, pkt, &res);
		replay_free(store);
		if (rc != SPHINX_OK)
			return rc;
		assert_int_equal(res.command, i == P_OURS ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY);
		assert_memory_equal(res.next_id, i == P_OURS ? own_pub : node[i + 1]->pub, 32);
	}
	return 0;
}

static void
test_block_path(void **state)
{
	struct packet_route r = route();
	struct packet_surb s;
	struct surb_info info;
	struct packet_contents pc;
	uint8_t keys[SURB_KEYS_BYTES], pkt[SPHINX_PACKET_BYTES], id[SURB_ID_BYTES];
	uint8_t msgid[PACKET_MSGID_BYTES], msg[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;

	assert_int_equal(packet_build_surb(&s, keys, &r, providers[0].pub), PACKET_OK);
	assert_int_equal(surb_parse(s.surb, sizeof(s.surb), &info), SPHINX_OK);
	assert_memory_equal(info.first_hop, providers[0].pub, 32);
	assert_true(s.epoch == e || s.epoch == e + 1);
	assert_int_equal(info.epoch, s.epoch);
	assert_int_equal(s.expires_ms, epoch_key_expiry_ms(s.epoch, SECS));

	for (unsigned more = 0; more <= 4; more += 4) {
		memset(msgid, (int)more + 1, sizeof(msgid));
		assert_int_equal(packet_build_reply(pkt, s.surb, msgid,
		    (const uint8_t *)"hi", more ? 0 : 2, more), SPHINX_OK);
		assert_int_equal(cross(pkt, s.epoch), 0);
		assert_int_equal(surb_reply_id(own_priv, pkt, id), SPHINX_OK);
		assert_memory_equal(id, s.id, sizeof(id));
		assert_int_equal(surb_open(own_priv, keys, sizeof(keys), pkt, msg, &len),
		    SPHINX_OK);
		memset(&pc, 0, sizeof(pc));
		assert_int_equal(packet_read_message(msg, len, &pc), PACKET_OK);
		assert_memory_equal(pc.msgid, msgid, sizeof(msgid));
		assert_int_equal(pc.tagged, 0);
		assert_int_equal(pc.more, more);
		assert_int_equal(pc.message_len, more ? 0 : 2);
	}
	/* the other epoch's keys do not process it */
	assert_int_equal(packet_build_reply(pkt, s.surb, msgid, (const uint8_t *)"x", 1, 0),
	    SPHINX_OK);
	assert_int_not_equal(cross(pkt, s.epoch == e ? e + 1 : e), 0);
	/* a provider we do not know: no block */
	uint8_t unknown[32];
	randombytes_buf(unknown, sizeof(unknown));
	assert_int_equal(packet_build_surb(&s, keys, &r, unknown), PACKET_ERR_TOPOLOGY);
}

static void
test_block_epoch(void **state)
{
	struct packet_route r = route();
	struct packet_surb s;
	uint8_t keys[SURB_KEYS_BYTES];

	/* a mix without e + 1's key: the block is of e */
	mixes[1].n_keys = 1;
	assert_int_equal(packet_build_surb(&s, keys, &r, providers[0].pub), PACKET_OK);
	assert_int_equal(s.epoch, e);
	/* another without e's: no epoch every hop has */
	mixes[2].keys[0] = mixes[2].keys[1];
	mixes[2].n_keys = 1;
	assert_int_equal(packet_build_surb(&s, keys, &r, providers[0].pub), PACKET_ERR_EPOCH);
	/* and only e + 1 on every hop: the block is of e + 1 */
	for (int i = 0; i < NODES; i++)
		node_init(i);
	for (int i = 0; i < NODES; i++) {
		node[i]->keys[0] = node[i]->keys[1];
		node[i]->n_keys = 1;
		memcpy(priv[i][0], priv[i][1], 32);
	}
	assert_int_equal(packet_build_surb(&s, keys, &r, providers[0].pub), PACKET_OK);
	assert_int_equal(s.epoch, e + 1);
	for (int i = 0; i < NODES; i++)
		node_init(i);
}

static void
test_seal(void **state)
{
	uint8_t k1[SEAL_KEY_BYTES], k2[SEAL_KEY_BYTES], other[32];
	uint8_t keys[SURB_KEYS_BYTES], back[SURB_KEYS_BYTES];
	uint8_t sealed[MESSAGE_SEALED_KEYS_BYTES], again[MESSAGE_SEALED_KEYS_BYTES];

	randombytes_buf(keys, sizeof(keys));
	randombytes_buf(other, sizeof(other));
	seal_key(k1, own_priv);
	seal_key(k2, other);
	assert_memory_not_equal(k1, own_priv, 32);
	seal_keys(sealed, k1, keys);
	assert_int_equal(seal_open(back, k1, sealed, sizeof(sealed)), 0);
	assert_memory_equal(back, keys, sizeof(keys));
	/* a fresh nonce each time */
	seal_keys(again, k1, keys);
	assert_memory_not_equal(again, sealed, sizeof(sealed));
	/* another client's key, a changed byte, a short blob: nothing */
	assert_int_equal(seal_open(back, k2, sealed, sizeof(sealed)), -1);
	assert_true(sodium_is_zero(back, sizeof(back)));
	sealed[100] ^= 1;
	assert_int_equal(seal_open(back, k1, sealed, sizeof(sealed)), -1);
	sealed[100] ^= 1;
	assert_int_equal(seal_open(back, k1, sealed, sizeof(sealed) - 1), -1);
	assert_int_equal(seal_open(back, k1, NULL, sizeof(sealed)), -1);
	assert_int_equal(seal_open(back, k1, sealed, sizeof(sealed)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_path),
		cmocka_unit_test(test_block_epoch),
		cmocka_unit_test(test_seal),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
