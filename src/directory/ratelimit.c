/*
 * Per-address token buckets (ratelimit.h).  A linear scan of a fixed
 * table: RATELIMIT_ADDRESSES is small, and a write costs far more.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "directory/ratelimit.h"

#define RATELIMIT_NS_PER_S	1000000000.0

struct ratelimit_entry {
	char		 addr[RATELIMIT_ADDR_BYTES];	/* "" = free */
	double		 tokens;
	int64_t		 last_ns;
	int		 refusing;	/* refused since the bucket was last full */
};

struct ratelimit {
	double			 per_ns;
	double			 burst;
	struct ratelimit_entry	 e[RATELIMIT_ADDRESSES];
};

struct ratelimit *
ratelimit_new(uint32_t per_second, uint32_t burst)
{
	struct ratelimit *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->per_ns = per_second / RATELIMIT_NS_PER_S;
	r->burst = burst < 1 ? 1 : burst;
	return r;
}

void
ratelimit_free(struct ratelimit *r)
{
	free(r);
}

/* addr's entry, or a new one (a free slot, else the longest idle). */
static struct ratelimit_entry *
ratelimit_entry(struct ratelimit *r, const char *addr)
{
	struct ratelimit_entry *oldest = &r->e[0];

	for (size_t i = 0; i < RATELIMIT_ADDRESSES; i++) {
		struct ratelimit_entry *e = &r->e[i];

		if (strcmp(e->addr, addr) == 0)
			return e;
		if (e->addr[0] == '\0' || (oldest->addr[0] != '\0' &&
		    e->last_ns < oldest->last_ns))
			oldest = e;
	}
	memset(oldest, 0, sizeof(*oldest));
	strncpy(oldest->addr, addr, sizeof(oldest->addr) - 1);
	oldest->tokens = r->burst;
	return oldest;
}

enum ratelimit_verdict
ratelimit_take(struct ratelimit *r, const char *addr, int64_t mono_ns)
{
	struct ratelimit_entry *e;

	if (r->per_ns == 0)
		return RATELIMIT_PASS;
	e = ratelimit_entry(r, addr[0] != '\0' ? addr : "?");
	if (e->last_ns != 0 && mono_ns > e->last_ns)
		e->tokens += (double)(mono_ns - e->last_ns) * r->per_ns;
	if (e->tokens > r->burst)
		e->tokens = r->burst;
	e->last_ns = mono_ns;
	/* An episode of refusals ends when the bucket has filled up again. */
	if (e->tokens >= r->burst)
		e->refusing = 0;
	if (e->tokens >= 1) {
		e->tokens -= 1;
		return RATELIMIT_PASS;
	}
	if (e->refusing)
		return RATELIMIT_REFUSE;
	e->refusing = 1;
	return RATELIMIT_REFUSE_FIRST;
}
