/*
 * Each role's seccomp allow-list, exercised for real: a forked process
 * installs the role's filter, then makes one system call. A forbidden call
 * must kill it with SIGSYS; the calls the role lives on must still work.
 * And Landlock: a process confined to some paths can open nothing else.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sandbox.h"

#include "keyd/keyd.h"
#include "netd/netd.h"
#include "rpcd/rpcd.h"

enum probe {
	PROBE_WRITE,		/* the base list: must survive */
	PROBE_SOCKET,
	PROBE_EXECVE,
	PROBE_OPENAT,
	PROBE_CONNECT,
	PROBE_MPROTECT_EXEC,
};

/* Runs probe after role_sandbox() in a child; returns its wait status. */
static int
run_probe(int (*role_sandbox)(void), enum probe probe)
{
	int pipefd[2];
	pid_t pid;
	int status;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (role_sandbox() != 0)
			_exit(100);
		char *argv[] = { "/bin/true", NULL };
		char *envp[] = { NULL };
		switch (probe) {
		case PROBE_WRITE:
			_exit(write(pipefd[1], "x", 1) == 1 ? 0 : 101);
		case PROBE_SOCKET:
			syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
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
		}
		_exit(102);	/* the call was allowed */
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
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_keyd_forbids_socket(void **state)
{
	assert_killed_by_sigsys(run_probe(keyd_sandbox, PROBE_SOCKET));
}

static void
test_keyd_forbids_open(void **state)
{
	assert_killed_by_sigsys(run_probe(keyd_sandbox, PROBE_OPENAT));
}

static void
test_keyd_forbids_execve(void **state)
{
	assert_killed_by_sigsys(run_probe(keyd_sandbox, PROBE_EXECVE));
}

static void
test_keyd_forbids_mprotect_exec(void **state)
{
	assert_killed_by_sigsys(run_probe(keyd_sandbox, PROBE_MPROTECT_EXEC));
}

static void
test_keyd_still_writes(void **state)
{
	assert_survives(run_probe(keyd_sandbox, PROBE_WRITE));
}

static void
test_netd_forbids_execve(void **state)
{
	assert_killed_by_sigsys(run_probe(netd_sandbox, PROBE_EXECVE));
}

static void
test_netd_still_writes(void **state)
{
	assert_survives(run_probe(netd_sandbox, PROBE_WRITE));
}

static void
test_rpcd_forbids_execve(void **state)
{
	assert_killed_by_sigsys(run_probe(rpcd_sandbox, PROBE_EXECVE));
}

static void
test_rpcd_forbids_socket(void **state)
{
	assert_killed_by_sigsys(run_probe(rpcd_sandbox, PROBE_SOCKET));
}

static void
test_rpcd_forbids_connect(void **state)
{
	assert_killed_by_sigsys(run_probe(rpcd_sandbox, PROBE_CONNECT));
}

static void
test_rpcd_still_writes(void **state)
{
	assert_survives(run_probe(rpcd_sandbox, PROBE_WRITE));
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

	if (netd_landlock(home) != 0)
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
	if (chdir(data) == -1 || rpcd_landlock() != 0)
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
		cmocka_unit_test(test_keyd_forbids_socket),
		cmocka_unit_test(test_keyd_forbids_open),
		cmocka_unit_test(test_keyd_forbids_execve),
		cmocka_unit_test(test_keyd_forbids_mprotect_exec),
		cmocka_unit_test(test_keyd_still_writes),
		cmocka_unit_test(test_netd_forbids_execve),
		cmocka_unit_test(test_netd_still_writes),
		cmocka_unit_test(test_rpcd_forbids_execve),
		cmocka_unit_test(test_rpcd_forbids_socket),
		cmocka_unit_test(test_rpcd_forbids_connect),
		cmocka_unit_test(test_rpcd_still_writes),
		cmocka_unit_test(test_landlock_confines_opening),
		cmocka_unit_test(test_netd_landlock_keeps_home_out),
		cmocka_unit_test(test_rpcd_landlock_keeps_key_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
