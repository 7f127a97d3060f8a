#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/descriptor.h"
#include "common/pem.h"
#include "node/identity.h"

static int
identity_paths(const struct node_config *c, char priv[PATH_MAX],
    char pub[PATH_MAX])
{
	return (size_t)snprintf(priv, PATH_MAX, "%s/%s", c->home,
	    IDENTITY_PRIVATE_FILE) < PATH_MAX &&
	    (size_t)snprintf(pub, PATH_MAX, "%s/%s", c->home,
	    IDENTITY_PUBLIC_FILE) < PATH_MAX ? 0 : -1;
}

int
identity_create(const struct node_config *c, uint8_t pk[32], char *err,
    size_t errlen)
{
	char priv[PATH_MAX], pub[PATH_MAX];
	uint8_t *seed, sk[crypto_sign_SECRETKEYBYTES];
	int rc;

	if (identity_paths(c, priv, pub) == -1) {
		snprintf(err, errlen, "%s: path too long", c->home);
		return -1;
	}
	if ((seed = sodium_malloc(crypto_sign_SEEDBYTES)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	randombytes_buf(seed, crypto_sign_SEEDBYTES);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	rc = pem_write_key(priv, PEM_TYPE_IDENTITY_PRIVATE, seed, 0600);
	sodium_free(seed);
	if (rc != PEM_OK) {
		snprintf(err, errlen, "%s: %s", priv, pem_strerror(rc));
		return -1;
	}
	if ((rc = pem_write_key(pub, PEM_TYPE_IDENTITY_PUBLIC, pk, 0644)) !=
	    PEM_OK) {
		snprintf(err, errlen, "%s: %s", pub, pem_strerror(rc));
		return -1;
	}
	return 0;
}

int
identity_load(const struct node_config *c, uint8_t *sk, uint8_t pk[32],
    int *created, char *err, size_t errlen)
{
	char priv[PATH_MAX], pub[PATH_MAX];
	uint8_t *seed, filed[32];
	int rc;

	*created = 0;
	if (identity_paths(c, priv, pub) == -1) {
		snprintf(err, errlen, "%s: path too long", c->home);
		return -1;
	}
	if (access(priv, F_OK) == -1 && errno == ENOENT) {
		if (identity_create(c, pk, err, errlen) == -1)
			return -1;
		*created = 1;
	}
	if ((seed = sodium_malloc(crypto_sign_SEEDBYTES)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = pem_read_key(priv, PEM_TYPE_IDENTITY_PRIVATE, 1, seed);
	if (rc == PEM_OK)
		crypto_sign_seed_keypair(pk, sk, seed);
	sodium_free(seed);
	if (rc != PEM_OK) {
		snprintf(err, errlen, "%s: %s", priv, pem_strerror(rc));
		return -1;
	}
	/* The public file is what operators hand out: it must match. */
	if (pem_read_key(pub, PEM_TYPE_IDENTITY_PUBLIC, 0, filed) != PEM_OK ||
	    memcmp(filed, pk, 32) != 0) {
		snprintf(err, errlen, "%s is missing or does not match %s", pub,
		    priv);
		sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
		return -1;
	}
	return 0;
}
