/*
 * Noise_IK_25519_ChaChaPoly_BLAKE2b, written from the Noise Protocol
 * Framework specification, revision 34 (sections 4, 5, 12), on libsodium.
 * The names follow the specification: CipherState, SymmetricState (ck, h
 * and the handshake's CipherState), HandshakeState (s, e, rs, re).
 */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "common/noise.h"

enum noise_token {
	NOISE_T_E,
	NOISE_T_S,
	NOISE_T_EE,
	NOISE_T_ES,
	NOISE_T_SE,
	NOISE_T_SS,
	NOISE_T_END
};

/* The two message patterns of IK. */
static const enum noise_token noise_ik[2][5] = {
	{ NOISE_T_E, NOISE_T_ES, NOISE_T_S, NOISE_T_SS, NOISE_T_END },
	{ NOISE_T_E, NOISE_T_EE, NOISE_T_SE, NOISE_T_END, NOISE_T_END },
};

enum noise_dh_state {
	NOISE_DH_NONE,
	NOISE_DH_WAITING,
	NOISE_DH_READY
};

/* ChaChaPoly: 32 bits of zeros, then n in little-endian. */
static void
noise_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
    uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int
noise_cipher_encrypt(struct noise_cipher *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (!cs->has_key) {
		if (len > 0 && in != out)
			memmove(out, in, len);
		return NOISE_OK;
	}
	/* 2^64-1 is reserved for REKEY; reaching it ends the session. */
	if (cs->n == UINT64_MAX)
		return NOISE_ERR_NONCE;
	noise_nonce(nonce, cs->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, ad_len,
	    NULL, nonce, cs->k);
	cs->n++;
	return NOISE_OK;
}

int
noise_cipher_decrypt(struct noise_cipher *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (!cs->has_key) {
		if (len > 0 && in != out)
			memmove(out, in, len);
		return NOISE_OK;
	}
	if (len < NOISE_TAG_BYTES)
		return NOISE_ERR_SIZE;
	if (cs->n == UINT64_MAX)
		return NOISE_ERR_NONCE;
	noise_nonce(nonce, cs->n);
	/* On failure n stays, as the specification requires. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len,
	    ad, ad_len, nonce, cs->k) != 0)
		return NOISE_ERR_DECRYPT;
	cs->n++;
	return NOISE_OK;
}

/* REKEY(k): the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros). */
void
noise_cipher_rekey(struct noise_cipher *cs)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	uint8_t zeros[NOISE_KEY_BYTES] = { 0 };
	uint8_t out[NOISE_KEY_BYTES + NOISE_TAG_BYTES];

	if (!cs->has_key)
		return;
	noise_nonce(nonce, UINT64_MAX);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof(zeros),
	    NULL, 0, NULL, nonce, cs->k);
	memcpy(cs->k, out, NOISE_KEY_BYTES);
	sodium_memzero(out, sizeof(out));
}

void
noise_cipher_set_nonce(struct noise_cipher *cs, uint64_t n)
{
	cs->n = n;
}

void
noise_cipher_wipe(struct noise_cipher *cs)
{
	sodium_memzero(cs, sizeof(*cs));
}

static void
noise_cipher_init(struct noise_cipher *cs, const uint8_t key[NOISE_KEY_BYTES])
{
	memcpy(cs->k, key, NOISE_KEY_BYTES);
	cs->n = 0;
	cs->has_key = 1;
}

static void
noise_hash_update(crypto_generichash_blake2b_state *st, const uint8_t *p,
    size_t len)
{
	if (len > 0)
		crypto_generichash_blake2b_update(st, p, len);
}

/* HMAC (RFC 2104) over BLAKE2b with B = 128; data is d1 || d2. */
static void
noise_hmac2(uint8_t out[NOISE_HASH_BYTES], const uint8_t *key, size_t key_len,
    const uint8_t *d1, size_t d1_len, const uint8_t *d2, size_t d2_len)
{
	crypto_generichash_blake2b_state st;
	uint8_t k0[NOISE_BLOCK_BYTES] = { 0 };
	uint8_t pad[NOISE_BLOCK_BYTES];
	uint8_t inner[NOISE_HASH_BYTES];

	if (key_len > NOISE_BLOCK_BYTES)
		crypto_generichash_blake2b(k0, NOISE_HASH_BYTES, key, key_len,
		    NULL, 0);
	else if (key_len > 0)
		memcpy(k0, key, key_len);

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x36;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_BYTES);
	noise_hash_update(&st, pad, sizeof(pad));
	noise_hash_update(&st, d1, d1_len);
	noise_hash_update(&st, d2, d2_len);
	crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ 0x5c;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_BYTES);
	noise_hash_update(&st, pad, sizeof(pad));
	noise_hash_update(&st, inner, sizeof(inner));
	crypto_generichash_blake2b_final(&st, out, NOISE_HASH_BYTES);

	sodium_memzero(&st, sizeof(st));
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

void
noise_hmac(uint8_t out[NOISE_HASH_BYTES], const uint8_t *key, size_t key_len,
    const uint8_t *data, size_t data_len)
{
	noise_hmac2(out, key, key_len, data, data_len, NULL, 0);
}

void
noise_hkdf(const uint8_t ck[NOISE_HASH_BYTES], const uint8_t *ikm,
    size_t ikm_len, uint8_t out1[NOISE_HASH_BYTES],
    uint8_t out2[NOISE_HASH_BYTES], uint8_t *out3)
{
	uint8_t temp_key[NOISE_HASH_BYTES];
	const uint8_t one = 0x01, two = 0x02, three = 0x03;

	noise_hmac2(temp_key, ck, NOISE_HASH_BYTES, ikm, ikm_len, NULL, 0);
	noise_hmac2(out1, temp_key, sizeof(temp_key), &one, 1, NULL, 0);
	noise_hmac2(out2, temp_key, sizeof(temp_key), out1, NOISE_HASH_BYTES,
	    &two, 1);
	if (out3 != NULL)
		noise_hmac2(out3, temp_key, sizeof(temp_key), out2,
		    NOISE_HASH_BYTES, &three, 1);
	sodium_memzero(temp_key, sizeof(temp_key));
}

static void
noise_mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_BYTES);
	noise_hash_update(&st, hs->h, sizeof(hs->h));
	noise_hash_update(&st, data, len);
	crypto_generichash_blake2b_final(&st, hs->h, sizeof(hs->h));
}

static void
noise_mix_key(struct noise_hs *hs, const uint8_t ikm[NOISE_KEY_BYTES])
{
	uint8_t temp_k[NOISE_HASH_BYTES];

	noise_hkdf(hs->ck, ikm, NOISE_KEY_BYTES, hs->ck, temp_k, NULL);
	/* HASHLEN is 64: the cipher key is temp_k truncated to 32 bytes. */
	noise_cipher_init(&hs->cs, temp_k);
	sodium_memzero(temp_k, sizeof(temp_k));
}

static size_t
noise_sealed_len(const struct noise_hs *hs, size_t len)
{
	return len + (hs->cs.has_key ? NOISE_TAG_BYTES : 0);
}

static int
noise_encrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len,
    uint8_t *out)
{
	int r;

	r = noise_cipher_encrypt(&hs->cs, hs->h, sizeof(hs->h), in, len, out);
	if (r != NOISE_OK)
		return r;
	noise_mix_hash(hs, out, noise_sealed_len(hs, len));
	return NOISE_OK;
}

/* in is the ciphertext (len bytes); works in place too. */
static int
noise_decrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len,
    uint8_t *out)
{
	crypto_generichash_blake2b_state st;
	uint8_t next_h[NOISE_HASH_BYTES];
	int r;

	/* MixHash covers the ciphertext, so hash it before it is overwritten. */
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_BYTES);
	noise_hash_update(&st, hs->h, sizeof(hs->h));
	noise_hash_update(&st, in, len);
	crypto_generichash_blake2b_final(&st, next_h, sizeof(next_h));

	r = noise_cipher_decrypt(&hs->cs, hs->h, sizeof(hs->h), in, len, out);
	if (r != NOISE_OK)
		return r;
	memcpy(hs->h, next_h, sizeof(hs->h));
	return NOISE_OK;
}

static int
noise_dh_local(uint8_t out[NOISE_KEY_BYTES], const uint8_t priv[NOISE_KEY_BYTES],
    const uint8_t pub[NOISE_KEY_BYTES])
{
	/* libsodium refuses an all-zero result (a low-order point). */
	if (crypto_scalarmult(out, priv, pub) != 0)
		return NOISE_ERR_DH;
	return NOISE_OK;
}

/* DH(s, peer): local key, a stored answer, or the callback. */
static int
noise_dh_static(struct noise_hs *hs, uint8_t out[NOISE_KEY_BYTES],
    const uint8_t peer[NOISE_KEY_BYTES])
{
	int r;

	if (hs->has_s_priv)
		return noise_dh_local(out, hs->s_priv, peer);
	if (hs->dh_state == NOISE_DH_READY) {
		memcpy(out, hs->dh_out, NOISE_KEY_BYTES);
		sodium_memzero(hs->dh_out, sizeof(hs->dh_out));
		hs->dh_state = NOISE_DH_NONE;
	} else if (hs->dh_state == NOISE_DH_WAITING) {
		return NOISE_WANT_DH;
	} else {
		/* Waiting before the call: the callback may answer at once. */
		hs->dh_state = NOISE_DH_WAITING;
		r = hs->dh(hs->dh_arg, out, peer);
		if (r == NOISE_DH_PENDING)
			return NOISE_WANT_DH;
		hs->dh_state = NOISE_DH_NONE;
		sodium_memzero(hs->dh_out, sizeof(hs->dh_out));
		if (r != 0)
			return NOISE_ERR_DH;
	}
	/* A callback's answer is checked like libsodium checks its own. */
	if (sodium_is_zero(out, NOISE_KEY_BYTES))
		return NOISE_ERR_DH;
	return NOISE_OK;
}

static int
noise_token_dh(struct noise_hs *hs, enum noise_token t,
    uint8_t out[NOISE_KEY_BYTES])
{
	int initiator = hs->role == NOISE_INITIATOR;

	switch (t) {
	case NOISE_T_EE:
		return noise_dh_local(out, hs->e_priv, hs->re);
	case NOISE_T_ES:
		return initiator ? noise_dh_local(out, hs->e_priv, hs->rs) :
		    noise_dh_static(hs, out, hs->re);
	case NOISE_T_SE:
		return initiator ? noise_dh_static(hs, out, hs->re) :
		    noise_dh_local(out, hs->e_priv, hs->rs);
	case NOISE_T_SS:
		return noise_dh_static(hs, out, hs->rs);
	default:
		return NOISE_ERR_ARG;
	}
}

/* A DH token: NOISE_OK after MixKey, NOISE_WANT_DH, or an error. */
static int
noise_token_mix(struct noise_hs *hs, enum noise_token t)
{
	uint8_t shared[NOISE_KEY_BYTES];
	int r;

	r = noise_token_dh(hs, t, shared);
	if (r == NOISE_OK)
		noise_mix_key(hs, shared);
	sodium_memzero(shared, sizeof(shared));
	return r;
}

static int
noise_fail(struct noise_hs *hs, int r)
{
	noise_hs_wipe(hs);
	hs->failed = 1;
	return r;
}

void
noise_hs_wipe(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int
noise_hs_init(struct noise_hs *hs, enum noise_role role, const uint8_t *prologue,
    size_t prologue_len, const struct noise_keys *keys)
{
	const char name[] = NOISE_PROTOCOL_NAME;

	memset(hs, 0, sizeof(*hs));
	if (sodium_init() < 0)
		return NOISE_ERR_ARG;
	if (role != NOISE_INITIATOR && role != NOISE_RESPONDER)
		return NOISE_ERR_ARG;
	if (keys == NULL || keys->s_pub == NULL ||
	    (keys->s_priv == NULL && keys->dh == NULL) ||
	    (role == NOISE_INITIATOR && keys->rs == NULL) ||
	    (prologue == NULL && prologue_len > 0))
		return NOISE_ERR_ARG;

	hs->role = role;
	memcpy(hs->s_pub, keys->s_pub, NOISE_KEY_BYTES);
	if (keys->s_priv != NULL) {
		memcpy(hs->s_priv, keys->s_priv, NOISE_KEY_BYTES);
		hs->has_s_priv = 1;
	}
	hs->dh = keys->dh;
	hs->dh_arg = keys->dh_arg;
	if (keys->e_priv != NULL) {
		memcpy(hs->e_priv, keys->e_priv, NOISE_KEY_BYTES);
		hs->fixed_e = 1;
	}
	if (role == NOISE_INITIATOR)
		memcpy(hs->rs, keys->rs, NOISE_KEY_BYTES);

	/* InitializeSymmetric: the name fits in HASHLEN, so it is padded. */
	memcpy(hs->h, name, sizeof(name) - 1);
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	noise_mix_hash(hs, prologue, prologue_len);
	/* The pre-message "<- s": the responder's static key. */
	noise_mix_hash(hs, role == NOISE_INITIATOR ? hs->rs : hs->s_pub,
	    NOISE_KEY_BYTES);
	return NOISE_OK;
}

static int
noise_gen_ephemeral(struct noise_hs *hs)
{
	if (!hs->fixed_e)
		randombytes_buf(hs->e_priv, sizeof(hs->e_priv));
	if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0)
		return NOISE_ERR_DH;
	return NOISE_OK;
}

static size_t
noise_msg_overhead(int msg)
{
	return msg == 0 ? NOISE_MSG1_OVERHEAD_BYTES : NOISE_MSG2_OVERHEAD_BYTES;
}

/* The initiator writes message 0 and reads message 1; the responder the reverse. */
static int
noise_turn_ok(const struct noise_hs *hs, int writing)
{
	if (hs->msg > 1)
		return 0;
	return (hs->msg == 0) == (writing == (hs->role == NOISE_INITIATOR));
}

int
noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t payload_len,
    uint8_t *msg, size_t msg_max, size_t *msg_len)
{
	size_t need;
	int r;

	if (hs->failed)
		return NOISE_ERR_FAILED;
	if (!noise_turn_ok(hs, 1) || (payload == NULL && payload_len > 0) ||
	    msg == NULL || msg_len == NULL)
		return NOISE_ERR_ARG;
	need = noise_msg_overhead(hs->msg) + payload_len;
	if (payload_len > NOISE_MAX_MSG_BYTES || need > NOISE_MAX_MSG_BYTES ||
	    need > msg_max)
		return NOISE_ERR_SIZE;

	for (;;) {
		enum noise_token t = noise_ik[hs->msg][hs->token];

		if (t == NOISE_T_END)
			break;
		switch (t) {
		case NOISE_T_E:
			if ((r = noise_gen_ephemeral(hs)) != NOISE_OK)
				return noise_fail(hs, r);
			memcpy(msg + hs->pos, hs->e_pub, NOISE_KEY_BYTES);
			hs->pos += NOISE_KEY_BYTES;
			noise_mix_hash(hs, hs->e_pub, NOISE_KEY_BYTES);
			break;
		case NOISE_T_S:
			r = noise_encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_BYTES,
			    msg + hs->pos);
			if (r != NOISE_OK)
				return noise_fail(hs, r);
			hs->pos += noise_sealed_len(hs, NOISE_KEY_BYTES);
			break;
		default:
			r = noise_token_mix(hs, t);
			if (r == NOISE_WANT_DH)
				return r;
			if (r != NOISE_OK)
				return noise_fail(hs, r);
			break;
		}
		hs->token++;
	}
	r = noise_encrypt_and_hash(hs, payload, payload_len, msg + hs->pos);
	if (r != NOISE_OK)
		return noise_fail(hs, r);
	*msg_len = hs->pos + noise_sealed_len(hs, payload_len);
	hs->msg++;
	hs->token = 0;
	hs->pos = 0;
	return NOISE_OK;
}

int
noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t msg_len,
    uint8_t *payload, size_t payload_max, size_t *payload_len)
{
	size_t n, overhead;
	int r;

	if (hs->failed)
		return NOISE_ERR_FAILED;
	if (!noise_turn_ok(hs, 0) || msg == NULL || payload_len == NULL ||
	    (payload == NULL && payload_max > 0))
		return NOISE_ERR_ARG;
	if (hs->token == 0) {
		overhead = noise_msg_overhead(hs->msg);
		if (msg_len > NOISE_MAX_MSG_BYTES || msg_len < overhead)
			return noise_fail(hs, NOISE_ERR_SIZE);
		if (msg_len - overhead > payload_max)
			return noise_fail(hs, NOISE_ERR_SIZE);
		hs->msg_len = msg_len;
		hs->pos = 0;
	} else if (msg_len != hs->msg_len) {
		/* A resumed read must see the same message again. */
		return NOISE_ERR_ARG;
	}

	for (;;) {
		enum noise_token t = noise_ik[hs->msg][hs->token];

		if (t == NOISE_T_END)
			break;
		switch (t) {
		case NOISE_T_E:
			memcpy(hs->re, msg + hs->pos, NOISE_KEY_BYTES);
			hs->pos += NOISE_KEY_BYTES;
			noise_mix_hash(hs, hs->re, NOISE_KEY_BYTES);
			break;
		case NOISE_T_S:
			n = noise_sealed_len(hs, NOISE_KEY_BYTES);
			r = noise_decrypt_and_hash(hs, msg + hs->pos, n, hs->rs);
			if (r != NOISE_OK)
				return noise_fail(hs, r);
			hs->pos += n;
			break;
		default:
			r = noise_token_mix(hs, t);
			if (r == NOISE_WANT_DH)
				return r;
			if (r != NOISE_OK)
				return noise_fail(hs, r);
			break;
		}
		hs->token++;
	}
	n = msg_len - hs->pos;
	r = noise_decrypt_and_hash(hs, msg + hs->pos, n, payload);
	if (r != NOISE_OK)
		return noise_fail(hs, r);
	*payload_len = n - (hs->cs.has_key ? NOISE_TAG_BYTES : 0);
	hs->msg++;
	hs->token = 0;
	hs->pos = 0;
	return NOISE_OK;
}

int
noise_hs_dh_result(struct noise_hs *hs, const uint8_t *shared)
{
	if (hs->failed)
		return NOISE_ERR_FAILED;
	if (hs->dh_state != NOISE_DH_WAITING)
		return NOISE_ERR_ARG;
	if (shared == NULL)
		return noise_fail(hs, NOISE_ERR_DH);
	memcpy(hs->dh_out, shared, NOISE_KEY_BYTES);
	hs->dh_state = NOISE_DH_READY;
	return NOISE_OK;
}

int
noise_hs_done(const struct noise_hs *hs)
{
	return !hs->failed && hs->msg == 2;
}

const uint8_t *
noise_hs_remote_static(const struct noise_hs *hs)
{
	if (hs->failed)
		return NULL;
	if (hs->role == NOISE_RESPONDER && hs->msg < 1)
		return NULL;
	return hs->rs;
}

int
noise_hs_split(struct noise_hs *hs, struct noise_cipher *send,
    struct noise_cipher *recv, uint8_t hash[NOISE_HASH_BYTES])
{
	uint8_t k1[NOISE_HASH_BYTES], k2[NOISE_HASH_BYTES];

	if (!noise_hs_done(hs) || send == NULL || recv == NULL)
		return NOISE_ERR_ARG;
	noise_hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	/* c1 carries initiator to responder, c2 the other way. */
	if (hs->role == NOISE_INITIATOR) {
		noise_cipher_init(send, k1);
		noise_cipher_init(recv, k2);
	} else {
		noise_cipher_init(send, k2);
		noise_cipher_init(recv, k1);
	}
	if (hash != NULL)
		memcpy(hash, hs->h, NOISE_HASH_BYTES);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	noise_hs_wipe(hs);
	return NOISE_OK;
}
