#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/epoch.h"
#include "directory/registry.h"

struct registry_mixnode {
	struct body_mixnode	 body;
	int64_t			 seen_real_ns;
	int64_t			 seen_mono_ns;
};

struct registry_provider {
	struct body_provider	 body;
	int64_t			 seen_real_ns;
	int64_t			 seen_mono_ns;
};

struct registry_metric {
	struct body_metric	 body;
	int64_t			 seen_real_ns;
	int64_t			 seen_mono_ns;
};

struct registry {
	int64_t			 stale_ns;
	uint32_t		 epoch_seconds;
	uint8_t			(*allowed)[32];	/* NULL: any identity */
	size_t			 n_allowed;
	/* Fixed arrays: the limits are small and nothing reallocates. */
	struct registry_mixnode	 mixnodes[REGISTRY_MAX_MIXNODES];
	size_t			 n_mixnodes;
	struct registry_provider providers[REGISTRY_MAX_PROVIDERS];
	size_t			 n_providers;
	struct registry_metric	 metrics[REGISTRY_MAX_METRICS];
	size_t			 n_metrics;
};

struct registry *
registry_new(int64_t stale_ns, uint32_t epoch_seconds)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->stale_ns = stale_ns;
	r->epoch_seconds = epoch_seconds;
	return r;
}

void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_providers; i++)
		body_provider_clear(&r->providers[i].body);
	for (size_t i = 0; i < r->n_metrics; i++)
		body_metric_clear(&r->metrics[i].body);
	free(r->allowed);
	free(r);
}

static int
registry_stale(const struct registry *r, int64_t seen_mono_ns, int64_t mono_ns)
{
	return mono_ns - seen_mono_ns >= r->stale_ns;
}

/*
 * The slot for pub in an array of n entries of size `size` whose first
 * member starts with the key at offset `off`; n if there is none.
 */
static size_t
registry_find(const void *base, size_t n, size_t size, size_t off,
    const uint8_t pub[32])
{
	const unsigned char *p = base;

	for (size_t i = 0; i < n; i++)
		if (memcmp(p + i * size + off, pub, 32) == 0)
			return i;
	return n;
}

int
registry_allow(struct registry *r, const uint8_t (*ids)[32], size_t n)
{
	free(r->allowed);
	r->allowed = NULL;
	r->n_allowed = 0;
	if ((r->allowed = calloc(n ? n : 1, sizeof(*r->allowed))) == NULL)
		return -1;
	memcpy(r->allowed, ids, n * sizeof(*ids));
	r->n_allowed = n;
	return 0;
}

/*
 * Whether a signed descriptor for node pub may replace what the registry
 * holds (old, NULL for a new node): an allowed identity, the node's own
 * (a known node keeps the identity it first came with, and an identity
 * names one node), published near now and not before old, with keys for
 * epochs near the current one.  REGISTRY_RENEWED, or an error.
 */
static int
registry_check_signed(const struct registry *r, const struct body_signed *s,
    const struct body_signed *old, const struct registry_now *now)
{
	const struct descriptor *d = &s->desc;
	uint64_t now_ms, cur;
	int allowed = r->allowed == NULL;

	for (size_t i = 0; i < r->n_allowed && !allowed; i++)
		allowed = memcmp(r->allowed[i], d->identity, 32) == 0;
	if (!allowed)
		return REGISTRY_ERR_NOT_ALLOWED;
	if (old != NULL && memcmp(old->desc.identity, d->identity, 32) != 0)
		return REGISTRY_ERR_IDENTITY;
	for (size_t i = 0; i < r->n_mixnodes; i++)
		if (memcmp(r->mixnodes[i].body.signed_desc.desc.identity,
		    d->identity, 32) == 0 &&
		    memcmp(r->mixnodes[i].body.pub, d->pub, 32) != 0)
			return REGISTRY_ERR_IDENTITY;
	for (size_t i = 0; i < r->n_providers; i++)
		if (memcmp(r->providers[i].body.signed_desc.desc.identity,
		    d->identity, 32) == 0 &&
		    memcmp(r->providers[i].body.pub, d->pub, 32) != 0)
			return REGISTRY_ERR_IDENTITY;
	if (now->real_ns < 0)
		return REGISTRY_ERR_STALE;
	now_ms = (uint64_t)now->real_ns / 1000000;
	if (d->published_ms + REGISTRY_MAX_SKEW_MS < now_ms ||
	    d->published_ms > now_ms + REGISTRY_MAX_SKEW_MS ||
	    (old != NULL && d->published_ms < old->desc.published_ms))
		return REGISTRY_ERR_STALE;
	cur = epoch_at(now_ms, r->epoch_seconds);
	for (size_t i = 0; i < d->n_keys; i++)
		if (d->keys[i].epoch + 1 < cur || d->keys[i].epoch > cur + 2)
			return REGISTRY_ERR_EPOCH;
	return REGISTRY_RENEWED;
}

int
registry_put_mixnode(struct registry *r, const struct body_mixnode *b,
    const struct registry_now *now)
{
	size_t i = registry_find(r->mixnodes, r->n_mixnodes,
	    sizeof(r->mixnodes[0]), offsetof(struct registry_mixnode, body.pub),
	    b->pub);
	int rc = registry_check_signed(r, &b->signed_desc, i == r->n_mixnodes ?
	    NULL : &r->mixnodes[i].body.signed_desc, now);

	if (rc != REGISTRY_RENEWED)
		return rc;
	if (i == r->n_mixnodes) {
		if (r->n_mixnodes == REGISTRY_MAX_MIXNODES)
			return REGISTRY_ERR_FULL;
		r->n_mixnodes++;
		rc = REGISTRY_ADDED;
	}
	r->mixnodes[i].body = *b;
	r->mixnodes[i].seen_real_ns = now->real_ns;
	r->mixnodes[i].seen_mono_ns = now->mono_ns;
	return rc;
}

/* No client's statement dated more than REGSTMT_MAX_SKEW_MS after now. */
static int
registry_check_statements(const struct body_provider *b,
    const struct registry_now *now)
{
	uint64_t now_ms;

	if (now->real_ns < 0)
		return REGISTRY_ERR_STATEMENT;
	now_ms = (uint64_t)now->real_ns / 1000000;
	for (size_t i = 0; i < b->n_clients; i++)
		if (b->clients[i].registered_ms > now_ms + REGSTMT_MAX_SKEW_MS)
			return REGISTRY_ERR_STATEMENT;
	return REGISTRY_RENEWED;
}

int
registry_put_provider(struct registry *r, struct body_provider *b,
    const struct registry_now *now)
{
	size_t i = registry_find(r->providers, r->n_providers,
	    sizeof(r->providers[0]), offsetof(struct registry_provider, body.pub),
	    b->pub);
	int rc = registry_check_signed(r, &b->signed_desc, i == r->n_providers ?
	    NULL : &r->providers[i].body.signed_desc, now);

	if (rc != REGISTRY_RENEWED)
		return rc;
	if ((rc = registry_check_statements(b, now)) != REGISTRY_RENEWED)
		return rc;
	if (i == r->n_providers) {
		if (r->n_providers == REGISTRY_MAX_PROVIDERS)
			return REGISTRY_ERR_FULL;
		r->n_providers++;
		rc = REGISTRY_ADDED;
	} else {
		body_provider_clear(&r->providers[i].body);
	}
	r->providers[i].body = *b;
	r->providers[i].seen_real_ns = now->real_ns;
	r->providers[i].seen_mono_ns = now->mono_ns;
	memset(b, 0, sizeof(*b));
	return rc;
}

int
registry_put_metric(struct registry *r, struct body_metric *b,
    const struct registry_now *now)
{
	size_t i = registry_find(r->metrics, r->n_metrics,
	    sizeof(r->metrics[0]), offsetof(struct registry_metric, body.pub),
	    b->pub);
	int rc = REGISTRY_RENEWED;

	if (i == r->n_metrics) {
		if (r->n_metrics == REGISTRY_MAX_METRICS)
			return REGISTRY_ERR_FULL;
		r->n_metrics++;
		rc = REGISTRY_ADDED;
	} else {
		body_metric_clear(&r->metrics[i].body);
	}
	r->metrics[i].body = *b;
	r->metrics[i].seen_real_ns = now->real_ns;
	r->metrics[i].seen_mono_ns = now->mono_ns;
	memset(b, 0, sizeof(*b));
	return rc;
}

size_t
registry_sweep(struct registry *r, int64_t mono_ns,
    void (*gone)(enum registry_kind, const uint8_t pub[32], void *), void *arg)
{
	size_t dropped = 0, keep;

	/* Compact each array in place, keeping the order of arrival. */
	keep = 0;
	for (size_t i = 0; i < r->n_mixnodes; i++) {
		if (registry_stale(r, r->mixnodes[i].seen_mono_ns, mono_ns)) {
			if (gone != NULL)
				gone(REGISTRY_MIXNODE, r->mixnodes[i].body.pub, arg);
			dropped++;
			continue;
		}
		if (keep != i)
			r->mixnodes[keep] = r->mixnodes[i];
		keep++;
	}
	r->n_mixnodes = keep;

	keep = 0;
	for (size_t i = 0; i < r->n_providers; i++) {
		if (registry_stale(r, r->providers[i].seen_mono_ns, mono_ns)) {
			if (gone != NULL)
				gone(REGISTRY_PROVIDER, r->providers[i].body.pub, arg);
			body_provider_clear(&r->providers[i].body);
			dropped++;
			continue;
		}
		if (keep != i)
			r->providers[keep] = r->providers[i];
		keep++;
	}
	r->n_providers = keep;

	keep = 0;
	for (size_t i = 0; i < r->n_metrics; i++) {
		if (registry_stale(r, r->metrics[i].seen_mono_ns, mono_ns)) {
			if (gone != NULL)
				gone(REGISTRY_METRIC, r->metrics[i].body.pub, arg);
			body_metric_clear(&r->metrics[i].body);
			dropped++;
			continue;
		}
		if (keep != i)
			r->metrics[keep] = r->metrics[i];
		keep++;
	}
	r->n_metrics = keep;
	return dropped;
}

size_t
registry_count(const struct registry *r, enum registry_kind kind)
{
	switch (kind) {
	case REGISTRY_MIXNODE:
		return r->n_mixnodes;
	case REGISTRY_PROVIDER:
		return r->n_providers;
	case REGISTRY_METRIC:
		return r->n_metrics;
	}
	return 0;
}

/* Appends v to arr, taking the reference; 0 or -1. */
static int
registry_append(json_t *arr, json_t *v)
{
	return v == NULL ? -1 : json_array_append_new(arr, v);
}

static json_t *
registry_key_json(const uint8_t pub[32])
{
	char id[B64_KEY_CHARS + 1];

	b64_encode(id, pub, 32, B64_URLSAFE);
	return json_string(id);
}

/*
 * Adds the signed descriptor to a node's entry (o), after the seed's
 * fields, which seed readers keep using; o or NULL.
 */
static json_t *
registry_add_signed(json_t *o, const struct body_signed *s)
{
	char sig[B64_ENCODED_LEN(DESCRIPTOR_SIG_BYTES) + 1];

	if (o == NULL)
		return NULL;
	b64_encode(sig, s->sig, sizeof(s->sig), B64_URLSAFE);
	if (json_object_set_new(o, "descriptor", json_stringn(s->text,
	    s->text_len)) == 0 &&
	    json_object_set_new(o, "signature", json_string(sig)) == 0)
		return o;
	json_decref(o);
	return NULL;
}

static json_t *
registry_mixnode_json(const struct registry_mixnode *m)
{
	return registry_add_signed(json_pack("{s:s, s:o, s:I, s:I}",
	    "host", m->body.host,
	    "pubKey", registry_key_json(m->body.pub),
	    "layer", (json_int_t)m->body.layer,
	    "lastSeen", (json_int_t)m->seen_real_ns), &m->body.signed_desc);
}

static json_t *
registry_provider_json(const struct registry_provider *p)
{
	json_t *clients = json_array();

	if (clients == NULL)
		return NULL;
	for (size_t i = 0; i < p->body.n_clients; i++) {
		if (registry_append(clients,
		    regstmt_to_json(&p->body.clients[i])) == -1) {
			json_decref(clients);
			return NULL;
		}
	}
	return registry_add_signed(json_pack("{s:s, s:o, s:o, s:I}",
	    "host", p->body.host,
	    "pubKey", registry_key_json(p->body.pub),
	    "registeredClients", clients,
	    "lastSeen", (json_int_t)p->seen_real_ns), &p->body.signed_desc);
}

static json_t *
registry_metric_json(const struct registry_metric *m)
{
	char id[B64_KEY_CHARS + 1];
	json_t *sent = json_object();

	if (sent == NULL)
		return NULL;
	for (size_t i = 0; i < m->body.n_sent; i++) {
		b64_encode(id, m->body.sent[i].pub, 32, B64_URLSAFE);
		if (json_object_set_new(sent, id,
		    json_integer((json_int_t)m->body.sent[i].count)) == -1) {
			json_decref(sent);
			return NULL;
		}
	}
	return json_pack("{s:o, s:o, s:I, s:I}",
	    "pubKey", registry_key_json(m->body.pub),
	    "sent", sent,
	    "received", (json_int_t)m->body.received,
	    "timestamp", (json_int_t)m->seen_real_ns);
}

static char *
registry_dump(json_t *root, size_t *len)
{
	char *s;

	if (root == NULL)
		return NULL;
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

char *
registry_topology_json(const struct registry *r, int64_t mono_ns, size_t *len)
{
	json_t *mixes = json_array(), *providers = json_array();

	if (mixes == NULL || providers == NULL)
		goto fail;
	for (size_t i = 0; i < r->n_mixnodes; i++) {
		if (registry_stale(r, r->mixnodes[i].seen_mono_ns, mono_ns))
			continue;
		if (registry_append(mixes,
		    registry_mixnode_json(&r->mixnodes[i])) == -1)
			goto fail;
	}
	for (size_t i = 0; i < r->n_providers; i++) {
		if (registry_stale(r, r->providers[i].seen_mono_ns, mono_ns))
			continue;
		if (registry_append(providers,
		    registry_provider_json(&r->providers[i])) == -1)
			goto fail;
	}
	/* "o" steals both references, even when json_pack fails. */
	return registry_dump(json_pack("{s:o, s:o, s:I}", "MixNodes", mixes,
	    "MixProviderNodes", providers, "epochSeconds",
	    (json_int_t)r->epoch_seconds), len);
fail:
	json_decref(mixes);
	json_decref(providers);
	return NULL;
}

char *
registry_metrics_json(const struct registry *r, int64_t mono_ns, size_t *len)
{
	json_t *list = json_array();

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < r->n_metrics; i++) {
		if (registry_stale(r, r->metrics[i].seen_mono_ns, mono_ns))
			continue;
		if (registry_append(list,
		    registry_metric_json(&r->metrics[i])) == -1) {
			json_decref(list);
			return NULL;
		}
	}
	return registry_dump(list, len);
}
