/*
 * rpcd's websocket (RFC 6455) on path /mix: a binary message carries a
 * packed types.Request and is answered with a binary packed Response; a
 * text message carries the protobuf JSON mapping (rpcd/wsjson.h) and is
 * answered in JSON. The listener accepts the TCP connection and checks
 * that the peer is on loopback; this module does the rest.
 */
#ifndef NYMD_RPCD_WEBSOCKET_H
#define NYMD_RPCD_WEBSOCKET_H

#include <event2/event.h>

#include "common/frame.h"

struct rpcd_state;
struct websocket_server;

#define WEBSOCKET_PATH			"/mix"
#define WEBSOCKET_MAX_CONNS		128
/*
 * A message may carry a request as large as the TCP socket allows
 * (rpcd_state's max_request_bytes). As JSON, its bytes grow by a third
 * in base64, plus room for the recipient and the field names
 * (max_websocket_bytes, api_max_websocket_bytes()). The seed read at
 * most 2048 bytes. A larger message, however fragmented, is skipped and
 * answered with an exception; the connection stays open.
 */
/* Stop reading a connection whose unread responses exceed this. */
#define WEBSOCKET_MAX_PENDING_OUT_BYTES	(8u * 1024 * 1024)
/* A ping every interval; a peer silent for two intervals is gone. */
#define WEBSOCKET_PING_SECONDS		30
#define WEBSOCKET_HANDSHAKE_SECONDS	10
/* At the connection limit, a connection idle this long may be closed to
 * make room for a new one. */
#define WEBSOCKET_EVICT_IDLE_SECONDS	5
/* How long a refused or closed connection is drained before closing. */
#define WEBSOCKET_LINGER_SECONDS	2

/* origins: websocket_allowed_origins (copied). */
struct websocket_server *websocket_server_new(struct event_base *,
	    const struct rpcd_state *, const char *origins);
/* Closes every connection. */
void	websocket_server_free(struct websocket_server *);
/* Takes over fd, an accepted connection from a loopback peer; when
 * refusal is not NULL, answers its handshake with 403 and that text. */
void	websocket_accept(struct websocket_server *, int fd, const char *refusal);

#endif
