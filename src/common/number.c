#include <config.h>

#include <string.h>

#include "common/number.h"

int
number_parse_n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
number_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return s == NULL ? -1 : number_parse_n(s, strlen(s), min, max, out);
}
