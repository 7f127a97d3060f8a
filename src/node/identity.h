/*
 * A node's long-term Ed25519 identity key (docs/directory.md), which
 * signs its descriptors: NODE_HOME/identity_key.pem (the 32-byte seed,
 * mode 0600) and NODE_HOME/identity_public_key.pem (0644), the key a
 * directory operator puts on an allow-list.
 */
#ifndef NYMD_NODE_IDENTITY_H
#define NYMD_NODE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/descriptor.h"
#include "node/config.h"

#define IDENTITY_ERR_BYTES	(PATH_MAX + 128)

/* Writes a new identity key pair; pk receives the public key. 0 or -1. */
int	identity_create(const struct node_config *, uint8_t pk[32],
	    char *err, size_t errlen);
/*
 * Loads the identity: sk (64 bytes, sodium_malloc'd by the caller) and
 * pk.  A node made before identities existed gets one here (*created is
 * set).  0 or -1.
 */
int	identity_load(const struct node_config *, uint8_t *sk, uint8_t pk[32],
	    int *created, char *err, size_t errlen);

#endif
