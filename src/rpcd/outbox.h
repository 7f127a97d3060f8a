/*
 * rpcd's window of committed messages in flight: asks keyd to build the
 * oldest OUTBOX_WINDOW messages of the store, deletes one when netd says
 * the provider confirmed its packet, and asks again for what was lost. A
 * message whose packet could not be built waits a second outside the
 * window, so that it holds no place there.
 */
#ifndef NYMD_RPCD_OUTBOX_H
#define NYMD_RPCD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* Packets netd may hold for us at once (netd/traffic.c has room for
 * more: a window and the one before an rpcd restart). */
#define OUTBOX_WINDOW	64

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
/* netd: the provider has id's packet. queue_sent()'s result. */
int	outbox_sent(struct outbox *, uint64_t id);
/* keyd could not build id's packet, or hand it to netd. */
void	outbox_failed(struct outbox *, uint64_t id, const char *why);
/* netd dropped id's packet unsent. */
void	outbox_expired(struct outbox *, uint64_t id);
size_t	outbox_in_flight(const struct outbox *);
void	outbox_on_retry(evutil_socket_t, short, void *);

#endif
