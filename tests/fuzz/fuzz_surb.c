/*
 * Fuzz target for single-use reply blocks (docs/sphinx.md, section 17):
 * every function that reads SURB bytes from outside.  The first input
 * byte selects a mode:
 *
 *   mode 0  surb_parse() and surb_use() of the rest as a reply block (the
 *           replier: blocks arrive inside messages);
 *   mode 1  surb_reply_id() of the rest, zero-padded or truncated to
 *           SPHINX_PACKET_BYTES, at the creator (fuzz node 5);
 *   mode 2  surb_keys_parse() and surb_open() of the rest as kept keys (a
 *           damaged store), on a valid reply;
 *   mode 3  surb_open() of the rest as a packet, with valid kept keys;
 *   mode 4  a structured round trip: the rest chooses the path length, a
 *           message and one bit to flip at one hop (or none), seeds every
 *           other choice, and the target checks that the reply arrives
 *           intact, or that the flip is caught where docs/sphinx.md says
 *           (header: at that hop; payload: at the creator), and that
 *           every node's result is the one a forward packet over the same
 *           path gets;
 *   mode 5  acknowledgements (section 18) from outside: the rest, zero-
 *           padded or truncated to SPHINX_PACKET_BYTES, as the packet an
 *           egress provider passes on for DELIVER with the ACK flag
 *           (surb_ack_take()), and, as is and as the acknowledgement
 *           taken from it, at the creator (surb_reply_kind(), which must
 *           agree with surb_reply_id());
 *   mode 6  a structured acknowledgement round trip: the rest chooses the
 *           lengths of the message's path (to the creator, as loop cover
 *           goes) and of the acknowledgement's, a message and one bit to
 *           flip at one hop of either (or none), and the target checks
 *           that the egress provider finds the block, the creator reads
 *           the message and the ack id, or that the flip is caught where
 *           docs/sphinx.md says (header: at that hop; the message's
 *           payload before the egress provider: the acknowledgement is
 *           lost and the message fails its check; the block's bytes at
 *           the recipient, or the acknowledgement's payload: nothing).
 *
 * A violated property aborts.
 *
 * Fuzz node i has the X25519 private key BLAKE2b-256("nymd fuzz_surb node
 * key i"); node 5 is the creator.  The fixed reply of modes 2 and 3 is
 * made from the randomness ChaCha20(BLAKE2b-256("nymd fuzz_surb
 * randomness")), as `gen_sphinx_vectors -s DIR` makes the seed corpus
 * (tests/fuzz/corpus/surb/).
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NODES	SPHINX_MAX_HOPS
#define CREATOR		(FUZZ_NODES - 1)
#define FIXED_RANDOM	(SURB_ID_BYTES + 32 + SURB_PAYLOAD_KEY_BYTES)

static struct {
	int			 ready;
	uint8_t			 priv[FUZZ_NODES][32];
	uint8_t			 pub[FUZZ_NODES][32];
	struct replay_store	*store;
	/* The fixed reply, as the creator receives it, and its keys. */
	uint8_t			 reply[SPHINX_PACKET_BYTES];
	uint8_t			 keys[SURB_KEYS_BYTES];
	uint8_t			 id[SURB_ID_BYTES];
} fz;

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_fini(void)
{
	replay_free(fz.store);
	fz.store = NULL;
}

/* Deterministic randomness, keyed. */
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

struct fixed {
	uint8_t		buf[FIXED_RANDOM];
	size_t		used;
};

static int
fixed_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct fixed *f = ctx;
	if (len > sizeof(f->buf) - f->used)
		return -1;
	memcpy(buf, f->buf + f->used, len);
	f->used += len;
	return 0;
}

/* RELAY at nodes 0 .. n-3, DELIVER at n-2, FINAL at the creator. */
static void
fuzz_path(struct sphinx_hop *hops, size_t n, struct stream *st)
{
	memset(hops, 0, n * sizeof(*hops));
	for (size_t i = 0; i + 1 < n; i++) {
		memcpy(hops[i].node_pub, fz.pub[i], 32);
		hops[i].command = i + 2 == n ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, fz.pub[i + 1], 32);
		if (st == NULL) {
			hops[i].delay_ms = 1000u * (uint32_t)i;
			continue;
		}
		uint8_t d[4];
		stream_fill(st, d, sizeof(d));
		hops[i].delay_ms = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
		    (uint32_t)d[2] << 8 | d[3];
	}
	memcpy(hops[n - 1].node_pub, fz.pub[CREATOR], 32);
	hops[n - 1].command = SPHINX_CMD_FINAL;
}

static void
fuzz_init(void)
{
	struct sphinx_hop hops[FUZZ_NODES];
	struct sphinx_hop_result res;
	uint8_t surb[SURB_BYTES], seed[32];
	struct fixed fx = { { 0 }, 0 };
	struct sphinx_rng rng = { fixed_fill, &fx };
	static const char label[] = "nymd fuzz_surb randomness";
	static const uint8_t nonce[12];

	if (fz.ready)
		return;
	if (sodium_init() < 0)
		abort();
	for (unsigned i = 0; i < FUZZ_NODES; i++) {
		char l[64];
		int len = snprintf(l, sizeof(l), "nymd fuzz_surb node key %u", i);
		crypto_generichash(fz.priv[i], 32, (const uint8_t *)l,
		    (size_t)len, NULL, 0);
		check(crypto_scalarmult_base(fz.pub[i], fz.priv[i]) == 0);
	}
	struct replay_params params = {
		.packets_per_second = 64, .epoch_seconds = 1,
		.false_positive_rate = 1e-9,
	};
	check(replay_new(&fz.store, &params) == REPLAY_OK);
	atexit(fuzz_fini);

	crypto_generichash(seed, sizeof(seed), (const uint8_t *)label,
	    sizeof(label) - 1, NULL, 0);
	crypto_stream_chacha20_ietf(fx.buf, sizeof(fx.buf), nonce, seed);
	fuzz_path(hops, FUZZ_NODES, NULL);
	check(surb_create(surb, fz.keys, fz.id, fz.pub[0], hops, FUZZ_NODES, 0,
	    &rng) == SPHINX_OK);
	check(surb_use(fz.reply, NULL, surb, sizeof(surb),
	    (const uint8_t *)"fuzz reply", 10) == SPHINX_OK);
	for (unsigned i = 0; i < CREATOR; i++) {
		replay_reset(fz.store, fz.pub[i]);
		check(sphinx_process(fz.priv[i], fz.store, fz.reply, fz.reply,
		    &res) == SPHINX_OK);
	}
	fz.ready = 1;
}

static void
pad_packet(uint8_t pkt[SPHINX_PACKET_BYTES], const uint8_t *data, size_t size)
{
	memset(pkt, 0, SPHINX_PACKET_BYTES);
	memcpy(pkt, data, size < SPHINX_PACKET_BYTES ? size : SPHINX_PACKET_BYTES);
}

/*
 * Two bytes choose the message length (above the maximum: refused before
 * anything is read; otherwise mod the block's length plus one, and the
 * message is the block's first bytes), the rest is the block.
 */
static void
fuzz_use(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	struct surb_info info;
	size_t raw = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : 0;
	const uint8_t *surb = data + (size >= 2 ? 2 : size);
	size_t len = size >= 2 ? size - 2 : 0;

	if (raw > SPHINX_MAX_MESSAGE_BYTES) {
		memset(pkt, 0xaa, sizeof(pkt));
		check(surb_use(pkt, &info, surb, len, surb, raw) ==
		    SPHINX_ERR_INVALID);
		check(sodium_is_zero(pkt, sizeof(pkt)));
		return;
	}
	size_t msg_len = raw % (len + 1);
	int prc = surb_parse(surb, len, &info);
	int rc = surb_use(pkt, &info, surb, len, surb, msg_len);
	check(rc == prc);
	if (rc != SPHINX_OK) {
		check(sodium_is_zero(pkt, sizeof(pkt)));
		return;
	}
	check(memcmp(pkt, surb + SURB_EPOCH_BYTES + SPHINX_NODE_ID_BYTES,
	    SPHINX_HEADER_BYTES) == 0);
}

static void
fuzz_reply_id(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	uint8_t id[SURB_ID_BYTES];

	pad_packet(pkt, data, size);
	if (surb_reply_id(fz.priv[CREATOR], pkt, id) != SPHINX_OK)
		check(sodium_is_zero(id, sizeof(id)));
}

static void
fuzz_keys(const uint8_t *data, size_t size)
{
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], id[SURB_ID_BYTES];
	size_t len = 1;
	uint64_t epoch;

	int prc = surb_keys_parse(data, size, id, &epoch);
	int rc = surb_open(fz.priv[CREATOR], data, size, fz.reply, msg, &len);
	if (prc != SPHINX_OK) {
		check(rc == SPHINX_ERR_MALFORMED && len == 0);
		return;
	}
	if (memcmp(id, fz.id, sizeof(id)) != 0)
		check(rc == SPHINX_ERR_INVALID);
	if (rc == SPHINX_OK)
		check(len <= SPHINX_MAX_MESSAGE_BYTES);
	else
		check(len == 0 && sodium_is_zero(msg, sizeof(msg)));
}

static void
fuzz_open(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	size_t len = 1;

	pad_packet(pkt, data, size);
	int rc = surb_open(fz.priv[CREATOR], fz.keys, sizeof(fz.keys), pkt, msg,
	    &len);
	if (rc == SPHINX_OK)
		check(len <= SPHINX_MAX_MESSAGE_BYTES);
	else
		check(len == 0 && sodium_is_zero(msg, sizeof(msg)));
}

/*
 * Mode 4 input: n (2 + b0 % 5), message length b1 b2 (big-endian, mod
 * 2049), flipped bit b3 b4 (big-endian, mod the packet's bits), hop of the
 * flip b5 (mod n + 1; n: no flip), epoch b6.  Missing bytes read as zero.
 */
static void
fuzz_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES], fwd[SPHINX_PACKET_BYTES];
	uint8_t b[7] = { 0 }, msg[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES], surb[SURB_BYTES];
	uint8_t keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES], gid[SURB_ID_BYTES];
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	struct sphinx_hop_result res, fres;
	struct stream st = { { 0 }, 0 };
	struct sphinx_rng rng = { stream_fill, &st };
	size_t got_len;

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	crypto_generichash(st.key, sizeof(st.key), data, size, NULL, 0);

	size_t n = SURB_MIN_HOPS + b[0] % (SPHINX_MAX_HOPS - 1);
	size_t len = ((size_t)b[1] << 8 | b[2]) % (SPHINX_MAX_MESSAGE_BYTES + 1);
	size_t bit = ((size_t)b[3] << 8 | b[4]) % (SPHINX_PACKET_BYTES * 8);
	size_t flip_at = b[5] % (n + 1);
	uint64_t epoch = b[6];
	int header_flip = bit < SPHINX_HEADER_BYTES * 8;

	fuzz_path(hops, n, &st);
	for (size_t i = 0; i + 1 < n; i++)
		hops[i].key_phase = (uint8_t)(epoch & 1);
	stream_fill(&st, msg, len);
	check(surb_create(surb, keys, id, fz.pub[0], hops, n, epoch,
	    &rng) == SPHINX_OK);
	check(surb_use(pkt, NULL, surb, sizeof(surb), msg, len) == SPHINX_OK);
	check(sphinx_create(fwd, hops, n, msg, len, &rng) == SPHINX_OK);

	for (size_t i = 0; i < n; i++) {
		int flipped_here = i == flip_at;
		if (flipped_here)
			pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int header_bad = flipped_here && header_flip;

		if (i + 1 == n) {
			int rc = surb_reply_id(fz.priv[CREATOR], pkt, gid);
			int orc = surb_open(fz.priv[CREATOR], keys, sizeof(keys),
			    pkt, got, &got_len);
			if (header_bad) {
				check(rc == SPHINX_ERR_MAC ||
				    rc == SPHINX_ERR_MALFORMED);
				check(orc == rc);
			} else if (flip_at < n) {
				check(rc == SPHINX_OK && orc == SPHINX_ERR_PAYLOAD);
			} else {
				check(rc == SPHINX_OK &&
				    memcmp(gid, id, sizeof(id)) == 0);
				check(orc == SPHINX_OK && got_len == len &&
				    memcmp(got, msg, len) == 0);
			}
			return;
		}
		replay_reset(fz.store, fz.pub[i]);
		int rc = sphinx_process(fz.priv[i], fz.store, pkt, pkt, &res);
		if (header_bad) {
			check(rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
			return;
		}
		/* A forward packet over the same path: the same result. */
		replay_reset(fz.store, fz.pub[i]);
		check(sphinx_process(fz.priv[i], fz.store, fwd, fwd, &fres) ==
		    SPHINX_OK);
		check(rc == SPHINX_OK && res.command == hops[i].command &&
		    res.delay_ms == hops[i].delay_ms &&
		    memcmp(res.next_id, hops[i].next_id, 32) == 0);
		check(memcmp(&res, &fres, sizeof(res)) == 0);
		check(sphinx_key_phase(pkt) == sphinx_key_phase(fwd));
	}
}

/* An alpha below p once bit 255 is cleared (docs/sphinx.md, section 10). */
static int
alpha_canonical(const uint8_t a[SPHINX_KEY_BYTES])
{
	if ((a[31] & 0x7f) != 0x7f)
		return 1;
	for (int i = 30; i >= 1; i--)
		if (a[i] != 0xff)
			return 1;
	return a[0] < 0xed;
}

/* surb_reply_kind() at the creator, checked against surb_reply_id(). */
static int
reply_kind(const uint8_t pkt[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES],
    int *is_ack)
{
	uint8_t id2[SURB_ID_BYTES];

	*is_ack = -1;
	int rc = surb_reply_kind(fz.priv[CREATOR], pkt, id, is_ack);
	check(surb_reply_id(fz.priv[CREATOR], pkt, id2) == rc);
	check(memcmp(id, id2, sizeof(id2)) == 0);
	if (rc != SPHINX_OK)
		check(*is_ack == 0 && sodium_is_zero(id, SURB_ID_BYTES));
	else
		check(*is_ack == 0 || *is_ack == 1);
	return rc;
}

static void
fuzz_ack_bytes(const uint8_t *data, size_t size)
{
	static uint8_t in[SPHINX_PACKET_BYTES], pkt[SPHINX_PACKET_BYTES];
	static uint8_t ack[SPHINX_PACKET_BYTES];
	const uint8_t *block = in + SPHINX_HEADER_BYTES;
	const size_t rest = SPHINX_PACKET_BYTES - SPHINX_HEADER_BYTES -
	    SPHINX_ACK_BYTES;
	uint8_t first[SPHINX_NODE_ID_BYTES], id[SURB_ID_BYTES];
	int is_ack;

	pad_packet(in, data, size);
	memcpy(pkt, in, sizeof(pkt));
	memset(ack, 0xaa, sizeof(ack));
	memset(first, 0xaa, sizeof(first));
	int rc = surb_ack_take(pkt, ack, first);
	/* The block is wiped whatever it held; nothing else changes. */
	check(memcmp(pkt, in, SPHINX_HEADER_BYTES) == 0);
	check(sodium_is_zero(pkt + SPHINX_HEADER_BYTES, SPHINX_ACK_BYTES));
	check(memcmp(pkt + SPHINX_HEADER_BYTES + SPHINX_ACK_BYTES,
	    block + SPHINX_ACK_BYTES, rest) == 0);
	if (!alpha_canonical(block + SPHINX_NODE_ID_BYTES)) {
		check(rc == SPHINX_ERR_MALFORMED);
		check(sodium_is_zero(ack, sizeof(ack)));
		check(sodium_is_zero(first, sizeof(first)));
	} else {
		check(rc == SPHINX_OK);
		check(memcmp(first, block, SPHINX_NODE_ID_BYTES) == 0);
		check(memcmp(ack, block + SPHINX_NODE_ID_BYTES,
		    SPHINX_HEADER_BYTES) == 0);
	}

	reply_kind(in, id, &is_ack);
	if (rc == SPHINX_OK)
		reply_kind(ack, id, &is_ack);
}

/*
 * Mode 6 input: the message's path length nf (2 + b0 % 5), the
 * acknowledgement's nb (2 + b1 % 5), message length b2 b3 (big-endian, mod
 * 1633), flipped bit b4 b5 (big-endian, mod the packet's bits), where the
 * flip is b6 (mod nf + nb + 1: hop b6 of the message, hop b6 - nf of the
 * acknowledgement, or none).  Missing bytes read as zero.
 */
static void
fuzz_ack_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES], ack[SPHINX_PACKET_BYTES];
	uint8_t b[7] = { 0 }, msg[SPHINX_MAX_ACKED_MESSAGE_BYTES];
	uint8_t got[SPHINX_MAX_MESSAGE_BYTES], block[SPHINX_ACK_BYTES];
	uint8_t id[SURB_ID_BYTES], gid[SURB_ID_BYTES], first[32];
	uint8_t keys[SURB_KEYS_BYTES] = { 0 };
	struct sphinx_hop hops[SPHINX_MAX_HOPS], back[SPHINX_MAX_HOPS];
	struct sphinx_hop_result res;
	struct stream st = { { 0 }, 0 };
	struct sphinx_rng rng = { stream_fill, &st };
	size_t got_len;
	int is_ack;

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	crypto_generichash(st.key, sizeof(st.key), data, size, NULL, 0);

	size_t nf = SURB_MIN_HOPS + b[0] % (SPHINX_MAX_HOPS - 1);
	size_t nb = SURB_MIN_HOPS + b[1] % (SPHINX_MAX_HOPS - 1);
	size_t len = ((size_t)b[2] << 8 | b[3]) %
	    (SPHINX_MAX_ACKED_MESSAGE_BYTES + 1);
	size_t bit = ((size_t)b[4] << 8 | b[5]) % (SPHINX_PACKET_BYTES * 8);
	size_t flip_at = b[6] % (nf + nb + 1);
	int header_flip = bit < SPHINX_HEADER_BYTES * 8;
	int in_block = bit >= SPHINX_HEADER_BYTES * 8 &&
	    bit < (SPHINX_HEADER_BYTES + SPHINX_ACK_BYTES) * 8;

	fuzz_path(back, nb, &st);
	fuzz_path(hops, nf, &st);
	hops[nf - 2].flags = SPHINX_FLAG_ACK;
	hops[nf - 1].flags = SPHINX_FLAG_ACK;
	stream_fill(&st, id, sizeof(id));
	stream_fill(&st, msg, len);
	check(surb_ack_create(block, id, fz.pub[0], back, nb, &rng) ==
	    SPHINX_OK);
	check(sphinx_create_acked(pkt, hops, nf, block, msg, len, &rng) ==
	    SPHINX_OK);

	/* The message. */
	int took = 0;
	for (size_t i = 0; i < nf; i++) {
		int flipped_here = i == flip_at;
		if (flipped_here)
			pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int header_bad = flipped_here && header_flip;

		if (i + 1 == nf) {
			int rc = sphinx_unwrap(fz.priv[CREATOR], pkt, got,
			    &got_len, NULL);
			if (header_bad)
				check(rc == SPHINX_ERR_MAC ||
				    rc == SPHINX_ERR_MALFORMED);
			else if (flip_at < i || (flipped_here && !in_block))
				check(rc == SPHINX_ERR_PAYLOAD);
			else
				check(rc == SPHINX_OK && got_len == len &&
				    memcmp(got, msg, len) == 0);
			break;
		}
		replay_reset(fz.store, fz.pub[i]);
		int rc = sphinx_process(fz.priv[i], fz.store, pkt, pkt, &res);
		if (header_bad) {
			check(rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
			return;
		}
		check(rc == SPHINX_OK && res.command == hops[i].command &&
		    res.flags == hops[i].flags &&
		    res.delay_ms == hops[i].delay_ms &&
		    memcmp(res.next_id, hops[i].next_id, 32) == 0);
		if (!(res.flags & SPHINX_FLAG_ACK))
			continue;
		/* The egress provider. */
		rc = surb_ack_take(pkt, ack, first);
		check(sodium_is_zero(pkt + SPHINX_HEADER_BYTES,
		    SPHINX_ACK_BYTES));
		if (flip_at > i) {
			check(rc == SPHINX_OK);
			check(memcmp(first, fz.pub[0], 32) == 0);
			check(memcmp(ack, block + SPHINX_NODE_ID_BYTES,
			    SPHINX_HEADER_BYTES) == 0);
		}
		took = rc == SPHINX_OK;
	}
	if (!took)
		return;

	/* The acknowledgement, to the creator. */
	for (size_t j = 0; j < nb; j++) {
		int flipped_here = nf + j == flip_at;
		if (flipped_here)
			ack[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int header_bad = flipped_here && header_flip;
		/* A payload changed before the egress provider: the block
		 * was junk, and its header is refused at once. */
		int junk = flip_at < nf - 1;

		if (j + 1 == nb) {
			int rc = reply_kind(ack, gid, &is_ack);
			if (header_bad) {
				check(rc == SPHINX_ERR_MAC ||
				    rc == SPHINX_ERR_MALFORMED);
				return;
			}
			check(!junk && rc == SPHINX_OK && is_ack == 1 &&
			    memcmp(gid, id, sizeof(id)) == 0);
			/* Nothing to open, and not a message. */
			memcpy(keys, id, sizeof(id));
			keys[SURB_ID_BYTES + SURB_EPOCH_BYTES] = (uint8_t)nb;
			check(surb_open(fz.priv[CREATOR], keys, sizeof(keys),
			    ack, got, &got_len) == SPHINX_ERR_COMMAND);
			check(sphinx_unwrap(fz.priv[CREATOR], ack, got,
			    &got_len, NULL) == SPHINX_ERR_COMMAND);
			return;
		}
		replay_reset(fz.store, fz.pub[j]);
		int rc = sphinx_process(fz.priv[j], fz.store, ack, ack, &res);
		if (header_bad || (junk && j == 0)) {
			check(rc == SPHINX_ERR_MAC || rc == SPHINX_ERR_MALFORMED);
			return;
		}
		check(rc == SPHINX_OK && res.command == back[j].command &&
		    res.flags == 0 && res.delay_ms == back[j].delay_ms &&
		    memcmp(res.next_id, back[j].next_id, 32) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	replay_reset(fz.store, fz.pub[0]);
	if (size == 0)
		return 0;
	switch (data[0] % 7) {
	case 0:
		fuzz_use(data + 1, size - 1);
		break;
	case 1:
		fuzz_reply_id(data + 1, size - 1);
		break;
	case 2:
		fuzz_keys(data + 1, size - 1);
		break;
	case 3:
		fuzz_open(data + 1, size - 1);
		break;
	case 4:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	case 5:
		fuzz_ack_bytes(data + 1, size - 1);
		break;
	case 6:
		fuzz_ack_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
