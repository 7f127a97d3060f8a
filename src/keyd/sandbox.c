#include <config.h>

#include "common/sandbox.h"
#include "keyd/keyd.h"

/*
 * keyd only computes and answers over its inherited channels: no socket,
 * no open, no exec, no ioctl. Its key lives in sodium_malloc'd pages,
 * which sodium_free unlocks (munlock) and unprotects (mprotect, never to
 * executable: the base list's rule). Landlock without a single path: not
 * one file, even where seccomp would let it through.
 */
static const struct sandbox_call keyd_calls[] = {
	SANDBOX_ANY("munlock"),
	SANDBOX_END,
};

const struct sandbox_policy keyd_policy = {
	.role = "keyd",
	.paths = NULL,
	.npaths = 0,
	.calls = keyd_calls,
};
