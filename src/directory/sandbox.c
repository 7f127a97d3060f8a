/*
 * nym-directory's sandbox (docs/threat-model.md): installed once the
 * allow-list is read and the HTTP port bound, before the first request.
 * The directory keeps everything in memory and answers on sockets it
 * accepts: it opens no file, creates no socket and connects nowhere.
 */
#include <config.h>

#include <stddef.h>
#include <sys/ioctl.h>

#include <jansson.h>

#include "common/sandbox.h"
#include "directory/sandbox.h"

static const struct sandbox_call directory_calls[] = {
	/* evhttp: accepting, its socket options, closing a connection */
	SANDBOX_ANY("accept"), SANDBOX_ANY("accept4"), SANDBOX_ANY("getsockopt"),
	SANDBOX_ANY("setsockopt"), SANDBOX_ANY("getsockname"),
	SANDBOX_ANY("getpeername"), SANDBOX_ANY("shutdown"),
	SANDBOX_ANY("sendto"), SANDBOX_ANY("recvfrom"),
	/* libevent asks how much a socket has to read; nothing else */
	SANDBOX_ARG("ioctl", 1, FIONREAD),
#ifdef NYMD_SANITIZERS
	/* LeakSanitizer stops the world at exit: a clone (not a thread)
	 * lists the threads and ptraces them (as master's list) */
	SANDBOX_ANY("clone"), SANDBOX_ANY("ptrace"), SANDBOX_ANY("getdents"),
	SANDBOX_ANY("mincore"), SANDBOX_ANY("rt_sigtimedwait"),
#endif
	SANDBOX_END,
};

/* jansson seeds its hash function from /dev/urandom at the first object
 * it makes: now, while files may be opened. */
static int
directory_sandbox_prepare(void)
{
	json_object_seed(0);
	return 0;
}

/* Landlock without a single path: not one file. */
const struct sandbox_policy directory_policy = {
	.role = "nym-directory",
	.paths = NULL,
	.npaths = 0,
	.calls = directory_calls,
	.prepare = directory_sandbox_prepare,
};

int
directory_sandbox(void)
{
	return sandbox_confine_self(&directory_policy);
}
