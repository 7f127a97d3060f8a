#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/descriptor.h"
#include "common/epoch.h"
#include "common/regstmt.h"
#include "common/sphinx.h"
#include "common/topology.h"

int
topology_split_host(const char *hostport, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char *colon = strrchr(hostport, ':');
	const char *h = hostport;
	size_t hlen;

	if (colon == NULL || colon == hostport)
		return -1;
	hlen = (size_t)(colon - hostport);
	if (hostport[0] == '[') {
		if (hlen < 3 || hostport[hlen - 1] != ']')
			return -1;
		h++;
		hlen -= 2;
		/* Brackets hold an IPv6 address and nothing else. */
		if (memchr(h, ':', hlen) == NULL || memchr(h, ']', hlen) != NULL ||
		    memchr(h, '[', hlen) != NULL)
			return -1;
	} else if (memchr(hostport, ':', hlen) != NULL) {
		return -1;	/* bare IPv6 without brackets is ambiguous */
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	if (plen == 0 || plen >= portlen || hlen == 0 || hlen >= hostlen)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	for (size_t i = 0; i < hlen; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == '/' || h[i] == '@')
			return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return 0;
}

static int topology_has(const struct topology_node *, size_t, const uint8_t[32]);

static int
topology_key(json_t *obj, uint8_t pub[32], char id[B64_KEY_CHARS + 1])
{
	const char *s = json_string_value(json_object_get(obj, "pubKey"));

	if (s == NULL || b64_decode_key(pub, s, B64_URLSAFE) == -1)
		return -1;
	b64_encode(id, pub, 32, B64_URLSAFE);
	return 0;
}

/*
 * The node's signed descriptor ("descriptor", "signature"): when it
 * verifies and says what the entry says, the node is verified and takes
 * its identity and epoch keys from it.  Otherwise the node stays listed,
 * for what a seed reader does with it, but no packet is built through it.
 */
static void
topology_descriptor(json_t *obj, struct topology_node *n, const char *hostport,
    int provider, size_t *unverified)
{
	json_t *text = json_object_get(obj, "descriptor");
	json_t *sigv = json_object_get(obj, "signature");
	uint8_t sig[DESCRIPTOR_SIG_BYTES];
	char err[DESCRIPTOR_ERR_BYTES];
	struct descriptor d;

	if (!json_is_string(text) || !json_is_string(sigv) ||
	    b64_decode(sig, sizeof(sig), json_string_value(sigv),
	    json_string_length(sigv), B64_URLSAFE) != DESCRIPTOR_SIG_BYTES ||
	    descriptor_verify(json_string_value(text), json_string_length(text),
	    sig, &d, err, sizeof(err)) == -1 ||
	    d.role != (provider ? DESCRIPTOR_PROVIDER : DESCRIPTOR_MIXNODE) ||
	    memcmp(d.pub, n->pub, 32) != 0 || strcmp(d.host, hostport) != 0 ||
	    (!provider && d.layer != n->layer)) {
		(*unverified)++;
		return;
	}
	n->verified = 1;
	memcpy(n->identity, d.identity, 32);
	memcpy(n->keys, d.keys, sizeof(n->keys));
	n->n_keys = d.n_keys;
}

static int
topology_node_parse(json_t *obj, struct topology_node *n, int provider)
{
	memset(n, 0, sizeof(*n));
	if (!json_is_object(obj) || topology_key(obj, n->pub, n->id) == -1)
		return -1;
	const char *hp = json_string_value(json_object_get(obj, "host"));
	if (hp == NULL || topology_split_host(hp, n->host, sizeof(n->host),
	    n->port, sizeof(n->port)) == -1)
		return -1;
	json_t *seen = json_object_get(obj, "lastSeen");
	if (seen != NULL && json_is_integer(seen))
		n->last_seen_ns = json_integer_value(seen);
	if (provider) {
		n->layer = TOPOLOGY_PROVIDER_LAYER;
		return 0;
	}
	json_t *layer = json_object_get(obj, "layer");
	if (!json_is_integer(layer) || json_integer_value(layer) < 1 ||
	    json_integer_value(layer) > TOPOLOGY_MIX_LAYERS)
		return -1;
	n->layer = (uint32_t)json_integer_value(layer);
	return 0;
}

/* One entry of n's registeredClients: its key in out; 0 or -1. */
static int
topology_client(json_t *c, const struct topology_node *n, uint8_t out[32])
{
	char id[B64_KEY_CHARS + 1], why[REGSTMT_ERR_BYTES];
	struct regstmt st;
	int missing;

	if (!n->verified)
		return json_is_object(c) && topology_key(c, out, id) == 0 ? 0 : -1;
	if (regstmt_from_json(c, n->pub, &st, &missing, why, sizeof(why)) == -1)
		return -1;
	memcpy(out, st.client, 32);
	return 0;
}

/*
 * A provider's registeredClients.  A verified provider's client is kept
 * only with a registration statement that verifies for this provider
 * (docs/directory.md): no provider can list a client that did not
 * register with it.  An unverified provider is never on a path, so no
 * packet reaches it; its list stays as a seed reader sees it.
 */
static int
topology_clients_parse(json_t *arr, struct topology_node *n, size_t *skipped)
{
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > TOPOLOGY_MAX_CLIENTS)
		return -1;
	size_t count = json_array_size(arr);
	if (count == 0)
		return 0;
	n->clients = calloc(count, sizeof(*n->clients));
	if (n->clients == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (topology_client(json_array_get(arr, i), n,
		    n->clients[n->n_clients]) == 0)
			n->n_clients++;
		else
			(*skipped)++;
	}
	return 0;
}

static int
topology_list_parse(json_t *arr, struct topology_node **out, size_t *n_out,
    size_t *skipped, size_t *unverified, int provider)
{
	*out = NULL;
	*n_out = 0;
	/* Go encodes an empty slice as null. */
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > TOPOLOGY_MAX_NODES)
		return -1;
	size_t count = json_array_size(arr);
	if (count == 0)
		return 0;
	*out = calloc(count, sizeof(**out));
	if (*out == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		json_t *obj = json_array_get(arr, i);
		struct topology_node *n = &(*out)[*n_out];
		/* A key listed twice would leave two addresses for one node:
		 * the first entry stands. */
		if (topology_node_parse(obj, n, provider) == -1 ||
		    topology_has(*out, *n_out, n->pub)) {
			memset(n, 0, sizeof(*n));
			(*skipped)++;
			continue;
		}
		topology_descriptor(obj, n, json_string_value(json_object_get(obj,
		    "host")), provider, unverified);
		(*n_out)++;
		if (provider && topology_clients_parse(json_object_get(obj,
		    "registeredClients"), n, skipped) == -1)
			return -1;
	}
	return 0;
}

void
topology_free(struct topology *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_providers; i++)
		free(t->providers[i].clients);
	free(t->providers);
	free(t->mixnodes);
	free(t);
}

void
topology_init(void)
{
	/* jansson seeds its hash tables from /dev/urandom on first use:
	 * do it while the process may still open files. */
	json_object_seed(0);
}

int
topology_parse(const char *json, size_t len, struct topology **out,
    char *err, size_t errlen)
{
	json_error_t jerr;
	struct topology *t = NULL;
	json_t *root;

	*out = NULL;
	if (len > TOPOLOGY_MAX_JSON_BYTES) {
		snprintf(err, errlen, "topology document larger than %u bytes",
		    TOPOLOGY_MAX_JSON_BYTES);
		return -1;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "topology is not valid JSON: %s (line %d)",
		    jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "topology is not a JSON object");
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (topology_list_parse(json_object_get(root, "MixNodes"), &t->mixnodes,
	    &t->n_mixnodes, &t->n_skipped, &t->n_unverified, 0) == -1) {
		snprintf(err, errlen, "topology: MixNodes is not a list of nodes");
		goto fail;
	}
	if (topology_list_parse(json_object_get(root, "MixProviderNodes"),
	    &t->providers, &t->n_providers, &t->n_skipped, &t->n_unverified,
	    1) == -1) {
		snprintf(err, errlen, "topology: MixProviderNodes is not a list of providers");
		goto fail;
	}
	json_t *es = json_object_get(root, "epochSeconds");
	if (json_is_integer(es) && json_integer_value(es) >= 0 &&
	    epoch_seconds_valid((uint64_t)json_integer_value(es)))
		t->epoch_seconds = (uint32_t)json_integer_value(es);
	json_decref(root);
	*out = t;
	return 0;
fail:
	topology_free(t);
	json_decref(root);
	return -1;
}

const struct topology_node *
topology_find_provider(const struct topology *t, const char *id)
{
	for (size_t i = 0; i < t->n_providers; i++)
		if (strcmp(t->providers[i].id, id) == 0)
			return &t->providers[i];
	return NULL;
}

static int
topology_has(const struct topology_node *nodes, size_t n, const uint8_t pub[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(nodes[i].pub, pub, 32) == 0)
			return 1;
	return 0;
}

int
topology_covers(const struct topology *new_topology, const struct topology *old)
{
	for (size_t i = 0; i < old->n_mixnodes; i++)
		if (!topology_has(new_topology->mixnodes, new_topology->n_mixnodes,
		    old->mixnodes[i].pub))
			return 0;
	for (size_t i = 0; i < old->n_providers; i++)
		if (!topology_has(new_topology->providers, new_topology->n_providers,
		    old->providers[i].pub))
			return 0;
	return 1;
}

int
topology_node_usable(const struct topology *t, const struct topology_node *n)
{
	return t->epoch_seconds != 0 && n->verified && n->n_keys > 0;
}

int
topology_hop_key(const struct topology *t, const struct topology_node *n,
    uint64_t unix_ms, uint8_t key[32], uint8_t *phase)
{
	const struct topology_epoch_key *best = NULL;
	uint64_t e, dist = UINT64_MAX;

	if (!topology_node_usable(t, n))
		return -1;
	e = epoch_at(unix_ms, t->epoch_seconds);
	for (size_t i = 0; i < n->n_keys; i++) {
		uint64_t k = n->keys[i].epoch;
		uint64_t d = k > e ? k - e : e - k;
		if (d < dist) {
			dist = d;
			best = &n->keys[i];
		}
	}
	if (best == NULL)
		return -1;
	memcpy(key, best->key, 32);
	*phase = (uint8_t)epoch_phase(best->epoch);
	return 0;
}

size_t
topology_layer(const struct topology *t, uint32_t layer,
    const struct topology_node **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_mixnodes && n < max; i++)
		if (t->mixnodes[i].layer == layer)
			out[n++] = &t->mixnodes[i];
	return n;
}
