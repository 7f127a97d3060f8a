/*
 * The machinery both TOML configurations share (nymd's, common/config.c,
 * and the nodes', node/config.c): a table of known keys, each with its
 * table, name, type, bounds and field, and one applier that walks a
 * parsed document (common/toml.c) and reports keys outside any table,
 * unknown tables and keys, wrong types and out-of-range integers in the
 * words its configuration chose. What a string or float means is left to
 * the configuration's own set().
 */
#ifndef NYMD_CONFKEYS_H
#define NYMD_CONFKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/toml.h"

enum confkey_type {
	CONFKEY_STRING = 1,	/* handed to set() once free of control characters */
	CONFKEY_BOOL,		/* stored in a bool */
	CONFKEY_INT,		/* in [min, max], stored in an unsigned or uint64_t */
	CONFKEY_NUMBER,		/* an integer or a float, handed to set() */
};

struct confkey {
	const char	*table;
	const char	*name;
	enum confkey_type type;
	int		 kind;		/* the configuration's own, for set() */
	size_t		 offset;	/* of the field */
	size_t		 size;		/* of the field */
	int64_t		 min, max;	/* CONFKEY_INT */
	unsigned	 roles;		/* applies where roles & the applied role */
	bool		 required;	/* for the configuration to check */
	const char	*expects;	/* "expected %s, got ...", NULL: by type */
};

struct confkeys_ctx;

struct confkeys {
	const struct confkey *keys;
	size_t		 nkeys;
	const char	*root_msg;	/* a key before the first table */
	const char	*unknown_table_hint;	/* after "unknown table [T]" */
	const char	*range_from, *range_to;	/* "must be FROM min TO max" */
	const char	*control_msg;	/* a control character in a string */
	/* A CONFKEY_STRING or CONFKEY_NUMBER value: 0, or confkeys_fail(). */
	int		(*set)(const struct confkeys_ctx *, const struct confkey *,
			    const struct toml_kv *);
	/* Reports one error: line 0 and key NULL when unknown. */
	void		(*fail)(void *arg, unsigned long line, const char *key,
			    const char *msg);
};

/* One application of a document to obj. */
struct confkeys_ctx {
	const struct confkeys *schema;
	unsigned	 role;
	void		*obj;
	unsigned long	*lines;		/* [nkeys]: where each key was, 0 if not */
	void		*fail_arg;
};

#define CONFKEYS_MSG_BYTES	512

/* Applies every key of doc; 0, or -1 after one fail() for the first error. */
int	confkeys_apply(const struct confkeys_ctx *, const struct toml_doc *);
/* The index of a key known in this role, or -1. */
long	confkeys_index(const struct confkeys_ctx *, const char *table,
	    const char *name);
/* Reports a key's error through fail(); returns -1. */
int	confkeys_fail(const struct confkeys_ctx *, const struct toml_kv *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
