/*
 * master: reads the configuration, starts keyd, netd and rpcd by
 * re-executing itself, wires their channels, and supervises them: a child
 * that dies is restarted with back-off (and its peers get new channels),
 * too many crashes in a window stop the daemon, SIGTERM/SIGINT stop every
 * process, SIGHUP reloads the configuration. master holds no key and opens
 * no network connection.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/b64.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/pem.h"
#include "common/proc.h"
#include "common/sandbox.h"
#include "master/master.h"
#include "master/notify.h"

#define MASTER_STOP_GRACE_MS		800
#define MASTER_STARTUP_TIMEOUT_S	15
#define MASTER_BACKOFF_MIN_MS		100
#define MASTER_BACKOFF_MAX_MS		10000
#define MASTER_MAX_CRASH_HISTORY	64

extern char **environ;

struct child {
	Nymipc__Role	 role;
	pid_t		 pid;
	struct ipc_chan	*chan;
	int		 ready;
	int		 ever_ready;
	struct event	*restart_timer;
	time_t		 crashes[MASTER_MAX_CRASH_HISTORY];
	size_t		 n_crashes;
	char		 fatal_text[512];
};

static struct master {
	const struct nymd_options *o;
	struct nymd_config	 cfg;
	char			 root[PATH_MAX];
	char			 home[PATH_MAX];
	char			 conffile[PATH_MAX];
	char			 priv_path[PATH_MAX];
	char			 pub_path[PATH_MAX];
	char			 socket_path[PATH_MAX];
	char			 data_dir[PATH_MAX];
	uint8_t			 pubkey[32];
	int			 pubkey_printed;
	struct event_base	*base;
	struct child		 children[PROC_NROLES];
	struct event		*signals[4];
	struct event		*stop_timer;
	struct event		*startup_timer;
	int			 running;	/* every child has been ready */
	int			 stopping;
	int			 exit_status;
	int			 privileged;
	uid_t			 uid;
	gid_t			 gid;
	int			 log_fd;	/* passed to children, or -1 */
	int			 listen_fd;	/* the unix socket, for rpcd; or -1 */
	int			 key_fd;	/* the private key file, for keyd */
	int			 lock_fd;	/* the client's lock, held until exit */
	int			 journal;
	/* Children never get a terminal: what they write to fds 1 and 2,
	 * where master's are a terminal, comes through this pipe. */
	int			 relay[2];
	struct event		*relay_ev;
} m;

static const Nymipc__Role child_roles[] = {
	NYMIPC__ROLE__ROLE_KEYD, NYMIPC__ROLE__ROLE_NETD, NYMIPC__ROLE__ROLE_RPCD,
};
#define N_CHILD_ROLES (sizeof(child_roles) / sizeof(child_roles[0]))

static void master_stop(int status);
static int master_start_child(struct child *);

/* Errors before the daemon runs go to the terminal as well as the log. */
static void
master_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
master_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", m.o->prog, msg);
	if (log_fd() != STDERR_FILENO)
		log_warnx("%s", msg);
}

static void
master_child_config(Nymipc__Role role, Nymipc__ChildConfig *cc)
{
	const struct nymd_config *cfg = &m.cfg;

	nymipc__child_config__init(cc);
	cc->id = (char *)cfg->id;
	cc->home = m.home;
	cc->directory_url = (char *)cfg->directory_server_topology;
	cc->priv_key_file = role == NYMIPC__ROLE__ROLE_KEYD ? m.priv_path : "";
	cc->provider_id = (char *)cfg->provider_id;
	cc->log_file = (char *)cfg->log_file;
	cc->log_level = (char *)config_log_level_name(cfg->log_level);
	cc->log_disable = cfg->log_disable;
	cc->journal = m.journal;
	cc->loop_cover_rate = cfg->loop_cover_traffic_rate;
	cc->fetch_rate = cfg->fetch_message_rate;
	cc->send_rate = cfg->message_sending_rate;
	cc->cover_disabled = cfg->rate_compliant_cover_messages_disabled;
	cc->socket_kind = m.o->socket_kind;
	cc->socket_path = m.socket_path;
	cc->socket_mode = cfg->socket_mode;
	cc->listen_address = (char *)cfg->listen_address;
	cc->websocket_allowed_origins = (char *)cfg->websocket_allowed_origins;
	cc->allow_other_users = cfg->allow_other_users;
	cc->directory_proxy = (char *)cfg->directory_proxy;
	cc->port = (uint32_t)m.o->port;
	cc->average_delay_ms = cfg->average_delay_ms;
	cc->topology_refresh_seconds = cfg->topology_refresh_seconds;
	cc->duplicate_window_seconds = cfg->duplicate_window_seconds;
	cc->metrics_listen = (char *)cfg->metrics_listen;
	cc->reply_surb_lifetime_seconds = cfg->reply_surb_lifetime_seconds;
	cc->max_message_bytes = cfg->max_message_bytes;
	cc->message_expiry_seconds = cfg->message_expiry_seconds;
	cc->uid = (uint32_t)m.uid;
	cc->gid = (uint32_t)m.gid;
}

static int
master_send_config(struct child *c, Nymipc__IpcType type)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__ChildConfig cc;

	master_child_config(c->role, &cc);
	msg.type = type;
	msg.body_case = NYMIPC__IPC__BODY_CONFIG;
	msg.config = &cc;
	return ipc_send(c->chan, &msg, -1);
}

/* A new channel between two running children. */
static void
master_connect(struct child *a, struct child *b)
{
	int sv[2];
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	if (a->chan == NULL || b->chan == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair for %s and %s", proc_role_name(a->role),
		    proc_role_name(b->role));
		return;
	}
	msg.type = IPC_PEER;
	msg.body_case = NYMIPC__IPC__BODY_PEER;
	msg.peer = b->role;
	if (ipc_send(a->chan, &msg, sv[0]) == -1)
		close(sv[0]);
	msg.peer = a->role;
	if (ipc_send(b->chan, &msg, sv[1]) == -1)
		close(sv[1]);
}

static void
master_connect_peers(struct child *c)
{
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *o = &m.children[child_roles[i]];
		if (o != c)
			master_connect(c, o);
	}
}

static void
master_print_pubkey(const uint8_t *pub, size_t len)
{
	char id[B64_KEY_CHARS + 1];

	if (len != sizeof(m.pubkey))
		return;
	if (memcmp(pub, m.pubkey, sizeof(m.pubkey)) != 0) {
		master_error("%s does not match the private key in %s", m.pub_path, m.priv_path);
		master_stop(NYMD_EXIT_CONFIG);
		return;
	}
	if (m.pubkey_printed)
		return;
	b64_encode(id, pub, len, B64_URLSAFE);
	/* The seed's line, in yellow, then a blank line; plain for a
	 * script reading it from a pipe or a file. */
	if (isatty(STDOUT_FILENO))
		printf("\033[33mOur Public Key is: %s\033[0m\n\n", id);
	else
		printf("Our Public Key is: %s\n\n", id);
	fflush(stdout);
	m.pubkey_printed = 1;
}

static void
on_child_ready(struct ipc_chan *chan, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct child *c = arg;

	c->ready = 1;
	c->ever_ready = 1;
	c->fatal_text[0] = '\0';
	log_info("%s is ready (pid %ld)", proc_role_name(c->role), (long)c->pid);
	if (c->role == ROLE_KEYD)
		master_print_pubkey(msg->ready->pubkey.data, msg->ready->pubkey.len);
	if (m.running || m.stopping)
		return;
	for (size_t i = 0; i < N_CHILD_ROLES; i++)
		if (!m.children[child_roles[i]].ready)
			return;
	m.running = 1;
	evtimer_del(m.startup_timer);
	notify_state("READY=1\nSTATUS=running");
	log_info("nymd is running for client %s", m.cfg.id);
}

static void
on_child_fatal(struct ipc_chan *chan, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct child *c = arg;

	snprintf(c->fatal_text, sizeof(c->fatal_text), "%s", msg->text);
}

static void
on_child_chan_closed(struct ipc_chan *chan, enum ipc_close_reason reason,
    const char *why, void *arg)
{
	struct child *c = arg;

	/* A child that talks nonsense to master is not trusted to live. */
	if (reason == IPC_CLOSED_PROTOCOL && c->pid > 0) {
		log_warnx("protocol error from %s: %s; killing it", proc_role_name(c->role), why);
		kill(c->pid, SIGKILL);
	}
	c->chan = NULL;
	c->ready = 0;
	ipc_chan_free(chan);
}

static void master_broadcast_config(void);

/* netd chose a provider at random (none was configured): record it in
 * config.toml as the seed does, and tell every child. */
static void
on_provider_chosen(struct ipc_chan *chan, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct child *c = arg;

	if (!config_provider_id_valid(msg->text)) {
		log_warnx("%s sent an invalid provider choice; killing it",
		    proc_role_name(c->role));
		kill(c->pid, SIGKILL);
		return;
	}
	if (strcmp(m.cfg.provider_id, msg->text) == 0)
		return;
	if (m.cfg.provider_id[0] != '\0') {
		log_warnx("netd chose provider %s but %s is configured; ignored",
		    msg->text, m.cfg.provider_id);
		return;
	}
	if (config_set_provider(proc_home_path(m.home, m.conffile), msg->text) != CONFIG_OK)
		log_warn("cannot record provider %s in %s", msg->text, m.conffile);
	else
		log_info("provider %s recorded in %s", msg->text, m.conffile);
	snprintf(m.cfg.provider_id, sizeof(m.cfg.provider_id), "%s", msg->text);
	master_broadcast_config();
}

/* What each child may tell master: only netd chooses a provider. */
static const struct ipc_dispatch child_dispatch = {
	.handlers = {
		[IPC_READY] = on_child_ready,
		[IPC_FATAL] = on_child_fatal,
	},
	.closed = on_child_chan_closed,
};

static const struct ipc_dispatch netd_dispatch = {
	.handlers = {
		[IPC_READY] = on_child_ready,
		[IPC_FATAL] = on_child_fatal,
		[IPC_PROVIDER_CHOSEN] = on_provider_chosen,
	},
	.closed = on_child_chan_closed,
};

/*
 * In the child: its own session, without the controlling terminal, and no
 * terminal on fds 0-2, so that a compromised child cannot type into the
 * user's shell (TIOCSTI) or reconfigure the terminal. fd 0 is /dev/null;
 * fds 1 and 2 stay what they are unless they are a terminal, which the
 * relay pipe replaces. Returns -1 on failure.
 */
static int
master_detach_child(int relay)
{
	int null = open("/dev/null", O_RDWR);
	int tty1 = isatty(STDOUT_FILENO), tty2 = isatty(STDERR_FILENO);

	if (null == -1 || setsid() == -1)
		return -1;
	if (dup2(null, STDIN_FILENO) == -1 ||
	    (tty1 && dup2(relay != -1 ? relay : null, STDOUT_FILENO) == -1) ||
	    (tty2 && dup2(relay != -1 ? relay : null, STDERR_FILENO) == -1))
		return -1;
	if (null > STDERR_FILENO)
		close(null);
	return 0;
}

static void
master_exec_child(struct child *c, int chan_fd)
{
	char title[128];
	char *argv[2];
	sigset_t none;

	/* fd 3: the channel to master; fd 4: the log file, if any; fd 5:
	 * keyd's key file or rpcd's unix socket, if any. Move them and the
	 * relay out of the way first: any may sit on 0 to 5. */
	int own = c->role == NYMIPC__ROLE__ROLE_KEYD ? m.key_fd :
	    c->role == NYMIPC__ROLE__ROLE_RPCD ? m.listen_fd : -1;
	int chan = fcntl(chan_fd, F_DUPFD, 10);
	int logf = m.log_fd != -1 ? fcntl(m.log_fd, F_DUPFD, 10) : -1;
	int rolef = own != -1 ? fcntl(own, F_DUPFD, 10) : -1;
	int relay = m.relay[1] != -1 ? fcntl(m.relay[1], F_DUPFD, 10) : -1;
	if (chan == -1 || (m.log_fd != -1 && logf == -1) || (own != -1 && rolef == -1) ||
	    (m.relay[1] != -1 && relay == -1) || master_detach_child(relay) == -1 ||
	    dup2(chan, PROC_MASTER_FD) == -1 ||
	    (logf != -1 && dup2(logf, PROC_LOG_FD) == -1) ||
	    (rolef != -1 && dup2(rolef, PROC_ROLE_FD) == -1))
		_exit(127);
	if (logf == -1)
		close(PROC_LOG_FD);
	closefrom(rolef != -1 ? PROC_ROLE_FD + 1 : PROC_ROLE_FD);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	snprintf(title, sizeof(title), PROC_TITLE_PREFIX "%s [%s]",
	    proc_role_name(c->role), m.cfg.id);
	argv[0] = title;
	argv[1] = NULL;
	/* The role, said explicitly: the title is for ps, not for us. */
	if (setenv("NYMD_CHILD", proc_role_name(c->role), 1) == -1)
		_exit(127);
	execve("/proc/self/exe", argv, environ);
	dprintf(STDERR_FILENO, "nymd: cannot execute %s: %s\n", title, strerror(errno));
	_exit(127);
}

/* Copies what the children wrote to the terminal that master has. */
static void
on_relay(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096];
	ssize_t n;
	int out = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDERR_FILENO;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) == -1)
			break;
	}
}

/* The relay, when master's fd 1 or 2 is a terminal. */
static int
master_setup_relay(void)
{
	m.relay[0] = m.relay[1] = -1;
	if (!isatty(STDOUT_FILENO) && !isatty(STDERR_FILENO))
		return 0;
	/* Non-blocking for master only: a child waits rather than lose a
	 * line when the pipe is full. */
	if (pipe2(m.relay, O_CLOEXEC) == -1 ||
	    fcntl(m.relay[0], F_SETFL, O_NONBLOCK) == -1)
		return -1;
	m.relay_ev = event_new(m.base, m.relay[0], EV_READ | EV_PERSIST, on_relay, NULL);
	if (m.relay_ev == NULL || event_add(m.relay_ev, NULL) == -1)
		return -1;
	return 0;
}

static int
master_start_child(struct child *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	pid_t pid = fork();
	if (pid == -1) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		master_exec_child(c, sv[1]);
	}
	close(sv[1]);
	c->pid = pid;
	c->ready = 0;
	c->fatal_text[0] = '\0';
	c->chan = ipc_chan_new(m.base, sv[0], proc_role_name(c->role),
	    c->role == ROLE_NETD ? &netd_dispatch : &child_dispatch, c);
	if (c->chan == NULL) {
		close(sv[0]);
		kill(pid, SIGKILL);
		return -1;
	}
	if (master_send_config(c, NYMIPC__IPC_TYPE__IPC_CONFIG) == -1) {
		log_warn("cannot configure %s", proc_role_name(c->role));
		kill(pid, SIGKILL);
		return -1;
	}
	master_connect_peers(c);
	log_debug("started %s (pid %ld)", proc_role_name(c->role), (long)pid);
	return 0;
}

static void
on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	if (m.stopping)
		return;
	if (master_start_child(c) == -1)
		master_stop(1);
}

static void
master_describe_exit(int status, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
}

/* Crashes within the window; older ones are forgotten. */
static size_t
master_record_crash(struct child *c, time_t now)
{
	size_t keep = 0;

	for (size_t i = 0; i < c->n_crashes; i++)
		if (now - c->crashes[i] < (time_t)m.cfg.restart_window_seconds)
			c->crashes[keep++] = c->crashes[i];
	if (keep < MASTER_MAX_CRASH_HISTORY)
		c->crashes[keep++] = now;
	c->n_crashes = keep;
	return keep;
}

static void
master_child_exited(struct child *c, int status)
{
	char how[128];

	master_describe_exit(status, how, sizeof(how));
	c->pid = 0;
	c->ready = 0;
	if (c->chan != NULL) {
		ipc_chan_free(c->chan);
		c->chan = NULL;
	}
	if (m.stopping) {
		log_debug("%s %s", proc_role_name(c->role), how);
		return;
	}
	if (!c->ever_ready) {
		/* Never half-started: a role that cannot start stops nymd. */
		master_error("%s failed to start: %s", proc_role_name(c->role),
		    c->fatal_text[0] ? c->fatal_text : how);
		master_stop(NYMD_EXIT_CONFIG);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == LOG_EXIT_STORAGE) {
		/* Its storage failed: a restart would fail the same way. */
		master_error("%s stopped because its storage failed (%s); not "
		    "restarting it: fix the storage, then start nymd again",
		    proc_role_name(c->role), c->fatal_text[0] ? c->fatal_text : how);
		master_stop(1);
		return;
	}
	size_t n = master_record_crash(c, time(NULL));
	if (n > m.cfg.max_restarts) {
		master_error("%s crashed %zu times within %u s (last: %s); stopping",
		    proc_role_name(c->role), n, m.cfg.restart_window_seconds,
		    c->fatal_text[0] ? c->fatal_text : how);
		master_stop(1);
		return;
	}
	unsigned ms = MASTER_BACKOFF_MIN_MS;
	for (size_t i = 1; i < n && ms < MASTER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > MASTER_BACKOFF_MAX_MS)
		ms = MASTER_BACKOFF_MAX_MS;
	log_warnx("%s %s%s%s; restarting it in %u ms", proc_role_name(c->role), how,
	    c->fatal_text[0] ? ": " : "", c->fatal_text, ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->restart_timer, &tv);
}

static int
master_children_alive(void)
{
	int n = 0;

	for (size_t i = 0; i < N_CHILD_ROLES; i++)
		n += m.children[child_roles[i]].pid > 0;
	return n;
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < N_CHILD_ROLES; i++) {
			struct child *c = &m.children[child_roles[i]];
			if (c->pid == pid)
				master_child_exited(c, status);
		}
	}
	if (m.stopping && master_children_alive() == 0)
		event_base_loopexit(m.base, NULL);
}

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	/* Grace is over: whatever is still there is killed. */
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *c = &m.children[child_roles[i]];
		if (c->pid > 0) {
			log_warnx("%s did not stop in time; killing it", proc_role_name(c->role));
			kill(c->pid, SIGKILL);
		}
	}
}

static void
master_stop(int status)
{
	if (m.stopping)
		return;
	m.stopping = 1;
	m.exit_status = status;
	notify_state("STOPPING=1");
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *c = &m.children[child_roles[i]];
		evtimer_del(c->restart_timer);
		if (c->chan == NULL || ipc_send_type(c->chan, NYMIPC__IPC_TYPE__IPC_SHUTDOWN, 0) == -1) {
			if (c->pid > 0)
				kill(c->pid, SIGTERM);
		}
	}
	if (master_children_alive() == 0) {
		event_base_loopexit(m.base, NULL);
		return;
	}
	struct timeval tv = { 0, MASTER_STOP_GRACE_MS * 1000 };
	evtimer_add(m.stop_timer, &tv);
}

static void
on_startup_timer(evutil_socket_t fd, short what, void *arg)
{
	master_error("the daemon did not become ready within %d s", MASTER_STARTUP_TIMEOUT_S);
	master_stop(1);
}

static int master_load_config(struct nymd_config *cfg);

static void
master_reload(void)
{
	struct nymd_config cfg;

	notify_state("RELOADING=1");
	if (master_load_config(&cfg) == -1) {
		log_warnx("reload failed; keeping the running configuration");
		notify_state("READY=1");
		return;
	}
	/* Identity and key files stay what they were at start. */
	if (strcmp(cfg.id, m.cfg.id) != 0 || strcmp(cfg.priv_key_file, m.cfg.priv_key_file) != 0) {
		log_warnx("reload: id and key files cannot change while running; restart nymd");
		notify_state("READY=1");
		return;
	}
	m.cfg = cfg;
	if (!m.journal && m.cfg.log_disable)
		log_set_level(LOG_LEVEL_OFF);
	else
		log_set_level((enum log_level)m.cfg.log_level);
	master_broadcast_config();
	log_info("configuration reloaded from %s", m.conffile);
	notify_state("READY=1");
}

static void
master_broadcast_config(void)
{
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *c = &m.children[child_roles[i]];
		if (c->chan != NULL && master_send_config(c, NYMIPC__IPC_TYPE__IPC_RELOAD) == -1)
			log_warn("cannot send the new configuration to %s", proc_role_name(c->role));
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGHUP:
		master_reload();
		break;
	case SIGTERM:
	case SIGINT:
		log_info("received %s; stopping", strsignal((int)sig));
		master_stop(0);
		break;
	}
}

static int
master_load_config(struct nymd_config *cfg)
{
	char err[1024];

	if (config_load(proc_home_path(m.home, m.conffile), m.root, cfg, err,
	    sizeof(err)) != CONFIG_OK) {
		master_error("%s", err);
		return -1;
	}
	return 0;
}

static int
master_resolve_paths(void)
{
	if (config_client_home(&m.cfg, m.home, sizeof(m.home)) == -1 ||
	    config_resolve_path(&m.cfg, m.cfg.priv_key_file, m.priv_path, sizeof(m.priv_path)) == -1 ||
	    config_resolve_path(&m.cfg, m.cfg.pub_key_file, m.pub_path, sizeof(m.pub_path)) == -1) {
		master_error("%s: a path is too long", m.conffile);
		return -1;
	}
	if (snprintf(m.data_dir, sizeof(m.data_dir), "%s/data", m.home) >= (int)sizeof(m.data_dir)) {
		master_error("%s: path too long", m.home);
		return -1;
	}
	if (m.o->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_UNIX) {
		const char *p = m.o->path ? m.o->path : m.cfg.socket_path;
		char cwd[PATH_MAX];
		int rc;

		/* rpcd binds from its data directory: --path is made absolute
		 * here, against the directory nymd was started in. */
		if (m.o->path != NULL && p[0] != '/')
			rc = getcwd(cwd, sizeof(cwd)) == NULL ? -1 :
			    snprintf(m.socket_path, sizeof(m.socket_path), "%s/%s", cwd, p);
		else if (m.o->path != NULL)
			rc = snprintf(m.socket_path, sizeof(m.socket_path), "%s", p);
		else
			rc = config_resolve_path(&m.cfg, p, m.socket_path, sizeof(m.socket_path));
		if (rc < 0 || strlen(m.socket_path) >= CONFIG_UNIX_PATH_BYTES) {
			master_error("socket path %s is too long for a unix socket", p);
			return -1;
		}
	}
	return 0;
}

/* What can be checked without holding the private key: its file's mode
 * and the public key. keyd reports anything else wrong with the key. */
static int
master_check_keys(void)
{
	struct stat st;
	int rc;

	/* Opened now, while master may (started as root, the file stays
	 * root's), and handed to every keyd it starts. */
	m.key_fd = open(m.priv_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (m.key_fd == -1 || fstat(m.key_fd, &st) == -1) {
		master_error("%s: %s", m.priv_path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		master_error("%s: %s", m.priv_path, pem_strerror(PEM_ERR_MODE));
		return -1;
	}
	rc = pem_read_key(m.pub_path, PEM_TYPE_PUBLIC, 0, m.pubkey);
	if (rc != PEM_OK) {
		master_error("%s: %s", m.pub_path, pem_strerror(rc));
		return -1;
	}
	return 0;
}

static int
master_make_data_dir(void)
{
	if (fs_mkdirs(m.data_dir, 0700) == -1) {
		master_error("%s: %s", m.data_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* One daemon per client: a second run or socket stops here, before it
 * opens the log, binds a socket or starts a child. */
static int
master_take_lock(void)
{
	char why[512], command[64];

	snprintf(command, sizeof(command), "%s %s", m.o->prog, m.o->command);
	m.lock_fd = master_lock(m.data_dir, m.cfg.id, command, why, sizeof(why));
	if (m.lock_fd == -1) {
		master_error("%s", why);
		return -1;
	}
	return 0;
}

static int
master_open_log(void)
{
	const char *stream = getenv("JOURNAL_STREAM");

	char seed_default[sizeof(m.cfg.log_file)];

	m.log_fd = -1;
	log_init("master", m.cfg.log_disable ? LOG_LEVEL_OFF : (enum log_level)m.cfg.log_level);
	/* Under systemd the journal takes the log, unless the configuration
	 * names a file of its own (not the seed's default in /tmp). */
	snprintf(seed_default, sizeof(seed_default), "/tmp/loopix_%s.log", m.cfg.id);
	if (stream != NULL && stream[0] != '\0' && (m.cfg.log_file[0] == '\0' ||
	    strcmp(m.cfg.log_file, seed_default) == 0)) {
		m.journal = 1;
		m.cfg.log_file[0] = '\0';
		return log_open(LOG_DEST_JOURNAL, NULL);
	}
	if (m.cfg.log_file[0] == '\0')
		return log_open(LOG_DEST_STDOUT, NULL);
	if (m.cfg.log_disable)
		return 0;
	if (log_open(LOG_DEST_FILE, m.cfg.log_file) == -1) {
		master_error("cannot open log file %s: %s", m.cfg.log_file, strerror(errno));
		return -1;
	}
	m.log_fd = log_fd();
	return 0;
}

/* 1 if id is mapped in this process's user namespace (map is
 * /proc/self/uid_map or gid_map); 1 too if the map cannot be read. */
static int
master_id_mapped(const char *map, unsigned long id)
{
	unsigned long inside, outside, count;
	FILE *f = fopen(map, "re");
	int mapped = 0;

	if (f == NULL)
		return 1;
	while (!mapped && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		mapped = id >= inside && id - inside < count;
	fclose(f);
	return mapped;
}

/*
 * Root in a user namespace that does not map the service user (unshare
 * -U -r, rootless containers) cannot become it: nymd then gives up every
 * capability and runs as an unprivileged start does, confined by
 * Landlock and seccomp, without the switch of user.
 */
static int
master_unmapped_user(const struct passwd *pw)
{
	if (master_id_mapped("/proc/self/uid_map", pw->pw_uid) &&
	    master_id_mapped("/proc/self/gid_map", pw->pw_gid))
		return 0;
	log_warnx("the user %s (uid %lu) is not mapped in this user namespace: "
	    "running as uid %lu without any capability, confined as an unprivileged "
	    "start is (map it, or set [nymd] user to a mapped user, to switch to it)",
	    m.cfg.user, (unsigned long)pw->pw_uid, (unsigned long)getuid());
	if (log_fd() != STDERR_FILENO)
		fprintf(stderr, "%s: the user %s is not mapped in this user namespace: "
		    "running without capabilities as an unprivileged start does\n",
		    m.o->prog, m.cfg.user);
	if (sandbox_shed_capabilities() == -1) {
		master_error("cannot give up the capabilities: %s", strerror(errno));
		return -1;
	}
	m.privileged = 0;
	return 1;
}

/* nftw's callback: the entry becomes the run-as user's. */
static uid_t chown_uid;
static gid_t chown_gid;

static struct stat key_st;

static int
master_chown_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	/* The private key stays root's: keyd reads the file master opened. */
	if (st->st_dev == key_st.st_dev && st->st_ino == key_st.st_ino)
		return 0;
	if (st->st_uid == chown_uid && st->st_gid == chown_gid)
		return 0;
	if (lchown(path, chown_uid, chown_gid) == -1) {
		master_error("%s: cannot hand it to the user nymd runs as: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The user to run as: the caller, or, started as root, [nymd] user. */
static int
master_find_user(void)
{
	char why[512];
	int rc;

	m.uid = getuid();
	m.gid = getgid();
	m.privileged = geteuid() == 0;
	if (!m.privileged)
		return 0;
	struct passwd *pw = getpwnam(m.cfg.user);
	if (pw == NULL) {
		master_error("started as root, but the user '%s' to run as does not exist: "
		    "create it (useradd --system %s) or set [nymd] user in %s",
		    m.cfg.user, m.cfg.user, m.conffile);
		return -1;
	}
	if (pw->pw_uid == 0) {
		master_error("[nymd] user must not be root");
		return -1;
	}
	if ((rc = master_unmapped_user(pw)) != 0)
		return rc == 1 ? 0 : -1;
	if (sandbox_master_check(why, sizeof(why)) == -1) {
		master_error("%s", why);
		return -1;
	}
	m.uid = pw->pw_uid;
	m.gid = pw->pw_gid;
	return 0;
}

/*
 * Started as root, nymd hands the client's home (configuration, public
 * key, store) to the user it runs as, but not the private key, which
 * only the file master opened reaches (keyd's); then it becomes that user
 * with no capability at all, before any child exists: the children, and
 * those master restarts after a crash, are confined exactly as in a start
 * by that user (docs/threat-model.md). Master and children work in the
 * home (proc_home_path()), so directories above it may stay closed to
 * that user. Started with capabilities but not as root, nymd gives them
 * up.
 */
static int
master_privileges(void)
{
	if (!m.privileged) {
		if (sandbox_drop_privileges(m.uid, m.gid) == -1) {
			master_error("cannot give up the capabilities nymd was "
			    "started with: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	chown_uid = m.uid;
	chown_gid = m.gid;
	if (fstat(m.key_fd, &key_st) == -1) {
		master_error("%s: %s", m.priv_path, strerror(errno));
		return -1;
	}
	if (nftw(m.home, master_chown_entry, 16, FTW_PHYS) != 0)
		return -1;
	if (sandbox_drop_privileges(m.uid, m.gid) == -1) {
		master_error("cannot switch to user %s: %s", m.cfg.user, strerror(errno));
		return -1;
	}
	log_info("running as user %s, without capabilities", m.cfg.user);
	return 0;
}

/* The unix socket, bound while master may still reach its directory. */
static int
master_listen(void)
{
	const char *path;
	char err[256];

	if (m.o->socket_kind != NYMIPC__SOCKET_KIND__SOCKET_UNIX)
		return 0;
	path = proc_home_path(m.home, m.socket_path);
	m.listen_fd = master_listen_unix(path, m.cfg.socket_mode, err, sizeof(err));
	if (m.listen_fd == -1) {
		master_error("%s: %s", m.socket_path, err);
		return -1;
	}
	/* Started as root: the run-as user's, as the socket rpcd once bound
	 * (its group is the one socket_mode's group bits let in). */
	if (m.privileged && lchown(path, m.uid, m.gid) == -1) {
		master_error("%s: %s", m.socket_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Where master and the children work: proc_home_path(). */
static int
master_enter_home(void)
{
	if (chdir(m.home) == -1) {
		master_error("%s: %s", m.home, strerror(errno));
		return -1;
	}
	return 0;
}

static int
master_setup_events(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

	m.base = event_base_new();
	if (m.base == NULL)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		m.signals[i] = evsignal_new(m.base, sigs[i],
		    sigs[i] == SIGCHLD ? on_sigchld : on_signal, NULL);
		if (m.signals[i] == NULL || evsignal_add(m.signals[i], NULL) == -1)
			return -1;
	}
	m.stop_timer = evtimer_new(m.base, on_stop_timer, NULL);
	m.startup_timer = evtimer_new(m.base, on_startup_timer, NULL);
	if (m.stop_timer == NULL || m.startup_timer == NULL)
		return -1;
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *c = &m.children[child_roles[i]];
		c->role = child_roles[i];
		c->restart_timer = evtimer_new(m.base, on_restart_timer, c);
		if (c->restart_timer == NULL)
			return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return master_setup_relay();
}

static void
master_cleanup(void)
{
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		struct child *c = &m.children[child_roles[i]];
		ipc_chan_free(c->chan);
		if (c->restart_timer != NULL)
			event_free(c->restart_timer);
	}
	for (size_t i = 0; i < 4; i++)
		if (m.signals[i] != NULL)
			event_free(m.signals[i]);
	if (m.stop_timer != NULL)
		event_free(m.stop_timer);
	if (m.startup_timer != NULL)
		event_free(m.startup_timer);
	if (m.relay_ev != NULL) {
		on_relay(m.relay[0], EV_READ, NULL);	/* the last words */
		event_free(m.relay_ev);
	}
	for (size_t i = 0; i < 2; i++)
		if (m.relay[i] != -1)
			close(m.relay[i]);
	if (m.base != NULL)
		event_base_free(m.base);
	if (m.o->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_UNIX && m.socket_path[0] != '\0') {
		struct stat st;
		const char *path = proc_home_path(m.home, m.socket_path);
		/* Started as root, with a socket outside the home, the user
		 * nymd runs as may not be allowed to remove it. */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) == -1)
			log_warn("cannot remove the socket %s; the next start "
			    "replaces it", m.socket_path);
	}
}

/*
 * nymd check-config, and nymd reload (systemd's ExecReload=): what start
 * would check of the configuration, without starting; reload then signals
 * the running master, which reloads. A broken file is never signalled, so
 * `systemctl reload` fails with the error and the running configuration
 * stays.
 */
static int
master_check_only(void)
{
	if (master_load_config(&m.cfg) == -1 || master_resolve_paths() == -1 ||
	    master_check_keys() == -1) {
		if (m.o->reload_pid > 0)
			fprintf(stderr, "%s: not reloading: the running "
			    "configuration stays\n", m.o->prog);
		return NYMD_EXIT_CONFIG;
	}
	if (m.o->reload_pid > 0) {
		if (kill((pid_t)m.o->reload_pid, SIGHUP) == -1) {
			master_error("cannot signal nymd (pid %ld) to reload: %s",
			    m.o->reload_pid, strerror(errno));
			return NYMD_EXIT_CONFIG;
		}
		printf("%s: %s is valid; nymd (pid %ld) reloads it\n", m.o->prog,
		    m.conffile, m.o->reload_pid);
		return 0;
	}
	printf("%s: %s is valid\n", m.o->prog, m.conffile);
	return 0;
}

int
master_main(const struct nymd_options *o)
{
	memset(&m, 0, sizeof(m));
	m.o = o;
	m.log_fd = -1;
	m.listen_fd = -1;
	m.key_fd = -1;
	m.lock_fd = -1;
	m.relay[0] = m.relay[1] = -1;
	if ((o->root != NULL ? snprintf(m.root, sizeof(m.root), "%s", o->root) < 0 :
	    nymd_default_root(m.root, sizeof(m.root)) == -1) ||
	    (o->custom_cfg == NULL &&
	    config_file_path(m.root, o->id, m.conffile, sizeof(m.conffile)) == -1)) {
		master_error("cannot determine the configuration file of client '%s'", o->id);
		return NYMD_EXIT_CONFIG;
	}
	if (o->custom_cfg != NULL) {
		/* Absolute: it is reread on SIGHUP and written when a
		 * provider is chosen. The config names the client. */
		if (realpath(o->custom_cfg, m.conffile) == NULL) {
			master_error("The configuration file at %s does not seem to "
			    "exist: %s", o->custom_cfg, strerror(errno));
			return NYMD_EXIT_CONFIG;
		}
	} else if (access(m.conffile, F_OK) == -1) {
		master_error("%s: %s (run '%s init --id %s' first)", m.conffile,
		    strerror(errno), o->prog, o->id);
		return NYMD_EXIT_CONFIG;
	}
	if (o->check_only)
		return master_check_only();
	if (master_load_config(&m.cfg) == -1 || master_resolve_paths() == -1 ||
	    master_check_keys() == -1 || master_make_data_dir() == -1 ||
	    master_take_lock() == -1 || master_open_log() == -1 ||
	    master_enter_home() == -1 || master_find_user() == -1 ||
	    master_listen() == -1 || master_privileges() == -1)
		return NYMD_EXIT_CONFIG;
	(void)notify_init();	/* without it nymd runs; systemd times out */
	if (master_setup_events() == -1) {
		master_error("cannot set up the event loop");
		master_cleanup();
		return 1;
	}
	/* Before the first child: each inherits it under its own. */
	if (master_sandbox() == -1) {
		master_error("cannot install master's seccomp filter");
		master_cleanup();
		return 1;
	}
	log_info("starting nymd %s for client %s", PACKAGE_VERSION, m.cfg.id);
	for (size_t i = 0; i < N_CHILD_ROLES; i++) {
		if (master_start_child(&m.children[child_roles[i]]) == -1) {
			master_error("cannot start %s", proc_role_name(child_roles[i]));
			master_stop(1);
			break;
		}
	}
	struct timeval tv = { MASTER_STARTUP_TIMEOUT_S, 0 };
	evtimer_add(m.startup_timer, &tv);
	event_base_dispatch(m.base);
	/* Reap what the loop did not see go (e.g. after a kill at the end). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	log_info("stopped");
	master_cleanup();
	return m.exit_status;
}
