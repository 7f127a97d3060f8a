/*
 * The delay queue of a node: packets wait here for the delay their sender
 * chose.  A binary min-heap keyed by release time (ties in arrival order),
 * so that a push and a pop cost O(log n) with tens of thousands of packets
 * in flight, and the earliest release is always at the root: the node
 * drives the whole queue with ONE timer armed for delayq_next().
 *
 * The queue does not own its items; it never allocates after
 * delayq_new() except to grow its array (doubling, up to max_items).
 */
#ifndef NYMD_NODE_DELAYQ_H
#define NYMD_NODE_DELAYQ_H

#include <stddef.h>
#include <stdint.h>

enum delayq_error {
	DELAYQ_OK = 0,
	DELAYQ_ERR_FULL = -1,		/* max_items reached */
	DELAYQ_ERR_NOMEM = -2,
	DELAYQ_ERR_EMPTY = -3,
};

struct delayq;

/* max_items bounds the queue (and its memory); 0 means no bound. */
struct delayq	*delayq_new(size_t max_items);
/* Calls free_item (if not NULL) on every item still queued. */
void		 delayq_free(struct delayq *, void (*free_item)(void *));

int		 delayq_push(struct delayq *, uint64_t release_ms, void *item);
/* DELAYQ_OK with the earliest release time, or DELAYQ_ERR_EMPTY. */
int		 delayq_next(const struct delayq *, uint64_t *release_ms);
/* The earliest item if its release time is <= now_ms, else NULL. */
void		*delayq_pop_due(struct delayq *, uint64_t now_ms);
size_t		 delayq_len(const struct delayq *);
/* Bytes of the heap array (not of the items). */
size_t		 delayq_memory(const struct delayq *);

#endif /* NYMD_NODE_DELAYQ_H */
