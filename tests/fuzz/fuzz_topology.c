/*
 * Fuzz target: topology_parse() on arbitrary bytes, then the lookups on
 * whatever parsed, and topology_split_host() on the input as a string.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
fuzz_lookups(const struct topology *t)
{
	const struct topology_node *nodes[16];

	for (size_t i = 0; i < t->n_providers; i++) {
		const struct topology_node *p = topology_find_provider(t, t->providers[i].id);
		CHECK(p != NULL && strcmp(p->id, t->providers[i].id) == 0);
		CHECK(p->layer == TOPOLOGY_PROVIDER_LAYER && p->n_clients <= TOPOLOGY_MAX_CLIENTS);
		CHECK(p->host[0] != '\0' && p->port[0] != '\0');
	}
	for (uint32_t l = 0; l <= TOPOLOGY_MIX_LAYERS + 1; l++) {
		size_t n = topology_layer(t, l, nodes, sizeof(nodes) / sizeof(nodes[0]));
		CHECK(n <= t->n_mixnodes);
		if (l == 0 || l > TOPOLOGY_MIX_LAYERS)
			CHECK(n == 0);
		for (size_t i = 0; i < n; i++)
			CHECK(nodes[i]->layer == l);
	}
	(void)topology_find_provider(t, "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct topology *t = NULL;
	char err[128];

	if (!initialised) {
		topology_init();
		initialised = 1;
	}
	if (topology_parse((const char *)data, size, &t, err, sizeof(err)) == 0) {
		CHECK(t != NULL);
		fuzz_lookups(t);
		topology_free(t);
	} else {
		CHECK(t == NULL && err[0] != '\0');
	}

	/* The same bytes as a host:port string, up to the first NUL. */
	if (size < 1024) {
		char s[1024], host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
		memcpy(s, data, size);
		s[size] = '\0';
		if (topology_split_host(s, host, sizeof(host), port, sizeof(port)) == 0) {
			CHECK(host[0] != '\0' && strlen(host) < sizeof(host));
			CHECK(port[0] != '\0' && strlen(port) < sizeof(port));
			CHECK(strtoul(port, NULL, 10) >= 1 && strtoul(port, NULL, 10) <= 65535);
		}
	}
	return 0;
}
