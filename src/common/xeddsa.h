/*
 * XEdDSA (Signal's specification, https://signal.org/docs/specifications/
 * xeddsa/): Ed25519-compatible signatures made with an X25519 key, so
 * that a client whose only key is its X25519 key (its address and link
 * key) can sign.  A signature is R || s, verified with the Montgomery u
 * of the X25519 public key, whose Edwards form with sign bit 0 is an
 * ordinary Ed25519 public key.
 */
#ifndef NYMD_COMMON_XEDDSA_H
#define NYMD_COMMON_XEDDSA_H

#include <stddef.h>
#include <stdint.h>

#define XEDDSA_SIG_BYTES	64
#define XEDDSA_NONCE_BYTES	64	/* Z, fresh random bytes per signature */

/*
 * Signs msg with the X25519 secret key sk (32 bytes, clamped here as
 * X25519 does).  0, or -1 for a key that gives no usable point.
 */
int	xeddsa_sign(uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t sk[32],
	    const uint8_t *msg, size_t len);
/* The same with a given Z: deterministic, for test vectors only. */
int	xeddsa_sign_z(uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t sk[32],
	    const uint8_t *msg, size_t len, const uint8_t z[XEDDSA_NONCE_BYTES]);
/*
 * 0 if sig is a signature of msg by the X25519 public key u, -1 if not
 * (also for a u that is not a canonical field element or has no Edwards
 * form).
 */
int	xeddsa_verify(const uint8_t sig[XEDDSA_SIG_BYTES], const uint8_t u[32],
	    const uint8_t *msg, size_t len);
/*
 * The Ed25519 public key (sign bit 0) of the X25519 public key u:
 * y = (u - 1) / (u + 1) mod p.  0, or -1 if u >= p or u = p - 1.
 */
int	xeddsa_mont_to_edwards(uint8_t ed[32], const uint8_t u[32]);

#endif /* NYMD_COMMON_XEDDSA_H */
