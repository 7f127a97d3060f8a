/*
 * Base64 (RFC 4648): standard and URL-safe alphabets, always with padding,
 * as the seed writes client and node ids. Decoding is strict: wrong
 * alphabet, missing or misplaced padding, non-zero trailing bits and
 * whitespace are all rejected, so one key has exactly one encoding.
 */
#ifndef NYMD_B64_H
#define NYMD_B64_H

#include <stddef.h>
#include <stdint.h>

enum b64_variant {
	B64_STANDARD = 0,
	B64_URLSAFE,
};

/* Length of the encoding of n bytes, without the terminating NUL. */
#define B64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4)
/* A 32-byte key encodes to 44 characters. */
#define B64_KEY_CHARS		B64_ENCODED_LEN(32)

/* Writes a NUL-terminated encoding; out must hold B64_ENCODED_LEN(len)+1. */
void	b64_encode(char *out, const uint8_t *in, size_t len, enum b64_variant v);
/*
 * Decodes exactly in_len characters into out (capacity out_cap). Returns
 * the decoded length, or -1 on malformed input or too small a buffer.
 */
long	b64_decode(uint8_t *out, size_t out_cap, const char *in, size_t in_len,
	    enum b64_variant v);
/* Decodes a 32-byte key given as 44 characters; returns 0 or -1. */
int	b64_decode_key(uint8_t key[32], const char *in, enum b64_variant v);

#endif
