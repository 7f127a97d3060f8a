/*
 * What nym-directory knows: the presences of mixnodes and providers and
 * the latest traffic report of each mixnode, each forgotten when it has not
 * been renewed within the stale window. Entries keep the order in which
 * they first arrived, so the topology document is stable between renewals.
 * The registry takes the time from its caller and does no I/O.
 */
#ifndef NYMD_DIRECTORY_REGISTRY_H
#define NYMD_DIRECTORY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "directory/body.h"

/*
 * The node counts are capped so that the largest topology the directory
 * can serve fits what every reader accepts (TOPOLOGY_MAX_JSON_BYTES,
 * 4 MiB): at most REGISTRY_NODE_MAX_JSON_BYTES per node entry (a 2048-byte
 * descriptor whose every byte may need escaping, a 263-character host)
 * and REGISTRY_CLIENT_MAX_JSON_BYTES per registered client (key, time,
 * signature).  tests/unit/test_directory.c fills a registry with the
 * largest entries it accepts and measures the document.
 */
#define REGISTRY_MAX_MIXNODES	128
#define REGISTRY_MAX_PROVIDERS	16
#define REGISTRY_MAX_METRICS	REGISTRY_MAX_MIXNODES
#define REGISTRY_NODE_MAX_JSON_BYTES	(2 * DESCRIPTOR_MAX_BYTES + 600)
#define REGISTRY_CLIENT_MAX_JSON_BYTES	200
#define REGISTRY_DOC_MAX_JSON_BYTES					\
	((REGISTRY_MAX_MIXNODES + REGISTRY_MAX_PROVIDERS) *		\
	REGISTRY_NODE_MAX_JSON_BYTES + REGISTRY_MAX_PROVIDERS *		\
	BODY_MAX_CLIENTS * REGISTRY_CLIENT_MAX_JSON_BYTES + 100)
_Static_assert(REGISTRY_DOC_MAX_JSON_BYTES <= TOPOLOGY_MAX_JSON_BYTES,
    "the largest topology must fit what readers accept");

enum registry_error {
	REGISTRY_ERR_FULL = -1,		/* a new node over the limit */
	REGISTRY_ERR_NOMEM = -2,
	REGISTRY_ERR_EPOCH = -3,	/* a key for an epoch far from now */
	REGISTRY_ERR_NOT_ALLOWED = -4,	/* an identity not on the allow-list */
	REGISTRY_ERR_IDENTITY = -5,	/* the node, or the identity, is another's */
	REGISTRY_ERR_STALE = -6,	/* published far from now, or older */
	REGISTRY_ERR_STATEMENT = -7,	/* a client's statement from the future */
};

/* How far a descriptor's published time may be from the directory's. */
#define REGISTRY_MAX_SKEW_MS	120000

/* A put returns one of these, or a negative registry_error. */
enum registry_put {
	REGISTRY_RENEWED = 0,
	REGISTRY_ADDED = 1,
};

enum registry_kind {
	REGISTRY_MIXNODE = 0,
	REGISTRY_PROVIDER,
	REGISTRY_METRIC,
};

struct registry_now {
	int64_t		 real_ns;	/* Unix time: what lastSeen shows */
	int64_t		 mono_ns;	/* monotonic: what staleness uses */
};

struct registry;

/*
 * epoch_seconds: the key epoch length the topology announces
 * (docs/epochs.md); a node's sphinxKeys must be for epochs from the one
 * before the current (by now->real_ns) to two after it.
 */
struct registry	*registry_new(int64_t stale_ns, uint32_t epoch_seconds);
/*
 * Admits only nodes whose identity key is one of ids (a closed network);
 * never called: any identity.  0, or -1 out of memory.
 */
int		 registry_allow(struct registry *, const uint8_t (*ids)[32],
		    size_t n);
void		 registry_free(struct registry *);

int	registry_put_mixnode(struct registry *, const struct body_mixnode *,
	    const struct registry_now *);
/* These two take over the body's list (and clear the body) on success. */
int	registry_put_provider(struct registry *, struct body_provider *,
	    const struct registry_now *);
int	registry_put_metric(struct registry *, struct body_metric *,
	    const struct registry_now *);

/*
 * Forgets what went stale by mono_ns; calls gone (if not NULL) for each
 * entry forgotten. Returns how many.
 */
size_t	registry_sweep(struct registry *, int64_t mono_ns,
	    void (*gone)(enum registry_kind, const uint8_t pub[32], void *),
	    void *arg);
size_t	registry_count(const struct registry *, enum registry_kind);

/*
 * The documents of GET /api/presence/topology and GET /api/metrics/mixes,
 * without the entries that are stale at mono_ns: a NUL-terminated string
 * to free(), its length in *len; NULL when out of memory.
 */
char	*registry_topology_json(const struct registry *, int64_t mono_ns,
	    size_t *len);
char	*registry_metrics_json(const struct registry *, int64_t mono_ns,
	    size_t *len);

#endif
