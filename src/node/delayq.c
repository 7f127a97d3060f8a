/*
 * Binary min-heap of (release time, arrival sequence, item).  The sequence
 * number makes equal release times leave in arrival order, so a run of
 * zero-delay packets keeps its order through a node.
 */
#include <config.h>

#include <stdlib.h>

#include "node/delayq.h"

#define DELAYQ_INITIAL_ITEMS	64

struct delayq_entry {
	uint64_t	 release_ms;
	uint64_t	 seq;
	void		*item;
};

struct delayq {
	struct delayq_entry	*heap;
	size_t			 len;
	size_t			 cap;
	size_t			 max_items;
	uint64_t		 next_seq;
};

struct delayq *
delayq_new(size_t max_items)
{
	struct delayq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->max_items = max_items;
	return q;
}

void
delayq_free(struct delayq *q, void (*free_item)(void *))
{
	if (q == NULL)
		return;
	if (free_item != NULL)
		for (size_t i = 0; i < q->len; i++)
			free_item(q->heap[i].item);
	free(q->heap);
	free(q);
}

static int
delayq_before(const struct delayq_entry *a, const struct delayq_entry *b)
{
	if (a->release_ms != b->release_ms)
		return a->release_ms < b->release_ms;
	return a->seq < b->seq;
}

static int
delayq_grow(struct delayq *q)
{
	struct delayq_entry *h;
	size_t cap = q->cap ? q->cap * 2 : DELAYQ_INITIAL_ITEMS;

	if (q->max_items != 0 && cap > q->max_items)
		cap = q->max_items;
	if (cap <= q->cap || cap > SIZE_MAX / sizeof(*h))
		return DELAYQ_ERR_NOMEM;
	if ((h = realloc(q->heap, cap * sizeof(*h))) == NULL)
		return DELAYQ_ERR_NOMEM;
	q->heap = h;
	q->cap = cap;
	return DELAYQ_OK;
}

int
delayq_push(struct delayq *q, uint64_t release_ms, void *item)
{
	struct delayq_entry e;
	size_t i;

	if (q->max_items != 0 && q->len >= q->max_items)
		return DELAYQ_ERR_FULL;
	if (q->len == q->cap && delayq_grow(q) != DELAYQ_OK)
		return DELAYQ_ERR_NOMEM;
	e.release_ms = release_ms;
	e.seq = q->next_seq++;
	e.item = item;
	/* Sift up: move parents down until e's place is found. */
	for (i = q->len++; i > 0; ) {
		size_t parent = (i - 1) / 2;
		if (!delayq_before(&e, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = e;
	return DELAYQ_OK;
}

int
delayq_next(const struct delayq *q, uint64_t *release_ms)
{
	if (q->len == 0)
		return DELAYQ_ERR_EMPTY;
	*release_ms = q->heap[0].release_ms;
	return DELAYQ_OK;
}

void *
delayq_pop_due(struct delayq *q, uint64_t now_ms)
{
	struct delayq_entry last;
	void *item;
	size_t i, n;

	if (q->len == 0 || q->heap[0].release_ms > now_ms)
		return NULL;
	item = q->heap[0].item;
	last = q->heap[--q->len];
	n = q->len;
	/* Sift the last entry down from the root. */
	for (i = 0; ; ) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && delayq_before(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!delayq_before(&q->heap[c], &last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (n > 0)
		q->heap[i] = last;
	return item;
}

size_t
delayq_len(const struct delayq *q)
{
	return q->len;
}

size_t
delayq_memory(const struct delayq *q)
{
	return q->cap * sizeof(struct delayq_entry);
}
