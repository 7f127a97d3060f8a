#ifndef NYMD_MASTER_H
#define NYMD_MASTER_H

#include "ipc.pb-c.h"

#define NYMD_EXIT_USAGE		2
#define NYMD_EXIT_CONFIG	1

struct nymd_options {
	const char	*prog;		/* "nymd" or "loopix-client" */
	const char	*id;		/* run, socket: NYMD_DEFAULT_ID if not given */
	const char	*custom_cfg;	/* --customCfg: this config.toml instead of the id's */
	const char	*root;		/* --home, NYMD_HOME, ~/.loopix */
	int		 force;
	int		 local;
	const char	*directory;
	const char	*provider;
	Nymipc__SocketKind socket_kind;
	int		 port;
	const char	*path;
	int		 check_only;	/* check-config, reload */
	long		 reload_pid;	/* reload --pid: master to signal */
	const char	*command;	/* "init", "run" or "socket" */
};

/* The id of run and socket without --id, as the seed's loopix-client. */
#define NYMD_DEFAULT_ID	"Client"

/* nymd init */
int	init_main(const struct nymd_options *);
/* nymd run / nymd socket: supervise the three roles until stopped. */
int	master_main(const struct nymd_options *);
/* The root when neither --home nor NYMD_HOME is given. */
int	nymd_default_root(char *out, size_t len);

/* The unix socket at path (relative to master's working directory, or
 * absolute), with permission bits mode, listening (listen.c): its fd, or
 * -1 with the reason in err. */
int	master_listen_unix(const char *path, unsigned mode, char *err,
	    size_t errlen);
/* The lock file in a client's data directory (master/lock.c). */
#define NYMD_LOCK_FILE	"nymd.lock"
/*
 * Takes the client's lock for the life of this process: the descriptor
 * (close-on-exec), or -1 with why set, "client 'ID' is already running
 * (pid N, COMMAND)" when another daemon holds it.
 */
int	master_lock(const char *data_dir, const char *id, const char *command,
	    char *why, size_t whylen);

/* master's seccomp allow-list (master/sandbox.c), which the children
 * inherit under their own; 0 or -1. */
int	master_sandbox(void);

#endif
