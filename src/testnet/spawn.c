/*
 * The processes of a testnet: started detached with posix_spawn, known
 * afterwards only by pid, executable and start time, and stopped only
 * after /proc says the pid is still the process that was started.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "testnet/testnet.h"

extern char **environ;

volatile int testnet_interrupted;

/* Signals a child must not inherit ignored or caught. */
static const int spawn_default_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGALRM,
	SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU,
};

/* The start-time field of /proc/PID/stat is the 22nd. */
#define SPAWN_STAT_START_FIELD	22
#define SPAWN_STAT_BYTES	1024
#define SPAWN_CMDLINE_BYTES	(2 * PATH_MAX)
#define SPAWN_RUN_POLL_MS	20

void
testnet_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* An interrupting signal only shortens one poll interval. */
	nanosleep(&ts, NULL);
}

long long
testnet_now_ms(void)
{
	return (long long)clock_monotonic_ms();
}

static ssize_t
spawn_read_proc(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n, total = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	while ((size_t)total < cap - 1 &&
	    (n = read(fd, buf + total, cap - 1 - (size_t)total)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

/* State letter and start time of pid; -1 if there is no such process. */
static int
spawn_stat(pid_t pid, char *state, unsigned long long *start_ticks)
{
	char buf[SPAWN_STAT_BYTES], *p, *end;
	int field;

	if (spawn_read_proc(pid, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	/* The command name may hold spaces and parentheses: skip to the
	 * last ')' and count fields from there (field 3 follows). */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (field = 3; field < SPAWN_STAT_START_FIELD; field++) {
		if ((p = strchr(p, ' ')) == NULL)
			return -1;
		p++;
	}
	errno = 0;
	*start_ticks = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return -1;
	return 0;
}

/* Does pid run exe, by /proc/PID/exe or, where that cannot be read, by
 * its command line (argv[0], or argv[1] under an interpreter)? */
static int
spawn_runs(pid_t pid, const char *exe)
{
	char link[PATH_MAX + 16], path[32], cmd[SPAWN_CMDLINE_BYTES];
	static const char deleted[] = " (deleted)";
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/exe", (long)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		/* The binary may have been rebuilt since it was started. */
		size_t dl = sizeof(deleted) - 1;
		if ((size_t)n > dl && strcmp(link + n - dl, deleted) == 0)
			link[n - dl] = '\0';
		if (strcmp(link, exe) == 0)
			return 1;
	}
	n = spawn_read_proc(pid, "cmdline", cmd, sizeof(cmd));
	if (n <= 0)
		return 0;
	if (strcmp(cmd, exe) == 0)
		return 1;
	size_t first = strlen(cmd);
	return (ssize_t)first + 1 < n && strcmp(cmd + first + 1, exe) == 0;
}

enum testnet_liveness
testnet_spawn_check(struct testnet_proc *p)
{
	unsigned long long start;
	char state;

	if (p->pid <= 0)
		return TESTNET_GONE;
	if (spawn_stat(p->pid, &state, &start) == -1)
		return TESTNET_GONE;
	/* A zombie is dead; only its parent's wait is missing (and an init
	 * that does not reap may keep it for good). */
	if (state == 'Z' || state == 'X')
		return TESTNET_GONE;
	if (p->start_ticks != 0 && start != p->start_ticks)
		return TESTNET_OTHER;
	if (!spawn_runs(p->pid, p->exe))
		return TESTNET_OTHER;
	return TESTNET_RUNNING;
}

int
testnet_spawn_reap(struct testnet_proc *p, int *status)
{
	if (p->pid <= 0 || p->reaped)
		return 0;
	/* ECHILD when another invocation started it: nothing to reap. */
	if (waitpid(p->pid, status, WNOHANG) == p->pid) {
		p->reaped = 1;
		return 1;
	}
	return 0;
}

static int
spawn_attrs(posix_spawnattr_t *attr, short extra_flags)
{
	sigset_t none, dfl;

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (size_t i = 0; i < sizeof(spawn_default_signals) /
	    sizeof(spawn_default_signals[0]); i++)
		sigaddset(&dfl, spawn_default_signals[i]);
	if (posix_spawnattr_init(attr) != 0)
		return -1;
	if (posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &dfl) != 0 ||
	    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | extra_flags) != 0) {
		posix_spawnattr_destroy(attr);
		return -1;
	}
	return 0;
}

/* Spawns exe with stdin /dev/null and stdout, stderr appended to log. */
static int
spawn_start(const char *exe, char *const argv[], const char *log,
    short extra_flags, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fd, rc, saved;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (spawn_attrs(&attr, extra_flags) == -1) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0 &&
	    ((rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO)) != 0)) {
		posix_spawn_file_actions_destroy(&fa);
	} else if (rc == 0) {
		rc = posix_spawn(pid, exe, &fa, &attr, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	saved = rc;
	posix_spawnattr_destroy(&attr);
	close(fd);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return 0;
}

int
testnet_spawn_detached(struct testnet_proc *p, char *const argv[])
{
	return testnet_spawn_detached_via(p, p->exe, argv);
}

int
testnet_spawn_detached_via(struct testnet_proc *p, const char *exe,
    char *const argv[])
{
	char state;

	p->reaped = 0;
	if (spawn_start(exe, argv, p->log, POSIX_SPAWN_SETSID, &p->pid) == -1)
		return -1;
	/* posix_spawn returns after the exec, so the start time is the
	 * child's; if it died already, check() will say so later. */
	if (spawn_stat(p->pid, &state, &p->start_ticks) == -1)
		p->start_ticks = 0;
	return 0;
}

int
testnet_spawn_run(const char *exe, char *const argv[], const char *log,
    int timeout_ms)
{
	long long deadline = testnet_now_ms() + timeout_ms;
	pid_t pid, r;
	int status;

	if (spawn_start(exe, argv, log, 0, &pid) == -1)
		return -1;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR)
			return -1;
		if (testnet_interrupted || testnet_now_ms() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		testnet_sleep_ms(SPAWN_RUN_POLL_MS);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Signals p only if it is still the process that was started. The pidfd
 * pins the process before the check, so the pid cannot be reused between
 * the check and the signal; kill() serves where pidfds do not exist.
 */
static int
spawn_signal(struct testnet_proc *p, int sig)
{
	int fd, rc;

	fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd == -1 && errno != ENOSYS)
		return -1;
	if (testnet_spawn_check(p) != TESTNET_RUNNING) {
		if (fd != -1)
			close(fd);
		errno = ESRCH;
		return -1;
	}
	if (fd == -1)
		return kill(p->pid, sig);
	rc = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
	close(fd);
	return rc;
}

static void
spawn_note(int verbose, const struct testnet_proc *p, const char *what)
{
	if (verbose)
		printf("%-16s pid %-8ld %s\n", p->id, (long)p->pid, what);
}

/* Waits until no pending process runs or the deadline passes; returns
 * how many still run. */
static size_t
spawn_wait_gone(struct testnet_proc **procs, size_t n, int *pending,
    long long deadline, int verbose, const char *what)
{
	size_t left;
	int status;

	for (;;) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (!pending[i])
				continue;
			testnet_spawn_reap(procs[i], &status);
			if (testnet_spawn_check(procs[i]) != TESTNET_RUNNING) {
				pending[i] = 0;
				spawn_note(verbose, procs[i], what);
			} else
				left++;
		}
		if (left == 0 || testnet_now_ms() >= deadline)
			return left;
		testnet_sleep_ms(TESTNET_POLL_MS);
	}
}

size_t
testnet_spawn_stop(struct testnet_proc **procs, size_t n,
    unsigned int grace_ms, int verbose)
{
	size_t left = 0;
	int *pending;

	if (n == 0)
		return 0;
	if ((pending = calloc(n, sizeof(*pending))) == NULL)
		return n;
	for (size_t i = 0; i < n; i++) {
		switch (testnet_spawn_check(procs[i])) {
		case TESTNET_RUNNING:
			if (spawn_signal(procs[i], SIGTERM) == 0)
				pending[i] = 1;
			else if (errno != ESRCH)
				spawn_note(verbose, procs[i], "could not be signalled");
			else
				spawn_note(verbose, procs[i], "not running");
			break;
		case TESTNET_OTHER:
			spawn_note(verbose, procs[i],
			    "not running (the pid is another process's now; left alone)");
			break;
		case TESTNET_GONE:
			if (procs[i]->pid > 0)
				spawn_note(verbose, procs[i], "not running");
			break;
		}
	}
	if (spawn_wait_gone(procs, n, pending, testnet_now_ms() + grace_ms,
	    verbose, "stopped") != 0) {
		for (size_t i = 0; i < n; i++) {
			if (pending[i]) {
				spawn_note(verbose, procs[i],
				    "did not stop on SIGTERM; sending SIGKILL");
				spawn_signal(procs[i], SIGKILL);
			}
		}
		left = spawn_wait_gone(procs, n, pending,
		    testnet_now_ms() + TESTNET_KILL_WAIT_MS, verbose, "killed");
		for (size_t i = 0; i < n; i++)
			if (pending[i])
				spawn_note(verbose, procs[i], "still running");
	}
	free(pending);
	return left;
}
