/* The websocket upgrade parser: what it accepts and how it refuses. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpcd/http.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="
/* RFC 6455 section 1.3 */
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static char req[16384];

/* A request line, then the given header lines, then the blank line. */
static size_t
build(const char *line, const char *headers)
{
	int n = snprintf(req, sizeof(req), "%s\r\n%s\r\n", line, headers);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	return (size_t)n;
}

#define STD_HEADERS(extra) \
	"Host: 127.0.0.1:9001\r\n" \
	"Upgrade: websocket\r\n" \
	"Connection: Upgrade\r\n" \
	"Sec-WebSocket-Key: " KEY "\r\n" \
	"Sec-WebSocket-Version: 13\r\n" extra

/* The default websocket_allowed_origins. */
#define ORIGINS	"http://localhost http://127.0.0.1 http://[::1]"

static const char *origins = ORIGINS;

static long
parse(size_t len, struct http_upgrade *u)
{
	return http_parse_upgrade((const uint8_t *)req, len, "/mix", origins, u);
}

static void
expect_status(const char *line, const char *headers, int status)
{
	struct http_upgrade u;
	size_t len = build(line, headers);
	long rc = parse(len, &u);

	if (status == 101) {
		assert_int_equal(rc, (long)len);
	} else {
		assert_int_equal(rc, HTTP_REFUSED);
		assert_non_null(u.why);
	}
	assert_int_equal(u.status, status);
}

static void
test_accept_key(void **state)
{
	char out[HTTP_WS_ACCEPT_CHARS + 1];

	http_ws_accept(KEY, strlen(KEY), out);
	assert_string_equal(out, ACCEPT);
}

static void
test_valid_upgrade(void **state)
{
	struct http_upgrade u;
	size_t len = build("GET /mix HTTP/1.1", STD_HEADERS(""));
	char res[HTTP_MAX_RESPONSE_BYTES];

	assert_int_equal(parse(len, &u), (long)len);
	assert_int_equal(u.status, 101);
	assert_string_equal(u.accept, ACCEPT);
	int n = http_response(&u, res, sizeof(res));
	assert_true(n > 0);
	assert_non_null(strstr(res, "HTTP/1.1 101 Switching Protocols\r\n"));
	assert_non_null(strstr(res, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"));
	assert_string_equal(res + n - 4, "\r\n\r\n");
}

/* Header names in any case, lists, a query string, other headers. */
static void
test_valid_variants(void **state)
{
	expect_status("GET /mix?x=1 HTTP/1.1",
	    "host: localhost\r\n"
	    "UPGRADE: WebSocket\r\n"
	    "connection: keep-alive, Upgrade\r\n"
	    "sec-websocket-key:" KEY "  \r\n"
	    "SEC-WEBSOCKET-VERSION: 13\r\n"
	    "User-Agent: test\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "Content-Length: 0\r\n", 101);
	/* the default websocket_allowed_origins: any port */
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://localhost:3000\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://LocalHost\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://127.0.0.1\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://127.0.0.1:80\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://[::1]:8080\r\n"), 101);
}

/*
 * Pages whose origin has no host: any site can produce "null" (a
 * sandboxed iframe, a data: URL) and so can any downloaded HTML file. They
 * must be refused, with a body that names the key to change, whatever
 * websocket_allowed_origins holds.
 */
static void
test_origin_without_host(void **state)
{
	static const char *const bad[] = { "null", "NULL", "file://", "file:///tmp/x.html" };
	static const char *const lists[] = { ORIGINS, "http://localhost null file://", "" };
	char headers[512], res[HTTP_MAX_RESPONSE_BYTES];
	struct http_upgrade u;

	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		origins = lists[k];
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(headers, sizeof(headers), STD_HEADERS("Origin: %s\r\n"), bad[i]);
			expect_status("GET /mix HTTP/1.1", headers, 403);
		}
	}
	origins = ORIGINS;
	build("GET /mix HTTP/1.1", STD_HEADERS("Origin: null\r\n"));
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	assert_true(http_response(&u, res, sizeof(res)) > 0);
	assert_non_null(strstr(res, "HTTP/1.1 403 Forbidden\r\n"));
	assert_non_null(strstr(res, "websocket_allowed_origins"));
	/* a program, which sends no Origin, is still served */
	expect_status("GET /mix HTTP/1.1", STD_HEADERS(""), 101);
}

/* websocket_allowed_origins other than the default: an entry with a port
 * allows that port only; an empty list allows no page. */
static void
test_origin_list(void **state)
{
	origins = "https://app.example:8443, chrome-extension://abcdef";
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: https://app.example:8443\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: chrome-extension://abcdef\r\n"), 101);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: https://app.example\r\n"), 403);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: https://app.example:443\r\n"), 403);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://app.example:8443\r\n"), 403);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://localhost\r\n"), 403);
	origins = "";
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://localhost\r\n"), 403);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS(""), 101);
	origins = NULL;
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: http://localhost\r\n"), 403);
	origins = ORIGINS;
}

/* Every proper prefix of a valid request is incomplete, not wrong. */
static void
test_incomplete(void **state)
{
	struct http_upgrade u;
	size_t len = build("GET /mix HTTP/1.1", STD_HEADERS(""));

	for (size_t i = 0; i < len; i++)
		assert_int_equal(parse(i, &u), HTTP_NEED_MORE);
}

static void
test_key(void **state)
{
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n", 400);
	/* 15 bytes, 17 bytes, not base64, URL-safe alphabet, twice */
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: ____________________w==\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Sec-WebSocket-Key: " KEY "\r\n"), 400);
}

static void
test_version(void **state)
{
	struct http_upgrade u;
	char res[HTTP_MAX_RESPONSE_BYTES];

	build("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	assert_int_equal(u.status, 426);
	assert_true(http_response(&u, res, sizeof(res)) > 0);
	assert_non_null(strstr(res, "HTTP/1.1 426 Upgrade Required\r\n"));
	assert_non_null(strstr(res, "\r\nSec-WebSocket-Version: 13\r\n"));
	/* missing */
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n", 400);
	/* HTTP/1.0 and others */
	expect_status("GET /mix HTTP/1.0", STD_HEADERS(""), 505);
	expect_status("GET /mix HTTP/2.0", STD_HEADERS(""), 505);
	expect_status("GET /mix HTTP/1.10", STD_HEADERS(""), 400);
	expect_status("GET /mix http/1.1", STD_HEADERS(""), 400);
}

static void
test_path(void **state)
{
	struct http_upgrade u;
	char res[HTTP_MAX_RESPONSE_BYTES];

	expect_status("GET /other HTTP/1.1", STD_HEADERS(""), 404);
	expect_status("GET / HTTP/1.1", STD_HEADERS(""), 404);
	expect_status("GET /mixx HTTP/1.1", STD_HEADERS(""), 404);
	expect_status("GET /mix/ HTTP/1.1", STD_HEADERS(""), 404);
	expect_status("GET /%6dix HTTP/1.1", STD_HEADERS(""), 404);
	expect_status("GET /mix#x HTTP/1.1", STD_HEADERS(""), 400);
	expect_status("GET http://127.0.0.1/mix HTTP/1.1", STD_HEADERS(""), 400);
	expect_status("GET * HTTP/1.1", STD_HEADERS(""), 400);
	/* refused as soon as the request line is there */
	snprintf(req, sizeof(req), "GET /other HTTP/1.1\r\nHost: a");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	assert_int_equal(u.status, 404);
	int n = http_response(&u, res, sizeof(res));
	assert_true(n > 0);
	assert_non_null(strstr(res, "HTTP/1.1 404 Not Found\r\n"));
	assert_non_null(strstr(res, "\r\nConnection: close\r\n"));
	/* Content-Length is the body's */
	const char *body = strstr(res, "\r\n\r\n") + 4;
	char cl[48];
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(res, cl));
	assert_non_null(strstr(body, "/mix"));
}

static void
test_origin(void **state)
{
	static const char *const bad[] = {
		"http://evil.example", "https://evil.example:443",
		"http://127.0.0.1.evil.example", "http://localhost.evil.example",
		"http://10.0.0.1", "http://0.0.0.0", "http://[::2]", "http://[::1",
		"http://localhost:", "http://localhost:123456", "http://localhost/path",
		"http://localhost:80x", "localhost", "", "http://", "file://host",
		"chrome-extension://abcdef", "http://[::ffff:8.8.8.8]",
		"http://127.0.0.1@evil.example", "https://127.0.0.1", "http://127.1.2.3",
		"http://localhost@127.0.0.1", "http://[::1]x",
	};
	char headers[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(headers, sizeof(headers), STD_HEADERS("Origin: %s\r\n"), bad[i]);
		expect_status("GET /mix HTTP/1.1", headers, 403);
	}
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Origin: null\r\n"
	    "Origin: null\r\n"), 400);
}

static void
test_too_large(void **state)
{
	struct http_upgrade u;
	size_t len;

	/* one endless header */
	len = (size_t)snprintf(req, sizeof(req), "GET /mix HTTP/1.1\r\nX: ");
	memset(req + len, 'a', HTTP_MAX_HEAD_BYTES);
	assert_int_equal(parse(HTTP_MAX_HEAD_BYTES - 1, &u), HTTP_NEED_MORE);
	assert_int_equal(parse(HTTP_MAX_HEAD_BYTES, &u), HTTP_REFUSED);
	assert_int_equal(u.status, 431);
	assert_int_equal(parse(HTTP_MAX_HEAD_BYTES + 100, &u), HTTP_REFUSED);
	assert_int_equal(u.status, 431);
	/* too many lines */
	char headers[4096] = STD_HEADERS("");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		strcat(headers, "X: y\r\n");
	expect_status("GET /mix HTTP/1.1", headers, 431);
}

static void
test_garbage(void **state)
{
	struct http_upgrade u;
	size_t len = build("GET /mix HTTP/1.1", STD_HEADERS(""));

	/* After the head: frames, not this parser's business. */
	memcpy(req + len, "garbage\r\n\r\n", 12);
	assert_int_equal(parse(len + 11, &u), (long)len);
	assert_int_equal(u.status, 101);
	/* Before: refused at once, not waited for. */
	memcpy(req, "\x16\x03\x01\x02\x00", 5);
	assert_int_equal(parse(5, &u), HTTP_REFUSED);
	assert_int_equal(u.status, 400);
	snprintf(req, sizeof(req), "hello world");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	snprintf(req, sizeof(req), "{\"fetch\":{}}");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	snprintf(req, sizeof(req), "\r\nGET /mix HTTP/1.1\r\n");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	assert_int_equal(u.status, 400);
}

static void
test_syntax(void **state)
{
	expect_status("POST /mix HTTP/1.1", STD_HEADERS(""), 405);
	expect_status("get /mix HTTP/1.1", STD_HEADERS(""), 405);
	expect_status("GET  /mix HTTP/1.1", STD_HEADERS(""), 400);
	expect_status("GET /mix HTTP/1.1 ", STD_HEADERS(""), 400);
	expect_status("GET /mix", STD_HEADERS(""), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("X : y\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("X: y\r\n continued\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("no colon\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS(": novalue\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("X: a\001b\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("X: a\rb\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("X: a\nb\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Host: b\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Content-Length: 5\r\n"), 400);
	expect_status("GET /mix HTTP/1.1", STD_HEADERS("Transfer-Encoding: chunked\r\n"), 400);
	expect_status("GET /mix HTTP/1.1",
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n", 400);
	expect_status("GET /mix HTTP/1.1",
	    "Host: \r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n", 400);
	/* bare LF line ends */
	struct http_upgrade u;
	snprintf(req, sizeof(req), "GET /mix HTTP/1.1\nHost: a\n\n");
	assert_int_equal(parse(strlen(req), &u), HTTP_REFUSED);
	assert_int_equal(u.status, 400);
	/* a NUL */
	memcpy(req, "GET /mix\0", 9);
	assert_int_equal(parse(9, &u), HTTP_REFUSED);
}

static void
test_response_small_buffer(void **state)
{
	struct http_upgrade u = { .status = 403, .why = "the Origin is not local" };
	char res[16];

	assert_int_equal(http_response(&u, res, sizeof(res)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_valid_upgrade),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_origin_without_host),
		cmocka_unit_test(test_origin_list),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_response_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
