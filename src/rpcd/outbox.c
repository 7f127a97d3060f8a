/*
 * The window of committed messages in flight (docs/ipc.md, "Sending").
 * There is one queue, the store's; the window only says which of its
 * oldest messages keyd was asked to build. keyd hands each packet to netd,
 * and netd says when the provider confirmed it (outbox_sent: the message
 * is deleted) or that it dropped it unsent (outbox_expired: built again).
 * After a restart of any role the window is rebuilt from the store.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "rpcd/outbox.h"
#include "rpcd/queue.h"

#define OUTBOX_RETRY_MS		1000
/* Slots in all: the window, and messages whose packet could not be built
 * (e.g. their recipient's provider left the topology), which wait outside
 * the window so that they cannot hold it against the messages behind. */
#define OUTBOX_SLOTS		1024

enum slot_state {
	SLOT_WANTED,	/* to be (re)built when keyd and netd are there */
	SLOT_ASKED,	/* keyd was asked; its packet is with netd, or coming */
	SLOT_WAITING,	/* keyd could not build it: again at retry_at_ms */
};

struct slot {
	uint64_t	 id;
	enum slot_state	 state;
	uint64_t	 retry_at_ms;
	unsigned	 failures;
};

struct outbox {
	struct queue	*queue;
	struct event	*retry_ev;
	int		(*build)(void *, const struct queue_outgoing *);
	void		*arg;
	struct slot	 slots[OUTBOX_SLOTS];
	size_t		 n;		/* slots in use */
	uint64_t	 last_id;	/* the newest id ever in the window */
	int		 blocked;	/* build() failed: a peer is down */
};

struct outbox *
outbox_new(struct event_base *base, struct queue *q,
    int (*build)(void *, const struct queue_outgoing *), void *arg)
{
	struct outbox *o = xcalloc(1, sizeof(*o));

	o->queue = q;
	o->build = build;
	o->arg = arg;
	o->retry_ev = xevtimer_new(base, outbox_on_retry, o);
	return o;
}

void
outbox_free(struct outbox *o)
{
	if (o == NULL)
		return;
	event_free(o->retry_ev);
	free(o);
}

static struct slot *
outbox_slot(struct outbox *o, uint64_t id)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].id == id)
			return &o->slots[i];
	return NULL;
}

/* Slots in the window: asked for, or to be asked for. */
static size_t
outbox_active(const struct outbox *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].state != SLOT_WAITING)
			n++;
	return n;
}

/* From the store: a new message entering the window, or a slot's again. */
static void
outbox_ask(void *arg, const struct queue_outgoing *q)
{
	struct outbox *o = arg;
	struct slot *s = outbox_slot(o, q->id);

	if (s == NULL) {
		if (o->n == OUTBOX_SLOTS)
			return;
		s = &o->slots[o->n++];
		*s = (struct slot){ .id = q->id, .state = SLOT_WANTED };
		if (q->id > o->last_id)
			o->last_id = q->id;
	}
	if (o->blocked)
		return;
	if (o->build(o->arg, q) == -1) {
		o->blocked = 1;
		return;
	}
	s->state = SLOT_ASKED;
}

static void
outbox_arm(struct outbox *o, uint64_t at_ms)
{
	uint64_t now = clock_monotonic_ms();
	uint64_t wait = at_ms > now ? at_ms - now : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	if (!evtimer_pending(o->retry_ev, NULL))
		evtimer_add(o->retry_ev, &tv);
}

void
outbox_fill(struct outbox *o)
{
	uint64_t now = clock_monotonic_ms(), next = 0;

	o->blocked = 0;
	for (size_t i = 0; i < o->n && !o->blocked; i++) {
		struct slot *s = &o->slots[i];
		if (s->state == SLOT_WAITING && s->retry_at_ms > now) {
			if (next == 0 || s->retry_at_ms < next)
				next = s->retry_at_ms;
			continue;
		}
		if (s->state == SLOT_ASKED)
			continue;
		/* A waiting one comes back only into a window with room. */
		if (s->state == SLOT_WAITING && outbox_active(o) >= OUTBOX_WINDOW)
			continue;
		long n = queue_outgoing_one(o->queue, s->id, outbox_ask, o);
		if (n == 0) {
			/* Gone from the store (delivered, kept apart). */
			*s = o->slots[--o->n];
			i--;
		} else if (n == -1)
			log_warnx("cannot read message %llu from the store",
			    (unsigned long long)s->id);
	}
	size_t active = outbox_active(o);
	size_t room = active < OUTBOX_WINDOW ? OUTBOX_WINDOW - active : 0;
	if (room > OUTBOX_SLOTS - o->n)
		room = OUTBOX_SLOTS - o->n;
	if (!o->blocked && room > 0 &&
	    queue_outgoing_after(o->queue, o->last_id, room, outbox_ask, o) == -1)
		log_warnx("cannot read the outgoing queue");
	if (next != 0)
		outbox_arm(o, next);
}

void
outbox_on_retry(evutil_socket_t fd, short what, void *arg)
{
	outbox_fill(arg);
}

void
outbox_reset(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].state == SLOT_ASKED)
			o->slots[i].state = SLOT_WANTED;
	outbox_fill(o);
}

int
outbox_sent(struct outbox *o, uint64_t id)
{
	struct slot *s = outbox_slot(o, id);
	int rc = queue_sent(o->queue, id);

	if (s != NULL)
		*s = o->slots[--o->n];
	outbox_fill(o);
	return rc;
}

void
outbox_failed(struct outbox *o, uint64_t id, const char *why)
{
	struct slot *s = outbox_slot(o, id);

	if (s == NULL || s->state != SLOT_ASKED)
		return;
	/* e.g. the recipient's provider is not in the topology (yet) */
	if (s->failures++ == 0)
		log_warnx("message %llu: its packet could not be built or handed "
		    "over: %s; trying again every %d ms", (unsigned long long)id, why,
		    OUTBOX_RETRY_MS);
	s->state = SLOT_WAITING;
	s->retry_at_ms = clock_monotonic_ms() + OUTBOX_RETRY_MS;
	outbox_arm(o, s->retry_at_ms);
}

void
outbox_expired(struct outbox *o, uint64_t id)
{
	struct slot *s = outbox_slot(o, id);

	if (s == NULL || s->state != SLOT_ASKED)
		return;
	log_debug("message %llu: netd dropped its packet unsent; built again",
	    (unsigned long long)id);
	s->state = SLOT_WAITING;
	s->retry_at_ms = clock_monotonic_ms() + OUTBOX_RETRY_MS;
	outbox_arm(o, s->retry_at_ms);
}

size_t
outbox_in_flight(const struct outbox *o)
{
	return outbox_active(o);
}
