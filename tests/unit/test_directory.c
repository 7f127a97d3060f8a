/*
 * Unit tests of nym-directory's core: the three POST body parsers (what
 * they accept, and each kind of bad input they refuse), the registry
 * (renewal keyed by pubKey, staleness, limits, order) and its documents,
 * which nymd's topology_parse() must read back whole.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/descriptor.h"
#include "common/regstmt.h"
#include "common/topology.h"
#include "directory/body.h"
#include "directory/registry.h"

#define SECOND_NS	INT64_C(1000000000)
#define STALE_NS	(30 * SECOND_NS)

/* The URL-safe base64 of 32 bytes of value v. */
static const char *
key_of(uint8_t v, char buf[B64_KEY_CHARS + 1])
{
	uint8_t k[32];

	memset(k, v, sizeof(k));
	/* Make the alphabets differ: 0xfb encodes to '-' and '_'. */
	k[0] = 0xfb;
	k[1] = 0xff;
	b64_encode(buf, k, sizeof(k), B64_URLSAFE);
	return buf;
}

/*
 * A client's key (URL-safe base64): the X25519 public key of the secret
 * of 32 bytes of value v, so that signed_body() can sign its statements.
 */
static const char *
client_of(uint8_t v, char buf[B64_KEY_CHARS + 1])
{
	uint8_t sk[32], pk[32];

	memset(sk, v, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	b64_encode(buf, pk, sizeof(pk), B64_URLSAFE);
	return buf;
}

/*
 * Adds a registration statement for the provider prov (registered at
 * ms) to each entry of clients whose key is a client_of() key.
 */
static void
sign_clients(json_t *clients, const uint8_t prov[32], uint64_t ms)
{
	char key[B64_KEY_CHARS + 1], sig[B64_ENCODED_LEN(64) + 1];
	struct regstmt st;
	json_t *e;
	size_t i;

	json_array_foreach(clients, i, e) {
		const char *pub = json_string_value(json_object_get(e, "pubKey"));
		int v;

		for (v = 0; pub != NULL && v < 256; v++)
			if (strcmp(client_of((uint8_t)v, key), pub) == 0)
				break;
		if (pub == NULL || v == 256)
			continue;
		memset(&st, 0, sizeof(st));
		uint8_t sk[32];
		memset(sk, v, sizeof(sk));
		assert_int_equal(b64_decode_key(st.client, pub, B64_URLSAFE), 0);
		memcpy(st.provider, prov, 32);
		st.registered_ms = ms;
		assert_int_equal(regstmt_sign(&st, sk), 0);
		b64_encode(sig, st.sig, sizeof(st.sig), B64_URLSAFE);
		json_object_set_new(e, "registered", json_integer((json_int_t)ms));
		json_object_set_new(e, "signature", json_string(sig));
	}
}

/* What signed_body() signs with, besides the body's own fields. */
static uint64_t g_published_ms;
static struct topology_epoch_key g_keys[TOPOLOGY_EPOCH_KEYS + 1];
static size_t g_nkeys;

/*
 * The body as a node posts it: with a descriptor of its host, pubKey and
 * layer, signed by an identity derived from its pubKey, published at
 * g_published_ms with the epoch keys g_keys.  A body without those fields
 * (bad input for the parser) is returned as it is.
 */
static const char *
signed_body(const char *in, int provider)
{
	static char *out;
	uint8_t seed[32], sk[64], sig[64];
	char sigb64[B64_ENCODED_LEN(64) + 1], *text, *dump;
	struct descriptor d;
	json_t *o = json_loads(in, JSON_REJECT_DUPLICATES, NULL);
	const char *host, *pub;
	json_t *layer;

	if (o == NULL)
		return in;
	host = json_string_value(json_object_get(o, "host"));
	pub = json_string_value(json_object_get(o, "pubKey"));
	layer = json_object_get(o, "layer");
	memset(&d, 0, sizeof(d));
	if (host == NULL || pub == NULL || strlen(host) >= sizeof(d.host) ||
	    b64_decode_key(d.pub, pub, B64_URLSAFE) == -1 ||
	    (!provider && (!json_is_integer(layer) ||
	    json_integer_value(layer) < 0 || json_integer_value(layer) > 3))) {
		json_decref(o);
		return in;
	}
	d.role = provider ? DESCRIPTOR_PROVIDER : DESCRIPTOR_MIXNODE;
	snprintf(d.host, sizeof(d.host), "%s", host);
	d.layer = provider ? 0 : (uint32_t)json_integer_value(layer);
	d.published_ms = g_published_ms;
	d.n_keys = g_nkeys;
	memcpy(d.keys, g_keys, sizeof(d.keys[0]) * (g_nkeys > TOPOLOGY_EPOCH_KEYS ?
	    TOPOLOGY_EPOCH_KEYS : g_nkeys));
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)pub,
	    strlen(pub), NULL, 0);
	crypto_sign_seed_keypair(d.identity, sk, seed);
	if (descriptor_sign(&d, sk, &text, sig) == -1) {
		json_decref(o);
		return in;
	}
	b64_encode(sigb64, sig, sizeof(sig), B64_URLSAFE);
	json_object_set_new(o, "descriptor", json_string(text));
	json_object_set_new(o, "signature", json_string(sigb64));
	free(text);
	if (provider && json_is_array(json_object_get(o, "registeredClients")))
		sign_clients(json_object_get(o, "registeredClients"), d.pub,
		    g_published_ms);
	dump = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(dump);
	free(out);
	out = dump;
	return out;
}

static int
parse_mixnode_str(const char *s, struct body_mixnode *m, char *err)
{
	s = signed_body(s, 0);
	return body_parse_mixnode(s, strlen(s), m, err, BODY_ERR_BYTES);
}

static int
parse_provider_str(const char *s, struct body_provider *p, char *err)
{
	s = signed_body(s, 1);
	return body_parse_provider(s, strlen(s), p, err, BODY_ERR_BYTES);
}

static int
parse_metric_str(const char *s, struct body_metric *m, char *err)
{
	return body_parse_metric(s, strlen(s), m, err, BODY_ERR_BYTES);
}

static void
test_mixnode_valid(void **state)
{
	char k[B64_KEY_CHARS + 1], body[256], err[BODY_ERR_BYTES];
	struct body_mixnode m;
	uint8_t want[32];

	key_of(1, k);
	snprintf(body, sizeof(body),
	    "{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"%s\",\"layer\":2,"
	    "\"lastSeen\":5,\"extra\":[1]}", k);
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_string_equal(m.host, "127.0.0.1:9101");
	assert_int_equal(m.layer, 2);
	assert_int_equal(b64_decode_key(want, k, B64_URLSAFE), 0);
	assert_memory_equal(m.pub, want, 32);
}

/* tmpl with its "%s", if any, replaced by key (no printf: -Wformat=2). */
static void
subst(char *out, size_t cap, const char *tmpl, const char *key)
{
	const char *at = strstr(tmpl, "%s");

	if (at == NULL) {
		assert_true(strlen(tmpl) < cap);
		strcpy(out, tmpl);
		return;
	}
	assert_true(strlen(tmpl) + strlen(key) < cap);
	memcpy(out, tmpl, (size_t)(at - tmpl));
	strcpy(out + (at - tmpl), key);
	strcat(out, at + 2);
}

struct bad_case {
	const char	*body;	/* %s: a valid key */
	int		 code;
};

static void
test_mixnode_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "", BODY_ERR_JSON },
		{ "{", BODY_ERR_JSON },
		{ "[]", BODY_ERR_JSON },
		{ "\"str\"", BODY_ERR_JSON },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":1} x", BODY_ERR_JSON },
		{ "{\"host\":\"127.0.0.1:1\",\"host\":\"127.0.0.1:2\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_JSON },
		{ "{\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_FIELD },
		{ "{\"host\":7,\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"layer\":1}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":[],\"layer\":1}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\"}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":\"1\"}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":1.0}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":null}", BODY_ERR_FIELD },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":0}", BODY_ERR_LAYER },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":4}", BODY_ERR_LAYER },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":1000000}", BODY_ERR_LAYER },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"%s\",\"layer\":-1}", BODY_ERR_LAYER },
		{ "{\"host\":\"127.0.0.1\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"127.0.0.1:0\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"127.0.0.1:65536\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"127.0.0.1:080\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"::1:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"[1.2.3.4]:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"1.2.3.256:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"a b:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"<script>:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"-bad.example:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_HOST },
		{ "{\"host\":\"a\\u0000b:80\",\"pubKey\":\"%s\",\"layer\":1}", BODY_ERR_JSON },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"AAAA\",\"layer\":1}", BODY_ERR_KEY },
		/* 31 bytes, and standard alphabet */
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\",\"layer\":1}", BODY_ERR_KEY },
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"+/8BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\",\"layer\":1}", BODY_ERR_KEY },
		/* no padding */
		{ "{\"host\":\"127.0.0.1:1\",\"pubKey\":\"-_8BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\",\"layer\":1}", BODY_ERR_KEY },
	};
	char k[B64_KEY_CHARS + 1], body[512], err[BODY_ERR_BYTES];
	struct body_mixnode m;

	key_of(1, k);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		subst(body, sizeof(body), cases[i].body, k);
		err[0] = '\0';
		int rc = parse_mixnode_str(body, &m, err);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s): got %d, want %d (%s)", i, body, rc,
			    cases[i].code, err);
		assert_true(strlen(err) > 0);
		assert_null(strchr(err, '"'));
	}
}

static void
test_host_forms(void **state)
{
	assert_int_equal(body_host_valid("127.0.0.1:1789"), 0);
	assert_int_equal(body_host_valid("[::1]:1789"), 0);
	assert_int_equal(body_host_valid("[2001:db8::1]:65535"), 0);
	assert_int_equal(body_host_valid("localhost:1789"), 0);
	assert_int_equal(body_host_valid("mix-1.example.org:1"), 0);
	assert_int_equal(body_host_valid("localhost:"), -1);
	assert_int_equal(body_host_valid(":1789"), -1);
	assert_int_equal(body_host_valid("[::1]"), -1);
	assert_int_equal(body_host_valid("[]:1"), -1);
	assert_int_equal(body_host_valid("host.:1"), -1);
	assert_int_equal(body_host_valid("a..b:1"), -1);
	assert_int_equal(body_host_valid("a-.b:1"), -1);
	assert_int_equal(body_host_valid("1.2.3:1"), -1);
	assert_int_equal(body_host_valid("user@host:1"), -1);
	assert_int_equal(body_host_valid("h/x:1"), -1);
	assert_int_equal(body_host_valid("127.0.0.1:+1"), -1);
}

static void
test_oversized(void **state)
{
	char err[BODY_ERR_BYTES];
	struct body_mixnode m;
	char *big = malloc(BODY_MAX_BYTES + 1);

	assert_non_null(big);
	memset(big, ' ', BODY_MAX_BYTES + 1);
	assert_int_equal(body_parse_mixnode(big, BODY_MAX_BYTES + 1, &m, err,
	    sizeof(err)), BODY_ERR_TOO_LARGE);
	free(big);
}

static void
test_provider(void **state)
{
	char k1[B64_KEY_CHARS + 1], k2[B64_KEY_CHARS + 1], k3[B64_KEY_CHARS + 1];
	char body[512], err[BODY_ERR_BYTES];
	struct body_provider p;

	key_of(1, k1);
	client_of(2, k2);
	client_of(3, k3);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"},{\"pubKey\":\"%s\"}]}",
	    k1, k2, k3);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);
	assert_int_equal(p.n_clients, 2);
	body_provider_clear(&p);

	/* A client without a statement, or whose statement names another
	 * provider, cannot be listed. */
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"},{\"pubKey\":\"%s\"}]}",
	    k1, k2, key_of(4, k3));
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_STATEMENT);
	assert_non_null(strstr(err, "registeredClients[1]"));
	assert_null(p.clients);
	client_of(3, k3);
	{
		const char *signed_text = signed_body(body, 1);
		json_t *o = json_loads(signed_text, 0, NULL);
		json_t *e = json_array_get(json_object_get(o,
		    "registeredClients"), 0);
		char other[B64_KEY_CHARS + 1], *dump;

		assert_non_null(e);
		/* The statement of k2 for provider k1, shown by provider 5. */
		json_object_set_new(e, "x", json_true());
		json_object_set_new(o, "pubKey", json_string(key_of(5, other)));
		json_object_del(o, "descriptor");
		json_object_del(o, "signature");
		json_array_remove(json_object_get(o, "registeredClients"), 1);
		dump = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		/* Re-sign the descriptor for provider 5, keep the statement. */
		o = json_loads(dump, 0, NULL);
		free(dump);
		json_t *clients = json_deep_copy(json_object_get(o,
		    "registeredClients"));
		json_object_set_new(o, "registeredClients", json_array());
		dump = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		o = json_loads(signed_body(dump, 1), 0, NULL);
		free(dump);
		json_object_set_new(o, "registeredClients", clients);
		dump = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		assert_int_equal(body_parse_provider(dump, strlen(dump), &p, err,
		    sizeof(err)), BODY_ERR_STATEMENT);
		free(dump);
	}

	/* Go writes a provider without clients as null or leaves it out. */
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":null}", k1);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);
	assert_int_equal(p.n_clients, 0);
	assert_null(p.clients);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[]}", k1);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);

	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":{}}", k1);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[\"%s\"]}", k1, k2);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"},{\"pubKey\":\"x\"}]}",
	    k1, client_of(2, k2));
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_KEY);
	assert_null(p.clients);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"},{\"pubKey\":\"%s\"}]}",
	    k1, k2, k2);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_DUPLICATE);
}

static void
test_provider_too_many_clients(void **state)
{
	char k[B64_KEY_CHARS + 1], err[BODY_ERR_BYTES];
	struct body_provider p;
	size_t cap = 128 + (BODY_MAX_CLIENTS + 1) * 60;
	char *body = malloc(cap);
	size_t off;

	assert_non_null(body);
	off = (size_t)snprintf(body, cap, "{\"host\":\"127.0.0.1:9200\","
	    "\"pubKey\":\"%s\",\"registeredClients\":[", key_of(1, k));
	for (int i = 0; i <= BODY_MAX_CLIENTS; i++)
		off += (size_t)snprintf(body + off, cap - off, "%s{\"pubKey\":\"%s\"}",
		    i ? "," : "", key_of(2, k));
	off += (size_t)snprintf(body + off, cap - off, "]}");
	assert_true(off < BODY_MAX_BYTES);
	assert_int_equal(parse_provider_str(body, &p, err), BODY_ERR_TOO_MANY);
	free(body);
}

static void
test_metric(void **state)
{
	char k1[B64_KEY_CHARS + 1], k2[B64_KEY_CHARS + 1], k3[B64_KEY_CHARS + 1];
	char body[512], err[BODY_ERR_BYTES];
	struct body_metric m;

	key_of(1, k1);
	key_of(2, k2);
	key_of(3, k3);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":12,"
	    "\"sent\":{\"%s\":5,\"%s\":0}}", k1, k2, k3);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_OK);
	assert_int_equal(m.received, 12);
	assert_int_equal(m.n_sent, 2);
	assert_int_equal(m.sent[0].count, 5);
	body_metric_clear(&m);

	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":0,"
	    "\"sent\":null}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_OK);
	assert_int_equal(m.n_sent, 0);

	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"sent\":{}}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":1}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":-1,"
	    "\"sent\":{}}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":1.5,"
	    "\"sent\":{}}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":1,"
	    "\"sent\":[]}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":1,"
	    "\"sent\":{\"%s\":\"5\"}}", k1, k2);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_FIELD);
	assert_null(m.sent);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":1,"
	    "\"sent\":{\"nope\":5}}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_KEY);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":"
	    "99999999999999999999,\"sent\":{}}", k1);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_ERR_JSON);
}

/* Three mixnodes and a provider with two clients, as the seed shows. */
static void
fill(struct registry *r, const struct registry_now *now)
{
	char k[B64_KEY_CHARS + 1], body[512], err[BODY_ERR_BYTES];
	struct body_mixnode m;
	struct body_provider p;

	g_nkeys = 0;
	g_published_ms = (uint64_t)now->real_ns / 1000000;
	for (int l = 1; l <= 3; l++) {
		snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:%d\","
		    "\"pubKey\":\"%s\",\"layer\":%d}", 9100 + l,
		    key_of((uint8_t)l, k), l);
		assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
		assert_int_equal(registry_put_mixnode(r, &m, now), REGISTRY_ADDED);
	}
	char k1[B64_KEY_CHARS + 1], k2[B64_KEY_CHARS + 1];
	g_published_ms = (uint64_t)now->real_ns / 1000000;
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"},{\"pubKey\":\"%s\"}]}",
	    key_of(10, k), client_of(11, k1), client_of(12, k2));
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);
	assert_int_equal(registry_put_provider(r, &p, now), REGISTRY_ADDED);
	assert_null(p.clients);
}

/*
 * sphinxKeys (docs/epochs.md): what a presence may carry, what the
 * registry refuses as far from its clock, and how the topology shows it
 * and nymd reads it back to choose a hop's key by time.
 */
static void
test_epoch_keys(void **state)
{
	/* 10 s epochs; now is in epoch 1000. */
	struct registry_now now = { 10005 * SECOND_NS, 5 * SECOND_NS };
	struct registry *r = registry_new(STALE_NS, 10);
	char k[B64_KEY_CHARS + 1], body[1024], err[BODY_ERR_BYTES];
	uint8_t want[2][32], key[32], phase;
	struct body_mixnode m;
	struct body_provider p;
	struct topology *t;
	size_t len;
	char *doc;

	(void)state;
	assert_non_null(r);
	memset(want[0], 41, 32);
	memset(want[1], 42, 32);
	want[0][0] = want[1][0] = 9;
	g_published_ms = 10005000;
	g_nkeys = 2;
	g_keys[0].epoch = 1000;
	memcpy(g_keys[0].key, want[0], 32);
	g_keys[1].epoch = 1001;
	memcpy(g_keys[1].key, want[1], 32);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9101\",\"pubKey\":"
	    "\"%s\",\"layer\":1}", key_of(1, k));
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(m.signed_desc.desc.n_keys, 2);
	assert_int_equal(m.signed_desc.desc.keys[1].epoch, 1001);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ADDED);

	/* A repeated epoch, a small-order key, four keys: refused whole. */
	g_keys[1].epoch = 1000;
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_ERR_SIGNATURE);
	g_keys[1].epoch = 1001;
	memset(g_keys[1].key, 0, 32);
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_ERR_SIGNATURE);
	memcpy(g_keys[1].key, want[1], 32);
	g_nkeys = 4;
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_ERR_SIGNATURE);

	/* Keys for epochs the directory's clock rules out. */
	g_nkeys = 1;
	g_keys[0].epoch = 998;
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ERR_EPOCH);
	g_keys[0].epoch = 1003;
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ERR_EPOCH);
	g_keys[0].epoch = 5;
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\"}", key_of(10, k));
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);
	assert_int_equal(registry_put_provider(r, &p, &now), REGISTRY_ERR_EPOCH);
	body_provider_clear(&p);
	g_nkeys = 0;

	/* The topology: the seed's fields, then the signed descriptor, which
	 * nymd checks and takes the keys from to choose a hop's key by time. */
	doc = registry_topology_json(r, now.mono_ns, &len);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"lastSeen\":10005000000000,\"descriptor\":"));
	assert_int_equal(topology_parse(doc, len, &t, err, sizeof(err)), 0);
	assert_int_equal(t->epoch_seconds, 10);
	assert_int_equal(t->n_mixnodes, 1);
	assert_true(t->mixnodes[0].verified);
	assert_true(topology_node_usable(t, &t->mixnodes[0]));
	/* In epoch 1000, its key; in 1001, the next; past them, the nearest. */
	assert_int_equal(topology_hop_key(t, &t->mixnodes[0], 10009999, key,
	    &phase), 0);
	assert_memory_equal(key, want[0], 32);
	assert_int_equal(phase, 0);
	assert_int_equal(topology_hop_key(t, &t->mixnodes[0], 10010000, key,
	    &phase), 0);
	assert_memory_equal(key, want[1], 32);
	assert_int_equal(phase, 1);
	assert_int_equal(topology_hop_key(t, &t->mixnodes[0], 99999999, key,
	    &phase), 0);
	assert_memory_equal(key, want[1], 32);
	topology_free(t);

	/* A directory that alters what a descriptor says (a key's epoch,
	 * which nothing outside the signed text repeats): not used. */
	char *at = strstr(doc, "\\\"epoch\\\":1001");
	assert_non_null(at);
	at[strlen("\\\"epoch\\\":100")] = '2';
	assert_int_equal(topology_parse(doc, len, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n_mixnodes, 1);
	assert_false(t->mixnodes[0].verified);
	assert_false(topology_node_usable(t, &t->mixnodes[0]));
	assert_int_equal(t->n_unverified, 1);
	topology_free(t);
	free(doc);
	registry_free(r);
}

/*
 * Who may say what: a known node keeps its identity, an identity names
 * one node, an older descriptor does not replace a newer one, and an
 * allow-list admits only its identities.
 */
static void
test_identity_binding(void **state)
{
	struct registry_now now = { 5000 * SECOND_NS, 0 };
	struct registry *r = registry_new(STALE_NS, 3600);
	char k[B64_KEY_CHARS + 1], k2[B64_KEY_CHARS + 1], body[512], err[BODY_ERR_BYTES];
	struct body_mixnode m;
	uint8_t allowed[1][32];

	(void)state;
	g_nkeys = 0;
	g_published_ms = 5000000;
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9101\",\"pubKey\":"
	    "\"%s\",\"layer\":1}", key_of(1, k));
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ADDED);
	memcpy(allowed[0], m.signed_desc.desc.identity, 32);

	/* The same node under another identity. */
	struct body_mixnode other = m;
	memset(other.signed_desc.desc.identity, 0x55, 32);
	assert_int_equal(registry_put_mixnode(r, &other, &now),
	    REGISTRY_ERR_IDENTITY);
	/* Another node under the node's identity. */
	other = m;
	other.pub[5] ^= 1;
	other.signed_desc.desc.pub[5] ^= 1;
	assert_int_equal(registry_put_mixnode(r, &other, &now),
	    REGISTRY_ERR_IDENTITY);
	/* Older than the last, or far from now. */
	other = m;
	other.signed_desc.desc.published_ms -= 1;
	assert_int_equal(registry_put_mixnode(r, &other, &now), REGISTRY_ERR_STALE);
	other.signed_desc.desc.published_ms = 5000000 + REGISTRY_MAX_SKEW_MS + 1;
	assert_int_equal(registry_put_mixnode(r, &other, &now), REGISTRY_ERR_STALE);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_RENEWED);

	/* With an allow-list, the listed identity only. */
	assert_int_equal(registry_allow(r, (const uint8_t (*)[32])allowed, 1), 0);
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_RENEWED);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9102\",\"pubKey\":"
	    "\"%s\",\"layer\":2}", key_of(2, k2));
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_mixnode(r, &m, &now),
	    REGISTRY_ERR_NOT_ALLOWED);
	assert_int_equal(registry_count(r, REGISTRY_MIXNODE), 1);

	/* Unsigned, or signed over something else: refused by the parser. */
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9102\",\"pubKey\":"
	    "\"%s\",\"layer\":2}", k2);
	assert_int_equal(body_parse_mixnode(body, strlen(body), &m, err,
	    sizeof(err)), BODY_ERR_SIGNATURE);
	const char *sb = signed_body(body, 0);
	char tampered[4096];
	snprintf(tampered, sizeof(tampered), "%s", sb);
	char *lay = strstr(tampered, "\"layer\":2,");
	assert_non_null(lay);
	lay[8] = '3';
	assert_int_equal(body_parse_mixnode(tampered, strlen(tampered), &m, err,
	    sizeof(err)), BODY_ERR_SIGNATURE);
	registry_free(r);
}

static void
test_topology_shape(void **state)
{
	struct registry_now now = { INT64_C(1572258570490299400), 5 * SECOND_NS };
	struct registry *r = registry_new(STALE_NS, 3600);
	char k[B64_KEY_CHARS + 1];
	json_error_t jerr;
	size_t len;
	char *doc;
	json_t *root, *v;
	const char *key;

	assert_non_null(r);
	fill(r, &now);
	doc = registry_topology_json(r, now.mono_ns, &len);
	assert_non_null(doc);
	assert_int_equal(strlen(doc), len);
	root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(root);
	assert_int_equal(json_object_size(root), 3);
	assert_int_equal(json_integer_value(json_object_get(root,
	    "epochSeconds")), 3600);
	assert_int_equal(json_array_size(json_object_get(root, "MixNodes")), 3);
	assert_int_equal(json_array_size(json_object_get(root, "MixProviderNodes")), 1);

	/* Exactly the seed's members, in the seed's order and types. */
	json_t *mix = json_array_get(json_object_get(root, "MixNodes"), 1);
	const char *want_mix[] = { "host", "pubKey", "layer", "lastSeen",
	    "descriptor", "signature" };
	size_t i = 0;
	json_object_foreach(mix, key, v)
		if (i < 6)
			assert_string_equal(key, want_mix[i++]);
	assert_int_equal(i, 6);
	assert_string_equal(json_string_value(json_object_get(mix, "host")),
	    "127.0.0.1:9102");
	assert_string_equal(json_string_value(json_object_get(mix, "pubKey")),
	    key_of(2, k));
	assert_int_equal(json_integer_value(json_object_get(mix, "layer")), 2);
	assert_true(json_integer_value(json_object_get(mix, "lastSeen")) ==
	    INT64_C(1572258570490299400));

	json_t *prov = json_array_get(json_object_get(root, "MixProviderNodes"), 0);
	const char *want_prov[] = { "host", "pubKey", "registeredClients",
	    "lastSeen", "descriptor", "signature" };
	i = 0;
	json_object_foreach(prov, key, v)
		if (i < 6)
			assert_string_equal(key, want_prov[i++]);
	assert_int_equal(i, 6);
	json_t *clients = json_object_get(prov, "registeredClients");
	assert_int_equal(json_array_size(clients), 2);
	assert_int_equal(json_object_size(json_array_get(clients, 0)), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(clients, 1), "pubKey")), client_of(12, k));
	json_decref(root);
	free(doc);
	registry_free(r);
}

/* nymd's own parser reads the directory's output whole. */
static void
test_topology_parse_accepts(void **state)
{
	struct registry_now now = { INT64_C(1572258570490299400), 0 };
	struct registry *r = registry_new(STALE_NS, 3600);
	const struct topology_node *layer[4];
	char k[B64_KEY_CHARS + 1], err[256];
	struct topology *t;
	size_t len;
	char *doc;

	assert_non_null(r);
	fill(r, &now);
	doc = registry_topology_json(r, now.mono_ns, &len);
	assert_non_null(doc);
	assert_int_equal(topology_parse(doc, len, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n_skipped, 0);
	assert_int_equal(t->n_mixnodes, 3);
	assert_int_equal(t->n_providers, 1);
	for (uint32_t l = 1; l <= 3; l++) {
		assert_int_equal(topology_layer(t, l, layer, 4), 1);
		assert_string_equal(layer[0]->host, "127.0.0.1");
		assert_int_equal(atoi(layer[0]->port), 9100 + (int)l);
		assert_string_equal(layer[0]->id, key_of((uint8_t)l, k));
		assert_true(layer[0]->last_seen_ns == INT64_C(1572258570490299400));
	}
	const struct topology_node *p = topology_find_provider(t, key_of(10, k));
	assert_non_null(p);
	assert_int_equal(p->n_clients, 2);
	assert_string_equal(p->port, "9200");
	assert_int_equal(p->layer, TOPOLOGY_PROVIDER_LAYER);
	topology_free(t);

	/*
	 * A client the verified provider lists without a statement, or with
	 * another client's: nymd leaves it out (docs/directory.md).
	 */
	{
		json_t *root = json_loads(doc, 0, NULL), *clients, *stolen;
		char *bad;

		assert_non_null(root);
		clients = json_object_get(json_array_get(json_object_get(root,
		    "MixProviderNodes"), 0), "registeredClients");
		json_array_append_new(clients, json_pack("{s:s}", "pubKey",
		    client_of(20, k)));
		stolen = json_deep_copy(json_array_get(clients, 0));
		json_object_set_new(stolen, "pubKey", json_string(client_of(21, k)));
		json_array_append_new(clients, stolen);
		bad = json_dumps(root, JSON_COMPACT);
		json_decref(root);
		assert_int_equal(topology_parse(bad, strlen(bad), &t, err,
		    sizeof(err)), 0);
		p = topology_find_provider(t, key_of(10, k));
		assert_non_null(p);
		assert_true(p->verified);
		assert_int_equal(p->n_clients, 2);
		assert_int_equal(t->n_skipped, 2);
		topology_free(t);
		free(bad);
	}
	free(doc);

	/* An empty directory is a valid, empty topology. */
	registry_sweep(r, now.mono_ns + STALE_NS, NULL, NULL);
	doc = registry_topology_json(r, now.mono_ns + STALE_NS, &len);
	assert_string_equal(doc, "{\"MixNodes\":[],\"MixProviderNodes\":[],\"epochSeconds\":3600}");
	assert_int_equal(topology_parse(doc, len, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n_mixnodes + t->n_providers, 0);
	topology_free(t);
	free(doc);
	registry_free(r);
}

static void
count_gone(enum registry_kind kind, const uint8_t pub[32], void *arg)
{
	size_t *n = arg;

	n[kind]++;
}

static void
test_renew_and_stale(void **state)
{
	struct registry_now t0 = { 1000, 0 }, t1 = { 2000, 20 * SECOND_NS };
	struct registry *r = registry_new(STALE_NS, 3600);
	char k[B64_KEY_CHARS + 1], body[256], err[BODY_ERR_BYTES];
	struct body_mixnode m;
	size_t gone[3] = { 0, 0, 0 }, len;
	char *doc;

	assert_non_null(r);
	fill(r, &t0);
	/* Mixnode 2 renews at t1, moving to layer 3 and another port. */
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9999\",\"pubKey\":"
	    "\"%s\",\"layer\":3}", key_of(2, k));
	assert_int_equal(parse_mixnode_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_mixnode(r, &m, &t1), REGISTRY_RENEWED);
	assert_int_equal(registry_count(r, REGISTRY_MIXNODE), 3);

	/* Just before the window ends everything is there. */
	assert_int_equal(registry_sweep(r, STALE_NS - 1, count_gone, gone), 0);
	/* At 30 s the others are stale; the renewed one stays, updated. */
	doc = registry_topology_json(r, STALE_NS, &len);
	assert_non_null(strstr(doc, "127.0.0.1:9999"));
	assert_null(strstr(doc, "127.0.0.1:9101"));
	assert_null(strstr(doc, "127.0.0.1:9200"));
	free(doc);
	assert_int_equal(registry_sweep(r, STALE_NS, count_gone, gone), 3);
	assert_int_equal(gone[REGISTRY_MIXNODE], 2);
	assert_int_equal(gone[REGISTRY_PROVIDER], 1);
	assert_int_equal(registry_count(r, REGISTRY_MIXNODE), 1);
	assert_int_equal(registry_count(r, REGISTRY_PROVIDER), 0);
	doc = registry_topology_json(r, STALE_NS, &len);
	assert_non_null(strstr(doc, "\"layer\":3,\"lastSeen\":2000,"));
	free(doc);
	assert_int_equal(registry_sweep(r, 20 * SECOND_NS + STALE_NS, NULL,
	    NULL), 1);
	registry_free(r);
}

static void
test_provider_renewal_replaces_clients(void **state)
{
	struct registry_now now = { 1, 0 };
	struct registry *r = registry_new(STALE_NS, 3600);
	char k[B64_KEY_CHARS + 1], k1[B64_KEY_CHARS + 1], body[256];
	char err[BODY_ERR_BYTES];
	struct body_provider p;
	size_t len;
	char *doc;

	assert_non_null(r);
	fill(r, &now);
	snprintf(body, sizeof(body), "{\"host\":\"127.0.0.1:9200\",\"pubKey\":"
	    "\"%s\",\"registeredClients\":[{\"pubKey\":\"%s\"}]}", key_of(10, k),
	    client_of(13, k1));
	assert_int_equal(parse_provider_str(body, &p, err), BODY_OK);
	assert_int_equal(registry_put_provider(r, &p, &now), REGISTRY_RENEWED);
	doc = registry_topology_json(r, 0, &len);
	assert_non_null(strstr(doc, k1));
	assert_null(strstr(doc, client_of(11, k)));
	free(doc);
	registry_free(r);
}

/*
 * A descriptor text of DESCRIPTOR_MAX_BYTES for d, padded with newlines
 * (each of which the topology escapes as two bytes: the worst case), and
 * signed with sk into s.
 */
static void
largest_signed(struct descriptor *d, const uint8_t sk[64], struct body_signed *s)
{
	const size_t clen = sizeof(DESCRIPTOR_SIG_CONTEXT) - 1;
	char *text, err[DESCRIPTOR_ERR_BYTES];
	uint8_t sig[64], *m;
	size_t len;

	assert_int_equal(descriptor_sign(d, sk, &text, sig), 0);
	len = strlen(text);
	assert_true(len < DESCRIPTOR_MAX_BYTES);
	memset(s->text, '\n', DESCRIPTOR_MAX_BYTES);
	memcpy(s->text, text, len - 1);		/* all but the final } */
	s->text[DESCRIPTOR_MAX_BYTES - 1] = '}';
	s->text[DESCRIPTOR_MAX_BYTES] = '\0';
	s->text_len = DESCRIPTOR_MAX_BYTES;
	free(text);
	m = malloc(clen + DESCRIPTOR_MAX_BYTES);
	assert_non_null(m);
	memcpy(m, DESCRIPTOR_SIG_CONTEXT, clen);
	memcpy(m + clen, s->text, DESCRIPTOR_MAX_BYTES);
	crypto_sign_detached(s->sig, NULL, m, clen + DESCRIPTOR_MAX_BYTES, sk);
	free(m);
	assert_int_equal(descriptor_verify(s->text, s->text_len, s->sig, &s->desc,
	    err, sizeof(err)), 0);
}

/*
 * The caps: a registry filled to every limit with the largest entries it
 * accepts (longest host, descriptors that are all escapes, every
 * provider with BODY_MAX_CLIENTS clients dated as late as allowed)
 * serves a topology that every reader accepts (TOPOLOGY_MAX_JSON_BYTES),
 * and each entry stays within the sizes registry.h budgets.
 */
static void
test_largest_topology(void **state)
{
	struct registry_now now = { INT64_C(1765000000000) * 1000000, 0 };
	struct registry *r = registry_new(STALE_NS, 3600);
	char host[BODY_HOSTPORT_MAX_CHARS + 1], err[256];
	uint8_t sk[64];
	struct descriptor d;
	struct topology *t;
	size_t len, n = 0;
	char *doc;

	assert_non_null(r);
	/* A DNS name of 253 characters, and the longest port. */
	memset(host, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		host[i] = '.';
	snprintf(host + 253, sizeof(host) - 253, ":65535");
	assert_int_equal(body_host_valid(host), 0);
	for (size_t i = 0; i < REGISTRY_MAX_MIXNODES + REGISTRY_MAX_PROVIDERS; i++) {
		int provider = i >= REGISTRY_MAX_MIXNODES;
		struct body_mixnode m;
		struct body_provider p;

		memset(&d, 0, sizeof(d));
		crypto_sign_keypair(d.identity, sk);
		randombytes_buf(d.pub, 32);
		d.role = provider ? DESCRIPTOR_PROVIDER : DESCRIPTOR_MIXNODE;
		d.layer = provider ? 0 : 1 + (uint32_t)(i % 3);
		snprintf(d.host, sizeof(d.host), "%s", host);
		d.published_ms = (uint64_t)now.real_ns / 1000000;
		if (!provider) {
			memset(&m, 0, sizeof(m));
			snprintf(m.host, sizeof(m.host), "%s", host);
			memcpy(m.pub, d.pub, 32);
			m.layer = d.layer;
			largest_signed(&d, sk, &m.signed_desc);
			assert_int_equal(registry_put_mixnode(r, &m, &now),
			    REGISTRY_ADDED);
			continue;
		}
		memset(&p, 0, sizeof(p));
		snprintf(p.host, sizeof(p.host), "%s", host);
		memcpy(p.pub, d.pub, 32);
		largest_signed(&d, sk, &p.signed_desc);
		p.clients = calloc(BODY_MAX_CLIENTS, sizeof(*p.clients));
		assert_non_null(p.clients);
		p.n_clients = BODY_MAX_CLIENTS;
		for (size_t c = 0; c < BODY_MAX_CLIENTS; c++) {
			/* The registry does not verify (the parser did). */
			randombytes_buf(p.clients[c].client, 32);
			memcpy(p.clients[c].provider, d.pub, 32);
			p.clients[c].registered_ms = (uint64_t)now.real_ns /
			    1000000 + REGSTMT_MAX_SKEW_MS;
			randombytes_buf(p.clients[c].sig, 64);
		}
		assert_int_equal(registry_put_provider(r, &p, &now),
		    REGISTRY_ADDED);
		body_provider_clear(&p);
	}
	doc = registry_topology_json(r, now.mono_ns, &len);
	assert_non_null(doc);
	print_message("largest topology: %zu bytes of %u\n", len,
	    TOPOLOGY_MAX_JSON_BYTES);
	assert_true(len <= REGISTRY_DOC_MAX_JSON_BYTES);
	assert_true(len <= TOPOLOGY_MAX_JSON_BYTES);
	/* Each entry within its budget. */
	json_t *root = json_loads(doc, 0, NULL), *e;
	size_t i;
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "MixNodes"), i, e) {
		char *one = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_true(strlen(one) <= REGISTRY_NODE_MAX_JSON_BYTES);
		free(one);
		n++;
	}
	json_array_foreach(json_object_get(root, "MixProviderNodes"), i, e) {
		json_t *c = json_object_get(e, "registeredClients"), *ce;
		size_t j;
		char *one;

		json_array_foreach(c, j, ce) {
			one = json_dumps(ce, JSON_COMPACT | JSON_PRESERVE_ORDER);
			assert_true(strlen(one) <= REGISTRY_CLIENT_MAX_JSON_BYTES);
			free(one);
		}
		json_incref(c);
		json_object_set_new(e, "registeredClients", json_array());
		one = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_true(strlen(one) <= REGISTRY_NODE_MAX_JSON_BYTES);
		free(one);
		json_decref(c);
		n++;
	}
	assert_int_equal(n, REGISTRY_MAX_MIXNODES + REGISTRY_MAX_PROVIDERS);
	json_decref(root);
	/* And nymd's parser takes it. */
	assert_int_equal(topology_parse(doc, len, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n_mixnodes, REGISTRY_MAX_MIXNODES);
	topology_free(t);
	free(doc);
	registry_free(r);
}

static void
test_limits(void **state)
{
	struct registry_now now = { 1, 0 };
	struct registry *r = registry_new(STALE_NS, 3600);
	struct body_mixnode m;
	struct body_metric mm;

	assert_non_null(r);
	memset(&m, 0, sizeof(m));
	strcpy(m.host, "127.0.0.1:1");
	m.layer = 1;
	/* Each node with an identity of its own (an identity is one node). */
	for (unsigned i = 0; i < REGISTRY_MAX_MIXNODES; i++) {
		m.pub[0] = m.signed_desc.desc.pub[0] =
		    m.signed_desc.desc.identity[0] = (uint8_t)i;
		m.pub[1] = m.signed_desc.desc.pub[1] =
		    m.signed_desc.desc.identity[1] = (uint8_t)(i >> 8);
		assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ADDED);
	}
	m.pub[2] = m.signed_desc.desc.pub[2] = m.signed_desc.desc.identity[2] = 1;
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_ERR_FULL);
	/* A known node can still renew when full. */
	m.pub[2] = m.signed_desc.desc.pub[2] = m.signed_desc.desc.identity[2] = 0;
	assert_int_equal(registry_put_mixnode(r, &m, &now), REGISTRY_RENEWED);
	assert_int_equal(registry_count(r, REGISTRY_MIXNODE), REGISTRY_MAX_MIXNODES);

	memset(&mm, 0, sizeof(mm));
	for (unsigned i = 0; i < REGISTRY_MAX_METRICS; i++) {
		mm.pub[0] = (uint8_t)i;
		mm.pub[1] = (uint8_t)(i >> 8);
		assert_int_equal(registry_put_metric(r, &mm, &now), REGISTRY_ADDED);
	}
	mm.pub[2] = 1;
	assert_int_equal(registry_put_metric(r, &mm, &now), REGISTRY_ERR_FULL);
	registry_free(r);
}

static void
test_metrics_document(void **state)
{
	struct registry_now t0 = { 111, 0 }, t1 = { 222, SECOND_NS };
	struct registry *r = registry_new(STALE_NS, 3600);
	char k1[B64_KEY_CHARS + 1], k2[B64_KEY_CHARS + 1], body[256];
	char err[BODY_ERR_BYTES];
	struct body_metric m;
	json_error_t jerr;
	json_t *root, *e;
	size_t len;
	char *doc;

	assert_non_null(r);
	doc = registry_metrics_json(r, 0, &len);
	assert_string_equal(doc, "[]");
	free(doc);

	key_of(1, k1);
	key_of(2, k2);
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":3,"
	    "\"sent\":{\"%s\":4}}", k1, k2);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_metric(r, &m, &t0), REGISTRY_ADDED);
	/* The next interval's report replaces it. */
	snprintf(body, sizeof(body), "{\"pubKey\":\"%s\",\"received\":7,"
	    "\"sent\":{\"%s\":8}}", k1, k2);
	assert_int_equal(parse_metric_str(body, &m, err), BODY_OK);
	assert_int_equal(registry_put_metric(r, &m, &t1), REGISTRY_RENEWED);

	doc = registry_metrics_json(r, SECOND_NS, &len);
	root = json_loadb(doc, len, 0, &jerr);
	assert_non_null(root);
	assert_int_equal(json_array_size(root), 1);
	e = json_array_get(root, 0);
	assert_string_equal(json_string_value(json_object_get(e, "pubKey")), k1);
	assert_int_equal(json_integer_value(json_object_get(e, "received")), 7);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e,
	    "sent"), k2)), 8);
	assert_int_equal(json_integer_value(json_object_get(e, "timestamp")), 222);
	json_decref(root);
	free(doc);

	/* Reports expire with the same window as presences. */
	doc = registry_metrics_json(r, SECOND_NS + STALE_NS, &len);
	assert_string_equal(doc, "[]");
	free(doc);
	registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixnode_valid),
		cmocka_unit_test(test_mixnode_invalid),
		cmocka_unit_test(test_host_forms),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_provider),
		cmocka_unit_test(test_provider_too_many_clients),
		cmocka_unit_test(test_metric),
		cmocka_unit_test(test_topology_shape),
		cmocka_unit_test(test_epoch_keys),
		cmocka_unit_test(test_identity_binding),
		cmocka_unit_test(test_topology_parse_accepts),
		cmocka_unit_test(test_renew_and_stale),
		cmocka_unit_test(test_provider_renewal_replaces_clients),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_largest_topology),
		cmocka_unit_test(test_metrics_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
