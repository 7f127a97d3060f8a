/*
 * Unit tests of the HTTP client's pinned names (common/http.c, issue 22
 * point 7): libcurl connects by the addresses netd resolved itself and
 * never looks a name up. This program defines getaddrinfo() and exports
 * it (-export-dynamic), so that libcurl, loaded at run time, calls this
 * one, which counts the calls and fails: with pinned names the count
 * stays 0; without, it rises (the control that the counting works).
 */
#include <config.h>

#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/http.h"

static volatile int lookups;

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	__atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST);
	return EAI_NONAME;
}

/* An HTTP server on loopback that answers every request "ok". */
struct server {
	struct event_base *base;
	int		 fd;
	struct event	*ev;
	unsigned	 port;
	int		 served;
};

/* A request's first bytes came: the answer, and the connection closed. */
static void
server_on_request(evutil_socket_t c, short what, void *arg)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\nok";
	struct server *s = arg;
	char buf[4096];

	if (read(c, buf, sizeof(buf)) > 0 &&
	    write(c, resp, sizeof(resp) - 1) == (ssize_t)sizeof(resp) - 1)
		s->served++;
	close(c);
}

static void
server_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int c = accept(fd, NULL, NULL);

	if (c != -1)
		event_base_once(s->base, c, EV_READ, server_on_request, s, NULL);
}

static void
server_open(struct server *s, struct event_base *base)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, server_on_accept, s);
	assert_non_null(s->ev);
	event_add(s->ev, NULL);
}

static void
server_close(struct server *s)
{
	event_free(s->ev);
	close(s->fd);
}

struct reply {
	int			 done;
	long			 status;
	char			 body[64];
	char			 error[256];
	struct event_base	*base;
};

static void
on_reply(void *arg, long status, const char *body, size_t len, const char *error)
{
	struct reply *r = arg;

	r->done = 1;
	r->status = status;
	snprintf(r->body, sizeof(r->body), "%s", body);
	snprintf(r->error, sizeof(r->error), "%s", error != NULL ? error : "");
	event_base_loopbreak(r->base);
}

/* GET url on h; the reply once it came. */
static void
get(struct event_base *base, struct http *h, const char *url, struct reply *r)
{
	struct timeval limit = { 15, 0 };

	memset(r, 0, sizeof(*r));
	r->base = base;
	assert_int_equal(http_get(h, url, on_reply, r), 0);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(r->done, 1);
}

static int
setup(void **state)
{
	return http_global_init() == 0 ? 0 : -1;
}

static void
test_pinned_names_only(void **state)
{
	struct event_base *base = event_base_new();
	struct http *h = http_new(base);
	const char *addrs[] = { "::1", "127.0.0.1" };
	struct server s;
	struct reply r;
	char url[128];

	assert_non_null(h);
	server_open(&s, base);
	http_pinned_only(h);
	/* ::1 first, where nothing listens: libcurl tries the next */
	assert_int_equal(http_pin(h, "pinned.test", s.port, addrs, 2), 0);
	lookups = 0;
	snprintf(url, sizeof(url), "http://pinned.test:%u/api/presence/topology", s.port);
	get(base, h, url, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	/* a name not pinned, an IPv4 literal not pinned: refused, not looked up */
	snprintf(url, sizeof(url), "http://unpinned.test:%u/", s.port);
	get(base, h, url, &r);
	assert_int_equal(r.status, 0);
	assert_true(r.error[0] != '\0');
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s.port);
	get(base, h, url, &r);
	assert_int_equal(r.status, 0);
	/* pinned again, to another address: the new one is used */
	const char *lo[] = { "127.0.0.1" };
	assert_int_equal(http_pin(h, "127.0.0.1", s.port, lo, 1), 0);
	get(base, h, url, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(lookups, 0);
	assert_int_equal(s.served, 2);
	http_free(h);

	/* the control: a client without pins makes libcurl look up */
	h = http_new(base);
	snprintf(url, sizeof(url), "http://unpinned.test:%u/", s.port);
	get(base, h, url, &r);
	assert_int_equal(r.status, 0);
	assert_true(lookups > 0);
	http_free(h);
	server_close(&s);
	event_base_free(base);
}

static void
test_names(void **state)
{
	struct event_base *base = event_base_new();
	struct http *h = http_new(base);
	struct http_name n[HTTP_MAX_NAMES];

	assert_int_equal(http_names(h, "http://dir.test/api", n), 1);
	assert_string_equal(n[0].host, "dir.test");
	assert_int_equal(n[0].port, 80);
	assert_int_equal(http_names(h, "https://Dir.test:8443/api", n), 1);
	assert_string_equal(n[0].host, "Dir.test");
	assert_int_equal(n[0].port, 8443);
	assert_int_equal(http_names(h, "http://[::1]:8080/", n), 0);
	assert_int_equal(http_names(h, "http://127.0.0.1:8080/", n), 1);
	assert_int_equal(http_names(h, "ftp://x/", n), -1);
	/* an HTTP proxy or socks5h resolves the URL's host itself */
	assert_int_equal(http_set_proxy(h, "http://proxy.test:3128"), 0);
	assert_int_equal(http_names(h, "http://dir.test/", n), 1);
	assert_string_equal(n[0].host, "proxy.test");
	assert_int_equal(n[0].port, 3128);
	assert_int_equal(http_set_proxy(h, "socks5h://proxy.test:1080"), 0);
	assert_int_equal(http_names(h, "http://dir.test/", n), 1);
	assert_string_equal(n[0].host, "proxy.test");
	/* socks5 and socks4 leave it to the client */
	assert_int_equal(http_set_proxy(h, "socks5://proxy.test:1080"), 0);
	assert_int_equal(http_names(h, "http://dir.test:81/", n), 2);
	assert_string_equal(n[1].host, "dir.test");
	assert_int_equal(n[1].port, 81);
	assert_int_equal(http_set_proxy(h, "socks4://[::1]:1080"), 0);
	assert_int_equal(http_names(h, "http://dir.test/", n), 1);
	assert_string_equal(n[0].host, "dir.test");
	http_free(h);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_pinned_names_only),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
