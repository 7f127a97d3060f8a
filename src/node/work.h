/*
 * The node's Sphinx workers (docs/mixnode.md, "Worker threads"): a pool
 * of threads that run sphinx_process_unchecked() on packets the event
 * loop hands them, and hand the results back to the loop, which alone
 * checks replay tags, writes the replay log and queues packets on.
 *
 * Threads: work_new() runs before the sandbox (it makes the wake-up pipe
 * and its event); work_start() starts the threads after it, so that each
 * inherits the seccomp filter and the Landlock domain, which bind only
 * the threads that exist when they go in.  The threads read only the
 * private key a job names: whoever owns the keys calls work_drain()
 * before freeing or moving one.
 *
 * Every function but the threads' own runs on the event loop's thread.
 */
#ifndef NYMD_NODE_WORK_H
#define NYMD_NODE_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "common/sphinx.h"

struct event_base;

/* One packet to process; the caller allocates it and gets it back. */
struct work_job {
	struct work_job		*next;		/* the pool's */
	/* in: */
	const uint8_t		*priv;		/* stays valid until done */
	uint8_t			 in[SPHINX_PACKET_BYTES];
	uint8_t			*out;		/* SPHINX_PACKET_BYTES */
	void			*arg;		/* the caller's */
	/* out: */
	int			 rc;
	int			 authentic;
	uint8_t			 tag[SPHINX_REPLAY_TAG_BYTES];
	struct sphinx_hop_result res;
};

/* Called on the loop's thread for each job done, in no particular order. */
typedef void (*work_done_fn)(void *arg, struct work_job *);

struct work;

/* Up to max_jobs jobs at once (submitted and not yet handed back). */
struct work *work_new(struct event_base *, unsigned int threads,
	    size_t max_jobs, work_done_fn done, void *arg);
/* Starts the threads; 0, or -1 (logged: none was started). */
int	 work_start(struct work *);
/* 0, or -1 when max_jobs are in flight (the job stays the caller's). */
int	 work_submit(struct work *, struct work_job *);
/* Waits for every job in flight and hands each back; then none is. */
void	 work_drain(struct work *);
size_t	 work_in_flight(const struct work *);
unsigned int work_threads(const struct work *);
/* Stops the threads (jobs in flight are handed back first) and frees. */
void	 work_free(struct work *);

/* The threads a node starts by default: one per online core, 1 to 64. */
unsigned int work_default_threads(void);
#define WORK_MAX_THREADS	64

#endif /* NYMD_NODE_WORK_H */
