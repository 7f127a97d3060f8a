/*
 * The node's Sphinx workers (work.h).  One mutex guards both lists: the
 * jobs waiting for a thread (FIFO) and the jobs done (handed back in
 * batches).  A thread that finds the done list unsignalled writes one
 * byte to a pipe whose read end is an event of the loop; the loop takes
 * the whole list at once.  While jobs wait, a thread wakes the loop only
 * every WORK_WAKE_BATCH jobs: a wake-up per job would cost the workers a
 * context switch each (a tenth of their time at full load), and the job
 * that empties the queue always wakes it, so none waits for company.  A job costs a Sphinx hop (two X25519
 * multiplications and a LIONESS pass, some 100 us), against which the
 * mutex is noise.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "node/work.h"

#define WORK_WAKE_BATCH	32

struct work {
	pthread_mutex_t	 lock;
	pthread_cond_t	 ready;		/* todo gained a job, or stop */
	pthread_cond_t	 finished;	/* done gained a job */
	struct work_job	*todo, *todo_tail;
	struct work_job	*done;
	size_t		 ndone;
	int		 signalled;	/* a byte is in the pipe for done */
	int		 stop;

	/* the loop's thread only */
	size_t		 in_flight;
	size_t		 max_jobs;
	unsigned int	 nthreads;
	unsigned int	 started;
	pthread_t	*threads;
	int		 pipe_rd, pipe_wr;
	struct event	*wake;
	work_done_fn	 done_fn;
	void		*done_arg;
};

static void
work_push_done(struct work *w, struct work_job *j)
{
	int wake;

	pthread_mutex_lock(&w->lock);
	j->next = w->done;
	w->done = j;
	w->ndone++;
	wake = !w->signalled &&
	    (w->todo == NULL || w->ndone >= WORK_WAKE_BATCH);
	if (wake)
		w->signalled = 1;
	pthread_cond_signal(&w->finished);
	pthread_mutex_unlock(&w->lock);
	/* One byte per batch: the pipe cannot fill; EAGAIN would mean a
	 * byte is already there. */
	if (wake) {
		ssize_t r;
		do
			r = write(w->pipe_wr, "", 1);
		while (r == -1 && errno == EINTR);
	}
}

static void *
work_thread(void *arg)
{
	struct work *w = arg;
	struct work_job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && w->todo == NULL)
			pthread_cond_wait(&w->ready, &w->lock);
		if (w->stop)
			break;
		j = w->todo;
		if ((w->todo = j->next) == NULL)
			w->todo_tail = NULL;
		pthread_mutex_unlock(&w->lock);
		j->rc = sphinx_process_unchecked(j->priv, j->in, j->out,
		    &j->res, &j->authentic, j->tag);
		work_push_done(w, j);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Takes the done list; the caller hands each job back. */
static struct work_job *
work_take_done(struct work *w, int wait)
{
	struct work_job *list;

	pthread_mutex_lock(&w->lock);
	while (wait && w->done == NULL)
		pthread_cond_wait(&w->finished, &w->lock);
	list = w->done;
	w->done = NULL;
	w->ndone = 0;
	w->signalled = 0;
	pthread_mutex_unlock(&w->lock);
	return list;
}

static void
work_hand_back(struct work *w, struct work_job *list)
{
	struct work_job *j;

	while ((j = list) != NULL) {
		list = j->next;
		j->next = NULL;
		w->in_flight--;
		w->done_fn(w->done_arg, j);
	}
}

static void
work_wake(evutil_socket_t fd, short what, void *arg)
{
	struct work *w = arg;
	char buf[64];

	/* The bytes first: one written after this is for a new batch. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	work_hand_back(w, work_take_done(w, 0));
}

struct work *
work_new(struct event_base *base, unsigned int threads, size_t max_jobs,
    work_done_fn done, void *arg)
{
	struct work *w;
	int fds[2];

	if (threads == 0 || threads > WORK_MAX_THREADS || max_jobs == 0 ||
	    done == NULL || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->pipe_rd = w->pipe_wr = -1;
	w->nthreads = threads;
	w->max_jobs = max_jobs;
	w->done_fn = done;
	w->done_arg = arg;
	if ((w->threads = calloc(threads, sizeof(*w->threads))) == NULL)
		goto fail;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w->threads);
		free(w);
		return NULL;
	}
	pthread_cond_init(&w->ready, NULL);
	pthread_cond_init(&w->finished, NULL);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		goto fail_sync;
	w->pipe_rd = fds[0];
	w->pipe_wr = fds[1];
	if ((w->wake = event_new(base, w->pipe_rd, EV_READ | EV_PERSIST,
	    work_wake, w)) == NULL || event_add(w->wake, NULL) == -1)
		goto fail_sync;
	return w;
fail_sync:
	work_free(w);
	return NULL;
fail:
	free(w);
	return NULL;
}

int
work_start(struct work *w)
{
	int rc;

	for (; w->started < w->nthreads; w->started++) {
		rc = pthread_create(&w->threads[w->started], NULL, work_thread, w);
		if (rc != 0) {
			log_warnx("Sphinx workers: cannot start a thread: %s",
			    strerror(rc));
			return -1;
		}
	}
	return 0;
}

int
work_submit(struct work *w, struct work_job *j)
{
	if (w->in_flight >= w->max_jobs)
		return -1;
	w->in_flight++;
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->todo_tail != NULL)
		w->todo_tail->next = j;
	else
		w->todo = j;
	w->todo_tail = j;
	pthread_cond_signal(&w->ready);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void
work_drain(struct work *w)
{
	/* Without threads nothing would ever finish: hand nothing back. */
	if (w == NULL || w->started == 0)
		return;
	while (w->in_flight > 0)
		work_hand_back(w, work_take_done(w, 1));
}

size_t
work_in_flight(const struct work *w)
{
	return w == NULL ? 0 : w->in_flight;
}

unsigned int
work_threads(const struct work *w)
{
	return w == NULL ? 0 : w->started;
}

void
work_free(struct work *w)
{
	struct work_job *j;

	if (w == NULL)
		return;
	work_drain(w);
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->ready);
	pthread_mutex_unlock(&w->lock);
	for (unsigned int i = 0; i < w->started; i++)
		pthread_join(w->threads[i], NULL);
	/* Never started: what was submitted goes back unprocessed. */
	while ((j = w->todo) != NULL) {
		w->todo = j->next;
		j->rc = SPHINX_ERR_INVALID;
		j->authentic = 0;
		w->in_flight--;
		w->done_fn(w->done_arg, j);
	}
	if (w->wake != NULL)
		event_free(w->wake);
	if (w->pipe_rd != -1)
		close(w->pipe_rd);
	if (w->pipe_wr != -1)
		close(w->pipe_wr);
	pthread_cond_destroy(&w->ready);
	pthread_cond_destroy(&w->finished);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

unsigned int
work_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > WORK_MAX_THREADS ? WORK_MAX_THREADS : (unsigned int)n;
}
