#include <config.h>

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/secret.h"

/*
 * Calls every role makes after its set-up: the libevent loop (epoll),
 * IPC (sendmsg/recvmsg with descriptors), memory management but never
 * executable memory, time, libsodium's getrandom, and exiting.
 */
static const struct sandbox_call sandbox_base[] = {
	SANDBOX_ANY("read"), SANDBOX_ANY("write"), SANDBOX_ANY("readv"),
	SANDBOX_ANY("writev"), SANDBOX_ANY("close"), SANDBOX_ANY("lseek"),
	SANDBOX_ANY("sendmsg"), SANDBOX_ANY("recvmsg"), SANDBOX_ANY("fcntl"),
	SANDBOX_ANY("fstat"), SANDBOX_ANY("newfstatat"), SANDBOX_ANY("statx"),
	SANDBOX_ANY("epoll_wait"), SANDBOX_ANY("epoll_pwait"),
	SANDBOX_ANY("epoll_ctl"), SANDBOX_ANY("epoll_create1"),
	SANDBOX_ANY("poll"), SANDBOX_ANY("ppoll"), SANDBOX_ANY("select"),
	SANDBOX_ANY("pselect6"),
	/* No executable memory: injected code stays data. mprotect also
	 * serves sodium_malloc's guard pages and thread stacks. */
	SANDBOX_ANY("brk"), SANDBOX_NOBITS("mmap", 2, PROT_EXEC),
	SANDBOX_NOBITS("mprotect", 2, PROT_EXEC), SANDBOX_ANY("munmap"),
	SANDBOX_ANY("mremap"), SANDBOX_ANY("madvise"),
	SANDBOX_ANY("clock_gettime"), SANDBOX_ANY("gettimeofday"),
	SANDBOX_ANY("clock_nanosleep"), SANDBOX_ANY("nanosleep"),
	SANDBOX_ANY("getpid"), SANDBOX_ANY("gettid"), SANDBOX_ANY("getuid"),
	SANDBOX_ANY("geteuid"), SANDBOX_ANY("getgid"), SANDBOX_ANY("getegid"),
	SANDBOX_ANY("futex"), SANDBOX_ANY("getrandom"), SANDBOX_ANY("sched_yield"),
	/* Any handler but SIGSYS's: the filter traps what it forbids, and
	 * a process that replaced sandbox_on_sigsys() would live on. */
	{ "rt_sigaction", 0, SCMP_CMP_NE, SIGSYS, 0, 0 }, SANDBOX_ANY("rt_sigprocmask"),
	SANDBOX_ANY("rt_sigreturn"), SANDBOX_ANY("sigaltstack"),
	SANDBOX_ANY("restart_syscall"), SANDBOX_ANY("exit"),
	SANDBOX_ANY("exit_group"),
	/* isatty() (stdio asks it of a character device): "not a tty". */
	SANDBOX_FAIL("ioctl", 1, TCGETS, ENOTTY),
#ifdef NYMD_SANITIZERS
	/* What the ASan/UBSan runtimes call while the process runs (opening
	 * files stays forbidden, so a report may be cut short). */
	SANDBOX_ANY("readlink"), SANDBOX_ANY("prctl"), SANDBOX_ANY("getrlimit"),
	SANDBOX_ANY("prlimit64"), SANDBOX_ANY("sched_getaffinity"),
#endif
	SANDBOX_END,
};

/* Threads: set_robust_list and rseq at start, clone() only for a thread. */
static const struct sandbox_call sandbox_threads[] = {
	SANDBOX_ANY("set_robust_list"), SANDBOX_ANY("rseq"),
	/* glibc falls back to clone() when clone3() says ENOSYS. */
	{ "clone3", -1, SCMP_CMP_EQ, 0, 0, ENOSYS },
	{ "clone", 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD, 0 },
	SANDBOX_END,
};

/*
 * A role killed by its filter says which system call did it: the filter's
 * default action is SECCOMP_RET_TRAP, whose SIGSYS carries the call's
 * number (si_syscall), and this handler writes one line naming it to the
 * log, with async-signal-safe calls only, then ends the process by SIGSYS
 * as SECCOMP_RET_KILL_PROCESS would. The call itself never runs either
 * way. The names are looked up before the filter goes in.
 */
#define SANDBOX_MAX_SYSCALL	512
static char *sandbox_syscall_names[SANDBOX_MAX_SYSCALL];
static char sandbox_sigsys_role[32];
static int sandbox_sigsys_fd = STDERR_FILENO;

static size_t
sandbox_append(char *buf, size_t at, size_t size, const char *s)
{
	while (*s != '\0' && at + 1 < size)
		buf[at++] = *s++;
	return at;
}

static size_t
sandbox_append_num(char *buf, size_t at, size_t size, long v)
{
	char digits[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 && n < sizeof(digits) - 1);
	if (v < 0 && at + 1 < size)
		buf[at++] = '-';
	while (n > 0 && at + 1 < size)
		buf[at++] = digits[--n];
	return at;
}

static void
sandbox_on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char line[256];
	size_t n = 0;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < SANDBOX_MAX_SYSCALL &&
	    sandbox_syscall_names[nr] != NULL ? sandbox_syscall_names[nr] : "unknown";

	(void)sig;
	(void)ctx;
	n = sandbox_append(line, n, sizeof(line), sandbox_sigsys_role);
	n = sandbox_append(line, n, sizeof(line), "[");
	n = sandbox_append_num(line, n, sizeof(line), (long)getpid());
	n = sandbox_append(line, n, sizeof(line), "] fatal: killed by its sandbox: "
	    "system call ");
	n = sandbox_append(line, n, sizeof(line), name);
	n = sandbox_append(line, n, sizeof(line), " (");
	n = sandbox_append_num(line, n, sizeof(line), nr);
	n = sandbox_append(line, n, sizeof(line), ") is not allowed\n");
	(void)!write(sandbox_sigsys_fd, line, n);
	/* SIGSYS is blocked in its handler: a second trapped call makes the
	 * kernel end the process by SIGSYS. No role may reboot. */
	syscall(SYS_reboot, 0, 0, 0, NULL);
	_exit(128 + SIGSYS);
}

/* Before the filter: the names, where the log goes, and the handler. */
static int
sandbox_sigsys_install(const char *role)
{
	struct sigaction sa;

	for (int nr = 0; nr < SANDBOX_MAX_SYSCALL; nr++)
		if (sandbox_syscall_names[nr] == NULL)
			sandbox_syscall_names[nr] =
			    seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	snprintf(sandbox_sigsys_role, sizeof(sandbox_sigsys_role), "%s",
	    role != NULL ? role : "nymd");
	sandbox_sigsys_fd = log_fd() >= 0 ? log_fd() : STDERR_FILENO;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL);
}

static int
sandbox_add(scmp_filter_ctx ctx, const struct sandbox_call *calls)
{
	for (const struct sandbox_call *c = calls; c->name != NULL; c++) {
		int nr = seccomp_syscall_resolve_name(c->name);
		uint32_t action = c->fail != 0 ? SCMP_ACT_ERRNO((uint32_t)c->fail) :
		    SCMP_ACT_ALLOW;
		int rc;

		if (nr == __NR_SCMP_ERROR)
			return -1;
		if (c->arg < 0)
			rc = seccomp_rule_add(ctx, action, nr, 0);
		else
			rc = seccomp_rule_add(ctx, action, nr, 1, (struct scmp_arg_cmp){
			    .arg = (unsigned int)c->arg, .op = c->op,
			    .datum_a = c->a, .datum_b = c->b });
		if (rc != 0)
			return -1;
	}
	return 0;
}

int
sandbox_seccomp_lists(const struct sandbox_call *const *lists, int fail_errno)
{
	/* TRAP, not KILL_PROCESS: sandbox_on_sigsys() names the call,
	 * then ends the process by SIGSYS all the same. */
	scmp_filter_ctx ctx = seccomp_init(fail_errno != 0 ?
	    SCMP_ACT_ERRNO((uint32_t)fail_errno) : SCMP_ACT_TRAP);
	int rc = -1;

	if (ctx == NULL)
		return -1;
	for (size_t i = 0; lists[i] != NULL; i++)
		if (sandbox_add(ctx, lists[i]) == -1)
			goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && seccomp_load(ctx) == 0)
		rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

int
sandbox_seccomp(const struct sandbox_policy *p)
{
	const struct sandbox_call *lists[5];
	size_t n = 0;

	if (sandbox_sigsys_install(p->role) == -1)
		return -1;
	lists[n++] = sandbox_base;
	if (p->calls != NULL)
		lists[n++] = p->calls;
	if (p->more_calls != NULL)
		lists[n++] = p->more_calls;
	if (p->threads)
		lists[n++] = sandbox_threads;
	lists[n] = NULL;
	return sandbox_seccomp_lists(lists, 0);
}

/* Any capability left in the permitted, effective, inheritable or
 * ambient set. */
static int
sandbox_any_capability(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return 1;
	for (int i = 0; i < 2; i++)
		if (data[i].permitted | data[i].effective | data[i].inheritable)
			return 1;
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			return 1;
	return 0;
}

/* What the start-up line says is in force besides seccomp: Landlock,
 * locked memory, capabilities. */
static void
sandbox_describe(char *out, size_t len)
{
	char ll[48], ml[96];
	int abi = sandbox_landlock_abi();

	if (abi > 0)
		snprintf(ll, sizeof(ll), "Landlock ABI %d", abi);
	else
		snprintf(ll, sizeof(ll), "Landlock off (%s)", abi == 0 ?
		    "not in this kernel" : "refused by a filter");
	if (secret_mlock_works())
		snprintf(ml, sizeof(ml), "mlock works");
	else
		snprintf(ml, sizeof(ml), "mlock refused (%s: raise LimitMEMLOCK)",
		    strerror(errno));
	snprintf(out, len, "%s, %s, %s", ll, ml, sandbox_any_capability() ?
	    "CAPABILITIES LEFT" : "no capabilities");
}

int
sandbox_confine(const struct sandbox_policy *p, uid_t uid, gid_t gid)
{
	char desc[256];

	if (p->prepare != NULL && p->prepare() == -1) {
		log_warnx("%s: cannot prepare the sandbox", p->role);
		return -1;
	}
	if (sandbox_drop_privileges(uid, gid) == -1) {
		log_warn("%s: cannot drop privileges", p->role);
		return -1;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1) {
		log_warn("%s: cannot ask to die with master", p->role);
		return -1;
	}
	/* Also done at start; a credential change may have undone it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warn("%s: cannot make the process undumpable", p->role);
		return -1;
	}
	if (sandbox_landlock_role(p->role, p->paths, p->npaths) == -1) {
		log_warn("cannot confine %s with Landlock", p->role);
		return -1;
	}
	/* Asked before the filter, which may forbid the asking. */
	sandbox_describe(desc, sizeof(desc));
	if (sandbox_seccomp(p) == -1) {
		log_warnx("cannot install %s's seccomp filter", p->role);
		return -1;
	}
	/* sandbox_seccomp() set no_new_privs before loading the filter. */
	log_info("%s sandbox: seccomp allow-list, no_new_privs, %s", p->role, desc);
	return 0;
}

int
sandbox_confine_self(const struct sandbox_policy *p)
{
	char desc[256];

	if (p->prepare != NULL && p->prepare() == -1) {
		log_warnx("%s: cannot prepare the sandbox", p->role);
		return -1;
	}
	/* Started as root (or given capabilities), it needs none now: its
	 * ports are bound and its keys read. */
	if (sandbox_privileged() && sandbox_shed_capabilities() == -1) {
		log_warn("%s: cannot give up its capabilities", p->role);
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warn("%s: cannot make the process undumpable", p->role);
		return -1;
	}
	if (sandbox_landlock_role(p->role, p->paths, p->npaths) == -1) {
		log_warn("cannot confine %s with Landlock", p->role);
		return -1;
	}
	sandbox_describe(desc, sizeof(desc));
	if (sandbox_seccomp(p) == -1) {
		log_warnx("cannot install %s's seccomp filter", p->role);
		return -1;
	}
	log_info("%s sandbox: seccomp allow-list, no_new_privs, %s", p->role, desc);
	return 0;
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

/* The capabilities this process may use (its permitted set). */
static uint64_t
sandbox_permitted(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return 0;
	return (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
}

int
sandbox_master_check(char *why, size_t whylen)
{
	static const struct { int cap; const char *name; } need[] = {
		{ CAP_SETUID, "SETUID" }, { CAP_SETGID, "SETGID" },
		{ CAP_CHOWN, "CHOWN" },
	};
	uint64_t have = sandbox_permitted();
	char missing[128] = "";

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(have & CAP_BIT(need[i].cap)))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
			    "%sCAP_%s", missing[0] ? ", " : "", need[i].name);
	/* Either one reads a root-owned client home (Docker grants only
	 * DAC_OVERRIDE, which covers reading and searching). */
	if (!(have & (CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_DAC_READ_SEARCH))))
		snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
		    "%sCAP_DAC_OVERRIDE", missing[0] ? ", " : "");
	if (missing[0] == '\0')
		return 0;
	snprintf(why, whylen, "started as root without %s, which nymd needs to "
	    "hand the client's home to its user and switch to it; grant %s (e.g. docker run "
	    "--cap-add), or start nymd as an unprivileged user", missing,
	    strchr(missing, ',') ? "them" : "it");
	return -1;
}

int
sandbox_shed_capabilities(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1)
		return -1;
	return capset_sets(0, 0, 0);
}

int
sandbox_drop_privileges(uid_t uid, gid_t gid)
{
	if (!sandbox_privileged())
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1 ||
	    setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1)
		return -1;
	if (capset_sets(0, 0, 0) == -1)
		return -1;
	/* A credential change sets the dumpable flag to fs.suid_dumpable,
	 * which may be 1 (and clears the parent-death signal, which
	 * sandbox_confine() sets again for a child). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
	/* A process that dropped everything must not be able to regain it. */
	if (uid != 0 && (setresuid((uid_t)-1, 0, (uid_t)-1) == 0 || sandbox_privileged())) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
