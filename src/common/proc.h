/*
 * The common life of a nymd child process (keyd, netd, rpcd): the channel
 * to master, the configuration it sends, channels to the peer roles, the
 * fatal-error report to master, and a clean exit. Each role supplies its
 * hooks and the dispatch table for messages from its peers.
 */
#ifndef NYMD_PROC_H
#define NYMD_PROC_H

#include <event2/event.h>

#include "common/ipc.h"
#include "common/sandbox.h"

#define PROC_MASTER_FD		3
#define PROC_LOG_FD		4	/* the log file, when logging to one */
/* A role's own descriptor from master: keyd's private key file, rpcd's
 * unix socket (if it serves one). */
#define PROC_ROLE_FD		5
#define PROC_TITLE_PREFIX	"nymd: "
#define PROC_NROLES		4

struct proc;

/*
 * Master and its children work in the client's home (master's working
 * directory, which the children inherit): a path beneath home is opened
 * relative to it, so that no directory above the home need be searchable
 * by the user nymd runs as (a home in root's 0700 directories, nymd
 * started as root). Returns path's part below home, or path itself.
 */
const char	*proc_home_path(const char *home, const char *path);

struct proc_role {
	Nymipc__Role	 role;
	/* What the role may do once confined (ROLE/sandbox.c). */
	const struct sandbox_policy *sandbox;
	/* Set-up with the first configuration: open what the role needs
	 * while it still can. Returns 0 or -1 (logged). */
	int		(*configure)(struct proc *);
	/* Called once confined, before the first untrusted byte is read:
	 * start serving. NULL if configure() did all. Returns 0 or -1. */
	int		(*start)(struct proc *);
	/* A new configuration arrived with SIGHUP (already stored). */
	void		(*reload)(struct proc *);
	/* A channel to peer `role` is (again) up. */
	void		(*peer_up)(struct proc *, Nymipc__Role role);
	/* Fills the READY message (e.g. keyd adds the public key). */
	void		(*ready)(struct proc *, Nymipc__Ready *ready);
	/* Releases what configure() acquired; called before exit. */
	void		(*shutdown)(struct proc *);
	/* Handlers for messages from each peer, indexed by its role: what
	 * a table lacks, that peer may not send (ipc.c refuses it). */
	const struct ipc_dispatch *from[PROC_NROLES];
};

struct proc {
	const struct proc_role	*role;
	struct event_base	*base;
	struct ipc_chan		*master;
	struct ipc_chan		*peers[PROC_NROLES];
	Nymipc__ChildConfig	*config;	/* owned */
	void			*state;		/* the role's own */
	int			 exit_status;
};

const char *proc_role_name(Nymipc__Role role);
/* "keyd" -> ROLE_KEYD; -1 if unknown. */
int	proc_role_parse(const char *name, Nymipc__Role *out);
/* Runs a child role until master says stop; never returns. */
void	proc_child_main(const struct proc_role *role) __attribute__((noreturn));
/* The channel to a peer role, or NULL while it is down. */
struct ipc_chan *proc_peer(struct proc *, Nymipc__Role role);
/* The role of the peer behind a channel (the dispatch arg is the proc). */
Nymipc__Role proc_peer_role(struct proc *, struct ipc_chan *);
/* The `closed` callback for peer channels: a protocol error is fatal,
 * anything else waits for master to hand over a new channel. */
void	proc_peer_closed(struct ipc_chan *, enum ipc_close_reason, const char *why,
	    void *arg);
/* Applies the logging part of the configuration in this process. */
int	proc_apply_logging(const Nymipc__ChildConfig *cfg, const char *role_name);

#endif
