/*
 * rpcd's local sockets: a unix socket (mode 0600, peers of our uid or
 * root only) or a TCP socket accepting only loopback peers. Both carry
 * the seed's framing: a signed zig-zag varint length, then the message.
 */
#ifndef NYMD_RPCD_LISTENER_H
#define NYMD_RPCD_LISTENER_H

#include <event2/event.h>

#include "ipc.pb-c.h"

struct rpcd_state;
struct listener;

#define LISTENER_MAX_CONNS		128
/* Stop reading a connection whose unread responses exceed this. */
#define LISTENER_MAX_PENDING_OUT_BYTES	(8u * 1024 * 1024)
/* How long a rejected connection is drained before it is closed. */
#define LISTENER_LINGER_SECONDS		2
/* A frame whose first byte has arrived must be complete within this. */
#define LISTENER_FRAME_SECONDS		10
/* At the connection limit, a connection idle this long may be closed to
 * make room for a new one. */
#define LISTENER_EVICT_IDLE_SECONDS	5

/* Binds the socket the configuration names (before the sandbox). */
struct listener *listener_open(struct event_base *, const Nymipc__ChildConfig *,
	    const struct rpcd_state *);
void	listener_free(struct listener *);
/* Starts accepting (after the sandbox). */
int	listener_start(struct listener *);
/*
 * A clients request with refresh waits (its connection unread, the
 * others served) for a fresh topology from netd, at most this long; then
 * it is answered with what rpcd has.
 */
#define LISTENER_REFRESH_WAIT_MS	4000
/* A new topology came from netd: answer the requests waiting for it. */
void	listener_topology_changed(struct listener *);

/* A received message was stored: the subscribed connection, if any,
 * gets it now. */
void	listener_delivered(struct listener *);

#endif
