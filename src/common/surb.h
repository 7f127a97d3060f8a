/*
 * Single-use reply blocks (SURBs) for nymd's Sphinx packets, as in
 * Danezis and Goldberg's Sphinx (section 3.4): specified in
 * docs/sphinx.md, section 17.
 *
 * The creator (who will receive the reply) builds a reply block over a
 * path that ends at itself, gives the block to somebody and keeps the
 * block's keys.  The replier turns the block and a message into an
 * ordinary packet of SPHINX_PACKET_BYTES, which every hop processes with
 * sphinx_process() like any other; the creator recognises the reply by
 * the block's id (surb_reply_id()) and opens it with the kept keys
 * (surb_open()).  A block is single use: a second packet made from it
 * carries the same header and is dropped as a replay at its first hop.
 *
 * The caller must have called sodium_init().  Nothing here allocates,
 * logs or keeps state; secrets on the stack are wiped before returning.
 * Functions return 0 (SPHINX_OK) or a negative enum sphinx_error.
 */
#ifndef NYMD_COMMON_SURB_H
#define NYMD_COMMON_SURB_H

#include <stddef.h>
#include <stdint.h>

#include "common/sphinx.h"

#define SURB_ID_BYTES		SPHINX_SURB_ID_BYTES	/* 16 */
#define SURB_PAYLOAD_KEY_BYTES	32
#define SURB_EPOCH_BYTES	8
#define SURB_MIN_HOPS		2	/* at least one node, then the creator */
/* The reply block: epoch || first hop || header || payload key. */
#define SURB_BYTES \
	(SURB_EPOCH_BYTES + SPHINX_NODE_ID_BYTES + SPHINX_HEADER_BYTES + \
	 SURB_PAYLOAD_KEY_BYTES)					/* 456 */
/*
 * What the creator keeps, a secret: id || epoch || n || 7 zero bytes ||
 * payload key || the LIONESS keys of hops 0 .. n-2 (128 bytes each),
 * zero-padded to the longest path.
 */
#define SURB_HOP_KEYS_BYTES	128
#define SURB_KEYS_BYTES \
	(SURB_ID_BYTES + SURB_EPOCH_BYTES + 8 + SURB_PAYLOAD_KEY_BYTES + \
	 (SPHINX_MAX_HOPS - 1) * SURB_HOP_KEYS_BYTES)		/* 704 */

/* The public parts of a reply block, for its replier. */
struct surb_info {
	uint64_t	epoch;		/* the key epoch its hops' keys are of */
	uint8_t		first_hop[SPHINX_NODE_ID_BYTES];  /* send the reply there */
};

/*
 * Builds a reply block to its creator.  hops is the path exactly as for a
 * forward packet to the creator itself (sphinx_create()): SURB_MIN_HOPS to
 * SPHINX_MAX_HOPS hops, RELAY or DELIVER at every hop but the last, FINAL
 * at the last, whose node_pub is the creator's key and key_phase 0.  Every
 * other hop's key_phase must be the parity of epoch: a block is built for
 * one key epoch.  first_hop is the identity of hops[0]'s node (its
 * long-term key, as next ids name nodes; hops[0].node_pub is its key of
 * the epoch), where the replier is to send the reply.  Writes the block to surb, the secrets the creator keeps
 * to keys (put them in locked memory: see sodium_malloc()) and the block's
 * random id, which a reply names, to id.  On error all three are zeroed.
 */
int	surb_create(uint8_t surb[SURB_BYTES], uint8_t keys[SURB_KEYS_BYTES],
	    uint8_t id[SURB_ID_BYTES],
	    const uint8_t first_hop[SPHINX_NODE_ID_BYTES],
	    const struct sphinx_hop *hops, size_t nhops, uint64_t epoch,
	    const struct sphinx_rng *rng);

/*
 * Checks len bytes of a reply block from outside (SURB_BYTES, a canonical
 * alpha) and, if info is not NULL, fills it.  SPHINX_ERR_MALFORMED
 * otherwise (and *info is zeroed).
 */
int	surb_parse(const uint8_t *surb, size_t len, struct surb_info *info);

/*
 * The replier's side: the packet of reply block surb (surb_len bytes,
 * checked by surb_parse()) carrying msg (msg_len <= SPHINX_MAX_MESSAGE_BYTES,
 * msg may be NULL when msg_len is 0).  Send out to info->first_hop.  Uses
 * no randomness: the same block and message give the same packet, which
 * the first hop drops as a replay.  info may be NULL.  On error out is
 * zeroed.
 */
int	surb_use(uint8_t out[SPHINX_PACKET_BYTES], struct surb_info *info,
	    const uint8_t *surb, size_t surb_len, const uint8_t *msg,
	    size_t msg_len);

/*
 * The creator's first step on a packet it received: checks the header with
 * its private key (as sphinx_unwrap() does) and, for a reply, writes the
 * id of the reply block it came through.  SPHINX_ERR_COMMAND for a packet
 * that is not a reply (sphinx_unwrap() takes it); on error id is zeroed.
 */
int	surb_reply_id(const uint8_t priv[SPHINX_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES]);

/*
 * surb_reply_id(), also saying in *ack whether the reply block was an
 * acknowledgement's (surb_ack_create()): its id is then an ack id.
 */
int	surb_reply_kind(const uint8_t priv[SPHINX_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES],
	    int *ack);
/*
 * Acknowledgements (docs/sphinx.md, section 18).  The sender builds an
 * acknowledgement block: the header of a reply block to itself whose
 * REPLY carries SPHINX_FLAG_ACK and the ack id id (16 bytes the sender
 * keeps, secret: whoever knows it and the sender's key could forge the
 * acknowledgement), after first_hop, the identity of hops[0]'s node.  hops
 * is the path as for surb_create(), FINAL at the last hop (the sender).
 * No payload key: nobody writes a message under it.  On error ack is
 * zeroed.
 */
int	surb_ack_create(uint8_t ack[SPHINX_ACK_BYTES],
	    const uint8_t id[SURB_ID_BYTES],
	    const uint8_t first_hop[SPHINX_NODE_ID_BYTES],
	    const struct sphinx_hop *hops, size_t nhops,
	    const struct sphinx_rng *rng);
/*
 * The egress provider's side: packet is what sphinx_process() passed on
 * for DELIVER with SPHINX_FLAG_ACK.  Writes the acknowledgement packet
 * (the block's header and a random payload) to ack and the node to send
 * it to to first_hop, and wipes the block from packet, which then goes to
 * the mailbox.  SPHINX_ERR_MALFORMED if the block is junk (nothing to
 * send; packet is wiped of it all the same).
 */
int	surb_ack_take(uint8_t packet[SPHINX_PACKET_BYTES],
	    uint8_t ack[SPHINX_PACKET_BYTES],
	    uint8_t first_hop[SPHINX_NODE_ID_BYTES]);
/*
 * Checks keys_len bytes of kept keys (as surb_create() wrote them, read
 * back from a store) and writes their id and epoch (either may be NULL).
 * SPHINX_ERR_MALFORMED for anything else.
 */
int	surb_keys_parse(const uint8_t *keys, size_t keys_len,
	    uint8_t id[SURB_ID_BYTES], uint64_t *epoch);

/*
 * The creator's second step: checks the header with priv, that the reply
 * came through the block whose kept keys are keys (SPHINX_ERR_INVALID if
 * not), removes every layer and checks the message's integrity
 * (SPHINX_ERR_PAYLOAD if any bit changed on the way).  Writes the message
 * (*msg_len bytes) to msg; on error *msg_len is 0 and msg is zeroed.
 */
int	surb_open(const uint8_t priv[SPHINX_KEY_BYTES], const uint8_t *keys,
	    size_t keys_len, const uint8_t in[SPHINX_PACKET_BYTES],
	    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len);

#endif /* NYMD_COMMON_SURB_H */
