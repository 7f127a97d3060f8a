/*
 * A small, strict parser for the subset of TOML that nymd's configuration
 * files use: [table] headers with bare names, bare keys, basic and literal
 * strings, decimal integers, floats and booleans, comments.  Everything
 * else TOML has (arrays, inline tables, dates, dotted or quoted keys,
 * nested tables, multi-line strings, inf/nan, hex/octal/binary integers) is
 * refused with an error that says it is unsupported, so that nothing in a
 * configuration is ever silently misread.
 */
#ifndef NYMD_COMMON_TOML_H
#define NYMD_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tables plus keys in one document; a bound on work and memory. */
#define TOML_MAX_ENTRIES	4096

#define TOML_ERR_KEY_BYTES	64
#define TOML_ERR_MSG_BYTES	192

enum toml_status {
	TOML_OK = 0,
	TOML_ERR_NOMEM = -1,
	TOML_ERR_SYNTAX = -2,		/* not TOML */
	TOML_ERR_UNSUPPORTED = -3,	/* TOML, but outside the subset */
	TOML_ERR_DUPLICATE = -4,	/* a key or table defined twice */
	TOML_ERR_RANGE = -5,		/* a number that does not fit */
	TOML_ERR_LIMIT = -6,		/* more than TOML_MAX_ENTRIES */
};

enum toml_type {
	TOML_STRING = 1,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOLEAN,
};

struct toml_kv {
	char		*key;
	enum toml_type	 type;
	union {
		char	*s;	/* NUL-terminated UTF-8, never contains NUL */
		int64_t	 i;
		double	 f;	/* always finite */
		bool	 b;
	} u;
	unsigned long	 line;
	size_t		 value_offset;	/* the value's text in the input */
	size_t		 value_len;
};

struct toml_table {
	char		*name;		/* "" for keys before the first header */
	unsigned long	 line;		/* of the header; 0 for the root table */
	size_t		 body_offset;	/* first byte after the header line */
	struct toml_kv	*kvs;
	size_t		 nkvs;
	size_t		 capkvs;
};

/* tables[0] is always the root table (keys before any header). */
struct toml_doc {
	struct toml_table *tables;
	size_t		 ntables;
	size_t		 captables;
};

struct toml_error {
	unsigned long	 line;			/* 0 when there is none */
	char		 key[TOML_ERR_KEY_BYTES];	/* "" when unknown */
	char		 msg[TOML_ERR_MSG_BYTES];
};

/*
 * Parses len bytes of buf (no NUL terminator needed; a NUL byte inside is
 * an error).  On success *docp owns everything; free it with toml_free().
 * On failure *docp is NULL and err (if not NULL) says where and why.
 */
int	 toml_parse(const char *buf, size_t len, struct toml_doc **docp,
	    struct toml_error *err);
void	 toml_free(struct toml_doc *doc);

const struct toml_table *toml_find_table(const struct toml_doc *doc,
	    const char *name);
const struct toml_kv *toml_find_key(const struct toml_table *table,
	    const char *key);

/* "a string", "an integer", "a float", "a boolean" */
const char *toml_type_name(enum toml_type type);

/* Fills err; key may be NULL. */
void	 toml_error_set(struct toml_error *err, unsigned long line,
	    const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/*
 * Formats err as "FILE:LINE: key 'KEY': MESSAGE" (the line and key parts
 * are left out when unknown).  Returns what snprintf returns.
 */
int	 toml_error_format(const struct toml_error *err, const char *file,
	    char *out, size_t outlen);

/*
 * Writes s as a TOML basic string, quotes included, escaping what must be
 * escaped.  Returns the length it needs (like snprintf); the output is
 * complete only if that is < outlen.
 */
size_t	 toml_quote(const char *s, char *out, size_t outlen);

/*
 * Writes a finite v as a TOML float that reads back as exactly v, in the
 * C locale whatever the process locale is ("10.00", "0.1", "1e-07").
 * Returns 0, or -1 if v is not finite or outlen is too small.
 */
int	 toml_format_float(double v, char *out, size_t outlen);

#endif /* NYMD_COMMON_TOML_H */
