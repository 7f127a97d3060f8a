/*
 * The one HTTP request rpcd understands: a websocket opening handshake
 * (RFC 6455 section 4, on HTTP/1.1 as RFC 9112 frames it). The parser is
 * strict: anything that is not a well-formed GET upgrade of the expected
 * path, from an allowed origin, is refused with a status and a reason.
 */
#ifndef NYMD_RPCD_HTTP_H
#define NYMD_RPCD_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* The request head (request line and headers, with the blank line). */
#define HTTP_MAX_HEAD_BYTES	8192
#define HTTP_MAX_HEADERS	64
/* A response head and its short text body always fit in this. */
#define HTTP_MAX_RESPONSE_BYTES	512
/* base64(SHA-1) is 28 characters. */
#define HTTP_WS_ACCEPT_CHARS	28

enum http_parse_result {
	HTTP_NEED_MORE = 0,	/* the head is not complete yet */
	HTTP_REFUSED = -1,	/* see status and why */
};

struct http_upgrade {
	int		 status;	/* 101 when accepted, else 4xx/5xx */
	const char	*why;		/* static text: what was wrong */
	char		 accept[HTTP_WS_ACCEPT_CHARS + 1];
};

/*
 * Parses the len bytes received so far. A request with an Origin header
 * (a browser's) is refused with 403 unless that origin is in origins
 * (websocket_allowed_origins: "scheme://host" entries allow every port,
 * "scheme://host:port" that port; NULL allows none); one without is not
 * a browser's and is served. Returns the size of the complete
 * request head (> 0) when it is an acceptable upgrade to path (u->status
 * is 101; bytes after the head are websocket frames), HTTP_NEED_MORE, or
 * HTTP_REFUSED with u->status and u->why set. A refusal may come before
 * the head is complete, as soon as the bytes received cannot be right.
 */
long	http_parse_upgrade(const uint8_t *buf, size_t len, const char *path,
	    const char *origins, struct http_upgrade *u);
/*
 * Writes the response to u: 101 Switching Protocols with the accept key,
 * or the error status with u->why as a text body and Connection: close.
 * Returns its length, or -1 when cap is too small.
 */
int	http_response(const struct http_upgrade *u, char *out, size_t cap);
/* Sec-WebSocket-Accept for the key (RFC 6455 section 4.2.2). */
void	http_ws_accept(const char *key, size_t key_len,
	    char out[HTTP_WS_ACCEPT_CHARS + 1]);

#endif
