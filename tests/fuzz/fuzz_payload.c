/*
 * Fuzz target for the end-to-end payload of a real message
 * (common/payload.h, docs/replies.md): payload_decode() of any bytes, and
 * for what it accepts, that every pointer stays inside the input, every
 * reply block parses, and that encoding the result gives the input back
 * byte for byte (one encoding per payload). A violated property aborts.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
	return len == 0 || (p >= data && (size_t)(p - data) + len <= size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES];
	struct payload p;
	size_t len;

	if (sodium_init() < 0)
		abort();
	if (payload_decode(data, size, &p) != 0)
		return 0;
	if (!inside(p.message, p.message_len, data, size) ||
	    !inside(p.surbs, p.n_surbs * SURB_BYTES, data, size) ||
	    p.n_surbs > PAYLOAD_MAX_SURBS)
		abort();
	if (p.type == PAYLOAD_FRAGMENT && (p.count < 2 ||
	    p.count > PAYLOAD_MAX_FRAGMENTS || p.index >= p.count ||
	    p.message_len == 0 || p.message_len > PAYLOAD_FRAGMENT_BYTES ||
	    (p.index + 1 < p.count && p.message_len != PAYLOAD_FRAGMENT_BYTES)))
		abort();
	for (size_t i = 0; i < p.n_surbs; i++)
		if (surb_parse(p.surbs + i * SURB_BYTES, SURB_BYTES, NULL) != 0)
			abort();
	if (payload_encode(out, &len, &p) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	return 0;
}
