/*
 * keyd: the only process that holds the client's long-term private key.
 * It loads the key, locks itself down and then only answers requests over
 * its channels. The key lives in guarded, mlocked memory and is wiped on
 * exit.
 */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/pem.h"
#include "common/sandbox.h"
#include "keyd/keyd.h"

struct keyd {
	uint8_t	*priv;		/* sodium_malloc: guarded, mlocked */
	uint8_t	 pub[32];
};

static struct keyd keyd;

static int
keyd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;
	int rc;

	if (sodium_init() < 0)
		return -1;
	keyd.priv = sodium_malloc(PEM_KEY_BYTES);
	if (keyd.priv == NULL)
		fatal("cannot allocate locked memory for the key");
	rc = pem_read_key(cfg->priv_key_file, PEM_TYPE_PRIVATE, 1, keyd.priv);
	if (rc != PEM_OK)
		fatalx("%s: %s", cfg->priv_key_file, pem_strerror(rc));
	if (crypto_scalarmult_base(keyd.pub, keyd.priv) != 0)
		fatalx("%s: not a usable Curve25519 private key", cfg->priv_key_file);
	sodium_mprotect_readonly(keyd.priv);
	if (sandbox_drop_privileges(cfg->chroot_dir, cfg->uid, cfg->gid) == -1)
		fatal("cannot drop privileges");
	if (keyd_sandbox() == -1)
		fatalx("cannot install the seccomp filter");
	log_info("key loaded and sandboxed");
	return 0;
}

static void
keyd_ready(struct proc *p, Nymipc__Ipc *msg)
{
	msg->pubkey.data = keyd.pub;
	msg->pubkey.len = sizeof(keyd.pub);
}

static void
keyd_shutdown(struct proc *p)
{
	/* sodium_free wipes the pages before releasing them. */
	sodium_free(keyd.priv);
	keyd.priv = NULL;
}

static void
on_pubkey_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;

	reply.type = NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY;
	reply.seq = msg->seq;
	reply.pubkey.data = keyd.pub;
	reply.pubkey.len = sizeof(keyd.pub);
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
}

static const struct ipc_dispatch keyd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST] = on_pubkey_request,
	},
	.closed = proc_peer_closed,
};

const struct proc_role keyd_role = {
	.role = NYMIPC__ROLE__ROLE_KEYD,
	.configure = keyd_configure,
	.ready = keyd_ready,
	.shutdown = keyd_shutdown,
	.peer_dispatch = &keyd_peer_dispatch,
};
