/*
 * nym-provider's glue between the node core (src/node/) and the mailbox
 * store (src/provider/store.h): client registration, pull and ack over
 * the client's link, DELIVER into mailboxes, and the provider's presence.
 */
#ifndef NYMD_PROVIDER_PROVIDER_H
#define NYMD_PROVIDER_PROVIDER_H

#include "common/sandbox.h"
#include "node/node.h"

#define PROVIDER_DB_FILE	"provider.db"
/* Bytes one DELIVERY frame takes in a link's output buffer. */
#define PROVIDER_DELIVERY_WIRE_BYTES \
	(LINK_LEN_BYTES + LINK_TYPE_BYTES + LINK_ID_BYTES + \
	 SPHINX_PACKET_BYTES + NOISE_TAG_BYTES)

/*
 * Deliveries one client link may hold unacknowledged: a pull hands out
 * each packet once per link, so this (with NODE_MAX_LINKS_PER_KEY) bounds
 * what a client that never acks makes the provider read and send.
 */
#define PROVIDER_MAX_UNACKED	LINK_MAX_PULL

extern const struct node_ops provider_ops;
/* What the provider adds to the node core's sandbox (sandbox.c). */
extern const struct sandbox_call provider_sandbox_calls[];

#endif /* NYMD_PROVIDER_PROVIDER_H */
