/* Sealing the kept keys of our reply blocks: keyd/seal.h. */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "keyd/seal.h"

#define SEAL_CONTEXT	"nymdsurb"
#define SEAL_SUBKEY_ID	1

_Static_assert(MESSAGE_SEALED_KEYS_BYTES == crypto_secretbox_NONCEBYTES +
    crypto_secretbox_MACBYTES + SURB_KEYS_BYTES, "sealed keys' size");
_Static_assert(crypto_kdf_KEYBYTES == 32, "the private key is a kdf key");

void
seal_key(uint8_t key[SEAL_KEY_BYTES], const uint8_t priv[32])
{
	crypto_kdf_derive_from_key(key, SEAL_KEY_BYTES, SEAL_SUBKEY_ID, SEAL_CONTEXT, priv);
}

void
seal_keys(uint8_t out[MESSAGE_SEALED_KEYS_BYTES], const uint8_t key[SEAL_KEY_BYTES],
    const uint8_t keys[SURB_KEYS_BYTES])
{
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, keys, SURB_KEYS_BYTES,
	    out, key);
}

int
seal_open(uint8_t keys[SURB_KEYS_BYTES], const uint8_t key[SEAL_KEY_BYTES],
    const uint8_t *sealed, size_t len)
{
	if (sealed == NULL || len != MESSAGE_SEALED_KEYS_BYTES ||
	    crypto_secretbox_open_easy(keys, sealed + crypto_secretbox_NONCEBYTES,
	    len - crypto_secretbox_NONCEBYTES, sealed, key) != 0) {
		sodium_memzero(keys, SURB_KEYS_BYTES);
		return -1;
	}
	return 0;
}
