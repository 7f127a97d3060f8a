#include <config.h>

#include <string.h>

#include "common/b64.h"

static const char alphabet_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *
b64_alphabet(enum b64_variant v)
{
	return v == B64_URLSAFE ? alphabet_url : alphabet_std;
}

void
b64_encode(char *out, const uint8_t *in, size_t len, enum b64_variant v)
{
	const char *a = b64_alphabet(v);
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = a[(w >> 18) & 63];
		*out++ = a[(w >> 12) & 63];
		*out++ = a[(w >> 6) & 63];
		*out++ = a[w & 63];
	}
	if (len - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;
		*out++ = a[(w >> 18) & 63];
		*out++ = a[(w >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (len - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = a[(w >> 18) & 63];
		*out++ = a[(w >> 12) & 63];
		*out++ = a[(w >> 6) & 63];
		*out++ = '=';
	}
	*out = '\0';
}

static int
b64_value(char c, enum b64_variant v)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (v == B64_URLSAFE) {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	} else {
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
	}
	return -1;
}

long
b64_decode(uint8_t *out, size_t out_cap, const char *in, size_t in_len,
    enum b64_variant v)
{
	size_t o = 0;

	if (in_len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in_len; i += 4) {
		int last = i + 4 == in_len;
		int pad = 0;
		int q[4];

		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=' && last && k >= 2) {
				q[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;	/* data after padding */
			q[k] = b64_value(c, v);
			if (q[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 |
		    (uint32_t)q[2] << 6 | (uint32_t)q[3];
		size_t n = 3 - (size_t)pad;
		/* Canonical form only: the bits dropped by padding must be 0. */
		if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
			return -1;
		if (o + n > out_cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (n > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (n > 2)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

int
b64_decode_key(uint8_t key[32], const char *in, enum b64_variant v)
{
	uint8_t buf[33];
	size_t len = strlen(in);

	if (len != B64_KEY_CHARS)
		return -1;
	if (b64_decode(buf, sizeof(buf), in, len, v) != 32)
		return -1;
	memcpy(key, buf, 32);
	return 0;
}
