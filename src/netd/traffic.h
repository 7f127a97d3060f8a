/*
 * The Loopix streams of one client (DESIGN.md section 5): a send stream
 * that carries the next real packet or else a drop cover, a loop-cover
 * stream and a fetch stream, each a Poisson process. Also the bookkeeping
 * that makes delivery exactly-once: a queued message is forgotten only
 * when the provider confirmed its packet (a pong after it), and a pulled
 * packet is acknowledged only once rpcd has stored its message.
 */
#ifndef NYMD_NETD_TRAFFIC_H
#define NYMD_NETD_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "ipc.pb-c.h"
#include "link.pb-c.h"

struct traffic;
struct provider_link;

/* How netd reaches keyd and rpcd; each returns 0 or -1 (peer down). */
struct traffic_hooks {
	int	(*build)(void *arg, Nymipc__PacketKind kind, const Nymipc__Outgoing *o);
	int	(*unwrap)(void *arg, uint64_t id, const uint8_t *packet, size_t len);
	int	(*received)(void *arg, uint64_t id, const Nymipc__Received *r);
	int	(*sent)(void *arg, uint64_t outgoing_id);
	/* Asks rpcd for its whole outgoing queue again: netd had to refuse
	 * some of it (full, out of memory) and has room now. */
	void	(*want_queue)(void *arg);
};

struct traffic_rates {
	double	send;		/* per second; <= 0 disables the stream */
	double	loop;
	double	fetch;
	int	cover_disabled;	/* no drop cover when nothing real is queued */
};

struct traffic *traffic_new(struct event_base *, struct provider_link *,
	    const struct traffic_hooks *, void *arg);
void	traffic_free(struct traffic *);
void	traffic_set_rates(struct traffic *, const struct traffic_rates *);
/*
 * The key epoch length the topology announces (docs/epochs.md): a packet
 * the provider link lost is sent again as the same bytes while its hops'
 * keys still accept it, and rebuilt only after that.
 */
void	traffic_set_epoch_seconds(struct traffic *, uint32_t seconds);

/* Events from the provider link. */
void	traffic_link_up(struct traffic *);
void	traffic_link_down(struct traffic *);
void	traffic_delivery(struct traffic *, uint64_t id, const uint8_t *packet, size_t len);
void	traffic_control(struct traffic *, const Link__Control *);

/* Events from keyd and rpcd. */
void	traffic_keyd_up(struct traffic *);
void	traffic_built(struct traffic *, const Nymipc__Ipc *reply);
void	traffic_unwrapped(struct traffic *, const Nymipc__Ipc *reply);
void	traffic_rpcd_up(struct traffic *);
void	traffic_outgoing(struct traffic *, const Nymipc__Outgoing *);
void	traffic_stored(struct traffic *, uint64_t delivery_id);
/* rpcd could not store delivery_id: leave it at the provider, pull again. */
void	traffic_not_stored(struct traffic *, uint64_t delivery_id);

void	traffic_status(const struct traffic *, Nymipc__NetStatus *);

#endif
