/*
 * The websocket opening handshake. Only what RFC 6455 needs of HTTP/1.1
 * is accepted: "GET path HTTP/1.1", CRLF line ends, headers without line
 * folding, no body. Everything else is refused with the status a browser
 * or a library would understand, and a short reason.
 */
#include <config.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "rpcd/http.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_VERSION	"13"
#define WS_KEY_CHARS	24	/* 16 random bytes in base64 */
#define SHA1_BYTES	20

/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept, where RFC 6455
 * requires it; it protects nothing here. */
struct sha1 {
	uint32_t	h[5];
	uint8_t		block[64];
	size_t		fill;
	uint64_t	total;
};

static uint32_t
rol32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3]; e = s->h[4];
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol32(b, 30); b = a; a = t;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e;
}

static void
sha1_init(struct sha1 *s)
{
	static const uint32_t iv[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->fill = 0;
	s->total = 0;
}

static void
sha1_update(struct sha1 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->total += len;
	while (len > 0) {
		size_t n = sizeof(s->block) - s->fill;
		if (n > len)
			n = len;
		memcpy(s->block + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill == sizeof(s->block)) {
			sha1_block(s, s->block);
			s->fill = 0;
		}
	}
}

static void
sha1_final(struct sha1 *s, uint8_t out[SHA1_BYTES])
{
	uint64_t bits = s->total * 8;
	uint8_t pad = 0x80, zero = 0, len[8];

	sha1_update(s, &pad, 1);
	while (s->fill != 56)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, len, sizeof(len));
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void
http_ws_accept(const char *key, size_t key_len, char out[HTTP_WS_ACCEPT_CHARS + 1])
{
	struct sha1 s;
	uint8_t digest[SHA1_BYTES];

	sha1_init(&s);
	sha1_update(&s, key, key_len);
	sha1_update(&s, WS_GUID, strlen(WS_GUID));
	sha1_final(&s, digest);
	b64_encode(out, digest, sizeof(digest), B64_STANDARD);
}

/* What the headers said, as far as the handshake cares. */
struct http_facts {
	int		 hosts;
	int		 upgrade_websocket;
	int		 connection_upgrade;
	int		 keys;
	const uint8_t	*key;
	size_t		 key_len;
	int		 versions;
	const uint8_t	*version;
	size_t		 version_len;
	int		 origins;
	const uint8_t	*origin;
	size_t		 origin_len;
};

static long
refuse(struct http_upgrade *u, int status, const char *why)
{
	u->status = status;
	u->why = why;
	return HTTP_REFUSED;
}

/* RFC 9110 tchar */
static int
is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_field_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of p[0..n) with the NUL-terminated s. */
static int
equals_ci(const uint8_t *p, size_t n, const char *s)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return 0;
	return 1;
}

static int
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Whether the comma-separated list p[0..n) holds token (any case). */
static int
list_has_token(const uint8_t *p, size_t n, const char *token)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;
		while (i < n && (is_ows(p[i]) || p[i] == ','))
			i++;
		start = i;
		while (i < n && p[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(p[end - 1]))
			end--;
		if (end > start && equals_ci(p + start, end - start, token))
			return 1;
	}
	return 0;
}

/* An origin, RFC 6454's serialization: scheme "://" host [":" port]. */
struct origin {
	const uint8_t	*scheme, *host, *port;
	size_t		 scheme_len, host_len, port_len;	/* port_len 0: none */
};

/*
 * Splits p[0..n) into its parts; -1 unless it is exactly an origin with a
 * host: "null", "file://" and anything with a path or user are not.
 */
static int
origin_split(const uint8_t *p, size_t n, struct origin *o)
{
	size_t i = 0;

	while (i < n && ((lower(p[i]) >= 'a' && lower(p[i]) <= 'z') ||
	    (i > 0 && ((p[i] >= '0' && p[i] <= '9') || p[i] == '+' ||
	    p[i] == '-' || p[i] == '.'))))
		i++;
	if (i == 0 || n - i < 3 || memcmp(p + i, "://", 3) != 0)
		return -1;
	o->scheme = p;
	o->scheme_len = i;
	i += 3;
	o->host = p + i;
	if (i < n && p[i] == '[') {
		while (i < n && p[i] != ']')
			i++;
		if (i == n)
			return -1;
		i++;
	} else {
		while (i < n && p[i] != ':' && p[i] != '/' && p[i] != '@' &&
		    p[i] != '[' && p[i] != ']')
			i++;
	}
	o->host_len = (size_t)(p + i - o->host);
	if (o->host_len == 0)
		return -1;
	o->port = NULL;
	o->port_len = 0;
	if (i < n && p[i] == ':') {
		o->port = p + ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		o->port_len = (size_t)(p + i - o->port);
		if (o->port_len == 0 || o->port_len > 5)
			return -1;
	}
	return i == n ? 0 : -1;
}

static int
span_equals_ci(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

/*
 * Whether the Origin p[0..n) is in the list (websocket_allowed_origins:
 * origins separated by spaces or commas). An entry without a port allows
 * every port of its scheme and host. Pages whose origin has no host
 * ("null": sandboxed frames, data: URLs, local files) never match.
 */
static int
origin_allowed(const char *list, const uint8_t *p, size_t n)
{
	struct origin o, e;
	const uint8_t *l = (const uint8_t *)list;

	if (list == NULL || origin_split(p, n, &o) == -1)
		return 0;
	for (;;) {
		while (*l == ' ' || *l == '\t' || *l == ',')
			l++;
		if (*l == '\0')
			return 0;
		size_t len = strcspn((const char *)l, " \t,");
		if (origin_split(l, len, &e) == 0 &&
		    span_equals_ci(e.scheme, e.scheme_len, o.scheme, o.scheme_len) &&
		    span_equals_ci(e.host, e.host_len, o.host, o.host_len) &&
		    (e.port_len == 0 || span_equals_ci(e.port, e.port_len,
		    o.port, o.port_len)))
			return 1;
		l += len;
	}
}

static long
parse_request_line(const uint8_t *p, size_t n, const char *path,
    struct http_upgrade *u)
{
	size_t i = 0, m, t0, t1;

	while (i < n && is_tchar(p[i]))
		i++;
	m = i;
	if (m == 0 || i == n || p[i] != ' ')
		return refuse(u, 400, "malformed request line");
	t0 = ++i;
	while (i < n && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	t1 = i;
	if (t1 == t0 || i == n || p[i] != ' ')
		return refuse(u, 400, "malformed request line");
	i++;
	const uint8_t *v = p + i;
	size_t vlen = n - i;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return refuse(u, 400, "malformed request line");
	if (memcmp(v, "HTTP/1.1", 8) != 0)
		return refuse(u, 505, "the websocket handshake needs HTTP/1.1");
	if (m != 3 || memcmp(p, "GET", 3) != 0)
		return refuse(u, 405, "the websocket handshake is a GET request");
	if (p[t0] != '/')
		return refuse(u, 400, "the request target must be a path");
	size_t plen = 0;
	while (t0 + plen < t1 && p[t0 + plen] != '?' && p[t0 + plen] != '#')
		plen++;
	if (memchr(p + t0, '#', t1 - t0) != NULL)
		return refuse(u, 400, "a request target has no fragment");
	if (plen != strlen(path) || memcmp(p + t0, path, plen) != 0)
		return refuse(u, 404, "no such path: the websocket is at /mix");
	return 0;
}

static long
parse_header(const uint8_t *p, size_t n, struct http_facts *f,
    struct http_upgrade *u)
{
	size_t i = 0, vs, ve;

	if (n > 0 && is_ows(p[0]))
		return refuse(u, 400, "obsolete line folding in the headers");
	while (i < n && is_tchar(p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return refuse(u, 400, "malformed header line");
	size_t name_len = i++;
	while (i < n && is_ows(p[i]))
		i++;
	vs = i;
	ve = n;
	while (ve > vs && is_ows(p[ve - 1]))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (!is_field_char(p[k]))
			return refuse(u, 400, "a control character in a header value");
	const uint8_t *v = p + vs;
	size_t vlen = ve - vs;

	if (equals_ci(p, name_len, "host")) {
		if (++f->hosts > 1)
			return refuse(u, 400, "more than one Host header");
		if (vlen == 0)
			return refuse(u, 400, "an empty Host header");
	} else if (equals_ci(p, name_len, "upgrade")) {
		f->upgrade_websocket |= list_has_token(v, vlen, "websocket");
	} else if (equals_ci(p, name_len, "connection")) {
		f->connection_upgrade |= list_has_token(v, vlen, "upgrade");
	} else if (equals_ci(p, name_len, "sec-websocket-key")) {
		if (++f->keys > 1)
			return refuse(u, 400, "more than one Sec-WebSocket-Key header");
		f->key = v;
		f->key_len = vlen;
	} else if (equals_ci(p, name_len, "sec-websocket-version")) {
		if (++f->versions > 1)
			return refuse(u, 400, "more than one Sec-WebSocket-Version header");
		f->version = v;
		f->version_len = vlen;
	} else if (equals_ci(p, name_len, "origin")) {
		if (++f->origins > 1)
			return refuse(u, 400, "more than one Origin header");
		f->origin = v;
		f->origin_len = vlen;
	} else if (equals_ci(p, name_len, "content-length")) {
		if (vlen != 1 || v[0] != '0')
			return refuse(u, 400, "a websocket handshake has no body");
	} else if (equals_ci(p, name_len, "transfer-encoding")) {
		return refuse(u, 400, "a websocket handshake has no body");
	}
	return 0;
}

/* The checks that need the whole head. */
static long
check_facts(const struct http_facts *f, const char *origins,
    struct http_upgrade *u)
{
	uint8_t nonce[16];

	if (f->hosts == 0)
		return refuse(u, 400, "missing Host header");
	if (!f->upgrade_websocket)
		return refuse(u, 400, "missing Upgrade: websocket header");
	if (!f->connection_upgrade)
		return refuse(u, 400, "missing Connection: Upgrade header");
	if (f->keys == 0)
		return refuse(u, 400, "missing Sec-WebSocket-Key header");
	if (f->key_len != WS_KEY_CHARS ||
	    b64_decode(nonce, sizeof(nonce), (const char *)f->key, f->key_len,
	    B64_STANDARD) != (long)sizeof(nonce))
		return refuse(u, 400, "invalid Sec-WebSocket-Key: not 16 bytes in base64");
	if (f->versions == 0)
		return refuse(u, 400, "missing Sec-WebSocket-Version header");
	if (f->version_len != strlen(WS_VERSION) ||
	    memcmp(f->version, WS_VERSION, f->version_len) != 0)
		return refuse(u, 426, "unsupported Sec-WebSocket-Version: only 13 is supported");
	if (f->origins > 0 && !origin_allowed(origins, f->origin, f->origin_len))
		return refuse(u, 403, "this page's Origin may not use nymd: "
		    "add it to websocket_allowed_origins in the [nymd] section "
		    "of the client's config.toml (null and file:// cannot be)");
	return 0;
}

long
http_parse_upgrade(const uint8_t *buf, size_t len, const char *path,
    const char *origins, struct http_upgrade *u)
{
	struct http_facts f;
	size_t pos = 0, lines = 0;
	long rc;

	memset(&f, 0, sizeof(f));
	memset(u, 0, sizeof(*u));
	if (len > HTTP_MAX_HEAD_BYTES)
		len = HTTP_MAX_HEAD_BYTES;
	/* Line by line, refusing as soon as a complete line is wrong. */
	for (;;) {
		size_t eol = pos;
		while (eol < len && buf[eol] != '\r' && buf[eol] != '\n') {
			/* Also refuses NULs and other controls early. */
			if (buf[eol] != '\t' && (buf[eol] < 0x20 || buf[eol] == 0x7f))
				return refuse(u, 400, "a control character in the request head");
			eol++;
		}
		if (eol == len || (buf[eol] == '\r' && eol + 1 == len)) {
			if (len == HTTP_MAX_HEAD_BYTES)
				return refuse(u, 431, "the request head is too large");
			/* Garbage is refused before a line end comes. */
			if (lines == 0) {
				size_t k = pos;
				while (k < eol && is_tchar(buf[k]))
					k++;
				if (k < eol && (k == pos || buf[k] != ' '))
					return refuse(u, 400, "malformed request line");
				if (k < eol && (k - pos != 3 || memcmp(buf + pos, "GET", 3) != 0))
					return refuse(u, 405, "the websocket handshake is a GET request");
			}
			return HTTP_NEED_MORE;
		}
		if (buf[eol] != '\r' || buf[eol + 1] != '\n')
			return refuse(u, 400, "lines must end with CRLF");
		if (lines == 0) {
			rc = parse_request_line(buf + pos, eol - pos, path, u);
		} else if (eol == pos) {
			rc = check_facts(&f, origins, u);
			if (rc != 0)
				return rc;
			http_ws_accept((const char *)f.key, f.key_len, u->accept);
			u->status = 101;
			return (long)(eol + 2);
		} else if (lines > HTTP_MAX_HEADERS) {
			return refuse(u, 431, "too many header lines");
		} else {
			rc = parse_header(buf + pos, eol - pos, &f, u);
		}
		if (rc != 0)
			return rc;
		lines++;
		pos = eol + 2;
	}
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

int
http_response(const struct http_upgrade *u, char *out, size_t cap)
{
	int n;

	if (u->status == 101) {
		n = snprintf(out, cap, "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\n"
		    "Connection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n"
		    "\r\n", u->accept);
	} else {
		const char *extra = "";
		const char *why = u->why != NULL ? u->why : "";
		if (u->status == 426)
			extra = "Sec-WebSocket-Version: " WS_VERSION "\r\n";
		else if (u->status == 405)
			extra = "Allow: GET\r\n";
		n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n"
		    "Connection: close\r\n"
		    "%s"
		    "\r\n"
		    "%s\n", u->status, reason_phrase(u->status), strlen(why) + 1,
		    extra, why);
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
