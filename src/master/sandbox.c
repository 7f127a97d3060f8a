/*
 * master's own seccomp allow-list. master starts, supervises and restarts
 * the children, which inherit this filter across fork and execve and add
 * their own: so it allows what the children do before their filters go
 * in (loading libraries, opening the key and the store, binding sockets,
 * Landlock, seccomp),
 * and what master does (fork, exec, signals, IPC, the log, sd_notify,
 * reading the configuration on SIGHUP). It refuses, with EPERM, what no
 * nymd process does: tracing or reading other processes' memory
 * (ptrace, process_vm_readv), mounts and namespaces, kernel modules, BPF,
 * keyrings, and ioctls on a terminal other than asking whether it is one
 * (no TIOCSTI), among the rest.
 */
#include <config.h>

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/sandbox.h"
#include "master/master.h"

static const struct sandbox_call master_calls[] = {
	/* files: the configuration, the log, keys, the store, libraries */
	SANDBOX_ANY("openat"), SANDBOX_ANY("open"), SANDBOX_ANY("close"),
	SANDBOX_ANY("close_range"), SANDBOX_ANY("read"), SANDBOX_ANY("write"),
	SANDBOX_ANY("pread64"), SANDBOX_ANY("pwrite64"), SANDBOX_ANY("readv"),
	SANDBOX_ANY("writev"), SANDBOX_ANY("lseek"), SANDBOX_ANY("fstat"),
	SANDBOX_ANY("newfstatat"), SANDBOX_ANY("statx"), SANDBOX_ANY("stat"),
	SANDBOX_ANY("lstat"), SANDBOX_ANY("access"), SANDBOX_ANY("faccessat"),
	SANDBOX_ANY("faccessat2"), SANDBOX_ANY("readlink"), SANDBOX_ANY("readlinkat"),
	SANDBOX_ANY("getcwd"), SANDBOX_ANY("chdir"), SANDBOX_ANY("fchdir"),
	SANDBOX_ANY("mkdir"), SANDBOX_ANY("mkdirat"), SANDBOX_ANY("unlink"),
	SANDBOX_ANY("unlinkat"), SANDBOX_ANY("rename"), SANDBOX_ANY("renameat"),
	SANDBOX_ANY("renameat2"), SANDBOX_ANY("chmod"), SANDBOX_ANY("fchmod"),
	SANDBOX_ANY("fchmodat"), SANDBOX_ANY("chown"), SANDBOX_ANY("fchown"),
	SANDBOX_ANY("lchown"), SANDBOX_ANY("fchownat"), SANDBOX_ANY("umask"),
	SANDBOX_ANY("ftruncate"), SANDBOX_ANY("fsync"), SANDBOX_ANY("fdatasync"),
	SANDBOX_ANY("fcntl"), SANDBOX_ANY("flock"), SANDBOX_ANY("dup"),
	SANDBOX_ANY("dup2"), SANDBOX_ANY("dup3"), SANDBOX_ANY("pipe2"),
	SANDBOX_ANY("getdents64"), SANDBOX_ANY("fadvise64"), SANDBOX_ANY("memfd_create"),
	/* rpcd says how much space is left when a send cannot be stored */
	SANDBOX_ANY("statfs"), SANDBOX_ANY("fstatfs"),
	/* memory; executable mappings are the dynamic loader's in a
	 * freshly executed child, before its own filter forbids them */
	SANDBOX_ANY("brk"), SANDBOX_ANY("mmap"), SANDBOX_ANY("munmap"),
	SANDBOX_ANY("mremap"), SANDBOX_ANY("mprotect"), SANDBOX_ANY("madvise"),
	SANDBOX_ANY("mlock"), SANDBOX_ANY("munlock"),
	/* processes: start, exec, supervise, stop */
	SANDBOX_ANY("clone"), { "clone3", -1, SCMP_CMP_EQ, 0, 0, ENOSYS },
	SANDBOX_ANY("execve"), SANDBOX_ANY("wait4"), SANDBOX_ANY("waitid"),
	SANDBOX_ANY("exit"), SANDBOX_ANY("exit_group"), SANDBOX_ANY("kill"),
	SANDBOX_ANY("tgkill"), SANDBOX_ANY("getpid"), SANDBOX_ANY("gettid"),
	SANDBOX_ANY("getppid"), SANDBOX_ANY("getuid"), SANDBOX_ANY("geteuid"),
	SANDBOX_ANY("getgid"), SANDBOX_ANY("getegid"), SANDBOX_ANY("getresuid"),
	SANDBOX_ANY("getresgid"), SANDBOX_ANY("getgroups"), SANDBOX_ANY("setsid"),
	SANDBOX_ANY("prctl"), SANDBOX_ANY("arch_prctl"), SANDBOX_ANY("set_tid_address"),
	SANDBOX_ANY("set_robust_list"), SANDBOX_ANY("rseq"), SANDBOX_ANY("prlimit64"),
	SANDBOX_ANY("getrlimit"), SANDBOX_ANY("sched_getaffinity"),
	SANDBOX_ANY("sched_yield"), SANDBOX_ANY("uname"), SANDBOX_ANY("sysinfo"),
	SANDBOX_ANY("getrandom"), SANDBOX_ANY("futex"), SANDBOX_ANY("capget"),
	/* a child's confinement: Landlock and seccomp. No chroot, no change
	 * of user or capabilities: master, started as root, became the
	 * service user without any capability before this filter. */
	SANDBOX_ANY("landlock_create_ruleset"), SANDBOX_ANY("landlock_add_rule"),
	SANDBOX_ANY("landlock_restrict_self"), SANDBOX_ANY("seccomp"),
	/* time and signals */
	SANDBOX_ANY("clock_gettime"), SANDBOX_ANY("clock_nanosleep"),
	SANDBOX_ANY("nanosleep"), SANDBOX_ANY("gettimeofday"),
	SANDBOX_ANY("timerfd_create"), SANDBOX_ANY("timerfd_settime"),
	SANDBOX_ANY("timerfd_gettime"), SANDBOX_ANY("rt_sigaction"),
	SANDBOX_ANY("rt_sigprocmask"), SANDBOX_ANY("rt_sigreturn"),
	SANDBOX_ANY("sigaltstack"), SANDBOX_ANY("restart_syscall"),
	/* the event loops */
	SANDBOX_ANY("epoll_create1"), SANDBOX_ANY("epoll_ctl"), SANDBOX_ANY("epoll_wait"),
	SANDBOX_ANY("epoll_pwait"), SANDBOX_ANY("poll"), SANDBOX_ANY("ppoll"),
	SANDBOX_ANY("select"), SANDBOX_ANY("pselect6"), SANDBOX_ANY("eventfd2"),
	/* sockets: IPC, sd_notify and the journal (unix), rpcd's listeners
	 * and sock_diag, netd's network and resolver */
	SANDBOX_ARG("socket", 0, AF_UNIX), SANDBOX_ARG("socket", 0, AF_INET),
	SANDBOX_ARG("socket", 0, AF_INET6), SANDBOX_ARG("socket", 0, AF_NETLINK),
	SANDBOX_ANY("socketpair"), SANDBOX_ANY("connect"), SANDBOX_ANY("bind"),
	SANDBOX_ANY("listen"), SANDBOX_ANY("accept"), SANDBOX_ANY("accept4"),
	SANDBOX_ANY("getsockname"), SANDBOX_ANY("getpeername"),
	SANDBOX_ANY("getsockopt"), SANDBOX_ANY("setsockopt"), SANDBOX_ANY("sendto"),
	SANDBOX_ANY("recvfrom"), SANDBOX_ANY("sendmsg"), SANDBOX_ANY("recvmsg"),
	SANDBOX_ANY("sendmmsg"), SANDBOX_ANY("recvmmsg"), SANDBOX_ANY("shutdown"),
	/* isatty(), and what libevent and libcurl ask of sockets */
	SANDBOX_ARG("ioctl", 1, TCGETS), SANDBOX_ARG("ioctl", 1, FIONREAD),
	SANDBOX_ARG("ioctl", 1, FIONBIO),
#ifdef NYMD_SANITIZERS
	/* LeakSanitizer stops the world at master's exit: a clone lists
	 * the threads (getdents on x86-64) and ptraces them */
	SANDBOX_ANY("ptrace"), SANDBOX_ANY("getdents"), SANDBOX_ANY("mincore"),
	SANDBOX_ANY("rt_sigtimedwait"),
#endif
	SANDBOX_END,
};

int
master_sandbox(void)
{
	const struct sandbox_call *lists[] = { master_calls, NULL };

	return sandbox_seccomp_lists(lists, EPERM);
}
