/*
 * nym-directory's HTTP API on libevent's evhttp: the routes of the seed's
 * directory, JSON in and out, a JSON error body for every refusal.
 */
#ifndef NYMD_DIRECTORY_SERVER_H
#define NYMD_DIRECTORY_SERVER_H

#include <stdint.h>

#include "directory/registry.h"

/*
 * evhttp itself refuses (413, and closes) a body over this; bodies between
 * BODY_MAX_BYTES and this get our 400 with a JSON error.
 */
#define SERVER_MAX_READ_BYTES	(4 * BODY_MAX_BYTES)
#define SERVER_MAX_HEADER_BYTES	8192
#define SERVER_TIMEOUT_SECONDS	10
/* POSTs per second from one address (--post-rate), and the burst allowed
 * (this many seconds' worth). */
#define SERVER_DEFAULT_POST_RATE	20
#define SERVER_POST_BURST_SECONDS	3

struct event_base;
struct server;

/*
 * Listens on address (an IP literal or name) and port (0: any). On error
 * returns NULL with a message in err.
 */
/* post_rate: POSTs per second from one address; 0: no limit. */
struct server	*server_new(struct event_base *, struct registry *,
		    const char *address, uint16_t port, uint32_t post_rate,
		    char *err, size_t errlen);
void		 server_free(struct server *);
/* The port actually bound (useful with port 0); 0 if unknown. */
uint16_t	 server_port(const struct server *);
void		 server_now(struct registry_now *);

#endif
