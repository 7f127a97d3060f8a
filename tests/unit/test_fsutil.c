/*
 * Unit tests of the file helpers and the text buffer: atomic replacement
 * keeps the mode asked for and leaves no temporary file; whole-file reads
 * refuse what is too large or not a regular file; strbuf grows and quotes.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fsutil.h"
#include "common/strbuf.h"

static char dir[64];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_fsutil.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_write_atomic_replaces_with_mode(void **state)
{
	char path[128], *buf;
	size_t len;
	mode_t mode;

	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(fs_write_atomic(path, "old", 3, 0644), 0);
	assert_int_equal(fs_write_atomic(path, "new text", 8, 0600), 0);
	assert_int_equal(fs_read_file(path, 100, &buf, &len, &mode), 0);
	assert_int_equal(len, 8);
	assert_string_equal(buf, "new text");
	assert_int_equal(mode, 0600);
	free(buf);
	assert_int_equal(entries(), 1);		/* no temporary file left */
	unlink(path);
}

static void
test_write_atomic_fails_cleanly(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/missing/f", dir);
	assert_int_equal(fs_write_atomic(path, "x", 1, 0644), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_read_file_limits(void **state)
{
	char path[128], *buf = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(fs_write_atomic(path, "0123456789", 10, 0644), 0);
	assert_int_equal(fs_read_file(path, 10, &buf, &len, NULL), 0);
	free(buf);
	assert_int_equal(fs_read_file(path, 9, &buf, &len, NULL), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(fs_read_file(dir, 100, &buf, &len, NULL), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fs_read_file(path, 100, &buf, &len, NULL), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(fs_read_file(path, 100, &buf, &len, NULL), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_strbuf_grows_and_quotes(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < 1000; i++)
		strbuf_printf(&sb, "%04d\n", i);
	assert_false(sb.failed);
	assert_int_equal(sb.len, 5000);
	assert_memory_equal(sb.buf + 4995, "0999\n", 5);
	sb.len = 0;
	strbuf_toml_string(&sb, "k", "a \"b\"\n");
	strbuf_toml_float(&sb, "r", 0.125);
	assert_string_equal(sb.buf, "k = \"a \\\"b\\\"\\n\"\nr = 0.125\n");
	free(sb.buf);
}

static void
test_name_portable(void **state)
{
	assert_true(fs_name_portable("alice", 8, 0));
	assert_true(fs_name_portable("a.b_c-D9", 8, 0));
	assert_false(fs_name_portable("a.b_c-D90", 8, 0));	/* too long */
	assert_false(fs_name_portable("", 8, 0));
	assert_false(fs_name_portable("-v", 8, 0));
	assert_false(fs_name_portable("-v", 8, 1));
	assert_false(fs_name_portable(".hidden", 8, 0));
	assert_true(fs_name_portable(".hidden", 8, 1));
	assert_false(fs_name_portable("..", 8, 0));
	assert_false(fs_name_portable("a/b", 8, 0));
	assert_false(fs_name_portable("a b", 8, 0));
	assert_false(fs_name_portable("caf\xc3\xa9", 8, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic_replaces_with_mode),
		cmocka_unit_test(test_write_atomic_fails_cleanly),
		cmocka_unit_test(test_read_file_limits),
		cmocka_unit_test(test_strbuf_grows_and_quotes),
		cmocka_unit_test(test_name_portable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
