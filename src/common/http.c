/*
 * libcurl multi on libevent: libcurl tells us which sockets to watch
 * (socket callback) and when to call it back (timer callback); we turn
 * those into events and hand readiness back with curl_multi_socket_action().
 * Every libcurl call goes through CURLFN() (libcurl is loaded at run time;
 * common/curlfn.h).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/addr.h"
#include "common/curlfn.h"
#include "common/http.h"
#include "common/log.h"
#include "common/resolve.h"

#define HTTP_MAX_PINS	4

struct http_req {
	struct http		*http;
	struct http_req		*next;
	CURL			*easy;
	struct curl_slist	*headers;
	struct curl_slist	*resolve;	/* the client's pins */
	char			*post;
	char			*body;
	size_t			 body_len;
	int			 overflow;
	char			 err[CURL_ERROR_SIZE];
	int			 v6_literal;	/* see http_on_resolver_start() */
	http_cb			 cb;
	void			*arg;
};

/* One name of a request, being resolved. */
struct http_lookup_name {
	struct http_lookup	*l;
	struct http_name	 name;
	struct resolve		*res;
};

/* A request waiting for its names (http_own_resolver()). */
struct http_lookup {
	struct http		*http;
	struct http_lookup	*next;
	struct http_lookup_name	 names[HTTP_MAX_NAMES];
	size_t			 waiting;
	char			*url;
	char			*post;		/* NULL: a GET */
	size_t			 post_len;
	char			 err[400];
	struct event		*fail_ev;	/* reports err from the loop */
	http_cb			 cb;
	void			*arg;
};

struct http {
	struct event_base	*base;
	struct http_lookup	*lookups;
	int			 own_resolver;
	CURLM			*multi;
	struct event		*timer;
	struct http_req		*reqs;
	size_t			 pending;
	char			*proxy;		/* NULL: none */
	/* "host:port:addr,[addr6]" for CURLOPT_RESOLVE (http_pin) */
	char			*pins[HTTP_MAX_PINS];
	size_t			 npins;
	int			 pinned_only;
};

struct http_sock {
	struct event		*ev;
};

/* libcurl is loaded on first use (common/curlfn.h); says why it cannot be. */
static int
http_load(void)
{
	char err[256];

	if (curlfn_load(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

int
http_global_init(void)
{
	if (http_load() == -1)
		return -1;
	return CURLFN(global_init)(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
http_global_cleanup(void)
{
	if (curlfn.global_cleanup != NULL)
		CURLFN(global_cleanup)();
}

static void
http_req_free(struct http_req *r)
{
	struct http_req **pp;

	for (pp = &r->http->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->easy != NULL) {
		CURLFN(multi_remove_handle)(r->http->multi, r->easy);
		CURLFN(easy_cleanup)(r->easy);
	}
	CURLFN(slist_free_all)(r->headers);
	CURLFN(slist_free_all)(r->resolve);
	free(r->post);
	free(r->body);
	r->http->pending--;
	free(r);
}

static void
http_check_done(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = CURLFN(multi_info_read)(h->multi, &left)) != NULL) {
		struct http_req *r = NULL;
		char why[CURL_ERROR_SIZE + 64];
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		CURLFN(easy_getinfo)(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r == NULL)
			continue;
		why[0] = '\0';
		if (r->overflow)
			snprintf(why, sizeof(why), "response larger than %u bytes",
			    HTTP_MAX_RESPONSE_BYTES);
		else if (m->data.result != CURLE_OK)
			snprintf(why, sizeof(why), "%s", r->err[0] ? r->err :
			    CURLFN(easy_strerror)(m->data.result));
		else
			CURLFN(easy_getinfo)(r->easy, CURLINFO_RESPONSE_CODE, &status);
		/* Detach first: the callback may start new requests. */
		CURLFN(multi_remove_handle)(h->multi, r->easy);
		CURLFN(easy_cleanup)(r->easy);
		r->easy = NULL;
		r->cb(r->arg, why[0] ? 0 : status, r->body ? r->body : "",
		    r->body_len, why[0] ? why : NULL);
		http_req_free(r);
	}
}

static void
http_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	CURLFN(multi_socket_action)(h->multi, fd, flags, &running);
	http_check_done(h);
}

static void
http_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running;

	CURLFN(multi_socket_action)(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
}

static int
http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct http *h = userp;
	struct http_sock *hs = socketp;
	short ev;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			CURLFN(multi_assign)(h->multi, s, NULL);
		}
		return 0;
	}
	if (hs == NULL) {
		if ((hs = calloc(1, sizeof(*hs))) == NULL)
			return -1;
		CURLFN(multi_assign)(h->multi, s, hs);
	} else
		event_free(hs->ev);
	ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if ((hs->ev = event_new(h->base, s, ev, http_on_socket, h)) == NULL)
		return -1;
	return event_add(hs->ev, NULL);
}

static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv);
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_req *r = userp;
	size_t n = size * nmemb;
	char *p;

	if (n > HTTP_MAX_RESPONSE_BYTES - r->body_len) {
		r->overflow = 1;
		return 0;	/* aborts the transfer */
	}
	if ((p = realloc(r->body, r->body_len + n + 1)) == NULL)
		return 0;
	memcpy(p + r->body_len, data, n);
	r->body = p;
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

struct http *
http_new(struct event_base *base)
{
	struct http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	if (http_load() == -1) {
		free(h);
		return NULL;
	}
	if ((h->multi = CURLFN(multi_init)()) == NULL ||
	    (h->timer = evtimer_new(base, http_on_timer, h)) == NULL) {
		http_free(h);
		return NULL;
	}
	CURLFN(multi_setopt)(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	CURLFN(multi_setopt)(h->multi, CURLMOPT_SOCKETDATA, h);
	CURLFN(multi_setopt)(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	CURLFN(multi_setopt)(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static void http_lookup_free(struct http_lookup *);

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	while (h->lookups != NULL)
		http_lookup_free(h->lookups);
	while (h->reqs != NULL)
		http_req_free(h->reqs);
	if (h->multi != NULL)
		CURLFN(multi_cleanup)(h->multi);
	if (h->timer != NULL)
		event_free(h->timer);
	for (size_t i = 0; i < h->npins; i++)
		free(h->pins[i]);
	free(h->proxy);
	free(h);
}

/*
 * libcurl is about to look a name up itself (CURLOPT_RESOLVER_START_
 * FUNCTION; a pinned name is found in its cache and never comes here):
 * refused, unless the request has an IPv6 literal, which CURLOPT_RESOLVE
 * cannot pin and which libcurl then takes as it is, without a lookup.
 */
static int
http_on_resolver_start(void *resolver_state, void *reserved, void *userp)
{
	struct http_req *r = userp;

	if (r->v6_literal)
		return 0;
	log_warnx("libcurl was about to look up a host name itself: refused "
	    "(only names resolved beforehand are used)");
	return 1;
}

/* 1 if url (or the proxy) has an IPv6 literal as its host. */
static int
http_has_v6_literal(const struct http *h, const char *url)
{
	char host[256], purl[512];
	unsigned port;
	const char *sep;

	if (addr_url_host(url, host, sizeof(host), &port) == 0 && strchr(host, ':') != NULL)
		return 1;
	if (h->proxy != NULL && (sep = strstr(h->proxy, "://")) != NULL &&
	    (size_t)snprintf(purl, sizeof(purl), "http://%s", sep + 3) < sizeof(purl) &&
	    addr_url_host(purl, host, sizeof(host), &port) == 0 && strchr(host, ':') != NULL)
		return 1;
	return 0;
}

static int
http_start(struct http *h, const char *url, const char *json, size_t len,
    http_cb cb, void *arg)
{
	struct http_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->http = h;
	r->cb = cb;
	r->arg = arg;
	r->next = h->reqs;
	h->reqs = r;
	h->pending++;
	if ((r->easy = CURLFN(easy_init)()) == NULL)
		goto fail;
	CURLFN(easy_setopt)(r->easy, CURLOPT_URL, url);
	CURLFN(easy_setopt)(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLFN(easy_setopt)(r->easy, CURLOPT_NOSIGNAL, 1L);
	CURLFN(easy_setopt)(r->easy, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT_S);
	CURLFN(easy_setopt)(r->easy, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	CURLFN(easy_setopt)(r->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	CURLFN(easy_setopt)(r->easy, CURLOPT_WRITEDATA, r);
	CURLFN(easy_setopt)(r->easy, CURLOPT_ERRORBUFFER, r->err);
	CURLFN(easy_setopt)(r->easy, CURLOPT_PRIVATE, r);
	CURLFN(easy_setopt)(r->easy, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	/* "" is no proxy, whatever http_proxy and its kin say. */
	CURLFN(easy_setopt)(r->easy, CURLOPT_PROXY, h->proxy != NULL ? h->proxy : "");
	for (size_t i = 0; i < h->npins; i++) {
		struct curl_slist *l = CURLFN(slist_append)(r->resolve, h->pins[i]);
		if (l == NULL)
			goto fail;
		r->resolve = l;
	}
	if (r->resolve != NULL)
		CURLFN(easy_setopt)(r->easy, CURLOPT_RESOLVE, r->resolve);
	if (h->pinned_only) {
		r->v6_literal = http_has_v6_literal(h, url);
		CURLFN(easy_setopt)(r->easy, CURLOPT_RESOLVER_START_FUNCTION,
		    http_on_resolver_start);
		CURLFN(easy_setopt)(r->easy, CURLOPT_RESOLVER_START_DATA, r);
	}
	if (json != NULL) {
		if ((r->post = malloc(len + 1)) == NULL)
			goto fail;
		memcpy(r->post, json, len);
		r->post[len] = '\0';
		r->headers = CURLFN(slist_append)(NULL,
		    "Content-Type: application/json");
		if (r->headers == NULL)
			goto fail;
		CURLFN(easy_setopt)(r->easy, CURLOPT_HTTPHEADER, r->headers);
		CURLFN(easy_setopt)(r->easy, CURLOPT_POSTFIELDS, r->post);
		CURLFN(easy_setopt)(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if (CURLFN(multi_add_handle)(h->multi, r->easy) != CURLM_OK)
		goto fail;
	return 0;
fail:
	http_req_free(r);
	return -1;
}

int
http_set_proxy(struct http *h, const char *proxy)
{
	char *copy = NULL;

	if (proxy != NULL && proxy[0] != '\0' && (copy = strdup(proxy)) == NULL)
		return -1;
	free(h->proxy);
	h->proxy = copy;
	return 0;
}

/* The schemes libcurl takes for a proxy, each with host and port. */
int
http_proxy_check(const char *proxy, char *why, size_t whylen)
{
	static const char *schemes[] = {
		"http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://",
	};
	char url[512];

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);
		if (strncasecmp(proxy, schemes[i], n) != 0)
			continue;
		/* The authority is checked as an http URL's would be. */
		if ((size_t)snprintf(url, sizeof(url), "http://%s", proxy + n) >= sizeof(url)) {
			snprintf(why, whylen, "the proxy URL is too long");
			return -1;
		}
		if (addr_check_url(url, why, whylen) == -1) {
			snprintf(why, whylen, "'%s': expected SCHEME://HOST:PORT with a "
			    "host name, an IPv4 address or an IPv6 address in brackets", proxy);
			return -1;
		}
		const char *host = proxy + n;
		const char *port = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
		if (port == NULL) {
			snprintf(why, whylen, "'%s': the proxy's port is missing", proxy);
			return -1;
		}
		return 0;
	}
	snprintf(why, whylen, "'%s': expected a proxy URL: http://, https://, socks4://, "
	    "socks4a://, socks5:// or socks5h:// HOST:PORT", proxy);
	return -1;
}

int
http_names(const struct http *h, const char *url, struct http_name out[HTTP_MAX_NAMES])
{
	static const char *local_socks[] = { "socks4://", "socks5://" };
	char purl[512];
	const char *sep;
	int n = 0, target = 1;

	if (h->proxy != NULL) {
		target = 0;
		for (size_t i = 0; i < sizeof(local_socks) / sizeof(local_socks[0]); i++)
			if (strncasecmp(h->proxy, local_socks[i], strlen(local_socks[i])) == 0)
				target = 1;
		if ((sep = strstr(h->proxy, "://")) == NULL ||
		    (size_t)snprintf(purl, sizeof(purl), "http://%s", sep + 3) >= sizeof(purl) ||
		    addr_url_host(purl, out[n].host, sizeof(out[n].host), &out[n].port) == -1)
			return -1;
		if (strchr(out[n].host, ':') == NULL)
			n++;
	}
	if (target) {
		if (addr_url_host(url, out[n].host, sizeof(out[n].host), &out[n].port) == -1)
			return -1;
		if (strchr(out[n].host, ':') == NULL)
			n++;
	}
	return n;
}

int
http_pin(struct http *h, const char *host, unsigned port, const char *const *addrs,
    size_t naddrs)
{
	char entry[1024], key[300];
	size_t at, i;
	int k;

	if (naddrs == 0 || strchr(host, ':') != NULL)
		return -1;
	k = snprintf(key, sizeof(key), "%s:%u:", host, port);
	if (k < 0 || (size_t)k >= sizeof(key))
		return -1;
	at = (size_t)snprintf(entry, sizeof(entry), "%s", key);
	for (i = 0; i < naddrs; i++) {
		int six = strchr(addrs[i], ':') != NULL;
		k = snprintf(entry + at, sizeof(entry) - at, "%s%s%s%s", i ? "," : "",
		    six ? "[" : "", addrs[i], six ? "]" : "");
		if (k < 0 || (size_t)k >= sizeof(entry) - at)
			return -1;
		at += (size_t)k;
	}
	/* one entry per host and port: a new one replaces the old */
	for (i = 0; i < h->npins; i++)
		if (strncasecmp(h->pins[i], key, strlen(key)) == 0)
			break;
	if (i == HTTP_MAX_PINS)
		i = 0;	/* the oldest goes */
	char *copy = strdup(entry);
	if (copy == NULL)
		return -1;
	if (i < h->npins)
		free(h->pins[i]);
	else
		h->npins++;
	h->pins[i] = copy;
	return 0;
}

void
http_pinned_only(struct http *h)
{
	h->pinned_only = 1;
}

void
http_own_resolver(struct http *h)
{
	h->own_resolver = 1;
	h->pinned_only = 1;
}

static void
http_lookup_free(struct http_lookup *l)
{
	struct http_lookup **pp;

	for (pp = &l->http->lookups; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	for (size_t i = 0; i < HTTP_MAX_NAMES; i++)
		if (l->names[i].res != NULL)
			resolve_cancel(l->names[i].res);
	if (l->fail_ev != NULL)
		event_free(l->fail_ev);
	l->http->pending--;
	free(l->url);
	free(l->post);
	free(l);
}

/* The lookup is over: the request starts, or its callback hears why not. */
static void
http_lookup_done(struct http_lookup *l)
{
	struct http *h = l->http;
	http_cb cb = l->cb;
	void *arg = l->arg;
	char err[sizeof(l->err)];
	int rc = -1;

	if (l->err[0] == '\0')
		rc = http_start(h, l->url, l->post, l->post_len, cb, arg);
	if (rc == -1 && l->err[0] == '\0')
		snprintf(l->err, sizeof(l->err), "cannot start the transfer");
	memcpy(err, l->err, sizeof(err));
	http_lookup_free(l);
	if (rc == -1)
		cb(arg, 0, NULL, 0, err);
}

static void
http_on_resolved(void *arg, int error, const struct resolve_result *res)
{
	struct http_lookup_name *n = arg;
	struct http_lookup *l = n->l;
	char ips[RESOLVE_MAX_ADDRS][64];
	const char *list[RESOLVE_MAX_ADDRS];

	n->res = NULL;
	if (error != RESOLVE_OK) {
		snprintf(l->err, sizeof(l->err), "cannot resolve %.255s: %s",
		    n->name.host, resolve_strerror(error));
	} else {
		for (size_t i = 0; i < res->n; i++)
			list[i] = resolve_ntop(&res->a[i], ips[i], sizeof(ips[i]));
		log_debug("http: %s resolved to %s%s", n->name.host, list[0],
		    res->n > 1 ? " and more" : "");
		if (http_pin(l->http, n->name.host, n->name.port, list, res->n) == -1)
			snprintf(l->err, sizeof(l->err),
			    "cannot hand %.255s's addresses to libcurl", n->name.host);
	}
	if (--l->waiting == 0)
		http_lookup_done(l);
}

static void
http_on_lookup_failed(evutil_socket_t fd, short what, void *arg)
{
	http_lookup_done(arg);
}

/*
 * Resolves the names the request connects by (the URL's host, or the
 * proxy's) with common/resolve.c, pins their addresses, then starts it.
 */
static int
http_lookup_start(struct http *h, const char *url, const char *json, size_t len,
    http_cb cb, void *arg)
{
	struct http_name names[HTTP_MAX_NAMES];
	struct http_lookup *l;
	int n;

	if ((n = http_names(h, url, names)) == -1)
		return -1;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->http = h;
	l->cb = cb;
	l->arg = arg;
	l->next = h->lookups;
	h->lookups = l;
	h->pending++;
	if ((l->url = strdup(url)) == NULL ||
	    (json != NULL && (l->post = malloc(len + 1)) == NULL) ||
	    (l->fail_ev = evtimer_new(h->base, http_on_lookup_failed, l)) == NULL) {
		http_lookup_free(l);
		return -1;
	}
	if (json != NULL) {
		memcpy(l->post, json, len);
		l->post[len] = '\0';
		l->post_len = len;
	}
	for (int i = 0; i < n; i++) {
		l->names[i].l = l;
		l->names[i].name = names[i];
	}
	l->waiting = (size_t)n;
	for (int i = 0; i < n; i++) {
		l->names[i].res = resolve_start(h->base, names[i].host, http_on_resolved,
		    &l->names[i]);
		if (l->names[i].res == NULL) {
			snprintf(l->err, sizeof(l->err), "cannot resolve %.255s: out of memory",
			    names[i].host);
			l->waiting--;
		}
	}
	/* Nothing to wait for (IPv6 literals only, or every start failed):
	 * the callback still runs from the loop, never from within here. */
	if (l->waiting == 0) {
		struct timeval zero = { 0, 0 };
		evtimer_add(l->fail_ev, &zero);
	}
	return 0;
}

int
http_get(struct http *h, const char *url, http_cb cb, void *arg)
{
	if (h->own_resolver)
		return http_lookup_start(h, url, NULL, 0, cb, arg);
	return http_start(h, url, NULL, 0, cb, arg);
}

int
http_post_json(struct http *h, const char *url, const char *json, size_t len,
    http_cb cb, void *arg)
{
	if (h->own_resolver)
		return http_lookup_start(h, url, json, len, cb, arg);
	return http_start(h, url, json, len, cb, arg);
}

size_t
http_pending(const struct http *h)
{
	return h->pending;
}

struct http_sync_body {
	char	*data;
	size_t	 len;
};

static size_t
http_sync_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_sync_body *b = arg;
	size_t n = size * nmemb;

	if (n > HTTP_MAX_RESPONSE_BYTES - b->len)
		return 0;	/* too large: curl reports a write error */
	char *q = realloc(b->data, b->len + n + 1);
	if (q == NULL)
		return 0;
	memcpy(q + b->len, p, n);
	b->data = q;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int
http_get_sync(const char *url, const char *proxy, long timeout_ms, char **body,
    size_t *len, long *status, char *err, size_t errlen)
{
	struct http_sync_body b = { NULL, 0 };
	CURLcode res;
	CURL *h;

	*status = 0;
	if (curlfn_load(err, errlen) == -1)
		return -1;
	if ((h = CURLFN(easy_init)()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	CURLFN(easy_setopt)(h, CURLOPT_URL, url);
	CURLFN(easy_setopt)(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLFN(easy_setopt)(h, CURLOPT_NOSIGNAL, 1L);
	CURLFN(easy_setopt)(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* The configured proxy or none, never the environment's. */
	CURLFN(easy_setopt)(h, CURLOPT_PROXY, proxy != NULL ? proxy : "");
	CURLFN(easy_setopt)(h, CURLOPT_WRITEFUNCTION, http_sync_write);
	CURLFN(easy_setopt)(h, CURLOPT_WRITEDATA, &b);
	CURLFN(easy_setopt)(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	res = CURLFN(easy_perform)(h);
	CURLFN(easy_getinfo)(h, CURLINFO_RESPONSE_CODE, status);
	CURLFN(easy_cleanup)(h);
	if (res != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, CURLFN(easy_strerror)(res));
		free(b.data);
		return -1;
	}
	if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*body = b.data;
	*len = b.len;
	return 0;
}
