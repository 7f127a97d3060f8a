/*
 * A stub resolver without NSS (resolve.h): IP literals, /etc/hosts,
 * "localhost" (RFC 6761: loopback, never asked of a nameserver), then A
 * and AAAA queries over UDP to resolv.conf's nameservers, in parallel,
 * each from its own socket with a random ID and a random source port,
 * connected to the server so that the kernel drops datagrams from any
 * other address. Every server is tried in turn, `attempts` rounds. An
 * answer truncated to fit UDP (TC) is asked again of the same server over
 * TCP (RFC 7766), with a new ID, on the same deadline rules.
 *
 * resolve_response_parse() is the one parser of what a nameserver sends;
 * every read in it is bounds-checked against the datagram's length, and
 * compression pointers must point backwards, within a bounded number of
 * hops and a name of at most 255 bytes.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/number.h"
#include "common/resolve.h"

#define DNS_HEADER_BYTES	12
#define DNS_MAX_NAME_BYTES	255	/* wire form, with the root label */
#define DNS_MAX_LABEL_BYTES	63
#define DNS_MAX_POINTERS	32	/* compression hops within one name */
#define DNS_MAX_CNAMES		8	/* CNAMEs followed in one answer */
#define DNS_CLASS_IN		1
#define DNS_FLAG_QR		0x8000
#define DNS_FLAG_TC		0x0200
#define DNS_FLAG_RD		0x0100
#define DNS_RCODE_NXDOMAIN	3
/* Where a random source port is chosen: Linux's default ephemeral range. */
#define RESOLVE_PORT_MIN	32768
#define RESOLVE_PORT_SPAN	28232
#define RESOLVE_BIND_TRIES	8
/* What one recv() takes: more than any UDP answer we could be sent. */
#define RESOLVE_RECV_BYTES	4096
/* A DNS message over TCP: a 2-byte length, then at most this much. */
#define RESOLVE_TCP_MAX_BYTES	65535

const char *
resolve_strerror(int e)
{
	switch (e) {
	case RESOLVE_OK:		return "success";
	case RESOLVE_ERR_NONAME:	return "no address for this name";
	case RESOLVE_ERR_BADNAME:	return "not a valid host name";
	case RESOLVE_ERR_SERVER:	return "the nameserver failed or refused";
	case RESOLVE_ERR_TRUNCATED:	return "the answer does not fit in UDP, "
					    "and the nameserver failed over TCP";
	case RESOLVE_ERR_MALFORMED:	return "malformed answer from the nameserver";
	case RESOLVE_ERR_MISMATCH:	return "an answer to another query";
	case RESOLVE_ERR_TIMEOUT:	return "no nameserver answered";
	case RESOLVE_ERR_SYSTEM:	return "system error";
	default:			return "unknown error";
	}
}

int
resolve_literal(const char *host, struct resolve_addr *out)
{
	char ip[ADDR_IP_BYTES];
	int v = addr_parse_ip(host, ip, sizeof(ip), NULL, 0);

	memset(out, 0, sizeof(*out));
	if (v == 4 && inet_pton(AF_INET, ip, out->ip) == 1) {
		out->family = AF_INET;
		return 1;
	}
	if (v == 6 && inet_pton(AF_INET6, ip, out->ip) == 1) {
		out->family = AF_INET6;
		return 1;
	}
	return 0;
}

const char *
resolve_ntop(const struct resolve_addr *a, char *out, size_t outlen)
{
	if (inet_ntop(a->family, a->ip, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
	return out;
}

socklen_t
resolve_sockaddr(const struct resolve_addr *a, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a->ip, 16);
	return sizeof(*sin6);
}

/* Appends a unless full or already there. */
static void
result_add(struct resolve_result *r, int family, const uint8_t *ip)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < r->n; i++)
		if (r->a[i].family == family && memcmp(r->a[i].ip, ip, len) == 0)
			return;
	if (r->n >= RESOLVE_MAX_ADDRS)
		return;
	memset(&r->a[r->n], 0, sizeof(r->a[r->n]));
	r->a[r->n].family = family;
	memcpy(r->a[r->n].ip, ip, len);
	r->n++;
}

/* ---- text files: /etc/hosts and /etc/resolv.conf ---- */

/* The next line of text[*at..len) without its end of line or a comment
 * (from any of the characters in comment); 0 at the end. */
static int
next_line(const char *text, size_t len, size_t *at, const char *comment,
    const char **line, size_t *llen)
{
	if (*at >= len)
		return 0;
	const char *s = text + *at;
	const char *nl = memchr(s, '\n', len - *at);
	size_t n = nl != NULL ? (size_t)(nl - s) : len - *at;

	*at += n + (nl != NULL);
	*line = s;
	*llen = 0;
	while (*llen < n && strchr(comment, s[*llen]) == NULL)
		(*llen)++;
	return 1;
}

/* The next blank-separated word of line[*at..len) into w (NUL-terminated,
 * cut to size); its length, 0 at the end of the line. */
static size_t
next_word(const char *line, size_t len, size_t *at, char *w, size_t size)
{
	size_t start, n;

	while (*at < len && (line[*at] == ' ' || line[*at] == '\t' || line[*at] == '\r'))
		(*at)++;
	start = *at;
	while (*at < len && line[*at] != ' ' && line[*at] != '\t' && line[*at] != '\r')
		(*at)++;
	n = *at - start;
	if (n == 0)
		return 0;
	if (n >= size) {
		w[0] = '\0';	/* too long for anything we look for */
		return n;
	}
	memcpy(w, line + start, n);
	w[n] = '\0';
	return n;
}

/* name without one trailing dot, into out (at least 256 bytes); -1 if too long. */
static int
strip_dot(const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, name, n);
	out[n] = '\0';
	return 0;
}

size_t
resolve_hosts_parse(const char *text, size_t len, const char *name,
    struct resolve_result *out)
{
	const char *line;
	size_t at = 0, llen, found = 0;
	char want[256], word[256];

	if (strip_dot(name, want, sizeof(want)) == -1)
		return 0;
	while (next_line(text, len, &at, "#", &line, &llen)) {
		size_t w = 0;
		uint8_t ip[16];
		int family;

		if (next_word(line, llen, &w, word, sizeof(word)) == 0)
			continue;
		if (inet_pton(AF_INET, word, ip) == 1)
			family = AF_INET;
		else if (inet_pton(AF_INET6, word, ip) == 1)
			family = AF_INET6;
		else
			continue;
		while (next_word(line, llen, &w, word, sizeof(word)) != 0) {
			char alias[256];
			if (strip_dot(word, alias, sizeof(alias)) == 0 &&
			    strcasecmp(alias, want) == 0) {
				size_t before = out->n;
				result_add(out, family, ip);
				found += out->n - before;
				break;
			}
		}
	}
	return found;
}

static int dns_encode_name(const char *, uint8_t *, size_t);

void
resolve_conf_parse(const char *text, size_t len, struct resolve_conf *out)
{
	const char *line;
	size_t at = 0, llen;
	char word[256];
	uint8_t wire[DNS_MAX_NAME_BYTES];

	memset(out, 0, sizeof(*out));
	out->timeout_ms = RESOLVE_TIMEOUT_S * 1000;
	out->attempts = RESOLVE_ATTEMPTS;
	out->ndots = 1;
	while (next_line(text, len, &at, "#;", &line, &llen)) {
		size_t w = 0;

		if (next_word(line, llen, &w, word, sizeof(word)) == 0)
			continue;
		if (strcmp(word, "search") == 0 || strcmp(word, "domain") == 0) {
			int domain = word[0] == 'd';
			out->nsearch = 0;
			while (out->nsearch < (domain ? 1u : RESOLVE_MAX_SEARCH) &&
			    next_word(line, llen, &w, word, sizeof(word)) != 0) {
				char *d = out->search[out->nsearch];
				/* a valid name (the root "." is no suffix) */
				if (strip_dot(word, d, sizeof(out->search[0])) == -1 ||
				    d[strlen(d) - 1] == '.' ||
				    dns_encode_name(d, wire, sizeof(wire)) < 0)
					continue;
				out->nsearch++;
			}
		} else if (strcmp(word, "nameserver") == 0) {
			struct resolve_addr a;
			if (next_word(line, llen, &w, word, sizeof(word)) == 0 ||
			    out->nservers >= RESOLVE_MAX_SERVERS)
				continue;
			memset(&a, 0, sizeof(a));
			if (inet_pton(AF_INET, word, a.ip) == 1)
				a.family = AF_INET;
			else if (inet_pton(AF_INET6, word, a.ip) == 1)
				a.family = AF_INET6;
			else
				continue;	/* e.g. a zone id: not supported */
			out->server_len[out->nservers] = resolve_sockaddr(&a, 53,
			    &out->server[out->nservers]);
			out->nservers++;
		} else if (strcmp(word, "options") == 0) {
			while (next_word(line, llen, &w, word, sizeof(word)) != 0) {
				uint64_t v;
				if (strncmp(word, "timeout:", 8) == 0) {
					if (number_parse(word + 8, 1, 30, &v) == 0)
						out->timeout_ms = (unsigned)v * 1000;
				} else if (strncmp(word, "attempts:", 9) == 0) {
					if (number_parse(word + 9, 1, 5, &v) == 0)
						out->attempts = (unsigned)v;
				} else if (strncmp(word, "ndots:", 6) == 0) {
					/* larger values count as the maximum, as in glibc */
					if (number_parse(word + 6, 0, UINT64_MAX, &v) == 0)
						out->ndots = v > RESOLVE_MAX_NDOTS ?
						    RESOLVE_MAX_NDOTS : (unsigned)v;
				}
			}
		}
	}
	if (out->nservers == 0) {
		struct resolve_addr lo = { AF_INET, { 127, 0, 0, 1 } };
		out->server_len[0] = resolve_sockaddr(&lo, 53, &out->server[0]);
		out->nservers = 1;
	}
}

/* ---- the DNS wire format ---- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * name (dotted, one trailing dot allowed) in wire form, in lower case:
 * labels of 1 to 63 letters, digits, '-' or '_', at most 255 bytes in
 * all. Its length, or -1.
 */
static int
dns_encode_name(const char *name, uint8_t *out, size_t size)
{
	size_t n = 0, len = strlen(name), i = 0;

	if (size < DNS_MAX_NAME_BYTES)
		return -1;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0)
		return -1;
	while (i < len) {
		size_t j = i;
		while (j < len && name[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > DNS_MAX_LABEL_BYTES || n + 1 + l + 1 > DNS_MAX_NAME_BYTES ||
		    (j < len && j + 1 == len))
			return -1;
		out[n++] = (uint8_t)l;
		for (size_t k = i; k < j; k++) {
			unsigned char ch = (unsigned char)name[k];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
				return -1;
			out[n++] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		i = j + 1;
	}
	out[n++] = 0;
	return (int)n;
}

/*
 * Reads the name at *off of msg[0..len) into out (wire form, lower case,
 * uncompressed) and moves *off past it as it lies at *off (a pointer ends
 * it). Every pointer must point before itself, at most DNS_MAX_POINTERS
 * of them, and the name may not exceed 255 bytes: a compression loop
 * runs into one of the three. Its length, or -1.
 */
static int
dns_read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t out[DNS_MAX_NAME_BYTES])
{
	size_t pos = *off, n = 0;
	int jumped = 0, hops = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t c = msg[pos];
		if (c == 0) {
			if (n + 1 > DNS_MAX_NAME_BYTES)
				return -1;
			out[n++] = 0;
			if (!jumped)
				*off = pos + 1;
			return (int)n;
		}
		switch (c & 0xc0) {
		case 0xc0: {
			if (pos + 1 >= len)
				return -1;
			size_t target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos || ++hops > DNS_MAX_POINTERS)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = target;
			break;
		}
		case 0x00:
			if (c > len - pos - 1 || n + 1 + c + 1 > DNS_MAX_NAME_BYTES)
				return -1;
			out[n++] = c;
			for (size_t i = 0; i < c; i++) {
				uint8_t ch = msg[pos + 1 + i];
				out[n++] = ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
			}
			pos += 1 + (size_t)c;
			break;
		default:	/* 0x40, 0x80: label types nobody uses */
			return -1;
		}
	}
}

static int
name_equal(const uint8_t *a, int alen, const uint8_t *b, int blen)
{
	return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

int
resolve_query_build(uint8_t *buf, size_t size, uint16_t id, const char *name,
    uint16_t qtype)
{
	uint8_t wire[DNS_MAX_NAME_BYTES];
	int n = dns_encode_name(name, wire, sizeof(wire));

	if (n < 0)
		return RESOLVE_ERR_BADNAME;
	if (size < DNS_HEADER_BYTES + (size_t)n + 4)
		return RESOLVE_ERR_SYSTEM;
	memset(buf, 0, DNS_HEADER_BYTES);
	put16(buf, id);
	put16(buf + 2, DNS_FLAG_RD);
	put16(buf + 4, 1);
	memcpy(buf + DNS_HEADER_BYTES, wire, (size_t)n);
	put16(buf + DNS_HEADER_BYTES + n, qtype);
	put16(buf + DNS_HEADER_BYTES + n + 2, DNS_CLASS_IN);
	return DNS_HEADER_BYTES + n + 4;
}

struct dns_cname {
	uint8_t	owner[DNS_MAX_NAME_BYTES];
	int	olen;
	uint8_t	target[DNS_MAX_NAME_BYTES];
	int	tlen;
};

int
resolve_response_parse(const uint8_t *msg, size_t len, uint16_t id, const char *name,
    uint16_t qtype, struct resolve_result *out)
{
	uint8_t qwire[DNS_MAX_NAME_BYTES], owner[DNS_MAX_NAME_BYTES];
	uint8_t canon[DNS_MAX_NAME_BYTES];
	struct dns_cname cn[DNS_MAX_CNAMES];
	struct resolve_result found;
	size_t off, answers_at, ncn = 0;
	int qlen, olen, clen;
	uint16_t flags, ancount;

	if ((qlen = dns_encode_name(name, qwire, sizeof(qwire))) < 0)
		return RESOLVE_ERR_BADNAME;
	if (len < DNS_HEADER_BYTES)
		return RESOLVE_ERR_MALFORMED;
	flags = get16(msg + 2);
	if (get16(msg) != id || !(flags & DNS_FLAG_QR) || (flags >> 11 & 0xf) != 0)
		return RESOLVE_ERR_MISMATCH;
	if (get16(msg + 4) != 1)
		return RESOLVE_ERR_MALFORMED;
	ancount = get16(msg + 6);
	/* the question, echoed */
	off = DNS_HEADER_BYTES;
	if ((olen = dns_read_name(msg, len, &off, owner)) < 0 || len - off < 4)
		return RESOLVE_ERR_MALFORMED;
	if (!name_equal(owner, olen, qwire, qlen) || get16(msg + off) != qtype ||
	    get16(msg + off + 2) != DNS_CLASS_IN)
		return RESOLVE_ERR_MISMATCH;
	off += 4;
	if (flags & DNS_FLAG_TC)
		return RESOLVE_ERR_TRUNCATED;
	if ((flags & 0xf) == DNS_RCODE_NXDOMAIN)
		return RESOLVE_ERR_NONAME;
	if ((flags & 0xf) != 0)
		return RESOLVE_ERR_SERVER;

	/* Pass 1: every answer record well-formed; the CNAMEs noted. */
	answers_at = off;
	for (unsigned i = 0; i < ancount; i++) {
		if ((olen = dns_read_name(msg, len, &off, owner)) < 0 || len - off < 10)
			return RESOLVE_ERR_MALFORMED;
		uint16_t type = get16(msg + off), class = get16(msg + off + 2);
		size_t rdlen = get16(msg + off + 8);
		off += 10;
		if (rdlen > len - off)
			return RESOLVE_ERR_MALFORMED;
		size_t rd = off;
		off += rdlen;
		if (class != DNS_CLASS_IN)
			continue;
		if (type == qtype && rdlen != (qtype == DNS_TYPE_A ? 4u : 16u))
			return RESOLVE_ERR_MALFORMED;
		if (type == DNS_TYPE_CNAME) {
			uint8_t target[DNS_MAX_NAME_BYTES];
			size_t t = rd;
			int tlen = dns_read_name(msg, len, &t, target);
			if (tlen < 0 || t != rd + rdlen)
				return RESOLVE_ERR_MALFORMED;
			if (ncn < DNS_MAX_CNAMES) {
				memcpy(cn[ncn].owner, owner, (size_t)olen);
				cn[ncn].olen = olen;
				memcpy(cn[ncn].target, target, (size_t)tlen);
				cn[ncn].tlen = tlen;
				ncn++;
			}
		}
	}
	/* The canonical name: the question's, through its CNAME chain. */
	memcpy(canon, qwire, (size_t)qlen);
	clen = qlen;
	for (int hop = 0; hop < DNS_MAX_CNAMES; hop++) {
		size_t j;
		for (j = 0; j < ncn; j++)
			if (name_equal(cn[j].owner, cn[j].olen, canon, clen))
				break;
		if (j == ncn)
			break;
		memcpy(canon, cn[j].target, (size_t)cn[j].tlen);
		clen = cn[j].tlen;
	}
	/* Pass 2 (over what pass 1 checked): the canonical name's addresses. */
	memset(&found, 0, sizeof(found));
	off = answers_at;
	for (unsigned i = 0; i < ancount; i++) {
		olen = dns_read_name(msg, len, &off, owner);
		uint16_t type = get16(msg + off), class = get16(msg + off + 2);
		size_t rdlen = get16(msg + off + 8);
		off += 10;
		if (class == DNS_CLASS_IN && type == qtype && name_equal(owner, olen, canon, clen))
			result_add(&found, qtype == DNS_TYPE_A ? AF_INET : AF_INET6, msg + off);
		off += rdlen;
	}
	for (size_t i = 0; i < found.n; i++)
		result_add(out, found.a[i].family, found.a[i].ip);
	return RESOLVE_OK;
}

/* ---- the resolution on the event loop ---- */

struct resolve_query {
	struct resolve		*r;
	uint16_t		 qtype;
	uint16_t		 id;
	int			 fd;
	struct event		*ev;
	unsigned		 tries;		/* (server, round) pairs started */
	size_t			 server;	/* of the current try */
	uint64_t		 deadline_ms;	/* of the current try */
	/* TCP after a truncated answer: the query sent, then the answer */
	enum { QUERY_UDP, QUERY_TCP_SEND, QUERY_TCP_RECV } via;
	uint8_t			*tcp_buf;	/* 2 + RESOLVE_TCP_MAX_BYTES */
	size_t			 tcp_off;	/* bytes sent, or received */
	size_t			 tcp_need;	/* bytes to send, or to receive */
	int			 done;
	int			 error;
	struct resolve_result	 res;
};

struct resolve {
	struct event_base	*base;
	char			 host[256];
	resolve_cb		 cb;
	void			*arg;
	struct resolve_conf	 conf;
	/* the names asked, in turn, until one has an address (search, ndots) */
	char			 cand[RESOLVE_MAX_SEARCH + 1][256];
	size_t			 ncand;
	size_t			 icand;
	struct event		*done_ev;	/* a completion from resolve_begin() */
	int			 queried;	/* the nameservers were asked */
	int			 error;
	struct resolve_result	 res;
	struct resolve_query	 q[2];		/* A, AAAA */
};

/* The name q asks for now. */
static const char *
query_name(const struct resolve_query *q)
{
	return q->r->cand[q->r->icand];
}

static void
query_close(struct resolve_query *q)
{
	free(q->tcp_buf);
	q->tcp_buf = NULL;
	q->via = QUERY_UDP;
	if (q->ev != NULL) {
		event_free(q->ev);
		q->ev = NULL;
	}
	if (q->fd != -1) {
		close(q->fd);
		q->fd = -1;
	}
}

void
resolve_cancel(struct resolve *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < 2; i++)
		query_close(&r->q[i]);
	if (r->done_ev != NULL)
		event_free(r->done_ev);
	free(r);
}

static int resolve_ask(struct resolve *);

/* What the queries for the current name found, into r->res. */
static int
resolve_outcome(struct resolve *r)
{
	int error = r->error;

	if (r->queried) {
		/* A first, then AAAA; an address from either is success. */
		memset(&r->res, 0, sizeof(r->res));
		for (int i = 0; i < 2; i++)
			for (size_t j = 0; j < r->q[i].res.n; j++)
				result_add(&r->res, r->q[i].res.a[j].family, r->q[i].res.a[j].ip);
		if (r->res.n > 0)
			error = RESOLVE_OK;
		else if (r->q[0].error == RESOLVE_ERR_NONAME ||
		    r->q[1].error == RESOLVE_ERR_NONAME ||
		    (r->q[0].error == RESOLVE_OK && r->q[1].error == RESOLVE_OK))
			error = RESOLVE_ERR_NONAME;
		else
			error = r->q[0].error != RESOLVE_OK ? r->q[0].error : r->q[1].error;
	} else if (error == RESOLVE_OK && r->res.n == 0)
		error = RESOLVE_ERR_NONAME;
	return error;
}

/*
 * Calls back with what the queries found, and frees r; or, when the name
 * does not exist and there is another to ask (search), asks that.
 */
static void
resolve_finish(struct resolve *r)
{
	int error;

	for (;;) {
		error = resolve_outcome(r);
		if (!r->queried || error != RESOLVE_ERR_NONAME || r->icand + 1 >= r->ncand)
			break;
		r->icand++;
		if (resolve_ask(r))
			return;
	}
	r->cb(r->arg, error, &r->res);
	resolve_cancel(r);
}

static void
resolve_on_done(evutil_socket_t fd, short what, void *arg)
{
	resolve_finish(arg);
}

static void query_next(struct resolve_query *);

static void
query_done(struct resolve_query *q, int error)
{
	query_close(q);
	q->done = 1;
	q->error = error;
	if (q->r->q[0].done && q->r->q[1].done)
		resolve_finish(q->r);
}

/* Waits for the rest of the current try's time. */
static int
query_wait(struct resolve_query *q)
{
	uint64_t now = clock_monotonic_ms();
	uint64_t left = q->deadline_ms > now ? q->deadline_ms - now : 0;
	struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };

	return event_add(q->ev, &tv);
}

/* Parses an answer to q; RESOLVE_OK keeps its addresses in q->res. */
static int
query_answer(struct resolve_query *q, const uint8_t *msg, size_t len)
{
	struct resolve_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = resolve_response_parse(msg, len, q->id, query_name(q), q->qtype, &res);
	if (rc == RESOLVE_OK)
		q->res = res;
	return rc;
}

/* What an answer (or its failure) means: done, or the next server. */
static void
query_answered(struct resolve_query *q, int rc)
{
	if (rc == RESOLVE_OK || rc == RESOLVE_ERR_NONAME) {
		query_done(q, rc);
		return;
	}
	q->error = rc;	/* this server failed: the next one */
	query_next(q);
}

static void query_on_tcp(evutil_socket_t, short, void *);

/*
 * The same question of the same server over TCP, after a truncated
 * answer: 0, or -1 if it cannot start (the truncation is then the
 * server's error).
 */
static int
query_tcp_start(struct resolve_query *q)
{
	const struct resolve_conf *c = &q->r->conf;
	size_t s = q->server;
	int len;

	query_close(q);
	q->error = RESOLVE_ERR_TRUNCATED;
	if ((q->tcp_buf = malloc(2 + RESOLVE_TCP_MAX_BYTES)) == NULL)
		return -1;
	randombytes_buf(&q->id, sizeof(q->id));
	len = resolve_query_build(q->tcp_buf + 2, RESOLVE_MAX_QUERY_BYTES, q->id,
	    query_name(q), q->qtype);
	if (len < 0)
		return -1;
	put16(q->tcp_buf, (uint16_t)len);
	q->via = QUERY_TCP_SEND;
	q->tcp_off = 0;
	q->tcp_need = 2 + (size_t)len;
	q->fd = socket(c->server[s].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd == -1)
		return -1;
	if (connect(q->fd, (const struct sockaddr *)&c->server[s], c->server_len[s]) == -1 &&
	    errno != EINPROGRESS)
		return -1;
	if ((q->ev = event_new(q->r->base, q->fd, EV_WRITE, query_on_tcp, q)) == NULL)
		return -1;
	q->deadline_ms = clock_monotonic_ms() + c->timeout_ms;
	return query_wait(q);
}

/* Sends the query, then reads the 2-byte length and the answer. */
static void
query_on_tcp(evutil_socket_t fd, short what, void *arg)
{
	struct resolve_query *q = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		query_next(q);
		return;
	}
	for (;;) {
		if (q->via == QUERY_TCP_SEND)
			n = send(fd, q->tcp_buf + q->tcp_off, q->tcp_need - q->tcp_off,
			    MSG_NOSIGNAL);
		else
			n = recv(fd, q->tcp_buf + q->tcp_off, q->tcp_need - q->tcp_off, 0);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (query_wait(q) == -1)
				query_next(q);
			return;
		}
		if (n <= 0) {	/* refused, reset, or closed before the end */
			query_next(q);
			return;
		}
		q->tcp_off += (size_t)n;
		if (q->tcp_off < q->tcp_need)
			continue;
		if (q->via == QUERY_TCP_SEND) {
			q->via = QUERY_TCP_RECV;
			q->tcp_off = 0;
			q->tcp_need = 2;
			event_free(q->ev);
			q->ev = event_new(q->r->base, fd, EV_READ, query_on_tcp, q);
			if (q->ev == NULL || query_wait(q) == -1) {
				q->error = RESOLVE_ERR_SYSTEM;
				query_next(q);
			}
			return;
		}
		if (q->tcp_need == 2) {
			size_t len = get16(q->tcp_buf);
			if (len == 0) {
				query_answered(q, RESOLVE_ERR_MALFORMED);
				return;
			}
			q->tcp_need = 2 + len;
			continue;
		}
		int rc = query_answer(q, q->tcp_buf + 2, q->tcp_need - 2);
		/* The connection is ours alone: another ID, or truncation
		 * again, is the server's fault. */
		if (rc == RESOLVE_ERR_MISMATCH || rc == RESOLVE_ERR_TRUNCATED)
			rc = RESOLVE_ERR_MALFORMED;
		query_answered(q, rc);
		return;
	}
}

static void
query_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct resolve_query *q = arg;
	uint8_t buf[RESOLVE_RECV_BYTES];

	if (what & EV_TIMEOUT) {
		if (q->error == RESOLVE_OK)
			q->error = RESOLVE_ERR_TIMEOUT;
		query_next(q);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (query_wait(q) == -1) {
				q->error = RESOLVE_ERR_SYSTEM;
				query_next(q);
			}
			return;
		}
		if (n == -1) {
			/* ECONNREFUSED: nothing listens there (ICMP) */
			if (q->error == RESOLVE_OK)
				q->error = RESOLVE_ERR_TIMEOUT;
			query_next(q);
			return;
		}
		int rc = query_answer(q, buf, (size_t)n);
		if (rc == RESOLVE_ERR_MISMATCH)
			continue;	/* not ours: keep waiting */
		if (rc == RESOLVE_ERR_TRUNCATED && query_tcp_start(q) == 0)
			return;
		query_answered(q, rc);
		return;
	}
}

/* A UDP socket for family on a random port (the kernel's if none is free). */
static int
query_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	for (int i = 0; i < RESOLVE_BIND_TRIES; i++) {
		struct resolve_addr any;
		struct sockaddr_storage ss;
		uint16_t port = (uint16_t)(RESOLVE_PORT_MIN + randombytes_uniform(RESOLVE_PORT_SPAN));
		memset(&any, 0, sizeof(any));
		any.family = family;
		socklen_t sl = resolve_sockaddr(&any, port, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) == 0 || errno != EADDRINUSE)
			break;
	}
	return fd;
}

/* Starts the try of server s; 0, or -1 (then q->error says why). */
static int
query_send(struct resolve_query *q, size_t s)
{
	const struct resolve_conf *c = &q->r->conf;
	uint8_t pkt[RESOLVE_MAX_QUERY_BYTES];
	int len;

	randombytes_buf(&q->id, sizeof(q->id));
	if ((len = resolve_query_build(pkt, sizeof(pkt), q->id, query_name(q), q->qtype)) < 0) {
		q->error = len;
		return -1;
	}
	q->server = s;
	q->error = q->error != RESOLVE_OK ? q->error : RESOLVE_ERR_SYSTEM;
	if ((q->fd = query_socket(c->server[s].ss_family)) == -1)
		return -1;
	if (connect(q->fd, (const struct sockaddr *)&c->server[s], c->server_len[s]) == -1 ||
	    send(q->fd, pkt, (size_t)len, 0) != len)
		return -1;
	if ((q->ev = event_new(q->r->base, q->fd, EV_READ, query_on_read, q)) == NULL)
		return -1;
	q->deadline_ms = clock_monotonic_ms() + c->timeout_ms;
	if (query_wait(q) == -1)
		return -1;
	if (q->error == RESOLVE_ERR_SYSTEM)
		q->error = RESOLVE_OK;
	return 0;
}

/* The next (server, round) pair, or the end with the last error. */
static void
query_next(struct resolve_query *q)
{
	const struct resolve_conf *c = &q->r->conf;

	for (;;) {
		query_close(q);
		if (q->tries >= c->nservers * c->attempts) {
			query_done(q, q->error != RESOLVE_OK ? q->error : RESOLVE_ERR_TIMEOUT);
			return;
		}
		size_t s = q->tries % c->nservers;
		q->tries++;
		if (query_send(q, s) == 0)
			return;
		if (q->error == RESOLVE_ERR_BADNAME) {
			query_done(q, q->error);
			return;
		}
	}
}

/* The whole of a small file into a malloc'd buffer; NULL if unreadable. */
static char *
read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t n = 0;

	if (fd == -1)
		return NULL;
	if ((buf = malloc(RESOLVE_MAX_FILE_BYTES)) == NULL) {
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, RESOLVE_MAX_FILE_BYTES - n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == RESOLVE_MAX_FILE_BYTES)
			break;
	}
	close(fd);
	*len = n;
	return buf;
}

/*
 * "localhost" and names under it are the loopback addresses, never asked
 * of a nameserver (RFC 6761, 6.3): a root without /etc/hosts (debootstrap
 * writes none) still reaches a local directory, as glibc with
 * nss-myhostname would.
 */
static int
is_localhost(const char *host)
{
	char name[DNS_MAX_NAME_BYTES + 1];
	size_t n;

	if (strip_dot(host, name, sizeof(name)) == -1)
		return 0;
	n = strlen(name);
	if (strcasecmp(name, "localhost") == 0)
		return 1;
	return n > 10 && strcasecmp(name + n - 10, ".localhost") == 0;
}

/*
 * The names to ask for host, in turn, as glibc's stub does: a name with
 * a final dot as it is; one with at least ndots dots as it is, then with
 * each search domain; one with fewer, with each domain, then as it is.
 */
static size_t
resolve_candidates(const char *host, const struct resolve_conf *c,
    char out[RESOLVE_MAX_SEARCH + 1][256])
{
	size_t n = 0, dots = 0, len = strlen(host);
	int as_is_first;

	for (size_t i = 0; i < len; i++)
		dots += host[i] == '.';
	if (len > 0 && host[len - 1] == '.') {
		snprintf(out[n++], sizeof(out[0]), "%s", host);
		return n;
	}
	as_is_first = dots >= c->ndots;
	if (as_is_first)
		snprintf(out[n++], sizeof(out[0]), "%s", host);
	for (size_t i = 0; i < c->nsearch; i++) {
		int k = snprintf(out[n], sizeof(out[0]), "%s.%s", host, c->search[i]);
		if (k > 0 && k <= 253)	/* a name of at most 255 bytes on the wire */
			n++;
	}
	if (!as_is_first)
		snprintf(out[n++], sizeof(out[0]), "%s", host);
	return n;
}

/*
 * Sends both queries (A, AAAA) for the current name; a failure to start
 * one is its result. 1 if an answer is awaited, 0 if both are done.
 */
static int
resolve_ask(struct resolve *r)
{
	for (int i = 0; i < 2; i++) {
		struct resolve_query *q = &r->q[i];

		query_close(q);
		q->tries = 0;
		q->done = 0;
		q->error = RESOLVE_OK;
		memset(&q->res, 0, sizeof(q->res));
		for (;;) {
			if (q->tries >= r->conf.nservers * r->conf.attempts) {
				q->done = 1;
				break;
			}
			size_t s = q->tries % r->conf.nservers;
			q->tries++;
			if (query_send(q, s) == 0)
				break;
			query_close(q);
		}
	}
	return !r->q[0].done || !r->q[1].done;
}

static struct resolve *
resolve_begin(struct event_base *base, const char *host, const struct resolve_conf *conf,
    const char *hosts_file, int read_conf, resolve_cb cb, void *arg)
{
	struct resolve *r = calloc(1, sizeof(*r));
	struct resolve_addr lit;
	uint8_t wire[DNS_MAX_NAME_BYTES];
	char *text;
	size_t len;

	if (r == NULL)
		return NULL;
	r->base = base;
	r->cb = cb;
	r->arg = arg;
	for (int i = 0; i < 2; i++) {
		r->q[i].r = r;
		r->q[i].fd = -1;
		r->q[i].qtype = i == 0 ? DNS_TYPE_A : DNS_TYPE_AAAA;
	}
	if (strlen(host) >= sizeof(r->host)) {
		r->error = RESOLVE_ERR_BADNAME;
		goto later;
	}
	snprintf(r->host, sizeof(r->host), "%s", host);
	if (resolve_literal(host, &lit)) {
		result_add(&r->res, lit.family, lit.ip);
		goto later;
	}
	if (dns_encode_name(host, wire, sizeof(wire)) < 0) {
		r->error = RESOLVE_ERR_BADNAME;
		goto later;
	}
	if (hosts_file != NULL && (text = read_file(hosts_file, &len)) != NULL) {
		resolve_hosts_parse(text, len, host, &r->res);
		free(text);
		if (r->res.n > 0)
			goto later;
	}
	if (is_localhost(host)) {
		static const uint8_t v4[4] = { 127, 0, 0, 1 };
		static const uint8_t v6[16] = { [15] = 1 };
		result_add(&r->res, AF_INET, v4);
		result_add(&r->res, AF_INET6, v6);
		goto later;
	}
	if (read_conf) {
		text = read_file(RESOLVE_CONF_FILE, &len);
		resolve_conf_parse(text != NULL ? text : "", text != NULL ? len : 0, &r->conf);
		free(text);
	} else
		r->conf = *conf;
	if (r->conf.nservers == 0 || r->conf.attempts == 0) {
		r->error = RESOLVE_ERR_TIMEOUT;
		goto later;
	}
	r->ncand = resolve_candidates(host, &r->conf, r->cand);
	r->queried = 1;
	if (resolve_ask(r))
		return r;
later:
	/* Called back from the loop, as a resolution that waited would be. */
	for (int i = 0; i < 2; i++)
		query_close(&r->q[i]);
	if ((r->done_ev = evtimer_new(base, resolve_on_done, r)) == NULL) {
		free(r);
		return NULL;
	}
	struct timeval zero = { 0, 0 };
	evtimer_add(r->done_ev, &zero);
	return r;
}

struct resolve *
resolve_start(struct event_base *base, const char *host, resolve_cb cb, void *arg)
{
	return resolve_begin(base, host, NULL, RESOLVE_HOSTS_FILE, 1, cb, arg);
}

struct resolve *
resolve_start_conf(struct event_base *base, const char *host,
    const struct resolve_conf *conf, const char *hosts_file, resolve_cb cb, void *arg)
{
	return resolve_begin(base, host, conf, hosts_file, 0, cb, arg);
}
