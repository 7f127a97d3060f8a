/*
 * Key epochs (docs/epochs.md).  Time is cut into epochs of a length the
 * directory announces, aligned to the Unix epoch: epoch e covers Unix
 * seconds [e * len, (e + 1) * len).  Every node has one Sphinx key per
 * epoch and publishes the current and the next; a packet names, in one
 * bit (its key phase, docs/sphinx.md section 3), the parity of the epoch
 * whose key it was built for at each hop.
 *
 * A hop maps a phase to an epoch by the time the packet arrives: the
 * current epoch's phase is the current epoch; the other phase is the
 * previous epoch during the first half of the current one and the next
 * epoch during the second half.  So a key lives from the middle of the
 * epoch before its own to the middle of the epoch after, and a packet may
 * be in flight for up to half an epoch across a boundary.
 */
#ifndef NYMD_COMMON_EPOCH_H
#define NYMD_COMMON_EPOCH_H

#include <stdint.h>

#define EPOCH_DEFAULT_SECONDS	3600u
#define EPOCH_MIN_SECONDS	10u
#define EPOCH_MAX_SECONDS	(7u * 24 * 3600)
#define EPOCH_NONE		UINT64_MAX

/* Milliseconds of CLOCK_REALTIME since the Unix epoch. */
uint64_t	epoch_now_ms(void);
/* 1 if seconds is an epoch length nymd accepts. */
int		epoch_seconds_valid(uint64_t seconds);
/* The epoch that contains unix_ms. */
uint64_t	epoch_at(uint64_t unix_ms, uint32_t seconds);
uint64_t	epoch_start_ms(uint64_t epoch, uint32_t seconds);
static inline unsigned int
epoch_phase(uint64_t epoch)
{
	return (unsigned int)(epoch & 1);
}
/*
 * The epoch whose key a packet of this phase, arriving at unix_ms, was
 * built for; EPOCH_NONE before epoch 1.
 */
uint64_t	epoch_for_phase(uint64_t unix_ms, uint32_t seconds,
		    unsigned int phase);
/* When epoch's key stops being accepted: the middle of the next epoch. */
uint64_t	epoch_key_expiry_ms(uint64_t epoch, uint32_t seconds);

#endif
