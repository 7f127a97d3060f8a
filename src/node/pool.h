/*
 * The outgoing link pool of a node: one persistent Noise link per next
 * hop, made on first use (we are the initiator, with the node's key),
 * reconnected with exponential back-off when it fails, and a bounded
 * queue per peer for packets that wait for the link to open or drain.
 * Peers are found by their public key in the directory's topology.
 */
#ifndef NYMD_NODE_POOL_H
#define NYMD_NODE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/link.h"

struct event_base;
struct topology;
struct pool;

#define POOL_DEFAULT_QUEUE_PACKETS	1024
#define POOL_BACKOFF_MIN_MS		100
#define POOL_BACKOFF_MAX_MS		10000

enum pool_result {
	POOL_SENT = 0,		/* handed to the link */
	POOL_QUEUED = 1,	/* waits for the link */
	POOL_ERR_FULL = -1,	/* the peer's queue is full: dropped */
	POOL_ERR_NOMEM = -2,	/* dropped */
	POOL_ERR_NO_ROUTE = -3,	/* the topology does not list the peer: dropped */
};

struct pool_counters {
	uint64_t	sent;		/* packets handed to links */
	uint64_t	dropped_full;	/* queue full */
	uint64_t	dropped_no_route; /* next hop not in the topology */
	uint64_t	dropped_gone;	/* queued for a peer that left */
	uint64_t	connects;	/* connection attempts */
	uint64_t	connect_failures;
};

struct pool_params {
	const struct link_config *link;	/* packet size, our keys */
	size_t		 queue_packets;	/* per peer; 0: default */
	unsigned	 backoff_min_ms; /* 0: default */
	unsigned	 backoff_max_ms; /* 0: default */
	/* Asked when a packet waits for a peer the topology does not list. */
	void		(*need_topology)(void *arg);
	void		*arg;
};

struct pool	*pool_new(struct event_base *, const struct pool_params *);
/* Closes every link; queued packets are freed. */
void		 pool_free(struct pool *);

/*
 * Sends packet (malloc'd, link packet size; the pool takes it and frees
 * it) to peer.  A packet for a peer the current topology does not list is
 * dropped at once (dropped_no_route, POOL_ERR_NO_ROUTE) and a topology is
 * asked for with need_topology(): holding it would let anyone who can
 * name keys make the node allocate a queue per key.
 */
int		 pool_send(struct pool *, const uint8_t peer[32], uint8_t *packet);
/*
 * A new topology (kept by the caller until the next call or pool_free()):
 * peers get their (new) addresses; peers that are no longer listed are
 * closed and their queues dropped.
 */
void		 pool_set_topology(struct pool *, const struct topology *);

const struct pool_counters *pool_counters(const struct pool *);
/* Packets sent to each peer since the last call; the counts are reset. */
void		 pool_take_sent(struct pool *,
		    void (*cb)(void *arg, const uint8_t peer[32], uint64_t n),
		    void *arg);
size_t		 pool_peers(const struct pool *);
size_t		 pool_open_links(const struct pool *);
size_t		 pool_queued(const struct pool *);

#endif /* NYMD_NODE_POOL_H */
