/*
 * Sphinx packets as specified in docs/sphinx.md: creation by the sender,
 * processing at a hop, unwrapping at the recipient.
 *
 * Every buffer lives on the stack (nothing here allocates) and every secret
 * on it is wiped before returning.  Comparisons of MACs and of the payload
 * integrity tag are constant time.  Branches depend on secret data only
 * where the outcome becomes public anyway (a packet is dropped or not).
 */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/sphinx_impl.h"

/* Offsets into a packet. */
#define ALPHA_OFF		0
#define BETA_OFF		SPHINX_KEY_BYTES
#define GAMMA_OFF		(BETA_OFF + SPHINX_BETA_BYTES)
#define PAYLOAD_OFF		SPHINX_HEADER_BYTES
/* The header MAC covers alpha || beta, which are contiguous. */
#define MAC_INPUT_BYTES		(SPHINX_KEY_BYTES + SPHINX_BETA_BYTES)

/* Offsets into a routing block. */
#define BLOCK_COMMAND		0
#define BLOCK_NEXT_PHASE	1	/* key phase of the next hop: 0 or 1 */
#define BLOCK_FLAGS		2	/* SPHINX_FLAG_ACK or 0 */
#define BLOCK_RESERVED		3
#define BLOCK_RESERVED_BYTES	1
#define BLOCK_DELAY		4
#define BLOCK_NEXT_ID		8
#define BLOCK_NEXT_MAC		(BLOCK_NEXT_ID + SPHINX_NODE_ID_BYTES)

/* A hop's header keystream covers beta plus one block shifted in. */
#define KEYSTREAM_BYTES		(SPHINX_BETA_BYTES + SPHINX_ROUTING_BLOCK_BYTES)

/*
 * Every key of a hop comes from one ChaCha20 keystream, the hop stream
 * (docs/sphinx.md, section 5): the keys in its first four blocks, then the
 * header keystream from block 4 on.
 */
#define HS_MAC			0
#define HS_BLINDING		32
#define HS_REPLAY		64
#define HS_LIONESS		96
#define HS_HEADER		256
#define HS_BYTES		(HS_HEADER + KEYSTREAM_BYTES)	/* 648 */
/*
 * libsodium 1.0.18's ChaCha20 is fast in whole chunks of 512 (AVX2) and
 * 256 (SSSE3) bytes and slow, block by block, on what is left over: 648
 * bytes cost about 50 % more than 768.  So the stream is computed in
 * whole chunks; the bytes past HS_BYTES are not used.
 */
#define HS_ALLOC_BYTES		768
#define HS_UNWRAP_BYTES		512	/* keys and the first block suffice */
#define CHACHA_CHUNK_BYTES	512
#define CHACHA_BLOCK_BYTES	64
_Static_assert(HS_BYTES <= HS_ALLOC_BYTES, "hop stream too short");
_Static_assert(HS_HEADER + SPHINX_ROUTING_BLOCK_BYTES <= HS_UNWRAP_BYTES,
    "unwrap stream too short");

/* Payload layout: zero tag, big-endian length, message, zero padding. */
#define PAYLOAD_LENGTH_OFF	SPHINX_PAYLOAD_TAG_BYTES
#define PAYLOAD_MESSAGE_OFF	(PAYLOAD_LENGTH_OFF + SPHINX_PAYLOAD_LENGTH_BYTES)
/* With an acknowledgement block (section 18): the recipient's layer covers
 * only what follows the block. */
#define ACKED_PAYLOAD_BYTES	(SPHINX_PAYLOAD_BYTES - SPHINX_ACK_BYTES)	/* 1650 */

#define LIONESS_KEY_BYTES	32
#define LIONESS_KEYS_BYTES	(4 * LIONESS_KEY_BYTES)
#define LIONESS_LEFT_BYTES	32	/* = ChaCha20 key size = BLAKE2b-256 output */
_Static_assert(LIONESS_KEYS_BYTES == SPHINX_LIONESS_KEYS_BYTES,
    "LIONESS key size");

/* A REPLY block: the SURB id at next_id[0, 16), zeros from there on. */
#define BLOCK_SURB_ID_END	(BLOCK_NEXT_ID + SPHINX_SURB_ID_BYTES)

/* Draws of x before sphinx_create() gives up (see sphinx_x25519_scalar()). */
#define CREATE_ATTEMPTS		4

/* The hop key's derivation label (docs/sphinx.md, section 5). */
static const char LABEL_HOP[] = "nymd-sphinx-v2/hop";

/* alpha's top bit is the key phase, not part of the group element. */
#define ALPHA_PHASE_BYTE	(SPHINX_KEY_BYTES - 1)
#define ALPHA_PHASE_BIT		0x80

static const uint8_t zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

/*
 * Constants mod l = 2^252 + 27742317777372353535851937790883648493, the
 * order of the prime-order subgroup, little-endian: the inverse of 8, which
 * is (3l + 1) / 8, and 2^254 mod l = 2^254 - 3l.
 */
static const uint8_t SCALAR_INV8[32] = {
	0x79, 0x2f, 0xdc, 0xe2, 0x29, 0xe5, 0x06, 0x61,
	0xd0, 0xda, 0x1c, 0x7d, 0xb3, 0x9d, 0xd3, 0x07,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
};
static const uint8_t SCALAR_2_254[32] = {
	0x39, 0x84, 0x1e, 0xe9, 0xb0, 0xd6, 0xc8, 0xf7,
	0x7c, 0x29, 0x19, 0x17, 0x64, 0x12, 0x63, 0xc1,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
};

/*
 * The hop stream S(k, len), k = H_32(label || s): one BLAKE2b compression
 * and one ChaCha20 call, where a separate BLAKE2b per key would cost six
 * compressions and a second ChaCha20 call for the header keystream.
 * Unkeyed BLAKE2b of label || s is one compression; keying BLAKE2b with s
 * would cost a second one for the key block.
 */
static void
hop_stream(uint8_t *out, size_t len, const uint8_t secret[SPHINX_KEY_BYTES])
{
	uint8_t in[sizeof(LABEL_HOP) - 1 + SPHINX_KEY_BYTES];
	uint8_t k[32];

	memcpy(in, LABEL_HOP, sizeof(LABEL_HOP) - 1);
	memcpy(in + sizeof(LABEL_HOP) - 1, secret, SPHINX_KEY_BYTES);
	crypto_generichash(k, sizeof(k), in, sizeof(in), NULL, 0);
	crypto_stream_chacha20_ietf(out, len, zero_nonce, k);
	sodium_memzero(in, sizeof(in));
	sodium_memzero(k, sizeof(k));
}

static void
header_mac(uint8_t mac[SPHINX_MAC_BYTES], const uint8_t key[32],
    const uint8_t alpha_beta[MAC_INPUT_BYTES])
{
	crypto_generichash(mac, SPHINX_MAC_BYTES, alpha_beta, MAC_INPUT_BYTES,
	    key, 32);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * out = in ^ S(key)[0, len); out may be in.  Whole 512-byte chunks go to
 * libsodium directly; the rest is XORed with a whole chunk of keystream,
 * which is cheaper than letting libsodium do the tail block by block.
 */
static void
chacha_xor(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[32])
{
	uint8_t ks[CHACHA_CHUNK_BYTES];
	size_t bulk = len - len % CHACHA_CHUNK_BYTES;
	size_t tail = len - bulk;

	if (bulk > 0)
		crypto_stream_chacha20_ietf_xor(out, in, bulk, zero_nonce, key);
	if (tail == 0)
		return;
	memset(ks, 0, sizeof(ks));
	crypto_stream_chacha20_ietf_xor_ic(ks, ks, sizeof(ks), zero_nonce,
	    (uint32_t)(bulk / CHACHA_BLOCK_BYTES), key);
	out += bulk;
	in += bulk;
	for (size_t i = 0; i + 8 <= tail; i += 8) {
		uint64_t a, b;
		memcpy(&a, in + i, 8);
		memcpy(&b, ks + i, 8);
		a ^= b;
		memcpy(out + i, &a, 8);
	}
	for (size_t i = tail - tail % 8; i < tail; i++)
		out[i] = in[i] ^ ks[i];
	sodium_memzero(ks, sizeof(ks));
}

/*
 * LIONESS (Anderson and Biham, 1996) over block = L (32 bytes) || R:
 * R ^= ChaCha20(L ^ K1); L ^= BLAKE2b_K2(R); R ^= ChaCha20(L ^ K3);
 * L ^= BLAKE2b_K4(R).  Decryption runs the rounds backwards.  The rounds
 * read from src and write to dst (which may be src), so that a hop's
 * first rounds move the payload into the outgoing packet without a copy.
 */
/* dst's R = src's R ^ S(dst's L ^ k); dst's L is the current L. */
static void
lioness_stream(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t k[LIONESS_KEY_BYTES])
{
	uint8_t key[LIONESS_LEFT_BYTES];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = dst[i] ^ k[i];
	chacha_xor(dst + LIONESS_LEFT_BYTES, src + LIONESS_LEFT_BYTES,
	    len - LIONESS_LEFT_BYTES, key);
	sodium_memzero(key, sizeof(key));
}

/* dst's L = src's L ^ H(k, src's R). */
static void
lioness_hash(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t k[LIONESS_KEY_BYTES])
{
	uint8_t h[LIONESS_LEFT_BYTES];

	crypto_generichash(h, sizeof(h), src + LIONESS_LEFT_BYTES,
	    len - LIONESS_LEFT_BYTES, k, LIONESS_KEY_BYTES);
	for (size_t i = 0; i < sizeof(h); i++)
		dst[i] = src[i] ^ h[i];
	sodium_memzero(h, sizeof(h));
}

#define LIONESS_K(k, i)	((k) + (i) * LIONESS_KEY_BYTES)

static void
lioness_encrypt(uint8_t *block, size_t len,
    const uint8_t k[LIONESS_KEYS_BYTES])
{
	lioness_stream(block, block, len, LIONESS_K(k, 0));
	lioness_hash(block, block, len, LIONESS_K(k, 1));
	lioness_stream(block, block, len, LIONESS_K(k, 2));
	lioness_hash(block, block, len, LIONESS_K(k, 3));
}

/*
 * The first round sets dst's L, the second dst's R: after them dst holds
 * the whole block and src is no longer read.
 */
static void
lioness_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t k[LIONESS_KEYS_BYTES])
{
	lioness_hash(dst, src, len, LIONESS_K(k, 3));
	lioness_stream(dst, src, len, LIONESS_K(k, 2));
	lioness_hash(dst, dst, len, LIONESS_K(k, 1));
	lioness_stream(dst, dst, len, LIONESS_K(k, 0));
}

/*
 * X25519 reduces values >= p, so several encodings name the same element;
 * only the canonical one is accepted.  The top bit, which X25519 ignores,
 * is the key phase (masked off by the caller): it is under the header MAC,
 * so a changed alpha never yields an accepted packet.
 */
static int
x25519_canonical(const uint8_t u[SPHINX_KEY_BYTES])
{
	if (u[31] & ALPHA_PHASE_BIT)
		return 0;
	/* p = 2^255 - 19: 0xed, then 30 bytes 0xff, then 0x7f */
	if (u[31] != 0x7f)
		return 1;
	for (int i = 30; i >= 1; i--)
		if (u[i] != 0xff)
			return 1;
	return u[0] < 0xed;
}

/* alpha without its key phase bit: the group element. */
static void
alpha_element(uint8_t u[SPHINX_KEY_BYTES], const uint8_t alpha[SPHINX_KEY_BYTES])
{
	memcpy(u, alpha, SPHINX_KEY_BYTES);
	u[ALPHA_PHASE_BYTE] &= (uint8_t)~ALPHA_PHASE_BIT;
}

int
sphinx_alpha_canonical(const uint8_t alpha[SPHINX_KEY_BYTES])
{
	uint8_t u[SPHINX_KEY_BYTES];

	alpha_element(u, alpha);
	return x25519_canonical(u);
}

static int
hop_secret(uint8_t secret[SPHINX_KEY_BYTES], const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t alpha[SPHINX_KEY_BYTES])
{
	uint8_t u[SPHINX_KEY_BYTES];

	alpha_element(u, alpha);
	if (!x25519_canonical(u))
		return SPHINX_ERR_MALFORMED;
	/* All-zero result: alpha is a point of small order. */
	if (crypto_scalarmult(secret, priv, u) != 0)
		return SPHINX_ERR_MALFORMED;
	return SPHINX_OK;
}

/*
 * Checks a decrypted routing block's encoding.  Terminal commands carry no
 * next hop, so their other fields must be zero: one encoding per meaning.
 */
static int
block_parse(const uint8_t block[SPHINX_ROUTING_BLOCK_BYTES],
    struct sphinx_hop_result *res)
{
	uint8_t command = block[BLOCK_COMMAND];

	uint8_t flags = block[BLOCK_FLAGS];

	if (!sodium_is_zero(block + BLOCK_RESERVED, BLOCK_RESERVED_BYTES))
		return SPHINX_ERR_MALFORMED;
	/* The ack flag means something only where an ack block is. */
	if (flags != 0 && (flags != SPHINX_FLAG_ACK ||
	    (command != SPHINX_CMD_DELIVER && command != SPHINX_CMD_FINAL &&
	    command != SPHINX_CMD_REPLY)))
		return SPHINX_ERR_MALFORMED;
	switch (command) {
	case SPHINX_CMD_RELAY:
	case SPHINX_CMD_DELIVER:
		if (block[BLOCK_NEXT_PHASE] > 1)
			return SPHINX_ERR_MALFORMED;
		break;
	case SPHINX_CMD_DROP:
	case SPHINX_CMD_FINAL:
		if (block[BLOCK_NEXT_PHASE] != 0 ||
		    !sodium_is_zero(block + BLOCK_DELAY,
		    SPHINX_ROUTING_BLOCK_BYTES - BLOCK_DELAY))
			return SPHINX_ERR_MALFORMED;
		break;
	case SPHINX_CMD_REPLY:
		/* Like FINAL, but with the SURB id after the delay. */
		if (block[BLOCK_NEXT_PHASE] != 0 ||
		    !sodium_is_zero(block + BLOCK_DELAY,
		    BLOCK_NEXT_ID - BLOCK_DELAY) ||
		    !sodium_is_zero(block + BLOCK_SURB_ID_END,
		    SPHINX_ROUTING_BLOCK_BYTES - BLOCK_SURB_ID_END))
			return SPHINX_ERR_MALFORMED;
		break;
	default:
		return SPHINX_ERR_MALFORMED;
	}
	res->command = command;
	res->flags = flags;
	res->delay_ms = get_be32(block + BLOCK_DELAY);
	memcpy(res->next_id, block + BLOCK_NEXT_ID, SPHINX_NODE_ID_BYTES);
	return SPHINX_OK;
}

/*
 * One hop, with the replay check in the store (replay not NULL) or left
 * to the caller (replay NULL: *authentic and tag say whether and what to
 * check).  Both give the outcome of checking first.
 */
static int
hop_process(const uint8_t node_priv[SPHINX_KEY_BYTES],
    struct replay_store *replay, const uint8_t in[SPHINX_PACKET_BYTES],
    uint8_t out[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res,
    int *authentic, uint8_t tag[SPHINX_REPLAY_TAG_BYTES])
{
	uint8_t secret[SPHINX_KEY_BYTES];
	uint8_t mac[SPHINX_MAC_BYTES];
	uint8_t hs[HS_ALLOC_BYTES];
	uint8_t alpha_next[SPHINX_KEY_BYTES];
	uint8_t alpha_in[SPHINX_KEY_BYTES];
	uint8_t *ext = hs + HS_HEADER;
	struct replay_probe probe;
	struct sphinx_hop_result r;
	int rc, blind_rc = SPHINX_OK;

	/* Copied out whole, padding included: no stale stack bytes leak. */
	memset(&r, 0, sizeof(r));
	if ((rc = hop_secret(secret, node_priv, in + ALPHA_OFF)) != SPHINX_OK)
		goto done;

	hop_stream(hs, sizeof(hs), secret);
	header_mac(mac, hs + HS_MAC, in + ALPHA_OFF);
	if (sodium_memcmp(mac, in + GAMMA_OFF, SPHINX_MAC_BYTES) != 0) {
		rc = SPHINX_ERR_MAC;
		goto done;
	}

	/*
	 * Only authentic packets reach the store, so junk cannot fill it.
	 * The store's cache misses are started here and waited for after the
	 * blinding, which they then cost nothing.  The outcome is that of
	 * checking first: replay before any other error, and every
	 * authentic packet recorded.
	 */
	if (replay != NULL)
		replay_prepare(replay, hs + HS_REPLAY, &probe);
	else {
		*authentic = 1;
		memcpy(tag, hs + HS_REPLAY, SPHINX_REPLAY_TAG_BYTES);
	}

	/* (beta || 0^56) ^ keystream: our block, then the next beta. */
	for (size_t i = 0; i < SPHINX_BETA_BYTES; i++)
		ext[i] ^= in[BETA_OFF + i];
	rc = block_parse(ext, &r);
	alpha_element(alpha_in, in + ALPHA_OFF);
	if (rc == SPHINX_OK && (r.command == SPHINX_CMD_RELAY ||
	    r.command == SPHINX_CMD_DELIVER) &&
	    crypto_scalarmult(alpha_next, hs + HS_BLINDING, alpha_in) != 0)
		blind_rc = SPHINX_ERR_MALFORMED;

	if (replay != NULL && replay_check_and_insert_prepared(replay, &probe) != 0) {
		rc = SPHINX_ERR_REPLAY;
		goto done;
	}
	if (rc != SPHINX_OK)
		goto done;
	/* A recipient's block, plain (FINAL) or a reply's (REPLY). */
	if (r.command == SPHINX_CMD_FINAL || r.command == SPHINX_CMD_REPLY) {
		rc = SPHINX_ERR_COMMAND;
		goto done;
	}
	if (r.command == SPHINX_CMD_DROP) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		memcpy(res, &r, sizeof(r));
		goto done;
	}
	if ((rc = blind_rc) != SPHINX_OK)
		goto done;

	/* in may be out: the header below is built from copies, and the
	 * payload is read before it is written (lioness_decrypt()). */
	memcpy(out + ALPHA_OFF, alpha_next, SPHINX_KEY_BYTES);
	if (ext[BLOCK_NEXT_PHASE])
		out[ALPHA_OFF + ALPHA_PHASE_BYTE] |= ALPHA_PHASE_BIT;
	memcpy(out + BETA_OFF, ext + SPHINX_ROUTING_BLOCK_BYTES,
	    SPHINX_BETA_BYTES);
	memcpy(out + GAMMA_OFF, ext + BLOCK_NEXT_MAC, SPHINX_MAC_BYTES);
	lioness_decrypt(out + PAYLOAD_OFF, in + PAYLOAD_OFF,
	    SPHINX_PAYLOAD_BYTES, hs + HS_LIONESS);
	memcpy(res, &r, sizeof(r));

done:
	if (rc != SPHINX_OK)
		sodium_memzero(out, SPHINX_PACKET_BYTES);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(hs, sizeof(hs));
	sodium_memzero(&probe, sizeof(probe));
	sodium_memzero(&r, sizeof(r));
	return rc;
}

int
sphinx_process(const uint8_t node_priv[SPHINX_KEY_BYTES],
    struct replay_store *replay, const uint8_t in[SPHINX_PACKET_BYTES],
    uint8_t out[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res)
{
	if (out == NULL)
		return SPHINX_ERR_INVALID;
	if (node_priv == NULL || replay == NULL || in == NULL || res == NULL) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		return SPHINX_ERR_INVALID;
	}
	return hop_process(node_priv, replay, in, out, res, NULL, NULL);
}

int
sphinx_process_unchecked(const uint8_t node_priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t out[SPHINX_PACKET_BYTES],
    struct sphinx_hop_result *res, int *authentic,
    uint8_t tag[SPHINX_REPLAY_TAG_BYTES])
{
	if (authentic != NULL)
		*authentic = 0;
	if (tag != NULL)
		sodium_memzero(tag, SPHINX_REPLAY_TAG_BYTES);
	if (out == NULL)
		return SPHINX_ERR_INVALID;
	if (node_priv == NULL || in == NULL || res == NULL ||
	    authentic == NULL || tag == NULL) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		return SPHINX_ERR_INVALID;
	}
	return hop_process(node_priv, NULL, in, out, res, authentic, tag);
}

int
sphinx_recipient_header(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res,
    uint8_t payload_keys[SPHINX_LIONESS_KEYS_BYTES],
    uint8_t replay_tag[SPHINX_REPLAY_TAG_BYTES])
{
	uint8_t secret[SPHINX_KEY_BYTES];
	uint8_t mac[SPHINX_MAC_BYTES];
	uint8_t hs[HS_UNWRAP_BYTES];
	uint8_t *block = hs + HS_HEADER;
	int rc;

	if (res == NULL)
		return SPHINX_ERR_INVALID;
	memset(res, 0, sizeof(*res));
	if (priv == NULL || in == NULL) {
		rc = SPHINX_ERR_INVALID;
		goto done;
	}
	if ((rc = hop_secret(secret, priv, in + ALPHA_OFF)) != SPHINX_OK)
		goto done;

	hop_stream(hs, sizeof(hs), secret);
	header_mac(mac, hs + HS_MAC, in + ALPHA_OFF);
	if (sodium_memcmp(mac, in + GAMMA_OFF, SPHINX_MAC_BYTES) != 0) {
		rc = SPHINX_ERR_MAC;
		goto done;
	}

	/* Only the first block of the header keystream is needed here. */
	for (size_t i = 0; i < SPHINX_ROUTING_BLOCK_BYTES; i++)
		block[i] ^= in[BETA_OFF + i];
	if ((rc = block_parse(block, res)) != SPHINX_OK)
		goto done;
	if (payload_keys != NULL)
		memcpy(payload_keys, hs + HS_LIONESS, LIONESS_KEYS_BYTES);
	if (replay_tag != NULL)
		memcpy(replay_tag, hs + HS_REPLAY, SPHINX_REPLAY_TAG_BYTES);

done:
	if (rc != SPHINX_OK) {
		memset(res, 0, sizeof(*res));
		if (payload_keys != NULL)
			sodium_memzero(payload_keys, LIONESS_KEYS_BYTES);
		if (replay_tag != NULL)
			sodium_memzero(replay_tag, SPHINX_REPLAY_TAG_BYTES);
	}
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(hs, sizeof(hs));
	return rc;
}


/* encode(m) in a payload of room message bytes (2048, or 1632 beside
 * an acknowledgement block). */
static void
payload_encode_in(uint8_t *payload, size_t room, const uint8_t *msg,
    size_t msg_len)
{
	memset(payload, 0, PAYLOAD_MESSAGE_OFF + room);
	payload[PAYLOAD_LENGTH_OFF] = (uint8_t)(msg_len >> 8);
	payload[PAYLOAD_LENGTH_OFF + 1] = (uint8_t)msg_len;
	if (msg_len > 0)
		memcpy(payload + PAYLOAD_MESSAGE_OFF, msg, msg_len);
}

void
sphinx_payload_encode(uint8_t payload[SPHINX_PAYLOAD_BYTES],
    const uint8_t *msg, size_t msg_len)
{
	payload_encode_in(payload, SPHINX_MAX_MESSAGE_BYTES, msg, msg_len);
}

static int
payload_decode_in(const uint8_t *payload, size_t room,
    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len)
{
	size_t len;

	*msg_len = 0;
	if (!sodium_is_zero(payload, SPHINX_PAYLOAD_TAG_BYTES))
		return SPHINX_ERR_PAYLOAD;
	len = (size_t)payload[PAYLOAD_LENGTH_OFF] << 8 |
	    payload[PAYLOAD_LENGTH_OFF + 1];
	if (len > room ||
	    !sodium_is_zero(payload + PAYLOAD_MESSAGE_OFF + len, room - len))
		return SPHINX_ERR_MALFORMED;
	memcpy(msg, payload + PAYLOAD_MESSAGE_OFF, len);
	*msg_len = len;
	return SPHINX_OK;
}

int
sphinx_payload_decode(const uint8_t payload[SPHINX_PAYLOAD_BYTES],
    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len)
{
	return payload_decode_in(payload, SPHINX_MAX_MESSAGE_BYTES, msg, msg_len);
}

void
sphinx_lioness_encrypt(uint8_t block[SPHINX_PAYLOAD_BYTES],
    const uint8_t keys[SPHINX_LIONESS_KEYS_BYTES])
{
	lioness_encrypt(block, SPHINX_PAYLOAD_BYTES, keys);
}

void
sphinx_lioness_decrypt(uint8_t dst[SPHINX_PAYLOAD_BYTES],
    const uint8_t src[SPHINX_PAYLOAD_BYTES],
    const uint8_t keys[SPHINX_LIONESS_KEYS_BYTES])
{
	lioness_decrypt(dst, src, SPHINX_PAYLOAD_BYTES, keys);
}

int
sphinx_unwrap(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES],
    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len,
    uint8_t replay_tag[SPHINX_REPLAY_TAG_BYTES])
{
	uint8_t keys[LIONESS_KEYS_BYTES];
	uint8_t payload[SPHINX_PAYLOAD_BYTES];
	struct sphinx_hop_result r;
	int rc;

	if (msg == NULL || msg_len == NULL)
		return SPHINX_ERR_INVALID;
	*msg_len = 0;

	rc = sphinx_recipient_header(priv, in, &r, keys, replay_tag);
	if (rc == SPHINX_OK && r.command != SPHINX_CMD_FINAL)
		rc = SPHINX_ERR_COMMAND;
	if (rc == SPHINX_OK && (r.flags & SPHINX_FLAG_ACK)) {
		/* The ack block went to the provider: ours is what follows. */
		lioness_decrypt(payload, in + PAYLOAD_OFF + SPHINX_ACK_BYTES,
		    ACKED_PAYLOAD_BYTES, keys);
		rc = payload_decode_in(payload, SPHINX_MAX_ACKED_MESSAGE_BYTES,
		    msg, msg_len);
	} else if (rc == SPHINX_OK) {
		lioness_decrypt(payload, in + PAYLOAD_OFF, sizeof(payload),
		    keys);
		rc = sphinx_payload_decode(payload, msg, msg_len);
	}

	sodium_memzero(keys, sizeof(keys));
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(&r, sizeof(r));
	if (rc == SPHINX_OK)
		return rc;
	*msg_len = 0;
	sodium_memzero(msg, SPHINX_MAX_MESSAGE_BYTES);
	if (replay_tag != NULL)
		sodium_memzero(replay_tag, SPHINX_REPLAY_TAG_BYTES);
	return rc;
}

int
sphinx_replay_tag(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t alpha[SPHINX_KEY_BYTES],
    uint8_t tag[SPHINX_REPLAY_TAG_BYTES])
{
	uint8_t secret[SPHINX_KEY_BYTES];
	uint8_t keys[HS_HEADER];
	int rc;

	if (tag == NULL)
		return SPHINX_ERR_INVALID;
	if (priv == NULL || alpha == NULL) {
		rc = SPHINX_ERR_INVALID;
	} else if ((rc = hop_secret(secret, priv, alpha)) == SPHINX_OK) {
		hop_stream(keys, sizeof(keys), secret);
		memcpy(tag, keys + HS_REPLAY, SPHINX_REPLAY_TAG_BYTES);
	}
	if (rc != SPHINX_OK)
		sodium_memzero(tag, SPHINX_REPLAY_TAG_BYTES);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(keys, sizeof(keys));
	return rc;
}

/*
 * Sender side.  The sender needs, for every hop i, alpha_i = X25519 of the
 * chain x, b_0, ..., b_(i-1) applied to the base point, and the shared
 * secret s_i, the same chain applied to the hop's public key.  Applying the
 * chain one X25519 at a time costs 1 + 2 + ... + n multiplications for the
 * secrets.  Instead the sender multiplies the clamped scalars modulo the
 * group order l and applies the product with a single X25519.  X25519 only
 * takes clamped scalars (2^254 + 8k, 0 <= k < 2^251), so the product c is
 * written as such a scalar for c or for -c (same u-coordinate); one of the
 * two exists except with probability about 2^-126.  docs/sphinx.md,
 * section 9, has the derivation.
 */

/* The clamped X25519 scalar of a 32-byte string, reduced mod l. */
static void
scalar_from_x25519(uint8_t c[32], const uint8_t k[32])
{
	uint8_t wide[crypto_core_ed25519_NONREDUCEDSCALARBYTES] = { 0 };

	memcpy(wide, k, 32);
	wide[0] &= 248;
	wide[31] &= 127;
	wide[31] |= 64;
	crypto_core_ed25519_scalar_reduce(c, wide);
	sodium_memzero(wide, sizeof(wide));
}

/*
 * Finds t, fixed by X25519's clamping, with t = c or t = -c (mod l).
 * Selects between the two candidates without branching on them.
 */
static int
sphinx_x25519_scalar(uint8_t t[32], const uint8_t c[32])
{
	uint8_t kp[32], kn[32], tmp[32];
	unsigned int okp, okn;
	uint8_t mask;
	int rc = 0;

	/* k+ = (c - 2^254) / 8,  k- = (-c - 2^254) / 8  (mod l) */
	crypto_core_ed25519_scalar_sub(tmp, c, SCALAR_2_254);
	crypto_core_ed25519_scalar_mul(kp, tmp, SCALAR_INV8);
	crypto_core_ed25519_scalar_negate(tmp, c);
	crypto_core_ed25519_scalar_sub(tmp, tmp, SCALAR_2_254);
	crypto_core_ed25519_scalar_mul(kn, tmp, SCALAR_INV8);

	/* k < 2^251 iff bits 251..255 (top 5 bits of byte 31) are clear */
	okp = 1u & (((unsigned int)(kp[31] & 0xf8) - 1u) >> 8);
	okn = 1u & (((unsigned int)(kn[31] & 0xf8) - 1u) >> 8);
	mask = (uint8_t)(0u - okp);
	for (int i = 0; i < 32; i++)
		tmp[i] = (uint8_t)((kp[i] & mask) | (kn[i] & (uint8_t)~mask));
	if ((okp | okn) == 0)
		rc = -1;

	/* t = 2^254 + 8k */
	t[0] = (uint8_t)(tmp[0] << 3);
	for (int i = 1; i < 32; i++)
		t[i] = (uint8_t)((tmp[i] << 3) | (tmp[i - 1] >> 5));
	t[31] |= 64;

	sodium_memzero(kp, sizeof(kp));
	sodium_memzero(kn, sizeof(kn));
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

struct create_state {
	uint8_t		x[32];
	uint8_t		c[32];
	uint8_t		t[32];
	uint8_t		cb[32];
	uint8_t		secret[SPHINX_KEY_BYTES];
	uint8_t		alpha[SPHINX_MAX_HOPS][SPHINX_KEY_BYTES];
	/* Hop streams: keys, then header keystream at HS_HEADER. */
	uint8_t		hs[SPHINX_MAX_HOPS][HS_ALLOC_BYTES];
	uint8_t		filler[(SPHINX_MAX_HOPS - 1) * SPHINX_ROUTING_BLOCK_BYTES];
	uint8_t		block[SPHINX_ROUTING_BLOCK_BYTES];
	uint8_t		mac[SPHINX_MAC_BYTES];
};

#define CREATE_RETRY	1	/* internal: draw another x */

static int
rng_fill(const struct sphinx_rng *rng, uint8_t *buf, size_t len)
{
	if (len == 0)
		return SPHINX_OK;
	if (rng == NULL) {
		randombytes_buf(buf, len);
		return SPHINX_OK;
	}
	return rng->fill(rng->ctx, buf, len) == 0 ? SPHINX_OK : SPHINX_ERR_RNG;
}

/* alpha_i, s_i and the keys of every hop, from x. */
static int
create_hops(struct create_state *st, const struct sphinx_hop *hops,
    size_t nhops)
{
	memcpy(st->t, st->x, 32);
	scalar_from_x25519(st->c, st->x);

	for (size_t i = 0; i < nhops; i++) {
		if (i > 0) {
			/* c = c * clamp(b_(i-1)) mod l */
			scalar_from_x25519(st->cb, st->hs[i - 1] + HS_BLINDING);
			crypto_core_ed25519_scalar_mul(st->c, st->c, st->cb);
			if (sphinx_x25519_scalar(st->t, st->c) != 0)
				return CREATE_RETRY;
		}
		/* Cannot fail: t is a non-zero multiple of the cofactor. */
		if (crypto_scalarmult_base(st->alpha[i], st->t) != 0)
			return SPHINX_ERR_RNG;
		if (crypto_scalarmult(st->secret, st->t, hops[i].node_pub) != 0)
			return SPHINX_ERR_KEY;
		hop_stream(st->hs[i], HS_ALLOC_BYTES, st->secret);
		/* What hop i receives: the element with its key phase. */
		if (hops[i].key_phase)
			st->alpha[i][ALPHA_PHASE_BYTE] |= ALPHA_PHASE_BIT;
	}
	return SPHINX_OK;
}

int
sphinx_key_usable(const uint8_t pub[SPHINX_KEY_BYTES])
{
	/* Any clamped scalar: it is a multiple of the cofactor 8, so the
	 * product is the identity (all zeros, refused) exactly for keys of
	 * small order.  Not secret. */
	static const uint8_t probe[SPHINX_KEY_BYTES] = { 0x08, [31] = 0x40 };
	uint8_t out[SPHINX_KEY_BYTES];

	return crypto_scalarmult(out, probe, pub) == 0;
}

/* next is the following hop, or NULL for the last. */
static void
block_encode(uint8_t block[SPHINX_ROUTING_BLOCK_BYTES],
    const struct sphinx_hop *hop, const struct sphinx_hop *next,
    const uint8_t next_mac[SPHINX_MAC_BYTES])
{
	memset(block, 0, SPHINX_ROUTING_BLOCK_BYTES);
	block[BLOCK_COMMAND] = hop->command;
	if (next != NULL)
		block[BLOCK_NEXT_PHASE] = next->key_phase;
	block[BLOCK_FLAGS] = hop->flags;
	put_be32(block + BLOCK_DELAY, hop->delay_ms);
	memcpy(block + BLOCK_NEXT_ID, hop->next_id, SPHINX_NODE_ID_BYTES);
	if (next_mac != NULL)
		memcpy(block + BLOCK_NEXT_MAC, next_mac, SPHINX_MAC_BYTES);
}

/*
 * The filler: the last (n-1) blocks of beta_(n-1), i.e. what hops 0..n-2
 * shift into the end of beta, so that the sender can MAC it in advance.
 * phi_0 is empty; phi_(k+1) = (phi_k || 0^56) ^ S_k[L - 56k, L + 56).
 */
static void
create_filler(struct create_state *st, size_t nhops)
{
	size_t len = 0;

	for (size_t k = 0; k + 1 < nhops; k++) {
		memset(st->filler + len, 0, SPHINX_ROUTING_BLOCK_BYTES);
		len += SPHINX_ROUTING_BLOCK_BYTES;
		const uint8_t *ks = st->hs[k] + HS_HEADER + SPHINX_BETA_BYTES -
		    (len - SPHINX_ROUTING_BLOCK_BYTES);
		for (size_t j = 0; j < len; j++)
			st->filler[j] ^= ks[j];
	}
}

/* Writes alpha_0 || beta_0 || gamma_0 to out[0, SPHINX_HEADER_BYTES). */
static int
create_header(struct create_state *st, uint8_t *out,
    const struct sphinx_hop *hops, size_t nhops, const struct sphinx_rng *rng)
{
	uint8_t *beta = out + BETA_OFF;
	size_t last = nhops - 1;
	size_t filler_len = last * SPHINX_ROUTING_BLOCK_BYTES;
	size_t head_len = SPHINX_BETA_BYTES - filler_len;
	int rc;

	/* beta_(n-1): (block || random padding) ^ S_(n-1), then the filler */
	block_encode(beta, &hops[last], NULL, NULL);
	rc = rng_fill(rng, beta + SPHINX_ROUTING_BLOCK_BYTES,
	    head_len - SPHINX_ROUTING_BLOCK_BYTES);
	if (rc != SPHINX_OK)
		return rc;
	for (size_t j = 0; j < head_len; j++)
		beta[j] ^= st->hs[last][HS_HEADER + j];
	memcpy(beta + head_len, st->filler, filler_len);
	memcpy(out + ALPHA_OFF, st->alpha[last], SPHINX_KEY_BYTES);
	header_mac(st->mac, st->hs[last] + HS_MAC, out + ALPHA_OFF);

	/* beta_i = (block_i || beta_(i+1) without its last block) ^ S_i */
	for (size_t i = last; i-- > 0;) {
		block_encode(st->block, &hops[i], &hops[i + 1], st->mac);
		memmove(beta + SPHINX_ROUTING_BLOCK_BYTES, beta,
		    SPHINX_BETA_BYTES - SPHINX_ROUTING_BLOCK_BYTES);
		memcpy(beta, st->block, SPHINX_ROUTING_BLOCK_BYTES);
		for (size_t j = 0; j < SPHINX_BETA_BYTES; j++)
			beta[j] ^= st->hs[i][HS_HEADER + j];
		memcpy(out + ALPHA_OFF, st->alpha[i], SPHINX_KEY_BYTES);
		header_mac(st->mac, st->hs[i] + HS_MAC, out + ALPHA_OFF);
	}
	memcpy(out + GAMMA_OFF, st->mac, SPHINX_MAC_BYTES);
	return SPHINX_OK;
}

/*
 * P_n = encode(m), under every hop's layer from the last.  With an ack
 * block (section 18) the recipient's layer covers encode(m) in the 1650
 * bytes after the block, and the egress provider's layer reveals the
 * block itself.
 */
static void
create_payload(struct create_state *st, uint8_t out[SPHINX_PACKET_BYTES],
    size_t nhops, const uint8_t *msg, size_t msg_len,
    const uint8_t *ack)
{
	uint8_t *p = out + PAYLOAD_OFF;
	size_t i = nhops;

	if (ack != NULL) {
		payload_encode_in(p + SPHINX_ACK_BYTES,
		    SPHINX_MAX_ACKED_MESSAGE_BYTES, msg, msg_len);
		lioness_encrypt(p + SPHINX_ACK_BYTES, ACKED_PAYLOAD_BYTES,
		    st->hs[--i] + HS_LIONESS);
		memcpy(p, ack, SPHINX_ACK_BYTES);
	} else
		sphinx_payload_encode(p, msg, msg_len);
	while (i-- > 0)
		lioness_encrypt(p, SPHINX_PAYLOAD_BYTES, st->hs[i] + HS_LIONESS);
}

/*
 * The last hop's block: FINAL and DROP carry nothing else; REPLY (only in
 * reply blocks, sphinx_header_create()) carries the SURB id.
 */
static int
last_hop_valid(const struct sphinx_hop *hop, int allow_reply, int acked)
{
	/* FINAL has the flag exactly when the packet has an ack block; a
	 * reply block's REPLY may have it (an acknowledgement's block). */
	if (hop->flags != (acked ? SPHINX_FLAG_ACK : 0) &&
	    !(hop->command == SPHINX_CMD_REPLY && hop->flags == SPHINX_FLAG_ACK))
		return 0;
	switch (hop->command) {
	case SPHINX_CMD_FINAL:
		return hop->delay_ms == 0 &&
		    sodium_is_zero(hop->next_id, SPHINX_NODE_ID_BYTES);
	case SPHINX_CMD_DROP:
		return !acked && hop->delay_ms == 0 &&
		    sodium_is_zero(hop->next_id, SPHINX_NODE_ID_BYTES);
	case SPHINX_CMD_REPLY:
		return allow_reply && !acked && hop->delay_ms == 0 &&
		    sodium_is_zero(hop->next_id + SPHINX_SURB_ID_BYTES,
		    SPHINX_NODE_ID_BYTES - SPHINX_SURB_ID_BYTES);
	default:
		return 0;
	}
}

/*
 * With acked, hop n-2 DELIVERs and it alone, with FINAL after it, has the
 * ack flag; otherwise no hop but a reply block's REPLY has it.
 */
static int
path_valid(const struct sphinx_hop *hops, size_t nhops, int allow_reply,
    int acked)
{
	if (hops == NULL || nhops == 0 || nhops > SPHINX_MAX_HOPS)
		return 0;
	if (acked && (nhops < 2 || hops[nhops - 2].command != SPHINX_CMD_DELIVER))
		return 0;
	for (size_t i = 0; i + 1 < nhops; i++) {
		if (hops[i].key_phase > 1)
			return 0;
		if (hops[i].command != SPHINX_CMD_RELAY &&
		    hops[i].command != SPHINX_CMD_DELIVER)
			return 0;
		if (hops[i].flags != (acked && i + 2 == nhops ? SPHINX_FLAG_ACK : 0))
			return 0;
	}
	return hops[nhops - 1].key_phase <= 1 &&
	    last_hop_valid(&hops[nhops - 1], allow_reply, acked);
}

/* The header of a valid path into out[0, SPHINX_HEADER_BYTES); keys in st. */
static int
create_core(struct create_state *st, uint8_t *out,
    const struct sphinx_hop *hops, size_t nhops, const struct sphinx_rng *rng)
{
	int rc = SPHINX_ERR_RNG;

	for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
		if ((rc = rng_fill(rng, st->x, sizeof(st->x))) != SPHINX_OK)
			return rc;
		rc = create_hops(st, hops, nhops);
		if (rc != CREATE_RETRY)
			break;
		/* A source that keeps yielding such x is broken. */
		rc = SPHINX_ERR_RNG;
	}
	if (rc != SPHINX_OK)
		return rc;
	create_filler(st, nhops);
	return create_header(st, out, hops, nhops, rng);
}

static int
create_packet(uint8_t out[SPHINX_PACKET_BYTES], const struct sphinx_hop *hops,
    size_t nhops, const uint8_t *ack, const uint8_t *msg, size_t msg_len,
    const struct sphinx_rng *rng)
{
	size_t room = ack != NULL ? SPHINX_MAX_ACKED_MESSAGE_BYTES :
	    SPHINX_MAX_MESSAGE_BYTES;
	struct create_state st;
	int rc;

	if (out == NULL)
		return SPHINX_ERR_INVALID;
	if (!path_valid(hops, nhops, 0, ack != NULL) || msg_len > room ||
	    (msg == NULL && msg_len > 0) || (rng != NULL && rng->fill == NULL)) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		return SPHINX_ERR_INVALID;
	}

	if ((rc = create_core(&st, out, hops, nhops, rng)) == SPHINX_OK)
		create_payload(&st, out, nhops, msg, msg_len, ack);
	else
		sodium_memzero(out, SPHINX_PACKET_BYTES);
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int
sphinx_create(uint8_t out[SPHINX_PACKET_BYTES], const struct sphinx_hop *hops,
    size_t nhops, const uint8_t *msg, size_t msg_len,
    const struct sphinx_rng *rng)
{
	return create_packet(out, hops, nhops, NULL, msg, msg_len, rng);
}

int
sphinx_create_acked(uint8_t out[SPHINX_PACKET_BYTES],
    const struct sphinx_hop *hops, size_t nhops,
    const uint8_t ack[SPHINX_ACK_BYTES], const uint8_t *msg, size_t msg_len,
    const struct sphinx_rng *rng)
{
	if (ack == NULL) {
		if (out != NULL)
			sodium_memzero(out, SPHINX_PACKET_BYTES);
		return SPHINX_ERR_INVALID;
	}
	return create_packet(out, hops, nhops, ack, msg, msg_len, rng);
}

int
sphinx_header_create(uint8_t header[SPHINX_HEADER_BYTES],
    uint8_t payload_keys[SPHINX_MAX_HOPS][SPHINX_LIONESS_KEYS_BYTES],
    const struct sphinx_hop *hops, size_t nhops, const struct sphinx_rng *rng)
{
	struct create_state st;
	int rc;

	if (header == NULL || payload_keys == NULL)
		return SPHINX_ERR_INVALID;
	sodium_memzero(payload_keys, SPHINX_MAX_HOPS * LIONESS_KEYS_BYTES);
	if (!path_valid(hops, nhops, 1, 0) || (rng != NULL && rng->fill == NULL)) {
		sodium_memzero(header, SPHINX_HEADER_BYTES);
		return SPHINX_ERR_INVALID;
	}

	/* create_header() writes only the header part of its packet. */
	if ((rc = create_core(&st, header, hops, nhops, rng)) == SPHINX_OK) {
		for (size_t i = 0; i < nhops; i++)
			memcpy(payload_keys[i], st.hs[i] + HS_LIONESS,
			    LIONESS_KEYS_BYTES);
	} else {
		sodium_memzero(header, SPHINX_HEADER_BYTES);
	}
	sodium_memzero(&st, sizeof(st));
	return rc;
}

const char *
sphinx_strerror(int err)
{
	switch (err) {
	case SPHINX_OK:
		return "success";
	case SPHINX_ERR_INVALID:
		return "invalid argument";
	case SPHINX_ERR_KEY:
		return "invalid public key in the path";
	case SPHINX_ERR_RNG:
		return "randomness source failed";
	case SPHINX_ERR_MALFORMED:
		return "malformed packet";
	case SPHINX_ERR_MAC:
		return "header MAC mismatch";
	case SPHINX_ERR_REPLAY:
		return "replayed packet";
	case SPHINX_ERR_COMMAND:
		return "packet command not valid for this role";
	case SPHINX_ERR_PAYLOAD:
		return "payload integrity check failed";
	default:
		return "unknown Sphinx error";
	}
}

const char *
sphinx_command_name(int command)
{
	switch (command) {
	case SPHINX_CMD_RELAY:
		return "relay";
	case SPHINX_CMD_DELIVER:
		return "deliver";
	case SPHINX_CMD_DROP:
		return "drop";
	case SPHINX_CMD_FINAL:
		return "final";
	case SPHINX_CMD_REPLY:
		return "reply";
	default:
		return NULL;
	}
}
