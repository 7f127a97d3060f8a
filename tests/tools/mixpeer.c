/*
 * mixpeer: a provider stand-in around one real mixnode (mixpeer.h).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/descriptor.h"
#include "common/epoch.h"
#include "common/link.h"
#include "mixpeer.h"

/* The loop never sleeps longer than this, so that mixpeer_run() polls. */
#define MIXPEER_TICK_US	1000

static struct event *tick;

void
mixpeer_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mixpeer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

double
mixpeer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct link_config *
mixpeer_link_config(const struct mixpeer *p)
{
	static struct link_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.packet_bytes = SPHINX_PACKET_BYTES;
	cfg.our_pub = p->pub;
	cfg.our_priv = p->priv;
	cfg.out_max_bytes = 1024 * 1024;
	return &cfg;
}

/* ---- incoming links: the mixnode relays to us ---- */

static void
in_packet(struct link *l, void *arg, const uint8_t *pkt, size_t len)
{
	struct mixpeer *p = arg;

	p->received++;
	if (p->on_packet != NULL)
		p->on_packet(p->arg, pkt);
}

static void
in_closed(struct link *l, void *arg, int reason)
{
	struct mixpeer *p = arg;

	for (size_t i = 0; i < p->n_in; i++)
		if (p->in[i] == l) {
			link_free(l);
			p->in[i] = p->in[--p->n_in];
			return;
		}
}

static const struct link_callbacks in_cb = {
	.packet = in_packet,
	.closed = in_closed,
};

static void
on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct mixpeer *p = arg;
	struct link *l;

	if (p->n_in >= MIXPEER_MAX_IN ||
	    link_new_responder(&l, p->base, fd, mixpeer_link_config(p), &in_cb,
	    p) != LINK_OK) {
		close(fd);
		return;
	}
	p->in[p->n_in++] = l;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
}

void
mixpeer_open(struct mixpeer *p, struct event_base *base,
    void (*on_packet)(void *, const uint8_t *), void *arg)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct timeval tv = { 0, MIXPEER_TICK_US };

	memset(p, 0, sizeof(*p));
	p->base = base;
	p->on_packet = on_packet;
	p->arg = arg;
	randombytes_buf(p->priv, 32);
	crypto_scalarmult_base(p->pub, p->priv);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->listener = evconnlistener_new_bind(base, on_accept, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (p->listener == NULL ||
	    getsockname(evconnlistener_get_fd(p->listener),
	    (struct sockaddr *)&sin, &len) == -1)
		mixpeer_die("cannot listen on 127.0.0.1");
	p->port = ntohs(sin.sin_port);
	if ((tick = event_new(base, -1, EV_PERSIST, on_tick, NULL)) == NULL)
		mixpeer_die("out of memory");
	event_add(tick, &tv);
}

/* ---- the directory ---- */

struct body {
	char	*p;
	size_t	 len;
};

static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *q = realloc(b->p, b->len + n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->len, data, n);
	b->p = q;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* GET (post == NULL) or POST a JSON body; the response body, or dies. */
static char *
http(const char *url, const char *post, size_t *len)
{
	struct body b = { NULL, 0 };
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURL *h = curl_easy_init();

	if (h == NULL)
		mixpeer_die("curl_easy_init");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (post != NULL) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
	}
	if (curl_easy_perform(h) != CURLE_OK)
		mixpeer_die("%s: request failed", url);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	if (status < 200 || status >= 300)
		mixpeer_die("%s: HTTP status %ld: %s", url, status,
		    b.p ? b.p : "");
	if (len != NULL)
		*len = b.len;
	return b.p != NULL ? b.p : strdup("");
}

/*
 * Announces us as a provider, so that the mixnode accepts our links: a
 * presence with a descriptor signed by an identity derived from our key.
 */
void
mixpeer_announce(const struct mixpeer *p, const char *directory)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t sig[DESCRIPTOR_SIG_BYTES];
	char url[1024], *text, *body, sigb64[B64_ENCODED_LEN(64) + 1];
	char id[B64_KEY_CHARS + 1];
	struct descriptor d;
	json_t *o;

	crypto_generichash(seed, sizeof(seed), p->priv, 32,
	    (const uint8_t *)"mixpeer identity", 16);
	memset(&d, 0, sizeof(d));
	crypto_sign_seed_keypair(d.identity, sk, seed);
	d.role = DESCRIPTOR_PROVIDER;
	snprintf(d.host, sizeof(d.host), "127.0.0.1:%u", p->port);
	memcpy(d.pub, p->pub, 32);
	d.published_ms = epoch_now_ms();
	if (descriptor_sign(&d, sk, &text, sig) == -1)
		mixpeer_die("cannot sign our descriptor");
	b64_encode(id, p->pub, 32, B64_URLSAFE);
	b64_encode(sigb64, sig, sizeof(sig), B64_URLSAFE);
	o = json_pack("{s:s, s:s, s:[], s:s, s:s}", "host", d.host, "pubKey", id,
	    "registeredClients", "descriptor", text, "signature", sigb64);
	free(text);
	if (o == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL)
		mixpeer_die("out of memory");
	json_decref(o);
	snprintf(url, sizeof(url), "%s/api/presence/mixproviders", directory);
	free(http(url, body, NULL));
	free(body);
}

struct topology *
mixpeer_topology(const char *directory)
{
	struct topology *t;
	char url[1024], err[256], *body;
	size_t len;

	snprintf(url, sizeof(url), "%s/api/presence/topology", directory);
	/* A node announces its epoch keys once it knows the epoch length. */
	for (int tries = 0;; tries++) {
		int ready = 1;

		body = http(url, NULL, &len);
		if (topology_parse(body, len, &t, err, sizeof(err)) == -1)
			mixpeer_die("topology: %s", err);
		free(body);
		for (size_t i = 0; i < t->n_mixnodes; i++)
			ready &= topology_node_usable(t, &t->mixnodes[i]);
		if (ready || tries == 100)
			return t;
		topology_free(t);
		usleep(100000);
	}
}

/* ---- outgoing links: we feed the mixnode ---- */

static size_t
out_index(const struct mixpeer *p, const struct link *l)
{
	for (size_t i = 0; i < p->n_out; i++)
		if (p->out[i] == l)
			return i;
	mixpeer_die("unknown link");
}

static void
out_established(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	struct mixpeer *p = arg;

	p->out_up[out_index(p, l)] = 1;
}

static void
out_drained(struct link *l, void *arg)
{
	struct mixpeer *p = arg;

	p->drained = 1;
}

static void
out_closed(struct link *l, void *arg, int reason)
{
	struct mixpeer *p = arg;
	size_t i = out_index(p, l);

	if (p->out_up[i])
		mixpeer_die("link %zu to the mixnode closed: %s", i,
		    link_strerror(reason));
	p->out_closed[i] = 1;
}

static const struct link_callbacks out_cb = {
	.established = out_established,
	.drained = out_drained,
	.closed = out_closed,
};

static struct link *
dial(struct mixpeer *p, const struct topology_node *node)
{
	struct addrinfo hints, *res;
	struct link *l;
	int fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(node->host, node->port, &hints, &res) != 0)
		mixpeer_die("cannot resolve %s", node->host);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		mixpeer_die("connect %s:%s: %s", node->host, node->port,
		    strerror(errno));
	freeaddrinfo(res);
	if (link_new_initiator(&l, p->base, fd, mixpeer_link_config(p),
	    node->pub, &out_cb, p) != LINK_OK)
		mixpeer_die("link_new_initiator");
	return l;
}

void
mixpeer_connect(struct mixpeer *p, const struct topology_node *node,
    size_t n, unsigned timeout_ms)
{
	double deadline = mixpeer_now_ms() + timeout_ms;

	if (n > MIXPEER_MAX_LINKS)
		mixpeer_die("at most %d links", MIXPEER_MAX_LINKS);
	for (size_t i = 0; i < n; i++) {
		p->out[i] = dial(p, node);
		p->out_up[i] = p->out_closed[i] = 0;
		p->n_out = i + 1;
		while (!p->out_up[i]) {
			if (mixpeer_now_ms() > deadline)
				mixpeer_die("the mixnode did not accept our link");
			if (p->out_closed[i]) {
				/* Refused: the node fetches the topology again. */
				link_free(p->out[i]);
				mixpeer_run(p, 200, NULL);
				p->out[i] = dial(p, node);
				p->out_closed[i] = 0;
			}
			event_base_loop(p->base, EVLOOP_ONCE);
		}
	}
}

int
mixpeer_try(struct mixpeer *p, const struct topology_node *node,
    unsigned timeout_ms)
{
	double deadline = mixpeer_now_ms() + timeout_ms;
	int rc;

	p->out[0] = dial(p, node);
	p->out_up[0] = p->out_closed[0] = 0;
	p->n_out = 1;
	while (!p->out_up[0] && !p->out_closed[0] &&
	    mixpeer_now_ms() < deadline)
		event_base_loop(p->base, EVLOOP_ONCE);
	rc = p->out_up[0] ? 1 : p->out_closed[0] ? 0 : -1;
	link_free(p->out[0]);
	p->out[0] = NULL;
	p->n_out = 0;
	return rc;
}

void
mixpeer_send(struct mixpeer *p, size_t i, const uint8_t *packet)
{
	int rc;

	while ((rc = link_send_packet(p->out[i], packet, SPHINX_PACKET_BYTES)) ==
	    LINK_ERR_BUSY) {
		p->drained = 0;
		while (!p->drained)
			event_base_loop(p->base, EVLOOP_ONCE);
	}
	if (rc != LINK_OK)
		mixpeer_die("send: %s", link_strerror(rc));
}

void
mixpeer_build(const struct mixpeer *p, const struct topology_node *node,
    uint32_t delay_ms, const void *msg, size_t len,
    uint8_t out[SPHINX_PACKET_BYTES])
{
	uint8_t key[32], phase;

	if (p->topology == NULL || topology_hop_key(p->topology, node,
	    epoch_now_ms(), key, &phase) == -1)
		mixpeer_die("node %s has no epoch key in the topology", node->id);
	mixpeer_build_key(p, key, phase, delay_ms, msg, len, out);
}

void
mixpeer_build_key(const struct mixpeer *p, const uint8_t node_pub[32],
    uint8_t phase, uint32_t delay_ms, const void *msg, size_t len,
    uint8_t out[SPHINX_PACKET_BYTES])
{
	struct sphinx_hop hops[2];
	int rc;

	memset(hops, 0, sizeof(hops));
	memcpy(hops[0].node_pub, node_pub, 32);
	hops[0].key_phase = phase;
	hops[0].command = SPHINX_CMD_RELAY;
	memcpy(hops[0].next_id, p->pub, 32);
	hops[0].delay_ms = delay_ms;
	memcpy(hops[1].node_pub, p->pub, 32);
	hops[1].command = SPHINX_CMD_FINAL;
	if ((rc = sphinx_create(out, hops, 2, msg, len, NULL)) != SPHINX_OK)
		mixpeer_die("sphinx_create: %s", sphinx_strerror(rc));
}

void
mixpeer_run(struct mixpeer *p, double ms, const int *flag)
{
	double deadline = mixpeer_now_ms() + ms;

	while ((flag == NULL || !*flag) && mixpeer_now_ms() < deadline)
		event_base_loop(p->base, EVLOOP_ONCE);
}

void
mixpeer_close(struct mixpeer *p)
{
	for (size_t i = 0; i < p->n_out; i++)
		link_free(p->out[i]);
	for (size_t i = 0; i < p->n_in; i++)
		link_free(p->in[i]);
	p->n_out = p->n_in = 0;
	if (p->listener != NULL)
		evconnlistener_free(p->listener);
	p->listener = NULL;
	if (tick != NULL)
		event_free(tick);
	tick = NULL;
	sodium_memzero(p->priv, sizeof(p->priv));
}
