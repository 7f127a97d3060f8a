#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"

static struct proc the_proc;

const char *
proc_role_name(Nymipc__Role role)
{
	switch (role) {
	case NYMIPC__ROLE__ROLE_MASTER:	return "master";
	case NYMIPC__ROLE__ROLE_KEYD:	return "keyd";
	case NYMIPC__ROLE__ROLE_NETD:	return "netd";
	case NYMIPC__ROLE__ROLE_RPCD:	return "rpcd";
	default:			return "unknown";
	}
}

int
proc_role_parse(const char *name, Nymipc__Role *out)
{
	for (int r = 0; r < PROC_NROLES; r++) {
		if (strcmp(name, proc_role_name((Nymipc__Role)r)) == 0) {
			*out = (Nymipc__Role)r;
			return 0;
		}
	}
	return -1;
}

struct ipc_chan *
proc_peer(struct proc *p, Nymipc__Role role)
{
	if ((int)role < 0 || role >= PROC_NROLES)
		return NULL;
	return p->peers[role];
}

Nymipc__Role
proc_peer_role(struct proc *p, struct ipc_chan *c)
{
	for (int r = 0; r < PROC_NROLES; r++)
		if (p->peers[r] == c)
			return (Nymipc__Role)r;
	return NYMIPC__ROLE__ROLE_MASTER;
}

int
proc_apply_logging(const Nymipc__ChildConfig *cfg, const char *role_name)
{
	enum log_level level = LOG_LEVEL_INFO;

	log_set_role(role_name);
	if (cfg->log_disable) {
		log_set_level(LOG_LEVEL_OFF);
		return 0;
	}
	if (log_level_parse(cfg->log_level, &level) == -1)
		level = LOG_LEVEL_INFO;
	log_set_level(level);
	if (cfg->journal)
		return log_open(LOG_DEST_JOURNAL, NULL);
	if (cfg->log_file[0] == '\0')
		return log_open(LOG_DEST_STDOUT, NULL);
	/* master opened the file (it may not be ours to open) */
	return log_use_fd(PROC_LOG_FD);
}

/* fatal() in a child: tell master why before the exit it then observes. */
static void
proc_fatal_hook(const char *msg)
{
	Nymipc__Ipc m = NYMIPC__IPC__INIT;

	if (the_proc.master == NULL)
		return;
	m.type = IPC_FATAL;
	m.body_case = NYMIPC__IPC__BODY_TEXT;
	m.text = (char *)msg;
	if (ipc_send(the_proc.master, &m, -1) == 0)
		ipc_flush(the_proc.master);
}

const char *
proc_home_path(const char *home, const char *path)
{
	size_t n = strlen(home);

	while (n > 1 && home[n - 1] == '/')
		n--;
	if (n > 0 && strncmp(path, home, n) == 0 && path[n] == '/' &&
	    path[n + 1] != '\0')
		return path + n + 1;
	return path;
}

static Nymipc__ChildConfig *
proc_copy_config(const Nymipc__ChildConfig *cfg)
{
	size_t len = nymipc__child_config__get_packed_size(cfg);
	uint8_t *buf = malloc(len ? len : 1);

	if (buf == NULL)
		return NULL;
	nymipc__child_config__pack(cfg, buf);
	Nymipc__ChildConfig *copy = nymipc__child_config__unpack(NULL, len, buf);
	free(buf);
	return copy;
}

void
proc_peer_closed(struct ipc_chan *c, enum ipc_close_reason reason,
    const char *why, void *arg)
{
	struct proc *p = arg;
	Nymipc__Role r = proc_peer_role(p, c);

	/* A peer that sends garbage may be compromised: never trust it
	 * again, and let master restart us with a clean state. */
	if (reason == IPC_CLOSED_PROTOCOL)
		fatalx("protocol error from %s: %s", proc_role_name(r), why);
	/* The peer died; master restarts it and hands us a new channel. */
	log_debug("channel to %s closed: %s", proc_role_name(r), why);
	p->peers[r] = NULL;
	ipc_chan_free(c);
}

static void
on_config(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct proc *p = arg;

	if (p->config != NULL)
		fatalx("master sent a second configuration");
	p->config = proc_copy_config(msg->config);
	if (p->config == NULL)
		fatalx("cannot copy configuration");
	if (proc_apply_logging(p->config, proc_role_name(p->role->role)) == -1)
		fatal("cannot open log %s", p->config->log_file);
	/* One order for every role: set-up, then (in sandbox_confine) the
	 * privilege drop, Landlock and seccomp, then start. */
	if (p->role->configure(p) == -1)
		fatalx("%s set-up failed", proc_role_name(p->role->role));
	if (sandbox_confine(p->role->sandbox, p->config->uid, p->config->gid) == -1)
		fatalx("%s cannot be confined", proc_role_name(p->role->role));
	if (p->role->start != NULL && p->role->start(p) == -1)
		fatalx("%s cannot start", proc_role_name(p->role->role));

	Nymipc__Ipc ready = NYMIPC__IPC__INIT;
	Nymipc__Ready body = NYMIPC__READY__INIT;
	ready.type = IPC_READY;
	ready.body_case = NYMIPC__IPC__BODY_READY;
	ready.ready = &body;
	if (p->role->ready != NULL)
		p->role->ready(p, &body);
	if (ipc_send(p->master, &ready, -1) == -1)
		fatal("cannot report readiness");
	log_debug("ready");
}

static void
on_reload(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct proc *p = arg;

	Nymipc__ChildConfig *cfg = proc_copy_config(msg->config);
	if (cfg == NULL)
		fatalx("cannot copy configuration");
	nymipc__child_config__free_unpacked(p->config, NULL);
	p->config = cfg;
	/* The sandbox is in place: a log file can no longer be opened, so a
	 * changed file or journal setting takes effect on restart. */
	enum log_level level;
	if (cfg->log_disable)
		log_set_level(LOG_LEVEL_OFF);
	else if (log_level_parse(cfg->log_level, &level) == 0)
		log_set_level(level);
	if (p->role->reload != NULL)
		p->role->reload(p);
	log_info("configuration reloaded");
}

static void
on_peer(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct proc *p = arg;
	Nymipc__Role r = msg->peer;

	if (r == p->role->role || p->role->from[r] == NULL) {
		close(fd);
		fatalx("master sent a channel to %s, not a peer", proc_role_name(r));
	}
	if (p->peers[r] != NULL)
		ipc_chan_free(p->peers[r]);
	p->peers[r] = ipc_chan_new(p->base, fd, proc_role_name(r), p->role->from[r], p);
	if (p->peers[r] == NULL) {
		close(fd);
		fatal("cannot set up channel to %s", proc_role_name(r));
	}
	log_debug("channel to %s up", proc_role_name(r));
	if (p->role->peer_up != NULL && p->config != NULL)
		p->role->peer_up(p, r);
}

static void
on_shutdown(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct proc *p = arg;

	p->exit_status = 0;
	event_base_loopexit(p->base, NULL);
}

static void
proc_master_closed(struct ipc_chan *c, enum ipc_close_reason reason,
    const char *why, void *arg)
{
	struct proc *p = arg;

	/* Without master nobody supervises us: leave. */
	p->master = NULL;
	ipc_chan_free(c);
	if (reason == IPC_CLOSED_PROTOCOL)
		fatalx("protocol error from master: %s", why);
	p->exit_status = 1;
	event_base_loopexit(p->base, NULL);
}

static const struct ipc_dispatch master_dispatch = {
	.handlers = {
		[IPC_CONFIG] = on_config,
		[IPC_PEER] = on_peer,
		[IPC_SHUTDOWN] = on_shutdown,
		[IPC_RELOAD] = on_reload,
	},
	.closed = proc_master_closed,
};

void
proc_child_main(const struct proc_role *role)
{
	struct proc *p = &the_proc;
	const char *name = proc_role_name(role->role);
	char title[16];

	memset(p, 0, sizeof(*p));
	p->role = role;
	p->exit_status = 1;
	log_init(name, LOG_LEVEL_INFO);
	log_set_fatal_hook(proc_fatal_hook);
	snprintf(title, sizeof(title), "nymd-%s", name);
	prctl(PR_SET_NAME, title, 0, 0, 0);
	/* Die with master even if it is killed before it can tell us. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* No sibling of the same uid may read our memory (/proc/PID/mem,
	 * ptrace) or dump it: keyd's holds the key. exec() made us dumpable. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		_exit(1);
	if (getppid() == 1)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	/* Terminal signals are for master, which stops us in order. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	p->base = event_base_new();
	if (p->base == NULL)
		fatalx("cannot create event base");
	p->master = ipc_chan_new(p->base, PROC_MASTER_FD, "master", &master_dispatch, p);
	if (p->master == NULL)
		fatalx("fd %d is not a channel to master", PROC_MASTER_FD);
	event_base_dispatch(p->base);

	ipc_log_counts();
	if (p->role->shutdown != NULL)
		p->role->shutdown(p);
	for (int r = 0; r < PROC_NROLES; r++)
		ipc_chan_free(p->peers[r]);
	if (p->master != NULL) {
		ipc_flush(p->master);
		ipc_chan_free(p->master);
	}
	if (p->config != NULL)
		nymipc__child_config__free_unpacked(p->config, NULL);
	event_base_free(p->base);
	log_debug("exiting");
	/* _exit: atexit handlers (LeakSanitizer's among them) need system
	 * calls the sandbox forbids. */
	_exit(p->exit_status);
}
