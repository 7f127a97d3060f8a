/*
 * Fuzz target for the websocket's JSON mapping, both ways. The input is
 * read as a JSON request and as a packed Response. Checked: an accepted
 * request packs to a Request that unpacks again; an error text is
 * printable ASCII; a Response written as JSON is JSON that jansson reads.
 * The module's source is included so that the libFuzzer build, which
 * links only libnymcommon, needs nothing else.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpcd/wsjson.c"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pb = NULL;
	size_t pb_len;
	char err[WSJSON_ERROR_BYTES];
	char *json = NULL;
	size_t json_len;
	int rc;

	rc = wsjson_request((const char *)data, size, &pb, &pb_len, err, sizeof(err));
	if (rc == WSJSON_OK) {
		Types__Request *r = types__request__unpack(NULL, pb_len, pb);
		if (r == NULL || r->value_case == TYPES__REQUEST__VALUE__NOT_SET)
			abort();
		types__request__free_unpacked(r, NULL);
		free(pb);
	} else if (rc == WSJSON_ERR_INVALID) {
		if (err[0] == '\0')
			abort();
		for (const char *p = err; *p != '\0'; p++)
			if (*p < 0x20 || *p >= 0x7f)
				abort();
	}

	rc = wsjson_response(data, size, &json, &json_len);
	if (rc == WSJSON_OK) {
		json_error_t jerr;
		json_t *back = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &jerr);
		if (back == NULL || !json_is_object(back))
			abort();
		json_decref(back);
		free(json);
	}
	return 0;
}
