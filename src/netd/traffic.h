/*
 * The Loopix streams of one client (DESIGN.md section 5): a send stream
 * that carries the next real packet or else a drop cover, a loop-cover
 * stream and a fetch stream, each a Poisson process. Also netd's part of
 * exactly-once delivery: netd holds finished packets and rpcd's opaque
 * queue ids only, tells rpcd when the provider confirmed a packet (a pong
 * after it), and acknowledges a pulled packet only once rpcd has stored
 * its message (docs/ipc.md).
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
	int	(*cover)(void *arg, Nymipc__PacketKind kind);
	int	(*unwrap)(void *arg, uint64_t id, const uint8_t *packet, size_t len);
	/* The provider confirmed the packet of rpcd's queue id. */
	int	(*sent)(void *arg, uint64_t id);
	/* A packet netd dropped unsent (too old to send, or no room):
	 * rpcd has it built again. */
	int	(*expired)(void *arg, uint64_t id);
};

/* What netd counts (logged at exit, and for the metrics). */
struct traffic_stats {
	uint64_t	real_sent;
	uint64_t	real_resent;	/* sent again unchanged after a link loss */
	uint64_t	cover_sent;
	uint64_t	loops_returned;
	uint64_t	loop_rtt_ms_last;
	uint64_t	loop_rtt_ms_sum;	/* over loops_returned */
	uint64_t	received;
	uint64_t	dropped;
};

struct traffic_rates {
	double	send;		/* per second; <= 0 disables the stream */
	double	loop;
	double	fetch;
	int	cover_disabled;	/* no drop cover when nothing real is queued */
};

/* The streams take the provider link's events (registration, loss,
 * deliveries, control) for themselves, until traffic_free(). */
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

/* Events from keyd and rpcd. */
void	traffic_keyd_up(struct traffic *);
void	traffic_rpcd_up(struct traffic *);
/* A real message's packet, for rpcd's queue id (from keyd). */
void	traffic_packet(struct traffic *, uint64_t id, const uint8_t *packet);
void	traffic_cover(struct traffic *, const Nymipc__Cover *);
void	traffic_unwrapped(struct traffic *, const Nymipc__Unwrapped *);
void	traffic_stored(struct traffic *, uint64_t delivery_id);
/* rpcd could not store delivery_id: leave it at the provider, pull again. */
void	traffic_not_stored(struct traffic *, uint64_t delivery_id);

const struct traffic_stats *traffic_stats(const struct traffic *);

#endif
