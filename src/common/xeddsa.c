/*
 * XEdDSA over Curve25519 (xeddsa.h), on libsodium's scalar and point
 * operations.  Signing needs no field arithmetic: calculate_key_pair()
 * takes the Edwards point kB, and negates k when its sign bit is 1 so
 * that the public key always has sign bit 0.  Verifying needs the
 * birational map from the X25519 public key u to Edwards y, which
 * libsodium does not offer: the few lines of arithmetic modulo
 * p = 2^255 - 19 below do it, in variable time (they only ever see public
 * keys), and the rest is libsodium's Ed25519 verification.
 */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "common/xeddsa.h"

/*
 * A field element as 16 signed limbs of 16 bits, little-endian (the
 * representation of TweetNaCl): sums and products of reduced limbs fit
 * in int64_t with room to spare.
 */
typedef int64_t fe[16];

/* p = 2^255 - 19, little-endian. */
static const uint8_t xeddsa_p[32] = {
	0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
};

/* 1 if the 32-byte little-endian number n is less than p. */
static int
fe_bytes_below_p(const uint8_t n[32])
{
	for (int i = 31; i >= 0; i--) {
		if (n[i] != xeddsa_p[i])
			return n[i] < xeddsa_p[i];
	}
	return 0;
}

/*
 * Moves each limb's excess into the next, so limbs end in [0, 2^16);
 * what leaves the top limb (weight 2^256) comes back as 38 times it
 * (2^256 = 2 * 2^255 = 2 * 19 mod p).  Floor division by 2^16 without
 * shifting a negative number.
 */
static void
fe_carry(fe o)
{
	for (int i = 0; i < 16; i++) {
		int64_t c = (o[i] >= 0 ? o[i] : o[i] - 65535) / 65536;

		o[i] -= c * 65536;
		if (i < 15)
			o[i + 1] += c;
		else
			o[0] += 38 * c;
	}
}

static void
fe_unpack(fe o, const uint8_t n[32])
{
	for (int i = 0; i < 16; i++)
		o[i] = (int64_t)n[2 * i] | (int64_t)n[2 * i + 1] << 8;
}

/* The canonical encoding: the number in [0, p). */
static void
fe_pack(uint8_t out[32], const fe a)
{
	fe t, m;

	memcpy(t, a, sizeof(fe));
	for (int i = 0; i < 4; i++)
		fe_carry(t);	/* now 0 <= t < 2^256 < 3p */
	for (int k = 0; k < 2; k++) {
		/* m = t - p, borrowing limb by limb; keep it if not negative. */
		m[0] = t[0] - 0xffed;
		for (int i = 1; i < 15; i++)
			m[i] = t[i] - 0xffff;
		m[15] = t[15] - 0x7fff;
		for (int i = 0; i < 15; i++) {
			if (m[i] < 0) {
				m[i] += 65536;
				m[i + 1]--;
			}
		}
		if (m[15] >= 0)
			memcpy(t, m, sizeof(fe));
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = (uint8_t)(t[i] & 0xff);
		out[2 * i + 1] = (uint8_t)(t[i] >> 8);
	}
}

static void
fe_add(fe o, const fe a, const fe b)
{
	for (int i = 0; i < 16; i++)
		o[i] = a[i] + b[i];
}

static void
fe_sub(fe o, const fe a, const fe b)
{
	for (int i = 0; i < 16; i++)
		o[i] = a[i] - b[i];
}

/* o = a * b; o may be a or b. */
static void
fe_mul(fe o, const fe a, const fe b)
{
	int64_t t[31] = { 0 };

	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++)
			t[i + j] += a[i] * b[j];
	/* Limb 16 + i has weight 2^256 * 2^(16 i) = 38 * 2^(16 i). */
	for (int i = 0; i < 15; i++)
		t[i] += 38 * t[i + 16];
	memcpy(o, t, sizeof(fe));
	fe_carry(o);
	fe_carry(o);
}

/* o = a^(p - 2) = 1 / a (0 for 0).  p - 2 = 2^255 - 21: every bit from
 * 254 down to 0 is set except bits 2 and 4. */
static void
fe_invert(fe o, const fe a)
{
	fe c;

	memcpy(c, a, sizeof(fe));
	for (int bit = 253; bit >= 0; bit--) {
		fe_mul(c, c, c);
		if (bit != 2 && bit != 4)
			fe_mul(c, c, a);
	}
	memcpy(o, c, sizeof(fe));
}

int
xeddsa_mont_to_edwards(uint8_t ed[32], const uint8_t u[32])
{
	static const fe one = { 1 };
	fe x, num, den;
	uint8_t check[32];

	if (!fe_bytes_below_p(u))
		return -1;
	fe_unpack(x, u);
	fe_sub(num, x, one);
	fe_add(den, x, one);
	fe_pack(check, den);
	if (sodium_is_zero(check, sizeof(check)))
		return -1;	/* u = -1: no Edwards point */
	fe_invert(den, den);
	fe_mul(num, num, den);
	fe_pack(ed, num);	/* y < p < 2^255: the sign bit is 0 */
	return 0;
}

/* X25519's clamping of a secret scalar. */
static void
xeddsa_clamp(uint8_t k[32], const uint8_t sk[32])
{
	memcpy(k, sk, 32);
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
}

/* A 64-byte hash reduced to a scalar modulo the group order. */
static void
xeddsa_hash_final(crypto_hash_sha512_state *st, uint8_t scalar[32])
{
	uint8_t h[crypto_hash_sha512_BYTES];

	crypto_hash_sha512_final(st, h);
	crypto_core_ed25519_scalar_reduce(scalar, h);
	sodium_memzero(h, sizeof(h));
}

/*
 * calculate_key_pair(k): A = kB with its sign bit forced to 0, and a the
 * private scalar that goes with that A (-k when kB's sign bit is 1).
 */
static int
xeddsa_key_pair(uint8_t A[32], uint8_t a[32], const uint8_t sk[32])
{
	uint8_t k[64] = { 0 }, kred[32];
	int rc = -1;

	xeddsa_clamp(k, sk);
	if (crypto_scalarmult_ed25519_base_noclamp(A, k) == 0) {
		crypto_core_ed25519_scalar_reduce(kred, k);
		if (A[31] & 0x80)
			crypto_core_ed25519_scalar_negate(a, kred);
		else
			memcpy(a, kred, 32);
		A[31] &= 0x7f;
		rc = 0;
	}
	sodium_memzero(k, sizeof(k));
	sodium_memzero(kred, sizeof(kred));
	return rc;
}

int
xeddsa_sign_z(uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t sk[32],
    const uint8_t *msg, size_t len, const uint8_t z[XEDDSA_NONCE_BYTES])
{
	/* hash1's prefix: the number 2^256 - 2, little-endian. */
	uint8_t prefix[32], A[32], a[32], r[32], h[32], ha[32];
	crypto_hash_sha512_state st;
	int rc = -1;

	memset(prefix, 0xff, sizeof(prefix));
	prefix[0] = 0xfe;
	if (xeddsa_key_pair(A, a, sk) == -1)
		goto done;
	/* r = hash1(a || M || Z) mod q */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, prefix, sizeof(prefix));
	crypto_hash_sha512_update(&st, a, sizeof(a));
	crypto_hash_sha512_update(&st, msg, len);
	crypto_hash_sha512_update(&st, z, XEDDSA_NONCE_BYTES);
	xeddsa_hash_final(&st, r);
	/* R = rB */
	if (crypto_scalarmult_ed25519_base_noclamp(sig, r) != 0)
		goto done;
	/* h = hash(R || A || M) mod q; s = r + h a mod q */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, sig, 32);
	crypto_hash_sha512_update(&st, A, sizeof(A));
	crypto_hash_sha512_update(&st, msg, len);
	xeddsa_hash_final(&st, h);
	crypto_core_ed25519_scalar_mul(ha, h, a);
	crypto_core_ed25519_scalar_add(sig + 32, r, ha);
	rc = 0;
done:
	sodium_memzero(a, sizeof(a));
	sodium_memzero(r, sizeof(r));
	sodium_memzero(ha, sizeof(ha));
	sodium_memzero(&st, sizeof(st));
	if (rc == -1)
		memset(sig, 0, XEDDSA_SIG_BYTES);
	return rc;
}

int
xeddsa_sign(uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t sk[32],
    const uint8_t *msg, size_t len)
{
	uint8_t z[XEDDSA_NONCE_BYTES];
	int rc;

	randombytes_buf(z, sizeof(z));
	rc = xeddsa_sign_z(sig, sk, msg, len, z);
	sodium_memzero(z, sizeof(z));
	return rc;
}

int
xeddsa_verify(const uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t u[32],
    const uint8_t *msg, size_t len)
{
	uint8_t A[32];

	if (xeddsa_mont_to_edwards(A, u) == -1)
		return -1;
	/* The specification refuses s >= 2^253; libsodium then s >= q. */
	if (sig[63] & 0xe0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, len, A) == 0 ? 0 : -1;
}
