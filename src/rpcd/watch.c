/*
 * The watchers of delivery status: a list of connections, each with the
 * changes held for it, oldest first.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "rpcd/queue.h"
#include "rpcd/watch.h"

struct watcher {
	struct watch_list	*list;
	struct watcher		*next;
	struct watcher		*prev;
	void			(*ready)(void *);
	void			*arg;
	/* Held changes: held[start .. n), oldest first. */
	struct queue_status	*held;
	size_t			 start;
	size_t			 n;
	size_t			 cap;
	unsigned long long	 dropped;
};

struct watch_list {
	struct watcher	*first;
	size_t		 count;
};

struct watch_list *
watch_list_new(void)
{
	return xcalloc(1, sizeof(struct watch_list));
}

void
watch_list_free(struct watch_list *l)
{
	if (l == NULL)
		return;
	if (l->first != NULL)
		fatalx("watch_list_free: %zu connections still watch", l->count);
	free(l);
}

struct watcher *
watcher_add(struct watch_list *l, void (*ready)(void *), void *arg)
{
	struct watcher *w = xcalloc(1, sizeof(*w));

	w->list = l;
	w->ready = ready;
	w->arg = arg;
	w->next = l->first;
	if (l->first != NULL)
		l->first->prev = w;
	l->first = w;
	l->count++;
	return w;
}

void
watcher_remove(struct watcher *w)
{
	if (w == NULL)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->list->first = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->list->count--;
	free(w->held);
	free(w);
}

size_t
watch_count(const struct watch_list *l)
{
	return l != NULL ? l->count : 0;
}

/*
 * Holds st for w, last. A watcher holding WATCH_MAX_HELD changes reads
 * too slowly: st then replaces the message's latest change held, if any,
 * else the oldest change held is dropped for it.
 */
static void
watcher_hold(struct watcher *w, const struct queue_status *st)
{
	if (w->n - w->start == WATCH_MAX_HELD) {
		for (size_t i = w->n; i-- > w->start; ) {
			if (memcmp(w->held[i].msgid, st->msgid, QUEUE_MSGID_BYTES) == 0) {
				w->held[i] = *st;
				return;
			}
		}
		if (w->dropped++ == 0)
			log_warnx("a watching connection does not read its status "
			    "changes: %d are held, the oldest are dropped",
			    WATCH_MAX_HELD);
		w->start++;
	}
	if (w->start > 0 && w->n == w->cap) {
		memmove(w->held, w->held + w->start,
		    (w->n - w->start) * sizeof(*w->held));
		w->n -= w->start;
		w->start = 0;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->held = xreallocarray(w->held, w->cap, sizeof(*w->held));
	}
	w->held[w->n++] = *st;
}

void
watch_changed(struct watch_list *l, const struct queue_status *st)
{
	if (l == NULL)
		return;
	for (struct watcher *w = l->first; w != NULL; w = w->next) {
		watcher_hold(w, st);
		w->ready(w->arg);
	}
}

int
watcher_next(struct watcher *w, struct queue_status *st)
{
	if (w->start == w->n)
		return 0;
	*st = w->held[w->start++];
	if (w->start == w->n) {
		w->start = w->n = 0;
		if (w->dropped > 0) {
			log_info("a watching connection read again; %llu changes "
			    "were dropped meanwhile", w->dropped);
			w->dropped = 0;
		}
	}
	return 1;
}
