/*
 * The seed's key files: one PEM block whose body is a raw 32-byte
 * Curve25519 key, nothing before or after it. The private key file must
 * not be accessible to group or others.
 */
#ifndef NYMD_PEM_H
#define NYMD_PEM_H

#include <stddef.h>
#include <stdint.h>

#define PEM_TYPE_PRIVATE	"SPHINX CURVE25519 PRIVATE KEY"
#define PEM_TYPE_PUBLIC		"SPHINX CURVE25519 PUBLIC KEY"
#define PEM_KEY_BYTES		32
#define PEM_MAX_FILE_BYTES	4096

enum pem_error {
	PEM_OK = 0,
	PEM_ERR_IO = -1,	/* errno is set */
	PEM_ERR_FORMAT = -2,	/* not exactly one well-formed block */
	PEM_ERR_TYPE = -3,	/* block of another type */
	PEM_ERR_LENGTH = -4,	/* body is not 32 bytes */
	PEM_ERR_MODE = -5,	/* private key readable by group or others */
	PEM_ERR_TOO_LARGE = -6,
};

const char *pem_strerror(int err);

/* Parses a whole file's bytes: the single place this format is parsed. */
int	pem_parse_key(const uint8_t *buf, size_t len, const char *type,
	    uint8_t key[PEM_KEY_BYTES]);
/* Formats the block into out (NUL-terminated); returns length or -1. */
int	pem_format_key(char *out, size_t cap, const char *type,
	    const uint8_t key[PEM_KEY_BYTES]);

/*
 * Reads a key file. With check_private, the file must be a regular file
 * with no group/other permission bits. Buffers holding the encoding are
 * wiped before returning.
 */
int	pem_read_key(const char *path, const char *type, int check_private,
	    uint8_t key[PEM_KEY_BYTES]);
/* The same from an open file, read from its start whatever its offset
 * (keyd reads the one master opened, again after each restart). */
int	pem_read_key_fd(int fd, const char *type, int check_private,
	    uint8_t key[PEM_KEY_BYTES]);
/* Writes atomically (temporary file, fsync, rename) with the given mode. */
int	pem_write_key(const char *path, const char *type,
	    const uint8_t key[PEM_KEY_BYTES], unsigned mode);

#endif
