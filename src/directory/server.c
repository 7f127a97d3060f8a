#include <config.h>

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/b64.h"
#include "common/log.h"
#include "directory/body.h"
#include "directory/ratelimit.h"
#include "directory/registry.h"
#include "directory/server.h"

#define SERVER_JSON_TYPE	"application/json; charset=utf-8"

struct server {
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	struct registry			*registry;
	struct ratelimit		*ratelimit;	/* POSTs per address */
	uint32_t			 post_rate;
};

typedef void (*server_handler)(struct server *, struct evhttp_request *,
    const char *body, size_t len);

struct server_route {
	const char	*path;
	server_handler	 get;
	server_handler	 post;
};

void
server_now(struct registry_now *now)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	now->real_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now->mono_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sends a JSON document we built (owned by the caller). */
static void
server_reply(struct evhttp_request *req, int code, const char *reason,
    const char *json, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", SERVER_JSON_TYPE);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evbuffer_add(out, json, len) == -1 || evbuffer_add(out, "\n", 1) == -1) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, NULL);
}

/* {"error": msg}; msg is printable ASCII without quotes (see body.c). */
/* libevent names no 403. */
#define SERVER_HTTP_FORBIDDEN	403

static void
server_error(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
	json_t *doc = json_pack("{s:s}", "error", msg);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (s == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	server_reply(req, code, reason, s, strlen(s));
	free(s);
}

static void
server_bad_request(struct evhttp_request *req, const char *what,
    const char *msg)
{
	log_info("refused %s: %s", what, msg);
	server_error(req, HTTP_BADREQUEST, "Bad Request", msg);
}

/* The answer to an accepted POST, as the seed's directory gave it. */
static void
server_created(struct evhttp_request *req)
{
	static const char ok[] = "{\"ok\":true}";

	server_reply(req, 201, "Created", ok, sizeof(ok) - 1);
}

static int
server_put_result(struct evhttp_request *req, int rc, const char *what,
    const uint8_t pub[32])
{
	char id[B64_KEY_CHARS + 1];

	b64_encode(id, pub, 32, B64_URLSAFE);
	switch (rc) {
	case REGISTRY_ADDED:
	case REGISTRY_RENEWED:
		/* Only arrivals are news; renewals come every few seconds. */
		if (rc == REGISTRY_ADDED && strcmp(what, "metrics") != 0)
			log_info("%s %s joined", what, id);
		else
			log_debug("%s %s %s", what, id,
			    rc == REGISTRY_ADDED ? "added" : "renewed");
		break;
	case REGISTRY_ERR_EPOCH:
		log_info("refused %s %s: sphinxKeys for epochs far from now", what,
		    id);
		server_error(req, HTTP_BADREQUEST, "Bad Request",
		    "sphinxKeys must be for epochs from the previous to the "
		    "one after next (is the node's clock right?)");
		return -1;
	case REGISTRY_ERR_NOT_ALLOWED:
		log_info("refused %s %s: its identity key is not allowed", what,
		    id);
		server_error(req, SERVER_HTTP_FORBIDDEN, "Forbidden", "this directory "
		    "admits only the identity keys on its allow-list");
		return -1;
	case REGISTRY_ERR_IDENTITY:
		log_info("refused %s %s: signed by another identity than the "
		    "node's, or an identity that names another node", what, id);
		server_error(req, SERVER_HTTP_FORBIDDEN, "Forbidden", "this node is "
		    "bound to another identity key, or this identity key to "
		    "another node");
		return -1;
	case REGISTRY_ERR_STALE:
		log_info("refused %s %s: descriptor published too far from now "
		    "or older than the last", what, id);
		server_error(req, HTTP_BADREQUEST, "Bad Request", "the descriptor "
		    "was not published within 120 s of the directory's clock, or "
		    "is older than the node's last");
		return -1;
	case REGISTRY_ERR_STATEMENT:
		log_info("refused %s %s: a client's registration statement is "
		    "dated in the future", what, id);
		server_error(req, HTTP_BADREQUEST, "Bad Request", "a client's "
		    "registration statement is dated more than 120 s after the "
		    "directory's clock");
		return -1;
	case REGISTRY_ERR_FULL:
		log_warnx("refused %s %s: the directory is full", what, id);
		server_error(req, HTTP_SERVUNAVAIL, "Service Unavailable",
		    "the directory holds as many nodes as it can");
		return -1;
	default:
		log_warnx("refused %s %s: out of memory", what, id);
		server_error(req, HTTP_INTERNAL, "Internal Server Error",
		    "out of memory");
		return -1;
	}
	server_created(req);
	return 0;
}

static void
server_get_healthcheck(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	static const char ok[] = "{\"ok\":true}";

	server_reply(req, HTTP_OK, "OK", ok, sizeof(ok) - 1);
}

static void
server_send_document(struct evhttp_request *req, char *doc, size_t len)
{
	if (doc == NULL) {
		server_error(req, HTTP_INTERNAL, "Internal Server Error",
		    "out of memory");
		return;
	}
	server_reply(req, HTTP_OK, "OK", doc, len);
	free(doc);
}

static void
server_get_topology(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct registry_now now;
	size_t doclen = 0;
	char *doc;

	server_now(&now);
	doc = registry_topology_json(s->registry, now.mono_ns, &doclen);
	server_send_document(req, doc, doclen);
}

static void
server_get_metrics(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct registry_now now;
	size_t doclen = 0;
	char *doc;

	server_now(&now);
	doc = registry_metrics_json(s->registry, now.mono_ns, &doclen);
	server_send_document(req, doc, doclen);
}

static void
server_post_mixnode(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct registry_now now;
	struct body_mixnode m;
	char err[BODY_ERR_BYTES];

	if (body_parse_mixnode(body, len, &m, err, sizeof(err)) != BODY_OK) {
		server_bad_request(req, "mixnode presence", err);
		return;
	}
	server_now(&now);
	server_put_result(req, registry_put_mixnode(s->registry, &m, &now),
	    "mixnode", m.pub);
}

static void
server_post_provider(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct registry_now now;
	struct body_provider p;
	char err[BODY_ERR_BYTES];
	uint8_t pub[32];

	if (body_parse_provider(body, len, &p, err, sizeof(err)) != BODY_OK) {
		server_bad_request(req, "provider presence", err);
		return;
	}
	server_now(&now);
	memcpy(pub, p.pub, sizeof(pub));
	server_put_result(req, registry_put_provider(s->registry, &p, &now),
	    "provider", pub);
	body_provider_clear(&p);	/* empty unless the put failed */
}

static void
server_post_metric(struct server *s, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct registry_now now;
	struct body_metric m;
	char err[BODY_ERR_BYTES];
	uint8_t pub[32];

	if (body_parse_metric(body, len, &m, err, sizeof(err)) != BODY_OK) {
		server_bad_request(req, "mix metric", err);
		return;
	}
	server_now(&now);
	memcpy(pub, m.pub, sizeof(pub));
	server_put_result(req, registry_put_metric(s->registry, &m, &now),
	    "metrics", pub);
	body_metric_clear(&m);
}

static const struct server_route server_routes[] = {
	{ "/api/healthcheck", server_get_healthcheck, NULL },
	{ "/api/presence/topology", server_get_topology, NULL },
	{ "/api/presence/mixnodes", NULL, server_post_mixnode },
	{ "/api/presence/mixproviders", NULL, server_post_provider },
	{ "/api/metrics/mixes", server_get_metrics, server_post_metric },
};

static void
server_method_not_allowed(struct evhttp_request *req,
    const struct server_route *r)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    r->get && r->post ? "GET, HEAD, POST" : r->get ? "GET, HEAD" : "POST");
	server_error(req, HTTP_BADMETHOD, "Method Not Allowed",
	    "method not allowed");
}

/*
 * A web page can make a browser POST a form or text/plain to a loopback
 * port without asking; it cannot send application/json without a CORS
 * preflight, which we never grant. So only JSON posts count.
 */
static int
server_is_json(struct evhttp_request *req)
{
	static const char json[] = "application/json";
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	size_t n = sizeof(json) - 1;

	if (ct == NULL || strncasecmp(ct, json, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

/*
 * Whether this POST is within its source address's rate (docs/
 * directory.md, "Limits"); if not, answers 429.  Checked before the body
 * is looked at: a refused write costs next to nothing.
 */
static int
server_rate_ok(struct server *s, struct evhttp_request *req, const char *path)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;
	struct registry_now now;

	if (conn != NULL)
		evhttp_connection_get_peer(conn, &addr, &port);
	server_now(&now);
	switch (ratelimit_take(s->ratelimit, addr ? addr : "", now.mono_ns)) {
	case RATELIMIT_PASS:
		return 1;
	case RATELIMIT_REFUSE_FIRST:
		log_warnx("refused POST %s from %s: more than %u writes per "
		    "second from one address (--post-rate); refusing its writes "
		    "until it slows down", path, addr ? addr : "?",
		    s->post_rate);
		break;
	case RATELIMIT_REFUSE:
		log_debug("refused POST %s from %s: rate limit", path,
		    addr ? addr : "?");
		break;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
	    "1");
	server_error(req, 429, "Too Many Requests", "too many writes from "
	    "this address; slow down");
	return 0;
}

static void
server_dispatch(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct server_route *r = NULL;
	struct evbuffer *in;
	const char *body;
	size_t len;

	for (size_t i = 0; path != NULL &&
	    i < sizeof(server_routes) / sizeof(server_routes[0]); i++)
		if (strcmp(path, server_routes[i].path) == 0)
			r = &server_routes[i];
	if (r == NULL) {
		server_error(req, HTTP_NOTFOUND, "Not Found", "no such resource");
		return;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:	/* evhttp leaves out the body */
		if (r->get == NULL)
			break;
		/* Public data: a dashboard on another origin may read it. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Access-Control-Allow-Origin", "*");
		r->get(s, req, NULL, 0);
		return;
	case EVHTTP_REQ_POST:
		if (r->post == NULL)
			break;
		if (!server_rate_ok(s, req, r->path))
			return;
		if (!server_is_json(req)) {
			log_info("refused %s: not application/json", r->path);
			server_error(req, 415, "Unsupported Media Type",
			    "the body must be sent as application/json");
			return;
		}
		in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		if (len > BODY_MAX_BYTES) {
			char msg[64];
			snprintf(msg, sizeof(msg), "request body larger than %u bytes",
			    BODY_MAX_BYTES);
			server_bad_request(req, r->path, msg);
			return;
		}
		body = len ? (const char *)evbuffer_pullup(in, -1) : "";
		if (body == NULL) {
			server_error(req, HTTP_INTERNAL, "Internal Server Error",
			    "out of memory");
			return;
		}
		r->post(s, req, body, len);
		return;
	default:
		break;
	}
	server_method_not_allowed(req, r);
}

struct server *
server_new(struct event_base *base, struct registry *registry,
    const char *address, uint16_t port, uint32_t post_rate, char *err,
    size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->ratelimit = ratelimit_new(post_rate,
	    post_rate * SERVER_POST_BURST_SECONDS)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->registry = registry;
	s->post_rate = post_rate;
	if ((s->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		free(s);
		return NULL;
	}
	evhttp_set_max_body_size(s->http, SERVER_MAX_READ_BYTES);
	evhttp_set_max_headers_size(s->http, SERVER_MAX_HEADER_BYTES);
	evhttp_set_timeout(s->http, SERVER_TIMEOUT_SECONDS);
	/* Every method reaches the dispatcher, which answers 405 in JSON. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->http, server_dispatch, s);
	errno = 0;
	s->bound = evhttp_bind_socket_with_handle(s->http, address, port);
	if (s->bound == NULL) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", address,
		    (unsigned)port, errno ? strerror(errno) : "address not usable");
		server_free(s);
		return NULL;
	}
	return s;
}

uint16_t
server_port(const struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(s->bound);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->http != NULL)
		evhttp_free(s->http);
	ratelimit_free(s->ratelimit);
	free(s);
}
