/*
 * The one parser of decimal numbers from command lines, file names and
 * environment files: digits only (no sign, space, or base prefix), no
 * more than fit, within [min, max].
 */
#ifndef NYMD_NUMBER_H
#define NYMD_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *out set, or -1 (nothing set) when s is not such a number. */
int	number_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* The same for the first len bytes of s. */
int	number_parse_n(const char *s, size_t len, uint64_t min, uint64_t max,
	    uint64_t *out);

#endif
