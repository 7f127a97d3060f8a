#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
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

#include "common/frame.h"
#include "common/log.h"
#include "rpcd/api.h"
#include "rpcd/listener.h"
#include "rpcd/rpcd.h"
#include "rpcd/websocket.h"

struct conn;

struct listener {
	struct event_base	*base;
	struct evconnlistener	*evl;
	int			 fd;
	int			 is_unix;
	unsigned		 unix_mode;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct rpcd_state	*state;
	struct conn		*conns;
	size_t			 n_conns;
	struct websocket_server	*ws;		/* --socket websocket */
};

struct conn {
	struct listener		*l;
	struct bufferevent	*bev;
	struct conn		*next;
	struct conn		*prev;
	int			 closing;	/* flush, then close */
};

static void
conn_free(struct conn *c)
{
	struct listener *l = c->l;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	l->n_conns--;
	bufferevent_free(c->bev);
	free(c);
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

/* An impossible frame: say why, then close this one connection. */
static void
conn_reject(struct conn *c, const char *why)
{
	uint8_t *res;
	size_t len;
	char text[160];

	snprintf(text, sizeof(text), "bad frame: %s (limit %u bytes); closing the connection",
	    why, FRAME_MAX_MESSAGE_BYTES);
	log_debug("connection rejected: %s", text);
	if (api_exception(text, &res, &len) == 0) {
		conn_write(c, res, len);
		free(res);
	}
	/* Closing with unread input would reset the connection and could
	 * destroy the explanation in flight: send it, half-close, then
	 * discard input until the peer closes or a timeout. */
	c->closing = 1;
	struct timeval tv = { LISTENER_LINGER_SECONDS, 0 };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
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
	while (!c->closing) {
		uint8_t hdr[FRAME_VARINT_MAX_BYTES];
		ev_ssize_t have = evbuffer_copyout(in, hdr, sizeof(hdr));
		size_t msg_len;
		int n = frame_parse_length(hdr, have > 0 ? (size_t)have : 0,
		    FRAME_MAX_MESSAGE_BYTES, &msg_len);
		if (n == FRAME_NEED_MORE)
			return;
		if (n < 0) {
			conn_reject(c, frame_strerror(n));
			return;
		}
		if (evbuffer_get_length(in) < (size_t)n + msg_len)
			return;
		evbuffer_drain(in, (size_t)n);
		uint8_t *req = evbuffer_pullup(in, (ev_ssize_t)msg_len);
		uint8_t *res;
		size_t res_len;
		int rc = api_handle(c->l->state, req, msg_len, &res, &res_len);
		evbuffer_drain(in, msg_len);
		if (rc == -1) {
			log_warnx("out of memory answering a request; closing the connection");
			conn_free(c);
			return;
		}
		rc = conn_write(c, res, res_len);
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
listener_peer_allowed(struct listener *l, int fd, const struct sockaddr *sa)
{
	if (l->is_unix) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
			return 0;
		/* The socket's mode says who may talk to us; check it again
		 * here in case the file's permissions were changed. */
		return cred.uid == 0 || cred.uid == geteuid() ||
		    ((l->unix_mode & 0060) && cred.gid == getegid()) ||
		    (l->unix_mode & 0006);
	}
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

static void
listener_on_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	if (!listener_peer_allowed(l, fd, sa)) {
		log_warnx("refused a connection from a non-local peer");
		close(fd);
		return;
	}
	if (l->ws != NULL) {
		websocket_accept(l->ws, fd);
		return;
	}
	if (l->n_conns >= LISTENER_MAX_CONNS) {
		log_warnx("refused a connection: %d connections already open",
		    LISTENER_MAX_CONNS);
		close(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->l = l;
	c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	/* Never buffer more than one maximal frame plus its prefix. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    FRAME_MAX_MESSAGE_BYTES + FRAME_VARINT_MAX_BYTES);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int
listener_bind_unix(struct listener *l, const Nymipc__ChildConfig *cfg)
{
	struct sockaddr_un sun;
	struct stat st;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->socket_path) >= sizeof(sun.sun_path))
		fatalx("%s: socket path too long", cfg->socket_path);
	strcpy(sun.sun_path, cfg->socket_path);
	snprintf(l->path, sizeof(l->path), "%s", cfg->socket_path);
	/* A socket left by an unclean stop is replaced; anything else is not. */
	if (lstat(cfg->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", cfg->socket_path);
		unlink(cfg->socket_path);
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd == -1)
		fatal("socket");
	/* Never reachable by others, even for a moment before chmod. */
	mode_t old = umask(0177);
	int rc = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1)
		fatal("%s: bind", cfg->socket_path);
	if (chmod(cfg->socket_path, 0600) == -1 ||
	    (geteuid() == 0 && chown(cfg->socket_path, cfg->uid, cfg->gid) == -1))
		fatal("%s", cfg->socket_path);
	l->is_unix = 1;
	l->unix_mode = cfg->socket_mode & 0777;
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
	struct listener *l = calloc(1, sizeof(*l));
	int rc;

	if (l == NULL)
		return NULL;
	l->base = base;
	l->state = state;
	l->fd = -1;
	switch (cfg->socket_kind) {
	case NYMIPC__SOCKET_KIND__SOCKET_UNIX:
		rc = listener_bind_unix(l, cfg);
		break;
	case NYMIPC__SOCKET_KIND__SOCKET_TCP:
		rc = listener_bind_tcp(l, cfg);
		break;
	case NYMIPC__SOCKET_KIND__SOCKET_WEBSOCKET:
		rc = listener_bind_tcp(l, cfg);
		if ((l->ws = websocket_server_new(base, state)) == NULL)
			fatal("websocket");
		break;
	default:
		fatalx("unknown socket kind %d", (int)cfg->socket_kind);
	}
	if (rc == -1 || listen(l->fd, 64) == -1)
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
	/* The socket file stays: the sandbox forbids unlink, and the next
	 * start replaces a stale socket. */
	free(l);
}
