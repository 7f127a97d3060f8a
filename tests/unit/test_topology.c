/*
 * Unit tests of the topology document parser: the seed's example, null
 * lists, skipped entries, rejected shapes, lookups, and host:port splits.
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

#include "common/topology.h"

/* The seed's example (docs), with its "..." elisions removed. */
static const char seed_doc[] =
    "{\n"
    "\"MixNodes\": [\n"
    "  {\"host\": \"52.56.99.196:1789\", \"pubKey\": \"_ObRUsYnHDJOPDHXyfq5bnIoSbdn3BsSRcrLl-FCY1c=\",\n"
    "   \"layer\": 2, \"lastSeen\": 1572258570490299400},\n"
    "  {\"host\": \"18.130.86.190:1789\", \"pubKey\": \"dMtoH6vWDBfwjrU0EzPd-fhZDOGJazELsTp2qLyt72U=\",\n"
    "   \"layer\": 1, \"lastSeen\": 1572258571193777000},\n"
    "  {\"host\": \"3.10.22.152:1789\", \"pubKey\": \"03FFZ5RgfeBPmVVERenJOCLb-yXlOUtstc6izYc-wFs=\",\n"
    "   \"layer\": 1, \"lastSeen\": 1572258570994450200},\n"
    "  {\"host\": \"35.176.155.107:1789\", \"pubKey\": \"oaEqLzA5nUxMAqfg6yW5pneWC342uDMfVsSHxyNQ-DE=\",\n"
    "   \"layer\": 3, \"lastSeen\": 1572258571709773800},\n"
    "  {\"host\": \"3.9.12.238:1789\", \"pubKey\": \"ALf35HwBzXZXxaS6V55W7cLsx4a26AaRefinwwJHrg4=\",\n"
    "   \"layer\": 3, \"lastSeen\": 1572258571616835600},\n"
    "  {\"host\": \"35.178.213.77:1789\", \"pubKey\": \"KlfEn07FzcN93nMzzlsgq3wN5O1ID6O3Pd4DbezHEWo=\",\n"
    "   \"layer\": 2, \"lastSeen\": 1572258570492776400}\n"
    "],\n"
    "\"MixProviderNodes\": [\n"
    "  {\"host\": \"35.178.212.193:1789\", \"pubKey\": \"R_rGKmwelVAVRpicMwMIJwsHvdYHMNfcItPwNipu5GQ=\",\n"
    "   \"registeredClients\": [{\"pubKey\": \"u7UTjC3UNXdz0HsjMKoxozzbvXyi3KrEvl8BxNNPcAM=\"}],\n"
    "   \"lastSeen\": 1572258572070089000},\n"
    "  {\"host\": \"3.8.176.11:1789\", \"pubKey\": \"XiVE6xA10xFkAwfIQuBDc_JRXWerL0Pcqi7DipEUeTE=\",\n"
    "   \"registeredClients\": [{\"pubKey\": \"HGTg5XPWe4eiluFKTnC958PuGUSipjLcIeFdLi6zsww=\"}],\n"
    "   \"lastSeen\": 1572258571843881700}\n"
    "]\n"
    "}\n";

#define KEY_A	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define KEY_B	"__________________________________________8="
#define KEY_C	"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

static struct topology *
parse_ok(const char *json)
{
	struct topology *t = NULL;
	char err[256] = "";

	if (topology_parse(json, strlen(json), &t, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s", err);
	assert_non_null(t);
	return t;
}

static void
parse_fails(const char *json, const char *err_contains)
{
	struct topology *t = (struct topology *)1;
	char err[256] = "";

	assert_int_equal(topology_parse(json, strlen(json), &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_true(strlen(err) > 0);
	if (err_contains != NULL && strstr(err, err_contains) == NULL)
		fail_msg("error '%s' lacks '%s'", err, err_contains);
}

static void
test_seed_document(void **state)
{
	struct topology *t = parse_ok(seed_doc);
	const struct topology_node *layer[8];

	assert_int_equal(t->n_mixnodes, 6);
	assert_int_equal(t->n_providers, 2);
	assert_int_equal(t->n_skipped, 0);

	const struct topology_node *m = &t->mixnodes[0];
	assert_string_equal(m->host, "52.56.99.196");
	assert_string_equal(m->port, "1789");
	assert_string_equal(m->id, "_ObRUsYnHDJOPDHXyfq5bnIoSbdn3BsSRcrLl-FCY1c=");
	assert_int_equal(m->pub[0], 0xfc);
	assert_int_equal(m->layer, 2);
	assert_true(m->last_seen_ns == 1572258570490299400LL);
	assert_null(m->clients);

	for (uint32_t l = 1; l <= 3; l++) {
		assert_int_equal(topology_layer(t, l, layer, 8), 2);
		assert_int_equal(layer[0]->layer, l);
		assert_int_equal(layer[1]->layer, l);
	}
	assert_int_equal(topology_layer(t, 1, layer, 1), 1);
	assert_string_equal(layer[0]->host, "18.130.86.190");
	assert_int_equal(topology_layer(t, 4, layer, 8), 0);
	assert_int_equal(topology_layer(t, 0, layer, 8), 0);
	assert_int_equal(topology_layer(t, 1, layer, 0), 0);

	const struct topology_node *p = topology_find_provider(t,
	    "XiVE6xA10xFkAwfIQuBDc_JRXWerL0Pcqi7DipEUeTE=");
	assert_non_null(p);
	assert_ptr_equal(p, &t->providers[1]);
	assert_string_equal(p->host, "3.8.176.11");
	assert_string_equal(p->port, "1789");
	assert_int_equal(p->layer, TOPOLOGY_PROVIDER_LAYER);
	assert_true(p->last_seen_ns == 1572258571843881700LL);
	assert_int_equal(p->n_clients, 1);
	uint8_t client[32];
	assert_int_equal(b64_decode_key(client,
	    "HGTg5XPWe4eiluFKTnC958PuGUSipjLcIeFdLi6zsww=", B64_URLSAFE), 0);
	assert_memory_equal(p->clients[0], client, 32);

	/* Providers are not mixnodes, mixnodes are not providers. */
	assert_null(topology_find_provider(t, "_ObRUsYnHDJOPDHXyfq5bnIoSbdn3BsSRcrLl-FCY1c="));
	assert_null(topology_find_provider(t, ""));
	/* Lookups are by the canonical URL-safe id only. */
	assert_null(topology_find_provider(t, "XiVE6xA10xFkAwfIQuBDc/JRXWerL0Pcqi7DipEUeTE="));
	topology_free(t);
}

static void
test_null_and_missing_lists(void **state)
{
	static const char *docs[] = {
		"{\"MixNodes\": null, \"MixProviderNodes\": null}",
		"{}",
		"{\"MixNodes\": [], \"MixProviderNodes\": []}",
		"{\"other\": 1}",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct topology *t = parse_ok(docs[i]);
		assert_int_equal(t->n_mixnodes, 0);
		assert_int_equal(t->n_providers, 0);
		assert_int_equal(t->n_skipped, 0);
		assert_null(topology_find_provider(t, KEY_A));
		topology_free(t);
	}

	/* A provider whose registeredClients is null, missing or empty. */
	struct topology *t = parse_ok("{\"MixProviderNodes\": ["
	    "{\"host\": \"1.2.3.4:1\", \"pubKey\": \"" KEY_A "\", \"registeredClients\": null},"
	    "{\"host\": \"1.2.3.4:2\", \"pubKey\": \"" KEY_B "\"},"
	    "{\"host\": \"1.2.3.4:3\", \"pubKey\": \"" KEY_C "\", \"registeredClients\": []}]}");
	assert_int_equal(t->n_providers, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(t->providers[i].n_clients, 0);
		assert_int_equal(t->providers[i].last_seen_ns, 0);
	}
	topology_free(t);
	topology_free(NULL);
}

static void
test_bad_entries_skipped(void **state)
{
	struct topology *t = parse_ok("{\"MixNodes\": ["
	    /* good */
	    "{\"host\": \"10.0.0.1:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    /* the same key again, elsewhere: the first entry stands */
	    "{\"host\": \"10.0.0.10:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 2},"
	    /* standard alphabet key (the '/' ) */
	    "{\"host\": \"10.0.0.2:1789\", \"pubKey\": \"//////////////////////////////////////////8=\", \"layer\": 1},"
	    /* short key, missing key, key not a string */
	    "{\"host\": \"10.0.0.3:1789\", \"pubKey\": \"AAAA\", \"layer\": 1},"
	    "{\"host\": \"10.0.0.4:1789\", \"layer\": 1},"
	    "{\"host\": \"10.0.0.5:1789\", \"pubKey\": 7, \"layer\": 1},"
	    /* bad hosts */
	    "{\"host\": \"10.0.0.6\", \"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    "{\"host\": \"10.0.0.7:0\", \"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    "{\"host\": \"10.0.0.8:99999\", \"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    "{\"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    "{\"host\": 5, \"pubKey\": \"" KEY_A "\", \"layer\": 1},"
	    /* bad layers */
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 0},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 4},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": -1},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": \"2\"},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 2.0},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\"},"
	    "{\"host\": \"10.0.0.9:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 4294967297},"
	    /* not objects */
	    "null, 3, \"x\", [],"
	    /* good, with lastSeen of the wrong type ignored */
	    "{\"host\": \"[::1]:80\", \"pubKey\": \"" KEY_B "\", \"layer\": 3, \"lastSeen\": \"x\"}"
	    "], \"MixProviderNodes\": ["
	    "{\"host\": \"10.0.1.1:1789\", \"pubKey\": \"" KEY_A "\", \"layer\": 7},"
	    "{\"host\": \"bad host:1789\", \"pubKey\": \"" KEY_A "\"},"
	    /* clients with bad keys are dropped and counted as skipped */
	    "{\"host\": \"10.0.1.2:1789\", \"pubKey\": \"" KEY_B "\", \"registeredClients\": "
	    "[{\"pubKey\": \"" KEY_A "\"}, {\"pubKey\": \"nope\"}, 5, {}, "
	    "{\"pubKey\": \"" KEY_B "\"}]}"
	    "]}");

	assert_int_equal(t->n_mixnodes, 2);
	/* 16 bad mixnodes, a duplicate, 4 not objects, a bad provider, 3 bad clients */
	assert_int_equal(t->n_skipped, 16 + 1 + 4 + 1 + 3);
	assert_string_equal(t->mixnodes[0].host, "10.0.0.1");
	assert_string_equal(t->mixnodes[1].host, "::1");
	assert_string_equal(t->mixnodes[1].port, "80");
	assert_int_equal(t->mixnodes[1].last_seen_ns, 0);

	/* A provider ignores "layer". */
	assert_int_equal(t->n_providers, 2);
	assert_int_equal(t->providers[0].layer, TOPOLOGY_PROVIDER_LAYER);
	const struct topology_node *p = topology_find_provider(t, KEY_B);
	assert_non_null(p);
	assert_int_equal(p->n_clients, 2);
	assert_int_equal(p->clients[0][0], 0);
	assert_int_equal(p->clients[1][0], 0xff);
	topology_free(t);
}

static void
test_rejected_shapes(void **state)
{
	/* Not an object. */
	parse_fails("[]", "object");
	/* jansson refuses bare scalars before our check sees them. */
	parse_fails("null", NULL);
	parse_fails("\"MixNodes\"", NULL);
	parse_fails("42", NULL);
	/* Not JSON. */
	parse_fails("", "JSON");
	parse_fails("{", "JSON");
	parse_fails("{\"MixNodes\": []} trailing", "JSON");
	parse_fails("{\"MixNodes\": [], \"MixNodes\": []}", "JSON");	/* duplicate key */
	/* Lists of the wrong type. */
	parse_fails("{\"MixNodes\": {}}", "MixNodes");
	parse_fails("{\"MixNodes\": 1}", "MixNodes");
	parse_fails("{\"MixProviderNodes\": \"x\"}", "MixProviderNodes");
	parse_fails("{\"MixProviderNodes\": [{\"host\": \"1.2.3.4:5\", \"pubKey\": \""
	    KEY_A "\", \"registeredClients\": {}}]}", "MixProviderNodes");

	/* An embedded NUL is not the end of the document. */
	struct topology *t = (struct topology *)1;
	char err[64];
	assert_int_equal(topology_parse("{}\0{}", 5, &t, err, sizeof(err)), -1);
	assert_null(t);
	/* Length is explicit: a prefix of a valid document is not. */
	assert_int_equal(topology_parse(seed_doc, 20, &t, err, sizeof(err)), -1);
	/* Too large, refused before parsing. */
	assert_int_equal(topology_parse("{}", TOPOLOGY_MAX_JSON_BYTES + 1, &t, err,
	    sizeof(err)), -1);
	assert_null(t);
	/* A tiny error buffer is fine. */
	assert_int_equal(topology_parse("[", 1, &t, err, 1), -1);
	assert_int_equal(err[0], '\0');
}

static void
test_too_many_nodes(void **state)
{
	size_t n = TOPOLOGY_MAX_NODES + 1;
	size_t cap = 32 + n * 3;
	char *doc = malloc(cap);
	struct topology *t;
	char err[128];

	assert_non_null(doc);
	size_t o = (size_t)snprintf(doc, cap, "{\"MixNodes\": [");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(doc + o, cap - o, "%s{}", i ? "," : "");
	o += (size_t)snprintf(doc + o, cap - o, "]}");
	assert_int_equal(topology_parse(doc, o, &t, err, sizeof(err)), -1);
	/* One fewer is accepted, every entry skipped. */
	memmove(doc + 14, doc + 17, o - 17);
	o -= 3;
	assert_int_equal(topology_parse(doc, o, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n_mixnodes, 0);
	assert_int_equal(t->n_skipped, TOPOLOGY_MAX_NODES);
	topology_free(t);
	free(doc);
}

struct split_case {
	const char	*in;
	int		 rc;
	const char	*host;
	const char	*port;
};

static void
test_split_host(void **state)
{
	static const struct split_case cases[] = {
		{ "1.2.3.4:1789", 0, "1.2.3.4", "1789" },
		{ "example.org:80", 0, "example.org", "80" },
		{ "[::1]:80", 0, "::1", "80" },
		{ "[2001:db8::1]:65535", 0, "2001:db8::1", "65535" },
		{ "h:1", 0, "h", "1" },
		{ "localhost", -1, NULL, NULL },
		{ ":80", -1, NULL, NULL },
		{ "host:", -1, NULL, NULL },
		{ "host:0", -1, NULL, NULL },
		{ "host:65536", -1, NULL, NULL },
		{ "host:99999999", -1, NULL, NULL },
		{ "host:-1", -1, NULL, NULL },
		{ "host:+80", -1, NULL, NULL },
		{ "host:8a", -1, NULL, NULL },
		{ "host: 80", -1, NULL, NULL },
		{ "host:80 ", -1, NULL, NULL },
		{ "::1:80", -1, NULL, NULL },		/* bare IPv6 */
		{ "[::1]80", -1, NULL, NULL },
		{ "[::1:80", -1, NULL, NULL },
		{ "[]:80", -1, NULL, NULL },
		{ "[::1]", -1, NULL, NULL },
		{ "ho st:80", -1, NULL, NULL },
		{ "a/b:80", -1, NULL, NULL },
		{ "user@host:80", -1, NULL, NULL },
		{ "host\t:80", -1, NULL, NULL },
		{ "", -1, NULL, NULL },
		{ ":", -1, NULL, NULL },
	};
	char host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct split_case *c = &cases[i];
		int rc = topology_split_host(c->in, host, sizeof(host), port, sizeof(port));
		if (rc != c->rc)
			fail_msg("'%s': got %d, want %d", c->in, rc, c->rc);
		if (rc == 0) {
			assert_string_equal(host, c->host);
			assert_string_equal(port, c->port);
		}
	}

	/* Output buffers are respected: exactly fitting, and one too small. */
	assert_int_equal(topology_split_host("abc:123", host, 4, port, 4), 0);
	assert_string_equal(host, "abc");
	assert_string_equal(port, "123");
	assert_int_equal(topology_split_host("abcd:123", host, 4, port, 4), -1);
	assert_int_equal(topology_split_host("abc:1234", host, 4, port, 4), -1);
	assert_int_equal(topology_split_host("[::1]:1", host, 4, port, 4), 0);
	assert_int_equal(topology_split_host("[::12]:1", host, 4, port, 4), -1);

	/* A host too long for the node's buffer. */
	char longhost[TOPOLOGY_HOST_BYTES + 16];
	memset(longhost, 'a', sizeof(longhost));
	snprintf(longhost + TOPOLOGY_HOST_BYTES, 16, ":80");
	assert_int_equal(topology_split_host(longhost, host, sizeof(host), port,
	    sizeof(port)), -1);
	snprintf(longhost + TOPOLOGY_HOST_BYTES - 1, 16, ":80");
	assert_int_equal(topology_split_host(longhost, host, sizeof(host), port,
	    sizeof(port)), 0);
	assert_int_equal(strlen(host), TOPOLOGY_HOST_BYTES - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_document),
		cmocka_unit_test(test_null_and_missing_lists),
		cmocka_unit_test(test_bad_entries_skipped),
		cmocka_unit_test(test_rejected_shapes),
		cmocka_unit_test(test_too_many_nodes),
		cmocka_unit_test(test_split_host),
	};

	topology_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
