/*
 * Fuzz target: descriptor_verify(), the one parser of signed node
 * descriptors (docs/directory.md).  A random signature never verifies,
 * so the target signs each input with a fixed test key first: inputs
 * that name that key as identityKey (the corpus does) reach the parser
 * behind the signature check; then it checks that one flipped signature
 * bit, or a changed byte of the text, is refused.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* The test identity: seed 32 bytes of 0x01 (identityKey in the corpus). */
static uint8_t pk[32], sk[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char ctx[] = DESCRIPTOR_SIG_CONTEXT;
	uint8_t sig[DESCRIPTOR_SIG_BYTES], *m;
	char err[DESCRIPTOR_ERR_BYTES];
	struct descriptor d;

	if (!ready) {
		uint8_t seed[32];
		CHECK(sodium_init() >= 0);
		memset(seed, 1, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}
	if (size > DESCRIPTOR_MAX_BYTES + 16)
		return 0;
	if ((m = malloc(sizeof(ctx) - 1 + size + 1)) == NULL)
		return 0;
	memcpy(m, ctx, sizeof(ctx) - 1);
	if (size > 0)
		memcpy(m + sizeof(ctx) - 1, data, size);
	crypto_sign_detached(sig, NULL, m, sizeof(ctx) - 1 + size, sk);
	free(m);

	if (descriptor_verify((const char *)data, size, sig, &d, err,
	    sizeof(err)) == 0) {
		/* Accepted: its fields are in range, and it named our key. */
		CHECK(memcmp(d.identity, pk, 32) == 0);
		CHECK(d.role == DESCRIPTOR_MIXNODE || d.role == DESCRIPTOR_PROVIDER);
		CHECK((d.role == DESCRIPTOR_MIXNODE) == (d.layer >= 1 && d.layer <= 3));
		CHECK(d.n_keys <= TOPOLOGY_EPOCH_KEYS);
		CHECK(memchr(d.host, '\0', sizeof(d.host)) != NULL);
		sig[size % DESCRIPTOR_SIG_BYTES] ^= 0x01;
		CHECK(descriptor_verify((const char *)data, size, sig, &d, err,
		    sizeof(err)) == -1);
	} else {
		CHECK(strlen(err) > 0);
	}
	return 0;
}
