/*
 * Registration statements (regstmt.h).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/regstmt.h"

static int
regstmt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
regstmt_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
regstmt_message(uint8_t out[REGSTMT_MSG_BYTES], const struct regstmt *s)
{
	uint8_t *p = out;

	memcpy(p, REGSTMT_CONTEXT, REGSTMT_CONTEXT_BYTES);
	p += REGSTMT_CONTEXT_BYTES;
	memcpy(p, s->client, 32);
	p += 32;
	memcpy(p, s->provider, 32);
	p += 32;
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(s->registered_ms >> (8 * i));
}

int
regstmt_sign(struct regstmt *s, const uint8_t sk[32])
{
	uint8_t m[REGSTMT_MSG_BYTES];

	if (s->registered_ms > INT64_MAX)
		return -1;
	regstmt_message(m, s);
	return xeddsa_sign(s->sig, sk, m, sizeof(m));
}

int
regstmt_verify(const struct regstmt *s)
{
	uint8_t m[REGSTMT_MSG_BYTES];

	if (s->registered_ms > INT64_MAX)
		return -1;
	regstmt_message(m, s);
	return xeddsa_verify(s->sig, s->client, m, sizeof(m));
}

static int
regstmt_key(json_t *o, const char *name, uint8_t key[32])
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) && json_string_length(v) == B64_KEY_CHARS &&
	    b64_decode_key(key, json_string_value(v), B64_URLSAFE) == 0 ? 0 : -1;
}

int
regstmt_from_json(json_t *entry, const uint8_t provider[32],
    struct regstmt *out, int *missing, char *err, size_t errlen)
{
	json_t *reg, *sig;

	memset(out, 0, sizeof(*out));
	*missing = 0;
	if (!json_is_object(entry))
		return regstmt_fail(err, errlen, "not an object");
	if (regstmt_key(entry, "pubKey", out->client) == -1)
		return regstmt_fail(err, errlen, "pubKey is not a 32-byte key in "
		    "URL-safe base64 with padding");
	reg = json_object_get(entry, "registered");
	sig = json_object_get(entry, "signature");
	if (reg == NULL && sig == NULL) {
		*missing = 1;
		return regstmt_fail(err, errlen, "no registration statement "
		    "(registered, signature)");
	}
	if (!json_is_integer(reg) || json_integer_value(reg) < 0)
		return regstmt_fail(err, errlen, "registered is not a time");
	out->registered_ms = (uint64_t)json_integer_value(reg);
	if (!json_is_string(sig) || json_string_length(sig) !=
	    B64_ENCODED_LEN(REGSTMT_SIG_BYTES) ||
	    b64_decode(out->sig, sizeof(out->sig), json_string_value(sig),
	    json_string_length(sig), B64_URLSAFE) != REGSTMT_SIG_BYTES)
		return regstmt_fail(err, errlen, "signature is not 64 bytes of "
		    "URL-safe base64");
	memcpy(out->provider, provider, 32);
	if (regstmt_verify(out) == -1)
		return regstmt_fail(err, errlen, "the statement does not verify "
		    "with the client's key for this provider");
	return 0;
}

json_t *
regstmt_to_json(const struct regstmt *s)
{
	char key[B64_KEY_CHARS + 1], sig[B64_ENCODED_LEN(REGSTMT_SIG_BYTES) + 1];

	b64_encode(key, s->client, 32, B64_URLSAFE);
	b64_encode(sig, s->sig, sizeof(s->sig), B64_URLSAFE);
	return json_pack("{s:s, s:I, s:s}", "pubKey", key, "registered",
	    (json_int_t)s->registered_ms, "signature", sig);
}
