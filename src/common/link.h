/*
 * nymd links: Noise_IK_25519_ChaChaPoly_BLAKE2b over TCP on libevent, with
 * fixed-size packet frames and small typed control frames (docs/link.md).
 *
 * A link owns a connected socket. All callbacks run from the event loop,
 * never from inside a link_*() call. A callback may call link_free().
 * The module does not log: closed() gets a reason (enum link_error).
 */
#ifndef NYMD_COMMON_LINK_H
#define NYMD_COMMON_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/noise.h"
#include "link.pb-c.h"

struct event_base;
struct link;

#define LINK_KEY_BYTES		NOISE_KEY_BYTES
#define LINK_PROLOGUE		"nymd-link-v1"
#define LINK_HELLO_BYTES	4	/* handshake payload: packet size */
#define LINK_MSG1_BYTES		(NOISE_MSG1_OVERHEAD_BYTES + LINK_HELLO_BYTES)
#define LINK_MSG2_BYTES		(NOISE_MSG2_OVERHEAD_BYTES + LINK_HELLO_BYTES)
#define LINK_LEN_BYTES		2	/* big-endian length before each message */
#define LINK_TYPE_BYTES		1
#define LINK_ID_BYTES		8	/* DELIVERY id, big-endian */
#define LINK_MAX_WIRE_BYTES	NOISE_MAX_MSG_BYTES
/* The largest packet whose DELIVERY frame still fits in one message. */
#define LINK_MAX_PACKET_BYTES \
	(LINK_MAX_WIRE_BYTES - NOISE_TAG_BYTES - LINK_TYPE_BYTES - LINK_ID_BYTES)
#define LINK_MAX_CONTROL_BYTES	4096
#define LINK_MAX_TOKEN_BYTES	32
#define LINK_MAX_PULL		256
#define LINK_MAX_ACK_IDS	256
#define LINK_MAX_ERROR_TEXT_BYTES 256
#define LINK_REKEY_INTERVAL_MSGS 65536	/* per direction; docs/link.md */
#define LINK_OUT_MAX_BYTES	(1024 * 1024)
#define LINK_HANDSHAKE_TIMEOUT_MS 10000

enum link_frame_type {
	LINK_FRAME_PACKET = 1,
	LINK_FRAME_CONTROL = 2,
	LINK_FRAME_DELIVERY = 3
};

/* Return values and close reasons. */
enum link_error {
	LINK_OK = 0,
	LINK_ERR_ARG = -1,		/* bad argument */
	LINK_ERR_STATE = -2,		/* not established, or closed */
	LINK_ERR_BUSY = -3,		/* output full: wait for drained() */
	LINK_ERR_NOMEM = -4,
	LINK_ERR_IO = -5,		/* socket error, see link_errno() */
	LINK_ERR_EOF = -6,		/* peer closed between messages */
	LINK_ERR_TRUNCATED = -7,	/* peer closed inside a message */
	LINK_ERR_TIMEOUT = -8,		/* handshake took too long */
	LINK_ERR_HANDSHAKE = -9,	/* bad handshake message (wrong key...) */
	LINK_ERR_DH = -10,		/* DH failed or callback reported failure */
	LINK_ERR_PEER_REJECTED = -11,	/* accept_peer() said no */
	LINK_ERR_GEOMETRY = -12,	/* peer uses another packet size */
	LINK_ERR_FRAME_SIZE = -13,	/* length out of bounds */
	LINK_ERR_DECRYPT = -14,		/* frame failed authentication */
	LINK_ERR_FRAME_TYPE = -15,	/* unknown frame type */
	LINK_ERR_PACKET_SIZE = -16,	/* packet frame of the wrong size */
	LINK_ERR_CONTROL = -17,		/* malformed control, or over a limit */
	LINK_ERR_NONCE = -18,		/* nonce space exhausted */
	LINK_ERR_CLOSED = -19		/* closed locally by link_close() */
};

/* A dh() answer when the result comes later through link_dh_result(). */
#define LINK_DH_PENDING		NOISE_DH_PENDING
/* An accept_peer() answer when it comes later through link_accept_result(). */
#define LINK_ACCEPT_PENDING	1

struct link_config {
	size_t		packet_bytes;	/* Sphinx packet size, 1..MAX */
	const uint8_t	*our_pub;	/* our static public key */
	const uint8_t	*our_priv;	/* our static private key, or NULL: dh() */
	size_t		out_max_bytes;	/* output high-water mark; 0: default;
					   at least one message */
	unsigned	handshake_timeout_ms; /* 0: default */
	/* 0: LINK_REKEY_INTERVAL_MSGS. Both ends must agree; for tests. */
	uint64_t	rekey_interval;
};

struct link_callbacks {
	void	(*established)(struct link *, void *arg,
		    const uint8_t peer[LINK_KEY_BYTES]);
	void	(*packet)(struct link *, void *arg, const uint8_t *packet,
		    size_t len);
	void	(*delivery)(struct link *, void *arg, uint64_t id,
		    const uint8_t *packet, size_t len);
	/* msg is freed when the callback returns; pings never get here */
	void	(*control)(struct link *, void *arg, const Link__Control *msg);
	/* output fell to half the high-water mark after LINK_ERR_BUSY */
	void	(*drained)(struct link *, void *arg);
	/* once; the link stays allocated until link_free() */
	void	(*closed)(struct link *, void *arg, int reason);
	/*
	 * responder: 0 accepts the authenticated initiator key, another
	 * value refuses it, LINK_ACCEPT_PENDING answers later through
	 * link_accept_result() (message 2 waits, the handshake timeout
	 * runs); NULL: all.
	 */
	int	(*accept_peer)(struct link *, void *arg,
		    const uint8_t peer[LINK_KEY_BYTES]);
	/*
	 * DH(our static private key, peer_pub), when our_priv is NULL.
	 * Returns 0 with out filled, LINK_DH_PENDING (copy peer_pub; answer
	 * with link_dh_result()), or negative to fail the handshake.
	 */
	int	(*dh)(struct link *, void *arg, uint8_t out[LINK_KEY_BYTES],
		    const uint8_t peer_pub[LINK_KEY_BYTES]);
};

/*
 * Takes the connected socket fd (made non-blocking, closed by the link)
 * unless it fails. The initiator knows peer_pub, the responder's key.
 */
int	link_new_initiator(struct link **, struct event_base *, int fd,
	    const struct link_config *, const uint8_t peer_pub[LINK_KEY_BYTES],
	    const struct link_callbacks *, void *arg);
int	link_new_responder(struct link **, struct event_base *, int fd,
	    const struct link_config *, const struct link_callbacks *, void *arg);
/* The answer to a pending dh(); shared == NULL: keyd could not do it. */
int	link_dh_result(struct link *, const uint8_t *shared);
/* The answer to a pending accept_peer(): 1 accepts, 0 refuses. */
int	link_accept_result(struct link *, int accept);

/* 0, LINK_ERR_BUSY (nothing queued; wait for drained()) or an error. */
int	link_send_packet(struct link *, const uint8_t *packet, size_t len);
int	link_send_delivery(struct link *, uint64_t id, const uint8_t *packet,
	    size_t len);
int	link_send_control(struct link *, const Link__Control *);

/* Stop (1) or resume (0) reading, to pass back-pressure upstream. */
void	link_pause(struct link *, int paused);
/* Stop reading; close (reason LINK_ERR_CLOSED) once the output is sent. */
void	link_shutdown(struct link *);
/* Close now without calling closed(); safe inside callbacks. */
void	link_free(struct link *);

int	link_is_established(const struct link *);
const uint8_t *link_peer_key(const struct link *);	/* once established */
const uint8_t *link_handshake_hash(const struct link *);
size_t	link_output_bytes(const struct link *);
int	link_errno(const struct link *);
const char *link_strerror(int);

/*
 * The wire format as pure functions (fuzzed by tests/fuzz/fuzz_link.c).
 */
struct link_frame {
	enum link_frame_type type;
	uint64_t	id;		/* DELIVERY */
	const uint8_t	*packet;	/* PACKET, DELIVERY: into the input */
	size_t		packet_len;
	Link__Control	*control;	/* CONTROL: free with link_frame_clear() */
};

/* The largest ciphertext a link of this packet size accepts. */
size_t	link_max_message(size_t packet_bytes);
/* A 2-byte length: LINK_OK with *len in [min, max], else LINK_ERR_FRAME_SIZE. */
int	link_message_length(const uint8_t hdr[LINK_LEN_BYTES], size_t min,
	    size_t max, size_t *len);
/* Decrypts msg in place, rekeying first at interval boundaries. */
int	link_open(struct noise_cipher *, uint64_t rekey_interval, uint8_t *msg,
	    size_t len, size_t *plain_len);
/* Encrypts plain_len bytes in place; buf has room for the tag. */
int	link_seal(struct noise_cipher *, uint64_t rekey_interval, uint8_t *buf,
	    size_t plain_len);
/* Parses a decrypted frame; LINK_OK or a LINK_ERR_FRAME_* reason. */
int	link_frame_parse(const uint8_t *plain, size_t len, size_t packet_bytes,
	    struct link_frame *);
void	link_frame_clear(struct link_frame *);
/* Checks a control message against the limits: LINK_OK or LINK_ERR_CONTROL. */
int	link_control_check(const Link__Control *);
void	link_hello_write(uint8_t out[LINK_HELLO_BYTES], size_t packet_bytes);
/* LINK_OK if the peer's hello names our packet size, else LINK_ERR_GEOMETRY. */
int	link_hello_check(const uint8_t *hello, size_t len, size_t packet_bytes);

#endif /* NYMD_COMMON_LINK_H */
