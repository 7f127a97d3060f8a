/*
 * IPC between nymd's processes: Ipc protobuf messages (proto/ipc.proto) on
 * a unix socketpair, each frame a 4-byte big-endian length and the packed
 * message, at most IPC_MAX_FRAME_BYTES. A channel may carry one file
 * descriptor with an IPC_PEER message (SCM_RIGHTS). Incoming messages are
 * dispatched by type through a table; a type without a handler, an
 * oversize frame or bytes that do not unpack are a protocol error.
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

/* The highest Nymipc__IpcType: a new type in ipc.proto moves it. */
#define IPC_TYPE_LAST	NYMIPC__IPC_TYPE__IPC_TOPOLOGY_REFRESH

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
/* Convenience: sends a message with only type and seq set. */
int	ipc_send_type(struct ipc_chan *, Nymipc__IpcType type, uint64_t seq);
/* Writes everything queued, blocking; for the moment before exit. */
int	ipc_flush(struct ipc_chan *);
size_t	ipc_pending_bytes(const struct ipc_chan *);

/*
 * Pure frame parser (fuzzed): -1 if the header announces an oversize
 * frame, 0 if more bytes are needed, 1 if a whole frame is in buf. Once the
 * header is complete, *msg_len holds the announced message length.
 */
int	ipc_frame_parse(const uint8_t *buf, size_t len, size_t *msg_len);

const char *ipc_type_name(Nymipc__IpcType type);

#endif
