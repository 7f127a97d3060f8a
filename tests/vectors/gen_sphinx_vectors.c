/*
 * Generator of the Sphinx test vectors in tests/vectors/sphinx/ (see the
 * README there and docs/sphinx.md).
 *
 * The packets come from a second, deliberately plain implementation of the
 * specification in this file (the "reference": one X25519 at a time, the
 * filler and every layer built exactly as docs/sphinx.md words them), and
 * the generator refuses to produce vectors unless src/common/sphinx.c
 * (and surb.c, for reply and acknowledgement blocks) agrees with the
 * reference byte for byte: the packet it creates from the same
 * randomness, the packet every hop passes on, every hop's result and the
 * message at the recipient.  The reference also supplies the
 * intermediate values (shared secrets, derived keys, routing blocks) that
 * the vectors carry for other implementers, and forges authentic but
 * malformed packets for the negative vectors.
 *
 *   gen_sphinx_vectors            regenerate in memory and compare with
 *                                 $top_srcdir/tests/vectors/sphinx/ (TAP)
 *   gen_sphinx_vectors -o DIR     write the vector files to DIR
 *   gen_sphinx_vectors -c DIR     write the fuzz seed corpus for
 *                                 tests/fuzz/fuzz_sphinx.c to DIR
 *   gen_sphinx_vectors -s DIR     write the fuzz seed corpus for
 *                                 tests/fuzz/fuzz_surb.c to DIR
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"

#define R_HOPS		SPHINX_MAX_HOPS
#define B_BYTES		SPHINX_ROUTING_BLOCK_BYTES
#define L_BYTES		SPHINX_BETA_BYTES
#define MAX_RANDOM	(32 + (R_HOPS - 1) * B_BYTES)

/* ------------------------------------------------------------------ */
/* Reference implementation, written from docs/sphinx.md.              */
/* ------------------------------------------------------------------ */

struct ref_hop {
	uint8_t	alpha[32];		/* the group element */
	uint8_t	wire_alpha[32];		/* with the key phase in bit 255 */
	uint8_t	secret[32];
	uint8_t	k_hop[32];			/* k: keys the hop stream */
	uint8_t	k_mac[32];
	uint8_t	k_payload[4][32];
	uint8_t	blinding[32];
	uint8_t	replay_tag[32];
	uint8_t	block[B_BYTES];			/* plaintext routing block */
	uint8_t	beta[L_BYTES];
	uint8_t	gamma[SPHINX_MAC_BYTES];
	uint8_t	payload[SPHINX_PAYLOAD_BYTES];
	uint8_t	packet[SPHINX_PACKET_BYTES];	/* as it reaches this hop */
};

struct ref_packet {
	size_t		n;
	struct ref_hop	hop[R_HOPS];
	uint8_t		payload_plain[SPHINX_PAYLOAD_BYTES];
};

/* H_len(label || s), BLAKE2b without a key. */
static void
ref_kdf(uint8_t *out, size_t len, const uint8_t s[32], const char *label)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, len);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, s, 32);
	crypto_generichash_final(&st, out, len);
}

/*
 * S(k)[0, len): ChaCha20 (RFC 8439), zero nonce, counter 0, computed one
 * 64-byte block at a time from the block function (a block of zeros
 * encrypted at counter j), not as the library's sphinx.c does it.
 */
static void
ref_keystream(uint8_t *out, size_t len, const uint8_t k[32])
{
	static const uint8_t nonce[12];
	uint8_t blk[64];

	for (size_t off = 0, j = 0; off < len; off += 64, j++) {
		size_t n = len - off < 64 ? len - off : 64;
		memset(blk, 0, sizeof(blk));
		crypto_stream_chacha20_ietf_xor_ic(blk, blk, sizeof(blk),
		    nonce, (uint32_t)j, k);
		memcpy(out + off, blk, n);
	}
}

static void
ref_xor(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = a[i] ^ b[i];
}

static void
ref_lioness_encrypt(uint8_t *block, size_t len, uint8_t k[4][32])
{
	uint8_t L[32], key[32], h[32];
	size_t rlen = len - 32;
	uint8_t *R = malloc(rlen), *ks = malloc(rlen);

	if (R == NULL || ks == NULL)
		abort();
	memcpy(L, block, 32);
	memcpy(R, block + 32, rlen);
	/* R = R ^ S(L ^ K1) */
	ref_xor(key, L, k[0], 32);
	ref_keystream(ks, rlen, key);
	ref_xor(R, R, ks, rlen);
	/* L = L ^ H_K2(R) */
	crypto_generichash(h, 32, R, rlen, k[1], 32);
	ref_xor(L, L, h, 32);
	/* R = R ^ S(L ^ K3) */
	ref_xor(key, L, k[2], 32);
	ref_keystream(ks, rlen, key);
	ref_xor(R, R, ks, rlen);
	/* L = L ^ H_K4(R) */
	crypto_generichash(h, 32, R, rlen, k[3], 32);
	ref_xor(L, L, h, 32);
	memcpy(block, L, 32);
	memcpy(block + 32, R, rlen);
	free(R);
	free(ks);
}

/* The four rounds of ref_lioness_encrypt() in reverse order. */
static void
ref_lioness_decrypt(uint8_t *block, size_t len, uint8_t k[4][32])
{
	uint8_t L[32], key[32], h[32];
	size_t rlen = len - 32;
	uint8_t *R = malloc(rlen), *ks = malloc(rlen);

	if (R == NULL || ks == NULL)
		abort();
	memcpy(L, block, 32);
	memcpy(R, block + 32, rlen);
	crypto_generichash(h, 32, R, rlen, k[3], 32);
	ref_xor(L, L, h, 32);
	ref_xor(key, L, k[2], 32);
	ref_keystream(ks, rlen, key);
	ref_xor(R, R, ks, rlen);
	crypto_generichash(h, 32, R, rlen, k[1], 32);
	ref_xor(L, L, h, 32);
	ref_xor(key, L, k[0], 32);
	ref_keystream(ks, rlen, key);
	ref_xor(R, R, ks, rlen);
	memcpy(block, L, 32);
	memcpy(block + 32, R, rlen);
	free(R);
	free(ks);
}

static void
ref_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Builds a packet the plain way.  ack, if not NULL, is an acknowledgement
 * block (section 18.3): the last hop's layer then covers encode'(m), the
 * 1650 bytes after the block, and the block is what the other layers
 * cover with it.  raw_last_block, if not NULL, replaces the encoded
 * routing block of the last hop; raw_plain, if not NULL, replaces the
 * encoded payload plaintext (SPHINX_PAYLOAD_BYTES, or the 1650 bytes of
 * encode'(m) with ack) (both only to forge negative vectors).  Returns 0,
 * or -1 if an X25519 result is zero.
 */
static int
ref_build(struct ref_packet *rp, const struct sphinx_hop *hops, size_t n,
    const uint8_t x[32], const uint8_t *padding, const uint8_t *msg,
    size_t msg_len, const uint8_t *ack, const uint8_t *raw_last_block,
    const uint8_t *raw_plain)
{
	uint8_t S[R_HOPS][L_BYTES + B_BYTES];
	uint8_t filler[(R_HOPS - 1) * B_BYTES];
	uint8_t HS[256 + L_BYTES + B_BYTES];	/* the hop stream, section 5 */

	memset(rp, 0, sizeof(*rp));
	rp->n = n;

	/* alpha_0 = X25519(x, 9); s_i = X25519(sk_i, alpha_i), computed by
	 * the sender as x, then b_0, ..., b_(i-1) applied to pk_i. */
	if (crypto_scalarmult_base(rp->hop[0].alpha, x) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ref_hop *h = &rp->hop[i];
		if (i > 0 && crypto_scalarmult(h->alpha, rp->hop[i - 1].blinding,
		    rp->hop[i - 1].alpha) != 0)
			return -1;
		if (crypto_scalarmult(h->secret, x, hops[i].node_pub) != 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			uint8_t t[32];
			if (crypto_scalarmult(t, rp->hop[j].blinding,
			    h->secret) != 0)
				return -1;
			memcpy(h->secret, t, 32);
		}
		/* k = H_32(label || s); HS = S(k, 648): mu, b, tag, K1..K4,
		 * 32 unused bytes, then the header keystream. */
		ref_kdf(h->k_hop, 32, h->secret, "nymd-sphinx-v2/hop");
		ref_keystream(HS, sizeof(HS), h->k_hop);
		memcpy(h->k_mac, HS, 32);
		memcpy(h->blinding, HS + 32, 32);
		memcpy(h->replay_tag, HS + 64, 32);
		for (int j = 0; j < 4; j++)
			memcpy(h->k_payload[j], HS + 96 + 32 * j, 32);
		memcpy(S[i], HS + 256, sizeof(S[i]));
	}

	/* phi_0 = empty; phi_(k+1) = (phi_k || 0^B) ^ S_k[L - kB, L + B) */
	size_t flen = 0;
	for (size_t k = 0; k + 1 < n; k++) {
		uint8_t next[sizeof(filler)];
		memcpy(next, filler, flen);
		memset(next + flen, 0, B_BYTES);
		flen += B_BYTES;
		ref_xor(filler, next, S[k] + L_BYTES - k * B_BYTES, flen);
	}

	/* Routing blocks and betas, last hop first. */
	for (size_t i = n; i-- > 0;) {
		struct ref_hop *h = &rp->hop[i];
		memset(h->block, 0, B_BYTES);
		h->block[0] = hops[i].command;
		if (i + 1 < n)
			h->block[1] = hops[i + 1].key_phase;
		h->block[2] = hops[i].flags;
		ref_be32(h->block + 4, hops[i].delay_ms);
		memcpy(h->block + 8, hops[i].next_id, 32);
		if (i + 1 < n) {
			memcpy(h->block + 40, rp->hop[i + 1].gamma, 16);
			uint8_t plain[L_BYTES];
			memcpy(plain, h->block, B_BYTES);
			memcpy(plain + B_BYTES, rp->hop[i + 1].beta,
			    L_BYTES - B_BYTES);
			ref_xor(h->beta, plain, S[i], L_BYTES);
		} else {
			if (raw_last_block != NULL)
				memcpy(h->block, raw_last_block, B_BYTES);
			size_t head = L_BYTES - (n - 1) * B_BYTES;
			uint8_t plain[L_BYTES];
			memcpy(plain, h->block, B_BYTES);
			memcpy(plain + B_BYTES, padding, head - B_BYTES);
			ref_xor(h->beta, plain, S[i], head);
			memcpy(h->beta + head, filler, flen);
		}
		/* On the wire, alpha's top bit is the hop's key phase. */
		memcpy(h->wire_alpha, h->alpha, 32);
		h->wire_alpha[31] |= (uint8_t)(hops[i].key_phase << 7);
		uint8_t mac_in[32 + L_BYTES];
		memcpy(mac_in, h->wire_alpha, 32);
		memcpy(mac_in + 32, h->beta, L_BYTES);
		crypto_generichash(h->gamma, 16, mac_in, sizeof(mac_in),
		    h->k_mac, 32);
	}

	/* Payload: 0^16 || len (2, big-endian) || msg || 0-padding, then one
	 * LIONESS layer per hop, the last hop's innermost.  With an ack
	 * block: ack || Q, Q the last hop's layer over encode'(m) (1650
	 * bytes), then the other hops' layers over the whole. */
	uint8_t *P = rp->payload_plain;
	size_t off = ack != NULL ? SPHINX_ACK_BYTES : 0;
	size_t plen = SPHINX_PAYLOAD_BYTES - off;
	memset(P, 0, SPHINX_PAYLOAD_BYTES);
	if (ack != NULL)
		memcpy(P, ack, SPHINX_ACK_BYTES);
	if (raw_plain != NULL) {
		memcpy(P + off, raw_plain, plen);
	} else {
		P[off + 16] = (uint8_t)(msg_len >> 8);
		P[off + 17] = (uint8_t)msg_len;
		if (msg_len > 0)
			memcpy(P + off + 18, msg, msg_len);
	}
	uint8_t layer[SPHINX_PAYLOAD_BYTES];
	memcpy(layer, P, sizeof(layer));
	for (size_t i = n; i-- > 0;) {
		if (ack != NULL && i + 1 == n)
			ref_lioness_encrypt(layer + off, plen,
			    rp->hop[i].k_payload);
		else
			ref_lioness_encrypt(layer, sizeof(layer),
			    rp->hop[i].k_payload);
		memcpy(rp->hop[i].payload, layer, sizeof(layer));
	}

	for (size_t i = 0; i < n; i++) {
		struct ref_hop *h = &rp->hop[i];
		memcpy(h->packet, h->wire_alpha, 32);
		memcpy(h->packet + 32, h->beta, L_BYTES);
		memcpy(h->packet + 32 + L_BYTES, h->gamma, 16);
		memcpy(h->packet + SPHINX_HEADER_BYTES, h->payload,
		    SPHINX_PAYLOAD_BYTES);
	}
	sodium_memzero(S, sizeof(S));
	sodium_memzero(HS, sizeof(HS));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Deterministic inputs.                                               */
/* ------------------------------------------------------------------ */

static void
derive(uint8_t *out, size_t len, const char *what, const char *name,
    unsigned idx)
{
	char label[256];
	uint8_t seed[32];
	static const uint8_t nonce[12];

	snprintf(label, sizeof(label), "nymd sphinx test vectors: %s %s %u",
	    what, name, idx);
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)label,
	    strlen(label), NULL, 0);
	crypto_stream_chacha20_ietf(out, len, nonce, seed);
}

struct node {
	uint8_t	priv[32];
	uint8_t	pub[32];
};

static void
node_key(struct node *nd, const char *label)
{
	crypto_generichash(nd->priv, 32, (const uint8_t *)label, strlen(label),
	    NULL, 0);
	if (crypto_scalarmult_base(nd->pub, nd->priv) != 0)
		abort();
}

struct replay_rng {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 used;
};

static int
replay_rng_fill(void *ctx, uint8_t *out, size_t len)
{
	struct replay_rng *r = ctx;
	if (len > r->len - r->used)
		return -1;
	memcpy(out, r->buf + r->used, len);
	r->used += len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON helpers.                                                       */
/* ------------------------------------------------------------------ */

static json_t *
jhex(const uint8_t *b, size_t len)
{
	char *s = malloc(2 * len + 1);
	if (s == NULL)
		abort();
	sodium_bin2hex(s, 2 * len + 1, b, len);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static void
jset(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL || json_object_set_new(obj, key, val) != 0)
		abort();
}

static int failures;

static void
fail(const char *name, const char *what)
{
	fprintf(stderr, "gen_sphinx_vectors: %s: %s\n", name, what);
	failures++;
}

/* ------------------------------------------------------------------ */
/* Positive vectors.                                                   */
/* ------------------------------------------------------------------ */

struct path_spec {
	const char	*name;
	const char	*description;
	size_t		 n;
	uint8_t		 commands[R_HOPS];
	uint32_t	 delays[R_HOPS];
	size_t		 msg_len;
	const char	*msg_text;	/* NULL: derived bytes of msg_len */
	uint8_t		 phases[R_HOPS];	/* each hop's key phase */
};

static const struct path_spec paths[] = {
	{ "forward-6-hops",
	  "A message over the longest path: ingress provider, three mixnodes, "
	  "egress provider (deliver to the recipient's mailbox), recipient.",
	  6, { SPHINX_CMD_RELAY, SPHINX_CMD_RELAY, SPHINX_CMD_RELAY,
	       SPHINX_CMD_RELAY, SPHINX_CMD_DELIVER, SPHINX_CMD_FINAL },
	  { 0, 1234, 56789, 4294967295u, 17, 0 }, 0,
	  "Hello from the nymd Sphinx test vectors.", { 1, 0, 1, 1, 0, 0 } },
	{ "drop-5-hops",
	  "Drop cover: ingress provider, three mixnodes, and an egress "
	  "provider told to discard the packet; empty message.",
	  5, { SPHINX_CMD_RELAY, SPHINX_CMD_RELAY, SPHINX_CMD_RELAY,
	       SPHINX_CMD_RELAY, SPHINX_CMD_DROP },
	  { 10, 20, 30, 40, 0 }, 0, "", { 0, 1, 1, 0, 1 } },
	{ "loop-6-hops-max-message",
	  "A loop cover packet with a message of the maximum length "
	  "(2048 bytes).",
	  6, { SPHINX_CMD_RELAY, SPHINX_CMD_RELAY, SPHINX_CMD_RELAY,
	       SPHINX_CMD_RELAY, SPHINX_CMD_DELIVER, SPHINX_CMD_FINAL },
	  { 100, 200, 300, 400, 500, 0 }, SPHINX_MAX_MESSAGE_BYTES, NULL,
	  { 0, 0, 0, 0, 0, 0 } },
	{ "short-3-hops",
	  "A shorter path (relay, deliver, final) with a one-byte message: "
	  "three blocks of random padding.",
	  3, { SPHINX_CMD_RELAY, SPHINX_CMD_DELIVER, SPHINX_CMD_FINAL },
	  { 65535, 65536, 0 }, 1, NULL, { 1, 1, 0 } },
	{ "direct-1-hop",
	  "The shortest path: the recipient alone; empty message.",
	  1, { SPHINX_CMD_FINAL }, { 0 }, 0, "", { 0 } },
};

static json_t *
hop_keys_json(const struct ref_hop *h)
{
	json_t *k = json_object();
	jset(k, "hop_key", jhex(h->k_hop, 32));
	jset(k, "header_mac", jhex(h->k_mac, 32));
	json_t *p = json_array();
	for (int i = 0; i < 4; i++)
		json_array_append_new(p, jhex(h->k_payload[i], 32));
	jset(k, "payload", p);
	jset(k, "blinding", jhex(h->blinding, 32));
	return k;
}

static json_t *
gen_path(const struct path_spec *ps)
{
	struct node nodes[R_HOPS];
	struct sphinx_hop hops[R_HOPS];
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t random[MAX_RANDOM];
	size_t msg_len, nrandom = 32 + (R_HOPS - ps->n) * B_BYTES;
	struct ref_packet *rp = malloc(sizeof(*rp));

	if (rp == NULL)
		abort();
	for (size_t i = 0; i < ps->n; i++) {
		char label[128];
		snprintf(label, sizeof(label),
		    "nymd sphinx test vectors: key %s %zu", ps->name, i);
		node_key(&nodes[i], label);
	}
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < ps->n; i++) {
		memcpy(hops[i].node_pub, nodes[i].pub, 32);
		hops[i].command = ps->commands[i];
		hops[i].delay_ms = ps->delays[i];
		hops[i].key_phase = ps->phases[i];
		if (i + 1 < ps->n)
			memcpy(hops[i].next_id, nodes[i + 1].pub, 32);
	}
	if (ps->msg_text != NULL) {
		msg_len = strlen(ps->msg_text);
		memcpy(msg, ps->msg_text, msg_len);
	} else {
		msg_len = ps->msg_len;
		derive(msg, msg_len, "message", ps->name, 0);
	}
	derive(random, nrandom, "randomness", ps->name, 0);

	if (ref_build(rp, hops, ps->n, random, random + 32, msg, msg_len,
	    NULL, NULL, NULL) != 0)
		fail(ps->name, "reference construction failed");

	/* The library must produce the same packet from the same bytes. */
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	struct replay_rng rr = { random, nrandom, 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };
	if (sphinx_create(pkt, hops, ps->n, msg, msg_len, &rng) != SPHINX_OK)
		fail(ps->name, "sphinx_create failed");
	if (rr.used != nrandom)
		fail(ps->name, "sphinx_create consumed a different amount of randomness");
	if (memcmp(pkt, rp->hop[0].packet, sizeof(pkt)) != 0)
		fail(ps->name, "sphinx_create disagrees with the reference");

	json_t *v = json_object();
	jset(v, "name", json_string(ps->name));
	jset(v, "description", json_string(ps->description));
	jset(v, "randomness", jhex(random, nrandom));
	jset(v, "message", jhex(msg, msg_len));
	json_t *jhops = json_array();
	for (size_t i = 0; i < ps->n; i++) {
		json_t *h = json_object();
		jset(h, "private_key", jhex(nodes[i].priv, 32));
		jset(h, "public_key", jhex(nodes[i].pub, 32));
		jset(h, "command", json_string(sphinx_command_name(hops[i].command)));
		jset(h, "next_id", jhex(hops[i].next_id, 32));
		jset(h, "delay_ms", json_integer(hops[i].delay_ms));
		jset(h, "key_phase", json_integer(hops[i].key_phase));
		json_array_append_new(jhops, h);
	}
	jset(v, "hops", jhops);
	jset(v, "packet", jhex(rp->hop[0].packet, SPHINX_PACKET_BYTES));

	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 16,
		.false_positive_rate = 1e-9,
	};
	struct replay_store *store;
	if (replay_new(&store, &params) != REPLAY_OK)
		abort();

	json_t *steps = json_array();
	for (size_t i = 0; i < ps->n; i++) {
		const struct ref_hop *h = &rp->hop[i];
		json_t *st = json_object();
		int final = hops[i].command == SPHINX_CMD_FINAL;
		jset(st, "hop", json_integer((json_int_t)i));
		jset(st, "operation", json_string(final ? "unwrap" : "process"));
		jset(st, "alpha", jhex(h->alpha, 32));
		jset(st, "shared_secret", jhex(h->secret, 32));
		jset(st, "keys", hop_keys_json(h));
		jset(st, "replay_tag", jhex(h->replay_tag, 32));
		jset(st, "routing_block", jhex(h->block, B_BYTES));
		jset(st, "result", json_string("ok"));
		jset(st, "command", json_string(sphinx_command_name(hops[i].command)));

		if (final) {
			uint8_t got[SPHINX_MAX_MESSAGE_BYTES], tag[32];
			size_t got_len;
			if (sphinx_unwrap(nodes[i].priv, pkt, got, &got_len,
			    tag) != SPHINX_OK || got_len != msg_len ||
			    memcmp(got, msg, msg_len) != 0 ||
			    memcmp(tag, h->replay_tag, 32) != 0)
				fail(ps->name, "sphinx_unwrap disagrees");
			jset(st, "message", jhex(msg, msg_len));
			json_array_append_new(steps, st);
			break;
		}

		struct sphinx_hop_result res;
		replay_reset(store, nodes[i].pub);
		int rc = sphinx_process(nodes[i].priv, store, pkt, out, &res);
		if (rc != SPHINX_OK || res.command != hops[i].command ||
		    res.delay_ms != hops[i].delay_ms ||
		    memcmp(res.next_id, hops[i].next_id, 32) != 0 ||
		    !replay_contains(store, h->replay_tag))
			fail(ps->name, "sphinx_process result disagrees");
		jset(st, "next_id", jhex(hops[i].next_id, 32));
		jset(st, "delay_ms", json_integer(hops[i].delay_ms));
		if (hops[i].command != SPHINX_CMD_DROP) {
			if (memcmp(out, rp->hop[i + 1].packet, sizeof(out)) != 0)
				fail(ps->name, "sphinx_process output disagrees");
			jset(st, "packet_out", jhex(out, sizeof(out)));
		}
		json_array_append_new(steps, st);
		memcpy(pkt, out, sizeof(pkt));
	}
	jset(v, "steps", steps);
	replay_free(store);
	free(rp);
	return v;
}

/* ------------------------------------------------------------------ */
/* Reply blocks (docs/sphinx.md, section 17).                          */
/* ------------------------------------------------------------------ */

#define SURB_VECTOR_HOPS	6
#define SURB_VECTOR_EPOCH	491521u		/* odd: the nodes' phase is 1 */
#define SURB_RANDOM_BYTES	(16 + 32 + 32)	/* id, x, k~ (no padding) */

static void
ref_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* K~ = S(H_32("nymd-sphinx-v3/surb-payload" || k~), 128). */
static void
ref_surb_layer(uint8_t k[4][32], const uint8_t payload_key[32])
{
	uint8_t h[32], ks[128];
	ref_kdf(h, 32, payload_key, "nymd-sphinx-v3/surb-payload");
	ref_keystream(ks, sizeof(ks), h);
	for (int i = 0; i < 4; i++)
		memcpy(k[i], ks + 32 * i, 32);
}

static json_t *
gen_surb(void)
{
	static const char name[] = "surb-6-hops";
	static const char text[] = "A reply through a single-use reply block.";
	static const uint32_t delays[SURB_VECTOR_HOPS] = { 42, 1000, 2500,
	    60000, 7, 0 };
	struct node nodes[SURB_VECTOR_HOPS];
	struct sphinx_hop hops[SURB_VECTOR_HOPS], ref_hops[SURB_VECTOR_HOPS];
	uint8_t random[SURB_RANDOM_BYTES];
	const size_t n = SURB_VECTOR_HOPS, msg_len = sizeof(text) - 1;
	const uint8_t *id = random, *x = random + 16, *payload_key = random + 48;
	struct ref_packet *rp = malloc(sizeof(*rp));

	if (rp == NULL)
		abort();
	/* The path as the creator's caller gives it: a forward path to the
	 * creator (hop 5), every node's key of an odd epoch. */
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		char label[128];
		snprintf(label, sizeof(label),
		    "nymd sphinx test vectors: key %s %zu", name, i);
		node_key(&nodes[i], label);
		memcpy(hops[i].node_pub, nodes[i].pub, 32);
		hops[i].delay_ms = delays[i];
		if (i + 1 == n) {
			hops[i].command = SPHINX_CMD_FINAL;
			continue;
		}
		hops[i].command = i + 2 == n ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		hops[i].key_phase = SURB_VECTOR_EPOCH & 1;
		memcpy(hops[i].next_id, nodes[i + 1].pub, 32);
	}
	derive(random, sizeof(random), "randomness", name, 0);
	/* Nodes are named by their long-term identity, not by the key of
	 * the epoch a packet is built for. */
	struct node first_hop;
	node_key(&first_hop, "nymd sphinx test vectors: identity surb-6-hops 0");

	/* Reference: the header of a path whose last block is REPLY. */
	memcpy(ref_hops, hops, sizeof(ref_hops));
	ref_hops[n - 1].command = SPHINX_CMD_REPLY;
	memcpy(ref_hops[n - 1].next_id, id, 16);
	/* n = 6: no padding (the pointer is not read). */
	if (ref_build(rp, ref_hops, n, x, payload_key, NULL, 0, NULL, NULL,
	    NULL) != 0)
		fail(name, "reference construction failed");

	uint8_t ref_surb[SURB_BYTES], ref_keys[SURB_KEYS_BYTES];
	ref_be64(ref_surb, SURB_VECTOR_EPOCH);
	memcpy(ref_surb + 8, first_hop.pub, 32);
	memcpy(ref_surb + 40, rp->hop[0].packet, SPHINX_HEADER_BYTES);
	memcpy(ref_surb + 40 + SPHINX_HEADER_BYTES, payload_key, 32);
	memset(ref_keys, 0, sizeof(ref_keys));
	memcpy(ref_keys, id, 16);
	ref_be64(ref_keys + 16, SURB_VECTOR_EPOCH);
	ref_keys[24] = (uint8_t)n;
	memcpy(ref_keys + 32, payload_key, 32);
	for (size_t i = 0; i + 1 < n; i++)
		memcpy(ref_keys + 64 + 128 * i, rp->hop[i].k_payload, 128);

	/* The replier's payload, then each node's layer removed. */
	uint8_t layer[4][32];
	uint8_t P[SURB_VECTOR_HOPS][SPHINX_PAYLOAD_BYTES];
	ref_surb_layer(layer, payload_key);
	memset(P[0], 0, SPHINX_PAYLOAD_BYTES);
	P[0][16] = (uint8_t)(msg_len >> 8);
	P[0][17] = (uint8_t)msg_len;
	memcpy(P[0] + 18, text, msg_len);
	ref_lioness_encrypt(P[0], SPHINX_PAYLOAD_BYTES, layer);
	for (size_t i = 0; i + 1 < n; i++) {
		memcpy(P[i + 1], P[i], SPHINX_PAYLOAD_BYTES);
		ref_lioness_decrypt(P[i + 1], SPHINX_PAYLOAD_BYTES,
		    rp->hop[i].k_payload);
	}
	for (size_t i = 0; i < n; i++)
		memcpy(rp->hop[i].packet + SPHINX_HEADER_BYTES, P[i],
		    SPHINX_PAYLOAD_BYTES);

	/* The library must agree at every step. */
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], got_id[16];
	uint8_t pkt[SPHINX_PACKET_BYTES];
	struct replay_rng rr = { random, sizeof(random), 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };
	if (surb_create(surb, keys, got_id, first_hop.pub, hops, n,
	    SURB_VECTOR_EPOCH, &rng) != SPHINX_OK || rr.used != sizeof(random))
		fail(name, "surb_create failed");
	if (memcmp(got_id, id, 16) != 0 ||
	    memcmp(surb, ref_surb, sizeof(surb)) != 0 ||
	    memcmp(keys, ref_keys, sizeof(keys)) != 0)
		fail(name, "surb_create disagrees with the reference");
	if (surb_use(pkt, NULL, surb, sizeof(surb), (const uint8_t *)text,
	    msg_len) != SPHINX_OK ||
	    memcmp(pkt, rp->hop[0].packet, sizeof(pkt)) != 0)
		fail(name, "surb_use disagrees with the reference");

	json_t *v = json_object();
	jset(v, "name", json_string(name));
	jset(v, "description", json_string("A reply block over the longest "
	    "path (the replier's provider, three mixnodes, the creator's "
	    "provider, the creator), used once, with every hop's processing "
	    "and the creator's opening."));
	jset(v, "epoch", json_integer(SURB_VECTOR_EPOCH));
	jset(v, "randomness", jhex(random, sizeof(random)));
	jset(v, "first_hop", jhex(first_hop.pub, 32));
	json_t *jhops = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_object();
		jset(h, "private_key", jhex(nodes[i].priv, 32));
		jset(h, "public_key", jhex(nodes[i].pub, 32));
		jset(h, "command", json_string(sphinx_command_name(hops[i].command)));
		jset(h, "next_id", jhex(hops[i].next_id, 32));
		jset(h, "delay_ms", json_integer(hops[i].delay_ms));
		jset(h, "key_phase", json_integer(hops[i].key_phase));
		json_array_append_new(jhops, h);
	}
	jset(v, "hops", jhops);
	jset(v, "surb_id", jhex(id, 16));
	jset(v, "surb", jhex(ref_surb, sizeof(ref_surb)));
	jset(v, "kept_keys", jhex(ref_keys, sizeof(ref_keys)));
	json_t *jl = json_array();
	for (int i = 0; i < 4; i++)
		json_array_append_new(jl, jhex(layer[i], 32));
	jset(v, "replier_payload_keys", jl);
	jset(v, "message", jhex((const uint8_t *)text, msg_len));
	jset(v, "packet", jhex(rp->hop[0].packet, SPHINX_PACKET_BYTES));

	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 16,
		.false_positive_rate = 1e-9,
	};
	struct replay_store *store;
	if (replay_new(&store, &params) != REPLAY_OK)
		abort();
	json_t *steps = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct ref_hop *h = &rp->hop[i];
		json_t *st = json_object();
		int last = i + 1 == n;
		jset(st, "hop", json_integer((json_int_t)i));
		jset(st, "operation", json_string(last ? "open" : "process"));
		jset(st, "alpha", jhex(h->alpha, 32));
		jset(st, "shared_secret", jhex(h->secret, 32));
		jset(st, "keys", hop_keys_json(h));
		jset(st, "replay_tag", jhex(h->replay_tag, 32));
		jset(st, "routing_block", jhex(h->block, B_BYTES));
		jset(st, "result", json_string("ok"));
		jset(st, "command", json_string(sphinx_command_name(
		    ref_hops[i].command)));
		if (last) {
			uint8_t got[SPHINX_MAX_MESSAGE_BYTES];
			size_t got_len;
			if (surb_reply_id(nodes[i].priv, pkt, got_id) != SPHINX_OK ||
			    memcmp(got_id, id, 16) != 0 ||
			    surb_open(nodes[i].priv, keys, sizeof(keys), pkt, got,
			    &got_len) != SPHINX_OK || got_len != msg_len ||
			    memcmp(got, text, msg_len) != 0)
				fail(name, "surb_open disagrees");
			jset(st, "surb_id", jhex(id, 16));
			jset(st, "message", jhex((const uint8_t *)text, msg_len));
			json_array_append_new(steps, st);
			break;
		}
		struct sphinx_hop_result res;
		uint8_t out[SPHINX_PACKET_BYTES];
		replay_reset(store, nodes[i].pub);
		if (sphinx_process(nodes[i].priv, store, pkt, out, &res) !=
		    SPHINX_OK || res.command != hops[i].command ||
		    res.delay_ms != hops[i].delay_ms ||
		    memcmp(res.next_id, hops[i].next_id, 32) != 0 ||
		    !replay_contains(store, h->replay_tag) ||
		    memcmp(out, rp->hop[i + 1].packet, sizeof(out)) != 0)
			fail(name, "sphinx_process disagrees on the reply");
		jset(st, "next_id", jhex(hops[i].next_id, 32));
		jset(st, "delay_ms", json_integer(hops[i].delay_ms));
		jset(st, "packet_out", jhex(out, sizeof(out)));
		json_array_append_new(steps, st);
		memcpy(pkt, out, sizeof(pkt));
	}
	jset(v, "steps", steps);
	replay_free(store);
	sodium_memzero(keys, sizeof(keys));
	free(rp);
	return v;
}

/* ------------------------------------------------------------------ */
/* Acknowledgement blocks (docs/sphinx.md, section 18).                */
/* ------------------------------------------------------------------ */

#define ACK_VECTOR_HOPS		6	/* the message's path */
#define ACK_BACK_HOPS		5	/* the acknowledgement's path */
/* What surb_ack_create() draws: x, then the padding of a 5-hop path. */
#define ACK_BLOCK_RANDOM_BYTES	(32 + (R_HOPS - ACK_BACK_HOPS) * B_BYTES)

static json_t *
ack_hop_json(const struct node *nd, const struct sphinx_hop *h)
{
	json_t *j = json_object();
	jset(j, "private_key", jhex(nd->priv, 32));
	jset(j, "public_key", jhex(nd->pub, 32));
	jset(j, "command", json_string(sphinx_command_name(h->command)));
	jset(j, "next_id", jhex(h->next_id, 32));
	jset(j, "delay_ms", json_integer(h->delay_ms));
	jset(j, "key_phase", json_integer(h->key_phase));
	jset(j, "flags", json_integer(h->flags));
	return j;
}

/* The fields every step of ack-6-hops.json has, as in the path vectors. */
static json_t *
ack_step_json(const struct ref_hop *h, size_t i, const char *operation,
    uint8_t command)
{
	json_t *st = json_object();
	jset(st, "hop", json_integer((json_int_t)i));
	jset(st, "operation", json_string(operation));
	jset(st, "alpha", jhex(h->alpha, 32));
	jset(st, "shared_secret", jhex(h->secret, 32));
	jset(st, "keys", hop_keys_json(h));
	jset(st, "replay_tag", jhex(h->replay_tag, 32));
	jset(st, "routing_block", jhex(h->block, B_BYTES));
	jset(st, "result", json_string("ok"));
	jset(st, "command", json_string(sphinx_command_name(command)));
	jset(st, "flags", json_integer(h->block[2]));
	return st;
}

/*
 * sphinx_process() of pkt at node nd must give hop i's result of hops and
 * pass on want (NULL: nothing to compare); out gets what it passes on.
 */
static void
ack_process(const char *name, const char *what, struct replay_store *store,
    const struct node *nd, const struct sphinx_hop *hop,
    const struct ref_hop *h, const uint8_t pkt[SPHINX_PACKET_BYTES],
    uint8_t out[SPHINX_PACKET_BYTES], const uint8_t *want)
{
	struct sphinx_hop_result res;

	replay_reset(store, nd->pub);
	if (sphinx_process(nd->priv, store, pkt, out, &res) != SPHINX_OK ||
	    res.command != hop->command || res.flags != hop->flags ||
	    res.delay_ms != hop->delay_ms ||
	    memcmp(res.next_id, hop->next_id, 32) != 0 ||
	    !replay_contains(store, h->replay_tag) ||
	    (want != NULL && memcmp(out, want, SPHINX_PACKET_BYTES) != 0))
		fail(name, what);
}

static json_t *
gen_ack(void)
{
	static const char name[] = "ack-6-hops";
	static const char text[] = "An acknowledged message: its egress "
	    "provider tells the sender once it has stored it.";
	/* The message: the sender's provider, three mixnodes, the
	 * recipient's provider (DELIVER + ACK), the recipient (FINAL + ACK). */
	static const uint32_t delays[ACK_VECTOR_HOPS] = { 15, 250, 3000,
	    45000, 9, 0 };
	static const uint8_t phases[ACK_VECTOR_HOPS] = { 1, 0, 1, 1, 0, 0 };
	/* The acknowledgement: three mixnodes, the sender's provider (the
	 * message's hop 0, the same key), the sender. */
	static const uint32_t back_delays[ACK_BACK_HOPS] = { 700, 80, 12345,
	    5, 0 };
	static const uint8_t back_phases[ACK_BACK_HOPS] = { 0, 1, 0, 1, 0 };
	const size_t n = ACK_VECTOR_HOPS, nb = ACK_BACK_HOPS;
	const size_t msg_len = sizeof(text) - 1;
	struct node fwd[ACK_VECTOR_HOPS], back[ACK_BACK_HOPS], first_hop;
	struct sphinx_hop hops[ACK_VECTOR_HOPS], bhops[ACK_BACK_HOPS];
	struct sphinx_hop ref_bhops[ACK_BACK_HOPS];
	uint8_t ack_id[SURB_ID_BYTES], block_random[ACK_BLOCK_RANDOM_BYTES];
	uint8_t random[32], ack_payload[SPHINX_PAYLOAD_BYTES];
	struct ref_packet *rb = malloc(sizeof(*rb)), *rf = malloc(sizeof(*rf));

	if (rb == NULL || rf == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		char label[128];
		snprintf(label, sizeof(label),
		    "nymd sphinx test vectors: key %s %zu", name, i);
		node_key(&fwd[i], label);
	}
	for (size_t i = 0; i < 3; i++) {
		char label[128];
		snprintf(label, sizeof(label),
		    "nymd sphinx test vectors: key %s ack %zu", name, i);
		node_key(&back[i], label);
	}
	back[3] = fwd[0];
	node_key(&back[4], "nymd sphinx test vectors: key ack-6-hops sender");
	/* Where the egress provider sends the acknowledgement: the
	 * identity of the first mixnode, not its key of the epoch. */
	node_key(&first_hop, "nymd sphinx test vectors: identity ack-6-hops "
	    "ack 0");

	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		memcpy(hops[i].node_pub, fwd[i].pub, 32);
		hops[i].delay_ms = delays[i];
		hops[i].key_phase = phases[i];
		if (i + 1 == n) {
			hops[i].command = SPHINX_CMD_FINAL;
			hops[i].flags = SPHINX_FLAG_ACK;
			continue;
		}
		hops[i].command = i + 2 == n ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		hops[i].flags = i + 2 == n ? SPHINX_FLAG_ACK : 0;
		memcpy(hops[i].next_id, fwd[i + 1].pub, 32);
	}
	memset(bhops, 0, sizeof(bhops));
	for (size_t i = 0; i < nb; i++) {
		memcpy(bhops[i].node_pub, back[i].pub, 32);
		bhops[i].delay_ms = back_delays[i];
		bhops[i].key_phase = back_phases[i];
		if (i + 1 == nb) {
			bhops[i].command = SPHINX_CMD_FINAL;
			continue;
		}
		bhops[i].command = i + 2 == nb ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		memcpy(bhops[i].next_id, back[i + 1].pub, 32);
	}
	derive(ack_id, sizeof(ack_id), "ack id", name, 0);
	derive(block_random, sizeof(block_random), "ack randomness", name, 0);
	derive(random, sizeof(random), "randomness", name, 0);
	derive(ack_payload, sizeof(ack_payload), "ack payload", name, 0);

	/* Reference: the block is first hop || the header of a path whose
	 * last block is REPLY || 0 || ACK || 0^5 || id || 0^32. */
	memcpy(ref_bhops, bhops, sizeof(ref_bhops));
	ref_bhops[nb - 1].command = SPHINX_CMD_REPLY;
	ref_bhops[nb - 1].flags = SPHINX_FLAG_ACK;
	memcpy(ref_bhops[nb - 1].next_id, ack_id, SURB_ID_BYTES);
	if (ref_build(rb, ref_bhops, nb, block_random, block_random + 32, NULL,
	    0, NULL, NULL, NULL) != 0)
		fail(name, "reference construction of the block failed");
	uint8_t ref_block[SPHINX_ACK_BYTES];
	memcpy(ref_block, first_hop.pub, 32);
	memcpy(ref_block + 32, rb->hop[0].packet, SPHINX_HEADER_BYTES);
	/* The message beside it; n = 6: no padding (the pointer is not
	 * read). */
	if (ref_build(rf, hops, n, random, random, (const uint8_t *)text,
	    msg_len, ref_block, NULL, NULL) != 0)
		fail(name, "reference construction of the packet failed");
	/* What the egress provider stores: the packet it passes on, the
	 * block overwritten with zeros. */
	uint8_t ref_stored[SPHINX_PACKET_BYTES];
	memcpy(ref_stored, rf->hop[n - 1].packet, sizeof(ref_stored));
	memset(ref_stored + SPHINX_HEADER_BYTES, 0, SPHINX_ACK_BYTES);
	/* The acknowledgement: the block's header and the provider's random
	 * payload, which every hop decrypts like any other. */
	for (size_t i = 0; i < nb; i++) {
		uint8_t *p = rb->hop[i].packet + SPHINX_HEADER_BYTES;
		if (i == 0)
			memcpy(p, ack_payload, SPHINX_PAYLOAD_BYTES);
		else {
			memcpy(p, rb->hop[i - 1].packet + SPHINX_HEADER_BYTES,
			    SPHINX_PAYLOAD_BYTES);
			ref_lioness_decrypt(p, SPHINX_PAYLOAD_BYTES,
			    rb->hop[i - 1].k_payload);
		}
	}

	/* The library must agree at every step. */
	uint8_t block[SPHINX_ACK_BYTES], pkt[SPHINX_PACKET_BYTES];
	uint8_t out[SPHINX_PACKET_BYTES];
	struct replay_rng rr = { block_random, sizeof(block_random), 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };
	if (surb_ack_create(block, ack_id, first_hop.pub, bhops, nb, &rng) !=
	    SPHINX_OK || rr.used != sizeof(block_random))
		fail(name, "surb_ack_create failed");
	if (memcmp(block, ref_block, sizeof(block)) != 0)
		fail(name, "surb_ack_create disagrees with the reference");
	struct replay_rng fr = { random, sizeof(random), 0 };
	struct sphinx_rng frng = { replay_rng_fill, &fr };
	if (sphinx_create_acked(pkt, hops, n, block, (const uint8_t *)text,
	    msg_len, &frng) != SPHINX_OK || fr.used != sizeof(random))
		fail(name, "sphinx_create_acked failed");
	if (memcmp(pkt, rf->hop[0].packet, sizeof(pkt)) != 0)
		fail(name, "sphinx_create_acked disagrees with the reference");

	json_t *v = json_object();
	jset(v, "name", json_string(name));
	jset(v, "description", json_string("A message over the longest path "
	    "with an acknowledgement block (section 18): the sender builds "
	    "the block over three mixnodes, its provider and itself, and the "
	    "packet around it; the recipient's provider takes the block out, "
	    "stores the packet and sends the acknowledgement, which the "
	    "sender recognises by its id."));
	jset(v, "ack_id", jhex(ack_id, sizeof(ack_id)));
	jset(v, "ack_randomness", jhex(block_random, sizeof(block_random)));
	jset(v, "ack_first_hop", jhex(first_hop.pub, 32));
	json_t *jb = json_array();
	for (size_t i = 0; i < nb; i++)
		json_array_append_new(jb, ack_hop_json(&back[i], &bhops[i]));
	jset(v, "ack_hops", jb);
	jset(v, "ack_block", jhex(ref_block, sizeof(ref_block)));
	jset(v, "randomness", jhex(random, sizeof(random)));
	jset(v, "message", jhex((const uint8_t *)text, msg_len));
	json_t *jh = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(jh, ack_hop_json(&fwd[i], &hops[i]));
	jset(v, "hops", jh);
	jset(v, "packet", jhex(rf->hop[0].packet, SPHINX_PACKET_BYTES));

	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 16,
		.false_positive_rate = 1e-9,
	};
	struct replay_store *store;
	if (replay_new(&store, &params) != REPLAY_OK)
		abort();

	/* The message, hop by hop. */
	uint8_t ack_pkt[SPHINX_PACKET_BYTES];
	json_t *steps = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct ref_hop *h = &rf->hop[i];
		int last = i + 1 == n;
		json_t *st = ack_step_json(h, i, last ? "unwrap" : "process",
		    hops[i].command);
		if (last) {
			uint8_t got[SPHINX_MAX_MESSAGE_BYTES], tag[32];
			size_t got_len;
			if (sphinx_unwrap(fwd[i].priv, pkt, got, &got_len,
			    tag) != SPHINX_OK || got_len != msg_len ||
			    memcmp(got, text, msg_len) != 0 ||
			    memcmp(tag, h->replay_tag, 32) != 0)
				fail(name, "sphinx_unwrap disagrees");
			/* The block's bytes are not the recipient's: with
			 * them still there, the same message. */
			if (sphinx_unwrap(fwd[i].priv, h->packet, got,
			    &got_len, NULL) != SPHINX_OK ||
			    got_len != msg_len ||
			    memcmp(got, text, msg_len) != 0)
				fail(name, "sphinx_unwrap reads the block");
			jset(st, "message", jhex((const uint8_t *)text,
			    msg_len));
			json_array_append_new(steps, st);
			break;
		}
		ack_process(name, "sphinx_process disagrees on the message",
		    store, &fwd[i], &hops[i], h, pkt, out, rf->hop[i + 1].packet);
		jset(st, "next_id", jhex(hops[i].next_id, 32));
		jset(st, "delay_ms", json_integer(hops[i].delay_ms));
		jset(st, "packet_out", jhex(out, sizeof(out)));
		if (hops[i].flags & SPHINX_FLAG_ACK) {
			/* The egress provider: block out, packet stored,
			 * acknowledgement sent to the block's first hop. */
			uint8_t got_first[32];
			if (surb_ack_take(out, ack_pkt, got_first) !=
			    SPHINX_OK ||
			    memcmp(got_first, first_hop.pub, 32) != 0 ||
			    memcmp(ack_pkt, rb->hop[0].packet,
			    SPHINX_HEADER_BYTES) != 0 ||
			    memcmp(out, ref_stored, sizeof(out)) != 0)
				fail(name, "surb_ack_take disagrees");
			jset(st, "ack_first_hop", jhex(got_first, 32));
			jset(st, "stored_packet", jhex(out, sizeof(out)));
		}
		json_array_append_new(steps, st);
		memcpy(pkt, out, sizeof(pkt));
	}
	jset(v, "steps", steps);

	/* surb_ack_take() draws its payload from randombytes_buf(): the
	 * vector's is fixed, the header the one surb_ack_take() gave. */
	memcpy(ack_pkt + SPHINX_HEADER_BYTES, ack_payload, sizeof(ack_payload));
	if (memcmp(ack_pkt, rb->hop[0].packet, sizeof(ack_pkt)) != 0)
		fail(name, "the acknowledgement disagrees with the reference");
	jset(v, "ack_payload", jhex(ack_payload, sizeof(ack_payload)));
	jset(v, "ack_packet", jhex(ack_pkt, sizeof(ack_pkt)));

	/* The acknowledgement, hop by hop, to the sender. */
	memcpy(pkt, ack_pkt, sizeof(pkt));
	steps = json_array();
	for (size_t i = 0; i < nb; i++) {
		const struct ref_hop *h = &rb->hop[i];
		int last = i + 1 == nb;
		json_t *st = ack_step_json(h, i, last ? "ack" : "process",
		    ref_bhops[i].command);
		if (last) {
			uint8_t got_id[SURB_ID_BYTES];
			uint8_t got[SPHINX_MAX_MESSAGE_BYTES];
			size_t got_len;
			int is_ack = 0;
			if (surb_reply_kind(back[i].priv, pkt, got_id,
			    &is_ack) != SPHINX_OK || is_ack != 1 ||
			    memcmp(got_id, ack_id, sizeof(got_id)) != 0)
				fail(name, "surb_reply_kind disagrees");
			if (surb_reply_id(back[i].priv, pkt, got_id) !=
			    SPHINX_OK ||
			    memcmp(got_id, ack_id, sizeof(got_id)) != 0)
				fail(name, "surb_reply_id disagrees");
			if (sphinx_unwrap(back[i].priv, pkt, got, &got_len,
			    NULL) != SPHINX_ERR_COMMAND)
				fail(name, "sphinx_unwrap takes an "
				    "acknowledgement");
			jset(st, "ack_id", jhex(ack_id, sizeof(ack_id)));
			json_array_append_new(steps, st);
			break;
		}
		ack_process(name, "sphinx_process disagrees on the "
		    "acknowledgement", store, &back[i], &bhops[i], h, pkt, out,
		    rb->hop[i + 1].packet);
		jset(st, "next_id", jhex(bhops[i].next_id, 32));
		jset(st, "delay_ms", json_integer(bhops[i].delay_ms));
		jset(st, "packet_out", jhex(out, sizeof(out)));
		json_array_append_new(steps, st);
		memcpy(pkt, out, sizeof(pkt));
	}
	jset(v, "ack_steps", steps);
	replay_free(store);
	free(rb);
	free(rf);
	return v;
}

/* ------------------------------------------------------------------ */
/* Negative vectors.                                                   */
/* ------------------------------------------------------------------ */

struct neg_ctx {
	json_t		*cases;
	struct node	 node;		/* processes every negative packet */
	struct node	 other;
	uint8_t		 random[MAX_RANDOM];
};

static const char *
expect_name(int rc)
{
	switch (rc) {
	case SPHINX_ERR_MALFORMED:
		return "malformed";
	case SPHINX_ERR_MAC:
		return "mac";
	case SPHINX_ERR_COMMAND:
		return "command";
	case SPHINX_ERR_PAYLOAD:
		return "payload";
	default:
		return "?";
	}
}

static void
neg_add(struct neg_ctx *nc, const char *name, const char *description,
    int unwrap, const uint8_t pkt[SPHINX_PACKET_BYTES], int expect)
{
	/* The library must fail this packet exactly as documented. */
	int rc;
	if (unwrap) {
		uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
		size_t len;
		rc = sphinx_unwrap(nc->node.priv, pkt, msg, &len, NULL);
	} else {
		uint8_t out[SPHINX_PACKET_BYTES];
		struct sphinx_hop_result res;
		struct replay_store *store;
		struct replay_params params = {
			.packets_per_second = 1, .epoch_seconds = 16,
			.false_positive_rate = 1e-9,
		};
		if (replay_new(&store, &params) != REPLAY_OK)
			abort();
		rc = sphinx_process(nc->node.priv, store, pkt, out, &res);
		replay_free(store);
	}
	if (rc != expect)
		fail(name, "the library does not fail this packet as expected");

	json_t *c = json_object();
	jset(c, "name", json_string(name));
	jset(c, "description", json_string(description));
	jset(c, "operation", json_string(unwrap ? "unwrap" : "process"));
	jset(c, "private_key", jhex(nc->node.priv, 32));
	jset(c, "packet", jhex(pkt, SPHINX_PACKET_BYTES));
	jset(c, "expect", json_string(expect_name(expect)));
	json_array_append_new(nc->cases, c);
}

/*
 * A one-hop packet for nc->node with a raw routing block and payload; with
 * ack (an acknowledgement block, or the zeros the egress provider leaves
 * of it), laid out as section 18.3 says, plain then being the 1650 bytes
 * of encode'(m).
 */
static void
neg_forge_acked(struct neg_ctx *nc, uint8_t pkt[SPHINX_PACKET_BYTES],
    const uint8_t block[B_BYTES], const uint8_t *plain, const uint8_t *ack)
{
	struct sphinx_hop hop;
	struct ref_packet *rp = malloc(sizeof(*rp));

	if (rp == NULL)
		abort();
	memset(&hop, 0, sizeof(hop));
	memcpy(hop.node_pub, nc->node.pub, 32);
	hop.command = SPHINX_CMD_FINAL;
	if (ref_build(rp, &hop, 1, nc->random, nc->random + 32,
	    (const uint8_t *)"negative", 8, ack, block, plain) != 0)
		abort();
	memcpy(pkt, rp->hop[0].packet, SPHINX_PACKET_BYTES);
	free(rp);
}

static void
neg_forge(struct neg_ctx *nc, uint8_t pkt[SPHINX_PACKET_BYTES],
    const uint8_t block[B_BYTES], const uint8_t *plain)
{
	neg_forge_acked(nc, pkt, block, plain, NULL);
}

static void
block_of(uint8_t block[B_BYTES], uint8_t command, uint32_t delay,
    const uint8_t *next_id)
{
	memset(block, 0, B_BYTES);
	block[0] = command;
	ref_be32(block + 4, delay);
	if (next_id != NULL)
		memcpy(block + 8, next_id, 32);
}

static void
plain_of(uint8_t plain[SPHINX_PAYLOAD_BYTES], unsigned len_field,
    const char *msg)
{
	memset(plain, 0, SPHINX_PAYLOAD_BYTES);
	plain[16] = (uint8_t)(len_field >> 8);
	plain[17] = (uint8_t)len_field;
	memcpy(plain + 18, msg, strlen(msg));
}

static json_t *
gen_negative(void)
{
	struct neg_ctx nc;
	uint8_t pkt[SPHINX_PACKET_BYTES], good[SPHINX_PACKET_BYTES];
	uint8_t block[B_BYTES], plain[SPHINX_PAYLOAD_BYTES];

	nc.cases = json_array();
	node_key(&nc.node, "nymd sphinx test vectors: negative node");
	node_key(&nc.other, "nymd sphinx test vectors: negative other node");
	derive(nc.random, sizeof(nc.random), "randomness", "negative", 0);

	/* A valid RELAY packet for the node, then damaged copies of it. */
	block_of(block, SPHINX_CMD_RELAY, 500, nc.other.pub);
	neg_forge(&nc, good, block, NULL);

	memcpy(pkt, good, sizeof(pkt));
	pkt[32 + 100] ^= 0x08;
	neg_add(&nc, "beta-bit-flipped", "One bit of beta flipped.", 0, pkt,
	    SPHINX_ERR_MAC);

	memcpy(pkt, good, sizeof(pkt));
	pkt[32 + L_BYTES + 15] ^= 0x80;
	neg_add(&nc, "gamma-bit-flipped", "One bit of the header MAC flipped.",
	    0, pkt, SPHINX_ERR_MAC);

	memcpy(pkt, good, sizeof(pkt));
	pkt[5] ^= 0x01;
	neg_add(&nc, "alpha-bit-flipped", "One bit of alpha flipped: another "
	    "shared secret, so the MAC fails.", 0, pkt, SPHINX_ERR_MAC);

	memcpy(pkt, good, sizeof(pkt));
	pkt[31] ^= 0x80;
	neg_add(&nc, "alpha-key-phase-flipped", "Bit 255 of alpha, the key "
	    "phase, flipped: it is under the header MAC.", 0, pkt,
	    SPHINX_ERR_MAC);

	memcpy(pkt, good, sizeof(pkt));
	memset(pkt, 0xff, 31);
	pkt[0] = 0xed;
	pkt[31] = 0x7f;
	neg_add(&nc, "alpha-equals-p", "alpha = 2^255 - 19, a non-canonical "
	    "encoding of 0.", 0, pkt, SPHINX_ERR_MALFORMED);

	memcpy(pkt, good, sizeof(pkt));
	memset(pkt, 0, 32);
	neg_add(&nc, "alpha-zero", "alpha = 0, a point of small order.", 0,
	    pkt, SPHINX_ERR_MALFORMED);

	memcpy(pkt, good, sizeof(pkt));
	memset(pkt, 0, 32);
	pkt[0] = 1;
	neg_add(&nc, "alpha-one", "alpha = 1, a point of order 4.", 0, pkt,
	    SPHINX_ERR_MALFORMED);

	/* u-coordinate of a point of order 8 (little-endian). */
	static const char order8[] =
	    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
	memcpy(pkt, good, sizeof(pkt));
	if (sodium_hex2bin(pkt, 32, order8, 64, NULL, NULL, NULL) != 0)
		abort();
	neg_add(&nc, "alpha-order-8", "alpha is a point of order 8.", 0, pkt,
	    SPHINX_ERR_MALFORMED);

	node_key(&nc.other, "nymd sphinx test vectors: negative other node");
	{
		struct neg_ctx oc = nc;
		oc.node = nc.other;
		oc.other = nc.node;
		neg_forge(&oc, pkt, block, NULL);
	}
	neg_add(&nc, "wrong-node", "A valid packet for another node.", 0, pkt,
	    SPHINX_ERR_MAC);

	/* Authentic packets whose routing block is malformed. */
	block_of(block, 0, 500, nc.other.pub);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "command-zero", "Authentic, command byte 0.", 0, pkt,
	    SPHINX_ERR_MALFORMED);

	block_of(block, 6, 500, nc.other.pub);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "command-unknown", "Authentic, command byte 6.", 0, pkt,
	    SPHINX_ERR_MALFORMED);

	/* REPLY blocks (section 17): for a reply block's creator only. */
	static const uint8_t surb_id[32] = {
		0x5e, 0x1f, 0x0b, 0x1d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	};
	block_of(block, SPHINX_CMD_REPLY, 0, surb_id);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "reply-at-node", "Authentic REPLY block processed as a "
	    "node: the packet is for a reply block's creator.", 0, pkt,
	    SPHINX_ERR_COMMAND);
	neg_add(&nc, "reply-at-recipient", "Authentic REPLY block unwrapped "
	    "as a plain message: it is a reply (surb_open).", 1, pkt,
	    SPHINX_ERR_COMMAND);

	block_of(block, SPHINX_CMD_REPLY, 1, surb_id);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "reply-with-delay", "Authentic REPLY block with a "
	    "non-zero delay.", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_REPLY, 0, surb_id);
	block[8 + 16] = 1;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "reply-id-tail-nonzero", "Authentic REPLY block with a "
	    "non-zero byte after the 16-byte SURB id.", 1, pkt,
	    SPHINX_ERR_MALFORMED);

	/* Byte 2 is the flags (section 4): ACK (1) only on DELIVER, FINAL
	 * and REPLY, no other value anywhere. */
	block_of(block, SPHINX_CMD_RELAY, 500, nc.other.pub);
	block[2] = SPHINX_FLAG_ACK;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "ack-on-relay", "Authentic RELAY block with the ACK "
	    "flag (byte 2 = 1).", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_RELAY, 500, nc.other.pub);
	block[3] = 1;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "reserved-nonzero", "Authentic RELAY block with a "
	    "non-zero reserved byte (byte 3).", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_DROP, 0, NULL);
	block[2] = SPHINX_FLAG_ACK;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "ack-on-drop", "Authentic DROP block with the ACK flag.",
	    0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_DELIVER, 500, nc.other.pub);
	block[2] = 2;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "flags-two", "Authentic DELIVER block with flags 2, "
	    "not a defined flag.", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	block[2] = 2;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "final-flags-two", "Authentic FINAL block with flags 2, "
	    "unwrapped.", 1, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_DROP, 1, NULL);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "drop-with-delay", "Authentic DROP block with a non-zero "
	    "delay.", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_DROP, 0, nc.other.pub);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "drop-with-next-id", "Authentic DROP block with a "
	    "non-zero next node.", 0, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "final-at-node", "Authentic FINAL block processed as a "
	    "node: the packet is for a recipient.", 0, pkt,
	    SPHINX_ERR_COMMAND);

	/* Recipient side. */
	block_of(block, SPHINX_CMD_RELAY, 500, nc.other.pub);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "relay-at-recipient", "Authentic RELAY block unwrapped as "
	    "a recipient.", 1, pkt, SPHINX_ERR_COMMAND);

	block_of(block, SPHINX_CMD_DROP, 0, NULL);
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "drop-at-recipient", "Authentic DROP block unwrapped as a "
	    "recipient.", 1, pkt, SPHINX_ERR_COMMAND);

	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	block[55] = 1;
	neg_forge(&nc, pkt, block, NULL);
	neg_add(&nc, "final-with-mac", "Authentic FINAL block whose next-MAC "
	    "field is not zero.", 1, pkt, SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	neg_forge(&nc, good, block, NULL);
	memcpy(pkt, good, sizeof(pkt));
	pkt[SPHINX_HEADER_BYTES + 1000] ^= 0x10;
	neg_add(&nc, "payload-bit-flipped", "One payload bit flipped: LIONESS "
	    "scrambles the whole block and the 16 zero bytes are lost.", 1,
	    pkt, SPHINX_ERR_PAYLOAD);

	memcpy(pkt, good, sizeof(pkt));
	pkt[3] ^= 0x40;
	neg_add(&nc, "recipient-alpha-flipped", "One bit of alpha flipped at "
	    "the recipient.", 1, pkt, SPHINX_ERR_MAC);

	plain_of(plain, SPHINX_MAX_MESSAGE_BYTES + 1, "x");
	neg_forge(&nc, pkt, block, plain);
	neg_add(&nc, "length-too-large", "Authentic payload whose length field "
	    "is 2049.", 1, pkt, SPHINX_ERR_MALFORMED);

	plain_of(plain, 0xffff, "x");
	neg_forge(&nc, pkt, block, plain);
	neg_add(&nc, "length-ffff", "Authentic payload whose length field is "
	    "65535.", 1, pkt, SPHINX_ERR_MALFORMED);

	plain_of(plain, 3, "abcd");
	neg_forge(&nc, pkt, block, plain);
	neg_add(&nc, "padding-nonzero", "Authentic payload with a non-zero "
	    "byte after the message.", 1, pkt, SPHINX_ERR_MALFORMED);

	plain_of(plain, 5, "hello");
	plain[15] = 1;
	neg_forge(&nc, pkt, block, plain);
	neg_add(&nc, "integrity-tag-nonzero", "Payload encrypted with a "
	    "non-zero integrity tag.", 1, pkt, SPHINX_ERR_PAYLOAD);

	/* FINAL with the ACK flag: the recipient's layer covers the 1650
	 * bytes after the acknowledgement block (section 18.4), here the
	 * zeros the egress provider leaves of it. */
	static const uint8_t wiped[SPHINX_ACK_BYTES];
	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	block[2] = SPHINX_FLAG_ACK;
	plain_of(plain, SPHINX_MAX_ACKED_MESSAGE_BYTES + 1, "x");
	neg_forge_acked(&nc, pkt, block, plain, wiped);
	neg_add(&nc, "acked-length-too-large", "Authentic FINAL block with "
	    "the ACK flag whose payload's length field is 1633: more than "
	    "fits beside an acknowledgement block.", 1, pkt,
	    SPHINX_ERR_MALFORMED);

	plain_of(plain, 5, "hello");
	plain[SPHINX_PAYLOAD_BYTES - SPHINX_ACK_BYTES - 1] = 1;
	neg_forge_acked(&nc, pkt, block, plain, wiped);
	neg_add(&nc, "acked-padding-nonzero", "Authentic FINAL block with "
	    "the ACK flag whose payload has a non-zero last byte (the "
	    "1650th after the acknowledgement block).", 1, pkt,
	    SPHINX_ERR_MALFORMED);

	block_of(block, SPHINX_CMD_FINAL, 0, NULL);
	plain_of(plain, 5, "hello");
	neg_forge_acked(&nc, pkt, block, plain, wiped);
	neg_add(&nc, "acked-layout-without-flag", "A payload laid out with an "
	    "acknowledgement block, under a FINAL block without the ACK "
	    "flag: the recipient decrypts all 2066 bytes, and the integrity "
	    "check fails.", 1, pkt, SPHINX_ERR_PAYLOAD);

	json_t *v = json_object();
	jset(v, "name", json_string("negative"));
	jset(v, "description", json_string("Packets that must be rejected, "
	    "each with the error a compatible implementation reports."));
	jset(v, "cases", nc.cases);
	return v;
}

/* ------------------------------------------------------------------ */
/* Fuzz seeds for tests/fuzz/fuzz_sphinx.c.                            */
/* ------------------------------------------------------------------ */

static int
write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_sphinx_vectors: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Keys of the fuzz target, derived the same way there. */
static void
fuzz_node(struct node *nd, unsigned i)
{
	char label[64];
	snprintf(label, sizeof(label), "nymd fuzz_sphinx node key %u", i);
	node_key(nd, label);
}

static int
gen_corpus(const char *dir)
{
	struct node nodes[R_HOPS];
	struct sphinx_hop hops[R_HOPS];
	uint8_t seed[1 + SPHINX_PACKET_BYTES];
	int rc = 0;

	for (unsigned i = 0; i < R_HOPS; i++)
		fuzz_node(&nodes[i], i);
	memset(hops, 0, sizeof(hops));
	for (unsigned i = 0; i < R_HOPS; i++) {
		memcpy(hops[i].node_pub, nodes[i].pub, 32);
		hops[i].command = i + 1 < R_HOPS ? SPHINX_CMD_RELAY :
		    SPHINX_CMD_FINAL;
		if (i + 1 < R_HOPS) {
			hops[i].delay_ms = 1000 * i;
			memcpy(hops[i].next_id, nodes[i + 1].pub, 32);
		}
	}

	/* Fixed randomness, so that the seeds are reproducible. */
	uint8_t random[2 * MAX_RANDOM];
	derive(random, sizeof(random), "randomness", "fuzz corpus", 0);
	struct replay_rng rr = { random, sizeof(random), 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };

	/* mode 0: a valid packet for fuzz node 0 */
	seed[0] = 0;
	if (sphinx_create(seed + 1, hops, R_HOPS, (const uint8_t *)"seed", 4,
	    &rng) != SPHINX_OK)
		return -1;
	rc |= write_file(dir, "process-valid", seed, sizeof(seed));
	/* mode 0: a short run of junk */
	memset(seed + 1, 0x41, 64);
	rc |= write_file(dir, "process-junk", seed, 65);
	/* mode 1: a valid packet for fuzz node 5 as the recipient */
	seed[0] = 1;
	if (sphinx_create(seed + 1, &hops[R_HOPS - 1], 1,
	    (const uint8_t *)"recipient seed", 14, &rng) != SPHINX_OK)
		return -1;
	rc |= write_file(dir, "unwrap-valid", seed, sizeof(seed));
	/* mode 2: a small serialised replay store with one tag */
	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 8,
		.false_positive_rate = 0.01,
	};
	struct replay_store *store;
	uint8_t tag[32] = { 1, 2, 3 };
	if (replay_new(&store, &params) != REPLAY_OK)
		return -1;
	replay_check_and_insert(store, tag);
	size_t slen = replay_serialized_bytes(store);
	uint8_t *s = malloc(1 + slen);
	if (s == NULL)
		abort();
	s[0] = 2;
	replay_serialize(store, s + 1, slen);
	rc |= write_file(dir, "replay-store", s, 1 + slen);
	free(s);
	replay_free(store);
	/* mode 3: structured round trips (format in fuzz_sphinx.c) */
	static const uint8_t rt[][16] = {
		{ 3, 5, 0x00, 0x10, 0x00, 0x00, 0x00, 0xff, 1, 2, 3, 4 },
		{ 3, 0, 0x01, 0x08, 0x00, 0x40, 0x00, 0x00, 9, 9, 9, 9 },
		{ 3, 2, 0x02, 0x00, 0x12, 0x34, 0x02, 0x00, 7, 7 },
		{ 3, 4, 0x00, 0x00, 0x50, 0x00, 0x05, 0x01, 1 },
		/* with an acknowledgement block (b1 bit 6; bit 7: kept at
		 * the recipient): no flip; 1632 bytes and a flip inside the
		 * block at the recipient; a payload flip at hop 0 */
		{ 3, 5, 0x40, 0x02, 0x00, 0x12, 0x34, 0x06 },
		{ 3, 5, 0xc0, 0x06, 0x60, 0x0c, 0x80, 0x05 },
		{ 3, 1, 0x40, 0x00, 0x05, 0x10, 0x00, 0x00 },
	};
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "roundtrip-%zu", i);
		rc |= write_file(dir, name, rt[i], sizeof(rt[i]));
	}
	/* Found by fuzzing: two tags whose double-hashing words agreed mod m
	 * (the replay store now derives positions from the whole tag). */
	static const uint8_t bloom_pair[] = {
		0x03, 0x05, 0x00, 0x10, 0x24, 0xd4, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7e, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
	};
	rc |= write_file(dir, "regression-bloom-pair", bloom_pair,
	    sizeof(bloom_pair));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Fuzz seeds for tests/fuzz/fuzz_surb.c.                              */
/* ------------------------------------------------------------------ */

/*
 * The fixed reply block of fuzz_surb.c's fuzz_init(), made the same way:
 * node keys from their labels, delays 1000 i, epoch 0, randomness from
 * its label.  reply is the packet as the creator receives it.
 */
static int
fuzz_surb_fixed(uint8_t surb[SURB_BYTES], uint8_t keys[SURB_KEYS_BYTES],
    uint8_t reply[SPHINX_PACKET_BYTES])
{
	struct node nodes[R_HOPS];
	struct sphinx_hop hops[R_HOPS];
	uint8_t random[SURB_RANDOM_BYTES], seed[32], id[SURB_ID_BYTES];
	static const char label[] = "nymd fuzz_surb randomness";
	static const uint8_t nonce[12];

	memset(hops, 0, sizeof(hops));
	for (unsigned i = 0; i < R_HOPS; i++) {
		char l[64];
		snprintf(l, sizeof(l), "nymd fuzz_surb node key %u", i);
		node_key(&nodes[i], l);
		memcpy(hops[i].node_pub, nodes[i].pub, 32);
		if (i + 1 == R_HOPS) {
			hops[i].command = SPHINX_CMD_FINAL;
			continue;
		}
		hops[i].command = i + 2 == R_HOPS ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		hops[i].delay_ms = 1000u * i;
		memcpy(hops[i].next_id, nodes[i + 1].pub, 32);
	}
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)label,
	    sizeof(label) - 1, NULL, 0);
	crypto_stream_chacha20_ietf(random, sizeof(random), nonce, seed);
	struct replay_rng rr = { random, sizeof(random), 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };
	if (surb_create(surb, keys, id, nodes[0].pub, hops, R_HOPS, 0,
	    &rng) != SPHINX_OK ||
	    surb_use(reply, NULL, surb, SURB_BYTES,
	    (const uint8_t *)"fuzz reply", 10) != SPHINX_OK)
		return -1;

	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 16,
		.false_positive_rate = 1e-9,
	};
	struct replay_store *store;
	struct sphinx_hop_result res;
	if (replay_new(&store, &params) != REPLAY_OK)
		return -1;
	int rc = 0;
	for (unsigned i = 0; i + 1 < R_HOPS && rc == 0; i++) {
		replay_reset(store, nodes[i].pub);
		if (sphinx_process(nodes[i].priv, store, reply, reply, &res) !=
		    SPHINX_OK)
			rc = -1;
	}
	replay_free(store);
	return rc;
}

/*
 * An acknowledgement block to fuzz_surb.c's creator (node 5) over fuzz
 * nodes 0-3, into block, and the acknowledgement
 * made from it as the creator receives it, into ack.
 */
static int
fuzz_surb_ack(uint8_t block[SPHINX_ACK_BYTES],
    uint8_t ack[SPHINX_PACKET_BYTES])
{
	struct node nodes[R_HOPS];
	struct sphinx_hop hops[5];
	uint8_t random[32 + B_BYTES + 16 + SPHINX_PAYLOAD_BYTES];
	static const char label[] = "nymd fuzz_surb ack randomness";
	static const uint8_t nonce[12];
	uint8_t seed[32];

	memset(hops, 0, sizeof(hops));
	for (unsigned i = 0; i < R_HOPS; i++) {
		char l[64];
		snprintf(l, sizeof(l), "nymd fuzz_surb node key %u", i);
		node_key(&nodes[i], l);
	}
	for (unsigned i = 0; i < 5; i++) {
		unsigned node = i < 4 ? i : R_HOPS - 1;
		memcpy(hops[i].node_pub, nodes[node].pub, 32);
		if (i == 4) {
			hops[i].command = SPHINX_CMD_FINAL;
			continue;
		}
		hops[i].command = i == 3 ? SPHINX_CMD_DELIVER : SPHINX_CMD_RELAY;
		hops[i].delay_ms = 100u * i;
		memcpy(hops[i].next_id, nodes[i == 3 ? R_HOPS - 1 : i + 1].pub,
		    32);
	}
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)label,
	    sizeof(label) - 1, NULL, 0);
	crypto_stream_chacha20_ietf(random, sizeof(random), nonce, seed);
	/* x and padding, then the id, then the acknowledgement's payload */
	struct replay_rng rr = { random, 32 + B_BYTES, 0 };
	struct sphinx_rng rng = { replay_rng_fill, &rr };
	if (surb_ack_create(block, random + 32 + B_BYTES, nodes[0].pub, hops, 5,
	    &rng) != SPHINX_OK)
		return -1;
	memcpy(ack, block + SPHINX_NODE_ID_BYTES, SPHINX_HEADER_BYTES);
	memcpy(ack + SPHINX_HEADER_BYTES, random + 32 + B_BYTES + 16,
	    SPHINX_PAYLOAD_BYTES);

	struct replay_params params = {
		.packets_per_second = 1, .epoch_seconds = 16,
		.false_positive_rate = 1e-9,
	};
	struct replay_store *store;
	struct sphinx_hop_result res;
	if (replay_new(&store, &params) != REPLAY_OK)
		return -1;
	int rc = 0;
	for (unsigned i = 0; i < 4 && rc == 0; i++) {
		replay_reset(store, nodes[i].pub);
		if (sphinx_process(nodes[i].priv, store, ack, ack, &res) !=
		    SPHINX_OK)
			rc = -1;
	}
	replay_free(store);
	return rc;
}

static int
gen_surb_corpus(const char *dir)
{
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES];
	uint8_t reply[SPHINX_PACKET_BYTES];
	uint8_t seed[3 + SPHINX_PACKET_BYTES];
	int rc = 0;

	if (fuzz_surb_fixed(surb, keys, reply) != 0)
		return -1;
	/* mode 0: the block with a 10-byte message, junk, too long */
	seed[0] = 0;
	seed[1] = 0;
	seed[2] = 10;
	memcpy(seed + 3, surb, sizeof(surb));
	rc |= write_file(dir, "use-valid", seed, 3 + sizeof(surb));
	memset(seed + 3, 0x41, 40);
	rc |= write_file(dir, "use-junk", seed, 3 + 40);
	seed[1] = 0xff;
	seed[2] = 0xff;
	rc |= write_file(dir, "use-too-long", seed, 3);
	/* mode 1: the reply at the creator */
	seed[0] = 1;
	memcpy(seed + 1, reply, sizeof(reply));
	rc |= write_file(dir, "reply-id-valid", seed, 1 + sizeof(reply));
	/* mode 2: the kept keys */
	seed[0] = 2;
	memcpy(seed + 1, keys, sizeof(keys));
	rc |= write_file(dir, "keys-valid", seed, 1 + sizeof(keys));
	/* mode 3: the reply, opened */
	seed[0] = 3;
	memcpy(seed + 1, reply, sizeof(reply));
	rc |= write_file(dir, "open-valid", seed, 1 + sizeof(reply));
	/* mode 5: an acknowledgement block as the egress provider finds
	 * it, one whose alpha is p (junk), and an acknowledgement as the
	 * creator receives it */
	uint8_t block[SPHINX_ACK_BYTES], ack[SPHINX_PACKET_BYTES];
	if (fuzz_surb_ack(block, ack) != 0)
		return -1;
	seed[0] = 5;
	memset(seed + 1, 0, SPHINX_HEADER_BYTES);
	memcpy(seed + 1 + SPHINX_HEADER_BYTES, block, sizeof(block));
	rc |= write_file(dir, "ack-take-valid", seed,
	    1 + SPHINX_HEADER_BYTES + SPHINX_ACK_BYTES);
	uint8_t *alpha = seed + 1 + SPHINX_HEADER_BYTES + SPHINX_NODE_ID_BYTES;
	memset(alpha, 0xff, 32);
	alpha[0] = 0xed;
	alpha[31] = 0x7f;
	rc |= write_file(dir, "ack-take-junk", seed,
	    1 + SPHINX_HEADER_BYTES + SPHINX_ACK_BYTES);
	memcpy(seed + 1, ack, sizeof(ack));
	rc |= write_file(dir, "ack-kind-valid", seed, 1 + sizeof(ack));
	/* modes 4 and 6: structured round trips (format in fuzz_surb.c) */
	static const uint8_t rt[][8] = {
		{ 4, 4, 0x00, 0x10, 0x00, 0x00, 0x06, 0x01 },
		{ 4, 0, 0x08, 0x00, 0x00, 0x40, 0x00, 0x00 },
		{ 4, 2, 0x00, 0x00, 0x12, 0x34, 0x02, 0x07 },
		{ 4, 3, 0x01, 0x00, 0x50, 0x00, 0x04, 0x02 },
		/* acknowledgements: no flip; 1632 bytes and a flip inside
		 * the block at the recipient; a payload flip before the
		 * egress provider; a header flip on the way back */
		{ 6, 4, 3, 0x00, 0x10, 0x00, 0x00, 0x0b },
		{ 6, 0, 0, 0x06, 0x60, 0x0c, 0x80, 0x01 },
		{ 6, 2, 1, 0x00, 0x40, 0x20, 0x00, 0x01 },
		{ 6, 4, 4, 0x00, 0x08, 0x00, 0x10, 0x08 },
	};
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "roundtrip-%zu", i);
		rc |= write_file(dir, name, rt[i], sizeof(rt[i]));
	}
	sodium_memzero(keys, sizeof(keys));
	return rc;
}

/* ------------------------------------------------------------------ */

struct vector_file {
	const char	*file;
	json_t		*json;
};

static int
write_json(const char *dir, const char *file, json_t *j)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
		fprintf(stderr, "gen_sphinx_vectors: cannot write %s\n", path);
		return -1;
	}
	/* jansson leaves the last line unterminated */
	FILE *f = fopen(path, "a");
	if (f == NULL || fputc('\n', f) == EOF || fclose(f) != 0)
		return -1;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_sphinx_vectors [-o DIR | -c DIR | -s DIR]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *outdir = NULL, *corpus = NULL, *surb_corpus = NULL;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "-o") == 0)
		outdir = argv[2];
	else if (argc == 3 && strcmp(argv[1], "-c") == 0)
		corpus = argv[2];
	else if (argc == 3 && strcmp(argv[1], "-s") == 0)
		surb_corpus = argv[2];
	else if (argc != 1)
		usage();

	if (corpus != NULL)
		return gen_corpus(corpus) == 0 ? 0 : 1;
	if (surb_corpus != NULL)
		return gen_surb_corpus(surb_corpus) == 0 ? 0 : 1;

	size_t npaths = sizeof(paths) / sizeof(paths[0]);
	struct vector_file files[sizeof(paths) / sizeof(paths[0]) + 3];
	char names[sizeof(paths) / sizeof(paths[0])][64];
	for (size_t i = 0; i < npaths; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.json", paths[i].name);
		files[i].file = names[i];
		files[i].json = gen_path(&paths[i]);
	}
	files[npaths].file = "negative.json";
	files[npaths].json = gen_negative();
	files[npaths + 1].file = "surb-6-hops.json";
	files[npaths + 1].json = gen_surb();
	files[npaths + 2].file = "ack-6-hops.json";
	files[npaths + 2].json = gen_ack();
	size_t nfiles = npaths + 3;

	int status = 0;
	if (failures > 0) {
		fprintf(stderr, "gen_sphinx_vectors: the library disagrees "
		    "with the reference; no vectors written\n");
		status = 1;
	} else if (outdir != NULL) {
		for (size_t i = 0; i < nfiles; i++)
			if (write_json(outdir, files[i].file, files[i].json) != 0)
				status = 1;
	}

	if (outdir == NULL) {
		/* Check mode: the committed files are what we generate. */
		const char *top = getenv("top_srcdir");
		printf("1..%zu\n", nfiles + 1);
		printf("%s 1 - library agrees with the reference construction\n",
		    failures == 0 ? "ok" : "not ok");
		for (size_t i = 0; i < nfiles; i++) {
			char path[PATH_MAX];
			json_error_t err;
			snprintf(path, sizeof(path), "%s/tests/vectors/sphinx/%s",
			    top ? top : ".", files[i].file);
			json_t *disk = json_load_file(path, 0, &err);
			int same = disk != NULL && json_equal(disk, files[i].json);
			printf("%s %zu - %s matches the generator\n",
			    same ? "ok" : "not ok", i + 2, files[i].file);
			if (!same)
				status = 1;
			json_decref(disk);
		}
	}
	for (size_t i = 0; i < nfiles; i++)
		json_decref(files[i].json);
	return status;
}
