#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/strbuf.h"
#include "common/toml.h"

#define STRBUF_FIRST_BYTES	4096

static bool
strbuf_reserve(struct strbuf *sb, size_t more)
{
	size_t cap;
	char *p;

	if (sb->failed)
		return false;
	if (sb->len + more + 1 <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : STRBUF_FIRST_BYTES;
	while (cap < sb->len + more + 1)
		cap *= 2;
	if ((p = realloc(sb->buf, cap)) == NULL) {
		sb->failed = true;
		return false;
	}
	sb->buf = p;
	sb->cap = cap;
	return true;
}

void
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if (!strbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void
strbuf_toml_string(struct strbuf *sb, const char *key, const char *value)
{
	size_t n = toml_quote(value, NULL, 0);

	strbuf_printf(sb, "%s = ", key);
	if (!strbuf_reserve(sb, n))
		return;
	toml_quote(value, sb->buf + sb->len, n + 1);
	sb->len += n;
	strbuf_printf(sb, "\n");
}

void
strbuf_toml_float(struct strbuf *sb, const char *key, double value)
{
	char num[64];

	if (toml_format_float(value, num, sizeof(num)) != 0) {
		sb->failed = true;
		return;
	}
	strbuf_printf(sb, "%s = %s\n", key, num);
}
