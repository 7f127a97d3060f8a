/*
 * peer_tcp_uid(): the uid behind a loopback TCP peer, from the kernel's
 * socket table, over IPv4 and IPv6; as root, also for a peer whose socket
 * another user made; and a clear failure for a socket that is not TCP.
 */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpcd/peer.h"

/* A listener on the loopback address of family, its address in ss. */
static int
listen_loopback(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)ss, *len) == -1) {
		close(fd);
		return -1;	/* no IPv6 here */
	}
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

/* Connects to ss as uid (-1: as this process), accepts, and asks. */
static void
expect_uid(int family, uid_t as, uid_t want)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = listen_loopback(family, &ss, &len), cfd = -1, afd, diag;
	pid_t pid = -1;
	uid_t uid = 12345;

	if (lfd == -1)
		skip();
	if (as == (uid_t)-1) {
		cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(cfd, (struct sockaddr *)&ss, len), 0);
	} else {
		int sync[2];
		char c;
		assert_int_equal(pipe(sync), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(sync[1]);
			/* the socket is made by the other user */
			if (setresgid(as, as, as) == -1 || setresuid(as, as, as) == -1)
				_exit(1);
			int fd = socket(family, SOCK_STREAM, 0);
			if (fd == -1 || connect(fd, (struct sockaddr *)&ss, len) == -1)
				_exit(2);
			(void)read(sync[0], &c, 1);	/* until the parent has asked */
			_exit(0);
		}
		close(sync[0]);
		cfd = sync[1];
	}
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	diag = peer_diag_open();
	assert_true(diag >= 0);
	assert_int_equal(peer_tcp_uid(diag, afd, &uid), 0);
	assert_int_equal(uid, want);
	if (pid > 0) {
		int status;
		close(cfd);
		cfd = -1;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(diag);
	close(afd);
	if (cfd != -1)
		close(cfd);
	close(lfd);
}

static void
test_ipv4_own_uid(void **state)
{
	expect_uid(AF_INET, (uid_t)-1, getuid());
}

static void
test_ipv6_own_uid(void **state)
{
	expect_uid(AF_INET6, (uid_t)-1, getuid());
}

static void
test_other_user(void **state)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || pw == NULL)
		skip();		/* needs root to make a socket as another user */
	expect_uid(AF_INET, pw->pw_uid, pw->pw_uid);
	expect_uid(AF_INET6, pw->pw_uid, pw->pw_uid);
}

/* A unix socket pair has no TCP peer: a failure, not a uid. */
static void
test_not_tcp(void **state)
{
	int sv[2], diag = peer_diag_open();
	uid_t uid = 12345;

	assert_true(diag >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(peer_tcp_uid(diag, sv[0], &uid), -1);
	assert_int_equal(uid, 12345);
	assert_int_equal(peer_tcp_uid(-1, sv[0], &uid), -1);
	assert_int_equal(errno, EBADF);
	close(sv[0]);
	close(sv[1]);
	close(diag);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_own_uid),
		cmocka_unit_test(test_ipv6_own_uid),
		cmocka_unit_test(test_other_user),
		cmocka_unit_test(test_not_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
