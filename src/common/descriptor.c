/*
 * Signed node descriptors (descriptor.h).  The text is compact JSON with
 * the members in a fixed order; a verifier does not depend on the order,
 * only on the signed bytes.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/b64.h"
#include "common/descriptor.h"
#include "common/sphinx.h"

static int
desc_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
desc_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *
descriptor_role_name(enum descriptor_role role)
{
	return role == DESCRIPTOR_MIXNODE ? "mixnode" : "provider";
}

/* The bytes the signature covers: context || text. */
static uint8_t *
desc_signed_bytes(const char *text, size_t len, size_t *out_len)
{
	size_t clen = sizeof(DESCRIPTOR_SIG_CONTEXT) - 1;
	uint8_t *m = malloc(clen + len);

	if (m == NULL)
		return NULL;
	memcpy(m, DESCRIPTOR_SIG_CONTEXT, clen);
	memcpy(m + clen, text, len);
	*out_len = clen + len;
	return m;
}

static json_t *
desc_key_json(const uint8_t key[32])
{
	char s[B64_KEY_CHARS + 1];

	b64_encode(s, key, 32, B64_URLSAFE);
	return json_string(s);
}

int
descriptor_sign(const struct descriptor *d,
    const uint8_t sk[DESCRIPTOR_SECRET_BYTES], char **text,
    uint8_t sig[DESCRIPTOR_SIG_BYTES])
{
	json_t *o, *keys;
	uint8_t *m;
	size_t mlen;
	char *s;

	*text = NULL;
	if (d->n_keys > TOPOLOGY_EPOCH_KEYS || d->published_ms > INT64_MAX ||
	    (keys = json_array()) == NULL)
		return -1;
	for (size_t i = 0; i < d->n_keys; i++) {
		if (d->keys[i].epoch > INT64_MAX || json_array_append_new(keys,
		    json_pack("{s:I, s:o}", "epoch", (json_int_t)d->keys[i].epoch,
		    "key", desc_key_json(d->keys[i].key))) == -1) {
			json_decref(keys);
			return -1;
		}
	}
	o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:I, s:I, s:o}",
	    "version", DESCRIPTOR_VERSION,
	    "role", descriptor_role_name(d->role),
	    "host", d->host,
	    "pubKey", desc_key_json(d->pub),
	    "identityKey", desc_key_json(d->identity),
	    "layer", (json_int_t)d->layer,
	    "published", (json_int_t)d->published_ms,
	    "sphinxKeys", keys);
	if (o == NULL)
		return -1;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL || strlen(s) > DESCRIPTOR_MAX_BYTES ||
	    (m = desc_signed_bytes(s, strlen(s), &mlen)) == NULL) {
		free(s);
		return -1;
	}
	crypto_sign_detached(sig, NULL, m, mlen, sk);
	free(m);
	*text = s;
	return 0;
}

static int
desc_key(json_t *o, const char *name, uint8_t key[32])
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) && json_string_length(v) == B64_KEY_CHARS &&
	    b64_decode_key(key, json_string_value(v), B64_URLSAFE) == 0 ? 0 : -1;
}

static int
desc_uint(json_t *o, const char *name, uint64_t min, uint64_t max,
    uint64_t *out)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
desc_keys(json_t *arr, struct descriptor *d, char *err, size_t errlen)
{
	if (!json_is_array(arr))
		return desc_fail(err, errlen, "sphinxKeys is not a list");
	if (json_array_size(arr) > TOPOLOGY_EPOCH_KEYS)
		return desc_fail(err, errlen, "sphinxKeys has more than %d entries",
		    TOPOLOGY_EPOCH_KEYS);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		struct topology_epoch_key *k = &d->keys[i];

		if (!json_is_object(e) || json_object_size(e) != 2 ||
		    desc_uint(e, "epoch", 0, INT64_MAX, &k->epoch) == -1 ||
		    desc_key(e, "key", k->key) == -1)
			return desc_fail(err, errlen, "sphinxKeys[%zu] is not "
			    "{\"epoch\": N, \"key\": KEY}", i);
		if (!sphinx_key_usable(k->key))
			return desc_fail(err, errlen, "sphinxKeys[%zu].key is a "
			    "point of small order", i);
		for (size_t j = 0; j < i; j++)
			if (d->keys[j].epoch == k->epoch)
				return desc_fail(err, errlen, "sphinxKeys[%zu] "
				    "repeats an epoch", i);
		d->n_keys++;
	}
	return 0;
}

static int
desc_parse(json_t *o, struct descriptor *d, char *err, size_t errlen)
{
	char host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
	const char *role, *hostport;
	uint64_t v;

	if (json_object_size(o) != 8)
		return desc_fail(err, errlen, "a descriptor has exactly the "
		    "members version, role, host, pubKey, identityKey, layer, "
		    "published and sphinxKeys");
	if (desc_uint(o, "version", DESCRIPTOR_VERSION, DESCRIPTOR_VERSION,
	    &v) == -1)
		return desc_fail(err, errlen, "version is not %d",
		    DESCRIPTOR_VERSION);
	role = json_string_value(json_object_get(o, "role"));
	if (role != NULL && strcmp(role, "mixnode") == 0)
		d->role = DESCRIPTOR_MIXNODE;
	else if (role != NULL && strcmp(role, "provider") == 0)
		d->role = DESCRIPTOR_PROVIDER;
	else
		return desc_fail(err, errlen, "role is not mixnode or provider");
	hostport = json_string_value(json_object_get(o, "host"));
	if (hostport == NULL || strlen(hostport) >= sizeof(d->host) ||
	    topology_split_host(hostport, host, sizeof(host), port,
	    sizeof(port)) == -1)
		return desc_fail(err, errlen, "host is not \"ip:port\"");
	memcpy(d->host, hostport, strlen(hostport) + 1);
	if (desc_key(o, "pubKey", d->pub) == -1)
		return desc_fail(err, errlen, "pubKey is not a key");
	if (desc_uint(o, "layer", 0, TOPOLOGY_MIX_LAYERS, &v) == -1 ||
	    (d->role == DESCRIPTOR_MIXNODE) != (v != 0))
		return desc_fail(err, errlen, "layer is not 1 to 3 for a mixnode "
		    "and 0 for a provider");
	d->layer = (uint32_t)v;
	if (desc_uint(o, "published", 0, INT64_MAX, &d->published_ms) == -1)
		return desc_fail(err, errlen, "published is not a time");
	return desc_keys(json_object_get(o, "sphinxKeys"), d, err, errlen);
}

int
descriptor_verify(const char *text, size_t len,
    const uint8_t sig[DESCRIPTOR_SIG_BYTES], struct descriptor *out,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o;
	uint8_t *m;
	size_t mlen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > DESCRIPTOR_MAX_BYTES)
		return desc_fail(err, errlen, "descriptor larger than %d bytes",
		    DESCRIPTOR_MAX_BYTES);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return desc_fail(err, errlen, "descriptor is not a JSON object");
	}
	/* The key to check with is in the signed text: checked first. */
	if (desc_key(o, "identityKey", out->identity) == -1) {
		json_decref(o);
		return desc_fail(err, errlen, "identityKey is not a key");
	}
	if ((m = desc_signed_bytes(text, len, &mlen)) == NULL) {
		json_decref(o);
		return desc_fail(err, errlen, "out of memory");
	}
	rc = crypto_sign_verify_detached(sig, m, mlen, out->identity);
	free(m);
	if (rc != 0) {
		json_decref(o);
		memset(out, 0, sizeof(*out));
		return desc_fail(err, errlen, "the signature does not verify "
		    "with the descriptor's identityKey");
	}
	rc = desc_parse(o, out, err, errlen);
	json_decref(o);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}
