/*
 * Fuzz target: pem_parse_key() on arbitrary bytes, for both key types.
 * Whatever parses must format back to a block that parses to the same key.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
pem_fuzz_type(const uint8_t *data, size_t size, const char *type)
{
	uint8_t key[PEM_KEY_BYTES], again[PEM_KEY_BYTES];
	char text[256];

	int rc = pem_parse_key(data, size, type, key);
	if (pem_strerror(rc) == NULL)
		abort();
	if (rc != PEM_OK)
		return;
	int n = pem_format_key(text, sizeof(text), type, key);
	if (n <= 0 || pem_parse_key((const uint8_t *)text, (size_t)n, type, again) != PEM_OK ||
	    memcmp(key, again, sizeof(key)) != 0)
		abort();
	/* One canonical block per key: the input was it, give or take CRs and line breaks. */
	if ((size_t)n > size + 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pem_fuzz_type(data, size, PEM_TYPE_PRIVATE);
	pem_fuzz_type(data, size, PEM_TYPE_PUBLIC);
	return 0;
}
