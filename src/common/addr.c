#include <config.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"

static int
addr_fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
addr_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* 1 if s looks like a host name (letters, digits, '-', '.'), not an IP. */
static int
addr_is_name(const char *s, size_t len)
{
	int alpha = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.')
			return 0;
		alpha |= isalpha(c) || c == '-';
	}
	return alpha;
}

int
addr_parse_ip(const char *s, char *out, size_t outlen, char *why, size_t whylen)
{
	char buf[ADDR_IP_BYTES];
	unsigned char bin[16];
	size_t len = strlen(s);
	int bracketed = 0;

	if (len == 0)
		return addr_fail(why, whylen, "an IP address is required");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL)
			return addr_fail(why, whylen, "'%s': a '[' without its ']'", s);
		if (close[1] == ':')
			return addr_fail(why, whylen, "'%s': expected an IP address "
			    "without the port", s);
		if (close[1] != '\0')
			return addr_fail(why, whylen, "'%s': nothing may follow ']'", s);
		len = (size_t)(close - s - 1);
		s++;
		bracketed = 1;
	}
	if (len >= sizeof(buf))
		return addr_fail(why, whylen, "'%.60s...' is too long for an IP address", s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strchr(buf, '%') != NULL)
		return addr_fail(why, whylen, "'%s': IPv6 zone ids (%%IFACE) are not "
		    "supported; use a global or loopback address", buf);
	if (!bracketed && inet_pton(AF_INET, buf, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)outlen) ? 4 : -1;
	if (inet_pton(AF_INET6, buf, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)outlen) ? 6 : -1;
	if (!bracketed && strchr(buf, ':') != NULL &&
	    strchr(buf, ':') == strrchr(buf, ':'))
		return addr_fail(why, whylen, "'%s': expected an IP address "
		    "without the port", buf);
	if (addr_is_name(buf, len))
		return addr_fail(why, whylen, "'%s' is a host name, not an IP "
		    "address (e.g. 127.0.0.1 or ::1)", buf);
	return addr_fail(why, whylen, "'%s' is not an IP address", buf);
}

int
addr_format_hostport(char *out, size_t outlen, const char *host, const char *port)
{
	int n = snprintf(out, outlen, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    host, port);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* The authority of a URL: [userinfo@]host[:port]; len bytes of a. */
static int
addr_check_authority(const char *url, const char *a, size_t len, char *why,
    size_t whylen)
{
	char host[256], ip[ADDR_IP_BYTES];
	const char *port = NULL;
	size_t hlen;

	if (memchr(a, '@', len) != NULL)
		return addr_fail(why, whylen, "'%s': a user name in the URL is not "
		    "supported", url);
	if (len > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (close == NULL)
			return addr_fail(why, whylen, "'%s': the host has a '[' "
			    "without its ']'", url);
		hlen = (size_t)(close - a) + 1;
		if (hlen < len && a[hlen] != ':')
			return addr_fail(why, whylen, "'%s': only ':PORT' may "
			    "follow the host's ']'", url);
	} else {
		const char *colon = memchr(a, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - a) - 1))
			return addr_fail(why, whylen, "'%s': an IPv6 host must be in "
			    "brackets, e.g. http://[::1]:8080/", url);
		hlen = colon != NULL ? (size_t)(colon - a) : len;
	}
	if (hlen < len)
		port = a + hlen + 1;
	if (hlen == 0)
		return addr_fail(why, whylen, "'%s': the URL has no host", url);
	if (hlen >= sizeof(host))
		return addr_fail(why, whylen, "'%s': the host is too long", url);
	memcpy(host, a, hlen);
	host[hlen] = '\0';
	if (host[0] == '[') {
		if (addr_parse_ip(host, ip, sizeof(ip), why, whylen) != 6) {
			char inner[200];
			snprintf(inner, sizeof(inner), "%s", why);
			snprintf(why, whylen, "'%s': the host %s", url, inner);
			return -1;
		}
	} else if (!addr_is_name(host, hlen) &&
	    addr_parse_ip(host, ip, sizeof(ip), NULL, 0) != 4)
		return addr_fail(why, whylen, "'%s': the host is not a host name, "
		    "an IPv4 address or an IPv6 address in brackets", url);
	if (port != NULL) {
		size_t plen = len - hlen - 1;
		unsigned long v = 0;
		if (plen == 0 || plen > 5)
			return addr_fail(why, whylen, "'%s': the port must be 1 to 65535", url);
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port[i]))
				return addr_fail(why, whylen, "'%s': the port must "
				    "be 1 to 65535", url);
			v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return addr_fail(why, whylen, "'%s': the port must be 1 to 65535", url);
	}
	return 0;
}

int
addr_check_url(const char *url, char *why, size_t whylen)
{
	const char *a, *path;

	if (strncasecmp(url, "http://", 7) == 0)
		a = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		a = url + 8;
	else {
		const char *sep = strstr(url, "://");
		char scheme[16];
		if (sep == NULL || sep == url || (size_t)(sep - url) >= sizeof(scheme))
			return addr_fail(why, whylen, "'%s': expected an http:// or "
			    "https:// URL", url);
		snprintf(scheme, sizeof(scheme), "%.*s", (int)(sep - url), url);
		return addr_fail(why, whylen, "'%s': the scheme '%s' is not "
		    "supported; use http:// or https://", url, scheme);
	}
	path = a + strcspn(a, "/?#");
	if (addr_check_authority(url, a, (size_t)(path - a), why, whylen) == -1)
		return -1;
	for (const char *c = path; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return addr_fail(why, whylen, "'%s': the path has a space, "
			    "a control or a non-ASCII character (percent-encode it)", url);
	return 0;
}

int
addr_url_host(const char *url, char *host, size_t hostlen, unsigned *port)
{
	const char *a, *end, *h, *hend, *colon;
	char why[256];

	if (addr_check_url(url, why, sizeof(why)) == -1)
		return -1;
	*port = strncasecmp(url, "https://", 8) == 0 ? 443 : 80;
	a = strstr(url, "://") + 3;
	end = a + strcspn(a, "/?#");
	if (a[0] == '[') {
		h = a + 1;
		hend = memchr(h, ']', (size_t)(end - h));
		colon = hend + 1 < end ? hend + 1 : NULL;
	} else {
		h = a;
		colon = memchr(a, ':', (size_t)(end - a));
		hend = colon != NULL ? colon : end;
	}
	if ((size_t)(hend - h) >= hostlen)
		return -1;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	if (colon != NULL)
		*port = (unsigned)strtoul(colon + 1, NULL, 10);
	return 0;
}
