/*
 * The window of committed messages in flight (docs/ipc.md, "Sending").
 * There is one queue, the store's; the window only says which of its
 * oldest pending rows keyd was asked to build. keyd hands each packet to
 * netd, and netd says when the provider confirmed it (outbox_sent) or
 * that it dropped it unsent (outbox_expired: built again). A confirmed
 * forward row leaves the window and waits in the store, with the
 * provider, for its acknowledgement (outbox_acked: deleted) until its
 * deadline, when it is pending again and built again (docs/acks.md); a
 * confirmed reply is deleted. After a restart of any role the window is
 * rebuilt from the store.
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
/* Pending rows read from the store at a time, looking for new ones. */
#define OUTBOX_SCAN		128
/* The store's deadlines and expiries are checked when the first is due,
 * and at least this often (which also forgets old statuses). */
#define OUTBOX_CHECK_MAX_MS	(3600 * 1000)
/* Rows handed to the provider before keyd's round trip for them came:
 * the latest ones, so that a late IPC_ACK_TIMER still sets their
 * deadline. */
#define OUTBOX_LATE		256

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
	uint32_t	 round_trip_ms;	/* keyd's IPC_ACK_TIMER; 0: not yet */
	unsigned	 attempts;	/* sent again unacknowledged before */
};

/* A row with the provider whose deadline came from the estimate. */
struct handed {
	uint64_t	 id;
	int64_t		 at_ms;		/* Unix ms the provider had it */
	unsigned	 attempts;
};

struct outbox {
	struct queue	*queue;
	struct event	*retry_ev;
	struct event	*due_ev;	/* the store's next deadline or expiry */
	int64_t		 due_at_ms;	/* Unix ms due_ev is set for; 0: none */
	int		(*build)(void *, const struct queue_outgoing *);
	void		*arg;
	struct slot	 slots[OUTBOX_SLOTS];
	size_t		 n;		/* slots in use */
	int		 blocked;	/* build() failed: a peer is down */
	uint32_t	 estimate_ms;	/* a round trip before keyd's came */
	uint32_t	 fetch_ms;	/* the mean time between our pulls */
	struct handed	 late[OUTBOX_LATE];
	size_t		 next_late;
};

static void	outbox_on_due(evutil_socket_t, short, void *);

struct outbox *
outbox_new(struct event_base *base, struct queue *q,
    int (*build)(void *, const struct queue_outgoing *), void *arg)
{
	struct outbox *o = xcalloc(1, sizeof(*o));

	o->queue = q;
	o->build = build;
	o->arg = arg;
	o->retry_ev = xevtimer_new(base, outbox_on_retry, o);
	o->due_ev = xevtimer_new(base, outbox_on_due, o);
	outbox_set_timing(o, OUTBOX_DEFAULT_DELAY_MS, OUTBOX_DEFAULT_FETCH_RATE);
	return o;
}

void
outbox_free(struct outbox *o)
{
	if (o == NULL)
		return;
	event_free(o->retry_ev);
	event_free(o->due_ev);
	free(o);
}

void
outbox_set_timing(struct outbox *o, double mean_delay_ms, double fetch_rate)
{
	double est = 2.0 * OUTBOX_DELAYS_PER_ROUND_TRIP * (mean_delay_ms > 0 ?
	    mean_delay_ms : 0);
	double fetch = fetch_rate > 0 ? 1000.0 / fetch_rate : 1000.0;

	o->estimate_ms = est > OUTBOX_MAX_ROUND_TRIP_MS ? OUTBOX_MAX_ROUND_TRIP_MS :
	    (uint32_t)est;
	o->fetch_ms = fetch > OUTBOX_MAX_ROUND_TRIP_MS ? OUTBOX_MAX_ROUND_TRIP_MS :
	    (uint32_t)fetch;
}

int64_t
outbox_deadline_ms(const struct outbox *o, int64_t handed_ms, uint32_t round_trip_ms,
    unsigned attempts)
{
	uint32_t rt = round_trip_ms != 0 ? round_trip_ms : o->estimate_ms;
	uint32_t slack = rt / 4 > OUTBOX_MIN_SLACK_MS ? rt / 4 : OUTBOX_MIN_SLACK_MS;
	int64_t wait = (int64_t)rt + (int64_t)slack + 2 * (int64_t)o->fetch_ms;

	return handed_ms + (wait << (attempts < OUTBOX_MAX_BACKOFF ? attempts :
	    OUTBOX_MAX_BACKOFF));
}

static struct slot *
outbox_slot(struct outbox *o, uint64_t id)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].id == id)
			return &o->slots[i];
	return NULL;
}

static void
outbox_drop_slot(struct outbox *o, struct slot *s)
{
	*s = o->slots[--o->n];
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

/* From the store: a row entering the window, or a slot's again. */
static void
outbox_ask(void *arg, const struct queue_outgoing *q)
{
	struct outbox *o = arg;
	struct slot *s = outbox_slot(o, q->id);

	if (q->with_provider) {
		/* Handed meanwhile (its IPC_SENT came): not built again
		 * before its deadline. */
		if (s != NULL)
			outbox_drop_slot(o, s);
		return;
	}
	if (s == NULL) {
		if (o->n == OUTBOX_SLOTS)
			return;
		s = &o->slots[o->n++];
		*s = (struct slot){ .id = q->id, .state = SLOT_WANTED };
	}
	if (o->blocked)
		return;
	if (o->build(o->arg, q) == -1) {
		o->blocked = 1;
		return;
	}
	s->state = SLOT_ASKED;
	s->round_trip_ms = 0;	/* a new path: keyd says its round trip */
	s->attempts = q->attempts;
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

/* The due timer at Unix ms at, unless it is set for sooner already. */
static void
outbox_arm_due(struct outbox *o, int64_t at)
{
	int64_t now = queue_now_ms(o->queue), wait;
	struct timeval tv;

	if (at <= 0 || at > now + OUTBOX_CHECK_MAX_MS)
		at = now + OUTBOX_CHECK_MAX_MS;
	if (o->due_at_ms != 0 && o->due_at_ms <= at &&
	    evtimer_pending(o->due_ev, NULL))
		return;
	wait = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	o->due_at_ms = at;
	evtimer_add(o->due_ev, &tv);
}

/* New pending rows into the window, oldest first, while there is room:
 * rows already in a slot are skipped (at most OUTBOX_SLOTS of them). */
static void
outbox_take_new(struct outbox *o)
{
	uint64_t ids[OUTBOX_SCAN], after = 0;
	long n;

	for (;;) {
		size_t active = outbox_active(o);
		if (o->blocked || active >= OUTBOX_WINDOW || o->n == OUTBOX_SLOTS)
			return;
		if ((n = queue_pending_ids(o->queue, after, ids, OUTBOX_SCAN)) == -1) {
			log_warnx("cannot read the outgoing queue");
			return;
		}
		for (long i = 0; i < n && !o->blocked; i++) {
			if (outbox_active(o) >= OUTBOX_WINDOW || o->n == OUTBOX_SLOTS)
				return;
			if (outbox_slot(o, ids[i]) == NULL &&
			    queue_outgoing_one(o->queue, ids[i], outbox_ask, o) == -1)
				log_warnx("cannot read message %llu from the store",
				    (unsigned long long)ids[i]);
		}
		if (n < OUTBOX_SCAN)
			return;
		after = ids[n - 1];
	}
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
		size_t before = o->n;
		long n = queue_outgoing_one(o->queue, s->id, outbox_ask, o);
		if (n == 0) {
			/* Gone from the store (acknowledged, expired,
			 * delivered and kept apart). */
			outbox_drop_slot(o, s);
			i--;
		} else if (n == -1)
			log_warnx("cannot read message %llu from the store",
			    (unsigned long long)s->id);
		else if (o->n < before)
			i--;	/* with the provider: dropped by outbox_ask() */
	}
	outbox_take_new(o);
	if (next != 0)
		outbox_arm(o, next);
}

void
outbox_on_retry(evutil_socket_t fd, short what, void *arg)
{
	outbox_fill(arg);
}

void
outbox_check(struct outbox *o)
{
	long n;

	if ((n = queue_expire_messages(o->queue)) == -1)
		log_warnx("message store: cannot fail expired messages: %s",
		    queue_error(o->queue));
	if ((n = queue_resend_due(o->queue, queue_now_ms(o->queue))) == -1)
		log_warnx("message store: cannot send unacknowledged packets "
		    "again: %s", queue_error(o->queue));
	else if (n > 0)
		log_debug("%ld packets unacknowledged by their deadline: sent again", n);
	outbox_fill(o);
	o->due_at_ms = 0;
	outbox_arm_due(o, queue_next_due_ms(o->queue));
}

static void
outbox_on_due(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *o = arg;

	o->due_at_ms = 0;
	outbox_check(o);
}

void
outbox_reset(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].state == SLOT_ASKED)
			o->slots[i].state = SLOT_WANTED;
	outbox_fill(o);
}

/* A row handed on an estimate: a late round trip finds it here. */
static void
outbox_remember(struct outbox *o, uint64_t id, int64_t at_ms, unsigned attempts)
{
	o->late[o->next_late] = (struct handed){ id, at_ms, attempts };
	o->next_late = (o->next_late + 1) % OUTBOX_LATE;
}

int
outbox_sent(struct outbox *o, uint64_t id)
{
	struct slot *s = outbox_slot(o, id);
	uint32_t rt = s != NULL ? s->round_trip_ms : 0;
	unsigned attempts = s != NULL ? s->attempts : 0;
	int64_t now = queue_now_ms(o->queue);
	int64_t deadline = outbox_deadline_ms(o, now, rt, attempts);
	int rc = queue_handed(o->queue, id, deadline);

	if (rc == -2 && s != NULL) {
		/* Not recorded (the store cannot write): held out of the
		 * window until its deadline, then built again. */
		s->state = SLOT_WAITING;
		s->retry_at_ms = clock_monotonic_ms() + (uint64_t)(deadline - now);
		outbox_arm(o, s->retry_at_ms);
		outbox_fill(o);
		return -1;
	}
	if (s != NULL)
		outbox_drop_slot(o, s);
	if (rc == 0) {
		if (rt == 0)
			outbox_remember(o, id, now, attempts);
		outbox_arm_due(o, deadline);
	}
	outbox_fill(o);
	return rc < 0 ? -1 : 0;
}

void
outbox_round_trip(struct outbox *o, uint64_t id, uint32_t round_trip_ms)
{
	struct slot *s = outbox_slot(o, id);

	if (round_trip_ms == 0)
		round_trip_ms = 1;	/* no delays at all: heard all the same */
	if (s != NULL && s->state == SLOT_ASKED) {
		s->round_trip_ms = round_trip_ms;
		return;
	}
	/* It came after the provider confirmed the packet: the deadline
	 * is set again from the time it was handed. */
	for (size_t i = 0; i < OUTBOX_LATE; i++) {
		struct handed *h = &o->late[i];
		if (h->id != id || h->at_ms == 0)
			continue;
		int64_t deadline = outbox_deadline_ms(o, h->at_ms, round_trip_ms,
		    h->attempts);
		h->id = 0;
		h->at_ms = 0;
		if (queue_set_deadline(o->queue, id, deadline) == 0)
			outbox_arm_due(o, deadline);
		return;
	}
}

int
outbox_acked(struct outbox *o, const uint8_t ack_id[QUEUE_ACK_ID_BYTES])
{
	uint64_t id = 0;
	int rc = queue_acked(o->queue, ack_id, &id);
	struct slot *s;

	/* Acknowledged while being sent again: its slot goes. */
	if (rc == 0 && (s = outbox_slot(o, id)) != NULL && s->state != SLOT_ASKED) {
		outbox_drop_slot(o, s);
		outbox_fill(o);
	}
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
	/* Said as the message's reason, should it expire like this. */
	if (queue_build_failed(o->queue, id, why) == -1)
		log_debug("message %llu: cannot keep why it was not built: %s",
		    (unsigned long long)id, queue_error(o->queue));
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
