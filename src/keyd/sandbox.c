#include <config.h>

#include "common/sandbox.h"
#include "keyd/keyd.h"

int
keyd_sandbox(void)
{
	/* keyd only computes and answers over its inherited channels: the
	 * base list is all it needs. */
	scmp_filter_ctx ctx = sandbox_filter_new();

	if (ctx == NULL)
		return -1;
	return sandbox_load(ctx);
}
