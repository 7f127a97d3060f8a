/*
 * Unit tests of the PEM key files: format/parse round trip, write/read
 * through a temporary directory with their modes, and refusal of group-
 * or world-accessible private keys, corrupt, truncated, trailing and
 * wrongly typed blocks.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "common/pem.h"

struct pem_fixture {
	char	dir[64];
	uint8_t	key[PEM_KEY_BYTES];
	char	text[256];
	size_t	text_len;
};

static int
setup(void **state)
{
	struct pem_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/nymd-test-pem.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	for (size_t i = 0; i < PEM_KEY_BYTES; i++)
		f->key[i] = (uint8_t)(i * 7 + 0xf0);
	int n = pem_format_key(f->text, sizeof(f->text), PEM_TYPE_PRIVATE, f->key);
	if (n <= 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->text_len = (size_t)n;
	*state = f;
	return 0;
}

static void
fixture_path(const struct pem_fixture *f, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", f->dir, name);
}

static int
teardown(void **state)
{
	struct pem_fixture *f = *state;
	static const char *names[] = {
		"key.pem", "pub.pem", "raw.pem", "big.pem", "link.pem", "sub",
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fixture_path(f, names[i], path, sizeof(path));
		if (unlink(path) == -1)
			rmdir(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_raw(const struct pem_fixture *f, const char *name, const void *data,
    size_t len, mode_t mode)
{
	char path[PATH_MAX];

	fixture_path(f, name, path, sizeof(path));
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
parse_str(const char *s, const char *type, uint8_t key[PEM_KEY_BYTES])
{
	return pem_parse_key((const uint8_t *)s, strlen(s), type, key);
}

static void
test_format_parse_round_trip(void **state)
{
	struct pem_fixture *f = *state;
	uint8_t got[PEM_KEY_BYTES];
	char text[256];

	/* The seed's layout: BEGIN line, one base64 line, END line. */
	assert_int_equal(f->text_len, strlen(f->text));
	assert_int_equal(strncmp(f->text, "-----BEGIN " PEM_TYPE_PRIVATE "-----\n",
	    strlen("-----BEGIN " PEM_TYPE_PRIVATE "-----\n")), 0);
	const char *end = "-----END " PEM_TYPE_PRIVATE "-----\n";
	assert_string_equal(f->text + f->text_len - strlen(end), end);

	memset(got, 0, sizeof(got));
	assert_int_equal(pem_parse_key((const uint8_t *)f->text, f->text_len,
	    PEM_TYPE_PRIVATE, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);

	int n = pem_format_key(text, sizeof(text), PEM_TYPE_PUBLIC, f->key);
	assert_true(n > 0);
	assert_int_equal(pem_parse_key((const uint8_t *)text, (size_t)n,
	    PEM_TYPE_PUBLIC, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);

	/* Too small a buffer is an error, not a truncated block. */
	assert_int_equal(pem_format_key(text, f->text_len, PEM_TYPE_PRIVATE, f->key), -1);
	assert_int_equal(pem_format_key(text, f->text_len + 1, PEM_TYPE_PRIVATE, f->key),
	    (int)f->text_len);
}

static void
test_accepted_variants(void **state)
{
	struct pem_fixture *f = *state;
	uint8_t got[PEM_KEY_BYTES];
	char buf[512];

	/* No final newline. */
	assert_int_equal(pem_parse_key((const uint8_t *)f->text, f->text_len - 1,
	    PEM_TYPE_PRIVATE, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);

	/* CRLF line ends. */
	size_t o = 0;
	for (size_t i = 0; i < f->text_len; i++) {
		if (f->text[i] == '\n')
			buf[o++] = '\r';
		buf[o++] = f->text[i];
	}
	memset(got, 0, sizeof(got));
	assert_int_equal(pem_parse_key((const uint8_t *)buf, o, PEM_TYPE_PRIVATE, got),
	    PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);

	/* The body split over two lines. */
	const char *body = strchr(f->text, '\n') + 1;
	size_t head = (size_t)(body - f->text);
	memcpy(buf, f->text, head);
	memcpy(buf + head, body, 20);
	buf[head + 20] = '\n';
	memcpy(buf + head + 21, body + 20, f->text_len - head - 20);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, f->text_len + 1,
	    PEM_TYPE_PRIVATE, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);
}

static void
test_wrong_type(void **state)
{
	struct pem_fixture *f = *state;
	uint8_t got[PEM_KEY_BYTES];
	char buf[256];

	assert_int_equal(pem_parse_key((const uint8_t *)f->text, f->text_len,
	    PEM_TYPE_PUBLIC, got), PEM_ERR_TYPE);
	assert_int_equal(parse_str(
	    "-----BEGIN PRIVATE KEY-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	    "-----END PRIVATE KEY-----\n", PEM_TYPE_PRIVATE, got), PEM_ERR_TYPE);
	/* BEGIN right, END of the other type. */
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	    "-----END %s-----\n", PEM_TYPE_PRIVATE, PEM_TYPE_PUBLIC);
	assert_int_equal(parse_str(buf, PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	/* Case matters. */
	snprintf(buf, sizeof(buf), "-----BEGIN sphinx curve25519 private key-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	    "-----END sphinx curve25519 private key-----\n");
	assert_int_equal(parse_str(buf, PEM_TYPE_PRIVATE, got), PEM_ERR_TYPE);
}

static void
test_refuses_malformed(void **state)
{
	struct pem_fixture *f = *state;
	uint8_t got[PEM_KEY_BYTES];
	char buf[512];
	const char *body = strchr(f->text, '\n') + 1;
	size_t head = (size_t)(body - f->text);

	/* Every truncation of the block is refused (the final newline is optional). */
	for (size_t len = 0; len + 1 < f->text_len; len++) {
		int rc = pem_parse_key((const uint8_t *)f->text, len, PEM_TYPE_PRIVATE, got);
		if (rc == PEM_OK)
			fail_msg("truncation to %zu bytes accepted", len);
	}

	/* A corrupt base64 character. */
	memcpy(buf, f->text, f->text_len);
	buf[head + 5] = '*';
	assert_int_equal(pem_parse_key((const uint8_t *)buf, f->text_len,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	/* Non-canonical last character ('=' preceded by bits that are dropped). */
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n"
	    "-----END %s-----\n", PEM_TYPE_PRIVATE, PEM_TYPE_PRIVATE);
	assert_int_equal(parse_str(buf, PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	buf[strlen(buf) - strlen(PEM_TYPE_PRIVATE) - 16 - 2] = 'A';
	assert_int_equal(parse_str(buf, PEM_TYPE_PRIVATE, got), PEM_OK);

	/* Trailing data after the END line: text, a blank line, a second block. */
	static const char *trailers[] = { "x", "\n", " ", "\r\n", "\0" };
	for (size_t i = 0; i < sizeof(trailers) / sizeof(trailers[0]); i++) {
		size_t tl = trailers[i][0] == '\0' ? 1 : strlen(trailers[i]);
		memcpy(buf, f->text, f->text_len);
		memcpy(buf + f->text_len, trailers[i], tl);
		assert_int_equal(pem_parse_key((const uint8_t *)buf, f->text_len + tl,
		    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	}
	memcpy(buf, f->text, f->text_len);
	memcpy(buf + f->text_len, f->text, f->text_len);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, 2 * f->text_len,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);

	/* Data before the block. */
	buf[0] = '\n';
	memcpy(buf + 1, f->text, f->text_len);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, f->text_len + 1,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);

	/* Headers, blank lines or whitespace inside the body. */
	int n = snprintf(buf, sizeof(buf), "%.*sProc-Type: 4,ENCRYPTED\n%s",
	    (int)head, f->text, body);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, (size_t)n,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	n = snprintf(buf, sizeof(buf), "%.*s\n%s", (int)head, f->text, body);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, (size_t)n,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	n = snprintf(buf, sizeof(buf), "%.*s %s", (int)head, f->text, body);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, (size_t)n,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);

	/* No body at all, and a missing END. */
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\n-----END %s-----\n",
	    PEM_TYPE_PRIVATE, PEM_TYPE_PRIVATE);
	assert_true(parse_str(buf, PEM_TYPE_PRIVATE, got) < 0);
	n = snprintf(buf, sizeof(buf), "%.*s%.44s\n", (int)head, f->text, body);
	assert_int_equal(pem_parse_key((const uint8_t *)buf, (size_t)n,
	    PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);

	/* Not PEM at all. */
	assert_int_equal(parse_str("", PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	assert_int_equal(parse_str("-----BEGIN", PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
	assert_int_equal(parse_str("hello world\n", PEM_TYPE_PRIVATE, got), PEM_ERR_FORMAT);
}

static void
test_wrong_length(void **state)
{
	uint8_t got[PEM_KEY_BYTES];
	char buf[256];

	/* 31 and 33 bytes of zeros. */
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"
	    "-----END %s-----\n", PEM_TYPE_PUBLIC, PEM_TYPE_PUBLIC);
	assert_int_equal(parse_str(buf, PEM_TYPE_PUBLIC, got), PEM_ERR_LENGTH);
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "-----END %s-----\n", PEM_TYPE_PUBLIC, PEM_TYPE_PUBLIC);
	assert_true(parse_str(buf, PEM_TYPE_PUBLIC, got) < 0);
	snprintf(buf, sizeof(buf), "-----BEGIN %s-----\nAAAA\n-----END %s-----\n",
	    PEM_TYPE_PUBLIC, PEM_TYPE_PUBLIC);
	assert_int_equal(parse_str(buf, PEM_TYPE_PUBLIC, got), PEM_ERR_LENGTH);
}

static void
test_too_large(void **state)
{
	static uint8_t big[PEM_MAX_FILE_BYTES + 1];
	uint8_t got[PEM_KEY_BYTES];

	memset(big, 'A', sizeof(big));
	assert_int_equal(pem_parse_key(big, sizeof(big), PEM_TYPE_PRIVATE, got),
	    PEM_ERR_TOO_LARGE);
	assert_int_equal(pem_parse_key(big, sizeof(big) - 1, PEM_TYPE_PRIVATE, got),
	    PEM_ERR_FORMAT);
}

static void
test_write_read_files(void **state)
{
	struct pem_fixture *f = *state;
	char path[PATH_MAX];
	uint8_t got[PEM_KEY_BYTES];
	struct stat st;
	char text[256];

	fixture_path(f, "key.pem", path, sizeof(path));
	mode_t old = umask(0);	/* the mode must not depend on the umask */
	assert_int_equal(pem_write_key(path, PEM_TYPE_PRIVATE, f->key, 0600), PEM_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, (off_t)f->text_len);
	memset(got, 0, sizeof(got));
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);
	/* The file holds exactly what pem_format_key produces. */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, text, sizeof(text)), (ssize_t)f->text_len);
	close(fd);
	assert_memory_equal(text, f->text, f->text_len);

	/* Overwriting replaces the key, keeping the requested mode. */
	uint8_t key2[PEM_KEY_BYTES];
	memset(key2, 0x5a, sizeof(key2));
	old = umask(077);
	assert_int_equal(pem_write_key(path, PEM_TYPE_PRIVATE, key2, 0600), PEM_OK);
	umask(old);
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_OK);
	assert_memory_equal(got, key2, PEM_KEY_BYTES);

	/* A public key file is world-readable and read without the check. */
	fixture_path(f, "pub.pem", path, sizeof(path));
	old = umask(077);
	assert_int_equal(pem_write_key(path, PEM_TYPE_PUBLIC, f->key, 0644), PEM_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(pem_read_key(path, PEM_TYPE_PUBLIC, 0, got), PEM_OK);
	assert_memory_equal(got, f->key, PEM_KEY_BYTES);
	/* ...but not as a private key, and not as the other type. */
	assert_int_equal(pem_read_key(path, PEM_TYPE_PUBLIC, 1, got), PEM_ERR_MODE);
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 0, got), PEM_ERR_TYPE);

	/* No temporary files left beside the keys. */
	fixture_path(f, "key.pem.tmp", path, sizeof(path));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), ".%ld", (long)getpid());
	assert_int_equal(access(path, F_OK), -1);

	/* Writing into a missing directory fails with errno. */
	fixture_path(f, "missing/key.pem", path, sizeof(path));
	assert_int_equal(pem_write_key(path, PEM_TYPE_PRIVATE, f->key, 0600), PEM_ERR_IO);
}

static void
test_private_mode_refused(void **state)
{
	struct pem_fixture *f = *state;
	static const mode_t bad_modes[] = {
		0640, 0604, 0660, 0644, 0666, 0610, 0601, 0620, 0602, 0700 | 0070,
	};
	char path[PATH_MAX];
	uint8_t got[PEM_KEY_BYTES];

	fixture_path(f, "raw.pem", path, sizeof(path));
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		write_raw(f, "raw.pem", f->text, f->text_len, bad_modes[i]);
		memset(got, 0, sizeof(got));
		assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_ERR_MODE);
		/* The key is not handed out. */
		for (size_t k = 0; k < PEM_KEY_BYTES; k++)
			assert_int_equal(got[k], 0);
		/* The same file is fine when the caller does not ask for the check. */
		assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 0, got), PEM_OK);
	}
	static const mode_t good_modes[] = { 0600, 0400, 0700 };
	for (size_t i = 0; i < sizeof(good_modes) / sizeof(good_modes[0]); i++) {
		write_raw(f, "raw.pem", f->text, f->text_len, good_modes[i]);
		assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_OK);
		assert_memory_equal(got, f->key, PEM_KEY_BYTES);
	}
	const char *msg = pem_strerror(PEM_ERR_MODE);
	assert_non_null(strstr(msg, "600"));
}

static void
test_read_refusals(void **state)
{
	struct pem_fixture *f = *state;
	char path[PATH_MAX], target[PATH_MAX];
	uint8_t got[PEM_KEY_BYTES];
	static char big[PEM_MAX_FILE_BYTES + 10];

	/* Missing file: an I/O error with errno. */
	fixture_path(f, "nonexistent.pem", path, sizeof(path));
	errno = 0;
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_ERR_IO);
	assert_int_equal(errno, ENOENT);

	/* A corrupt file on disk. */
	fixture_path(f, "raw.pem", path, sizeof(path));
	write_raw(f, "raw.pem", f->text, f->text_len - 20, 0600);
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_ERR_FORMAT);

	/* Larger than any key file. */
	memset(big, 'A', sizeof(big));
	write_raw(f, "big.pem", big, sizeof(big), 0600);
	fixture_path(f, "big.pem", path, sizeof(path));
	assert_int_equal(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got), PEM_ERR_TOO_LARGE);

	/* A symlink is not followed. */
	write_raw(f, "raw.pem", f->text, f->text_len, 0600);
	fixture_path(f, "raw.pem", target, sizeof(target));
	fixture_path(f, "link.pem", path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	assert_true(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got) < 0);

	/* A directory is not a key file. */
	fixture_path(f, "sub", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(pem_read_key(path, PEM_TYPE_PRIVATE, 1, got) < 0);
}

static void
test_strerror(void **state)
{
	static const int codes[] = {
		PEM_OK, PEM_ERR_IO, PEM_ERR_FORMAT, PEM_ERR_TYPE, PEM_ERR_LENGTH,
		PEM_ERR_MODE, PEM_ERR_TOO_LARGE, -100,
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = pem_strerror(codes[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse_round_trip),
		cmocka_unit_test(test_accepted_variants),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_wrong_length),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_write_read_files),
		cmocka_unit_test(test_private_mode_refused),
		cmocka_unit_test(test_read_refusals),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
