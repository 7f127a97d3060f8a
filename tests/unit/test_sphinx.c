/*
 * Unit tests of src/common/sphinx.c: round trips over every path shape,
 * every error case of docs/sphinx.md, the committed test vectors
 * (the JSON files in tests/vectors/sphinx/), exhaustive single-bit flips of one
 * packet, and a randomised property test over thousands of packets.
 *
 * Everything random is drawn from a seeded ChaCha20 stream, so a failure
 * reproduces; set SPHINX_TEST_SEED to explore other seeds, and
 * SPHINX_PROPERTY_PACKETS to run more (a soak) or fewer (under valgrind)
 * random packets than the default 2000.
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
#include "vectors.h"

#define NODES			8
#define PROPERTY_PACKETS	2000

/* ---------------------------------------------------------------- */
/* Deterministic randomness                                          */
/* ---------------------------------------------------------------- */

struct prng {
	uint8_t		key[32];
	uint64_t	block;
	uint8_t		buf[512];
	size_t		pos;
};

static void
prng_init(struct prng *p, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	crypto_generichash(p->key, sizeof(p->key), (const uint8_t *)&seed,
	    sizeof(seed), NULL, 0);
	p->pos = sizeof(p->buf);
}

static void
prng_bytes(struct prng *p, uint8_t *out, size_t len)
{
	while (len > 0) {
		if (p->pos == sizeof(p->buf)) {
			uint8_t nonce[12] = { 0 };
			memcpy(nonce, &p->block, sizeof(p->block));
			p->block++;
			crypto_stream_chacha20_ietf(p->buf, sizeof(p->buf),
			    nonce, p->key);
			p->pos = 0;
		}
		size_t n = sizeof(p->buf) - p->pos;
		if (n > len)
			n = len;
		memcpy(out, p->buf + p->pos, n);
		p->pos += n;
		out += n;
		len -= n;
	}
}

static uint32_t
prng_u32(struct prng *p)
{
	uint8_t b[4];
	prng_bytes(p, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

/* Uniform in [0, n) (n small, bias irrelevant for tests). */
static uint32_t
prng_below(struct prng *p, uint32_t n)
{
	return prng_u32(p) % n;
}

static int
prng_fill(void *ctx, uint8_t *buf, size_t len)
{
	prng_bytes(ctx, buf, len);
	return 0;
}

/* A source that serves a fixed byte string and fails when it runs out. */
struct fixed_rng {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 used;
	unsigned	 calls;
	unsigned	 fail_at_call;	/* 0: never */
};

static int
fixed_fill(void *ctx, uint8_t *out, size_t len)
{
	struct fixed_rng *r = ctx;
	r->calls++;
	if (r->fail_at_call != 0 && r->calls == r->fail_at_call)
		return -1;
	if (len > r->len - r->used)
		return -1;
	memcpy(out, r->buf + r->used, len);
	r->used += len;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Fixture: a pool of nodes, each with its replay store              */
/* ---------------------------------------------------------------- */

struct node {
	uint8_t			 priv[32];
	uint8_t			 pub[32];
	struct replay_store	*store;
};

struct fixture {
	struct node		 nodes[NODES];
	struct replay_store	*scratch;
	struct prng		 prng;
	uint64_t		 seed;
	int			 packets;	/* of the property test */
};

static struct replay_store *
new_store(double capacity)
{
	struct replay_params params = {
		.packets_per_second = capacity, .epoch_seconds = 1,
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
	if (f == NULL)
		return -1;
	const char *env = getenv("SPHINX_TEST_SEED");
	f->seed = env != NULL ? strtoull(env, NULL, 0) : 20240611;
	env = getenv("SPHINX_PROPERTY_PACKETS");
	f->packets = env != NULL ? atoi(env) : PROPERTY_PACKETS;
	prng_init(&f->prng, f->seed);
	for (int i = 0; i < NODES; i++) {
		prng_bytes(&f->prng, f->nodes[i].priv, 32);
		if (crypto_scalarmult_base(f->nodes[i].pub, f->nodes[i].priv) != 0)
			return -1;
		f->nodes[i].store = new_store(8.0 * (f->packets + 1));
	}
	f->scratch = new_store(64);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < NODES; i++)
		replay_free(f->nodes[i].store);
	replay_free(f->scratch);
	free(f);
	return 0;
}

/*
 * A path over nodes idx[0..n-1]: RELAY, ..., DELIVER (if n > 1), then
 * FINAL (or DROP).
 */
static void
make_path(struct fixture *f, struct sphinx_hop *hops, const int *idx,
    size_t n, int drop)
{
	memset(hops, 0, n * sizeof(*hops));
	for (size_t i = 0; i < n; i++) {
		memcpy(hops[i].node_pub, f->nodes[idx[i]].pub, 32);
		if (i + 1 == n) {
			hops[i].command = drop ? SPHINX_CMD_DROP : SPHINX_CMD_FINAL;
			continue;
		}
		hops[i].command = (i + 2 == n && !drop) ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, f->nodes[idx[i + 1]].pub, 32);
		hops[i].delay_ms = 1000u * (uint32_t)i + 7u;
	}
}

/*
 * Processes pkt along the path with the given stores (NULL: the nodes'
 * own) and checks every hop's result; returns the recipient's status.
 */
static int
walk(struct fixture *f, const struct sphinx_hop *hops, const int *idx,
    size_t n, uint8_t *pkt, struct replay_store *store, uint8_t *msg,
    size_t *msg_len)
{
	struct sphinx_hop_result res;

	for (size_t i = 0; i < n; i++) {
		const struct node *nd = &f->nodes[idx[i]];
		if (hops[i].command == SPHINX_CMD_FINAL)
			return sphinx_unwrap(nd->priv, pkt, msg, msg_len, NULL);
		int rc = sphinx_process(nd->priv, store ? store : nd->store,
		    pkt, pkt, &res);
		if (rc != SPHINX_OK)
			return rc;
		assert_int_equal(res.command, hops[i].command);
		assert_int_equal(res.delay_ms, hops[i].delay_ms);
		assert_memory_equal(res.next_id, hops[i].next_id, 32);
	}
	return SPHINX_OK;
}

/* ---------------------------------------------------------------- */
/* Basics                                                            */
/* ---------------------------------------------------------------- */

/*
 * Key phases (docs/sphinx.md, section 3): every hop receives the packet
 * with its own phase in alpha's top bit, whatever the phases around it,
 * and the message still arrives.  An invalid phase is refused at creation.
 */
static void
test_key_phases(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	int idx[SPHINX_MAX_HOPS] = { 0, 1, 2, 3, 4, 5 };
	uint8_t pkt[SPHINX_PACKET_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop_result res;
	size_t got_len;

	for (unsigned int bits = 0; bits < 64; bits++) {
		make_path(f, hops, idx, SPHINX_MAX_HOPS, 0);
		for (int i = 0; i < SPHINX_MAX_HOPS; i++)
			hops[i].key_phase = (uint8_t)((bits >> i) & 1);
		assert_int_equal(sphinx_create(pkt, hops, SPHINX_MAX_HOPS,
		    (const uint8_t *)"phase", 5, NULL), SPHINX_OK);
		for (int i = 0; i + 1 < SPHINX_MAX_HOPS; i++) {
			assert_int_equal(sphinx_key_phase(pkt), hops[i].key_phase);
			assert_int_equal(sphinx_process(f->nodes[i].priv,
			    f->scratch, pkt, pkt, &res), SPHINX_OK);
			replay_reset(f->scratch, f->nodes[0].pub);
		}
		assert_int_equal(sphinx_key_phase(pkt), hops[5].key_phase);
		assert_int_equal(sphinx_unwrap(f->nodes[5].priv, pkt, got,
		    &got_len, NULL), SPHINX_OK);
		assert_int_equal(got_len, 5);
		assert_memory_equal(got, "phase", 5);
	}
	make_path(f, hops, idx, 3, 0);
	hops[1].key_phase = 2;
	assert_int_equal(sphinx_create(pkt, hops, 3, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);
}

static void
test_geometry(void **state)
{
	(void)state;
	assert_int_equal(SPHINX_MAX_HOPS, 6);
	assert_int_equal(SPHINX_NODE_ID_BYTES, 32);
	assert_int_equal(SPHINX_ROUTING_BLOCK_BYTES, 1 + 3 + 4 + 32 + 16);
	assert_int_equal(SPHINX_BETA_BYTES, 336);
	assert_int_equal(SPHINX_HEADER_BYTES, 384);
	assert_int_equal(SPHINX_PAYLOAD_BYTES, 2066);
	assert_int_equal(SPHINX_PACKET_BYTES, 2450);
	assert_true(SPHINX_MAX_MESSAGE_BYTES >= 2048);
	assert_true(SPHINX_MAC_BYTES >= 16);
}

static void
test_roundtrip_every_path(void **state)
{
	struct fixture *f = *state;
	static const size_t lengths[] = { 0, 1, 1000, 2047, 2048 };
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t pkt[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	int idx[SPHINX_MAX_HOPS] = { 0, 1, 2, 3, 4, 5 };
	struct sphinx_rng rng = { prng_fill, &f->prng };

	for (size_t n = 1; n <= SPHINX_MAX_HOPS; n++) {
		for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
			size_t len = lengths[l], got_len = 99;
			prng_bytes(&f->prng, msg, len);
			make_path(f, hops, idx, n, 0);
			assert_int_equal(sphinx_create(pkt, hops, n, msg, len,
			    &rng), SPHINX_OK);
			assert_int_equal(walk(f, hops, idx, n, pkt, f->scratch,
			    got, &got_len), SPHINX_OK);
			replay_reset(f->scratch, f->nodes[0].pub);
			assert_int_equal(got_len, len);
			assert_memory_equal(got, msg, len);
		}
	}
}

static void
test_null_message(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hop;
	int idx[1] = { 0 };
	size_t got_len = 5;

	make_path(f, &hop, idx, 1, 0);
	assert_int_equal(sphinx_create(pkt, &hop, 1, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(sphinx_unwrap(f->nodes[0].priv, pkt, got, &got_len,
	    NULL), SPHINX_OK);
	assert_int_equal(got_len, 0);
}

static void
test_drop_every_path(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	uint8_t zero[SPHINX_PACKET_BYTES] = { 0 };
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	struct sphinx_hop_result res;
	int idx[SPHINX_MAX_HOPS] = { 5, 4, 3, 2, 1, 0 };

	for (size_t n = 1; n <= SPHINX_MAX_HOPS; n++) {
		make_path(f, hops, idx, n, 1);
		assert_int_equal(sphinx_create(pkt, hops, n, NULL, 0, NULL),
		    SPHINX_OK);
		for (size_t i = 0; i < n; i++) {
			memset(out, 0xaa, sizeof(out));
			assert_int_equal(sphinx_process(f->nodes[idx[i]].priv,
			    f->scratch, pkt, out, &res), SPHINX_OK);
			assert_int_equal(res.command, hops[i].command);
			if (i + 1 < n)
				memcpy(pkt, out, sizeof(pkt));
		}
		assert_int_equal(res.command, SPHINX_CMD_DROP);
		assert_int_equal(res.delay_ms, 0);
		assert_true(sodium_is_zero(res.next_id, 32));
		assert_memory_equal(out, zero, sizeof(out));
		replay_reset(f->scratch, f->nodes[0].pub);
	}
}

static void
test_process_separate_and_in_place_agree(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], a[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[3];
	struct sphinx_hop_result ra, rb;
	int idx[3] = { 0, 1, 2 };

	make_path(f, hops, idx, 3, 0);
	assert_int_equal(sphinx_create(pkt, hops, 3, (const uint8_t *)"x", 1,
	    NULL), SPHINX_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv, f->scratch, pkt, a,
	    &ra), SPHINX_OK);
	replay_reset(f->scratch, f->nodes[0].pub);
	assert_int_equal(sphinx_process(f->nodes[0].priv, f->scratch, pkt, pkt,
	    &rb), SPHINX_OK);
	replay_reset(f->scratch, f->nodes[0].pub);
	assert_memory_equal(a, pkt, sizeof(a));
	assert_int_equal(ra.command, rb.command);
	assert_int_equal(ra.delay_ms, rb.delay_ms);
	assert_memory_equal(ra.next_id, rb.next_id, sizeof(ra.next_id));
}

/* ---------------------------------------------------------------- */
/* Replay                                                            */
/* ---------------------------------------------------------------- */

static void
test_replay_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[2];
	struct sphinx_hop_result res;
	int idx[2] = { 0, 1 };
	struct replay_store *store = new_store(100);

	make_path(f, hops, idx, 2, 0);
	assert_int_equal(sphinx_create(pkt, hops, 2, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_OK);
	assert_int_equal(replay_count(store), 1);
	memset(&res, 0x55, sizeof(res));
	struct sphinx_hop_result before = res;
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_ERR_REPLAY);
	assert_memory_equal(&res, &before, sizeof(res));
	assert_true(sodium_is_zero(out, sizeof(out)));
	assert_int_equal(replay_count(store), 1);

	/* The store survives a restart through its serialised form. */
	size_t len = replay_serialized_bytes(store);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(replay_serialize(store, buf, len), REPLAY_OK);
	struct replay_store *loaded;
	assert_int_equal(replay_load(&loaded, buf, len), REPLAY_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv, loaded, pkt, out,
	    &res), SPHINX_ERR_REPLAY);
	free(buf);
	replay_free(loaded);

	/* Another key epoch (a fresh store) accepts it again. */
	replay_reset(store, f->nodes[0].pub);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_OK);

	/*
	 * Authentic packets are recorded whatever their command, and a
	 * replay is reported before the command's own outcome: FINAL at a
	 * node (an error), DROP (no outgoing packet).
	 */
	replay_reset(store, f->nodes[0].pub);
	make_path(f, hops, idx, 1, 0);
	assert_int_equal(hops[0].command, SPHINX_CMD_FINAL);
	assert_int_equal(sphinx_create(pkt, hops, 1, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_ERR_COMMAND);
	assert_int_equal(replay_count(store), 1);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_ERR_REPLAY);
	hops[0].command = SPHINX_CMD_DROP;
	assert_int_equal(sphinx_create(pkt, hops, 1, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_OK);
	assert_int_equal(res.command, SPHINX_CMD_DROP);
	assert_int_equal(replay_count(store), 2);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_ERR_REPLAY);
	replay_free(store);
}

static void
test_bad_packets_leave_store_alone(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	struct sphinx_hop hops[2];
	struct sphinx_hop_result res;
	int idx[2] = { 0, 1 };
	struct replay_store *store = new_store(100);

	make_path(f, hops, idx, 2, 0);
	assert_int_equal(sphinx_create(pkt, hops, 2, NULL, 0, NULL), SPHINX_OK);
	pkt[100] ^= 1;
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_ERR_MAC);
	assert_int_equal(replay_count(store), 0);
	pkt[100] ^= 1;
	assert_int_equal(sphinx_process(f->nodes[1].priv, store, pkt, out,
	    &res), SPHINX_ERR_MAC);
	assert_int_equal(replay_count(store), 0);
	assert_int_equal(sphinx_process(f->nodes[0].priv, store, pkt, out,
	    &res), SPHINX_OK);
	replay_free(store);
}

static void
test_unwrap_replay_tag(void **state)
{
	struct fixture *f = *state;
	uint8_t p1[SPHINX_PACKET_BYTES], p2[SPHINX_PACKET_BYTES];
	uint8_t m[SPHINX_MAX_MESSAGE_BYTES], t1[32], t1b[32], t2[32];
	struct sphinx_hop hop;
	int idx[1] = { 3 };
	size_t ml;

	make_path(f, &hop, idx, 1, 0);
	assert_int_equal(sphinx_create(p1, &hop, 1, (const uint8_t *)"a", 1,
	    NULL), SPHINX_OK);
	assert_int_equal(sphinx_create(p2, &hop, 1, (const uint8_t *)"a", 1,
	    NULL), SPHINX_OK);
	assert_int_equal(sphinx_unwrap(f->nodes[3].priv, p1, m, &ml, t1),
	    SPHINX_OK);
	assert_int_equal(sphinx_unwrap(f->nodes[3].priv, p1, m, &ml, t1b),
	    SPHINX_OK);
	assert_int_equal(sphinx_unwrap(f->nodes[3].priv, p2, m, &ml, t2),
	    SPHINX_OK);
	assert_memory_equal(t1, t1b, 32);
	assert_memory_not_equal(t1, t2, 32);
	assert_false(sodium_is_zero(t1, 32));

	/* sphinx_replay_tag(): the same tag from alpha alone. */
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, p1, t2), SPHINX_OK);
	assert_memory_equal(t1, t2, 32);
	uint8_t alpha[32];
	memset(alpha, 0, sizeof(alpha));	/* small order */
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, alpha, t2),
	    SPHINX_ERR_MALFORMED);
	assert_true(sodium_is_zero(t2, 32));
	/* The key phase bit is not part of the element: the same tag. */
	memcpy(alpha, p1, 32);
	alpha[31] ^= 0x80;
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, alpha, t2),
	    SPHINX_OK);
	assert_memory_equal(t1, t2, 32);
	/* p + 1, with or without the phase bit: non-canonical. */
	memset(alpha, 0xff, 32);
	alpha[0] = 0xee;
	alpha[31] = 0xff;
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, alpha, t2),
	    SPHINX_ERR_MALFORMED);
	assert_int_equal(sphinx_replay_tag(NULL, p1, t2), SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, NULL, t2),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_replay_tag(f->nodes[3].priv, p1, NULL),
	    SPHINX_ERR_INVALID);
}

/* ---------------------------------------------------------------- */
/* Creation errors                                                   */
/* ---------------------------------------------------------------- */

static void
expect_create(const struct sphinx_hop *hops, size_t n, const uint8_t *msg,
    size_t len, const struct sphinx_rng *rng, int expect)
{
	uint8_t pkt[SPHINX_PACKET_BYTES];
	memset(pkt, 0xcc, sizeof(pkt));
	assert_int_equal(sphinx_create(pkt, hops, n, msg, len, rng), expect);
	if (expect != SPHINX_OK)
		assert_true(sodium_is_zero(pkt, sizeof(pkt)));
}

static void
test_create_invalid(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop hops[SPHINX_MAX_HOPS + 1], h[3];
	int idx[SPHINX_MAX_HOPS + 1] = { 0, 1, 2, 3, 4, 5, 6 };
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES + 1] = { 0 };
	struct sphinx_rng broken = { NULL, NULL };

	make_path(f, hops, idx, SPHINX_MAX_HOPS + 1, 0);
	expect_create(hops, SPHINX_MAX_HOPS + 1, NULL, 0, NULL,
	    SPHINX_ERR_INVALID);
	expect_create(hops, 0, NULL, 0, NULL, SPHINX_ERR_INVALID);
	expect_create(NULL, 1, NULL, 0, NULL, SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_create(NULL, hops, 1, NULL, 0, NULL),
	    SPHINX_ERR_INVALID);

	make_path(f, h, idx, 3, 0);
	expect_create(h, 3, msg, SPHINX_MAX_MESSAGE_BYTES, NULL, SPHINX_OK);
	expect_create(h, 3, msg, SPHINX_MAX_MESSAGE_BYTES + 1, NULL,
	    SPHINX_ERR_INVALID);
	expect_create(h, 3, NULL, 1, NULL, SPHINX_ERR_INVALID);
	expect_create(h, 3, NULL, 0, &broken, SPHINX_ERR_INVALID);

	/* Command order: RELAY/DELIVER before the end, FINAL/DROP at it. */
	static const uint8_t bad_mid[] = { 0, SPHINX_CMD_DROP, SPHINX_CMD_FINAL,
	    5, 255 };
	for (size_t i = 0; i < sizeof(bad_mid); i++) {
		make_path(f, h, idx, 3, 0);
		h[1].command = bad_mid[i];
		expect_create(h, 3, NULL, 0, NULL, SPHINX_ERR_INVALID);
	}
	static const uint8_t bad_last[] = { 0, SPHINX_CMD_RELAY,
	    SPHINX_CMD_DELIVER, 5, 255 };
	for (size_t i = 0; i < sizeof(bad_last); i++) {
		make_path(f, h, idx, 3, 0);
		h[2].command = bad_last[i];
		expect_create(h, 3, NULL, 0, NULL, SPHINX_ERR_INVALID);
	}
	/* Terminal hops carry no next node and no delay. */
	make_path(f, h, idx, 3, 0);
	h[2].delay_ms = 1;
	expect_create(h, 3, NULL, 0, NULL, SPHINX_ERR_INVALID);
	make_path(f, h, idx, 3, 1);
	h[2].next_id[31] = 1;
	expect_create(h, 3, NULL, 0, NULL, SPHINX_ERR_INVALID);
	/* DELIVER may precede RELAY: the format does not forbid it. */
	make_path(f, h, idx, 3, 0);
	h[0].command = SPHINX_CMD_DELIVER;
	h[1].command = SPHINX_CMD_RELAY;
	expect_create(h, 3, NULL, 0, NULL, SPHINX_OK);
}

/* u-coordinates of small order (RFC 7748 section 6.1 and libsodium). */
static const char *small_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void
test_create_small_order_key(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop h[3];
	int idx[3] = { 0, 1, 2 };

	for (size_t k = 0; k < sizeof(small_order) / sizeof(small_order[0]); k++) {
		for (size_t pos = 0; pos < 3; pos++) {
			make_path(f, h, idx, 3, 0);
			assert_int_equal(sodium_hex2bin(h[pos].node_pub, 32,
			    small_order[k], 64, NULL, NULL, NULL), 0);
			expect_create(h, 3, NULL, 0, NULL, SPHINX_ERR_KEY);
		}
	}
}

/* sphinx_key_usable says in advance what sphinx_create would refuse. */
static void
test_key_usable(void **state)
{
	struct fixture *f = *state;
	uint8_t bad[32], priv[32], pub[32];

	for (size_t k = 0; k < sizeof(small_order) / sizeof(small_order[0]); k++) {
		assert_int_equal(sodium_hex2bin(bad, 32, small_order[k], 64,
		    NULL, NULL, NULL), 0);
		assert_false(sphinx_key_usable(bad));
	}
	for (size_t i = 0; i < 100; i++) {
		crypto_box_keypair(pub, priv);
		assert_true(sphinx_key_usable(pub));
	}
	assert_true(sphinx_key_usable(f->nodes[0].pub));
}

static void
test_create_rng(void **state)
{
	struct fixture *f = *state;
	struct sphinx_hop h[SPHINX_MAX_HOPS];
	int idx[SPHINX_MAX_HOPS] = { 0, 1, 2, 3, 4, 5 };
	uint8_t bytes[32 + SPHINX_MAX_HOPS * SPHINX_ROUTING_BLOCK_BYTES];
	uint8_t a[SPHINX_PACKET_BYTES], b[SPHINX_PACKET_BYTES];

	prng_bytes(&f->prng, bytes, sizeof(bytes));
	for (size_t n = 1; n <= SPHINX_MAX_HOPS; n++) {
		size_t need = 32 + (SPHINX_MAX_HOPS - n) *
		    SPHINX_ROUTING_BLOCK_BYTES;
		struct fixed_rng r1 = { bytes, sizeof(bytes), 0, 0, 0 };
		struct fixed_rng r2 = { bytes, need, 0, 0, 0 };
		struct sphinx_rng g1 = { fixed_fill, &r1 };
		struct sphinx_rng g2 = { fixed_fill, &r2 };

		make_path(f, h, idx, n, 0);
		assert_int_equal(sphinx_create(a, h, n, NULL, 0, &g1), SPHINX_OK);
		assert_int_equal(r1.used, need);
		assert_int_equal(sphinx_create(b, h, n, NULL, 0, &g2), SPHINX_OK);
		assert_memory_equal(a, b, sizeof(a));

		/* One byte short, a failing first draw, a failing padding draw */
		struct fixed_rng r3 = { bytes, need - 1, 0, 0, 0 };
		struct sphinx_rng g3 = { fixed_fill, &r3 };
		expect_create(h, n, NULL, 0, &g3, SPHINX_ERR_RNG);
		struct fixed_rng r4 = { bytes, sizeof(bytes), 0, 0, 1 };
		struct sphinx_rng g4 = { fixed_fill, &r4 };
		expect_create(h, n, NULL, 0, &g4, SPHINX_ERR_RNG);
		if (n < SPHINX_MAX_HOPS) {
			struct fixed_rng r5 = { bytes, sizeof(bytes), 0, 0, 2 };
			struct sphinx_rng g5 = { fixed_fill, &r5 };
			expect_create(h, n, NULL, 0, &g5, SPHINX_ERR_RNG);
		}
	}
	/* The default source gives different packets. */
	make_path(f, h, idx, 2, 0);
	assert_int_equal(sphinx_create(a, h, 2, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(sphinx_create(b, h, 2, NULL, 0, NULL), SPHINX_OK);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* ---------------------------------------------------------------- */
/* Processing errors                                                 */
/* ---------------------------------------------------------------- */

static int
process_at(struct fixture *f, int node, const uint8_t *pkt)
{
	uint8_t out[SPHINX_PACKET_BYTES];
	struct sphinx_hop_result res;
	int rc = sphinx_process(f->nodes[node].priv, f->scratch, pkt, out, &res);
	if (rc != SPHINX_OK)
		assert_true(sodium_is_zero(out, sizeof(out)));
	else
		replay_reset(f->scratch, f->nodes[0].pub);
	return rc;
}

static int
unwrap_at(struct fixture *f, int node, const uint8_t *pkt)
{
	uint8_t m[SPHINX_MAX_MESSAGE_BYTES], tag[32];
	size_t ml = 77;
	memset(m, 0x11, sizeof(m));
	memset(tag, 0x11, sizeof(tag));
	int rc = sphinx_unwrap(f->nodes[node].priv, pkt, m, &ml, tag);
	if (rc != SPHINX_OK) {
		assert_int_equal(ml, 0);
		assert_true(sodium_is_zero(m, sizeof(m)));
		assert_true(sodium_is_zero(tag, sizeof(tag)));
	}
	return rc;
}

static void
test_invalid_arguments(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES] = { 0 }, out[SPHINX_PACKET_BYTES];
	uint8_t m[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop_result res;
	size_t ml;

	assert_int_equal(sphinx_process(NULL, f->scratch, pkt, out, &res),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_process(f->nodes[0].priv, NULL, pkt, out, &res),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_process(f->nodes[0].priv, f->scratch, NULL, out,
	    &res), SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_process(f->nodes[0].priv, f->scratch, pkt, NULL,
	    &res), SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_process(f->nodes[0].priv, f->scratch, pkt, out,
	    NULL), SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_unwrap(NULL, pkt, m, &ml, NULL),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_unwrap(f->nodes[0].priv, NULL, m, &ml, NULL),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_unwrap(f->nodes[0].priv, pkt, NULL, &ml, NULL),
	    SPHINX_ERR_INVALID);
	assert_int_equal(sphinx_unwrap(f->nodes[0].priv, pkt, m, NULL, NULL),
	    SPHINX_ERR_INVALID);
}

static void
test_wrong_key_and_role(void **state)
{
	struct fixture *f = *state;
	uint8_t two[SPHINX_PACKET_BYTES], one[SPHINX_PACKET_BYTES];
	struct sphinx_hop h[2];
	int idx[2] = { 0, 1 };

	make_path(f, h, idx, 2, 0);
	assert_int_equal(sphinx_create(two, h, 2, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(process_at(f, 1, two), SPHINX_ERR_MAC);
	assert_int_equal(unwrap_at(f, 1, two), SPHINX_ERR_MAC);
	/* A packet for a node is not a message, and the other way round. */
	assert_int_equal(unwrap_at(f, 0, two), SPHINX_ERR_COMMAND);
	make_path(f, h, idx + 1, 1, 0);
	assert_int_equal(sphinx_create(one, h, 1, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(process_at(f, 1, one), SPHINX_ERR_COMMAND);
	assert_int_equal(process_at(f, 0, one), SPHINX_ERR_MAC);
	/* A drop packet is nothing for a recipient either. */
	make_path(f, h, idx, 1, 1);
	assert_int_equal(sphinx_create(one, h, 1, NULL, 0, NULL), SPHINX_OK);
	assert_int_equal(unwrap_at(f, 0, one), SPHINX_ERR_COMMAND);
}

static void
test_alpha_encodings(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], bad[SPHINX_PACKET_BYTES];
	struct sphinx_hop h[2];
	int idx[2] = { 0, 1 };

	make_path(f, h, idx, 2, 0);
	assert_int_equal(sphinx_create(pkt, h, 2, NULL, 0, NULL), SPHINX_OK);

	/* Bit 255, the key phase, flipped: the header MAC covers it. */
	memcpy(bad, pkt, sizeof(bad));
	bad[31] ^= 0x80;
	assert_int_equal(process_at(f, 0, bad), SPHINX_ERR_MAC);
	assert_int_equal(unwrap_at(f, 0, bad), SPHINX_ERR_MAC);

	/* p, p + 1, ..., 2^255 - 1: non-canonical. */
	for (int v = 0xed; v <= 0xff; v++) {
		memcpy(bad, pkt, sizeof(bad));
		memset(bad, 0xff, 32);
		bad[0] = (uint8_t)v;
		bad[31] = 0x7f;
		assert_int_equal(process_at(f, 0, bad), SPHINX_ERR_MALFORMED);
		assert_int_equal(unwrap_at(f, 0, bad), SPHINX_ERR_MALFORMED);
	}
	/* p - 1 is canonical (and of small order). */
	memset(bad, 0xff, 32);
	bad[0] = 0xec;
	bad[31] = 0x7f;
	assert_int_equal(process_at(f, 0, bad), SPHINX_ERR_MALFORMED);

	/* Small order: the shared secret would be zero. */
	for (size_t k = 0; k < sizeof(small_order) / sizeof(small_order[0]); k++) {
		memcpy(bad, pkt, sizeof(bad));
		assert_int_equal(sodium_hex2bin(bad, 32, small_order[k], 64,
		    NULL, NULL, NULL), 0);
		assert_int_equal(process_at(f, 0, bad), SPHINX_ERR_MALFORMED);
		assert_int_equal(unwrap_at(f, 0, bad), SPHINX_ERR_MALFORMED);
	}
	/* Canonical values just below p that are not small order: MAC. */
	memset(bad, 0xff, 32);
	bad[0] = 0xea;
	bad[31] = 0x7f;
	assert_int_equal(process_at(f, 0, bad), SPHINX_ERR_MAC);
}

static void
test_strings(void **state)
{
	(void)state;
	for (int e = SPHINX_OK; e >= SPHINX_ERR_PAYLOAD; e--)
		assert_string_not_equal(sphinx_strerror(e), "unknown Sphinx error");
	assert_string_equal(sphinx_strerror(-100), "unknown Sphinx error");
	assert_string_equal(sphinx_command_name(SPHINX_CMD_RELAY), "relay");
	assert_string_equal(sphinx_command_name(SPHINX_CMD_DELIVER), "deliver");
	assert_string_equal(sphinx_command_name(SPHINX_CMD_DROP), "drop");
	assert_string_equal(sphinx_command_name(SPHINX_CMD_FINAL), "final");
	assert_string_equal(sphinx_command_name(SPHINX_CMD_REPLY), "reply");
	assert_null(sphinx_command_name(0));
	assert_null(sphinx_command_name(6));
}

/* ---------------------------------------------------------------- */
/* Bit flips                                                         */
/* ---------------------------------------------------------------- */

static int
is_header_rejection(int rc)
{
	return rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED;
}

static void
test_header_bit_flips_exhaustive(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], last[SPHINX_PACKET_BYTES];
	struct sphinx_hop h[SPHINX_MAX_HOPS];
	struct sphinx_hop_result res;
	int idx[SPHINX_MAX_HOPS] = { 0, 1, 2, 3, 4, 5 };

	make_path(f, h, idx, SPHINX_MAX_HOPS, 0);
	assert_int_equal(sphinx_create(pkt, h, SPHINX_MAX_HOPS,
	    (const uint8_t *)"flip", 4, NULL), SPHINX_OK);
	memcpy(last, pkt, sizeof(last));
	for (int i = 0; i + 1 < SPHINX_MAX_HOPS; i++) {
		assert_int_equal(sphinx_process(f->nodes[i].priv, f->scratch,
		    last, last, &res), SPHINX_OK);
	}
	replay_reset(f->scratch, f->nodes[0].pub);

	for (size_t bit = 0; bit < SPHINX_HEADER_BYTES * 8; bit++) {
		pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		last[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_true(is_header_rejection(process_at(f, 0, pkt)));
		assert_true(is_header_rejection(unwrap_at(f, 5, last)));
		pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		last[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(replay_count(f->scratch), 0);
	assert_int_equal(unwrap_at(f, 5, last), SPHINX_OK);
}

static void
test_payload_bit_flips_exhaustive(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES];
	struct sphinx_hop h[2];
	int idx[2] = { 0, 1 };

	/* The recipient's layer: every single flip must be caught. */
	make_path(f, h, idx + 1, 1, 0);
	assert_int_equal(sphinx_create(pkt, h, 1, (const uint8_t *)"flip", 4,
	    NULL), SPHINX_OK);
	for (size_t bit = SPHINX_HEADER_BYTES * 8;
	    bit < SPHINX_PACKET_BYTES * 8; bit++) {
		pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(unwrap_at(f, 1, pkt), SPHINX_ERR_PAYLOAD);
		pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(unwrap_at(f, 1, pkt), SPHINX_OK);
}

/* ---------------------------------------------------------------- */
/* Property test                                                     */
/* ---------------------------------------------------------------- */

static void
random_path(struct fixture *f, struct sphinx_hop *hops, int *idx, size_t *n,
    int *drop)
{
	*n = 1 + prng_below(&f->prng, SPHINX_MAX_HOPS);
	*drop = prng_below(&f->prng, 5) == 0;
	memset(hops, 0, *n * sizeof(*hops));
	for (size_t i = 0; i < *n; i++)
		idx[i] = (int)prng_below(&f->prng, NODES);
	for (size_t i = 0; i < *n; i++) {
		memcpy(hops[i].node_pub, f->nodes[idx[i]].pub, 32);
		if (i + 1 == *n) {
			hops[i].command = *drop ? SPHINX_CMD_DROP : SPHINX_CMD_FINAL;
			break;
		}
		hops[i].command = prng_below(&f->prng, 2) ? SPHINX_CMD_RELAY :
		    SPHINX_CMD_DELIVER;
		memcpy(hops[i].next_id, f->nodes[idx[i + 1]].pub, 32);
		hops[i].delay_ms = prng_u32(&f->prng);
	}
}

static size_t
random_length(struct fixture *f)
{
	switch (prng_below(&f->prng, 10)) {
	case 0:
		return 0;
	case 1:
		return SPHINX_MAX_MESSAGE_BYTES;
	default:
		return prng_below(&f->prng, SPHINX_MAX_MESSAGE_BYTES + 1);
	}
}

/* Runs the packet as it reaches hop `stage`. */
static void
advance(struct fixture *f, const int *idx, uint8_t *pkt, size_t stage)
{
	struct sphinx_hop_result res;
	for (size_t i = 0; i < stage; i++)
		assert_int_equal(sphinx_process(f->nodes[idx[i]].priv,
		    f->scratch, pkt, pkt, &res), SPHINX_OK);
}

static void
test_property_random_packets(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[SPHINX_PACKET_BYTES], orig[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], got[SPHINX_MAX_MESSAGE_BYTES];
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	struct sphinx_rng rng = { prng_fill, &f->prng };
	int idx[SPHINX_MAX_HOPS], drop;
	size_t n, got_len;
	unsigned header_flips = 0, payload_flips = 0;
	int packets = f->packets;

	print_message("property seed %llu (SPHINX_TEST_SEED)\n",
	    (unsigned long long)f->seed);
	for (int round = 0; round < packets; round++) {
		random_path(f, hops, idx, &n, &drop);
		size_t len = random_length(f);
		prng_bytes(&f->prng, msg, len);
		assert_int_equal(sphinx_create(orig, hops, n, msg, len, &rng),
		    SPHINX_OK);

		/* Round trip with the nodes' own stores. */
		memcpy(pkt, orig, sizeof(pkt));
		assert_int_equal(walk(f, hops, idx, n, pkt, NULL, got,
		    &got_len), SPHINX_OK);
		if (!drop) {
			assert_int_equal(got_len, len);
			assert_memory_equal(got, msg, len);
		}

		/* One header bit, at one hop: caught there. */
		size_t stage = prng_below(&f->prng, (uint32_t)n);
		size_t bit = prng_below(&f->prng, SPHINX_HEADER_BYTES * 8);
		memcpy(pkt, orig, sizeof(pkt));
		advance(f, idx, pkt, stage);
		pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = (stage + 1 == n && !drop) ?
		    unwrap_at(f, idx[stage], pkt) : process_at(f, idx[stage], pkt);
		if (!is_header_rejection(rc))
			fail_msg("round %d: header bit %zu at hop %zu of %zu not "
			    "caught: %s", round, bit, stage, n,
			    sphinx_strerror(rc));
		header_flips++;
		replay_reset(f->scratch, f->nodes[0].pub);

		/* One payload bit, at one hop: caught at the recipient. */
		if (!drop) {
			stage = prng_below(&f->prng, (uint32_t)n);
			bit = SPHINX_HEADER_BYTES * 8 + prng_below(&f->prng,
			    SPHINX_PAYLOAD_BYTES * 8);
			memcpy(pkt, orig, sizeof(pkt));
			advance(f, idx, pkt, stage);
			pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			advance(f, idx + stage, pkt, n - 1 - stage);
			rc = unwrap_at(f, idx[n - 1], pkt);
			if (rc != SPHINX_ERR_PAYLOAD)
				fail_msg("round %d: payload bit %zu at hop %zu of "
				    "%zu not caught: %s", round, bit, stage, n,
				    sphinx_strerror(rc));
			payload_flips++;
			replay_reset(f->scratch, f->nodes[0].pub);
		}
	}
	print_message("%d packets round-tripped, %u header and %u payload "
	    "flips caught\n", packets, header_flips, payload_flips);
}

/* ---------------------------------------------------------------- */
/* Test vectors                                                      */
/* ---------------------------------------------------------------- */

static void
check_path_vector(const char *file)
{
	json_t *v = load_vector(file);
	json_t *jh = json_object_get(v, "hops");
	size_t n = json_array_size(jh);
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	uint8_t priv[SPHINX_MAX_HOPS][32];
	uint8_t random[32 + SPHINX_MAX_HOPS * SPHINX_ROUTING_BLOCK_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], pkt[SPHINX_PACKET_BYTES];
	uint8_t want[SPHINX_PACKET_BYTES];

	assert_true(n >= 1 && n <= SPHINX_MAX_HOPS);
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(jh, i);
		uint8_t pub[32];
		assert_int_equal(hexfield(h, "private_key", priv[i], 32), 32);
		assert_int_equal(hexfield(h, "public_key", hops[i].node_pub, 32), 32);
		assert_int_equal(crypto_scalarmult_base(pub, priv[i]), 0);
		assert_memory_equal(pub, hops[i].node_pub, 32);
		hops[i].command = (uint8_t)vector_command(json_string_value(
		    json_object_get(h, "command")), SPHINX_CMD_FINAL);
		assert_int_equal(hexfield(h, "next_id", hops[i].next_id, 32), 32);
		hops[i].delay_ms = (uint32_t)json_integer_value(
		    json_object_get(h, "delay_ms"));
		json_t *phase = json_object_get(h, "key_phase");
		assert_true(json_is_integer(phase));
		hops[i].key_phase = (uint8_t)json_integer_value(phase);
	}
	size_t nrandom = hexfield(v, "randomness", random, sizeof(random));
	size_t len = hexfield(v, "message", msg, sizeof(msg));
	assert_int_equal(hexfield(v, "packet", want, sizeof(want)),
	    SPHINX_PACKET_BYTES);

	struct fixed_rng fr = { random, nrandom, 0, 0, 0 };
	struct sphinx_rng rng = { fixed_fill, &fr };
	assert_int_equal(sphinx_create(pkt, hops, n, msg, len, &rng), SPHINX_OK);
	assert_int_equal(fr.used, nrandom);
	assert_memory_equal(pkt, want, sizeof(pkt));

	json_t *steps = json_object_get(v, "steps");
	assert_int_equal(json_array_size(steps), n);
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(steps, i);
		const char *op = json_string_value(json_object_get(st, "operation"));
		uint8_t tag[32];
		assert_int_equal(hexfield(st, "replay_tag", tag, 32), 32);
		assert_string_equal(json_string_value(json_object_get(st,
		    "result")), "ok");
		if (strcmp(op, "unwrap") == 0) {
			uint8_t got[SPHINX_MAX_MESSAGE_BYTES], gtag[32];
			uint8_t wmsg[SPHINX_MAX_MESSAGE_BYTES];
			size_t got_len, wlen = hexfield(st, "message", wmsg,
			    sizeof(wmsg));
			assert_int_equal(sphinx_unwrap(priv[i], pkt, got, &got_len,
			    gtag), SPHINX_OK);
			assert_int_equal(got_len, wlen);
			assert_memory_equal(got, wmsg, wlen);
			assert_memory_equal(gtag, tag, 32);
			assert_int_equal(i + 1, n);
			break;
		}
		assert_string_equal(op, "process");
		struct replay_store *store = new_store(4);
		struct sphinx_hop_result res;
		uint8_t out[SPHINX_PACKET_BYTES], next_id[32];
		assert_int_equal(sphinx_process(priv[i], store, pkt, out, &res),
		    SPHINX_OK);
		assert_true(replay_contains(store, tag));
		replay_free(store);
		assert_int_equal(res.command, vector_command(json_string_value(
		    json_object_get(st, "command")), SPHINX_CMD_FINAL));
		assert_int_equal(hexfield(st, "next_id", next_id, 32), 32);
		assert_memory_equal(res.next_id, next_id, 32);
		assert_int_equal(res.delay_ms, (uint32_t)json_integer_value(
		    json_object_get(st, "delay_ms")));
		if (res.command == SPHINX_CMD_DROP) {
			assert_null(json_object_get(st, "packet_out"));
			assert_int_equal(i + 1, n);
			break;
		}
		assert_int_equal(hexfield(st, "packet_out", want, sizeof(want)),
		    SPHINX_PACKET_BYTES);
		assert_memory_equal(out, want, sizeof(out));
		memcpy(pkt, out, sizeof(pkt));
	}
	json_decref(v);
}

static void
test_vectors_paths(void **state)
{
	static const char *files[] = {
		"forward-6-hops.json", "drop-5-hops.json",
		"loop-6-hops-max-message.json", "short-3-hops.json",
		"direct-1-hop.json",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		check_path_vector(files[i]);
}

static int
expect_code(const char *name)
{
	if (strcmp(name, "malformed") == 0)
		return SPHINX_ERR_MALFORMED;
	if (strcmp(name, "mac") == 0)
		return SPHINX_ERR_MAC;
	if (strcmp(name, "command") == 0)
		return SPHINX_ERR_COMMAND;
	if (strcmp(name, "payload") == 0)
		return SPHINX_ERR_PAYLOAD;
	fail_msg("unknown expectation %s", name);
	return 0;
}

static void
test_vectors_negative(void **state)
{
	(void)state;
	json_t *v = load_vector("negative.json");
	json_t *cases = json_object_get(v, "cases");
	assert_true(json_array_size(cases) >= 20);

	for (size_t i = 0; i < json_array_size(cases); i++) {
		json_t *c = json_array_get(cases, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *op = json_string_value(json_object_get(c, "operation"));
		int want = expect_code(json_string_value(json_object_get(c,
		    "expect")));
		uint8_t priv[32], pkt[SPHINX_PACKET_BYTES];
		int rc;

		assert_int_equal(hexfield(c, "private_key", priv, 32), 32);
		assert_int_equal(hexfield(c, "packet", pkt, sizeof(pkt)),
		    SPHINX_PACKET_BYTES);
		if (strcmp(op, "unwrap") == 0) {
			uint8_t m[SPHINX_MAX_MESSAGE_BYTES];
			size_t ml;
			rc = sphinx_unwrap(priv, pkt, m, &ml, NULL);
		} else {
			struct replay_store *store = new_store(4);
			uint8_t out[SPHINX_PACKET_BYTES];
			struct sphinx_hop_result res;
			rc = sphinx_process(priv, store, pkt, out, &res);
			replay_free(store);
		}
		if (rc != want)
			fail_msg("negative vector %s: got %s, want %s", name,
			    sphinx_strerror(rc), sphinx_strerror(want));
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
		cmocka_unit_test(test_roundtrip_every_path),
		cmocka_unit_test(test_key_phases),
		cmocka_unit_test(test_null_message),
		cmocka_unit_test(test_drop_every_path),
		cmocka_unit_test(test_process_separate_and_in_place_agree),
		cmocka_unit_test(test_replay_detected),
		cmocka_unit_test(test_bad_packets_leave_store_alone),
		cmocka_unit_test(test_unwrap_replay_tag),
		cmocka_unit_test(test_create_invalid),
		cmocka_unit_test(test_create_small_order_key),
		cmocka_unit_test(test_key_usable),
		cmocka_unit_test(test_create_rng),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_wrong_key_and_role),
		cmocka_unit_test(test_alpha_encodings),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_header_bit_flips_exhaustive),
		cmocka_unit_test(test_payload_bit_flips_exhaustive),
		cmocka_unit_test(test_property_random_packets),
		cmocka_unit_test(test_vectors_paths),
		cmocka_unit_test(test_vectors_negative),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
