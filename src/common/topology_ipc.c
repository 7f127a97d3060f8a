/*
 * The topology between nymd's processes: netd parses the directory's JSON
 * (topology_parse, the one parser of that untrusted document) and hands
 * keyd and rpcd this typed form, which they check for sizes and bounds
 * only. keyd thereby never runs a JSON parser.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/topology_ipc.h"

struct topology_ipc {
	Nymipc__Topology	  msg;
	Nymipc__TopologyNode	 *nodes;
	Nymipc__TopologyNode	**mix_ptrs;
	Nymipc__TopologyNode	**prov_ptrs;
	Nymipc__EpochKey	 *keys;
	Nymipc__EpochKey	**key_ptrs;
	ProtobufCBinaryData	 *clients;
};

/* Fills m from n; its arrays point into n and into the holder's. */
static void
topology_ipc_node(Nymipc__TopologyNode *m, const struct topology_node *n,
    Nymipc__EpochKey *keys, Nymipc__EpochKey **key_ptrs, ProtobufCBinaryData *clients)
{
	nymipc__topology_node__init(m);
	m->pub.data = (uint8_t *)n->pub;
	m->pub.len = 32;
	m->host = (char *)n->host;
	m->port = (char *)n->port;
	m->layer = n->layer;
	m->last_seen_ns = n->last_seen_ns;
	m->verified = n->verified;
	if (n->verified) {
		m->identity.data = (uint8_t *)n->identity;
		m->identity.len = 32;
	}
	for (size_t k = 0; k < n->n_keys; k++) {
		nymipc__epoch_key__init(&keys[k]);
		keys[k].epoch = n->keys[k].epoch;
		keys[k].key.data = (uint8_t *)n->keys[k].key;
		keys[k].key.len = 32;
		key_ptrs[k] = &keys[k];
	}
	m->n_keys = n->n_keys;
	m->keys = n->n_keys ? key_ptrs : NULL;
	for (size_t c = 0; c < n->n_clients; c++) {
		clients[c].data = n->clients[c];
		clients[c].len = 32;
	}
	m->n_clients = n->n_clients;
	m->clients = n->n_clients ? clients : NULL;
}

struct topology_ipc *
topology_ipc_new(const struct topology *t)
{
	struct topology_ipc *h = calloc(1, sizeof(*h));
	size_t n = t->n_mixnodes + t->n_providers, n_clients = 0;

	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < t->n_providers; i++)
		n_clients += t->providers[i].n_clients;
	h->nodes = calloc(n + 1, sizeof(*h->nodes));
	h->mix_ptrs = calloc(t->n_mixnodes + 1, sizeof(*h->mix_ptrs));
	h->prov_ptrs = calloc(t->n_providers + 1, sizeof(*h->prov_ptrs));
	h->keys = calloc(n * TOPOLOGY_EPOCH_KEYS + 1, sizeof(*h->keys));
	h->key_ptrs = calloc(n * TOPOLOGY_EPOCH_KEYS + 1, sizeof(*h->key_ptrs));
	h->clients = calloc(n_clients + 1, sizeof(*h->clients));
	if (h->nodes == NULL || h->mix_ptrs == NULL || h->prov_ptrs == NULL ||
	    h->keys == NULL || h->key_ptrs == NULL || h->clients == NULL) {
		topology_ipc_free(h);
		return NULL;
	}
	nymipc__topology__init(&h->msg);
	size_t node = 0, key = 0, client = 0;
	for (size_t i = 0; i < n; i++, node++) {
		const struct topology_node *src = i < t->n_mixnodes ? &t->mixnodes[i] :
		    &t->providers[i - t->n_mixnodes];
		topology_ipc_node(&h->nodes[node], src, &h->keys[key], &h->key_ptrs[key],
		    &h->clients[client]);
		key += src->n_keys;
		client += src->n_clients;
		if (i < t->n_mixnodes)
			h->mix_ptrs[i] = &h->nodes[node];
		else
			h->prov_ptrs[i - t->n_mixnodes] = &h->nodes[node];
	}
	h->msg.n_mixnodes = t->n_mixnodes;
	h->msg.mixnodes = h->mix_ptrs;
	h->msg.n_providers = t->n_providers;
	h->msg.providers = h->prov_ptrs;
	h->msg.epoch_seconds = t->epoch_seconds;
	h->msg.skipped = t->n_skipped;
	h->msg.unverified = t->n_unverified;
	return h;
}

Nymipc__Topology *
topology_ipc_msg(struct topology_ipc *h)
{
	return &h->msg;
}

void
topology_ipc_free(struct topology_ipc *h)
{
	if (h == NULL)
		return;
	free(h->nodes);
	free(h->mix_ptrs);
	free(h->prov_ptrs);
	free(h->keys);
	free(h->key_ptrs);
	free(h->clients);
	free(h);
}

static int
topology_ipc_text(char *out, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= len)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

static int
topology_ipc_node_from(struct topology_node *n, const Nymipc__TopologyNode *m,
    int provider, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	if (m->pub.len != 32 || topology_ipc_text(n->host, sizeof(n->host), m->host) == -1 ||
	    topology_ipc_text(n->port, sizeof(n->port), m->port) == -1) {
		snprintf(err, errlen, "a node with a bad key, host or port");
		return -1;
	}
	memcpy(n->pub, m->pub.data, 32);
	b64_encode(n->id, n->pub, 32, B64_URLSAFE);
	if (provider ? m->layer != TOPOLOGY_PROVIDER_LAYER :
	    m->layer < 1 || m->layer > TOPOLOGY_MIX_LAYERS) {
		snprintf(err, errlen, "a node in layer %u", m->layer);
		return -1;
	}
	n->layer = m->layer;
	n->last_seen_ns = m->last_seen_ns;
	if (m->n_keys > TOPOLOGY_EPOCH_KEYS || (m->verified && m->identity.len != 32)) {
		snprintf(err, errlen, "a node with %zu epoch keys or a bad identity", m->n_keys);
		return -1;
	}
	n->verified = m->verified;
	if (m->verified)
		memcpy(n->identity, m->identity.data, 32);
	for (size_t k = 0; k < m->n_keys; k++) {
		if (m->keys[k]->key.len != 32) {
			snprintf(err, errlen, "an epoch key that is not 32 bytes");
			return -1;
		}
		n->keys[k].epoch = m->keys[k]->epoch;
		memcpy(n->keys[k].key, m->keys[k]->key.data, 32);
	}
	n->n_keys = m->n_keys;
	if (m->n_clients == 0)
		return 0;
	if (!provider || m->n_clients > TOPOLOGY_MAX_CLIENTS) {
		snprintf(err, errlen, "%zu registered clients", m->n_clients);
		return -1;
	}
	if ((n->clients = calloc(m->n_clients, sizeof(*n->clients))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t c = 0; c < m->n_clients; c++) {
		if (m->clients[c].len != 32) {
			snprintf(err, errlen, "a client key that is not 32 bytes");
			return -1;
		}
		memcpy(n->clients[c], m->clients[c].data, 32);
	}
	n->n_clients = m->n_clients;
	return 0;
}

static int
topology_ipc_list(struct topology_node **out, size_t *n_out, Nymipc__TopologyNode **in,
    size_t n_in, int provider, char *err, size_t errlen)
{
	if (n_in > TOPOLOGY_MAX_NODES) {
		snprintf(err, errlen, "%zu nodes in one list", n_in);
		return -1;
	}
	if (n_in == 0)
		return 0;
	if ((*out = calloc(n_in, sizeof(**out))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n_in; i++) {
		/* Counted first, so that topology_free() frees a half-made node. */
		(*n_out)++;
		if (topology_ipc_node_from(&(*out)[i], in[i], provider, err, errlen) == -1)
			return -1;
	}
	return 0;
}

int
topology_from_ipc(const Nymipc__Topology *m, struct topology **out, char *err,
    size_t errlen)
{
	struct topology *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (topology_ipc_list(&t->mixnodes, &t->n_mixnodes, m->mixnodes, m->n_mixnodes, 0,
	    err, errlen) == -1 ||
	    topology_ipc_list(&t->providers, &t->n_providers, m->providers, m->n_providers, 1,
	    err, errlen) == -1) {
		topology_free(t);
		return -1;
	}
	t->epoch_seconds = m->epoch_seconds;
	t->n_skipped = (size_t)m->skipped;
	t->n_unverified = (size_t)m->unverified;
	*out = t;
	return 0;
}
