/*
 * Unit tests of the x-allocators (common/xalloc.c): they return usable
 * memory, and when memory runs out (an impossible size, an overflowing
 * product, or a real limit on the address space) they do not return: the
 * child logs one line, passes it to the fatal hook (master, in nymd) and
 * exits with LOG_EXIT_FATAL.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"

#ifdef NYMD_SANITIZERS
/* ASan aborts on an impossible size unless told to return NULL, as
 * malloc does. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

static int hook_fd = -1;

static void
test_hook(const char *msg)
{
	if (write(hook_fd, msg, strlen(msg)) == -1)
		_exit(99);
}

enum what { BIG_MALLOC, BIG_CALLOC, OVERFLOW_CALLOC, OVERFLOW_REALLOCARRAY,
	BIG_REALLOC, LIMITED_MALLOC };

/* The block a failing realloc is given: the child exits with it still
 * allocated, and a global keeps it reachable for valgrind's leak check
 * (volatile: a static that is never read is otherwise optimised away). */
static void *volatile realloc_victim;

static void
run(enum what what)
{
	void *p = NULL;

	switch (what) {
	case BIG_MALLOC:
		p = xmalloc(SIZE_MAX / 2);
		break;
	case BIG_CALLOC:
		p = xcalloc(1, SIZE_MAX / 2);
		break;
	case OVERFLOW_CALLOC:
		p = xcalloc(SIZE_MAX / 8, 16);
		break;
	case OVERFLOW_REALLOCARRAY:
		realloc_victim = xmalloc(8);
		p = xreallocarray(realloc_victim, SIZE_MAX / 4, 8);
		break;
	case BIG_REALLOC:
		realloc_victim = xmalloc(8);
		p = xrealloc(realloc_victim, SIZE_MAX / 2);
		break;
	case LIMITED_MALLOC: {
		/* A size that is not absurd, beyond a real limit. */
		struct rlimit rl = { 256u << 20, 256u << 20 };
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			_exit(98);
		p = xmalloc(512u << 20);
		break;
	}
	}
	/* Reached only if the allocator returned. */
	printf("returned %p\n", p);
	_exit(0);
}

/* The fatal line the hook got from a child doing what, and its status. */
static int
fails(enum what what, char *msg, size_t len)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(fds[0]);
		hook_fd = fds[1];
		log_init("test", LOG_LEVEL_OFF);
		log_set_fatal_hook(test_hook);
		run(what);
	}
	close(fds[1]);
	n = read(fds[0], msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static void
test_out_of_memory_is_fatal(void **state)
{
	char msg[512];

	assert_int_equal(fails(BIG_MALLOC, msg, sizeof(msg)), LOG_EXIT_FATAL);
	assert_non_null(strstr(msg, "out of memory: malloc of "));
	assert_non_null(strstr(msg, " bytes failed"));
	assert_int_equal(fails(BIG_CALLOC, msg, sizeof(msg)), LOG_EXIT_FATAL);
	assert_non_null(strstr(msg, "out of memory: calloc of "));
	assert_int_equal(fails(BIG_REALLOC, msg, sizeof(msg)), LOG_EXIT_FATAL);
	assert_non_null(strstr(msg, "out of memory: realloc of "));
}

static void
test_overflow_is_fatal(void **state)
{
	char msg[512], want[128];

	assert_int_equal(fails(OVERFLOW_CALLOC, msg, sizeof(msg)), LOG_EXIT_FATAL);
	snprintf(want, sizeof(want), "out of memory: calloc of %zu * 16 bytes failed",
	    SIZE_MAX / 8);
	assert_string_equal(msg, want);
	assert_int_equal(fails(OVERFLOW_REALLOCARRAY, msg, sizeof(msg)), LOG_EXIT_FATAL);
	snprintf(want, sizeof(want), "out of memory: realloc of %zu * 8 bytes failed",
	    SIZE_MAX / 4);
	assert_string_equal(msg, want);
}

#ifndef NYMD_SANITIZERS
static void
test_real_limit_is_fatal(void **state)
{
	char msg[512];

	assert_int_equal(fails(LIMITED_MALLOC, msg, sizeof(msg)), LOG_EXIT_FATAL);
	assert_string_equal(msg, "out of memory: malloc of 536870912 bytes failed");
}
#endif

static void
test_allocates(void **state)
{
	unsigned char *p = xcalloc(100, 3);
	char *s;

	for (size_t i = 0; i < 300; i++)
		assert_int_equal(p[i], 0);
	p = xreallocarray(p, 200, 3);
	p[599] = 7;
	p = xrealloc(p, 1000);
	assert_int_equal(p[599], 7);
	free(p);
	/* Size 0 still gives memory, never NULL. */
	p = xmalloc(0);
	assert_non_null(p);
	free(p);
	p = xcalloc(0, 8);
	assert_non_null(p);
	free(p);
	s = xstrdup("nymd");
	assert_string_equal(s, "nymd");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_event_constructors(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev;
	struct evbuffer *b;

	assert_non_null(base);
	ev = xevtimer_new(base, NULL, NULL);
	assert_non_null(ev);
	event_free(ev);
	b = xevbuffer_new();
	assert_non_null(b);
	evbuffer_free(b);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocates),
		cmocka_unit_test(test_event_constructors),
		cmocka_unit_test(test_out_of_memory_is_fatal),
		cmocka_unit_test(test_overflow_is_fatal),
#ifndef NYMD_SANITIZERS
		/* ASan's shadow memory needs more address space than any
		 * limit this test could set. */
		cmocka_unit_test(test_real_limit_is_fatal),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
