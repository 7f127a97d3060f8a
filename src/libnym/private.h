/*
 * libnym's internals, shared by its files and hidden from applications
 * (only nym_* symbols are exported). wire.c turns requests into frames and
 * frames into answers; client.c does blocking I/O; async.c does libevent
 * I/O; start.c finds or starts a nymd.
 */
#ifndef NYMD_LIBNYM_PRIVATE_H
#define NYMD_LIBNYM_PRIVATE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "libnym/nym.h"
#include "types.pb-c.h"

#define NYM_ERROR_BYTES		1024

/* A message pushed while the application was not waiting for one. */
struct client_pushed {
	struct client_pushed	*next;
	struct nym_message	*msg;	/* for nym_messages_free() */
};

struct nym_client {
	int			 fd;
	int			 broken;	/* framing lost: every later request fails */
	unsigned int		 timeout_ms;	/* nym_set_timeout() */
	int			 subscribed;	/* nym_wait_message() subscribed */
	struct client_pushed	*pushed;	/* oldest first */
	struct client_pushed	**pushed_tail;
	char			 err[NYM_ERROR_BYTES];
};

/* Frees the pushed messages nobody waited for. */
void	client_pushed_free(struct nym_client *);

/*
 * Records why a connection could not be made, for nym_last_error(NULL),
 * in this thread; returns code with errno unchanged.
 */
int	client_fail(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The requests, by the Request oneof case of proto/types.proto. */
enum wire_kind {
	WIRE_SEND = TYPES__REQUEST__VALUE_SEND,
	WIRE_FETCH = TYPES__REQUEST__VALUE_FETCH,
	WIRE_CLIENTS = TYPES__REQUEST__VALUE_CLIENTS,
	WIRE_DETAILS = TYPES__REQUEST__VALUE_DETAILS,
	WIRE_FLUSH = TYPES__REQUEST__VALUE_FLUSH,
	WIRE_SUBSCRIBE = TYPES__REQUEST__VALUE_SUBSCRIBE,
	WIRE_LIMITS = TYPES__REQUEST__VALUE_LIMITS,
	WIRE_REPLY = TYPES__REQUEST__VALUE_REPLY,
	WIRE_STATUS = TYPES__REQUEST__VALUE_STATUS,	/* msg: the message id */
	WIRE_WATCH = TYPES__REQUEST__VALUE_WATCH,
	/* clients, with refresh: nymd fetches the topology first */
	WIRE_CLIENTS_REFRESH = 100,
	/* send, whose asynchronous callback gets the message id */
	WIRE_SEND_ID = 101,
};

/* The Request (and Response) oneof case of a kind. */
int	wire_case(enum wire_kind);

/* Formats an error line into err (NYM_ERROR_BYTES) and returns code. */
int	wire_error(char *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * A whole frame (length prefix and packed Request) for kind; recipient and
 * msg only for WIRE_SEND (and WIRE_SEND_ID), msg alone for WIRE_STATUS
 * (the message id). *out is malloc'd.
 */
int	wire_pack(char *err, enum wire_kind kind,
	    const struct nym_client_config *recipient, const void *msg, size_t len,
	    uint8_t **out, size_t *out_len);
/* wire_unpack() found a pushed message, or a pushed status change
 * (changed), not the answer. */
#define WIRE_PUSHED	1
#define WIRE_CHANGED	2

/*
 * Unpacks the body of a response to kind: 0 with *res to free with
 * types__response__free_unpacked(), WIRE_PUSHED or WIRE_CHANGED with *res
 * a pushed Response (not the answer: read on), NYM_ERR_REMOTE with the
 * exception's text in err, or NYM_ERR_PROTOCOL.
 */
int	wire_unpack(char *err, enum wire_kind kind, const uint8_t *body,
	    size_t len, Types__Response **res);
/* Decoded answers: arrays in one allocation each, freed with free(). */
int	wire_messages(char *err, const Types__ResponseFetchMessages *,
	    struct nym_message **out, size_t *n);
/* Each pushed message as its own allocation, for nym_messages_free(). */
int	wire_pushed(char *err, const Types__ResponsePushed *,
	    struct nym_message ***out, size_t *n);
int	wire_clients(char *err, const Types__ResponseGetClients *,
	    struct nym_client_config **out, size_t *n);
int	wire_details(char *err, const Types__ResponseOwnDetails *,
	    struct nym_client_config *out);
/* A MessageStatus (status, changed); its message id must be there. */
int	wire_status(char *err, const Types__MessageStatus *,
	    struct nym_message_status *out);
/* The message id of a send or reply answer into id, all zero if it has
 * none (an older nymd); NYM_ERR_PROTOCOL if it is not 16 bytes. */
int	wire_message_id(char *err, const Types__ResponseSendMessage *,
	    uint8_t id[NYM_MESSAGE_ID_BYTES]);

#endif
