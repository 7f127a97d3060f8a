/*
 * The directory's topology document (GET /api/presence/topology), in the
 * seed's shape. topology_parse() is the one parser of this untrusted JSON.
 */
#ifndef NYMD_TOPOLOGY_H
#define NYMD_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "common/b64.h"

#define TOPOLOGY_MAX_JSON_BYTES	(4u * 1024 * 1024)
#define TOPOLOGY_MAX_NODES	4096
#define TOPOLOGY_MAX_CLIENTS	65536
#define TOPOLOGY_HOST_BYTES	256
#define TOPOLOGY_PORT_BYTES	8
/* The seed gave providers this layer in MixConfig. */
#define TOPOLOGY_PROVIDER_LAYER	1000000u
#define TOPOLOGY_MIX_LAYERS	3
/* sphinxKeys read per node: the current and next epoch's, and a spare. */
#define TOPOLOGY_EPOCH_KEYS	3

/* A node's Sphinx key for one key epoch (docs/epochs.md). */
struct topology_epoch_key {
	uint64_t	 epoch;
	uint8_t		 key[32];
};

struct topology_node {
	uint8_t		 pub[32];
	char		 id[B64_KEY_CHARS + 1];	/* URL-safe base64 of pub */
	char		 host[TOPOLOGY_HOST_BYTES];	/* without the port */
	char		 port[TOPOLOGY_PORT_BYTES];
	uint32_t	 layer;		/* 1..3, or TOPOLOGY_PROVIDER_LAYER */
	int64_t		 last_seen_ns;
	uint8_t		(*clients)[32];	/* providers: registered client keys */
	size_t		 n_clients;
	/* From the node's signed descriptor, when it verifies. */
	int		 verified;
	uint8_t		 identity[32];	/* Ed25519 identity key */
	struct topology_epoch_key keys[TOPOLOGY_EPOCH_KEYS];	/* sphinxKeys */
	size_t		 n_keys;
};

struct topology {
	struct topology_node	*mixnodes;
	size_t			 n_mixnodes;
	struct topology_node	*providers;
	size_t			 n_providers;
	size_t			 n_skipped;	/* malformed entries ignored */
	size_t			 n_unverified;	/* nodes without a valid descriptor */
	uint32_t		 epoch_seconds;	/* 0: the directory announces none */
};

/* Call once before a sandbox forbids opening files. */
void	topology_init(void);
/*
 * Parses a topology document. Entries with a bad key, host or layer, a
 * node whose key an earlier entry of its list has, and registered clients
 * with a bad key are skipped and counted; a document that is not the
 * expected shape is an error. Returns 0, or -1 with a message in err.
 */
int	topology_parse(const char *json, size_t len, struct topology **out,
	    char *err, size_t errlen);
void	topology_free(struct topology *);
const struct topology_node *topology_find_provider(const struct topology *,
	    const char *id);
/* Nodes in `layer` (1..3); fills up to max pointers, returns the count. */
size_t	topology_layer(const struct topology *, uint32_t layer,
	    const struct topology_node **out, size_t max);
/*
 * 1 if every node of old is still in new. A directory that restarts
 * serves a topology that fills up again as nodes re-announce; callers
 * keep the last one for a while instead of forgetting nodes at once.
 */
int	topology_covers(const struct topology *new_topology, const struct topology *old);
/*
 * Packets are built for a node's epoch keys, never its long-term key.
 * topology_hop_key() gives the key of node n for a packet that reaches it
 * at unix_ms, and that key's phase (docs/sphinx.md, section 3): the key
 * of the epoch containing unix_ms, or if the node did not publish one,
 * its key of the nearest epoch.  0, or -1 if the node has no key (or the
 * topology announces no epochs): such a node cannot be on a path.
 */
int	topology_hop_key(const struct topology *, const struct topology_node *n,
	    uint64_t unix_ms, uint8_t key[32], uint8_t *phase);
/*
 * 1 if topology_hop_key() can give a key for n: a node whose descriptor
 * verified (docs/directory.md), with epoch keys.
 */
int	topology_node_usable(const struct topology *, const struct topology_node *n);
/* Splits "host:port" or "[v6]:port"; 0 or -1. */
int	topology_split_host(const char *hostport, char *host, size_t hostlen,
	    char *port, size_t portlen);

#endif
