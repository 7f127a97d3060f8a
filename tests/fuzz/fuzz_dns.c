/*
 * Fuzz target: resolve_response_parse(), the one parser of what a
 * nameserver sends netd, on arbitrary bytes. The ID is taken from the
 * input, so that the parse goes past the header; the question asked is
 * prov.test, type A or AAAA by a bit of the input. Whatever it returns, it
 * reads nothing beyond the input (ASan), adds addresses only on success,
 * at most RESOLVE_MAX_ADDRS, each of the asked family. The same bytes go
 * through the /etc/hosts and resolv.conf parsers too.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolve_result r;
	struct resolve_conf c;
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	uint16_t qtype = size >= 4 && (data[3] & 0x40) ? DNS_TYPE_AAAA : DNS_TYPE_A;

	memset(&r, 0, sizeof(r));
	int rc = resolve_response_parse(data, size, id, "prov.test", qtype, &r);
	CHECK(rc <= RESOLVE_OK && rc >= RESOLVE_ERR_SYSTEM);
	CHECK(rc != RESOLVE_ERR_BADNAME && rc != RESOLVE_ERR_TIMEOUT);
	CHECK(rc == RESOLVE_OK || r.n == 0);
	CHECK(r.n <= RESOLVE_MAX_ADDRS);
	for (size_t i = 0; i < r.n; i++)
		CHECK(r.a[i].family == (qtype == DNS_TYPE_A ? AF_INET : AF_INET6));

	memset(&r, 0, sizeof(r));
	size_t n = resolve_hosts_parse((const char *)data, size, "prov.test", &r);
	CHECK(n == r.n && n <= RESOLVE_MAX_ADDRS);

	resolve_conf_parse((const char *)data, size, &c);
	CHECK(c.nservers >= 1 && c.nservers <= RESOLVE_MAX_SERVERS);
	CHECK(c.timeout_ms >= 1000 && c.timeout_ms <= 30000);
	CHECK(c.attempts >= 1 && c.attempts <= 5);
	CHECK(c.nsearch <= RESOLVE_MAX_SEARCH && c.ndots <= RESOLVE_MAX_NDOTS);
	for (size_t i = 0; i < c.nsearch; i++) {
		uint8_t wire[RESOLVE_MAX_QUERY_BYTES];
		size_t len = strlen(c.search[i]);
		CHECK(len > 0 && len < sizeof(c.search[i]) && c.search[i][len - 1] != '.');
		CHECK(resolve_query_build(wire, sizeof(wire), 1, c.search[i], DNS_TYPE_A) > 0);
	}
	return 0;
}
