/*
 * rpcd's durable message store (SQLite, WAL, synchronous=FULL) in the
 * client's data directory: the outgoing queue, nymd's only one (a packet
 * stays until its acknowledgement arrives, a reply's until netd reports
 * that the provider took it: docs/acks.md) and the received messages
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

#include "common/payload.h"

#define QUEUE_MSGID_BYTES	16
#define QUEUE_ACK_ID_BYTES	16	/* ACK_ID_BYTES (docs/acks.md) */
#define QUEUE_KEY_BYTES		32
/* Reply blocks (docs/replies.md): a sender tag, a block (SURB_BYTES), its
 * id, and its kept keys as keyd sealed them (MESSAGE_SEALED_KEYS_BYTES). */
#define QUEUE_TAG_BYTES		16
#define QUEUE_SURB_BYTES	456
#define QUEUE_SURB_ID_BYTES	16
#define QUEUE_SEALED_BYTES	744
/*
 * More blocks (docs/replies.md): a reply that leaves a tag QUEUE_MORE_AT
 * blocks sends one of them to ask its creator for QUEUE_MORE_ASK more;
 * the creator sends at most QUEUE_MAX_GRANT blocks for one tag in all
 * (those sent with the message included), QUEUE_SURBS_PER_PACKET to a
 * packet, and forgets a tag QUEUE_TAG_KEEP_SECONDS after it sent it.
 */
#define QUEUE_MORE_AT		2
#define QUEUE_MORE_ASK		4
#define QUEUE_MAX_GRANT		64
#define QUEUE_SURBS_PER_PACKET	PAYLOAD_MAX_SURBS
#define QUEUE_TAG_KEEP_SECONDS	(7 * 24 * 3600)
/*
 * The ids of fetched messages are remembered for duplicate_window_seconds
 * (nymd.conf(5), QUEUE_DEFAULT_WINDOW_SECONDS) after they arrived; at most
 * QUEUE_SEEN_MAX of them (the newest): beyond, the oldest are forgotten
 * before their window ends, and the log says so.
 */
#define QUEUE_DEFAULT_WINDOW_SECONDS	(7u * 24 * 3600)
#define QUEUE_SEEN_MAX			1000000u
/*
 * Fragments (docs/replies.md, "Fragments"): a message received in part is
 * dropped QUEUE_FRAGMENT_EXPIRY_SECONDS after its first fragment arrived;
 * one over max_message_bytes (queue_set_max_message(), by default
 * QUEUE_DEFAULT_MAX_MESSAGE_BYTES) is never kept.
 */
#define QUEUE_FRAGMENT_EXPIRY_SECONDS	(24 * 3600)
#define QUEUE_DEFAULT_MAX_MESSAGE_BYTES	(1024 * 1024)

struct queue;

struct queue_outgoing {
	uint64_t	 id;
	const uint8_t	*msgid;
	const uint8_t	*recipient;	/* a reply: zero */
	const uint8_t	*provider;	/* a reply: zero */
	const uint8_t	*message;
	size_t		 len;
	unsigned	 surbs;		/* reply blocks to make for it */
	int		 surbs_only;	/* a packet of blocks, no message */
	const uint8_t	*tag;		/* with blocks: the sender tag, else NULL */
	const uint8_t	*surb;		/* a reply: the block it goes through */
	unsigned	 frag_index;	/* a fragment: this part, from 0 */
	unsigned	 frag_count;	/* a fragment: parts in all; 0: whole */
	const uint8_t	*ack_id;	/* ACK_ID_BYTES; a reply: NULL */
	unsigned	 attempts;	/* times sent again unacknowledged */
	int		 with_provider;	/* awaiting its acknowledgement */
};

/* One packet of a message sent with reply blocks (queue_enqueue_rows()). */
struct queue_row {
	const uint8_t	*msgid;
	const uint8_t	*message;
	size_t		 len;
	unsigned	 surbs;
	int		 surbs_only;
};

/* A reply block's sealed kept keys (ours), and when they expire (Unix s). */
struct queue_keys {
	const uint8_t	*id;
	const uint8_t	*sealed;
	int64_t		 expires;
};

/* A received message (queue_receive_in()). */
struct queue_in {
	const uint8_t	*msgid;
	const uint8_t	*message;
	size_t		 len;
	const uint8_t	*tag;		/* it came with reply blocks, or NULL */
	int		 surbs_only;	/* blocks only: never shown by fetch */
	const uint8_t	*surbs;		/* n_surbs * QUEUE_SURB_BYTES */
	size_t		 n_surbs;
	const int64_t	*expires;	/* each block's, Unix s */
	const uint8_t	*surb_id;	/* a reply through our block, or NULL */
	unsigned	 more;		/* with surb_id: it asks for more blocks */
};

/* A received fragment of a message (queue_receive_fragment()). */
struct queue_fragment {
	const uint8_t	*msgid;
	unsigned	 index;
	unsigned	 count;
	const uint8_t	*bytes;
	size_t		 len;
};

/* A message handed out by queue_fetch(). */
struct queue_received {
	const uint8_t	*message;
	size_t		 len;
	const uint8_t	*msgid;		/* QUEUE_MSGID_BYTES */
	const uint8_t	*tag;		/* QUEUE_TAG_BYTES, or NULL */
};

/*
 * path is opened; shown (or path if NULL) is what errors name. A store of
 * an earlier schema is migrated in one transaction; a queued message
 * that no longer fits its packets beside an acknowledgement block is cut
 * again, or failed if it cannot be (docs/acks.md, "Upgrading").
 */
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
/*
 * Commits a message to send; *id is its queue id. 0 or -1. A message over
 * MESSAGE_MAX_BYTES is cut into payload_fragment_count() rows (each its
 * FRAGMENT), all committed in one transaction; *id is the first's.
 */
int	queue_enqueue(struct queue *, const uint8_t msgid[QUEUE_MSGID_BYTES],
	    const uint8_t recipient[QUEUE_KEY_BYTES], const uint8_t provider[QUEUE_KEY_BYTES],
	    const uint8_t *msg, size_t len, uint64_t *id);
/* Calls cb for every queued row, oldest first, but those delivered
 * and kept apart (also those with the provider: with_provider). */
int	queue_each_outgoing(struct queue *, void (*cb)(void *, const struct queue_outgoing *),
	    void *arg);
/* Likewise for row id alone, in any state: the count, or -1. */
long	queue_outgoing_one(struct queue *, uint64_t id,
	    void (*cb)(void *, const struct queue_outgoing *), void *arg);
/* Deletes row id (a reply whose packet the provider has: its message is
 * SENT). -1 if it could not be deleted yet: then it is kept apart until
 * queue_retry(). */
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
long	queue_fetch(struct queue *, int (*cb)(void *, const struct queue_received *),
	    int (*done)(void *), void *arg);
size_t	queue_outgoing_count(struct queue *);
/*
 * Fragments (see QUEUE_FRAGMENT_EXPIRY_SECONDS). queue_receive_fragment():
 * commits a fragment; 0 when it made its message whole (inserted into the
 * received messages in the same transaction that deleted its fragments,
 * and those of any other cut of it: a partial message is held per
 * message id, count of parts and their size, so that parts of a message
 * its sender cut again, e.g. after an upgrade, are never taken for
 * another cut's), 2 when it is stored and the message not whole yet, 1
 * when dropped (a copy of a part here, a message assembled already, a
 * message over the maximum), -1. Expired partial messages go first.
 * queue_expire_fragments(): only that (at start). queue_partial():
 * partial messages (one per cut) and fragments held.
 */
void	queue_set_max_message(struct queue *, size_t bytes);
int	queue_receive_fragment(struct queue *, const struct queue_fragment *);
int	queue_expire_fragments(struct queue *);
int	queue_partial(struct queue *, size_t *messages, size_t *fragments);

/*
 * Acknowledgements and delivery status (docs/acks.md). Every queue row
 * of a forward message has a random ack id (ACK_ID_BYTES) that keyd puts
 * in its packet; a row stays in the store until its acknowledgement
 * arrives (queue_acked()), and is sent again when none came by its
 * deadline, until the message's expiry (queue_set_expiry(), by default
 * QUEUE_DEFAULT_EXPIRY_SECONDS), when the message is failed. The state of
 * every message sent is kept QUEUE_STATUS_KEEP_SECONDS after it ended
 * (delivered or failed), for queue_status().
 */
#define QUEUE_DEFAULT_EXPIRY_SECONDS	(24u * 3600)
#define QUEUE_STATUS_KEEP_SECONDS	(7u * 24 * 3600)
enum queue_state {
	QUEUE_QUEUED = 0,	/* stored; no packet with the provider yet */
	QUEUE_SENDING = 1,	/* packets out; acked of packets acknowledged */
	QUEUE_DELIVERED = 2,	/* every packet acknowledged */
	QUEUE_FAILED = 3,	/* expired unacknowledged: reason */
	QUEUE_SENT = 4,		/* a reply: the provider has it (no ack) */
};
struct queue_status {
	uint8_t		 msgid[QUEUE_MSGID_BYTES];
	enum queue_state state;
	uint32_t	 packets;	/* rows (fragments) in all */
	uint32_t	 acked;		/* of them acknowledged */
	char		 reason[160];	/* QUEUE_FAILED: why, one line */
	int64_t		 changed;	/* Unix s of the last change */
};
/* How long (s, at least 1) a message queued from now on is tried before
 * it fails; queue_open() sets QUEUE_DEFAULT_EXPIRY_SECONDS. */
void	queue_set_expiry(struct queue *, uint32_t seconds);
/* 0 with *st, 1 when the store knows no message msgid (never sent, or
 * forgotten QUEUE_STATUS_KEEP_SECONDS after it ended), -1. */
int	queue_status(struct queue *, const uint8_t msgid[QUEUE_MSGID_BYTES],
	    struct queue_status *st);
/* cb is called after every committed change of a message's state or of
 * its acked count (one hook; NULL removes it). */
void	queue_on_status(struct queue *,
	    void (*cb)(void *, const struct queue_status *), void *arg);

/*
 * The life of a queued row (docs/acks.md; every call one transaction,
 * the status hook told after it; times are Unix ms, queue_now_ms(), which
 * follows queue_set_window()'s clock).
 *
 * queue_pending_ids(): the ids of at most max pending rows above after,
 * oldest first (kept-apart ones included): the count, or -1.
 * queue_handed(): the provider has row id's packet. A forward row waits
 * for its acknowledgement until deadline_ms (its message SENDING): 0; a
 * reply is deleted (queue_sent(), its message SENT): 1; 2 if there is no
 * such row (acknowledged or expired meanwhile); -1 if the reply could not
 * be deleted (kept apart); -2 if the forward row's state could not be
 * written (it stays pending).
 * queue_acked(): the acknowledgement ack_id arrived: its row is deleted,
 * its message's count grows (DELIVERED with the last), 0 and *id the
 * row's; 1 if no row has it (acknowledged already, expired, not ours);
 * -1 if it could not be committed (with the reserve's help on a full
 * disk, as queue_sent()).
 * queue_resend_due(): rows with the provider whose deadline passed by
 * now_ms are pending again (attempts + 1): how many, or -1.
 * queue_set_deadline(): a row with the provider gets another deadline
 * (its round trip came after it was handed): 0, 1 if it is not with the
 * provider, -1.
 * queue_next_due_ms(): the earliest deadline or expiry (Unix ms), 0 for
 * none.
 * queue_build_failed(): keyd could not build row id's packet, saying why;
 * kept as its message's reason should it expire (cleared when a packet
 * of it reaches the provider). 0 or -1.
 * queue_expire_messages(): messages whose expiry passed undelivered are
 * FAILED, with a reason, and their rows deleted (one log line each);
 * ended statuses older than QUEUE_STATUS_KEEP_SECONDS are forgotten. How
 * many failed, or -1.
 */
int64_t	queue_now_ms(const struct queue *);
long	queue_pending_ids(struct queue *, uint64_t after, uint64_t *ids, size_t max);
int	queue_handed(struct queue *, uint64_t id, int64_t deadline_ms);
int	queue_acked(struct queue *, const uint8_t ack_id[QUEUE_ACK_ID_BYTES],
	    uint64_t *id);
long	queue_resend_due(struct queue *, int64_t now_ms);
int	queue_set_deadline(struct queue *, uint64_t id, int64_t deadline_ms);
int64_t	queue_next_due_ms(struct queue *);
int	queue_build_failed(struct queue *, uint64_t id, const char *why);
long	queue_expire_messages(struct queue *);

/* What the store committed since it was opened (nymd's metrics). */
struct queue_counts {
	uint64_t	enqueued;	/* messages accepted from applications */
	uint64_t	sent;		/* rows the provider confirmed (once each) */
	uint64_t	acks;		/* acknowledgements of a row of ours */
	uint64_t	acks_unknown;	/* of no row (late copies, strangers') */
	uint64_t	retransmissions; /* rows sent again unacknowledged */
	uint64_t	delivered;	/* messages whose every row was acknowledged */
	uint64_t	failed;		/* messages expired undelivered */
	uint64_t	received;	/* new messages delivered to us */
	uint64_t	duplicates;	/* deliveries of a message already here */
	uint64_t	fetched;	/* handed to applications */
};
const struct queue_counts *queue_counts(const struct queue *);
/*
 * Reply blocks (docs/replies.md); every call is one transaction, and
 * "now" is queue_set_window()'s clock.
 *
 * queue_enqueue_rows(): commits the n packets of one message sent with
 * reply blocks, all with sender tag tag; *first is the first's queue id.
 * queue_put_keys(): keeps our blocks' sealed keys, made for queued
 * message id (whose tag they get), and deletes expired ones. queue_get_keys(): the unexpired sealed keys of block id: 0, 1
 * if there are none, -1.
 * queue_receive_in(): stores a received message with its sender tag and
 * blocks; for a reply (surb_id), deletes the block's keys in the same
 * transaction; for a request for more blocks (more), queues them to the
 * tag's recipient instead, in the same transaction. 0 when new, 1 for a
 * duplicate or a reply whose keys are gone (used or expired: it is
 * dropped), -1.
 * queue_reply(): takes the oldest unexpired block of tag and queues the
 * reply through it (*id), in one transaction, with a request for more
 * blocks through another when the stock is low: 0, 1 if tag has no block
 * left, -1.
 * queue_blocks_left(): the unexpired blocks of tag, or -1.
 */
int	queue_enqueue_rows(struct queue *, const uint8_t recipient[QUEUE_KEY_BYTES],
	    const uint8_t provider[QUEUE_KEY_BYTES], const uint8_t tag[QUEUE_TAG_BYTES],
	    const struct queue_row *rows, size_t n, uint64_t *first);
int	queue_put_keys(struct queue *, uint64_t id, const struct queue_keys *, size_t n);
int	queue_get_keys(struct queue *, const uint8_t id[QUEUE_SURB_ID_BYTES],
	    uint8_t sealed[QUEUE_SEALED_BYTES]);
int	queue_receive_in(struct queue *, const struct queue_in *);
int	queue_reply(struct queue *, const uint8_t tag[QUEUE_TAG_BYTES],
	    const uint8_t msgid[QUEUE_MSGID_BYTES], const uint8_t *msg, size_t len,
	    uint64_t *id);
long	queue_blocks_left(struct queue *, const uint8_t tag[QUEUE_TAG_BYTES]);

#endif
