/*
 * The seed's socket API requests (proto/types.proto), independent of the
 * transport: one packed Request in, one packed Response out.
 */
#ifndef NYMD_RPCD_API_H
#define NYMD_RPCD_API_H

#include <stddef.h>
#include <stdint.h>

struct queue_status;
struct rpcd_state;

/*
 * The seed's answer to a request it does not know (empty, unknown, flush
 * on the websocket). nymd's answers to those begin with it, then say what
 * was wrong: "Invalid server request: unknown request: ...".
 */
#define API_INVALID_REQUEST	"Invalid server request"

/*
 * The most reply blocks one send may ask for (docs/replies.md), and the
 * packets they take at most: the message, then blocks 4 to a packet.
 */
#define API_MAX_REPLY_SURBS	16
#define API_MAX_PACKETS		(1 + API_MAX_REPLY_SURBS / 4)

/*
 * A send request carries its message and at most this much more (the
 * recipient and its provider, field tags and lengths): a request may be
 * max_message_bytes + API_REQUEST_OVERHEAD_BYTES long, and never less
 * than the seed's 1 MiB (FRAME_MAX_MESSAGE_BYTES). On the websocket, as
 * JSON, the bytes grow by a third in base64, plus 64 KiB for the names.
 */
#define API_REQUEST_OVERHEAD_BYTES	4096
size_t	api_max_request_bytes(size_t max_message_bytes);
size_t	api_max_websocket_bytes(size_t max_request_bytes);

/*
 * Answers the packed request in req with a malloc'd packed Response in
 * *out (always: malformed input gets a ResponseException).
 */
void	api_handle(const struct rpcd_state *, const uint8_t *req, size_t len,
	    uint8_t **out, size_t *out_len);
/*
 * What the transport must know of a request before api_handle(), from
 * one look at it: a clients request with refresh (nymd's addition: the
 * listener first waits for a fresh topology), and the requests that
 * concern the connection, which the transport answers itself: subscribe
 * and watch (nymd's), flush (on the websocket, an exception).
 */
enum api_peek {
	API_PEEK_OTHER = 0,	/* for api_handle(), malformed ones too */
	API_PEEK_REFRESH,
	API_PEEK_SUBSCRIBE,
	API_PEEK_WATCH,
	API_PEEK_FLUSH,
};
enum api_peek api_peek(const uint8_t *req, size_t len);
/* The packed answers to subscribe and to watch. */
void	api_subscribed(uint8_t **out, size_t *out_len);
void	api_watching(uint8_t **out, size_t *out_len);
/* A packed changed Response (pushed to a watching connection). */
void	api_changed(const struct queue_status *, uint8_t **out, size_t *out_len);
/*
 * The received messages not fetched yet, as many as one frame holds, as a
 * packed pushed Response in *out, marked fetched (removed) once it is
 * made: 1, or 0 when there is none (*out NULL), or -1 if the store
 * failed (nothing marked).
 */
int	api_push(const struct rpcd_state *, uint8_t **out, size_t *out_len);
/* A packed ResponseException carrying text. */
void	api_exception(const char *text, uint8_t **out, size_t *out_len);

#endif
