#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/addr.h"
#include "common/b64.h"
#include "common/link.h"
#include "common/log.h"
#include "common/regstmt.h"
#include "common/resolve.h"
#include "common/xalloc.h"
#include "netd/provider.h"

#define PROVIDER_BACKOFF_MIN_MS	250
#define PROVIDER_BACKOFF_MAX_MS	30000

struct provider_link {
	struct event_base	*base;
	struct provider_keyd	 keyd;
	void			*keyd_arg;
	struct provider_events	 ev;
	void			*ev_arg;
	uint8_t			 own_pub[32];
	size_t			 packet_bytes;
	uint8_t			 pub[32];
	char			 id[B64_KEY_CHARS + 1];
	char			 host[256];
	char			 port[8];
	char			 hostport[ADDR_HOSTPORT_BYTES];	/* for the log */
	int			 target_set;
	struct resolve		*resolving;	/* host, without NSS */
	struct resolve_result	 addrs;		/* what host resolved to */
	size_t			 next_addr;	/* the next one to try */
	int			 last_errno;	/* of the last address tried */
	int			 fd;		/* connecting socket */
	struct event		*connect_ev;
	struct event		*retry_ev;
	struct link		*link;
	unsigned		 backoff_ms;
	int			 signing;	/* link up, statement asked of keyd */
	int			 registered;
	uint8_t			 token[LINK_MAX_TOKEN_BYTES];
	size_t			 token_len;
	int			 logged_down;
};

static void provider_retry(struct provider_link *);

static void
provider_drop(struct provider_link *p)
{
	if (p->connect_ev != NULL) {
		event_free(p->connect_ev);
		p->connect_ev = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->link != NULL) {
		link_free(p->link);
		p->link = NULL;
	}
	if (p->resolving != NULL) {
		resolve_cancel(p->resolving);
		p->resolving = NULL;
	}
	p->addrs.n = p->next_addr = 0;
	p->signing = 0;
	if (p->registered) {
		p->registered = 0;
		if (p->ev.down != NULL)
			p->ev.down(p->ev_arg);
	}
}

/* The link is up: the registration waits for keyd's signed statement. */
static void
provider_on_established(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	struct provider_link *p = arg;

	log_info("link to provider %s at %s up", p->id, p->hostport);
	p->logged_down = 0;
	if (p->keyd.sign_request(p->keyd_arg, p->pub) == -1) {
		log_warnx("cannot ask keyd for the registration statement");
		link_shutdown(l);
		return;
	}
	p->signing = 1;
}

void
provider_statement_result(struct provider_link *p, const uint8_t provider[32],
    uint64_t registered_ms, const uint8_t *sig)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Register r = LINK__REGISTER__INIT;

	if (!p->signing || p->link == NULL || memcmp(provider, p->pub, 32) != 0)
		return;	/* for a link that is gone */
	p->signing = 0;
	if (sig == NULL) {
		log_warnx("keyd did not sign the registration statement");
		link_shutdown(p->link);
		return;
	}
	r.registered_ms = registered_ms;
	r.signature.data = (uint8_t *)sig;
	r.signature.len = REGSTMT_SIG_BYTES;
	c.msg_case = LINK__CONTROL__MSG_REGISTER;
	c.register_ = &r;
	if (link_send_control(p->link, &c) != LINK_OK)
		log_warnx("cannot send the registration to the provider");
}

static void
provider_on_control(struct link *l, void *arg, const Link__Control *msg)
{
	struct provider_link *p = arg;

	if (msg->msg_case == LINK__CONTROL__MSG_REGISTER_OK && !p->registered) {
		if (msg->register_ok->token.len == 0 ||
		    msg->register_ok->token.len > sizeof(p->token)) {
			log_warnx("provider sent a token of %zu bytes", msg->register_ok->token.len);
			link_shutdown(l);
			return;
		}
		memcpy(p->token, msg->register_ok->token.data, msg->register_ok->token.len);
		p->token_len = msg->register_ok->token.len;
		p->registered = 1;
		p->backoff_ms = PROVIDER_BACKOFF_MIN_MS;
		log_info("registered at provider %s", p->id);
		if (p->ev.registered != NULL)
			p->ev.registered(p->ev_arg);
		return;
	}
	if (msg->msg_case == LINK__CONTROL__MSG_ERROR && !p->registered) {
		log_warnx("provider refused the registration: %s",
		    msg->error->text ? msg->error->text : "");
		link_shutdown(l);
		return;
	}
	if (p->ev.control != NULL)
		p->ev.control(p->ev_arg, msg);
}

static void
provider_on_delivery(struct link *l, void *arg, uint64_t id, const uint8_t *packet,
    size_t len)
{
	struct provider_link *p = arg;

	if (p->registered && p->ev.delivery != NULL)
		p->ev.delivery(p->ev_arg, id, packet, len);
}

static void
provider_on_closed(struct link *l, void *arg, int reason)
{
	struct provider_link *p = arg;

	log_info("link to provider %s down (%d)", p->id, reason);
	provider_retry(p);
}

static int
provider_on_dh(struct link *l, void *arg, uint8_t out[LINK_KEY_BYTES],
    const uint8_t peer_pub[LINK_KEY_BYTES])
{
	struct provider_link *p = arg;

	if (p->keyd.dh_request(p->keyd_arg, peer_pub) == -1)
		return LINK_ERR_DH;
	return LINK_DH_PENDING;
}

static const struct link_callbacks provider_link_cb = {
	.established = provider_on_established,
	.delivery = provider_on_delivery,
	.control = provider_on_control,
	.closed = provider_on_closed,
	.dh = provider_on_dh,
};

static void provider_try_next(struct provider_link *);

static void
provider_on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct provider_link *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(p->connect_ev);
	p->connect_ev = NULL;
	if ((what & EV_TIMEOUT) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		p->last_errno = (what & EV_TIMEOUT) ? ETIMEDOUT : err ? err : errno;
		close(p->fd);
		p->fd = -1;
		provider_try_next(p);
		return;
	}
	p->addrs.n = p->next_addr = 0;
	struct link_config cfg = {
		.packet_bytes = p->packet_bytes,
		.our_pub = p->own_pub,
		.our_priv = NULL,
	};
	int rc = link_new_initiator(&p->link, p->base, fd, &cfg, p->pub,
	    &provider_link_cb, p);
	if (rc != LINK_OK) {
		log_warnx("cannot start the link to the provider (%d)", rc);
		provider_retry(p);
		return;
	}
	p->fd = -1;	/* the link owns it */
}

/*
 * Connects to the next address the provider's host resolved to, as node
 * links do (node/pool.c): a name with an IPv6 and an IPv4 address works
 * when only one of them answers. When none is left, waits and starts over.
 */
static void
provider_try_next(struct provider_link *p)
{
	char addr[ADDR_IP_BYTES];

	while (p->next_addr < p->addrs.n) {
		const struct resolve_addr *a = &p->addrs.a[p->next_addr++];
		struct sockaddr_storage ss;
		socklen_t sl = resolve_sockaddr(a, (uint16_t)strtoul(p->port, NULL, 10), &ss);
		log_debug("provider %s: trying %s of %s", p->id,
		    resolve_ntop(a, addr, sizeof(addr)), p->hostport);
		p->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (p->fd != -1 && (connect(p->fd, (struct sockaddr *)&ss, sl) == 0 ||
		    errno == EINPROGRESS)) {
			struct timeval tv = { 10, 0 };
			p->connect_ev = event_new(p->base, p->fd, EV_WRITE,
			    provider_on_connected, p);
			if (p->connect_ev == NULL || event_add(p->connect_ev, &tv) == -1)
				break;
			return;
		}
		p->last_errno = errno;
		if (p->fd != -1)
			close(p->fd);
		p->fd = -1;
	}
	if (!p->logged_down)
		log_warnx("cannot connect to provider %s at %s: %s", p->id, p->hostport,
		    strerror(p->last_errno));
	p->logged_down = 1;
	provider_retry(p);
}

static void
provider_on_resolved(void *arg, int error, const struct resolve_result *res)
{
	struct provider_link *p = arg;

	p->resolving = NULL;
	if (error != RESOLVE_OK) {
		log_warnx("provider %s: cannot resolve %s: %s", p->id, p->host,
		    resolve_strerror(error));
		provider_retry(p);
		return;
	}
	p->addrs = *res;
	p->next_addr = 0;
	p->last_errno = ECONNREFUSED;
	provider_try_next(p);
}

/* Resolves the host with netd's own resolver (no NSS: common/resolve.h),
 * on the loop, then connects. */
static void
provider_start(struct provider_link *p)
{
	provider_drop(p);
	if ((p->resolving = resolve_start(p->base, p->host, provider_on_resolved, p)) == NULL) {
		log_warnx("provider %s: cannot resolve %s: out of memory", p->id, p->host);
		provider_retry(p);
	}
}

static void
provider_on_retry(evutil_socket_t fd, short what, void *arg)
{
	provider_start(arg);
}

/* Tears down what there is and tries again after the back-off. */
static void
provider_retry(struct provider_link *p)
{
	provider_drop(p);
	struct timeval tv = { p->backoff_ms / 1000, (p->backoff_ms % 1000) * 1000 };
	evtimer_add(p->retry_ev, &tv);
	p->backoff_ms *= 2;
	if (p->backoff_ms > PROVIDER_BACKOFF_MAX_MS)
		p->backoff_ms = PROVIDER_BACKOFF_MAX_MS;
}

struct provider_link *
provider_new(struct event_base *base, const uint8_t own_pub[32], size_t packet_bytes,
    const struct provider_keyd *keyd, void *keyd_arg)
{
	struct provider_link *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->keyd = *keyd;
	p->keyd_arg = keyd_arg;
	p->fd = -1;
	p->packet_bytes = packet_bytes;
	p->backoff_ms = PROVIDER_BACKOFF_MIN_MS;
	memcpy(p->own_pub, own_pub, 32);
	p->retry_ev = xevtimer_new(base, provider_on_retry, p);
	return p;
}

void
provider_set_events(struct provider_link *p, const struct provider_events *ev, void *arg)
{
	if (ev != NULL)
		p->ev = *ev;
	else
		memset(&p->ev, 0, sizeof(p->ev));
	p->ev_arg = arg;
}

void
provider_free(struct provider_link *p)
{
	if (p == NULL)
		return;
	p->ev.down = NULL;
	provider_drop(p);
	event_free(p->retry_ev);
	free(p);
}

void
provider_connect(struct provider_link *p, const uint8_t pub[32], const char *host,
    const char *port)
{
	if (p->target_set && memcmp(p->pub, pub, 32) == 0 && strcmp(p->host, host) == 0 &&
	    strcmp(p->port, port) == 0)
		return;	/* already there or on the way */
	memcpy(p->pub, pub, 32);
	b64_encode(p->id, pub, 32, B64_URLSAFE);
	snprintf(p->host, sizeof(p->host), "%s", host);
	snprintf(p->port, sizeof(p->port), "%s", port);
	if (addr_format_hostport(p->hostport, sizeof(p->hostport), p->host, p->port) == -1)
		snprintf(p->hostport, sizeof(p->hostport), "%s", p->host);
	p->target_set = 1;
	p->backoff_ms = PROVIDER_BACKOFF_MIN_MS;
	evtimer_del(p->retry_ev);
	provider_start(p);
}

void
provider_dh_result(struct provider_link *p, const uint8_t *shared)
{
	if (p->link != NULL)
		link_dh_result(p->link, shared);
}

int
provider_registered(const struct provider_link *p)
{
	return p->registered;
}

const uint8_t *
provider_token(const struct provider_link *p, size_t *len)
{
	*len = p->token_len;
	return p->token;
}

struct link *
provider_get_link(struct provider_link *p)
{
	return p->registered ? p->link : NULL;
}
