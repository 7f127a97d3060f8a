/*
 * nym_client_start(): the seed's client.Start(), for a client that runs as
 * its own daemon. Connect to the client's default socket; when nothing
 * listens there, start `nymd run` detached and wait for its socket.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "libnym/private.h"

#define START_POLL_MS		50
#define START_ID_MAX_CHARS	64

/* What the helper process reports on its pipe. */
enum start_status {
	START_READY = 0,
	START_TIMEOUT = 1,
	START_NO_EXEC = 2,	/* nymd could not be executed */
	START_DIED = 3,		/* nymd exited before its socket answered */
	START_NO_FORK = 4,
};

/* nymd's own rule for --id (config_id_valid), so that an id cannot leave
 * ROOT/clients and is refused here rather than by nymd later. */
static int
start_valid_id(const char *id)
{
	return id != NULL && fs_name_portable(id, START_ID_MAX_CHARS, 0);
}

static int
start_root(char *buf, size_t size, const char *home)
{
	const char *env = getenv("NYMD_HOME");
	int n;

	if (home != NULL && home[0] != '\0')
		n = snprintf(buf, size, "%s", home);
	else if (env != NULL && env[0] != '\0')
		n = snprintf(buf, size, "%s", env);
	else {
		const char *h = getenv("HOME");
		if (h == NULL || h[0] != '/') {
			struct passwd *pw = getpwuid(getuid());
			if (pw == NULL || pw->pw_dir == NULL)
				return NYM_ERR_INVALID;
			h = pw->pw_dir;
		}
		n = snprintf(buf, size, "%s/.loopix", h);
	}
	return n > 0 && (size_t)n < size ? 0 : NYM_ERR_INVALID;
}

int
nym_default_socket_path(char *buf, size_t size, const char *id, const char *home)
{
	char root[PATH_MAX];
	struct sockaddr_un sun;
	int n;

	if (buf == NULL || !start_valid_id(id) || start_root(root, sizeof(root), home) != 0)
		return NYM_ERR_INVALID;
	n = snprintf(buf, size, "%s/clients/%s/nymd.sock", root, id);
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(sun.sun_path))
		return NYM_ERR_INVALID;
	return 0;
}

/* nymd: $NYMD_BINARY, else the first executable nymd in $PATH. */
static int
start_find_nymd(char *buf, size_t size)
{
	const char *env = getenv("NYMD_BINARY");
	const char *path = getenv("PATH");

	if (env != NULL && env[0] != '\0') {
		int n = snprintf(buf, size, "%s", env);
		return n > 0 && (size_t)n < size && access(buf, X_OK) == 0 ? 0 : -1;
	}
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		int n = snprintf(buf, size, "%.*s/nymd", (int)len, len > 0 ? path : ".");
		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
			return 0;
		path += len;
		if (*path == ':')
			path++;
	}
	return -1;
}

static void
start_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
start_probe(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	if (fd == -1)
		return 0;
	ok = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return ok;
}

/*
 * The nymd process: its own session (a ^C for the application does not
 * stop it), no descriptors of the application, signals as new. Only
 * async-signal-safe calls: the application may have threads.
 */
static void
start_exec(const char *nymd, char *const argv[])
{
	struct sigaction sa;
	sigset_t none;
	int fd;

	setsid();
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (close_range(STDERR_FILENO + 1, ~0U, 0) == -1)
		for (int i = STDERR_FILENO + 1; i < 1024; i++)
			close(i);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(nymd, argv);
	_exit(127);
}

/*
 * The helper between the application and nymd: it starts nymd, waits for
 * the socket or for nymd's death, writes which to the pipe report and
 * leaves nymd to init, so that the application has no child to reap.
 */
static void
start_helper(const char *nymd, char *const argv[], const struct sockaddr_un *sun,
    int report)
{
	struct sigaction sa;
	uint8_t result = START_TIMEOUT;
	int status;
	pid_t pid;

	/* An application that ignores SIGCHLD would hide nymd's death from us. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	if ((pid = fork()) == -1)
		result = START_NO_FORK;
	else if (pid == 0)
		start_exec(nymd, argv);
	for (long waited = 0; pid != -1 && waited < NYM_START_TIMEOUT_MS;
	    waited += START_POLL_MS) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			result = WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			    START_NO_EXEC : START_DIED;
			break;
		}
		if (start_probe(sun)) {
			result = START_READY;
			break;
		}
		start_sleep_ms(START_POLL_MS);
	}
	while (write(report, &result, 1) == -1 && errno == EINTR)
		;
	_exit(0);
}

/*
 * The daemon that holds the client's lock (nymd's master/lock.c writes
 * "PID COMMAND" into ROOT/clients/ID/data/nymd.lock): its pid if it is
 * alive, and its command in cmd; 0 if none is running.
 */
static pid_t
start_lock_holder(const char *root, const char *id, char *cmd, size_t cmdlen)
{
	char path[PATH_MAX], buf[128];
	long pid;
	int fd, n, off = 0;
	ssize_t len;

	n = snprintf(path, sizeof(path), "%s/clients/%s/data/nymd.lock", root, id);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (sscanf(buf, "%ld %n", &pid, &off) != 1 || pid <= 0 || off == 0 ||
	    (kill((pid_t)pid, 0) == -1 && errno != EPERM))
		return 0;
	snprintf(cmd, cmdlen, "%s", buf + off);
	return (pid_t)pid;
}

/* Another daemon runs the client (a race won, or `nymd socket`): 0 once
 * its socket answers, NYM_ERR_START (and why) if it does not serve it, or
 * 1 if no daemon holds the client's lock. */
static int
start_use_running(struct nym_client **out, const char *root, const char *id,
    const char *path)
{
	char cmd[96];
	pid_t pid = start_lock_holder(root, id, cmd, sizeof(cmd));

	if (pid == 0)
		return 1;
	for (long waited = 0; waited < NYM_START_TIMEOUT_MS; waited += START_POLL_MS) {
		if (nym_connect_unix(out, path) == 0)
			return 0;
		if (start_lock_holder(root, id, cmd, sizeof(cmd)) != pid)
			break;
		start_sleep_ms(START_POLL_MS);
	}
	return client_fail(NYM_ERR_START,
	    "client '%s' is already running (pid %ld, %s) but does not serve %s",
	    id, (long)pid, cmd, path);
}

int
nym_client_start(struct nym_client **out, const char *id, const char *home)
{
	char root[PATH_MAX], path[PATH_MAX], cfg[PATH_MAX], nymd[PATH_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int rc, report[2];
	uint8_t result = START_TIMEOUT;
	ssize_t n;
	pid_t pid;

	if (out == NULL)
		return NYM_ERR_INVALID;
	*out = NULL;
	if (!start_valid_id(id))
		return client_fail(NYM_ERR_INVALID,
		    "'%s' is not a client id: 1 to 64 letters, digits, '.', '_' or '-'",
		    id != NULL ? id : "");
	if (start_root(root, sizeof(root), home) != 0 ||
	    nym_default_socket_path(path, sizeof(path), id, root) != 0)
		return client_fail(NYM_ERR_INVALID, "the socket path of %s is too long", id);
	if ((rc = nym_connect_unix(out, path)) == 0)
		return 0;
	if (rc != NYM_ERR_CONNECT || (errno != ENOENT && errno != ECONNREFUSED))
		return rc;

	rc = snprintf(cfg, sizeof(cfg), "%s/clients/%s/config/config.toml", root, id);
	if (rc < 0 || (size_t)rc >= sizeof(cfg) || access(cfg, R_OK) != 0)
		return client_fail(NYM_ERR_NOT_FOUND,
		    "no client %s: %s: %s (create it with: nymd init --id %s)",
		    id, cfg, strerror(errno), id);
	if (start_find_nymd(nymd, sizeof(nymd)) != 0)
		return client_fail(NYM_ERR_START,
		    "cannot find nymd: set NYMD_BINARY or add its directory to PATH");

	char *argv[] = { nymd, "run", "--id", (char *)(uintptr_t)id, "--home", root, NULL };
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A pipe, not the exit status: the application may reap or ignore children. */
	if (pipe2(report, O_CLOEXEC) == -1)
		return client_fail(NYM_ERR_START, "pipe: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		close(report[0]);
		close(report[1]);
		return client_fail(NYM_ERR_START, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(report[0]);
		start_helper(nymd, argv, &sun, report[1]);
	}
	close(report[1]);
	while ((n = read(report[0], &result, 1)) == -1 && errno == EINTR)
		;
	close(report[0]);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	/* Connect whatever the report: another nymd may have won a race. */
	if (nym_connect_unix(out, path) == 0)
		return 0;
	/* nymd refused to start beside a running daemon of the same client. */
	if (n == 1 && result == START_DIED &&
	    (rc = start_use_running(out, root, id, path)) != 1)
		return rc;
	if (n != 1)
		return client_fail(NYM_ERR_START, "%s run --id %s did not come up", nymd, id);
	switch (result) {
	case START_NO_EXEC:
		return client_fail(NYM_ERR_START, "cannot execute %s", nymd);
	case START_DIED:
		return client_fail(NYM_ERR_START,
		    "%s run --id %s exited before its socket was ready; see its log "
		    "(/tmp/loopix_%s.log unless config.toml says otherwise)", nymd, id, id);
	case START_TIMEOUT:
		return client_fail(NYM_ERR_START,
		    "%s run --id %s: no socket at %s after %d s", nymd, id, path,
		    NYM_START_TIMEOUT_MS / 1000);
	default:
		return client_fail(NYM_ERR_START, "%s run --id %s did not come up: %s",
		    nymd, id, strerror(errno));
	}
}
