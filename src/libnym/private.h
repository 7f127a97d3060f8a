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

struct nym_client {
	int	fd;
	int	broken;		/* framing lost: every later request fails */
	char	err[NYM_ERROR_BYTES];
};

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
	/* clients, with refresh: nymd fetches the topology first */
	WIRE_CLIENTS_REFRESH = 100,
};

/* Formats an error line into err (NYM_ERROR_BYTES) and returns code. */
int	wire_error(char *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * A whole frame (length prefix and packed Request) for kind; recipient and
 * msg only for WIRE_SEND. *out is malloc'd.
 */
int	wire_pack(char *err, enum wire_kind kind,
	    const struct nym_client_config *recipient, const void *msg, size_t len,
	    uint8_t **out, size_t *out_len);
/*
 * Unpacks the body of a response to kind: 0 with *res to free with
 * types__response__free_unpacked(), NYM_ERR_REMOTE with the exception's
 * text in err, or NYM_ERR_PROTOCOL.
 */
int	wire_unpack(char *err, enum wire_kind kind, const uint8_t *body,
	    size_t len, Types__Response **res);
/* Decoded answers: arrays in one allocation each, freed with free(). */
int	wire_messages(char *err, const Types__ResponseFetchMessages *,
	    struct nym_message **out, size_t *n);
int	wire_clients(char *err, const Types__ResponseGetClients *,
	    struct nym_client_config **out, size_t *n);
int	wire_details(char *err, const Types__ResponseOwnDetails *,
	    struct nym_client_config *out);

#endif
