/*
 * The connections watching the delivery status of sent messages (the
 * socket API's watch, docs/socket-api.md). The store has one status hook
 * (queue_on_status()): rpcd hands each change to watch_changed(), which
 * holds it for every watcher and tells the watcher's owner, a unix, TCP
 * or websocket connection, which takes the held changes with
 * watcher_next() when it may write: after its answers, while its output
 * is below its bound. A watcher is given every change, in order, while
 * it holds fewer than WATCH_MAX_HELD; beyond, a change replaces the
 * latest held of its message, or else the oldest held is dropped (a
 * watcher that does not read loses changes, never nymd its memory;
 * status still tells every message's state).
 */
#ifndef NYMD_RPCD_WATCH_H
#define NYMD_RPCD_WATCH_H

#include <stddef.h>

struct queue_status;
struct watch_list;
struct watcher;

#define WATCH_MAX_HELD	4096

struct watch_list *watch_list_new(void);
/* Every watcher must have been removed. */
void	watch_list_free(struct watch_list *);
/*
 * A connection starts watching. ready(arg) is called from watch_changed()
 * whenever a change is held for it: the owner should write soon, never
 * from within ready() (which runs inside the store's commit, possibly in
 * the middle of an answer being made).
 */
struct watcher *watcher_add(struct watch_list *, void (*ready)(void *), void *arg);
/* The connection closes: it stops watching; its held changes are gone. */
void	watcher_remove(struct watcher *);
/* A change of one message's state: held for every watcher. */
void	watch_changed(struct watch_list *, const struct queue_status *);
/* Takes the oldest held change: 1 with *st, 0 when none is held. */
int	watcher_next(struct watcher *, struct queue_status *st);
size_t	watch_count(const struct watch_list *);

#endif
