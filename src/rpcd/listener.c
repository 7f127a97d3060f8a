#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/clock.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/xalloc.h"
#include "rpcd/api.h"
#include "rpcd/listener.h"
#include "rpcd/peer.h"
#include "rpcd/queue.h"
#include "rpcd/rpcd.h"
#include "rpcd/watch.h"
#include "rpcd/websocket.h"

/* NGROUPS_MAX is 65536; a peer in more groups than this is judged by
 * its primary group alone. */
#define LISTENER_MAX_PEER_GROUPS	1024

struct conn;

struct listener {
	struct event_base	*base;
	struct evconnlistener	*evl;
	int			 fd;
	int			 is_unix;
	unsigned		 unix_mode;
	gid_t			 unix_gid;	/* the socket file's group */
	int			 any_user;	/* allow_other_users */
	int			 diag;		/* sock_diag, for TCP peers' uid */
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct rpcd_state	*state;
	struct conn		*conns;		/* most recently active first */
	struct conn		*conns_tail;	/* least recently active */
	size_t			 n_conns;
	struct websocket_server	*ws;		/* --socket websocket */
	struct conn		*subscriber;	/* pushed received messages */
};

struct conn {
	struct listener		*l;
	struct bufferevent	*bev;
	struct conn		*next;
	struct conn		*prev;
	struct event		*frame_deadline;	/* a started frame must end */
	uint64_t		 last_active_ms;	/* clock_monotonic_ms() */
	int			 closing;	/* flush, then close */
	int			 checked;	/* not an HTTP request */
	/* A clients request with refresh: unread until a fresh topology
	 * comes or the wait ends, then answered (refreshed set). */
	struct event		*refresh_wait;
	int			 waiting;
	int			 refreshed;
	int			 push_held;	/* pushing waits for the output to drain */
	/* watch: status changes are pushed, after the answers being
	 * written (from watch_ev), while the output is below its bound. */
	struct watcher		*watcher;
	struct event		*watch_ev;
	int			 changes_held;	/* until the output drains */
};

static void
conn_unlink(struct conn *c)
{
	struct listener *l = c->l;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->conns_tail = c->prev;
	c->next = c->prev = NULL;
}

static void
conn_push_front(struct conn *c)
{
	struct listener *l = c->l;

	c->prev = NULL;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	else
		l->conns_tail = c;
	l->conns = c;
}

/* Keeps the list in order of activity, so that the connection idle the
 * longest is the one given up when the limit is reached. */
static void
conn_touch(struct conn *c)
{
	c->last_active_ms = clock_monotonic_ms();
	if (c->l->conns != c) {
		conn_unlink(c);
		conn_push_front(c);
	}
}

static void
conn_free(struct conn *c)
{
	if (c->l->subscriber == c) {
		c->l->subscriber = NULL;
		log_debug("the subscribed connection closed");
	}
	conn_unlink(c);
	c->l->n_conns--;
	watcher_remove(c->watcher);
	if (c->watch_ev != NULL)
		event_free(c->watch_ev);
	if (c->frame_deadline != NULL)
		event_free(c->frame_deadline);
	if (c->refresh_wait != NULL)
		event_free(c->refresh_wait);
	bufferevent_free(c->bev);
	free(c);
}

static void conn_on_read(struct bufferevent *, void *);

/* The wait for a fresh topology is over (it came, or time is up): the
 * request is read again and answered with what rpcd has now. */
static void
conn_refresh_done(struct conn *c)
{
	if (!c->waiting)
		return;
	c->waiting = 0;
	c->refreshed = 1;
	evtimer_del(c->refresh_wait);
	bufferevent_enable(c->bev, EV_READ);
	conn_on_read(c->bev, c);
}

static void
conn_on_refresh_wait(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_info("no fresh topology within %d ms; answering with the last one",
	    LISTENER_REFRESH_WAIT_MS);
	conn_refresh_done(c);
}

/* Asks netd for a fresh topology and leaves this connection unread (its
 * request stays in the input) until it comes; the others go on. */
static int
conn_refresh_start(struct conn *c)
{
	struct timeval tv = { LISTENER_REFRESH_WAIT_MS / 1000,
	    (LISTENER_REFRESH_WAIT_MS % 1000) * 1000 };

	if (c->l->state->refresh_topology == NULL ||
	    c->l->state->refresh_topology() == -1)
		return -1;
	if (c->refresh_wait == NULL)
		c->refresh_wait = xevtimer_new(c->l->base, conn_on_refresh_wait, c);
	c->waiting = 1;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_add(c->refresh_wait, &tv);
	return 0;
}

void
listener_topology_changed(struct listener *l)
{
	struct conn *c = l->conns, *next;

	/* conn_refresh_done() may free c (a write error): next first. */
	for (; c != NULL; c = next) {
		next = c->next;
		if (c->waiting)
			conn_refresh_done(c);
	}
}

static int
conn_write(struct conn *c, const uint8_t *msg, size_t len)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	size_t n = frame_put_varint(hdr, (int64_t)len);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (evbuffer_add(out, hdr, n) == -1 || evbuffer_add(out, msg, len) == -1)
		return -1;
	return 0;
}

/*
 * The subscriber gets what was received and not fetched yet, one frame at
 * a time, until none is left or it stops reading (then conn_on_write()
 * comes back here). Pushed messages are removed as by a fetch. 0, or -1
 * if c was freed.
 */
static int
conn_push(struct conn *c)
{
	uint8_t *res;
	size_t len;
	int rc;

	c->push_held = 0;
	while (!c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    LISTENER_MAX_PENDING_OUT_BYTES) {
			c->push_held = 1;
			return 0;
		}
		if ((rc = api_push(c->l->state, &res, &len)) <= 0) {
			if (rc == -1)
				log_warnx("cannot push received messages: the store "
				    "failed; they stay stored");
			return 0;
		}
		rc = conn_write(c, res, len);
		free(res);
		if (rc == -1) {
			conn_free(c);
			return -1;
		}
	}
	return 0;
}

void
listener_delivered(struct listener *l)
{
	if (l != NULL && l->subscriber != NULL)
		conn_push(l->subscriber);
}

/* subscribe: this connection gets the messages as they arrive, if no
 * other one does. 0, or -1 if c was freed. */
static int
conn_subscribe(struct conn *c)
{
	uint8_t *res;
	size_t len;
	int rc;

	if (c->l->subscriber != NULL && c->l->subscriber != c)
		api_exception("subscribe: another connection is subscribed to this "
		    "client's messages; one at a time", &res, &len);
	else {
		c->l->subscriber = c;
		api_subscribed(&res, &len);
	}
	rc = conn_write(c, res, len);
	free(res);
	if (rc == -1) {
		conn_free(c);
		return -1;
	}
	return c->l->subscriber == c ? conn_push(c) : 0;
}

/*
 * A watching connection gets the status changes held for it, until none
 * is left or its output is over the bound (then conn_on_write() comes
 * back here once it drained). 0, or -1 if c was freed.
 */
static int
conn_push_changes(struct conn *c)
{
	struct queue_status st;
	uint8_t *res;
	size_t len;
	int rc;

	c->changes_held = 0;
	while (!c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    LISTENER_MAX_PENDING_OUT_BYTES) {
			c->changes_held = 1;
			return 0;
		}
		if (!watcher_next(c->watcher, &st))
			return 0;
		api_changed(&st, &res, &len);
		rc = conn_write(c, res, len);
		free(res);
		if (rc == -1) {
			conn_free(c);
			return -1;
		}
	}
	return 0;
}

static void
conn_on_watch_ev(evutil_socket_t fd, short what, void *arg)
{
	conn_push_changes(arg);
}

/* Changes are held for c: written from the event loop, so never before
 * the answer being made when they happened (a send's queued state comes
 * after the send's answer). */
static void
conn_watch_ready(void *arg)
{
	struct conn *c = arg;

	event_active(c->watch_ev, EV_TIMEOUT, 0);
}

/* watch: from now on, every status change is pushed to this connection. */
static int
conn_watch(struct conn *c)
{
	uint8_t *res;
	size_t len;
	int rc;

	if (c->watcher == NULL) {
		c->watch_ev = xevtimer_new(c->l->base, conn_on_watch_ev, c);
		c->watcher = watcher_add(c->l->state->watchers, conn_watch_ready, c);
	}
	api_watching(&res, &len);
	rc = conn_write(c, res, len);
	free(res);
	if (rc == -1) {
		conn_free(c);
		return -1;
	}
	return 0;
}

/* Says why in an exception, then closes this one connection. */
static void
conn_close_with(struct conn *c, const char *text)
{
	uint8_t *res;
	size_t len;

	log_debug("connection rejected: %s", text);
	api_exception(text, &res, &len);
	conn_write(c, res, len);
	free(res);
	/* Closing with unread input would reset the connection and could
	 * destroy the explanation in flight: send it, half-close, then
	 * discard input until the peer closes or a timeout. */
	c->closing = 1;
	struct timeval tv = { LISTENER_LINGER_SECONDS, 0 };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
}

/* An impossible frame. */
static void
conn_reject(struct conn *c, const char *why)
{
	char text[160];

	snprintf(text, sizeof(text), "bad frame: %s (limit %zu bytes); closing the connection",
	    why, c->l->state->max_request_bytes);
	conn_close_with(c, text);
}

static void
conn_on_frame_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char text[96];

	snprintf(text, sizeof(text), "a frame was not completed within %d seconds; "
	    "closing the connection", LISTENER_FRAME_SECONDS);
	conn_close_with(c, text);
}

/* Bytes of a frame have arrived: the rest must follow within
 * LISTENER_FRAME_SECONDS, however slowly it trickles in. */
static void
conn_frame_started(struct conn *c, size_t have)
{
	struct timeval tv = { LISTENER_FRAME_SECONDS, 0 };

	if (have == 0 || evtimer_pending(c->frame_deadline, NULL))
		return;
	evtimer_add(c->frame_deadline, &tv);
}

/*
 * A web page cannot open a websocket here, but it can make the browser
 * POST to this port, and a request body can hold frames that the seed's
 * framing would find once past the headers: a cross-protocol request that
 * sends or fetches (deletes) messages as the user. No Request starts with
 * an HTTP method (its first frame would be a letter-sized length and then
 * no valid field tag), so a connection that begins with one is HTTP and is
 * answered as such and closed. Returns 1 (wait for more), 0 (not HTTP) or
 * -1 (HTTP: refused).
 */
static int
conn_check_http(struct conn *c, struct evbuffer *in)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ", "DELETE ", "PATCH ",
		"CONNECT ", "TRACE ",
	};
	static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain\r\nConnection: close\r\n\r\n"
	    "nymd's TCP socket speaks the seed's framing, not HTTP; "
	    "browsers use its websocket socket.\n";
	uint8_t head[8];
	ev_ssize_t have = evbuffer_copyout(in, head, sizeof(head));
	int partial = 0;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);
		size_t k = have < (ev_ssize_t)n ? (size_t)(have > 0 ? have : 0) : n;
		if (memcmp(head, methods[i], k) != 0)
			continue;
		if (k < n) {
			partial = 1;
			continue;
		}
		log_info("refused an HTTP request on the TCP socket (a web page "
		    "trying it across protocols?)");
		evbuffer_add(bufferevent_get_output(c->bev), answer, sizeof(answer) - 1);
		c->closing = 1;
		struct timeval tv = { LISTENER_LINGER_SECONDS, 0 };
		bufferevent_set_timeouts(c->bev, &tv, &tv);
		evbuffer_drain(in, evbuffer_get_length(in));
		return -1;
	}
	if (partial && have < (ev_ssize_t)sizeof(head))
		return 1;
	c->checked = 1;
	return 0;
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (!c->checked && !c->l->is_unix && conn_check_http(c, in) != 0)
		return;
	while (!c->closing) {
		uint8_t hdr[FRAME_VARINT_MAX_BYTES];
		ev_ssize_t have = evbuffer_copyout(in, hdr, sizeof(hdr));
		size_t msg_len;
		int n = frame_parse_length(hdr, have > 0 ? (size_t)have : 0,
		    c->l->state->max_request_bytes, &msg_len);
		if (n == FRAME_NEED_MORE) {
			conn_frame_started(c, (size_t)(have > 0 ? have : 0));
			return;
		}
		if (n < 0) {
			conn_reject(c, frame_strerror(n));
			return;
		}
		if (evbuffer_get_length(in) < (size_t)n + msg_len) {
			conn_frame_started(c, 1);
			return;
		}
		evtimer_del(c->frame_deadline);
		conn_touch(c);
		uint8_t *req = evbuffer_pullup(in, (ev_ssize_t)(n + msg_len)) + n;
		enum api_peek kind = api_peek(req, msg_len);
		if (!c->refreshed && kind == API_PEEK_REFRESH &&
		    conn_refresh_start(c) == 0)
			return;		/* read again when the topology comes */
		c->refreshed = 0;
		if (kind == API_PEEK_SUBSCRIBE || kind == API_PEEK_WATCH) {
			evbuffer_drain(in, (size_t)n + msg_len);
			if ((kind == API_PEEK_SUBSCRIBE ? conn_subscribe(c) :
			    conn_watch(c)) == -1)
				return;
			continue;
		}
		uint8_t *res;
		size_t res_len;
		api_handle(c->l->state, req, msg_len, &res, &res_len);
		evbuffer_drain(in, (size_t)n + msg_len);
		int rc = conn_write(c, res, res_len);
		free(res);
		if (rc == -1) {
			conn_free(c);
			return;
		}
		/* Back-pressure: a client that does not read stops being read. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    LISTENER_MAX_PENDING_OUT_BYTES) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
	}
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	/* Called when the output drained to the low-water mark (empty). */
	if (c->closing) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (c->push_held && conn_push(c) == -1)
		return;
	if (c->changes_held && conn_push_changes(c) == -1)
		return;
	if (c->waiting)
		return;		/* read again when the topology comes */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		conn_on_read(bev, c);
	}
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_ERROR)
			log_debug("connection error: %s", strerror(EVUTIL_SOCKET_ERROR()));
		conn_free(c);
	}
}

static int
listener_peer_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

/*
 * 1 if the peer has gid among its groups: its primary group (from
 * SO_PEERCRED) or one of its supplementary groups (SO_PEERGROUPS, as
 * they were when it connected).
 */
static int
listener_peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t groups[LISTENER_MAX_PEER_GROUPS];
	socklen_t len = sizeof(groups);

	if (cred->gid == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		static int said;
		/* ERANGE: more groups than we take; a kernel before 4.13
		 * has no SO_PEERGROUPS: the primary group alone counts. */
		if (!said++)
			log_warn("cannot learn a peer's supplementary groups "
			    "(SO_PEERGROUPS); only its primary group counts");
		return 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * Whose is the peer: NULL when it may be served, else why not (for the
 * peer and, once, the log). Only this process's user and root are served,
 * and on the unix socket the members of its group (primary or
 * supplementary) when socket_mode grants the group, unless
 * allow_other_users: the socket API has no authentication, and another
 * local user could otherwise read, delete and send this client's
 * messages. uid is set when known.
 */
static const char *
listener_peer_refusal(struct listener *l, int fd, const struct sockaddr *sa,
    uid_t *uid)
{
	*uid = (uid_t)-1;
	if (l->is_unix) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
			return "the peer's credentials are unknown";
		*uid = cred.uid;
		if (cred.uid == 0 || cred.uid == geteuid())
			return NULL;
		/* The socket's mode says who may talk to us; checked again
		 * here in case the file's permissions were changed. A group
		 * the mode grants is served without allow_other_users: its
		 * members are whom the socket's owner chose to let in. */
		if ((l->unix_mode & 0060) &&
		    listener_peer_in_group(fd, &cred, l->unix_gid))
			return NULL;
		if (l->any_user && (l->unix_mode & 0006))
			return NULL;
		if (l->unix_mode & 0060)
			return "this user is not in the socket's group, and this "
			    "nymd serves only the user it runs as, root and the "
			    "members of that group; set allow_other_users = true "
			    "in [nymd] of its config.toml to serve every local "
			    "user (unsafe)";
		if (!l->any_user)
			goto other_user;
		return "the socket's mode does not let this user connect";
	}
	if (!listener_peer_loopback(sa))
		return "not a loopback peer";
	if (l->any_user)
		return NULL;
	if (peer_tcp_uid(l->diag, fd, uid) == -1) {
		static int said;
		/* ENOENT: the peer's socket is gone (or in another network
		 * namespace); anything else may be a kernel without sock_diag. */
		if (errno != ENOENT && !said++)
			log_warn("cannot learn a TCP peer's user from the kernel's "
			    "socket table (sock_diag); such peers are refused");
		return "the peer's user is unknown: this nymd serves only its own "
		    "user";
	}
	if (*uid == 0 || *uid == geteuid())
		return NULL;
other_user:
	return "this nymd serves only the user it runs as (and root); set "
	    "allow_other_users = true in [nymd] of its config.toml to serve "
	    "every local user (unsafe)";
}

/* At the limit, the connection idle the longest makes room for a new one
 * (if it has been idle long enough): otherwise clients that connect and
 * say nothing could lock every application out. */
static int
listener_evict_idle(struct listener *l)
{
	struct conn *c = l->conns_tail;
	uint64_t idle_ms;

	if (c == NULL)
		return -1;
	idle_ms = clock_monotonic_ms() - c->last_active_ms;
	if (idle_ms < LISTENER_EVICT_IDLE_SECONDS * 1000u)
		return -1;
	log_warnx("%d connections open: closing the one idle the longest "
	    "(%llu s) for a new one", LISTENER_MAX_CONNS,
	    (unsigned long long)(idle_ms / 1000));
	conn_free(c);
	return 0;
}

static void
listener_on_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	uid_t uid;
	const char *refusal = listener_peer_refusal(l, fd, sa, &uid);

	if (refusal != NULL && !l->is_unix && !listener_peer_loopback(sa)) {
		log_warnx("refused a connection from a non-local peer");
		close(fd);
		return;
	}
	if (refusal != NULL) {
		if (uid != (uid_t)-1)
			log_info("refused a connection from uid %u: %s",
			    (unsigned)uid, refusal);
		else
			log_info("refused a connection: %s", refusal);
	}
	if (l->ws != NULL) {
		websocket_accept(l->ws, fd, refusal);
		return;
	}
	/* A refused peer never makes room by closing another connection. */
	if (l->n_conns >= LISTENER_MAX_CONNS &&
	    (refusal != NULL || listener_evict_idle(l) == -1)) {
		if (refusal == NULL)
			log_warnx("refused a connection: %d connections already "
			    "open, none idle for %d seconds", LISTENER_MAX_CONNS,
			    LISTENER_EVICT_IDLE_SECONDS);
		close(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	c->l = l;
	c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->frame_deadline = xevtimer_new(l->base, conn_on_frame_deadline, c);
	c->last_active_ms = clock_monotonic_ms();
	conn_push_front(c);
	l->n_conns++;
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	/* Never buffer more than one maximal frame plus its prefix. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    l->state->max_request_bytes + FRAME_VARINT_MAX_BYTES);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (refusal != NULL) {
		char text[256];
		snprintf(text, sizeof(text), "connection refused: %s", refusal);
		conn_close_with(c, text);
	}
}

/* The unix socket master bound and handed over (master/listen.c). */
static int
listener_bind_unix(struct listener *l, const Nymipc__ChildConfig *cfg)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_un sun;
	struct stat st;
	socklen_t sunlen = sizeof(sun);

	if (getsockopt(PROC_ROLE_FD, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM ||
	    (len = sizeof(listening), getsockopt(PROC_ROLE_FD, SOL_SOCKET,
	    SO_ACCEPTCONN, &listening, &len)) == -1 || !listening ||
	    getsockname(PROC_ROLE_FD, (struct sockaddr *)&sun, &sunlen) == -1 ||
	    sun.sun_family != AF_UNIX)
		fatalx("fd %d is not master's listening unix socket %s",
		    PROC_ROLE_FD, cfg->socket_path);
	if ((l->fd = fcntl(PROC_ROLE_FD, F_DUPFD_CLOEXEC, PROC_ROLE_FD + 1)) == -1 ||
	    close(PROC_ROLE_FD) == -1 ||
	    fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("%s", cfg->socket_path);
	snprintf(l->path, sizeof(l->path), "%s", cfg->socket_path);
	l->is_unix = 1;
	l->unix_mode = cfg->socket_mode & 0777;
	/* The socket's group, for socket_mode's group bits; where rpcd may
	 * not reach the file (started as root, outside the home), the
	 * group master gave it: the run-as user's. */
	l->unix_gid = stat(proc_home_path(cfg->home, cfg->socket_path), &st) == 0 ?
	    st.st_gid : (gid_t)cfg->gid;
	return 0;
}

static int
listener_bind_tcp(struct listener *l, const Nymipc__ChildConfig *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->listen_address, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)cfg->port);
		sslen = sizeof(*in);
	} else if (inet_pton(AF_INET6, cfg->listen_address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->port);
		sslen = sizeof(*in6);
	} else 
		fatalx("listen_address %s is not an IP address", cfg->listen_address);
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd == -1)
		fatal("socket");
	int one = 1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, sslen) == -1)
		fatal("cannot listen on %s port %u", cfg->listen_address, cfg->port);
	return 0;
}

struct listener *
listener_open(struct event_base *base, const Nymipc__ChildConfig *cfg,
    const struct rpcd_state *state)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	int rc;

	l->base = base;
	l->state = state;
	l->fd = -1;
	l->diag = -1;
	l->any_user = cfg->allow_other_users;
	switch (cfg->socket_kind) {
	case NYMIPC__SOCKET_KIND__SOCKET_UNIX:
		rc = listener_bind_unix(l, cfg);
		break;
	case NYMIPC__SOCKET_KIND__SOCKET_TCP:
		rc = listener_bind_tcp(l, cfg);
		break;
	case NYMIPC__SOCKET_KIND__SOCKET_WEBSOCKET:
		rc = listener_bind_tcp(l, cfg);
		l->ws = websocket_server_new(base, state, cfg->websocket_allowed_origins);
		break;
	default:
		fatalx("unknown socket kind %d", (int)cfg->socket_kind);
	}
	/* The sandbox opens no socket: ask for TCP peers' uid on this one. */
	if (!l->is_unix && !l->any_user && (l->diag = peer_diag_open()) == -1)
		fatal("cannot open a sock_diag socket to learn peers' users "
		    "(allow_other_users = true serves every user without it)");
	/* master listens on the unix socket already; listening again would
	 * make rpcd the process its clients see in SO_PEERCRED, where
	 * nym_daemon_pid() looks for the daemon (master). */
	if (rc == -1 || (!l->is_unix && listen(l->fd, 64) == -1))
		fatal("listen");
	return l;
}

int
listener_start(struct listener *l)
{
	l->evl = evconnlistener_new(l->base, listener_on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE, 0 /* already listening */, l->fd);
	if (l->evl == NULL)
		return -1;
	l->fd = -1;	/* owned by evl now */
	return 0;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	while (l->conns != NULL)
		conn_free(l->conns);
	websocket_server_free(l->ws);
	if (l->evl != NULL)
		evconnlistener_free(l->evl);
	if (l->fd != -1)
		close(l->fd);
	if (l->diag != -1)
		close(l->diag);
	/* The socket file stays: the sandbox forbids unlink, and the next
	 * start replaces a stale socket. */
	free(l);
}
