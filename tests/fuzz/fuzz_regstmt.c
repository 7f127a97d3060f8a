/*
 * Fuzz target: regstmt_from_json(), the one parser of a registeredClients
 * entry with its registration statement (docs/directory.md).  The input
 * is JSON text; entries are checked for the fixed test provider (32 bytes
 * of 0x50, as in the corpus).  An accepted entry must verify again from
 * its parsed fields and fail with one flipped signature bit or for
 * another provider.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/regstmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define FUZZ_MAX_BYTES	4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t provider[32], other[32];
	char err[REGSTMT_ERR_BYTES];
	struct regstmt s;
	json_error_t jerr;
	json_t *entry;
	int missing;

	if (!ready) {
		CHECK(sodium_init() >= 0);
		ready = 1;
	}
	if (size > FUZZ_MAX_BYTES)
		return 0;
	memset(provider, 0x50, sizeof(provider));
	memset(other, 0x51, sizeof(other));
	entry = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (entry == NULL)
		return 0;
	if (regstmt_from_json(entry, provider, &s, &missing, err,
	    sizeof(err)) == 0) {
		CHECK(memcmp(s.provider, provider, 32) == 0);
		CHECK(s.registered_ms <= INT64_MAX);
		CHECK(regstmt_verify(&s) == 0);
		CHECK(regstmt_from_json(entry, other, &s, &missing, err,
		    sizeof(err)) == -1);
		CHECK(regstmt_from_json(entry, provider, &s, &missing, err,
		    sizeof(err)) == 0);
		s.sig[s.registered_ms % REGSTMT_SIG_BYTES] ^= 0x01;
		CHECK(regstmt_verify(&s) == -1);
	} else {
		CHECK(strlen(err) > 0);
		CHECK(!missing || json_is_object(entry));
	}
	json_decref(entry);
	return 0;
}
