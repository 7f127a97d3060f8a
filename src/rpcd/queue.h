/*
 * rpcd's durable message store (SQLite, WAL, synchronous=FULL) in the
 * client's data directory: the outgoing queue, nymd's only one (a message
 * stays until netd reports that the provider took its packet) and the received messages
 * (kept until an application fetches them; their ids stay afterwards so a
 * message delivered twice is shown once: for the duplicate window, at most
 * QUEUE_SEEN_MAX of them; docs/ipc.md, "Duplicates").
 *
 * A full disk (docs/ipc.md, "A full disk"): a reserve file next to the
 * store is given back when retiring a delivered message or marking
 * messages fetched meets SQLITE_FULL, and new messages are refused until
 * it is whole again. A delivered message that still cannot be deleted is
 * kept apart in memory: never handed out again, deleted by queue_retry().
 */
#ifndef NYMD_RPCD_QUEUE_H
#define NYMD_RPCD_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QUEUE_MSGID_BYTES	16
#define QUEUE_KEY_BYTES		32
/*
 * The ids of fetched messages are remembered for duplicate_window_seconds
 * (nymd.conf(5), QUEUE_DEFAULT_WINDOW_SECONDS) after they arrived; at most
 * QUEUE_SEEN_MAX of them (the newest): beyond, the oldest are forgotten
 * before their window ends, and the log says so.
 */
#define QUEUE_DEFAULT_WINDOW_SECONDS	(7u * 24 * 3600)
#define QUEUE_SEEN_MAX			1000000u

struct queue;

struct queue_outgoing {
	uint64_t	 id;
	const uint8_t	*msgid;
	const uint8_t	*recipient;
	const uint8_t	*provider;
	const uint8_t	*message;
	size_t		 len;
};

/* path is opened; shown (or path if NULL) is what errors name. */
int	queue_open(struct queue **, const char *path, const char *shown,
	    char *err, size_t errlen);
void	queue_close(struct queue *);
/*
 * How long (seconds, at least 1) and how many (at least 1) ids of fetched
 * messages are remembered; now, if not NULL, stands for time() (tests).
 * queue_open() sets QUEUE_DEFAULT_WINDOW_SECONDS and QUEUE_SEEN_MAX.
 */
void	queue_set_window(struct queue *, uint32_t seconds, uint32_t max_ids,
	    time_t (*now)(void));
/* Commits a message to send; *id is its queue id. 0 or -1. */
int	queue_enqueue(struct queue *, const uint8_t msgid[QUEUE_MSGID_BYTES],
	    const uint8_t recipient[QUEUE_KEY_BYTES], const uint8_t provider[QUEUE_KEY_BYTES],
	    const uint8_t *msg, size_t len, uint64_t *id);
/* Calls cb for every queued message, oldest first, but those delivered
 * and kept apart. */
int	queue_each_outgoing(struct queue *, void (*cb)(void *, const struct queue_outgoing *),
	    void *arg);
/* Likewise for at most max messages with an id above after (ids only
 * grow); and for message id alone. The count, or -1. */
long	queue_outgoing_after(struct queue *, uint64_t after, size_t max,
	    void (*cb)(void *, const struct queue_outgoing *), void *arg);
long	queue_outgoing_one(struct queue *, uint64_t id,
	    void (*cb)(void *, const struct queue_outgoing *), void *arg);
/* The provider has the packet of message id: forget it. -1 if it could
 * not be deleted yet: then it is kept apart until queue_retry(). */
int	queue_sent(struct queue *, uint64_t id);
/* Tries again to delete what queue_sent() could not; how many are left. */
size_t	queue_retry(struct queue *);
size_t	queue_retired_count(const struct queue *);
/*
 * Why the last write failed, with the store's path and the space left:
 * "no space left on device (/home/u/.nym/data/nymd.db, 0 KiB left)".
 */
const char *queue_error(const struct queue *);
/* Commits a received message; returns 0 when new, 1 for a duplicate, -1. */
int	queue_receive(struct queue *, const uint8_t msgid[QUEUE_MSGID_BYTES],
	    const uint8_t *msg, size_t len);
/*
 * Hands every unfetched message to cb, oldest first (until cb returns 1:
 * the response is full, the rest stay for the next fetch), then calls done, and
 * marks them fetched in the same transaction, committed only if cb and
 * done all returned 0: a response that could not be made loses nothing.
 * Returns the count, or -1 with nothing marked.
 */
long	queue_fetch(struct queue *, int (*cb)(void *, const uint8_t *msg, size_t len),
	    int (*done)(void *), void *arg);
size_t	queue_outgoing_count(struct queue *);

/* What the store committed since it was opened (nymd's metrics). */
struct queue_counts {
	uint64_t	enqueued;	/* messages accepted from applications */
	uint64_t	sent;		/* deleted: the provider confirmed them */
	uint64_t	received;	/* new messages delivered to us */
	uint64_t	duplicates;	/* deliveries of a message already here */
	uint64_t	fetched;	/* handed to applications */
};
const struct queue_counts *queue_counts(const struct queue *);

#endif
