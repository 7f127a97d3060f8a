/*
 * netd: the only process that talks to the network. In this version it
 * keeps the topology from the directory and hands it to rpcd; the link to
 * the provider and the Loopix streams build on it.
 */
#include <config.h>

#include <string.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/topology.h"
#include "netd/directory.h"
#include "netd/netd.h"

static struct {
	struct proc		*proc;
	struct directory	*dir;
} netd;

static void
netd_send_topology(struct ipc_chan *c)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	const char *json;
	size_t len;

	if (c == NULL || directory_topology(netd.dir, &json, &len) == NULL)
		return;
	msg.type = NYMIPC__IPC_TYPE__IPC_TOPOLOGY;
	msg.data.data = (uint8_t *)json;
	msg.data.len = len;
	if (ipc_send(c, &msg, -1) == -1)
		log_warn("cannot send the topology to %s", ipc_chan_name(c));
}

static void
netd_on_topology(const struct topology *t, const char *json, size_t len, void *arg)
{
	netd_send_topology(proc_peer(netd.proc, NYMIPC__ROLE__ROLE_RPCD));
}

static int
netd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;

	netd.proc = p;
	topology_init();
	if (directory_global_init() == -1)
		fatalx("cannot initialise libcurl");
	netd.dir = directory_new(p->base, cfg->directory_url,
	    cfg->topology_refresh_seconds, netd_on_topology, NULL);
	if (netd.dir == NULL)
		fatalx("cannot set up the directory client");
	/* netd keeps no files open and resolves names: no chroot. */
	if (sandbox_drop_privileges(NULL, cfg->uid, cfg->gid) == -1)
		fatal("cannot drop privileges");
	if (netd_sandbox() == -1)
		fatalx("cannot install the seccomp filter");
	directory_start(netd.dir);
	return 0;
}

static void
netd_reload(struct proc *p)
{
	directory_set_url(netd.dir, p->config->directory_url,
	    p->config->topology_refresh_seconds);
}

static void
netd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == NYMIPC__ROLE__ROLE_RPCD)
		netd_send_topology(proc_peer(p, role));
}

static void
netd_shutdown(struct proc *p)
{
	directory_free(netd.dir);
	netd.dir = NULL;
	directory_global_cleanup();
}

static void
on_status_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__NetStatus st = NYMIPC__NET_STATUS__INIT;
	const struct topology *t = directory_topology(netd.dir, NULL, NULL);

	st.topology_loaded = t != NULL;
	st.mixnodes = t ? (uint32_t)t->n_mixnodes : 0;
	st.providers = t ? (uint32_t)t->n_providers : 0;
	st.topology_fetches = directory_fetches(netd.dir);
	st.topology_failures = directory_failures(netd.dir);
	reply.type = NYMIPC__IPC_TYPE__IPC_STATUS_REPLY;
	reply.seq = msg->seq;
	reply.status = &st;
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
}

static const struct ipc_dispatch netd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST] = on_status_request,
	},
	.closed = proc_peer_closed,
};

const struct proc_role netd_role = {
	.role = NYMIPC__ROLE__ROLE_NETD,
	.configure = netd_configure,
	.reload = netd_reload,
	.peer_up = netd_peer_up,
	.shutdown = netd_shutdown,
	.peer_dispatch = &netd_peer_dispatch,
};
