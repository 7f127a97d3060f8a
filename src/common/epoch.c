#include <config.h>

#include <time.h>

#include "common/epoch.h"

uint64_t
epoch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
epoch_seconds_valid(uint64_t seconds)
{
	return seconds >= EPOCH_MIN_SECONDS && seconds <= EPOCH_MAX_SECONDS;
}

uint64_t
epoch_at(uint64_t unix_ms, uint32_t seconds)
{
	return unix_ms / ((uint64_t)seconds * 1000);
}

uint64_t
epoch_start_ms(uint64_t epoch, uint32_t seconds)
{
	return epoch * seconds * 1000;
}

uint64_t
epoch_for_phase(uint64_t unix_ms, uint32_t seconds, unsigned int phase)
{
	uint64_t e = epoch_at(unix_ms, seconds);
	uint64_t into = unix_ms - epoch_start_ms(e, seconds);

	if (epoch_phase(e) == (phase & 1))
		return e;
	if (into < (uint64_t)seconds * 500)
		return e == 0 ? EPOCH_NONE : e - 1;
	return e + 1;
}

uint64_t
epoch_key_expiry_ms(uint64_t epoch, uint32_t seconds)
{
	return epoch_start_ms(epoch + 1, seconds) + (uint64_t)seconds * 500;
}
