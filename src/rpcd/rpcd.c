/*
 * rpcd: serves applications on the local socket. It holds no key and
 * opens no outbound connection; what it knows of the world comes from
 * keyd (the public key) and netd (the topology).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/topology.h"
#include "rpcd/listener.h"
#include "rpcd/rpcd.h"

static struct {
	struct rpcd_state	 state;
	struct listener		*listener;
	uint64_t		 seq;
} rpcd;

static int
rpcd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;

	rpcd.state.provider_id = cfg->provider_id;
	topology_init();
	rpcd.listener = listener_open(p->base, cfg, &rpcd.state);
	if (rpcd.listener == NULL)
		return -1;
	if (sandbox_drop_privileges(cfg->chroot_dir, cfg->uid, cfg->gid) == -1)
		fatal("cannot drop privileges");
	if (rpcd_sandbox() == -1)
		fatalx("cannot install the seccomp filter");
	if (listener_start(rpcd.listener) == -1)
		fatalx("cannot start accepting connections");
	if (cfg->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_UNIX)
		log_info("listening on %s", cfg->socket_path);
	else
		log_info("listening on %s port %u", cfg->listen_address, cfg->port);
	return 0;
}

static void
rpcd_reload(struct proc *p)
{
	rpcd.state.provider_id = p->config->provider_id;
}

static void
rpcd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role != NYMIPC__ROLE__ROLE_KEYD)
		return;
	if (ipc_send_type(proc_peer(p, role), NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST,
	    ++rpcd.seq) == -1)
		log_warn("cannot ask keyd for the public key");
}

static void
rpcd_shutdown(struct proc *p)
{
	listener_free(rpcd.listener);
	rpcd.listener = NULL;
	topology_free(rpcd.state.topology);
	rpcd.state.topology = NULL;
}

static void
on_pubkey_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (msg->pubkey.len != sizeof(rpcd.state.pubkey))
		fatalx("keyd sent a public key of %zu bytes", msg->pubkey.len);
	memcpy(rpcd.state.pubkey, msg->pubkey.data, sizeof(rpcd.state.pubkey));
	rpcd.state.have_pubkey = 1;
}

static void
on_topology(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct topology *t;
	char err[256];

	if (topology_parse((const char *)msg->data.data, msg->data.len, &t,
	    err, sizeof(err)) == -1)
		fatalx("netd sent a topology that does not parse: %s", err);
	topology_free(rpcd.state.topology);
	rpcd.state.topology = t;
	log_debug("topology updated: %zu mixnodes, %zu providers",
	    t->n_mixnodes, t->n_providers);
}

static const struct ipc_dispatch rpcd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY] = on_pubkey_reply,
		[NYMIPC__IPC_TYPE__IPC_TOPOLOGY] = on_topology,
	},
	.closed = proc_peer_closed,
};

const struct proc_role rpcd_role = {
	.role = NYMIPC__ROLE__ROLE_RPCD,
	.configure = rpcd_configure,
	.reload = rpcd_reload,
	.peer_up = rpcd_peer_up,
	.shutdown = rpcd_shutdown,
	.peer_dispatch = &rpcd_peer_dispatch,
};
