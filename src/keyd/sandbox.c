#include <config.h>

#include <sys/mman.h>

#include "common/sandbox.h"
#include "keyd/keyd.h"

int
keyd_sandbox(void)
{
	/* keyd only computes and answers over its inherited channels. Its
	 * key lives in sodium_malloc'd pages, which sodium_free unlocks and
	 * unprotects: munlock and mprotect, but never to executable. */
	static const char *const calls[] = { "munlock", NULL };
	scmp_filter_ctx ctx = sandbox_filter_new();

	if (ctx == NULL)
		return -1;
	if (sandbox_allow(ctx, calls) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0) {
		seccomp_release(ctx);
		return -1;
	}
	return sandbox_load(ctx);
}
