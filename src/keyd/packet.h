/*
 * What keyd puts inside Sphinx packets and takes out of them: the paths
 * of real, loop-cover and drop-cover packets, and the end-to-end payload.
 *
 * The message a Sphinx packet carries to its recipient is
 *     type (1 byte) || body
 * REAL (1, 3, 4, 6): a message or a part of one, with or without reply blocks, laid out by
 *     common/payload.h (docs/replies.md);
 * LOOP (2): send time (8 bytes, ns, big-endian) || nonce (8) || MAC (16),
 *     the MAC a keyed BLAKE2b under a key derived from the client's private
 *     key, so that only its sender recognises a loop cover.
 * Drop covers are discarded by the egress provider and carry random bytes.
 */
#ifndef NYMD_KEYD_PACKET_H
#define NYMD_KEYD_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "common/message.h"
#include "common/payload.h"
#include "common/sphinx.h"
#include "common/surb.h"

struct topology;

#define PACKET_MSGID_BYTES	MESSAGE_ID_BYTES
#define PACKET_LOOP_KEY_BYTES	32
#define PACKET_MAX_MESSAGE_BYTES	MESSAGE_MAX_BYTES	/* 2031 */
/* A per-hop delay is capped so that a draw from the tail stays sane. */
#define PACKET_MAX_DELAY_MS	60000u

enum packet_type {
	PACKET_REAL = 1,
	PACKET_LOOP = 2,
};

enum packet_error {
	PACKET_OK = 0,
	PACKET_ERR_TOPOLOGY = -20,	/* no mixnode in a layer, provider unknown */
	PACKET_ERR_TOO_LARGE = -21,	/* message over PACKET_MAX_MESSAGE_BYTES */
	PACKET_ERR_FOREIGN = -22,	/* a loop cover that is not ours */
	PACKET_ERR_TYPE = -23,		/* unknown payload type or bad length */
	PACKET_ERR_EPOCH = -24,		/* no epoch whose keys every hop has */
	PACKET_ERR_PROVIDER = -25,	/* the recipient's provider is not listed */
	/* and the sphinx_error codes */
};

struct packet_route {
	const struct topology	*topology;
	const uint8_t		*own_pub;	/* our client key */
	const uint8_t		*own_provider;	/* our provider's key */
	double			 mean_delay_ms;	/* per hop, exponential */
};

struct packet_contents {
	enum packet_type	 type;
	uint8_t			 msgid[PACKET_MSGID_BYTES];	/* REAL */
	uint8_t			 message[PACKET_MAX_MESSAGE_BYTES];	/* REAL */
	size_t			 message_len;
	uint64_t		 sent_ns;	/* LOOP */
	/* REAL with reply blocks (payload TAGGED or SURBS) */
	int			 tagged;
	int			 surbs_only;	/* SURBS: no message */
	uint8_t			 tag[PAYLOAD_TAG_BYTES];
	size_t			 n_surbs;
	uint8_t			 surbs[PAYLOAD_MAX_SURBS][SURB_BYTES];
	unsigned int		 more;		/* MORE: blocks asked for (replies only) */
	unsigned int		 frag_index;	/* FRAGMENT: this part of message msgid */
	unsigned int		 frag_count;	/* FRAGMENT: parts in all; 0: not one */
};

/* A reply block built by packet_build_surb(). */
struct packet_surb {
	uint8_t		 surb[SURB_BYTES];
	uint8_t		 id[SURB_ID_BYTES];
	uint64_t	 epoch;
	uint64_t	 expires_ms;	/* when its first hop drops its epoch key */
};

/* The loop-cover MAC key, derived from the private key. */
void	packet_loop_key(uint8_t key[PACKET_LOOP_KEY_BYTES], const uint8_t priv[32]);
/*
 * Every packet to a recipient carries an acknowledgement block naming
 * ack_id, over a path back to us (docs/acks.md); *round_trip_ms (if not
 * NULL) gets the sum of the delays drawn for the packet and for its
 * acknowledgement. Its message is at most MESSAGE_MAX_ACKED_BYTES.
 */
int	packet_build_real(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *,
	    const uint8_t recipient[32], const uint8_t recipient_provider[32],
	    const uint8_t msgid[PACKET_MSGID_BYTES], const uint8_t *msg, size_t len,
	    const uint8_t ack_id[ACK_ID_BYTES], uint32_t *round_trip_ms);
/* Part index of count of message msgid (a FRAGMENT payload, len bytes). */
int	packet_build_fragment(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *,
	    const uint8_t recipient[32], const uint8_t recipient_provider[32],
	    const uint8_t msgid[PACKET_MSGID_BYTES], unsigned int index,
	    unsigned int count, const uint8_t *part, size_t len,
	    const uint8_t ack_id[ACK_ID_BYTES], uint32_t *round_trip_ms);
/* A packet to recipient carrying an encoded payload (common/payload.h). */
int	packet_build_payload(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *,
	    const uint8_t recipient[32], const uint8_t recipient_provider[32],
	    const uint8_t *payload, size_t len, const uint8_t ack_id[ACK_ID_BYTES],
	    uint32_t *round_trip_ms);
/*
 * A loop cover is acknowledged too (its egress provider, ours, cannot
 * tell it from a message): its ack id is a random nonce and a MAC under
 * the loop key, which packet_is_loop_ack() recognises.
 */
void	packet_loop_ack_id(uint8_t id[ACK_ID_BYTES],
	    const uint8_t key[PACKET_LOOP_KEY_BYTES]);
int	packet_is_loop_ack(const uint8_t id[ACK_ID_BYTES],
	    const uint8_t key[PACKET_LOOP_KEY_BYTES]);
/*
 * A reply block to us, for a replier whose provider is replier_provider:
 * the path is that provider, a mixnode of each layer, our provider
 * (DELIVER to us) and us, every hop's key of one epoch (docs/replies.md).
 * The kept keys go to keys (locked memory, the caller's).
 */
int	packet_build_surb(struct packet_surb *, uint8_t keys[SURB_KEYS_BYTES],
	    const struct packet_route *, const uint8_t replier_provider[32]);
/* The packet of a reply through surb carrying msg with id msgid, or
 * if more > 0, asking for that many more blocks (payload MORE). */
int	packet_build_reply(uint8_t out[SPHINX_PACKET_BYTES], const uint8_t surb[SURB_BYTES],
	    const uint8_t msgid[PACKET_MSGID_BYTES], const uint8_t *msg, size_t len,
	    unsigned int more);
/* The real message a reply carried, as surb_open() gave it. */
int	packet_read_message(const uint8_t *msg, size_t len, struct packet_contents *out);
int	packet_build_loop(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *,
	    const uint8_t loop_key[PACKET_LOOP_KEY_BYTES], uint64_t now_ns);
int	packet_build_drop(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *);
/* Unwraps a delivered packet with our key and reads its payload. */
int	packet_open(const uint8_t priv[32], const uint8_t loop_key[PACKET_LOOP_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES], struct packet_contents *out);
const char *packet_strerror(int err);

#endif
