/*
 * A small HTTP client for directory traffic (the topology GET of nymd and
 * the nodes, the nodes' presence and metrics POSTs): libcurl's multi
 * interface on the caller's libevent loop, so no request ever blocks it.
 */
#ifndef NYMD_COMMON_HTTP_H
#define NYMD_COMMON_HTTP_H

#include <stddef.h>

struct event_base;
struct http;

#define HTTP_MAX_RESPONSE_BYTES	(4u * 1024 * 1024)
#define HTTP_TIMEOUT_S		10L
#define HTTP_CONNECT_TIMEOUT_S	5L

/*
 * Called once per request from the event loop.  status is the HTTP
 * status, or 0 if the request failed (error then says why); body is the
 * response (NUL-terminated, len bytes) and is freed after the call.
 */
typedef void (*http_cb)(void *arg, long status, const char *body, size_t len,
    const char *error);

/* curl_global_init(): once per process, before any thread or sandbox. */
int		 http_global_init(void);
void		 http_global_cleanup(void);

struct http	*http_new(struct event_base *);
/* Cancels requests in flight without calling their callbacks. */
void		 http_free(struct http *);

/*
 * The proxy for this client's requests (a URL libcurl takes), or NULL or
 * "" for none. Without one no proxy is used, whatever the environment's
 * http_proxy, HTTPS_PROXY, all_proxy and their kin say. 0 or -1.
 */
int		 http_set_proxy(struct http *, const char *proxy);
/* A proxy URL: http, https, socks4, socks4a, socks5 or socks5h with
 * host and port. 0, or -1 with why. */
int		 http_proxy_check(const char *proxy, char *why, size_t whylen);

/*
 * Names resolved by the caller (netd, whose sandbox keeps NSS out: see
 * common/resolve.h), so that libcurl never looks one up itself:
 * http_names() says which host names (and ports) a request for url
 * through this client's proxy makes libcurl look up: the proxy's and,
 * without a proxy or through socks4:// or socks5:// (which resolve
 * locally), the URL's; an IPv6 literal is none (libcurl takes it as it
 * is). http_pin() gives libcurl the addresses of one (CURLOPT_RESOLVE)
 * for this client's later requests; http_pinned_only() makes every later
 * request whose host was not pinned fail instead of being looked up
 * (CURLOPT_RESOLVER_START_FUNCTION), with a warning.
 */
#define HTTP_MAX_NAMES	2
struct http_name {
	char		host[256];
	unsigned	port;
};
int		 http_names(const struct http *, const char *url,
		    struct http_name out[HTTP_MAX_NAMES]);
int		 http_pin(struct http *, const char *host, unsigned port,
		    const char *const *addrs, size_t naddrs);
void		 http_pinned_only(struct http *);
/*
 * The same, done by this client itself for every later request: its names
 * are resolved with common/resolve.c (no NSS), pinned, then the request
 * starts; a name that does not resolve is the request's error (cb, from
 * the loop). For sandboxed processes: netd and the nodes.
 */
void		 http_own_resolver(struct http *);

/* GET url; 0, or -1 if the request could not be started (cb not called). */
int		 http_get(struct http *, const char *url, http_cb, void *arg);
/* POST a JSON body (copied) to url. */
int		 http_post_json(struct http *, const char *url, const char *json,
		    size_t len, http_cb, void *arg);
/* Requests in flight. */
size_t		 http_pending(const struct http *);

/*
 * A blocking GET, through proxy (NULL or "": none, as http_set_proxy()),
 * for one-shot commands (nymd init, nym-testnet), not for
 * an event loop. On success *body is a malloc'd NUL-terminated copy of at
 * most HTTP_MAX_RESPONSE_BYTES; returns 0, or -1 with a message in err.
 */
int		 http_get_sync(const char *url, const char *proxy, long timeout_ms,
		    char **body, size_t *len, long *status, char *err, size_t errlen);

#endif /* NYMD_COMMON_HTTP_H */
