/*
 * Allocation that cannot fail, for the daemons' own code (as tmux's and
 * OpenSSH's xmalloc): out of memory is fatal, with one line saying what
 * could not be allocated. In a nymd child, fatalx() reports it to master,
 * which restarts the child from its durable state; a node exits and its
 * supervisor restarts it. Never for libnym (a library must not exit) nor
 * for the parsers of untrusted input, which return their errors.
 */
#ifndef NYMD_XALLOC_H
#define NYMD_XALLOC_H

#include <stddef.h>

#include <event2/event.h>

/* Never NULL; a size of 0 is allocated as 1 byte, so never NULL either. */
void	*xmalloc(size_t size);
/* Zeroed; fatal too if nmemb * size overflows. */
void	*xcalloc(size_t nmemb, size_t size);
/* realloc(), fatal on failure; the old block is then lost with the process. */
void	*xrealloc(void *ptr, size_t size);
/* xrealloc() of nmemb * size, fatal if it overflows. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);

/* libevent's constructors, which fail only when out of memory. */
struct event	*xevent_new(struct event_base *, evutil_socket_t, short,
		    event_callback_fn, void *);
#define xevtimer_new(base, cb, arg)	xevent_new((base), -1, 0, (cb), (arg))
struct evbuffer	*xevbuffer_new(void);

#endif
