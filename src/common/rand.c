#include <config.h>

#include <math.h>

#include <sodium.h>

#include "common/rand.h"

double
rand_uniform(void)
{
	uint64_t r;

	randombytes_buf(&r, sizeof(r));
	return (double)(r >> 11) * 0x1.0p-53;
}

double
rand_exponential(double rate)
{
	/* 1 - U is in (0, 1], so the logarithm is finite. */
	return -log1p(-rand_uniform()) / rate;
}

uint32_t
rand_index(uint32_t n)
{
	return randombytes_uniform(n);
}
