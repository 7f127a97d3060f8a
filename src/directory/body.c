#include <config.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/topology.h"
#include "common/sphinx.h"
#include "directory/body.h"

/* A DNS name: at most 253 characters in labels of 1..63. */
#define BODY_NAME_MAX_CHARS	253
#define BODY_LABEL_MAX_CHARS	63

static int
body_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Error text can quote the input (jansson does): keep it printable ASCII. */
static int
body_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p > '~' ||
		    *p == '"' || *p == '\\')
			*p = '?';
	return code;
}

static int
body_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	int digits_only = 1;

	if (len == 0 || len > BODY_NAME_MAX_CHARS)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return -1;
			label = 0;
			digits_only = 1;
			continue;
		}
		if (c >= '0' && c <= '9') {
			/* nothing */
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			digits_only = 0;
		} else if (c == '-' && label > 0) {
			digits_only = 0;
		} else {
			return -1;
		}
		if (++label > BODY_LABEL_MAX_CHARS)
			return -1;
	}
	/* An all-numeric last label would be a mistyped address. */
	if (label == 0 || name[len - 1] == '-' || digits_only)
		return -1;
	return 0;
}

int
body_host_valid(const char *hostport)
{
	char host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
	unsigned char addr[16];

	if (strlen(hostport) > BODY_HOSTPORT_MAX_CHARS)
		return -1;
	/* The client's own splitter: what passes here, nymd can read. */
	if (topology_split_host(hostport, host, sizeof(host), port,
	    sizeof(port)) == -1)
		return -1;
	if (port[0] == '0')
		return -1;	/* one spelling per port */
	if (hostport[0] == '[')
		return inet_pton(AF_INET6, host, addr) == 1 ? 0 : -1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return 0;
	return body_name_valid(host);
}

static json_t *
body_load(const char *buf, size_t len, char *err, size_t errlen, int *code)
{
	json_error_t jerr;
	json_t *root;

	if (len > BODY_MAX_BYTES) {
		*code = body_fail(err, errlen, BODY_ERR_TOO_LARGE,
		    "request body larger than %u bytes", BODY_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		*code = body_fail(err, errlen, BODY_ERR_JSON,
		    "invalid JSON: %s at line %d column %d", jerr.text,
		    jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*code = body_fail(err, errlen, BODY_ERR_JSON,
		    "the body is not a JSON object");
		return NULL;
	}
	return root;
}

/* A key field: a string of 44 characters, URL-safe base64 of 32 bytes. */
static int
body_key(json_t *obj, const char *field, const char *where, uint8_t pub[32],
    char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, field);

	if (v == NULL)
		return body_fail(err, errlen, BODY_ERR_FIELD, "%s%s is missing",
		    where, field);
	if (!json_is_string(v))
		return body_fail(err, errlen, BODY_ERR_FIELD,
		    "%s%s is not a string", where, field);
	if (json_string_length(v) != B64_KEY_CHARS ||
	    b64_decode_key(pub, json_string_value(v), B64_URLSAFE) == -1)
		return body_fail(err, errlen, BODY_ERR_KEY,
		    "%s%s is not a 32-byte key in URL-safe base64 with padding",
		    where, field);
	return BODY_OK;
}

static int
body_host(json_t *obj, char host[BODY_HOSTPORT_MAX_CHARS + 1], char *err,
    size_t errlen)
{
	json_t *v = json_object_get(obj, "host");

	if (v == NULL)
		return body_fail(err, errlen, BODY_ERR_FIELD, "host is missing");
	if (!json_is_string(v))
		return body_fail(err, errlen, BODY_ERR_FIELD,
		    "host is not a string");
	/* The length check also rules out an embedded NUL. */
	if (json_string_length(v) > BODY_HOSTPORT_MAX_CHARS ||
	    json_string_length(v) != strlen(json_string_value(v)) ||
	    body_host_valid(json_string_value(v)) == -1)
		return body_fail(err, errlen, BODY_ERR_HOST,
		    "host is not \"ip:port\" or \"name:port\"");
	memcpy(host, json_string_value(v), json_string_length(v) + 1);
	return BODY_OK;
}

/* A packet count: an integer from 0 to BODY_MAX_COUNT. */
static int
body_count(json_t *v, const char *field, int64_t *out, char *err,
    size_t errlen)
{
	if (v == NULL)
		return body_fail(err, errlen, BODY_ERR_FIELD, "%s is missing",
		    field);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return body_fail(err, errlen, BODY_ERR_FIELD,
		    "%s is not a count (an integer, 0 or more)", field);
	*out = (int64_t)json_integer_value(v);
	return BODY_OK;
}

/*
 * "descriptor" (the signed text, a string) and "signature" (URL-safe
 * base64 of 64 bytes): verified, and saying what the presence says.
 */
static int
body_descriptor(json_t *root, enum descriptor_role role, const char *host,
    const uint8_t pub[32], uint32_t layer, struct body_signed *out,
    char *err, size_t errlen)
{
	json_t *text = json_object_get(root, "descriptor");
	json_t *sig = json_object_get(root, "signature");
	char why[DESCRIPTOR_ERR_BYTES];

	if (!json_is_string(text) || !json_is_string(sig))
		return body_fail(err, errlen, BODY_ERR_SIGNATURE, "a presence "
		    "carries its descriptor and signature, signed with the "
		    "node's identity key");
	if (json_string_length(text) > DESCRIPTOR_MAX_BYTES ||
	    json_string_length(text) != strlen(json_string_value(text)))
		return body_fail(err, errlen, BODY_ERR_SIGNATURE,
		    "descriptor larger than %d bytes", DESCRIPTOR_MAX_BYTES);
	if (b64_decode(out->sig, sizeof(out->sig), json_string_value(sig),
	    json_string_length(sig), B64_URLSAFE) != DESCRIPTOR_SIG_BYTES)
		return body_fail(err, errlen, BODY_ERR_SIGNATURE,
		    "signature is not 64 bytes of URL-safe base64");
	out->text_len = json_string_length(text);
	memcpy(out->text, json_string_value(text), out->text_len + 1);
	if (descriptor_verify(out->text, out->text_len, out->sig, &out->desc,
	    why, sizeof(why)) == -1)
		return body_fail(err, errlen, BODY_ERR_SIGNATURE, "descriptor: %s",
		    why);
	if (out->desc.role != role || strcmp(out->desc.host, host) != 0 ||
	    memcmp(out->desc.pub, pub, 32) != 0 || out->desc.layer != layer)
		return body_fail(err, errlen, BODY_ERR_SIGNATURE, "the "
		    "descriptor's role, host, pubKey and layer are not the "
		    "presence's");
	return BODY_OK;
}

int
body_parse_mixnode(const char *buf, size_t len, struct body_mixnode *out,
    char *err, size_t errlen)
{
	json_t *root, *layer;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((root = body_load(buf, len, err, errlen, &rc)) == NULL)
		return rc;
	if ((rc = body_host(root, out->host, err, errlen)) != BODY_OK ||
	    (rc = body_key(root, "pubKey", "", out->pub, err, errlen)) != BODY_OK)
		goto done;
	layer = json_object_get(root, "layer");
	if (layer == NULL) {
		rc = body_fail(err, errlen, BODY_ERR_FIELD, "layer is missing");
	} else if (!json_is_integer(layer)) {
		rc = body_fail(err, errlen, BODY_ERR_FIELD,
		    "layer is not an integer");
	} else if (json_integer_value(layer) < 1 ||
	    json_integer_value(layer) > TOPOLOGY_MIX_LAYERS) {
		rc = body_fail(err, errlen, BODY_ERR_LAYER,
		    "layer is not 1, 2 or 3");
	} else {
		out->layer = (uint32_t)json_integer_value(layer);
		rc = body_descriptor(root, DESCRIPTOR_MIXNODE, out->host,
		    out->pub, out->layer, &out->signed_desc, err, errlen);
	}
done:
	json_decref(root);
	if (rc != BODY_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int
body_clients(json_t *arr, struct body_provider *out, char *err, size_t errlen)
{
	size_t count;

	/* Go encodes a provider without clients as null. */
	if (arr == NULL || json_is_null(arr))
		return BODY_OK;
	if (!json_is_array(arr))
		return body_fail(err, errlen, BODY_ERR_FIELD,
		    "registeredClients is not a list");
	count = json_array_size(arr);
	if (count > BODY_MAX_CLIENTS)
		return body_fail(err, errlen, BODY_ERR_TOO_MANY,
		    "registeredClients has more than %d entries",
		    BODY_MAX_CLIENTS);
	if (count == 0)
		return BODY_OK;
	if ((out->clients = calloc(count, sizeof(*out->clients))) == NULL)
		return body_fail(err, errlen, BODY_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *c = json_array_get(arr, i);
		char why[REGSTMT_ERR_BYTES];
		int rc, missing;

		if (!json_is_object(c))
			return body_fail(err, errlen, BODY_ERR_FIELD,
			    "registeredClients[%zu] is not an object", i);
		rc = body_key(c, "pubKey", "registeredClients[].",
		    out->clients[i].client, err, errlen);
		if (rc != BODY_OK)
			return rc;
		/* A provider lists only clients that said they registered
		 * with it (docs/directory.md, "Registration statements"). */
		if (regstmt_from_json(c, out->pub, &out->clients[i], &missing,
		    why, sizeof(why)) == -1)
			return body_fail(err, errlen, BODY_ERR_STATEMENT,
			    "registeredClients[%zu]: %s", i, why);
		/* Quadratic, but bounded by BODY_MAX_CLIENTS. */
		for (size_t j = 0; j < i; j++)
			if (memcmp(out->clients[j].client, out->clients[i].client,
			    32) == 0)
				return body_fail(err, errlen, BODY_ERR_DUPLICATE,
				    "registeredClients[%zu] repeats a client", i);
		out->n_clients++;
	}
	return BODY_OK;
}

int
body_parse_provider(const char *buf, size_t len, struct body_provider *out,
    char *err, size_t errlen)
{
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((root = body_load(buf, len, err, errlen, &rc)) == NULL)
		return rc;
	/* The descriptor first: one signature, before up to
	 * BODY_MAX_CLIENTS statements. */
	if ((rc = body_host(root, out->host, err, errlen)) == BODY_OK &&
	    (rc = body_key(root, "pubKey", "", out->pub, err, errlen)) == BODY_OK &&
	    (rc = body_descriptor(root, DESCRIPTOR_PROVIDER, out->host,
	    out->pub, 0, &out->signed_desc, err, errlen)) == BODY_OK)
		rc = body_clients(json_object_get(root, "registeredClients"), out,
		    err, errlen);
	json_decref(root);
	if (rc != BODY_OK)
		body_provider_clear(out);
	return rc;
}

static int
body_sent(json_t *obj, struct body_metric *out, char *err, size_t errlen)
{
	const char *peer;
	json_t *v;
	size_t count;

	/* A Go map with no entries encodes as null. */
	if (obj == NULL)
		return body_fail(err, errlen, BODY_ERR_FIELD, "sent is missing");
	if (json_is_null(obj))
		return BODY_OK;
	if (!json_is_object(obj))
		return body_fail(err, errlen, BODY_ERR_FIELD,
		    "sent is not an object");
	count = json_object_size(obj);
	if (count > BODY_MAX_SENT_PEERS)
		return body_fail(err, errlen, BODY_ERR_TOO_MANY,
		    "sent has more than %d entries", BODY_MAX_SENT_PEERS);
	if (count == 0)
		return BODY_OK;
	if ((out->sent = calloc(count, sizeof(*out->sent))) == NULL)
		return body_fail(err, errlen, BODY_ERR_NOMEM, "out of memory");
	json_object_foreach(obj, peer, v) {
		struct body_sent *s = &out->sent[out->n_sent];
		int rc;

		if (out->n_sent >= count)
			break;
		/* Object keys are NUL-free: jansson rejects "\u0000" in them. */
		if (strlen(peer) != B64_KEY_CHARS ||
		    b64_decode_key(s->pub, peer, B64_URLSAFE) == -1)
			return body_fail(err, errlen, BODY_ERR_KEY,
			    "a key of sent is not a 32-byte key in URL-safe "
			    "base64 with padding");
		if ((rc = body_count(v, "a value of sent", &s->count, err,
		    errlen)) != BODY_OK)
			return rc;
		out->n_sent++;
	}
	return BODY_OK;
}

int
body_parse_metric(const char *buf, size_t len, struct body_metric *out,
    char *err, size_t errlen)
{
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((root = body_load(buf, len, err, errlen, &rc)) == NULL)
		return rc;
	if ((rc = body_key(root, "pubKey", "", out->pub, err, errlen)) == BODY_OK &&
	    (rc = body_count(json_object_get(root, "received"), "received",
	    &out->received, err, errlen)) == BODY_OK)
		rc = body_sent(json_object_get(root, "sent"), out, err, errlen);
	json_decref(root);
	if (rc != BODY_OK)
		body_metric_clear(out);
	return rc;
}

void
body_provider_clear(struct body_provider *p)
{
	free(p->clients);
	memset(p, 0, sizeof(*p));
}

void
body_metric_clear(struct body_metric *m)
{
	free(m->sent);
	memset(m, 0, sizeof(*m));
}
