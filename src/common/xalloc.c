#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"

static void __attribute__((noreturn))
xalloc_failed(const char *fn, size_t nmemb, size_t size)
{
	if (nmemb == 1)
		fatalx("out of memory: %s of %zu bytes failed", fn, size);
	fatalx("out of memory: %s of %zu * %zu bytes failed", fn, nmemb, size);
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		xalloc_failed("malloc", 1, size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (nmemb > SIZE_MAX / size || (p = calloc(nmemb, size)) == NULL)
		xalloc_failed("calloc", nmemb, size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (nmemb > SIZE_MAX / size || (p = realloc(ptr, nmemb * size)) == NULL)
		xalloc_failed("realloc", nmemb, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	return xreallocarray(ptr, 1, size);
}

char *
xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;

	return memcpy(xmalloc(len), s, len);
}

struct event *
xevent_new(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event *ev = event_new(base, fd, what, cb, arg);

	if (ev == NULL)
		fatalx("out of memory: cannot allocate an event");
	return ev;
}

struct evbuffer *
xevbuffer_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		fatalx("out of memory: cannot allocate a buffer");
	return b;
}
