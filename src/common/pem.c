#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/fsutil.h"
#include "common/pem.h"

#define PEM_LINE_BYTES 128

const char *
pem_strerror(int err)
{
	switch (err) {
	case PEM_OK:		return "ok";
	case PEM_ERR_IO:	return strerror(errno);
	case PEM_ERR_FORMAT:	return "not a single well-formed PEM block";
	case PEM_ERR_TYPE:	return "PEM block of the wrong type";
	case PEM_ERR_LENGTH:	return "key is not 32 bytes";
	case PEM_ERR_MODE:	return "private key file is accessible by group or others (chmod 600 it)";
	case PEM_ERR_TOO_LARGE:	return "file too large for a key";
	default:		return "unknown error";
	}
}

/* Returns the length of the line at p (without its terminator) or -1. */
static long
pem_line(const uint8_t *p, size_t avail, size_t *consumed)
{
	for (size_t i = 0; i < avail; i++) {
		if (p[i] == '\n') {
			size_t len = i;
			if (len > 0 && p[len - 1] == '\r')
				len--;
			*consumed = i + 1;
			return (long)len;
		}
	}
	/* The last line may lack its newline. */
	*consumed = avail;
	return (long)avail;
}

static int
pem_boundary(const uint8_t *line, size_t len, const char *what, const char *type)
{
	char expect[PEM_LINE_BYTES];
	int n = snprintf(expect, sizeof(expect), "-----%s %s-----", what, type);

	return n > 0 && (size_t)n == len && memcmp(line, expect, len) == 0;
}

int
pem_parse_key(const uint8_t *buf, size_t len, const char *type,
    uint8_t key[PEM_KEY_BYTES])
{
	size_t off = 0, used;
	long n;
	int rc = PEM_ERR_FORMAT;
	uint8_t body[PEM_LINE_BYTES];
	size_t body_len = 0;
	uint8_t decoded[PEM_KEY_BYTES + 3];

	if (len > PEM_MAX_FILE_BYTES)
		return PEM_ERR_TOO_LARGE;
	n = pem_line(buf, len, &used);
	if (n < 11 || memcmp(buf, "-----BEGIN ", 11) != 0)
		return PEM_ERR_FORMAT;
	if (!pem_boundary(buf, (size_t)n, "BEGIN", type))
		return PEM_ERR_TYPE;
	off += used;

	/* Body lines up to the END boundary; no headers are allowed. */
	for (;;) {
		if (off >= len)
			goto out;
		n = pem_line(buf + off, len - off, &used);
		if (n >= 5 && memcmp(buf + off, "-----", 5) == 0)
			break;
		if (n == 0 || body_len + (size_t)n > sizeof(body))
			goto out;
		memcpy(body + body_len, buf + off, (size_t)n);
		body_len += (size_t)n;
		off += used;
	}
	if (!pem_boundary(buf + off, (size_t)n, "END", type))
		goto out;
	off += used;
	if (off != len)
		goto out;	/* nothing may follow the block */

	long klen = b64_decode(decoded, sizeof(decoded), (const char *)body,
	    body_len, B64_STANDARD);
	if (klen < 0)
		goto out;
	if (klen != PEM_KEY_BYTES) {
		rc = PEM_ERR_LENGTH;
		goto out;
	}
	memcpy(key, decoded, PEM_KEY_BYTES);
	rc = PEM_OK;
out:
	sodium_memzero(body, sizeof(body));
	sodium_memzero(decoded, sizeof(decoded));
	return rc;
}

int
pem_format_key(char *out, size_t cap, const char *type,
    const uint8_t key[PEM_KEY_BYTES])
{
	char b64[B64_ENCODED_LEN(PEM_KEY_BYTES) + 1];

	b64_encode(b64, key, PEM_KEY_BYTES, B64_STANDARD);
	int n = snprintf(out, cap, "-----BEGIN %s-----\n%s\n-----END %s-----\n",
	    type, b64, type);
	sodium_memzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int
pem_read_key_fd(int fd, const char *type, int check_private,
    uint8_t key[PEM_KEY_BYTES])
{
	uint8_t buf[PEM_MAX_FILE_BYTES + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int rc;

	if (fstat(fd, &st) == -1)
		return PEM_ERR_IO;
	if (!S_ISREG(st.st_mode))
		return PEM_ERR_FORMAT;
	if (check_private && (st.st_mode & 077) != 0)
		return PEM_ERR_MODE;
	while (len < sizeof(buf)) {
		n = pread(fd, buf + len, sizeof(buf) - len, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			sodium_memzero(buf, sizeof(buf));
			return PEM_ERR_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PEM_MAX_FILE_BYTES)
		rc = PEM_ERR_TOO_LARGE;
	else
		rc = pem_parse_key(buf, len, type, key);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
pem_read_key(const char *path, const char *type, int check_private,
    uint8_t key[PEM_KEY_BYTES])
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return PEM_ERR_IO;
	rc = pem_read_key_fd(fd, type, check_private, key);
	close(fd);
	return rc;
}

int
pem_write_key(const char *path, const char *type,
    const uint8_t key[PEM_KEY_BYTES], unsigned mode)
{
	char text[256];
	int n = pem_format_key(text, sizeof(text), type, key);

	if (n < 0)
		return PEM_ERR_FORMAT;
	int rc = fs_write_atomic(path, text, (size_t)n, mode);
	sodium_memzero(text, sizeof(text));
	return rc == 0 ? PEM_OK : PEM_ERR_IO;
}
