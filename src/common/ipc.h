/*
 * IPC between nymd's processes: Ipc protobuf messages (proto/ipc.proto) on
 * a unix socketpair, each frame a 4-byte big-endian length and the packed
 * message, at most IPC_MAX_FRAME_BYTES. A channel may carry one file
 * descriptor with an IPC_PEER message (SCM_RIGHTS). Each channel has the
 * dispatch table of the peer at its far end: a type without a handler in
 * it (a message from the wrong peer), a body that is not the type's, an
 * oversize frame or bytes that do not unpack are a protocol error, refused
 * here before any handler runs (ipc_check).
 */
#ifndef NYMD_IPC_H
#define NYMD_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "ipc.pb-c.h"

#define IPC_MAX_FRAME_BYTES	(8u * 1024 * 1024)
#define IPC_HEADER_BYTES	4
#define IPC_MAX_PENDING_FDS	8

struct ipc_chan;

typedef void (*ipc_handler)(struct ipc_chan *, const Nymipc__Ipc *, int fd, void *arg);

enum ipc_close_reason {
	IPC_CLOSED_EOF = 1,		/* peer closed */
	IPC_CLOSED_IO,			/* read/write error */
	IPC_CLOSED_PROTOCOL,		/* malformed, oversize or unexpected */
};

/* Short names for the generated enum values (macros: the generated
 * enum types stay the types, without -Wenum-compare noise). */
#define IPC_CONFIG	NYMIPC__IPC_TYPE__IPC_CONFIG
#define IPC_READY	NYMIPC__IPC_TYPE__IPC_READY
#define IPC_PEER	NYMIPC__IPC_TYPE__IPC_PEER
#define IPC_SHUTDOWN	NYMIPC__IPC_TYPE__IPC_SHUTDOWN
#define IPC_RELOAD	NYMIPC__IPC_TYPE__IPC_RELOAD
#define IPC_FATAL	NYMIPC__IPC_TYPE__IPC_FATAL
#define IPC_PROVIDER_CHOSEN	NYMIPC__IPC_TYPE__IPC_PROVIDER_CHOSEN
#define IPC_PUBKEY_REQUEST	NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST
#define IPC_PUBKEY_REPLY	NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY
#define IPC_TOPOLOGY	NYMIPC__IPC_TYPE__IPC_TOPOLOGY
#define IPC_TOPOLOGY_REFRESH	NYMIPC__IPC_TYPE__IPC_TOPOLOGY_REFRESH
#define IPC_BUILD	NYMIPC__IPC_TYPE__IPC_BUILD
#define IPC_BUILD_FAILED	NYMIPC__IPC_TYPE__IPC_BUILD_FAILED
#define IPC_PACKET	NYMIPC__IPC_TYPE__IPC_PACKET
#define IPC_EXPIRED	NYMIPC__IPC_TYPE__IPC_EXPIRED
#define IPC_SENT	NYMIPC__IPC_TYPE__IPC_SENT
#define IPC_NETD_UP	NYMIPC__IPC_TYPE__IPC_NETD_UP
#define IPC_COVER_REQUEST	NYMIPC__IPC_TYPE__IPC_COVER_REQUEST
#define IPC_COVER	NYMIPC__IPC_TYPE__IPC_COVER
#define IPC_UNWRAP	NYMIPC__IPC_TYPE__IPC_UNWRAP
#define IPC_UNWRAPPED	NYMIPC__IPC_TYPE__IPC_UNWRAPPED
#define IPC_RECEIVED	NYMIPC__IPC_TYPE__IPC_RECEIVED
#define IPC_STORED	NYMIPC__IPC_TYPE__IPC_STORED
#define IPC_NOT_STORED	NYMIPC__IPC_TYPE__IPC_NOT_STORED
#define IPC_DH_REQUEST	NYMIPC__IPC_TYPE__IPC_DH_REQUEST
#define IPC_DH_REPLY	NYMIPC__IPC_TYPE__IPC_DH_REPLY
#define IPC_REGISTER_SIGN	NYMIPC__IPC_TYPE__IPC_REGISTER_SIGN
#define IPC_REGISTER_SIGNED	NYMIPC__IPC_TYPE__IPC_REGISTER_SIGNED
#define IPC_TRAFFIC_STATS	NYMIPC__IPC_TYPE__IPC_TRAFFIC_STATS
#define IPC_BUILT	NYMIPC__IPC_TYPE__IPC_BUILT
#define IPC_REPLY_ARRIVED	NYMIPC__IPC_TYPE__IPC_REPLY_ARRIVED
#define IPC_REPLY_OPEN	NYMIPC__IPC_TYPE__IPC_REPLY_OPEN
#define IPC_REPLY_FAILED	NYMIPC__IPC_TYPE__IPC_REPLY_FAILED
#define IPC_ACK_TIMER	NYMIPC__IPC_TYPE__IPC_ACK_TIMER
#define IPC_ACKED	NYMIPC__IPC_TYPE__IPC_ACKED
#define IPC_TYPE_LAST	IPC_TRAFFIC_STATS
#define ROLE_MASTER	NYMIPC__ROLE__ROLE_MASTER
#define ROLE_KEYD	NYMIPC__ROLE__ROLE_KEYD
#define ROLE_NETD	NYMIPC__ROLE__ROLE_NETD
#define ROLE_RPCD	NYMIPC__ROLE__ROLE_RPCD
#define KIND_NONE	NYMIPC__PACKET_KIND__PACKET_NONE
#define KIND_REAL	NYMIPC__PACKET_KIND__PACKET_REAL
#define KIND_LOOP	NYMIPC__PACKET_KIND__PACKET_LOOP
#define KIND_DROP	NYMIPC__PACKET_KIND__PACKET_DROP
#define KIND_MALFORMED	NYMIPC__PACKET_KIND__PACKET_MALFORMED
#define KIND_ACK	NYMIPC__PACKET_KIND__PACKET_ACK
#define KIND_LOOP_ACK	NYMIPC__PACKET_KIND__PACKET_LOOP_ACK

struct ipc_dispatch {
	/* Indexed by Nymipc__IpcType; NULL means "not expected here". */
	ipc_handler	handlers[IPC_TYPE_LAST + 1];
	/* Called once when the channel fails; the channel is then freed by it. */
	void		(*closed)(struct ipc_chan *, enum ipc_close_reason, const char *why, void *arg);
};

struct ipc_chan *ipc_chan_new(struct event_base *, int fd, const char *peer_name,
	    const struct ipc_dispatch *, void *arg);
void	ipc_chan_free(struct ipc_chan *);
const char *ipc_chan_name(const struct ipc_chan *);
int	ipc_chan_fd(const struct ipc_chan *);

/* Queues msg (and fd, or -1; the fd is closed once sent). 0 or -1. */
int	ipc_send(struct ipc_chan *, const Nymipc__Ipc *msg, int fd);
/* Convenience: a message with only type and seq set (a type without a
 * body), or with the id body. */
int	ipc_send_type(struct ipc_chan *, Nymipc__IpcType type, uint64_t seq);
int	ipc_send_id(struct ipc_chan *, Nymipc__IpcType type, uint64_t id);
/* Writes everything queued, blocking; for the moment before exit. */
int	ipc_flush(struct ipc_chan *);
size_t	ipc_pending_bytes(const struct ipc_chan *);

/*
 * Pure frame parser (fuzzed): -1 if the header announces an oversize
 * frame, 0 if more bytes are needed, 1 if a whole frame is in buf. Once the
 * header is complete, *msg_len holds the announced message length.
 */
int	ipc_frame_parse(const uint8_t *buf, size_t len, size_t *msg_len);

/*
 * The contract, checked for every message before its handler runs: 0 if
 * the dispatch table has a handler for its type and its body is the one
 * the type carries, well-formed (key and packet sizes, a valid role);
 * otherwise -1 with the reason in why. Pure (unit-tested and fuzzed).
 */
int	ipc_check(const struct ipc_dispatch *, const Nymipc__Ipc *, char *why, size_t len);

const char *ipc_type_name(Nymipc__IpcType type);
/* Logs how many frames of each type this process sent and received
 * (one line, at exit: make bench counts frames per message with it). */
void	ipc_log_counts(void);

#endif
