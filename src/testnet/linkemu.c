/*
 * nym-testnet links: the link delay, jitter and loss of a --netns testnet
 * where the kernel has no netem qdisc. It runs in the testnet's link
 * namespace, which holds, for each process N, the end nN of the veth pair
 * whose other end is N's eth0, and the end hN of a second pair whose
 * other end vN is a port of the hub's bridge. Each frame N sends (read
 * from nN) is written to hN after the link delay (a uniform jitter either
 * way), or lost; each frame for N (read from hN) is written to nN at once.
 * So, as with netem on N's eth0, every packet a namespace sends is
 * delayed once. Frames of one link keep their order. Frames are read and
 * written with their virtio-net header (PACKET_VNET_HDR), so that TCP
 * segmentation and checksum offload pass through unchanged.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testnet/testnet.h"

/* A frame with its virtio-net header: at most a 64 KiB GSO frame. */
#define LINKEMU_FRAME_BYTES	(sizeof(struct virtio_net_hdr) + 65536 + 64)
/* As netem's default limit: frames waiting on one link. */
#define LINKEMU_QUEUE_FRAMES	1000
#define LINKEMU_MAX_LINKS	TESTNET_MAX_PROCS
#define LINKEMU_RCVBUF_BYTES	(8 * 1024 * 1024)

struct linkemu_frame {
	long long		 due_us;
	size_t			 len;
	struct linkemu_frame	*next;
	unsigned char		 data[];
};

struct linkemu_link {
	char			 id[CONFIG_ID_BYTES];
	int			 node_fd;	/* nN: frames from and to N */
	int			 hub_fd;	/* hN: frames from and to the bridge */
	struct linkemu_frame	*head, *tail;
	size_t			 queued;
	long long		 last_due_us;
};

struct linkemu {
	struct linkemu_link	 links[LINKEMU_MAX_LINKS];
	size_t			 nlinks;
	double			 delay_us, jitter_us, loss;	/* loss: 0..1 */
	unsigned char		*buf;
	unsigned long long	 delayed, lost, dropped_full;
};

static volatile sig_atomic_t linkemu_stop;

static void
linkemu_on_signal(int sig)
{
	(void)sig;
	linkemu_stop = 1;
}

static long long
linkemu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* A raw socket on interface name with virtio-net headers; -1 on error. */
static int
linkemu_socket(const char *name)
{
	struct sockaddr_ll sll;
	unsigned int ifindex = if_nametoindex(name);
	int fd, one = 1, rcvbuf = LINKEMU_RCVBUF_BYTES;

	if (ifindex == 0) {
		fprintf(stderr, "nym-testnet links: no interface %s: %s\n", name,
		    strerror(errno));
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ALL));
	if (fd == -1) {
		fprintf(stderr, "nym-testnet links: packet socket: %s\n", strerror(errno));
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)ifindex;
	/* Room for bursts while this process waits for a CPU: what overflows
	 * would be lost on top of --link-loss. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		fprintf(stderr, "nym-testnet links: %s: %s\n", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Uniform in [0, 1). */
static double
linkemu_random(void)
{
	return drand48();
}

static void
linkemu_enqueue(struct linkemu *e, struct linkemu_link *l, size_t len)
{
	struct linkemu_frame *f;
	long long now = linkemu_now_us(), due;

	if (e->loss > 0 && linkemu_random() < e->loss) {
		e->lost++;
		return;
	}
	if (l->queued >= LINKEMU_QUEUE_FRAMES ||
	    (f = malloc(sizeof(*f) + len)) == NULL) {
		e->dropped_full++;
		return;
	}
	due = now + (long long)(e->delay_us + e->jitter_us *
	    (2 * linkemu_random() - 1));
	/* A link is a FIFO: no frame overtakes the one before it. */
	if (due < l->last_due_us)
		due = l->last_due_us;
	l->last_due_us = due;
	f->due_us = due;
	f->len = len;
	f->next = NULL;
	memcpy(f->data, e->buf, len);
	if (l->tail != NULL)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
	l->queued++;
	e->delayed++;
}

/* Writes the frames that are due; returns the next due time, or -1. */
static long long
linkemu_release(struct linkemu_link *l, long long now)
{
	while (l->head != NULL && l->head->due_us <= now) {
		struct linkemu_frame *f = l->head;

		/* A link that is down (partition) loses what it is given. */
		(void)send(l->hub_fd, f->data, f->len, MSG_DONTWAIT);
		l->head = f->next;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued--;
		free(f);
	}
	return l->head != NULL ? l->head->due_us : -1;
}

/* Reads what is waiting on fd; frames from the node are queued, frames
 * for it written at once. */
static void
linkemu_read(struct linkemu *e, struct linkemu_link *l, int from_node)
{
	int fd = from_node ? l->node_fd : l->hub_fd;

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, e->buf, LINKEMU_FRAME_BYTES, MSG_DONTWAIT);

		if (n <= (ssize_t)sizeof(struct virtio_net_hdr))
			return;
		if (from_node)
			linkemu_enqueue(e, l, (size_t)n);
		else
			(void)send(l->node_fd, e->buf, (size_t)n, MSG_DONTWAIT);
	}
}

static int
linkemu_open(struct linkemu *e, const struct testnet *t)
{
	char node[TESTNET_IFNAME_BYTES + 1], hub[TESTNET_IFNAME_BYTES + 1];

	for (size_t i = 0; i < t->nprocs; i++) {
		const struct testnet_proc *p = &t->procs[i];
		struct linkemu_link *l = &e->links[e->nlinks];

		if (p->veth[0] != 'v')
			continue;
		snprintf(node, sizeof(node), "n%s", p->veth + 1);
		snprintf(hub, sizeof(hub), "h%s", p->veth + 1);
		memset(l, 0, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "%s", p->id);
		if ((l->node_fd = linkemu_socket(node)) == -1)
			return -1;
		e->nlinks++;
		if ((l->hub_fd = linkemu_socket(hub)) == -1)
			return -1;
	}
	return 0;
}

static void
linkemu_loop(struct linkemu *e)
{
	struct pollfd pfd[2 * LINKEMU_MAX_LINKS];

	for (size_t i = 0; i < e->nlinks; i++) {
		pfd[2 * i].fd = e->links[i].node_fd;
		pfd[2 * i + 1].fd = e->links[i].hub_fd;
		pfd[2 * i].events = pfd[2 * i + 1].events = POLLIN;
	}
	while (!linkemu_stop) {
		long long now = linkemu_now_us(), next = -1;
		int timeout;

		for (size_t i = 0; i < e->nlinks; i++) {
			long long due = linkemu_release(&e->links[i], now);
			if (due != -1 && (next == -1 || due < next))
				next = due;
		}
		/* Round up, so that a frame is never written early. */
		timeout = next == -1 ? 1000 : (int)((next - now + 999) / 1000);
		if (poll(pfd, 2 * e->nlinks, timeout) == -1 && errno != EINTR) {
			fprintf(stderr, "nym-testnet links: poll: %s\n", strerror(errno));
			return;
		}
		for (size_t i = 0; i < 2 * e->nlinks; i++)
			if (pfd[i].revents & POLLIN)
				linkemu_read(e, &e->links[i / 2], i % 2 == 0);
	}
}

int
testnet_linkemu_main(struct testnet *t)
{
	struct linkemu *e;
	struct sigaction sa;
	char err[512];
	int rc = TESTNET_EXIT_FAILURE;

	if (testnet_env_read(t, err, sizeof(err)) == -1) {
		fprintf(stderr, "nym-testnet links: %s\n", err);
		return TESTNET_EXIT_FAILURE;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->buf = malloc(LINKEMU_FRAME_BYTES)) == NULL) {
		fprintf(stderr, "nym-testnet links: out of memory\n");
		free(e);
		return TESTNET_EXIT_FAILURE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = linkemu_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	srand48((long)linkemu_now_us() ^ (long)getpid());
	e->delay_us = t->link_delay_ms * 1000;
	e->jitter_us = t->link_jitter_ms * 1000;
	e->loss = t->link_loss / 100;
	if (linkemu_open(e, t) == 0) {
		printf("nym-testnet links: %zu links, delay %g ms, jitter %g ms, "
		    "loss %g%%\n", e->nlinks, t->link_delay_ms, t->link_jitter_ms,
		    t->link_loss);
		fflush(stdout);
		linkemu_loop(e);
		printf("nym-testnet links: %llu frames delayed, %llu lost, %llu "
		    "dropped (queue full)\n", e->delayed, e->lost, e->dropped_full);
		rc = TESTNET_EXIT_OK;
	}
	for (size_t i = 0; i < e->nlinks; i++) {
		struct linkemu_link *l = &e->links[i];
		while (l->head != NULL) {
			struct linkemu_frame *f = l->head;
			l->head = f->next;
			free(f);
		}
		close(l->node_fd);
		if (l->hub_fd > 0)
			close(l->hub_fd);
	}
	free(e->buf);
	free(e);
	return rc;
}
