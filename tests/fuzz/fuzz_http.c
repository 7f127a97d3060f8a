/*
 * Fuzz target for the websocket upgrade parser. Besides "no crash", it
 * checks that refusals are final: a request refused on a prefix is
 * refused whole, and a request accepted whole is only incomplete on a
 * prefix. The parser's source is included so that the libFuzzer build,
 * which links only libnymcommon, needs nothing else.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpcd/http.c"

/* The default websocket_allowed_origins and one with a port. */
#define ORIGINS	"http://localhost http://127.0.0.1 http://[::1] https://a.example:8443"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_upgrade u, up;
	char res[HTTP_MAX_RESPONSE_BYTES];
	long rc, half;

	rc = http_parse_upgrade(data, size, "/mix", ORIGINS, &u);
	half = http_parse_upgrade(data, size / 2, "/mix", ORIGINS, &up);
	if (rc > 0) {
		if ((size_t)rc > size || u.status != 101 ||
		    strlen(u.accept) != HTTP_WS_ACCEPT_CHARS)
			abort();
		if ((size_t)rc > size / 2 && half != HTTP_NEED_MORE)
			abort();
	} else if (rc == HTTP_REFUSED) {
		if (u.status < 400 || u.why == NULL)
			abort();
	} else if (rc != HTTP_NEED_MORE) {
		abort();
	}
	if (half == HTTP_REFUSED && rc != HTTP_REFUSED)
		abort();
	if (rc != HTTP_NEED_MORE && http_response(&u, res, sizeof(res)) <= 0)
		abort();
	return 0;
}
