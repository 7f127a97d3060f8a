/*
 * Strict TOML subset parser; see toml.h for what is accepted.
 *
 * The input is checked as a whole first (no NUL byte, valid UTF-8), so the
 * line-oriented parser below only has to reason about TOML syntax.  Every
 * read is bounded by the explicit length; nothing relies on a terminator.
 */
#include <config.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/toml.h"

/* Enough of an offending token to recognise it in an error message. */
#define TOML_TOKEN_SHOWN_BYTES	40

struct toml_parser {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	unsigned long		 line;
	struct toml_doc		*doc;
	size_t			 cur;		/* index of the current table */
	size_t			 nentries;
	const char		*key;		/* for error messages */
	struct toml_error	*err;
};

void
toml_error_set(struct toml_error *err, unsigned long line, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->line = line;
	snprintf(err->key, sizeof(err->key), "%s", key != NULL ? key : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int
toml_error_format(const struct toml_error *err, const char *file, char *out,
    size_t outlen)
{
	if (file == NULL)
		file = "<input>";
	if (err->line > 0 && err->key[0] != '\0')
		return snprintf(out, outlen, "%s:%lu: key '%s': %s", file,
		    err->line, err->key, err->msg);
	if (err->line > 0)
		return snprintf(out, outlen, "%s:%lu: %s", file, err->line,
		    err->msg);
	if (err->key[0] != '\0')
		return snprintf(out, outlen, "%s: key '%s': %s", file,
		    err->key, err->msg);
	return snprintf(out, outlen, "%s: %s", file, err->msg);
}

const char *
toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "a string";
	case TOML_INTEGER:
		return "an integer";
	case TOML_FLOAT:
		return "a float";
	case TOML_BOOLEAN:
		return "a boolean";
	}
	return "an unknown type";
}

static int
parse_error(struct toml_parser *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
parse_error(struct toml_parser *p, int status, const char *fmt, ...)
{
	va_list ap;

	if (p->err == NULL)
		return status;
	toml_error_set(p->err, p->line, p->key, "%s", "");
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return status;
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned
hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static bool
is_bare_key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    is_digit(c) || c == '_' || c == '-';
}

/* Characters that may make up an unquoted value, so that "1979-05-27",
 * "+1.5e-3" or "truex" are seen as one token and judged as a whole. */
static bool
is_token_char(unsigned char c)
{
	return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

/* TOML forbids control characters other than tab in comments and strings. */
static bool
is_forbidden_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Checks the whole input once: no NUL byte, well-formed UTF-8 (no overlong
 * forms, no encoded surrogates, nothing above U+10FFFF).
 */
static int
check_encoding(struct toml_parser *p)
{
	const unsigned char *s = p->buf;
	size_t i = 0, n = p->len, need;
	unsigned char c, lo, hi;

	while (i < n) {
		c = s[i];
		if (c == '\0')
			return parse_error(p, TOML_ERR_SYNTAX,
			    "NUL byte in input");
		if (c == '\n')
			p->line++;
		if (c < 0x80) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return parse_error(p, TOML_ERR_SYNTAX,
			    "invalid UTF-8 byte 0x%02x", c);
		if (n - i - 1 < need)
			return parse_error(p, TOML_ERR_SYNTAX,
			    "truncated UTF-8 sequence");
		if (s[i + 1] < lo || s[i + 1] > hi)
			return parse_error(p, TOML_ERR_SYNTAX,
			    "invalid UTF-8 sequence");
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return parse_error(p, TOML_ERR_SYNTAX,
				    "invalid UTF-8 sequence");
		i += need + 1;
	}
	p->line = 1;
	return TOML_OK;
}

static bool
at_end(const struct toml_parser *p)
{
	return p->pos >= p->len;
}

static unsigned char
peek(const struct toml_parser *p, size_t ahead)
{
	if (p->len - p->pos <= ahead)
		return '\0';
	return p->buf[p->pos + ahead];
}

static void
skip_ws(struct toml_parser *p)
{
	while (!at_end(p) && (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t'))
		p->pos++;
}

/* Leaves pos on the line ending (or the end of input). */
static int
skip_comment(struct toml_parser *p)
{
	unsigned char c;

	p->pos++;	/* '#' */
	while (!at_end(p)) {
		c = p->buf[p->pos];
		if (c == '\n' || c == '\r')
			break;
		if (is_forbidden_control(c))
			return parse_error(p, TOML_ERR_SYNTAX,
			    "control character 0x%02x in a comment", c);
		p->pos++;
	}
	return TOML_OK;
}

/* Consumes trailing blanks, an optional comment and the line ending. */
static int
parse_line_end(struct toml_parser *p, const char *after)
{
	int rc;

	skip_ws(p);
	if (!at_end(p) && p->buf[p->pos] == '#') {
		if ((rc = skip_comment(p)) != TOML_OK)
			return rc;
	}
	if (at_end(p))
		return TOML_OK;
	if (p->buf[p->pos] == '\n') {
		p->pos++;
		p->line++;
		return TOML_OK;
	}
	if (p->buf[p->pos] == '\r') {
		if (peek(p, 1) != '\n')
			return parse_error(p, TOML_ERR_SYNTAX,
			    "carriage return not followed by a line feed");
		p->pos += 2;
		p->line++;
		return TOML_OK;
	}
	return parse_error(p, TOML_ERR_SYNTAX,
	    "unexpected text after %s", after);
}

static int
count_entry(struct toml_parser *p)
{
	if (++p->nentries > TOML_MAX_ENTRIES)
		return parse_error(p, TOML_ERR_LIMIT,
		    "more than %d tables and keys", TOML_MAX_ENTRIES);
	return TOML_OK;
}

static char *
copy_span(const unsigned char *s, size_t n)
{
	char *out;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static int
add_table(struct toml_doc *doc, char *name, unsigned long line)
{
	struct toml_table *t;
	size_t cap;

	if (doc->ntables == doc->captables) {
		cap = doc->captables ? doc->captables * 2 : 4;
		t = reallocarray(doc->tables, cap, sizeof(*t));
		if (t == NULL)
			return TOML_ERR_NOMEM;
		doc->tables = t;
		doc->captables = cap;
	}
	t = &doc->tables[doc->ntables++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->line = line;
	return TOML_OK;
}

static int
add_kv(struct toml_table *t, const struct toml_kv *kv)
{
	struct toml_kv *kvs;
	size_t cap;

	if (t->nkvs == t->capkvs) {
		cap = t->capkvs ? t->capkvs * 2 : 8;
		kvs = reallocarray(t->kvs, cap, sizeof(*kvs));
		if (kvs == NULL)
			return TOML_ERR_NOMEM;
		t->kvs = kvs;
		t->capkvs = cap;
	}
	t->kvs[t->nkvs++] = *kv;
	return TOML_OK;
}

static int
parse_table_header(struct toml_parser *p)
{
	struct toml_doc *doc = p->doc;
	size_t start, end;
	char *name;
	int rc;

	p->pos++;	/* '[' */
	if (peek(p, 0) == '[')
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "arrays of tables ([[...]]) are not supported");
	skip_ws(p);
	if (peek(p, 0) == '"' || peek(p, 0) == '\'')
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "quoted table names are not supported");
	start = p->pos;
	while (!at_end(p) && is_bare_key_char(p->buf[p->pos]))
		p->pos++;
	if (p->pos == start)
		return parse_error(p, TOML_ERR_SYNTAX,
		    "expected a table name after '['");
	end = p->pos;
	skip_ws(p);
	if (peek(p, 0) == '.')
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "dotted (nested) table names are not supported");
	if (peek(p, 0) != ']')
		return parse_error(p, TOML_ERR_SYNTAX,
		    "expected ']' after the table name");
	if ((name = copy_span(p->buf + start, end - start)) == NULL)
		return TOML_ERR_NOMEM;
	p->pos++;	/* ']' */
	for (size_t i = 1; i < doc->ntables; i++) {
		if (strcmp(doc->tables[i].name, name) == 0) {
			rc = parse_error(p, TOML_ERR_DUPLICATE,
			    "duplicate table [%s] (first defined on line %lu)",
			    name, doc->tables[i].line);
			free(name);
			return rc;
		}
	}
	if ((rc = count_entry(p)) != TOML_OK ||
	    (rc = add_table(doc, name, p->line)) != TOML_OK) {
		free(name);
		return rc;
	}
	p->cur = doc->ntables - 1;
	if ((rc = parse_line_end(p, "the table header")) != TOML_OK)
		return rc;
	doc->tables[p->cur].body_offset = p->pos;
	return TOML_OK;
}

/* Appends code point cp as UTF-8; out has room (see parse_basic_string). */
static size_t
put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int
parse_unicode_escape(struct toml_parser *p, size_t at, size_t ndigits,
    uint32_t *cpp)
{
	uint32_t cp = 0;
	unsigned char c;

	if (p->len - at < ndigits)
		return parse_error(p, TOML_ERR_SYNTAX,
		    "\\%c escape needs %zu hexadecimal digits",
		    ndigits == 4 ? 'u' : 'U', ndigits);
	for (size_t k = 0; k < ndigits; k++) {
		c = p->buf[at + k];
		if (!is_hex(c))
			return parse_error(p, TOML_ERR_SYNTAX,
			    "\\%c escape needs %zu hexadecimal digits",
			    ndigits == 4 ? 'u' : 'U', ndigits);
		cp = (cp << 4) | hex_value(c);
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return parse_error(p, TOML_ERR_SYNTAX,
		    "escape \\%c%0*X is a surrogate, not a character",
		    ndigits == 4 ? 'u' : 'U', (int)ndigits, cp);
	if (cp > 0x10ffff)
		return parse_error(p, TOML_ERR_SYNTAX,
		    "escape \\U%08X is beyond U+10FFFF", cp);
	if (cp == 0)
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "a NUL character (\\u0000) is not allowed in a string");
	*cpp = cp;
	return TOML_OK;
}

/* The string's closing quote, or an error if the line ends first. */
static int
find_string_end(struct toml_parser *p, unsigned char quote, bool escapes,
    size_t *endp)
{
	size_t i = p->pos + 1;
	unsigned char c;

	while (i < p->len) {
		c = p->buf[i];
		if (c == quote) {
			*endp = i;
			return TOML_OK;
		}
		if (c == '\n' || c == '\r')
			break;
		if (escapes && c == '\\') {
			/* a backslash cannot continue a basic string */
			if (i + 1 < p->len && (p->buf[i + 1] == '\n' ||
			    p->buf[i + 1] == '\r'))
				break;
			i++;
		}
		i++;
	}
	return parse_error(p, TOML_ERR_SYNTAX, "unterminated string");
}

static int
parse_basic_string(struct toml_parser *p, char **outp)
{
	size_t end = 0, o = 0, i;
	uint32_t cp = 0;
	unsigned char c;
	char *out;
	int rc;

	if ((rc = find_string_end(p, '"', true, &end)) != TOML_OK)
		return rc;
	/* Escapes only ever shrink: \uXXXX is 6 bytes for at most 3. */
	if ((out = malloc(end - p->pos)) == NULL)
		return TOML_ERR_NOMEM;
	for (i = p->pos + 1; i < end; i++) {
		c = p->buf[i];
		if (c != '\\') {
			if (is_forbidden_control(c)) {
				free(out);
				return parse_error(p, TOML_ERR_SYNTAX,
				    "control character 0x%02x in a string "
				    "(use an escape)", c);
			}
			out[o++] = (char)c;
			continue;
		}
		c = p->buf[++i];
		switch (c) {
		case 'b': out[o++] = '\b'; break;
		case 't': out[o++] = '\t'; break;
		case 'n': out[o++] = '\n'; break;
		case 'f': out[o++] = '\f'; break;
		case 'r': out[o++] = '\r'; break;
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case 'u':
		case 'U':
			rc = parse_unicode_escape(p, i + 1, c == 'u' ? 4 : 8,
			    &cp);
			if (rc != TOML_OK) {
				free(out);
				return rc;
			}
			i += c == 'u' ? 4 : 8;
			o += put_utf8(out + o, cp);
			break;
		default:
			free(out);
			if (c > 0x20 && c < 0x7f)
				return parse_error(p, TOML_ERR_SYNTAX,
				    "invalid escape '\\%c' in a string", c);
			return parse_error(p, TOML_ERR_SYNTAX,
			    "invalid escape in a string");
		}
	}
	out[o] = '\0';
	p->pos = end + 1;
	*outp = out;
	return TOML_OK;
}

static int
parse_literal_string(struct toml_parser *p, char **outp)
{
	size_t end = 0;
	unsigned char c;
	int rc;

	if ((rc = find_string_end(p, '\'', false, &end)) != TOML_OK)
		return rc;
	for (size_t i = p->pos + 1; i < end; i++) {
		c = p->buf[i];
		if (is_forbidden_control(c))
			return parse_error(p, TOML_ERR_SYNTAX,
			    "control character 0x%02x in a string", c);
	}
	if ((*outp = copy_span(p->buf + p->pos + 1, end - p->pos - 1)) == NULL)
		return TOML_ERR_NOMEM;
	p->pos = end + 1;
	return TOML_OK;
}

/*
 * Digits with single underscores between them, starting at *ip; TOML
 * wants each underscore to have a digit on both sides.
 */
static int
scan_digits(struct toml_parser *p, const unsigned char *s, size_t n,
    size_t *ip, const char *what)
{
	size_t i = *ip;

	if (i >= n || !is_digit(s[i]))
		return parse_error(p, TOML_ERR_SYNTAX,
		    "a digit must follow %s", what);
	while (i < n) {
		if (is_digit(s[i]))
			i++;
		else if (s[i] == '_') {
			if (i + 1 >= n || !is_digit(s[i + 1]))
				return parse_error(p, TOML_ERR_SYNTAX,
				    "an underscore in a number must be "
				    "between two digits");
			i++;
		} else
			break;
	}
	*ip = i;
	return TOML_OK;
}

static int
convert_integer(struct toml_parser *p, const unsigned char *s, size_t n,
    int64_t *out)
{
	uint64_t mag = 0, limit = INT64_MAX;
	bool neg = false;
	size_t i = 0;

	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i++;
	}
	if (neg)
		limit = (uint64_t)INT64_MAX + 1;
	for (; i < n; i++) {
		if (s[i] == '_')
			continue;
		if (mag > (limit - (s[i] - '0')) / 10)
			return parse_error(p, TOML_ERR_RANGE,
			    "integer does not fit in 64 bits");
		mag = mag * 10 + (s[i] - '0');
	}
	if (!neg)
		*out = (int64_t)mag;
	else if (mag == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)mag;
	return TOML_OK;
}

static int
convert_float(struct toml_parser *p, const unsigned char *s, size_t n,
    double *out)
{
	locale_t c_locale, old;
	char *copy, *end;
	size_t o = 0;
	double v;

	if ((copy = malloc(n + 1)) == NULL)
		return TOML_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			copy[o++] = (char)s[i];
	copy[o] = '\0';
	/* strtod reads the locale's decimal point; TOML's is always '.'. */
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_locale == (locale_t)0) {
		free(copy);
		return TOML_ERR_NOMEM;
	}
	old = uselocale(c_locale);
	v = strtod(copy, &end);
	uselocale(old);
	freelocale(c_locale);
	if (*end != '\0') {
		free(copy);
		return parse_error(p, TOML_ERR_SYNTAX, "invalid float");
	}
	free(copy);
	if (!isfinite(v))
		return parse_error(p, TOML_ERR_RANGE,
		    "float is out of range");
	*out = v;
	return TOML_OK;
}

static int
parse_number(struct toml_parser *p, const unsigned char *s, size_t n,
    struct toml_kv *kv)
{
	size_t i = 0;
	bool is_float = false;
	int rc;

	if (s[0] == '+' || s[0] == '-')
		i++;
	if (s[i] == '0' && i + 1 < n && (is_digit(s[i + 1]) || s[i + 1] == '_'))
		return parse_error(p, TOML_ERR_SYNTAX,
		    "leading zeros are not allowed in a number");
	if ((rc = scan_digits(p, s, n, &i, "the sign")) != TOML_OK)
		return rc;
	if (i < n && s[i] == '.') {
		i++;
		rc = scan_digits(p, s, n, &i, "the decimal point");
		if (rc != TOML_OK)
			return rc;
		is_float = true;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		rc = scan_digits(p, s, n, &i, "the exponent");
		if (rc != TOML_OK)
			return rc;
		is_float = true;
	}
	if (i != n)
		return parse_error(p, TOML_ERR_SYNTAX, "invalid number '%.*s'",
		    (int)(n < TOML_TOKEN_SHOWN_BYTES ? n :
		    TOML_TOKEN_SHOWN_BYTES), (const char *)s);
	if (is_float) {
		kv->type = TOML_FLOAT;
		return convert_float(p, s, n, &kv->u.f);
	}
	kv->type = TOML_INTEGER;
	return convert_integer(p, s, n, &kv->u.i);
}

static bool
token_is(const unsigned char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* "1979-05-27", "07:32:00" and everything that starts like them. */
static bool
token_is_datetime(const unsigned char *s, size_t n)
{
	if (n >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
	    is_digit(s[3]) && s[4] == '-')
		return true;
	return n >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':';
}

static int
parse_bare_value(struct toml_parser *p, struct toml_kv *kv)
{
	const unsigned char *s = p->buf + p->pos;
	size_t n = 0, sign;
	int shown;

	while (p->pos + n < p->len && is_token_char(s[n]))
		n++;
	if (n == 0)
		return parse_error(p, TOML_ERR_SYNTAX, "invalid value");
	p->pos += n;
	shown = (int)(n < TOML_TOKEN_SHOWN_BYTES ? n : TOML_TOKEN_SHOWN_BYTES);
	if (token_is(s, n, "true") || token_is(s, n, "false")) {
		kv->type = TOML_BOOLEAN;
		kv->u.b = s[0] == 't';
		return TOML_OK;
	}
	sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	if (token_is(s + sign, n - sign, "inf") ||
	    token_is(s + sign, n - sign, "nan"))
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "inf and nan are not supported");
	if (sign < n && s[sign] == '.')
		return parse_error(p, TOML_ERR_SYNTAX,
		    "a digit must precede the decimal point");
	if (sign >= n || !is_digit(s[sign]))
		return parse_error(p, TOML_ERR_SYNTAX,
		    "invalid value '%.*s' (strings must be quoted)", shown,
		    (const char *)s);
	if (sign == 0 && token_is_datetime(s, n))
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "dates and times are not supported");
	if (n > sign + 1 && s[sign] == '0' &&
	    (s[sign + 1] == 'x' || s[sign + 1] == 'o' || s[sign + 1] == 'b'))
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "hexadecimal, octal and binary integers are not "
		    "supported");
	return parse_number(p, s, n, kv);
}

static int
parse_value(struct toml_parser *p, struct toml_kv *kv)
{
	unsigned char c = p->buf[p->pos];

	switch (c) {
	case '"':
		if (peek(p, 1) == '"' && peek(p, 2) == '"')
			return parse_error(p, TOML_ERR_UNSUPPORTED,
			    "multi-line strings are not supported");
		kv->type = TOML_STRING;
		return parse_basic_string(p, &kv->u.s);
	case '\'':
		if (peek(p, 1) == '\'' && peek(p, 2) == '\'')
			return parse_error(p, TOML_ERR_UNSUPPORTED,
			    "multi-line strings are not supported");
		kv->type = TOML_STRING;
		return parse_literal_string(p, &kv->u.s);
	case '[':
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "arrays are not supported");
	case '{':
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "inline tables are not supported");
	default:
		return parse_bare_value(p, kv);
	}
}

static void
kv_free(struct toml_kv *kv)
{
	free(kv->key);
	if (kv->type == TOML_STRING)
		free(kv->u.s);
}

static int
parse_keyval(struct toml_parser *p)
{
	struct toml_table *t;
	struct toml_kv kv;
	size_t start;
	int rc;

	memset(&kv, 0, sizeof(kv));
	if (peek(p, 0) == '"' || peek(p, 0) == '\'')
		return parse_error(p, TOML_ERR_UNSUPPORTED,
		    "quoted keys are not supported");
	start = p->pos;
	while (!at_end(p) && is_bare_key_char(p->buf[p->pos]))
		p->pos++;
	if (p->pos == start)
		return parse_error(p, TOML_ERR_SYNTAX,
		    "expected a key, a [table] header or a comment");
	if ((kv.key = copy_span(p->buf + start, p->pos - start)) == NULL)
		return TOML_ERR_NOMEM;
	kv.line = p->line;
	p->key = kv.key;
	skip_ws(p);
	if (peek(p, 0) == '.') {
		rc = parse_error(p, TOML_ERR_UNSUPPORTED,
		    "dotted keys are not supported");
		goto fail;
	}
	if (peek(p, 0) != '=') {
		rc = parse_error(p, TOML_ERR_SYNTAX,
		    "expected '=' after the key");
		goto fail;
	}
	p->pos++;
	skip_ws(p);
	if (at_end(p) || p->buf[p->pos] == '\n' || p->buf[p->pos] == '\r' ||
	    p->buf[p->pos] == '#') {
		rc = parse_error(p, TOML_ERR_SYNTAX, "missing value");
		goto fail;
	}
	kv.value_offset = p->pos;
	if ((rc = parse_value(p, &kv)) != TOML_OK)
		goto fail;
	kv.value_len = p->pos - kv.value_offset;
	t = &p->doc->tables[p->cur];
	for (size_t i = 0; i < t->nkvs; i++) {
		if (strcmp(t->kvs[i].key, kv.key) == 0) {
			rc = parse_error(p, TOML_ERR_DUPLICATE,
			    "duplicate key (first defined on line %lu)",
			    t->kvs[i].line);
			goto fail;
		}
	}
	if ((rc = count_entry(p)) != TOML_OK ||
	    (rc = add_kv(t, &kv)) != TOML_OK)
		goto fail;
	/* The table owns kv.key now; p->key stays valid for the line end. */
	return parse_line_end(p, "the value");
fail:
	p->key = NULL;
	kv_free(&kv);
	return rc;
}

static int
parse_document(struct toml_parser *p)
{
	unsigned char c;
	int rc;

	/* A UTF-8 byte order mark is harmless; some editors add one. */
	if (p->len >= 3 && memcmp(p->buf, "\xef\xbb\xbf", 3) == 0)
		p->pos = 3;
	while (!at_end(p)) {
		p->key = NULL;
		skip_ws(p);
		if (at_end(p))
			break;
		c = p->buf[p->pos];
		if (c == '[')
			rc = parse_table_header(p);
		else if (c == '#' || c == '\n' || c == '\r')
			rc = parse_line_end(p, "a comment");
		else
			rc = parse_keyval(p);
		if (rc != TOML_OK)
			return rc;
	}
	return TOML_OK;
}

int
toml_parse(const char *buf, size_t len, struct toml_doc **docp,
    struct toml_error *err)
{
	struct toml_parser p;
	struct toml_doc *doc;
	char *root;
	int rc;

	*docp = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if ((doc = calloc(1, sizeof(*doc))) == NULL)
		return TOML_ERR_NOMEM;
	if ((root = strdup("")) == NULL ||
	    add_table(doc, root, 0) != TOML_OK) {
		free(root);
		toml_free(doc);
		return TOML_ERR_NOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.buf = (const unsigned char *)buf;
	p.len = buf != NULL ? len : 0;
	p.line = 1;
	p.doc = doc;
	p.err = err;
	if ((rc = check_encoding(&p)) != TOML_OK ||
	    (rc = parse_document(&p)) != TOML_OK) {
		if (rc == TOML_ERR_NOMEM)
			toml_error_set(err, p.line, NULL, "out of memory");
		toml_free(doc);
		return rc;
	}
	*docp = doc;
	return TOML_OK;
}

void
toml_free(struct toml_doc *doc)
{
	struct toml_table *t;

	if (doc == NULL)
		return;
	for (size_t i = 0; i < doc->ntables; i++) {
		t = &doc->tables[i];
		for (size_t k = 0; k < t->nkvs; k++)
			kv_free(&t->kvs[k]);
		free(t->kvs);
		free(t->name);
	}
	free(doc->tables);
	free(doc);
}

const struct toml_table *
toml_find_table(const struct toml_doc *doc, const char *name)
{
	for (size_t i = 0; i < doc->ntables; i++)
		if (strcmp(doc->tables[i].name, name) == 0)
			return &doc->tables[i];
	return NULL;
}

const struct toml_kv *
toml_find_key(const struct toml_table *table, const char *key)
{
	for (size_t i = 0; i < table->nkvs; i++)
		if (strcmp(table->kvs[i].key, key) == 0)
			return &table->kvs[i];
	return NULL;
}

size_t
toml_quote(const char *s, char *out, size_t outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[8];
	size_t n = 0, k;

#define TOML_PUT(ch) do { if (n + 1 < outlen) out[n] = (ch); n++; } while (0)
	TOML_PUT('"');
	for (; *u != '\0'; u++) {
		esc[0] = '\0';
		switch (*u) {
		case '"': snprintf(esc, sizeof(esc), "\\\""); break;
		case '\\': snprintf(esc, sizeof(esc), "\\\\"); break;
		case '\b': snprintf(esc, sizeof(esc), "\\b"); break;
		case '\t': snprintf(esc, sizeof(esc), "\\t"); break;
		case '\n': snprintf(esc, sizeof(esc), "\\n"); break;
		case '\f': snprintf(esc, sizeof(esc), "\\f"); break;
		case '\r': snprintf(esc, sizeof(esc), "\\r"); break;
		default:
			if (is_forbidden_control(*u))
				snprintf(esc, sizeof(esc), "\\u%04X", *u);
		}
		if (esc[0] == '\0') {
			TOML_PUT((char)*u);
			continue;
		}
		for (k = 0; esc[k] != '\0'; k++)
			TOML_PUT(esc[k]);
	}
	TOML_PUT('"');
#undef TOML_PUT
	if (outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

static bool
float_reads_back(const char *text, double v)
{
	char *end;

	return strtod(text, &end) == v && *end == '\0';
}

int
toml_format_float(double v, char *out, size_t outlen)
{
	locale_t c_locale, old;
	char buf[64];
	int rc = -1;

	if (!isfinite(v))
		return -1;
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_locale == (locale_t)0)
		return -1;
	old = uselocale(c_locale);
	/* Two decimals read well ("10.00", as the seed writes rates); fall
	 * back to the shortest form that reads back exactly. */
	snprintf(buf, sizeof(buf), "%.2f", v);
	if (fabs(v) >= 1e9 || !float_reads_back(buf, v)) {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (float_reads_back(buf, v))
				break;
		}
		/* "%g" may print an integer; TOML needs it marked as float */
		if (strpbrk(buf, ".e") == NULL)
			strncat(buf, ".0", sizeof(buf) - strlen(buf) - 1);
	}
	uselocale(old);
	freelocale(c_locale);
	if (strlen(buf) < outlen) {
		memcpy(out, buf, strlen(buf) + 1);
		rc = 0;
	}
	return rc;
}
