/*
 * Fuzz target for Sphinx packets (docs/sphinx.md) and the replay store's
 * serialised form.  The first input byte selects a mode:
 *
 *   mode 0  sphinx_process() of the rest, zero-padded or truncated to
 *           SPHINX_PACKET_BYTES, at fuzz node 0 (bit 2 of the mode byte:
 *           in place);
 *   mode 1  sphinx_unwrap() of the rest at fuzz node 5;
 *   mode 2  replay_load() of the rest; a store that loads must serialise
 *           back to the same bytes;
 *   mode 3  a structured round trip: the rest chooses a path over the six
 *           fuzz nodes, a message and one bit to flip at one hop (or none),
 *           seeds every other choice, and the target checks that the
 *           packet arrives intact, or that the flip is caught where
 *           docs/sphinx.md says (header: at that hop; payload: at the
 *           recipient).  Optionally the packet carries an acknowledgement
 *           block (section 18; arbitrary bytes here, fuzz_surb.c makes
 *           real ones): the egress provider must find it and the
 *           recipient ignore it.  A violated property aborts.
 *
 * Modes 0 and 1 are the untrusted-input parsers; mode 3 reaches every
 * successful path with random geometry, which arbitrary bytes cannot
 * (they never carry a valid MAC).
 *
 * Fuzz node i has the X25519 private key BLAKE2b-256("nymd fuzz_sphinx
 * node key i"); `gen_sphinx_vectors -c DIR` writes the seed corpus
 * (tests/fuzz/corpus/sphinx/) with the same keys.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NODES	SPHINX_MAX_HOPS

static struct {
	int			 ready;
	uint8_t			 priv[FUZZ_NODES][32];
	uint8_t			 pub[FUZZ_NODES][32];
	struct replay_store	*store;
} fz;

static void
fuzz_fini(void)
{
	replay_free(fz.store);
	fz.store = NULL;
}

static void
fuzz_init(void)
{
	if (fz.ready)
		return;
	if (sodium_init() < 0)
		abort();
	for (unsigned i = 0; i < FUZZ_NODES; i++) {
		char label[64];
		int len = snprintf(label, sizeof(label),
		    "nymd fuzz_sphinx node key %u", i);
		crypto_generichash(fz.priv[i], 32, (const uint8_t *)label,
		    (size_t)len, NULL, 0);
		if (crypto_scalarmult_base(fz.pub[i], fz.priv[i]) != 0)
			abort();
	}
	struct replay_params params = {
		.packets_per_second = 64, .epoch_seconds = 1,
		.false_positive_rate = 1e-9,
	};
	if (replay_new(&fz.store, &params) != REPLAY_OK)
		abort();
	/* Lets valgrind and LeakSanitizer see a clean exit. */
	atexit(fuzz_fini);
	fz.ready = 1;
}

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_process(const uint8_t *data, size_t size, int in_place)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	struct sphinx_hop_result res;

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, data, size < sizeof(pkt) ? size : sizeof(pkt));
	uint8_t *dst = in_place ? pkt : out;
	/* The workers' half (sphinx_process_unchecked) first: with the
	 * store's answer for its tag, the same outcome and packet. */
	static uint8_t uout[SPHINX_PACKET_BYTES];
	uint8_t tag[SPHINX_REPLAY_TAG_BYTES];
	struct sphinx_hop_result ures;
	int authentic;
	int urc = sphinx_process_unchecked(fz.priv[0], pkt, uout, &ures,
	    &authentic, tag);
	int seen = authentic && replay_contains(fz.store, tag);
	int rc = sphinx_process(fz.priv[0], fz.store, pkt, dst, &res);
	check(rc == (seen ? SPHINX_ERR_REPLAY : urc));
	check(authentic || rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
	if (rc == SPHINX_OK)
		check(memcmp(uout, dst, SPHINX_PACKET_BYTES) == 0 &&
		    ures.command == res.command && ures.delay_ms == res.delay_ms &&
		    memcmp(ures.next_id, res.next_id, 32) == 0);
	if (rc != SPHINX_OK) {
		check(sodium_is_zero(dst, SPHINX_PACKET_BYTES));
		return;
	}
	check(res.command == SPHINX_CMD_RELAY ||
	    res.command == SPHINX_CMD_DELIVER || res.command == SPHINX_CMD_DROP);
	if (res.command == SPHINX_CMD_DROP)
		check(sodium_is_zero(dst, SPHINX_PACKET_BYTES) &&
		    res.delay_ms == 0 && sodium_is_zero(res.next_id, 32));
	/* The same packet again is a replay. */
	if (!in_place)
		check(sphinx_process(fz.priv[0], fz.store, pkt, out, &res) ==
		    SPHINX_ERR_REPLAY);
}

static void
fuzz_unwrap(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], tag[32];
	size_t len = 1;

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, data, size < sizeof(pkt) ? size : sizeof(pkt));
	int rc = sphinx_unwrap(fz.priv[FUZZ_NODES - 1], pkt, msg, &len, tag);
	if (rc == SPHINX_OK)
		check(len <= SPHINX_MAX_MESSAGE_BYTES);
	else
		check(len == 0 && sodium_is_zero(tag, sizeof(tag)));
}

static void
fuzz_replay_load(const uint8_t *data, size_t size)
{
	struct replay_store *store;

	if (replay_load(&store, data, size) != REPLAY_OK) {
		check(store == NULL);
		return;
	}
	size_t len = replay_serialized_bytes(store);
	check(len == size);
	uint8_t *buf = malloc(len);
	check(buf != NULL);
	check(replay_serialize(store, buf, len) == REPLAY_OK);
	check(memcmp(buf, data, len) == 0);
	uint8_t tag[32] = { 0 };
	memcpy(tag, data, size < sizeof(tag) ? size : sizeof(tag));
	replay_check_and_insert(store, tag);
	check(replay_contains(store, tag));
	free(buf);
	replay_free(store);
}

/* Deterministic randomness for mode 3, keyed by the whole input. */
struct stream {
	uint8_t		key[32];
	uint64_t	counter;
};

static int
stream_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct stream *s = ctx;
	uint8_t nonce[12] = { 0 };
	memcpy(nonce, &s->counter, sizeof(s->counter));
	s->counter++;
	crypto_stream_chacha20_ietf(buf, len, nonce, s->key);
	return 0;
}

/*
 * Mode 3 input: n (1 + b0 % 6), flags b1 (bit 0: drop cover; bits 1..5:
 * DELIVER instead of RELAY at hops 0..4; bit 6: an acknowledgement block,
 * when n >= 2 and not drop cover, hop n-2 then DELIVERing with the ACK
 * flag; bit 7: the egress provider leaves the block in place instead of
 * wiping it), message length b2 b3 (big-endian, mod 2049, or mod 1633
 * beside a block), flipped bit b4 b5 (big-endian, mod the packet's bits),
 * hop of the flip b6 (mod n + 1; n: no flip).  Missing bytes read as zero.
 */
static void
fuzz_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	uint8_t b[7] = { 0 }, msg[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES], ack[SPHINX_ACK_BYTES];
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	struct sphinx_hop_result res;
	struct stream st = { { 0 }, 0 };
	struct sphinx_rng rng = { stream_fill, &st };

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	crypto_generichash(st.key, sizeof(st.key), data, size, NULL, 0);

	size_t n = 1 + b[0] % SPHINX_MAX_HOPS;
	int drop = b[1] & 1;
	int acked = (b[1] & 0x40) && n >= 2 && !drop;
	int keep_block = b[1] & 0x80;
	size_t room = acked ? SPHINX_MAX_ACKED_MESSAGE_BYTES :
	    SPHINX_MAX_MESSAGE_BYTES;
	size_t len = ((size_t)b[2] << 8 | b[3]) % (room + 1);
	/* Where the block travels: the payload's first bytes. */
	size_t block_lo = SPHINX_HEADER_BYTES * 8;
	size_t block_hi = block_lo + SPHINX_ACK_BYTES * 8;
	size_t bit = ((size_t)b[4] << 8 | b[5]) % (SPHINX_PACKET_BYTES * 8);
	size_t flip_at = b[6] % (n + 1);
	int header_flip = bit < SPHINX_HEADER_BYTES * 8;

	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		memcpy(hops[i].node_pub, fz.pub[i], 32);
		if (i + 1 == n) {
			hops[i].command = drop ? SPHINX_CMD_DROP : SPHINX_CMD_FINAL;
			break;
		}
		hops[i].command = (b[1] >> (1 + i)) & 1 ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		if (acked && i + 2 == n) {
			hops[i].command = SPHINX_CMD_DELIVER;
			hops[i].flags = SPHINX_FLAG_ACK;
		}
		memcpy(hops[i].next_id, fz.pub[i + 1], 32);
		uint8_t d[4];
		stream_fill(&st, d, sizeof(d));
		hops[i].delay_ms = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
		    (uint32_t)d[2] << 8 | d[3];
	}
	stream_fill(&st, msg, len);
	if (acked) {
		hops[n - 1].flags = SPHINX_FLAG_ACK;
		stream_fill(&st, ack, sizeof(ack));
		check(sphinx_create(pkt, hops, n, msg, len, &rng) ==
		    SPHINX_ERR_INVALID);
		check(sphinx_create_acked(pkt, hops, n, ack, msg, len, &rng) ==
		    SPHINX_OK);
	} else
		check(sphinx_create(pkt, hops, n, msg, len, &rng) == SPHINX_OK);

	for (size_t i = 0; i < n; i++) {
		int flipped_here = i == flip_at;
		if (flipped_here)
			pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int header_bad = flipped_here && header_flip;

		if (hops[i].command == SPHINX_CMD_FINAL) {
			size_t got_len;
			int rc = sphinx_unwrap(fz.priv[i], pkt, got, &got_len,
			    NULL);
			if (header_bad)
				check(rc == SPHINX_ERR_MAC ||
				    rc == SPHINX_ERR_MALFORMED);
			else if (acked && flip_at == i && bit >= block_lo &&
			    bit < block_hi)
				/* The block's bytes are not the recipient's. */
				check(rc == SPHINX_OK && got_len == len &&
				    memcmp(got, msg, len) == 0);
			else if (flip_at < n)
				check(rc == SPHINX_ERR_PAYLOAD);
			else
				check(rc == SPHINX_OK && got_len == len &&
				    memcmp(got, msg, len) == 0);
			return;
		}
		int rc = sphinx_process(fz.priv[i], fz.store, pkt, pkt, &res);
		if (header_bad) {
			check(rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
			return;
		}
		check(rc == SPHINX_OK && res.command == hops[i].command &&
		    res.flags == hops[i].flags &&
		    res.delay_ms == hops[i].delay_ms &&
		    memcmp(res.next_id, hops[i].next_id, 32) == 0);
		if (res.flags & SPHINX_FLAG_ACK) {
			/* The egress provider: the block, intact unless the
			 * payload changed on the way, then (as nymd's
			 * surb_ack_take() does) wiped. */
			if (flip_at > i)
				check(memcmp(pkt + SPHINX_HEADER_BYTES, ack,
				    sizeof(ack)) == 0);
			if (!keep_block)
				memset(pkt + SPHINX_HEADER_BYTES, 0,
				    sizeof(ack));
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	/* Every input starts from an empty store, so runs are repeatable. */
	replay_reset(fz.store, fz.pub[0]);
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_process(data + 1, size - 1, data[0] & 4);
		break;
	case 1:
		fuzz_unwrap(data + 1, size - 1);
		break;
	case 2:
		fuzz_replay_load(data + 1, size - 1);
		break;
	case 3:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
