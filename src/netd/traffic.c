#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/link.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/sphinx.h"
#include "common/xalloc.h"
#include "netd/provider.h"
#include "netd/traffic.h"

/*
 * Ready covers of each kind: enough for TRAFFIC_POOL_MS of the stream's
 * rate, so that keyd answering late for a while (descheduled, busy with a
 * burst of real packets or unwraps) does not leave a tick without a packet.
 * Every tick asks keyd for one more, so the pool stays full while keyd
 * keeps up on average.
 */
#define TRAFFIC_POOL_MS		50
#define TRAFFIC_POOL_MIN	4
#define TRAFFIC_POOL_MAX	128
#define TRAFFIC_EMPTY_LOG_MS	10000	/* at most one warning per interval */
#define TRAFFIC_PULL_MAX	32
#define TRAFFIC_MAX_PENDING	LINK_MAX_PULL	/* the provider's lease bound */
#define TRAFFIC_MAX_BATCHES	16
/*
 * A batch is acknowledged at the first fetch tick at least this long
 * after its pull reply (and once each delivery in it is decided): the
 * provider then sees this hold plus the wait for a tick, whatever the
 * batch held, unless storing it took longer (docs/ipc.md).
 */
#define TRAFFIC_ACK_HOLD_MS	1000
/* rpcd keeps a window of messages in flight (rpcd/outbox.c); this is
 * room for a window and the one before an rpcd restart. */
#define TRAFFIC_MAX_PACKETS	256
#define TRAFFIC_RETRY_MS	1000
/* A delivery keyd or rpcd never answered for (a message lost with a
 * dying peer), or one a pull reply announced and that never came, stops
 * holding up its batch after this. */
#define TRAFFIC_PENDING_MAX_MS	30000
/* Without an announced epoch length: how long a built packet is re-sent. */
#define TRAFFIC_RESEND_MAX_AGE_MS	(5 * 60 * 1000)

enum out_state {
	OUT_READY,
	OUT_SENT,	/* waiting for the pong of `nonce` */
	OUT_CONFIRMED,	/* confirmed; rpcd, down, is told when it is back */
};

/* A real message's packet: netd knows its bytes and rpcd's queue id. */
struct out_pkt {
	uint64_t	 id;
	enum out_state	 state;
	uint64_t	 nonce;
	uint64_t	 got_ms;	/* when keyd built it (monotonic) */
	uint8_t		*packet;	/* SPHINX_PACKET_BYTES */
};

/*
 * A delivery of the batch the last pull brought. None is answered on its
 * own: the batch is acknowledged as a whole at the first fetch tick after
 * every member is decided (docs/ipc.md, "One ack schedule"), so the
 * provider sees the same schedule for real messages, loop covers and
 * malformed packets.
 */
enum pending_state {
	PENDING_UNWRAPPING,	/* keyd has it */
	PENDING_STORING,	/* keyd gave rpcd a real message */
	PENDING_ACK,		/* stored, or a cover or malformed: delete it */
	PENDING_RELEASE,	/* not stored: the provider hands it out again */
};

struct pending {
	uint64_t		id;
	enum pending_state	state;
	uint64_t		since_ms;
	uint64_t		batch;		/* its pull's sequence number */
};

/* What one pull reply announced; deliveries come in order. */
struct batch {
	uint64_t	seq;
	size_t		count;		/* the pull reply's count */
	size_t		got;		/* deliveries of it so far */
	uint64_t	reply_ms;	/* when the reply came */
};

/* A FIFO ring, so that no cover waits longer than the pool lasts. */
struct cover_pool {
	const char	*name;
	uint8_t		*packets;	/* cap * SPHINX_PACKET_BYTES */
	size_t		 cap;
	size_t		 head;		/* oldest ready packet */
	size_t		 n;
	size_t		 building;
	uint64_t	 empty;		/* ticks that found no packet */
	uint64_t	 empty_logged;	/* ... of which were already logged */
	uint64_t	 started_ms;	/* clock_monotonic_ms() */
	uint64_t	 warned_ms;	/* 0: not since the start */
	struct event	*warn_ev;	/* logs what a rate-limited window held */
	int		 primed;	/* full once since the stream started */
};

/*
 * A Poisson stream's clock. The event base of a nymd child reads the
 * coarse monotonic clock (4 ms ticks at HZ=250) and waits in whole
 * milliseconds, so a libevent timer of a millisecond fires at the next
 * jiffy at the earliest: a stream of rate 1000/s ran at most 250/s, and
 * each tick came up to 4 ms late. A timerfd is armed at an absolute
 * CLOCK_MONOTONIC time in nanoseconds instead, and each tick is drawn from
 * the previous tick's due time, not from when it was handled, so the
 * stream keeps its rate whatever the handling costs.
 */
struct ptimer {
	int		 fd;
	struct event	*ev;
	uint64_t	 due_ns;	/* 0: not armed */
};

struct traffic {
	struct event_base	*base;
	struct provider_link	*provider;
	struct traffic_hooks	 hooks;
	void			*arg;
	struct traffic_rates	 rates;
	struct ptimer		 send_tm;
	struct ptimer		 loop_tm;
	struct ptimer		 fetch_tm;
	struct event		*retry_ev;
	int			 up;
	struct out_pkt		 out[TRAFFIC_MAX_PACKETS];	/* in arrival order */
	size_t			 n_out;
	struct cover_pool	 drop;
	struct cover_pool	 loop;
	struct pending		 pending[TRAFFIC_MAX_PENDING];
	size_t			 n_pending;
	struct batch		 batches[TRAFFIC_MAX_BATCHES];	/* oldest first */
	size_t			 n_batches;
	uint64_t		 batch_seq;
	int			 pull_in_flight;
	uint64_t		 nonce;
	uint32_t		 epoch_seconds;	/* 0: not announced */
	struct traffic_stats	 stats;
};

static void traffic_fill(struct traffic *);
static void traffic_expire_pending(struct traffic *);
static int traffic_answer_batches(struct traffic *, struct link *);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A stream that fell further behind than this (netd stalled) restarts
 * from now rather than sending the missed ticks in a burst. */
#define TRAFFIC_MAX_LAG_NS	100000000u

static int
ptimer_arm(struct ptimer *tm, uint64_t due_ns)
{
	struct itimerspec its = { .it_interval = { 0, 0 } };

	tm->due_ns = due_ns;
	its.it_value.tv_sec = (time_t)(due_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(due_ns % 1000000000u);
	/* A zero it_value would disarm the timer. */
	if (due_ns == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(tm->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
ptimer_stop(struct ptimer *tm)
{
	struct itimerspec its = { .it_interval = { 0, 0 } };

	tm->due_ns = 0;
	if (tm->fd != -1)
		(void)timerfd_settime(tm->fd, 0, &its, NULL);
}

/* The next tick of a stream of `rate` per second: from the last due time
 * while the stream runs, from now when it starts (or fell behind). */
static void
traffic_schedule(struct ptimer *tm, double rate)
{
	if (rate <= 0) {
		ptimer_stop(tm);
		return;
	}
	uint64_t now = clock_monotonic_ns();
	uint64_t from = tm->due_ns;
	if (from == 0 || from + TRAFFIC_MAX_LAG_NS < now)
		from = now;
	double s = rand_exponential(rate);
	if (s > 3600)
		s = 3600;
	if (ptimer_arm(tm, from + (uint64_t)(s * 1e9)) == -1)
		fatal("timerfd_settime");
}

/* Consumes the expiry; 0 if the timer really fired (not a stale wake-up). */
static int
ptimer_fired(struct ptimer *tm)
{
	uint64_t n;

	if (read(tm->fd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
		if (errno != EAGAIN && errno != EINTR)
			fatal("timerfd read");
		return -1;
	}
	return tm->due_ns != 0 ? 0 : -1;
}

static int
ptimer_init(struct ptimer *tm, struct event_base *base, event_callback_fn cb, void *arg)
{
	tm->due_ns = 0;
	tm->ev = NULL;
	tm->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tm->fd == -1)
		return -1;
	tm->ev = event_new(base, tm->fd, EV_READ | EV_PERSIST, cb, arg);
	if (tm->ev == NULL || event_add(tm->ev, NULL) == -1)
		return -1;
	return 0;
}

static void
ptimer_free(struct ptimer *tm)
{
	if (tm->ev != NULL)
		event_free(tm->ev);
	if (tm->fd != -1)
		close(tm->fd);
	tm->ev = NULL;
	tm->fd = -1;
}

static struct link *
traffic_link(struct traffic *t)
{
	return t->up ? provider_get_link(t->provider) : NULL;
}

/*
 * Every packet is followed by a ping, real or cover alike, so the frames
 * an observer sees do not depend on what the packet carries; the pong
 * tells us the provider has taken every packet before it.
 */
static int
traffic_send_packet(struct traffic *t, const uint8_t *packet)
{
	struct link *l = traffic_link(t);
	Link__Control c = LINK__CONTROL__INIT;
	Link__Ping ping = LINK__PING__INIT;

	if (l == NULL || link_send_packet(l, packet, SPHINX_PACKET_BYTES) != LINK_OK)
		return -1;
	ping.nonce = ++t->nonce;
	c.msg_case = LINK__CONTROL__MSG_PING;
	c.ping = &ping;
	if (link_send_control(l, &c) != LINK_OK)
		log_debug("ping after a packet not sent: link busy");
	return 0;
}

static struct out_pkt *
traffic_find(struct traffic *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_out; i++)
		if (t->out[i].id == id)
			return &t->out[i];
	return NULL;
}

static void
traffic_remove(struct traffic *t, struct out_pkt *m)
{
	free(m->packet);
	size_t i = (size_t)(m - t->out);
	memmove(&t->out[i], &t->out[i + 1], (t->n_out - i - 1) * sizeof(*m));
	t->n_out--;
}

static void
traffic_build_covers(struct traffic *t, struct cover_pool *pool, Nymipc__PacketKind kind)
{
	while (pool->n + pool->building < pool->cap) {
		if (t->hooks.cover(t->arg, kind) == -1)
			return;
		pool->building++;
	}
}

static void
traffic_fill(struct traffic *t)
{
	if (t->rates.send > 0 && !t->rates.cover_disabled)
		traffic_build_covers(t, &t->drop, NYMIPC__PACKET_KIND__PACKET_DROP);
	if (t->rates.loop > 0)
		traffic_build_covers(t, &t->loop, NYMIPC__PACKET_KIND__PACKET_LOOP);
}

static size_t
cover_pool_depth(double rate)
{
	double d = rate * TRAFFIC_POOL_MS / 1000.0 + 1;

	if (!(d >= TRAFFIC_POOL_MIN))
		return TRAFFIC_POOL_MIN;
	if (d > TRAFFIC_POOL_MAX)
		return TRAFFIC_POOL_MAX;
	return (size_t)d;
}

/* Sizes the pool for a stream of `rate`; keeps what fits. */
static void
cover_pool_resize(struct cover_pool *pool, double rate)
{
	size_t cap = cover_pool_depth(rate);
	uint8_t *p;

	if (cap == pool->cap)
		return;
	p = xmalloc(cap * SPHINX_PACKET_BYTES);
	size_t keep = pool->n < cap ? pool->n : cap;
	for (size_t i = 0; i < keep; i++)
		memcpy(p + i * SPHINX_PACKET_BYTES,
		    pool->packets + ((pool->head + i) % pool->cap) * SPHINX_PACKET_BYTES,
		    SPHINX_PACKET_BYTES);
	free(pool->packets);
	pool->packets = p;
	pool->cap = cap;
	pool->head = 0;
	pool->n = keep;
}

static void
cover_pool_free(struct cover_pool *pool)
{
	if (pool->warn_ev != NULL)
		event_free(pool->warn_ev);
	pool->warn_ev = NULL;
	free(pool->packets);
	pool->packets = NULL;
	pool->cap = pool->n = pool->head = 0;
}

static void
cover_pool_put(struct cover_pool *pool, const uint8_t *packet)
{
	if (pool->n == pool->cap)
		return;
	memcpy(pool->packets + ((pool->head + pool->n) % pool->cap) * SPHINX_PACKET_BYTES,
	    packet, SPHINX_PACKET_BYTES);
	pool->n++;
	/* Ticks before the pool first filled only waited for keyd's start. */
	if (pool->n == pool->cap && !pool->primed) {
		pool->primed = 1;
		pool->empty_logged = pool->empty;
	}
}

static void
cover_pool_start(struct cover_pool *pool)
{
	pool->primed = 0;
	pool->empty_logged = pool->empty;
	pool->started_ms = clock_monotonic_ms();
	pool->warned_ms = 0;
}

static void
cover_pool_warn(struct cover_pool *pool, uint64_t now)
{
	log_warnx("%s stream: %llu tick(s) found no cover packet ready since %s "
	    "(%llu in all): keyd builds packets slower than the configured rate",
	    pool->name, (unsigned long long)(pool->empty - pool->empty_logged),
	    pool->warned_ms != 0 ? "the last warning" :
	    pool->primed ? "the pool first filled" : "the start",
	    (unsigned long long)pool->empty);
	pool->empty_logged = pool->empty;
	pool->warned_ms = now;
	/* This line says what a pending end-of-window flush would have. */
	if (pool->warn_ev != NULL)
		evtimer_del(pool->warn_ev);
}

/* A flush at the end of the window that began with the last warning. */
static void
cover_pool_arm_flush(struct cover_pool *pool, uint64_t now)
{
	uint64_t end = pool->warned_ms + TRAFFIC_EMPTY_LOG_MS;
	/* +1 ms: the event loop's coarse clock may fire a little early. */
	uint64_t wait = (end > now ? end - now : 0) + 1;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	if (pool->warn_ev != NULL && !evtimer_pending(pool->warn_ev, NULL))
		evtimer_add(pool->warn_ev, &tv);
}

/* The end of a rate-limited window: what it held is said now, not at
 * the next empty tick, which may never come once keyd is back. */
static void
on_cover_warn(evutil_socket_t fd, short what, void *arg)
{
	struct cover_pool *pool = arg;
	uint64_t now = clock_monotonic_ms();

	if (pool->empty == pool->empty_logged)
		return;
	if (now - pool->warned_ms < TRAFFIC_EMPTY_LOG_MS)
		cover_pool_arm_flush(pool, now);
	else
		cover_pool_warn(pool, now);
}

/*
 * A tick without a ready cover sends nothing (a packet sent late would
 * bend the Poisson schedule); that happens only when keyd cannot keep up
 * with the configured rate, so say so: at once, or, within
 * TRAFFIC_EMPTY_LOG_MS of the last warning, at the end of that interval.
 */
static void
cover_pool_empty(struct cover_pool *pool)
{
	uint64_t now = clock_monotonic_ms();

	pool->empty++;
	log_debug("%s tick found no cover packet ready (%zu being built)",
	    pool->name, pool->building);
	/* A pool that never filled yet may only be waiting for keyd's start. */
	if (!pool->primed && now - pool->started_ms < TRAFFIC_EMPTY_LOG_MS)
		return;
	if (pool->warned_ms == 0 || now - pool->warned_ms >= TRAFFIC_EMPTY_LOG_MS) {
		cover_pool_warn(pool, now);
		return;
	}
	cover_pool_arm_flush(pool, now);
}

static int
traffic_pop_cover(struct cover_pool *pool, uint8_t out[SPHINX_PACKET_BYTES])
{
	if (pool->n == 0) {
		cover_pool_empty(pool);
		return -1;
	}
	memcpy(out, pool->packets + pool->head * SPHINX_PACKET_BYTES, SPHINX_PACKET_BYTES);
	pool->head = (pool->head + 1) % pool->cap;
	pool->n--;
	return 0;
}

static void
on_send_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	uint8_t cover[SPHINX_PACKET_BYTES];

	if (ptimer_fired(&t->send_tm) == -1)
		return;
	traffic_schedule(&t->send_tm, t->rates.send);
	if (traffic_link(t) == NULL)
		return;
	for (size_t i = 0; i < t->n_out; i++) {
		struct out_pkt *m = &t->out[i];
		if (m->state != OUT_READY)
			continue;
		if (traffic_send_packet(t, m->packet) == -1)
			return;
		m->state = OUT_SENT;
		m->nonce = t->nonce;
		t->stats.real_sent++;
		log_debug("sent queued message %llu", (unsigned long long)m->id);
		return;
	}
	if (t->rates.cover_disabled)
		return;
	if (traffic_pop_cover(&t->drop, cover) == 0 && traffic_send_packet(t, cover) == 0)
		t->stats.cover_sent++;
	traffic_fill(t);
}

static void
on_loop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	uint8_t cover[SPHINX_PACKET_BYTES];

	if (ptimer_fired(&t->loop_tm) == -1)
		return;
	traffic_schedule(&t->loop_tm, t->rates.loop);
	if (traffic_link(t) == NULL)
		return;
	if (traffic_pop_cover(&t->loop, cover) == 0 && traffic_send_packet(t, cover) == 0)
		t->stats.cover_sent++;
	traffic_fill(t);
}

static void
on_fetch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	struct link *l = traffic_link(t);
	Link__Control c = LINK__CONTROL__INIT;
	Link__Pull pull = LINK__PULL__INIT;
	size_t token_len;

	if (ptimer_fired(&t->fetch_tm) == -1)
		return;
	traffic_schedule(&t->fetch_tm, t->rates.fetch);
	traffic_expire_pending(t);
	/* Batches are answered whole, at a tick, held as long whatever they
	 * held; a new pull while the provider may lease us more. */
	if (l == NULL || traffic_answer_batches(t, l) == -1 || t->pull_in_flight ||
	    t->n_batches == TRAFFIC_MAX_BATCHES ||
	    t->n_pending + TRAFFIC_PULL_MAX > TRAFFIC_MAX_PENDING)
		return;
	pull.token.data = (uint8_t *)provider_token(t->provider, &token_len);
	pull.token.len = token_len;
	pull.max = TRAFFIC_PULL_MAX;
	c.msg_case = LINK__CONTROL__MSG_PULL;
	c.pull = &pull;
	if (link_send_control(l, &c) == LINK_OK)
		t->pull_in_flight = 1;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	traffic_fill(arg);
}

static void traffic_on_registered(void *);
static void traffic_on_down(void *);
static void traffic_on_delivery(void *, uint64_t, const uint8_t *, size_t);
static void traffic_on_control(void *, const Link__Control *);

static const struct provider_events traffic_provider_events = {
	.registered = traffic_on_registered,
	.down = traffic_on_down,
	.delivery = traffic_on_delivery,
	.control = traffic_on_control,
};

struct traffic *
traffic_new(struct event_base *base, struct provider_link *provider,
    const struct traffic_hooks *hooks, void *arg)
{
	struct traffic *t = xcalloc(1, sizeof(*t));

	t->base = base;
	t->provider = provider;
	t->hooks = *hooks;
	t->arg = arg;
	t->drop.name = "send";
	t->loop.name = "loop cover";
	t->send_tm.fd = t->loop_tm.fd = t->fetch_tm.fd = -1;
	t->retry_ev = xevtimer_new(base, on_retry, t);
	t->drop.warn_ev = xevtimer_new(base, on_cover_warn, &t->drop);
	t->loop.warn_ev = xevtimer_new(base, on_cover_warn, &t->loop);
	if (ptimer_init(&t->send_tm, base, on_send_tick, t) == -1 ||
	    ptimer_init(&t->loop_tm, base, on_loop_tick, t) == -1 ||
	    ptimer_init(&t->fetch_tm, base, on_fetch_tick, t) == -1) {
		traffic_free(t);
		return NULL;
	}
	provider_set_events(provider, &traffic_provider_events, t);
	return t;
}

void
traffic_free(struct traffic *t)
{
	if (t == NULL)
		return;
	if (t->provider != NULL)
		provider_set_events(t->provider, NULL, NULL);
	while (t->n_out > 0)
		traffic_remove(t, &t->out[t->n_out - 1]);
	cover_pool_free(&t->drop);
	cover_pool_free(&t->loop);
	ptimer_free(&t->send_tm);
	ptimer_free(&t->loop_tm);
	ptimer_free(&t->fetch_tm);
	if (t->retry_ev != NULL)
		event_free(t->retry_ev);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

void
traffic_set_rates(struct traffic *t, const struct traffic_rates *r)
{
	t->rates = *r;
	cover_pool_resize(&t->drop, r->send);
	cover_pool_resize(&t->loop, r->loop);
	ptimer_stop(&t->send_tm);
	ptimer_stop(&t->loop_tm);
	ptimer_stop(&t->fetch_tm);
	if (!t->up)
		return;
	cover_pool_start(&t->drop);
	cover_pool_start(&t->loop);
	traffic_schedule(&t->send_tm, r->send);
	traffic_schedule(&t->loop_tm, r->loop);
	traffic_schedule(&t->fetch_tm, r->fetch);
	traffic_fill(t);
}

static void
traffic_on_registered(void *arg)
{
	struct traffic *t = arg;

	t->up = 1;
	traffic_set_rates(t, &t->rates);
}

void
traffic_set_epoch_seconds(struct traffic *t, uint32_t seconds)
{
	t->epoch_seconds = seconds;
}

/*
 * How long a built packet may wait to be sent again: while the epoch keys
 * it was built for are surely accepted (docs/epochs.md: a key lives at
 * least half an epoch past the time it was chosen for).
 */
static uint64_t
traffic_resend_max_age_ms(const struct traffic *t)
{
	return t->epoch_seconds != 0 ? (uint64_t)t->epoch_seconds * 250 :
	    TRAFFIC_RESEND_MAX_AGE_MS;
}

static void
traffic_on_down(void *arg)
{
	struct traffic *t = arg;
	uint64_t now = clock_monotonic_ms();

	t->up = 0;
	t->pull_in_flight = 0;
	/*
	 * Unconfirmed packets may be lost: they go out again, in send-stream
	 * slots, as the same bytes on the same path, so that whoever breaks
	 * the link makes no new real packet (a copy that passed already is
	 * dropped by the mixes' replay filters, and the recipient drops a
	 * duplicate by its message id). Only a packet whose epoch keys may
	 * be gone by now is built again.
	 */
	size_t again = 0, rebuilt = 0;
	for (size_t i = 0; i < t->n_out; ) {
		struct out_pkt *m = &t->out[i];
		if (m->state == OUT_CONFIRMED) {
			i++;
			continue;
		}
		if (now - m->got_ms > traffic_resend_max_age_ms(t)) {
			/* rpcd has it built again, if rpcd is there to ask. */
			(void)t->hooks.expired(t->arg, m->id);
			traffic_remove(t, m);
			rebuilt++;
			continue;
		}
		if (m->state == OUT_SENT) {
			t->stats.real_resent++;
			again++;
		}
		m->state = OUT_READY;
		i++;
	}
	if (again + rebuilt > 0)
		log_info("provider link lost: %zu unconfirmed packets go again "
		    "unchanged, %zu are built again (older than their keys "
		    "surely last)", again, rebuilt);
	/* Deliveries not yet acknowledged come again with the next pull. */
	t->n_pending = 0;
	t->n_batches = 0;
	traffic_set_rates(t, &t->rates);
}

static struct pending *
traffic_pending(struct traffic *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_pending; i++)
		if (t->pending[i].id == id)
			return &t->pending[i];
	return NULL;
}

static int
traffic_undecided(const struct pending *p)
{
	return p->state == PENDING_UNWRAPPING || p->state == PENDING_STORING;
}

/* What a delivery of the batch comes to; a decided one stays decided. */
static void
traffic_decide(struct traffic *t, uint64_t id, enum pending_state state)
{
	struct pending *p = traffic_pending(t, id);

	if (p != NULL && traffic_undecided(p))
		p->state = state;
}

/* Deliveries whose answer was lost with a peer that died, and those a
 * pull reply announced that never came: the provider still has them and
 * hands them out again once released. */
static void
traffic_expire_pending(struct traffic *t)
{
	uint64_t now = clock_monotonic_ms();

	for (size_t i = 0; i < t->n_pending; i++)
		if (traffic_undecided(&t->pending[i]) &&
		    now - t->pending[i].since_ms > TRAFFIC_PENDING_MAX_MS) {
			log_warnx("delivery %llu was never answered; it comes again",
			    (unsigned long long)t->pending[i].id);
			t->pending[i].state = PENDING_RELEASE;
		}
	for (size_t i = 0; i < t->n_batches; i++) {
		struct batch *b = &t->batches[i];
		if (b->got < b->count &&
		    now - b->reply_ms > TRAFFIC_PENDING_MAX_MS) {
			log_warnx("%zu deliveries of a pull never came",
			    b->count - b->got);
			b->count = b->got;
		}
	}
}

/* A batch is answered once it is whole, decided and held long enough. */
static int
traffic_batch_ready(const struct traffic *t, const struct batch *b,
    uint64_t now)
{
	if (b->got < b->count || now - b->reply_ms < TRAFFIC_ACK_HOLD_MS)
		return 0;
	for (size_t i = 0; i < t->n_pending; i++)
		if (t->pending[i].batch == b->seq &&
		    traffic_undecided(&t->pending[i]))
			return 0;
	return 1;
}

/*
 * At a fetch tick: the oldest batches that are ready are answered by one
 * ack (ids to delete, ids to release). -1 if it could not be sent (tried
 * again at the next tick), else 0.
 */
static int
traffic_answer_batches(struct traffic *t, struct link *l)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Ack ack = LINK__ACK__INIT;
	uint64_t ids[TRAFFIC_MAX_PENDING], release[TRAFFIC_MAX_PENDING];
	uint64_t now = clock_monotonic_ms(), last;
	size_t done = 0;

	while (done < t->n_batches &&
	    traffic_batch_ready(t, &t->batches[done], now))
		done++;
	if (done == 0)
		return 0;
	last = t->batches[done - 1].seq;
	for (size_t i = 0; i < t->n_pending; i++) {
		const struct pending *p = &t->pending[i];
		if (p->batch > last)
			continue;
		if (p->state == PENDING_ACK)
			ids[ack.n_ids++] = p->id;
		else
			release[ack.n_release++] = p->id;
	}
	if (ack.n_ids + ack.n_release > 0) {
		ack.ids = ids;
		ack.release = release;
		c.msg_case = LINK__CONTROL__MSG_ACK;
		c.ack = &ack;
		if (link_send_control(l, &c) != LINK_OK) {
			log_debug("ack of %zu deliveries not sent: link busy",
			    ack.n_ids + ack.n_release);
			return -1;
		}
		log_debug("%zu pulled batches answered: %zu deliveries "
		    "acknowledged, %zu released", done, ack.n_ids,
		    ack.n_release);
	}
	for (size_t i = 0; i < t->n_pending; )
		if (t->pending[i].batch <= last)
			t->pending[i] = t->pending[--t->n_pending];
		else
			i++;
	memmove(t->batches, t->batches + done,
	    (t->n_batches - done) * sizeof(*t->batches));
	t->n_batches -= done;
	return 0;
}

/* The batch a delivery belongs to: the oldest not yet whole. */
static struct batch *
traffic_batch_of_next(struct traffic *t)
{
	for (size_t i = 0; i < t->n_batches; i++)
		if (t->batches[i].got < t->batches[i].count)
			return &t->batches[i];
	return NULL;
}

static void
traffic_on_delivery(void *arg, uint64_t id, const uint8_t *packet, size_t len)
{
	struct traffic *t = arg;
	struct batch *b = traffic_batch_of_next(t);
	struct pending *p;

	if (traffic_pending(t, id) != NULL)
		return;
	if (b == NULL || t->n_pending == TRAFFIC_MAX_PENDING) {
		log_warnx("more deliveries than pulled; ignoring %llu", (unsigned long long)id);
		return;
	}
	b->got++;
	p = &t->pending[t->n_pending++];
	p->id = id;
	p->batch = b->seq;
	p->state = PENDING_UNWRAPPING;
	p->since_ms = clock_monotonic_ms();
	if (len != SPHINX_PACKET_BYTES) {
		t->stats.dropped++;
		log_debug("delivery %llu dropped: %zu bytes", (unsigned long long)id, len);
		p->state = PENDING_ACK;
		return;
	}
	/* keyd is down: released, it comes again with a later pull */
	if (t->hooks.unwrap(t->arg, id, packet, len) == -1)
		p->state = PENDING_RELEASE;
}

/* Tells rpcd of every confirmed packet; what it cannot take now waits
 * for its return (traffic_rpcd_up). */
static void
traffic_report_confirmed(struct traffic *t)
{
	for (size_t i = 0; i < t->n_out; ) {
		struct out_pkt *m = &t->out[i];
		if (m->state == OUT_CONFIRMED && t->hooks.sent(t->arg, m->id) == 0) {
			traffic_remove(t, m);
			continue;
		}
		i++;
	}
}

static void
traffic_pong(struct traffic *t, uint64_t nonce)
{
	for (size_t i = 0; i < t->n_out; i++) {
		struct out_pkt *m = &t->out[i];
		if (m->state == OUT_SENT && m->nonce <= nonce)
			m->state = OUT_CONFIRMED;
	}
	traffic_report_confirmed(t);
}

static void
traffic_on_control(void *arg, const Link__Control *msg)
{
	struct traffic *t = arg;

	switch (msg->msg_case) {
	case LINK__CONTROL__MSG_PULL_REPLY:
		/* This many deliveries follow: a batch, answered whole. */
		t->pull_in_flight = 0;
		if (msg->pull_reply->count > 0 &&
		    t->n_batches < TRAFFIC_MAX_BATCHES) {
			struct batch *b = &t->batches[t->n_batches++];
			b->seq = ++t->batch_seq;
			b->count = msg->pull_reply->count;
			b->got = 0;
			b->reply_ms = clock_monotonic_ms();
		}
		break;
	case LINK__CONTROL__MSG_PONG:
		traffic_pong(t, msg->pong->nonce);
		break;
	case LINK__CONTROL__MSG_ACK_OK:
		break;
	case LINK__CONTROL__MSG_ERROR:
		log_warnx("provider error %d: %s", (int)msg->error->code,
		    msg->error->text ? msg->error->text : "");
		t->pull_in_flight = 0;
		break;
	default:
		log_warnx("unexpected control message %d from the provider", (int)msg->msg_case);
		break;
	}
}

void
traffic_keyd_up(struct traffic *t)
{
	/* What keyd was building or unwrapping when it went is lost with it. */
	t->drop.building = 0;
	t->loop.building = 0;
	for (size_t i = 0; i < t->n_pending; i++)
		if (t->pending[i].state == PENDING_UNWRAPPING)
			t->pending[i].state = PENDING_RELEASE;
	traffic_fill(t);
}

/*
 * A new rpcd: it rebuilds its window from its queue, and keyd hands us
 * the packets again (one whose id we hold is ignored). Deliveries on
 * their way to the old rpcd are gone; the provider still has them.
 */
void
traffic_rpcd_up(struct traffic *t)
{
	for (size_t i = 0; i < t->n_pending; i++)
		if (traffic_undecided(&t->pending[i]))
			t->pending[i].state = PENDING_RELEASE;
	traffic_report_confirmed(t);
}

void
traffic_packet(struct traffic *t, uint64_t id, const uint8_t *packet)
{
	if (traffic_find(t, id) != NULL)
		return;	/* built again after a restart: the first one stands */
	if (t->n_out == TRAFFIC_MAX_PACKETS) {
		log_warnx("no room for the packet of message %llu; rpcd has it "
		    "built again later", (unsigned long long)id);
		(void)t->hooks.expired(t->arg, id);
		return;
	}
	struct out_pkt *m = &t->out[t->n_out++];
	m->packet = xmalloc(SPHINX_PACKET_BYTES);
	m->id = id;
	m->state = OUT_READY;
	m->nonce = 0;
	m->got_ms = clock_monotonic_ms();
	memcpy(m->packet, packet, SPHINX_PACKET_BYTES);
}

void
traffic_cover(struct traffic *t, const Nymipc__Cover *c)
{
	struct cover_pool *pool = c->kind == NYMIPC__PACKET_KIND__PACKET_DROP ? &t->drop : &t->loop;

	if (pool->building > 0)
		pool->building--;
	if (c->data.len == SPHINX_PACKET_BYTES) {
		cover_pool_put(pool, c->data.data);
		return;
	}
	/* Usually an incomplete topology: try again a bit later. */
	log_debug("keyd could not build a cover packet: %s", c->text);
	struct timeval tv = { 0, TRAFFIC_RETRY_MS * 1000 };
	evtimer_add(t->retry_ev, &tv);
}

void
traffic_unwrapped(struct traffic *t, const Nymipc__Unwrapped *u)
{
	struct pending *p = traffic_pending(t, u->id);

	if (p == NULL || p->state != PENDING_UNWRAPPING)
		return;	/* rpcd's answer came first, or it is gone */
	switch (u->kind) {
	case NYMIPC__PACKET_KIND__PACKET_LOOP: {
		uint64_t now = now_ns();
		t->stats.loops_returned++;
		t->stats.loop_rtt_ms_last = now > u->sent_ns ? (now - u->sent_ns) / 1000000u : 0;
		t->stats.loop_rtt_ms_sum += t->stats.loop_rtt_ms_last;
		log_debug("delivery %llu: loop cover back after %llu ms",
		    (unsigned long long)u->id,
		    (unsigned long long)t->stats.loop_rtt_ms_last);
		p->state = PENDING_ACK;
		break;
	}
	case NYMIPC__PACKET_KIND__PACKET_REAL:
	case NYMIPC__PACKET_KIND__PACKET_ACK:
		/* keyd gave it to rpcd, whose answer tells us to ack it. */
		p->state = PENDING_STORING;
		break;
	case NYMIPC__PACKET_KIND__PACKET_LOOP_ACK:
		/* our provider had one of our loop covers: nothing to keep */
		log_debug("delivery %llu: a loop cover's acknowledgement",
		    (unsigned long long)u->id);
		p->state = PENDING_ACK;
		break;
	case NYMIPC__PACKET_KIND__PACKET_NONE:
		/* rpcd is down: leave it at the provider for a later pull */
		p->state = PENDING_RELEASE;
		break;
	default:
		t->stats.dropped++;
		log_debug("delivery %llu dropped: %s", (unsigned long long)u->id, u->text);
		p->state = PENDING_ACK;
		break;
	}
}

/* rpcd may answer before keyd tells us what the delivery was. */
void
traffic_stored(struct traffic *t, uint64_t delivery_id)
{
	struct pending *p = traffic_pending(t, delivery_id);

	if (p == NULL || !traffic_undecided(p))
		return;
	log_debug("delivery %llu: a message, stored",
	    (unsigned long long)delivery_id);
	t->stats.received++;
	p->state = PENDING_ACK;
}

/* rpcd could not store it: released with its batch, the provider hands
 * it out again at a later pull. */
void
traffic_not_stored(struct traffic *t, uint64_t delivery_id)
{
	traffic_decide(t, delivery_id, PENDING_RELEASE);
}

const struct traffic_stats *
traffic_stats(const struct traffic *t)
{
	return &t->stats;
}
