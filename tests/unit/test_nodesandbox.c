/*
 * The sandboxes of nym-mixnode, nym-provider and nym-directory, exercised
 * for real: a forked process confines itself exactly as the program does
 * (node_sandbox() with the node's data directory and the role's calls,
 * directory_sandbox()), then makes one attempt. A forbidden call kills it
 * with SIGSYS, naming the call in its log; what the program lives on
 * still works: a node rotates its epoch keys and replay stores in its
 * data directory, a provider uses its mailbox store, and neither can open
 * the private key beside that directory.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/epoch.h"
#include "common/log.h"
#include "common/replay.h"
#include "common/sandbox.h"
#include "directory/sandbox.h"
#include "node/epochkeys.h"
#include "node/replaydb.h"
#include "node/sandbox.h"
#include "provider/provider.h"
#include "provider/store.h"

enum program { MIXNODE, PROVIDER, DIRECTORY, N_PROGRAMS };
static const char *const program_names[N_PROGRAMS] = {
	"nym-mixnode", "nym-provider", "nym-directory",
};

enum probe {
	PROBE_WRITE,		/* the base list: must survive */
	PROBE_EXECVE,
	PROBE_PTRACE,
	PROBE_SOCKET_INET,	/* a node's links: allowed at a node */
	PROBE_SOCKET_PACKET,	/* a raw socket: sniff or forge frames */
	PROBE_SOCKET_UNIX,	/* D-Bus, ssh-agent...: refused */
	PROBE_LISTEN,		/* a new listener: nobody */
	PROBE_CONNECT,
	PROBE_OPENAT,
	PROBE_MPROTECT_EXEC,
	PROBE_IOCTL_OTHER,
	PROBE_THREAD,
	PROBE_FORK,
};

#define PROBE_OK	0	/* the allowed call worked */
#define PROBE_REFUSED	50	/* the forbidden call failed with an error */
#define PROBE_ALLOWED	102	/* the forbidden call went through */

/* A node's home: its private key file, and its data directory below. */
static char home[] = "/tmp/test_nodesandbox.XXXXXX";
static char key_file[96], data_dir[96];
static int landlock_abi;	/* asked before any filter forbids it */

static void
confine(enum program p)
{
	int rc;

	switch (p) {
	case MIXNODE:
		rc = node_sandbox(program_names[p], data_dir, NULL);
		break;
	case PROVIDER:
		rc = node_sandbox(program_names[p], data_dir,
		    provider_sandbox_calls);
		break;
	default:
		rc = directory_sandbox();
		break;
	}
	if (rc != 0)
		_exit(100);
}

static void *
probe_thread(void *arg)
{
	return arg;
}

/* Runs probe in a child confined as program p; returns its wait status. */
static int
run_probe(enum program p, enum probe probe)
{
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };
	int pipefd[2], status, v = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		confine(p);
		switch (probe) {
		case PROBE_WRITE:
			_exit(write(pipefd[1], "x", 1) == 1 ? PROBE_OK : 101);
		case PROBE_EXECVE:
			syscall(SYS_execve, argv[0], argv, envp);
			break;
		case PROBE_PTRACE:
			syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
			break;
		case PROBE_SOCKET_INET:
			if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_SOCKET_PACKET:
			if (syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_SOCKET_UNIX:
			if (syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_LISTEN:
			syscall(SYS_listen, 0, 1);
			break;
		case PROBE_CONNECT:
			syscall(SYS_connect, 0, NULL, 0);
			break;
		case PROBE_OPENAT:
			if (syscall(SYS_openat, AT_FDCWD, "/etc/hostname", 0) == -1)
				_exit(PROBE_REFUSED);
			break;
		case PROBE_MPROTECT_EXEC:
			syscall(SYS_mprotect, (void *)0x10000, 4096, 7 /* rwx */);
			break;
		case PROBE_THREAD: {
			pthread_t t;
			void *r = NULL;
			if (pthread_create(&t, NULL, probe_thread, &v) != 0 ||
			    pthread_join(t, &r) != 0 || r != &v)
				_exit(101);
			_exit(PROBE_OK);
		}
		case PROBE_FORK:
			/* clone() as fork() makes it: no CLONE_THREAD */
			syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
			break;
		case PROBE_IOCTL_OTHER:
			if (syscall(SYS_ioctl, pipefd[1], FIOASYNC, &v) == -1 &&
			    errno == EPERM)
				_exit(PROBE_REFUSED);
			break;
		}
		_exit(PROBE_ALLOWED);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pipefd[0]);
	return status;
}

static void
assert_killed(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void
assert_exit(int status, int code)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), code);
}

/* Refused with an error, or killed: anything but going through. */
static void
assert_refused(int status)
{
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGSYS);
		return;
	}
	assert_exit(status, PROBE_REFUSED);
}

/* What none of the three may do. */
static void
test_every_program_forbids(void **state)
{
	static const enum probe killing[] = { PROBE_EXECVE,
#ifndef NYMD_SANITIZERS
	    PROBE_PTRACE,	/* LeakSanitizer's, in that build */
#endif
	    PROBE_SOCKET_PACKET, PROBE_LISTEN, PROBE_MPROTECT_EXEC,
	    PROBE_IOCTL_OTHER };

	for (int p = 0; p < N_PROGRAMS; p++) {
		assert_exit(run_probe(p, PROBE_WRITE), PROBE_OK);
		for (size_t i = 0; i < sizeof(killing) / sizeof(killing[0]); i++)
			assert_killed(run_probe(p, killing[i]));
		assert_refused(run_probe(p, PROBE_SOCKET_UNIX));
	}
}

/* A node links over TCP; the directory creates no socket, connects
 * nowhere and opens no file. */
static void
test_nodes_link_directory_does_not(void **state)
{
	assert_exit(run_probe(MIXNODE, PROBE_SOCKET_INET), PROBE_ALLOWED);
	assert_exit(run_probe(PROVIDER, PROBE_SOCKET_INET), PROBE_ALLOWED);
	assert_killed(run_probe(DIRECTORY, PROBE_SOCKET_INET));
	assert_killed(run_probe(DIRECTORY, PROBE_CONNECT));
	assert_killed(run_probe(DIRECTORY, PROBE_OPENAT));
}

/* The nodes start their Sphinx workers once confined: a thread, never a
 * process; the directory starts neither. */
static void
test_nodes_start_threads_not_processes(void **state)
{
	assert_exit(run_probe(MIXNODE, PROBE_THREAD), PROBE_OK);
	assert_exit(run_probe(PROVIDER, PROBE_THREAD), PROBE_OK);
	assert_killed(run_probe(DIRECTORY, PROBE_THREAD));
#ifndef NYMD_SANITIZERS
	/* (LeakSanitizer's clone is allowed in that build, to every role) */
	assert_killed(run_probe(MIXNODE, PROBE_FORK));
	assert_killed(run_probe(PROVIDER, PROBE_FORK));
	assert_killed(run_probe(DIRECTORY, PROBE_FORK));
#endif
}

/* Killed by its filter, a program names the call in its log (fd 2). */
static void
test_sigsys_names_the_call(void **state)
{
	for (int p = 0; p < N_PROGRAMS; p++) {
		char buf[512], want[128];
		int pipefd[2], status;
		ssize_t n;
		pid_t pid;

		snprintf(want, sizeof(want), "%s[", program_names[p]);
		assert_int_equal(pipe(pipefd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pipefd[0]);
			if (dup2(pipefd[1], STDERR_FILENO) == -1)
				_exit(100);
			confine(p);
			syscall(SYS_execve, "/bin/true", NULL, NULL);
			_exit(PROBE_ALLOWED);
		}
		close(pipefd[1]);
		n = read(pipefd[0], buf, sizeof(buf) - 1);
		close(pipefd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_killed(status);
		assert_true(n > 0);
		buf[n] = '\0';
		if (strstr(buf, want) != buf ||
		    strstr(buf, "system call execve") == NULL)
			fail_msg("%s: got '%s'", program_names[p], buf);
	}
}

/* Runs steps() in a child confined as p, in an empty data directory;
 * returns its wait status. */
static int
in_child(enum program p, int (*steps)(void))
{
	char cmd[256];
	int status;
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -m 700 '%s'", data_dir,
	    data_dir);
	assert_int_equal(system(cmd), 0);
	pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		confine(p);
		_exit(steps());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

#define LEN	20u			/* seconds */
#define E0	1000u			/* an epoch */
#define MS(e, into_s)	(((uint64_t)(e) * LEN + (into_s)) * 1000)

/*
 * A long run's file work, compressed: two key epochs go by (new keys and
 * replay stores made, the expired ones removed), a tag is logged, synced
 * and snapshotted; the key beside the data directory, and any file
 * outside it, cannot be opened (where the kernel has Landlock).
 */
static int
node_steps(void)
{
	char err[EPOCHKEYS_ERR_BYTES], outside[128];
	struct replay_params rp = { .packets_per_second = 1000,
	    .epoch_seconds = 1, .false_positive_rate = 1e-6 };
	uint8_t alpha[REPLAYDB_RECORD_BYTES];
	struct epochkeys *ek;
	struct epochkey *k;
	size_t n;
	int changed;

	if (epochkeys_open(&ek, data_dir, &rp, MS(E0, 1), err, sizeof(err)) ||
	    epochkeys_update(ek, LEN, MS(E0, 1), &changed, err, sizeof(err)) ||
	    epochkeys_update(ek, LEN, MS(E0, 10), &changed, err, sizeof(err)))
		return 10;
	k = epochkeys_all(ek, &n);
	memset(alpha, 9, sizeof(alpha));
	if (n != 2 || k[0].rdb == NULL || replaydb_append(k[0].rdb, alpha) ||
	    replaydb_sync(k[0].rdb) || replaydb_snapshot(k[0].rdb))
		return 11;
	if (epochkeys_update(ek, LEN, MS(E0 + 1, 0), &changed, err, sizeof(err)) ||
	    epochkeys_update(ek, LEN, MS(E0 + 1, 10), &changed, err, sizeof(err)) ||
	    epochkeys_update(ek, LEN, MS(E0 + 2, 10), &changed, err, sizeof(err)))
		return 12;
	k = epochkeys_all(ek, &n);
	if (n != 2 || k[0].epoch != E0 + 2)
		return 13;
	epochkeys_close(ek);
	if (landlock_abi < 1)
		return 0;
	snprintf(outside, sizeof(outside), "%s/planted", home);
	if (open(key_file, O_RDONLY) != -1 || errno != EACCES)
		return 14;
	if (open(outside, O_CREAT | O_WRONLY, 0600) != -1 || errno != EACCES)
		return 15;
	return 0;
}

static void
test_node_rotates_keys_in_its_data_dir(void **state)
{
	assert_exit(in_child(MIXNODE, node_steps), 0);
	assert_exit(in_child(PROVIDER, node_steps), 0);
}

/* The provider's mailbox store, in its sandbox: open (WAL, reserve),
 * register, put, pull, ack, close. */
static int
provider_steps(void)
{
	uint8_t client[STORE_CLIENT_BYTES], token[STORE_TOKEN_BYTES];
	uint8_t packet[64];
	struct store_item item;
	struct store *s;
	char path[128];
	size_t n, left;

	snprintf(path, sizeof(path), "%s/%s", data_dir, PROVIDER_DB_FILE);
	memset(client, 1, sizeof(client));
	memset(packet, 2, sizeof(packet));
	if (store_open(&s, path, NULL) != STORE_OK)
		return 20;
	if (store_register(s, client, token) != STORE_OK ||
	    store_put(s, client, packet, sizeof(packet)) != STORE_OK ||
	    store_pull(s, client, 1, &item, &n, &left) != STORE_OK || n != 1 ||
	    store_ack(s, client, &item.id, 1) != STORE_OK)
		return 21;
	store_close(s);
	return 0;
}

static void
test_provider_store_in_its_sandbox(void **state)
{
	assert_exit(in_child(PROVIDER, provider_steps), 0);
}

static int
setup(void **state)
{
	int fd;

	/* The log's time zone is read now, as each program does first. */
	log_init("test", LOG_LEVEL_OFF);
	landlock_abi = sandbox_landlock_abi();
	if (sodium_init() < 0 || mkdtemp(home) == NULL)
		return -1;
	snprintf(key_file, sizeof(key_file), "%s/private_key.pem", home);
	snprintf(data_dir, sizeof(data_dir), "%s/data", home);
	if ((fd = open(key_file, O_CREAT | O_WRONLY, 0600)) == -1 ||
	    mkdir(data_dir, 0700) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_program_forbids),
		cmocka_unit_test(test_nodes_link_directory_does_not),
		cmocka_unit_test(test_nodes_start_threads_not_processes),
		cmocka_unit_test(test_sigsys_names_the_call),
		cmocka_unit_test(test_node_rotates_keys_in_its_data_dir),
		cmocka_unit_test(test_provider_store_in_its_sandbox),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
