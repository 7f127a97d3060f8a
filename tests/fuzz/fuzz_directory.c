/*
 * Fuzz target for nym-directory's three POST body parsers (mixnode
 * presence, provider presence, mix metric) and the documents built from
 * what they accept. Beyond "no crash, no leak" it checks that whatever a
 * parser accepts goes into the registry and comes out as a topology that
 * nymd's own parser, topology_parse(), reads back whole and unchanged.
 *
 * body.c and registry.c are compiled in here so that the libFuzzer build,
 * which links only libnymcommon, needs nothing else.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/topology.h"
#include "directory/body.c"
#include "directory/registry.c"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const char *err)
{
	/* Error text goes into a JSON string as is: printable, no quotes. */
	for (const char *p = err; *p != '\0'; p++)
		if (*p < ' ' || *p > '~' || *p == '"' || *p == '\\')
			abort();
}

static void
check_topology(struct registry *r, const struct body_mixnode *m, int have_m,
    size_t provider_clients, int have_p)
{
	struct topology *t;
	char err[256], host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
	size_t len = 0;
	char *doc = registry_topology_json(r, 0, &len);

	if (doc == NULL)
		abort();
	if (topology_parse(doc, len, &t, err, sizeof(err)) != 0)
		abort();
	if (t->n_skipped != 0 || t->n_mixnodes != (size_t)have_m ||
	    t->n_providers != (size_t)have_p)
		abort();
	if (have_m) {
		if (topology_split_host(m->host, host, sizeof(host), port,
		    sizeof(port)) != 0)
			abort();
		if (memcmp(t->mixnodes[0].pub, m->pub, 32) != 0 ||
		    t->mixnodes[0].layer != m->layer ||
		    strcmp(t->mixnodes[0].host, host) != 0 ||
		    strcmp(t->mixnodes[0].port, port) != 0)
			abort();
	}
	if (have_p && t->providers[0].n_clients != provider_clients)
		abort();
	topology_free(t);
	free(doc);
}

static void
check_metrics(struct registry *r, size_t n_sent)
{
	json_error_t jerr;
	size_t len = 0;
	char *doc = registry_metrics_json(r, 0, &len);
	json_t *root;

	if (doc == NULL)
		abort();
	root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || json_array_size(root) != 1 ||
	    json_object_size(json_object_get(json_array_get(root, 0), "sent")) !=
	    n_sent)
		abort();
	json_decref(root);
	free(doc);
}

/*
 * A signed presence the parser accepted is added, or refused for one of
 * the documented reasons (its keys' epochs, its identity, its time).
 */
static int
put_ok(int rc)
{
	if (rc == REGISTRY_ADDED)
		return 1;
	if (rc != REGISTRY_ERR_EPOCH && rc != REGISTRY_ERR_IDENTITY &&
	    rc != REGISTRY_ERR_STALE)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_now now = { 1572258570490299400, 0 };
	struct body_mixnode m;
	struct body_provider p;
	struct body_metric mm;
	struct registry *r;
	const char *buf = (const char *)data;
	char err[BODY_ERR_BYTES];
	int have_m, have_p, have_mm = 0;
	size_t clients = 0, n_sent;

	/* The input as a host string too. */
	if (size <= BODY_HOSTPORT_MAX_CHARS) {
		char host[BODY_HOSTPORT_MAX_CHARS + 1];
		memcpy(host, data, size);
		host[size] = '\0';
		(void)body_host_valid(host);
	}

	if ((r = registry_new(1000000000, 3600)) == NULL)
		return 0;

	err[0] = '\0';
	have_m = body_parse_mixnode(buf, size, &m, err, sizeof(err)) == BODY_OK;
	check_err(err);
	if (have_m) {
		if (body_host_valid(m.host) != 0 || m.layer < 1 || m.layer > 3 ||
		    m.signed_desc.desc.layer != m.layer ||
		    memcmp(m.signed_desc.desc.pub, m.pub, 32) != 0)
			abort();
		/* The registry's clock where the descriptor was published. */
		now.real_ns = (int64_t)(m.signed_desc.desc.published_ms % 1000000000000ull)
		    * 1000000;
		have_m = put_ok(registry_put_mixnode(r, &m, &now));
	}

	err[0] = '\0';
	have_p = body_parse_provider(buf, size, &p, err, sizeof(err)) == BODY_OK;
	check_err(err);
	if (have_p) {
		clients = p.n_clients;
		if (body_host_valid(p.host) != 0 ||
		    memcmp(p.signed_desc.desc.pub, p.pub, 32) != 0)
			abort();
		now.real_ns = (int64_t)(p.signed_desc.desc.published_ms % 1000000000000ull)
		    * 1000000;
		have_p = put_ok(registry_put_provider(r, &p, &now));
		body_provider_clear(&p);	/* empty unless refused */
	}
	check_topology(r, &m, have_m, clients, have_p);

	err[0] = '\0';
	if (body_parse_metric(buf, size, &mm, err, sizeof(err)) == BODY_OK) {
		n_sent = mm.n_sent;
		have_mm = 1;
		if (registry_put_metric(r, &mm, &now) != REGISTRY_ADDED)
			abort();
		check_metrics(r, n_sent);
	}
	check_err(err);

	/* Everything is stale one window later. */
	if (registry_sweep(r, 1000000000, NULL, NULL) !=
	    (size_t)(have_m + have_p + have_mm) ||
	    registry_count(r, REGISTRY_MIXNODE) != 0 ||
	    registry_count(r, REGISTRY_METRIC) != 0)
		abort();
	registry_free(r);
	return 0;
}
