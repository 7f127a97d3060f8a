/*
 * Unit tests of the one address syntax (common/addr.c): IP literals where
 * an IP is required, host:port with IPv6 in brackets, URLs part by part.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/addr.h"

static void
test_ip_accepted(void **state)
{
	char out[ADDR_IP_BYTES], why[256];

	(void)state;
	assert_int_equal(addr_parse_ip("127.0.0.1", out, sizeof(out), why, sizeof(why)), 4);
	assert_string_equal(out, "127.0.0.1");
	assert_int_equal(addr_parse_ip("::1", out, sizeof(out), why, sizeof(why)), 6);
	assert_string_equal(out, "::1");
	assert_int_equal(addr_parse_ip("[::1]", out, sizeof(out), why, sizeof(why)), 6);
	assert_string_equal(out, "::1");
	assert_int_equal(addr_parse_ip("[0:0:0:0:0:0:0:1]", out, sizeof(out), why, sizeof(why)), 6);
	assert_string_equal(out, "::1");
}

static void
test_ip_refused(void **state)
{
	static const struct { const char *in, *why; } cases[] = {
		{ "localhost", "is a host name, not an IP address" },
		{ "127.0.0.1:5", "expected an IP address without the port" },
		{ "[::1]:5", "expected an IP address without the port" },
		{ "fe80::1%lo", "IPv6 zone ids" },
		{ "[fe80::1%lo]", "IPv6 zone ids" },
		{ "[127.0.0.1]", "is not an IP address" },
		{ "1.2.3", "is not an IP address" },
		{ "", "an IP address is required" },
		{ "[::1", "without its ']'" },
		{ "[::1]x", "nothing may follow ']'" },
	};
	char out[ADDR_IP_BYTES], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		assert_int_equal(addr_parse_ip(cases[i].in, out, sizeof(out), why, sizeof(why)), -1);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("'%s': got '%s', want '%s'", cases[i].in, why, cases[i].why);
	}
}

static void
test_hostport(void **state)
{
	char out[ADDR_HOSTPORT_BYTES];

	(void)state;
	assert_int_equal(addr_format_hostport(out, sizeof(out), "::1", "28090"), 0);
	assert_string_equal(out, "[::1]:28090");
	assert_int_equal(addr_format_hostport(out, sizeof(out), "127.0.0.1", "1"), 0);
	assert_string_equal(out, "127.0.0.1:1");
	assert_int_equal(addr_format_hostport(out, sizeof(out), "example.org", "80"), 0);
	assert_string_equal(out, "example.org:80");
	assert_int_equal(addr_format_hostport(out, 5, "::1", "1"), -1);
}

static void
test_url(void **state)
{
	static const char *good[] = {
		"http://localhost:8080/api/presence/topology", "https://example.org",
		"http://[::1]:1/x", "HTTP://127.0.0.1/a?b=c#f", "http://a-b.example:65535/",
	};
	static const struct { const char *in, *why; } bad[] = {
		{ "ftp://x/", "the scheme 'ftp' is not supported" },
		{ "x", "expected an http:// or https:// URL" },
		{ "http://", "the URL has no host" },
		{ "http:///a", "the URL has no host" },
		{ "http://x:0/", "the port must be 1 to 65535" },
		{ "http://x:/", "the port must be 1 to 65535" },
		{ "http://x:65536/", "the port must be 1 to 65535" },
		{ "http://[fe80::1%25lo]/", "zone ids" },
		{ "http://::1:80/", "an IPv6 host must be in brackets" },
		{ "http://[::1]x/", "only ':PORT' may follow" },
		{ "http://u:p@x/", "a user name in the URL is not supported" },
		{ "http://x/a b", "the path has a space" },
		{ "http://x_y/", "the host is not a host name" },
	};
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (addr_check_url(good[i], why, sizeof(why)) != 0)
			fail_msg("'%s' refused: %s", good[i], why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(addr_check_url(bad[i].in, why, sizeof(why)), -1);
		if (strstr(why, bad[i].why) == NULL || strstr(why, bad[i].in) == NULL)
			fail_msg("'%s': got '%s', want '%s' and the URL", bad[i].in, why,
			    bad[i].why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_accepted),
		cmocka_unit_test(test_ip_refused),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
