/*
 * Sealing the kept keys of our reply blocks (docs/replies.md): keyd
 * derives one key from the client's private key, which never leaves keyd,
 * and hands rpcd only sealed keys to store. rpcd, netd and the disk never
 * see a block's keys in clear.
 *
 *   seal key = crypto_kdf_derive_from_key(32, 1, "nymdsurb", private key)
 *   sealed   = nonce (24, random) || crypto_secretbox(kept keys, 704 bytes)
 *
 * The kept keys name their block's id, which surb_open() checks against
 * the reply's, so sealed keys stored under another id do not open it.
 */
#ifndef NYMD_KEYD_SEAL_H
#define NYMD_KEYD_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/message.h"
#include "common/surb.h"

#define SEAL_KEY_BYTES	32

void	seal_key(uint8_t key[SEAL_KEY_BYTES], const uint8_t priv[32]);
void	seal_keys(uint8_t out[MESSAGE_SEALED_KEYS_BYTES], const uint8_t key[SEAL_KEY_BYTES],
	    const uint8_t keys[SURB_KEYS_BYTES]);
/* 0, or -1 (keys zeroed) if sealed is not sealed keys under key. */
int	seal_open(uint8_t keys[SURB_KEYS_BYTES], const uint8_t key[SEAL_KEY_BYTES],
	    const uint8_t *sealed, size_t len);

#endif
