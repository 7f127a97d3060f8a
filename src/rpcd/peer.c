/*
 * Who is at the other end of a TCP connection accepted on loopback: the
 * kernel's socket table knows the uid that created the peer's socket.
 * rpcd asks it through a NETLINK_SOCK_DIAG socket opened before the
 * sandbox, with an exact lookup of the peer's four-tuple (one request, one
 * answer), since the sandbox lets it open no file such as /proc/net/tcp.
 */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "rpcd/peer.h"

int
peer_diag_open(void)
{
	return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

/* The address and port of sa in the kernel's diag form. */
static int
peer_fill(const struct sockaddr_storage *ss, __be32 addr[4], __be16 *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		memcpy(&addr[0], &in->sin_addr, sizeof(in->sin_addr));
		*port = in->sin_port;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(addr, &in6->sin6_addr, sizeof(in6->sin6_addr));
		*port = in6->sin6_port;
		return 0;
	}
	return -1;
}

int
peer_tcp_uid(int diag, int fd, uid_t *uid)
{
	static uint32_t seq;
	struct sockaddr_storage local, remote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote);
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	} q;
	union {
		struct nlmsghdr	nlh;
		uint8_t		buf[1024];
	} a;
	ssize_t n;

	if (diag == -1) {
		errno = EBADF;
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.nlh.nlmsg_seq = ++seq;
	q.req.sdiag_family = (uint8_t)local.ss_family;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = ~0u;
	/* The peer's socket: its source is the remote end seen from here. */
	if (peer_fill(&remote, q.req.id.idiag_src, &q.req.id.idiag_sport) == -1 ||
	    peer_fill(&local, q.req.id.idiag_dst, &q.req.id.idiag_dport) == -1) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	q.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (send(diag, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -1;
	/* The kernel answers within send(): never wait. A stale answer
	 * (to a request whose answer was not read) is skipped. */
	for (;;) {
		if ((n = recv(diag, &a, sizeof(a), MSG_DONTWAIT)) == -1)
			return -1;
		/* NLMSG_OK and NLMSG_NEXT, with the bounds checked in size_t */
		size_t len = (size_t)n, step;
		for (struct nlmsghdr *h = &a.nlh; len >= sizeof(*h) &&
		    h->nlmsg_len >= sizeof(*h) && h->nlmsg_len <= len;
		    len -= step, h = (struct nlmsghdr *)((uint8_t *)h + step)) {
			step = NLMSG_ALIGN(h->nlmsg_len);
			if (step > len)
				step = len;
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) &&
				    e->error < 0 ? -e->error : EPROTO;
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				errno = EPROTO;
				return -1;
			}
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			*uid = (uid_t)m->idiag_uid;
			return 0;
		}
	}
}
