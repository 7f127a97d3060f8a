/*
 * What one application message is, for every process that handles one:
 * rpcd (which takes it), keyd (which puts it in a packet) and the IPC
 * contract between them. keyd/packet.h lays it out in a Sphinx payload.
 */
#ifndef NYMD_MESSAGE_H
#define NYMD_MESSAGE_H

#include "common/sphinx.h"

/* A message's random id, which the recipient drops duplicates by. */
#define MESSAGE_ID_BYTES	16
/* The largest message one packet carries: the payload less its type
 * byte and the message id. */
#define MESSAGE_MAX_BYTES \
	(SPHINX_MAX_MESSAGE_BYTES - 1 - MESSAGE_ID_BYTES)	/* 2031 */

/* A reply block's kept keys as keyd seals them for rpcd's store
 * (docs/replies.md): nonce || crypto_secretbox of SURB_KEYS_BYTES. */
/*
 * A forward packet carries an acknowledgement block for the recipient's
 * provider (docs/acks.md) in SPHINX_ACK_BYTES of its payload: its message
 * is at most MESSAGE_MAX_ACKED_BYTES. A reply carries none: up to
 * MESSAGE_MAX_BYTES. ACK_ID_BYTES: the id an acknowledgement names.
 */
#define MESSAGE_MAX_ACKED_BYTES \
	(SPHINX_MAX_ACKED_MESSAGE_BYTES - 1 - MESSAGE_ID_BYTES)	/* 1615 */
#define ACK_ID_BYTES		SPHINX_SURB_ID_BYTES	/* 16 */
#define MESSAGE_SEALED_KEYS_BYTES	(24 + 16 + 704)		/* 744 */

#endif
