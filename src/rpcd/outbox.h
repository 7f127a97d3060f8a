/*
 * rpcd's window of committed messages in flight: asks keyd to build the
 * oldest OUTBOX_WINDOW pending rows of the store, and asks again for what
 * was lost. A row whose packet the provider confirmed leaves the window:
 * a reply is deleted, a forward row waits with the provider for its
 * acknowledgement (docs/acks.md) until its deadline, when the store has
 * it pending again and it is built again. A row whose packet could not be
 * built waits a second outside the window, so that it holds no place
 * there. Messages that expire undelivered are failed by the same timer
 * that finds the deadlines.
 */
#ifndef NYMD_RPCD_OUTBOX_H
#define NYMD_RPCD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* Packets netd may hold for us at once (netd/traffic.c has room for
 * more: a window and the one before an rpcd restart). */
#define OUTBOX_WINDOW	64
/*
 * A row's deadline (docs/acks.md, "Retransmission"): when the provider
 * confirmed its packet, plus its round trip (the delays keyd drew for the
 * packet and its acknowledgement's path, IPC_ACK_TIMER), plus slack of
 * max(OUTBOX_MIN_SLACK_MS, round trip / 4) for what the delays do not
 * count (links, queues, processing), plus two mean intervals between our
 * pulls (the acknowledgement waits in our mailbox for one). Before keyd's
 * round trip came, it is estimated as twice the mean of
 * OUTBOX_DELAYS_PER_ROUND_TRIP delays of average_delay_ms (a sum of 10
 * exponential delays exceeds twice its mean with probability 0.005); a
 * late IPC_ACK_TIMER sets the deadline again. Each time a row was sent
 * again unacknowledged doubles its wait (up to 2^OUTBOX_MAX_BACKOFF
 * times), so that a recipient's provider that does not acknowledge (down,
 * or too old) costs a few hundred packets a day, not a send slot every
 * few seconds.
 */
#define OUTBOX_MIN_SLACK_MS		2000u
#define OUTBOX_MAX_BACKOFF		6
#define OUTBOX_DELAYS_PER_ROUND_TRIP	10
#define OUTBOX_MAX_ROUND_TRIP_MS	(3600u * 1000)
#define OUTBOX_DEFAULT_DELAY_MS		50.0
#define OUTBOX_DEFAULT_FETCH_RATE	10.0

struct outbox;
struct queue;
struct queue_outgoing;

/* build() asks keyd for a message's packet; -1 if keyd or netd is down
 * (outbox_fill() is called again when they are back). */
struct outbox *outbox_new(struct event_base *, struct queue *,
	    int (*build)(void *, const struct queue_outgoing *), void *arg);
void	outbox_free(struct outbox *);
/* Takes new messages into the window and asks for what is due. */
void	outbox_fill(struct outbox *);
/* keyd or netd is new: what was handed to the old one is gone. */
void	outbox_reset(struct outbox *);
/* The client's average_delay_ms and fetch rate (per second), for the
 * deadlines; outbox_new() sets the defaults. */
void	outbox_set_timing(struct outbox *, double mean_delay_ms, double fetch_rate);
/* The deadline (Unix ms) of a packet the provider took at handed_ms with
 * this round trip (0: not known, the estimate), sent attempts times
 * before unacknowledged. */
int64_t	outbox_deadline_ms(const struct outbox *, int64_t handed_ms,
	    uint32_t round_trip_ms, unsigned attempts);
/* Fails expired messages, has rows whose deadline passed sent again and
 * fills the window; then again when the next is due (at start, then by
 * itself). */
void	outbox_check(struct outbox *);
/* netd: the provider has id's packet: it leaves the window (a forward
 * row awaits its acknowledgement, a reply is deleted). 0, or -1 if the
 * store could not say so (a reply kept apart, see queue_sent(); a
 * forward row is held out of the window until its deadline). */
int	outbox_sent(struct outbox *, uint64_t id);
/* keyd: id's packet and its acknowledgement take round_trip_ms. */
void	outbox_round_trip(struct outbox *, uint64_t id, uint32_t round_trip_ms);
/* keyd: an acknowledgement came; queue_acked()'s result. */
int	outbox_acked(struct outbox *, const uint8_t ack_id[16]);
/* keyd could not build id's packet, or hand it to netd. */
void	outbox_failed(struct outbox *, uint64_t id, const char *why);
/* netd dropped id's packet unsent. */
void	outbox_expired(struct outbox *, uint64_t id);
size_t	outbox_in_flight(const struct outbox *);
void	outbox_on_retry(evutil_socket_t, short, void *);

#endif
