/*
 * mixpeer: a stand-in for a provider in front of and behind a mixnode,
 * for tests/tools/mixdelay and tests/bench/mixnode-bench.  It has one key,
 * announced to the directory as a provider whose host is its own
 * listener, so that a real nym-mixnode accepts its links (a node of the
 * topology) and relays packets addressed to its key back to it.  It
 * sends over one or more initiator links to the mixnode and receives on
 * the links the mixnode opens to it.  Test code only: it dies on errors.
 */
#ifndef NYMD_TESTS_MIXPEER_H
#define NYMD_TESTS_MIXPEER_H

#include <stddef.h>
#include <stdint.h>

#include "common/sphinx.h"
#include "common/topology.h"

struct event_base;

#define MIXPEER_MAX_LINKS	16
#define MIXPEER_MAX_IN		16

struct mixpeer {
	struct event_base	*base;
	uint8_t			 priv[32], pub[32];
	unsigned		 port;		/* of our listener */
	struct evconnlistener	*listener;
	struct link		*out[MIXPEER_MAX_LINKS];
	int			 out_up[MIXPEER_MAX_LINKS];
	int			 out_closed[MIXPEER_MAX_LINKS];
	size_t			 n_out;
	struct link		*in[MIXPEER_MAX_IN];
	size_t			 n_in;
	/* Every PACKET frame that arrives on an incoming link. */
	void			(*on_packet)(void *arg, const uint8_t *packet);
	void			*arg;
	uint64_t		 received;
	int			 drained;
	/* For mixpeer_build(): set it to what mixpeer_topology() gave. */
	const struct topology	*topology;
};

void	mixpeer_die(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
/* CLOCK_MONOTONIC in milliseconds, with fractions. */
double	mixpeer_now_ms(void);

/* A new key and a listener on 127.0.0.1 (any port); curl must be initialised. */
void	mixpeer_open(struct mixpeer *, struct event_base *,
	    void (*on_packet)(void *, const uint8_t *), void *arg);
/* POSTs our presence as a provider to the directory (base URL). */
void	mixpeer_announce(const struct mixpeer *, const char *directory);
/* GETs the topology; the caller frees it. */
struct topology *mixpeer_topology(const char *directory);
/*
 * Opens n links to node, retrying for up to timeout_ms while the node
 * refuses us (it has not fetched a topology that lists us yet).
 */
void	mixpeer_connect(struct mixpeer *, const struct topology_node *node,
	    size_t n, unsigned timeout_ms);
/*
 * Opens one link to node and closes it again: 1 if the node accepted it
 * (the handshake completed), 0 if it closed the link first, -1 if neither
 * happened within timeout_ms. Uses out link 0.
 */
int	mixpeer_try(struct mixpeer *, const struct topology_node *node,
	    unsigned timeout_ms);
/* Queues a packet on out link i, running the loop while it is full. */
void	mixpeer_send(struct mixpeer *, size_t i, const uint8_t *packet);
/*
 * A packet [node RELAY delay_ms -> us, us FINAL] carrying msg, built for
 * node's current epoch key in p->topology.
 */
void	mixpeer_build(const struct mixpeer *, const struct topology_node *node,
	    uint32_t delay_ms, const void *msg, size_t len,
	    uint8_t out[SPHINX_PACKET_BYTES]);
/* The same for a Sphinx key and key phase of the caller's choosing. */
void	mixpeer_build_key(const struct mixpeer *, const uint8_t key[32],
	    uint8_t phase, uint32_t delay_ms, const void *msg, size_t len,
	    uint8_t out[SPHINX_PACKET_BYTES]);
/* Runs the loop for up to ms milliseconds, or until *flag (if not NULL). */
void	mixpeer_run(struct mixpeer *, double ms, const int *flag);
void	mixpeer_close(struct mixpeer *);

#endif /* NYMD_TESTS_MIXPEER_H */
