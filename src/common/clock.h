/*
 * Monotonic time, for deadlines and durations (never for timestamps that
 * leave the process: those are CLOCK_REALTIME).
 */
#ifndef NYMD_COMMON_CLOCK_H
#define NYMD_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t	clock_monotonic_ms(void);
uint64_t	clock_monotonic_ns(void);

#endif
