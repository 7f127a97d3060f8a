/*
 * One address syntax for every program: an IP literal is IPv4 or IPv6,
 * bare or (IPv6) in brackets; host and port are printed "host:port" with
 * IPv6 in brackets ("[::1]:28090"); a URL is checked part by part so that
 * an error names the part that is wrong.
 */
#ifndef NYMD_ADDR_H
#define NYMD_ADDR_H

#include <stddef.h>

/* Room for any IP literal inet_ntop() writes, with brackets. */
#define ADDR_IP_BYTES		48
/* Room for "[IPv6]:65535" and a host name with its port. */
#define ADDR_HOSTPORT_BYTES	300

/*
 * Parses an IP literal where an IP address is required (what a node
 * listens on, what nymd binds): "127.0.0.1", "::1" or "[::1]". A port, a
 * host name or an IPv6 zone id ("fe80::1%lo") is refused with why set.
 * On success writes the canonical bare form (inet_ntop) to out (at least
 * ADDR_IP_BYTES) and returns 4 or 6; -1 on error.
 */
int	addr_parse_ip(const char *s, char *out, size_t outlen, char *why,
	    size_t whylen);
/* "host:port", with an IPv6 host in brackets; 0, or -1 if it does not fit. */
int	addr_format_hostport(char *out, size_t outlen, const char *host,
	    const char *port);
/*
 * Checks an http:// or https:// URL: scheme, host (a name, an IPv4
 * address or a bracketed IPv6 address without a zone id), port (1 to
 * 65535 if given), no user name, and a path of printable characters
 * without spaces. 0, or -1 with why saying which part is wrong.
 */
int	addr_check_url(const char *url, char *why, size_t whylen);
/*
 * The host of a URL that addr_check_url() accepts, without brackets, and
 * its port (the scheme's, 80 or 443, if the URL gives none). 0, or -1.
 */
int	addr_url_host(const char *url, char *host, size_t hostlen, unsigned *port);

#endif
