#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/strbuf.h"
#include "common/topology.h"
#include "common/metrics.h"

#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_TIMEOUT_S	5

struct metrics_endpoint {
	struct evhttp		*http;
	metrics_fill	 fill;
	void			*arg;
};

void
metrics_counter(struct strbuf *b, const char *name, const char *help,
    unsigned long long value)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
	    help, name, name, value);
}

void
metrics_gauge(struct strbuf *b, const char *name, const char *help,
    unsigned long long value)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help,
	    name, name, value);
}

static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct metrics_endpoint *m = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct strbuf b = STRBUF_INIT;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (strcmp(evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)),
	    METRICS_PATH) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is here");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(h, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	m->fill(m->arg, &b);
	if (b.failed || b.buf == NULL ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), b.buf,
	    b.len) == -1) {
		free(b.buf);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	free(b.buf);
	evhttp_add_header(h, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

int
metrics_endpoint_start(struct metrics_endpoint **out, struct event_base *base,
    const char *listen, metrics_fill fill, void *arg, char *err,
    size_t errlen)
{
	char host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
	struct metrics_endpoint *m;

	*out = NULL;
	if (topology_split_host(listen, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "metrics_listen %s: not ip:port", listen);
		return -1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->http = evhttp_new(base)) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->fill = fill;
	m->arg = arg;
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(m->http, metrics_request, m);
	if (evhttp_bind_socket(m->http, host, (uint16_t)atoi(port)) == -1) {
		snprintf(err, errlen, "metrics_listen %s: cannot listen there",
		    listen);
		metrics_endpoint_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void
metrics_endpoint_free(struct metrics_endpoint *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
}

/* 1 if v is "IPv4:port" in 127.0.0.0/8 or "[::1]:port", port 1..65535. */
int
metrics_listen_valid(const char *v)
{
	char host[TOPOLOGY_HOST_BYTES], port[TOPOLOGY_PORT_BYTES];
	struct in6_addr a6;
	struct in_addr a4;

	if (topology_split_host(v, host, sizeof(host), port, sizeof(port)) == -1)
		return 0;
	if (v[0] == '[')
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}
