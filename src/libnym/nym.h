/*
 * libnym: the client API of nymd's local socket, in C (libnym(3)).
 *
 * The seed's Go API was client.Start(), client.GetReceivedMessages() and
 * client.SendMessage(message, recipient); here they are nym_client_start(),
 * nym_fetch() and nym_send(). A struct nym_client is one connection to a
 * running nymd over its unix or TCP socket, speaking the seed's protocol
 * (a varint length, then a protobuf Request or Response).
 *
 * Every function that can fail returns 0 or a negative enum nym_error;
 * nym_last_error() then says what went wrong in one line. The blocking
 * functions wait for nymd's answer; the nym_async_* functions queue the
 * request on a libevent event_base and call back with the answer.
 */
#ifndef NYM_H
#define NYM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header; nym_version() says that of the library in
 * use ("0.1.0"), which may be newer. The symbols are versioned (NYM_1.0;
 * delivery status NYM_1.1).
 */
#define NYM_VERSION_MAJOR	0
#define NYM_VERSION_MINOR	1
#define NYM_VERSION_PATCH	0

/* Marks what libnym exports; everything else in it is hidden. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define NYM_API	__attribute__((visibility("default")))
#else
#define NYM_API
#endif

#define NYM_KEY_BYTES		32
/* An id is a 32-byte key in URL-safe base64 with padding: 44 characters. */
#define NYM_ID_CHARS		44
/* Sizes of the string fields below, with their terminating NUL. */
#define NYM_ID_BYTES		64
#define NYM_HOST_BYTES		256
#define NYM_PORT_BYTES		16
/*
 * No nymd takes a request larger than this: its largest max_message_bytes
 * (13197312, nymd.conf(5)) and 4096 bytes for the rest of a send. A
 * nymd's own limit follows its configuration: nym_max_message_size().
 */
#define NYM_MAX_REQUEST_BYTES	(13197312 + 4096)
/* libnym refuses responses larger than this. */
#define NYM_MAX_RESPONSE_BYTES	(64 * 1024 * 1024)
/* How long nym_client_start() waits for a nymd it started. */
#define NYM_START_TIMEOUT_MS	15000

enum nym_error {
	NYM_OK = 0,
	NYM_ERR_IO = -1,	/* reading or writing the socket failed, or it closed */
	NYM_ERR_CONNECT = -2,	/* nothing listens at the address */
	NYM_ERR_PROTOCOL = -3,	/* nymd's answer is not what the protocol allows */
	NYM_ERR_REMOTE = -4,	/* nymd answered with an exception: nym_last_error() */
	NYM_ERR_NOMEM = -5,
	NYM_ERR_INVALID = -6,	/* a bad argument (an id, an oversized message, ...) */
	NYM_ERR_NOT_FOUND = -7,	/* no such client (nym_send_id(), nym_client_start()) */
	NYM_ERR_START = -8,	/* nymd could not be started */
	NYM_ERR_TIMEOUT = -9,	/* no answer within nym_set_timeout()'s limit */
	NYM_ERR_CANCELED = -10	/* by nym_cancel() or nym_async_free() */
};

/* config.MixConfig of the seed: a mixnode or a provider. */
struct nym_mix_config {
	char		id[NYM_ID_BYTES];
	char		host[NYM_HOST_BYTES];
	char		port[NYM_PORT_BYTES];
	int		has_pubkey;
	uint8_t		pubkey[NYM_KEY_BYTES];
	uint64_t	layer;
};

/* config.ClientConfig of the seed: a client and its provider. */
struct nym_client_config {
	char			id[NYM_ID_BYTES];
	char			host[NYM_HOST_BYTES];
	char			port[NYM_PORT_BYTES];
	int			has_pubkey;
	uint8_t			pubkey[NYM_KEY_BYTES];
	int			has_provider;
	struct nym_mix_config	provider;
};

/* A received message; data is followed by a NUL that len does not count. */
struct nym_message {
	uint8_t	*data;
	size_t	 len;
};

struct nym_client;

/*
 * Connecting. On success *out is a new connection for nym_close(); on
 * failure (NYM_ERR_CONNECT with errno set, ...) nym_last_error(NULL) says why.
 */
NYM_API int	nym_connect_unix(struct nym_client **out, const char *path);
NYM_API int	nym_connect_tcp(struct nym_client **out, const char *host, const char *port);
/*
 * Wraps a connected stream socket; nym_close() will close it. Anything
 * but a stream socket (a file, a pipe, a datagram socket) is refused with
 * NYM_ERR_INVALID and left open.
 */
NYM_API int	nym_connect_fd(struct nym_client **out, int fd);
/*
 * Connects to client id's nymd on its default socket, first starting
 * `nymd run --id ID --home ROOT` in the background when nothing listens
 * there, then waiting up to NYM_START_TIMEOUT_MS for it. home is ROOT, or
 * NULL for $NYMD_HOME, else ~/.loopix. nymd is $NYMD_BINARY, else found
 * in $PATH.
 */
NYM_API int	nym_client_start(struct nym_client **out, const char *id, const char *home);
/* ROOT/clients/ID/nymd.sock into buf; NYM_ERR_INVALID if id is not valid. */
NYM_API int	nym_default_socket_path(char *buf, size_t size, const char *id,
	    const char *home);
NYM_API void	nym_close(struct nym_client *);
/*
 * The process id of the nymd serving this connection into *pid: on a unix
 * socket from the kernel (SO_PEERCRED: the daemon that listens there, the
 * one nym_client_start() started or found running). NYM_ERR_NOT_FOUND on
 * a TCP connection or a socket without credentials.
 */
NYM_API int	nym_daemon_pid(const struct nym_client *, long *pid);

/*
 * Limits each call's wait for nymd's answer; 0 (the default) waits
 * forever. A blocking call that times out gives NYM_ERR_TIMEOUT and leaves
 * the connection unusable (a late answer would be taken for the next
 * one's). nym_async_new() carries the limit over to the asynchronous
 * requests (see nym_async_set_timeout()).
 */
NYM_API int	nym_set_timeout(struct nym_client *, unsigned int ms);

/*
 * Blocking requests. nym_send() needs recipient->pubkey (or an id that is
 * the key); with has_provider 0 nymd completes the provider from its
 * topology, and answers NYM_ERR_REMOTE ("send: the recipient has no
 * provider, and the topology does not list its key") if it cannot. A
 * message of more than nym_max_message_size() bytes is refused
 * (NYM_ERR_REMOTE).
 */
NYM_API int	nym_send(struct nym_client *, const struct nym_client_config *recipient,
	    const void *msg, size_t len);
/* Sends to the registered client with this id, found through nym_clients(). */
NYM_API int	nym_send_id(struct nym_client *, const char *recipient_id,
	    const void *msg, size_t len);
/* Takes the messages received so far, oldest first; free with nym_messages_free(). */
NYM_API int	nym_fetch(struct nym_client *, struct nym_message **msgs, size_t *n);
NYM_API void	nym_messages_free(struct nym_message *msgs);
/* The clients registered in the topology; free with nym_clients_free(). */
NYM_API int	nym_clients(struct nym_client *, struct nym_client_config **list, size_t *n);
NYM_API void	nym_clients_free(struct nym_client_config *list);
/* This client's own configuration: its id, key and provider. */
NYM_API int	nym_details(struct nym_client *, struct nym_client_config *out);
/* Returns once nymd has written every earlier response. */
NYM_API int	nym_flush(struct nym_client *);
/* The largest message nymd takes in a send, in bytes (asked of nymd). */
NYM_API int	nym_max_message_size(struct nym_client *, size_t *bytes);
/*
 * Waits for the next message pushed by nymd, up to timeout_ms (-1:
 * forever, 0: only what has arrived); *msg is one message to free with
 * nym_messages_free(). The first call subscribes the connection (one
 * round trip): from then on nymd pushes each message as it arrives and
 * removes it as a fetch does, so nym_fetch() on any connection no longer
 * sees it. One connection per client may be subscribed: another gets
 * NYM_ERR_REMOTE ("subscribe: another connection is subscribed ...").
 * Messages nymd held before are pushed at once. NYM_ERR_TIMEOUT leaves the
 * connection usable; other requests may be made between waits (messages
 * pushed meanwhile are kept for the next wait).
 */
NYM_API int	nym_wait_message(struct nym_client *, int timeout_ms,
	    struct nym_message **msg);

/*
 * The line that says why the last call on this connection failed; with
 * NULL, why the last nym_connect_*() or nym_client_start() of this thread
 * failed.
 */
NYM_API const char *nym_last_error(const struct nym_client *);
NYM_API const char *nym_strerror(int err);
/* The version of the library in use: "MAJOR.MINOR.PATCH". */
NYM_API const char *nym_version(void);

/*
 * Id helpers: the id of a key (out holds NYM_ID_CHARS + 1), and the key of
 * an id (0, or NYM_ERR_INVALID when id is not 44 URL-safe base64 chars).
 */
NYM_API void	nym_id_from_key(char *out, const uint8_t key[NYM_KEY_BYTES]);
NYM_API int	nym_key_from_id(uint8_t key[NYM_KEY_BYTES], const char *id);

/*
 * Asynchronous API on libevent. nym_async_new() takes over connection c
 * (connect it first with any nym_connect_*() or nym_client_start());
 * nym_async_free() closes it. Requests are answered in the order they
 * were made. Each callback gets 0 or a nym_error, exactly once; the data it
 * is given is valid only until it returns. A callback may make new
 * requests and may call nym_async_free() and nym_cancel().
 */
struct event_base;
struct nym_async;

typedef void	nym_done_cb(struct nym_async *, int err, void *arg);
typedef void	nym_fetch_cb(struct nym_async *, int err,
		    const struct nym_message *msgs, size_t n, void *arg);
typedef void	nym_clients_cb(struct nym_async *, int err,
		    const struct nym_client_config *list, size_t n, void *arg);
typedef void	nym_details_cb(struct nym_async *, int err,
		    const struct nym_client_config *details, void *arg);
/* One pushed message (err 0), or the end of the subscription (err). */
typedef void	nym_message_cb(struct nym_async *, int err,
		    const struct nym_message *msg, void *arg);

NYM_API int	nym_async_new(struct nym_async **out, struct event_base *base,
	    struct nym_client *c);
/*
 * Pending requests get NYM_ERR_CANCELED, then the connection closes. Inside
 * a callback the handle is freed once that callback returns.
 */
NYM_API void	nym_async_free(struct nym_async *);
/* Called once when the connection fails (after pending requests get err). */
NYM_API void	nym_async_set_error_cb(struct nym_async *, nym_done_cb *cb, void *arg);
NYM_API int	nym_async_send(struct nym_async *, const struct nym_client_config *recipient,
	    const void *msg, size_t len, nym_done_cb *cb, void *arg);
NYM_API int	nym_async_fetch(struct nym_async *, nym_fetch_cb *cb, void *arg);
NYM_API int	nym_async_clients(struct nym_async *, nym_clients_cb *cb, void *arg);
NYM_API int	nym_async_details(struct nym_async *, nym_details_cb *cb, void *arg);
NYM_API const char *nym_async_last_error(const struct nym_async *);
/*
 * Each request made from now on must be answered within ms (0: no limit),
 * or its callback gets NYM_ERR_TIMEOUT; its late answer is then dropped
 * and the connection stays usable. nym_async_new() starts with the limit
 * nym_set_timeout() set on the connection.
 */
NYM_API int	nym_async_set_timeout(struct nym_async *, unsigned int ms);
/*
 * The id (1, 2, ...) of the request that the last successful
 * nym_async_send/fetch/clients/details/subscribe() call made on a, for
 * nym_cancel(); 0 before any.
 */
NYM_API unsigned long nym_async_last_request(const struct nym_async *);
/*
 * Its callback gets NYM_ERR_CANCELED at once, and nymd's answer will be
 * dropped. The request may already have reached nymd: a canceled send may
 * still be sent. NYM_ERR_NOT_FOUND if the request is no longer pending,
 * NYM_ERR_INVALID for a subscription.
 */
NYM_API int	nym_cancel(struct nym_async *, unsigned long request);
/*
 * Subscribes the connection: cb is called with each message nymd pushes
 * as it arrives (removed from nymd's store as by a fetch; see
 * nym_wait_message()). A refused subscription, a lost connection or
 * nym_async_free() end it with one last call with err (NYM_ERR_REMOTE,
 * NYM_ERR_IO, NYM_ERR_CANCELED, ...). Its request has no deadline and
 * cannot be canceled (NYM_ERR_INVALID): messages pushed after giving up
 * would be lost. One subscription per handle; not on a connection that
 * nym_wait_message() subscribed.
 */
NYM_API int	nym_async_subscribe(struct nym_async *, nym_message_cb *cb, void *arg);


/*
 * Reply blocks (docs/replies.md, libnym(3)), nymd's addition. A message
 * sent with reply_surbs (at most NYM_MAX_REPLY_SURBS) carries that many
 * single-use reply blocks; its recipient sees a random sender tag and may
 * answer through them with nym_reply(), one block per reply, without
 * learning who sent it. nym_fetch_received() returns each message with
 * its sender tag (has_tag) and message id.
 */
#define NYM_MAX_REPLY_SURBS	16
#define NYM_TAG_BYTES		16
#define NYM_MESSAGE_ID_BYTES	16

struct nym_received {
	uint8_t	*data;
	size_t	 len;
	int	 has_tag;
	uint8_t	 tag[NYM_TAG_BYTES];
	int	 has_id;
	uint8_t	 id[NYM_MESSAGE_ID_BYTES];
};

NYM_API int	nym_send_with_replies(struct nym_client *, const struct nym_client_config *recipient,
	    const void *msg, size_t len, unsigned int reply_surbs);
/* The same, to a client id looked up as nym_send_id() does. */
NYM_API int	nym_send_id_with_replies(struct nym_client *, const char *recipient_id,
	    const void *msg, size_t len, unsigned int reply_surbs);
NYM_API int	nym_reply(struct nym_client *, const uint8_t tag[NYM_TAG_BYTES],
	    const void *msg, size_t len);
NYM_API int	nym_fetch_received(struct nym_client *, struct nym_received **msgs, size_t *n);
NYM_API void	nym_received_free(struct nym_received *msgs);

/*
 * Delivery status (docs/acks.md, libnym(3)), nymd's addition. nymd gives
 * every message sent (and every reply) a message id of
 * NYM_MESSAGE_ID_BYTES; the recipient's provider acknowledges each of its
 * packets, and nymd sends again what is not acknowledged, until the
 * message is delivered or it expires (failed). Symbols of NYM_1.1.
 *
 * nym_send_message() is the send that gives the id: to recipient as
 * nym_send() does or, when recipient is NULL, to the client recipient_id
 * as nym_send_id() does; with reply_surbs reply blocks (0: none) as
 * nym_send_with_replies(). The id is written to id unless it is NULL; it
 * is all zero when nymd gave none (a nymd older than delivery status).
 * nym_reply_message() is nym_reply() giving the reply's id.
 *
 * nym_status() asks the state of the message with that id: NYM_ERR_REMOTE
 * when nymd does not know it ("status: no message with id ...": never
 * sent by this nymd, or forgotten 7 days after it ended).
 * nym_message_state_name() is "queued", "sending", "delivered", "failed",
 * "sent" (a reply: replies are not acknowledged), or "unknown".
 */
enum nym_message_state {
	NYM_MESSAGE_QUEUED = 0,		/* stored; no packet of it with the provider yet */
	NYM_MESSAGE_SENDING = 1,	/* packets out; acknowledged of packets acknowledged */
	NYM_MESSAGE_DELIVERED = 2,	/* every packet is in the recipient's mailbox */
	NYM_MESSAGE_FAILED = 3,		/* given up at its expiry: reason says why */
	NYM_MESSAGE_SENT = 4		/* a reply: our provider has it */
};

#define NYM_REASON_BYTES	256

struct nym_message_status {
	uint8_t		id[NYM_MESSAGE_ID_BYTES];
	int		state;		/* an enum nym_message_state (a later nymd may add some) */
	unsigned int	packets;	/* its packets (fragments) in all */
	unsigned int	acknowledged;	/* of them acknowledged */
	char		reason[NYM_REASON_BYTES];	/* NYM_MESSAGE_FAILED: why; else "" */
};

NYM_API int	nym_send_message(struct nym_client *, const struct nym_client_config *recipient,
	    const char *recipient_id, const void *msg, size_t len, unsigned int reply_surbs,
	    uint8_t id[NYM_MESSAGE_ID_BYTES]);
NYM_API int	nym_reply_message(struct nym_client *, const uint8_t tag[NYM_TAG_BYTES],
	    const void *msg, size_t len, uint8_t id[NYM_MESSAGE_ID_BYTES]);
NYM_API int	nym_status(struct nym_client *, const uint8_t id[NYM_MESSAGE_ID_BYTES],
	    struct nym_message_status *out);
NYM_API const char *nym_message_state_name(int state);

/*
 * The same on the asynchronous API. nym_async_send_message() is
 * nym_async_send() whose callback gets the message's id (NULL on error,
 * or from an older nymd). nym_async_status() asks one message's state.
 * nym_async_watch() makes nymd push every change of a sent message's
 * state to this handle from now on: cb is called with each (err 0), of
 * every message this nymd sends, whoever asked for it; a refused watch, a
 * lost connection or nym_async_free() end it with one last call with err.
 * Like a subscription it has no deadline and cannot be canceled; one per
 * handle. A message's changes come in order, after its send's answer; a
 * handle that reads too slowly for nymd (4096 changes behind) is given
 * each message's latest where it can (nym_async_status() still has each).
 */
typedef void	nym_sent_cb(struct nym_async *, int err, const uint8_t *id, void *arg);
typedef void	nym_status_cb(struct nym_async *, int err,
		    const struct nym_message_status *status, void *arg);

NYM_API int	nym_async_send_message(struct nym_async *,
	    const struct nym_client_config *recipient, const void *msg, size_t len,
	    nym_sent_cb *cb, void *arg);
NYM_API int	nym_async_status(struct nym_async *, const uint8_t id[NYM_MESSAGE_ID_BYTES],
	    nym_status_cb *cb, void *arg);
NYM_API int	nym_async_watch(struct nym_async *, nym_status_cb *cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif
