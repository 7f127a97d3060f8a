/*
 * Rate limit of the directory's writes, per source address: a token
 * bucket each, refilled at `per_second` up to `burst`.  The table holds
 * RATELIMIT_ADDRESSES addresses; when full, the one idle longest is
 * forgotten (it comes back with a full bucket, which it could have
 * anyway by waiting).  Time comes from the caller; no I/O.
 */
#ifndef NYMD_DIRECTORY_RATELIMIT_H
#define NYMD_DIRECTORY_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_ADDRESSES	1024
#define RATELIMIT_ADDR_BYTES	64	/* an address as text, with its NUL */

enum ratelimit_verdict {
	RATELIMIT_PASS = 0,
	RATELIMIT_REFUSE_FIRST,	/* refused, the first since the bucket was
				 * last full: log it */
	RATELIMIT_REFUSE,	/* refused again */
};

struct ratelimit;

/* per_second 0: no limit.  NULL out of memory. */
struct ratelimit *ratelimit_new(uint32_t per_second, uint32_t burst);
void	ratelimit_free(struct ratelimit *);
/* One write from addr at mono_ns. */
enum ratelimit_verdict ratelimit_take(struct ratelimit *, const char *addr,
	    int64_t mono_ns);

#endif
