#include <config.h>

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "common/sandbox.h"

/*
 * Calls every role makes after its set-up: the libevent loop (epoll),
 * IPC (sendmsg/recvmsg with descriptors), memory management, time,
 * libsodium's getrandom, and exiting.
 */
static const char *const sandbox_base[] = {
	"read", "write", "readv", "writev", "close", "lseek",
	"sendmsg", "recvmsg", "fcntl", "fstat", "newfstatat", "statx",
	"epoll_wait", "epoll_pwait", "epoll_ctl", "epoll_create1",
	"poll", "ppoll", "select", "pselect6",
	"brk", "mmap", "munmap", "mremap", "madvise",
	"clock_gettime", "gettimeofday", "clock_nanosleep", "nanosleep",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"futex", "getrandom", "sched_yield",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
#ifdef NYMD_SANITIZERS
	/* What the ASan/UBSan runtimes call while the process runs (opening
	 * files stays forbidden, so a report may be cut short). */
	"readlink", "prctl", "getrlimit", "prlimit64", "sched_getaffinity",
#endif
	NULL,
};

int
sandbox_allow(scmp_filter_ctx ctx, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			return -1;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			return -1;
	}
	return 0;
}

scmp_filter_ctx
sandbox_filter_new(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);

	if (ctx == NULL)
		return NULL;
	if (sandbox_allow(ctx, sandbox_base) == -1) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int
sandbox_allow_threads(scmp_filter_ctx ctx)
{
	static const char *const thread_calls[] = {
		"set_robust_list", "rseq", "mprotect", NULL,
	};

	if (sandbox_allow(ctx, thread_calls) == -1)
		return -1;
	/* glibc falls back to clone() when clone3() says ENOSYS. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0)
		return -1;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0)
		return -1;
	return 0;
}

int
sandbox_load(scmp_filter_ctx ctx)
{
	int rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		rc = -1;
	else if (seccomp_load(ctx) != 0)
		rc = -1;
	seccomp_release(ctx);
	return rc;
}

static int
capset_sets(uint64_t permitted, uint64_t effective, uint64_t inheritable)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].permitted = (uint32_t)permitted;
	data[1].permitted = (uint32_t)(permitted >> 32);
	data[0].effective = (uint32_t)effective;
	data[1].effective = (uint32_t)(effective >> 32);
	data[0].inheritable = (uint32_t)inheritable;
	data[1].inheritable = (uint32_t)(inheritable >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}

int
sandbox_privileged(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return geteuid() == 0;
	return data[0].effective != 0 || data[1].effective != 0;
}

#define CAP_BIT(c)	(UINT64_C(1) << (c))
#define MASTER_CAPS	(CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETGID) | \
			 CAP_BIT(CAP_SYS_CHROOT) | CAP_BIT(CAP_DAC_READ_SEARCH) | \
			 CAP_BIT(CAP_DAC_OVERRIDE))

int
sandbox_master_become(uid_t uid, gid_t gid)
{
	static const int caps[] = {
		CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT, CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE,
	};

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		return -1;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return -1;
	if (capset_sets(MASTER_CAPS, MASTER_CAPS, MASTER_CAPS) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, caps[i], 0, 0) == -1)
			return -1;
	return 0;
}

int
sandbox_drop_privileges(const char *chroot_dir, uid_t uid, gid_t gid)
{
	if (!sandbox_privileged())
		return 0;
	if (chroot_dir != NULL && chroot_dir[0] != '\0') {
		if (chroot(chroot_dir) == -1 || chdir("/") == -1)
			return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1)
		return -1;
	if (capset_sets(0, 0, 0) == -1)
		return -1;
	/* Credential changes clear the parent-death signal and set the
	 * dumpable flag to fs.suid_dumpable, which may be 1: set both again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
	/* A process that dropped everything must not be able to regain it. */
	if (uid != 0 && (setresuid((uid_t)-1, 0, (uid_t)-1) == 0 || sandbox_privileged())) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
