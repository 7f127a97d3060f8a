/*
 * Unit tests of the resolver without NSS (common/resolve.c): literals,
 * /etc/hosts and resolv.conf text, the query, THE response parser on
 * good, hostile and malformed answers (compression loops included), and
 * whole resolutions against a small nameserver on loopback in this
 * process: both families, a spoofed answer ignored, a silent server
 * skipped, random IDs and source ports, cancellation.
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/resolve.h"

/* ---- building answers ---- */

struct msg {
	uint8_t	b[1024];
	size_t	n;
};

static void
put8(struct msg *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void
put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void
put32(struct msg *m, unsigned long v)
{
	put16(m, (unsigned)(v >> 16));
	put16(m, (unsigned)(v & 0xffff));
}

/* A dotted name in wire form, uncompressed. */
static void
put_name(struct msg *m, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot != NULL ? (size_t)(dot - name) : strlen(name);
		put8(m, (unsigned)l);
		for (size_t i = 0; i < l; i++)
			put8(m, (unsigned char)name[i]);
		name += l + (dot != NULL);
	}
	put8(m, 0);
}

/* Header and question: the answer to query (id, name, qtype). */
static void
answer_head(struct msg *m, unsigned id, unsigned flags, unsigned ancount,
    const char *name, unsigned qtype)
{
	m->n = 0;
	put16(m, id);
	put16(m, 0x8180 | flags);	/* QR RD RA */
	put16(m, 1);
	put16(m, ancount);
	put16(m, 0);
	put16(m, 0);
	put_name(m, name);
	put16(m, qtype);
	put16(m, 1);
}

/* An A or AAAA record whose owner is a pointer to offset 12 (the question). */
static void
answer_addr(struct msg *m, unsigned type, const char *ip)
{
	uint8_t bin[16];
	int fam = type == DNS_TYPE_A ? AF_INET : AF_INET6;
	size_t len = type == DNS_TYPE_A ? 4 : 16;

	assert_int_equal(inet_pton(fam, ip, bin), 1);
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, (unsigned)len);
	for (size_t i = 0; i < len; i++)
		put8(m, bin[i]);
}

static void
assert_addr(const struct resolve_addr *a, const char *want)
{
	char buf[64];

	assert_string_equal(resolve_ntop(a, buf, sizeof(buf)), want);
}

/* ---- literals and files ---- */

static void
test_literal(void **state)
{
	struct resolve_addr a;

	(void)state;
	assert_int_equal(resolve_literal("127.0.0.1", &a), 1);
	assert_addr(&a, "127.0.0.1");
	assert_int_equal(resolve_literal("::1", &a), 1);
	assert_addr(&a, "::1");
	assert_int_equal(resolve_literal("[2001:db8::1]", &a), 1);
	assert_addr(&a, "2001:db8::1");
	assert_int_equal(resolve_literal("localhost", &a), 0);
	assert_int_equal(resolve_literal("[127.0.0.1]", &a), 0);
	assert_int_equal(resolve_literal("fe80::1%lo", &a), 0);
	assert_int_equal(resolve_literal("", &a), 0);
}

static void
test_hosts(void **state)
{
	static const char hosts[] =
	    "# comment prov.test\n"
	    "127.0.0.1\tlocalhost\n"
	    "::1 ip6-localhost localhost\n"
	    "192.0.2.7 other.test # prov.test in a comment\n"
	    "  192.0.2.8   PROV.test.  alias\r\n"
	    "not-an-ip prov.test\n"
	    "2001:db8::8 x prov.test\n"
	    "192.0.2.8 prov.test\n"		/* again: once only */
	    "192.0.2.9 prov.test";		/* no final newline */
	struct resolve_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(resolve_hosts_parse(hosts, strlen(hosts), "prov.test", &r), 3);
	assert_int_equal(r.n, 3);
	assert_addr(&r.a[0], "192.0.2.8");
	assert_addr(&r.a[1], "2001:db8::8");
	assert_addr(&r.a[2], "192.0.2.9");
	memset(&r, 0, sizeof(r));
	assert_int_equal(resolve_hosts_parse(hosts, strlen(hosts), "LOCALHOST.", &r), 2);
	assert_addr(&r.a[0], "127.0.0.1");
	assert_addr(&r.a[1], "::1");
	memset(&r, 0, sizeof(r));
	assert_int_equal(resolve_hosts_parse(hosts, strlen(hosts), "comment", &r), 0);
	assert_int_equal(resolve_hosts_parse(hosts, strlen(hosts), "prov", &r), 0);
	assert_int_equal(resolve_hosts_parse(hosts, strlen(hosts), "", &r), 0);
	assert_int_equal(resolve_hosts_parse("", 0, "prov.test", &r), 0);
	/* a NUL inside the text ends nothing but that word */
	assert_int_equal(resolve_hosts_parse("192.0.2.1 a\0b.test\n192.0.2.2 b.test\n",
	    36, "b.test", &r), 1);
	assert_addr(&r.a[0], "192.0.2.2");
}

static void
test_conf(void **state)
{
	static const char conf[] =
	    "# generated\n"
	    "search example.org\n"
	    "nameserver 192.0.2.53\n"
	    "nameserver fe80::1%eth0\n"		/* zone id: skipped */
	    "nameserver 2001:db8::53 ; comment\n"
	    "nameserver bogus\n"
	    "nameserver 127.0.0.53\n"
	    "nameserver 192.0.2.99\n"		/* a fourth: ignored */
	    "options edns0 timeout:2 attempts:3 rotate\n";
	struct resolve_conf c;
	char buf[64];

	(void)state;
	resolve_conf_parse(conf, strlen(conf), &c);
	assert_int_equal(c.nservers, 3);
	assert_int_equal(c.timeout_ms, 2000);
	assert_int_equal(c.attempts, 3);
	struct sockaddr_in *s0 = (struct sockaddr_in *)&c.server[0];
	struct sockaddr_in6 *s1 = (struct sockaddr_in6 *)&c.server[1];
	struct sockaddr_in *s2 = (struct sockaddr_in *)&c.server[2];
	assert_int_equal(s0->sin_family, AF_INET);
	assert_int_equal(ntohs(s0->sin_port), 53);
	assert_string_equal(inet_ntop(AF_INET, &s0->sin_addr, buf, sizeof(buf)), "192.0.2.53");
	assert_int_equal(s1->sin6_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &s1->sin6_addr, buf, sizeof(buf)), "2001:db8::53");
	assert_string_equal(inet_ntop(AF_INET, &s2->sin_addr, buf, sizeof(buf)), "127.0.0.53");
	assert_int_equal(c.nsearch, 1);
	assert_string_equal(c.search[0], "example.org");
	assert_int_equal(c.ndots, 1);

	/* the last search or domain line wins; at most 6 domains; bad ones
	 * skipped; ndots capped at 15 */
	static const char conf2[] =
	    "search a.test b.test\n"
	    "domain only.test\n"
	    "search c.test. bad..name d.test e.test f.test g.test h.test i.test\n"
	    "options ndots:3 ndots:x\n";
	resolve_conf_parse(conf2, strlen(conf2), &c);
	assert_int_equal(c.nsearch, 6);
	assert_string_equal(c.search[0], "c.test");
	assert_string_equal(c.search[1], "d.test");
	assert_string_equal(c.search[5], "h.test");
	assert_int_equal(c.ndots, 3);
	resolve_conf_parse("domain only.test\noptions ndots:99\n", 34, &c);
	assert_int_equal(c.nsearch, 1);
	assert_string_equal(c.search[0], "only.test");
	assert_int_equal(c.ndots, 15);

	/* nothing usable: 127.0.0.1, glibc's defaults; bad options ignored */
	resolve_conf_parse("options timeout:0 attempts:99 timeout:x\n", 40, &c);
	assert_int_equal(c.nservers, 1);
	assert_int_equal(c.timeout_ms, RESOLVE_TIMEOUT_S * 1000);
	assert_int_equal(c.attempts, RESOLVE_ATTEMPTS);
	assert_string_equal(inet_ntop(AF_INET, &((struct sockaddr_in *)&c.server[0])->sin_addr,
	    buf, sizeof(buf)), "127.0.0.1");
}

/* ---- the query ---- */

static void
test_query(void **state)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		4, 'p', 'r', 'o', 'v', 4, 't', 'e', 's', 't', 0, 0, 28, 0, 1,
	};
	static const char *bad[] = {
		"", ".", "..", "a..b", ".a", "a b", "a/b", "a..",
		"\xc3\xa9.test", "-" "\x01",
	};
	uint8_t buf[RESOLVE_MAX_QUERY_BYTES];
	char name[300];

	(void)state;
	assert_int_equal(resolve_query_build(buf, sizeof(buf), 0x1234, "PROV.test.",
	    DNS_TYPE_AAAA), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(resolve_query_build(buf, sizeof(buf), 1, bad[i], 1),
		    RESOLVE_ERR_BADNAME);
	/* a 63-byte label is the longest */
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	assert_true(resolve_query_build(buf, sizeof(buf), 1, name, 1) > 0);
	memset(name, 'a', 64);
	strcpy(name + 64, ".test");
	assert_int_equal(resolve_query_build(buf, sizeof(buf), 1, name, 1), RESOLVE_ERR_BADNAME);
	/* 253 characters is the longest name (255 bytes in wire form) */
	for (int i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	assert_true(resolve_query_build(buf, sizeof(buf), 1, name, 1) > 0);
	name[253] = '.';
	name[254] = 'a';
	name[255] = '\0';
	assert_int_equal(resolve_query_build(buf, sizeof(buf), 1, name, 1), RESOLVE_ERR_BADNAME);
	/* too small a buffer */
	assert_true(resolve_query_build(buf, 20, 1, "prov.test", 1) < 0);
}

/* ---- the response parser ---- */

static int
parse(const struct msg *m, unsigned id, const char *name, unsigned qtype,
    struct resolve_result *r)
{
	memset(r, 0, sizeof(*r));
	return resolve_response_parse(m->b, m->n, (uint16_t)id, name, (uint16_t)qtype, r);
}

static void
test_response_good(void **state)
{
	struct resolve_result r;
	struct msg m;

	(void)state;
	answer_head(&m, 7, 0, 2, "prov.test", DNS_TYPE_A);
	answer_addr(&m, DNS_TYPE_A, "192.0.2.1");
	answer_addr(&m, DNS_TYPE_A, "192.0.2.2");
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_OK);
	assert_int_equal(r.n, 2);
	assert_addr(&r.a[0], "192.0.2.1");
	assert_addr(&r.a[1], "192.0.2.2");
	/* the question echoed in other case (0x20) still matches */
	answer_head(&m, 7, 0, 1, "PrOv.TeSt", DNS_TYPE_AAAA);
	answer_addr(&m, DNS_TYPE_AAAA, "2001:db8::1");
	assert_int_equal(parse(&m, 7, "prov.test.", DNS_TYPE_AAAA, &r), RESOLVE_OK);
	assert_int_equal(r.n, 1);
	assert_addr(&r.a[0], "2001:db8::1");
	/* no answer: success with no address (NODATA) */
	answer_head(&m, 7, 0, 0, "prov.test", DNS_TYPE_AAAA);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_AAAA, &r), RESOLVE_OK);
	assert_int_equal(r.n, 0);
}

/*
 * prov.test CNAME a.test (pointer into the question), a.test CNAME
 * b.test, then addresses of b.test (kept), of prov.test (not the
 * canonical name: dropped) and of an unrelated name (dropped); records
 * of another type and class are skipped.
 */
static void
test_response_cname(void **state)
{
	struct resolve_result r;
	struct msg m;
	uint8_t bin[4] = { 192, 0, 2, 66 };

	(void)state;
	answer_head(&m, 9, 0, 7, "prov.test", DNS_TYPE_A);
	/* prov.test CNAME a.test: "a" then a pointer to "test" at 17 */
	put16(&m, 0xc00c); put16(&m, DNS_TYPE_CNAME); put16(&m, 1); put32(&m, 60);
	put16(&m, 4); put8(&m, 1); put8(&m, 'a'); put16(&m, 0xc011);
	size_t a_at = m.n - 4;
	/* a.test CNAME b.test */
	put16(&m, 0xc000 | (unsigned)a_at); put16(&m, DNS_TYPE_CNAME); put16(&m, 1);
	put32(&m, 60); put16(&m, 4); put8(&m, 1); put8(&m, 'b'); put16(&m, 0xc011);
	size_t b_at = m.n - 4;
	/* prov.test A 192.0.2.1: not the canonical name */
	answer_addr(&m, DNS_TYPE_A, "192.0.2.1");
	/* b.test A 192.0.2.66 */
	put16(&m, 0xc000 | (unsigned)b_at); put16(&m, DNS_TYPE_A); put16(&m, 1);
	put32(&m, 60); put16(&m, 4);
	for (int i = 0; i < 4; i++)
		put8(&m, bin[i]);
	/* other.test A */
	put_name(&m, "other.test"); put16(&m, DNS_TYPE_A); put16(&m, 1); put32(&m, 1);
	put16(&m, 4); put32(&m, 0x01020304);
	/* b.test TXT and b.test A in class CH */
	put16(&m, 0xc000 | (unsigned)b_at); put16(&m, 16); put16(&m, 1); put32(&m, 1);
	put16(&m, 3); put8(&m, 2); put8(&m, 'h'); put8(&m, 'i');
	put16(&m, 0xc000 | (unsigned)b_at); put16(&m, DNS_TYPE_A); put16(&m, 3);
	put32(&m, 1); put16(&m, 4); put32(&m, 0x05060708);
	assert_int_equal(parse(&m, 9, "prov.test", DNS_TYPE_A, &r), RESOLVE_OK);
	assert_int_equal(r.n, 1);
	assert_addr(&r.a[0], "192.0.2.66");
}

static void
test_response_refused(void **state)
{
	struct resolve_result r;
	struct msg m;

	(void)state;
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	answer_addr(&m, DNS_TYPE_A, "192.0.2.1");
	/* not our query: another ID, another name, another type */
	assert_int_equal(parse(&m, 8, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MISMATCH);
	assert_int_equal(parse(&m, 7, "prov.tes", DNS_TYPE_A, &r), RESOLVE_ERR_MISMATCH);
	assert_int_equal(parse(&m, 7, "x.prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MISMATCH);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_AAAA, &r), RESOLVE_ERR_MISMATCH);
	assert_int_equal(r.n, 0);
	/* a query, not a response */
	m.b[2] &= 0x7f;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MISMATCH);
	/* another opcode */
	m.b[2] = 0x80 | 0x10;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MISMATCH);
	/* truncated (TC): an error, even with an answer in it */
	answer_head(&m, 7, 0x0200, 1, "prov.test", DNS_TYPE_A);
	answer_addr(&m, DNS_TYPE_A, "192.0.2.1");
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_TRUNCATED);
	assert_int_equal(r.n, 0);
	/* NXDOMAIN; SERVFAIL, REFUSED */
	answer_head(&m, 7, 3, 0, "prov.test", DNS_TYPE_A);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_NONAME);
	answer_head(&m, 7, 2, 0, "prov.test", DNS_TYPE_A);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_SERVER);
	answer_head(&m, 7, 5, 0, "prov.test", DNS_TYPE_A);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_SERVER);
	/* no question echoed, or two */
	answer_head(&m, 7, 0, 0, "prov.test", DNS_TYPE_A);
	m.b[5] = 0;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	m.b[5] = 2;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
}

/* Every strict prefix of a good answer is refused, none read beyond it. */
static void
test_response_cut(void **state)
{
	struct resolve_result r;
	struct msg m;

	(void)state;
	answer_head(&m, 7, 0, 2, "prov.test", DNS_TYPE_AAAA);
	answer_addr(&m, DNS_TYPE_AAAA, "2001:db8::1");
	answer_addr(&m, DNS_TYPE_AAAA, "2001:db8::2");
	size_t full = m.n;
	for (size_t n = 0; n < full; n++) {
		uint8_t *copy = malloc(n ? n : 1);	/* exact size: ASan sees overreads */
		assert_non_null(copy);
		memcpy(copy, m.b, n);
		memset(&r, 0, sizeof(r));
		int rc = resolve_response_parse(copy, n, 7, "prov.test", DNS_TYPE_AAAA, &r);
		if (rc == RESOLVE_OK)
			fail_msg("a %zu-byte prefix of %zu was accepted", n, full);
		assert_int_equal(r.n, 0);
		free(copy);
	}
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_AAAA, &r), RESOLVE_OK);
	assert_int_equal(r.n, 2);
}

static void
test_response_malformed(void **state)
{
	struct resolve_result r;
	struct msg m;

	(void)state;
	/* more answers announced than sent */
	answer_head(&m, 7, 0, 2, "prov.test", DNS_TYPE_A);
	answer_addr(&m, DNS_TYPE_A, "192.0.2.1");
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* an A record of 5 bytes; an AAAA of 4 */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	put16(&m, 0xc00c); put16(&m, DNS_TYPE_A); put16(&m, 1); put32(&m, 1);
	put16(&m, 5); put32(&m, 0x01020304); put8(&m, 5);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_AAAA);
	put16(&m, 0xc00c); put16(&m, DNS_TYPE_AAAA); put16(&m, 1); put32(&m, 1);
	put16(&m, 4); put32(&m, 0x01020304);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_AAAA, &r), RESOLVE_ERR_MALFORMED);
	/* rdlength beyond the end */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	put16(&m, 0xc00c); put16(&m, DNS_TYPE_A); put16(&m, 1); put32(&m, 1);
	put16(&m, 0xffff); put32(&m, 0x01020304);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* a CNAME whose target runs past its rdata */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	put16(&m, 0xc00c); put16(&m, DNS_TYPE_CNAME); put16(&m, 1); put32(&m, 1);
	put16(&m, 2); put8(&m, 1); put8(&m, 'x'); put8(&m, 0);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* label types 0x40 and 0x80 */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	put8(&m, 0x41); put8(&m, 0);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	m.b[m.n - 2] = 0x81;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* a pointer cut in half */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	put8(&m, 0xc0);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	assert_int_equal(r.n, 0);
}

static void
test_response_compression_loops(void **state)
{
	struct resolve_result r;
	struct msg m;

	(void)state;
	/* the question's name a pointer to itself */
	m.n = 0;
	put16(&m, 7); put16(&m, 0x8180); put16(&m, 1); put16(&m, 0); put16(&m, 0); put16(&m, 0);
	put16(&m, 0xc00c); put16(&m, 1); put16(&m, 1);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* a pointer forwards */
	m.b[13] = 0x0e;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* beyond the message */
	m.b[12] = 0xff;
	m.b[13] = 0xff;
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* a label then a pointer back to it: every pointer points backwards,
	 * and the name grows until it passes 255 bytes */
	m.n = 12;
	put8(&m, 1); put8(&m, 'a'); put16(&m, 0xc00c); put16(&m, 1); put16(&m, 1);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* an answer owner that loops through two pointers */
	answer_head(&m, 7, 0, 1, "prov.test", DNS_TYPE_A);
	size_t at = m.n;
	put16(&m, 0xc000 | (unsigned)(at + 2));	/* forwards: refused */
	put16(&m, 0xc000 | (unsigned)at);
	put16(&m, DNS_TYPE_A); put16(&m, 1); put32(&m, 1); put16(&m, 4); put32(&m, 1);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	/* a chain of pointers, each one to the one before it (in the rdata
	 * of a record of another type): 10 hops are fine, 41 too many */
	for (int hops = 10; hops <= 40; hops += 30) {
		answer_head(&m, 7, 0, 2, "prov.test", DNS_TYPE_A);
		put16(&m, 0xc00c); put16(&m, 99); put16(&m, 1); put32(&m, 1);
		put16(&m, 1 + 2 * (unsigned)hops);
		at = m.n;
		put8(&m, 0);
		for (int i = 0; i < hops; i++)
			put16(&m, 0xc000 | (unsigned)(i == 0 ? at : at + 1 + 2 * (size_t)(i - 1)));
		put16(&m, 0xc000 | (unsigned)(at + 1 + 2 * (size_t)(hops - 1)));
		put16(&m, DNS_TYPE_A); put16(&m, 1); put32(&m, 1); put16(&m, 4); put32(&m, 1);
		assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r),
		    hops == 10 ? RESOLVE_OK : RESOLVE_ERR_MALFORMED);
		assert_int_equal(r.n, 0);	/* the owner is the root, not prov.test */
	}
	/* a name of more than 255 bytes, without any pointer */
	m.n = 0;
	put16(&m, 7); put16(&m, 0x8180); put16(&m, 1); put16(&m, 0); put16(&m, 0); put16(&m, 0);
	for (int l = 0; l < 5; l++) {
		put8(&m, 63);
		for (int i = 0; i < 63; i++)
			put8(&m, 'a');
	}
	put8(&m, 0); put16(&m, 1); put16(&m, 1);
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_ERR_MALFORMED);
	assert_int_equal(r.n, 0);
}

/* More addresses than a result holds: the first RESOLVE_MAX_ADDRS. */
static void
test_response_many(void **state)
{
	struct resolve_result r;
	struct msg m;
	char ip[32];

	(void)state;
	answer_head(&m, 7, 0, 40, "prov.test", DNS_TYPE_A);
	for (int i = 0; i < 40; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		answer_addr(&m, DNS_TYPE_A, ip);
	}
	assert_int_equal(parse(&m, 7, "prov.test", DNS_TYPE_A, &r), RESOLVE_OK);
	assert_int_equal(r.n, RESOLVE_MAX_ADDRS);
	assert_addr(&r.a[RESOLVE_MAX_ADDRS - 1], "192.0.2.16");
}

/* ---- whole resolutions against a nameserver in this process ---- */

enum ns_mode {
	NS_ANSWER,		/* A 192.0.2.1, AAAA 2001:db8::1 */
	NS_SPOOF_FIRST,		/* a wrong ID, then the answer */
	NS_SILENT,
	NS_NXDOMAIN,
	NS_SERVFAIL,
	NS_TRUNCATED,		/* TC over UDP; the answer over TCP */
	NS_TRUNCATED_NO_TCP,	/* TC over UDP; TCP refused */
	NS_NODATA_AAAA,		/* A only */
	NS_SUFFIX,		/* names under corp.test only; NXDOMAIN else */
};

struct ns {
	int		 fd;
	struct event	*ev;
	int		 tcp_fd;	/* listening on the same port */
	struct event	*tcp_ev;
	struct event_base *base;
	enum ns_mode	 mode;
	unsigned	 queries;
	unsigned	 tcp_queries;
	char		 names[16][256];	/* the A queries' names, in order */
	unsigned	 nnames;
	uint16_t	 ids[64];
	uint16_t	 ports[64];
};

static void
ns_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ns *ns = arg;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint8_t q[512];
	ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	struct msg m;

	if (n < 12 + 5)
		return;
	if (ns->queries < 64) {
		ns->ids[ns->queries] = (uint16_t)(q[0] << 8 | q[1]);
		ns->ports[ns->queries] = ntohs(from.sin_port);
	}
	ns->queries++;
	if (ns->mode == NS_SILENT)
		return;
	unsigned qtype = (unsigned)(q[n - 4] << 8 | q[n - 3]);
	char name[256];
	size_t at = 0;
	for (size_t i = 12; i < (size_t)n - 4 && q[i] != 0 && at + q[i] + 1 < sizeof(name);
	    i += (size_t)q[i] + 1) {
		memcpy(name + at, q + i + 1, q[i]);
		at += q[i];
		name[at++] = '.';
	}
	name[at > 0 ? at - 1 : 0] = '\0';
	if (qtype == DNS_TYPE_A && ns->nnames < 16)
		snprintf(ns->names[ns->nnames++], sizeof(ns->names[0]), "%s", name);
	size_t nl = strlen(name);
	int under = nl > 10 && strcmp(name + nl - 10, ".corp.test") == 0;
	unsigned rcode = ns->mode == NS_NXDOMAIN ? 3 : ns->mode == NS_SERVFAIL ? 2 :
	    ns->mode == NS_SUFFIX && !under ? 3 : 0;
	int has = rcode == 0 && !(ns->mode == NS_NODATA_AAAA && qtype == DNS_TYPE_AAAA);
	/* the header of the query, turned into a response, then its question */
	memcpy(m.b, q, (size_t)n);
	m.n = (size_t)n;
	m.b[2] = 0x81 | (ns->mode == NS_TRUNCATED || ns->mode == NS_TRUNCATED_NO_TCP ?
	    0x02 : 0);
	m.b[3] = (uint8_t)(0x80 | rcode);
	m.b[7] = has ? 1 : 0;
	if (has)
		answer_addr(&m, qtype, qtype == DNS_TYPE_A ? "192.0.2.1" : "2001:db8::1");
	if (ns->mode == NS_SPOOF_FIRST) {
		struct msg s = m;
		s.b[0] ^= 0x5a;
		s.b[m.n - 1] ^= 0xff;
		sendto(fd, s.b, s.n, 0, (struct sockaddr *)&from, fl);
	}
	sendto(fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
}

/* One TCP connection: a 2-byte length and a query in, the answer out. */
struct ns_conn {
	struct ns	*ns;
	struct event	*ev;
	uint8_t		 b[2 + 512];
	size_t		 n;
};

static void
ns_on_tcp_read(evutil_socket_t fd, short what, void *arg)
{
	struct ns_conn *c = arg;
	ssize_t n = recv(fd, c->b + c->n, sizeof(c->b) - c->n, 0);

	if (n > 0)
		c->n += (size_t)n;
	if (n > 0 && (c->n < 2 || c->n < 2 + (size_t)(c->b[0] << 8 | c->b[1])))
		return;
	if (n > 0 && c->n >= 2 + 12 + 5) {
		size_t qn = c->n - 2;
		const uint8_t *q = c->b + 2;
		unsigned qtype = (unsigned)(q[qn - 4] << 8 | q[qn - 3]);
		struct msg m;
		uint8_t out[2 + sizeof(m.b)];

		c->ns->tcp_queries++;
		memcpy(m.b, q, qn);
		m.n = qn;
		m.b[2] = 0x81;
		m.b[3] = 0x80;
		m.b[7] = 1;
		answer_addr(&m, qtype, qtype == DNS_TYPE_A ? "192.0.2.5" : "2001:db8::5");
		out[0] = (uint8_t)(m.n >> 8);
		out[1] = (uint8_t)m.n;
		memcpy(out + 2, m.b, m.n);
		assert_int_equal(send(fd, out, 2 + m.n, 0), (ssize_t)(2 + m.n));
	}
	event_free(c->ev);
	close(fd);
	free(c);
}

static void
ns_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct ns *ns = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
	struct ns_conn *c;

	if (cfd == -1)
		return;
	if (ns->mode == NS_TRUNCATED_NO_TCP) {
		close(cfd);
		return;
	}
	assert_non_null(c = calloc(1, sizeof(*c)));
	c->ns = ns;
	c->ev = event_new(ns->base, cfd, EV_READ | EV_PERSIST, ns_on_tcp_read, c);
	assert_non_null(c->ev);
	event_add(c->ev, NULL);
}

static void
ns_open(struct ns *ns, struct event_base *base, struct resolve_conf *c, enum ns_mode mode)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(ns, 0, sizeof(*ns));
	ns->mode = mode;
	/* UDP on a free port, and TCP on the same one (a truncated answer's
	 * retry): the kernel's UDP port may be taken for TCP by another
	 * program, so another port is tried then. */
	for (int tries = 0;; tries++) {
		ns->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		assert_true(ns->fd >= 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sin);
		assert_int_equal(bind(ns->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
		assert_int_equal(getsockname(ns->fd, (struct sockaddr *)&sin, &len), 0);
		ns->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(ns->tcp_fd >= 0);
		if (bind(ns->tcp_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			break;
		assert_int_equal(errno, EADDRINUSE);
		assert_true(tries < 100);
		close(ns->tcp_fd);
		close(ns->fd);
	}
	ns->ev = event_new(base, ns->fd, EV_READ | EV_PERSIST, ns_on_read, ns);
	assert_non_null(ns->ev);
	event_add(ns->ev, NULL);
	ns->base = base;
	assert_int_equal(listen(ns->tcp_fd, 8), 0);
	ns->tcp_ev = event_new(base, ns->tcp_fd, EV_READ | EV_PERSIST, ns_on_accept, ns);
	assert_non_null(ns->tcp_ev);
	event_add(ns->tcp_ev, NULL);
	assert_true(c->nservers < RESOLVE_MAX_SERVERS);
	memcpy(&c->server[c->nservers], &sin, sizeof(sin));
	c->server_len[c->nservers] = sizeof(sin);
	c->nservers++;
}

static void
ns_close(struct ns *ns)
{
	event_free(ns->ev);
	close(ns->fd);
	event_free(ns->tcp_ev);
	close(ns->tcp_fd);
}

struct outcome {
	int			 called;
	int			 error;
	struct resolve_result	 res;
	struct event_base	*base;
};

static void
on_resolved(void *arg, int error, const struct resolve_result *res)
{
	struct outcome *o = arg;

	o->called++;
	o->error = error;
	o->res = *res;
	event_base_loopbreak(o->base);
}

static void
conf_init(struct resolve_conf *c, unsigned timeout_ms, unsigned attempts)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = timeout_ms;
	c->attempts = attempts;
}

/* Resolves name against the servers of c; runs the loop until done. */
static void
run(struct event_base *base, const struct resolve_conf *c, const char *hosts,
    const char *name, struct outcome *o)
{
	struct timeval limit = { 20, 0 };

	memset(o, 0, sizeof(*o));
	o->base = base;
	struct resolve *r = resolve_start_conf(base, name, c, hosts, on_resolved, o);
	assert_non_null(r);
	assert_int_equal(o->called, 0);	/* never from within resolve_start */
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(o->called, 1);
}

static void
test_resolve_dns(void **state)
{
	struct event_base *base = event_base_new();
	struct resolve_conf c;
	struct outcome o;
	struct ns ns;

	(void)state;
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_ANSWER);
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 2);
	assert_addr(&o.res.a[0], "192.0.2.1");	/* A first */
	assert_addr(&o.res.a[1], "2001:db8::1");
	assert_int_equal(ns.queries, 2);

	/* the spoofed answer is ignored, the real one taken */
	ns.mode = NS_SPOOF_FIRST;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 2);

	ns.mode = NS_NODATA_AAAA;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 1);
	assert_addr(&o.res.a[0], "192.0.2.1");

	ns.mode = NS_NXDOMAIN;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_ERR_NONAME);
	assert_int_equal(o.res.n, 0);

	/* truncated over UDP: asked again over TCP, of the same server */
	ns.mode = NS_TRUNCATED;
	ns.tcp_queries = 0;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 2);
	assert_addr(&o.res.a[0], "192.0.2.5");
	assert_addr(&o.res.a[1], "2001:db8::5");
	assert_int_equal(ns.tcp_queries, 2);

	/* and if TCP fails too, the truncation is the error */
	ns.mode = NS_TRUNCATED_NO_TCP;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_ERR_TRUNCATED);

	ns.mode = NS_SERVFAIL;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_ERR_SERVER);

	ns_close(&ns);
	event_base_free(base);
}

/*
 * Without /etc/hosts, "localhost" and names under it are loopback, and no
 * nameserver is asked; a name that only ends in "localhost" is asked.
 */
static void
test_resolve_localhost(void **state)
{
	static const char *const loopback[] = { "localhost", "LocalHost.", "dir.localhost" };
	struct event_base *base = event_base_new();
	struct resolve_conf c;
	struct outcome o;
	struct ns ns;

	(void)state;
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_ANSWER);
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		run(base, &c, "/nonexistent/hosts", loopback[i], &o);
		assert_int_equal(o.error, RESOLVE_OK);
		assert_int_equal(o.res.n, 2);
		assert_addr(&o.res.a[0], "127.0.0.1");
		assert_addr(&o.res.a[1], "::1");
	}
	assert_int_equal(ns.queries, 0);
	run(base, &c, "/nonexistent/hosts", "notlocalhost", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_addr(&o.res.a[0], "192.0.2.1");
	run(base, &c, "/nonexistent/hosts", "localhost.test", &o);
	assert_addr(&o.res.a[0], "192.0.2.1");
	assert_int_equal(ns.queries, 4);
	ns_close(&ns);
	event_base_free(base);
}

/*
 * search and ndots: a short name is asked with each search domain first,
 * then as it is; a name with ndots dots as it is first; a final dot
 * asks only the name.
 */
static void
test_resolve_search(void **state)
{
	struct event_base *base = event_base_new();
	struct resolve_conf c;
	struct outcome o;
	struct ns ns;

	(void)state;
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_SUFFIX);
	snprintf(c.search[0], sizeof(c.search[0]), "other.test");
	snprintf(c.search[1], sizeof(c.search[1]), "corp.test");
	c.nsearch = 2;
	c.ndots = 1;

	run(base, &c, NULL, "dir", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_addr(&o.res.a[0], "192.0.2.1");
	assert_int_equal(ns.nnames, 2);
	assert_string_equal(ns.names[0], "dir.other.test");
	assert_string_equal(ns.names[1], "dir.corp.test");

	/* one dot >= ndots 1: as it is first (NXDOMAIN), then the domains */
	ns.nnames = 0;
	run(base, &c, NULL, "nym.dir", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(ns.nnames, 3);
	assert_string_equal(ns.names[0], "nym.dir");
	assert_string_equal(ns.names[2], "nym.dir.corp.test");

	/* ndots 2: the same name now takes the domains first */
	c.ndots = 2;
	ns.nnames = 0;
	run(base, &c, NULL, "nym.dir", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_string_equal(ns.names[0], "nym.dir.other.test");
	assert_int_equal(ns.nnames, 2);

	/* a final dot: only the name, and its NXDOMAIN is the answer */
	ns.nnames = 0;
	run(base, &c, NULL, "dir.", &o);
	assert_int_equal(o.error, RESOLVE_ERR_NONAME);
	assert_int_equal(ns.nnames, 1);

	/* nothing anywhere: every name asked, NONAME at the end */
	ns.nnames = 0;
	c.nsearch = 1;
	run(base, &c, NULL, "nowhere", &o);
	assert_int_equal(o.error, RESOLVE_ERR_NONAME);
	assert_int_equal(ns.nnames, 2);
	assert_string_equal(ns.names[1], "nowhere");

	ns_close(&ns);
	event_base_free(base);
}

/* Every query its own random ID and source port. */
static void
test_resolve_random(void **state)
{
	struct event_base *base = event_base_new();
	struct resolve_conf c;
	struct outcome o;
	struct ns ns;
	unsigned same_id = 0, same_port = 0;

	(void)state;
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_ANSWER);
	for (int i = 0; i < 8; i++) {
		run(base, &c, NULL, "prov.test", &o);
		assert_int_equal(o.error, RESOLVE_OK);
	}
	assert_int_equal(ns.queries, 16);
	for (unsigned i = 1; i < 16; i++) {
		same_id += ns.ids[i] == ns.ids[0];
		same_port += ns.ports[i] == ns.ports[0];
		assert_true(ns.ports[i] >= 32768 && ns.ports[i] < 61000);
	}
	assert_true(same_id <= 2);
	assert_true(same_port <= 2);
	ns_close(&ns);
	event_base_free(base);
}

/* A silent first server: its time runs out, the second answers. */
static void
test_resolve_failover(void **state)
{
	struct event_base *base = event_base_new();
	struct resolve_conf c;
	struct outcome o;
	struct ns silent, good;

	(void)state;
	conf_init(&c, 300, 2);
	ns_open(&silent, base, &c, NS_SILENT);
	ns_open(&good, base, &c, NS_ANSWER);
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 2);
	assert_int_equal(silent.queries, 2);
	/* both silent: every server and round tried, then a time-out */
	good.mode = NS_SILENT;
	silent.queries = good.queries = 0;
	run(base, &c, NULL, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_ERR_TIMEOUT);
	assert_int_equal(silent.queries, 4);
	assert_int_equal(good.queries, 4);
	ns_close(&silent);
	ns_close(&good);
	event_base_free(base);
}

/* Literals and the hosts file answer without asking any nameserver. */
static void
test_resolve_local(void **state)
{
	struct event_base *base = event_base_new();
	char hosts[] = "/tmp/test_resolve_hosts.XXXXXX";
	struct resolve_conf c;
	struct outcome o;
	struct ns ns;
	int fd = mkstemp(hosts);
	static const char text[] = "127.0.0.1 localhost\n::1 prov.test\n127.0.0.1 prov.test\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_ANSWER);
	run(base, &c, hosts, "prov.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 2);
	assert_addr(&o.res.a[0], "::1");	/* the file's order */
	assert_addr(&o.res.a[1], "127.0.0.1");
	run(base, &c, hosts, "[2001:db8::5]", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(o.res.n, 1);
	assert_addr(&o.res.a[0], "2001:db8::5");
	run(base, &c, hosts, "192.0.2.5", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_addr(&o.res.a[0], "192.0.2.5");
	run(base, &c, hosts, "bad name", &o);
	assert_int_equal(o.error, RESOLVE_ERR_BADNAME);
	assert_int_equal(ns.queries, 0);
	/* not in the file: the nameserver */
	run(base, &c, hosts, "other.test", &o);
	assert_int_equal(o.error, RESOLVE_OK);
	assert_int_equal(ns.queries, 2);
	unlink(hosts);
	ns_close(&ns);
	event_base_free(base);
}

static void
never_called(void *arg, int error, const struct resolve_result *res)
{
	fail_msg("a cancelled resolution called back");
}

static void
test_resolve_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval t = { 0, 300000 };
	struct resolve_conf c;
	struct ns ns;

	(void)state;
	conf_init(&c, 2000, 1);
	ns_open(&ns, base, &c, NS_ANSWER);
	struct resolve *a = resolve_start_conf(base, "prov.test", &c, NULL, never_called, NULL);
	struct resolve *b = resolve_start_conf(base, "127.0.0.1", &c, NULL, never_called, NULL);
	assert_non_null(a);
	assert_non_null(b);
	resolve_cancel(a);
	resolve_cancel(b);
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
	ns_close(&ns);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_response_good),
		cmocka_unit_test(test_response_cname),
		cmocka_unit_test(test_response_refused),
		cmocka_unit_test(test_response_cut),
		cmocka_unit_test(test_response_malformed),
		cmocka_unit_test(test_response_compression_loops),
		cmocka_unit_test(test_response_many),
		cmocka_unit_test(test_resolve_dns),
		cmocka_unit_test(test_resolve_localhost),
		cmocka_unit_test(test_resolve_search),
		cmocka_unit_test(test_resolve_random),
		cmocka_unit_test(test_resolve_failover),
		cmocka_unit_test(test_resolve_local),
		cmocka_unit_test(test_resolve_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
