/*
 * Each role's sandbox, exercised for real: a forked process confines
 * itself exactly as the role does (sandbox_confine with the role's
 * policy), then makes one attempt. A forbidden thing must be refused (an
 * error) or kill the process with SIGSYS; the calls the role lives on must
 * still work. And Landlock: a process confined to some paths can open
 * nothing else.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/secret.h"

#include "keyd/keyd.h"
#include "master/master.h"
#include "netd/netd.h"
#include "rpcd/rpcd.h"

enum probe {
	PROBE_WRITE,		/* the base list: must survive */
	PROBE_SOCKET,
	PROBE_EXECVE,
	PROBE_OPENAT,
	PROBE_CONNECT,
	PROBE_MPROTECT_EXEC,
	PROBE_MMAP_EXEC,
	PROBE_TIOCSTI,		/* type into the terminal */
	PROBE_UNIX_CONNECT,	/* reach a unix socket (D-Bus, ssh-agent...) */
	PROBE_PROC_MEM,		/* read a sibling's memory */
	PROBE_IOCTL_OTHER,	/* a request no role names */
	PROBE_CHILD_MEM,	/* read the memory of a keyd it started */
	PROBE_VM_READV,		/* read memory without /proc */
	PROBE_MOUNT,
	PROBE_PACKET_SOCKET,	/* a raw socket: sniff or forge frames */
	PROBE_LISTEN,		/* serve: netd only ever connects */
	PROBE_SIGSYS_HANDLER,	/* replace the handler that ends a trapped call */
	PROBE_NSS_SOCKETS,	/* what NSS tries: nscd's unix socket, netlink */
	PROBE_THREAD,		/* clone a thread */
};

/* The probe's exit codes. */
#define PROBE_OK	0	/* the allowed call worked */
#define PROBE_REFUSED	50	/* the forbidden call failed with an error */
#define PROBE_ALLOWED	102	/* the forbidden call went through */

/* A listening unix socket, and the undumpable keyd that probes target. */
static char unix_path[108];
static pid_t keyd_pid = -1;

/* Stands for master's filter (master_sandbox) in run_probe. */
static const struct sandbox_policy master_filter = { .role = "master" };

static void
confine(const struct sandbox_policy *policy)
{
	if (policy == &master_filter) {
		if (master_sandbox() != 0)
			_exit(100);
		return;
	}
	if (sandbox_confine(policy, getuid(), getgid()) != 0)
		_exit(100);
}

static void *
probe_thread(void *arg)
{
	return arg;
}

static int
probe_unix_connect(void)
{
	struct sockaddr_un sun;
	int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	if (fd == -1)
		return PROBE_REFUSED;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return PROBE_REFUSED;
	return PROBE_ALLOWED;
}

static int
probe_proc_mem(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)keyd_pid);
	if (syscall(SYS_openat, AT_FDCWD, path, O_RDONLY) == -1)
		return PROBE_REFUSED;
	return PROBE_ALLOWED;
}

/*
 * Opens /proc/<keyd>/mem of a keyd this process started: Yama's
 * ptrace_scope 1, where it is set, lets an ancestor through, so that only
 * keyd's undumpable flag stands in the way.
 */
static int
probe_child_mem(void)
{
	char path[64], c;
	int ready[2], rc;
	pid_t pid;

	if (pipe(ready) == -1 || (pid = fork()) == -1)
		return 103;
	if (pid == 0) {
		close(ready[0]);
		confine(&keyd_policy);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return 104;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	rc = open(path, O_RDONLY) == -1 ? PROBE_REFUSED : PROBE_ALLOWED;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc;
}

/* A handler that lets a trapped call return, as an attacker's would. */
static void
probe_sigsys_noop(int sig)
{
	(void)sig;
}

/* Runs probe in a child confined by policy (none if NULL); returns its
 * wait status. */
static int
run_probe(const struct sandbox_policy *policy, enum probe probe)
{
	int pipefd[2];
	pid_t pid;
	int status;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (policy != NULL)
			confine(policy);
		else if (sandbox_drop_privileges(getuid(), getgid()) != 0)
			_exit(100);	/* root: no CAP_SYS_PTRACE either */
		char *argv[] = { "/bin/true", NULL };
		char *envp[] = { NULL };
		char c = 'x';
		switch (probe) {
		case PROBE_WRITE:
			_exit(write(pipefd[1], "x", 1) == 1 ? PROBE_OK : 101);
		case PROBE_SOCKET:
			if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_EXECVE:
			syscall(SYS_execve, argv[0], argv, envp);
			break;
		case PROBE_OPENAT:
			syscall(SYS_openat, AT_FDCWD, "/etc/hostname", 0);
			break;
		case PROBE_CONNECT:
			syscall(SYS_connect, 0, NULL, 0);
			break;
		case PROBE_MPROTECT_EXEC:
			syscall(SYS_mprotect, (void *)0x10000, 4096, 7 /* rwx */);
			break;
		case PROBE_MMAP_EXEC:
			if (syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == (long)MAP_FAILED)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_TIOCSTI:
			/* fd 0 may be no terminal: the filter looks only at
			 * the request, so reaching the kernel is the failure. */
			if (syscall(SYS_ioctl, 0, TIOCSTI, &c) == -1 && errno == EPERM)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_IOCTL_OTHER:
			if (syscall(SYS_ioctl, pipefd[1], FIOASYNC, &status) == -1 &&
			    errno == EPERM)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_UNIX_CONNECT:
			_exit(probe_unix_connect());
		case PROBE_PROC_MEM:
			_exit(probe_proc_mem());
		case PROBE_CHILD_MEM:
			_exit(probe_child_mem());
		case PROBE_VM_READV: {
			/* its own memory: only a filter can refuse that */
			char from[16] = "secret", to[16];
			struct iovec local = { to, sizeof(to) };
			struct iovec remote = { from, sizeof(from) };
			if (syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		}
		case PROBE_PACKET_SOCKET:
			if (syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_LISTEN:
			syscall(SYS_listen, 0, 1);
			break;
		case PROBE_NSS_SOCKETS:
			/* either one, refused with an error, is a failure:
			 * both must kill */
			if (syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0) == -1 &&
			    syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_THREAD: {
			pthread_t t;
			if (pthread_create(&t, NULL, probe_thread, NULL) != 0)
				_exit(PROBE_REFUSED);
			pthread_join(t, NULL);
			break;
		}
		case PROBE_SIGSYS_HANDLER: {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			/* (SIG_IGN would not do: the kernel resets an ignored
			 * SIGSYS of a trapped call to the default, death.) */
			sa.sa_handler = probe_sigsys_noop;
			if (sigaction(SIGSYS, &sa, NULL) == -1)
				_exit(PROBE_REFUSED);
			/* survived: a forbidden call now returns instead */
			syscall(SYS_execve, argv[0], argv, envp);
			break;
		}
		case PROBE_MOUNT:
			/* a target that does not exist: never mounts anything;
			 * unfiltered, root gets ENOENT */
			if (syscall(SYS_mount, "none", "/nonexistent/nymd-test", "tmpfs",
			    0, NULL) == -1 && errno == EPERM)
				_exit(PROBE_REFUSED);
			break;
		}
		_exit(PROBE_ALLOWED);	/* the call was allowed */
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pipefd[0]);
	return status;
}

static void
assert_killed_by_sigsys(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void
assert_survives(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), PROBE_OK);
}

/* Refused with an error, or killed: anything but going through. */
static void
assert_refused(int status)
{
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGSYS);
		return;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), PROBE_REFUSED);
}

static const struct sandbox_policy *const policies[] = {
	&keyd_policy, &netd_policy, &rpcd_policy,
};
#define N_POLICIES	(sizeof(policies) / sizeof(policies[0]))

/*
 * A role killed by its filter names the system call in its log (issue
 * 22): the log is fd 2 here, a pipe the test reads; the process still
 * dies of SIGSYS.
 */
static void
test_sigsys_names_the_call(void **state)
{
	static const struct { long nr; const char *want; } calls[] = {
		{ SYS_ptrace, "system call ptrace (101) is not allowed" },
		{ SYS_execve, "system call execve (59) is not allowed" },
	};

	for (size_t i = 0; i < N_POLICIES; i++) {
		for (size_t j = 0; j < sizeof(calls) / sizeof(calls[0]); j++) {
			char buf[512], want[160];
			int pipefd[2], status;
			ssize_t n;
			pid_t pid;

			/* x86-64 numbers in the text; elsewhere only the name */
			snprintf(want, sizeof(want), "%s", calls[j].want);
#ifndef __x86_64__
			*strchr(want, '(') = '\0';
#endif
			assert_int_equal(pipe(pipefd), 0);
			pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				close(pipefd[0]);
				if (dup2(pipefd[1], STDERR_FILENO) == -1)
					_exit(100);
				confine(policies[i]);
				syscall(calls[j].nr, 0, 0, 0, 0, 0);
				_exit(PROBE_ALLOWED);
			}
			close(pipefd[1]);
			n = read(pipefd[0], buf, sizeof(buf) - 1);
			close(pipefd[0]);
			assert_int_equal(waitpid(pid, &status, 0), pid);
			assert_killed_by_sigsys(status);
			assert_true(n > 0);
			buf[n] = '\0';
			if (strstr(buf, want) == NULL || strstr(buf, policies[i]->role) != buf)
				fail_msg("%s: got '%s', want '%s: ...%s'", policies[i]->role,
				    buf, policies[i]->role, want);
		}
	}
}

/* What no role may do, each tried from inside each role's sandbox. */
static void
test_every_role_forbids_execve(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_EXECVE));
}

/* A compromised role may not take over SIGSYS to outlive a forbidden call. */
static void
test_every_role_keeps_its_sigsys_handler(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_SIGSYS_HANDLER));
}

static void
test_every_role_forbids_tiocsti(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_TIOCSTI));
}

static void
test_every_role_forbids_other_ioctls(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_IOCTL_OTHER));
}

static void
test_every_role_forbids_mprotect_exec(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_MPROTECT_EXEC));
}

static void
test_every_role_forbids_mmap_exec(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_killed_by_sigsys(run_probe(policies[i], PROBE_MMAP_EXEC));
}

static void
test_every_role_cannot_reach_a_unix_socket(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_refused(run_probe(policies[i], PROBE_UNIX_CONNECT));
}

static void
test_every_role_cannot_open_keyd_mem(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_refused(run_probe(policies[i], PROBE_PROC_MEM));
}

/* Where Landlock and Yama are missing, keyd's undumpable flag alone keeps
 * a process of the same uid (without CAP_SYS_PTRACE) out of its memory. */
static void
test_keyd_mem_closed_without_landlock(void **state)
{
	assert_refused(run_probe(NULL, PROBE_PROC_MEM));
	assert_refused(run_probe(NULL, PROBE_CHILD_MEM));
}

/* master's own filter, which every child inherits: what no nymd process
 * does fails with EPERM; what master lives on still works. */
static void
test_master_filter(void **state)
{
	assert_survives(run_probe(&master_filter, PROBE_WRITE));
	assert_refused(run_probe(&master_filter, PROBE_TIOCSTI));
	assert_refused(run_probe(&master_filter, PROBE_VM_READV));
	assert_refused(run_probe(&master_filter, PROBE_MOUNT));
	assert_refused(run_probe(&master_filter, PROBE_IOCTL_OTHER));
}

static void
test_every_role_still_writes(void **state)
{
	for (size_t i = 0; i < N_POLICIES; i++)
		assert_survives(run_probe(policies[i], PROBE_WRITE));
}

static void
test_keyd_forbids_socket(void **state)
{
	assert_killed_by_sigsys(run_probe(&keyd_policy, PROBE_SOCKET));
}

static void
test_keyd_forbids_open(void **state)
{
	assert_killed_by_sigsys(run_probe(&keyd_policy, PROBE_OPENAT));
}

static void
test_keyd_forbids_connect(void **state)
{
	assert_killed_by_sigsys(run_probe(&keyd_policy, PROBE_CONNECT));
}

static void
test_netd_may_open_tcp(void **state)
{
	int status = run_probe(&netd_policy, PROBE_SOCKET);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), PROBE_ALLOWED);
}

/* netd may make TCP and UDP sockets, but no other family kills: not a
 * raw socket, whatever its uid may do */
static void
test_netd_forbids_packet_socket(void **state)
{
	assert_killed_by_sigsys(run_probe(&netd_policy, PROBE_PACKET_SOCKET));
}

static void
test_netd_forbids_listen(void **state)
{
	assert_killed_by_sigsys(run_probe(&netd_policy, PROBE_LISTEN));
}

/* netd resolves names itself (common/resolve.c), never through NSS: the
 * unix and netlink sockets NSS modules and getaddrinfo() try kill, as
 * does a thread (libcurl's resolver thread never starts). */
static void
test_netd_forbids_nss(void **state)
{
	assert_killed_by_sigsys(run_probe(&netd_policy, PROBE_NSS_SOCKETS));
	assert_killed_by_sigsys(run_probe(&netd_policy, PROBE_THREAD));
}

static void
test_rpcd_forbids_socket(void **state)
{
	assert_killed_by_sigsys(run_probe(&rpcd_policy, PROBE_SOCKET));
}

static void
test_rpcd_forbids_connect(void **state)
{
	assert_killed_by_sigsys(run_probe(&rpcd_policy, PROBE_CONNECT));
}

/* A unix socket that would accept anyone, and an undumpable process in
 * keyd's sandbox, for the probes to try. */
static int
setup(void **state)
{
	struct sockaddr_un sun;
	int fd, ready[2];
	char c;

	/* As each role does first: the log's time zone is read now, while
	 * files may be opened (the start-up line comes after seccomp). */
	log_init("test", LOG_LEVEL_OFF);
	if (sodium_init() < 0)
		return -1;
	snprintf(unix_path, sizeof(unix_path), "/tmp/test_sandbox.%d.sock", (int)getpid());
	unlink(unix_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(unix_path, 0777) == -1 || listen(fd, 16) == -1)
		return -1;
	if (pipe(ready) == -1)
		return -1;
	keyd_pid = fork();
	if (keyd_pid == -1)
		return -1;
	if (keyd_pid == 0) {
		close(ready[0]);
		/* keyd's sandbox, which makes it undumpable */
		confine(&keyd_policy);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	return 0;
}

static int
teardown(void **state)
{
	if (keyd_pid > 0) {
		kill(keyd_pid, SIGKILL);
		waitpid(keyd_pid, NULL, 0);
	}
	unlink(unix_path);
	return 0;
}

/*
 * In a child confined to a writable temporary directory and one readable
 * file: each step's failure exits with its own code.
 */
static void
test_landlock_confines_opening(void **state)
{
	char dir[] = "/tmp/test_landlock.XXXXXX", path[64];
	int status, abi = sandbox_landlock_abi();
	pid_t pid;

	if (abi < 1)
		skip();		/* a kernel without Landlock */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/new", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const struct sandbox_path paths[] = {
			{ dir, 1 }, { "/etc/hosts", 0 }, { "/nonexistent", 0 },
		};
		int fd;
		if (sandbox_landlock(paths, 3) != 0)
			_exit(10);
		if ((fd = open(path, O_CREAT | O_WRONLY, 0600)) == -1)
			_exit(11);
		close(fd);
		if ((fd = open("/etc/hosts", O_RDONLY)) == -1)
			_exit(12);
		close(fd);
		if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
			_exit(13);
		if (open("/etc/hosts", O_WRONLY) != -1 || errno != EACCES)
			_exit(14);
		if (open("/tmp", O_RDONLY | O_DIRECTORY) != -1 || errno != EACCES)
			_exit(15);
		/* ABI 6: no signals to processes outside the domain. */
		if (abi >= 6 && (kill(getppid(), 0) != -1 || errno != EPERM))
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A filter around nymd (systemd's SystemCallFilter=, a container's)
 * that refuses landlock_create_ruleset with err. Returns what
 * sandbox_landlock_abi() and sandbox_landlock_role() made of it: exit
 * 1 for "no Landlock in the kernel", 2 for "refused", and the log in log.
 */
static int
landlock_under_filter(int err, char *log, size_t loglen)
{
	char path[] = "/tmp/test_landlock_log.XXXXXX";
	int status, fd = mkstemp(path);
	pid_t pid;
	ssize_t n;

	assert_true(fd != -1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		int abi;
		if (ctx == NULL || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err),
		    SCMP_SYS(landlock_create_ruleset), 0) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(100);
		if (log_use_fd(fd) == -1)
			_exit(101);
		log_set_level(LOG_LEVEL_INFO);
		abi = sandbox_landlock_abi();
		if (abi > 0)
			_exit(102);
		if (abi == -1 && errno != err)
			_exit(103);
		if (sandbox_landlock_role("netd", NULL, 0) != 0)
			_exit(104);
		_exit(abi == 0 ? 1 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* EPERM is a filter refusing Landlock, not a kernel without it: the log
 * warns, names the calls and where to allow them. */
static void
test_landlock_refused_by_filter_warns(void **state)
{
	char log[4096];

	assert_int_equal(landlock_under_filter(EPERM, log, sizeof(log)), 2);
	assert_non_null(strstr(log, "refused by a system call filter"));
	assert_non_null(strstr(log, "landlock_restrict_self"));
	assert_non_null(strstr(log, "SystemCallFilter="));
	assert_null(strstr(log, "this kernel has no Landlock"));
}

/* ENOSYS and EOPNOTSUPP: the kernel has no Landlock, said as such. */
static void
test_landlock_missing_from_kernel(void **state)
{
	char log[4096];

	assert_int_equal(landlock_under_filter(ENOSYS, log, sizeof(log)), 1);
	assert_non_null(strstr(log, "this kernel has no Landlock"));
	assert_int_equal(landlock_under_filter(EOPNOTSUPP, log, sizeof(log)), 1);
	assert_non_null(strstr(log, "this kernel has no Landlock"));
	assert_null(strstr(log, "refused"));
}

/* Counts the lines of log that contain what. */
static int
count_lines(const char *log, const char *what)
{
	int n = 0;

	for (const char *l = log; l != NULL && *l != '\0'; ) {
		const char *nl = strchr(l, '\n'), *hit = strstr(l, what);
		if (hit != NULL && (nl == NULL || hit < nl))
			n++;
		l = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

#ifndef NYMD_SANITIZERS	/* see main() */
/*
 * Under a filter that refuses mlock (as systemd-nspawn's does) key
 * memory is still allocated, and the first failure of a process, only
 * the first, is a warning naming LimitMEMLOCK. The start-up line says
 * mlock is refused too.
 */
static void
test_secret_alloc_warns_once_unlocked(void **state)
{
	char path[] = "/tmp/test_secret_log.XXXXXX", log[8192];
	int status, fd;
	pid_t pid;
	ssize_t n;

	fd = mkstemp(path);
	assert_true(fd != -1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (ctx == NULL || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(mlock), 0) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(100);
		log_use_fd(fd);
		log_set_level(LOG_LEVEL_INFO);
		if (secret_alloc(32) == NULL || secret_alloc(64) == NULL)
			_exit(101);
		if (secret_mlock_works() || errno != EPERM)
			_exit(102);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_lines(log, "LimitMEMLOCK"), 1);
	assert_int_equal(count_lines(log, "cannot lock secret memory"), 1);
}
#endif

/* Where mlock works, not a word. */
static void
test_secret_alloc_quiet_when_locked(void **state)
{
	char path[] = "/tmp/test_secret_log.XXXXXX", log[4096];
	int status, fd = mkstemp(path);
	pid_t pid;
	ssize_t n;

	assert_true(fd != -1);
	if (!secret_mlock_works())
		skip();		/* this test's own limit is too low */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_use_fd(fd);
		log_set_level(LOG_LEVEL_DEBUG);
		_exit(secret_alloc(32) == NULL ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_lines(log, "mlock"), 0);
}

/* Each role's start-up line says what is in force. */
static void
test_confine_says_what_is_in_force(void **state)
{
	char path[] = "/tmp/test_sandbox_log.XXXXXX", log[4096], want[64];
	int status, fd = mkstemp(path), abi = sandbox_landlock_abi();
	pid_t pid;
	ssize_t n;

	assert_true(fd != -1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_use_fd(fd);
		log_set_level(LOG_LEVEL_INFO);
		if (sandbox_confine(&rpcd_policy, getuid(), getgid()) != 0)
			_exit(100);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(log, "rpcd sandbox: seccomp allow-list, no_new_privs, "));
	if (abi > 0) {
		snprintf(want, sizeof(want), "Landlock ABI %d,", abi);
		assert_non_null(strstr(log, want));
	} else
		assert_non_null(strstr(log, "Landlock off ("));
	assert_true(strstr(log, "mlock works") != NULL ||
	    strstr(log, "mlock refused (") != NULL);
	if (geteuid() != 0)
		assert_non_null(strstr(log, ", no capabilities"));
}

/* A temporary client home in dir (a mkdtemp template) with a key file,
 * whose path goes to key. */
static void
home_with_key(char *dir, char *key, size_t keylen)
{
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(key, keylen, "%s/private_identity.pem", dir);
	assert_true((fd = open(key, O_CREAT | O_WRONLY, 0600)) != -1);
	close(fd);
}

/* Runs steps(home, key) in a child, whose exit code is what it returns
 * (0: every step went as expected); returns the wait status. */
static int
in_child(int (*steps)(const char *, const char *), const char *home, const char *key)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(steps(home, key));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int
netd_steps(const char *home, const char *key)
{
	int fd;

	netd_check_home(home);
	if (sandbox_landlock(netd_policy.paths, netd_policy.npaths) != 0)
		return 10;
	if ((fd = open("/etc/hosts", O_RDONLY)) == -1)
		return 11;
	close(fd);
	if (open(key, O_RDONLY) != -1 || errno != EACCES)
		return 12;
	if (open("/etc/hosts", O_WRONLY) != -1 || errno != EACCES)
		return 13;
	return 0;
}

/*
 * netd's own confinement: the resolver's files stay readable, a file in
 * a client home (here a temporary directory) does not, nothing is
 * writable.
 */
static void
test_netd_landlock_keeps_home_out(void **state)
{
	char dir[] = "/tmp/test_netd_landlock.XXXXXX", key[64];
	int status;

	if (sandbox_landlock_abi() < 1)
		skip();
	home_with_key(dir, key, sizeof(key));
	status = in_child(netd_steps, dir, key);
	unlink(key);
	rmdir(dir);
	assert_survives(status);
}

static int
rpcd_steps(const char *home, const char *key)
{
	char data[80];
	int fd;

	snprintf(data, sizeof(data), "%s/data", home);
	if (chdir(data) == -1 ||
	    sandbox_landlock(rpcd_policy.paths, rpcd_policy.npaths) != 0)
		return 10;
	if ((fd = open("nymd.db-wal", O_CREAT | O_RDWR, 0600)) == -1)
		return 11;
	if (write(fd, "x", 1) != 1 || ftruncate(fd, 0) == -1)
		return 12;
	close(fd);
	if (unlink("nymd.db-wal") == -1)
		return 13;
	if (open(key, O_RDONLY) != -1 || errno != EACCES)
		return 14;
	if (open("../private_identity.pem", O_RDONLY) != -1 || errno != EACCES)
		return 15;
	if (open("/etc/hosts", O_RDONLY) != -1 || errno != EACCES)
		return 16;
	return 0;
}

/* rpcd: the data directory (its working directory) read-write, the key
 * file beside it out of reach. */
static void
test_rpcd_landlock_keeps_key_out(void **state)
{
	char dir[] = "/tmp/test_rpcd_landlock.XXXXXX", data[80], key[80];
	int status;

	if (sandbox_landlock_abi() < 1)
		skip();
	home_with_key(dir, key, sizeof(key));
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(mkdir(data, 0700), 0);
	status = in_child(rpcd_steps, dir, key);
	unlink(key);
	rmdir(data);
	rmdir(dir);
	assert_survives(status);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_role_still_writes),
		cmocka_unit_test(test_sigsys_names_the_call),
		cmocka_unit_test(test_every_role_forbids_execve),
		cmocka_unit_test(test_every_role_forbids_tiocsti),
		cmocka_unit_test(test_every_role_keeps_its_sigsys_handler),
		cmocka_unit_test(test_every_role_forbids_other_ioctls),
		cmocka_unit_test(test_every_role_forbids_mprotect_exec),
		cmocka_unit_test(test_every_role_forbids_mmap_exec),
		cmocka_unit_test(test_every_role_cannot_reach_a_unix_socket),
		cmocka_unit_test(test_every_role_cannot_open_keyd_mem),
		cmocka_unit_test(test_keyd_mem_closed_without_landlock),
		cmocka_unit_test(test_keyd_forbids_socket),
		cmocka_unit_test(test_keyd_forbids_open),
		cmocka_unit_test(test_keyd_forbids_connect),
		cmocka_unit_test(test_netd_may_open_tcp),
		cmocka_unit_test(test_netd_forbids_packet_socket),
		cmocka_unit_test(test_netd_forbids_listen),
		cmocka_unit_test(test_netd_forbids_nss),
		cmocka_unit_test(test_rpcd_forbids_socket),
		cmocka_unit_test(test_rpcd_forbids_connect),
		cmocka_unit_test(test_master_filter),
		cmocka_unit_test(test_landlock_confines_opening),
		cmocka_unit_test(test_landlock_refused_by_filter_warns),
		cmocka_unit_test(test_landlock_missing_from_kernel),
#ifndef NYMD_SANITIZERS
		/* ASan's mlock interceptor does nothing and reports success:
		 * no failure to warn about there. The normal build runs it. */
		cmocka_unit_test(test_secret_alloc_warns_once_unlocked),
#endif
		cmocka_unit_test(test_secret_alloc_quiet_when_locked),
		cmocka_unit_test(test_confine_says_what_is_in_force),
		cmocka_unit_test(test_netd_landlock_keeps_home_out),
		cmocka_unit_test(test_rpcd_landlock_keeps_key_out),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
