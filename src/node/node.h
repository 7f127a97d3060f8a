/*
 * The core shared by nym-mixnode and nym-provider (docs/mixnode.md):
 * the Noise link listener, Sphinx processing with the persistent replay
 * store, the delay queue, the outgoing link pool, the topology, presence
 * and metrics.  A role (mixnode, provider) plugs in through struct
 * node_ops; the mixnode needs none of its hooks.
 */
#ifndef NYMD_NODE_NODE_H
#define NYMD_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/link.h"
#include "node/config.h"

struct event_base;
struct sandbox_call;
struct strbuf;
struct topology;
struct node;

#define NODE_MAX_INCOMING_LINKS		4096
#define NODE_IN_LINK_OUT_MAX_BYTES	(4u * 1024 * 1024)
/*
 * Bounds that hold whatever peers do (docs/mixnode.md, "Bounds"): links
 * still in their handshake have a small budget of their own, per source
 * address too, and a short timeout; one key holds a few links at most; the
 * output queued on all incoming links together has a ceiling.
 */
#define NODE_MAX_HANDSHAKING		256
#define NODE_MAX_HANDSHAKING_PER_ADDR	64
#define NODE_HANDSHAKE_TIMEOUT_MS	3000
#define NODE_MAX_LINKS_PER_KEY		16
#define NODE_OUTPUT_BUDGET_BYTES	(256u * 1024 * 1024)
#define NODE_TOPOLOGY_MIN_GAP_MS	250	/* between on-demand fetches */
/*
 * A link from a key the topology does not list waits (its handshake
 * unanswered) for a fetch that starts after it, at most this long; then
 * it is decided with the topology at hand, before its handshake times out.
 */
#define NODE_UNKNOWN_PEER_WAIT_MS	2000
#define NODE_STOP_GRACE_MS		2000	/* drain time at a clean stop */
#define NODE_FIRST_TOPOLOGY_WAIT_MS	2000	/* links wait for it at start */
#define NODE_REPLAY_SYNC_MS		1000	/* fdatasync of the replay log */
_Static_assert(NODE_UNKNOWN_PEER_WAIT_MS + NODE_TOPOLOGY_MIN_GAP_MS <
    NODE_HANDSHAKE_TIMEOUT_MS, "a waiting link is decided before it times out");

/* Packet counters since start; docs/mixnode.md says what each means. */
struct node_counters {
	uint64_t	received;	/* PACKET frames */
	uint64_t	relayed;	/* RELAY packets handed to the pool */
	uint64_t	delivered;	/* DELIVER packets stored (provider) */
	uint64_t	cover;		/* DROP packets discarded */
	uint64_t	bad_mac;
	uint64_t	no_key;		/* no live epoch key of the packet's phase */
	uint64_t	replay;
	uint64_t	malformed;
	uint64_t	bad_command;	/* FINAL, or DELIVER at a mixnode */
	uint64_t	not_allowed;	/* from a peer that may not send */
	uint64_t	refused_links;	/* from a key not in the topology */
	uint64_t	delay_too_long;
	uint64_t	queue_full;	/* delay queue full */
	uint64_t	persist_failed;	/* replay log write failed */
	uint64_t	deliver_failed;	/* mailbox refused (quota, unknown) */
	uint64_t	work_paused;	/* links paused: the workers were full */
	uint64_t	acks_sent;	/* acknowledgements of stored packets (provider) */
	uint64_t	acks_bad;	/* an ack block that was junk: none sent */
};

struct node_ops {
	/* After keys and configuration are loaded, before any link. */
	int	(*start)(struct node *, void **role);
	/* At a clean stop, after the last packet was handled. */
	void	(*stop)(void *role);
	/* DELIVER, after its delay: 0 if stored, -1 if dropped. */
	int	(*deliver)(void *role, const uint8_t client[32],
		    const uint8_t *packet, size_t len);
	/* May a key that is no node of the topology open a link? */
	int	(*accept_client)(void *role, const uint8_t peer[32]);
	/* May such a peer send PACKET frames (first hop)? */
	int	(*client_may_send)(void *role, const uint8_t peer[32]);
	/* A CONTROL frame on an incoming link; NULL answers BAD_REQUEST. */
	void	(*control)(void *role, struct link *, const uint8_t peer[32],
		    const Link__Control *);
	/* An incoming link is about to be freed (any reason); NULL: none. */
	void	(*link_closed)(void *role, struct link *);
	/*
	 * The presence POST: sets *path ("/api/presence/...") and returns
	 * the JSON object to send (the node adds its sphinxKeys), or NULL.
	 * NULL hook: a mixnode's presence.
	 */
	json_t	*(*presence)(void *role, const char *hostport, const char *pub,
		    const char **path);
	/* The role's own metrics, after the node's; NULL: none. */
	void	(*metrics)(void *role, struct strbuf *out);
	/* What the role does beyond the node core once sandboxed
	 * (src/node/sandbox.c), SANDBOX_END-terminated; NULL: nothing. */
	const struct sandbox_call *sandbox_calls;
};

/* What node_run() returns besides 0 (a clean stop). */
#define NODE_RUN_FAILED		(-1)	/* failed while running */
#define NODE_RUN_STARTUP	(-2)	/* replay store, role, listener */

/* Runs the node until SIGTERM or SIGINT. */
int	node_run(const struct node_config *, const uint8_t priv[32],
	    const uint8_t pub[32], const struct node_ops *);

/* For roles. */
const struct node_config *node_config(const struct node *);
struct event_base *node_base(const struct node *);
const uint8_t	*node_public_key(const struct node *);
struct node_counters *node_counters(struct node *);
/*
 * Bytes that may still be queued on incoming links before the node's
 * output budget is spent (a provider sizes its pull replies by it).
 */
size_t	 node_output_room(struct node *);
/* Records that len more bytes were queued (until the next sum). */
void	 node_output_spent(struct node *, size_t len);
/* Sends a presence POST now (e.g. a client registered). */
void	 node_presence_now(struct node *);
/* Sends a Control.error on a link; text for the peer's logs. */
int	 node_send_error(struct link *, Link__ErrorCode, const char *text);

/* 1 once node_run() installed the sandbox: the program then leaves with
 * _exit(), since atexit handlers (LeakSanitizer's, in the sanitizer build)
 * need what the sandbox forbids and would spin at exit. */
int	node_sandboxed(void);

#endif /* NYMD_NODE_NODE_H */
