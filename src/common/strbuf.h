/*
 * A growing text buffer for writing configuration files: the first
 * failure (out of memory) sticks, so that a writer checks once at the end.
 */
#ifndef NYMD_COMMON_STRBUF_H
#define NYMD_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char	*buf;		/* NUL terminated; owned; free() it */
	size_t	 len;
	size_t	 cap;
	bool	 failed;
};

#define STRBUF_INIT	{ NULL, 0, 0, false }

void	strbuf_printf(struct strbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* "key = VALUE\n" with VALUE a quoted TOML basic string. */
void	strbuf_toml_string(struct strbuf *, const char *key, const char *value);
/* "key = VALUE\n" with VALUE a TOML float that reads back exactly. */
void	strbuf_toml_float(struct strbuf *, const char *key, double value);

#endif
