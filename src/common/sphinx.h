/*
 * nymd's Sphinx packet format (Danezis and Goldberg, 2009) on libsodium:
 * X25519, BLAKE2b, ChaCha20 and a LIONESS payload cipher.  The format is
 * specified in docs/sphinx.md; this header is its C interface.
 *
 * A packet travels up to SPHINX_MAX_HOPS hops: ingress provider, three
 * mixnodes, egress provider, recipient.  Every hop but the recipient calls
 * sphinx_process() and learns only its own routing block (command, next
 * node, delay); the recipient calls sphinx_unwrap() and gets the message.
 * Every packet has the same size, whatever the path length and message.
 *
 * The caller must have called sodium_init().  No function here allocates
 * memory, logs or keeps state; secrets on the stack are wiped before
 * returning.  Functions return 0 (SPHINX_OK) or a negative enum
 * sphinx_error.
 */
#ifndef NYMD_COMMON_SPHINX_H
#define NYMD_COMMON_SPHINX_H

#include <stddef.h>
#include <stdint.h>

/* Geometry (docs/sphinx.md, section 2). */
#define SPHINX_MAX_HOPS			6
#define SPHINX_KEY_BYTES		32	/* X25519 keys and group elements */
#define SPHINX_NODE_ID_BYTES		32	/* a node's or client's X25519 public key */
#define SPHINX_MAC_BYTES		16
#define SPHINX_ROUTING_BLOCK_BYTES	56
#define SPHINX_BETA_BYTES \
	(SPHINX_MAX_HOPS * SPHINX_ROUTING_BLOCK_BYTES)		/* 336 */
#define SPHINX_HEADER_BYTES \
	(SPHINX_KEY_BYTES + SPHINX_BETA_BYTES + SPHINX_MAC_BYTES)	/* 384 */
#define SPHINX_MAX_MESSAGE_BYTES	2048
#define SPHINX_PAYLOAD_TAG_BYTES	16	/* zero bytes checked at the recipient */
#define SPHINX_PAYLOAD_LENGTH_BYTES	2
#define SPHINX_PAYLOAD_BYTES \
	(SPHINX_PAYLOAD_TAG_BYTES + SPHINX_PAYLOAD_LENGTH_BYTES + \
	 SPHINX_MAX_MESSAGE_BYTES)				/* 2066 */
#define SPHINX_PACKET_BYTES \
	(SPHINX_HEADER_BYTES + SPHINX_PAYLOAD_BYTES)		/* 2450 */
#define SPHINX_REPLAY_TAG_BYTES		32
/*
 * Acknowledgements (docs/sphinx.md, section 18; docs/acks.md): a packet
 * whose DELIVER and FINAL blocks carry SPHINX_FLAG_ACK holds, at the start
 * of the payload the egress provider's layer reveals, an acknowledgement
 * block: the first hop's identity, then a reply-block header to the
 * sender.  The message beside it is at most SPHINX_MAX_ACKED_MESSAGE_BYTES.
 */
#define SPHINX_ACK_BYTES \
	(SPHINX_NODE_ID_BYTES + SPHINX_HEADER_BYTES)		/* 416 */
#define SPHINX_MAX_ACKED_MESSAGE_BYTES \
	(SPHINX_MAX_MESSAGE_BYTES - SPHINX_ACK_BYTES)		/* 1632 */
/* Routing block byte 2: flags (docs/sphinx.md, section 4). */
#define SPHINX_FLAG_ACK			0x01

/* Routing commands, one per hop (docs/sphinx.md, section 4). */
enum sphinx_command {
	SPHINX_CMD_RELAY = 1,	/* forward to node next_id after delay_ms */
	SPHINX_CMD_DELIVER = 2,	/* store in the mailbox of client next_id after delay_ms */
	SPHINX_CMD_DROP = 3,	/* drop cover: discard the packet */
	SPHINX_CMD_FINAL = 4,	/* this hop is the recipient: sphinx_unwrap() */
	SPHINX_CMD_REPLY = 5,	/* this hop is a reply block's creator: surb.h */
};

/*
 * A REPLY block carries, in its next_id field, the random id of the reply
 * block (SURB) the packet was built from, then zeros (docs/sphinx.md,
 * sections 4 and 17).
 */
#define SPHINX_SURB_ID_BYTES		16

enum sphinx_error {
	SPHINX_OK = 0,
	SPHINX_ERR_INVALID = -1,	/* bad arguments from the caller */
	SPHINX_ERR_KEY = -2,		/* a hop's public key is a small-order point */
	SPHINX_ERR_RNG = -3,		/* the randomness source failed */
	SPHINX_ERR_MALFORMED = -4,	/* the packet is not well formed */
	SPHINX_ERR_MAC = -5,		/* header MAC mismatch (tampered, or not for this key) */
	SPHINX_ERR_REPLAY = -6,		/* this hop has seen the packet before */
	SPHINX_ERR_COMMAND = -7,	/* authentic, but its command is not for this role */
	SPHINX_ERR_PAYLOAD = -8,	/* payload integrity check failed at the recipient */
};

/*
 * One hop of a path, as the sender sees it: node_pub is the X25519 public
 * key of the node (or, for SPHINX_CMD_FINAL, the recipient) that processes
 * the hop; command, next_id and delay_ms are what it will be told to do.
 * For SPHINX_CMD_DROP and SPHINX_CMD_FINAL, next_id and delay_ms must be 0.
 */
struct sphinx_hop {
	uint8_t		node_pub[SPHINX_KEY_BYTES];
	uint8_t		command;
	uint8_t		next_id[SPHINX_NODE_ID_BYTES];
	uint32_t	delay_ms;
	/*
	 * The key phase of node_pub, 0 or 1: the parity of the key epoch
	 * it belongs to (docs/sphinx.md, section 4).  The hop reads it
	 * from the packet to pick which of its keys to use.  0 for a
	 * recipient, whose key does not rotate.
	 */
	uint8_t		key_phase;
	/*
	 * SPHINX_FLAG_ACK on the egress provider's DELIVER and the
	 * recipient's FINAL of a packet with an acknowledgement block
	 * (sphinx_create_acked()), and on the REPLY of an acknowledgement's
	 * reply block (surb_ack_create()); 0 everywhere else.
	 */
	uint8_t		flags;
};

/*
 * The key phase a packet was built for at the hop that receives it: the
 * top bit of alpha (docs/sphinx.md, section 3).  Read before processing,
 * to choose the key; the header MAC covers it.
 */
static inline unsigned int
sphinx_key_phase(const uint8_t in[SPHINX_PACKET_BYTES])
{
	return in[SPHINX_KEY_BYTES - 1] >> 7;
}

/* What sphinx_process() tells a hop to do. */
struct sphinx_hop_result {
	uint8_t		command;	/* RELAY, DELIVER or DROP (a node) */
	/* SPHINX_FLAG_ACK with DELIVER: the passed-on payload starts with
	 * an acknowledgement block (surb_ack_take()). */
	uint8_t		flags;
	uint8_t		next_id[SPHINX_NODE_ID_BYTES];	/* zero for DROP */
	uint32_t	delay_ms;	/* zero for DROP */
};

/*
 * Randomness for packet creation.  fill() writes len bytes and returns 0,
 * or returns non-zero on failure.  A NULL struct sphinx_rng means
 * randombytes_buf().  Deterministic sources are for test vectors only.
 */
struct sphinx_rng {
	int	(*fill)(void *ctx, uint8_t *buf, size_t len);
	void	*ctx;
};

struct replay_store;

/*
 * 1 if a packet can be built to pub: an X25519 public key not of small
 * order (with one, every shared secret is zero and sphinx_create fails
 * with SPHINX_ERR_KEY); 0 otherwise.  For checking keys where they enter.
 */
int	sphinx_key_usable(const uint8_t pub[SPHINX_KEY_BYTES]);

/*
 * Builds a packet for a path of 1 to SPHINX_MAX_HOPS hops.  Every hop but
 * the last has command RELAY or DELIVER; the last has FINAL (a message for
 * the recipient whose key is its node_pub) or DROP (drop cover).  Every
 * key_phase is 0 or 1.  msg may
 * be NULL when msg_len is 0; msg_len is at most SPHINX_MAX_MESSAGE_BYTES.
 * On error out is zeroed.
 */
int	sphinx_create(uint8_t out[SPHINX_PACKET_BYTES],
	    const struct sphinx_hop *hops, size_t nhops,
	    const uint8_t *msg, size_t msg_len, const struct sphinx_rng *rng);

/*
 * sphinx_create() for a packet whose egress provider acknowledges it
 * (docs/sphinx.md, section 18): hops[nhops - 2] is DELIVER and
 * hops[nhops - 1] FINAL, both with flags SPHINX_FLAG_ACK (and no other hop
 * has flags); ack is the acknowledgement block (surb_ack_create()), which
 * the provider's layer reveals; msg_len is at most
 * SPHINX_MAX_ACKED_MESSAGE_BYTES.  sphinx_unwrap() reads such a packet.
 */
int	sphinx_create_acked(uint8_t out[SPHINX_PACKET_BYTES],
	    const struct sphinx_hop *hops, size_t nhops,
	    const uint8_t ack[SPHINX_ACK_BYTES], const uint8_t *msg,
	    size_t msg_len, const struct sphinx_rng *rng);
/*
 * Processes a packet at a node holding X25519 private key node_priv.  The
 * packet's replay tag is checked against and recorded in replay (the store
 * of node_priv's key epoch; required).  On success res says what to do and,
 * for RELAY and DELIVER, out holds the packet to pass on; for DROP out is
 * zeroed.  in and out may be the same buffer.  On error out is zeroed and
 * res is untouched.
 */
int	sphinx_process(const uint8_t node_priv[SPHINX_KEY_BYTES],
	    struct replay_store *replay, const uint8_t in[SPHINX_PACKET_BYTES],
	    uint8_t out[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res);

/*
 * sphinx_process() without the replay store, for a node that processes
 * packets on worker threads and keeps its store on one (src/node/work.h):
 * once the header MAC verifies, *authentic is 1 and tag holds the replay
 * tag, which the caller must check and record before acting on res; a
 * tag seen before makes the outcome SPHINX_ERR_REPLAY whatever this
 * returned (and out must then be wiped), as sphinx_process() would have.
 * A MAC failure leaves *authentic 0 and tag zeroed.
 */
int	sphinx_process_unchecked(const uint8_t node_priv[SPHINX_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES],
	    uint8_t out[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res,
	    int *authentic, uint8_t tag[SPHINX_REPLAY_TAG_BYTES]);

/*
 * Unwraps a packet at its recipient (the hop whose command is FINAL):
 * checks the header and the payload's integrity and writes the message
 * (*msg_len bytes) to msg.  If replay_tag is not NULL it receives the
 * packet's replay tag, a stable identifier the recipient can use to drop
 * duplicates.  On error *msg_len is 0 and msg is zeroed.  A reply through
 * one of the recipient's reply blocks (command REPLY) is SPHINX_ERR_COMMAND
 * here: surb_reply_id() and surb_open() take it.
 */
int	sphinx_unwrap(const uint8_t priv[SPHINX_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES],
	    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len,
	    uint8_t replay_tag[SPHINX_REPLAY_TAG_BYTES]);

/*
 * The replay tag sphinx_process() records, and sphinx_unwrap() returns,
 * for a packet whose alpha (its first SPHINX_KEY_BYTES bytes) reaches the
 * key priv: for a node that logs the alphas it accepted and rebuilds its
 * replay store from them.  An alpha that sphinx_process() rejects as
 * malformed (non-canonical, small order) has no tag: SPHINX_ERR_MALFORMED,
 * and tag is zeroed.
 */
int	sphinx_replay_tag(const uint8_t priv[SPHINX_KEY_BYTES],
	    const uint8_t alpha[SPHINX_KEY_BYTES],
	    uint8_t tag[SPHINX_REPLAY_TAG_BYTES]);

const char	*sphinx_strerror(int err);
/* "relay", "deliver", "drop", "final", "reply", or NULL for another value. */
const char	*sphinx_command_name(int command);

#endif /* NYMD_COMMON_SPHINX_H */
