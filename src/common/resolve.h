/*
 * Host name resolution without NSS, for a sandboxed role (netd): an IP
 * literal is taken as it is; otherwise /etc/hosts is read, then the
 * nameservers of /etc/resolv.conf are asked over UDP (A and AAAA), on the
 * caller's libevent loop. glibc's getaddrinfo() would load whatever NSS
 * modules nsswitch.conf names (mymachines, systemd, sss, ldap...), whose
 * system calls the role's seccomp filter does not expect and kills.
 *
 * Both files are read at each resolution, so that a resolv.conf that a
 * DHCP client or VPN replaces is followed: the role's Landlock rules
 * keep /etc and the directories resolv.conf links into readable.
 * Names are looked up as given (fully qualified; a trailing dot is
 * allowed): resolv.conf's search and domain lines are not applied.
 */
#ifndef NYMD_COMMON_RESOLVE_H
#define NYMD_COMMON_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#define RESOLVE_MAX_ADDRS	16
#define RESOLVE_MAX_SERVERS	3	/* as glibc's MAXNS */
#define RESOLVE_MAX_SEARCH	6	/* as glibc's MAXDNSRCH */
#define RESOLVE_MAX_NDOTS	15	/* as glibc's RES_MAXNDOTS */
#define RESOLVE_TIMEOUT_S	5	/* per server and try, as glibc */
#define RESOLVE_ATTEMPTS	2
/* A UDP answer without EDNS is at most 512 bytes (RFC 1035 4.2.1). */
#define RESOLVE_MAX_UDP_BYTES	512
#define RESOLVE_MAX_QUERY_BYTES	(12 + 255 + 4)
#define RESOLVE_HOSTS_FILE	"/etc/hosts"
#define RESOLVE_CONF_FILE	"/etc/resolv.conf"
#define RESOLVE_MAX_FILE_BYTES	(1024 * 1024)

#define DNS_TYPE_A		1
#define DNS_TYPE_CNAME		5
#define DNS_TYPE_AAAA		28

/* Results and errors (0 or negative). */
#define RESOLVE_OK		0
#define RESOLVE_ERR_NONAME	(-1)	/* no such name, or no address */
#define RESOLVE_ERR_BADNAME	(-2)	/* not a host name */
#define RESOLVE_ERR_SERVER	(-3)	/* SERVFAIL, REFUSED, ... */
#define RESOLVE_ERR_TRUNCATED	(-4)	/* TC: too large for UDP */
#define RESOLVE_ERR_MALFORMED	(-5)	/* a response that does not parse */
#define RESOLVE_ERR_MISMATCH	(-6)	/* not the answer to our query */
#define RESOLVE_ERR_TIMEOUT	(-7)	/* no nameserver answered */
#define RESOLVE_ERR_SYSTEM	(-8)	/* a socket or memory failure */

struct resolve_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 ip[16];	/* 4 or 16 bytes */
};

struct resolve_result {
	size_t			 n;
	struct resolve_addr	 a[RESOLVE_MAX_ADDRS];
};

struct resolve_conf {
	size_t			 nservers;
	struct sockaddr_storage	 server[RESOLVE_MAX_SERVERS];
	socklen_t		 server_len[RESOLVE_MAX_SERVERS];
	unsigned		 timeout_ms;
	unsigned		 attempts;
	/* "search" (or "domain"): the last such line wins, as in glibc */
	size_t			 nsearch;
	char			 search[RESOLVE_MAX_SEARCH][254];
	unsigned		 ndots;		/* options ndots:N, default 1 */
};

const char	*resolve_strerror(int);

/* An IP literal (IPv4, IPv6 bare or in brackets): 1 and *out, or 0. */
int	resolve_literal(const char *host, struct resolve_addr *out);
/* The address as text (inet_ntop), into at least 46 bytes. */
const char *resolve_ntop(const struct resolve_addr *, char *out, size_t outlen);
/* A socket address for a and port; its length. */
socklen_t resolve_sockaddr(const struct resolve_addr *a, uint16_t port,
	    struct sockaddr_storage *out);

/*
 * The pure parts, each of one input and explicit lengths (unit tests and
 * the fuzz target call them directly):
 * - resolve_hosts_parse(): the addresses /etc/hosts text gives name
 *   (case-insensitive), in file order, appended to out; how many.
 * - resolve_conf_parse(): nameserver (at most RESOLVE_MAX_SERVERS) and
 *   options timeout:N attempts:N of resolv.conf text; no nameserver
 *   means 127.0.0.1, as in glibc.
 * - resolve_query_build(): a query for name (RD set, class IN) into buf;
 *   its length, or RESOLVE_ERR_BADNAME.
 * - resolve_response_parse(): THE parser of a nameserver's answer: checks
 *   the ID, QR, the question echoed, then follows CNAMEs and appends the
 *   addresses of type qtype to out. RESOLVE_OK (possibly with none),
 *   or an error above.
 */
size_t	resolve_hosts_parse(const char *text, size_t len, const char *name,
	    struct resolve_result *out);
void	resolve_conf_parse(const char *text, size_t len, struct resolve_conf *out);
int	resolve_query_build(uint8_t *buf, size_t size, uint16_t id, const char *name,
	    uint16_t qtype);
int	resolve_response_parse(const uint8_t *msg, size_t len, uint16_t id,
	    const char *name, uint16_t qtype, struct resolve_result *out);

/*
 * Resolves host on base: cb is called once, from the loop (never from
 * within resolve_start()), with RESOLVE_OK and at least one address, or
 * an error; the result is valid during the call only. NULL if the
 * resolution cannot start (out of memory): cb is not called then.
 * resolve_start_conf() uses conf and hosts_file (NULL: no hosts file)
 * instead of reading the system's files (tests).
 */
typedef void (*resolve_cb)(void *arg, int error, const struct resolve_result *);
struct resolve;
struct resolve	*resolve_start(struct event_base *, const char *host, resolve_cb,
		    void *arg);
struct resolve	*resolve_start_conf(struct event_base *, const char *host,
		    const struct resolve_conf *conf, const char *hosts_file,
		    resolve_cb, void *arg);
/* Stops a resolution whose callback has not run; cb is not called. */
void		 resolve_cancel(struct resolve *);

#endif
