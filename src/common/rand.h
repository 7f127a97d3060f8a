/* Randomness for the traffic model, from libsodium's CSPRNG. */
#ifndef NYMD_RAND_H
#define NYMD_RAND_H

#include <stdint.h>

/* Uniform in [0, 1) with 53 bits of precision. */
double	rand_uniform(void);
/*
 * Inter-arrival time of a Poisson process of `rate` events per second, in
 * seconds: an exponential draw with mean 1/rate. rate must be > 0.
 */
double	rand_exponential(double rate);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint32_t rand_index(uint32_t n);

#endif
